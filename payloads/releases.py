"""Release profiles: which YANG shape of Cisco-IOS-XE-native a device release expects.

A profile is chosen from the module revisions a device reports, not from its name. The shape
changes this tool cares about, with the Cisco-IOS-XE-eem revision that carries them (from
YangModels/yang vendor/cisco/xe):

- 17.13: ``maxrun``, ``ratelimit``, ``period`` and ``time`` became decimal64 ``*-set`` leaves
  (milliseconds); the uint32 twins are deprecated. 17.12 ships eem 2022-11-01, so any later
  revision has them.
- 17.14: set, else, while, foreach and other actions gained YANG nodes; 17.15 (eem
  2024-07-01) moved every action under ``action-config/action``, modelled ``event cli``, puts
  and context. A revision between 17.12's and 17.15's gets the 17.12 action list: the newer
  verbs then travel through config-ios-cli-rpc, which every release from 17.9 accepts.
- 17.9: ``enrollment/enrollment-method/terminal`` and config-ios-cli-rpc exist; older releases
  are not supported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

EEM = "Cisco-IOS-XE-eem"

_EVENTS_17_12 = frozenset({"none", "syslog", "track", "timer", "ipsla", "routing"})
_ACTIONS_17_12 = frozenset({"cli", "syslog", "regexp", "if", "end", "exit", "reload", "wait", "snmp_trap", "string_trim"})
_ACTIONS_17_15 = _ACTIONS_17_12 | {
    "set", "increment", "decrement", "append", "elseif", "else", "while", "break", "continue",
    "foreach", "puts", "gets", "context_save", "context_retrieve",
}


@dataclass(frozen=True)
class ReleaseProfile:
    """The payload shape for one IOS XE release train.

    Attributes:
        name: the release train, e.g. ``17.12``.
        revisions: module name -> YANG revision that the train ships.
        event_kinds: intent event kinds that the release's YANG models.
        action_kinds: intent action kinds that the release's YANG models; the others (always
            ``mail``) travel as CLI lines through config-ios-cli-rpc.
        decimal_timers: timers are the decimal64 ``*-set`` leaves (17.13 and later).
        action_config: actions sit under ``applet/action-config/action`` (17.15 and later).
        cli_rpc: whether ``Cisco-IOS-XE-cli-rpc:config-ios-cli-rpc`` exists (17.9 and later).
        note: set when the device's revisions match no profile exactly; names the profile used.
    """

    name: str
    revisions: dict[str, str]
    event_kinds: frozenset[str]
    action_kinds: frozenset[str]
    decimal_timers: bool = False
    action_config: bool = False
    cli_rpc: bool = True
    note: str = ""

    def models_event(self, kind: str) -> bool:
        """Return whether an event of this kind can be sent in YANG to this release."""
        return kind in self.event_kinds

    def models_action(self, kind: str) -> bool:
        """Return whether an action of this kind can be sent in YANG to this release."""
        return kind in self.action_kinds

    @property
    def yang_folder(self) -> str:
        """The folder name YangModels/yang uses for the train's first release, e.g. ``17121``."""
        return self.name.replace(".", "") + "1"


def _revisions(native: str, eem: str, crypto: str, cli_rpc: str, pki_oper: str, cisco_ia: str) -> dict[str, str]:
    return {
        "Cisco-IOS-XE-native": native,
        EEM: eem,
        "Cisco-IOS-XE-crypto": crypto,
        "Cisco-IOS-XE-cli-rpc": cli_rpc,
        "Cisco-IOS-XE-crypto-pki-oper": pki_oper,
        "cisco-ia": cisco_ia,
    }


# Revisions as published in YangModels/yang vendor/cisco/xe/{1791,17121,17151,17181}.
IOS_XE_17_9 = ReleaseProfile(
    "17.9", _revisions("2022-07-01", "2021-03-01", "2022-07-01", "2022-07-01", "2021-03-01", "2021-11-01"),
    _EVENTS_17_12, _ACTIONS_17_12,
)
IOS_XE_17_12 = ReleaseProfile(
    "17.12", _revisions("2023-07-01", "2022-11-01", "2023-07-01", "2022-11-01", "2022-11-01", "2021-11-01"),
    _EVENTS_17_12, _ACTIONS_17_12,
)
IOS_XE_17_15 = ReleaseProfile(
    "17.15", _revisions("2024-07-01", "2024-07-01", "2024-07-01", "2024-07-01", "2022-11-01", "2024-07-01"),
    _EVENTS_17_12 | {"cli"}, _ACTIONS_17_15, decimal_timers=True, action_config=True,
)
IOS_XE_17_18 = ReleaseProfile(
    "17.18", _revisions("2025-07-01", "2024-11-01", "2025-07-01", "2024-07-01", "2022-11-01", "2024-07-01"),
    _EVENTS_17_12 | {"cli"}, _ACTIONS_17_15, decimal_timers=True, action_config=True,
)

PROFILES = {profile.name: profile for profile in (IOS_XE_17_9, IOS_XE_17_12, IOS_XE_17_15, IOS_XE_17_18)}
DEFAULT_PROFILE = IOS_XE_17_12


def profile_for(release: str) -> ReleaseProfile:
    """Return the profile for a release such as ``17.12`` or ``17.18.1``.

    Raises:
        ValueError: no profile exists for that release train.
    """
    train = ".".join(release.split(".")[:2])
    if train not in PROFILES:
        known = ", ".join(PROFILES)
        raise ValueError(
            f"no payload profile for IOS XE {release}; known release trains: {known}. For a device, "
            "let the tool read its module revisions instead of naming a release"
        )
    return PROFILES[train]


def profile_for_revisions(revisions: dict[str, str]) -> ReleaseProfile:
    """Return the profile for the module revisions a device reports.

    An exact Cisco-IOS-XE-eem match picks that train. A revision between two profiles gets the
    older one with the features its revision implies, and a revision newer than every profile
    gets the newest one; both cases carry a ``note`` saying so.

    Raises:
        ValueError: the device does not report Cisco-IOS-XE-eem, or it is older than IOS XE 17.9.
    """
    eem = revisions.get(EEM)
    if eem is None:
        raise ValueError(f"the device does not report the {EEM} module, so its YANG shape is unknown")
    ordered = sorted(PROFILES.values(), key=lambda profile: profile.revisions[EEM])
    exact = [profile for profile in ordered if profile.revisions[EEM] == eem]
    if exact:
        # 17.9 and the trains after it each carry their own eem revision; prefer the one whose
        # other modules match too.
        return max(exact, key=lambda profile: sum(revisions.get(m) == r for m, r in profile.revisions.items()))
    older = [profile for profile in ordered if profile.revisions[EEM] < eem]
    if not older:
        raise ValueError(
            f"{EEM} revision {eem} is older than IOS XE 17.9 ({ordered[0].revisions[EEM]}); releases before "
            "17.9 have no config-ios-cli-rpc for the mail action and are not supported"
        )
    base = older[-1]
    decimal = base.decimal_timers or eem > IOS_XE_17_12.revisions[EEM]
    newest = base is ordered[-1]
    where = "newer than every profile" if newest else "between two profiles"
    note = (
        f"{EEM} revision {eem} is {where}; payloads use the IOS XE {base.name} shape"
        + (" with decimal64 timer leaves" if decimal and not base.decimal_timers else "")
    )
    return dataclasses.replace(base, decimal_timers=decimal, note=note)
