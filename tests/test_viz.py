"""attnbook.viz: what each figure draws, the inputs it accepts and the ones it refuses."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in tests

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from attnbook import viz


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_use_book_style_sets_white_opaque_figures():
    viz.use_book_style()
    assert plt.rcParams["figure.facecolor"] == "white"
    assert plt.rcParams["savefig.facecolor"] == "white"
    assert not plt.rcParams["axes.spines.top"]


@pytest.mark.parametrize(
    "weights",
    [
        [0.15, 0.35, 0.25, 0.10, 0.10, 0.05],
        np.array([0.15, 0.35, 0.25, 0.10, 0.10, 0.05]),
        torch.tensor([0.15, 0.35, 0.25, 0.10, 0.10, 0.05], requires_grad=True),
        torch.tensor([0.15, 0.35, 0.25, 0.10, 0.10, 0.05], dtype=torch.float16),
    ],
    ids=["list", "numpy", "tensor-with-grad", "float16"],
)
def test_weights_bar_draws_one_bar_per_token(weights):
    tokens = ["The", "cat", "sat", "on", "the", "mat"]
    ax = viz.plot_weights_bar(tokens, weights, title="from sat")
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, [0.15, 0.35, 0.25, 0.10, 0.10, 0.05], atol=1e-3)
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens
    assert [t.get_text() for t in ax.texts] == ["15%", "35%", "25%", "10%", "10%", "5%"]
    assert ax.get_title() == "from sat"
    assert ax.get_xlabel() == "token" and ax.get_ylabel() == "attention weight"


def test_weights_bar_decimals_highlight_and_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    ax = viz.plot_weights_bar(["a", "b"], [0.2, 0.8], ax=right, percent=False, highlight=1)
    assert ax is right and not left.patches
    assert [t.get_text() for t in ax.texts] == ["0.20", "0.80"]
    assert ax.patches[0].get_facecolor() != ax.patches[1].get_facecolor()


def test_weights_bar_leaves_room_for_the_printed_values():
    ax = viz.plot_weights_bar(["a", "b", "c"], [-1.5, 0.5, 3.0], percent=False)
    bottom, top = ax.get_ylim()
    assert bottom < -1.5 and top > 3.0
    assert viz.plot_weights_bar(["a"], [0.4]).get_ylim()[0] == 0.0


def test_weights_bar_on_a_cuda_tensor_if_present(device):
    weights = torch.tensor([0.5, 0.5], device=device)
    ax = viz.plot_weights_bar(["x", "y"], weights)
    assert [bar.get_height() for bar in ax.patches] == [0.5, 0.5]


@pytest.mark.parametrize(
    ("tokens", "weights", "error", "match"),
    [
        (["a", "b"], [0.5, 0.3, 0.2], ValueError, "tokens: expected 3 labels"),
        (["a", "b"], [[0.5, 0.5]], ValueError, r"weights: expected 1 dimension\(s\), got shape"),
        ("ab", [0.5, 0.5], TypeError, "tokens: expected a sequence of labels"),
        (["a", "b"], ["x", "y"], TypeError, "weights: expected numbers"),
    ],
)
def test_weights_bar_refuses_bad_input(tokens, weights, error, match):
    with pytest.raises(error, match=match):
        viz.plot_weights_bar(tokens, weights)


def test_weights_bar_refuses_highlight_out_of_range():
    with pytest.raises(ValueError, match=r"highlight: expected an index in \[0, 2\), got 5"):
        viz.plot_weights_bar(["a", "b"], [0.5, 0.5], highlight=5)


def test_heatmap_annotates_every_cell_with_readable_text_colour():
    matrix = torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.3, 0.5]])
    ax = viz.plot_heatmap(matrix, ["q0", "q1"], ["k0", "k1", "k2"], title="weights")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["0.90", "0.10", "0.00", "0.20", "0.30", "0.50"]
    # The darkest cell (0.9) gets white text, the lightest (0.0) black text.
    assert ax.texts[0].get_color() == "white" and ax.texts[2].get_color() == "black"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["q0", "q1"]
    assert ax.get_xlabel() == "key" and ax.get_ylabel() == "query"
    assert len(ax.figure.axes) == 2  # the heatmap and its colour bar
    np.testing.assert_allclose(ax.images[0].get_array(), matrix.numpy())


def test_heatmap_defaults_large_matrices_unannotated_without_labels():
    ax = viz.plot_heatmap(np.zeros((20, 20)), colorbar=False)
    assert not ax.texts
    assert len(ax.figure.axes) == 1
    assert ax.get_xticklabels()[3].get_text() == "3"


def test_heatmap_fixed_colour_scale_and_format():
    ax = viz.plot_heatmap([[1.0, 2.0]], ["r"], ["a", "b"], vmin=0, vmax=4, fmt="{:.1f}")
    assert ax.images[0].get_clim() == (0, 4)
    assert [t.get_text() for t in ax.texts] == ["1.0", "2.0"]


@pytest.mark.parametrize(
    ("matrix", "rows", "cols", "error", "match"),
    [
        ([1.0, 2.0], None, None, ValueError, r"matrix: expected 2 dimension\(s\), got shape"),
        ([[1.0, 2.0]], ["a", "b"], None, ValueError, "row_labels: expected 1 labels"),
        ([[1.0, 2.0]], None, ["a"], ValueError, "col_labels: expected 2 labels"),
        ([[1.0, 2.0]], "a", None, TypeError, "row_labels: expected a sequence of labels"),
    ],
)
def test_heatmap_refuses_bad_input(matrix, rows, cols, error, match):
    with pytest.raises(error, match=match):
        viz.plot_heatmap(matrix, rows, cols)


def test_head_grid_one_panel_per_head_on_a_shared_scale():
    weights = torch.softmax(torch.randn(5, 3, 4), dim=-1)
    axes = viz.plot_head_grid(weights, ["a", "b", "c"], list("wxyz"), ncols=3, title="heads")
    assert axes.shape == (2, 3)
    visible = [ax for ax in axes.flat if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == [f"head {h}" for h in range(5)]
    assert not axes.flat[5].get_visible()
    assert all(ax.images[0].get_clim() == (0.0, 1.0) for ax in visible)
    np.testing.assert_allclose(visible[4].images[0].get_array(), weights[4].numpy(), rtol=1e-6)
    assert axes[0, 0].figure.get_suptitle() == "heads"


def test_head_grid_fewer_heads_than_columns():
    axes = viz.plot_head_grid(np.full((2, 2, 2), 0.5), ncols=4, vmax=None)
    assert axes.shape == (1, 2)


@pytest.mark.parametrize(
    ("weights", "kwargs", "match"),
    [
        (np.zeros((2, 2)), {}, r"weights: expected 3 dimension\(s\)"),
        (np.zeros((2, 2, 2)), {"ncols": 0}, "ncols: expected a positive int, got 0"),
        (np.zeros((2, 2, 3)), {"col_labels": ["a"]}, "col_labels: expected 3 labels"),
    ],
)
def test_head_grid_refuses_bad_input(weights, kwargs, match):
    with pytest.raises(ValueError, match=match):
        viz.plot_head_grid(weights, **kwargs)
