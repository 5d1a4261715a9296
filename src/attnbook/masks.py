"""Attention masks: which key may each query look at.

This module is the one place where ``attnbook`` decides mask polarity, and it
decides it as ``torch.nn.functional.scaled_dot_product_attention`` (SDPA) does:

* a **boolean** mask holds ``True`` where a query **may attend** to a key;
* a **float** mask is **added** to the scores (``0`` keeps a key, ``-inf`` removes it).

``torch.nn.MultiheadAttention`` uses the opposite boolean polarity (``True`` =
masked out); :func:`to_torch_mha_mask` and :func:`from_torch_mha_mask` convert.
Masks have shape ``(L, S)`` or broadcast to ``(..., L, S)``: row ``i`` is query
position ``i``, column ``j`` is key position ``j``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = [
    "causal_mask",
    "combine_masks",
    "from_torch_mha_mask",
    "local_window_mask",
    "padding_mask",
    "strided_mask",
    "to_additive",
    "to_torch_mha_mask",
]


def _check_size(name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} ({value!r})")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")


def _offsets(L: int, S: int, device: torch.device | str | None) -> Tensor:
    """``i - j`` for query ``i`` and key ``j``: shape (L, S), both indices from 0."""
    i = torch.arange(L, device=device).unsqueeze(-1)  # (L, 1)
    j = torch.arange(S, device=device)  # (S,)
    return i - j  # (L, S)


def causal_mask(
    L: int, S: int | None = None, *, device: torch.device | str | None = None
) -> Tensor:
    """A causal mask in SDPA polarity: ``True`` where query ``i`` may attend to key ``j <= i``.

    When ``L != S`` the triangle is aligned at the top-left corner, exactly as
    ``scaled_dot_product_attention(..., is_causal=True)`` aligns it
    (``torch.ones(L, S).tril()``): query ``i`` sees keys ``0 .. i``.

    Introduced in chapter 07 (masking).

    Args:
        L: Number of query positions.
        S: Number of key positions; ``None`` means ``L``.
        device: Where to create the mask.

    Returns:
        A boolean tensor, ``True`` = may attend.

    Shape:
        Output: ``(L, S)``.

    Example:
        >>> causal_mask(3).int()
        tensor([[1, 0, 0],
                [1, 1, 0],
                [1, 1, 1]], dtype=torch.int32)
    """
    S = L if S is None else S
    _check_size("L", L, 0)
    _check_size("S", S, 0)
    return _offsets(L, S, device) >= 0


def padding_mask(lengths: Tensor | Sequence[int], max_len: int | None = None) -> Tensor:
    """A key padding mask in SDPA polarity: ``True`` at real tokens, ``False`` at padding.

    Sequence ``n`` has ``lengths[n]`` real tokens followed by padding. The mask
    hides padded *keys* from every query; outputs at padded *query* positions are
    still computed (and are usually ignored by the loss).

    Introduced in chapter 07 (masking).

    Args:
        lengths: The real length of each sequence, integers in ``[0, max_len]``.
        max_len: The padded length ``S``; ``None`` means ``max(lengths)``.

    Returns:
        A boolean tensor on the device of ``lengths`` (CPU for a list), ``True`` =
        may attend. It broadcasts against scores of shape ``(N, H, L, S)``.

    Shape:
        - lengths: ``(N,)``.
        - Output: ``(N, 1, 1, S)`` with ``S = max_len``.

    Raises:
        TypeError: ``lengths`` is not integer-valued.
        ValueError: ``lengths`` is not 1-D, or holds a negative length or one above ``max_len``.

    Example:
        >>> mask = padding_mask([2, 3], max_len=4)
        >>> mask.shape
        torch.Size([2, 1, 1, 4])
        >>> mask[:, 0, 0].int()  # (N, S)
        tensor([[1, 1, 0, 0],
                [1, 1, 1, 0]], dtype=torch.int32)
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise TypeError(f"lengths: expected integer lengths, got dtype {lengths.dtype}")
    if lengths.dim() != 1:
        raise ValueError(f"lengths: expected a 1-D tensor (N,), got shape {tuple(lengths.shape)}")
    if (lengths < 0).any():
        raise ValueError(f"lengths: expected lengths >= 0, got {lengths.tolist()}")
    longest = int(lengths.max()) if lengths.numel() else 0
    if max_len is None:
        max_len = longest
    _check_size("max_len", max_len, 0)
    if longest > max_len:
        raise ValueError(
            f"lengths: expected every length <= max_len={max_len}, got {lengths.tolist()}"
        )
    positions = torch.arange(max_len, device=lengths.device)  # (S,)
    mask = positions < lengths.unsqueeze(-1)  # (N, S)
    return mask[:, None, None, :]  # (N, 1, 1, S)


def local_window_mask(
    L: int,
    window: int,
    *,
    causal: bool = False,
    S: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """A sliding-window mask in SDPA polarity: ``True`` where a key is near the query.

    ``window`` is the number of neighbours on each side. Query ``i`` may attend to
    key ``j`` when ``|i - j| <= window`` (``2 * window + 1`` keys away from the
    edges), or, with ``causal=True``, when ``0 <= i - j <= window`` (itself and the
    ``window`` keys before it). ``window=0`` keeps only the diagonal. Positions are
    aligned at the top-left corner, as in :func:`causal_mask`.

    Introduced in chapter 15 (the cost of attention).

    Args:
        L: Number of query positions.
        window: Neighbours on each side (only the past when ``causal``), ``>= 0``.
        causal: Also hide every key after the query.
        S: Number of key positions; ``None`` means ``L``.
        device: Where to create the mask.

    Returns:
        A boolean tensor, ``True`` = may attend.

    Shape:
        Output: ``(L, S)``.

    Example:
        >>> local_window_mask(4, 1).int()
        tensor([[1, 1, 0, 0],
                [1, 1, 1, 0],
                [0, 1, 1, 1],
                [0, 0, 1, 1]], dtype=torch.int32)
        >>> local_window_mask(4, 1, causal=True).int()
        tensor([[1, 0, 0, 0],
                [1, 1, 0, 0],
                [0, 1, 1, 0],
                [0, 0, 1, 1]], dtype=torch.int32)
    """
    S = L if S is None else S
    _check_size("L", L, 0)
    _check_size("S", S, 0)
    _check_size("window", window, 0)
    offset = _offsets(L, S, device)  # (L, S), i - j
    if causal:
        return (offset >= 0) & (offset <= window)
    return offset.abs() <= window


def strided_mask(
    L: int,
    stride: int,
    *,
    causal: bool = True,
    local: int | None = None,
    device: torch.device | str | None = None,
) -> Tensor:
    """Child et al.'s (2019) *strided* sparse pattern, in SDPA polarity: ``True`` = may attend.

    The union of the paper's two factorised heads: query ``i`` may attend to key ``j``
    when ``j`` is in its local band, ``|i - j| <= local``, or when ``j`` is a whole
    number of strides away, ``(i - j) % stride == 0``. With ``causal=True`` (the
    paper's setting) only ``j <= i`` is kept. The default ``local = stride - 1``
    is the paper's band (the previous ``stride - 1`` keys and the query itself),
    so every key is reachable in two hops while each row keeps about
    ``stride + L / stride`` keys instead of ``L``.

    Introduced in chapter 15 (the cost of attention).

    Args:
        L: Sequence length (queries and keys).
        stride: Distance between the far keys a query sees, ``>= 1``.
        causal: Hide keys after the query.
        local: Width of the local band on each side, ``>= 0``; ``None`` means ``stride - 1``.
        device: Where to create the mask.

    Returns:
        A boolean tensor, ``True`` = may attend.

    Shape:
        Output: ``(L, L)``.

    Example:
        >>> strided_mask(6, 3, local=1).int()
        tensor([[1, 0, 0, 0, 0, 0],
                [1, 1, 0, 0, 0, 0],
                [0, 1, 1, 0, 0, 0],
                [1, 0, 1, 1, 0, 0],
                [0, 1, 0, 1, 1, 0],
                [0, 0, 1, 0, 1, 1]], dtype=torch.int32)
    """
    _check_size("L", L, 0)
    _check_size("stride", stride, 1)
    local = stride - 1 if local is None else local
    _check_size("local", local, 0)
    offset = _offsets(L, L, device)  # (L, L), i - j
    mask = (offset.abs() <= local) | (offset % stride == 0)
    if causal:
        mask &= offset >= 0
    return mask


def _check_mask_dtype(name: str, mask: Tensor) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name}: expected dtype torch.bool or a floating dtype, got {mask.dtype}")


def to_additive(mask: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
    """Turn a boolean SDPA mask into the float mask that is added to the scores.

    ``True`` (may attend) becomes ``0`` and ``False`` becomes ``-inf``; a float
    mask is already additive and is only cast to ``dtype``.

    Introduced in chapter 07 (masking).

    Args:
        mask: A boolean mask (``True`` = may attend) or a float mask.
        dtype: The floating dtype of the result.

    Returns:
        A float mask of dtype ``dtype`` on the device of ``mask``.

    Shape:
        Output: the shape of ``mask``.

    Example:
        >>> to_additive(torch.tensor([True, False]))
        tensor([0., -inf])
    """
    _check_mask_dtype("mask", mask)
    if not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating dtype, got {dtype}")
    if mask.dtype != torch.bool:
        return mask.to(dtype)
    zeros = torch.zeros((), dtype=dtype, device=mask.device)
    minus_inf = torch.full((), float("-inf"), dtype=dtype, device=mask.device)
    return torch.where(mask, zeros, minus_inf)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Combine masks so that a key is kept only where every mask keeps it (SDPA polarity).

    Boolean masks (``True`` = may attend) are joined with logical AND; float
    masks are added. When booleans and floats are mixed, the booleans are first
    turned into additive masks with :func:`to_additive`. Masks broadcast against
    each other as tensors do; ``None`` entries are skipped, so an optional
    padding mask can be passed as it is.

    Introduced in chapter 07 (masking).

    Args:
        *masks: Boolean or float masks, or ``None``.

    Returns:
        The combined mask. It is boolean if every mask is boolean, else float (the
        promoted dtype of the float masks); ``None`` when no mask was given.

    Shape:
        Output: the broadcast shape of the inputs, e.g. ``(L, S)`` and
        ``(N, 1, 1, S)`` give ``(N, 1, L, S)``.

    Raises:
        TypeError: A mask is neither boolean nor floating.
        ValueError: The masks' shapes do not broadcast.

    Example:
        >>> combined = combine_masks(causal_mask(3), padding_mask([2], max_len=3))
        >>> combined.shape
        torch.Size([1, 1, 3, 3])
        >>> combined[0, 0].int()
        tensor([[1, 0, 0],
                [1, 1, 0],
                [1, 1, 0]], dtype=torch.int32)
    """
    present = [mask for mask in masks if mask is not None]
    for index, mask in enumerate(present):
        _check_mask_dtype(f"masks[{index}]", mask)
    if not present:
        return None
    try:
        torch.broadcast_shapes(*(mask.shape for mask in present))
    except RuntimeError:
        shapes = ", ".join(str(tuple(mask.shape)) for mask in present)
        raise ValueError(f"masks: expected shapes that broadcast together, got {shapes}") from None
    floats = [mask for mask in present if mask.dtype != torch.bool]
    if not floats:
        combined = present[0]
        for mask in present[1:]:
            combined = combined & mask
        return combined
    dtype = floats[0].dtype
    for mask in floats[1:]:
        dtype = torch.promote_types(dtype, mask.dtype)
    combined = to_additive(present[0], dtype)
    for mask in present[1:]:
        combined = combined + to_additive(mask, dtype)
    return combined


def to_torch_mha_mask(mask: Tensor) -> Tensor:
    """Convert an SDPA mask to ``torch.nn.MultiheadAttention``'s polarity.

    ``nn.MultiheadAttention`` reads a boolean ``attn_mask`` or
    ``key_padding_mask`` as ``True`` = **masked out**, the opposite of SDPA's
    ``True`` = may attend, so booleans are inverted. Float masks mean the same
    in both (added to the scores) and are returned unchanged. Shapes are not
    changed: reshape a ``(N, 1, 1, S)`` padding mask to ``(N, S)`` for
    ``key_padding_mask``.

    Introduced in chapter 07 (masking).

    Args:
        mask: A mask in SDPA polarity.

    Returns:
        The mask in ``nn.MultiheadAttention`` polarity.

    Shape:
        Output: the shape of ``mask``.

    Example:
        >>> to_torch_mha_mask(causal_mask(2))
        tensor([[False,  True],
                [False, False]])
    """
    _check_mask_dtype("mask", mask)
    return ~mask if mask.dtype == torch.bool else mask


def from_torch_mha_mask(mask: Tensor) -> Tensor:
    """Convert a ``torch.nn.MultiheadAttention`` mask to SDPA polarity (``True`` = may attend).

    The inverse of :func:`to_torch_mha_mask`: booleans are inverted (``True`` =
    masked out becomes ``False``), float masks are returned unchanged.

    Introduced in chapter 07 (masking).

    Args:
        mask: A mask in ``nn.MultiheadAttention`` polarity.

    Returns:
        The mask in SDPA polarity.

    Shape:
        Output: the shape of ``mask``.

    Example:
        >>> from_torch_mha_mask(torch.tensor([[False, True]]))
        tensor([[ True, False]])
    """
    _check_mask_dtype("mask", mask)
    return ~mask if mask.dtype == torch.bool else mask
