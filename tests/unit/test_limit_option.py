"""--limit on plan, apply, check and import: a pattern that selects nothing stops before any connection."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from provisioner.cli import main
from tests.conftest import EXAMPLE, SMTP_PASSWORD


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on 127.0.0.1 that the inventory points at; it must never see a connection."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def connections(server: socket.socket) -> int:
    count = 0
    while True:
        try:
            connection, _ = server.accept()
        except BlockingIOError:
            return count
        connection.close()
        count += 1


@pytest.fixture
def inventory(tmp_path: Path, listener: socket.socket) -> Path:
    port = listener.getsockname()[1]
    path = tmp_path / "inventory.yaml"
    path.write_text(
        "hosts:\n"
        f"  edge-1: {{hostname: 127.0.0.1, port: {port}, groups: [edge]}}\n"
        f"  core-1: {{hostname: 127.0.0.1, port: {port}}}\n"
        "groups:\n"
        "  edge: {}\n"
        "defaults: {username: admin, password_env: DEVICE_PASSWORD}\n",
        encoding="utf-8",
    )
    return path


COMMANDS = {
    "plan": ["plan", str(EXAMPLE)],
    "apply": ["apply", str(EXAMPLE)],
    "check": ["check", str(EXAMPLE), "--lock-file", "{tmp}/check.lock"],
    "import": ["import"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unmatched_limit_sends_nothing(command: str, inventory: Path, listener: socket.socket, tmp_path: Path) -> None:
    runner = CliRunner(env={"DEVICE_PASSWORD": "device-secret", "SMTP_PASSWORD": SMTP_PASSWORD})
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in COMMANDS[command]]

    result = runner.invoke(main, [*args, "--inventory", str(inventory), "--limit", "edge-1", "--limit", "dist-*"])

    assert result.exit_code == 1, result.output
    assert "limit 'dist-*' selects no host" in result.output
    assert "Known groups: edge" in result.output
    assert "Known hosts: edge-1, core-1" in result.output
    assert connections(listener) == 0


@pytest.mark.parametrize("command", ["plan", "check"])
def test_host_alias_rejects_unknown_name(command: str, inventory: Path, listener: socket.socket, tmp_path: Path) -> None:
    runner = CliRunner(env={"DEVICE_PASSWORD": "device-secret", "SMTP_PASSWORD": SMTP_PASSWORD})
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in COMMANDS[command]]

    result = runner.invoke(main, [*args, "--inventory", str(inventory), "--host", "edge-9"])

    assert result.exit_code == 1, result.output
    assert "limit 'edge-9' selects no host" in result.output
    assert connections(listener) == 0


def test_import_rejects_more_than_one_host(inventory: Path, listener: socket.socket) -> None:
    runner = CliRunner(env={"DEVICE_PASSWORD": "device-secret"})

    result = runner.invoke(main, ["import", "--inventory", str(inventory), "--limit", "*-1"])

    assert result.exit_code == 1, result.output
    assert "selects 2 hosts (edge-1, core-1)" in result.output
    assert "give one host name" in result.output
    assert connections(listener) == 0


def test_import_requires_limit(inventory: Path) -> None:
    result = CliRunner().invoke(main, ["import", "--inventory", str(inventory)])

    assert result.exit_code == 1
    assert "--limit" in result.output


def test_limit_help_names_patterns() -> None:
    result = CliRunner().invoke(main, ["plan", "--help"])

    assert "--limit, --host PATTERN" in result.output
    assert "glob over host names" in result.output
