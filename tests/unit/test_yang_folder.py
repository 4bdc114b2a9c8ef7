"""--yang-dir must hold the YANG of the release it validates for, not any release's."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.errors import ProvisionerError
from payloads.releases import profile_for, profile_for_revisions
from provisioner.validation import find_yang_folder


def _eem_module(folder: Path, revision: str, *, in_name: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"Cisco-IOS-XE-eem@{revision}.yang" if in_name else "Cisco-IOS-XE-eem.yang"
    (folder / name).write_text(
        f"module Cisco-IOS-XE-eem {{\n  revision {revision} {{\n  }}\n  revision 2020-11-01 {{\n  }}\n}}\n",
        encoding="utf-8",
    )
    return folder


def test_matching_release_folder_is_used(tmp_path: Path) -> None:
    profile = profile_for("17.18")
    _eem_module(tmp_path / profile.yang_folder, profile.revisions["Cisco-IOS-XE-eem"])

    assert find_yang_folder(tmp_path, profile) == tmp_path / profile.yang_folder


def test_other_release_folder_is_rejected(tmp_path: Path) -> None:
    older = profile_for("17.9")
    _eem_module(tmp_path, older.revisions["Cisco-IOS-XE-eem"])

    with pytest.raises(ProvisionerError) as raised:
        find_yang_folder(tmp_path, profile_for("17.18"))

    message = str(raised.value)
    assert f"revision {older.revisions['Cisco-IOS-XE-eem']}" in message
    assert "IOS XE 17.18 uses" in message


def test_revision_read_from_file_name(tmp_path: Path) -> None:
    profile = profile_for("17.12")
    _eem_module(tmp_path, profile.revisions["Cisco-IOS-XE-eem"], in_name=True)

    assert find_yang_folder(tmp_path, profile) == tmp_path


def test_in_between_profile_accepts_newer_revision(tmp_path: Path) -> None:
    base = profile_for("17.12")
    device_revision = "2023-07-01"
    profile = profile_for_revisions({"Cisco-IOS-XE-eem": device_revision})
    _eem_module(tmp_path, device_revision)

    assert profile.note
    assert profile.revisions["Cisco-IOS-XE-eem"] == base.revisions["Cisco-IOS-XE-eem"]
    assert find_yang_folder(tmp_path, profile) == tmp_path


def test_folder_without_eem_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ProvisionerError, match="no Cisco-IOS-XE-eem module of IOS XE 17.12"):
        find_yang_folder(tmp_path, profile_for("17.12"))
