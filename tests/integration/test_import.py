"""`provisioner import` against a lab device: the written intent applies as a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.intent import load_intent
from models.inventory import Host
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
from tests.conftest import EXAMPLE, SMTP_PASSWORD
from tests.integration.test_apply import EDITS, operations, run_cli

pytestmark = pytest.mark.integration

# TODO: run the import round trip against lab devices of 17.9, 17.15 and 17.18 too once the lab
# serves those release shapes; these tests use the 17.12 lab device only.

SEED = """
environment:
  NOC_to: noc@example.com
  OPS_to: ops@example.com
applets:
  - name: NOC-Link
    description: Link changes
    class: B
    event: {syslog: {pattern: "LINK-3-UPDOWN", occurs: 2, period: 60, maxrun: 30}}
    actions:
      - {label: "0010", regexp: {pattern: "Interface ([^,]+)", input: "$_syslog_msg", match: match, submatches: [ifname]}}
      - {label: "0020", if: {left: "$_regexp_result", op: eq, right: "1"}}
      - {label: "0030", syslog: {msg: "link $ifname", priority: errors}}
      - {label: "0040", end: {}}
  - name: Ops-Timer
    event: {timer: {cron: {entry: "0 2 * * *", name: nightly}}}
    actions:
      - {label: "0010", cli: {command: "enable"}}
trustpoints:
  - name: NOC-Root
    revocation_check: [crl]
    chain_validation: null
"""


def test_import_then_apply_is_noop(lab: LabDevice, lab_host: Host, tmp_path: Path, smtp_password: str) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED, encoding="utf-8")
    assert apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10).error is None
    assert apply_device(load_intent(seed), lab_host, sync_timeout=10).error is None
    imported = tmp_path / "imported.yaml"

    written = run_cli("import", "--inventory", str(lab.inventory_path), "--host", "lab", "--out", str(imported))
    count = len(lab.rpc_log())
    plan = run_cli("plan", str(imported), "--inventory", str(lab.inventory_path))
    apply = run_cli("apply", str(imported), "--inventory", str(lab.inventory_path))
    text = imported.read_text(encoding="utf-8")

    assert written.returncode == 0, written.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert apply.returncode == 0, apply.stderr
    assert "in sync, nothing sent" in apply.stdout
    assert EDITS.isdisjoint(operations(lab)[count:])
    assert SMTP_PASSWORD not in text
    assert "password_env: SMTP_PASSWORD" in text
    assert "SLA-TrustPoint" not in text
    assert "_provisioner_cli_digest" not in text


def test_import_with_prefix_claims_it(lab: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED, encoding="utf-8")
    assert apply_device(load_intent(seed), lab_host, sync_timeout=10).error is None

    written = run_cli("import", "--inventory", str(lab.inventory_path), "--host", "lab", "--managed-prefix", "NOC",
                      password=None)
    imported = tmp_path / "imported.yaml"
    imported.write_text(written.stdout, encoding="utf-8")
    intent = load_intent(imported)

    assert written.returncode == 0, written.stderr
    assert [applet.name for applet in intent.applets] == ["NOC-Link"]
    assert list(intent.environment) == ["NOC_to"]
    assert intent.ownership.managed_prefix == "NOC"
    assert not intent.ownership.prune


def test_import_refuses_to_overwrite(lab: LabDevice, tmp_path: Path) -> None:
    existing = tmp_path / "exists.yaml"
    existing.write_text("keep: me\n", encoding="utf-8")

    written = run_cli("import", "--inventory", str(lab.inventory_path), "--host", "lab", "--out", str(existing))

    assert written.returncode == 1
    assert "exists" in written.stderr
    assert existing.read_text(encoding="utf-8") == "keep: me\n"


def test_import_unknown_host(lab: LabDevice) -> None:
    written = run_cli("import", "--inventory", str(lab.inventory_path), "--host", "nope")

    assert written.returncode == 1
    assert "limit 'nope' selects no host" in written.stderr
    assert "Known hosts: lab." in written.stderr
