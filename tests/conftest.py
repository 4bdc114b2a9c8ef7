"""Shared fixtures: the example intent, a known SMTP password, and the YANG folder for validation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "secure-email.yaml"

# A recognisable password, so tests can search every output for it.
SMTP_PASSWORD = "Sekr3tAppPassw0rdXYZ"


@pytest.fixture
def smtp_password(monkeypatch: pytest.MonkeyPatch) -> str:
    """Set SMTP_PASSWORD for the test and restore the environment afterwards."""
    monkeypatch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
    return SMTP_PASSWORD


@pytest.fixture
def example_intent_path() -> Path:
    """The intent file from the README's quick start."""
    return EXAMPLE


@pytest.fixture
def yang_dir() -> Path:
    """Root of Cisco's YANG per release (PROVISIONER_YANG_DIR), or skip with the reason."""
    value = os.environ.get("PROVISIONER_YANG_DIR")
    if not value:
        pytest.skip("PROVISIONER_YANG_DIR is not set, so payloads cannot be validated against Cisco's YANG")
    path = Path(value)
    if not path.is_dir():
        pytest.skip(f"PROVISIONER_YANG_DIR={value} is not a folder")
    return path
