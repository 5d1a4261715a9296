"""The self-checks of Part IV's exercises accept right answers and explain wrong ones.

Each check gets a correct solution (it must print a success line and return True)
and at least three typical wrong ones (it must return False and name the slip).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook.exercises import (
    check_attention_memory,
    check_causal_tiled_attention,
    check_fit_exponent,
    check_online_softmax,
)


def verdict(capsys: pytest.CaptureFixture[str], check, fn) -> tuple[bool, str]:
    ok = check(fn)
    return ok, capsys.readouterr().out


def accepts(capsys, check, fn) -> None:
    ok, out = verdict(capsys, check, fn)
    assert ok is True, out
    assert out.startswith("Correct:"), out


def rejects(capsys, check, fn, hint: str) -> None:
    ok, out = verdict(capsys, check, fn)
    assert ok is False, out
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
    rejects(
        capsys,
        check_causal_tiled_attention,
        lambda q, k, v, b: tiled(q, k, v, b, causal=False),
        "WITHOUT the causal mask",
    )
    rejects(
        capsys,
        check_causal_tiled_attention,
        lambda q, k, v, b: tiled(q, k, v, b, strict=True),
        "query i may see key i",
    )
    rejects(
        capsys,
        check_causal_tiled_attention,
        lambda q, k, v, b: tiled(q, k, v, b, rescale=False),
        "exp(m - m_new)",
    )
    rejects(
        capsys,
        check_causal_tiled_attention,
        lambda q, k, v, b: tiled(q, k, v, b, scale=False),
        "1 / sqrt(E)",
    )
    rejects(capsys, check_causal_tiled_attention, lambda q, k, v, b: q, "shape")
