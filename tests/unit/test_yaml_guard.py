"""Hostile YAML: aliases that multiply a document, and oversized files, are refused early."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import InputError, IntentError
from models.intent import load_intent
from models.inventory import load_inventory
from models.yamlguard import MAX_BYTES

# Nine levels of nine aliases: about 387 million leaves if expanded, a few hundred bytes as text.
LAUGHS = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * 9)}]\n" for level in range(1, 9)
)


def test_intent_alias_bomb_rejected_with_line(tmp_path: Path) -> None:
    intent = tmp_path / "intent.yaml"
    intent.write_text("environment:\n  _x: y\n" + LAUGHS, encoding="utf-8")

    with pytest.raises(IntentError) as raised:
        load_intent(intent, environ={})

    message = str(raised.value)
    assert "a YAML alias (*name) repeats a mapping or list" in message
    assert f"{intent}:" in message


def test_inventory_alias_rejected_with_line(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "common: &common {username: admin, password_env: PW}\n"
        "hosts:\n  r1: *common\n  r2: *common\n",
        encoding="utf-8",
    )

    with pytest.raises(InputError) as raised:
        load_inventory(inventory, environ={"PW": "x"})

    assert str(raised.value).startswith(f"{inventory}:")
    assert "a YAML alias (*name) repeats a mapping or list" in str(raised.value)
    assert f"{inventory}:?" not in str(raised.value)


def test_oversized_intent_rejected(tmp_path: Path) -> None:
    intent = tmp_path / "intent.yaml"
    intent.write_text("# " + "x" * MAX_BYTES + "\n", encoding="utf-8")

    with pytest.raises(IntentError, match="more than the 4194304 this tool reads"):
        load_intent(intent, environ={})


def test_oversized_inventory_rejected(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("# " + "x" * MAX_BYTES + "\nhosts: {}\n", encoding="utf-8")

    with pytest.raises(InputError, match="more than the 4194304 this tool reads"):
        load_inventory(inventory, environ={})
