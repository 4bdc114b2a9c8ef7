"""The rpc-error that lab device handlers raise, and its XML form (RFC 6241 section 4.3)."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from payloads import namespaces as ns

_NC = f"{{{ns.NETCONF_BASE}}}"


@dataclass
class RpcError(Exception):
    """An rpc-error to send back instead of the RPC's normal reply.

    Attributes:
        error_type: ``transport``, ``rpc``, ``protocol`` or ``application``.
        error_tag: RFC 6241 error-tag, e.g. ``lock-denied``.
        message: Human-readable error-message.
        path: error-path, an XPath to the node in the request that failed.
        info: error-info children as (local name, text) pairs in the NETCONF namespace,
            e.g. ``[("session-id", "3")]``.
    """

    error_type: str
    error_tag: str
    message: str = ""
    path: str | None = None
    info: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.error_tag}: {self.message}"

    def to_element(self) -> etree._Element:
        """Build the ``<rpc-error>`` element."""
        error = etree.Element(_NC + "rpc-error")
        etree.SubElement(error, _NC + "error-type").text = self.error_type
        etree.SubElement(error, _NC + "error-tag").text = self.error_tag
        etree.SubElement(error, _NC + "error-severity").text = "error"
        if self.path:
            etree.SubElement(error, _NC + "error-path").text = self.path
        if self.message:
            message = etree.SubElement(error, _NC + "error-message")
            message.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
            message.text = self.message
        if self.info:
            info = etree.SubElement(error, _NC + "error-info")
            for name, text in self.info:
                etree.SubElement(info, _NC + name).text = text
        return error


def unknown_element(element_name: str, path: str | None, message: str,
                    error_type: str = "application") -> RpcError:
    """Build the unknown-element error, with the element name in ``bad-element``."""
    return RpcError(error_type, "unknown-element", message, path, [("bad-element", element_name)])
