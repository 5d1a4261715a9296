"""Self-checks for the exercises of Part I: why attention, dot products, softmax, Q/K/V.

Each ``check_<name>(your_function)`` calls your function on a handful of
inputs (torch tensors, ``float32``), compares what it returns with a reference,
and prints one line: ``Correct: ...`` or ``Not yet: ...`` followed by *what* is
wrong. When your result equals a typical mistake (softmax over the wrong axis,
a forgotten ``√d_k``, ...) the message names that mistake; otherwise it shows
the input, your result and the expected one. Every check returns a
:class:`~attnbook.exercises.Verdict` (true or false) and never raises because of
your code.

Example:
    >>> check_softmax(lambda x, dim=-1: torch.exp(x))
    Not yet: check_softmax — your weights sum to 11.2 instead of 1 along dim=-1:
        did you divide by the sum of the exponentials?
        input:    x = [2.0, 1.0, 0.1], dim=-1
        yours:    [7.3891, 2.7183, 1.1052]
        expected: [0.659, 0.2424, 0.0986]
    Verdict(passed=False)

Introduced in chapter 01 (why attention).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ._verdict import Verdict, report

__all__ = [
    "check_attention",
    "check_cosine_similarity",
    "check_dot",
    "check_entropy",
    "check_hard_lookup",
    "check_head_scale",
    "check_log_softmax",
    "check_most_similar",
    "check_pairwise_scores",
    "check_path_length",
    "check_prediction_accuracy",
    "check_projected_attention",
    "check_softmax",
    "check_softmax_temperature",
    "check_weighted_average",
]


# --------------------------------------------------------------------------- machinery


@dataclass
class _Case:
    """One input to try: positional and keyword arguments, and how to show them."""

    label: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Mistake:
    """A typical wrong answer (computed like the reference) and what to tell the reader."""

    compute: Callable[..., Any]
    hint: str


def _as_tensor(value: Any) -> Tensor | None:
    """A float64 copy of what the reader returned, or ``None`` if it is not numeric."""
    if isinstance(value, Tensor):
        return value.detach().to("cpu", torch.float64)
    if isinstance(value, bool):
        return None
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        return None


def _same(got: Tensor, expected: Tensor, atol: float, rtol: float) -> bool:
    if got.shape != expected.shape:
        if expected.dim() == 0 and got.numel() == 1:  # a 1-element tensor stands for a number
            got = got.reshape(())
        else:
            return False
    return bool(torch.allclose(got, expected, atol=atol, rtol=rtol, equal_nan=True))


def _show(value: Any) -> str:
    """A short text for a tensor or number: its values when small, else its shape."""
    tensor = _as_tensor(value)
    if tensor is None:
        return repr(value)
    if tensor.numel() > 12:
        return f"a tensor of shape {tuple(tensor.shape)}"
    if tensor.dim() == 0:
        number = float(tensor)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.4g}"
    return str(np.round(tensor.numpy(), 4).tolist())


def _clone(value: Any) -> Any:
    return value.clone() if isinstance(value, Tensor) else value


def _run(
    name: str,
    fn: Any,
    cases: Sequence[_Case],
    reference: Callable[..., Any],
    mistakes: Sequence[_Mistake] = (),
    diagnose: Callable[[Tensor, Tensor, _Case], str | None] | None = None,
    *,
    success: str,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> Verdict:
    """Try ``fn`` on every case; print the verdict of the first failure, or ``success``."""
    if not callable(fn):
        raise TypeError(f"{name}: expected your function, got {type(fn).__name__} ({fn!r})")
    for case in cases:
        expected = _as_tensor(reference(*case.args, **case.kwargs))
        inputs = tuple(_clone(a) for a in case.args)
        try:
            returned = fn(*inputs, **case.kwargs)
        except Exception as error:  # noqa: BLE001 - whatever the reader's code raises is the verdict
            return _fail(name, case, f"your function raised {type(error).__name__}: {error}")
        changed = [
            i
            for i, (a, b) in enumerate(zip(inputs, case.args, strict=True))
            if isinstance(a, Tensor) and not torch.equal(a, b)
        ]
        if changed:
            return _fail(
                name,
                case,
                f"your function changed its argument number {changed[0] + 1} in place: "
                "compute on a copy (e.g. x - m instead of x -= m)",
            )
        got = _as_tensor(returned)
        if got is None:
            return _fail(
                name,
                case,
                f"your function returned {type(returned).__name__} ({returned!r}); "
                f"expected numbers (a tensor or a float) like {_show(expected)}",
            )
        if _same(got, expected, atol, rtol):
            continue
        hint = None
        for mistake in mistakes:
            try:
                wrong = _as_tensor(mistake.compute(*case.args, **case.kwargs))
            except Exception:  # noqa: BLE001 - a mistake that cannot run here does not apply
                continue  # that mistake cannot even produce a result on this input
            # nan/inf results are explained by `diagnose`, not matched to a mistake.
            finite = wrong is not None and bool(torch.isfinite(wrong).all())
            if finite and _same(got, wrong, atol, rtol):
                hint = mistake.hint
                break
        if hint is None and diagnose is not None:
            hint = diagnose(got, expected, case)
        if hint is None and got.shape != expected.shape and expected.numel() != 1:
            hint = f"your result has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if hint is None:
            hint = "your result differs from the expected one"
        return _fail(name, case, hint, got, expected)
    return report(True, f"Correct: {name} — {success.format(n=len(cases))}")


def _fail(
    name: str,
    case: _Case,
    hint: str,
    got: Tensor | None = None,
    expected: Tensor | None = None,
) -> Verdict:
    lines = [f"Not yet: {name} — {hint}", f"    input:    {case.label}"]
    if got is not None and expected is not None:
        lines += [f"    yours:    {_show(got)}", f"    expected: {_show(expected)}"]
    return report(False, "\n".join(lines))


def _randn(seed: int, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _values(tensor: Tensor) -> str:
    return _show(tensor) if tensor.numel() <= 12 else f"a tensor of shape {tuple(tensor.shape)}"


# ------------------------------------------------------------ chapter 01: why attention


def check_weighted_average(fn: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(weights, values)``: the weighted average ``Σ_i weights[i] · values[i]``.

    The weights sum to 1, so the result is a blend of the value rows.

    Introduced in chapter 01 (why attention).

    Args:
        fn: Your function; ``weights`` has shape ``(S,)``, ``values`` ``(S, E)``,
            and it returns shape ``(E,)``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_weighted_average(lambda weights, values: weights @ values)
        Correct: check_weighted_average — your weighted average matches Σ w_i v_i on
            all 4 inputs.
        Verdict(passed=True)
    """
    sat = torch.tensor([0.15, 0.35, 0.25, 0.10, 0.10, 0.05])
    cases = [
        _Case("the weights from 'sat', 6 value rows of size 3", (sat, _randn(1, 6, 3))),
        _Case("weights [0.0, 1.0, 0.0] (a spotlight on row 1)", (torch.eye(3)[1], _randn(2, 3, 4))),
        _Case("equal weights over 4 rows", (torch.full((4,), 0.25), _randn(3, 4, 2))),
        _Case(
            "5 random weights, values of size 7", (torch.softmax(_randn(4, 5), 0), _randn(5, 5, 7))
        ),
    ]
    mistakes = [
        _Mistake(
            lambda w, v: v.mean(0),
            "you averaged the rows equally: multiply each value row by its weight first",
        ),
        _Mistake(
            lambda w, v: w[:, None] * v,
            "you returned one weighted row per token (shape (S, E)): add them up over "
            "the tokens (dim 0)",
        ),
        _Mistake(
            lambda w, v: (w[:, None] * v).sum(1),
            "you summed over the features (dim 1) instead of the tokens (dim 0)",
        ),
        _Mistake(
            lambda w, v: (w[:, None] * v).mean(0),
            "you divided by the number of tokens: the weights already sum to 1, so just "
            "add the weighted rows",
        ),
    ]
    return _run(
        "check_weighted_average",
        fn,
        cases,
        lambda w, v: w.double() @ v.double(),
        mistakes,
        success="your weighted average matches Σ w_i v_i on all {n} inputs.",
    )


def check_path_length(fn: Callable[[int, int, str], int]) -> Verdict:
    """Check ``fn(i, j, kind)``: how many steps information takes from position ``i`` to ``j``.

    ``kind`` is ``"recurrent"`` (a recurrent network hands information from one
    position to the next, one step at a time) or ``"attention"`` (every position
    reads every other directly). A position reaches itself in 0 steps.

    Introduced in chapter 01 (why attention).

    Args:
        fn: Your function; it returns a whole number of steps.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> def path_length(i, j, kind):
        ...     if i == j:
        ...         return 0
        ...     return abs(i - j) if kind == "recurrent" else 1
        >>> check_path_length(path_length)
        Correct: check_path_length — your path lengths are right on all 6 inputs.
        Verdict(passed=True)
    """
    cases = [
        _Case("i=1 ('cat'), j=7 ('it'), kind='recurrent'", (1, 7, "recurrent")),
        _Case("i=1 ('cat'), j=7 ('it'), kind='attention'", (1, 7, "attention")),
        _Case("i=0, j=999, kind='attention'", (0, 999, "attention")),
        _Case("i=9, j=2, kind='recurrent'", (9, 2, "recurrent")),
        _Case("i=4, j=4, kind='recurrent'", (4, 4, "recurrent")),
        _Case("i=4, j=4, kind='attention'", (4, 4, "attention")),
    ]

    def reference(i: int, j: int, kind: str) -> int:
        if i == j:
            return 0
        return abs(i - j) if kind == "recurrent" else 1

    mistakes = [
        _Mistake(
            lambda i, j, kind: abs(i - j),
            "attention connects every pair of positions directly: one step, whatever the distance",
        ),
        _Mistake(
            lambda i, j, kind: int(i != j),
            "a recurrent network passes information on one position per step: |i - j| steps",
        ),
        _Mistake(
            lambda i, j, kind: (j - i) if kind == "recurrent" else int(i != j),
            "a path length is a distance and cannot be negative: use abs(i - j)",
        ),
        _Mistake(
            lambda i, j, kind: (abs(i - j) + 1) if kind == "recurrent" else int(i != j),
            "you counted the positions, not the steps between them (off by one)",
        ),
        _Mistake(
            lambda i, j, kind: abs(i - j) if kind == "recurrent" else 1,
            "a position reaches itself in 0 steps, with attention too",
        ),
    ]
    return _run(
        "check_path_length",
        fn,
        cases,
        reference,
        mistakes,
        success="your path lengths are right on all {n} inputs.",
    )


def check_prediction_accuracy(fn: Callable[[Tensor, Tensor], float]) -> Verdict:
    """Check ``fn(logits, targets)``: the fraction of rows whose largest logit is the target.

    Introduced in chapter 01 (why attention).

    Args:
        fn: Your function; ``logits`` has shape ``(N, C)`` (one score per class),
            ``targets`` shape ``(N,)`` (the right class of each row). It returns
            a number between 0 and 1.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_prediction_accuracy(lambda logits, t: (logits.argmax(-1) == t).float().mean())
        Correct: check_prediction_accuracy — your accuracy is right on all 3 inputs.
        Verdict(passed=True)
    """
    # Row-wise and column-wise arg-maxes differ here, so dim=0 vs dim=-1 shows.
    square = torch.tensor(
        [[2.0, 0.1, 0.3, 2.5], [0.5, 0.2, 3.0, 0.0], [1.0, 4.0, 0.0, 0.2], [0.0, 0.1, 3.5, 0.3]]
    )
    cases = [
        _Case(
            f"logits {_values(square)}, targets [3, 2, 1, 0]", (square, torch.tensor([3, 2, 1, 0]))
        ),
        _Case(
            "logits of shape (10, 3), targets of shape (10,)",
            (_randn(11, 10, 3), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])),
        ),
        _Case(
            "logits of shape (6, 10), every prediction right",
            (torch.eye(10)[:6] * 5, torch.arange(6)),
        ),
    ]

    def reference(logits: Tensor, targets: Tensor) -> float:
        return (logits.argmax(-1) == targets).double().mean().item()

    mistakes = [
        _Mistake(
            lambda lg, t: (lg.argmax(0) == t).double().mean(),
            "you took the arg-max over the rows (dim 0): each row's prediction is the "
            "arg-max over its classes (dim=-1)",
        ),
        _Mistake(
            lambda lg, t: (lg.argmax(-1) == t).sum(),
            "you returned the number of right answers: divide by the number of rows",
        ),
        _Mistake(
            lambda lg, t: 100 * reference(lg, t),
            "you returned a percentage: return a fraction between 0 and 1",
        ),
        _Mistake(
            lambda lg, t: 1 - reference(lg, t),
            "you returned the fraction of wrong answers (the error rate)",
        ),
        _Mistake(
            lambda lg, t: (lg.max(-1).values == t).double().mean(),
            "you compared the largest logit's value with the target: compare its index (argmax)",
        ),
    ]
    return _run(
        "check_prediction_accuracy",
        fn,
        cases,
        reference,
        mistakes,
        success="your accuracy is right on all {n} inputs.",
    )


# ------------------------------------------------------------ chapter 02: dot products


def check_dot(fn: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(a, b)``: the dot product ``Σ_i a_i b_i`` of two vectors.

    Introduced in chapter 02 (dot products and similarity).

    Args:
        fn: Your function; ``a`` and ``b`` have shape ``(E,)``; it returns a number.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_dot(lambda a, b: sum(x * y for x, y in zip(a, b)))
        Correct: check_dot — your dot product matches a · b on all 4 inputs.
        Verdict(passed=True)
    """
    cases = [
        _Case(
            "a = [1, 2, 3], b = [4, -5, 6]", (torch.tensor([1.0, 2, 3]), torch.tensor([4.0, -5, 6]))
        ),
        _Case(
            "a = [1, 0], b = [0, 1] (perpendicular)",
            (torch.tensor([1.0, 0]), torch.tensor([0.0, 1])),
        ),
        _Case(
            "a = [2, 2], b = [-1, -1] (opposite)",
            (torch.tensor([2.0, 2]), torch.tensor([-1.0, -1])),
        ),
        _Case("two random vectors of size 64", (_randn(21, 64), _randn(22, 64))),
    ]
    mistakes = [
        _Mistake(
            lambda a, b: a * b,
            "you returned the element-wise products a_i * b_i (a vector): add them up",
        ),
        _Mistake(
            lambda a, b: (a + b).sum(),
            "you added a and b: multiply them element by element, then sum",
        ),
        _Mistake(
            lambda a, b: a.norm() * b.norm(),
            "you multiplied the two lengths: that equals a · b only when the vectors "
            "point the same way",
        ),
        _Mistake(
            lambda a, b: (a * b).mean(),
            "you averaged the products: the dot product sums them",
        ),
    ]
    return _run(
        "check_dot",
        fn,
        cases,
        lambda a, b: (a.double() * b.double()).sum(),
        mistakes,
        success="your dot product matches a · b on all {n} inputs.",
    )


def check_cosine_similarity(fn: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(a, b)``: the cosine similarity ``a · b / (‖a‖ ‖b‖)`` of two vectors.

    Introduced in chapter 02 (dot products and similarity).

    Args:
        fn: Your function; ``a`` and ``b`` are non-zero vectors of shape ``(E,)``;
            it returns a number in ``[-1, 1]``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_cosine_similarity(lambda a, b: a @ b / (a.norm() * b.norm()))
        Correct: check_cosine_similarity — your cosine similarity is right on all 4
            inputs.
        Verdict(passed=True)
    """
    cases = [
        _Case("a = [3, 4], b = [4, 3]", (torch.tensor([3.0, 4]), torch.tensor([4.0, 3]))),
        _Case(
            "a = [1, 1], b = [10, 10] (same direction)",
            (torch.tensor([1.0, 1]), torch.tensor([10.0, 10])),
        ),
        _Case(
            "a = [1, 2, 2], b = [-2, 0, 1]", (torch.tensor([1.0, 2, 2]), torch.tensor([-2.0, 0, 1]))
        ),
        _Case("two random vectors of size 16", (_randn(31, 16) * 3, _randn(32, 16))),
    ]

    def reference(a: Tensor, b: Tensor) -> Tensor:
        a, b = a.double(), b.double()
        return a @ b / (a.norm() * b.norm())

    mistakes = [
        _Mistake(
            lambda a, b: a @ b,
            "you returned the raw dot product: divide it by both lengths, ‖a‖ ‖b‖",
        ),
        _Mistake(
            lambda a, b: a @ b / a.norm(),
            "you divided by the length of a only: divide by ‖a‖ ‖b‖",
        ),
        _Mistake(
            lambda a, b: a @ b / b.norm(),
            "you divided by the length of b only: divide by ‖a‖ ‖b‖",
        ),
        _Mistake(
            lambda a, b: a @ b / ((a @ a) * (b @ b)),
            "you divided by the squared lengths (a · a)(b · b): take their square roots",
        ),
        _Mistake(
            lambda a, b: 1 - reference(a, b),
            "you returned the cosine distance 1 - cos θ: return cos θ itself",
        ),
    ]
    return _run(
        "check_cosine_similarity",
        fn,
        cases,
        reference,
        mistakes,
        success="your cosine similarity is right on all {n} inputs.",
    )


def check_pairwise_scores(fn: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(Q, K)``: every query's dot product with every key, ``Q Kᵀ``.

    Entry ``[i, j]`` is ``Q[i] · K[j]``: rows are queries, columns keys. Leading
    batch dimensions must carry through.

    Introduced in chapter 02 (dot products and similarity).

    Args:
        fn: Your function; ``Q`` has shape ``(..., L, E)``, ``K`` ``(..., S, E)``;
            it returns shape ``(..., L, S)``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_pairwise_scores(lambda Q, K: Q @ K.transpose(-2, -1))
        Correct: check_pairwise_scores — your scores match Q Kᵀ on all 3 inputs.
        Verdict(passed=True)
    """
    cases = [
        _Case("Q of shape (3, 4), K of shape (3, 4)", (_randn(41, 3, 4), _randn(42, 3, 4))),
        _Case("Q of shape (2, 4), K of shape (5, 4)", (_randn(43, 2, 4), _randn(44, 5, 4))),
        _Case(
            "Q of shape (2, 3, 8), K of shape (2, 6, 8) (a batch of 2)",
            (_randn(45, 2, 3, 8), _randn(46, 2, 6, 8)),
        ),
    ]

    def reference(q: Tensor, k: Tensor) -> Tensor:
        return q.double() @ k.double().transpose(-2, -1)

    def cosine(q: Tensor, k: Tensor) -> Tensor:
        q, k = q.double(), k.double()
        return (q / q.norm(dim=-1, keepdim=True)) @ (k / k.norm(dim=-1, keepdim=True)).transpose(
            -2, -1
        )

    mistakes = [
        _Mistake(
            lambda q, k: k @ q.transpose(-2, -1),
            "your result is transposed: rows must be queries and columns keys (Q @ Kᵀ, not K @ Qᵀ)",
        ),
        _Mistake(
            lambda q, k: (q * k).sum(-1),
            "you paired query i with key i only: every query must meet every key (a "
            "matrix product)",
        ),
        _Mistake(
            lambda q, k: reference(q, k) / math.sqrt(q.shape[-1]),
            "you divided by √E: this exercise asks for the raw dot products (the scaling "
            "comes in chapter 04)",
        ),
        _Mistake(
            cosine,
            "you normalised the vectors (cosine similarities): this exercise asks for the "
            "raw dot products",
        ),
    ]
    return _run(
        "check_pairwise_scores",
        fn,
        cases,
        reference,
        mistakes,
        success="your scores match Q Kᵀ on all {n} inputs.",
    )


def check_most_similar(fn: Callable[[Tensor, Tensor], int]) -> Verdict:
    """Check ``fn(query, keys)``: the index of the key that points most nearly the query's way.

    "Most similar" here means the highest cosine similarity, so a long key does
    not win just for being long.

    Introduced in chapter 02 (dot products and similarity).

    Args:
        fn: Your function; ``query`` has shape ``(E,)``, ``keys`` ``(S, E)``; it
            returns an index between 0 and ``S - 1``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> import torch.nn.functional as F
        >>> check_most_similar(lambda q, keys: F.cosine_similarity(keys, q[None], dim=-1).argmax())
        Correct: check_most_similar — you find the most similar key on all 3 inputs.
        Verdict(passed=True)
    """
    keys_a = torch.tensor([[10.0, 1.0], [0.9, 1.1], [-1.0, 0.5]])
    keys_b = torch.tensor([[0.0, 3.0], [2.0, 0.2], [6.0, 6.0], [-1.0, -1.0], [0.5, -0.5]])
    cases = [
        _Case(f"query [1, 1], keys {_values(keys_a)}", (torch.tensor([1.0, 1.0]), keys_a)),
        _Case(f"query [1, 0.1], keys {_values(keys_b)}", (torch.tensor([1.0, 0.1]), keys_b)),
        _Case(
            "query of size 8, 6 random keys",
            (_randn(51, 8), _randn(52, 6, 8) * torch.arange(1.0, 7.0)[:, None]),
        ),
    ]

    def cosines(q: Tensor, keys: Tensor) -> Tensor:
        q, keys = q.double(), keys.double()
        return keys @ q / (keys.norm(dim=-1) * q.norm())

    def reference(q: Tensor, keys: Tensor) -> int:
        return int(cosines(q, keys).argmax())

    mistakes = [
        _Mistake(
            lambda q, keys: int((keys @ q).argmax()),
            "you picked the largest raw dot product: a long key wins even when it points "
            "elsewhere; compare directions (cosine similarity)",
        ),
        _Mistake(
            lambda q, keys: int(cosines(q, keys).argmin()),
            "you picked the least similar key (argmin instead of argmax)",
        ),
        _Mistake(
            lambda q, keys: keys[reference(q, keys)],
            "you returned the key itself: return its index",
        ),
        _Mistake(
            lambda q, keys: int((keys - q).norm(dim=-1).argmin()),
            "you picked the nearest key by distance: similarity here means direction "
            "(cosine similarity)",
        ),
    ]
    return _run(
        "check_most_similar",
        fn,
        cases,
        reference,
        mistakes,
        success="you find the most similar key on all {n} inputs.",
    )


# ------------------------------------------------------------ chapter 03: softmax


def _softmax(x: Tensor, dim: int = -1) -> Tensor:
    return torch.softmax(x.double(), dim=dim)


def _softmax_sums(got: Tensor, expected: Tensor, case: _Case) -> str | None:
    """Explain a softmax whose weights do not sum to 1 (or are not finite)."""
    x = case.args[0]
    dim = case.kwargs.get("dim", -1)
    big = float(x.abs().max())
    if got.shape == expected.shape and not torch.isfinite(got).all():
        if float(x.max()) > 80:
            return (
                f"your weights contain nan or inf for scores as large as {big:g}: exp "
                "overflows; subtract the maximum score before exp"
            )
        if float(x.max()) < -80:
            return (
                f"your weights are nan for scores as low as {-big:g}: every exp rounds to 0 "
                "and 0 / 0 = nan; subtract the maximum score before exp"
            )
        return "your weights contain nan or inf"
    if got.shape != expected.shape:
        return None
    if (got < 0).any():
        return "some of your weights are negative: exponentiate the scores before dividing"
    sums = got.sum(dim)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-4):
        for other in range(got.dim()):
            if other % got.dim() == dim % got.dim():
                continue
            other_sums = got.sum(other)
            if torch.allclose(other_sums, torch.ones_like(other_sums), atol=1e-4):
                return (
                    f"your weights sum to 1 along dim={other}, not along dim={dim}: did you "
                    "normalise over the wrong axis (or ignore the dim argument)?"
                )
        return (
            f"your weights sum to {float(sums.flatten()[0]):.3g} instead of 1 along dim={dim}: "
            "did you divide by the sum of the exponentials?"
        )
    return None


def check_softmax(fn: Callable[..., Tensor]) -> Verdict:
    """Check ``fn(x, dim=-1)``: a numerically stable softmax along ``dim``.

    ``softmax(x)_i = exp(x_i) / Σ_j exp(x_j)``; the inputs include scores of
    1000, where ``exp`` overflows unless the maximum is subtracted first.

    Introduced in chapter 03 (softmax and temperature).

    Args:
        fn: Your function; it takes a tensor ``x`` and ``dim`` and returns
            weights of the same shape that sum to 1 along ``dim``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_softmax(lambda x, dim=-1: torch.softmax(x, dim))
        Correct: check_softmax — your softmax is right on all 6 inputs, huge scores
            included.
        Verdict(passed=True)
    """
    square = _randn(61, 3, 3) * 2
    cases = [
        _Case("x = [2.0, 1.0, 0.1], dim=-1", (torch.tensor([2.0, 1.0, 0.1]),), {"dim": -1}),
        _Case(f"x = {_values(square)}, dim=-1", (square,), {"dim": -1}),
        _Case("x of shape (2, 5), dim=-1", (_randn(62, 2, 5),), {"dim": -1}),
        _Case("x of shape (4, 3), dim=0", (_randn(63, 4, 3),), {"dim": 0}),
        _Case(
            "x = [1000.0, 999.0, 0.0], dim=-1", (torch.tensor([1000.0, 999.0, 0.0]),), {"dim": -1}
        ),
        _Case("x = [-1000.0, -1001.0], dim=-1", (torch.tensor([-1000.0, -1001.0]),), {"dim": -1}),
    ]

    def no_keepdim_max(x: Tensor, dim: int = -1) -> Tensor:
        e = torch.exp(x.double() - x.double().amax(dim))
        return e / e.sum(dim, keepdim=True)

    def no_keepdim_both(x: Tensor, dim: int = -1) -> Tensor:
        e = torch.exp(x.double() - x.double().amax(dim))
        return e / e.sum(dim)

    mistakes = [
        _Mistake(
            lambda x, dim=-1: x.double() / x.double().sum(dim, keepdim=True),
            "you divided the scores by their sum without exp: take exp of each score "
            "first (negative scores would give negative weights)",
        ),
        _Mistake(
            no_keepdim_max,
            "you subtracted the maxima along the wrong axis: keep the dimension "
            "(amax(dim, keepdim=True)) so each row subtracts its own maximum",
        ),
        _Mistake(
            no_keepdim_both,
            "you reduced without keepdim=True, so the max and the sum broadcast along "
            "the wrong axis: use amax(dim, keepdim=True) and sum(dim, keepdim=True)",
        ),
    ]
    return _run(
        "check_softmax",
        fn,
        cases,
        _softmax,
        mistakes,
        _softmax_sums,
        success="your softmax is right on all {n} inputs, huge scores included.",
    )


def check_softmax_temperature(fn: Callable[[Tensor, float], Tensor]) -> Verdict:
    """Check ``fn(x, temperature)``: ``softmax(x / T)`` along the last dimension.

    A temperature above 1 flattens the weights, below 1 sharpens them.

    Introduced in chapter 03 (softmax and temperature).

    Args:
        fn: Your function; ``x`` has shape ``(..., S)`` and ``temperature > 0``;
            it returns weights of the same shape.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_softmax_temperature(lambda x, t: torch.softmax(x / t, dim=-1))
        Correct: check_softmax_temperature — your softmax with temperature is right
            on all 5 inputs.
        Verdict(passed=True)
    """
    scores = torch.tensor([2.0, 1.0, 0.1])
    cases = [
        _Case("x = [2.0, 1.0, 0.1], temperature = 2.0", (scores, 2.0)),
        _Case("x = [2.0, 1.0, 0.1], temperature = 0.5", (scores, 0.5)),
        _Case("x = [2.0, 1.0, 0.1], temperature = 1.0", (scores, 1.0)),
        _Case("x of shape (3, 4), temperature = 5.0", (_randn(71, 3, 4), 5.0)),
        _Case("x = [500.0, 0.0], temperature = 0.1", (torch.tensor([500.0, 0.0]), 0.1)),
    ]

    def reference(x: Tensor, t: float) -> Tensor:
        return torch.softmax(x.double() / t, dim=-1)

    def power(x: Tensor, t: float) -> Tensor:
        return torch.softmax(x.double(), dim=-1) ** (1 / t)

    mistakes = [
        _Mistake(
            lambda x, t: torch.softmax(x.double() * t, dim=-1),
            "you multiplied the scores by T: divide them by T (a larger T must give "
            "flatter weights)",
        ),
        _Mistake(
            lambda x, t: torch.softmax(x.double(), dim=-1),
            "your result does not change with the temperature: divide the scores by T "
            "before the softmax",
        ),
        _Mistake(
            lambda x, t: torch.softmax(x.double(), dim=-1) / t,
            "you divided the probabilities by T after the softmax: they no longer sum "
            "to 1; divide the scores before it",
        ),
        _Mistake(
            power,
            "you raised the probabilities to the power 1/T without renormalising: divide "
            "the scores by T before the softmax instead",
        ),
    ]
    return _run(
        "check_softmax_temperature",
        fn,
        cases,
        reference,
        mistakes,
        _softmax_sums,
        success="your softmax with temperature is right on all {n} inputs.",
    )


def check_entropy(fn: Callable[[Tensor], Tensor]) -> Verdict:
    """Check ``fn(p)``: the entropy ``-Σ_i p_i ln p_i`` of each distribution, in nats.

    A term with ``p_i = 0`` counts as 0 (the limit of ``p ln p``). The entropy
    measures how spread out the weights are: 0 for a one-hot distribution,
    ``ln S`` for a uniform one over ``S`` items.

    Introduced in chapter 03 (softmax and temperature).

    Args:
        fn: Your function; ``p`` has shape ``(..., S)`` (each row sums to 1); it
            returns shape ``(...)``, one entropy per row.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_entropy(lambda p: -torch.special.xlogy(p, p).sum(-1))
        Correct: check_entropy — your entropy is right on all 4 inputs, zeros
            included.
        Verdict(passed=True)
    """
    cases = [
        _Case("p = [0.5, 0.25, 0.25]", (torch.tensor([0.5, 0.25, 0.25]),)),
        _Case("p of shape (2, 4) (two distributions)", (torch.softmax(_randn(81, 2, 4), -1),)),
        _Case("p = [0.25, 0.25, 0.25, 0.25] (uniform)", (torch.full((4,), 0.25),)),
        _Case("p = [0.0, 1.0, 0.0] (one-hot)", (torch.tensor([0.0, 1.0, 0.0]),)),
    ]

    def reference(p: Tensor) -> Tensor:
        return -torch.special.xlogy(p.double(), p.double()).sum(-1)

    def diagnose(got: Tensor, expected: Tensor, case: _Case) -> str | None:
        if torch.isnan(got).any() and (case.args[0] == 0).any():
            return (
                "you get nan where a probability is 0 (0 · log 0 = 0 · -inf): count those "
                "terms as 0, e.g. with torch.special.xlogy(p, p) or torch.where"
            )
        return None

    mistakes = [
        _Mistake(
            lambda p: torch.special.xlogy(p.double(), p.double()).sum(-1),
            "your entropy is negative: it is minus the sum of p ln p",
        ),
        _Mistake(
            lambda p: reference(p) / math.log(2),
            "you used log base 2 (bits): use the natural log, torch.log (nats)",
        ),
        _Mistake(
            lambda p: reference(p).sum(),
            "you summed over the whole batch: return one entropy per row (sum over dim=-1)",
        ),
        _Mistake(
            lambda p: -torch.special.xlogy(p.double(), p.double()).sum(0),
            "you summed over the wrong axis: one entropy per row, summing over dim=-1",
        ),
    ]
    return _run(
        "check_entropy",
        fn,
        cases,
        reference,
        mistakes,
        diagnose,
        success="your entropy is right on all {n} inputs, zeros included.",
    )


def check_log_softmax(fn: Callable[[Tensor], Tensor]) -> Verdict:
    """Check ``fn(x)``: a stable ``log softmax`` along the last dimension.

    ``log_softmax(x)_i = x_i - m - ln Σ_j exp(x_j - m)`` with ``m = max_j x_j``,
    finite even when the softmax itself rounds to 0 or its ``exp`` would overflow.

    Introduced in chapter 03 (softmax and temperature).

    Args:
        fn: Your function; ``x`` has shape ``(..., S)``; it returns the same shape.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_log_softmax(lambda x: torch.log_softmax(x, dim=-1))
        Correct: check_log_softmax — your log-softmax is right on all 5 inputs,
            extremes included.
        Verdict(passed=True)
    """
    cases = [
        _Case("x = [2.0, 1.0, 0.1]", (torch.tensor([2.0, 1.0, 0.1]),)),
        _Case("x of shape (2, 4)", (_randn(91, 2, 4),)),
        _Case("x = [0.0, -200.0]", (torch.tensor([0.0, -200.0]),)),
        _Case("x = [1000.0, 0.0]", (torch.tensor([1000.0, 0.0]),)),
        _Case("x of shape (3, 2), rows [500, -500]", (torch.tensor([[500.0, -500.0]] * 3),)),
    ]

    def reference(x: Tensor) -> Tensor:
        return torch.log_softmax(x.double(), dim=-1)

    def diagnose(got: Tensor, expected: Tensor, case: _Case) -> str | None:
        if got.shape != expected.shape or bool(torch.isfinite(got).all()):
            return None
        if float(case.args[0].max()) > 80:
            return (
                "you get inf or nan for large scores: exp overflows; subtract the maximum m "
                "first, x - m - log(sum(exp(x - m)))"
            )
        return (
            "you get -inf where the answer is finite: the softmax rounded to 0 before "
            "the log; compute x - m - log(sum(exp(x - m))) with m the maximum"
        )

    mistakes = [
        _Mistake(
            lambda x: torch.softmax(x.double(), dim=-1),
            "you returned the probabilities: return their logarithms",
        ),
        _Mistake(
            lambda x: x.double() - x.double().amax(-1, keepdim=True),
            "you subtracted the maximum but not the log of the sum: x - m - log(sum(exp(x - m)))",
        ),
        _Mistake(
            lambda x: x.double() - torch.exp(x.double()).sum().log(),
            "you summed over the whole batch: take log Σ exp over each row (dim=-1, keepdim=True)",
        ),
    ]
    return _run(
        "check_log_softmax",
        fn,
        cases,
        reference,
        mistakes,
        diagnose,
        success="your log-softmax is right on all {n} inputs, extremes included.",
    )


# ------------------------------------------------------------ chapter 04: Q, K, V


def check_hard_lookup(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(query, keys, values)``: the value of the key with the highest score ``key · query``.

    A hard lookup returns exactly one stored value, like a Python ``dict``
    that forgives inexact keys.

    Introduced in chapter 04 (queries, keys and values).

    Args:
        fn: Your function; ``query`` has shape ``(E,)``, ``keys`` ``(S, E)``,
            ``values`` ``(S, Ev)``; it returns one value row, shape ``(Ev,)``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_hard_lookup(lambda q, keys, values: values[(keys @ q).argmax()])
        Correct: check_hard_lookup — your lookup returns the best key's value on all
            3 inputs.
        Verdict(passed=True)
    """
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.7, 0.7]])
    values = torch.tensor([[10.0, 0.0, 1.0], [20.0, 1.0, 0.0], [30.0, 1.0, 1.0]])
    cases = [
        _Case(
            f"query [0.9, 0.1], keys {_values(keys)}, values {_values(values)}",
            (torch.tensor([0.9, 0.1]), keys, values),
        ),
        _Case(
            "query [0.2, 1.5], the same keys and values", (torch.tensor([0.2, 1.5]), keys, values)
        ),
        _Case(
            "query of size 4, 6 keys, values of size 5",
            (_randn(101, 4), _randn(102, 6, 4), _randn(103, 6, 5)),
        ),
    ]

    def best(q: Tensor, k: Tensor) -> int:
        return int((k.double() @ q.double()).argmax())

    mistakes = [
        _Mistake(
            lambda q, k, v: best(q, k),
            "you returned the index of the best key: return the value stored under it",
        ),
        _Mistake(
            lambda q, k, v: k[best(q, k)],
            "you returned the best key itself: return the value stored under it",
        ),
        _Mistake(
            lambda q, k, v: v[int((k.double() @ q.double()).argmin())],
            "you picked the key with the lowest score (argmin instead of argmax)",
        ),
        _Mistake(
            lambda q, k, v: torch.softmax(k.double() @ q.double(), 0) @ v.double(),
            "you blended all values (a soft lookup): this exercise asks for the hard one, "
            "the single best key's value",
        ),
    ]
    return _run(
        "check_hard_lookup",
        fn,
        cases,
        lambda q, k, v: v.double()[best(q, k)],
        mistakes,
        success="your lookup returns the best key's value on all {n} inputs.",
    )


def _attention(q: Tensor, k: Tensor, v: Tensor, scale: float | None = None) -> Tensor:
    q, k, v = q.double(), k.double(), v.double()
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1) @ v


def check_attention(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(Q, K, V)``: scaled dot-product attention ``softmax(Q Kᵀ / √d_k) V``.

    ``d_k`` is the size of the queries and keys (``Q.shape[-1]``); leading batch
    dimensions must carry through.

    Introduced in chapter 04 (queries, keys and values).

    Args:
        fn: Your function; ``Q`` has shape ``(..., L, d_k)``, ``K`` ``(..., S, d_k)``,
            ``V`` ``(..., S, d_v)``; it returns shape ``(..., L, d_v)``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> import torch.nn.functional as F
        >>> check_attention(F.scaled_dot_product_attention)
        Correct: check_attention — your attention matches softmax(Q Kᵀ / √d_k) V on
            all 3 inputs.
        Verdict(passed=True)
    """
    cases = [
        _Case(
            "Q of shape (3, 4), K of shape (5, 4), V of shape (5, 2)",
            (_randn(111, 3, 4), _randn(112, 5, 4), _randn(113, 5, 2)),
        ),
        _Case(
            "Q, K, V of shape (2, 4, 16) (a batch of 2)",
            (_randn(114, 2, 4, 16), _randn(115, 2, 4, 16), _randn(116, 2, 4, 16)),
        ),
        _Case(
            "Q of shape (2, 2, 3, 8), K and V of shape (2, 2, 6, 8)",
            (_randn(117, 2, 2, 3, 8), _randn(118, 2, 2, 6, 8), _randn(119, 2, 2, 6, 8)),
        ),
    ]

    def wrong_axis(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        scores = q.double() @ k.double().transpose(-2, -1) / math.sqrt(q.shape[-1])
        return torch.softmax(scores, dim=-2) @ v.double()

    mistakes = [
        _Mistake(
            lambda q, k, v: _attention(q, k, v, scale=1.0),
            "you forgot to divide the scores by √d_k",
        ),
        _Mistake(
            lambda q, k, v: _attention(q, k, v, scale=1 / q.shape[-1]),
            "you divided the scores by d_k: divide by its square root, √d_k",
        ),
        _Mistake(
            lambda q, k, v: _attention(q, k, v, scale=math.sqrt(q.shape[-1])),
            "you multiplied the scores by √d_k: divide by it",
        ),
        _Mistake(
            wrong_axis,
            "you took the softmax over the queries (dim=-2): each query's weights over "
            "the keys (a row, dim=-1) must sum to 1",
        ),
        _Mistake(
            lambda q, k, v: torch.softmax(
                q.double() @ k.double().transpose(-2, -1) / math.sqrt(q.shape[-1]), -1
            ),
            "you returned the attention weights: multiply them by V",
        ),
    ]
    return _run(
        "check_attention",
        fn,
        cases,
        _attention,
        mistakes,
        success="your attention matches softmax(Q Kᵀ / √d_k) V on all {n} inputs.",
    )


def check_head_scale(fn: Callable[[int, int], float]) -> Verdict:
    """Check ``fn(embed_dim, num_heads)``: the factor that multiplies one head's scores.

    Each of the ``num_heads`` heads works on vectors of size
    ``head_dim = embed_dim // num_heads``; the scale is ``1 / √head_dim``.

    Introduced in chapter 04 (queries, keys and values).

    Args:
        fn: Your function; it returns a number.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> check_head_scale(lambda embed_dim, num_heads: (embed_dim // num_heads) ** -0.5)
        Correct: check_head_scale — your scale is 1 / √head_dim on all 4 inputs.
        Verdict(passed=True)
    """
    cases = [
        _Case("embed_dim=512, num_heads=8", (512, 8)),
        _Case("embed_dim=96, num_heads=6", (96, 6)),
        _Case("embed_dim=60, num_heads=3", (60, 3)),
        _Case("embed_dim=64, num_heads=1", (64, 1)),
    ]
    mistakes = [
        _Mistake(
            lambda e, h: 1 / math.sqrt(e),
            "you used the model width embed_dim: each head's scores are dot products "
            "of vectors of size head_dim = embed_dim / num_heads",
        ),
        _Mistake(
            lambda e, h: 1 / (e // h),
            "you divided by head_dim: the scale is 1 / √head_dim (a square root)",
        ),
        _Mistake(
            lambda e, h: math.sqrt(e // h),
            "you returned √head_dim: the scale multiplies the scores, so it is 1 / √head_dim",
        ),
        _Mistake(
            lambda e, h: 1 / math.sqrt(h),
            "you used the number of heads: the scale depends on each head's size, "
            "head_dim = embed_dim / num_heads",
        ),
    ]
    return _run(
        "check_head_scale",
        fn,
        cases,
        lambda e, h: 1 / math.sqrt(e // h),
        mistakes,
        success="your scale is 1 / √head_dim on all {n} inputs.",
    )


def check_projected_attention(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(x, w_q, w_k, w_v)``: self-attention of ``x`` through three projections.

    ``Q = x @ w_q``, ``K = x @ w_k``, ``V = x @ w_v``, then
    ``softmax(Q Kᵀ / √d_k) V`` with ``d_k = w_q.shape[1]``, the size of the
    queries and keys (not the width of ``x``).

    Introduced in chapter 04 (queries, keys and values).

    Args:
        fn: Your function; ``x`` has shape ``(L, E)``, ``w_q`` and ``w_k``
            ``(E, d_k)``, ``w_v`` ``(E, d_v)``; it returns shape ``(L, d_v)``.

    Returns:
        A :class:`Verdict`, true when ``fn`` is right on every input.

    Example:
        >>> import torch.nn.functional as F
        >>> check_projected_attention(
        ...     lambda x, wq, wk, wv: F.scaled_dot_product_attention(x @ wq, x @ wk, x @ wv)
        ... )
        Correct: check_projected_attention — your self-attention is right on all 3
            inputs.
        Verdict(passed=True)
    """
    cases = [
        _Case(
            "x of shape (3, 6), w_q and w_k of shape (6, 4), w_v of shape (6, 3)",
            (_randn(121, 3, 6), _randn(122, 6, 4), _randn(123, 6, 4), _randn(124, 6, 3)),
        ),
        _Case(
            "x of shape (5, 8), w_q and w_k of shape (8, 2), w_v of shape (8, 8)",
            (_randn(125, 5, 8), _randn(126, 8, 2), _randn(127, 8, 2), _randn(128, 8, 8)),
        ),
        _Case(
            "x of shape (4, 4), w_q, w_k, w_v of shape (4, 4)",
            (_randn(129, 4, 4), _randn(130, 4, 4), _randn(131, 4, 4), _randn(132, 4, 4)),
        ),
    ]

    def reference(x: Tensor, wq: Tensor, wk: Tensor, wv: Tensor) -> Tensor:
        x = x.double()
        return _attention(x @ wq.double(), x @ wk.double(), x @ wv.double())

    mistakes = [
        _Mistake(
            lambda x, wq, wk, wv: _attention(x, x, x),
            "you used x itself as Q, K and V: project it first (Q = x @ w_q, K = x @ w_k, "
            "V = x @ w_v)",
        ),
        _Mistake(
            lambda x, wq, wk, wv: reference(x, wk, wq, wv),
            "you swapped w_q and w_k: queries come from w_q, keys from w_k (swapping "
            "them transposes the scores)",
        ),
        _Mistake(
            lambda x, wq, wk, wv: _attention(
                x.double() @ wq.double(),
                x.double() @ wk.double(),
                x.double() @ wv.double(),
                scale=1 / math.sqrt(x.shape[-1]),
            ),
            "you scaled by √E, the width of x: scale by √d_k, the size of the queries and "
            "keys (w_q.shape[1])",
        ),
        _Mistake(
            lambda x, wq, wk, wv: _attention(x.double() @ wq.double(), x.double() @ wk.double(), x),
            "you used x as the values: project it with w_v (V = x @ w_v)",
        ),
        _Mistake(
            lambda x, wq, wk, wv: _attention(
                x.double() @ wq.double(), x.double() @ wk.double(), x.double() @ wv.double(), 1.0
            ),
            "you forgot to divide the scores by √d_k",
        ),
    ]
    return _run(
        "check_projected_attention",
        fn,
        cases,
        reference,
        mistakes,
        success="your self-attention is right on all {n} inputs.",
    )
