"""The SMTP password never leaves the intent's environment variable for the device alone.

One test runs every command, success and error paths, with a known password. It then searches
stdout, stderr, every log record at DEBUG (ncclient's and paramiko's included), every exception
text and every written file (RPC log, reports, imported intent). Neither the password nor the
server string that contains it may appear.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from models.intent import load_intent
from models.inventory import Host
from provisioner.engine import apply_device, plan_device
from provisioner.errors import HostKeyError
from provisioner.lab import LabDevice
from provisioner.lab.statedir import RUNNING_FILE, STARTUP_FILE, UNMODELLED_FILE
from provisioner.transport.netconf import NetconfSession
from tests.conftest import EXAMPLE, REPO
from tests.integration.test_apply import run_cli

pytestmark = pytest.mark.integration

# The device keeps the server string in its configuration in clear text, so the lab's saved
# datastores contain it by design.
DEVICE_CONFIG_FILES = {RUNNING_FILE, STARTUP_FILE, UNMODELLED_FILE}
LOGS = REPO / "tests" / "data" / "logs"
NORMALISE = ("/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_to']/eem:value", "x@example.com")


def test_no_command_reveals_the_password(
    lab: LabDevice, lab_host: Host, tmp_path: Path, smtp_password: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("ncclient", "paramiko", "asyncssh", "provisioner"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    needles = [smtp_password, f"eem.alerts.example:{smtp_password}@smtp.gmail.com"]
    inventory = str(lab.inventory_path)
    texts: list[str] = []
    exit_codes: dict[str, int] = {}

    def cli(label: str, *args: str, password: str = smtp_password) -> None:
        completed = run_cli("-vv", *args, password=password)
        exit_codes[label] = completed.returncode
        texts.extend([completed.stdout, completed.stderr])

    out = tmp_path / "out"
    out.mkdir()
    cli("render", "render", str(EXAMPLE))
    cli("render cli", "render", str(EXAMPLE), "--format", "cli")
    cli("validate", "validate", str(EXAMPLE))
    cli("plan", "plan", str(EXAMPLE), "--inventory", inventory)
    cli("plan json", "plan", str(EXAMPLE), "--inventory", inventory, "--output", "json")
    cli("apply", "apply", str(EXAMPLE), "--inventory", inventory, "--save-config")
    cli("apply in sync", "apply", str(EXAMPLE), "--inventory", inventory)
    cli("check", "check", str(EXAMPLE), "--inventory", inventory, "--output", "json",
        "--junit", str(out / "junit.xml"), "--metrics", str(out / "metrics.prom"))
    cli("import", "import", "--inventory", inventory, "--host", "lab", "--out", str(out / "imported.yaml"))
    cli("import stdout", "import", "--inventory", inventory, "--host", "lab")
    for log in sorted(LOGS.glob("*.log")):
        cli(f"certs diagnose {log.name}", "certs", "diagnose", str(log), "--out-dir", str(out / "certs"))

    # Error paths: a password the model rejects, a mismatch with its restore, a dropped session
    # with the recovery session, a held lock, and an unknown host key.
    rejected = f"{smtp_password} @x"
    cli("validate bad password", "validate", str(EXAMPLE), password=rejected)
    cli("apply bad password", "apply", str(EXAMPLE), "--inventory", inventory, password=rejected)
    needles.append(rejected)
    changed = tmp_path / "changed.yaml"
    changed.write_text(EXAMPLE.read_text().replace("noc@example.com", "ops@example.com"))
    lab.faults.mutate_after_commit.append(NORMALISE)
    cli("apply mismatch", "apply", str(changed), "--inventory", inventory, "--sync-timeout", "5")
    lab.faults.mutate_after_commit.clear()
    lab.faults.drop_session_after("commit")
    cli("apply drop", "apply", str(changed), "--inventory", inventory, "--sync-timeout", "5")
    with NetconfSession(lab_host) as holder:
        holder.lock("running")
        cli("apply locked", "apply", str(changed), "--inventory", inventory, "--lock-timeout", "0.2")
    unknown_key = tmp_path / "unknown-key.yaml"
    unknown_key.write_text(lab.inventory_path.read_text().replace("known_hosts: known_hosts", f"known_hosts: {tmp_path / 'none'}")
                           .replace("password_file: password", f"password_file: {lab.state_dir / 'password'}"))
    cli("plan unknown key", "plan", str(EXAMPLE), "--inventory", str(unknown_key))

    # The library, in this process, where every logger writes to caplog at DEBUG.
    intent = load_intent(changed)
    plan_device(intent, lab_host)
    lab.faults.mutate_after_commit.append(NORMALISE)
    failed = apply_device(intent, lab_host, sync_timeout=5)
    lab.faults.mutate_after_commit.clear()
    lab.faults.drop_session_after("commit")
    dropped = apply_device(intent, lab_host, sync_timeout=5)
    applied = apply_device(intent, lab_host, sync_timeout=5, save_config=True)
    # ncclient hands paramiko's transport log to its own logger; the host key probe for an
    # unknown key logs under paramiko's.
    with pytest.raises(HostKeyError) as refused:
        plan_device(intent, lab_host.model_copy(update={"known_hosts": tmp_path / "none"}))
    texts.extend([str(refused.value), repr(refused.value)])
    for result in (failed, dropped, applied):
        texts.extend([str(result.error), repr(result.error), repr(result), *result.notes])
        texts.extend(f"{report.name} {report.verified_by}" for report in result.objects)
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(str(record.args) for record in caplog.records)

    files = [path for path in tmp_path.rglob("*") if path.is_file() and path.name not in DEVICE_CONFIG_FILES]
    texts.extend(path.read_text(errors="replace") for path in files)

    assert exit_codes == {
        **exit_codes,
        "render": 0, "validate": 0, "plan": 2, "apply": 0, "apply in sync": 0, "import": 0,
        "validate bad password": 1, "apply bad password": 1, "apply mismatch": 1, "apply drop": 1,
        "apply locked": 1, "plan unknown key": 1,
    }
    assert (failed.outcome, dropped.outcome, applied.outcome) == ("rolled-back", "rolled-back", "applied"), dropped.notes
    assert {"ncclient", "paramiko"} <= {record.name.split(".")[0] for record in caplog.records}
    assert lab.rpc_log_path in files and (out / "imported.yaml") in files and (out / "junit.xml") in files
    for text in texts:
        for needle in needles:
            assert needle not in text, f"found a secret in: {text[:300]}"
