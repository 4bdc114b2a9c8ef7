"""The fleet runner: bounded worker threads, results in host order, failures, time limits, Ctrl-C.

Tasks here are fakes that block on events, so every check is about order and counts, never
about how fast something ran.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from models.inventory import Host
from provisioner import logsafe
from provisioner.fleet import (
    DeviceRun,
    FleetInterrupted,
    FleetResult,
    Progress,
    default_workers,
    run_fleet,
    run_in_thread,
    summary_line,
)

# Upper bound for any wait on another thread, so a broken runner fails the test instead of hanging.
WAIT = 10.0


def hosts(count: int) -> list[Host]:
    return [Host(name=f"r{index}", hostname="127.0.0.1", username="admin") for index in range(1, count + 1)]


class InFlight:
    """Counts the tasks running at the same time and keeps the maximum."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.max = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.max = max(self.max, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def test_concurrency_never_exceeds_workers() -> None:
    counter = InFlight()
    reported = threading.Event()
    gate = threading.Event()
    first_wave: list[int] = []
    devices = [Host(name=f"bound{index}", hostname="127.0.0.1", username="admin") for index in range(9)]

    def task(host: Host) -> str:
        with counter:
            if counter.now == 3:
                # Open the gate only after the runner reported once, so the count below is taken first.
                assert reported.wait(WAIT)
                gate.set()
            assert gate.wait(WAIT)
        return host.name

    def on_progress(event: Progress) -> None:
        if not gate.is_set():
            # The runner starts its threads before it reports, and none ends before the gate opens,
            # so this counts every thread of the first wave.
            first_wave.append(sum(1 for thread in threading.enumerate() if thread.name.startswith("fleet-bound")))
            reported.set()

    result = run_fleet(devices, task, workers=3, on_progress=on_progress)

    assert max(first_wave) == 3
    assert counter.max == 3
    assert result.ok
    assert [run.result for run in result.devices] == [host.name for host in devices]


def test_one_worker_runs_devices_one_by_one() -> None:
    counter = InFlight()
    order: list[str] = []

    def task(host: Host) -> None:
        with counter:
            order.append(host.name)

    run_fleet(hosts(5), task, workers=1)

    assert counter.max == 1
    assert order == ["r1", "r2", "r3", "r4", "r5"]


def test_results_follow_host_order_not_finish_order() -> None:
    devices = hosts(4)
    ended = {host.name: threading.Event() for host in devices}
    finish_order: list[str] = []

    def task(host: Host) -> str:
        # Each device waits for the next one to end, so they end in reverse order.
        index = int(host.name[1:])
        following = f"r{index + 1}"
        if following in ended:
            assert ended[following].wait(WAIT)
        finish_order.append(host.name)
        ended[host.name].set()
        return host.name.upper()

    result = run_fleet(devices, task, workers=4)

    assert finish_order == ["r4", "r3", "r2", "r1"]
    assert [run.device for run in result.devices] == ["r1", "r2", "r3", "r4"]
    assert [run.result for run in result.devices] == ["R1", "R2", "R3", "R4"]


def test_raising_and_hanging_devices_do_not_stop_others() -> None:
    release = threading.Event()

    def task(host: Host) -> str:
        if host.name == "r2":
            raise RuntimeError("the device sent nonsense")
        if host.name == "r3":
            release.wait(WAIT)
            return "late"
        return "fine"

    try:
        result = run_fleet(hosts(5), task, workers=2, timeout=0.5)
    finally:
        release.set()

    states = {run.device: run.state for run in result.devices}
    assert states == {"r1": "done", "r2": "failed", "r3": "timed-out", "r4": "done", "r5": "done"}
    failed = result.devices[1]
    assert failed.error is not None
    assert "RuntimeError: the device sent nonsense" in failed.error
    timed_out = result.devices[2]
    assert timed_out.result is None
    assert timed_out.error is not None
    assert "timed out after 0.5 s" in timed_out.error
    assert not result.ok
    assert not result.stopped


def test_failure_classifier_keeps_the_result() -> None:
    def task(host: Host) -> dict[str, str | None]:
        return {"error": "commit refused" if host.name == "r2" else None}

    result = run_fleet(hosts(3), task, failure=lambda value: value["error"])

    assert [run.state for run in result.devices] == ["done", "failed", "done"]
    assert result.devices[1].result == {"error": "commit refused"}
    assert result.devices[1].error == "commit refused"
    assert result.counts() == {"done": 2, "failed": 1, "timed-out": 0, "interrupted": 0, "not-started": 0}


def test_secret_in_exception_is_masked() -> None:
    secret = "Fl33tSecretValue42"
    logsafe.register_secrets([secret])

    def task(host: Host) -> None:
        raise ValueError(f"server string user:{secret}@smtp.example.com rejected")

    result = run_fleet(hosts(1), task)

    error = result.devices[0].error
    assert error is not None
    assert secret not in error
    assert logsafe.MASK in error


def test_ctrl_c_signal_stops_new_devices_and_lets_running_finish() -> None:
    gate = threading.Event()
    ran: list[str] = []

    def task(host: Host) -> str:
        ran.append(host.name)
        if host.name == "r2":
            # A real SIGINT: Python raises KeyboardInterrupt in the main thread, where the runner waits.
            os.kill(os.getpid(), signal.SIGINT)
        assert gate.wait(WAIT)
        return "applied"

    def on_progress(event: Progress) -> None:
        if event.kind == "stopping":
            gate.set()

    with pytest.raises(FleetInterrupted) as caught:
        run_fleet(hosts(5), task, workers=2, on_progress=on_progress)

    result = caught.value.result
    assert isinstance(caught.value, KeyboardInterrupt)
    assert sorted(ran) == ["r1", "r2"]
    assert [run.state for run in result.devices] == ["done", "done", "not-started", "not-started", "not-started"]
    assert result.devices[0].result == "applied"
    assert result.stopped


def test_second_ctrl_c_reports_running_as_interrupted() -> None:
    gate = threading.Event()
    interrupts: list[str] = []
    started: list[str] = []

    def task(host: Host) -> str:
        gate.wait(WAIT)
        return "applied"

    def on_progress(event: Progress) -> None:
        # The first Ctrl-C comes once both workers have started, counted from the started events
        # because an event's running set may already be out of date. The second comes while the
        # runner waits for them.
        if event.kind == "started":
            started.append("started")
        if event.kind == "started" and len(started) == 2 and not interrupts:
            interrupts.append("first")
            raise KeyboardInterrupt
        if event.kind == "stopping":
            interrupts.append("second")
            raise KeyboardInterrupt

    try:
        with pytest.raises(FleetInterrupted) as caught:
            run_fleet(hosts(4), task, workers=2, on_progress=on_progress)
    finally:
        gate.set()

    result = caught.value.result
    assert interrupts == ["first", "second"]
    assert [run.state for run in result.devices] == ["interrupted", "interrupted", "not-started", "not-started"]
    assert result.devices[0].error is not None
    assert "unknown" in result.devices[0].error


def test_stop_event_returns_without_raising() -> None:
    stop = threading.Event()

    def task(host: Host) -> str:
        if host.name == "r2":
            stop.set()
        return "checked"

    result = run_fleet(hosts(6), task, workers=1, stop=stop)

    assert [run.state for run in result.devices] == ["done", "done", "not-started", "not-started", "not-started",
                                                     "not-started"]
    assert result.stopped


def test_progress_reports_each_device_once() -> None:
    events: list[Progress] = []

    run_fleet(hosts(4), lambda host: host.name, workers=2, on_progress=events.append)

    started = [event.device for event in events if event.kind == "started"]
    finished = [event for event in events if event.kind == "finished"]
    assert sorted(started) == ["r1", "r2", "r3", "r4"]
    assert sorted(event.device or "" for event in finished) == ["r1", "r2", "r3", "r4"]
    assert [event.finished for event in finished] == [1, 2, 3, 4]
    assert all(event.total == 4 for event in events)
    assert all(event.run is not None and event.run.state == "done" for event in finished)


def test_broken_progress_callback_does_not_stop_run() -> None:
    def on_progress(event: Progress) -> None:
        raise RuntimeError("display broke")

    result = run_fleet(hosts(3), lambda host: host.name, on_progress=on_progress)

    assert result.ok


def test_same_host_twice_runs_twice() -> None:
    host = hosts(1)[0]
    calls: list[str] = []

    result = run_fleet([host, host], lambda target: calls.append(target.name))

    assert calls == ["r1", "r1"]
    assert len(result.devices) == 2


def test_empty_host_list_returns_empty_result() -> None:
    result = run_fleet([], lambda host: host.name)

    assert result.devices == ()
    assert result.ok


def test_wait_at_exit_makes_non_daemon_threads() -> None:
    def daemon(host: Host) -> bool:
        return threading.current_thread().daemon

    assert run_fleet(hosts(1), daemon).devices[0].result is True
    assert run_fleet(hosts(1), daemon, wait_at_exit=True).devices[0].result is False


@pytest.mark.parametrize(("options", "message"), [
    ({"workers": 0}, "workers must be at least 1"),
    ({"workers": -2}, "workers must be at least 1"),
    ({"timeout": 0}, "timeout must be a positive number"),
    ({"timeout": -1.0}, "timeout must be a positive number"),
])
def test_invalid_options_rejected(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        run_fleet(hosts(2), lambda host: host.name, **options)  # type: ignore[arg-type]


def test_default_workers_bounded() -> None:
    assert default_workers(0) == 1
    assert default_workers(3) == 3
    assert default_workers(500) == 32


def test_summary_line_lists_problems() -> None:
    result: FleetResult[str] = FleetResult((
        DeviceRun("r1", "done", "applied"),
        DeviceRun("r2", "done", "unchanged"),
        DeviceRun("r3", "failed", error="commit refused\nsecond line"),
        DeviceRun("r4", "not-started", error="not started"),
    ))

    line = summary_line(result, lambda run: str(run.result))

    assert line == "4 devices: 1 applied, 1 unchanged, 1 failed (r3), 1 not started"
    assert "commit refused" not in line


def test_summary_line_single_device() -> None:
    result: FleetResult[str] = FleetResult((DeviceRun("r1", "timed-out", error="timed out after 5 s"),))

    assert summary_line(result, lambda run: "done") == "1 device: 1 timed out (r1)"


def test_summary_line_caps_device_names() -> None:
    runs = tuple(DeviceRun(f"r{index}", "failed", error="refused") for index in range(1, 13))
    result: FleetResult[str] = FleetResult((DeviceRun("r0", "done", "applied"), *runs))

    line = summary_line(result, lambda run: "applied")

    assert line == "13 devices: 1 applied, 12 failed (r1, r2, r3, r4, r5, r6, r7, r8, r9, r10 and 2 more)"


def test_wait_for_late_returns_timed_out_outcome() -> None:
    release = threading.Event()

    def task(host: Host) -> str:
        if host.name == "r2":
            release.wait(WAIT)
            return "applied late"
        return "applied"

    result = run_fleet(hosts(2), task, timeout=0.5)
    # Still running: the wait ends at its own limit with no outcome.
    unknown = result.wait_for_late(timeout=0.01)
    release.set()
    known = result.wait_for_late(timeout=WAIT)

    assert [run.state for run in result.devices] == ["done", "timed-out"]
    assert unknown.devices[1].late is None
    assert [run.state for run in known.devices] == ["done", "timed-out"]
    assert known.devices[0].late is None
    late = known.devices[1].late
    assert late is not None
    assert late.state == "done"
    assert late.result == "applied late"


def test_wait_for_late_after_second_ctrl_c() -> None:
    gate = threading.Event()
    interrupts: list[str] = []

    def task(host: Host) -> str:
        gate.wait(WAIT)
        raise RuntimeError("commit refused")

    def on_progress(event: Progress) -> None:
        if event.kind == "started" and not interrupts:
            interrupts.append("first")
            raise KeyboardInterrupt
        if event.kind == "stopping":
            interrupts.append("second")
            raise KeyboardInterrupt

    try:
        with pytest.raises(FleetInterrupted) as caught:
            run_fleet(hosts(1), task, workers=1, on_progress=on_progress)
    finally:
        gate.set()
    known = caught.value.result.wait_for_late(timeout=WAIT)

    assert [run.state for run in known.devices] == ["interrupted"]
    late = known.devices[0].late
    assert late is not None
    assert late.state == "failed"
    assert late.error is not None
    assert "commit refused" in late.error


def test_wait_for_late_without_late_devices_returns_same() -> None:
    result = run_fleet(hosts(2), lambda host: host.name)

    assert result.wait_for_late() is result


def test_async_cancel_sets_stop_and_waits() -> None:
    import asyncio

    entered = threading.Event()
    seen_stop: list[bool] = []

    def blocking(value: str, *, stop: threading.Event) -> str:
        entered.set()
        seen_stop.append(stop.wait(WAIT))
        return value

    async def cancel_midway() -> None:
        task = asyncio.ensure_future(run_in_thread(blocking, "x"))
        await asyncio.to_thread(entered.wait, WAIT)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())

    # The thread saw the stop and ended before the cancellation reached the caller.
    assert seen_stop == [True]


def test_async_returns_result() -> None:
    import asyncio

    def echo(value: str, *, stop: threading.Event) -> str:
        return value if not stop.is_set() else "stopped"

    assert asyncio.run(run_in_thread(echo, "done")) == "done"
