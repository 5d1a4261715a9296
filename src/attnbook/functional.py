"""Attention as plain maths: softmax, scaled dot-product attention, additive attention.

These are the *reference* implementations the book derives step by step. They
favour readability over speed, yet follow the semantics (argument names, shapes,
mask polarity, edge cases) of ``torch.nn.functional.scaled_dot_product_attention``
so the tests can compare the two, and a reader can swap one for the other.

Mask polarity is SDPA's throughout (see :mod:`attnbook.masks`): a boolean mask
holds ``True`` where a query may attend; a float mask is added to the scores.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from attnbook.masks import causal_mask

__all__ = ["AdditiveAttention", "additive_attention", "scaled_dot_product_attention", "softmax"]

# Half-precision inputs are computed in float32 and cast back: float16 overflows
# above 65504, and both half types carry too few mantissa bits to sum many small
# probabilities accurately. PyTorch's own kernels accumulate in float32 too.
_HALF_DTYPES = (torch.float16, torch.bfloat16)


def _check_floating(name: str, x: object) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")


def softmax(x: Tensor, dim: int = -1, temperature: float = 1.0) -> Tensor:
    """Numerically stable softmax with a temperature: ``exp(x / T) / sum(exp(x / T))``.

    The maximum along ``dim`` is subtracted before ``exp`` (softmax does not
    change when every logit moves by the same amount), so no ``exp`` overflows:
    logits of ``±1e4`` stay finite in float32, float16 and bfloat16. Half-precision
    inputs are computed in float32 and the result cast back, because float16 sums
    of many small probabilities lose most of their digits.

    A slice whose logits are all ``-inf`` (every key masked) returns **zeros**
    rather than the ``nan`` of ``0 / 0``, as PyTorch's attention does for a
    fully masked query row.

    Introduced in chapter 03 (softmax and temperature).

    Args:
        x: Logits, any floating dtype.
        dim: The dimension that sums to 1.
        temperature: ``T > 0``. Below 1 sharpens the distribution towards the
            arg-max, above 1 flattens it towards uniform.

    Returns:
        Probabilities with the dtype and shape of ``x``.

    Shape:
        - x: ``(*)``, any shape.
        - Output: ``(*)``, the shape of ``x``.

    Raises:
        TypeError: ``x`` is not a floating tensor, or ``temperature`` is not a number.
        ValueError: ``temperature`` is not a finite number above 0.

    Example:
        >>> softmax(torch.tensor([1.0, 2.0, 3.0]))
        tensor([0.0900, 0.2447, 0.6652])
        >>> softmax(torch.tensor([1.0, 2.0, 3.0]), temperature=100.0)
        tensor([0.3300, 0.3333, 0.3367])
        >>> softmax(torch.tensor([1e4, -1e4], dtype=torch.float16))
        tensor([1., 0.], dtype=torch.float16)
        >>> softmax(torch.full((3,), float("-inf")))
        tensor([0., 0., 0.])
    """
    _check_floating("x", x)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(
            f"temperature: expected a float, got {type(temperature).__name__} ({temperature!r})"
        )
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature: expected a finite number > 0, got {temperature}")
    if x.shape[dim] == 0:  # nothing to normalise (attention over zero keys)
        return x.clone()
    z = x.float() if x.dtype in _HALF_DTYPES else x
    # The max carries no gradient of its own: the shift cancels exactly.
    shift = z.amax(dim=dim, keepdim=True).detach()
    # An all -inf slice has max -inf; shifting by it would give -inf - -inf = nan.
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    # (z - shift) is a fresh buffer, so divide and exponentiate it in place: for
    # attention scores that saves two allocations of the largest tensor in play.
    logits = z - shift
    if temperature != 1.0:
        logits.div_(temperature)
    exp = logits.exp_()
    total = exp.sum(dim=dim, keepdim=True)
    # total is 0 only for all -inf slices, whose exp is all 0: divide by 1 to give zeros.
    probs = exp / torch.where(total > 0, total, torch.ones_like(total))
    return probs.to(x.dtype)


def _check_mask(attn_mask: object, scores_shape: torch.Size, device: torch.device) -> None:
    """Refuse a mask that is not bool/float, sits elsewhere, or does not broadcast to the scores."""
    if not isinstance(attn_mask, Tensor):
        raise TypeError(
            f"attn_mask: expected a torch.Tensor or None, got {type(attn_mask).__name__}"
        )
    if attn_mask.device != device:
        raise ValueError(
            f"attn_mask: expected device {device} (the query's), got {attn_mask.device}"
        )
    if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
        raise TypeError(
            f"attn_mask: expected dtype torch.bool or a floating dtype, got {attn_mask.dtype}"
        )
    _check_mask_shape(attn_mask, scores_shape)


def _check_mask_shape(attn_mask: Tensor, scores_shape: torch.Size) -> None:
    """Refuse a mask that does not broadcast to the scores ``(..., L, S)``."""
    try:
        broadcast = torch.broadcast_shapes(attn_mask.shape, scores_shape)
    except RuntimeError:
        broadcast = None
    # The mask may not add dimensions of its own: the scores keep their shape.
    if broadcast != scores_shape:
        raise ValueError(
            "attn_mask: expected a shape that broadcasts to the scores (..., L, S) = "
            f"{tuple(scores_shape)}, got {tuple(attn_mask.shape)}"
        )


def _masked_fill_scores(scores: Tensor, attn_mask: Tensor | None) -> Tensor:
    """Apply an SDPA-polarity mask: False -> -inf, a float mask is added."""
    if attn_mask is None:
        return scores
    if attn_mask.dtype == torch.bool:
        return scores.masked_fill(~attn_mask, float("-inf"))
    return scores + attn_mask.to(scores.dtype)


def _check_qkv(query: object, key: object, value: object) -> torch.Size:
    """Check dtypes and shapes of query/key/value; return the broadcast batch shape."""
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        _check_floating(name, tensor)
        if tensor.dim() < 2:
            raise ValueError(
                f"{name}: expected at least 2 dimensions (..., length, features), "
                f"got shape {tuple(tensor.shape)}"
            )
    if not query.device == key.device == value.device:
        raise ValueError(
            "query, key, value: expected one device, got "
            f"{query.device}, {key.device}, {value.device}"
        )
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"query, key, value: expected one dtype, got {query.dtype}, {key.dtype}, {value.dtype}"
        )
    return _batch_shape(query, key, value)


def _batch_shape(query: Tensor, key: Tensor, value: Tensor) -> torch.Size:
    """Check that keys and values pair up; return the batch shape the three broadcast to."""
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            "key, value: expected the same length S (dim -2), got key shape "
            f"{tuple(key.shape)} and value shape {tuple(value.shape)}"
        )
    try:
        return torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            "query, key, value: expected batch dimensions (all but the last two) that "
            f"broadcast together, got shapes {tuple(query.shape)}, {tuple(key.shape)}, "
            f"{tuple(value.shape)}"
        ) from None


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    need_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Scaled dot-product attention, written out: ``softmax(Q Kᵀ · scale + mask) V``.

    Same arguments and semantics as ``torch.nn.functional.scaled_dot_product_attention``:

    * any leading batch dimensions (at least 2-D inputs); they broadcast;
    * ``L`` may differ from ``S``, and the value size ``Ev`` from ``E``;
    * ``scale`` defaults to ``1 / sqrt(E)`` — the *head* size, not the model width;
    * ``attn_mask``: boolean (``True`` = may attend) or float (added to the
      scores), broadcastable to ``(..., L, S)``; a float mask of another floating
      dtype is cast to the scores' dtype (PyTorch accepts only float32 or the query's);
    * ``is_causal=True`` applies :func:`attnbook.masks.causal_mask`, aligned at the
      top-left corner when ``L != S`` (query ``i`` sees keys ``0 .. i``), and may
      not be combined with ``attn_mask`` (PyTorch's reference backend refuses it;
      combine the masks with :func:`attnbook.masks.combine_masks` instead);
    * a query row with no allowed key gets zero weights and a zero output, never
      ``nan`` — what PyTorch returns on the CPU;
    * ``dropout_p > 0`` drops weights with PyTorch's RNG on every call (the
      function has no training flag: pass ``0.0`` to evaluate).

    Half-precision inputs are computed in float32 and the output is cast back.

    Introduced in chapter 04 (queries, keys, values and scaled dot-product attention).

    Args:
        query: Queries.
        key: Keys.
        value: Values.
        attn_mask: Optional boolean or float mask, see above.
        dropout_p: Probability of dropping each attention weight, in ``[0, 1)``.
        is_causal: Hide keys after the query.
        scale: Multiplies the scores; ``None`` means ``1 / sqrt(E)``.
        need_weights: Also return the attention weights.

    Returns:
        The output; with ``need_weights=True`` the pair ``(output, weights)``. The
        weights are those applied to ``value``, so with ``dropout_p > 0`` they are
        the dropped and rescaled ones (as ``nn.MultiheadAttention`` returns them).

    Shape:
        - query: ``(..., L, E)``, e.g. ``(N, H, L, E)``.
        - key: ``(..., S, E)``.
        - value: ``(..., S, Ev)``.
        - attn_mask: broadcastable to ``(..., L, S)``, e.g. ``(L, S)`` or ``(N, 1, 1, S)``.
        - output: ``(..., L, Ev)``; weights: ``(..., L, S)``.

    Raises:
        TypeError: A non-floating or mismatched dtype, or an integer mask.
        ValueError: Too few dimensions, mismatched sizes, a mask that does not
            broadcast, ``attn_mask`` with ``is_causal``, or ``dropout_p`` outside ``[0, 1)``.

    Example:
        >>> q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 4, 7, 8), torch.randn(2, 4, 7, 3)
        >>> out, weights = scaled_dot_product_attention(q, k, v, need_weights=True)
        >>> out.shape, weights.shape
        (torch.Size([2, 4, 5, 3]), torch.Size([2, 4, 5, 7]))
        >>> expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        >>> torch.allclose(out, expected, atol=1e-6)
        True
    """
    batch = _check_qkv(query, key, value)
    L, E = query.shape[-2:]
    S = key.shape[-2]
    if key.shape[-1] != E:
        raise ValueError(
            "query, key: expected the same feature size E (dim -1), got query shape "
            f"{tuple(query.shape)} and key shape {tuple(key.shape)}"
        )
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p: expected a probability in [0, 1), got {dropout_p}")
    if attn_mask is not None and is_causal:
        raise ValueError(
            "attn_mask, is_causal: expected at most one of them, got both; combine the causal "
            "mask with yours (attnbook.masks.combine_masks) and pass it as attn_mask"
        )
    if attn_mask is not None:
        _check_mask(attn_mask, torch.Size((*batch, L, S)), query.device)
    if is_causal:
        attn_mask = causal_mask(L, S, device=query.device)  # (L, S), top-left aligned

    out_dtype = query.dtype
    if out_dtype in _HALF_DTYPES:
        query, key, value = query.float(), key.float(), value.float()
    scale = 1.0 / math.sqrt(E) if scale is None else scale

    # Scaling the (L, E) queries costs less than scaling the (L, S) scores, same result.
    scores = (query * scale) @ key.transpose(-2, -1)  # (..., L, E) @ (..., E, S) -> (..., L, S)
    scores = _masked_fill_scores(scores, attn_mask)
    weights = softmax(scores, dim=-1)  # fully masked rows -> zeros
    if dropout_p > 0.0:
        weights = torch.dropout(weights, dropout_p, train=True)
    output = weights @ value  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)

    output = output.to(out_dtype)
    if need_weights:
        return output, weights.to(out_dtype)
    return output


def additive_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    w_query: Tensor,
    w_key: Tensor,
    v: Tensor,
    attn_mask: Tensor | None = None,
    *,
    need_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Additive (Bahdanau) attention: ``score(q, k) = vᵀ tanh(W_q q + W_k k)``.

    The attention of Bahdanau, Cho and Bengio (2015), before dot products took
    over: a one-hidden-layer network scores each query–key pair, then a softmax
    over the keys weighs the values. Query and key sizes may differ. The mask
    follows SDPA's polarity (``True`` = may attend; a float mask is added), and
    a query with no allowed key gets zero weights and a zero output.

    Introduced in chapter 01 (why attention).

    Args:
        query: Queries (in Bahdanau's decoder, the previous decoder state).
        key: Keys (the encoder states).
        value: Values (usually the encoder states again).
        w_query: ``W_q``, laid out as an ``nn.Linear`` weight.
        w_key: ``W_k``, laid out as an ``nn.Linear`` weight.
        v: The scoring vector.
        attn_mask: Optional boolean or float mask, broadcastable to ``(..., L, S)``.
        need_weights: Also return the attention weights.

    Returns:
        The output; with ``need_weights=True`` the pair ``(output, weights)``.

    Shape:
        - query: ``(..., L, Eq)``; key: ``(..., S, Ek)``; value: ``(..., S, Ev)``.
        - w_query: ``(D, Eq)``; w_key: ``(D, Ek)``; v: ``(D,)``, with ``D`` the hidden size.
        - output: ``(..., L, Ev)``; weights: ``(..., L, S)``.

    Raises:
        TypeError: A non-floating or mismatched dtype, or an integer mask.
        ValueError: Sizes that do not fit together, or a mask that does not broadcast.

    Example:
        >>> q, k = torch.randn(2, 3, 4), torch.randn(2, 5, 6)
        >>> w_q, w_k, v = torch.randn(8, 4), torch.randn(8, 6), torch.randn(8)
        >>> out, weights = additive_attention(q, k, k, w_q, w_k, v, need_weights=True)
        >>> out.shape, weights.shape
        (torch.Size([2, 3, 6]), torch.Size([2, 3, 5]))
        >>> torch.allclose(weights.sum(-1), torch.ones(2, 3))
        True
    """
    batch = _check_qkv(query, key, value)
    L, S = query.shape[-2], key.shape[-2]
    for name, weight, features, source in (
        ("w_query", w_query, query.shape[-1], "query"),
        ("w_key", w_key, key.shape[-1], "key"),
    ):
        _check_floating(name, weight)
        if weight.dim() != 2 or weight.shape[1] != features:
            raise ValueError(
                f"{name}: expected shape (D, {features}) to match {source}'s last dimension, "
                f"got {tuple(weight.shape)}"
            )
    _check_floating("v", v)
    hidden = w_query.shape[0]
    if w_key.shape[0] != hidden or v.shape != (hidden,):
        raise ValueError(
            f"w_query, w_key, v: expected one hidden size D, got shapes {tuple(w_query.shape)}, "
            f"{tuple(w_key.shape)}, {tuple(v.shape)} (expected (D, Eq), (D, Ek), (D,))"
        )
    if attn_mask is not None:
        _check_mask(attn_mask, torch.Size((*batch, L, S)), query.device)

    q_hidden = (query @ w_query.T).unsqueeze(-2)  # (..., L, 1, D)
    k_hidden = (key @ w_key.T).unsqueeze(-3)  # (..., 1, S, D)
    scores = torch.tanh(q_hidden + k_hidden) @ v  # (..., L, S, D) @ (D,) -> (..., L, S)
    scores = _masked_fill_scores(scores, attn_mask)
    weights = softmax(scores, dim=-1)  # (..., L, S)
    output = weights @ value  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)
    if need_weights:
        return output, weights
    return output


class AdditiveAttention(nn.Module):
    """Additive (Bahdanau) attention with its own parameters ``W_q``, ``W_k`` and ``v``.

    Holds the three learned pieces as bias-free ``nn.Linear`` layers and calls
    :func:`additive_attention`. Inputs are batch-first, like every ``attnbook``
    module (``(N, L, Eq)``, not ``(L, N, Eq)``); any leading dimensions work.

    Introduced in chapter 01 (why attention).

    Args:
        query_dim: Size ``Eq`` of each query.
        key_dim: Size ``Ek`` of each key.
        hidden_dim: Size ``D`` of the scoring network's hidden layer.

    Shape:
        - query: ``(N, L, Eq)``; key: ``(N, S, Ek)``; value: ``(N, S, Ev)``.
        - attn_mask: broadcastable to ``(N, L, S)``, ``True`` = may attend.
        - output: ``(N, L, Ev)``; weights: ``(N, L, S)``.

    Example:
        >>> attention = AdditiveAttention(query_dim=4, key_dim=6, hidden_dim=8)
        >>> q, k = torch.randn(2, 3, 4), torch.randn(2, 5, 6)
        >>> out, weights = attention(q, k, k, need_weights=True)
        >>> out.shape, weights.shape
        (torch.Size([2, 3, 6]), torch.Size([2, 3, 5]))
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.query_proj = nn.Linear(query_dim, hidden_dim, bias=False)  # W_q
        self.key_proj = nn.Linear(key_dim, hidden_dim, bias=False)  # W_k
        self.score_proj = nn.Linear(hidden_dim, 1, bias=False)  # vᵀ

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        attn_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Attend from ``query`` to ``key``/``value``; see :func:`additive_attention`."""
        v = self.score_proj.weight[0]  # (1, D) -> (D,)
        return additive_attention(
            query,
            key,
            value,
            self.query_proj.weight,
            self.key_proj.weight,
            v,
            attn_mask,
            need_weights=need_weights,
        )
