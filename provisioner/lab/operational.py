"""Read-only data of the lab device: ietf-yang-library, Cisco-IOS-XE-crypto-pki-oper and
get-schema (ietf-netconf-monitoring)."""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from datetime import UTC
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID
from lxml import etree

from payloads import namespaces as ns
from provisioner.lab.device import DeviceState
from provisioner.lab.errors import RpcError
from provisioner.lab.releases import Release

_YL = f"{{{ns.YANG_LIBRARY}}}"
_OPER = f"{{{ns.PKI_OPER}}}"
_MON = f"{{{ns.NETCONF_MONITORING}}}"
_DATASTORES_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_REVISION = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def yang_library(release: Release) -> etree._Element:
    """Return a new ``yang-library`` container (RFC 8525) for a release, for the caller to keep."""
    return copy.deepcopy(_yang_library(release))


@functools.cache
def _yang_library(release: Release) -> etree._Element:
    # Built once per release and copied per <get>: a release's module set never changes, and
    # copying the tree costs a fraction of building it element by element.
    library = etree.Element(_YL + "yang-library",
                            nsmap={None: ns.YANG_LIBRARY, "ds": _DATASTORES_NS})
    module_set = etree.SubElement(library, _YL + "module-set")
    etree.SubElement(module_set, _YL + "name").text = "complete"
    for module in release.modules:
        entry = etree.SubElement(module_set, _YL + "module")
        etree.SubElement(entry, _YL + "name").text = module.name
        etree.SubElement(entry, _YL + "revision").text = module.revision
        etree.SubElement(entry, _YL + "namespace").text = module.namespace
    schema = etree.SubElement(library, _YL + "schema")
    etree.SubElement(schema, _YL + "name").text = "complete"
    etree.SubElement(schema, _YL + "module-set").text = "complete"
    for datastore in ("running", "candidate", "startup"):
        entry = etree.SubElement(library, _YL + "datastore")
        etree.SubElement(entry, _YL + "name").text = f"ds:{datastore}"
        etree.SubElement(entry, _YL + "schema").text = "complete"
    etree.SubElement(library, _YL + "content-id").text = release.content_id()
    return library


def _rfc4514_lower(name: x509.Name) -> str:
    parts = []
    for attribute in name:
        oid_name = {
            NameOID.COMMON_NAME: "cn", NameOID.ORGANIZATION_NAME: "o",
            NameOID.ORGANIZATIONAL_UNIT_NAME: "ou", NameOID.COUNTRY_NAME: "c",
        }.get(attribute.oid, attribute.oid.dotted_string)
        value = attribute.value if isinstance(attribute.value, str) else attribute.value.hex()
        parts.append(f"{oid_name}={value}")
    return ",".join(reversed(parts))


def _cert_entry(bundle: etree._Element, trustpoint: str, hex_body: str) -> None:
    try:
        certificate = x509.load_der_x509_certificate(bytes.fromhex(hex_body))
    except ValueError:
        # A body that is not a DER certificate (a placeholder in a test) shows up without the
        # details a device would parse out of it.
        certificate = None
    cert = etree.SubElement(bundle, _OPER + "cert")
    etree.SubElement(cert, _OPER + "cert-avail").text = "crypto-pki-cert-available"
    if certificate is not None:
        # NOTE: these text formats (serial, names, fingerprint) are a guess at what IOS XE
        # returns; no device output was compared.
        leaves = {
            "serial-number": format(certificate.serial_number, "X"),
            "subject-name": _rfc4514_lower(certificate.subject),
            "issuer-name": _rfc4514_lower(certificate.issuer),
            "storage": "nvram:",
            "md5-fp": hashlib.md5(bytes.fromhex(hex_body), usedforsecurity=False)
            .hexdigest().upper(),
            "validity-start": certificate.not_valid_before_utc.astimezone(UTC)
            .isoformat(),
            "validity-end": certificate.not_valid_after_utc.astimezone(UTC).isoformat(),
        }
        for name, text in leaves.items():
            etree.SubElement(cert, _OPER + name).text = text
    associated = etree.SubElement(cert, _OPER + "asc-tp")
    etree.SubElement(associated, _OPER + "tp-name").text = trustpoint


def pki_oper(state: DeviceState) -> etree._Element:
    """Build ``crypto-pki-oper-data`` from the trustpoints in running and the CA certificates
    that cli-rpc installed."""
    data = etree.Element(_OPER + "crypto-pki-oper-data", nsmap={None: ns.PKI_OPER})
    trustpoints = state.running.xpath(
        "/nc:data/ios:native/ios:crypto/crypto:pki/crypto:trustpoint/crypto:id/text()",
        namespaces=ns.XPATH_PREFIXES,
    )
    for trustpoint in trustpoints:
        certificates = state.unmodelled.certificates.get(str(trustpoint), {})
        bundle = etree.SubElement(data, _OPER + "crypto-pki-bundle")
        etree.SubElement(bundle, _OPER + "label").text = str(trustpoint)
        etree.SubElement(bundle, _OPER + "mode").text = "crypto-pki-mode-none"
        etree.SubElement(bundle, _OPER + "tp-authenticated").text = (
            "true" if certificates else "false"
        )
        for hex_body in certificates.values():
            _cert_entry(bundle, str(trustpoint), hex_body)
    return data


def get_schema(yang_dir: Path | None, op: etree._Element) -> etree._Element:
    """Run ``<get-schema>``: return a ``<data>`` with the YANG text from ``yang_dir``.

    Raises:
        RpcError: No YANG folder was given, the module is not in it, or the request is invalid.
    """
    identifier = (op.findtext(_MON + "identifier") or "").strip()
    version = (op.findtext(_MON + "version") or "").strip()
    schema_format = (op.findtext(_MON + "format") or "yang").strip()
    if not identifier:
        raise RpcError("protocol", "missing-element", "get-schema needs <identifier>", None,
                       [("bad-element", "identifier")])
    if schema_format.split(":")[-1] != "yang":
        raise RpcError("application", "invalid-value",
                       f"schema format {schema_format!r} is not supported; use yang")
    if not _IDENTIFIER.match(identifier) or (version and not _REVISION.match(version)):
        raise RpcError("application", "invalid-value",
                       f"invalid schema identifier or version: {identifier!r} {version!r}")
    if yang_dir is None:
        raise RpcError("application", "data-missing",
                       f"schema {identifier} is not available: the lab device was started "
                       "without a YANG folder")
    candidates = [yang_dir / f"{identifier}@{version}.yang"] if version else []
    candidates.append(yang_dir / f"{identifier}.yang")
    for path in candidates:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if version and path.name == f"{identifier}.yang" and \
                not re.search(rf"revision\s+\"?{re.escape(version)}\"?", text):
            continue
        data = etree.Element(_MON + "data", nsmap={None: ns.NETCONF_MONITORING})
        data.text = text
        return data
    wanted = f"{identifier}@{version}" if version else identifier
    raise RpcError("application", "data-missing", f"schema {wanted} is not in {yang_dir.name}")
