"""The lab device's own certificate authority and HTTPS server certificate for RESTCONF.

Both live in the state directory, so an inventory's ``ca_bundle`` stays valid across restarts:
``restconf-ca.pem`` is the CA certificate clients trust, ``restconf-ca.key`` and
``restconf-server.key`` are private (mode 0600), and ``restconf-server.pem`` is the server
certificate, valid for 127.0.0.1, ::1 and localhost.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioner.lab.statedir import StateDir, write_atomic

CA_FILE = "restconf-ca.pem"
CA_KEY_FILE = "restconf-ca.key"
SERVER_FILE = "restconf-server.pem"
SERVER_KEY_FILE = "restconf-server.key"

_CA_DAYS = 3650
_SERVER_DAYS = 365
# A server certificate this close to its end is issued anew at the next start.
_RENEW_BEFORE = datetime.timedelta(days=7)


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the lab's CA certificate and of the server certificate and key."""

    ca: Path
    certificate: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """Return the TLS context the HTTPS listener uses."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.certificate), str(self.key))
        return context


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "provisioner lab"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _load_ca(files: StateDir) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    certificate_path, key_path = files.file(CA_FILE), files.file(CA_KEY_FILE)
    if not (certificate_path.exists() and key_path.exists()):
        return None
    certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if certificate.not_valid_after_utc - _RENEW_BEFORE < datetime.datetime.now(datetime.UTC):
        return None
    return certificate, key


def _new_ca(files: StateDir, device: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = _name(f"provisioner lab CA for {device}")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_atomic(files.file(CA_KEY_FILE), _key_pem(key), 0o600)
    write_atomic(files.file(CA_FILE), certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def _server_valid(files: StateDir, ca: x509.Certificate) -> bool:
    path = files.file(SERVER_FILE)
    if not (path.exists() and files.file(SERVER_KEY_FILE).exists()):
        return False
    certificate = x509.load_pem_x509_certificate(path.read_bytes())
    fresh = certificate.not_valid_after_utc - _RENEW_BEFORE > datetime.datetime.now(datetime.UTC)
    return fresh and certificate.issuer == ca.subject


def _new_server(files: StateDir, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, device: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    names = x509.SubjectAlternativeName([
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{device} RESTCONF")).issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(names, critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_atomic(files.file(SERVER_KEY_FILE), _key_pem(key), 0o600)
    write_atomic(files.file(SERVER_FILE), certificate.public_bytes(serialization.Encoding.PEM))


def load_or_create(files: StateDir, device: str) -> TlsFiles:
    """Return the lab's TLS files, creating the CA and the server certificate when missing,
    and issuing them anew when they are within a week of their end."""
    loaded = _load_ca(files)
    if loaded is None:
        loaded = _new_ca(files, device)
    ca, ca_key = loaded
    if not _server_valid(files, ca):
        _new_server(files, ca, ca_key, device)
    return TlsFiles(files.file(CA_FILE), files.file(SERVER_FILE), files.file(SERVER_KEY_FILE))
