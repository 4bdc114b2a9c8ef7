"""Read get-config replies back into the intent's models, for plans and verification.

IOS XE may return either twin of a node that was renamed (``none``/``none-choice``,
``cli``/``cli-choice``, ``syslog``/``syslog-option``, ``enrollment/terminal``/
``enrollment/enrollment-method/terminal``), so both are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from pydantic import ValidationError

from models.applet import Applet
from models.pki import Trustpoint
from payloads import namespaces as ns


@dataclass
class DeviceConfig:
    """The owned part of a device's configuration as get-config shows it.

    Attributes:
        environment: variable name -> value, secrets included; never print it unmasked.
        applets: applet name -> applet with its modelled content (no mail actions: get-config
            cannot show them).
        trustpoints: trustpoint name -> settings.
        unreadable: object description -> why it could not be read into a model.
    """

    environment: dict[str, str] = field(default_factory=dict)
    applets: dict[str, Applet] = field(default_factory=dict)
    trustpoints: dict[str, Trustpoint] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def _text(parent: etree._Element, namespace: str, tag: str) -> str | None:
    child = parent.find(_q(namespace, tag))
    return None if child is None or child.text is None else child.text


def _first(parent: etree._Element, namespace: str, *tags: str) -> etree._Element | None:
    for tag in tags:
        child = parent.find(_q(namespace, tag))
        if child is not None:
            return child
    return None


def _event(applet: etree._Element) -> dict[str, Any]:
    event = applet.find(_q(ns.EEM, "event"))
    assert event is not None
    none = _first(event, ns.EEM, "none-choice", "none")
    if none is not None:
        return {"none": _timing(none)}
    syslog = _first(event, ns.EEM, "syslog-choice", "syslog")
    if syslog is not None:
        fields = {**_leaves(syslog, pattern="pattern", occurs="occurs"), **_seconds(syslog, "period")}
        return {"syslog": {**fields, **_timing(syslog)}}
    track = _first(event, ns.EEM, "track-choice", "track")
    if track is not None:
        return {"track": {**_leaves(track, object="track-object-number", state="state"), **_timing(track)}}
    timer = _first(event, ns.EEM, "timer-choice", "timer")
    if timer is not None and len(timer):
        case = timer[0]
        kind = etree.QName(case).localname
        if kind == "cron":
            fields = _leaves(case, name="name", entry="cron-entry")
        else:
            fields = {**_leaves(case, name="name"), **_seconds(case, "time")}
        return {"timer": {kind: {**fields, **_timing(case)}}}
    ipsla = event.find(_q(ns.EEM, "ipsla"))
    if ipsla is not None:
        return {"ipsla": {**_leaves(ipsla, group="group-name", reaction="reaction-type"), **_timing(ipsla)}}
    routing = event.find(_q(ns.EEM, "routing"))
    if routing is not None:
        return {"routing": {**_leaves(routing, network="network", type="type"), **_timing(routing)}}
    cli = event.find(_q(ns.EEM, "cli"))
    if cli is not None:
        return {"cli": _leaves(cli, pattern="pattern", sync="sync", skip="skip")}
    kinds = ", ".join(etree.QName(child).localname for child in event)
    raise ValueError(f"event kind not supported by this tool: {kinds}")


def _leaves(parent: etree._Element, **fields: str) -> dict[str, str]:
    """Map model field -> text of the YANG leaf, for the leaves that are present."""
    found = {}
    for field_name, leaf in fields.items():
        value = _text(parent, ns.EEM, leaf)
        if value is not None:
            found[field_name] = value
    return found


def _timing(case: etree._Element) -> dict[str, str]:
    return _seconds(case, "maxrun", "ratelimit")


def _seconds(case: etree._Element, *names: str) -> dict[str, str]:
    """Read timer leaves in either shape: uint32 ``maxrun`` or, from 17.13, decimal64 ``maxrun-set``."""
    found = {}
    for name in names:
        value = _text(case, ns.EEM, f"{name}-set") or _text(case, ns.EEM, name)
        if value is not None:
            # Decimal leaves come back canonical ("60.0"); the models hold whole seconds.
            number = float(value)
            found[name] = str(int(number)) if number.is_integer() else value
    return found


def _action(entry: etree._Element) -> dict[str, Any]:
    label = _text(entry, ns.EEM, "name")
    cli = _first(entry, ns.EEM, "cli-choice", "cli")
    if cli is not None:
        return {"label": label, "cli": _leaves(cli, command="command")}
    syslog = _first(entry, ns.EEM, "syslog-option", "syslog")
    if syslog is not None:
        return {"label": label, "syslog": _leaves(syslog, msg="msg", priority="priority", facility="facility")}
    regexp = _first(entry, ns.EEM, "regexp-option", "regexp")
    if regexp is not None:
        data: dict[str, Any] = _leaves(regexp, pattern="string-pattern", input="string-input", match="string-match")
        data["submatches"] = [value for number in (1, 2, 3) if (value := _text(regexp, ns.EEM, f"string-submatch{number}"))]
        return {"label": label, "regexp": data}
    condition = entry.find(_q(ns.EEM, "if"))
    if condition is not None:
        return {"label": label, "if": _leaves(condition, left="string-op-1", op="keyword", right="string-op-2", goto="goto")}
    wait = _text(entry, ns.EEM, "wait")
    if wait is not None:
        return {"label": label, "wait": {"seconds": wait}}
    trap = entry.find(_q(ns.EEM, "snmp-trap"))
    if trap is not None:
        return {"label": label, "snmp_trap": _leaves(trap, intdata1="intdata1", intdata2="intdata2", strdata="strdata")}
    trim = entry.find(f"{_q(ns.EEM, 'string')}/{_q(ns.EEM, 'trim')}")
    if trim is not None:
        return {"label": label, "string_trim": {"input": trim.text or ""}}
    for flag in ("end", "exit", "reload", "else", "break", "continue"):
        if entry.find(_q(ns.EEM, flag)) is not None:
            return {"label": label, flag: {}}
    verb = _verb(entry)
    if verb is not None:
        return {"label": label, **verb}
    kinds = ", ".join(etree.QName(child).localname for child in entry if etree.QName(child).localname != "name")
    raise ValueError(f"action {label}: kind not supported by this tool: {kinds}")


def _verb(entry: etree._Element) -> dict[str, Any] | None:  # noqa: PLR0911 - one branch per YANG case
    """Read the action verbs Cisco-IOS-XE-eem models from 17.15 (set, while, foreach, ...)."""
    for kind in ("set", "append"):
        found = entry.find(_q(ns.EEM, kind))
        if found is not None:
            return {kind: _leaves(found, name="varname", value="value")}
    for kind in ("increment", "decrement"):
        found = entry.find(_q(ns.EEM, kind))
        if found is not None:
            return {kind: _leaves(found, name="varname", by="value")}
    for kind in ("elseif", "while"):
        found = entry.find(_q(ns.EEM, kind))
        if found is not None:
            return {kind: _leaves(found, left="operand1", op="operation", right="operand2")}
    foreach = entry.find(_q(ns.EEM, "foreach"))
    if foreach is not None:
        return {"foreach": _leaves(foreach, name="loopvar", iterator="iterator", delimiter="delimiter")}
    if (text := _text(entry, ns.EEM, "puts")) is not None:
        return {"puts": {"text": text}}
    if (name := _text(entry, ns.EEM, "gets")) is not None:
        return {"gets": {"name": name}}
    context = entry.find(_q(ns.EEM, "context"))
    if context is not None:
        save = context.find(_q(ns.EEM, "save"))
        if save is not None:
            return {"context_save": _leaves(save, key="key", variable="variable")}
        retrieve = context.find(_q(ns.EEM, "retrieve"))
        if retrieve is not None:
            return {"context_retrieve": _leaves(retrieve, key="key", variable="variable")}
    return None


def _applet(entry: etree._Element) -> Applet:
    # From 17.15 actions sit under action-config; the deprecated top-level list may also appear.
    entries = entry.findall(_q(ns.EEM, "action")) + entry.findall(f"{_q(ns.EEM, 'action-config')}/{_q(ns.EEM, 'action')}")
    actions = [_action(action) for action in entries]
    # EEM runs actions in label order whatever order the device lists them in.
    actions.sort(key=lambda action: str(action["label"]))
    data: dict[str, Any] = {"name": _text(entry, ns.EEM, "name"), "actions": actions}
    event = entry.find(_q(ns.EEM, "event"))
    if event is not None and len(event):
        data["event"] = _event(entry)
    for field_name, leaf in (("description", "description"), ("authorization", "authorization"), ("class", "class")):
        if (value := _text(entry, ns.EEM, leaf)) is not None:
            data[field_name] = value
    if entry.find(_q(ns.EEM, "trap")) is not None:
        data["trap"] = True
    return Applet.model_validate(data, context={"from_device": True})


def _trustpoint(entry: etree._Element) -> Trustpoint:
    data: dict[str, Any] = {"name": _text(entry, ns.CRYPTO, "id")}
    enrollment = entry.find(_q(ns.CRYPTO, "enrollment"))
    terminal = None
    if enrollment is not None:
        method = enrollment.find(_q(ns.CRYPTO, "enrollment-method"))
        terminal = _first(method if method is not None else enrollment, ns.CRYPTO, "terminal")
    if terminal is None:
        raise ValueError("enrollment is not terminal")
    checks = [child.text for child in entry.findall(_q(ns.CRYPTO, "revocation-check")) if child.text]
    data["revocation_check"] = checks
    chain = entry.find(_q(ns.CRYPTO, "chain-validation"))
    data["chain_validation"] = "stop" if chain is not None and chain.find(_q(ns.CRYPTO, "stop")) is not None else None
    return Trustpoint.model_validate(data)


def read_config(data: etree._Element) -> DeviceConfig:
    """Read the ``<data>`` element of a get-config reply.

    Objects that exist but do not fit the models (an action kind this tool does not model, say)
    are listed in ``unreadable`` instead of raising, so a plan can still say what differs.
    """
    config = DeviceConfig()
    manager = data.find(f"{_q(ns.NATIVE, 'native')}/{_q(ns.NATIVE, 'event')}/{_q(ns.EEM, 'manager')}")
    if manager is not None:
        for entry in manager.findall(_q(ns.EEM, "environment")):
            name = _text(entry, ns.EEM, "name")
            if name is not None:
                config.environment[name] = _text(entry, ns.EEM, "value") or ""
        for entry in manager.findall(_q(ns.EEM, "applet")):
            name = _text(entry, ns.EEM, "name") or ""
            try:
                config.applets[name] = _applet(entry)
            except (ValueError, ValidationError) as error:
                config.unreadable[f"event manager applet {name}"] = _reason(error)
    pki = data.find(f"{_q(ns.NATIVE, 'native')}/{_q(ns.NATIVE, 'crypto')}/{_q(ns.CRYPTO, 'pki')}")
    if pki is not None:
        for entry in pki.findall(_q(ns.CRYPTO, "trustpoint")):
            name = _text(entry, ns.CRYPTO, "id") or ""
            try:
                config.trustpoints[name] = _trustpoint(entry)
            except (ValueError, ValidationError) as error:
                config.unreadable[f"crypto pki trustpoint {name}"] = _reason(error)
    return config


def _reason(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(detail["msg"] for detail in error.errors(include_input=False, include_url=False))
    return str(error)


@dataclass(frozen=True)
class InstalledCertificate:
    """One certificate that pki-oper lists under a trustpoint.

    Attributes:
        serial: the serial number.
        md5: the MD5 fingerprint in upper-case hex without separators.
        not_after: ``validity-end``, or None when absent or not an ISO 8601 date and time.
        subject: ``subject-name`` as the device writes it.
    """

    serial: int | None
    md5: str | None
    not_after: datetime | None = None
    subject: str | None = None


def read_pki_oper(data: etree._Element) -> dict[str, list[InstalledCertificate]]:
    """Read ``crypto-pki-oper-data`` from a ``<get>`` reply: trustpoint -> installed certificates.

    Serials are compared as numbers and fingerprints without separators, because the exact
    text forms of a device's reply are not documented in the model.
    """
    installed: dict[str, list[InstalledCertificate]] = {}
    for bundle in data.iter(_q(ns.PKI_OPER, "crypto-pki-bundle")):
        label = bundle.findtext(_q(ns.PKI_OPER, "label"))
        if label is None:
            continue
        certificates = installed.setdefault(label, [])
        for cert in bundle.findall(_q(ns.PKI_OPER, "cert")):
            serial_text = (cert.findtext(_q(ns.PKI_OPER, "serial-number")) or "").replace(":", "").replace(" ", "")
            md5_text = (cert.findtext(_q(ns.PKI_OPER, "md5-fp")) or "").replace(":", "").replace(" ", "").upper()
            try:
                serial = int(serial_text, 16) if serial_text else None
            except ValueError:
                serial = None
            subject = cert.findtext(_q(ns.PKI_OPER, "subject-name"))
            not_after = _timestamp(cert.findtext(_q(ns.PKI_OPER, "validity-end")))
            certificates.append(InstalledCertificate(serial, md5_text or None, not_after, subject))
    return installed


def _timestamp(text: str | None) -> datetime | None:
    """Parse a yang:date-and-time; a value without a zone is taken as UTC."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
