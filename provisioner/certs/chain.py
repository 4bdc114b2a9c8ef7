"""Chain analysis: which CA certificate a device must trust for a server's certificate chain.

The input is the chain a server presents (leaf first) and a set of anchors (by default certifi's
bundle, Mozilla's root store). The analysis walks from the leaf upwards. Each step looks for the
issuer first among the presented certificates, then among the anchors. A link is verified when
the issuer's subject equals the certificate's issuer name and the issuer's public key verifies
the signature (RSA PKCS#1 v1.5, RSA-PSS, ECDSA and EdDSA, through ``cryptography``).

Using every presented certificate before an anchor matters for cross-signed roots. In Cisco's
tech note "Configure EEM to send secure e-mail with TLS on port 587", smtp.gmail.com presented
leaf → GTS CA 1C3 → GTS Root R1 cross-signed by GlobalSign Root CA, and IOS XE anchored that
chain to a trustpoint with GlobalSign Root CA. The presented GTS Root R1 has the same subject
and key as the self-signed GTS Root R1 in certifi, so that root is reported as an alternative
anchor.

On IOS XE a trustpoint with ``chain-validation stop`` is trusted as an anchor even when it
contains an intermediate, so one trustpoint with any CA certificate on the path is enough. The
analysis recommends the topmost one, because intermediates rotate more often than roots.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

from models.certificate import (
    DEFAULT_WARN_DAYS,
    CertificateFacts,
    load_certificate_file,
    load_certificates,
)
from models.errors import InputError
from models.pki import Trustpoint

logger = logging.getLogger(__name__)

Severity = Literal["error", "warning", "info"]
Origin = Literal["presented", "anchor", "trustpoint"]
LinkStatus = Literal["verified", "signature-invalid", "signature-unsupported", "issuer-not-found"]
TrustpointRole = Literal["anchor", "unnecessary", "leaf", "unrelated"]

# A longer chain than this is a loop or a misconfigured server; real ones have 2 to 4 certificates.
_MAX_DEPTH = 10


@dataclass(frozen=True)
class AnalysedCertificate:
    """A certificate taking part in the analysis.

    Attributes:
        certificate: the parsed certificate.
        facts: its facts in IOS XE forms.
        origin: ``presented`` by the server, taken from the ``anchor`` set, or held by a ``trustpoint``.
        position: index in the presented chain (0 = leaf), or None for other origins.
    """

    certificate: x509.Certificate
    facts: CertificateFacts
    origin: Origin
    position: int | None = None

    @classmethod
    def of(
        cls, certificate: x509.Certificate, origin: Origin, position: int | None = None
    ) -> AnalysedCertificate:
        """Wrap a certificate with its facts."""
        return cls(certificate, CertificateFacts.from_certificate(certificate), origin, position)

    @property
    def der(self) -> bytes:
        """The certificate in DER."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> str:
        """The certificate in PEM."""
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def same_ca(self, other: AnalysedCertificate) -> bool:
        """Return True when both have the same subject and public key, e.g. a root and its cross-signed copy."""
        return self.certificate.subject == other.certificate.subject and _key_bytes(
            self.certificate
        ) == _key_bytes(other.certificate)


@dataclass(frozen=True)
class ChainLink:
    """One step of the path: ``certificate`` was (or was not) issued by ``issuer``.

    Attributes:
        certificate: the certificate whose signature is checked.
        issuer: the certificate whose key was tried, or None when no certificate with the issuer name exists.
        status: ``verified``, ``signature-invalid``, ``signature-unsupported`` or ``issuer-not-found``.
        detail: one sentence for humans.
    """

    certificate: AnalysedCertificate
    issuer: AnalysedCertificate | None
    status: LinkStatus
    detail: str

    @property
    def verified(self) -> bool:
        """True when the issuer's key verified the signature."""
        return self.status == "verified"


@dataclass(frozen=True)
class Finding:
    """Something about the chain or a trustpoint that a user may need to act on.

    Attributes:
        severity: ``error`` (the device cannot validate the chain, or will not soon), ``warning``
            (action needed before it breaks) or ``info``.
        code: stable identifier, e.g. ``expired``, ``expiring``, ``leaf-in-trustpoint``.
        subject: the certificate label or trustpoint name it is about.
        message: a full sentence with what to do.
    """

    severity: Severity
    code: str
    subject: str
    message: str


@dataclass(frozen=True)
class TrustpointCertificate:
    """A trustpoint of the intent and the certificate in its file (None when it names no file)."""

    name: str
    certificate: x509.Certificate | None
    path: Path | None = None


@dataclass(frozen=True)
class TrustpointCheck:
    """How one trustpoint of the intent relates to the analysed chain.

    Attributes:
        name: the trustpoint name.
        certificate: what it holds, or None when the intent names no certificate file.
        role: ``anchor`` (the one trustpoint the chain needs), ``unnecessary`` (contains a CA
            of this chain that another trustpoint already covers), ``leaf`` (contains a non-CA
            certificate), ``unrelated`` (contains a CA outside this chain), or None when the
            intent names no certificate file.
    """

    name: str
    certificate: AnalysedCertificate | None
    role: TrustpointRole | None


@dataclass(frozen=True)
class RecommendedTrustpoint:
    """A trustpoint the device needs, with the CA certificate it must hold."""

    name: str
    certificate: AnalysedCertificate


@dataclass(frozen=True)
class ChainAnalysis:
    """Result of :func:`analyse_chain`.

    Attributes:
        presented: the chain as the server sent it, leaf first.
        path: the certificates from the leaf up to the anchor (or as far as the links go).
        links: one per step of ``path``; the last one may be the failed or missing link.
        anchor: the anchor the full path reaches, or None.
        alternative_anchors: other anchors the chain reaches, e.g. the self-signed copy of a
            cross-signed root the server sent.
        validated: True when every link verified and an anchor was reached.
        recommended: the minimal set of trustpoints the device needs (one, or none when the chain
            does not validate).
        trustpoints: how each given trustpoint relates to the chain.
        findings: everything that needs a look, most severe first.
        warn_days: the expiry warning window used.
    """

    presented: tuple[AnalysedCertificate, ...]
    path: tuple[AnalysedCertificate, ...]
    links: tuple[ChainLink, ...]
    anchor: AnalysedCertificate | None
    alternative_anchors: tuple[AnalysedCertificate, ...]
    validated: bool
    recommended: tuple[RecommendedTrustpoint, ...]
    trustpoints: tuple[TrustpointCheck, ...]
    findings: tuple[Finding, ...]
    warn_days: int = DEFAULT_WARN_DAYS
    anchors_reached: tuple[AnalysedCertificate, ...] = field(init=False)

    def __post_init__(self) -> None:
        reached = ((self.anchor,) if self.anchor is not None else ()) + self.alternative_anchors
        object.__setattr__(self, "anchors_reached", reached)

    @property
    def worst_severity(self) -> Severity | None:
        """The maximum severity among the findings, or None when there is none."""
        severities: tuple[Severity, ...] = ("error", "warning", "info")
        for severity in severities:
            if any(finding.severity == severity for finding in self.findings):
                return severity
        return None


def load_default_anchors() -> list[x509.Certificate]:
    """Load certifi's CA bundle (Mozilla's root store) as the default anchor set.

    Raises:
        InputError: certifi is not installed.
    """
    try:
        import certifi
    except ImportError:
        raise InputError(
            "certifi is not installed, so there is no default anchor set. "
            "Install it with `pip install certifi`, or pass --anchors PEMFILE."
        ) from None
    path = Path(certifi.where())
    return load_certificates(path.read_bytes(), str(path))


def load_anchor_file(path: Path) -> list[x509.Certificate]:
    """Load one or many anchor certificates from a PEM or DER file.

    Raises:
        InputError: the file cannot be read or contains no certificate.
    """
    return load_certificate_file(path, what="anchor file")


def trustpoint_certificates(trustpoints: Iterable[Trustpoint]) -> list[TrustpointCertificate]:
    """Read the certificate file of each intent trustpoint.

    Raises:
        InputError: a file cannot be read, contains no certificate, or contains more than one.
    """
    result = []
    for trustpoint in trustpoints:
        if trustpoint.certificate is None:
            result.append(TrustpointCertificate(trustpoint.name, None))
            continue
        path = trustpoint.certificate
        try:
            data = path.read_bytes()
        except OSError as error:
            raise InputError(
                f"trustpoint {trustpoint.name}: cannot read certificate file {path}: {error.strerror or error}"
            ) from None
        certificates = load_certificates(data, str(path))
        if len(certificates) != 1:
            raise InputError(
                f"trustpoint {trustpoint.name}: {path} contains {len(certificates)} certificates but a trustpoint "
                "takes one CA certificate. Split the file."
            )
        result.append(TrustpointCertificate(trustpoint.name, certificates[0], path))
    return result


def trustpoint_name_for(label: str) -> str:
    """Return a trustpoint name for a CA, e.g. ``CA-GlobalSign-Root-CA`` for the label ``GlobalSign Root CA``.

    The name keeps the characters :class:`models.pki.Trustpoint` accepts and at most 64 of them,
    the limit the intent model enforces.
    """
    words = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-")
    return f"CA-{words or 'issuer'}"[:64].rstrip("-")


def analyse_chain(
    presented: Sequence[x509.Certificate],
    anchors: Sequence[x509.Certificate] | None = None,
    *,
    trustpoints: Sequence[TrustpointCertificate] = (),
    now: datetime | None = None,
    warn_days: int = DEFAULT_WARN_DAYS,
) -> ChainAnalysis:
    """Verify a presented chain and work out which trustpoint a device needs for it.

    Args:
        presented: the certificates as the server sent them, leaf first.
        anchors: trusted CA certificates; defaults to certifi's bundle.
        trustpoints: the intent's trustpoints with their certificates, to find unnecessary,
            leaf, expired and expiring ones.
        now: the time to check validity against; defaults to the current time (UTC).
        warn_days: certificates ending within this many days get a warning.

    Returns:
        The typed result. A broken chain raises nothing and shows in ``links`` and ``findings``.

    Raises:
        ValueError: ``presented`` is empty.
        InputError: ``anchors`` is None and certifi is not installed.
    """
    if not presented:
        raise ValueError(
            "the presented chain is empty: at least the server's leaf certificate is needed"
        )
    now = now or datetime.now(UTC)
    anchor_nodes = [
        AnalysedCertificate.of(certificate, "anchor")
        for certificate in (anchors if anchors is not None else load_default_anchors())
    ]
    chain_nodes = [
        AnalysedCertificate.of(certificate, "presented", index)
        for index, certificate in enumerate(presented)
    ]

    path, links, anchor = _build_path(chain_nodes, anchor_nodes)
    validated = anchor is not None and all(link.verified for link in links)
    alternatives = _alternative_anchors(path, anchor, anchor_nodes) if validated else ()
    logger.debug(
        "chain of %d certificates: path of %d, anchor %s, validated %s",
        len(chain_nodes),
        len(path),
        anchor.facts.label if anchor else None,
        validated,
    )

    findings: list[Finding] = []
    findings.extend(_link_findings(path, links, anchor))
    findings.extend(_validity_findings(path, anchor, now, warn_days))
    findings.extend(_unused_findings(chain_nodes, path))

    preferred = _preferred_anchor(anchor, alternatives, now) if validated else None
    checks, trustpoint_findings, existing = _check_trustpoints(
        trustpoints, path, anchor, alternatives, now, warn_days
    )
    findings.extend(trustpoint_findings)

    recommended: tuple[RecommendedTrustpoint, ...] = ()
    if existing is not None and not existing.certificate.facts.is_expired(now):
        recommended = (existing,)
    elif preferred is not None:
        recommended = (
            RecommendedTrustpoint(trustpoint_name_for(preferred.facts.label), preferred),
        )
        if trustpoints:
            findings.append(
                Finding(
                    "warning",
                    "missing-trustpoint",
                    recommended[0].name,
                    f"No trustpoint of the intent holds a valid CA certificate of this chain: add trustpoint "
                    f"{recommended[0].name} with {preferred.facts.label} (SHA-1 {preferred.facts.fingerprint_sha1}).",
                )
            )

    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda finding: order[finding.severity])
    return ChainAnalysis(
        presented=tuple(chain_nodes),
        path=tuple(path),
        links=tuple(links),
        anchor=anchor,
        alternative_anchors=alternatives,
        validated=validated,
        recommended=recommended,
        trustpoints=tuple(checks),
        findings=tuple(findings),
        warn_days=warn_days,
    )


def _key_bytes(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _verify(child: AnalysedCertificate, issuer: AnalysedCertificate) -> ChainLink:
    try:
        child.certificate.verify_directly_issued_by(issuer.certificate)
    except InvalidSignature:
        return ChainLink(
            child,
            issuer,
            "signature-invalid",
            f"the signature of {child.facts.label} does not verify with the key of {issuer.facts.label}",
        )
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        return ChainLink(
            child,
            issuer,
            "signature-unsupported",
            f"the signature of {child.facts.label} could not be checked with {issuer.facts.label}: {error}",
        )
    return ChainLink(
        child, issuer, "verified", f"{child.facts.label} is signed by {issuer.facts.label}"
    )


def _first_verified(
    child: AnalysedCertificate, candidates: Iterable[AnalysedCertificate]
) -> tuple[ChainLink | None, ChainLink | None]:
    """Return the first verified link to a candidate issuer, and the first failed one seen."""
    failed = None
    for candidate in candidates:
        if candidate.certificate.subject != child.certificate.issuer:
            continue
        link = _verify(child, candidate)
        if link.verified:
            return link, failed
        failed = failed or link
    return None, failed


def _build_path(
    chain: list[AnalysedCertificate], anchors: list[AnalysedCertificate]
) -> tuple[list[AnalysedCertificate], list[ChainLink], AnalysedCertificate | None]:
    current = chain[0]
    path = [current]
    links: list[ChainLink] = []
    used = {0}

    for _ in range(_MAX_DEPTH):
        # A self-signed certificate ends the path: it is an anchor when the anchor set has the same CA.
        if current.facts.self_signed:
            for anchor in anchors:
                if anchor.same_ca(current):
                    return path, links, anchor
            return path, links, None

        # Prefer the presented certificates, so that a cross-signed root leads to its signer.
        unused = [node for node in chain if node.position not in used]
        link, failed_in_chain = _first_verified(current, unused)
        if link is not None and link.issuer is not None:
            links.append(link)
            current = link.issuer
            used.add(current.position if current.position is not None else -1)
            path.append(current)
            continue

        link, failed_in_anchors = _first_verified(current, anchors)
        if link is not None and link.issuer is not None:
            links.append(link)
            path.append(link.issuer)
            return path, links, link.issuer

        # A presented CA whose own subject and key are an anchor's (the cross-signed copy of a root
        # whose signer is not in the anchor set) ends the path at that anchor.
        if len(path) > 1:
            for anchor in anchors:
                if anchor.same_ca(current):
                    return path, links, anchor

        failed = failed_in_chain or failed_in_anchors
        if failed is not None:
            links.append(failed)
        else:
            links.append(
                ChainLink(
                    current,
                    None,
                    "issuer-not-found",
                    f"the issuer of {current.facts.label} ({current.facts.issuer_ios}) is neither in the "
                    "presented chain nor in the anchor set",
                )
            )
        return path, links, None

    links.append(
        ChainLink(
            current, None, "issuer-not-found", f"the chain is longer than {_MAX_DEPTH} certificates"
        )
    )
    return path, links, None


def _alternative_anchors(
    path: list[AnalysedCertificate],
    anchor: AnalysedCertificate | None,
    anchors: list[AnalysedCertificate],
) -> tuple[AnalysedCertificate, ...]:
    found: list[AnalysedCertificate] = []
    for node in path[1:]:
        for candidate in anchors:
            if candidate is anchor or any(candidate is seen for seen in found):
                continue
            if candidate.same_ca(node):
                found.append(candidate)
    return tuple(found)


def _preferred_anchor(
    anchor: AnalysedCertificate | None, alternatives: tuple[AnalysedCertificate, ...], now: datetime
) -> AnalysedCertificate | None:
    # IOS XE 17.x anchored the full presented path in Cisco's tech note, so prefer that anchor.
    # An alternative is used only when that anchor has expired.
    # NOTE: that IOS XE builds the shorter path to an alternative anchor was not tried on a device.
    if anchor is not None and not anchor.facts.is_expired(now):
        return anchor
    for alternative in alternatives:
        if not alternative.facts.is_expired(now):
            return alternative
    return anchor


def _link_findings(
    path: list[AnalysedCertificate], links: list[ChainLink], anchor: AnalysedCertificate | None
) -> list[Finding]:
    findings = []
    for link in links:
        if link.status == "signature-invalid":
            findings.append(
                Finding(
                    "error",
                    "signature-invalid",
                    link.certificate.facts.label,
                    f"The chain is broken: {link.detail}.",
                )
            )
        elif link.status == "signature-unsupported":
            findings.append(
                Finding(
                    "error",
                    "signature-unsupported",
                    link.certificate.facts.label,
                    f"{link.detail}.",
                )
            )
        elif link.status == "issuer-not-found":
            findings.append(
                Finding(
                    "error",
                    "issuer-not-found",
                    link.certificate.facts.label,
                    f"Cannot reach an anchor: {link.detail}. Get that CA certificate from the CA's "
                    "repository and pass it with --anchors after checking its fingerprint.",
                )
            )
    top = path[-1]
    if anchor is None and all(link.verified for link in links) and top.facts.self_signed:
        findings.append(
            Finding(
                "error",
                "untrusted-root",
                top.facts.label,
                f"The chain ends in the self-signed {top.facts.label}, which is not in the anchor set. "
                "If it is your organisation's CA, check its SHA-1 fingerprint "
                f"{top.facts.fingerprint_sha1} with the CA and pass it with --anchors.",
            )
        )
    return findings


def _validity_findings(
    path: list[AnalysedCertificate],
    anchor: AnalysedCertificate | None,
    now: datetime,
    warn_days: int,
) -> list[Finding]:
    findings = []
    nodes = list(path)
    seen = {node.facts.fingerprint_sha256 for node in path}
    if anchor is not None and anchor.facts.fingerprint_sha256 not in seen:
        nodes.append(anchor)
    for index, node in enumerate(nodes):
        facts = node.facts
        role = "intermediate"
        if index == 0:
            role = "leaf"
        elif node is anchor:
            role = "anchor"
        if facts.is_expired(now):
            findings.append(
                Finding(
                    "error",
                    "expired",
                    facts.label,
                    f"The {role} certificate {facts.label} expired on {facts.not_after:%Y-%m-%d %H:%M} UTC, "
                    "so the device rejects the chain. The server must send a current chain"
                    + (
                        " and the trustpoint must hold a current CA certificate."
                        if role == "anchor"
                        else "."
                    ),
                )
            )
        elif facts.is_not_yet_valid(now):
            findings.append(
                Finding(
                    "error",
                    "not-yet-valid",
                    facts.label,
                    f"The {role} certificate {facts.label} is not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC; "
                    "check the clocks of the server, this machine and the device.",
                )
            )
        elif facts.expires_within(warn_days, now):
            # The server replaces its leaf on its own, and the device never stores it.
            severity: Severity = "info" if role == "leaf" else "warning"
            findings.append(
                Finding(
                    severity,
                    "expiring",
                    facts.label,
                    f"The {role} certificate {facts.label} expires on {facts.not_after:%Y-%m-%d} "
                    f"({facts.days_left(now)} days left, warning window {warn_days} days).",
                )
            )
    return findings


def _unused_findings(
    chain: list[AnalysedCertificate], path: list[AnalysedCertificate]
) -> list[Finding]:
    on_path = {node.position for node in path if node.origin == "presented"}
    findings = [
        Finding(
            "info",
            "unused-certificate",
            node.facts.label,
            f"The server sent {node.facts.label} (position {node.position}) but the path to the anchor does not use it.",
        )
        for node in chain
        if node.position not in on_path
    ]
    positions = [node.position for node in path if node.position is not None]
    if positions != sorted(positions):
        findings.append(
            Finding(
                "info",
                "out-of-order",
                path[0].facts.label,
                "The server sends its chain out of order (RFC 8446 allows it).",
            )
        )
    return findings


def _check_trustpoints(
    trustpoints: Sequence[TrustpointCertificate],
    path: list[AnalysedCertificate],
    anchor: AnalysedCertificate | None,
    alternatives: tuple[AnalysedCertificate, ...],
    now: datetime,
    warn_days: int,
) -> tuple[list[TrustpointCheck], list[Finding], RecommendedTrustpoint | None]:
    # Under chain-validation stop a trustpoint with any CA of the chain anchors it. Rank each CA
    # by its height on the chain because the highest one lives longest. An alternative anchor
    # ranks where its cross-signed copy sits, which is below the anchor.
    ranked: list[AnalysedCertificate] = list(alternatives) + list(path[1:])
    if anchor is not None and all(node is not anchor for node in ranked):
        ranked.append(anchor)

    def rank_of(node: AnalysedCertificate) -> int | None:
        ranks = [index for index, candidate in enumerate(ranked) if candidate.same_ca(node)]
        return max(ranks) if ranks else None

    trustpoint_nodes: list[tuple[str, AnalysedCertificate | None]] = [
        (
            tp.name,
            AnalysedCertificate.of(tp.certificate, "trustpoint")
            if tp.certificate is not None
            else None,
        )
        for tp in trustpoints
    ]
    findings: list[Finding] = []
    # Sort key: still valid first, then highest on the chain, then first in the intent.
    candidates: list[tuple[bool, int, int, str, AnalysedCertificate]] = []
    roles: dict[str, TrustpointRole | None] = {}

    for order, (name, node) in enumerate(trustpoint_nodes):
        if node is None:
            roles[name] = None
            findings.append(
                Finding(
                    "info",
                    "no-certificate-file",
                    name,
                    f"Trustpoint {name} names no certificate file, so it was not checked.",
                )
            )
            continue
        facts = node.facts
        if facts.is_expired(now):
            findings.append(
                Finding(
                    "error",
                    "trustpoint-expired",
                    name,
                    f"Trustpoint {name} holds {facts.label}, which expired on {facts.not_after:%Y-%m-%d}.",
                )
            )
        elif facts.expires_within(warn_days, now):
            findings.append(
                Finding(
                    "warning",
                    "trustpoint-expiring",
                    name,
                    f"Trustpoint {name} holds {facts.label}, which expires on {facts.not_after:%Y-%m-%d} "
                    f"({facts.days_left(now)} days left). Plan its replacement.",
                )
            )
        if not facts.is_ca_certificate:
            roles[name] = "leaf"
            findings.append(
                Finding(
                    "warning",
                    "leaf-in-trustpoint",
                    name,
                    f"Trustpoint {name} holds {facts.label}, which is not a CA certificate. It works only until the "
                    "server rotates its certificate; import the issuing CA or its root instead.",
                )
            )
            continue
        rank = rank_of(node)
        if rank is None:
            roles[name] = "unrelated"
            findings.append(
                Finding(
                    "info",
                    "unrelated-trustpoint",
                    name,
                    f"Trustpoint {name} holds {facts.label}, which is not part of this server's chain.",
                )
            )
            continue
        candidates.append((not facts.is_expired(now), rank, -order, name, node))

    existing = None
    if candidates:
        candidates.sort(reverse=True)
        _, _, _, keep_name, keep_node = candidates[0]
        existing = RecommendedTrustpoint(keep_name, keep_node)
        roles[keep_name] = "anchor"
        for _, _, _, name, node in candidates[1:]:
            roles[name] = "unnecessary"
            findings.append(
                Finding(
                    "info",
                    "unnecessary-trustpoint",
                    name,
                    f"Trustpoint {name} ({node.facts.label}) is not needed: trustpoint {keep_name} "
                    f"({keep_node.facts.label}) already anchors the chain with chain-validation stop.",
                )
            )

    checks = [TrustpointCheck(name, node, roles.get(name)) for name, node in trustpoint_nodes]
    return checks, findings, existing
