"""Fixtures that start lab devices on 127.0.0.1 for integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models.inventory import Host, load_inventory
from provisioner.lab import LabDevice


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabDevice]:
    """A fresh IOS XE 17.12 lab device on an ephemeral port, with its state in tmp_path/lab."""
    with LabDevice(state_dir=tmp_path / "lab", port=0, release="17.12") as device:
        yield device


@pytest.fixture
def lab_host(lab: LabDevice) -> Host:
    """The lab device as an inventory host, read from the inventory file it wrote."""
    return load_inventory(lab.inventory_path).hosts["lab"]
