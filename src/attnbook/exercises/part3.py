"""Self-checks for the exercises of Part III: the block, encoder-only, decoder-only, encoder–decoder.

Each ``check_<name>(your_function)`` calls your function on a few inputs
(small random tensors, tiny untrained models), compares what it returns with
``attnbook``'s reference, prints one line — ``Correct: ...`` or
``Not yet: ...`` followed by *what* is wrong, naming the usual mistake when it
recognises one — and returns ``True`` or ``False``. Errors raised by your
code are reported, never re-raised.

Example:
    >>> import torch.nn.functional as F
    >>> check_layer_norm(lambda x, weight, bias, eps=1e-5: F.layer_norm(
    ...     x, x.shape[-1:], weight, bias, eps))
    Correct: check_layer_norm — your layer norm matches
        torch.nn.functional.layer_norm on all 4 inputs.
    Verdict(passed=True)

Introduced in chapter 09 (the transformer block).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from attnbook.blocks import EncoderLayer, FeedForward
from attnbook.models import DecoderOnly, DecoderOnlyConfig, EncoderDecoder, EncoderDecoderConfig

from ._verdict import Verdict, report

__all__ = [
    "check_antecedent_hits",
    "check_exact_match",
    "check_feed_forward",
    "check_greedy_generate",
    "check_greedy_translate",
    "check_inverted_dropout",
    "check_layer_norm",
    "check_mask_tokens",
    "check_masked_mean_pooling",
    "check_next_token_loss",
    "check_post_norm_block",
    "check_teacher_forcing_input",
    "check_top_k_filter",
]

#: The label that ``torch.nn.functional.cross_entropy`` ignores by default.
IGNORE_INDEX = -100


# --------------------------------------------------------------------------- machinery
class _Wrong(Exception):
    """Raised inside a check with the plain-words explanation of what is wrong."""


def _run(name: str, body: Callable[[], None], success: str) -> Verdict:
    """Run ``body``; print the success line or what went wrong; return the verdict."""
    try:
        body()
    except _Wrong as wrong:
        return report(False, f"Not yet: {name} — {wrong}")
    return report(True, f"Correct: {name} — {success}")


def _describe(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    if isinstance(value, torch.nn.Module):
        return type(value).__name__
    return repr(value)


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the reader's function on copies; report what it raises or changes in place."""
    if not callable(fn):
        raise TypeError(f"fn: expected your function, got {type(fn).__name__} ({fn!r})")
    copies = [a.clone() if isinstance(a, Tensor) else a for a in args]
    try:
        result = fn(*copies, **kwargs)
    except Exception as error:  # noqa: BLE001 - whatever the reader's code raises is the verdict
        shown = ", ".join(_describe(a) for a in args)
        raise _Wrong(
            f"your function raised {type(error).__name__}: {error} (called with {shown})"
        ) from None
    for i, (copy, original) in enumerate(zip(copies, args, strict=True)):
        if isinstance(copy, Tensor) and not torch.equal(copy, original):
            raise _Wrong(
                f"your function changed its argument number {i + 1} in place: "
                "compute on a copy (e.g. x = x.clone() first, or out-of-place operations)"
            )
    return result


def _tensor(got: Any, shape: Sequence[int], what: str) -> Tensor:
    """The reader's result as a detached float64 tensor of ``shape``, or a verdict."""
    if not isinstance(got, Tensor):
        raise _Wrong(f"your function returned {type(got).__name__}, expected a tensor {what}")
    if tuple(got.shape) != tuple(shape):
        raise _Wrong(f"your result has shape {tuple(got.shape)}, expected {tuple(shape)} {what}")
    return got.detach().to("cpu", torch.float64)


def _close(a: Tensor, b: Tensor, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    if a.shape != b.shape:
        return False
    a, b = a.detach().to("cpu", torch.float64), b.detach().to("cpu", torch.float64)
    return bool(torch.allclose(a, b, atol=atol, rtol=rtol))


def _compare(
    got: Tensor,
    expected: Tensor,
    mistakes: Sequence[tuple[Callable[[], Tensor], str]],
    where: str,
    atol: float = 1e-5,
) -> None:
    """Pass if ``got`` matches; else name the first mistake it equals, or show the gap."""
    if _close(got, expected, atol):
        return
    if not bool(torch.isfinite(got).all()):
        raise _Wrong(f"your result contains NaN or infinity {where}")
    for compute, hint in mistakes:
        try:
            wrong = compute()
        except Exception:  # noqa: BLE001, S112 - a mistake that cannot run on this input does not apply
            continue
        if bool(torch.isfinite(wrong).all()) and _close(got, wrong, atol):
            raise _Wrong(hint)
    gap = float((got.double() - expected.double()).abs().max())
    raise _Wrong(
        f"your result differs from the expected one {where} (largest difference {gap:.3g}); "
        "compare your steps with the chapter's"
    )


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(seed: int, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=_generator(seed))


# ------------------------------------------------------------ chapter 09: the transformer block
def _batch_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """Each feature normalised over every position of the batch (all dims but the last)."""
    dims = tuple(range(x.dim() - 1))
    mean = x.mean(dims, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dims, correction=0, keepdim=True) + eps) * weight + bias


def check_layer_norm(fn: Callable[..., Tensor]) -> Verdict:
    """Check ``fn(x, weight, bias, eps=1e-5)``: layer normalisation over the last dimension.

    Each position's ``E`` features are shifted to mean 0 and scaled to
    variance 1 (the *biased* variance, dividing by ``E``), with ``eps`` inside
    the square root; then multiplied by ``weight`` and shifted by ``bias``.

    Introduced in chapter 09 (the transformer block).

    Args:
        fn: your function; ``x`` is ``(..., E)``, ``weight`` and ``bias`` are ``(E,)``.

    Returns:
        A :class:`Verdict`, true if ``fn`` matches ``torch.nn.functional.layer_norm`` on
        every input.

    Example:
        >>> def no_affine(x, weight, bias, eps=1e-5):
        ...     mean = x.mean(-1, keepdim=True)
        ...     return (x - mean) / torch.sqrt(x.var(-1, correction=0, keepdim=True) + eps)
        >>> check_layer_norm(no_affine)  # doctest: +ELLIPSIS
        Not yet: check_layer_norm — you left out the learned scale and shift...
        Verdict(passed=False)
    """
    name = "check_layer_norm"

    def body() -> None:
        constant = torch.full((2, 6), 3.0)  # a row with variance 0: only eps keeps it finite
        constant[1] = _randn(5, 6)
        cases = [
            ("x of shape (2, 3, 8)", _randn(0, 2, 3, 8) * 3 + 1, _randn(1, 8), _randn(2, 8), 1e-5),
            ("x of shape (4, 16), eps=1e-3", _randn(3, 4, 16), _randn(4, 16), _randn(5, 16), 1e-3),
            ("x with a row of equal values", constant, _randn(6, 6), _randn(7, 6), 1e-5),
            ("x of shape (1, 5, 4)", _randn(8, 1, 5, 4) - 2, torch.ones(4), torch.zeros(4), 1e-5),
        ]
        for label, x, weight, bias, eps in cases:
            where = f"for {label}"
            got = _tensor(_call(fn, x, weight, bias, eps=eps), x.shape, "of the shape of x")
            expected = F.layer_norm(x, x.shape[-1:], weight, bias, eps)
            if not bool(torch.isfinite(got).all()):
                raise _Wrong(
                    f"your result has NaN or infinity {where}: a row whose values are all "
                    "equal has variance 0, so add eps inside the square root, sqrt(var + eps)"
                )
            mean = x.mean(-1, keepdim=True)
            var = x.var(-1, correction=0, keepdim=True)
            mistakes = [
                (
                    lambda x=x, w=weight, b=bias, e=eps, m=mean: (
                        (x - m) / torch.sqrt(x.var(-1, keepdim=True) + e) * w + b
                    ),
                    "you used the unbiased variance (torch.var divides by E - 1 by default); "
                    "layer norm divides by E: use x.var(dim=-1, correction=0)",
                ),
                (
                    lambda x=x, e=eps, m=mean, v=var: (x - m) / torch.sqrt(v + e),
                    "you left out the learned scale and shift: multiply by weight and add "
                    "bias after normalising",
                ),
                (
                    lambda x=x, w=weight, b=bias, e=eps: (
                        (x - x.mean(0, keepdim=True))
                        / torch.sqrt(x.var(0, correction=0, keepdim=True) + e)
                        * w
                        + b
                    ),
                    "you normalised over the batch (dim 0), which is batch norm; layer norm "
                    "takes the mean and variance over each position's features, dim=-1",
                ),
                (
                    partial(_batch_norm, x, weight, bias, eps),
                    "you normalised each feature over all positions of the batch, which is "
                    "batch norm; layer norm takes the mean and variance over each position's "
                    "features, dim=-1",
                ),
                (
                    lambda x=x, w=weight, b=bias, e=eps, m=mean, v=var: (x - m) / (v + e) * w + b,
                    "you divided by the variance; divide by the standard deviation, "
                    "sqrt(var + eps)",
                ),
                (
                    lambda x=x, w=weight, b=bias, m=mean, v=var: (x - m) / torch.sqrt(v) * w + b,
                    "you left out eps: divide by sqrt(var + eps), which also keeps a row of "
                    "equal values (variance 0) finite",
                ),
                (
                    lambda x=x, w=weight, b=bias, e=eps, v=var: x / torch.sqrt(v + e) * w + b,
                    "you did not subtract the mean before dividing",
                ),
            ]
            _compare(got, expected, mistakes, where)

    return _run(
        name, body, "your layer norm matches torch.nn.functional.layer_norm on all 4 inputs."
    )


def check_feed_forward(fn: Callable[[Tensor, FeedForward], Tensor]) -> Verdict:
    """Check ``fn(x, ff)``: the position-wise feed-forward network, with ``ff``'s weights.

    The result must be ``ff.linear2(act(ff.linear1(x)))`` where ``act`` is
    the function named by ``ff.activation`` (``"gelu"`` or ``"relu"``),
    written with the weights and biases (``ff.linear1.weight``, ...) rather
    than by calling ``ff`` itself.

    Introduced in chapter 09 (the transformer block).

    Args:
        fn: your function; ``x`` is ``(N, L, E)``, ``ff`` an
            :class:`attnbook.blocks.FeedForward`.

    Returns:
        A :class:`Verdict`, true if ``fn`` matches ``ff(x)`` on every input.

    Example:
        >>> def two_maps(x, ff):
        ...     hidden = x @ ff.linear1.weight.T + ff.linear1.bias
        ...     return hidden @ ff.linear2.weight.T + ff.linear2.bias
        >>> check_feed_forward(two_maps)  # doctest: +ELLIPSIS
        Not yet: check_feed_forward — there is no nonlinearity between the two linear maps...
        Verdict(passed=False)
    """
    name = "check_feed_forward"
    activations = {"gelu": F.gelu, "relu": F.relu}

    def body() -> None:
        for seed, (E, hidden, activation) in enumerate(((8, 32, "gelu"), (6, 10, "relu"))):
            torch.manual_seed(seed)
            ff = FeedForward(E, hidden, activation=activation).eval()
            with torch.no_grad():  # non-zero biases, so forgetting one shows
                ff.linear1.bias.normal_()
                ff.linear2.bias.normal_()
            x = _randn(10 + seed, 2, 5, E)
            where = f"for x of shape {tuple(x.shape)} and ff.activation={activation!r}"
            with torch.no_grad():
                got = _tensor(_call(fn, x, ff), x.shape, "of the shape of x")
                expected = ff(x)
            l1, l2 = ff.linear1, ff.linear2
            act = activations[activation]
            other = activations["relu" if activation == "gelu" else "gelu"]
            mistakes = [
                (
                    lambda x=x, l1=l1, l2=l2: l2(l1(x)),
                    "there is no nonlinearity between the two linear maps: without it the "
                    "two maps collapse into a single linear map",
                ),
                (
                    lambda x=x, l1=l1, l2=l2, other=other: l2(other(l1(x))),
                    f"you used the wrong activation: ff.activation is {activation!r}, so use "
                    f"F.{activation}",
                ),
                (
                    lambda x=x, l1=l1, l2=l2, act=act: act(l2(l1(x))),
                    "you applied the activation after the second linear map; it belongs "
                    "between the two (on the hidden layer)",
                ),
                (
                    lambda x=x, l1=l1, l2=l2, act=act: act(x @ l1.weight.T) @ l2.weight.T,
                    "you left out the biases: add ff.linear1.bias and ff.linear2.bias",
                ),
            ]
            with torch.no_grad():
                _compare(got, expected, mistakes, where)

    return _run(name, body, "your feed-forward network matches ff(x) on both inputs.")


def _attend(x: Tensor, layer: EncoderLayer) -> Tensor:
    return layer.self_attn(x, x, x)[0]


def _post_norm(x: Tensor, layer: EncoderLayer) -> Tensor:
    h = layer.norm1(x + _attend(x, layer))
    return layer.norm2(h + layer.ff(h))


def _pre_norm(x: Tensor, layer: EncoderLayer) -> Tensor:
    x = x + _attend(layer.norm1(x), layer)
    return x + layer.ff(layer.norm2(x))


def _residual_outside(x: Tensor, layer: EncoderLayer) -> Tensor:
    h = layer.norm1(_attend(x, layer)) + x
    return layer.norm2(layer.ff(h)) + h


def _no_residual(x: Tensor, layer: EncoderLayer) -> Tensor:
    h = layer.norm1(_attend(x, layer))
    return layer.norm2(layer.ff(h))


def _no_second_norm(x: Tensor, layer: EncoderLayer) -> Tensor:
    h = layer.norm1(x + _attend(x, layer))
    return h + layer.ff(h)


def check_post_norm_block(fn: Callable[[Tensor, EncoderLayer], Tensor]) -> Verdict:
    """Check ``fn(x, layer)``: the post-norm encoder block of the 2017 transformer.

    ``h = norm1(x + self_attn(x))`` then ``out = norm2(h + ff(h))``, using the
    sublayers of ``layer`` (an :class:`attnbook.blocks.EncoderLayer` built
    with ``norm_first=False`` and no dropout). Call ``layer.self_attn(q, k, v)``
    (it returns ``(output, weights)``), ``layer.ff``, ``layer.norm1`` and
    ``layer.norm2``; not ``layer`` itself.

    Introduced in chapter 09 (the transformer block).

    Args:
        fn: your function; ``x`` is ``(N, L, E)``.

    Returns:
        A :class:`Verdict`, true if ``fn`` matches ``layer(x)`` on every input.

    Example:
        >>> def pre_norm(x, layer):
        ...     h = layer.norm1(x)
        ...     x = x + layer.self_attn(h, h, h)[0]
        ...     return x + layer.ff(layer.norm2(x))
        >>> check_post_norm_block(pre_norm)  # doctest: +ELLIPSIS
        Not yet: check_post_norm_block — you normalised the sublayers' inputs: that is pre-norm...
        Verdict(passed=False)
    """
    name = "check_post_norm_block"

    def body() -> None:
        for seed, (N, L, E, H) in enumerate(((2, 5, 16, 4), (1, 7, 8, 2))):
            torch.manual_seed(seed)
            layer = EncoderLayer(E, H, 2 * E, norm_first=False).eval()
            with torch.no_grad():  # non-trivial norms, so a missing or misplaced one shows
                for norm in (layer.norm1, layer.norm2):
                    norm.weight.uniform_(0.5, 1.5)
                    norm.bias.normal_(0.0, 0.5)
            x = _randn(20 + seed, N, L, E)
            mistakes = [
                (
                    partial(_pre_norm, x, layer),
                    "you normalised the sublayers' inputs: that is pre-norm. Post-norm adds "
                    "the residual first and normalises the sum: norm1(x + self_attn(x))",
                ),
                (
                    partial(_residual_outside, x, layer),
                    "you added the residual after the norm; post-norm normalises the sum, "
                    "norm1(x + sublayer(x))",
                ),
                (
                    partial(_no_residual, x, layer),
                    "the residual connections are missing: add each sublayer's input to its "
                    "output before the norm",
                ),
                (
                    partial(_no_second_norm, x, layer),
                    "the second layer norm is missing: the feed-forward's sum also goes "
                    "through norm2",
                ),
            ]
            with torch.no_grad():
                got = _tensor(_call(fn, x, layer), x.shape, "of the shape of x")
                _compare(got, layer(x)[0], mistakes, f"for x of shape {(N, L, E)}")

    return _run(name, body, "your post-norm block matches EncoderLayer(norm_first=False).")


def check_inverted_dropout(fn: Callable[[Tensor, float, bool], Tensor]) -> Verdict:
    """Check ``fn(x, p, training)``: inverted dropout, as ``torch.nn.functional.dropout``.

    In training, each entry is zeroed with probability ``p`` and the kept
    ones are divided by ``1 - p`` (so the expected value stays ``x``); out of
    training, ``x`` comes back unchanged. The check looks at statistics over
    many entries, so any random generator is fine.

    Introduced in chapter 09 (the transformer block).

    Args:
        fn: your function; ``x`` is any tensor, ``0 <= p < 1``.

    Returns:
        A :class:`Verdict`, true if ``fn`` behaves like dropout in training and in evaluation.

    Example:
        >>> def no_rescale(x, p, training):
        ...     return x * (torch.rand_like(x) >= p) if training else x
        >>> check_inverted_dropout(no_rescale)  # doctest: +ELLIPSIS
        Not yet: check_inverted_dropout — you did not rescale the kept values...
        Verdict(passed=False)
    """
    name = "check_inverted_dropout"

    def body() -> None:
        x = _randn(30, 400, 500).abs() + 0.5  # positive, so a zero can only be a dropped entry
        for p in (0.1, 0.5):
            got = _tensor(_call(fn, x, p, False), x.shape, "of the shape of x")
            if not _close(got, x, atol=0.0, rtol=0.0):
                raise _Wrong(
                    f"with training=False (p={p}) your result differs from x: dropout is "
                    "switched off outside training and returns x unchanged"
                )
        for p in (0.1, 0.3, 0.5):
            torch.manual_seed(int(p * 100))
            got = _tensor(_call(fn, x, p, True), x.shape, "of the shape of x")
            dropped = got == 0
            share = float(dropped.double().mean())
            if share == 0.0:
                raise _Wrong(f"with training=True and p={p} nothing was zeroed")
            if abs(share - (1 - p)) < 0.02 and abs(share - p) > 0.02:
                raise _Wrong(
                    f"you zeroed {share:.0%} of the entries with p={p}: p is the probability "
                    "of *dropping* an entry, not of keeping it"
                )
            if abs(share - p) > 0.02:
                raise _Wrong(f"you zeroed {share:.1%} of the entries, expected about p = {p:.0%}")
            kept = ~dropped
            ratio = got[kept] / x[kept].double()
            for scale, hint in (
                (1 / (1 - p), None),
                (
                    1.0,
                    "you did not rescale the kept values: divide them by 1 - p, so that "
                    "the expected value of every entry stays x",
                ),
                (1 - p, "you multiplied the kept values by 1 - p; divide by 1 - p instead"),
                (1 / p, "you divided the kept values by p; divide by 1 - p (the keep probability)"),
            ):
                if bool(torch.allclose(ratio, torch.full_like(ratio, scale), rtol=1e-4)):
                    if hint is None:
                        break
                    raise _Wrong(hint)
            else:
                raise _Wrong(
                    f"the kept values are x times {float(ratio.mean()):.3f} on average "
                    f"(p={p}); each kept value should be exactly x / (1 - p) = x * {1 / (1 - p):.3f}"
                )

    return _run(
        name,
        body,
        "your dropout zeros a share p, rescales the rest by 1/(1 - p) and is off in eval.",
    )


# ------------------------------------------------------------ chapter 10: encoder-only
def _antecedent_hits(weights: Tensor, pronoun_index: Tensor, answer_index: Tensor) -> Tensor:
    rows = weights[torch.arange(len(weights)), :, pronoun_index]  # (N, H, S): the row of "it"
    return (rows.argmax(-1) == answer_index[:, None]).double().mean(0)  # (H,)


def check_antecedent_hits(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(weights, pronoun_index, answer_index)``: how often each head points at the answer.

    For every sentence ``n`` and head ``h``, look at the attention row of the
    pronoun — ``weights[n, h, pronoun_index[n]]``, where "it" is the query —
    and ask whether its largest weight sits on ``answer_index[n]``. Return,
    per head, the share of sentences where it does.

    Introduced in chapter 10 (encoder-only).

    Args:
        fn: your function; ``weights`` is one layer's ``(N, H, L, S)``,
            ``pronoun_index`` and ``answer_index`` are ``(N,)`` positions.

    Returns:
        A :class:`Verdict`, true if ``fn`` returns the right ``(H,)`` shares on every input.

    Example:
        >>> def hits(weights, pronoun_index, answer_index):
        ...     rows = weights[torch.arange(len(weights)), :, pronoun_index]  # (N, H, S)
        ...     return (rows.argmax(-1) == answer_index[:, None]).float().mean(0)
        >>> check_antecedent_hits(hits)
        Correct: check_antecedent_hits — your per-head hit rates are right on both
            inputs.
        Verdict(passed=True)
    """
    name = "check_antecedent_hits"

    def body() -> None:
        for seed, (N, H, L) in enumerate(((40, 3, 9), (25, 4, 12))):
            g = _generator(40 + seed)
            scores = torch.randn(N, H, L, L, generator=g) * 2
            pronoun = torch.randint(L, (N,), generator=g)
            answer = torch.randint(L, (N,), generator=g)
            # Make head h point at the answer in a different share of sentences.
            for h in range(H):
                chosen = torch.rand(N, generator=g) < (h + 1) / (H + 1)
                scores[chosen, h, pronoun[chosen], answer[chosen]] += 10.0
            weights = scores.softmax(-1)  # (N, H, L, S)
            rows = weights[torch.arange(N), :, pronoun]  # (N, H, S)
            hits = rows.argmax(-1) == answer[:, None]  # (N, H)
            got = _call(fn, weights, pronoun, answer)
            if isinstance(got, Tensor) and got.dim() == 2 and got.shape == (N, H):
                raise _Wrong(
                    f"you returned one value per sentence and head {tuple(got.shape)}; "
                    "average over the sentences (dim 0) to get one share per head"
                )
            got = _tensor(got, (H,), "(one share per head)")
            columns = weights[torch.arange(N), :, :, pronoun]  # (N, H, L): who attends TO "it"
            mistakes = [
                (
                    lambda hits=hits: hits.double().sum(0),
                    "you returned counts; divide by the number of sentences to get a share",
                ),
                (
                    lambda columns=columns, answer=answer: (
                        (columns.argmax(-1) == answer[:, None]).double().mean(0)
                    ),
                    "you read the pronoun's column (which positions attend *to* it); read its "
                    "row, weights[n, h, pronoun_index[n]], where the pronoun is the query",
                ),
                (
                    lambda rows=rows, answer=answer: rows[torch.arange(len(rows)), :, answer].mean(
                        0
                    ),
                    "you averaged the weight on the answer; the question is whether the "
                    "answer gets the *largest* weight of the row (argmax)",
                ),
                (
                    lambda w=weights, p=pronoun, a=answer: (
                        (w[:, :, p[0]].argmax(-1) == a[:, None]).double().mean(0)
                    ),
                    "you used the first sentence's pronoun position for every sentence; "
                    "each sentence has its own pronoun_index[n]",
                ),
            ]
            _compare(got, hits.double().mean(0), mistakes, f"for N={N} sentences, H={H} heads")

    return _run(name, body, "your per-head hit rates are right on both inputs.")


def check_mask_tokens(fn: Callable[..., tuple[Tensor, Tensor]]) -> Verdict:
    """Check ``fn(ids, padding_mask, mask_id, p, generator)``: inputs and labels for masked LM.

    Choose each *real* token (``padding_mask`` True) with probability ``p``;
    ``inputs`` is ``ids`` with the chosen tokens replaced by ``mask_id``;
    ``labels`` holds the original id at the chosen positions and ``-100``
    (the index ``F.cross_entropy`` ignores) everywhere else. This is the
    simple version of BERT's masking: always ``<mask>``, never a random or
    unchanged token. Use ``generator`` for the random numbers if you like.

    Introduced in chapter 10 (encoder-only).

    Args:
        fn: your function; ``ids`` and ``padding_mask`` are ``(N, L)``.

    Returns:
        A :class:`Verdict`, true if ``fn`` masks a share ``p`` of the real tokens, and
        only them, correctly.

    Example:
        >>> def mask_tokens(ids, padding_mask, mask_id, p, generator=None):
        ...     chosen = (torch.rand(ids.shape, generator=generator) < p) & padding_mask
        ...     return ids.masked_fill(chosen, mask_id), ids.masked_fill(~chosen, -100)
        >>> check_mask_tokens(mask_tokens)  # doctest: +ELLIPSIS
        Correct: check_mask_tokens — ...
        Verdict(passed=True)
    """
    name = "check_mask_tokens"
    mask_id = 4

    def body() -> None:
        for seed, p in ((50, 0.15), (51, 0.4)):
            g = _generator(seed)
            N, L = 300, 30
            ids = torch.randint(5, 60, (N, L), generator=g)
            lengths = torch.randint(5, L + 1, (N,), generator=g)
            real = torch.arange(L)[None, :] < lengths[:, None]  # (N, L)
            ids = ids.masked_fill(~real, 0)
            where = f"(p={p})"
            got = _call(fn, ids, real, mask_id, p, _generator(seed + 100))
            if not (isinstance(got, (tuple, list)) and len(got) == 2):
                raise _Wrong(f"return two tensors, (inputs, labels); got {_describe(got)}")
            inputs, labels = got
            inputs = _tensor(inputs, (N, L), "for inputs (the shape of ids)").long()
            labels = _tensor(labels, (N, L), "for labels (the shape of ids)").long()
            replaced = inputs != ids
            if bool((inputs[replaced] != mask_id).any()):
                raise _Wrong(
                    f"inputs changed some tokens to ids other than mask_id={mask_id} {where}"
                )
            if not bool(replaced.any()):
                raise _Wrong(
                    f"inputs are identical to ids {where}: replace the chosen tokens by "
                    f"mask_id={mask_id}, or the model can simply read the answer"
                )
            if bool((replaced & ~real).any()):
                raise _Wrong(
                    f"you masked padding positions {where}: choose only among real tokens "
                    "(padding_mask True), there is nothing to predict at padding"
                )
            if bool((labels[replaced] == mask_id).all()):
                raise _Wrong(
                    "labels hold mask_id at the masked positions; they must hold the original "
                    "token ids there, the words the model has to recover"
                )
            if bool((labels[~replaced] == ids[~replaced]).all()):
                raise _Wrong(
                    "labels keep the original ids at positions you did not mask; set them to "
                    "-100 so cross_entropy ignores them (the model only predicts masked tokens)"
                )
            if bool((labels[~replaced] == 0).all()):
                raise _Wrong(
                    "labels are 0 at positions you did not mask; 0 is the <pad> id, a real "
                    "class. Use -100, which F.cross_entropy ignores"
                )
            if not bool((labels[~replaced] == IGNORE_INDEX).all()):
                raise _Wrong("labels must be -100 at every position you did not mask")
            if not bool((labels[replaced] == ids[replaced]).all()):
                raise _Wrong("labels must hold the original id at every masked position")
            share = float(replaced.sum()) / float(real.sum())
            if abs(share - p) > 0.03:
                raise _Wrong(
                    f"you masked {share:.1%} of the real tokens, expected about p = {p:.0%}: "
                    "choose each real token independently with probability p"
                )

    return _run(
        name,
        body,
        "a share p of the real tokens becomes <mask>, labels keep them and -100 elsewhere.",
    )


def check_masked_mean_pooling(fn: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(hidden, padding_mask)``: the mean of each sequence's states over its real tokens.

    A sequence classifier may summarise a sentence by averaging its final
    states; the padding positions must not count (``padding_mask`` is True at
    real tokens), as in ``EncoderOnlyConfig(pooling="mean")``.

    Introduced in chapter 10 (encoder-only).

    Args:
        fn: your function; ``hidden`` is ``(N, L, E)``, ``padding_mask`` ``(N, L)``;
            it returns ``(N, E)``.

    Returns:
        A :class:`Verdict`, true if ``fn`` matches the masked mean on every input.

    Example:
        >>> check_masked_mean_pooling(lambda hidden, mask: hidden.mean(1))
        ... # doctest: +ELLIPSIS
        Not yet: check_masked_mean_pooling — you averaged over the padding positions too...
        Verdict(passed=False)
    """
    name = "check_masked_mean_pooling"

    def body() -> None:
        for seed, (N, L, E) in enumerate(((4, 6, 5), (3, 9, 8))):
            hidden = _randn(60 + seed, N, L, E)
            lengths = torch.arange(N) % (L - 1) + 1  # every row has some padding
            real = torch.arange(L)[None, :] < lengths[:, None]  # (N, L)
            weights = real[..., None].double()  # (N, L, 1)
            h = hidden.double()
            got = _tensor(_call(fn, hidden, real), (N, E), "(N, E): one vector per sequence")
            pad = (~real)[..., None].double()
            mistakes = [
                (
                    lambda h=h: h.mean(1),
                    "you averaged over the padding positions too; average only where "
                    "padding_mask is True",
                ),
                (
                    lambda h=h, w=weights: (h * w).sum(1),
                    "you summed the real states; divide by the number of real tokens",
                ),
                (
                    lambda h=h, w=weights: (h * w).sum(1) / h.size(1),
                    "you divided by the full length L; divide by each sequence's number "
                    "of real tokens, padding_mask.sum(1)",
                ),
                (
                    lambda h=h, pad=pad: (h * pad).sum(1) / pad.sum(1),
                    "you averaged over the padding and left out the real tokens: True in "
                    "padding_mask marks a real token",
                ),
            ]
            expected = (h * weights).sum(1) / weights.sum(1)
            _compare(got, expected, mistakes, f"for hidden of shape {(N, L, E)}")

    return _run(name, body, "your pooling averages exactly the real tokens of each sequence.")


# ------------------------------------------------------------ chapter 11: decoder-only
def check_top_k_filter(fn: Callable[[Tensor, int], Tensor]) -> Verdict:
    """Check ``fn(logits, k)``: keep each row's ``k`` largest logits, set the rest to ``-inf``.

    After the filter, ``softmax`` gives probability 0 to every token outside
    the top ``k``, and renormalises over the ``k`` kept ones (ties with the
    ``k``-th value are kept).

    Introduced in chapter 11 (decoder-only).

    Args:
        fn: your function; ``logits`` is ``(N, V)``, ``1 <= k <= V``.

    Returns:
        A :class:`Verdict`, true if ``fn`` filters correctly on every input.

    Example:
        >>> check_top_k_filter(lambda logits, k: logits)  # doctest: +ELLIPSIS
        Not yet: check_top_k_filter — you kept every logit...
        Verdict(passed=False)
    """
    name = "check_top_k_filter"

    def reference(logits: Tensor, k: int) -> Tensor:
        kth = logits.topk(k, dim=-1).values[:, -1:]  # (N, 1)
        return logits.masked_fill(logits < kth, float("-inf"))

    def body() -> None:
        for seed, (N, V, k) in enumerate(((5, 10, 3), (2, 7, 1), (6, 12, 4))):
            logits = _randn(70 + seed, N, V) * 2
            got = _call(fn, logits, k)
            got = _tensor(got, (N, V), "(the shape of logits)")
            expected = reference(logits, k).double()
            if torch.equal(got, expected):
                continue
            kept = torch.isfinite(got)
            counts = kept.sum(-1)
            where = f"for logits of shape {(N, V)} and k={k}"
            if bool(kept.all()) and bool(((got == 0) | (got == logits.double())).all()):
                if bool((got == logits.double()).all()):
                    raise _Wrong(f"you kept every logit {where}; set all but the k largest to -inf")
                raise _Wrong(
                    f"you set the filtered logits to 0 {where}; use float('-inf'): a logit of "
                    "0 still gets probability e^0 / Z after softmax"
                )
            if bool(torch.allclose(got, expected.softmax(-1))):
                raise _Wrong("you returned probabilities; return the filtered logits (with -inf)")
            if bool((counts == k + 1).all()):
                raise _Wrong(f"you kept k + 1 logits per row {where}: an off-by-one")
            if bool((counts == k - 1).all()):
                raise _Wrong(f"you kept k - 1 logits per row {where}: an off-by-one")
            smallest = logits.masked_fill(
                logits > (-logits).topk(k, dim=-1).values[:, -1:].neg(), float("-inf")
            ).double()
            if torch.equal(got, smallest):
                raise _Wrong(f"you kept the k *smallest* logits {where}; keep the largest")
            if N != V:
                column = logits.topk(min(k, N), dim=0).values[-1:]  # (1, V)
                if torch.equal(got, logits.masked_fill(logits < column, float("-inf")).double()):
                    raise _Wrong(
                        "you took the top k over the batch (dim 0); take it over the "
                        "vocabulary, dim=-1"
                    )
            if not bool(torch.equal(got[kept], logits.double()[kept])):
                raise _Wrong(f"the logits you kept changed value {where}; keep them as they are")
            raise _Wrong(f"the kept positions are not each row's k largest logits {where}")

    return _run(name, body, "your filter keeps exactly each row's k largest logits.")


def check_next_token_loss(fn: Callable[[Tensor, Tensor], Tensor]) -> Verdict:
    """Check ``fn(logits, ids)``: the language-model loss of a causal model.

    ``logits[:, t]`` is the model's prediction *after reading* ``ids[:, t]``,
    so its target is the next token, ``ids[:, t + 1]``. The loss is the mean
    cross-entropy (natural log, nats per token) over all predicted tokens:
    ``logits[:, :-1]`` against ``ids[:, 1:]``.

    Introduced in chapter 11 (decoder-only).

    Args:
        fn: your function; ``logits`` is ``(N, L, V)``, ``ids`` ``(N, L)``.

    Returns:
        A :class:`Verdict`, true if ``fn`` returns the right scalar on every input.

    Example:
        >>> check_next_token_loss(lambda logits, ids: F.cross_entropy(
        ...     logits.flatten(0, 1), ids.flatten()))  # doctest: +ELLIPSIS
        Not yet: check_next_token_loss — you compared position t's prediction with token t itself...
        Verdict(passed=False)
    """
    name = "check_next_token_loss"

    def ce(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
        return F.cross_entropy(
            logits.reshape(-1, logits.size(-1)).double(), targets.reshape(-1), reduction=reduction
        )

    def body() -> None:
        for seed, (N, L, V) in enumerate(((2, 6, 11), (3, 9, 7))):
            logits = _randn(80 + seed, N, L, V) * 2
            ids = torch.randint(V, (N, L), generator=_generator(90 + seed))
            got = _call(fn, logits, ids)
            if isinstance(got, Tensor) and got.numel() == 1:
                got = got.reshape(())
            got = _tensor(got, (), "(one number, the mean loss)")
            expected = ce(logits[:, :-1], ids[:, 1:])
            mistakes = [
                (
                    lambda lg=logits, i=ids: ce(lg, i),
                    "you compared position t's prediction with token t itself; its target "
                    "is the next token: use logits[:, :-1] against ids[:, 1:]",
                ),
                (
                    lambda lg=logits, i=ids: ce(lg[:, 1:], i[:, :-1]),
                    "you shifted the wrong way (logits[:, 1:] against ids[:, :-1]); "
                    "position t predicts token t + 1: logits[:, :-1] against ids[:, 1:]",
                ),
                (
                    lambda lg=logits, i=ids: ce(lg[:, :-1], i[:, 1:], "sum"),
                    "you summed the losses; average them over the predicted tokens",
                ),
                (
                    lambda lg=logits, i=ids: (
                        ce(lg[:, :-1], i[:, 1:]) / torch.log(torch.tensor(2.0, dtype=torch.float64))
                    ),
                    "you measured in bits (log base 2); the loss is in nats (natural log)",
                ),
            ]
            _compare(got, expected, mistakes, f"for logits of shape {(N, L, V)}")

    return _run(name, body, "your loss predicts each next token, in nats, averaged.")


def _tiny_decoder() -> DecoderOnly:
    torch.manual_seed(0)
    config = DecoderOnlyConfig(vocab_size=13, max_len=24, embed_dim=16, num_heads=2, num_layers=1)
    model = DecoderOnly(config).eval()
    with torch.no_grad():  # strong context effects and sharp logits: each mistake shows
        torch.nn.init.normal_(model.embedding.weight)
        model.lm_head.weight.mul_(40)
    return model


def _greedy_first_position(model: DecoderOnly, prompt: Tensor, n: int) -> Tensor:
    tokens = prompt
    for _ in range(n):
        nxt = model(tokens).logits[:, 0].argmax(-1, keepdim=True)  # (N, 1)
        tokens = torch.cat([tokens, nxt], dim=1)
    return tokens


def _greedy_last_token_only(model: DecoderOnly, prompt: Tensor, n: int) -> Tensor:
    tokens = prompt
    for _ in range(n):
        nxt = model(tokens[:, -1:]).logits[:, -1].argmax(-1, keepdim=True)  # (N, 1)
        tokens = torch.cat([tokens, nxt], dim=1)
    return tokens


def check_greedy_generate(fn: Callable[[DecoderOnly, Tensor, int], Tensor]) -> Verdict:
    """Check ``fn(model, prompt, max_new_tokens)``: greedy generation with a decoder-only model.

    Repeat ``max_new_tokens`` times: run the model on the whole sequence so
    far, take the arg-max of the *last* position's logits, append it. Return
    the prompt followed by the new tokens, ``(N, L + max_new_tokens)`` — what
    ``model.generate(prompt, max_new_tokens, do_sample=False)`` returns. (The
    check uses a tiny untrained model: its tokens are arbitrary but
    deterministic.)

    Introduced in chapter 11 (decoder-only).

    Args:
        fn: your function; ``prompt`` is ``(N, L)`` token ids.

    Returns:
        A :class:`Verdict`, true if ``fn`` produces the same tokens as
        ``model.generate`` on every prompt.

    Example:
        >>> def greedy(model, prompt, max_new_tokens):
        ...     tokens = prompt
        ...     for _ in range(max_new_tokens):
        ...         next_token = model(tokens).logits[:, -1].argmax(-1, keepdim=True)
        ...         tokens = torch.cat([tokens, next_token], dim=1)
        ...     return tokens
        >>> check_greedy_generate(greedy)
        Correct: check_greedy_generate — your tokens equal model.generate(...,
            do_sample=False).
        Verdict(passed=True)
    """
    name = "check_greedy_generate"

    def body() -> None:
        model = _tiny_decoder()
        for seed, (N, L, n) in enumerate(((1, 4, 8), (2, 3, 10))):
            prompt = torch.randint(5, 13, (N, L), generator=_generator(100 + seed))
            with torch.no_grad():
                got = _call(fn, model, prompt, n)
                expected = model.generate(prompt, n, do_sample=False)
                if isinstance(got, Tensor) and tuple(got.shape) == (N, n):
                    raise _Wrong(
                        "you returned only the new tokens; return the prompt followed by them, "
                        f"shape (N, L + max_new_tokens) = {(N, L + n)}"
                    )
                got = _tensor(got, (N, L + n), "(N, L + max_new_tokens)").long()
                if not torch.equal(got[:, :L], prompt):
                    raise _Wrong("the result must start with the prompt, unchanged")
                if torch.equal(got, expected):
                    continue
                hints = [
                    (
                        _greedy_last_token_only(model, prompt, n),
                        "you fed only the newest token at each step, so the model forgot "
                        "everything before it; feed the whole sequence so far (or keep a KV "
                        "cache, as model.generate does)",
                    ),
                    (
                        _greedy_first_position(model, prompt, n),
                        "you picked the token from logits[:, 0]; the prediction of the next "
                        "token is at the last position, logits[:, -1]",
                    ),
                ]
            # On a tiny model two mistakes can give the same tokens: name every match.
            matches = [hint for wrong, hint in hints if torch.equal(got, wrong)]
            if matches:
                raise _Wrong("; or ".join(matches))
            first = int((got != expected).any(0).nonzero()[0])
            raise _Wrong(
                f"your token at position {first} differs from the greedy choice "
                f"(prompt of shape {(N, L)}): take the arg-max of the last position's logits"
            )

    return _run(name, body, "your tokens equal model.generate(..., do_sample=False).")


# ------------------------------------------------------------ chapter 12: encoder-decoder
def check_teacher_forcing_input(fn: Callable[[Tensor, int], Tensor]) -> Verdict:
    """Check ``fn(tgt, bos_id)``: the decoder's input in training, the target shifted right.

    With teacher forcing the decoder reads ``<bos>, y_0, ..., y_{T-2}`` and
    must predict ``y_0, ..., y_{T-1}``: position ``t`` sees the true tokens
    before ``y_t``. Same shape as ``tgt``. (The library's twin is
    :func:`attnbook.data.shift_right`.)

    Introduced in chapter 12 (encoder-decoder).

    Args:
        fn: your function; ``tgt`` is ``(N, T)`` target ids.

    Returns:
        A :class:`Verdict`, true if ``fn`` builds the right decoder input on every input.

    Example:
        >>> check_teacher_forcing_input(lambda tgt, bos_id: tgt)  # doctest: +ELLIPSIS
        Not yet: check_teacher_forcing_input — your decoder input is the target itself...
        Verdict(passed=False)
    """
    name = "check_teacher_forcing_input"

    def body() -> None:
        for seed, (N, T, bos) in enumerate(((2, 5, 1), (3, 11, 7))):
            tgt = torch.randint(10, 40, (N, T), generator=_generator(110 + seed))
            got = _call(fn, tgt, bos)
            if isinstance(got, Tensor) and tuple(got.shape) == (N, T + 1):
                raise _Wrong(
                    "your decoder input is one token longer than the target: put <bos> first "
                    "and drop the target's last token, so the length stays T"
                )
            got = _tensor(got, (N, T), "(the shape of tgt)").long()
            column = torch.full((N, 1), bos)
            mistakes = [
                (
                    lambda tgt=tgt: tgt,
                    "your decoder input is the target itself: the model would see each token "
                    "it must predict. Shift right: <bos> first, then tgt[:, :-1]",
                ),
                (
                    lambda tgt=tgt, c=column: torch.cat([tgt[:, 1:], c], 1),
                    "you shifted left and put <bos> last; <bos> goes first, then tgt[:, :-1]",
                ),
                (
                    lambda tgt=tgt, c=column: torch.cat([c, tgt[:, 1:]], 1),
                    "you dropped the target's first token; drop its last one: "
                    "<bos>, tgt[:, 0], ..., tgt[:, T-2]",
                ),
            ]
            _compare(
                got, torch.cat([column, tgt[:, :-1]], 1), mistakes, f"for tgt of shape {(N, T)}"
            )

    return _run(
        name, body, "your decoder input is <bos> followed by the target minus its last token."
    )


def _tiny_translator() -> EncoderDecoder:
    torch.manual_seed(0)
    config = EncoderDecoderConfig(
        vocab_size=15, max_len=12, max_tgt_len=10, embed_dim=16, num_heads=2,
        num_layers=1, num_decoder_layers=1,
    )  # fmt: skip
    model = EncoderDecoder(config).eval()
    with torch.no_grad():  # strong context effects and sharp logits: each mistake shows
        torch.nn.init.normal_(model.embedding.weight)
        model.lm_head.weight.mul_(40)
    return model


def _until_eos(row: list[int], eos_id: int) -> list[int]:
    return row[: row.index(eos_id) + 1] if eos_id in row else row


def _decode_rows(out: Tensor, eos_id: int) -> list[list[int]]:
    return [_until_eos([int(t) for t in row], eos_id) for row in out]


def _translate_variant(
    model: EncoderDecoder, src: Tensor, mask: Tensor, n: int, how: str
) -> Tensor:
    memory, _ = model.encode(src, mask)
    tokens = torch.full((src.size(0), 1), 1, dtype=torch.long)
    for _ in range(n):
        inp = torch.full_like(tokens[:, :1], 1) if how == "no_feedback" else tokens
        logits = model.decode(inp, memory, mask).logits
        position = 0 if how == "first_position" else -1
        nxt = logits[:, position].argmax(-1, keepdim=True)  # (N, 1)
        tokens = torch.cat([tokens, nxt], dim=1)
    return tokens if how == "keep_bos" else tokens[:, 1:]


def check_greedy_translate(fn: Callable[..., Tensor]) -> Verdict:
    """Check ``fn(model, src_ids, src_padding_mask, bos_id, eos_id, max_new_tokens)``: greedy decoding.

    Encode the source once; start the decoder from ``<bos>``; at each step
    take the arg-max of the last position's logits and feed it back; stop
    after ``max_new_tokens`` (you may stop a row at ``eos_id``). Return the
    generated ids *without* ``<bos>``, ``(N, <= max_new_tokens)``. Rows are
    compared up to their first ``eos_id``, so what follows it does not matter.

    Introduced in chapter 12 (encoder-decoder).

    Args:
        fn: your function; ``src_ids`` and ``src_padding_mask`` are ``(N, S)``.

    Returns:
        A :class:`Verdict`, true if ``fn`` produces the same tokens as ``model.generate``.

    Example:
        >>> def translate(model, src_ids, src_padding_mask, bos_id, eos_id, max_new_tokens):
        ...     return model.generate(src_ids, max_new_tokens, bos_id, eos_id, src_padding_mask)
        >>> check_greedy_translate(translate)
        Correct: check_greedy_translate — your decoding equals greedy decoding on
            both batches.
        Verdict(passed=True)
    """
    name = "check_greedy_translate"
    bos, eos = 1, 2

    def body() -> None:
        model = _tiny_translator()
        for seed, (N, S, n) in enumerate(((1, 6, 8), (3, 9, 10))):
            g = _generator(120 + seed)
            src = torch.randint(5, 15, (N, S), generator=g)
            lengths = torch.randint(3, S + 1, (N,), generator=g)
            lengths[0] = S
            mask = torch.arange(S)[None, :] < lengths[:, None]  # (N, S)
            src = src.masked_fill(~mask, 0)
            with torch.no_grad():
                got = _call(fn, model, src, mask, bos, eos, n)
                expected = model.generate(src, n, bos, eos, mask)
                variants = {
                    how: _translate_variant(model, src, mask, n, how)
                    for how in ("keep_bos", "first_position", "no_feedback")
                }
            if not isinstance(got, Tensor) or got.dim() != 2 or got.size(0) != N:
                raise _Wrong(
                    f"return a tensor of ids of shape (N={N}, steps); got {_describe(got)}"
                )
            if got.size(1) > n + 1 or (got.size(1) == n + 1 and not bool((got[:, 0] == bos).all())):
                raise _Wrong(f"you generated more than max_new_tokens={n} tokens")
            rows = _decode_rows(got, eos)
            if rows == _decode_rows(expected, eos):
                continue
            hints = {
                "keep_bos": "your result starts with <bos>; return only the generated tokens",
                # A causal decoder's logits[:, 0] see <bos> alone, so both mistakes give the
                # same tokens: the hint names both.
                "first_position": "every token you produced was predicted from <bos> alone: "
                "take the last position's logits, logits[:, -1], and append each chosen token "
                "to the decoder input so the next step sees it",
                "no_feedback": "every token you produced was predicted from <bos> alone: "
                "append each chosen token to the decoder input and feed the whole sequence "
                "(or use a cache), taking the last position's logits",
            }
            for how, hint in hints.items():
                if rows == _decode_rows(variants[how], eos):
                    raise _Wrong(hint)
            raise _Wrong(
                "your tokens differ from greedy decoding; start from <bos>, take the arg-max "
                "of the last position each step and feed it back"
            )

    return _run(name, body, "your decoding equals greedy decoding on both batches.")


def check_exact_match(fn: Callable[[Sequence[str], Sequence[str]], float]) -> Verdict:
    """Check ``fn(predictions, targets)``: the share of predictions equal to their target.

    A translation counts only if *every* character is right: ``"2021-03-04"``
    for ``"2021-03-03"`` scores 0, not 0.9.

    Introduced in chapter 12 (encoder-decoder).

    Args:
        fn: your function; two lists of strings of the same length.

    Returns:
        A :class:`Verdict`, true if ``fn`` returns the right share on every input.

    Example:
        >>> check_exact_match(lambda p, t: sum(a == b for a, b in zip(p, t)) / len(t))
        Correct: check_exact_match — your exact match is right on all 3 inputs.
        Verdict(passed=True)
    """
    name = "check_exact_match"

    def char_accuracy(p: Sequence[str], t: Sequence[str]) -> float:
        right = sum(
            sum(a == b for a, b in zip(x, y, strict=False)) for x, y in zip(p, t, strict=True)
        )
        return right / sum(len(y) for y in t)

    def body() -> None:
        cases = [
            (["2021-03-03", "1999-12-31", "2040-01-01"], ["2021-03-03", "1999-12-30", "2040-01-01"]),
            (["2021-03-04", "2000-01-01"], ["2021-03-03", "2000-01-01"]),
            (["1970-01-01", "abc", "2068-12-31", "2068-12-3"], ["1970-01-01"] * 2 + ["2068-12-31"] * 2),
        ]  # fmt: skip
        for predictions, targets in cases:
            got = _call(fn, list(predictions), list(targets))
            if isinstance(got, Tensor) and got.numel() == 1:
                got = float(got)
            if isinstance(got, bool) or not isinstance(got, (int, float)):
                raise _Wrong(f"return a number (a share between 0 and 1); got {_describe(got)}")
            right = sum(p == t for p, t in zip(predictions, targets, strict=True))
            expected = right / len(targets)
            if abs(got - expected) < 1e-9:
                continue
            where = f"for predictions {predictions} and targets {targets}"
            if abs(got - right) < 1e-9:
                raise _Wrong(f"you returned the count {got}; divide by the number of examples")
            if abs(got - char_accuracy(predictions, targets)) < 1e-9:
                raise _Wrong(
                    "you counted matching characters; exact match counts a prediction only "
                    f"if every character is right ({where})"
                )
            raise _Wrong(f"you returned {got}, expected {expected} {where}")

    return _run(name, body, "your exact match is right on all 3 inputs.")
