"""Positional encodings: the properties each scheme is chosen for, and its bad inputs."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch.testing import assert_close

from attnbook.positional import (
    LearnedPositionalEmbedding,
    RelativePositionBias,
    RotaryEmbedding,
    SinusoidalPositionalEncoding,
    alibi_bias,
    alibi_slopes,
    relative_position_bucket,
    sinusoidal_table,
)

# ------------------------------------------------------------------------- sinusoidal


def test_sinusoidal_table_matches_the_papers_formula() -> None:
    table = sinusoidal_table(20, 6, dtype=torch.float64)
    assert table.shape == (20, 6)
    for p in (0, 1, 7, 19):
        for i in range(3):
            angle = p / 10000 ** (2 * i / 6)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-12)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-12)


@pytest.mark.parametrize("k", [1, 3, 17])
def test_sinusoidal_shift_is_a_fixed_linear_map(k: int) -> None:
    embed_dim = 16
    table = sinusoidal_table(128, embed_dim, dtype=torch.float64)
    # M_k rotates each (sin, cos) pair by its own angle k * omega_i, independent of p.
    omega = 10000.0 ** (-torch.arange(0, embed_dim, 2, dtype=torch.float64) / embed_dim)
    M = torch.zeros(embed_dim, embed_dim, dtype=torch.float64)
    for i, w in enumerate(omega.tolist()):
        c, s = math.cos(k * w), math.sin(k * w)
        M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor(
            [[c, s], [-s, c]], dtype=torch.float64
        )
    for p in (0, 1, 5, 40, 100):
        assert_close(table[p + k], M @ table[p], atol=1e-12, rtol=0)


def test_sinusoidal_shift_map_recovered_from_data_is_the_same_for_every_position() -> None:
    # Fit M on positions 0..63 by least squares, then check it predicts positions 64.. too.
    table = sinusoidal_table(200, 8, dtype=torch.float64)
    k = 5
    fitted = torch.linalg.lstsq(table[:64], table[k : 64 + k]).solution.T  # (E, E)
    assert_close(table[100:150] @ fitted.T, table[100 + k : 150 + k], atol=1e-9, rtol=0)


def test_sinusoidal_encoding_adds_the_table(device: torch.device) -> None:
    pos = SinusoidalPositionalEncoding(8, max_len=32).to(device)
    assert pos.pe.device.type == device.type
    x = torch.randn(3, 10, 8, device=device)
    assert_close(pos(x), x + pos.pe[:10])
    assert_close(pos(x[:, :2], offset=4), x[:, :2] + pos.pe[4:6])
    assert "pe" not in pos.state_dict()  # derived from the arguments, not learned


def test_sinusoidal_dropout_is_off_in_eval() -> None:
    pos = SinusoidalPositionalEncoding(8, max_len=16, dropout=0.5).eval()
    x = torch.randn(2, 4, 8)
    assert_close(pos(x), x + pos.pe[:4])


def test_sinusoidal_max_len_exceeded() -> None:
    pos = SinusoidalPositionalEncoding(8, max_len=16)
    with pytest.raises(ValueError, match=r"max_len=16"):
        pos(torch.zeros(1, 17, 8))
    with pytest.raises(ValueError, match=r"max_len=16"):
        pos(torch.zeros(1, 2, 8), offset=15)


def test_sinusoidal_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"embed_dim: expected an even number.*got 7"):
        sinusoidal_table(10, 7)
    with pytest.raises(ValueError, match=r"max_len: expected a positive int"):
        sinusoidal_table(0, 8)
    with pytest.raises(TypeError, match=r"dtype: expected a floating dtype"):
        sinusoidal_table(4, 8, dtype=torch.int64)
    pos = SinusoidalPositionalEncoding(8, max_len=16)
    with pytest.raises(ValueError, match=r"input: expected 3 dims \(N, L, E\).*\(4, 8\)"):
        pos(torch.zeros(4, 8))
    with pytest.raises(ValueError, match=r"input: expected last dim embed_dim=8, got 6"):
        pos(torch.zeros(1, 4, 6))
    with pytest.raises(ValueError, match=r"offset: expected a non-negative int"):
        pos(torch.zeros(1, 4, 8), offset=-1)


# ---------------------------------------------------------------------------- learned


def test_learned_embedding_adds_its_rows_and_learns_only_used_ones(device: torch.device) -> None:
    pos = LearnedPositionalEmbedding(max_len=10, embed_dim=4).to(device)
    x = torch.randn(2, 3, 4, device=device)
    out = pos(x, offset=2)
    assert_close(out, x + pos.weight[2:5])
    out.sum().backward()
    used = torch.zeros(10, dtype=torch.bool, device=device)
    used[2:5] = True
    assert (pos.weight.grad[used] == 2).all()  # N = 2 sequences add to each used row
    assert (pos.weight.grad[~used] == 0).all()


def test_learned_embedding_max_len_exceeded() -> None:
    pos = LearnedPositionalEmbedding(max_len=4, embed_dim=2)
    with pytest.raises(ValueError, match=r"max_len=4"):
        pos(torch.zeros(1, 5, 2))
    with pytest.raises(ValueError, match=r"max_len: expected a positive int, got -1"):
        LearnedPositionalEmbedding(max_len=-1, embed_dim=2)


# ------------------------------------------------------------------ relative (T5 style)


def test_t5_buckets_at_the_default_setting() -> None:
    # 32 buckets, 128 max distance, bidirectional: 16 per direction, the first 8 exact;
    # distance 8 opens the log range, and distances >= 128 share the last bucket.
    rel = torch.tensor([0, -1, -7, -8, -127, -128, -1000, 1, 7, 1000])
    buckets = relative_position_bucket(rel)
    assert buckets.tolist() == [0, 1, 7, 8, 15, 15, 15, 17, 23, 31]


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize(("num_buckets", "max_distance"), [(8, 16), (32, 128), (10, 40)])
def test_buckets_are_in_range_and_monotone_in_distance(
    bidirectional: bool, num_buckets: int, max_distance: int
) -> None:
    if bidirectional and num_buckets % 2:
        pytest.skip("bidirectional needs an even number of buckets")
    distance = torch.arange(0, 3 * max_distance)
    past = relative_position_bucket(
        -distance, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    assert past.min() >= 0 and past.max() < num_buckets
    assert (past.diff() >= 0).all()  # farther back never maps to a nearer bucket
    per_direction = num_buckets // 2 if bidirectional else num_buckets
    exact = per_direction // 2
    assert past[:exact].tolist() == list(range(exact))  # small distances are exact
    assert (past[max_distance:] == per_direction - 1).all()  # far ones saturate
    future = relative_position_bucket(
        distance, bidirectional=bidirectional, num_buckets=num_buckets, max_distance=max_distance
    )
    if bidirectional:
        assert (future.diff() >= 0).all()
        # Keys after the query use the upper half of the buckets, keys before the lower.
        assert (future[1:] >= per_direction).all() and (past < per_direction).all()
    else:
        assert (future == 0).all()  # a causal bias does not tell future keys apart


def test_bucket_bad_inputs() -> None:
    with pytest.raises(TypeError, match=r"relative_position: expected an integer dtype"):
        relative_position_bucket(torch.zeros(3))
    with pytest.raises(ValueError, match=r"num_buckets: expected an even number"):
        relative_position_bucket(torch.zeros(3, dtype=torch.long), num_buckets=9)
    with pytest.raises(ValueError, match=r"num_buckets: expected an int >= 4"):
        relative_position_bucket(torch.zeros(3, dtype=torch.long), num_buckets=2)
    with pytest.raises(ValueError, match=r"max_distance: expected an int > 8"):
        RelativePositionBias(4, num_buckets=32, max_distance=8)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_relative_bias_shape_and_values(device: torch.device, bidirectional: bool) -> None:
    bias = RelativePositionBias(3, num_buckets=8, max_distance=16, bidirectional=bidirectional)
    bias = bias.to(device)
    out = bias(5, 7)
    assert out.shape == (1, 3, 5, 7) and out.device.type == device.type
    rel = torch.arange(7, device=device)[None, :] - torch.arange(5, device=device)[:, None]
    buckets = relative_position_bucket(
        rel, bidirectional=bidirectional, num_buckets=8, max_distance=16
    )
    for h in range(3):
        assert_close(out[0, h], bias.embedding.weight[buckets, h])
    # Translation invariance: the bias depends on key - query only.
    assert_close(out[0, :, 1:, 1:], out[0, :, :-1, :-1])


def test_relative_bias_offset_for_cached_decoding() -> None:
    bias = RelativePositionBias(2, num_buckets=8, max_distance=16, bidirectional=False)
    full = bias(6)
    assert_close(bias(1, 6, offset=5), full[:, :, 5:])
    assert_close(bias(2, 6, offset=4), full[:, :, 4:])


def test_relative_bias_causal_treats_all_future_keys_alike() -> None:
    bias = RelativePositionBias(2, num_buckets=8, max_distance=16, bidirectional=False)
    out = bias(5)[0]  # (H, L, S)
    future = torch.ones(5, 5, dtype=torch.bool).triu(1)
    assert_close(out[:, future], bias.embedding.weight[0][:, None].expand(2, int(future.sum())))


def test_relative_bias_is_learned() -> None:
    bias = RelativePositionBias(2, num_buckets=8, max_distance=16)
    bias(4).sum().backward()
    assert bias.embedding.weight.grad is not None and bias.embedding.weight.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- rotary


def _rope_by_complex_numbers(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Independent RoPE: pair (x_i, x_{i+E/2}) as a complex number, multiply by e^{i p theta_i}."""
    half = x.size(-1) // 2
    theta = 10000.0 ** (-torch.arange(half, dtype=torch.float64) * 2 / x.size(-1))
    z = torch.complex(x[..., :half].double(), x[..., half:].double())
    rotated = z * torch.polar(torch.ones_like(theta), positions.double()[:, None] * theta)
    return torch.cat((rotated.real, rotated.imag), dim=-1).to(x.dtype)


def test_rope_matches_the_complex_number_formulation(device: torch.device) -> None:
    rope = RotaryEmbedding(8, max_len=64).to(device)
    x = torch.randn(2, 3, 10, 8, device=device)
    expected = _rope_by_complex_numbers(x.cpu(), torch.arange(5, 15))
    assert_close(rope(x, offset=5).cpu(), expected, atol=1e-5, rtol=1e-5)


_ROPE = RotaryEmbedding(16, max_len=512)  # built once: hypothesis calls the test many times


@given(
    m=st.integers(0, 200),
    n=st.integers(0, 200),
    shift=st.integers(0, 300),
    seed=st.integers(0, 2**16),
)
def test_rope_score_depends_only_on_the_offset(m: int, n: int, shift: int, seed: int) -> None:
    rope = _ROPE
    g = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, 1, 1, 16, generator=g).unbind(0)  # (N, H, L, E) each
    score = (rope(q, offset=m) * rope(k, offset=n)).sum()
    shifted = (rope(q, offset=m + shift) * rope(k, offset=n + shift)).sum()
    assert_close(shifted, score, atol=1e-4, rtol=1e-4)


def test_rope_scores_of_whole_sequences_are_shift_invariant() -> None:
    rope = RotaryEmbedding(8, max_len=256)
    q, k = torch.randn(2, 1, 2, 12, 8, dtype=torch.float64).unbind(0)
    scores = rope(q) @ rope(k).transpose(-2, -1)  # (N, H, L, L)
    for extra in (1, 9, 100):
        shifted = rope(q, offset=extra) @ rope(k, offset=extra).transpose(-2, -1)
        assert_close(shifted, scores, atol=1e-5, rtol=1e-5)


def test_rope_preserves_norms_and_leaves_position_zero_alone() -> None:
    rope = RotaryEmbedding(16, max_len=64)
    x = torch.randn(2, 4, 30, 16)
    out = rope(x, offset=3)
    assert_close(out.norm(dim=-1), x.norm(dim=-1))
    assert_close(rope(x)[..., 0, :], x[..., 0, :])


def test_rope_explicit_positions(device: torch.device) -> None:
    rope = RotaryEmbedding(4, max_len=32).to(device)
    x = torch.randn(2, 3, 5, 4, device=device)
    positions = torch.arange(7, 12, device=device)
    assert_close(rope(x, positions=positions), rope(x, offset=7))
    per_sequence = torch.stack((torch.arange(5), torch.arange(10, 15))).to(device)  # (N, L)
    out = rope(x, positions=per_sequence)
    assert_close(out[0], rope(x[:1], offset=0)[0])
    assert_close(out[1], rope(x[1:], offset=10)[0])


def test_rope_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"head_dim: expected an even number"):
        RotaryEmbedding(5)
    rope = RotaryEmbedding(4, max_len=8)
    with pytest.raises(ValueError, match=r"max_len=8"):
        rope(torch.zeros(1, 1, 9, 4))
    with pytest.raises(ValueError, match=r"max_len=8"):
        rope(torch.zeros(1, 1, 2, 4), offset=7)
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., L, 4\), got \(1, 1, 2, 6\)"):
        rope(torch.zeros(1, 1, 2, 6))
    with pytest.raises(ValueError, match=r"positions: expected shape \(2,\)"):
        rope(torch.zeros(1, 1, 2, 4), positions=torch.arange(3))
    with pytest.raises(TypeError, match=r"positions: expected an integer dtype"):
        rope(torch.zeros(1, 1, 2, 4), positions=torch.zeros(2))
    with pytest.raises(ValueError, match=r"positions: expected values in \[0, max_len=8\)"):
        rope(torch.zeros(1, 1, 2, 4), positions=torch.tensor([0, 8]))


# ------------------------------------------------------------------------------ ALiBi


def test_alibi_slopes_for_powers_of_two() -> None:
    assert_close(alibi_slopes(8), 2.0 ** -torch.arange(1.0, 9.0))
    assert_close(alibi_slopes(16), 2.0 ** -(torch.arange(1.0, 17.0) / 2))
    assert alibi_slopes(1).tolist() == [2.0**-8]


def test_alibi_slopes_for_other_head_counts_follow_the_paper() -> None:
    # 12 heads: the 8-head slopes, then every other slope of 16 heads (2^-0.5, 2^-1.5, ...).
    expected = [2.0**-i for i in range(1, 9)] + [2.0 ** -(i + 0.5) for i in range(4)]
    assert_close(alibi_slopes(12), torch.tensor(expected))
    slopes = alibi_slopes(6)
    assert slopes.shape == (6,) and len(set(slopes.tolist())) == 6


@pytest.mark.parametrize("causal", [True, False])
def test_alibi_bias_shape_sign_and_diagonal(device: torch.device, causal: bool) -> None:
    bias = alibi_bias(8, 6, causal=causal, device=device)
    assert bias.shape == (1, 8, 6, 6) and bias.device.type == device.type
    assert (bias <= 0).all()
    assert (bias[0].diagonal(dim1=-2, dim2=-1) == 0).all()
    slopes = alibi_slopes(8, device=device)
    i, j = 4, 1
    assert_close(bias[0, :, i, j], -slopes * (i - j))
    if causal:
        assert torch.isneginf(bias[0, :, j, i]).all()  # a key after the query is masked
    else:
        assert_close(bias, bias.transpose(-2, -1))


def test_alibi_offset_for_cached_decoding() -> None:
    full = alibi_bias(4, 7)
    assert_close(alibi_bias(4, 1, 7, offset=6), full[:, :, 6:])
    assert alibi_bias(4, 3, 5).shape == (1, 4, 3, 5)


def test_alibi_bad_inputs() -> None:
    with pytest.raises(ValueError, match=r"num_heads: expected a positive int, got 0"):
        alibi_slopes(0)
    with pytest.raises(ValueError, match=r"offset: expected a non-negative int"):
        alibi_bias(2, 3, offset=-2)
