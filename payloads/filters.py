"""get-config subtree filters that select exactly the objects an intent owns."""

from __future__ import annotations

from collections.abc import Iterable

from lxml import etree

from models.eem import CLI_DIGEST_VARIABLE
from payloads.native_xml import NativeBuilder, applet_element, environment_element, trustpoint_element
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
