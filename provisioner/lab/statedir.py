"""Files of a lab device's state directory: host key, password, known_hosts, inventory and
saved datastores. Every write goes to a temporary file that is then renamed into place."""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import tempfile
from pathlib import Path
from typing import Any

import asyncssh

HOST_KEY_FILE = "ssh_host_ed25519_key"
PASSWORD_FILE = "password"
KNOWN_HOSTS_FILE = "known_hosts"
INVENTORY_FILE = "inventory.yaml"
RPC_LOG_FILE = "rpc-log.jsonl"
RUNNING_FILE = "running.xml"
STARTUP_FILE = "startup.xml"
UNMODELLED_FILE = "unmodelled.json"
LOCK_FILE = "lab.lock"


class StateDirInUseError(RuntimeError):
    """Another lab device, in this or another process, is serving the state directory."""


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename, so
    a crash never leaves a half-written file."""
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class StateDir:
    """The state directory of one lab device."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock_file: Any = None

    def acquire(self) -> None:
        """Lock the directory for this device, so that two devices never share datastores.

        Raises:
            StateDirInUseError: another device holds the lock.
        """
        handle = open(self.file(LOCK_FILE), "a")  # noqa: SIM115 - held open until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise StateDirInUseError(
                f"another lab device is serving {self.path}; stop it or choose another --state-dir"
            ) from None
        self._lock_file = handle

    def release(self) -> None:
        """Unlock the directory."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def file(self, name: str) -> Path:
        """Return the path of a file in the state directory."""
        return self.path / name

    def load_or_create_host_key(self) -> asyncssh.SSHKey:
        """Load the ed25519 host key, generating and saving it on the first start."""
        key_path = self.file(HOST_KEY_FILE)
        if key_path.exists():
            return asyncssh.read_private_key(key_path)
        key = asyncssh.generate_private_key("ssh-ed25519", comment="provisioner-lab")
        write_atomic(key_path, key.export_private_key("openssh"), 0o600)
        return key

    def load_or_create_password(self) -> str:
        """Load the login password, generating and saving it (mode 0600) on the first start."""
        password_path = self.file(PASSWORD_FILE)
        if password_path.exists():
            password = password_path.read_text(encoding="utf-8").strip()
            if password:
                return password
        password = secrets.token_urlsafe(18)
        write_atomic(password_path, (password + "\n").encode(), 0o600)
        return password

    def write_known_hosts(self, host: str, port: int, key: asyncssh.SSHKey) -> Path:
        """Write an OpenSSH known_hosts line for the host key and return the file's path."""
        public = key.export_public_key("openssh").decode().split()
        host_field = host if port == 22 else f"[{host}]:{port}"
        line = f"{host_field} {public[0]} {public[1]}\n"
        path = self.file(KNOWN_HOSTS_FILE)
        write_atomic(path, line.encode())
        return path

    def write_inventory(self, host: str, port: int, username: str, name: str = "lab",
                        ca_bundle: str | None = None) -> Path:
        """Write the inventory that points the provisioner at this device; return its path.

        With ``ca_bundle`` (a file in this folder) the host is reached over RESTCONF on
        ``port``, trusting that CA; otherwise over NETCONF with the recorded host key.
        """
        if ca_bundle is None:
            access = f"    known_hosts: {KNOWN_HOSTS_FILE}\n"
        else:
            access = f"    transport: restconf\n    ca_bundle: {ca_bundle}\n"
        text = (
            "# Written by `provisioner lab`; targets the lab device in this folder.\n"
            "hosts:\n"
            f"  {name}:\n"
            f"    hostname: {host}\n"
            f"    port: {port}\n"
            f"    username: {username}\n"
            f"    password_file: {PASSWORD_FILE}\n"
            f"{access}"
            "    platform: iosxe\n"
        )
        path = self.file(INVENTORY_FILE)
        write_atomic(path, text.encode())
        return path

    def read_bytes(self, name: str) -> bytes | None:
        """Return a file's content, or None when it does not exist."""
        path = self.file(name)
        return path.read_bytes() if path.exists() else None

    def save_bytes(self, name: str, data: bytes) -> None:
        """Save a datastore file with mode 0600, because configuration contains secrets."""
        write_atomic(self.file(name), data, 0o600)

    def load_json(self, name: str) -> Any:
        """Return a JSON file's content, or None when it does not exist."""
        data = self.read_bytes(name)
        return None if data is None else json.loads(data)

    def save_json(self, name: str, value: Any) -> None:
        """Save a value as JSON (mode 0600)."""
        self.save_bytes(name, json.dumps(value, indent=2, sort_keys=True).encode())


def lab_start_command(inventory: Path) -> str | None:
    """Return the ``provisioner lab`` command that serves the devices of ``inventory`` again.

    Only an inventory that ``provisioner lab`` wrote qualifies, known by its first line. The
    command names the inventory's folder as ``--state-dir``, because the lab rewrites the
    inventory there, with the ports it listens on, each time it starts. Returns None for any
    other inventory or an unreadable file.
    """
    try:
        text = inventory.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.match(r"# Written by `(provisioner lab(?: --devices \d+)?)`", text)
    if match is None:
        return None
    command = match.group(1)
    if re.search(r"^\s+transport: restconf$", text, re.MULTILINE):
        command += " --restconf"
    return f"{command} --state-dir {inventory.parent}"
