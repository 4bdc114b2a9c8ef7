"""Read get-config replies back into the intent's models, for plans and verification.

IOS XE may return either twin of a node that was renamed (``none``/``none-choice``,
``cli``/``cli-choice``, ``syslog``/``syslog-option``, ``enrollment/terminal``/
``enrollment/enrollment-method/terminal``), so both are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from pydantic import ValidationError

from models.eem import Applet
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


def _number(value: str | None) -> int | None:
    return None if value is None else int(value)


def _first(parent: etree._Element, namespace: str, *tags: str) -> etree._Element | None:
    for tag in tags:
        child = parent.find(_q(namespace, tag))
        if child is not None:
            return child
    return None


def _event(applet: etree._Element) -> dict[str, Any]:
    event = applet.find(_q(ns.EEM, "event"))
    if event is None:
        return {}
    none = _first(event, ns.EEM, "none-choice", "none")
    if none is not None:
        return {"none": _timing(none)}
    syslog = _first(event, ns.EEM, "syslog-choice", "syslog")
    if syslog is not None:
        data = {"pattern": _text(syslog, ns.EEM, "pattern"), **_timing(syslog)}
        for leaf in ("occurs", "period"):
            if (value := _text(syslog, ns.EEM, leaf)) is not None:
                data[leaf] = int(value)
        return {"syslog": data}
    track = _first(event, ns.EEM, "track-choice", "track")
    if track is not None:
        data = {"object": _number(_text(track, ns.EEM, "track-object-number")), **_timing(track)}
        if (state := _text(track, ns.EEM, "state")) is not None:
            data["state"] = state
        return {"track": data}
    kinds = ", ".join(etree.QName(child).localname for child in event)
    raise ValueError(f"event kind not supported by this tool: {kinds}")


def _timing(case: etree._Element) -> dict[str, int]:
    data = {}
    for leaf in ("maxrun", "ratelimit"):
        if (value := _text(case, ns.EEM, leaf)) is not None:
            data[leaf] = int(value)
    return data


def _action(entry: etree._Element) -> dict[str, Any]:
    label = _text(entry, ns.EEM, "name")
    cli = _first(entry, ns.EEM, "cli-choice", "cli")
    if cli is not None:
        return {"label": label, "cli": {"command": _text(cli, ns.EEM, "command")}}
    syslog = _first(entry, ns.EEM, "syslog-option", "syslog")
    if syslog is not None:
        data = {"msg": _text(syslog, ns.EEM, "msg")}
        for leaf in ("priority", "facility"):
            if (value := _text(syslog, ns.EEM, leaf)) is not None:
                data[leaf] = value
        return {"label": label, "syslog": data}
    kinds = ", ".join(etree.QName(child).localname for child in entry if etree.QName(child).localname != "name")
    raise ValueError(f"action {label}: kind not supported by this tool: {kinds}")


def _applet(entry: etree._Element) -> Applet:
    actions = [_action(action) for action in entry.findall(_q(ns.EEM, "action"))]
    # EEM runs actions in label order whatever order the device lists them in.
    actions.sort(key=lambda action: str(action["label"]))
    data: dict[str, Any] = {"name": _text(entry, ns.EEM, "name"), "event": _event(entry), "actions": actions}
    if (description := _text(entry, ns.EEM, "description")) is not None:
        data["description"] = description
    return Applet.model_validate(data)


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
