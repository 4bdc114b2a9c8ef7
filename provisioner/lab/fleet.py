"""A fleet of lab devices in one process, with one inventory file for all of them.

The devices share one ``LabLoop`` (one event loop on one thread). Each has its own state folder
(``STATE_DIR/lab-001``, ...) with its own datastores, RPC log and ed25519 host key. They share
one login password, kept in ``STATE_DIR/password``, so that the inventory can set it once
under ``defaults``. ``STATE_DIR/known_hosts`` lists every device's host key.
"""

from __future__ import annotations

import logging
import resource
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Self

from provisioner.lab import statedir
from provisioner.lab.labdevice import LabDevice, LabLoop
from provisioner.lab.statedir import StateDir

logger = logging.getLogger(__name__)

FLEET_GROUP = "lab"

# Open files per idle device: the listening socket, the state folder's lock file and the RPC log.
_FILES_PER_DEVICE = 3
# Open files per SSH session: the device's socket, and the client's when it runs in this process.
_FILES_PER_SESSION = 2
# Files that the Python runtime and a client in this process hold besides the sessions.
_FILES_RESERVED = 256


class OpenFileLimitError(RuntimeError):
    """The process may not open enough files for the requested number of lab devices."""


class ListenError(OSError):
    """A device of the fleet cannot listen on its port, usually because the port is in use."""


def raise_open_file_limit(count: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit when ``count`` devices need more.

    The estimate allows for one SSH session to every device at once, with the client in the
    same process. When the hard limit is unlimited, the soft limit is raised to the estimate.
    Return the soft limit in force afterwards.

    Raises:
        OpenFileLimitError: the hard limit is below the estimate.
    """
    needed = count * (_FILES_PER_DEVICE + _FILES_PER_SESSION) + _FILES_RESERVED
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OpenFileLimitError(
            f"{count} lab devices need about {needed} open files, but this process may open at most "
            f"{hard} (hard RLIMIT_NOFILE); raise it (ulimit -Hn as root, or LimitNOFILE= in a systemd "
            "unit) or start fewer devices"
        )
    target = needed if hard == resource.RLIM_INFINITY else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    logger.info("raised the open file limit from %d to %d for %d lab devices", soft, target, count)
    return target


def device_names(count: int, prefix: str = "lab-") -> list[str]:
    """Return the host names of a fleet: ``lab-001`` to ``lab-NNN``, zero-padded to the widest number."""
    width = max(3, len(str(count)))
    return [f"{prefix}{index:0{width}d}" for index in range(1, count + 1)]


class LabFleet:
    """Many simulated IOS XE devices served from this process, for tests and benchmarks.

    Use it as a context manager. While it runs, ``devices`` maps each host name (``lab-001``,
    ...) to its ``LabDevice``, and ``inventory_path`` names an inventory with every device as a
    host, all in the group ``lab``.

    Args:
        count: Number of devices.
        state_dir: Fleet folder: shared password, known_hosts and inventory, and one subfolder
            per device. Reusing it keeps the password, the host keys and each configuration.
        base_port: TCP port of the first device; device i listens on ``base_port + i - 1``.
            0 gives each device a free port of the system's choosing.
        latency_ms: Delay added before each RPC reply of every device, in milliseconds.
        release: IOS XE release profile of every device.
        username: Login name of every device.
        host: Loopback address to listen on.
        mutate: Initial ``faults.mutate_after_commit`` entries of every device.
        yang_dir: YANG folder for get-schema and libyang validation of edits.
    """

    def __init__(
        self,
        count: int,
        state_dir: Path | str,
        base_port: int = 0,
        latency_ms: int = 0,
        release: str = "17.12",
        username: str = "admin",
        host: str = "127.0.0.1",
        mutate: Iterable[tuple[str, str]] = (),
        yang_dir: Path | str | None = None,
    ) -> None:
        if count < 1:
            raise ValueError(f"a lab fleet needs at least one device, got {count}")
        if base_port < 0 or (base_port and base_port + count - 1 > 65535):
            raise ValueError(
                f"base port {base_port} with {count} devices runs past port 65535; choose a base port "
                f"of at most {65536 - count}, or 0 for free ports"
            )
        self.count = count
        self.state_dir = Path(state_dir)
        self.base_port = base_port
        self.latency_ms = latency_ms
        self.release = release
        self.username = username
        self.host = host
        self.mutate = list(mutate)
        self.yang_dir = yang_dir
        self.devices: dict[str, LabDevice] = {}
        self.inventory_path = self.state_dir / statedir.INVENTORY_FILE
        self.known_hosts_path = self.state_dir / statedir.KNOWN_HOSTS_FILE
        self.password_path = self.state_dir / statedir.PASSWORD_FILE
        self._files: StateDir | None = None
        self._loop: LabLoop | None = None

    def start(self) -> Self:
        """Start every device, then write known_hosts and the inventory; return self.

        First raises this process's open file limit when the fleet needs it (see
        ``raise_open_file_limit``). On any failure the devices started so far are stopped again.

        Raises:
            OpenFileLimitError: the process may not open enough files.
            StateDirInUseError: another lab device or fleet serves ``state_dir``.
            ListenError: a device cannot listen on its port; the message names the device and port.
            OSError: a state file cannot be read or written.
        """
        raise_open_file_limit(self.count)
        files = StateDir(self.state_dir)
        files.acquire()
        self._files = files
        try:
            password = files.load_or_create_password()
            self._loop = LabLoop()
            for index, name in enumerate(device_names(self.count)):
                self.devices[name] = self._start_device(index, name, password)
            self._write_known_hosts()
            self._write_inventory()
        except BaseException:
            self.stop()
            raise
        logger.info("lab fleet of %d devices ready, inventory in %s", self.count, self.inventory_path)
        return self

    def _start_device(self, index: int, name: str, password: str) -> LabDevice:
        folder = self.state_dir / name
        folder.mkdir(exist_ok=True)
        # A device keeps the password its folder holds, so writing the fleet's password there
        # first gives every device the same login.
        password_file = folder / statedir.PASSWORD_FILE
        if not password_file.exists() or password_file.read_text(encoding="utf-8").strip() != password:
            statedir.write_atomic(password_file, (password + "\n").encode(), 0o600)
        port = self.base_port + index if self.base_port else 0
        device = LabDevice(
            folder, port=port, release=self.release, username=self.username, host=self.host, name=name,
            latency_ms=self.latency_ms, mutate=self.mutate, yang_dir=self.yang_dir, loop=self._loop,
        )
        try:
            return device.start()
        except OSError as error:
            raise ListenError(error.errno, f"lab device {name} cannot listen on {self.host} port {port}: "
                              f"{error.strerror or error}") from error

    def _write_known_hosts(self) -> None:
        lines = [device.known_hosts_path.read_text(encoding="utf-8") for device in self.devices.values()]
        statedir.write_atomic(self.known_hosts_path, "".join(lines).encode())

    def _write_inventory(self) -> None:
        lines = [
            f"# Written by `provisioner lab --devices {self.count}`; targets the lab devices in this folder.",
            "defaults:",
            f"  username: {self.username}",
            f"  password_file: {statedir.PASSWORD_FILE}",
            f"  known_hosts: {statedir.KNOWN_HOSTS_FILE}",
            "  platform: iosxe",
            "groups:",
            f"  {FLEET_GROUP}: {{}}",
            "hosts:",
        ]
        for name, device in self.devices.items():
            lines.append(f"  {name}:")
            lines.append(f"    hostname: '{device.host}'")
            lines.append(f"    port: {device.port}")
            lines.append(f"    groups: [{FLEET_GROUP}]")
        statedir.write_atomic(self.inventory_path, ("\n".join(lines) + "\n").encode())

    def stop(self) -> None:
        """Stop every device and the loop; the state folders stay."""
        for device in self.devices.values():
            device.stop()
        self.devices = {}
        if self._loop is not None:
            self._loop.close()
            self._loop = None
        if self._files is not None:
            self._files.release()
            self._files = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def ports(self) -> list[int]:
        """Listen port of each device, in host name order."""
        return [device.port for device in self.devices.values()]
