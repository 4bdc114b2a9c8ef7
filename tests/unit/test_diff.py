"""Comparing the intent with a device read-back: what counts as a change, and how it prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from models.eem import CLI_DIGEST_VARIABLE
from models.intent import Intent, load_intent
from payloads import cli
from payloads import namespaces as ns
from payloads.native_xml import render_config
from payloads.readback import DeviceConfig, read_config
from provisioner.diff import compare, mask_value


@pytest.fixture
def intent(example_intent_path: Path, smtp_password: str) -> Intent:
    return load_intent(example_intent_path)


def _device_holding(intent: Intent, *, with_digest: bool = True) -> DeviceConfig:
    data = etree.Element(f"{{{ns.NETCONF_BASE}}}data")
    data.extend(list(render_config(intent, reveal=True)))
    device = read_config(data)
    if with_digest:
        device.environment[CLI_DIGEST_VARIABLE] = cli.cli_digest(cli.unmodelled_lines(intent))
    return device


def test_empty_device_needs_everything(intent: Intent) -> None:
    plan = compare(intent, DeviceConfig())

    assert [change.kind for change in plan.changes] == ["add"] * 7
    assert plan.cli_needed
    assert not plan.in_sync


def test_device_holding_intent_is_in_sync(intent: Intent) -> None:
    plan = compare(intent, _device_holding(intent))

    assert plan.in_sync
    assert plan.render() == []


def test_missing_digest_means_cli_rpc_needed(intent: Intent) -> None:
    plan = compare(intent, _device_holding(intent, with_digest=False))

    assert plan.modelled_changes == []
    assert plan.cli_needed
    assert plan.render()[0] == "! through config-ios-cli-rpc (get-config cannot show these lines):"


def test_changed_value_prints_as_cli_diff(intent: Intent) -> None:
    device = _device_holding(intent)
    device.environment["_email_to"] = "someone-else@example.com"

    plan = compare(intent, device)

    assert plan.render() == [
        "- event manager environment _email_to someone-else@example.com",
        "+ event manager environment _email_to noc@example.com",
    ]


def test_changed_password_is_flagged_but_masked(intent: Intent, smtp_password: str) -> None:
    device = _device_holding(intent)
    device.environment["_email_server"] = "eem.alerts.example:OldPassword@smtp.gmail.com"

    plan = compare(intent, device)
    text = "\n".join(plan.render())

    assert [change.key.name for change in plan.modelled_changes] == ["_email_server"]
    assert "differs from the intent and will be replaced" in text
    assert "OldPassword" not in text
    assert smtp_password not in text


def test_changed_applet_resends_mail_lines(intent: Intent) -> None:
    device = _device_holding(intent)
    applet = device.applets["SendSecureEmailEEM"]
    device.applets["SendSecureEmailEEM"] = applet.model_copy(update={"description": "edited by hand"})

    plan = compare(intent, device)

    assert [change.key.name for change in plan.modelled_changes] == ["SendSecureEmailEEM"]
    assert plan.cli_needed
    assert ' description "edited by hand"' in [line[2:] for line in plan.render() if line.startswith("-")]


def test_mask_value_hides_password_part() -> None:
    assert mask_value("user:pw@smtp.example.com") == "user:********@smtp.example.com"
    assert mask_value("noc@example.com") == "noc@example.com"
