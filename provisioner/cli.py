"""The ``provisioner`` command line.

Exit codes: 0 success (plan: in sync), 2 plan found changes, 1 any error. Errors go to stderr
and nothing is sent to a device when the intent or inventory is invalid.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import click

from models.errors import IntentError, ProvisionerError
from models.intent import Intent, load_intent
from models.inventory import Host, load_inventory
from payloads import cli as cli_payloads
from payloads.native_xml import render_config, to_text
from payloads.releases import profile_for
from provisioner import logsafe
from provisioner.engine import apply_device, plan_device

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _load(intent_path: Path, *, resolve_secrets: bool = True) -> Intent:
    try:
        intent = load_intent(intent_path, resolve_secrets=resolve_secrets)
    except IntentError as error:
        _fail(str(error))
    logsafe.register_secrets(intent.secrets())
    return intent


DEFAULT_LAB_STATE = Path("lab-state")


@contextmanager
def _inventory_or_lab(inventory_path: Path | None) -> Iterator[Path]:
    """Yield the inventory to use: the given one, or that of a built-in lab device in ./lab-state.

    A lab device already serving ./lab-state (``provisioner lab``) holds a lock on it; then its
    inventory is used instead of starting a second device on the same datastores.
    """
    if inventory_path is not None:
        yield inventory_path
        return

    from provisioner.lab import LabDevice, StateDirInUseError

    try:
        lab = LabDevice(state_dir=DEFAULT_LAB_STATE, port=0)
    except StateDirInUseError:
        click.echo(f"no --inventory given: using the lab device that is serving {DEFAULT_LAB_STATE}/", err=True)
        yield DEFAULT_LAB_STATE / "inventory.yaml"
        return
    click.echo(f"no --inventory given: using a built-in lab device with its state in {DEFAULT_LAB_STATE}/", err=True)
    with lab:
        yield lab.inventory_path


def _hosts(inventory_path: Path, names: tuple[str, ...]) -> list[Host]:
    try:
        inventory = load_inventory(inventory_path)
        return inventory.select(list(names))
    except ProvisionerError as error:
        _fail(str(error))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="Log progress to stderr; twice for debug detail (secrets stay masked).")
def main(verbose: int) -> None:
    """Provision Cisco IOS XE EEM e-mail alerts and PKI trustpoints over NETCONF."""
    levels = {0: logging.WARNING, 1: logging.INFO}
    level = levels.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    logsafe.install()


intent_argument = click.argument("intent", type=click.Path(path_type=Path, dir_okay=False))
inventory_option = click.option(
    "--inventory", "-i", "inventory", type=click.Path(path_type=Path, dir_okay=False), default=None,
    help="Inventory YAML with the devices to target. Default: a built-in lab device kept in ./lab-state.",
)
host_option = click.option("--host", "hosts", multiple=True, help="Inventory host name to target; repeatable. Default: every host.")


@main.command()
@intent_argument
@click.option("--format", "output_format", type=click.Choice(["xml", "cli"]), default="xml", show_default=True,
              help="xml: the edit-config <config> payload; cli: the IOS configuration lines.")
@click.option("--release", default="17.12", show_default=True, help="IOS XE release train whose YANG shape to render.")
def render(intent: Path, output_format: str, release: str) -> None:
    """Render INTENT offline; the SMTP password is always masked and need not be set."""
    model = _load(intent, resolve_secrets=False)
    try:
        profile = profile_for(release)
    except ValueError as error:
        _fail(str(error))
    if output_format == "xml":
        click.echo(to_text(render_config(model, profile)), nl=False)
        return
    click.echo("\n".join(cli_payloads.intent_lines(model)))


@main.command()
@intent_argument
@inventory_option
@host_option
def plan(intent: Path, inventory: Path | None, hosts: tuple[str, ...]) -> None:
    """Show what apply would change, as IOS CLI lines (exit 0 in sync, 2 changes, 1 error)."""
    model = _load(intent)
    with _inventory_or_lab(inventory) as inventory_path:
        exit_code = _plan_hosts(model, _hosts(inventory_path, hosts))
    sys.exit(exit_code)


def _plan_hosts(model: Intent, targets: list[Host]) -> int:
    exit_code = EXIT_OK
    for host in targets:
        try:
            result = plan_device(model, host)
        except ProvisionerError as error:
            click.echo(f"error: {error}", err=True)
            exit_code = EXIT_ERROR
            continue
        if result.in_sync:
            click.echo(f"{host.name}: in sync")
            continue
        click.echo(f"{host.name}: changes pending")
        for line in result.render():
            click.echo(f"  {line}")
        if exit_code == EXIT_OK:
            exit_code = EXIT_CHANGES
    return exit_code


@main.command()
@intent_argument
@inventory_option
@host_option
@click.option("--sync-timeout", type=float, default=60.0, show_default=True,
              help="Seconds to wait for the device's datastore to catch up after config-ios-cli-rpc.")
def apply(intent: Path, inventory: Path | None, hosts: tuple[str, ...], sync_timeout: float) -> None:
    """Apply INTENT, verify it with get-config, and restore the previous state on a mismatch."""
    model = _load(intent)
    with _inventory_or_lab(inventory) as inventory_path:
        exit_code = _apply_hosts(model, _hosts(inventory_path, hosts), sync_timeout)
    sys.exit(exit_code)


def _apply_hosts(model: Intent, targets: list[Host], sync_timeout: float) -> int:
    exit_code = EXIT_OK
    for host in targets:
        result = apply_device(model, host, sync_timeout=sync_timeout)
        if result.error is not None:
            click.echo(f"error: {result.error}", err=True)
            exit_code = EXIT_ERROR
            continue
        state = "changed" if result.changed else "in sync, nothing sent"
        click.echo(f"{host.name}: {state}")
        for report in result.objects:
            click.echo(f"  {report.outcome:9} {report.name}  [verified by {report.verified_by}]")
    return exit_code


@main.command()
@intent_argument
def validate(intent: Path) -> None:
    """Check INTENT offline and print every problem, warnings included (exit 1 on any error)."""
    unresolved: list[str] = []
    try:
        model = load_intent(intent, unresolved=unresolved)
    except IntentError as error:
        for problem in error.problems:
            click.echo(f"{problem}", err=True)
        errors = sum(1 for problem in error.problems if problem.severity == "error")
        click.echo(f"{intent}: {errors} error(s); nothing was sent to any device", err=True)
        sys.exit(EXIT_ERROR)
    warnings = [str(warning) for warning in model.warnings]
    warnings.extend(
        f"{intent}: warning: environment variable {name} is not set, so that password was not checked"
        for name in unresolved
    )
    for warning in warnings:
        click.echo(warning, err=True)
    click.echo(f"{intent}: valid ({len(warnings)} warning(s))")


@main.command()
def schema() -> None:
    """Print the JSON Schema of intent files, for editors and YAML language servers."""
    click.echo(json.dumps(Intent.model_json_schema(by_alias=True), indent=2))


def _register_subcommands() -> None:
    from provisioner.certs.command import certs
    from provisioner.lab.command import lab

    main.add_command(lab)
    main.add_command(certs)


_register_subcommands()
