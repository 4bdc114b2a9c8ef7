"""Count the RPCs and round trips each command costs a device, measured on lab devices.

Usage: python benchmarks/rpc_counts.py [--latency-ms 300]

For IOS XE 17.12 and 17.18 lab devices on 127.0.0.1 it runs, in order: apply of
examples/secure-email.yaml to a fresh device, a second apply (in sync), plan, and check.

RPCs are counted from the lab device's RPC log (after the hello, close-session not counted).
Round trips are measured, not inferred: the same sequence runs on a second fresh device whose
replies each leave no earlier than the injected latency after their request arrived, like a
network. Every round trip then costs one latency more, so round trips = (time with latency -
time without) / latency, rounded. Pipelined requests share their round trip.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from models.intent import load_intent
from models.inventory import load_inventory
from provisioner.compliance import check_device
from provisioner.engine import apply_device, plan_device
from provisioner.lab import LabDevice

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "secure-email.yaml"
STEPS = ("apply (fresh device)", "apply (in sync)", "plan", "check")


def run_steps(release: str, latency_ms: int) -> dict[str, tuple[list[str], float]]:
    """Run the steps on a fresh lab device; return step -> (RPC operations, seconds)."""
    intent = load_intent(EXAMPLE)
    measured: dict[str, tuple[list[str], float]] = {}
    with tempfile.TemporaryDirectory() as state, LabDevice(state_dir=state, release=release, latency_ms=latency_ms) as lab:
        host = load_inventory(lab.inventory_path).hosts["lab"]
        actions: dict[str, Callable[[], object]] = {
            "apply (fresh device)": lambda: apply_device(intent, host, sync_timeout=10),
            "apply (in sync)": lambda: apply_device(intent, host, sync_timeout=10),
            "plan": lambda: plan_device(intent, host),
            "check": lambda: check_device(intent, host),
        }
        for name in STEPS:
            before = len(lab.rpc_log())
            started = time.perf_counter()
            result = actions[name]()
            elapsed = time.perf_counter() - started
            if getattr(result, "error", None) is not None:
                raise SystemExit(f"{name} failed on the lab device: {result.error}")  # type: ignore[attr-defined]
            operations = [record["operation"] for record in lab.rpc_log()[before:]]
            measured[name] = ([operation for operation in operations if operation != "close-session"], elapsed)
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=int, default=300, help="latency injected for the round-trip measurement")
    options = parser.parse_args()
    os.environ.setdefault("SMTP_PASSWORD", "benchmarkpassword")
    latency = options.latency_ms / 1000
    for release in ("17.12", "17.18"):
        fast = run_steps(release, 0)
        slow = run_steps(release, options.latency_ms)
        print(f"IOS XE {release} lab device (round trips measured with {options.latency_ms} ms latency)")
        for name in STEPS:
            rpcs, fast_seconds = fast[name]
            round_trips = (slow[name][1] - fast_seconds) / latency
            counts = collections.Counter(rpcs)
            detail = ", ".join(f"{operation} {count}" for operation, count in counts.items())
            print(f"  {name}: {len(rpcs)} RPCs in {round_trips:.1f} round trips ({detail}); "
                  f"{fast_seconds * 1000:.0f} ms without latency")


if __name__ == "__main__":
    main()
