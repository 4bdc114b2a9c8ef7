"""get-config subtree filters that select exactly the objects an intent owns."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from models.eem import CLI_DIGEST_VARIABLE
from models.intent import Intent
from payloads import namespaces as ns
from payloads.native_xml import (
    NativeBuilder,
    applet_element,
    environment_element,
    owned_objects,
    trustpoint_element,
)
from payloads.objects import ObjectKey


def owned_filter(keys: Iterable[ObjectKey], *, with_cli_digest: bool = True) -> etree._Element:
    """Return ``<filter type="subtree">`` selecting each object by its list key.

    Args:
        keys: the objects to read.
        with_cli_digest: also select the environment variable in which the engine records the
            lines it applied through config-ios-cli-rpc.
    """
    builder = NativeBuilder("filter")
    builder.root.set("type", "subtree")
    for key in keys:
        if key.kind == "environment":
            environment_element(builder.manager, key.name, None, reveal=False)
        elif key.kind == "applet":
            applet_element(builder.manager, None, key.name)
        else:
            trustpoint_element(builder.pki, None, key.name)
    if with_cli_digest:
        environment_element(builder.manager, CLI_DIGEST_VARIABLE, None, reveal=False)
    return builder.root


def managed_lists_filter() -> etree._Element:
    """Return a subtree filter selecting every EEM environment variable, applet and trustpoint.

    A subtree filter matches list keys only by equality, so objects under a managed name prefix
    cannot be selected by name; pruning reads the three lists whole and picks them afterwards.
    """
    builder = NativeBuilder("filter")
    builder.root.set("type", "subtree")
    for tag in ("environment", "applet"):
        etree.SubElement(builder.manager, f"{{{ns.EEM}}}{tag}")
    etree.SubElement(builder.pki, f"{{{ns.CRYPTO}}}trustpoint")
    return builder.root


def intent_filter(intent: Intent) -> etree._Element:
    """Return the get-config filter for the objects ``intent`` owns.

    With a managed prefix (prune on or off) that is every environment variable, applet and
    trustpoint; otherwise exactly the named objects and the engine's digest variable.
    """
    if intent.ownership.managed_prefix is not None:
        return managed_lists_filter()
    return owned_filter(owned_objects(intent))


def pki_oper_filter(trustpoints: Iterable[str]) -> etree._Element:
    """Return a subtree filter for the installed certificates of the named trustpoints.

    Cisco-IOS-XE-crypto-pki-oper lists certificates per ``crypto-pki-bundle`` (label =
    trustpoint) from IOS XE 17.5 on; some platforms (cat9200 from 17.15) lack the module.
    """
    subtree = etree.Element(f"{{{ns.NETCONF_BASE}}}filter", nsmap={None: ns.NETCONF_BASE})
    subtree.set("type", "subtree")
    data = etree.SubElement(subtree, f"{{{ns.PKI_OPER}}}crypto-pki-oper-data", nsmap={None: ns.PKI_OPER})
    for name in trustpoints:
        bundle = etree.SubElement(data, f"{{{ns.PKI_OPER}}}crypto-pki-bundle")
        etree.SubElement(bundle, f"{{{ns.PKI_OPER}}}label").text = name
    return subtree
