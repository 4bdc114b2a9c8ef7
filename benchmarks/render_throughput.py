"""Measure offline render and render+validate throughput (intents per second).

Usage: python benchmarks/render_throughput.py [--seconds S] [--yang-dir DIR]

Renders tests/data/intents/all-kinds.yaml (11 applets, every event and action kind) for each
release profile, once without and once with libyang validation (when --yang-dir or
PROVISIONER_YANG_DIR points at Cisco's YANG per release), and prints intents per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from models.intent import load_intent
from payloads import cli
from payloads.native_xml import render_config
from payloads.releases import PROFILES
from provisioner.validation import SchemaValidator, find_yang_folder

ROOT = Path(__file__).resolve().parent.parent
INTENT = ROOT / "tests" / "data" / "intents" / "all-kinds.yaml"


def rate(step: object, seconds: float) -> float:
    """Call ``step`` repeatedly for about ``seconds`` and return calls per second."""
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()  # type: ignore[operator]
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring time per figure, in seconds")
    parser.add_argument("--yang-dir", type=Path, default=os.environ.get("PROVISIONER_YANG_DIR"))
    arguments = parser.parse_args()

    os.environ.setdefault("SMTP_PASSWORD", "benchmarkpassword")
    intent = load_intent(INTENT)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"intent: {INTENT.relative_to(ROOT)} ({len(intent.applets)} applets)")
    print(f"load+validate intent file: {rate(lambda: load_intent(INTENT), arguments.seconds):.0f} intents/s")
    for profile in PROFILES.values():
        def render(profile=profile) -> None:  # type: ignore[no-untyped-def]
            render_config(intent, profile, reveal=True)
            cli.unmodelled_lines(intent, profile)

        line = f"IOS XE {profile.name}: render {rate(render, arguments.seconds):.0f} intents/s"
        if arguments.yang_dir:
            validator = SchemaValidator(find_yang_folder(Path(arguments.yang_dir), profile), profile.name)

            def render_and_validate(profile=profile, validator=validator) -> None:  # type: ignore[no-untyped-def]
                validator.check(render_config(intent, profile, reveal=True))

            line += f", render+libyang {rate(render_and_validate, arguments.seconds):.0f} intents/s"
            validator.close()
        print(line)


if __name__ == "__main__":
    main()
