"""CA certificates in trustpoints: pushed through config-ios-cli-rpc and verified in pki-oper."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from models.errors import IntentError
from models.intent import load_intent
from models.inventory import Host
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
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
