"""Certificates built at test time, so no fixture expires and no private key is stored."""

from __future__ import annotations

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Signer = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


def make_certificate(common_name: str, days: int, issuer: Signer | None = None, *, ca: bool = True) -> Signer:
    """Return a certificate valid from yesterday for ``days`` days, and its key; self-signed without ``issuer``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    signer_name, signer_key = (issuer[0].subject, issuer[1]) if issuer else (name, key)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_name)
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
        .sign(signer_key, hashes.SHA256())
    )
    return certificate, key


def write_pem(path: Path, *certificates: x509.Certificate) -> Path:
    """Write the certificates to ``path`` as PEM and return the path."""
    path.write_bytes(b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in certificates))
    return path
