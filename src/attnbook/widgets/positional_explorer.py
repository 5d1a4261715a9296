"""PositionalExplorer: sinusoidal encodings, their similarity, and RoPE's rotation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anywidget
import torch
import traitlets
from torch import Tensor

from ..positional import RotaryEmbedding, sinusoidal_table
from ._base import as_float_array, check_number, load_css, load_esm

__all__ = ["PositionalExplorer"]


class PositionalExplorer(anywidget.AnyWidget):
    """Move a frequency and two positions; see sinusoidal columns, similarity and RoPE.

    With ``theta_i = base ** (-2i / E)`` (the formulas of
    :func:`attnbook.positional.sinusoidal_table` and
    :class:`attnbook.positional.RotaryEmbedding`, computed again in the page):

    * the curves are columns ``2i`` (``sin(p theta_i)``) and ``2i + 1``
      (``cos(p theta_i)``) of the sinusoidal table against position ``p``;
    * the heat map is the cosine similarity of rows ``p`` and ``q`` of the
      table, which depends only on ``p - q``;
    * RoPE turns the feature pair ``(x_i, x_{i + E/2})`` — set by
      ``rope_vector`` — by the angle ``p theta_i``; the dot product of the
      pair turned to ``p`` with the pair turned to ``q`` is
      ``|v|² cos((p - q) theta_i)``: only the offset matters.

    :meth:`table`, :meth:`similarity` and :meth:`rotate` compute what the
    page shows with the library. Values are shown with 4 decimals,
    ``theta_i`` in exponent notation and the wavelength with 2 decimals.

    Introduced in chapter 08 (positional encoding).

    Args:
        embed_dim: Width ``E`` of the encodings, even, 2 to 512.
        max_len: Number of positions, 2 to 256.
        base: The wavelength scale (10000 in the paper), above 1.
        freq_index: The frequency ``i`` shown first, ``0 <= i < E/2``.
        position: Position ``p``.
        other: Position ``q``.
        rope_vector: The pair ``(x_i, x_{i+E/2})`` RoPE turns; not zero.

    Example:
        >>> w = PositionalExplorer(embed_dim=16, max_len=32, position=5, other=2)
        >>> round(w.similarity(), 6) == round(PositionalExplorer(
        ...     embed_dim=16, max_len=32, position=13, other=10).similarity(), 6)
        True
    """

    _esm = load_esm("positional_explorer")
    _css = load_css("positional_explorer")

    embed_dim = traitlets.Int(64).tag(sync=True)
    max_len = traitlets.Int(64).tag(sync=True)
    base = traitlets.Float(10000.0).tag(sync=True)
    freq_index = traitlets.Int(0).tag(sync=True)
    position = traitlets.Int(0).tag(sync=True)
    other = traitlets.Int(0).tag(sync=True)
    rope_vector = traitlets.Any().tag(sync=True)

    def __init__(
        self,
        embed_dim: int = 64,
        max_len: int = 64,
        *,
        base: float = 10000.0,
        freq_index: int = 2,
        position: int = 5,
        other: int = 2,
        rope_vector: Sequence[float] = (1.0, 0.0),
        **kwargs: Any,
    ) -> None:
        # The controls depend on each other: check them in order, naming the one at fault.
        check_number(embed_dim, "embed_dim", low=2, high=512, integer=True)
        check_number(max_len, "max_len", low=2, high=256, integer=True)
        check_number(freq_index, "freq_index", low=0, high=embed_dim // 2 - 1, integer=True)
        check_number(position, "position", low=0, high=max_len - 1, integer=True)
        check_number(other, "other", low=0, high=max_len - 1, integer=True)
        super().__init__(
            embed_dim=embed_dim,
            max_len=max_len,
            base=base,
            freq_index=freq_index,
            position=position,
            other=other,
            rope_vector=rope_vector,
            **kwargs,
        )

    @traitlets.validate("embed_dim")
    def _valid_embed_dim(self, proposal: traitlets.Bunch) -> int:
        value = check_number(proposal["value"], "embed_dim", low=2, high=512, integer=True)
        if value % 2:
            raise ValueError(f"embed_dim: expected an even number (sin/cos pairs), got {value}")
        if self.freq_index >= value // 2:
            raise ValueError(
                f"embed_dim: expected more than 2 * freq_index = {2 * self.freq_index}, got {value}"
            )
        return value

    @traitlets.validate("max_len")
    def _valid_max_len(self, proposal: traitlets.Bunch) -> int:
        value = check_number(proposal["value"], "max_len", low=2, high=256, integer=True)
        if max(self.position, self.other) >= value:
            raise ValueError(
                f"max_len: expected more than the positions {self.position} and {self.other}, "
                f"got {value}"
            )
        return value

    @traitlets.validate("base")
    def _valid_base(self, proposal: traitlets.Bunch) -> float:
        return check_number(proposal["value"], "base", low=1.0 + 1e-9, high=1e9)

    @traitlets.validate("freq_index")
    def _valid_freq_index(self, proposal: traitlets.Bunch) -> int:
        high = self.embed_dim // 2 - 1
        return check_number(proposal["value"], "freq_index", low=0, high=high, integer=True)

    @traitlets.validate("position")
    def _valid_position(self, proposal: traitlets.Bunch) -> int:
        return check_number(
            proposal["value"], "position", low=0, high=self.max_len - 1, integer=True
        )

    @traitlets.validate("other")
    def _valid_other(self, proposal: traitlets.Bunch) -> int:
        return check_number(proposal["value"], "other", low=0, high=self.max_len - 1, integer=True)

    @traitlets.validate("rope_vector")
    def _valid_rope_vector(self, proposal: traitlets.Bunch) -> list[float]:
        vector = as_float_array(proposal["value"], "rope_vector", ndim=1, layout="(x, y)")
        if vector.shape != (2,) or not vector.any():
            raise ValueError(f"rope_vector: expected a non-zero pair (x, y), got {vector.tolist()}")
        return [float(v) for v in vector]

    def theta(self, freq_index: int | None = None) -> float:
        """The angular frequency ``base ** (-2i / E)`` of pair ``i`` (default: the selected one)."""
        i = self.freq_index if freq_index is None else freq_index
        return self.base ** (-(2 * i) / self.embed_dim)

    def table(self) -> Tensor:
        """The sinusoidal table the page draws, from :func:`attnbook.positional.sinusoidal_table`.

        Returns:
            A float64 tensor of shape ``(max_len, embed_dim)``.
        """
        return sinusoidal_table(self.max_len, self.embed_dim, base=self.base, dtype=torch.float64)

    def similarity(self, position: int | None = None, other: int | None = None) -> float:
        """Cosine similarity of the encodings of ``position`` and ``other`` (default: the selected)."""
        pe = self.table()  # (max_len, E)
        p = self.position if position is None else position
        q = self.other if other is None else other
        return float(torch.nn.functional.cosine_similarity(pe[p], pe[q], dim=0, eps=0.0))

    def rotate(self, position: int | None = None) -> tuple[float, float]:
        """The RoPE pair turned to ``position``, by :class:`attnbook.positional.RotaryEmbedding`.

        The pair sits at features ``i`` and ``i + E/2`` of an otherwise zero
        vector (the rotate-half layout), so the result is exactly what the
        library does to those two features.

        Returns:
            The turned pair ``(x_i, x_{i+E/2})`` (float32 precision: the library's tables).
        """
        p = self.position if position is None else position
        i, half = self.freq_index, self.embed_dim // 2
        rope = RotaryEmbedding(self.embed_dim, base=self.base, max_len=self.max_len)
        x = torch.zeros(1, self.embed_dim)  # (L=1, E)
        x[0, i], x[0, i + half] = self.rope_vector[0], self.rope_vector[1]
        out = rope(x, positions=torch.tensor([p]))  # (1, E)
        return float(out[0, i]), float(out[0, i + half])

    def rope_dot(self) -> float:
        """``|v|² cos((p - q) theta_i)``: the dot product of the pair turned to ``p`` and to ``q``."""
        x, y = self.rope_vector
        return (x * x + y * y) * math.cos((self.position - self.other) * self.theta())
