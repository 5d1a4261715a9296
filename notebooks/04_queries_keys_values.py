# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Queries, keys and values
#
# We now have both halves of attention: dot products that score how well two
# vectors match ({doc}`chapter 02 <02_dot_products>`), and softmax that turns
# scores into weights ({doc}`chapter 03 <03_softmax>`). This chapter puts them together. We start from something every
# programmer knows, a dictionary lookup, make it *soft*, and arrive at the
# formula at the heart of every transformer {cite}`vaswani2017attention`:
#
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V .$$
#
# Then we work it through by hand on "I love pizza", measure why the
# $\sqrt{d_k}$ is there, and check our version against PyTorch's.

# %% tags=["hide-cell"]
# Colab only: install attnbook, the book's library, from the repository.
import subprocess
import sys

ATTNBOOK = "attnbook @ git+https://github.com/attnbook/attention-step-by-step@main"
if "google.colab" in sys.modules:
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, ATTNBOOK], check=True)

# %% [markdown]
# **In this chapter you will:**
#
# - turn a hard dictionary lookup into a soft, differentiable one;
# - name the three roles, query, key and value, and write attention as one formula;
# - work "I love pizza" through by hand and by code, checking every number;
# - measure why the scores are divided by $\sqrt{d_k}$: their spread, softmax saturation, gradients;
# - implement attention in NumPy and in PyTorch, and match `attnbook` and `torch.nn.functional`.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

import attnbook.functional as AF
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_attention,
    check_hard_lookup,
    check_head_scale,
    check_projected_attention,
)
from attnbook.notebook import glue
from attnbook.viz import plot_heatmap, plot_weights_bar, use_book_style
from attnbook.widgets import AttentionLookup, ScalingExplorer

seed_everything(0)
device = default_device()
use_book_style()
print(describe_device(device))

# %% [markdown]
# (qkv-lookup)=
# ## From a dictionary to a soft lookup
#
# A Python dictionary stores *values* under *keys*. You ask with a key, and
# you get its value only if your key matches exactly.

# %%
prices = {"pizza": 9.5, "pasta": 8.0, "salad": 6.5}
print("prices['pizza'] =", prices["pizza"])
try:
    prices["something cheesy"]
except KeyError as error:
    print("prices['something cheesy'] raises KeyError:", error)

# %% [markdown]
# Now describe each dish by a vector of features instead of a name, and ask
# with a vector too: the *query*. Any query can be compared with every *key*
# by a dot product, so no question is unanswerable. A **hard lookup**
# returns the value of the best-scoring key.

# %%
dishes = ["pizza", "pasta", "salad"]
keys = torch.tensor(
    [  # cheese, tomato, greens
        [1.0, 1.0, 0.0],  # pizza
        [0.5, 1.0, 0.0],  # pasta
        [0.0, 0.3, 1.0],  # salad
    ],
    device=device,
)  # (S, 3)
values = torch.tensor([9.5, 8.0, 6.5], device=device)  # (S,): the prices
# "something cheesy, a bit of tomato"
query = torch.tensor([0.8, 0.6, 0.1], device=device)

scores = keys @ query  # (S,): one score per key
best = scores.argmax()
for dish, score in zip(dishes, scores.tolist(), strict=True):
    print(f"{dish:>5}: score {score:.2f}")
print("hard lookup:", dishes[best], "->", values[best].item())
assert dishes[best] == "pizza"

# %% [markdown]
# A **soft lookup** does not pick one key. It turns the scores into weights
# with softmax and returns the weighted average of *all* the values: mostly
# pizza's price, a little of the others'.

# %%
weights = torch.softmax(scores, dim=0)  # (S,)
soft = weights @ values  # sum_j weights[j] * values[j]
for dish, w in zip(dishes, weights.tolist(), strict=True):
    print(f"{dish:>5}: weight {w:.3f}")
print(f"soft lookup: {soft.item():.3f}")
torch.testing.assert_close(weights.sum(), torch.tensor(1.0, device=device))
# a weighted average stays between the values
assert values.min() <= soft <= values.max()

# %% [markdown]
# Why give up the exact answer? Because a network learns by gradient descent:
# it needs to know how a small change in the query would change the result.
# The hard lookup's answer jumps from one value to another and is flat in
# between, so its gradient is zero (PyTorch does not even track it); the soft
# lookup changes smoothly, so every part of it can learn.

# %%
q = query.clone().requires_grad_(True)
# argmax returns an index: no gradient flows through
hard_answer = values[(keys @ q).argmax()]
soft_answer = torch.softmax(keys @ q, dim=0) @ values
soft_answer.backward()
print("hard lookup tracks a gradient:", hard_answer.requires_grad)
print("soft lookup gradient w.r.t. the query:", q.grad)
assert not hard_answer.requires_grad and q.grad.abs().sum() > 0

# %% [markdown]
# That is attention, in one sentence: **a soft lookup of the values, weighted
# by how well the query matches each key.** The names are worth memorising:
#
# | role | in the dictionary | in attention |
# |---|---|---|
# | query $q$ | what you ask with | what this position is looking for |
# | key $k_j$ | what each entry is filed under | what position $j$ offers to be found by |
# | value $v_j$ | what each entry returns | what position $j$ hands over when found |

# %% [markdown]
# (qkv-formula)=
# ## Queries, keys and values in a sentence
#
# In a sentence, every token plays all three roles. Each token has an
# embedding $x_i$ (a row vector of size $E$); three learned matrices turn it
# into a query, a key and a value:
#
# $$q_i = x_i W_Q, \qquad k_i = x_i W_K, \qquad v_i = x_i W_V .$$
#
# $W_Q$ and $W_K$ have shape $E \times d_k$, so queries and keys have $d_k$
# entries (they must match, to take their dot product); $W_V$ has shape
# $E \times d_v$, so values have $d_v$ entries. Stacking the tokens as rows
# gives matrices $Q$ ($L \times d_k$), $K$ ($S \times d_k$) and $V$
# ($S \times d_v$): $L$ queries and $S$ keys and values, and here $L = S$, the
# sentence length ({doc}`../book/notation` lists these letters). Every query
# is scored against every key, $QK^\top$ (chapter 02), the scores are divided
# by $\sqrt{d_k}$ (we measure why {ref}`below <qkv-scaling>`), each row goes
# through softmax over the keys (chapter 03), and the resulting attention
# weights average the values:
#
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V .$$
#
# The output has one row per query: token $i$'s new vector is a blend of the
# values of the tokens it attends to.

# %% [markdown]
# (qkv-pizza)=
# ## "I love pizza", by hand
#
# Three tokens, embeddings of size $E = 4$, and $d_k = d_v = 3$. The numbers
# are made up (a trained model learns its own), chosen so that the query of
# "love" matches the key of "pizza" best.

# %%
tokens = ["I", "love", "pizza"]
x = torch.tensor(
    [
        [1.0, 0.0, 1.0, 0.0],  # I
        [0.0, 1.0, 0.0, 1.0],  # love
        [1.0, 1.0, 0.0, 2.0],  # pizza
    ],
    device=device,
)  # (L, E) = (3, 4)
W_Q = torch.tensor(
    [[1.0, 0.0, 0.5], [0.0, 1.0, 0.0], [0.5, 0.0, 1.0], [0.0, 0.5, 0.0]],
    device=device,
)
W_K = torch.tensor(
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.5], [0.5, 0.0, 0.0], [0.0, 0.5, 1.0]],
    device=device,
)
W_V = torch.tensor(
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.0, 0.5]],
    device=device,
)

Q, K, V = x @ W_Q, x @ W_K, x @ W_V  # (3, 4) @ (4, 3) -> (3, 3) each
d_k = Q.shape[-1]
for name, M in (("Q", Q), ("K", K), ("V", V)):
    print(f"{name} =", M.tolist())

# %% [markdown]
# Now the attention of "love" (row 1 of $Q$) over the three words, with
# nothing but Python floats and `math`, so every number is visible.
#
# **Step 1, scores.** The dot product of love's query with each key.

# %%
q_love = Q[1].tolist()
hand_scores = []
for token, k in zip(tokens, K.tolist(), strict=True):
    terms = [qi * ki for qi, ki in zip(q_love, k, strict=True)]
    hand_scores.append(sum(terms))
    shown = " + ".join(f"{qi:g}×{ki:g}" for qi, ki in zip(q_love, k, strict=True))
    print(f"q_love · k_{token:<5} = {shown} = {sum(terms):g}")

# %% [markdown]
# **Step 2, scale.** Divide by $\sqrt{d_k} = \sqrt{3}$.

# %%
hand_scaled = [s / math.sqrt(d_k) for s in hand_scores]
print(f"sqrt(d_k) = {math.sqrt(d_k):.4f}")
print("scaled scores:", [round(s, 4) for s in hand_scaled])

# %% [markdown]
# **Step 3, softmax.** Exponentiate (after subtracting the largest score, as
# in {ref}`chapter 03 <softmax-overflow>`) and divide by the sum.

# %%
m = max(hand_scaled)
exps = [math.exp(s - m) for s in hand_scaled]
hand_weights = [e / sum(exps) for e in exps]
for token, e, w in zip(tokens, exps, hand_weights, strict=True):
    print(f"{token:>5}: exp = {e:.4f}   weight = {e:.4f} / {sum(exps):.4f} = {w:.4f}")
assert math.isclose(sum(hand_weights), 1.0)

# %% [markdown]
# **Step 4, weighted sum.** Love's output is the weights times the value rows.

# %%
hand_output = [0.0] * V.shape[1]
for token, w, v in zip(tokens, hand_weights, V.tolist(), strict=True):
    print(f"{w:.4f} × v_{token:<5} = {[round(w * vi, 4) for vi in v]}")
    hand_output = [o + w * vi for o, vi in zip(hand_output, v, strict=True)]
print("output for 'love' =", [round(o, 4) for o in hand_output])

glue("love_pizza", hand_weights[2], display=False)
glue("love_I", hand_weights[0], display=False)
glue("love_love", hand_weights[1], display=False)

# %% [markdown]
# "love" gives {glue:text}`love_pizza:.3f` of its attention to "pizza",
# {glue:text}`love_I:.3f` to "I" and {glue:text}`love_love:.3f` to itself, and
# its new vector is mostly pizza's value.
#
# **By code.** The matrix version does all three queries at once. Its row
# for "love" must equal our hand computation.

# %%
scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)  # (L, d_k) @ (d_k, S) -> (L, S)
attn = torch.softmax(scores, dim=-1)  # (L, S), rows sum to 1
output = attn @ V  # (L, S) @ (S, d_v) -> (L, d_v)

torch.testing.assert_close(scores[1], torch.tensor(hand_scaled, device=device))
torch.testing.assert_close(attn[1], torch.tensor(hand_weights, device=device))
torch.testing.assert_close(output[1], torch.tensor(hand_output, device=device))
torch.testing.assert_close(attn.sum(-1), torch.ones(3, device=device))
# every query looks most at pizza
assert (attn.argmax(dim=-1) == tokens.index("pizza")).all()
print("the matrix version reproduces every number of the hand computation")

fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.4), layout="constrained")
plot_heatmap(
    attn,
    tokens,
    tokens,
    ax=left,
    title="attention weights (rows: queries)",
    vmin=0,
    vmax=1,
)
plot_weights_bar(
    tokens,
    attn[1],
    ax=right,
    title="weights of the query 'love'",
    highlight=1,
)
plt.show()

# %% [markdown]
# Each row of the heatmap is one query's weights; the middle row is the bar
# chart on the right. Here "pizza" draws the most attention from every word,
# because its key is the longest (its embedding is too): the same effect as
# the "loud cat" of chapter 02.
#
# ### Try it
#
# The explorer below holds the same $Q$, $K$ and $V$. Click a token to make it
# the query and follow the numbers from the dot products to the output. Then
# untick "scaled": without the division by $\sqrt{d_k}$ the weights get
# sharper, the first hint of the next section.

# %%
AttentionLookup(tokens, Q.cpu(), K.cpu(), V.cpu(), query_index=1)

# %% [markdown]
# (qkv-scaling)=
# ## Why divide by $\sqrt{d_k}$
#
# Take a query and a key whose $d_k$ entries are independent, with mean 0 and
# variance 1, as they roughly are in a freshly initialised network. Their dot
# product $q \cdot k = \sum_{i=1}^{d_k} q_i k_i$ is a sum of $d_k$ independent
# terms, each with mean 0 and variance 1; variances of independent terms add,
# so it has mean 0 and **variance $d_k$**: its
# typical size grows like $\sqrt{d_k}$. Dividing by $\sqrt{d_k}$ brings the
# variance back to 1, whatever the size. Let us measure it.

# %%
dims = [4, 16, 64, 256, 1024]
pairs = 4000
print(" d_k   var(q·k)   var(q·k / sqrt(d_k))")
variances = {}
for d in dims:
    q, k = torch.randn(2, pairs, d, device=device)  # (pairs, d) each
    raw = (q * k).sum(-1)  # (pairs,): one dot product per pair
    variances[d] = (raw.var().item(), (raw / math.sqrt(d)).var().item())
    print(f"{d:4d}   {variances[d][0]:9.1f}   {variances[d][1]:8.3f}")
    assert 0.8 * d < variances[d][0] < 1.2 * d and 0.8 < variances[d][1] < 1.2

# %% [markdown]
# The raw variance tracks $d_k$; the scaled one stays near 1. Why does a large
# spread matter? Because softmax turns large gaps into near-certainty
# ({ref}`chapter 03 <softmax-temperature>`): with scores spread by $\sqrt{d_k}$ for a large $d_k$, the best
# key takes nearly all the weight. This *saturation* has two costs. The model can
# no longer blend several keys. And it stops learning: when the weights are
# almost one-hot, nudging a score barely moves them, so the gradient that
# flows back through the softmax nearly vanishes.
#
# To measure this we give each of {glue:text}`num_queries` queries
# {glue:text}`num_keys` random keys and compute, for raw and for scaled
# scores, the average largest weight, the average entropy (chapter 03; its
# uniform maximum is $\ln S$ = {glue:text}`ln_num_keys:.3f`) and the size of
# the softmax's gradient for a typical query (the median over the queries).
# For one row of weights $p$, the derivative of $p$ with respect to the scores
# is the matrix $J = \operatorname{diag}(p) - pp^\top$; we report
# its size $\lVert J \rVert$ (the square root of the sum of its squared
# entries). We first check that formula against PyTorch's autograd.


# %%
def softmax_jacobian_norm(scores):
    """‖diag(p) - p pᵀ‖ for each row p = softmax(scores): how much the weights react."""
    p = torch.softmax(scores, dim=-1)  # (..., S)
    J = torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)  # (..., S, S)
    return J.flatten(-2).norm(dim=-1)  # (...,)


row = torch.randn(5, device=device, dtype=torch.float64)
autograd_J = torch.autograd.functional.jacobian(lambda s: torch.softmax(s, dim=-1), row)
torch.testing.assert_close(softmax_jacobian_norm(row), autograd_J.norm())

num_queries, num_keys = 256, 16
glue("num_queries", num_queries, display=False)
glue("num_keys", num_keys, display=False)
glue("ln_num_keys", math.log(num_keys), display=False)
dims = [1, 4, 16, 64, 256, 1024]
stats = {"raw": {}, "scaled": {}}
for d in dims:
    q = torch.randn(num_queries, d, device=device)
    k = torch.randn(num_keys, d, device=device)
    raw = q @ k.T  # (num_queries, num_keys)
    for kind, s in (("raw", raw), ("scaled", raw / math.sqrt(d))):
        p = torch.softmax(s, dim=-1)
        stats[kind][d] = {
            "max_weight": p.max(-1).values.mean().item(),
            "entropy": (-torch.special.xlogy(p, p).sum(-1)).mean().item(),
            "grad": softmax_jacobian_norm(s).median().item(),
        }
print(" d_k | max weight raw/scaled | entropy raw/scaled | gradient raw/scaled")
for d in dims:
    r, s = stats["raw"][d], stats["scaled"][d]
    print(
        f"{d:4d} |  {r['max_weight']:.3f} / {s['max_weight']:.3f}        |"
        f"  {r['entropy']:.3f} / {s['entropy']:.3f}     |"
        f"  {r['grad']:.2e} / {s['grad']:.2e}"
    )

raw_big, scaled_big = stats["raw"][1024], stats["scaled"][1024]
assert raw_big["max_weight"] > 0.95 and raw_big["grad"] < 0.01 * scaled_big["grad"]
assert stats["raw"][256]["grad"] < 0.1 * stats["scaled"][256]["grad"]
glue("sat_max_weight", raw_big["max_weight"], display=False)
glue(
    "sat_grad_ratio_256",
    stats["scaled"][256]["grad"] / stats["raw"][256]["grad"],
    display=False,
)
glue("sat_grad_1024", raw_big["grad"], display=False)
glue("scaled_grad", scaled_big["grad"], display=False)
glue("scaled_max_weight", scaled_big["max_weight"], display=False)

# %%
fig, grid = plt.subplots(2, 2, figsize=(8.5, 6), layout="constrained")
axes = grid.flat[:3]  # three panels; the fourth slot holds the legend
for kind, style in (("raw", "o-"), ("scaled", "s--")):
    label = "q·k" if kind == "raw" else "q·k / √d_k"
    axes[0].plot(dims, [stats[kind][d]["max_weight"] for d in dims], style, label=label)
    axes[1].plot(dims, [stats[kind][d]["entropy"] for d in dims], style, label=label)
    axes[2].plot(dims, [stats[kind][d]["grad"] for d in dims], style, label=label)
axes[1].axhline(
    math.log(num_keys),
    color="gray",
    linestyle=":",
    label=f"ln {num_keys} (uniform)",
)
titles = [
    "largest weight (mean over queries)",
    "entropy of the weights (nats)",
    "softmax gradient ‖J‖ (median over queries)",
]
for ax, title in zip(axes, titles, strict=True):
    ax.set(xscale="log", xlabel="d_k", title=title)
    ax.set_xticks(dims, [str(d) for d in dims])
    ax.minorticks_off()
grid[1, 1].axis("off")
grid[1, 1].legend(*axes[1].get_legend_handles_labels(), loc="center")
plt.show()

# %% [markdown]
# Read the three panels from left to right, for the raw scores (solid): as
# $d_k$ grows, the largest weight climbs towards 1 (at $d_k = 1024$ it is
# {glue:text}`sat_max_weight:.3f` on average), the entropy drops towards 0,
# and the gradient collapses: at $d_k = 256$ it is already
# {glue:text}`sat_grad_ratio_256:.0f` times smaller than with scaling, and at
# $d_k = 1024$ it is {glue:text}`sat_grad_1024:.1e` against
# {glue:text}`scaled_grad:.2f`. The scaled
# scores (dashed) behave the same at every size: the largest weight stays
# near {glue:text}`scaled_max_weight:.2f`, the entropy stays high, the
# gradient stays healthy. That is all the $\sqrt{d_k}$ does, and it is why the
# formula has it. In chapter 03's terms, it is a temperature $T = \sqrt{d_k}$
# chosen so the scores have the same spread at every size.
#
# ### Try it
#
# The explorer below draws random queries and keys for each $d_k$ and shows
# the histogram of raw and scaled scores with the same statistics. Slide
# $d_k$ from 1 to 512: the raw histogram spreads out while the scaled one keeps
# its width.

# %%
ScalingExplorer(d_k=64)

# %% [markdown]
# (qkv-width-pitfall)=
# ### A common mistake: scaling by the model width
#
# From {doc}`chapter 05 <05_multi_head_attention>` on, a model of width $E$
# (`embed_dim`) splits its vectors
# into $H$ heads of size $d_k = E / H$, and each head computes attention on
# its own. The dot products inside a head have $d_k$ terms, so the scale is
# $1/\sqrt{d_k}$, **not** $1/\sqrt{E}$. A typical configuration: $E = 512$,
# $H = 8$, so $d_k = 64$.

# %%
embed_dim, num_heads = 512, 8
head_dim = embed_dim // num_heads
right_scale, wrong_scale = 1 / math.sqrt(head_dim), 1 / math.sqrt(embed_dim)
print(f"embed_dim = {embed_dim}, num_heads = {num_heads}, head_dim = {head_dim}:")
print(
    f"right scale 1/sqrt({head_dim}) = {right_scale:.4f}, "
    f"wrong scale 1/sqrt({embed_dim}) = {wrong_scale:.4f}"
)

q = torch.randn(256, head_dim, device=device)  # one head's queries
k = torch.randn(16, head_dim, device=device)  # and keys
for name, scale in (
    ("1/sqrt(head_dim)", right_scale),
    ("1/sqrt(embed_dim)", wrong_scale),
):
    s = (q @ k.T) * scale
    p = torch.softmax(s, dim=-1)
    largest = p.max(-1).values.mean().item()
    spread = (-torch.special.xlogy(p, p).sum(-1)).mean().item()  # entropy
    print(
        f"{name:>17}: score std {s.std().item():.3f}, largest weight {largest:.3f}, "
        f"entropy {spread:.3f}"
    )
print(f"(entropy of uniform weights over 16 keys: {math.log(16):.3f})")
assert math.isclose(right_scale / wrong_scale, math.sqrt(num_heads))
glue("sqrt_heads", math.sqrt(num_heads), display=False)

# %% [markdown]
# :::{admonition} Scale by the head size, not the model width
# :class: warning
# With $1/\sqrt{E}$ the scores shrink by a further factor $\sqrt{H}$
# ({glue:text}`sqrt_heads:.2f` here): a softmax temperature of
# {glue:text}`sqrt_heads:.2f` that flattens
# every head's weights towards uniform, as the numbers above show. The code
# runs and trains, only worse, so the bug hides. `F.scaled_dot_product_attention`
# and `attnbook.functional.scaled_dot_product_attention` scale by
# $1/\sqrt{d}$, where $d$ is the last size **of the query tensor you pass**:
# pass per-head tensors `(N, H, L, d_k)` and the default is right.
# :::

# %% [markdown]
# (qkv-implementations)=
# ## Four implementations, one answer
#
# Time to write attention for real, for any batch shape `(..., L, d_k)`, and
# check it. First in NumPy, the formula and nothing else.


# %%
def attention_numpy(Q, K, V):
    """softmax(Q Kᵀ / sqrt(d_k)) V with NumPy arrays.

    Shapes: Q (..., L, d_k), K (..., S, d_k), V (..., S, d_v).
    """
    d_k = Q.shape[-1]
    scores = Q @ np.swapaxes(K, -2, -1) / np.sqrt(d_k)  # (..., L, S)
    scores = scores - scores.max(axis=-1, keepdims=True)  # stable softmax, chapter 03
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)  # (..., L, S)
    return weights @ V  # (..., L, d_v)


# %% [markdown]
# The same in PyTorch: tensors, `transpose(-2, -1)` for $K^\top$, and the
# softmax over the keys, `dim=-1`. We also return the weights, handy for
# plots.


# %%
def attention(Q, K, V):
    """Scaled dot-product attention; returns (output, weights)."""
    d_k = Q.shape[-1]
    scores = (
        Q @ K.transpose(-2, -1) / math.sqrt(d_k)
    )  # (..., L, d_k) @ (..., d_k, S) -> (..., L, S)
    weights = torch.softmax(scores, dim=-1)  # (..., L, S): each query's row sums to 1
    return weights @ V, weights  # (..., L, S) @ (..., S, d_v) -> (..., L, d_v)


# %% [markdown]
# `attnbook.functional.scaled_dot_product_attention` is this function with
# PyTorch's full signature (masks, dropout, causal attention and a `scale`
# argument, {doc}`chapter 07 <07_masking>` and chapter 11);
# `torch.nn.functional.scaled_dot_product_attention`
# is PyTorch's own, fused and fast, which does not return the weights. All four
# must agree on a batch of $N = 2$ sequences, $H = 4$ heads, $L = 5$ queries,
# $S = 7$ keys, $d_k = 8$, $d_v = 6$.

# %%
N, H, L, S, d_k, d_v = 2, 4, 5, 7, 8, 6
Qr = torch.randn(N, H, L, d_k, device=device)  # (N, H, L, d_k)
Kr = torch.randn(N, H, S, d_k, device=device)  # (N, H, S, d_k)
Vr = torch.randn(N, H, S, d_v, device=device)  # (N, H, S, d_v)

out_ours, w_ours = attention(Qr, Kr, Vr)
out_numpy = attention_numpy(Qr.cpu().numpy(), Kr.cpu().numpy(), Vr.cpu().numpy())
out_numpy = torch.from_numpy(out_numpy).to(out_ours)  # same dtype and device as ours
out_lib, w_lib = AF.scaled_dot_product_attention(Qr, Kr, Vr, need_weights=True)
out_torch = F.scaled_dot_product_attention(Qr, Kr, Vr)

assert out_ours.shape == (N, H, L, d_v) and w_ours.shape == (N, H, L, S)
torch.testing.assert_close(out_numpy, out_ours)
torch.testing.assert_close(out_lib, out_ours)
torch.testing.assert_close(w_lib, w_ours)
torch.testing.assert_close(
    out_torch,
    out_ours,
    atol=1e-5,
    rtol=1e-4,
)  # fused kernels add in another order
for name, out in (("numpy", out_numpy), ("attnbook", out_lib), ("torch", out_torch)):
    print(f"{name:>8} vs ours: largest difference {(out - out_ours).abs().max():.2e}")
outs = (out_numpy, out_lib, out_torch)
max_diff = max((out - out_ours).abs().max().item() for out in outs)
glue("max_diff", max_diff, display=False)

# %% [markdown]
# The largest difference, {glue:text}`max_diff:.1e`, is float32 rounding.
# The gradients agree too: backpropagate the same loss through ours and
# PyTorch's and compare the gradients with respect to $Q$, $K$ and $V$.


# %%
def grads(fn):
    q, k, v = (t.detach().double().requires_grad_(True) for t in (Qr, Kr, Vr))
    out = fn(q, k, v)
    (
        out
        * torch.linspace(
            -1,
            1,
            out.numel(),
            device=device,
            dtype=torch.float64,
        ).view_as(out)
    ).sum().backward()
    return q.grad, k.grad, v.grad


for ours_grad, torch_grad in zip(
    grads(lambda q, k, v: attention(q, k, v)[0]),
    grads(F.scaled_dot_product_attention),
    strict=True,
):
    torch.testing.assert_close(ours_grad, torch_grad)
print("gradients with respect to Q, K and V match PyTorch's (float64)")

# %% [markdown]
# From here on the book calls `attnbook.functional.scaled_dot_product_attention`
# when it needs the weights, and `F.scaled_dot_product_attention` when it needs
# speed.
#
# ## Summary
#
# - A dictionary lookup needs an exact key; attention compares a **query** with
#   every **key** and returns a weighted average of the **values**: a soft,
#   differentiable lookup.
# - In a sentence, every token has a query, a key and a value, made by three
#   learned matrices from its embedding.
# - $\operatorname{Attention}(Q, K, V) = \operatorname{softmax}(QK^\top / \sqrt{d_k})\,V$:
#   scores, scale, softmax over the keys, weighted sum.
# - Dot products of random vectors have variance $d_k$. Unscaled, softmax
#   saturates as $d_k$ grows and its gradient vanishes; dividing by
#   $\sqrt{d_k}$, the **head** size, keeps the spread constant.
# - NumPy, our PyTorch function, `attnbook.functional.scaled_dot_product_attention`
#   and `torch.nn.functional.scaled_dot_product_attention` agree, values and
#   gradients.
#
# {doc}`Chapter 05 <05_multi_head_attention>` runs several attentions side by
# side: multi-head attention.

# %% [markdown]
# ## Exercises
#
# The starting points are wrong on purpose: run the check, read what it says,
# fix, repeat. Solutions are under the toggles.
#
# ### Exercise 1: a hard lookup
#
# Write `hard_lookup(query, keys, values)`: return the row of `values` stored
# under the key with the highest score `key · query`.


# %%
def hard_lookup(query, keys, values):
    return (keys @ query).argmax()  # your turn


check_hard_lookup(hard_lookup)


# %% tags=["hide-input"]
def hard_lookup(query, keys, values):
    return values[(keys @ query).argmax()]


assert check_hard_lookup(hard_lookup)

# %% [markdown]
# ### Exercise 2: attention
#
# Write `my_attention(Q, K, V)` for tensors of shape `(..., L, d_k)`,
# `(..., S, d_k)` and `(..., S, d_v)`, returning `(..., L, d_v)`.


# %%
def my_attention(Q, K, V):
    return torch.softmax(Q @ K.transpose(-2, -1), dim=-1) @ V  # your turn


check_attention(my_attention)


# %% tags=["hide-input"]
def my_attention(Q, K, V):
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.shape[-1])  # (..., L, S)
    return torch.softmax(scores, dim=-1) @ V


assert check_attention(my_attention)

# %% [markdown]
# ### Exercise 3: the scale of one head
#
# Write `head_scale(embed_dim, num_heads)`: the number each head's scores are
# multiplied by.


# %%
def head_scale(embed_dim, num_heads):
    return 1 / math.sqrt(embed_dim)  # your turn


check_head_scale(head_scale)


# %% tags=["hide-input"]
def head_scale(embed_dim, num_heads):
    head_dim = embed_dim // num_heads
    return 1 / math.sqrt(head_dim)


assert check_head_scale(head_scale)

# %% [markdown]
# ### Exercise 4: self-attention with projections
#
# Write `self_attention(x, w_q, w_k, w_v)`: project the embeddings `x` (shape
# `(L, E)`) to queries, keys and values with the three matrices (shapes
# `(E, d_k)`, `(E, d_k)`, `(E, d_v)`), then attend, as in "I love pizza".


# %%
def self_attention(x, w_q, w_k, w_v):
    return my_attention(x, x, x)  # your turn


check_projected_attention(self_attention)


# %% tags=["hide-input"]
def self_attention(x, w_q, w_k, w_v):
    Q, K, V = x @ w_q, x @ w_k, x @ w_v  # (L, d_k), (L, d_k), (L, d_v)
    return my_attention(Q, K, V)


assert check_projected_attention(self_attention)
