# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reading attention
#
# Attention weights are the most tempting numbers in a transformer: one per pair
# of words, between zero and one, ready to be drawn. This chapter trains a small
# model, draws its attention in several ways, and then asks the question that the
# pictures cannot answer by themselves: does the model actually *use* what its
# attention points at?

# %% tags=["hide-cell"]
# Colab only: install attnbook, the book's library, from the repository.
import subprocess
import sys

ATTNBOOK = "attnbook @ git+https://github.com/attnbook/attention-step-by-step@main"
if "google.colab" in sys.modules:
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, ATTNBOOK], check=True)

# %% [markdown]
# **Learning goals.** After this chapter you can
#
# - draw a trained model's attention as heatmaps, layer by layer and head by head,
#   and say what each picture does and does not show;
# - combine the layers into one picture with *attention rollout*;
# - measure what a head does by removing it (*ablation*), and compare that with
#   what its weights suggest;
# - explain, with a measured example, why high attention is not the same as
#   causal importance.

# %%
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Markdown

from attnbook.data import pronoun_example, pronoun_examples, toyworld_tokenizer
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_attention_entropy,
    check_attention_rollout,
    check_head_ablation,
    check_top_keys,
)
from attnbook.notebook import fast_mode, glue
from attnbook.train import evaluate_pointer, train_pronoun_resolver
from attnbook.viz import plot_head_grid, plot_heatmap, plot_weights_bar, use_book_style
from attnbook.widgets import AttentionMap

device = default_device()
if device.type == "cpu":
    # A small model: one thread is about as fast as two, and with one thread every
    # sum is taken in the same order on every run, so a rebuild prints the same numbers.
    torch.set_num_threads(1)
print(describe_device(device))
seed_everything(0)
use_book_style()

# %% [markdown]
# ## A model worth reading
#
# We need a model that has learned something we can check. The toy-world corpus of
# `attnbook.data` writes sentences like "The cat sat on the mat because it was
# comfortable." — the example of the beginner's guide this book grew from
# ({doc}`chapter 01 <01_why_attention>`) — and knows, for each, which noun "it" refers to: the
# adjective decides (an animal can be hungry, a mat can be comfortable). The
# recipe `train_pronoun_resolver` trains the encoder-only model of {doc}`chapter 10 <10_encoder_only>` (a
# few layers of several heads each, and a *pointer* head that scores every word and
# picks the referent) and measures it on held-out sentences whose animal, thing and
# adjective combinations never occurred in training. It trains for a fixed number
# of steps, not for a time, so a slow machine trains the same model, only later.
# Another kind of processor (a GPU) adds up in a different order, and training can
# then take a different path, with other heads and other numbers: the text below
# takes both from the code.

# %%
STEPS = 100 if fast_mode() else 1000  # ATTNBOOK_FAST=1 (quick checks) trains briefly
result = train_pronoun_resolver(
    steps=STEPS,
    eval_every=250,
    device=device,
    progress=False,
)
model, tok = result.model, toyworld_tokenizer()
config = model.config
print(
    f"{result.history.steps} steps in {result.history.seconds:.0f} s; "
    f"held-out accuracy {result.metrics['test_accuracy']:.1%}"
)
glue("accuracy", 100 * result.metrics["test_accuracy"])
glue("train_seconds", result.history.seconds)
glue("num_layers", config.num_layers)
glue("num_heads", config.num_heads)
glue("num_all_heads", config.num_layers * config.num_heads)
print(f"{config.num_layers} layers of {config.num_heads} heads")

# %% [markdown]
# After {glue:text}`train_seconds:.0f` seconds of training here, the model points
# at the right noun in {glue:text}`accuracy:.1f`% of the held-out sentences. Here
# are the guide's sentence and its twin with an animal adjective:


# %%
def run(text):
    """The model's prediction and attention weights for one sentence."""
    ids = torch.tensor([tok.encode(text)], device=device)  # (1, L)
    with torch.no_grad():
        out = model(ids, need_weights=True)
    weights = torch.stack(out.attentions, dim=1)[0].cpu()  # (layers, H, L, L)
    return tok.tokenize(text), out.logits[0].argmax().item(), weights


for adjective in ("comfortable", "hungry"):
    example = pronoun_example("cat", "mat", adjective)
    tokens, pointed, weights = run(example.text)
    right_answer = f"right answer {example.answer!r}"
    print(f"{example.text!r}:")
    print(f"  'it' -> {tokens[pointed]!r} ({right_answer})")
L = len(tokens)
assert weights.shape == (config.num_layers, config.num_heads, L, L)
torch.testing.assert_close(
    weights.sum(-1),
    torch.ones(config.num_layers, config.num_heads, L),
)

# %% [markdown]
# ## Heatmaps, layer by layer
#
# Each layer has {glue:text}`num_heads` heads, each with its own $L \times L$ matrix
# of weights: row
# $i$ is the query token, column $j$ the key token, and each row sums to one. A
# first overview averages the heads of each layer:

# %%
example = pronoun_example("cat", "mat", "comfortable")
tokens, pointed, weights = run(example.text)
ncols = min(2, config.num_layers)  # two maps side by side, more layers below
nrows = -(-config.num_layers // ncols)
fig, axes = plt.subplots(
    nrows,
    ncols,
    figsize=(8.5, 4.4 * nrows),
    squeeze=False,
    layout="constrained",
)
for layer, ax in enumerate(axes.flat):
    plot_heatmap(
        weights[layer].mean(0),
        tokens,
        tokens,
        ax=ax,
        annotate=False,
        title=f"layer {layer}, heads averaged",
        vmin=0,
        vmax=1,
        colorbar=layer == config.num_layers - 1,
    )
    ax.tick_params(axis="x", labelrotation=90)  # long words side by side would collide
plt.show()

# %% [markdown]
# Read a heatmap row by row: the row of "it" shows where "it" takes its
# information from. Averaging hides what the heads do separately, so here are the
# {glue:text}`num_heads` heads of the last layer on their own:

# %%
axes = plot_head_grid(
    weights[-1],
    tokens,
    tokens,
    ncols=2,
    title=f"layer {config.num_layers - 1}: one map per head",
)
for ax in axes.flat:
    ax.tick_params(labelsize=9)
plt.show()

# %% [markdown]
# Look for three kinds of head: sharp ones (one bright cell per row), diffuse ones
# that spread their weight over many tokens, and heads where every row parks its
# weight on the same token (a bright column), a common habit of trained heads that
# gather one piece of information everywhere or have nothing useful to fetch. The
# widget holds every layer and
# head of this sentence: pick a layer and a head, then click a token (or use the
# arrow keys) to list the keys it attends to most.

# %%
AttentionMap(
    weights,
    tokens=tokens,
    layer=config.num_layers - 1,
    head=0,
    query_index=example.pronoun_index,
)

# %% [markdown]
# ```{warning}
# Two reading slips are common. A *row* is where a query looks; a *column* is who
# looks at a key; reading one for the other turns "where does *it* get its
# information" into "who reads *it*". And the weights shown by most tools,
# `nn.MultiheadAttention`'s included, are averaged over heads unless you ask
# otherwise (`average_attn_weights=False`); the average can show a pattern no
# single head has.
# ```
#
# ## The guide's "sat" example, and a real model
#
# The guide illustrates attention with made-up weights from "sat" in "The cat sat
# on the mat" (the weights of {doc}`chapter 01 <01_why_attention>`): The 15%, cat 35%, sat 25%, on 10%, the 10%, mat 5%. What does our
# trained model do with the same sentence? It has its own attention in every layer
# and head; we average the heads of each layer and, to compare like with like,
# keep the six words (dropping the final period) and renormalise them to sum to one.

# %%
guide_words = ["The", "cat", "sat", "on", "the", "mat"]
guide = torch.tensor([0.15, 0.35, 0.25, 0.10, 0.10, 0.05])
sat_tokens, _, sat_weights = run("The cat sat on the mat.")
assert sat_tokens[:6] == guide_words
from_sat = sat_weights[:, :, 2, :6].mean(1)  # (layers, 6): row of "sat", heads averaged
from_sat = from_sat / from_sat.sum(-1, keepdim=True)
fig, axes = plt.subplots(
    1,
    1 + config.num_layers,
    figsize=(8.5, 3.4),
    sharey=True,
    layout="constrained",
)
plot_weights_bar(
    guide_words,
    guide,
    ax=axes[0],
    title="the guide (illustrative)",
    highlight=2,
)
distances = []
for layer in range(config.num_layers):
    plot_weights_bar(
        guide_words,
        from_sat[layer],
        ax=axes[layer + 1],
        title=f"model, layer {layer}",
        highlight=2,
    )
    distances.append(0.5 * (from_sat[layer] - guide).abs().sum().item())
plt.show()
print("total variation distance from the guide, per layer:", np.round(distances, 2))
glue("sat_distance_min", min(distances))

# %% [markdown]
# The guide's numbers were invented to explain the idea, and our model has no
# reason to match them: it was trained to resolve pronouns, not to link verbs to
# their subjects, and the sentence (with no pronoun) is unlike anything it saw in
# training. The closest layer is still {glue:text}`sat_distance_min:.2f` away in
# total variation distance (half the summed absolute difference: 0 means
# identical, 1 means no overlap at all). The lesson is not about the numbers: a
# word has no single "attention", but one distribution per layer and per head.
#
# ## What does "it" look at, over many sentences?
#
# One sentence is an anecdote. We take the held-out sentences and, for every layer
# and head, average the weight from "it" to its antecedent and to the other noun
# (the distractor).

# %%
num_eval = 500 if fast_mode() else 1000
test = {name: t[:num_eval] for name, t in result.data["test"].items()}
examples = pronoun_examples(len(result.data["test"]["ids"]), "test", seed=0)[:num_eval]
answer = test["answer"]
distractor = torch.tensor(
    [ex.thing_index if ex.answer == ex.animal else ex.animal_index for ex in examples]
)
assert torch.equal(answer, torch.tensor([ex.answer_index for ex in examples]))
rows = torch.arange(num_eval)
with torch.no_grad():
    out = model(test["ids"].to(device), test["mask"].to(device), need_weights=True)
attentions = torch.stack(out.attentions, dim=1).cpu()  # (N, layers, H, L, L)
from_it = attentions[rows, :, :, test["pronoun"]]  # (N, layers, H, L): the rows of "it"
to_answer = from_it[rows, :, :, answer].mean(0)  # (layers, H)
to_distractor = from_it[rows, :, :, distractor].mean(0)  # (layers, H)
print("mean weight from 'it' to the antecedent (rows: layers, columns: heads)")
print(to_answer.numpy().round(3))
print("... and to the distractor")
print(to_distractor.numpy().round(3))

# %%
fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4), layout="constrained")
labels = (
    [f"head {h}" for h in range(config.num_heads)],
    [f"layer {layer}" for layer in range(config.num_layers)],
)
plot_heatmap(
    to_answer,
    labels[1],
    labels[0],
    ax=axes[0],
    xlabel="head",
    ylabel="layer",
    title="'it' -> antecedent",
    vmin=0,
    vmax=1,
    annotate=True,
)
plot_heatmap(
    to_distractor,
    labels[1],
    labels[0],
    ax=axes[1],
    xlabel="head",
    ylabel="layer",
    title="'it' -> distractor",
    vmin=0,
    vmax=1,
    annotate=True,
)
plt.show()
best = divmod(int((to_answer - to_distractor).argmax()), config.num_heads)
glue("best_head", f"{best[0]}.{best[1]}")
glue("best_to_answer", 100 * to_answer[best].item())
glue("best_to_distractor", 100 * to_distractor[best].item())
print(
    f"head {best[0]}.{best[1]} favours the antecedent most: "
    f"{to_answer[best]:.1%} vs {to_distractor[best]:.1%} to the distractor"
)
# The "answer magnet" check of chapter 10: do the *other* words look at the
# antecedent too?
layer, head = best
others = test["mask"].clone()  # real tokens ...
others[rows, test["pronoun"]] = False  # ... other than "it"
others[rows, answer] = False  # ... and other than the antecedent itself
# to_answer_from_all: (N, L): every query's weight
to_answer_from_all = attentions[rows, layer, head, :, answer]
from_others = (to_answer_from_all * others).sum(-1) / others.sum(-1)
others_share = from_others.mean()
print(f"same head, weight on the antecedent from the other words: {others_share:.1%}")
glue("best_from_others", 100 * from_others.mean().item())
# heads where "it" sends more than half of its weight to the two nouns together
noun_heads = int((to_answer + to_distractor > 0.5).sum())
glue("noun_heads", noun_heads)

# %% [markdown]
# In {glue:text}`noun_heads` of the {glue:text}`num_all_heads` heads, "it" sends
# more than half of its weight to the two nouns together; the others look mostly
# elsewhere. The head that favours the antecedent most (layer.head
# {glue:text}`best_head`) gives it {glue:text}`best_to_answer:.0f`% of the weight
# from "it" and the distractor {glue:text}`best_to_distractor:.0f`%. Tempting conclusion: "this head resolves the
# pronoun". {doc}`Chapter 10 <10_encoder_only>` warned about the *answer magnet*: a pointer model can make
# its answer noun so distinctive that *every* word attends to it. The same head gives
# the antecedent {glue:text}`best_from_others:.0f`% of the weight of the *other*
# words of the sentence: the closer that is to the weight from "it", the less the
# head's attention has to do with the pronoun. Either way, looking cannot tell us
# whether the model needs the head; the experiments below can.
#
# (rollout)=
# ## Attention rollout
#
# A layer's weights describe one step of mixing. After several layers, the state of
# "it" is a mixture of mixtures, and the residual connections also carry each
# token's own state straight through. *Attention rollout*
# {cite}`abnar2020quantifying` turns this into one matrix: average the heads of
# each layer, account for the residual with an identity, renormalise the rows, and
# multiply the layers:
#
# $$
# \tilde A_\ell = \tfrac12 \bar A_\ell + \tfrac12 I, \qquad
# R = \tilde A_{\text{last}} \cdots \tilde A_1 \tilde A_0 .
# $$
#
# Row $i$ of $R$ estimates how much each input token contributed to the final state
# at position $i$. The order matters: the first layer acts first, so it stands on
# the right.


# %%
def attention_rollout(attentions):
    """Abnar & Zuidema's rollout.

    attentions: one (..., H, L, L) tensor per layer, first first.
    """
    rollout = None
    for weights in attentions:
        mixed = weights.mean(dim=-3)  # (..., L, L): heads averaged
        eye = torch.eye(mixed.shape[-1], dtype=mixed.dtype)
        # the residual connection keeps the token's own state
        mixed = 0.5 * mixed + 0.5 * eye
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        # later layers on the left
        rollout = mixed if rollout is None else mixed @ rollout
    return rollout  # (..., L, L)


layers = list(weights)  # the example sentence: one (H, L, L) tensor per layer
R = attention_rollout(layers)
torch.testing.assert_close(R.sum(-1), torch.ones(len(tokens)))  # rows still sum to one
one_layer = attention_rollout(layers[:1])
torch.testing.assert_close(
    one_layer,
    0.5 * layers[0].mean(0) + 0.5 * torch.eye(len(tokens)),
)

# %% [markdown]
# The library has the same function: `attnbook.interpret.attention_rollout` (its
# `residual` argument is the share kept on the diagonal, the paper's one half by
# default). The check below confirms that it computes what we just wrote; from here
# on the chapter uses the library's version.

# %%
from attnbook import interpret

torch.testing.assert_close(
    interpret.attention_rollout(layers),
    attention_rollout(layers),
)
R = interpret.attention_rollout(layers)  # (L, L)
it = example.pronoun_index
fig, axes = plt.subplots(2, 1, figsize=(8, 6), layout="constrained")
plot_weights_bar(
    tokens,
    weights[-1, :, it].mean(0),
    ax=axes[0],
    percent=False,
    title="'it', last layer only (heads averaged)",
    highlight=it,
)
plot_weights_bar(
    tokens,
    R[it],
    ax=axes[1],
    percent=False,
    title="'it', rollout over all layers",
    highlight=it,
)
for ax in axes:
    ax.tick_params(axis="x", rotation=45)
plt.show()

# %% [markdown]
# The rollout mixes every layer in, and the identity terms keep part of the credit
# on "it" itself: with half of each layer's mixing kept on the diagonal, at least
# $(1/2)^{\text{layers}}$ of it stays there. Over the held-out sentences:

# %%
R_all = interpret.attention_rollout(list(attentions.unbind(dim=1)))  # (N, L, L)
roll_answer = R_all[rows, test["pronoun"], answer]
roll_distractor = R_all[rows, test["pronoun"], distractor]
print(
    f"rollout from 'it': antecedent {roll_answer.mean():.3f}, "
    f"distractor {roll_distractor.mean():.3f};\nantecedent ahead in "
    f"{(roll_answer > roll_distractor).float().mean():.0%} of sentences"
)
glue("rollout_ahead", 100 * (roll_answer > roll_distractor).float().mean().item())

# %% [markdown]
# In {glue:text}`rollout_ahead:.0f`% of the sentences the rollout credits the
# antecedent more than the distractor. Rollout is a better summary of information
# flow than one layer's weights, but it is still built only from attention
# weights: it ignores the values, the feed-forward layers and the pointer head that
# makes the final choice.
#
# ## Ablation: remove a head, measure the damage
#
# Weights say where information *could* flow. To learn whether a head *matters*,
# remove it and measure. Inside `MultiheadAttention` the heads' outputs are
# concatenated, `(N, L, H * head_dim)`, before the output projection `out_proj`
# ({doc}`chapter 05 <05_multi_head_attention>`); with head width
# $d_k$ = `head_dim`, head $h$ owns features $h \cdot d_k$ to
# $(h+1) \cdot d_k - 1$. A forward *pre-hook* on `out_proj` (a function that
# PyTorch calls with a module's input just before the module runs, and which
# may replace that input) can zero that slice, exactly as if the head had returned
# zeros.


# %%
def ablate(heads):
    """Register hooks that zero the output of each (layer, head) in `heads`.

    Returns the hook handles.
    """
    d_k = config.head_dim
    handles = []
    for layer, head in heads:

        def zero_head(module, args, head=head):
            x = args[0].clone()  # (N, L, H * d_k): the heads' outputs, concatenated
            x[..., head * d_k : (head + 1) * d_k] = 0
            return (x,)

        out_proj = model.layers[layer].self_attn.out_proj
        handles.append(out_proj.register_forward_pre_hook(zero_head))
    return handles


# The hook must equal the other way to silence a head: zero its columns of out_proj.
probe = test["ids"][:8].to(device), test["mask"][:8].to(device)
handles = ablate([(1, 2)])
with torch.no_grad():
    hooked = model(*probe).logits
for handle in handles:
    handle.remove()
out_proj = model.layers[1].self_attn.out_proj
saved = out_proj.weight.detach().clone()
with torch.no_grad():
    out_proj.weight[:, 2 * config.head_dim : 3 * config.head_dim] = 0
    zeroed = model(*probe).logits
    out_proj.weight.copy_(saved)
torch.testing.assert_close(hooked, zeroed)

# %% [markdown]
# Hooks that stay registered silence the head for good, so they must be removed
# even when the code between fails. `attnbook.interpret.ablate_heads` is the same
# hook wrapped in a context manager: inside its `with` block the listed
# `(layer, head)` pairs are silent, and its hooks are gone when the block ends, also
# after an error. The check below confirms that it gives the logits of our `ablate`;
# from here on the chapter uses it.

# %%
attention_modules = [layer.self_attn for layer in model.layers]
with torch.no_grad(), interpret.ablate_heads(attention_modules, [(1, 2)]):
    library = model(*probe).logits
torch.testing.assert_close(library, hooked)
# hooks removed
assert not any(m.out_proj._forward_pre_hooks for m in attention_modules)


def measure(heads=()):
    """Accuracy and mean margin with `heads` removed.

    margin = antecedent score - distractor score.
    """
    with interpret.ablate_heads(attention_modules, heads):
        accuracy = evaluate_pointer(model, test["ids"], test["mask"], answer)
        with torch.no_grad():
            logits = model(test["ids"].to(device), test["mask"].to(device)).logits.cpu()
    return accuracy, (logits[rows, answer] - logits[rows, distractor]).mean().item()


base_accuracy, base_margin = measure()
print(f"intact model: accuracy {base_accuracy:.1%}, mean margin {base_margin:.2f}")

# %% [markdown]
# Two measures: the accuracy, and the *margin*, how far the antecedent's score is
# ahead of the distractor's (a model can lose confidence long before it makes
# mistakes). Now remove each of the {glue:text}`num_all_heads` heads in turn, and
# then whole layers:

# %%
acc_drop = torch.zeros(config.num_layers, config.num_heads)
margin_drop = torch.zeros(config.num_layers, config.num_heads)
for layer in range(config.num_layers):
    for head in range(config.num_heads):
        accuracy, margin = measure([(layer, head)])
        acc_drop[layer, head] = base_accuracy - accuracy
        margin_drop[layer, head] = base_margin - margin
for layer in range(config.num_layers):
    accuracy, _ = measure([(layer, h) for h in range(config.num_heads)])
    print(f"without all of layer {layer}'s heads: accuracy {accuracy:.1%}")
fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4), layout="constrained")
plot_heatmap(
    100 * acc_drop,
    labels[1],
    labels[0],
    ax=axes[0],
    xlabel="head",
    ylabel="layer",
    title="accuracy lost (points) when removed",
    annotate=True,
    fmt="{:.1f}",
    cmap="Reds",
)
plot_heatmap(
    margin_drop,
    labels[1],
    labels[0],
    ax=axes[1],
    xlabel="head",
    ylabel="layer",
    title="margin lost when removed",
    annotate=True,
    fmt="{:.2f}",
    cmap="Reds",
)
plt.show()
worst = divmod(int(acc_drop.argmax()), config.num_heads)
worst_name = f"{worst[0]}.{worst[1]}"
print(f"largest accuracy loss from one head: {acc_drop.max():.1%} (head {worst_name})")
glue("max_acc_drop", 100 * acc_drop.max().item())
glue("worst_head", f"{worst[0]}.{worst[1]}")
glue("cheap_heads", int((acc_drop < 0.01).sum()))  # under one point of accuracy

# %% [markdown]
# The most harmful single removal (head {glue:text}`worst_head`) costs
# {glue:text}`max_acc_drop:.1f` points of accuracy; {glue:text}`cheap_heads` of the
# {glue:text}`num_all_heads` heads cost less than one point each, and the printout
# shows what removing a whole layer costs. Heads that can be removed
# almost for free are not necessarily useless: several heads may carry the same
# information, and each is then dispensable only because the others remain. The
# margin can move when the accuracy does not, so it shows which heads carry
# weight in the decision before any answer flips.
#
# ## Weights versus effects
#
# Does "much attention from 'it' to the antecedent" predict "removing the head
# hurts"? Plot one against the other, one point per head, and compute the rank
# correlation (Spearman's: the correlation of the ranks, computed with NumPy).


# %%
def ranks(x):
    return np.argsort(np.argsort(x)).astype(float)


# attention_score: how much each head prefers the antecedent
attention_score = (to_answer - to_distractor).flatten().numpy()
effect = margin_drop.flatten().numpy()
rho = float(np.corrcoef(ranks(attention_score), ranks(effect))[0, 1])
glue("rho", rho)


def name(i):
    return f"{i // config.num_heads}.{i % config.num_heads}"


# Heads whose points lie close together (within a few % of the axes) share one
# label, "1.3, 0.3", so that no two labels print over each other.
span_x, span_y = np.ptp(attention_score) or 1.0, np.ptp(effect) or 1.0
groups = []
for i in np.argsort(attention_score):
    near = [
        g
        for g in groups
        if any(
            abs(attention_score[i] - attention_score[j]) < 0.12 * span_x
            and abs(effect[i] - effect[j]) < 0.06 * span_y
            for j in g
        )
    ]
    if near:
        near[0].append(i)
    else:
        groups.append([i])
fig, ax = plt.subplots(figsize=(6.5, 4.3), layout="constrained")
ax.scatter(attention_score, effect)
for g in groups:
    top = max(g, key=lambda i: effect[i])  # the label sits by the group's top point
    ax.annotate(
        ", ".join(name(i) for i in g),
        (attention_score[top], effect[top]),
        textcoords="offset points",
        xytext=(5, 5),
        fontsize=9,
    )
ax.axhline(0, color="grey", lw=0.8)
ax.set(
    xlabel="weight from 'it': antecedent minus distractor",
    ylabel="margin lost when the head is removed",
    title=f"Attention vs ablation, one point per head\n(Spearman {rho:.2f})",
)
plt.show()

# %% [markdown]
# Each point is a head, labelled layer.head (points that nearly coincide share
# one label). Look for the two kinds of
# disagreement: heads far to the right but low (attention that does not matter),
# and heads high but near zero on the horizontal axis (heads that matter without
# looking from "it" to the antecedent). The cell below names the extreme cases
# found in this run.

# %%
order_attention = np.argsort(-attention_score)
order_effect = np.argsort(-effect)
top_attention, top_effect = order_attention[0], order_effect[0]

print(
    f"most antecedent-favouring attention: head {name(top_attention)} "
    f"({attention_score[top_attention]:+.3f});\n    removing it costs "
    f"{effect[top_attention]:.2f} of margin, "
    f"rank {list(order_effect).index(top_attention) + 1} of {len(effect)} by effect"
)
print(
    f"largest effect when removed: head {name(top_effect)} "
    f"({effect[top_effect]:.2f} of margin);\n    its attention preference is "
    f"{attention_score[top_effect]:+.3f}, rank "
    f"{list(order_attention).index(top_effect) + 1} of {len(effect)} by attention"
)
rank_by_effect = list(order_effect).index(top_attention) + 1
rank_by_attention = list(order_attention).index(top_effect) + 1
glue("top_attention_head", name(top_attention))
glue("top_attention_rank", rank_by_effect)
glue("top_effect_head", name(top_effect))
glue("top_effect_rank", rank_by_attention)

# Heads that clearly attend from "it" to the antecedent, yet hardly matter.
PREFERENCE, IDLE = 0.1, 0.1  # weight over the distractor; share of the largest effect
attending = [i for i in order_attention if attention_score[i] > PREFERENCE]
looks_but_idle = [name(i) for i in attending if effect[i] < IDLE * effect.max()]
idle_heads = (
    f"heads that favour the antecedent by more than {PREFERENCE} of weight and whose "
    f"removal costs under {IDLE:.0%} of the largest effect: {looks_but_idle or 'none'}"
)
print(textwrap.fill(idle_heads, width=76, subsequent_indent="    "))
clearly = f"by more than {PREFERENCE} of its weight over the distractor"
if len(looks_but_idle) == 1:
    idle_sentence = (
        f"Head {looks_but_idle[0]} attends from the pronoun to the antecedent "
        f"({clearly}), yet removing it costs less than {IDLE:.0%} of the largest "
        "effect: attention without importance."
    )
elif looks_but_idle:
    heads = ", ".join(looks_but_idle[:-1]) + " and " + looks_but_idle[-1]
    idle_sentence = (
        f"Heads {heads} attend from the pronoun to the antecedent ({clearly}), yet "
        f"removing any one of them costs less than {IDLE:.0%} of the largest effect: "
        "attention without importance."
    )
elif attending:
    idle_sentence = (
        f"Every head that attends from the pronoun to the antecedent ({clearly}) "
        f"costs at least {IDLE:.0%} of the largest effect when removed: in this run "
        "such attention does come with some importance."
    )
else:
    idle_sentence = f"No head attends from the pronoun to the antecedent {clearly}."
glue("idle_sentence", Markdown(idle_sentence))  # pasted as plain text, not bold
if rho >= 0.7:
    rho_words, rho_hint = "closely related", f"a fair hint (over only {len(effect)} heads)"
elif rho >= 0.4:
    rho_words, rho_hint = "moderately related", "a partial hint"
elif rho > -0.4:
    rho_words, rho_hint = "only loosely related", "at best a weak hint"
else:
    rho_words, rho_hint = "related the wrong way round", "no guide at all"
glue("rho_words", rho_words)
glue("rho_hint", rho_hint)

# %% [markdown]
# The printout is this run's evidence. The head whose attention favours the
# antecedent most, {glue:text}`top_attention_head`, is number
# {glue:text}`top_attention_rank` of {glue:text}`num_all_heads` by the margin its
# removal costs; the most damaging head to remove, {glue:text}`top_effect_head`, is
# number {glue:text}`top_effect_rank` by attention. Weights and ablation would
# agree about these heads only if both numbers were 1. {glue:md}`idle_sentence`
# Across all heads the rank correlation is {glue:text}`rho:.2f` (1 would mean that the two
# orderings agree perfectly, 0 that they are unrelated): in this run a head's
# attention from "it" is {glue:text}`rho_hint` about how much the model needs it.
#
# Why can weights mislead?
#
# - **A weight multiplies a value.** A head can put 90% of its weight on a token
#   whose value vector is tiny, or which later layers ignore; its contribution is
#   then negligible, however bright the cell.
# - **Redundancy.** When several heads carry the same information, removing one
#   costs nothing even if it attends exactly to the right place.
# - **The decision is made elsewhere.** Our pointer head scores each *noun's* final
#   state; the pronoun's own state is never read by the output. The row of "it" is
#   where our intuition looks, not necessarily where the model computes.
#
# Jain and Wallace {cite}`jain2019attention` showed on real text classifiers that
# very different attention distributions can yield the same predictions, and that
# attention often correlates weakly with gradient- and ablation-based importance:
# "attention is not explanation". Ablation is itself only one lens (it asks what
# happens without the head, not how the head computes), but it is an experiment,
# not a picture.
#
# ```{warning}
# Do not report a heatmap as "the model's reasoning". Say what was measured ("head
# *l.h* puts *x*% of the weight from *it* on the antecedent, averaged over *n*
# held-out sentences") and, if you claim the head *does* something, back it with an
# intervention such as ablation.
# ```

# %% [markdown]
# ## Summary
#
# - A trained transformer has one attention matrix per layer and per head; rows are
#   queries, columns keys, and averaging over heads can hide what each does.
# - The guide's "sat" weights were illustrative; a real model's weights depend on
#   its training task, layer and head.
# - Attention rollout (`attnbook.interpret.attention_rollout`) multiplies the
#   head-averaged weights of all layers, with the residual path as an identity, into
#   one estimate of token-to-token flow.
# - Ablation (zeroing a head's output; `attnbook.interpret.ablate_heads`) measures
#   what a head contributes. In our
#   model, where a head looks from "it" and how much the model needs that head
#   were {glue:text}`rho_words` (rank correlation {glue:text}`rho:.2f` in this run).
# - High attention is not causation: treat attention maps as hypotheses and test
#   them with interventions.
#
# ## Exercises
#
# **1. Rollout, your way.** Write `my_rollout(attentions)` for a list of per-layer
# tensors of shape `(H, L, L)` (first layer first) that returns the `(L, L)` rollout.
# The starting point forgets the residual connection.


# %%
def my_rollout(attentions):
    rollout = None
    for weights in attentions:
        mixed = weights.mean(dim=0)
        rollout = mixed if rollout is None else mixed @ rollout
    return rollout


check_attention_rollout(my_rollout)


# %% tags=["hide-input"]
def my_rollout(attentions):
    rollout = None
    for weights in attentions:
        mixed = 0.5 * weights.mean(dim=0) + 0.5 * torch.eye(weights.shape[-1])
        mixed = mixed / mixed.sum(dim=-1, keepdim=True)
        rollout = mixed if rollout is None else mixed @ rollout
    return rollout


check_attention_rollout(my_rollout)

# %% [markdown]
# **2. Where does a word look?** Write `top_keys(weights, key_tokens, query_index, k)`
# that returns the `k` key tokens with the largest weight *from* the query at
# `query_index`, largest first, given one head's `(L, S)` weights. The starting
# point reads the wrong axis.


# %%
def top_keys(weights, key_tokens, query_index, k):
    best = torch.topk(weights[:, query_index], k).indices
    return [key_tokens[j] for j in best]


check_top_keys(top_keys)


# %% tags=["hide-input"]
def top_keys(weights, key_tokens, query_index, k):
    best = torch.topk(weights[query_index], k).indices  # the query's row, largest first
    return [key_tokens[j] for j in best.tolist()]


check_top_keys(top_keys)
print(top_keys(weights[best[0], best[1]], tokens, example.pronoun_index, 3))

# %% [markdown]
# **3. Silence a head.** Write `ablate_head(x, head, num_heads)` that takes the
# concatenated head outputs `x` of shape `(N, L, num_heads * d_k)` and returns a
# copy with head `head`'s features set to zero. The starting point assumes the
# features of the heads are interleaved.


# %%
def ablate_head(x, head, num_heads):
    x = x.clone()
    x[..., head::num_heads] = 0
    return x


check_head_ablation(ablate_head)


# %% tags=["hide-input"]
def ablate_head(x, head, num_heads):
    d_k = x.shape[-1] // num_heads  # head h owns features h * d_k .. (h + 1) * d_k - 1
    x = x.clone()
    x[..., head * d_k : (head + 1) * d_k] = 0
    return x


check_head_ablation(ablate_head)

# %% [markdown]
# **4. Sharp or diffuse?** The *entropy* of a row of weights,
# $-\sum_j a_j \ln a_j$, is 0 when all weight sits on one key and $\ln S$ when it is
# spread evenly. Write `attention_entropy(weights)` that returns the entropy of every
# row (last axis), in nats, treating $0 \ln 0$ as 0. Then use it to find the most
# diffuse head of the example sentence. The starting point gets one thing wrong.


# %%
def attention_entropy(weights):
    return -(weights * torch.log2(weights)).sum(dim=-1)


check_attention_entropy(attention_entropy)


# %% tags=["hide-input"]
def attention_entropy(weights):
    return -torch.special.xlogy(weights, weights).sum(dim=-1)  # xlogy(0, 0) = 0


check_attention_entropy(attention_entropy)
per_head = attention_entropy(weights).mean(-1)  # (layers, H): mean over query rows
layer, head = divmod(int(per_head.argmax()), config.num_heads)
print(f"most diffuse head of the example: {layer}.{head},")
uniform = np.log(len(tokens))  # the entropy of weights spread evenly
print(f"mean entropy {per_head[layer, head]:.2f} nats (uniform would be {uniform:.2f})")
