"""Thread-backed handle on lab devices, for tests and programs without their own event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from lxml import etree

from provisioner.lab.faults import Faults
from provisioner.lab.restconf import RestconfServer, start_restconf
from provisioner.lab.restconf_tls import CA_FILE
from provisioner.lab.server import LabServer

T = TypeVar("T")


class LabLoop:
    """A background thread running one asyncio event loop that many devices can share."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="provisioner-lab", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class LabDevice:
    """A simulated IOS XE device serving NETCONF over SSH, and optionally RESTCONF over HTTPS,
    on loopback ports.

    Use it as a context manager; it runs on its own ``LabLoop`` unless one is passed in.

    Args:
        state_dir: Folder for the host key, password, known_hosts, inventory, datastores and
            the RPC log. Reusing it keeps the key, password and configuration.
        port: TCP port; 0 picks a free one (read it back from ``port``).
        release: IOS XE release profile, ``"17.12"`` or ``"17.9"``.
        username: The one login name; the password is generated into ``state_dir``.
        host: Loopback address to listen on.
        name: Device name used in logs, the RPC log and the inventory.
        latency_ms: Delay added before each RPC reply.
        mutate: Initial ``faults.mutate_after_commit`` entries.
        yang_dir: YANG folder for get-schema and libyang validation of edits.
        sync_seconds: How long ``is-syncing`` reports a sync after a modelled cli-rpc change.
        candidate: Whether the device has the candidate datastore.
        loop: Shared loop for many devices in one process.
        restconf: Also serve RESTCONF over HTTPS on the same datastores, with the device's own
            CA (``restconf_ca_path``); the inventory then names the device over RESTCONF.
        restconf_port: TCP port for RESTCONF; 0 picks a free one (read it from ``restconf_port``).
    """

    def __init__(
        self,
        state_dir: Path | str,
        port: int = 0,
        release: str = "17.12",
        username: str = "admin",
        host: str = "127.0.0.1",
        name: str = "lab",
        latency_ms: int = 0,
        mutate: Iterable[tuple[str, str]] = (),
        yang_dir: Path | str | None = None,
        sync_seconds: float = 0.2,
        candidate: bool = True,
        loop: LabLoop | None = None,
        restconf: bool = False,
        restconf_port: int = 0,
    ) -> None:
        self.faults = Faults(mutate_after_commit=list(mutate), latency_ms=latency_ms)
        self._own_loop = loop is None
        self._loop = loop
        self._server = LabServer(
            state_dir, port, release, username, host, name, self.faults, yang_dir,
            sync_seconds, candidate,
        )
        self._started = False
        self._restconf_enabled = restconf
        self._restconf_requested_port = restconf_port
        self._restconf: RestconfServer | None = None

    # Lifecycle

    def start(self) -> Self:
        """Start listening; return self."""
        if self._loop is None:
            self._loop = LabLoop()
        try:
            self._loop.run(self._server.start())
            if self._restconf_enabled:
                try:
                    self._restconf = self._loop.run(start_restconf(self._server, self._restconf_requested_port))
                except BaseException:
                    self._loop.run(self._server.stop())
                    raise
        except BaseException:
            if self._own_loop:
                self._loop.close()
                self._loop = None
            # Close the RPC log too, so that a device that failed to listen leaks no open file.
            with self._server.state.lock:
                self._server.state.close()
            self._server.files.release()
            raise
        self._started = True
        return self

    def stop(self) -> None:
        """Close all sessions and the listener; the state directory stays."""
        if self._loop is None:
            return
        if self._started:
            if self._restconf is not None:
                self._loop.run(self._restconf.stop())
                self._restconf = None
            self._loop.run(self._server.stop())
            self._started = False
        if self._own_loop:
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    # Connection facts

    @property
    def host(self) -> str:
        """Listen address."""
        return self._server.host

    @property
    def port(self) -> int:
        """Listen port (the real one after ``start`` when 0 was requested)."""
        return self._server.port

    @property
    def restconf_port(self) -> int:
        """RESTCONF listen port after ``start``.

        Raises:
            RuntimeError: the device was created without ``restconf=True`` or is not running.
        """
        if self._restconf is None:
            raise RuntimeError("RESTCONF is off: create the LabDevice with restconf=True and start it")
        return self._restconf.port

    @property
    def restconf_ca_path(self) -> Path:
        """PEM file of the CA that signed the RESTCONF server certificate (a ``ca_bundle``)."""
        return self._server.files.file(CA_FILE)

    @property
    def username(self) -> str:
        """Login name."""
        return self._server.username

    @property
    def password(self) -> str:
        """Login password, also stored in ``state_dir/password``."""
        return self._server.password

    @property
    def state_dir(self) -> Path:
        """The state directory."""
        return self._server.files.path

    @property
    def known_hosts_path(self) -> Path:
        """OpenSSH known_hosts file with the device's host key."""
        return self._server.known_hosts_path

    @property
    def inventory_path(self) -> Path:
        """Inventory YAML that points the provisioner at this device."""
        return self._server.inventory_path

    @property
    def rpc_log_path(self) -> Path:
        """JSON Lines RPC log."""
        return self._server.state.rpc_log.path

    @property
    def host_key_base64(self) -> str:
        """The host public key in base64, as in the known_hosts line."""
        return self._server.host_key.export_public_key("openssh").decode().split()[1]

    # State, read from any thread

    def rpc_log(self) -> list[dict[str, Any]]:
        """Return the RPC records written since start, as in ``rpc_log_path``."""
        return self._server.state.rpc_log.records()

    def _xml(self, tree: etree._Element) -> str:
        return str(etree.tostring(tree, pretty_print=True, encoding="unicode"))

    def running_xml(self) -> str:
        """Return the running datastore (``<data>`` with ``<native>``), including CLI changes
        that NETCONF readers see only after the sync."""
        with self._server.state.lock:
            return self._xml(self._server.state.running)

    def candidate_xml(self) -> str:
        """Return the candidate datastore."""
        with self._server.state.lock:
            return self._xml(self._server.state.candidate)

    def startup_xml(self) -> str:
        """Return the startup datastore, written by ``cisco-ia:save-config``."""
        with self._server.state.lock:
            return self._xml(self._server.state.startup)

    def unmodelled(self) -> dict[str, Any]:
        """Return what cli-rpc stored outside the models: ``applet_actions`` (applet to label
        to CLI line) and ``certificates`` (chain to serial to DER hex)."""
        with self._server.state.lock:
            return self._server.state.unmodelled.to_data()

    def is_syncing(self) -> bool:
        """True while get-config still hides a cli-rpc change."""
        with self._server.state.lock:
            return self._server.state.is_syncing()

    def locks(self) -> dict[str, int]:
        """Return datastore name to the id of the session holding its lock."""
        with self._server.state.lock:
            return dict(self._server.state.locks)

    def session_ids(self) -> list[int]:
        """Return the ids of the open NETCONF sessions."""
        with self._server.state.lock:
            return sorted(self._server.state.sessions)
