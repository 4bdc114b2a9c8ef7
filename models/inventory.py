"""Inventory of devices in Nornir SimpleInventory style: hosts, groups and defaults.

A file has up to three top-level mappings::

    hosts:                  # required: name -> settings
      r1: {hostname: 192.0.2.1, groups: [core]}
    groups:                 # optional: name -> settings, may list parent groups
      core: {groups: [site-a], port: 830}
      site-a: {username: netops}
    defaults:               # optional: settings every host falls back to
      password_env: DEVICE_PASSWORD

A setting resolves like Nornir does: the host's own value, then its groups in the order listed,
each group before its own parents (depth first), then ``defaults``. ``password_env`` and
``password_file`` resolve as one setting, so a host's ``password_env`` overrides a group's
``password_file``.

Passwords come from an environment variable (``password_env``) or a file (``password_file``),
never from the inventory itself. Relative paths are relative to the inventory file's folder.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NoReturn

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from models import yamlguard
from models.errors import InputError


Transport = Literal["netconf", "restconf"]

# The port each transport uses when the inventory names none: NETCONF over SSH (RFC 6242) and
# RESTCONF over HTTPS.
DEFAULT_PORTS: dict[str, int] = {"netconf": 830, "restconf": 443}

# At most this many host names are listed in an error about a pattern that matched nothing.
_KNOWN_HOSTS_SHOWN = 20

# A YAML directive (%YAML 1.1) or a merge key (<<) makes the C-based safe loader differ from
# the round-trip loader, so a file that may contain either is read with the round-trip loader.
_ROUND_TRIP_ONLY = re.compile(r"^%|<<", re.MULTILINE)


class Host(BaseModel):
    """One device and how to reach it: NETCONF over SSH, or RESTCONF over HTTPS."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str
    hostname: str = Field(min_length=1)
    transport: Transport = "netconf"
    port: int = Field(default=830, ge=1, le=65535, description="830 for netconf and 443 for restconf when unset.")
    username: str = Field(min_length=1)
    password_env: str | None = None
    password_file: Path | None = None
    known_hosts: Path | None = Field(default=None, description="OpenSSH known_hosts file; ~/.ssh/known_hosts if unset.")
    ca_bundle: Path | None = Field(
        default=None, description="PEM file of the CAs that may sign the device's HTTPS certificate (restconf); "
        "the system's trust store if unset."
    )
    release: str | None = Field(
        default=None, description="IOS XE release to assume (such as 17.12) instead of the one the device reports."
    )
    platform: str = "iosxe"
    groups: tuple[str, ...] = Field(
        default=(), description="Every group the host belongs to, parents of its groups included, "
        "in the order their settings take precedence."
    )
    password: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _transport_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("port") is None and data.get("transport") in DEFAULT_PORTS:
            return {**data, "port": DEFAULT_PORTS[data["transport"]]}
        return data

    @field_validator("release")
    @classmethod
    def _known_release(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from payloads.releases import profile_for  # payloads builds on models; import at use

        try:
            profile_for(value)
        except ValueError as error:
            raise ValueError(str(error)) from None
        return value

    @model_validator(mode="after")
    def _one_password_source(self) -> Host:
        if self.password_env and self.password_file:
            raise ValueError("set password_env or password_file, not both")
        return self


class Group(BaseModel):
    """A named group of hosts, as written in the inventory's ``groups`` mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    groups: tuple[str, ...] = Field(default=(), description="Parent groups, in the order listed.")


class Inventory(BaseModel):
    """Hosts and groups by name, with every host's settings already resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    hosts: dict[str, Host]
    groups: dict[str, Group] = Field(default_factory=dict)

    def select(self, names: list[str] | None) -> list[Host]:
        """Return the named hosts (all when ``names`` is empty).

        Raises:
            InputError: a name is not in the inventory.
        """
        if not names:
            return list(self.hosts.values())
        missing = [name for name in names if name not in self.hosts]
        if missing:
            known = ", ".join(sorted(self.hosts)) or "none"
            raise InputError(f"host {', '.join(missing)} is not in the inventory; known hosts: {known}")
        return [self.hosts[name] for name in names]

    def matches(self, pattern: str) -> list[Host]:
        """Return the hosts that ``pattern`` selects, in inventory order.

        A pattern selects the host of that name, every member of the group of that name
        (members of its child groups included), and every host whose name matches it as a
        case-sensitive shell glob (``*``, ``?``, ``[seq]``).
        """
        return [
            host for name, host in self.hosts.items()
            if name == pattern or pattern in host.groups or fnmatch.fnmatchcase(name, pattern)
        ]

    def limit(self, patterns: Iterable[str]) -> list[Host]:
        """Return the union of the hosts each pattern selects (see ``matches``), in inventory
        order; every host when ``patterns`` is empty.

        Raises:
            InputError: a pattern selects no host. Nothing has been sent to any device then.
        """
        patterns = list(patterns)
        if not patterns:
            return list(self.hosts.values())
        selected: set[str] = set()
        unmatched: list[str] = []
        for pattern in patterns:
            found = self.matches(pattern)
            if not found:
                unmatched.append(pattern)
            selected.update(host.name for host in found)
        if unmatched:
            raise InputError(self._no_match_message(unmatched))
        return [host for name, host in self.hosts.items() if name in selected]

    def _no_match_message(self, unmatched: list[str]) -> str:
        quoted = ", ".join(repr(pattern) for pattern in unmatched)
        empty_groups = [pattern for pattern in unmatched if pattern in self.groups]
        if empty_groups:
            reason = f"group {', '.join(empty_groups)} has no hosts"
        else:
            reason = "no host name, group name or host name glob matches it"
        host_names = list(self.hosts)
        listed = ", ".join(host_names[:_KNOWN_HOSTS_SHOWN]) or "none"
        if len(host_names) > _KNOWN_HOSTS_SHOWN:
            listed += f", ... ({len(host_names)} hosts in all)"
        groups = ", ".join(self.groups) or "none"
        return (
            f"limit {quoted} selects no host: {reason}. Known groups: {groups}. Known hosts: {listed}. "
            "Give a host name, a group name or a glob such as 'edge-*'"
        )


# Settings a host, a group or the defaults may set; `groups` is allowed on hosts and groups.
SETTINGS = frozenset(Host.model_fields) - {"name", "groups", "password"}
_PASSWORD_SOURCES = ("password_env", "password_file")
_PATH_SETTINGS = ("known_hosts", "ca_bundle", "password_file")


@dataclass(frozen=True)
class _Entry:
    """One mapping of settings in the file (a host, a group or the defaults) and where it is."""

    kind: str
    name: str
    line: int
    settings: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}" if self.name else self.kind

    def key_line(self, key: str) -> int:
        return _key_line(self.settings, key, self.line) if key in self.settings else self.line


def _key_line(mapping: dict[Any, Any], key: Any, unknown: int = 0) -> int:
    """Return the 1-based line of ``key`` in ``mapping``, or ``unknown`` when the mapping was
    read without line numbers (by the fast loader)."""
    return mapping.lc.key(key)[0] + 1 if isinstance(mapping, CommentedMap) else unknown


@dataclass(frozen=True)
class _Origin:
    """The entry and line that a resolved setting came from."""

    entry: _Entry
    line: int


def load_inventory(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Inventory:
    """Read an inventory file, resolve each host's settings and read its password.

    Raises:
        InputError: the file is unreadable or invalid, or a password source is missing. The
            message starts with ``file:line:`` and never contains a password.
    """
    source = Path(path)
    environ = os.environ if environ is None else environ
    text = _read_text(source)
    if _C_LOADER and not _ROUND_TRIP_ONLY.search(text):
        try:
            return _resolve(source, _read_yaml(source, text, round_trip=False), environ)
        except InputError:
            # The fast loader keeps no line numbers: read the file again with them, so that
            # the same error is raised with its file:line.
            pass
    return _resolve(source, _read_yaml(source, text, round_trip=True), environ)


def _resolve(source: Path, document: dict[str, Any], environ: Mapping[str, str]) -> Inventory:
    reader = _InventoryReader(source, document)
    passwords = _PasswordReader(source, environ)
    hosts: dict[str, Host] = {}
    for name, entry in reader.host_entries.items():
        chain = [entry, *(reader.group_entries[group] for group in reader.groups_of(entry))]
        chain.append(reader.defaults)
        host = _build_host(source, name, chain, reader.groups_of(entry))
        hosts[name] = passwords.resolve(host, entry, _password_origin(chain))
    groups = {name: Group(name=name, groups=reader.parents(entry)) for name, entry in reader.group_entries.items()}
    return Inventory(hosts=hosts, groups=groups)


def _c_loader_available() -> bool:
    """Return True when ruamel.yaml's safe loader runs on the C parser (ruamel.yaml.clib)."""
    try:
        from ruamel.yaml.cyaml import CParser
    except ImportError:
        return False
    return YAML(typ="safe").Parser is CParser


# Measured with ruamel.yaml 0.19.1 on a 2-core x86_64 machine, a 1,000-host inventory takes about
# 0.2 s of CPU with the C safe loader and 1.4 s with the round-trip loader. Both resolve
# scalars as YAML 1.2.
_C_LOADER = _c_loader_available()


def _read_text(source: Path) -> str:
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{source}: cannot read the inventory: {error.strerror}") from None
    too_large = yamlguard.size_problem(text)
    if too_large is not None:
        raise InputError(f"{source}: {too_large}")
    return text


def _read_yaml(source: Path, text: str, *, round_trip: bool) -> dict[str, Any]:
    """Parse the inventory: with ``round_trip``, into CommentedMaps that carry line numbers,
    otherwise into plain dicts with the C-based safe loader."""
    try:
        document = YAML(typ="rt" if round_trip else "safe").load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        detail = getattr(error, "problem", None) or str(error).split("\n", 1)[0]
        raise InputError(f"{source}:{line}: invalid YAML: {detail}") from None
    if not isinstance(document, dict) or not isinstance(document.get("hosts"), dict):
        raise InputError(f"{source}: an inventory needs a 'hosts' mapping of host names to their settings")
    aliased, line = yamlguard.first_alias(document)
    if aliased:
        raise InputError(f"{source}:{line if line is not None else '?'}: {yamlguard.ALIAS_MESSAGE}")
    return document


def _closest(key: str, allowed: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class _InventoryReader:
    """Reader of an inventory document: checks its structure and resolves the group graph."""

    def __init__(self, source: Path, document: dict[str, Any]) -> None:
        self.source = source
        for key in document:
            if key not in ("hosts", "groups", "defaults"):
                self._fail(_key_line(document, key), f"unknown top-level key '{key}'",
                           "the allowed keys are hosts, groups and defaults" + _closest(str(key), ("hosts", "groups", "defaults")))
        self.host_entries = self._entries(document, "hosts", "host")
        self.group_entries = self._entries(document, "groups", "group")
        defaults = document.get("defaults")
        defaults_line = _key_line(document, "defaults") if "defaults" in document else 1
        if defaults is not None and not isinstance(defaults, dict):
            self._fail(defaults_line, "defaults", "must be a mapping of settings")
        self.defaults = _Entry("defaults", "", defaults_line, defaults if defaults is not None else {})
        self._check_settings(self.defaults, allow_groups=False)
        for entry in [*self.host_entries.values(), *self.group_entries.values()]:
            self._check_settings(entry, allow_groups=True)
        for name, group in self.group_entries.items():
            if name in self.host_entries:
                self._fail(group.line, group.label, f"has the name of host {name}; rename one of them so that "
                           f"--limit {name} has one meaning")
        self._resolved: dict[str, tuple[str, ...]] = {}
        for entry in self.group_entries.values():
            self._ancestors(entry, [])

    def _fail(self, line: int, subject: str, problem: str) -> NoReturn:
        raise InputError(f"{self.source}:{line}: {subject}: {problem}")

    def _entries(self, document: dict[str, Any], key: str, kind: str) -> dict[str, _Entry]:
        section = document.get(key)
        if section is None:
            return {}
        section_line = _key_line(document, key)
        if not isinstance(section, dict):
            self._fail(section_line, key, f"must be a mapping of {kind} names to their settings")
        entries: dict[str, _Entry] = {}
        for name, settings in section.items():
            line = _key_line(section, name)
            if settings is None:
                settings = {}
            if not isinstance(settings, dict):
                self._fail(line, f"{kind} {name}", f"must be a mapping of settings, got {type(settings).__name__}")
            entries[str(name)] = _Entry(kind, str(name), line, settings)
        return entries

    def _check_settings(self, entry: _Entry, *, allow_groups: bool) -> None:
        allowed = SETTINGS | {"groups"} if allow_groups else SETTINGS
        for key in entry.settings:
            line = entry.key_line(key)
            if key == "password":
                self._fail(line, entry.label, "a password is never read from the inventory; name an "
                           "environment variable with password_env or a file with password_file")
            if key not in allowed:
                hint = "" if allow_groups or key != "groups" else "; defaults cannot list groups, list them on the hosts"
                self._fail(line, entry.label, f"unknown key '{key}'{hint or _closest(str(key), allowed)}")
        if entry.settings.get("password_env") is not None and entry.settings.get("password_file") is not None:
            self._fail(entry.key_line("password_file"), entry.label, "set password_env or password_file, not both")
        if allow_groups:
            self._check_group_list(entry)

    def _check_group_list(self, entry: _Entry) -> None:
        if "groups" not in entry.settings:
            return
        line = entry.key_line("groups")
        names = entry.settings["groups"]
        if names is None:
            return
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            self._fail(line, entry.label, "groups must be a list of group names, such as [core, site-a]")
        for name in names:
            if name not in self.group_entries:
                known = ", ".join(self.group_entries) or "none"
                close = difflib.get_close_matches(name, list(self.group_entries), n=1)
                advice = "define it under groups or remove it from this list"
                if close:
                    advice = f"did you mean '{close[0]}'? Otherwise {advice}"
                self._fail(line, entry.label, f"group '{name}' is not defined (defined groups: {known}); {advice}")

    def parents(self, entry: _Entry) -> tuple[str, ...]:
        return tuple(entry.settings.get("groups") or ())

    def _ancestors(self, entry: _Entry, path: list[str]) -> tuple[str, ...]:
        """Return the group's parents and their ancestors, depth first, each once."""
        name = entry.name
        if name in self._resolved:
            return self._resolved[name]
        if name in path:
            cycle = " -> ".join([*path[path.index(name):], name])
            self._fail(entry.key_line("groups"), entry.label, f"groups form a cycle ({cycle}); remove one of these "
                       "parent links")
        order: list[str] = []
        for parent in self.parents(entry):
            for group in (parent, *self._ancestors(self.group_entries[parent], [*path, name])):
                if group not in order:
                    order.append(group)
        self._resolved[name] = tuple(order)
        return self._resolved[name]

    def groups_of(self, host: _Entry) -> tuple[str, ...]:
        """Return every group of a host in precedence order: each listed group, then its ancestors."""
        order: list[str] = []
        for group in self.parents(host):
            for name in (group, *self._resolved[group]):
                if name not in order:
                    order.append(name)
        return tuple(order)


def _password_origin(chain: list[_Entry]) -> _Origin | None:
    for entry in chain:
        for key in _PASSWORD_SOURCES:
            if entry.settings.get(key) is not None:
                return _Origin(entry, entry.key_line(key))
    return None


def _build_host(source: Path, name: str, chain: list[_Entry], groups: tuple[str, ...]) -> Host:
    """Merge the settings along ``chain`` (host, groups, defaults) and validate them as a Host."""
    data: dict[str, Any] = {}
    origins: dict[str, _Origin] = {}
    for entry in chain:
        for key, value in entry.settings.items():
            if key == "groups" or key in data:
                continue
            if key in _PASSWORD_SOURCES and any(other in data for other in _PASSWORD_SOURCES):
                continue
            data[key] = value
            origins[key] = _Origin(entry, entry.key_line(key))
    host_entry = chain[0]
    try:
        host = Host.model_validate({**data, "name": name, "groups": groups})
    except ValidationError as error:
        detail = error.errors(include_input=False, include_url=False)[0]
        field = str(detail["loc"][0]) if detail["loc"] else ""
        if detail["type"] == "missing":
            raise InputError(
                f"{source}:{host_entry.line}: host {name}: {field} is missing; set it on the host, "
                "on one of its groups or under defaults"
            ) from None
        origin = origins.get(field)
        if origin is None:
            raise InputError(f"{source}:{host_entry.line}: host {name}: {field or 'settings'}: {detail['msg']}") from None
        where = "" if origin.entry is host_entry else f" (set in {origin.entry.label})"
        raise InputError(f"{source}:{origin.line}: host {name}: {field}{where}: {detail['msg']}") from None

    # Only RESTCONF reads the bundle; a group may set it for hosts of both transports.
    if host.ca_bundle is not None and host.transport == "restconf":
        bundle = host.ca_bundle.expanduser()
        bundle = bundle if bundle.is_absolute() else source.parent / bundle
        if not bundle.is_file():
            origin = origins["ca_bundle"]
            where = "" if origin.entry is host_entry else f" (set in {origin.entry.label})"
            raise InputError(
                f"{source}:{origin.line}: host {name}: ca_bundle{where}: {bundle} is not a file; point it at the "
                "PEM file of the CA that signed the device's HTTPS certificate"
            )
    return host


class _PasswordReader:
    """Resolver of a host's paths (made absolute) and its password (read from a file or the environment)."""

    def __init__(self, source: Path, environ: Mapping[str, str]) -> None:
        self.source = source
        self.base = source.parent
        self.environ = environ
        self._files: dict[Path, str] = {}

    def _absolute(self, path: Path) -> Path:
        path = path.expanduser()
        return path if path.is_absolute() else self.base / path

    def resolve(self, host: Host, host_entry: _Entry, origin: _Origin | None) -> Host:
        update: dict[str, Any] = {key: self._absolute(getattr(host, key))
                                  for key in _PATH_SETTINGS if getattr(host, key) is not None}
        if origin is None:
            raise InputError(f"{self.source}:{host_entry.line}: host {host.name}: no password source; set "
                             "password_env or password_file on the host, on one of its groups or under defaults")
        where = f"{self.source}:{origin.line}: host {host.name}"
        if origin.entry is not host_entry:
            where += f" (password source from {origin.entry.label})"
        if host.password_file is not None:
            update["password"] = SecretStr(self._read_file(update["password_file"], where))
        elif host.password_env is not None:
            if not self.environ.get(host.password_env):
                raise InputError(f"{where}: environment variable {host.password_env} is not set; "
                                 "export it with the device password")
            update["password"] = SecretStr(self.environ[host.password_env])
        return host.model_copy(update=update)

    def _read_file(self, path: Path, where: str) -> str:
        if path not in self._files:
            try:
                self._files[path] = path.read_text(encoding="utf-8").strip()
            except OSError as error:
                raise InputError(f"{where}: cannot read password_file {path}: {error.strerror}") from None
        return self._files[path]
