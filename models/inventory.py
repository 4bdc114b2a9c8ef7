"""Inventory of devices in Nornir SimpleInventory style: hosts with connection details.

Passwords come from an environment variable (``password_env``) or a file (``password_file``),
never from the inventory itself. Relative paths are relative to the inventory file's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from models.errors import InputError


Transport = Literal["netconf", "restconf"]

# The port each transport uses when the inventory names none: NETCONF over SSH (RFC 6242) and
# RESTCONF over HTTPS.
DEFAULT_PORTS: dict[str, int] = {"netconf": 830, "restconf": 443}


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
    password: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _transport_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("port") is None and data.get("transport") in DEFAULT_PORTS:
            return {**data, "port": DEFAULT_PORTS[data["transport"]]}
        return data

    @model_validator(mode="after")
    def _one_password_source(self) -> Host:
        if self.password_env and self.password_file:
            raise ValueError("set password_env or password_file, not both")
        return self


class Inventory(BaseModel):
    """Hosts by name."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    hosts: dict[str, Host]

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


def load_inventory(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> Inventory:
    """Read an inventory file and resolve each host's password.

    Raises:
        InputError: the file is unreadable or invalid, or a password source is missing.
    """
    source = Path(path)
    environ = os.environ if environ is None else environ
    try:
        document = YAML(typ="rt").load(source.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError(f"{source}: cannot read the inventory: {error.strerror}") from None
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        detail = getattr(error, "problem", None) or str(error).split("\n", 1)[0]
        raise InputError(f"{source}:{line}: invalid YAML: {detail}") from None
    if not isinstance(document, CommentedMap) or not isinstance(document.get("hosts"), CommentedMap):
        raise InputError(f"{source}: an inventory needs a 'hosts' mapping")

    base = source.parent
    defaults: dict[str, Any] = dict(document.get("defaults") or {})
    hosts: dict[str, Host] = {}
    for name, entry in document["hosts"].items():
        line = document["hosts"].lc.key(name)[0] + 1
        data = {**defaults, **dict(entry or {}), "name": str(name)}
        try:
            host = Host.model_validate(data)
        except ValidationError as error:
            details = "; ".join(
                f"{'.'.join(str(part) for part in detail['loc'])}: {detail['msg']}"
                for detail in error.errors(include_input=False, include_url=False)
            )
            raise InputError(f"{source}:{line}: host {name}: {details}") from None
        hosts[str(name)] = _resolve(host, base, environ, f"{source}:{line}")
    return Inventory(hosts=hosts)


def _resolve(host: Host, base: Path, environ: Mapping[str, str], where: str) -> Host:
    update: dict[str, Any] = {}
    if host.known_hosts is not None and not host.known_hosts.is_absolute():
        update["known_hosts"] = base / host.known_hosts
    if host.ca_bundle is not None and not host.ca_bundle.is_absolute():
        update["ca_bundle"] = base / host.ca_bundle
    if host.password_file is not None:
        password_file = host.password_file if host.password_file.is_absolute() else base / host.password_file
        update["password_file"] = password_file
        try:
            update["password"] = SecretStr(password_file.read_text(encoding="utf-8").strip())
        except OSError as error:
            raise InputError(f"{where}: host {host.name}: cannot read password_file {password_file}: {error.strerror}") from None
    elif host.password_env is not None:
        if not environ.get(host.password_env):
            raise InputError(
                f"{where}: host {host.name}: environment variable {host.password_env} is not set; "
                "export it with the device password"
            )
        update["password"] = SecretStr(environ[host.password_env])
    else:
        raise InputError(f"{where}: host {host.name}: set password_env or password_file")
    return host.model_copy(update=update)
