"""Error messages of the CLI start with ``error:``, whether the project or click raised them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "provisioner", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=60)


def test_usage_error_lowercase_prefix() -> None:
    completed = run("plan", "examples/secure-email.yaml", "--bogus")

    assert completed.returncode == 1
    assert "Error:" not in completed.stderr
    assert completed.stderr.splitlines()[0].startswith("Usage: ")
    assert "Try '" in completed.stderr
    assert completed.stderr.splitlines()[-1] == "error: No such option '--bogus'. Did you mean '--host'?"


def test_lab_usage_error_lowercase_prefix() -> None:
    completed = run("lab", "--restconf", "--devices", "2")

    assert completed.returncode == 1
    assert completed.stderr.splitlines()[-1] == "error: --restconf serves a single device; leave out --devices"


def test_lab_start_failure_lowercase_prefix(tmp_path: Path) -> None:
    blocker = tmp_path / "plain-file"
    blocker.write_text("", encoding="utf-8")

    completed = run("lab", "--devices", "2", "--state-dir", str(blocker / "state"))

    assert completed.returncode == 1
    assert "Error:" not in completed.stderr
    assert completed.stderr.startswith(f"error: cannot start the lab devices in {blocker / 'state'}: ")
