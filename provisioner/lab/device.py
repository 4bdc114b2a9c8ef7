"""State of one simulated IOS XE device: datastores, locks, sessions, sync and persistence.

All methods expect the caller to hold ``DeviceState.lock``; the RPC handlers do, and so does
the Python API when it reads state from another thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

from payloads import namespaces as ns
from provisioner.lab import datastore, statedir
from provisioner.lab.errors import RpcError
from provisioner.lab.faults import Faults
from provisioner.lab.releases import Release
from provisioner.lab.rpclog import RpcLog
from provisioner.lab.schema import SchemaNode, native_schema
from provisioner.lab.statedir import StateDir
from provisioner.lab.unmodelled import UnmodelledStore
from provisioner.lab.yangcheck import YangValidator

logger = logging.getLogger(__name__)

DATASTORES = ("running", "candidate")

# Every IOS XE device ships a self-signed trustpoint and Cisco's SLA-TrustPoint (and often
# CISCO_IDEVID_SUDI*). A fresh lab device carries the first two, so tools cannot assume an
# empty crypto pki configuration.
_BUILT_IN_NATIVE = f"""
<native xmlns="{ns.NATIVE}">
  <crypto>
    <pki xmlns="{ns.CRYPTO}">
      <trustpoint>
        <id>SLA-TrustPoint</id>
        <enrollment><enrollment-method><pkcs12/></enrollment-method></enrollment>
        <revocation-check>crl</revocation-check>
        <hash>sha256</hash>
      </trustpoint>
      <trustpoint>
        <id>TP-self-signed-1234567890</id>
        <enrollment><enrollment-method><selfsigned/></enrollment-method></enrollment>
        <revocation-check>none</revocation-check>
        <subject-name>cn=IOS-Self-Signed-Certificate-1234567890</subject-name>
        <rsakeypair><key-label>TP-self-signed-1234567890</key-label></rsakeypair>
      </trustpoint>
      <certificate>
        <chain>
          <name>SLA-TrustPoint</name>
          <certificate><serial>01</serial><certtype>ca</certtype></certificate>
        </chain>
        <chain>
          <name>TP-self-signed-1234567890</name>
          <certificate><serial>01</serial><certtype>self-signed</certtype></certificate>
        </chain>
      </certificate>
    </pki>
  </crypto>
</native>
"""

_APPLET_NAMES = etree.XPath(
    "/nc:data/ios:native/ios:event/eem:manager/eem:applet/eem:name/text()",
    namespaces=ns.XPATH_PREFIXES,
)
_TRUSTPOINT_IDS = etree.XPath(
    "/nc:data/ios:native/ios:crypto/crypto:pki/crypto:trustpoint/crypto:id/text()",
    namespaces=ns.XPATH_PREFIXES,
)
_CERTIFICATE_CHAINS = etree.XPath(
    "/nc:data/ios:native/ios:crypto/crypto:pki/crypto:certificate/crypto:chain",
    namespaces=ns.XPATH_PREFIXES,
)


def _drop_orphan_chains(running: etree._Element) -> None:
    """Remove the ``crypto pki certificate chain`` entries whose trustpoint is gone.

    NOTE: a guess. The lab's ``no crypto pki trustpoint`` removes the chain too, and whether a
    NETCONF delete of the trustpoint does the same on IOS XE was not checked on a device.
    """
    trustpoints = set(_TRUSTPOINT_IDS(running))
    for chain in _CERTIFICATE_CHAINS(running):
        if chain.findtext(f"{{{ns.CRYPTO}}}name") not in trustpoints:
            parent = chain.getparent()
            parent.remove(chain)
            if not len(parent):
                parent.getparent().remove(parent)


def _parse_datastore(data: bytes) -> etree._Element:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(data, parser)
    if root.tag != f"{{{ns.NETCONF_BASE}}}data":
        raise ValueError(f"saved datastore has root {root.tag}, expected <data>")
    return root


def _built_in_datastore() -> etree._Element:
    data = datastore.new_datastore()
    data.remove(data[0])
    parser = etree.XMLParser(remove_blank_text=True)
    data.append(etree.fromstring(_BUILT_IN_NATIVE.encode(), parser))
    return data


class DeviceState:
    """Everything one lab device remembers.

    Args:
        name: Device name used in logs and the RPC log.
        state: State directory for persistence.
        release: Release profile (hello, yang-library).
        faults: Fault settings, shared with the caller.
        yang_dir: Folder of YANG modules; enables get-schema and libyang validation.
        sync_seconds: How long ``is-syncing`` reports a sync after cli-rpc changed modelled
            configuration.
        candidate_enabled: Whether the device has the candidate datastore (IOS XE:
            ``netconf-yang feature candidate-datastore``).
    """

    def __init__(
        self,
        name: str,
        state: StateDir,
        release: Release,
        faults: Faults,
        yang_dir: Path | None = None,
        sync_seconds: float = 0.2,
        candidate_enabled: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.name = name
        self.state = state
        self.release = release
        self.faults = faults
        self.yang_dir = yang_dir
        self.sync_seconds = sync_seconds
        self.candidate_enabled = candidate_enabled
        self.schema: SchemaNode = datastore.root_schema(native_schema(release.name))
        self.validator = YangValidator(yang_dir) if yang_dir is not None else None
        self.rpc_log = RpcLog(state.file(statedir.RPC_LOG_FILE), name)

        saved_running = state.read_bytes(statedir.RUNNING_FILE)
        self.running = (
            _parse_datastore(saved_running) if saved_running else _built_in_datastore()
        )
        saved_startup = state.read_bytes(statedir.STARTUP_FILE)
        self.startup = (
            _parse_datastore(saved_startup) if saved_startup
            else datastore.copy_datastore(self.running)
        )
        self.candidate = datastore.copy_datastore(self.running)
        self.unmodelled = UnmodelledStore.from_data(state.load_json(statedir.UNMODELLED_FILE))
        self.save_running()

        # Applets deleted or replaced in the candidate; their CLI-only actions go on commit.
        self.pending_reset_applets: set[str] = set()
        self.locks: dict[str, int] = {}
        self.sessions: dict[int, Callable[[], None]] = {}
        self._next_session_id = 1
        self._sync_until = 0.0
        self._sync_snapshot: dict[str, etree._Element] | None = None

    # Sessions and locks

    def open_session(self, kill: Callable[[], None]) -> int:
        """Register a NETCONF session; ``kill`` closes its SSH connection. Return its id."""
        session_id = self._next_session_id
        self._next_session_id += 1
        self.sessions[session_id] = kill
        return session_id

    def close_session(self, session_id: int) -> None:
        """Forget a session and release its locks. A candidate locked by the session loses
        its uncommitted changes (RFC 6241 section 7.5)."""
        self.sessions.pop(session_id, None)
        for name, holder in list(self.locks.items()):
            if holder == session_id:
                del self.locks[name]
                if name == "candidate":
                    self.discard_candidate()

    def check_writable(self, name: str, session_id: int) -> None:
        """Raise in-use when another session holds the lock on datastore ``name``."""
        holder = self.locks.get(name)
        if holder is not None and holder != session_id:
            raise RpcError(
                "protocol", "in-use",
                f"the {name} datastore is locked by session {holder}", None,
                [("session-id", str(holder))],
            )

    def candidate_dirty(self) -> bool:
        """True when the candidate differs from running."""
        return datastore.canonical(self.candidate) != datastore.canonical(self.running)

    def discard_candidate(self) -> None:
        """Reset the candidate to running and forget its pending applet resets."""
        self.candidate = datastore.copy_datastore(self.running)
        self.pending_reset_applets.clear()

    # Sync of CLI changes into the NETCONF view

    def start_sync(self, before: dict[str, etree._Element] | None = None) -> None:
        """Start a sync window: until it ends, get-config shows the datastores as they were
        before the CLI change (IOS XE applies cli-rpc to the running config at once but its
        NETCONF datastore catches up only after a sync)."""
        if self._sync_snapshot is None and before is not None:
            self._sync_snapshot = before
        self._sync_until = time.monotonic() + self.sync_seconds

    def is_syncing(self) -> bool:
        """True while a sync window is open; closes an expired window."""
        if self.faults.keep_syncing:
            return True
        if self._sync_until and time.monotonic() >= self._sync_until:
            self._sync_until = 0.0
            self._sync_snapshot = None
        return self._sync_until > 0.0

    def visible(self, name: str) -> etree._Element:
        """Return datastore ``name`` as NETCONF readers see it now."""
        if self.is_syncing() and self._sync_snapshot is not None:
            return self._sync_snapshot[name]
        return self.running if name == "running" else self.candidate

    # Changes to running

    def set_running(self, new_running: etree._Element, reset_applets: set[str]) -> None:
        """Make ``new_running`` the running datastore after a commit or an edit of running.

        Applies ``faults.mutate_after_commit``, drops the CLI-only configuration of applets
        that were replaced or deleted and the certificates of trustpoints that are gone, resets
        a clean candidate and saves everything.
        """
        self.faults.apply_mutations(new_running)
        _drop_orphan_chains(new_running)
        candidate_was_dirty = self.candidate_dirty()
        self.running = new_running
        # A NETCONF write ends the hidden view of a pending CLI sync, so readers never see a
        # datastore that lacks their own committed edit.
        self._sync_snapshot = None
        changed = self.unmodelled.drop_applets(reset_applets)
        changed = self.keep_unmodelled_consistent() or changed
        if changed:
            self.save_unmodelled()
        if not candidate_was_dirty:
            self.discard_candidate()
        self.save_running()

    def keep_unmodelled_consistent(self) -> bool:
        """Drop CLI-only configuration whose applet or trustpoint no longer exists."""
        return self.unmodelled.keep_only(
            set(_APPLET_NAMES(self.running)), set(_TRUSTPOINT_IDS(self.running))
        )

    def validate(self, data: etree._Element) -> None:
        """Run the libyang check when a YANG folder was given."""
        if self.validator is not None:
            self.validator.check(data)

    # Persistence

    def save_running(self) -> None:
        """Save running to the state directory."""
        self.state.save_bytes(statedir.RUNNING_FILE, etree.tostring(self.running,
                                                                     pretty_print=True))

    def save_startup(self) -> None:
        """Copy running to startup and save it, like ``copy running-config startup-config``."""
        self.startup = datastore.copy_datastore(self.running)
        self.state.save_bytes(statedir.STARTUP_FILE, etree.tostring(self.startup,
                                                                     pretty_print=True))

    def save_unmodelled(self) -> None:
        """Save the CLI-only configuration to the state directory."""
        self.state.save_json(statedir.UNMODELLED_FILE, self.unmodelled.to_data())

    def close(self) -> None:
        """Close files; the state stays on disk for the next start."""
        self.rpc_log.close()
