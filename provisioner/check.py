"""``provisioner check``: read-only compliance runs, made to be started by cron or a systemd timer.

Exit codes: 0 every device compliant, 2 findings (drift, expiring certificates, policy), 1 an
error (a device could not be checked, bad input, or another run holds the lock file).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import click

from models.certificate import load_certificates
from models.errors import InputError, IntentError, ProvisionerError
from models.intent import load_intent
from models.inventory import load_inventory
from provisioner import logsafe
from provisioner.compliance import (
    DEFAULT_DEVICE_TIMEOUT,
    DEFAULT_FAIL_DAYS,
    DEFAULT_WARN_DAYS,
    CheckOptions,
    DeviceCompliance,
    check_fleet,
)
from provisioner.fleet import DeviceRun, FleetInterrupted, summary_line

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FINDINGS = 2
EXIT_INTERRUPTED = 130


class LockHeldError(ProvisionerError):
    """Another process holds the lock file of this check run."""


def default_lock_file(inventory: Path) -> Path:
    """Return the lock file for runs over one inventory: one per inventory path, in the temp folder."""
    digest = hashlib.sha256(str(inventory.resolve()).encode()).hexdigest()[:12]
    folder = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(folder) / f"provisioner-check-{digest}.lock"


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the duration of the block.

    The kernel releases the lock when the process ends, so a killed run leaves no stale lock.

    Raises:
        LockHeldError: another process holds it.
        InputError: the lock file cannot be opened.
    """
    try:
        stream: IO[str] = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    except OSError as error:
        raise InputError(f"cannot open the lock file {path}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            stream.seek(0)
            holder = stream.read().strip() or "unknown"
            raise LockHeldError(
                f"another check run (pid {holder}) holds {path}; this run stops so that two runs never "
                "overlap. If that run hangs, lower --timeout"
            ) from None
        stream.seek(0)
        stream.truncate()
        stream.write(f"{os.getpid()}\n")
        stream.flush()
        yield
    finally:
        stream.close()


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


@click.command()
@click.argument("intent", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--inventory", "-i", "inventory", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="Inventory YAML with the devices to check.")
@click.option("--limit", "--host", "hosts", multiple=True, metavar="PATTERN",
              help="Check only the hosts that PATTERN selects: a host name, a group name or a glob over host "
              "names such as 'edge-*'. Repeatable; the union is checked. --host is an alias. Default: every host.")
@click.option("--warn-days", type=click.IntRange(min=0), default=DEFAULT_WARN_DAYS, show_default=True,
              help="Warn when a trustpoint's CA certificate ends within this many days.")
@click.option("--fail-days", type=click.IntRange(min=0), default=DEFAULT_FAIL_DAYS, show_default=True,
              help="Fail when a trustpoint's CA certificate ends within this many days or has expired.")
@click.option("--chain", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="PEM file with the SMTP server's chain, leaf first (as `certs fetch` saves it); "
              "then a trustpoint on the device must hold one of its CA certificates.")
@click.option("--output", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Report on stdout: a table, or JSON with the findings and the structured diff.")
@click.option("--junit", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write JUnit XML here: one testcase per device and check.")
@click.option("--metrics", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write Prometheus text format here (for node_exporter's textfile collector).")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=DEFAULT_DEVICE_TIMEOUT, show_default=True,
              help="Seconds allowed per device, for connecting, each RPC and the whole check.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Devices checked at the same time. Default: one per device, at most 32.")
@click.option("--lock-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Lock file that stops overlapping runs. Default: one per inventory in $XDG_RUNTIME_DIR or the temp folder.")
def check(
    intent: Path,
    inventory: Path,
    hosts: tuple[str, ...],
    warn_days: int,
    fail_days: int,
    chain: Path | None,
    output_format: str,
    junit: Path | None,
    metrics: Path | None,
    timeout: float,
    workers: int | None,
    lock_file: Path | None,
) -> None:
    """Check devices against INTENT without changing them: drift, certificate expiry, mail policy.

    Exit 0 when every device complies, 2 on findings, 1 when a device could not be checked, 130
    after Ctrl-C.
    """
    unresolved: list[str] = []
    try:
        _check_report_paths(junit, metrics)
        model = load_intent(intent, unresolved=unresolved)
        targets = load_inventory(inventory).limit(hosts)
        presented = load_certificates(chain.read_bytes(), str(chain)) if chain is not None else []
        options = CheckOptions(warn_days=warn_days, fail_days=fail_days, chain=presented)
    except IntentError as error:
        _fail(str(error))
        return
    except (ProvisionerError, ValueError) as error:
        _fail(str(error))
        return
    except OSError as error:
        _fail(f"cannot read {chain}: {error.strerror}")
        return
    logsafe.register_secrets(model.secrets())
    for name in unresolved:
        click.echo(f"note: {name} is not set, so the SMTP password on the devices was not compared", err=True)

    from provisioner.progress import FleetProgress, lab_start_hint

    interrupted = False
    try:
        with run_lock(lock_file or default_lock_file(inventory)), \
                FleetProgress("checking", len(targets), _check_label) as progress:
            fleet = check_fleet(model, targets, options, timeout=timeout, workers=workers, on_progress=progress)
    except FleetInterrupted as stop:
        fleet, interrupted = stop.result, True
    except ProvisionerError as error:
        _fail(str(error))
        return
    results = [run.result or DeviceCompliance(run.device, error=run.error) for run in fleet.devices]

    _print_report(results, output_format)
    click.echo(("interrupted: " if interrupted else "") + summary_line(fleet, _check_label), err=True)
    hint = lab_start_hint(inventory, fleet)
    if hint is not None:
        click.echo(hint, err=True)

    if interrupted:
        # A partial run must not replace the last complete JUnit or metrics file.
        if junit is not None or metrics is not None:
            click.echo("note: interrupted, so the JUnit and metrics files were not written", err=True)
        sys.exit(EXIT_INTERRUPTED)
    from provisioner.reports import junit_xml, prometheus_text, write_atomically

    for option, path, render in (
        ("--junit", junit, lambda: junit_xml(results)),
        ("--metrics", metrics, lambda: prometheus_text(results).encode()),
    ):
        if path is None:
            continue
        try:
            write_atomically(path, render())
        except OSError as error:
            # The temporary file's name in the OSError would only confuse, so name the user's path.
            _fail(f"{option} {path}: cannot write the file: {error.strerror}")
            return

    if any(result.error is not None for result in results):
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if any(result.findings for result in results) else EXIT_OK)


def _check_report_paths(junit: Path | None, metrics: Path | None) -> None:
    """Check the report files' folders before any device is contacted, so a typo costs no run."""
    from provisioner.reports import check_report_folder

    if junit is not None:
        check_report_folder(junit, "--junit")
    if metrics is not None:
        check_report_folder(metrics, "--metrics")


def _check_label(run: DeviceRun[DeviceCompliance]) -> str:
    return "with findings" if run.result is not None and run.result.findings else "compliant"


def _print_report(results: list[DeviceCompliance], output_format: str) -> None:
    """Print the results on stdout as JSON or as a table; rich is imported only here."""
    from rich.console import Console

    from provisioner.reports import print_table, report_data

    if output_format == "json":
        click.echo(json.dumps(report_data(results), indent=2))
    else:
        print_table(results, Console(no_color=bool(os.environ.get("NO_COLOR")) or None))

