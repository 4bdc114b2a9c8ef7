"""Choose the payload profile for a connected device from the module revisions it reports.

IOS XE up to 17.9 lists its native modules in the NETCONF hello
(``...?module=Cisco-IOS-XE-eem&revision=2021-03-01``); from 17.10 the hello keeps only a few
modules and the rest are listed in ietf-yang-library, which must be read with ``<get>``.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import parse_qs

from lxml import etree

from models.errors import ProvisionerError
from provisioner.errors import DeviceError
from payloads import namespaces as ns
from payloads.releases import EEM, ReleaseProfile, profile_for, profile_for_revisions
from provisioner.transport.base import Request, Session, request, unwrap

logger = logging.getLogger(__name__)

_YANG_LIBRARY_CAPABILITY = "urn:ietf:params:netconf:capability:yang-library:1.1"
_YANG_LIBRARY_1_0 = "urn:ietf:params:netconf:capability:yang-library:1.0"

# yang-library replies keyed by (host, port, content-id): the content-id changes whenever the
# module set does, so a cached answer is never stale and repeated runs save one RPC.
_cache: dict[tuple[str, int, str], dict[str, str]] = {}
_cache_lock = threading.Lock()


def hello_revisions(capabilities: list[str]) -> dict[str, str]:
    """Return module -> revision from hello capabilities of the form ``ns?module=M&revision=R``."""
    revisions = {}
    for capability in capabilities:
        if "?" not in capability:
            continue
        parameters = parse_qs(capability.split("?", 1)[1])
        module = parameters.get("module", [None])[0]
        revision = parameters.get("revision", [None])[0]
        if module and revision:
            revisions[module] = revision
    return revisions


def library_revisions(data: etree._Element) -> dict[str, str]:
    """Return module -> revision from a ``<get>`` reply of ietf-yang-library (RFC 8525 or RFC 7895)."""
    revisions = {}
    library = f"{{{ns.YANG_LIBRARY}}}"
    for module in data.iter(f"{library}module"):
        name = module.findtext(f"{library}name")
        revision = module.findtext(f"{library}revision")
        if name and revision:
            revisions[name] = revision
    return revisions


def _library_filter() -> etree._Element:
    subtree = etree.Element(f"{{{ns.NETCONF_BASE}}}filter", nsmap={None: ns.NETCONF_BASE})
    subtree.set("type", "subtree")
    library = etree.SubElement(subtree, f"{{{ns.YANG_LIBRARY}}}yang-library", nsmap={None: ns.YANG_LIBRARY})
    module = etree.SubElement(etree.SubElement(library, f"{{{ns.YANG_LIBRARY}}}module-set"), f"{{{ns.YANG_LIBRARY}}}module")
    etree.SubElement(module, f"{{{ns.YANG_LIBRARY}}}name")
    etree.SubElement(module, f"{{{ns.YANG_LIBRARY}}}revision")
    return subtree


def _library_key(session: Session) -> tuple[str, int, str] | None:
    """Return the cache key of the device's yang-library, or None when its hello lists no yang-library."""
    library = next((c for c in session.raw_capabilities if c.startswith((_YANG_LIBRARY_CAPABILITY, _YANG_LIBRARY_1_0))), None)
    if library is None:
        return None
    content_id = parse_qs(library.split("?", 1)[1]).get("content-id", [""])[0] if "?" in library else ""
    return (session.host.hostname, session.host.port, content_id)


def library_request(session: Session) -> Request | None:
    """Return the ``<get>`` that :func:`release_profile` needs, or None when it needs no RPC.

    Callers put it in the batch of their first reads, so learning the release costs no round
    trip of its own, and pass its reply to :func:`release_profile`.
    """
    if session.host.release or EEM in hello_revisions(session.raw_capabilities):
        return None
    key = _library_key(session)
    if key is None:
        return None
    with _cache_lock:
        if key[2] and key in _cache:
            return None
    return request("get", _library_filter())


def device_revisions(session: Session, library: etree._Element | None = None) -> dict[str, str]:
    """Return the module revisions the device reports, from its hello or its ietf-yang-library.

    Args:
        library: the reply of :func:`library_request`, when the caller already sent it.
    """
    revisions = hello_revisions(session.raw_capabilities)
    if EEM in revisions:
        return revisions

    key = _library_key(session)
    if key is None:
        return revisions
    content_id = key[2]
    with _cache_lock:
        cached = _cache.get(key) if content_id else None
    if cached is not None:
        return {**revisions, **cached}
    found = library_revisions(library if library is not None else session.get(_library_filter()))
    if content_id:
        with _cache_lock:
            _cache[key] = found
    return {**revisions, **found}


def release_profile(session: Session, library: etree._Element | None = None) -> ReleaseProfile:
    """Return the payload profile for the device behind ``session``.

    ``library`` is the reply of :func:`library_request`, when the caller already sent it.

    An inventory ``release`` wins over what the device reports, and costs no RPC.

    Raises:
        ProvisionerError: the device reports no Cisco-IOS-XE-eem revision, or one older than 17.9,
            or the inventory names a release with no profile.
    """
    if session.host.release:
        try:
            return profile_for(session.host.release)
        except ValueError as error:
            raise ProvisionerError(f"{session.name}: inventory release {session.host.release!r}: {error}") from None
    revisions = device_revisions(session, library)
    try:
        profile = profile_for_revisions(revisions)
    except ValueError as error:
        raise ProvisionerError(f"{session.name}: {error}") from None
    if profile.note:
        logger.warning("%s: %s", session.name, profile.note)
    logger.info("%s: Cisco-IOS-XE-eem %s, IOS XE %s payload shape", session.name, revisions.get(EEM), profile.name)
    return profile


def batch_with_library(
    session: Session, reads: list[Request], locks: list[Request] | None = None
) -> tuple[etree._Element | None, list[object]]:
    """Send ``locks``, the yang-library read the release needs (if any) and ``reads`` in one batch.

    Returns the yang-library reply for :func:`release_profile` (None when none was needed) and
    the results of ``[*locks, *reads]`` in that order: values, or DeviceErrors for the caller.

    Raises:
        DeviceError: the yang-library read failed.
    """
    library = library_request(session)
    results = session.batch([*(locks or []), *([library] if library else []), *reads])
    if library is None:
        return None, results
    reply = results.pop(len(locks or []))
    if isinstance(reply, DeviceError):
        # A failed lock before it is the cause worth reporting (a timeout makes the rest fail too).
        unwrap(next((result for result in results[: len(locks or [])] if isinstance(result, DeviceError)), reply))
    return reply, results
