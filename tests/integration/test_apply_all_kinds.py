"""Every EEM event and action kind, applied to a lab device over real SSH/NETCONF.

tests/data/intents/all-kinds.yaml contains each kind once. On IOS XE 17.12 part of it travels
in the NETCONF edit and the rest as CLI lines through config-ios-cli-rpc, so this checks
both paths, their verification and that a second run sends nothing.
"""

from __future__ import annotations

import pytest
from lxml import etree

from models.intent import load_intent
from models.inventory import Host
from provisioner.engine import apply_device, plan_device
from provisioner.lab import LabDevice
from tests.conftest import REPO
from tests.integration.test_apply import operations, run_cli

pytestmark = pytest.mark.integration

ALL_KINDS = REPO / "tests" / "data" / "intents" / "all-kinds.yaml"
P = {
    "ios": "http://cisco.com/ns/yang/Cisco-IOS-XE-native",
    "eem": "http://cisco.com/ns/yang/Cisco-IOS-XE-eem",
}
APPLET = "//ios:native/ios:event/eem:manager/eem:applet[eem:name='{}']"

# What the 17.12 YANG cannot contain, per applet: these labels go through config-ios-cli-rpc.
UNMODELLED_LABELS = {
    "MailOnDemand": {"0020"},
    "LinkDown": {"0050", "0055", "0057", "0060", "0070", "0090"},
    "TrackDown": {"0010", "0020", "0030", "0050", "0090", "0100"},
    "NightlyReport": {"0010", "0020", "0030", "0060", "0070", "0080", "0090"},
}
# And the labels that the NETCONF edit carries.
MODELLED_LABELS = {
    "MailOnDemand": ["0010"],
    "LinkDown": ["0010", "0020", "0030", "0040", "0080"],
    "TrackDown": ["0040", "0060", "0070", "0080", "0110"],
    "NightlyReport": ["0040", "0050", "0100"],
    "Watchdog": ["0010", "0020", "0030"],
    "ReloadGuard": ["0010"],
}
CLI_EVENT = 'event cli pattern "^reload" sync no skip no'


def running(lab: LabDevice) -> etree._Element:
    return etree.fromstring(lab.running_xml().encode())


def xpath(root: etree._Element, expression: str) -> list:
    return root.xpath(expression, namespaces=P)


@pytest.fixture
def applied(lab: LabDevice, lab_host: Host, smtp_password: str) -> LabDevice:
    """The lab after one successful apply of all-kinds.yaml."""
    result = apply_device(load_intent(ALL_KINDS), lab_host, sync_timeout=10)
    assert result.error is None, result.error
    return lab


def test_apply_all_kinds_verifies_every_object(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    intent = load_intent(ALL_KINDS)

    result = apply_device(intent, lab_host, sync_timeout=10)

    assert result.error is None, result.error
    assert result.changed
    verified = {report.name: report.verified_by for report in result.objects}
    for applet in intent.applets:
        assert verified[f"event manager applet {applet.name}"] == "get-config"
    for trustpoint in intent.trustpoints:
        assert verified[f"crypto pki trustpoint {trustpoint.name}"] == "get-config"
    pushed = [report for report in result.objects if report.outcome == "pushed"]
    assert len(pushed) == sum(map(len, UNMODELLED_LABELS.values())) + 1  # + the cli event
    assert all(report.verified_by.startswith("cli-rpc digest") for report in pushed)
    assert not any(report.verified_by.startswith("not verified") for report in result.objects)


def test_modelled_parts_are_in_running(applied: LabDevice) -> None:
    config = running(applied)

    for name, labels in MODELLED_LABELS.items():
        assert xpath(config, APPLET.format(name) + "/eem:action/eem:name/text()") == labels
    mail_on_demand = APPLET.format("MailOnDemand")
    assert xpath(config, f"{mail_on_demand}/eem:class/text()") == ["default"]
    assert xpath(config, f"{mail_on_demand}/eem:authorization/text()") == ["bypass"]
    assert xpath(config, APPLET.format("LinkDown") + "/eem:trap")
    events = {
        "MailOnDemand": "none-choice",
        "LinkDown": "syslog-choice",
        "TrackDown": "track-choice",
        "NightlyReport": "timer-choice/eem:cron",
        "Watchdog": "timer-choice/eem:watchdog",
        "Countdown": "timer-choice/eem:countdown",
        "Absolute": "timer-choice/eem:absolute",
        "SlaLoss": "ipsla",
        "RouteChange": "routing",
    }
    for name, case in events.items():
        assert xpath(config, f"{APPLET.format(name)}/eem:event/eem:{case}"), name
    # `event cli` has no node in the 17.12 YANG: the applet is in running without an event.
    assert xpath(config, APPLET.format("ReloadGuard"))
    assert xpath(config, APPLET.format("ReloadGuard") + "/eem:event") == []
    # The trim without characters is modelled; the one with characters is not.
    assert xpath(config, APPLET.format("NightlyReport") + "/eem:action/eem:string/eem:trim/text()") == ["  padded  "]


def test_unmodelled_lines_are_stored_but_not_in_running(applied: LabDevice) -> None:
    stored = applied.unmodelled()
    text = applied.running_xml()

    labels = {applet: set(actions) for applet, actions in stored["applet_actions"].items()}
    assert labels == UNMODELLED_LABELS
    assert stored["applet_events"] == {"ReloadGuard": CLI_EVENT}
    lines = [line for actions in stored["applet_actions"].values() for line in actions.values()]
    assert all(line.startswith("action ") for line in lines)
    assert "action 0060 string trim \"xxpaddedxx\" \"x\"" in lines
    for fragment in ("mail server", "^reload", "xxpaddedxx", "Link down on", "item $item", " tries", "a b c"):
        assert fragment not in text, fragment


def test_second_apply_sends_nothing(applied: LabDevice, lab_host: Host) -> None:
    count = len(applied.rpc_log())

    again = apply_device(load_intent(ALL_KINDS), lab_host, sync_timeout=10)

    assert again.error is None, again.error
    assert again.changed is False
    later = operations(applied)[count:]
    assert "get-config" in later
    assert "edit-config" not in later
    assert "config-ios-cli-rpc" not in later


def test_plan_cli_is_in_sync_after_apply(applied: LabDevice, lab_host: Host) -> None:
    plan = plan_device(load_intent(ALL_KINDS), lab_host)
    completed = run_cli("plan", str(ALL_KINDS), "--inventory", str(applied.inventory_path))

    assert not plan.cli_needed
    assert plan.modelled_changes == []
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "lab: in sync" in completed.stdout


def test_plan_cli_on_fresh_lab_lists_changes(lab: LabDevice) -> None:
    completed = run_cli("plan", str(ALL_KINDS), "--inventory", str(lab.inventory_path))

    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert "event manager applet ReloadGuard" in completed.stdout
    assert "edit-config" not in operations(lab)


def test_changed_event_kind_drops_stored_cli_event(applied: LabDevice, lab_host: Host) -> None:
    # The engine replaces the applet over NETCONF, which drops the CLI-only event it had.
    intent = load_intent(ALL_KINDS)
    applets = [
        applet.model_copy(update={"event": intent.applets[0].event}) if applet.name == "ReloadGuard" else applet
        for applet in intent.applets
    ]

    result = apply_device(intent.model_copy(update={"applets": applets}), lab_host, sync_timeout=10)

    assert result.error is None, result.error
    assert applied.unmodelled()["applet_events"] == {}
    assert xpath(running(applied), APPLET.format("ReloadGuard") + "/eem:event/eem:none-choice")
    assert set(applied.unmodelled()["applet_actions"]) == set(UNMODELLED_LABELS)
