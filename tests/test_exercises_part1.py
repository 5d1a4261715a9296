"""Part I self-checks: each accepts right answers and names the typical wrong ones."""

from __future__ import annotations

import importlib
import math
import pkgutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import attnbook.exercises as exercises
from attnbook import functional
from attnbook.exercises import part1

# Verdicts unwrapped: these tests match whole lines (the book wraps them at 76).
pytestmark = pytest.mark.usefixtures("unwrapped_verdicts")

# ----------------------------------------------------------------- right answers


def _stable_softmax(x, dim=-1):
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def _path_length(i, j, kind):
    if i == j:
        return 0
    return abs(i - j) if kind == "recurrent" else 1


def _loop_scores(Q, K):
    """Deliberately slow but right: one dot product at a time, any batch dims."""
    out = torch.empty(*Q.shape[:-1], K.shape[-2])
    for index in np.ndindex(*Q.shape[:-1]):
        for j in range(K.shape[-2]):
            out[index + (j,)] = Q[index] @ K[index[:-1] + (j,)]
    return out


def _numpy_attention(Q, K, V):
    q, k, v = Q.numpy(), K.numpy(), V.numpy()
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return weights @ v  # a NumPy array: the checks accept it


RIGHT = {
    "check_weighted_average": [
        lambda w, v: w @ v,
        lambda w, v: (w[:, None] * v).sum(0),
        lambda w, v: sum(wi * vi for wi, vi in zip(w, v, strict=True)),
    ],
    "check_path_length": [_path_length],
    "check_prediction_accuracy": [
        lambda logits, t: (logits.argmax(-1) == t).float().mean(),
        lambda logits, t: (logits.argmax(dim=1) == t).sum().item() / len(t),
    ],
    "check_dot": [lambda a, b: a @ b, lambda a, b: torch.dot(a, b).item(), torch.inner],
    "check_cosine_similarity": [
        lambda a, b: F.cosine_similarity(a, b, dim=0),
        lambda a, b: (a @ b / (a.norm() * b.norm())).item(),
    ],
    "check_pairwise_scores": [lambda Q, K: Q @ K.transpose(-2, -1), _loop_scores],
    "check_most_similar": [
        lambda q, keys: F.cosine_similarity(keys, q[None], dim=-1).argmax(),
        lambda q, keys: int(((keys / keys.norm(dim=1, keepdim=True)) @ q).argmax()),
    ],
    "check_softmax": [
        _stable_softmax,
        lambda x, dim=-1: torch.softmax(x, dim=dim),
        lambda x, dim=-1: functional.softmax(x, dim=dim),
    ],
    "check_softmax_temperature": [
        lambda x, t: functional.softmax(x, temperature=t),
        lambda x, t: _stable_softmax(x / t),
    ],
    "check_entropy": [
        lambda p: -torch.special.xlogy(p, p).sum(-1),
        lambda p: -torch.where(p > 0, p * torch.log(p), torch.zeros_like(p)).sum(dim=-1),
    ],
    "check_log_softmax": [
        lambda x: torch.log_softmax(x, -1),
        lambda x: (
            x
            - x.amax(-1, keepdim=True)
            - torch.logsumexp(x - x.amax(-1, keepdim=True), -1, keepdim=True)
        ),
    ],
    "check_hard_lookup": [
        lambda q, keys, values: values[(keys @ q).argmax()],
        lambda q, keys, values: values[int(torch.argmax(q @ keys.T))],
    ],
    "check_attention": [
        F.scaled_dot_product_attention,
        functional.scaled_dot_product_attention,
        lambda Q, K, V: torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(K.shape[-1]), -1) @ V,
        _numpy_attention,
    ],
    "check_head_scale": [
        lambda e, h: 1 / math.sqrt(e // h),
        lambda e, h: torch.tensor(e / h).rsqrt(),
    ],
    "check_projected_attention": [
        lambda x, wq, wk, wv: F.scaled_dot_product_attention(x @ wq, x @ wk, x @ wv),
        lambda x, wq, wk, wv: functional.scaled_dot_product_attention(x @ wq, x @ wk, x @ wv),
    ],
}


@pytest.mark.parametrize(
    ("name", "index"),
    [(name, i) for name, fns in RIGHT.items() for i in range(len(fns))],
)
def test_accepts_a_right_answer(name, index, capsys):
    check = getattr(exercises, name)
    assert check(RIGHT[name][index]).passed is True
    out = capsys.readouterr().out
    assert out.startswith(f"Correct: {name}"), out
    assert out.count("\n") == 1  # one line, no noise


def test_every_check_has_a_right_answer_and_three_wrong_ones():
    assert set(RIGHT) == set(part1.__all__)
    counts = {name: 0 for name in part1.__all__}
    for name, *_ in WRONG:
        counts[name] += 1
    assert all(n >= 3 for n in counts.values()), counts


# ----------------------------------------------------------------- wrong answers


def _unstable_softmax(x, dim=-1):
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


def _softmax_no_keepdim(x, dim=-1):
    e = torch.exp(x - x.amax(dim))
    return e / e.sum(dim)


def _entropy_with_nan(p):
    return -(p * torch.log(p)).sum(-1)


WRONG = [
    # chapter 01
    ("check_weighted_average", lambda w, v: v.mean(0), "averaged the rows equally"),
    ("check_weighted_average", lambda w, v: w[:, None] * v, "one weighted row per token"),
    ("check_weighted_average", lambda w, v: (w[:, None] * v).sum(1), "summed over the features"),
    ("check_weighted_average", lambda w, v: (w[:, None] * v).mean(0), "divided by the number"),
    ("check_path_length", lambda i, j, kind: abs(i - j), "connects every pair of positions"),
    ("check_path_length", lambda i, j, kind: int(i != j), "one position per step"),
    (
        "check_path_length",
        lambda i, j, kind: (j - i) if kind == "recurrent" else int(i != j),
        "cannot be negative",
    ),
    (
        "check_path_length",
        lambda i, j, kind: abs(i - j) + 1 if kind == "recurrent" else int(i != j),
        "off by one",
    ),
    ("check_path_length", lambda i, j, kind: abs(i - j) if kind == "recurrent" else 1, "itself"),
    (
        "check_prediction_accuracy",
        lambda lg, t: (lg.argmax(0) == t).float().mean(),
        "arg-max over the rows (dim 0)",
    ),
    ("check_prediction_accuracy", lambda lg, t: (lg.argmax(-1) == t).sum(), "number of right"),
    (
        "check_prediction_accuracy",
        lambda lg, t: 100 * (lg.argmax(-1) == t).float().mean(),
        "percentage",
    ),
    (
        "check_prediction_accuracy",
        lambda lg, t: (lg.argmax(-1) != t).float().mean(),
        "fraction of wrong answers",
    ),
    (
        "check_prediction_accuracy",
        lambda lg, t: (lg.max(-1).values == t).float().mean(),
        "compare its index",
    ),
    # chapter 02
    ("check_dot", lambda a, b: a * b, "element-wise products"),
    ("check_dot", lambda a, b: (a + b).sum(), "you added a and b"),
    ("check_dot", lambda a, b: a.norm() * b.norm(), "multiplied the two lengths"),
    ("check_dot", lambda a, b: (a * b).mean(), "averaged the products"),
    ("check_cosine_similarity", lambda a, b: a @ b, "raw dot product"),
    ("check_cosine_similarity", lambda a, b: a @ b / a.norm(), "length of a only"),
    ("check_cosine_similarity", lambda a, b: a @ b / ((a @ a) * (b @ b)), "squared lengths"),
    (
        "check_cosine_similarity",
        lambda a, b: 1 - F.cosine_similarity(a, b, dim=0),
        "cosine distance",
    ),
    ("check_pairwise_scores", lambda Q, K: K @ Q.transpose(-2, -1), "transposed"),
    ("check_pairwise_scores", lambda Q, K: (Q * K).sum(-1), "query i with key i only"),
    (
        "check_pairwise_scores",
        lambda Q, K: Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1]),
        "raw dot products",
    ),
    (
        "check_pairwise_scores",
        lambda Q, K: F.normalize(Q, dim=-1) @ F.normalize(K, dim=-1).transpose(-2, -1),
        "normalised the vectors",
    ),
    ("check_most_similar", lambda q, keys: (keys @ q).argmax(), "largest raw dot product"),
    (
        "check_most_similar",
        lambda q, keys: F.cosine_similarity(keys, q[None], dim=-1).argmin(),
        "least similar",
    ),
    (
        "check_most_similar",
        lambda q, keys: keys[F.cosine_similarity(keys, q[None], dim=-1).argmax()],
        "return its index",
    ),
    (
        "check_most_similar",
        lambda q, keys: (keys - q).norm(dim=-1).argmin(),
        "nearest key by distance",
    ),
    # chapter 03
    ("check_softmax", lambda x, dim=-1: torch.exp(x), "did you divide by the sum"),
    ("check_softmax", lambda x, dim=-1: torch.softmax(x, dim=0), "normalise over the wrong axis"),
    ("check_softmax", lambda x, dim=-1: torch.softmax(x, dim=-1), "ignore the dim argument"),
    ("check_softmax", _unstable_softmax, "subtract the maximum score before exp"),
    ("check_softmax", lambda x, dim=-1: x / x.sum(dim, keepdim=True), "without exp"),
    ("check_softmax", _softmax_no_keepdim, "keepdim=True"),
    (
        "check_softmax_temperature",
        lambda x, t: torch.softmax(x * t, -1),
        "multiplied the scores by T",
    ),
    ("check_softmax_temperature", lambda x, t: torch.softmax(x, -1), "does not change with"),
    ("check_softmax_temperature", lambda x, t: torch.softmax(x, -1) / t, "after the softmax"),
    (
        "check_softmax_temperature",
        lambda x, t: torch.softmax(x, -1) ** (1 / t),
        "without renormalising",
    ),
    (
        "check_softmax_temperature",
        lambda x, t: _unstable_softmax(x / t),
        "subtract the maximum score",
    ),
    ("check_entropy", lambda p: torch.special.xlogy(p, p).sum(-1), "negative"),
    ("check_entropy", lambda p: -torch.special.xlogy(p, p).sum(-1) / math.log(2), "base 2"),
    ("check_entropy", lambda p: -torch.special.xlogy(p, p).sum(), "whole batch"),
    ("check_entropy", _entropy_with_nan, "where a probability is 0"),
    ("check_log_softmax", lambda x: torch.log(torch.softmax(x, -1)), "-inf where the answer"),
    ("check_log_softmax", lambda x: torch.softmax(x, -1), "returned the probabilities"),
    ("check_log_softmax", lambda x: x - x.amax(-1, keepdim=True), "not the log of the sum"),
    ("check_log_softmax", lambda x: x - torch.exp(x).sum().log(), "whole batch"),
    (
        "check_log_softmax",
        lambda x: x - torch.exp(x).sum(-1, keepdim=True).log(),
        "inf or nan for large scores",
    ),
    # chapter 04
    ("check_hard_lookup", lambda q, k, v: (k @ q).argmax(), "index of the best key"),
    ("check_hard_lookup", lambda q, k, v: k[(k @ q).argmax()], "best key itself"),
    ("check_hard_lookup", lambda q, k, v: v[(k @ q).argmin()], "lowest score"),
    ("check_hard_lookup", lambda q, k, v: torch.softmax(k @ q, 0) @ v, "soft lookup"),
    (
        "check_attention",
        lambda Q, K, V: torch.softmax(Q @ K.transpose(-2, -1), -1) @ V,
        "forgot to divide the scores by √d_k",
    ),
    (
        "check_attention",
        lambda Q, K, V: torch.softmax(Q @ K.transpose(-2, -1) / K.shape[-1], -1) @ V,
        "divided the scores by d_k",
    ),
    (
        "check_attention",
        lambda Q, K, V: torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(K.shape[-1]), -2) @ V,
        "softmax over the queries",
    ),
    (
        "check_attention",
        lambda Q, K, V: torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(K.shape[-1]), -1),
        "returned the attention weights",
    ),
    (
        "check_attention",
        lambda Q, K, V: torch.softmax(Q @ K.transpose(-2, -1) * math.sqrt(K.shape[-1]), -1) @ V,
        "multiplied the scores",
    ),
    ("check_head_scale", lambda e, h: e**-0.5, "model width"),
    ("check_head_scale", lambda e, h: 1 / (e // h), "a square root"),
    ("check_head_scale", lambda e, h: math.sqrt(e / h), "returned √head_dim"),
    ("check_head_scale", lambda e, h: h**-0.5, "number of heads"),
    (
        "check_projected_attention",
        lambda x, wq, wk, wv: F.scaled_dot_product_attention(x, x, x),
        "x itself as Q, K and V",
    ),
    (
        "check_projected_attention",
        lambda x, wq, wk, wv: F.scaled_dot_product_attention(x @ wk, x @ wq, x @ wv),
        "swapped w_q and w_k",
    ),
    (
        "check_projected_attention",
        lambda x, wq, wk, wv: F.scaled_dot_product_attention(
            x @ wq, x @ wk, x @ wv, scale=x.shape[-1] ** -0.5
        ),
        "width of x",
    ),
    (
        "check_projected_attention",
        lambda x, wq, wk, wv: F.scaled_dot_product_attention(x @ wq, x @ wk, x),
        "x as the values",
    ),
    (
        "check_projected_attention",
        lambda x, wq, wk, wv: F.scaled_dot_product_attention(x @ wq, x @ wk, x @ wv, scale=1.0),
        "forgot to divide",
    ),
]


@pytest.mark.parametrize(("name", "wrong", "hint"), WRONG, ids=[f"{w[0]}-{w[2]}" for w in WRONG])
def test_rejects_a_typical_mistake_with_its_hint(name, wrong, hint, capsys):
    check = getattr(exercises, name)
    assert check(wrong).passed is False
    out = capsys.readouterr().out
    assert out.startswith(f"Not yet: {name} — "), out
    assert hint in out, out
    assert "    input:    " in out  # the reader sees which input failed


# ----------------------------------------------------------------- robustness


def test_a_function_that_raises_is_reported_not_raised(capsys):
    def broken(Q, K):
        return Q @ K  # forgot the transpose: shapes do not line up

    assert part1.check_pairwise_scores(broken).passed is False
    out = capsys.readouterr().out
    assert "your function raised RuntimeError" in out
    assert "Q of shape (2, 4), K of shape (5, 4)" in out or "(3, 4)" in out


def test_changing_the_input_in_place_is_reported(capsys):
    def softmax_in_place(x, dim=-1):
        x -= x.amax(dim, keepdim=True)
        x.exp_()
        return x / x.sum(dim, keepdim=True)

    assert part1.check_softmax(softmax_in_place).passed is False
    assert "changed its argument number 1 in place" in capsys.readouterr().out


def test_a_non_numeric_result_is_reported(capsys):
    assert part1.check_dot(lambda a, b: "a dot b").passed is False
    assert "returned str ('a dot b')" in capsys.readouterr().out


def test_an_unknown_mistake_gets_the_numbers(capsys):
    assert part1.check_dot(lambda a, b: a @ b + 0.5).passed is False
    out = capsys.readouterr().out
    assert "differs from the expected one" in out
    assert "yours:    12.5" in out and "expected: 12" in out


def test_a_wrong_shape_is_named(capsys):
    assert part1.check_attention(lambda Q, K, V: V).passed is False
    assert "your result has shape (5, 2), expected (3, 2)" in capsys.readouterr().out


def test_passing_something_else_than_a_function_is_a_type_error():
    with pytest.raises(TypeError, match="check_softmax: expected your function, got Tensor"):
        part1.check_softmax(torch.tensor([1.0]))


def test_a_one_element_tensor_counts_as_a_number(capsys):
    assert part1.check_dot(lambda a, b: (a @ b).reshape(1)).passed is True


def test_the_package_exports_every_check_of_every_part_once():
    names: list[str] = []
    for info in pkgutil.iter_modules(exercises.__path__):
        if info.name.startswith("part"):
            module = importlib.import_module(f"attnbook.exercises.{info.name}")
            names += module.__all__
    assert len(names) == len(set(names)), "two parts export a check with the same name"
    assert set(part1.__all__) <= set(exercises.__all__)
    assert all(callable(getattr(exercises, name)) for name in exercises.__all__)
