"""AttentionLookup: one query against every key, the weights, and the weighted sum of values."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anywidget
import numpy as np
import torch
import traitlets
from torch import Tensor

from ..functional import scaled_dot_product_attention
from ._base import as_float_array, check_number, check_tokens, load_css, load_esm

__all__ = ["AttentionLookup"]

MAX_TOKENS = 32
MAX_FEATURES = 16


class AttentionLookup(anywidget.AnyWidget):
    """Attention as a soft database lookup, one query token at a time.

    Give tokens with their query, key and value vectors; the reader picks
    the query token, and the browser computes ``q · k`` for every key, the
    scores (times ``1/√d_k`` while "scaled" is ticked), their softmax, and
    ``Σ_j weight_j · v_j``. :meth:`weights` and :meth:`output` compute the same
    with :func:`attnbook.functional.scaled_dot_product_attention`.

    Displayed numbers: ``q · k``, scores, weights and the scale with 4
    decimals; the given vectors with 2; the output with 4.

    Introduced in chapter 04 (queries, keys, values and scaled dot-product attention).

    Args:
        tokens: One label per query row, e.g. ``["I", "love", "pizza"]``.
        query: Query vectors, one row per token, shape ``(L, E)``.
        key: Key vectors, shape ``(S, E)``.
        value: Value vectors, shape ``(S, Ev)``.
        key_tokens: One label per key row; ``None`` means ``tokens`` (self-attention).
        query_index: The query token shown first.
        scaled: Multiply the scores by ``1/√E``, as attention does.

    Raises:
        ValueError: Shapes that do not fit together, tokens that do not match
            the rows, non-finite numbers, sizes above 32 tokens or 16 features.
        TypeError: Data that is not numeric, tokens that are not strings.

    Example:
        >>> w = AttentionLookup(
        ...     tokens=["I", "love", "pizza"],
        ...     query=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        ...     key=[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]],
        ...     value=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        ...     query_index=2,
        ... )
        >>> w.weights()
        tensor([0.2483, 0.2483, 0.5035], dtype=torch.float64)
        >>> w.output()
        tensor([0.2483, 0.2483, 0.5035], dtype=torch.float64)
    """

    _esm = load_esm("attention_lookup")
    _css = load_css("attention_lookup")

    tokens = traitlets.Any().tag(sync=True)
    key_tokens = traitlets.Any().tag(sync=True)
    query = traitlets.Any().tag(sync=True)
    key = traitlets.Any().tag(sync=True)
    value = traitlets.Any().tag(sync=True)
    query_index = traitlets.Int(0).tag(sync=True)
    scaled = traitlets.Bool(True).tag(sync=True)

    def __init__(
        self,
        tokens: Sequence[str],
        query: Any,
        key: Any,
        value: Any,
        *,
        key_tokens: Sequence[str] | None = None,
        query_index: int = 0,
        scaled: bool = True,
        **kwargs: Any,
    ) -> None:
        key_tokens = list(tokens) if key_tokens is None else key_tokens
        self._check_together(tokens, key_tokens, query, key, value)
        super().__init__(
            tokens=tokens,
            key_tokens=key_tokens,
            query=query,
            key=key,
            value=value,
            query_index=query_index,
            scaled=scaled,
            **kwargs,
        )

    # Each check converts the trait it guards and compares it with the others, which
    # may still be raw during construction; converting them again is cheap and idempotent.
    def _matrix(self, name: str, value: Any = None) -> np.ndarray:
        layout = {"query": "(L, E)", "key": "(S, E)", "value": "(S, Ev)"}[name]
        array = as_float_array(
            getattr(self, name) if value is None else value, name, ndim=2, layout=layout
        )
        rows, features = array.shape
        if rows > MAX_TOKENS or features > MAX_FEATURES:
            raise ValueError(
                f"{name}: expected at most {MAX_TOKENS} rows and {MAX_FEATURES} features "
                f"{layout}, got shape {array.shape}"
            )
        return array

    def _check_together(
        self, tokens: Any, key_tokens: Any, query: Any, key: Any, value: Any
    ) -> None:
        """Check all data at once, so a mismatch is blamed on the argument that causes it."""
        q, k, v = (
            self._matrix(n, x) for n, x in (("query", query), ("key", key), ("value", value))
        )
        if k.shape[1] != q.shape[1]:
            raise ValueError(
                f"key: expected E={q.shape[1]} features like query, got shape {k.shape}"
            )
        if len(v) != len(k):
            raise ValueError(f"value: expected {len(k)} rows (S, one per key), got shape {v.shape}")
        check_tokens(tokens, "tokens", length=len(q), what="row of query")
        check_tokens(key_tokens, "key_tokens", length=len(k), what="row of key")

    def _ready(self, name: str) -> bool:
        return getattr(self, name) is not None

    @traitlets.validate("query")
    def _valid_query(self, proposal: traitlets.Bunch) -> list[list[float]]:
        query = self._matrix("query", proposal["value"])
        if self._ready("key") and self._matrix("key").shape[1] != query.shape[1]:
            raise ValueError(
                f"query: expected E={self._matrix('key').shape[1]} features like key, "
                f"got shape {query.shape}"
            )
        if isinstance(self.tokens, (list, tuple)) and len(self.tokens) != len(query):
            raise ValueError(
                f"query: expected {len(self.tokens)} rows (one per token), got shape {query.shape}"
            )
        return query.tolist()

    @traitlets.validate("key")
    def _valid_key(self, proposal: traitlets.Bunch) -> list[list[float]]:
        key = self._matrix("key", proposal["value"])
        if self._ready("query") and self._matrix("query").shape[1] != key.shape[1]:
            raise ValueError(
                f"key: expected E={self._matrix('query').shape[1]} features like query, "
                f"got shape {key.shape}"
            )
        if self._ready("value") and len(self._matrix("value")) != len(key):
            raise ValueError(
                f"key: expected {len(self._matrix('value'))} rows like value, got shape {key.shape}"
            )
        return key.tolist()

    @traitlets.validate("value")
    def _valid_value(self, proposal: traitlets.Bunch) -> list[list[float]]:
        value = self._matrix("value", proposal["value"])
        if self._ready("key") and len(self._matrix("key")) != len(value):
            raise ValueError(
                f"value: expected {len(self._matrix('key'))} rows (S, one per key), "
                f"got shape {value.shape}"
            )
        return value.tolist()

    @traitlets.validate("tokens")
    def _valid_tokens(self, proposal: traitlets.Bunch) -> list[str]:
        rows = len(self._matrix("query")) if self._ready("query") else None
        return check_tokens(proposal["value"], "tokens", length=rows, what="row of query")

    @traitlets.validate("key_tokens")
    def _valid_key_tokens(self, proposal: traitlets.Bunch) -> list[str]:
        rows = len(self._matrix("key")) if self._ready("key") else None
        return check_tokens(proposal["value"], "key_tokens", length=rows, what="row of key")

    @traitlets.validate("query_index")
    def _valid_query_index(self, proposal: traitlets.Bunch) -> int:
        rows = len(self._matrix("query")) if self._ready("query") else MAX_TOKENS
        return check_number(proposal["value"], "query_index", low=0, high=rows - 1, integer=True)

    def set_data(
        self,
        tokens: Sequence[str],
        query: Any,
        key: Any,
        value: Any,
        key_tokens: Sequence[str] | None = None,
    ) -> None:
        """Replace all data at once (sizes may change); the query index goes back to 0."""
        key_tokens = list(tokens) if key_tokens is None else list(key_tokens)
        self._check_together(tokens, key_tokens, query, key, value)
        with self.hold_trait_notifications():
            self.query_index = 0
            self.tokens = list(tokens)
            self.key_tokens = key_tokens
            self.query, self.key, self.value = query, key, value

    def _attend(self, query_index: int | None) -> tuple[Tensor, Tensor]:
        i = self.query_index if query_index is None else query_index
        check_number(i, "query_index", low=0, high=len(self.query) - 1, integer=True)
        q = torch.tensor(self.query[i : i + 1], dtype=torch.float64)  # (1, E)
        k = torch.tensor(self.key, dtype=torch.float64)  # (S, E)
        v = torch.tensor(self.value, dtype=torch.float64)  # (S, Ev)
        scale = 1 / math.sqrt(q.shape[-1]) if self.scaled else 1.0
        output, weights = scaled_dot_product_attention(q, k, v, scale=scale, need_weights=True)
        return output[0], weights[0]  # (Ev,), (S,)

    def weights(self, query_index: int | None = None) -> Tensor:
        """The attention weights of one query over the keys (default: the selected one).

        Returns:
            A float64 tensor of shape ``(S,)`` that sums to 1.
        """
        return self._attend(query_index)[1]

    def output(self, query_index: int | None = None) -> Tensor:
        """The weighted sum of the values for one query (default: the selected one).

        Returns:
            A float64 tensor of shape ``(Ev,)``.
        """
        return self._attend(query_index)[0]
