"""RESTCONF (RFC 8040) server of a lab device: HTTPS with aiohttp, on the device's datastores.

Each request is translated into the NETCONF RPC it stands for and run by the same handlers
as the NETCONF server (``provisioner.lab.rpc``), so both protocols see one running datastore,
one set of locks and one RPC log. GET maps to get-config (``content=config``) or get, PATCH
to a merge, PUT to a replace, POST to a create or an RPC, DELETE to a delete. Errors come back
as ``ietf-restconf:errors`` with the HTTP status RFC 8040 section 7 gives each error-tag.

RESTCONF has no locks, and this server writes running directly. A running lock held by a
NETCONF session makes RESTCONF writes fail with in-use (HTTP 409), because the shared handlers
check it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
import logging
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from lxml import etree

from payloads import namespaces as ns
from payloads import restconf_json as rj
from provisioner.lab import restconf_tls, rpc
from provisioner.lab.device import DeviceState
from provisioner.lab.faults import Faults
from provisioner.lab.restconf_tls import TlsFiles
from provisioner.lab.server import LabServer

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/yang-data+json"
_NC = f"{{{ns.NETCONF_BASE}}}"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)

# RFC 8040 section 7: the HTTP status for each error-tag (the first one where it lists several).
_STATUS = {
    "in-use": 409, "invalid-value": 400, "too-big": 413, "missing-attribute": 400,
    "bad-attribute": 400, "unknown-attribute": 400, "bad-element": 400, "unknown-element": 400,
    "unknown-namespace": 400, "access-denied": 403, "lock-denied": 409, "resource-denied": 409,
    "rollback-failed": 500, "data-exists": 409, "data-missing": 409,
    "operation-not-supported": 501, "operation-failed": 500, "partial-operation": 500,
    "malformed-message": 400,
}

# Capabilities listed in ietf-restconf-monitoring. None names a datastore, so clients find no
# candidate.
CAPABILITIES = (
    "urn:ietf:params:restconf:capability:defaults:1.0?basic-mode=explicit",
    "urn:ietf:params:restconf:capability:depth:1.0",
)


class _HttpError(Exception):
    """A RESTCONF error reply: the HTTP status and one ietf-restconf error entry."""

    def __init__(self, status: int, error_type: str, error_tag: str, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.entry: dict[str, Any] = {"error-type": error_type, "error-tag": error_tag, "error-message": message}
        if path:
            self.entry["error-path"] = path


def _errors_response(status: int, entries: list[dict[str, Any]]) -> web.Response:
    body = {"ietf-restconf:errors": {"error": entries}}
    return web.Response(status=status, text=json.dumps(body), content_type=MEDIA_TYPE)


def _segments(api_path: str) -> list[rj.Segment]:
    """Parse an RFC 8040 api-path into segments; list keys are looked up in the schema table.

    Raises:
        _HttpError: a step lacks its module name where one is needed, or names keys of a node
            that is not a known list.
    """
    segments: list[rj.Segment] = []
    namespace: str | None = None
    path: list[tuple[str, str]] = []
    for step in api_path.strip("/").split("/"):
        name, _, raw_keys = step.partition("=")
        if ":" in name:
            module, name = name.split(":", 1)
            namespace = rj.namespace_of(module)
        if namespace is None:
            raise _HttpError(400, "protocol", "invalid-value", f"the first step of {api_path} lacks its module name")
        path.append((namespace, name))
        keys: tuple[tuple[str, str], ...] = ()
        if raw_keys or step.endswith("="):
            node = rj.schema_node(path)
            values = [unquote(value) for value in raw_keys.split(",")]
            if node is None or node.kind != "list" or len(values) != len(node.keys):
                raise _HttpError(400, "protocol", "invalid-value", f"{name} in {api_path} is not a list with {len(values)} key(s)")
            keys = tuple(zip(node.keys, values, strict=True))
        segments.append(rj.Segment(namespace, name, keys))
    return segments


def _build(parent: etree._Element, segments: list[rj.Segment]) -> etree._Element:
    """Append the nodes the segments name under ``parent``, with list keys; return the last."""
    for segment in segments:
        parent = etree.SubElement(parent, f"{{{segment.namespace}}}{segment.name}", nsmap={None: segment.namespace})
        for key, value in segment.keys:
            etree.SubElement(parent, f"{{{segment.namespace}}}{key}").text = value
    return parent


def _find(data: etree._Element, segments: list[rj.Segment]) -> list[etree._Element]:
    """Return the nodes at the segments' path in a ``<data>`` tree (all entries of an unkeyed list)."""
    found = [data]
    for segment in segments:
        tag = f"{{{segment.namespace}}}{segment.name}"
        found = [
            child for parent in found for child in parent.findall(tag)
            if all(child.findtext(f"{{{segment.namespace}}}{key}") == value for key, value in segment.keys)
        ]
    return found


def _path(segments: list[rj.Segment]) -> list[tuple[str, str]]:
    return [(segment.namespace, segment.name) for segment in segments]


class RestconfServer:
    """The HTTPS listener of one lab device, serving RESTCONF on its ``DeviceState``.

    Args:
        state: The device the NETCONF server also serves.
        tls: The CA and server certificate files.
        username: The one login name.
        password: Returns the login password (read at each request, like the SSH server).
        host: Loopback address to listen on.
        port: TCP port; 0 picks a free one.
        faults: The device's fault settings (latency, rejected logins, dropped connections).
    """

    def __init__(self, state: DeviceState, tls: TlsFiles, username: str, password: Callable[[], str],
                 host: str, port: int, faults: Faults) -> None:
        self.state = state
        self.tls = tls
        self.username = username
        self._password = password
        self.host = host
        self.port = port
        self.faults = faults
        self._runner: web.AppRunner | None = None
        self._message_ids = itertools.count(1)

    async def start(self) -> None:
        """Listen for HTTPS connections."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.tls.server_context(),
                           reuse_address=True)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp has no public way to read the bound port
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        logger.info("device %s serving RESTCONF on https://%s:%d", self.state.name, self.host, self.port)

    async def stop(self) -> None:
        """Close the listener and its connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # Requests

    def _authorised(self, request: web.Request) -> bool:
        if self.faults.reject_logins:
            return False
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            username, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user_ok = secrets.compare_digest(username.encode(), self.username.encode())
        password_ok = secrets.compare_digest(password.encode(), self._password().encode())
        return user_ok and password_ok

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        started = asyncio.get_running_loop().time()
        if not self._authorised(request):
            logger.info("device %s rejected a RESTCONF login from %s", self.state.name, request.remote)
            response = _errors_response(401, [{"error-type": "protocol", "error-tag": "access-denied",
                                               "error-message": "authentication failed"}])
            response.headers["WWW-Authenticate"] = 'Basic realm="restconf"'
            return response
        try:
            body = await request.read()
            response, operation = self._dispatch(request.method, request.path, request.query, body)
        except _HttpError as error:
            logger.info("device %s: RESTCONF %s %s failed with HTTP %d: %s", self.state.name, request.method,
                        request.path, error.status, error)
            response, operation = _errors_response(error.status, [error.entry]), "error"
        latency = self.faults.latency_ms / 1000
        if latency > 0:
            await asyncio.sleep(max(0.0, started + latency - asyncio.get_running_loop().time()))
        if self.faults.take_drop(operation):
            logger.info("device %s dropped a RESTCONF connection after running %s, before its reply "
                        "(fault injection)", self.state.name, operation)
            if request.transport is not None:
                request.transport.close()
        return response

    def _dispatch(self, method: str, path: str, query: Any, body: bytes) -> tuple[web.Response, str]:
        if path.startswith("/restconf/data/") or path == "/restconf/data":
            return self._data(method, path.removeprefix("/restconf/data").strip("/"), query, body)
        if path.startswith("/restconf/operations/") and method == "POST":
            return self._operation(path.removeprefix("/restconf/operations/"), body)
        if path == "/.well-known/host-meta" and method == "GET":
            xrd = '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0"><Link rel="restconf" href="/restconf"/></XRD>'
            return web.Response(text=xrd, content_type="application/xrd+xml"), "host-meta"
        raise _HttpError(404, "protocol", "invalid-value", f"{method} {path} is not a RESTCONF resource of this device")

    def _decode(self, body: bytes) -> dict[str, Any]:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _HttpError(400, "protocol", "malformed-message", f"the body is not valid JSON: {error}") from None
        if not isinstance(document, dict):
            raise _HttpError(400, "protocol", "malformed-message", "the body must be a JSON object")
        return document

    def _run(self, operation_xml: etree._Element, request: str) -> tuple[etree._Element, str]:
        """Run one NETCONF operation through the lab's RPC handlers as its own short session."""
        message_id = f"restconf-{next(self._message_ids)}"
        envelope = etree.Element(_NC + "rpc", nsmap={None: ns.NETCONF_BASE})
        envelope.set("message-id", message_id)
        envelope.append(operation_xml)
        with self.state.lock:
            session_id = self.state.open_session(lambda: None)
            try:
                outcome = rpc.handle_rpc(self.state, session_id, etree.tostring(envelope), request=request)
            finally:
                self.state.close_session(session_id)
        reply = etree.fromstring(outcome.reply, _PARSER)
        errors = reply.findall(_NC + "rpc-error")
        if errors:
            entries = []
            for error in errors:
                entry = {
                    "error-type": error.findtext(_NC + "error-type"),
                    "error-tag": error.findtext(_NC + "error-tag"),
                }
                for name in ("error-path", "error-message"):
                    if error.findtext(_NC + name):
                        entry[name] = error.findtext(_NC + name)
                info = error.find(_NC + "error-info")
                if info is not None and len(info):
                    entry["error-info"] = {etree.QName(child).localname: child.text for child in info}
                entries.append(entry)
            tag = str(entries[0]["error-tag"])
            raise _ReplyError(_errors_response(_STATUS.get(tag, 500), entries), outcome.operation)
        return reply, outcome.operation

    # /restconf/data

    def _data(self, method: str, api_path: str, query: Any, body: bytes) -> tuple[web.Response, str]:
        request = f"{method} /restconf/data/{api_path}"
        if not api_path:
            raise _HttpError(405, "protocol", "operation-not-supported", "name a resource under /restconf/data")
        segments = _segments(api_path)
        if api_path == "ietf-restconf-monitoring:restconf-state/capabilities" and method == "GET":
            document = {"ietf-restconf-monitoring:capabilities": {"capability": list(CAPABILITIES)}}
            self.state.rpc_log.append(0, None, "get", True, None, transport="restconf", request=request)
            return web.json_response(document, content_type=MEDIA_TYPE), "get"
        try:
            if method == "GET":
                return self._get(segments, query, request)
            if method == "DELETE":
                return self._edit(segments, "delete", None, request)
            document = self._decode(body)
            if method == "PATCH":
                return self._edit(segments, "merge", document, request)
            if method == "PUT":
                return self._edit(segments, "replace", document, request)
            if method == "POST":
                return self._edit(segments, "create", document, request)
        except _ReplyError as error:
            return error.response, error.operation
        raise _HttpError(405, "protocol", "operation-not-supported", f"{method} is not supported on {api_path}")

    def _get(self, segments: list[rj.Segment], query: Any, request: str) -> tuple[web.Response, str]:
        unknown = set(query) - {"content", "depth"}
        if unknown:
            raise _HttpError(400, "protocol", "invalid-value", f"unsupported query parameter {', '.join(sorted(unknown))}")
        content = query.get("content", "all")
        if content not in ("config", "nonconfig", "all"):
            raise _HttpError(400, "protocol", "invalid-value", f"content={content} is invalid; use config, nonconfig or all")
        subtree = etree.Element(_NC + "filter", nsmap={None: ns.NETCONF_BASE})
        subtree.set("type", "subtree")
        _build(subtree, segments)
        if content == "config":
            operation = etree.Element(_NC + "get-config")
            etree.SubElement(etree.SubElement(operation, _NC + "source"), _NC + "running")
        else:
            operation = etree.Element(_NC + "get")
        operation.append(subtree)
        reply, name = self._run(operation, request)
        data = reply.find(_NC + "data")
        found = _find(data, segments) if data is not None else []
        if not found:
            raise _HttpError(404, "application", "invalid-value", "uri keypath not found")
        return web.json_response(rj.nodes_to_json(found, _path(segments)), content_type=MEDIA_TYPE), name

    def _edit(self, segments: list[rj.Segment], operation: str, document: dict[str, Any] | None,
              request: str) -> tuple[web.Response, str]:
        existed = operation == "replace" and self._exists(segments)
        config = etree.Element(_NC + "config", nsmap={None: ns.NETCONF_BASE})
        if operation == "merge" and len(segments) > 1 and not self._exists(segments):
            raise _HttpError(404, "application", "invalid-value", "uri keypath not found; PATCH cannot create a resource")
        if operation == "delete" and not self._exists(segments):
            raise _HttpError(404, "application", "invalid-value", "uri keypath not found")
        if operation == "delete":
            target = _build(config, segments)
        else:
            assert document is not None
            parent_segments = segments if operation == "create" else segments[:-1]
            parent = _build(config, parent_segments)
            try:
                rj.from_json(document, parent)
            except ValueError as error:
                raise _HttpError(400, "protocol", "malformed-message", str(error)) from None
            added = [child for child in parent if isinstance(child.tag, str) and etree.QName(child).localname not in
                     {key for segment in parent_segments[-1:] for key, _ in segment.keys}]
            if len(added) != 1:
                raise _HttpError(400, "protocol", "invalid-value", "the body must hold exactly one node: the target resource")
            target = added[0]
            if operation != "create":
                self._check_target(target, segments[-1])
        if operation != "merge":
            target.set(_NC + "operation", operation)
        edit = etree.Element(_NC + "edit-config")
        etree.SubElement(etree.SubElement(edit, _NC + "target"), _NC + "running")
        etree.SubElement(edit, _NC + "error-option").text = "rollback-on-error"
        edit.append(config)
        _, name = self._run(edit, request)
        if operation == "create":
            return web.Response(status=201), name
        if operation == "replace" and not existed:
            return web.Response(status=201), name
        return web.Response(status=204), name

    def _check_target(self, element: etree._Element, segment: rj.Segment) -> None:
        qname = etree.QName(element)
        if (qname.namespace, qname.localname) != (segment.namespace, segment.name):
            raise _HttpError(400, "protocol", "invalid-value", f"the body names {qname.localname}, the URI {segment.name}")
        for key, value in segment.keys:
            if element.findtext(f"{{{segment.namespace}}}{key}") != value:
                raise _HttpError(400, "protocol", "invalid-value", f"the key {key} in the body differs from the URI")

    def _exists(self, segments: list[rj.Segment]) -> bool:
        with self.state.lock:
            return bool(_find(self.state.visible("running"), segments))

    # /restconf/operations

    def _operation(self, name: str, body: bytes) -> tuple[web.Response, str]:
        request = f"POST /restconf/operations/{name}"
        module, _, local = name.partition(":")
        if not module or not local:
            raise _HttpError(400, "protocol", "invalid-value", f"operation {name} lacks its module name")
        namespace = rj.namespace_of(module)
        operation = etree.Element(f"{{{namespace}}}{local}", nsmap={None: namespace})
        if body.strip():
            document = self._decode(body)
            content = document.get(f"{module}:input")
            if len(document) != 1 or not isinstance(content, dict):
                raise _HttpError(400, "protocol", "malformed-message", f"the body must be {{\"{module}:input\": {{...}}}}")
            try:
                rj.from_json(content, operation)
            except ValueError as error:
                raise _HttpError(400, "protocol", "malformed-message", str(error)) from None
        try:
            reply, operation_name = self._run(operation, request)
        except _ReplyError as error:
            return error.response, error.operation
        output = [child for child in reply if isinstance(child.tag, str) and child.tag != _NC + "ok"]
        if not output:
            return web.Response(status=204), operation_name
        document = rj.output_to_json(operation, output)
        return web.json_response(document, content_type=MEDIA_TYPE), operation_name


class _ReplyError(Exception):
    """An rpc-error from the shared handlers, as the RESTCONF error reply to send."""

    def __init__(self, response: web.Response, operation: str) -> None:
        super().__init__(operation)
        self.response = response
        self.operation = operation


async def start_restconf(lab: LabServer, port: int = 0) -> RestconfServer:
    """Serve RESTCONF for a started lab device on ``port`` and point its inventory at it.

    The inventory then names the device over RESTCONF, with the lab's CA as ``ca_bundle``.
    """
    tls = restconf_tls.load_or_create(lab.files, lab.name)
    server = RestconfServer(lab.state, tls, lab.username, lambda: lab.password, lab.host, port, lab.faults)
    await server.start()
    lab.inventory_path = lab.files.write_inventory(lab.host, server.port, lab.username, lab.name,
                                                   ca_bundle=restconf_tls.CA_FILE)
    return server
