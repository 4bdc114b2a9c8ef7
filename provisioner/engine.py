"""Plan and apply an intent on one device over NETCONF.

The apply flow, for devices that advertise ``:candidate`` (IOS XE advertises it, but never
``:confirmed-commit``, and cisco-ia has no confirm RPC):

1. lock running, then candidate, and read the owned objects (the snapshot);
2. stop here, unlocking, if the device already matches the intent;
3. edit-config on candidate, validate, commit (discard-changes after any failure);
4. config-ios-cli-rpc for the lines no YANG model covers (the mail action). IOS XE applies
   them outside the NETCONF transaction, so they go after the commit: the environment
   variables and trustpoints the mail action needs then already exist;
5. poll ``cisco-ia:is-syncing`` until the native datastore has caught up with that CLI;
6. get-config and compare every owned object; on a mismatch restore the snapshot and verify it;
7. unlock candidate and running, always.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509
from lxml import etree

from models.eem import CLI_DIGEST_VARIABLE
from models.intent import Intent
from models.inventory import Host
from payloads import cli
from payloads import namespaces as ns
from payloads.filters import owned_filter, pki_oper_filter
from payloads.native_xml import NativeBuilder, owned_objects, render_edit
from payloads.objects import ObjectKey
from payloads.readback import read_config, read_pki_oper
from provisioner import logsafe
from provisioner.diff import Plan, compare
from provisioner.errors import (
    DeviceError,
    DeviceRefusedError,
    ProvisionerError,
    RpcErrorInfo,
    VerificationError,
)
from payloads.releases import ReleaseProfile
from provisioner.releases import release_profile
from provisioner.transport.netconf import CANDIDATE, NetconfSession

logger = logging.getLogger(__name__)

SessionFactory = Callable[[Host], NetconfSession]


@dataclass(frozen=True)
class ObjectReport:
    """The outcome of apply for one object, and the check that confirmed it."""

    name: str
    outcome: Literal["added", "changed", "unchanged", "pushed"]
    verified_by: str


@dataclass
class ApplyResult:
    """The outcome of apply on one device.

    Attributes:
        device: the inventory name.
        plan: what differed before the apply.
        changed: whether anything was sent to the device.
        objects: per object, what happened and how it was verified.
        error: the error that stopped the apply, if any; the device then has its previous
            owned configuration back unless the message says the restore failed.
    """

    device: str
    plan: Plan | None = None
    changed: bool = False
    objects: list[ObjectReport] = field(default_factory=list)
    error: ProvisionerError | None = None

    @property
    def failed(self) -> bool:
        """True when the apply stopped with an error."""
        return self.error is not None


def _default_session(host: Host) -> NetconfSession:
    return NetconfSession(host)


def plan_device(intent: Intent, host: Host, *, session_factory: SessionFactory = _default_session) -> Plan:
    """Read the owned objects from the device with one get-config and compare them with the intent.

    Raises:
        DeviceError: the device could not be reached or refused the read.
    """
    logsafe.register_secrets(intent.secrets())
    with session_factory(host) as session:
        profile = release_profile(session)
        data = session.get_config("running", owned_filter(owned_objects(intent)))
    return compare(intent, read_config(data), profile)


@contextmanager
def _locked(session: NetconfSession) -> Iterator[None]:
    session.lock("running")
    try:
        session.lock("candidate")
        try:
            yield
        finally:
            _quietly(session, "unlock candidate", lambda: session.unlock("candidate"))
    finally:
        _quietly(session, "unlock running", lambda: session.unlock("running"))


def _quietly(session: NetconfSession, what: str, step: Callable[[], None]) -> None:
    try:
        step()
    except DeviceError as error:
        logger.warning("%s: %s failed: %s", session.name, what, error)


def apply_device(
    intent: Intent,
    host: Host,
    *,
    session_factory: SessionFactory = _default_session,
    sync_timeout: float = 60.0,
) -> ApplyResult:
    """Make the device hold the intent, verify it, and restore the previous state on a mismatch.

    Returns an ApplyResult; device errors are reported in ``result.error``, not raised, so that a
    caller handling many devices gets one result per device.
    """
    logsafe.register_secrets(intent.secrets())
    result = ApplyResult(device=host.name)
    keys = list(owned_objects(intent))
    try:
        with session_factory(host) as session:
            if CANDIDATE not in session.capabilities:
                # TODO: apply on running with rollback-on-error for devices without :candidate.
                raise DeviceRefusedError(
                    host.name,
                    "hello",
                    [],
                    hint="the device does not advertise :candidate; enable it with "
                    "`netconf-yang feature candidate-datastore` (running-only apply is not implemented yet)",
                )
            with _locked(session):
                _apply_locked(session, intent, keys, result, sync_timeout)
    except ProvisionerError as error:
        result.error = error
        logger.error("%s: apply failed: %s", host.name, error)
    return result


def _apply_locked(session: NetconfSession, intent: Intent, keys: list[ObjectKey], result: ApplyResult, sync_timeout: float) -> None:
    profile = release_profile(session)
    snapshot = session.get_config("running", owned_filter(keys))
    plan = compare(intent, read_config(snapshot), profile)
    result.plan = plan
    if plan.in_sync:
        result.objects = _reports(plan)
        logger.info("%s: in sync, nothing sent", session.name)
        return

    values = owned_objects(intent)
    edits = [(change.key, values[change.key], "replace") for change in plan.modelled_changes]
    if edits:
        result.changed = True
        _commit(session, render_edit(edits, profile, reveal=True))

    if plan.cli_needed:
        result.changed = True
        try:
            _cli_rpc(session, cli.cli_rpc_text(plan.cli_lines))
        except DeviceError:
            _restore(session, snapshot, keys)
            raise
        _wait_for_sync(session, sync_timeout)

    differences = _differences(session, intent, keys, plan, profile)
    certificates = _certificate_checks(session, intent)
    differences.extend(problem for problem in certificates.values() if problem.startswith("/"))
    if differences:
        restored = _restore_and_verify(session, snapshot, keys)
        raise VerificationError(session.name, differences, restored)

    result.objects = _reports(plan, certificates)
    logger.info("%s: applied and verified", session.name)


def _reports(plan: Plan, certificates: dict[str, str] | None = None) -> list[ObjectReport]:
    """Say per object what was done and how it was verified.

    Args:
        certificates: trustpoint name -> how its CA certificate was verified.
    """
    outcomes = {"add": "added", "change": "changed", "unchanged": "unchanged"}
    reports = [ObjectReport(str(change.key), outcomes[change.kind], "get-config") for change in plan.changes]  # type: ignore[arg-type]
    how = "cli-rpc digest (get-config cannot show these lines; the digest proves the RPC ran to its end)"
    outcome = "pushed" if plan.cli_needed else "unchanged"
    applet = ""
    for line in plan.cli_lines:
        if line.startswith("event manager applet "):
            applet = line
        elif line.startswith("crypto pki certificate chain "):
            name = line.split()[-1]
            verified = (certificates or {}).get(name, how)
            reports.append(ObjectReport(f"{line} (CA certificate)", outcome, verified))  # type: ignore[arg-type]
            applet = ""
        elif applet and line.strip() != "exit":
            reports.append(ObjectReport(f"{applet} /{line}", outcome, how))  # type: ignore[arg-type]
    return reports


def _certificate_checks(session: NetconfSession, intent: Intent) -> dict[str, str]:
    """Check each pushed CA certificate in pki-oper; return trustpoint -> verdict.

    A verdict that starts with '/' names a node that differs; anything else says how the
    certificate was verified, or why it could not be.
    """
    wanted = {trustpoint.name: trustpoint.ca_der for trustpoint in intent.trustpoints if trustpoint.ca_der}
    if not wanted:
        return {}
    try:
        installed = read_pki_oper(session.get(pki_oper_filter(wanted)))
    except DeviceRefusedError as error:
        # Some platforms lack Cisco-IOS-XE-crypto-pki-oper (cat9200 from 17.15).
        return {name: f"not verified: pki-oper could not be read ({error})" for name in wanted}
    verdicts = {}
    for name, der in wanted.items():
        certificate = x509.load_der_x509_certificate(der)
        md5 = hashlib.md5(der, usedforsecurity=False).hexdigest().upper()
        found = installed.get(name, [])
        if any(entry.serial == certificate.serial_number and entry.md5 in (None, md5) for entry in found):
            verdicts[name] = "pki-oper (serial number and MD5 fingerprint)"
        else:
            verdicts[name] = (
                f"/crypto-pki-oper-data/crypto-pki-bundle[label='{name}'] does not list the CA certificate with "
                f"serial {certificate.serial_number:X}"
            )
    return verdicts


def _commit(session: NetconfSession, config: etree._Element) -> None:
    """Edit candidate, validate and commit; discard the candidate after any failure."""
    try:
        session.edit_config("candidate", config, error_option="rollback-on-error")
        session.validate("candidate")
        session.commit()
    except DeviceError:
        _quietly(session, "discard-changes", session.discard_changes)
        raise


def _cli_rpc(session: NetconfSession, text: str) -> None:
    body = etree.Element(f"{{{ns.CLI_RPC}}}config-ios-cli-rpc", nsmap={None: ns.CLI_RPC})
    etree.SubElement(body, f"{{{ns.CLI_RPC}}}config-clis").text = text
    reply = session.rpc("config-ios-cli-rpc", body)
    error_string = reply.findtext(f".//{{{ns.CLI_RPC}}}error-string")
    line_number = reply.findtext(f".//{{{ns.CLI_RPC}}}lineno")
    if error_string or line_number:
        raise DeviceRefusedError(
            session.name,
            "config-ios-cli-rpc",
            [RpcErrorInfo("application", "operation-failed", "error", f"line {line_number}", error_string, None)],
            hint="the NETCONF part was restored; fix the line and run apply again",
        )


def _wait_for_sync(session: NetconfSession, timeout: float) -> None:
    """Poll cisco-ia:is-syncing until the native datastore reflects the CLI change."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        reply = session.rpc("is-syncing", etree.Element(f"{{{ns.CISCO_IA}}}is-syncing", nsmap={None: ns.CISCO_IA}))
        text = (reply.findtext(f".//{{{ns.CISCO_IA}}}result") or "").lower()
        if "no sync" in text or "in progress" not in text:
            return
        if time.monotonic() >= deadline:
            raise DeviceRefusedError(
                session.name, "is-syncing", [], hint=f"the datastore was still syncing after {timeout:g} s; run apply again later"
            )
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _differences(
    session: NetconfSession, intent: Intent, keys: list[ObjectKey], plan: Plan, profile: ReleaseProfile
) -> list[str]:
    data = session.get_config("running", owned_filter(keys))
    after = compare(intent, read_config(data), profile)
    differences = []
    for change in after.modelled_changes:
        actual = "absent" if not change.actual else "; ".join(line.strip() for line in change.actual[1:] or change.actual)
        differences.append(f"{change.key.xpath()} ({change.key}) differs: device has {actual}")
    if plan.cli_lines and after.device_cli_digest != plan.cli_digest:
        differences.append(
            f"/native/event/manager/environment[name='{CLI_DIGEST_VARIABLE}'] does not hold the digest of the "
            "lines sent through config-ios-cli-rpc, so they were not all applied"
        )
    return differences


def _owned_element(data: etree._Element, key: ObjectKey) -> etree._Element | None:
    if key.kind == "environment":
        path = f"ios:native/ios:event/eem:manager/eem:environment[eem:name='{key.name}']"
    elif key.kind == "applet":
        path = f"ios:native/ios:event/eem:manager/eem:applet[eem:name='{key.name}']"
    else:
        path = f"ios:native/ios:crypto/crypto:pki/crypto:trustpoint[crypto:id='{key.name}']"
    found = data.xpath(path, namespaces=ns.XPATH_PREFIXES)
    return found[0] if found else None


def _restore(session: NetconfSession, snapshot: etree._Element, keys: list[ObjectKey]) -> None:
    """Put every owned object back as the snapshot had it, from the raw XML, through candidate."""
    builder = NativeBuilder()
    for key in [*keys, ObjectKey("environment", CLI_DIGEST_VARIABLE)]:
        parent = builder.pki if key.kind == "trustpoint" else builder.manager
        element = _owned_element(snapshot, key)
        if element is None:
            render_edit_into = render_edit([(key, None, "remove")])
            parent.append(_owned_element(render_edit_into, key))  # type: ignore[arg-type]
            continue
        copy = etree.fromstring(etree.tostring(element))
        copy.set(f"{{{ns.NETCONF_BASE}}}operation", "replace")
        parent.append(copy)
    _commit(session, builder.root)
    logger.warning("%s: restored the owned configuration from the snapshot", session.name)


def _canonical(element: etree._Element | None) -> object:
    if element is None:
        return None
    children = sorted((_canonical(child) for child in element), key=lambda item: str(item[0]))  # type: ignore[index]
    return (element.tag, (element.text or "").strip(), children)


def _restore_and_verify(session: NetconfSession, snapshot: etree._Element, keys: list[ObjectKey]) -> bool:
    try:
        _restore(session, snapshot, keys)
        data = session.get_config("running", owned_filter(keys))
    except DeviceError as error:
        logger.error("%s: restoring the snapshot failed: %s", session.name, error)
        return False
    all_keys = [*keys, ObjectKey("environment", CLI_DIGEST_VARIABLE)]
    return all(_canonical(_owned_element(data, key)) == _canonical(_owned_element(snapshot, key)) for key in all_keys)
