"""CertificateFacts in IOS XE forms, checked against openssl and Cisco's tech note, and loader errors.

The tech note is "Configure EEM to send secure e-mail with TLS on port 587" (Cisco, 2024).
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from models.certificate import (
    CertificateFacts,
    ios_fingerprint,
    ios_name,
    ios_serial,
    load_certificates,
    load_one_ca_certificate,
)
from models.errors import InputError

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def certifi_certificate(common_name: str) -> x509.Certificate:
    for certificate in load_certificates(Path(certifi.where()).read_bytes(), "certifi"):
        names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if names and names[0].value == common_name:
            return certificate
    pytest.skip(f"certifi's bundle no longer holds {common_name}")


def make_certificate(
    common_name: str = "Example Root CA",
    *,
    ca: bool = True,
    key_cert_sign: bool | None = None,
    not_before: datetime = datetime(2020, 1, 1, tzinfo=UTC),
    not_after: datetime = datetime(2040, 1, 1, tzinfo=UTC),
    serial: int = 0x1234,
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    sign = ca if key_cert_sign is None else key_cert_sign
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=sign,
                crl_sign=sign,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    path.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates))
    return path


def test_gts_root_r1_matches_tech_note() -> None:
    facts = CertificateFacts.from_certificate(certifi_certificate("GTS Root R1"))

    # The values of `show crypto pki certificates verbose CA-GTS-Root-R1` in Cisco's tech note.
    assert facts.serial == "0203E5936F31B01349886BA217"
    assert facts.fingerprint_md5 == "05FED0BF 71A8A376 63DA01E0 D852DC40"
    assert facts.fingerprint_sha1 == "E58C1CC4 913B3863 4BE9106E E3AD8E6B 9DD9814A"
    assert facts.subject_key_id == "E4AF2B26 711A2B48 27852F52 662CEFF0 8913713E"
    assert facts.subject_ios == "cn=GTS Root R1,o=Google Trust Services LLC,c=US"
    assert facts.key_usage == ("Digital Signature", "Key Cert Sign", "CRL Signature")
    assert facts.is_ca
    assert facts.self_signed
    assert facts.public_key == "RSA (4096 bit)"
    assert facts.signature_algorithm == "SHA384 with RSA"
    assert facts.not_after == datetime(2036, 6, 22, tzinfo=UTC)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
@pytest.mark.parametrize(
    "common_name", ["GTS Root R1", "ISRG Root X1", "Go Daddy Root Certificate Authority - G2"]
)
def test_fingerprints_and_serial_match_openssl(tmp_path: Path, common_name: str) -> None:
    certificate = certifi_certificate(common_name)
    path = write_pem(tmp_path / "ca.pem", certificate)
    facts = CertificateFacts.from_certificate(certificate)

    def openssl(*options: str) -> str:
        output = subprocess.run(
            ["openssl", "x509", "-noout", "-in", str(path), *options],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return output.strip().split("=", 1)[1]

    def grouped(colon_hex: str) -> str:
        return ios_fingerprint(bytes.fromhex(colon_hex.replace(":", "")))

    assert facts.fingerprint_md5 == grouped(openssl("-fingerprint", "-md5"))
    assert facts.fingerprint_sha1 == grouped(openssl("-fingerprint", "-sha1"))
    assert facts.fingerprint_sha256 == openssl("-fingerprint", "-sha256").replace(":", "")
    assert facts.serial == openssl("-serial")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl command is not installed")
def test_high_bit_serial_matches_openssl(tmp_path: Path) -> None:
    certificate = make_certificate(serial=0x80FF)
    path = write_pem(tmp_path / "ca.pem", certificate)

    output = subprocess.run(
        ["openssl", "x509", "-noout", "-serial", "-in", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    assert CertificateFacts.from_certificate(certificate).serial == output.strip().split("=")[1]


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (0, "00"),
        (1, "01"),
        (0x80, "80"),
        (0xFF00, "FF00"),
        (0x0203BC53596B34C718F5015066, "0203BC53596B34C718F5015066"),
        (0x040000000001154B5AC394, "040000000001154B5AC394"),
        (0x5287E040A4FEF7071268B04FDDDDF0F4, "5287E040A4FEF7071268B04FDDDDF0F4"),
    ],
)
def test_ios_serial_forms(serial: int, expected: str) -> None:
    assert ios_serial(serial) == expected


def test_ios_fingerprint_groups_of_eight() -> None:
    digest = bytes.fromhex("178EF18343CCC9E0ECB0E38D9DEA03D8")

    assert ios_fingerprint(digest) == "178EF183 43CCC9E0 ECB0E38D 9DEA03D8"


def test_ios_name_order_and_case() -> None:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "GlobalSign nv-sa"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Root CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, "GlobalSign Root CA"),
        ]
    )

    assert ios_name(name) == "cn=GlobalSign Root CA,ou=Root CA,o=GlobalSign nv-sa,c=BE"


def test_facts_are_aware_utc_and_frozen() -> None:
    facts = CertificateFacts.from_certificate(make_certificate())

    assert facts.not_before.tzinfo is not None
    assert facts.not_after.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="frozen"):
        facts.serial = "00"  # type: ignore[misc]


def test_load_certificates_pem_bundle_and_der() -> None:
    first, second = make_certificate("One CA"), make_certificate("Two CA")
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (first, second))

    assert len(load_certificates(pem, "bundle.pem")) == 2
    der = first.public_bytes(serialization.Encoding.DER)
    assert load_certificates(der, "one.der") == [first]


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "the file is empty"),
        (b"not a certificate at all", "neither PEM"),
        (
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "no '-----BEGIN CERTIFICATE-----' block",
        ),
        (
            b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "invalid PEM certificate",
        ),
    ],
)
def test_load_certificates_rejects(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match):
        load_certificates(data, "input.pem")


def test_load_one_accepts_ca(tmp_path: Path) -> None:
    path = write_pem(tmp_path / "ca.pem", make_certificate())

    loaded = load_one_ca_certificate(path, now=NOW)

    assert loaded.facts.common_name == "Example Root CA"
    assert loaded.warnings == ()


def test_load_one_accepts_der(tmp_path: Path) -> None:
    path = tmp_path / "ca.der"
    path.write_bytes(make_certificate().public_bytes(serialization.Encoding.DER))

    assert load_one_ca_certificate(path, now=NOW).facts.is_ca


def test_load_one_rejects_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.pem: cannot read the certificate file"):
        load_one_ca_certificate(tmp_path / "missing.pem", now=NOW)


def test_load_one_rejects_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pem"
    path.write_bytes(b"")

    with pytest.raises(InputError, match=r"empty\.pem: no certificate found"):
        load_one_ca_certificate(path, now=NOW)


def test_load_one_rejects_two_certificates(tmp_path: Path) -> None:
    path = write_pem(tmp_path / "two.pem", make_certificate("One CA"), make_certificate("Two CA"))

    with pytest.raises(
        InputError, match=r"two\.pem: contains 2 certificates \(cn=One CA; cn=Two CA\)"
    ):
        load_one_ca_certificate(path, now=NOW)


def test_load_one_rejects_leaf(tmp_path: Path) -> None:
    path = write_pem(tmp_path / "leaf.pem", make_certificate("smtp.example.com", ca=False))

    with pytest.raises(InputError) as caught:
        load_one_ca_certificate(path, now=NOW)

    message = str(caught.value)
    assert (
        "leaf.pem: smtp.example.com is not a CA certificate (basicConstraints CA:FALSE)" in message
    )
    assert "rotates" in message
    assert "Import the issuing CA or its root instead" in message


def test_load_one_rejects_ca_without_key_cert_sign(tmp_path: Path) -> None:
    path = write_pem(tmp_path / "odd.pem", make_certificate(key_cert_sign=False))

    with pytest.raises(InputError, match="keyUsage without keyCertSign"):
        load_one_ca_certificate(path, now=NOW)


def test_load_one_allows_leaf_with_warning(tmp_path: Path) -> None:
    path = write_pem(tmp_path / "leaf.pem", make_certificate("smtp.example.com", ca=False))

    loaded = load_one_ca_certificate(path, allow_non_ca=True, now=NOW)

    assert len(loaded.warnings) == 1
    assert "not a CA certificate" in loaded.warnings[0]


def test_load_one_rejects_expired(tmp_path: Path) -> None:
    certificate = make_certificate(not_after=datetime(2026, 1, 28, 12, tzinfo=UTC))
    path = write_pem(tmp_path / "old.pem", certificate)

    with pytest.raises(
        InputError, match=r"old\.pem: Example Root CA expired on 2026-01-28 12:00 UTC"
    ):
        load_one_ca_certificate(path, now=NOW)


def test_load_one_rejects_not_yet_valid(tmp_path: Path) -> None:
    path = write_pem(
        tmp_path / "future.pem", make_certificate(not_before=datetime(2030, 1, 1, tzinfo=UTC))
    )

    with pytest.raises(InputError, match="not valid before 2030-01-01"):
        load_one_ca_certificate(path, now=NOW)


def test_load_one_warns_within_window(tmp_path: Path) -> None:
    path = write_pem(
        tmp_path / "soon.pem", make_certificate(not_after=datetime(2026, 7, 1, tzinfo=UTC))
    )

    default_window = load_one_ca_certificate(path, now=NOW)
    short_window = load_one_ca_certificate(path, now=NOW, warn_days=10)

    assert len(default_window.warnings) == 1
    assert (
        "expires on 2026-07-01 (30 days left, warning window 90 days)" in default_window.warnings[0]
    )
    assert short_window.warnings == ()
