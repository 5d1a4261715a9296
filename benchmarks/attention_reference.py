"""How fast is the book's reference attention? Ours vs PyTorch's math and default backends.

``attnbook.functional.scaled_dot_product_attention`` writes attention out as
plain tensor operations. This script times it (forward, no autograd) against
``torch.nn.functional.scaled_dot_product_attention`` twice: restricted to the
math backend (PyTorch's own unfused reference, the fair comparison) and with
the default backend choice (fused kernels where available). fp32, N=1, H=8,
E=64, L=S in {128, 512, 1024, 2048}. The three are timed in interleaved rounds
so that load on a shared machine hits them alike; medians over the rounds,
ratios from this one run. Goal: ours within 1.5x of the math backend.

Usage::

    python benchmarks/attention_reference.py [--device cpu] [--repeats 7] [--warmup 2]

Writes ``benchmarks/results/attention_reference_<device type>.json``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
from pathlib import Path

import torch
import torch.nn.functional as F
from _timing import environment_info, median_seconds, write_json
from torch.nn.attention import SDPBackend, sdpa_kernel

from attnbook.device import default_device, seed_everything
from attnbook.functional import scaled_dot_product_attention

RESULTS = Path(__file__).parent / "results"
N, H, E = 1, 8, 64
LENGTHS = (128, 512, 1024, 2048)
GOAL = 1.5  # ours / torch math


def torch_math(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(q, k, v)


def time_length(length: int, device: torch.device, repeats: int, warmup: int) -> dict:
    q, k, v = (torch.randn(N, H, length, E, device=device) for _ in range(3))  # (N, H, L, E)
    candidates = {
        "ours": lambda: scaled_dot_product_attention(q, k, v),
        "torch_math": lambda: torch_math(q, k, v),
        "torch_default": lambda: F.scaled_dot_product_attention(q, k, v),
    }
    error = (candidates["ours"]() - candidates["torch_math"]()).abs().max().item()
    for fn in candidates.values():
        median_seconds(fn, repeats=1, warmup=warmup, device=device)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):  # interleaved rounds: drifting load hits all three alike
        for name, fn in candidates.items():
            times[name].append(median_seconds(fn, repeats=1, warmup=0, device=device))
    medians = {name: statistics.median(values) for name, values in times.items()}
    return {
        "L": length,
        "S": length,
        "max_abs_diff_vs_torch_math": error,
        "median_ms": {name: round(1e3 * value, 4) for name, value in medians.items()},
        "ratio_ours_over_torch_math": round(medians["ours"] / medians["torch_math"], 3),
        "ratio_ours_over_torch_default": round(medians["ours"] / medians["torch_default"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: auto)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per length")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per candidate")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS))
    parser.add_argument("--output", type=Path, default=None, help="JSON path (default: results/)")
    args = parser.parse_args()

    device = torch.device(args.device) if args.device else default_device()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    load_before = round(os.getloadavg()[0], 2)  # a shared machine's load explains noisy numbers
    seed_everything(0)
    rows = []
    with torch.inference_mode():
        for length in args.lengths:
            row = time_length(length, device, args.repeats, args.warmup)
            rows.append(row)
            ms = row["median_ms"]
            print(
                f"L=S={length:5d}  ours {ms['ours']:9.3f} ms  math {ms['torch_math']:9.3f} ms  "
                f"default {ms['torch_default']:9.3f} ms  ours/math "
                f"{row['ratio_ours_over_torch_math']:.2f}  ours/default "
                f"{row['ratio_ours_over_torch_default']:.2f}"
            )
    worst = max(row["ratio_ours_over_torch_math"] for row in rows)
    payload = {
        "benchmark": "attention_reference",
        "config": {"N": N, "H": H, "E": E, "dtype": "float32", "mode": "forward, inference_mode"},
        "date": datetime.date.today().isoformat(),
        "environment": environment_info(device),
        "goal_ratio_ours_over_torch_math": GOAL,
        "load_average_1min": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
        "max_ratio_ours_over_torch_math": worst,
        "meets_goal": worst <= GOAL,
        "repeats": args.repeats,
        "results": rows,
        "warmup": args.warmup,
    }
    output = args.output or RESULTS / f"attention_reference_{device.type}.json"
    print(
        f"worst ours/math ratio {worst:.2f} (goal <= {GOAL}); wrote {write_json(output, payload)}"
    )


if __name__ == "__main__":
    main()
