"""CA certificates in trustpoints: pushed through config-ios-cli-rpc and verified in pki-oper."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from models.errors import IntentError
from models.intent import load_intent
from models.inventory import Host
from provisioner.engine import apply_device
from provisioner.lab import LabDevice

pytestmark = pytest.mark.integration


def write_certificate(path: Path, *, ca: bool, days: int = 3650) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Root CA" if ca else "smtp.example.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
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
