"""NETCONF over SSH with ncclient: connect with host key checking, send RPCs, turn rpc-errors into exceptions."""

from __future__ import annotations

import logging
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


def _known_host_key(host: Host) -> paramiko.PKey:
    """Return the recorded key for the host, looked up as OpenSSH does for a non-default port."""
    path = host.known_hosts or Path.home() / ".ssh" / "known_hosts"
    keys = paramiko.HostKeys()
    try:
        keys.load(str(path))
    except OSError as error:
        raise HostKeyError(host.name, f"cannot read known_hosts file {path}: {error.strerror}") from None
    lookups = [host.hostname] if host.port == 22 else [f"[{host.hostname}]:{host.port}", host.hostname]
    for lookup in lookups:
        entry = keys.lookup(lookup)
        if entry:
            return next(iter(entry.values()))
    raise HostKeyError(
        host.name,
        f"no host key for {lookups[0]} in {path}; add the device's key (for example from a console "
        "session with `show ip ssh`) before connecting",
    )


class NetconfSession:
    """One NETCONF session to one device.

    Use as a context manager; every RPC either returns its reply or raises a DeviceError that
    names the device and the operation.
    """

    def __init__(self, host: Host, *, timeout: float = 30.0) -> None:
        self.host = host
        self.timeout = timeout
        self._manager: manager.Manager | None = None

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

        Raises:
            HostKeyError: the host key is unknown or differs from known_hosts.
            DeviceUnreachableError: connect, authentication or hello failed.
        """
        logsafe.install()
        key = _known_host_key(self.host)
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
            raise HostKeyError(
                self.name,
                f"the host key of {self.host.hostname}:{self.host.port} (fingerprint {error.fingerprint}) "
                f"differs from the one in {self.host.known_hosts}; if the device was replaced on purpose, "
                "remove the old entry and add the new key",
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
            if self._manager.connected:
                self._manager.close_session()
        except Exception as error:  # noqa: BLE001 - closing must never hide the error that led here
            logger.warning("%s: closing the NETCONF session failed: %s", self.name, error)
        self._manager = None

    @property
    def capabilities(self) -> set[str]:
        """The capabilities the device advertised in its hello, without parameters."""
        assert self._manager is not None
        return {capability.split("?", 1)[0] for capability in self._manager.server_capabilities}

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
        try:
            reply = getattr(self._manager, method)(*args, **kwargs)
        except TimeoutExpiredError:
            raise DeviceUnreachableError(self.name, f"{operation} timed out after {self.timeout:g} s") from None
        except (OSError, SessionCloseError, TransportError) as error:
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
