"""Run one task per device over a fleet: bounded worker threads, per-device time limits, Ctrl-C.

``run_fleet`` is the runner behind ``plan``, ``apply`` and ``check`` for many devices. Each
device's work is blocking NETCONF I/O, so it runs in a thread of its own, at most ``workers`` at
a time, and ends as one :class:`DeviceRun` in the order of the hosts given.

Stopping. A first Ctrl-C (``KeyboardInterrupt`` in the calling thread) or a set ``stop`` event
starts no new device and waits for the running ones to end on their own, each within its time
limit: an apply is never cut off in the middle of a commit, and it restores the previous state
itself when one of its steps fails. A second Ctrl-C stops the waiting; the devices still
running are then reported as ``interrupted``. After a Ctrl-C the runner raises
:class:`FleetInterrupted`, which carries the result of every device.

Progress goes to an optional callback, always called in the caller's thread; the runner never
prints.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

from models.inventory import Host
from provisioner import logsafe

logger = logging.getLogger(__name__)

T = TypeVar("T")

State = Literal["done", "failed", "timed-out", "interrupted", "not-started"]
STATES: tuple[State, ...] = ("done", "failed", "timed-out", "interrupted", "not-started")

MAX_DEFAULT_WORKERS = 32

# How often the waiting caller looks at the ``stop`` event, in seconds. Results and time limits
# wake it at once; only a ``stop`` event set from another thread waits for this poll.
_STOP_POLL_SECONDS = 0.2
# How often the calling thread looks at the Ctrl-C count while it waits for workers.
_SIGNAL_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class DeviceRun(Generic[T]):
    """The outcome of one device's task in a fleet run.

    Attributes:
        device: the inventory name.
        state: ``done``: the task returned a result that is no failure. ``failed``: the task
            raised, or returned a result that reports a failure (``result`` then contains it).
            ``timed-out``: the task did not end within the time limit; its thread was left
            running. ``interrupted``: the task was still running when the run stopped waiting
            (a second Ctrl-C), so its outcome is unknown. ``not-started``: the run stopped before
            this device's turn came.
        result: what the task returned, or None when it did not return.
        error: why the device did not end ``done``, secrets masked; None when it did.
        late: for a ``timed-out`` or ``interrupted`` device, how its task ended after the run
            stopped waiting for it (state ``done`` or ``failed``). It is set only in the result
            of :meth:`FleetResult.wait_for_late`, and stays None while the task still runs.
    """

    device: str
    state: State
    result: T | None = None
    error: str | None = None
    late: DeviceRun[T] | None = None


@dataclass(frozen=True)
class FleetResult(Generic[T]):
    """The outcome of a fleet run: one :class:`DeviceRun` per host, in the order of the hosts.

    Attributes:
        devices: one entry per host given to the run.
        stopped: a stop was requested (Ctrl-C or the ``stop`` event) before every device ran.
    """

    devices: tuple[DeviceRun[T], ...]
    stopped: bool = False
    _run: _Run[T] | None = field(default=None, repr=False, compare=False)

    def counts(self) -> dict[State, int]:
        """Return the number of devices in each state, every state included."""
        return {state: sum(1 for run in self.devices if run.state == state) for state in STATES}

    def in_state(self, state: State) -> list[DeviceRun[T]]:
        """Return the devices that ended in ``state``, in host order."""
        return [run for run in self.devices if run.state == state]

    @property
    def ok(self) -> bool:
        """True when every device ended ``done``."""
        return all(run.state == "done" for run in self.devices)

    def still_running(self) -> list[DeviceRun[T]]:
        """Return the timed-out and interrupted devices, whose tasks the run left running."""
        return [run for run in self.devices if run.state in ("timed-out", "interrupted")]

    def wait_for_late(self, timeout: float | None = None) -> FleetResult[T]:
        """Wait until the tasks left running have ended and return a copy with their outcomes.

        Each timed-out or interrupted device of the copy keeps its state and gets ``late``: how
        its task ended. A task that has not ended within ``timeout`` seconds (None: no limit)
        keeps ``late`` None. Ctrl-C raises ``KeyboardInterrupt`` out of the wait.
        """
        if self._run is None or not self.still_running():
            return self
        late = self._run.wait_late(self.devices, timeout)
        devices = tuple(replace(run, late=late.get(index, run.late)) for index, run in enumerate(self.devices))
        return replace(self, devices=devices)


class FleetInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a fleet run. ``result`` contains what every device did, or did not, do.

    It is a ``KeyboardInterrupt``, so a script that does not catch it stops as on any Ctrl-C.
    """

    def __init__(self, result: FleetResult[Any]) -> None:
        super().__init__("interrupted")
        self.result = result


@dataclass(frozen=True)
class Progress:
    """One step of a fleet run, passed to the ``on_progress`` callback.

    Attributes:
        kind: ``started``: a device's task began. ``finished``: a device ended (``run`` contains how).
            ``stopping``: a stop was requested; ``running`` lists the devices being waited for.
        device: the device concerned, or None for ``stopping``.
        run: the device's outcome, for ``finished``.
        finished: devices that have ended so far.
        total: devices in the run.
        running: devices whose task is running now.
    """

    kind: Literal["started", "finished", "stopping"]
    device: str | None
    run: DeviceRun[object] | None
    finished: int
    total: int
    running: tuple[str, ...]


ProgressCallback = Callable[[Progress], None]


def default_workers(count: int) -> int:
    """Return the default number of worker threads for ``count`` devices: one each, up to 32."""
    return max(1, min(MAX_DEFAULT_WORKERS, count))


def run_fleet(
    hosts: Sequence[Host],
    task: Callable[[Host], T],
    *,
    workers: int | None = None,
    timeout: float | None = None,
    failure: Callable[[T], str | None] | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    wait_at_exit: bool = False,
) -> FleetResult[T]:
    """Run ``task`` once per host in worker threads and return one result per host, in order.

    Args:
        hosts: the devices; the same host may appear twice and then runs twice.
        task: the work for one device. An exception it raises makes that device ``failed``
            and never stops the others.
        workers: maximum number of tasks running at the same time; default
            :func:`default_workers` of the host count.
        timeout: seconds each task may run; None for no limit. A task past it is reported
            ``timed-out`` and its thread is left to end on its own, while the others go on.
        failure: returns the error message when a returned result reports a failure (such as
            an apply that rolled back), or None when it does not.
        on_progress: called in the caller's thread for each :class:`Progress` step. An
            exception it raises is logged and the run goes on.
        stop: when set (from any thread), no new device starts and the running ones end on
            their own; the result then has ``stopped`` set.
        wait_at_exit: make the worker threads non-daemon, so the interpreter waits at exit for
            a task left running after a time limit or a second Ctrl-C. Use it for tasks that
            must not be cut off, such as an apply between its commit and its verification.

    Raises:
        ValueError: ``workers`` is below 1 or ``timeout`` is not positive.
        FleetInterrupted: Ctrl-C in the calling thread; it carries the result.
    """
    if workers is None:
        workers = default_workers(len(hosts))
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    if timeout is not None and timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout}")
    run = _Run(list(hosts), task, workers, timeout, failure, on_progress, stop, wait_at_exit)
    return run.execute()


def summary_line(result: FleetResult[T], label: Callable[[DeviceRun[T]], str]) -> str:
    """Return one line such as ``3 devices: 2 applied, 1 failed (r3: timed out after 5 s)``.

    ``label`` names the outcome of a ``done`` device, such as ``applied`` or ``in sync``. The
    other states keep their own names. The failed, timed-out and interrupted devices are named
    after their count, at most ``SUMMARY_NAMES`` of each; their errors are left to the
    per-device reports, so that a reason is not printed twice.
    """
    groups: dict[str, list[str]] = {}
    for run in result.devices:
        name = label(run) if run.state == "done" else run.state.replace("-", " ")
        groups.setdefault(name, []).append(run.device)
    named = {state.replace("-", " ") for state in ("failed", "timed-out", "interrupted")}
    parts = []
    for name, devices in groups.items():
        part = f"{len(devices)} {name}"
        if name in named:
            shown = ", ".join(devices[:SUMMARY_NAMES])
            more = len(devices) - SUMMARY_NAMES
            part += f" ({shown}{f' and {more} more' if more > 0 else ''})"
        parts.append(part)
    total = len(result.devices)
    return f"{total} device{'s' if total != 1 else ''}: {', '.join(parts) or 'none'}"


# Maximum number of device names the summary line lists per state, because a fleet of 1,000
# failed devices would otherwise give a line of several kilobytes.
SUMMARY_NAMES = 10


def error_line(run: DeviceRun[Any]) -> str:
    """Return the first line of a device's error, without the device name that starts most of them."""
    line = (run.error or "no details").strip().split("\n", 1)[0]
    prefix = f"{run.device}: "
    return line.removeprefix(prefix)



def _describe(error: BaseException) -> str:
    """Return an error message for a report, with any registered secret masked."""
    from models.errors import ProvisionerError

    if isinstance(error, ProvisionerError):
        return logsafe.mask(str(error))
    return logsafe.mask(f"failed unexpectedly: {type(error).__name__}: {error}")


class _Run(Generic[T]):
    """The state of one fleet run, shared between the calling thread and the workers.

    Only workers record that their task started (``started``) or that they saw the stop and did
    not start (``skipped``), and they do so under the lock. The calling thread derives every
    state from these sets. A ``KeyboardInterrupt`` can hit the calling thread between any two
    statements, so no device's state depends on a step of the caller that could be cut in half.
    """

    def __init__(
        self, hosts: list[Host], task: Callable[[Host], T], workers: int, timeout: float | None,
        failure: Callable[[T], str | None] | None, on_progress: ProgressCallback | None,
        stop: threading.Event | None, wait_at_exit: bool,
    ) -> None:
        self.hosts = hosts
        self.task = task
        self.workers = workers
        self.timeout = timeout
        self.failure = failure
        self.on_progress = on_progress
        self.stop = stop
        self.wait_at_exit = wait_at_exit
        self.changed = threading.Condition(threading.Lock())
        self.stopping = False
        self.stop_requested = False
        self.next_index = 0
        self.launched: set[int] = set()
        self.started: dict[int, float] = {}
        self.skipped: set[int] = set()
        self.results: dict[int, DeviceRun[T]] = {}
        self.late: dict[int, DeviceRun[T]] = {}
        self.announced_start: set[int] = set()
        self.announced_end: set[int] = set()
        # Ctrl-C presses so far, counted by catch_sigint's handler or from a KeyboardInterrupt.
        self.interrupts = 0

    # Worker threads

    def work(self, index: int) -> None:
        host = self.hosts[index]
        with self.changed:
            if self.stopping:
                self.skipped.add(index)
                self.changed.notify_all()
                return
            self.started[index] = time.monotonic()
            self.changed.notify_all()
        try:
            value = self.task(host)
        except Exception as error:  # noqa: BLE001 - one device's failure must not stop the others
            # INFO, not ERROR: the caller reports the failure from the result, and the CLI
            # prints it, so the log shows it only with -v.
            logger.info("%s: task failed: %s", host.name, _describe(error))
            self.finish(index, DeviceRun(host.name, "failed", error=_describe(error)))
            return
        except BaseException as error:
            self.finish(index, DeviceRun(host.name, "failed", error=_describe(error)))
            raise
        message = self.failure(value) if self.failure is not None else None
        if message is None:
            self.finish(index, DeviceRun(host.name, "done", value))
        else:
            self.finish(index, DeviceRun(host.name, "failed", value, logsafe.mask(message)))

    def finish(self, index: int, run: DeviceRun[T]) -> None:
        with self.changed:
            if index in self.results:
                # The time limit passed, or the run stopped waiting, first: the device keeps
                # that state, and FleetResult.wait_for_late returns this outcome.
                logger.info("%s: ended (%s) after the run stopped waiting for it", run.device, run.state)
                self.late[index] = run
            else:
                self.results[index] = run
            self.changed.notify_all()

    def wait_late(self, devices: Sequence[DeviceRun[T]], timeout: float | None) -> dict[int, DeviceRun[T]]:
        """Wait until every timed-out or interrupted device has a late outcome; return them by index."""
        pending = {index for index, run in enumerate(devices) if run.state in ("timed-out", "interrupted")}
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.changed:
            while not pending <= self.late.keys():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self.changed.wait(remaining)
            return {index: self.late[index] for index in pending if index in self.late}

    # The calling thread

    def execute(self) -> FleetResult[T]:
        previous = self.catch_sigint()
        try:
            return self.loop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    def catch_sigint(self) -> Any:
        """Count Ctrl-C in a flag instead of raising KeyboardInterrupt; return the old handler.

        A KeyboardInterrupt raised between two bytecodes can land just after this thread took
        ``changed`` and before the ``with`` block that releases it, which deadlocks the run (seen
        in tests/unit/test_fleet_runner.py). The handler only counts; ``loop`` looks at the count
        at least every _SIGNAL_POLL_SECONDS. Signal handlers exist in the main thread only.
        """
        if threading.current_thread() is not threading.main_thread():
            return None
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return None  # someone else handles Ctrl-C; leave it to them

        def count(signum: int, frame: Any) -> None:
            self.interrupts += 1

        return signal.signal(signal.SIGINT, count)

    def loop(self) -> FleetResult[T]:
        while self.interrupts < 2:
            try:
                stop_requested = self.interrupts > 0 or (self.stop is not None and self.stop.is_set())
                if stop_requested and not self.stopping:
                    self.stop_requested = self.stopping = True
                    self.emit(Progress("stopping", None, None, len(self.results), len(self.hosts), self.running_names()))
                if self.step():
                    break
            except KeyboardInterrupt:
                # Raised by a progress callback, or by a Ctrl-C while another SIGINT handler was set.
                self.interrupts += 1
                self.stop_requested = True
        result = self.collect()
        if self.interrupts:
            raise FleetInterrupted(result)
        return result

    def step(self) -> bool:
        """Start what may start, apply time limits, report progress, wait; True when all ended."""
        events: list[Progress] = []
        with self.changed:
            self.expire()
            events.extend(self.new_events())
            if not self.stopping:
                self.launch()
            finished = self.all_ended()
            # Events found before waiting are reported first: a worker's notify may have come
            # while this thread was reporting, and the next one may be minutes away.
            if not finished and not events:
                self.changed.wait(self.wait_seconds())
                self.expire()
                events.extend(self.new_events())
                finished = self.all_ended()
        for event in events:
            self.emit(event)
        return finished

    def launch(self) -> None:
        while self.next_index < len(self.hosts) and self.in_flight() < self.workers:
            index = self.next_index
            thread = threading.Thread(
                target=self.work, args=(index,), name=f"fleet-{self.hosts[index].name}", daemon=not self.wait_at_exit
            )
            thread.start()
            self.launched.add(index)
            self.next_index = index + 1

    def in_flight(self) -> int:
        return len((self.launched | set(self.started)) - set(self.results) - self.skipped)

    def expire(self) -> None:
        if self.timeout is None:
            return
        now = time.monotonic()
        for index, began in self.started.items():
            if index not in self.results and now >= began + self.timeout:
                name = self.hosts[index].name
                message = f"timed out after {self.timeout:g} s; the other devices went on"
                self.results[index] = DeviceRun(name, "timed-out", error=message)
                logger.info("%s: %s", name, message)

    def all_ended(self) -> bool:
        pending = (self.launched | set(self.started)) - set(self.results) - self.skipped
        if pending:
            return False
        return self.stopping or self.next_index >= len(self.hosts)

    def wait_seconds(self) -> float | None:
        waits: list[float] = []
        if self.timeout is not None:
            now = time.monotonic()
            waits.extend(
                max(0.0, began + self.timeout - now) for index, began in self.started.items() if index not in self.results
            )
        if self.stop is not None and not self.stopping:
            waits.append(_STOP_POLL_SECONDS)
        waits.append(_SIGNAL_POLL_SECONDS)
        return min(waits)

    def running_names(self) -> tuple[str, ...]:
        with self.changed:
            return tuple(self.hosts[index].name for index in sorted(self.started) if index not in self.results)

    def new_events(self) -> list[Progress]:
        """Return the started and finished steps not reported yet, in host order (under the lock)."""
        events = []
        total = len(self.hosts)
        running = tuple(self.hosts[index].name for index in sorted(self.started) if index not in self.results)
        for index in sorted(set(self.started) - self.announced_start):
            self.announced_start.add(index)
            events.append(Progress("started", self.hosts[index].name, None, len(self.announced_end), total, running))
        for index in sorted(set(self.results) - self.announced_end):
            self.announced_end.add(index)
            run = self.results[index]
            events.append(Progress("finished", run.device, run, len(self.announced_end), total, running))  # type: ignore[arg-type]
        return events

    def emit(self, event: Progress) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(event)
        except Exception:
            logger.exception("the progress callback failed; the run goes on")

    def collect(self) -> FleetResult[T]:
        """Return the result of every device; those without one are interrupted or not started."""
        while True:
            try:
                with self.changed:
                    self.stopping = True
                    runs = []
                    for index, host in enumerate(self.hosts):
                        if index in self.results:
                            runs.append(self.results[index])
                        elif index in self.started:
                            # Stored, so that the task's own end counts as a late outcome.
                            self.results[index] = DeviceRun(
                                host.name, "interrupted",
                                error="still running when the run stopped waiting for it, so its outcome is unknown",
                            )
                            runs.append(self.results[index])
                        else:
                            runs.append(DeviceRun(host.name, "not-started", error="the run stopped before this device's turn"))

                    return FleetResult(tuple(runs), stopped=self.stop_requested, _run=self)
            except KeyboardInterrupt:
                # More Ctrl-C while the results are gathered: gather them again.
                continue


async def run_in_thread(function: Callable[..., T], *args: Any, stop: threading.Event | None = None,
                        **options: Any) -> T:
    """Await ``function(*args, stop=..., **options)`` run in a thread, for the async variants.

    Cancelling the awaiting task sets the ``stop`` event (a new one when none is given): no new
    device starts, the running ones end on their own, and then the cancellation goes on.
    """
    import asyncio

    event = stop or threading.Event()
    future = asyncio.ensure_future(asyncio.to_thread(function, *args, stop=event, **options))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        event.set()
        await asyncio.wait({future})
        raise
