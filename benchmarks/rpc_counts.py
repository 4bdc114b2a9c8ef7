"""Count the RPCs each command sends to a device, from the lab device's RPC log.

Usage: python benchmarks/rpc_counts.py

Starts a lab device (IOS XE 17.12 and 17.18) on 127.0.0.1 and runs, in order: apply of
examples/secure-email.yaml to the fresh device, a second apply (in sync), plan, and check. For
each it prints the RPCs after the hello, by operation. The engine sends one RPC at a time and
waits for its reply, so round trips equal RPCs.
"""

from __future__ import annotations

import collections
import os
import tempfile
from pathlib import Path

from models.intent import load_intent
from models.inventory import load_inventory
from provisioner.compliance import check_device
from provisioner.engine import apply_device, plan_device
from provisioner.lab import LabDevice

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "secure-email.yaml"


def main() -> None:
    os.environ.setdefault("SMTP_PASSWORD", "benchmarkpassword")
    intent = load_intent(EXAMPLE)
    for release in ("17.12", "17.18"):
        with tempfile.TemporaryDirectory() as state, LabDevice(state_dir=state, release=release) as lab:
            host = load_inventory(lab.inventory_path).hosts["lab"]
            steps = [
                ("apply (fresh device)", lambda: apply_device(intent, host, sync_timeout=10)),
                ("apply (in sync)", lambda: apply_device(intent, host, sync_timeout=10)),
                ("plan", lambda: plan_device(intent, host)),
                ("check", lambda: check_device(intent, host)),
            ]
            print(f"IOS XE {release} lab device")
            for name, step in steps:
                before = len(lab.rpc_log())
                step()
                operations = [record["operation"] for record in lab.rpc_log()[before:]]
                rpcs = [operation for operation in operations if operation != "close-session"]
                counts = collections.Counter(rpcs)
                detail = ", ".join(f"{operation} {count}" for operation, count in counts.items())
                print(f"  {name}: {len(rpcs)} RPCs ({detail}) + close-session")


if __name__ == "__main__":
    main()
