"""Inspect certificate files: facts in IOS XE forms and the checks a trustpoint certificate must pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from models.certificate import (
    DEFAULT_WARN_DAYS,
    CertificateFacts,
    load_certificate_file,
)
from provisioner.certs.chain import Finding, Severity


@dataclass(frozen=True)
class InspectedCertificate:
    """One certificate of an inspected file and what is wrong with it as a trustpoint CA certificate."""

    facts: CertificateFacts
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Inspection:
    """Result of :func:`inspect_file`.

    Attributes:
        path: the file inspected.
        certificates: the certificates in file order.
        findings: file-level findings, e.g. several certificates where a trustpoint takes one.
    """

    path: Path
    certificates: tuple[InspectedCertificate, ...]
    findings: tuple[Finding, ...]

    @property
    def all_findings(self) -> tuple[Finding, ...]:
        """File-level findings followed by those of each certificate."""
        result = list(self.findings)
        for certificate in self.certificates:
            result.extend(certificate.findings)
        return tuple(result)

    @property
    def worst_severity(self) -> Severity | None:
        """The maximum severity among the findings, or None when there is none."""
        found = {finding.severity for finding in self.all_findings}
        severities: tuple[Severity, ...] = ("error", "warning", "info")
        for severity in severities:
            if severity in found:
                return severity
        return None


def check_ca_facts(
    facts: CertificateFacts,
    *,
    allow_non_ca: bool = False,
    now: datetime | None = None,
    warn_days: int = DEFAULT_WARN_DAYS,
) -> list[Finding]:
    """Check one certificate as a trustpoint CA certificate.

    Args:
        facts: the certificate's facts.
        allow_non_ca: report a leaf certificate as a warning instead of an error.
        now: the time to check validity against; defaults to the current time (UTC).
        warn_days: a certificate that ends within this many days gets a warning.

    Returns:
        Findings: ``not-ca``, ``expired``, ``not-yet-valid`` or ``expiring``.
    """
    now = now or datetime.now(UTC)
    findings = []
    if not facts.is_ca_certificate:
        reason = (
            "basicConstraints CA:FALSE or missing"
            if not facts.is_ca
            else "keyUsage without keyCertSign"
        )
        findings.append(
            Finding(
                "warning" if allow_non_ca else "error",
                "not-ca",
                facts.label,
                f"{facts.label} is not a CA certificate ({reason}). In a trustpoint it works only until the "
                "server rotates its certificate (leaf certificates often live about 3 months); import the "
                "issuing CA or its root instead.",
            )
        )
    if facts.is_expired(now):
        findings.append(
            Finding(
                "error",
                "expired",
                facts.label,
                f"{facts.label} expired on {facts.not_after:%Y-%m-%d %H:%M} UTC.",
            )
        )
    elif facts.is_not_yet_valid(now):
        findings.append(
            Finding(
                "error",
                "not-yet-valid",
                facts.label,
                f"{facts.label} is not valid before {facts.not_before:%Y-%m-%d %H:%M} UTC.",
            )
        )
    elif facts.expires_within(warn_days, now):
        findings.append(
            Finding(
                "warning",
                "expiring",
                facts.label,
                f"{facts.label} expires on {facts.not_after:%Y-%m-%d} ({facts.days_left(now)} days left, "
                f"warning window {warn_days} days).",
            )
        )
    return findings


def inspect_file(
    path: Path,
    *,
    allow_non_ca: bool = False,
    now: datetime | None = None,
    warn_days: int = DEFAULT_WARN_DAYS,
) -> Inspection:
    """Read a PEM or DER file and check each certificate in it as a trustpoint CA certificate.

    Raises:
        InputError: the file cannot be read or contains no certificate.
    """
    certificates = load_certificate_file(path)

    inspected = []
    for certificate in certificates:
        facts = CertificateFacts.from_certificate(certificate)
        findings = check_ca_facts(facts, allow_non_ca=allow_non_ca, now=now, warn_days=warn_days)
        inspected.append(InspectedCertificate(facts, tuple(findings)))

    file_findings = []
    if len(certificates) > 1:
        file_findings.append(
            Finding(
                "info",
                "several-certificates",
                str(path),
                f"{path} contains {len(certificates)} certificates. A trustpoint takes one, so give each trustpoint its own file.",
            )
        )
    return Inspection(path, tuple(inspected), tuple(file_findings))


def facts_lines(facts: CertificateFacts) -> list[str]:
    """Format a certificate's facts as lines for a terminal, close to ``show crypto pki certificates verbose``."""
    usage = ", ".join(facts.key_usage) if facts.has_key_usage else "(no keyUsage extension)"
    lines = [
        f"Subject:               {facts.subject_ios}",
        f"Issuer:                {facts.issuer_ios}",
        f"Serial Number (hex):   {facts.serial}",
        f"Validity:              {facts.not_before:%Y-%m-%d %H:%M:%S} UTC to {facts.not_after:%Y-%m-%d %H:%M:%S} UTC",
        f"CA:                    {'TRUE' if facts.is_ca else 'FALSE'}"
        + (f" (path length {facts.path_length})" if facts.path_length is not None else "")
        + (" self-signed" if facts.self_signed else ""),
        f"Key Usage:             {usage}",
    ]
    if facts.extended_key_usage:
        lines.append(f"Extended Key Usage:    {', '.join(facts.extended_key_usage)}")
    lines.extend(
        [
            f"Public Key:            {facts.public_key}",
            f"Signature Algorithm:   {facts.signature_algorithm}",
            f"Fingerprint MD5:       {facts.fingerprint_md5}",
            f"Fingerprint SHA1:      {facts.fingerprint_sha1}",
            f"Fingerprint SHA256:    {facts.fingerprint_sha256}",
        ]
    )
    return lines
