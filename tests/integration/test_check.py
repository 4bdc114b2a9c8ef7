"""`provisioner check` against lab devices: drift, expiry, policy, reports and scheduler safety."""

from __future__ import annotations

import fcntl
import json
import socket
from pathlib import Path

import pytest
from cryptography import x509
from lxml import etree

from models.intent import load_intent
from models.inventory import Host
from provisioner.compliance import CheckOptions, check_device
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
from tests.certificates import make_certificate, write_pem
from tests.conftest import EXAMPLE, SMTP_PASSWORD
from tests.integration.test_apply import run_cli

pytestmark = pytest.mark.integration

READ_ONLY = {"get-config", "get", "close-session"}




def _trustpoint_intent(folder: Path, trustpoints: dict[str, str]) -> Path:
    lines = ["environment:", "  NOC_to: noc@example.com", "trustpoints:"]
    for name, certificate in trustpoints.items():
        lines += [f"  - name: {name}", f"    certificate: {certificate}"]
    path = folder / "trust.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _check(intent: Path, lab: LabDevice, *args: str, password: str | None = SMTP_PASSWORD) -> tuple[int, str, str]:
    completed = run_cli("check", str(intent), "--inventory", str(lab.inventory_path), *args, password=password)
    return completed.returncode, completed.stdout, completed.stderr


def _json(intent: Path, lab: LabDevice, *args: str) -> tuple[int, dict]:
    code, out, err = _check(intent, lab, "--output", json_flag := "json", *args)
    del json_flag
    assert code != 1, err
    return code, json.loads(out)["devices"][0]


def _codes(device: dict) -> set[str]:
    return {finding["code"] for finding in device["findings"]}


def test_compliant_device_exits_zero_read_only(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    assert apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10).error is None
    count = len(lab.rpc_log())

    code, out, err = _check(EXAMPLE, lab)

    assert code == 0, out + err
    assert "policy" in out
    assert {record["operation"] for record in lab.rpc_log()[count:]} <= READ_ONLY


def test_fresh_device_drift_never_edited(lab: LabDevice) -> None:
    code, device = _json(EXAMPLE, lab)

    assert code == 2
    assert device["checks"]["drift"] == "failed"
    assert "drift-add" in _codes(device)
    assert {record["operation"] for record in lab.rpc_log()} <= READ_ONLY


def test_drift_items_and_masking(lab: LabDevice, lab_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    older = tmp_path / "older.yaml"
    older.write_text(EXAMPLE.read_text(encoding="utf-8").replace("noc@example.com", "old@example.com"), encoding="utf-8")
    monkeypatch.setenv("SMTP_PASSWORD", "0ldPassw0rdOnDevice")
    assert apply_device(load_intent(older), lab_host, sync_timeout=10).error is None

    code, out, err = _check(EXAMPLE, lab, "--output", "json")
    device = json.loads(out)["devices"][0]
    changed = {change["name"] for change in device["diff"]["changes"]}

    assert code == 2, err
    assert changed == {"_email_to", "_email_server"}
    assert SMTP_PASSWORD not in out
    assert "0ldPassw0rdOnDevice" not in out


def test_missing_password_compares_visible_parts(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    assert apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10).error is None

    code, out, err = _check(EXAMPLE, lab, password=None)

    assert code == 0, out + err
    assert "SMTP_PASSWORD is not set" in err


@pytest.mark.parametrize(("days", "status", "code"), [(400, "ok", None), (60, "warning", "certificate-expiring"),
                                                       (10, "failed", "certificate-expiring")])
def test_certificate_expiry_windows(lab: LabDevice, lab_host: Host, tmp_path: Path, days: int, status: str,
                                    code: str | None) -> None:
    root, _ = make_certificate("Example Root CA", days)
    write_pem(tmp_path / "root.pem", root)
    intent = _trustpoint_intent(tmp_path, {"CA-Example-Root": "root.pem"})
    assert apply_device(load_intent(intent), lab_host, sync_timeout=10).error is None

    exit_code, device = _json(intent, lab)

    assert exit_code == (0 if status == "ok" else 2)
    assert device["checks"]["certificate-expiry"] == status
    assert device["certificates"][0]["source"] == "pki-oper"
    assert device["certificates"][0]["days_left"] in (days - 1, days)
    if code:
        assert code in _codes(device)


def test_expiry_windows_configurable(lab: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    root, _ = make_certificate("Example Root CA", 60)
    intent = _trustpoint_intent(tmp_path, {"CA-Example-Root": write_pem(tmp_path / "root.pem", root).name})
    assert apply_device(load_intent(intent), lab_host, sync_timeout=10).error is None

    code, device = _json(intent, lab, "--warn-days", "30", "--fail-days", "7")

    assert code == 0
    assert device["checks"]["certificate-expiry"] == "ok"


def test_bad_windows_rejected(lab: LabDevice) -> None:
    code, _, err = _check(EXAMPLE, lab, "--warn-days", "10", "--fail-days", "30")

    assert code == 1
    assert "expiry windows are inconsistent" in err
    assert lab.rpc_log() == []


def test_policy_findings_from_device_values(lab: LabDevice, lab_host: Host, tmp_path: Path, smtp_password: str) -> None:
    assert apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10).error is None
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "environment:\n"
        "  _email_server: 'alerts@corp.example:pw@relay.example.com'\n",
        encoding="utf-8",
    )
    assert apply_device(load_intent(seed), lab_host, sync_timeout=10).error is None

    code, device = _json(EXAMPLE, lab)

    assert code == 2
    assert "at-sign-in-account" in _codes(device)
    assert "pw@relay" not in json.dumps(device)


def test_policy_from_not_account_and_undefined(lab: LabDevice, lab_host: Host, tmp_path: Path, smtp_password: str) -> None:
    assert apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10).error is None
    seed = tmp_path / "seed.yaml"
    seed.write_text("environment:\n  _email_from: someone.else@gmail.com\n", encoding="utf-8")
    assert apply_device(load_intent(seed), lab_host, sync_timeout=10).error is None
    intent = tmp_path / "intent.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace('          to: "$_email_to"\n', '          to: "$_email_to"\n          cc: "$_email_cc"\n')
    intent.write_text(text + "provided_variables: [_email_cc]\n", encoding="utf-8")

    code, device = _json(intent, lab)

    assert code == 2
    assert {"from-not-account", "undefined-variable"} <= _codes(device)
    undefined = [finding["message"] for finding in device["findings"] if finding["code"] == "undefined-variable"]
    assert len(undefined) == 1, undefined
    assert "$_email_cc" in undefined[0]
    assert "lists under provided_variables but the device does not define" in undefined[0]


def test_policy_variable_in_intent_missing_on_device(lab: LabDevice, lab_host: Host, tmp_path: Path,
                                                     smtp_password: str) -> None:
    assert apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10).error is None
    intent = tmp_path / "intent.yaml"
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("  _email_to: noc@example.com\n", "  _email_to: noc@example.com\n  _email_cc: oncall@example.com\n")
    text = text.replace('          to: "$_email_to"\n', '          to: "$_email_to"\n          cc: "$_email_cc"\n')
    intent.write_text(text, encoding="utf-8")

    code, device = _json(intent, lab)

    assert code == 2
    undefined = [finding["message"] for finding in device["findings"] if finding["code"] == "undefined-variable"]
    assert len(undefined) == 1, undefined
    assert undefined[0].endswith("uses $_email_cc, which the intent defines but the device lacks; run apply.")
    assert "add it under environment" not in undefined[0]


def test_policy_skips_variables_of_missing_applet(lab: LabDevice) -> None:
    code, device = _json(EXAMPLE, lab)

    assert code == 2
    assert "drift-add" in _codes(device)
    assert "undefined-variable" not in _codes(device)
    assert "event manager applet SendSecureEmailEEM is missing on the device; run apply." in [
        finding["message"] for finding in device["findings"]
    ]


def test_policy_plain_port_and_tls(lab: LabDevice, lab_host: Host, tmp_path: Path, smtp_password: str) -> None:
    intent = tmp_path / "intent.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace("port: 587", "port: 25").replace("secure: tls", "secure: none")
    intent.write_text(text, encoding="utf-8")
    assert apply_device(load_intent(intent), lab_host, sync_timeout=10).error is None

    code, device = _json(intent, lab)

    assert code == 2
    assert {"mail-without-tls", "credentials-not-on-587"} <= _codes(device)
    assert device["checks"]["drift"] == "ok"


def _chain(tmp_path: Path) -> tuple[Path, x509.Certificate]:
    root = make_certificate("Example Root CA", 3650)
    leaf, _ = make_certificate("smtp.example.com", 90, root, ca=False)
    return write_pem(tmp_path / "chain.pem", leaf, root[0]), root[0]


def test_chain_anchored_by_trustpoint(lab: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    chain, root = _chain(tmp_path)
    write_pem(tmp_path / "root.pem", root)
    intent = _trustpoint_intent(tmp_path, {"CA-Example-Root": "root.pem"})
    assert apply_device(load_intent(intent), lab_host, sync_timeout=10).error is None

    code, device = _json(intent, lab, "--chain", str(chain))

    assert code == 0, device
    assert "no-trustpoint-for-anchor" not in _codes(device)


def test_chain_without_anchor_is_finding(lab: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    chain, _ = _chain(tmp_path)
    other, _ = make_certificate("Other Root CA", 3650)
    write_pem(tmp_path / "other.pem", other)
    intent = _trustpoint_intent(tmp_path, {"CA-Other-Root": "other.pem"})
    assert apply_device(load_intent(intent), lab_host, sync_timeout=10).error is None

    code, device = _json(intent, lab, "--chain", str(chain))

    assert code == 2
    assert "no-trustpoint-for-anchor" in _codes(device)
    assert device["checks"]["policy"] == "failed"


def test_junit_and_metrics_files(lab: LabDevice, lab_host: Host, tmp_path: Path) -> None:
    root, _ = make_certificate("Example Root CA", 60)
    intent = _trustpoint_intent(tmp_path, {"CA-Example-Root": write_pem(tmp_path / "root.pem", root).name})
    assert apply_device(load_intent(intent), lab_host, sync_timeout=10).error is None
    junit, metrics = tmp_path / "report.xml", tmp_path / "check.prom"

    code, _, err = _check(intent, lab, "--junit", str(junit), "--metrics", str(metrics))
    cases = etree.parse(str(junit)).getroot().xpath("//testcase")
    text = metrics.read_text(encoding="utf-8")

    assert code == 2, err
    assert [(case.get("classname"), case.get("name")) for case in cases] == [
        ("lab", "drift"), ("lab", "certificate-expiry"), ("lab", "policy")
    ]
    assert cases[1].xpath("failure/@type") == ["warning"]
    assert 'provisioner_check_drift{device="lab"} 0' in text
    assert 'provisioner_check_up{device="lab"} 1' in text
    serial = f"{root.serial_number:X}"
    assert any(
        line.startswith(f'provisioner_certificate_expiry_days{{device="lab",trustpoint="CA-Example-Root",serial="{serial}"}} ')
        for line in text.splitlines()
    )
    assert "# TYPE provisioner_certificate_expiry_days gauge" in text


@pytest.mark.parametrize("option", ["--junit", "--metrics"])
def test_report_folder_missing_sends_nothing(lab: LabDevice, tmp_path: Path, option: str) -> None:
    target = tmp_path / "missing" / "report.out"

    code, out, err = _check(EXAMPLE, lab, option, str(target))

    assert code == 1, out + err
    assert err.startswith(f"error: {option} {target}: the folder {target.parent} does not exist"), err
    assert ".tmp" not in err
    assert lab.rpc_log() == []


def test_report_folder_not_writable_sends_nothing(lab: LabDevice, tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root may write into any folder, so a read-only folder cannot be tested")
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o500)
    target = folder / "check.prom"

    code, out, err = _check(EXAMPLE, lab, "--metrics", str(target))

    assert code == 1, out + err
    assert f"--metrics {target}: the folder {folder} is not writable" in err
    assert lab.rpc_log() == []


def test_report_folder_is_a_file(lab: LabDevice, tmp_path: Path) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("", encoding="utf-8")
    target = blocker / "check.xml"

    code, out, err = _check(EXAMPLE, lab, "--junit", str(target))

    assert code == 1, out + err
    assert f"--junit {target}: {blocker} is not a folder" in err
    assert lab.rpc_log() == []


def test_lock_file_stops_overlapping_run(lab: LabDevice, tmp_path: Path) -> None:
    lock = tmp_path / "check.lock"
    with lock.open("w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        code, _, err = _check(EXAMPLE, lab, "--lock-file", str(lock))

    assert code == 1
    assert "another check run (pid 4242)" in err
    assert lab.rpc_log() == []


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_slow_and_dead_devices_do_not_stop_others(tmp_path: Path, smtp_password: str) -> None:
    from models.inventory import load_inventory
    from provisioner.compliance import check_devices

    with LabDevice(tmp_path / "good", port=0, name="good") as good, \
            LabDevice(tmp_path / "slow", port=0, name="slow", latency_ms=5000) as slow:
        good_host = load_inventory(good.inventory_path).hosts["good"]
        slow_host = load_inventory(slow.inventory_path).hosts["slow"]
        dead_port = _closed_port()
        known = tmp_path / "dead_known_hosts"
        key = good.known_hosts_path.read_text(encoding="utf-8").split()[1:3]
        known.write_text(f"[127.0.0.1]:{dead_port} {' '.join(key)}\n", encoding="utf-8")
        dead_host = good_host.model_copy(update={"name": "dead", "port": dead_port, "known_hosts": known})
        assert apply_device(load_intent(EXAMPLE), good_host, sync_timeout=10).error is None

        results = check_devices(load_intent(EXAMPLE), [slow_host, dead_host, good_host], CheckOptions(),
                                timeout=1.5, workers=1)

    by_name = {result.device: result for result in results}
    assert [result.device for result in results] == ["slow", "dead", "good"]
    assert by_name["good"].error is None
    assert by_name["good"].findings == []
    assert by_name["slow"].error is not None and "timed out" in by_name["slow"].error
    assert by_name["dead"].error is not None


def test_check_device_library_returns_result(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    result = check_device(load_intent(EXAMPLE), lab_host, timeout=10)

    assert result.error is None
    assert result.drifted
    assert result.status("drift") == "failed"


def _stopped_lab_inventory(folder: Path) -> Path:
    """Start and stop a lab device in ``folder`` and return the inventory it left behind."""
    with LabDevice(state_dir=folder, port=0, release="17.12") as device:
        inventory = device.inventory_path
    return inventory


def test_stopped_lab_inventory_hints_start(tmp_path: Path) -> None:
    inventory = _stopped_lab_inventory(tmp_path / "lab-state")

    checked = run_cli("check", str(EXAMPLE), "-i", str(inventory), "--lock-file", str(tmp_path / "check.lock"))
    planned = run_cli("plan", str(EXAMPLE), "-i", str(inventory))

    for completed in (checked, planned):
        assert completed.returncode == 1, completed.stderr
        assert "Connection refused" in completed.stdout + completed.stderr
        assert f"start it with `provisioner lab --state-dir {tmp_path / 'lab-state'}`" in completed.stderr


def test_refused_plain_inventory_no_lab_hint(tmp_path: Path) -> None:
    lab_inventory = _stopped_lab_inventory(tmp_path / "lab-state")
    inventory = tmp_path / "inventory.yaml"
    lines = lab_inventory.read_text(encoding="utf-8").splitlines(keepends=True)
    text = "".join(line for line in lines if not line.startswith("#"))
    inventory.write_text(text.replace("password_file: password", f"password_file: {tmp_path / 'lab-state' / 'password'}")
                         .replace("known_hosts: known_hosts", f"known_hosts: {tmp_path / 'lab-state' / 'known_hosts'}"),
                         encoding="utf-8")

    completed = run_cli("check", str(EXAMPLE), "-i", str(inventory), "--lock-file", str(tmp_path / "check.lock"))

    assert completed.returncode == 1, completed.stderr
    assert "Connection refused" in completed.stdout + completed.stderr
    assert "provisioner lab" not in completed.stderr
