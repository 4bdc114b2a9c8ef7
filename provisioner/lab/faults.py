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
        drop_on: ``(operation, n)``: the device runs the nth RPC of that local name (counted
            over all sessions from when it was set with ``drop_session_after``), then closes
            that session's SSH connection without sending the reply, and clears the setting.
            The client cannot tell whether the RPC ran, which is the hard case for it.
        fail_cli_line: config-ios-cli-rpc applies the lines before this 1-based line number
            and fails with invalid input at it, as IOS XE stops at the first bad line.
        keep_syncing: ``cisco-ia:is-syncing`` reports a sync in progress for as long as it is set.
        reject_logins: SSH password authentication fails for every login.
    """

    mutate_after_commit: list[tuple[str, str]] = field(default_factory=list)
    latency_ms: int = 0
    drop_after_rpcs: int | None = None
    fail_operations: dict[str, str] = field(default_factory=dict)
    drop_on: tuple[str, int] | None = None
    fail_cli_line: int | None = None
    keep_syncing: bool = False
    reject_logins: bool = False
    _drop_seen: int = field(default=0, repr=False, compare=False)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def drop_session_after(self, operation: str, nth: int = 1) -> None:
        """Drop the session that sends the nth RPC named ``operation`` from now, once.

        The RPC runs; its reply is never sent. See ``drop_on``.
        """
        if nth < 1:
            raise ValueError(f"nth must be 1 or more, got {nth}")
        with self.lock:
            self.drop_on = (operation, nth)
            self._drop_seen = 0

    def take_drop(self, operation: str) -> bool:
        """Count one RPC named ``operation``; return True when its session must drop now."""
        with self.lock:
            if self.drop_on is None or self.drop_on[0] != operation:
                return False
            self._drop_seen += 1
            if self._drop_seen < self.drop_on[1]:
                return False
            self.drop_on = None
            return True

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
