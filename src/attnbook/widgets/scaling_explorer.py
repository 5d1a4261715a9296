"""ScalingExplorer: raw vs scaled scores of random vectors, and what softmax makes of them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anywidget
import torch
import traitlets
from torch import Tensor

from ..functional import softmax
from ._base import check_number, load_css, load_esm

__all__ = ["ScalingExplorer"]

DEFAULT_DIMS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class ScalingExplorer(anywidget.AnyWidget):
    """Move ``d_k`` and watch raw ``q · k`` spread like ``√d_k`` while ``q · k / √d_k`` does not.

    For every ``d_k`` in ``dims`` the widget draws ``num_queries`` queries and
    ``num_keys`` keys with standard-normal entries (seeded, in Python) and
    ships their dot products, rounded to 4 decimals, as widget state. The
    browser divides them by ``√d_k``, draws both histograms, and reports for
    raw and scaled scores: the standard deviation over all scores, the mean
    over queries of the largest softmax weight, and the mean entropy (nats)
    of each query's softmax row. :meth:`statistics` computes the same numbers
    in Python; all are shown with 4 decimals.

    Introduced in chapter 04 (queries, keys, values and scaled dot-product attention).

    Args:
        dims: The key sizes the slider offers, increasing, each in ``[1, 4096]``.
        num_queries: Queries per key size, in ``[1, 256]``.
        num_keys: Keys per query (the length of each softmax row), in ``[2, 256]``.
        seed: Seed of the random vectors.
        d_k: The key size shown first; must be one of ``dims``.

    Example:
        >>> w = ScalingExplorer(dims=[4, 64, 512], d_k=512)
        >>> raw, scaled = w.statistics(512)["raw"], w.statistics(512)["scaled"]
        >>> raw["max_weight"] > 0.9 > scaled["max_weight"]  # raw scores: almost one-hot
        True
    """

    _esm = load_esm("scaling_explorer")
    _css = load_css("scaling_explorer")

    dims = traitlets.List(traitlets.Int()).tag(sync=True)
    num_queries = traitlets.Int(32).tag(sync=True)
    num_keys = traitlets.Int(16).tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    dim_index = traitlets.Int(0).tag(sync=True)
    # One flat, query-major list per key size; made by _generate, so not checked per element.
    scores = traitlets.List(read_only=True).tag(sync=True)

    def __init__(
        self,
        dims: Sequence[int] = DEFAULT_DIMS,
        *,
        num_queries: int = 32,
        num_keys: int = 16,
        seed: int = 0,
        d_k: int = 64,
        **kwargs: Any,
    ) -> None:
        self._constructed = False  # generate once, after every argument is set
        dims = list(dims)
        if d_k not in dims:
            raise ValueError(f"d_k: expected one of dims={dims}, got {d_k!r}")
        super().__init__(
            dims=dims,
            num_queries=num_queries,
            num_keys=num_keys,
            seed=seed,
            dim_index=dims.index(d_k),
            **kwargs,
        )
        self._constructed = True
        self._generate()

    @traitlets.validate("dims")
    def _valid_dims(self, proposal: traitlets.Bunch) -> list[int]:
        dims = proposal["value"]
        if not 1 <= len(dims) <= 16:
            raise ValueError(f"dims: expected 1 to 16 key sizes, got {len(dims)}")
        for d in dims:
            check_number(d, "dims", low=1, high=4096, integer=True)
        if any(b <= a for a, b in zip(dims, dims[1:], strict=False)):
            raise ValueError(f"dims: expected strictly increasing key sizes, got {dims}")
        return list(dims)

    @traitlets.validate("num_queries")
    def _valid_num_queries(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "num_queries", low=1, high=256, integer=True)

    @traitlets.validate("num_keys")
    def _valid_num_keys(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "num_keys", low=2, high=256, integer=True)

    @traitlets.validate("dim_index")
    def _valid_dim_index(self, proposal: traitlets.Bunch) -> int:
        return check_number(
            proposal["value"], "dim_index", low=0, high=len(self.dims) - 1, integer=True
        )

    @traitlets.observe("dims", "num_queries", "num_keys", "seed")
    def _regenerate(self, change: traitlets.Bunch) -> None:
        if not self._constructed:
            return
        if self.dim_index >= len(self.dims):
            self.dim_index = len(self.dims) - 1
        self._generate()

    def _generate(self) -> None:
        generator = torch.Generator().manual_seed(self.seed)
        scores = []
        for d in self.dims:
            q = torch.randn(self.num_queries, d, generator=generator, dtype=torch.float64)
            k = torch.randn(self.num_keys, d, generator=generator, dtype=torch.float64)
            # Rounded to 4 decimals: compact state, and exactly the numbers both sides use.
            raw = (q @ k.T).round(decimals=4)  # (num_queries, d) @ (d, num_keys) -> (Q, K)
            scores.append(raw.flatten().tolist())  # query-major
        self.set_trait("scores", scores)

    @property
    def d_k(self) -> int:
        """The key size the widget shows now."""
        return self.dims[self.dim_index]

    def raw_scores(self, d_k: int | None = None) -> Tensor:
        """The shipped ``q · k`` for ``d_k`` (default: the current one).

        Returns:
            A float64 tensor of shape ``(num_queries, num_keys)``.
        """
        d_k = self.d_k if d_k is None else d_k
        if d_k not in self.dims:
            raise ValueError(f"d_k: expected one of dims={self.dims}, got {d_k!r}")
        flat = torch.tensor(self.scores[self.dims.index(d_k)], dtype=torch.float64)
        return flat.reshape(self.num_queries, self.num_keys)  # (Q, K), query-major

    def statistics(self, d_k: int | None = None) -> dict[str, dict[str, float]]:
        """What the widget shows for ``d_k``: ``{"raw": {...}, "scaled": {...}}``.

        Each holds ``std`` (population standard deviation of all scores),
        ``max_weight`` (mean over queries of the largest softmax weight) and
        ``entropy`` (mean over queries of the softmax entropy, in nats).
        """
        raw = self.raw_scores(d_k)  # (Q, K)
        d_k = self.d_k if d_k is None else d_k
        out = {}
        for name, scores in (("raw", raw), ("scaled", raw * (1 / math.sqrt(d_k)))):
            weights = softmax(scores, dim=-1)  # (Q, K)
            plogp = torch.where(weights > 0, weights * weights.log(), torch.zeros_like(weights))
            out[name] = {
                "std": float(scores.std(correction=0)),
                "max_weight": float(weights.amax(dim=-1).mean()),
                "entropy": float(-plogp.sum(dim=-1).mean()),
            }
        return out
