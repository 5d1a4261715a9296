"""attnbook.masks: shapes, SDPA polarity, definitions, and agreement with PyTorch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from attnbook.functional import scaled_dot_product_attention
from attnbook.masks import (
    causal_mask,
    combine_masks,
    from_torch_mha_mask,
    local_window_mask,
    padding_mask,
    strided_mask,
    to_additive,
    to_torch_mha_mask,
)

FP32 = {"rtol": 1e-5, "atol": 1e-6}


def by_rule(L: int, S: int, rule) -> torch.Tensor:
    """A mask built cell by cell from its written definition."""
    return torch.tensor([[bool(rule(i, j)) for j in range(S)] for i in range(L)]).reshape(L, S)


# --------------------------------------------------------------------------- causal


@given(L=st.integers(0, 9), S=st.integers(0, 9))
def test_causal_mask_is_top_left_tril(L: int, S: int) -> None:
    mask = causal_mask(L, S)
    assert mask.dtype == torch.bool and mask.shape == (L, S)
    assert torch.equal(mask, torch.ones(L, S, dtype=torch.bool).tril())
    assert torch.equal(mask, by_rule(L, S, lambda i, j: j <= i))


@pytest.mark.parametrize(("L", "S"), [(4, 4), (3, 6), (6, 3)])
def test_causal_mask_equals_torch_is_causal(device: torch.device, L: int, S: int) -> None:
    q, k, v = (torch.randn(2, 3, n, 8, device=device) for n in (L, S, S))
    mask = causal_mask(L, S, device=device)
    assert mask.device.type == device.type
    with_mask = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(with_mask, F.scaled_dot_product_attention(q, k, v, is_causal=True))


def test_causal_mask_defaults_to_square() -> None:
    assert causal_mask(5).shape == (5, 5)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        ((-1,), ValueError, r"L: expected an int >= 0, got -1"),
        ((3, -2), ValueError, r"S: expected an int >= 0, got -2"),
        ((2.5,), TypeError, r"L: expected an int, got float"),
    ],
)
def test_causal_mask_refuses_bad_sizes(args: tuple, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        causal_mask(*args)


# --------------------------------------------------------------------------- padding


def test_padding_mask_shape_and_polarity(device: torch.device) -> None:
    lengths = torch.tensor([3, 1, 4], device=device)
    mask = padding_mask(lengths, max_len=5)
    assert mask.shape == (3, 1, 1, 5) and mask.dtype == torch.bool
    assert mask.device.type == device.type
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    assert torch.equal(mask[:, 0, 0].cpu(), expected)  # True = real token = may attend
    assert padding_mask([3, 1, 4]).shape == (3, 1, 1, 4)  # max_len defaults to the longest


def test_padding_does_not_change_outputs_at_real_tokens(device: torch.device) -> None:
    lengths = [5, 2, 4]
    N, H, S, E = len(lengths), 2, max(lengths), 8
    x = torch.randn(N, H, S, E, device=device)
    x_padded = x.clone()
    for n, length in enumerate(lengths):
        x_padded[n, :, length:] = 1e3  # garbage in the padding must not leak into real tokens
    mask = padding_mask(torch.tensor(lengths, device=device))
    out = F.scaled_dot_product_attention(x_padded, x_padded, x_padded, attn_mask=mask)
    ours = scaled_dot_product_attention(x_padded, x_padded, x_padded, attn_mask=mask)
    for n, length in enumerate(lengths):
        real = x[n : n + 1, :, :length]  # (1, H, length, E)
        alone = F.scaled_dot_product_attention(real, real, real)
        torch.testing.assert_close(out[n : n + 1, :, :length], alone, **FP32)
        torch.testing.assert_close(ours[n : n + 1, :, :length], alone, **FP32)


@pytest.mark.parametrize(
    ("lengths", "max_len", "error", "message"),
    [
        ([2, -1], None, ValueError, r"lengths: expected lengths >= 0, got \[2, -1\]"),
        ([2, 6], 5, ValueError, r"lengths: expected every length <= max_len=5, got \[2, 6\]"),
        ([[1, 2]], None, ValueError, r"lengths: expected a 1-D tensor \(N,\), got shape \(1, 2\)"),
        (
            [1.5, 2.0],
            None,
            TypeError,
            r"lengths: expected integer lengths, got dtype torch.float32",
        ),
        ([1, 2], -3, ValueError, r"max_len: expected an int >= 0, got -3"),
    ],
)
def test_padding_mask_refuses_bad_lengths(lengths, max_len, error, message) -> None:
    with pytest.raises(error, match=message):
        padding_mask(lengths, max_len=max_len)


# --------------------------------------------------------------------------- local and strided


@given(L=st.integers(1, 9), S=st.integers(1, 9), window=st.integers(0, 10), causal=st.booleans())
def test_local_window_mask_follows_its_definition(
    L: int, S: int, window: int, causal: bool
) -> None:
    mask = local_window_mask(L, window, causal=causal, S=S)
    if causal:
        expected = by_rule(L, S, lambda i, j: 0 <= i - j <= window)
    else:
        expected = by_rule(L, S, lambda i, j: abs(i - j) <= window)
    assert torch.equal(mask, expected)


def test_local_window_mask_special_cases(device: torch.device) -> None:
    assert torch.equal(
        local_window_mask(5, 0, device=device), torch.eye(5, dtype=torch.bool, device=device)
    )
    # A window as long as the sequence is no restriction at all (or just causal).
    assert local_window_mask(5, 4).all()
    assert torch.equal(local_window_mask(5, 4, causal=True), causal_mask(5))
    with pytest.raises(ValueError, match=r"window: expected an int >= 0, got -1"):
        local_window_mask(5, -1)


@given(
    L=st.integers(1, 12),
    stride=st.integers(1, 6),
    local=st.none() | st.integers(0, 4),
    causal=st.booleans(),
)
def test_strided_mask_follows_its_definition(
    L: int, stride: int, local: int | None, causal: bool
) -> None:
    band = stride - 1 if local is None else local
    mask = strided_mask(L, stride, causal=causal, local=local)

    def allowed(i: int, j: int) -> bool:
        near = abs(i - j) <= band
        on_stride = (i - j) % stride == 0
        return (near or on_stride) and (not causal or j <= i)

    assert torch.equal(mask, by_rule(L, L, allowed))
    assert mask.diagonal().all()  # every query sees itself
    if not causal:
        assert torch.equal(mask, mask.T)


def test_strided_mask_keeps_few_keys_but_connects_everything() -> None:
    L, stride = 64, 8
    mask = strided_mask(L, stride)
    assert mask.sum(-1).max() <= stride + L // stride
    # Two hops reach every earlier key: (M @ M) covers the causal triangle.
    two_hops = (mask.float() @ mask.float()) > 0
    assert torch.equal(two_hops, causal_mask(L))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stride": 0}, r"stride: expected an int >= 1, got 0"),
        ({"stride": 2, "local": -1}, r"local: expected an int >= 0, got -1"),
    ],
)
def test_strided_mask_refuses_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        strided_mask(6, **kwargs)


# --------------------------------------------------------------------------- additive, combine


def test_to_additive_values_and_equivalence(device: torch.device) -> None:
    keep = torch.rand(2, 1, 4, 6, device=device) < 0.6
    keep[0, 0, 1] = False  # a fully masked row too
    additive = to_additive(keep)
    assert additive.dtype == torch.float32 and additive.device.type == device.type
    assert (additive[keep] == 0).all() and (additive[~keep] == float("-inf")).all()
    q, k, v = (torch.randn(2, 3, n, 8, device=device) for n in (4, 6, 6))
    torch.testing.assert_close(
        F.scaled_dot_product_attention(q, k, v, attn_mask=additive),
        F.scaled_dot_product_attention(q, k, v, attn_mask=keep),
    )
    bias = torch.randn(4, 6, device=device)
    assert to_additive(bias, torch.float64).dtype == torch.float64
    assert torch.equal(to_additive(bias), bias)
    assert to_additive(keep, torch.bfloat16).dtype == torch.bfloat16


def test_to_additive_refuses_bad_dtypes() -> None:
    with pytest.raises(
        TypeError, match=r"mask: expected dtype torch.bool or a floating dtype, got torch.int64"
    ):
        to_additive(torch.ones(3, dtype=torch.int64))
    with pytest.raises(TypeError, match=r"dtype: expected a floating dtype, got torch.int32"):
        to_additive(torch.ones(3, dtype=torch.bool), torch.int32)


def test_combine_bool_masks_is_logical_and() -> None:
    combined = combine_masks(causal_mask(4), padding_mask([3, 4]))
    assert combined.dtype == torch.bool and combined.shape == (2, 1, 4, 4)
    assert torch.equal(combined, causal_mask(4) & padding_mask([3, 4]))
    assert not combined[0, 0, :, 3].any()  # padding hidden from every query


def test_combine_float_and_mixed_masks(device: torch.device) -> None:
    keep = causal_mask(4, device=device)
    bias = torch.randn(2, 1, 4, 4, device=device, dtype=torch.float64)
    summed = combine_masks(bias, bias)
    torch.testing.assert_close(summed, 2 * bias)
    mixed = combine_masks(keep, bias)
    assert mixed.dtype == torch.float64 and mixed.shape == (2, 1, 4, 4)
    torch.testing.assert_close(mixed, bias + to_additive(keep, torch.float64))
    # Attention under the mixed mask equals attention with the causal mask and the bias.
    q, k, v = (torch.randn(2, 3, 4, 8, device=device, dtype=torch.float64) for _ in range(3))
    expected = F.scaled_dot_product_attention(
        q, k, v, attn_mask=bias.masked_fill(~keep, float("-inf"))
    )
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, attn_mask=mixed), expected)


def test_combine_masks_skips_none() -> None:
    keep = causal_mask(3)
    assert torch.equal(combine_masks(None, keep, None), keep)
    assert combine_masks() is None and combine_masks(None) is None


def test_combine_masks_refuses_bad_input() -> None:
    with pytest.raises(
        ValueError,
        match=r"masks: expected shapes that broadcast together, got \(3, 3\), \(2, 1, 1, 4\)",
    ):
        combine_masks(causal_mask(3), padding_mask([1, 4]))
    with pytest.raises(
        TypeError,
        match=r"masks\[1\]: expected dtype torch.bool or a floating dtype, got torch.int64",
    ):
        combine_masks(causal_mask(3), torch.ones(3, 3, dtype=torch.int64))


# ----------------------------------------------------------- nn.MultiheadAttention polarity


def _identity_mha(E: int) -> torch.nn.MultiheadAttention:
    """One head, no bias, identity projections: MHA reduces to plain SDPA on its inputs."""
    mha = torch.nn.MultiheadAttention(E, num_heads=1, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([torch.eye(E)] * 3))
        mha.out_proj.weight.copy_(torch.eye(E))
    return mha.eval()


def test_torch_mha_masks_have_inverted_polarity() -> None:
    N, L, S, E = 2, 4, 5, 8
    q, k, v = torch.randn(N, L, E), torch.randn(N, S, E), torch.randn(N, S, E)
    keep = causal_mask(L, S)
    keep[:, 0] = True  # every query keeps at least one key
    padding = padding_mask([5, 3])  # (N, 1, 1, S)
    mha = _identity_mha(E)
    out, _ = mha(
        q,
        k,
        v,
        attn_mask=to_torch_mha_mask(keep),
        key_padding_mask=to_torch_mha_mask(padding).reshape(N, S),  # (N, 1, 1, S) -> (N, S)
    )
    expected = scaled_dot_product_attention(q, k, v, attn_mask=combine_masks(keep, padding)[:, 0])
    torch.testing.assert_close(out, expected, **FP32)
    # A float mask means the same to both and passes through unchanged.
    bias = torch.randn(L, S)
    assert to_torch_mha_mask(bias) is bias and from_torch_mha_mask(bias) is bias
    out, _ = mha(q, k, v, attn_mask=to_torch_mha_mask(bias))
    torch.testing.assert_close(out, scaled_dot_product_attention(q, k, v, attn_mask=bias), **FP32)


def test_mha_mask_conversion_round_trips() -> None:
    keep = torch.rand(3, 4, 5) < 0.5
    assert torch.equal(to_torch_mha_mask(keep), ~keep)
    assert torch.equal(from_torch_mha_mask(to_torch_mha_mask(keep)), keep)
    with pytest.raises(
        TypeError, match=r"mask: expected dtype torch.bool or a floating dtype, got torch.uint8"
    ):
        to_torch_mha_mask(keep.to(torch.uint8))
