"""config-ios-cli-rpc and cisco-ia sync on the lab device, through ncclient."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

from models.intent import load_intent
from payloads import certchain
from payloads import cli as cli_payload
from payloads import namespaces as ns
from payloads import releases
from provisioner.lab import LabDevice
from tests.certificates import make_certificate

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


def pki_oper_serials(m: manager.Manager, trustpoint: str) -> list[str]:
    reply = m.get(filter=("subtree", (f'<crypto-pki-oper-data xmlns="{ns.PKI_OPER}">'
                                      f"<crypto-pki-bundle><label>{trustpoint}</label></crypto-pki-bundle>"
                                      "</crypto-pki-oper-data>")))
    root = etree.fromstring(reply.xml.encode())
    return root.xpath("//o:cert/o:serial-number/text()", namespaces={"o": ns.PKI_OPER})


def install_two_certificates(m: manager.Manager) -> None:
    certificates = [make_certificate(f"Root {number}", 30)[0] for number in (1, 2)]
    lines = ["crypto pki trustpoint CA-X", " enrollment terminal"]
    for certificate in certificates:
        lines.extend(certchain.certificate_chain_lines("CA-X", certificate.public_bytes(Encoding.DER)))
    reply = cli(m, "\n".join([*lines, "end"]))
    assert xpath(reply, "//cli:lineno") == []


@pytest.mark.parametrize("keyword", ["ca ", ""])
def test_no_certificate_removes_one(lab: LabDevice, session: manager.Manager, keyword: str) -> None:
    install_two_certificates(session)
    first, second = lab.unmodelled()["certificates"]["CA-X"]

    reply = cli(session, f"crypto pki certificate chain CA-X\n no certificate {keyword}{first.lower()}\nend")

    assert xpath(reply, "//cli:lineno") == []
    assert list(lab.unmodelled()["certificates"]["CA-X"]) == [second]
    assert [int(serial, 16) for serial in pki_oper_serials(session, "CA-X")] == [int(second, 16)]
    wait_for_sync(session)
    assert xpath(running(session), "//crypto:chain[crypto:name='CA-X']/crypto:certificate/crypto:serial/text()") == [second]


def test_no_certificate_last_drops_chain(lab: LabDevice, session: manager.Manager) -> None:
    before = running(session)
    cli(session, "crypto pki trustpoint CA-X\n enrollment terminal\n"
                 "crypto pki certificate chain CA-X\n certificate ca 0A1B\n  3082\n  quit\nend")

    reply = cli(session, "crypto pki certificate chain CA-X\n no certificate ca 0A1B\nend")

    assert xpath(reply, "//cli:lineno") == []
    assert lab.unmodelled()["certificates"] == {}
    assert pki_oper_serials(session, "CA-X") == []
    wait_for_sync(session)
    assert xpath(running(session), "//crypto:chain/crypto:name/text()") == xpath(before, "//crypto:chain/crypto:name/text()")


def test_no_certificate_unknown_serial_fails(lab: LabDevice, session: manager.Manager) -> None:
    install_two_certificates(session)
    stored = lab.unmodelled()["certificates"]

    reply = cli(session, "crypto pki certificate chain CA-X\n no certificate ca 0BAD\nend")

    line, message, _ = error_of(reply)
    assert line == 2
    assert message == "% Certificate 0BAD not found in chain CA-X."
    assert lab.unmodelled()["certificates"] == stored
    assert len(pki_oper_serials(session, "CA-X")) == 2


# Every applet line payloads/cli.py renders, and the parser's strictness on applet lines.

ALL_KINDS = Path(__file__).resolve().parent.parent / "data" / "intents" / "all-kinds.yaml"
INVALID = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."


def error_of(reply: etree._Element) -> tuple[int, str, str]:
    """Return the lineno, error-string and result text of a failed cli-rpc reply."""
    lineno = xpath(reply, "//cli:lineno/text()")
    assert lineno, "the cli-rpc reply reports no error"
    return (int(lineno[0]), xpath(reply, "//cli:error-string/text()")[0],
            xpath(reply, "//cli:result/text()")[0])


def test_every_rendered_applet_line_is_accepted(lab: LabDevice, session: manager.Manager,
                                                smtp_password: str) -> None:
    intent = load_intent(ALL_KINDS)
    text = "\n".join(line for applet in intent.applets for line in cli_payload.applet_lines(applet))

    reply = cli(session, text + "\nend")

    assert xpath(reply, "//cli:lineno") == [], xpath(reply, "//cli:result/text()")
    wait_for_sync(session)
    root = running(session)
    stored = lab.unmodelled()
    for applet in intent.applets:
        full = [line.strip() for line in cli_payload.applet_lines(applet)[1:]]
        modelled = [line.strip() for line in
                    cli_payload.applet_lines(applet, profile=releases.IOS_XE_17_12)[1:]]
        stored_lines = [*stored["applet_actions"].get(applet.name, {}).values()]
        if applet.name in stored["applet_events"]:
            stored_lines.append(stored["applet_events"][applet.name])
        # The lab's 17.12 schema and the payload profile agree on what is modelled.
        assert sorted(stored_lines) == sorted(line for line in full if line not in modelled), applet.name
        labels = [action.label for action in applet.actions
                  if cli_payload.action_line(action) in modelled]
        path = f"//eem:applet[eem:name='{applet.name}']/eem:action/eem:name/text()"
        assert xpath(root, path) == labels, applet.name


@pytest.mark.parametrize(("line", "column", "message"), [
    (' action 0020 set subject "Link down', 25, INVALID),          # unbalanced quote
    (' action 0020 if "$a" equals "1"', 21, INVALID),              # bad operator
    (' action 0020 if "$a" eq', 23, INCOMPLETE),                   # too few arguments
    (' action 0020 bogus "x"', 13, INVALID),                       # unknown action keyword
    (' action 0020 string reverse "x"', 20, INVALID),              # unknown string subcommand
    (' action 0020 set subject "a"b', 28, INVALID),                # text glued to a quote
    (' action 0020 set sub"ject x', 20, INVALID),                  # quote inside a word
    (' action 0020 set subject "a" "b"', 29, INVALID),             # too many arguments
    (' action 0020 wait 0', 18, INVALID),                          # below the range
    (' action 0020 else now', 18, INVALID),                        # a flag takes no argument
    (' action 0020 snmp-trap intdata1 1 intdata1 2', 34, INVALID),  # option given twice
    (' action 0020 syslog priority loud msg "x"', 29, INVALID),     # unknown priority
    (' action 0020 syslog priority errors', 35, INCOMPLETE),       # msg is required
    (' event timer hourly time 5', 13, INVALID),                   # unknown timer kind
    (' event track 10 state sideways', 22, INVALID),               # unknown state
    (' event routing network 192.0.2.1 type add', 23, INVALID),    # prefix without length
    (' event ipsla group-name "g" reaction-type loss', 42, INVALID),  # unknown reaction
    (' event cli pattern "^reload" sync yes skip no', 38, INVALID),  # skip needs sync no
    (' event cli pattern "^reload" sync no', 36, INCOMPLETE),      # sync no needs skip
    (' event timer cron cron-entry "0 2 * *"', 29, INVALID),       # four cron fields
    (' event bogus', 7, INVALID),
])
def test_malformed_applet_line_stops_with_caret(lab: LabDevice, session: manager.Manager,
                                                line: str, column: int, message: str) -> None:
    reply = cli(session, f'event manager applet A\n action 0010 syslog msg "ok"\n{line}\n'
                         ' action 0030 set x "never"\nend')

    lineno, error, result = error_of(reply)
    assert (lineno, error) == (3, message)
    assert result == f"{line}\n{' ' * column}^\n{message}\n"
    assert "0030" not in str(lab.unmodelled())
    wait_for_sync(session)
    # The lines before the bad one stay applied.
    assert xpath(running(session), "//eem:applet[eem:name='A']/eem:action/eem:name/text()") == ["0010"]


@pytest.mark.parametrize("header", [
    "event manager applet A class a",
    "event manager applet A authorization none",
    "event manager applet A trap trap",
    "no event manager applet A trap",
])
def test_malformed_applet_header_rejected(session: manager.Manager, header: str) -> None:
    lineno, error, _ = error_of(cli(session, header))
    assert (lineno, error) == (1, INVALID)


def test_applet_header_options_are_modelled(session: manager.Manager) -> None:
    reply = cli(session, "event manager applet A class B authorization bypass trap\n"
                         " event none\nend")

    assert xpath(reply, "//cli:lineno") == []
    wait_for_sync(session)
    applet = "//eem:applet[eem:name='A']"
    root = running(session)
    assert xpath(root, f"{applet}/eem:class/text()") == ["B"]
    assert xpath(root, f"{applet}/eem:authorization/text()") == ["bypass"]
    assert xpath(root, f"{applet}/eem:trap")


def test_event_kinds_replace_each_other(lab: LabDevice, session: manager.Manager) -> None:
    applet = "//eem:applet[eem:name='A']/eem:event"
    cli(session, 'event manager applet A\n event syslog occurs 2 pattern "DOWN" period 60\nend')
    wait_for_sync(session)
    assert xpath(running(session), f"{applet}/eem:syslog-choice/eem:occurs/text()") == ["2"]

    cli(session, 'event manager applet A\n event cli pattern "^reload" sync yes\nend')
    wait_for_sync(session)
    assert xpath(running(session), applet) == []
    assert lab.unmodelled()["applet_events"] == {"A": 'event cli pattern "^reload" sync yes'}

    cli(session, "event manager applet A\n event routing network 2001:db8::/32 type add\nend")
    wait_for_sync(session)
    assert xpath(running(session), f"{applet}/eem:routing/eem:network/text()") == ["2001:db8::/32"]
    assert lab.unmodelled()["applet_events"] == {}


def test_no_action_removes_from_either_store(lab: LabDevice, session: manager.Manager) -> None:
    cli(session, 'event manager applet A\n action 0010 set x "1"\n action 0020 wait 5\n'
                 ' action 0030 string trim "x" "y"\nend')
    assert set(lab.unmodelled()["applet_actions"]["A"]) == {"0010", "0030"}

    reply = cli(session, "event manager applet A\n no action 0010\n no action 0020\n"
                         " no action 0030\nend")

    assert xpath(reply, "//cli:lineno") == []
    wait_for_sync(session)
    assert lab.unmodelled()["applet_actions"] == {}
    assert xpath(running(session), "//eem:applet[eem:name='A']/eem:action") == []


def test_label_moves_between_stores(lab: LabDevice, session: manager.Manager) -> None:
    cli(session, 'event manager applet A\n action 0010 set x "1"\nend')
    cli(session, 'event manager applet A\n action 0010 string trim "x"\nend')
    wait_for_sync(session)
    assert lab.unmodelled()["applet_actions"] == {}
    assert xpath(running(session), "//eem:action[eem:name='0010']/eem:string/eem:trim/text()") == ["x"]

    cli(session, 'event manager applet A\n action 0010 puts "hello"\nend')
    wait_for_sync(session)
    assert lab.unmodelled()["applet_actions"] == {"A": {"0010": 'action 0010 puts "hello"'}}
    assert xpath(running(session), "//eem:action[eem:name='0010']") == []


def test_netconf_delete_applet_drops_cli_event(lab: LabDevice, session: manager.Manager) -> None:
    cli(session, 'event manager applet Guard\n event cli pattern "^reload" sync no skip yes\nend')
    assert "Guard" in lab.unmodelled()["applet_events"]

    session.edit_config(target="candidate", config=(
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><native xmlns="{ns.NATIVE}"><event>'
        f'<manager xmlns="{ns.EEM}"><applet nc:operation="delete"><name>Guard</name></applet>'
        "</manager></event></native></config>"))
    session.commit()

    assert lab.unmodelled()["applet_events"] == {}
