"""`make gpu-check`: the device tests and the benchmarks on a CUDA GPU, with one summary.

On a machine without CUDA it says so and exits 0: there is nothing to check.
With CUDA it runs, in order, each step with a time limit,

1. the unit tests that take the ``device`` fixture (``DEVICE_TEST_FILES``), on
   ``cuda`` only (``-k cuda``);
2. ``benchmarks/attention_reference.py``: our reference attention against torch's;
3. ``benchmarks/efficient_attention.py``: tiled, sliding-window, linear, strided and
   hierarchical attention against torch SDPA, time and peak memory;
4. ``benchmarks/train_models.py --seconds 30``: one short training of each
   architecture (encoder-only, decoder-only, encoder-decoder), recording how soon
   each reached its goal;
5. ``tools/run_chapters.py``: every chapter, run as a plain script on the GPU (it
   records a skip where IPython and anywidget, which the chapters import, are missing);

and after every step rewrites ``benchmarks/results/gpu_check_cuda.json``: the GPU,
torch, the exit status and time of each step, and the goals each benchmark recorded.
``--copy-to DIR`` also copies the summary and every result file into ``DIR`` after
each step, so a run cut short still leaves what it measured.

``--device cpu`` rehearses the same steps on the CPU (with ``--quick``, in a few
minutes): the way to check this script on a machine without a GPU.
``tools/device_gpu_check.sh`` runs it on a lent GPU machine, where ``make`` would
build a CPU environment.

Run: python tools/gpu_check.py [--quick] [--device cuda] [--copy-to DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# The test files whose tests take the `device` fixture (tests/conftest.py); a test
# keeps this list complete. Only these are collected, so the GPU machine needs no
# notebook or browser packages.
DEVICE_TEST_FILES = (
    "tests/test_attention.py",
    "tests/test_blocks.py",
    "tests/test_device.py",
    "tests/test_efficient.py",
    "tests/test_functional.py",
    "tests/test_masks.py",
    "tests/test_models.py",
    "tests/test_positional.py",
    "tests/test_train.py",
    "tests/test_viz.py",
)
TRAIN_SECONDS = 30.0  # per model; 5 with --quick
QUICK_CHAPTERS = ("02_dot_products", "09_transformer_block")  # the --quick sample


def steps(device: str, quick: bool) -> list[tuple[str, list[str], float]]:
    """(name, command, time limit in seconds) of each step, in order."""
    python = sys.executable
    seconds = 5.0 if quick else TRAIN_SECONDS
    files = result_files(torch.device(device).type, quick)
    tests = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra"]
    return [
        ("device tests", [*tests, *DEVICE_TEST_FILES, "-k", device], 90.0),
        (
            "attention_reference",
            [python, "benchmarks/attention_reference.py", "--device", device]
            + (["--repeats", "3", "--lengths", "128", "512"] if quick else [])
            + ["--output", str(files["attention_reference"])],
            45.0,
        ),
        (
            "efficient_attention",
            [python, "benchmarks/efficient_attention.py", "--device", device, "--in-process"]
            + (["--quick"] if quick else []),
            120.0,
        ),
        (
            "train_models",
            [python, "benchmarks/train_models.py", "--device", device, "--seconds", f"{seconds:g}"],
            3 * seconds + 60.0,
        ),
        (
            "chapters",
            [python, "tools/run_chapters.py", "--device", device, "--timeout", "120"]
            + ["--jobs", str(min(16, os.cpu_count() or 1)), "--output", str(files["chapters"])]
            + (["--fast", "--only", *QUICK_CHAPTERS] if quick else []),
            150.0,
        ),
    ]


def run_step(name: str, cmd: list[str], limit: float) -> dict:
    print(f"[gpu-check] {name}: {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    try:
        code = subprocess.run(cmd, cwd=ROOT, check=False, timeout=limit).returncode
    except subprocess.TimeoutExpired:
        code = None
    seconds = round(time.perf_counter() - started, 1)
    print(f"[gpu-check] {name}: exit {code} after {seconds} s (limit {limit:g} s)", flush=True)
    return {"name": name, "exit_code": code, "timed_out": code is None, "seconds": seconds}


def result_files(device_type: str, quick: bool) -> dict[str, Path]:
    """Benchmark name -> the JSON it writes for this device (and mode)."""
    seconds = 5.0 if quick else TRAIN_SECONDS
    suffix = "_quick" if quick else ""
    return {
        "attention_reference": RESULTS / f"attention_reference_{device_type}{suffix}.json",
        "efficient_attention": RESULTS / f"efficient_attention_{device_type}{suffix}.json",
        "train_models": RESULTS / f"train_models_{device_type}_{seconds:g}s.json",
        "chapters": RESULTS / f"chapters_{device_type}{suffix}.json",
    }


def recorded_goals(path: Path) -> dict | None:
    """The goals a benchmark's JSON recorded, in one shape: name -> measured and met."""
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if "chapters" in data or "skipped" in data:  # run_chapters
        if "skipped" in data:
            return {"every_chapter_runs": {"skipped": data["skipped"]}}
        return {
            "every_chapter_runs": {
                "goal": "every chapter exits 0",
                "measured": {
                    c["chapter"]: c["seconds"] if c["exit_code"] == 0 else f"exit {c['exit_code']}"
                    for c in data["chapters"]
                },
                "met": all(c["exit_code"] == 0 for c in data["chapters"]),
            }
        }
    if "goals" in data:  # efficient_attention
        return data["goals"]
    if "meets_goal" in data:  # attention_reference
        return {
            "ours_over_torch_math": {
                "goal": f"<= {data['goal_ratio_ours_over_torch_math']}",
                "measured": data["max_ratio_ours_over_torch_math"],
                "met": data["meets_goal"],
            }
        }
    # train_models: one entry per recipe, each with its goal and whether it was met
    return {
        key: {
            "goal": run["goal"],
            "met": run["met"],
            "first_reached": run["first_reached"],
            "metrics": run["metrics"],
            "steps": run["steps"],
            "train_seconds": run["train_seconds"],
        }
        for key, run in data.items()
        if isinstance(run, dict) and "goal" in run
    } or None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and 5-second trainings")
    parser.add_argument("--device", default="cuda", help="cuda (default), or cpu to rehearse")
    parser.add_argument("--copy-to", type=Path, default=None, help="also copy results here")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu-check: no CUDA device on this machine, nothing to check (exit 0)")
        return 0
    files = result_files(device.type, args.quick)
    summary: dict = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "quick": args.quick,
        "steps": [],
        "recorded": {},
    }
    out = RESULTS / f"gpu_check_{device.type}{'_quick' if args.quick else ''}.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, cmd, limit in steps(args.device, args.quick):
        summary["steps"].append(run_step(name, cmd, limit))
        summary["recorded"] = {key: recorded_goals(path) for key, path in files.items()}
        out.write_text(json.dumps(summary, indent=2) + "\n")
        if args.copy_to:
            args.copy_to.mkdir(parents=True, exist_ok=True)
            for path in [
                out,
                *files.values(),
                *RESULTS.glob(files["efficient_attention"].stem + "_*.png"),
            ]:
                if path.is_file():
                    shutil.copy2(path, args.copy_to / path.name)
    print(f"[gpu-check] wrote {out.relative_to(ROOT)}")
    return 0 if all(step["exit_code"] == 0 for step in summary["steps"]) else 1


if __name__ == "__main__":
    sys.exit(main())
