"""Release profiles: choosing one from module revisions, rendering each shape, validating it."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from models.intent import Intent, load_intent
from payloads import cli
from payloads import namespaces as ns
from payloads.native_xml import render_config
from payloads.readback import read_config
from payloads.releases import PROFILES, ReleaseProfile, profile_for, profile_for_revisions
from provisioner.validation import SchemaValidator, find_yang_folder
from tests.conftest import EXAMPLE

ALL_KINDS = Path(__file__).resolve().parent.parent / "data" / "intents" / "all-kinds.yaml"
P = ns.XPATH_PREFIXES
RELEASES = list(PROFILES)


@pytest.fixture
def all_kinds(smtp_password: str) -> Intent:
    return load_intent(ALL_KINDS)


@pytest.mark.parametrize(
    ("eem", "expected", "decimal", "noted"),
    [
        ("2021-03-01", "17.9", False, False),
        ("2022-11-01", "17.12", False, False),
        ("2023-11-01", "17.12", True, True),
        ("2024-07-01", "17.15", True, False),
        ("2024-11-01", "17.18", True, False),
        ("2026-02-01", "17.18", True, True),
    ],
)
def test_profile_from_eem_revision(eem: str, expected: str, decimal: bool, noted: bool) -> None:
    profile = profile_for_revisions({"Cisco-IOS-XE-eem": eem})

    assert profile.name == expected
    assert profile.decimal_timers is decimal
    assert bool(profile.note) is noted


def test_newer_revision_names_profile_used() -> None:
    profile = profile_for_revisions({"Cisco-IOS-XE-eem": "2026-02-01"})

    assert profile.note == "Cisco-IOS-XE-eem revision 2026-02-01 is newer than every profile; payloads use the IOS XE 17.18 shape"


def test_revision_before_17_9_is_rejected() -> None:
    with pytest.raises(ValueError, match="older than IOS XE 17.9 .*not supported"):
        profile_for_revisions({"Cisco-IOS-XE-eem": "2019-07-01"})


def test_missing_eem_module_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not report the Cisco-IOS-XE-eem module"):
        profile_for_revisions({"Cisco-IOS-XE-native": "2023-07-01"})


def test_named_release_maps_to_train() -> None:
    assert profile_for("17.18.1") is PROFILES["17.18"]
    assert profile_for("17.9.4a") is PROFILES["17.9"]
    with pytest.raises(ValueError, match="no payload profile for IOS XE 17.13.1"):
        profile_for("17.13.1")


@pytest.mark.parametrize("release", RELEASES)
def test_shape_follows_release(all_kinds: Intent, release: str) -> None:
    profile = PROFILES[release]
    config = render_config(all_kinds, profile, reveal=True)

    applet = config.xpath("//eem:applet[eem:name='MailOnDemand']", namespaces=P)[0]
    assert bool(applet.xpath("eem:event/eem:none-choice/eem:maxrun-set", namespaces=P)) is profile.decimal_timers
    assert bool(applet.xpath("eem:action-config/eem:action", namespaces=P)) is profile.action_config
    assert bool(applet.xpath("eem:action", namespaces=P)) is not profile.action_config
    set_actions = config.xpath("//eem:set", namespaces=P)
    assert bool(set_actions) is profile.models_action("set")


@pytest.mark.parametrize("release", RELEASES)
def test_read_back_equals_intent(all_kinds: Intent, release: str) -> None:
    profile = PROFILES[release]
    data = etree.Element(f"{{{ns.NETCONF_BASE}}}data")
    data.extend(list(render_config(all_kinds, profile, reveal=True)))

    device = read_config(data)

    assert device.unreadable == {}
    for applet in all_kinds.applets:
        assert cli.applet_lines(device.applets[applet.name]) == cli.applet_lines(applet, profile=profile), applet.name


def validator(yang_dir: Path, profile: ReleaseProfile) -> SchemaValidator:
    return SchemaValidator(find_yang_folder(yang_dir, profile), profile.name)


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("intent_path", [EXAMPLE, ALL_KINDS], ids=["example", "all-kinds"])
def test_golden_payload_validates(intent_path: Path, release: str, yang_dir: Path, smtp_password: str) -> None:
    profile = PROFILES[release]
    checker = validator(yang_dir, profile)

    problems = checker.problems(render_config(load_intent(intent_path), profile, reveal=True))

    checker.close()
    assert problems == []


def test_1712_shape_refused_for_1718(all_kinds: Intent, yang_dir: Path) -> None:
    import libyang

    target = PROFILES["17.18"]
    checker = validator(yang_dir, target)
    config = render_config(all_kinds, PROFILES["17.12"], reveal=True)
    context = libyang.Context(str(find_yang_folder(yang_dir, target)))
    for module in ("Cisco-IOS-XE-eem", "Cisco-IOS-XE-crypto"):
        context.load_module(module)

    # libyang alone accepts the deprecated nodes ...
    tree = context.parse_data_mem(etree.tostring(config[0], encoding="unicode"), "xml", no_state=True, strict=True)
    assert tree is not None
    tree.free()
    context.destroy()
    # ... the status gate does not.
    problems = checker.problems(config)
    checker.close()
    assert problems
    assert "/event/none-choice/maxrun: node is deprecated in IOS XE 17.18" in str(problems[0])


def test_1718_shape_refused_for_1712(all_kinds: Intent, yang_dir: Path) -> None:
    checker = validator(yang_dir, PROFILES["17.12"])

    problems = checker.problems(render_config(all_kinds, PROFILES["17.18"], reveal=True))

    checker.close()
    assert len(problems) == 1
    assert 'Node "maxrun-set" not found' in problems[0].message


def test_render_command_validates_release(yang_dir: Path) -> None:
    from click.testing import CliRunner

    from provisioner.cli import main

    good = CliRunner().invoke(main, ["render", str(ALL_KINDS), "--release", "17.18.1", "--yang-dir", str(yang_dir)])
    wrong = CliRunner().invoke(
        main, ["render", str(ALL_KINDS), "--release", "17.18", "--yang-dir", str(yang_dir / "17121")]
    )

    assert good.exit_code == 0, good.output
    assert "<maxrun-set>60</maxrun-set>" in good.stdout
    assert "payload validated against the YANG of IOS XE 17.18" in good.stderr
    assert wrong.exit_code == 1
    assert "has Cisco-IOS-XE-eem revision 2022-11-01, but IOS XE 17.18 uses" in wrong.stderr
