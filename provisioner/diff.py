"""Compare an intent with what a device holds, object by object, and print it as IOS CLI lines.

Ownership rules: the intent owns every object it names, and an applet it names is owned whole,
so actions the device has but the intent lacks are removed. Objects under the intent's managed
name prefix that the intent does not name are removed when ``ownership.prune`` is on and only
reported otherwise. Nothing else on the device appears in a plan.
"""

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
from payloads.native_xml import Operation, owned_objects
from payloads.objects import ObjectKey, ObjectKind
from payloads.readback import DeviceConfig
from payloads.releases import DEFAULT_PROFILE, ReleaseProfile

ChangeKind = Literal["add", "change", "remove", "unchanged"]
ItemKind = Literal["add", "change", "remove"]

# A device value that looks like `user:password@host` is masked even when the intent does not
# say it is a server string, so a misnamed variable cannot leak its password into a plan. The
# mask runs from the first ':' to the last '@', so an account name with '@' (which IOS XE
# mis-splits) and a password with '@' stay hidden too.
_SERVER_STRING = re.compile(r"^([^:\s]+):(\S*)@([^@\s]*)$")


def mask_value(value: str) -> str:
    """Return ``value`` with the password part of a ``user:password@host`` string masked."""
    match = _SERVER_STRING.match(value)
    return f"{match.group(1)}:{MASK}@{match.group(3)}" if match else value


@dataclass(frozen=True)
class ItemChange:
    """One part of an object that differs: a variable's value, an applet's event or action, a
    trustpoint setting.

    Attributes:
        item: ``value`` for a variable; ``header``, ``description``, ``event`` or ``action LABEL``
            for an applet; ``enrollment``, ``revocation-check`` or ``chain-validation`` for a
            trustpoint.
        kind: ``add``, ``change`` or ``remove``.
        before: the device's line, secrets masked; None when the device lacks it.
        after: the intended line, secrets masked; None when it is removed.
    """

    item: str
    kind: ItemKind
    before: str | None
    after: str | None


@dataclass(frozen=True)
class ObjectChange:
    """The difference between intent and device for one owned object.

    Attributes:
        key: the object.
        kind: ``add`` (absent on the device), ``change``, ``remove`` (under the managed prefix
            but not in the intent, with prune on) or ``unchanged``.
        intended: the modelled lines the device should show, secrets masked; empty for ``remove``.
        actual: the lines the device shows, secrets masked; empty when absent.
        secret_changed: the secret differs although the masked lines may look equal.
    """

    key: ObjectKey
    kind: ChangeKind
    intended: list[str]
    actual: list[str]
    secret_changed: bool = False

    def lines(self) -> list[str]:
        """Return the change as IOS CLI lines prefixed with ``+``, ``-`` or a space."""
        if self.kind == "unchanged":
            return []
        if self.kind == "add":
            return [f"+ {line}" for line in self.intended]
        if self.kind == "remove":
            return [f"- {line}" for line in self.actual]
        lines = _line_diff(self.actual, self.intended)
        if self.secret_changed:
            lines.append(f"  ! the secret in {self.key} differs from the intent and will be replaced")
        return lines

    def items(self) -> list[ItemChange]:
        """Break the change down into the parts that differ, in the intent's order."""
        before = _keyed(self.key, self.actual)
        after = _keyed(self.key, self.intended)
        found: list[ItemChange] = []
        for item, line in after.items():
            if item not in before:
                found.append(ItemChange(item, "add", None, line))
            elif before[item] != line:
                found.append(ItemChange(item, "change", before[item], line))
        found.extend(ItemChange(item, "remove", line, None) for item, line in before.items() if item not in after)
        if self.secret_changed and not found and self.intended:
            line = self.intended[0]
            found.append(ItemChange("value", "change", line, line))
        return found


def _keyed(key: ObjectKey, lines: list[str]) -> dict[str, str]:
    """Map each line of an object to the item it sets (see ItemChange.item)."""
    keyed: dict[str, str] = {}
    for index, line in enumerate(lines):
        words = line.split()
        if index == 0:
            keyed["value" if key.kind == "environment" else "header"] = line.strip()
        elif words and words[0] == "action" and len(words) > 1:
            keyed[f"action {words[1]}"] = line.strip()
        elif words:
            keyed[words[0]] = line.strip()
    return keyed


@dataclass(frozen=True)
class Plan:
    """The changes an apply would make to one device.

    Attributes:
        changes: one entry per owned object.
        cli_lines: the lines for config-ios-cli-rpc (every applet's mail actions).
        cli_digest: the digest those lines should leave on the device.
        device_cli_digest: the digest stored on the device now, if any.
        cli_needed: whether the cli-rpc must be sent.
        unreadable: device objects that could not be read, with the reason.
        strays: objects under the managed prefix that the intent does not name, left in place
            because prune is off.
        profile: the release profile whose YANG shape the plan compared.
    """

    changes: list[ObjectChange]
    cli_lines: list[str]
    cli_digest: str
    device_cli_digest: str | None
    cli_needed: bool
    unreadable: dict[str, str] = field(default_factory=dict)
    strays: list[ObjectKey] = field(default_factory=list)
    profile: ReleaseProfile = DEFAULT_PROFILE

    @property
    def modelled_changes(self) -> list[ObjectChange]:
        """Objects whose modelled content must be edited."""
        return [change for change in self.changes if change.kind != "unchanged"]

    @property
    def removals(self) -> list[ObjectChange]:
        """Objects that apply removes from the device."""
        return [change for change in self.changes if change.kind == "remove"]

    @property
    def in_sync(self) -> bool:
        """True when neither an edit-config nor a cli-rpc is needed."""
        return not self.modelled_changes and not self.cli_needed

    def render(self) -> list[str]:
        """Return the plan as IOS CLI lines prefixed with ``+``, ``-``, a space or ``!`` for notes."""
        lines: list[str] = []
        if self.profile.note and not self.in_sync:
            lines.append(f"! {self.profile.note}")
        for change in self.modelled_changes:
            lines.extend(change.lines())
        if self.cli_needed:
            lines.append("! through config-ios-cli-rpc (get-config cannot show these lines):")
            lines.extend(f"+ {line}" for line in self.cli_lines)
        for name, reason in self.unreadable.items():
            lines.append(f"! {name} on the device could not be read: {reason}")
        for key in self.strays:
            lines.append(f"! {key} is under the managed prefix but not in the intent; prune is off, so it stays")
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
    owned = owned_objects(intent)
    changes = [_compare_object(key, value, device, profile) for key, value in owned.items()]
    strays = _strays(intent, device, set(owned))
    if intent.ownership.prune:
        changes.extend(_removal(key, device) for key in strays)
        strays = []
    claimed = {str(key) for key in [*owned, *strays]} | {str(change.key) for change in changes}
    # A whole-list read (managed prefix) also brings objects this intent does not own, such as
    # the device's built-in trustpoints: their read errors are none of this plan's business.
    unreadable = {name: reason for name, reason in device.unreadable.items() if name in claimed}
    cli_lines = cli.unmodelled_lines(intent, profile)
    digest = cli.cli_digest(cli_lines)
    device_digest = device.environment.get(CLI_DIGEST_VARIABLE)
    with_cli = {ObjectKey("applet", line.split()[3]) for line in cli_lines if line.startswith("event manager applet ")}
    with_cli |= {ObjectKey("trustpoint", tp.name) for tp in intent.trustpoints if tp.ca_der is not None}
    # Rewriting an applet or trustpoint through NETCONF replaces the whole entry, which drops the
    # lines (mail actions, certificates) that config-ios-cli-rpc added to it, so they go again.
    rewritten = any(change.key in with_cli for change in changes if change.kind != "unchanged")
    cli_needed = bool(cli_lines) and (device_digest != digest or rewritten)
    return Plan(changes, cli_lines, digest, device_digest, cli_needed, unreadable, strays, profile)


EditItem = tuple[ObjectKey, str | MailServer | Applet | Trustpoint | None, Operation]


def edit_items(plan: Plan, intent: Intent) -> list[EditItem]:
    """Return what edit-config must carry for ``plan``: each changed or added object replaced
    whole, and each pruned object removed by its key."""
    values = owned_objects(intent)
    return [
        (change.key, None, "remove") if change.kind == "remove" else (change.key, values[change.key], "replace")
        for change in plan.modelled_changes
    ]


def _device_names(device: DeviceConfig, kind: str) -> list[str]:
    """Return the names of one kind of object on the device, unreadable ones included."""
    if kind == "environment":
        return list(device.environment)
    title = "event manager applet " if kind == "applet" else "crypto pki trustpoint "
    readable = list(device.applets if kind == "applet" else device.trustpoints)
    unreadable = [name.removeprefix(title) for name in device.unreadable if name.startswith(title)]
    return readable + [name for name in unreadable if name not in readable]


def _strays(intent: Intent, device: DeviceConfig, owned: set[ObjectKey]) -> list[ObjectKey]:
    """Return device objects under the managed prefix that the intent does not name.

    Variables listed in provided_variables and trustpoints listed in existing_trustpoints are
    named too: the intent relies on them, so they are never strays.
    """
    ownership = intent.ownership
    relied_on = {ObjectKey("environment", name) for name in intent.provided_variables}
    relied_on |= {ObjectKey("trustpoint", name) for name in intent.existing_trustpoints}
    strays = []
    kinds: tuple[ObjectKind, ...] = ("environment", "applet", "trustpoint")
    for kind in kinds:
        for name in sorted(_device_names(device, kind)):
            key = ObjectKey(kind, name)
            if key not in owned and key not in relied_on and ownership.manages(kind, name):
                strays.append(key)
    return strays


def _removal(key: ObjectKey, device: DeviceConfig) -> ObjectChange:
    """Return the change that removes a stray object, with the lines the device shows for it."""
    if key.kind == "environment":
        actual = [f"event manager environment {key.name} {mask_value(device.environment[key.name])}"]
    elif key.kind == "applet" and key.name in device.applets:
        actual = cli.applet_lines(device.applets[key.name])
    elif key.kind == "trustpoint" and key.name in device.trustpoints:
        actual = cli.trustpoint_lines(device.trustpoints[key.name])
    else:
        actual = [str(key), " ! unreadable"]
    return ObjectChange(key, "remove", [], actual)


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
