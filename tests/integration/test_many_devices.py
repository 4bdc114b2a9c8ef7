"""plan, apply and check over three lab devices: workers, progress lines, failures, Ctrl-C, library API."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.intent import load_intent
from models.inventory import load_inventory
from provisioner import (
    ApplyResult,
    DeviceCompliance,
    FleetResult,
    Plan,
    aapply_devices,
    apply_devices,
    check_fleet,
    plan_devices,
)
from provisioner.lab import LabDevice
from provisioner.lab.labdevice import LabLoop
from tests.conftest import EXAMPLE, REPO, SMTP_PASSWORD
from tests.integration.test_apply import run_cli

pytestmark = pytest.mark.integration

NAMES = ("r1", "r2", "r3")
# Upper bound for waiting on a subprocess or a device, so a hang fails the test instead of blocking it.
WAIT = 60.0


class Fleet:
    """Three lab devices on one event loop, and an inventory naming them r1, r2 and r3."""

    def __init__(self, folder: Path) -> None:
        self.loop = LabLoop()
        self.devices = {name: LabDevice(folder / name, port=0, name=name, loop=self.loop) for name in NAMES}
        self.inventory = folder / "inventory.yaml"

    def start(self) -> None:
        for device in self.devices.values():
            device.start()
        lines = ["hosts:"]
        for name, device in self.devices.items():
            lines += [
                f"  {name}:",
                f"    hostname: {device.host}",
                f"    port: {device.port}",
                f"    username: {device.username}",
                f"    password_file: {device.state_dir / 'password'}",
                f"    known_hosts: {device.known_hosts_path}",
            ]
        self.inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def stop(self) -> None:
        for device in self.devices.values():
            device.stop()
        self.loop.close()

    def holds_intent(self, name: str) -> bool:
        return "_email_from" in self.devices[name].running_xml()

    def operations(self, name: str) -> list[str]:
        return [record["operation"] for record in self.devices[name].rpc_log()]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    devices = Fleet(tmp_path)
    devices.start()
    try:
        yield devices
    finally:
        devices.stop()


def progress_lines(stderr: str) -> dict[str, str]:
    """Return the plain progress lines (``[n/3] r1: applied``) by device."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith("[") and "/3] " in line:
            device, _, outcome = line.split("] ", 1)[1].partition(": ")
            found[device] = outcome
    return found


def summary(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(("3 devices:", "interrupted: 3 devices:"))]
    assert len(lines) == 1, stderr
    return lines[0]


def test_apply_cli_one_failing_device_others_applied(fleet: Fleet) -> None:
    fleet.devices["r2"].faults.fail_operations = {"commit": "operation-failed"}

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory), "--workers", "2")

    assert completed.returncode == 1, completed.stderr
    assert fleet.holds_intent("r1")
    assert not fleet.holds_intent("r2")
    assert fleet.holds_intent("r3")
    lines = progress_lines(completed.stderr)
    assert lines["r1"] == "applied"
    assert lines["r3"] == "applied"
    assert lines["r2"].startswith("failed: commit failed")
    assert summary(completed.stderr) == "3 devices: 2 applied, 1 failed (r2)"
    assert "r1: applied and verified" in completed.stdout
    assert "r3: applied and verified" in completed.stdout
    assert "r2: failed, configuration unchanged" in completed.stderr
    # Reports follow inventory order, whatever order the devices ended in.
    assert completed.stdout.index("r1: applied") < completed.stdout.index("r3: applied")
    assert SMTP_PASSWORD not in completed.stdout + completed.stderr


def test_apply_cli_wrong_password_device(fleet: Fleet) -> None:
    fleet.devices["r3"].faults.reject_logins = True

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory), "--workers", "2")

    assert completed.returncode == 1, completed.stderr
    assert fleet.holds_intent("r1")
    assert fleet.holds_intent("r2")
    assert fleet.operations("r3") == []
    assert summary(completed.stderr) == "3 devices: 2 applied, 1 failed (r3)"


def test_apply_cli_plain_lines_without_terminal(fleet: Fleet) -> None:
    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory), "--workers", "1")

    assert completed.returncode == 0, completed.stderr
    assert set(progress_lines(completed.stderr)) == set(NAMES)
    numbers = [line.split("]", 1)[0] for line in completed.stderr.splitlines() if line.startswith("[")]
    assert numbers == ["[1/3", "[2/3", "[3/3"]
    # No terminal: no cursor movement or colour codes from a progress bar.
    assert "\x1b[" not in completed.stderr
    assert summary(completed.stderr) == "3 devices: 3 applied"


def test_apply_cli_second_run_unchanged(fleet: Fleet) -> None:
    first = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory))
    assert first.returncode == 0, first.stderr

    second = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory), "--workers", "3")

    assert second.returncode == 0, second.stderr
    assert summary(second.stderr) == "3 devices: 3 unchanged"


def test_plan_cli_exit_codes_over_fleet(fleet: Fleet) -> None:
    pending = run_cli("plan", str(EXAMPLE), "--inventory", str(fleet.inventory), "--workers", "2")
    assert pending.returncode == 2, pending.stderr
    assert summary(pending.stderr) == "3 devices: 3 changes pending"

    assert run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory)).returncode == 0
    in_sync = run_cli("plan", str(EXAMPLE), "--inventory", str(fleet.inventory))
    assert in_sync.returncode == 0, in_sync.stderr
    assert summary(in_sync.stderr) == "3 devices: 3 in sync"

    fleet.devices["r2"].faults.reject_logins = True
    failed = run_cli("plan", str(EXAMPLE), "--inventory", str(fleet.inventory))
    assert failed.returncode == 1, failed.stderr
    assert summary(failed.stderr) == "3 devices: 2 in sync, 1 failed (r2)"


def test_plan_cli_device_timeout(fleet: Fleet) -> None:
    fleet.devices["r3"].faults.latency_ms = 4000

    completed = run_cli("plan", str(EXAMPLE), "--inventory", str(fleet.inventory), "--device-timeout", "1.5")

    assert completed.returncode == 1, completed.stderr
    assert progress_lines(completed.stderr)["r1"] == "changes pending"
    assert progress_lines(completed.stderr)["r3"].startswith("timed out after 1.5 s")
    assert "r1: changes pending" in completed.stdout
    assert "r2: changes pending" in completed.stdout
    assert summary(completed.stderr) == "3 devices: 2 changes pending, 1 timed out (r3)"


def test_plan_json_lists_every_device(fleet: Fleet) -> None:
    import json

    fleet.devices["r1"].faults.reject_logins = True

    completed = run_cli("plan", str(EXAMPLE), "--inventory", str(fleet.inventory), "--output", "json")

    assert completed.returncode == 1, completed.stderr
    data = json.loads(completed.stdout)
    devices = data["devices"]
    assert [device["device"] for device in devices] == list(NAMES)
    assert devices[0]["error"] is not None
    assert "error" not in devices[1]
    assert devices[1]["in_sync"] is False


def test_check_cli_progress_and_summary(fleet: Fleet) -> None:
    fleet.devices["r1"].faults.reject_logins = True

    completed = run_cli("check", str(EXAMPLE), "--inventory", str(fleet.inventory), "--workers", "2",
                        "--lock-file", str(fleet.inventory.parent / "check.lock"))

    assert completed.returncode == 1, completed.stderr
    lines = progress_lines(completed.stderr)
    assert lines["r1"].startswith("failed: ")
    assert lines["r2"] == "with findings"
    assert summary(completed.stderr) == "3 devices: 1 failed (r1), 2 with findings"


def test_failure_reason_printed_once_per_layout(fleet: Fleet) -> None:
    # Without a terminal the reason belongs in the progress line and in the device's report.
    # The log, hidden without -v, and the summary must not repeat it.
    fleet.devices["r2"].faults.fail_operations = {"commit": "operation-failed"}
    fleet.devices["r3"].faults.reject_logins = True

    applied = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory))
    planned = run_cli("plan", str(EXAMPLE), "--inventory", str(fleet.inventory))
    checked = run_cli("check", str(EXAMPLE), "--inventory", str(fleet.inventory),
                      "--lock-file", str(fleet.inventory.parent / "check.lock"))

    for completed in (applied, planned, checked):
        assert completed.returncode == 1, completed.stderr
        assert "provisioner.fleet" not in completed.stderr
        assert "provisioner.compliance" not in completed.stderr
        assert "provisioner.engine" not in completed.stderr
    assert applied.stderr.count("SSH authentication failed") == 2, applied.stderr
    assert applied.stderr.count("fault injected by the lab device") == 2, applied.stderr
    assert planned.stderr.count("SSH authentication failed") == 2, planned.stderr
    # check prints the device's error in its report on stdout.
    assert checked.stderr.count("SSH authentication failed") == 1, checked.stderr
    assert summary(applied.stderr) == "3 devices: 1 applied, 2 failed (r2, r3)"
    assert summary(planned.stderr) == "3 devices: 1 in sync, 1 changes pending, 1 failed (r3)"
    assert summary(checked.stderr) == "3 devices: 1 compliant, 1 with findings, 1 failed (r3)"


def test_fleet_log_visible_with_verbose(fleet: Fleet) -> None:
    fleet.devices["r3"].faults.reject_logins = True

    completed = run_cli("-v", "plan", str(EXAMPLE), "--inventory", str(fleet.inventory))

    assert completed.returncode == 1, completed.stderr
    assert "INFO provisioner.fleet: r3: task failed: " in completed.stderr


def test_apply_device_timeout_reports_late_outcome(fleet: Fleet) -> None:
    # Each round trip to r3 takes 0.4 s, so its apply outlives the 1 s limit and then ends.
    fleet.devices["r3"].faults.latency_ms = 400

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory), "--device-timeout", "1")

    assert completed.returncode == 1, completed.stderr
    assert progress_lines(completed.stderr)["r3"].startswith("timed out after 1 s")
    assert "note: waiting for the apply on r3 to end" in completed.stderr
    assert "r3: timed out after 1 s; the apply then ended: applied and verified" in completed.stderr
    assert "UNKNOWN" not in completed.stderr
    assert "not reported" not in completed.stderr
    assert summary(completed.stderr) == "3 devices: 2 applied, 1 timed out (r3)"
    # The report comes after the wait, so the note precedes it.
    assert completed.stderr.index("note: waiting") < completed.stderr.index("the apply then ended")
    assert fleet.holds_intent("r3")


def test_library_wait_for_late_outcome(fleet: Fleet, smtp_password: str) -> None:
    intent = load_intent(EXAMPLE)
    hosts = load_inventory(fleet.inventory).select(["r1"])
    fleet.devices["r1"].faults.latency_ms = 400

    result = apply_devices(intent, hosts, timeout=1, sync_timeout=10)
    late = result.wait_for_late(timeout=WAIT)

    assert [run.state for run in result.devices] == ["timed-out"]
    assert result.devices[0].late is None
    assert [run.state for run in late.devices] == ["timed-out"]
    outcome = late.devices[0].late
    assert outcome is not None
    assert outcome.state == "done"
    assert isinstance(outcome.result, ApplyResult)
    assert outcome.result.outcome == "applied"
    assert fleet.holds_intent("r1")


def test_workers_zero_rejected(fleet: Fleet) -> None:
    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory), "--workers", "0")

    assert completed.returncode == 1
    assert "--workers" in completed.stderr
    assert all(fleet.operations(name) == [] for name in NAMES)


def test_ctrl_c_stops_new_devices(fleet: Fleet) -> None:
    # r1 replies slowly, so its apply is still running when SIGINT arrives.
    fleet.devices["r1"].faults.latency_ms = 300
    environment = {**os.environ, "SMTP_PASSWORD": SMTP_PASSWORD}
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioner", "apply", str(EXAMPLE), "--inventory", str(fleet.inventory),
         "--workers", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment, cwd=REPO,
    )
    try:
        deadline = time.monotonic() + WAIT
        while "lock" not in fleet.operations("r1"):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "r1 never received a lock"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 130, stderr
    assert "stopping: no new device starts; waiting for r1" in stderr
    assert summary(stderr) == "interrupted: 3 devices: 1 applied, 2 not started"
    assert "r1: applied and verified" in stdout
    assert fleet.holds_intent("r1")
    assert "unlock" in fleet.operations("r1")
    assert fleet.operations("r2") == []
    assert fleet.operations("r3") == []
    assert "r2: not started" in stderr


def test_library_apply_devices_typed_results(fleet: Fleet, smtp_password: str) -> None:
    intent = load_intent(EXAMPLE)
    hosts = load_inventory(fleet.inventory).select([])
    fleet.devices["r2"].faults.fail_operations = {"commit": "operation-failed"}

    result = apply_devices(intent, hosts, workers=2, sync_timeout=10)

    assert isinstance(result, FleetResult)
    assert [run.device for run in result.devices] == list(NAMES)
    assert [run.state for run in result.devices] == ["done", "failed", "done"]
    assert result.counts()["done"] == 2
    assert result.counts()["failed"] == 1
    assert not result.ok
    failed = result.devices[1]
    assert isinstance(failed.result, ApplyResult)
    assert failed.result.outcome == "unchanged"
    assert failed.error is not None
    assert "commit failed" in failed.error
    applied = result.devices[0].result
    assert isinstance(applied, ApplyResult)
    assert applied.outcome == "applied"


def test_library_plan_and_check_fleet(fleet: Fleet, smtp_password: str) -> None:
    intent = load_intent(EXAMPLE)
    hosts = load_inventory(fleet.inventory).select([])
    fleet.devices["r3"].faults.reject_logins = True

    plans = plan_devices(intent, hosts)
    checks = check_fleet(intent, hosts, timeout=20)

    assert [run.state for run in plans.devices] == ["done", "done", "failed"]
    assert isinstance(plans.devices[0].result, Plan)
    assert not plans.devices[0].result.in_sync
    assert plans.devices[2].result is None
    assert [run.state for run in checks.devices] == ["done", "done", "failed"]
    assert isinstance(checks.devices[2].result, DeviceCompliance)
    assert checks.devices[2].result.error is not None


def test_library_async_apply(fleet: Fleet, smtp_password: str) -> None:
    intent = load_intent(EXAMPLE)
    hosts = load_inventory(fleet.inventory).select([])

    result = asyncio.run(aapply_devices(intent, hosts, workers=3, sync_timeout=10))

    assert result.ok
    assert all(fleet.holds_intent(name) for name in NAMES)
