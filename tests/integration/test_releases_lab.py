"""Release detection and release-shaped payloads against lab devices of each release."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from models.intent import load_intent
from models.inventory import load_inventory
from payloads import namespaces as ns
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
from provisioner.releases import release_profile
from provisioner.transport.netconf import NetconfSession
from tests.conftest import EXAMPLE

pytestmark = pytest.mark.integration

ALL_KINDS = Path(__file__).resolve().parent.parent / "data" / "intents" / "all-kinds.yaml"
P = ns.XPATH_PREFIXES


@pytest.mark.parametrize(("release", "expected"), [("17.9", "17.9"), ("17.12", "17.12"), ("17.15", "17.15"), ("17.18", "17.18")])
def test_profile_detected_from_device(tmp_path: Path, release: str, expected: str) -> None:
    with LabDevice(state_dir=tmp_path, release=release) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        with NetconfSession(host) as session:
            profile = release_profile(session)
        operations = [record["operation"] for record in lab.rpc_log()]

    assert profile.name == expected
    # 17.9 lists its native modules in the hello; later releases need one <get> of yang-library.
    assert operations.count("get") == (0 if release == "17.9" else 1)


@pytest.mark.parametrize("release", ["17.12", "17.18"])
def test_example_applied_in_release_shape(tmp_path: Path, release: str, smtp_password: str) -> None:
    text = EXAMPLE.read_text().replace("      none: {}", "      none: {maxrun: 60}")
    intent_path = tmp_path / "intent.yaml"
    intent_path.write_text(text)

    with LabDevice(state_dir=tmp_path / "lab", release=release) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        result = apply_device(load_intent(intent_path), host, sync_timeout=10)
        running = etree.fromstring(lab.running_xml().encode())

    assert result.error is None, result.error
    leaf = "maxrun-set" if release == "17.18" else "maxrun"
    assert running.xpath(f"//eem:applet/eem:event/eem:none-choice/eem:{leaf}/text()", namespaces=P) in (["60"], ["60.0"], ["60.000"])


def test_invalid_edit_is_not_sent(tmp_path: Path, smtp_password: str, yang_dir: Path) -> None:
    # A 17.18 device with only the 17.12 YANG to check against: that YANG cannot vouch for the edit,
    # so nothing is edited.
    with LabDevice(state_dir=tmp_path / "lab", release="17.18") as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        result = apply_device(load_intent(ALL_KINDS), host, sync_timeout=10, yang_dir=yang_dir / "17121")
        operations = [record["operation"] for record in lab.rpc_log()]

    assert result.error is not None
    assert "but IOS XE 17.18 uses" in str(result.error)
    assert "edit-config" not in operations
    assert "config-ios-cli-rpc" not in operations


def test_valid_edit_is_validated_then_sent(tmp_path: Path, smtp_password: str, yang_dir: Path) -> None:
    with LabDevice(state_dir=tmp_path / "lab", release="17.18") as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        result = apply_device(load_intent(EXAMPLE), host, sync_timeout=10, yang_dir=yang_dir)

    assert result.error is None, result.error
    assert "the edit was validated against the YANG of IOS XE 17.18 before sending" in result.notes


def test_newer_release_uses_nearest_profile_and_says_so(
    tmp_path: Path, smtp_password: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from provisioner.lab import releases as lab_releases
    from provisioner.lab import schema as lab_schema
    from provisioner.engine import plan_device

    newer = lab_releases.Release(
        name="26.1",
        modules=lab_releases._modules(
            native="2026-02-01", eem="2026-02-01", crypto="2026-02-01", cli_rpc="2026-02-01",
            cisco_ia="2024-07-01", pki_oper="2026-02-01",
        ),
        native_modules_in_hello=False,
    )
    monkeypatch.setitem(lab_releases.RELEASES, "26.1", newer)
    monkeypatch.setitem(lab_schema._NATIVE_BY_RELEASE, "26.1", lab_schema.native_schema("17.18"))

    with LabDevice(state_dir=tmp_path / "lab", release="26.1") as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        plan = plan_device(load_intent(EXAMPLE), host)

    assert plan.profile.name == "17.18"
    assert plan.render()[0] == (
        "! Cisco-IOS-XE-eem revision 2026-02-01 is newer than every profile; payloads use the IOS XE 17.18 shape"
    )


def test_yang_fetched_from_device_and_cached(
    tmp_path: Path, smtp_password: str, yang_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with LabDevice(state_dir=tmp_path / "lab", release="17.12", yang_dir=yang_dir / "17121") as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        first = apply_device(load_intent(ALL_KINDS), host, sync_timeout=10, yang_from_device=True)
        fetched = [record["operation"] for record in lab.rpc_log()].count("get-schema")
        changed = load_intent(EXAMPLE)
        second = apply_device(changed, host, sync_timeout=10, yang_from_device=True)
        refetched = [record["operation"] for record in lab.rpc_log()].count("get-schema") - fetched

    assert first.error is None, first.error
    assert "the edit was validated against the YANG of IOS XE 17.12 before sending" in first.notes
    assert fetched > 2
    assert (tmp_path / "cache" / "iosxe-eem-provisioner" / "yang" / "Cisco-IOS-XE-eem@2022-11-01.yang").is_file()
    assert second.error is None, second.error
    # Modules the device lists with a revision come from the cache the second time.
    assert refetched < fetched


def test_device_without_get_schema_says_validation_skipped(tmp_path: Path, smtp_password: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with LabDevice(state_dir=tmp_path / "lab", release="17.12") as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        result = apply_device(load_intent(EXAMPLE), host, sync_timeout=10, yang_from_device=True)

    assert result.error is None, result.error
    assert any(note.startswith("the edit was not validated against YANG before sending: the device did not serve its YANG with get-schema") for note in result.notes)
