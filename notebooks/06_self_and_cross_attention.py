# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Self-attention and cross-attention
#
# Attention needs three things: queries, keys and values. So far they all came
# from one sequence. They do not have to. When a translator writes the French
# word for "cat", it should look at the *English* sentence, not at the French it
# has written so far. This chapter is about where $Q$, $K$ and $V$ come from:
# from one sequence (*self-attention*) or from two (*cross-attention*), what
# that does to the shapes, and which wiring each kind of task uses.

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
# - say where the queries, keys and values come from in self- and in cross-attention;
# - predict every shape when the query sequence (length $L$) and the key/value
#   sequence (length $S$) differ;
# - run self-attention the way a language model and a sentence encoder use it;
# - run cross-attention the way translation, question answering and image
#   captioning use it, with keys and values of another width.

# %%
import math
import textwrap

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from attnbook.attention import MultiheadAttention
from attnbook.data import qa_examples, split_words
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_attention_shapes,
    check_cross_attention,
    check_self_attention,
)
from attnbook.functional import scaled_dot_product_attention
from attnbook.notebook import glue
from attnbook.viz import plot_heatmap, use_book_style

seed_everything(0)
device = default_device()
use_book_style()
print(describe_device(device))

# %% [markdown]
# ## One formula, two wirings
#
# Attention always computes
#
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V .$$
#
# The only question is which sequence each of $Q$, $K$, $V$ is made from. Call
# the sequence that asks $X$, of length $L$, and the sequence that is looked up
# $Y$, of length $S$:
#
# $$Q = X W_Q, \qquad K = Y W_K, \qquad V = Y W_V .$$
#
# - **Self-attention:** $Y = X$. Every position of one sequence looks at every
#   position of the same sequence, so $S = L$.
# - **Cross-attention:** $Y$ is another sequence. The queries come from $X$; the
#   keys and values come from $Y$; $S$ may differ from $L$, and even the widths
#   may differ.
#
# ## Self-attention
#
# Take "The cat sat on the mat" with random embeddings of width $E$ =
# {glue:text}`xattn_E` and one head with random projections. Queries, keys and
# values are all made from the same `x`. With one head, the query and key size
# $d_k$ is the whole width $E$, so the scale is $1/\sqrt{E}$.

# %%
words = "The cat sat on the mat".split()
N, L, E = 1, len(words), 16
x = torch.randn(N, L, E, device=device)  # (N, L, E): one vector per word
W_Q, W_K, W_V = (torch.randn(E, E, device=device) / math.sqrt(E) for _ in range(3))
glue("xattn_E", E)

Q, K, V = x @ W_Q, x @ W_K, x @ W_V  # all three from x: (N, L, E) each
scores = Q @ K.transpose(-2, -1) / math.sqrt(E)  # (N, L, E) @ (N, E, L) -> (N, L, L)
weights = torch.softmax(scores, dim=-1)  # (N, L, L)
out = weights @ V  # (N, L, L) @ (N, L, E) -> (N, L, E)
print(
    "x",
    tuple(x.shape),
    "-> scores",
    tuple(scores.shape),
    "-> output",
    tuple(out.shape),
)
assert scores.shape == (N, L, L) and out.shape == (N, L, E)
torch.testing.assert_close(out, F.scaled_dot_product_attention(Q, K, V))
torch.testing.assert_close(out, scaled_dot_product_attention(Q, K, V))

# %% [markdown]
# The weight matrix is square, $L \times L$: one row per word asking, one column
# per word answering, including itself. The output has one vector per word, of
# the same width: a self-attention layer maps a sequence to a sequence of the
# same shape, which is why transformers can stack dozens of them.
#
# ## Cross-attention: lengths that differ
#
# Now a translation. A translation model has two parts: an *encoder* reads the
# source sentence, and a *decoder* writes the translation one token at a time,
# looking up the source as it goes. Our decoder is writing "le chat noir s'est
# assis sur le tapis" ($L$ = {glue:text}`xattn_L` tokens) and looks up the
# English source "the black cat sat on the mat" ($S$ = {glue:text}`xattn_S`). To make the example readable without training a model, we
# build embeddings that a trained translator would have to *learn*: each word
# gets a random "meaning" vector, shared by a word and its translation, plus a
# little noise of its own language. Then we use identity projections so that
# the score of a French query with an English key is just their dot product.

# %%
english = "the black cat sat on the mat".split()
french = "le chat noir s'est assis sur le tapis".split()
meaning_of = {
    "the": "THE",
    "black": "BLACK",
    "cat": "CAT",
    "sat": "SIT",
    "on": "ON",
    "mat": "MAT",
    "le": "THE",
    "noir": "BLACK",
    "chat": "CAT",
    "s'est": "SIT",
    "assis": "SIT",
    "sur": "ON",
    "tapis": "MAT",
}
generator = torch.Generator().manual_seed(1)
meanings = sorted(set(meaning_of.values()))
meaning = {m: torch.randn(E, generator=generator) for m in meanings}


def embed(sentence):
    noise = 0.3 * torch.randn(len(sentence), E, generator=generator)  # (length, E)
    return (torch.stack([meaning[meaning_of[w]] for w in sentence]) + noise).to(device)


source = embed(english).unsqueeze(0)  # (N, S, E): the encoder's side
target = embed(french).unsqueeze(0)  # (N, L, E): the decoder's side
S, L = source.shape[1], target.shape[1]
print(f"target (queries): {tuple(target.shape)}", end="  ")
print(f"source (keys, values): {tuple(source.shape)}")
assert (L, S) == (8, 7)
glue("xattn_L", L)
glue("xattn_S", S)

# %% [markdown]
# Queries from the target, keys and values from the source. Follow the shapes:
# the scores pair every one of the $L$ queries with every one of the $S$ keys,
# and the output has one row per *query*.

# %%
Q = target  # (N, L, E)   identity W_Q
K = V = source  # (N, S, E)   identity W_K, W_V
scores = Q @ K.transpose(-2, -1) / math.sqrt(E)  # (N, L, E) @ (N, E, S) -> (N, L, S)
# alignment: (N, L, S), each French word's weights over English
alignment = torch.softmax(scores, dim=-1)
out = alignment @ V  # (N, L, S) @ (N, S, E) -> (N, L, E)
print("scores:", tuple(scores.shape), " output:", tuple(out.shape))
assert scores.shape == (N, L, S) and out.shape == (N, L, E)
torch.testing.assert_close(out, F.scaled_dot_product_attention(Q, K, V))

fig, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
plot_heatmap(
    alignment[0],
    french,
    english,
    ax=ax,
    xlabel="English key (source)",
    ylabel="French query (target)",
    title="Cross-attention weights (built, not trained)",
)
plt.show()

# %% [markdown]
# Each French row puts most of its weight on its translation — even though the
# word order differs ("black cat" becomes "chat noir"): attention looks words up
# by content, not by position. "s'est" and "assis" both look at "sat", and "le"
# divides its weight between the two "the"s: the embeddings hold no position,
# so the two are the same word, and only the noise decides which gets more
# ({doc}`chapter 08 <08_positional_encoding>` is about that blindness). The
# largest weight of every row:

# %%
best = [english[j] for j in alignment[0].argmax(-1).tolist()]
for f, e in zip(french, best, strict=True):
    print(f"{f:>6} -> {e}")
assert best[1:6] == ["cat", "black", "sat", "sat", "on"] and best[7] == "mat"
assert best[0] == best[6] == "the"

# %% [markdown]
# The weights here come from embeddings we built. A real translator learns its
# projections so that such an alignment appears; {doc}`chapter 12 <12_encoder_decoder>` trains one and looks
# at its cross-attention.
#
# ```{warning}
# The output length always follows the **queries**. Swap the roles by mistake —
# source as the query, target as keys and values — and nothing fails: you get a
# valid tensor with one row per *English* word, $S$ rows instead of $L$.
# ```

# %%
# swapped: (N, S, E), the wrong roles
swapped = F.scaled_dot_product_attention(source, target, target)
print("intended:", tuple(out.shape), " swapped:", tuple(swapped.shape))
assert swapped.shape == (N, S, E) != out.shape

# %% [markdown]
# ## Cross-attention as a module
#
# `attnbook.attention.MultiheadAttention` ({doc}`chapter 05 <05_multi_head_attention>`) takes `query`, `key` and
# `value` as separate arguments, so cross-attention is a matter of what you pass.
# Keys and values may also have their own widths, `kdim` and `vdim`, as in
# `torch.nn.MultiheadAttention`; the projections bring them to the model width.
# Here the source is wider than the target: width {glue:text}`xattn_kdim`
# against {glue:text}`xattn_E`.

# %%
kdim = 24
glue("xattn_kdim", kdim)
source_wide = torch.randn(N, S, kdim, device=device)  # (N, S, kdim): another width
cross = MultiheadAttention(embed_dim=E, num_heads=4, kdim=kdim, vdim=kdim).to(device)
out, w = cross(
    target,
    source_wide,
    source_wide,
    need_weights=True,
    average_attn_weights=False,
)
print("query", tuple(target.shape), "key/value", tuple(source_wide.shape))
print("-> output", tuple(out.shape), " weights per head", tuple(w.shape))
assert out.shape == (N, L, E) and w.shape == (N, 4, L, S)

torch_cross = cross.to_torch()  # separate q/k/v weights, since kdim != embed_dim
torch_out, _ = torch_cross(target, source_wide, source_wide)
torch.testing.assert_close(out, torch_out)
print("same output from torch.nn.MultiheadAttention")

# %% [markdown]
# Keys and values must come from the *same* sequence: each value belongs to one
# key, so both need $S$ rows. Pass sequences of different lengths and the module
# refuses with a message that names the problem:

# %%
try:
    cross(target, source_wide, source_wide[:, :5])  # 7 keys but 5 values
except ValueError as error:
    print(f"ValueError: {error}".replace(", got ", ",\n    got "))  # two lines

# %% [markdown]
# ## The wirings in practice
#
# The same two wirings cover the main uses of attention. Each example below is
# tiny and untrained; the point is who asks and who is asked, and the shapes.
#
# ### Language modelling: causal self-attention
#
# A GPT-style model (the family of language models begun by
# {cite}`radford2018improving`) reads text and predicts the next token. It uses
# self-attention, with one restriction: a position may only look at itself and
# earlier positions, since the later ones are what it must predict. The
# {doc}`next chapter <07_masking>` builds that *causal mask*; here `is_causal=True` applies it. A check
# that it works: changing the last token does not change the outputs before it.

# %%
lm_layer = MultiheadAttention(embed_dim=E, num_heads=4).to(device)
text = torch.randn(1, 6, E, device=device)  # (N, L, E)
edited = text.clone()
edited[:, -1] = torch.randn(E, device=device)  # a different last token
a = lm_layer(text, text, text, is_causal=True)[0]  # (N, L, E)
b = lm_layer(edited, edited, edited, is_causal=True)[0]
# positions 0..4 did not see the change
torch.testing.assert_close(a[:, :-1], b[:, :-1])
assert not torch.allclose(a[:, -1], b[:, -1])
print("outputs before the edited token are unchanged")

# %% [markdown]
# ### Sentence encoding: bidirectional self-attention
#
# A BERT-style encoder {cite}`devlin2018bert` lets every position see every
# other, in both directions,
# and is used to *understand* a whole text: classify it, compare it with others.
# A common way to get one vector per sentence is to average the outputs. Now the
# last token does change the first output:

# %%
encoder_layer = MultiheadAttention(embed_dim=E, num_heads=4).to(device)
a = encoder_layer(text, text, text)[0]  # (N, L, E), no mask
b = encoder_layer(edited, edited, edited)[0]
assert not torch.allclose(a[:, 0], b[:, 0])  # position 0 saw the last token
sentence_vector = a.mean(dim=1)  # (N, L, E) -> (N, E)
print("sentence vector:", tuple(sentence_vector.shape))
assert sentence_vector.shape == (1, E)

# %% [markdown]
# ### Translation: the decoder asks, the encoder answers
#
# An encoder–decoder translator ({doc}`chapter 12 <12_encoder_decoder>` trains one) first encodes the whole source with
# self-attention. Then, while it writes the target one token at a time, each
# decoder layer uses cross-attention: queries from the target written so far,
# keys and values from the encoded source. $L$ grows by one at each step; $S$
# stays the length of the source.

# %%
decoder_cross = MultiheadAttention(embed_dim=E, num_heads=4).to(device)
encoded_source = encoder_layer(source, source, source)[0]  # (N, S, E): computed once
for step in (1, 2, 3):
    written = target[:, :step]  # (N, step, E): the target so far
    out = decoder_cross(written, encoded_source, encoded_source)[0]  # (N, step, E)
    shapes = [tuple(t.shape) for t in (written, encoded_source, out)]
    print(f"step {step}: queries {shapes[0]} x keys {shapes[1]} -> {shapes[2]}")
    assert out.shape == (N, step, E)

# %% [markdown]
# ### Question answering: the question reads the passage
#
# In reading comprehension the model gets a passage and a question. One common
# wiring lets the question's tokens attend to the passage, so that each question
# word gathers what the passage says about it (the opposite direction, passage
# attending to question, is also used; both are cross-attention). Here is a
# passage and a question from the book's toy-world data:

# %%
example = next(e for e in qa_examples(20, "train", seed=0) if e.kind == "color")
passage, question = split_words(example.context), split_words(example.question)
print(textwrap.fill(example.context, width=76))
print(example.question, "->", example.answer)
vocabulary = sorted(set(passage + question))
word_vectors = torch.randn(len(vocabulary), E, device=device)  # untrained embeddings


def vectors(ws):
    return word_vectors[[vocabulary.index(w) for w in ws]].unsqueeze(0)  # (1, len, E)


qa_cross = MultiheadAttention(embed_dim=E, num_heads=4).to(device)
out, w = qa_cross(
    vectors(question),
    vectors(passage),
    vectors(passage),
    need_weights=True,
)
L_q, S_p = len(question), len(passage)
print(f"question L={L_q}, passage S={S_p}", end=" ")
print(f"-> output {tuple(out.shape)}, weights {tuple(w.shape)}")
assert out.shape == (1, L_q, E) and w.shape == (1, L_q, S_p)
glue("qa_l", len(question))
glue("qa_s", len(passage))

# %% [markdown]
# Each of the {glue:text}`qa_l` question tokens now holds a summary of the
# {glue:text}`qa_s`-token passage. With untrained weights the summary is
# meaningless; {doc}`chapter 13 <13_applications>` trains a model that points at the answer.

# %% [markdown]
# ### Image captioning: words look at image patches
#
# A captioning model cuts the image into patches, turns each into a feature
# vector with a vision network, and lets the caption's tokens attend to them.
# The keys and values are not words at all, and they have their own width. We
# stand in random features for a 4 × 4 grid of patches, 48 features each.

# %%
# patches: (N, S, kdim), 16 patches of 48 features
patches = torch.randn(1, 16, 48, device=device)
caption = torch.randn(1, 5, E, device=device)  # (N, L, E): "a cat on a mat" so far
look = MultiheadAttention(embed_dim=E, num_heads=4, kdim=48, vdim=48).to(device)
out, w = look(caption, patches, patches, need_weights=True)
print("caption", tuple(caption.shape), "patches", tuple(patches.shape))
print("    -> output", tuple(out.shape), "weights", tuple(w.shape))
assert out.shape == (1, 5, E) and w.shape == (1, 5, 16)
# the second word's weights, back on the 4 x 4 image grid
patch_grid = w[0, 1].reshape(4, 4)
torch.testing.assert_close(patch_grid.sum(), torch.tensor(1.0, device=device))

# %% [markdown]
# The weights of one caption word, reshaped to the $4 \times 4$ grid, say where
# in the image that word looks — the classic "show, attend and tell" picture.
#
# ### Summary table
#
# | task | queries from | keys and values from | mask |
# |---|---|---|---|
# | language modelling (GPT) | the text | the same text | causal |
# | sentence encoding (BERT) | the text | the same text | padding only |
# | translation, decoder (T5) | the target so far | the encoded source | padding of the source |
# | question answering | the question | the passage (or the other way round) | padding |
# | image captioning | the caption so far | image patch features | none |
#
# *Padding* fills short sequences up to the length of the longest in a batch;
# a padding mask stops attention from looking at it
# ({doc}`chapter 07 <07_masking>`). T5 {cite}`raffel2020exploring` is an
# encoder–decoder model like the translator above.
#
# ## Summary
#
# - Self-attention makes $Q$, $K$ and $V$ from one sequence: weights are
#   $L \times L$ and the output has the input's shape.
# - Cross-attention makes $Q$ from one sequence (length $L$) and $K$, $V$ from
#   another (length $S$): weights are $L \times S$, the output has $L$ rows, and
#   the keys and values may have their own width (`kdim`, `vdim`).
# - The output length follows the queries; keys and values must have the same
#   length $S$.
# - Language models use causal self-attention, encoders bidirectional
#   self-attention; translation, question answering and captioning use
#   cross-attention from the sequence being produced or asked to the one
#   being read.
#
# ## Exercises
#
# Each exercise gives a starting point that is wrong on purpose and a check that
# tells you what is wrong. The solutions are hidden under the toggles.
#
# ### Exercise 1: self-attention
#
# Write `my_self_attention(x, w_q, w_k, w_v)`: one head, queries, keys and
# values all from `x` `(N, L, E)`. The weights are `(E, E)` laid out like
# `nn.Linear` weights, so the queries are `x @ w_q.T`; scale by $1/\sqrt{E}$.


# %%
def my_self_attention(x, w_q, w_k, w_v):
    q, k = x @ w_q.T, x @ w_k.T
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1]), dim=-1)
    return weights @ x  # your turn


check_self_attention(my_self_attention)


# %% tags=["hide-input"]
def my_self_attention(x, w_q, w_k, w_v):
    q, k, v = x @ w_q.T, x @ w_k.T, x @ w_v.T  # (N, L, E) each, all from x
    # weights: (N, L, L)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(x.shape[-1]), dim=-1)
    return weights @ v  # (N, L, E)


assert check_self_attention(my_self_attention)

# %% [markdown]
# ### Exercise 2: cross-attention
#
# Write `my_cross_attention(x, memory, w_q, w_k, w_v)`: queries from `x`
# `(N, L, E)`, keys and values from `memory` `(N, S, E_m)`, which has another
# length *and* another width ($E_m$ is what `nn.MultiheadAttention` calls
# `kdim`). `w_q` is `(E, E)`; `w_k` and `w_v` are `(E, E_m)`.
# One head, scale by $1/\sqrt{E}$.


# %%
def my_cross_attention(x, memory, w_q, w_k, w_v):
    q = x @ w_q.T
    k, v = memory @ w_k.T, memory @ w_v.T
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v  # your turn


check_cross_attention(my_cross_attention)


# %% tags=["hide-input"]
def my_cross_attention(x, memory, w_q, w_k, w_v):
    q = x @ w_q.T  # (N, L, E): queries from x
    k, v = memory @ w_k.T, memory @ w_v.T  # (N, S, E): keys and values from memory
    # weights: (N, L, S)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v  # (N, L, E)


assert check_cross_attention(my_cross_attention)

# %% [markdown]
# ### Exercise 3: predict the shapes
#
# Multi-head cross-attention, batch first: queries from a sequence of length
# $L$, keys and values from one of length $S$, model width $E$, $H$ heads. Write
# `my_shapes(N, L, S, E, H)` returning four shapes: the queries after the split
# into heads, the keys after the split, the attention weights, and the module's
# output. Work them out on paper first.


# %%
def my_shapes(N, L, S, E, H):
    return [(N, H, L, E // H), (N, H, L, E // H), (N, H, L, L), (N, S, E)]  # your turn


check_attention_shapes(my_shapes)


# %% tags=["hide-input"]
def my_shapes(N, L, S, E, H):
    Eh = E // H
    return [(N, H, L, Eh), (N, H, S, Eh), (N, H, L, S), (N, L, E)]


assert check_attention_shapes(my_shapes)
