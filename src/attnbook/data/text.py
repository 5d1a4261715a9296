"""Character-level text that ships with Python: the pydoc topic pages.

``pydoc_data.topics`` holds the text of Python's help pages (about 465,000
characters on Python 3.11): English prose mixed with code, a good small
corpus for a character language model that needs no download. The text
differs a little between Python versions, so numbers measured on it are
quoted with the Python version.

Introduced in chapter 11 (decoder-only).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

__all__ = ["lm_windows", "pydoc_splits", "pydoc_text", "random_windows"]


@lru_cache(maxsize=1)
def pydoc_text() -> str:
    """All pydoc topic pages, in sorted topic order, separated by blank lines.

    Returns:
        The text (the same on every machine with the same Python version).

    Example:
        >>> text = pydoc_text()
        >>> len(text) > 100_000
        True

    Introduced in chapter 11 (decoder-only).
    """
    from pydoc_data.topics import topics

    return "\n\n".join(topics[name].strip("\n") for name in sorted(topics))


def pydoc_splits(val_fraction: float = 0.1) -> tuple[str, str]:
    """The pydoc text cut once into training text and a fixed validation tail.

    Args:
        val_fraction: the share of characters, taken from the end, for validation.

    Returns:
        ``(train_text, val_text)``; together they are :func:`pydoc_text`.

    Example:
        >>> train, val = pydoc_splits()
        >>> train + val == pydoc_text(), round(len(val) / (len(train) + len(val)), 2)
        (True, 0.1)

    Introduced in chapter 11 (decoder-only).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a number in (0, 1), got {val_fraction!r}")
    text = pydoc_text()
    cut = len(text) - round(len(text) * val_fraction)
    return text[:cut], text[cut:]


def _check_stream(ids: Tensor, block_size: int) -> None:
    if ids.dim() != 1:
        raise ValueError(f"ids: expected a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if block_size < 1 or ids.numel() < block_size + 1:
        raise ValueError(
            f"block_size: expected 1 <= block_size < len(ids) = {ids.numel()}, got {block_size}"
        )


def random_windows(
    ids: Tensor, block_size: int, batch_size: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """Random windows of a token stream, and the same windows shifted by one (the targets).

    Args:
        ids: the token stream.
        block_size: the window length (the model's context).
        batch_size: how many windows.
        generator: the random generator.

    Returns:
        ``(x, y)`` with ``y[:, t] == ids[start + t + 1]`` when ``x[:, t] == ids[start + t]``.

    Shape:
        ``ids``: (T,); ``x``, ``y``: (N, block_size).

    Example:
        >>> x, y = random_windows(torch.arange(100), 8, 2, torch.Generator().manual_seed(0))
        >>> bool((y == x + 1).all()), tuple(x.shape)
        (True, (2, 8))

    Introduced in chapter 11 (decoder-only).
    """
    _check_stream(ids, block_size)
    starts = torch.randint(ids.numel() - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)  # (B,)
    index = (starts[:, None] + offsets).to(ids.device)  # (N, B)
    return ids[index], ids[index + 1]


def lm_windows(ids: Tensor, block_size: int) -> tuple[Tensor, Tensor]:
    """Cut a token stream into consecutive, non-overlapping windows (for evaluation).

    Every token but the first is predicted exactly once (a tail shorter than
    ``block_size`` is dropped).

    Args:
        ids: the token stream.
        block_size: the window length.

    Returns:
        ``(x, y)``, the windows and their one-step-shifted targets.

    Shape:
        ``ids``: (T,); ``x``, ``y``: (T // block_size, block_size), roughly.

    Example:
        >>> x, y = lm_windows(torch.arange(10), 3)
        >>> x.tolist(), y.tolist()
        ([[0, 1, 2], [3, 4, 5], [6, 7, 8]], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])

    Introduced in chapter 11 (decoder-only).
    """
    _check_stream(ids, block_size)
    n = (ids.numel() - 1) // block_size
    x = ids[: n * block_size].reshape(n, block_size)  # (n, B)
    y = ids[1 : n * block_size + 1].reshape(n, block_size)  # (n, B)
    return x, y
