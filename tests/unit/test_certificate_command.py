"""The ``certs`` click group: inspect and diagnose through CliRunner, and once in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
import trustme
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ruamel.yaml import YAML

from models.pki import Trustpoint
from provisioner.certs.command import certs, parse_server

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / "tests" / "data" / "logs"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write(path: Path, pem: bytes) -> Path:
    path.write_bytes(pem)
    return path


def ca_expiring_in(days: int) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Short CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_inspect_ca_exits_zero(tmp_path: Path, ca: trustme.CA) -> None:
    path = write(tmp_path / "ca.pem", ca.cert_pem.bytes())

    result = CliRunner().invoke(certs, ["inspect", str(path)])

    assert result.exit_code == 0, result.output
    assert "Certificate 1 of 1" in result.output
    assert "CA:                    TRUE (path length 9) self-signed" in result.output
    assert "Fingerprint MD5:" in result.output
    assert "Key Usage:" in result.output


def test_inspect_leaf_exits_one(tmp_path: Path, ca: trustme.CA) -> None:
    leaf = ca.issue_cert("smtp.example.com", common_name="smtp.example.com")
    path = write(tmp_path / "leaf.pem", leaf.cert_chain_pems[0].bytes())

    result = CliRunner().invoke(certs, ["inspect", str(path)])

    assert result.exit_code == 1
    assert "error: smtp.example.com is not a CA certificate" in result.output


def test_inspect_leaf_allowed_exits_two(tmp_path: Path, ca: trustme.CA) -> None:
    leaf = ca.issue_cert("smtp.example.com", common_name="smtp.example.com")
    path = write(tmp_path / "leaf.pem", leaf.cert_chain_pems[0].bytes())

    result = CliRunner().invoke(certs, ["inspect", str(path), "--allow-non-ca"])

    assert result.exit_code == 2
    assert "warning: smtp.example.com is not a CA certificate" in result.output


def test_inspect_expiring_window(tmp_path: Path) -> None:
    path = write(tmp_path / "short.pem", ca_expiring_in(20))

    default = CliRunner().invoke(certs, ["inspect", str(path)])
    narrow = CliRunner().invoke(certs, ["inspect", str(path), "--warn-days", "10"])

    assert default.exit_code == 2
    assert "warning: Example Short CA expires on" in default.output
    assert narrow.exit_code == 0


def test_inspect_json_output(tmp_path: Path, ca: trustme.CA) -> None:
    path = write(tmp_path / "ca.pem", ca.cert_pem.bytes())

    result = CliRunner().invoke(certs, ["inspect", str(path), "--output", "json"])

    document = json.loads(result.output)
    facts = document["certificates"][0]["facts"]
    assert facts["is_ca"] is True
    assert len(facts["fingerprint_sha1"].split(" ")) == 5


def test_inspect_without_certificate_exits_one(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.txt", b"hello")

    result = CliRunner().invoke(certs, ["inspect", str(path)])

    assert result.exit_code == 1
    assert "notes.txt: no certificate found" in result.output


def test_inspect_in_subprocess(tmp_path: Path, ca: trustme.CA) -> None:
    path = write(tmp_path / "ca.pem", ca.cert_pem.bytes())

    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            "from provisioner.certs.command import certs; certs()",
            "inspect",
            str(path),
        ],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )

    assert completed.returncode == 0, completed.stderr
    assert "Fingerprint SHA1:" in completed.stdout


def parse_trustpoints(text: str) -> list[Trustpoint]:
    document = YAML(typ="safe").load(text[text.index("trustpoints:") :])
    return [Trustpoint.model_validate(entry) for entry in document["trustpoints"]]


def test_diagnose_missing_trustpoint(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        certs, ["diagnose", str(LOGS / "missing-trustpoint.log"), "--out-dir", str(tmp_path)]
    )

    assert result.exit_code == 2, result.output
    assert "cn=GlobalSign Root CA,ou=Root CA,o=GlobalSign nv-sa,c=BE" in result.output
    assert "cn=GTS CA 1C3,o=Google Trust Services LLC,c=US" in result.output
    assert "IOS-Self-Signed" not in result.output
    assert "Example-App-Password" not in result.output
    assert "eem.alerts:****@smtp.example.com" in result.output
    trustpoints = parse_trustpoints(result.output)
    assert len(trustpoints) == 1
    assert trustpoints[0].chain_validation == "stop"
    assert trustpoints[0].certificate is not None


def test_diagnose_writes_anchor_pem(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        certs, ["diagnose", str(LOGS / "missing-trustpoint.log"), "--out-dir", str(tmp_path)]
    )

    trustpoint = parse_trustpoints(result.output)[0]
    # certifi no longer ships GlobalSign Root CA, so the next issuer up that it has is GTS Root R1.
    assert trustpoint.name == "CA-GTS-Root-R1"
    assert trustpoint.certificate is not None
    assert trustpoint.certificate.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_diagnose_with_own_anchor(tmp_path: Path, ca: trustme.CA) -> None:
    anchors = write(tmp_path / "anchors.pem", ca.cert_pem.bytes())

    result = CliRunner().invoke(
        certs,
        [
            "diagnose",
            str(LOGS / "missing-trustpoint.log"),
            "--anchors",
            str(anchors),
            "--out-dir",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 2
    trustpoint = parse_trustpoints(result.output)[0]
    assert trustpoint.name == "CA-GlobalSign-Root-CA"
    assert "not in the anchor set: download it from the CA" in result.output


def test_diagnose_validated_log_exits_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        certs, ["diagnose", str(LOGS / "validated.log"), "--out-dir", str(tmp_path)]
    )

    assert result.exit_code == 0, result.output
    assert "succeeded to trustpoint CA-GlobalSign-Root" in result.output
    assert "trustpoints:" not in result.output


def test_diagnose_at_sign_in_user(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        certs, ["diagnose", str(LOGS / "relay-at-sign.log"), "--out-dir", str(tmp_path)]
    )

    assert result.exit_code == 2
    assert "splits it at the first '@'" in result.output
    assert "host 'corp.example.com'" in result.output
    assert "Example-Relay-Secret" not in result.output


def test_diagnose_unrelated_file_exits_one(tmp_path: Path) -> None:
    path = write(tmp_path / "other.log", b"Router# show version\nCisco IOS XE Software\n")

    result = CliRunner().invoke(certs, ["diagnose", str(path), "--out-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "no CRYPTO_PKI, TLS alert or %HA_EM line found" in result.output


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("smtp.example.com", ("smtp.example.com", 587)),
        ("smtp.example.com:465", ("smtp.example.com", 465)),
        ("192.0.2.10:25", ("192.0.2.10", 25)),
        ("[2001:db8::25]:587", ("2001:db8::25", 587)),
        ("[2001:db8::25]", ("2001:db8::25", 587)),
        ("2001:db8::25", ("2001:db8::25", 587)),
    ],
)
def test_parse_server_forms(value: str, expected: tuple[str, int]) -> None:
    assert parse_server(value) == expected


@pytest.mark.parametrize(
    "value", ["smtp.example.com:0", "smtp.example.com:70000", "host:abc", ":587"]
)
def test_parse_server_rejects(value: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_server(value)


def test_fetch_rejects_bad_port_before_connecting() -> None:
    result = CliRunner().invoke(certs, ["fetch", "smtp.example.com:99999"])

    assert result.exit_code == 2
    assert "port '99999'" in result.output
