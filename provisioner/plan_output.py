"""Plans in the forms people and tools read: IOS CLI lines with + and -, JSON and XML.

Every form is built from the masked lines of :class:`provisioner.diff.Plan` and from payloads
rendered with ``reveal=False``, so no form can carry the SMTP password.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import click
from lxml import etree

from models.intent import Intent
from payloads.native_xml import render_edit
from provisioner.diff import ObjectChange, Plan, edit_items

PLAN_FORMAT_VERSION = 1


@dataclass(frozen=True)
class DevicePlan:
    """The plan of one device, or the error that stopped it."""

    device: str
    plan: Plan | None = None
    error: str | None = None


def colour_wanted() -> bool:
    """Return False when the user asked for no colour through the NO_COLOR convention.

    click removes the escape codes itself when stdout is not a terminal, so this only has to
    honour the explicit opt-out.
    """
    return not os.environ.get("NO_COLOR")


def _styled(line: str, colour: bool) -> str:
    if not colour:
        return line
    if line.startswith("+"):
        return click.style(line, fg="green")
    if line.startswith("-"):
        return click.style(line, fg="red")
    if line.lstrip().startswith("!"):
        return click.style(line, fg="yellow")
    return line


def text_lines(result: DevicePlan, *, colour: bool = False) -> list[str]:
    """Return one device's plan as a status line and its IOS CLI lines, indented."""
    if result.plan is None:
        return [f"{result.device}: error: {result.error}"]
    plan = result.plan
    status = "in sync" if plan.in_sync else "changes pending"
    header = f"{result.device}: {status}"
    lines = [click.style(header, bold=True) if colour else header]
    lines.extend(f"  {_styled(line, colour)}" for line in plan.render())
    return lines


def _change_data(change: ObjectChange) -> dict[str, Any]:
    return {
        "object": str(change.key),
        "kind": change.key.kind,
        "name": change.key.name,
        "change": change.kind,
        "items": [
            {"item": item.item, "change": item.kind, "before": item.before, "after": item.after}
            for item in change.items()
        ],
        "lines": change.lines(),
    }


def plan_data(result: DevicePlan) -> dict[str, Any]:
    """Return one device's plan as JSON-ready data (secrets masked)."""
    if result.plan is None:
        return {"device": result.device, "error": result.error}
    plan = result.plan
    return {
        "device": result.device,
        "in_sync": plan.in_sync,
        "release": plan.profile.name,
        "release_note": plan.profile.note or None,
        "changes": [_change_data(change) for change in plan.modelled_changes],
        "cli_rpc": {
            "needed": plan.cli_needed,
            "lines": plan.cli_lines if plan.cli_needed else [],
            "digest": plan.cli_digest,
            "device_digest": plan.device_cli_digest,
        },
        "strays": [str(key) for key in plan.strays],
        "unreadable": dict(plan.unreadable),
    }


def plans_data(results: list[DevicePlan]) -> dict[str, Any]:
    """Return the plans of several devices as one JSON-ready document."""
    return {"format_version": PLAN_FORMAT_VERSION, "devices": [plan_data(result) for result in results]}


def plans_xml(results: list[DevicePlan], intent: Intent) -> etree._Element:
    """Return the plans as one ``<plans>`` element.

    Each ``<plan>`` lists its changes and items, the config-ios-cli-rpc lines, and under
    ``<edit-config>`` the ``<config>`` element that apply would send, the password masked.
    """
    root = etree.Element("plans", {"format-version": str(PLAN_FORMAT_VERSION)})
    for result in results:
        element = etree.SubElement(root, "plan", device=result.device)
        if result.plan is None:
            etree.SubElement(element, "error").text = result.error
            continue
        plan = result.plan
        element.set("in-sync", "true" if plan.in_sync else "false")
        element.set("release", plan.profile.name)
        for change in plan.modelled_changes:
            _change_xml(element, change)
        if plan.cli_needed:
            cli_rpc = etree.SubElement(element, "cli-rpc")
            for line in plan.cli_lines:
                etree.SubElement(cli_rpc, "line").text = line
        for key in plan.strays:
            etree.SubElement(element, "stray", object=str(key))
        for name, reason in plan.unreadable.items():
            etree.SubElement(element, "unreadable", object=name).text = reason
        items = edit_items(plan, intent)
        if items:
            etree.SubElement(element, "edit-config").append(render_edit(items, plan.profile, reveal=False))
    return root


def _change_xml(parent: etree._Element, change: ObjectChange) -> None:
    element = etree.SubElement(
        parent, "change", object=str(change.key), kind=change.key.kind, name=change.key.name, change=change.kind
    )
    for item in change.items():
        entry = etree.SubElement(element, "item", name=item.item, change=item.kind)
        if item.before is not None:
            etree.SubElement(entry, "before").text = item.before
        if item.after is not None:
            etree.SubElement(entry, "after").text = item.after
