"""`make gpu-check`: the device tests and the benchmarks on a CUDA GPU, with one summary.

On a machine without CUDA it says so and exits 0: there is nothing to check.
With CUDA it runs, in order,

1. the unit tests that take the ``device`` fixture, on ``cuda`` (``-k cuda``);
2. ``benchmarks/run_all.py --device cuda``: torch SDPA against our attention, the
   efficient-attention benchmark (tiled vs SDPA, memory), and one training run
   of each architecture (``train_models.py``), each writing its own JSON;

and writes ``benchmarks/results/gpu_check_cuda.json``: the GPU, torch, the exit
status and time of each step, and the goals each benchmark recorded.

Run: python tools/gpu_check.py [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _step(name: str, cmd: list[str]) -> dict:
    print(f"[gpu-check] {name}: {' '.join(cmd)}", flush=True)
    started = time.perf_counter()
    code = subprocess.run(cmd, cwd=ROOT, check=False).returncode
    seconds = round(time.perf_counter() - started, 1)
    print(f"[gpu-check] {name}: exit {code} after {seconds} s", flush=True)
    return {"name": name, "exit_code": code, "seconds": seconds}


def _recorded(name: str, quick: bool) -> dict | None:
    names = [f"{name}_cuda_quick.json"] if quick else []  # quick runs write their own file
    path = next(
        (RESULTS / n for n in [*names, f"{name}_cuda.json"] if (RESULTS / n).is_file()), None
    )
    if path is None:
        return None
    data = json.loads(path.read_text())
    if "goals" in data:
        return data["goals"]
    # train_models: one entry per recipe, each with its goal and whether it was met
    return {
        key: {"met": run.get("met"), "metrics": run.get("metrics"), "steps": run.get("steps")}
        for key, run in data.items()
        if isinstance(run, dict) and "goal" in run
    } or None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small benchmark sizes")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA device on this machine, nothing to check (exit 0)")
        return 0
    python = sys.executable
    steps = [
        _step(
            "device tests",
            [
                python,
                "-m",
                "pytest",
                "-q",
                "-m",
                "not browser and not book and not colab",
                "-k",
                "cuda",
            ],
        ),
        _step(
            "benchmarks",
            [
                python,
                "benchmarks/run_all.py",
                "--device",
                "cuda",
                *(["--quick"] if args.quick else []),
            ],
        ),
    ]
    summary = {
        "date": datetime.date.today().isoformat(),
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "quick": args.quick,
        "steps": steps,
        "recorded": {
            name: _recorded(name, args.quick)
            for name in ("attention_reference", "efficient_attention", "train_models")
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "gpu_check_cuda.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"[gpu-check] wrote {out.relative_to(ROOT)}")
    return 0 if all(step["exit_code"] == 0 for step in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
