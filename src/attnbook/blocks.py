"""The transformer block: attention and a feed-forward network, each with a residual.

A layer is two (or three) *sublayers*, each wrapped the same way::

    pre-norm  (norm_first=True):   x = x + dropout(sublayer(norm(x)))
    post-norm (norm_first=False):  x = norm(x + dropout(sublayer(x)))

Post-norm is the original transformer (and ``torch.nn.TransformerEncoderLayer``'s
default); pre-norm trains more stably in deep stacks and is what GPT-2 and
most later models use. Both are here behind one switch, and both match
PyTorch's layers weight for weight (see the tests).

* :class:`FeedForward` — two linear maps with a nonlinearity between them;
* :class:`EncoderLayer` — bidirectional self-attention + feed-forward;
* :class:`DecoderLayer` — causal self-attention, cross-attention to an
  encoder's output, feed-forward. Without cross-attention
  (``cross_attention=False``) it is GPT's block.

Dropout is active only in training mode: ``model.eval()`` turns it off.
Modules are batch first: ``(N, L, E)``.

Introduced in chapter 09 (the transformer block).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.attention import KVCache, MultiheadAttention
from attnbook.positional import RotaryEmbedding

__all__ = ["DecoderLayer", "EncoderLayer", "FeedForward"]

_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"relu": F.relu, "gelu": F.gelu}


def _check_layer_args(
    embed_dim: int, num_heads: int, dim_feedforward: int, dropout: float, activation: str
) -> None:
    for name, value in (
        ("embed_dim", embed_dim),
        ("num_heads", num_heads),
        ("dim_feedforward", dim_feedforward),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    if embed_dim % num_heads:
        raise ValueError(
            f"embed_dim: expected a multiple of num_heads={num_heads}, got {embed_dim}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}")


class FeedForward(nn.Module):
    """The position-wise feed-forward network: ``linear2(dropout(act(linear1(x))))``.

    The same two-layer network is applied to every position on its own; the
    hidden width ``dim_feedforward`` is usually 4 × ``embed_dim``.

    Args:
        embed_dim: model width E.
        dim_feedforward: hidden width.
        dropout: dropout on the hidden activations (training only).
        activation: ``"gelu"`` or ``"relu"``.
        bias: whether the linear maps have biases.

    Shape:
        - Input: ``(N, L, E)`` (any leading dims).
        - Output: same as the input.

    Example:
        >>> import torch
        >>> ff = FeedForward(embed_dim=8, dim_feedforward=32)
        >>> ff(torch.randn(2, 5, 8)).shape
        torch.Size([2, 5, 8])

    Introduced in chapter 09 (the transformer block).
    """

    def __init__(
        self,
        embed_dim: int,
        dim_feedforward: int,
        dropout: float = 0.0,
        activation: str = "gelu",
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_layer_args(embed_dim, 1, dim_feedforward, dropout, activation)
        self.linear1 = nn.Linear(embed_dim, dim_feedforward, bias=bias)
        self.linear2 = nn.Linear(dim_feedforward, embed_dim, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        hidden = _ACTIVATIONS[self.activation](self.linear1(x))  # (N, L, F)
        return self.linear2(self.dropout(hidden))  # (N, L, E)


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each with a residual and a layer norm.

    Every position attends to every other (bidirectional) unless
    ``is_causal=True`` or a mask says otherwise. Submodule names follow
    ``torch.nn.TransformerEncoderLayer`` (``self_attn``, ``norm1``, ``norm2``,
    ``dropout1``, ``dropout2``; the feed-forward's ``linear1``/``linear2`` sit
    in ``ff``), so weights map one to one.

    Args:
        embed_dim: model width E.
        num_heads: attention heads H.
        dim_feedforward: hidden width of the feed-forward network.
        dropout: dropout on attention weights, the feed-forward's hidden
            activations and both residual branches (training only).
        activation: ``"gelu"`` or ``"relu"``.
        norm_first: pre-norm (True) or post-norm (False), see the module docstring.
        layer_norm_eps: epsilon of the layer norms.
        bias: whether linear maps and layer norms have biases.

    Shape:
        - x: ``(N, L, E)``; key_padding_mask: ``(N, L)``, True = real token.
        - output: ``(N, L, E)``; weights: ``(N, H, L, L)`` when ``need_weights``.

    Example:
        >>> import torch
        >>> layer = EncoderLayer(embed_dim=16, num_heads=4, dim_feedforward=32)
        >>> x = torch.randn(2, 5, 16)
        >>> out, weights = layer(x, need_weights=True)
        >>> out.shape, weights.shape
        (torch.Size([2, 5, 16]), torch.Size([2, 4, 5, 5]))

    Introduced in chapter 09 (the transformer block).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float = 0.0,
        activation: str = "gelu",
        norm_first: bool = True,
        layer_norm_eps: float = 1e-5,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_layer_args(embed_dim, num_heads, dim_feedforward, dropout, activation)
        self.norm_first = norm_first
        self.self_attn = MultiheadAttention(embed_dim, num_heads, dropout=dropout, bias=bias)
        self.ff = FeedForward(embed_dim, dim_feedforward, dropout, activation, bias)
        self.norm1 = nn.LayerNorm(embed_dim, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(embed_dim, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        attn_mask: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        *,
        position_bias: Tensor | None = None,
        rotary: RotaryEmbedding | None = None,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Run the layer; masks and positions are those of :class:`~attnbook.attention.MultiheadAttention`.

        Returns:
            ``(output, weights)``; ``weights`` is ``(N, H, L, S)`` or None.
        """

        def attend(h: Tensor) -> tuple[Tensor, Tensor | None]:
            out, weights = self.self_attn(
                h,
                h,
                h,
                attn_mask=attn_mask,
                key_padding_mask=key_padding_mask,
                is_causal=is_causal,
                need_weights=need_weights,
                average_attn_weights=False,
                position_bias=position_bias,
                rotary=rotary,
                cache=cache,
            )
            return self.dropout1(out), weights

        if self.norm_first:
            attended, weights = attend(self.norm1(x))
            x = x + attended
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            attended, weights = attend(x)
            x = self.norm1(x + attended)
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x, weights


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to a memory, then feed-forward.

    The self-attention is always causal: position ``t`` sees positions
    ``0 .. t`` only. The cross-attention lets every position look at the whole
    encoder output (``memory``). With ``cross_attention=False`` the layer has
    no cross-attention at all: that is the block of a decoder-only (GPT-style)
    model. Submodule names follow ``torch.nn.TransformerDecoderLayer``
    (``self_attn``, ``multihead_attn``, ``norm1``–``norm3``, ``dropout1``–``dropout3``).

    Args:
        embed_dim: model width E.
        num_heads: attention heads H (self- and cross-attention).
        dim_feedforward: hidden width of the feed-forward network.
        dropout: dropout probability (training only).
        activation: ``"gelu"`` or ``"relu"``.
        norm_first: pre-norm (True) or post-norm (False).
        cross_attention: whether the layer attends to a memory.
        layer_norm_eps: epsilon of the layer norms.
        bias: whether linear maps and layer norms have biases.

    Shape:
        - x: ``(N, T, E)``; memory: ``(N, S, E)``;
          memory_key_padding_mask: ``(N, S)``, True = real token.
        - output: ``(N, T, E)``; self weights ``(N, H, T, T)`` (``T`` counts
          cached tokens too), cross weights ``(N, H, T, S)``.

    Example:
        >>> import torch
        >>> layer = DecoderLayer(embed_dim=16, num_heads=4, dim_feedforward=32)
        >>> out, self_w, cross_w = layer(torch.randn(2, 3, 16), torch.randn(2, 7, 16),
        ...                              need_weights=True)
        >>> out.shape, self_w.shape, cross_w.shape
        (torch.Size([2, 3, 16]), torch.Size([2, 4, 3, 3]), torch.Size([2, 4, 3, 7]))
        >>> bool(self_w[0, 0].triu(1).eq(0).all())  # no weight on later positions
        True

    Introduced in chapter 09 (the transformer block).
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float = 0.0,
        activation: str = "gelu",
        norm_first: bool = True,
        cross_attention: bool = True,
        layer_norm_eps: float = 1e-5,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_layer_args(embed_dim, num_heads, dim_feedforward, dropout, activation)
        self.norm_first = norm_first
        self.self_attn = MultiheadAttention(embed_dim, num_heads, dropout=dropout, bias=bias)
        self.multihead_attn = (
            MultiheadAttention(embed_dim, num_heads, dropout=dropout, bias=bias)
            if cross_attention
            else None
        )
        self.ff = FeedForward(embed_dim, dim_feedforward, dropout, activation, bias)
        self.norm1 = nn.LayerNorm(embed_dim, eps=layer_norm_eps, bias=bias)
        self.norm2 = (
            nn.LayerNorm(embed_dim, eps=layer_norm_eps, bias=bias) if cross_attention else None
        )
        self.norm3 = nn.LayerNorm(embed_dim, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        memory_key_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        *,
        position_bias: Tensor | None = None,
        rotary: RotaryEmbedding | None = None,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Run the layer.

        Args:
            x: the decoder's input (only the new tokens when decoding with ``cache``).
            memory: the encoder output; required iff the layer has cross-attention.
            memory_key_padding_mask: which memory positions are real (True).
            need_weights: also return per-head attention weights.
            position_bias: additive bias for the self-attention (relative, ALiBi).
            rotary: rotary embedding for the self-attention.
            cache: the self-attention's key/value cache for step-by-step decoding.

        Returns:
            ``(output, self_weights, cross_weights)``; the weights are None
            unless ``need_weights`` (and cross weights without cross-attention).
        """
        if (memory is None) != (self.multihead_attn is None):
            has = "has" if self.multihead_attn is not None else "has no"
            raise ValueError(
                f"memory: this layer {has} cross-attention, so memory must be "
                f"{'a tensor' if self.multihead_attn is not None else 'None'}, "
                f"got {'None' if memory is None else 'a tensor'}"
            )

        def self_block(h: Tensor) -> tuple[Tensor, Tensor | None]:
            out, weights = self.self_attn(
                h,
                h,
                h,
                is_causal=True,
                need_weights=need_weights,
                average_attn_weights=False,
                position_bias=position_bias,
                rotary=rotary,
                cache=cache,
            )
            return self.dropout1(out), weights

        def cross_block(h: Tensor) -> tuple[Tensor, Tensor | None]:
            assert self.multihead_attn is not None and memory is not None
            out, weights = self.multihead_attn(
                h,
                memory,
                memory,
                key_padding_mask=memory_key_padding_mask,
                need_weights=need_weights,
                average_attn_weights=False,
            )
            return self.dropout2(out), weights

        cross_weights = None
        if self.norm_first:
            out, self_weights = self_block(self.norm1(x))
            x = x + out
            if self.norm2 is not None:
                out, cross_weights = cross_block(self.norm2(x))
                x = x + out
            x = x + self.dropout3(self.ff(self.norm3(x)))
        else:
            out, self_weights = self_block(x)
            x = self.norm1(x + out)
            if self.norm2 is not None:
                out, cross_weights = cross_block(x)
                x = self.norm2(x + out)
            x = self.norm3(x + self.dropout3(self.ff(x)))
        return x, self_weights, cross_weights
