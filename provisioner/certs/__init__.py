"""CA certificates as intent: inspect files, fetch a server's chain, analyse it, diagnose device logs.

Library use (no printing, no ``sys.exit``)::

    from provisioner.certs import analyse_chain, fetch_chain

    chain = fetch_chain("smtp.example.com", 587)   # retrieved, not trusted
    analysis = analyse_chain(chain)                # verified against certifi's bundle
    for trustpoint in analysis.recommended:
        print(trustpoint.name, trustpoint.certificate.facts.fingerprint_sha1)

The click group for the command line is :data:`provisioner.certs.command.certs`.
"""

from __future__ import annotations

from provisioner.certs.chain import (
    AnalysedCertificate,
    ChainAnalysis,
    ChainLink,
    Finding,
    RecommendedTrustpoint,
    TrustpointCertificate,
    TrustpointCheck,
    analyse_chain,
    load_anchor_file,
    load_default_anchors,
    trustpoint_certificates,
    trustpoint_name_for,
)
from provisioner.certs.diagnose import Diagnosis, diagnose_log, diagnose_text, mask_server_string
from provisioner.certs.fetch import (
    CertificateFetchError,
    ServerUnreachableError,
    SmtpProtocolError,
    StartTlsNotOfferedError,
    TlsHandshakeError,
    fetch_chain,
)
from provisioner.certs.inspect import Inspection, check_ca_facts, inspect_file

__all__ = [
    "AnalysedCertificate",
    "CertificateFetchError",
    "ChainAnalysis",
    "ChainLink",
    "Diagnosis",
    "Finding",
    "Inspection",
    "RecommendedTrustpoint",
    "ServerUnreachableError",
    "SmtpProtocolError",
    "StartTlsNotOfferedError",
    "TlsHandshakeError",
    "TrustpointCertificate",
    "TrustpointCheck",
    "analyse_chain",
    "check_ca_facts",
    "diagnose_log",
    "diagnose_text",
    "fetch_chain",
    "inspect_file",
    "load_anchor_file",
    "load_default_anchors",
    "mask_server_string",
    "trustpoint_certificates",
    "trustpoint_name_for",
]
