# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Dot products and similarity
#
# Attention needs to answer one question, over and over: *how well does this
# key match this query?* The answer is a single number, a score, and almost
# every transformer computes it the same way: with a dot product. This chapter
# builds the dot product from scratch, gives it a picture, compares it with
# its normalised cousin, the cosine similarity, and then computes thousands of
# scores at once with one matrix product.

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
# - compute a dot product by hand, with a loop and with PyTorch, and read its sign;
# - see it as geometry: $a \cdot b = \lVert a \rVert \, \lVert b \rVert \cos\theta$;
# - tell the cosine similarity from the raw dot product, and see why length matters to attention;
# - compute every query–key score at once as the matrix product $QK^\top$, checked against a loop.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_cosine_similarity,
    check_dot,
    check_most_similar,
    check_pairwise_scores,
)
from attnbook.notebook import glue
from attnbook.viz import plot_heatmap, use_book_style
from attnbook.widgets import DotProductExplorer

seed_everything(0)
device = default_device()
use_book_style()
print(describe_device(device))

# %% [markdown]
# ## Words as vectors
#
# A transformer represents each *token* (a word, or a piece of a word) by a
# vector of numbers, its {term}`embedding`. Learned embeddings have hundreds of dimensions with no names;
# to see what is going on we make up tiny ones with four named features, each
# between 0 and 1.

# %%
features = ["animal", "object", "soft", "action"]
words = ["cat", "dog", "mat", "rug", "sat", "ran"]
embeddings = torch.tensor(
    [  # animal, object, soft, action
        [1.0, 0.0, 0.8, 0.0],  # cat
        [1.0, 0.0, 0.5, 0.1],  # dog
        [0.0, 1.0, 0.7, 0.0],  # mat
        [0.0, 1.0, 0.9, 0.0],  # rug
        [0.1, 0.0, 0.0, 1.0],  # sat
        [0.2, 0.0, 0.0, 1.0],  # ran
    ],
    device=device,
)  # (6, E) with E = 4
vec = dict(zip(words, embeddings, strict=True))
E = embeddings.shape[1]
assert embeddings.shape == (len(words), E)

# %% [markdown]
# ## The dot product
#
# The dot product of two vectors of the same size multiplies them entry by
# entry and adds the products:
#
# $$a \cdot b = \sum_{i=1}^{E} a_i b_i .$$
#
# Features that are large in *both* vectors add a lot; a feature that is zero
# in either adds nothing. First a plain Python loop, so every step is visible.


# %%
def dot_loop(a, b):
    """Dot product with a loop: multiply entry by entry, then add up."""
    assert a.shape == b.shape, f"sizes differ: {a.shape} vs {b.shape}"
    total = 0.0
    for a_i, b_i in zip(a.tolist(), b.tolist(), strict=True):
        total += a_i * b_i
    return total


cat, dog, mat = vec["cat"], vec["dog"], vec["mat"]
for i, name in enumerate(features):
    print(f"{name:>7}: cat {cat[i]:.1f} x dog {dog[i]:.1f} = {cat[i] * dog[i]:.2f}")
print(f"cat · dog = {dot_loop(cat, dog):.2f}")
print(f"cat · mat = {dot_loop(cat, mat):.2f}")

# PyTorch spells it three ways; all agree with the loop.
for torch_dot in (cat @ dog, torch.dot(cat, dog), (cat * dog).sum()):
    assert math.isclose(torch_dot.item(), dot_loop(cat, dog), rel_tol=1e-6)
glue("cat_dog", dot_loop(cat, dog), display=False)
glue("cat_mat", dot_loop(cat, mat), display=False)

# %% [markdown]
# "cat" and "dog" share *animal* and a bit of *soft*, so their dot product is
# {glue:text}`cat_dog:.2f`; "cat" and "mat" share only *soft*:
# {glue:text}`cat_mat:.2f`. From here on we use `a @ b`.
#
# ## The geometry: lengths and an angle
#
# A dot product has a second reading. With $\lVert a \rVert = \sqrt{a \cdot a}$
# the length of $a$ and $\theta$ the angle between the two vectors,
#
# $$a \cdot b = \lVert a \rVert \, \lVert b \rVert \cos\theta .$$
#
# So its sign says whether the vectors point the same way (positive, $\theta <
# 90°$), at right angles (zero) or apart (negative, $\theta > 90°$), and its size
# grows with both lengths. In two dimensions we can measure the angles
# directly with `atan2` and check the identity.

# %%
a = torch.tensor([2.0, 1.0], device=device)
examples = {
    "same direction": torch.tensor([1.0, 0.5], device=device),
    "at an angle": torch.tensor([0.5, 1.5], device=device),
    "perpendicular": torch.tensor([-1.0, 2.0], device=device),
    "opposite": torch.tensor([-2.0, -1.0], device=device),
}


def angle(v):
    return torch.atan2(v[1], v[0])


for label, b in examples.items():
    theta = angle(b) - angle(a)
    geometric = a.norm() * b.norm() * torch.cos(theta)
    torch.testing.assert_close(a @ b, geometric)  # the two readings agree
    degrees = math.degrees(theta.item()) % 360
    dot, length = (a @ b).item(), b.norm().item()
    print(f"{label:>15}: a·b = {dot:6.2f}   angle {degrees:6.1f}°   ‖b‖ = {length:.2f}")
torch.testing.assert_close(a @ examples["same direction"], a @ examples["at an angle"])

# %% [markdown]
# The first two rows have the same dot product for different reasons: the
# second vector is turned away from $a$, but it is longer, and that makes up
# for the angle. The figure draws the same idea. On the left, the vectors; on the right, the
# dot product of $a$ with a vector $b$ of fixed length as $b$ turns all the way
# around: a cosine wave, highest when $b$ points along $a$, zero at $90°$ and
# $270°$, lowest when it points the other way. Doubling the length of $b$
# doubles the wave.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.8), layout="constrained")
left.quiver(
    0,
    0,
    *a.tolist(),
    angles="xy",
    scale_units="xy",
    scale=1,
    color="black",
    label="a",
)
colors = ["#3b75af", "#4f9a4f", "#c07a2c", "#b0413e"]
for (label, b), color in zip(examples.items(), colors, strict=True):
    left.quiver(
        0,
        0,
        *b.tolist(),
        angles="xy",
        scale_units="xy",
        scale=1,
        color=color,
        label=f"{label}: a·b = {(a @ b).item():.1f}",
    )
left.set(
    xlim=(-2.5, 2.5),
    ylim=(-1.5, 2.5),
    aspect="equal",
    xlabel="feature 1",
    ylabel="feature 2",
)
left.set_title("vectors b compared with a")
left.legend(fontsize=8, loc="lower right")

turn = torch.linspace(0, 2 * math.pi, 361, device=device)
# unit: (361, 2)
unit = torch.stack([torch.cos(turn + angle(a)), torch.sin(turn + angle(a))], dim=-1)
for length in (1.0, 2.0):
    right.plot(
        torch.rad2deg(turn).cpu(),
        (unit * length @ a).cpu(),
        label=f"‖b‖ = {length:g}",
    )
right.axhline(0, color="gray", linewidth=0.8)
right.set(
    xlabel="angle between a and b (degrees)",
    ylabel="a · b",
    title="a · b as b turns",
)
right.set_xticks(range(0, 361, 90))
right.legend()
plt.show()

# %% [markdown]
# ### Try it
#
# Drag the tips of the two vectors below (or use the sliders). Watch three
# things: the sign of $a \cdot b$ flips exactly when the angle passes $90°$; the
# cosine stays the same when you make one vector longer without turning it,
# while the dot product grows; and the projection of $b$ onto $a$ (the shadow
# of $b$ along $a$) times $\lVert a \rVert$ is the dot product.

# %%
DotProductExplorer(a=(1.5, 0.5), b=(0.5, 1.25))

# %% [markdown]
# ## Cosine similarity: the direction only
#
# Dividing the dot product by both lengths leaves only the angle:
#
# $$\cos\theta = \frac{a \cdot b}{\lVert a \rVert \, \lVert b \rVert} \in [-1, 1] .$$
#
# This *cosine similarity* ignores how long the vectors are. Here it is,
# checked against PyTorch's `F.cosine_similarity`.


# %%
def cosine_similarity(a, b):
    return (a @ b) / (a.norm() * b.norm())


for x in words:
    for y in words:
        ours = cosine_similarity(vec[x], vec[y])
        torch.testing.assert_close(ours, F.cosine_similarity(vec[x], vec[y], dim=0))
print(f"cos(cat, dog) = {cosine_similarity(cat, dog).item():.3f}")
print(f"cos(cat, mat) = {cosine_similarity(cat, mat).item():.3f}")

# %% [markdown]
# What is the difference in practice? Make a "loud" cat: the same direction,
# three times as long. The cosine does not notice; the dot product triples, and
# that is enough to change which word a query finds most similar.

# %%
loud_cat = 3 * cat
dot_cat, dot_loud = (cat @ dog).item(), (loud_cat @ dog).item()
print(f"cat · dog = {dot_cat:.2f}   loud_cat · dog = {dot_loud:.2f}")
cos_cat = cosine_similarity(cat, dog).item()
cos_loud = cosine_similarity(loud_cat, dog).item()
print(f"cos(cat, dog) = {cos_cat:.3f}   cos(loud_cat, dog) = {cos_loud:.3f}")
torch.testing.assert_close(
    cosine_similarity(loud_cat, dog),
    cosine_similarity(cat, dog),
)
torch.testing.assert_close(loud_cat @ dog, 3 * (cat @ dog))

# Which key is most similar to the query "rug"? The candidates: loud_cat and mat.
query, candidates = vec["rug"], {"loud_cat": loud_cat, "mat": mat}
by_dot = max(candidates, key=lambda name: (candidates[name] @ query).item())
by_cosine = max(
    candidates,
    key=lambda name: cosine_similarity(candidates[name], query).item(),
)
for name, key in candidates.items():
    cos = cosine_similarity(key, query).item()
    print(f"{name:>8}: rug · key = {(key @ query).item():.2f}   cos = {cos:.3f}")
print("most similar to 'rug' by dot product:", by_dot, "| by cosine:", by_cosine)
assert (by_dot, by_cosine) == ("loud_cat", "mat")

# %% [markdown]
# By direction, "rug" is closest to "mat", as it should be. By raw dot
# product, the loud cat wins, only because it is long.
#
# Attention nevertheless uses the raw dot product, for two reasons. It is
# cheaper: no lengths to compute. And length is a signal the model *learns* to
# use: the queries and keys are computed by learned layers
# ({doc}`chapter 04 <04_queries_keys_values>`), which can make a key longer so
# it is found more easily, or a query longer to make its choice sharper (a
# longer query acts like a lower softmax temperature,
# {doc}`chapter 03 <03_softmax>`). The price is that scores grow with the
# number of entries in the vectors, which is why chapter 04 divides them by
# $\sqrt{d_k}$, the square root of that number.
#
# :::{admonition} A long vector is not a similar vector
# :class: warning
# When you read raw dot products (attention scores, or similarities between
# embeddings), a large value can mean "points the same way" or just "is
# long". To ask about direction alone, use the cosine similarity.
# :::

# %% [markdown]
# ## All pairs at once
#
# The table below compares every word with every word, both ways. Look at the
# diagonal: the cosine of a vector with itself is always 1, while its dot
# product with itself is its squared length, different for each word. In the
# row of "mat", the largest dot product is not with "mat" itself but with the
# longer "rug"; by cosine, every word is most similar to itself. And notice
# the three blocks of similar words: animals, objects, actions.

# %%
dots = embeddings @ embeddings.T  # (6, 4) @ (4, 6) -> (6, 6)
# unit_rows: (6, 4), each row of length 1
unit_rows = embeddings / embeddings.norm(dim=-1, keepdim=True)
cosines = unit_rows @ unit_rows.T  # (6, 6)
torch.testing.assert_close(cosines.diagonal(), torch.ones(len(words), device=device))
torch.testing.assert_close(dots.diagonal(), (embeddings**2).sum(-1))
mat_row = dots[words.index("mat")]
assert words[mat_row.argmax()] == "rug"  # not "mat": rug is longer
assert all(cosines[i].argmax() == i for i in range(len(words)))

fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.6), layout="constrained")
plot_heatmap(
    dots,
    words,
    words,
    ax=left,
    title="dot products",
    xlabel="word",
    ylabel="word",
)
plot_heatmap(
    cosines,
    words,
    words,
    ax=right,
    title="cosine similarities",
    xlabel="word",
    ylabel="word",
    vmin=0,
    vmax=1,
)
plt.show()

# %% [markdown]
# ## Batched dot products are a matrix product
#
# Attention has $L$ queries and $S$ keys, each of size $E$, stacked as the rows
# of matrices $Q$ (shape $L \times E$) and $K$ (shape $S \times E$). It needs
# every query's score with every key: $L \cdot S$ dot products. Entry $(i, j)$
# of the matrix product $QK^\top$ is row $i$ of $Q$ times column $j$ of
# $K^\top$, which is row $j$ of $K$: exactly $Q_i \cdot K_j$. So one matrix
# product computes them all. We already used it for the heatmap; now we check
# it against a double loop on random queries and keys. (From
# {doc}`chapter 04 <04_queries_keys_values>` on, the size of the queries and
# keys gets its own name, $d_k$; here it is simply the size $E$ of our
# vectors.)

# %%
L, S = 3, 5
Q = torch.randn(L, E, device=device)  # (L, E): one query per row
K = torch.randn(S, E, device=device)  # (S, E): one key per row

loop_scores = torch.empty(L, S, device=device)
for i in range(L):
    for j in range(S):
        loop_scores[i, j] = Q[i] @ K[j]

scores = Q @ K.T  # (L, E) @ (E, S) -> (L, S)
assert scores.shape == (L, S)
torch.testing.assert_close(scores, loop_scores)
print(scores)

# %% [markdown]
# Rows are queries, columns keys. The transpose matters: without it, `Q @ K`
# asks for an $(L \times E)$ times $(S \times E)$ product, which does not exist
# because the inner sizes $E$ and $S$ differ. (Were they equal, it would run and
# silently compute the wrong numbers, so check the shape.)

# %%
try:
    Q @ K
except RuntimeError as error:
    print("Q @ K fails:", error)

# %% [markdown]
# In a model, the scores come in batches: $N$ sequences (and, from
# {doc}`chapter 05 <05_multi_head_attention>`, $H$ heads), so the tensors have shape `(N, L, E)` and `(N, S, E)`. The matrix
# product works on the last two axes and carries the others along; we only
# need to transpose the last two axes of $K$. Three spellings, one result:

# %%
N = 2
Qb = torch.randn(N, L, E, device=device)  # (N, L, E)
Kb = torch.randn(N, S, E, device=device)  # (N, S, E)
batched = Qb @ Kb.transpose(-2, -1)  # (N, L, E) @ (N, E, S) -> (N, L, S)
assert batched.shape == (N, L, S)
torch.testing.assert_close(batched, torch.einsum("nle,nse->nls", Qb, Kb))
torch.testing.assert_close(batched, torch.bmm(Qb, Kb.mT))
for n in range(N):  # each sequence of the batch on its own gives the same scores
    torch.testing.assert_close(batched[n], Qb[n] @ Kb[n].T)
print("batched scores:", tuple(batched.shape), "= (N, L, S)")

# %% [markdown]
# :::{admonition} `K.T` on a batch
# :class: warning
# `.T` reverses *all* axes: on a `(N, S, E)` tensor it gives `(E, S, N)`, not
# what you want, and PyTorch warns that this use is deprecated. For the last
# two axes write `K.transpose(-2, -1)` or `K.mT`.
# :::
#
# How much work is this? Each of the $L \cdot S$ scores needs $E$
# multiplications, so $L \cdot S \cdot E$ in all. For a text of
# {glue:text}`tokens_in_text` tokens, every token comparing itself with every
# token, and vectors of size {glue:text}`head_size` (a typical size for one
# attention head), that is {glue:text}`multiplications_millions:.0f` million
# multiplications, which a matrix product does in one call. It also hints at
# the cost of attention: double the text and there are four times as many
# scores ({doc}`chapter 15 <15_cost_of_attention>`).

# %%
tokens_in_text, head_size = 1000, 64
multiplications = tokens_in_text * tokens_in_text * head_size
print(f"L = S = {tokens_in_text}, E = {head_size}: {multiplications:,} multiplications")
assert multiplications == 64_000_000
glue("tokens_in_text", tokens_in_text)
glue("head_size", head_size)
glue("multiplications_millions", multiplications / 1e6)

# %% [markdown]
# ## Summary
#
# - The dot product $a \cdot b = \sum_i a_i b_i$ is large when the vectors share large features.
# - Geometrically, $a \cdot b = \lVert a \rVert \lVert b \rVert \cos\theta$: its sign gives the
#   direction (same way, right angle, apart), its size grows with the lengths.
# - The cosine similarity divides out the lengths. Attention uses the raw dot
#   product, letting learned lengths carry meaning, and rescales it
#   ({doc}`chapter 04 <04_queries_keys_values>`).
# - All query–key scores at once: `Q @ K.transpose(-2, -1)`, shape `(..., L, S)`,
#   rows are queries and columns keys.
#
# {doc}`Chapter 03 <03_softmax>` turns a row of scores into weights.

# %% [markdown]
# ## Exercises
#
# Each starting point below is wrong on purpose. Run the check, read what it
# says, fix the function, run again. Solutions are under the toggles.
#
# ### Exercise 1: the dot product
#
# Write `my_dot(a, b)` for two vectors of the same size, returning one number.


# %%
def my_dot(a, b):
    return a * b  # your turn


check_dot(my_dot)


# %% tags=["hide-input"]
def my_dot(a, b):
    return (a * b).sum()


assert check_dot(my_dot)

# %% [markdown]
# ### Exercise 2: cosine similarity
#
# Write `my_cosine(a, b)`, without `F.cosine_similarity`.


# %%
def my_cosine(a, b):
    return (a @ b) / a.norm()  # your turn


check_cosine_similarity(my_cosine)


# %% tags=["hide-input"]
def my_cosine(a, b):
    return (a @ b) / (a.norm() * b.norm())


assert check_cosine_similarity(my_cosine)

# %% [markdown]
# ### Exercise 3: all scores at once
#
# Write `pairwise_scores(Q, K)` for `Q` of shape `(..., L, E)` and `K` of
# shape `(..., S, E)`, returning `(..., L, S)` with entry `[i, j] = Q[i] · K[j]`.


# %%
def pairwise_scores(Q, K):
    return K @ Q.transpose(-2, -1)  # your turn


check_pairwise_scores(pairwise_scores)


# %% tags=["hide-input"]
def pairwise_scores(Q, K):
    return Q @ K.transpose(-2, -1)  # (..., L, E) @ (..., E, S) -> (..., L, S)


assert check_pairwise_scores(pairwise_scores)

# %% [markdown]
# ### Exercise 4: the most similar key, by direction
#
# Write `most_similar(query, keys)`: the index of the row of `keys` (shape
# `(S, E)`) with the highest cosine similarity to `query` (shape `(E,)`).


# %%
def most_similar(query, keys):
    return (keys @ query).argmax()  # your turn


check_most_similar(most_similar)


# %% tags=["hide-input"]
def most_similar(query, keys):
    cosines = (keys @ query) / (keys.norm(dim=-1) * query.norm())  # (S,)
    return cosines.argmax()


assert check_most_similar(most_similar)
