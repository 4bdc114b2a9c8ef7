"""IOS XE release profiles of the lab device: module revisions and NETCONF hello capabilities.

Add a release by adding one entry to ``RELEASES``. The revisions come from the YangModels/yang
folders ``vendor/cisco/xe/<release>`` of the matching x.y.1 release.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from payloads import namespaces as ns

_BASE_CAPABILITIES = (
    "urn:ietf:params:netconf:base:1.0",
    "urn:ietf:params:netconf:base:1.1",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
    "urn:ietf:params:netconf:capability:validate:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:writable-running:1.0",
    "urn:ietf:params:netconf:capability:xpath:1.0",
    ("urn:ietf:params:netconf:capability:with-defaults:1.0"
    "?basic-mode=explicit&also-supported=report-all-tagged,report-all"),
)

CANDIDATE_CAPABILITY = "urn:ietf:params:netconf:capability:candidate:1.0"
CONFIRMED_COMMIT_CAPABILITY = "urn:ietf:params:netconf:capability:confirmed-commit:1.1"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"

# Modules that stay in the hello on every release.
_HELLO_MODULES = ("ietf-netconf-monitoring", "cisco-ia")

# Modules that IOS XE 17.9 and older list in the hello and that 17.10+ lists only in
# ietf-yang-library.
NATIVE_MODULES = (
    "Cisco-IOS-XE-native",
    "Cisco-IOS-XE-eem",
    "Cisco-IOS-XE-crypto",
    "Cisco-IOS-XE-cli-rpc",
    "Cisco-IOS-XE-crypto-pki-oper",
)


@dataclass(frozen=True)
class Module:
    """A YANG module that a release implements."""

    name: str
    revision: str
    namespace: str


@dataclass(frozen=True)
class Release:
    """NETCONF profile of one IOS XE release: modules and hello content.

    Attributes:
        name: Release name as users type it, e.g. ``"17.12"``.
        modules: Implemented modules, listed in ietf-yang-library.
        native_modules_in_hello: True up to IOS XE 17.9, where the Cisco native modules are
            also advertised as hello capabilities.
    """

    name: str
    modules: tuple[Module, ...]
    native_modules_in_hello: bool

    def module(self, name: str) -> Module:
        """Return the module called ``name``; raise KeyError when the release lacks it."""
        for module in self.modules:
            if module.name == name:
                return module
        raise KeyError(name)

    def capabilities(self, *, candidate: bool = True, confirmed_commit: bool = False) -> list[str]:
        """Build the capability URIs of the server hello.

        Args:
            candidate: Advertise ``:candidate``. IOS XE does so only with
                ``netconf-yang feature candidate-datastore`` configured.
            confirmed_commit: Advertise ``:confirmed-commit:1.1``, which no IOS XE release does.
        """
        caps = [cap for cap in _BASE_CAPABILITIES if candidate or cap != CANDIDATE_CAPABILITY]
        if confirmed_commit:
            caps.append(CONFIRMED_COMMIT_CAPABILITY)
        caps.append(
            "urn:ietf:params:netconf:capability:yang-library:1.1"
            f"?revision=2019-01-04&content-id={self.content_id()}"
        )
        hello_modules = list(_HELLO_MODULES)
        if self.native_modules_in_hello:
            hello_modules.extend(NATIVE_MODULES)
        for name in hello_modules:
            module = self.module(name)
            caps.append(f"{module.namespace}?module={module.name}&revision={module.revision}")
        return caps

    def content_id(self) -> str:
        """Return the yang-library content-id: a digest of the module set."""
        text = ";".join(f"{m.name}@{m.revision}" for m in self.modules)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _modules(
    native: str, eem: str, crypto: str, cli_rpc: str, cisco_ia: str, pki_oper: str
) -> tuple[Module, ...]:
    return (
        Module("Cisco-IOS-XE-native", native, ns.NATIVE),
        Module("Cisco-IOS-XE-eem", eem, ns.EEM),
        Module("Cisco-IOS-XE-crypto", crypto, ns.CRYPTO),
        Module("Cisco-IOS-XE-cli-rpc", cli_rpc, ns.CLI_RPC),
        Module("cisco-ia", cisco_ia, ns.CISCO_IA),
        Module("Cisco-IOS-XE-crypto-pki-oper", pki_oper, ns.PKI_OPER),
        Module("ietf-netconf-monitoring", "2010-10-04", ns.NETCONF_MONITORING),
        Module("ietf-yang-library", "2019-01-04", ns.YANG_LIBRARY),
    )


RELEASES: dict[str, Release] = {
    "17.9": Release(
        name="17.9",
        modules=_modules(
            native="2022-07-01",
            eem="2021-03-01",
            crypto="2022-07-01",
            cli_rpc="2022-07-01",
            cisco_ia="2021-11-01",
            pki_oper="2021-03-01",
        ),
        native_modules_in_hello=True,
    ),
    "17.12": Release(
        name="17.12",
        modules=_modules(
            native="2023-07-01",
            eem="2022-11-01",
            crypto="2023-07-01",
            cli_rpc="2022-11-01",
            cisco_ia="2021-11-01",
            pki_oper="2022-11-01",
        ),
        native_modules_in_hello=False,
    ),
    "17.15": Release(
        name="17.15",
        modules=_modules(
            native="2024-07-01",
            eem="2024-07-01",
            crypto="2024-07-01",
            cli_rpc="2024-07-01",
            cisco_ia="2024-07-01",
            pki_oper="2022-11-01",
        ),
        native_modules_in_hello=False,
    ),
    "17.18": Release(
        name="17.18",
        modules=_modules(
            native="2025-07-01",
            eem="2024-11-01",
            crypto="2025-07-01",
            cli_rpc="2024-07-01",
            cisco_ia="2024-07-01",
            pki_oper="2022-11-01",
        ),
        native_modules_in_hello=False,
    ),
}


def get_release(name: str) -> Release:
    """Return the profile of release ``name`` (``"17.9.1"`` finds ``"17.9"``).

    Raises:
        ValueError: The lab device has no profile for that release.
    """
    if name in RELEASES:
        return RELEASES[name]
    short = ".".join(name.split(".")[:2])
    if short in RELEASES:
        return RELEASES[short]
    known = ", ".join(sorted(RELEASES))
    raise ValueError(f"unknown IOS XE release {name!r} for the lab device; known releases: {known}")
