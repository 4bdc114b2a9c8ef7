"""Compliance reports: a rich table, JSON, JUnit XML and the Prometheus text format.

The Prometheus output is written by hand in text exposition format 0.0.4 (no client library
is needed for a file that node_exporter's textfile collector reads). Files are written to a
temporary name and renamed, so a collector never reads half a file.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from rich.console import Console
from rich.table import Table

from provisioner.compliance import CHECKS, DeviceCompliance

REPORT_FORMAT_VERSION = 1
_STATUS_STYLE = {"ok": "green", "warning": "yellow", "failed": "red", "error": "bold red"}


def print_table(results: list[DeviceCompliance], console: Console) -> None:
    """Print one row per device and check, then the findings and notes under the table."""
    table = Table(title="Compliance", show_lines=False)
    for column in ("device", "check", "status", "findings"):
        table.add_column(column)
    for result in results:
        for check in CHECKS:
            status = result.status(check)
            table.add_row(result.device, check, f"[{_STATUS_STYLE[status]}]{status}[/]", str(len(result.findings_of(check))))
    console.print(table)
    for result in results:
        if result.error is not None:
            console.print(f"{result.device}: error: {result.error}", markup=False, highlight=False, soft_wrap=True)
        for finding in result.findings:
            console.print(
                f"{result.device}: {finding.severity}: [{finding.check}] {finding.message}",
                markup=False, highlight=False, soft_wrap=True,
            )
        for note in result.notes:
            console.print(f"{result.device}: note: {note}", markup=False, highlight=False, soft_wrap=True)


def report_data(results: list[DeviceCompliance]) -> dict[str, Any]:
    """Return the results as JSON-ready data; messages are already masked."""
    from provisioner.plan_output import DevicePlan, plan_data

    devices = []
    for result in results:
        devices.append(
            {
                "device": result.device,
                "error": result.error,
                "checks": {check: result.status(check) for check in CHECKS},
                "findings": [
                    {
                        "check": finding.check,
                        "severity": finding.severity,
                        "code": finding.code,
                        "subject": finding.subject,
                        "message": finding.message,
                    }
                    for finding in result.findings
                ],
                "certificates": [
                    {
                        "trustpoint": date.trustpoint,
                        "serial": date.serial,
                        "not_after": date.not_after.isoformat(),
                        "days_left": date.days_left,
                        "source": date.source,
                    }
                    for date in result.certificates
                ],
                "notes": list(result.notes),
                "diff": plan_data(DevicePlan(result.device, result.plan)) if result.plan is not None else None,
            }
        )
    return {"format_version": REPORT_FORMAT_VERSION, "devices": devices}


def junit_xml(results: list[DeviceCompliance]) -> bytes:
    """Return JUnit XML with one testsuite per device and one testcase per check.

    A failure-level finding and a warning both become ``<failure>`` (with ``type`` set to the
    severity), because either makes the run exit with 2; a device that could not be read
    becomes ``<error>``.
    """
    root = etree.Element("testsuites", name="provisioner check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for result in results:
        suite = etree.SubElement(root, "testsuite", name=result.device)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for check in CHECKS:
            counts["tests"] += 1
            case = etree.SubElement(suite, "testcase", classname=result.device, name=check)
            status = result.status(check)
            if status == "error":
                counts["errors"] += 1
                etree.SubElement(case, "error", message=result.error or "", type="error").text = result.error
                continue
            findings = result.findings_of(check)
            if findings:
                counts["failures"] += 1
                worst = "failure" if status == "failed" else "warning"
                text = "\n".join(f"{finding.severity}: {finding.subject}: {finding.message}" for finding in findings)
                etree.SubElement(case, "failure", message=findings[0].message, type=worst).text = text
        for name, value in counts.items():
            suite.set(name, str(value))
            totals[name] += value
    for name, value in totals.items():
        root.set(name, str(value))
    return etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus_text(results: list[DeviceCompliance], now: datetime | None = None) -> str:
    """Return the results as Prometheus text exposition format."""
    now = now or datetime.now(UTC)
    lines = [
        "# HELP provisioner_check_up 1 when the device could be read, 0 when the check failed.",
        "# TYPE provisioner_check_up gauge",
    ]
    lines.extend(f'provisioner_check_up{{device="{_label(result.device)}"}} {0 if result.error else 1}' for result in results)
    lines += [
        "# HELP provisioner_check_drift 1 when the device differs from the intent, 0 when in sync.",
        "# TYPE provisioner_check_drift gauge",
    ]
    lines.extend(
        f'provisioner_check_drift{{device="{_label(result.device)}"}} {int(result.drifted)}'
        for result in results
        if result.error is None
    )
    lines += [
        "# HELP provisioner_check_findings Number of findings per device, check and severity.",
        "# TYPE provisioner_check_findings gauge",
    ]
    for result in results:
        if result.error is not None:
            continue
        for check in CHECKS:
            for severity in ("warning", "failure"):
                count = sum(1 for finding in result.findings_of(check) if finding.severity == severity)
                lines.append(
                    f'provisioner_check_findings{{device="{_label(result.device)}",check="{check}",severity="{severity}"}} {count}'
                )
    lines += [
        "# HELP provisioner_certificate_expiry_days Whole days until the trustpoint's CA certificate expires.",
        "# TYPE provisioner_certificate_expiry_days gauge",
    ]
    for result in results:
        for date in result.certificates:
            labels = f'device="{_label(result.device)}",trustpoint="{_label(date.trustpoint)}",serial="{_label(date.serial or "")}"'
            lines.append(f"provisioner_certificate_expiry_days{{{labels}}} {date.days_left}")
    lines += [
        "# HELP provisioner_check_last_run_timestamp_seconds When this check run finished, in Unix seconds.",
        "# TYPE provisioner_check_last_run_timestamp_seconds gauge",
        f"provisioner_check_last_run_timestamp_seconds {now.timestamp():.0f}",
    ]
    return "\n".join(lines) + "\n"


def check_report_folder(path: Path, option: str) -> None:
    """Check that the folder of a report file exists and that this process may create files in it.

    ``write_atomically`` creates a temporary file next to ``path``, so the folder must be
    writable even when ``path`` itself exists.

    Raises:
        InputError: the folder is missing, is no folder, or is not writable; the message names
            ``option`` and ``path`` as the user gave it.
    """
    from models.errors import InputError

    folder = path.parent
    if not folder.exists():
        raise InputError(f"{option} {path}: the folder {folder} does not exist; create it or choose another path")
    if not folder.is_dir():
        raise InputError(f"{option} {path}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: the folder {folder} is not writable for this user")


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
