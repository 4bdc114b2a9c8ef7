"""Fault matrix: whatever breaks during apply, the owned configuration ends wholly old or wholly new.

Each row starts from a lab device that contains the example intent (the old state), injects one
fault, and runs ``provisioner apply`` with a changed intent (the new state) through the CLI. The
test then reads running and candidate from the lab, checks that the owned objects match the old
or the new state as a whole and that no mail action names a missing environment variable, checks
the report and the exit code, clears the fault and applies again, which must converge.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from lxml import etree

from models.eem import CLI_DIGEST_VARIABLE
from models.intent import load_intent
from models.inventory import load_inventory
from payloads import namespaces as ns
from provisioner.cli import main
from provisioner.engine import apply_device
from provisioner.lab import LabDevice
from provisioner.lab.statedir import LOCK_FILE, RPC_LOG_FILE
from tests.conftest import EXAMPLE, SMTP_PASSWORD

pytestmark = pytest.mark.integration

P = ns.XPATH_PREFIXES

# The new intent: another recipient, a new cc variable that the mail action names, and a new
# trustpoint. If the variable vanished while the mail action stayed, the applet would mail "$_email_cc".
NEW_INTENT = """\
environment:
  _email_from: eem.alerts.example@gmail.com
  _email_to: ops@example.com
  _email_cc: oncall@example.com
  _email_server:
    username: eem.alerts.example
    password_env: SMTP_PASSWORD
    host: smtp.gmail.com
applets:
  - name: SendSecureEmailEEM
    description: Send a test e-mail over SMTP with STARTTLS on port 587
    event:
      none: {}
    actions:
      - label: "0010"
        mail:
          server: "$_email_server"
          to: "$_email_to"
          from: "$_email_from"
          cc: "$_email_cc"
          subject: "This is my email subject"
          body: "This is my email body."
          port: 587
          secure: tls
trustpoints:
  - name: CA-GTS-1C3
    enrollment: terminal
    revocation_check: [none]
    chain_validation: stop
  - name: CA-GTS-Root-R1
    enrollment: terminal
    revocation_check: [none]
    chain_validation: stop
  - name: CA-GlobalSign-Root
    enrollment: terminal
    revocation_check: [none]
    chain_validation: stop
  - name: CA-Extra-Root
    enrollment: terminal
    revocation_check: [none]
    chain_validation: stop
"""

CC_VALUE = "/ios:native/ios:event/eem:manager/eem:environment[eem:name='_email_cc']/eem:value"

NOT_COMMITTED = "configuration unchanged (nothing was committed)"
ROLLED_BACK = "configuration rolled back to its state before apply"
APPLIED = "configuration applied and verified"


@dataclass(frozen=True)
class Row:
    """One fault: how to inject it, which CLI options it needs, and what the report must say."""

    name: str
    inject: Callable[[LabDevice], None]
    ends: str  # "old" or "new"
    report: str
    says: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    modes: tuple[str, ...] = ("candidate", "running")


def _drop(operation: str, nth: int = 1) -> Callable[[LabDevice], None]:
    return lambda lab: lab.faults.drop_session_after(operation, nth)


def _fail(operation: str) -> Callable[[LabDevice], None]:
    return lambda lab: lab.faults.fail_operations.update({operation: "operation-failed"})


def _normalise(lab: LabDevice) -> None:
    lab.faults.mutate_after_commit.append((CC_VALUE, "someone-else@example.com"))


def _normalise_and_drop_restore(lab: LabDevice) -> None:
    _normalise(lab)
    # The first edit-config is the apply's, the second the restore's.
    lab.faults.drop_session_after("edit-config", 2)


def _fail_third_cli_line(lab: LabDevice) -> None:
    lab.faults.fail_cli_line = 3


def _keep_syncing(lab: LabDevice) -> None:
    lab.faults.keep_syncing = True


def _reject_logins(lab: LabDevice) -> None:
    lab.faults.reject_logins = True


def _slow(lab: LabDevice) -> None:
    lab.faults.latency_ms = 1500


def _fail_save(lab: LabDevice) -> None:
    lab.faults.fail_operations["save-config"] = "operation-failed"


RESTORED = "restored from the snapshot and verified with get-config"
NOTHING_VERIFIED = "not verified: the intended configuration"

ROWS = [
    Row("drop after lock", _drop("lock"), "old", NOT_COMMITTED, (NOTHING_VERIFIED, "session dropped")),
    Row("drop after edit-config", _drop("edit-config"), "old", NOT_COMMITTED, (NOTHING_VERIFIED,), modes=("candidate",)),
    # Without candidate the edit goes to running, so a lost reply means it may have landed.
    Row("drop after edit-config", _drop("edit-config"), "old", ROLLED_BACK, (RESTORED, "a new session restored"),
        modes=("running",)),
    Row("drop after validate", _drop("validate"), "old", NOT_COMMITTED, (NOTHING_VERIFIED,), modes=("candidate",)),
    Row("drop after commit", _drop("commit"), "old", ROLLED_BACK, (RESTORED, "a new session restored"),
        modes=("candidate",)),
    Row("drop after cli-rpc", _drop("config-ios-cli-rpc"), "old", ROLLED_BACK,
        (RESTORED, "a new session restored", f"{CLI_DIGEST_VARIABLE} was deleted")),
    Row("drop during verification", _drop("get-config", 2), "old", ROLLED_BACK, (RESTORED, "a new session restored")),
    Row("drop during restore", _normalise_and_drop_restore, "old", ROLLED_BACK,
        ("verification failed", RESTORED, "a new session restored")),
    Row("commit rpc-error", _fail("commit"), "old", NOT_COMMITTED, ("commit failed", NOTHING_VERIFIED),
        modes=("candidate",)),
    Row("validate rpc-error", _fail("validate"), "old", NOT_COMMITTED, ("validate candidate failed", NOTHING_VERIFIED),
        modes=("candidate",)),
    Row("edit-config rpc-error", _fail("edit-config"), "old", NOT_COMMITTED, ("edit-config", NOTHING_VERIFIED)),
    Row("cli-rpc fails on its third line", _fail_third_cli_line, "old", ROLLED_BACK,
        ("config-ios-cli-rpc failed", "line 3", RESTORED)),
    Row("device normalises a value", _normalise, "old", ROLLED_BACK,
        ("verification failed", "environment[name='_email_cc']", RESTORED)),
    Row("is-syncing stays true", _keep_syncing, "old", ROLLED_BACK, ("still syncing", RESTORED)),
    Row("SSH authentication fails", _reject_logins, "old", NOT_COMMITTED,
        ("SSH authentication failed", "stopped before it read the device")),
    Row("device slower than the timeout", _slow, "old", NOT_COMMITTED, ("timed out after 0.5 s", NOTHING_VERIFIED),
        options=("--timeout", "0.5")),
    Row("save-config fails after verification", _fail_save, "new", APPLIED, ("save-config failed", "not saved"),
        options=("--save-config",)),
]

PARAMS = [
    pytest.param(mode, row, id=f"{mode}-{row.name.replace(' ', '-')}")
    for mode in ("candidate", "running")
    for row in ROWS
    if mode in row.modes
]


def run_apply(lab: LabDevice, intent: Path, *options: str) -> Result:
    """Run ``provisioner apply`` in this process (the subprocess runs live in test_apply.py and
    test_secrets.py; here they would cost a second of imports per row)."""
    return CliRunner().invoke(
        main,
        ["apply", str(intent), "--inventory", str(lab.inventory_path),
         "--sync-timeout", "0.5", "--lock-timeout", "10", "--timeout", "5", *options],
        env={"SMTP_PASSWORD": SMTP_PASSWORD},
    )


def owned_state(xml: str) -> dict[str, str]:
    """Return every object either intent owns, as canonical XML by name; absent objects are left out."""
    data = etree.fromstring(xml.encode())
    state: dict[str, str] = {}
    for entry in data.xpath("//eem:environment | //eem:applet", namespaces=P):
        name = entry.findtext(f"{{{ns.EEM}}}name")
        if name != CLI_DIGEST_VARIABLE:
            state[f"{etree.QName(entry).localname} {name}"] = etree.tostring(entry, method="c14n").decode()
    for entry in data.xpath("//crypto:trustpoint", namespaces=P):
        name = entry.findtext(f"{{{ns.CRYPTO}}}id")
        state[f"trustpoint {name}"] = etree.tostring(entry, method="c14n").decode()
    return state


def environment_names(xml: str) -> set[str]:
    data = etree.fromstring(xml.encode())
    return set(data.xpath("//eem:environment/eem:name/text()", namespaces=P))


def assert_mail_actions_resolve(lab: LabDevice) -> None:
    """Every variable a stored mail action names exists in running."""
    defined = environment_names(lab.running_xml())
    for actions in lab.unmodelled()["applet_actions"].values():
        for line in actions.values():
            for variable in re.findall(r"\$(\w+)", line):
                assert variable in defined, f"mail action names ${variable}, which running lacks: {line}"


def wait_until_no_sessions(lab: LabDevice) -> None:
    """Wait, for at most 30 s, until the lab has ended every session."""
    deadline = time.monotonic() + 30
    while lab.session_ids():
        assert time.monotonic() < deadline, f"sessions still open: {lab.session_ids()}"
        time.sleep(0.02)


def make_lab(state_dir: Path, mode: str) -> LabDevice:
    return LabDevice(state_dir=state_dir, port=0, release="17.12", candidate=mode == "candidate",
                     sync_seconds=0.05)


@pytest.fixture(scope="module")
def old_state_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Per mode, the state directory of a lab device that holds the example intent (the old state)."""
    folders = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SMTP_PASSWORD", SMTP_PASSWORD)
        for mode in ("candidate", "running"):
            folder = tmp_path_factory.mktemp(f"old-{mode}")
            with make_lab(folder, mode) as lab:
                host = load_inventory(lab.inventory_path).hosts["lab"]
                first = apply_device(load_intent(EXAMPLE), host, sync_timeout=5)
                assert first.outcome == "applied", first.error
            folders[mode] = folder
    yield folders


@pytest.mark.parametrize(("mode", "row"), PARAMS)
def test_fault_leaves_old_or_new(
    tmp_path: Path, mode: str, row: Row, smtp_password: str, old_state_dirs: dict[str, Path]
) -> None:
    new_intent = tmp_path / "new.yaml"
    new_intent.write_text(NEW_INTENT)
    shutil.copytree(old_state_dirs[mode], tmp_path / "lab", ignore=shutil.ignore_patterns(LOCK_FILE, RPC_LOG_FILE))
    with make_lab(tmp_path / "lab", mode) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        old = owned_state(lab.running_xml())
        assert "trustpoint CA-GTS-1C3" in old
        old_actions = lab.unmodelled()["applet_actions"]

        row.inject(lab)
        completed = run_apply(lab, new_intent, *row.options)

        assert completed.exit_code == 1, completed.output
        report = completed.output
        assert row.report in report, report
        for text in row.says:
            assert text in report, f"{text!r} missing from:\n{report}"
        assert smtp_password not in report
        # The lab notices a closed connection in its own thread, and only then releases the
        # session's locks and drops its candidate.
        wait_until_no_sessions(lab)
        assert lab.locks() == {}
        assert_mail_actions_resolve(lab)
        after_fault = owned_state(lab.running_xml())
        if mode == "candidate":
            # The candidate is clean again: a later commit by anyone cannot carry half of this apply.
            assert owned_state(lab.candidate_xml()) == after_fault
        if row.ends == "old":
            assert after_fault == old
            # The mail action of the old state either stayed or went with its applet's restore.
            assert lab.unmodelled()["applet_actions"] in (old_actions, {})

        lab.faults.fail_operations.clear()
        lab.faults.mutate_after_commit.clear()
        lab.faults.fail_cli_line = None
        lab.faults.keep_syncing = False
        lab.faults.reject_logins = False
        lab.faults.latency_ms = 0
        lab.faults.drop_on = None
        again = apply_device(load_intent(new_intent), host, sync_timeout=5)

        assert again.error is None, again.error
        assert again.outcome == ("unchanged" if row.ends == "new" else "applied")
        new = owned_state(lab.running_xml())
        assert new != old
        assert after_fault == (old if row.ends == "old" else new)
        assert "cc \"$_email_cc\"" in str(lab.unmodelled()["applet_actions"])
        assert_mail_actions_resolve(lab)
