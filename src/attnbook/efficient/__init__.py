"""The cost of attention, and the ways around it.

Exact attention compares every query with every key: ``O(L * S)`` time and, done
naively, ``O(L * S)`` memory. This package holds one idea per module:

* ``attnbook.efficient.tiled`` -- :func:`tiled_attention`, *exact* attention in
  tiles with an online softmax and its own recomputing backward (FlashAttention):
  same arithmetic, memory linear in the length;
* ``attnbook.efficient.local`` -- :func:`sliding_window_attention` and
  :func:`strided_attention`: sparse patterns computed without the dense matrix;
* ``attnbook.efficient.linear`` -- :func:`linear_attention`: a positive kernel
  instead of the softmax, linear time;
* ``attnbook.efficient.hierarchical`` -- :func:`hierarchical_attention`: exact
  inside a block, block summaries elsewhere.

Introduced in chapter 15 (the cost of attention).

Example:
    >>> import torch
    >>> from attnbook.efficient import tiled_attention
    >>> q = k = v = torch.ones(1, 1, 5, 4)
    >>> tiled_attention(q, k, v, block_q=2, block_k=2).shape
    torch.Size([1, 1, 5, 4])
"""

from __future__ import annotations

from attnbook.efficient.hierarchical import hierarchical_attention
from attnbook.efficient.linear import elu_feature_map, linear_attention
from attnbook.efficient.local import sliding_window_attention, strided_attention
from attnbook.efficient.tiled import tiled_attention

__all__ = [
    "elu_feature_map",
    "hierarchical_attention",
    "linear_attention",
    "sliding_window_attention",
    "strided_attention",
    "tiled_attention",
]
