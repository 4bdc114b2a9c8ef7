"""The same plan, apply and check behaviour over NETCONF and RESTCONF, and RESTCONF's own cases:
TLS verification, authentication, RFC 8040 errors and one datastore behind both protocols."""

from __future__ import annotations

import json
import logging
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
from lxml import etree

from models.intent import load_intent
from models.inventory import Host, load_inventory
from payloads import namespaces as ns
from provisioner.engine import apply_device, plan_device
from provisioner.errors import DeviceRefusedError, DeviceUnreachableError
from provisioner.lab import LabDevice
from provisioner.lab.statedir import RUNNING_FILE, STARTUP_FILE, UNMODELLED_FILE
from provisioner.transport import open_session
from provisioner.transport.restconf import RestconfSession
from tests.conftest import EXAMPLE, REPO, SMTP_PASSWORD
from tests.integration.test_apply import run_cli

pytestmark = pytest.mark.integration

P = ns.XPATH_PREFIXES
WRITES = {"edit-config", "config-ios-cli-rpc", "commit"}
READ_ONLY = {"get-config", "get", "is-syncing", "close-session"}
SERVER_STRING = f"eem.alerts.example:{SMTP_PASSWORD}@smtp.gmail.com"
NORMALISE = ("/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_to']/eem:value", "x@example.com")
CAPABILITIES = "/restconf/data/ietf-restconf-monitoring:restconf-state/capabilities"
MANAGER = "/restconf/data/Cisco-IOS-XE-native:native/event/Cisco-IOS-XE-eem:manager"


@pytest.fixture(params=["netconf", "restconf"])
def device(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LabDevice]:
    """A lab device whose inventory names it over the transport of the test's parameter."""
    with LabDevice(state_dir=tmp_path / "lab", release="17.12", restconf=request.param == "restconf") as lab:
        yield lab


@pytest.fixture
def restconf_lab(tmp_path: Path) -> Iterator[LabDevice]:
    """A lab device serving both NETCONF and RESTCONF; its inventory names RESTCONF."""
    with LabDevice(state_dir=tmp_path / "lab", release="17.12", restconf=True) as lab:
        yield lab


def _host(lab: LabDevice, **changes: object) -> Host:
    host = load_inventory(lab.inventory_path).hosts["lab"]
    return host.model_copy(update=changes)


def _netconf_host(lab: LabDevice) -> Host:
    return _host(lab, transport="netconf", port=lab.port, known_hosts=lab.known_hosts_path, ca_bundle=None)


def _environment(lab: LabDevice, name: str) -> list[str]:
    config = etree.fromstring(lab.running_xml().encode())
    return config.xpath(f"//eem:environment[eem:name='{name}']/eem:value/text()", namespaces=P)


def _operations(lab: LabDevice, start: int = 0) -> list[str]:
    return [record["operation"] for record in lab.rpc_log()[start:]]


def _client(lab: LabDevice, password: str | None = None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(lab.restconf_ca_path))
    return httpx.Client(
        base_url=f"https://127.0.0.1:{lab.restconf_port}", verify=context,
        auth=(lab.username, password if password is not None else lab.password),
        headers={"Accept": "application/yang-data+json"},
    )


# The same behaviour over both transports


def test_plan_fresh_device_lists_changes(device: LabDevice) -> None:
    completed = run_cli("plan", str(EXAMPLE), "--inventory", str(device.inventory_path))

    assert completed.returncode == 2, completed.stderr
    assert "event manager environment _email_to noc@example.com" in completed.stdout
    assert SMTP_PASSWORD not in completed.stdout + completed.stderr
    assert set(_operations(device)) <= READ_ONLY


def test_apply_fresh_then_again_sends_no_write(device: LabDevice) -> None:
    first = run_cli("apply", str(EXAMPLE), "--inventory", str(device.inventory_path))

    assert first.returncode == 0, first.stderr
    assert _environment(device, "_email_server") == [SERVER_STRING]
    assert "mail server" in str(device.unmodelled())
    assert "verified by get-config" in first.stdout
    count = len(device.rpc_log())

    second = run_cli("apply", str(EXAMPLE), "--inventory", str(device.inventory_path))
    plan = run_cli("plan", str(EXAMPLE), "--inventory", str(device.inventory_path))

    assert second.returncode == 0, second.stderr
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert not WRITES & set(_operations(device, count))


def test_mismatch_rolls_back(device: LabDevice) -> None:
    device.faults.mutate_after_commit.append(NORMALISE)

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(device.inventory_path))

    assert completed.returncode == 1
    assert "rolled back" in completed.stderr
    assert _environment(device, "_email_to") == []
    assert _environment(device, "_email_server") == []
    assert device.unmodelled()["applet_actions"] == {}


def test_check_reads_only(device: LabDevice) -> None:
    assert run_cli("apply", str(EXAMPLE), "--inventory", str(device.inventory_path)).returncode == 0
    count = len(device.rpc_log())

    completed = run_cli("check", str(EXAMPLE), "--inventory", str(device.inventory_path))

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert set(_operations(device, count)) <= READ_ONLY


# RESTCONF specifics


def test_restconf_apply_writes_running_without_locks(restconf_lab: LabDevice, smtp_password: str) -> None:
    result = apply_device(load_intent(EXAMPLE), _host(restconf_lab), sync_timeout=10)

    assert result.error is None
    assert result.outcome == "applied"
    assert result.datastore == "running"
    records = restconf_lab.rpc_log()
    assert all(record.get("transport") == "restconf" for record in records)
    assert not {"lock", "unlock", "commit"} & {record["operation"] for record in records}
    methods = {record["request"].split()[0] for record in records if record["operation"] == "edit-config"}
    assert methods == {"PUT"}


def test_one_datastore_behind_both_protocols(restconf_lab: LabDevice, smtp_password: str) -> None:
    intent = load_intent(EXAMPLE)
    assert apply_device(intent, _host(restconf_lab), sync_timeout=10).error is None

    # NETCONF reads what RESTCONF wrote.
    assert plan_device(intent, _netconf_host(restconf_lab)).in_sync

    # RESTCONF reads what NETCONF changed.
    with open_session(_netconf_host(restconf_lab)) as session:
        config = etree.fromstring(
            f'<config xmlns="{ns.NETCONF_BASE}"><native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}">'
            "<environment><name>_email_to</name><value>other@example.com</value></environment>"
            "</manager></event></native></config>"
        )
        session.edit_config("running", config)
    plan = plan_device(intent, _host(restconf_lab))
    assert not plan.in_sync
    assert [str(change.key) for change in plan.modelled_changes] == ["event manager environment _email_to"]


def test_netconf_lock_blocks_restconf_write(restconf_lab: LabDevice, smtp_password: str) -> None:
    with open_session(_netconf_host(restconf_lab)) as session:
        session.lock("running")
        result = apply_device(load_intent(EXAMPLE), _host(restconf_lab), sync_timeout=10)

    assert isinstance(result.error, DeviceRefusedError)
    assert "in-use" in str(result.error)
    assert _environment(restconf_lab, "_email_to") == []


def test_wrong_ca_bundle_fails_verification(restconf_lab: LabDevice, tmp_path: Path) -> None:
    other_ca = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other_ca))
    inventory = tmp_path / "inventory.yaml"
    text = restconf_lab.inventory_path.read_text(encoding="utf-8")
    inventory.write_text(text.replace("ca_bundle: restconf-ca.pem", f"ca_bundle: {other_ca}"), encoding="utf-8")
    shutil.copy(restconf_lab.state_dir / "password", tmp_path / "password")

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(inventory))

    assert completed.returncode == 1
    assert "failed verification" in completed.stderr
    assert "ca_bundle" in completed.stderr
    assert str(other_ca) in completed.stderr
    assert restconf_lab.rpc_log() == []
    assert _environment(restconf_lab, "_email_to") == []


def test_missing_ca_bundle_uses_system_store(restconf_lab: LabDevice, tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    text = restconf_lab.inventory_path.read_text(encoding="utf-8")
    inventory.write_text(text.replace("    ca_bundle: restconf-ca.pem\n", ""), encoding="utf-8")
    shutil.copy(restconf_lab.state_dir / "password", tmp_path / "password")

    completed = run_cli("plan", str(EXAMPLE), "--inventory", str(inventory))

    assert completed.returncode == 1
    assert "failed verification" in completed.stderr
    assert "system's trust store" in completed.stderr
    assert "set ca_bundle" in completed.stderr.lower()
    assert restconf_lab.rpc_log() == []


def test_unreadable_ca_bundle_is_named(restconf_lab: LabDevice, tmp_path: Path) -> None:
    host = _host(restconf_lab, ca_bundle=tmp_path / "nope.pem")

    with pytest.raises(DeviceUnreachableError, match="cannot read ca_bundle .*nope.pem"):
        RestconfSession(host).connect()


def test_wrong_password_is_a_clear_error(restconf_lab: LabDevice, tmp_path: Path) -> None:
    (tmp_path / "password").write_text("not-the-password\n", encoding="utf-8")
    inventory = tmp_path / "inventory.yaml"
    text = restconf_lab.inventory_path.read_text(encoding="utf-8")
    inventory.write_text(text.replace("ca_bundle: restconf-ca.pem", f"ca_bundle: {restconf_lab.restconf_ca_path}"),
                         encoding="utf-8")

    completed = run_cli("apply", str(EXAMPLE), "--inventory", str(inventory))

    assert completed.returncode == 1
    assert "RESTCONF authentication failed for admin@https://127.0.0.1" in completed.stderr
    assert "check the username and password" in completed.stderr
    assert "not-the-password" not in completed.stdout + completed.stderr
    assert _environment(restconf_lab, "_email_to") == []


def test_errors_use_rfc8040_form(restconf_lab: LabDevice) -> None:
    with _client(restconf_lab) as client, _client(restconf_lab, password="wrong") as stranger:
        missing = client.get(f"{MANAGER}/applet=absent", params={"content": "config"})
        unknown = client.patch(
            "/restconf/data/Cisco-IOS-XE-native:native",
            content=json.dumps({"Cisco-IOS-XE-native:native": {"hostname-x": "r1"}}),
            headers={"Content-Type": "application/yang-data+json"},
        )
        unauthenticated = stranger.get(CAPABILITIES)

    assert missing.status_code == 404
    assert missing.json()["ietf-restconf:errors"]["error"][0]["error-tag"] == "invalid-value"
    assert unknown.status_code == 400
    error = unknown.json()["ietf-restconf:errors"]["error"][0]
    assert error["error-tag"] == "unknown-element"
    assert "hostname-x" in error["error-path"]
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["WWW-Authenticate"].startswith("Basic")


def test_refused_edit_raises_device_refused(restconf_lab: LabDevice) -> None:
    restconf_lab.faults.fail_operations["edit-config"] = "operation-failed"
    config = etree.fromstring(
        f'<config xmlns="{ns.NETCONF_BASE}"><native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}">'
        "<environment><name>A</name><value>1</value></environment></manager></event></native></config>"
    )

    with RestconfSession(_host(restconf_lab)) as session, pytest.raises(DeviceRefusedError) as raised:
        session.edit_config("running", config)

    assert raised.value.errors[0].error_tag == "operation-failed"
    assert raised.value.errors[0].error_type == "application"
    assert "fault injected" in (raised.value.errors[0].message or "")


def test_session_has_no_candidate(restconf_lab: LabDevice) -> None:
    with RestconfSession(_host(restconf_lab)) as session:
        capabilities = session.capabilities
        session.lock("running")
        session.unlock("running")
        with pytest.raises(DeviceRefusedError, match="operation-not-supported"):
            session.commit()

    assert "urn:ietf:params:netconf:capability:candidate:1.0" not in capabilities
    assert "urn:ietf:params:restconf:capability:depth:1.0" in capabilities
    assert restconf_lab.locks() == {}


def test_secret_stays_out_of_output_and_logs(
    restconf_lab: LabDevice, tmp_path: Path, smtp_password: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "aiohttp", "provisioner"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    inventory = str(restconf_lab.inventory_path)
    texts: list[str] = []
    for args in (
        ("plan", str(EXAMPLE), "--inventory", inventory, "--output", "json"),
        ("apply", str(EXAMPLE), "--inventory", inventory),
        ("check", str(EXAMPLE), "--inventory", inventory, "--output", "json"),
    ):
        completed = run_cli("-vv", *args)
        texts += [completed.stdout, completed.stderr]
    restconf_lab.faults.mutate_after_commit.append(NORMALISE)
    host = _host(restconf_lab)
    intent = load_intent(EXAMPLE)
    intent = intent.model_copy(update={"environment": {**intent.environment, "_email_to": "changed@example.com"}})
    result = apply_device(intent, host, sync_timeout=10)
    texts += [str(result.error), *result.notes]
    texts += [record.getMessage() for record in caplog.records]
    saved = [path.read_text(encoding="utf-8", errors="replace") for path in restconf_lab.state_dir.iterdir()
             if path.is_file() and path.name not in {RUNNING_FILE, STARTUP_FILE, UNMODELLED_FILE}]

    assert result.error is not None
    assert any("HTTP Request" in record.getMessage() for record in caplog.records)
    for text in texts + saved:
        assert smtp_password not in text
        assert SERVER_STRING not in text


def test_lab_command_serves_restconf(tmp_path: Path) -> None:
    state = tmp_path / "lab-state"
    command = [sys.executable, "-m", "provisioner", "lab", "--port", "0", "--restconf", "--restconf-port", "0",
               "--state-dir", str(state)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert "listening on" in line, process.stderr.read() if process.stderr else ""
            host = load_inventory(state / "inventory.yaml").hosts["lab"]

            completed = run_cli("plan", str(EXAMPLE), "--inventory", str(state / "inventory.yaml"))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)

    assert host.transport == "restconf"
    assert host.ca_bundle == state / "restconf-ca.pem"
    assert completed.returncode == 2, completed.stderr
    assert process.returncode == 0
    records = [json.loads(line) for line in (state / "rpc-log.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {record.get("transport") for record in records} == {"restconf"}


def test_lab_command_rejects_restconf_fleet(tmp_path: Path) -> None:
    completed = run_cli("lab", "--devices", "2", "--restconf", "--state-dir", str(tmp_path / "fleet"))

    assert completed.returncode == 1
    assert "--restconf serves a single device" in completed.stderr


def test_partly_applied_edit_is_restored(restconf_lab: LabDevice, smtp_password: str) -> None:
    # The third PUT of the edit fails; RESTCONF keeps the two before it, so apply must restore.
    original = restconf_lab.running_xml()
    calls = {"count": 0}
    session_class_send = RestconfSession._send

    def failing_send(self, operation, method, url, **kwargs):  # type: ignore[no-untyped-def]
        if method == "PUT":
            calls["count"] += 1
            if calls["count"] == 3:
                restconf_lab.faults.fail_operations["edit-config"] = "operation-failed"
        try:
            return session_class_send(self, operation, method, url, **kwargs)
        finally:
            restconf_lab.faults.fail_operations.pop("edit-config", None)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(RestconfSession, "_send", failing_send)
        result = apply_device(load_intent(EXAMPLE), _host(restconf_lab), sync_timeout=10)

    assert isinstance(result.error, DeviceRefusedError)
    assert "2 of the 7 requests of this edit were applied" in str(result.error)
    assert result.outcome == "rolled-back", result.notes
    assert _environment(restconf_lab, "_email_from") == []
    assert _environment(restconf_lab, "_email_to") == []
    assert etree.tostring(etree.fromstring(restconf_lab.running_xml().encode()), method="c14n") == \
        etree.tostring(etree.fromstring(original.encode()), method="c14n")
