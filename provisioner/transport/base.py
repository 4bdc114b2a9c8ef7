"""The session protocol that the engine, plan and check use, whatever the transport, and batches.

A batch is a list of requests that do not depend on each other's replies. NETCONF sends them
back to back and then reads the replies, so a batch costs one round trip: RFC 6241 lets a
client pipeline requests, and the server replies in the order it received them. A transport
that cannot pipeline runs them one after the other, with the same results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Protocol, runtime_checkable

from lxml import etree

from models.inventory import Host
from provisioner.errors import DeviceError, DeviceUnreachableError

Datastore = Literal["running", "candidate", "startup"]


@dataclass(frozen=True)
class Request:
    """One request of a batch: the name of a session method and its arguments.

    ``method`` is one of ``lock``, ``unlock``, ``get_config``, ``get``, ``edit_config``,
    ``validate``, ``commit``, ``discard_changes`` and ``rpc``.
    """

    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def request(method: str, *args: Any, **kwargs: Any) -> Request:
    """Build a :class:`Request` for ``session.method(*args, **kwargs)``."""
    return Request(method, args, kwargs)


@runtime_checkable
class Session(Protocol):
    """The operations the engine, plan and check use; NETCONF and RESTCONF both provide them."""

    host: Host

    def __enter__(self) -> Session: ...

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None: ...

    @property
    def name(self) -> str: ...

    @property
    def capabilities(self) -> set[str]: ...

    @property
    def raw_capabilities(self) -> list[str]: ...

    def get_config(self, source: Datastore, subtree_filter: etree._Element) -> etree._Element: ...

    def get(self, subtree_filter: etree._Element) -> etree._Element: ...

    def edit_config(self, target: Datastore, config: etree._Element, *, error_option: str | None = None) -> None: ...

    def lock(self, target: Datastore) -> None: ...

    def unlock(self, target: Datastore) -> None: ...

    def validate(self, source: Datastore = "candidate") -> None: ...

    def commit(self) -> None: ...

    def discard_changes(self) -> None: ...

    def rpc(self, operation: str, body: etree._Element) -> etree._Element: ...

    def batch(self, requests: Sequence[Request]) -> list[Any]: ...


def run_one_by_one(session: Session, requests: Sequence[Request]) -> list[Any]:
    """Run ``requests`` in order on ``session``; each result is the return value or the DeviceError.

    After a request finds the session unreachable, the rest are not sent and get the same error,
    as they would in a pipelined batch.
    """
    results: list[Any] = []
    lost: DeviceUnreachableError | None = None
    for item in requests:
        if lost is not None:
            results.append(lost)
            continue
        try:
            results.append(getattr(session, item.method)(*item.args, **item.kwargs))
        except DeviceUnreachableError as error:
            lost = error
            results.append(error)
        except DeviceError as error:
            results.append(error)
    return results


def unwrap(result: object) -> Any:
    """Return a batch result, raising it when it is a DeviceError."""
    if isinstance(result, DeviceError):
        raise result
    return result
