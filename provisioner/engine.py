"""Plan and apply an intent on one device over NETCONF.

The apply flow. IOS XE advertises ``:candidate`` (once ``netconf-yang feature
candidate-datastore`` is configured) but never ``:confirmed-commit``, and cisco-ia has no
confirm RPC:

1. lock running, then candidate (retrying with backoff while another session holds a lock),
   and read the owned objects (the snapshot) and, when the intent has CA certificates, the
   certificates pki-oper lists in its trustpoints, in the same round trip;
2. stop here, unlocking, if the device already matches the intent;
3. edit-config on candidate, validate, commit (discard-changes after a refusal). Without
   ``:candidate`` the edit goes to running with ``error-option rollback-on-error`` instead;
4. config-ios-cli-rpc for the lines no YANG model covers (mail actions, certificate bodies),
   ending with the digest marker variable;
5. poll ``cisco-ia:is-syncing`` until the native datastore has caught up with that CLI;
6. get-config (and pki-oper for certificates) and compare every owned object and the digest;
7. with ``save_config``, ``cisco-ia:save-config``, only after step 6 passed;
8. unlock, always.

Why this order. IOS XE applies config-ios-cli-rpc lines at once, outside the NETCONF
transaction, so they can neither be committed with the modelled part nor be rolled back by it.
The mail action names environment variables (``$_email_server``) and a certificate body names its
trustpoint, so the lines go only after the commit that created them. A failure before the
commit (or a refused edit of running) leaves running untouched: the device drops an uncommitted
candidate when the session that locked it ends. Any failure after it restores the snapshot in
one write, from a new session when the first one dropped. That write also rewrites every applet
and trustpoint the cli-rpc wrote into. Rewriting an applet through NETCONF drops its CLI-only
actions, so no mail action outlives a variable that the restore removes. The restore also
deletes the digest marker, so the next apply sends the lines again. A certificate body is in no
YANG model, so rewriting a trustpoint keeps it, while deleting one that the apply created takes
its certificates with it. After the write, a second config-ios-cli-rpc therefore removes
(``no certificate ca SERIAL``) each pushed CA certificate that an existing trustpoint did not
hold in the first pki-oper read. pki-oper, read after the write and again after the removal,
verifies that no pushed certificate is left. ``ApplyResult.outcome`` names the state in which
the owned configuration ended: ``unknown`` when a removal failed or could not be verified.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from lxml import etree

from models.certificate import ios_serial, serial_number
from models.eem import CLI_DIGEST_VARIABLE
from models.intent import Intent
from models.inventory import Host
from payloads import cli
from payloads import namespaces as ns
from payloads.filters import intent_filter, owned_filter, pki_oper_filter
from payloads.native_xml import NativeBuilder, owned_objects, render_edit
from payloads.objects import ObjectKey
from payloads.readback import read_config, read_pki_oper
from payloads.releases import ReleaseProfile
from provisioner import logsafe
from provisioner.diff import Plan, compare, edit_items
from provisioner.errors import (
    DeviceError,
    DeviceRefusedError,
    DeviceUnreachableError,
    LockHeldError,
    ProvisionerError,
    RpcErrorInfo,
    VerificationError,
)
from provisioner.releases import batch_with_library, device_revisions, release_profile
from provisioner.yangcache import try_fetch_closure
from provisioner.transport import open_session
from provisioner.transport.base import Datastore, Request, Session, request, unwrap
from provisioner.transport.netconf import CANDIDATE
from provisioner.validation import SchemaValidator, find_yang_folder

logger = logging.getLogger(__name__)

ROLLBACK_ON_ERROR = "urn:ietf:params:netconf:capability:rollback-on-error:1.0"

SessionFactory = Callable[[Host], Session]
Outcome = Literal["unchanged", "applied", "rolled-back", "unknown"]
Mode = Literal["candidate", "running"]


@dataclass(frozen=True)
class ObjectReport:
    """The outcome of apply for one object, and the check that confirmed it."""

    name: str
    outcome: Literal["added", "changed", "removed", "unchanged", "pushed"]
    verified_by: str


@dataclass
class ApplyResult:
    """The outcome of apply on one device.

    Attributes:
        device: the inventory name.
        plan: what differed before the apply.
        changed: whether anything was sent to the device.
        objects: per object, what happened and how it was verified.
        error: the error that stopped the apply, if any.
        outcome: the state of the owned modelled configuration at the end. ``unchanged``: as
            before, nothing committed. ``applied``: the intent, verified. ``rolled-back``:
            changed, then restored from the snapshot, with the CA certificates that the apply
            added removed, and verified. ``unknown``: the restore failed or could not be
            verified (see ``notes``).
        datastore: ``candidate`` or ``running``: where the edit went (None before the hello).
        notes: what was verified and how, what was not and why, in order.
        saved: running was saved to startup after verification (``--save-config``).
    """

    device: str
    plan: Plan | None = None
    changed: bool = False
    objects: list[ObjectReport] = field(default_factory=list)
    error: ProvisionerError | None = None
    outcome: Outcome = "unchanged"
    datastore: Mode | None = None
    notes: list[str] = field(default_factory=list)
    saved: bool = False

    @property
    def failed(self) -> bool:
        """True when the apply stopped with an error."""
        return self.error is not None

    @property
    def unsaved(self) -> bool:
        """True when this apply changed running and did not save it to startup."""
        return self.outcome == "applied" and self.changed and not self.saved


def _default_session(host: Host, *, timeout: float = 30.0, accept_new_host_key: bool = False) -> Session:
    return open_session(host, timeout=timeout, accept_new_host_key=accept_new_host_key)  # type: ignore[return-value]


def plan_device(
    intent: Intent,
    host: Host,
    *,
    session_factory: SessionFactory | None = None,
    rpc_timeout: float = 30.0,
    accept_new_host_key: bool = False,
) -> Plan:
    """Read the owned objects from the device with one get-config and compare them with the intent.

    Raises:
        DeviceError: the device could not be reached or refused the read.
    """
    logsafe.register_secrets(intent.secrets())
    factory = session_factory or functools.partial(
        _default_session, timeout=rpc_timeout, accept_new_host_key=accept_new_host_key
    )
    with factory(host) as session:
        library, data = batch_with_library(session, [request("get_config", "running", intent_filter(intent))])
        profile = release_profile(session, library)
    return compare(intent, read_config(unwrap(data[0])), profile)


@contextmanager
def _locked(session: Session, mode: Mode, lock_timeout: float, reads: list[Request] | None = None) -> Iterator[tuple[etree._Element | None, list[object]]]:
    """Lock running, then candidate in candidate mode, and send ``reads`` in the same round trip.

    Yields what :func:`_first_reads` returns for ``reads`` (read while the locks were held).
    Unlocks in reverse order, always, in one round trip.
    """
    targets: list[Datastore] = ["running", "candidate"] if mode == "candidate" else ["running"]
    library, results = _lock_with_retry(session, targets, lock_timeout, reads or [])
    try:
        yield library, results
    finally:
        _unlock(session, targets)


def _unlock(session: Session, held: list[Datastore]) -> None:
    for target, result in zip(reversed(held), session.batch([request("unlock", target) for target in reversed(held)])):
        if isinstance(result, DeviceError):
            logger.warning("%s: unlock %s failed: %s", session.name, target, result)


_SESSION_ID = re.compile(r"session-id>\s*(\d+)\s*<")


def _lock_holder(error: DeviceRefusedError) -> str | None:
    """Return the session id named in a lock-denied rpc-error's error-info, if any."""
    for info in error.errors:
        match = _SESSION_ID.search(info.info or "")
        if match:
            return match.group(1)
    return None


def _lock_with_retry(
    session: Session, targets: list[Datastore], timeout: float, reads: list[Request]
) -> tuple[etree._Element | None, list[object]]:
    """Lock ``targets`` and read; while another session holds a lock, retry with backoff for up to ``timeout`` s.

    The locks and the reads go in one batch. When a lock is denied, the locks this try got are
    released before the next try, so two applies cannot deadlock on each other's locks. The
    reads of a failed try are dropped.

    Raises:
        LockHeldError: a lock was still held by another session when the time was up.
        DeviceError: a lock failed for another reason (the locks held are released first).
    """
    started = time.monotonic()
    delay = 0.05
    while True:
        library, results = batch_with_library(session, reads, [request("lock", target) for target in targets])
        locks, values = results[: len(targets)], results[len(targets):]
        held = [target for target, result in zip(targets, locks) if not isinstance(result, DeviceError)]
        refused = next((result for result in locks if isinstance(result, DeviceError)), None)
        if refused is None:
            return library, values
        _unlock(session, held)
        # RFC 6241 names lock-denied; some servers return in-use for a datastore being written.
        if not isinstance(refused, DeviceRefusedError) or not any(
            info.error_tag in ("lock-denied", "in-use") for info in refused.errors
        ):
            raise refused
        waited = time.monotonic() - started
        target = targets[locks.index(refused)]
        if waited >= timeout:
            raise LockHeldError(session.name, target, _lock_holder(refused), round(waited, 1), refused.errors) from None
        logger.info("%s: %s is locked by session %s; retrying in %.2f s", session.name, target, _lock_holder(refused), delay)
        time.sleep(min(delay, max(timeout - waited, 0.0)))
        delay = min(delay * 2, 2.0)


def _quietly(session: Session, what: str, step: Callable[[], None]) -> None:
    try:
        step()
    except DeviceError as error:
        logger.warning("%s: %s failed: %s", session.name, what, error)


def apply_device(
    intent: Intent,
    host: Host,
    *,
    session_factory: SessionFactory | None = None,
    sync_timeout: float = 60.0,
    rpc_timeout: float = 30.0,
    lock_timeout: float = 30.0,
    accept_new_host_key: bool = False,
    save_config: bool = False,
    yang_dir: Path | None = None,
    yang_from_device: bool = False,
) -> ApplyResult:
    """Make the device hold the intent, verify it, and restore the previous state on a failure.

    Args:
        intent: what the device must hold.
        host: the device.
        session_factory: opens sessions; by default one for the host's transport with
            ``rpc_timeout`` and ``accept_new_host_key``.
        sync_timeout: seconds to wait for ``cisco-ia:is-syncing`` after config-ios-cli-rpc.
        rpc_timeout: seconds to wait for each RPC reply.
        lock_timeout: seconds to keep retrying, with backoff, while another session holds a lock.
        accept_new_host_key: record an unknown host key in known_hosts (trust on first use).
        save_config: after a verified apply, save running to startup (``cisco-ia:save-config``).
        yang_dir: Cisco YANG of the device's release, or a folder of release folders. When it
            is given, libyang validates the edit first, and an invalid edit is not sent.
        yang_from_device: without ``yang_dir``, fetch the device's modules with ``<get-schema>``
            into the user's cache (once per module revision) and validate against them.

    Returns an ApplyResult; device errors are reported in ``result.error``, not raised, so that a
    caller handling many devices gets one result per device. ``result.outcome`` says in which
    state the owned configuration ended and ``result.notes`` what was verified and how.
    Thread-safe: each call uses its own sessions.
    """
    logsafe.register_secrets(intent.secrets())
    factory = session_factory or functools.partial(
        _default_session, timeout=rpc_timeout, accept_new_host_key=accept_new_host_key
    )
    result = ApplyResult(device=host.name)
    run = _Apply(
        intent, host, factory, result,
        sync_timeout=sync_timeout, lock_timeout=lock_timeout, save_config=save_config, yang_dir=yang_dir,
        yang_from_device=yang_from_device,
    )
    try:
        run.execute()
    except ProvisionerError as error:
        result.error = error
        # INFO: the result carries the error and the CLI prints it; -v shows this line too.
        logger.info("%s: apply failed (%s): %s", host.name, result.outcome, error)
    return result


class _Mismatch(Exception):
    """Verification found differences; carries them to the rollback."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__("; ".join(differences))
        self.differences = differences


def _cli_keys(intent: Intent, plan: Plan) -> set[ObjectKey]:
    """Return the applets and trustpoints that the config-ios-cli-rpc lines of ``plan`` write into."""
    keys = {ObjectKey("applet", line.split()[3]) for line in plan.cli_lines if line.startswith("event manager applet ")}
    keys |= {ObjectKey("trustpoint", trustpoint.name) for trustpoint in intent.trustpoints if trustpoint.ca_der is not None}
    return keys


class _Apply:
    """One apply on one device: the steps, what was sent so far, and the way back.

    ``touched`` turns true once running may differ from the snapshot: a commit (or, without
    candidate, an edit of running) was sent and not refused, or the cli-rpc was sent. Until
    then a failure leaves running as it was, because the device drops an uncommitted candidate
    when the session that locked it ends (RFC 6241 section 7.5), and an edit of running with
    rollback-on-error that is refused changes nothing.
    """

    def __init__(
        self, intent: Intent, host: Host, factory: SessionFactory, result: ApplyResult, *,
        sync_timeout: float, lock_timeout: float, save_config: bool, yang_dir: Path | None = None,
        yang_from_device: bool = False,
    ) -> None:
        self.intent = intent
        self.host = host
        self.factory = factory
        self.result = result
        self.sync_timeout = sync_timeout
        self.lock_timeout = lock_timeout
        self.save_config = save_config
        self.yang_dir = yang_dir
        self.yang_from_device = yang_from_device
        self.keys = list(owned_objects(intent))
        self.mode: Mode = "candidate"
        self.snapshot: etree._Element | None = None
        # Trustpoint -> serials pki-oper listed before the apply, read when the intent pushes CA
        # certificates; None with ``installed_unread`` set when pki-oper could not be read.
        self.installed_before: dict[str, set[int]] | None = {}
        self.installed_unread = ""
        self.plan: Plan | None = None
        self.touched = False
        self.cli_sent = False
        self.verified = False
        self.settled = False
        self.recovery_needed = False

    # The forward path

    def execute(self) -> None:
        failure: DeviceError | None = None
        differences: list[str] | None = None
        try:
            with self.factory(self.host) as session:
                self.mode = "candidate" if CANDIDATE in session.capabilities else "running"
                self.result.datastore = self.mode
                reads = [request("get_config", "running", intent_filter(self.intent))]
                wanted = _wanted_certificates(self.intent)
                if wanted:
                    # A restore removes only the pushed certificates that this read did not list.
                    reads.append(request("get", pki_oper_filter(wanted)))
                with _locked(session, self.mode, self.lock_timeout, reads) as (library, values):
                    try:
                        self._apply(session, library, values[0], values[1] if wanted else None)
                    except _Mismatch as mismatch:
                        differences = mismatch.differences
                        self._rollback(session, "verification found differences")
                    except DeviceRefusedError as error:
                        failure = error
                        if self.touched and not self.verified:
                            self._rollback(session, f"{error.operation} failed")
        except DeviceError as error:
            # A drop, a timeout or a refused lock; a drop during the rollback is handled there.
            failure = failure or error
        if (failure is not None or differences is not None) and self.touched and not self.verified and not self.settled:
            self._recover(failure)
        self._summarise(failure)
        if differences is not None:
            raise VerificationError(self.host.name, differences, self.result.outcome == "rolled-back")
        if failure is not None:
            raise failure

    def _apply(self, session: Session, library: etree._Element | None, snapshot: object, pki: object) -> None:
        intent, result = self.intent, self.result
        profile = release_profile(session, library)
        self.snapshot = unwrap(snapshot)
        if isinstance(pki, DeviceRefusedError):
            self.installed_before, self.installed_unread = None, str(pki)
        elif pki is not None:
            self.installed_before = _installed_serials(unwrap(pki))
        plan = compare(intent, read_config(self.snapshot), profile)
        self.plan = result.plan = plan
        # Pruned objects join the owned keys, so verification checks they are gone and a restore
        # puts them back from the snapshot.
        self.keys.extend(change.key for change in plan.removals)
        if plan.in_sync:
            self.verified = True
            result.objects = _reports(plan)
            result.outcome = "unchanged"
            result.notes.append("the device already held the intent (read with get-config): nothing was sent")
            logger.info("%s: in sync, nothing sent", session.name)
            self._save(session)
            return

        edits = edit_items(plan, intent)
        if edits:
            config = render_edit(edits, profile, reveal=True)
            self._check_schema(session, config, profile)
            result.changed = True
            self._write(session, config)

        if plan.cli_needed:
            # After the write, so the variables and trustpoints the lines name already exist.
            result.changed = True
            self.touched = self.cli_sent = True
            _cli_rpc(session, cli.cli_rpc_text(plan.cli_lines))

        data, pki = self._read_back(session)
        differences = _differences(data, intent, plan, profile)
        certificates = _certificate_checks(intent, pki)
        differences.extend(problem for problem in certificates.values() if problem.startswith("/"))
        if differences:
            raise _Mismatch(differences)
        self.verified = True
        result.objects = _reports(plan, certificates)
        result.outcome = "applied"
        result.notes.append(f"applied through {self.mode} and verified with get-config (per object below)")
        logger.info("%s: applied and verified", session.name)
        self._save(session)

    def _read_back(self, session: Session) -> tuple[etree._Element, object]:
        """Read the owned objects (and pki-oper when certificates were pushed) for verification."""
        reads = [request("get_config", "running", owned_filter(self.keys))]
        wanted = _wanted_certificates(self.intent)
        if wanted:
            reads.append(request("get", pki_oper_filter(wanted)))
        results = _read_after_cli(session, reads, self.sync_timeout) if self.cli_sent else session.batch(reads)
        return unwrap(results[0]), (results[1] if wanted else None)

    def _check_schema(self, session: Session, config: etree._Element, profile: ReleaseProfile) -> None:
        """Validate the edit against the release's YANG, or note in the result that it was not validated."""
        folder: Path | None = None
        if self.yang_dir is not None:
            folder = find_yang_folder(self.yang_dir, profile)
        elif self.yang_from_device:
            folder, reason = try_fetch_closure(session, device_revisions(session), profile)
            if folder is None:
                self.result.notes.append(f"the edit was not validated against YANG before sending: {reason}")
                return
        else:
            self.result.notes.append(
                f"the edit was not validated against YANG before sending (no YANG folder for IOS XE {profile.name} given)"
            )
            return
        # NOTE: a libyang context is built per apply (about a third of a second); fleets may want to share one.
        validator = SchemaValidator(folder, profile.name)
        try:
            validator.check(config)
        finally:
            validator.close()
        self.result.notes.append(f"the edit was validated against the YANG of IOS XE {profile.name} before sending")

    def _write(self, session: Session, config: etree._Element) -> None:
        """Send the modelled edit: through candidate with commit, or to running."""
        if self.mode == "running":
            self.touched = True
            try:
                session.edit_config("running", config, error_option="rollback-on-error")
            except DeviceRefusedError:
                # With rollback-on-error a refused edit leaves running as it was. A session
                # without it (RESTCONF sends an edit as several requests) may have applied a
                # part, so running stays touched and the snapshot is restored.
                if ROLLBACK_ON_ERROR in session.capabilities:
                    self.touched = self.cli_sent
                raise
            return
        # Validate goes with the edit: after a refused edit it checks an unchanged candidate.
        edited, validated = session.batch([
            request("edit_config", "candidate", config, error_option="rollback-on-error"), request("validate", "candidate"),
        ])
        refused = next((result for result in (edited, validated) if isinstance(result, DeviceError)), None)
        if refused is not None:
            if isinstance(refused, DeviceRefusedError):
                _quietly(session, "discard-changes", session.discard_changes)
            raise refused
        self.touched = True
        try:
            session.commit()
        except DeviceRefusedError:
            self.touched = self.cli_sent
            _quietly(session, "discard-changes", session.discard_changes)
            raise

    def _save(self, session: Session) -> None:
        if not self.save_config:
            return
        reply = session.rpc("save-config", etree.Element(f"{{{ns.CISCO_IA}}}save-config", nsmap={None: ns.CISCO_IA}))
        # cisco-ia answers with <result>, not <ok/>; its text is the only sign of success.
        text = (reply.findtext(f".//{{{ns.CISCO_IA}}}result") or "").strip()
        if "success" not in text.lower():
            raise DeviceRefusedError(
                session.name, "save-config", [RpcErrorInfo("application", "operation-failed", "error", None, text or "no result", None)],
                hint="running holds the verified configuration but it is not saved; save it with `copy running-config startup-config`",
            )
        self.result.saved = True
        self.result.notes.append(f"saved running to startup with cisco-ia:save-config ({text})")

    # The way back

    def _restore_plan(self) -> tuple[list[ObjectKey], bool]:
        """Return the objects to put back from the snapshot, and whether to delete the digest.

        Only objects the apply may have changed go back. Applets and trustpoints that the cli-rpc
        wrote into go back too. Restoring an applet drops the lines the cli-rpc added, so a mail
        action can never outlive a variable that the same restore removes. Rewriting a
        trustpoint keeps its certificates, so ``_remove_pushed_certificates`` removes the new
        ones. Rewriting applets drops earlier cli-rpc lines as well, so the digest is deleted:
        the next apply sends them again instead of trusting a digest that no longer describes
        the device.
        """
        assert self.plan is not None
        changed = {change.key for change in self.plan.modelled_changes}
        cli_keys = _cli_keys(self.intent, self.plan)
        if self.cli_sent:
            changed |= cli_keys
        keys = [key for key in self.keys if key in changed]
        return keys, self.cli_sent or bool(changed & cli_keys)

    def _rollback(self, session: Session, reason: str) -> None:
        """Restore the snapshot in this session; on a drop, leave it to ``_recover``."""
        try:
            self._restore_and_verify(session)
        except DeviceUnreachableError as error:
            logger.error("%s: the session dropped while restoring (%s): %s", session.name, reason, error)
            self.recovery_needed = True
        except DeviceError as error:
            self._unknown(f"restoring the snapshot failed: {error}")

    def _recover(self, failure: DeviceError | None) -> None:
        """Open a new session, lock, and restore the snapshot; the old session is gone."""
        logger.warning("%s: reconnecting to restore the configuration held before apply", self.host.name)
        try:
            with self.factory(self.host) as session:
                with _locked(session, self.mode, self.lock_timeout):
                    try:
                        _wait_for_sync(session, self.sync_timeout)
                    except DeviceRefusedError as error:
                        logger.warning("%s: restoring while the device still syncs: %s", session.name, error)
                    self._restore_and_verify(session)
                    self.result.notes.append("the first session was lost; a new session restored the snapshot")
        except DeviceError as error:
            self._unknown(f"a new session to restore the snapshot failed: {error}")

    def _restore_and_verify(self, session: Session) -> None:
        """Write the snapshot back, remove the CA certificates the apply added, and verify both."""
        assert self.snapshot is not None
        keys, drop_digest = self._restore_plan()
        _restore(session, self.mode, self.snapshot, keys, drop_digest)
        pushed = self._pushed_certificates()
        reads = [request("get_config", "running", owned_filter(keys))]
        if pushed:
            reads.append(request("get", pki_oper_filter(pushed)))
        results = session.batch(reads)
        data = unwrap(results[0])
        wrong = [
            str(key) for key in keys
            if _canonical(_owned_element(data, key)) != _canonical(_owned_element(self.snapshot, key))
        ]
        digest = ObjectKey("environment", CLI_DIGEST_VARIABLE)
        if drop_digest and _owned_element(data, digest) is not None:
            wrong.append(str(digest))
        if wrong:
            self._unknown(f"after the restore get-config still differs from the snapshot in {', '.join(wrong)}")
            return
        restored = ", ".join(str(key) for key in keys) or "nothing"
        self.result.notes.append(f"restored from the snapshot and verified with get-config: {restored}")
        if drop_digest:
            self.result.notes.append(
                f"{CLI_DIGEST_VARIABLE} was deleted, so the next apply sends the config-ios-cli-rpc lines again "
                "(rewriting an applet drops its CLI-only events and mail actions)"
            )
        if pushed:
            problem = self._remove_pushed_certificates(session, pushed, results[1])
            if problem is not None:
                self._unknown(problem)
                return
        self.settled = True
        self.result.outcome = "rolled-back"

    def _pushed_certificates(self) -> dict[str, int]:
        """Return trustpoint -> serial of each CA certificate that the cli-rpc may have installed."""
        if not self.cli_sent:
            return {}
        wanted = _wanted_certificates(self.intent)
        return {name: serial_number(x509.load_der_x509_certificate(der)) for name, der in wanted.items()}

    def _remove_pushed_certificates(self, session: Session, pushed: dict[str, int], pki: object) -> str | None:
        """Remove the pushed CA certificates that existing trustpoints did not hold before, and verify.

        ``pki`` is the pki-oper read taken after the restore write. Notes what was removed or
        kept and how it was verified; returns why the certificates are in an unknown state, or None.
        """
        removals = self._new_certificates(pushed, pki)
        if isinstance(removals, str) or not removals:
            return removals or None
        text = cli.certificate_removal_text({name: ios_serial(serial) for name, serial in removals.items()})
        try:
            _cli_rpc(session, text, hint="the CA certificates before the failing line were removed")
            after = _read_after_cli(session, [request("get", pki_oper_filter(removals))], self.sync_timeout)[0]
        except DeviceRefusedError as error:
            return f"removing the CA certificates that the apply installed in existing trustpoints failed: {error}"
        if isinstance(after, DeviceRefusedError):
            return f"the CA certificates were removed, but pki-oper could not be read to verify it ({after})"
        remaining = _installed_serials(unwrap(after))
        for name, serial in removals.items():
            shown = ios_serial(serial)
            if serial in remaining.get(name, set()):
                return f"pki-oper still lists CA certificate {shown} in trustpoint {name} after `no certificate ca`"
            self.result.notes.append(
                f"removed CA certificate {shown}, which the apply installed, from the existing trustpoint {name} "
                "with config-ios-cli-rpc (no certificate ca); verified with pki-oper that it is gone"
            )
        return None

    def _new_certificates(self, pushed: dict[str, int], pki: object) -> dict[str, int] | str:
        """Return trustpoint -> serial of the pushed certificates to remove, or why that is unknown.

        Only a trustpoint that existed before the apply needs a removal. One that the apply
        created was deleted by the restore write, which removes its certificates, so it is only
        checked in ``pki``. Notes each certificate that stays or was already gone.
        """
        assert self.snapshot is not None
        if isinstance(pki, DeviceRefusedError):
            return f"pki-oper could not be read after the restore ({pki}), so pushed CA certificates may be left"
        installed = _installed_serials(unwrap(pki))
        removals: dict[str, int] = {}
        notes = self.result.notes
        for name, serial in pushed.items():
            shown = ios_serial(serial)
            listed = serial in installed.get(name, set())
            if _owned_element(self.snapshot, ObjectKey("trustpoint", name)) is None:
                if listed:
                    return f"trustpoint {name} was deleted, but pki-oper still lists CA certificate {shown} under it"
                notes.append(
                    f"trustpoint {name}, which the apply created, was deleted with its certificates: "
                    f"pki-oper lists no CA certificate {shown} under it"
                )
            elif self.installed_before is None:
                return (
                    f"pki-oper could not be read before the apply ({self.installed_unread}), so it is unknown "
                    f"whether trustpoint {name} held CA certificate {shown} before; the certificate was not removed"
                )
            elif serial in self.installed_before.get(name, set()):
                notes.append(f"kept CA certificate {shown} in trustpoint {name}: pki-oper listed it before the apply")
            elif listed:
                removals[name] = serial
            else:
                notes.append(
                    f"pki-oper lists no CA certificate {shown} in trustpoint {name}, which did not hold it before "
                    "the apply, so there was nothing to remove"
                )
        return removals

    def _unknown(self, why: str) -> None:
        self.settled = True
        self.result.outcome = "unknown"
        self.result.notes.append(f"{why}; run `provisioner plan` to see what the device holds")

    def _summarise(self, failure: DeviceError | None) -> None:
        """Say what the failure left, when nothing else has."""
        notes = self.result.notes
        if failure is None or self.verified or self.settled:
            if self.verified and failure is not None:
                notes.append(f"not saved: {failure}")
            return
        self.result.outcome = "unchanged"
        if self.snapshot is None:
            notes.append("nothing was changed: the apply stopped before it read the device")
        elif self.mode == "candidate":
            notes.append(
                "nothing was committed: running keeps its previous configuration (an uncommitted candidate "
                "is discarded, and dropped with the session that locked it)"
            )
        else:
            notes.append("running keeps its previous configuration: the edit was refused as a whole (rollback-on-error)")
        notes.append("not verified: the intended configuration, because it was not applied")


def _reports(plan: Plan, certificates: dict[str, str] | None = None) -> list[ObjectReport]:
    """Say per object what was done and how it was verified.

    Args:
        certificates: trustpoint name -> how its CA certificate was verified.
    """
    outcomes = {"add": "added", "change": "changed", "remove": "removed", "unchanged": "unchanged"}
    reports = [ObjectReport(str(change.key), outcomes[change.kind], "get-config") for change in plan.changes]  # type: ignore[arg-type]
    how = "cli-rpc digest (get-config cannot show these lines; the digest proves the RPC ran to its end)"
    outcome = "pushed" if plan.cli_needed else "unchanged"
    applet = ""
    for line in plan.cli_lines:
        if line.startswith("event manager applet "):
            applet = line
        elif line.startswith("crypto pki certificate chain "):
            name = line.split()[-1]
            verified = (certificates or {}).get(name, how)
            reports.append(ObjectReport(f"{line} (CA certificate)", outcome, verified))  # type: ignore[arg-type]
            applet = ""
        elif applet and line.strip() != "exit":
            reports.append(ObjectReport(f"{applet} /{line}", outcome, how))  # type: ignore[arg-type]
    return reports


def _wanted_certificates(intent: Intent) -> dict[str, bytes]:
    """Return trustpoint name -> DER of the CA certificate the intent installs in it."""
    return {trustpoint.name: trustpoint.ca_der for trustpoint in intent.trustpoints if trustpoint.ca_der}


def _certificate_checks(intent: Intent, pki: object) -> dict[str, str]:
    """Check each pushed CA certificate in the pki-oper read ``pki``; return trustpoint -> verdict.

    ``pki`` is the ``<data>`` of the pki-oper ``<get>``, or the DeviceError it gave. A verdict
    that starts with '/' names a node that differs; any other verdict tells how the certificate was
    verified, or why it could not be.
    """
    wanted = _wanted_certificates(intent)
    if not wanted:
        return {}
    if isinstance(pki, DeviceRefusedError):
        # Some platforms lack Cisco-IOS-XE-crypto-pki-oper (cat9200 from 17.15).
        return {name: f"not verified: pki-oper could not be read ({pki})" for name in wanted}
    installed = read_pki_oper(unwrap(pki))
    verdicts = {}
    for name, der in wanted.items():
        certificate = x509.load_der_x509_certificate(der)
        md5 = hashlib.md5(der, usedforsecurity=False).hexdigest().upper()
        found = installed.get(name, [])
        if any(entry.serial == certificate.serial_number and entry.md5 in (None, md5) for entry in found):
            verdicts[name] = "pki-oper (serial number and MD5 fingerprint)"
        else:
            verdicts[name] = (
                f"/crypto-pki-oper-data/crypto-pki-bundle[label='{name}'] does not list the CA certificate with "
                f"serial {certificate.serial_number:X}"
            )
    return verdicts


def _installed_serials(data: etree._Element) -> dict[str, set[int]]:
    """Return trustpoint -> serial numbers of the certificates a pki-oper ``<data>`` lists."""
    return {
        name: {entry.serial for entry in entries if entry.serial is not None}
        for name, entries in read_pki_oper(data).items()
    }


_CLI_RPC_HINT = (
    "IOS XE keeps the lines before the failing one; apply restores the snapshot, which removes them with their applets"
)


def _cli_rpc(session: Session, text: str, hint: str = _CLI_RPC_HINT) -> None:
    body = etree.Element(f"{{{ns.CLI_RPC}}}config-ios-cli-rpc", nsmap={None: ns.CLI_RPC})
    etree.SubElement(body, f"{{{ns.CLI_RPC}}}config-clis").text = text
    reply = session.rpc("config-ios-cli-rpc", body)
    error_string = reply.findtext(f".//{{{ns.CLI_RPC}}}error-string")
    line_number = reply.findtext(f".//{{{ns.CLI_RPC}}}lineno")
    if error_string or line_number:
        raise DeviceRefusedError(
            session.name,
            "config-ios-cli-rpc",
            [RpcErrorInfo("application", "operation-failed", "error", f"line {line_number}", error_string, None)],
            hint=hint,
        )


# Seconds between the cli-rpc reply and the first is-syncing poll. The lab device syncs for
# 0.2 s; IOS XE takes longer, and the poll then backs off as below.
SYNC_FIRST_POLL = 0.25

def _is_syncing() -> Request:
    """Return a new is-syncing request: ncclient moves the body element into its <rpc>, so
    one element shared between requests (or threads) would leave another <rpc> empty."""
    return request("rpc", "is-syncing", etree.Element(f"{{{ns.CISCO_IA}}}is-syncing", nsmap={None: ns.CISCO_IA}))


def _read_after_cli(session: Session, reads: list[Request], sync_timeout: float) -> list[object]:
    """Send ``reads`` once the native datastore has caught up with a config-ios-cli-rpc just sent.

    The first ``is-syncing`` poll goes in the same batch as the reads. When the poll reports no
    sync, the reads after it show the change, because the device processes a session's
    requests in order. Otherwise this waits for the sync and reads again.
    """
    # A poll sent right after the cli-rpc reply would find the sync still running (the lab device
    # syncs for 0.2 s; IOS XE is assumed to take longer), so waiting first saves a poll and a re-read.
    time.sleep(SYNC_FIRST_POLL)
    first = session.batch([_is_syncing(), *reads])
    if not _syncing(unwrap(first[0])):
        return first[1:]
    _wait_for_sync(session, sync_timeout)
    return session.batch(reads)


def _syncing(reply: etree._Element) -> bool:
    text = (reply.findtext(f".//{{{ns.CISCO_IA}}}result") or "").lower()
    return "in progress" in text and "no sync" not in text


def _wait_for_sync(session: Session, timeout: float) -> None:
    """Poll cisco-ia:is-syncing until the native datastore reflects the CLI change."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        if not _syncing(unwrap(session.batch([_is_syncing()])[0])):
            return
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeviceRefusedError(
                session.name, "is-syncing", [], hint=f"the datastore was still syncing after {timeout:g} s, so get-config "
                "could not be trusted to show the change; raise --sync-timeout or run apply again later"
            )
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 2.0)


def _differences(data: etree._Element, intent: Intent, plan: Plan, profile: ReleaseProfile) -> list[str]:
    """Compare the owned objects read back in ``data`` with the intent; return the differences."""
    after = compare(intent, read_config(data), profile)
    differences = []
    for change in after.modelled_changes:
        actual = "absent" if not change.actual else "; ".join(line.strip() for line in change.actual[1:] or change.actual)
        differences.append(f"{change.key.xpath()} ({change.key}) differs: device has {actual}")
    if plan.cli_lines and after.device_cli_digest != plan.cli_digest:
        differences.append(
            f"/native/event/manager/environment[name='{CLI_DIGEST_VARIABLE}'] does not hold the digest of the "
            "lines sent through config-ios-cli-rpc, so they were not all applied"
        )
    return differences


def _owned_element(data: etree._Element, key: ObjectKey) -> etree._Element | None:
    if key.kind == "environment":
        path = f"ios:native/ios:event/eem:manager/eem:environment[eem:name='{key.name}']"
    elif key.kind == "applet":
        path = f"ios:native/ios:event/eem:manager/eem:applet[eem:name='{key.name}']"
    else:
        path = f"ios:native/ios:crypto/crypto:pki/crypto:trustpoint[crypto:id='{key.name}']"
    found = data.xpath(path, namespaces=ns.XPATH_PREFIXES)
    return found[0] if found else None


def _write_quietly_discarding(session: Session, mode: Mode, config: etree._Element) -> None:
    """Write a restore: candidate + validate + commit (discard after a refusal), or running."""
    if mode == "running":
        session.edit_config("running", config, error_option="rollback-on-error")
        return
    try:
        session.edit_config("candidate", config, error_option="rollback-on-error")
        session.validate("candidate")
        session.commit()
    except DeviceRefusedError:
        _quietly(session, "discard-changes", session.discard_changes)
        raise


def _restore(session: Session, mode: Mode, snapshot: etree._Element, keys: list[ObjectKey], drop_digest: bool) -> None:
    """Put the given owned objects back as the snapshot had them, from the raw XML, in one write."""
    builder = NativeBuilder()
    removals = [*keys, ObjectKey("environment", CLI_DIGEST_VARIABLE)] if drop_digest else keys
    for key in removals:
        parent = builder.pki if key.kind == "trustpoint" else builder.manager
        element = None if key.name == CLI_DIGEST_VARIABLE and key.kind == "environment" else _owned_element(snapshot, key)
        if element is None:
            render_edit_into = render_edit([(key, None, "remove")])
            parent.append(_owned_element(render_edit_into, key))  # type: ignore[arg-type]
            continue
        copy = etree.fromstring(etree.tostring(element))
        copy.set(f"{{{ns.NETCONF_BASE}}}operation", "replace")
        parent.append(copy)
    _write_quietly_discarding(session, mode, builder.root)
    logger.warning("%s: restored the owned configuration from the snapshot", session.name)


def _canonical(element: etree._Element | None) -> object:
    if element is None:
        return None
    children = sorted((_canonical(child) for child in element), key=lambda item: str(item[0]))  # type: ignore[index]
    return (element.tag, (element.text or "").strip(), children)
