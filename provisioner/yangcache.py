"""Fetch a device's YANG with ``<get-schema>`` into a per-user cache, for validation without --yang-dir.

Files are cached as ``module@revision.yang`` under ``$XDG_CACHE_HOME/iosxe-eem-provisioner/yang``
(``~/.cache/...`` by default). A module that the device lists with a revision is fetched once per
revision; imports the device does not list are fetched without a version each time the closure
is built, because their revision is only known from the text.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

from payloads.releases import ReleaseProfile
from provisioner.errors import DeviceError
from provisioner.transport.netconf import NetconfSession
from provisioner.validation import MODULES

logger = logging.getLogger(__name__)

_IMPORT = re.compile(r"^\s*(?:import|include)\s+([A-Za-z0-9_.-]+)", re.MULTILINE)
_REVISION = re.compile(r"^\s*revision\s+\"?(\d{4}-\d{2}-\d{2})\"?", re.MULTILINE)
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def cache_root() -> Path:
    """Return the folder where fetched modules are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "iosxe-eem-provisioner" / "yang"


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    os.replace(temporary, path)


def fetch_closure(
    session: NetconfSession, revisions: dict[str, str], profile: ReleaseProfile, *, root: Path | None = None
) -> Path:
    """Fetch the modules validation needs and everything they import; return a folder with exactly those.

    Args:
        session: an open session to the device.
        revisions: module -> revision as the device reports them.
        profile: the release profile, for naming the folder.
        root: the cache folder; :func:`cache_root` by default.

    Raises:
        DeviceError: the device does not serve a module with get-schema.
    """
    root = root or cache_root()
    wanted = list(MODULES)
    seen: dict[str, Path] = {}
    while wanted:
        name = wanted.pop()
        if name in seen:
            continue
        revision = revisions.get(name)
        cached = root / f"{name}@{revision}.yang" if revision else None
        if cached is not None and cached.is_file():
            text = cached.read_text(encoding="utf-8")
        else:
            text = session.get_schema(name, revision)
            found = _REVISION.search(_COMMENTS.sub("", text))
            cached = root / (f"{name}@{found.group(1)}.yang" if found else f"{name}.yang")
            _write(cached, text)
            logger.info("%s: fetched YANG module %s with get-schema", session.name, cached.name)
        seen[name] = cached
        wanted.extend(_IMPORT.findall(_COMMENTS.sub("", text)))

    # libyang picks the newest revision it finds for a name, so the validator gets a folder
    # holding exactly this device's revisions.
    folder = root / "sets" / f"{session.host.hostname}-{session.host.port}-{profile.name}"
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.yang"):
        stale.unlink()
    for name, path in seen.items():
        (folder / f"{name}.yang").symlink_to(path)
    return folder


def try_fetch_closure(session: NetconfSession, revisions: dict[str, str], profile: ReleaseProfile) -> tuple[Path | None, str]:
    """Like :func:`fetch_closure`, but return ``(None, reason)`` instead of raising."""
    try:
        return fetch_closure(session, revisions, profile), ""
    except DeviceError as error:
        return None, f"the device did not serve its YANG with get-schema ({error})"
    except OSError as error:
        return None, f"the YANG cache could not be written ({error})"
