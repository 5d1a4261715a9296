"""Small matplotlib figures the chapters share: weight bars, heatmaps, head grids.

Every function draws on an ``ax`` you pass (or on a new figure when ``ax`` is
``None``) and returns that ``Axes``, so a chapter can compose panels and add its
own labels. Inputs may be lists, NumPy arrays or torch tensors on any device
(with or without gradients). Nothing here calls ``plt.show()``: the chapter does.

Figures get a white background (:func:`use_book_style`), so they read the same
on the book's light and dark themes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes

__all__ = ["plot_head_grid", "plot_heatmap", "plot_weights_bar", "use_book_style"]

#: The bar colour: a mid blue that keeps its contrast on white.
BAR_COLOR = "#3b75af"

_BOOK_STYLE = {
    # An opaque white figure stays legible when the page behind it is dark.
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.dpi": 100,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
}


def use_book_style() -> None:
    """Set the book's matplotlib defaults: white, opaque figures without top/right spines.

    Call once near the top of a chapter; later figures inherit the settings.

    Introduced in chapter 01 (why attention).

    Example:
        >>> use_book_style()
        >>> plt.rcParams["figure.facecolor"]
        'white'
    """
    plt.rcParams.update(_BOOK_STYLE)


def _to_numpy(name: str, values: Any, ndim: int) -> np.ndarray:
    """Turn a list, array or tensor into a float NumPy array with ``ndim`` dimensions."""
    if isinstance(values, torch.Tensor):
        array = values.detach().to("cpu", torch.float64).numpy()
    else:
        try:
            array = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name}: expected numbers (a list, NumPy array or torch tensor), "
                f"got {type(values).__name__}"
            ) from None
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {array.shape}")
    return array


def _check_labels(name: str, labels: Sequence[str] | None, size: int, what: str) -> list[str]:
    if labels is None:
        return [str(i) for i in range(size)]
    if isinstance(labels, str):
        raise TypeError(f"{name}: expected a sequence of labels, got a single string {labels!r}")
    labels = [str(label) for label in labels]
    if len(labels) != size:
        raise ValueError(f"{name}: expected {size} labels (one per {what}), got {len(labels)}")
    return labels


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def plot_weights_bar(
    tokens: Sequence[str],
    weights: Any,
    ax: Axes | None = None,
    title: str | None = None,
    *,
    ylabel: str = "attention weight",
    percent: bool = True,
    highlight: int | None = None,
) -> Axes:
    """A bar per token, its height the weight that token receives, the value on top.

    Introduced in chapter 01 (why attention).

    Args:
        tokens: One label per bar.
        weights: One weight per token (usually a row of attention weights).
        ax: Where to draw; ``None`` makes a new figure.
        title: The title of the axes.
        ylabel: The y-axis label.
        percent: Print the values as percentages (``35%``) instead of decimals (``0.35``).
        highlight: Index of a bar to draw darker (e.g. the query's own token).

    Returns:
        The axes drawn on.

    Shape:
        - weights: ``(S,)``, with ``S = len(tokens)``.

    Raises:
        TypeError: ``tokens`` is a single string or ``weights`` is not numeric.
        ValueError: ``weights`` is not 1-D, or its length differs from ``len(tokens)``.

    Example:
        >>> ax = plot_weights_bar(["the", "cat"], torch.tensor([0.25, 0.75]), title="demo")
        >>> [round(float(bar.get_height()), 2) for bar in ax.patches]
        [0.25, 0.75]
        >>> [text.get_text() for text in ax.texts]
        ['25%', '75%']
        >>> plt.close(ax.figure)
    """
    values = _to_numpy("weights", weights, ndim=1)
    labels = _check_labels("tokens", tokens, len(values), "weight")
    if highlight is not None and not 0 <= highlight < len(values):
        raise ValueError(f"highlight: expected an index in [0, {len(values)}), got {highlight}")
    ax = _new_axes(ax, figsize=(max(4.0, 0.8 * len(values) + 1.5), 3.2))
    colors = [BAR_COLOR] * len(values)
    if highlight is not None:
        colors[highlight] = "#1b3a5c"
    positions = np.arange(len(values))
    bars = ax.bar(positions, values, color=colors)
    ax.bar_label(bars, labels=[f"{v:.0%}" if percent else f"{v:.2f}" for v in values], padding=2)
    ax.set_xticks(positions, labels)
    ax.set_xlabel("token")
    ax.set_ylabel(ylabel)
    # Head-room above (and below, for negative values) for the printed values.
    top, bottom = float(values.max(initial=0.0)), float(values.min(initial=0.0))
    span = (top - bottom) or 1.0
    ax.set_ylim(bottom - 0.12 * span if bottom < 0 else 0.0, top + 0.12 * span)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_heatmap(
    matrix: Any,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    *,
    xlabel: str = "key",
    ylabel: str = "query",
    annotate: bool | None = None,
    fmt: str = "{:.2f}",
    cmap: str = "Blues",
    vmin: float | None = None,
    vmax: float | None = None,
    colorbar: bool = True,
) -> Axes:
    """A heatmap of a matrix (e.g. attention weights), rows = queries, columns = keys.

    Introduced in chapter 02 (dot products and similarity).

    Args:
        matrix: The values to draw.
        row_labels: One label per row (``None``: the row indices).
        col_labels: One label per column (``None``: the column indices).
        ax: Where to draw; ``None`` makes a new figure.
        title: The title of the axes.
        xlabel: The x-axis (column) label.
        ylabel: The y-axis (row) label.
        annotate: Write each value in its cell; ``None`` means "when the matrix
            has at most 144 cells".
        fmt: Format of the written values.
        cmap: A matplotlib colormap name.
        vmin: The value at the bottom of the colour scale (``None``: the minimum).
        vmax: The value at the top of the colour scale (``None``: the maximum).
        colorbar: Add a colour bar beside the axes.

    Returns:
        The axes drawn on.

    Shape:
        - matrix: ``(L, S)``; ``row_labels``: ``L`` labels; ``col_labels``: ``S`` labels.

    Raises:
        TypeError: ``matrix`` is not numeric, or labels are a single string.
        ValueError: ``matrix`` is not 2-D, or the label counts do not match its shape.

    Example:
        >>> ax = plot_heatmap([[0.9, 0.1], [0.3, 0.7]], ["a", "b"], ["x", "y"], title="demo")
        >>> [text.get_text() for text in ax.texts]
        ['0.90', '0.10', '0.30', '0.70']
        >>> [label.get_text() for label in ax.get_xticklabels()]
        ['x', 'y']
        >>> plt.close(ax.figure)
    """
    values = _to_numpy("matrix", matrix, ndim=2)
    rows = _check_labels("row_labels", row_labels, values.shape[0], "row")
    cols = _check_labels("col_labels", col_labels, values.shape[1], "column")
    ax = _new_axes(ax, figsize=(max(3.5, 0.6 * len(cols) + 2.0), max(3.0, 0.5 * len(rows) + 1.5)))
    image = ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(np.arange(len(cols)), cols, rotation=45 if len(cols) > 6 else 0)
    ax.set_yticks(np.arange(len(rows)), rows)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.spines[:].set_visible(False)
    if annotate is None:
        annotate = values.size <= 144
    if annotate:
        low, high = image.get_clim()
        middle = (low + high) / 2
        for (i, j), value in np.ndenumerate(values):
            # Light text on dark cells, dark text on light ones.
            color = "white" if value > middle else "black"
            ax.text(j, i, fmt.format(value), ha="center", va="center", color=color, fontsize=9)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
    if title is not None:
        ax.set_title(title)
    return ax


def plot_head_grid(
    weights: Any,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    *,
    ncols: int = 4,
    title: str | None = None,
    vmax: float | None = 1.0,
    cmap: str = "Blues",
) -> np.ndarray:
    """One small attention heatmap per head, on a shared colour scale.

    Introduced in chapter 05 (multi-head attention).

    Args:
        weights: Attention weights of one sequence, one ``(L, S)`` map per head.
        row_labels: The query tokens (``None``: indices).
        col_labels: The key tokens (``None``: indices).
        ncols: Heads per row of the grid.
        title: A title over the whole figure.
        vmax: Top of the shared colour scale (weights are in ``[0, 1]``); ``None``:
            the largest weight.
        cmap: A matplotlib colormap name.

    Returns:
        The grid's axes, a NumPy array of shape ``(rows, ncols)``; unused cells are hidden.

    Shape:
        - weights: ``(H, L, S)``.

    Raises:
        TypeError: ``weights`` is not numeric, or labels are a single string.
        ValueError: ``weights`` is not 3-D, the label counts do not match, or ``ncols < 1``.

    Example:
        >>> axes = plot_head_grid(torch.softmax(torch.randn(3, 4, 5), -1), ncols=2)
        >>> axes.shape, [ax.get_title() for ax in axes.flat]
        ((2, 2), ['head 0', 'head 1', 'head 2', ''])
        >>> plt.close(axes[0, 0].figure)
    """
    values = _to_numpy("weights", weights, ndim=3)
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols: expected a positive int, got {ncols!r}")
    heads, length, size = values.shape
    rows = _check_labels("row_labels", row_labels, length, "query")
    cols = _check_labels("col_labels", col_labels, size, "key")
    ncols = min(ncols, heads)
    nrows = -(-heads // ncols)  # ceiling division
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(2.6 * ncols + 0.8, 2.4 * nrows + 0.6),
        squeeze=False,
        layout="constrained",
    )
    top = float(values.max()) if vmax is None else vmax
    for h, ax in enumerate(axes.flat):
        if h >= heads:
            ax.set_visible(False)
            continue
        image = ax.imshow(values[h], cmap=cmap, vmin=0.0, vmax=top, aspect="auto")
        ax.set_title(f"head {h}")
        ax.set_xticks(np.arange(size), cols, rotation=90, fontsize=8)
        ax.set_yticks(np.arange(length), rows, fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    if title is not None:
        fig.suptitle(title)
    return axes
