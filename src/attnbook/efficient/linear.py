"""Linear attention (Katharopoulos et al., 2020): a kernel instead of the softmax.

Softmax attention weighs key ``j`` for query ``i`` by ``exp(q_i . k_j / sqrt(E))``.
Replacing that by a product of positive features, ``phi(q_i) . phi(k_j)``, lets
the matrix products be regrouped:

.. code-block:: text

    out_i = sum_j (phi(q_i) . phi(k_j)) v_j / sum_j phi(q_i) . phi(k_j)
          = phi(q_i) @ (sum_j phi(k_j) v_j^T) / phi(q_i) @ (sum_j phi(k_j))

The two sums do not depend on ``i``: they are computed once, in ``O(S * E * Ev)``,
and the ``L x S`` matrix never appears. Causal attention needs the sums over
``j <= i`` only: running (cumulative) sums, here taken chunk by chunk.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.efficient._checks import check_bool, check_qkv, check_size

__all__ = ["elu_feature_map", "linear_attention"]


def elu_feature_map(x: Tensor) -> Tensor:
    """The positive feature map of Katharopoulos et al. (2020): ``elu(x) + 1``.

    Positive everywhere, so the weights ``phi(q) . phi(k)`` are positive and the
    normaliser never vanishes; close to ``1 + x`` for ``x > 0``.

    Introduced in chapter 15 (the cost of attention).

    Args:
        x: Any tensor.

    Returns:
        ``elu(x) + 1``, elementwise.

    Shape:
        Output: the shape of ``x``.

    Example:
        >>> import torch
        >>> elu_feature_map(torch.tensor([-1.0, 0.0, 2.0]))  # exp(x) below 0, 1 + x above
        tensor([0.3679, 1.0000, 3.0000])
    """
    return F.elu(x) + 1


def _exclusive_cumsum(x: Tensor, dim: int) -> Tensor:
    """Sum of the entries strictly before each position along ``dim``."""
    total = x.cumsum(dim)
    # Shift by one step (a zero first) instead of subtracting x: no cancellation error.
    return torch.cat(
        [torch.zeros_like(x.narrow(dim, 0, 1)), total.narrow(dim, 0, x.shape[dim] - 1)], dim
    )


#: Positions per piece when a long input is walked through: a few hundred rows of
#: every head stay in the CPU's caches, where one pass over all ``n`` rows would not.
PIECE = 512


def _noncausal(
    query: Tensor, key: Tensor, value: Tensor, feature_map: Callable[[Tensor], Tensor], eps: float
) -> Tensor:
    """Non-causal linear attention, the two sums and the outputs taken piece by piece."""
    state = norm = 0  # sum_j phi(k_j) v_j^T (..., F, Ev) and sum_j phi(k_j) (..., 1, F)
    for start in range(0, max(key.shape[-2], 1), PIECE):  # one empty piece when S == 0
        phi_k = feature_map(key[..., start : start + PIECE, :])  # (..., piece, F)
        state = state + phi_k.transpose(-1, -2) @ value[..., start : start + PIECE, :]
        norm = norm + phi_k.sum(dim=-2, keepdim=True)
    outputs = []
    for start in range(0, max(query.shape[-2], 1), PIECE):  # one empty piece when L == 0
        phi_q = feature_map(query[..., start : start + PIECE, :])  # (..., piece, F)
        denominator = (phi_q * norm).sum(dim=-1, keepdim=True)  # (..., piece, 1)
        outputs.append((phi_q @ state) / (denominator + eps))  # (..., piece, Ev)
    return torch.cat(outputs, dim=-2)  # (..., L, Ev)


def _causal_chunked(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    feature_map: Callable[[Tensor], Tensor],
    chunk: int,
    eps: float,
    num_keys: int,
) -> Tensor:
    """Causal linear attention, ``chunk`` positions at a time.

    ``key`` and ``value`` have the queries' length ``L``; only their first
    ``num_keys`` rows are real keys (the rest are zero rows whose features are
    zeroed, so that queries past the last key see every key and nothing more).

    Inside a chunk the few pairs ``j <= i`` are summed directly (a small masked
    ``chunk x chunk`` product); everything before the chunk arrives as one running
    sum of ``phi(k_j) v_j^T`` (and of ``phi(k_j)`` for the normaliser). The input is
    walked through in pieces of whole chunks (about :data:`PIECE` positions),
    carrying the running sums from piece to piece, so what is held at once stays a
    fixed, cache-sized amount whatever ``L`` is, and the time grows linearly with
    ``L`` (holding the features and one state per chunk for the whole sequence made
    long inputs spill out of the CPU's caches).
    """
    L = query.shape[-2]
    piece = chunk * max(1, PIECE // chunk)  # whole chunks per piece
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=query.device).tril()
    carry_state = carry_norm = None  # sums over every position before the piece
    outputs = []
    for start in range(0, L, piece):
        q, k, v = (x[..., start : start + piece, :] for x in (query, key, value))
        n = q.shape[-2]
        pad = -n % chunk  # only the last piece can end inside a chunk

        def chunks(x: Tensor, pad: int = pad) -> Tensor:
            x = F.pad(x, (0, 0, 0, pad))  # zero rows: zero features add nothing
            return x.reshape(*x.shape[:-2], -1, chunk, x.shape[-1])  # (..., G, chunk, d)

        phi_k = feature_map(k)  # (..., n, F)
        if start + n > num_keys:  # positions past the last key: zero features add nothing
            real = torch.arange(start, start + n, device=query.device) < num_keys  # (n,)
            phi_k = phi_k * real.unsqueeze(-1)
        q, k, v = chunks(feature_map(q)), chunks(phi_k), chunks(v)
        kv = k.transpose(-1, -2) @ v  # (..., G, F, Ev): one chunk's phi(k)^T v each
        k_sum = k.sum(dim=-2, keepdim=True)  # (..., G, 1, F)
        state = _exclusive_cumsum(kv, dim=-3)  # (..., G, F, Ev): earlier chunks of the piece
        norm = _exclusive_cumsum(k_sum, dim=-3)  # (..., G, 1, F)
        if carry_state is not None:
            state = state + carry_state.unsqueeze(-3)
            norm = norm + carry_norm.unsqueeze(-3)
        carry_state = state[..., -1, :, :] + kv[..., -1, :, :]
        carry_norm = norm[..., -1, :, :] + k_sum[..., -1, :, :]
        inner = (q @ k.transpose(-1, -2)) * causal  # (..., G, chunk, chunk), j <= i only
        numerator = q @ state + inner @ v  # (..., G, chunk, Ev)
        denominator = (q * norm).sum(dim=-1, keepdim=True) + inner.sum(dim=-1, keepdim=True)
        out = numerator / (denominator + eps)  # (..., G, chunk, Ev)
        outputs.append(out.flatten(-3, -2)[..., :n, :])  # (..., n, Ev)
    return torch.cat(outputs, dim=-2)  # (..., L, Ev)


def linear_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    is_causal: bool = False,
    *,
    feature_map: Callable[[Tensor], Tensor] = elu_feature_map,
    chunk_size: int = 64,
    eps: float = 1e-6,
) -> Tensor:
    """Linear attention: ``phi(q_i) . phi(k_j)`` weights instead of softmax, in ``O(n)``.

    ``out_i = phi(q_i) @ (sum_j phi(k_j) v_j^T) / (phi(q_i) . sum_j phi(k_j) + eps)``,
    the sums over every key, or over ``j <= i`` with ``is_causal`` (top-left
    aligned, as SDPA). The causal form walks over chunks of ``chunk_size``
    positions, carrying the running sums from chunk to chunk; ``chunk_size=1`` is
    the textbook cumulative sum over single positions. Both forms equal the
    quadratic ``(phi(Q) phi(K)^T) V`` with row-normalised (and, when causal,
    lower-triangular) weights, regrouped.

    Cost: non-causal ``O((L + S) * F * Ev)`` time and ``O(F * Ev)`` extra memory, ``F``
    the feature size; causal ``O(L * (chunk_size + Ev) * F)`` time and
    ``O(L / chunk_size * F * Ev + L * chunk_size)`` memory. It does not approximate
    softmax attention in any controlled way: it is a different, smoother weighting
    (no ``exp``), which is why it is cheap and why its outputs differ.

    Introduced in chapter 15 (the cost of attention).

    Args:
        query: Queries.
        key: Keys.
        value: Values.
        is_causal: Query ``i`` sees keys ``j <= i`` only.
        feature_map: A map to positive features, applied to queries and keys.
        chunk_size: Positions per chunk of the causal form, an int ``>= 1``.
        eps: Added to the normaliser, a float ``>= 0``.

    Returns:
        The attention output.

    Shape:
        - query: ``(..., L, E)``; key: ``(..., S, E)``; value: ``(..., S, Ev)``.
        - Output: ``(..., L, Ev)``.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> q, k, v = (torch.randn(1, 2, 100, 8) for _ in range(3))  # (N, H, L, E)
        >>> out = linear_attention(q, k, v, is_causal=True)
        >>> out.shape
        torch.Size([1, 2, 100, 8])
        >>> weights = (elu_feature_map(q) @ elu_feature_map(k).transpose(-1, -2)).tril()
        >>> quadratic = weights @ v / (weights.sum(-1, keepdim=True) + 1e-6)
        >>> torch.allclose(out, quadratic, atol=1e-5)
        True
    """
    batch = check_qkv(query, key, value)
    check_bool("is_causal", is_causal)
    check_size("chunk_size", chunk_size, 1)
    if not callable(feature_map):
        raise TypeError(f"feature_map: expected a callable, got {type(feature_map).__name__}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f"eps: expected a float >= 0, got {eps!r}")
    L, S = query.shape[-2], key.shape[-2]
    if not is_causal:
        return _noncausal(query, key, value, feature_map, eps)  # (..., L, Ev)
    if L == 0:  # no queries, no chunks
        return query.new_zeros(*batch, 0, value.shape[-1])
    # Causal, top-left aligned: query i sees keys 0..i. Keys past the last query are
    # never seen; queries past the last key see them all (zero rows stand in).
    key, value = key[..., :L, :], value[..., :L, :]
    if S < L:
        key = F.pad(key, (0, 0, 0, L - S))  # (..., L, E); their features are zeroed
        value = F.pad(value, (0, 0, 0, L - S))  # (..., L, Ev)
    return _causal_chunked(query, key, value, feature_map, chunk_size, eps, min(S, L))
