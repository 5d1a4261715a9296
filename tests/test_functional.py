"""attnbook.functional against PyTorch: softmax, scaled dot-product and additive attention."""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.nn.attention import SDPBackend, sdpa_kernel

from attnbook.functional import (
    AdditiveAttention,
    additive_attention,
    scaled_dot_product_attention,
    softmax,
)

# The `device` fixture is the same for every example of a test, so reusing it is safe.
fixture_ok = settings(
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ]
)

# Elementwise float32 tolerance; the comparisons with torch also check the bar,
# max |ours - torch| / max |torch| <= 1e-5, with max_relative_error.
FP32 = {"rtol": 1e-5, "atol": 1e-5}
FP64 = {"rtol": 1e-10, "atol": 1e-12}
HALF = {
    torch.float16: {"rtol": 2e-3, "atol": 2e-3},
    torch.bfloat16: {"rtol": 1.6e-2, "atol": 1.6e-2},
}


def torch_sdpa(*args, device: torch.device, **kwargs) -> torch.Tensor:
    """PyTorch's SDPA; its math backend off the CPU, where fused kernels may give NaN rows."""
    if device.type == "cpu":
        return F.scaled_dot_product_attention(*args, **kwargs)
    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(*args, **kwargs)


def max_relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """max |actual - expected| / max |expected|, the issue's error measure."""
    scale = expected.abs().max().clamp_min(torch.finfo(expected.dtype).tiny)
    return float((actual - expected).abs().max() / scale) if expected.numel() else 0.0


# --------------------------------------------------------------------------- problems


@st.composite
def attention_problems(draw: st.DrawFn, device: torch.device, dtype: torch.dtype) -> dict:
    """Random query/key/value (broadcast batch dims, L != S, Ev != E), a mask kind and a scale."""
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    L, S = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    E, Ev = draw(st.integers(1, 9)), draw(st.integers(1, 9))

    def broadcastable(shape: tuple[int, ...]) -> tuple[int, ...]:
        # Drop some leading dims and set some sizes to 1: torch broadcasts both.
        drop = draw(st.integers(0, len(shape)))
        return tuple(1 if draw(st.booleans()) else n for n in shape[drop:])

    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator, dtype=torch.float64).to(device, dtype)

    query = randn(*batch, L, E)
    key = randn(*broadcastable(batch), S, E)
    value = randn(*broadcastable(batch), S, Ev)
    kwargs: dict = {}
    kind = draw(st.sampled_from(["none", "bool", "float", "causal"]))
    if kind == "causal":
        kwargs["is_causal"] = True
    elif kind != "none":
        shape = broadcastable((*batch, L, S))
        keep = torch.rand(shape, generator=generator) < draw(st.floats(0.2, 1.0))
        if draw(st.booleans()) and len(shape) >= 2:
            keep[..., 0, :] = False  # a fully masked query row
        keep = keep.to(device)
        if kind == "bool":
            kwargs["attn_mask"] = keep
        else:
            bias = randn(*shape)
            kwargs["attn_mask"] = bias.masked_fill(~keep, float("-inf"))
    if draw(st.booleans()):
        kwargs["scale"] = draw(st.floats(0.05, 2.0))
    return {"query": query, "key": key, "value": value, **kwargs}


# --------------------------------------------------------------------------- softmax


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_softmax_is_finite_for_huge_logits(device: torch.device, dtype: torch.dtype) -> None:
    x = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], device=device)
    probs = softmax(x.to(dtype))
    assert probs.dtype == dtype
    assert torch.isfinite(probs).all()
    expected = torch.tensor([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0]])
    torch.testing.assert_close(probs.float().cpu(), expected, **HALF[torch.bfloat16])
    # The naive formula overflows where ours does not.
    naive = torch.exp(x.to(dtype)) / torch.exp(x.to(dtype)).sum(-1, keepdim=True)
    assert not torch.isfinite(naive).all()


@fixture_ok
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    temperature=st.floats(0.05, 20.0),
    seed=st.integers(0, 2**31 - 1),
    dim_choice=st.integers(0, 2),
)
def test_softmax_equals_torch_softmax_of_scaled_logits(
    device: torch.device, shape: list[int], temperature: float, seed: int, dim_choice: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=generator) * 10).to(device)
    dim = dim_choice % len(shape)
    expected = torch.softmax(x / temperature, dim=dim)
    torch.testing.assert_close(softmax(x, dim=dim, temperature=temperature), expected, **FP32)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_softmax_half_precision_matches_float32(device: torch.device, dtype: torch.dtype) -> None:
    x = (torch.randn(4, 300) * 30).to(device, dtype)
    expected = torch.softmax(x.float(), dim=-1).to(dtype)
    torch.testing.assert_close(softmax(x), expected, **HALF[dtype])


def test_softmax_rows_of_minus_inf_give_zeros_and_finite_grads(device: torch.device) -> None:
    x = torch.tensor([[float("-inf")] * 3, [0.0, float("-inf"), 1.0]], device=device)
    x.requires_grad_(True)
    probs = softmax(x)
    torch.testing.assert_close(probs[0], torch.zeros(3, device=device))
    torch.testing.assert_close(probs[1].sum(), torch.tensor(1.0, device=device))
    assert probs[1, 1] == 0
    (probs * torch.arange(3.0, device=device)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_softmax_gradcheck_float64() -> None:
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: softmax(t, dim=0, temperature=0.7), (x,))


def test_softmax_temperature_limits() -> None:
    x = torch.tensor([1.0, 3.0, 2.0])
    torch.testing.assert_close(softmax(x, temperature=1e-3), torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(softmax(x, temperature=1e6), torch.full((3,), 1 / 3))


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf")])
def test_softmax_refuses_bad_temperature(temperature: float) -> None:
    with pytest.raises(ValueError, match=r"temperature: expected a finite number > 0, got"):
        softmax(torch.zeros(3), temperature=temperature)


@pytest.mark.parametrize("temperature", ["1.0", True, None])
def test_softmax_refuses_non_numeric_temperature(temperature: object) -> None:
    with pytest.raises(TypeError, match=r"temperature: expected a float, got"):
        softmax(torch.zeros(3), temperature=temperature)


def test_softmax_refuses_integer_input() -> None:
    with pytest.raises(
        TypeError, match=r"x: expected a floating-point tensor, got dtype torch.int64"
    ):
        softmax(torch.arange(3))


# --------------------------------------------------------------------------- SDPA vs torch


@fixture_ok
@given(data=st.data())
def test_sdpa_matches_torch_float32(device: torch.device, data: st.DataObject) -> None:
    problem = data.draw(attention_problems(device, torch.float32))
    ours, weights = scaled_dot_product_attention(**problem, need_weights=True)
    theirs = torch_sdpa(**problem, device=device)
    assert ours.shape == theirs.shape
    assert not torch.isnan(ours).any()
    assert max_relative_error(ours, theirs) <= 1e-5
    torch.testing.assert_close(ours, theirs, **FP32)
    # The weights reproduce the output, and torch's output from them.
    torch.testing.assert_close(weights @ problem["value"], ours, **FP32)


@fixture_ok
@given(data=st.data())
def test_sdpa_matches_torch_float64(device: torch.device, data: st.DataObject) -> None:
    if device.type == "mps":
        pytest.skip("MPS has no float64")
    problem = data.draw(attention_problems(device, torch.float64))
    ours = scaled_dot_product_attention(**problem)
    torch.testing.assert_close(ours, torch_sdpa(**problem, device=device), **FP64)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mask", ["none", "bool", "causal"])
def test_sdpa_matches_torch_half_precision(
    device: torch.device, dtype: torch.dtype, mask: str
) -> None:
    q = torch.randn(2, 4, 9, 16, device=device, dtype=dtype)
    k = torch.randn(2, 4, 11, 16, device=device, dtype=dtype)
    v = torch.randn(2, 4, 11, 8, device=device, dtype=dtype)
    kwargs: dict = {}
    if mask == "bool":
        keep = torch.rand(2, 1, 9, 11, device=device) < 0.6
        keep[:, :, 3] = False
        kwargs["attn_mask"] = keep
    elif mask == "causal":
        kwargs["is_causal"] = True
    ours = scaled_dot_product_attention(q, k, v, **kwargs)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, torch_sdpa(q, k, v, device=device, **kwargs), **HALF[dtype])


def test_sdpa_matches_torch_default_backend(device: torch.device) -> None:
    # The fused kernels torch picks by default (flash / memory-efficient on GPUs).
    q, k, v = (torch.randn(2, 8, 33, 64, device=device) for _ in range(3))
    tolerance = FP32 if device.type == "cpu" else {"rtol": 1e-4, "atol": 1e-4}
    for kwargs in ({}, {"is_causal": True}, {"scale": 0.3}):
        expected = F.scaled_dot_product_attention(q, k, v, **kwargs)
        if device.type == "cpu":
            assert (
                max_relative_error(scaled_dot_product_attention(q, k, v, **kwargs), expected)
                <= 1e-5
            )
        torch.testing.assert_close(
            scaled_dot_product_attention(q, k, v, **kwargs), expected, **tolerance
        )


@pytest.mark.parametrize(("L", "S"), [(3, 5), (5, 3), (4, 4), (1, 6), (6, 1)])
def test_is_causal_aligns_top_left_like_torch(device: torch.device, L: int, S: int) -> None:
    q, k, v = (
        torch.randn(2, L, 4, device=device),
        torch.randn(2, S, 4, device=device),
        torch.randn(2, S, 3, device=device),
    )
    tril = torch.ones(L, S, dtype=torch.bool, device=device).tril()  # top-left aligned
    ours = scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(ours, torch_sdpa(q, k, v, is_causal=True, device=device), **FP32)
    torch.testing.assert_close(ours, scaled_dot_product_attention(q, k, v, attn_mask=tril), **FP32)


def test_fully_masked_rows_give_zeros_like_torch(device: torch.device) -> None:
    q, k, v = (
        torch.randn(1, 2, 4, 8, device=device),
        torch.randn(1, 2, 5, 8, device=device),
        torch.randn(1, 2, 5, 8, device=device),
    )
    keep = torch.ones(4, 5, dtype=torch.bool, device=device)
    keep[2] = False
    for mask in (keep, torch.zeros(4, 5, device=device).masked_fill(~keep, float("-inf"))):
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask, need_weights=True)
        assert torch.equal(out[..., 2, :], torch.zeros_like(out[..., 2, :]))
        assert torch.equal(weights[..., 2, :], torch.zeros_like(weights[..., 2, :]))
        torch.testing.assert_close(out, torch_sdpa(q, k, v, attn_mask=mask, device=device), **FP32)
    # No keys at all (S = 0): torch returns zeros, and so do we.
    empty = torch.empty(1, 2, 0, 8, device=device)
    assert torch.equal(scaled_dot_product_attention(q, empty, empty), torch.zeros_like(q))


def test_dropout_matches_torch_with_the_same_seed() -> None:
    q, k, v = torch.randn(2, 3, 6, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 5)
    torch.manual_seed(123)
    ours, weights = scaled_dot_product_attention(q, k, v, dropout_p=0.3, need_weights=True)
    torch.manual_seed(123)
    with sdpa_kernel(SDPBackend.MATH):
        theirs = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    torch.testing.assert_close(ours, theirs, **FP32)
    # Kept weights are rescaled by 1 / (1 - p); dropped ones are exactly 0.
    _, clean = scaled_dot_product_attention(q, k, v, need_weights=True)
    kept = weights != 0
    assert 0 < kept.float().mean() < 1
    torch.testing.assert_close(weights[kept], clean[kept] / 0.7, **FP32)


# --------------------------------------------------------------------------- gradients


def test_sdpa_gradcheck_float64() -> None:
    q = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True)
    keep = torch.rand(3, 5) < 0.7
    keep[1] = False  # a fully masked row must not break the gradient
    bias = torch.randn(2, 1, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=0.8), (q, k, v)
    )
    assert torch.autograd.gradcheck(
        lambda q, k, v, b: scaled_dot_product_attention(q, k, v, attn_mask=b), (q, k, v, bias)
    )
    assert torch.autograd.gradcheck(
        lambda q, k, v: scaled_dot_product_attention(q, k, v, is_causal=True), (q, k, v)
    )


@fixture_ok
@given(data=st.data())
def test_sdpa_gradients_equal_torch(device: torch.device, data: st.DataObject) -> None:
    if device.type == "mps":
        pytest.skip("MPS has no float64")
    problem = data.draw(attention_problems(device, torch.float64))
    inputs = [problem[name].requires_grad_(True) for name in ("query", "key", "value")]
    ours = scaled_dot_product_attention(**problem)
    theirs = torch_sdpa(**problem, device=device)
    upstream = torch.randn_like(ours)
    ours_grads = torch.autograd.grad(ours, inputs, upstream)
    theirs_grads = torch.autograd.grad(theirs, inputs, upstream)
    for mine, reference in zip(ours_grads, theirs_grads, strict=True):
        assert torch.isfinite(mine).all()
        torch.testing.assert_close(mine, reference, **FP64)


# --------------------------------------------------------------------------- invariants


@fixture_ok
@given(data=st.data())
def test_weights_are_a_distribution_over_allowed_keys(
    device: torch.device, data: st.DataObject
) -> None:
    problem = data.draw(attention_problems(device, torch.float32))
    _, weights = scaled_dot_product_attention(**problem, need_weights=True)
    assert (weights >= 0).all()
    L, S = weights.shape[-2:]
    if problem.get("is_causal"):
        allowed = torch.ones(L, S, dtype=torch.bool, device=device).tril()
    elif "attn_mask" in problem:
        mask = problem["attn_mask"]
        allowed = mask if mask.dtype == torch.bool else mask > float("-inf")
    else:
        allowed = torch.ones(L, S, dtype=torch.bool, device=device)
    allowed = allowed.expand_as(weights)
    assert (weights[~allowed] == 0).all()  # masked keys get exactly 0
    sums = weights.sum(-1)
    any_allowed = allowed.any(-1)
    torch.testing.assert_close(sums[any_allowed], torch.ones_like(sums[any_allowed]))
    assert (sums[~any_allowed] == 0).all()


def test_permuting_keys_and_values_leaves_output_unchanged(device: torch.device) -> None:
    q, k, v = (
        torch.randn(3, 2, 5, 8, device=device),
        torch.randn(3, 2, 7, 8, device=device),
        torch.randn(3, 2, 7, 4, device=device),
    )
    keep = torch.rand(3, 1, 5, 7, device=device) < 0.6
    perm = torch.randperm(7, device=device)
    out = scaled_dot_product_attention(q, k, v, attn_mask=keep)
    permuted = scaled_dot_product_attention(
        q, k[..., perm, :], v[..., perm, :], attn_mask=keep[..., perm]
    )
    torch.testing.assert_close(permuted, out, **FP32)


def test_permuting_queries_permutes_output(device: torch.device) -> None:
    q, k, v = (
        torch.randn(2, 6, 8, device=device),
        torch.randn(2, 4, 8, device=device),
        torch.randn(2, 4, 8, device=device),
    )
    perm = torch.randperm(6, device=device)
    out = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(scaled_dot_product_attention(q[:, perm], k, v), out[:, perm], **FP32)


def test_default_scale_is_one_over_sqrt_head_size(device: torch.device) -> None:
    q, k, v = (
        torch.randn(2, 5, 16, device=device),
        torch.randn(2, 5, 16, device=device),
        torch.randn(2, 5, 16, device=device),
    )
    explicit = scaled_dot_product_attention(q, k, v, scale=1 / math.sqrt(16))
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v), explicit)


# --------------------------------------------------------------------------- bad input


def _qkv(L: int = 5, S: int = 6, E: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.randn(2, 3, L, E), torch.randn(2, 3, S, E), torch.randn(2, 3, S, E)


def test_refuses_mismatched_feature_sizes() -> None:
    q, k, v = _qkv()
    with pytest.raises(
        ValueError, match=r"query, key: expected the same feature size E .* \(2, 3, 6, 7\)"
    ):
        scaled_dot_product_attention(q, k[..., :7], v)


def test_refuses_key_value_length_mismatch() -> None:
    q, k, v = _qkv()
    with pytest.raises(
        ValueError, match=r"key, value: expected the same length S .* \(2, 3, 4, 8\)"
    ):
        scaled_dot_product_attention(q, k, v[..., :4, :])


@pytest.mark.parametrize("shape", [(4, 6), (2, 1, 5, 6, 1), (3, 3, 5, 6), (2, 2, 3, 5, 6)])
def test_refuses_mask_that_does_not_broadcast(shape: tuple[int, ...]) -> None:
    q, k, v = _qkv()
    mask = torch.ones(shape, dtype=torch.bool)
    expected = re.escape(f"(..., L, S) = (2, 3, 5, 6), got {shape}")
    with pytest.raises(
        ValueError, match=r"attn_mask: expected a shape that broadcasts to .*" + expected
    ):
        scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8, torch.int32])
def test_refuses_integer_mask(dtype: torch.dtype) -> None:
    q, k, v = _qkv()
    with pytest.raises(
        TypeError, match=rf"attn_mask: expected dtype torch.bool or a floating dtype, got {dtype}"
    ):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 6, dtype=dtype))
    with pytest.raises(RuntimeError):  # torch refuses it too
        F.scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 6, dtype=dtype))


def test_refuses_non_tensor_mask() -> None:
    q, k, v = _qkv()
    with pytest.raises(TypeError, match=r"attn_mask: expected a torch.Tensor or None, got list"):
        scaled_dot_product_attention(q, k, v, attn_mask=[[True] * 6] * 5)


@pytest.mark.parametrize("name", ["query", "key", "value"])
def test_refuses_too_few_dimensions(name: str) -> None:
    tensors = dict(zip(("query", "key", "value"), _qkv(), strict=True))
    tensors[name] = torch.randn(8)
    with pytest.raises(
        ValueError, match=rf"{name}: expected at least 2 dimensions .* got shape \(8,\)"
    ):
        scaled_dot_product_attention(**tensors)


def test_accepts_two_dimensional_inputs_like_torch() -> None:
    q, k, v = torch.randn(5, 8), torch.randn(6, 8), torch.randn(6, 3)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v), F.scaled_dot_product_attention(q, k, v), **FP32
    )


def test_refuses_batch_dims_that_do_not_broadcast() -> None:
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(3, 3, 6, 8), torch.randn(3, 3, 6, 8)
    with pytest.raises(
        ValueError,
        match=r"query, key, value: expected batch dimensions .* \(2, 3, 5, 8\), \(3, 3, 6, 8\)",
    ):
        scaled_dot_product_attention(q, k, v)


def test_refuses_mixed_dtypes() -> None:
    q, k, v = _qkv()
    with pytest.raises(
        TypeError, match=r"query, key, value: expected one dtype, got torch.float32, torch.float64"
    ):
        scaled_dot_product_attention(q, k.double(), v)


def test_refuses_tensors_on_different_devices() -> None:
    q, k, v = _qkv()
    with pytest.raises(
        ValueError, match=r"query, key, value: expected one device, got cpu, meta, cpu"
    ):
        scaled_dot_product_attention(q, k.to("meta"), v)
    mask = torch.ones(5, 6, dtype=torch.bool, device="meta")
    with pytest.raises(
        ValueError, match=r"attn_mask: expected device cpu \(the query's\), got meta"
    ):
        scaled_dot_product_attention(q, k, v, attn_mask=mask)


def test_refuses_integer_inputs() -> None:
    q, k, v = _qkv()
    with pytest.raises(
        TypeError, match=r"query: expected a floating-point tensor, got dtype torch.int64"
    ):
        scaled_dot_product_attention(q.long(), k, v)


def test_refuses_mask_together_with_is_causal_as_torch_does() -> None:
    q, k, v = _qkv()
    mask = torch.ones(5, 6, dtype=torch.bool)
    with pytest.raises(
        ValueError, match=r"attn_mask, is_causal: expected at most one of them, got both"
    ):
        scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True)
    with sdpa_kernel(SDPBackend.MATH), pytest.raises(RuntimeError, match="attn_mask"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True)


@pytest.mark.parametrize("dropout_p", [-0.1, 1.0, 1.5])
def test_refuses_dropout_outside_unit_interval(dropout_p: float) -> None:
    q, k, v = _qkv()
    with pytest.raises(
        ValueError, match=rf"dropout_p: expected a probability in \[0, 1\), got {dropout_p}"
    ):
        scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)


# --------------------------------------------------------------------------- additive attention


def _additive_by_loops(query, key, value, w_query, w_key, v, keep=None):
    """The textbook formula, one query and one key at a time."""
    L, S = query.shape[0], key.shape[0]
    scores = torch.empty(L, S, dtype=query.dtype)
    for i in range(L):
        for j in range(S):
            scores[i, j] = v @ torch.tanh(w_query @ query[i] + w_key @ key[j])
    if keep is not None:
        scores = scores.masked_fill(~keep, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ value, weights


def test_additive_attention_matches_the_formula() -> None:
    q, k, val = (
        torch.randn(3, 4, dtype=torch.float64),
        torch.randn(5, 6, dtype=torch.float64),
        torch.randn(5, 2, dtype=torch.float64),
    )
    w_q, w_k, v = (
        torch.randn(7, 4, dtype=torch.float64),
        torch.randn(7, 6, dtype=torch.float64),
        torch.randn(7, dtype=torch.float64),
    )
    keep = torch.rand(3, 5) < 0.7
    keep[:, 0] = True
    out, weights = additive_attention(q, k, val, w_q, w_k, v, keep, need_weights=True)
    expected_out, expected_weights = _additive_by_loops(q, k, val, w_q, w_k, v, keep)
    torch.testing.assert_close(out, expected_out)
    torch.testing.assert_close(weights, expected_weights)


def test_additive_attention_weights_and_masks(device: torch.device) -> None:
    attention = AdditiveAttention(query_dim=4, key_dim=6, hidden_dim=8).to(device)
    q, k, val = (
        torch.randn(2, 3, 4, device=device),
        torch.randn(2, 5, 6, device=device),
        torch.randn(2, 5, 3, device=device),
    )
    keep = torch.ones(2, 1, 5, dtype=torch.bool, device=device)
    keep[0, :, 3:] = False  # sequence 0 has 3 real keys
    out, weights = attention(q, k, val, attn_mask=keep, need_weights=True)
    assert out.shape == (2, 3, 3) and weights.shape == (2, 3, 5)
    assert (weights >= 0).all() and (weights[0, :, 3:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, device=device))
    # Masking padded keys equals attending over the real keys alone.
    short = attention(q[:1], k[:1, :3], val[:1, :3])
    torch.testing.assert_close(out[:1], short, **FP32)
    # A query with no allowed key returns zeros.
    nothing = torch.zeros(3, 5, dtype=torch.bool, device=device)
    out, weights = attention(q, k, val, attn_mask=nothing, need_weights=True)
    assert torch.equal(out, torch.zeros_like(out)) and torch.equal(
        weights, torch.zeros_like(weights)
    )


def test_additive_attention_gradcheck_float64() -> None:
    args = [
        torch.randn(2, 3, 4),
        torch.randn(2, 5, 6),
        torch.randn(2, 5, 2),
        torch.randn(7, 4),
        torch.randn(7, 6),
        torch.randn(7),
    ]
    args = [a.double().requires_grad_(True) for a in args]
    assert torch.autograd.gradcheck(additive_attention, tuple(args))


def test_additive_attention_refuses_bad_shapes() -> None:
    q, k, val = torch.randn(3, 4), torch.randn(5, 6), torch.randn(5, 2)
    w_q, w_k, v = torch.randn(7, 4), torch.randn(7, 6), torch.randn(7)
    with pytest.raises(
        ValueError,
        match=r"w_query: expected shape \(D, 4\) to match query's last dimension, got \(7, 5\)",
    ):
        additive_attention(q, k, val, torch.randn(7, 5), w_k, v)
    with pytest.raises(
        ValueError,
        match=r"w_key: expected shape \(D, 6\) to match key's last dimension, got \(7, 4\)",
    ):
        additive_attention(q, k, val, w_q, torch.randn(7, 4), v)
    with pytest.raises(ValueError, match=r"w_query, w_key, v: expected one hidden size D"):
        additive_attention(q, k, val, w_q, w_k, torch.randn(6))
    with pytest.raises(ValueError, match=r"key, value: expected the same length S"):
        additive_attention(q, k, val[:4], w_q, w_k, v)
    with pytest.raises(ValueError, match=r"attn_mask: expected a shape that broadcasts"):
        additive_attention(q, k, val, w_q, w_k, v, torch.ones(3, 4, dtype=torch.bool))
