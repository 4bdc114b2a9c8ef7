"""``provisioner import``: write an intent file from what a device holds now (brownfield onboarding).

The device is read with one get-config of the EEM environment, the applets and the trustpoints.
Server strings become mail server entries whose password is a ``password_env`` reference, so
no secret reaches the file. get-config cannot show what went through config-ios-cli-rpc (mail
actions, events the release does not model, certificate bodies), so those parts are listed as
comments for the operator to add by hand.
"""

from __future__ import annotations

import io
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from ruamel.yaml import YAML

from models.eem import CLI_DIGEST_VARIABLE
from models.errors import InputError, ProvisionerError
from models.inventory import Host, load_inventory
from models.ownership import BUILT_IN_TRUSTPOINT_PREFIXES
from payloads.filters import managed_lists_filter
from payloads.readback import DeviceConfig, read_config
from provisioner.transport import open_session

logger = logging.getLogger(__name__)

_SERVER_STRING = re.compile(r"^(?P<user>[^:\s@]+):(?P<password>[^@\s]*)@(?P<host>[^@\s]+)$")
_AMBIGUOUS_SERVER = re.compile(r"^[^:\s]+:\S*@\S+$")


@dataclass
class ImportedIntent:
    """An intent built from a device.

    Attributes:
        document: the intent as plain data, ready for YAML.
        password_variables: environment variable -> the device variable whose password it holds.
        skipped: what could not be imported, with the reason.
    """

    document: dict[str, Any]
    password_variables: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


def intent_from_device(device: DeviceConfig, *, prefix: str | None = None) -> ImportedIntent:
    """Build intent data from a device read-back.

    Args:
        device: the read-back of the whole environment, applet and trustpoint lists.
        prefix: import only objects whose name starts with this and claim it as the
            intent's managed prefix (with prune off).
    """
    imported = ImportedIntent({})
    servers = [name for name, value in device.environment.items() if _SERVER_STRING.match(value)]
    environment: dict[str, Any] = {}
    for name, value in sorted(device.environment.items()):
        if name == CLI_DIGEST_VARIABLE or (prefix and not name.startswith(prefix)):
            continue
        match = _SERVER_STRING.match(value)
        if match is not None:
            variable = "SMTP_PASSWORD" if len(servers) == 1 else f"SMTP_PASSWORD_{name.strip('_').upper()}"
            imported.password_variables[variable] = name
            environment[name] = {"username": match.group("user"), "password_env": variable, "host": match.group("host")}
        elif _AMBIGUOUS_SERVER.match(value):
            imported.skipped.append(
                f"environment {name}: its server string has '@' in the account name or password, which IOS XE "
                "splits wrongly and an intent cannot express; fix it on the device first"
            )
        else:
            environment[name] = value
    applets = []
    for name, applet in sorted(device.applets.items()):
        if prefix and not name.startswith(prefix):
            continue
        if applet.event is None:
            imported.skipped.append(f"applet {name}: its event is not visible to get-config on this release; add it by hand")
            continue
        applets.append(applet.model_dump(mode="json", by_alias=True, exclude_none=True))
    trustpoints = []
    for name, trustpoint in sorted(device.trustpoints.items()):
        if name.startswith(BUILT_IN_TRUSTPOINT_PREFIXES) or (prefix and not name.startswith(prefix)):
            continue
        trustpoints.append(trustpoint.model_dump(mode="json", exclude={"ca_der", "certificate", "allow_leaf"}))
    for name in sorted(device.unreadable):
        object_name = name.split()[-1]
        if object_name.startswith(BUILT_IN_TRUSTPOINT_PREFIXES) or (prefix and not object_name.startswith(prefix)):
            continue
        imported.skipped.append(f"{name}: {device.unreadable[name]}")
    if environment:
        imported.document["environment"] = environment
    if applets:
        imported.document["applets"] = applets
    if trustpoints:
        imported.document["trustpoints"] = trustpoints
    if prefix:
        imported.document["ownership"] = {"managed_prefix": prefix, "prune": False}
    return imported


def import_device(host: Host, *, prefix: str | None = None, timeout: float = 30.0) -> ImportedIntent:
    """Read a device with one get-config and build intent data from it.

    Raises:
        DeviceError: the device could not be reached or refused the read.
    """
    with open_session(host, timeout=timeout) as session:
        data = session.get_config("running", managed_lists_filter())
    return intent_from_device(read_config(data), prefix=prefix)


def render_yaml(imported: ImportedIntent, host: Host) -> str:
    """Return the intent as YAML text with a header that says what is missing from it."""
    header = [
        f"Intent imported from {host.name} ({host.hostname}:{host.port}) with get-config.",
        "Applying it unchanged sends nothing. Before apply, set:",
    ]
    header += [f"  {variable}: the SMTP password in {name} on the device" for variable, name in imported.password_variables.items()]
    header += [
        "get-config cannot show mail actions, CA certificate bodies or lines sent through",
        "config-ios-cli-rpc: add mail actions and trustpoint certificate files by hand.",
    ]
    header += [f"Not imported: {reason}" for reason in imported.skipped]
    yaml = YAML()
    yaml.default_flow_style = False
    stream = io.StringIO()
    yaml.dump(imported.document or {}, stream)
    return "".join(f"# {line}\n" for line in header) + stream.getvalue()


def _one_host(hosts: list[Host], patterns: tuple[str, ...]) -> Host:
    """Return the only host selected, because one import writes one intent.

    Raises:
        InputError: the patterns select more than one host.
    """
    if len(hosts) == 1:
        return hosts[0]
    listed = ", ".join(host.name for host in hosts[:10]) + (", ..." if len(hosts) > 10 else "")
    raise InputError(
        f"--limit {' '.join(patterns)} selects {len(hosts)} hosts ({listed}); import reads one device at a "
        "time, so give one host name"
    )


@click.command(name="import")
@click.option("--inventory", "-i", "inventory", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Inventory YAML with the device.")
@click.option("--limit", "--host", "patterns", multiple=True, required=True, metavar="PATTERN",
              help="The device to import: a host name, or a group name or glob over host names that selects "
              "exactly one host. Repeatable; the union must be one host. --host is an alias.")
@click.option("--managed-prefix", default=None,
              help="Import only objects whose name starts with this, and claim it as the intent's managed prefix.")
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Intent file to write; stdout when not given. An existing file is not overwritten.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds allowed for connecting and for the get-config.")
def import_command(inventory: Path, patterns: tuple[str, ...], managed_prefix: str | None, out: Path | None,
                   timeout: float) -> None:
    """Write an intent YAML from what a device holds now; passwords become password_env references."""
    try:
        host = _one_host(load_inventory(inventory).limit(patterns), patterns)
        imported = import_device(host, prefix=managed_prefix, timeout=timeout)
    except ProvisionerError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    text = render_yaml(imported, host)
    for reason in imported.skipped:
        click.echo(f"warning: not imported: {reason}", err=True)
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        with out.open("x", encoding="utf-8") as stream:
            stream.write(text)
    except FileExistsError:
        click.echo(f"error: {out} exists; choose another --out or remove it first", err=True)
        sys.exit(1)
    except OSError as error:
        click.echo(f"error: cannot write {out}: {error.strerror}", err=True)
        sys.exit(1)
    for variable, name in imported.password_variables.items():
        click.echo(f"note: set {variable} to the SMTP password held in {name} before plan or apply", err=True)
    click.echo(f"wrote {out}", err=True)
