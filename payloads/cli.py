"""IOS CLI lines: for the parts no YANG model covers (sent through config-ios-cli-rpc) and for humans.

Rendering for humans masks secrets unless the caller asks to reveal them. The lines sent to a
device carry no secret, because the models only accept a mail server given as a variable
reference.
"""

from __future__ import annotations

import hashlib

from models.actions import Action, MailAction
from models.applet import Applet
from models.eem import CLI_DIGEST_VARIABLE, MailServer
from models.events import Event
from models.intent import Intent
from models.pki import Trustpoint
from payloads.certchain import certificate_chain_lines
from payloads.releases import DEFAULT_PROFILE, ReleaseProfile


def _quoted(text: str) -> str:
    return f'"{text}"'


def environment_lines(name: str, value: str | MailServer, *, reveal: bool = False) -> list[str]:
    """Return ``event manager environment NAME VALUE``."""
    text = value.server_string(reveal=reveal) if isinstance(value, MailServer) else value
    return [f"event manager environment {name} {text}"]


def _timing(words: list[str], maxrun: int | None, ratelimit: int | None) -> None:
    if maxrun is not None:
        words.append(f"maxrun {maxrun}")
    if ratelimit is not None:
        words.append(f"ratelimit {ratelimit}")


def event_line(event: Event) -> str:
    """Return the applet's ``event ...`` line (without the leading space)."""
    words: list[str]
    if event.none is not None:
        words = ["event none"]
        _timing(words, event.none.maxrun, event.none.ratelimit)
    elif event.syslog is not None:
        syslog = event.syslog
        words = ["event syslog"]
        if syslog.occurs is not None:
            words.append(f"occurs {syslog.occurs}")
        words.append(f"pattern {_quoted(syslog.pattern)}")
        if syslog.period is not None:
            words.append(f"period {syslog.period}")
        _timing(words, syslog.maxrun, syslog.ratelimit)
    elif event.track is not None:
        words = [f"event track {event.track.object} state {event.track.state}"]
        _timing(words, event.track.maxrun, event.track.ratelimit)
    elif event.timer is not None:
        kind = event.timer.kind
        timer = getattr(event.timer, kind)
        words = [f"event timer {kind}"]
        if timer.name is not None:
            words.append(f"name {_quoted(timer.name)}")
        words.append(f"cron-entry {_quoted(timer.entry)}" if kind == "cron" else f"time {timer.time}")
        _timing(words, timer.maxrun, timer.ratelimit)
    elif event.ipsla is not None:
        words = [f"event ipsla group-name {_quoted(event.ipsla.group)} reaction-type {event.ipsla.reaction}"]
        _timing(words, event.ipsla.maxrun, event.ipsla.ratelimit)
    elif event.routing is not None:
        words = [f"event routing network {event.routing.network} type {event.routing.type}"]
        _timing(words, event.routing.maxrun, event.routing.ratelimit)
    else:
        assert event.cli is not None
        words = [f"event cli pattern {_quoted(event.cli.pattern)} sync {event.cli.sync}"]
        if event.cli.sync == "no":
            # The command reference syntax is `sync {yes | no skip {yes | no}}`: skip is required
            # after `sync no`, and `skip no` is what an unset skip means.
            words.append(f"skip {event.cli.skip or 'no'}")
    return " ".join(words)


def mail_command(mail: MailAction) -> str:
    """Return the ``mail ...`` part of an action line, in the argument order of the Cisco tech note."""
    words = [f"mail server {_quoted(mail.server)} to {_quoted(mail.to)} from {_quoted(mail.sender)}"]
    if mail.cc is not None:
        words.append(f"cc {_quoted(mail.cc)}")
    words.append(f"subject {_quoted(mail.subject)} body {_quoted(mail.body)}")
    if mail.source_interface is not None:
        words.append(f"source-interface {mail.source_interface}")
    if mail.source_address is not None:
        words.append(f"source-address {mail.source_address}")
    words.append(f"port {mail.port}")
    if mail.secure == "tls":
        words.append("secure tls")
    return " ".join(words)


def _action_body(action: Action) -> str:
    kind = action.kind
    if action.mail is not None:
        return mail_command(action.mail)
    if action.cli is not None:
        return f"cli command {_quoted(action.cli.command)}"
    if action.syslog is not None:
        words = ["syslog"]
        if action.syslog.priority is not None:
            words.append(f"priority {action.syslog.priority}")
        words.append(f"msg {_quoted(action.syslog.msg)}")
        if action.syslog.facility is not None:
            words.append(f"facility {_quoted(action.syslog.facility)}")
        return " ".join(words)
    if action.set is not None:
        return f"set {action.set.name} {_quoted(action.set.value)}"
    if action.increment is not None or action.decrement is not None:
        counter = action.increment or action.decrement
        assert counter is not None
        return f"{kind} {counter.name}" + ("" if counter.by is None else f" {counter.by}")
    if action.append is not None:
        return f"append {action.append.name} {_quoted(action.append.value)}"
    if action.if_ is not None:
        condition = f"if {_quoted(action.if_.left)} {action.if_.op} {_quoted(action.if_.right)}"
        return condition + ("" if action.if_.goto is None else f" goto {action.if_.goto}")
    if action.elseif is not None or action.while_ is not None:
        test = action.elseif or action.while_
        assert test is not None
        return f"{kind} {_quoted(test.left)} {test.op} {_quoted(test.right)}"
    if action.foreach is not None:
        words = [f"foreach {action.foreach.name} {_quoted(action.foreach.iterator)}"]
        if action.foreach.delimiter is not None:
            words.append(_quoted(action.foreach.delimiter))
        return " ".join(words)
    if action.wait is not None:
        return f"wait {action.wait.seconds}"
    if action.puts is not None:
        return "puts " + ("nonewline " if action.puts.nonewline else "") + _quoted(action.puts.text)
    if action.gets is not None:
        return f"gets {action.gets.name}"
    if action.regexp is not None:
        regexp = action.regexp
        words = [f"regexp {_quoted(regexp.pattern)} {_quoted(regexp.input)}"]
        if regexp.match is not None:
            words.append(regexp.match)
        words.extend(regexp.submatches)
        return " ".join(words)
    if action.string_trim is not None:
        words = [f"string trim {_quoted(action.string_trim.input)}"]
        if action.string_trim.characters is not None:
            words.append(_quoted(action.string_trim.characters))
        return " ".join(words)
    if action.context_save is not None:
        return f"context save key {action.context_save.key} variable {_quoted(action.context_save.variable)}"
    if action.context_retrieve is not None:
        retrieve = action.context_retrieve
        return f"context retrieve key {retrieve.key}" + ("" if retrieve.variable is None else f" variable {_quoted(retrieve.variable)}")
    if action.snmp_trap is not None:
        words = ["snmp-trap"]
        for leaf in ("intdata1", "intdata2"):
            if (number := getattr(action.snmp_trap, leaf)) is not None:
                words.append(f"{leaf} {number}")
        if action.snmp_trap.strdata is not None:
            words.append(f"strdata {_quoted(action.snmp_trap.strdata)}")
        return " ".join(words)
    # else, end, break, continue, exit, reload take no arguments.
    return kind


def action_line(action: Action) -> str:
    """Return ``action LABEL ...`` (without the leading space)."""
    return f"action {action.label} {_action_body(action)}"


def applet_header(applet: Applet) -> str:
    """Return ``event manager applet NAME`` with the options IOS prints on that line."""
    words = [f"event manager applet {applet.name}"]
    if applet.class_ is not None:
        words.append(f"class {applet.class_}")
    if applet.authorization is not None:
        words.append(f"authorization {applet.authorization}")
    if applet.trap:
        words.append("trap")
    return " ".join(words)


def is_modelled(action: Action, profile: ReleaseProfile) -> bool:
    """Return whether ``action`` can be sent in YANG to a device of ``profile``'s release."""
    if action.string_trim is not None and action.string_trim.characters is not None:
        return False  # The YANG string/trim leaf holds only the input string.
    if action.puts is not None and action.puts.nonewline:
        return False  # The YANG puts leaf has no nonewline flag.
    return profile.models_action(action.kind)


def applet_lines(applet: Applet, *, profile: ReleaseProfile | None = None) -> list[str]:
    """Return the applet as ``show running-config`` prints it.

    Args:
        profile: when given, keep only what that release's YANG models, which is what
            get-config can show of the applet.
    """
    lines = [applet_header(applet)]
    if applet.description is not None:
        lines.append(f" description {_quoted(applet.description)}")
    if applet.event is not None and (profile is None or profile.models_event(applet.event.kind)):
        lines.append(f" {event_line(applet.event)}")
    for action in applet.actions:
        if profile is not None and not is_modelled(action, profile):
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


def intent_lines(intent: Intent, *, reveal: bool = False) -> list[str]:
    """Return the whole intent as IOS configuration lines, in the order a device needs them."""
    lines: list[str] = []
    for name, value in intent.environment.items():
        lines.extend(environment_lines(name, value, reveal=reveal))
    for applet in intent.applets:
        lines.extend(applet_lines(applet))
    for trustpoint in intent.trustpoints:
        lines.extend(trustpoint_lines(trustpoint))
    return lines


def unmodelled_lines(intent: Intent, profile: ReleaseProfile = DEFAULT_PROFILE) -> list[str]:
    """Return the lines that only config-ios-cli-rpc can apply, applet by applet.

    That is every mail action, the events and actions the release's YANG lacks, and the CA
    certificate of each trustpoint that has one. The modelled parts of their applets and
    trustpoints travel in the NETCONF edit, committed before these lines are sent.
    """
    lines: list[str] = []
    for applet in intent.applets:
        body: list[str] = []
        if applet.event is not None and not profile.models_event(applet.event.kind):
            body.append(f" {event_line(applet.event)}")
        body.extend(f" {action_line(action)}" for action in applet.actions if not is_modelled(action, profile))
        if body:
            lines.extend([applet_header(applet), *body, " exit"])
    # No model carries a certificate body; the trustpoint exists once the NETCONF edit is committed.
    for trustpoint in intent.trustpoints:
        if trustpoint.ca_der is not None:
            lines.extend([*certificate_chain_lines(trustpoint.name, trustpoint.ca_der), " exit"])
    return lines


def certificate_removal_text(removals: dict[str, str]) -> str:
    """Return the ``config-clis`` text that removes CA certificates from their chains, then ``end``.

    Args:
        removals: trustpoint (chain) name -> serial as IOS XE prints it (see ``ios_serial``).

    NOTE: a guess, not checked on a real router: that config-ios-cli-rpc takes
    ``no certificate ca SERIAL`` and removes the certificate with no confirmation prompt (the
    console may ask for one). The engine verifies the removal in pki-oper for that reason.
    """
    lines: list[str] = []
    for name, serial in removals.items():
        lines.extend([f"crypto pki certificate chain {name}", f" no certificate ca {serial}", " exit"])
    return "\n".join([*lines, "end"])


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
