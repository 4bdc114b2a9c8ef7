"""Release profiles: which YANG shape of Cisco-IOS-XE-native a device release expects."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReleaseProfile:
    """The payload shape for one IOS XE release train.

    Attributes:
        name: the release train, e.g. ``17.12``.
        revisions: module name -> YANG revision that the train ships.
        cli_rpc: whether ``Cisco-IOS-XE-cli-rpc:config-ios-cli-rpc`` exists (17.9 and later).
        event_kinds: intent event kinds that the release's YANG models.
        action_kinds: intent action kinds that the release's YANG models; the others (always
            ``mail``) travel as CLI lines through config-ios-cli-rpc.
    """

    name: str
    revisions: dict[str, str]
    event_kinds: frozenset[str]
    action_kinds: frozenset[str]
    cli_rpc: bool = True

    def models_event(self, kind: str) -> bool:
        """Whether an event of this kind can be sent in YANG to this release."""
        return kind in self.event_kinds

    def models_action(self, kind: str) -> bool:
        """Whether an action of this kind can be sent in YANG to this release."""
        return kind in self.action_kinds


# Revisions as published in YangModels/yang vendor/cisco/xe/17121.
IOS_XE_17_12 = ReleaseProfile(
    name="17.12",
    revisions={
        "Cisco-IOS-XE-native": "2023-07-01",
        "Cisco-IOS-XE-eem": "2022-11-01",
        "Cisco-IOS-XE-crypto": "2023-07-01",
        "Cisco-IOS-XE-cli-rpc": "2022-11-01",
        "Cisco-IOS-XE-crypto-pki-oper": "2022-11-01",
        "cisco-ia": "2021-11-01",
    },
    # Cisco-IOS-XE-eem 2022-11-01: `event cli` arrives in 17.15, and set, else, while, foreach,
    # puts, context and friends arrive in 17.14 (puts and context in 17.15).
    event_kinds=frozenset({"none", "syslog", "track", "timer", "ipsla", "routing"}),
    action_kinds=frozenset({"cli", "syslog", "regexp", "if", "end", "exit", "reload", "wait", "snmp_trap", "string_trim"}),
)

PROFILES = {IOS_XE_17_12.name: IOS_XE_17_12}
DEFAULT_PROFILE = IOS_XE_17_12


def profile_for(release: str) -> ReleaseProfile:
    """Return the profile for a release such as ``17.12`` or ``17.12.1``.

    Raises:
        ValueError: no profile exists for that release train.
    """
    train = ".".join(release.split(".")[:2])
    if train not in PROFILES:
        known = ", ".join(sorted(PROFILES))
        # TODO: profiles for 17.9, 17.15 and 17.18 (action-config, maxrun-set) are not written yet.
        raise ValueError(f"no payload profile for IOS XE {release}; known release trains: {known}")
    return PROFILES[train]
