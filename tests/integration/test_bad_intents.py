"""The bad-input corpus: every file fails validate and apply with its expected message, and no RPC is sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from provisioner.cli import main
from provisioner.lab import LabDevice
from tests.conftest import REPO, SMTP_PASSWORD

pytestmark = pytest.mark.integration

CORPUS = sorted((REPO / "tests" / "data" / "bad-intents").glob("*.yaml"))


def expected_message(path: Path) -> str:
    first_line = path.read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith("# expect: "), f"{path.name} must start with '# expect: MESSAGE'"
    return first_line.removeprefix("# expect: ")


@pytest.fixture(scope="module")
def corpus_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabDevice]:
    with LabDevice(state_dir=tmp_path_factory.mktemp("lab"), port=0) as device:
        yield device


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40


@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_bad_intent_fails_validate(path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(path)], env={"SMTP_PASSWORD": SMTP_PASSWORD})

    assert result.exit_code == 1, result.output
    assert expected_message(path) in result.output
    assert f"{path}:" in result.output
    assert SMTP_PASSWORD not in result.output


@pytest.mark.parametrize("command", ["apply", "plan"])
@pytest.mark.parametrize("path", CORPUS, ids=[path.stem for path in CORPUS])
def test_bad_intent_sends_nothing(path: Path, command: str, corpus_lab: LabDevice) -> None:
    result = CliRunner().invoke(
        main,
        [command, str(path), "--inventory", str(corpus_lab.inventory_path)],
        env={"SMTP_PASSWORD": SMTP_PASSWORD},
    )

    assert result.exit_code == 1, result.output
    assert expected_message(path) in result.output
    assert corpus_lab.rpc_log() == []
