"""Run every benchmark in this folder on one device and write their JSON results.

`make bench` runs them on the default device; `make gpu-check` runs them with
``--device cuda``. Each benchmark writes ``benchmarks/results/<name>_<device>.json``
(medians over repeats, ratios against torch from the same run), so CPU and GPU
results sit side by side.

Run: python benchmarks/run_all.py [--device cuda] [--only NAME ...] [--quick]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# name -> extra arguments for a quick run (used by --quick; empty = the full run)
BENCHMARKS: dict[str, list[str]] = {
    "attention_reference": ["--repeats", "3"],
    "efficient_attention": ["--quick"],
    "train_models": ["--quick"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: auto)")
    parser.add_argument("--only", nargs="*", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    failures = []
    for name in args.only or BENCHMARKS:
        script = HERE / f"{name}.py"
        if not script.exists():
            print(f"[{name}] missing: {script}", file=sys.stderr)
            failures.append(name)
            continue
        cmd = [sys.executable, str(script)]
        if args.device:
            cmd += ["--device", args.device]
        if args.quick:
            cmd += BENCHMARKS[name]
        started = time.perf_counter()
        print(f"[{name}] {' '.join(cmd[1:])}", flush=True)
        result = subprocess.run(cmd, check=False)
        print(f"[{name}] exit {result.returncode} after {time.perf_counter() - started:.0f} s")
        if result.returncode:
            failures.append(name)
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
