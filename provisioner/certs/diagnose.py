"""Diagnose a failed EEM mail from IOS XE debug output: which issuer certificates the device lacked.

Input is what ``debug crypto pki API/callbacks/validation/transactions``, ``debug ssl openssl
errors/msg/states`` and ``debug event manager action mail`` print on IOS XE 17.x while the
applet runs. The lines this module reads (timestamps removed)::

    CRYPTO_PKI(Cert Lookup) issuer="cn=GTS CA 1C3,o=Google Trust Services LLC,c=US" serial number= 52 87 ...
    CRYPTO_PKI: Unable to locate cert record by issuername
    CRYPTO_PKI: (A0693) No suitable trustpoints found
    CRYPTO_OPSSL: Certificate verification has failed
    >>> TLS 1.2 Alert [length 0002], fatal bad_certificate
    %HA_EM-3-FMPD_SMTP: Error occurred when sending mail to SMTP server: user:pass@host : error in connecting to SMTP server
    %HA_EM-3-FMPD_ERROR: Error executing applet NAME statement 0010

Each ``Cert Lookup`` line names the issuer and serial of one certificate the server presented,
so the issuers, in order, are the CA certificates of the chain from the leaf's issuer upwards.
When validation fails, none of them is in a trustpoint, and one trustpoint holding the topmost
issuer (with ``chain-validation stop``) fixes it. The lookups of the device's own certificate
between ``Begin local cert chain retrieval`` and ``Done with local cert chain fetch`` are skipped.

The mail server string in ``%HA_EM-3-FMPD_SMTP`` contains the SMTP password, so every result of
this module masks it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509

from models.certificate import CertificateFacts, ios_name
from models.errors import InputError
from provisioner.certs.chain import Finding

logger = logging.getLogger(__name__)

Outcome = Literal["failed", "succeeded", "unknown"]

_LOOKUP = re.compile(r'CRYPTO_PKI\(Cert Lookup\) issuer="([^"]*)" serial number= ?([0-9A-Fa-f ]*)')
_LOCAL_CHAIN_START = re.compile(r"CRYPTO_PKI: Begin local cert chain retrieval")
_LOCAL_CHAIN_END = re.compile(r"CRYPTO_PKI: Done with local cert chain fetch")
_NO_TRUSTPOINT = re.compile(
    r"No suitable trustpoints found|No trust point for cert issuer|Unable to locate cert record by issuername"
)
_FAILED = re.compile(
    r"CRYPTO_OPSSL: Certificate verification has failed|Certificate validation failed"
)
_SUCCEEDED = re.compile(
    r"CRYPTO_OPSSL: Certificate verification is successful|Certificate validation succeeded"
)
_ANCHORED = re.compile(r"chain cert was anchored to trustpoint ([^\s,]+)|Validation TP is (\S+)")
_ALERT = re.compile(
    r"TLS [0-9.]+ Alert \[length [0-9A-Fa-f]+\], (fatal|warning) (\w+)|SSL3 alert (?:write|read):(fatal|warning):([\w ]+)"
)
_VERIFY_ERROR = re.compile(r"error:[0-9A-Fa-f]+:SSL routines:\w+:([^:]+):")
_EEM_SMTP = re.compile(r"%HA_EM-3-FMPD_SMTP: (.*)")
_EEM_ERROR = re.compile(r"%HA_EM-3-FMPD_ERROR: Error executing applet (\S+) statement (\S+)")
_SERVER_STRING = re.compile(r"(SMTP server: )(\S+)( :)")


@dataclass(frozen=True)
class CertLookup:
    """One ``CRYPTO_PKI(Cert Lookup)`` line: a presented certificate, by its issuer and serial.

    Attributes:
        issuer: the issuer in IOS XE form, e.g. ``cn=GTS Root R1,o=Google Trust Services LLC,c=US``.
        serial: the certificate's serial in IOS XE form (uppercase hex, no spaces).
        line: 1-based line number in the log.
    """

    issuer: str
    serial: str
    line: int


@dataclass
class ValidationAttempt:
    """The lookups and outcome of one chain validation in the log.

    Attributes:
        lookups: the ``Cert Lookup`` lines of the server's chain, in log order.
        outcome: ``failed``, ``succeeded`` or ``unknown`` when the log ends first.
        trustpoint: the trustpoint the device anchored the chain to, on success.
        no_trustpoint: True when the device logged that it found no trustpoint for an issuer.
        first_line: line number of the first lookup.
    """

    lookups: list[CertLookup] = field(default_factory=list)
    outcome: Outcome = "unknown"
    trustpoint: str | None = None
    no_trustpoint: bool = False
    first_line: int = 0

    @property
    def issuers(self) -> list[str]:
        """Distinct issuer names in the order the device looked them up (leaf's issuer first)."""
        seen: list[str] = []
        for lookup in self.lookups:
            if lookup.issuer not in seen:
                seen.append(lookup.issuer)
        return seen


@dataclass(frozen=True)
class IssuerCandidate:
    """An issuer the device lacked, and the anchor certificate with that subject, when one is known."""

    issuer: str
    certificate: x509.Certificate | None
    facts: CertificateFacts | None


@dataclass(frozen=True)
class Diagnosis:
    """Result of :func:`diagnose_log`.

    Attributes:
        source: the log file name.
        attempts: every chain validation found, in log order.
        missing_issuers: issuers the device looked up and found in no trustpoint, leaf's issuer
            first; empty when the last validation succeeded.
        recommended: the issuer a trustpoint should hold (the topmost one found in the anchors,
            else the topmost one), or None when nothing is missing.
        candidates: each missing issuer with its certificate from the anchor set, if present.
        findings: what needs action, most severe first.
        mail_errors: ``%HA_EM-3-FMPD_SMTP`` and ``FMPD_ERROR`` messages, with the password masked.
        servers: mail server host names seen in the messages.
    """

    source: str
    attempts: tuple[ValidationAttempt, ...]
    missing_issuers: tuple[str, ...]
    recommended: IssuerCandidate | None
    candidates: tuple[IssuerCandidate, ...]
    findings: tuple[Finding, ...]
    mail_errors: tuple[str, ...]
    servers: tuple[str, ...]


def mask_server_string(value: str) -> str:
    """Mask the password in ``user:password@host``, keeping the user and the host.

    Everything between the first ``:`` and the last ``@`` is masked, so a password holding
    ``@`` or ``:`` does not leak either.
    """
    user, separator, rest = value.partition(":")
    if not separator or "@" not in rest:
        return value
    host = rest.rsplit("@", 1)[1]
    return f"{user}:****@{host}"


def diagnose_text(
    text: str, *, source: str = "<log>", anchors: Sequence[x509.Certificate] = ()
) -> Diagnosis:
    """Read IOS XE debug output and find the issuer certificates the device did not have.

    Args:
        text: the log.
        source: its name, for messages.
        anchors: certificates to look the missing issuers up in (e.g. certifi's bundle).

    Returns:
        The diagnosis; the password of any mail server string is masked.

    Raises:
        InputError: the text has none of the lines this module reads.
    """
    attempts: list[ValidationAttempt] = []
    current: ValidationAttempt | None = None
    in_local_chain = False
    alerts: list[str] = []
    mail_errors: list[str] = []
    servers: list[str] = []
    findings: list[Finding] = []
    recognised = 0

    for number, line in enumerate(text.splitlines(), start=1):
        if _LOCAL_CHAIN_START.search(line):
            in_local_chain = True
            recognised += 1
            continue
        if _LOCAL_CHAIN_END.search(line):
            in_local_chain = False
            continue

        lookup = _LOOKUP.search(line)
        if lookup and not in_local_chain:
            recognised += 1
            if current is None or current.outcome != "unknown":
                current = ValidationAttempt(first_line=number)
                attempts.append(current)
            current.lookups.append(
                CertLookup(
                    lookup.group(1).strip(), lookup.group(2).replace(" ", "").upper(), number
                )
            )
            continue

        if current is not None and current.outcome == "unknown":
            if _NO_TRUSTPOINT.search(line):
                current.no_trustpoint = True
                recognised += 1
            anchored = _ANCHORED.search(line)
            if anchored:
                current.trustpoint = anchored.group(1) or anchored.group(2)
            if _FAILED.search(line):
                current.outcome = "failed"
                recognised += 1
            elif _SUCCEEDED.search(line):
                current.outcome = "succeeded"
                recognised += 1

        alert = _ALERT.search(line)
        if alert:
            recognised += 1
            level = alert.group(1) or alert.group(3)
            description = (alert.group(2) or alert.group(4) or "").strip().replace(" ", "_")
            alerts.append(f"{level} {description}")
        verify_error = _VERIFY_ERROR.search(line)
        if verify_error:
            recognised += 1
            alerts.append(verify_error.group(1))

        smtp = _EEM_SMTP.search(line)
        if smtp:
            recognised += 1
            message = smtp.group(1)
            server = _SERVER_STRING.search(message)
            if server:
                findings.extend(_server_string_findings(server.group(2), number, source))
                servers.append(server.group(2).rsplit("@", 1)[-1])
                message = message.replace(server.group(2), mask_server_string(server.group(2)))
            mail_errors.append(f"line {number}: %HA_EM-3-FMPD_SMTP: {message}")
        eem_error = _EEM_ERROR.search(line)
        if eem_error:
            recognised += 1
            mail_errors.append(
                f"line {number}: %HA_EM-3-FMPD_ERROR: applet {eem_error.group(1)} failed at action {eem_error.group(2)}"
            )

    if recognised == 0:
        raise InputError(
            f"{source}: no CRYPTO_PKI, TLS alert or %HA_EM line found. Capture the output of "
            "`event manager run APPLET` after `debug crypto pki validation`, `debug crypto pki transactions`, "
            "`debug ssl openssl errors`, `debug ssl openssl msg` and `debug event manager action mail`."
        )

    missing: list[str] = []
    last = attempts[-1] if attempts else None
    if (
        last is not None
        and last.outcome != "succeeded"
        and (last.outcome == "failed" or last.no_trustpoint)
    ):
        missing = last.issuers

    candidates = tuple(_find_issuer(issuer, anchors) for issuer in missing)
    recommended = _recommend(candidates)
    findings = _issuer_findings(last, missing, candidates, recommended, source) + findings
    if "fatal bad_certificate" in alerts and not missing:
        findings.append(
            Finding(
                "warning",
                "bad-certificate",
                source,
                "The device sent a fatal bad_certificate alert but the log has no CRYPTO_PKI lookups; "
                "capture again with `debug crypto pki validation` and `debug crypto pki transactions`.",
            )
        )
    if mail_errors and not findings:
        findings.append(
            Finding(
                "warning",
                "mail-failed",
                source,
                "The applet failed to send mail but certificate validation did not fail in this log; "
                "check the credentials, the 'from' address (it must be the authenticated account) and the port.",
            )
        )
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda finding: order[finding.severity])
    logger.debug(
        "%s: %d validation attempts, %d missing issuers", source, len(attempts), len(missing)
    )
    return Diagnosis(
        source=source,
        attempts=tuple(attempts),
        missing_issuers=tuple(missing),
        recommended=recommended,
        candidates=candidates,
        findings=tuple(findings),
        mail_errors=tuple(mail_errors),
        servers=tuple(dict.fromkeys(servers)),
    )


def diagnose_log(path: Path, *, anchors: Sequence[x509.Certificate] = ()) -> Diagnosis:
    """Read a log file and diagnose it; see :func:`diagnose_text`.

    Raises:
        InputError: the file cannot be read or has none of the lines this module reads.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise InputError(f"{path}: cannot read the log file: {error.strerror or error}") from None
    return diagnose_text(text, source=str(path), anchors=anchors)


def _normalise(name: str) -> str:
    return ",".join(part.strip() for part in name.lower().split(","))


def _find_issuer(issuer: str, anchors: Iterable[x509.Certificate]) -> IssuerCandidate:
    expected = _normalise(issuer)
    for certificate in anchors:
        if _normalise(ios_name(certificate.subject)) == expected:
            return IssuerCandidate(
                issuer, certificate, CertificateFacts.from_certificate(certificate)
            )
    return IssuerCandidate(issuer, None, None)


def _recommend(candidates: tuple[IssuerCandidate, ...]) -> IssuerCandidate | None:
    if not candidates:
        return None
    # IOS XE 17.x anchored the chain of Cisco's tech note to its topmost issuer (GlobalSign Root
    # CA), so that issuer comes first. A lower issuer found in the anchors is next best.
    # NOTE: that IOS XE accepts a lower, self-signed copy of a cross-signed CA (e.g. GTS Root R1)
    # with chain-validation stop was not tried on a device.
    if candidates[-1].certificate is not None:
        return candidates[-1]
    for candidate in reversed(candidates):
        if candidate.certificate is not None:
            return candidate
    return candidates[-1]


def _issuer_findings(
    last: ValidationAttempt | None,
    missing: list[str],
    candidates: tuple[IssuerCandidate, ...],
    recommended: IssuerCandidate | None,
    source: str,
) -> list[Finding]:
    findings = []
    if last is not None and last.outcome == "succeeded":
        anchored = f" to trustpoint {last.trustpoint}" if last.trustpoint else ""
        findings.append(
            Finding(
                "info",
                "validated",
                source,
                f"The last chain validation in the log succeeded{anchored} (line {last.first_line}).",
            )
        )
    if not missing or recommended is None:
        return findings
    names = "; ".join(missing)
    findings.append(
        Finding(
            "error",
            "issuer-not-found",
            source,
            f"The device found no trustpoint for the server's chain (line {last.first_line if last else 0}); "
            f"issuers it looked up: {names}.",
        )
    )
    top = candidates[-1]
    if recommended is top:
        message = f"Add one trustpoint holding {recommended.issuer}, the top of the chain, with chain-validation stop."
    else:
        message = (
            f"{top.issuer} is not in the anchor set, so get it from its CA's repository and check its "
            f"fingerprint; meanwhile {recommended.issuer} (in the anchor set) can anchor the chain with "
            "chain-validation stop."
        )
    if recommended.certificate is None:
        message += " Its certificate is not in the anchor set: download it from the CA, or run `provisioner certs fetch HOST`."
    findings.append(Finding("warning", "add-trustpoint", recommended.issuer, message))
    return findings


def _server_string_findings(server: str, line: int, source: str) -> list[Finding]:
    if server.count("@") <= 1:
        return []
    # IOS XE splits the server string at the first '@' (Cisco enhancement CSCwe75439, no fix
    # planned as of 2024), so "user@domain:password@host" makes the device connect to "domain:...".
    real_host = server.rsplit("@", 1)[1]
    if server.index("@") < server.find(":"):
        # The '@' is in the user name, so the text up to the next ':' is the user's domain, not a secret.
        wrong = f"host {server.split('@', 1)[1].split(':', 1)[0]!r}"
    else:
        wrong = "a host made of part of the password"
    return [
        Finding(
            "error",
            "at-sign-in-credentials",
            f"{source}:{line}",
            f"The mail server string has more than one '@'. IOS XE splits it at the first '@', so the device "
            f"tried to reach {wrong} instead of {real_host!r}. Use an account name and a password "
            "without '@' in _email_server.",
        )
    ]
