"""Two-level attention: exact nearby, block summaries far away.

Cut the sequence into blocks. A query reads the keys of its own block one by
one, and every other block only through a summary: the mean of its keys and the
mean of its values. A summary of ``c`` keys enters the softmax with ``log c``
added to its score, so it weighs as much as ``c`` copies of the mean key would --
exactly right when a block's keys are all alike, an approximation otherwise.
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

__all__ = ["hierarchical_attention"]


def hierarchical_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    block_size: int,
    *,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """Two-level attention: exact inside a query's block, block means outside it.

    Positions are cut into blocks of ``block_size`` (the last may be shorter). Query
    ``i`` in block ``I`` attends, in one softmax, to

    * every key ``j`` of block ``I`` (only ``j <= i`` with ``is_causal``), score
      ``scale * q_i . k_j``, value ``v_j``;
    * one summary per other block ``J`` (only blocks wholly before ``I`` with
      ``is_causal``): key ``mean(k_J)``, value ``mean(v_J)``, score
      ``scale * q_i . mean(k_J) + log |J|``, so a summary counts for its ``|J|`` keys.

    With a single block (``block_size >= L``) this is exact attention; it is also
    exact whenever the keys and values are constant inside each block. Otherwise it
    approximates a far block's ``sum_j exp(s_j) v_j`` by ``|J| exp(mean s) mean v``.
    Self-attention only (``L == S``).

    Cost: ``O(L * (block_size + L / block_size) * E)`` time and
    ``O(L * (block_size + L / block_size))`` memory; ``block_size ~ sqrt(L)`` gives
    ``O(L * sqrt(L))`` instead of ``O(L^2)``.

    Introduced in chapter 15 (the cost of attention).

    Args:
        query: Queries.
        key: Keys.
        value: Values.
        block_size: Positions per block, an int ``>= 1``.
        is_causal: Keep only keys (and whole blocks) at or before the query.
        scale: Factor applied to the scores; ``None`` means ``1 / sqrt(E)``.

    Returns:
        The attention output.

    Shape:
        - query: ``(..., L, E)``; key: ``(..., L, E)``; value: ``(..., L, Ev)``.
        - Output: ``(..., L, Ev)``.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> _ = torch.manual_seed(0)
        >>> q, k, v = (torch.randn(1, 2, 100, 8) for _ in range(3))  # (N, H, L, E)
        >>> hierarchical_attention(q, k, v, block_size=10).shape
        torch.Size([1, 2, 100, 8])
        >>> exact = F.scaled_dot_product_attention(q, k, v)
        >>> torch.allclose(hierarchical_attention(q, k, v, block_size=100), exact, atol=1e-6)
        True
    """
    batch = check_qkv(query, key, value)
    check_same_length(query, key)
    check_size("block_size", block_size, 1)
    check_bool("is_causal", is_causal)
    L, E = query.shape[-2:]
    Ev = value.shape[-1]
    scale = resolve_scale(scale, E)
    if L == 0:
        return query.new_zeros(*batch, 0, Ev)
    nb = math.ceil(L / block_size)
    pad = nb * block_size - L

    def blocks(x: Tensor) -> Tensor:
        x = x.expand(*batch, *x.shape[-2:]).reshape(batch.numel(), *x.shape[-2:])  # (B, L, d)
        return F.pad(x, (0, 0, 0, pad)).view(x.shape[0], nb, block_size, -1)  # (B, nb, b, d)

    q, k, v = blocks(query * scale), blocks(key), blocks(value)
    device = query.device
    pos = torch.arange(nb * block_size, device=device).view(nb, block_size)  # (nb, b)
    counts = (pos < L).sum(dim=-1).to(query.dtype)  # (nb,), real positions per block
    k_mean = k.sum(dim=2) / counts.unsqueeze(-1)  # (B, nb, E), zero padding not counted
    v_mean = v.sum(dim=2) / counts.unsqueeze(-1)  # (B, nb, Ev)

    own = q @ k.transpose(-1, -2)  # (B, nb, b, b)
    own_allowed = (pos < L).unsqueeze(1).expand(nb, block_size, block_size)  # (nb, b, b)
    if is_causal:
        own_allowed = own_allowed.tril()
    far = q @ k_mean.unsqueeze(1).transpose(-1, -2) + counts.log()  # (B, nb, b, nb)
    block_id = torch.arange(nb, device=device)
    far_allowed = (
        block_id.unsqueeze(-1) > block_id if is_causal else block_id.unsqueeze(-1) != block_id
    )
    far_allowed = far_allowed.unsqueeze(1).expand(nb, block_size, nb)  # (nb, b, nb)

    scores = torch.cat([own, far], dim=-1)  # (B, nb, b, b + nb)
    weights = masked_softmax(scores, torch.cat([own_allowed, far_allowed], dim=-1))
    own_w, far_w = weights.split([block_size, nb], dim=-1)  # (B, nb, b, b), (B, nb, b, nb)
    out = own_w @ v + far_w @ v_mean.unsqueeze(1)  # (B, nb, b, Ev)
    out = out.reshape(batch.numel(), nb * block_size, Ev)[:, :L]  # (B, L, Ev)
    return out.reshape(*batch, L, Ev)  # (..., L, Ev)
