"""Ownership rules: named objects, applets owned whole, managed prefixes and prune."""

from __future__ import annotations

import pytest

from models.errors import IntentError
from models.intent import Intent, parse_intent
from models.ownership import Ownership
from payloads.objects import ObjectKey
from payloads.readback import DeviceConfig
from provisioner.diff import compare

INTENT = """
environment:
  NOC_to: noc@example.com
applets:
  - name: NOC-Alert
    event: {none: {}}
    actions:
      - label: "0010"
        syslog: {msg: "alert"}
trustpoints:
  - name: NOC-Root
"""


def _intent(ownership: str = "") -> Intent:
    return parse_intent(INTENT + ownership)


def _device(intent: Intent) -> DeviceConfig:
    device = DeviceConfig()
    device.environment["NOC_to"] = "noc@example.com"
    device.environment["NOC_old"] = "old@example.com"
    device.environment["OTHER_var"] = "keep"
    device.environment["NOC_relay"] = "user:hunter2secret@relay.example.com"
    device.applets["NOC-Alert"] = intent.applets[0]
    device.applets["NOC-Old"] = intent.applets[0].model_copy(update={"name": "NOC-Old"})
    device.applets["Ops-Applet"] = intent.applets[0].model_copy(update={"name": "Ops-Applet"})
    device.trustpoints["NOC-Root"] = intent.trustpoints[0]
    device.trustpoints["NOC-Stale"] = intent.trustpoints[0].model_copy(update={"name": "NOC-Stale"})
    device.unreadable["crypto pki trustpoint SLA-TrustPoint"] = "enrollment is not terminal"
    return device


def test_without_prefix_only_named_objects_count() -> None:
    intent = _intent()

    plan = compare(intent, _device(intent))

    assert {change.key.name for change in plan.changes} == {"NOC_to", "NOC-Alert", "NOC-Root"}
    assert plan.strays == []
    assert plan.unreadable == {}


def test_prefix_without_prune_reports_strays() -> None:
    intent = _intent("ownership: {managed_prefix: NOC}\n")

    plan = compare(intent, _device(intent))

    assert plan.removals == []
    assert [str(key) for key in plan.strays] == [
        "event manager environment NOC_old",
        "event manager environment NOC_relay",
        "event manager applet NOC-Old",
        "crypto pki trustpoint NOC-Stale",
    ]
    assert "prune is off" in "\n".join(plan.render())


def test_prune_removes_strays_only() -> None:
    intent = _intent("ownership: {managed_prefix: NOC, prune: true}\n")

    plan = compare(intent, _device(intent))

    assert {str(change.key) for change in plan.removals} == {
        "event manager environment NOC_old",
        "event manager environment NOC_relay",
        "event manager applet NOC-Old",
        "crypto pki trustpoint NOC-Stale",
    }
    names = {change.key.name for change in plan.changes}
    assert "OTHER_var" not in names
    assert "Ops-Applet" not in names
    assert "SLA-TrustPoint" not in names


def test_removed_server_string_is_masked() -> None:
    intent = _intent("ownership: {managed_prefix: NOC, prune: true}\n")

    text = "\n".join(compare(intent, _device(intent)).render())

    assert "- event manager environment NOC_relay user:********@relay.example.com" in text
    assert "hunter2secret" not in text


def test_per_kind_prefixes() -> None:
    intent = _intent("ownership: {managed_prefix: {applets: NOC-}, prune: true}\n")

    plan = compare(intent, _device(intent))

    assert [str(change.key) for change in plan.removals] == ["event manager applet NOC-Old"]


def test_provided_variables_are_never_pruned() -> None:
    intent = _intent("provided_variables: [NOC_old]\nownership: {managed_prefix: NOC, prune: true}\n")

    plan = compare(intent, _device(intent))

    assert ObjectKey("environment", "NOC_old") not in {change.key for change in plan.removals}


def test_applet_owned_whole_drops_extra_action() -> None:
    intent = _intent()
    device = _device(intent)
    extra = intent.applets[0].model_dump(by_alias=True, exclude_none=True)
    extra["actions"].append({"label": "0020", "syslog": {"msg": "extra"}})
    device.applets["NOC-Alert"] = type(intent.applets[0]).model_validate(extra)

    plan = compare(intent, device)
    change = next(change for change in plan.changes if change.key.name == "NOC-Alert")

    assert change.kind == "change"
    assert [(item.item, item.kind) for item in change.items()] == [("action 0020", "remove")]
    assert '-  action 0020 syslog msg "extra"' in plan.render()


@pytest.mark.parametrize(
    ("ownership", "message"),
    [
        ("ownership: {prune: true}\n", "prune: true needs managed_prefix"),
        ("ownership: {managed_prefix: TP-}\n", "built-in trustpoints"),
        ("ownership: {managed_prefix: CISCO}\n", "built-in trustpoints"),
        ("ownership: {managed_prefix: {environment: NOC-}}\n", "can match no variable name"),
        ("ownership: {managed_prefix: ''}\n", "managed prefix '' is invalid"),
        ("ownership: {managed_prefx: NOC}\n", "did you mean 'managed_prefix'"),
    ],
)
def test_bad_ownership_is_rejected(ownership: str, message: str) -> None:
    with pytest.raises(IntentError) as caught:
        parse_intent(INTENT + ownership)

    assert message in str(caught.value)


def test_digest_variable_and_builtins_never_managed() -> None:
    ownership = Ownership(managed_prefix="_")

    assert not ownership.manages("environment", "_provisioner_cli_digest")
    assert ownership.manages("environment", "_email_old")
    # Validation rejects such a prefix; manages() holds the line even for an unvalidated model.
    assert not Ownership.model_construct(managed_prefix="S", prune=True).manages("trustpoint", "SLA-TrustPoint")
