"""Exact attention in tiles: the online softmax behind FlashAttention.

Plain attention builds the ``L x S`` score matrix, so its memory grows with the
square of the sequence length. The softmax of a row does not need the whole row
at once, though: walking over the keys in tiles, it is enough to keep, for each
query, a running maximum ``m``, a running denominator ``l`` and a running
(unnormalised) output ``acc``. When a new tile raises the maximum from ``m`` to
``m'``, everything summed so far is rescaled by ``exp(m - m')``:

.. code-block:: text

    m'  = max(m, rowmax(S_tile))
    P   = exp(S_tile - m')
    l   = l * exp(m - m') + rowsum(P)
    acc = acc * exp(m - m') + P @ V_tile
    out = acc / l                                  (after the last tile)

The result is exact attention (only the order of the additions changes), yet
only one ``block_q x block_k`` tile of scores exists at a time. The backward
pass (FlashAttention-2) saves ``query, key, value``, the output and the row
``logsumexp = m + log l`` and rebuilds each tile of probabilities when it needs
it, so training memory is also linear in the sequence length.

The code works in base 2 (``exp2``, ``log2``) because that is cheaper; the maths is
the same with ``e`` replaced by 2 and the scores multiplied by ``log2(e)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx, once_differentiable

from attnbook.efficient._checks import check_bool, check_mask, check_qkv, check_size, resolve_scale

__all__ = ["tiled_attention"]

# Measured with benchmarks/efficient_attention.py on a 2-core CPU (N=1, H=8, E=64,
# fp32): a tile of scores for all heads (H x 256 x 256 floats) stays near the caches
# while the per-tile Python work stays small next to the two matmuls.
DEFAULT_BLOCK_Q = 256
DEFAULT_BLOCK_K = 256

# Scores are kept in base 2: exp(s) = exp2(s * log2(e)), and torch's exp2 is several
# times cheaper than its exp on the CPU (FlashAttention folds log2(e) in the same way).
LOG2E = math.log2(math.e)


def _mask_tile(
    scores: Tensor,
    attn_mask: Tensor | None,
    is_causal: bool,
    rows: tuple[int, int],
    cols: tuple[int, int],
    batch: torch.Size,
) -> None:
    """Mask one tile of (base-2) scores in place: query rows ``rows``, key columns ``cols``."""
    (i0, i1), (j0, j1) = rows, cols
    if attn_mask is not None:
        mask_tile = attn_mask[..., i0:i1, j0:j1]  # (..., bq, bk), broadcasts over the batch
        grid = scores.view(*batch, i1 - i0, j1 - j0)  # (*batch, bq, bk), same memory
        if mask_tile.dtype == torch.bool:
            grid.masked_fill_(~mask_tile, -math.inf)
        else:
            grid.add_(mask_tile, alpha=LOG2E)  # the mask is in natural-log units
    # Causal as SDPA aligns it (top-left): query i sees keys j <= i. Only tiles that
    # reach past the diagonal need masking; tiles wholly in the future are never built.
    if is_causal and j1 - 1 > i0:
        query_pos = torch.arange(i0, i1, device=scores.device).unsqueeze(-1)  # (bq, 1)
        key_pos = torch.arange(j0, j1, device=scores.device)  # (bk,)
        scores.masked_fill_(key_pos > query_pos, -math.inf)


def _tile_buffer(like: Tensor, batch: int, rows: int, cols: int) -> Tensor:
    """Flat scratch memory for one tile, reused by every tile of a call.

    A fresh multi-megabyte tensor per tile costs page faults; reusing one is measurably
    faster, and slicing a flat buffer keeps each (smaller) edge tile contiguous.
    """
    return like.new_empty(batch * rows * cols)


def _forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None,
    is_causal: bool,
    scale: float,
    block_q: int,
    block_k: int,
    batch: torch.Size,
) -> tuple[Tensor, Tensor]:
    """The online-softmax recurrence; returns the output and each row's base-2 logsumexp."""
    B, L, _ = query.shape  # (B, L, E), B = all batch dims flattened
    S, Ev = value.shape[-2:]  # value: (B, S, Ev)
    out = query.new_empty(B, L, Ev)
    logsumexp = query.new_empty(B, L, 1)  # log2 of each row's softmax denominator
    q = query * (scale * LOG2E)  # scale once here instead of once per tile
    key_t = key.transpose(1, 2).contiguous()  # (B, E, S): matmul-friendly tiles
    buffer = _tile_buffer(q, B, min(block_q, L), min(block_k, S))
    for i0 in range(0, L, block_q):
        i1 = min(i0 + block_q, L)
        q_tile = q[:, i0:i1]  # (B, bq, E)
        row_max = q.new_full((B, i1 - i0, 1), -math.inf)  # m
        row_sum = q.new_zeros((B, i1 - i0, 1))  # l
        acc = q.new_zeros((B, i1 - i0, Ev))  # unnormalised output
        stop = min(S, i1) if is_causal else S  # causal: keys after the last query are skipped
        for j0 in range(0, stop, block_k):
            j1 = min(j0 + block_k, stop)
            scores = buffer[: B * (i1 - i0) * (j1 - j0)].view(B, i1 - i0, j1 - j0)
            torch.bmm(q_tile, key_t[:, :, j0:j1], out=scores)  # (B, bq, bk)
            _mask_tile(scores, attn_mask, is_causal, (i0, i1), (j0, j1), batch)
            new_max = torch.maximum(row_max, scores.amax(dim=-1, keepdim=True))
            shift = new_max
            if attn_mask is not None:
                # A row that has met only masked keys so far keeps the maximum -inf; shift
                # it by 0 instead, so exp2(-inf - (-inf)) never turns into NaN.
                shift = new_max.masked_fill(new_max == -math.inf, 0.0)
            probs = scores.sub_(shift).exp2_()  # (B, bq, bk), unnormalised, in place
            correction = (row_max - shift).exp2_()  # rescales what earlier tiles added
            row_sum.mul_(correction).add_(probs.sum(dim=-1, keepdim=True))
            acc.mul_(correction).baddbmm_(probs, value[:, j0:j1])
            row_max = new_max
        # A fully masked row has l = 0 and acc = 0: it returns zeros, as torch's SDPA
        # does, and logsumexp = +inf makes its recomputed probabilities 0 in backward.
        seen = row_sum > 0
        out[:, i0:i1] = acc / torch.where(seen, row_sum, 1.0)
        logsumexp[:, i0:i1] = torch.where(seen, row_max + row_sum.log2(), math.inf)
    return out, logsumexp


def _backward(
    grad_out: Tensor,
    saved: tuple[Tensor, ...],
    attn_mask: Tensor | None,
    mask_needs_grad: bool,
    is_causal: bool,
    scale: float,
    block_q: int,
    block_k: int,
    batch: torch.Size,
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """FlashAttention-2 backward: rebuild each tile of P, never the whole matrix.

    With ``P`` the attention weights, ``dP = dO @ V^T`` and ``D = rowsum(dO * O)``,
    the gradient of the scores is ``dS = P * (dP - D)`` (the softmax Jacobian), and
    ``dQ = scale * dS @ K``, ``dK = scale * dS^T @ Q``, ``dV = P^T @ dO``.
    """
    query, key, value, out, logsumexp = saved
    B, L, _ = query.shape  # (B, L, E)
    S = key.shape[1]  # key: (B, S, E)
    delta = (grad_out * out).sum(dim=-1, keepdim=True)  # D: (B, L, 1)
    grad_q = torch.zeros_like(query)
    grad_k = torch.empty_like(key)
    grad_v = torch.empty_like(value)
    grad_mask = torch.zeros_like(attn_mask) if mask_needs_grad else None
    q = query * (scale * LOG2E)  # base-2 scores, as in the forward pass
    key_t = key.transpose(1, 2).contiguous()  # (B, E, S)
    value_t = value.transpose(1, 2).contiguous()  # (B, Ev, S)
    rows, cols = min(block_q, L), min(block_k, S)
    score_buffer, grad_buffer = _tile_buffer(q, B, rows, cols), _tile_buffer(q, B, rows, cols)
    for j0 in range(0, S, block_k):  # outer loop over keys: dK, dV of a tile finish here
        j1 = min(j0 + block_k, S)
        grad_k_tile = query.new_zeros(B, j1 - j0, query.shape[-1])  # (B, bk, E)
        grad_v_tile = query.new_zeros(B, j1 - j0, value.shape[-1])  # (B, bk, Ev)
        # Causal: queries before the first key of this tile never see it.
        first = (j0 // block_q) * block_q if is_causal else 0
        for i0 in range(first, L, block_q):
            i1 = min(i0 + block_q, L)
            size = B * (i1 - i0) * (j1 - j0)
            scores = score_buffer[:size].view(B, i1 - i0, j1 - j0)
            torch.bmm(q[:, i0:i1], key_t[:, :, j0:j1], out=scores)  # (B, bq, bk)
            _mask_tile(scores, attn_mask, is_causal, (i0, i1), (j0, j1), batch)
            probs = scores.sub_(logsumexp[:, i0:i1]).exp2_()  # P: the forward's weights
            grad_v_tile.baddbmm_(probs.transpose(1, 2), grad_out[:, i0:i1])
            grad_probs = grad_buffer[:size].view(B, i1 - i0, j1 - j0)
            torch.bmm(grad_out[:, i0:i1], value_t[:, :, j0:j1], out=grad_probs)  # dP
            grad_scores = grad_probs.sub_(delta[:, i0:i1]).mul_(probs)  # dS (B, bq, bk)
            if grad_mask is not None:
                # An added mask moves the scores one to one: its gradient is dS, summed
                # over the dimensions it was broadcast along.
                grid = grad_mask[..., i0:i1, j0:j1]  # (..., bq, bk)
                grid += grad_scores.view(*batch, i1 - i0, j1 - j0).sum_to_size(grid.shape)
            grad_q[:, i0:i1].baddbmm_(grad_scores, key[:, j0:j1], alpha=scale)
            grad_k_tile.baddbmm_(grad_scores.transpose(1, 2), query[:, i0:i1], alpha=scale)
        grad_k[:, j0:j1] = grad_k_tile
        grad_v[:, j0:j1] = grad_v_tile
    return grad_q, grad_k, grad_v, grad_mask


class _TiledAttention(torch.autograd.Function):
    """Autograd wrapper: saves inputs, output and logsumexp, never the weights."""

    @staticmethod
    def forward(
        ctx: FunctionCtx,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        attn_mask: Tensor | None,
        is_causal: bool,
        scale: float,
        block_q: int,
        block_k: int,
        batch: torch.Size,
    ) -> Tensor:
        out, logsumexp = _forward(
            query, key, value, attn_mask, is_causal, scale, block_q, block_k, batch
        )
        ctx.save_for_backward(query, key, value, out, logsumexp, attn_mask)
        ctx.options = (is_causal, scale, block_q, block_k, batch)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: FunctionCtx, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        *saved, attn_mask = ctx.saved_tensors
        mask_needs_grad = ctx.needs_input_grad[3]
        grads = _backward(
            grad_out.contiguous(), tuple(saved), attn_mask, mask_needs_grad, *ctx.options
        )
        return (*grads, None, None, None, None, None)


def tiled_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    block_q: int = DEFAULT_BLOCK_Q,
    block_k: int = DEFAULT_BLOCK_K,
) -> Tensor:
    """Exact scaled dot-product attention computed tile by tile (FlashAttention style).

    Gives the same result as ``torch.nn.functional.scaled_dot_product_attention``
    (up to floating-point rounding) without ever holding the ``L x S`` matrix of
    scores: queries are cut into tiles of ``block_q`` rows, keys into tiles of
    ``block_k`` columns, and an online softmax (running maximum, running
    denominator, running output) merges the key tiles one after another. With
    ``is_causal`` the tiles that lie wholly after the diagonal are skipped. The
    backward pass is its own ``torch.autograd.Function`` that recomputes each tile
    from the saved inputs, output and row logsumexp (FlashAttention-2).

    Cost: the same ``O(L * S * E)`` arithmetic as exact attention (about half when
    causal); extra memory ``O(B * block_q * block_k)`` for a tile of scores plus
    ``O(B * (L + S) * E)`` for the row statistics, the output and copies of the inputs
    (scaled, transposed), in the forward *and* the backward pass, where dense attention
    needs ``O(B * L * S)``. Approximates nothing: it is exact. On a CPU it runs within
    a small factor of SDPA's fused kernel (see ``benchmarks/efficient_attention.py``).

    The mask follows SDPA: a boolean ``True`` = may attend, a float mask is added to
    the scores. A query that may attend to no key returns zeros, as SDPA does on the
    CPU. Unlike SDPA, ``attn_mask`` and ``is_causal`` may be combined (both apply). A
    float mask that requires grad receives its gradient (held as a dense
    ``(..., L, S)`` tensor). There is no dropout.

    Introduced in chapter 15 (the cost of attention).

    Args:
        query: Queries.
        key: Keys.
        value: Values.
        attn_mask: Optional boolean or float mask that broadcasts to ``(..., L, S)``.
        is_causal: Query ``i`` sees keys ``j <= i`` (top-left aligned when ``L != S``).
        scale: Factor applied to the scores; ``None`` means ``1 / sqrt(E)``.
        block_q: Rows (queries) per tile, an int ``>= 1``.
        block_k: Columns (keys) per tile, an int ``>= 1``.

    Returns:
        The attention output.

    Shape:
        - query: ``(..., L, E)``; key: ``(..., S, E)``; value: ``(..., S, Ev)``
          (batch dimensions broadcast, e.g. ``(N, H)``).
        - attn_mask: broadcastable to ``(..., L, S)``.
        - Output: ``(..., L, Ev)``.

    Example:
        >>> import torch
        >>> import torch.nn.functional as F
        >>> _ = torch.manual_seed(0)
        >>> q, k, v = (torch.randn(2, 4, 100, 16) for _ in range(3))  # (N, H, L, E)
        >>> out = tiled_attention(q, k, v, is_causal=True, block_q=32, block_k=48)
        >>> out.shape
        torch.Size([2, 4, 100, 16])
        >>> torch.allclose(out, F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-6)
        True
    """
    batch = check_qkv(query, key, value)
    check_bool("is_causal", is_causal)
    check_size("block_q", block_q, 1)
    check_size("block_k", block_k, 1)
    L, E = query.shape[-2:]
    S, Ev = value.shape[-2:]
    scale = resolve_scale(scale, E)
    if attn_mask is not None:
        check_mask(attn_mask, torch.Size((*batch, L, S)), query.device)
        if attn_mask.dtype != torch.bool:
            attn_mask = attn_mask.to(query.dtype)
        # A view that can be sliced tile by tile even where the mask broadcasts (size 1).
        attn_mask = attn_mask.expand(*attn_mask.shape[:-2], L, S)  # (..., L, S)
    # Flatten every batch dimension into one, so each tile is a single batched matmul
    # over all heads at once. Broadcast batch dimensions are expanded (and copied) here,
    # outside the autograd.Function, so autograd sums their gradients back for us.
    B = batch.numel()  # not -1 in reshape: that is ambiguous for empty sequences
    q = query.expand(*batch, L, E).reshape(B, L, E)  # (B, L, E)
    k = key.expand(*batch, S, E).reshape(B, S, E)  # (B, S, E)
    v = value.expand(*batch, S, Ev).reshape(B, S, Ev)  # (B, S, Ev)
    out = _TiledAttention.apply(
        q, k, v, attn_mask, is_causal, scale, block_q, block_k, batch
    )  # (B, L, Ev)
    return out.reshape(*batch, L, Ev)  # (..., L, Ev)
