"""Chain analysis on chains built with cryptography: links, anchors, cross-signing, trustpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from provisioner.certs.chain import TrustpointCertificate, analyse_chain, trustpoint_name_for

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
FAR_AHEAD = datetime(2040, 1, 1, tzinfo=UTC)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass
class Issued:
    """A certificate and its key, so it can sign the next one."""

    certificate: x509.Certificate
    key: PrivateKey


def _name(common_name: str, organization: str = "Example Trust Services") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    subject: str,
    *,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    ca: bool = True,
    not_before: datetime = LONG_AGO,
    not_after: datetime = FAR_AHEAD,
    pss: bool = False,
    issuer_name: x509.Name | None = None,
    serial: int | None = None,
) -> Issued:
    """Build a certificate; without ``issuer`` it is self-signed."""
    key = key or _rsa_key()
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name or (issuer.certificate.subject if issuer else _name(subject)))
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=not ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if isinstance(signer_key, rsa.RSAPrivateKey) and pss:
        certificate = builder.sign(
            signer_key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        )
    else:
        certificate = builder.sign(signer_key, hashes.SHA256())
    return Issued(certificate, key)


@pytest.fixture(scope="module")
def simple() -> dict[str, Issued]:
    """Root -> intermediate -> leaf, all valid from 2020 to 2040."""
    root = issue("Example Root CA")
    intermediate = issue("Example Issuing CA 1", issuer=root)
    leaf = issue("smtp.example.com", issuer=intermediate, ca=False)
    return {"root": root, "intermediate": intermediate, "leaf": leaf}


@pytest.fixture(scope="module")
def cross() -> dict[str, Issued]:
    """The shape of Cisco's EEM secure e-mail tech note: Old Root (like GlobalSign Root CA) cross-signs New Root (like GTS Root R1).

    The server presents leaf, intermediate and the cross-signed New Root; the anchor set may hold
    Old Root, the self-signed New Root, or both.
    """
    old_root = issue("Example Old Root CA", not_after=datetime(2028, 1, 28, 12, tzinfo=UTC))
    new_key = _rsa_key()
    new_root = issue("Example New Root R1", key=new_key)
    new_root_cross = issue("Example New Root R1", key=new_key, issuer=old_root)
    intermediate = issue("Example Issuing CA 1C3", issuer=new_root)
    leaf = issue(
        "smtp.example.com",
        issuer=intermediate,
        ca=False,
        not_after=datetime(2026, 7, 1, tzinfo=UTC),
    )
    return {
        "old_root": old_root,
        "new_root": new_root,
        "new_root_cross": new_root_cross,
        "intermediate": intermediate,
        "leaf": leaf,
    }


def chain_of(*items: Issued) -> list[x509.Certificate]:
    return [item.certificate for item in items]


def codes(analysis_findings: tuple[object, ...], severity: str | None = None) -> list[str]:
    return [f.code for f in analysis_findings if severity is None or f.severity == severity]  # type: ignore[attr-defined]


def test_simple_chain_validates_to_root(simple: dict[str, Issued]) -> None:
    result = analyse_chain(
        chain_of(simple["leaf"], simple["intermediate"]), chain_of(simple["root"]), now=NOW
    )

    assert result.validated
    assert [link.status for link in result.links] == ["verified", "verified"]
    assert result.anchor is not None
    assert result.anchor.facts.common_name == "Example Root CA"
    assert result.anchor.origin == "anchor"
    assert [r.name for r in result.recommended] == ["CA-Example-Root-CA"]
    assert codes(result.findings, "error") == []
    assert codes(result.findings, "warning") == []


def test_chain_with_root_included_validates(simple: dict[str, Issued]) -> None:
    presented = chain_of(simple["leaf"], simple["intermediate"], simple["root"])

    result = analyse_chain(presented, chain_of(simple["root"]), now=NOW)

    assert result.validated
    assert len(result.links) == 2
    assert codes(result.findings) == []


def test_out_of_order_chain_validates(simple: dict[str, Issued]) -> None:
    presented = chain_of(simple["leaf"], simple["root"], simple["intermediate"])

    result = analyse_chain(presented, chain_of(simple["root"]), now=NOW)

    assert result.validated
    assert "out-of-order" in codes(result.findings, "info")


def test_cross_signed_root_reaches_old_root_first(cross: dict[str, Issued]) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"], cross["new_root_cross"])
    anchors = chain_of(cross["new_root"], cross["old_root"])

    result = analyse_chain(presented, anchors, now=NOW)

    assert result.validated
    assert result.anchor is not None
    assert result.anchor.facts.common_name == "Example Old Root CA"
    assert [a.facts.common_name for a in result.alternative_anchors] == ["Example New Root R1"]
    assert [r.name for r in result.recommended] == ["CA-Example-Old-Root-CA"]
    assert len(result.recommended) == 1


def test_cross_signed_root_alone_in_anchors(cross: dict[str, Issued]) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"], cross["new_root_cross"])

    result = analyse_chain(presented, chain_of(cross["new_root"]), now=NOW)

    assert result.validated
    assert result.anchor is not None
    assert result.anchor.facts.common_name == "Example New Root R1"
    assert result.anchor.facts.self_signed
    assert [r.name for r in result.recommended] == ["CA-Example-New-Root-R1"]


def test_intermediate_whose_issuer_is_anchor(cross: dict[str, Issued]) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"])

    result = analyse_chain(presented, chain_of(cross["new_root"], cross["old_root"]), now=NOW)

    assert result.validated
    assert result.anchor is not None
    assert result.anchor.facts.common_name == "Example New Root R1"


def test_expired_old_root_prefers_alternative(cross: dict[str, Issued]) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"], cross["new_root_cross"])
    after_old_root = datetime(2028, 3, 1, tzinfo=UTC)

    result = analyse_chain(
        presented, chain_of(cross["new_root"], cross["old_root"]), now=after_old_root
    )

    assert result.recommended[0].certificate.facts.common_name == "Example New Root R1"
    assert "expired" in codes(result.findings, "error")


def test_old_root_expiring_within_window(cross: dict[str, Issued]) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"], cross["new_root_cross"])
    anchors = chain_of(cross["new_root"], cross["old_root"])
    near_end = datetime(2027, 12, 1, tzinfo=UTC)

    default_window = analyse_chain(presented, anchors, now=near_end)
    short_window = analyse_chain(presented, anchors, now=near_end, warn_days=30)

    expiring = [f for f in default_window.findings if f.code == "expiring"]
    assert [f.subject for f in expiring] == ["Example Old Root CA"]
    assert expiring[0].severity == "warning"
    assert "2028-01-28" in expiring[0].message
    assert "expiring" not in codes(short_window.findings)


def test_leaf_expiring_is_info_only(cross: dict[str, Issued]) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"], cross["new_root_cross"])

    result = analyse_chain(presented, chain_of(cross["old_root"]), now=NOW)

    leaf_findings = [f for f in result.findings if f.subject == "smtp.example.com"]
    assert [(f.severity, f.code) for f in leaf_findings] == [("info", "expiring")]


def test_broken_signature_is_reported(simple: dict[str, Issued]) -> None:
    impostor_key = _rsa_key()
    # Same issuer name as the real intermediate, but signed with another key.
    forged_issuer = Issued(simple["intermediate"].certificate, impostor_key)
    forged_leaf = issue("smtp.example.com", issuer=forged_issuer, ca=False)

    result = analyse_chain(
        chain_of(forged_leaf, simple["intermediate"]), chain_of(simple["root"]), now=NOW
    )

    assert not result.validated
    assert result.links[0].status == "signature-invalid"
    assert "signature-invalid" in codes(result.findings, "error")
    assert result.recommended == ()


def test_expired_intermediate_is_reported(simple: dict[str, Issued]) -> None:
    old_intermediate = issue(
        "Example Expired CA",
        issuer=simple["root"],
        not_before=LONG_AGO,
        not_after=datetime(2025, 1, 1, tzinfo=UTC),
    )
    leaf = issue("smtp.example.com", issuer=old_intermediate, ca=False)

    result = analyse_chain(chain_of(leaf, old_intermediate), chain_of(simple["root"]), now=NOW)

    expired = [f for f in result.findings if f.code == "expired"]
    assert [f.subject for f in expired] == ["Example Expired CA"]
    assert expired[0].severity == "error"
    assert "2025-01-01" in expired[0].message
    assert "intermediate" in expired[0].message


def test_missing_intermediate_is_reported(simple: dict[str, Issued]) -> None:
    result = analyse_chain(chain_of(simple["leaf"]), chain_of(simple["root"]), now=NOW)

    assert not result.validated
    assert result.links[-1].status == "issuer-not-found"
    assert "cn=Example Issuing CA 1" in result.links[-1].detail
    assert "issuer-not-found" in codes(result.findings, "error")


def test_private_root_not_in_anchors(simple: dict[str, Issued]) -> None:
    presented = chain_of(simple["leaf"], simple["intermediate"], simple["root"])

    result = analyse_chain(presented, [], now=NOW)

    assert not result.validated
    assert "untrusted-root" in codes(result.findings, "error")


def test_pss_and_ecdsa_signatures_verify() -> None:
    root = issue("Example PSS Root")
    ec_intermediate = issue(
        "Example EC CA", issuer=root, key=ec.generate_private_key(ec.SECP256R1()), pss=True
    )
    leaf = issue(
        "smtp.example.com",
        issuer=ec_intermediate,
        ca=False,
        key=ec.generate_private_key(ec.SECP256R1()),
    )

    result = analyse_chain(chain_of(leaf, ec_intermediate), chain_of(root), now=NOW)

    assert result.validated
    assert ec_intermediate.certificate.signature_algorithm_parameters is not None
    assert result.path[1].facts.signature_algorithm == "SHA256 with RSA-PSS"
    assert result.path[0].facts.signature_algorithm == "SHA256 with ECDSA"


def test_empty_chain_raises() -> None:
    with pytest.raises(ValueError, match="presented chain is empty"):
        analyse_chain([], [])


def test_tech_note_trustpoints_classified(cross: dict[str, Issued]) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"], cross["new_root_cross"])
    trustpoints = [
        TrustpointCertificate("CA-GTS-1C3", cross["intermediate"].certificate),
        TrustpointCertificate("CA-GTS-Root-R1", cross["new_root"].certificate),
        TrustpointCertificate("CA-GlobalSign-Root", cross["old_root"].certificate),
        TrustpointCertificate("CA-gmail-SMTP", cross["leaf"].certificate),
    ]

    result = analyse_chain(
        presented, chain_of(cross["old_root"], cross["new_root"]), trustpoints=trustpoints, now=NOW
    )

    roles = {check.name: check.role for check in result.trustpoints}
    assert roles == {
        "CA-GTS-1C3": "unnecessary",
        "CA-GTS-Root-R1": "unnecessary",
        "CA-GlobalSign-Root": "anchor",
        "CA-gmail-SMTP": "leaf",
    }
    assert [r.name for r in result.recommended] == ["CA-GlobalSign-Root"]
    assert "leaf-in-trustpoint" in codes(result.findings, "warning")
    assert codes(result.findings).count("unnecessary-trustpoint") == 2
    assert "missing-trustpoint" not in codes(result.findings)


def test_trustpoint_expiring_and_unrelated(
    cross: dict[str, Issued], simple: dict[str, Issued]
) -> None:
    presented = chain_of(cross["leaf"], cross["intermediate"], cross["new_root_cross"])
    trustpoints = [
        TrustpointCertificate("CA-Old", cross["old_root"].certificate),
        TrustpointCertificate("CA-Other", simple["root"].certificate),
        TrustpointCertificate("CA-NoFile", None),
    ]

    result = analyse_chain(
        presented,
        chain_of(cross["old_root"]),
        trustpoints=trustpoints,
        now=datetime(2027, 12, 1, tzinfo=UTC),
    )

    roles = {check.name: check.role for check in result.trustpoints}
    assert roles == {"CA-Old": "anchor", "CA-Other": "unrelated", "CA-NoFile": None}
    assert "trustpoint-expiring" in codes(result.findings, "warning")
    assert "no-certificate-file" in codes(result.findings, "info")


def test_missing_trustpoint_recommends_anchor(simple: dict[str, Issued]) -> None:
    trustpoints = [TrustpointCertificate("CA-leaf", simple["leaf"].certificate)]

    result = analyse_chain(
        chain_of(simple["leaf"], simple["intermediate"]),
        chain_of(simple["root"]),
        trustpoints=trustpoints,
        now=NOW,
    )

    assert [r.name for r in result.recommended] == ["CA-Example-Root-CA"]
    assert "missing-trustpoint" in codes(result.findings, "warning")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("GlobalSign Root CA", "CA-GlobalSign-Root-CA"),
        ("GTS CA 1C3", "CA-GTS-CA-1C3"),
        ("Testing CA #a_b", "CA-Testing-CA-a_b"),
        ("***", "CA-issuer"),
        ("x" * 100, "CA-" + "x" * 61),
    ],
)
def test_trustpoint_name_for_label(label: str, expected: str) -> None:
    assert trustpoint_name_for(label) == expected
