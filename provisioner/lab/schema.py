"""Allowlist of the native configuration nodes that the lab device accepts in edit-config.

The allowlist is data: a tree of ``SchemaNode`` built per release. An edit that names a node
outside it gets the rpc-error an IOS XE device sends for an unknown node (unknown-element).
Only the nodes this project writes are listed, in the shapes of IOS XE 17.9/17.12 and 17.15/17.18.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from payloads import namespaces as ns

NodeKind = Literal["container", "presence", "list", "leaf", "leaf-list"]


@dataclass(frozen=True)
class SchemaNode:
    """One allowed data node.

    Attributes:
        name: Local name of the element.
        namespace: XML namespace of the element.
        kind: YANG node kind; ``presence`` is a presence container.
        keys: Key leaf names of a list, in key order.
        children: Allowed child nodes.
        case: ``(choice, case)`` when the node is the data node of a choice case. Writing a
            node of one case removes the sibling nodes of the other cases of that choice.
    """

    name: str
    namespace: str
    kind: NodeKind
    keys: tuple[str, ...] = ()
    children: tuple[SchemaNode, ...] = ()
    case: tuple[str, str] | None = None
    _index: dict[tuple[str, str], SchemaNode] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for child in self.children:
            self._index[(child.namespace, child.name)] = child

    @property
    def qname(self) -> str:
        """The element name in lxml ``{namespace}name`` form."""
        return f"{{{self.namespace}}}{self.name}"

    def child(self, namespace: str, name: str) -> SchemaNode | None:
        """Return the allowed child with this namespace and name, or None."""
        return self._index.get((namespace, name))

    @property
    def is_leaf(self) -> bool:
        """True for leaf and leaf-list nodes, which hold text rather than child elements."""
        return self.kind in ("leaf", "leaf-list")


def _rebase(node: SchemaNode, namespace: str) -> SchemaNode:
    """Give ``node`` and its descendants without an explicit namespace the parent's one."""
    own = node.namespace or namespace
    children = tuple(_rebase(child, own) for child in node.children)
    return SchemaNode(node.name, own, node.kind, node.keys, children, node.case)


def container(name: str, *children: SchemaNode, namespace: str = "",
              case: tuple[str, str] | None = None) -> SchemaNode:
    """Build a non-presence container; children inherit its namespace."""
    return SchemaNode(name, namespace, "container", (), children, case)


def presence(name: str, *children: SchemaNode, namespace: str = "",
             case: tuple[str, str] | None = None) -> SchemaNode:
    """Build a presence container."""
    return SchemaNode(name, namespace, "presence", (), children, case)


def list_(name: str, keys: tuple[str, ...], *children: SchemaNode,
          namespace: str = "") -> SchemaNode:
    """Build a list; the key leaves are added as children automatically."""
    key_leaves = tuple(leaf(key) for key in keys)
    return SchemaNode(name, namespace, "list", keys, key_leaves + children)


def leaf(name: str, case: tuple[str, str] | None = None) -> SchemaNode:
    """Build a leaf (empty-type leaves included)."""
    return SchemaNode(name, "", "leaf", case=case)


def leaf_list(name: str) -> SchemaNode:
    """Build a leaf-list; entries are matched by value and kept in user order."""
    return SchemaNode(name, "", "leaf-list")


def leaves(*names: str) -> tuple[SchemaNode, ...]:
    """Build several plain leaves."""
    return tuple(leaf(name) for name in names)


def _event_17_6() -> SchemaNode:
    """Build ``applet/event`` with the ``event-option`` choice of IOS XE 17.6 to 17.12."""
    timer_leaves = leaves("name", "maxrun", "ratelimit", "time")
    option = "event-option"
    return container(
        "event",
        presence("none-choice", *leaves("default", "maxrun", "ratelimit", "sync"),
                 case=(option, "none-choice")),
        container("syslog-choice", *leaves("pattern", "occurs", "period", "maxrun", "ratelimit"),
                  case=(option, "syslog-choice")),
        container("track-choice",
                  *leaves("track-object-number", "state", "maxrun", "ratelimit"),
                  case=(option, "track-choice")),
        container(
            "timer-choice",
            container("cron", *leaves("cron-entry", "name", "maxrun", "ratelimit")),
            container("watchdog", *timer_leaves),
            container("countdown", *timer_leaves),
            container("absolute", *timer_leaves),
            case=(option, "timer-choice"),
        ),
        container("ipsla", *leaves("group-name", "reaction-type", "maxrun", "ratelimit"),
                  case=(option, "ipsla")),
        container("routing", *leaves("network", "type", "maxrun", "ratelimit"),
                  case=(option, "routing")),
    )


def _event_17_15() -> SchemaNode:
    """Build ``applet/event`` of IOS XE 17.15 and later: decimal64 ``*-set`` timer leaves (from
    17.13), their deprecated uint32 twins, and ``event cli``."""
    timing = leaves("maxrun-set", "ratelimit-set", "maxrun", "ratelimit")
    timer_leaves = (*leaves("name", "time-set", "time"), *timing)
    option = "event-option"
    return container(
        "event",
        presence("none-choice", *leaves("default", "sync"), *timing, case=(option, "none-choice")),
        container("syslog-choice", *leaves("pattern", "occurs", "period-set", "period"), *timing,
                  case=(option, "syslog-choice")),
        container("track-choice", *leaves("track-object-number", "state"), *timing,
                  case=(option, "track-choice")),
        container(
            "timer-choice",
            container("cron", *leaves("cron-entry", "name"), *timing),
            container("watchdog", *timer_leaves),
            container("countdown", *timer_leaves),
            container("absolute", *timer_leaves),
            case=(option, "timer-choice"),
        ),
        container("ipsla", *leaves("group-name", "reaction-type"), *timing, case=(option, "ipsla")),
        container("routing", *leaves("network", "type"), *timing, case=(option, "routing")),
        container("cli", *leaves("pattern", "sync", "skip")),
    )


def _action_17_15() -> SchemaNode:
    """Build ``applet/action-config/action[name]`` of IOS XE 17.15 and later, where every
    action verb is one case of the ``list-option`` choice."""
    option = "list-option"

    def case(node_name: str) -> tuple[str, str]:
        return (option, node_name)

    def verb(name: str, *names: str) -> SchemaNode:
        return container(name, *leaves(*names), case=case(name))

    return list_(
        "action", ("name",),
        verb("if", "string-op-1", "keyword", "string-op-2", "goto"),
        verb("cli-choice", "command"),
        verb("regexp-option", "string-pattern", "string-input", "string-match",
             "string-submatch1", "string-submatch2", "string-submatch3"),
        verb("syslog-option", "msg", "priority", "facility"),
        verb("elseif", "operand1", "operation", "operand2"),
        verb("while", "operand1", "operation", "operand2"),
        verb("set", "varname", "value"),
        verb("increment", "varname", "value"),
        verb("decrement", "varname", "value"),
        verb("append", "varname", "value"),
        verb("foreach", "loopvar", "iterator", "delimiter"),
        presence("snmp-trap", *leaves("intdata1", "intdata2", "strdata"), case=case("snmp-trap")),
        container("string", leaf("trim"), case=case("string")),
        container("context", container("save", *leaves("key", "variable")),
                  container("retrieve", *leaves("key", "variable")), case=case("context")),
        *(leaf(name, case=case(name))
          for name in ("else", "break", "continue", "end", "exit", "reload", "wait", "gets", "puts")),
    )


def _action_17_6() -> SchemaNode:
    """Build ``applet/action[name]`` with the ``list-option`` choice of IOS XE 17.6 to 17.13."""
    option = "list-option"
    return list_(
        "action", ("name",),
        container("cli-choice", leaf("command"), case=(option, "cli-choice")),
        container("syslog-option", *leaves("msg", "priority", "facility"),
                  case=(option, "syslog-option")),
        container("regexp-option",
                  *leaves("string-pattern", "string-input", "string-match",
                          "string-submatch1", "string-submatch2", "string-submatch3"),
                  case=(option, "regexp-option")),
        container("if", *leaves("string-op-1", "keyword", "string-op-2", "goto")),
        *leaves("end", "exit", "reload", "wait"),
        presence("snmp-trap", *leaves("intdata1", "intdata2", "strdata")),
        container("string", leaf("trim")),
    )


def _manager_17_12() -> SchemaNode:
    return container(
        "manager",
        list_("environment", ("name",), leaf("value")),
        list_(
            "applet", ("name",),
            *leaves("description", "authorization", "class", "trap"),
            _event_17_6(),
            _action_17_6(),
        ),
        namespace=ns.EEM,
    )


def _manager_17_15() -> SchemaNode:
    return container(
        "manager",
        list_("environment", ("name",), leaf("value")),
        list_(
            "applet", ("name",),
            *leaves("description", "authorization", "class", "trap"),
            _event_17_15(),
            container("action-config", _action_17_15()),
            # Deprecated from 17.15 (still ordered-by user), accepted as IOS XE does.
            _action_17_6(),
        ),
        namespace=ns.EEM,
    )


def _pki_17_12() -> SchemaNode:
    method = "method"
    terminal = presence("terminal", leaf("pem"))
    return container(
        "pki",
        list_(
            "trustpoint", ("id",),
            container(
                "enrollment",
                container(
                    "enrollment-method",
                    presence("terminal", leaf("pem"), case=(method, "terminal-case")),
                    leaf("selfsigned", case=(method, "selfsigned-case")),
                    leaf("pkcs12", case=(method, "pkcs12-case")),
                ),
                # Deprecated twin of enrollment-method/terminal, still accepted by 17.12.
                terminal,
            ),
            leaf_list("revocation-check"),
            container("chain-validation", leaf("stop"), leaf("continue")),
            leaf("subject-name"),
            container("rsakeypair", *leaves("key-label", "gen-key", "encrypt-key")),
            leaf("usage"),
            leaf("hash"),
        ),
        container(
            "certificate",
            list_("chain", ("name",), list_("certificate", ("serial",), leaf("certtype"))),
        ),
        namespace=ns.CRYPTO,
    )


def _native(manager: SchemaNode) -> SchemaNode:
    root = container(
        "native",
        container("event", manager),
        container("crypto", _pki_17_12()),
        namespace=ns.NATIVE,
    )
    return _rebase(root, ns.NATIVE)


def _native_17_12() -> SchemaNode:
    return _native(_manager_17_12())


# IOS XE 17.9 accepts the 17.12 payloads of these subtrees unchanged (checked with yanglint on
# the 1791 and 17121 YANG folders), so both releases share one tree.
# The trustpoint subtree this tool writes is the same from 17.9 to 17.18.
_NATIVE_BY_RELEASE: dict[str, SchemaNode] = {
    "17.9": _native_17_12(),
    "17.12": _native_17_12(),
    "17.15": _native(_manager_17_15()),
    "17.18": _native(_manager_17_15()),
}


def native_schema(release: str) -> SchemaNode:
    """Return the allowlist root (``/native``) for a release name from ``releases.RELEASES``."""
    return _NATIVE_BY_RELEASE[release]
