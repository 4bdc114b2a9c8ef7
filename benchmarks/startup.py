"""Time `provisioner --help` from process start to exit, the CLI's start-up cost.

Usage: python benchmarks/startup.py [--runs 20]

Runs the installed console script (next to this Python) the given number of times after one
warm-up run, and prints the median, the fastest and the slowest wall time. Target: < 0.3 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("provisioner")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    command = [str(SCRIPT), "--help"] if SCRIPT.exists() else [sys.executable, "-m", "provisioner", "--help"]

    subprocess.run(command, capture_output=True, check=True)
    times = []
    for _ in range(options.runs):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    print(f"{' '.join(command[-2:])}: median {statistics.median(times):.3f} s, fastest {min(times):.3f} s, "
          f"slowest {max(times):.3f} s over {options.runs} runs")


if __name__ == "__main__":
    main()
