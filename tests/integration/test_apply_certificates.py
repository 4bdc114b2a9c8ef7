"""CA certificates in trustpoints: pushed through config-ios-cli-rpc, verified in pki-oper, and
removed again when a failed apply is rolled back."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from ncclient import manager

from models.certificate import ios_serial
from models.errors import IntentError
from models.intent import load_intent
from models.inventory import Host, load_inventory
from payloads import namespaces as ns
from provisioner.cli import main
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
from provisioner.transport.base import Session
from provisioner.transport.netconf import NetconfSession
from tests.certificates import make_certificate, write_pem

pytestmark = pytest.mark.integration


def write_certificate(path: Path, *, ca: bool, days: int = 3650) -> x509.Certificate:
    certificate, _ = make_certificate("Example Root CA" if ca else "smtp.example.com", days, ca=ca)
    write_pem(path, certificate)
    return certificate


def write_intent(folder: Path, certificate: str) -> Path:
    intent = folder / "intent.yaml"
    intent.write_text(
        "environment:\n  _email_to: noc@example.com\n"
        "trustpoints:\n  - name: CA-Example-Root\n    certificate: " + certificate + "\n"
    )
    return intent


def test_certificate_pushed_and_verified(tmp_path: Path, lab: LabDevice, lab_host: Host) -> None:
    certificate = write_certificate(tmp_path / "root.pem", ca=True)
    intent = load_intent(write_intent(tmp_path, "root.pem"))

    first = apply_device(intent, lab_host, sync_timeout=10)
    count = len(lab.rpc_log())
    second = apply_device(intent, lab_host, sync_timeout=10)

    assert first.error is None, first.error
    stored = lab.unmodelled()["certificates"]["CA-Example-Root"]
    assert [bytes.fromhex(body) for body in stored.values()] == [certificate.public_bytes(serialization.Encoding.DER)]
    reports = {report.name: report.verified_by for report in first.objects}
    assert reports["crypto pki certificate chain CA-Example-Root (CA certificate)"] == (
        "pki-oper (serial number and MD5 fingerprint)"
    )
    assert second.error is None and not second.changed
    operations = [record["operation"] for record in lab.rpc_log()[count:]]
    assert "config-ios-cli-rpc" not in operations
    assert "edit-config" not in operations


def test_leaf_certificate_is_rejected(tmp_path: Path) -> None:
    write_certificate(tmp_path / "leaf.pem", ca=False)

    with pytest.raises(IntentError, match=r"intent.yaml:5: trustpoints\[0\]\.certificate: .*leaf.pem"):
        load_intent(write_intent(tmp_path, "leaf.pem"))


def test_expiring_certificate_warns(tmp_path: Path) -> None:
    write_certificate(tmp_path / "short.pem", ca=True, days=20)

    intent = load_intent(write_intent(tmp_path, "short.pem"))

    assert len(intent.warnings) == 1
    assert intent.warnings[0].line == 5
    assert intent.warnings[0].severity == "warning"


# Restore after a failed apply: the device must hold the certificates it held before.

# A variable only the new intent creates. Normalising it makes verification fail after the
# cli-rpc, and the restore deletes it, so the mutation cannot touch the restored state.
MUTATED = "/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_cc']/eem:value"
MODES = ["candidate", "running"]


def make_lab(state_dir: Path, mode: str) -> LabDevice:
    return LabDevice(state_dir=state_dir, port=0, release="17.12", candidate=mode == "candidate", sync_seconds=0.05)


def write_trustpoints(path: Path, trustpoints: dict[str, str | None], *, cc: bool = False) -> Path:
    """Write an intent with one variable (two with ``cc``) and trustpoints name -> certificate file or None."""
    text = "environment:\n  _email_to: noc@example.com\n"
    if cc:
        text += "  _email_cc: oncall@example.com\n"
    text += "trustpoints:\n"
    for name, certificate in trustpoints.items():
        text += f"  - name: {name}\n    enrollment: terminal\n"
        if certificate is not None:
            text += f"    certificate: {certificate}\n"
    path.write_text(text)
    return path


def pki_oper_serials(lab: LabDevice, trustpoint: str) -> list[int]:
    """Read the serials pki-oper lists under ``trustpoint`` with a NETCONF <get> of our own."""
    with manager.connect(
        host=lab.host, port=lab.port, username=lab.username, password=lab.password, hostkey_verify=True,
        hostkey_b64=lab.host_key_base64, look_for_keys=False, allow_agent=False, device_params={"name": "default"},
        timeout=15,
    ) as session:
        reply = session.get(filter=("subtree", (
            f'<crypto-pki-oper-data xmlns="{ns.PKI_OPER}"><crypto-pki-bundle><label>{trustpoint}</label>'
            "</crypto-pki-bundle></crypto-pki-oper-data>"
        )))
    root = etree.fromstring(reply.xml.encode())
    return [int(text, 16) for text in root.xpath("//o:cert/o:serial-number/text()", namespaces={"o": ns.PKI_OPER})]


def wait_until_no_sessions(lab: LabDevice) -> None:
    """Wait, for at most 30 s, until the lab has ended every session (it notices a drop in its own thread)."""
    deadline = time.monotonic() + 30
    while lab.session_ids():
        assert time.monotonic() < deadline, f"sessions still open: {lab.session_ids()}"
        time.sleep(0.02)


def cli_rpc_count(lab: LabDevice) -> int:
    return [record["operation"] for record in lab.rpc_log()].count("config-ios-cli-rpc")


def _mutate(lab: LabDevice) -> None:
    lab.faults.mutate_after_commit.append((MUTATED, "someone-else@example.com"))


def _drop_after_cli_rpc(lab: LabDevice) -> None:
    lab.faults.drop_session_after("config-ios-cli-rpc")


FAULTS = {"verification fails": _mutate, "session drops after cli-rpc": _drop_after_cli_rpc}


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("mode", MODES)
def test_restore_removes_new_certificate(tmp_path: Path, mode: str, fault: str) -> None:
    certificate = write_certificate(tmp_path / "root.pem", ca=True)
    old = write_trustpoints(tmp_path / "old.yaml", {"CA-Example-Root": None})
    new = write_trustpoints(tmp_path / "new.yaml", {"CA-Example-Root": "root.pem"}, cc=True)
    with make_lab(tmp_path / "lab", mode) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        assert apply_device(load_intent(old), host, sync_timeout=5).outcome == "applied"
        running_before, candidate_before = lab.running_xml(), lab.candidate_xml()
        assert pki_oper_serials(lab, "CA-Example-Root") == []

        FAULTS[fault](lab)
        completed = CliRunner().invoke(main, [
            "apply", str(new), "--inventory", str(lab.inventory_path), "--sync-timeout", "5", "--timeout", "5",
        ])
        wait_until_no_sessions(lab)

        assert completed.exit_code == 1, completed.output
        assert "configuration rolled back to its state before apply" in completed.output
        assert pki_oper_serials(lab, "CA-Example-Root") == []
        assert lab.unmodelled()["certificates"] == {}
        assert lab.running_xml() == running_before
        assert lab.candidate_xml() == candidate_before
        # The push and the removal.
        assert cli_rpc_count(lab) == 2
        removed = (
            f"removed CA certificate {ios_serial(certificate.serial_number)}, which the apply installed, from the "
            "existing trustpoint CA-Example-Root with config-ios-cli-rpc (no certificate ca); verified with pki-oper "
            "that it is gone"
        )
        assert removed in " ".join(completed.output.split()), completed.output


@pytest.mark.parametrize("mode", MODES)
def test_restore_keeps_certificate_held_before(tmp_path: Path, mode: str) -> None:
    kept = write_certificate(tmp_path / "root.pem", ca=True)
    created = write_certificate(tmp_path / "other.pem", ca=True)
    old = write_trustpoints(tmp_path / "old.yaml", {"CA-Example-Root": "root.pem"})
    # The new trustpoint changes the cli-rpc lines, so the apply sends the kept certificate again.
    new = write_trustpoints(tmp_path / "new.yaml", {"CA-Example-Root": "root.pem", "CA-New": "other.pem"}, cc=True)
    with make_lab(tmp_path / "lab", mode) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        assert apply_device(load_intent(old), host, sync_timeout=5).outcome == "applied"
        certificates_before = lab.unmodelled()["certificates"]
        assert pki_oper_serials(lab, "CA-Example-Root") == [kept.serial_number]

        _mutate(lab)
        result = apply_device(load_intent(new), host, sync_timeout=5)

        assert result.outcome == "rolled-back", result.notes
        assert pki_oper_serials(lab, "CA-Example-Root") == [kept.serial_number]
        assert pki_oper_serials(lab, "CA-New") == []
        assert lab.unmodelled()["certificates"] == certificates_before
        # The old push and the new one; no removal.
        assert cli_rpc_count(lab) == 2
        assert f"kept CA certificate {ios_serial(kept.serial_number)} in trustpoint CA-Example-Root" in "\n".join(
            result.notes
        )
        assert not [note for note in result.notes if note.startswith("removed CA certificate")]
        assert f"no CA certificate {ios_serial(created.serial_number)}" in "\n".join(result.notes)


@pytest.mark.parametrize("mode", MODES)
def test_restore_deletes_created_trustpoint(tmp_path: Path, mode: str) -> None:
    certificate = write_certificate(tmp_path / "root.pem", ca=True)
    old = write_trustpoints(tmp_path / "old.yaml", {"CA-Other": None})
    new = write_trustpoints(tmp_path / "new.yaml", {"CA-Other": None, "CA-New": "root.pem"}, cc=True)
    with make_lab(tmp_path / "lab", mode) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        assert apply_device(load_intent(old), host, sync_timeout=5).outcome == "applied"
        running_before, candidate_before = lab.running_xml(), lab.candidate_xml()

        _mutate(lab)
        result = apply_device(load_intent(new), host, sync_timeout=5)

        assert result.outcome == "rolled-back", result.notes
        assert pki_oper_serials(lab, "CA-New") == []
        assert lab.unmodelled()["certificates"] == {}
        assert lab.running_xml() == running_before
        assert lab.candidate_xml() == candidate_before
        # Deleting the trustpoint took the certificate with it: no removal was sent.
        assert cli_rpc_count(lab) == 1
        note = f"trustpoint CA-New, which the apply created, was deleted with its certificates"
        assert any(text.startswith(note) for text in result.notes), result.notes
        assert f"no CA certificate {ios_serial(certificate.serial_number)} under it" in "\n".join(result.notes)


class _FailAfterSecondCliRpc:
    """A session that makes the lab refuse ``operation`` once the second config-ios-cli-rpc was sent."""

    def __init__(self, session: Session, lab: LabDevice, operation: str, count: list[int]) -> None:
        self.session, self.lab, self.operation, self.count = session, lab, operation, count

    def __enter__(self) -> _FailAfterSecondCliRpc:
        self.session.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.__exit__(*exc)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.session, name)

    def rpc(self, operation: str, body: etree._Element) -> etree._Element:
        if operation == "config-ios-cli-rpc":
            self.count[0] += 1
            if self.count[0] == 2 and self.operation == "config-ios-cli-rpc":
                self.lab.faults.fail_operations[self.operation] = "operation-failed"
        reply = self.session.rpc(operation, body)
        if self.count[0] == 2 and self.operation == "get":
            self.lab.faults.fail_operations[self.operation] = "operation-failed"
        return reply


@pytest.mark.parametrize(("operation", "reason"), [
    ("config-ios-cli-rpc", "removing the CA certificates that the apply installed in existing trustpoints failed"),
    ("get", "the CA certificates were removed, but pki-oper could not be read to verify it"),
])
def test_failed_removal_is_unknown(tmp_path: Path, operation: str, reason: str) -> None:
    certificate = write_certificate(tmp_path / "root.pem", ca=True)
    old = write_trustpoints(tmp_path / "old.yaml", {"CA-Example-Root": None})
    new = write_trustpoints(tmp_path / "new.yaml", {"CA-Example-Root": "root.pem"}, cc=True)
    with make_lab(tmp_path / "lab", "candidate") as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        assert apply_device(load_intent(old), host, sync_timeout=5).outcome == "applied"
        count = [0]

        _mutate(lab)
        result = apply_device(
            load_intent(new), host, sync_timeout=5,
            session_factory=lambda target: _FailAfterSecondCliRpc(NetconfSession(target), lab, operation, count),
        )
        lab.faults.fail_operations.clear()

        assert count[0] == 2
        assert result.outcome == "unknown"
        assert any(note.startswith(reason) for note in result.notes), result.notes
        assert not [note for note in result.notes if note.startswith("removed CA certificate")]
        still = [certificate.serial_number] if operation == "config-ios-cli-rpc" else []
        assert pki_oper_serials(lab, "CA-Example-Root") == still
