"""SSH server and NETCONF sessions of one lab device, on an asyncio event loop.

One ``LabServer`` is one device on one port. Many can share a loop, which is how a single
process hosts a whole simulated fleet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from pathlib import Path

import asyncssh
from lxml import etree

from payloads import namespaces as ns
from provisioner.lab import framing, rpc
from provisioner.lab.device import DeviceState
from provisioner.lab.faults import Faults
from provisioner.lab.releases import BASE_1_1, get_release
from provisioner.lab.statedir import StateDir

logger = logging.getLogger(__name__)

_NC = f"{{{ns.NETCONF_BASE}}}"
_BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
_HELLO_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def check_loopback(host: str) -> None:
    """Reject any listen address other than a loopback one: the lab device is for this
    machine only.

    Raises:
        ValueError: ``host`` is not 127.0.0.0/8 or ::1.
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError as error:
        raise ValueError(f"lab host must be a loopback IP address such as 127.0.0.1, "
                         f"got {host!r}") from error
    if not address.is_loopback:
        raise ValueError(f"lab host must be a loopback address (127.0.0.1 or ::1), got {host}")


class _SSHServer(asyncssh.SSHServer):
    """Password authentication for one username, and connection tracking."""

    def __init__(self, lab: LabServer) -> None:
        self._lab = lab
        self._connection: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._connection = conn
        self._lab.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._connection is not None:
            self._lab.connections.discard(self._connection)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        if self._lab.faults.reject_logins:
            logger.info("device %s rejected a login for user %r (fault injection)",
                        self._lab.name, username)
            return False
        user_ok = secrets.compare_digest(username.encode(), self._lab.username.encode())
        password_ok = secrets.compare_digest(password.encode(), self._lab.password.encode())
        if not (user_ok and password_ok):
            logger.info("device %s rejected a login for user %r", self._lab.name, username)
        return user_ok and password_ok


class LabServer:
    """One simulated IOS XE device: its state plus an SSH server with the NETCONF subsystem.

    Args:
        state_dir: State directory (created if missing).
        port: TCP port; 0 picks a free one.
        release: IOS XE release name, e.g. ``"17.12"``.
        username: The one login name.
        host: Loopback address to listen on.
        name: Device name in logs, the RPC log and the inventory.
        faults: Fault settings; a new ``Faults()`` when None.
        yang_dir: YANG folder for get-schema and libyang validation.
        sync_seconds: Length of the sync window after a modelled cli-rpc change.
        candidate: Whether the device has the candidate datastore.
    """

    def __init__(
        self,
        state_dir: Path | str,
        port: int = 0,
        release: str = "17.12",
        username: str = "admin",
        host: str = "127.0.0.1",
        name: str = "lab",
        faults: Faults | None = None,
        yang_dir: Path | str | None = None,
        sync_seconds: float = 0.2,
        candidate: bool = True,
    ) -> None:
        check_loopback(host)
        self.host = host
        self.requested_port = port
        self.port = port
        self.username = username
        self.name = name
        self.release = get_release(release)
        self.files = StateDir(state_dir)
        self.files.acquire()
        self.faults = faults if faults is not None else Faults()
        self.password = self.files.load_or_create_password()
        self.host_key = self.files.load_or_create_host_key()
        self.state = DeviceState(
            name, self.files, self.release, self.faults,
            Path(yang_dir) if yang_dir is not None else None, sync_seconds, candidate,
        )
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.known_hosts_path = self.files.file("known_hosts")
        self.inventory_path = self.files.file("inventory.yaml")

    async def start(self) -> None:
        """Listen for SSH connections and write known_hosts and the inventory."""
        self._acceptor = await asyncssh.create_server(
            lambda: _SSHServer(self),
            self.host,
            self.requested_port,
            server_host_keys=[self.host_key],
            process_factory=self._process,
            encoding=None,
            allow_pty=False,
            x11_forwarding=False,
            agent_forwarding=False,
            reuse_address=True,
        )
        self.port = self._acceptor.get_port()
        self.known_hosts_path = self.files.write_known_hosts(self.host, self.port, self.host_key)
        self.inventory_path = self.files.write_inventory(self.host, self.port, self.username,
                                                         self.name)
        logger.info("device %s (IOS XE %s) listening on %s port %d, state in %s",
                    self.name, self.release.name, self.host, self.port, self.files.path)

    async def stop(self) -> None:
        """Close the listener and every open connection, then close the state files."""
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None
        for connection in list(self.connections):
            connection.close()
        for connection in list(self.connections):
            await connection.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with self.state.lock:
            self.state.close()
        self.files.release()
        logger.info("device %s stopped", self.name)

    def _process(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(process))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        if process.subsystem != "netconf":
            process.stderr.write(b"this device only offers the netconf subsystem\n")
            process.exit(1)
            return
        connection = process.channel.get_connection()
        with self.state.lock:
            session_id = self.state.open_session(connection.close)
        peer = process.get_extra_info("peername")
        logger.info("device %s session %d opened from %s", self.name, session_id,
                    peer[0] if peer else "unknown")
        try:
            await _NetconfSession(self, process, session_id).run()
        except (asyncssh.Error, ConnectionError, BrokenPipeError) as error:
            logger.info("device %s session %d lost: %s", self.name, session_id, error)
        finally:
            with self.state.lock:
                self.state.close_session(session_id)
            if not process.is_closing():
                process.exit(0)
            logger.info("device %s session %d closed", self.name, session_id)


class _NetconfSession:
    """The hello exchange and the RPC loop of one NETCONF session."""

    def __init__(self, lab: LabServer, process: asyncssh.SSHServerProcess[bytes],
                 session_id: int) -> None:
        self.lab = lab
        self.process = process
        self.session_id = session_id
        self.decoder = framing.FrameDecoder()
        self.rpc_count = 0

    def _server_hello(self) -> bytes:
        hello = etree.Element(_NC + "hello", nsmap={None: ns.NETCONF_BASE})
        capabilities = etree.SubElement(hello, _NC + "capabilities")
        for uri in self.lab.release.capabilities(candidate=self.lab.state.candidate_enabled):
            etree.SubElement(capabilities, _NC + "capability").text = uri
        etree.SubElement(hello, _NC + "session-id").text = str(self.session_id)
        return bytes(etree.tostring(hello, xml_declaration=True, encoding="UTF-8"))

    def _read_client_hello(self, message: bytes) -> bool:
        """Check the client hello; return False when the session must close."""
        try:
            hello = etree.fromstring(message, _HELLO_PARSER)
        except etree.XMLSyntaxError:
            logger.info("device %s session %d: client hello is not XML", self.lab.name,
                        self.session_id)
            return False
        if hello.tag != _NC + "hello" or hello.find(_NC + "session-id") is not None:
            # RFC 6241 section 8.1: a client hello with a session-id ends the session.
            logger.info("device %s session %d: invalid client hello", self.lab.name,
                        self.session_id)
            return False
        capabilities = {(c.text or "").strip() for c in hello.iter(_NC + "capability")}
        if BASE_1_1 in capabilities:
            self.decoder.use_chunked()
        elif _BASE_1_0 not in capabilities:
            logger.info("device %s session %d: client shares no base capability",
                        self.lab.name, self.session_id)
            return False
        return True

    async def run(self) -> None:
        """Exchange hellos, then reply to RPCs until the client closes or is dropped.

        One task reads and stamps each message with its arrival time while this one replies to
        them in order, so requests that a client pipelines are not held up by the injected
        latency of the ones before them.
        """
        self.process.stdout.write(framing.encode(self._server_hello(), chunked=False))
        messages: asyncio.Queue[tuple[bytes, float] | None] = asyncio.Queue()
        reader = asyncio.create_task(self._read(messages))
        try:
            while (item := await messages.get()) is not None:
                message, arrived = item
                if not await self._reply_to(message, arrived):
                    return
        finally:
            reader.cancel()

    async def _read(self, messages: asyncio.Queue[tuple[bytes, float] | None]) -> None:
        """Check the client hello, then queue each RPC with the time it arrived; None at the end.

        The hello is handled here, not in the queue, because it decides the framing of the
        messages that may follow it in the same read.
        """
        hello_done = False
        try:
            while data := await self.process.stdin.read(65536):
                arrived = asyncio.get_running_loop().time()
                self.decoder.feed(data)
                while (message := self.decoder.next_message()) is not None:
                    if not hello_done:
                        if not self._read_client_hello(message):
                            return
                        hello_done = True
                        continue
                    messages.put_nowait((message, arrived))
        except framing.FramingError as error:
            logger.info("device %s session %d: framing error: %s", self.lab.name,
                        self.session_id, error)
        except (asyncssh.Error, OSError) as error:
            logger.info("device %s session %d: read failed: %s", self.lab.name, self.session_id, error)
        finally:
            messages.put_nowait(None)

    async def _reply_to(self, message: bytes, arrived: float) -> bool:
        """Send the reply to one RPC; return False when the session ends after it.

        Injected latency stands for the network: a reply leaves no earlier than ``latency_ms``
        after its request arrived, so requests a client pipelines wait for it together, once.
        """
        outcome = rpc.handle_rpc(self.lab.state, self.session_id, message)
        if self.lab.faults.take_drop(outcome.operation):
            logger.info("device %s session %d dropped after running %s, before its reply "
                        "(fault injection)", self.lab.name, self.session_id, outcome.operation)
            self.process.channel.get_connection().close()
            return False
        latency_ms = self.lab.faults.latency_ms
        if latency_ms > 0:
            await asyncio.sleep(max(0.0, arrived + latency_ms / 1000 - asyncio.get_running_loop().time()))
        self.process.stdout.write(framing.encode(outcome.reply, self.decoder.chunked))
        await self.process.stdout.drain()
        self.rpc_count += 1
        if outcome.close_session:
            return False
        drop_after = self.lab.faults.drop_after_rpcs
        if drop_after is not None and self.rpc_count >= drop_after:
            logger.info("device %s session %d dropped after %d RPCs (fault injection)",
                        self.lab.name, self.session_id, self.rpc_count)
            self.process.channel.get_connection().close()
            return False
        return True
