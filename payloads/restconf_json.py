"""RESTCONF bodies (RFC 8040, JSON encoding of RFC 7951) to and from the XML the engine speaks.

The engine builds NETCONF XML: ``<config>`` edits with ``nc:operation`` attributes, subtree
filters and RPC bodies, and reads ``<data>`` trees. This module turns them into RESTCONF
requests and turns RESTCONF replies back into the same XML, so the engine works unchanged
over either transport. Everything here is pure: no I/O.

RFC 7951 needs schema knowledge that XML does not carry. A list entry is always inside a JSON
array, unlike a container. Leaf-lists are arrays, an ``empty`` leaf is ``[null]``, and a
decimal64 is a JSON string while a uint32 is a number. ``SCHEMA`` is a compact table of
the nodes this project renders, filters or reads, checked against Cisco's YANG for IOS XE
17.12 and 17.18 by the test suite. JSON to XML needs only the module names, because JSON
shows arrays, objects and ``[null]`` itself.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from lxml import etree

from payloads import namespaces as ns

NodeKind = Literal["container", "presence", "list", "leaf", "leaf-list"]
# string: a JSON string (also enumerations, and identityrefs, which this table does not have).
# number: uint8..uint32 and int8..int32, a JSON number. decimal64 and 64-bit integers are
# JSON strings (RFC 7951 section 6.1), so they are "string" here too.
# empty: the YANG type empty, written [null]. number-or-string: a union of an integer and an
# enumeration, a number when the value is an integer.
LeafType = Literal["string", "number", "empty", "number-or-string"]

RESTCONF_ERRORS = "urn:ietf:params:xml:ns:yang:ietf-restconf"
RESTCONF_MONITORING = "urn:ietf:params:xml:ns:yang:ietf-restconf-monitoring"

# XML namespace -> YANG module name, for the modules this project reads or writes.
MODULES: dict[str, str] = {
    ns.NATIVE: "Cisco-IOS-XE-native",
    ns.EEM: "Cisco-IOS-XE-eem",
    ns.CRYPTO: "Cisco-IOS-XE-crypto",
    ns.CLI_RPC: "Cisco-IOS-XE-cli-rpc",
    ns.CISCO_IA: "cisco-ia",
    ns.PKI_OPER: "Cisco-IOS-XE-crypto-pki-oper",
    ns.YANG_LIBRARY: "ietf-yang-library",
    ns.NETCONF_MONITORING: "ietf-netconf-monitoring",
    RESTCONF_ERRORS: "ietf-restconf",
    RESTCONF_MONITORING: "ietf-restconf-monitoring",
    "urn:ietf:params:xml:ns:yang:ietf-datastores": "ietf-datastores",
}
NAMESPACES: dict[str, str] = {module: namespace for namespace, module in MODULES.items()}

# A module this table does not list gets a namespace made from its name, so that its nodes
# survive a JSON -> XML -> JSON round trip (a restore writes back what a read returned).
_UNKNOWN_MODULE_PREFIX = "urn:x-restconf-module:"

_NC = f"{{{ns.NETCONF_BASE}}}"
OPERATION = _NC + "operation"


@dataclass(frozen=True)
class Node:
    """One schema node: its kind, leaf type, list keys and children, all in one namespace
    unless a child names its own."""

    name: str
    kind: NodeKind
    namespace: str = ""
    leaf_type: LeafType = "string"
    keys: tuple[str, ...] = ()
    children: tuple[Node, ...] = ()
    _index: dict[str, Node] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for child in self.children:
            self._index[child.name] = child

    def child(self, name: str) -> Node | None:
        """Return the child schema node with this local name, or None."""
        return self._index.get(name)


def _c(name: str, *children: Node, namespace: str = "") -> Node:
    return Node(name, "container", namespace, children=children)


def _p(name: str, *children: Node) -> Node:
    return Node(name, "presence", children=children)


def _l(name: str, keys: tuple[str, ...], *children: Node, namespace: str = "") -> Node:
    key_leaves = tuple(Node(key, "leaf") for key in keys if not any(child.name == key for child in children))
    return Node(name, "list", namespace, keys=keys, children=key_leaves + children)


def _s(*names: str) -> tuple[Node, ...]:
    return tuple(Node(name, "leaf") for name in names)


def _n(*names: str) -> tuple[Node, ...]:
    return tuple(Node(name, "leaf", leaf_type="number") for name in names)


def _e(*names: str) -> tuple[Node, ...]:
    return tuple(Node(name, "leaf", leaf_type="empty") for name in names)


def _timing() -> tuple[Node, ...]:
    # uint32 up to IOS XE 17.12 (deprecated later); the decimal64 *-set twins from 17.13.
    return (*_n("maxrun", "ratelimit"), *_s("maxrun-set", "ratelimit-set"))


def _timer() -> tuple[Node, ...]:
    return (*_s("name", "time-set"), *_n("time"), *_timing())


def _event() -> Node:
    return _c(
        "event",
        _p("none-choice", *_n("default"), *_s("sync"), *_timing()),
        _p("none", *_n("default"), *_s("sync"), *_timing()),
        _c("syslog-choice", *_s("pattern", "period-set"), *_n("occurs", "period"), *_timing()),
        _c("track-choice", *_n("track-object-number"), *_s("state"), *_timing()),
        _c("timer-choice", _c("cron", *_s("cron-entry", "name"), *_timing()),
           _c("watchdog", *_timer()), _c("countdown", *_timer()), _c("absolute", *_timer())),
        _c("ipsla", *_s("group-name", "reaction-type"), *_timing()),
        _c("routing", *_s("network", "type"), *_timing()),
        _c("cli", *_s("pattern", "sync", "skip")),
    )


def _action() -> Node:
    return _l(
        "action", ("name",),
        _c("cli-choice", *_s("command")),
        _c("syslog-option", *_s("msg", "facility"), Node("priority", "leaf", leaf_type="number-or-string")),
        _c("regexp-option", *_s("string-pattern", "string-input", "string-match", "string-submatch1",
                                "string-submatch2", "string-submatch3")),
        _c("if", *_s("string-op-1", "keyword", "string-op-2", "goto")),
        _c("elseif", *_s("operand1", "operation", "operand2")),
        _c("while", *_s("operand1", "operation", "operand2")),
        *(_c(verb, *_s("varname", "value")) for verb in ("set", "increment", "decrement", "append")),
        _c("foreach", *_s("loopvar", "iterator", "delimiter")),
        _p("snmp-trap", *_n("intdata1", "intdata2"), *_s("strdata")),
        _c("string", *_s("trim")),
        _c("context", _c("save", *_s("key", "variable")), _c("retrieve", *_s("key", "variable"))),
        *_e("else", "break", "continue", "end", "exit", "reload"),
        *_n("wait"),
        *_s("gets", "puts"),
    )


def _trustpoint() -> Node:
    terminal = _p("terminal", *_e("pem"))
    return _l(
        "trustpoint", ("id",),
        _c("enrollment", _c("enrollment-method", terminal, *_e("selfsigned", "pkcs12")), terminal),
        Node("revocation-check", "leaf-list"),
        # `continue` is a string here (a chain depth), unlike the empty action leaf `continue`.
        _c("chain-validation", *_e("stop"), *_s("continue")),
        _c("rsakeypair", *_s("key-label"), *_n("gen-key", "encrypt-key")),
        *_s("subject-name", "usage", "hash"),
    )


def _native() -> Node:
    manager = _c(
        "manager",
        _l("environment", ("name",), *_s("value")),
        _l("applet", ("name",), *_s("description", "authorization", "class"), *_e("trap"), _event(),
           _c("action-config", _action()), _action()),
        namespace=ns.EEM,
    )
    pki = _c(
        "pki",
        _trustpoint(),
        _c("certificate", _l("chain", ("name",), _l("certificate", ("serial",), *_s("certtype")))),
        namespace=ns.CRYPTO,
    )
    return _c("native", _c("event", manager), _c("crypto", pki), namespace=ns.NATIVE)


def _rpc_inputs() -> tuple[Node, ...]:
    cli = _c(
        "config-ios-cli-rpc", *_s("config-clis"), *_n("timeout"),
        _l("error-patterns", ("error-tag",), *_s("error-pattern")),
        namespace=ns.CLI_RPC,
    )
    cisco_ia = tuple(_c(name, namespace=ns.CISCO_IA) for name in ("is-syncing", "save-config", "sync-from"))
    return (cli, *cisco_ia)


def _read_only() -> tuple[Node, ...]:
    """Return the lists of the operational data this project reads, for their keys in URIs."""
    oper = _c("crypto-pki-oper-data", _l("crypto-pki-bundle", ("label",)), namespace=ns.PKI_OPER)
    library = _c(
        "yang-library",
        _l("module-set", ("name",), _l("module", ("name",))),
        namespace=ns.YANG_LIBRARY,
    )
    return (oper, library)


def _rebase(node: Node, namespace: str) -> Node:
    own = node.namespace or namespace
    return Node(node.name, node.kind, own, node.leaf_type, node.keys, tuple(_rebase(child, own) for child in node.children))


# Top-level nodes by (namespace, name): configuration, RPC inputs and read-only data.
SCHEMA: dict[tuple[str, str], Node] = {
    (node.namespace, node.name): _rebase(node, node.namespace)
    for node in (_native(), *_rpc_inputs(), *_read_only())
}


# Names and namespaces


def module_of(namespace: str) -> str:
    """Return the YANG module name for an XML namespace.

    A namespace outside ``MODULES`` that came from ``namespace_of`` maps back to its module; any
    other raises ValueError, because RFC 7951 names nodes by module, not by namespace.
    """
    if namespace in MODULES:
        return MODULES[namespace]
    if namespace.startswith(_UNKNOWN_MODULE_PREFIX):
        return namespace.removeprefix(_UNKNOWN_MODULE_PREFIX)
    raise ValueError(f"no YANG module name is known for the XML namespace {namespace}")


def namespace_of(module: str) -> str:
    """Return the XML namespace for a YANG module name (a made-up one for modules not listed)."""
    return NAMESPACES.get(module, _UNKNOWN_MODULE_PREFIX + module)


def _split_member(member: str, inherited: str | None) -> tuple[str, str]:
    """Split a JSON member name into (namespace, local name); an unqualified one inherits."""
    if ":" in member:
        module, name = member.split(":", 1)
        return namespace_of(module), name
    if inherited is None:
        raise ValueError(f"top-level JSON member {member!r} lacks its module name (RFC 7951 section 4)")
    return inherited, member


def _qname(element: etree._Element) -> tuple[str, str]:
    qname = etree.QName(element)
    return qname.namespace or "", qname.localname


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _member(element: etree._Element, parent_namespace: str | None) -> str:
    namespace, name = _qname(element)
    return name if namespace == parent_namespace else f"{module_of(namespace)}:{name}"


# XML -> JSON


def schema_node(path: list[tuple[str, str]]) -> Node | None:
    """Return the schema node at a path of (namespace, local name) pairs from the top, or None."""
    if not path:
        return None
    node = SCHEMA.get(path[0])
    for namespace, name in path[1:]:
        if node is None:
            return None
        child = node.child(name)
        node = child if child is not None and child.namespace == namespace else None
    return node


def _guess(element: etree._Element, siblings: int) -> Node:
    """Infer a node the table lacks from the XML alone.

    NOTE: a guess is wrong for a list with a single entry (written as a container) and for a
    one-value leaf-list; the device then rejects the body. The table covers what this
    project renders, so only unknown nodes read back from a device reach this.
    """
    namespace, name = _qname(element)
    if _elements(element):
        return Node(name, "list" if siblings > 1 else "container", namespace)
    if element.text is None:
        return Node(name, "leaf", namespace, leaf_type="empty")
    return Node(name, "leaf-list" if siblings > 1 else "leaf", namespace)


def _scalar(text: str, leaf_type: LeafType) -> Any:
    if leaf_type == "empty":
        return [None]
    stripped = text.strip()
    if leaf_type in ("number", "number-or-string") and re.fullmatch(r"[+-]?\d+", stripped):
        return int(stripped)
    return text


def _value(element: etree._Element, node: Node) -> Any:
    if node.kind == "leaf":
        return _scalar(element.text or "", node.leaf_type)
    if node.kind == "leaf-list":
        return _scalar(element.text or "", node.leaf_type)
    return _object(element, node)


def _object(element: etree._Element, node: Node | None) -> dict[str, Any]:
    """Convert the children of a container or list entry into a JSON object."""
    namespace = _qname(element)[0]
    grouped: dict[tuple[str, str], list[etree._Element]] = {}
    for child in _elements(element):
        if child.get(OPERATION) in ("delete", "remove"):
            continue
        grouped.setdefault(_qname(child), []).append(child)
    result: dict[str, Any] = {}
    for (child_namespace, name), children in grouped.items():
        child_node = node.child(name) if node is not None else None
        if child_node is None or child_node.namespace != child_namespace:
            child_node = _guess(children[0], len(children))
        member = _member(children[0], namespace)
        if child_node.kind in ("list", "leaf-list"):
            result[member] = [_value(child, child_node) for child in children]
        else:
            result[member] = _value(children[-1], child_node)
    return result


def to_json(element: etree._Element, path: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Convert one data node (a container, list entry or leaf) into an RFC 7951 body.

    The body is the one RESTCONF expects for a resource: ``{"module:name": value}``, where a
    list entry is an array of one object. Children marked ``nc:operation`` delete or remove
    are left out, as NETCONF leaves them out of a replace.

    Args:
        element: the node.
        path: (namespace, name) pairs from the top-level node down to ``element``; by default
            the element's ancestors.
    """
    if path is None:
        path = [_qname(item) for item in reversed(list(element.iterancestors())) if _qname(item)[0] != ns.NETCONF_BASE]
        path.append(_qname(element))
    node = schema_node(path) or _guess(element, 1)
    member = f"{module_of(_qname(element)[0])}:{_qname(element)[1]}"
    value = _value(element, node)
    return {member: [value] if node.kind in ("list", "leaf-list") else value}


def nodes_to_json(elements: list[etree._Element], path: list[tuple[str, str]]) -> dict[str, Any]:
    """Convert the instances of one node (the entries of a list, or one container or leaf) into
    the body of a GET reply for that node. ``path`` leads from the top-level node to them."""
    node = schema_node(path) or _guess(elements[0], len(elements))
    member = f"{module_of(path[-1][0])}:{path[-1][1]}"
    if node.kind in ("list", "leaf-list"):
        return {member: [_value(element, node) for element in elements]}
    return {member: _value(elements[-1], node)}


def output_to_json(operation: etree._Element, output: list[etree._Element]) -> dict[str, Any]:
    """Convert the children of an ``<rpc-reply>`` into the RFC 8040 output of the RPC."""
    holder = etree.Element(operation.tag, nsmap={None: _qname(operation)[0]})
    for element in output:
        holder.append(copy.deepcopy(element))
    return {f"{module_of(_qname(operation)[0])}:output": _object(holder, None)}


def rpc_input(body: etree._Element) -> dict[str, Any] | None:
    """Convert an RPC body (the operation element) into its RFC 8040 input, or None without input."""
    node = SCHEMA.get(_qname(body))
    content = _object(body, node)
    if not content:
        return None
    return {f"{module_of(_qname(body)[0])}:input": content}


# JSON -> XML


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _append_value(parent: etree._Element, namespace: str, name: str, value: Any) -> None:
    tag = f"{{{namespace}}}{name}"
    nsmap = {None: namespace} if namespace != _qname(parent)[0] else None
    if isinstance(value, list):
        if value == [None]:
            etree.SubElement(parent, tag, nsmap=nsmap)
            return
        for item in value:
            _append_value(parent, namespace, name, item)
        return
    child = etree.SubElement(parent, tag, nsmap=nsmap)
    if isinstance(value, dict):
        from_json(value, child)
    elif value is not None:
        child.text = _text(value)


def from_json(document: dict[str, Any], parent: etree._Element) -> etree._Element:
    """Append the nodes of an RFC 7951 object under ``parent`` as XML; return ``parent``.

    Arrays of objects become list entries, arrays of values leaf-list entries, ``[null]`` an
    empty leaf and ``{}`` an empty (presence) container.

    Raises:
        ValueError: a top-level member lacks its module name, or the document is not an object.
    """
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {type(document).__name__}")
    parent_namespace = _qname(parent)[0]
    inherited = None if parent_namespace in ("", ns.NETCONF_BASE) else parent_namespace
    for member, value in document.items():
        namespace, name = _split_member(member, inherited)
        _append_value(parent, namespace, name, value)
    return parent


# Resources: paths in URIs


@dataclass(frozen=True)
class Segment:
    """One step of a RESTCONF resource path: a node and, for a list entry, its key values."""

    namespace: str
    name: str
    keys: tuple[tuple[str, str], ...] = ()


def api_path(segments: tuple[Segment, ...] | list[Segment]) -> str:
    """Return the RFC 8040 ``api-path`` for the segments: module names where the namespace
    changes, key values percent-encoded and joined with commas (section 3.5.3)."""
    parts = []
    previous = None
    for segment in segments:
        name = segment.name if segment.namespace == previous else f"{module_of(segment.namespace)}:{segment.name}"
        if segment.keys:
            name += "=" + ",".join(quote(value, safe="") for _, value in segment.keys)
        parts.append(name)
        previous = segment.namespace
    return "/".join(parts)


def _key_values(element: etree._Element, node: Node) -> tuple[tuple[str, str], ...]:
    namespace = _qname(element)[0]
    values = []
    for key in node.keys:
        text = element.findtext(f"{{{namespace}}}{key}")
        if text is None:
            raise ValueError(f"list entry {node.name} lacks its key {key}, so it has no RESTCONF resource path")
        values.append((key, text.strip()))
    return tuple(values)


def _segment(element: etree._Element, node: Node | None) -> Segment:
    namespace, name = _qname(element)
    keys = _key_values(element, node) if node is not None and node.kind == "list" else ()
    return Segment(namespace, name, keys)


# Edits


@dataclass(frozen=True)
class JsonEdit:
    """One RESTCONF request of an edit.

    Attributes:
        method: ``PATCH`` (merge), ``PUT`` (replace or create), ``POST`` (create) or ``DELETE``.
        segments: the target resource; for POST, the parent the new node goes under.
        body: the RFC 7951 body, or None for DELETE.
        missing_ok: for DELETE, a missing resource is no error (NETCONF ``remove``).
    """

    method: Literal["PATCH", "PUT", "POST", "DELETE"]
    segments: tuple[Segment, ...]
    body: dict[str, Any] | None = None
    missing_ok: bool = False

    @property
    def path(self) -> str:
        """The api-path of the target resource."""
        return api_path(self.segments)


def _walk_operations(element: etree._Element, path: list[tuple[str, str]], segments: list[Segment]) -> Iterator[JsonEdit]:
    node = schema_node(path)
    target = [*segments, _segment(element, node)]
    operation = element.get(OPERATION)
    if operation == "replace":
        yield JsonEdit("PUT", tuple(target), to_json(element, path))
        return
    if operation == "create":
        yield JsonEdit("POST", tuple(segments), to_json(element, path))
        return
    if operation in ("delete", "remove"):
        yield JsonEdit("DELETE", tuple(target), missing_ok=operation == "remove")
        return
    if operation not in (None, "merge", "none"):
        raise ValueError(f"unknown NETCONF operation {operation!r} at {api_path(target)}")
    for child in _elements(element):
        if node is not None and node.kind == "list" and _qname(child)[1] in node.keys:
            continue
        yield from _walk_operations(child, [*path, _qname(child)], target)


def _merged_part(element: etree._Element) -> etree._Element | None:
    """Return a copy of ``element`` without the subtrees that carry an operation other than
    merge, or None when nothing to merge is left."""
    operation = element.get(OPERATION)
    if operation is not None and operation not in ("merge", "none"):
        return None
    children = _elements(element)
    merged_children = [part for part in (_merged_part(child) for child in children) if part is not None]
    if children and not any(_qname(part)[1] not in _key_names(element) for part in merged_children):
        return None
    new = etree.Element(element.tag, nsmap=element.nsmap)
    new.text = element.text
    for part in merged_children:
        new.append(part)
    return new


def _key_names(element: etree._Element) -> set[str]:
    path = [_qname(item) for item in reversed(list(element.iterancestors())) if _qname(item)[0] != ns.NETCONF_BASE]
    node = schema_node([*path, _qname(element)])
    return set(node.keys) if node is not None else set()


def edit_requests(config: etree._Element) -> list[JsonEdit]:
    """Translate a NETCONF ``<config>`` into RESTCONF requests, in the order to send them.

    Merged content (no operation, or ``merge``) becomes one PATCH per top-level node; each
    subtree marked ``replace`` a PUT of that resource, ``create`` a POST to its parent, and
    ``delete`` or ``remove`` a DELETE (``remove`` tolerates a missing resource).

    Raises:
        ValueError: a list entry lacks a key, or an operation is unknown.
    """
    requests: list[JsonEdit] = []
    for top in _elements(config):
        merged = _merged_part(top)
        if merged is not None:
            requests.append(JsonEdit("PATCH", (Segment(*_qname(top)),), to_json(merged, [_qname(top)])))
        requests.extend(_walk_operations(top, [_qname(top)], []))
    return requests


# Filters and replies


@dataclass(frozen=True)
class Resource:
    """A resource to GET for a subtree filter, and where its reply goes in the ``<data>`` tree."""

    segments: tuple[Segment, ...]

    @property
    def path(self) -> str:
        """The api-path of the resource."""
        return api_path(self.segments)


def _is_content_match(element: etree._Element) -> bool:
    return not _elements(element) and bool((element.text or "").strip())


def _filter_walk(element: etree._Element, path: list[tuple[str, str]], segments: list[Segment]) -> Iterator[Resource]:
    node = schema_node(path)
    namespace, name = _qname(element)
    children = _elements(element)
    matches = {_qname(child)[1]: (child.text or "").strip() for child in children if _is_content_match(child)}
    keys: tuple[tuple[str, str], ...] = ()
    if node is not None and node.kind == "list":
        if all(key in matches for key in node.keys):
            keys = tuple((key, matches[key]) for key in node.keys)
        else:
            # Without every key RESTCONF cannot name one entry: read the whole list.
            yield Resource((*segments, Segment(namespace, name)))
            return
    elif matches:
        raise ValueError(f"the filter matches content of {name} ({', '.join(matches)}), which a RESTCONF path cannot express")
    target = [*segments, Segment(namespace, name, keys)]
    selections = [child for child in children if not _is_content_match(child)]
    if not selections:
        yield Resource(tuple(target))
        return
    for child in selections:
        yield from _filter_walk(child, [*path, _qname(child)], target)


def filter_resources(subtree_filter: etree._Element) -> list[Resource]:
    """Return the resources to GET for a ``<filter type="subtree">``, without duplicates.

    Containment and selection nodes become path steps; content matches on every key of a list
    select one entry. A list named without all its keys is read whole, which returns more than
    the filter requests.

    Raises:
        ValueError: the filter matches content of a node that is not a list key.
    """
    resources: list[Resource] = []
    for top in _elements(subtree_filter):
        for resource in _filter_walk(top, [_qname(top)], []):
            if resource not in resources:
                resources.append(resource)
    return resources


def _find_or_add(parent: etree._Element, segment: Segment) -> etree._Element:
    tag = f"{{{segment.namespace}}}{segment.name}"
    for child in parent.findall(tag):
        if all(child.findtext(f"{{{segment.namespace}}}{key}") == value for key, value in segment.keys):
            return child
    nsmap = {None: segment.namespace} if segment.namespace != _qname(parent)[0] else None
    child = etree.SubElement(parent, tag, nsmap=nsmap)
    for key, value in segment.keys:
        etree.SubElement(child, f"{{{segment.namespace}}}{key}").text = value
    return child


def _merge_into(parent: etree._Element, element: etree._Element) -> None:
    """Add ``element`` under ``parent``, merging into an equal container or list entry already there."""
    namespace, name = _qname(element)
    path = [_qname(item) for item in reversed([parent, *parent.iterancestors()]) if _qname(item)[0] != ns.NETCONF_BASE]
    node = schema_node([*path, (namespace, name)])
    if node is not None and node.kind in ("container", "presence", "list"):
        keys = tuple((key, element.findtext(f"{{{namespace}}}{key}") or "") for key in node.keys)
        for existing in parent.findall(element.tag):
            if all(existing.findtext(f"{{{namespace}}}{key}") == value for key, value in keys):
                for child in _elements(element):
                    if node.kind == "list" and _qname(child)[1] in node.keys:
                        continue
                    _merge_into(existing, child)
                return
    parent.append(element)


def data_from_replies(replies: list[tuple[Resource, dict[str, Any] | None]]) -> etree._Element:
    """Build the ``<data>`` element that NETCONF would return from the replies to GET requests.

    Args:
        replies: each resource with its RFC 7951 reply body, or None when it does not exist.
    """
    data = etree.Element(_NC + "data", nsmap={None: ns.NETCONF_BASE})
    for resource, body in replies:
        if body is None:
            continue
        parent = data
        for segment in resource.segments[:-1]:
            parent = _find_or_add(parent, segment)
        holder = etree.Element(parent.tag, nsmap=parent.nsmap)
        from_json(body, holder)
        for element in _elements(holder):
            _merge_into(parent, element)
    return data


def rpc_reply(operation: etree._Element, body: dict[str, Any] | None) -> etree._Element:
    """Build the ``<rpc-reply>`` NETCONF would return for an RPC from its RFC 8040 output.

    Args:
        operation: the RPC body that was sent, for its namespace.
        body: ``{"module:output": {...}}``, or None for a reply without output (``<ok/>``).
    """
    reply = etree.Element(_NC + "rpc-reply", nsmap={None: ns.NETCONF_BASE})
    output = next(iter(body.values()), None) if body else None
    if not output:
        etree.SubElement(reply, _NC + "ok")
        return reply
    holder = etree.Element(operation.tag, nsmap={None: _qname(operation)[0]})
    from_json(output, holder)
    for child in _elements(holder):
        reply.append(child)
    return reply
