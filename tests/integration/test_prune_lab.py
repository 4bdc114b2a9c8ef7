"""Ownership rules against a lab device: applets owned whole, managed prefixes, prune."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from models.intent import load_intent
from models.inventory import Host
from payloads import namespaces as ns
from provisioner.engine import apply_device, plan_device
from provisioner.errors import VerificationError
from provisioner.lab import LabDevice
from tests.integration.test_apply import EDITS, operations, run_cli

pytestmark = pytest.mark.integration

P = ns.XPATH_PREFIXES

SEED = """
environment:
  NOC_to: noc@example.com
  NOC_old: old@example.com
  OPS_keep: ops@example.com
applets:
  - name: NOC-Alert
    event: {syslog: {pattern: "LINK-3-UPDOWN"}}
    actions:
      - {label: "0010", syslog: {msg: "link changed"}}
      - {label: "0020", cli: {command: "enable"}}
  - name: NOC-Old
    event: {none: {}}
    actions:
      - {label: "0010", syslog: {msg: "old"}}
  - name: Ops-Keep
    event: {none: {}}
    actions:
      - {label: "0010", syslog: {msg: "ops"}}
trustpoints:
  - name: NOC-Root
  - name: NOC-Stale
"""

WANTED = """
environment:
  NOC_to: noc@example.com
applets:
  - name: NOC-Alert
    event: {syslog: {pattern: "LINK-3-UPDOWN"}}
    actions:
      - {label: "0010", syslog: {msg: "link changed"}}
trustpoints:
  - name: NOC-Root
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _names(lab: LabDevice) -> set[str]:
    config = etree.fromstring(lab.running_xml().encode())
    found = config.xpath("//eem:environment/eem:name/text() | //eem:applet/eem:name/text()", namespaces=P)
    found += config.xpath("//crypto:trustpoint/crypto:id/text()", namespaces=P)
    return {str(name) for name in found}


def _actions(lab: LabDevice, applet: str) -> list[str]:
    config = etree.fromstring(lab.running_xml().encode())
    path = f"//eem:applet[eem:name='{applet}']/eem:action/eem:name/text()"
    return [str(label) for label in config.xpath(path, namespaces=P)]


@pytest.fixture
def seeded(lab: LabDevice, lab_host: Host, tmp_path: Path) -> LabDevice:
    result = apply_device(load_intent(_write(tmp_path, "seed.yaml", SEED)), lab_host, sync_timeout=10)
    assert result.error is None, result.error
    return lab


def test_named_applet_owned_whole(seeded: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    result = apply_device(load_intent(_write(tmp_path, "wanted.yaml", WANTED)), lab_host, sync_timeout=10)

    assert result.error is None, result.error
    assert _actions(seeded, "NOC-Alert") == ["0010"]


def test_without_prefix_others_untouched(seeded: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    apply_device(load_intent(_write(tmp_path, "wanted.yaml", WANTED)), lab_host, sync_timeout=10)

    assert {"NOC_old", "NOC-Old", "NOC-Stale", "Ops-Keep", "OPS_keep"} <= _names(seeded)


def test_prefix_without_prune_keeps_strays(seeded: LabDevice, tmp_path: Path) -> None:
    intent = _write(tmp_path, "wanted.yaml", WANTED + "ownership: {managed_prefix: NOC}\n")
    apply = run_cli("apply", str(intent), "--inventory", str(seeded.inventory_path), password=None)
    count = len(seeded.rpc_log())

    plan = run_cli("plan", str(intent), "--inventory", str(seeded.inventory_path), password=None)

    assert apply.returncode == 0, apply.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "event manager applet NOC-Old is under the managed prefix" in plan.stdout
    assert {"NOC_old", "NOC-Old", "NOC-Stale"} <= _names(seeded)
    assert EDITS.isdisjoint(operations(seeded)[count:])


def test_prune_removes_only_prefixed_strays(seeded: LabDevice, tmp_path: Path) -> None:
    intent = _write(tmp_path, "wanted.yaml", WANTED + "ownership: {managed_prefix: NOC, prune: true}\n")

    plan = run_cli("plan", str(intent), "--inventory", str(seeded.inventory_path), password=None)
    apply = run_cli("apply", str(intent), "--inventory", str(seeded.inventory_path), password=None)
    names = _names(seeded)

    assert plan.returncode == 2, plan.stderr
    assert "- event manager applet NOC-Old" in plan.stdout
    assert "- crypto pki trustpoint NOC-Stale" in plan.stdout
    assert "- event manager environment NOC_old old@example.com" in plan.stdout
    assert apply.returncode == 0, apply.stderr
    assert not {"NOC_old", "NOC-Old", "NOC-Stale"} & names
    assert {"NOC_to", "NOC-Alert", "NOC-Root", "Ops-Keep", "OPS_keep", "SLA-TrustPoint"} <= names
    assert any(name.startswith("TP-self-signed-") for name in names)


def test_prune_then_apply_again_sends_nothing(seeded: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    intent = load_intent(_write(tmp_path, "wanted.yaml", WANTED + "ownership: {managed_prefix: NOC, prune: true}\n"))
    first = apply_device(intent, lab_host, sync_timeout=10)
    count = len(seeded.rpc_log())

    second = apply_device(intent, lab_host, sync_timeout=10)

    assert first.error is None, first.error
    assert second.error is None, second.error
    assert not second.changed
    assert plan_device(intent, lab_host).in_sync
    assert EDITS.isdisjoint(operations(seeded)[count:])


def test_failed_verify_restores_pruned(seeded: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    intent = load_intent(_write(tmp_path, "wanted.yaml", WANTED + "ownership: {managed_prefix: NOC, prune: true}\n"))
    seeded.faults.mutate_after_commit.append(
        ("/ios:native/ios:event/eem:manager/eem:environment[eem:name='NOC_to']/eem:value", "changed@example.com")
    )

    result = apply_device(intent, lab_host, sync_timeout=10)
    seeded.faults.mutate_after_commit.clear()

    assert isinstance(result.error, VerificationError)
    assert result.error.restored
    assert {"NOC_old", "NOC-Old", "NOC-Stale"} <= _names(seeded)
