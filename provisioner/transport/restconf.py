"""RESTCONF (RFC 8040) over HTTPS with httpx, behind the same session protocol as NETCONF.

The engine speaks NETCONF XML; this session translates at its boundary (see
:mod:`payloads.restconf_json`): subtree filters become GETs of the resources they name, a
``<config>`` edit becomes PATCH, PUT, POST and DELETE requests, and JSON replies come back as
the ``<data>`` and ``<rpc-reply>`` elements a NETCONF session returns.

What differs from NETCONF, and how the engine copes:

- RESTCONF has no candidate datastore and no locks. The session advertises no ``:candidate``,
  so the engine writes to running, and ``lock``/``unlock`` do nothing. Another client can
  change the device during an apply; the engine's verification with get-config catches that.
- An edit may take several requests, and RESTCONF has no rollback-on-error across them: when
  one fails, those before it stay applied. The engine restores its snapshot after a failure.
- The TLS certificate is always verified: against the host's ``ca_bundle``, or the system's
  trust store when none is set. A certificate that fails is an error, never a fallback.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
from lxml import etree

from models.inventory import Host
from payloads import namespaces as ns
from payloads import restconf_json as rj
from provisioner import logsafe
from provisioner.errors import DeviceRefusedError, DeviceUnreachableError, RpcErrorInfo
from provisioner.transport.base import Datastore, Request, run_one_by_one

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/yang-data+json"
_CAPABILITIES = "ietf-restconf-monitoring:restconf-state/capabilities"
_YANG_LIBRARY = "urn:ietf:params:netconf:capability:yang-library:1.1"


def _not_supported(device: str, operation: str) -> DeviceRefusedError:
    return DeviceRefusedError(
        device, operation,
        [RpcErrorInfo("protocol", "operation-not-supported", "error", None, f"RESTCONF has no {operation}", None)],
    )


def _certificate_problem(error: BaseException) -> str | None:
    """Return the verification failure inside an httpx connect error, or None for other errors."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        seen = seen.__cause__ or seen.__context__
    text = str(error)
    return text if "CERTIFICATE_VERIFY_FAILED" in text else None


def _errors(response: httpx.Response) -> list[RpcErrorInfo]:
    """Read the RFC 8040 ``ietf-restconf:errors`` body; fall back to the status line."""
    try:
        document = response.json()
        entries = document["ietf-restconf:errors"]["error"]
    except (ValueError, KeyError, TypeError):
        entries = None
    if not isinstance(entries, list) or not entries:
        text = response.text.strip()[:200] or response.reason_phrase
        return [RpcErrorInfo(None, None, "error", None, f"HTTP {response.status_code}: {text}", None)]
    errors = []
    for entry in entries:
        info = entry.get("error-info")
        errors.append(RpcErrorInfo(
            error_type=entry.get("error-type"),
            error_tag=entry.get("error-tag"),
            severity="error",
            path=entry.get("error-path"),
            message=(entry.get("error-message") or "").strip() or None,
            info=json.dumps(info) if info is not None else None,
        ))
    return errors


class RestconfSession:
    """One RESTCONF client for one device; use it as a context manager.

    Every request either returns its result or raises a DeviceError that names the device and
    the operation. HTTP is stateless, so "session" means one connection pool and one login.
    """

    def __init__(self, host: Host, *, timeout: float = 30.0) -> None:
        self.host = host
        self.timeout = timeout
        self._client: httpx.Client | None = None
        self._capabilities: list[str] = []

    def __enter__(self) -> RestconfSession:
        self.connect()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.close()

    @property
    def name(self) -> str:
        """The device's inventory name."""
        return self.host.name

    @property
    def base_url(self) -> str:
        """``https://host:port``, with brackets around an IPv6 address."""
        hostname = f"[{self.host.hostname}]" if ":" in self.host.hostname else self.host.hostname
        return f"https://{hostname}:{self.host.port}"

    def _tls_context(self) -> ssl.SSLContext:
        bundle = self.host.ca_bundle
        if bundle is None:
            return ssl.create_default_context()
        try:
            return ssl.create_default_context(cafile=str(bundle))
        except (OSError, ssl.SSLError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
            raise DeviceUnreachableError(
                self.name, f"cannot read ca_bundle {bundle}: {reason}; point ca_bundle at a PEM file of CA certificates"
            ) from None

    def connect(self) -> None:
        """Open the HTTPS connection pool and read the RESTCONF capabilities.

        Raises:
            DeviceUnreachableError: connection, TLS verification or authentication failed.
        """
        logsafe.install()
        password = self.host.password.get_secret_value() if self.host.password else ""
        self._client = httpx.Client(
            base_url=self.base_url,
            auth=httpx.BasicAuth(self.host.username, password),
            verify=self._tls_context(),
            timeout=self.timeout,
            headers={"Accept": MEDIA_TYPE},
            trust_env=False,
        )
        try:
            response = self._send("connect", "GET", f"/restconf/data/{_CAPABILITIES}", missing_ok=True)
        except BaseException:
            self.close()
            raise
        found: list[str] = []
        if response is not None:
            capabilities = response.json().get("ietf-restconf-monitoring:capabilities", {})
            found = [str(uri) for uri in capabilities.get("capability", [])]
        # RESTCONF has no hello. Every RESTCONF server implements ietf-yang-library (RFC 8040
        # section 10), so the session lists its capability URI: code that reads module
        # revisions then reads them from the library, as it does over NETCONF from 17.10 on.
        self._capabilities = [*found, _YANG_LIBRARY]
        logger.info("%s: RESTCONF session to %s open", self.name, self.base_url)

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def capabilities(self) -> set[str]:
        """The RESTCONF capabilities without parameters; never ``:candidate``."""
        return {capability.split("?", 1)[0] for capability in self._capabilities}

    @property
    def raw_capabilities(self) -> list[str]:
        """The RESTCONF capabilities with parameters, and the yang-library capability."""
        return list(self._capabilities)

    # HTTP

    def _send(
        self, operation: str, method: str, url: str, *, body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None, missing_ok: bool = False,
    ) -> httpx.Response | None:
        """Send one request; return the response, or None for a missing resource with ``missing_ok``."""
        if self._client is None:
            raise DeviceUnreachableError(self.name, f"{operation}: the RESTCONF session is not open")
        where = f"{self.host.username}@{self.base_url}"
        headers = {"Content-Type": MEDIA_TYPE} if body is not None else None
        content = json.dumps(body).encode() if body is not None else None
        try:
            response = self._client.request(method, url, content=content, headers=headers, params=params)
        except httpx.TimeoutException:
            raise DeviceUnreachableError(self.name, f"{operation} timed out after {self.timeout:g} s") from None
        except httpx.TransportError as error:
            problem = _certificate_problem(error)
            if problem is not None:
                hint = (
                    f"the CA bundle {self.host.ca_bundle} does not contain the CA that signed it"
                    if self.host.ca_bundle else "no CA in the system's trust store signed it"
                )
                raise DeviceUnreachableError(
                    self.name,
                    f"the HTTPS certificate of {self.base_url} failed verification ({problem}): {hint}. Set ca_bundle "
                    "for this host in the inventory to a PEM file with the CA certificate that signed the device's "
                    "certificate; verification cannot be turned off",
                ) from None
            raise DeviceUnreachableError(self.name, f"cannot reach RESTCONF at {self.base_url}: {error}") from None
        if response.status_code == 401:
            raise DeviceUnreachableError(self.name, f"RESTCONF authentication failed for {where}; check the username and password")
        if response.status_code == 404 and missing_ok:
            return None
        if response.is_error:
            errors = _errors(response)
            # Some servers answer a DELETE of a missing resource with 409 data-missing instead.
            if missing_ok and all(error.error_tag == "data-missing" for error in errors):
                return None
            raise DeviceRefusedError(self.name, operation, errors)
        logger.debug("%s: %s %s: HTTP %d", self.name, method, url, response.status_code)
        return response

    def _read(self, operation: str, resources: list[rj.Resource], content: str | None) -> etree._Element:
        params = {"content": content} if content else None
        replies: list[tuple[rj.Resource, dict[str, Any] | None]] = []
        for resource in resources:
            response = self._send(operation, "GET", f"/restconf/data/{resource.path}", params=params, missing_ok=True)
            if response is None and resource.segments[0].name == "yang-library" and resource.segments[0].namespace == ns.YANG_LIBRARY:
                # A server with only the RFC 7895 form of the library lists modules in modules-state.
                legacy = rj.Resource((rj.Segment(ns.YANG_LIBRARY, "modules-state"),))
                fallback = self._send(operation, "GET", f"/restconf/data/{legacy.path}", params=params, missing_ok=True)
                replies.append((legacy, None if fallback is None else fallback.json()))
                continue
            replies.append((resource, None if response is None or not response.content else response.json()))
        return rj.data_from_replies(replies)

    # The session protocol

    def get_config(self, source: Datastore, subtree_filter: etree._Element) -> etree._Element:
        """GET each resource the filter names with ``content=config``; return them as ``<data>``."""
        if source != "running":
            raise _not_supported(self.name, f"get-config {source}")
        return self._read("get-config running", rj.filter_resources(subtree_filter), "config")

    def get(self, subtree_filter: etree._Element) -> etree._Element:
        """GET each resource the filter names (configuration and state); return them as ``<data>``."""
        return self._read("get", rj.filter_resources(subtree_filter), None)

    def get_schema(self, identifier: str, version: str | None = None) -> str:
        """Raise: RESTCONF offers no ``<get-schema>``; use a YANG folder instead."""
        raise DeviceRefusedError(
            self.name, f"get-schema {identifier}",
            [RpcErrorInfo("protocol", "operation-not-supported", "error", None, "RESTCONF has no get-schema", None)],
            hint="give --yang-dir with the device's YANG instead of --yang-from-device",
        )

    def edit_config(self, target: Datastore, config: etree._Element, *, error_option: str | None = None) -> None:
        """Send the edit as RESTCONF requests: PATCH for merged content, PUT for each replaced
        object, POST for each created one, DELETE for each deleted or removed one.

        NOTE: ``error_option`` cannot be honoured. RESTCONF has no rollback-on-error across
        requests: when one fails, the requests before it stay applied, and the error states how
        many. The engine restores its snapshot after a failure.
        """
        if target != "running":
            raise _not_supported(self.name, f"edit-config {target}")
        edits = rj.edit_requests(config)
        for done, edit in enumerate(edits):
            url = f"/restconf/data/{edit.path}" if edit.segments else "/restconf/data"
            try:
                self._send(f"edit-config running ({edit.method} {edit.path})", edit.method, url, body=edit.body,
                           missing_ok=edit.missing_ok)
            except DeviceRefusedError as error:
                if done:
                    raise DeviceRefusedError(
                        self.name, error.operation, error.errors,
                        hint=f"{done} of the {len(edits)} requests of this edit were applied before it failed "
                        "(RESTCONF has no rollback-on-error)",
                    ) from None
                raise

    def lock(self, target: Datastore) -> None:
        """Do nothing: RESTCONF has no lock operation."""
        logger.debug("%s: lock %s skipped: RESTCONF has no lock", self.name, target)

    def unlock(self, target: Datastore) -> None:
        """Do nothing: RESTCONF has no lock."""

    def validate(self, source: Datastore = "candidate") -> None:
        """Raise: RESTCONF has no validate operation."""
        raise _not_supported(self.name, f"validate {source}")

    def commit(self) -> None:
        """Raise: RESTCONF has no candidate datastore to commit."""
        raise _not_supported(self.name, "commit")

    def discard_changes(self) -> None:
        """Raise: RESTCONF has no candidate datastore."""
        raise _not_supported(self.name, "discard-changes")

    def rpc(self, operation: str, body: etree._Element) -> etree._Element:
        """POST the RPC to ``/restconf/operations/<module>:<name>``; return it as ``<rpc-reply>``."""
        qname = etree.QName(body)
        url = f"/restconf/operations/{rj.module_of(qname.namespace or '')}:{qname.localname}"
        response = self._send(operation, "POST", url, body=rj.rpc_input(body))
        output = response.json() if response is not None and response.content else None
        return rj.rpc_reply(body, output)

    def batch(self, requests: Sequence[Request]) -> list[Any]:
        """Run the requests one after the other: HTTP/1.1 without pipelining has no cheaper way."""
        return run_one_by_one(self, requests)
