"""Self-checks for the exercises of Part IV (chapters 13 to 15).

Each ``check_<name>(reader_function)`` calls the reader's function on several
inputs, compares the answers with a reference, and prints either a success line
or what is wrong, in words that point at the likely slip (for example "your
memory grows linearly with seq_len: ..."). It returns ``True`` or ``False``.
An exception raised by the reader's function is reported, not re-raised.

Introduced in chapter 13 (applications).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.interpret import attention_rollout

from ._verdict import Verdict, report

__all__ = [
    "check_alignment",
    "check_attention_entropy",
    "check_attention_memory",
    "check_attention_rollout",
    "check_best_span",
    "check_causal_tiled_attention",
    "check_fit_exponent",
    "check_head_ablation",
    "check_online_softmax",
    "check_pointer_in_context",
    "check_top_keys",
]


class _Wrong(Exception):
    """A reader's answer is wrong; the message says how."""


def _run(name: str, fn: Callable[..., Any], body: Callable[[], None]) -> Verdict:
    """Run the checks in ``body``; print the verdict for ``name`` and return it."""
    if not callable(fn):
        return report(False, f"Not yet: {name}: expected a function, got {type(fn).__name__}")
    try:
        body()
    except _Wrong as wrong:
        return report(False, f"Not yet: {name}: {wrong}")
    return report(True, f"Correct: {name} passes every check.")


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Call the reader's function; an exception becomes a plain report."""
    try:
        return fn(*args)
    except Exception as err:  # the reader's code may raise anything; report it, don't crash
        raise _Wrong(f"your function raised {type(err).__name__}: {err}") from None


def _as_tensor(value: Any, what: str) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().cpu().to(torch.float64)
    try:
        return torch.as_tensor(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError):
        raise _Wrong(f"{what}: expected a tensor or an array, got {type(value).__name__}") from None


def _close(a: Tensor, b: Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b.to(a.dtype), atol=atol, rtol=rtol))


def _check_shape(got: Tensor, expected: Tensor, what: str) -> None:
    if got.shape != expected.shape:
        raise _Wrong(f"{what}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}")


# --- chapter 15: the cost of attention ---------------------------------------------------
def check_attention_memory(fn: Callable[[int, int, int, int], Any]) -> Verdict:
    """Check ``fn(seq_len, num_heads, batch_size, bytes_per_element)`` = bytes of one layer's weights.

    The attention weights of one layer hold ``batch_size * num_heads * seq_len**2``
    numbers of ``bytes_per_element`` bytes each.

    Introduced in chapter 15 (the cost of attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case is right.

    Example:
        >>> check_attention_memory(lambda n, h, b, e: b * h * n * n * e)
        Correct: attention_weight_bytes passes every check.
        Verdict(passed=True)
        >>> check_attention_memory(lambda n, h, b, e: b * h * n * e)
        Not yet: attention_weight_bytes: for seq_len=10000, num_heads=1,
            batch_size=1, bytes_per_element=4 you return 40000 bytes, expected
            400000000: your memory grows linearly with seq_len, but every query has
            a weight for every key: seq_len ** 2 weights per head.
        Verdict(passed=False)
    """

    def body() -> None:
        for n, h, b, e in ((10_000, 1, 1, 4), (1024, 8, 3, 2), (300, 12, 5, 4), (7, 5, 11, 1)):
            got = _call(fn, n, h, b, e)
            expected = b * h * n * n * e
            if isinstance(got, (int, float, np.integer, np.floating)) and got == expected:
                continue
            if isinstance(got, Tensor) and got.numel() == 1 and got.item() == expected:
                continue
            where = (
                f"for seq_len={n}, num_heads={h}, batch_size={b}, bytes_per_element={e} "
                f"you return {got!r} bytes, expected {expected}"
            )
            hints = {
                b * h * n * e: "your memory grows linearly with seq_len, but every query has a "
                "weight for every key: seq_len ** 2 weights per head",
                b * h * n * n: "that is the number of weights, not bytes: multiply by "
                "bytes_per_element",
                8 * expected: "that is bits, not bytes: bytes_per_element is already in bytes",
                b * n * n * e: "did you forget num_heads? Every head has its own weights",
                h * n * n * e: "did you forget batch_size? Every sequence has its own weights",
            }
            if not isinstance(got, (int, float, np.integer, np.floating, Tensor)):
                raise _Wrong(f"expected a number of bytes, got {type(got).__name__}")
            value = got.item() if isinstance(got, Tensor) else got
            for wrong, hint in hints.items():
                if value == wrong and wrong != expected:
                    raise _Wrong(f"{where}: {hint}.")
            raise _Wrong(f"{where}.")

    return _run("attention_weight_bytes", fn, body)


def check_fit_exponent(fn: Callable[[Any, Any], Any]) -> Verdict:
    """Check ``fn(lengths, seconds)`` returns the exponent ``p`` of ``seconds ~ c * lengths**p``.

    The reader's function is called with NumPy arrays of measurements that follow
    exact power laws (quadratic, linear, ``n^1.5``, with different constants).

    Introduced in chapter 15 (the cost of attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every exponent is recovered to 1e-6.

    Example:
        >>> check_fit_exponent(lambda n, t: np.polyfit(np.log(n), np.log(t), 1)[0])
        Correct: fit_exponent passes every check.
        Verdict(passed=True)
        >>> check_fit_exponent(lambda n, t: np.polyfit(np.log(t), np.log(n), 1)[0])
        Not yet: fit_exponent: for seconds = 2e-09 * n^2.0 you return 0.5, expected
            2.0: you fitted log n against log t (the axes are swapped): put log n on
            the x axis.
        Verdict(passed=False)
    """
    lengths = np.array([256.0, 512.0, 1024.0, 2048.0, 4096.0])

    def body() -> None:
        for c, p in ((2e-9, 2.0), (3e-6, 1.0), (5e-8, 1.5)):
            seconds = c * lengths**p
            got = _call(fn, lengths.copy(), seconds.copy())
            try:
                value = float(got)
            except (TypeError, ValueError):
                raise _Wrong(f"expected one number (the exponent), got {got!r}") from None
            if abs(value - p) < 1e-6:
                continue
            where = f"for seconds = {c:g} * n^{p} you return {value:.4g}, expected {p}"
            raw_slope = np.polyfit(lengths, seconds, 1)[0]
            if math.isclose(value, 1 / p, rel_tol=1e-6):
                raise _Wrong(
                    f"{where}: you fitted log n against log t (the axes are swapped): "
                    "put log n on the x axis."
                )
            if math.isclose(value, raw_slope, rel_tol=1e-6, abs_tol=1e-15):
                raise _Wrong(
                    f"{where}: a straight line through the raw numbers gives seconds per "
                    "token, not the exponent: fit log(seconds) against log(lengths)."
                )
            if math.isclose(value, math.log(c), rel_tol=1e-6) or math.isclose(
                value, math.log10(c), rel_tol=1e-6
            ):
                raise _Wrong(
                    f"{where}: that is the intercept (log c); np.polyfit returns "
                    "[slope, intercept], the exponent is the slope."
                )
            raise _Wrong(f"{where}.")

    return _run("fit_exponent", fn, body)


def check_online_softmax(fn: Callable[[Tensor, int], Any]) -> Verdict:
    """Check ``fn(scores, block_size)``: the softmax of a 1-D tensor, computed block by block.

    The cases include scores that grow from block to block (the running maximum
    changes, so the running sum must be rescaled) and scores in the hundreds (which
    overflow ``exp`` unless the maximum is subtracted).

    Introduced in chapter 15 (the cost of attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case matches ``torch.softmax``.

    Example:
        >>> check_online_softmax(lambda s, b: torch.softmax(s, dim=0))
        Correct: online_softmax passes every check.
        Verdict(passed=True)
        >>> check_online_softmax(lambda s, b: torch.exp(s) / torch.exp(s).sum())
        Not yet: online_softmax: for scores in the hundreds (block_size=3) your
            result holds inf or nan: exp overflows. Subtract the running maximum m
            before exponentiating: exp(s - m).
        Verdict(passed=False)
    """
    g = torch.Generator().manual_seed(0)
    cases = [
        ("10 random scores", torch.randn(10, generator=g), 3),
        ("increasing scores", torch.linspace(-2.0, 6.0, 9), 2),
        ("scores in the hundreds", torch.tensor([100.0, 300.0, 200.0, 500.0, 400.0]), 3),
        ("one block", torch.randn(6, generator=g), 6),
        ("blocks of one", torch.randn(7, generator=g), 1),
    ]

    def body() -> None:
        for label, scores, block in cases:
            got = _as_tensor(_call(fn, scores.clone(), block), "your result")
            expected = torch.softmax(scores.double(), dim=0)
            where = f"for {label} (block_size={block})"
            _check_shape(got, expected, where)
            if not bool(torch.isfinite(got).all()):
                raise _Wrong(
                    f"{where} your result holds inf or nan: exp overflows. Subtract the "
                    "running maximum m before exponentiating: exp(s - m)."
                )
            if _close(got, expected):
                continue
            total = got.sum().item()
            if not math.isclose(total, 1.0, abs_tol=1e-4):
                raise _Wrong(
                    f"{where} your probabilities sum to {total:.4f} instead of 1: when the "
                    "maximum grows from m to m_new, rescale the running sum: "
                    "ell = ell * exp(m - m_new) + sum(exp(block - m_new))."
                )
            raise _Wrong(f"{where} your result differs from torch.softmax: {got.tolist()}")

    return _run("online_softmax", fn, body)


def _causal_reference(q: Tensor, k: Tensor, v: Tensor, strict: bool = False) -> Tensor:
    """Causal attention of one head, (L, E) inputs; ``strict`` hides the diagonal too."""
    L, S = q.shape[0], k.shape[0]
    allowed = torch.ones(L, S, dtype=torch.bool).tril(-1 if strict else 0)
    return F.scaled_dot_product_attention(q[None], k[None], v[None], attn_mask=allowed)[0]


def _tiled_without_rescaling(q: Tensor, k: Tensor, v: Tensor, block: int) -> Tensor:
    """The classic slip: causal tiles whose running sums are never rescaled."""
    L, E = q.shape
    scores = q @ k.T / math.sqrt(E)  # (L, S), only to cut into tiles below
    scores = scores.masked_fill(torch.ones_like(scores, dtype=torch.bool).triu(1), -math.inf)
    m = torch.full((L, 1), -math.inf, dtype=q.dtype)
    ell = torch.zeros(L, 1, dtype=q.dtype)
    acc = torch.zeros(L, v.shape[-1], dtype=q.dtype)
    for j in range(0, k.shape[0], block):
        s = scores[:, j : j + block]  # (L, block)
        m = torch.maximum(m, s.amax(dim=-1, keepdim=True))
        e = torch.exp(s - m)
        ell = ell + e.sum(dim=-1, keepdim=True)
        acc = acc + e @ v[j : j + block]
    return acc / ell


def check_causal_tiled_attention(fn: Callable[[Tensor, Tensor, Tensor, int], Any]) -> Verdict:
    """Check ``fn(q, k, v, block)``: causal attention of one head, computed tile by tile.

    ``q, k, v`` have shapes ``(L, E)``, ``(L, E)``, ``(L, Ev)``; query ``i`` may see keys
    ``j <= i``. The result is compared with ``F.scaled_dot_product_attention(...,
    is_causal=True)`` for lengths that are and are not multiples of ``block``.

    Introduced in chapter 15 (the cost of attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case matches torch.

    Example:
        >>> def causal(q, k, v, block):
        ...     return F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
        >>> check_causal_tiled_attention(causal)
        Correct: causal tiled attention passes every check.
        Verdict(passed=True)
        >>> def no_mask(q, k, v, block):
        ...     return F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
        >>> check_causal_tiled_attention(no_mask)
        Not yet: causal tiled attention: for L=37, E=8, block=10 your output equals
            attention WITHOUT the causal mask: set the scores of keys j > i to -inf
            in every tile that crosses the diagonal.
        Verdict(passed=False)
    """
    g = torch.Generator().manual_seed(0)
    cases = [(37, 8, 5, 10), (64, 16, 16, 16), (50, 4, 3, 64), (9, 6, 6, 1)]

    def body() -> None:
        for L, E, Ev, block in cases:
            q, k = torch.randn(L, E, generator=g), torch.randn(L, E, generator=g)
            v = torch.randn(L, Ev, generator=g)
            got = _as_tensor(_call(fn, q.clone(), k.clone(), v.clone(), block), "your output")
            q64, k64, v64 = q.double(), k.double(), v.double()
            expected = _causal_reference(q64, k64, v64)
            where = f"for L={L}, E={E}, block={block}"
            _check_shape(got, expected, where)
            if _close(got[1:], _causal_reference(q64, k64, v64, strict=True)[1:]):
                raise _Wrong(
                    f"{where} your mask hides the diagonal too: query i may see key i "
                    "itself (keep j <= i, mask only j > i)."
                )
            if not bool(torch.isfinite(got).all()):
                raise _Wrong(
                    f"{where} your output holds inf or nan. A row whose keys so far are all "
                    "masked has m = -inf, and exp(-inf - (-inf)) is nan: start with the tile "
                    "that holds key 0 (every query sees it), and subtract the running maximum."
                )
            if _close(got, expected):
                continue
            full = F.scaled_dot_product_attention(q64[None], k64[None], v64[None])[0]
            if _close(got, full):
                raise _Wrong(
                    f"{where} your output equals attention WITHOUT the causal mask: set the "
                    "scores of keys j > i to -inf in every tile that crosses the diagonal."
                )
            if _close(got, _causal_reference(q64 * math.sqrt(E), k64, v64)):
                raise _Wrong(f"{where} scale the scores by 1 / sqrt(E) (E={E}).")
            if _close(got, _tiled_without_rescaling(q64, k64, v64, block)):
                raise _Wrong(
                    f"{where} when a tile raises the running maximum from m to m_new, "
                    "rescale what you summed so far: multiply ell and acc by exp(m - m_new)."
                )
            largest = (got - expected).abs().max().item()
            raise _Wrong(
                f"{where} your output differs from causal SDPA (largest difference {largest:.3g})."
            )

    return _run("causal tiled attention", fn, body)


# --- chapter 14: reading attention ---------------------------------------------------------
def _row_normalised(weights: Tensor) -> Tensor:
    return weights / weights.sum(dim=-1, keepdim=True)


def _rollout(
    attentions: Sequence[Tensor], residual: bool = True, reverse: bool = False, mean: bool = True
) -> Tensor:
    """Rollout with classic slips switchable, for the diagnosis.

    With the defaults it equals :func:`attnbook.interpret.attention_rollout`, the
    reference the check compares with.
    """
    steps = []
    for weights in attentions:
        mixed = weights.mean(dim=0) if mean else weights.sum(dim=0)  # (L, L)
        if residual:
            mixed = _row_normalised(0.5 * mixed + 0.5 * torch.eye(mixed.shape[-1]))
        steps.append(mixed)
    rollout = steps[0]
    for mixed in steps[1:]:
        rollout = rollout @ mixed if reverse else mixed @ rollout
    return rollout


def _random_attentions(g: torch.Generator, layers: int, heads: int, L: int) -> list[Tensor]:
    return [
        torch.softmax(2 * torch.randn(heads, L, L, generator=g, dtype=torch.float64), dim=-1)
        for _ in range(layers)
    ]


def check_attention_rollout(fn: Callable[[list[Tensor]], Any]) -> Verdict:
    """Check ``fn(attentions)``: attention rollout (Abnar & Zuidema, 2020).

    ``attentions`` is a list of per-layer weights ``(H, L, L)``, first layer first. The
    expected result averages the heads, adds the residual as ``0.5 * A + 0.5 * I``,
    renormalises the rows and multiplies the layers with the first on the right:
    ``R = Ã_last ... Ã_0``.

    Introduced in chapter 14 (reading attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case matches the reference.

    Example:
        >>> def rollout(attentions):
        ...     r = None
        ...     for w in attentions:
        ...         a = 0.5 * w.mean(0) + 0.5 * torch.eye(w.shape[-1])
        ...         r = a if r is None else a @ r
        ...     return r
        >>> check_attention_rollout(rollout)
        Correct: attention rollout passes every check.
        Verdict(passed=True)
    """
    g = torch.Generator().manual_seed(0)
    cases = [(3, 4, 6), (1, 2, 5), (4, 1, 7)]

    def body() -> None:
        for layers, heads, L in cases:
            attentions = _random_attentions(g, layers, heads, L)
            got = _as_tensor(_call(fn, [a.clone() for a in attentions]), "your rollout")
            expected = attention_rollout(attentions)  # the library's reference
            where = f"for {layers} layer(s) of {heads} head(s), L={L}"
            _check_shape(got, expected, where)
            if _close(got, expected):
                continue
            if _close(got, _rollout(attentions, residual=False)):
                raise _Wrong(
                    f"{where} you left out the residual connection: use 0.5 * A + 0.5 * I "
                    "(heads averaged), rows renormalised, for every layer."
                )
            if layers > 1 and _close(got, _rollout(attentions, reverse=True)):
                raise _Wrong(
                    f"{where} the layers are multiplied in the wrong order: the first layer "
                    "acts first, so it stands on the right: R = A_last @ ... @ A_0."
                )
            if _close(got, _rollout(attentions[-1:])):
                raise _Wrong(f"{where} you return the last layer only: multiply every layer.")
            if _close(got, _rollout(attentions, mean=False)):
                raise _Wrong(
                    f"{where} you summed the heads: average them (mean over the head axis), "
                    "so that the attention part and the identity weigh half each."
                )
            sums = got.sum(dim=-1)
            if not _close(sums, torch.ones_like(sums)):
                raise _Wrong(
                    f"{where} the rows of your rollout sum to {sums.min().item():.3f}..."
                    f"{sums.max().item():.3f} instead of 1: renormalise the rows of each "
                    "layer's 0.5 * A + 0.5 * I (heads averaged with the mean, not the sum)."
                )
            raise _Wrong(f"{where} your rollout differs from the reference.")

    return _run("attention rollout", fn, body)


def check_top_keys(fn: Callable[[Tensor, list[str], int, int], Any]) -> Verdict:
    """Check ``fn(weights, key_tokens, query_index, k)``: the ``k`` keys a query attends to most.

    ``weights`` is one head's ``(L, S)`` matrix (rows are queries); the answer is a list
    of ``k`` key tokens, largest weight first.

    Introduced in chapter 14 (reading attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case lists the right tokens in the right order.

    Example:
        >>> check_top_keys(lambda w, t, i, k: [t[j] for j in w[i].argsort(descending=True)[:k]])
        Correct: top_keys passes every check.
        Verdict(passed=True)
    """
    g = torch.Generator().manual_seed(0)
    words = "The cat sat on the mat because it was comfortable .".split()

    def body() -> None:
        for L, S, query_index, k in ((11, 11, 7, 3), (5, 11, 2, 4), (11, 11, 0, 1)):
            weights = torch.softmax(3 * torch.randn(L, S, generator=g), dim=-1)
            keys = words[:S]
            got = _call(fn, weights.clone(), list(keys), query_index, k)
            if isinstance(got, Tensor):
                raise _Wrong("return the key tokens (strings), not a tensor of positions.")
            if not isinstance(got, (list, tuple)) or not all(isinstance(t, str) for t in got):
                raise _Wrong(f"expected a list of {k} token strings, got {got!r}")
            expected = [keys[j] for j in weights[query_index].argsort(descending=True)[:k]]
            where = f"for query {query_index} ({words[query_index]!r}), k={k}"
            if list(got) == expected:
                continue
            if len(got) != k:
                raise _Wrong(f"{where} you return {len(got)} tokens, expected k={k}.")
            if query_index < S and list(got) == [
                keys[j] for j in weights[:, query_index].argsort(descending=True)[:k]
            ]:
                raise _Wrong(
                    f"{where} you read a column (who attends TO this token); the row "
                    "weights[query_index] says where the query looks."
                )
            if list(got) == [keys[j] for j in weights[query_index].argsort()[:k]]:
                raise _Wrong(f"{where} you return the smallest weights: sort in descending order.")
            if sorted(got) == sorted(expected):
                raise _Wrong(f"{where} right tokens, wrong order: largest weight first.")
            raise _Wrong(f"{where} you return {list(got)}, expected {expected}.")

    return _run("top_keys", fn, body)


def check_head_ablation(fn: Callable[[Tensor, int, int], Any]) -> Verdict:
    """Check ``fn(x, head, num_heads)``: zero one head's features in concatenated head outputs.

    ``x`` has shape ``(N, L, num_heads * d_h)`` with head ``h`` in features
    ``h * d_h .. (h + 1) * d_h - 1`` (the layout before ``out_proj``). The answer keeps
    every other feature and leaves ``x`` itself unchanged.

    Introduced in chapter 14 (reading attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case is right.

    Example:
        >>> def ablate(x, head, num_heads):
        ...     d = x.shape[-1] // num_heads
        ...     return torch.cat([x[..., : head * d], 0 * x[..., head * d : (head + 1) * d],
        ...                       x[..., (head + 1) * d :]], dim=-1)
        >>> check_head_ablation(ablate)
        Correct: head ablation passes every check.
        Verdict(passed=True)
    """
    g = torch.Generator().manual_seed(0)

    def body() -> None:
        for N, L, H, d_h, head in ((2, 5, 4, 3, 1), (1, 3, 2, 4, 1), (3, 2, 8, 2, 0)):
            x = torch.randn(N, L, H * d_h, generator=g)
            original = x.clone()
            got = _as_tensor(_call(fn, x, head, H), "your result")
            if not torch.equal(x, original):
                raise _Wrong(
                    "you changed the input tensor in place: clone it first, so the intact "
                    "head outputs stay available."
                )
            expected = original.clone().double()
            expected[..., head * d_h : (head + 1) * d_h] = 0
            where = f"for num_heads={H}, d_h={d_h}, head={head}"
            _check_shape(got, expected, where)
            if torch.equal(got, expected):
                continue
            interleaved = original.clone().double()
            interleaved[..., head::H] = 0
            if torch.equal(got, interleaved):
                raise _Wrong(
                    f"{where} you zeroed every num_heads-th feature, but the heads are not "
                    "interleaved: head h owns the contiguous block h * d_h .. (h + 1) * d_h - 1."
                )
            if bool((got == 0).all()):
                raise _Wrong(f"{where} you zeroed every head; remove only head {head}.")
            by_position = original.clone().double()
            by_position[:, head] = 0
            if torch.equal(got, by_position):
                raise _Wrong(
                    f"{where} you zeroed a position (a token), not a head: the heads sit in "
                    "the last dimension."
                )
            zeroed = (got == 0).all(dim=(0, 1)).nonzero().flatten().tolist()
            raise _Wrong(
                f"{where} you zeroed features {zeroed}, expected "
                f"{list(range(head * d_h, (head + 1) * d_h))}."
            )

    return _run("head ablation", fn, body)


def check_attention_entropy(fn: Callable[[Tensor], Any]) -> Verdict:
    """Check ``fn(weights)``: the entropy in nats of every row (last axis), ``0 ln 0 = 0``.

    Introduced in chapter 14 (reading attention).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case matches ``-(w * ln w).sum(-1)``.

    Example:
        >>> check_attention_entropy(lambda w: -torch.special.xlogy(w, w).sum(-1))
        Correct: attention_entropy passes every check.
        Verdict(passed=True)
        >>> check_attention_entropy(lambda w: (w * w.log()).sum(-1))
        Not yet: attention_entropy: for random weights (2, 3, 5) your entropies are
            negative: entropy is MINUS the sum of a * ln(a).
        Verdict(passed=False)
    """
    g = torch.Generator().manual_seed(0)
    one_hot = torch.eye(4)  # every row certain: entropy 0, and 0 * ln 0 must count as 0
    cases = [
        ("random weights (2, 3, 5)", torch.softmax(torch.randn(2, 3, 5, generator=g), dim=-1)),
        ("uniform weights (4, 8)", torch.full((4, 8), 1 / 8)),
        ("one-hot rows (4, 4)", one_hot),
    ]

    def body() -> None:
        for label, weights in cases:
            got = _as_tensor(_call(fn, weights.clone()), "your entropies")
            w = weights.double()
            expected = -torch.special.xlogy(w, w).sum(dim=-1)
            where = f"for {label}"
            if got.shape == w.shape:
                raise _Wrong(
                    f"{where} you return one number per weight: sum over the last axis "
                    "(one entropy per row)."
                )
            _check_shape(got, expected, where)
            if _close(got, expected):
                continue
            if bool(torch.isnan(got).any()):
                raise _Wrong(
                    f"{where} you get nan where a weight is 0: 0 * ln(0) should count as 0 "
                    "(use torch.special.xlogy(w, w), or mask the zeros)."
                )
            if _close(got, -expected):
                raise _Wrong(
                    f"{where} your entropies are negative: entropy is MINUS the sum of a * ln(a)."
                )
            if _close(got, expected / math.log(2)):
                raise _Wrong(f"{where} you used log base 2 (bits): use the natural log (nats).")
            if _close(got, expected / math.log(10)):
                raise _Wrong(f"{where} you used log base 10: use the natural log (nats).")
            raise _Wrong(f"{where} your entropies differ from -(w * ln w).sum(-1).")

    return _run("attention_entropy", fn, body)


# --- chapter 13: applications ----------------------------------------------------------
def _as_index_list(value: Any, what: str) -> list[int]:
    if isinstance(value, Tensor):
        if value.is_floating_point():
            raise _Wrong(f"{what}: expected positions (integers), got a float tensor")
        return [int(x) for x in value.flatten().tolist()]
    if isinstance(value, (list, tuple)) and all(
        isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in value
    ):
        return [int(x) for x in value]
    raise _Wrong(f"{what}: expected a list or tensor of positions, got {value!r}")


def _best_span(start: Tensor, end: Tensor, max_len: int | None) -> tuple[int, int]:
    L = start.shape[0]
    scores = start[:, None] + end[None, :]  # (L, L): row = start, column = end
    allowed = torch.ones(L, L, dtype=torch.bool).triu()
    if max_len is not None:
        allowed &= ~torch.ones(L, L, dtype=torch.bool).triu(max_len)
    best = int(scores.masked_fill(~allowed, -math.inf).argmax())
    return divmod(best, L)


def check_best_span(fn: Callable[[Tensor, Tensor, int], Any]) -> Verdict:
    """Check ``fn(start_logits, end_logits, max_len)``: the best answer span ``(start, end)``.

    As in extractive question answering (SQuAD-style), a span scores
    ``start_logits[start] + end_logits[end]``; it must have ``start <= end`` and at most
    ``max_len`` tokens (``end - start + 1 <= max_len``); ``end`` is inclusive.

    Introduced in chapter 13 (applications).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case returns the best allowed span.

    Example:
        >>> def span(s, e, max_len):
        ...     best = max((s[i] + e[j], i, j) for i in range(len(s))
        ...                for j in range(i, min(len(s), i + max_len)))
        ...     return best[1], best[2]
        >>> check_best_span(span)
        Correct: best_span passes every check.
        Verdict(passed=True)
        >>> check_best_span(lambda s, e, m: (int(s.argmax()), int(e.argmax())))
        Not yet: best_span: for case 2 you return (5, 1): the end comes before the
            start. Score only pairs with start <= end.
        Verdict(passed=False)
    """
    cases = [
        (
            torch.tensor([0.0, 3.0, 0.5, 0.2, 0.1, 0.0]),
            torch.tensor([0.0, 0.1, 0.2, 2.5, 0.0, 0.1]),
            4,
        ),
        (
            torch.tensor([0.0, 2.0, 0.0, 0.0, 0.0, 3.0]),
            torch.tensor([0.0, 3.0, 0.0, 1.0, 0.0, 0.0]),
            4,
        ),
        (
            torch.tensor([4.0, 0.0, 0.0, 0.0, 0.0, 0.0, 3.0]),
            torch.tensor([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 4.0]),
            3,
        ),
        (torch.tensor([0.0, 1.0, 0.0]), torch.tensor([0.0, 2.0, 0.0]), 1),
    ]

    def body() -> None:
        for number, (start, end, max_len) in enumerate(cases, 1):
            got = _call(fn, start.clone(), end.clone(), max_len)
            try:
                s, e = (int(x) for x in got)
            except (TypeError, ValueError):
                raise _Wrong(f"expected a pair (start, end) of positions, got {got!r}") from None
            expected = _best_span(start, end, max_len)
            where = f"for case {number} you return ({s}, {e})"
            if (s, e) == expected:
                continue
            if e < s:
                raise _Wrong(
                    f"{where}: the end comes before the start. Score only pairs with start <= end."
                )
            if (s, e - 1) == expected:
                raise _Wrong(
                    f"{where}, expected {expected}: the end is inclusive (the last token of the "
                    "answer), not one past it."
                )
            if e - s + 1 > max_len:
                raise _Wrong(
                    f"{where}: that span has {e - s + 1} tokens, more than max_len={max_len}."
                )
            raise _Wrong(
                f"{where}, expected {expected}: maximise start_logits[start] + "
                "end_logits[end] over the allowed pairs."
            )

    return _run("best_span", fn, body)


def check_pointer_in_context(fn: Callable[[Tensor, Tensor], Any]) -> Verdict:
    """Check ``fn(logits, context_mask)``: the pointed position of each row, inside the context.

    ``logits`` ``(N, L)`` score every position of ``question + story``; ``context_mask``
    ``(N, L)`` is True at the story's tokens. The answer is, for every row, the story
    position with the highest score: a ``(N,)`` tensor or list of positions.

    Introduced in chapter 13 (applications).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case is right.

    Example:
        >>> check_pointer_in_context(lambda x, m: x.masked_fill(~m, -math.inf).argmax(-1))
        Correct: pointer_in_context passes every check.
        Verdict(passed=True)
    """
    g = torch.Generator().manual_seed(0)

    def body() -> None:
        for N, L, question in ((3, 10, 4), (5, 7, 2), (1, 6, 3)):
            logits = torch.randn(N, L, generator=g)
            logits[:, 0] = 5.0  # the question's first word scores highest of all
            mask = torch.zeros(N, L, dtype=torch.bool)
            mask[:, question:] = True
            mask[0, -1] = False  # padding after the story
            logits[0, -1] = 6.0
            if N > 1:
                logits[1, question + 1] = 7.0  # here the best of all is in the story
            got = _call(fn, logits.clone(), mask.clone())
            expected = logits.masked_fill(~mask, -math.inf).argmax(-1).tolist()
            if isinstance(got, Tensor) and got.shape == (L,):
                raise _Wrong("you return one position per column: take the argmax over dim=-1.")
            positions = _as_index_list(got, "your positions")
            where = f"for {N} rows of {L} positions (story from position {question})"
            if positions == expected:
                continue
            if len(positions) != N:
                raise _Wrong(
                    f"{where} you return {len(positions)} positions, expected one per row."
                )
            if positions == logits.argmax(-1).tolist():
                raise _Wrong(
                    f"{where} you point at question words or padding: set the scores outside "
                    "the context to -inf before the argmax."
                )
            if positions == logits.masked_fill(mask, -math.inf).argmax(-1).tolist():
                raise _Wrong(
                    f"{where} your mask is inverted: context_mask is True at the story, "
                    "the positions you may point at."
                )
            raise _Wrong(f"{where} you return {positions}, expected {expected}.")

    return _run("pointer_in_context", fn, body)


def check_alignment(fn: Callable[[Tensor], Any]) -> Verdict:
    """Check ``fn(cross_weights)``: for every target position, the source position it reads most.

    ``cross_weights`` has shape ``(H, T, S)``: one head per row block, target positions
    as queries, source positions as keys. Average the heads, then take, for each of
    the ``T`` target positions, the source position with the largest weight.

    Introduced in chapter 13 (applications).

    Args:
        fn: The reader's function.

    Returns:
        A :class:`Verdict`, true if every case is right.

    Example:
        >>> check_alignment(lambda w: w.mean(0).argmax(-1))
        Correct: alignment passes every check.
        Verdict(passed=True)
    """
    g = torch.Generator().manual_seed(0)

    def body() -> None:
        for H, T, S in ((4, 5, 7), (2, 6, 6), (3, 4, 9)):
            weights = torch.softmax(2 * torch.randn(H, T, S, generator=g), dim=-1)
            weights[0, 0] = 0.0  # head 0 alone disagrees with the average at target 0
            weights[0, 0, -1] = 1.0
            got = _call(fn, weights.clone())
            mean = weights.mean(0)
            expected = mean.argmax(-1).tolist()
            where = f"for {H} heads, T={T}, S={S}"
            if isinstance(got, Tensor) and got.is_floating_point():
                raise _Wrong(f"{where} you return weights: return positions (argmax), not the max.")
            positions = _as_index_list(got, "your alignment")
            if positions == expected:
                continue
            if positions == mean.argmax(0).tolist():
                raise _Wrong(
                    f"{where} you took the argmax over the target axis: each target position "
                    "(a row, dim -2) picks a source position (a column, dim -1)."
                )
            if (
                positions == weights[0].argmax(-1).tolist()
                or positions == weights[-1].argmax(-1).tolist()
            ):
                raise _Wrong(f"{where} you read one head only: average the {H} heads first.")
            if positions == weights.amax(0).argmax(-1).tolist():
                raise _Wrong(
                    f"{where} you took the largest weight of any head: average the heads "
                    "(mean over dim 0) instead."
                )
            if len(positions) != T:
                raise _Wrong(f"{where} you return {len(positions)} positions, expected T={T}.")
            raise _Wrong(f"{where} you return {positions}, expected {expected}.")

    return _run("alignment", fn, body)
