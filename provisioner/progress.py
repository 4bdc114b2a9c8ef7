"""Fleet progress on stderr for the CLI: a rich progress bar on a terminal, plain lines otherwise.

Plain lines (one per device as it ends, such as ``[2/5] r3: applied``) suit CI logs and files,
where a redrawn bar would leave control characters. rich is imported only when a bar is shown,
so commands that never run a fleet do not pay for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import click

from provisioner.fleet import SUMMARY_NAMES, DeviceRun, FleetResult, Progress, error_line

Label = Callable[[DeviceRun[Any]], str]


def outcome_text(run: DeviceRun[Any], label: Label) -> str:
    """Return how one device ended, in words: the label when done, else the state and error."""
    if run.state == "done":
        return label(run)
    state = run.state.replace("-", " ")
    line = error_line(run)
    return line if line.startswith(state) else f"{state}: {line}"




def lab_start_hint(inventory: Path, fleet: FleetResult[Any]) -> str | None:
    """Return how to start the lab devices of ``inventory`` when one refused the connection.

    A lab inventory outlives its lab: the lab that ``apply`` starts without ``--inventory``
    ends with the command, and ``provisioner lab`` with Ctrl-C. A refused TCP connection to
    such an inventory's device usually means that no lab is running.
    """
    refused = [run.device for run in fleet.devices if run.state == "failed" and "Connection refused" in (run.error or "")]
    if not refused:
        return None
    from provisioner.lab.statedir import lab_start_command

    command = lab_start_command(inventory)
    if command is None:
        return None
    return (f"hint: `provisioner lab` wrote {inventory}, and {', '.join(refused[:SUMMARY_NAMES])} refused the "
            f"connection, so that lab is probably not running; start it with `{command}` in another terminal "
            "and run this command again")


class FleetProgress:
    """Show a fleet run's progress on stderr; pass the instance as ``on_progress``.

    Args:
        verb: what the run does, such as ``applying``; it heads the bar.
        total: number of devices.
        label: names the outcome of a device that ended ``done``.
        terminal: draw a bar; default: when stderr is a terminal.
    """

    def __init__(self, verb: str, total: int, label: Label, *, terminal: bool | None = None) -> None:
        self.verb = verb
        self.total = total
        self.label = label
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Self:
        if self.terminal and self.total > 0:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.fields[running]}"),
                console=Console(stderr=True), transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.verb, total=self.total, running="")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __call__(self, event: Progress) -> None:
        if event.kind == "stopping":
            self._stopping(event)
        elif self._bar is not None:
            running = ", ".join(event.running[:4]) + (" ..." if len(event.running) > 4 else "")
            self._bar.update(self._task, completed=event.finished, running=running)
        elif event.kind == "finished" and event.run is not None:
            click.echo(f"[{event.finished}/{event.total}] {event.run.device}: {outcome_text(event.run, self.label)}", err=True)

    def _stopping(self, event: Progress) -> None:
        if event.running:
            message = (
                f"stopping: no new device starts; waiting for {', '.join(event.running)} to end "
                "(press Ctrl-C again to stop waiting)"
            )
        else:
            message = "stopping: no new device starts"
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
        else:
            click.echo(message, err=True)
