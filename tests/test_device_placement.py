"""No tensor is created on the default device when the inputs live elsewhere.

A function that calls ``torch.zeros(n)`` or ``torch.arange(n)`` without
``device=`` works on a CPU-only machine and breaks on a GPU ("Expected all
tensors to be on the same device"). This machine may have no GPU, so the tests
make the *default* device a different one: under ``with torch.device("meta")``
every tensor created without an explicit device lands on the meta device, and
combining it with the CPU inputs raises at once. A model that places every
tensor it creates on its inputs' device runs unchanged.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from attnbook.attention import KVCache, MultiheadAttention
from attnbook.efficient import (
    hierarchical_attention,
    linear_attention,
    sliding_window_attention,
    strided_attention,
    tiled_attention,
)
from attnbook.interpret import ablate_heads
from attnbook.models import DecoderOnly, EncoderDecoder, EncoderOnly
from attnbook.train import char_lm_config, date_config, pronoun_config

POSITIONAL = ["sinusoidal", "learned", "relative", "rope", "alibi"]


@pytest.fixture
def ids() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randint(3, 20, (2, 10))  # (N, L) token ids on the CPU


def elsewhere():
    """Make every tensor created without ``device=`` land on the meta device."""
    return torch.device("meta")


@pytest.mark.parametrize("positional", POSITIONAL)
def test_encoder_only_creates_tensors_on_its_inputs_device(positional, ids) -> None:
    model = EncoderOnly(dataclasses.replace(pronoun_config(), positional=positional)).eval()
    with elsewhere():
        out = model(ids, ids != 0, need_weights=True)
    assert out.logits.device.type == "cpu"


@pytest.mark.parametrize("positional", POSITIONAL)
def test_decoder_only_forward_and_generation(positional, ids) -> None:
    model = DecoderOnly(dataclasses.replace(char_lm_config(100), positional=positional)).eval()
    with elsewhere():
        out = model(ids, need_weights=True)
        cached = model.generate(ids[:, :3], 5, do_sample=False)
        sampled = model.generate(ids[:, :3], 5, top_k=5, generator=torch.Generator().manual_seed(0))
    assert out.logits.device.type == cached.device.type == sampled.device.type == "cpu"


@pytest.mark.parametrize("positional", POSITIONAL)
def test_encoder_decoder_forward_and_greedy_decoding(positional, ids) -> None:
    model = EncoderDecoder(dataclasses.replace(date_config(), positional=positional)).eval()
    with elsewhere():
        out = model(ids, ids, ids != 0, need_weights=True)
        decoded = model.generate(ids, 6, bos_id=1, eos_id=2, src_padding_mask=ids != 0)
    assert out.logits.device.type == decoded.device.type == "cpu"


def test_multihead_attention_with_masks_and_a_cache() -> None:
    mha = MultiheadAttention(16, 4).eval()
    x = torch.randn(2, 6, 16)  # (N, L, E)
    padding = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])  # True = padding, as torch
    with elsewhere():
        out, weights = mha(x, x, x, key_padding_mask=padding, need_weights=True)
        causal, _ = mha(x, x, x, is_causal=True)
        cache = KVCache()
        for t in range(3):
            mha(x[:, t : t + 1], x[:, t : t + 1], x[:, t : t + 1], cache=cache)
        with ablate_heads([mha], [(0, 1)]):
            ablated, _ = mha(x, x, x)
    assert out.device.type == causal.device.type == ablated.device.type == "cpu"


@pytest.mark.parametrize("is_causal", [False, True])
def test_efficient_attention_functions(is_causal) -> None:
    q, k, v = (torch.randn(1, 2, 50, 8) for _ in range(3))  # (N, H, L, E)
    with elsewhere():
        outs = [
            tiled_attention(q, k, v, is_causal=is_causal, block_q=16, block_k=16),
            sliding_window_attention(q, k, v, 5, is_causal=is_causal),
            linear_attention(q, k, v, is_causal=is_causal),
            hierarchical_attention(q, k, v, 8, is_causal=is_causal),
            strided_attention(q, k, v, 7, is_causal=is_causal),
        ]
    assert all(o.device.type == "cpu" for o in outs)


def test_the_trick_catches_a_tensor_created_on_the_default_device() -> None:
    def careless(x):
        return x + torch.zeros(x.shape[-1])  # no device=: the default device

    x = torch.ones(3)  # created outside: on the CPU, like the inputs above
    with elsewhere(), pytest.raises(RuntimeError, match="device"):
        careless(x)
