"""Plan and apply an intent on many devices at once, through the fleet runner.

Both functions print nothing, never exit and keep no state between calls. Each device gets its
own NETCONF sessions, so calls may run in threads and the async variants run them in one.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.intent import Intent
from models.inventory import Host
from provisioner.diff import Plan
from provisioner.engine import ApplyResult, SessionFactory, apply_device, plan_device
from provisioner.fleet import FleetResult, ProgressCallback, run_fleet, run_in_thread


def plan_devices(
    intent: Intent,
    hosts: Sequence[Host],
    *,
    workers: int | None = None,
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    rpc_timeout: float = 30.0,
    accept_new_host_key: bool = False,
    session_factory: SessionFactory | None = None,
) -> FleetResult[Plan]:
    """Read every device and compare it with the intent, ``workers`` devices at a time.

    A device that cannot be read ends ``failed`` with the error; the others go on. See
    :func:`provisioner.fleet.run_fleet` for ``workers``, ``timeout`` (seconds per device, None
    for no limit), ``on_progress`` and ``stop``; ``rpc_timeout`` and ``accept_new_host_key`` go
    to :func:`provisioner.plan_device`.

    Raises:
        FleetInterrupted: Ctrl-C; it carries the result of every device.
    """

    def task(host: Host) -> Plan:
        return plan_device(
            intent, host, session_factory=session_factory, rpc_timeout=rpc_timeout,
            accept_new_host_key=accept_new_host_key,
        )

    return run_fleet(hosts, task, workers=workers, timeout=timeout, on_progress=on_progress, stop=stop)


def apply_devices(
    intent: Intent,
    hosts: Sequence[Host],
    *,
    workers: int | None = None,
    timeout: float | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    session_factory: SessionFactory | None = None,
    sync_timeout: float = 60.0,
    rpc_timeout: float = 30.0,
    lock_timeout: float = 30.0,
    accept_new_host_key: bool = False,
    save_config: bool = False,
    yang_dir: Path | None = None,
    yang_from_device: bool = False,
) -> FleetResult[ApplyResult]:
    """Apply the intent to every device, ``workers`` devices at a time, each on its own.

    A device whose apply fails ends ``failed`` with its :class:`ApplyResult`, whose ``outcome``
    records whether it was rolled back, and the others go on. A stop (Ctrl-C or ``stop``)
    starts no new device and lets each running apply end, its restore included. Worker threads
    are not daemons, so the interpreter waits at exit for an apply that passed its time limit
    instead of cutting it off. The other options go to :func:`provisioner.apply_device`.

    Raises:
        FleetInterrupted: Ctrl-C; it carries the result of every device.
    """

    def task(host: Host) -> ApplyResult:
        return apply_device(
            intent, host, session_factory=session_factory, sync_timeout=sync_timeout, rpc_timeout=rpc_timeout,
            lock_timeout=lock_timeout, accept_new_host_key=accept_new_host_key, save_config=save_config,
            yang_dir=yang_dir, yang_from_device=yang_from_device,
        )

    return run_fleet(
        hosts, task, workers=workers, timeout=timeout, failure=_apply_failure, on_progress=on_progress, stop=stop,
        wait_at_exit=True,
    )


def _apply_failure(result: ApplyResult) -> str | None:
    if result.error is None:
        return None
    return f"{result.error} (configuration {result.outcome})"


async def aplan_devices(intent: Intent, hosts: Sequence[Host], **options: Any) -> FleetResult[Plan]:
    """Run :func:`plan_devices` in a thread; cancelling stops it as a ``stop`` event does.

    ``on_progress`` is then called in that thread, not in the event loop's.
    """
    return await run_in_thread(plan_devices, intent, hosts, **options)


async def aapply_devices(intent: Intent, hosts: Sequence[Host], **options: Any) -> FleetResult[ApplyResult]:
    """Run :func:`apply_devices` in a thread; cancelling stops it as a ``stop`` event does.

    After a cancellation the running applies still end (restores included) before the
    ``CancelledError`` reaches the caller. ``on_progress`` is called in the worker thread.
    """
    return await run_in_thread(apply_devices, intent, hosts, **options)
