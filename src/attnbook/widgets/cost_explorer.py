"""CostExplorer: attention weights and their memory against sequence length, with measured times."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import traitlets

from ._base import check_number, load_css, load_esm

__all__ = ["CostExplorer", "measurements_from_benchmark"]

BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1}
DEFAULT_LENGTHS = (128, 256, 512, 1024, 2048, 4096, 8192, 10_000, 16_384, 32_768, 65_536, 131_072)
MAX_LENGTH = 1 << 20
MAX_RECORDS = 400
MAX_METHODS = 8

# Keys a benchmark row may use for the length and for the time, in the order tried.
_LENGTH_KEYS = ("n", "L", "seq_len", "length")
_SECONDS_KEYS = (("seconds", 1.0), ("median_s", 1.0), ("time_s", 1.0), ("median_ms", 1e-3))


def _row_length(row: Mapping[str, Any], where: str) -> Any:
    for key in _LENGTH_KEYS:
        if key in row:
            return row[key]
    raise ValueError(
        f"{where}: expected a length under one of {_LENGTH_KEYS}, got keys {list(row)}"
    )


def measurements_from_benchmark(
    source: Any, where: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Turn benchmark results into ``{method, n, seconds}`` records for :class:`CostExplorer`.

    Accepted, as a mapping or a path to a JSON file holding one:

    * a list of records ``{"method": str, "n": int, "seconds": float}``;
    * ``{"results": [...]}`` whose rows have a length (``n``, ``L``,
      ``seq_len`` or ``length``) and either a ``method`` with a time
      (``seconds``, ``median_s``, ``time_s`` or ``median_ms``) or a mapping of
      method to time under ``median_s`` or ``median_ms`` — the layout the
      scripts in ``benchmarks/`` write.

    Rows with an ``error`` key (cases a benchmark skipped or that failed) are
    left out. When a benchmark has several rows per method and length (e.g.
    forward and backward), pick one with ``where``.

    Introduced in chapter 15 (the cost of attention).

    Args:
        source: The records, the parsed JSON, or a ``str``/``os.PathLike`` path.
        where: Keep only rows whose values equal these, e.g. ``{"mode": "forward"}``.

    Returns:
        Records sorted by method then length, with ``n`` an ``int`` and ``seconds`` a ``float``.

    Raises:
        TypeError: ``source`` is of another type.
        ValueError: The layout is not one of the above, or a method has two rows at one length.

    Example:
        >>> rows = {"results": [{"L": 256, "median_ms": {"naive": 2.0, "tiled": 1.5}}]}
        >>> measurements_from_benchmark(rows)
        [{'method': 'naive', 'n': 256, 'seconds': 0.002}, {'method': 'tiled', 'n': 256, 'seconds': 0.0015}]
    """
    keep = where
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"benchmark: expected a JSON file, got missing path {str(path)!r}")
        source = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(source, Mapping):
        if "results" not in source:
            raise ValueError(f"benchmark: expected a 'results' list, got keys {list(source)}")
        rows = source["results"]
    elif isinstance(source, Sequence) and not isinstance(source, (str, bytes)):
        rows = source
    else:
        raise TypeError(
            f"benchmark: expected a mapping, a list or a path, got {type(source).__name__}"
        )
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        raise ValueError(f"benchmark: expected 'results' to be a list, got {type(rows).__name__}")
    records = []
    for index, row in enumerate(rows):
        where = f"benchmark results[{index}]"
        if not isinstance(row, Mapping):
            raise ValueError(f"{where}: expected a mapping, got {type(row).__name__}")
        if "error" in row or any(row.get(k) != v for k, v in (keep or {}).items()):
            continue
        n = _row_length(row, where)
        if "method" in row:
            for key, unit in _SECONDS_KEYS:
                if key in row:
                    records.append({"method": row["method"], "n": n, "seconds": row[key] * unit})
                    break
            else:
                raise ValueError(f"{where}: expected a time under one of {_SECONDS_KEYS}")
            continue
        for key, unit in (("median_s", 1.0), ("median_ms", 1e-3)):
            if isinstance(row.get(key), Mapping):
                records += [{"method": m, "n": n, "seconds": t * unit} for m, t in row[key].items()]
                break
        else:
            raise ValueError(
                f"{where}: expected 'method' and a time, or a mapping under 'median_s' or "
                f"'median_ms', got keys {list(row)}"
            )
    seen = set()
    for record in records:
        key = (record["method"], record["n"])
        if key in seen:
            raise ValueError(
                f"benchmark: expected one row per method and length, got several for "
                f"method {key[0]!r} at n={key[1]}; choose rows with where={{...}}"
            )
        seen.add(key)
    return _check_records(records)


def _check_records(records: Any) -> list[dict[str, Any]]:
    if not isinstance(records, Sequence) or isinstance(records, (str, bytes)):
        raise TypeError(
            f"measurements: expected a list of {{method, n, seconds}} records, "
            f"got {type(records).__name__}"
        )
    if len(records) > MAX_RECORDS:
        raise ValueError(
            f"measurements: expected at most {MAX_RECORDS} records, got {len(records)}"
        )
    clean = []
    for index, record in enumerate(records):
        where = f"measurements[{index}]"
        if not isinstance(record, Mapping) or set(record) != {"method", "n", "seconds"}:
            raise ValueError(
                f"{where}: expected exactly the keys method, n, seconds, got {record!r}"
            )
        method = record["method"]
        if not isinstance(method, str) or not method:
            raise TypeError(f"{where}.method: expected a non-empty string, got {method!r}")
        n = check_number(record["n"], f"{where}.n", low=1, high=MAX_LENGTH, integer=True)
        seconds = check_number(record["seconds"], f"{where}.seconds", low=1e-12, high=1e6)
        clean.append({"method": method, "n": n, "seconds": seconds})
    methods = {r["method"] for r in clean}
    if len(methods) > MAX_METHODS:
        raise ValueError(
            f"measurements: expected at most {MAX_METHODS} methods, got {len(methods)}"
        )
    return sorted(clean, key=lambda r: (r["method"], r["n"]))


class CostExplorer(anywidget.AnyWidget):
    """Sequence length, heads, layers, batch and precision → attention weights and their memory.

    One head holds ``L × L`` weights: 10,000 tokens make 100 million weights
    per head. The page multiplies by batch and heads (one layer) and by
    layers (what training keeps for the backward pass), in exact integers,
    and shows the bytes at the chosen precision (fp32 4, fp16/bf16 2, int8 1
    byte). Beside it, measured forward times from a benchmark are drawn on
    a log-log chart with each method's fitted slope (2 for quadratic growth).
    Counts are shown with thousands separators, memory in binary units with 2
    decimals, times in exponent notation, slopes with 2 decimals.

    Introduced in chapter 15 (the cost of attention).

    Args:
        benchmark: Measured times: anything :func:`measurements_from_benchmark`
            reads (records, a benchmark JSON mapping, or a path), or ``None``.
        where: Which rows of the benchmark to use, e.g. ``{"mode": "forward", "causal": False}``.
        seq_len: The length ``L`` shown first; one of ``seq_len_choices``.
        num_heads: Heads per layer, 1 to 128.
        num_layers: Layers, 1 to 128.
        batch_size: Sequences per batch, 1 to 1024.
        precision: ``"fp32"``, ``"fp16"``, ``"bf16"`` or ``"int8"``.
        seq_len_choices: The lengths the slider offers, increasing, up to 2**20.
        source: A short description of where the measurements come from.

    Example:
        >>> w = CostExplorer(seq_len=10_000, num_heads=8, num_layers=6, precision="fp16")
        >>> w.counts()["weights_per_head"]
        100000000
        >>> w.counts()["bytes_total"]  # 6 layers × 8 heads × 10,000² × 2 bytes
        9600000000
    """

    _esm = load_esm("cost_explorer")
    _css = load_css("cost_explorer")

    seq_len = traitlets.Int(10_000).tag(sync=True)
    seq_len_choices = traitlets.List(traitlets.Int()).tag(sync=True)
    num_heads = traitlets.Int(8).tag(sync=True)
    num_layers = traitlets.Int(6).tag(sync=True)
    batch_size = traitlets.Int(1).tag(sync=True)
    precision = traitlets.Unicode("fp32").tag(sync=True)
    measurements = traitlets.Any().tag(sync=True)
    source = traitlets.Unicode("").tag(sync=True)

    def __init__(
        self,
        benchmark: Any = None,
        *,
        where: Mapping[str, Any] | None = None,
        seq_len: int = 10_000,
        num_heads: int = 8,
        num_layers: int = 6,
        batch_size: int = 1,
        precision: str = "fp32",
        seq_len_choices: Sequence[int] = DEFAULT_LENGTHS,
        source: str = "",
        **kwargs: Any,
    ) -> None:
        records = [] if benchmark is None else measurements_from_benchmark(benchmark, where)
        super().__init__(
            seq_len_choices=list(seq_len_choices),
            seq_len=seq_len,
            num_heads=num_heads,
            num_layers=num_layers,
            batch_size=batch_size,
            precision=precision,
            measurements=records,
            source=source,
            **kwargs,
        )

    @traitlets.validate("seq_len_choices")
    def _valid_choices(self, proposal: traitlets.Bunch) -> list[int]:
        choices = list(proposal["value"])
        if not 1 <= len(choices) <= 64:
            raise ValueError(f"seq_len_choices: expected 1 to 64 lengths, got {len(choices)}")
        for n in choices:
            check_number(n, "seq_len_choices", low=1, high=MAX_LENGTH, integer=True)
        if any(b <= a for a, b in zip(choices, choices[1:], strict=False)):
            raise ValueError(f"seq_len_choices: expected increasing lengths, got {choices}")
        return choices

    @traitlets.validate("seq_len")
    def _valid_seq_len(self, proposal: traitlets.Bunch) -> int:
        n = check_number(proposal["value"], "seq_len", low=1, high=MAX_LENGTH, integer=True)
        if self.seq_len_choices and n not in self.seq_len_choices:
            raise ValueError(
                f"seq_len: expected one of seq_len_choices={self.seq_len_choices}, got {n}"
            )
        return n

    @traitlets.validate("num_heads")
    def _valid_num_heads(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "num_heads", low=1, high=128, integer=True)

    @traitlets.validate("num_layers")
    def _valid_num_layers(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "num_layers", low=1, high=128, integer=True)

    @traitlets.validate("batch_size")
    def _valid_batch_size(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "batch_size", low=1, high=1024, integer=True)

    @traitlets.validate("precision")
    def _valid_precision(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in BYTES_PER_ELEMENT:
            raise ValueError(
                f"precision: expected one of {tuple(BYTES_PER_ELEMENT)}, got {proposal['value']!r}"
            )
        return proposal["value"]

    @traitlets.validate("measurements")
    def _valid_measurements(self, proposal: traitlets.Bunch) -> list[dict[str, Any]]:
        return _check_records(proposal["value"])

    def counts(self) -> dict[str, int]:
        """Exact weight counts and bytes the page shows for the current controls.

        Returns:
            ``weights_per_head`` (``L²``), ``weights_per_layer`` (``batch × heads × L²``),
            ``weights_total`` (``× layers``) and the matching ``bytes_per_head``,
            ``bytes_per_layer``, ``bytes_total``.
        """
        per_head = self.seq_len**2
        per_layer = self.batch_size * self.num_heads * per_head
        total = self.num_layers * per_layer
        size = BYTES_PER_ELEMENT[self.precision]
        return {
            "weights_per_head": per_head,
            "weights_per_layer": per_layer,
            "weights_total": total,
            "bytes_per_head": per_head * size,
            "bytes_per_layer": per_layer * size,
            "bytes_total": total * size,
        }

    def slopes(self) -> dict[str, float]:
        """Each method's least-squares slope of ``log10(seconds)`` against ``log10(n)``.

        Returns:
            ``{method: slope}``; ``nan`` for a method measured at one length only.
        """
        out = {}
        for method in dict.fromkeys(r["method"] for r in self.measurements):
            rows = [r for r in self.measurements if r["method"] == method]
            x = np.log10([r["n"] for r in rows])
            y = np.log10([r["seconds"] for r in rows])
            sxx = float(((x - x.mean()) ** 2).sum())
            out[method] = float(((x - x.mean()) * (y - y.mean())).sum() / sxx) if sxx else math.nan
        return out
