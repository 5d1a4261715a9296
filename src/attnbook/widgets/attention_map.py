"""AttentionMap: the attention weights of a model, per layer and head, as a heat map or lines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import traitlets

from ._base import as_float_array, check_number, check_tokens, load_css, load_esm

__all__ = ["AttentionMap"]

MAX_TOKENS = 512
MAX_ENTRIES = 1 << 22  # 4M weights = 8 MiB as uint16: beyond that a page gets heavy
LEVELS = 65535  # weights travel as uint16: w ≈ round(w * 65535) / 65535, error <= 7.7e-6
VIEWS = ("heatmap", "lines")


def _weights_to_json(weights: np.ndarray | None, widget: Any) -> dict[str, Any] | None:
    """Weights travel as little-endian uint16 in one binary buffer (a quarter of float64 JSON)."""
    if weights is None:
        return None
    quantized = np.round(weights * LEVELS).astype("<u2")  # (layers, heads, L, S)
    return {"shape": list(weights.shape), "levels": LEVELS, "data": memoryview(quantized.tobytes())}


def _weights_from_json(value: dict[str, Any] | None, widget: Any) -> np.ndarray | None:
    if value is None:
        return None
    data = np.frombuffer(bytes(value["data"]), dtype="<u2").astype(np.float64)
    return data.reshape(value["shape"]) / value["levels"]


class AttentionMap(anywidget.AnyWidget):
    """Where each token looks: pick a layer and a head, hover or select a token.

    Two views of one head's ``(L, S)`` weights: a heat map drawn on a
    ``<canvas>`` (one pixel block per weight, so 4 layers × 8 heads × 128
    tokens stay responsive) and token-to-token lines whose opacity follows
    the weight. Hovering a cell shows its weight; selecting a query token
    (click, the arrow keys on the map, or the list) lists the keys it
    attends to most. Weights travel as uint16 (``round(w * 65535)``), so a
    shown weight is within ``7.7e-6`` of the one given, before rounding to 4
    decimals; :meth:`shown_weights` gives the exact values the page shows.

    Introduced in chapter 14 (reading attention).

    Args:
        weights: Attention weights in ``[0, 1]``: ``(layers, heads, L, S)``, or
            ``(heads, L, S)`` / ``(L, S)`` for one layer / one head. Rows are
            query tokens, columns key tokens.
        tokens: One label per query row (``L``).
        key_tokens: One label per key column (``S``); ``None`` means ``tokens``
            (self-attention). Give them for cross-attention.
        layer: The layer shown first.
        head: The head shown first.
        query_index: The selected query token, or ``-1`` for none.
        view: ``"heatmap"`` or ``"lines"``.
        top_k: How many of the selected token's strongest keys to list.

    Raises:
        ValueError: Wrong number of dimensions, weights outside ``[0, 1]`` or
            non-finite, tokens that do not match ``L``/``S``, more than 512
            tokens or 4M weights, an index out of range, an unknown view.
        TypeError: Non-numeric weights, tokens that are not strings.

    Example:
        >>> import torch
        >>> w = torch.softmax(torch.randn(2, 4, 5, 5), dim=-1)  # (layers, heads, L, S)
        >>> m = AttentionMap(w, tokens=["the", "cat", "sat", "on", "it"], layer=1, head=3)
        >>> m.weights.shape
        (2, 4, 5, 5)
        >>> bool(abs(m.shown_weights() - w.numpy().astype("float64")).max() < 1e-5)
        True
    """

    _esm = load_esm("attention_map")
    _css = load_css("attention_map")

    weights = traitlets.Any().tag(sync=True, to_json=_weights_to_json, from_json=_weights_from_json)
    tokens = traitlets.Any().tag(sync=True)
    key_tokens = traitlets.Any().tag(sync=True)
    layer = traitlets.Int(0).tag(sync=True)
    head = traitlets.Int(0).tag(sync=True)
    query_index = traitlets.Int(-1).tag(sync=True)
    view = traitlets.Unicode("heatmap").tag(sync=True)
    top_k = traitlets.Int(5).tag(sync=True)

    def __init__(
        self,
        weights: Any,
        tokens: Sequence[str],
        *,
        key_tokens: Sequence[str] | None = None,
        layer: int = 0,
        head: int = 0,
        query_index: int = -1,
        view: str = "heatmap",
        top_k: int = 5,
        **kwargs: Any,
    ) -> None:
        key_tokens = list(tokens) if key_tokens is None else key_tokens
        weights = self._check_together(weights, tokens, key_tokens)
        super().__init__(
            weights=weights,
            tokens=tokens,
            key_tokens=key_tokens,
            layer=layer,
            head=head,
            query_index=query_index,
            view=view,
            top_k=top_k,
            **kwargs,
        )

    @staticmethod
    def _convert(value: Any) -> np.ndarray:
        w = as_float_array(value, "weights", ndim=(2, 3, 4), layout="(layers, heads, L, S)")
        w = w.reshape((1,) * (4 - w.ndim) + w.shape)  # (layers, heads, L, S)
        layers, heads, L, S = w.shape
        if L > MAX_TOKENS or S > MAX_TOKENS or w.size > MAX_ENTRIES:
            raise ValueError(
                f"weights: expected at most {MAX_TOKENS} tokens and {MAX_ENTRIES} weights, "
                f"got shape {w.shape}"
            )
        low, high = float(w.min()), float(w.max())
        if low < -1e-6 or high > 1 + 1e-6:
            raise ValueError(
                f"weights: expected attention weights in [0, 1] (after softmax), got values "
                f"in [{low:.4g}, {high:.4g}]; pass softmax(scores), not the scores"
            )
        return np.clip(w, 0.0, 1.0)

    def _check_together(self, weights: Any, tokens: Any, key_tokens: Any) -> np.ndarray:
        """Check weights and tokens at once, so a mismatch is blamed on the tokens."""
        w = self._convert(weights)
        check_tokens(tokens, "tokens", length=w.shape[2], what="query row (L)")
        check_tokens(key_tokens, "key_tokens", length=w.shape[3], what="key column (S)")
        return w

    def _shape(self) -> tuple[int, int, int, int] | None:
        """(layers, heads, L, S) of the weights, once they are valid."""
        w = self.weights
        return tuple(w.shape) if isinstance(w, np.ndarray) and w.ndim == 4 else None

    @traitlets.validate("weights")
    def _valid_weights(self, proposal: traitlets.Bunch) -> np.ndarray:
        w = self._convert(proposal["value"])
        L, S = w.shape[2:]
        for name, count, what in (("tokens", L, "L"), ("key_tokens", S, "S")):
            tokens = getattr(self, name)
            if isinstance(tokens, (list, tuple)) and len(tokens) != count:
                raise ValueError(
                    f"weights: expected {what}={len(tokens)} to match {name}, got shape {w.shape}"
                )
        return w

    @traitlets.validate("tokens")
    def _valid_tokens(self, proposal: traitlets.Bunch) -> list[str]:
        shape = self._shape()
        return check_tokens(
            proposal["value"], "tokens", length=shape and shape[2], what="query row (L)"
        )

    @traitlets.validate("key_tokens")
    def _valid_key_tokens(self, proposal: traitlets.Bunch) -> list[str]:
        shape = self._shape()
        return check_tokens(
            proposal["value"], "key_tokens", length=shape and shape[3], what="key column (S)"
        )

    def _index(self, proposal: traitlets.Bunch, name: str, axis: int, low: int = 0) -> int:
        shape = self._shape()
        high = shape[axis] - 1 if shape else MAX_TOKENS
        return check_number(proposal["value"], name, low=low, high=high, integer=True)

    @traitlets.validate("layer")
    def _valid_layer(self, proposal: traitlets.Bunch) -> int:
        return self._index(proposal, "layer", 0)

    @traitlets.validate("head")
    def _valid_head(self, proposal: traitlets.Bunch) -> int:
        return self._index(proposal, "head", 1)

    @traitlets.validate("query_index")
    def _valid_query_index(self, proposal: traitlets.Bunch) -> int:
        return self._index(proposal, "query_index", 2, low=-1)

    @traitlets.validate("view")
    def _valid_view(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in VIEWS:
            raise ValueError(f"view: expected one of {VIEWS}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("top_k")
    def _valid_top_k(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "top_k", low=1, high=20, integer=True)

    def set_data(
        self, weights: Any, tokens: Sequence[str], key_tokens: Sequence[str] | None = None
    ) -> None:
        """Replace weights and tokens at once (sizes may change); selections reset to 0 / none."""
        key_tokens = list(tokens) if key_tokens is None else list(key_tokens)
        weights = self._check_together(weights, tokens, key_tokens)
        with self.hold_trait_notifications():
            self.layer = self.head = 0
            self.query_index = -1
            self.tokens = list(tokens)
            self.key_tokens = key_tokens
            self.weights = weights

    def shown_weights(self) -> np.ndarray:
        """The weights as the page has them after the uint16 trip, ``(layers, heads, L, S)``."""
        return _weights_from_json(_weights_to_json(self.weights, self), self)

    def top_keys(
        self, query_index: int, layer: int | None = None, head: int | None = None
    ) -> list[tuple[int, float]]:
        """The ``top_k`` keys of one query as the page lists them: ``(key index, weight)``.

        Sorted by the shown weight, largest first; ties go to the lower key index.
        """
        layer = self.layer if layer is None else layer
        head = self.head if head is None else head
        row = self.shown_weights()[layer, head, query_index]  # (S,)
        order = sorted(range(len(row)), key=lambda j: (-row[j], j))
        return [(j, float(row[j])) for j in order[: self.top_k]]
