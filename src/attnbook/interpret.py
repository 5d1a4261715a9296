"""Reading a trained model's attention: attention rollout and head ablation.

Two tools of chapter 14 (reading attention), one for each way of asking what a
model does with its attention:

* :func:`attention_rollout` *looks*: it combines the head-averaged weights of
  every layer, with the residual connection as an identity, into one
  token-to-token matrix (Abnar & Zuidema, 2020);
* :func:`ablate_heads` *intervenes*: inside a ``with`` block, the chosen heads
  of :class:`attnbook.attention.MultiheadAttention` modules output zeros, so
  their contribution can be measured by what the model loses.

Weights are a hypothesis about where information flows; an ablation is an
experiment that tests it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import Tensor

from attnbook.attention import MultiheadAttention

__all__ = ["ablate_heads", "attention_rollout"]


def attention_rollout(attentions: Sequence[Tensor], residual: float = 0.5) -> Tensor:
    r"""Attention rollout (Abnar & Zuidema, 2020): every layer's mixing, multiplied together.

    For each layer, the heads are averaged into :math:`\bar A_\ell`, the residual
    connection is added as an identity and the rows are renormalised:

    .. math::

        \tilde A_\ell = \operatorname{rownorm}\big((1 - r)\,\bar A_\ell + r\,I\big),
        \qquad R = \tilde A_{\text{last}} \cdots \tilde A_1 \tilde A_0 .

    The first layer acts first, so it stands on the right. Row ``i`` of ``R``
    estimates how much each input token contributed to the final state at
    position ``i``; each row sums to one. Rollout is built from attention
    weights alone: it ignores the values, the feed-forward layers and the
    output head.

    Introduced in chapter 14 (reading attention).

    Args:
        attentions: one weight tensor per layer, **first layer first**, each of
            shape ``(..., H, L, L)`` (the per-head weights of
            ``need_weights=True, average_attn_weights=False``); all layers of
            one shape. A single stacked tensor is refused: pass
            ``list(stacked.unbind(dim))``.
        residual: the share ``r`` in ``[0, 1]`` kept on the diagonal for the
            residual path; the paper's 0.5 by default. With ``r = 0`` a query
            row of zeros (every key masked) divides by zero.

    Returns:
        The rollout ``R``, shape ``(..., L, L)``, dtype and device of the inputs.

    Shape:
        - attentions: a sequence of ``(..., H, L, L)`` tensors, one per layer.
        - output: ``(..., L, L)``.

    Example:
        >>> w = torch.softmax(torch.randn(2, 4, 4), dim=-1)  # (H, L, L): one layer, 2 heads
        >>> R = attention_rollout([w])
        >>> torch.allclose(R, 0.5 * w.mean(0) + 0.5 * torch.eye(4))
        True
        >>> R = attention_rollout([w, w, w])  # three layers
        >>> R.shape, torch.allclose(R.sum(-1), torch.ones(4))
        (torch.Size([4, 4]), True)
    """
    if isinstance(attentions, Tensor):
        raise TypeError(
            "attentions: expected a sequence of per-layer tensors (..., H, L, L), first layer "
            f"first, got one tensor of shape {tuple(attentions.shape)}; pass "
            "list(stacked.unbind(dim)) for a stacked tensor, or [weights] for one layer"
        )
    attentions = list(attentions)
    if not attentions:
        raise ValueError(
            "attentions: expected at least one layer's weights (..., H, L, L), got an empty sequence"
        )
    if (
        isinstance(residual, bool)
        or not isinstance(residual, (int, float))
        or not 0.0 <= residual <= 1.0
    ):
        raise ValueError(f"residual: expected a number in [0, 1], got {residual!r}")
    first = attentions[0]
    for layer, weights in enumerate(attentions):
        if not isinstance(weights, Tensor):
            raise TypeError(
                f"attentions[{layer}]: expected a torch.Tensor, got {type(weights).__name__}"
            )
        if not weights.is_floating_point():
            raise TypeError(
                f"attentions[{layer}]: expected a floating-point tensor, got dtype {weights.dtype}"
            )
        if weights.dim() < 3 or weights.size(-1) != weights.size(-2):
            raise ValueError(
                f"attentions[{layer}]: expected square maps of shape (..., H, L, L), "
                f"got {tuple(weights.shape)}"
            )
        if weights.shape != first.shape:
            raise ValueError(
                f"attentions[{layer}]: expected the shape of attentions[0], "
                f"{tuple(first.shape)}, got {tuple(weights.shape)}"
            )
    rollout = None
    for weights in attentions:
        mixed = weights.mean(dim=-3)  # (..., H, L, L) -> (..., L, L): heads averaged
        eye = torch.eye(mixed.shape[-1], dtype=mixed.dtype, device=mixed.device)  # (L, L)
        mixed = (1 - residual) * mixed + residual * eye  # the residual keeps the token's state
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)  # rows sum to one again
        rollout = mixed if rollout is None else mixed @ rollout  # later layers on the left
    return rollout  # (..., L, L)


def _check_heads(
    attention_modules: Sequence[MultiheadAttention], heads: Iterable[tuple[int, int]]
) -> dict[int, list[int]]:
    """Validate ``(layer, head)`` pairs; group the heads by layer, in first-seen order."""
    by_layer: dict[int, list[int]] = {}
    for pair in heads:
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or any(isinstance(i, bool) or not isinstance(i, int) for i in pair)
        ):
            raise TypeError(f"heads: expected (layer, head) pairs of ints, got {pair!r}")
        layer, head = pair
        if not 0 <= layer < len(attention_modules):
            raise ValueError(
                f"heads: expected a layer index in [0, {len(attention_modules)}) "
                f"(one per attention module), got {layer} in {pair!r}"
            )
        num_heads = attention_modules[layer].num_heads
        if not 0 <= head < num_heads:
            raise ValueError(
                f"heads: expected a head index in [0, {num_heads}) for layer {layer}, "
                f"got {head} in {pair!r}"
            )
        by_layer.setdefault(layer, [])
        if head not in by_layer[layer]:
            by_layer[layer].append(head)
    return by_layer


@contextmanager
def ablate_heads(
    attention_modules: Sequence[MultiheadAttention], heads: Iterable[tuple[int, int]]
) -> Iterator[None]:
    """Zero the output of chosen heads inside a ``with`` block (head ablation).

    Inside :class:`~attnbook.attention.MultiheadAttention` the heads' outputs
    are concatenated, ``(N, L, H * head_dim)``, before the output projection
    ``out_proj``; head ``h`` owns features ``h * head_dim`` to
    ``(h + 1) * head_dim - 1``. A forward pre-hook on ``out_proj`` sets that
    slice to zero (on a copy), exactly as if the head had returned zeros; this
    equals zeroing the head's columns of ``out_proj.weight``. The hooks are
    removed when the block ends, also when it ends with an exception.

    Introduced in chapter 14 (reading attention).

    Args:
        attention_modules: the attention modules that ``heads`` index, e.g.
            ``[layer.self_attn for layer in model.layers]``.
        heads: ``(layer, head)`` pairs: ``layer`` indexes ``attention_modules``,
            ``head`` counts from 0 within it. Duplicates are harmless; an empty
            iterable ablates nothing.

    Raises:
        TypeError: if a module is not a ``MultiheadAttention`` or a pair is not
            two ints.
        ValueError: if a layer or head index is out of range.

    Example:
        >>> from attnbook.attention import MultiheadAttention
        >>> mha = MultiheadAttention(embed_dim=8, num_heads=2)  # head_dim 4
        >>> x = torch.randn(1, 3, 8)  # (N, L, E)
        >>> with ablate_heads([mha], [(0, 1)]):  # layer 0 (the only one), head 1
        ...     ablated, _ = mha(x, x, x)
        >>> len(mha.out_proj._forward_pre_hooks)  # the hook is gone again
        0
        >>> with torch.no_grad():  # the same, by zeroing head 1's columns of out_proj
        ...     mha.out_proj.weight[:, 4:8] = 0
        ...     zeroed, _ = mha(x, x, x)
        >>> torch.allclose(ablated, zeroed, atol=1e-6)
        True
    """
    attention_modules = list(attention_modules)
    for layer, module in enumerate(attention_modules):
        if not isinstance(module, MultiheadAttention):
            raise TypeError(
                f"attention_modules[{layer}]: expected an attnbook.attention.MultiheadAttention, "
                f"got {type(module).__module__}.{type(module).__qualname__} (convert "
                "torch.nn.MultiheadAttention with MultiheadAttention.from_torch)"
            )
    by_layer = _check_heads(attention_modules, heads)
    handles = []
    try:
        for layer, chosen in by_layer.items():
            d_h = attention_modules[layer].head_dim

            def zero_heads(module, args, chosen=tuple(chosen), d_h=d_h):
                x = args[0].clone()  # (N, L, H * d_h): the heads' outputs, concatenated
                for head in chosen:
                    x[..., head * d_h : (head + 1) * d_h] = 0
                return (x, *args[1:])

            out_proj = attention_modules[layer].out_proj
            handles.append(out_proj.register_forward_pre_hook(zero_heads))
        yield
    finally:
        for handle in handles:
            handle.remove()
