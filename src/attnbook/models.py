"""Three transformer families built from :mod:`attnbook.blocks`.

* :class:`EncoderOnly` (BERT-style) — bidirectional layers; a head for
  sequence classification, token classification, pointing at a token, or
  masked-token prediction;
* :class:`DecoderOnly` (GPT-style) — causal layers, a language-model head,
  :meth:`DecoderOnly.generate` with sampling and a key/value cache;
* :class:`EncoderDecoder` (T5-style) — an encoder, a causal decoder with
  cross-attention, greedy decoding.

Each model takes a ``@dataclass`` config, so a model is fully described by a
few numbers (saved with its weights by :func:`attnbook.train.save_checkpoint`).
The positional scheme is a config field: ``"sinusoidal"``, ``"learned"``
(added to the embeddings), ``"relative"`` (T5 bias), ``"alibi"`` (bias),
``"rope"`` (rotary, inside attention) or ``"none"``.

Every forward returns a :class:`ModelOutput`; with ``need_weights=True`` it
also holds the attention weights of every layer and head, ``(N, H, L, S)``
each, for the visualisation chapters. Modules are batch first.

Introduced in chapter 10 (encoder-only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.attention import KVCache
from attnbook.blocks import DecoderLayer, EncoderLayer
from attnbook.positional import (
    LearnedPositionalEmbedding,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
)

__all__ = [
    "POSITIONAL_SCHEMES",
    "DecoderOnly",
    "DecoderOnlyConfig",
    "EncoderDecoder",
    "EncoderDecoderConfig",
    "EncoderOnly",
    "EncoderOnlyConfig",
    "ModelOutput",
    "TransformerConfig",
]

#: The positional schemes a config may name.
POSITIONAL_SCHEMES: tuple[str, ...] = ("sinusoidal", "learned", "relative", "rope", "alibi", "none")
#: The heads an encoder-only model may carry.
ENCODER_HEADS: tuple[str, ...] = ("sequence", "token", "pointer", "mlm")


# --- configs ---------------------------------------------------------------------
@dataclass
class TransformerConfig:
    """What every model shares. Subclasses add their own fields.

    Introduced in chapter 10 (encoder-only).
    """

    vocab_size: int  # number of token ids (the tokenizer's vocab_size)
    max_len: int = 128  # the context: longest sequence (prompt + generated) the model accepts
    embed_dim: int = 64  # model width E
    num_heads: int = 4  # attention heads H per layer; must divide embed_dim
    num_layers: int = 2  # layers in the stack (the encoder's, for EncoderDecoder)
    dim_feedforward: int = 256  # hidden width of each feed-forward network
    dropout: float = 0.0  # dropout probability everywhere (training mode only)
    activation: str = "gelu"  # "gelu" or "relu" in the feed-forward networks
    norm_first: bool = True  # pre-norm (True, GPT-2 and later) or post-norm (False, 2017)
    positional: str = "sinusoidal"  # one of POSITIONAL_SCHEMES
    relative_buckets: int = 32  # "relative" only: number of T5 buckets
    relative_max_distance: int = 128  # "relative" only: distance where buckets stop growing
    pad_id: int = 0  # the padding id (the tokenizers' <pad> is 0)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_len", "embed_dim", "num_heads", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim: expected a multiple of num_heads={self.num_heads}, "
                f"got {self.embed_dim}"
            )
        if self.positional not in POSITIONAL_SCHEMES:
            raise ValueError(
                f"positional: expected one of {POSITIONAL_SCHEMES}, got {self.positional!r}"
            )
        if self.positional == "sinusoidal" and self.embed_dim % 2:
            raise ValueError(
                f"embed_dim: sinusoidal positions need an even width, got {self.embed_dim}"
            )
        if self.positional == "rope" and (self.embed_dim // self.num_heads) % 2:
            raise ValueError(
                "embed_dim, num_heads: rope needs an even head width, got "
                f"{self.embed_dim} // {self.num_heads} = {self.embed_dim // self.num_heads}"
            )
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(f"pad_id: expected an id in [0, {self.vocab_size}), got {self.pad_id}")

    @property
    def head_dim(self) -> int:
        """Width of one head, ``embed_dim // num_heads``."""
        return self.embed_dim // self.num_heads


@dataclass
class EncoderOnlyConfig(TransformerConfig):
    """Config of :class:`EncoderOnly`.

    Example:
        >>> EncoderOnlyConfig(vocab_size=100, head="pointer").head_dim
        16

    Introduced in chapter 10 (encoder-only).
    """

    head: str = "sequence"  # "sequence", "token", "pointer" or "mlm" (see EncoderOnly)
    num_labels: int = 2  # classes of the "sequence" and "token" heads
    pooling: str = "first"  # "sequence" head: the first token's state, or the "mean" of real ones

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.head not in ENCODER_HEADS:
            raise ValueError(f"head: expected one of {ENCODER_HEADS}, got {self.head!r}")
        if self.pooling not in ("first", "mean"):
            raise ValueError(f"pooling: expected 'first' or 'mean', got {self.pooling!r}")
        if not isinstance(self.num_labels, int) or self.num_labels < 1:
            raise ValueError(f"num_labels: expected a positive int, got {self.num_labels!r}")


@dataclass
class DecoderOnlyConfig(TransformerConfig):
    """Config of :class:`DecoderOnly`.

    Example:
        >>> DecoderOnlyConfig(vocab_size=65, positional="rope").positional
        'rope'

    Introduced in chapter 11 (decoder-only).
    """

    # No extra fields: a GPT-style model is described by the shared ones.


@dataclass
class EncoderDecoderConfig(TransformerConfig):
    """Config of :class:`EncoderDecoder`. Both sides share one vocabulary and embedding.

    Example:
        >>> EncoderDecoderConfig(vocab_size=62, num_decoder_layers=1).num_decoder_layers
        1

    Introduced in chapter 12 (encoder-decoder).
    """

    num_decoder_layers: int = 2  # layers in the decoder (num_layers counts the encoder's)
    max_tgt_len: int = 32  # longest target the decoder accepts (its own context)

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("num_decoder_layers", "max_tgt_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")


# --- outputs -----------------------------------------------------------------------
@dataclass
class ModelOutput:
    """What a model's forward returns.

    Attributes:
        logits: the head's output (shape depends on the model and head).
        hidden: the last layer's states after the final norm, ``(N, L, E)``.
        attentions: self-attention weights, one ``(N, H, L, S)`` per layer
            (the decoder's for :class:`EncoderDecoder`); None unless asked for.
        cross_attentions: :class:`EncoderDecoder` only, ``(N, H, T, S)`` per decoder layer.
        encoder_attentions: :class:`EncoderDecoder` only, ``(N, H, S, S)`` per encoder layer.
    """

    logits: Tensor
    hidden: Tensor
    attentions: list[Tensor] | None = None
    cross_attentions: list[Tensor] | None = None
    encoder_attentions: list[Tensor] | None = None


# --- shared pieces -------------------------------------------------------------------
class _Positions(nn.Module):
    """The positional scheme of one stack: added vectors, a score bias, or rotations."""

    def __init__(self, config: TransformerConfig, max_len: int, causal: bool) -> None:
        super().__init__()
        self.scheme, self.causal, self.num_heads = config.positional, causal, config.num_heads
        self.max_len = max_len
        self.added: nn.Module | None = None
        self.relative: RelativePositionBias | None = None
        self.rotary: RotaryEmbedding | None = None
        if self.scheme == "sinusoidal":
            self.added = SinusoidalPositionalEncoding(config.embed_dim, max_len)
        elif self.scheme == "learned":
            self.added = LearnedPositionalEmbedding(max_len, config.embed_dim)
        elif self.scheme == "relative":
            self.relative = RelativePositionBias(
                config.num_heads,
                config.relative_buckets,
                config.relative_max_distance,
                bidirectional=not causal,
            )
        elif self.scheme == "rope":
            self.rotary = RotaryEmbedding(config.head_dim, max_len=max_len)

    def add(self, x: Tensor, offset: int = 0) -> Tensor:
        """Add position vectors to token embeddings (sinusoidal, learned); else ``x`` unchanged."""
        return x if self.added is None else self.added(x, offset=offset)

    def bias(self, L: int, S: int, offset: int, device: torch.device) -> Tensor | None:
        """The score bias shared by every layer (relative, ALiBi), ``(1, H, L, S)``; else None."""
        if self.relative is not None:
            return self.relative(L, S, offset=offset, device=device)
        if self.scheme == "alibi":
            return alibi_bias(
                self.num_heads, L, S, causal=self.causal, offset=offset, device=device
            )
        return None


def _check_ids(name: str, ids: Tensor, vocab_size: int, max_len: int, offset: int = 0) -> None:
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dim() != 2:
        raise ValueError(f"{name}: expected shape (N, L), got {tuple(ids.shape)}")
    if ids.dtype not in (torch.long, torch.int32):
        raise TypeError(f"{name}: expected dtype torch.long, got {ids.dtype}")
    if ids.size(1) == 0:
        raise ValueError(f"{name}: expected at least one token, got shape {tuple(ids.shape)}")
    if offset + ids.size(1) > max_len:
        where = f" after {offset} cached tokens" if offset else ""
        raise ValueError(
            f"{name}: a sequence of {ids.size(1)} tokens{where} is longer than the model's "
            f"context max_len={max_len}"
        )
    low, high = int(ids.min()), int(ids.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name}: id {bad} is outside the vocabulary [0, {vocab_size})")


def _check_padding(name: str, mask: Tensor | None, ids: Tensor) -> None:
    if mask is None:
        return
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"{name}: expected a bool tensor (True = real token), got {got}")
    if mask.shape != ids.shape:
        raise ValueError(
            f"{name}: expected the shape of the ids {tuple(ids.shape)}, got {tuple(mask.shape)}"
        )


class _Model(nn.Module):
    """Shared by the three models: the config check and the initialisation."""

    config_class: ClassVar[type[TransformerConfig]] = TransformerConfig

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        if type(config) is not self.config_class:
            raise TypeError(
                f"config: expected a {self.config_class.__name__}, got {type(config).__name__}"
            )
        self.config = config

    def _init_weights(self) -> None:
        # GPT-2's small normal weights (std 0.02) for embeddings and for the linear maps
        # outside attention (which keeps torch's initialisation). Small embeddings matter:
        # with N(0, 1) tables an Adam step barely moves a token's vector relative to its
        # size, and a toy task that hinges on word classes stalls for hundreds of steps.
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear) and "attn" not in name:
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)

    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


def _encoder_stack(config: TransformerConfig) -> nn.ModuleList:
    return nn.ModuleList(
        EncoderLayer(
            config.embed_dim,
            config.num_heads,
            config.dim_feedforward,
            config.dropout,
            config.activation,
            config.norm_first,
        )
        for _ in range(config.num_layers)
    )


def _decoder_stack(
    config: TransformerConfig, num_layers: int, cross_attention: bool
) -> nn.ModuleList:
    # Decoder-only stacks have no memory to attend to: cross_attention=False.
    return nn.ModuleList(
        DecoderLayer(
            config.embed_dim,
            config.num_heads,
            config.dim_feedforward,
            config.dropout,
            config.activation,
            config.norm_first,
            cross_attention=cross_attention,
        )
        for _ in range(num_layers)
    )


def _final_norm(config: TransformerConfig) -> nn.Module:
    # Pre-norm stacks end un-normalised; post-norm layers already end with a norm.
    return nn.LayerNorm(config.embed_dim) if config.norm_first else nn.Identity()


# --- encoder-only --------------------------------------------------------------------
class EncoderOnly(_Model):
    """A BERT-style encoder: embeddings, positions, bidirectional layers, one head.

    The head is chosen by ``config.head``:

    * ``"sequence"`` — one label per sequence, from the first token's state
      (``pooling="first"``, put a ``<bos>``/CLS token there) or the mean of the
      real tokens' states; logits ``(N, num_labels)``;
    * ``"token"`` — one label per token; logits ``(N, L, num_labels)``;
    * ``"pointer"`` — one score per token, softmax over positions picks a
      token (the antecedent of "it", the answer in a story); logits ``(N, L)``,
      padding positions get the lowest float so they are never picked;
    * ``"mlm"`` — a distribution over the vocabulary at every position, for
      masked-token prediction; logits ``(N, L, vocab_size)``.

    Args:
        config: an :class:`EncoderOnlyConfig`.

    Shape:
        - input_ids: ``(N, L)``; padding_mask: ``(N, L)``, True = real token.
        - logits: see above; hidden: ``(N, L, E)``; attentions: ``num_layers``
          tensors ``(N, H, L, L)``.

    Example:
        >>> config = EncoderOnlyConfig(vocab_size=20, embed_dim=16, num_heads=2, head="pointer")
        >>> model = EncoderOnly(config)
        >>> ids = torch.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])
        >>> out = model(ids, padding_mask=ids != 0, need_weights=True)
        >>> out.logits.shape, len(out.attentions), out.attentions[0].shape
        (torch.Size([2, 4]), 2, torch.Size([2, 2, 4, 4]))

    Introduced in chapter 10 (encoder-only).
    """

    config_class = EncoderOnlyConfig

    def __init__(self, config: EncoderOnlyConfig) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.positions = _Positions(config, config.max_len, causal=False)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = _encoder_stack(config)
        self.norm = _final_norm(config)
        out = {"sequence": config.num_labels, "token": config.num_labels, "pointer": 1}
        self.head = nn.Linear(config.embed_dim, out.get(config.head, config.vocab_size))
        self._init_weights()

    def forward(
        self, input_ids: Tensor, padding_mask: Tensor | None = None, need_weights: bool = False
    ) -> ModelOutput:
        """Encode ``input_ids`` and apply the head (see the class docstring)."""
        config = self.config
        _check_ids("input_ids", input_ids, config.vocab_size, config.max_len)
        _check_padding("padding_mask", padding_mask, input_ids)
        N, L = input_ids.shape
        x = self.dropout(self.positions.add(self.embedding(input_ids)))  # (N, L, E)
        bias = self.positions.bias(L, L, 0, input_ids.device)  # (1, H, L, L) or None
        attentions = []
        for layer in self.layers:
            x, weights = layer(
                x,
                key_padding_mask=padding_mask,
                need_weights=need_weights,
                position_bias=bias,
                rotary=self.positions.rotary,
            )
            attentions.append(weights)
        hidden = self.norm(x)  # (N, L, E)
        return ModelOutput(
            self._head(hidden, padding_mask), hidden, attentions if need_weights else None
        )

    def _head(self, hidden: Tensor, padding_mask: Tensor | None) -> Tensor:
        head = self.config.head
        if head == "sequence":
            if self.config.pooling == "first":
                pooled = hidden[:, 0]  # (N, E)
            elif padding_mask is None:
                pooled = hidden.mean(dim=1)  # (N, E)
            else:
                weights = padding_mask.unsqueeze(-1).to(hidden.dtype)  # (N, L, 1)
                pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)  # (N, E)
            return self.head(pooled)  # (N, C)
        logits = self.head(hidden)  # (N, L, C) or (N, L, 1) or (N, L, V)
        if head != "pointer":
            return logits
        logits = logits.squeeze(-1)  # (N, L)
        if padding_mask is not None:
            logits = logits.masked_fill(~padding_mask, torch.finfo(logits.dtype).min)
        return logits


# --- decoder-only --------------------------------------------------------------------
class DecoderOnly(_Model):
    """A GPT-style causal language model.

    Position ``t`` sees tokens ``0 .. t`` only, and ``logits[:, t]`` predicts
    token ``t + 1``. :meth:`generate` continues a prompt token by token,
    reusing every layer's keys and values through a
    :class:`~attnbook.attention.KVCache` (the same tokens as without it, far
    less work per token).

    Args:
        config: a :class:`DecoderOnlyConfig`.

    Shape:
        - input_ids: ``(N, L)``, ``L <= max_len`` (minus cached tokens).
        - logits: ``(N, L, vocab_size)``; attentions: ``num_layers`` tensors
          ``(N, H, L, S)`` (``S`` counts cached tokens).

    Example:
        >>> model = DecoderOnly(DecoderOnlyConfig(vocab_size=10, embed_dim=16, num_heads=2))
        >>> model(torch.tensor([[1, 2, 3]])).logits.shape
        torch.Size([1, 3, 10])
        >>> model.generate(torch.tensor([1, 2, 3]), max_new_tokens=4, temperature=0).shape
        torch.Size([1, 7])

    Introduced in chapter 11 (decoder-only).
    """

    config_class = DecoderOnlyConfig

    def __init__(self, config: DecoderOnlyConfig) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.positions = _Positions(config, config.max_len, causal=True)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = _decoder_stack(config, config.num_layers, cross_attention=False)
        self.norm = _final_norm(config)
        self.lm_head = nn.Linear(config.embed_dim, config.vocab_size, bias=False)
        self._init_weights()

    def new_cache(self) -> list[KVCache]:
        """An empty key/value cache: one :class:`~attnbook.attention.KVCache` per layer."""
        return [KVCache() for _ in self.layers]

    def forward(
        self,
        input_ids: Tensor,
        need_weights: bool = False,
        cache: list[KVCache] | None = None,
    ) -> ModelOutput:
        """Next-token logits at every position.

        Args:
            input_ids: token ids; with a ``cache``, only the tokens it has not seen.
            need_weights: also return every layer's per-head attention weights.
            cache: from :meth:`new_cache`; filled in place.
        """
        config = self.config
        if cache is not None and len(cache) != len(self.layers):
            raise ValueError(
                f"cache: expected one KVCache per layer ({len(self.layers)}), got {len(cache)}"
            )
        offset = 0 if cache is None else len(cache[0])
        _check_ids("input_ids", input_ids, config.vocab_size, config.max_len, offset)
        L = input_ids.size(1)
        x = self.dropout(self.positions.add(self.embedding(input_ids), offset))  # (N, L, E)
        bias = self.positions.bias(L, offset + L, offset, input_ids.device)  # (1, H, L, S)
        attentions = []
        for i, layer in enumerate(self.layers):
            x, weights, _ = layer(
                x,
                need_weights=need_weights,
                position_bias=bias,
                rotary=self.positions.rotary,
                cache=None if cache is None else cache[i],
            )
            attentions.append(weights)
        hidden = self.norm(x)  # (N, L, E)
        return ModelOutput(self.lm_head(hidden), hidden, attentions if need_weights else None)

    @torch.no_grad()
    def generate(
        self,
        prompt: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_cache: bool = True,
        generator: torch.Generator | None = None,
        do_sample: bool = True,
    ) -> Tensor:
        """Continue ``prompt`` by ``max_new_tokens`` tokens.

        Each step turns the last position's logits into a token: the arg-max
        (greedy) when ``do_sample=False`` or ``temperature == 0``; otherwise a
        sample from ``softmax(logits / temperature)``, restricted to the
        ``top_k`` most likely tokens if given. When the sequence outgrows the
        context, only its last ``max_len`` tokens are fed (with or without
        the cache, so both give the same tokens). Dropout is off while
        generating.

        Args:
            prompt: token ids, ``(L,)`` or ``(N, L)``.
            max_new_tokens: how many tokens to add.
            temperature: divides the logits; lower is more conservative.
            top_k: keep only the ``k`` largest logits before sampling.
            use_cache: reuse keys and values of earlier tokens (KV cache).
            generator: random generator for sampling (seed it to repeat a sample).
            do_sample: sample (True) or take the arg-max (False).

        Returns:
            The prompt followed by the new tokens, ``(N, L + max_new_tokens)``.

        Example:
            >>> model = DecoderOnly(DecoderOnlyConfig(vocab_size=10, embed_dim=16, num_heads=2))
            >>> prompt = torch.tensor([[1, 2, 3]])
            >>> g = lambda: torch.Generator().manual_seed(0)
            >>> a = model.generate(prompt, 5, top_k=3, generator=g())
            >>> b = model.generate(prompt, 5, top_k=3, generator=g(), use_cache=False)
            >>> torch.equal(a, b)
            True
        """
        tokens = prompt.unsqueeze(0) if prompt.dim() == 1 else prompt
        _check_ids("prompt", tokens, self.config.vocab_size, self.config.max_len)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int):
            raise TypeError(f"max_new_tokens: expected an int, got {max_new_tokens!r}")
        if max_new_tokens < 0:
            raise ValueError(f"max_new_tokens: expected an int >= 0, got {max_new_tokens}")
        if temperature < 0:
            raise ValueError(f"temperature: expected a number >= 0, got {temperature}")
        if top_k is not None and not 1 <= top_k <= self.config.vocab_size:
            raise ValueError(f"top_k: expected 1 <= top_k <= vocab_size, got {top_k}")
        was_training = self.training
        self.eval()
        try:
            cache: list[KVCache] | None = None
            for _ in range(max_new_tokens):
                if use_cache and cache is not None and len(cache[0]) < self.config.max_len:
                    logits = self(tokens[:, -1:], cache=cache).logits  # only the newest token
                else:
                    cache = self.new_cache() if use_cache else None
                    window = tokens[:, -self.config.max_len :]  # (N, <= max_len)
                    logits = self(window, cache=cache).logits
                next_token = _pick(
                    logits[:, -1], temperature, top_k, do_sample, generator
                )  # (N, 1)
                tokens = torch.cat([tokens, next_token], dim=1)  # (N, L + 1)
        finally:
            self.train(was_training)
        return tokens


def _pick(
    logits: Tensor,
    temperature: float,
    top_k: int | None,
    do_sample: bool,
    generator: torch.Generator | None,
) -> Tensor:
    """One token per row from last-position logits ``(N, V)``: arg-max or a sample."""
    if not do_sample or temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)  # (N, 1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, top_k, dim=-1).values[:, -1:]  # (N, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = F.softmax(logits, dim=-1)  # (N, V)
    # Compare device types: a generator made with device="cuda" reports `cuda`, while
    # tensors report `cuda:0`, and those two torch.device values are not equal.
    if generator is not None and generator.device.type != probs.device.type:
        # A CPU generator drives the draw; the sampled ids then go back to the logits' device.
        return torch.multinomial(probs.cpu(), 1, generator=generator).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator)  # (N, 1)


# --- encoder-decoder ---------------------------------------------------------------
class EncoderDecoder(_Model):
    """A T5-style encoder–decoder: the decoder reads the encoder's output by cross-attention.

    The encoder sees the whole source (bidirectional); the decoder is causal
    over the target and attends to every source position. Source and target
    share one vocabulary and one embedding table. Training feeds the target
    shifted right (``<bos>`` first, see :func:`attnbook.data.shift_right`);
    :meth:`generate` decodes greedily.

    Args:
        config: an :class:`EncoderDecoderConfig`.

    Shape:
        - src_ids: ``(N, S)``, ``S <= max_len``; tgt_ids: ``(N, T)``, ``T <= max_tgt_len``.
        - logits: ``(N, T, vocab_size)``; encoder_attentions ``(N, H, S, S)``,
          attentions ``(N, H, T, T)``, cross_attentions ``(N, H, T, S)`` per layer.

    Example:
        >>> config = EncoderDecoderConfig(vocab_size=12, embed_dim=16, num_heads=2)
        >>> model = EncoderDecoder(config)
        >>> src, tgt = torch.tensor([[4, 5, 6, 7]]), torch.tensor([[1, 8, 9]])
        >>> out = model(src, tgt, need_weights=True)
        >>> out.logits.shape, out.cross_attentions[0].shape
        (torch.Size([1, 3, 12]), torch.Size([1, 2, 3, 4]))
        >>> model.generate(src, max_new_tokens=5, bos_id=1).shape
        torch.Size([1, 5])

    Introduced in chapter 12 (encoder-decoder).
    """

    config_class = EncoderDecoderConfig

    def __init__(self, config: EncoderDecoderConfig) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim)
        self.encoder_positions = _Positions(config, config.max_len, causal=False)
        self.decoder_positions = _Positions(config, config.max_tgt_len, causal=True)
        self.dropout = nn.Dropout(config.dropout)
        self.encoder_layers = _encoder_stack(config)
        self.encoder_norm = _final_norm(config)
        self.decoder_layers = _decoder_stack(
            config, config.num_decoder_layers, cross_attention=True
        )
        self.decoder_norm = _final_norm(config)
        self.lm_head = nn.Linear(config.embed_dim, config.vocab_size, bias=False)
        self._init_weights()

    def encode(
        self, src_ids: Tensor, src_padding_mask: Tensor | None = None, need_weights: bool = False
    ) -> tuple[Tensor, list[Tensor] | None]:
        """The encoder's output (the decoder's memory) and, on request, its attention weights.

        Returns:
            ``(memory (N, S, E), attentions or None)``.
        """
        config = self.config
        _check_ids("src_ids", src_ids, config.vocab_size, config.max_len)
        _check_padding("src_padding_mask", src_padding_mask, src_ids)
        S = src_ids.size(1)
        x = self.dropout(self.encoder_positions.add(self.embedding(src_ids)))  # (N, S, E)
        bias = self.encoder_positions.bias(S, S, 0, src_ids.device)
        attentions = []
        for layer in self.encoder_layers:
            x, weights = layer(
                x,
                key_padding_mask=src_padding_mask,
                need_weights=need_weights,
                position_bias=bias,
                rotary=self.encoder_positions.rotary,
            )
            attentions.append(weights)
        return self.encoder_norm(x), attentions if need_weights else None

    def new_cache(self) -> list[KVCache]:
        """An empty self-attention cache: one :class:`~attnbook.attention.KVCache` per decoder layer."""
        return [KVCache() for _ in self.decoder_layers]

    def decode(
        self,
        tgt_ids: Tensor,
        memory: Tensor,
        memory_padding_mask: Tensor | None = None,
        need_weights: bool = False,
        cache: list[KVCache] | None = None,
    ) -> ModelOutput:
        """Run the decoder on ``tgt_ids`` given the encoder's ``memory``.

        Args:
            tgt_ids: decoder input ids (``<bos>`` first); with a cache, only new ones.
            memory: output of :meth:`encode`, ``(N, S, E)``.
            memory_padding_mask: True at real source tokens, ``(N, S)``.
            need_weights: also return self- and cross-attention weights.
            cache: from :meth:`new_cache`, filled in place.
        """
        config = self.config
        offset = 0 if cache is None else len(cache[0])
        _check_ids("tgt_ids", tgt_ids, config.vocab_size, config.max_tgt_len, offset)
        if memory.dim() != 3 or memory.size(0) != tgt_ids.size(0):
            raise ValueError(
                f"memory: expected shape (N={tgt_ids.size(0)}, S, E), got {tuple(memory.shape)}"
            )
        T = tgt_ids.size(1)
        x = self.embedding(tgt_ids)  # (N, T, E)
        x = self.dropout(self.decoder_positions.add(x, offset))
        bias = self.decoder_positions.bias(T, offset + T, offset, tgt_ids.device)
        self_attentions, cross_attentions = [], []
        for i, layer in enumerate(self.decoder_layers):
            x, self_w, cross_w = layer(
                x,
                memory,
                memory_key_padding_mask=memory_padding_mask,
                need_weights=need_weights,
                position_bias=bias,
                rotary=self.decoder_positions.rotary,
                cache=None if cache is None else cache[i],
            )
            self_attentions.append(self_w)
            cross_attentions.append(cross_w)
        hidden = self.decoder_norm(x)  # (N, T, E)
        if not need_weights:
            return ModelOutput(self.lm_head(hidden), hidden)
        return ModelOutput(self.lm_head(hidden), hidden, self_attentions, cross_attentions)

    def forward(
        self,
        src_ids: Tensor,
        tgt_ids: Tensor,
        src_padding_mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> ModelOutput:
        """Teacher-forced logits: ``logits[:, t]`` predicts the target token after ``tgt_ids[:, t]``."""
        memory, encoder_attentions = self.encode(src_ids, src_padding_mask, need_weights)
        out = self.decode(tgt_ids, memory, src_padding_mask, need_weights)
        out.encoder_attentions = encoder_attentions
        return out

    @torch.no_grad()
    def generate(
        self,
        src_ids: Tensor,
        max_new_tokens: int,
        bos_id: int,
        eos_id: int | None = None,
        src_padding_mask: Tensor | None = None,
        use_cache: bool = True,
    ) -> Tensor:
        """Greedy decoding: start from ``<bos>``, take the most likely token each step.

        Rows that have produced ``eos_id`` continue with padding
        (``config.pad_id``); decoding stops early once every row has.

        Args:
            src_ids: source ids, ``(N, S)``.
            max_new_tokens: the longest output (at most ``max_tgt_len``).
            bos_id: the first decoder input.
            eos_id: the end token, or None to always produce ``max_new_tokens``.
            src_padding_mask: True at real source tokens.
            use_cache: reuse the decoder's keys and values (same tokens, less work).

        Returns:
            The generated ids without ``<bos>``, ``(N, <= max_new_tokens)``.
        """
        if not 0 <= max_new_tokens <= self.config.max_tgt_len:
            raise ValueError(
                f"max_new_tokens: expected 0..max_tgt_len={self.config.max_tgt_len}, "
                f"got {max_new_tokens}"
            )
        was_training = self.training
        self.eval()
        try:
            memory, _ = self.encode(src_ids, src_padding_mask)
            N = src_ids.size(0)
            tokens = torch.full((N, 1), bos_id, dtype=torch.long, device=src_ids.device)
            done = torch.zeros(N, dtype=torch.bool, device=src_ids.device)
            cache = self.new_cache() if use_cache else None
            for _ in range(max_new_tokens):
                step_input = tokens[:, -1:] if cache is not None else tokens
                logits = self.decode(step_input, memory, src_padding_mask, cache=cache).logits
                next_token = logits[:, -1].argmax(dim=-1)  # (N,)
                next_token = next_token.masked_fill(done, self.config.pad_id)
                tokens = torch.cat([tokens, next_token[:, None]], dim=1)  # (N, t + 1)
                if eos_id is not None:
                    done = done | (next_token == eos_id)
                    if bool(done.all()):
                        break
        finally:
            self.train(was_training)
        return tokens[:, 1:]
