"""Train the book's three models within their CPU budgets and record what they reach.

The models, their data and their settings are the library's recipes
(``attnbook.train.train_pronoun_resolver``, ``train_char_lm``,
``train_date_translator``) with their preset configs, so the chapters that
call them show the numbers recorded here:

* encoder-only, toy-world pronoun resolution: goal >= 98 % held-out accuracy in 60 s;
* decoder-only, character LM on the pydoc text: goal <= 1.45 nats/char validation in 120 s;
* encoder-decoder, date translation: goal >= 99.5 % held-out exact match in 90 s.

The budgets count training time only (evaluation excluded) and were set for an
otherwise idle 2-core CPU. The JSON records the machine's load average before
and after each run: on a shared machine the same budget buys fewer steps.
For each model it records wall time, steps, parameters, tokens per second,
final metrics, the whole loss curve and the evaluation curve.

Run: python benchmarks/train_models.py [--device cpu] [--threads 2]
        [--only pronoun char_lm date_translator] [--quick] [--seconds S]

Writes ``benchmarks/results/train_models_<device type>.json``
(``--quick``: 5-second budgets, written to ``..._quick.json``; ``--seconds S``: an
S-second budget for each model, written to ``..._<S>s.json``; ``first_reached`` then
tells how soon each goal was met).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from _timing import environment_info, write_json

from attnbook.device import default_device
from attnbook.train import (
    TrainResult,
    train_char_lm,
    train_date_translator,
    train_pronoun_resolver,
)

RESULTS = Path(__file__).parent / "results"

# name -> (recipe, metric, goal, budget in seconds, whether lower is better)
RUNS: dict[str, tuple[Any, str, float, float, bool]] = {
    "pronoun": (train_pronoun_resolver, "test_accuracy", 0.98, 60.0, False),
    "char_lm": (train_char_lm, "val_loss", 1.45, 120.0, True),
    "date_translator": (train_date_translator, "test_exact_match", 0.995, 90.0, False),
}


def _first_reached(result: TrainResult, metric: str, goal: float, lower: bool) -> dict | None:
    history = result.history
    for step, seconds, value in zip(
        history.eval_step, history.eval_time, history.metrics[metric], strict=True
    ):
        if (value <= goal) if lower else (value >= goal):
            return {"step": step, "train_seconds": round(seconds, 2), metric: value}
    return None


def run_one(
    name: str, device: torch.device, quick: bool, seconds: float | None = None
) -> dict[str, Any]:
    """Train one recipe for ``seconds`` (default: its budget; 5 s when ``quick``)."""
    recipe, metric, goal, budget, lower = RUNS[name]
    seconds = seconds if seconds is not None else 5.0 if quick else budget
    load_before = os.getloadavg()
    started = time.perf_counter()
    result = recipe(seconds, device=device, progress=False)
    wall = time.perf_counter() - started
    history = result.history
    value = result.metrics[metric]
    print(
        f"[{name}] {history.steps} steps in {history.seconds:.1f} s "
        f"({history.tokens_per_second:,.0f} tokens/s): {metric} = {value:.4f} "
        f"(goal {'<=' if lower else '>='} {goal})",
        flush=True,
    )
    return {
        "goal": {"metric": metric, "value": goal, "lower_is_better": lower, "seconds": budget},
        "met": bool(value <= goal if lower else value >= goal),
        "first_reached": _first_reached(result, metric, goal, lower),
        "metrics": result.metrics,
        "budget_seconds": seconds,
        "train_seconds": round(history.seconds, 3),
        "eval_seconds": round(history.eval_seconds, 3),
        "wall_seconds": round(wall, 3),
        "steps": history.steps,
        "stopped_by": history.stopped_by,
        "parameters": result.model.num_parameters(),
        "tokens": history.tokens,
        "tokens_per_second": round(history.tokens_per_second, 1),
        "config": dataclasses.asdict(result.model.config),
        "model": type(result.model).__name__,
        "curve": {
            "step": history.step,
            "train_seconds": [round(t, 3) for t in history.time],
            "loss": [round(v, 5) for v in history.loss],
            "lr": [round(v, 7) for v in history.lr],
        },
        "eval_curve": {
            "step": history.eval_step,
            "train_seconds": [round(t, 3) for t in history.eval_time],
            **{k: [round(v, 5) for v in vs] for k, vs in history.metrics.items()},
        },
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, mps (default: auto)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--only", nargs="*", choices=sorted(RUNS), help="run only these")
    parser.add_argument("--quick", action="store_true", help="5-second budgets, for a smoke run")
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="one training budget for every model instead of its own (the goals keep theirs)",
    )
    parser.add_argument("--output", type=Path, default=None, help="JSON path (default: results/)")
    parser.add_argument("--note", default="", help="free text stored with the results")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device) if args.device else default_device()
    payload: dict[str, Any] = {
        "environment": {**environment_info(device), "cpu_count": os.cpu_count()},
        "quick": args.quick,
        "note": (
            "Budgets count training time only and were set for an otherwise idle 2-core "
            "CPU; load_average_before/after show how busy the machine was (a load above "
            "the core count means other processes shared it)."
        ),
        "run_note": args.note,
    }
    for name in args.only or RUNS:
        payload[name] = run_one(name, device, args.quick, args.seconds)
    suffix = "_quick" if args.quick else "" if args.seconds is None else f"_{args.seconds:g}s"
    path = args.output or RESULTS / f"train_models_{device.type}{suffix}.json"
    write_json(path, payload)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
