"""IOS CLI lines: for the parts no YANG model covers (sent through config-ios-cli-rpc) and for humans.

Rendering for humans masks secrets unless the caller asks to reveal them. The lines sent to a
device carry no secret, because the models only accept a mail server given as a variable
reference or as a host without credentials.
"""

from __future__ import annotations

import hashlib

from models.eem import (
    CLI_DIGEST_VARIABLE,
    Action,
    Applet,
    Event,
    MailAction,
    MailServer,
)
from models.intent import Intent
from models.pki import Trustpoint
from payloads.objects import ObjectKey


def environment_lines(name: str, value: str | MailServer, *, reveal: bool = False) -> list[str]:
    """Return ``event manager environment NAME VALUE``."""
    text = value.server_string(reveal=reveal) if isinstance(value, MailServer) else value
    return [f"event manager environment {name} {text}"]


def event_line(event: Event) -> str:
    """Return the applet's ``event ...`` line (without the leading space)."""
    if event.none is not None:
        words = ["event none"]
        options = event.none
    elif event.syslog is not None:
        words = [f'event syslog pattern "{event.syslog.pattern}"']
        if event.syslog.occurs is not None:
            words.append(f"occurs {event.syslog.occurs}")
        if event.syslog.period is not None:
            words.append(f"period {event.syslog.period}")
        options = event.syslog
    else:
        assert event.track is not None
        words = [f"event track {event.track.object} state {event.track.state}"]
        options = event.track
    if options.maxrun is not None:
        words.append(f"maxrun {options.maxrun}")
    if options.ratelimit is not None:
        words.append(f"ratelimit {options.ratelimit}")
    return " ".join(words)


def mail_command(mail: MailAction) -> str:
    """Return the ``mail ...`` part of an action line, in the argument order of the Cisco tech note."""
    words = [f'mail server "{mail.server}" to "{mail.to}" from "{mail.sender}"']
    if mail.cc is not None:
        words.append(f'cc "{mail.cc}"')
    words.append(f'subject "{mail.subject}" body "{mail.body}"')
    if mail.source_interface is not None:
        words.append(f"source-interface {mail.source_interface}")
    if mail.source_address is not None:
        words.append(f"source-address {mail.source_address}")
    words.append(f"port {mail.port}")
    if mail.secure == "tls":
        words.append("secure tls")
    return " ".join(words)


def action_line(action: Action) -> str:
    """Return ``action LABEL ...`` (without the leading space)."""
    if action.mail is not None:
        body = mail_command(action.mail)
    elif action.cli is not None:
        body = f'cli command "{action.cli.command}"'
    else:
        assert action.syslog is not None
        words = ["syslog"]
        if action.syslog.priority is not None:
            words.append(f"priority {action.syslog.priority}")
        if action.syslog.facility is not None:
            words.append(f'facility "{action.syslog.facility}"')
        words.append(f'msg "{action.syslog.msg}"')
        body = " ".join(words)
    return f"action {action.label} {body}"


def applet_lines(applet: Applet, *, modelled_only: bool = False) -> list[str]:
    """Return the applet as ``show running-config`` prints it.

    Args:
        modelled_only: leave out actions that no YANG model covers (the mail action), which is
            what get-config can show of the applet.
    """
    lines = [f"event manager applet {applet.name}"]
    if applet.description is not None:
        lines.append(f' description "{applet.description}"')
    lines.append(f" {event_line(applet.event)}")
    for action in applet.actions:
        if modelled_only and not action.modelled:
            continue
        lines.append(f" {action_line(action)}")
    return lines


def trustpoint_lines(trustpoint: Trustpoint) -> list[str]:
    """Return ``crypto pki trustpoint NAME`` with its settings."""
    lines = [f"crypto pki trustpoint {trustpoint.name}", f" enrollment {trustpoint.enrollment}"]
    lines.append(f" revocation-check {' '.join(trustpoint.revocation_check)}")
    if trustpoint.chain_validation is not None:
        lines.append(f" chain-validation {trustpoint.chain_validation}")
    return lines


def object_lines(intent: Intent, *, reveal: bool = False, modelled_only: bool = False) -> dict[ObjectKey, list[str]]:
    """Return the CLI lines of every object the intent owns, keyed by object."""
    objects: dict[ObjectKey, list[str]] = {}
    for name, value in intent.environment.items():
        objects[ObjectKey("environment", name)] = environment_lines(name, value, reveal=reveal)
    for applet in intent.applets:
        objects[ObjectKey("applet", applet.name)] = applet_lines(applet, modelled_only=modelled_only)
    for trustpoint in intent.trustpoints:
        objects[ObjectKey("trustpoint", trustpoint.name)] = trustpoint_lines(trustpoint)
    return objects


def intent_lines(intent: Intent, *, reveal: bool = False) -> list[str]:
    """Return the whole intent as IOS configuration lines, in the order a device would need them."""
    lines: list[str] = []
    for object_lines_ in object_lines(intent, reveal=reveal).values():
        lines.extend(object_lines_)
    return lines


def unmodelled_lines(intent: Intent) -> list[str]:
    """Return the lines that only config-ios-cli-rpc can apply: every applet's mail actions.

    Applets are entered by name only; their event and modelled actions travel in the NETCONF
    edit, which has been committed before these lines are sent.
    """
    lines: list[str] = []
    for applet in intent.applets:
        mail_actions = [action for action in applet.actions if not action.modelled]
        if not mail_actions:
            continue
        lines.append(f"event manager applet {applet.name}")
        lines.extend(f" {action_line(action)}" for action in mail_actions)
        lines.append(" exit")
    return lines


def cli_digest(lines: list[str]) -> str:
    """Return the digest of the unmodelled lines that the engine stores on the device.

    get-config cannot show what config-ios-cli-rpc applied, so the engine appends
    ``event manager environment _provisioner_cli_digest DIGEST`` to the same RPC. The variable is
    modelled, so reading it back proves the RPC ran to its last line and shows a later run
    whether the lines changed. The lines hold no secret: the mail action names the server variable.
    """
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:32]


def cli_rpc_text(lines: list[str]) -> str:
    """Return the ``config-clis`` text: the lines, the digest marker, and ``end``."""
    marker = f"event manager environment {CLI_DIGEST_VARIABLE} {cli_digest(lines)}"
    return "\n".join([*lines, marker, "end"])
