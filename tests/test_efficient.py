"""attnbook.efficient: each variant against dense attention computed by torch.

Exact methods (tiled, sliding window, strided) must match
``F.scaled_dot_product_attention`` under the matching mask; the approximate
ones (linear, hierarchical) must match their own explicit quadratic definition
and the special cases where they are exact.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attnbook.efficient import (
    elu_feature_map,
    hierarchical_attention,
    linear_attention,
    sliding_window_attention,
    strided_attention,
    tiled_attention,
)
from attnbook.masks import local_window_mask, strided_mask

# The device fixture is stateless (a torch.device), so reusing it across examples is safe.
fixture_ok = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


def max_rel_err(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest absolute difference over the largest magnitude (normwise, no 0/0 blow-up)."""
    scale = expected.abs().max().clamp_min(torch.finfo(expected.dtype).tiny)
    return ((actual - expected).abs().max() / scale).item()


def qkv(N, H, L, S, E, Ev, *, dtype=torch.float32, device="cpu", seed=0, grad=False):
    g = torch.Generator().manual_seed(seed)
    shapes = ((N, H, L, E), (N, H, S, E), (N, H, S, Ev))
    return tuple(
        torch.randn(s, generator=g, dtype=dtype).to(device).requires_grad_(grad) for s in shapes
    )


def random_mask(kind: str, N: int, H: int, L: int, S: int, seed: int, dtype=torch.float32):
    """A mask of the given kind, in one of the shapes SDPA broadcasts."""
    g = torch.Generator().manual_seed(seed)
    if kind == "none":
        return None
    if kind == "bool":  # (L, S), some rows fully masked now and then
        return torch.rand(L, S, generator=g) > 0.4
    if kind == "bool_heads":  # (N, 1, L, S)
        return torch.rand(N, 1, L, S, generator=g) > 0.3
    if kind == "padding":  # (N, 1, 1, S), keys broadcast over heads and queries
        return torch.rand(N, 1, 1, S, generator=g) > 0.3
    if kind == "float":  # (H, L, S), finite additive bias with some -inf
        bias = torch.randn(H, L, S, generator=g, dtype=dtype)
        return bias.masked_fill(torch.rand(H, L, S, generator=g) > 0.8, -math.inf)
    raise AssertionError(kind)


def dense_reference(q, k, v, mask, is_causal, scale=None):
    """SDPA, with causal and a mask combined by hand (SDPA refuses both at once)."""
    if is_causal and mask is not None:
        L, S = q.shape[-2], k.shape[-2]
        tril = torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
        if mask.dtype == torch.bool:
            mask = mask & tril
        else:
            mask = mask.masked_fill(~tril, -math.inf)
        is_causal = False
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=is_causal, scale=scale)


MASK_KINDS = ["none", "bool", "bool_heads", "padding", "float"]

shapes = st.fixed_dictionaries(
    {
        "N": st.integers(1, 2),
        "H": st.integers(1, 3),
        "L": st.integers(1, 40),
        "S": st.integers(1, 40),
        "E": st.integers(1, 9),
        "Ev": st.integers(1, 9),
        "block_q": st.integers(1, 17),
        "block_k": st.integers(1, 17),
        "mask": st.sampled_from(MASK_KINDS),
        "causal": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)


# --- tiled_attention -------------------------------------------------------------------


@fixture_ok
@given(case=shapes)
def test_tiled_matches_sdpa(case, device):
    c = case
    q, k, v = qkv(c["N"], c["H"], c["L"], c["S"], c["E"], c["Ev"], device=device, seed=c["seed"])
    mask = random_mask(c["mask"], c["N"], c["H"], c["L"], c["S"], c["seed"])
    mask = None if mask is None else mask.to(device)
    out = tiled_attention(q, k, v, mask, c["causal"], block_q=c["block_q"], block_k=c["block_k"])
    expected = dense_reference(q, k, v, mask, c["causal"])
    assert out.shape == expected.shape
    assert max_rel_err(out, expected) <= 1e-5


@settings(max_examples=20)
@given(case=shapes)
def test_tiled_gradients_match_sdpa(case):
    c = case
    q, k, v = qkv(c["N"], c["H"], c["L"], c["S"], c["E"], c["Ev"], seed=c["seed"], grad=True)
    mask = random_mask(c["mask"], c["N"], c["H"], c["L"], c["S"], c["seed"])
    out = tiled_attention(q, k, v, mask, c["causal"], block_q=c["block_q"], block_k=c["block_k"])
    expected = dense_reference(q, k, v, mask, c["causal"])
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(c["seed"]))
    ours = torch.autograd.grad(out, (q, k, v), grad_out)
    theirs = torch.autograd.grad(expected, (q, k, v), grad_out)
    for name, a, b in zip("qkv", ours, theirs, strict=True):
        assert max_rel_err(a, b) <= 1e-4, name


@pytest.mark.parametrize(
    ("L", "S", "mask_kind", "causal"),
    [(5, 7, "none", False), (7, 5, "none", True), (6, 6, "bool", True), (4, 9, "float", False)],
)
def test_tiled_gradcheck_float64(L, S, mask_kind, causal):
    q, k, v = qkv(1, 2, L, S, 3, 2, dtype=torch.float64, grad=True)
    mask = random_mask(mask_kind, 1, 2, L, S, seed=1, dtype=torch.float64)
    if mask is not None and mask.dtype == torch.bool:
        mask[..., 0, :] = False  # a fully masked query row, gradients included
    if mask is not None and mask.is_floating_point():
        mask = mask.clamp_min(-5.0).requires_grad_()  # finite, so gradcheck can nudge it
        inputs = (q, k, v, mask)
    else:
        inputs = (q, k, v)

    def fn(q, k, v, m=mask):
        return tiled_attention(q, k, v, m, causal, block_q=2, block_k=3)

    assert torch.autograd.gradcheck(fn, inputs)


def test_tiled_float_mask_gradient_matches_sdpa():
    q, k, v = qkv(2, 2, 10, 12, 4, 3, grad=True)
    bias = torch.randn(2, 1, 10, 12).requires_grad_()  # (N, 1, L, S): broadcast over heads
    out = tiled_attention(q, k, v, bias, block_q=3, block_k=5)
    (ours,) = torch.autograd.grad(out.square().sum(), bias)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    (theirs,) = torch.autograd.grad(expected.square().sum(), bias)
    assert ours.shape == bias.shape
    assert max_rel_err(ours, theirs) <= 1e-4


def test_tiled_fully_masked_rows_return_zeros_like_sdpa(device):
    q, k, v = qkv(1, 2, 6, 8, 4, 4, device=device, grad=True)
    mask = torch.ones(6, 8, dtype=torch.bool, device=device)
    mask[2] = False
    out = tiled_attention(q, k, v, mask, block_q=4, block_k=3)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.equal(out[..., 2, :], torch.zeros_like(out[..., 2, :]))
    torch.testing.assert_close(out, expected)
    grads = torch.autograd.grad(out.sum(), (q, k, v))
    expected_grads = torch.autograd.grad(expected.sum(), (q, k, v))
    for a, b in zip(grads, expected_grads, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b)


def test_tiled_causal_skips_tiles_wholly_in_the_future():
    # NaN values in key tile 1 would poison any query tile that touched it (0 * NaN),
    # so finite outputs for query tile 0 show that the tile was never computed.
    q, k, v = qkv(1, 1, 8, 8, 4, 4)
    v[..., 4:, :] = float("nan")
    out = tiled_attention(q, k, v, is_causal=True, block_q=4, block_k=4)
    expected = F.scaled_dot_product_attention(
        q[..., :4, :], k[..., :4, :], v[..., :4, :], is_causal=True
    )
    torch.testing.assert_close(out[..., :4, :], expected)
    assert torch.isnan(out[..., 4:, :]).all()


def test_tiled_causal_top_left_aligned_when_lengths_differ():
    q, k, v = qkv(1, 2, 5, 11, 4, 4)
    out = tiled_attention(q, k, v, is_causal=True, block_q=2, block_k=3)
    tril = torch.ones(5, 11, dtype=torch.bool).tril()  # query i sees keys 0..i
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=tril))


def test_tiled_backward_saves_no_score_matrix():
    L = S = 64
    q, k, v = qkv(1, 2, L, S, 4, 4, grad=True)
    out = tiled_attention(q, k, v, block_q=16, block_k=16)
    node = out.grad_fn
    while "TiledAttention" not in type(node).__name__:  # walk past the reshape views
        node = node.next_functions[0][0]
    saved = node.saved_tensors  # what autograd keeps for backward
    assert max(t.numel() for t in saved if t is not None) <= 2 * L * 4  # (B, L, E): O(n)
    assert sum(t.numel() for t in saved if t is not None) < 2 * L * S  # the weights would be


def test_tiled_broadcasts_batch_and_accepts_2d_inputs():
    q, k, v = qkv(2, 3, 7, 9, 4, 5, grad=True)
    k1, v1 = k[:, :1].detach().requires_grad_(), v[:1].detach().requires_grad_()
    out = tiled_attention(q, k1, v1, block_q=3, block_k=4)
    expected = F.scaled_dot_product_attention(q, k1.expand(2, 3, 9, 4), v1.expand(2, 3, 9, 5))
    torch.testing.assert_close(out, expected)
    ours = torch.autograd.grad(out.sum(), (k1, v1))
    theirs = torch.autograd.grad(expected.sum(), (k1, v1))
    for a, b in zip(ours, theirs, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b)
    out2d = tiled_attention(q[0, 0], k[0, 0], v[0, 0], block_q=2, block_k=2)  # (L, E)
    expected2d = F.scaled_dot_product_attention(q[0, 0], k[0, 0], v[0, 0])
    assert out2d.shape == (7, 5)
    torch.testing.assert_close(out2d, expected2d)


def test_tiled_custom_scale_and_float64():
    q, k, v = qkv(1, 2, 13, 13, 8, 8, dtype=torch.float64)
    out = tiled_attention(q, k, v, scale=0.3, block_q=5, block_k=4)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, scale=0.3))
    assert out.dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"block_q": 0}, ValueError, r"block_q: expected an int >= 1, got 0"),
        ({"block_k": -3}, ValueError, r"block_k: expected an int >= 1, got -3"),
        ({"block_q": 2.5}, TypeError, r"block_q: expected an int, got float"),
        ({"block_k": True}, TypeError, r"block_k: expected an int, got bool"),
        ({"is_causal": 1}, TypeError, r"is_causal: expected a bool"),
        ({"scale": "big"}, TypeError, r"scale: expected a float or None"),
        ({"scale": math.inf}, ValueError, r"scale: expected a finite number"),
        (
            {"attn_mask": torch.ones(4, 6, dtype=torch.int64)},
            TypeError,
            r"attn_mask: expected dtype",
        ),
        (
            {"attn_mask": torch.ones(5, 6, dtype=torch.bool)},
            ValueError,
            r"attn_mask: expected a shape",
        ),
        ({"attn_mask": torch.ones(3, 2, 4, 6, dtype=torch.bool)}, ValueError, r"\(3, 2, 4, 6\)"),
    ],
)
def test_tiled_refuses_bad_arguments(kwargs, error, match):
    q, k, v = qkv(2, 2, 4, 6, 3, 3)
    with pytest.raises(error, match=match):
        tiled_attention(q, k, v, **kwargs)


@pytest.mark.parametrize(
    ("shapes", "error", "match"),
    [
        (((4,), (6, 3), (6, 3)), ValueError, r"query: expected at least 2 dimensions"),
        (((4, 3), (6, 2), (6, 3)), ValueError, r"query, key: expected the same feature size"),
        (((4, 3), (6, 3), (5, 3)), ValueError, r"key, value: expected the same length S"),
        (((2, 4, 3), (3, 6, 3), (3, 6, 3)), ValueError, r"batch dimensions"),
    ],
)
def test_tiled_refuses_bad_shapes(shapes, error, match):
    q, k, v = (torch.randn(s) for s in shapes)
    with pytest.raises(error, match=match):
        tiled_attention(q, k, v)


def test_tiled_refuses_bad_dtypes():
    q = torch.randn(4, 3)
    with pytest.raises(TypeError, match=r"query, key, value: expected one dtype"):
        tiled_attention(q, q.double(), q)
    with pytest.raises(TypeError, match=r"key: expected a floating dtype, got torch.int64"):
        tiled_attention(q, torch.ones(4, 3, dtype=torch.int64), q)
    with pytest.raises(TypeError, match=r"value: expected a torch.Tensor, got list"):
        tiled_attention(q, q, [1.0])


# --- sliding window and strided ---------------------------------------------------------

windows = st.fixed_dictionaries(
    {
        "L": st.integers(1, 70),
        "S": st.integers(1, 70),
        "window": st.integers(0, 20),
        "extra_block": st.sampled_from([None, 0, 1, 7]),
        "causal": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)


@fixture_ok
@given(case=windows)
def test_sliding_window_equals_masked_dense(case, device):
    c = case
    q, k, v = qkv(2, 2, c["L"], c["S"], 5, 3, device=device, seed=c["seed"])
    block = None if c["extra_block"] is None else max(c["window"], 1) + c["extra_block"]
    out = sliding_window_attention(q, k, v, c["window"], is_causal=c["causal"], block_size=block)
    mask = local_window_mask(c["L"], c["window"], causal=c["causal"], S=c["S"], device=device)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(("L", "S", "causal"), [(30, 30, True), (40, 12, False), (9, 33, True)])
def test_sliding_window_gradients_equal_masked_dense(L, S, causal):
    # L=40, S=12, window 3: queries past S + 3 see no key (zeros, finite gradients).
    q, k, v = qkv(1, 2, L, S, 4, 3, dtype=torch.float64, grad=True)
    out = sliding_window_attention(q, k, v, 3, is_causal=causal, block_size=4)
    mask = local_window_mask(L, 3, causal=causal, S=S)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ours = torch.autograd.grad(out.square().sum(), (q, k, v))
    theirs = torch.autograd.grad(expected.square().sum(), (q, k, v))
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


strides = st.fixed_dictionaries(
    {
        "L": st.integers(1, 80),
        "stride": st.integers(1, 12),
        "local": st.sampled_from([None, 0, 1, 3, 10]),
        "causal": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)


@settings(max_examples=25)
@given(case=strides)
def test_strided_equals_masked_dense(case):
    c = case
    q, k, v = qkv(1, 3, c["L"], c["L"], 4, 5, seed=c["seed"])
    out = strided_attention(q, k, v, c["stride"], local=c["local"], is_causal=c["causal"])
    mask = strided_mask(c["L"], c["stride"], causal=c["causal"], local=c["local"])
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("fn_name", ["sliding", "strided"])
def test_sparse_patterns_on_device(fn_name, device):
    q, k, v = qkv(2, 2, 50, 50, 8, 8, device=device)
    if fn_name == "sliding":
        out = sliding_window_attention(q, k, v, 6, is_causal=True)
        mask = local_window_mask(50, 6, causal=True, device=device)
    else:
        out = strided_attention(q, k, v, 7)
        mask = strided_mask(50, 7, device=device)
    assert out.device == q.device
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


def test_strided_gradcheck_float64():
    # fast_mode checks a random projection of the Jacobian: enough for a composition of
    # torch ops (tiled_attention, with its hand-written backward, gets the full check).
    q, k, v = qkv(1, 1, 11, 11, 3, 2, dtype=torch.float64, grad=True)
    fn = lambda q, k, v: strided_attention(q, k, v, 3)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (q, k, v), fast_mode=True)


def test_sliding_and_strided_refuse_bad_arguments():
    q = torch.randn(1, 10, 4)
    with pytest.raises(ValueError, match=r"window: expected an int >= 0, got -1"):
        sliding_window_attention(q, q, q, -1)
    with pytest.raises(TypeError, match=r"window: expected an int, got float"):
        sliding_window_attention(q, q, q, 2.0)
    with pytest.raises(ValueError, match=r"block_size: expected an int >= the window \(5\)"):
        sliding_window_attention(q, q, q, 5, block_size=4)
    with pytest.raises(ValueError, match=r"block_size: expected an int >= 1, got 0"):
        sliding_window_attention(q, q, q, 0, block_size=0)
    with pytest.raises(ValueError, match=r"stride: expected an int >= 1, got 0"):
        strided_attention(q, q, q, 0)
    with pytest.raises(ValueError, match=r"local: expected an int >= 0, got -2"):
        strided_attention(q, q, q, 3, local=-2)
    with pytest.raises(ValueError, match=r"expected the same length \(self-attention, L == S\)"):
        strided_attention(q, torch.randn(1, 9, 4), torch.randn(1, 9, 4), 3)
    with pytest.raises(ValueError, match=r"query, key: expected the same feature size"):
        sliding_window_attention(q, torch.randn(1, 10, 3), q, 2)


# --- linear attention -----------------------------------------------------------------


def quadratic_linear_attention(q, k, v, is_causal, eps=1e-6):
    """The same maths with the L x S matrix built explicitly (the slow way round)."""
    weights = elu_feature_map(q) @ elu_feature_map(k).transpose(-1, -2)  # (..., L, S)
    if is_causal:
        L, S = weights.shape[-2:]
        weights = weights * torch.ones(L, S, dtype=torch.bool, device=q.device).tril()
    return weights @ v / (weights.sum(-1, keepdim=True) + eps)


linear_cases = st.fixed_dictionaries(
    {
        "L": st.integers(1, 50),
        "S": st.integers(1, 50),
        "chunk": st.integers(1, 20),
        "causal": st.booleans(),
        "seed": st.integers(0, 2**16),
    }
)


@fixture_ok
@given(case=linear_cases)
def test_linear_equals_quadratic_form(case, device):
    c = case
    q, k, v = qkv(2, 2, c["L"], c["S"], 6, 4, dtype=torch.float64, device=device, seed=c["seed"])
    out = linear_attention(q, k, v, c["causal"], chunk_size=c["chunk"])
    torch.testing.assert_close(out, quadratic_linear_attention(q, k, v, c["causal"]))


def test_linear_causal_chunk_sizes_agree_and_last_row_equals_parallel_form():
    q, k, v = qkv(1, 2, 45, 45, 8, 8, dtype=torch.float64)
    by_position = linear_attention(q, k, v, True, chunk_size=1)  # textbook running sums
    for chunk in (4, 16, 64):
        torch.testing.assert_close(linear_attention(q, k, v, True, chunk_size=chunk), by_position)
    # The last query sees every key: causal and parallel (non-causal) forms meet there.
    parallel = linear_attention(q, k, v, False)
    torch.testing.assert_close(by_position[..., -1, :], parallel[..., -1, :])


def test_linear_gradcheck_and_custom_feature_map():
    q, k, v = qkv(1, 1, 9, 9, 3, 2, dtype=torch.float64, grad=True)
    for causal in (False, True):
        assert torch.autograd.gradcheck(
            lambda q, k, v, c=causal: linear_attention(q, k, v, c, chunk_size=4),
            (q, k, v),
            fast_mode=True,
        )
    out = linear_attention(q, k, v, feature_map=torch.exp)  # exp features: softmax-like
    weights = torch.exp(q) @ torch.exp(k).transpose(-1, -2)
    torch.testing.assert_close(out, weights @ v / (weights.sum(-1, keepdim=True) + 1e-6))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("L", "S"), [(1300, 1300), (1300, 700), (700, 1300), (1025, 1025)])
def test_linear_walks_long_inputs_in_pieces_with_the_same_result(causal, L, S):
    """Longer than one piece (PIECE positions): the carried sums join the pieces exactly."""
    from attnbook.efficient.linear import PIECE

    assert max(L, S) > PIECE
    q, k, v = qkv(1, 2, L, S, 4, 3, dtype=torch.float64, seed=L + S)
    k = k[:1, :1]  # key broadcast over the batch and heads, values per head
    out = linear_attention(q, k, v, causal, chunk_size=48)  # 48 does not divide PIECE
    torch.testing.assert_close(out, quadratic_linear_attention(q, k, v, causal))


def test_linear_refuses_bad_arguments():
    q = torch.randn(1, 10, 4)
    with pytest.raises(ValueError, match=r"chunk_size: expected an int >= 1, got 0"):
        linear_attention(q, q, q, True, chunk_size=0)
    with pytest.raises(ValueError, match=r"eps: expected a float >= 0, got -1"):
        linear_attention(q, q, q, eps=-1.0)
    with pytest.raises(TypeError, match=r"feature_map: expected a callable, got str"):
        linear_attention(q, q, q, feature_map="elu")
    with pytest.raises(TypeError, match=r"is_causal: expected a bool"):
        linear_attention(q, q, q, "yes")


# --- hierarchical attention -----------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("L", [1, 17, 64])
def test_hierarchical_one_block_is_exact_attention(L, causal, device):
    q, k, v = qkv(2, 3, L, L, 8, 4, device=device)
    out = hierarchical_attention(q, k, v, block_size=L, is_causal=causal)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("L", "block"), [(30, 4), (64, 8), (10, 1)])
def test_hierarchical_exact_when_blocks_are_constant(L, block, causal):
    # Identical keys (and values) inside a block: the log-count summary is exact.
    g = torch.Generator().manual_seed(3)
    per_block = math.ceil(L / block)
    which = torch.arange(L) // block
    q = torch.randn(2, L, 6, generator=g, dtype=torch.float64)
    k = torch.randn(2, per_block, 6, generator=g, dtype=torch.float64)[:, which]
    v = torch.randn(2, per_block, 3, generator=g, dtype=torch.float64)[:, which]
    out = hierarchical_attention(q, k, v, block, is_causal=causal)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, is_causal=causal))


@pytest.mark.parametrize("causal", [False, True])
def test_hierarchical_shape_weights_sum_to_one_and_causality(causal):
    q, k, _ = qkv(2, 2, 37, 37, 8, 8)
    ones = torch.ones(2, 2, 37, 5)
    out = hierarchical_attention(q, k, ones, 6, is_causal=causal)
    assert out.shape == (2, 2, 37, 5)
    # Values of 1 everywhere: the output is the sum of the weights, row by row.
    torch.testing.assert_close(out, torch.ones_like(out))
    v = torch.randn(2, 2, 37, 5)
    base = hierarchical_attention(q, k, v, 6, is_causal=causal)
    k2, v2 = k.clone(), v.clone()
    k2[..., 30:, :] += 1.0
    v2[..., 30:, :] -= 1.0
    changed = hierarchical_attention(q, k2, v2, 6, is_causal=causal)
    same = torch.allclose(base[..., :30, :], changed[..., :30, :])
    assert same == causal  # causal: the first 30 queries never see positions >= 30


def test_hierarchical_gradcheck_and_errors():
    q, k, v = qkv(1, 1, 10, 10, 3, 2, dtype=torch.float64, grad=True)
    assert torch.autograd.gradcheck(
        lambda q, k, v: hierarchical_attention(q, k, v, 3, is_causal=True),
        (q, k, v),
        fast_mode=True,
    )
    x = torch.randn(1, 10, 4)
    with pytest.raises(ValueError, match=r"block_size: expected an int >= 1, got 0"):
        hierarchical_attention(x, x, x, 0)
    with pytest.raises(TypeError, match=r"block_size: expected an int, got NoneType"):
        hierarchical_attention(x, x, x, None)
    with pytest.raises(ValueError, match=r"L == S"):
        hierarchical_attention(x, x[:, :5], x[:, :5], 2)


# --- edge cases shared by every variant ---------------------------------------------------


def test_empty_sequences_give_empty_or_zero_outputs():
    empty, q = torch.randn(1, 2, 0, 4), torch.randn(1, 2, 5, 4)
    for fn in (
        lambda q, k, v: tiled_attention(q, k, v),
        lambda q, k, v: sliding_window_attention(q, k, v, 2),
        lambda q, k, v: linear_attention(q, k, v, True),
    ):
        assert fn(empty, q, q).shape == (1, 2, 0, 4)  # no queries: nothing to return
        # No keys: every query is fully masked, and returns zeros as SDPA does.
        torch.testing.assert_close(fn(q, empty, empty), torch.zeros(1, 2, 5, 4))
    for fn in (
        lambda x: strided_attention(x, x, x, 2),
        lambda x: hierarchical_attention(x, x, x, 2),
    ):
        assert fn(empty).shape == (1, 2, 0, 4)
