"""Configuration that cli-rpc applies but no YANG model covers, so get-config never shows it:
EEM mail actions, the applet events and actions that the release's YANG lacks, and the hex
bodies of CA certificates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class UnmodelledStore:
    """CLI-only configuration of one lab device.

    Attributes:
        applet_actions: Applet name to action label to the action's CLI line (as sent,
            leading spaces removed), e.g. ``{"Mail": {"0010": "action 0010 mail server ..."}}``.
        applet_events: Applet name to its ``event ...`` line, for event kinds the release
            does not model (an applet has one event, so one line each).
        certificates: Certificate chain (trustpoint) name to certificate serial to the
            certificate's DER bytes as upper-case hex without spaces.
    """

    applet_actions: dict[str, dict[str, str]] = field(default_factory=dict)
    applet_events: dict[str, str] = field(default_factory=dict)
    certificates: dict[str, dict[str, str]] = field(default_factory=dict)

    def set_action(self, applet: str, label: str, line: str) -> None:
        """Store an unmodelled action line under its applet and label."""
        self.applet_actions.setdefault(applet, {})[label] = line

    def remove_action(self, applet: str, label: str) -> bool:
        """Remove one action; return True if it existed."""
        actions = self.applet_actions.get(applet, {})
        existed = actions.pop(label, None) is not None
        if not actions:
            self.applet_actions.pop(applet, None)
        return existed

    def set_event(self, applet: str, line: str) -> None:
        """Store an unmodelled event line; it replaces the applet's previous one."""
        self.applet_events[applet] = line

    def remove_event(self, applet: str) -> bool:
        """Remove the applet's unmodelled event; return True if it existed."""
        return self.applet_events.pop(applet, None) is not None

    def drop_applets(self, names: set[str]) -> bool:
        """Forget the events and actions of these applets; return True if anything was
        dropped."""
        dropped = False
        for name in names:
            dropped = self.applet_actions.pop(name, None) is not None or dropped
            dropped = self.applet_events.pop(name, None) is not None or dropped
        return dropped

    def set_certificate(self, chain: str, serial: str, hex_body: str) -> None:
        """Store a certificate body under its chain and serial."""
        self.certificates.setdefault(chain, {})[serial] = hex_body

    def remove_certificate(self, chain: str, serial: str) -> bool:
        """Remove one certificate; return True if it existed."""
        certs = self.certificates.get(chain, {})
        existed = certs.pop(serial, None) is not None
        if not certs:
            self.certificates.pop(chain, None)
        return existed

    def keep_only(self, applets: set[str], trustpoints: set[str]) -> bool:
        """Drop what belongs to applets or trustpoints that no longer exist; return True if
        anything was dropped."""
        gone_applets = (set(self.applet_actions) | set(self.applet_events)) - applets
        gone_chains = set(self.certificates) - trustpoints
        for name in gone_applets:
            self.applet_actions.pop(name, None)
            self.applet_events.pop(name, None)
        for name in gone_chains:
            del self.certificates[name]
        return bool(gone_applets or gone_chains)

    def to_data(self) -> dict[str, Any]:
        """Return the store as plain, JSON-ready data (deep copies)."""
        return {
            "applet_actions": {k: dict(v) for k, v in self.applet_actions.items()},
            "applet_events": dict(self.applet_events),
            "certificates": {k: dict(v) for k, v in self.certificates.items()},
        }

    @classmethod
    def from_data(cls, data: dict[str, Any] | None) -> UnmodelledStore:
        """Build a store from ``to_data`` output; None gives an empty store."""
        if not data:
            return cls()
        return cls(
            applet_actions={k: dict(v) for k, v in data.get("applet_actions", {}).items()},
            applet_events=dict(data.get("applet_events", {})),
            certificates={k: dict(v) for k, v in data.get("certificates", {}).items()},
        )
