"""Multi-head attention as a module, and weight exchange with ``torch.nn.MultiheadAttention``.

:class:`MultiheadAttention` projects queries, keys and values, splits them into
heads, runs :func:`attnbook.functional.scaled_dot_product_attention` on every
head at once, and projects the concatenated heads back. It takes the same
arguments as ``torch.nn.MultiheadAttention`` (so the tests can load one's
weights into the other and compare), with three deliberate differences, each
named again where it matters:

* **batch first** by default (``(N, L, E)``); torch's default is ``(L, N, E)``;
* **masks in SDPA polarity** — boolean ``True`` = *may attend* — for
  ``attn_mask`` *and* ``key_padding_mask``; torch reads ``True`` as *masked
  out*. Convert with :func:`attnbook.masks.from_torch_mha_mask`;
* ``need_weights=False`` by default (torch: True).

It also takes what the model chapters need and torch's module lacks: an
additive ``position_bias`` (T5 relative bias, ALiBi), a ``rotary`` embedding
(RoPE) and a :class:`KVCache` for step-by-step decoding.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from attnbook.functional import scaled_dot_product_attention
from attnbook.masks import causal_mask, combine_masks
from attnbook.positional import RotaryEmbedding

__all__ = ["KVCache", "MultiheadAttention"]


class KVCache:
    """The keys and values one attention layer has already computed, for decoding.

    In autoregressive generation each new token attends to every earlier one.
    Instead of recomputing the earlier keys and values at every step, the layer
    appends the new ones here and attends to everything stored. Keep one cache
    per layer and per generated batch; start a new one for a new prompt.

    Keys are stored per head, *after* the projection and after any rotary
    embedding, so cached positions never need re-rotating.

    Introduced in chapter 11 (decoder-only, GPT-style).

    Shape:
        ``key`` and ``value``: ``(N, H, S, Eh)``, ``S`` = tokens seen so far.

    Example:
        >>> cache = KVCache()
        >>> len(cache)
        0
        >>> k, v = cache.update(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
        >>> k, v = cache.update(torch.ones(1, 2, 1, 4), torch.ones(1, 2, 1, 4))
        >>> len(cache), tuple(k.shape)
        (4, (1, 2, 4, 4))
    """

    def __init__(self) -> None:
        self.key: Tensor | None = None
        self.value: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.key is None else self.key.size(-2)

    def update(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """Append ``key``/``value`` ``(N, H, S_new, Eh)``; return all keys and values so far."""
        if self.key is None or self.value is None:
            self.key, self.value = key, value
        else:
            for name, new, old in (("key", key, self.key), ("value", value, self.value)):
                if new.shape[:2] != old.shape[:2] or new.shape[-1] != old.shape[-1]:
                    raise ValueError(
                        f"cache: expected new {name} of shape {(*old.shape[:2], 'S_new')} + "
                        f"({old.shape[-1]},) to match the cache, got {tuple(new.shape)}"
                    )
            self.key = torch.cat((self.key, key), dim=-2)  # (N, H, S + S_new, Eh)
            self.value = torch.cat((self.value, value), dim=-2)  # (N, H, S + S_new, Eh)
        return self.key, self.value

    def __repr__(self) -> str:
        return f"KVCache(len={len(self)})"


class MultiheadAttention(nn.Module):
    r"""Multi-head attention: ``concat(head_1, ..., head_H) W_O``, each head attending alone.

    Head ``h`` is ``attention(Q W_Q^h, K W_K^h, V W_V^h)``. A readable twin of
    ``torch.nn.MultiheadAttention`` for self-attention
    (``query is key is value``) and cross-attention (queries from one sequence,
    keys and values from another, possibly of other widths ``kdim``/``vdim``).

    **Batch first.** ``batch_first=True`` is the default here, so inputs are
    ``(N, L, E)``; ``torch.nn.MultiheadAttention`` defaults to
    ``batch_first=False``, ``(L, N, E)``. Pass ``batch_first=False`` for the
    torch layout.

    **Parameters.** Four ``nn.Linear`` layers, ``q_proj`` (E→E), ``k_proj``
    (kdim→E), ``v_proj`` (vdim→E) and ``out_proj`` (E→E). Torch packs the
    first three: when ``kdim == vdim == embed_dim`` into ``in_proj_weight`` of
    shape (3E, E) = ``cat([q_proj.weight, k_proj.weight, v_proj.weight])``,
    otherwise into ``q_proj_weight``, ``k_proj_weight`` and ``v_proj_weight``;
    the biases always into ``in_proj_bias`` (3E,) = ``cat([q, k, v biases])``.
    :meth:`from_torch` and :meth:`to_torch` convert. Each head has width
    ``head_dim = embed_dim // num_heads`` and scores are scaled by
    ``1 / sqrt(head_dim)`` — the head width, not the model width.

    **Masks, in SDPA polarity: boolean True = may attend** (torch's module
    reads True as *masked out*; convert its masks with
    :func:`attnbook.masks.from_torch_mha_mask`). Float masks are added.

    * ``attn_mask``: ``(L, S)``, or 4-D ``(N or 1, H or 1, L or 1, S)`` — e.g. the
      ``(N, 1, 1, S)`` of :func:`attnbook.masks.padding_mask`. Torch's 3-D
      ``(N*H, L, S)`` form is refused: reshape it with ``.view(N, H, L, S)``.
    * ``key_padding_mask``: ``(N, S)``, **True = real token** (torch: True = padding!).
    * ``is_causal=True`` builds the causal mask itself (torch's module only
      treats it as a hint and still needs ``attn_mask``). Query ``i`` sits at
      position ``len(cache) + i`` and sees keys at positions up to its own;
      without a cache that is SDPA's top-left alignment.

    All masks given are combined (:func:`attnbook.masks.combine_masks`): a key is
    kept only where every mask keeps it. A query with no key left gets a zero
    output and zero weights.

    **Positions** (all optional, keyword-only):

    * ``position_bias``: a float bias added to the scores, ``(H, L, S)`` or 4-D
      ``(N or 1, H or 1, L or 1, S)`` — the output of
      :class:`~attnbook.positional.RelativePositionBias` or
      :func:`~attnbook.positional.alibi_bias` (pass ``offset=len(cache)`` to them
      when decoding with a cache);
    * ``rotary``: a :class:`~attnbook.positional.RotaryEmbedding` with
      ``head_dim`` features, applied to the per-head queries and keys after
      the projections (at positions ``len(cache) ..``).

    **Decoding with a cache.** Pass the same :class:`KVCache` at every step,
    with only the new tokens as ``query``/``key``/``value``; the layer appends
    their keys and values and attends to all of them (see the example below).
    ``attn_mask``, ``key_padding_mask`` and ``position_bias`` then describe all
    ``S = len(cache)`` keys, the cached ones included. For cross-attention
    during decoding, pass the encoder output again at each step (no cache).

    Introduced in chapter 05 (multi-head attention).

    Args:
        embed_dim: model width E (of queries and of the output).
        num_heads: number of heads H; must divide ``embed_dim``.
        dropout: dropout probability on the attention weights (training only).
        bias: whether the four projections have biases.
        kdim: width of the keys (default ``embed_dim``).
        vdim: width of the values (default ``embed_dim``).
        batch_first: ``(N, L, E)`` if True (default), else ``(L, N, E)``.
        device: device of the parameters.
        dtype: dtype of the parameters.

    Shape:
        - query: ``(N, L, E)``; key: ``(N, S, kdim)``; value: ``(N, S, vdim)``
          (sequence first when ``batch_first=False``).
        - output: ``(N, L, E)`` (or ``(L, N, E)``).
        - weights: ``(N, L, S)`` averaged over heads, or ``(N, H, L, S)`` with
          ``average_attn_weights=False``; None unless ``need_weights=True``.

    Example:
        >>> mha = MultiheadAttention(embed_dim=16, num_heads=4)
        >>> x = torch.randn(2, 5, 16)  # (N, L, E)
        >>> out, weights = mha(x, x, x, need_weights=True)
        >>> out.shape, weights.shape
        (torch.Size([2, 5, 16]), torch.Size([2, 5, 5]))
        >>> torch_mha = mha.to_torch()  # same weights, torch's module
        >>> torch.allclose(torch_mha(x, x, x)[0], out, atol=1e-6)
        True

        Decoding token by token with a cache gives what one causal pass gives:

        >>> causal, _ = mha(x, x, x, is_causal=True)
        >>> cache = KVCache()
        >>> prompt, new = x[:, :4], x[:, 4:]  # 4 tokens so far, then 1 more
        >>> _ = mha(prompt, prompt, prompt, is_causal=True, cache=cache)  # fills the cache
        >>> step, _ = mha(new, new, new, is_causal=True, cache=cache)  # only the new token
        >>> len(cache), torch.allclose(step, causal[:, 4:], atol=1e-6)
        (5, True)
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        for name, size in (("embed_dim", embed_dim), ("num_heads", num_heads)):
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise ValueError(f"{name}: expected a positive int, got {size!r}")
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim: expected a multiple of num_heads={num_heads}, got {embed_dim}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout}")
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = embed_dim if kdim is None else kdim
        self.vdim = embed_dim if vdim is None else vdim
        self.head_dim = embed_dim // num_heads
        self.batch_first = batch_first
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self.k_proj = nn.Linear(self.kdim, embed_dim, bias=bias, **factory)
        self.v_proj = nn.Linear(self.vdim, embed_dim, bias=bias, **factory)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias, **factory)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # torch's initialisation: Xavier-uniform input projections, zero biases, and
        # out_proj's weight as nn.Linear draws it.
        with torch.no_grad():
            if self.kdim == self.vdim == self.embed_dim:
                # Drawn as torch draws its packed (3E, E) matrix, so the scale is the same.
                w = self.q_proj.weight
                packed = torch.empty(
                    3 * self.embed_dim, self.embed_dim, dtype=w.dtype, device=w.device
                )
                nn.init.xavier_uniform_(packed)
                for proj, part in zip(self._in_projs(), packed.chunk(3), strict=True):
                    proj.weight.copy_(part)
            else:
                for proj in self._in_projs():
                    nn.init.xavier_uniform_(proj.weight)
            for proj in (*self._in_projs(), self.out_proj):
                if proj.bias is not None:
                    proj.bias.zero_()

    def _in_projs(self) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
        return self.q_proj, self.k_proj, self.v_proj

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        attn_mask: Tensor | None = None,
        key_padding_mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        average_attn_weights: bool = True,
        *,
        position_bias: Tensor | None = None,
        rotary: RotaryEmbedding | None = None,
        cache: KVCache | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from ``query`` to ``key``/``value``; the class docstring has the details.

        Args:
            query: ``(N, L, E)`` (``(L, N, E)`` if not ``batch_first``).
            key: ``(N, S, kdim)``; the same tensor as ``query`` for self-attention.
            value: ``(N, S, vdim)``.
            attn_mask: bool (True = may attend) or float, ``(L, S)`` or ``(N|1, H|1, L|1, S)``.
            key_padding_mask: ``(N, S)``, bool **True = real token** (the opposite
                of torch's), or float (added).
            is_causal: hide keys after each query (positions counted from the cache).
            need_weights: also return the attention weights.
            average_attn_weights: average the weights over heads.
            position_bias: float ``(H, L, S)`` or ``(N|1, H|1, L|1, S)`` added to the scores.
            rotary: a :class:`~attnbook.positional.RotaryEmbedding` for queries and keys.
            cache: a :class:`KVCache` to append to and attend over.

        Returns:
            ``(output, weights)``; ``weights`` is None unless ``need_weights``.
        """
        self._check_inputs(query, key, value, rotary)
        if not self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))  # (N, L|S, *)
        q = self._split_heads(self.q_proj(query))  # (N, L, E) -> (N, H, L, Eh)
        k = self._split_heads(self.k_proj(key))  # (N, S_new, kdim) -> (N, H, S_new, Eh)
        v = self._split_heads(self.v_proj(value))  # (N, S_new, vdim) -> (N, H, S_new, Eh)
        past = 0 if cache is None else len(cache)
        if rotary is not None:
            q, k = rotary(q, offset=past), rotary(k, offset=past)  # shapes unchanged
        if cache is not None:
            k, v = cache.update(k, v)  # (N, H, S, Eh) with S = past + S_new
        mask = self._merge_masks(q, k, past, attn_mask, key_padding_mask, position_bias, is_causal)
        dropout_p = self.dropout if self.training else 0.0
        out, weights = scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, need_weights=True
        )  # (N, H, L, Eh), (N, H, L, S)
        N, H, L, Eh = out.shape
        out = self.out_proj(out.transpose(1, 2).reshape(N, L, H * Eh))  # (N, L, H, Eh) -> (N, L, E)
        if not self.batch_first:
            out = out.transpose(0, 1)  # (L, N, E)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = weights.mean(dim=1)  # (N, H, L, S) -> (N, L, S)
        return out, weights

    def _split_heads(self, x: Tensor) -> Tensor:
        N, L, _ = x.shape
        return x.view(N, L, self.num_heads, self.head_dim).transpose(1, 2)  # (N, H, L, Eh)

    def _check_inputs(
        self, query: Tensor, key: Tensor, value: Tensor, rotary: RotaryEmbedding | None
    ) -> None:
        layout = "(N, L, features)" if self.batch_first else "(L, N, features)"
        expected = (("query", self.embed_dim), ("key", self.kdim), ("value", self.vdim))
        for (name, features), x in zip(expected, (query, key, value), strict=True):
            if not isinstance(x, Tensor):
                raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
            if x.dim() != 3:
                raise ValueError(
                    f"{name}: expected 3 dims {layout} (batch_first={self.batch_first}), "
                    f"got shape {tuple(x.shape)}"
                )
            if x.size(-1) != features:
                size = {"query": "embed_dim", "key": "kdim", "value": "vdim"}[name]
                raise ValueError(
                    f"{name}: expected last dim {size}={features}, got shape {tuple(x.shape)}"
                )
        batch = 0 if self.batch_first else 1
        if not query.size(batch) == key.size(batch) == value.size(batch):
            raise ValueError(
                f"query, key, value: expected one batch size N (dim {batch}), got shapes "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        if key.size(1 - batch) != value.size(1 - batch):
            raise ValueError(
                f"key, value: expected the same length S (dim {1 - batch}), got shapes "
                f"{tuple(key.shape)} and {tuple(value.shape)}"
            )
        if rotary is not None and getattr(rotary, "head_dim", None) != self.head_dim:
            raise ValueError(
                f"rotary: expected a RotaryEmbedding with head_dim={self.head_dim}, got {rotary!r}"
            )

    def _merge_masks(
        self,
        q: Tensor,
        k: Tensor,
        past: int,
        attn_mask: Tensor | None,
        key_padding_mask: Tensor | None,
        position_bias: Tensor | None,
        is_causal: bool,
    ) -> Tensor | None:
        """Check every mask against ``(N, H, L, S)`` and combine them into one SDPA mask."""
        N, H, L, _ = q.shape
        S = k.size(-2)
        if attn_mask is not None:
            _check_mask("attn_mask", attn_mask, (N, H, L, S), allow_2d=True)
        if key_padding_mask is not None:
            _check_dtype("key_padding_mask", key_padding_mask)
            if key_padding_mask.shape != (N, S):
                raise ValueError(
                    f"key_padding_mask: expected shape (N, S) = ({N}, {S}) with True = real "
                    f"token, got {tuple(key_padding_mask.shape)}"
                )
            key_padding_mask = key_padding_mask[:, None, None, :]  # (N, 1, 1, S)
        if position_bias is not None:
            if not (isinstance(position_bias, Tensor) and position_bias.is_floating_point()):
                raise TypeError(f"position_bias: expected a float tensor, got {position_bias!r}")
            if position_bias.dim() == 3:
                position_bias = position_bias.unsqueeze(0)  # (H, L, S) -> (1, H, L, S)
            _check_mask("position_bias", position_bias, (N, H, L, S), allow_2d=False)
        # Query i sits at position past + i: rows past .. past + L - 1 of a causal mask.
        causal = causal_mask(past + L, S, device=q.device)[past:] if is_causal else None  # (L, S)
        mask = combine_masks(attn_mask, key_padding_mask, causal, position_bias)
        return mask.to(q.dtype) if mask is not None and mask.is_floating_point() else mask

    @classmethod
    def from_torch(cls, module: nn.MultiheadAttention) -> MultiheadAttention:
        """Build a :class:`MultiheadAttention` with the weights of ``torch.nn.MultiheadAttention``.

        Keeps ``batch_first``, ``dropout``, device, dtype and training mode.
        ``add_bias_kv=True`` and ``add_zero_attn=True`` have no counterpart
        here and are refused.

        Example:
            >>> torch_mha = torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5)
            >>> mha = MultiheadAttention.from_torch(torch_mha)
            >>> mha.batch_first, mha.kdim, mha.vdim
            (False, 3, 5)
        """
        if not isinstance(module, nn.MultiheadAttention):
            raise TypeError(
                f"module: expected a torch.nn.MultiheadAttention, got {type(module).__name__}"
            )
        if module.bias_k is not None or module.add_zero_attn:
            raise ValueError(
                "module: add_bias_kv=True and add_zero_attn=True are not supported "
                f"(got bias_k={'set' if module.bias_k is not None else None}, "
                f"add_zero_attn={module.add_zero_attn})"
            )
        weight = module.out_proj.weight
        ours = cls(
            module.embed_dim,
            module.num_heads,
            dropout=module.dropout,
            bias=module.in_proj_bias is not None,
            kdim=module.kdim,
            vdim=module.vdim,
            batch_first=module.batch_first,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            if module.in_proj_weight is not None:  # packed (3E, E) = [W_q; W_k; W_v]
                weights = module.in_proj_weight.chunk(3)
            else:
                weights = (module.q_proj_weight, module.k_proj_weight, module.v_proj_weight)
            for proj, w in zip(ours._in_projs(), weights, strict=True):
                proj.weight.copy_(w)
            ours.out_proj.weight.copy_(module.out_proj.weight)
            if module.in_proj_bias is not None:
                for proj, b in zip(ours._in_projs(), module.in_proj_bias.chunk(3), strict=True):
                    proj.bias.copy_(b)
                ours.out_proj.bias.copy_(module.out_proj.bias)
        return ours.train(module.training)

    def to_torch(self) -> nn.MultiheadAttention:
        """A ``torch.nn.MultiheadAttention`` with these weights (and batch_first, dropout, mode).

        Remember that the torch module reads boolean masks the other way round
        (True = masked out): convert with :func:`attnbook.masks.to_torch_mha_mask`.

        Example:
            >>> mha = MultiheadAttention(8, 2, bias=False)
            >>> torch_mha = mha.to_torch()
            >>> torch_mha.batch_first, torch_mha.in_proj_bias is None
            (True, True)
        """
        weight = self.out_proj.weight
        module = nn.MultiheadAttention(
            self.embed_dim,
            self.num_heads,
            dropout=self.dropout,
            bias=self.out_proj.bias is not None,
            kdim=self.kdim,
            vdim=self.vdim,
            batch_first=self.batch_first,
            device=weight.device,
            dtype=weight.dtype,
        )
        with torch.no_grad():
            weights = [proj.weight for proj in self._in_projs()]
            if module.in_proj_weight is not None:
                module.in_proj_weight.copy_(torch.cat(weights))  # (3E, E)
            else:
                module.q_proj_weight.copy_(weights[0])
                module.k_proj_weight.copy_(weights[1])
                module.v_proj_weight.copy_(weights[2])
            module.out_proj.weight.copy_(self.out_proj.weight)
            if module.in_proj_bias is not None:
                module.in_proj_bias.copy_(torch.cat([p.bias for p in self._in_projs()]))  # (3E,)
                module.out_proj.bias.copy_(self.out_proj.bias)
        return module.train(self.training)

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"kdim={self.kdim}, vdim={self.vdim}, batch_first={self.batch_first}"
        )


def _check_dtype(name: str, mask: object) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name}: expected dtype torch.bool or a floating dtype, got {mask.dtype}")


def _check_mask(name: str, mask: Tensor, full: tuple[int, int, int, int], allow_2d: bool) -> None:
    """Accept ``(L, S)`` (if ``allow_2d``) or 4-D ``(N|1, H|1, L|1, S)``; nothing else."""
    _check_dtype(name, mask)
    N, H, L, S = full
    ok_2d = allow_2d and mask.shape == (L, S)
    ok_4d = mask.dim() == 4 and mask.size(-1) == S
    ok_4d = ok_4d and all(
        got in (1, want) for got, want in zip(mask.shape[:3], full[:3], strict=False)
    )
    if not (ok_2d or ok_4d):
        forms = f"(L, S) = ({L}, {S})" if allow_2d else f"(H, L, S) = ({H}, {L}, {S})"
        hint = ""
        if mask.dim() == 3 and name == "attn_mask":
            hint = "; a torch-style (N*H, L, S) mask must be reshaped with .view(N, H, L, S)"
        raise ValueError(
            f"{name}: expected shape {forms} or (N or 1, H or 1, L or 1, S) = "
            f"({N}, {H}, {L}, {S}), got {tuple(mask.shape)}{hint}"
        )
