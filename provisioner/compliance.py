"""Compliance checks: drift, certificate expiry and mail policy per device, read-only.

A check sends only get-config and ``<get>``: it never locks, edits or commits. Each device gets
one result with three checks (``drift``, ``certificate-expiry``, ``policy``); a device that
cannot be read gets the error in every check, so reports still list it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography import x509

from models.certificate import serial_number
from models.checks import BUILTIN_VARIABLES
from models.eem import MailServer
from models.intent import Intent
from models.inventory import Host
from payloads.filters import managed_lists_filter, owned_filter, pki_oper_filter
from payloads.native_xml import owned_objects
from payloads.objects import ObjectKey
from payloads.readback import DeviceConfig, InstalledCertificate, read_config, read_pki_oper
from provisioner import logsafe
from provisioner.certs.chain import ChainAnalysis, TrustpointCertificate, analyse_chain
from provisioner.diff import Plan, compare, mask_value
from provisioner.errors import DeviceError, DeviceRefusedError
from provisioner.fleet import DeviceRun, FleetResult, ProgressCallback, run_fleet, run_in_thread
from provisioner.releases import batch_with_library, release_profile
from provisioner.transport import open_session
from provisioner.transport.base import Session, request, unwrap

logger = logging.getLogger(__name__)

CheckName = Literal["drift", "certificate-expiry", "policy"]
CHECKS: tuple[CheckName, ...] = ("drift", "certificate-expiry", "policy")
Status = Literal["ok", "warning", "failed", "error"]

DEFAULT_WARN_DAYS = 90
DEFAULT_FAIL_DAYS = 30
DEFAULT_DEVICE_TIMEOUT = 60.0

_SERVER_STRING = re.compile(r"^(?P<user>[^:\s]+):(?P<password>[^\s]*)@(?P<host>[^@\s]+)$")
_REFERENCE = re.compile(r"^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$")


@dataclass(frozen=True)
class ComplianceFinding:
    """One problem a check found.

    Attributes:
        check: the check that found it.
        severity: ``warning`` (act soon) or ``failure`` (broken or about to break).
        code: stable identifier, e.g. ``drift``, ``certificate-expiring``, ``mail-without-tls``.
        subject: the object it is about, e.g. ``crypto pki trustpoint CA-Root``.
        message: a full sentence with what to do; secrets masked.
    """

    check: CheckName
    severity: Literal["warning", "failure"]
    code: str
    subject: str
    message: str


@dataclass(frozen=True)
class CertificateExpiry:
    """When the CA certificate of one trustpoint ends, and where that date came from.

    Attributes:
        source: ``pki-oper`` (read from the device) or ``intent file`` (the device could not
            show it, so the intent's certificate file was used).
    """

    trustpoint: str
    serial: str | None
    not_after: datetime
    days_left: int
    source: Literal["pki-oper", "intent file"]


@dataclass
class DeviceCompliance:
    """The result of checking one device.

    Attributes:
        device: the inventory name.
        plan: the diff between intent and device, or None when the device could not be read.
        findings: every finding of every check.
        certificates: expiry per trustpoint certificate that could be dated.
        notes: what could not be checked and why.
        error: why the device could not be checked, or None.
    """

    device: str
    plan: Plan | None = None
    findings: list[ComplianceFinding] = field(default_factory=list)
    certificates: list[CertificateExpiry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def status(self, check: CheckName) -> Status:
        """Return the outcome of one check."""
        if self.error is not None:
            return "error"
        severities = {finding.severity for finding in self.findings if finding.check == check}
        if "failure" in severities:
            return "failed"
        return "warning" if severities else "ok"

    def findings_of(self, check: CheckName) -> list[ComplianceFinding]:
        """Return the findings of one check."""
        return [finding for finding in self.findings if finding.check == check]

    @property
    def drifted(self) -> bool:
        """True when the device differs from the intent."""
        return bool(self.findings_of("drift"))


@dataclass(frozen=True)
class CheckOptions:
    """Settings of a compliance run.

    Attributes:
        warn_days: certificates ending within this many days give a warning.
        fail_days: certificates ending within this many days (or expired) give a failure.
        chain: the SMTP server's certificate chain, leaf first, as saved by ``certs fetch``;
            when given, some trustpoint on the device must hold a CA certificate of it.
        now: the time to check validity against; defaults to the current time (UTC).
    """

    warn_days: int = DEFAULT_WARN_DAYS
    fail_days: int = DEFAULT_FAIL_DAYS
    chain: Sequence[x509.Certificate] = ()
    now: datetime | None = None

    def __post_init__(self) -> None:
        if self.fail_days < 0 or self.warn_days < self.fail_days:
            raise ValueError(
                f"the expiry windows are inconsistent: warn {self.warn_days} days, fail {self.fail_days} days; "
                "the warning window must be at least as long as the failure window, and both not negative"
            )


SessionFactory = Callable[[Host], Session]


def check_device(
    intent: Intent,
    host: Host,
    options: CheckOptions | None = None,
    *,
    timeout: float = DEFAULT_DEVICE_TIMEOUT,
    session_factory: SessionFactory | None = None,
) -> DeviceCompliance:
    """Read one device (get-config and ``<get>`` only) and run every check.

    Device errors end up in ``result.error``; nothing is raised for them.
    """
    options = options or CheckOptions()
    logsafe.register_secrets(intent.secrets())
    result = DeviceCompliance(host.name)
    factory = session_factory or (lambda target: open_session(target, timeout=timeout))
    try:
        device, installed, oper_error = _read(intent, host, factory, result)
    except DeviceError as error:
        result.error = str(error)
        # Logged at INFO because the result carries the error and every report shows it.
        logger.info("%s: check failed: %s", host.name, error)
        return result
    now = options.now or datetime.now(UTC)
    if oper_error is not None:
        result.notes.append(f"pki-oper could not be read ({oper_error}); expiry dates come from the intent's certificate files")
    result.findings.extend(_drift(intent, result.plan, installed))
    result.certificates = _expiry_dates(intent, installed, now, result.notes)
    result.findings.extend(_expiry_findings(result.certificates, options))
    result.findings.extend(policy_findings(intent, device))
    if options.chain:
        result.findings.extend(_chain_findings(intent, installed, options, now))
    return result


def _read(
    intent: Intent, host: Host, factory: SessionFactory, result: DeviceCompliance
) -> tuple[DeviceConfig, dict[str, list[InstalledCertificate]] | None, str | None]:
    with factory(host) as session:
        library, (data, pki) = batch_with_library(
            session, [request("get_config", "running", _check_filter(intent)), request("get", pki_oper_filter([]))]
        )
        profile = release_profile(session, library)
    device = read_config(unwrap(data))
    result.plan = compare(intent, device, profile)
    installed: dict[str, list[InstalledCertificate]] | None = None
    oper_error = None
    if isinstance(pki, DeviceRefusedError):
        # Some platforms lack Cisco-IOS-XE-crypto-pki-oper (cat9200 from 17.15).
        oper_error = str(pki)
    else:
        installed = read_pki_oper(unwrap(pki))
    return device, installed, oper_error


def _check_filter(intent: Intent) -> object:
    """Select the owned objects plus every variable the applets reference, for the policy checks."""
    if intent.ownership.managed_prefix is not None:
        return managed_lists_filter()
    keys = list(owned_objects(intent))
    keys.extend(ObjectKey("environment", name) for name in sorted(_referenced(intent)) if name not in intent.environment)
    return owned_filter(keys)


def _referenced(intent: Intent) -> set[str]:
    names: set[str] = set()
    for applet in intent.applets:
        for action in applet.actions:
            names |= action.references()
    return names - BUILTIN_VARIABLES


def _drift(intent: Intent, plan: Plan | None, installed: dict[str, list[InstalledCertificate]] | None) -> list[ComplianceFinding]:
    assert plan is not None
    findings = []
    for change in plan.modelled_changes:
        parts = ", ".join(f"{item.item} {item.kind}" for item in change.items()) or change.kind
        verb = {"add": "is missing on the device", "remove": "is not in the intent and will be pruned"}.get(
            change.kind, f"differs ({parts})"
        )
        findings.append(ComplianceFinding("drift", "failure", f"drift-{change.kind}", str(change.key), f"{change.key} {verb}; run apply."))
    if plan.cli_lines and plan.device_cli_digest is not None and plan.device_cli_digest != plan.cli_digest:
        findings.append(
            ComplianceFinding(
                "drift", "failure", "drift-cli", "config-ios-cli-rpc",
                "the lines sent through config-ios-cli-rpc (mail actions, certificates) changed since the last apply; run apply.",
            )
        )
    elif plan.cli_lines and plan.device_cli_digest is None:
        findings.append(
            ComplianceFinding(
                "drift", "failure", "drift-cli", "config-ios-cli-rpc",
                "the device has no record of the config-ios-cli-rpc lines (mail actions, certificates); run apply.",
            )
        )
    for key in plan.strays:
        findings.append(
            ComplianceFinding("drift", "warning", "stray", str(key), f"{key} is under the managed prefix but not in the intent.")
        )
    for name, reason in plan.unreadable.items():
        findings.append(ComplianceFinding("drift", "failure", "unreadable", name, f"{name} could not be read: {reason}."))
    if installed is not None:
        for trustpoint in intent.trustpoints:
            if trustpoint.ca_der is None:
                continue
            wanted = serial_number(x509.load_der_x509_certificate(trustpoint.ca_der))
            if not any(entry.serial == wanted for entry in installed.get(trustpoint.name, [])):
                findings.append(
                    ComplianceFinding(
                        "drift", "failure", "certificate-missing", f"crypto pki certificate chain {trustpoint.name}",
                        f"trustpoint {trustpoint.name} does not hold the CA certificate with serial {wanted:X} "
                        "from the intent; run apply.",
                    )
                )
    return findings


def _expiry_dates(
    intent: Intent, installed: dict[str, list[InstalledCertificate]] | None, now: datetime, notes: list[str]
) -> list[CertificateExpiry]:
    dates = []
    names = [trustpoint.name for trustpoint in intent.trustpoints] + list(intent.existing_trustpoints)
    files = {trustpoint.name: trustpoint.ca_der for trustpoint in intent.trustpoints}
    for name in names:
        entries = [entry for entry in (installed or {}).get(name, []) if entry.not_after is not None]
        for entry in entries:
            assert entry.not_after is not None
            serial = None if entry.serial is None else f"{entry.serial:X}"
            dates.append(CertificateExpiry(name, serial, entry.not_after, _days(entry.not_after, now), "pki-oper"))
        if entries:
            continue
        der = files.get(name)
        if der is not None:
            certificate = x509.load_der_x509_certificate(der)
            end = certificate.not_valid_after_utc
            dates.append(CertificateExpiry(name, f"{serial_number(certificate):X}", end, _days(end, now), "intent file"))
        else:
            notes.append(f"trustpoint {name}: no certificate date on the device or in the intent, so its expiry was not checked")
    return dates


def _days(end: datetime, now: datetime) -> int:
    return (end - now) // timedelta(days=1)


def _expiry_findings(dates: list[CertificateExpiry], options: CheckOptions) -> list[ComplianceFinding]:
    findings = []
    for date in dates:
        subject = f"crypto pki trustpoint {date.trustpoint}"
        when = f"{date.not_after:%Y-%m-%d}"
        if date.days_left < 0:
            findings.append(
                ComplianceFinding(
                    "certificate-expiry", "failure", "certificate-expired", subject,
                    f"the CA certificate of {date.trustpoint} expired on {when}; TLS to the SMTP server fails until it is replaced.",
                )
            )
        elif date.days_left <= options.fail_days:
            findings.append(
                ComplianceFinding(
                    "certificate-expiry", "failure", "certificate-expiring", subject,
                    f"the CA certificate of {date.trustpoint} expires on {when} ({date.days_left} days left, "
                    f"failure window {options.fail_days} days); replace it now.",
                )
            )
        elif date.days_left <= options.warn_days:
            findings.append(
                ComplianceFinding(
                    "certificate-expiry", "warning", "certificate-expiring", subject,
                    f"the CA certificate of {date.trustpoint} expires on {when} ({date.days_left} days left, "
                    f"warning window {options.warn_days} days); plan its replacement.",
                )
            )
    return findings


def _device_value(intent: Intent, device: DeviceConfig, text: str) -> tuple[str | None, str | None]:
    """Resolve a mail argument: return (value, variable name); the device's value wins."""
    match = _REFERENCE.match(text)
    if match is None:
        return (text if "$" not in text else None), None
    name = match.group(1)
    if name in device.environment:
        return device.environment[name], name
    value = intent.environment.get(name)
    if isinstance(value, MailServer):
        return value.server_string(), name
    return value, name


def policy_findings(intent: Intent, device: DeviceConfig) -> list[ComplianceFinding]:
    """Check each mail action of the intent against the values the device holds.

    The device's values are used because the checks at intent load time cannot see a variable
    that someone changed on the device, or one the intent only references.
    """
    findings: list[ComplianceFinding] = []
    for applet in intent.applets:
        defined = set(BUILTIN_VARIABLES)
        # An applet missing on the device is a drift finding already, and none of its actions
        # can run, so its variables are not reported again.
        applet_on_device = applet.name in device.applets
        for action in applet.actions:
            subject = f"event manager applet {applet.name} action {action.label}"
            for name in sorted(action.references() - defined):
                if applet_on_device and name not in device.environment:
                    findings.append(
                        ComplianceFinding(
                            "policy", "failure", "undefined-variable", subject,
                            f"action {action.label} of {applet.name} uses ${name}, {_missing_variable_advice(intent, name)}",
                        )
                    )
            defined |= action.defines()
            if action.mail is not None:
                findings.extend(_mail_findings(intent, device, subject, action.mail))
    return findings


def _missing_variable_advice(intent: Intent, name: str) -> str:
    """Return why a variable the device lacks is missing and what to do, after where it is used."""
    if name in intent.environment:
        return "which the intent defines but the device lacks; run apply."
    if name in intent.provided_variables:
        return (
            f"which the intent lists under provided_variables but the device does not define; set it on the "
            f"device (event manager environment {name} ...) or move it under environment in the intent and run apply."
        )
    return "which the device does not define; add it under environment in the intent and run apply."


def _mail_findings(intent: Intent, device: DeviceConfig, subject: str, mail: object) -> list[ComplianceFinding]:
    from models.actions import MailAction

    assert isinstance(mail, MailAction)
    findings = []
    if mail.secure != "tls":
        findings.append(
            ComplianceFinding(
                "policy", "failure", "mail-without-tls", subject,
                f"the mail action sends on port {mail.port} without secure tls, so the mail (and any SMTP "
                "credentials) cross the network in clear text; set secure: tls.",
            )
        )
    server_value, server_name = _device_value(intent, device, mail.server)
    parsed = _SERVER_STRING.match(server_value or "")
    where = f"${server_name}" if server_name else "the server argument"
    if server_value is not None and server_value.count("@") > 1:
        findings.append(
            ComplianceFinding(
                "policy", "failure", "at-sign-in-account", subject,
                f"{where} on the device is {mask_value(server_value)}, which has more than one '@'; IOS XE splits "
                "the server string at the first '@', so the host part is wrong. Use an account name without '@'.",
            )
        )
        return findings
    if parsed is None:
        return findings
    if mail.port != 587:
        findings.append(
            ComplianceFinding(
                "policy", "failure", "credentials-not-on-587", subject,
                f"the mail action authenticates with {where} but sends to port {mail.port}; use the submission "
                "port 587 with secure tls for authenticated mail.",
            )
        )
    sender, _ = _device_value(intent, device, mail.sender)
    account = parsed.group("user")
    if sender is not None and not mail.allow_send_as and sender.split("@", 1)[0].lower() != account.lower():
        findings.append(
            ComplianceFinding(
                "policy", "failure", "from-not-account", subject,
                f"the mail action sends from {sender}, but the account that authenticates is {account}; the "
                "server rejects or rewrites such mail. Send from the account's own address.",
            )
        )
    return findings


def _chain_findings(
    intent: Intent, installed: dict[str, list[InstalledCertificate]] | None, options: CheckOptions, now: datetime
) -> list[ComplianceFinding]:
    """Check that a trustpoint on the device holds a CA certificate of the server's chain."""
    trustpoints = []
    for trustpoint in intent.trustpoints:
        if trustpoint.ca_der is None:
            continue
        certificate = x509.load_der_x509_certificate(trustpoint.ca_der)
        on_device = installed is None or any(
            entry.serial == serial_number(certificate) for entry in installed.get(trustpoint.name, [])
        )
        if on_device:
            trustpoints.append(TrustpointCertificate(trustpoint.name, certificate))
    analysis = analyse_chain(options.chain, trustpoints=trustpoints, now=now, warn_days=options.warn_days)
    if any(check.role == "anchor" for check in analysis.trustpoints) or _installed_anchor(analysis, installed):
        return []
    advice = ""
    if analysis.recommended:
        recommended = analysis.recommended[0]
        advice = f" Add trustpoint {recommended.name} with {recommended.certificate.facts.label} to the intent and run apply."
    return [
        ComplianceFinding(
            "policy", "failure", "no-trustpoint-for-anchor", "crypto pki trustpoint",
            "no trustpoint on the device holds a CA certificate of the SMTP server's chain, so the TLS handshake "
            f"fails with a bad_certificate alert.{advice}",
        )
    ]


def _installed_anchor(analysis: ChainAnalysis, installed: dict[str, list[InstalledCertificate]] | None) -> bool:
    """Return True when any trustpoint on the device holds, byte for byte, a CA of the chain's path."""
    if not installed:
        return False
    fingerprints = {
        hashlib.md5(node.der, usedforsecurity=False).hexdigest().upper()
        for node in [*analysis.path[1:], *analysis.anchors_reached]
    }
    return any(entry.md5 in fingerprints for entries in installed.values() for entry in entries)


def check_devices(
    intent: Intent,
    hosts: Sequence[Host],
    options: CheckOptions | None = None,
    *,
    timeout: float = DEFAULT_DEVICE_TIMEOUT,
    workers: int = 8,
    session_factory: SessionFactory | None = None,
) -> list[DeviceCompliance]:
    """Check many devices, at most ``workers`` at a time, each within ``timeout`` seconds.

    Returns one result per host, in order. A device that has not finished in time gets an error
    result and the others go on. Its worker thread is a daemon left to end on its own: the
    NETCONF session has the same timeout for connect and each RPC, so it stops soon after.
    :func:`check_fleet` returns the same results with their run states and takes a progress
    callback and a stop event.
    """
    fleet = check_fleet(intent, hosts, options, timeout=timeout, workers=workers, session_factory=session_factory)
    return [_compliance(run) for run in fleet.devices]


def check_fleet(
    intent: Intent,
    hosts: Sequence[Host],
    options: CheckOptions | None = None,
    *,
    timeout: float = DEFAULT_DEVICE_TIMEOUT,
    workers: int | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    session_factory: SessionFactory | None = None,
) -> FleetResult[DeviceCompliance]:
    """Check many devices through the fleet runner; each run's ``result`` is its DeviceCompliance.

    A device that could not be checked ends ``failed`` (its result holds the error), one past
    ``timeout`` ends ``timed-out`` with no result. See :func:`provisioner.fleet.run_fleet` for
    ``workers`` (default one thread per device, up to 32), ``on_progress`` and ``stop``.

    Raises:
        FleetInterrupted: Ctrl-C; it carries the result of every device.
    """

    def task(host: Host) -> DeviceCompliance:
        return check_device(intent, host, options, timeout=timeout, session_factory=session_factory)

    return run_fleet(
        hosts, task, workers=workers, timeout=timeout, failure=lambda result: result.error,
        on_progress=on_progress, stop=stop,
    )


def _compliance(run: DeviceRun[DeviceCompliance]) -> DeviceCompliance:
    """Return the run's result, or a result that carries why the device has none."""
    if run.result is not None:
        return run.result
    return DeviceCompliance(run.device, error=run.error)


async def acheck_fleet(intent: Intent, hosts: Sequence[Host], *args: Any, **options: Any) -> FleetResult[DeviceCompliance]:
    """Run :func:`check_fleet` in a thread; cancelling stops it as a ``stop`` event does.

    ``on_progress`` is then called in that thread, not in the event loop's.
    """
    return await run_in_thread(check_fleet, intent, hosts, *args, **options)
