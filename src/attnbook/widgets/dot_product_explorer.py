"""DotProductExplorer: two 2-D vectors, their dot product, cosine and projection."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets

from ._base import as_float_array, check_number, load_css, load_esm

__all__ = ["DotProductExplorer"]


class DotProductExplorer(anywidget.AnyWidget):
    """Drag two 2-D vectors and watch ``a · b``, ``cos θ`` and the projection of ``b`` on ``a``.

    Everything the reader changes is computed in the browser, so the widget
    also works in the static book. The tips snap to multiples of ``step``.
    Displayed numbers: ``a · b``, the lengths, ``cos θ`` and the projection with
    4 decimals, the angle in degrees and the coordinates with 2 (see
    ``attnbook.widgets._base`` for the exact formats); ``cos θ`` and the angle
    read ``undefined`` when a vector is zero.

    Introduced in chapter 02 (dot products and similarity).

    Args:
        a: The first vector ``(x, y)``.
        b: The second vector ``(x, y)``.
        extent: Half the width of the canvas; coordinates lie in ``[-extent, extent]``.
        step: The grid the tips and sliders snap to.

    Example:
        >>> w = DotProductExplorer(a=(1.0, 0.0), b=(1.0, 1.0))
        >>> q = w.quantities()
        >>> q["dot"], round(q["cosine"], 4), round(q["angle_degrees"], 2)
        (1.0, 0.7071, 45.0)
    """

    _esm = load_esm("dot_product_explorer")
    _css = load_css("dot_product_explorer")

    a = traitlets.Any().tag(sync=True)
    b = traitlets.Any().tag(sync=True)
    extent = traitlets.Float(2.0).tag(sync=True)
    step = traitlets.Float(0.05).tag(sync=True)

    def __init__(
        self,
        a: Sequence[float] = (1.5, 0.5),
        b: Sequence[float] = (0.5, 1.25),
        *,
        extent: float = 2.0,
        step: float = 0.05,
        **kwargs: Any,
    ) -> None:
        # Check in order (the canvas, then the vectors on it), so errors name the argument at fault.
        extent = check_number(extent, "extent", low=0.1, high=1000.0)
        a, b = self._check_vector(a, "a", extent), self._check_vector(b, "b", extent)
        super().__init__(a=a, b=b, extent=extent, step=step, **kwargs)

    def _check_vector(self, value: Any, name: str, extent: float | None = None) -> list[float]:
        vector = as_float_array(value, name, ndim=1, layout="(x, y)")
        if vector.shape != (2,):
            raise ValueError(f"{name}: expected a 2-D vector (x, y), got shape {vector.shape}")
        limit = float(self.extent if extent is None else extent)
        if (abs(vector) > limit).any():
            raise ValueError(
                f"{name}: expected coordinates in [-extent, extent] = [{-limit}, {limit}], "
                f"got {vector.tolist()}"
            )
        return [float(v) for v in vector]

    @traitlets.validate("a")
    def _valid_a(self, proposal: traitlets.Bunch) -> list[float]:
        return self._check_vector(proposal["value"], "a")

    @traitlets.validate("b")
    def _valid_b(self, proposal: traitlets.Bunch) -> list[float]:
        return self._check_vector(proposal["value"], "b")

    @traitlets.validate("extent")
    def _valid_extent(self, proposal: traitlets.Bunch) -> float:
        extent = check_number(proposal["value"], "extent", low=0.1, high=1000.0)
        for name in ("a", "b"):
            if getattr(self, name) is None:  # not set yet
                continue
            vector = as_float_array(getattr(self, name), name, ndim=1, layout="(x, y)")
            if (abs(vector) > extent).any():
                raise ValueError(
                    f"extent: expected a number >= every coordinate of {name}={vector.tolist()}, "
                    f"got {extent}"
                )
        return extent

    @traitlets.validate("step")
    def _valid_step(self, proposal: traitlets.Bunch) -> float:
        step = check_number(proposal["value"], "step", low=1e-6, high=float("inf"))
        if step > self.extent:
            raise ValueError(f"step: expected a number <= extent={self.extent}, got {step}")
        return step

    def quantities(self) -> dict[str, float]:
        """What the widget shows, computed in Python in the same order as its JavaScript.

        Returns:
            ``dot``, ``norm_a``, ``norm_b``, ``cosine``, ``angle_degrees`` and
            ``projection`` (of ``b`` on ``a``, a signed length); ``nan`` where a
            zero vector leaves them undefined.
        """
        (ax, ay), (bx, by) = self.a, self.b
        dot = ax * bx + ay * by
        norm_a = math.sqrt(ax * ax + ay * ay)
        norm_b = math.sqrt(bx * bx + by * by)
        defined = norm_a > 0 and norm_b > 0
        cosine = dot / (norm_a * norm_b) if defined else math.nan
        angle = math.acos(min(1.0, max(-1.0, cosine))) * 180 / math.pi if defined else math.nan
        return {
            "dot": dot,
            "norm_a": norm_a,
            "norm_b": norm_b,
            "cosine": cosine,
            "angle_degrees": angle,
            "projection": dot / norm_a if norm_a > 0 else math.nan,
        }
