"""RFC 7951 JSON for RESTCONF: edits, filters and replies, checked against libyang's own parse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from models.intent import load_intent
from payloads import namespaces as ns
from payloads import restconf_json as rj
from payloads.filters import intent_filter, managed_lists_filter, pki_oper_filter
from payloads.native_xml import owned_objects, render_config, render_edit
from payloads.objects import ObjectKey
from payloads.releases import profile_for
from payloads.readback import read_config

REPO = Path(__file__).resolve().parents[2]
INTENTS = {
    "secure-email": REPO / "examples" / "secure-email.yaml",
    "all-kinds": REPO / "tests" / "data" / "intents" / "all-kinds.yaml",
}
RELEASES = {"17.12": "17121", "17.18": "17181"}
MANAGER = "Cisco-IOS-XE-native:native/event/Cisco-IOS-XE-eem:manager"
PKI = "Cisco-IOS-XE-native:native/crypto/Cisco-IOS-XE-crypto:pki"


def _intent(name: str, password: str = "p4ss-w0rd"):
    return load_intent(INTENTS[name], environ={"SMTP_PASSWORD": password})


def _strip_operations(element: etree._Element) -> etree._Element:
    copy = etree.fromstring(etree.tostring(element))
    for node in copy.iter():
        node.attrib.pop(rj.OPERATION, None)
    return copy


# libyang comparison


def _libyang_json(context, text: str, fmt: str) -> dict:
    tree = context.parse_data_mem(text, fmt, parse_only=True, strict=True)
    try:
        return json.loads(tree.print_mem("json", with_siblings=True))
    finally:
        tree.free()


@pytest.mark.parametrize("folder", list(RELEASES.values()))
@pytest.mark.parametrize("intent_name", list(INTENTS))
def test_json_parses_in_libyang_like_xml(yang_dir: Path, folder: str, intent_name: str, smtp_password: str) -> None:
    libyang = pytest.importorskip("libyang")
    path = yang_dir / folder
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    release = next(name for name, value in RELEASES.items() if value == folder)
    context = libyang.Context(str(path), disable_searchdir_cwd=True)
    try:
        for module in ("Cisco-IOS-XE-eem", "Cisco-IOS-XE-crypto"):
            context.load_module(module)
        config = render_config(_intent(intent_name), profile_for(release), reveal=True)
        native = config.find(f"{{{ns.NATIVE}}}native")
        patch = rj.edit_requests(config)
        assert [edit.method for edit in patch] == ["PATCH"]
        from_xml = _libyang_json(context, etree.tostring(native, encoding="unicode"), "xml")
        from_json = _libyang_json(context, json.dumps(patch[0].body), "json")
        assert from_json == from_xml

        # Each PUT body of a replace edit must parse too, as the list entry under its parents.
        items = [(key, value, "replace") for key, value in owned_objects(_intent(intent_name)).items()]
        for edit in rj.edit_requests(render_edit(items, profile_for(release), reveal=True)):
            assert edit.method == "PUT"
            member, entries = next(iter(edit.body.items()))
            parents = [segment for segment in edit.segments[:-1]]
            document: dict = {}
            cursor = document
            previous = None
            for segment in parents:
                name = segment.name if segment.namespace == previous else f"{rj.module_of(segment.namespace)}:{segment.name}"
                cursor[name] = {}
                cursor = cursor[name]
                previous = segment.namespace
            cursor[member] = entries
            assert _libyang_json(context, json.dumps(document), "json"), edit.path
    finally:
        context.destroy()


# Edits


def test_replace_and_remove_become_put_and_delete(smtp_password: str) -> None:
    intent = _intent("secure-email")
    items = [
        (ObjectKey("environment", "_email_to"), intent.environment["_email_to"], "replace"),
        (ObjectKey("applet", "Old App/1"), None, "remove"),
        (ObjectKey("trustpoint", "CA-Gone"), None, "delete"),
    ]
    edits = rj.edit_requests(render_edit(items, profile_for("17.12")))

    assert [(edit.method, edit.path, edit.missing_ok) for edit in edits] == [
        ("PUT", f"{MANAGER}/environment=_email_to", False),
        ("DELETE", f"{MANAGER}/applet=Old%20App%2F1", True),
        ("DELETE", f"{PKI}/trustpoint=CA-Gone", False),
    ]
    assert edits[0].body == {"Cisco-IOS-XE-eem:environment": [{"name": "_email_to", "value": "noc@example.com"}]}
    assert edits[1].body is None


def test_merge_leaves_out_replaced_objects(smtp_password: str) -> None:
    intent = _intent("secure-email")
    items = [
        (ObjectKey("environment", "_email_from"), intent.environment["_email_from"], None),
        (ObjectKey("environment", "_email_to"), intent.environment["_email_to"], "replace"),
    ]
    edits = rj.edit_requests(render_edit(items, profile_for("17.12")))

    assert [edit.method for edit in edits] == ["PATCH", "PUT"]
    manager = edits[0].body["Cisco-IOS-XE-native:native"]["event"]["Cisco-IOS-XE-eem:manager"]
    assert [entry["name"] for entry in manager["environment"]] == ["_email_from"]
    assert "crypto" not in edits[0].body["Cisco-IOS-XE-native:native"]


def test_json_encodings_follow_rfc7951() -> None:
    xml = f"""<config xmlns="{ns.NETCONF_BASE}"><native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}">
      <applet><name>A</name><trap/>
        <event><none-choice><maxrun-set>60.5</maxrun-set><maxrun>30</maxrun></none-choice></event>
        <action><name>1</name><syslog-option><msg>m</msg><priority>3</priority></syslog-option></action>
        <action><name>2</name><syslog-option><msg>m</msg><priority>errors</priority></syslog-option></action>
        <action><name>3</name><end/></action>
      </applet></manager></event>
      <crypto><pki xmlns="{ns.CRYPTO}"><trustpoint><id>T</id><revocation-check>crl</revocation-check>
        <revocation-check>none</revocation-check><chain-validation><stop/></chain-validation>
        <enrollment><enrollment-method><terminal/></enrollment-method></enrollment></trustpoint></pki></crypto>
    </native></config>"""
    body = rj.edit_requests(etree.fromstring(xml))[0].body
    native = body["Cisco-IOS-XE-native:native"]
    applet = native["event"]["Cisco-IOS-XE-eem:manager"]["applet"][0]
    trustpoint = native["crypto"]["Cisco-IOS-XE-crypto:pki"]["trustpoint"][0]

    assert applet["trap"] == [None]
    assert applet["event"]["none-choice"] == {"maxrun-set": "60.5", "maxrun": 30}
    assert applet["action"][0]["syslog-option"]["priority"] == 3
    assert applet["action"][1]["syslog-option"]["priority"] == "errors"
    assert applet["action"][2]["end"] == [None]
    assert trustpoint["revocation-check"] == ["crl", "none"]
    assert trustpoint["chain-validation"] == {"stop": [None]}
    assert trustpoint["enrollment"] == {"enrollment-method": {"terminal": {}}}


def test_unknown_operation_is_rejected() -> None:
    config = etree.fromstring(
        f'<config xmlns="{ns.NETCONF_BASE}" xmlns:nc="{ns.NETCONF_BASE}"><native xmlns="{ns.NATIVE}"><event>'
        f'<manager xmlns="{ns.EEM}"><environment nc:operation="merge-ish"><name>X</name></environment>'
        "</manager></event></native></config>"
    )
    with pytest.raises(ValueError, match="merge-ish"):
        rj.edit_requests(config)


# Filters and replies


def test_filter_names_one_resource_per_object(smtp_password: str) -> None:
    paths = [resource.path for resource in rj.filter_resources(intent_filter(_intent("secure-email")))]

    assert f"{MANAGER}/environment=_email_server" in paths
    assert f"{MANAGER}/applet=SendSecureEmailEEM" in paths
    assert f"{PKI}/trustpoint=CA-GlobalSign-Root" in paths
    assert len(paths) == len(set(paths))


def test_filter_without_keys_reads_whole_lists() -> None:
    paths = [resource.path for resource in rj.filter_resources(managed_lists_filter())]

    assert paths == [f"{MANAGER}/environment", f"{MANAGER}/applet", f"{PKI}/trustpoint"]


def test_filter_escapes_key_values() -> None:
    paths = [resource.path for resource in rj.filter_resources(pki_oper_filter(["TP a,b/c"]))]

    assert paths == ["Cisco-IOS-XE-crypto-pki-oper:crypto-pki-oper-data/crypto-pki-bundle=TP%20a%2Cb%2Fc"]


def test_replies_rebuild_the_netconf_data_tree(smtp_password: str) -> None:
    intent = _intent("all-kinds")
    config = render_config(intent, profile_for("17.18"), reveal=True)
    expected = read_config(_as_data(config))
    # Answer each per-object GET with the JSON of that object, as a RESTCONF server would.
    items = [(key, value, "replace") for key, value in owned_objects(intent).items()]
    replies = [
        (rj.Resource(edit.segments), edit.body)
        for edit in rj.edit_requests(render_edit(items, profile_for("17.18"), reveal=True))
    ]
    replies.append((rj.Resource((rj.Segment(ns.NATIVE, "native"), rj.Segment(ns.NATIVE, "event"),
                                 rj.Segment(ns.EEM, "manager"), rj.Segment(ns.EEM, "environment", (("name", "missing"),)))),
                    None))
    data = rj.data_from_replies(replies)

    assert data.tag == f"{{{ns.NETCONF_BASE}}}data"
    assert read_config(data) == expected


def test_whole_body_round_trips_through_xml(smtp_password: str) -> None:
    config = render_config(_intent("all-kinds"), profile_for("17.12"), reveal=True)
    body = rj.edit_requests(config)[0].body
    holder = etree.Element(f"{{{ns.NETCONF_BASE}}}config", nsmap={None: ns.NETCONF_BASE})
    rj.from_json(body, holder)

    assert rj.edit_requests(holder)[0].body == body
    assert etree.tostring(_strip_operations(holder), method="c14n") == etree.tostring(_strip_operations(config), method="c14n")


def test_from_json_rejects_unqualified_top_member() -> None:
    holder = etree.Element(f"{{{ns.NETCONF_BASE}}}data")
    with pytest.raises(ValueError, match="module name"):
        rj.from_json({"native": {}}, holder)


def test_rpc_input_and_reply() -> None:
    body = etree.Element(f"{{{ns.CLI_RPC}}}config-ios-cli-rpc", nsmap={None: ns.CLI_RPC})
    etree.SubElement(body, f"{{{ns.CLI_RPC}}}config-clis").text = "event manager applet A\nend"
    etree.SubElement(body, f"{{{ns.CLI_RPC}}}timeout").text = "60"

    assert rj.rpc_input(body) == {
        "Cisco-IOS-XE-cli-rpc:input": {"config-clis": "event manager applet A\nend", "timeout": 60}
    }
    reply = rj.rpc_reply(body, {"Cisco-IOS-XE-cli-rpc:output": {"result": "ok", "lineno": 3}})
    assert reply.findtext(f"{{{ns.CLI_RPC}}}result") == "ok"
    assert reply.findtext(f"{{{ns.CLI_RPC}}}lineno") == "3"
    empty = rj.rpc_reply(body, None)
    assert empty.find(f"{{{ns.NETCONF_BASE}}}ok") is not None
    assert rj.rpc_input(etree.Element(f"{{{ns.CISCO_IA}}}is-syncing")) is None


def test_unknown_module_round_trips() -> None:
    holder = etree.Element(f"{{{ns.NETCONF_BASE}}}data")
    rj.from_json({"vendor-x:thing": {"leaf": "v"}}, holder)
    thing = holder[0]

    assert rj.to_json(thing, [(etree.QName(thing).namespace, "thing")]) == {"vendor-x:thing": {"leaf": "v"}}


def _as_data(config: etree._Element) -> etree._Element:
    data = etree.Element(f"{{{ns.NETCONF_BASE}}}data", nsmap={None: ns.NETCONF_BASE})
    for child in _strip_operations(config):
        data.append(child)
    return data
