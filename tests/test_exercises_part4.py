"""The self-checks of Part IV's exercises accept right answers and explain wrong ones.

Each check gets a correct solution (it must print a success line and return True)
and at least three typical wrong ones (it must return False and name the slip).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook.exercises import (
    check_alignment,
    check_attention_entropy,
    check_attention_memory,
    check_attention_rollout,
    check_best_span,
    check_causal_tiled_attention,
    check_fit_exponent,
    check_head_ablation,
    check_online_softmax,
    check_pointer_in_context,
    check_top_keys,
)

# Verdicts unwrapped: these tests match whole lines (the book wraps them at 76).
pytestmark = pytest.mark.usefixtures("unwrapped_verdicts")


def verdict(capsys: pytest.CaptureFixture[str], check, fn) -> tuple[bool, str]:
    ok = check(fn)
    return ok, capsys.readouterr().out


def accepts(capsys, check, fn) -> None:
    ok, out = verdict(capsys, check, fn)
    assert ok.passed is True, out
    assert out.startswith("Correct:"), out


def rejects(capsys, check, fn, hint: str) -> None:
    ok, out = verdict(capsys, check, fn)
    assert ok.passed is False, out
    assert out.startswith("Not yet:"), out
    assert hint in out, out


# --- chapter 15 -----------------------------------------------------------------------------
def test_attention_memory(capsys) -> None:
    accepts(capsys, check_attention_memory, lambda n, h, b, e: b * h * n**2 * e)
    rejects(capsys, check_attention_memory, lambda n, h, b, e: b * h * n * e, "linearly")
    rejects(capsys, check_attention_memory, lambda n, h, b, e: b * h * n * n, "not bytes")
    rejects(capsys, check_attention_memory, lambda n, h, b, e: b * n * n * e, "num_heads")
    rejects(capsys, check_attention_memory, lambda n, h, b, e: h * n * n * e, "batch_size")
    rejects(capsys, check_attention_memory, lambda n, h, b, e: 8 * b * h * n * n * e, "bits")
    rejects(capsys, check_attention_memory, lambda n, h, b, e: "many", "expected a number")
    rejects(capsys, check_attention_memory, lambda n, h: 0, "raised TypeError")
    rejects(capsys, check_attention_memory, 42, "expected a function")


def fit_right(n, t):
    return np.polyfit(np.log(n), np.log(t), 1)[0]


def test_fit_exponent(capsys) -> None:
    accepts(capsys, check_fit_exponent, fit_right)
    accepts(capsys, check_fit_exponent, lambda n, t: np.polyfit(np.log10(n), np.log10(t), 1)[0])
    rejects(capsys, check_fit_exponent, lambda n, t: np.polyfit(n, t, 1)[0], "raw numbers")
    rejects(
        capsys, check_fit_exponent, lambda n, t: np.polyfit(np.log(t), np.log(n), 1)[0], "swapped"
    )
    rejects(
        capsys, check_fit_exponent, lambda n, t: np.polyfit(np.log(n), np.log(t), 1)[1], "intercept"
    )
    rejects(capsys, check_fit_exponent, lambda n, t: [1, 2], "one number")


def online_right(scores, block):
    m, ell = -math.inf, 0.0
    for start in range(0, len(scores), block):
        c = scores[start : start + block]
        m_new = max(m, c.max().item())
        ell = ell * math.exp(m - m_new) + torch.exp(c - m_new).sum().item()
        m = m_new
    return torch.exp(scores - m) / ell


def online_no_rescale(scores, block):
    m, ell = -math.inf, 0.0
    for start in range(0, len(scores), block):
        c = scores[start : start + block]
        m = max(m, c.max().item())
        ell = ell + torch.exp(c - m).sum().item()
    return torch.exp(scores - m) / ell


def online_no_max(scores, block):
    ell = sum(torch.exp(scores[i : i + block]).sum() for i in range(0, len(scores), block))
    return torch.exp(scores) / ell


def test_online_softmax(capsys) -> None:
    accepts(capsys, check_online_softmax, online_right)
    rejects(capsys, check_online_softmax, online_no_rescale, "rescale the running sum")
    rejects(capsys, check_online_softmax, online_no_max, "Subtract the running maximum")
    rejects(capsys, check_online_softmax, lambda s, b: torch.softmax(s[:-1], 0), "shape")
    rejects(capsys, check_online_softmax, lambda s, b: torch.softmax(2 * s, 0), "differs")


def tiled(q, k, v, block, *, causal=True, strict=False, rescale=True, scale=True):
    """A causal tiled attention with switchable slips."""
    L, E = q.shape
    if scale:
        q = q / math.sqrt(E)
    m = torch.full((L, 1), -math.inf)
    ell, acc = torch.zeros(L, 1), torch.zeros(L, v.shape[-1])
    rows = torch.arange(L)[:, None]
    for j in range(0, k.shape[0], block):
        cols = torch.arange(j, min(j + block, k.shape[0]))
        s = q @ k[j : j + block].T
        if causal:
            s = s.masked_fill(cols >= rows if strict else cols > rows, -math.inf)
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        e = torch.exp(s - m_new)
        correction = torch.exp(m - m_new) if rescale else torch.ones_like(m)
        ell = ell * correction + e.sum(-1, keepdim=True)
        acc = acc * correction + e @ v[j : j + block]
        m = m_new
    return acc / ell


def test_causal_tiled_attention(capsys) -> None:
    accepts(capsys, check_causal_tiled_attention, tiled)
    accepts(
        capsys,
        check_causal_tiled_attention,
        lambda q, k, v, b: F.scaled_dot_product_attention(
            q[None], k[None], v[None], is_causal=True
        )[0],
    )
    for slip, hint in (
        ({"causal": False}, "WITHOUT the causal mask"),
        ({"strict": True}, "query i may see key i"),
        ({"rescale": False}, "exp(m - m_new)"),
        ({"scale": False}, "1 / sqrt(E)"),
    ):
        wrong = functools.partial(tiled, **slip)
        rejects(capsys, check_causal_tiled_attention, wrong, hint)
    rejects(capsys, check_causal_tiled_attention, lambda q, k, v, b: q, "shape")


# --- chapter 14 -----------------------------------------------------------------------------
def rollout(attentions, residual=True, reverse=False, mean=True, normalise=True, last=False):
    """Attention rollout with switchable slips."""
    result = None
    for weights in attentions[-1:] if last else attentions:
        mixed = weights.mean(0) if mean else weights.sum(0)
        if residual:
            mixed = 0.5 * mixed + 0.5 * torch.eye(mixed.shape[-1], dtype=mixed.dtype)
            if normalise:
                mixed = mixed / mixed.sum(-1, keepdim=True)
        if result is None:
            result = mixed
        else:
            result = result @ mixed if reverse else mixed @ result
    return result


def test_attention_rollout(capsys) -> None:
    accepts(capsys, check_attention_rollout, rollout)
    accepts(capsys, check_attention_rollout, lambda a: rollout(a, normalise=False))
    rejects(capsys, check_attention_rollout, lambda a: rollout(a, residual=False), "residual")
    rejects(capsys, check_attention_rollout, lambda a: rollout(a, reverse=True), "wrong order")
    rejects(capsys, check_attention_rollout, lambda a: rollout(a, last=True), "last layer only")
    rejects(capsys, check_attention_rollout, lambda a: rollout(a, mean=False), "summed the heads")
    rejects(
        capsys,
        check_attention_rollout,
        lambda a: rollout(a, mean=False, normalise=False),
        "renormalise",
    )
    rejects(capsys, check_attention_rollout, lambda a: a[0], "shape")
    rejects(capsys, check_attention_rollout, lambda a: a[0][0], "differs")


def top_keys_right(weights, keys, i, k):
    return [keys[j] for j in torch.topk(weights[i], k).indices.tolist()]


def test_top_keys(capsys) -> None:
    accepts(capsys, check_top_keys, top_keys_right)
    rejects(
        capsys,
        check_top_keys,
        lambda w, keys, i, k: [keys[j] for j in torch.topk(w[:, i], k).indices.tolist()],
        "column",
    )
    rejects(
        capsys,
        check_top_keys,
        lambda w, keys, i, k: [keys[j] for j in w[i].argsort()[:k].tolist()],
        "smallest",
    )
    rejects(
        capsys,
        check_top_keys,
        lambda w, keys, i, k: top_keys_right(w, keys, i, k)[::-1],
        "wrong order",
    )
    rejects(capsys, check_top_keys, lambda w, keys, i, k: torch.topk(w[i], k).indices, "strings")
    rejects(capsys, check_top_keys, lambda w, keys, i, k: top_keys_right(w, keys, i, k + 1), "k=")


def ablate_right(x, head, num_heads):
    d = x.shape[-1] // num_heads
    x = x.clone()
    x[..., head * d : (head + 1) * d] = 0
    return x


def ablate_in_place(x, head, num_heads):
    d = x.shape[-1] // num_heads
    x[..., head * d : (head + 1) * d] = 0
    return x


def ablate_interleaved(x, head, num_heads):
    x = x.clone()
    x[..., head::num_heads] = 0
    return x


def ablate_position(x, head, num_heads):
    x = x.clone()
    x[:, head] = 0
    return x


def test_head_ablation(capsys) -> None:
    accepts(capsys, check_head_ablation, ablate_right)
    rejects(capsys, check_head_ablation, ablate_in_place, "in place")
    rejects(capsys, check_head_ablation, ablate_interleaved, "interleaved")
    rejects(capsys, check_head_ablation, lambda x, h, n: torch.zeros_like(x), "every head")
    rejects(capsys, check_head_ablation, ablate_position, "position")
    rejects(capsys, check_head_ablation, lambda x, h, n: x[..., :-1], "shape")


def test_attention_entropy(capsys) -> None:
    accepts(capsys, check_attention_entropy, lambda w: -torch.special.xlogy(w, w).sum(-1))
    rejects(capsys, check_attention_entropy, lambda w: -(w * w.log()).sum(-1), "0 * ln(0)")
    rejects(capsys, check_attention_entropy, lambda w: torch.special.xlogy(w, w).sum(-1), "MINUS")
    rejects(capsys, check_attention_entropy, lambda w: -(w * torch.log2(w)).sum(-1), "base 2")
    rejects(capsys, check_attention_entropy, lambda w: -(w * torch.log10(w)).sum(-1), "base 10")
    rejects(capsys, check_attention_entropy, lambda w: -torch.special.xlogy(w, w), "per row")
    rejects(capsys, check_attention_entropy, lambda w: -torch.special.xlogy(w, w).sum(0), "shape")


# --- chapter 13 -----------------------------------------------------------------------------
def span(start, end, max_len, *, ordered=True, limit=True, exclusive=False):
    """Best span by brute force, with switchable slips."""
    best = None
    for i in range(len(start)):
        for j in range(len(end)):
            if (ordered and j < i) or (limit and j - i + 1 > max_len):
                continue
            score = float(start[i] + end[j])
            if best is None or score > best[0]:
                best = (score, i, j)
    return best[1], best[2] + (1 if exclusive else 0)


def test_best_span(capsys) -> None:
    accepts(capsys, check_best_span, span)
    rejects(
        capsys, check_best_span, lambda s, e, m: span(s, e, m, ordered=False), "before the start"
    )
    rejects(capsys, check_best_span, lambda s, e, m: span(s, e, m, limit=False), "max_len")
    rejects(capsys, check_best_span, lambda s, e, m: span(s, e, m, exclusive=True), "inclusive")
    rejects(capsys, check_best_span, lambda s, e, m: (0, 0), "maximise")
    rejects(capsys, check_best_span, lambda s, e, m: 3, "pair")


def test_pointer_in_context(capsys) -> None:
    accepts(capsys, check_pointer_in_context, lambda x, m: x.masked_fill(~m, -1e9).argmax(-1))
    accepts(
        capsys, check_pointer_in_context, lambda x, m: x.masked_fill(~m, -1e9).argmax(-1).tolist()
    )
    rejects(capsys, check_pointer_in_context, lambda x, m: x.argmax(-1), "-inf")
    rejects(
        capsys, check_pointer_in_context, lambda x, m: x.masked_fill(m, -1e9).argmax(-1), "inverted"
    )
    rejects(
        capsys, check_pointer_in_context, lambda x, m: x.masked_fill(~m, -1e9).argmax(0), "dim=-1"
    )
    rejects(
        capsys, check_pointer_in_context, lambda x, m: x.masked_fill(~m, -1e9).softmax(-1), "float"
    )
    rejects(capsys, check_pointer_in_context, lambda x, m: [0], "one per row")


def test_alignment(capsys) -> None:
    accepts(capsys, check_alignment, lambda w: w.mean(0).argmax(-1))
    accepts(capsys, check_alignment, lambda w: w.sum(0).argmax(-1).tolist())
    rejects(capsys, check_alignment, lambda w: w.mean(0).argmax(0), "target axis")
    rejects(capsys, check_alignment, lambda w: w[0].argmax(-1), "one head only")
    rejects(capsys, check_alignment, lambda w: w.amax(0).argmax(-1), "largest weight of any head")
    rejects(capsys, check_alignment, lambda w: w.mean(0).amax(-1), "return positions")
