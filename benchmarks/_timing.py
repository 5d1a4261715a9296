"""Shared timing and reporting helpers for the benchmark scripts.

Benchmarks report medians over repeats after a warm-up, synchronise the GPU
around every timed call (CUDA and MPS run asynchronously), and write JSON with
sorted keys so a rerun diffs cleanly against the committed result.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from attnbook.device import describe_device


def _synchronize(device: torch.device | None) -> None:
    if device is None:
        return
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def median_seconds(
    fn: Callable[[], object],
    *,
    repeats: int = 7,
    warmup: int = 2,
    device: torch.device | None = None,
) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` calls.

    Pass the ``device`` the work runs on, so queued GPU kernels are waited for
    before and after each call; ``None`` (or a CPU device) times the call alone.
    """
    if repeats < 1:
        raise ValueError(f"repeats: expected an int >= 1, got {repeats}")
    if warmup < 0:
        raise ValueError(f"warmup: expected an int >= 0, got {warmup}")
    device = torch.device(device) if device is not None else None
    for _ in range(warmup):
        fn()
    _synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def environment_info(device: torch.device | str) -> dict[str, Any]:
    """What produced the numbers: torch and Python versions, the device, CPU threads."""
    device = torch.device(device)
    return {
        "device": describe_device(device),
        "device_type": device.type,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` as JSON (sorted keys, indent 2, trailing newline); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path
