# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Decoder-only models (GPT-style)
#
# Give every position the {term}`causal mask` of
# {doc}`chapter 07 <07_masking>` — position $t$ may look
# at positions $0 \ldots t$ and never beyond — stack the blocks of {doc}`chapter 09 <09_transformer_block>`,
# and train each position to predict the *next* token. That is a
# decoder-only transformer, the family of GPT
# {cite}`radford2018improving,radford2019language`. Because it only ever
# looks back, it can write: predict a token, append it, predict the next.
#
# This chapter trains one, character by character, on the help pages that
# ship with Python, watches its loss fall, samples text from it at several
# temperatures, explains and times the key/value cache that makes generation
# fast, and checks — with a test, not a promise — that the model cannot see
# the future.

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
# - set up next-token prediction on a character stream and know what a loss
#   in nats per character means;
# - check that a causal model's prediction at position $t$ does not change
#   when anything after $t$ changes;
# - train a character language model and read its loss curve;
# - sample with temperature and top-$k$, and measure what they do to the text;
# - explain the key/value cache, check it gives the same tokens, and time it.

# %%
import dataclasses
import math
import platform
import textwrap
import time
from collections import Counter

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from attnbook.data import CharTokenizer, pydoc_splits, pydoc_text, random_windows
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_greedy_generate,
    check_next_token_loss,
    check_top_k_filter,
)
from attnbook.models import DecoderOnly
from attnbook.notebook import fast_mode, glue
from attnbook.train import char_lm_config, describe_benchmark_run, train_char_lm
from attnbook.viz import use_book_style
from attnbook.widgets import AttentionMap

seed_everything(0)
device = default_device()
if device.type == "cpu":
    # Our models are small: a second thread hardly speeds them up, and when other
    # programs share the CPU, threads waiting for each other slow training down a lot.
    torch.set_num_threads(1)
use_book_style()
print(describe_device(device))

# %% [markdown]
# ## The text: Python's own help pages
#
# `pydoc_data.topics` holds the text of Python's `help()` pages: English
# prose, code examples and grammar, a few hundred thousand characters that
# come with every Python installation, so nothing is downloaded. The text
# changes a little between Python versions, so the numbers below are for the
# version printed here. The last 10 % is held out for validation.

# %%
train_text, val_text = pydoc_splits()
print(f"Python {platform.python_version()}: {len(pydoc_text()):,} characters")
print(f"training {len(train_text):,}, validation {len(val_text):,}")
print("-" * 60)
print(val_text[:400])
print("-" * 60)

# %% [markdown]
# Every distinct character becomes a token. The model sees ids; its
# predictions are distributions over the same {glue:text}`vocab_size`
# characters.

# %%
tok = CharTokenizer.from_text([train_text, val_text])
vocab_size = tok.vocab_size
train_counts = Counter(train_text)
assert tok.decode(tok.encode(val_text[:500])) == val_text[:500]  # lossless
print(f"{vocab_size} characters; the 8 most common, with their counts:")
common = [f"{c!r} {n:,}" for c, n in train_counts.most_common(8)]
print("  " + ", ".join(common[:4]))
print("  " + ", ".join(common[4:]))
glue("vocab_size", vocab_size, display=False)

# %% [markdown]
# ## Next-token prediction
#
# A language model assigns a probability to a text by the chain rule,
# $p(x_1 \ldots x_n \mid x_0) = \prod_{t=0}^{n-1} p(x_{t+1} \mid x_0 \ldots x_t)$:
# the probability of each token given all the tokens before it. A causal
# transformer computes every factor at once: from a window of $L$ tokens it
# outputs $L$ distributions, and the one at position $t$ is trained to put
# high probability on token $t+1$. So the targets are the inputs shifted by
# one, and the loss is the mean cross-entropy over all positions — the
# average of $-\ln p$ for the true next token, as in
# {doc}`chapter 05 <05_multi_head_attention>` — in *nats* (natural log) per
# character.
#
# Two reference points make the loss readable: a model that guesses
# uniformly scores $\ln$ of the vocabulary size, and one that knows only
# how common each character is (no context at all) scores the cross-entropy
# of the training text's character frequencies on the validation text.

# %%
ids = torch.tensor([ord(c) for c in "abcdefghij"])  # any stream of ids will do
x, y = random_windows(
    ids,
    block_size=4,
    batch_size=3,
    generator=torch.Generator().manual_seed(0),
)
print("inputs  ", x.tolist())
print("targets ", y.tolist())
assert torch.equal(x[:, 1:], y[:, :-1])  # the targets are the inputs moved by one

uniform_loss = math.log(vocab_size)
total = sum(train_counts.values())
val_counts = Counter(val_text)
unigram = {c: n / total for c, n in train_counts.items()}
unigram_loss = -sum(n * math.log(unigram[c]) for c, n in val_counts.items()) / len(
    val_text,
)
frequencies = f"character frequencies: {unigram_loss:.3f}"
print(f"uniform guess: {uniform_loss:.3f} nats/char; {frequencies}")
glue("uniform_loss", uniform_loss, display=False)
glue("unigram_loss", unigram_loss, display=False)

# %% [markdown]
# ## The model, and a check that it cannot see the future
#
# `attnbook.models.DecoderOnly` is an embedding table, learned positions, a
# stack of `DecoderLayer`s without cross-attention ({doc}`chapter 09 <09_transformer_block>`) whose
# self-attention is always causal, a final layer norm and a linear map to the
# vocabulary. `attnbook.train.char_lm_config()` is the configuration the
# library's benchmark trains. This chapter has less time, so it trains a
# faster variant: the same width ({glue:text}`chapter_width`) and depth, with
# a shorter context ({glue:text}`max_len` characters instead of
# {glue:text}`preset_len`). An attention map over a window has one weight
# per pair of positions, so it becomes {glue:text}`attention_saving:.0f`
# times smaller and cheaper.

# %%
preset = char_lm_config(tok.vocab_size)  # the benchmark's model
config = dataclasses.replace(
    preset,
    embed_dim=96,
    num_layers=3,
    dim_feedforward=384,
    max_len=64,
)
print(f"{type(config).__name__:>22}  {'benchmark':>10}  {'chapter':>10}")
for field, value in dataclasses.asdict(preset).items():
    print(f"{field:>22}  {value!s:>10}  {getattr(config, field)!s:>10}")
assert config.positional == "learned"  # the text below describes learned positions
same_size = (config.embed_dim, config.num_layers) == (
    preset.embed_dim,
    preset.num_layers,
)
assert same_size  # the text says: the same width and depth as the benchmark's model
untrained = DecoderOnly(config).to(device).eval()
print(
    f"{DecoderOnly(preset).num_parameters():,} parameters in the benchmark's model, ",
    end="",
)
print(f"{untrained.num_parameters():,} in this chapter's")
glue("chapter_width", config.embed_dim, display=False)
glue("preset_width", preset.embed_dim, display=False)
glue("max_len", config.max_len, display=False)
glue("preset_len", preset.max_len, display=False)
glue("attention_saving", (preset.max_len / config.max_len) ** 2, display=False)

# %% [markdown]
# If position $t$ could see token $t+1$, training would be trivial — copy
# the answer — and generation would fail, because at generation time the
# next token does not exist yet. The causal mask is supposed to prevent it.
# We check the consequence directly: change every token after position $t$
# and the logits at positions $0 \ldots t$ must not move at all.


# %%
def sees_the_future(model, window, t, seed=0):
    """True if changing the tokens after t changes any logit at positions <= t."""
    g = torch.Generator().manual_seed(seed)
    changed = window.clone()
    changed[:, t + 1 :] = torch.randint(
        vocab_size,
        changed[:, t + 1 :].shape,
        generator=g,
    )
    with torch.no_grad():
        before = model(window.to(device)).logits  # (1, L, V)
        after = model(changed.to(device)).logits
    prefix_same = torch.allclose(
        before[:, : t + 1],
        after[:, : t + 1],
        atol=1e-5,
        rtol=0,
    )
    rest_differs = not torch.allclose(before[:, t + 1 :], after[:, t + 1 :])
    assert rest_differs, "the change should at least affect the later positions"
    return not prefix_same


tok_ids = torch.tensor([tok.encode(val_text[: config.max_len])])  # (1, max_len)
for t in (0, config.max_len // 3, config.max_len - 4):
    assert not sees_the_future(untrained, tok_ids, t)
with torch.no_grad():
    weights = untrained(tok_ids.to(device), need_weights=True).attentions
# no weight on later tokens
assert all(bool((w.triu(diagonal=1) == 0).all()) for w in weights)
no_weight = "no weight above the diagonal"
print("positions 0..t are unchanged when tokens after t change;")
print(no_weight)

# %% [markdown]
# (train-lm)=
# ## Training
#
# `attnbook.train.train_char_lm` draws random windows of
# {glue:text}`max_len` characters from the training text, trains with the
# book's loop and measures the validation loss on every character of the
# held-out text at regular intervals. The budget is a number of steps, not of
# seconds, so a slow or busy machine takes longer but trains the same model.
# (Another kind of processor, such as a GPU, adds up in a different order; its
# model can differ, and with it the numbers and samples below.)
# (When you run the chapter yourself, a progress bar shows the steps go by.)

# %%
LM_STEPS = 500
result = train_char_lm(
    seconds=None,
    steps=LM_STEPS,
    config=config,
    batch_size=32,
    eval_every=100,
    device=device,
)
model, history = result.model, result.history
val_loss = result.metrics["val_loss"]
print(
    f"{history.steps} steps in {history.seconds:.0f} s ({history.stopped_by} budget), ",
)
print(f"{history.tokens_per_second:,.0f} training tokens per second")
val_bits = val_loss / math.log(2)
print(f"validation loss {val_loss:.3f} nats/char = {val_bits:.3f} bits/char")
glue("val_loss", val_loss, display=False)
glue("val_bits", val_loss / math.log(2), display=False)
glue("lm_steps", history.steps, display=False)
glue("lm_seconds", history.seconds, display=False)
assert result.tokenizer == tok  # the recipe's tokenizer is ours

# %%
fig, ax = plt.subplots(figsize=(7, 3.8))
window = 20
smooth = torch.tensor(history.loss).unfold(0, min(window, len(history.loss)), 1).mean(1)
ax.plot(
    history.step[len(history.step) - len(smooth) :],
    smooth.numpy(),
    label="training (running mean)",
)
ax.plot(history.eval_step, history.metrics["val_loss"], "o-", label="validation")
ax.axhline(
    uniform_loss,
    color="grey",
    linestyle=":",
    label=f"uniform guess, ln {vocab_size}",
)
ax.axhline(
    unigram_loss,
    color="grey",
    linestyle="--",
    label="character frequencies only",
)
ax.set_xlabel("training step")
ax.set_ylabel("loss (nats per character)")
ax.set_title("Character language model on the pydoc text")
ax.legend()
plt.show()

# %% [markdown]
# The validation loss fell to {glue:text}`val_loss:.2f` nats per character
# ({glue:text}`val_bits:.2f` bits) after {glue:text}`lm_steps` steps
# ({glue:text}`lm_seconds:.0f` s here), far below the
# {glue:text}`unigram_loss:.2f` of a model that knows only character
# frequencies: it uses the characters before each position, and the samples
# below show what it picked up — common words, spelling patterns and some of
# Python's punctuation.
#
# For comparison, the library's benchmark (`benchmarks/train_models.py`)
# trains the longer-context model differently: not for a number of steps but
# for a fixed time (the `seconds` in its `goal`) on the reference machine, as
# many steps as fit, towards a goal of {glue:text}`lm_target` nats per
# character. Its record is printed below when the results file is part of your
# copy of the repository; `load average` says how busy that machine was.

# %%
print(describe_benchmark_run("char_lm"))  # benchmarks/train_models.py's record
target = 1.45  # nats/char: the benchmark's goal
if val_loss <= target:
    print(f"this run meets the {target} nats/char bar: {val_loss:.3f}")
else:
    short_of_bar = (
        f"this run reached {val_loss:.3f} nats/char, "
        f"above the benchmark's {target} bar: a smaller model, {history.steps} steps, "
        "to stay inside the chapter's time budget"
    )
    print(textwrap.fill(short_of_bar, width=76))
glue("lm_target", target, display=False)
if not fast_mode():
    # better than knowing only how common each character is
    assert val_loss < unigram_loss
    for t in (0, config.max_len // 2, config.max_len - 2):  # nor can the trained model
        assert not sees_the_future(model, tok_ids, t)

# %% [markdown]
# (sampling)=
# ## Generating text: temperature and top-k
#
# To write, the model runs on the text so far, turns the *last* position's
# logits into a distribution, draws a token, appends it, and repeats. Two
# knobs shape the draw. The **temperature** $T$ divides the logits before the
# softmax ({doc}`chapter 03 <03_softmax>`): $T < 1$ sharpens the distribution towards the most
# likely token, $T > 1$ flattens it, and $T \to 0$ becomes the arg-max,
# *greedy* decoding. **Top-$k$** keeps only the $k$ most likely tokens and
# renormalises, so that the long tail of unlikely characters is never drawn.
# Written out (`V` in the shape comments is the vocabulary size):


# %%
def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """One token per row from last-position logits (N, V)."""
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)  # (N, 1): greedy
    logits = logits.float() / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]  # (N, 1): the k-th largest
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = logits.softmax(dim=-1)  # (N, V)
    return torch.multinomial(probs.cpu(), 1, generator=generator).to(
        logits.device,
    )  # (N, 1)


@torch.no_grad()
def generate(
    model,
    prompt,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    generator=None,
):
    """Sample a continuation, feeding the whole sequence at every step (no cache)."""
    tokens = prompt  # (N, L)
    for _ in range(max_new_tokens):
        logits = model(tokens[:, -model.config.max_len :]).logits  # (N, L, V)
        tokens = torch.cat(
            [tokens, sample_next(logits[:, -1], temperature, top_k, generator)],
            1,
        )
    return tokens


prompt = torch.tensor([tok.encode("The ")], device=device)  # (1, 4)
ours = generate(model, prompt, 60, 0.8, 10, torch.Generator().manual_seed(1))
# use_cache=False: the same arithmetic as our loop (cache: below)
theirs = model.generate(
    prompt,
    60,
    temperature=0.8,
    top_k=10,
    generator=torch.Generator().manual_seed(1),
    use_cache=False,
)
assert torch.equal(ours, theirs)
print(repr(tok.decode(ours[0])))
print("our loop draws exactly the tokens of DecoderOnly.generate")

# %% [markdown]
# Our loop and `DecoderOnly.generate` draw the same tokens from the same
# random generator; from here on we use the library. First, what the knobs do
# to one distribution: the next character after a prompt, at three
# temperatures. Compare the bars from left to right: the same ten
# characters, with the probability concentrated on the top few at the low
# temperature and spread out at the high one (the entropy in each title
# grows).


# %%
def show_char(c):
    """A visible label for a character: spaces and newlines would vanish."""
    return {" ": "␣", "\n": "\\n", "\t": "\\t"}.get(c, c)


context = "Return the "
with torch.no_grad():
    context_ids = torch.tensor([tok.encode(context)], device=device)
    logits = model(context_ids).logits[0, -1].cpu()
fig, axes = plt.subplots(1, 3, figsize=(8.5, 3.4), layout="constrained", sharey=True)
for ax, temperature in zip(axes, (0.5, 1.0, 2.0), strict=True):
    probs = (logits / temperature).softmax(-1)
    top = probs.topk(10)
    labels = [show_char(tok.itos[int(i)]) for i in top.indices]
    ax.bar(labels, top.values.numpy(), color="#3b75af")
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum().item()
    ax.set_title(f"T = {temperature}\nentropy {entropy:.2f} nats")
axes[0].set_ylabel("probability")
fig.supxlabel(f"next character after {context!r}")
plt.show()

# %% [markdown]
# Now whole samples. Besides reading them, we measure two things for each
# setting over a longer sample: the share of its words (runs of letters) that
# occur in the training text, a rough test of spelling, and the share of its
# words that are distinct, a test of repetition.


# %%
train_words = set("".join(c if c.isalpha() else " " for c in train_text).split())


def word_stats(text):
    words = "".join(c if c.isalpha() else " " for c in text).split()
    real = sum(w in train_words for w in words) / max(1, len(words))
    distinct = len(set(words)) / max(1, len(words))
    return real, distinct


settings = [
    ("greedy (T = 0)", dict(temperature=0.0)),
    ("T = 0.5", dict(temperature=0.5)),
    ("T = 1.0", dict(temperature=1.0)),
    ("T = 1.5", dict(temperature=1.5)),
    ("T = 1.0, top-k = 5", dict(temperature=1.0, top_k=5)),
]
sample_len = 40 if fast_mode() else 300
# one batch of 4 samples per setting: steadier numbers at almost no cost
num_samples = 4
prompts = prompt.expand(num_samples, -1)  # (4, 4): the same prompt four times
stats = {}
for name, knobs in settings:
    out = model.generate(
        prompts,
        sample_len,
        generator=torch.Generator().manual_seed(0),
        **knobs,
    )
    texts = [tok.decode(row) for row in out]
    per_sample = torch.tensor([word_stats(t) for t in texts])  # (4, 2)
    stats[name] = per_sample.mean(0).tolist()  # averaged over the samples
    real, distinct = stats[name]
    print(f"--- {name}: real words {real:.0%}, distinct words {distinct:.0%}")
    for line in texts[0][:240].splitlines():  # wrapped to fit the page
        wrapped = textwrap.fill(line, width=76, subsequent_indent="  ")
        print(wrapped if line.strip() else "")
glue("real_greedy", stats["greedy (T = 0)"][0], display=False)
glue("distinct_greedy", stats["greedy (T = 0)"][1], display=False)
glue("real_hot", stats["T = 1.5"][0], display=False)
glue("real_cool", stats["T = 0.5"][0], display=False)
glue("real_topk", stats["T = 1.0, top-k = 5"][0], display=False)
glue("real_t1", stats["T = 1.0"][0], display=False)
glue("sample_len", sample_len, display=False)
if not fast_mode():  # the trends the text describes
    assert stats["greedy (T = 0)"][1] < stats["T = 1.0"][1]  # greedy repeats itself
    assert stats["T = 0.5"][0] > stats["T = 1.5"][0]  # hotter, fewer real words
    assert stats["T = 1.0, top-k = 5"][0] > stats["T = 1.0"][0]  # top-k cuts the tail

# %% [markdown]
# Greedy decoding repeats itself: {glue:text}`real_greedy:.0%` of its words
# are real, but only {glue:text}`distinct_greedy:.0%` are distinct, because
# the same context always leads to the same choice and it soon runs in a
# loop. Sampling breaks the loops; as the temperature rises the text grows
# more varied and less English — {glue:text}`real_cool:.0%` real words at
# $T = 0.5$, {glue:text}`real_hot:.0%` at $T = 1.5$. Top-$k$ keeps the variety of sampling
# while cutting the tail of unlikely characters: at $T = 1$ it lifts the
# share of real words from {glue:text}`real_t1:.0%` to
# {glue:text}`real_topk:.0%`. (Each number is the mean over four samples of
# {glue:text}`sample_len` characters; other seeds give other samples.)

# %% [markdown]
# ```{warning}
# The model has seen only windows of {glue:text}`max_len` characters, and its
# learned position table has exactly that many rows. A longer text does not
# fit: `generate` keeps the last {glue:text}`max_len` tokens as the window
# and forgets the rest. Asking the model itself for a longer input is refused
# with a clear error rather than silently read with made-up positions.
# ```

# %%
too_long = torch.zeros(1, config.max_len + 1, dtype=torch.long, device=device)
try:
    model(too_long)
except ValueError as error:
    print(textwrap.fill(f"ValueError: {error}", width=76, subsequent_indent="    "))

# %% [markdown]
# (kv-cache)=
# ## The key/value cache
#
# Look at the loop in `generate` above: to produce token $t+1$ it runs the
# model on all $t+1$ tokens so far, although only the last position's output
# is used — and everything at the earlier positions was already computed at
# the previous step. Because the model is causal, those earlier positions
# cannot change when a token is appended. What the new token needs from them
# is only their **keys and values**, in every layer. So we keep them: a
# *KV cache* stores each layer's keys and values, and each step runs the
# model on the *one* new token, whose query attends to the cached keys plus
# its own.
#
# Per generated token that turns a pass over $t$ positions into a pass over
# one (the attention still reads all $t$ cached keys, but the projections
# and feed-forward networks, most of the work, run once). The price is
# memory: two tensors of shape `(N, H, t, d_k)` per layer, with
# $d_k = E/H$. First the check
# that it is exact — feeding tokens one at a time through a cache gives the
# same logits as one pass over the whole sequence:

# %%
sequence = torch.tensor([tok.encode(val_text[:48])], device=device)  # (1, 48)
with torch.no_grad():
    full = model(sequence).logits  # (1, 48, V)
    cache = model.new_cache()  # one KVCache per layer
    positions = range(sequence.size(1))
    steps = [model(sequence[:, t : t + 1], cache=cache).logits for t in positions]
stepwise = torch.cat(steps, dim=1)  # (1, 48, V)
torch.testing.assert_close(stepwise, full, atol=1e-4, rtol=1e-4)
cache_numbers = sum(c.key.numel() + c.value.numel() for c in cache)
key_shape = tuple(cache[0].key.shape)
print(
    f"cache after 48 tokens: {len(cache)} layers x (keys, values) of shape {key_shape}",
)
print(f"= {cache_numbers:,} numbers ({cache_numbers * 4 / 1024:.0f} KiB in float32)")
assert len(cache[0]) == sequence.size(1)

# %% [markdown]
# Now the speed. We generate greedily (so both runs must produce the same
# tokens) from a one-token prompt, with and without the cache, for several
# lengths, and take the median time of three runs each. Speed depends on the
# size of a model, not on what it has learned, so besides our trained model
# we time a larger untrained one, where the cache should matter more: width
# {glue:text}`large_width`, {glue:text}`large_layers` layers, a context of
# {glue:text}`large_context` tokens.


# %%
def generation_speed(m, lengths, repeats=3):
    """Tokens per second of greedy generation, with and without the KV cache."""
    start = torch.ones(1, 1, dtype=torch.long, device=device)  # any one-token prompt
    m.generate(
        start,
        4,
        do_sample=False,
    )  # a warm-up call: first calls pay one-off costs
    speed = {True: [], False: []}
    for n_new in lengths:
        outputs = {}
        for use_cache in (True, False):
            times = []
            for _ in range(repeats):
                began = time.perf_counter()
                outputs[use_cache] = m.generate(
                    start,
                    n_new,
                    do_sample=False,
                    use_cache=use_cache,
                )
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - began)
            speed[use_cache].append(n_new / sorted(times)[len(times) // 2])
        assert torch.equal(outputs[True], outputs[False])  # the same tokens either way
    return speed


larger_config = dataclasses.replace(
    preset,
    embed_dim=256,
    num_heads=4,
    num_layers=4,
    dim_feedforward=1024,
    max_len=128,
)
torch.manual_seed(0)
larger = DecoderOnly(larger_config).to(device).eval()
timed = {
    f"this chapter's model ({untrained.num_parameters() / 1e6:.2f} M parameters)": (
        model,
        [
            8,
            32,
            config.max_len - 1,
        ],  # stay inside the context, where the cache is reused
    ),
    f"untrained, width 256, context 128 ({larger.num_parameters() / 1e6:.2f} M)": (
        larger,
        [16, 64, larger_config.max_len - 1],
    ),
}
speeds = {}
for name, (m, lengths) in timed.items():
    speeds[name] = generation_speed(m, lengths)
    print(f"{name}:")
    with_cache, without = speeds[name][True], speeds[name][False]
    for n_new, fast, slow in zip(lengths, with_cache, without, strict=True):
        print(
            f"  {n_new:3d} tokens: {fast:6,.0f} tokens/s with the cache, "
            f"{slow:6,.0f} without -> {fast / slow:.1f}x"
        )
(small_name, large_name) = list(timed)
small_speedup = speeds[small_name][True][-1] / speeds[small_name][False][-1]
large_speedup = speeds[large_name][True][-1] / speeds[large_name][False][-1]
large_short = speeds[large_name][True][0] / speeds[large_name][False][0]


def speed_words(ratio):
    """Words for the text: how generation with the cache compares with without."""
    if ratio >= 1.1:
        return f"{ratio:.1f} times faster"
    if ratio <= 0.9:
        return f"slower ({ratio:.1f} times the speed)"
    return f"about as fast ({ratio:.1f} times the speed)"


glue("small_speedup", small_speedup, display=False)
glue("small_speed_words", speed_words(small_speedup), display=False)
glue("large_speed_words", speed_words(large_speedup), display=False)
glue("large_short_words", speed_words(large_short), display=False)
glue("small_tokens", config.max_len - 1, display=False)
glue("large_speedup", large_speedup, display=False)
glue("large_tokens", larger_config.max_len - 1, display=False)
glue("large_short", large_short, display=False)
glue("large_short_tokens", timed[large_name][1][0], display=False)
glue("large_width", larger_config.embed_dim, display=False)
glue("large_layers", larger_config.num_layers, display=False)
glue("large_context", larger_config.max_len, display=False)

# %%
fig, axes = plt.subplots(2, 1, figsize=(7.5, 6.6), layout="constrained")
for ax, (name, (_, lengths)) in zip(axes, timed.items(), strict=True):
    ax.plot(lengths, speeds[name][True], "o-", label="with the KV cache")
    ax.plot(
        lengths,
        speeds[name][False],
        "s-",
        label="without (whole sequence every step)",
    )
    ax.set_xlabel("tokens generated")
    ax.set_ylabel("tokens per second (median of 3)")
    ax.set_ylim(bottom=0)
    ax.set_title(name, fontsize=11)
axes[0].legend()
fig.suptitle("Greedy generation speed")
plt.show()

# %% [markdown]
# Both runs produce the same tokens (the cell checks it). In each panel the
# gap between the two curves is the cache's gain. For the larger model
# generating {glue:text}`large_tokens` tokens, generation with the cache is
# {glue:text}`large_speed_words` here, and {glue:text}`large_short_words`
# for {glue:text}`large_short_tokens` tokens. In principle the gain grows with
# the length: without a cache step $t$ redoes work proportional to $t$, so
# $n$ tokens cost $\propto n^2$, while with it every step costs about the
# same (plus an attention over the cache that grows slowly). At these short
# lengths that trend is easily hidden by fixed costs and timing noise, so the
# two numbers may come out in either order. For our small trained model, at
# {glue:text}`small_tokens` tokens, the cache makes generation
# {glue:text}`small_speed_words`: its steps are so cheap that fixed costs
# (Python, launching each operation) take a large share of each step, and
# the cache cannot remove those. On a GPU, which does the arithmetic of such
# small models very fast, the fixed costs weigh even more, and at these sizes
# the cache may gain nothing at all. Once the arithmetic outweighs the fixed
# costs, the larger the model and the longer the text, the more the cache
# matters.
#
# ```{warning}
# A cache is only valid while the positions of the cached tokens stay where
# they were. With learned absolute positions, as here, sliding the window
# past the context moves every token to a new position, so the cache must be
# rebuilt; `generate` does so (it stays correct, but loses the speed-up
# beyond {glue:text}`max_len` tokens).
# ```
#
# ## The trained model in the AttentionMap
#
# The attention of every layer and head over a stretch of validation text.
# Every map is lower-triangular: a character only looks back. Select a
# character to list where it looks, and go through the heads: look for
# heads that attend to the character just before, and for heads that
# attend to the previous space or the start of the current word.

# %%
snippet = val_text[1000:1064]
snippet_ids = torch.tensor([tok.encode(snippet)], device=device)
with torch.no_grad():
    attentions = model(snippet_ids, need_weights=True).attentions
snippet_weights = torch.stack([w[0] for w in attentions]).cpu()  # (layers, H, L, L)
assert bool((snippet_weights.triu(diagonal=1) == 0).all())
AttentionMap(
    snippet_weights,
    tokens=[show_char(c) for c in snippet],
    query_index=len(snippet) - 1,
)

# %% [markdown]
# ## Summary
#
# - A decoder-only model predicts token $t+1$ at every position $t$; the
#   causal mask means nothing after $t$ can influence that prediction, which
#   we checked by changing the future and watching the past stay put.
# - Trained for {glue:text}`lm_steps` steps on Python's help pages, our
#   character model reaches {glue:text}`val_loss:.2f` nats per character on
#   held-out text.
# - Generation is a loop: logits of the last position, temperature, top-$k$,
#   a draw, append. In our samples greedy repeated itself, high
#   temperatures misspelled, and top-$k$ trimmed the tail.
# - The {term}`KV cache` keeps each layer's keys and values so every step
#   processes one token: the same output and, for a model of width
#   {glue:text}`large_width` generating {glue:text}`large_tokens` tokens,
#   generation {glue:text}`large_speed_words` here. Its gain grows with the
#   model and the text, once the arithmetic outweighs the fixed costs.
#
# ## Exercises
#
# Each starting point below is wrong on purpose. Run the check, read what it
# says, fix the function, run again. Solutions are under the toggles.
#
# ### Exercise 1: top-k filtering
#
# Write `top_k_filter(logits, k)` for logits of shape `(N, V)`, with $V$ the
# vocabulary size: keep each
# row's `k` largest logits and set the others to `-inf`.


# %%
def top_k_filter(logits, k):
    kth = logits.topk(k, dim=-1).values[:, -1:]
    return torch.where(logits >= kth, logits, torch.zeros_like(logits))  # your turn


check_top_k_filter(top_k_filter)


# %% tags=["hide-input"]
def top_k_filter(logits, k):
    kth = logits.topk(k, dim=-1).values[:, -1:]  # (N, 1)
    return logits.masked_fill(logits < kth, float("-inf"))


assert check_top_k_filter(top_k_filter)

# %% [markdown]
# ### Exercise 2: the language-model loss
#
# Write `next_token_loss(logits, ids)`, where `logits = model(ids).logits`
# has shape `(N, L, V)`: the mean cross-entropy of each position's prediction
# against the token that follows it.


# %%
def next_token_loss(logits, ids):
    return F.cross_entropy(logits.flatten(0, 1), ids.flatten())  # your turn


check_next_token_loss(next_token_loss)


# %% tags=["hide-input"]
def next_token_loss(logits, ids):
    predictions = logits[:, :-1].flatten(0, 1)  # (N * (L - 1), V): positions 0 .. L-2
    targets = ids[:, 1:].flatten()  # (N * (L - 1),): tokens 1 .. L-1
    return F.cross_entropy(predictions, targets)


assert check_next_token_loss(next_token_loss)
# window_ids: 4 windows
window_ids = result.data["val"][: 4 * config.max_len].reshape(4, -1).to(device)
with torch.no_grad():
    window_loss = next_token_loss(model(window_ids).logits, window_ids)
    print(f"on 4 validation windows: {window_loss:.3f}")

# %% [markdown]
# ### Exercise 3: greedy generation
#
# Write `greedy_generate(model, prompt, max_new_tokens)` without
# `model.generate`: it must return the prompt followed by the new tokens,
# exactly as `model.generate(prompt, max_new_tokens, do_sample=False)`.


# %%
def greedy_generate(model, prompt, max_new_tokens):
    tokens = prompt
    for _ in range(max_new_tokens):
        logits = model(tokens).logits
        tokens = torch.cat(
            [tokens, logits[:, 0].argmax(-1, keepdim=True)],
            dim=1,
        )  # your turn
    return tokens


check_greedy_generate(greedy_generate)


# %% tags=["hide-input"]
@torch.no_grad()
def greedy_generate(model, prompt, max_new_tokens):
    tokens = prompt  # (N, L)
    for _ in range(max_new_tokens):
        logits = model(tokens).logits  # (N, L, V)
        next_token = logits[:, -1].argmax(-1, keepdim=True)  # (N, 1): the last position
        tokens = torch.cat([tokens, next_token], dim=1)
    return tokens


assert check_greedy_generate(greedy_generate)
