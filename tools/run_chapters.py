"""Run every chapter as a plain Python script on this machine's default device.

The chapters' jupytext ``.py`` files are plain Python: this runs each one in its own
process (from ``notebooks/``, as the book does, with ``MPLBACKEND=Agg``), several at
a time, and records for each its exit status, its time, the device it printed and the
last lines it wrote. It needs no Jupyter: on a lent GPU machine that has torch but no
notebook packages, ``tools/device_gpu_check.sh`` runs it after the GPU check, to show
that every chapter runs to the end on CUDA (the book build and the Colab test run them
on the CPU).

``--fast`` sets ``ATTNBOOK_FAST=1`` (shorter trainings); without it the chapters run
as the book runs them, so their printed results can be compared with the book's.

Where IPython or anywidget (which the chapters import) is missing, it records a skip
with the reason and exits 0: ``tools/device_gpu_check.sh`` installs them from wheels.

Run: python tools/run_chapters.py [--device cuda] [--fast] [--jobs N] [--timeout S]
     [--only STEM ...] [--output FILE] [--copy-to DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "benchmarks" / "results"
DEVICE_LINE = re.compile(r"^(cpu|cuda(:\d+)?|mps) \(.*torch ")


def chapter_env(fast: bool, device: str | None) -> dict[str, str]:
    """The environment of one chapter process: attnbook importable, one thread, no GUI."""
    env = dict(os.environ)
    src = str(ROOT / "src")
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1", TQDM_DISABLE="1", PYTHONHASHSEED="0")
    env["ATTNBOOK_FAST"] = "1" if fast else "0"
    if device:
        env["ATTNBOOK_DEVICE"] = device  # read by attnbook.device.default_device
    return env


def missing_packages() -> list[str]:
    """The packages the chapters import that this Python lacks (torch aside)."""
    names = ("IPython", "anywidget", "matplotlib", "numpy", "tqdm")
    return [name for name in names if importlib.util.find_spec(name) is None]


def run_chapter(path: Path, env: dict[str, str], timeout: float) -> dict:
    """Run one chapter script; return its record."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, path.name],
            cwd=path.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as stopped:
        code = None
        output = stopped.stdout or ""  # bytes, even with text=True
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
    lines = output.rstrip().splitlines()
    # describe_device() prints e.g. "cuda:0 (NVIDIA H200, 139.8 GiB, torch 2.11.0)".
    printed_device = next((line for line in lines if DEVICE_LINE.match(line)), None)
    return {
        "chapter": path.stem,
        "exit_code": code,
        "timed_out": code is None,
        "seconds": round(time.perf_counter() - started, 1),
        "device_line": printed_device,
        "output": lines,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="ATTNBOOK_DEVICE for the chapters")
    parser.add_argument("--fast", action="store_true", help="ATTNBOOK_FAST=1: short trainings")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="chapters at once")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per chapter")
    parser.add_argument("--only", nargs="*", default=None, help="chapter stems to run")
    parser.add_argument("--output", type=Path, default=None, help="the JSON record to write")
    parser.add_argument("--copy-to", type=Path, default=None, help="also copy the record here")
    args = parser.parse_args()

    chapters = sorted(NOTEBOOKS.glob("[0-9A-Z]*.py"))
    if args.only:
        unknown = sorted(set(args.only) - {path.stem for path in chapters})
        if unknown:
            parser.error(f"--only: no chapter named {unknown}; chapters are notebooks/*.py stems")
        chapters = [path for path in chapters if path.stem in args.only]
    env = chapter_env(args.fast, args.device)
    device = env.get("ATTNBOOK_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    name = f"chapters_{device.split(':')[0]}{'_fast' if args.fast else ''}.json"
    out = (args.output or RESULTS / name).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    missing = missing_packages()
    if missing:
        reason = f"the chapters import {', '.join(missing)}, which this Python lacks"
        print(f"run_chapters: skipped: {reason}")
        out.write_text(json.dumps({"skipped": reason}, indent=2) + "\n")
        return 0
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        records = list(pool.map(lambda path: run_chapter(path, env, args.timeout), chapters))
    for record in records:
        status = "timed out" if record["timed_out"] else f"exit {record['exit_code']}"
        print(f"{record['chapter']:32} {status:9} {record['seconds']:6.1f} s")
        if record["exit_code"] != 0:
            print("\n".join("    " + line for line in record["output"][-12:]))
    summary = {
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else device,
        "torch": torch.__version__,
        "fast": args.fast,
        "jobs": args.jobs,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "chapters": records,
    }
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {out} ({summary['wall_seconds']} s)")
    if args.copy_to:
        args.copy_to.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out, args.copy_to / out.name)
    return 0 if all(record["exit_code"] == 0 for record in records) else 1


if __name__ == "__main__":
    sys.exit(main())
