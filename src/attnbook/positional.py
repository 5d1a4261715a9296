"""Positional information for attention: absolute, relative, rotary and linear biases.

Attention by itself is blind to order: permuting the tokens permutes the
output and nothing else. The schemes here put position back in, in the ways
the book's positional-encoding chapter compares:

* added to the token embeddings before the first layer —
  :class:`SinusoidalPositionalEncoding` (fixed) and
  :class:`LearnedPositionalEmbedding` (trained);
* added to the attention scores inside every layer —
  :class:`RelativePositionBias` (T5's learned, bucketed bias) and
  :func:`alibi_bias` (ALiBi's fixed linear penalty);
* applied to queries and keys by rotation — :class:`RotaryEmbedding` (RoPE).

Score biases have shape ``(1, H, L, S)`` and are meant for the
``position_bias`` argument of :class:`attnbook.attention.MultiheadAttention`
(or the float ``attn_mask`` of
:func:`attnbook.functional.scaled_dot_product_attention`). Positions count from
0; every class that may see a KV cache takes an ``offset``: the position of
the first query, i.e. the number of tokens already cached.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

__all__ = [
    "LearnedPositionalEmbedding",
    "RelativePositionBias",
    "RotaryEmbedding",
    "SinusoidalPositionalEncoding",
    "alibi_bias",
    "alibi_slopes",
    "relative_position_bucket",
    "sinusoidal_table",
]


def _check_positive_int(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")


def _check_offset(offset: int) -> None:
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset: expected a non-negative int, got {offset!r}")


def _check_added_input(x: Tensor, embed_dim: int, max_len: int, offset: int) -> None:
    """Shared checks of the modules that add a position vector to ``(N, L, E)`` input."""
    if x.dim() != 3:
        raise ValueError(
            f"input: expected 3 dims (N, L, E) with batch first, got shape {tuple(x.shape)}"
        )
    if x.size(-1) != embed_dim:
        raise ValueError(f"input: expected last dim embed_dim={embed_dim}, got {x.size(-1)}")
    _check_offset(offset)
    if offset + x.size(1) > max_len:
        raise ValueError(
            f"input: positions {offset}..{offset + x.size(1) - 1} exceed max_len={max_len}; "
            f"build the module with a larger max_len"
        )


# --------------------------------------------------------------------------- sinusoidal


def sinusoidal_table(
    max_len: int,
    embed_dim: int,
    *,
    base: float = 10000.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    """The sinusoidal position table of "Attention Is All You Need".

    ``PE[p, 2i] = sin(p / base^(2i/E))`` and ``PE[p, 2i+1] = cos(p / base^(2i/E))``:
    each pair of columns is a point on a circle turning at its own frequency,
    so moving ``k`` positions on is the same rotation for every ``p`` — the
    encoding at ``p + k`` is a fixed linear map of the encoding at ``p``.

    Introduced in chapter 08 (positional encoding).

    Args:
        max_len: number of positions (rows).
        embed_dim: width E; must be even, because columns come in sin/cos pairs
            and the shift property needs both halves of every pair.
        base: the wavelength scale (10000 in the paper).
        dtype: floating dtype of the result (the angles are computed in float64).
        device: where to build the table.

    Returns:
        The table, one row per position.

    Shape:
        Output: ``(max_len, embed_dim)``.

    Example:
        >>> pe = sinusoidal_table(50, 16)
        >>> pe.shape
        torch.Size([50, 16])
        >>> pe[0, :4].tolist()  # sin(0) = 0, cos(0) = 1
        [0.0, 1.0, 0.0, 1.0]
    """
    _check_positive_int("max_len", max_len)
    _check_positive_int("embed_dim", embed_dim)
    if embed_dim % 2:
        raise ValueError(f"embed_dim: expected an even number (sin/cos pairs), got {embed_dim}")
    if not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating dtype, got {dtype}")
    position = torch.arange(max_len, dtype=torch.float64, device=device)  # (max_len,)
    inv_freq = base ** (
        -torch.arange(0, embed_dim, 2, dtype=torch.float64, device=device) / embed_dim
    )  # (E/2,)
    angles = torch.outer(position, inv_freq)  # (max_len, E/2)
    # Interleave so that columns 2i and 2i+1 are the sin and cos of one frequency.
    table = torch.stack((angles.sin(), angles.cos()), dim=-1)  # (max_len, E/2, 2)
    return table.reshape(max_len, embed_dim).to(dtype)  # (max_len, E)


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the fixed sinusoidal encoding (:func:`sinusoidal_table`) to token embeddings.

    The table is a registered, non-persistent buffer: ``.to(device)`` moves it,
    and state dicts do not carry it (it is recomputed from the arguments).
    Inputs are batch first, ``(N, L, E)``.

    Introduced in chapter 08 (positional encoding).

    Args:
        embed_dim: width E of the embeddings; must be even (see :func:`sinusoidal_table`).
        max_len: the longest sequence (plus cache offset) the module accepts.
        dropout: dropout probability applied after the addition, as in the paper.
        base: the wavelength scale of :func:`sinusoidal_table`.

    Shape:
        - Input: ``(N, L, E)`` with ``offset + L <= max_len``.
        - Output: ``(N, L, E)``.

    Example:
        >>> pos = SinusoidalPositionalEncoding(embed_dim=8, max_len=32)
        >>> x = torch.zeros(2, 5, 8)
        >>> torch.equal(pos(x)[0], pos.pe[:5])
        True
        >>> pos(torch.zeros(1, 1, 8), offset=4)[0, 0].equal(pos.pe[4])  # decoding step 5
        True
    """

    pe: Tensor

    def __init__(
        self, embed_dim: int, max_len: int = 4096, dropout: float = 0.0, base: float = 10000.0
    ) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.max_len = max_len
        table = sinusoidal_table(max_len, embed_dim, base=base)  # (max_len, E)
        self.register_buffer("pe", table, persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Add the encodings of positions ``offset .. offset + L - 1`` to ``x``."""
        _check_added_input(x, self.embed_dim, self.max_len, offset)
        return self.dropout(x + self.pe[offset : offset + x.size(1)].to(x.dtype))  # (N, L, E)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, max_len={self.max_len}"


class LearnedPositionalEmbedding(nn.Module):
    """Adds a trained vector per position to token embeddings (BERT, GPT-2).

    A learned table cannot say anything about positions it never saw in
    training, which is why it cannot extrapolate past ``max_len``.
    Inputs are batch first, ``(N, L, E)``.

    Introduced in chapter 08 (positional encoding).

    Args:
        max_len: number of positions with a vector.
        embed_dim: width E.

    Shape:
        - Input: ``(N, L, E)`` with ``offset + L <= max_len``.
        - Output: ``(N, L, E)``.

    Example:
        >>> pos = LearnedPositionalEmbedding(max_len=16, embed_dim=4)
        >>> pos(torch.zeros(2, 3, 4)).shape
        torch.Size([2, 3, 4])
        >>> pos.weight.shape
        torch.Size([16, 4])
    """

    def __init__(self, max_len: int, embed_dim: int) -> None:
        super().__init__()
        _check_positive_int("max_len", max_len)
        _check_positive_int("embed_dim", embed_dim)
        self.max_len = max_len
        self.embed_dim = embed_dim
        # Small initial values (GPT-2's 0.02) so positions start as a gentle nudge.
        self.weight = nn.Parameter(torch.randn(max_len, embed_dim) * 0.02)

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """Add the vectors of positions ``offset .. offset + L - 1`` to ``x``."""
        _check_added_input(x, self.embed_dim, self.max_len, offset)
        return x + self.weight[offset : offset + x.size(1)]  # (N, L, E)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, embed_dim={self.embed_dim}"


# ------------------------------------------------------------------ relative (T5 style)


def relative_position_bucket(
    relative_position: Tensor,
    *,
    bidirectional: bool = True,
    num_buckets: int = 32,
    max_distance: int = 128,
) -> Tensor:
    """T5's mapping from a relative position ``key - query`` to a bucket index.

    Half of the buckets (per direction) hold exact small distances; the rest
    cover distances up to ``max_distance`` on a logarithmic scale, and every
    farther distance shares the last bucket. Bidirectional: keys before and
    after the query get separate halves of the buckets. Causal
    (``bidirectional=False``): only keys at or before the query are told apart;
    every future key falls in bucket 0, with distance 0 (a causal mask hides
    them anyway).

    Introduced in chapter 08 (positional encoding).

    Args:
        relative_position: integer tensor of ``key_position - query_position``.
        bidirectional: whether the direction is encoded.
        num_buckets: number of buckets (even when bidirectional).
        max_distance: the distance from which all positions share a bucket.

    Returns:
        Bucket indices in ``[0, num_buckets)``, dtype ``torch.long``.

    Shape:
        Output: the shape of ``relative_position``.

    Example:
        >>> rel = torch.tensor([-20, -8, -3, -1, 0, 1, 3, 8, 20])  # key - query
        >>> relative_position_bucket(rel, num_buckets=8, max_distance=16).tolist()
        [3, 3, 2, 1, 0, 5, 6, 7, 7]
        >>> relative_position_bucket(rel, bidirectional=False, num_buckets=8, max_distance=16)
        tensor([7, 6, 3, 1, 0, 0, 0, 0, 0])
    """
    if relative_position.dtype.is_floating_point or relative_position.dtype == torch.bool:
        raise TypeError(
            f"relative_position: expected an integer dtype, got {relative_position.dtype}"
        )
    _check_buckets(num_buckets, max_distance, bidirectional)
    relative_position = relative_position.long()
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * num_buckets  # keys after query
        distance = relative_position.abs()
    else:
        distance = (-relative_position).clamp(min=0)  # future keys count as distance 0
    max_exact = num_buckets // 2
    # Log-spaced buckets for distances in [max_exact, max_distance); clamp(min=1) only
    # keeps log() finite for the small distances that torch.where discards anyway.
    log_ratio = torch.log(distance.clamp(min=1).double() / max_exact) / math.log(
        max_distance / max_exact
    )
    large = max_exact + (log_ratio * (num_buckets - max_exact)).long()
    large = large.clamp(max=num_buckets - 1)
    return buckets + torch.where(distance < max_exact, distance, large)


def _check_buckets(num_buckets: int, max_distance: int, bidirectional: bool) -> None:
    minimum = 4 if bidirectional else 2
    if isinstance(num_buckets, bool) or not isinstance(num_buckets, int) or num_buckets < minimum:
        raise ValueError(f"num_buckets: expected an int >= {minimum}, got {num_buckets!r}")
    if bidirectional and num_buckets % 2:
        raise ValueError(
            f"num_buckets: expected an even number when bidirectional, got {num_buckets}"
        )
    max_exact = num_buckets // (4 if bidirectional else 2)
    if not isinstance(max_distance, int) or max_distance <= max_exact:
        raise ValueError(
            f"max_distance: expected an int > {max_exact} (the exact buckets), got {max_distance!r}"
        )


class RelativePositionBias(nn.Module):
    """T5's learned relative position bias: one scalar per (bucket, head), added to scores.

    Every query–key pair is mapped by :func:`relative_position_bucket` to a
    bucket, and each head learns one bias per bucket. The result goes to the
    ``position_bias`` argument of
    :class:`~attnbook.attention.MultiheadAttention`.

    Introduced in chapter 08 (positional encoding).

    Args:
        num_heads: number of attention heads H.
        num_buckets: number of buckets (T5: 32).
        max_distance: distance from which all positions share a bucket (T5: 128).
        bidirectional: True for encoders; False for causal decoders.

    Shape:
        Output of ``forward(L, S)``: ``(1, H, L, S)``, float.

    Example:
        >>> bias = RelativePositionBias(num_heads=4, num_buckets=8, max_distance=16)
        >>> bias(5).shape
        torch.Size([1, 4, 5, 5])
        >>> b = bias(3, 6, offset=3)  # 3 new queries after 3 cached tokens
        >>> torch.equal(b, bias(6)[:, :, 3:])
        True
    """

    def __init__(
        self,
        num_heads: int,
        num_buckets: int = 32,
        max_distance: int = 128,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        _check_positive_int("num_heads", num_heads)
        _check_buckets(num_buckets, max_distance, bidirectional)
        self.num_heads = num_heads
        self.num_buckets = num_buckets
        self.max_distance = max_distance
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(num_buckets, num_heads)
        # Small initial biases so training starts close to "no positional preference".
        nn.init.normal_(self.embedding.weight, std=0.02)

    def forward(
        self,
        L: int,
        S: int | None = None,
        *,
        offset: int = 0,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """The bias for ``L`` queries at positions ``offset ..`` and ``S`` keys at ``0 .. S-1``.

        Args:
            L: number of queries.
            S: number of keys (default ``L``).
            offset: position of the first query (the number of cached tokens).
            device: defaults to the device of the module's weights.
        """
        S = L if S is None else S
        _check_positive_int("L", L)
        _check_positive_int("S", S)
        _check_offset(offset)
        device = self.embedding.weight.device if device is None else device
        query_pos = torch.arange(offset, offset + L, device=device)  # (L,)
        key_pos = torch.arange(S, device=device)  # (S,)
        buckets = relative_position_bucket(
            key_pos[None, :] - query_pos[:, None],  # (L, S)
            bidirectional=self.bidirectional,
            num_buckets=self.num_buckets,
            max_distance=self.max_distance,
        )
        return self.embedding(buckets).permute(2, 0, 1).unsqueeze(0)  # (L, S, H) -> (1, H, L, S)

    def extra_repr(self) -> str:
        return (
            f"num_heads={self.num_heads}, num_buckets={self.num_buckets}, "
            f"max_distance={self.max_distance}, bidirectional={self.bidirectional}"
        )


# ---------------------------------------------------------------------------- rotary


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE, Su et al. 2021) for queries and keys.

    Each pair of features of a query or key at position ``p`` is rotated by
    the angle ``p * theta_i``. A rotation preserves length, and the dot
    product of a query rotated to ``m`` with a key rotated to ``n`` depends only
    on ``m - n``: relative position enters the score with no extra parameter.

    Pairs follow the "rotate half" layout of GPT-NeoX and LLaMA in Hugging Face
    (feature ``i`` pairs with feature ``i + E/2``), not the interleaved layout
    of the original paper; the two are the same up to a fixed permutation of
    the features. The cos/sin tables are non-persistent registered buffers.

    Use it inside attention on the per-head queries and keys, after the
    projections: ``MultiheadAttention(...)(x, x, x, rotary=rope)`` does so, and
    with a :class:`~attnbook.attention.KVCache` it passes the cache length as
    ``offset`` itself.

    Introduced in chapter 08 (positional encoding).

    Args:
        head_dim: per-head width E (even).
        base: the wavelength scale (10000 in the paper).
        max_len: the largest position + 1 the tables hold.

    Shape:
        - Input: ``(..., L, E)``, typically ``(N, H, L, E)``.
        - Output: same shape.

    Example:
        >>> rope = RotaryEmbedding(head_dim=8, max_len=64)
        >>> q = torch.randn(1, 2, 5, 8)
        >>> torch.allclose(rope(q).norm(dim=-1), q.norm(dim=-1))  # rotations keep lengths
        True
        >>> torch.equal(rope(q)[:, :, 0], q[:, :, 0])  # position 0 is not rotated
        True
    """

    cos: Tensor
    sin: Tensor

    def __init__(self, head_dim: int, base: float = 10000.0, max_len: int = 4096) -> None:
        super().__init__()
        _check_positive_int("head_dim", head_dim)
        _check_positive_int("max_len", max_len)
        if head_dim % 2:
            raise ValueError(f"head_dim: expected an even number (feature pairs), got {head_dim}")
        self.head_dim = head_dim
        self.base = base
        self.max_len = max_len
        inv_freq = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        angles = torch.outer(torch.arange(max_len, dtype=torch.float64), inv_freq)  # (P, E/2)
        angles = torch.cat((angles, angles), dim=-1)  # (P, E): feature i and i + E/2 share one
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward(self, x: Tensor, offset: int = 0, positions: Tensor | None = None) -> Tensor:
        """Rotate ``x`` to positions ``offset .. offset + L - 1`` (or to ``positions``).

        Args:
            x: queries or keys, ``(..., L, E)``.
            offset: position of the first row (the number of cached tokens).
            positions: explicit integer positions instead of ``offset``:
                ``(L,)``, or ``(N, L)`` for a 4-D ``x`` of shape ``(N, H, L, E)``.
        """
        if x.dim() < 2 or x.size(-1) != self.head_dim:
            raise ValueError(f"x: expected shape (..., L, {self.head_dim}), got {tuple(x.shape)}")
        L = x.size(-2)
        if positions is None:
            _check_offset(offset)
            if offset + L > self.max_len:
                raise ValueError(
                    f"x: positions {offset}..{offset + L - 1} exceed max_len={self.max_len}"
                )
            cos, sin = self.cos[offset : offset + L], self.sin[offset : offset + L]  # (L, E)
        else:
            cos, sin = self._gather(positions, x)  # (L, E) or (N, 1, L, E)
        return x * cos.to(x.dtype) + _rotate_half(x) * sin.to(x.dtype)

    def _gather(self, positions: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
        L = x.size(-2)
        if positions.dtype.is_floating_point or positions.dtype == torch.bool:
            raise TypeError(f"positions: expected an integer dtype, got {positions.dtype}")
        ok_1d = positions.shape == (L,)
        ok_2d = positions.dim() == 2 and x.dim() == 4 and positions.shape == (x.size(0), L)
        if not (ok_1d or ok_2d):
            raise ValueError(
                f"positions: expected shape ({L},) or (N, {L}) for x of shape (N, H, L, E), "
                f"got {tuple(positions.shape)} for x of shape {tuple(x.shape)}"
            )
        if positions.numel() and (positions.min() < 0 or positions.max() >= self.max_len):
            raise ValueError(f"positions: expected values in [0, max_len={self.max_len})")
        cos, sin = self.cos[positions], self.sin[positions]  # (L, E) or (N, L, E)
        if ok_2d:
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # (N, 1, L, E): same for every head
        return cos, sin

    def extra_repr(self) -> str:
        return f"head_dim={self.head_dim}, base={self.base}, max_len={self.max_len}"


def _rotate_half(x: Tensor) -> Tensor:
    """``(x1, x2) -> (-x2, x1)`` on the two halves of the last dim: a 90° turn of every pair."""
    x1, x2 = x.chunk(2, dim=-1)  # (..., E/2) each
    return torch.cat((-x2, x1), dim=-1)  # (..., E)


# ----------------------------------------------------------------------------- ALiBi


def alibi_slopes(num_heads: int, *, device: torch.device | str | None = None) -> Tensor:
    """ALiBi's per-head slopes (Press et al. 2022): a geometric sequence.

    For ``H`` a power of two the slopes are ``2^(-8/H), 2^(-16/H), ..., 2^-8``
    (for 8 heads: 1/2, 1/4, ..., 1/256). For other ``H`` the paper takes the
    slopes of the nearest smaller power of two ``P`` and appends every other
    slope of ``2P`` heads until there are ``H``.

    Introduced in chapter 08 (positional encoding).

    Args:
        num_heads: number of heads H.
        device: where to put the result.

    Returns:
        The slopes, float32, largest first.

    Shape:
        Output: ``(H,)``.

    Example:
        >>> alibi_slopes(4).tolist()
        [0.25, 0.0625, 0.015625, 0.00390625]
        >>> alibi_slopes(6).tolist()  # the 4 slopes above, then 2^-1 and 2^-3 of 8 heads
        [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125]
    """
    _check_positive_int("num_heads", num_heads)
    return torch.tensor(_alibi_slopes(num_heads), dtype=torch.float32, device=device)


def _alibi_slopes(n: int) -> list[float]:
    def power_of_two(n: int) -> list[float]:
        start = 2.0 ** (-8.0 / n)
        return [start ** (i + 1) for i in range(n)]

    if n & (n - 1) == 0:
        return power_of_two(n)
    closest = 2 ** math.floor(math.log2(n))
    return power_of_two(closest) + _alibi_slopes(2 * closest)[0::2][: n - closest]


def alibi_bias(
    num_heads: int,
    L: int,
    S: int | None = None,
    *,
    causal: bool = True,
    offset: int = 0,
    device: torch.device | str | None = None,
) -> Tensor:
    """ALiBi's score bias: ``-slope_h * distance`` between query and key.

    With ``causal=True`` (the paper's decoder) the bias is ``-slope_h * (q - k)``
    for keys at or before the query and ``-inf`` for later keys, so the bias
    is also the causal mask — adding it alone is enough. With
    ``causal=False`` (the symmetric variant used in encoders) it is
    ``-slope_h * |q - k|`` everywhere. Either way every entry is ``<= 0`` and the
    diagonal (a query with itself) is 0.

    Introduced in chapter 08 (positional encoding).

    Args:
        num_heads: number of heads H (one slope each, see :func:`alibi_slopes`).
        L: number of queries, at positions ``offset .. offset + L - 1``.
        S: number of keys, at positions ``0 .. S - 1`` (default ``L``).
        causal: whether later keys are masked with ``-inf``.
        offset: position of the first query (the number of cached tokens).
        device: where to build the bias.

    Returns:
        The bias, float32, for ``position_bias`` of
        :class:`~attnbook.attention.MultiheadAttention` or a float ``attn_mask``.

    Shape:
        Output: ``(1, H, L, S)``.

    Example:
        >>> alibi_bias(2, 3)[0, 0]  # slope 1/16 for the first of 2 heads
        tensor([[ 0.0000,    -inf,    -inf],
                [-0.0625,  0.0000,    -inf],
                [-0.1250, -0.0625,  0.0000]])
        >>> alibi_bias(2, 3, causal=False)[0, 1, 0].tolist()  # slope 1/256
        [0.0, -0.00390625, -0.0078125]
    """
    S = L if S is None else S
    _check_positive_int("L", L)
    _check_positive_int("S", S)
    _check_offset(offset)
    slopes = alibi_slopes(num_heads, device=device)  # (H,)
    query_pos = torch.arange(offset, offset + L, device=device)  # (L,)
    key_pos = torch.arange(S, device=device)  # (S,)
    distance = query_pos[:, None] - key_pos[None, :]  # (L, S), > 0 for keys in the past
    # Negate the integer distance before the cast, so the diagonal is 0.0 rather than -0.0.
    bias = slopes[:, None, None] * (-distance.abs()).float()  # (H, L, S)
    if causal:
        bias = bias.masked_fill(distance < 0, float("-inf"))  # later keys are not visible
    return bias.unsqueeze(0)  # (1, H, L, S)
