"""The cost of attention, measured: time and peak memory of exact and cheaper variants.

For fp32, N=1, H=8, E=64 and n = L = S in {512, 1024, 2048, 4096, 8192}, causal and
not, this script measures

* naive attention (``softmax(Q K^T / sqrt(E)) V`` with the matrix materialised),
  forward and forward+backward;
* ``torch.nn.functional.scaled_dot_product_attention`` with its default backend,
  forward and forward+backward;
* ``attnbook.efficient.tiled_attention`` (exact, online softmax), forward and
  forward+backward;
* sliding-window (window 128), linear, strided (stride ~ sqrt(n)) and hierarchical
  (block ~ sqrt(n)) attention, forward;

and the error of the approximate ones against exact attention on two inputs
(independent Gaussian q, k, v; and a "local" input whose queries and keys carry a
positional signal, so exact attention concentrates near the diagonal).

Honest measurement:

* on the CPU every (method, n, mode, causal) case runs in a **fresh subprocess**; its
  peak memory is the peak resident set size (``VmHWM``, reset through
  ``/proc/self/clear_refs`` after the inputs exist and a warm-up call on a short input
  has run) minus the resident size at that moment;
* on CUDA the allocator counts for itself (``torch.cuda.max_memory_allocated`` minus
  the allocation before the call, its peak reset per case), so the cases run one
  after another in this process (``--in-process``, the default there): a fresh
  process per case would spend most of a GPU run starting CUDA;
* in the same subprocess the case is timed in interleaved rounds against torch SDPA
  (same mode, same causality), so a ratio compares two calls made moments apart; the
  ratio reported is the median over rounds of (method / SDPA); times are medians.

Usage::

    python benchmarks/efficient_attention.py [--device cpu] [--sizes 512 1024 ...]
        [--repeats 5] [--threads T] [--quick] [--resume]

The JSON records the machine's load average before and after the run: on a shared
CPU, methods made of many small parallel ops (everything but SDPA's one fused
kernel) lose most to other processes, so compare ratios from quiet runs.

Writes ``benchmarks/results/efficient_attention_<device type>.json`` and the plots
``efficient_attention_<device type>_time.png`` and ``..._memory.png`` beside it
(``--quick``: ``efficient_attention_<device type>_quick*``, so a smoke run leaves the
committed result alone).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from _timing import environment_info, median_seconds, write_json

from attnbook.device import default_device, seed_everything
from attnbook.efficient import (
    hierarchical_attention,
    linear_attention,
    sliding_window_attention,
    strided_attention,
    tiled_attention,
)

RESULTS = Path(__file__).parent / "results"
N, H, E = 1, 8, 64
SIZES = (512, 1024, 2048, 4096, 8192)
WINDOW = 128  # sliding window: neighbours on each side
CASE_BUDGET_S = 10.0  # timed seconds per case; fewer rounds (>= 3) for slow cases
GOALS = {
    "tiled_forward_over_sdpa_max": 1.25,  # at n >= 2048
    "tiled_fwd_bwd_peak_over_naive_max": 0.1,  # at n = 8192
    "linear_scaling_time_ratio_max": 2.3,  # time(8192) / time(4096), sliding and linear
}
CASES = [  # (method, mode)
    ("naive", "forward"),
    ("sdpa", "forward"),
    ("tiled", "forward"),
    ("sliding_window", "forward"),
    ("linear", "forward"),
    ("strided", "forward"),
    ("hierarchical", "forward"),
    ("naive", "forward_backward"),
    ("sdpa", "forward_backward"),
    ("tiled", "forward_backward"),
]


# --- the methods --------------------------------------------------------------------------


def naive_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool
) -> torch.Tensor:
    """Textbook attention: the (N, H, L, S) weights exist in full."""
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (N, H, L, S)
    if causal:
        L, S = scores.shape[-2:]
        future = torch.ones(L, S, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, -math.inf)
    return scores.softmax(dim=-1) @ v  # (N, H, L, E)


def method(name: str, n: int) -> Callable[..., torch.Tensor]:
    """The attention function ``fn(q, k, v, causal)`` for a method name and length."""
    root = max(1, round(math.sqrt(n)))
    table: dict[str, Callable[..., torch.Tensor]] = {
        "naive": naive_attention,
        "sdpa": lambda q, k, v, c: F.scaled_dot_product_attention(q, k, v, is_causal=c),
        "tiled": lambda q, k, v, c: tiled_attention(q, k, v, is_causal=c),
        "sliding_window": lambda q, k, v, c: sliding_window_attention(q, k, v, WINDOW, is_causal=c),
        "linear": lambda q, k, v, c: linear_attention(q, k, v, c),
        "strided": lambda q, k, v, c: strided_attention(q, k, v, root, is_causal=c),
        "hierarchical": lambda q, k, v, c: hierarchical_attention(q, k, v, root, is_causal=c),
    }
    return table[name]


# --- one case, in its own process -------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_kib("VmHWM") <= _status_kib("VmRSS") + 1024


def peak_memory_bytes(fn: Callable[[], object], device: torch.device) -> tuple[int, str]:
    """Extra peak memory of one call of ``fn`` over what exists before it."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before, "cuda max_memory_allocated"
    if device.type == "cpu" and _reset_peak_rss():
        before = _status_kib("VmRSS")
        fn()
        return 1024 * (_status_kib("VmHWM") - before), "peak RSS (VmHWM reset) - RSS before"
    return -1, "unavailable on this device"


def run_case(
    name: str, mode: str, causal: bool, n: int, device: torch.device, repeats: int
) -> dict:
    backward = mode == "forward_backward"

    def call(f: Callable[..., torch.Tensor], length: int) -> Callable[[], object]:
        seed_everything(0)
        shape = (N, H, length, E)  # (N, H, L, E)
        q, k, v = (torch.randn(shape, device=device, requires_grad=backward) for _ in range(3))
        grad_out = torch.randn(shape, device=device)
        if backward:
            return lambda: torch.autograd.grad(f(q, k, v, causal), (q, k, v), grad_out)

        def forward() -> object:
            with torch.no_grad():
                return f(q, k, v, causal)

        return forward

    # Warm up on a short input: thread pools, kernels and other one-time allocations
    # land before the memory baseline without paying for a full-size call.
    call(method(name, 256), 256)()
    call(method("sdpa", 256), 256)()
    ours, theirs = call(method(name, n), n), call(method("sdpa", n), n)
    started = time.perf_counter()
    peak, how = peak_memory_bytes(ours, device)  # the first full-size call
    first_s = time.perf_counter() - started
    rounds = max(3, min(repeats, int(CASE_BUDGET_S / max(first_s, 1e-9) / 2)))
    times, ratios = [], []
    for _ in range(rounds):  # interleaved: the load of a shared machine hits both alike
        t_ours = median_seconds(ours, repeats=1, warmup=0, device=device)
        t_sdpa = (
            t_ours if name == "sdpa" else median_seconds(theirs, repeats=1, device=device, warmup=0)
        )
        times.append(t_ours)
        ratios.append(t_ours / t_sdpa)
    return {
        "method": name,
        "mode": mode,
        "causal": causal,
        "n": n,
        "rounds": rounds,
        "median_ms": round(1e3 * statistics.median(times), 3),
        "ratio_to_sdpa": round(statistics.median(ratios), 3),
        "peak_mib": round(peak / 2**20, 2) if peak >= 0 else None,
        "memory_measure": how,
    }


def run_scaling(
    name: str, causal: bool, small: int, big: int, device: torch.device, repeats: int
) -> dict:
    """time(big) / time(small) for one method, both timed in interleaved rounds here.

    Comparing medians from two processes run minutes apart would mostly measure how
    the machine's load drifted; alternating the two lengths call by call does not.
    """
    calls = {}
    for n in (small, big):
        seed_everything(0)
        q, k, v = (torch.randn(N, H, n, E, device=device) for _ in range(3))  # (N, H, n, E)
        fn = method(name, n)
        calls[n] = lambda fn=fn, q=q, k=k, v=v: fn(q, k, v, causal)
    with torch.no_grad():
        for fn in calls.values():
            fn()  # warm-up
        ratios = []
        for _ in range(max(11, 2 * repeats + 1)):  # short calls: more rounds, steadier median
            t_small = median_seconds(calls[small], repeats=1, warmup=0, device=device)
            t_big = median_seconds(calls[big], repeats=1, warmup=0, device=device)
            ratios.append(t_big / t_small)
    return {
        "method": name,
        "causal": causal,
        "n_small": small,
        "n_big": big,
        "rounds": len(ratios),
        "time_ratio_big_over_small": round(statistics.median(ratios), 3),
    }


def run_child(args: list[str], device: str, repeats: int, threads: int, tries: int = 2) -> dict:
    """Run this script on one case in a fresh process; return its JSON line.

    A child killed from outside (a signal, the OOM killer on a shared machine) is
    retried once after a pause; the error recorded says how it ended.
    """
    cmd = [sys.executable, __file__, "--device", device, "--repeats", str(repeats)]
    cmd += ["--threads", str(threads), *args]
    for attempt in range(tries):
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return json.loads(result.stdout.strip().splitlines()[-1])
        if attempt + 1 < tries:
            time.sleep(10)
    tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
    return {"error": f"exit code {result.returncode}: " + " | ".join(tail)}


def run_here(device: torch.device, measure: Callable[..., dict], *args: object) -> dict:
    """``measure(*args)`` in this process; an out-of-memory error becomes an error row."""
    try:
        return measure(*args)
    except torch.OutOfMemoryError as err:
        return {"error": f"out of memory: {str(err).splitlines()[0]}"}
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()  # the next case's peak starts from an empty cache


def run_one_case(
    case: tuple, device: torch.device, repeats: int, threads: int, in_process: bool
) -> dict:
    name, mode, causal, n = case
    if in_process:
        row = run_here(device, run_case, name, mode, causal, n, device, repeats)
    else:
        args = ["--case", name, mode, str(int(causal)), str(n)]
        row = run_child(args, str(device), repeats, threads)
    if "error" in row:
        row.update(method=name, mode=mode, causal=causal, n=n)
    return row


def naive_fits(n: int, mode: str) -> bool:
    """Refuse a naive case that would need most of the free memory (it could OOM the box)."""
    matrix = N * H * n * n * 4  # one (N, H, L, S) fp32 matrix
    needed = matrix * (6 if mode == "forward_backward" else 3)
    try:
        available = 1024 * int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemAvailable:")
            )
        )
    except (OSError, StopIteration):
        return True
    return needed < 0.7 * available


# --- approximation error ----------------------------------------------------------------------


def structured_inputs(kind: str, n: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    v = torch.randn(N, H, n, E, generator=g)
    if kind == "random":
        q, k = torch.randn(N, H, n, E, generator=g), torch.randn(N, H, n, E, generator=g)
    else:  # "local": sinusoidal positions, so q_i . k_j peaks at j = i and decays with |i - j|
        pos = torch.arange(n, dtype=torch.float32).unsqueeze(-1)  # (n, 1)
        freq = torch.logspace(-3, 0, E // 2)  # (E/2,), wavelengths from ~6 to ~6000
        angles = pos * freq  # (n, E/2)
        p = torch.cat([angles.sin(), angles.cos()], dim=-1)  # (n, E)
        q = 1.5 * p + 0.5 * torch.randn(N, H, n, E, generator=g)
        k = 1.5 * p + 0.5 * torch.randn(N, H, n, E, generator=g)
    return tuple(x.to(device) for x in (q, k, v))


def approximation_errors(n: int, device: torch.device) -> list[dict]:
    rows = []
    for kind in ("random", "local"):
        q, k, v = structured_inputs(kind, n, device)
        for causal in (False, True):
            exact = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
            for name in ("tiled", "sliding_window", "strided", "hierarchical", "linear"):
                with torch.no_grad():
                    out = method(name, n)(q, k, v, causal)
                diff = out - exact
                rel = diff.norm(dim=-1) / exact.norm(dim=-1).clamp_min(1e-12)  # per query
                rows.append(
                    {
                        "input": kind,
                        "method": name,
                        "causal": causal,
                        "n": n,
                        "max_abs_err": float(f"{diff.abs().max().item():.3g}"),
                        "mean_rel_err": float(f"{rel.mean().item():.3g}"),
                    }
                )
    return rows


# --- goals, plots, main -------------------------------------------------------------------------


def find(results: list[dict], **where) -> dict | None:
    for row in results:
        if all(row.get(key) == value for key, value in where.items()) and "error" not in row:
            return row
    return None


def check_goals(results: list[dict], sizes: list[int], scaling: list[dict]) -> dict:
    goals: dict[str, dict] = {}
    tiled = {}
    for causal in (False, True):
        for n in sizes:
            row = find(results, method="tiled", mode="forward", causal=causal, n=n)
            if n >= 2048 and row:
                tiled[f"n={n},causal={causal}"] = row["ratio_to_sdpa"]
    goals["tiled_forward_over_sdpa"] = {
        "goal": f"<= {GOALS['tiled_forward_over_sdpa_max']} at n >= 2048",
        "measured": tiled,
        "met": bool(tiled) and max(tiled.values()) <= GOALS["tiled_forward_over_sdpa_max"],
    }
    big = max(sizes)
    memory = {}
    for causal in (False, True):
        # The largest length where both ran (a naive case may be skipped for memory).
        for n in sorted(sizes, reverse=True):
            ours = find(results, method="tiled", mode="forward_backward", causal=causal, n=n)
            naive = find(results, method="naive", mode="forward_backward", causal=causal, n=n)
            if ours and naive and ours["peak_mib"] and naive["peak_mib"]:
                memory[f"n={n},causal={causal}"] = round(ours["peak_mib"] / naive["peak_mib"], 4)
                break
    goals["tiled_fwd_bwd_peak_over_naive"] = {
        "goal": f"<= {GOALS['tiled_fwd_bwd_peak_over_naive_max']} at n = {big}",
        "measured": memory,
        "met": bool(memory)
        and all(key.startswith(f"n={big},") for key in memory)
        and max(memory.values()) <= GOALS["tiled_fwd_bwd_peak_over_naive_max"],
    }
    measured = {
        f"{row['method']},causal={row['causal']}": row["time_ratio_big_over_small"]
        for row in scaling
        if "error" not in row
    }
    small = next((row["n_small"] for row in scaling if "error" not in row), big // 2)
    goals["linear_scaling_time_ratio"] = {
        "goal": f"time({big}) / time({small}) <= {GOALS['linear_scaling_time_ratio_max']}"
        " (both lengths timed in alternation in one process)",
        "measured": measured,
        "met": bool(measured) and max(measured.values()) <= GOALS["linear_scaling_time_ratio_max"],
    }
    return goals


def plot(results: list[dict], stem: Path, device_label: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from attnbook.viz import use_book_style

    use_book_style()
    colors = {name: f"C{i}" for i, name in enumerate(dict.fromkeys(name for name, _ in CASES))}
    series = [
        case
        for case in CASES
        if any((r["method"], r["mode"]) == case for r in results if "error" not in r)
    ]
    paths = []
    for metric, label, suffix in (
        ("median_ms", "time per call (ms)", "time"),
        ("peak_mib", "peak extra memory (MiB)", "memory"),
    ):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
        for ax, causal in zip(axes, (False, True), strict=True):
            for name, mode in series:
                rows = [
                    r
                    for r in results
                    if r["method"] == name
                    and r["mode"] == mode
                    and r["causal"] == causal
                    and "error" not in r
                    and r.get(metric)
                ]
                if not rows:
                    continue
                rows.sort(key=lambda r: r["n"])
                style = "-o" if mode == "forward" else "--s"  # one colour per method
                tag = name if mode == "forward" else f"{name} fwd+bwd"
                xs, ys = [r["n"] for r in rows], [r[metric] for r in rows]
                ax.plot(xs, ys, style, color=colors[name], ms=4, label=tag)
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("sequence length n")
            ax.set_title("causal" if causal else "not causal")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel(label)
        axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
        fig.suptitle(f"Attention cost vs length, fp32, N={N}, H={H}, E={E} -- {device_label}")
        fig.tight_layout()
        path = stem.with_name(f"{stem.name}_{suffix}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: auto)")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--repeats", type=int, default=5, help="most timed rounds per case")
    parser.add_argument("--quick", action="store_true", help="sizes 256 and 512, 3 rounds")
    parser.add_argument("--output", type=Path, default=None, help="JSON path (default: results/)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument(
        "--resume", action="store_true", help="reuse the cases a killed run already finished"
    )
    parser.add_argument(
        "--in-process",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the cases in this process (default: on CUDA only; the CPU's peak-RSS "
        "measure needs a fresh process per case)",
    )
    parser.add_argument(
        "--case", nargs=4, metavar=("METHOD", "MODE", "CAUSAL", "N"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--scaling", nargs=4, metavar=("METHOD", "CAUSAL", "N1", "N2"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else default_device()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.case:  # child process: one case, one JSON line on stdout
        name, mode, causal, n = args.case
        print(json.dumps(run_case(name, mode, bool(int(causal)), int(n), device, args.repeats)))
        return
    if args.scaling:  # child process: time(N2) / time(N1) for one method
        name, causal, small, big = args.scaling
        row = run_scaling(name, bool(int(causal)), int(small), int(big), device, args.repeats)
        print(json.dumps(row))
        return
    sizes = [256, 512] if args.quick else sorted(args.sizes)
    repeats = 3 if args.quick else args.repeats
    # A quick smoke run must not overwrite the committed full result.
    suffix = "_quick" if args.quick else ""
    out = args.output or RESULTS / f"efficient_attention_{device.type}{suffix}.json"
    # Finished cases are appended here as they come, so a killed run can --resume.
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial.jsonl")
    done = {}
    if args.resume and partial.exists():
        for line in partial.read_text().splitlines():
            row = json.loads(line)
            done[(row["method"], row["mode"], row["causal"], row["n"])] = row
    elif partial.exists():
        partial.unlink()
    in_process = device.type == "cuda" if args.in_process is None else args.in_process
    started = time.perf_counter()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    results = []
    for causal in (False, True):
        for n in sizes:
            for name, mode in CASES:
                if (name, mode, causal, n) in done:
                    results.append(done[(name, mode, causal, n)])
                    continue
                if name == "naive" and device.type == "cpu" and not naive_fits(n, mode):
                    results.append(
                        {
                            "method": name,
                            "mode": mode,
                            "causal": causal,
                            "n": n,
                            "error": "skipped: not enough free memory",
                        }
                    )
                    continue
                row = run_one_case(
                    (name, mode, causal, n), device, repeats, torch.get_num_threads(), in_process
                )
                results.append(row)
                if "error" not in row:
                    with partial.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                shown = {
                    key: row.get(key) for key in ("median_ms", "ratio_to_sdpa", "peak_mib", "error")
                }
                print(f"n={n:5d} causal={causal!s:5} {name:>14} {mode:>16}: {shown}", flush=True)
    scaling = []
    if len(sizes) >= 2:
        for name in ("sliding_window", "linear"):
            for causal in (False, True):
                small, big = sizes[-2], sizes[-1]
                if in_process:
                    row = run_here(device, run_scaling, name, causal, small, big, device, repeats)
                else:
                    flags = ["--scaling", name, str(int(causal)), str(small), str(big)]
                    row = run_child(flags, str(device), repeats, torch.get_num_threads())
                scaling.append(row)
                print(f"scaling {name} causal={causal}: {row}", flush=True)
    error_n = min(2048, sizes[-1])  # the error at the largest length up to 2048
    errors = approximation_errors(error_n, device)
    payload = {
        "benchmark": "efficient_attention",
        "date": datetime.date.today().isoformat(),
        "environment": environment_info(device),
        "setup": {
            "dtype": "float32",
            "N": N,
            "H": H,
            "E": E,
            "sizes": sizes,
            "window": WINDOW,
            "strided_stride_and_hierarchical_block": "round(sqrt(n))",
            "max_rounds": repeats,
            "timing": "interleaved rounds against torch SDPA (same mode) in one process; "
            "median time; ratio = median over rounds of method / SDPA",
            "memory": "one call per case, "
            + ("all cases in one process" if in_process else "each case in a fresh process")
            + ": peak minus resident (CPU) or allocated (CUDA) memory before the call",
            "scaling": "time(largest n) / time(second largest n), the two lengths alternated "
            "call by call in one process; median over rounds",
        },
        "results": results,
        "approximation_error": errors,
        "scaling": scaling,
        "goals": check_goals(results, sizes, scaling),
        "wall_s": round(time.perf_counter() - started, 1),
        "load_average_1_5_15min": {
            "before": load_before,
            "after": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
    }
    write_json(out, payload)
    partial.unlink(missing_ok=True)
    print(f"wrote {out} after {payload['wall_s']} s")
    print(json.dumps(payload["goals"], indent=2))
    if not args.no_plots:
        for path in plot(results, out.with_suffix(""), environment_info(device)["device"]):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
