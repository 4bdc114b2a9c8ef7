"""DER <-> ``crypto pki certificate chain`` hex block, round-tripped on certifi's bundle.

The expected lines come from Cisco's tech note "Configure EEM to send secure e-mail with TLS on
port 587" (2024).
"""

from __future__ import annotations

from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from models.certificate import load_certificates
from models.errors import InputError
from payloads.certchain import (
    certificate_block_lines,
    certificate_chain_lines,
    der_to_hex_lines,
    hex_lines_to_der,
    parse_certificate_chains,
)


@pytest.fixture(scope="module")
def bundle() -> list[x509.Certificate]:
    return load_certificates(Path(certifi.where()).read_bytes(), "certifi")


def der_of(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def by_common_name(bundle: list[x509.Certificate], name: str) -> x509.Certificate:
    for certificate in bundle:
        values = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if values and values[0].value == name:
            return certificate
    pytest.skip(f"certifi's bundle no longer holds {name}")


def test_gts_root_r1_block_matches_show_run(bundle: list[x509.Certificate]) -> None:
    lines = certificate_chain_lines("CA-GTS-Root-R1", der_of(by_common_name(bundle, "GTS Root R1")))

    # First and last lines of `show run | sec crypto pki certificate chain CA-GTS-Root-R1` in the tech note.
    assert lines[0] == "crypto pki certificate chain CA-GTS-Root-R1"
    assert lines[1] == " certificate ca 0203E5936F31B01349886BA217"
    assert lines[2] == "  30820557 3082033F A0030201 02020D02 03E5936F 31B01349 886BA217 300D0609"
    assert lines[-2] == "  6CFE8CBC F270350C DC991935 DCD7C846 63D53671 AE57FBB7 826DDC"
    assert lines[-1] == "  quit"


def test_hex_lines_have_eight_groups_of_eight(bundle: list[x509.Certificate]) -> None:
    lines = der_to_hex_lines(der_of(bundle[0]))

    for line in lines[:-1]:
        groups = line.split(" ")
        assert len(groups) == 8
        assert all(len(group) == 8 for group in groups)
    assert line == line.upper()


def test_round_trip_every_certifi_certificate(bundle: list[x509.Certificate]) -> None:
    text = "\n".join(
        line
        for index, certificate in enumerate(bundle)
        for line in certificate_chain_lines(f"CA-{index}", der_of(certificate))
    )

    parsed = parse_certificate_chains(text)

    assert len(parsed) == len(bundle)
    for certificate, entry in zip(bundle, parsed, strict=True):
        assert entry.der == der_of(certificate)
        assert entry.certtype == "ca"


def test_parse_without_indentation(bundle: list[x509.Certificate]) -> None:
    # Web copies of `show run` often lose the leading spaces, as in the tech note's page.
    lines = [line.strip() for line in certificate_chain_lines("CA-X", der_of(bundle[1]))]

    parsed = parse_certificate_chains("\n".join(lines))

    assert parsed[0].chain == "CA-X"
    assert parsed[0].der == der_of(bundle[1])


def test_block_lines_reject_unknown_type(bundle: list[x509.Certificate]) -> None:
    with pytest.raises(ValueError, match="certificate type 'bogus'"):
        certificate_block_lines(der_of(bundle[0]), certtype="bogus")


def test_parse_rejects_serial_mismatch(bundle: list[x509.Certificate]) -> None:
    lines = certificate_chain_lines("CA-X", der_of(bundle[0]))
    lines[1] = " certificate ca 0102"

    with pytest.raises(InputError, match="line 2: the block names serial 0102"):
        parse_certificate_chains("\n".join(lines))


def test_parse_rejects_missing_quit(bundle: list[x509.Certificate]) -> None:
    lines = certificate_chain_lines("CA-X", der_of(bundle[0]))[:-1]

    with pytest.raises(InputError, match="has no closing 'quit'"):
        parse_certificate_chains("\n".join(lines))


def test_parse_rejects_truncated_hex(bundle: list[x509.Certificate]) -> None:
    lines = certificate_chain_lines("CA-X", der_of(bundle[0]))
    del lines[5]

    with pytest.raises(InputError, match="is not a DER certificate"):
        parse_certificate_chains("\n".join(lines))


@pytest.mark.parametrize(
    ("lines", "match"),
    [
        (["3082 05ZZ"], "is invalid"),
        (["308"], "odd number of digits"),
        ([" ", ""], "has no hex lines"),
    ],
)
def test_hex_lines_to_der_rejects(lines: list[str], match: str) -> None:
    with pytest.raises(InputError, match=match):
        hex_lines_to_der(lines)


def test_der_to_hex_lines_rejects_empty() -> None:
    with pytest.raises(ValueError, match="empty"):
        der_to_hex_lines(b"")
