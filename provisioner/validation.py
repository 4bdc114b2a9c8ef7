"""Validate payloads against Cisco's YANG with libyang before they are sent.

libyang accepts deprecated and obsolete nodes (for example the 17.12 ``maxrun`` leaf on 17.18),
so every node of the payload is also checked for its status in the target release.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from models.errors import ProvisionerError
from payloads import namespaces as ns
from payloads.releases import EEM, ReleaseProfile

logger = logging.getLogger(__name__)

MODULES = ("Cisco-IOS-XE-eem", "Cisco-IOS-XE-crypto")


class SchemaValidationError(ProvisionerError):
    """A payload does not fit the target release's YANG; it was not sent."""

    def __init__(self, release: str, problems: list[SchemaProblem]) -> None:
        self.problems = problems
        shown = "; ".join(str(problem) for problem in problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        super().__init__(f"the payload does not fit the YANG of IOS XE {release}, so it was not sent: {shown}{more}")


@dataclass(frozen=True)
class SchemaProblem:
    """One reason a payload does not fit: the node path and libyang's message or the node status."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


_REVISION = re.compile(r"^\s*revision\s+\"?(\d{4}-\d{2}-\d{2})", re.MULTILINE)


def _eem_revision(folder: Path) -> str | None:
    """Return the newest revision of the Cisco-IOS-XE-eem module in ``folder``, or None without one.

    The revision comes from the file name (``Cisco-IOS-XE-eem@2022-11-01.yang``) or else from the
    module's first ``revision`` statement, which YANG lists newest first (RFC 7950 section 7.1.9).
    """
    found: list[str] = []
    for path in folder.glob("Cisco-IOS-XE-eem*.yang"):
        if "@" in path.stem:
            found.append(path.stem.split("@", 1)[1])
        elif path.stem == "Cisco-IOS-XE-eem":
            match = _REVISION.search(path.read_text(encoding="utf-8", errors="replace"))
            if match:
                found.append(match.group(1))
    return max(found) if found else None


def find_yang_folder(yang_dir: Path, profile: ReleaseProfile) -> Path:
    """Return the folder with the release's modules: ``yang_dir`` itself, or its release subfolder.

    The folder's Cisco-IOS-XE-eem revision must be the profile's; a profile chosen for a revision
    between two profiles (one with a ``note``) accepts any revision from its own on.

    Raises:
        ProvisionerError: neither folder contains Cisco-IOS-XE-eem of that release.
    """
    expected = profile.revisions[EEM]
    mismatched: list[str] = []
    for folder in (yang_dir / profile.yang_folder, yang_dir):
        revision = _eem_revision(folder) if folder.is_dir() else None
        if revision is None:
            continue
        if revision == expected or (profile.note and revision > expected):
            return folder
        mismatched.append(f"{folder} has {EEM} revision {revision}")
    found = f" ({'; '.join(mismatched)}, but IOS XE {profile.name} uses {expected})" if mismatched else ""
    raise ProvisionerError(
        f"no {EEM} module of IOS XE {profile.name} in {yang_dir} or {yang_dir / profile.yang_folder}{found}; "
        f"point --yang-dir at the YANG of IOS XE {profile.name} (for example a copy of YangModels/yang "
        f"vendor/cisco/xe/{profile.yang_folder}) or at a folder of release folders"
    )


class SchemaValidator:
    """libyang context for one release's modules; reusable for many payloads.

    Args:
        folder: the folder with the release's YANG files (imports resolved inside it only).
        release: the release name, for messages.
    """

    def __init__(self, folder: Path, release: str) -> None:
        import libyang  # Optional dependency: installed with the `yang` extra.

        self._libyang = libyang
        self.release = release
        # Search only this folder, not the working directory: several releases often sit side by side.
        self._context = libyang.Context(str(folder), disable_searchdir_cwd=True)
        for module in MODULES:
            self._context.load_module(module)

    def close(self) -> None:
        """Free the libyang context."""
        self._context.destroy()

    def problems(self, config: etree._Element) -> list[SchemaProblem]:
        """Return why the ``<config>`` payload does not fit the release; empty when it does."""
        native = config.find(f"{{{ns.NATIVE}}}native")
        if native is None:
            return []
        copy = etree.fromstring(etree.tostring(native))
        # NETCONF operation attributes belong to ietf-netconf, not to the data being checked.
        for element in copy.iter():
            element.attrib.pop(f"{{{ns.NETCONF_BASE}}}operation", None)
        text = etree.tostring(copy, encoding="unicode")

        problems = self._parse_problems(text)
        if problems:
            return problems
        return self._status_problems(text)

    def _parse_problems(self, text: str) -> list[SchemaProblem]:
        try:
            tree = self._context.parse_data_mem(text, "xml", no_state=True, strict=True, validate_present=True)
        except self._libyang.LibyangError as error:
            return [SchemaProblem("", str(error))]
        if tree is not None:
            tree.free()
        return []

    def _status_problems(self, text: str) -> list[SchemaProblem]:
        # Parse without validation so libyang adds no default nodes: only what the payload holds.
        tree = self._context.parse_data_mem(text, "xml", parse_only=True, strict=True)
        problems = []
        try:
            for root in tree.siblings() if tree is not None else []:
                for node in root.iter_tree():
                    schema = node.schema()
                    if schema.obsolete():
                        problems.append(SchemaProblem(node.path(), f"node is obsolete in IOS XE {self.release}"))
                    elif schema.deprecated():
                        problems.append(SchemaProblem(node.path(), f"node is deprecated in IOS XE {self.release}"))
        finally:
            if tree is not None:
                tree.free()
        return problems

    def check(self, config: etree._Element) -> None:
        """Raise SchemaValidationError when the payload does not fit the release."""
        problems = self.problems(config)
        if problems:
            raise SchemaValidationError(self.release, problems)

