"""Saving to startup, datastore locks held by others, concurrent applies, and SSH host keys."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from pathlib import Path

import asyncssh
import pytest
from lxml import etree

from models.intent import Intent, load_intent
from models.inventory import Host
from payloads import namespaces as ns
from provisioner.engine import ApplyResult, apply_device
from provisioner.errors import LockHeldError
from provisioner.lab import LabDevice
from provisioner.transport.netconf import NetconfSession
from tests.conftest import EXAMPLE
from tests.integration.test_apply import run_cli

pytestmark = pytest.mark.integration

P = ns.XPATH_PREFIXES
EDITS = {"edit-config", "config-ios-cli-rpc", "commit"}


def environment(xml: str, name: str) -> list[str]:
    data = etree.fromstring(xml.encode())
    return list(data.xpath(f"//eem:environment[eem:name='{name}']/eem:value/text()", namespaces=P))


def wait_for(condition: object, what: str) -> None:
    """Poll a condition that another thread makes true; a bound, not a timing assertion."""
    deadline = time.monotonic() + 30
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


# Saving


def test_save_config_saves_after_verification(lab: LabDevice) -> None:
    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path), "--save-config")

    assert completed.returncode == 0, completed.stderr
    assert "saved running to startup with cisco-ia:save-config" in completed.stdout
    assert environment(lab.startup_xml(), "_email_to") == ["noc@example.com"]
    operations = [record["operation"] for record in lab.rpc_log()]
    # Saved last: after the get-config that verified the apply, never before.
    assert operations.index("save-config") > max(i for i, name in enumerate(operations) if name == "get-config")


def test_without_save_config_the_report_says_unsaved(lab: LabDevice) -> None:
    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path))

    assert completed.returncode == 0, completed.stderr
    assert "not saved to startup" in completed.stdout
    assert environment(lab.startup_xml(), "_email_to") == []
    assert "save-config" not in [record["operation"] for record in lab.rpc_log()]


def test_failed_apply_does_not_save(lab: LabDevice) -> None:
    lab.faults.mutate_after_commit.append(
        ("/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_to']/eem:value", "x@example.com")
    )

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path), "--save-config")

    assert completed.returncode == 1
    assert "rolled back" in completed.stderr
    assert "save-config" not in [record["operation"] for record in lab.rpc_log()]


# Locks


def test_lock_held_by_another_session_names_it(lab: LabDevice, lab_host: Host) -> None:
    with NetconfSession(lab_host) as holder:
        holder.lock("running")

        completed = run_cli("apply", str(EXAMPLE), "--inventory", str(lab.inventory_path), "--lock-timeout", "0.3")

        assert completed.returncode == 1
        assert f"locked by NETCONF session {holder.session_id}" in completed.stderr
        assert "configuration unchanged" in completed.stderr
    denied = [record for record in lab.rpc_log() if record["operation"] == "lock" and not record["ok"]]
    assert len(denied) >= 2, "apply should retry the lock before it gives up"
    assert EDITS.isdisjoint(record["operation"] for record in lab.rpc_log())


def test_apply_waits_for_a_lock_to_be_released(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    results: list[ApplyResult] = []
    with NetconfSession(lab_host) as holder:
        holder.lock("running")
        worker = threading.Thread(
            target=lambda: results.append(apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=5, lock_timeout=30))
        )
        worker.start()
        wait_for(lambda: any(r["operation"] == "lock" and not r["ok"] for r in lab.rpc_log()), "a refused lock")
        holder.unlock("running")
    worker.join(60)

    assert results and results[0].outcome == "applied", results and results[0].error
    assert environment(lab.running_xml(), "_email_to") == ["noc@example.com"]


def test_lock_timeout_error_in_library(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    with NetconfSession(lab_host) as holder:
        holder.lock("running")
        holder_id = holder.session_id
        result = apply_device(load_intent(EXAMPLE), lab_host, lock_timeout=0)

    assert isinstance(result.error, LockHeldError)
    assert result.error.holder == holder_id
    assert result.outcome == "unchanged"


def _variable_intent(name: str, value: str) -> Intent:
    return Intent.model_validate({"environment": {name: value}})


def test_two_applies_at_once_lose_no_update(lab: LabDevice, lab_host: Host) -> None:
    # A little latency widens the window in which both want the lock.
    lab.faults.latency_ms = 20
    results: dict[str, ApplyResult] = {}

    def run(name: str, value: str) -> None:
        results[name] = apply_device(_variable_intent(name, value), lab_host, sync_timeout=5, lock_timeout=30)

    workers = [threading.Thread(target=run, args=args) for args in (("_alpha", "one"), ("_beta", "two"))]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)

    assert {name: result.outcome for name, result in results.items()} == {"_alpha": "applied", "_beta": "applied"}
    assert environment(lab.running_xml(), "_alpha") == ["one"]
    assert environment(lab.running_xml(), "_beta") == ["two"]
    assert lab.locks() == {}


# Host keys


def sha256_fingerprint(base64_key: str) -> str:
    digest = hashlib.sha256(base64.b64decode(base64_key)).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def inventory_with(lab: LabDevice, folder: Path, known_hosts: Path) -> Path:
    inventory = folder / "inventory.yaml"
    inventory.write_text(
        "hosts:\n  lab:\n"
        f"    hostname: {lab.host}\n    port: {lab.port}\n    username: {lab.username}\n"
        f"    password_file: {lab.state_dir / 'password'}\n    known_hosts: {known_hosts}\n"
    )
    return inventory


def test_unknown_host_key_is_refused_with_its_fingerprint(lab: LabDevice, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    inventory = inventory_with(lab, tmp_path, known_hosts)

    completed = run_cli("plan", str(EXAMPLE), "--inventory", str(inventory))

    assert completed.returncode == 1
    assert sha256_fingerprint(lab.host_key_base64) in completed.stderr
    assert "--accept-new-host-key" in completed.stderr
    assert not known_hosts.exists()
    assert lab.rpc_log() == []


def test_accept_new_host_key_records_it(lab: LabDevice, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    inventory = inventory_with(lab, tmp_path, known_hosts)

    first = run_cli("plan", str(EXAMPLE), "--inventory", str(inventory), "--accept-new-host-key")
    second = run_cli("plan", str(EXAMPLE), "--inventory", str(inventory))

    assert first.returncode == 2, first.stderr
    assert f"[{lab.host}]:{lab.port} ssh-ed25519 {lab.host_key_base64}" in known_hosts.read_text()
    assert second.returncode == 2, second.stderr


def test_changed_host_key_is_refused_even_with_accept_new(lab: LabDevice, tmp_path: Path) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key("openssh").decode().split()[1]
    known_hosts = tmp_path / "known_hosts"
    recorded = f"[{lab.host}]:{lab.port} ssh-ed25519 {other}\n"
    known_hosts.write_text(recorded)
    inventory = inventory_with(lab, tmp_path, known_hosts)

    for extra in ((), ("--accept-new-host-key",)):
        completed = run_cli("apply", str(EXAMPLE), "--inventory", str(inventory), *extra)

        assert completed.returncode == 1
        assert "differs from the one recorded" in completed.stderr
        assert sha256_fingerprint(lab.host_key_base64) in completed.stderr
    assert known_hosts.read_text() == recorded
    assert lab.rpc_log() == []
