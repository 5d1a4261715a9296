"""Padding, masks and mini-batches: turning lists of token ids into tensors.

Introduced in chapter 07 (masking), used by every training chapter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from attnbook.masks import padding_mask as _padding_mask

__all__ = ["Batch", "minibatches", "pad_sequences", "sample_batch", "shift_right"]


@dataclass
class Batch:
    """A padded batch of token ids.

    Attributes:
        ids: token ids, padding at the end of each row. Shape (N, S).
        lengths: number of real tokens in each row. Shape (N,).
        padding_mask: ``True`` at real tokens, ``False`` at padding (SDPA
            polarity, as :func:`attnbook.masks.padding_mask`). Shape (N, S).
    """

    ids: Tensor
    lengths: Tensor
    padding_mask: Tensor

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        return Batch(self.ids.to(device), self.lengths.to(device), self.padding_mask.to(device))


def pad_sequences(
    sequences: Sequence[Sequence[int] | Tensor],
    padding_value: int = 0,
    max_len: int | None = None,
) -> Batch:
    """Stack sequences of different lengths into one right-padded batch.

    Args:
        sequences: lists (or 1-D tensors) of token ids.
        padding_value: the id written after each sequence (``<pad>`` = 0).
        max_len: the padded length; default the longest sequence. A longer
            sequence is refused rather than cut.

    Returns:
        A :class:`Batch`.

    Shape:
        ``ids``, ``padding_mask``: (N, S) with S = ``max_len``; ``lengths``: (N,).

    Example:
        >>> batch = pad_sequences([[5, 6, 7], [8]])
        >>> batch.ids
        tensor([[5, 6, 7],
                [8, 0, 0]])
        >>> batch.padding_mask
        tensor([[ True,  True,  True],
                [ True, False, False]])

    Introduced in chapter 07 (masking).
    """
    if len(sequences) == 0:
        raise ValueError("sequences: expected at least one sequence, got none")
    rows = [torch.as_tensor(s, dtype=torch.long).reshape(-1) for s in sequences]
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    longest = int(lengths.max())
    if max_len is None:
        max_len = longest
    if longest > max_len:
        raise ValueError(
            f"sequences: the longest sequence has {longest} tokens, more than max_len={max_len}"
        )
    ids = torch.full((len(rows), max_len), padding_value, dtype=torch.long)  # (N, S)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    mask = _padding_mask(lengths, max_len)[:, 0, 0, :]  # (N, 1, 1, S) -> (N, S)
    return Batch(ids, lengths, mask)


def shift_right(tgt: Tensor, bos_id: int) -> Tensor:
    """The decoder input for teacher forcing: ``<bos>`` then the target minus its last token.

    Args:
        tgt: target ids. Shape (N, T).
        bos_id: the id of ``<bos>``.

    Returns:
        The shifted ids ``[bos, tgt[:, 0], ..., tgt[:, T-2]]``, shape (N, T).

    Example:
        >>> shift_right(torch.tensor([[7, 8, 2]]), bos_id=1)
        tensor([[1, 7, 8]])

    Introduced in chapter 12 (encoder-decoder).
    """
    if tgt.dim() != 2:
        raise ValueError(f"tgt: expected shape (N, T), got {tuple(tgt.shape)}")
    bos = torch.full_like(tgt[:, :1], bos_id)  # (N, 1)
    return torch.cat([bos, tgt[:, :-1]], dim=1)  # (N, T)


def _check_tensors(tensors: tuple[Tensor, ...]) -> int:
    if not tensors:
        raise ValueError("tensors: expected at least one tensor")
    n = tensors[0].shape[0]
    for i, t in enumerate(tensors):
        if t.shape[0] != n:
            raise ValueError(
                f"tensors: every tensor needs the same first dimension, tensor 0 has {n} "
                f"rows but tensor {i} has {t.shape[0]}"
            )
    return n


def sample_batch(
    *tensors: Tensor, batch_size: int, generator: torch.Generator | None = None
) -> tuple[Tensor, ...]:
    """Draw ``batch_size`` random rows (with replacement), the same rows from every tensor.

    Args:
        *tensors: tensors with the same first dimension (examples).
        batch_size: rows to draw.
        generator: the random generator (seeded for reproducible batches).

    Returns:
        One tensor per input, each with ``batch_size`` rows.

    Example:
        >>> x, y = sample_batch(torch.arange(10), torch.arange(10) * 2, batch_size=3,
        ...                     generator=torch.Generator().manual_seed(0))
        >>> bool((y == 2 * x).all()), x.shape
        (True, torch.Size([3]))

    Introduced in chapter 10 (encoder-only).
    """
    n = _check_tensors(tensors)
    index = torch.randint(n, (batch_size,), generator=generator)
    return tuple(t[index.to(t.device)] for t in tensors)


def minibatches(
    *tensors: Tensor,
    batch_size: int,
    shuffle: bool = False,
    generator: torch.Generator | None = None,
    drop_last: bool = False,
) -> Iterator[tuple[Tensor, ...]]:
    """Walk once through the rows of ``tensors`` in mini-batches (an epoch).

    Args:
        *tensors: tensors with the same first dimension.
        batch_size: rows per batch.
        shuffle: visit rows in a random order.
        generator: the random generator used when shuffling.
        drop_last: skip a last batch smaller than ``batch_size``.

    Yields:
        Tuples holding one slice of each tensor.

    Example:
        >>> [b[0].tolist() for b in minibatches(torch.arange(5), batch_size=2)]
        [[0, 1], [2, 3], [4]]

    Introduced in chapter 10 (encoder-only).
    """
    n = _check_tensors(tensors)
    if batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size}")
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        if drop_last and len(index) < batch_size:
            return
        yield tuple(t[index.to(t.device)] for t in tensors)
