# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Why attention
#
# Read this sentence: "The cat sat on the mat because it was comfortable."
# What does "it" refer to? You probably glanced back at "mat", checked that a
# mat can be comfortable, and moved on. Change the last word to "hungry" and
# "it" becomes the cat. To understand one word you looked at a few others,
# chosen by what you were trying to understand, however far back they were.
#
# *Attention* gives a neural network the same ability. This chapter shows the
# idea, a weighted average, and then measures why it matters: a network that
# reads one word at a time struggles to connect words that are far apart, and
# attention does not.

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
# - describe attention as a spotlight: a weighted combination of all the inputs, chosen afresh for each question, instead of one fixed summary;
# - compute a weighted average of value vectors and draw its attention weights as a bar chart;
# - explain with path lengths why recurrent networks struggle with long-range dependencies;
# - run an experiment: a recurrent network and a one-layer attention model on a long-range recall task, with measured accuracies.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from attnbook.data import pronoun_example, sequence_task
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_path_length,
    check_prediction_accuracy,
    check_weighted_average,
)
from attnbook.functional import AdditiveAttention, scaled_dot_product_attention
from attnbook.notebook import fast_mode, glue
from attnbook.viz import plot_weights_bar, use_book_style

seed_everything(0)
device = default_device()
use_book_style()
print(describe_device(device))

# %% [markdown]
# ## The sentence and its question
#
# `attnbook.data` generates sentences of this kind, each with its answer. The
# adjective decides the answer: things are comfortable, animals are hungry.

# %%
for adjective in ("comfortable", "hungry"):
    example = pronoun_example("cat", "mat", adjective)
    it = example.pronoun_index
    back = it - example.answer_index
    print(f"{example.text!r}:")
    print(
        f"    'it' (position {it}) -> {example.answer!r} "
        f"(position {example.answer_index}, {back} words back)"
    )
    assert example.tokens[it] == "it"

example = pronoun_example("cat", "mat", "comfortable")
assert example.answer == "mat"

# %% [markdown]
# The word that settles the question ("comfortable") comes *after* "it", and
# the two candidates come before it, at different distances. A model that
# understands "it" must combine information from several positions, picked by
# content, not by a fixed distance.

# %% [markdown]
# (why-spotlight)=
# ## A spotlight: the weighted average
#
# Give each word a vector of numbers, its *value*. The simplest way to sum up
# a sentence in one vector is to average all the values: every word counts
# the same, whatever the question. Attention instead computes a **weighted**
# average: a weight $w_i \ge 0$ for each word $i$, with $\sum_i w_i = 1$, and
#
# $$\text{output} = \sum_i w_i \, v_i .$$
#
# The weights are the spotlight. All of it on one word returns that word's
# value; spread out, it blends several. We use made-up value vectors with
# three named features for "The cat sat on the mat".

# %%
words = ["The", "cat", "sat", "on", "the", "mat"]
values = torch.tensor(
    [  # animal, object, action
        [0.0, 0.0, 0.0],  # The
        [1.0, 0.1, 0.0],  # cat
        [0.0, 0.0, 1.0],  # sat
        [0.0, 0.2, 0.1],  # on
        [0.0, 0.0, 0.0],  # the
        [0.0, 1.0, 0.0],  # mat
    ],
    device=device,
)  # (S, 3): one value vector per word
S = len(words)


def weighted_average(weights, values):
    """sum_i weights[i] * values[i]: a blend of the value rows."""
    return weights @ values  # (S,) @ (S, 3) -> (3,)


# every word the same: one fixed summary
uniform = torch.full((S,), 1 / S, device=device)
spotlight = torch.zeros(S, device=device)
spotlight[words.index("mat")] = 1.0  # all the light on "mat"
for name, w in (("uniform", uniform), ("spotlight on 'mat'", spotlight)):
    rounded_w = [round(x, 3) for x in w.tolist()]
    blend = [round(x, 3) for x in weighted_average(w, values).tolist()]
    print(f"{name:>20}: weights {rounded_w}")
    print(f"{'':>20}  -> output {blend}")

torch.testing.assert_close(
    weighted_average(spotlight, values),
    values[words.index("mat")],
)
torch.testing.assert_close(weighted_average(uniform, values), values.mean(dim=0))

# %% [markdown]
# A hard spotlight answers one question well, but it must be exactly right: it
# cannot hedge between two candidates, and a network cannot learn *where* to
# point it by gradient descent ({doc}`chapter 04 <04_queries_keys_values>`
# shows why). Soft weights, spread over several words, can do both.
#
# ## The guide's weights for "sat"
#
# The beginner's guide this book grew from illustrates soft weights with a
# table: how much the word "sat" might attend to each word of "The cat sat on
# the mat". These six numbers are **illustrative, given by the guide**, not
# the output of a model; {doc}`chapter 14 <14_reading_attention>` compares them with the weights of a model
# we train.

# %%
# given data
guide_weights = torch.tensor([0.15, 0.35, 0.25, 0.10, 0.10, 0.05], device=device)
torch.testing.assert_close(guide_weights.sum(), torch.tensor(1.0, device=device))
assert (guide_weights >= 0).all()

assert words[guide_weights.argmax()] == "cat" and words[guide_weights.argmin()] == "mat"
ax = plot_weights_bar(
    words,
    guide_weights,
    title="attention from 'sat' (illustrative, from the guide)",
    highlight=words.index("sat"),
)
plt.show()

# %% [markdown]
# Reading the chart: "sat" looks most at "cat", the one doing the sitting,
# then at itself, and least at "mat". Now the weighted average with these
# weights: the output mixes mostly "cat" and "sat", so its *animal* and
# *action* features are large and its *object* feature small.

# %%
blend = weighted_average(guide_weights, values)
for feature, value in zip(["animal", "object", "action"], blend.tolist(), strict=True):
    print(f"{feature:>7}: {value:.3f}")
# The same sum, one row at a time:
expected = sum(w * v for w, v in zip(guide_weights, values, strict=True))
torch.testing.assert_close(blend, expected)
assert blend[0] > blend[1] and blend[2] > blend[1]  # animal and action outweigh object

# %% [markdown]
# Where do weights like these come from? A model scores how well each word
# matches what the current word is looking for, and turns the scores into
# weights: chapters {doc}`02 <02_dot_products>` to
# {doc}`04 <04_queries_keys_values>` build exactly that. Attention made its name in
# neural machine translation {cite}`bahdanau2014neural`, where a small
# network computes each score (*additive* attention); the transformer
# {cite}`vaswani2017attention` replaced that network by a scaled dot product.
# `attnbook` has both. Here is the additive kind, untrained (random
# parameters, so its weights mean nothing yet): one question vector scores all
# six words, and the weights it returns sum to 1. The shape comments use the
# book's letters ({doc}`../book/notation`): $N$ sequences in a batch, $S$ words
# to look at, $E$ numbers per word vector.

# %%
embedding_size = 8
# sentence: (N, S, E), made-up word vectors
sentence = torch.randn(1, S, embedding_size, device=device)
sat = words.index("sat")
question = sentence[:, sat : sat + 1]  # (N, 1, E): the word that asks, "sat"
additive = AdditiveAttention(embedding_size, embedding_size, hidden_dim=16).to(device)
with torch.no_grad():
    output, weights = additive(question, sentence, sentence, need_weights=True)
print(
    "output:",
    tuple(output.shape),
    "weights:",
    [round(w, 3) for w in weights[0, 0].tolist()],
)
assert output.shape == (1, 1, embedding_size) and weights.shape == (1, 1, S)
torch.testing.assert_close(weights.sum(-1), torch.ones(1, 1, device=device))

# %% [markdown]
# (why-path-length)=
# ## Why not read one word at a time?
#
# Before transformers, language models were mostly *recurrent* networks
# (RNNs, and their gated versions, LSTMs and GRUs). An RNN reads the words in
# order and keeps one vector, its *state*, which it updates at each word:
# $h_t = f(h_{t-1}, x_t)$. Everything it knows about the past must fit in
# $h_t$, and information from word $i$ reaches word $j$ only by passing
# through every update in between: a path of $|i - j|$ steps. Attention
# connects any two positions directly, in one step.

# %%
it = example.pronoun_index
print(f"{'from':>6} -> 'it'   recurrent steps   attention steps")
for word_index in (example.answer_index, example.animal_index, 0):
    distance = abs(it - word_index)
    print(f"{example.tokens[word_index]!r:>6} -> 'it'   {distance:15d}   {1:15d}")

print(f"\n{'':>9}   {'longest path':^22}   {'sequential steps':^22}")
columns = f"{'recurrent':>10}  {'attention':>10}"
print(f"{'length n':>9}   {columns}   {columns}")
for n in (10, 100, 1000):
    print(f"{n:9d}   {n - 1:10d}  {1:10d}   {n:10d}  {1:10d}")

# %% [markdown]
# The second table puts numbers on one argument of the transformer paper
# {cite}`vaswani2017attention`. The *longest path* between two
# of $n$ words is $n - 1$ steps for a recurrent network and 1 for attention.
# And a recurrent network must compute its $n$ states one after another,
# while attention computes all positions at once, which suits GPUs
# ({doc}`chapter 05 <05_multi_head_attention>` measures it).
#
# Why do long paths hurt? Every step multiplies the signal, and the gradient
# that trains the network, by the derivative of $f$. If that factor is
# typically below 1, influence shrinks exponentially with distance. We can
# measure it: feed {glue:text}`influence_length` random word vectors to a
# freshly initialised GRU (PyTorch's gated recurrent layer) and to one
# attention layer, and ask how much the last output depends on each input,
# via the size of the gradient of the output with respect to that input. The
# attention layer's three linear maps `w_q`, `w_k`, `w_v` prepare the vectors
# it compares and averages; {doc}`chapter 04 <04_queries_keys_values>`
# explains them.

# %%
length, size = 100, 64
glue("influence_length", length)
inputs = torch.randn(16, length, size, device=device, requires_grad=True)  # (N, L, E)
probe = torch.randn(size, device=device)  # a random direction to read the output along


def influence(last_output):
    """Size of d(probe · last output) / d(input at each position), batch mean."""
    inputs.grad = None
    (last_output @ probe).sum().backward()
    return inputs.grad.norm(dim=-1).mean(dim=0)  # (L,)


gru = nn.GRU(size, size, batch_first=True).to(device)
states, _ = gru(inputs)  # (N, L, E)
gru_influence = influence(states[:, -1])

w_q, w_k, w_v = (nn.Linear(size, size).to(device) for _ in range(3))
# attended: (N, 1, E)
attended = scaled_dot_product_attention(w_q(inputs[:, -1:]), w_k(inputs), w_v(inputs))
attention_influence = influence(attended[:, 0])

distance = torch.arange(length - 1, -1, -1)  # position t is length - 1 - t words back
far = 0  # the first word, length - 1 words back
glue("far_distance", length - 1 - far)
print(f"{'influence':>9}: {'last (the query)':>19} {'one before it':>15} {'first':>9}")
for name, curve in (("GRU", gru_influence), ("attention", attention_influence)):
    last, one_back, first = (curve[t].item() for t in (-1, -2, far))
    print(f"{name:>9}: {last:19.2e} {one_back:15.2e} {first:9.2e}")
assert gru_influence[far] < 1e-6 * gru_influence[-1]
assert attention_influence[far] > 0.01 * attention_influence[-1]
far_vs_near = (attention_influence[far] / attention_influence[-2]).item()
assert 2 / 3 < far_vs_near < 3 / 2  # the text says "about the same influence"
glue("att_far_vs_near", far_vs_near, display=False)
glue(
    "gru_decay",
    math.log10(gru_influence[-1].item() / gru_influence[far].item()),
    display=False,
)

fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
ax.semilogy(distance, gru_influence.cpu(), label="GRU (recurrent)")
ax.semilogy(distance, attention_influence.cpu(), label="one attention layer")
ax.set(
    xlabel="distance from the last word (words back)",
    ylabel="influence on the last output",
    title="How much does a word far back matter? (untrained models)",
)
ax.legend()
plt.show()

# %% [markdown]
# The GRU's curve falls in a straight line on this logarithmic axis: an
# exponential decay. The first word's influence is about
# {glue:text}`gru_decay:.0f` orders of magnitude below the last word's.
# Attention's curve is flat except at distance 0: the last word also supplies
# the query, so it reaches the output along more paths than any other word.
# Every other word is one step away, however far back it is: the first word,
# {glue:text}`far_distance` positions back, has about the same influence as the
# word just before the last ({glue:text}`att_far_vs_near:.2f` times as much).
# These networks are untrained, and training can teach a GRU to protect some
# information (its gates exist for that reason), but the path stays long and
# the state stays one fixed-size vector. The next experiment
# measures what that costs after training.

# %% [markdown]
# (why-experiment)=
# ## An experiment: recalling a value far back
#
# The task, *associative recall*, is a tiny database in a string: key–value
# pairs (a letter, then a digit), then a question mark and one of the keys.
# The answer is that key's value.

# %%
for ex in sequence_task("recall", 3, length=4, seed=1):
    print(f"{ex.source!r} -> {ex.target!r}")

# %% [markdown]
# Both models read the same input. Each letter and each digit gets an
# *embedding*: a vector of numbers looked up in a table (`nn.Embedding`) and
# learned during training, like the made-up value vectors above. The input is
# one vector per pair (the key's embedding plus the value's embedding), then one for the question (the asked key's
# embedding plus a learned marker). The **recurrent model** runs a GRU over
# the pairs and the question, and reads the answer from its final state. The
# **attention model** makes a query from the question and keys and values from
# the pairs, attends once, and reads the answer from the result. Each ends in
# a linear layer with one score (*logit*) per digit.

# %%
D = 64  # size of every vector


class PairEmbedding(nn.Module):
    """One vector per key–value pair, and one for the question."""

    def __init__(self):
        super().__init__()
        self.key = nn.Embedding(26, D)  # a..z
        self.value = nn.Embedding(10, D)  # 0..9
        self.marker = nn.Parameter(0.1 * torch.randn(D))  # says "this is the question"

    def forward(self, keys, values, asked):
        pairs = self.key(keys) + self.value(values)  # (N, n, D)
        question = self.key(asked) + self.marker  # (N, D)
        return pairs, question


class RecurrentRecall(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = PairEmbedding()
        self.rnn = nn.GRU(D, D, batch_first=True)
        self.readout = nn.Linear(D, 10)

    def forward(self, keys, values, asked):
        pairs, question = self.embed(keys, values, asked)
        # sequence: (N, n + 1, D), question last
        sequence = torch.cat([pairs, question[:, None]], dim=1)
        states, _ = self.rnn(sequence)  # (N, n + 1, D)
        return self.readout(states[:, -1])  # (N, 10): from the final state only


class AttentionRecall(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = PairEmbedding()
        self.w_q, self.w_k, self.w_v = nn.Linear(D, D), nn.Linear(D, D), nn.Linear(D, D)
        self.readout = nn.Linear(D, 10)

    def forward(self, keys, values, asked):
        pairs, question = self.embed(keys, values, asked)
        query = self.w_q(question)[:, None]  # (N, 1, D): one query, the question
        # found: (N, 1, D)
        found = scaled_dot_product_attention(query, self.w_k(pairs), self.w_v(pairs))
        return self.readout(found[:, 0])  # (N, 10)


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


print(
    "parameters: recurrent",
    parameter_count(RecurrentRecall()),
    "| attention",
    parameter_count(AttentionRecall()),
)

# %% [markdown]
# The data comes from `attnbook.data.sequence_task("recall", ...)`; we turn
# each string into index tensors. Training and test examples use different
# seeds.


# %%
def encode(examples, n_pairs):
    """Strings like 'a3k7?k' -> (keys, values, asked, target) index tensors."""
    sources = [ex.source for ex in examples]
    keys = torch.tensor(
        [[ord(c) - ord("a") for c in s[0 : 2 * n_pairs : 2]] for s in sources],
    )
    values = torch.tensor([[int(c) for c in s[1 : 2 * n_pairs : 2]] for s in sources])
    asked = torch.tensor([ord(s[-1]) - ord("a") for s in sources])
    target = torch.tensor([int(ex.target) for ex in examples])
    return tuple(t.to(device) for t in (keys, values, asked, target))


def recall_data(n_pairs, num_examples, seed):
    return encode(
        sequence_task("recall", num_examples, length=n_pairs, seed=seed),
        n_pairs,
    )


keys, vals, asked, target = recall_data(4, 1, seed=1)
print("keys", keys.tolist(), "values", vals.tolist())
print("asked", asked.tolist(), "target", target.tolist())
assert (
    vals[0, (keys[0] == asked[0]).nonzero()].item() == target.item()
)  # the answer is the asked key's value

# %% [markdown]
# The training loop is the same for both models: the same number of steps,
# the same batches, the same optimiser. After training we measure the
# *accuracy*, the fraction of test questions whose highest logit is the right
# digit. Guessing one of the ten digits scores 0.1.

# %%
# ATTNBOOK_FAST=1 shortens training for quick checks
steps = 150 if fast_mode() else 500
if device.type == "cpu":
    # These models are tiny: a second thread does not speed them up, and when other
    # programs share the CPU, threads waiting for each other can slow training a lot.
    torch.set_num_threads(1)


def accuracy(logits, targets):
    return (logits.argmax(dim=-1) == targets).float().mean().item()


def train_and_test(model, train, test, seed=0):
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = torch.Generator().manual_seed(seed)  # the same batches for every model
    for _ in range(steps):
        idx = torch.randint(0, len(train[-1]), (128,), generator=batches).to(device)
        logits = model(*(t[idx] for t in train[:3]))
        loss = F.cross_entropy(logits, train[3][idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return accuracy(model(*test[:3]), test[3])


results = {"recurrent": {}, "attention": {}}
pair_counts = (2, 4, 8, 16)
for n_pairs in pair_counts:
    train = recall_data(n_pairs, 10_000, seed=100 + n_pairs)
    test = recall_data(n_pairs, 1_000, seed=200 + n_pairs)
    for name, make in (("recurrent", RecurrentRecall), ("attention", AttentionRecall)):
        seed_everything(0)  # the same initialisation draw for every run
        results[name][n_pairs] = train_and_test(make(), train, test)
    rec_acc, att_acc = results["recurrent"][n_pairs], results["attention"][n_pairs]
    print(f"{n_pairs:2d} pairs: recurrent {rec_acc:.3f}   attention {att_acc:.3f}")

# %% [markdown]
# The figure plots the same numbers. Look at how each curve changes as the
# list grows, from left to right, and compare both with the dotted
# guessing line.

# %%
fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
for name, style in (("recurrent", "o-"), ("attention", "s-")):
    ax.plot(
        pair_counts,
        [results[name][n] for n in pair_counts],
        style,
        label=f"{name} model",
    )
ax.axhline(0.1, color="gray", linestyle=":", label="guessing")
ax.set(
    xscale="log",
    xlabel="key–value pairs before the question",
    ylabel="test accuracy",
    ylim=(0, 1.05),
    title=f"Associative recall after {steps} training steps",
)
ax.set_xticks(pair_counts, [str(n) for n in pair_counts])
ax.minorticks_off()
ax.legend()
plt.show()

rec, att = results["recurrent"], results["attention"]
assert min(att.values()) > 0.9  # attention solves every length
all_right = min(att.values()) == 1.0
glue(
    "att_answers",
    "every question" if all_right else "almost every question",
    display=False,
)
assert (
    rec[16] < att[16] - 0.3 and rec[16] < rec[2]
)  # the recurrent model falls behind as lists grow
glue("rec_2", rec[2], display=False)
glue("rec_16", rec[16], display=False)
glue("att_min", min(att.values()), display=False)

# %% [markdown]
# With the same training, the attention model answers
# {glue:text}`att_answers` at every length (its worst accuracy is
# {glue:text}`att_min:.3f`). The
# recurrent model manages {glue:text}`rec_2:.3f` with 2 pairs but only
# {glue:text}`rec_16:.3f` with 16, not far above guessing. The reason is the
# one we measured above: the GRU must carry every pair in its state until the
# question arrives, and learn, through a long chain of steps, what to keep;
# attention compares the question with every pair directly.
#
# Be fair to the GRU: both models had the same small training budget, and this
# experiment does not show what a GRU with a larger state and many more steps
# would reach (gated RNNs were state of the art for years). What it does show is
# the trend: the recurrent model's accuracy falls as the distance to bridge
# grows, and that is the problem attention was invented to solve.
#
# ## Summary
#
# - Attention computes a **weighted average** of value vectors, with weights
#   that are non-negative, sum to 1 and are chosen afresh for each question:
#   a spotlight, soft or hard.
# - A weight table (like the guide's for "sat") says how much each word
#   contributes; the output blends their values accordingly.
# - A recurrent network passes information one step at a time: the path
#   between words $n$ apart is $n$ steps long, and its influence decays
#   exponentially along the way. Attention connects any two words in one step,
#   and processes all positions at once.
# - On associative recall, one attention layer solves lists of every length
#   we tried; a GRU with the same training falls towards guessing as the list grows.
#
# Chapters {doc}`02 <02_dot_products>` to {doc}`04 <04_queries_keys_values>`
# open the box: how the weights are computed from the words themselves.

# %% [markdown]
# ## Exercises
#
# Each starting point below is wrong on purpose: run the check, read what it
# says, fix the function, run again. Solutions are under the toggles.
#
# ### Exercise 1: a weighted average
#
# Write `my_weighted_average(weights, values)` for `weights` of shape `(S,)`
# (summing to 1) and `values` of shape `(S, E)`, returning shape `(E,)`.


# %%
def my_weighted_average(weights, values):
    return values.mean(dim=0)  # your turn


check_weighted_average(my_weighted_average)


# %% tags=["hide-input"]
def my_weighted_average(weights, values):
    return (weights[:, None] * values).sum(dim=0)  # (S, 1) * (S, E) -> (S, E) -> (E,)


assert check_weighted_average(my_weighted_average)

# %% [markdown]
# ### Exercise 2: path lengths
#
# Write `path_length(i, j, kind)`: the number of steps information needs to
# travel between positions `i` and `j` in a `"recurrent"` network or with
# `"attention"`. A position reaches itself in 0 steps.


# %%
def path_length(i, j, kind):
    return abs(i - j)  # your turn


check_path_length(path_length)


# %% tags=["hide-input"]
def path_length(i, j, kind):
    if i == j:
        return 0
    return abs(i - j) if kind == "recurrent" else 1


assert check_path_length(path_length)

# %% [markdown]
# ### Exercise 3: accuracy
#
# Write `my_accuracy(logits, targets)`: the fraction of rows of `logits`
# (shape `(N, C)`, one score per class) whose highest score is at the index
# given by `targets` (shape `(N,)`). The experiment above used this.


# %%
def my_accuracy(logits, targets):
    return (logits.argmax(dim=-1) == targets).sum()  # your turn


check_prediction_accuracy(my_accuracy)


# %% tags=["hide-input"]
def my_accuracy(logits, targets):
    return (logits.argmax(dim=-1) == targets).float().mean()


assert check_prediction_accuracy(my_accuracy)
