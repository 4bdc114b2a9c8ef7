"""DER certificates to and from the hex block of ``crypto pki certificate chain``.

No YANG model carries the certificate body (it is sent with ``config-ios-cli-rpc``), so this
module renders and parses the CLI text. The layout is the one ``show running-config`` prints
on IOS XE 17.x::

    crypto pki certificate chain CA-GTS-Root-R1
     certificate ca 0203E5936F31B01349886BA217
      30820557 3082033F A0030201 02020D02 03E5936F 31B01349 886BA217 300D0609
      ...
      6CFE8CBC F270350C DC991935 DCD7C846 63D53671 AE57FBB7 826DDC
      quit

Hex digits are uppercase, in groups of 8 (4 bytes), 8 groups (32 bytes) per line; the last
group and line may be shorter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cryptography import x509

from models.certificate import ios_serial, serial_number
from models.errors import InputError

GROUP_DIGITS = 8
GROUPS_PER_LINE = 8

# certtype values of crypto/pki/certificate/chain/certificate in Cisco-IOS-XE-crypto;
# "ca rollover" has a space from IOS XE 17.3.
CERTIFICATE_TYPES = (
    "ca",
    "ra-encrypt",
    "ra-general",
    "ra-sign",
    "rollover",
    "self-signed",
    "ca rollover",
)

_CHAIN_HEADER = re.compile(r"^crypto pki certificate chain (\S+)$")
_CERTIFICATE_HEADER = re.compile(
    r"^certificate (?:(ca rollover|ca|ra-encrypt|ra-general|ra-sign|rollover|self-signed) )?([0-9A-Fa-f]+)$"
)
_HEX_LINE = re.compile(r"^[0-9A-Fa-f]+(?: [0-9A-Fa-f]+)*$")


@dataclass(frozen=True)
class ChainCertificate:
    """One certificate parsed from a ``crypto pki certificate chain`` block.

    Attributes:
        chain: the trustpoint name after ``crypto pki certificate chain``, or None for a bare block.
        certtype: ``ca``, ``self-signed``, ... as written after ``certificate``; ``""`` for a
            device certificate line with no type word.
        serial: the serial written in the block, uppercase.
        der: the certificate in DER.
    """

    chain: str | None
    certtype: str
    serial: str
    der: bytes


def der_to_hex_lines(der: bytes) -> list[str]:
    """Return the hex body of a certificate: 8 groups of 8 uppercase hex digits per line, no indent."""
    if not der:
        raise ValueError("the DER data is empty")
    digits = der.hex().upper()
    per_line = GROUP_DIGITS * GROUPS_PER_LINE
    lines = []
    for start in range(0, len(digits), per_line):
        chunk = digits[start : start + per_line]
        lines.append(
            " ".join(
                chunk[index : index + GROUP_DIGITS] for index in range(0, len(chunk), GROUP_DIGITS)
            )
        )
    return lines


def certificate_block_lines(der: bytes, *, certtype: str = "ca") -> list[str]:
    """Return `` certificate TYPE SERIAL``, the indented hex body and ``  quit`` for one certificate.

    Args:
        der: the certificate in DER; its serial is read from it.
        certtype: the type word after ``certificate``; ``ca`` for a CA certificate.

    Raises:
        ValueError: ``der`` is not a certificate or ``certtype`` is not an IOS XE certificate type.
    """
    if certtype not in CERTIFICATE_TYPES:
        raise ValueError(
            f"certificate type {certtype!r} is not one of {', '.join(CERTIFICATE_TYPES)}"
        )
    certificate = x509.load_der_x509_certificate(der)
    lines = [f" certificate {certtype} {ios_serial(serial_number(certificate))}"]
    lines.extend(f"  {line}" for line in der_to_hex_lines(der))
    lines.append("  quit")
    return lines


def certificate_chain_lines(name: str, der: bytes, *, certtype: str = "ca") -> list[str]:
    """Return the ``crypto pki certificate chain NAME`` block that installs one CA certificate.

    Args:
        name: the trustpoint name; the trustpoint must already exist on the device.
        der: the CA certificate in DER.
        certtype: the type word after ``certificate``.

    Returns:
        The CLI lines, without a trailing ``end``.
    """
    return [
        f"crypto pki certificate chain {name}",
        *certificate_block_lines(der, certtype=certtype),
    ]


def hex_lines_to_der(lines: list[str]) -> bytes:
    """Join hex body lines (any grouping and indent) back into DER bytes.

    Raises:
        InputError: a line contains something other than hex digits, or the digit count is odd.
    """
    digits = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        if not _HEX_LINE.match(text):
            raise InputError(
                f"hex line {number} {text[:40]!r} is invalid: it contains characters other than hex digits and spaces"
            )
        digits.append(text.replace(" ", ""))
    joined = "".join(digits)
    if not joined:
        raise InputError("the certificate block has no hex lines")
    if len(joined) % 2:
        raise InputError(
            f"the certificate hex has an odd number of digits ({len(joined)}): a digit is missing"
        )
    return bytes.fromhex(joined)


def parse_certificate_chains(text: str) -> list[ChainCertificate]:
    """Parse ``crypto pki certificate chain`` blocks as ``show running-config`` prints them.

    Indentation is ignored, so the text may come from a device, from :func:`certificate_chain_lines`
    or from a copy that lost its leading spaces (as in web pages). Each certificate's serial line
    is checked against the serial inside its DER.

    Args:
        text: one or more blocks; lines outside them are ignored.

    Returns:
        Every certificate found, in text order.

    Raises:
        InputError: a block has no ``quit``, holds invalid hex, is not a certificate, or its
            serial line does not match the certificate.
    """
    found: list[ChainCertificate] = []
    chain: str | None = None
    header: re.Match[str] | None = None
    header_line = 0
    body: list[str] = []

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if header is None:
            chain_match = _CHAIN_HEADER.match(line)
            if chain_match:
                chain = chain_match.group(1)
                continue
            header = _CERTIFICATE_HEADER.match(line)
            header_line = number
            body = []
            continue
        if line == "quit":
            found.append(_finish_block(chain, header, body, header_line))
            header = None
            continue
        body.append(line)

    if header is not None:
        raise InputError(
            f"line {header_line}: the block of certificate {header.group(2)} has no closing 'quit'"
        )
    return found


def _finish_block(
    chain: str | None, header: re.Match[str], body: list[str], line: int
) -> ChainCertificate:
    der = hex_lines_to_der(body)
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as error:
        raise InputError(
            f"line {line}: the hex of certificate {header.group(2)} is not a DER certificate ({error})"
        ) from None
    written = header.group(2).upper()
    actual = ios_serial(serial_number(certificate))
    if written != actual:
        raise InputError(
            f"line {line}: the block names serial {written} but the certificate in it has serial {actual}, so "
            "the hex is from another certificate"
        )
    return ChainCertificate(chain=chain, certtype=header.group(1) or "", serial=actual, der=der)
