"""Self-checks for the exercises of Part II: multi-head attention, self/cross, masks, positions.

Each ``check_<name>(your_function)`` calls your function on a few inputs,
compares the result with ``attnbook``'s reference, prints one line that says
either that it is right or *what* is wrong (recognising the usual mistakes),
and returns a :class:`~attnbook.exercises.Verdict`. Nothing here grades style: only results.

Example:
    >>> def split_heads(x, num_heads):
    ...     N, L, E = x.shape
    ...     return x.view(N, L, num_heads, E // num_heads).transpose(1, 2)
    >>> check_split_heads(split_heads)  # doctest: +ELLIPSIS
    Correct: check_split_heads — your split_heads gives (N, H, L, E // H), head h holding ...
    Verdict(passed=True)

Introduced in chapter 05 (multi-head attention).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from attnbook.functional import softmax
from attnbook.masks import causal_mask, padding_mask
from attnbook.positional import RotaryEmbedding, alibi_bias, sinusoidal_table

from ._verdict import Verdict, report

__all__ = [
    "check_alibi_bias",
    "check_attention_shapes",
    "check_causal_mask",
    "check_cross_attention",
    "check_masked_softmax",
    "check_merge_heads",
    "check_mha_parameter_count",
    "check_multihead_attention",
    "check_padding_mask",
    "check_rope",
    "check_self_attention",
    "check_shift_matrix",
    "check_sinusoidal_table",
    "check_split_heads",
]


# --------------------------------------------------------------------------- helpers


class _Wrong(Exception):
    """Raised inside a check with the plain-words explanation of what is wrong."""


def _run(check: str, name: str, body: Callable[[], None], success: str) -> Verdict:
    """Run ``body``; print the success line or the reason it failed; return the verdict."""
    try:
        body()
    except _Wrong as wrong:
        return report(False, f"Not yet: {check} — your {name} {wrong}")
    return report(True, f"Correct: {check} — your {name} {success}")


def _call(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Call the reader's function; turn any exception into a readable verdict."""
    if not callable(fn):
        raise _Wrong(f"is not a function (got {type(fn).__name__}); pass the function itself")
    try:
        return fn(*args)
    except Exception as error:  # noqa: BLE001 - any error of the reader's code is the verdict
        shown = ", ".join(_describe(a) for a in args)
        raise _Wrong(f"raised {type(error).__name__}: {error} (called with {shown})") from None


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"tensor of shape {tuple(value.shape)}"
    return repr(value)


def _tensor(got: Any, shape: Sequence[int], what: str) -> Tensor:
    """Check the reader returned a tensor of ``shape``."""
    if not isinstance(got, Tensor):
        raise _Wrong(f"returned {type(got).__name__}, expected a torch.Tensor {what}")
    if tuple(got.shape) != tuple(shape):
        raise _Wrong(f"returned shape {tuple(got.shape)}, expected {tuple(shape)} {what}")
    return got


def _close(a: Tensor, b: Tensor, atol: float = 1e-5) -> bool:
    if a.shape != b.shape:
        return False
    a, b = a.detach().double(), b.detach().double()
    same_nan = torch.isnan(a) == torch.isnan(b)
    if not bool(same_nan.all()):
        return False
    a, b = torch.nan_to_num(a), torch.nan_to_num(b)
    return bool(torch.allclose(a, b, atol=atol, rtol=1e-4))


def _diagnose(got: Tensor, expected: Tensor, mistakes: Sequence[tuple[Tensor, str]], where: str):
    """Raise with the hint of the first known mistake ``got`` matches, or a generic one."""
    if _close(got, expected):
        return
    for wrong, hint in mistakes:
        if _close(got, wrong):
            raise _Wrong(hint)
    diff = (got.detach().double() - expected.double()).abs()
    diff = torch.nan_to_num(diff, nan=float("inf"))
    raise _Wrong(
        f"gives different numbers {where} (largest difference {float(diff.max()):.3g}); "
        "compare your steps with the chapter's"
    )


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------ chapter 05: multi-head attention


def _split(x: Tensor, num_heads: int) -> Tensor:
    N, L, E = x.shape
    return x.view(N, L, num_heads, E // num_heads).transpose(1, 2)  # (N, H, L, Eh)


def _merge(x: Tensor) -> Tensor:
    N, H, L, Eh = x.shape
    return x.transpose(1, 2).reshape(N, L, H * Eh)  # (N, L, E)


def check_split_heads(split_heads: Callable[[Tensor, int], Tensor]) -> Verdict:
    """Check ``split_heads(x, num_heads)``: ``(N, L, E)`` → ``(N, H, L, E // H)``.

    Head ``h`` must hold features ``h * Eh .. (h + 1) * Eh - 1`` of every
    position, as :class:`attnbook.attention.MultiheadAttention` splits them.

    Introduced in chapter 05 (multi-head attention).

    Args:
        split_heads: your function.

    Returns:
        A :class:`Verdict`, true if it agrees with the reference on every test input.

    Example:
        >>> check_split_heads(lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1))
        ... # doctest: +ELLIPSIS
        Not yet: check_split_heads — your split_heads reshaped straight to (N, H, L, Eh)...
        Verdict(passed=False)
    """

    def body() -> None:
        for N, L, E, H in ((2, 5, 12, 3), (1, 7, 16, 4), (3, 2, 6, 1)):
            x = torch.randn(N, L, E, generator=_generator(L))
            Eh = E // H
            got = _call("split_heads", split_heads, x.clone(), H)
            if isinstance(got, Tensor) and tuple(got.shape) == (N, L, H, Eh) and H not in (1, L):
                raise _Wrong(
                    f"returned (N, L, H, Eh) = {(N, L, H, Eh)}; heads must come before "
                    "positions: finish with .transpose(1, 2) to get (N, H, L, Eh)"
                )
            _tensor(got, (N, H, L, Eh), "(N, H, L, E // H)")
            _diagnose(
                got,
                _split(x, H),
                [
                    (
                        x.reshape(N, H, L, Eh),
                        "reshaped straight to (N, H, L, Eh): that cuts the flat "
                        "sequence into chunks and mixes positions into heads. View as "
                        "(N, L, H, Eh) first, then .transpose(1, 2)",
                    ),
                    (
                        x.view(N, L, Eh, H).permute(0, 3, 1, 2),
                        "gives head h every H-th feature (h, h + H, ...); head h should hold "
                        "the consecutive features h*Eh .. (h+1)*Eh - 1: view as (N, L, H, Eh), "
                        "not (N, L, Eh, H)",
                    ),
                ],
                f"for x of shape {(N, L, E)} and num_heads={H}",
            )

    return _run(
        "check_split_heads",
        "split_heads",
        body,
        "gives (N, H, L, E // H), head h holding features h*Eh .. (h+1)*Eh - 1.",
    )


def check_merge_heads(merge_heads: Callable[[Tensor], Tensor]) -> Verdict:
    """Check ``merge_heads(x)``: ``(N, H, L, Eh)`` → ``(N, L, H * Eh)``, heads side by side.

    The inverse of ``split_heads``: position ``l`` of the result is the
    concatenation ``[head_0[l], head_1[l], ...]``.

    Introduced in chapter 05 (multi-head attention).

    Args:
        merge_heads: your function.

    Returns:
        A :class:`Verdict`, true if it agrees with the reference on every test input.

    Example:
        >>> check_merge_heads(lambda x: x.transpose(1, 2).flatten(2))  # doctest: +ELLIPSIS
        Correct: check_merge_heads — your merge_heads concatenates the heads of each position...
        Verdict(passed=True)
    """

    def body() -> None:
        for N, H, L, Eh in ((2, 3, 5, 4), (1, 4, 7, 2), (2, 2, 3, 3)):
            x = torch.randn(N, H, L, Eh, generator=_generator(L))
            got = _call("merge_heads", merge_heads, x.clone())
            if isinstance(got, Tensor) and tuple(got.shape) == (N, L, H, Eh):
                raise _Wrong(
                    f"returned (N, L, H, Eh) = {(N, L, H, Eh)}: the heads are in the right "
                    "place but not yet joined; finish with .reshape(N, L, H * Eh)"
                )
            _tensor(got, (N, L, H * Eh), "(N, L, H * Eh)")
            _diagnose(
                got,
                _merge(x),
                [
                    (
                        x.reshape(N, L, H * Eh),
                        "reshaped (N, H, L, Eh) straight to (N, L, E) without moving the head "
                        "axis: the rows of one head get spread over several positions. "
                        "Do .transpose(1, 2) first (then .reshape, since the result is no "
                        "longer contiguous)",
                    ),
                    (
                        x.permute(0, 2, 3, 1).reshape(N, L, H * Eh),
                        "interleaves the heads feature by feature; put each head's Eh features "
                        "side by side: .transpose(1, 2).reshape(N, L, H * Eh)",
                    ),
                ],
                f"for x of shape {(N, H, L, Eh)}",
            )

    return _run(
        "check_merge_heads",
        "merge_heads",
        body,
        "concatenates the heads of each position: (N, H, L, Eh) -> (N, L, E).",
    )


def check_mha_parameter_count(count: Callable[[int, int, bool], int]) -> Verdict:
    """Check ``count(embed_dim, num_heads, bias)``: the parameters of multi-head attention.

    The reference counts the parameters of
    :class:`attnbook.attention.MultiheadAttention` (four ``E × E`` projections,
    plus four bias vectors of ``E`` when ``bias=True``).

    Introduced in chapter 05 (multi-head attention).

    Args:
        count: your function, returning an int.

    Returns:
        A :class:`Verdict`, true if it agrees on every test case.

    Example:
        >>> check_mha_parameter_count(lambda E, H, bias: 4 * E * E)  # doctest: +ELLIPSIS
        Not yet: check_mha_parameter_count — your count is 4E = 32 short for embed_dim=8, ...
        Verdict(passed=False)
    """

    def body() -> None:
        from attnbook.attention import MultiheadAttention

        for E, H, bias in (
            (8, 2, True),
            (8, 8, True),
            (12, 3, False),
            (16, 1, True),
            (32, 4, True),
        ):
            module = MultiheadAttention(E, H, bias=bias)
            expected = sum(p.numel() for p in module.parameters())
            got = _call("count", count, E, H, bias)
            if isinstance(got, Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, (int, float)) or got != int(got):
                raise _Wrong(f"returned {got!r}, expected a whole number")
            got = int(got)
            case = f"embed_dim={E}, num_heads={H}, bias={bias}"
            if got == expected:
                continue
            if bias and got == expected - 4 * E:
                raise _Wrong(
                    f"is 4E = {4 * E} short for {case}: the four projections each have a bias "
                    f"vector of E = {E} numbers"
                )
            if got == expected - E * E - (E if bias else 0):
                raise _Wrong(
                    f"is {E * E + (E if bias else 0)} short for {case}: you left out the "
                    "output projection W_O (E × E, plus its bias)"
                )
            if H > 1 and got == H * expected:
                raise _Wrong(
                    f"is {H}× too large for {case}: the heads share the E × E projections, "
                    "each head uses E // H of their output features, so the count does not "
                    "grow with num_heads"
                )
            Eh = E // H
            if H > 1 and got in (4 * E * Eh + (4 * Eh if bias else 0), 4 * E * Eh + 4 * E):
                raise _Wrong(
                    f"is too small for {case}: you sized the projections for one head "
                    f"(E × Eh = {E} × {Eh}); together the heads use all E = {E} outputs"
                )
            raise _Wrong(f"gives {got} for {case}, expected {expected}")

    return _run(
        "check_mha_parameter_count",
        "count",
        body,
        "matches sum(p.numel() for p in module.parameters()): 4E² (+ 4E with biases), "
        "whatever num_heads.",
    )


def _mha_reference(
    x: Tensor,
    w_q: Tensor,
    w_k: Tensor,
    w_v: Tensor,
    w_o: Tensor,
    num_heads: int,
    scale: float | None = None,
    out_proj: bool = True,
    softmax_dim: int = -1,
) -> Tensor:
    q, k, v = (_split(x @ w.T, num_heads) for w in (w_q, w_k, w_v))  # (N, H, L, Eh) each
    Eh = q.size(-1)
    scale = 1.0 / math.sqrt(Eh) if scale is None else scale
    weights = softmax(q @ k.transpose(-2, -1) * scale, dim=softmax_dim)  # (N, H, L, L)
    heads = _merge(weights @ v)  # (N, L, E)
    return heads @ w_o.T if out_proj else heads


def check_multihead_attention(
    multihead_attention: Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, int], Tensor],
) -> Verdict:
    """Check ``multihead_attention(x, w_q, w_k, w_v, w_o, num_heads)`` (self-attention, no biases).

    ``x`` is ``(N, L, E)``; every weight is ``(E, E)`` laid out as an
    ``nn.Linear`` weight (so ``Q = x @ w_q.T``). The reference is
    :class:`attnbook.attention.MultiheadAttention` with ``bias=False``.

    Introduced in chapter 05 (multi-head attention).

    Args:
        multihead_attention: your function, returning ``(N, L, E)``.

    Returns:
        A :class:`Verdict`, true if it agrees on every test input.

    Example:
        >>> from attnbook.attention import MultiheadAttention
        >>> def mine(x, w_q, w_k, w_v, w_o, num_heads):
        ...     m = MultiheadAttention(x.shape[-1], num_heads, bias=False)
        ...     projs = (m.q_proj, m.k_proj, m.v_proj, m.out_proj)
        ...     for proj, w in zip(projs, (w_q, w_k, w_v, w_o)):
        ...         proj.weight.data.copy_(w)
        ...     return m(x, x, x)[0]
        >>> check_multihead_attention(mine)  # doctest: +ELLIPSIS
        Correct: check_multihead_attention — your multihead_attention matches attnbook...
        Verdict(passed=True)
    """

    def body() -> None:
        from attnbook.attention import MultiheadAttention

        for N, L, E, H in ((2, 5, 16, 4), (1, 6, 12, 3), (2, 4, 8, 2)):
            g = _generator(E + L)
            x = torch.randn(N, L, E, generator=g) * 2
            w_q, w_k, w_v, w_o = (torch.randn(E, E, generator=g) / math.sqrt(E) for _ in range(4))
            module = MultiheadAttention(E, H, bias=False)
            with torch.no_grad():
                for proj, w in zip(
                    (module.q_proj, module.k_proj, module.v_proj, module.out_proj),
                    (w_q, w_k, w_v, w_o),
                    strict=True,
                ):
                    proj.weight.copy_(w)
                expected = module(x, x, x)[0]
            args = (x.clone(), w_q.clone(), w_k.clone(), w_v.clone(), w_o.clone(), H)
            got = _call("multihead_attention", multihead_attention, *args)
            _tensor(got, (N, L, E), "(N, L, E)")
            mistakes = [
                (
                    _mha_reference(x, w_q, w_k, w_v, w_o, H, scale=1 / math.sqrt(E)),
                    f"scales the scores by 1/sqrt(E) = 1/sqrt({E}); scale by the head "
                    f"width: 1/sqrt(E // num_heads) = 1/sqrt({E // H})",
                ),
                (
                    _mha_reference(x, w_q, w_k, w_v, w_o, H, out_proj=False),
                    "forgets the output projection: multiply the concatenated heads by w_o.T",
                ),
                (
                    _mha_reference(x, w_q, w_k, w_v, w_o, H, softmax_dim=-2),
                    "normalises over the queries (dim=-2): each query's weights over the keys "
                    "must sum to 1, so take the softmax over dim=-1",
                ),
                (
                    _mha_reference(x, w_q, w_k, w_v, w_o, H, scale=1.0),
                    "does not scale the scores: divide them by sqrt(E // num_heads)",
                ),
            ]
            if H > 1:
                one_head = (
                    "computes one big head: split Q, K and V into num_heads heads of "
                    "E // num_heads features before the scores"
                )
                for scale in (1 / math.sqrt(E), 1 / math.sqrt(E // H)):
                    mistakes.append(
                        (_mha_reference(x, w_q, w_k, w_v, w_o, 1, scale=scale), one_head)
                    )
            _diagnose(
                got.detach(), expected, mistakes, f"for x of shape {(N, L, E)}, num_heads={H}"
            )

    return _run(
        "check_multihead_attention",
        "multihead_attention",
        body,
        "matches attnbook.attention.MultiheadAttention (project, split, attend, concat, project).",
    )


# ---------------------------------------------------------- chapter 06: self and cross-attention


def _single_head(q_in: Tensor, kv_in: Tensor, w_q: Tensor, w_k: Tensor, w_v: Tensor, **kw: Any):
    scale = kw.get("scale")
    q, k, v = q_in @ w_q.T, kv_in @ w_k.T, kv_in @ w_v.T  # (N, L, E), (N, S, E), (N, S, E)
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    weights = softmax(q @ k.transpose(-2, -1) * scale, dim=kw.get("dim", -1))  # (N, L, S)
    return weights @ (kv_in if kw.get("raw_values") else v)  # (N, L, E)


def check_self_attention(
    self_attention: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor],
) -> Verdict:
    """Check ``self_attention(x, w_q, w_k, w_v)``: one head; Q, K and V all from ``x``.

    ``x`` is ``(N, L, E)``; the weights are ``(E, E)`` laid out as ``nn.Linear``
    weights (``Q = x @ w_q.T``). Scores are scaled by ``1/sqrt(E)``.

    Introduced in chapter 06 (self- and cross-attention).

    Args:
        self_attention: your function, returning ``(N, L, E)``.

    Returns:
        A :class:`Verdict`, true if it agrees with the reference on every test input.

    Example:
        >>> import torch.nn.functional as F
        >>> check_self_attention(lambda x, wq, wk, wv: F.scaled_dot_product_attention(
        ...     x @ wq.T, x @ wk.T, x @ wv.T))  # doctest: +ELLIPSIS
        Correct: check_self_attention — your self_attention takes Q, K and V from the same ...
        Verdict(passed=True)
    """

    def body() -> None:
        for N, L, E in ((2, 5, 8), (1, 7, 4), (3, 3, 6)):
            g = _generator(L * E)
            x = torch.randn(N, L, E, generator=g)
            w_q, w_k, w_v = (torch.randn(E, E, generator=g) for _ in range(3))
            got = _call("self_attention", self_attention, x.clone(), w_q, w_k, w_v)
            _tensor(got, (N, L, E), "(N, L, E): one output per position")
            _diagnose(
                got,
                _single_head(x, x, w_q, w_k, w_v),
                [
                    (
                        _single_head(x, x, w_q, w_k, w_v, scale=1.0),
                        f"does not scale the scores: divide Q Kᵀ by sqrt(E) = sqrt({E})",
                    ),
                    (
                        _single_head(x, x, w_q, w_k, w_v, raw_values=True),
                        "averages x itself: the values are x @ w_v.T, not x",
                    ),
                    (
                        _single_head(x, x, w_q, w_k, w_v, dim=-2),
                        "normalises over the queries (dim=-2): take the softmax over the keys, "
                        "dim=-1",
                    ),
                    (
                        _single_head(x, x, w_k, w_q, w_v),
                        "swaps w_q and w_k: queries are x @ w_q.T and keys x @ w_k.T "
                        "(the scores are not symmetric)",
                    ),
                ],
                f"for x of shape {(N, L, E)}",
            )

    return _run(
        "check_self_attention", "self_attention", body, "takes Q, K and V from the same sequence x."
    )


def check_cross_attention(
    cross_attention: Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], Tensor],
) -> Verdict:
    """Check ``cross_attention(x, memory, w_q, w_k, w_v)``: Q from ``x``, K and V from ``memory``.

    ``x`` is ``(N, L, E)``, ``memory`` is ``(N, S, Em)`` (another length *and*
    width); ``w_q`` is ``(E, E)``, ``w_k`` and ``w_v`` are ``(E, Em)``, laid out
    as ``nn.Linear`` weights. One head, scores scaled by ``1/sqrt(E)``.

    Introduced in chapter 06 (self- and cross-attention).

    Args:
        cross_attention: your function, returning ``(N, L, E)``.

    Returns:
        A :class:`Verdict`, true if it agrees with the reference on every test input.

    Example:
        >>> import torch.nn.functional as F
        >>> check_cross_attention(lambda x, m, wq, wk, wv: F.scaled_dot_product_attention(
        ...     x @ wq.T, m @ wk.T, m @ wv.T))  # doctest: +ELLIPSIS
        Correct: check_cross_attention — your cross_attention ...
        Verdict(passed=True)
    """

    def body() -> None:
        for N, L, S, E, Em in ((1, 5, 3, 6, 6), (2, 3, 7, 8, 5), (1, 6, 2, 4, 6), (2, 4, 4, 6, 6)):
            g = _generator(L * S + E)
            x = torch.randn(N, L, E, generator=g)
            memory = torch.randn(N, S, Em, generator=g)
            w_q = torch.randn(E, E, generator=g)
            w_k, w_v = torch.randn(E, Em, generator=g), torch.randn(E, Em, generator=g)
            args = (x.clone(), memory.clone(), w_q, w_k, w_v)
            got = _call("cross_attention", cross_attention, *args)
            if isinstance(got, Tensor) and got.dim() == 3 and got.shape[1] == S and S != L:
                raise _Wrong(
                    f"returned {S} rows (one per memory position, S={S}); the output has one "
                    f"row per query, L={L}: the queries come from x"
                )
            _tensor(got, (N, L, E), "(N, L, E): one output per query of x")
            expected = _single_head(x, memory, w_q, w_k, w_v)
            mistakes = [
                (
                    _single_head(x, memory, w_q, w_k, w_v, scale=1.0),
                    f"does not scale the scores: divide Q Kᵀ by sqrt(E) = sqrt({E})",
                ),
                (
                    _single_head(x, memory, w_q, w_k, w_v, dim=-2),
                    "normalises over the queries (dim=-2): take the softmax over the keys, dim=-1",
                ),
                (
                    _single_head(x, x, w_q, w_k, w_v) if E == Em else expected + 1,
                    "takes the keys and values from x: that is self-attention. In "
                    "cross-attention only the queries come from x; keys and values come "
                    "from memory",
                ),
                (
                    _single_head(x, memory, w_q, w_k, w_v, scale=1 / math.sqrt(S)),
                    "scales by 1/sqrt(S), the number of keys; scale by 1/sqrt(E), the width "
                    "of a query",
                ),
            ]
            _diagnose(got, expected, mistakes, f"for x {(N, L, E)} and memory {(N, S, Em)}")

    return _run(
        "check_cross_attention",
        "cross_attention",
        body,
        "takes queries from x and keys and values from memory; output length L follows the "
        "queries.",
    )


def check_attention_shapes(shapes: Callable[[int, int, int, int, int], Sequence[Any]]) -> Verdict:
    """Check ``shapes(N, L, S, E, num_heads)``: the shapes inside multi-head cross-attention.

    Return four shapes (tuples of ints), in order: the queries after the
    split into heads, the keys after the split, the attention weights, and
    the final output of the module (batch first). Queries come from a
    sequence of length ``L``, keys and values from one of length ``S``.

    Introduced in chapter 06 (self- and cross-attention).

    Args:
        shapes: your function.

    Returns:
        A :class:`Verdict`, true if all four shapes are right for every test case.

    Example:
        >>> check_attention_shapes(lambda N, L, S, E, H: [(N, H, L, E // H), (N, H, S, E // H),
        ...     (N, H, L, S), (N, L, E)])  # doctest: +ELLIPSIS
        Correct: check_attention_shapes — your shapes function is right: ...
        Verdict(passed=True)
    """
    names = ("queries (N, H, L, Eh)", "keys (N, H, S, Eh)", "weights (N, H, L, S)", "output")

    def body() -> None:
        for N, L, S, E, H in ((2, 3, 7, 16, 4), (1, 5, 2, 12, 3), (4, 6, 9, 8, 1)):
            Eh = E // H
            expected = ((N, H, L, Eh), (N, H, S, Eh), (N, H, L, S), (N, L, E))
            got = _call("shapes", shapes, N, L, S, E, H)
            try:
                got = [tuple(int(n) for n in shape) for shape in got]
            except (TypeError, ValueError):
                raise _Wrong(f"returned {got!r}; expected four tuples of ints") from None
            if len(got) != 4:
                raise _Wrong(
                    f"returned {len(got)} shapes; expected 4 (queries, keys, weights, output)"
                )
            case = f"N={N}, L={L}, S={S}, E={E}, num_heads={H}"
            for name, mine, right in zip(names, got, expected, strict=True):
                if mine == right:
                    continue
                hint = ""
                if name.startswith("weights") and mine[-2:] in ((L, L), (S, S)) and L != S:
                    hint = ": the weights pair every query (L of them) with every key (S)"
                elif name == "output" and S in mine and L not in mine:
                    hint = ": the output has one row per query, so its length is L, not S"
                elif name.startswith(("queries", "keys")) and E in mine and H > 1:
                    hint = f": each head gets E // num_heads = {Eh} features, not E"
                elif name.startswith(("queries", "keys")) and mine[1] in (L, S) and mine[2] == H:
                    hint = ": heads come before positions, (N, H, length, Eh)"
                elif name.startswith("keys") and L in mine and L != S:
                    hint = ": keys come from the other sequence, whose length is S"
                raise _Wrong(f"gives {name} = {mine} for {case}, expected {right}{hint}")

    return _run(
        "check_attention_shapes",
        "shapes function",
        body,
        "is right: Q (N, H, L, Eh), K (N, H, S, Eh), weights (N, H, L, S), output (N, L, E).",
    )


# ------------------------------------------------------------------------ chapter 07: masking


def check_padding_mask(make_padding_mask: Callable[[Sequence[int], int], Tensor]) -> Verdict:
    """Check ``make_padding_mask(lengths, max_len)``: ``(N, 1, 1, S)`` bool, True at real tokens.

    The reference is :func:`attnbook.masks.padding_mask` (SDPA polarity: ``True``
    = may attend).

    Introduced in chapter 07 (masking).

    Args:
        make_padding_mask: your function.

    Returns:
        A :class:`Verdict`, true if it agrees on every test input.

    Example:
        >>> check_padding_mask(lambda lengths, max_len: (
        ...     torch.arange(max_len) < torch.tensor(lengths)[:, None])[:, None, None, :])
        ... # doctest: +ELLIPSIS
        Correct: check_padding_mask — your make_padding_mask gives (N, 1, 1, S) with True at ...
        Verdict(passed=True)
    """

    def body() -> None:
        for lengths, max_len in (([2, 4, 3], 5), ([1], 3), ([3, 3], 3), ([0, 2], 4)):
            expected = padding_mask(lengths, max_len=max_len)  # (N, 1, 1, S)
            got = _call("make_padding_mask", make_padding_mask, list(lengths), max_len)
            N = len(lengths)
            if isinstance(got, Tensor) and tuple(got.shape) == (N, max_len):
                raise _Wrong(
                    f"returned (N, S) = {(N, max_len)}; give it shape (N, 1, 1, S) so that it "
                    "broadcasts against scores (N, H, L, S): index it with [:, None, None, :]"
                )
            _tensor(got, (N, 1, 1, max_len), "(N, 1, 1, S)")
            if got.dtype != torch.bool:
                raise _Wrong(f"returned dtype {got.dtype}; a boolean mask needs torch.bool")
            case = f"lengths={lengths}, max_len={max_len}"
            if torch.equal(got, expected):
                continue
            if torch.equal(got, ~expected):
                raise _Wrong(
                    f"marks the padding with True for {case}: that is nn.MultiheadAttention's "
                    "key_padding_mask polarity. In attnbook (and F.scaled_dot_product_attention) "
                    "True = may attend, so True marks the real tokens"
                )
            if torch.equal(got, padding_mask([min(n + 1, max_len) for n in lengths], max_len)):
                raise _Wrong(
                    f"keeps one padded key too many for {case}: a sequence of length n has "
                    "real tokens at 0 .. n-1; compare positions with < n, not <= n"
                )
            raise _Wrong(
                f"gives {got[:, 0, 0].int().tolist()} for {case}, expected "
                f"{expected[:, 0, 0].int().tolist()}"
            )

    return _run(
        "check_padding_mask",
        "make_padding_mask",
        body,
        "gives (N, 1, 1, S) with True at the real tokens.",
    )


def check_causal_mask(make_causal_mask: Callable[[int], Tensor]) -> Verdict:
    """Check ``make_causal_mask(L)``: ``(L, L)`` bool, True at keys ``j <= i``.

    The reference is :func:`attnbook.masks.causal_mask` (SDPA polarity).

    Introduced in chapter 07 (masking).

    Args:
        make_causal_mask: your function.

    Returns:
        A :class:`Verdict`, true if it agrees for every test length.

    Example:
        >>> check_causal_mask(lambda L: torch.ones(L, L, dtype=torch.bool).triu())
        ... # doctest: +ELLIPSIS
        Not yet: check_causal_mask — your make_causal_mask lets every query see the keys after it...
        Verdict(passed=False)
    """

    def body() -> None:
        for L in (4, 7, 1):
            expected = causal_mask(L)
            got = _call("make_causal_mask", make_causal_mask, L)
            _tensor(got, (L, L), "(L, L)")
            if got.dtype != torch.bool:
                raise _Wrong(
                    f"returned dtype {got.dtype}; a boolean mask needs torch.bool (an int or "
                    "float 0/1 tensor would be added to the scores, not used as a mask)"
                )
            if torch.equal(got, expected):
                continue
            ones = torch.ones(L, L, dtype=torch.bool)
            if torch.equal(got, ones.triu()):
                raise _Wrong(
                    "lets every query see the keys after it and hides the ones before: use "
                    ".tril() (lower triangle: key j <= query i), not .triu()"
                )
            if torch.equal(got, ones.tril(-1)):
                raise _Wrong(
                    "hides the diagonal: a token may attend to itself (key j = query i), so keep "
                    "the diagonal: .tril(), not .tril(-1); without it the first query sees nothing"
                )
            if torch.equal(got, ~expected):
                raise _Wrong(
                    "marks the hidden keys with True: that is nn.MultiheadAttention's polarity. "
                    "In attnbook and F.scaled_dot_product_attention True = may attend"
                )
            raise _Wrong(
                f"gives {got.int().tolist()} for L={L}, expected {expected.int().tolist()}"
            )

    return _run(
        "check_causal_mask",
        "make_causal_mask",
        body,
        "gives (L, L), True on and below the diagonal.",
    )


def check_masked_softmax(masked_softmax: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``masked_softmax(scores, mask)``: weights over allowed keys; empty rows are zeros.

    ``mask`` is boolean in SDPA polarity (``True`` = may attend) and broadcasts
    to ``scores`` ``(..., L, S)``. A row with no allowed key must give zeros,
    never ``nan`` — attnbook's documented behaviour.

    Introduced in chapter 07 (masking).

    Args:
        masked_softmax: your function.

    Returns:
        A :class:`Verdict`, true if it agrees on every test input.

    Example:
        >>> def naive(scores, mask):
        ...     return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        >>> check_masked_softmax(naive)  # doctest: +ELLIPSIS
        Not yet: check_masked_softmax — your masked_softmax returns nan in a row where every ...
        Verdict(passed=False)
    """

    def reference(scores: Tensor, mask: Tensor) -> Tensor:
        return softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)

    def body() -> None:
        g = _generator(7)
        cases = []
        scores = torch.randn(2, 4, 5, generator=g)
        cases.append((scores, causal_mask(4, 5)))  # no empty row
        mask = causal_mask(4, 5).clone()
        mask[0] = False  # the first query sees nothing
        cases.append((torch.randn(4, 5, generator=g), mask))
        cases.append((torch.randn(2, 3, 3, generator=g), padding_mask([0, 2], 3)[:, 0]))
        for scores, mask in cases:
            expected = reference(scores, mask)
            got = _call("masked_softmax", masked_softmax, scores.clone(), mask.clone())
            _tensor(got, scores.shape, "(the shape of scores)")
            where = f"for scores of shape {tuple(scores.shape)}"
            empty = ~mask.expand(scores.shape).any(-1)  # rows with no allowed key
            if bool(torch.isnan(got).any()):
                raise _Wrong(
                    "returns nan in a row where every key is masked: softmax of all -inf is "
                    "0/0. Return zeros for such rows (e.g. torch.nan_to_num, or compute "
                    "exp, sum, and divide by 1 where the sum is 0)"
                )
            filled = torch.softmax(scores.masked_fill(~mask, -1e9), dim=-1)
            if bool(empty.any()) and _close(got, filled):
                raise _Wrong(
                    "gives a row with no allowed key equal weights 1/S: with a large negative "
                    "number like -1e9 every score in that row is the same, so softmax spreads "
                    "the weight over the masked keys. Such rows must be all zeros"
                )
            mistakes = [
                (
                    torch.softmax(scores, dim=-1) * mask,
                    "zeroes the masked weights after the softmax, so the rows no longer sum "
                    "to 1: fill the masked scores with -inf before the softmax",
                ),
                (
                    reference(scores, ~mask),
                    "attends to exactly the keys the mask hides: True = may attend "
                    "(SDPA polarity), so fill the scores where ~mask",
                ),
            ]
            if scores.shape[-1] == scores.shape[-2]:
                over_queries = softmax(scores.masked_fill(~mask, float("-inf")), dim=-2)
                mistakes.append(
                    (
                        over_queries,
                        "normalises over the queries (dim=-2): take the softmax over the keys, "
                        "dim=-1",
                    )
                )
            _diagnose(got, expected, mistakes, where)

    return _run(
        "check_masked_softmax",
        "masked_softmax",
        body,
        "weighs only the allowed keys, rows sum to 1, and a row with no allowed key is zeros.",
    )


# ------------------------------------------------------------- chapter 08: positional encoding


def check_sinusoidal_table(sinusoidal: Callable[[int, int], Tensor]) -> Verdict:
    """Check ``sinusoidal(max_len, embed_dim)``: the table of "Attention Is All You Need".

    Columns ``2i`` and ``2i + 1`` hold ``sin`` and ``cos`` of
    ``p / 10000^(2i / E)`` (interleaved), as
    :func:`attnbook.positional.sinusoidal_table`.

    Introduced in chapter 08 (positional encoding).

    Args:
        sinusoidal: your function.

    Returns:
        A :class:`Verdict`, true if it agrees on every test size.

    Example:
        >>> from attnbook.positional import sinusoidal_table
        >>> check_sinusoidal_table(sinusoidal_table)  # doctest: +ELLIPSIS
        Correct: check_sinusoidal_table — your sinusoidal ...
        Verdict(passed=True)
    """

    def variant(
        max_len: int, E: int, layout: str = "interleaved", step: int = 2, swap: bool = False
    ):
        p = torch.arange(max_len, dtype=torch.float64)[:, None]  # (P, 1)
        i = torch.arange(0, E, 2, dtype=torch.float64)  # (E/2,) = 2i
        angles = p * 10000.0 ** (-(i * step / 2) / E)  # (P, E/2)
        first, second = (angles.cos(), angles.sin()) if swap else (angles.sin(), angles.cos())
        if layout == "halves":
            return torch.cat((first, second), dim=-1)  # (P, E)
        return torch.stack((first, second), dim=-1).reshape(max_len, E)  # (P, E)

    def body() -> None:
        for max_len, E in ((10, 8), (50, 16), (3, 2)):
            expected = sinusoidal_table(max_len, E, dtype=torch.float64)
            got = _call("sinusoidal", sinusoidal, max_len, E)
            _tensor(got, (max_len, E), "(max_len, embed_dim)")
            _diagnose(
                got,
                expected,
                [
                    (
                        variant(max_len, E, swap=True),
                        "puts cos in the even columns and sin in the odd ones: column 2i is "
                        "sin(p·ω_i) (0 at p = 0), column 2i+1 is cos(p·ω_i)",
                    ),
                    (
                        variant(max_len, E, layout="halves"),
                        "puts all the sines first, then all the cosines (another common layout, "
                        "but not this book's): interleave them so columns 2i and 2i+1 are the "
                        "sin and cos of one frequency",
                    ),
                    (
                        variant(max_len, E, step=1),
                        "uses ω_i = 10000^(-i/E); the exponent counts columns, 2i/E, so "
                        "ω_i = 10000^(-2i/E)",
                    ),
                    (
                        variant(max_len, E, step=4),
                        "uses ω_i = 10000^(-4i/E): with i the pair index, the exponent is 2i/E "
                        "(if you loop over even columns c = 2i, use c/E)",
                    ),
                ],
                f"for max_len={max_len}, embed_dim={E}",
            )

    return _run(
        "check_sinusoidal_table",
        "sinusoidal",
        body,
        "matches the sinusoidal table: PE[p, 2i] = sin(p·ω_i), PE[p, 2i+1] = cos(p·ω_i).",
    )


def check_shift_matrix(shift_matrix: Callable[[int, int], Tensor]) -> Verdict:
    """Check ``shift_matrix(k, embed_dim)``: the matrix ``M`` with ``PE[p + k] = M @ PE[p]``.

    ``PE`` is :func:`attnbook.positional.sinusoidal_table` (base 10000). ``M``
    must not depend on ``p``: a block-diagonal matrix of 2 × 2 rotations.

    Introduced in chapter 08 (positional encoding).

    Args:
        shift_matrix: your function, returning ``(E, E)``.

    Returns:
        A :class:`Verdict`, true if ``M @ PE[p]`` equals ``PE[p + k]`` for every tested
        ``p``, ``k`` and ``E``.

    Example:
        >>> check_shift_matrix(lambda k, E: torch.eye(E))  # doctest: +ELLIPSIS
        Not yet: check_shift_matrix — your shift_matrix leaves the encodings where they are...
        Verdict(passed=False)
    """

    def body() -> None:
        for k, E in ((1, 8), (5, 16), (12, 4)):
            pe = sinusoidal_table(40, E, dtype=torch.float64)  # (40, E)
            got = _call("shift_matrix", shift_matrix, k, E)
            _tensor(got, (E, E), "(E, E)")
            M = got.detach().double()
            moved = pe[: 40 - k] @ M.T  # row p becomes M @ PE[p]
            if torch.allclose(moved, pe[k:], atol=1e-5):
                continue
            if torch.allclose(M, torch.eye(E, dtype=torch.float64)):
                raise _Wrong("leaves the encodings where they are: M is the identity")
            back = pe[k:] @ M.T
            if torch.allclose(back, pe[: 40 - k], atol=1e-5):
                raise _Wrong(
                    f"moves encodings {k} positions back, not forward: transpose it, or "
                    "flip the sign of the sines (a rotation by -kω is the inverse)"
                )
            raise _Wrong(
                f"does not map PE[p] to PE[p + {k}] for embed_dim={E} (largest difference "
                f"{float((moved - pe[k:]).abs().max()):.3g}); each pair (sin, cos) of "
                "frequency ω turns by the angle kω: [[cos, sin], [-sin, cos]] of kω"
            )

    return _run(
        "check_shift_matrix",
        "shift_matrix",
        body,
        "maps PE[p] to PE[p + k] for every p: one fixed rotation.",
    )


def _rope_variant(x: Tensor, sign: float = 1.0, start: int = 0, interleaved: bool = False):
    L, E = x.shape[-2:]
    inv = 10000.0 ** (-torch.arange(0, E, 2, dtype=torch.float64) / E)  # (E/2,)
    angles = torch.arange(start, start + L, dtype=torch.float64)[:, None] * inv * sign  # (L, E/2)
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    if interleaved:
        x1, x2 = x[..., 0::2], x[..., 1::2]  # (..., L, E/2) each
        out = torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)
        return out.flatten(-2)  # (..., L, E)
    x1, x2 = x.chunk(2, dim=-1)  # (..., L, E/2) each
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)  # (..., L, E)


def check_rope(rope: Callable[[Tensor], Tensor]) -> Verdict:
    """Check ``rope(x)``: rotary embedding of ``x`` ``(..., L, E)`` at positions ``0 .. L-1``.

    Feature ``i`` pairs with feature ``i + E/2`` (the "rotate half" layout of
    :class:`attnbook.positional.RotaryEmbedding`) and turns by the angle
    ``p · 10000^(-2i/E)``.

    Introduced in chapter 08 (positional encoding).

    Args:
        rope: your function.

    Returns:
        A :class:`Verdict`, true if it agrees with :class:`attnbook.positional.RotaryEmbedding`.

    Example:
        >>> from attnbook.positional import RotaryEmbedding
        >>> check_rope(lambda x: RotaryEmbedding(x.shape[-1])(x))  # doctest: +ELLIPSIS
        Correct: check_rope — your rope ...
        Verdict(passed=True)
    """

    def body() -> None:
        for shape in ((5, 8), (2, 3, 7, 4), (1, 12, 16)):
            x = torch.randn(*shape, generator=_generator(sum(shape)))
            expected = RotaryEmbedding(shape[-1], max_len=16)(x)
            got = _call("rope", rope, x.clone())
            _tensor(got, shape, "(the shape of x)")
            if _close(got, expected):
                continue
            if not torch.allclose(got.norm(dim=-1), x.norm(dim=-1), atol=1e-4):
                raise _Wrong(
                    "changes the length of the vectors: a rotation keeps |x|; "
                    "use x·cos + rotate_half(x)·sin with cos² + sin² = 1"
                )
            _diagnose(
                got,
                expected,
                [
                    (
                        _rope_variant(x, sign=-1.0),
                        "turns the pairs the wrong way (by -p·θ): with x1, x2 the two halves, "
                        "the result is (x1·cos - x2·sin, x1·sin + x2·cos)",
                    ),
                    (
                        _rope_variant(x, start=1),
                        "starts counting positions at 1: position 0 must stay as it is (angle 0)",
                    ),
                    (
                        _rope_variant(x, interleaved=True),
                        "pairs neighbouring features (2i, 2i+1), the layout of the RoFormer "
                        "paper; this book pairs feature i with i + E/2 (rotate half), as "
                        "attnbook.positional.RotaryEmbedding does",
                    ),
                ],
                f"for x of shape {shape}",
            )

    return _run(
        "check_rope", "rope", body, "rotates each pair (i, i + E/2) by p·θ_i, keeping lengths."
    )


def check_alibi_bias(alibi: Callable[[int, int], Tensor]) -> Verdict:
    """Check ``alibi(num_heads, L)``: ALiBi's causal bias ``(H, L, L)``.

    Entry ``[h, i, j]`` is ``-m_h · (i - j)`` for ``j <= i`` and ``-inf`` for
    ``j > i``, with the slopes ``m_h = 2^(-8(h+1)/H)`` of
    :func:`attnbook.positional.alibi_slopes` (tested with ``H`` a power of two).

    Introduced in chapter 08 (positional encoding).

    Args:
        alibi: your function.

    Returns:
        A :class:`Verdict`, true if it agrees with :func:`attnbook.positional.alibi_bias`.

    Example:
        >>> from attnbook.positional import alibi_bias
        >>> check_alibi_bias(lambda H, L: alibi_bias(H, L)[0])  # doctest: +ELLIPSIS
        Correct: check_alibi_bias — your alibi ...
        Verdict(passed=True)
    """

    def body() -> None:
        for H, L in ((4, 5), (8, 3), (2, 6)):
            expected = alibi_bias(H, L)[0].double()  # (H, L, L)
            got = _call("alibi", alibi, H, L)
            _tensor(got, (H, L, L), "(H, L, L)")
            got = got.detach().double()
            future = ~causal_mask(L)  # (L, L), True above the diagonal
            if not bool(torch.isneginf(got[:, future]).all()):
                raise _Wrong(
                    "does not hide the keys after the query: ALiBi's causal bias is -inf above "
                    "the diagonal (j > i), so the bias is also the causal mask"
                )
            past = got[:, ~future]
            if bool((past > 0).any()):
                raise _Wrong(
                    "has positive entries: ALiBi penalises distance, -m_h · (i - j) <= 0, "
                    "so far keys get lower scores"
                )
            if _close(got, expected):
                continue
            distance = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).double()  # (L, L)
            slopes_fit = (got[:, 1:, 0] / -distance[1:, 0]).mean(-1)  # (H,)
            mine = [round(s, 4) for s in slopes_fit.tolist()]
            right = [round(2.0 ** (-8 * (h + 1) / H), 4) for h in range(H)]
            raise _Wrong(f"uses slopes {mine} for H={H}; ALiBi's are 2^(-8(h+1)/H) = {right}")

    return _run(
        "check_alibi_bias",
        "alibi",
        body,
        "is -m_h·(i - j) on and below the diagonal, -inf above it.",
    )
