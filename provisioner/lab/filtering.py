"""get-config and get filters: RFC 6241 subtree filtering and XPath 1.0 filters."""

from __future__ import annotations

import copy

from lxml import etree

from payloads import namespaces as ns
from provisioner.lab.errors import RpcError, unknown_element
from provisioner.lab.schema import SchemaNode

_NC = f"{{{ns.NETCONF_BASE}}}"


class _Marks:
    """Data nodes chosen by a filter: copied whole (``full``) or only as ancestors (``partial``).

    The sets keep references to the lxml proxies, which keeps each proxy, and so its identity,
    alive while the filter runs.
    """

    def __init__(self) -> None:
        self.full: set[etree._Element] = set()
        self.partial: set[etree._Element] = set()


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _matches(filter_node: etree._Element, data_node: etree._Element) -> bool:
    """Compare names; a filter element without a namespace matches any namespace (RFC 6241
    section 6.2.1)."""
    # Compares the Clark-notation tags ("{namespace}name") as strings, because building
    # QName objects for every pair dominated the filter's cost.
    filter_tag: str = filter_node.tag
    data_tag: str = data_node.tag
    if filter_tag == data_tag:
        return True
    if filter_tag.startswith("{"):
        return False
    return data_tag.rpartition("}")[2] == filter_tag


def _schema_child(schema: SchemaNode | None, data_node: etree._Element) -> SchemaNode | None:
    if schema is None:
        return None
    qname = etree.QName(data_node)
    return schema.child(qname.namespace or "", qname.localname)


def _is_content_match(filter_node: etree._Element) -> bool:
    return not _elements(filter_node) and bool((filter_node.text or "").strip())


def _select(filter_node: etree._Element, data_node: etree._Element,
            schema: SchemaNode | None, marks: _Marks) -> bool:
    """Apply one filter node to one data node with the same name; return True if selected."""
    children = _elements(filter_node)
    if not children:
        same_text = (data_node.text or "").strip() == (filter_node.text or "").strip()
        if _is_content_match(filter_node) and not same_text:
            return False
        marks.full.add(data_node)
        return True

    content_filters = [child for child in children if _is_content_match(child)]
    other_filters = [child for child in children if not _is_content_match(child)]
    matched_content = []
    for content_filter in content_filters:
        hits = [
            data_child for data_child in _elements(data_node)
            if _matches(content_filter, data_child)
            and (data_child.text or "").strip() == (content_filter.text or "").strip()
        ]
        if not hits:
            return False
        matched_content.extend(hits)

    if not other_filters:
        marks.full.add(data_node)
        return True

    selected = False
    for child_filter in other_filters:
        for data_child in _elements(data_node):
            if _matches(child_filter, data_child):
                child_schema = _schema_child(schema, data_child)
                if _select(child_filter, data_child, child_schema, marks):
                    selected = True
    if not selected and not matched_content:
        return False

    marks.partial.add(data_node)
    marks.full.update(matched_content)
    _mark_keys(data_node, schema, marks)
    return True


def _mark_keys(data_node: etree._Element, schema: SchemaNode | None, marks: _Marks) -> None:
    # List entries always carry their keys in a reply, otherwise a client cannot tell the
    # entries apart.
    if schema is None or schema.kind != "list":
        return
    for key in schema.keys:
        key_element = data_node.find(f"{{{schema.namespace}}}{key}")
        if key_element is not None:
            marks.full.add(key_element)


def _copy_marked(data_node: etree._Element, marks: _Marks) -> etree._Element | None:
    if data_node in marks.full:
        return copy.deepcopy(data_node)
    if data_node not in marks.partial:
        return None
    new = etree.Element(data_node.tag, nsmap=data_node.nsmap)
    for child in _elements(data_node):
        child_copy = _copy_marked(child, marks)
        if child_copy is not None:
            new.append(child_copy)
    return new


def _build_reply(data: etree._Element, marks: _Marks) -> etree._Element:
    reply = etree.Element(_NC + "data", nsmap={None: ns.NETCONF_BASE})
    for child in _elements(data):
        child_copy = _copy_marked(child, marks)
        if child_copy is not None:
            reply.append(child_copy)
    return reply


def subtree_filter(data: etree._Element, filter_element: etree._Element,
                   schema: SchemaNode | None) -> etree._Element:
    """Return a new ``<data>`` with the parts of ``data`` that a subtree filter selects.

    Args:
        data: Datastore root (``<data>``) to read from.
        filter_element: The ``<filter type="subtree">`` element.
        schema: Node for the ``<data>`` level (``datastore.root_schema``), used to keep list keys;
            None for data outside the allowlist.
    """
    marks = _Marks()
    for filter_node in _elements(filter_element):
        for data_node in _elements(data):
            if _matches(filter_node, data_node):
                _select(filter_node, data_node, _schema_child(schema, data_node), marks)
    return _build_reply(data, marks)


def xpath_filter(data: etree._Element, filter_element: etree._Element,
                 schema: SchemaNode | None) -> etree._Element:
    """Return a new ``<data>`` with the nodes an XPath filter's ``select`` expression finds,
    plus their ancestors and the keys of ancestor list entries."""
    expression = filter_element.get("select")
    if not expression:
        raise RpcError("protocol", "missing-attribute", "an xpath filter needs a select attribute",
                       None, [("bad-attribute", "select"), ("bad-element", "filter")])
    namespaces = {prefix: uri for prefix, uri in filter_element.nsmap.items() if prefix}
    try:
        found = data.xpath(expression, namespaces=namespaces)
    except etree.XPathError as error:
        raise RpcError("application", "invalid-value",
                       f"invalid XPath in filter select: {error}", None) from error
    marks = _Marks()
    hits = found if isinstance(found, list) else []
    for hit in hits:
        element = hit if isinstance(hit, etree._Element) else getattr(hit, "getparent", lambda: None)()
        if element is None or element is data:
            continue
        marks.full.add(element)
        ancestor = element.getparent()
        while ancestor is not None and ancestor is not data:
            marks.partial.add(ancestor)
            ancestor = ancestor.getparent()
    _mark_ancestor_keys(data, schema, marks)
    return _build_reply(data, marks)


def _mark_ancestor_keys(parent: etree._Element, schema: SchemaNode | None, marks: _Marks) -> None:
    for child in _elements(parent):
        if child not in marks.partial:
            continue
        child_schema = _schema_child(schema, child)
        _mark_keys(child, child_schema, marks)
        _mark_ancestor_keys(child, child_schema, marks)


def apply_filter(data: etree._Element, filter_element: etree._Element | None,
                 schema: SchemaNode | None) -> etree._Element:
    """Apply a ``<filter>`` of a get or get-config, or copy everything when there is none.

    Raises:
        RpcError: The filter is not in the NETCONF base namespace (IOS XE 17.x sends
            unknown-element for that), or its type is neither subtree nor xpath.
    """
    if filter_element is None:
        reply = copy.deepcopy(data)
        return reply
    if filter_element.tag != _NC + "filter":
        name = etree.QName(filter_element).localname
        raise unknown_element(name, None, f"element {name} in namespace "
                              f"{etree.QName(filter_element).namespace} is not a NETCONF filter",
                              error_type="protocol")
    filter_type = filter_element.get("type", "subtree")
    if filter_type == "subtree":
        return subtree_filter(data, filter_element, schema)
    if filter_type == "xpath":
        return xpath_filter(data, filter_element, schema)
    raise RpcError("protocol", "bad-attribute", f"unknown filter type {filter_type!r}; "
                   "use subtree or xpath", None, [("bad-attribute", "type"),
                                                  ("bad-element", "filter")])
