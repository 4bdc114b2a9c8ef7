"""The lab device over real SSH/NETCONF: hello, datastores, edit-config, filters, locks."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
from ncclient.transport.errors import TransportError

from payloads import namespaces as ns
from provisioner.lab import LabDevice

pytestmark = pytest.mark.integration

NC = ns.NETCONF_BASE
NSMAP = dict(ns.XPATH_PREFIXES, yl=ns.YANG_LIBRARY, ia=ns.CISCO_IA)


def connect(lab: LabDevice, timeout: int = 15) -> manager.Manager:
    """Open an ncclient session that verifies the lab's host key."""
    return manager.connect(
        host=lab.host, port=lab.port, username=lab.username, password=lab.password,
        hostkey_verify=True, hostkey_b64=lab.host_key_base64, look_for_keys=False,
        allow_agent=False, device_params={"name": "default"}, timeout=timeout,
    )


def config(body: str) -> str:
    """Wrap native XML in an edit-config <config>."""
    return (f'<config xmlns="{NC}"><native xmlns="{ns.NATIVE}">{body}</native></config>')


def manager_xml(body: str, attrs: str = "") -> str:
    return config(f'<event><manager xmlns="{ns.EEM}"{attrs}>{body}</manager></event>')


def applet(name: str, inner: str = "", attrs: str = "") -> str:
    return manager_xml(f"<applet{attrs}><name>{name}</name>{inner}</applet>")


def env(name: str, value: str, attrs: str = "") -> str:
    return f"<environment{attrs}><name>{name}</name><value>{value}</value></environment>"


OP = f'xmlns:nc="{NC}" nc:operation'


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[LabDevice]:
    with LabDevice(state_dir=tmp_path / "state", port=0, release="17.12",
                   sync_seconds=0.3) as device:
        yield device


@pytest.fixture
def session(lab: LabDevice) -> Iterator[manager.Manager]:
    with connect(lab) as m:
        yield m


def running(m: manager.Manager, filter_xml: str | None = None) -> etree._Element:
    reply = m.get_config("running", filter=("subtree", filter_xml) if filter_xml else None)
    return etree.fromstring(reply.xml.encode())


def xpath(root: etree._Element, expression: str) -> list:
    return root.xpath(expression, namespaces=NSMAP)


APPLETS = "//eem:manager/eem:applet"


# Hello and yang-library


def test_hello_capabilities_like_17_12(session: manager.Manager) -> None:
    caps = set(session.server_capabilities)
    assert "urn:ietf:params:netconf:capability:candidate:1.0" in caps
    assert "urn:ietf:params:netconf:base:1.1" in caps
    assert "urn:ietf:params:netconf:capability:rollback-on-error:1.0" in caps
    assert not any("confirmed-commit" in cap for cap in caps)
    assert not any("Cisco-IOS-XE-native" in cap for cap in caps)
    assert not any("Cisco-IOS-XE-eem" in cap for cap in caps)
    assert any(cap.startswith("http://cisco.com/yang/cisco-ia?module=cisco-ia") for cap in caps)
    assert any(cap.startswith("urn:ietf:params:netconf:capability:yang-library:1.1")
               for cap in caps)


def test_hello_of_17_9_lists_native_modules(tmp_path: Path) -> None:
    with LabDevice(state_dir=tmp_path, release="17.9") as lab, connect(lab) as m:
        caps = list(m.server_capabilities)
    assert (f"{ns.EEM}?module=Cisco-IOS-XE-eem&revision=2021-03-01") in caps
    assert (f"{ns.NATIVE}?module=Cisco-IOS-XE-native&revision=2022-07-01") in caps


def test_yang_library_lists_native_modules(session: manager.Manager) -> None:
    reply = session.get(filter=("subtree", f'<yang-library xmlns="{ns.YANG_LIBRARY}"/>'))
    root = etree.fromstring(reply.xml.encode())
    modules = {
        m.findtext(f"{{{ns.YANG_LIBRARY}}}name"): m.findtext(f"{{{ns.YANG_LIBRARY}}}revision")
        for m in xpath(root, "//yl:module-set/yl:module")
    }
    assert modules["Cisco-IOS-XE-native"] == "2023-07-01"
    assert modules["Cisco-IOS-XE-eem"] == "2022-11-01"
    assert modules["Cisco-IOS-XE-crypto"] == "2023-07-01"
    assert modules["Cisco-IOS-XE-cli-rpc"] == "2022-11-01"
    assert modules["cisco-ia"] == "2021-11-01"
    assert modules["Cisco-IOS-XE-crypto-pki-oper"] == "2022-11-01"
    assert xpath(root, "//eem:manager") == []


def test_session_ids_increase(lab: LabDevice) -> None:
    with connect(lab) as first, connect(lab) as second:
        assert int(second.session_id) == int(first.session_id) + 1


# Framing


def _read_until(channel: paramiko.Channel, marker: bytes, timeout: float = 10) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        assert time.monotonic() < deadline, f"timed out waiting for {marker!r}: {data[-200:]!r}"
        data += channel.recv(65536)
    return data


def _paramiko_channel(lab: LabDevice) -> tuple[paramiko.Transport, paramiko.Channel]:
    host_keys = paramiko.HostKeys(str(lab.known_hosts_path))
    expected = host_keys.lookup(f"[{lab.host}]:{lab.port}")
    assert expected is not None and "ssh-ed25519" in expected
    transport = paramiko.Transport(socket.create_connection((lab.host, lab.port), timeout=10))
    transport.start_client(timeout=10)
    assert transport.get_remote_server_key() == expected["ssh-ed25519"]
    transport.auth_password(lab.username, lab.password)
    channel = transport.open_session(timeout=10)
    channel.settimeout(10)
    channel.invoke_subsystem("netconf")
    return transport, channel


def test_netconf_1_0_framing(lab: LabDevice) -> None:
    transport, channel = _paramiko_channel(lab)
    try:
        hello = _read_until(channel, b"]]>]]>")
        assert b"urn:ietf:params:netconf:base:1.1" in hello
        channel.sendall(
            f'<hello xmlns="{NC}"><capabilities><capability>'
            "urn:ietf:params:netconf:base:1.0</capability></capabilities></hello>]]>]]>".encode()
        )
        channel.sendall(
            f'<rpc xmlns="{NC}" message-id="7"><get-config><source><running/></source>'
            f'<filter><native xmlns="{ns.NATIVE}"><crypto/></native></filter>'
            "</get-config></rpc>]]>]]>".encode()
        )
        reply = _read_until(channel, b"]]>]]>")
    finally:
        transport.close()
    assert not reply.startswith(b"\n#")
    root = etree.fromstring(reply[: reply.index(b"]]>]]>")])
    assert root.get("message-id") == "7"
    assert "SLA-TrustPoint" in xpath(root, "//crypto:trustpoint/crypto:id/text()")


def test_netconf_1_1_chunked_framing(lab: LabDevice) -> None:
    transport, channel = _paramiko_channel(lab)
    try:
        _read_until(channel, b"]]>]]>")
        channel.sendall(
            f'<hello xmlns="{NC}"><capabilities><capability>'
            "urn:ietf:params:netconf:base:1.1</capability></capabilities></hello>]]>]]>".encode()
        )
        rpc = f'<rpc xmlns="{NC}" message-id="8"><get-config><source><running/></source>' \
              "</get-config></rpc>".encode()
        # Two chunks for one message.
        channel.sendall(b"\n#%d\n" % 10 + rpc[:10] + b"\n#%d\n" % (len(rpc) - 10) + rpc[10:]
                        + b"\n##\n")
        reply = _read_until(channel, b"\n##\n")
    finally:
        transport.close()
    assert reply.startswith(b"\n#")
    assert b'message-id="8"' in reply


def test_wrong_password_rejected(lab: LabDevice) -> None:
    transport = paramiko.Transport(socket.create_connection((lab.host, lab.port), timeout=10))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.AuthenticationException):
            transport.auth_password(lab.username, "not-" + lab.password)
    finally:
        transport.close()


def test_unknown_host_key_rejected(lab: LabDevice, tmp_path: Path) -> None:
    other_key = paramiko.Ed25519Key.from_private_key_file(
        str(lab.state_dir / "ssh_host_ed25519_key")
    )
    assert other_key.get_base64() == lab.host_key_base64
    with pytest.raises((paramiko.SSHException, TransportError)):
        manager.connect(
            host=lab.host, port=lab.port, username=lab.username, password=lab.password,
            hostkey_verify=True, hostkey_b64="AAAAC3NzaC1lZDI1NTE5AAAAIEs0mG3MW1rVgdxPMGZlc84V"
            "jUkChWkm/7RgFEuVLvYC", look_for_keys=False, allow_agent=False,
            device_params={"name": "default"}, timeout=10,
        )


# Built-in configuration and edit-config semantics


def test_fresh_device_has_builtin_trustpoints(session: manager.Manager) -> None:
    ids = xpath(running(session), "//crypto:trustpoint/crypto:id/text()")
    assert "SLA-TrustPoint" in ids
    assert "TP-self-signed-1234567890" in ids


def test_merge_adds_and_updates(session: manager.Manager) -> None:
    session.edit_config(target="running", config=manager_xml(env("a", "1") + env("b", "2")))
    session.edit_config(target="running", config=manager_xml(env("a", "9")))
    root = running(session)
    values = {e.findtext(f"{{{ns.EEM}}}name"): e.findtext(f"{{{ns.EEM}}}value")
              for e in xpath(root, "//eem:environment")}
    assert values == {"a": "9", "b": "2"}


def test_replace_applet_drops_old_children(session: manager.Manager) -> None:
    session.edit_config(target="running", config=applet(
        "A", "<description>old</description><action><name>1</name>"
        "<syslog-option><msg>x</msg></syslog-option></action>"))
    session.edit_config(target="running", config=applet(
        "A", "<description>new</description>", attrs=f' {OP}="replace"'))
    root = running(session)
    assert xpath(root, f"{APPLETS}/eem:description/text()") == ["new"]
    assert xpath(root, f"{APPLETS}/eem:action") == []


def test_default_operation_replace_replaces_datastore(session: manager.Manager) -> None:
    session.edit_config(target="running", config=manager_xml(env("a", "1")),
                        default_operation="replace")
    root = running(session)
    assert xpath(root, "//crypto:trustpoint") == []
    assert xpath(root, "//eem:environment/eem:name/text()") == ["a"]


def test_create_existing_is_data_exists(session: manager.Manager) -> None:
    session.edit_config(target="running", config=manager_xml(env("a", "1")))
    with pytest.raises(RPCError) as raised:
        session.edit_config(target="running",
                            config=manager_xml(env("a", "2", f' {OP}="create"')))
    assert raised.value.tag == "data-exists"
    assert xpath(running(session), "//eem:environment/eem:value/text()") == ["1"]


def test_delete_missing_is_data_missing(session: manager.Manager) -> None:
    with pytest.raises(RPCError) as raised:
        session.edit_config(target="running",
                            config=manager_xml(env("nope", "", f' {OP}="delete"')))
    assert raised.value.tag == "data-missing"


def test_remove_missing_is_ok_and_delete_removes(session: manager.Manager) -> None:
    session.edit_config(target="running", config=manager_xml(env("a", "1") + env("b", "2")))
    session.edit_config(target="running",
                        config=manager_xml(f'<environment {OP}="delete"><name>a</name>'
                                           "</environment>"))
    session.edit_config(target="running",
                        config=manager_xml(f'<environment {OP}="remove"><name>zz</name>'
                                           "</environment>"))
    assert xpath(running(session), "//eem:environment/eem:name/text()") == ["b"]


def test_failed_edit_leaves_target_unchanged(session: manager.Manager) -> None:
    body = env("a", "1") + env("a", "2", f' {OP}="create"')
    with pytest.raises(RPCError):
        session.edit_config(target="running", config=manager_xml(body),
                            error_option="rollback-on-error")
    assert xpath(running(session), "//eem:environment") == []


def test_event_choice_case_replaces_other(session: manager.Manager) -> None:
    session.edit_config(target="running", config=applet(
        "A", "<event><none-choice><maxrun>60</maxrun></none-choice></event>"))
    session.edit_config(target="running", config=applet(
        "A", "<event><syslog-choice><pattern>LINK-3-UPDOWN</pattern></syslog-choice></event>"))
    root = running(session)
    assert xpath(root, f"{APPLETS}/eem:event/eem:none-choice") == []
    assert xpath(root, f"{APPLETS}/eem:event/eem:syslog-choice/eem:pattern/text()") == \
        ["LINK-3-UPDOWN"]


def test_action_choice_case_replaces_other(session: manager.Manager) -> None:
    session.edit_config(target="running", config=applet(
        "A", "<action><name>1</name><syslog-option><msg>m</msg></syslog-option></action>"))
    session.edit_config(target="running", config=applet(
        "A", "<action><name>1</name><cli-choice><command>enable</command></cli-choice></action>"))
    root = running(session)
    assert xpath(root, f"{APPLETS}/eem:action/eem:syslog-option") == []
    assert xpath(root, f"{APPLETS}/eem:action/eem:cli-choice/eem:command/text()") == ["enable"]


def test_revocation_check_leaf_list(session: manager.Manager) -> None:
    trustpoint = (f'<crypto><pki xmlns="{ns.CRYPTO}"><trustpoint><id>T</id>{{}}'
                  "</trustpoint></pki></crypto>")
    session.edit_config(target="running", config=config(trustpoint.format(
        "<revocation-check>crl</revocation-check><revocation-check>none</revocation-check>")))
    session.edit_config(target="running", config=config(trustpoint.format(
        f'<revocation-check {OP}="delete">crl</revocation-check>')))
    root = running(session)
    assert xpath(root, "//crypto:trustpoint[crypto:id='T']/crypto:revocation-check/text()") \
        == ["none"]


def test_unknown_element_has_error_path(session: manager.Manager) -> None:
    with pytest.raises(RPCError) as raised:
        session.edit_config(target="running", config=applet("X", "<foo>1</foo>"))
    assert raised.value.tag == "unknown-element"
    assert raised.value.type == "application"
    assert raised.value.path == "/native/event/manager/applet[name='X']/foo"
    assert raised.value.message
    assert xpath(running(session), APPLETS) == []


def test_config_in_wrong_namespace_rejected(session: manager.Manager) -> None:
    body = f'<config xmlns="urn:example:not-netconf"><native xmlns="{ns.NATIVE}"/></config>'
    rpc = etree.fromstring(
        f'<edit-config xmlns="{NC}"><target><running/></target>{body}</edit-config>'
    )
    with pytest.raises(RPCError) as raised:
        session.dispatch(rpc)
    assert raised.value.tag == "unknown-element"


def test_filter_in_wrong_namespace_rejected(session: manager.Manager) -> None:
    rpc = etree.fromstring(
        f'<get-config xmlns="{NC}"><source><running/></source>'
        f'<filter xmlns="urn:example:x" type="subtree"><native xmlns="{ns.NATIVE}"/></filter>'
        "</get-config>"
    )
    with pytest.raises(RPCError) as raised:
        session.dispatch(rpc)
    assert raised.value.tag == "unknown-element"


def test_unsupported_operation(session: manager.Manager) -> None:
    with pytest.raises(RPCError) as raised:
        session.dispatch(etree.fromstring('<reboot xmlns="urn:example:ops"/>'))
    assert raised.value.tag == "operation-not-supported"


# Filters


def test_subtree_filter_selects_exact_entries(session: manager.Manager) -> None:
    session.edit_config(target="running", config=manager_xml(
        env("a", "1") + env("b", "2") + env("c", "3")
        + "<applet><name>A</name><description>d</description></applet>"
        + "<applet><name>B</name></applet>"))
    root = running(session, (
        f'<native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}">'
        "<environment><name>a</name></environment><environment><name>c</name></environment>"
        "<applet><name>A</name></applet></manager></event></native>"))
    assert xpath(root, "//eem:environment/eem:name/text()") == ["a", "c"]
    assert xpath(root, "//eem:environment/eem:value/text()") == ["1", "3"]
    assert xpath(root, f"{APPLETS}/eem:name/text()") == ["A"]
    assert xpath(root, f"{APPLETS}/eem:description/text()") == ["d"]
    assert xpath(root, "//crypto:pki") == []


def test_subtree_filter_selection_node_keeps_keys(session: manager.Manager) -> None:
    session.edit_config(target="running", config=applet("A", "<description>d</description>"))
    root = running(session, (
        f'<native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}">'
        "<applet><description/></applet></manager></event></native>"))
    assert xpath(root, f"{APPLETS}/eem:name/text()") == ["A"]
    assert xpath(root, f"{APPLETS}/eem:description/text()") == ["d"]


def test_subtree_filter_no_match_is_empty(session: manager.Manager) -> None:
    root = running(session, (
        f'<native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}">'
        "<applet><name>missing</name></applet></manager></event></native>"))
    assert len(root.find(f"{{{NC}}}data")) == 0


# Locks, candidate, commit


def test_lock_denied_names_holder(lab: LabDevice) -> None:
    with connect(lab) as first, connect(lab) as second:
        first.lock("candidate")
        with pytest.raises(RPCError) as raised:
            second.lock("candidate")
        assert raised.value.tag == "lock-denied"
        assert raised.value.info is not None
        assert f"<session-id>{first.session_id}</session-id>" in \
            raised.value.info.replace("nc:", "").replace(f' xmlns="{NC}"', "")
        with pytest.raises(RPCError) as in_use:
            second.edit_config(target="candidate", config=manager_xml(env("a", "1")))
        assert in_use.value.tag == "in-use"
        second.lock("running")
        with pytest.raises(RPCError):
            first.lock("running")


def test_lock_released_when_session_closes(lab: LabDevice) -> None:
    with connect(lab) as first:
        first.lock("running")
        assert lab.locks() == {"running": int(first.session_id)}
    deadline = time.monotonic() + 5
    while lab.locks() and time.monotonic() < deadline:
        time.sleep(0.02)
    with connect(lab) as second:
        second.lock("running")


def test_candidate_lock_refused_when_dirty(lab: LabDevice) -> None:
    with connect(lab) as first, connect(lab) as second:
        first.edit_config(target="candidate", config=manager_xml(env("a", "1")))
        with pytest.raises(RPCError) as raised:
            second.lock("candidate")
        assert raised.value.tag == "lock-denied"


def test_commit_copies_candidate(session: manager.Manager) -> None:
    session.edit_config(target="candidate", config=manager_xml(env("a", "1")))
    assert xpath(running(session), "//eem:environment") == []
    session.validate(source="candidate")
    session.commit()
    assert xpath(running(session), "//eem:environment/eem:value/text()") == ["1"]


def test_discard_changes_resets_candidate(session: manager.Manager) -> None:
    session.edit_config(target="candidate", config=manager_xml(env("a", "1")))
    session.discard_changes()
    candidate = etree.fromstring(session.get_config("candidate").xml.encode())
    assert xpath(candidate, "//eem:environment") == []


def test_confirmed_commit_is_unknown(session: manager.Manager) -> None:
    session.edit_config(target="candidate", config=manager_xml(env("a", "1")))
    with pytest.raises(RPCError) as raised:
        session.dispatch(etree.fromstring(f'<commit xmlns="{NC}"><confirmed/></commit>'))
    assert raised.value.tag == "unknown-element"
    assert xpath(running(session), "//eem:environment") == []


def test_kill_session_releases_lock(lab: LabDevice) -> None:
    first = connect(lab)
    try:
        with connect(lab) as second:
            first.lock("candidate")
            second.kill_session(first.session_id)
            second.lock("candidate")
            deadline = time.monotonic() + 5
            while first.connected and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not first.connected
    finally:
        if first.connected:
            first.close_session()


def test_save_config_returns_result(lab: LabDevice, session: manager.Manager) -> None:
    session.edit_config(target="running", config=manager_xml(env("saved", "1")))
    reply = session.dispatch(etree.fromstring(f'<save-config xmlns="{ns.CISCO_IA}"/>'))
    root = etree.fromstring(reply.xml.encode())
    assert xpath(root, "//ia:result/text()")
    assert root.find(f"{{{NC}}}ok") is None
    assert "saved" in lab.startup_xml()


def test_get_schema_without_yang_dir(session: manager.Manager) -> None:
    with pytest.raises(RPCError) as raised:
        session.get_schema("Cisco-IOS-XE-eem")
    assert raised.value.tag == "data-missing"


# Persistence, RPC log, faults


def test_restart_keeps_key_password_running(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with LabDevice(state_dir=state) as lab, connect(lab) as m:
        m.edit_config(target="running", config=manager_xml(env("kept", "yes")))
        key, password = lab.host_key_base64, lab.password
    assert oct((state / "password").stat().st_mode & 0o777) == "0o600"
    with LabDevice(state_dir=state) as lab, connect(lab) as m:
        assert lab.host_key_base64 == key
        assert lab.password == password
        assert xpath(running(m), "//eem:environment/eem:name/text()") == ["kept"]
        known = (state / "known_hosts").read_text()
        assert known.startswith(f"[127.0.0.1]:{lab.port} ssh-ed25519 {key}")


def test_inventory_file_shape(lab: LabDevice) -> None:
    text = lab.inventory_path.read_text()
    assert text == (
        "# Written by `provisioner lab`; targets the lab device in this folder.\n"
        "hosts:\n  lab:\n    hostname: 127.0.0.1\n"
        f"    port: {lab.port}\n    username: admin\n    password_file: password\n"
        "    known_hosts: known_hosts\n    platform: iosxe\n"
    )
    assert (lab.inventory_path.parent / "password").read_text().strip() == lab.password


def test_rpc_log_records_without_values(lab: LabDevice, session: manager.Manager) -> None:
    secret_value = "user:S3cretAppPassw0rd@smtp.example.com"
    session.edit_config(target="candidate", config=manager_xml(env("_email_server",
                                                                   secret_value)))
    session.commit()
    with pytest.raises(RPCError):
        session.edit_config(target="running", config=applet("X", "<bogus/>"))
    records = lab.rpc_log()
    operations = [r["operation"] for r in records]
    assert operations[-3:] == ["edit-config", "commit", "edit-config"]
    assert records[-3]["target"] == "candidate"
    assert records[-1]["ok"] is False
    assert records[-1]["error_tag"] == "unknown-element"
    assert all(r["session_id"] == int(session.session_id) for r in records)
    text = lab.rpc_log_path.read_text()
    assert [json.loads(line) for line in text.splitlines()] == records
    assert secret_value not in text
    assert "S3cretAppPassw0rd" not in text
    assert lab.password not in text


def test_mutate_after_commit(lab: LabDevice, session: manager.Manager) -> None:
    lab.faults.mutate_after_commit.append((
        ("/nc:data/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_to']"
        "/eem:value"), "changed@example.com"))
    session.edit_config(target="candidate", config=manager_xml(env("_email_to",
                                                                   "noc@example.com")))
    session.commit()
    assert xpath(running(session), "//eem:environment/eem:value/text()") == \
        ["changed@example.com"]
    candidate = etree.fromstring(session.get_config("candidate").xml.encode())
    assert xpath(candidate, "//eem:environment/eem:value/text()") == ["changed@example.com"]


def test_mutate_with_path_from_native_root(lab: LabDevice, session: manager.Manager) -> None:
    lab.faults.mutate_after_commit.append((
        "/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_to']/eem:value",
        "changed@example.com"))
    session.edit_config(target="candidate", config=manager_xml(env("_email_to", "a@b.c")))
    session.commit()
    assert xpath(running(session), "//eem:environment/eem:value/text()") == \
        ["changed@example.com"]


def test_drop_after_rpcs(lab: LabDevice) -> None:
    lab.faults.drop_after_rpcs = 2
    m = connect(lab)
    m.get_config("running")
    m.get_config("running")
    deadline = time.monotonic() + 5
    while m.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not m.connected
    assert [r["operation"] for r in lab.rpc_log()] == ["get-config", "get-config"]


def test_latency(lab: LabDevice, session: manager.Manager) -> None:
    lab.faults.latency_ms = 300
    started = time.monotonic()
    session.get_config("running")
    assert time.monotonic() - started >= 0.3


def test_injected_failure(lab: LabDevice, session: manager.Manager) -> None:
    lab.faults.fail_operations["commit"] = "operation-failed"
    with pytest.raises(RPCError) as raised:
        session.commit()
    assert raised.value.tag == "operation-failed"


def test_non_loopback_host_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        LabDevice(state_dir=tmp_path, host="0.0.0.0")
