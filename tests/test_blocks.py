"""Tests for attnbook.blocks: parity with torch's transformer layers, norms, dropout, causality."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnbook.attention import KVCache
from attnbook.blocks import DecoderLayer, EncoderLayer, FeedForward

# Tiny models: one torch thread for the whole module (see conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def _torch_twin(
    cls: type[nn.TransformerEncoderLayer | nn.TransformerDecoderLayer],
    ours: EncoderLayer | DecoderLayer,
    activation: str,
    norms: tuple[str, ...],
) -> nn.Module:
    # torch's layer of the same sizes, with our self-attention, feed-forward and norms.
    E = ours.norm1.normalized_shape[0]
    theirs = cls(
        E,
        ours.self_attn.num_heads,
        ours.ff.linear1.out_features,
        dropout=0.0,
        activation=activation,
        batch_first=True,
        norm_first=ours.norm_first,
    )
    theirs.self_attn.load_state_dict(ours.self_attn.to_torch().state_dict())
    for name in ("linear1", "linear2"):
        getattr(theirs, name).load_state_dict(getattr(ours.ff, name).state_dict())
    for name in norms:
        getattr(theirs, name).load_state_dict(getattr(ours, name).state_dict())
    return theirs


def _copy_encoder_to_torch(ours: EncoderLayer, activation: str) -> nn.TransformerEncoderLayer:
    theirs = _torch_twin(nn.TransformerEncoderLayer, ours, activation, ("norm1", "norm2"))
    return theirs.eval()


def _copy_decoder_to_torch(ours: DecoderLayer, activation: str) -> nn.TransformerDecoderLayer:
    theirs = _torch_twin(nn.TransformerDecoderLayer, ours, activation, ("norm1", "norm2", "norm3"))
    assert ours.multihead_attn is not None
    theirs.multihead_attn.load_state_dict(ours.multihead_attn.to_torch().state_dict())
    return theirs.eval()


def _randomize_norms(module: nn.Module) -> None:
    # LayerNorms start at weight 1, bias 0: randomise so a swapped norm would show.
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


def test_feed_forward_is_two_linear_maps_around_the_activation() -> None:
    ff = FeedForward(6, 10, activation="relu")
    x = torch.randn(3, 4, 6)
    expected = ff.linear2(torch.relu(ff.linear1(x)))
    torch.testing.assert_close(ff(x), expected)
    assert ff.linear1.weight.shape == (10, 6)


@pytest.fixture
def standard_path():
    """torch's transformer layers without their inference fast path, restored after.

    In eval mode under no_grad, torch.nn.TransformerEncoderLayer may run fused kernels
    instead of its submodules. On CUDA (torch 2.11, H200) their GELU differs from
    F.gelu by ~1e-4, so parity is checked against the standard path.
    """
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    yield
    torch.backends.mha.set_fastpath_enabled(enabled)


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(
    norm_first: bool, activation: str, device: torch.device, standard_path: None
) -> None:
    ours = EncoderLayer(16, 4, 32, activation=activation, norm_first=norm_first).eval()
    _randomize_norms(ours)
    theirs = _copy_encoder_to_torch(ours, activation).to(device)
    ours = ours.to(device)
    x = torch.randn(3, 7, 16, device=device)
    lengths = torch.tensor([7, 5, 2], device=device)
    real = torch.arange(7, device=device) < lengths[:, None]  # (N, S), True = real token
    with torch.no_grad():  # as in inference, where torch would take its fast path
        out, _ = ours(x, key_padding_mask=real)
        expected = theirs(x, src_key_padding_mask=~real)  # torch: True = padding
    torch.testing.assert_close(out[real], expected[real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("norm_first", [True, False])
def test_decoder_layer_matches_torch(norm_first: bool) -> None:
    ours = DecoderLayer(16, 2, 24, activation="gelu", norm_first=norm_first).eval()
    _randomize_norms(ours)
    theirs = _copy_decoder_to_torch(ours, "gelu")
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 6, 16)
    memory_real = torch.tensor([[True] * 6, [True] * 3 + [False] * 3])
    out, _, _ = ours(x, memory, memory_key_padding_mask=memory_real)
    causal = nn.Transformer.generate_square_subsequent_mask(5)  # float, -inf above the diagonal
    expected = theirs(
        x, memory, tgt_mask=causal, memory_key_padding_mask=~memory_real, tgt_is_causal=True
    )
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_post_norm_ends_normalised_and_pre_norm_does_not() -> None:
    x = 3 * torch.randn(2, 5, 16) + 1
    post, _ = EncoderLayer(16, 4, 32, norm_first=False)(x)
    pre, _ = EncoderLayer(16, 4, 32, norm_first=True)(x)
    torch.testing.assert_close(post.mean(-1), torch.zeros(2, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(post.std(-1, unbiased=False), torch.ones(2, 5), atol=1e-3, rtol=0)
    assert pre.std(-1).mean() > 1.5  # the residual stream keeps the input's scale


@pytest.mark.parametrize("layer_cls", [EncoderLayer, DecoderLayer])
def test_dropout_is_off_in_eval_and_on_in_training(layer_cls: type[nn.Module]) -> None:
    layer = layer_cls(16, 4, 32, dropout=0.5)
    x = torch.randn(2, 5, 16)
    args = (x,) if layer_cls is EncoderLayer else (x, torch.randn(2, 3, 16))
    layer.train()
    assert not torch.equal(layer(*args)[0], layer(*args)[0])
    layer.eval()
    torch.testing.assert_close(layer(*args)[0], layer(*args)[0], rtol=0, atol=0)
    # In eval, dropout=0.5 gives exactly what the same weights give with dropout=0.
    clean = layer_cls(16, 4, 32, dropout=0.0).eval()
    clean.load_state_dict(layer.state_dict())
    torch.testing.assert_close(layer(*args)[0], clean(*args)[0])


def test_decoder_layer_is_causal_and_its_cache_matches(device: torch.device) -> None:
    layer = DecoderLayer(16, 4, 32).to(device).eval()
    x, memory = torch.randn(2, 6, 16, device=device), torch.randn(2, 4, 16, device=device)
    full, self_w, cross_w = layer(x, memory, need_weights=True)
    changed = x.clone()
    changed[:, 4:] = torch.randn(2, 2, 16, device=device)
    torch.testing.assert_close(layer(changed, memory)[0][:, :4], full[:, :4])
    assert self_w.shape == (2, 4, 6, 6) and cross_w.shape == (2, 4, 6, 4)
    assert torch.all(self_w.triu(1) == 0)
    cache = KVCache()
    steps = [layer(x[:, :2], memory, cache=cache)[0]]
    steps += [layer(x[:, t : t + 1], memory, cache=cache)[0] for t in range(2, 6)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_decoder_layer_without_cross_attention_is_a_gpt_block() -> None:
    layer = DecoderLayer(8, 2, 16, cross_attention=False)
    assert layer.multihead_attn is None and layer.norm2 is None
    out, _, cross = layer(torch.randn(1, 3, 8), need_weights=True)
    assert out.shape == (1, 3, 8) and cross is None
    with pytest.raises(
        ValueError, match="this layer has no cross-attention, so memory must be None"
    ):
        layer(torch.randn(1, 3, 8), torch.randn(1, 2, 8))
    with pytest.raises(
        ValueError, match="this layer has cross-attention, so memory must be a tensor"
    ):
        DecoderLayer(8, 2, 16)(torch.randn(1, 3, 8))


def test_encoder_layer_gradients_in_float64() -> None:
    layer = EncoderLayer(4, 2, 6).double()
    x = torch.randn(1, 3, 4, dtype=torch.float64, requires_grad=True)
    real = torch.tensor([[True, True, False]])
    assert torch.autograd.gradcheck(lambda t: layer(t, key_padding_mask=real)[0], (x,))


def test_layer_argument_errors() -> None:
    with pytest.raises(ValueError, match="embed_dim: expected a multiple of num_heads=3, got 16"):
        EncoderLayer(16, 3, 32)
    with pytest.raises(ValueError, match=r"activation: expected one of \['gelu', 'relu'\]"):
        FeedForward(8, 16, activation="tanh")
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\), got 1.0"):
        DecoderLayer(8, 2, 16, dropout=1.0)
    with pytest.raises(ValueError, match="dim_feedforward: expected a positive int, got 0"):
        EncoderLayer(8, 2, 0)
