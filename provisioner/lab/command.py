"""The ``provisioner lab`` command: run a simulated IOS XE device, or a fleet of them, in the
foreground."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from provisioner.lab.faults import parse_mutation
from provisioner.lab.fleet import LabFleet, ListenError, OpenFileLimitError
from provisioner.lab.releases import RELEASES
from provisioner.lab.runner import run_fleet, run_lab
from provisioner.lab.server import LabServer
from provisioner.lab.statedir import StateDirInUseError


def _parse_mutations(ctx: click.Context, param: click.Parameter,
                     values: tuple[str, ...]) -> list[tuple[str, str]]:
    try:
        return [parse_mutation(value) for value in values]
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


@click.command("lab")
@click.option("--port", "--base-port", "port", type=click.IntRange(0, 65535), default=8300,
              show_default=True,
              help="TCP port on 127.0.0.1 to listen on (0 picks a free port). With --devices, the "
                   "port of the first device: device i listens on PORT+i-1, or on a free port each "
                   "when PORT is 0.")
@click.option("--devices", type=click.IntRange(min=1), default=None, metavar="N",
              help="Serve N devices (lab-001, lab-002, ...) from this process, each with its own "
                   "state folder in --state-dir, and write one inventory with all of them in the "
                   "group 'lab'.")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("lab-state"), show_default=True,
              help="Folder for host key, password, inventory, datastores and RPC log. With "
                   "--devices: the shared password, known_hosts and inventory, and one subfolder "
                   "per device.")
@click.option("--release", type=click.Choice(list(RELEASES)), default="17.12",
              show_default=True, help="IOS XE release the device imitates.")
@click.option("--username", default="admin", show_default=True, help="SSH login name.")
@click.option("--latency-ms", type=click.IntRange(0, 600000), default=0, show_default=True,
              help="Delay added before every RPC reply, in milliseconds.")
@click.option("--mutate", "mutate", multiple=True, callback=_parse_mutations,
              metavar="XPATH=VALUE",
              help="After every commit, set the node at XPATH (prefixes ios, eem, crypto) to "
                   "VALUE. Repeatable.")
@click.option("--yang-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None,
              help="YANG folder of the release: enables get-schema and libyang validation.")
@click.option("--restconf", is_flag=True,
              help="Also serve RESTCONF over HTTPS (one device only); the inventory then names the "
                   "device over RESTCONF, with the lab's own CA (restconf-ca.pem) as ca_bundle.")
@click.option("--restconf-port", type=click.IntRange(0, 65535), default=8443, show_default=True,
              help="TCP port on 127.0.0.1 for RESTCONF with --restconf (0 picks a free port).")
def lab(port: int, devices: int | None, state_dir: Path, release: str, username: str,
        latency_ms: int, mutate: list[tuple[str, str]], yang_dir: Path | None,
        restconf: bool, restconf_port: int) -> None:
    """Run a simulated IOS XE device (NETCONF over SSH), or a fleet of them, until Ctrl-C."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if devices is not None and restconf:
        raise click.UsageError("--restconf serves a single device; leave out --devices")
    if devices is not None:
        _serve_fleet(devices, port, state_dir, release, username, latency_ms, mutate, yang_dir)
        return

    def announce(server: LabServer) -> None:
        click.echo(f"Lab device (IOS XE {server.release.name}) listening on "
                   f"{server.host}:{server.port}; inventory: {server.inventory_path}")

    try:
        run_lab(port, state_dir, release, username, latency_ms, mutate, yang_dir,
                on_ready=announce, restconf_port=restconf_port if restconf else None)
    except StateDirInUseError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(
            f"cannot start the lab device on port {port}"
            f"{f' or RESTCONF port {restconf_port}' if restconf else ''}: {error}. "
            "Choose another port with --port or --restconf-port."
        ) from error
    click.echo("Lab device stopped.")


def _serve_fleet(count: int, base_port: int, state_dir: Path, release: str, username: str,
                 latency_ms: int, mutate: list[tuple[str, str]], yang_dir: Path | None) -> None:
    def announce(fleet: LabFleet) -> None:
        ports = fleet.ports
        where = (f"ports {ports[0]} to {ports[-1]}" if base_port
                 else "free ports (see the inventory)")
        click.echo(f"{count} lab devices (IOS XE {release}) listening on {fleet.host} {where}; "
                   f"inventory: {fleet.inventory_path}")

    try:
        run_fleet(count, state_dir, base_port, release, username, latency_ms, mutate, yang_dir,
                  on_ready=announce)
    except (StateDirInUseError, OpenFileLimitError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    except ListenError as error:
        raise click.ClickException(f"{error.strerror}. Choose another --base-port, or 0 for free "
                                   "ports.") from error
    except OSError as error:
        raise click.ClickException(f"cannot start the lab devices in {state_dir}: {error}") from error
    click.echo("Lab devices stopped.")
