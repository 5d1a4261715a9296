"""Tests for attnbook.models: shapes, causality, padding, KV cache, overfitting, errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from attnbook.models import (
    POSITIONAL_SCHEMES,
    DecoderOnly,
    DecoderOnlyConfig,
    EncoderDecoder,
    EncoderDecoderConfig,
    EncoderOnly,
    EncoderOnlyConfig,
)

TINY = {"vocab_size": 13, "max_len": 10, "embed_dim": 16, "num_heads": 2, "dim_feedforward": 32}


# Tiny models: one torch thread for the whole module (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def _ids(*shape: int, vocab: int = 13, low: int = 1) -> torch.Tensor:
    return torch.randint(low, vocab, shape)


# --- shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
@pytest.mark.parametrize("norm_first", [True, False])
def test_every_model_and_scheme_has_the_documented_shapes(
    positional: str, norm_first: bool
) -> None:
    common = {**TINY, "positional": positional, "norm_first": norm_first}
    ids = _ids(3, 7)
    for head, shape in [
        ("sequence", (3, 4)),
        ("token", (3, 7, 4)),
        ("pointer", (3, 7)),
        ("mlm", (3, 7, 13)),
    ]:
        out = EncoderOnly(EncoderOnlyConfig(**common, head=head, num_labels=4))(ids)
        assert out.logits.shape == shape and out.hidden.shape == (3, 7, 16)
        assert out.attentions is None
    out = DecoderOnly(DecoderOnlyConfig(**common, num_layers=3))(ids, need_weights=True)
    assert out.logits.shape == (3, 7, 13)
    assert [tuple(a.shape) for a in out.attentions] == [(3, 2, 7, 7)] * 3
    model = EncoderDecoder(EncoderDecoderConfig(**common, num_decoder_layers=1, max_tgt_len=6))
    out = model(ids, _ids(3, 4), need_weights=True)
    assert out.logits.shape == (3, 4, 13)
    assert [tuple(a.shape) for a in out.encoder_attentions] == [(3, 2, 7, 7)] * 2
    assert [tuple(a.shape) for a in out.attentions] == [(3, 2, 4, 4)]
    assert [tuple(a.shape) for a in out.cross_attentions] == [(3, 2, 4, 7)]


def test_attention_weights_are_distributions_over_allowed_keys() -> None:
    model = EncoderOnly(EncoderOnlyConfig(**TINY, head="token"))
    ids = _ids(2, 6)
    mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    for weights in model(ids, mask, need_weights=True).attentions:
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 6))
        assert torch.all(weights[1, :, :, 4:] == 0)  # padded keys get no weight
    for weights in DecoderOnly(DecoderOnlyConfig(**TINY))(ids, need_weights=True).attentions:
        assert torch.all(weights.triu(1) == 0)  # no weight on later tokens


# --- causality and padding -------------------------------------------------------------


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_causal_logits_ignore_later_tokens(positional: str, device: torch.device) -> None:
    model = DecoderOnly(DecoderOnlyConfig(**TINY, positional=positional)).to(device).eval()
    ids = _ids(2, 9).to(device)
    for t in range(9):
        changed = ids.clone()
        changed[:, t + 1 :] = _ids(2, 8 - t).to(device)
        torch.testing.assert_close(model(changed).logits[:, : t + 1], model(ids).logits[:, : t + 1])
    ed = EncoderDecoder(EncoderDecoderConfig(**TINY, positional=positional)).to(device).eval()
    tgt = _ids(2, 6).to(device)
    changed = tgt.clone()
    changed[:, 3:] = _ids(2, 3).to(device)
    torch.testing.assert_close(ed(ids, changed).logits[:, :3], ed(ids, tgt).logits[:, :3])


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_padding_does_not_change_real_tokens(positional: str) -> None:
    config = EncoderOnlyConfig(**TINY, positional=positional, head="token")
    model = EncoderOnly(config).eval()
    short = _ids(1, 5)
    padded = torch.cat([short, _ids(1, 3)], dim=1)  # anything in the padding
    mask = torch.tensor([[True] * 5 + [False] * 3])
    torch.testing.assert_close(model(padded, mask).logits[:, :5], model(short).logits)
    for pooling in ("first", "mean"):
        seq = EncoderOnly(dataclasses.replace(config, head="sequence", pooling=pooling)).eval()
        torch.testing.assert_close(seq(padded, mask).logits, seq(short).logits)
    pointer = EncoderOnly(dataclasses.replace(config, head="pointer")).eval()
    logits = pointer(padded, mask).logits
    torch.testing.assert_close(logits[:, :5], pointer(short).logits)
    assert torch.all(logits[:, 5:] == torch.finfo(logits.dtype).min)
    ed = EncoderDecoder(EncoderDecoderConfig(**TINY, positional=positional)).eval()
    tgt = _ids(1, 4)
    torch.testing.assert_close(ed(padded, tgt, mask).logits, ed(short, tgt).logits)


# --- generation and the KV cache ----------------------------------------------------


@pytest.mark.parametrize("positional", POSITIONAL_SCHEMES)
def test_kv_cache_generation_equals_plain_generation(positional: str, device: torch.device) -> None:
    model = DecoderOnly(DecoderOnlyConfig(**TINY, positional=positional)).to(device)
    prompt = _ids(2, 3).to(device)
    # 12 new tokens overflow the context of 10: both paths must slide the window alike.
    greedy = model.generate(prompt, 12, temperature=0.0)
    assert torch.equal(greedy, model.generate(prompt, 12, do_sample=False, use_cache=False))
    for top_k in (None, 4):

        def sample(use_cache: bool, top_k: int | None = top_k) -> torch.Tensor:
            generator = torch.Generator(device=device).manual_seed(7)
            return model.generate(prompt, 12, 1.3, top_k, use_cache, generator)

        assert torch.equal(sample(True), sample(False))
    assert greedy.shape == (2, 15) and torch.equal(greedy[:, :3], prompt)
    assert model.training  # generate restores the mode it found


def test_cached_forward_equals_full_forward() -> None:
    model = DecoderOnly(DecoderOnlyConfig(**TINY, positional="relative")).eval()
    ids = _ids(2, 8)
    cache = model.new_cache()
    pieces = [model(ids[:, :5], cache=cache).logits]
    pieces += [model(ids[:, t : t + 1], cache=cache).logits for t in range(5, 8)]
    torch.testing.assert_close(torch.cat(pieces, 1), model(ids).logits, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="input_ids: a sequence of 3 tokens after 8 cached tokens"):
        model(ids[:, :3], cache=cache)


def test_sampling_controls() -> None:
    model = DecoderOnly(DecoderOnlyConfig(**TINY))
    prompt = _ids(4, 2)
    greedy = model.generate(prompt, 6, do_sample=False)
    one = model.generate(prompt, 6, top_k=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(greedy, one)  # top-1 sampling is greedy

    def draw(seed: int) -> torch.Tensor:
        return model.generate(
            prompt, 6, temperature=2.0, generator=torch.Generator().manual_seed(seed)
        )

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_encoder_decoder_greedy_decoding_stops_at_eos() -> None:
    model = EncoderDecoder(EncoderDecoderConfig(**TINY, max_tgt_len=8))
    src = _ids(3, 5)
    plain = model.generate(src, 8, bos_id=1, use_cache=False)
    assert torch.equal(plain, model.generate(src, 8, bos_id=1))
    eos = int(plain[0, 2])  # pretend the third token of row 0 ends the sequence
    out = model.generate(src, 8, bos_id=1, eos_id=eos)
    for row, full in zip(out, plain, strict=True):
        hits = (full == eos).nonzero()
        if len(hits) == 0:
            assert torch.equal(row[: len(full)], full)
            continue
        stop = int(hits[0])
        assert torch.equal(row[: stop + 1], full[: stop + 1])
        assert torch.all(row[stop + 1 :] == 0)  # pad after <eos>


# --- learning ----------------------------------------------------------------------------


def _overfit(
    model: torch.nn.Module, loss_fn: Callable[[], torch.Tensor], steps: int = 100
) -> float:
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = loss_fn()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return loss_fn().item()


@pytest.mark.parametrize("norm_first", [True, False])
def test_every_model_overfits_one_small_batch(norm_first: bool) -> None:
    common = {**TINY, "norm_first": norm_first}
    ids = _ids(4, 8)
    ids[:, 0] = torch.arange(1, 5)  # distinct first tokens: every next token is determined
    mask = torch.ones(4, 8, dtype=torch.bool)
    labels = torch.tensor([0, 1, 2, 1])
    enc = EncoderOnly(EncoderOnlyConfig(**common, head="sequence", num_labels=3))
    assert _overfit(enc, lambda: F.cross_entropy(enc(ids, mask).logits, labels)) < 0.05
    pointer = EncoderOnly(EncoderOnlyConfig(**common, head="pointer"))
    where = torch.tensor([3, 0, 7, 5])
    assert _overfit(pointer, lambda: F.cross_entropy(pointer(ids, mask).logits, where)) < 0.05
    lm = DecoderOnly(DecoderOnlyConfig(**common))
    loss = _overfit(
        lm, lambda: F.cross_entropy(lm(ids[:, :-1]).logits.flatten(0, 1), ids[:, 1:].flatten())
    )
    assert loss < 0.05
    ed = EncoderDecoder(EncoderDecoderConfig(**common))
    tgt = ids.flip(1)  # learn to reverse
    bos = torch.full((4, 1), 1)
    dec_in = torch.cat([bos, tgt[:, :-1]], dim=1)
    assert (
        _overfit(ed, lambda: F.cross_entropy(ed(ids, dec_in).logits.flatten(0, 1), tgt.flatten()))
        < 0.05
    )
    assert torch.equal(ed.generate(ids, 8, bos_id=1), tgt)


def test_dropout_is_off_in_eval() -> None:
    model = DecoderOnly(DecoderOnlyConfig(**TINY, dropout=0.3))
    ids = _ids(2, 6)
    assert not torch.equal(model(ids).logits, model(ids).logits)
    model.eval()
    assert torch.equal(model(ids).logits, model(ids).logits)


# --- bad input ---------------------------------------------------------------------------


def test_bad_input_is_refused_with_clear_messages() -> None:
    model = DecoderOnly(DecoderOnlyConfig(**TINY))
    with pytest.raises(ValueError, match=r"input_ids: id 13 is outside the vocabulary \[0, 13\)"):
        model(torch.tensor([[1, 13]]))
    with pytest.raises(
        ValueError, match="a sequence of 11 tokens is longer than the model's context max_len=10"
    ):
        model(_ids(1, 11))
    with pytest.raises(ValueError, match=r"input_ids: expected shape \(N, L\), got \(4,\)"):
        model(_ids(4))
    with pytest.raises(TypeError, match="input_ids: expected dtype torch.long, got torch.float32"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="prompt: a sequence of 11 tokens is longer"):
        model.generate(_ids(1, 11), 1)
    with pytest.raises(ValueError, match="top_k: expected 1 <= top_k <= vocab_size, got 0"):
        model.generate(_ids(1, 2), 1, top_k=0)
    with pytest.raises(ValueError, match="temperature: expected a number >= 0, got -1"):
        model.generate(_ids(1, 2), 1, temperature=-1)
    with pytest.raises(ValueError, match=r"cache: expected one KVCache per layer \(2\), got 1"):
        model(_ids(1, 2), cache=model.new_cache()[:1])
    enc = EncoderOnly(EncoderOnlyConfig(**TINY))
    with pytest.raises(TypeError, match="padding_mask: expected a bool tensor"):
        enc(_ids(1, 3), torch.ones(1, 3))
    with pytest.raises(
        ValueError, match=r"padding_mask: expected the shape of the ids \(1, 3\), got \(1, 4\)"
    ):
        enc(_ids(1, 3), torch.ones(1, 4, dtype=torch.bool))
    ed = EncoderDecoder(EncoderDecoderConfig(**TINY, max_tgt_len=4))
    with pytest.raises(
        ValueError,
        match="tgt_ids: a sequence of 5 tokens is longer than the model's context max_len=4",
    ):
        ed(_ids(1, 3), _ids(1, 5))
    with pytest.raises(ValueError, match="max_new_tokens: expected 0..max_tgt_len=4, got 9"):
        ed.generate(_ids(1, 3), 9, bos_id=1)


def test_mismatched_and_invalid_configs_are_refused() -> None:
    with pytest.raises(
        TypeError, match="config: expected a DecoderOnlyConfig, got EncoderOnlyConfig"
    ):
        DecoderOnly(EncoderOnlyConfig(**TINY))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="embed_dim: expected a multiple of num_heads=3, got 16"):
        DecoderOnlyConfig(**{**TINY, "num_heads": 3})
    with pytest.raises(ValueError, match="positional: expected one of"):
        DecoderOnlyConfig(**TINY, positional="fourier")
    with pytest.raises(ValueError, match="rope needs an even head width"):
        DecoderOnlyConfig(**{**TINY, "embed_dim": 6, "num_heads": 2}, positional="rope")
    with pytest.raises(ValueError, match="head: expected one of"):
        EncoderOnlyConfig(**TINY, head="span")
    with pytest.raises(ValueError, match="pooling: expected 'first' or 'mean', got 'max'"):
        EncoderOnlyConfig(**TINY, pooling="max")
    with pytest.raises(ValueError, match="vocab_size: expected a positive int, got 0"):
        EncoderDecoderConfig(vocab_size=0)
    with pytest.raises(ValueError, match="num_decoder_layers: expected a positive int, got 0"):
        EncoderDecoderConfig(vocab_size=5, num_decoder_layers=0)
