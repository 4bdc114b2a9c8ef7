"""CA certificate facts in the forms IOS XE prints them, and loaders for certificate files.

:class:`CertificateFacts` is built from a parsed ``cryptography`` certificate and does no I/O.
The two loader functions read files or bytes and raise :class:`models.errors.InputError` with the
file name, what is wrong and what to do.

IOS XE forms (``show crypto pki certificates verbose`` on IOS XE 17.x):

- serial: ``Certificate Serial Number (hex): 0203BC53596B34C718F5015066`` (uppercase, no
  separators, an even number of digits);
- fingerprints: ``Fingerprint MD5: 178EF183 43CCC9E0 ECB0E38D 9DEA03D8`` (uppercase, groups of
  8 hex digits);
- names: ``cn=GTS Root R1,o=Google Trust Services LLC,c=US`` (lowercase attribute names, most
  specific first, values unescaped).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import AwareDatetime, BaseModel, ConfigDict

from models.errors import InputError

DEFAULT_WARN_DAYS = 90

# Attribute names as IOS XE prints them in issuer and subject names; others keep their dotted OID.
_IOS_ATTRIBUTE_NAMES = {
    NameOID.COMMON_NAME: "cn",
    NameOID.ORGANIZATION_NAME: "o",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "ou",
    NameOID.COUNTRY_NAME: "c",
    NameOID.LOCALITY_NAME: "l",
    NameOID.STATE_OR_PROVINCE_NAME: "st",
    NameOID.EMAIL_ADDRESS: "ea",
    NameOID.SERIAL_NUMBER: "serialnumber",
    NameOID.DOMAIN_COMPONENT: "dc",
}

# keyUsage bits with the labels of ``show crypto pki certificates verbose``; IOS XE 17.x prints
# the first three exactly like this, the others follow OpenSSL's wording.
_KEY_USAGE_LABELS = (
    ("digital_signature", "Digital Signature"),
    ("content_commitment", "Non Repudiation"),
    ("key_encipherment", "Key Encipherment"),
    ("data_encipherment", "Data Encipherment"),
    ("key_agreement", "Key Agreement"),
    ("key_cert_sign", "Key Cert Sign"),
    ("crl_sign", "CRL Signature"),
)

_EXTENDED_KEY_USAGE_LABELS = {
    ExtendedKeyUsageOID.SERVER_AUTH: "Server Auth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "Client Auth",
    ExtendedKeyUsageOID.CODE_SIGNING: "Code Signing",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "Email Protection",
    ExtendedKeyUsageOID.TIME_STAMPING: "Time Stamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSP Signing",
}

# certifi's bundle contains roots with serial 0 (Go Daddy G2, Starfield G2, and others as of
# certifi 2026.5); cryptography 42+ warns on every load of those. The warning concerns the CA's
# encoding, not anything a user of this tool can act on.
_NON_POSITIVE_SERIAL_WARNING = "Parsed a serial number which wasn't positive"


def ios_serial(serial_number: int) -> str:
    """Format a certificate serial number as IOS XE prints it.

    The result is the minimal big-endian two's complement encoding of the integer, in uppercase
    hex with no separators. A positive serial therefore has no leading zero byte unless its high
    bit is set, as in ``Certificate Serial Number (hex): 0203BC53596B34C718F5015066``.

    Args:
        serial_number: the serial as ``cryptography`` parses it.

    Returns:
        The serial, e.g. ``040000000001154B5AC394`` for GlobalSign Root CA.
    """
    length = max(1, (serial_number.bit_length() + 8) // 8)
    encoded = serial_number.to_bytes(length, "big", signed=True)
    # The DER INTEGER has a 0x00 byte before a positive value whose high bit is set. Drop it, as
    # `openssl x509 -serial` does.
    # NOTE: no IOS XE output for such a serial was seen, so this form follows OpenSSL's.
    if len(encoded) > 1 and encoded[0] == 0 and serial_number > 0:
        encoded = encoded[1:]
    return encoded.hex().upper()


def serial_number(certificate: x509.Certificate) -> int:
    """Return the certificate's serial number without the warning cryptography gives for serial 0."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=_NON_POSITIVE_SERIAL_WARNING, category=CryptographyDeprecationWarning
        )
        return certificate.serial_number


def ios_fingerprint(digest: bytes) -> str:
    """Format a digest as IOS XE prints fingerprints: uppercase hex in groups of 8 digits."""
    text = digest.hex().upper()
    return " ".join(text[index : index + 8] for index in range(0, len(text), 8))


def ios_name(name: x509.Name) -> str:
    """Format an X.509 name as IOS XE prints it in ``CRYPTO_PKI`` debug lines.

    Example: ``cn=GlobalSign Root CA,ou=Root CA,o=GlobalSign nv-sa,c=BE``.
    """
    rdns = []
    for rdn in reversed(name.rdns):
        parts = []
        for attribute in rdn:
            key = _IOS_ATTRIBUTE_NAMES.get(attribute.oid, attribute.oid.dotted_string)
            value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
            parts.append(f"{key}={value}")
        rdns.append("+".join(parts))
    return ",".join(rdns)


def common_name(name: x509.Name) -> str | None:
    """Return the last common name of an X.509 name, or None when the name has none."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[-1].value
    return value if isinstance(value, str) else value.hex()


def _label(certificate: x509.Certificate) -> str:
    name = common_name(certificate.subject)
    if name:
        return name
    for rdn in reversed(certificate.subject.rdns):
        for attribute in rdn:
            if isinstance(attribute.value, str) and attribute.value:
                return attribute.value
    der = certificate.public_bytes(serialization.Encoding.DER)
    return f"certificate {hashlib.sha256(der).hexdigest().upper()[:16]}"


def is_self_signed(certificate: x509.Certificate) -> bool:
    """Return True when the certificate's issuer is its subject and its own key verifies it.

    A self-issued certificate whose signature algorithm ``cryptography`` cannot check counts as
    self-signed, because a root is trusted for its identity and not for its self-signature. In
    certifi 2026.5 this applies to three SHA-1 roots (Certum Trusted Network CA, TWCA Root
    Certification Authority, ACCVRAIZ1), where cryptography 50 raises "Unsupported signature
    algorithm".
    """
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return True
    return True


def _public_key_text(certificate: x509.Certificate) -> str:
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA ({key.key_size} bit)"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name} ({key.key_size} bit)"
    if isinstance(key, dsa.DSAPublicKey):
        return f"DSA ({key.key_size} bit)"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448"
    return type(key).__name__


def _signature_algorithm_text(certificate: x509.Certificate) -> str:
    parameters = certificate.signature_algorithm_parameters
    if isinstance(parameters, padding.PSS):
        scheme = "RSA-PSS"
    elif isinstance(parameters, padding.PKCS1v15):
        scheme = "RSA"
    elif isinstance(parameters, ec.ECDSA):
        scheme = "ECDSA"
    else:
        # Ed25519 and Ed448 carry no separate hash; DSA and unknown schemes land here too.
        return (
            certificate.signature_algorithm_oid.dotted_string
            if parameters is not None
            else _public_key_text(certificate)
        )
    hash_algorithm = certificate.signature_hash_algorithm
    hash_name = hash_algorithm.name.upper() if hash_algorithm is not None else "unknown hash"
    return f"{hash_name} with {scheme}"


class CertificateFacts(BaseModel):
    """Facts of one X.509 certificate, in the forms IOS XE and OpenSSL users compare against.

    Attributes:
        subject: subject as an RFC 4514 string, e.g. ``CN=GTS Root R1,O=Google Trust Services LLC,C=US``.
        issuer: issuer as an RFC 4514 string.
        subject_ios: subject as IOS XE prints it, e.g. ``cn=GTS Root R1,o=Google Trust Services LLC,c=US``.
        issuer_ios: issuer as IOS XE prints it.
        common_name: the subject's common name, if any.
        label: short name for messages: the common name, else the most specific attribute value
            of the subject (e.g. an OU), else ``certificate`` and 16 digits of the SHA-256.
        serial: serial in IOS XE form, e.g. ``0203BC53596B34C718F5015066``.
        not_before: start of validity (UTC).
        not_after: end of validity (UTC).
        is_ca: True when basicConstraints says CA:TRUE.
        path_length: basicConstraints pathLenConstraint, if set.
        key_usage: keyUsage bits with IOS XE labels; empty when the extension is absent.
        has_key_usage: True when the certificate carries a keyUsage extension.
        key_cert_sign: True when keyUsage allows signing certificates, or when keyUsage is absent.
        extended_key_usage: extendedKeyUsage purposes, e.g. ``Server Auth``.
        public_key: key type and size, e.g. ``RSA (2048 bit)``.
        signature_algorithm: hash and scheme, e.g. ``SHA256 with RSA`` or ``SHA384 with ECDSA``.
        self_signed: True when issuer equals subject and the certificate's own key verifies it.
        fingerprint_md5: MD5 of the DER in IOS XE form (the only fingerprint pki-oper reports).
        fingerprint_sha1: SHA-1 of the DER in IOS XE form.
        fingerprint_sha256: SHA-256 of the DER as uppercase hex without separators.
        subject_key_id: subjectKeyIdentifier in IOS XE form, if present.
        authority_key_id: authorityKeyIdentifier key id in IOS XE form, if present.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: str
    issuer: str
    subject_ios: str
    issuer_ios: str
    common_name: str | None
    label: str
    serial: str
    not_before: AwareDatetime
    not_after: AwareDatetime
    is_ca: bool
    path_length: int | None
    key_usage: tuple[str, ...]
    has_key_usage: bool
    key_cert_sign: bool
    extended_key_usage: tuple[str, ...]
    public_key: str
    signature_algorithm: str
    self_signed: bool
    fingerprint_md5: str
    fingerprint_sha1: str
    fingerprint_sha256: str
    subject_key_id: str | None
    authority_key_id: str | None

    @classmethod
    def from_certificate(cls, certificate: x509.Certificate) -> CertificateFacts:
        """Collect the facts of a parsed certificate."""
        der = certificate.public_bytes(serialization.Encoding.DER)
        extensions = certificate.extensions

        is_ca = False
        path_length = None
        try:
            constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = constraints.ca
            path_length = constraints.path_length
        except x509.ExtensionNotFound:
            pass

        key_usage: tuple[str, ...] = ()
        has_key_usage = False
        key_cert_sign = True
        try:
            usage = extensions.get_extension_for_class(x509.KeyUsage).value
            has_key_usage = True
            key_usage = tuple(
                label for attribute, label in _KEY_USAGE_LABELS if getattr(usage, attribute)
            )
            key_cert_sign = usage.key_cert_sign
        except x509.ExtensionNotFound:
            pass

        extended: tuple[str, ...] = ()
        try:
            purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            extended = tuple(
                _EXTENDED_KEY_USAGE_LABELS.get(oid, oid.dotted_string) for oid in purposes
            )
        except x509.ExtensionNotFound:
            pass

        subject_key_id = None
        try:
            ski = extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            subject_key_id = ios_fingerprint(ski.digest)
        except x509.ExtensionNotFound:
            pass

        authority_key_id = None
        try:
            aki = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
            if aki.key_identifier is not None:
                authority_key_id = ios_fingerprint(aki.key_identifier)
        except x509.ExtensionNotFound:
            pass

        return cls(
            subject=certificate.subject.rfc4514_string(),
            issuer=certificate.issuer.rfc4514_string(),
            subject_ios=ios_name(certificate.subject),
            issuer_ios=ios_name(certificate.issuer),
            common_name=common_name(certificate.subject),
            label=_label(certificate),
            serial=ios_serial(serial_number(certificate)),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            is_ca=is_ca,
            path_length=path_length,
            key_usage=key_usage,
            has_key_usage=has_key_usage,
            key_cert_sign=key_cert_sign,
            extended_key_usage=extended,
            public_key=_public_key_text(certificate),
            signature_algorithm=_signature_algorithm_text(certificate),
            self_signed=is_self_signed(certificate),
            fingerprint_md5=ios_fingerprint(hashlib.md5(der, usedforsecurity=False).digest()),
            fingerprint_sha1=ios_fingerprint(hashlib.sha1(der, usedforsecurity=False).digest()),
            fingerprint_sha256=hashlib.sha256(der).hexdigest().upper(),
            subject_key_id=subject_key_id,
            authority_key_id=authority_key_id,
        )

    @property
    def is_ca_certificate(self) -> bool:
        """True when the certificate may sign others: CA:TRUE and, if keyUsage is present, keyCertSign."""
        return self.is_ca and self.key_cert_sign

    def is_expired(self, now: datetime) -> bool:
        """Return True when ``now`` is after the end of validity."""
        return now > self.not_after

    def is_not_yet_valid(self, now: datetime) -> bool:
        """Return True when ``now`` is before the start of validity."""
        return now < self.not_before

    def expires_within(self, days: int, now: datetime) -> bool:
        """Return True when the certificate is still valid at ``now`` but ends within ``days`` days."""
        return not self.is_expired(now) and self.not_after - now <= timedelta(days=days)

    def days_left(self, now: datetime) -> int:
        """Return the whole days from ``now`` to the end of validity (negative once expired)."""
        return (self.not_after - now) // timedelta(days=1)


@dataclass(frozen=True)
class CaCertificateFile:
    """A CA certificate read from a file, with the warnings the caller should show.

    Attributes:
        path: the file it came from.
        certificate: the parsed certificate.
        facts: its facts.
        warnings: full-sentence warnings, e.g. the certificate expires within the warning window.
    """

    path: Path
    certificate: x509.Certificate
    facts: CertificateFacts
    warnings: tuple[str, ...]


def load_certificates(data: bytes, source: str) -> list[x509.Certificate]:
    """Parse one or many PEM certificates, or one DER certificate.

    Blocks other than ``CERTIFICATE`` in a PEM file (for example a private key) are skipped.

    Args:
        data: the file content.
        source: where the data came from, for error messages (usually the file name).

    Returns:
        The certificates in file order, at least one.

    Raises:
        InputError: the data contains no certificate, or a certificate that cannot be parsed.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=_NON_POSITIVE_SERIAL_WARNING, category=CryptographyDeprecationWarning
        )
        if b"-----BEGIN" in data:
            if b"-----BEGIN CERTIFICATE-----" not in data:
                raise InputError(
                    f"{source}: no certificate found: the PEM data has no '-----BEGIN CERTIFICATE-----' block. "
                    "Export the CA certificate itself (PEM or DER), not a key or a request."
                )
            try:
                return x509.load_pem_x509_certificates(data)
            except ValueError as error:
                raise InputError(
                    f"{source}: invalid PEM certificate ({error}). Export the certificate again."
                ) from None
        if not data.strip():
            raise InputError(
                f"{source}: no certificate found: the file is empty. Give a PEM or DER certificate file."
            )
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise InputError(
                f"{source}: no certificate found: the data is neither PEM ('-----BEGIN CERTIFICATE-----') "
                "nor a DER certificate. Give a PEM or DER certificate file."
            ) from None


def load_certificate_file(path: Path, *, what: str = "certificate file") -> list[x509.Certificate]:
    """Read a PEM or DER file and parse every certificate in it.

    Args:
        path: the file.
        what: how to name the file in the error, e.g. ``anchor file``.

    Raises:
        InputError: the file cannot be read or contains no certificate.
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{path}: cannot read the {what}: {error.strerror or error}") from None
    return load_certificates(data, str(path))


def load_one_ca_certificate(
    path: Path,
    *,
    allow_non_ca: bool = False,
    now: datetime | None = None,
    warn_days: int = DEFAULT_WARN_DAYS,
) -> CaCertificateFile:
    """Load the single CA certificate a trustpoint should hold, and check that it is fit for one.

    Args:
        path: PEM or DER file holding exactly one certificate.
        allow_non_ca: accept a leaf certificate (with a warning) instead of raising.
        now: the time to check validity against; defaults to the current time (UTC).
        warn_days: a certificate that ends within this many days gets a warning.

    Returns:
        The certificate with its facts and any warnings.

    Raises:
        InputError: the file is unreadable, contains no certificate or several, contains a
            leaf certificate (unless ``allow_non_ca``), or the certificate has expired or is not
            valid yet.
    """
    now = now or datetime.now(UTC)
    certificates = load_certificate_file(path)
    if len(certificates) > 1:
        names = "; ".join(
            ios_name(certificate.subject) or "(empty subject)" for certificate in certificates
        )
        raise InputError(
            f"{path}: contains {len(certificates)} certificates ({names}) but a trustpoint takes one CA certificate. "
            "Split the file and give each trustpoint the one CA certificate it anchors "
            "(`provisioner certs inspect` lists them)."
        )
    certificate = certificates[0]
    facts = CertificateFacts.from_certificate(certificate)
    found: list[str] = []

    if not facts.is_ca_certificate:
        reason = "basicConstraints CA:FALSE" if not facts.is_ca else "keyUsage without keyCertSign"
        message = (
            f"{path}: {facts.label} is not a CA certificate ({reason}). A leaf certificate in a trustpoint "
            "works only until the server rotates it (leaf certificates often live about 3 months), then "
            "the TLS handshake fails with bad_certificate. Import the issuing CA or its root instead "
            "(`provisioner certs fetch HOST` finds it)."
        )
        if not allow_non_ca:
            raise InputError(message)
        found.append(message)

    if facts.is_expired(now):
        raise InputError(
            f"{path}: {facts.label} expired on {facts.not_after:%Y-%m-%d %H:%M} UTC. "
            "Get the CA's current certificate and import that instead."
        )
    if facts.is_not_yet_valid(now):
        raise InputError(
            f"{path}: {facts.label} is not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC. "
            "Check the file and the clock of this machine."
        )
    if facts.expires_within(warn_days, now):
        found.append(
            f"{path}: {facts.label} expires on {facts.not_after:%Y-%m-%d} "
            f"({facts.days_left(now)} days left, warning window {warn_days} days). "
            "Import the CA's successor certificate before then."
        )
    return CaCertificateFile(path=path, certificate=certificate, facts=facts, warnings=tuple(found))
