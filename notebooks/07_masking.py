# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Masking: who may look at whom
#
# Attention lets every query look at every key. Often that is too much. A batch
# of sentences of different lengths is padded to one length, and nobody should
# attend to the padding. A language model that predicts the next word must not
# peek at it. A *mask* says, for every pair of a query and a key, whether the
# query may look. This chapter builds the two masks every transformer uses,
# combines them, follows what happens when a query is left with nothing to look
# at, and untangles the two opposite conventions that PyTorch uses for them.

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
# - build a padding mask for a batch of unequal lengths and check that padding
#   no longer changes the results;
# - build a causal mask, apply it with $-\infty$ before the softmax, and see why
#   text generation needs it;
# - combine masks, and measure what happens to a query that may attend to nothing;
# - switch between boolean and additive masks, and between the opposite
#   conventions of `F.scaled_dot_product_attention` and `nn.MultiheadAttention`.

# %%
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from attnbook.attention import MultiheadAttention
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_causal_mask,
    check_masked_softmax,
    check_padding_mask,
)
from attnbook.functional import scaled_dot_product_attention
from attnbook.masks import (
    causal_mask,
    combine_masks,
    padding_mask,
    to_additive,
    to_torch_mha_mask,
)
from attnbook.notebook import glue
from attnbook.viz import plot_heatmap, use_book_style
from attnbook.widgets import MaskExplorer

seed_everything(0)
device = default_device()
use_book_style()
print(describe_device(device))

# %% [markdown]
# ## What a mask is
#
# A mask is a table with one row per query and one column per key, $L \times S$.
# In `attnbook`, as in `F.scaled_dot_product_attention`, a **boolean** mask holds
# `True` where the query *may attend* to the key. Attention applies it to the
# scores *before* the softmax: a forbidden score becomes $-\infty$, and since
# $e^{-\infty} = 0$, the softmax gives that key a weight of exactly zero while the
# other weights still sum to 1:
#
# $$A = \operatorname{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}} + M\right),
# \qquad M_{ij} = \begin{cases} 0 & \text{if query } i \text{ may see key } j \\
# -\infty & \text{otherwise.} \end{cases}$$
#
# (padding-masks)=
# ## Padding: batches of unequal length
#
# Tensors are rectangles. To put three sentences of different lengths in one
# batch, we pad the short ones with a special `<pad>` token up to the longest.

# %%
sentences = ["The cat sat", "The cat sat on the mat", "It was comfortable"]
vocab = ["<pad>"] + sorted({w for s in sentences for w in s.split()})
PAD = vocab.index("<pad>")
lengths = [len(s.split()) for s in sentences]
S = max(lengths)
ids = torch.full((len(sentences), S), PAD)  # (N, S), padding everywhere at first
for n, s in enumerate(sentences):
    ids[n, : lengths[n]] = torch.tensor([vocab.index(w) for w in s.split()])
ids = ids.to(device)
print("lengths:", lengths)
print(ids)
num_pads = len(sentences) * S - sum(lengths)
assert ids.shape == (3, 6) and (ids == PAD).sum().item() == num_pads

# %% [markdown]
# Without a mask the padding takes part in attention like any word. The
# consequence is easy to test: "The cat sat" should give the same result alone
# and inside the batch. It does not.

# %%
E = 8
embedding = torch.nn.Embedding(len(vocab), E).to(device)
layer = MultiheadAttention(embed_dim=E, num_heads=2).to(device)
x = embedding(ids).detach()  # (N, S, E)

with torch.no_grad():
    # "The cat sat" on its own: (1, 3, E)
    alone = layer(x[:1, :3], x[:1, :3], x[:1, :3])[0]
    in_batch = layer(x, x, x)[0][:1, :3]  # the same words inside the padded batch
gap = (alone - in_batch).abs().max().item()
print(f"largest difference, alone vs in the padded batch: {gap:.3f}")
assert gap > 1e-3
glue("pad_gap", gap)

# %% [markdown]
# A difference of {glue:text}`pad_gap:.3f`: inside the batch, the real words
# also averaged in the `<pad>` vectors that follow them. The fix is a *padding mask* that hides every padded key.
# The token ids already tell us where the padding is:

# %%
keep = ids != PAD  # (N, S): True at real tokens
pad_mask = keep[:, None, None, :]  # (N, 1, 1, S): broadcasts over heads and queries
print(pad_mask.shape)
print(keep.int())
assert torch.equal(
    pad_mask,
    padding_mask(torch.tensor(lengths, device=device), max_len=S),
)

# %% [markdown]
# The shape $(N, 1, 1, S)$ is deliberate. Scores have shape $(N, H, L, S)$; the
# two ones let the same row of the mask apply to every head and every query. The
# same mask, built from the lengths, is `attnbook.masks.padding_mask`, which the
# assertion compared with ours. With the mask, the batch gives the same result as
# the sentence alone:

# %%
with torch.no_grad():
    masked = layer(x, x, x, attn_mask=pad_mask)[0][:1, :3]
torch.testing.assert_close(masked, alone)
print("with the padding mask: identical to the sentence alone")

# %% [markdown]
# ```{note}
# The padding mask hides padded **keys**. The padded positions still produce
# outputs as queries (the last rows of the first sentence). They are harmless as
# long as nothing uses them: a loss or a pooling step must skip them as well.
# ```
#
# (causal-masks)=
# ## Causal masks: no peeking at the future
#
# A language model is trained to predict token $t + 1$ from tokens $0 .. t$,
# for every $t$ at once: the whole sentence goes in, and position $t$'s output
# predicts the next token. If position $t$ could attend to position $t + 1$, it
# would simply copy the answer. A *causal mask* allows query $i$ to see key $j$
# only when $j \le i$: the lower triangle, diagonal included.

# %%
L = 6
i = torch.arange(L, device=device)[:, None]  # (L, 1): query positions
j = torch.arange(L, device=device)[None, :]  # (1, L): key positions
causal = j <= i  # (L, L): True on and below the diagonal
print(causal.int())
assert torch.equal(causal, causal_mask(L, device=device))

# %% [markdown]
# `attnbook.masks.causal_mask(L)` is the same table. Apply it the way the formula
# says: fill forbidden scores with $-\infty$, then take the softmax.

# %%
scores = torch.randn(L, L, device=device)
weights = torch.softmax(scores.masked_fill(~causal, float("-inf")), dim=-1)  # (L, L)
print(weights.round(decimals=2))
assert torch.all(weights[~causal] == 0)  # exactly zero above the diagonal
# rows still sum to 1
torch.testing.assert_close(weights.sum(-1), torch.ones(L, device=device))
assert weights[0, 0] == 1  # the first token can only look at itself

# %% [markdown]
# PyTorch builds the same mask for you with `is_causal=True`:

# %%
q, k, v = (torch.randn(1, 2, L, 4, device=device) for _ in range(3))  # (N, H, L, d_k)
torch.testing.assert_close(
    F.scaled_dot_product_attention(q, k, v, attn_mask=causal),
    F.scaled_dot_product_attention(q, k, v, is_causal=True),
)
print("attn_mask=causal_mask(L) is is_causal=True")

# %% [markdown]
# ```{warning}
# Mask the **scores**, before the softmax. Zeroing the weights *after* the
# softmax leaves rows that no longer sum to 1, and renormalising them by hand is
# just a slower way of doing it right.
# ```

# %%
wrong = torch.softmax(scores, dim=-1) * causal  # masking after the softmax
print(
    "row sums when masking after the softmax:",
    [round(v, 3) for v in wrong.sum(-1).tolist()],
)
assert not torch.allclose(wrong.sum(-1), torch.ones(L, device=device))

# %% [markdown]
# ### Why generation needs it
#
# When the trained model *generates*, token $t + 1$ does not exist yet: the
# model writes it. So during training position $t$ must not use it either, or
# the model learns to rely on something it will never have. The mask makes
# training and generation agree, and we can check that directly. With the causal
# mask, running the model on the first $t$ tokens gives exactly the first $t$
# rows of running it on the whole sentence — which is what lets a model generate
# one token at a time (and, in {doc}`chapter 11 <11_decoder_only>`, reuse its past keys and values).

# %%
sentence = x[1:2]  # "The cat sat on the mat": (1, L, E)
with torch.no_grad():
    full = layer(sentence, sentence, sentence, is_causal=True)[0]  # (1, L, E)
    for t in range(1, L + 1):
        prefix = sentence[:, :t]  # what exists after writing t tokens
        torch.testing.assert_close(
            layer(prefix, prefix, prefix, is_causal=True)[0],
            full[:, :t],
        )
    peeking = layer(sentence, sentence, sentence)[0]  # no mask
    prefix_alone = layer(sentence[:, :3], sentence[:, :3], sentence[:, :3])[0]
peek_gap = (peeking[:, :3] - prefix_alone).abs().max().item()
print("causal: every prefix agrees with the full sentence")
print(f"no mask: the first 3 outputs change by up to {peek_gap:.3f}", end=" ")
print("once later words exist")
assert peek_gap > 1e-3

# %% [markdown]
# ## Combining masks
#
# A decoder trained on a padded batch needs both masks: a key is allowed only if
# it is not padding **and** not in the future. Boolean masks combine with a
# logical AND, and broadcasting lines up their shapes: $(L, L)$ and $(N, 1, 1, S)$
# give $(N, 1, L, S)$. `attnbook.masks.combine_masks` does exactly this (it also
# adds float masks, below).

# %%
combined = causal & pad_mask  # (L, L) & (N, 1, 1, S) -> (N, 1, L, S)
print("causal", tuple(causal.shape), "& padding", tuple(pad_mask.shape), end=" ")
print("->", tuple(combined.shape))
assert torch.equal(combined, combine_masks(causal, pad_mask))
assert combined.shape == (3, 1, L, S)

labels = ["The", "cat", "sat", "<pad>", "<pad>", "<pad>"]
fig, axes = plt.subplots(1, 3, figsize=(8.5, 3.6), layout="constrained")
fig.get_layout_engine().set(wspace=0.08)  # a gap between the panels
panels = [
    (pad_mask[0, 0].expand(L, S), "padding (sentence 1)"),
    (causal, "causal"),
    (combined[0, 0], "padding AND causal"),
]
for ax, (mask, title) in zip(axes, panels, strict=True):
    plot_heatmap(
        mask.int(),
        labels,
        labels,
        ax=ax,
        title=title,
        cmap="Greens",
        vmin=0,
        vmax=1,
        colorbar=False,
        fmt="{:.0f}",
    )
    # "<pad>" labels side by side would touch
    ax.tick_params(axis="x", labelrotation=90)
for ax in axes[1:]:
    ax.set(ylabel="", yticklabels=[])  # same rows as the first panel
plt.show()

# %% [markdown]
# In each panel a 1 (dark) means the query of that row may look at the key of
# that column. The padding mask blanks whole *columns*, the causal mask the upper
# triangle, and the combination keeps only cells that both allow.
#
# (fully-masked-rows)=
# ## A query with nothing to look at
#
# Sometimes a mask leaves a query with no key at all. It happens in practice:
# generation often pads prompts on the *left*, so that every prompt ends at the
# same position. Combined with the causal mask, the first padded position may
# look only at keys up to itself — all of them padding.

# %%
# left_padded: (N, S)
left_padded = torch.tensor([[False, False, True, True, True, True]], device=device)
mask = causal & left_padded[:, None, None, :]  # (1, 1, L, S)
empty_rows = ~mask.any(-1)  # (1, 1, L): True where a query may see nothing
print(mask[0, 0].int())
print("queries with no allowed key:", empty_rows[0, 0].nonzero().flatten().tolist())
assert empty_rows[0, 0].tolist() == [True, True, False, False, False, False]

# %% [markdown]
# Rows 0 and 1 are all zeros. What is a softmax over nothing? Every score is
# $-\infty$, every $e^{-\infty}$ is 0, and the softmax divides $0$ by $0$. The
# naive version returns `nan`:

# %%
q, k, v = (torch.randn(1, 1, L, 4, device=device) for _ in range(3))  # (N, H, L, d_k)
scaled = q @ k.transpose(-2, -1) / 2  # divided by sqrt(d_k) = sqrt(4): (1, 1, L, L)
naive_scores = scaled.masked_fill(~mask, float("-inf"))  # (1, 1, L, L)
naive_weights = torch.softmax(naive_scores, dim=-1)
naive_out = naive_weights @ v
print("naive weights, row 0:", naive_weights[0, 0, 0].tolist())
print("naive output, row 0:", naive_out[0, 0, 0].tolist())
print("a loss that sums the outputs:", naive_out.sum().item())
assert torch.isnan(naive_out[0, 0, :2]).all() and torch.isnan(naive_out.sum())

# %% [markdown]
# One `nan` poisons everything it touches: the sum of the outputs is `nan`, and
# so would be a loss and every gradient after it, even though rows 2 to 5 are
# fine. `attnbook` decides this case once and documents it: **a query with no
# allowed key gets zero weights and a zero output** (see the docstring of
# `attnbook.functional.scaled_dot_product_attention`).

# %%
ours, our_weights = scaled_dot_product_attention(
    q,
    k,
    v,
    attn_mask=mask,
    need_weights=True,
)
print("attnbook weights, row 0:", our_weights[0, 0, 0].tolist())
assert torch.all(our_weights[0, 0, :2] == 0) and torch.all(ours[0, 0, :2] == 0)
# the other rows are as before
torch.testing.assert_close(ours[0, 0, 2:], naive_out[0, 0, 2:])

# %% [markdown]
# What does PyTorch do? We measure it instead of guessing: the functional
# `F.scaled_dot_product_attention`, and `nn.MultiheadAttention` (with its own
# mask convention, converted — see {ref}`below <mask-polarity>`) both with and
# without returning its weights.


# %%
def describe(t):
    """'nan', 'zeros' or 'other values' for the first (empty) query row."""
    row = t[..., 0, :]
    if torch.isnan(row).any():
        return "nan"
    return "zeros" if torch.all(row == 0) else "other values"


# no biases: a zero row stays zero
mha = MultiheadAttention(4, 1, bias=False).to(device)
torch_mha = mha.to_torch()
xs = torch.randn(1, L, 4, device=device)  # (N, L, E)
mha_mask = to_torch_mha_mask(mask[0, 0])  # (L, S) in nn.MultiheadAttention's polarity
with torch.no_grad():
    measured = {
        "attnbook.functional.scaled_dot_product_attention": describe(ours),
        "torch F.scaled_dot_product_attention": describe(
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
        ),
        "torch nn.MultiheadAttention, need_weights=True": describe(
            torch_mha(xs, xs, xs, attn_mask=mha_mask, need_weights=True)[0],
        ),
        "torch nn.MultiheadAttention, need_weights=False": describe(
            torch_mha(xs, xs, xs, attn_mask=mha_mask, need_weights=False)[0],
        ),
        "attnbook MultiheadAttention": describe(
            mha(xs, xs, xs, attn_mask=mask[0, 0])[0],
        ),
    }
print(f"torch {torch.__version__} on {device.type}:", end=" ")
print("output of a query with no allowed key")
for name, verdict in measured.items():
    print(f"  {name:<50} {verdict}")
assert measured["attnbook.functional.scaled_dot_product_attention"] == "zeros"
assert measured["attnbook MultiheadAttention"] == "zeros"
# the build the text describes
if torch.__version__.startswith("2.13") and device.type == "cpu":
    assert measured["torch F.scaled_dot_product_attention"] == "zeros"
    assert measured["torch nn.MultiheadAttention, need_weights=True"] == "nan"
    assert measured["torch nn.MultiheadAttention, need_weights=False"] == "zeros"

# %% [markdown]
# On the CPU with torch 2.13, where this book is built, the functional
# `F.scaled_dot_product_attention` returns zeros like `attnbook`, but
# `nn.MultiheadAttention` returns `nan` when it is asked for its weights and
# zeros when it is not: inside the module, the two settings run different code.
# Other versions and devices have behaved differently over the years, so trust
# the table printed above for *your* setup, not a rule remembered from elsewhere.
#
# ```{warning}
# A common "fix" is to fill with a large negative number such as `-1e9` instead
# of $-\infty$. It avoids the `nan`, but an all-masked row then gets *equal*
# weights on every key — it attends to the padding. And in float16, whose
# largest number is far below $10^9$ ({ref}`chapter 03 <softmax-overflow>`
# printed it), `-1e9` becomes $-\infty$ anyway:
# ```

# %%
row = torch.full((4,), -1e9)  # four scores, all "masked" with -1e9
print("softmax of a row of -1e9:", torch.softmax(row, dim=-1).tolist())
print("-1e9 in float16:", torch.tensor(-1e9, dtype=torch.float16).item())
assert torch.allclose(torch.softmax(row, dim=-1), torch.full((4,), 0.25))

# %% [markdown]
# ## Boolean and additive masks
#
# A mask can also be a float tensor that is **added** to the scores: $0$ where
# the key is allowed, $-\infty$ where it is not — the $M$ of the formula at the top.
# `attnbook.masks.to_additive` converts a boolean mask, and both forms give the
# same attention:

# %%
additive = to_additive(causal)  # (L, L) float: 0 and -inf
print(additive)
q, k, v = (torch.randn(1, 2, L, 4, device=device) for _ in range(3))  # (N, H, L, d_k)
torch.testing.assert_close(
    F.scaled_dot_product_attention(q, k, v, attn_mask=additive),
    F.scaled_dot_product_attention(q, k, v, attn_mask=causal),
)
print("boolean and additive masks agree")

# %% [markdown]
# The additive form can do more than allow or forbid: any finite number nudges a
# score up or down. {doc}`Chapter 08 <08_positional_encoding>` uses that for
# positions (ALiBi and T5's relative bias are additive masks). It also hides a trap:
#
# ```{warning}
# A mask of ones and zeros in a *float* dtype is not a boolean mask. It is added:
# allowed keys get $+1$, forbidden keys $+0$, and nothing is hidden.
# ```

# %%
float_01 = causal.float()  # 1.0 and 0.0: looks like a mask, is a bias
_, w_bool = scaled_dot_product_attention(q, k, v, attn_mask=causal, need_weights=True)
_, w_float = scaled_dot_product_attention(
    q,
    k,
    v,
    attn_mask=float_01,
    need_weights=True,
)
future_bool = (w_bool * ~causal).sum(-1)  # (N, H, L): each row's weight on future keys
future_float = (w_float * ~causal).sum(-1)
clean, leak = future_bool.max().item(), future_float.max().item()
print(f"boolean mask: largest weight a row puts on future keys = {clean:.3f}")
print(f"0/1 float mask: largest weight a row puts on future keys = {leak:.3f}")
assert future_bool.max() == 0 and leak > 0.1
glue("float_leak", leak)

# %% [markdown]
# The 0/1 float mask left up to {glue:text}`float_leak:.2f` of a row's weight on
# future keys. Keep masks boolean, or convert them with `to_additive`.
#
# (mask-polarity)=
# ## The polarity trap
#
# Here is the confusion that turns up again and again in the issue trackers of
# transformer libraries. PyTorch has **two opposite conventions** for boolean masks:
#
# | function | boolean `True` means |
# |---|---|
# | `F.scaled_dot_product_attention(attn_mask=...)`, and all of `attnbook` | the query **may attend** to this key |
# | `nn.MultiheadAttention(attn_mask=..., key_padding_mask=...)` | this key is **masked out** |
#
# Pass the same boolean tensor to both and they do opposite things. We give our
# causal mask to both modules, which hold the same weights:

# %%
mha = MultiheadAttention(embed_dim=8, num_heads=2).to(device)
torch_mha = mha.to_torch()  # same weights, batch_first=True
xs = torch.randn(2, L, 8, device=device)  # (N, L, E)
mask = causal_mask(L, device=device)  # SDPA polarity: True = may attend
with torch.no_grad():
    ours, our_w = mha(xs, xs, xs, attn_mask=mask, need_weights=True)
    # wrong polarity!
    theirs, their_w = torch_mha(xs, xs, xs, attn_mask=mask, need_weights=True)
print("attnbook weights of query 2:", [round(w, 2) for w in our_w[0, 2].tolist()])
print("torch    weights of query 2:", [round(w, 2) for w in their_w[0, 2].tolist()])
assert torch.all(their_w[0, 2, :3] == 0)  # torch hid the past and the token itself

# %% [markdown]
# Given our mask, PyTorch's module hid exactly the keys we meant to keep: query 2
# looks only at the *future*. And the last query, whose every key is now hidden,
# produces `nan` — the case of the previous section. No error is raised; only the
# results are wrong. The fix is one conversion, done in one place:
# `attnbook.masks.to_torch_mha_mask` inverts a boolean mask (a float mask means
# the same in both and is passed through).

# %%
print("last row, wrong polarity:", theirs[0, -1, :3].tolist())
assert torch.isnan(theirs[:, -1]).all()
with torch.no_grad():
    fixed, fixed_w = torch_mha(
        xs,
        xs,
        xs,
        attn_mask=to_torch_mha_mask(mask),
        need_weights=True,
    )
torch.testing.assert_close(fixed, ours)
torch.testing.assert_close(fixed_w, our_w)
print("with to_torch_mha_mask: identical to attnbook")

# %% [markdown]
# The same holds for padding. `nn.MultiheadAttention`'s `key_padding_mask` wants
# `True` **at the padding**; `attnbook`'s `key_padding_mask` (like every other
# mask in `attnbook`) wants `True` at the real tokens.

# %%
# real: (N, S), True = real
real = torch.tensor([[True] * 6, [True] * 4 + [False] * 2], device=device)
with torch.no_grad():
    ours = mha(xs, xs, xs, key_padding_mask=real)[0]
    # True = pad
    theirs = torch_mha(xs, xs, xs, key_padding_mask=to_torch_mha_mask(real))[0]
torch.testing.assert_close(ours, theirs)
print("key_padding_mask: converted, identical")

# %% [markdown]
# ```{tip}
# Decide the polarity of a mask where you build it, name it after what `True`
# means (`keep`, `is_pad`), and convert only at the boundary with the library
# that expects the other convention. `attnbook.masks` is the one place this book
# decides it.
# ```
#
# ## Explore
#
# The explorer shows the masks of this chapter (and two from
# {doc}`chapter 15 <15_cost_of_attention>`) on a
# fixed set of random scores. Pick a mask and a size; the left grid is the mask
# (`True` = may attend), the right one the weights that remain after the
# softmax. Watch a row's weights redistribute over the keys that are left, and
# find a setting that leaves a query with no key at all.

# %%
MaskExplorer("causal", size=8, padding=2)

# %% [markdown]
# ## Summary
#
# - A boolean mask ($L \times S$) says which key each query may see; in
#   `attnbook` and `F.scaled_dot_product_attention`, `True` = may attend.
#   Forbidden scores become $-\infty$ **before** the softmax.
# - Padding masks $(N, 1, 1, S)$ hide padded keys, so results no longer depend
#   on how much padding a batch needed.
# - Causal masks (lower triangle) stop a position from seeing later ones; they
#   make training match generation, where later tokens do not exist yet.
# - Masks combine with AND (booleans) or by addition (floats), with broadcasting.
# - A query with no allowed key gives `nan` in the naive softmax; `attnbook`
#   returns zeros by design; PyTorch's answer depends on the code path — measure it.
# - A float mask is *added*: a 0/1 float tensor hides nothing.
# - `nn.MultiheadAttention` reads boolean masks the other way round (`True` =
#   masked out): convert with `to_torch_mha_mask`.
#
# ## Exercises
#
# Each exercise gives a starting point that is wrong on purpose and a check that
# tells you what is wrong. The solutions are hidden under the toggles.
#
# ### Exercise 1: a padding mask from lengths
#
# Write `my_padding_mask(lengths, max_len)`: a boolean tensor of shape
# `(N, 1, 1, max_len)`, `True` at the real tokens. `lengths` is a list of ints.


# %%
def my_padding_mask(lengths, max_len):
    positions = torch.arange(max_len)
    return positions >= torch.tensor(lengths)[:, None]  # your turn


check_padding_mask(my_padding_mask)


# %% tags=["hide-input"]
def my_padding_mask(lengths, max_len):
    positions = torch.arange(max_len)  # (S,)
    keep = positions < torch.tensor(lengths)[:, None]  # (N, S): True at real tokens
    return keep[:, None, None, :]  # (N, 1, 1, S)


assert check_padding_mask(my_padding_mask)

# %% [markdown]
# ### Exercise 2: a causal mask
#
# Write `my_causal_mask(L)`: an `(L, L)` boolean tensor, `True` where query $i$
# may attend to key $j$.


# %%
def my_causal_mask(L):
    return torch.ones(L, L, dtype=torch.bool).triu()  # your turn


check_causal_mask(my_causal_mask)


# %% tags=["hide-input"]
def my_causal_mask(L):
    # key j <= query i, diagonal included
    return torch.ones(L, L, dtype=torch.bool).tril()


assert check_causal_mask(my_causal_mask)

# %% [markdown]
# ### Exercise 3: a softmax that survives empty rows
#
# Write `my_masked_softmax(scores, mask)`: the softmax over the last axis of
# `scores`, where `mask` (boolean, `True` = may attend, broadcastable to
# `scores`) hides keys. A row with no allowed key must give zeros, not `nan`.


# %%
def my_masked_softmax(scores, mask):
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # your turn


check_masked_softmax(my_masked_softmax)


# %% tags=["hide-input"]
def my_masked_softmax(scores, mask):
    scores = scores.masked_fill(~mask, float("-inf"))
    shift = scores.amax(dim=-1, keepdim=True)
    # empty rows
    shift = torch.where(torch.isfinite(shift), shift, torch.zeros_like(shift))
    e = torch.exp(scores - shift)  # exactly 0 at masked keys
    total = e.sum(dim=-1, keepdim=True)
    # 0 / 1 = 0 in empty rows
    return e / torch.where(total > 0, total, torch.ones_like(total))


assert check_masked_softmax(my_masked_softmax)
