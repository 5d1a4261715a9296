"""MultiheadAttention: equal to torch.nn.MultiheadAttention with the same weights, and more."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torch.testing import assert_close

from attnbook.attention import KVCache, MultiheadAttention
from attnbook.masks import causal_mask, padding_mask, to_additive, to_torch_mha_mask
from attnbook.positional import RelativePositionBias, RotaryEmbedding, alibi_bias

TOL = {"atol": 1e-5, "rtol": 1e-5}


def _inputs(
    N: int,
    L: int,
    S: int,
    E: int,
    kdim: int,
    vdim: int,
    *,
    self_attn: bool,
    device=None,
    dtype=None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch-first inputs; for self-attention the very same tensor three times."""
    query = torch.randn(N, L, E, device=device, dtype=dtype)
    if self_attn:
        return query, query, query
    key = torch.randn(N, S, kdim, device=device, dtype=dtype)
    value = torch.randn(N, S, vdim, device=device, dtype=dtype)
    return query, key, value


def _masks(N: int, H: int, L: int, S: int, g: torch.Generator, device) -> tuple:
    """A random boolean attn mask (N, H, L, S) and key padding mask (N, S), SDPA polarity.

    Key 0 stays visible everywhere, so no query row is fully masked (torch returns
    NaN there, we return zeros; that case has its own test).
    """
    attn = torch.rand(N, H, L, S, generator=g) > 0.4
    attn[..., 0] = True
    lengths = torch.randint(1, S + 1, (N,), generator=g)
    keys = padding_mask(lengths, max_len=S)[:, 0, 0]  # (N, S)
    return attn.to(device), keys.to(device)


def _compare_with_torch(
    ours: MultiheadAttention,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    key_padding_mask: torch.Tensor | None = None,
) -> None:
    """Our outputs and weights (averaged and per head) against torch's, same weights."""
    theirs = ours.to_torch()
    if not ours.batch_first:
        query, key, value = (x.transpose(0, 1) for x in (query, key, value))  # (L, N, E)
    torch_attn = None
    if attn_mask is not None:
        torch_attn = to_torch_mha_mask(attn_mask)
        if torch_attn.dim() == 4:
            torch_attn = torch_attn.flatten(0, 1)  # (N, H, L, S) -> (N*H, L, S), torch's layout
    torch_keys = None if key_padding_mask is None else to_torch_mha_mask(key_padding_mask)
    for average in (True, False):
        out, weights = ours(
            query,
            key,
            value,
            attn_mask=attn_mask,
            key_padding_mask=key_padding_mask,
            need_weights=True,
            average_attn_weights=average,
        )
        expected_out, expected_weights = theirs(
            query,
            key,
            value,
            attn_mask=torch_attn,
            key_padding_mask=torch_keys,
            need_weights=True,
            average_attn_weights=average,
        )
        assert_close(out, expected_out, **TOL)
        assert_close(weights, expected_weights, **TOL)
    # need_weights=False takes torch's fused path: the output must still agree.
    out, none = ours(query, key, value, attn_mask=attn_mask, key_padding_mask=key_padding_mask)
    assert none is None
    expected = theirs(
        query,
        key,
        value,
        attn_mask=torch_attn,
        key_padding_mask=torch_keys,
        need_weights=False,
    )[0]
    assert_close(out, expected, **TOL)


@pytest.mark.parametrize(("batch_first", "bias"), [(True, True), (False, False)])
@pytest.mark.parametrize(
    ("self_attn", "kdim", "vdim"), [(True, 16, 16), (False, 16, 16), (False, 5, 7)]
)
@pytest.mark.parametrize("masks", ["none", "attn_2d", "attn_4d", "padding", "both", "float"])
def test_matches_torch(
    device: torch.device,
    batch_first: bool,
    bias: bool,
    self_attn: bool,
    kdim: int,
    vdim: int,
    masks: str,
) -> None:
    g = torch.Generator().manual_seed(1)
    N, H, L, E = 3, 4, 6, 16
    S = L if self_attn else 9
    ours = MultiheadAttention(E, H, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first)
    ours = ours.to(device)
    query, key, value = _inputs(N, L, S, E, kdim, vdim, self_attn=self_attn, device=device)
    attn, keys = _masks(N, H, L, S, g, device)
    attn_mask = {
        "none": None,
        "attn_2d": attn[0, 0],
        "attn_4d": attn,
        "padding": None,
        "both": attn,
        "float": torch.randn(N, H, L, S, generator=g).to(device),
    }[masks]
    key_padding_mask = keys if masks in ("padding", "both") else None
    _compare_with_torch(ours, query, key, value, attn_mask, key_padding_mask)


@given(
    N=st.integers(1, 3),
    H=st.sampled_from([1, 2, 4]),
    head_dim=st.integers(1, 6),
    L=st.integers(1, 7),
    S=st.integers(1, 7),
    kdim=st.integers(1, 9),
    vdim=st.integers(1, 9),
    bias=st.booleans(),
    batch_first=st.booleans(),
    use_masks=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_matches_torch_on_random_shapes(
    N: int,
    H: int,
    head_dim: int,
    L: int,
    S: int,
    kdim: int,
    vdim: int,
    bias: bool,
    batch_first: bool,
    use_masks: bool,
    seed: int,
) -> None:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    E = H * head_dim
    ours = MultiheadAttention(E, H, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first)
    query, key, value = _inputs(N, L, S, E, kdim, vdim, self_attn=False)
    attn, keys = _masks(N, H, L, S, g, None) if use_masks else (None, None)
    _compare_with_torch(ours, query, key, value, attn, keys)


def test_is_causal_matches_torch_with_an_explicit_causal_mask(device: torch.device) -> None:
    ours = MultiheadAttention(8, 2).to(device)
    x = torch.randn(2, 5, 8, device=device)
    keys = padding_mask([5, 3], max_len=5).to(device)[:, 0, 0]  # (N, S)
    out, weights = ours(x, x, x, key_padding_mask=keys, is_causal=True, need_weights=True)
    theirs = ours.to_torch()
    expected, expected_weights = theirs(
        x,
        x,
        x,
        attn_mask=to_torch_mha_mask(causal_mask(5, device=device)),
        key_padding_mask=to_torch_mha_mask(keys),
        is_causal=True,
    )
    assert_close(out, expected, **TOL)
    assert_close(weights, expected_weights, **TOL)


def test_weights_are_a_distribution_and_masked_keys_get_exactly_zero() -> None:
    ours = MultiheadAttention(8, 2)
    x = torch.randn(2, 5, 8)
    attn, keys = _masks(2, 2, 5, 5, torch.Generator().manual_seed(3), None)
    _, weights = ours(
        x,
        x,
        x,
        attn_mask=attn,
        key_padding_mask=keys,
        need_weights=True,
        average_attn_weights=False,
    )
    allowed = attn & keys[:, None, None, :]  # (N, H, L, S)
    assert (weights >= 0).all()
    assert (weights[~allowed] == 0).all()
    assert_close(weights.sum(-1), torch.ones(2, 2, 5))


def test_a_query_with_no_key_left_gets_zero_weights_not_nan() -> None:
    ours = MultiheadAttention(8, 2)
    x = torch.randn(1, 3, 8)
    attn = torch.ones(3, 3, dtype=torch.bool)
    attn[1] = False  # query 1 may attend to nothing
    out, weights = ours(x, x, x, attn_mask=attn, need_weights=True)
    assert not out.isnan().any()
    assert (weights[0, 1] == 0).all()
    assert_close(out[0, 1], ours.out_proj.bias)  # a zero attention output, then out_proj


def test_padding_does_not_change_the_outputs_at_real_tokens() -> None:
    ours = MultiheadAttention(8, 2).eval()
    x = torch.randn(1, 4, 8)
    padded = torch.cat((x, torch.randn(1, 3, 8)), dim=1)  # (1, 7, 8): 3 junk tokens
    keys = padding_mask([4], max_len=7)[:, 0, 0]  # (N, S)
    expected, _ = ours(x, x, x)
    out, _ = ours(padded, padded, padded, key_padding_mask=keys)
    assert_close(out[:, :4], expected, **TOL)


def test_round_trip_keeps_every_weight() -> None:
    for kdim, vdim, bias in [(None, None, True), (None, None, False), (3, 5, True), (3, 5, False)]:
        theirs = nn.MultiheadAttention(8, 2, bias=bias, kdim=kdim, vdim=vdim, dtype=torch.float64)
        theirs.eval()
        ours = MultiheadAttention.from_torch(theirs)
        assert ours.q_proj.weight.dtype == torch.float64 and not ours.training
        back = ours.to_torch()
        assert not back.training and back.batch_first is False
        assert back.state_dict().keys() == theirs.state_dict().keys()
        for name, tensor in theirs.state_dict().items():
            assert torch.equal(back.state_dict()[name], tensor), name
        again = MultiheadAttention.from_torch(back)
        for name, tensor in ours.state_dict().items():
            assert torch.equal(again.state_dict()[name], tensor), name


def test_packed_in_proj_weight_is_q_k_v_stacked() -> None:
    ours = MultiheadAttention(6, 3)
    theirs = ours.to_torch()
    assert torch.equal(theirs.in_proj_weight[:6], ours.q_proj.weight)
    assert torch.equal(theirs.in_proj_weight[6:12], ours.k_proj.weight)
    assert torch.equal(theirs.in_proj_weight[12:], ours.v_proj.weight)
    assert torch.equal(
        theirs.in_proj_bias, torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias])
    )


def test_from_torch_refuses_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match=r"add_bias_kv=True and add_zero_attn=True"):
        MultiheadAttention.from_torch(nn.MultiheadAttention(8, 2, add_bias_kv=True))
    with pytest.raises(ValueError, match=r"add_zero_attn=True"):
        MultiheadAttention.from_torch(nn.MultiheadAttention(8, 2, add_zero_attn=True))
    with pytest.raises(
        TypeError, match=r"module: expected a torch.nn.MultiheadAttention, got Linear"
    ):
        MultiheadAttention.from_torch(nn.Linear(2, 2))


def test_gradients_equal_torchs_in_float64() -> None:
    ours = MultiheadAttention(6, 2, kdim=4, vdim=5, dtype=torch.float64)
    theirs = ours.to_torch()
    query = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    key = torch.randn(2, 4, 4, dtype=torch.float64, requires_grad=True)
    value = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
    keys = padding_mask([4, 2], max_len=4)[:, 0, 0]  # (N, S)
    out, weights = ours(query, key, value, key_padding_mask=keys, need_weights=True)
    (out.square().sum() + weights.sum()).backward()
    ours_grads = [x.grad.clone() for x in (query, key, value)]
    for x in (query, key, value):
        x.grad = None
    expected, expected_weights = theirs(query, key, value, key_padding_mask=~keys)
    (expected.square().sum() + expected_weights.sum()).backward()
    for got, want in zip(ours_grads, (query.grad, key.grad, value.grad), strict=True):
        assert_close(got, want)
    pairs = [
        (ours.q_proj.weight.grad, theirs.q_proj_weight.grad),
        (ours.k_proj.weight.grad, theirs.k_proj_weight.grad),
        (ours.v_proj.weight.grad, theirs.v_proj_weight.grad),
        (ours.out_proj.weight.grad, theirs.out_proj.weight.grad),
        (
            torch.cat([p.bias.grad for p in (ours.q_proj, ours.k_proj, ours.v_proj)]),
            theirs.in_proj_bias.grad,
        ),
    ]
    for got, want in pairs:
        assert_close(got, want)


def test_gradcheck() -> None:
    ours = MultiheadAttention(4, 2, dtype=torch.float64)
    query = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    key = torch.randn(1, 2, 4, dtype=torch.float64, requires_grad=True)
    keys = torch.tensor([[True, False]])
    assert torch.autograd.gradcheck(
        lambda q, k: ours(q, k, k, key_padding_mask=keys, is_causal=True)[0], (query, key)
    )


def test_permuting_the_tokens_permutes_the_output_without_positions() -> None:
    ours = MultiheadAttention(12, 3)
    x = torch.randn(2, 7, 12)
    perm = torch.randperm(7)
    out, weights = ours(x, x, x, need_weights=True)
    out_p, weights_p = ours(x[:, perm], x[:, perm], x[:, perm], need_weights=True)
    assert_close(out_p, out[:, perm], **TOL)
    assert_close(weights_p, weights[:, perm][:, :, perm], **TOL)


def test_rotary_breaks_permutation_equivariance_and_uses_relative_positions() -> None:
    ours = MultiheadAttention(12, 3)
    rope = RotaryEmbedding(4, max_len=64)
    x = torch.randn(1, 6, 12)
    perm = torch.tensor([5, 4, 3, 2, 1, 0])
    out = ours(x, x, x, rotary=rope)[0]
    out_p = ours(x[:, perm], x[:, perm], x[:, perm], rotary=rope)[0]
    assert not torch.allclose(out_p, out[:, perm], atol=1e-4)
    # With every position shifted by the same amount (a cache of junk keys masked out),
    # the scores, and so the outputs, do not change: RoPE only sees offsets.
    cache = KVCache()
    junk = torch.randn(1, 3, 12)
    ours(junk, junk, junk, rotary=rope, cache=cache)
    visible = torch.tensor([[False] * 3 + [True] * 6])  # (N, S): hide the junk
    shifted = ours(x, x, x, key_padding_mask=visible, rotary=rope, cache=cache)[0]
    assert_close(shifted, out, **TOL)


def test_rotary_equals_rotating_the_projected_heads_by_hand() -> None:
    ours = MultiheadAttention(8, 2)
    rope = RotaryEmbedding(4, max_len=16)
    x = torch.randn(2, 5, 8)

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(2, 5, 2, 4).transpose(1, 2)  # (N, L, E) -> (N, H, L, Eh)

    q, k, v = (heads(p(x)) for p in (ours.q_proj, ours.k_proj, ours.v_proj))
    attended = nn.functional.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
    expected = ours.out_proj(attended.transpose(1, 2).reshape(2, 5, 8))  # (N, L, E)
    assert_close(ours(x, x, x, is_causal=True, rotary=rope)[0], expected, **TOL)


@pytest.mark.parametrize("shape", ["3d", "4d"])
def test_position_bias_is_added_to_the_scores_like_a_float_mask(shape: str) -> None:
    ours = MultiheadAttention(8, 2)
    x = torch.randn(3, 4, 8)
    bias = RelativePositionBias(2, num_buckets=8, max_distance=16)(4)  # (1, H, L, S)
    keys = padding_mask([4, 2, 3], max_len=4)[:, 0, 0]  # (N, S)
    given = bias[0] if shape == "3d" else bias
    out, weights = ours(x, x, x, key_padding_mask=keys, position_bias=given, need_weights=True)
    theirs = ours.to_torch()
    torch_mask = bias.expand(3, 2, 4, 4).reshape(6, 4, 4)  # (N*H, L, S), torch's layout
    # Torch wants both masks of one kind: a float padding mask means the same in both polarities.
    expected, expected_weights = theirs(
        x, x, x, attn_mask=torch_mask, key_padding_mask=to_additive(keys)
    )
    assert_close(out, expected, **TOL)
    assert_close(weights, expected_weights, **TOL)


@pytest.mark.parametrize("positions", ["none", "rotary", "alibi", "relative"])
def test_cached_decoding_equals_the_full_causal_pass(device: torch.device, positions: str) -> None:
    ours = MultiheadAttention(16, 4).to(device).eval()
    rope = RotaryEmbedding(4, max_len=32).to(device) if positions == "rotary" else None
    relative = RelativePositionBias(4, num_buckets=8, max_distance=16, bidirectional=False)
    relative = relative.to(device)

    def bias(L: int, S: int, offset: int) -> torch.Tensor | None:
        if positions == "alibi":
            return alibi_bias(4, L, S, offset=offset, device=device)
        if positions == "relative":
            return relative(L, S, offset=offset)
        return None

    x = torch.randn(2, 8, 16, device=device)
    full, full_weights = ours(
        x, x, x, is_causal=True, need_weights=True, rotary=rope, position_bias=bias(8, 8, 0)
    )
    cache = KVCache()
    prompt = x[:, :3]
    out, _ = ours(
        prompt,
        prompt,
        prompt,
        is_causal=True,
        rotary=rope,
        cache=cache,
        position_bias=bias(3, 3, 0),
    )
    assert_close(out, full[:, :3], **TOL)
    for t in range(3, 8):
        step = x[:, t : t + 1]  # (N, 1, E): one new token
        out, weights = ours(
            step,
            step,
            step,
            is_causal=True,
            need_weights=True,
            rotary=rope,
            cache=cache,
            position_bias=bias(1, t + 1, t),
        )
        assert len(cache) == t + 1
        assert_close(out, full[:, t : t + 1], **TOL)
        assert_close(weights[:, 0], full_weights[:, t, : t + 1], **TOL)


def test_cache_aligns_is_causal_at_the_bottom_right() -> None:
    ours = MultiheadAttention(8, 2)
    x = torch.randn(1, 5, 8)
    cache = KVCache()
    ours(x[:, :2], x[:, :2], x[:, :2], is_causal=True, cache=cache)
    _, weights = ours(x[:, 2:], x[:, 2:], x[:, 2:], is_causal=True, cache=cache, need_weights=True)
    # Queries at positions 2, 3, 4 see keys 0..2, 0..3 and 0..4.
    assert (weights[0] > 0).tolist() == causal_mask(5)[2:].tolist()


def test_eval_mode_turns_dropout_off() -> None:
    ours = MultiheadAttention(8, 2, dropout=0.5)
    x = torch.randn(2, 4, 8)
    reference = MultiheadAttention(8, 2)
    reference.load_state_dict(ours.state_dict())
    assert_close(ours.eval()(x, x, x)[0], reference(x, x, x)[0])
    torch.manual_seed(0)
    first = ours.train()(x, x, x)[0]
    second = ours(x, x, x)[0]
    assert not torch.equal(first, second)  # dropout draws new weights each call


# ------------------------------------------------------------------------------- errors


def test_embed_dim_not_divisible_by_num_heads() -> None:
    with pytest.raises(ValueError, match=r"embed_dim: expected a multiple of num_heads=3, got 8"):
        MultiheadAttention(8, 3)
    with pytest.raises(ValueError, match=r"num_heads: expected a positive int, got 0"):
        MultiheadAttention(8, 0)
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\), got 1.5"):
        MultiheadAttention(8, 2, dropout=1.5)


def test_wrong_number_of_dims() -> None:
    ours = MultiheadAttention(8, 2)
    x = torch.randn(4, 8)
    with pytest.raises(ValueError, match=r"query: expected 3 dims \(N, L, features\).*\(4, 8\)"):
        ours(x, x, x)
    seq_first = MultiheadAttention(8, 2, batch_first=False)
    with pytest.raises(ValueError, match=r"key: expected 3 dims \(L, N, features\)"):
        seq_first(torch.randn(3, 1, 8), torch.randn(1, 3, 1, 8), torch.randn(3, 1, 8))


def test_query_and_key_feature_mismatch() -> None:
    ours = MultiheadAttention(8, 2, kdim=5)
    query = torch.randn(1, 3, 8)
    with pytest.raises(ValueError, match=r"key: expected last dim kdim=5, got shape \(1, 4, 8\)"):
        ours(query, torch.randn(1, 4, 8), torch.randn(1, 4, 8))
    with pytest.raises(ValueError, match=r"query: expected last dim embed_dim=8, got shape"):
        ours(torch.randn(1, 3, 6), torch.randn(1, 4, 5), torch.randn(1, 4, 8))
    with pytest.raises(ValueError, match=r"value: expected last dim vdim=8"):
        ours(query, torch.randn(1, 4, 5), torch.randn(1, 4, 5))


def test_key_value_length_and_batch_mismatch() -> None:
    ours = MultiheadAttention(8, 2)
    query = torch.randn(2, 3, 8)
    with pytest.raises(ValueError, match=r"key, value: expected the same length S"):
        ours(query, torch.randn(2, 4, 8), torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match=r"query, key, value: expected one batch size N"):
        ours(query, torch.randn(1, 4, 8), torch.randn(1, 4, 8))


def test_bad_masks() -> None:
    ours = MultiheadAttention(8, 2)
    x = torch.randn(2, 3, 8)
    with pytest.raises(
        ValueError, match=r"attn_mask: expected shape \(L, S\) = \(3, 3\).*got \(3, 4\)"
    ):
        ours(x, x, x, attn_mask=torch.ones(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(N\*H, L, S\) mask must be reshaped"):
        ours(x, x, x, attn_mask=torch.ones(4, 3, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask: .*\(N or 1, H or 1, L or 1, S\)"):
        ours(x, x, x, attn_mask=torch.ones(2, 3, 3, 3, dtype=torch.bool))
    with pytest.raises(
        TypeError,
        match=r"attn_mask: expected dtype torch.bool or a floating dtype, got torch.int64",
    ):
        ours(x, x, x, attn_mask=torch.ones(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"key_padding_mask: expected shape \(N, S\) = \(2, 3\)"):
        ours(x, x, x, key_padding_mask=torch.ones(2, 1, 1, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"key_padding_mask: expected dtype torch.bool"):
        ours(x, x, x, key_padding_mask=torch.ones(2, 3, dtype=torch.int32))
    with pytest.raises(TypeError, match=r"position_bias: expected a float tensor"):
        ours(x, x, x, position_bias=torch.ones(2, 3, 3, dtype=torch.bool))
    with pytest.raises(
        ValueError, match=r"position_bias: expected shape \(H, L, S\) = \(2, 3, 3\)"
    ):
        ours(x, x, x, position_bias=torch.zeros(4, 3, 3))


def test_bad_rotary_and_cache() -> None:
    ours = MultiheadAttention(8, 2)
    x = torch.randn(1, 3, 8)
    with pytest.raises(ValueError, match=r"rotary: expected a RotaryEmbedding with head_dim=4"):
        ours(x, x, x, rotary=RotaryEmbedding(8))
    cache = KVCache()
    ours(x, x, x, cache=cache)
    with pytest.raises(ValueError, match=r"cache: expected new key of shape"):
        ours(torch.randn(2, 1, 8), torch.randn(2, 1, 8), torch.randn(2, 1, 8), cache=cache)
