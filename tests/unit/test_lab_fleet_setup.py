"""LabFleet arguments, host names and the open file limit, checked before any device starts."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from click.testing import CliRunner

from provisioner.cli import main
from provisioner.lab import fleet
from provisioner.lab.fleet import LabFleet, OpenFileLimitError, device_names, raise_open_file_limit


def test_device_names_are_zero_padded() -> None:
    assert device_names(3) == ["lab-001", "lab-002", "lab-003"]
    assert device_names(1000)[0] == "lab-0001"
    assert device_names(1000)[-1] == "lab-1000"


def test_fleet_needs_a_device(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one device"):
        LabFleet(0, tmp_path)


def test_fleet_ports_must_fit(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="choose a base port of at most 65526"):
        LabFleet(10, tmp_path, base_port=65530)


def test_fleet_last_port_may_be_65535(tmp_path: Path) -> None:
    assert LabFleet(10, tmp_path, base_port=65526).base_port == 65526


class FakeLimits:
    """Stand-in for getrlimit/setrlimit, so the test never changes this process's limits."""

    def __init__(self, soft: int, hard: int) -> None:
        self.soft = soft
        self.hard = hard
        self.calls: list[tuple[int, int]] = []

    def getrlimit(self, which: int) -> tuple[int, int]:
        assert which == resource.RLIMIT_NOFILE
        return self.soft, self.hard

    def setrlimit(self, which: int, limits: tuple[int, int]) -> None:
        assert which == resource.RLIMIT_NOFILE
        self.calls.append(limits)
        self.soft = limits[0]


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> FakeLimits:
    fake = FakeLimits(soft=1024, hard=65536)
    monkeypatch.setattr(fleet.resource, "getrlimit", fake.getrlimit)
    monkeypatch.setattr(fleet.resource, "setrlimit", fake.setrlimit)
    return fake


def test_small_fleet_keeps_the_limit(limits: FakeLimits) -> None:
    assert raise_open_file_limit(10) == 1024
    assert limits.calls == []


def test_large_fleet_raises_soft_to_hard(limits: FakeLimits) -> None:
    assert raise_open_file_limit(1000) == 65536
    assert limits.calls == [(65536, 65536)]


def test_fleet_above_hard_limit_is_an_error(limits: FakeLimits) -> None:
    limits.hard = 4096

    with pytest.raises(OpenFileLimitError) as caught:
        raise_open_file_limit(1000)

    assert "at most 4096" in str(caught.value)
    assert "start fewer devices" in str(caught.value)
    assert limits.calls == []


def test_unlimited_hard_limit_sets_the_estimate(limits: FakeLimits) -> None:
    limits.hard = resource.RLIM_INFINITY

    raised = raise_open_file_limit(1000)

    assert raised >= 3000
    assert limits.calls == [(raised, resource.RLIM_INFINITY)]


def test_lab_command_rejects_port_overflow(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["lab", "--devices", "10", "--base-port", "65530",
                                       "--state-dir", str(tmp_path / "fleet")])

    assert result.exit_code == 1
    assert "choose a base port of at most 65526" in result.output
    assert not (tmp_path / "fleet").exists()
