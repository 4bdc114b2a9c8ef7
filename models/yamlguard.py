"""Limits on the YAML files the tool reads: their size, and no anchors or aliases.

An alias makes a node appear in many places without repeating its text. Nested aliases (the
"billion laughs" document) turn a few hundred bytes into a structure that validation would walk
billions of times, so intent and inventory files may not alias a mapping or a list. Neither format needs them:
inventories share settings through groups and defaults.
"""

from __future__ import annotations

from typing import Any

# Far above any real intent or inventory: the inventory `provisioner lab --devices 1000` writes
# is about 70 KiB.
MAX_BYTES = 4 * 1024 * 1024


def size_problem(text: str) -> str | None:
    """Return why ``text`` is too large to read, or None."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        return f"the file has {size} bytes, more than the {MAX_BYTES} this tool reads; is it the right file?"
    return None


def first_alias(document: Any) -> tuple[bool, int | None]:
    """Return whether a mapping or list of ``document`` appears twice (an alias), and its line.

    The walk visits each node once, so a document built from nested aliases costs no more than
    its text. The line is 1-based and known for ruamel.yaml's round-trip nodes only.
    """
    seen: set[int] = set()
    pending = [document]
    while pending:
        node = pending.pop()
        if not isinstance(node, (dict, list)):
            continue
        if id(node) in seen:
            lc = getattr(node, "lc", None)
            return True, (lc.line + 1) if lc is not None and lc.line is not None else None
        seen.add(id(node))
        pending.extend(node.values() if isinstance(node, dict) else node)
    return False, None


ALIAS_MESSAGE = (
    "a YAML alias (*name) repeats a mapping or list here, which this tool does not accept; write the "
    "values out, or for an inventory share them through groups and defaults"
)
