"""The widgets' Python side: construction, validation, data shaping, state, reference numbers.

What the page computes is checked in test_browser_widgets.py against the
reference methods tested here (which are in turn checked against torch).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook import masks
from attnbook.positional import sinusoidal_table
from attnbook.widgets import (
    AttentionLookup,
    AttentionMap,
    CostExplorer,
    DotProductExplorer,
    MaskExplorer,
    PositionalExplorer,
    ScalingExplorer,
    SoftmaxExplorer,
    measurements_from_benchmark,
)
from attnbook.widgets._base import (
    as_float_array,
    check_number,
    check_tokens,
    format_bytes,
    format_exp,
    format_fixed,
    format_int,
    load_css,
    load_esm,
)

ALL = [
    DotProductExplorer,
    SoftmaxExplorer,
    ScalingExplorer,
    AttentionLookup,
    AttentionMap,
    MaskExplorer,
    PositionalExplorer,
    CostExplorer,
]


def _lookup(**kwargs):
    g = torch.Generator().manual_seed(0)
    data = {
        "tokens": ["I", "love", "pizza"],
        "query": torch.randn(3, 4, generator=g),
        "key": torch.randn(3, 4, generator=g),
        "value": torch.randn(3, 2, generator=g),
    }
    return AttentionLookup(**{**data, **kwargs})


def _map(**kwargs):
    weights = torch.softmax(torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)), -1)
    return AttentionMap(**{"weights": weights, "tokens": list("abcd"), **kwargs})


FACTORIES = {
    DotProductExplorer: DotProductExplorer,
    SoftmaxExplorer: SoftmaxExplorer,
    ScalingExplorer: lambda: ScalingExplorer(dims=[2, 8, 32], d_k=8),
    AttentionLookup: _lookup,
    AttentionMap: _map,
    MaskExplorer: MaskExplorer,
    PositionalExplorer: lambda: PositionalExplorer(embed_dim=16, max_len=32),
    CostExplorer: CostExplorer,
}


# ----------------------------------------------------------------------------- shared


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_widget_ships_its_front_end(cls) -> None:
    widget = FACTORIES[cls]()
    state = widget.get_state()
    assert "export default { render }" in state["_esm"]
    assert "function fmt(" in state["_esm"]  # _common.js inlined: one module string
    assert ".attnbook-widget" in state["_css"]
    # No network: nothing in the front end may name a remote resource.
    for text in (state["_esm"].replace('"http://www.w3.org/2000/svg"', ""), state["_css"]):
        assert "http://" not in text and "https://" not in text and "@import" not in text
        assert "import " not in text.replace("export default", "")


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_state_is_json_and_round_trips(cls) -> None:
    """The synced state serialises, and feeding it back (as the page does) changes nothing."""
    widget = FACTORIES[cls]()
    state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")}
    json.dumps({k: v for k, v in state.items() if k != "weights"})
    before = widget.get_state()
    widget.set_state(state)
    after = widget.get_state()
    for key, value in before.items():
        if key == "weights":
            assert after[key]["shape"] == value["shape"]
            assert bytes(after[key]["data"]) == bytes(value["data"])
        else:
            assert after[key] == value, key


def test_load_assets_concatenate_common_first() -> None:
    esm = load_esm("mask_explorer")
    assert esm.index("function fmt(") < esm.index("function mayAttend(")
    assert load_css("mask_explorer").index(".attnbook-widget") < load_css("mask_explorer").index(
        ".attnbook-mask-grids"
    )


# ----------------------------------------------------------------------------- _base


def test_format_fixed_mirrors_to_fixed() -> None:
    assert format_fixed(2 / 3) == "0.6667"
    assert format_fixed(0.03125) == "0.0313"  # halves of the exact value go up, as toFixed
    assert format_fixed(-0.03125) == "-0.0313"
    assert format_fixed(-1e-9) == "0.0000"
    assert format_fixed(1.005, 2) == "1.00"  # 1.005 is 1.00499999999999989... in binary
    assert format_fixed(float("nan")) == "NaN"
    assert format_fixed(float("-inf")) == "-Infinity"
    assert format_fixed(3.0, 0) == "3"


def test_format_exp_int_bytes() -> None:
    assert format_exp(math.exp(800 / 2)) == "5.2215e+173"
    assert format_exp(-0.000123456) == "-1.2346e-4"
    assert format_exp(9.99995) == "1.0000e+1"  # the mantissa's carry moves the exponent
    assert format_exp(float("inf")) == "Infinity"
    assert format_int(4_800_000_000) == "4,800,000,000"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1024) == "1.00 KiB"
    assert format_bytes(10_000**2 * 4) == "381.47 MiB"
    assert format_bytes(2**63) == "8.00 EiB"


def test_as_float_array_accepts_lists_numpy_and_tensors() -> None:
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    for value in ([[1, 2], [3, 4]], expected.astype(np.float32), torch.tensor([[1, 2], [3, 4]])):
        out = as_float_array(value, "x", ndim=2, layout="(L, E)")
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, expected)
    grad = torch.ones(2, 2, requires_grad=True)
    assert as_float_array(grad, "x", ndim=2, layout="(L, E)").shape == (2, 2)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("abc", TypeError, r"x: expected an array of numbers \(L, E\), got str"),
        ([[1, 2], [3]], TypeError, "x: expected an array of numbers"),
        ([[True, False]], TypeError, "x: expected numbers .* got booleans"),
        (torch.ones(2, 2, dtype=torch.bool), TypeError, "x: expected real numbers"),
        ([1.0, 2.0], ValueError, r"x: expected \(L, E\) \(2-D\), got shape \(2,\)"),
        (np.zeros((0, 3)), ValueError, r"x: expected non-empty data .* got shape \(0, 3\)"),
        (
            [[1.0, float("inf")]],
            ValueError,
            r"x: expected finite numbers, got inf at index \(0, 1\)",
        ),
    ],
)
def test_as_float_array_errors(value, error, match) -> None:
    with pytest.raises(error, match=match):
        as_float_array(value, "x", ndim=2, layout="(L, E)")


def test_check_tokens_and_number_errors() -> None:
    with pytest.raises(TypeError, match="tokens: expected a list of strings, got str"):
        check_tokens("abc", "tokens")
    with pytest.raises(TypeError, match="got int at index 1"):
        check_tokens(["a", 1], "tokens")
    with pytest.raises(ValueError, match="expected at least one token"):
        check_tokens([], "tokens")
    with pytest.raises(TypeError, match="n: expected an int, got bool"):
        check_number(True, "n", low=0, high=3, integer=True)
    with pytest.raises(TypeError, match="n: expected an int, got float"):
        check_number(1.0, "n", low=0, high=3, integer=True)
    with pytest.raises(ValueError, match=r"t: expected a number in \[0, 3\], got nan"):
        check_number(float("nan"), "t", low=0, high=3)
    assert check_number(np.int64(2), "n", low=0, high=3, integer=True) == 2


# ----------------------------------------------------------------------------- 1 dot product


def test_dot_product_quantities_match_torch() -> None:
    w = DotProductExplorer(a=(1.5, -0.5), b=(0.25, 1.75))
    q = w.quantities()
    a, b = torch.tensor(w.a, dtype=torch.float64), torch.tensor(w.b, dtype=torch.float64)
    assert q["dot"] == pytest.approx(float(a @ b), abs=1e-15)
    assert q["cosine"] == pytest.approx(float(F.cosine_similarity(a, b, dim=0)), abs=1e-15)
    assert q["projection"] == pytest.approx(float(a @ b / a.norm()), abs=1e-15)
    assert q["angle_degrees"] == pytest.approx(math.degrees(math.acos(q["cosine"])), abs=1e-12)
    zero = DotProductExplorer(a=(0.0, 0.0)).quantities()
    assert math.isnan(zero["cosine"]) and math.isnan(zero["projection"])


def test_dot_product_validation() -> None:
    with pytest.raises(ValueError, match=r"a: expected a 2-D vector \(x, y\), got shape \(3,\)"):
        DotProductExplorer(a=(1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match=r"b: expected coordinates in \[-extent, extent\]"):
        DotProductExplorer(b=(3.0, 0.0))
    with pytest.raises(ValueError, match="a: expected finite numbers, got nan"):
        DotProductExplorer(a=(float("nan"), 0.0))
    w = DotProductExplorer()
    with pytest.raises(ValueError, match="extent: expected a number >= every coordinate"):
        w.extent = 1.0
    with pytest.raises(ValueError, match="step: expected a number <= extent"):
        w.step = 5.0
    w.b = torch.tensor([-1.0, 1.0])  # tensors are accepted and stored as plain floats
    assert w.b == [-1.0, 1.0] and isinstance(w.b[0], float)


# ----------------------------------------------------------------------------- 2 softmax


def test_softmax_reference_and_overflow() -> None:
    w = SoftmaxExplorer(scores=[3.0, 1.0, -2.0], temperature=0.5)
    expected = torch.softmax(torch.tensor([3.0, 1.0, -2.0], dtype=torch.float64) / 0.5, dim=0)
    torch.testing.assert_close(w.probabilities(), expected)
    torch.testing.assert_close(w.naive_probabilities(), expected)
    w.scores = [800.0, 0.0, -1.0]
    assert torch.isinf(w.naive_exponentials()[0])
    assert torch.isnan(w.naive_probabilities()[0])
    assert torch.isfinite(w.probabilities()).all()
    assert float(w.probabilities()[0]) == pytest.approx(1.0)
    assert w.labels == ["token 0", "token 1", "token 2"]


def test_softmax_validation_and_front_end_changes() -> None:
    with pytest.raises(ValueError, match=r"temperature: expected a number in \[0.05, 5.0\]"):
        SoftmaxExplorer(temperature=0.0)
    with pytest.raises(ValueError, match="scores: expected at most 12 scores"):
        SoftmaxExplorer(scores=range(13))
    with pytest.raises(ValueError, match="labels: expected 3 tokens"):
        SoftmaxExplorer(scores=[1.0, 2.0, 3.0], labels=["a", "b"])
    with pytest.raises(ValueError, match="scores: expected finite numbers"):
        SoftmaxExplorer(scores=[1.0, float("inf")])
    w = SoftmaxExplorer(scores=[1.0, 2.0], labels=["x", "y"])
    with pytest.raises(ValueError, match=r"scores: expected 2 scores \(one per label\), got 3"):
        w.scores = [1.0, 2.0, 3.0]
    with w.hold_trait_notifications():  # both at once: allowed
        w.scores = [1.0, 2.0, 3.0]
        w.labels = ["x", "y", "z"]
    assert len(w.probabilities()) == 3
    w.set_state({"temperature": 2.5, "scores": [0.0, 1.0, 5.0]})  # what the page sends
    assert w.temperature == 2.5 and w.scores == [0.0, 1.0, 5.0]
    with pytest.raises(ValueError, match="temperature"):
        w.set_state({"temperature": 50.0})


# ----------------------------------------------------------------------------- 3 scaling


def test_scaling_data_is_seeded_and_shaped() -> None:
    a = ScalingExplorer(dims=[4, 16], num_queries=3, num_keys=5, seed=7, d_k=16)
    b = ScalingExplorer(dims=[4, 16], num_queries=3, num_keys=5, seed=7, d_k=4)
    assert a.scores == b.scores  # same seed, same numbers
    assert [len(s) for s in a.scores] == [15, 15]
    assert a.raw_scores(16).shape == (3, 5)
    assert all(round(v, 4) == v for v in a.scores[1])  # shipped with 4 decimals
    a.seed = 8  # any change of the sampling regenerates the data
    assert a.scores != b.scores
    a.dims = [2]
    assert a.dim_index == 0 and len(a.scores) == 1


def test_scaling_statistics() -> None:
    w = ScalingExplorer(dims=[1, 64, 512], num_queries=64, num_keys=16, d_k=512)
    raw = w.raw_scores()  # (Q, K)
    stats = w.statistics()
    assert stats["raw"]["std"] == pytest.approx(float(raw.std(correction=0)))
    assert stats["scaled"]["std"] == pytest.approx(stats["raw"]["std"] / math.sqrt(512))
    weights = torch.softmax(raw / math.sqrt(512), dim=-1)
    entropy = -(weights * weights.log()).sum(-1).mean()
    assert stats["scaled"]["entropy"] == pytest.approx(float(entropy))
    assert stats["scaled"]["max_weight"] == pytest.approx(float(weights.amax(-1).mean()))
    # The point of the widget: raw spread grows like sqrt(d_k), scaled spread stays near 1.
    assert 0.7 * math.sqrt(512) < stats["raw"]["std"] < 1.3 * math.sqrt(512)
    assert 0.7 < stats["scaled"]["std"] < 1.3
    assert stats["raw"]["entropy"] < stats["scaled"]["entropy"] <= math.log(16)


def test_scaling_validation() -> None:
    with pytest.raises(ValueError, match="d_k: expected one of dims"):
        ScalingExplorer(dims=[1, 2], d_k=3)
    with pytest.raises(ValueError, match="dims: expected strictly increasing"):
        ScalingExplorer(dims=[4, 2], d_k=4)
    with pytest.raises(ValueError, match=r"num_keys: expected a number in \[2, 256\]"):
        ScalingExplorer(num_keys=1)
    w = ScalingExplorer(dims=[1, 2], d_k=1)
    with pytest.raises(ValueError, match="dim_index"):
        w.dim_index = 2
    with pytest.raises(ValueError, match="d_k: expected one of dims"):
        w.raw_scores(3)


# ----------------------------------------------------------------------------- 4 lookup


def test_lookup_matches_torch_sdpa() -> None:
    w = _lookup(query_index=1)
    q = torch.tensor(w.query, dtype=torch.float64)
    k = torch.tensor(w.key, dtype=torch.float64)
    v = torch.tensor(w.value, dtype=torch.float64)
    expected = F.scaled_dot_product_attention(q[None, None], k[None, None], v[None, None])[0, 0]
    torch.testing.assert_close(w.output(), expected[1])
    torch.testing.assert_close(w.weights(2), torch.softmax(q[2] @ k.T / 2.0, dim=-1))
    w.scaled = False
    torch.testing.assert_close(w.weights(), torch.softmax(q[1] @ k.T, dim=-1))


def test_lookup_cross_attention_and_set_data() -> None:
    g = torch.Generator().manual_seed(1)
    w = AttentionLookup(
        ["the", "cat"],
        torch.randn(2, 3, generator=g),
        torch.randn(4, 3, generator=g),
        torch.randn(4, 5, generator=g),
        key_tokens=["le", "chat", "est", "là"],
    )
    assert w.weights(1).shape == (4,) and w.output(1).shape == (5,)
    w.query_index = 1
    w.set_data(["a"], [[1.0, 0.0]], [[1.0, 0.0]], [[2.0]])
    assert w.query_index == 0 and w.key_tokens == ["a"]
    torch.testing.assert_close(w.output(), torch.tensor([2.0], dtype=torch.float64))


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"tokens": ["I", "love"]}, ValueError, r"tokens: expected 3 tokens \(one per row"),
        ({"key_tokens": ["a"]}, ValueError, "key_tokens: expected 3 tokens"),
        ({"key": torch.ones(3, 5)}, ValueError, "features like"),
        ({"value": torch.ones(2, 2)}, ValueError, r"rows \(S, one per key\)|rows like value"),
        ({"query": torch.ones(3)}, ValueError, r"query: expected \(L, E\) \(2-D\)"),
        ({"query": torch.ones(40, 4)}, ValueError, "at most 32 rows"),
        ({"tokens": "I love pizza"}, TypeError, "tokens: expected a list of strings"),
        ({"query_index": 3}, ValueError, r"query_index: expected a number in \[0, 2\]"),
        ({"value": [[1.0, float("nan")]] * 3}, ValueError, "value: expected finite numbers"),
    ],
)
def test_lookup_validation(change, error, match) -> None:
    with pytest.raises(error, match=match):
        _lookup(**change)


# ----------------------------------------------------------------------------- 5 map


def test_map_shapes_and_transport() -> None:
    g = torch.Generator().manual_seed(2)
    one_head = torch.softmax(torch.randn(5, 5, generator=g), -1)  # (L, S)
    m = AttentionMap(one_head, list("abcde"))
    assert m.weights.shape == (1, 1, 5, 5)
    heads = torch.softmax(torch.randn(3, 5, 5, generator=g), -1)  # (H, L, S)
    m = AttentionMap(heads, list("abcde"), head=2)
    assert m.weights.shape == (1, 3, 5, 5)
    packed = m.get_state()["weights"]
    assert packed["shape"] == [1, 3, 5, 5] and packed["levels"] == 65535
    assert len(bytes(packed["data"])) == 2 * 3 * 5 * 5  # uint16
    error = np.abs(m.shown_weights() - heads.double().numpy()[None])
    assert error.max() <= 0.5 / 65535 + 1e-12
    assert (
        m.top_keys(4, head=1)
        == sorted(
            ((j, float(v)) for j, v in enumerate(m.shown_weights()[0, 1, 4])),
            key=lambda t: (-t[1], t[0]),
        )[:5]
    )


def test_map_large_state_is_compact() -> None:
    weights = torch.softmax(torch.randn(4, 8, 128, 128), dim=-1)
    m = AttentionMap(weights, [f"t{i}" for i in range(128)])
    assert len(bytes(m.get_state()["weights"]["data"])) == 4 * 8 * 128 * 128 * 2  # 1 MiB


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"weights": torch.rand(2, 2, 2, 2, 2)}, ValueError, r"weights: expected .* got shape"),
        ({"weights": torch.randn(4, 4) * 5}, ValueError, r"expected attention weights in \[0, 1\]"),
        ({"weights": torch.full((4, 4), float("nan"))}, ValueError, "finite"),
        ({"tokens": list("abc")}, ValueError, r"tokens: expected 4 tokens \(one per query row"),
        ({"key_tokens": list("abcde")}, ValueError, "key_tokens: expected 4 tokens"),
        ({"layer": 2}, ValueError, r"layer: expected a number in \[0, 1\]"),
        ({"head": -1}, ValueError, r"head: expected a number in \[0, 2\]"),
        ({"query_index": 4}, ValueError, r"query_index: expected a number in \[-1, 3\]"),
        ({"view": "graph"}, ValueError, "view: expected one of"),
        ({"weights": torch.ones(600, 600) / 600}, ValueError, "at most 512 tokens"),
    ],
)
def test_map_validation(change, error, match) -> None:
    with pytest.raises(error, match=match):
        _map(**change)


def test_map_set_data_and_cross_attention() -> None:
    m = _map(layer=1, head=2, query_index=3)
    w = torch.softmax(torch.randn(2, 6), -1)  # (L, S): cross-attention
    m.set_data(w, ["x", "y"], key_tokens=list("uvwxyz"))
    assert (m.layer, m.head, m.query_index) == (0, 0, -1)
    assert m.weights.shape == (1, 1, 2, 6)


# ----------------------------------------------------------------------------- 6 masks


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"kind": "none", "size": 4}, lambda: torch.ones(4, 4, dtype=torch.bool)),
        ({"kind": "causal", "size": 5}, lambda: masks.causal_mask(5)),
        (
            {"kind": "padding", "size": 5, "padding": 2},
            lambda: masks.padding_mask([3], max_len=5)[0, 0].expand(5, 5),
        ),
        (
            {"kind": "local", "size": 6, "window": 2, "causal": True},
            lambda: masks.local_window_mask(6, 2, causal=True),
        ),
        (
            {"kind": "strided", "size": 9, "stride": 3},
            lambda: masks.strided_mask(9, 3, causal=False),
        ),
    ],
)
def test_mask_uses_attnbook_masks(settings, expected) -> None:
    w = MaskExplorer(**settings)
    assert torch.equal(w.mask(), expected())


def test_mask_weights_match_torch_sdpa() -> None:
    """softmax(scores + mask) equals what F.scaled_dot_product_attention applies."""
    for kind in ("causal", "padding", "local", "strided"):
        w = MaskExplorer(kind, size=7, window=1, stride=2, padding=3)
        scores = torch.tensor(w.scores, dtype=torch.float64)[:7, :7]
        # With q = 0 the scores are the float mask alone; values = I read the weights out.
        attn_mask = scores + masks.to_additive(w.mask(), torch.float64)
        q = torch.zeros(1, 1, 7, 4, dtype=torch.float64)
        eye = torch.eye(7, dtype=torch.float64)[None, None]
        sdpa = F.scaled_dot_product_attention(q, q[..., :7, :], eye, attn_mask=attn_mask)[0, 0]
        torch.testing.assert_close(w.weights(), sdpa)


def test_mask_scores_are_seeded() -> None:
    assert MaskExplorer(seed=3).scores == MaskExplorer(seed=3).scores
    assert MaskExplorer(seed=3).scores != MaskExplorer(seed=4).scores
    assert MaskExplorer(max_len=5, size=5).max_len == 5
    custom = MaskExplorer(scores=torch.zeros(3, 3), size=3)
    torch.testing.assert_close(custom.weights()[2], torch.full((3,), 1 / 3, dtype=torch.float64))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kind": "diagonal"}, ValueError, "kind: expected one of"),
        ({"size": 13}, ValueError, r"size: expected a number in \[1, 12\]"),
        ({"size": 4, "padding": 4}, ValueError, r"padding: expected a number in \[0, 3\]"),
        ({"stride": 0}, ValueError, r"stride: expected a number in \[1, 12\]"),
        ({"window": -1}, ValueError, r"window: expected a number in \[0, 11\]"),
        ({"size": 3, "query_row": 3}, ValueError, r"query_row: expected a number in \[0, 2\]"),
        ({"scores": torch.zeros(3, 4), "size": 3}, ValueError, "scores: expected a square"),
        ({"max_len": 40}, ValueError, r"max_len: expected a number in \[2, 24\]"),
    ],
)
def test_mask_validation(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        MaskExplorer(**kwargs)


def test_mask_front_end_shrinks_size_in_one_message() -> None:
    w = MaskExplorer("padding", size=8, padding=5, query_row=7)
    w.set_state({"padding": 1, "query_row": 1, "size": 2})  # one message, as the page sends it
    assert (w.size, w.padding, w.query_row) == (2, 1, 1)
    with pytest.raises(ValueError, match="size: expected more than padding"):
        w.size = 1


# ----------------------------------------------------------------------------- 7 positional


def test_positional_matches_library() -> None:
    w = PositionalExplorer(embed_dim=32, max_len=40, freq_index=3, position=17, other=5)
    torch.testing.assert_close(w.table(), sinusoidal_table(40, 32, dtype=torch.float64))
    assert w.theta() == pytest.approx(10000 ** (-6 / 32))
    pe = w.table()
    assert float(pe[17, 6]) == pytest.approx(math.sin(17 * w.theta()))
    # Similarity and the RoPE dot product depend only on the offset p - q.
    assert w.similarity() == pytest.approx(w.similarity(30, 18))
    x, y = w.rotate()
    angle = 17 * w.theta()
    assert (x, y) == pytest.approx((math.cos(angle), math.sin(angle)), abs=1e-6)
    xq, yq = w.rotate(5)
    assert x * xq + y * yq == pytest.approx(w.rope_dot(), abs=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"embed_dim": 15}, "embed_dim: expected an even number"),
        ({"embed_dim": 4, "freq_index": 2}, r"freq_index: expected a number in \[0, 1\]"),
        ({"max_len": 300}, r"max_len: expected a number in \[2, 256\]"),
        ({"max_len": 8, "position": 8}, r"position: expected a number in \[0, 7\]"),
        ({"other": -1}, r"other: expected a number in \[0, 63\]"),
        ({"base": 1.0}, "base: expected a number in"),
        ({"rope_vector": (0.0, 0.0)}, r"rope_vector: expected a non-zero pair"),
    ],
)
def test_positional_validation(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        PositionalExplorer(**kwargs)


def test_positional_later_changes_stay_consistent() -> None:
    w = PositionalExplorer(embed_dim=16, max_len=32, position=20)
    with pytest.raises(ValueError, match="max_len: expected more than the positions"):
        w.max_len = 10
    with pytest.raises(ValueError, match="embed_dim: expected more than 2 \\* freq_index"):
        w.embed_dim = 4


# ----------------------------------------------------------------------------- 8 cost


def test_cost_counts_are_exact() -> None:
    w = CostExplorer(seq_len=10_000, num_heads=1, num_layers=1)
    assert w.counts()["weights_per_head"] == 100_000_000  # "10,000 tokens -> 100 million"
    assert w.counts()["bytes_per_head"] == 400_000_000
    w = CostExplorer(seq_len=131_072, num_heads=128, num_layers=128, batch_size=1024)
    w.precision = "int8"
    total = 131_072**2 * 128 * 128 * 1024
    assert total > 2**53  # beyond float64 integers: the page counts with BigInt
    assert w.counts()["weights_total"] == total == w.counts()["bytes_total"]
    w.precision = "bf16"
    assert w.counts()["bytes_per_layer"] == 2 * 1024 * 128 * 131_072**2


def test_benchmark_layouts() -> None:
    records = [{"method": "naive", "n": 256, "seconds": 0.001}]
    assert measurements_from_benchmark(records) == records
    by_method = {"results": [{"method": "naive", "L": 512, "median_ms": 4.0}]}
    assert measurements_from_benchmark(by_method) == [
        {"method": "naive", "n": 512, "seconds": 0.004}
    ]
    nested = {"results": [{"seq_len": 128, "median_s": {"a": 1e-3, "b": 2e-3}}]}
    assert [r["method"] for r in measurements_from_benchmark(nested)] == ["a", "b"]


def test_benchmark_from_path(tmp_path) -> None:
    path = tmp_path / "bench.json"
    rows = [{"L": n, "median_ms": {"naive": 1e-6 * n * n, "linear": 1e-3 * n}} for n in (64, 128)]
    path.write_text(json.dumps({"results": rows}))
    w = CostExplorer(str(path))
    assert len(w.measurements) == 4
    slopes = w.slopes()
    assert slopes["naive"] == pytest.approx(2.0) and slopes["linear"] == pytest.approx(1.0)
    w = CostExplorer(path)  # a Path works too
    assert w.measurements[0] == {"method": "linear", "n": 64, "seconds": pytest.approx(6.4e-5)}
    assert math.isnan(CostExplorer([{"method": "x", "n": 8, "seconds": 1.0}]).slopes()["x"])


@pytest.mark.parametrize(
    ("source", "error", "match"),
    [
        (42, TypeError, "benchmark: expected a mapping, a list or a path"),
        ({"rows": []}, ValueError, "benchmark: expected a 'results' list"),
        ({"results": [{"median_ms": 1.0}]}, ValueError, r"results\[0\]: expected a length"),
        ({"results": [{"L": 8, "speed": 1}]}, ValueError, r"results\[0\]: expected 'method'"),
        ({"results": [{"L": 8, "method": "a"}]}, ValueError, r"results\[0\]: expected a time"),
        ("/no/such/file.json", ValueError, "expected a JSON file, got missing path"),
        ([{"method": "a", "n": 8}], ValueError, r"results\[0\]: expected a time"),
        ([{"method": "a", "n": 8, "seconds": -1.0}], ValueError, r"measurements\[0\].seconds"),
        ([{"method": "a", "n": 2.5, "seconds": 1.0}], TypeError, r"measurements\[0\].n"),
        ([{"method": "", "n": 8, "seconds": 1.0}], TypeError, r"measurements\[0\].method"),
    ],
)
def test_benchmark_errors(source, error, match) -> None:
    with pytest.raises(error, match=match):
        CostExplorer(source)


def test_cost_validation() -> None:
    w = CostExplorer()
    with pytest.raises(ValueError, match=r"measurements\[0\]: expected exactly the keys"):
        w.measurements = [{"method": "a", "n": 8}]
    with pytest.raises(TypeError, match="measurements: expected a list of"):
        w.measurements = "fast"
    with pytest.raises(ValueError, match="seq_len: expected one of seq_len_choices"):
        CostExplorer(seq_len=1000)
    with pytest.raises(ValueError, match="precision: expected one of"):
        CostExplorer(precision="fp8")
    with pytest.raises(ValueError, match=r"num_heads: expected a number in \[1, 128\]"):
        CostExplorer(num_heads=0)
    with pytest.raises(ValueError, match="seq_len_choices: expected increasing lengths"):
        CostExplorer(seq_len_choices=[8, 4], seq_len=8)
    w = CostExplorer(seq_len_choices=[1000, 2000], seq_len=1000)
    assert w.counts()["weights_per_head"] == 1_000_000


def test_benchmark_rows_are_filtered() -> None:
    """The layout of benchmarks/efficient_attention.py: several modes per method, some errors."""
    rows = [
        {"method": m, "mode": mode, "causal": False, "n": n, "median_ms": t}
        for m, t in (("tiled", 1.0), ("naive", 2.0))
        for mode in ("forward", "forward_backward")
        for n in (512, 1024)
    ]
    rows.append({"method": "naive", "mode": "forward", "causal": False, "n": 8192, "error": "oom"})
    with pytest.raises(ValueError, match="several for method 'tiled' at n=512"):
        measurements_from_benchmark({"results": rows})
    records = measurements_from_benchmark({"results": rows}, where={"mode": "forward"})
    assert [(r["method"], r["n"]) for r in records] == [
        ("naive", 512),
        ("naive", 1024),
        ("tiled", 512),
        ("tiled", 1024),
    ]
    assert len(CostExplorer({"results": rows}, where={"mode": "forward"}).measurements) == 4


# ----------------------------------------------------------------------------- a live kernel


@pytest.mark.slow
def test_widgets_react_in_a_live_kernel() -> None:
    """In a real kernel, a widget displays as a widget view and takes updates from a front end.

    The test plays the front end: it sends the comm message a browser sends when the
    reader moves the temperature slider, then reads the state back in the kernel.
    """
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(kernel_name="python3")
    try:

        def run(code: str) -> list[dict]:
            msg_id = client.execute(code)
            replies = []
            while True:
                msg = client.get_iopub_msg(timeout=30)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return replies
                replies.append(msg)

        def value(code: str) -> str:
            out = [m for m in run(code) if m["msg_type"] == "execute_result"]
            assert out, f"no result for {code!r}"
            return out[0]["content"]["data"]["text/plain"]

        shown = run(
            "from attnbook.widgets import SoftmaxExplorer\n"
            "w = SoftmaxExplorer(scores=[2.0, 1.0, 0.1])\n"
            "w"
        )
        views = [
            m["content"]["data"]["application/vnd.jupyter.widget-view+json"]
            for m in shown
            if m["msg_type"] == "execute_result"
        ]
        model_id = value("w.model_id").strip("'")
        assert views and views[0]["model_id"] == model_id

        client.session.send(
            client.shell_channel.socket,
            "comm_msg",
            {
                "comm_id": model_id,
                "data": {"method": "update", "state": {"temperature": 2.0}, "buffer_paths": []},
            },
        )
        for _ in range(50):  # the update is handled asynchronously by the kernel
            if value("w.temperature") == "2.0":
                break
        assert value("w.temperature") == "2.0"
        expected = torch.softmax(torch.tensor([2.0, 1.0, 0.1], dtype=torch.float64) / 2, 0)
        got = value("[round(p, 12) for p in w.probabilities().tolist()]")
        assert json.loads(got) == [round(p, 12) for p in expected.tolist()]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
