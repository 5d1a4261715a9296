"""Input checks shared by the efficient attention variants.

Every variant refuses bad input before doing any work, with a message that
names the argument, what it received and what it expected.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

# The same checks, and messages, as the reference functions and the masks.
from attnbook.functional import _batch_shape, _check_mask_shape
from attnbook.masks import _check_size


def check_qkv(query: object, key: object, value: object) -> torch.Size:
    """Check query/key/value dtypes and shapes; return their broadcast batch shape."""
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor, got {type(tensor).__name__}")
        if not tensor.is_floating_point():
            raise TypeError(f"{name}: expected a floating dtype, got {tensor.dtype}")
        if tensor.dim() < 2:
            raise ValueError(
                f"{name}: expected at least 2 dimensions (..., length, features), "
                f"got shape {tuple(tensor.shape)}"
            )
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"query, key, value: expected one dtype, got {query.dtype}, {key.dtype}, {value.dtype}"
        )
    if not query.device == key.device == value.device:
        raise ValueError(
            "query, key, value: expected one device, got "
            f"{query.device}, {key.device}, {value.device}"
        )
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            "query, key: expected the same feature size E (dim -1), got query shape "
            f"{tuple(query.shape)} and key shape {tuple(key.shape)}"
        )
    return _batch_shape(query, key, value)


def check_mask(attn_mask: object, scores_shape: torch.Size, device: torch.device) -> None:
    """Refuse a mask that is not bool/float, lives elsewhere, or does not fit the scores."""
    if not isinstance(attn_mask, Tensor):
        raise TypeError(
            f"attn_mask: expected a torch.Tensor or None, got {type(attn_mask).__name__}"
        )
    if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
        raise TypeError(
            f"attn_mask: expected dtype torch.bool or a floating dtype, got {attn_mask.dtype}"
        )
    if attn_mask.device != device:
        raise ValueError(f"attn_mask: expected device {device}, got {attn_mask.device}")
    _check_mask_shape(attn_mask, scores_shape)


def check_size(name: str, value: object, minimum: int) -> int:
    """An int (not a bool) of at least ``minimum``; return it."""
    _check_size(name, value, minimum)
    return value


def check_same_length(query: Tensor, key: Tensor) -> None:
    """Patterns defined on positions of one sequence need L == S (self-attention)."""
    if query.shape[-2] != key.shape[-2]:
        raise ValueError(
            "query, key: expected the same length (self-attention, L == S), got "
            f"L={query.shape[-2]} and S={key.shape[-2]}"
        )


def resolve_scale(scale: object, features: int) -> float:
    """``1 / sqrt(E)`` by default, as in SDPA; otherwise a finite number."""
    if scale is None:
        return 1.0 / math.sqrt(features)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"scale: expected a float or None, got {type(scale).__name__}")
    if not math.isfinite(scale):
        raise ValueError(f"scale: expected a finite number, got {scale}")
    return float(scale)


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} ({value!r})")
    return value
