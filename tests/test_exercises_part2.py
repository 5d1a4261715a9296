"""Part II self-checks: each accepts right answers and names the typical wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import attnbook.exercises as exercises
from attnbook.exercises import part2
from attnbook.positional import RotaryEmbedding, alibi_bias, alibi_slopes, sinusoidal_table

# Verdicts unwrapped: these tests match whole lines (the book wraps them at 76).
pytestmark = pytest.mark.usefixtures("unwrapped_verdicts")

# --------------------------------------------------------------- chapter 05 answers


def _split(x, num_heads):
    N, L, E = x.shape
    return x.view(N, L, num_heads, E // num_heads).transpose(1, 2)


def _merge(x):
    N, H, L, Eh = x.shape
    return x.transpose(1, 2).reshape(N, L, H * Eh)


def _count(E, H, bias):
    return 4 * E * E + (4 * E if bias else 0)


def _mha(x, w_q, w_k, w_v, w_o, num_heads, *, scale=None, out=True, heads=None, dim=-1):
    H = num_heads if heads is None else heads
    q, k, v = (_split(x @ w.T, H) for w in (w_q, w_k, w_v))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    weights = torch.softmax(q @ k.transpose(-2, -1) * scale, dim=dim)
    merged = _merge(weights @ v)
    return merged @ w_o.T if out else merged


def _mha_with_torch(x, w_q, w_k, w_v, w_o, num_heads):
    E = x.shape[-1]
    module = torch.nn.MultiheadAttention(E, num_heads, bias=False, batch_first=True)
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.cat([w_q, w_k, w_v]))
        module.out_proj.weight.copy_(w_o)
    return module(x, x, x, need_weights=False)[0]


# --------------------------------------------------------------- chapter 06 answers


def _self(x, w_q, w_k, w_v, *, scale=None, raw=False, dim=-1, swap=False):
    if swap:
        w_q, w_k = w_k, w_q
    q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=dim) @ (x if raw else v)


def _cross(x, memory, w_q, w_k, w_v, *, scale=None, dim=-1, queries_from_memory=False):
    if queries_from_memory:  # roles swapped: one output per memory position
        return F.scaled_dot_product_attention(memory @ w_q.T, x @ w_k.T, x @ w_v.T)
    q, k, v = x @ w_q.T, memory @ w_k.T, memory @ w_v.T
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=dim) @ v


def _shapes(N, L, S, E, H):
    return [(N, H, L, E // H), (N, H, S, E // H), (N, H, L, S), (N, L, E)]


# --------------------------------------------------------------- chapter 07 answers


def _padding(lengths, max_len):
    keep = torch.arange(max_len) < torch.tensor(lengths)[:, None]  # (N, S)
    return keep[:, None, None, :]


def _causal(L):
    return torch.ones(L, L, dtype=torch.bool).tril()


def _masked_softmax(scores, mask):
    filled = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(filled, dim=-1).nan_to_num(0.0)


def _masked_softmax_manual(scores, mask):
    shifted = scores - scores.amax(-1, keepdim=True)
    e = torch.exp(shifted) * mask
    total = e.sum(-1, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


# --------------------------------------------------------------- chapter 08 answers


def _sinusoidal(max_len, E):
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    omega = 10000.0 ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)
    table = torch.zeros(max_len, E, dtype=torch.float64)
    table[:, 0::2] = torch.sin(p * omega)
    table[:, 1::2] = torch.cos(p * omega)
    return table


def _shift(k, E, sign=1.0):
    omega = 10000.0 ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)
    M = torch.zeros(E, E, dtype=torch.float64)
    for i, w in enumerate(omega.tolist()):
        c, s = math.cos(k * w), sign * math.sin(k * w)
        # (sin, cos)(p + k) = [[c, s], [-s, c]] @ (sin, cos)(p)
        M[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = torch.tensor([[c, s], [-s, c]])
    return M


def _rope(x, sign=1.0, start=0, interleaved=False):
    return part2._rope_variant(x, sign=sign, start=start, interleaved=interleaved)


def _alibi(H, L, *, sign=-1.0, future=True, slopes=None):
    m = alibi_slopes(H) if slopes is None else slopes
    distance = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).float()
    bias = sign * m[:, None, None] * distance.abs()
    if future:
        bias = bias.masked_fill(distance < 0, float("-inf"))
    return bias


# ------------------------------------------------------------------- the tables

RIGHT = {
    "check_split_heads": [
        _split,
        lambda x, h: x.unflatten(-1, (h, -1)).permute(0, 2, 1, 3),
        lambda x, h: torch.stack(x.chunk(h, dim=-1), dim=1),
    ],
    "check_merge_heads": [
        _merge,
        lambda x: torch.cat(x.unbind(1), dim=-1),
        lambda x: x.permute(0, 2, 1, 3).flatten(2),
    ],
    "check_mha_parameter_count": [
        _count,
        lambda E, H, bias: sum(
            p.numel() for p in torch.nn.MultiheadAttention(E, H, bias=bias).parameters()
        ),
    ],
    "check_multihead_attention": [_mha, _mha_with_torch],
    "check_self_attention": [
        _self,
        lambda x, w_q, w_k, w_v: F.scaled_dot_product_attention(x @ w_q.T, x @ w_k.T, x @ w_v.T),
    ],
    "check_cross_attention": [
        _cross,
        lambda x, m, w_q, w_k, w_v: F.scaled_dot_product_attention(x @ w_q.T, m @ w_k.T, m @ w_v.T),
    ],
    "check_attention_shapes": [
        _shapes,
        lambda N, L, S, E, H: (
            torch.Size((N, H, L, E // H)),
            [N, H, S, E // H],
            (N, H, L, S),
            (N, L, E),
        ),
    ],
    "check_padding_mask": [
        _padding,
        lambda lengths, max_len: (
            torch.arange(max_len)[None, :] < torch.tensor(lengths)[:, None]
        ).view(len(lengths), 1, 1, max_len),
    ],
    "check_causal_mask": [_causal, lambda L: torch.arange(L)[:, None] >= torch.arange(L)],
    "check_masked_softmax": [_masked_softmax, _masked_softmax_manual],
    "check_sinusoidal_table": [_sinusoidal, lambda n, E: sinusoidal_table(n, E)],
    "check_shift_matrix": [_shift],
    "check_rope": [_rope, lambda x: RotaryEmbedding(x.shape[-1], max_len=32)(x)],
    "check_alibi_bias": [_alibi, lambda H, L: alibi_bias(H, L)[0]],
}

# (wrong answer, words the verdict must contain)
WRONG = {
    "check_split_heads": [
        (lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1), "reshaped straight to"),
        (lambda x, h: x.view(*x.shape[:2], h, -1), "heads must come before positions"),
        (
            lambda x, h: x.view(*x.shape[:2], -1, h).permute(0, 3, 1, 2),
            "every H-th feature",
        ),
        (lambda x, h: x, "returned shape"),
    ],
    "check_merge_heads": [
        (lambda x: x.reshape(x.shape[0], x.shape[2], -1), "without moving the head axis"),
        (lambda x: x.transpose(1, 2), "not yet joined"),
        (lambda x: x.permute(0, 2, 3, 1).flatten(2), "interleaves the heads"),
    ],
    "check_mha_parameter_count": [
        (lambda E, H, bias: 4 * E * E, "bias vector"),
        (lambda E, H, bias: 3 * E * E + (3 * E if bias else 0), "output projection"),
        (lambda E, H, bias: H * _count(E, H, bias), "does not grow with num_heads"),
        (lambda E, H, bias: 4 * E * (E // H) + (4 * (E // H) if bias else 0), "for one head"),
        (lambda E, H, bias: "4E^2", "whole number"),
    ],
    "check_multihead_attention": [
        (
            lambda x, *w: _mha(x, *w, scale=1 / math.sqrt(x.shape[-1])),
            "1/sqrt(E // num_heads)",
        ),
        (lambda x, *w: _mha(x, *w, out=False), "output projection"),
        (lambda x, *w: _mha(x, *w, dim=-2), "dim=-1"),
        (lambda x, *w: _mha(x, *w, heads=1), "one big head"),
        (lambda x, *w: _mha(x, *w, scale=1.0), "does not scale"),
        (lambda x, *w: x @ w[0].T @ w[2].T, "different numbers"),
        (lambda x, *w: 1 / 0, "raised ZeroDivisionError"),
    ],
    "check_self_attention": [
        (lambda *a: _self(*a, scale=1.0), "does not scale"),
        (lambda *a: _self(*a, raw=True), "values are x @ w_v.T"),
        (lambda *a: _self(*a, dim=-2), "dim=-1"),
        (lambda *a: _self(*a, swap=True), "swaps w_q and w_k"),
    ],
    "check_cross_attention": [
        (lambda *a: _cross(*a, scale=1.0), "does not scale"),
        (lambda *a: _cross(*a, dim=-2), "dim=-1"),
        (lambda *a: _cross(*a, scale=1 / math.sqrt(a[1].shape[1])), "1/sqrt(S)"),
        (lambda *a: _cross(*a, queries_from_memory=True), "the queries come from x"),
        (lambda x, m, w_q, w_k, w_v: _self(x, w_q, w_k, w_v), "that is self-attention"),
        (lambda x, m, w_q, w_k, w_v: x @ m, "raised RuntimeError"),
    ],
    "check_attention_shapes": [
        (
            lambda N, L, S, E, H: [(N, H, L, E // H), (N, H, S, E // H), (N, H, L, L), (N, L, E)],
            "every query (L of them) with every key (S)",
        ),
        (
            lambda N, L, S, E, H: [(N, H, L, E // H), (N, H, S, E // H), (N, H, L, S), (N, S, E)],
            "its length is L, not S",
        ),
        (
            lambda N, L, S, E, H: [(N, H, L, E), (N, H, S, E), (N, H, L, S), (N, L, E)],
            "E // num_heads",
        ),
        (
            lambda N, L, S, E, H: [(N, L, H, E // H), (N, S, H, E // H), (N, H, L, S), (N, L, E)],
            "heads come before positions",
        ),
        (lambda N, L, S, E, H: [(N, L, E)], "expected 4"),
    ],
    "check_padding_mask": [
        (lambda lengths, n: ~_padding(lengths, n), "key_padding_mask polarity"),
        (
            lambda lengths, n: (torch.arange(n) <= torch.tensor(lengths)[:, None])[
                :, None, None, :
            ],
            "not <= n",
        ),
        (lambda lengths, n: _padding(lengths, n)[:, 0, 0], "(N, 1, 1, S)"),
        (lambda lengths, n: _padding(lengths, n).float(), "torch.bool"),
    ],
    "check_causal_mask": [
        (lambda L: torch.ones(L, L, dtype=torch.bool).triu(), "not .triu()"),
        (lambda L: torch.ones(L, L, dtype=torch.bool).tril(-1), "not .tril(-1)"),
        (lambda L: ~_causal(L), "nn.MultiheadAttention's polarity"),
        (lambda L: _causal(L).int(), "torch.bool"),
    ],
    "check_masked_softmax": [
        (
            lambda s, m: torch.softmax(s.masked_fill(~m, float("-inf")), dim=-1),
            "returns nan",
        ),
        (lambda s, m: torch.softmax(s.masked_fill(~m, -1e9), dim=-1), "equal weights 1/S"),
        (lambda s, m: torch.softmax(s, dim=-1) * m, "after the softmax"),
        (lambda s, m: _masked_softmax(s, ~m), "True = may attend"),
        (lambda s, m: torch.softmax(s, dim=-1), "different numbers"),
    ],
    "check_sinusoidal_table": [
        (lambda n, E: _sinusoidal(n, E).view(n, -1, 2).flip(-1).reshape(n, E), "cos in the even"),
        (
            lambda n, E: torch.cat((_sinusoidal(n, E)[:, 0::2], _sinusoidal(n, E)[:, 1::2]), -1),
            "all the sines first",
        ),
        (lambda n, E: part2_variant(n, E, step=1), "10000^(-i/E)"),
        (lambda n, E: part2_variant(n, E, step=4), "10000^(-4i/E)"),
    ],
    "check_shift_matrix": [
        (lambda k, E: torch.eye(E), "identity"),
        (lambda k, E: _shift(k, E).T, "back, not forward"),
        (lambda k, E: _shift(k, E, sign=-1.0), "back, not forward"),
        (lambda k, E: _shift(k + 1, E), "does not map"),
    ],
    "check_rope": [
        (lambda x: _rope(x, sign=-1.0), "the wrong way"),
        (lambda x: _rope(x, start=1), "at 1"),
        (lambda x: _rope(x, interleaved=True), "neighbouring features"),
        (lambda x: 2 * x, "length of the vectors"),
    ],
    "check_alibi_bias": [
        (lambda H, L: _alibi(H, L, sign=1.0), "positive entries"),
        (lambda H, L: _alibi(H, L, future=False), "does not hide the keys after"),
        (
            lambda H, L: _alibi(H, L, slopes=1 / 2 ** torch.arange(1, H + 1).float()),
            "slopes",
        ),
    ],
}


def part2_variant(max_len, E, step):
    """A sinusoidal table with the wrong exponent: ω_i = 10000^(-step·i/E)."""
    p = torch.arange(max_len, dtype=torch.float64)[:, None]
    omega = 10000.0 ** (-step * torch.arange(E // 2, dtype=torch.float64) / E)
    return torch.stack((torch.sin(p * omega), torch.cos(p * omega)), dim=-1).reshape(max_len, E)


CHECKS = sorted(RIGHT)


def test_every_check_is_covered_and_exported():
    assert set(CHECKS) == set(part2.__all__) == set(WRONG)
    for name in part2.__all__:
        assert getattr(exercises, name) is getattr(part2, name)
        doc = getattr(part2, name).__doc__
        assert "Introduced in chapter 0" in doc and "Example:" in doc


@pytest.mark.parametrize(("check", "index"), [(c, i) for c in CHECKS for i in range(len(RIGHT[c]))])
def test_accepts_right_answers(check, index, capsys):
    assert getattr(part2, check)(RIGHT[check][index]).passed is True
    out = capsys.readouterr().out
    assert out.startswith(f"Correct: {check} — your ")
    assert out.count("\n") == 1


@pytest.mark.parametrize(("check", "index"), [(c, i) for c in CHECKS for i in range(len(WRONG[c]))])
def test_rejects_typical_mistakes_with_a_hint(check, index, capsys):
    wrong, hint = WRONG[check][index]
    assert getattr(part2, check)(wrong).passed is False
    out = capsys.readouterr().out
    assert out.startswith(f"Not yet: {check} — your ")
    assert hint in out, out


@pytest.mark.parametrize("check", CHECKS)
def test_at_least_three_named_mistakes(check):
    assert len(WRONG[check]) >= 3


@pytest.mark.parametrize("check", CHECKS)
def test_not_a_function(check, capsys):
    assert getattr(part2, check)("not a function").passed is False
    assert "is not a function" in capsys.readouterr().out


def test_checks_do_not_change_the_readers_inputs(capsys):
    seen = []

    def spy(x, num_heads):
        seen.append(x.clone())
        x.mul_(0)  # a careless in-place edit must not corrupt the reference
        return _split(seen[-1], num_heads)

    assert part2.check_split_heads(spy).passed is True
    assert seen and all(s.abs().sum() > 0 for s in seen)
    capsys.readouterr()
