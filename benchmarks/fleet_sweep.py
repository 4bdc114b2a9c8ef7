"""Time a compliance sweep (`provisioner check`) across a fleet of lab devices with injected latency.

Usage: python benchmarks/fleet_sweep.py [--devices 1000] [--latency-ms 50] [--workers 100 200]

Starts `provisioner lab --devices N --latency-ms L` in a separate process (so the simulated
devices and the tool do not share one interpreter lock), waits until its inventory exists, then
runs `provisioner check --inventory ... --workers W --output json` once per workers value and
prints the wall time, the CPU time of the check process and the devices checked per second.
The devices hold no configuration, so every device reports drift: the check reads and compares
as much as on a configured device.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "secure-email.yaml"
PROVISIONER = [sys.executable, "-m", "provisioner"]


def start_fleet(state: Path, devices: int, latency_ms: int) -> tuple[subprocess.Popen[bytes], float]:
    """Start the lab fleet; return the process and the seconds it took until the inventory appeared."""
    inventory = state / "inventory.yaml"
    started = time.perf_counter()
    process = subprocess.Popen(
        [*PROVISIONER, "lab", "--devices", str(devices), "--base-port", "0", "--state-dir", str(state),
         "--latency-ms", str(latency_ms)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
    )
    while not inventory.exists():
        if process.poll() is not None:
            raise SystemExit(f"the lab fleet exited early: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.2)
    return process, time.perf_counter() - started


def process_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) a running process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_check(inventory: Path, workers: int) -> tuple[float, float, dict[str, int]]:
    """Run one sweep; return wall seconds, CPU seconds of the check process and result counts."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(
        [*PROVISIONER, "check", str(EXAMPLE), "--inventory", str(inventory), "--workers", str(workers), "--output", "json"],
        capture_output=True, cwd=ROOT, check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if completed.returncode not in (0, 2):
        raise SystemExit(f"check exited {completed.returncode}: {completed.stderr.decode()[-2000:]}")
    report = json.loads(completed.stdout)
    devices = report["devices"] if isinstance(report, dict) else report
    counts = {"devices": len(devices), "errors": sum(1 for device in devices if device.get("error"))}
    return wall, cpu, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[100, 200])
    options = parser.parse_args()
    os.environ.setdefault("SMTP_PASSWORD", "benchmarkpassword")

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "fleet"
        process, startup = start_fleet(state, options.devices, options.latency_ms)
        try:
            print(f"{options.devices} lab devices with {options.latency_ms} ms latency started in {startup:.1f} s")
            for workers in options.workers:
                lab_before = process_cpu(process.pid)
                wall, cpu, counts = run_check(state / "inventory.yaml", workers)
                lab_cpu = process_cpu(process.pid) - lab_before
                print(
                    f"  check, {workers} workers: {wall:.1f} s wall, {cpu:.1f} s CPU in the check process, "
                    f"{lab_cpu:.1f} s CPU in the lab process, "
                    f"{counts['devices'] / wall:.0f} devices/s, {counts['devices']} devices, {counts['errors']} errors"
                )
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
