"""Errors raised when talking to devices; the root of the tree is in :mod:`models.errors`.

::

    ProvisionerError
    ├── InputError                  bad intent, inventory or certificate file; nothing was sent
    │   └── IntentError
    └── DeviceError                 carries the device name
        ├── DeviceUnreachableError  connect, authentication, timeout
        │   └── HostKeyError        host key unknown or different from known_hosts
        └── DeviceRefusedError      rpc-error; carries the operation and the rpc-error fields
            ├── LockHeldError       another session kept the lock past the retry limit
            └── VerificationError   the device does not hold what was committed
"""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import InputError, IntentError, Problem, ProvisionerError

__all__ = [
    "DeviceError",
    "DeviceRefusedError",
    "DeviceUnreachableError",
    "HostKeyError",
    "InputError",
    "IntentError",
    "LockHeldError",
    "Problem",
    "ProvisionerError",
    "RpcErrorInfo",
    "VerificationError",
]


class DeviceError(ProvisionerError):
    """Something failed on a device or on the way to it."""

    def __init__(self, device: str, message: str) -> None:
        self.device = device
        super().__init__(f"{device}: {message}")


class DeviceUnreachableError(DeviceError):
    """The device could not be reached, rejected the login, or did not reply in time."""


class HostKeyError(DeviceUnreachableError):
    """The device's SSH host key is not in known_hosts or differs from the recorded one."""


@dataclass(frozen=True)
class RpcErrorInfo:
    """The fields of one ``<rpc-error>`` as the device sent them."""

    error_type: str | None
    error_tag: str | None
    severity: str | None
    path: str | None
    message: str | None
    info: str | None

    def __str__(self) -> str:
        parts = [f"{self.error_type or '?'}/{self.error_tag or '?'}"]
        if self.path:
            parts.append(f"at {self.path}")
        if self.message:
            parts.append(f"- {self.message}")
        if self.info:
            parts.append(f"({self.info})")
        return " ".join(parts)


class DeviceRefusedError(DeviceError):
    """The device replied to an RPC with an rpc-error of severity error."""

    def __init__(self, device: str, operation: str, errors: list[RpcErrorInfo], hint: str = "") -> None:
        self.operation = operation
        self.errors = errors
        details = "; ".join(str(error) for error in errors) or "no details"
        # Device messages often end with a period already ("% Incomplete command.").
        details = details.rstrip(".")
        suffix = f". {hint}" if hint else ""
        super().__init__(device, f"{operation} failed: {details}{suffix}")


class LockHeldError(DeviceRefusedError):
    """Another session held a datastore lock for longer than apply was willing to wait.

    Attributes:
        datastore: the datastore that could not be locked.
        holder: the session id the device named in the rpc-error's error-info; ``"0"`` means no
            NETCONF session (IOS XE uses it for a CLI session or for uncommitted candidate
            changes), None when the device did not say.
    """

    def __init__(self, device: str, datastore: str, holder: str | None, waited: float, errors: list[RpcErrorInfo]) -> None:
        self.datastore = datastore
        self.holder = holder
        if holder is None:
            who = "another session (the device did not say which)"
        elif holder == "0":
            who = "no NETCONF session (session id 0: a CLI user, a sync, or uncommitted candidate changes)"
        else:
            who = f"NETCONF session {holder}"
        hint = (
            f"the {datastore} datastore is locked by {who}; gave up after {waited:g} s. Wait for that "
            "session to finish, raise --lock-timeout, or end that session on the device"
        )
        super().__init__(device, f"lock {datastore}", errors, hint=hint)


class VerificationError(DeviceRefusedError):
    """After a commit, get-config showed values other than the ones committed."""

    def __init__(self, device: str, differences: list[str], restored: bool) -> None:
        self.differences = differences
        self.restored = restored
        state = (
            "the previous configuration was restored and verified"
            if restored
            else "restoring the previous configuration FAILED; check the device"
        )
        DeviceError.__init__(
            self,
            device,
            "verification failed, the device holds other values than committed: "
            + "; ".join(differences)
            + f"; {state}",
        )
        self.operation = "verify"
        self.errors = []
