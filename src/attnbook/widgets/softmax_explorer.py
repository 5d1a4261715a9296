"""SoftmaxExplorer: scores, temperature, probabilities, and why softmax subtracts the maximum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import torch
import traitlets
from torch import Tensor

from ..functional import softmax
from ._base import as_float_array, check_number, check_tokens, load_css, load_esm

__all__ = ["SoftmaxExplorer"]

MAX_SCORES = 12


class SoftmaxExplorer(anywidget.AnyWidget):
    """Edit scores and a temperature; see the probabilities, naive and stable.

    Each score ``s_i`` becomes ``p_i = exp(s_i / T) / sum_j exp(s_j / T)``. A panel
    computes it twice: naively, and after subtracting the maximum as
    :func:`attnbook.functional.softmax` does. Both agree until a score is large:
    at ``s = 800`` the naive ``exp`` is ``Infinity`` in float64 and the naive
    probabilities are ``NaN``, while the stable ones stay exact. The arithmetic
    runs in the browser; :meth:`probabilities` computes the same in Python.

    Displayed numbers: probabilities and ``s / T`` with 4 decimals, ``exp``
    values and sums in exponent notation with 4 digits (``1.0142e+304``), ``T``
    with 2 decimals (formats in ``attnbook.widgets._base``).

    Introduced in chapter 03 (softmax and temperature).

    Args:
        scores: 1 to 12 finite scores (logits).
        labels: One label per score; ``None`` means ``token 0``, ``token 1``, ...
        temperature: ``T`` in ``[temperature_min, temperature_max] = [0.05, 5]``.

    Example:
        >>> w = SoftmaxExplorer(scores=[2.0, 1.0, 0.1], temperature=1.0)
        >>> w.probabilities()
        tensor([0.6590, 0.2424, 0.0986], dtype=torch.float64)
        >>> SoftmaxExplorer(scores=[800.0, 0.0]).naive_probabilities()
        tensor([nan, 0.], dtype=torch.float64)
    """

    _esm = load_esm("softmax_explorer")
    _css = load_css("softmax_explorer")

    scores = traitlets.Any().tag(sync=True)
    labels = traitlets.Any().tag(sync=True)
    temperature = traitlets.Float(1.0).tag(sync=True)
    temperature_min = traitlets.Float(0.05, read_only=True).tag(sync=True)
    temperature_max = traitlets.Float(5.0, read_only=True).tag(sync=True)
    temperature_step = traitlets.Float(0.05, read_only=True).tag(sync=True)

    def __init__(
        self,
        scores: Sequence[float] | Tensor = (2.0, 1.0, 0.1),
        labels: Sequence[str] | None = None,
        *,
        temperature: float = 1.0,
        **kwargs: Any,
    ) -> None:
        count = len(as_float_array(scores, "scores", ndim=1, layout="(S,)"))
        if labels is None:
            labels = [f"token {i}" for i in range(count)]
        check_tokens(labels, "labels", length=count, what="score")  # before both are stored
        super().__init__(scores=scores, labels=labels, temperature=temperature, **kwargs)

    @traitlets.validate("scores")
    def _valid_scores(self, proposal: traitlets.Bunch) -> list[float]:
        scores = as_float_array(proposal["value"], "scores", ndim=1, layout="(S,)")
        if len(scores) > MAX_SCORES:
            raise ValueError(f"scores: expected at most {MAX_SCORES} scores, got {len(scores)}")
        labels = self.labels
        if isinstance(labels, (list, tuple)) and len(labels) != len(scores):
            raise ValueError(
                f"scores: expected {len(labels)} scores (one per label), got {len(scores)}; "
                "to change both, assign them inside `with widget.hold_trait_notifications():`"
            )
        return [float(s) for s in scores]

    @traitlets.validate("labels")
    def _valid_labels(self, proposal: traitlets.Bunch) -> list[str]:
        count = len(as_float_array(self.scores, "scores", ndim=1, layout="(S,)"))
        return check_tokens(proposal["value"], "labels", length=count, what="score")

    @traitlets.validate("temperature")
    def _valid_temperature(self, proposal: traitlets.Bunch) -> float:
        return check_number(
            proposal["value"], "temperature", low=self.temperature_min, high=self.temperature_max
        )

    def probabilities(self) -> Tensor:
        """The probabilities the widget shows, from :func:`attnbook.functional.softmax`.

        Returns:
            A float64 tensor of shape ``(S,)``.
        """
        logits = torch.tensor(self.scores, dtype=torch.float64)  # (S,)
        return softmax(logits, temperature=self.temperature)

    def naive_exponentials(self) -> Tensor:
        """``exp(s / T)`` without subtracting the maximum: ``inf`` once it overflows float64.

        Returns:
            A float64 tensor of shape ``(S,)``.
        """
        return torch.exp(torch.tensor(self.scores, dtype=torch.float64) / self.temperature)

    def naive_probabilities(self) -> Tensor:
        """The naive ``exp(s / T) / sum(exp(s / T))``: ``nan`` after an overflow.

        Returns:
            A float64 tensor of shape ``(S,)``.
        """
        exp = self.naive_exponentials()
        return exp / exp.sum()
