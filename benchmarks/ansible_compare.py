"""Compare `provisioner check` and `provisioner apply` with equivalent Ansible playbooks on lab devices.

Usage: .venv/bin/python benchmarks/ansible_compare.py [--devices 50] [--latency-ms 50] [--workers 50]

The first run creates benchmarks/.venv-ansible and installs the pinned `ansible` package (which
bundles the ansible.netcommon collection) and `ncclient` from PyPI; later runs reuse it.

Each side runs in its own process against lab devices served by a separate `provisioner lab`
process, with the same device count, concurrency (`--workers W` and `ansible-playbook -f W`) and
injected latency:

- sweep: one fleet of unconfigured devices. The tool runs `check --output json`. The playbook runs
  two `ansible.netcommon.netconf_get` tasks per device: get-config of running with a subtree
  filter for /native/event/manager and /native/crypto/pki/trustpoint, and a `<get>` of the
  intent's trustpoints in Cisco-IOS-XE-crypto-pki-oper, the two reads the tool makes.
- apply: a fresh fleet for each side. The tool runs `apply`. The playbook sends the XML of
  `provisioner render` with `netconf_config` (candidate, lock, validate, commit), the unmodelled
  lines that `render` lists in its trailing comment with `netconf_rpc` config-ios-cli-rpc, and a
  `netconf_get` read that asserts the modelled objects are there. Afterwards `provisioner plan`
  reads every device of both fleets to confirm the result.

Both sides verify the devices' SSH host keys against the lab's known_hosts: Ansible's netconf
connection reads it through an ssh_config file with UserKnownHostsFile (ncclient honours it).

CPU seconds come from resource.getrusage(RUSAGE_CHILDREN). This process makes itself a child
subreaper, so the persistent `ansible-connection` daemons, which detach from ansible-playbook,
are reparented here and their CPU time is counted when they are reaped. The lab's CPU time is
read from /proc. Linux only.

Exit status 1 when a side fails on any device; a failed tool apply still prints its timing first.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from models.inventory import load_inventory
from payloads import namespaces as ns

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "secure-email.yaml"
PROVISIONER = [sys.executable, "-m", "provisioner"]
ANSIBLE_VENV = ROOT / "benchmarks" / ".venv-ansible"
# ansible 12.3.0 ships ansible-core 2.19 and ansible.netcommon 8.2.0.
ANSIBLE_REQUIREMENTS = ["ansible==12.3.0", "ncclient==0.7.1"]

PR_SET_CHILD_SUBREAPER = 36
SMTP_MASK = "********"
PASSWORD_LOOKUP = "{{ lookup('ansible.builtin.env', 'SMTP_PASSWORD') }}"

RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass
class Run:
    """Wall and CPU seconds of one timed command, with its exit code and output."""

    wall: float
    cpu: float
    lab_cpu: float
    returncode: int
    stdout: str
    stderr: str


# --- the Ansible environment -------------------------------------------------------------------


def ensure_ansible_venv() -> Path:
    """Create benchmarks/.venv-ansible with the pinned packages unless it already has them; return its bin folder."""
    bin_folder = ANSIBLE_VENV / "bin"
    marker = ANSIBLE_VENV / "benchmark-requirements.txt"
    expected = "\n".join(ANSIBLE_REQUIREMENTS) + "\n"
    if marker.exists() and marker.read_text() == expected and (bin_folder / "ansible-playbook").exists():
        return bin_folder
    print(f"installing {' '.join(ANSIBLE_REQUIREMENTS)} into {ANSIBLE_VENV.relative_to(ROOT)} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
    subprocess.run(
        [str(bin_folder / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *ANSIBLE_REQUIREMENTS],
        check=True,
    )
    marker.write_text(expected)
    return bin_folder


def write_ansible_inventory(lab_inventory: Path, folder: Path) -> Path:
    """Write an Ansible YAML inventory for the lab's hosts; return its path.

    The file contains the lab password, so it is created readable by the owner only.
    """
    inventory = load_inventory(lab_inventory)
    ssh_config = folder / "ssh_config"
    hosts: dict[str, dict[str, object]] = {}
    known_hosts: set[Path] = set()
    for host in inventory.hosts.values():
        if host.password is None or host.known_hosts is None:
            raise SystemExit(f"{lab_inventory}: host {host.name} has no password or known_hosts; the lab inventory sets both")
        known_hosts.add(host.known_hosts)
        hosts[host.name] = {
            "ansible_host": host.hostname,
            "ansible_port": host.port,
            "ansible_user": host.username,
            "ansible_password": host.password.get_secret_value(),
        }
    if len(known_hosts) != 1:
        raise SystemExit(f"{lab_inventory}: expected one known_hosts file for all hosts, found {len(known_hosts)}")
    ssh_config.write_text(f"Host *\n  UserKnownHostsFile {known_hosts.pop()}\n")
    document = {
        "all": {
            "vars": {
                "ansible_connection": "ansible.netcommon.netconf",
                "ansible_netconf_host_key_checking": True,
                "ansible_netconf_ssh_config": str(ssh_config),
                "ansible_python_interpreter": str(ANSIBLE_VENV / "bin" / "python"),
            },
            "hosts": hosts,
        }
    }
    path = folder / "hosts.yml"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump(document, file, indent=2)  # JSON is valid YAML
    return path


def ansible_environment(folder: Path, smtp_password: str | None = None) -> dict[str, str]:
    """Return the environment for ansible-playbook: a private ANSIBLE_HOME, longer persistent-connection timeouts, no retry files."""
    environment = dict(os.environ)
    environment.update({
        "ANSIBLE_HOME": str(folder / "ansible-home"),
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "true",
        # With the 30 s defaults, tasks failed with the connection reset or refused when 50 forks ran on
        # 2 CPUs that other processes also loaded.
        "ANSIBLE_PERSISTENT_CONNECT_TIMEOUT": "120",
        "ANSIBLE_PERSISTENT_COMMAND_TIMEOUT": "120",
        "LC_ALL": "C.UTF-8",
    })
    environment.pop("SMTP_PASSWORD", None)
    if smtp_password is not None:
        environment["SMTP_PASSWORD"] = smtp_password
    return environment


# --- playbooks ---------------------------------------------------------------------------------


def trustpoint_names() -> list[str]:
    """Return the trustpoint names of the example intent, read by the tool's own intent loader."""
    from models.intent import load_intent

    return [trustpoint.name for trustpoint in load_intent(EXAMPLE, resolve_secrets=False).trustpoints]


def config_filter() -> str:
    return (
        f'<native xmlns="{ns.NATIVE}"><event><manager xmlns="{ns.EEM}"/></event>'
        f'<crypto><pki xmlns="{ns.CRYPTO}"><trustpoint/></pki></crypto></native>'
    )


def pki_oper_filter(trustpoints: list[str]) -> str:
    bundles = "".join(f"<crypto-pki-bundle><label>{name}</label></crypto-pki-bundle>" for name in trustpoints)
    return f'<crypto-pki-oper-data xmlns="{ns.PKI_OPER}">{bundles}</crypto-pki-oper-data>'


def sweep_playbook(trustpoints: list[str]) -> list[dict[str, object]]:
    return [{
        "name": "Compliance sweep: read what the tool's check reads",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Read the EEM and trustpoint configuration from running",
                "ansible.netcommon.netconf_get": {"source": "running", "filter": config_filter()},
                "register": "configuration",
            },
            {
                "name": "Read the installed certificates of the trustpoints",
                "ansible.netcommon.netconf_get": {"filter": pki_oper_filter(trustpoints)},
                "register": "certificates",
            },
        ],
    }]


def render_intent() -> tuple[str, list[str]]:
    """Return the edit-config XML (password masked) and the unmodelled lines from `provisioner render`.

    `render` prints the lines that go through config-ios-cli-rpc as a trailing XML comment that
    starts with a line naming the RPC and ends with `-->`.
    """
    completed = subprocess.run([*PROVISIONER, "render", str(EXAMPLE)], capture_output=True, text=True, cwd=ROOT, check=True)
    xml, separator, comment = completed.stdout.partition("<!--")
    if not separator:
        raise SystemExit("`provisioner render` printed no comment with config-ios-cli-rpc lines; expected one for the mail action")
    body = comment.split("-->")[0].splitlines()
    if "config-ios-cli-rpc" not in body[0]:
        raise SystemExit(f"unexpected first line of the comment in `provisioner render` output: {body[0]!r}")
    lines = [line[2:] if line.startswith("  ") else line for line in body[1:] if line.strip()]
    return xml.strip(), lines


def apply_playbook(xml: str, cli_lines: list[str], trustpoints: list[str]) -> list[dict[str, object]]:
    """Return the apply play, with the SMTP password taken from the SMTP_PASSWORD variable at run time.

    NOTE: netconf_config in ansible.netcommon 8.2.0 sends <validate> before the edit, so it checks
    the unchanged candidate. It also reads the whole candidate before and after the edit to set
    `changed`, because no get_filter is given.
    """
    if xml.count(SMTP_MASK) != 1:
        raise SystemExit(f"expected the masked SMTP password ({SMTP_MASK}) once in the rendered XML, found it {xml.count(SMTP_MASK)} times")
    content = xml.replace(SMTP_MASK, PASSWORD_LOOKUP)
    clis = "\n".join([*cli_lines, "end"])
    modelled_names = ["_email_from", "_email_to", "_email_server", "SendSecureEmailEEM", *trustpoints]
    return [{
        "name": "Apply the secure e-mail intent",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {
                "name": "Edit candidate, validate and commit the modelled configuration",
                "ansible.netcommon.netconf_config": {
                    "target": "candidate", "lock": "always", "validate": True, "commit": True, "content": content,
                },
                # The content and the diff contain the SMTP password.
                "no_log": True,
            },
            {
                "name": "Send the unmodelled lines through config-ios-cli-rpc",
                "ansible.netcommon.netconf_rpc": {
                    "rpc": "config-ios-cli-rpc", "xmlns": ns.CLI_RPC,
                    "content": f"<config-clis>{escape_xml(clis)}</config-clis>",
                    # With display xml the reply is text in `output`, while `stdout` contains bytes.
                    "display": "xml",
                },
                "register": "cli_reply",
            },
            {
                "name": "Fail when the device reported an error for a CLI line",
                "ansible.builtin.assert": {"that": ["'error-string' not in cli_reply.output"], "quiet": True},
            },
            {
                "name": "Read back the EEM and trustpoint configuration",
                "ansible.netcommon.netconf_get": {"source": "running", "filter": config_filter()},
                "register": "readback",
                "no_log": True,
            },
            {
                "name": "Check that every modelled object is there",
                "ansible.builtin.assert": {
                    "that": [f"'>{name}<' in readback.stdout" for name in modelled_names], "quiet": True,
                },
            },
        ],
    }]


def escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- running and measuring ---------------------------------------------------------------------


def become_subreaper() -> None:
    """Adopt orphaned descendants (ansible-connection daemons), so their CPU time reaches RUSAGE_CHILDREN."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def adopted_children(keep: set[int]) -> list[int]:
    """Return the pids of this process's children other than ``keep`` (the lab fleets)."""
    parent = str(os.getpid())
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in keep:
            continue
        try:
            # Field 4 of /proc/PID/stat is the parent pid. The command name before it may contain spaces.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if fields[1] == parent:
            children.append(int(entry.name))
    return children


def reap_adopted(keep: set[int], timeout: float) -> None:
    """Wait for adopted descendants to exit, and end with SIGTERM those still running after ``timeout`` seconds."""
    pids = adopted_children(keep)
    deadline = time.monotonic() + timeout
    for pid in pids:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
                break
            time.sleep(0.1)


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of /proc/PID/stat, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(command: list[str], lab: subprocess.Popen[bytes], *, environment: dict[str, str] | None = None,
          cwd: Path = ROOT) -> Run:
    """Run ``command`` to completion; count the CPU time of it and of every descendant it leaves behind."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    lab_before = process_cpu_seconds(lab.pid)
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd, check=False)
    wall = time.perf_counter() - started
    lab_after = process_cpu_seconds(lab.pid)
    # The persistent connections would idle for 120 s (ANSIBLE_PERSISTENT_CONNECT_TIMEOUT), so they are ended
    # after 5 s. Idle time costs no CPU.
    reap_adopted({lab.pid}, timeout=5)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(wall, cpu, lab_after - lab_before, completed.returncode, completed.stdout, completed.stderr)


def start_fleet(state: Path, devices: int, latency_ms: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start `provisioner lab` with ``devices`` devices; return the process and the seconds until its inventory appeared."""
    inventory = state / "inventory.yaml"
    state.mkdir(parents=True)
    log = state.parent / f"{state.name}.log"
    started = time.perf_counter()
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [*PROVISIONER, "lab", "--devices", str(devices), "--base-port", "0", "--state-dir", str(state),
             "--latency-ms", str(latency_ms)],
            stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT,
        )
    while not inventory.exists():
        if process.poll() is not None:
            raise SystemExit(f"the lab fleet exited {process.returncode}: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    return process, time.perf_counter() - started


def stop_fleet(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ansible_failures(run: Run, devices: int, tasks: int) -> list[str]:
    """Return what went wrong in an ansible-playbook run: its exit code and the hosts that did not finish every task."""
    problems = [] if run.returncode == 0 else [f"ansible-playbook exited {run.returncode}"]
    recap = {match["host"]: match for match in RECAP_LINE.finditer(run.stdout)}
    if len(recap) != devices:
        problems.append(f"the play recap lists {len(recap)} hosts, expected {devices}")
    for host, match in sorted(recap.items()):
        if int(match["ok"]) != tasks or int(match["failed"]) or int(match["unreachable"]):
            problems.append(f"{host}: ok={match['ok']} failed={match['failed']} unreachable={match['unreachable']}")
    return problems


def fail(step: str, run: Run) -> NoReturn:
    """Stop with the error lines of ``run`` (Ansible's `fatal:` and `[ERROR]` lines), or else its output's tail."""
    output = run.stdout.splitlines() + run.stderr.splitlines()
    errors = [line[:600] for line in output if line.startswith(("fatal:", "[ERROR]", "error: ", "Traceback"))]
    details = "\n".join(errors[:20]) if errors else (run.stdout[-3000:] + "\n" + run.stderr[-3000:])
    raise SystemExit(f"{step} failed (exit {run.returncode}):\n{details}")


def plan_fleet(inventory: Path, workers: int, smtp_password: str) -> list[dict[str, object]]:
    """Return the `provisioner plan --output json` entry of every device."""
    completed = subprocess.run(
        [*PROVISIONER, "plan", str(EXAMPLE), "--inventory", str(inventory), "--workers", str(workers), "--output", "json"],
        capture_output=True, text=True, cwd=ROOT, check=False, env={**os.environ, "SMTP_PASSWORD": smtp_password},
    )
    if completed.returncode not in (0, 2):
        raise SystemExit(f"plan exited {completed.returncode}: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout)["devices"]


# --- the two comparisons -----------------------------------------------------------------------


def load_average() -> str:
    """Return the 1-minute load average, because other processes on the machine skew the timings."""
    return f"load average {os.getloadavg()[0]:.1f}"


def describe(label: str, run: Run) -> str:
    return f"  {label:<8} {run.wall:7.1f} s wall, {run.cpu:7.1f} s CPU of its processes, {run.lab_cpu:6.1f} s CPU of the lab"


def compare_sweep(options: argparse.Namespace, folder: Path, playbook_bin: Path) -> tuple[Run, Run]:
    state = folder / "sweep-fleet"
    lab, startup = start_fleet(state, options.devices, options.latency_ms)
    try:
        print(f"sweep: {options.devices} unconfigured lab devices started in {startup:.1f} s; {load_average()}", flush=True)
        inventory = state / "inventory.yaml"
        command = [*PROVISIONER, "check", str(EXAMPLE), "--inventory", str(inventory), "--workers", str(options.workers),
                   "--output", "json"]
        tool = timed(command, lab)
        if tool.returncode not in (0, 2):
            fail("provisioner check", tool)
        report = json.loads(tool.stdout)["devices"]
        errors = [device["device"] for device in report if device.get("error")]
        if len(report) != options.devices or errors:
            raise SystemExit(f"check reported {len(report)} devices and errors on {errors}")

        ansible_folder = folder / "sweep-ansible"
        ansible_folder.mkdir()
        hosts = write_ansible_inventory(inventory, ansible_folder)
        playbook = ansible_folder / "sweep.yml"
        playbook.write_text(json.dumps(sweep_playbook(trustpoint_names()), indent=2))
        ansible = timed([str(playbook_bin), "-i", str(hosts), "-f", str(options.workers), str(playbook)], lab,
                        environment=ansible_environment(ansible_folder), cwd=ansible_folder)
        problems = ansible_failures(ansible, options.devices, tasks=2)
        if problems:
            fail("the Ansible sweep: " + "; ".join(problems[:5]), ansible)
    finally:
        stop_fleet(lab)
    return tool, ansible


def apply_with_tool(options: argparse.Namespace, folder: Path, smtp_password: str) -> tuple[Run, list[str]]:
    """Apply with the tool on a fresh fleet; return the run and the devices that failed or ended out of sync.

    A failed device does not stop the comparison, so the timing of a partly failed run is still shown.
    """
    state = folder / "apply-tool-fleet"
    lab, startup = start_fleet(state, options.devices, options.latency_ms)
    try:
        print(f"apply (tool): {options.devices} fresh lab devices started in {startup:.1f} s; {load_average()}", flush=True)
        inventory = state / "inventory.yaml"
        command = [*PROVISIONER, "apply", str(EXAMPLE), "--inventory", str(inventory), "--workers", str(options.workers)]
        run = timed(command, lab, environment={**os.environ, "SMTP_PASSWORD": smtp_password})
        if run.returncode not in (0, 1) or "Traceback" in run.stderr:
            fail("provisioner apply", run)
        failures = [line for line in run.stdout.splitlines() + run.stderr.splitlines() if line.startswith("error: ")]
        devices = plan_fleet(inventory, options.workers, smtp_password)
        out_of_sync = [device["device"] for device in devices if not device["in_sync"]]
        if len(devices) != options.devices:
            raise SystemExit(f"after apply, plan lists {len(devices)} devices, expected {options.devices}")
        if run.returncode == 0 and not out_of_sync:
            print(f"  checked: apply exited 0 and plan finds all {len(devices)} devices in sync", flush=True)
        else:
            print(f"  FAILED: apply exited {run.returncode}; plan finds {len(out_of_sync)} of {len(devices)} devices "
                  f"out of sync: {', '.join(out_of_sync)}", flush=True)
            for line in sorted(set(failures)):
                print(f"    {line}", flush=True)
    finally:
        stop_fleet(lab)
    return run, out_of_sync


def apply_with_ansible(options: argparse.Namespace, folder: Path, playbook_bin: Path, smtp_password: str) -> Run:
    state = folder / "apply-ansible-fleet"
    xml, cli_lines = render_intent()
    lab, startup = start_fleet(state, options.devices, options.latency_ms)
    try:
        print(f"apply (Ansible): {options.devices} fresh lab devices started in {startup:.1f} s; {load_average()}", flush=True)
        inventory = state / "inventory.yaml"
        ansible_folder = folder / "apply-ansible"
        ansible_folder.mkdir()
        hosts = write_ansible_inventory(inventory, ansible_folder)
        playbook = ansible_folder / "apply.yml"
        playbook.write_text(json.dumps(apply_playbook(xml, cli_lines, trustpoint_names()), indent=2))
        run = timed([str(playbook_bin), "-i", str(hosts), "-f", str(options.workers), str(playbook)], lab,
                    environment=ansible_environment(ansible_folder, smtp_password), cwd=ansible_folder)
        if smtp_password in run.stdout or smtp_password in run.stderr:
            raise SystemExit("the Ansible output contains the SMTP password; not printing it")
        problems = ansible_failures(run, options.devices, tasks=5)
        if problems:
            fail("the Ansible apply: " + "; ".join(problems[:5]), run)

        devices = plan_fleet(inventory, options.workers, smtp_password)
        modelled_drift = [device["device"] for device in devices if device["changes"] or device["strays"]]
        # Ansible does not write the tool's digest variable, so plan cannot tell that the CLI lines were sent.
        cli_pending = sum(1 for device in devices if device["cli_rpc"]["needed"])
        if len(devices) != options.devices or modelled_drift:
            raise SystemExit(f"after the Ansible apply, plan lists {len(devices)} devices; modelled changes pending on {modelled_drift}")
        print(f"  checked: ansible-playbook exited 0 with every task ok on {options.devices} hosts; plan finds the "
              f"modelled configuration in sync on all {len(devices)} devices and the CLI lines pending on {cli_pending} "
              "(no digest variable)", flush=True)
    finally:
        stop_fleet(lab)
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=50, help="lab devices in each fleet")
    parser.add_argument("--latency-ms", type=int, default=50, help="delay the lab adds before every RPC reply, in milliseconds")
    parser.add_argument("--workers", type=int, default=50, help="devices worked on at the same time by each side")
    options = parser.parse_args()

    playbook_bin = ensure_ansible_venv() / "ansible-playbook"
    become_subreaper()
    smtp_password = secrets.token_hex(12)
    print(f"{options.devices} devices, {options.latency_ms} ms latency, {options.workers} workers; "
          f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; {ANSIBLE_REQUIREMENTS}", flush=True)
    print("host keys: both sides verify them against the lab's known_hosts", flush=True)

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        sweep_tool, sweep_ansible = compare_sweep(options, folder, playbook_bin)
        print(describe("tool", sweep_tool))
        print(describe("Ansible", sweep_ansible))
        print(f"  sweep ratio (Ansible / tool wall time): {sweep_ansible.wall / sweep_tool.wall:.1f}x", flush=True)

        apply_tool, tool_failures = apply_with_tool(options, folder, smtp_password)
        apply_ansible = apply_with_ansible(options, folder, playbook_bin, smtp_password)
        print(describe("tool", apply_tool))
        print(describe("Ansible", apply_ansible))
        print(f"  apply ratio (Ansible / tool wall time): {apply_ansible.wall / apply_tool.wall:.1f}x", flush=True)
    if tool_failures:
        raise SystemExit(f"the tool's apply failed on {len(tool_failures)} of {options.devices} devices, "
                         "so its time covers a partly failed run")


if __name__ == "__main__":
    main()
