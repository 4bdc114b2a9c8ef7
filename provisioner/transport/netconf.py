"""NETCONF over SSH with ncclient: connect with host key checking, send RPCs, turn rpc-errors into exceptions."""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
from pathlib import Path
from types import TracebackType
from typing import Literal

import paramiko
from lxml import etree
from ncclient import manager
from ncclient.operations.errors import TimeoutExpiredError
from ncclient.operations.rpc import RaiseMode, RPCReply
from ncclient.transport.errors import (
    AuthenticationError,
    SessionCloseError,
    SSHError,
    SSHUnknownHostError,
    TransportError,
)

from models.inventory import Host
from payloads import namespaces as ns
from provisioner import logsafe
from provisioner.errors import (
    DeviceRefusedError,
    DeviceUnreachableError,
    HostKeyError,
    RpcErrorInfo,
)

logger = logging.getLogger(__name__)

Datastore = Literal["running", "candidate", "startup"]

CANDIDATE = "urn:ietf:params:netconf:capability:candidate:1.0"
CONFIRMED_COMMIT = "urn:ietf:params:netconf:capability:confirmed-commit:1.1"


def _known_hosts_path(host: Host) -> Path:
    return host.known_hosts or Path.home() / ".ssh" / "known_hosts"


def _lookup_names(host: Host) -> list[str]:
    """Return the names under which OpenSSH files a host key: ``[host]:port`` unless the port is 22."""
    return [host.hostname] if host.port == 22 else [f"[{host.hostname}]:{host.port}", host.hostname]


def _known_host_key(host: Host) -> paramiko.PKey | None:
    """Return the recorded key for the host, or None when known_hosts has no entry for it."""
    path = _known_hosts_path(host)
    keys = paramiko.HostKeys()
    try:
        keys.load(str(path))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise HostKeyError(host.name, f"cannot read known_hosts file {path}: {error.strerror}") from None
    for lookup in _lookup_names(host):
        entry = keys.lookup(lookup)
        if entry:
            return next(iter(entry.values()))
    return None


def fingerprint(key: paramiko.PKey) -> str:
    """Return the key's fingerprint as OpenSSH prints it: ``SHA256:`` and unpadded base64."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def probe_host_key(host: Host, timeout: float) -> paramiko.PKey:
    """Read the device's SSH host key without authenticating (no credential is sent).

    Raises:
        DeviceUnreachableError: the TCP connection or the SSH key exchange failed.
    """
    try:
        sock = socket.create_connection((host.hostname, host.port), timeout=timeout)
    except OSError as error:
        raise DeviceUnreachableError(host.name, f"cannot connect to {host.hostname}:{host.port}: {error}") from None
    transport = paramiko.Transport(sock)
    try:
        transport.start_client(timeout=timeout)
        return transport.get_remote_server_key()
    except (OSError, paramiko.SSHException) as error:
        raise DeviceUnreachableError(host.name, f"SSH key exchange with {host.hostname}:{host.port} failed: {error}") from None
    finally:
        transport.close()


def record_host_key(host: Host, key: paramiko.PKey) -> Path:
    """Append the host's key to its known_hosts file (trust on first use); return the file."""
    path = _known_hosts_path(host)
    line = f"{_lookup_names(host)[0]} {key.get_name()} {key.get_base64()}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = path.read_text(encoding="utf-8") if path.exists() else ""
        with path.open("a", encoding="utf-8") as handle:
            if existing and not existing.endswith("\n"):
                handle.write("\n")
            handle.write(line)
    except OSError as error:
        raise HostKeyError(host.name, f"cannot record the host key in {path}: {error.strerror}") from None
    logger.warning("%s: recorded host key %s for %s in %s", host.name, fingerprint(key), _lookup_names(host)[0], path)
    return path


def _trusted_key(host: Host, accept_new: bool, timeout: float) -> paramiko.PKey:
    """Return the key to insist on: the recorded one, or with ``accept_new`` a first-seen one.

    Raises:
        HostKeyError: no key is recorded and ``accept_new`` is off.
    """
    key = _known_host_key(host)
    if key is not None:
        return key
    seen = probe_host_key(host, timeout)
    path = _known_hosts_path(host)
    if not accept_new:
        raise HostKeyError(
            host.name,
            f"no host key for {_lookup_names(host)[0]} in {path}; the device offers {seen.get_name()} key "
            f"{fingerprint(seen)}. Compare it with `show ip ssh` or `show crypto key mypubkey rsa` on the "
            "device's console, then run again with --accept-new-host-key to record it (trust on first use)",
        )
    record_host_key(host, seen)
    return seen


class NetconfSession:
    """One NETCONF session to one device.

    Use as a context manager; every RPC either returns its reply or raises a DeviceError that
    names the device and the operation.
    """

    def __init__(self, host: Host, *, timeout: float = 30.0, accept_new_host_key: bool = False) -> None:
        self.host = host
        self.timeout = timeout
        self.accept_new_host_key = accept_new_host_key
        self._manager: manager.Manager | None = None
        self._lost: str | None = None

    def __enter__(self) -> NetconfSession:
        self.connect()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    @property
    def name(self) -> str:
        """The device's inventory name."""
        return self.host.name

    def connect(self) -> None:
        """Open the SSH connection and exchange hellos.

        The host key must match the one in known_hosts. An unknown key is refused unless
        ``accept_new_host_key`` is set, which records it first; a changed key is always refused.

        Raises:
            HostKeyError: the host key is unknown or differs from known_hosts.
            DeviceUnreachableError: connect, authentication or hello failed.
        """
        logsafe.install()
        key = _trusted_key(self.host, self.accept_new_host_key, self.timeout)
        password = self.host.password.get_secret_value() if self.host.password else None
        where = f"{self.host.username}@{self.host.hostname}:{self.host.port}"
        try:
            self._manager = manager.connect(
                host=self.host.hostname,
                port=self.host.port,
                username=self.host.username,
                password=password,
                timeout=self.timeout,
                hostkey_verify=True,
                hostkey_b64=key.get_base64(),
                unknown_host_cb=lambda host, fingerprint: False,
                look_for_keys=False,
                allow_agent=False,
                device_params={"name": "default"},
            )
        except SSHUnknownHostError as error:
            try:
                offered = fingerprint(probe_host_key(self.host, self.timeout))
            except DeviceUnreachableError:
                offered = f"MD5 {error.fingerprint}"
            raise HostKeyError(
                self.name,
                f"the host key of {self.host.hostname}:{self.host.port} ({offered}) differs from the one "
                f"recorded in {_known_hosts_path(self.host)} ({fingerprint(key)}); this can be an attack, "
                "so the connection was refused (--accept-new-host-key does not apply to a changed key). "
                "If the device was replaced on purpose, remove the old entry "
                f"(`ssh-keygen -R '{_lookup_names(self.host)[0]}' -f {_known_hosts_path(self.host)}`) and connect again",
            ) from None
        except AuthenticationError:
            raise DeviceUnreachableError(self.name, f"SSH authentication failed for {where}; check the username and password") from None
        except (OSError, SSHError, TransportError, paramiko.SSHException) as error:
            raise DeviceUnreachableError(self.name, f"cannot open a NETCONF session to {where}: {error}") from None
        self._manager.raise_mode = RaiseMode.NONE
        self._manager.timeout = self.timeout
        logger.info("%s: NETCONF session %s open", self.name, self._manager.session_id)

    def close(self) -> None:
        """Close the session; errors while closing are logged, not raised."""
        if self._manager is None:
            return
        try:
            if self._manager.connected and self._lost is None:
                self._manager.close_session()
        except Exception as error:  # noqa: BLE001 - closing must never hide the error that led here
            logger.warning("%s: closing the NETCONF session failed: %s", self.name, error)
        # After a timed-out or failed close-session the SSH connection may still be open, and
        # the device keeps this session's locks until it ends; close the transport as well.
        try:
            self._manager._session.close()  # noqa: SLF001 - ncclient has no public transport close
        except Exception as error:  # noqa: BLE001
            logger.debug("%s: closing the SSH transport failed: %s", self.name, error)
        self._manager = None

    @property
    def capabilities(self) -> set[str]:
        """The capabilities the device advertised in its hello, without parameters."""
        assert self._manager is not None
        return {capability.split("?", 1)[0] for capability in self._manager.server_capabilities}

    @property
    def raw_capabilities(self) -> list[str]:
        """The capabilities the device advertised in its hello, parameters included."""
        assert self._manager is not None
        return list(self._manager.server_capabilities)

    @property
    def session_id(self) -> str | None:
        """The session id the device assigned."""
        return None if self._manager is None else str(self._manager.session_id)

    def _check(self, operation: str, reply: RPCReply) -> etree._Element:
        errors = [
            RpcErrorInfo(
                error_type=error.type,
                error_tag=error.tag,
                severity=error.severity,
                path=error.path,
                message=error.message.strip() if error.message else None,
                info=error.info.strip() if error.info else None,
            )
            for error in reply.errors
        ]
        for warning in (error for error in errors if error.severity != "error"):
            logger.warning("%s: %s returned a warning: %s", self.name, operation, warning)
        # A reply fails when any rpc-error has severity error, even if warnings come first.
        failed = [error for error in errors if error.severity == "error"]
        if failed:
            raise DeviceRefusedError(self.name, operation, failed)
        return etree.fromstring(reply.xml.encode())

    def _call(self, operation: str, method: str, *args: object, **kwargs: object) -> etree._Element:
        if self._manager is None:
            raise DeviceUnreachableError(self.name, f"{operation}: the NETCONF session is not open")
        if self._lost is not None:
            # A session that dropped or missed a reply is not used again: ncclient may still
            # think it is connected, and every further RPC would wait for the full timeout.
            raise DeviceUnreachableError(self.name, f"{operation}: not sent, the session is unusable ({self._lost})")
        try:
            reply = getattr(self._manager, method)(*args, **kwargs)
        except TimeoutExpiredError:
            self._lost = f"{operation} timed out"
            raise DeviceUnreachableError(self.name, f"{operation} timed out after {self.timeout:g} s") from None
        except (OSError, SessionCloseError, TransportError) as error:
            self._lost = f"the session dropped during {operation}"
            raise DeviceUnreachableError(self.name, f"{operation}: the session dropped: {error}") from None
        logger.debug("%s: %s ok", self.name, operation)
        return self._check(operation, reply)

    def get_config(self, source: Datastore, subtree_filter: etree._Element) -> etree._Element:
        """Return the ``<data>`` element of get-config."""
        reply = self._call(f"get-config {source}", "get_config", source=source, filter=subtree_filter)
        data = reply.find(f"{{{ns.NETCONF_BASE}}}data")
        return data if data is not None else etree.Element(f"{{{ns.NETCONF_BASE}}}data")

    def get(self, subtree_filter: etree._Element) -> etree._Element:
        """Return the ``<data>`` element of ``<get>`` (configuration and state)."""
        reply = self._call("get", "get", filter=subtree_filter)
        data = reply.find(f"{{{ns.NETCONF_BASE}}}data")
        return data if data is not None else etree.Element(f"{{{ns.NETCONF_BASE}}}data")

    def get_schema(self, identifier: str, version: str | None = None) -> str:
        """Return the YANG text of a module from ietf-netconf-monitoring ``<get-schema>``."""
        reply = self._call(f"get-schema {identifier}", "get_schema", identifier, version=version)
        data = reply.find(f"{{{ns.NETCONF_MONITORING}}}data")
        if data is None:
            data = reply.find(f"{{{ns.NETCONF_BASE}}}data")
        return "" if data is None else "".join(data.itertext())

    def edit_config(self, target: Datastore, config: etree._Element, *, error_option: str | None = None) -> None:
        """Send edit-config; ``config`` is the ``<config>`` element."""
        kwargs: dict[str, object] = {"target": target, "config": config}
        if error_option is not None:
            kwargs["error_option"] = error_option
        self._call(f"edit-config {target}", "edit_config", **kwargs)

    def lock(self, target: Datastore) -> None:
        """Lock a datastore."""
        self._call(f"lock {target}", "lock", target=target)

    def unlock(self, target: Datastore) -> None:
        """Unlock a datastore."""
        self._call(f"unlock {target}", "unlock", target=target)

    def validate(self, source: Datastore = "candidate") -> None:
        """Validate a datastore."""
        self._call(f"validate {source}", "validate", source=source)

    def commit(self) -> None:
        """Commit the candidate datastore to running."""
        self._call("commit", "commit")

    def discard_changes(self) -> None:
        """Drop uncommitted changes from the candidate datastore."""
        self._call("discard-changes", "discard_changes")

    def rpc(self, operation: str, body: etree._Element) -> etree._Element:
        """Send a YANG-defined RPC (``body`` is the operation element) and return the reply."""
        return self._call(operation, "dispatch", body)
