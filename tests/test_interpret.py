"""attnbook.interpret: attention rollout and head ablation, against hand-written references."""

from __future__ import annotations

import pytest
import torch

from attnbook.attention import MultiheadAttention
from attnbook.interpret import ablate_heads, attention_rollout

FP64 = {"rtol": 1e-12, "atol": 1e-12}


def random_weights(*shape: int, seed: int = 0) -> torch.Tensor:
    """Rows of attention weights (softmax over the last axis), float64."""
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(2 * torch.randn(*shape, generator=g, dtype=torch.float64), dim=-1)


def loop_rollout(attentions: list[torch.Tensor], residual: float = 0.5) -> torch.Tensor:
    """Rollout of (H, L, L) maps written with explicit loops over heads, rows and layers."""
    H, L, _ = attentions[0].shape
    result = torch.eye(L, dtype=torch.float64)
    for weights in attentions:
        step = torch.zeros(L, L, dtype=torch.float64)
        for i in range(L):
            for j in range(L):
                mean = sum(weights[h, i, j] for h in range(H)) / H
                step[i, j] = (1 - residual) * mean + residual * (i == j)
            step[i] /= step[i].sum()
        result = step @ result  # the later layer acts on what the earlier ones produced
    return result


# --------------------------------------------------------------------------- rollout


def test_rollout_of_one_layer_is_half_mean_plus_half_identity() -> None:
    w = random_weights(3, 5, 5)  # (H, L, L)
    torch.testing.assert_close(
        attention_rollout([w]), 0.5 * w.mean(0) + 0.5 * torch.eye(5, dtype=w.dtype), **FP64
    )


@pytest.mark.parametrize("layers", [1, 2, 4])
@pytest.mark.parametrize("residual", [0.0, 0.3, 0.5, 1.0])
def test_rollout_rows_sum_to_one(layers: int, residual: float) -> None:
    attentions = [random_weights(2, 6, 6, seed=s) for s in range(layers)]
    R = attention_rollout(attentions, residual=residual)
    assert R.shape == (6, 6) and R.dtype == torch.float64
    torch.testing.assert_close(R.sum(-1), torch.ones(6, dtype=torch.float64), **FP64)
    assert (R >= 0).all()


@pytest.mark.parametrize("residual", [0.0, 0.25, 0.5, 1.0])
@pytest.mark.parametrize(("layers", "heads", "L"), [(1, 1, 3), (3, 4, 6), (4, 2, 7)])
def test_rollout_equals_a_hand_written_loop(layers: int, heads: int, L: int, residual) -> None:
    attentions = [random_weights(heads, L, L, seed=10 * layers + s) for s in range(layers)]
    expected = loop_rollout(attentions, residual)
    torch.testing.assert_close(attention_rollout(attentions, residual=residual), expected, **FP64)


def test_rollout_residual_one_is_identity() -> None:
    attentions = [random_weights(2, 4, 4, seed=s) for s in range(3)]
    torch.testing.assert_close(
        attention_rollout(attentions, residual=1.0), torch.eye(4, dtype=torch.float64)
    )


def test_rollout_layer_order_matters() -> None:
    # Layer 0 copies token 0 everywhere; layer 1 shifts each token to the next one.
    # Copy-then-shift and shift-then-copy give different matrices.
    L = 3
    copy = torch.zeros(1, L, L, dtype=torch.float64)
    copy[0, :, 0] = 1  # every query reads token 0
    shift = torch.zeros(1, L, L, dtype=torch.float64)
    shift[0, torch.arange(L), (torch.arange(L) + 1) % L] = 1  # query i reads token i + 1
    forward = attention_rollout([copy, shift])
    backward = attention_rollout([shift, copy])
    assert not torch.allclose(forward, backward)
    tilde = [0.5 * a[0] + 0.5 * torch.eye(L, dtype=torch.float64) for a in (copy, shift)]
    torch.testing.assert_close(forward, tilde[1] @ tilde[0], **FP64)  # first layer on the right
    torch.testing.assert_close(backward, tilde[0] @ tilde[1], **FP64)
    # and on random maps too
    a, b = random_weights(2, 5, 5, seed=1), random_weights(2, 5, 5, seed=2)
    assert not torch.allclose(attention_rollout([a, b]), attention_rollout([b, a]))


def test_rollout_batch_dimensions() -> None:
    attentions = [random_weights(2, 3, 4, 5, 5, seed=s) for s in range(3)]  # (N, M, H, L, L)
    R = attention_rollout(attentions)
    assert R.shape == (2, 3, 5, 5)
    for n in range(2):
        for m in range(3):
            one = attention_rollout([a[n, m] for a in attentions])
            torch.testing.assert_close(R[n, m], one, **FP64)


def test_rollout_accepts_a_tuple_and_unbound_stack() -> None:
    stacked = random_weights(3, 2, 4, 4)  # (layers, H, L, L)
    expected = attention_rollout(list(stacked))
    torch.testing.assert_close(attention_rollout(tuple(stacked.unbind(0))), expected)


def test_rollout_keeps_dtype_and_leaves_inputs_alone() -> None:
    attentions = [random_weights(2, 4, 4, seed=s).float() for s in range(2)]
    saved = [a.clone() for a in attentions]
    R = attention_rollout(attentions)
    assert R.dtype == torch.float32
    for a, s in zip(attentions, saved, strict=True):
        assert torch.equal(a, s)


@pytest.mark.parametrize(
    ("attentions", "kwargs", "error", "message"),
    [
        ([], {}, ValueError, r"attentions: expected at least one layer.*got an empty sequence"),
        (
            [torch.rand(2, 3, 4)],
            {},
            ValueError,
            r"attentions\[0\]: expected square maps of shape \(\.\.\., H, L, L\), got \(2, 3, 4\)",
        ),
        (
            [torch.rand(4, 4)],
            {},
            ValueError,
            r"attentions\[0\]: expected square maps .* got \(4, 4\)",
        ),
        (
            [torch.rand(2, 4, 4), torch.rand(3, 4, 4)],
            {},
            ValueError,
            r"attentions\[1\]: expected the shape of attentions\[0\], \(2, 4, 4\), got \(3, 4, 4\)",
        ),
        (
            [torch.rand(2, 4, 4)],
            {"residual": 1.5},
            ValueError,
            r"residual: expected a number in \[0, 1\], got 1\.5",
        ),
        (
            [torch.rand(2, 4, 4)],
            {"residual": -0.1},
            ValueError,
            r"residual: expected a number in \[0, 1\], got -0\.1",
        ),
        (
            torch.rand(3, 2, 4, 4),
            {},
            TypeError,
            r"attentions: expected a sequence of per-layer tensors.*\(3, 2, 4, 4\).*unbind",
        ),
        (
            [torch.ones(2, 4, 4, dtype=torch.long)],
            {},
            TypeError,
            r"attentions\[0\]: expected a floating-point tensor, got dtype torch\.int64",
        ),
        ([[[0.5]]], {}, TypeError, r"attentions\[0\]: expected a torch\.Tensor, got list"),
    ],
)
def test_rollout_errors(attentions, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        attention_rollout(attentions, **kwargs)


# --------------------------------------------------------------------------- ablation


def make_layers(num_layers: int = 2, embed_dim: int = 12, num_heads: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    layers = [MultiheadAttention(embed_dim, num_heads) for _ in range(num_layers)]
    with torch.no_grad():
        for mha in layers:
            mha.out_proj.bias.normal_()  # a non-zero bias, so that it is tested too
    return layers


def stack(layers, x: torch.Tensor) -> torch.Tensor:
    """A tiny 'model': self-attention layers with residual connections."""
    for mha in layers:
        x = x + mha(x, x, x)[0]
    return x


def manual_ablation(mha: MultiheadAttention, x: torch.Tensor, heads) -> torch.Tensor:
    """Self-attention with `heads` zeroed, computed by hand from the per-head outputs."""
    N, L, E = x.shape
    H, d_h = mha.num_heads, mha.head_dim
    split = lambda t: t.view(N, L, H, d_h).transpose(1, 2)  # noqa: E731  (N, H, L, d_h)
    q, k, v = split(mha.q_proj(x)), split(mha.k_proj(x)), split(mha.v_proj(x))
    weights = torch.softmax(q @ k.transpose(-2, -1) / d_h**0.5, dim=-1)  # (N, H, L, L)
    per_head = weights @ v  # (N, H, L, d_h)
    for h in heads:
        per_head[:, h] = 0
    return mha.out_proj(per_head.transpose(1, 2).reshape(N, L, E))


@pytest.mark.parametrize("heads", [[0], [2], [0, 2], [0, 1, 2]])
def test_ablation_equals_manual_computation(heads) -> None:
    (mha,) = make_layers(1)
    x = torch.randn(2, 5, 12)
    with torch.no_grad():
        with ablate_heads([mha], [(0, h) for h in heads]):
            got, _ = mha(x, x, x)
        expected = manual_ablation(mha, x, heads)
        intact, _ = mha(x, x, x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got, intact)


def test_ablation_equals_zeroing_out_proj_columns() -> None:
    layers = make_layers(2)
    x = torch.randn(3, 4, 12)
    with torch.no_grad():
        with ablate_heads(layers, [(1, 2), (0, 0)]):
            hooked = stack(layers, x)
        d_h = layers[0].head_dim
        layers[1].out_proj.weight[:, 2 * d_h : 3 * d_h] = 0
        layers[0].out_proj.weight[:, 0:d_h] = 0
        zeroed = stack(layers, x)
    torch.testing.assert_close(hooked, zeroed, rtol=1e-5, atol=1e-6)


def test_ablation_only_touches_the_chosen_layer() -> None:
    layers = make_layers(2)
    x = torch.randn(1, 4, 12)
    with torch.no_grad():
        with ablate_heads(layers, [(1, 0)]):
            first = layers[0](x, x, x)[0]
            second = layers[1](x, x, x)[0]
        torch.testing.assert_close(first, layers[0](x, x, x)[0], rtol=0, atol=0)
        torch.testing.assert_close(second, manual_ablation(layers[1], x, [0]))


def test_ablating_nothing_changes_nothing() -> None:
    layers = make_layers(2)
    x = torch.randn(2, 4, 12)
    with torch.no_grad():
        before = stack(layers, x)
        with ablate_heads(layers, []):
            assert all(len(m.out_proj._forward_pre_hooks) == 0 for m in layers)
            during = stack(layers, x)
    assert torch.equal(before, during)


def test_ablation_duplicates_and_generators() -> None:
    layers = make_layers(2)
    x = torch.randn(2, 4, 12)
    with torch.no_grad():
        with ablate_heads(layers, [(0, 1)]):
            once = stack(layers, x)
        with ablate_heads(layers, ((layer, 1) for layer in [0, 0])):  # a generator, twice
            twice = stack(layers, x)
    assert torch.equal(once, twice)


def test_hooks_are_removed_after_the_block() -> None:
    layers = make_layers(2)
    x = torch.randn(2, 4, 12)
    with torch.no_grad():
        before = stack(layers, x)
        with ablate_heads(layers, [(0, 0), (1, 1), (1, 2)]):
            assert [len(m.out_proj._forward_pre_hooks) for m in layers] == [1, 1]
        assert all(len(m.out_proj._forward_pre_hooks) == 0 for m in layers)
        assert torch.equal(stack(layers, x), before)


def test_hooks_are_removed_after_an_exception() -> None:
    layers = make_layers(2)
    x = torch.randn(2, 4, 12)
    with torch.no_grad():
        before = stack(layers, x)
        with pytest.raises(RuntimeError, match="inside the block"):
            with ablate_heads(layers, [(0, 0), (1, 2)]):
                raise RuntimeError("inside the block")
        assert all(len(m.out_proj._forward_pre_hooks) == 0 for m in layers)
        assert torch.equal(stack(layers, x), before)


def test_ablation_gradients_skip_the_ablated_head() -> None:
    (mha,) = make_layers(1)
    x = torch.randn(1, 4, 12)
    with ablate_heads([mha], [(0, 1)]):
        mha(x, x, x)[0].sum().backward()
    d_h = mha.head_dim
    grad = mha.out_proj.weight.grad
    assert torch.equal(grad[:, d_h : 2 * d_h], torch.zeros_like(grad[:, d_h : 2 * d_h]))
    assert grad[:, :d_h].abs().sum() > 0


def test_ablation_with_a_model() -> None:
    from attnbook.models import EncoderOnly, EncoderOnlyConfig

    config = EncoderOnlyConfig(vocab_size=11, embed_dim=16, num_heads=4, num_layers=2, head="token")
    torch.manual_seed(0)
    model = EncoderOnly(config).eval()
    ids = torch.randint(0, 11, (2, 6))
    modules = [layer.self_attn for layer in model.layers]
    with torch.no_grad():
        intact = model(ids).logits
        with ablate_heads(modules, [(1, 3)]):
            ablated = model(ids).logits
        w = modules[1].out_proj.weight
        d_h = modules[1].head_dim
        w[:, 3 * d_h : 4 * d_h] = 0
        zeroed = model(ids).logits
    torch.testing.assert_close(ablated, zeroed)
    assert not torch.allclose(ablated, intact)


@pytest.mark.parametrize(
    ("heads", "error", "message"),
    [
        ([(2, 0)], ValueError, r"heads: expected a layer index in \[0, 2\) .* got 2 in \(2, 0\)"),
        ([(-1, 0)], ValueError, r"heads: expected a layer index in \[0, 2\) .* got -1"),
        (
            [(0, 3)],
            ValueError,
            r"heads: expected a head index in \[0, 3\) for layer 0, got 3 in \(0, 3\)",
        ),
        ([(1, -1)], ValueError, r"heads: expected a head index in \[0, 3\) for layer 1, got -1"),
        ([0], TypeError, r"heads: expected \(layer, head\) pairs of ints, got 0"),
        ([(0, 1, 2)], TypeError, r"heads: expected \(layer, head\) pairs of ints, got \(0, 1, 2\)"),
        ([(0, 1.0)], TypeError, r"heads: expected \(layer, head\) pairs of ints, got \(0, 1\.0\)"),
        ([(True, 0)], TypeError, r"heads: expected \(layer, head\) pairs of ints"),
    ],
)
def test_ablation_errors(heads, error, message) -> None:
    layers = make_layers(2)
    with pytest.raises(error, match=message):
        with ablate_heads(layers, [(0, 0), *heads]):
            pass
    assert all(len(m.out_proj._forward_pre_hooks) == 0 for m in layers)  # nothing left behind


def test_ablation_refuses_other_modules() -> None:
    with pytest.raises(
        TypeError,
        match=r"attention_modules\[0\]: expected an attnbook\.attention\.MultiheadAttention, "
        r"got torch\.nn\..*MultiheadAttention \(convert .*from_torch\)",
    ):
        with ablate_heads([torch.nn.MultiheadAttention(8, 2)], [(0, 0)]):
            pass
