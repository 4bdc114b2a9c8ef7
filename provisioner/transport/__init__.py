"""Sessions to devices, chosen per host by the inventory's ``transport``: NETCONF over SSH
(ncclient) or RESTCONF over HTTPS (httpx)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from models.inventory import Host
    from provisioner.transport.base import Session


def open_session(host: Host, *, timeout: float = 30.0, accept_new_host_key: bool = False) -> Session:
    """Return an unopened session to ``host`` for its transport; use it as a context manager.

    Args:
        timeout: seconds to wait for the connection and for each reply.
        accept_new_host_key: record an unknown SSH host key (NETCONF only).
    """
    # Imported here: ncclient, paramiko and httpx cost a noticeable part of the CLI's start-up time.
    if host.transport == "restconf":
        from provisioner.transport.restconf import RestconfSession

        return RestconfSession(host, timeout=timeout)

    from provisioner.transport.netconf import NetconfSession

    return NetconfSession(host, timeout=timeout, accept_new_host_key=accept_new_host_key)
