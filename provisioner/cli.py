"""The ``provisioner`` command line.

Exit codes: 0 success (plan: in sync), 2 plan found changes, 1 any error. Errors go to stderr
and nothing is sent to a device when the intent or inventory is invalid.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from models.errors import IntentError, ProvisionerError
from provisioner import logsafe

if TYPE_CHECKING:
    from lxml import etree

    from models.intent import Intent
    from models.inventory import Host
    from payloads.releases import ReleaseProfile
    from provisioner.diff import Plan
    from provisioner.engine import ApplyResult
    from provisioner.fleet import DeviceRun, FleetResult

# Start-up time: `provisioner --help` must stay well under 0.3 s, so the modules behind a
# command (pydantic models, lxml payloads, ncclient, the lab device) are imported inside it.

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_CHANGES = 2
EXIT_INTERRUPTED = 130


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _load(intent_path: Path, *, resolve_secrets: bool = True) -> Intent:
    from models.intent import load_intent

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


def _hosts(inventory_path: Path, patterns: tuple[str, ...]) -> list[Host]:
    """Load the inventory and return the hosts that the ``--limit`` patterns select (all without any)."""
    from models.inventory import load_inventory

    try:
        inventory = load_inventory(inventory_path)
        return inventory.limit(patterns)
    except ProvisionerError as error:
        _fail(str(error))


class _Group(click.Group):
    """The command group, with usage errors exiting 1 instead of click's 2.

    Exit code 2 means "changes pending" for plan and "findings" for check, so a mistyped option
    in a scheduled job must not look like a normal run with findings.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            module, attribute, _ = LAZY_COMMANDS[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands without importing the lazy ones: their short help is in LAZY_COMMANDS."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_COMMANDS[name][2]))
            elif not self.commands[name].hidden:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_ERROR)
        except click.UsageError as error:
            # click's own show() would print "Error:", and every other message here starts
            # with "error:", so the usage lines are printed as click does and the message after.
            if error.ctx is not None:
                command = error.ctx.command_path
                click.echo(f"{error.ctx.get_usage()}\nTry '{command} {error.ctx.help_option_names[0]}' for help.\n", err=True)
            click.echo(f"error: {error.format_message()}", err=True)
            sys.exit(EXIT_ERROR)
        except click.ClickException as error:
            click.echo(f"error: {error.format_message()}", err=True)
            sys.exit(EXIT_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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
host_option = click.option(
    "--limit", "--host", "hosts", multiple=True, metavar="PATTERN",
    help="Target only the hosts that PATTERN selects: a host name, a group name (members of its child groups "
    "included) or a glob over host names such as 'edge-*'. Repeatable; the union is targeted. --host is an "
    "alias. Default: every host.",
)
accept_new_host_key_option = click.option(
    "--accept-new-host-key", is_flag=True,
    help="Record a device's SSH host key in the inventory's known_hosts file when none is recorded (trust on "
    "first use). A key that differs from the recorded one is always refused.",
)
timeout_option = click.option("--timeout", "rpc_timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
                              help="Seconds to wait for the SSH connection and for each RPC reply.")


@main.command()
@intent_argument
@click.option("--format", "output_format", type=click.Choice(["xml", "cli"]), default="xml", show_default=True,
              help="xml: the edit-config <config> payload; cli: the IOS configuration lines.")
@click.option("--release", default="17.12", show_default=True,
              help="IOS XE release whose YANG shape to render: 17.9, 17.12, 17.15 or 17.18 (e.g. 17.18.1).")
@click.option("--yang-dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Cisco YANG of the release (or a folder of release folders such as 17181/) to validate the payload with libyang.")
def render(intent: Path, output_format: str, release: str, yang_dir: Path | None) -> None:
    """Render INTENT offline; the SMTP password is always masked and need not be set.

    The xml format prints the edit-config payload; the lines no YANG model of the release
    covers (the mail action, for one) follow as a comment, as they go through config-ios-cli-rpc.
    """
    from payloads import cli as cli_payloads
    from payloads.native_xml import render_config, to_text
    from payloads.releases import profile_for

    model = _load(intent, resolve_secrets=False)
    try:
        profile = profile_for(release)
    except ValueError as error:
        _fail(str(error))
    config = render_config(model, profile)
    if yang_dir is not None:
        _validate_payload(config, profile, yang_dir)
    else:
        click.echo(f"note: payload not validated against YANG (pass --yang-dir to check it for IOS XE {profile.name})", err=True)
    if output_format == "cli":
        click.echo("\n".join(cli_payloads.intent_lines(model)))
        return
    click.echo(to_text(config), nl=False)
    unmodelled = cli_payloads.unmodelled_lines(model, profile)
    if unmodelled:
        # "--" may not appear inside an XML comment.
        lines = "\n".join(f"  {line}".replace("--", "- -") for line in unmodelled)
        click.echo(f"<!-- through Cisco-IOS-XE-cli-rpc:config-ios-cli-rpc after the commit:\n{lines}\n-->")


def _validate_payload(config: etree._Element, profile: ReleaseProfile, yang_dir: Path) -> None:
    from provisioner.validation import SchemaValidator, find_yang_folder

    try:
        folder = find_yang_folder(yang_dir, profile)
        validator = SchemaValidator(folder, profile.name)
    except ProvisionerError as error:
        _fail(str(error))
    try:
        problems = validator.problems(config)
    finally:
        validator.close()
    if problems:
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
        _fail(f"the payload does not fit the YANG of IOS XE {profile.name} ({len(problems)} problem(s))")
    click.echo(f"note: payload validated against the YANG of IOS XE {profile.name} in {folder}", err=True)


workers_option = click.option(
    "--workers", type=click.IntRange(min=1), default=None,
    help="Devices worked on at the same time. Default: one per device, at most 32.",
)
device_timeout_option = click.option(
    "--device-timeout", type=click.FloatRange(min=0.1), default=None,
    help="Seconds allowed per device for the whole command; a device past it is reported as timed out "
    "and the others go on. Default: no limit beyond --timeout for each RPC.",
)


@main.command()
@intent_argument
@inventory_option
@host_option
@click.option("--output", "output_format", type=click.Choice(["text", "json", "xml"]), default="text", show_default=True,
              help="text: IOS CLI lines with + and - (coloured on a terminal); json or xml: the structured diff.")
@accept_new_host_key_option
@timeout_option
@workers_option
@device_timeout_option
def plan(intent: Path, inventory: Path | None, hosts: tuple[str, ...], output_format: str,
         accept_new_host_key: bool, rpc_timeout: float, workers: int | None, device_timeout: float | None) -> None:
    """Show what apply would change, as IOS CLI lines (exit 0 in sync, 2 changes, 1 error, 130 Ctrl-C)."""
    model = _load(intent)
    with _inventory_or_lab(inventory) as inventory_path:
        exit_code = _plan_hosts(model, _hosts(inventory_path, hosts), output_format,
                                accept_new_host_key=accept_new_host_key, rpc_timeout=rpc_timeout,
                                workers=workers, timeout=device_timeout, lab_inventory=inventory_path)
    sys.exit(exit_code)


def _plan_label(run: DeviceRun[Plan]) -> str:
    return "in sync" if run.result is not None and run.result.in_sync else "changes pending"


def _plan_hosts(model: Intent, targets: list[Host], output_format: str = "text", *,
                lab_inventory: Path | None = None, **options: Any) -> int:
    """Plan every target through the fleet runner, print the plans and a summary; return the exit code.

    ``lab_inventory``: the inventory file, for a hint to start its lab when a device refused to connect.
    """
    from payloads.native_xml import to_text
    from provisioner import plan_output
    from provisioner.devices import plan_devices
    from provisioner.fleet import FleetInterrupted, summary_line
    from provisioner.progress import FleetProgress, outcome_text

    interrupted = False
    with FleetProgress("planning", len(targets), _plan_label) as progress:
        try:
            fleet = plan_devices(model, targets, on_progress=progress, **options)
        except FleetInterrupted as stop:
            fleet, interrupted = stop.result, True

    results = []
    for run in fleet.devices:
        if run.state == "done":
            results.append(plan_output.DevicePlan(run.device, run.result))
            continue
        message = f"{run.device}: {outcome_text(run, _plan_label)}"
        click.echo(message if run.state == "not-started" else f"error: {message}", err=True)
        results.append(plan_output.DevicePlan(run.device, error=run.error if run.state == "failed" else message))

    if output_format == "text":
        for result in results:
            if result.plan is not None:
                for line in plan_output.text_lines(result, colour=plan_output.colour_wanted()):
                    click.echo(line)
    elif output_format == "json":
        click.echo(json.dumps(plan_output.plans_data(results), indent=2))
    else:
        click.echo(to_text(plan_output.plans_xml(results, model)), nl=False)
    click.echo(("interrupted: " if interrupted else "") + summary_line(fleet, _plan_label), err=True)
    _echo_lab_hint(lab_inventory, fleet)

    if interrupted:
        return EXIT_INTERRUPTED
    if not fleet.ok:
        return EXIT_ERROR
    return EXIT_CHANGES if any(not result.plan.in_sync for result in results if result.plan is not None) else EXIT_OK


@main.command()
@intent_argument
@inventory_option
@host_option
@click.option("--sync-timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Seconds to wait for the device's datastore to catch up after config-ios-cli-rpc.")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to keep retrying, with backoff, while another session holds a datastore lock.")
@click.option("--save-config", is_flag=True,
              help="After a verified apply, save running to startup (cisco-ia:save-config).")
@click.option("--yang-dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="Cisco YANG of the device's release, or a folder of release folders (17121/, 17181/, ...): "
                   "validate each edit with libyang before sending it.")
@click.option("--yang-from-device", is_flag=True,
              help="Without --yang-dir: fetch the device's YANG with <get-schema> into the user's cache "
                   "(~/.cache/iosxe-eem-provisioner/yang) and validate each edit against it.")
@accept_new_host_key_option
@timeout_option
@workers_option
@device_timeout_option
def apply(intent: Path, inventory: Path | None, hosts: tuple[str, ...], sync_timeout: float, lock_timeout: float,
          save_config: bool, yang_dir: Path | None, yang_from_device: bool, accept_new_host_key: bool,
          rpc_timeout: float, workers: int | None, device_timeout: float | None) -> None:
    """Apply INTENT, verify it with get-config, and restore the previous state on any failure.

    Exit 0 when every device has the intent, 1 when any failed, 130 after Ctrl-C.
    """
    if yang_dir is not None and yang_from_device:
        raise click.UsageError("give --yang-dir or --yang-from-device, not both: each names the YANG to validate against")
    model = _load(intent)
    with _inventory_or_lab(inventory) as inventory_path:
        exit_code = _apply_hosts(
            model, _hosts(inventory_path, hosts), sync_timeout, lock_timeout=lock_timeout, save_config=save_config,
            accept_new_host_key=accept_new_host_key, rpc_timeout=rpc_timeout, yang_dir=yang_dir,
            yang_from_device=yang_from_device, workers=workers, timeout=device_timeout, lab_inventory=inventory_path,
        )
    sys.exit(exit_code)


def _apply_label(run: DeviceRun[ApplyResult]) -> str:
    return "applied" if run.result is not None and run.result.changed else "unchanged"


def _apply_hosts(model: Intent, targets: list[Host], sync_timeout: float, *,
                 lab_inventory: Path | None = None, **options: Any) -> int:
    """Apply to every target through the fleet runner, print each report and a summary; return the exit code.

    ``lab_inventory``: the inventory file, for a hint to start its lab when a device refused to connect.
    """
    from provisioner.devices import apply_devices
    from provisioner.fleet import FleetInterrupted, summary_line
    from provisioner.progress import FleetProgress

    interrupted = False
    with FleetProgress("applying", len(targets), _apply_label) as progress:
        try:
            fleet = apply_devices(model, targets, sync_timeout=sync_timeout, on_progress=progress, **options)
        except FleetInterrupted as stop:
            fleet, interrupted = stop.result, True

    # The process waits at exit for an apply left running anyway (its thread is no daemon), so
    # after a time limit the reports wait for it too and can say how it ended. After a second
    # Ctrl-C the user asked to stop waiting: the reports come first, the late outcomes after.
    if not interrupted:
        fleet = _wait_for_late_applies(fleet)
    for run in fleet.devices:
        _print_apply_report(run)
    click.echo(("interrupted: " if interrupted else "") + summary_line(fleet, _apply_label), err=True)
    _echo_lab_hint(lab_inventory, fleet)
    if interrupted:
        for run in _wait_for_late_applies(fleet).still_running():
            if run.late is not None:
                click.echo(f"{run.device}: the apply ended after the run stopped waiting for it: "
                           f"{_late_outcome_text(run.late)}", err=True)

    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_OK if fleet.ok else EXIT_ERROR


def _echo_lab_hint(inventory: Path | None, fleet: FleetResult[Any]) -> None:
    from provisioner.progress import lab_start_hint

    hint = None if inventory is None else lab_start_hint(inventory, fleet)
    if hint is not None:
        click.echo(hint, err=True)


def _wait_for_late_applies(fleet: FleetResult[ApplyResult]) -> FleetResult[ApplyResult]:
    """Wait for the applies that the fleet run left running and return the fleet with their outcomes."""
    still_running = [run.device for run in fleet.still_running()]
    if not still_running:
        return fleet
    click.echo(f"note: waiting for the apply on {', '.join(still_running)} to end, so that no commit is cut off",
               err=True)
    try:
        return fleet.wait_for_late()
    except KeyboardInterrupt:
        click.echo("note: stopped waiting; the process still exits only after those applies have ended", err=True)
        return fleet


def _late_outcome_text(late: DeviceRun[ApplyResult]) -> str:
    """Return how an apply that outlived the run ended, such as ``applied and verified``."""
    from provisioner.progress import outcome_text

    result = late.result
    if result is None:
        return outcome_text(late, _apply_label)
    if result.error is not None:
        return f"failed ({result.error}), configuration {_OUTCOME_TEXT[result.outcome]}"
    return "applied and verified" if result.changed else "unchanged (in sync, nothing sent)"


def _print_apply_report(run: DeviceRun[ApplyResult]) -> None:
    from provisioner.progress import outcome_text

    result = run.result
    if result is None:
        if run.state == "not-started":
            click.echo(f"{run.device}: not started: {run.error}", err=True)
            return
        if run.state in ("timed-out", "interrupted") and run.late is not None:
            _print_late_apply_report(run, run.late)
            return
        click.echo(f"error: {run.device}: {outcome_text(run, _apply_label)}", err=True)
        if run.state in ("timed-out", "interrupted"):
            click.echo(f"{run.device}: configuration UNKNOWN: the apply was still running; run `provisioner plan` "
                       "to see what the device holds", err=True)
        return
    if result.error is not None:
        click.echo(f"error: {result.error}", err=True)
        click.echo(f"{run.device}: failed, configuration {_OUTCOME_TEXT[result.outcome]}", err=True)
        for note in result.notes:
            click.echo(f"  note: {note}", err=True)
        return
    state = "applied and verified" if result.changed else "unchanged (in sync, nothing sent)"
    click.echo(f"{run.device}: {state}")
    for report in result.objects:
        click.echo(f"  {report.outcome:9} {report.name}  [verified by {report.verified_by}]")
    for note in result.notes:
        click.echo(f"  note: {note}")
    if result.unsaved:
        click.echo("  note: the configuration is not saved to startup; run again with --save-config "
                   "or save it on the device (`copy running-config startup-config`)")


def _print_late_apply_report(run: DeviceRun[ApplyResult], late: DeviceRun[ApplyResult]) -> None:
    """Print the report of a device that passed its time limit and whose apply then ended."""
    state = run.state.replace("-", " ")
    limit = (run.error or "").split(";", 1)[0] if run.state == "timed-out" else state
    click.echo(f"error: {run.device}: {limit}; the apply then ended: {_late_outcome_text(late)}", err=True)
    if late.result is None:
        return
    for report in late.result.objects:
        click.echo(f"  {report.outcome:9} {report.name}  [verified by {report.verified_by}]", err=True)
    for note in late.result.notes:
        click.echo(f"  note: {note}", err=True)


_OUTCOME_TEXT = {
    "unchanged": "unchanged (nothing was committed)",
    "applied": "applied and verified",
    "rolled-back": "rolled back to its state before apply",
    "unknown": "UNKNOWN: check the device",
}


@main.command()
@intent_argument
def validate(intent: Path) -> None:
    """Check INTENT offline and print every problem, warnings included (exit 1 on any error)."""
    from models.intent import load_intent

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
    from models.intent import Intent

    click.echo(json.dumps(Intent.model_json_schema(by_alias=True), indent=2))


# Commands defined in their own modules: (module, attribute, short help for `--help`). The
# module is imported only when its command runs; tests/unit/test_cli_startup.py checks that the
# short help here matches the command's own.
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "certs": (
        "provisioner.certs.command", "certs",
        "CA certificates for trustpoints: inspect files, read an SMTP server's chain, diagnose device logs.",
    ),
    "check": (
        "provisioner.check", "check",
        "Check devices against INTENT without changing them: drift, certificate expiry, mail policy.",
    ),
    "import": (
        "provisioner.importer", "import_command",
        "Write an intent YAML from what a device holds now; passwords become password_env references.",
    ),
    "lab": (
        "provisioner.lab.command", "lab",
        "Run a simulated IOS XE device (NETCONF over SSH), or a fleet of them, until Ctrl-C.",
    ),
}
