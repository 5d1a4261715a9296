"""What ``benchmarks/train_models.py`` recorded for a recipe, ready to print in a chapter.

The chapters that train a model (10, 11, 12) train a shorter run than the
benchmark and show, next to their own result, the benchmark's: its goal,
whether it was met, its metrics, steps and time. The results file exists only
in a copy of the repository (not on Colab), so a missing file is a normal case
with its own message, not an error.

Introduced in chapter 10 (encoder-only).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from attnbook.notebook import OUTPUT_WIDTH

__all__ = ["RESULTS_NAME", "benchmark_run", "describe_benchmark_run"]

#: The results file of ``benchmarks/train_models.py`` on a CPU.
RESULTS_NAME = "train_models_cpu.json"
# Where a chapter finds it: chapters run in notebooks/, scripts in the repository root.
_SEARCH = (Path("..") / "benchmarks" / "results", Path("benchmarks") / "results")
_FIELDS = ("goal", "met", "metrics", "steps", "train_seconds", "parameters")


def _find(results: str | Path | None) -> Path | None:
    if results is not None:
        path = Path(results)
        return path if path.is_file() else None
    return next(
        (folder / RESULTS_NAME for folder in _SEARCH if (folder / RESULTS_NAME).is_file()), None
    )


def benchmark_run(name: str, results: str | Path | None = None) -> dict[str, Any] | None:
    """The benchmark's record of one recipe, or None when the results file is not here.

    Args:
        name: the run's name in the file: ``"pronoun"``, ``"char_lm"`` or
            ``"date_translator"``.
        results: the JSON file; by default ``benchmarks/results/train_models_cpu.json``
            seen from the repository root or from ``notebooks/``.

    Returns:
        The run's dict (``goal``, ``met``, ``metrics``, ``steps``, ``train_seconds``,
        ``parameters``, the curves, ...), or None if the file is missing.

    Raises:
        KeyError: the file exists but has no run called ``name``.

    Example:
        >>> import json, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = Path(folder) / "results.json"
        ...     _ = path.write_text(json.dumps({"pronoun": {"met": True, "steps": 200}}))
        ...     benchmark_run("pronoun", path)["steps"]
        200
    """
    path = _find(results)
    if path is None:
        return None
    runs = json.loads(path.read_text())
    if not isinstance(runs.get(name), dict):
        known = sorted(
            key for key, value in runs.items() if isinstance(value, dict) and "goal" in value
        )
        raise KeyError(f"name: expected one of the runs in {path} ({known}), got {name!r}")
    return runs[name]


def describe_benchmark_run(name: str, results: str | Path | None = None) -> str:
    """Lines that show the benchmark's record of one recipe, for ``print``.

    Args:
        name: the run's name, as in :func:`benchmark_run`.
        results: the JSON file, as in :func:`benchmark_run`.

    Returns:
        One line per recorded field (goal, met, metrics, steps, training seconds,
        parameters, the load average before the run), or one line saying that the
        results file is not in this copy of the book (on Colab, for example).

    Example:
        >>> print(describe_benchmark_run("pronoun", "no/such/file.json"))
        the benchmark's results file is not here (on Colab, for example): this chapter's own run is the one above
    """
    run = benchmark_run(name, results)
    if run is None:
        return (
            "the benchmark's results file is not here (on Colab, for example): "
            "this chapter's own run is the one above"
        )
    fields = [(field, run.get(field)) for field in _FIELDS]
    fields.append(("load average", f"{run.get('load_average_before')} (before the run)"))
    # Wrapped to the book's output column, continuation lines under the value.
    return "\n".join(
        textwrap.fill(f"{field:>14}: {value}", OUTPUT_WIDTH, subsequent_indent=" " * 16)
        for field, value in fields
    )
