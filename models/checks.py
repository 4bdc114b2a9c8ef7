"""Checks that span several parts of an intent: variables, the sending account, trustpoints.

Each check returns findings with the location of the offending field, so the loader can name
the file and line. Errors stop every command; warnings are reported and allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from models.eem import MailServer

if TYPE_CHECKING:
    from models.intent import Intent

# Variables that EEM itself sets, from Cisco's "Embedded Event Manager Configuration Guide"
# (built-in variables for applets). Other `_`-prefixed names can be listed under
# provided_variables in the intent.
BUILTIN_VARIABLES = frozenset(
    {
        "_event_id", "_event_type", "_event_type_string", "_event_pub_time", "_event_pub_sec",
        "_event_pub_msec", "_event_severity", "_job_id", "_cli_result", "_regexp_result",
        "_string_result", "_exit_status", "_entry_status", "_syslog_msg", "_track_num",
        "_track_state", "_ipsla_condition", "_ipsla_group_name", "_ipsla_oper_id",
        "_ipsla_reaction_type", "_ipsla_measured_threshold_value", "_routing_network",
        "_routing_mask", "_routing_protocol", "_routing_type", "_timer_type", "_timer_time",
        "_timer_remain", "_timer_event_time", "_cli_msg", "_cli_key", "_snmp_oid_val", "_info_snmp_value",
    }
)

_SERVER_STRING = re.compile(r"^[^:\s@]+:[^@\s]*@\S+$")


@dataclass(frozen=True)
class Finding:
    """A problem found by a check: where it is (a pydantic-style location), what, and how bad."""

    location: tuple[str | int, ...]
    message: str
    severity: Literal["error", "warning"] = "error"


def check_intent(intent: Intent) -> list[Finding]:
    """Run every cross-part check and return the findings in file order."""
    findings: list[Finding] = []
    findings.extend(_plain_server_strings(intent))
    findings.extend(_variables(intent))
    findings.extend(_senders(intent))
    findings.extend(_trust(intent))
    return findings


def _plain_server_strings(intent: Intent) -> list[Finding]:
    return [
        Finding(
            ("environment", name),
            "looks like username:password@host written in the file; write it as a mail server entry "
            "(username, password_env, host) so the password stays out of the file",
        )
        for name, value in intent.environment.items()
        if isinstance(value, str) and _SERVER_STRING.match(value)
    ]


def _variables(intent: Intent) -> list[Finding]:
    known = set(intent.environment) | set(intent.provided_variables) | BUILTIN_VARIABLES
    findings = []
    for applet_index, applet in enumerate(intent.applets):
        defined = set(known)
        for action_index, action in enumerate(applet.actions):
            for name in sorted(action.references() - defined):
                findings.append(
                    Finding(
                        ("applets", applet_index, "actions", action_index, action.kind),
                        f"action {action.label} uses ${name}, which is not defined: add it under environment, "
                        "set it in an earlier action, or list it under provided_variables if the device "
                        "already has it",
                    )
                )
            defined |= action.defines()
    return findings


def _resolve(intent: Intent, text: str) -> str | MailServer | None:
    """Return the value a `$name` argument stands for, or the text itself when it is literal."""
    match = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", text)
    if match is None:
        return None if "$" in text else text
    return intent.environment.get(match.group(1))


def _senders(intent: Intent) -> list[Finding]:
    findings = []
    for applet_index, applet in enumerate(intent.applets):
        for action_index, action in enumerate(applet.actions):
            mail = action.mail
            if mail is None or mail.allow_send_as:
                continue
            server = _resolve(intent, mail.server)
            sender = _resolve(intent, mail.sender)
            if not isinstance(server, MailServer) or not isinstance(sender, str):
                continue
            local_part = sender.split("@", 1)[0]
            if local_part.lower() != server.username.lower():
                findings.append(
                    Finding(
                        ("applets", applet_index, "actions", action_index, "mail", "from"),
                        f"action {action.label} sends from {sender}, but the account that authenticates on "
                        f"{server.host} is {server.username}; servers such as Gmail reject or rewrite mail sent as "
                        "another address. Use the account's own address, or set allow_send_as: true for a "
                        "relay that permits it",
                    )
                )
    return findings


def _trust(intent: Intent) -> list[Finding]:
    if intent.trustpoints or intent.existing_trustpoints:
        return []
    findings = []
    for applet_index, applet in enumerate(intent.applets):
        for action_index, action in enumerate(applet.actions):
            if action.mail is not None and action.mail.secure == "tls":
                findings.append(
                    Finding(
                        ("applets", applet_index, "actions", action_index, "mail", "secure"),
                        f"action {action.label} uses secure tls, but the intent has no trustpoint and lists no "
                        "existing_trustpoints, so the TLS handshake will fail with a bad_certificate alert "
                        "unless the device already trusts the SMTP server's CA",
                        "warning",
                    )
                )
    return findings
