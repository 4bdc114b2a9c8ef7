"""Faults that tests and the ``lab`` command inject into a lab device at runtime."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from lxml import etree

from payloads import namespaces as ns


@dataclass
class Faults:
    """Mutable fault settings of one lab device; change them at any time from any thread.

    Attributes:
        mutate_after_commit: ``(xpath, new_text)`` pairs applied to running right after every
            successful commit and every successful edit-config on running, like a device that
            normalises a value. Paths start at ``/ios:native`` (``/nc:data/ios:native`` works
            too); prefixes are ``ios``, ``eem``, ``crypto`` and ``nc`` (see
            ``payloads.namespaces.XPATH_PREFIXES``). A path that matches nothing is skipped.
        latency_ms: Delay added before each RPC reply, in milliseconds.
        drop_after_rpcs: When set, each session's SSH connection is closed right after its
            reply to this many RPCs.
        fail_operations: RPC local name (e.g. ``"commit"``) to the error-tag the device sends
            instead of running it, e.g. ``{"commit": "operation-failed"}``.
    """

    mutate_after_commit: list[tuple[str, str]] = field(default_factory=list)
    latency_ms: int = 0
    drop_after_rpcs: int | None = None
    fail_operations: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def apply_mutations(self, data: etree._Element) -> int:
        """Apply ``mutate_after_commit`` to a datastore tree in place; return the number of
        nodes changed.

        Raises:
            ValueError: An XPath is invalid.
            TypeError: An XPath selects something other than elements.
        """
        changed = 0
        with self.lock:
            mutations = list(self.mutate_after_commit)
        for expression, new_text in mutations:
            # Paths are written from /ios:native, as users read get-config; the tree here has
            # <data> above native, so absolute paths are evaluated from that element.
            relative = expression
            if expression.startswith("/") and not expression.startswith("/nc:data"):
                relative = "." + expression
            try:
                found = data.xpath(relative, namespaces=ns.XPATH_PREFIXES)
            except etree.XPathError as error:
                raise ValueError(f"invalid mutate_after_commit XPath {expression!r}: {error}") \
                    from error
            if not isinstance(found, list):
                raise TypeError(f"mutate_after_commit XPath {expression!r} must select elements")
            for node in found:
                if not isinstance(node, etree._Element):
                    raise TypeError(
                        f"mutate_after_commit XPath {expression!r} must select elements"
                    )
                if node.text != new_text:
                    node.text = new_text
                    changed += 1
        return changed


def parse_mutation(text: str) -> tuple[str, str]:
    """Split a command-line ``XPATH=VALUE`` into its parts.

    The split is at the first ``=`` outside square brackets, so predicates such as
    ``[eem:name='x']`` stay in the XPath and the value may contain ``=``.

    Raises:
        ValueError: No ``=`` outside brackets.
    """
    depth = 0
    split_at = -1
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "=" and depth == 0:
            split_at = index
            break
    if split_at <= 0:
        raise ValueError(f"invalid mutation {text!r}; expected XPATH=VALUE, e.g. "
                         "/ios:native/ios:event/eem:manager/eem:environment"
                         "[eem:name='_email_to']/eem:value=noc@example.com")
    return text[:split_at], text[split_at + 1:]
