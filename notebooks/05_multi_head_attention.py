# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Multi-head attention
#
# In {doc}`chapter 04 <04_queries_keys_values>` every query produced one set of weights and one weighted
# average of the values. That is one question per word: "which other words
# matter to me?". Real sentences ask several questions at once. In "The bank
# can guarantee deposits will eventually cover future tuition costs", the word
# "deposits" relates to "bank" (whose deposits?), to "guarantee" (what happens
# to them?) and to "cover" (what they will do). *Multi-head attention* runs
# several attentions side by side, each with its own projections, and joins
# their answers. This chapter builds it one step at a time, checks it against
# PyTorch, times it, and looks at the heads of a small trained model.

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
# - build multi-head attention by hand: project, split into heads, attend,
#   concatenate, project — with the shape checked at every step;
# - count its parameters and see that the count does not depend on the number of heads;
# - time one batched computation of all heads against a Python loop over them;
# - load the same weights into `torch.nn.MultiheadAttention` and get the same outputs;
# - look at what the heads of a small trained model attend to, and what they do not.

# %%
import dataclasses
import math
import statistics
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from attnbook.attention import MultiheadAttention
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_merge_heads,
    check_mha_parameter_count,
    check_multihead_attention,
    check_split_heads,
)
from attnbook.functional import scaled_dot_product_attention
from attnbook.notebook import fast_mode, glue
from attnbook.train import char_lm_config, train_char_lm
from attnbook.viz import plot_head_grid, use_book_style
from attnbook.widgets import AttentionMap

seed_everything(0)
device = default_device()
use_book_style()
print(describe_device(device))

# %% [markdown]
# ## One softmax, one average
#
# Why is one attention not enough? A query's weights sum to 1. If a word needs
# two other words, a single head must split its weight between them, and their
# two values are blended into one vector. Here is the smallest example: the
# query of "deposits" scores "bank" and "guarantee" equally high, and the two
# values are the unit vectors $[1, 0]$ and $[0, 1]$.

# %%
# values: (S, 2), one row each for bank, guarantee, will
values = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
# deposits likes bank and guarantee equally
one_head_scores = torch.tensor([4.0, 4.0, 0.0])
one_head = torch.softmax(one_head_scores, dim=-1) @ values  # (2,)
print("one head:", one_head)

# Two heads, each with its own scores: one looks for bank, the other for guarantee.
head_a = torch.softmax(torch.tensor([8.0, 0.0, 0.0]), dim=-1) @ values  # (2,)
head_b = torch.softmax(torch.tensor([0.0, 8.0, 0.0]), dim=-1) @ values  # (2,)
two_heads = torch.cat([head_a, head_b])  # (4,): the heads side by side
print("two heads:", two_heads)
assert torch.allclose(one_head, torch.tensor([0.5, 0.5]), atol=0.02)
assert torch.allclose(two_heads, torch.tensor([1.0, 0.0, 0.0, 1.0]), atol=0.001)

# %% [markdown]
# One head returns roughly $[0.5, 0.5]$: half of each, and no way to tell the
# blend from a word that is half-bank, half-guarantee. Two heads return both
# vectors intact, side by side. That is the whole idea: several attentions, each
# with its own way of scoring, their outputs concatenated.
#
# ## The recipe
#
# With $H$ heads and model width $E$, each head works in a smaller space of
# width $d_k = E / H$: chapter 04's $d_k$, now the size of one head's queries
# and keys (and here of its values too). The code calls it `Eh` in shape
# comments and `head_dim` in the library. For head $h$:
#
# $$\mathrm{head}_h = \operatorname{softmax}\!\left(\frac{Q_h K_h^\top}{\sqrt{d_k}}\right) V_h,
# \qquad Q_h = X W_Q^{(h)},\; K_h = X W_K^{(h)},\; V_h = X W_V^{(h)},$$
#
# and the layer's output is
#
# $$\operatorname{MultiHead}(X) = \operatorname{concat}(\mathrm{head}_1, \ldots, \mathrm{head}_H)\, W_O .$$
#
# In code nobody keeps $H$ separate small matrices. One $E \times E$ projection
# computes all heads' queries at once; we then *cut* its output into $H$ slices
# of $d_k$ features. Let us do it on the running sentence, with random
# embeddings of width $E$ = {glue:text}`mha_E` and $H$ = {glue:text}`mha_H`
# heads.

# %%
sentence = "The bank can guarantee deposits will eventually cover future tuition costs"
tokens = sentence.split()
N, L, E, H = 1, len(tokens), 32, 4
Eh = E // H  # d_k, the width of one head

embedding = nn.Embedding(L, E).to(device)  # a random vector per word (no training yet)
x = embedding(torch.arange(L, device=device)).unsqueeze(0).detach()  # (N, L, E)
print(f"{L} tokens, N={N}, L={L}, E={E}, H={H}, d_k={Eh}")
print("x:", tuple(x.shape))
assert x.shape == (N, L, E)
glue("mha_E", E)
glue("mha_H", H)

# %% [markdown]
# The projections $W_Q, W_K, W_V, W_O$ come from `attnbook.attention.MultiheadAttention`,
# so that we can compare our hand-made result with the module later. Each is an
# `nn.Linear(E, E)`: a weight of shape $(E, E)$ and a bias of $E$ numbers.
#
# **Step 1: project.** Queries, keys and values for all heads at once.

# %%
mha = MultiheadAttention(embed_dim=E, num_heads=H).to(device)  # batch_first=True
Q = mha.q_proj(x)  # (N, L, E)
K = mha.k_proj(x)  # (N, L, E)
V = mha.v_proj(x)  # (N, L, E)
print("Q, K, V:", tuple(Q.shape), tuple(K.shape), tuple(V.shape))
assert Q.shape == K.shape == V.shape == (N, L, E)
# what nn.Linear does
torch.testing.assert_close(Q, x @ mha.q_proj.weight.T + mha.q_proj.bias)

# %% [markdown]
# **Step 2: split into heads.** View the last axis $E$ as $H \times d_k$, then
# move the head axis in front of the positions, so that each head is a separate
# $(L, d_k)$ matrix — the `(N, H, L, d_k)` layout of chapter 04's functions.


# %%
def split_heads(t, num_heads):
    N, L, E = t.shape
    t = t.view(N, L, num_heads, E // num_heads)  # (N, L, H, Eh)
    return t.transpose(1, 2)  # (N, H, L, Eh)


q, k, v = split_heads(Q, H), split_heads(K, H), split_heads(V, H)
print("q, k, v:", tuple(q.shape), tuple(k.shape), tuple(v.shape))
assert q.shape == (N, H, L, Eh)
for h in range(H):  # head h is simply features h*Eh .. (h+1)*Eh - 1 of Q
    torch.testing.assert_close(q[:, h], Q[..., h * Eh : (h + 1) * Eh])

# %% [markdown]
# The loop confirms what the split means: head $h$ owns a block of $d_k$
# consecutive features of every position. The heads never share features, so
# each can learn its own notion of similarity.
#
# **Step 3: attend, in every head at once.** The formula of chapter 04, with the
# head axis as one more batch axis. The scale is $1/\sqrt{d_k}$, the width of
# the vectors whose dot products we take.

# %%
# scores: (N, H, L, Eh) @ (N, H, Eh, L) -> (N, H, L, L)
scores = q @ k.transpose(-2, -1) / math.sqrt(Eh)
weights = torch.softmax(scores, dim=-1)  # (N, H, L, L)
heads = weights @ v  # (N, H, L, L) @ (N, H, L, Eh) -> (N, H, L, Eh)
print("scores:", tuple(scores.shape), " heads:", tuple(heads.shape))
assert weights.shape == (N, H, L, L) and heads.shape == (N, H, L, Eh)
torch.testing.assert_close(weights.sum(-1), torch.ones(N, H, L, device=device))
# PyTorch agrees
torch.testing.assert_close(heads, F.scaled_dot_product_attention(q, k, v))

# %% [markdown]
# ```{warning}
# Scale by the **head** width, $\sqrt{d_k}$, not by the model width $\sqrt{E}$.
# The scores are dot products of $d_k$-dimensional vectors, and chapter 04 showed
# that their spread grows with that width. Dividing by $\sqrt{E}$ instead shrinks
# every score by a further $\sqrt{H}$ and flattens the weights:
# ```

# %%
# the common mistake: scale by sqrt(E) instead of sqrt(d_k)
too_flat = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(E), dim=-1)
largest, largest_flat = weights.max().item(), too_flat.max().item()
print(f"largest weight, scaled by sqrt(d_k) = {math.sqrt(Eh):.2f}: {largest:.3f}")
print(f"largest weight, scaled by sqrt(E)   = {math.sqrt(E):.2f}: {largest_flat:.3f}")
assert too_flat.max() < weights.max()

# %% [markdown]
# **Step 4: concatenate.** Undo the split: move the head axis back behind the
# positions and flatten the last two axes, so that position $l$ holds
# $[\mathrm{head}_0(l), \mathrm{head}_1(l), \ldots]$.


# %%
def merge_heads(t):
    N, H, L, Eh = t.shape
    t = t.transpose(1, 2)  # (N, L, H, Eh)
    return t.reshape(N, L, H * Eh)  # (N, L, E)


concat = merge_heads(heads)
print("concat:", tuple(concat.shape))
assert concat.shape == (N, L, E)
torch.testing.assert_close(concat[0, 4], torch.cat([heads[0, h, 4] for h in range(H)]))

# %% [markdown]
# ```{warning}
# Skipping the transpose, `heads.reshape(N, L, E)`, runs without an error and
# returns the right shape — with the wrong numbers. It reads the head-major
# memory in order, so "position 0" receives the first rows of head 0 instead of
# one row of every head.
# ```

# %%
scrambled = heads.reshape(N, L, E)  # the silent mistake: same shape, wrong layout
print(
    "same shape:",
    scrambled.shape == concat.shape,
    " same values:",
    torch.equal(scrambled, concat),
)
assert scrambled.shape == concat.shape and not torch.allclose(scrambled, concat)

# %% [markdown]
# **Step 5: project the output.** $W_O$ mixes the heads' features back into one
# vector of width $E$ per position: this is where the heads' answers are combined.

# %%
out = mha.out_proj(concat)  # (N, L, E)
print("out:", tuple(out.shape))
assert out.shape == x.shape  # a multi-head layer keeps the shape of its input

# %% [markdown]
# ## The same, from the library and from PyTorch
#
# `attnbook.attention.MultiheadAttention` does exactly these five steps (read its
# `forward`: it is a dozen lines). It takes the same arguments as
# `torch.nn.MultiheadAttention`, with one difference you must remember: ours is
# **batch first**, `(N, L, E)`, while PyTorch's default is `(L, N, E)`. With
# `average_attn_weights=False` both return one weight matrix per head.

# %%
lib_out, lib_weights = mha(x, x, x, need_weights=True, average_attn_weights=False)
torch.testing.assert_close(lib_out, out)
torch.testing.assert_close(lib_weights, weights)

# an nn.MultiheadAttention with the same weights, batch_first=True
torch_mha = mha.to_torch()
torch_out, torch_weights = torch_mha(
    x,
    x,
    x,
    need_weights=True,
    average_attn_weights=False,
)
torch.testing.assert_close(torch_out, out)
torch.testing.assert_close(torch_weights, weights)
print("by hand == attnbook == torch.nn.MultiheadAttention:", True)
print(
    "torch packs W_Q, W_K, W_V into in_proj_weight:",
    tuple(torch_mha.in_proj_weight.shape),
)
# rows 0..E-1 are W_Q
assert torch.equal(torch_mha.in_proj_weight[:E], mha.q_proj.weight)

# %% [markdown]
# PyTorch stores the three input projections as one packed matrix
# `in_proj_weight` of shape $(3E, E)$: $W_Q$ on top, then $W_K$, then $W_V$. The
# exchange works in the other direction too: `MultiheadAttention.from_torch`
# reads the weights of a module that PyTorch initialised itself.

# %%
theirs = nn.MultiheadAttention(E, H, batch_first=True).to(device)
ours = MultiheadAttention.from_torch(theirs)
torch.testing.assert_close(ours(x, x, x)[0], theirs(x, x, x)[0])
print("from_torch: same outputs")

# %% [markdown]
# ## Counting parameters
#
# Four projections of $E \times E$ weights plus $E$ biases each:
# $4E^2 + 4E$. The number of heads does not appear: more heads means *thinner*
# heads over the same projections, not more weights. Let us count, for several
# $H$, with `sum(p.numel() for p in module.parameters())`:

# %%
formula = 4 * E * E + 4 * E
counts = {}
for num_heads in (1, 2, 4, 8, 16, 32):
    module = MultiheadAttention(E, num_heads)
    counts[num_heads] = sum(p.numel() for p in module.parameters())
    torch_module = nn.MultiheadAttention(E, num_heads)
    torch_count = sum(p.numel() for p in torch_module.parameters())
    count = counts[num_heads]
    print(f"H = {num_heads:2d}: head width {E // num_heads:2d}, parameters {count:,}")
    assert counts[num_heads] == formula == torch_count
glue("mha_params", formula)

# %% [markdown]
# Every row gives {glue:text}`mha_params:,` $= 4E^2 + 4E$ for
# $E$ = {glue:text}`mha_E`, the same as PyTorch's module. Choosing $H$ is free in parameters; what it changes
# is how the $E$ features are shared out, and how many separate weight patterns
# the layer can produce.
#
# ## One batched computation, or a loop over heads?
#
# We computed all heads in one call by treating the head axis as a batch axis.
# The alternative is a Python loop that attends with one head at a time. Both do
# the same arithmetic; the question is how fast the hardware does it. We time
# both for $N$ = {glue:text}`time_N` sequences of $L$ = {glue:text}`time_L`
# tokens, width $E$ = {glue:text}`time_E` and $H$ = {glue:text}`time_H` heads
# of width $d_k$ = {glue:text}`time_dk`, and, for contrast, a recurrent layer
# (`nn.GRU`, {ref}`chapter 01 <why-path-length>`) of the same width, which
# must walk through the positions one after another. The three are called in
# turn, {glue:text}`time_repeats` times, so that a busy machine slows them
# alike; each timing is the median measured with `time.perf_counter`.


# %%
def paired_median_ms(functions, repeats):
    """Median wall-clock time of each function in ms.

    The functions are called in turn (after a warm-up).
    """
    for fn in functions.values():
        fn()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()  # wait for the GPU before reading the clock
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


Nb, Lb, Eb, Hb = 4, 64, 256, 32
repeats = 21
for name, value in (
    ("N", Nb),
    ("L", Lb),
    ("E", Eb),
    ("H", Hb),
    ("dk", Eb // Hb),
    ("repeats", repeats),
):
    glue(f"time_{name}", value)
# qb, kb, vb: (N, H, L, Eh)
qb, kb, vb = (torch.randn(Nb, Hb, Lb, Eb // Hb, device=device) for _ in range(3))


def all_heads_at_once():
    return scaled_dot_product_attention(qb, kb, vb)  # (N, H, L, Eh)


def one_head_at_a_time():
    outs = [
        scaled_dot_product_attention(
            qb[:, h],
            kb[:, h],
            vb[:, h],
        )
        for h in range(Hb)
    ]
    return torch.stack(outs, dim=1)  # H tensors (N, L, Eh) -> (N, H, L, Eh)


gru = nn.GRU(Eb, Eb, batch_first=True).to(device)
xb = torch.randn(Nb, Lb, Eb, device=device)  # (N, L, E)

with torch.no_grad():
    # same numbers
    torch.testing.assert_close(one_head_at_a_time(), all_heads_at_once())
    timings = paired_median_ms(
        {
            "all heads at once": all_heads_at_once,
            "loop over heads": one_head_at_a_time,
            "GRU, position by position": lambda: gru(xb),
        },
        repeats,
    )
for name, ms in timings.items():
    print(f"{name:>26}: {ms:8.2f} ms")
loop_ratio = timings["loop over heads"] / timings["all heads at once"]
gru_ratio = timings["GRU, position by position"] / timings["all heads at once"]
print(f"loop / batched = {loop_ratio:.1f}x, GRU / batched = {gru_ratio:.1f}x")
# Timings, not maths: on a busy machine the order can flip, so the text follows them.
if loop_ratio >= 1.1:
    loop_words = f"took {loop_ratio:.1f} times as long as the single batched call"
elif loop_ratio > 0.9:
    loop_words = f"took about as long as the batched call ({loop_ratio:.1f} times)"
else:
    loop_words = (
        f"took only {loop_ratio:.1f} times as long as the single batched call: this "
        "time the loop won, which at these small sizes timing noise or a busy "
        "machine can bring about"
    )
glue("loop_words", loop_words)
glue("gru_ratio", gru_ratio)

# %%
fig, ax = plt.subplots(figsize=(7, 2.8), layout="constrained")
names = sorted(timings, key=timings.get)  # shortest first
ax.barh(names, [timings[n] for n in names], color=["#3b75af", "#e08a2c", "#8c8c8c"])
for i, n in enumerate(names):
    ax.text(timings[n], i, f" {timings[n]:.1f} ms", va="center")
ax.invert_yaxis()
ax.set_xlabel("median time per call (ms)")
ax.set_title(f"Attention core for N={Nb}, L={Lb}, E={Eb}, H={Hb} on {device.type}")
ax.set_xlim(0, 1.3 * max(timings.values()))
plt.show()

# %% [markdown]
# The bars show the median time per call, shortest first. On this machine (the
# line at the top of the chapter names it) the loop over heads
# {glue:text}`loop_words`. Your numbers will differ, and usually the batched
# call wins, for a reason that does not change: it hands the hardware one large
# piece of work, while the loop hands it {glue:text}`time_H` small ones, each
# with its own Python and dispatch overhead and each too small to keep every
# core (or, on a GPU, thousands of lanes) busy.
#
# The GRU took {glue:text}`gru_ratio:.1f` times as long as batched attention.
# That comparison is only indicative, since the two do different arithmetic,
# but its structure is not: a recurrent layer cannot work on all positions at
# once, because step $t$ needs the result of step $t - 1$. Attention has no such
# chain between positions, which is a large part of why transformers make such
# good use of parallel hardware. {doc}`Chapter 15 <15_cost_of_attention>`
# measures the price attention pays
# instead: its cost grows with the square of the length.
#
# (mha-trained-heads)=
# ## The heads of a small trained model
#
# Random projections make random heads. To see heads that *do* something, we
# train a small model that reads text one character at a time and predicts the
# next character (a *character language model*; {doc}`chapter 11 <11_decoder_only>` builds one), on the
# Python documentation that ships with Python. It stacks
# {glue:text}`lm_layers` multi-head attention layers of
# {glue:text}`lm_heads` heads each, with a few other parts between them
# that {doc}`chapter 09 <09_transformer_block>` introduces, and it uses rotary position embeddings, which
# {doc}`chapter 08 <08_positional_encoding>` explains. Training is
# deliberately short, {glue:text}`lm_steps` steps, so the chapter stays fast;
# the progress bar is off.

# %%
if device.type == "cpu":
    # The model is tiny: a second thread does not speed it up, and when other programs
    # share the CPU, threads waiting for each other can slow training a lot.
    torch.set_num_threads(1)
config = dataclasses.replace(
    char_lm_config(),  # the book's preset, made smaller and faster:
    max_len=80,  # the context: long enough for our 74-character sentence
    embed_dim=64,
    num_heads=4,
    num_layers=2,
    dim_feedforward=256,
    positional="rope",
)
lm_steps = 500
glue("lm_layers", config.num_layers)
glue("lm_heads", config.num_heads)
glue("lm_steps", lm_steps)
result = train_char_lm(
    # no wall-clock budget: a fixed number of steps gives the same model every run
    None,
    steps=lm_steps,
    config=config,
    batch_size=16,
    eval_every=10_000,  # measure the validation loss once, at the end
    seed=0,
    device=device,
    progress=False,
)
model, tokenizer = result.model, result.tokenizer
print(
    f"{result.history.steps} steps in {result.history.seconds:.1f} s, "
    f"{model.num_parameters():,} parameters"
)
print(
    f"validation loss: {result.metrics['val_loss']:.3f} nats per character\n"
    f"    (guessing uniformly among {tokenizer.vocab_size} characters: "
    f"{math.log(tokenizer.vocab_size):.3f})"
)
assert result.metrics["val_loss"] < math.log(tokenizer.vocab_size)
glue("lm_val_loss", result.metrics["val_loss"])
glue("lm_uniform_loss", math.log(tokenizer.vocab_size))

# %% [markdown]
# The *validation loss* is the average of $-\ln p$, where $p$ is the
# probability the model gave the right next character, over text held out
# from training: lower is better. A validation loss of
# {glue:text}`lm_val_loss:.2f` nats per character, against
# {glue:text}`lm_uniform_loss:.2f` for blind guessing ($\ln$ of the number of
# characters): the model has learned
# something about English and Python spelling, not much more. Now we feed it
# the sentence and collect every layer's per-head weights. Each is
# $(N, H, L, L)$ over the sentence's characters.

# %%
ids = torch.tensor([tokenizer.encode(sentence)], device=device)  # (1, C)
C = ids.shape[1]
with torch.no_grad():
    output = model(ids, need_weights=True)
char_weights = torch.stack(
    [w[0] for w in output.attentions]
)  # layers x (1, H, C, C) -> (2, H, C, C)
print("characters:", C, " weights:", tuple(char_weights.shape))
assert char_weights.shape == (config.num_layers, config.num_heads, C, C)
# a language model never looks ahead (chapter 07)
assert torch.all(char_weights.triu(1) == 0)

# %% [markdown]
# Characters are hard to read, so we sum each head's weights into *words*: the
# weight a query word gives a key word is the total weight its characters give
# that word's characters, averaged over the query word's characters (a space
# counts with the word before it). Rows still sum to 1.

# %%
# word_of_char: (C,)
word_of_char = torch.tensor(
    [sentence[:i].count(" ") for i in range(C)],
    device=device,
)
one_hot = F.one_hot(word_of_char, L).float()  # (C, L)
chars_per_word = one_hot.sum(0)  # (L,)
# word_weights: (2, H, L, L)
word_weights = one_hot.T @ (char_weights @ one_hot) / chars_per_word[:, None]
# word_weights: (2 * H, L, L): layer 0's heads, then layer 1's
word_weights = word_weights.flatten(0, 1)
torch.testing.assert_close(word_weights.sum(-1), torch.ones(2 * H, L, device=device))

axes = plot_head_grid(
    word_weights,
    tokens,
    tokens,
    ncols=4,
    title="Word-level attention of each head (rows: query word, columns: key word)",
)
for i, ax in enumerate(axes.flat):
    ax.set_title(f"layer {i // H}, head {i % H}")
plt.show()

# %% [markdown]
# Read each small map row by row: the row of a word shows where its characters
# looked. Everything above the diagonal is empty: a language model may not
# look at the characters it must predict (its *causal mask*,
# {doc}`chapter 07 <07_masking>`, forbids it). The
# heads do differ — in *how far back* they look. Let us measure, for every
# head, the share of weight that stays inside the query's own word, the share
# that goes to the word just before, and the share that reaches further back.

# %%
rows = torch.arange(1, L, device=device)  # query words that have a previous word
same = word_weights[:, rows, rows].mean(-1)  # (2H,)
previous = word_weights[:, rows, rows - 1].mean(-1)  # (2H,)
further = 1 - same - previous
for i in range(2 * H):
    print(
        f"layer {i // H} head {i % H}: own word {same[i]:.2f}  "
        f"previous word {previous[i]:.2f}"
        f"  further back {further[i]:.2f}"
    )
local_share = (same + previous).mean().item()
where = "on the own and previous word"
print(f"average over heads: {local_share:.2f} of the weight stays {where}")
glue("local_share", local_share)
glue("max_further", further.max().item())
glue("max_same", same.max().item())
glue("max_previous", previous.max().item())

# %% [markdown]
# On average {glue:text}`local_share:.2f` of a head's weight stays within the
# query's own word and the one before it, and no head sends more than
# {glue:text}`max_further:.2f` further back. The guide we follow describes heads
# in large models that specialise by *meaning*: one linking the financial words
# (bank, deposits, tuition), one the temporal ones (eventually, future), one
# cause and effect (guarantee, cover). Does any head of our model do that? For
# each such pair we find the head that gives the largest weight from the later
# word to the earlier one, and compare it with what that head gives the query's
# own word.

# %%
pairs = [
    ("deposits", "bank"),
    ("tuition", "deposits"),
    ("future", "eventually"),
    ("cover", "guarantee"),
]
best_pair_weights, own_weights = [], []
weight_columns = f"{'weight on key':>13}   {'on own word':>11}"
print(f"{'query':>9} -> {'key':<10} {'best head':<14}   {weight_columns}")
for query_word, key_word in pairs:
    i, j = tokens.index(query_word), tokens.index(key_word)
    best = int(word_weights[:, i, j].argmax())
    w_pair, w_own = word_weights[best, i, j].item(), word_weights[best, i, i].item()
    best_pair_weights.append(w_pair)
    own_weights.append(w_own)
    print(
        f"{query_word:>9} -> {key_word:<10} layer {best // H} head {best % H}   "
        f"{w_pair:13.2f}   {w_own:11.2f}"
    )
glue("best_pair_weight", max(best_pair_weights))
glue("pair_own_min", min(own_weights))
if not fast_mode():  # ATTNBOOK_FAST=1 trains a few seconds only: nothing to check then
    assert local_share > 0.5  # the prose says most weight stays local...
    # ...and here
    assert all(p < o for p, o in zip(best_pair_weights, own_weights, strict=True))

# %% [markdown]
# The strongest of these links carries a weight of
# {glue:text}`best_pair_weight:.2f`, while each of those heads gives at least
# {glue:text}`pair_own_min:.2f` to the query's own word. Be honest about what
# this shows: our small model's heads differ by *distance* — some keep up to
# {glue:text}`max_same:.2f` of their weight inside the current word (spelling),
# others give up to {glue:text}`max_previous:.2f` to the word before — because
# that is what predicting the next character of Python's documentation rewards
# after a few hundred steps.
# Nothing here is a "financial head" or a "temporal head". Whether such heads
# emerge depends on the model's size, its data and its training, and even in
# large models most heads resist so tidy a description. {doc}`Chapter 14 <14_reading_attention>` comes back to
# reading heads, and to why a large weight is not the same as an explanation.
#
# The map below holds the raw character-level weights of every head. Pick a
# layer and a head, then click a character to list the characters it attends to
# most; try the "e" at the end of "future" in each head.

# %%
AttentionMap(
    char_weights.cpu(),
    tokens=[c if c != " " else "␣" for c in sentence],
    layer=1,
    head=0,
    query_index=sentence.index("future") + 5,
)

# %% [markdown]
# ## Summary
#
# - Multi-head attention runs $H$ attentions side by side. One $E \times E$
#   projection each for $Q$, $K$, $V$ makes every head's inputs; a `view` and a
#   `transpose` cut them into $H$ heads of width $d_k = E / H$.
# - Each head attends with the scale $1/\sqrt{d_k}$ — the head width, not $E$.
# - The heads are put back side by side (`transpose`, then `reshape`; the
#   transpose is not optional) and $W_O$ mixes them.
# - The layer has $4E^2 + 4E$ parameters whatever $H$ is.
# - Computing all heads in one batched call usually beats a loop over heads (the
#   timing above says by how much on your machine), and unlike a recurrent
#   network, attention has no step-by-step chain over positions.
# - `attnbook.attention.MultiheadAttention` is these steps; `to_torch` and
#   `from_torch` exchange weights with `torch.nn.MultiheadAttention` (batch
#   first here, sequence first by default there).
# - The heads of a small trained model differ mostly in how far back they look;
#   they do not sort words by meaning.
#
# ## Exercises
#
# Each exercise gives a starting point and a check that calls your function on
# several inputs and says what is wrong. The starting points are wrong on
# purpose: run the check, read its message, fix the function. The solutions are
# hidden under the toggles.
#
# ### Exercise 1: split into heads
#
# Write `my_split_heads(x, num_heads)` that turns `(N, L, E)` into
# `(N, H, L, E // H)`, head $h$ holding features $h\,d_k$ to $(h+1)\,d_k - 1$.


# %%
def my_split_heads(x, num_heads):
    N, L, E = x.shape
    # your turn: the right shape, but...
    return x.reshape(N, num_heads, L, E // num_heads)


check_split_heads(my_split_heads)


# %% tags=["hide-input"]
def my_split_heads(x, num_heads):
    N, L, E = x.shape
    return x.view(N, L, num_heads, E // num_heads).transpose(1, 2)  # (N, H, L, Eh)


assert check_split_heads(my_split_heads)

# %% [markdown]
# ### Exercise 2: merge the heads
#
# Write `my_merge_heads(x)`, the inverse: `(N, H, L, Eh)` to `(N, L, H · Eh)`.


# %%
def my_merge_heads(x):
    N, H, L, Eh = x.shape
    return x.reshape(N, L, H * Eh)  # your turn


check_merge_heads(my_merge_heads)


# %% tags=["hide-input"]
def my_merge_heads(x):
    N, H, L, Eh = x.shape
    return x.transpose(1, 2).reshape(N, L, H * Eh)  # (N, L, H, Eh) -> (N, L, E)


assert check_merge_heads(my_merge_heads)

# %% [markdown]
# ### Exercise 3: count the parameters
#
# Write `my_count(embed_dim, num_heads, bias)`: the number of parameters of a
# multi-head attention layer, without building one. Before you run the check:
# how should the answer change when `num_heads` doubles?


# %%
def my_count(embed_dim, num_heads, bias):
    return 4 * embed_dim * embed_dim  # your turn


check_mha_parameter_count(my_count)


# %% tags=["hide-input"]
def my_count(embed_dim, num_heads, bias):
    weights = 4 * embed_dim * embed_dim  # W_Q, W_K, W_V, W_O: E x E each
    biases = 4 * embed_dim if bias else 0  # one bias vector of E per projection
    return weights + biases  # num_heads does not appear


assert check_mha_parameter_count(my_count)

# %% [markdown]
# ### Exercise 4: the whole layer
#
# Write `my_mha(x, w_q, w_k, w_v, w_o, num_heads)`: multi-head self-attention
# without biases. `x` is `(N, L, E)`; each weight is `(E, E)` laid out like an
# `nn.Linear` weight, so the queries are `x @ w_q.T`. Reuse your functions from
# exercises 1 and 2.


# %%
def my_mha(x, w_q, w_k, w_v, w_o, num_heads):
    q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T  # (N, L, E): one big head, for now
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1]), dim=-1)
    return weights @ v @ w_o.T  # your turn: where are the heads?


check_multihead_attention(my_mha)


# %% tags=["hide-input"]
def my_mha(x, w_q, w_k, w_v, w_o, num_heads):
    # q, k, v: (N, H, L, Eh)
    q, k, v = (my_split_heads(x @ w.T, num_heads) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # scale by the head width
    heads = torch.softmax(scores, dim=-1) @ v  # (N, H, L, Eh)
    return my_merge_heads(heads) @ w_o.T  # (N, L, E)


assert check_multihead_attention(my_mha)
