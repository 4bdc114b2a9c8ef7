"""Inventory files: hosts, groups and defaults resolved like Nornir's SimpleInventory, and --limit."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from models.errors import InputError
import models.inventory as inventory_module
from models.inventory import Inventory, load_inventory

SECRET = "Inv3ntoryS3cretXYZ"


def write(tmp_path: Path, text: str, name: str = "inventory.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Inventory:
    return load_inventory(write(tmp_path, text), environ={"PW": SECRET} if environ is None else environ)


def load_error(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(InputError) as caught:
        load(tmp_path, text, environ)
    message = str(caught.value)
    assert SECRET not in message
    return message


# Resolution of settings


def test_host_value_beats_group_and_defaults(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [core], port: 1001}
          r2: {hostname: 127.0.0.1, groups: [core]}
          r3: {hostname: 127.0.0.1}
        groups:
          core: {port: 2002, username: core-user}
        defaults: {port: 3003, username: default-user, password_env: PW}
    """)

    assert inventory.hosts["r1"].port == 1001
    assert inventory.hosts["r2"].port == 2002
    assert inventory.hosts["r3"].port == 3003
    assert inventory.hosts["r1"].username == "core-user"
    assert inventory.hosts["r3"].username == "default-user"


def test_groups_apply_in_listed_order(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [first, second]}
          r2: {hostname: 127.0.0.1, groups: [second, first]}
        groups:
          first: {username: from-first}
          second: {username: from-second, release: "17.15"}
        defaults: {password_env: PW}
    """)

    assert inventory.hosts["r1"].username == "from-first"
    assert inventory.hosts["r2"].username == "from-second"
    assert inventory.hosts["r1"].release == "17.15"


def test_nested_groups_resolve_depth_first(tmp_path: Path) -> None:
    # A group's parents come before the next group the host lists, as in Nornir.
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [edge, tokyo]}
        groups:
          edge: {groups: [site]}
          site: {groups: [all], username: site-user}
          tokyo: {username: tokyo-user, port: 4004}
          all: {port: 5005, release: "17.9"}
        defaults: {password_env: PW}
    """)
    host = inventory.hosts["r1"]

    assert host.groups == ("edge", "site", "all", "tokyo")
    assert host.username == "site-user"
    assert host.port == 5005
    assert host.release == "17.9"


def test_group_shared_by_two_parents_listed_once(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [a, b], username: u}
        groups:
          a: {groups: [common]}
          b: {groups: [common]}
          common: {}
        defaults: {password_env: PW}
    """)

    assert inventory.hosts["r1"].groups == ("a", "common", "b")
    assert inventory.groups["a"].groups == ("common",)


def test_transport_default_port_follows_group(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [https]}
          r2: {hostname: 127.0.0.1, groups: [https], port: 8443}
          r3: {hostname: 127.0.0.1}
        groups:
          https: {transport: restconf}
        defaults: {username: u, password_env: PW}
    """)

    assert inventory.hosts["r1"].transport == "restconf"
    assert inventory.hosts["r1"].port == 443
    assert inventory.hosts["r2"].port == 8443
    assert inventory.hosts["r3"].port == 830


def test_hosts_only_inventory_still_loads(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        hosts:
          edge1: {hostname: 127.0.0.1, port: 830, username: netops, password_env: PW}
    """)

    assert inventory.hosts["edge1"].groups == ()
    assert inventory.groups == {}
    assert inventory.hosts["edge1"].password is not None
    assert inventory.hosts["edge1"].password.get_secret_value() == SECRET


def test_relative_paths_follow_the_inventory_folder(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [lab]}
        groups:
          lab: {known_hosts: keys/known_hosts, ca_bundle: /etc/ssl/ca.pem}
        defaults: {username: u, password_env: PW}
    """)
    host = inventory.hosts["r1"]

    assert host.known_hosts == tmp_path / "keys" / "known_hosts"
    assert host.ca_bundle == Path("/etc/ssl/ca.pem")


def test_known_hosts_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, username: u, password_env: PW, known_hosts: ~/.ssh/known_hosts}
    """)

    assert inventory.hosts["r1"].known_hosts == tmp_path / "home" / ".ssh" / "known_hosts"


# Passwords


def test_password_env_from_group(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [core]}
          r2: {hostname: 127.0.0.1}
        groups:
          core: {password_env: CORE_PW}
        defaults: {username: u, password_env: DEFAULT_PW}
    """, environ={"CORE_PW": "core-secret", "DEFAULT_PW": "default-secret"})

    assert inventory.hosts["r1"].password is not None
    assert inventory.hosts["r1"].password.get_secret_value() == "core-secret"
    assert inventory.hosts["r2"].password is not None
    assert inventory.hosts["r2"].password.get_secret_value() == "default-secret"


def test_password_file_from_defaults(tmp_path: Path) -> None:
    (tmp_path / "device-password").write_text(SECRET + "\n", encoding="utf-8")
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1}
          r2: {hostname: 127.0.0.1}
        defaults: {username: u, password_file: device-password}
    """, environ={})

    for name in ("r1", "r2"):
        host = inventory.hosts[name]
        assert host.password is not None
        assert host.password.get_secret_value() == SECRET
        assert host.password_file == tmp_path / "device-password"


def test_host_password_env_overrides_group_file(tmp_path: Path) -> None:
    # The two password settings resolve as one, so the levels never combine into "both set".
    (tmp_path / "group-password").write_text("from-file\n", encoding="utf-8")
    inventory = load(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [core], password_env: PW}
          r2: {hostname: 127.0.0.1, groups: [core]}
        groups:
          core: {password_file: group-password}
        defaults: {username: u}
    """)

    assert inventory.hosts["r1"].password_file is None
    assert inventory.hosts["r1"].password is not None
    assert inventory.hosts["r1"].password.get_secret_value() == SECRET
    assert inventory.hosts["r2"].password_env is None
    assert inventory.hosts["r2"].password is not None
    assert inventory.hosts["r2"].password.get_secret_value() == "from-file"


def test_unset_password_env_names_group_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [core]}
        groups:
          core:
            password_env: MISSING_PW
        defaults: {username: u}
    """, environ={})

    assert message.startswith(f"{tmp_path / 'inventory.yaml'}:5: host r1")
    assert "group core" in message
    assert "MISSING_PW is not set" in message


def test_missing_password_source(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, username: u}
    """)

    assert ":2: host r1: no password source" in message
    assert "under defaults" in message


def test_unreadable_password_file(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        defaults: {username: u, password_file: nowhere/password}
        hosts:
          r1: {hostname: 127.0.0.1}
    """)

    assert ":1: host r1 (password source from defaults): cannot read password_file" in message
    assert "nowhere/password" in message


def test_password_key_is_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, f"""
        hosts:
          r1: {{hostname: 127.0.0.1, username: u}}
        groups:
          core:
            password: {SECRET}
    """)

    assert ":5: group core: a password is never read from the inventory" in message
    assert "password_env" in message


def test_both_password_sources_on_one_level(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, username: u}
        defaults:
          password_env: PW
          password_file: password
    """)

    assert ":5: defaults: set password_env or password_file, not both" in message


# Errors with file and line


def test_unknown_key_names_line_and_suggestion(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1:
            hostname: 127.0.0.1
            usrname: u
    """)

    assert message.startswith(f"{tmp_path / 'inventory.yaml'}:4: host r1: unknown key 'usrname'")
    assert "did you mean 'username'?" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts: {}
        group:
          core: {}
    """)

    assert ":2: unknown top-level key 'group'" in message
    assert "did you mean 'groups'?" in message


def test_defaults_cannot_list_groups(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts: {}
        groups: {core: {}}
        defaults:
          groups: [core]
    """)

    assert ":4: defaults: unknown key 'groups'" in message
    assert "list them on the hosts" in message


def test_unknown_group_names_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1:
            hostname: 127.0.0.1
            groups: [core, edg]
        groups:
          core: {}
          edge: {}
    """)

    assert ":4: host r1: group 'edg' is not defined (defined groups: core, edge)" in message
    assert "did you mean 'edge'? Otherwise define it under groups" in message


def test_unknown_parent_group(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts: {}
        groups:
          core:
            groups: [site]
    """)

    assert ":4: group core: group 'site' is not defined (defined groups: core); define it under groups" in message


def test_group_cycle_is_an_error(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [a]}
        groups:
          a: {groups: [b]}
          b: {groups: [c]}
          c: {groups: [a]}
    """)

    assert "groups form a cycle (a -> b -> c -> a)" in message
    assert ":4: group a:" in message


def test_group_that_is_its_own_parent(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts: {}
        groups:
          a: {groups: [a]}
    """)

    assert ":3: group a: groups form a cycle (a -> a)" in message


def test_groups_must_be_a_list(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: core}
        groups:
          core: {}
    """)

    assert ":2: host r1: groups must be a list of group names" in message


def test_bad_value_from_group_names_group_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, groups: [core]}
        groups:
          core:
            username: u
            port: not-a-port
        defaults: {password_env: PW}
    """)

    assert message.startswith(f"{tmp_path / 'inventory.yaml'}:6: host r1: port (set in group core):")
    assert "integer" in message


def test_bad_transport_on_host(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        defaults: {username: u, password_env: PW}
        hosts:
          r1:
            hostname: 127.0.0.1
            transport: telnet
    """)

    assert ":5: host r1: transport:" in message
    assert "'netconf' or 'restconf'" in message


def test_missing_hostname(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        defaults: {username: u, password_env: PW}
        hosts:
          r1: {port: 830}
    """)

    assert ":3: host r1: hostname is missing" in message


def test_host_entry_must_be_a_mapping(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: [127.0.0.1]
    """)

    assert ":2: host r1: must be a mapping of settings, got CommentedSeq" in message


def test_group_with_a_host_name(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, username: u, password_env: PW}
        groups:
          r1: {}
    """)

    assert ":4: group r1: has the name of host r1" in message


def test_missing_hosts_mapping(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        groups: {}
    """)

    assert "needs a 'hosts' mapping" in message


# Fast loader (C-based safe loader) against the round-trip loader


FAST_PATH_INVENTORY = """
    hosts:
      r1: {hostname: 127.0.0.1, groups: [core], port: 0o1750}
      r2:
        hostname: '::1'
        transport: restconf
        release: '17.12'
      r3:
    groups:
      core: {groups: [site], username: no}
      site: {known_hosts: kh}
    defaults: {username: admin, password_env: PW, hostname: 127.0.0.1}
"""


def test_fast_loader_matches_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not inventory_module._C_LOADER:
        pytest.skip("ruamel.yaml.clib is not installed, so every file is read with the round-trip loader")
    fast = load(tmp_path, FAST_PATH_INVENTORY)
    monkeypatch.setattr(inventory_module, "_C_LOADER", False)
    round_trip = load(tmp_path, FAST_PATH_INVENTORY)

    assert fast == round_trip
    assert fast.hosts["r1"].port == 1000
    assert fast.hosts["r1"].username == "no"


def test_fast_loader_error_keeps_line(tmp_path: Path) -> None:
    message = load_error(tmp_path, """
        hosts:
          r1: {hostname: 127.0.0.1, username: u, password_env: PW}
          r2: {hostname: 127.0.0.1, username: u, password_env: PW, prot: 830}
    """)

    assert message.startswith(f"{tmp_path / 'inventory.yaml'}:3: host r2: unknown key 'prot'")


def test_yaml_1_1_directive_uses_round_trip(tmp_path: Path) -> None:
    inventory = load(tmp_path, """
        %YAML 1.1
        ---
        hosts:
          r1: {hostname: 127.0.0.1, port: 010}
        defaults: {username: u, password_env: PW}
    """)

    assert inventory.hosts["r1"].port == 8


# --limit


@pytest.fixture
def fleet_inventory(tmp_path: Path) -> Inventory:
    return load(tmp_path, """
        hosts:
          edge-1: {hostname: 127.0.0.1, port: 1001, groups: [tokyo]}
          edge-2: {hostname: 127.0.0.1, port: 1002, groups: [osaka]}
          core-1: {hostname: 127.0.0.1, port: 1003, groups: [core]}
          core-2: {hostname: 127.0.0.1, port: 1004, groups: [core, osaka]}
        groups:
          tokyo: {groups: [japan]}
          osaka: {groups: [japan]}
          japan: {}
          core: {}
          spare: {}
        defaults: {username: u, password_env: PW}
    """)


def names(hosts: list) -> list[str]:
    return [host.name for host in hosts]


def test_limit_by_host_name(fleet_inventory: Inventory) -> None:
    assert names(fleet_inventory.limit(["core-2"])) == ["core-2"]


def test_limit_by_group(fleet_inventory: Inventory) -> None:
    assert names(fleet_inventory.limit(["osaka"])) == ["edge-2", "core-2"]


def test_limit_by_parent_group(fleet_inventory: Inventory) -> None:
    assert names(fleet_inventory.limit(["japan"])) == ["edge-1", "edge-2", "core-2"]


def test_limit_by_glob(fleet_inventory: Inventory) -> None:
    assert names(fleet_inventory.limit(["edge-*"])) == ["edge-1", "edge-2"]
    assert names(fleet_inventory.limit(["*-[2]"])) == ["edge-2", "core-2"]


def test_limit_glob_is_case_sensitive(fleet_inventory: Inventory) -> None:
    with pytest.raises(InputError):
        fleet_inventory.limit(["EDGE-*"])


def test_limit_union_keeps_inventory_order(fleet_inventory: Inventory) -> None:
    selected = fleet_inventory.limit(["core", "edge-1", "core-*"])

    assert names(selected) == ["edge-1", "core-1", "core-2"]


def test_limit_without_patterns_selects_all(fleet_inventory: Inventory) -> None:
    assert names(fleet_inventory.limit([])) == ["edge-1", "edge-2", "core-1", "core-2"]


def test_limit_no_match_lists_known_names(fleet_inventory: Inventory) -> None:
    with pytest.raises(InputError) as caught:
        fleet_inventory.limit(["edge-1", "nagoya", "dist-*"])
    message = str(caught.value)

    assert "'nagoya', 'dist-*'" in message
    assert "'edge-1'" not in message
    assert "Known groups: tokyo, osaka, japan, core, spare" in message
    assert "Known hosts: edge-1, edge-2, core-1, core-2" in message


def test_limit_empty_group_is_an_error(fleet_inventory: Inventory) -> None:
    with pytest.raises(InputError, match="group spare has no hosts"):
        fleet_inventory.limit(["spare"])


def test_limit_error_shortens_long_host_list(tmp_path: Path) -> None:
    hosts = "".join(f"  r{index:03}: {{hostname: 127.0.0.1}}\n" for index in range(50))
    inventory = load(tmp_path, "defaults: {username: u, password_env: PW}\nhosts:\n" + hosts)

    with pytest.raises(InputError) as caught:
        inventory.limit(["x"])

    assert "r019, ... (50 hosts in all)" in str(caught.value)
    assert "r020" not in str(caught.value)


def test_select_by_exact_names_still_works(fleet_inventory: Inventory) -> None:
    assert names(fleet_inventory.select(["core-1", "edge-1"])) == ["core-1", "edge-1"]
    with pytest.raises(InputError, match="host core is not in the inventory"):
        fleet_inventory.select(["core"])


def test_unknown_release_names_file_and_line(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "defaults:\n  username: admin\n  password_env: DEVICE_PASSWORD\n"
        "groups:\n  old:\n    release: '17.6'\n"
        "hosts:\n  r1:\n    hostname: 127.0.0.1\n    groups: [old]\n",
        encoding="utf-8",
    )

    with pytest.raises(InputError) as raised:
        load_inventory(inventory, environ={"DEVICE_PASSWORD": "pw"})

    message = str(raised.value)
    assert message.startswith(f"{inventory}:6: host r1: release (set in group old):")
    assert "no payload profile for IOS XE 17.6" in message


def test_missing_ca_bundle_names_file_and_line(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "hosts:\n  r1:\n    hostname: 127.0.0.1\n    transport: restconf\n    username: admin\n"
        "    password_env: DEVICE_PASSWORD\n    ca_bundle: missing.pem\n",
        encoding="utf-8",
    )

    with pytest.raises(InputError) as raised:
        load_inventory(inventory, environ={"DEVICE_PASSWORD": "pw"})

    message = str(raised.value)
    assert message.startswith(f"{inventory}:7: host r1: ca_bundle:")
    assert str(tmp_path / "missing.pem") in message


def test_existing_ca_bundle_is_made_absolute(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("placeholder\n", encoding="utf-8")
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "hosts:\n  r1:\n    hostname: 127.0.0.1\n    transport: restconf\n    username: admin\n"
        "    password_env: DEVICE_PASSWORD\n    ca_bundle: ca.pem\n    release: '17.12'\n",
        encoding="utf-8",
    )

    host = load_inventory(inventory, environ={"DEVICE_PASSWORD": "pw"}).hosts["r1"]

    assert host.ca_bundle == tmp_path / "ca.pem"
    assert host.release == "17.12"
    assert host.port == 443
