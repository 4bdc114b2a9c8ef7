"""Round trip on every release: render -> lab device -> get-config -> parse equals the intent."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.intent import load_intent
from models.inventory import load_inventory
from payloads import cli
from payloads.filters import owned_filter
from payloads.native_xml import owned_objects
from payloads.readback import read_config
from payloads.releases import PROFILES
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
from provisioner.transport.netconf import NetconfSession

pytestmark = pytest.mark.integration

ALL_KINDS = Path(__file__).resolve().parent.parent / "data" / "intents" / "all-kinds.yaml"


@pytest.mark.parametrize("release", list(PROFILES))
def test_all_kinds_round_trip(tmp_path: Path, release: str, smtp_password: str) -> None:
    intent = load_intent(ALL_KINDS)
    with LabDevice(state_dir=tmp_path, release=release) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        first = apply_device(intent, host, sync_timeout=10)
        second = apply_device(intent, host, sync_timeout=10)
        with NetconfSession(host) as session:
            data = session.get_config("running", owned_filter(owned_objects(intent)))

    device = read_config(data)

    assert first.error is None, first.error
    assert first.outcome == "applied"
    assert second.error is None and not second.changed
    assert device.unreadable == {}
    profile = PROFILES[release]
    for applet in intent.applets:
        assert cli.applet_lines(device.applets[applet.name]) == cli.applet_lines(applet, profile=profile), applet.name
    assert [device.trustpoints[tp.name] for tp in intent.trustpoints] == list(intent.trustpoints)
    for name, value in intent.environment.items():
        expected = value if isinstance(value, str) else value.server_string(reveal=True)
        assert device.environment[name] == expected
