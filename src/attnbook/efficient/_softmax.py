"""A softmax over the allowed keys only, shared by the sparse variants."""

from __future__ import annotations

import math

from torch import Tensor


def masked_softmax(scores: Tensor, allowed: Tensor) -> Tensor:
    """Softmax over the last dimension where ``allowed``; a row with no allowed key gets zeros.

    ``scores`` is overwritten (masked in place): pass a fresh tensor, such as the
    result of a matmul, which saves a copy of the largest tensor in the computation.
    Rows without any key keep their finite scores through the softmax and are zeroed
    afterwards, so neither the output nor its gradient meets ``exp(-inf - (-inf))``.
    That matches SDPA, which returns zeros for a fully masked query.

    Shape:
        scores: ``(..., R, K)``; allowed: boolean, broadcastable to ``(..., R, K)``.
    """
    has_key = allowed.any(dim=-1, keepdim=True)  # (..., R, 1)
    weights = scores.masked_fill_(~allowed & has_key, -math.inf).softmax(dim=-1)
    if not bool(has_key.all()):
        weights = weights.masked_fill(~has_key, 0.0)
    return weights
