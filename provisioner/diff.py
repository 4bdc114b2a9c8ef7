"""Compare an intent with what a device holds, object by object, and print it as IOS CLI lines."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Literal

from models.applet import Applet
from models.eem import CLI_DIGEST_VARIABLE, MASK, MailServer
from models.intent import Intent
from models.pki import Trustpoint
from payloads import cli
from payloads.native_xml import owned_objects
from payloads.objects import ObjectKey
from payloads.readback import DeviceConfig
from payloads.releases import DEFAULT_PROFILE, ReleaseProfile

ChangeKind = Literal["add", "change", "unchanged"]

# A device value that looks like `user:password@host` is masked even when the intent does not
# say it is a server string, so a misnamed variable cannot leak its password into a plan.
_SERVER_STRING = re.compile(r"^([^:\s@]+):([^@\s]*)@(\S+)$")


def mask_value(value: str) -> str:
    """Return ``value`` with the password part of a ``user:password@host`` string masked."""
    match = _SERVER_STRING.match(value)
    return f"{match.group(1)}:{MASK}@{match.group(3)}" if match else value


@dataclass(frozen=True)
class ObjectChange:
    """The difference between intent and device for one owned object.

    Attributes:
        key: the object.
        kind: ``add`` (absent on the device), ``change`` or ``unchanged``.
        intended: the modelled lines the device should show, secrets masked.
        actual: the lines the device shows, secrets masked; empty when absent.
        secret_changed: the secret differs although the masked lines may look equal.
    """

    key: ObjectKey
    kind: ChangeKind
    intended: list[str]
    actual: list[str]
    secret_changed: bool = False


@dataclass(frozen=True)
class Plan:
    """What an apply would do to one device.

    Attributes:
        changes: one entry per owned object.
        cli_lines: the lines for config-ios-cli-rpc (every applet's mail actions).
        cli_digest: the digest those lines should leave on the device.
        device_cli_digest: the digest stored on the device now, if any.
        cli_needed: whether the cli-rpc must be sent.
        unreadable: device objects that could not be read, with the reason.
    """

    changes: list[ObjectChange]
    cli_lines: list[str]
    cli_digest: str
    device_cli_digest: str | None
    cli_needed: bool
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def modelled_changes(self) -> list[ObjectChange]:
        """Objects whose modelled content must be edited."""
        return [change for change in self.changes if change.kind != "unchanged"]

    @property
    def in_sync(self) -> bool:
        """True when neither an edit-config nor a cli-rpc is needed."""
        return not self.modelled_changes and not self.cli_needed

    def render(self) -> list[str]:
        """Return the plan as IOS CLI lines prefixed with ``+``, ``-`` or a space."""
        lines: list[str] = []
        for change in self.modelled_changes:
            if change.kind == "add":
                lines.extend(f"+ {line}" for line in change.intended)
                continue
            lines.extend(_line_diff(change.actual, change.intended))
            if change.secret_changed:
                lines.append(f"  ! the secret in {change.key} differs from the intent and will be replaced")
        if self.cli_needed:
            lines.append("! through config-ios-cli-rpc (get-config cannot show these lines):")
            lines.extend(f"+ {line}" for line in self.cli_lines)
        for name, reason in self.unreadable.items():
            lines.append(f"! {name} on the device could not be read: {reason}")
        return lines


def _line_diff(before: list[str], after: list[str]) -> list[str]:
    lines: list[str] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            lines.extend(f"  {line}" for line in before[a_start:a_end])
            continue
        lines.extend(f"- {line}" for line in before[a_start:a_end])
        lines.extend(f"+ {line}" for line in after[b_start:b_end])
    return lines


def compare(intent: Intent, device: DeviceConfig, profile: ReleaseProfile = DEFAULT_PROFILE) -> Plan:
    """Build the plan for one device from the intent and its get-config read-back.

    Secrets are compared in full but only ever stored masked in the plan.
    """
    changes = [_compare_object(key, value, device, profile) for key, value in owned_objects(intent).items()]
    cli_lines = cli.unmodelled_lines(intent, profile)
    digest = cli.cli_digest(cli_lines)
    device_digest = device.environment.get(CLI_DIGEST_VARIABLE)
    with_cli = {ObjectKey("applet", line.split()[3]) for line in cli_lines if line.startswith("event manager applet ")}
    with_cli |= {ObjectKey("trustpoint", tp.name) for tp in intent.trustpoints if tp.ca_der is not None}
    # Rewriting an applet or trustpoint through NETCONF replaces the whole entry, which drops the
    # lines (mail actions, certificates) that config-ios-cli-rpc added to it, so they go again.
    rewritten = any(change.key in with_cli for change in changes if change.kind != "unchanged")
    cli_needed = bool(cli_lines) and (device_digest != digest or rewritten)
    return Plan(changes, cli_lines, digest, device_digest, cli_needed, dict(device.unreadable))


def _compare_object(key: ObjectKey, value: object, device: DeviceConfig, profile: ReleaseProfile) -> ObjectChange:
    if key.kind == "environment":
        assert isinstance(value, (str, MailServer))
        intended_value = value.server_string(reveal=value.password is not None) if isinstance(value, MailServer) else value
        shown = cli.environment_lines(key.name, value)
        if key.name not in device.environment:
            return ObjectChange(key, "add", shown, [])
        actual_value = device.environment[key.name]
        actual = [f"event manager environment {key.name} {mask_value(actual_value)}"]
        if isinstance(value, MailServer) and value.password is None:
            # Without the password (offline use) only the visible parts can be compared.
            same = mask_value(actual_value) == value.server_string()
        else:
            same = actual_value == intended_value
        secret_changed = not same and actual == shown
        return ObjectChange(key, "unchanged" if same else "change", shown, actual, secret_changed)

    if key.kind == "applet":
        assert isinstance(value, Applet)
        intended = cli.applet_lines(value, profile=profile)
        device_applet = device.applets.get(key.name)
        unreadable = f"event manager applet {key.name}" in device.unreadable
        if device_applet is None and not unreadable:
            return ObjectChange(key, "add", intended, [])
        actual = cli.applet_lines(device_applet) if device_applet is not None else [f"event manager applet {key.name}", " ! unreadable"]
        return ObjectChange(key, "unchanged" if actual == intended else "change", intended, actual)

    assert isinstance(value, Trustpoint)
    intended = cli.trustpoint_lines(value)
    device_trustpoint = device.trustpoints.get(key.name)
    unreadable = f"crypto pki trustpoint {key.name}" in device.unreadable
    if device_trustpoint is None and not unreadable:
        return ObjectChange(key, "add", intended, [])
    actual = cli.trustpoint_lines(device_trustpoint) if device_trustpoint is not None else [f"crypto pki trustpoint {key.name}", " ! unreadable"]
    return ObjectChange(key, "unchanged" if actual == intended else "change", intended, actual)
