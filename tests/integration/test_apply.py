"""The tech note's scenario end to end against a lab device over real SSH/NETCONF."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from models.intent import load_intent
from models.inventory import Host
from payloads import namespaces as ns
from provisioner.engine import apply_device, plan_device
from provisioner.errors import HostKeyError, VerificationError
from provisioner.lab import LabDevice
from tests.conftest import EXAMPLE, REPO, SMTP_PASSWORD

pytestmark = pytest.mark.integration

P = ns.XPATH_PREFIXES
EDITS = {"edit-config", "config-ios-cli-rpc", "commit"}


def run_cli(*args: str, password: str | None = SMTP_PASSWORD, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "SMTP_PASSWORD"}
    if password is not None:
        env["SMTP_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "provisioner", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def running(lab: LabDevice) -> etree._Element:
    return etree.fromstring(lab.running_xml().encode())


def operations(lab: LabDevice) -> list[str]:
    return [record["operation"] for record in lab.rpc_log()]


def test_apply_example_to_fresh_lab(lab: LabDevice) -> None:
    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path))

    assert completed.returncode == 0, completed.stderr
    config = running(lab)
    manager = "//ios:native/ios:event/eem:manager"
    values = {
        name: config.xpath(f"{manager}/eem:environment[eem:name='{name}']/eem:value/text()", namespaces=P)
        for name in ("_email_from", "_email_to", "_email_server")
    }
    assert values["_email_from"] == ["eem.alerts.example@gmail.com"]
    assert values["_email_to"] == ["noc@example.com"]
    assert values["_email_server"] == [f"eem.alerts.example:{SMTP_PASSWORD}@smtp.gmail.com"]
    assert config.xpath(f"{manager}/eem:applet[eem:name='SendSecureEmailEEM']/eem:event/eem:none-choice", namespaces=P)
    for trustpoint in ("CA-GTS-1C3", "CA-GTS-Root-R1", "CA-GlobalSign-Root"):
        entry = config.xpath(f"//crypto:trustpoint[crypto:id='{trustpoint}']", namespaces=P)
        assert len(entry) == 1
        assert entry[0].xpath("crypto:enrollment/crypto:enrollment-method/crypto:terminal", namespaces=P)
        assert entry[0].xpath("crypto:revocation-check/text()", namespaces=P) == ["none"]
        assert entry[0].xpath("crypto:chain-validation/crypto:stop", namespaces=P)
    # The mail action went through config-ios-cli-rpc: the lab keeps it where get-config cannot see it.
    assert "mail server" in str(lab.unmodelled())
    assert config.xpath(f"{manager}/eem:applet[eem:name='SendSecureEmailEEM']/eem:action", namespaces=P) == []
    assert "verified by get-config" in completed.stdout
    assert "verified by cli-rpc digest" in completed.stdout


def test_second_apply_and_plan_send_no_edit(lab: LabDevice) -> None:
    first = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path))
    assert first.returncode == 0, first.stderr
    count = len(lab.rpc_log())

    second = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path))
    plan = run_cli("plan", str(EXAMPLE), "--inventory", str(lab.inventory_path))

    assert second.returncode == 0, second.stderr
    assert "in sync, nothing sent" in second.stdout
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "lab: in sync" in plan.stdout
    later = operations(lab)[count:]
    assert "get-config" in later
    assert EDITS.isdisjoint(later)


def test_plan_on_fresh_lab_lists_changes(lab: LabDevice) -> None:
    completed = run_cli("plan", str(EXAMPLE), "--inventory", str(lab.inventory_path))

    assert completed.returncode == 2, completed.stderr
    assert "+ event manager environment _email_to noc@example.com" in completed.stdout
    assert "+ crypto pki trustpoint CA-GlobalSign-Root" in completed.stdout
    assert "through config-ios-cli-rpc" in completed.stdout
    assert EDITS.isdisjoint(operations(lab))


def test_mismatch_restores_previous_config(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    before = lab.running_xml()
    lab.faults.mutate_after_commit.append(
        ("/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_to']/eem:value", "changed@example.com")
    )

    result = apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10)

    assert isinstance(result.error, VerificationError)
    assert "/native/event/manager/environment[name='_email_to']" in str(result.error)
    assert result.error.restored
    assert lab.running_xml() == before
    assert lab.unmodelled() == {} or "mail server" not in str(lab.unmodelled())


def test_mismatch_fails_cli_with_exit_1(lab: LabDevice) -> None:
    lab.faults.mutate_after_commit.append(
        ("/ios:native/ios:crypto/crypto:pki/crypto:trustpoint[crypto:id='CA-GTS-1C3']/crypto:revocation-check", "crl")
    )

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path))

    assert completed.returncode == 1
    assert "/native/crypto/pki/trustpoint[id='CA-GTS-1C3']" in completed.stderr
    assert "previous configuration was restored and verified" in completed.stderr


def test_missing_password_sends_nothing(lab: LabDevice) -> None:
    for command in ("apply", "plan"):
        completed = run_cli(command, str(EXAMPLE), "--inventory", str(lab.inventory_path), password=None)

        assert completed.returncode == 1
        assert "environment variable SMTP_PASSWORD is not set" in completed.stderr
    assert lab.rpc_log() == []


def test_password_appears_in_no_output_or_log(lab: LabDevice, lab_host: Host, smtp_password: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outputs = []
    for args in (
        ("render", str(EXAMPLE)),
        ("render", str(EXAMPLE), "--format", "cli"),
        ("-vv", "plan", str(EXAMPLE), "--inventory", str(lab.inventory_path)),
        ("-vv", "apply", str(EXAMPLE), "--inventory", str(lab.inventory_path)),
        ("-vv", "plan", str(EXAMPLE), "--inventory", str(lab.inventory_path)),
    ):
        completed = run_cli(*args)
        assert completed.returncode in (0, 2), completed.stderr
        outputs.extend([completed.stdout, completed.stderr])
    # The library path, with every logger (ncclient's and paramiko's included) at DEBUG. A new
    # recipient forces a commit, and the injected mismatch forces a restore and an error.
    loaded = load_intent(EXAMPLE)
    intent = loaded.model_copy(update={"environment": {**loaded.environment, "_email_to": "ops@example.com"}})
    plan_device(intent, lab_host)
    lab.faults.mutate_after_commit.append(
        ("/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_to']/eem:value", "x@example.com")
    )
    failed = apply_device(intent, lab_host, sync_timeout=10)

    assert failed.error is not None
    outputs.append(str(failed.error))
    outputs.extend(record.getMessage() for record in caplog.records)
    outputs.append(lab.rpc_log_path.read_text())
    assert any("ncclient" in record.name for record in caplog.records)
    for text in outputs:
        assert smtp_password not in text


def test_unknown_host_key_is_rejected(lab: LabDevice, lab_host: Host, tmp_path: Path, smtp_password: str) -> None:
    other = tmp_path / "known_hosts"
    other.write_text("")

    with pytest.raises(HostKeyError, match="no host key for"):
        plan_device(load_intent(EXAMPLE), lab_host.model_copy(update={"known_hosts": other}))
    assert lab.rpc_log() == []


def test_no_inventory_uses_built_in_lab(tmp_path: Path) -> None:
    first = run_cli("apply", str(EXAMPLE), cwd=tmp_path)

    assert first.returncode == 0, first.stderr
    assert "using a built-in lab device with its state in lab-state/" in first.stderr
    assert "SendSecureEmailEEM" in (tmp_path / "lab-state" / "running.xml").read_text()

    with LabDevice(state_dir=tmp_path / "lab-state", port=0) as serving:
        plan = run_cli("plan", str(EXAMPLE), cwd=tmp_path)

        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert "using the lab device that is serving lab-state/" in plan.stderr
        assert "get-config" in [record["operation"] for record in serving.rpc_log()]
