"""Option combinations the CLI rejects before it reads any file or contacts any device."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from provisioner.cli import main


def test_apply_rejects_both_yang_sources(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"  # never created: the check comes first
    result = CliRunner().invoke(main, [
        "apply", "examples/secure-email.yaml", "--inventory", str(inventory),
        "--yang-dir", str(tmp_path), "--yang-from-device",
    ])

    assert result.exit_code == 1
    assert "give --yang-dir or --yang-from-device, not both" in result.output
    assert not inventory.exists()
