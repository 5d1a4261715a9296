"""Tests for attnbook.train: the loop, its schedule and budgets, checkpoints, recipes."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnbook.data import CharTokenizer, Tokenizer
from attnbook.models import (
    DecoderOnly,
    DecoderOnlyConfig,
    EncoderDecoder,
    EncoderDecoderConfig,
    EncoderOnly,
    EncoderOnlyConfig,
)
from attnbook.train import (
    History,
    char_lm_config,
    fast_mode,
    fit,
    load_checkpoint,
    make_optimizer,
    save_checkpoint,
    to_device,
    train_char_lm,
    train_date_translator,
    train_pronoun_resolver,
    warmup_cosine,
)

TINY = {"vocab_size": 11, "max_len": 12, "embed_dim": 16, "num_heads": 2, "dim_feedforward": 32}


# Tiny models: one torch thread for the whole module (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def _lm_batch(generator: torch.Generator) -> Tensor:
    # A learnable stream: each row counts up by one, modulo 10, from a random start.
    start = torch.randint(1, 11, (8, 1), generator=generator)
    return (start + torch.arange(9)) % 10 + 1  # (8, 9), ids 1..10


def _lm_loss(model: nn.Module, batch: Tensor) -> Tensor:
    logits = model(batch[:, :-1]).logits
    return F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())


def _lm() -> DecoderOnly:
    torch.manual_seed(0)
    return DecoderOnly(DecoderOnlyConfig(**TINY, dropout=0.1))


# --- the loop -----------------------------------------------------------------------------


def test_fit_learns_and_records_a_history(capsys: pytest.CaptureFixture[str]) -> None:
    model = _lm()
    calls = []

    def eval_fn(m: nn.Module) -> dict[str, float]:
        calls.append(m.training)
        return {"loss": float(_lm_loss(m, _lm_batch(torch.Generator().manual_seed(99))))}

    history = fit(
        model,
        _lm_batch,
        _lm_loss,
        steps=60,
        lr=1e-2,
        eval_fn=eval_fn,
        eval_every=25,
        progress=False,
    )
    assert isinstance(history, History) and history.steps == 60 and history.stopped_by == "steps"
    assert history.step == list(range(1, 61)) and len(history.loss) == len(history.lr) == 60
    assert history.eval_step == [25, 50, 60]  # every 25 steps, and once at the end
    assert calls == [False, False, False]  # evaluated in eval mode
    assert history.metrics["loss"][-1] < 0.5 * math.log(10)
    assert history.loss[-1] < history.loss[0]
    assert history.tokens == 60 * 8 * 9 and history.tokens_per_second > 0
    assert all(a <= b for a, b in zip(history.time, history.time[1:], strict=False))
    assert not model.training  # left in eval mode
    assert capsys.readouterr().err == ""  # progress=False prints nothing
    assert set(history.to_dict()) >= {"loss", "metrics", "tokens_per_second", "stopped_by"}


def test_progress_bar_can_be_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    fit(_lm(), _lm_batch, _lm_loss, steps=3, progress=True, desc="demo")
    assert "demo" in capsys.readouterr().err


def test_tqdm_disable_turns_the_bar_off_as_the_book_build_does() -> None:
    """tqdm reads TQDM_DISABLE when it is imported: a fresh process, like a book kernel."""
    code = (
        "import torch; from attnbook.train import fit; "
        "m = torch.nn.Linear(2, 1); x = torch.ones(4, 2); "
        "fit(m, lambda g: x, lambda m, b: m(b).pow(2).mean(), steps=3, progress=True, "
        "desc='demo')"
    )
    env = {**os.environ, "TQDM_DISABLE": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "demo" not in done.stderr


def test_two_runs_with_one_seed_give_identical_losses() -> None:
    a = fit(_lm(), _lm_batch, _lm_loss, steps=20, seed=3, progress=False)
    b = fit(_lm(), _lm_batch, _lm_loss, steps=20, seed=3, progress=False)
    c = fit(_lm(), _lm_batch, _lm_loss, steps=20, seed=4, progress=False)
    assert a.loss == b.loss  # dropout masks and batches repeat exactly
    assert a.loss != c.loss


def test_learning_rate_follows_warmup_then_cosine() -> None:
    history = fit(_lm(), _lm_batch, _lm_loss, steps=40, lr=0.01, warmup=0.25, progress=False)
    expected = [0.01 * warmup_cosine(i / 40, 0.25, 0.1) for i in range(40)]
    assert history.lr == pytest.approx(expected)
    assert history.lr[0] == 0.0 and max(history.lr) == pytest.approx(0.01)
    assert warmup_cosine(1.0, 0.25, 0.1) == pytest.approx(0.1)


def test_budgets_stop_by_time_and_by_stop_fn() -> None:
    history = fit(_lm(), _lm_batch, _lm_loss, max_seconds=0.3, progress=False)
    assert history.stopped_by == "max_seconds" and 0.3 <= history.seconds < 3.0
    stopped = fit(
        _lm(),
        _lm_batch,
        _lm_loss,
        steps=100,
        eval_fn=lambda m: {"x": 1.0},
        eval_every=5,
        stop_fn=lambda metrics: metrics["x"] > 0.5,
        progress=False,
    )
    assert stopped.stopped_by == "stop_fn" and stopped.steps == 5


def test_iterable_data_runs_epoch_after_epoch() -> None:
    batches = [_lm_batch(torch.Generator().manual_seed(i)) for i in range(3)]
    history = fit(_lm(), batches, _lm_loss, steps=7, progress=False)
    assert history.steps == 7
    with pytest.raises(ValueError, match="train_data: the iterable yielded no batches"):
        fit(_lm(), [], _lm_loss, steps=2, progress=False)


def test_gradients_are_clipped(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    original = nn.utils.clip_grad_norm_

    def spy(parameters, max_norm, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append(max_norm)
        return original(parameters, max_norm, *args, **kwargs)

    monkeypatch.setattr(nn.utils, "clip_grad_norm_", spy)
    fit(_lm(), _lm_batch, _lm_loss, steps=3, grad_clip=0.5, progress=False)
    assert seen == [0.5, 0.5, 0.5]
    seen.clear()
    fit(_lm(), _lm_batch, _lm_loss, steps=3, grad_clip=None, progress=False)
    assert seen == []


def test_device_placement(device: torch.device) -> None:
    model = _lm()
    places = []

    def loss_fn(m: nn.Module, batch: Tensor) -> Tensor:
        places.append(batch.device.type)
        return _lm_loss(m, batch)

    fit(model, _lm_batch, loss_fn, steps=2, device=device, progress=False)
    assert next(model.parameters()).device.type == device.type
    assert places == [device.type, device.type]
    moved = to_device({"a": (torch.ones(1), [torch.zeros(2)]), "n": 1}, device)
    assert moved["a"][1][0].device.type == device.type and moved["n"] == 1


def test_weight_decay_only_on_matrices() -> None:
    optimizer = make_optimizer(_lm(), weight_decay=0.1)
    decayed, plain = optimizer.param_groups
    assert all(p.dim() >= 2 for p in decayed["params"]) and decayed["weight_decay"] == 0.1
    assert all(p.dim() < 2 for p in plain["params"]) and plain["weight_decay"] == 0.0


def test_fit_errors() -> None:
    with pytest.raises(ValueError, match="steps, max_seconds: expected at least one budget"):
        fit(_lm(), _lm_batch, _lm_loss)
    with pytest.raises(ValueError, match="steps: expected a positive int, got 0"):
        fit(_lm(), _lm_batch, _lm_loss, steps=0)
    with pytest.raises(ValueError, match=r"warmup: expected a share in \[0, 1\), got 1.5"):
        fit(_lm(), _lm_batch, _lm_loss, steps=1, warmup=1.5)
    with pytest.raises(TypeError, match="train_data: expected a callable"):
        fit(_lm(), 3, _lm_loss, steps=1, progress=False)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="loss: became nan at step 1"):
        fit(_lm(), _lm_batch, lambda m, b: torch.tensor(float("nan")), steps=1, progress=False)


# --- checkpoints ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["encoder", "decoder", "encoder-decoder"])
def test_checkpoint_round_trip_gives_identical_outputs(kind: str, tmp_path: Path) -> None:
    ids = torch.randint(1, 11, (2, 6))
    if kind == "encoder":
        model = EncoderOnly(EncoderOnlyConfig(**TINY, positional="relative", head="mlm"))
        run = lambda m: m(ids, ids != 0).logits  # noqa: E731
    elif kind == "decoder":
        model = DecoderOnly(DecoderOnlyConfig(**TINY, positional="rope", norm_first=False))
        run = lambda m: m.generate(ids, 4, generator=torch.Generator().manual_seed(1))  # noqa: E731
    else:
        model = EncoderDecoder(EncoderDecoderConfig(**TINY, positional="learned"))
        run = lambda m: m(ids, ids[:, :3]).logits  # noqa: E731
    # Train a little so the weights are not the initial ones.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    tok = CharTokenizer("abcdef")
    path = tmp_path / "model.pt"
    save_checkpoint(path, model, extra={"tokenizer": tok.to_dict(), "steps": 3})
    loaded, extra = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert not loaded.training
    model.eval()
    assert torch.equal(run(loaded), run(model))
    for (name, a), (_, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert Tokenizer.from_dict(extra["tokenizer"]) == tok and extra["steps"] == 3
    # Loading into an existing model of the same config works too.
    again, _ = load_checkpoint(path, model=type(model)(model.config))
    assert torch.equal(run(again), run(model))


def test_checkpoint_mismatches_are_refused(tmp_path: Path) -> None:
    model = DecoderOnly(DecoderOnlyConfig(**TINY))
    path = tmp_path / "lm.pt"
    save_checkpoint(path, model)
    wider = DecoderOnly(DecoderOnlyConfig(**{**TINY, "embed_dim": 32}))
    with pytest.raises(
        ValueError, match="config does not match the checkpoint: embed_dim: checkpoint 16, model 32"
    ):
        load_checkpoint(path, model=wider)
    with pytest.raises(
        ValueError, match="the checkpoint holds a attnbook.models.DecoderOnly, got a"
    ):
        load_checkpoint(path, model=EncoderOnly(EncoderOnlyConfig(**TINY)))
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not an attnbook checkpoint"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(
        TypeError, match="model: expected a model with a dataclass `config` attribute"
    ):
        save_checkpoint(path, nn.Linear(2, 2))


# --- recipes and fast mode ----------------------------------------------------------------


def test_fast_mode_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTNBOOK_FAST", "1")
    assert fast_mode()
    monkeypatch.setenv("ATTNBOOK_FAST", "0")
    assert not fast_mode()


def test_recipes_run_end_to_end_in_fast_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATTNBOOK_FAST", "1")
    pronoun = train_pronoun_resolver(600, num_train=500, num_test=100, progress=False)
    assert pronoun.history.seconds < 10  # the 600 s budget shrank to a few seconds
    assert pronoun.history.stopped_by == "max_seconds"
    assert 0.0 <= pronoun.metrics["test_accuracy"] <= 1.0
    assert pronoun.data["test"]["ids"].shape == (100, 32)
    dates = train_date_translator(None, steps=3, num_train=200, num_test=50, progress=False)
    assert dates.history.steps <= 3 and 0.0 <= dates.metrics["test_exact_match"] <= 1.0
    small = dataclasses.replace(char_lm_config(), embed_dim=16, num_layers=1, dim_feedforward=32)
    lm = train_char_lm(None, steps=2, batch_size=4, config=small, progress=False)
    assert lm.history.steps == 2
    # Two steps barely move a model: its loss is still near uniform guessing.
    assert (
        0.5 * math.log(lm.tokenizer.vocab_size)
        < lm.metrics["val_loss"]
        < 1.2 * math.log(lm.tokenizer.vocab_size)
    )
