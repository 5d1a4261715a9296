"""MaskExplorer: causal, padding, local-window and strided masks, and what they do to softmax."""

from __future__ import annotations

from typing import Any

import anywidget
import torch
import traitlets
from torch import Tensor

from .. import masks
from ..functional import softmax
from ._base import as_float_array, check_number, load_css, load_esm

__all__ = ["MaskExplorer"]

KINDS = ("none", "causal", "padding", "local", "strided")
MAX_LEN = 24


class MaskExplorer(anywidget.AnyWidget):
    """Pick a mask and its sizes; see the boolean mask and the attention it leaves.

    The masks are those of :mod:`attnbook.masks`, in SDPA polarity (``True`` =
    may attend), re-implemented in the page's JavaScript so they react
    without a kernel:

    * ``none`` — every key;
    * ``causal`` — :func:`~attnbook.masks.causal_mask`;
    * ``padding`` — :func:`~attnbook.masks.padding_mask` with the last
      ``padding`` keys padded (length ``L - padding``);
    * ``local`` — :func:`~attnbook.masks.local_window_mask` with ``window`` and ``causal``;
    * ``strided`` — :func:`~attnbook.masks.strided_mask` with ``stride`` and ``causal``.

    The weights are ``softmax(scores + mask)`` over fixed, seeded scores
    (standard normal, rounded to 4 decimals) — :meth:`mask` and
    :meth:`weights` compute both in Python. Weights are shown with 4 decimals.

    Introduced in chapter 07 (masking).

    Args:
        kind: One of ``"none"``, ``"causal"``, ``"padding"``, ``"local"``, ``"strided"``.
        size: The sequence length ``L`` shown, ``1 <= size <= max_len``.
        window: Neighbours on each side for ``local``.
        stride: The stride for ``strided``.
        padding: Padded keys at the end for ``padding``, ``<= size - 1``; ``None``
            means ``min(2, size - 1)``.
        causal: The ``causal`` flag of ``local`` and ``strided``.
        query_row: The query row whose weights are listed; ``None`` means the last.
        max_len: Largest ``L`` on offer (2 to 24); sets the size of the scores.
        seed: Seed of the scores.
        scores: Your own ``(max_len, max_len)`` scores instead of seeded ones.

    Example:
        >>> w = MaskExplorer("local", size=5, window=1)
        >>> w.mask().int()
        tensor([[1, 1, 0, 0, 0],
                [1, 1, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 1, 1, 1],
                [0, 0, 0, 1, 1]], dtype=torch.int32)
        >>> bool(torch.allclose(w.weights().sum(-1), torch.ones(5, dtype=torch.float64)))
        True
    """

    _esm = load_esm("mask_explorer")
    _css = load_css("mask_explorer")

    scores = traitlets.Any().tag(sync=True)
    kind = traitlets.Unicode("causal").tag(sync=True)
    size = traitlets.Int(8).tag(sync=True)
    window = traitlets.Int(1).tag(sync=True)
    stride = traitlets.Int(3).tag(sync=True)
    padding = traitlets.Int(2).tag(sync=True)
    causal = traitlets.Bool(False).tag(sync=True)
    query_row = traitlets.Int(0).tag(sync=True)

    def __init__(
        self,
        kind: str = "causal",
        *,
        size: int = 8,
        window: int = 1,
        stride: int = 3,
        padding: int | None = None,
        causal: bool = False,
        query_row: int | None = None,
        max_len: int = 12,
        seed: int = 0,
        scores: Any = None,
        **kwargs: Any,
    ) -> None:
        if scores is None:
            check_number(max_len, "max_len", low=2, high=MAX_LEN, integer=True)
        else:
            max_len = len(as_float_array(scores, "scores", ndim=2, layout="(max_len, max_len)"))
        # The controls depend on each other: check them in order, naming the one at fault.
        check_number(size, "size", low=1, high=max_len, integer=True)
        padding = min(2, size - 1) if padding is None else padding
        query_row = size - 1 if query_row is None else query_row
        check_number(padding, "padding", low=0, high=size - 1, integer=True)
        check_number(query_row, "query_row", low=0, high=size - 1, integer=True)
        if scores is None:
            generator = torch.Generator().manual_seed(seed)
            scores = torch.randn(max_len, max_len, generator=generator, dtype=torch.float64)
            scores = scores.round(decimals=4)  # (max_len, max_len): both sides use these digits
        super().__init__(
            scores=scores,
            kind=kind,
            size=size,
            window=window,
            stride=stride,
            padding=padding,
            causal=causal,
            query_row=query_row,
            **kwargs,
        )

    @property
    def max_len(self) -> int:
        """The largest ``L`` the scores allow."""
        return len(self.scores)

    def _max_len(self) -> int:
        if self.scores is None:
            return MAX_LEN
        return len(as_float_array(self.scores, "scores", ndim=2, layout="(max_len, max_len)"))

    @traitlets.validate("scores")
    def _valid_scores(self, proposal: traitlets.Bunch) -> list[list[float]]:
        scores = as_float_array(proposal["value"], "scores", ndim=2, layout="(max_len, max_len)")
        n = scores.shape[0]
        if scores.shape != (n, n) or not 2 <= n <= MAX_LEN:
            raise ValueError(
                f"scores: expected a square (max_len, max_len) array with 2 <= max_len <= "
                f"{MAX_LEN}, got shape {scores.shape}"
            )
        if self.size > n:
            raise ValueError(f"scores: expected at least size={self.size} rows, got {n}")
        return scores.tolist()

    @traitlets.validate("kind")
    def _valid_kind(self, proposal: traitlets.Bunch) -> str:
        if proposal["value"] not in KINDS:
            raise ValueError(f"kind: expected one of {KINDS}, got {proposal['value']!r}")
        return proposal["value"]

    @traitlets.validate("size")
    def _valid_size(self, proposal: traitlets.Bunch) -> int:
        size = check_number(proposal["value"], "size", low=1, high=self._max_len(), integer=True)
        if self.padding > size - 1 or self.query_row > size - 1:
            raise ValueError(
                f"size: expected more than padding={self.padding} and query_row="
                f"{self.query_row}, got {size}; lower them first"
            )
        return size

    @traitlets.validate("window")
    def _valid_window(self, proposal: traitlets.Bunch) -> int:
        return check_number(
            proposal["value"], "window", low=0, high=self._max_len() - 1, integer=True
        )

    @traitlets.validate("stride")
    def _valid_stride(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "stride", low=1, high=self._max_len(), integer=True)

    @traitlets.validate("padding")
    def _valid_padding(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "padding", low=0, high=self.size - 1, integer=True)

    @traitlets.validate("query_row")
    def _valid_query_row(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "query_row", low=0, high=self.size - 1, integer=True)

    def mask(self) -> Tensor:
        """The boolean mask the widget shows, built by :mod:`attnbook.masks`.

        Returns:
            A bool tensor of shape ``(size, size)``; ``True`` = may attend.
        """
        L = self.size
        if self.kind == "none":
            return torch.ones(L, L, dtype=torch.bool)
        if self.kind == "causal":
            return masks.causal_mask(L)
        if self.kind == "padding":
            keys = masks.padding_mask([L - self.padding], max_len=L)  # (1, 1, 1, L)
            return keys[0, 0].expand(L, L)  # (L, L): the same keys hidden from every query
        if self.kind == "local":
            return masks.local_window_mask(L, self.window, causal=self.causal)
        return masks.strided_mask(L, self.stride, causal=self.causal)

    def weights(self) -> Tensor:
        """``softmax(scores + mask)`` over the first ``size`` rows and columns.

        Returns:
            A float64 tensor of shape ``(size, size)``; a row with no allowed key is zeros.
        """
        L = self.size
        scores = torch.tensor(self.scores, dtype=torch.float64)[:L, :L]  # (L, L)
        return softmax(scores + masks.to_additive(self.mask(), torch.float64), dim=-1)
