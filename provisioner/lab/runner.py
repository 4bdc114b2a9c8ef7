"""Run one lab device, or a fleet of them, in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType

from provisioner.lab.faults import Faults
from provisioner.lab.fleet import LabFleet
from provisioner.lab.restconf import RestconfServer, start_restconf
from provisioner.lab.server import LabServer

logger = logging.getLogger(__name__)


def run_lab(
    port: int = 8300,
    state_dir: Path | str = "lab-state",
    release: str = "17.12",
    username: str = "admin",
    latency_ms: int = 0,
    mutate: Iterable[tuple[str, str]] = (),
    yang_dir: Path | str | None = None,
    host: str = "127.0.0.1",
    on_ready: Callable[[LabServer], None] | None = None,
    restconf_port: int | None = None,
) -> None:
    """Serve one lab device until SIGINT or SIGTERM, then stop cleanly.

    Args:
        port: TCP port on ``host``; 0 picks a free one.
        state_dir: State directory (key, password, inventory, datastores, RPC log).
        release: IOS XE release profile.
        username: Login name.
        latency_ms: Delay before each RPC reply.
        mutate: ``(xpath, value)`` pairs applied to running after each commit.
        yang_dir: YANG folder for get-schema and libyang validation.
        host: Loopback address to listen on.
        on_ready: Called once the device listens, e.g. to print where.
        restconf_port: Also serve RESTCONF over HTTPS on this port (0 picks a free one); the
            inventory then names the device over RESTCONF. None serves NETCONF only.
    """
    faults = Faults(mutate_after_commit=list(mutate), latency_ms=latency_ms)
    server = LabServer(state_dir, port, release, username, host, faults=faults,
                       yang_dir=yang_dir)
    asyncio.run(_serve(server, on_ready, restconf_port))


async def _serve(server: LabServer, on_ready: Callable[[LabServer], None] | None,
                 restconf_port: int | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    restconf: RestconfServer | None = None
    try:
        if restconf_port is not None:
            restconf = await start_restconf(server, restconf_port)
        if on_ready is not None:
            on_ready(server)
        await stop.wait()
        logger.info("device %s stopping on signal", server.name)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if restconf is not None:
            await restconf.stop()
        await server.stop()


def run_fleet(
    count: int,
    state_dir: Path | str = "lab-state",
    base_port: int = 0,
    release: str = "17.12",
    username: str = "admin",
    latency_ms: int = 0,
    mutate: Iterable[tuple[str, str]] = (),
    yang_dir: Path | str | None = None,
    host: str = "127.0.0.1",
    on_ready: Callable[[LabFleet], None] | None = None,
) -> None:
    """Serve a ``LabFleet`` of ``count`` devices until SIGINT or SIGTERM, then stop cleanly.

    The other arguments are those of ``LabFleet``. A signal that arrives while the devices
    start stops them as soon as the start is complete.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with LabFleet(count, state_dir, base_port, latency_ms, release, username, host, mutate,
                      yang_dir) as fleet:
            if on_ready is not None:
                on_ready(fleet)
            # A wait with a timeout returns to Python regularly, so the signal handler runs promptly.
            while not stop.wait(0.5):
                pass
            logger.info("lab fleet of %d devices stopping on signal", count)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
