"""Rendering the intent into Cisco-IOS-XE-native XML, subtree filters and IOS CLI lines."""

from __future__ import annotations

from pathlib import Path

import libyang
import pytest
from lxml import etree

from models.intent import Intent, load_intent
from payloads import cli
from payloads import namespaces as ns
from payloads.filters import owned_filter
from payloads.native_xml import owned_objects, render_config
from payloads.readback import read_config
from payloads.releases import profile_for

P = ns.XPATH_PREFIXES


@pytest.fixture
def intent(example_intent_path: Path, smtp_password: str) -> Intent:
    return load_intent(example_intent_path)


def test_config_uses_1712_paths(intent: Intent) -> None:
    config = render_config(intent)

    assert config.tag == f"{{{ns.NETCONF_BASE}}}config"
    names = config.xpath("ios:native/ios:event/eem:manager/eem:environment/eem:name/text()", namespaces=P)
    assert names == ["_email_from", "_email_to", "_email_server"]
    applet = config.xpath("ios:native/ios:event/eem:manager/eem:applet", namespaces=P)[0]
    assert applet.xpath("eem:event/eem:none-choice", namespaces=P)
    assert applet.xpath("eem:description/text()", namespaces=P) == ["Send a test e-mail over SMTP with STARTTLS on port 587"]
    # The mail action is in no YANG model, so the applet carries no action element.
    assert applet.xpath("eem:action", namespaces=P) == []
    trustpoints = config.xpath("ios:native/ios:crypto/crypto:pki/crypto:trustpoint", namespaces=P)
    assert [tp.findtext(f"{{{ns.CRYPTO}}}id") for tp in trustpoints] == ["CA-GTS-1C3", "CA-GTS-Root-R1", "CA-GlobalSign-Root"]
    for tp in trustpoints:
        assert tp.xpath("crypto:enrollment/crypto:enrollment-method/crypto:terminal", namespaces=P)
        assert tp.xpath("crypto:revocation-check/text()", namespaces=P) == ["none"]
        assert tp.xpath("crypto:chain-validation/crypto:stop", namespaces=P)


def test_config_masks_password_unless_revealed(intent: Intent, smtp_password: str) -> None:
    masked = etree.tostring(render_config(intent), encoding="unicode")
    revealed = etree.tostring(render_config(intent, reveal=True), encoding="unicode")

    assert smtp_password not in masked
    assert "eem.alerts.example:********@smtp.gmail.com" in masked
    assert f"eem.alerts.example:{smtp_password}@smtp.gmail.com" in revealed


def test_filter_selects_each_owned_object(intent: Intent) -> None:
    subtree = owned_filter(owned_objects(intent))

    assert subtree.get("type") == "subtree"
    assert subtree.tag == f"{{{ns.NETCONF_BASE}}}filter"
    names = subtree.xpath("ios:native/ios:event/eem:manager/eem:environment/eem:name/text()", namespaces=P)
    assert names == ["_email_from", "_email_to", "_email_server", "_provisioner_cli_digest"]
    applets = subtree.xpath("ios:native/ios:event/eem:manager/eem:applet", namespaces=P)
    assert [len(applet) for applet in applets] == [1]
    ids = subtree.xpath("ios:native/ios:crypto/crypto:pki/crypto:trustpoint/crypto:id/text()", namespaces=P)
    assert ids == ["CA-GTS-1C3", "CA-GTS-Root-R1", "CA-GlobalSign-Root"]


def test_cli_lines_match_tech_note(intent: Intent, smtp_password: str) -> None:
    lines = cli.intent_lines(intent)

    assert "event manager environment _email_server eem.alerts.example:********@smtp.gmail.com" in lines
    assert (
        ' action 0010 mail server "$_email_server" to "$_email_to" from "$_email_from" '
        'subject "This is my email subject" body "This is my email body." port 587 secure tls'
    ) in lines
    assert lines[-4:] == ["crypto pki trustpoint CA-GlobalSign-Root", " enrollment terminal", " revocation-check none", " chain-validation stop"]
    assert all(smtp_password not in line for line in lines)


def test_cli_rpc_text_carries_only_unmodelled_lines(intent: Intent, smtp_password: str) -> None:
    text = cli.cli_rpc_text(cli.unmodelled_lines(intent))
    lines = text.splitlines()

    assert lines[0] == "event manager applet SendSecureEmailEEM"
    assert lines[1].startswith(" action 0010 mail server")
    assert lines[-2].startswith("event manager environment _provisioner_cli_digest ")
    assert lines[-1] == "end"
    assert "event none" not in text
    assert smtp_password not in text


def test_digest_changes_with_lines(intent: Intent) -> None:
    lines = cli.unmodelled_lines(intent)

    assert cli.cli_digest(lines) == cli.cli_digest(list(lines))
    assert cli.cli_digest(lines) != cli.cli_digest([*lines[:-1], lines[-1] + " "])


def test_readback_of_rendered_config_equals_intent(intent: Intent) -> None:
    rendered = render_config(intent, reveal=True)
    data = etree.Element(f"{{{ns.NETCONF_BASE}}}data")
    data.extend(list(rendered))

    device = read_config(data)

    assert device.environment["_email_to"] == "noc@example.com"
    applet = intent.applets[0]
    assert cli.applet_lines(device.applets[applet.name]) == cli.applet_lines(applet, profile=profile_for("17.12"))
    assert list(device.trustpoints.values()) == list(intent.trustpoints)
    assert device.unreadable == {}


def test_unknown_release_is_rejected() -> None:
    with pytest.raises(ValueError, match="no payload profile for IOS XE 16.9.3; known release trains: 17.9, 17.12, 17.15, 17.18"):
        profile_for("16.9.3")


def test_config_validates_against_1712_yang(intent: Intent, yang_dir: Path) -> None:
    context = libyang.Context(str(yang_dir / "17121"))
    for module in ("Cisco-IOS-XE-eem", "Cisco-IOS-XE-crypto"):
        context.load_module(module)
    native = render_config(intent, profile_for("17.12.1"), reveal=True)[0]

    tree = context.parse_data_mem(
        etree.tostring(native, encoding="unicode"), "xml", no_state=True, strict=True, validate_present=True
    )

    assert tree is not None
    printed = tree.print_mem("xml", with_siblings=True)
    assert "SendSecureEmailEEM" in printed and "CA-GlobalSign-Root" in printed
    tree.free()
    context.destroy()


def test_config_with_unknown_node_fails_yang(intent: Intent, yang_dir: Path) -> None:
    # Guards the test above: the same check must reject a node 17.12 does not have.
    context = libyang.Context(str(yang_dir / "17121"))
    for module in ("Cisco-IOS-XE-eem", "Cisco-IOS-XE-crypto"):
        context.load_module(module)
    native = render_config(intent)[0]
    none_choice = native.xpath(".//eem:none-choice", namespaces=P)[0]
    etree.SubElement(none_choice, f"{{{ns.EEM}}}maxrun-set").text = "60"

    with pytest.raises(libyang.LibyangError):
        context.parse_data_mem(etree.tostring(native, encoding="unicode"), "xml", no_state=True, strict=True)
    context.destroy()


ALL_KINDS = Path(__file__).resolve().parent.parent / "data" / "intents" / "all-kinds.yaml"


@pytest.fixture
def all_kinds(smtp_password: str) -> Intent:
    return load_intent(ALL_KINDS)


def test_all_kinds_cover_every_kind(all_kinds: Intent) -> None:
    from models.actions import ACTION_KINDS
    from models.events import EVENT_KINDS

    events = {applet.event.kind for applet in all_kinds.applets if applet.event is not None}
    actions = {action.kind for applet in all_kinds.applets for action in applet.actions}

    assert events == set(EVENT_KINDS)
    assert actions == set(ACTION_KINDS)


def test_all_kinds_split_between_yang_and_cli(all_kinds: Intent) -> None:
    profile = profile_for("17.12")
    lines = cli.unmodelled_lines(all_kinds, profile)
    config = render_config(all_kinds, profile)

    # 17.12 models neither `event cli` nor set/while/foreach/puts/context; they go through the CLI.
    assert ' event cli pattern "^reload" sync no skip no' in lines
    assert ' action 0050 set subject "Link down on $port"' in lines
    assert ' action 0060 string trim "xxpaddedxx" "x"' in lines
    assert not any(" syslog " in line for line in lines)
    modelled = config.xpath("//eem:action/eem:name/text()", namespaces=P)
    assert len(modelled) == sum(1 for applet in all_kinds.applets for action in applet.actions if cli.is_modelled(action, profile))
    assert config.xpath("//eem:applet[eem:name='ReloadGuard']/eem:event", namespaces=P) == []


def test_all_kinds_read_back_equal(all_kinds: Intent) -> None:
    profile = profile_for("17.12")
    data = etree.Element(f"{{{ns.NETCONF_BASE}}}data")
    data.extend(list(render_config(all_kinds, profile, reveal=True)))

    device = read_config(data)

    assert device.unreadable == {}
    for applet in all_kinds.applets:
        assert cli.applet_lines(device.applets[applet.name]) == cli.applet_lines(applet, profile=profile), applet.name


def test_all_kinds_validate_against_1712_yang(all_kinds: Intent, yang_dir: Path) -> None:
    context = libyang.Context(str(yang_dir / "17121"))
    for module in ("Cisco-IOS-XE-eem", "Cisco-IOS-XE-crypto"):
        context.load_module(module)
    native = render_config(all_kinds, profile_for("17.12"), reveal=True)[0]

    tree = context.parse_data_mem(
        etree.tostring(native, encoding="unicode"), "xml", no_state=True, strict=True, validate_present=True
    )

    assert tree is not None
    tree.free()
    context.destroy()


def test_cli_event_sync_no_always_names_skip() -> None:
    from models.events import Event

    event = Event.model_validate({"cli": {"pattern": "^reload"}})

    assert cli.event_line(event) == 'event cli pattern "^reload" sync no skip no'
    assert cli.event_line(Event.model_validate({"cli": {"pattern": "^reload", "sync": "yes"}})) == 'event cli pattern "^reload" sync yes'
