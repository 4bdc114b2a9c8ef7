"""RFC 6241 edit-config semantics over an lxml configuration tree.

A datastore is a ``<data>`` element in the NETCONF base namespace whose children are the
top-level nodes (``native``). ``apply_edit`` changes a tree in place, so callers edit a copy
and keep it only when the whole edit succeeded: that gives the all-or-nothing outcome of
``rollback-on-error``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from payloads import namespaces as ns
from provisioner.lab.errors import RpcError, unknown_element
from provisioner.lab.schema import SchemaNode

_NC = f"{{{ns.NETCONF_BASE}}}"
OPERATION_ATTR = _NC + "operation"
_OPERATIONS = ("merge", "replace", "create", "delete", "remove")
DEFAULT_OPERATIONS = ("merge", "replace", "none")

_APPLET_NAMES = etree.XPath(
    "descendant-or-self::eem:applet/eem:name/text()", namespaces={"eem": ns.EEM}
)


@dataclass
class EditResult:
    """Side effects of an edit beyond the tree change itself.

    Attributes:
        reset_applets: Names of applets that were deleted, removed or replaced (directly or
            through an ancestor). Their CLI-only actions go with them on commit.
    """

    reset_applets: set[str] = field(default_factory=set)


def make_element(tag: str) -> etree._Element:
    """Create an element that declares its namespace as the default one, so replies read
    ``<manager xmlns="...">`` rather than with generated ``ns0:`` prefixes."""
    return etree.Element(tag, nsmap={None: etree.QName(tag).namespace})


def add_child(parent: etree._Element, tag: str) -> etree._Element:
    """Append a new element to ``parent`` (see ``make_element``)."""
    return etree.SubElement(parent, tag, nsmap={None: etree.QName(tag).namespace})


def new_datastore() -> etree._Element:
    """Create an empty datastore: a ``<data>`` element with an empty ``<native>``."""
    data = etree.Element(_NC + "data", nsmap={None: ns.NETCONF_BASE})
    etree.SubElement(data, f"{{{ns.NATIVE}}}native", nsmap={None: ns.NATIVE})
    return data


def root_schema(native: SchemaNode) -> SchemaNode:
    """Wrap the ``/native`` allowlist in a node standing for ``<config>``/``<data>``."""
    return SchemaNode("config", ns.NETCONF_BASE, "container", children=(native,))


def apply_edit(
    target: etree._Element,
    config: etree._Element,
    schema: SchemaNode,
    default_operation: str = "merge",
) -> EditResult:
    """Apply the children of ``<config>`` to ``target`` in place.

    Args:
        target: Datastore root (``<data>``).
        config: The ``<config>`` element of an edit-config.
        schema: Result of ``root_schema``.
        default_operation: ``merge``, ``replace`` or ``none``.

    Raises:
        RpcError: On the first failure. ``target`` may then be partly changed.
    """
    result = EditResult()
    if default_operation == "replace":
        # RFC 6241: default-operation replace makes <config> replace the whole datastore.
        for child in list(target):
            result.reset_applets.update(_APPLET_NAMES(child))
            target.remove(child)
        _edit_children(config, target, schema, "merge", "", result)
    else:
        _edit_children(config, target, schema, default_operation, "", result)
    prune_empty(target, schema)
    return result


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _qname(element: etree._Element) -> tuple[str, str]:
    qname = etree.QName(element)
    return qname.namespace or "", qname.localname


def _schema_child(schema: SchemaNode, element: etree._Element, parent_path: str) -> SchemaNode:
    namespace, name = _qname(element)
    node = schema.child(namespace, name)
    if node is None:
        path = f"{parent_path}/{name}"
        raise unknown_element(
            name, path, f"{path} is not a supported configuration node on this device"
            f" (namespace {namespace or 'none'})"
        )
    return node


def _key_values(element: etree._Element, node: SchemaNode, path: str) -> list[str]:
    values = []
    for key in node.keys:
        key_element = element.find(f"{{{node.namespace}}}{key}")
        if key_element is None or not (key_element.text or "").strip():
            raise RpcError(
                "protocol", "missing-element",
                f"list entry {path} lacks its key leaf {key!r}",
                path, [("bad-element", key)],
            )
        values.append((key_element.text or "").strip())
    return values


def _node_path(parent_path: str, element: etree._Element, node: SchemaNode) -> str:
    if node.kind != "list":
        return f"{parent_path}/{node.name}"
    predicates = []
    for key in node.keys:
        key_element = element.find(f"{{{node.namespace}}}{key}")
        value = (key_element.text or "").strip() if key_element is not None else ""
        predicates.append(f"[{key}='{value}']")
    return f"{parent_path}/{node.name}{''.join(predicates)}"


def find_match(
    parent: etree._Element, element: etree._Element, node: SchemaNode, path: str
) -> etree._Element | None:
    """Find the node in ``parent`` that ``element`` addresses: by key, by value or by name."""
    candidates = parent.findall(node.qname)
    if node.kind == "list":
        wanted = _key_values(element, node, path)
        for candidate in candidates:
            values = [
                (candidate.findtext(f"{{{node.namespace}}}{key}") or "").strip()
                for key in node.keys
            ]
            if values == wanted:
                return candidate
        return None
    if node.kind == "leaf-list":
        value = (element.text or "").strip()
        for candidate in candidates:
            if (candidate.text or "").strip() == value:
                return candidate
        return None
    return candidates[0] if candidates else None


def _operation(element: etree._Element, inherited: str, path: str) -> str:
    operation = element.get(OPERATION_ATTR)
    if operation is None:
        return inherited
    if operation not in _OPERATIONS:
        raise RpcError(
            "protocol", "bad-attribute",
            f"invalid operation {operation!r} at {path}; expected one of {', '.join(_OPERATIONS)}",
            path, [("bad-attribute", "operation"), ("bad-element", etree.QName(element).localname)],
        )
    return str(operation)


def _has_operation(element: etree._Element) -> bool:
    return any(
        isinstance(child.tag, str) and child.get(OPERATION_ATTR) is not None
        for child in element.iter()
    )


def _drop_other_cases(parent: etree._Element, node: SchemaNode, parent_schema: SchemaNode) -> None:
    """Remove the nodes of the other cases of ``node``'s choice, as YANG choice semantics ask."""
    if node.case is None:
        return
    choice, case = node.case
    for sibling_schema in parent_schema.children:
        if sibling_schema.case is None or sibling_schema.case[0] != choice:
            continue
        if sibling_schema.case[1] == case:
            continue
        for sibling in parent.findall(sibling_schema.qname):
            parent.remove(sibling)


def _clean_copy(element: etree._Element, node: SchemaNode, path: str) -> etree._Element | None:
    """Copy an edit subtree into datastore form: checked against the allowlist, no operation
    attributes, and without the children marked delete or remove."""
    if element.get(OPERATION_ATTR) in ("delete", "remove"):
        return None
    _operation(element, "merge", path)
    new = make_element(node.qname)
    if node.is_leaf:
        if _elements(element):
            child = _elements(element)[0]
            name = etree.QName(child).localname
            raise unknown_element(name, f"{path}/{name}", f"{path} is a leaf and has no children")
        new.text = element.text
        return new
    if node.kind == "list":
        _key_values(element, node, path)
    for child in _elements(element):
        child_node = _schema_child(node, child, path)
        child_path = _node_path(path, child, child_node)
        child_copy = _clean_copy(child, child_node, child_path)
        if child_copy is not None:
            new.append(child_copy)
    return new


def _new_entry(element: etree._Element, node: SchemaNode) -> etree._Element:
    new = make_element(node.qname)
    for key in node.keys:
        key_element = add_child(new, f"{{{node.namespace}}}{key}")
        key_element.text = (element.findtext(f"{{{node.namespace}}}{key}") or "").strip()
    return new


def _edit_children(
    edit_parent: etree._Element,
    target_parent: etree._Element,
    schema: SchemaNode,
    inherited: str,
    parent_path: str,
    result: EditResult,
) -> None:
    for element in _elements(edit_parent):
        node = _schema_child(schema, element, parent_path)
        path = _node_path(parent_path, element, node)
        if schema.kind == "list" and node.name in schema.keys:
            # Key leaves identify the entry; they were matched by the caller.
            continue
        operation = _operation(element, inherited, path)
        existing = find_match(target_parent, element, node, path)

        if operation == "create" and existing is not None:
            raise RpcError("application", "data-exists",
                           f"{path} already exists, so it cannot be created", path)
        if operation == "delete" and existing is None:
            raise RpcError("application", "data-missing",
                           f"{path} does not exist, so it cannot be deleted", path)

        if operation in ("delete", "remove"):
            if existing is not None:
                result.reset_applets.update(_APPLET_NAMES(existing))
                target_parent.remove(existing)
            continue

        if operation in ("replace", "create"):
            new = _clean_copy(element, node, path)
            if new is None:
                continue
            _drop_other_cases(target_parent, node, schema)
            if existing is not None:
                result.reset_applets.update(_APPLET_NAMES(existing))
                target_parent.replace(existing, new)
            else:
                target_parent.append(new)
            continue

        missing_under_none = operation == "none" and existing is None
        if missing_under_none and (node.is_leaf or not _has_operation(element)):
            raise RpcError(
                "application", "data-missing",
                f"{path} does not exist and default-operation is none", path,
            )

        if operation == "merge":
            _drop_other_cases(target_parent, node, schema)

        if node.is_leaf:
            if operation != "merge":
                continue
            if _elements(element):
                name = etree.QName(_elements(element)[0]).localname
                raise unknown_element(name, f"{path}/{name}",
                                      f"{path} is a leaf and has no children")
            if existing is None:
                existing = add_child(target_parent, node.qname)
                existing.text = element.text
            elif node.kind == "leaf":
                existing.text = element.text
            continue

        if existing is None:
            existing = _new_entry(element, node)
            target_parent.append(existing)
        _edit_children(element, existing, node, operation, path, result)


def prune_empty(target: etree._Element, schema: SchemaNode) -> None:
    """Remove non-presence containers left without children, as a NETCONF server reports
    none of them."""
    for element in _elements(target):
        namespace, name = _qname(element)
        node = schema.child(namespace, name)
        if node is None or node.is_leaf:
            continue
        prune_empty(element, node)
        is_native_root = node.name == "native" and node.namespace == ns.NATIVE
        if node.kind == "container" and not _elements(element) and not is_native_root:
            target.remove(element)


def copy_datastore(data: etree._Element) -> etree._Element:
    """Return a deep copy of a datastore tree."""
    return copy.deepcopy(data)


def canonical(data: etree._Element) -> bytes:
    """Serialise a datastore for equality checks (C14N ignores namespace prefix choices)."""
    return bytes(etree.tostring(data, method="c14n"))
