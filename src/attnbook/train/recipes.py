"""Ready-made training recipes: the models the book's chapters train, in one call.

Each recipe builds its data (generated locally), a model from a named preset
config, trains it with :func:`~attnbook.train.fit` for a wall-clock budget
and measures it on held-out data:

* :func:`train_pronoun_resolver` — encoder-only, points at the noun "it"
  refers to in toy-world sentences (chapters 10, 14);
* :func:`train_char_lm` — decoder-only character language model on the pydoc
  text (chapter 11);
* :func:`train_date_translator` — encoder–decoder from human dates to ISO
  dates (chapters 12, 13).

The presets (:func:`pronoun_config`, :func:`char_lm_config`,
:func:`date_config`) are the configs measured in
``benchmarks/results/train_models_cpu.json``. With ``ATTNBOOK_FAST=1``
(:func:`attnbook.notebook.fast_mode`) every budget shrinks to a few seconds.

Introduced in chapter 10 (encoder-only).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.data import (
    CharTokenizer,
    Tokenizer,
    date_examples,
    date_tokenizer,
    lm_windows,
    pronoun_examples,
    pydoc_splits,
    random_windows,
    sample_batch,
    shift_right,
    toyworld_tokenizer,
)
from attnbook.models import (
    DecoderOnly,
    DecoderOnlyConfig,
    EncoderDecoder,
    EncoderDecoderConfig,
    EncoderOnly,
    EncoderOnlyConfig,
)
from attnbook.notebook import fast_mode
from attnbook.train.loop import History, fit

__all__ = [
    "TrainResult",
    "char_lm_config",
    "date_config",
    "evaluate_char_lm",
    "evaluate_date_translator",
    "evaluate_pointer",
    "pronoun_config",
    "train_char_lm",
    "train_date_translator",
    "train_pronoun_resolver",
]

#: The budget (seconds) every recipe uses under ATTNBOOK_FAST=1.
FAST_SECONDS = 3.0


@dataclass
class TrainResult:
    """A trained model with what it needs and what it scored.

    Attributes:
        model: the trained model, in eval mode.
        tokenizer: the tokenizer of its data.
        history: the training :class:`~attnbook.train.History`.
        metrics: held-out metrics measured after training.
        data: the tensors used (train/test), for further analysis in a chapter.
    """

    model: nn.Module
    tokenizer: Tokenizer
    history: History
    metrics: dict[str, float]
    data: dict[str, Any] = field(default_factory=dict)


def _budget(seconds: float | None, steps: int | None) -> tuple[float | None, int | None]:
    if seconds is None and steps is None:
        raise ValueError("seconds, steps: expected at least one budget, got neither")
    if fast_mode():
        seconds = FAST_SECONDS if seconds is None else min(seconds, FAST_SECONDS)
    return seconds, steps


def _trim(ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Drop the padding columns no row of this batch needs (outputs at real tokens are unchanged)."""
    length = max(1, int(mask.sum(dim=1).max()))
    return ids[:, :length], mask[:, :length]  # (N, length)


def _in_batches(n: int, batch_size: int, fn: Callable[[slice], None]) -> None:
    for start in range(0, n, batch_size):
        fn(slice(start, start + batch_size))


# --- pronoun resolution (encoder-only) ------------------------------------------------
def pronoun_config(vocab_size: int | None = None) -> EncoderOnlyConfig:
    """The encoder-only preset that resolves "it" in toy-world sentences.

    Args:
        vocab_size: the tokenizer's size (default: :func:`~attnbook.data.toyworld_tokenizer`'s).

    Example:
        >>> pronoun_config().head
        'pointer'

    Introduced in chapter 10 (encoder-only).
    """
    if vocab_size is None:
        vocab_size = toyworld_tokenizer().vocab_size
    return EncoderOnlyConfig(
        vocab_size=vocab_size,
        max_len=32,
        embed_dim=64,
        num_heads=4,
        num_layers=2,
        dim_feedforward=128,
        positional="learned",
        head="pointer",
    )


def _pronoun_tensors(num: int, split: str, seed: int) -> dict[str, Tensor]:
    tok = toyworld_tokenizer()
    examples = pronoun_examples(num, split, seed=seed)
    batch = tok.encode_batch([ex.text for ex in examples], max_len=32)
    return {
        "ids": batch.ids,
        "mask": batch.padding_mask,
        "answer": torch.tensor([ex.answer_index for ex in examples]),
        "pronoun": torch.tensor([ex.pronoun_index for ex in examples]),
    }


@torch.no_grad()
def evaluate_pointer(
    model: nn.Module, ids: Tensor, mask: Tensor, target: Tensor, batch_size: int = 500
) -> float:
    """Share of rows where the pointer head's highest score is at ``target``.

    Shape:
        ids, mask: ``(N, L)``; target: ``(N,)`` positions.

    Introduced in chapter 10 (encoder-only).
    """
    device = next(model.parameters()).device
    correct = 0

    def run(rows: slice) -> None:
        nonlocal correct
        rows_ids, rows_mask = _trim(ids[rows], mask[rows])
        logits = model(rows_ids.to(device), rows_mask.to(device)).logits  # (B, L)
        correct += int((logits.argmax(-1).cpu() == target[rows]).sum())

    _in_batches(len(ids), batch_size, run)
    return correct / len(ids)


def train_pronoun_resolver(
    seconds: float | None = 60.0,
    *,
    steps: int | None = None,
    config: EncoderOnlyConfig | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    num_train: int = 20_000,
    num_test: int = 2_000,
    eval_every: int = 100,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train an encoder-only model to point at the referent of "it".

    The input is a toy-world sentence ("The cat sat on the mat because it was
    comfortable."); the pointer head scores every word and the target is the
    position of the referent ("mat"). The held-out sentences use
    animal–thing–adjective combinations never seen in training.

    Args:
        seconds: the training budget (wall clock, evaluation excluded).
        steps: a step budget instead of (or as well as) ``seconds``.
        config: the model config (default :func:`pronoun_config`).
        batch_size: sentences per step.
        lr: peak learning rate.
        num_train: training sentences.
        num_test: held-out sentences.
        eval_every: steps between held-out evaluations (for the curve).
        seed: seeds the data, the initialisation and the batches.
        device: where to train (default: the CPU, or pass ``default_device()``).
        progress: show a progress bar.

    Returns:
        A :class:`TrainResult`; ``metrics["test_accuracy"]`` is the held-out accuracy.

    Example:
        >>> result = train_pronoun_resolver(steps=5, num_train=200, num_test=50,
        ...                                 progress=False)
        >>> sorted(result.metrics)
        ['test_accuracy', 'train_accuracy']

    Introduced in chapter 10 (encoder-only).
    """
    seconds, steps = _budget(seconds, steps)
    tok = toyworld_tokenizer()
    train = _pronoun_tensors(num_train, "train", seed)
    test = _pronoun_tensors(num_test, "test", seed)
    torch.manual_seed(seed)
    model = EncoderOnly(config or pronoun_config(tok.vocab_size))
    if device is not None:
        model.to(device)

    def batch(generator: torch.Generator) -> tuple[Tensor, ...]:
        ids, mask, answer = sample_batch(
            train["ids"], train["mask"], train["answer"], batch_size=batch_size, generator=generator
        )
        return (*_trim(ids, mask), answer)

    def loss_fn(m: nn.Module, b: tuple[Tensor, ...]) -> Tensor:
        ids, mask, answer = b
        return F.cross_entropy(m(ids, mask).logits, answer)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"test_accuracy": evaluate_pointer(m, test["ids"], test["mask"], test["answer"])}

    history = fit(
        model,
        batch,
        loss_fn,
        steps=steps,
        max_seconds=seconds,
        lr=lr,
        eval_fn=eval_fn,
        eval_every=eval_every,
        seed=seed,
        progress=progress,
        desc="pronouns",
    )
    metrics = {
        "test_accuracy": history.final("test_accuracy"),
        "train_accuracy": evaluate_pointer(model, train["ids"], train["mask"], train["answer"]),
    }
    return TrainResult(model, tok, history, metrics, {"train": train, "test": test})


# --- character language model (decoder-only) -------------------------------------------
def char_lm_config(vocab_size: int | None = None) -> DecoderOnlyConfig:
    """The decoder-only preset: a character language model of the pydoc text.

    Args:
        vocab_size: the tokenizer's size (default: that of the pydoc characters).

    Example:
        >>> char_lm_config(100).max_len
        128

    Introduced in chapter 11 (decoder-only).
    """
    if vocab_size is None:
        vocab_size = _pydoc_tokenizer().vocab_size
    return DecoderOnlyConfig(
        vocab_size=vocab_size,
        max_len=128,
        embed_dim=96,
        num_heads=4,
        num_layers=3,
        dim_feedforward=384,
        positional="learned",
    )


def _pydoc_tokenizer() -> CharTokenizer:
    train, val = pydoc_splits()
    return CharTokenizer.from_text([train, val])


@torch.no_grad()
def evaluate_char_lm(
    model: DecoderOnly, ids: Tensor, block_size: int | None = None, batch_size: int = 64
) -> float:
    """Mean cross-entropy (nats per character) of ``model`` on a token stream.

    The stream is cut into consecutive windows of ``block_size`` (default the
    model's context); every token but the first is predicted once.

    Introduced in chapter 11 (decoder-only).
    """
    block_size = block_size or model.config.max_len
    x, y = lm_windows(ids, block_size)
    device = next(model.parameters()).device
    total = 0.0

    def run(rows: slice) -> None:
        nonlocal total
        logits = model(x[rows].to(device)).logits  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y[rows].to(device).flatten(), reduction="sum")
        total += float(loss)

    _in_batches(len(x), batch_size, run)
    return total / y.numel()


def train_char_lm(
    seconds: float | None = 120.0,
    *,
    steps: int | None = None,
    config: DecoderOnlyConfig | None = None,
    batch_size: int = 16,
    lr: float = 3e-3,
    eval_every: int = 200,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a decoder-only character language model on the pydoc text.

    Training windows are drawn at random from the first 90 % of the text; the
    validation loss is measured on every character of the last 10 %.

    Args:
        seconds: the training budget (wall clock, evaluation excluded).
        steps: a step budget instead of (or as well as) ``seconds``.
        config: the model config (default :func:`char_lm_config`).
        batch_size: windows per step (each ``config.max_len`` characters).
        lr: peak learning rate.
        eval_every: steps between validation measurements (for the curve).
        seed: seeds the initialisation and the batches.
        device: where to train.
        progress: show a progress bar.

    Returns:
        A :class:`TrainResult`; ``metrics["val_loss"]`` is in nats per character.

    Introduced in chapter 11 (decoder-only).
    """
    seconds, steps = _budget(seconds, steps)
    tok = _pydoc_tokenizer()
    train_text, val_text = pydoc_splits()
    train_ids = torch.tensor(tok.encode(train_text))
    val_ids = torch.tensor(tok.encode(val_text))
    torch.manual_seed(seed)
    config = config or char_lm_config(tok.vocab_size)
    model = DecoderOnly(config)
    if device is not None:
        model.to(device)

    def batch(generator: torch.Generator) -> tuple[Tensor, Tensor]:
        return random_windows(train_ids, config.max_len, batch_size, generator)

    def loss_fn(m: nn.Module, b: tuple[Tensor, Tensor]) -> Tensor:
        x, y = b
        return F.cross_entropy(m(x).logits.flatten(0, 1), y.flatten())

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {"val_loss": evaluate_char_lm(m, val_ids)}  # type: ignore[arg-type]

    history = fit(
        model,
        batch,
        loss_fn,
        steps=steps,
        max_seconds=seconds,
        lr=lr,
        eval_every=eval_every,
        eval_fn=eval_fn,
        seed=seed,
        progress=progress,
        desc="char LM",
    )
    metrics = {"val_loss": history.final("val_loss")}
    return TrainResult(model, tok, history, metrics, {"train": train_ids, "val": val_ids})


# --- date translation (encoder-decoder) ------------------------------------------------
def date_config(vocab_size: int | None = None) -> EncoderDecoderConfig:
    """The encoder–decoder preset that rewrites human dates as ISO dates.

    Example:
        >>> date_config().max_tgt_len
        12

    Introduced in chapter 12 (encoder-decoder).
    """
    if vocab_size is None:
        vocab_size = date_tokenizer().vocab_size
    return EncoderDecoderConfig(
        vocab_size=vocab_size,
        max_len=40,
        max_tgt_len=12,
        embed_dim=64,
        num_heads=4,
        num_layers=2,
        num_decoder_layers=2,
        dim_feedforward=256,
        positional="learned",
    )


def _date_tensors(num: int, split: str, seed: int) -> dict[str, Any]:
    tok = date_tokenizer()
    examples = date_examples(num, split, seed=seed)
    src = tok.encode_batch([ex.text for ex in examples], max_len=40)
    tgt = tok.encode_batch([ex.iso for ex in examples], add_eos=True)
    return {
        "src": src.ids,
        "src_mask": src.padding_mask,
        "tgt": tgt.ids,
        "iso": [ex.iso for ex in examples],
        "text": [ex.text for ex in examples],
    }


@torch.no_grad()
def evaluate_date_translator(
    model: EncoderDecoder,
    src: Tensor,
    src_mask: Tensor,
    iso: list[str],
    batch_size: int = 500,
) -> float:
    """Exact-match accuracy of greedy decoding against the ISO strings.

    Introduced in chapter 12 (encoder-decoder).
    """
    tok = date_tokenizer()
    device = next(model.parameters()).device
    predictions: list[str] = []

    def run(rows: slice) -> None:
        rows_src, rows_mask = _trim(src[rows], src_mask[rows])
        out = model.generate(
            rows_src.to(device),
            max_new_tokens=11,
            bos_id=tok.bos_id,
            eos_id=tok.eos_id,
            src_padding_mask=rows_mask.to(device),
        )
        predictions.extend(tok.decode_batch(out.cpu()))

    _in_batches(len(src), batch_size, run)
    return sum(p == t for p, t in zip(predictions, iso, strict=True)) / len(iso)


def train_date_translator(
    seconds: float | None = 90.0,
    *,
    steps: int | None = None,
    config: EncoderDecoderConfig | None = None,
    batch_size: int = 64,
    lr: float = 3e-3,
    num_train: int = 50_000,
    num_test: int = 2_000,
    eval_every: int = 250,
    seed: int = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train an encoder–decoder to translate human dates into ISO dates.

    Teacher forcing in training (the decoder reads the ISO string shifted
    right); greedy decoding for the held-out exact match, on calendar days
    never seen in training.

    Args:
        seconds: the training budget (wall clock, evaluation excluded).
        steps: a step budget instead of (or as well as) ``seconds``.
        config: the model config (default :func:`date_config`).
        batch_size: examples per step.
        lr: peak learning rate.
        num_train: training examples.
        num_test: held-out examples.
        eval_every: steps between held-out evaluations (for the curve).
        seed: seeds the data, the initialisation and the batches.
        device: where to train.
        progress: show a progress bar.

    Returns:
        A :class:`TrainResult`; ``metrics["test_exact_match"]`` is the held-out share.

    Introduced in chapter 12 (encoder-decoder).
    """
    seconds, steps = _budget(seconds, steps)
    tok = date_tokenizer()
    train = _date_tensors(num_train, "train", seed)
    test = _date_tensors(num_test, "test", seed)
    torch.manual_seed(seed)
    model = EncoderDecoder(config or date_config(tok.vocab_size))
    if device is not None:
        model.to(device)

    def batch(generator: torch.Generator) -> tuple[Tensor, ...]:
        src, src_mask, tgt = sample_batch(
            train["src"],
            train["src_mask"],
            train["tgt"],
            batch_size=batch_size,
            generator=generator,
        )
        return (*_trim(src, src_mask), tgt)

    def loss_fn(m: nn.Module, b: tuple[Tensor, ...]) -> Tensor:
        src, src_mask, tgt = b
        logits = m(src, shift_right(tgt, tok.bos_id), src_mask).logits  # (N, T, V)
        return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=tok.pad_id)

    def eval_fn(m: nn.Module) -> dict[str, float]:
        return {
            "test_exact_match": evaluate_date_translator(
                m,
                test["src"],
                test["src_mask"],
                test["iso"],  # type: ignore[arg-type]
            )
        }

    history = fit(
        model,
        batch,
        loss_fn,
        steps=steps,
        max_seconds=seconds,
        lr=lr,
        eval_every=eval_every,
        eval_fn=eval_fn,
        seed=seed,
        progress=progress,
        desc="dates",
    )
    metrics = {"test_exact_match": history.final("test_exact_match")}
    return TrainResult(model, tok, history, metrics, {"train": train, "test": test})
