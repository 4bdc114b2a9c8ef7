"""Lab fleets: `provisioner lab --devices N` and LabFleet, with plan, check and apply over --limit."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from ncclient import manager

from models.inventory import load_inventory
from provisioner.lab import LabFleet, StateDirInUseError
from tests.conftest import EXAMPLE, REPO
from tests.integration.test_apply import run_cli

pytestmark = pytest.mark.integration


def rpc_count(state: Path, name: str) -> int:
    log = state / name / "rpc-log.jsonl"
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def rpc_counts(state: Path, count: int = 3) -> dict[str, int]:
    return {f"lab-{index:03}": rpc_count(state, f"lab-{index:03}") for index in range(1, count + 1)}


@pytest.fixture
def fleet_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """`provisioner lab --devices 3` in a subprocess, on free ports, stopped with SIGTERM."""
    state = tmp_path / "fleet"
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioner", "lab", "--devices", "3", "--base-port", "0",
         "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on" not in line:
            process.kill()
            pytest.fail(f"lab fleet did not start: {line} {process.stderr.read() if process.stderr else ''}")
        assert str(state / "inventory.yaml") in line
        yield process, state
    finally:
        stop(process)


def stop(process: subprocess.Popen[str]) -> None:
    """End a lab subprocess with SIGTERM (SIGKILL after 20 s) and close its pipes."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


def test_fleet_command_writes_one_inventory(fleet_process: tuple[subprocess.Popen[str], Path]) -> None:
    _, state = fleet_process
    inventory = load_inventory(state / "inventory.yaml")

    assert list(inventory.hosts) == ["lab-001", "lab-002", "lab-003"]
    assert list(inventory.groups) == ["lab"]
    ports = {host.port for host in inventory.hosts.values()}
    assert len(ports) == 3
    password = (state / "password").read_text(encoding="utf-8").strip()
    known_hosts = paramiko.HostKeys(str(state / "known_hosts"))
    for host in inventory.hosts.values():
        assert host.groups == ("lab",)
        assert host.username == "admin"
        assert host.password is not None
        assert host.password.get_secret_value() == password
        assert host.known_hosts == state / "known_hosts"
        assert known_hosts.lookup(f"[127.0.0.1]:{host.port}") is not None
        assert (state / host.name / "running.xml").exists()


def test_fleet_command_plan_and_check_with_limit(fleet_process: tuple[subprocess.Popen[str], Path]) -> None:
    process, state = fleet_process
    inventory = str(state / "inventory.yaml")

    planned = run_cli("plan", str(EXAMPLE), "--inventory", inventory, "--limit", "lab-00[12]")

    assert planned.returncode == 2, planned.stderr
    assert "lab-001: changes pending" in planned.stdout
    assert "lab-002: changes pending" in planned.stdout
    assert "lab-003" not in planned.stdout
    after_plan = rpc_counts(state)
    assert after_plan["lab-001"] > 0
    assert after_plan["lab-002"] > 0
    assert after_plan["lab-003"] == 0

    checked = run_cli("check", str(EXAMPLE), "--inventory", inventory, "--limit", "lab-003",
                      "--limit", "lab-001", "--output", "json", "--lock-file", str(state / "check.lock"))

    assert checked.returncode == 2, checked.stderr
    devices = [entry["device"] for entry in json.loads(checked.stdout)["devices"]]
    assert sorted(devices) == ["lab-001", "lab-003"]
    after_check = rpc_counts(state)
    assert after_check["lab-001"] > after_plan["lab-001"]
    assert after_check["lab-002"] == after_plan["lab-002"]
    assert after_check["lab-003"] > 0

    everyone = run_cli("check", str(EXAMPLE), "--inventory", inventory, "--limit", "lab",
                       "--output", "json", "--lock-file", str(state / "check.lock"))

    assert everyone.returncode == 2, everyone.stderr
    assert len(json.loads(everyone.stdout)["devices"]) == 3

    before_miss = rpc_counts(state)
    missed = run_cli("plan", str(EXAMPLE), "--inventory", inventory, "--limit", "lab-001", "--limit", "core")

    assert missed.returncode == 1
    assert "limit 'core' selects no host" in missed.stderr
    assert "Known groups: lab. Known hosts: lab-001, lab-002, lab-003" in missed.stderr
    assert rpc_counts(state) == before_miss

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert process.stdout is not None
    assert "Lab devices stopped." in process.stdout.read()


def test_fleet_devices_keep_separate_datastores(tmp_path: Path) -> None:
    with LabFleet(3, tmp_path / "fleet") as fleet:
        applied = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory_path), "--host", "lab-002")

        assert applied.returncode == 0, applied.stderr
        assert "SendSecureEmailEEM" in fleet.devices["lab-002"].running_xml()
        assert "SendSecureEmailEEM" not in fleet.devices["lab-001"].running_xml()
        assert "SendSecureEmailEEM" not in fleet.devices["lab-003"].running_xml()
        assert fleet.devices["lab-001"].rpc_log() == []


def test_fleet_restart_keeps_keys_and_config(tmp_path: Path) -> None:
    state = tmp_path / "fleet"
    with LabFleet(2, state) as fleet:
        first_keys = [device.host_key_base64 for device in fleet.devices.values()]
        first_password = fleet.password_path.read_text(encoding="utf-8")
        applied = run_cli("apply", str(EXAMPLE), "--inventory", str(fleet.inventory_path), "--limit", "lab-001")
        assert applied.returncode == 0, applied.stderr

    with LabFleet(2, state) as fleet:
        assert [device.host_key_base64 for device in fleet.devices.values()] == first_keys
        assert len(set(first_keys)) == 2
        assert fleet.password_path.read_text(encoding="utf-8") == first_password
        assert "SendSecureEmailEEM" in fleet.devices["lab-001"].running_xml()
        planned = run_cli("plan", str(EXAMPLE), "--inventory", str(fleet.inventory_path), "--limit", "lab-001")
        assert planned.returncode == 0, planned.stderr


def free_port_range(count: int, attempts: int = 20) -> int:
    """Return a base port whose next ``count`` ports were all free a moment ago."""
    for _ in range(attempts):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        base = probe.getsockname()[1]
        probe.close()
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                taken = socket.socket()
                sockets.append(taken)
                taken.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for taken in sockets:
                taken.close()
    pytest.skip(f"found no {count} free consecutive ports on 127.0.0.1")


def test_fleet_base_port_gives_consecutive_ports(tmp_path: Path) -> None:
    base = free_port_range(3)

    with LabFleet(3, tmp_path / "fleet", base_port=base) as fleet:
        assert fleet.ports == [base, base + 1, base + 2]
        inventory = load_inventory(fleet.inventory_path)
        assert [host.port for host in inventory.hosts.values()] == [base, base + 1, base + 2]


def test_fleet_port_in_use_names_device(tmp_path: Path) -> None:
    base = free_port_range(3)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", base + 1))
    blocker.listen(1)
    try:
        with pytest.raises(OSError) as caught:
            LabFleet(3, tmp_path / "fleet", base_port=base).start()
    finally:
        blocker.close()

    assert f"lab device lab-002 cannot listen on 127.0.0.1 port {base + 1}" in str(caught.value)
    # The failed start released every lock, so the same folder serves again.
    with LabFleet(3, tmp_path / "fleet") as fleet:
        assert len(fleet.devices) == 3


def test_fleet_command_port_in_use(tmp_path: Path) -> None:
    base = free_port_range(2)
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", base))
    blocker.listen(1)
    try:
        started = run_cli("lab", "--devices", "2", "--base-port", str(base), "--state-dir", str(tmp_path / "fleet"))
    finally:
        blocker.close()

    assert started.returncode == 1
    assert f"lab device lab-001 cannot listen on 127.0.0.1 port {base}" in started.stderr
    assert "Choose another --base-port" in started.stderr


def test_fleet_state_dir_in_use(tmp_path: Path) -> None:
    with LabFleet(1, tmp_path / "fleet"), pytest.raises(StateDirInUseError):
        LabFleet(1, tmp_path / "fleet").start()


def timed_get_config(fleet: LabFleet, name: str) -> float:
    device = fleet.devices[name]
    with manager.connect(
        host=device.host, port=device.port, username=device.username, password=device.password,
        hostkey_verify=True, hostkey_b64=device.host_key_base64, look_for_keys=False, allow_agent=False,
        device_params={"name": "default"}, timeout=15,
    ) as session:
        started = time.monotonic()
        session.get_config(source="running")
        return time.monotonic() - started


def test_fleet_latency_delays_each_reply(tmp_path: Path) -> None:
    with LabFleet(2, tmp_path / "slow", latency_ms=400) as slow, LabFleet(1, tmp_path / "fast") as fast:
        slow_seconds = [timed_get_config(slow, name) for name in ("lab-001", "lab-002")]
        fast_seconds = timed_get_config(fast, "lab-001")

    for seconds in slow_seconds:
        assert seconds >= 0.4
    # The same RPC without latency is quicker, so the delay above comes from latency_ms. The bound
    # is relative because a loaded test machine can slow any RPC down.
    assert fast_seconds < min(slow_seconds)


def test_fleet_command_latency_option(tmp_path: Path) -> None:
    state = tmp_path / "fleet"
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioner", "lab", "--devices", "2", "--base-port", "0",
         "--latency-ms", "300", "--state-dir", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
    )
    try:
        assert process.stdout is not None
        assert "listening on" in process.stdout.readline()
        host = load_inventory(state / "inventory.yaml").hosts["lab-002"]
        assert host.password is not None
        key = paramiko.HostKeys(str(state / "known_hosts")).lookup(f"[127.0.0.1]:{host.port}")["ssh-ed25519"]
        with manager.connect(
            host=host.hostname, port=host.port, username=host.username, password=host.password.get_secret_value(),
            hostkey_verify=True, hostkey_b64=key.get_base64(), look_for_keys=False, allow_agent=False,
            device_params={"name": "default"}, timeout=15,
        ) as session:
            started = time.monotonic()
            session.get_config(source="running")
            elapsed = time.monotonic() - started
    finally:
        stop(process)

    assert elapsed >= 0.3
