"""Sparse patterns that skip most of the matrix: sliding windows and strides.

A mask only hides scores that were computed anyway; these functions never
compute them. Positions are cut into blocks of ``block_size``; each block of
queries meets only the two or three key blocks around it (a band), and, for the
strided pattern, the keys a whole number of strides away (one "column" of the
sequence folded into a ``stride``-wide grid). The results equal dense attention
under the matching mask of :mod:`attnbook.masks`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.efficient._checks import (
    check_bool,
    check_qkv,
    check_same_length,
    check_size,
    resolve_scale,
)
from attnbook.efficient._softmax import masked_softmax

__all__ = ["sliding_window_attention", "strided_attention"]

# Tiny blocks turn the band into thousands of tiny matmuls; 64 keeps them efficient
# while the wasted work (keys in the band's blocks but outside the window) stays small.
MIN_BLOCK = 64
# Queries per group in sliding_window_attention: a few MB of scores, cache-sized.
GROUP_QUERIES = 512


def _flatten(x: Tensor, batch: torch.Size) -> Tensor:
    """Expand to the common batch shape and flatten it: (..., n, d) -> (B, n, d)."""
    # B spelled out, not -1: reshape cannot infer it when the sequence is empty.
    return x.expand(*batch, *x.shape[-2:]).reshape(batch.numel(), *x.shape[-2:])  # (B, n, d)


def _band_width(block: int, is_causal: bool) -> int:
    """Keys per block of queries: the previous, own (and, if not causal, next) block."""
    return 2 * block if is_causal else 3 * block


def _key_windows(x: Tensor, block: int, num_blocks: int, is_causal: bool) -> Tensor:
    """For every query block, a view of the key/value rows in its band.

    Block ``n`` of queries (positions ``n*block .. n*block + block - 1``) sees key
    positions ``(n-1)*block .. (n+2)*block - 1`` (``.. (n+1)*block - 1`` when causal).
    Zero rows pad both ends; :func:`_band_allowed` masks them.
    """
    width = _band_width(block, is_causal)
    needed = (num_blocks - 1) * block + width - block  # real positions any block can see
    x = x[:, :needed]  # (B, n, d), keys that no window reaches are dropped
    total = (num_blocks - 1) * block + width  # padded length: one block of zeros in front
    padded = F.pad(x, (0, 0, block, total - block - x.shape[1]))  # (B, total, d)
    return padded.unfold(1, width, block).transpose(-1, -2)  # (B, nb, width, d), a view


def _band_allowed(
    block: int, num_blocks: int, S: int, window: int, is_causal: bool, device: torch.device
) -> Tensor:
    """Which (query, key) pairs of the band the window allows: (nb, block, width)."""
    width = _band_width(block, is_causal)
    row = torch.arange(block, device=device).unsqueeze(-1)  # (block, 1)
    col = torch.arange(width, device=device)  # (width,)
    offset = row - col + block  # i - j for query row and key column of any block
    band = (offset >= 0) & (offset <= window) if is_causal else offset.abs() <= window
    key_pos = torch.arange(num_blocks, device=device).unsqueeze(-1) * block - block + col
    real = (key_pos >= 0) & (key_pos < S)  # (nb, width): not padding
    return band & real.unsqueeze(1)  # (nb, block, width)


def _band_scores(
    q: Tensor, k: Tensor, window: int, is_causal: bool, block: int, scale: float
) -> tuple[Tensor, Tensor]:
    """Scores of every query against the keys of its band, in per-query layout.

    Returns scores ``(B, nb * block, width)`` (queries padded to whole blocks) and the
    boolean ``allowed`` pattern ``(nb * block, width)``.
    """
    B, L, E = q.shape  # (B, L, E)
    num_blocks = math.ceil(L / block)
    q_blocks = F.pad(q * scale, (0, 0, 0, num_blocks * block - L))  # (B, nb * block, E)
    q_blocks = q_blocks.view(B, num_blocks, block, E)  # (B, nb, block, E)
    k_windows = _key_windows(k, block, num_blocks, is_causal)  # (B, nb, width, E)
    scores = q_blocks @ k_windows.transpose(-1, -2)  # (B, nb, block, width)
    allowed = _band_allowed(block, num_blocks, k.shape[1], window, is_causal, q.device)
    allowed = allowed.view(num_blocks * block, -1)  # (nb * block, width)
    return scores.view(B, num_blocks * block, -1), allowed  # (B, nb * block, width)


def _band_output(weights: Tensor, v: Tensor, is_causal: bool, block: int) -> Tensor:
    """Weighted sum of each band's values: (B, nb * block, width) -> (B, nb * block, Ev)."""
    B, padded, width = weights.shape
    num_blocks = padded // block
    v_windows = _key_windows(v, block, num_blocks, is_causal)  # (B, nb, width, Ev)
    out = weights.view(B, num_blocks, block, width) @ v_windows  # (B, nb, block, Ev)
    return out.view(B, padded, -1)  # (B, nb * block, Ev)


def _default_block(window: int, L: int) -> int:
    """At least the window; at least MIN_BLOCK, unless the whole sequence is shorter."""
    return max(window, min(MIN_BLOCK, L), 1)


def _check_block_size(block_size: object, window: int, L: int) -> int:
    if block_size is None:
        return _default_block(window, L)
    check_size("block_size", block_size, 1)
    if block_size < window:
        raise ValueError(
            f"block_size: expected an int >= the window ({window}) so that a band of "
            f"neighbouring blocks covers it, got {block_size}"
        )
    return block_size


def sliding_window_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    window: int,
    *,
    is_causal: bool = False,
    scale: float | None = None,
    block_size: int | None = None,
) -> Tensor:
    """Local attention: each query attends to the keys within ``window`` positions.

    Query ``i`` sees key ``j`` when ``|i - j| <= window``, or ``0 <= i - j <= window``
    with ``is_causal`` -- exactly :func:`attnbook.masks.local_window_mask` (positions
    aligned top-left when ``L != S``), and the result equals dense attention under
    that mask. Instead of masking an ``L x S`` matrix, positions are cut into blocks
    of ``block_size >= window`` and each block of queries is scored only against the
    previous, its own and the next block of keys (previous and own when causal).
    A query with no key in reach returns zeros, as SDPA does.

    Cost: ``O(L * block_size * E)`` time and ``O(L * block_size)`` memory for the
    scores, linear in the length for a fixed window, instead of ``O(L * S)``.
    Approximates full attention by dropping every pair farther apart than the window
    (information travels further only through stacked layers).

    Introduced in chapter 15 (the cost of attention).

    Args:
        query: Queries.
        key: Keys.
        value: Values.
        window: Neighbours on each side (only the past when causal), an int ``>= 0``.
        is_causal: Keep only keys at or before the query.
        scale: Factor applied to the scores; ``None`` means ``1 / sqrt(E)``.
        block_size: Positions per block, ``>= window``; ``None`` means
            ``max(window, 64)`` (or ``L`` if shorter). It changes the speed, not the result.

    Returns:
        The attention output.

    Shape:
        - query: ``(..., L, E)``; key: ``(..., S, E)``; value: ``(..., S, Ev)``.
        - Output: ``(..., L, Ev)``.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from attnbook.masks import local_window_mask
        >>> _ = torch.manual_seed(0)
        >>> q, k, v = (torch.randn(1, 2, 300, 8) for _ in range(3))  # (N, H, L, E)
        >>> out = sliding_window_attention(q, k, v, window=5)
        >>> dense = F.scaled_dot_product_attention(q, k, v, attn_mask=local_window_mask(300, 5))
        >>> torch.allclose(out, dense, atol=1e-6)
        True
    """
    batch = check_qkv(query, key, value)
    check_size("window", window, 0)
    check_bool("is_causal", is_causal)
    block = _check_block_size(block_size, window, query.shape[-2])
    L, E = query.shape[-2:]
    S, Ev = value.shape[-2:]
    scale = resolve_scale(scale, E)
    if L == 0:
        return query.new_zeros(*batch, 0, Ev)
    q, k, v = (_flatten(x, batch) for x in (query, key, value))  # (B, L|S, E|Ev)
    B, num_blocks = q.shape[0], math.ceil(L / block)
    q_blocks = F.pad(q * scale, (0, 0, 0, num_blocks * block - L))  # (B, nb * block, E)
    q_blocks = q_blocks.view(B, num_blocks, block, E)  # (B, nb, block, E)
    k_windows = _key_windows(k, block, num_blocks, is_causal)  # (B, nb, width, E)
    v_windows = _key_windows(v, block, num_blocks, is_causal)  # (B, nb, width, Ev)
    allowed = _band_allowed(block, num_blocks, S, window, is_causal, q.device)  # (nb, block, width)
    # A group of blocks at a time: one group's scores stay in cache, so the time per
    # query stays flat as L grows (all blocks at once spill to memory for long inputs).
    group = max(1, GROUP_QUERIES // block)
    outs = []
    for g0 in range(0, num_blocks, group):
        g = slice(g0, g0 + group)
        scores = q_blocks[:, g] @ k_windows[:, g].transpose(-1, -2)  # (B, G, block, width)
        weights = masked_softmax(scores, allowed[g])  # (B, G, block, width)
        outs.append(weights @ v_windows[:, g])  # (B, G, block, Ev)
    out = torch.cat(outs, dim=1).view(B, num_blocks * block, Ev)[:, :L]  # (B, L, Ev)
    return out.reshape(*batch, L, Ev)  # (..., L, Ev)


def _strided_scores(
    q: Tensor, k: Tensor, stride: int, local: int, is_causal: bool, scale: float
) -> tuple[Tensor, Tensor]:
    """Scores against keys a whole number of strides away (and outside the band).

    Folding the sequence into a grid of ``stride`` columns puts positions
    ``c, c + stride, c + 2 * stride, ...`` in column ``c``: the strided keys of a
    query are exactly its own column. Returns scores ``(B, L, rows)`` and the boolean
    ``allowed`` pattern ``(L, rows)``, with ``rows = ceil(L / stride)``.
    """
    B, L, E = q.shape  # (B, L, E)
    rows = math.ceil(L / stride)
    pad = rows * stride - L

    def columns(x: Tensor) -> Tensor:
        x = F.pad(x, (0, 0, 0, pad))  # (B, rows * stride, d)
        return x.view(B, rows, stride, -1).transpose(1, 2)  # (B, stride, rows, d)

    scores = columns(q * scale) @ columns(k).transpose(-1, -2)  # (B, stride, rows, rows)
    scores = scores.transpose(1, 2).reshape(B, rows * stride, rows)[:, :L]  # (B, L, rows)
    i = torch.arange(L, device=q.device).unsqueeze(-1)  # (L, 1) query position
    j = torch.arange(rows, device=q.device) * stride + i % stride  # (L, rows) key position
    offset = i - j
    # Keys inside the band are scored by the band already: count each key once.
    allowed = (offset.abs() > local) & (j < L)
    if is_causal:
        allowed &= offset >= 0
    return scores, allowed


def _strided_output(weights: Tensor, v: Tensor, stride: int) -> Tensor:
    """Weighted sum over each query's column: (B, L, rows) -> (B, L, Ev)."""
    B, L, rows = weights.shape
    pad = rows * stride - L
    w = F.pad(weights, (0, 0, 0, pad)).view(B, rows, stride, rows)  # (B, rows, stride, rows)
    v_cols = F.pad(v, (0, 0, 0, pad)).view(B, rows, stride, -1)  # (B, rows, stride, Ev)
    out = w.transpose(1, 2) @ v_cols.transpose(1, 2)  # (B, stride, rows, Ev)
    return out.transpose(1, 2).reshape(B, rows * stride, -1)[:, :L]  # (B, L, Ev)


def strided_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    stride: int,
    *,
    local: int | None = None,
    is_causal: bool = True,
    scale: float | None = None,
) -> Tensor:
    """Child et al.'s (2019) strided sparse attention, without the dense matrix.

    Query ``i`` sees key ``j`` when ``|i - j| <= local`` (a band) or when
    ``(i - j) % stride == 0`` (every ``stride``-th key), and, with ``is_causal``
    (the paper's setting, the default here as in :func:`attnbook.masks.strided_mask`),
    only when ``j <= i``. ``local=None`` means ``stride - 1``. The result equals dense
    attention under ``strided_mask(L, stride, causal=is_causal, local=local)``: the band
    is scored block by block as in :func:`sliding_window_attention`, the strided keys
    by folding the sequence into ``stride`` columns, and one softmax runs over both.
    Self-attention only (``L == S``).

    Cost: ``O(L * (local + L / stride) * E)`` time and ``O(L * (local + L / stride))``
    memory; with ``stride ~ sqrt(L)`` that is ``O(L * sqrt(L))``. Approximates full
    attention by a pattern in which every key is reachable in two steps.

    Introduced in chapter 15 (the cost of attention).

    Args:
        query: Queries.
        key: Keys.
        value: Values.
        stride: Distance between the far keys a query sees, an int ``>= 1``.
        local: Band width on each side, an int ``>= 0``; ``None`` means ``stride - 1``.
        is_causal: Keep only keys at or before the query.
        scale: Factor applied to the scores; ``None`` means ``1 / sqrt(E)``.

    Returns:
        The attention output.

    Shape:
        - query: ``(..., L, E)``; key: ``(..., L, E)``; value: ``(..., L, Ev)``.
        - Output: ``(..., L, Ev)``.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> from attnbook.masks import strided_mask
        >>> _ = torch.manual_seed(0)
        >>> q, k, v = (torch.randn(1, 2, 100, 8) for _ in range(3))  # (N, H, L, E)
        >>> out = strided_attention(q, k, v, stride=10)
        >>> dense = F.scaled_dot_product_attention(q, k, v, attn_mask=strided_mask(100, 10))
        >>> torch.allclose(out, dense, atol=1e-6)
        True
    """
    batch = check_qkv(query, key, value)
    check_same_length(query, key)
    check_size("stride", stride, 1)
    local = stride - 1 if local is None else check_size("local", local, 0)
    check_bool("is_causal", is_causal)
    L, E = query.shape[-2:]
    Ev = value.shape[-1]
    scale = resolve_scale(scale, E)
    if L == 0:
        return query.new_zeros(*batch, 0, Ev)
    q, k, v = (_flatten(x, batch) for x in (query, key, value))  # (B, L, E|Ev)
    block = _default_block(local, L)
    band, band_allowed = _band_scores(q, k, local, is_causal, block, scale)  # (B, P, width)
    band, band_allowed = band[:, :L], band_allowed[:L]  # (B, L, width), padding dropped
    far, far_allowed = _strided_scores(q, k, stride, local, is_causal, scale)  # (B, L, rows)
    scores = torch.cat([band, far], dim=-1)  # (B, L, width + rows)
    weights = masked_softmax(scores, torch.cat([band_allowed, far_allowed], dim=-1))
    band_w, far_w = weights.split([band.shape[-1], far.shape[-1]], dim=-1)
    band_w = F.pad(band_w, (0, 0, 0, -L % block))  # (B, P, width), back to whole blocks
    out = _band_output(band_w, v, is_causal, block)[:, :L] + _strided_output(far_w, v, stride)
    return out.reshape(*batch, L, Ev)  # (..., L, Ev)
