"""config-ios-cli-rpc and cisco-ia sync on the lab device, through ncclient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

from payloads import namespaces as ns
from provisioner.lab import LabDevice

pytestmark = pytest.mark.integration

NC = ns.NETCONF_BASE
NSMAP = dict(ns.XPATH_PREFIXES, cli=ns.CLI_RPC, ia=ns.CISCO_IA)
SYNC_SECONDS = 0.5

MAIL_LINE = ('action 0010 mail server "$_email_server" to "$_email_to" from "$_email_from" '
             'cc "$_email_cc" subject "EEM test" body "test" source-interface Loopback0 '
             'port 587 secure tls')


def connect(lab: LabDevice) -> manager.Manager:
    return manager.connect(
        host=lab.host, port=lab.port, username=lab.username, password=lab.password,
        hostkey_verify=True, hostkey_b64=lab.host_key_base64, look_for_keys=False,
        allow_agent=False, device_params={"name": "default"}, timeout=15,
    )


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabDevice]:
    with LabDevice(state_dir=tmp_path / "state", sync_seconds=SYNC_SECONDS) as device:
        yield device


@pytest.fixture
def session(lab: LabDevice) -> Iterator[manager.Manager]:
    with connect(lab) as m:
        yield m


def cli(m: manager.Manager, text: str, patterns: bool = True) -> etree._Element:
    error_patterns = (
        "<error-patterns><error-tag>invalid-input</error-tag>"
        "<error-pattern>% Invalid input</error-pattern></error-patterns>" if patterns else ""
    )
    rpc = etree.fromstring(
        f'<config-ios-cli-rpc xmlns="{ns.CLI_RPC}"><config-clis>{escape(text)}</config-clis>'
        f"<timeout>60</timeout>{error_patterns}</config-ios-cli-rpc>"
    )
    return etree.fromstring(m.dispatch(rpc).xml.encode())


def is_syncing(m: manager.Manager) -> bool:
    reply = etree.fromstring(
        m.dispatch(etree.fromstring(f'<is-syncing xmlns="{ns.CISCO_IA}"/>')).xml.encode()
    )
    text = reply.xpath("//ia:result/text()", namespaces=NSMAP)[0]
    assert text in ("Sync in progress", "No sync in progress")
    return text == "Sync in progress"


def wait_for_sync(m: manager.Manager, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while is_syncing(m):
        assert time.monotonic() < deadline, "sync did not finish"
        time.sleep(0.05)


def running(m: manager.Manager) -> etree._Element:
    return etree.fromstring(m.get_config("running").xml.encode())


def xpath(root: etree._Element, expression: str) -> list:
    return root.xpath(expression, namespaces=NSMAP)


def test_mail_action_stored_but_invisible(lab: LabDevice, session: manager.Manager) -> None:
    reply = cli(session, "event manager applet Mail\n event none maxrun 60\n"
                f" action 0005 syslog msg \"started\"\n {MAIL_LINE}\nend")
    assert xpath(reply, "//cli:lineno") == []
    assert xpath(reply, "//cli:result")
    wait_for_sync(session)
    root = running(session)
    actions = xpath(root, "//eem:applet[eem:name='Mail']/eem:action/eem:name/text()")
    assert actions == ["0005"]
    assert b"mail" not in etree.tostring(root)
    assert lab.unmodelled()["applet_actions"] == {"Mail": {"0010": MAIL_LINE}}


def test_no_action_removes_unmodelled(lab: LabDevice, session: manager.Manager) -> None:
    cli(session, f"event manager applet Mail\n {MAIL_LINE}\nend")
    cli(session, "event manager applet Mail\n no action 0010\nend")
    assert lab.unmodelled()["applet_actions"] == {}


def test_error_stops_at_bad_line(lab: LabDevice, session: manager.Manager) -> None:
    reply = cli(session, "event manager environment a 1\n"
                         "event manager bogus x\n"
                         "event manager environment b 2\n")
    assert xpath(reply, "//cli:lineno/text()") == ["2"]
    assert xpath(reply, "//cli:error-string/text()") == \
        ["% Invalid input detected at '^' marker."]
    assert xpath(reply, "//cli:error-tag/text()") == ["invalid-input"]
    result = xpath(reply, "//cli:result/text()")[0]
    assert "event manager bogus x\n              ^" in result
    wait_for_sync(session)
    names = xpath(running(session), "//eem:environment/eem:name/text()")
    assert names == ["a"]
    cli_records = [r for r in lab.rpc_log() if r["operation"] == "config-ios-cli-rpc"]
    assert cli_records[-1]["ok"] is False
    assert cli_records[-1]["error_tag"] == "invalid-input"


def test_sync_hides_change_until_done(session: manager.Manager) -> None:
    started = time.monotonic()
    cli(session, "event manager environment _email_to noc@example.com")
    assert is_syncing(session)
    if time.monotonic() - started < SYNC_SECONDS:
        assert xpath(running(session), "//eem:environment") == []
    wait_for_sync(session)
    assert xpath(running(session), "//eem:environment/eem:value/text()") == ["noc@example.com"]
    assert not is_syncing(session)


def test_unmodelled_change_starts_no_sync(session: manager.Manager) -> None:
    cli(session, f"event manager applet Mail\n {MAIL_LINE}\nend")
    wait_for_sync(session)
    cli(session, f"event manager applet Mail\n {MAIL_LINE}\nend")
    assert not is_syncing(session)


def test_cli_rpc_does_not_touch_dirty_candidate(session: manager.Manager) -> None:
    session.edit_config(target="candidate", config=(
        f'<config xmlns="{NC}"><native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}">'
        "<environment><name>c</name><value>1</value></environment></manager></event></native>"
        "</config>"))
    cli(session, "event manager environment r 1")
    wait_for_sync(session)
    candidate = etree.fromstring(session.get_config("candidate").xml.encode())
    assert xpath(candidate, "//eem:environment/eem:name/text()") == ["c"]
    assert xpath(running(session), "//eem:environment/eem:name/text()") == ["r"]


def test_certificate_needs_trustpoint(lab: LabDevice, session: manager.Manager) -> None:
    reply = cli(session, "crypto pki certificate chain CA-X\n certificate ca 01\n"
                         "  30820000 A0030201\n  quit\nend")
    assert xpath(reply, "//cli:lineno/text()") == ["1"]
    assert lab.unmodelled()["certificates"] == {}


def test_certificate_hex_stored(lab: LabDevice, session: manager.Manager) -> None:
    reply = cli(session, "crypto pki trustpoint CA-X\n enrollment terminal\n"
                         " revocation-check none\n chain-validation stop\n"
                         "crypto pki certificate chain CA-X\n certificate ca 0A1B\n"
                         "  30820000 A0030201\n  0102\n  quit\nend")
    assert xpath(reply, "//cli:lineno") == []
    assert lab.unmodelled()["certificates"] == {"CA-X": {"0A1B": "30820000A00302010102"}}
    wait_for_sync(session)
    root = running(session)
    trustpoint = "//crypto:trustpoint[crypto:id='CA-X']"
    assert xpath(root, f"{trustpoint}/crypto:enrollment/crypto:enrollment-method/"
                       "crypto:terminal")
    assert xpath(root, f"{trustpoint}/crypto:revocation-check/text()") == ["none"]
    assert xpath(root, f"{trustpoint}/crypto:chain-validation/crypto:stop")
    assert b"30820000" not in etree.tostring(root)


def test_netconf_delete_applet_drops_mail(lab: LabDevice, session: manager.Manager) -> None:
    cli(session, f"event manager applet Mail\n {MAIL_LINE}\nend")
    cli(session, f"event manager applet Keep\n {MAIL_LINE}\nend")
    wait_for_sync(session)
    session.edit_config(target="candidate", config=(
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><native xmlns="{ns.NATIVE}"><event>'
        f'<manager xmlns="{ns.EEM}"><applet nc:operation="delete"><name>Mail</name></applet>'
        "</manager></event></native></config>"))
    assert "Mail" in lab.unmodelled()["applet_actions"]
    session.commit()
    assert list(lab.unmodelled()["applet_actions"]) == ["Keep"]


def test_replace_manager_drops_all_mail(lab: LabDevice, session: manager.Manager) -> None:
    cli(session, f"event manager applet Mail\n {MAIL_LINE}\nend")
    wait_for_sync(session)
    session.edit_config(target="running", config=(
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><native xmlns="{ns.NATIVE}"><event>'
        f'<manager xmlns="{ns.EEM}" nc:operation="replace"><applet><name>Mail</name></applet>'
        "</manager></event></native></config>"))
    assert lab.unmodelled()["applet_actions"] == {}


def test_unmodelled_persists_across_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with LabDevice(state_dir=state, sync_seconds=0.05) as lab, connect(lab) as m:
        cli(m, f"event manager applet Mail\n {MAIL_LINE}\nend")
    with LabDevice(state_dir=state) as lab:
        assert lab.unmodelled()["applet_actions"] == {"Mail": {"0010": MAIL_LINE}}
        assert "Mail" in lab.running_xml()


def test_cli_values_stay_out_of_rpc_log(lab: LabDevice, session: manager.Manager) -> None:
    secret = "user:Pa55-w0rd-Secret@smtp.example.com"
    cli(session, f"event manager environment _email_server {secret}")
    records = lab.rpc_log()
    assert records[-1]["operation"] == "config-ios-cli-rpc"
    assert records[-1]["ok"] is True
    text = lab.rpc_log_path.read_text()
    assert secret not in text
    assert "Pa55-w0rd-Secret" not in text


def test_missing_config_clis_rejected(session: manager.Manager) -> None:
    with pytest.raises(RPCError) as raised:
        session.dispatch(etree.fromstring(f'<config-ios-cli-rpc xmlns="{ns.CLI_RPC}"/>'))
    assert raised.value.tag == "missing-element"


@pytest.mark.parametrize("line", [
    "event manager environment",
    "event manager applet A extra",
    "crypto pki trustpoint",
    "show running-config",
    " action 1 mail server x",
])
def test_invalid_lines_rejected(session: manager.Manager, line: str) -> None:
    reply = cli(session, line, patterns=False)
    assert xpath(reply, "//cli:lineno/text()") == ["1"]
    assert xpath(reply, "//cli:error-string")


def test_pki_oper_lists_installed_certificate(session: manager.Manager) -> None:
    cli(session, "crypto pki trustpoint CA-X\n enrollment terminal\n"
                 "crypto pki certificate chain CA-X\n certificate ca 01\n  3082\n  quit\nend")
    reply = session.get(filter=("subtree", (f'<crypto-pki-oper-data xmlns="{ns.PKI_OPER}">'
                                "<crypto-pki-bundle><label>CA-X</label></crypto-pki-bundle>"
                                "</crypto-pki-oper-data>")))
    root = etree.fromstring(reply.xml.encode())
    oper = {"o": ns.PKI_OPER}
    assert root.xpath("//o:crypto-pki-bundle/o:label/text()", namespaces=oper) == ["CA-X"]
    assert root.xpath("//o:cert/o:asc-tp/o:tp-name/text()", namespaces=oper) == ["CA-X"]
