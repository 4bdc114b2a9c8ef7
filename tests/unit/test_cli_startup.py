"""The CLI starts without importing what only its commands need."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
from click.testing import CliRunner

from provisioner.cli import LAZY_COMMANDS, main

# Modules that cost most of the start-up time; `--help` must not import any of them.
HEAVY_MODULES = ("pydantic", "lxml", "ncclient", "paramiko", "asyncssh", "httpx", "aiohttp", "rich", "libyang", "cryptography")


def test_help_imports_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from provisioner.cli import main\n"
        "result = CliRunner().invoke(main, ['--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        f"print(','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert completed.stdout.strip() == ""


def test_lazy_short_help_matches_command() -> None:
    for name, (module, attribute, short_help) in LAZY_COMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)

        assert isinstance(command, click.Command), name
        assert command.get_short_help_str(limit=500) == short_help, name


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"])

    for name in ("apply", "certs", "check", "import", "lab", "plan", "render", "schema", "validate"):
        assert f"  {name} " in result.output, name


def test_lazy_command_runs() -> None:
    result = CliRunner().invoke(main, ["lab", "--help"])

    assert result.exit_code == 0
    assert "--devices" in result.output
