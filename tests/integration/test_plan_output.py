"""`provisioner plan --output text|json|xml` against a lab device: structure, colour, masking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from models.intent import load_intent
from models.inventory import Host
from payloads import namespaces as ns
from provisioner.cli import main
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
from tests.conftest import EXAMPLE, SMTP_PASSWORD
from tests.integration.test_apply import run_cli

pytestmark = pytest.mark.integration

OLD_PASSWORD = "0ldPassw0rdOnDevice"


@pytest.fixture
def drifted(lab: LabDevice, lab_host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabDevice:
    """The example applied with an older password and another `_email_to`."""
    older = tmp_path / "older.yaml"
    older.write_text(EXAMPLE.read_text(encoding="utf-8").replace("noc@example.com", "other@example.com"), encoding="utf-8")
    monkeypatch.setenv("SMTP_PASSWORD", OLD_PASSWORD)
    result = apply_device(load_intent(older), lab_host, sync_timeout=10)
    assert result.error is None, result.error
    return lab


def _plan(lab: LabDevice, output: str) -> tuple[int, str]:
    """Run plan; return the exit code and stdout, which contains the plan (progress goes to stderr)."""
    code, stdout, _ = _plan_streams(lab, output)
    return code, stdout


def _plan_streams(lab: LabDevice, output: str) -> tuple[int, str, str]:
    completed = run_cli("plan", str(EXAMPLE), "--inventory", str(lab.inventory_path), "--output", output)
    return completed.returncode, completed.stdout, completed.stderr


def test_json_lists_items(drifted: LabDevice) -> None:
    code, text = _plan(drifted, "json")
    document = json.loads(text)
    changes = {change["name"]: change for change in document["devices"][0]["changes"]}

    assert code == 2
    assert document["devices"][0]["in_sync"] is False
    assert changes["_email_to"]["items"] == [
        {
            "item": "value",
            "change": "change",
            "before": "event manager environment _email_to other@example.com",
            "after": "event manager environment _email_to noc@example.com",
        }
    ]
    assert changes["_email_server"]["change"] == "change"
    assert "- event manager environment _email_to other@example.com" in changes["_email_to"]["lines"]


def test_xml_carries_masked_edit(drifted: LabDevice) -> None:
    code, text = _plan(drifted, "xml")
    root = etree.fromstring(text.encode())

    assert code == 2
    assert root.xpath("//change[@name='_email_to']/item[@change='change']/after/text()") == [
        "event manager environment _email_to noc@example.com"
    ]
    values = root.xpath("//edit-config//eem:environment[eem:name='_email_server']/eem:value/text()", namespaces=ns.XPATH_PREFIXES)
    assert values == ["eem.alerts.example:********@smtp.gmail.com"]


@pytest.mark.parametrize("output", ["text", "json", "xml"])
def test_no_password_in_any_output(drifted: LabDevice, output: str) -> None:
    code, stdout, stderr = _plan_streams(drifted, output)
    text = stdout + stderr

    assert code == 2
    assert SMTP_PASSWORD not in text
    assert OLD_PASSWORD not in text
    assert "********" in text


def test_text_has_no_colour_when_piped(drifted: LabDevice) -> None:
    code, text = _plan(drifted, "text")

    assert code == 2
    assert "\x1b[" not in text
    assert "- event manager environment _email_to other@example.com" in text


def test_text_colour_on_terminal(drifted: LabDevice, smtp_password: str) -> None:
    runner = CliRunner()

    result = runner.invoke(main, ["plan", str(EXAMPLE), "--inventory", str(drifted.inventory_path)], color=True)

    assert result.exit_code == 2, result.output
    assert "\x1b[31m- event manager environment _email_to other@example.com" in result.output
    assert "\x1b[32m+ event manager environment _email_to noc@example.com" in result.output
    assert smtp_password not in result.output


def test_no_color_variable_disables_colour(drifted: LabDevice, smtp_password: str) -> None:
    runner = CliRunner(env={"NO_COLOR": "1"})

    result = runner.invoke(main, ["plan", str(EXAMPLE), "--inventory", str(drifted.inventory_path)], color=True)

    assert result.exit_code == 2, result.output
    assert "\x1b[" not in result.output


def test_json_in_sync_exits_zero(lab: LabDevice, lab_host: Host, smtp_password: str) -> None:
    apply_device(load_intent(EXAMPLE), lab_host, sync_timeout=10)

    code, text = _plan(lab, "json")

    assert code == 0, text
    assert json.loads(text)["devices"][0]["changes"] == []
