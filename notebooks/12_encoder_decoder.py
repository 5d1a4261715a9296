# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Encoder–decoder models (T5-style)
#
# The original transformer {cite}`vaswani2017attention` had two stacks. An
# **encoder** reads the whole input with bidirectional attention, like
# {doc}`chapter 10 <10_encoder_only>`'s model; a **decoder** writes the output one token at a time
# with causal attention, like {doc}`chapter 11 <11_decoder_only>`'s — and in every decoder block a
# third sublayer, **cross-attention**, lets each output position look at
# every input position ({doc}`chapter 06 <06_self_and_cross_attention>`). Translation systems, T5
# {cite}`raffel2020exploring` and speech recognisers are built this way: the
# input and the output are different sequences, of different lengths, and
# the decoder must find, at every step, the part of the input that matters
# now.
#
# Our translation task is small enough to check exactly: rewrite a date
# written the way people write it — "Wednesday 3rd of March 2021", "3/3/21",
# "03.03.2021" — as the ISO date 2021-03-03. We train a model, measure its
# exact-match accuracy on dates it has never seen, decode one step at a time,
# and look at the cross-attention to see the output digits find their input
# characters.

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
# - set up a sequence-to-sequence task and train an encoder–decoder with
#   *teacher forcing*;
# - measure exact-match accuracy on held-out dates, per input format;
# - decode greedily, step by step, and check it against the library;
# - read cross-attention maps, and measure how often an output digit's
#   attention lands on the input character it copies.

# %%
import dataclasses
from collections import defaultdict

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.ticker import PercentFormatter

from attnbook.data import (
    DATE_FORMATS,
    date_examples,
    date_split,
    date_tokenizer,
    shift_right,
)
from attnbook.data.dates import FIRST_DATE, LAST_DATE
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_exact_match,
    check_greedy_translate,
    check_teacher_forcing_input,
)
from attnbook.models import EncoderDecoder
from attnbook.notebook import glue
from attnbook.train import date_config, describe_benchmark_run, train_date_translator
from attnbook.viz import plot_heatmap, use_book_style
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
# ## The task: human dates to ISO dates
#
# `attnbook.data.date_examples` writes random dates between
# {glue:text}`first_year` and {glue:text}`last_year` in one of
# {glue:text}`num_formats` formats. The held-out split is by *date*:
# a fixed tenth of all calendar days never appears in training, so the test
# asks for dates the model has never seen in any spelling.

# %%
for name in list(DATE_FORMATS)[:8]:
    example = date_examples(1, "test", seed=0, formats=[name])[0]
    print(f"{name:>28}: {example.text:32} -> {example.iso}")
train_days, test_days = date_split()
assert not set(train_days) & set(test_days)
days = f"{len(train_days):,} training days, {len(test_days):,} held-out days"
print(f"... {len(DATE_FORMATS)} formats; {days}")
glue("num_formats", len(DATE_FORMATS), display=False)
glue("first_year", FIRST_DATE.year, display=False)
glue("last_year", LAST_DATE.year, display=False)

# %% [markdown]
# Both sides are characters, and they share one vocabulary. The output
# always has the ten characters of `YYYY-MM-DD` plus an end token `<eos>`;
# the input is short or long depending on its format (compare the examples
# above). Nothing lines up position by position: the
# year may come first or last, the month may be a number or a word, the
# weekday must be ignored and a two-digit year must become four digits.

# %%
tok = date_tokenizer()
example = date_examples(1, "test", seed=3, formats=["Weekday Dth of Month YYYY"])[0]
src = tok.encode(example.text)
tgt = tok.encode(example.iso, add_eos=True)
print(f"{tok.vocab_size} characters in the vocabulary")
print(f"source {example.text!r}: {len(src)} ids, the first 10:")
print(f"  {src[:10]} ...")
print(f"target {example.iso!r} + <eos>: {len(tgt)} ids:")
print(f"  {tgt}")
assert tok.decode(tgt) == example.iso and tgt[-1] == tok.eos_id

# %% [markdown]
# ## The model and teacher forcing
#
# `attnbook.models.EncoderDecoder` embeds both sides with one table, runs the
# source through a stack of encoder layers (bidirectional) and the target
# through a stack of `DecoderLayer`s: causal self-attention, then
# cross-attention whose queries come from the decoder and whose keys and
# values are the encoder's output, the *memory*. Its configuration,
# `attnbook.train.date_config()`, is the one the library's benchmark
# measures:

# %%
config = date_config()
print(type(config).__name__)
for field, value in dataclasses.asdict(config).items():
    print(f"{field:>21}: {value}")
untrained = EncoderDecoder(config).to(device).eval()
print(f"{untrained.num_parameters():,} parameters")

# %% [markdown]
# In training the decoder does not read its own guesses. It reads the
# *true* target shifted one place to the right, with `<bos>` in front, and
# at every position predicts the next true token — all positions at once, in
# one pass, thanks to the causal mask. This is **teacher forcing**. The
# shifted input for our example:

# %%
target = torch.tensor([tgt])  # (1, L)
decoder_input = shift_right(target, tok.bos_id)  # (1, L): <bos>, y_0 .. y_{L-2}
for t in range(target.size(1)):
    seen = tok.decode(decoder_input[0, : t + 1], skip_special=False)
    expected = tok.itos[int(target[0, t])]
    print(f"position {t:2d} reads {seen!r:22} -> must predict {expected!r}")
assert torch.equal(decoder_input[0, 1:], target[0, :-1])

# %% [markdown]
# The loss is the cross-entropy at every target position, padding ignored.
# Shapes, on a batch of $N$ sources of length $S$ and targets of length $L$
# (the letters of {doc}`../book/notation`): the decoder's logits are
# `(N, L, vocab)`, the encoder's memory `(N, S, E)`, and each decoder
# layer's cross-attention `(N, H, L, S)`: one row per output position, one
# column per input character.

# %%
batch_examples = date_examples(4, "train", seed=1)
src_batch = tok.encode_batch([e.text for e in batch_examples]).to(device)
tgt_batch = tok.encode_batch([e.iso for e in batch_examples], add_eos=True).to(device)
with torch.no_grad():
    out = untrained(
        src_batch.ids,
        shift_right(tgt_batch.ids, tok.bos_id),
        src_batch.padding_mask,
        need_weights=True,
    )
N, S = src_batch.ids.shape
L = tgt_batch.ids.size(1)
assert out.logits.shape == (N, L, tok.vocab_size)
assert out.cross_attentions[0].shape == (N, config.num_heads, L, S)
pad_columns = out.cross_attentions[0] * ~src_batch.padding_mask[:, None, None, :]
assert bool((pad_columns == 0).all())  # no output position looks at source padding
loss = F.cross_entropy(
    out.logits.flatten(0, 1),
    tgt_batch.ids.flatten(),
    ignore_index=tok.pad_id,
)
cross_shape = tuple(out.cross_attentions[0].shape)
print(f"logits {tuple(out.logits.shape)}, cross-attention {cross_shape}")
uniform = torch.log(torch.tensor(tok.vocab_size)).item()
print(f"loss before training {loss.item():.2f} (a uniform guess: {uniform:.2f})")

# %% [markdown]
# (train-dates)=
# ## Training
#
# `attnbook.train.train_date_translator` generates the examples, trains with
# teacher forcing and the book's loop, and measures the held-out **exact
# match** — the share of test inputs whose greedy translation is exactly the
# right ISO string, every character — at regular intervals. The budget is a
# number of steps, not of seconds, so a slow or busy machine takes longer but
# trains the same model. (Another kind of processor, such as a GPU, adds up in
# a different order; its model can differ, and with it the numbers below.)

# %%
DATE_STEPS = 1000
NUM_TEST = 2000
result = train_date_translator(
    seconds=None,
    steps=DATE_STEPS,
    num_test=NUM_TEST,
    eval_every=250,
    device=device,
)
model, history = result.model, result.history
exact = result.metrics["test_exact_match"]
print(f"{history.steps} steps in {history.seconds:.0f} s ({history.stopped_by} budget)")
print(f"held-out exact match: {exact:.2%} of {NUM_TEST} dates never seen in training")
glue("exact", exact, display=False)
glue("date_steps", history.steps, display=False)
glue("date_seconds", history.seconds, display=False)
glue("num_test", NUM_TEST, display=False)

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8.5, 3.6), layout="constrained")
ax_loss.semilogy(history.step, history.loss, linewidth=0.8)
ax_loss.set_xlabel("training step")
ax_loss.set_ylabel("training loss (log scale)")
ax_loss.set_title("Teacher-forced loss")
ax_acc.plot(history.eval_step, history.metrics["test_exact_match"], "o-")
ax_acc.set_xlabel("training step")
ax_acc.set_ylabel("held-out exact match")
ax_acc.set_ylim(0, 1.02)
ax_acc.set_title("Greedy translations exactly right")
plt.show()

# %% [markdown]
# The model translates {glue:text}`exact:.1%` of the held-out dates exactly
# right after {glue:text}`date_steps` steps ({glue:text}`date_seconds:.0f` s
# of training here).
#
# For comparison, the library's benchmark (`benchmarks/train_models.py`)
# trains the same recipe differently: not for a number of steps but for a
# fixed time (the `seconds` in its `goal`) on the reference machine, as many
# steps as fit, towards a goal of {glue:text}`date_target:.1%`. Its record is
# printed below when the results file is part of your copy of the repository;
# `load average` says how busy that machine was.

# %%
print(describe_benchmark_run("date_translator"))  # benchmarks/train_models.py's record
target = 0.995  # the benchmark's goal
if exact >= target:
    print(f"this run meets the {target:.1%} bar: {exact:.2%}")
else:
    print(
        f"this run reached {exact:.2%}, short of the {target:.1%} bar "
        f"after {history.steps} steps ({history.stopped_by} budget); "
        "the full benchmark trains longer"
    )
glue("date_target", target, display=False)

# %% [markdown]
# Exact match is strict: "2021-03-04" for "2021-03-03" counts as wrong, not
# as nine characters right out of ten. Which formats are hardest? We
# translate the test set once more and count per format. Formats with a
# two-digit year are a natural suspect: the model must add the century,
# which no character of the input shows. In the bar chart, the shortest bars
# (at the bottom) are the hardest formats; check whether they are the
# two-digit-year ones, and read the wrong translations printed below it.

# %%
test = result.data["test"]
with torch.no_grad():
    predicted_ids = model.generate(
        test["src"].to(device),
        11,
        tok.bos_id,
        tok.eos_id,
        test["src_mask"].to(device),
    )
predictions = tok.decode_batch(predicted_ids.cpu())
test_examples = date_examples(NUM_TEST, "test", seed=0)
assert [e.text for e in test_examples] == test["text"]  # the recipe's test set
per_format = defaultdict(list)
for ex, pred in zip(test_examples, predictions, strict=True):
    per_format[ex.format].append(pred == ex.iso)
format_accuracy = {name: sum(v) / len(v) for name, v in per_format.items()}
correct = sum(p == e.iso for p, e in zip(predictions, test_examples, strict=True))
assert abs(correct / NUM_TEST - exact) < 1e-9

order = sorted(format_accuracy, key=format_accuracy.get)
fig, ax = plt.subplots(figsize=(7, 4.6), layout="constrained")
bars = ax.barh(order, [format_accuracy[n] for n in order], color="#3b75af")
ax.bar_label(
    bars,
    labels=[f"{format_accuracy[n]:.1%}" for n in order],
    padding=2,
    fontsize=9,
)
ax.set_xlabel("held-out exact match")
ax.set_xlim(0, 1.12)  # room on the right for the labels; a share never passes 100 %
ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
ax.set_title("Exact match per input format")
plt.show()
print(f"hardest format in this run: {order[0]} ({format_accuracy[order[0]]:.1%})")
graded = zip(test_examples, predictions, strict=True)
wrong = [(e.text, e.iso, p) for e, p in graded if p != e.iso]
print(f"{len(wrong)} of {NUM_TEST} wrong; the first few:")
for text, iso, pred in wrong[:6]:
    print(f"  {text:32} -> {pred!r:14} (right: {iso})")

# %% [markdown]
# (greedy-steps)=
# ## Greedy decoding, step by step
#
# At test time there is no true target to feed. The decoder starts from
# `<bos>`, and at every step the most likely next character is chosen and
# appended to its input, until it writes `<eos>`. The encoder runs *once*;
# its memory is reused by every step. Here is every step for one held-out
# date, with the three most likely characters and their probabilities:

# %%
example = next(e for e in test_examples if e.format == "Weekday Dth of Month YYYY")
src_ids = torch.tensor([tok.encode(example.text)], device=device)  # (1, S)
with torch.no_grad():
    memory, _ = model.encode(src_ids)  # (1, S, E), computed once
    decoded = torch.tensor([[tok.bos_id]], device=device)  # (1, 1)
    print("step: input so far, the three most likely next characters -> choice")
    for step in range(11):  # ten characters and <eos>
        # logits: (1, vocab): the last position
        logits = model.decode(decoded, memory).logits[:, -1]
        probs = logits.softmax(-1)[0]
        top = probs.topk(3)
        choice = int(top.indices[0])
        top_pairs = zip(top.values, top.indices, strict=True)
        candidates = "  ".join(f"{tok.itos[int(i)]!r} {p:.3f}" for p, i in top_pairs)
        so_far = tok.decode(decoded[0], skip_special=False)
        print(f"step {step:2d}: {so_far!r:17}  {candidates}  -> {tok.itos[choice]!r}")
        decoded = torch.cat([decoded, torch.tensor([[choice]], device=device)], dim=1)
        if choice == tok.eos_id:
            break
ours = tok.decode(decoded[0])
library = tok.decode(model.generate(src_ids, 11, tok.bos_id, tok.eos_id)[0])
print(f"{example.text!r} -> {ours!r} (right answer {example.iso!r})")
assert ours == library  # the same as EncoderDecoder.generate

# %% [markdown]
# Our loop and `EncoderDecoder.generate` agree. (The library also keeps a
# key/value cache for the decoder's self-attention, {doc}`chapter 11 <11_decoder_only>`, and stops
# early once every row of a batch has written `<eos>`.)
#
# ```{warning}
# Teacher forcing hides a gap between training and use: in training the
# decoder always reads correct previous characters, at test time it reads
# its own, and one early mistake can derail the rest. That is why we measure
# the *generated* translations (exact match), not the teacher-forced loss or
# per-character accuracy, which can look excellent while whole translations
# fail.
# ```
#
# (cross-attention-maps)=
# ## Where the decoder looks: cross-attention
#
# Every decoder layer has a cross-attention map of shape `(L, S)` per head:
# row $t$ belongs to the position that *predicts* output character $t$, and
# its weights say which input characters it reads. We feed each example's
# translation back with teacher forcing and average the heads of each layer.


# %%
def cross_maps(text, iso):
    """Cross-attention (layers, H, L, S) for one example, fed its right translation."""
    src = torch.tensor([tok.encode(text)], device=device)
    tgt = torch.tensor([tok.encode(iso, add_eos=True)], device=device)
    with torch.no_grad():
        out = model(src, shift_right(tgt, tok.bos_id), need_weights=True)
    return torch.stack([w[0] for w in out.cross_attentions]).cpu()  # (layers, H, L, S)


shown = [
    next(e for e in test_examples if e.format == name)
    for name in ("DD.MM.YYYY", "Month D, YYYY", "M/D/YY")
]
last = config.num_decoder_layers - 1
fig, axes = plt.subplots(
    len(shown),
    1,
    figsize=(8, 3.3 * len(shown)),
    layout="constrained",
)
for ax, ex in zip(axes, shown, strict=True):
    maps = cross_maps(ex.text, ex.iso)
    plot_heatmap(
        maps[last].mean(0), list(ex.iso) + ["<eos>"], list(ex.text), ax=ax,
        annotate=False, title=f"{ex.text!r}", xlabel="input character (key)",
        ylabel="output character (query)", vmin=0, colorbar=False,
    )  # fmt: skip
fig.suptitle(f"Cross-attention of decoder layer {last}, averaged over heads")
plt.show()

# %% [markdown]
# Each map has one row per output character and one column per input
# character. Look for bright cells on the characters being copied. Where the
# day's digits, the month's and the last digits of the year each read the
# input character they copy, in a new order, the model has learned to
# *reorder*: an output row finds its source by content, not by position
# (below we count how often that happens). Where a digit is inferred rather
# than copied, its row looks elsewhere or spreads out: the century "19" or
# "20" (implied by the last two digits of the year, and absent from a
# two-digit year like "61"), and the month when it is a word ("March").
#
# A picture of three examples could still be luck. We measure: for every
# held-out date whose format states digits literally, we know which input
# character each output digit copies (the year's four digits in every
# four-digit-year format; day and month too in the numeric formats), and we
# count how often the top cross-attention weight of that output row lands on
# exactly that character — for every layer and head.


# %%
def copied_digits(ex):
    """{output position: input position} for the copied digits.

    These are the digits that the output copies from the input.
    """
    pairs = {}
    if ex.format == "YYYYMMDD":
        return {0: 0, 1: 1, 2: 2, 3: 3, 5: 4, 6: 5, 8: 6, 9: 7}
    if ex.text[-4:] == ex.iso[:4]:  # a four-digit year at the end
        start = len(ex.text) - 4
        pairs.update({k: start + k for k in range(4)})
    if ex.format == "DD.MM.YYYY":
        pairs.update({5: 3, 6: 4, 8: 0, 9: 1})
    if ex.format == "MM/DD/YYYY":
        pairs.update({5: 0, 6: 1, 8: 3, 9: 4})
    return pairs


for ex in test_examples[:200]:  # the mapping points at equal characters
    assert all(ex.iso[o] == ex.text[i] for o, i in copied_digits(ex).items())

with torch.no_grad():  # every test date at once, each fed its right translation
    cross = []
    for start in range(0, NUM_TEST, 500):
        part = slice(start, start + 500)
        out = model(
            test["src"][part].to(device),
            shift_right(test["tgt"][part].to(device), tok.bos_id),
            test["src_mask"][part].to(device),
            need_weights=True,
        )
        cross.append(
            torch.stack(out.cross_attentions, dim=1).cpu(),
        )  # (B, layers, H, L, S)
    cross = torch.cat(cross)  # (N, layers, H, L, S)

hits = torch.zeros(config.num_decoder_layers, config.num_heads)
hits_mean = torch.zeros(config.num_decoder_layers)
count, chance_sum = 0, 0.0
for n, ex in enumerate(test_examples):
    pairs = copied_digits(ex)
    if not pairs:
        continue
    rows = cross[n][:, :, list(pairs)]  # (layers, H, digits, S)
    target = torch.tensor(list(pairs.values()))  # (digits,)
    hits += (rows.argmax(-1) == target).float().sum(-1)  # (layers, H)
    hits_mean += (rows.mean(1).argmax(-1) == target).float().sum(-1)  # (layers,)
    count += len(pairs)
    chance_sum += len(pairs) / len(ex.text)  # a uniformly random input character
hits, hits_mean = hits / count, hits_mean / count
chance = chance_sum / count
print(f"chance (a random input character): {chance:.1%}")
num_dates = sum(bool(copied_digits(e)) for e in test_examples)
print(f"{count:,} copied digits in {num_dates} held-out dates")
best = divmod(int(hits.argmax()), config.num_heads)
on_copied = f"top weight on the copied character {hits.max():.1%}"
print(f"best head: layer {best[0]}, head {best[1]}: {on_copied}")
for layer in range(config.num_decoder_layers):
    print(f"layer {layer}, heads averaged: {hits_mean[layer]:.1%}")
glue("align_best", hits.max().item(), display=False)
glue("align_layer", best[0], display=False)
glue("align_head", best[1], display=False)
glue("align_count", count, display=False)
glue("align_chance", chance, display=False)
# the first map above: last decoder layer, heads averaged
first_rows = cross_maps(shown[0].text, shown[0].iso)[last].mean(0)  # (L, S)
first_pairs = copied_digits(shown[0])
first_hits = sum(int(first_rows[o].argmax()) == i for o, i in first_pairs.items())
print(f"first map: {first_hits} of {len(first_pairs)} copied digits on their source")
glue("first_map_hits", first_hits, display=False)
glue("first_map_copied", len(first_pairs), display=False)

# %%
fig, ax = plt.subplots(figsize=(5, 2.8))
plot_heatmap(
    hits, [f"layer {i}" for i in range(config.num_decoder_layers)],
    [f"head {h}" for h in range(config.num_heads)], ax=ax, fmt="{:.0%}", vmin=0, vmax=1,
    xlabel="head", ylabel="decoder layer", title="Top weight on the copied input digit",
)  # fmt: skip
plt.show()

# %% [markdown]
# Over {glue:text}`align_count` copied digits, the best head — layer
# {glue:text}`align_layer`, head {glue:text}`align_head` — puts its largest
# weight exactly on the input digit being copied {glue:text}`align_best:.0%`
# of the time, against {glue:text}`align_chance:.0%` for a randomly chosen
# input character. In the first map above (last layer, heads averaged),
# {glue:text}`first_map_hits` of the {glue:text}`first_map_copied` copied digits
# put their largest weight on the character they copy. The alignment is not
# something we built in: no loss term asks for it. It most likely appears
# because reading the right character is the easiest way to write the right
# digit — the same soft alignment that made attention famous in machine
# translation {cite}`bahdanau2014neural`.
#
# ## The trained model in the AttentionMap
#
# All cross-attention maps of one translation: rows are output characters,
# columns input characters. Pick a layer and a head and select an output
# character to list the input characters it reads.

# %%
ex = shown[0]
maps = cross_maps(ex.text, ex.iso)
AttentionMap(
    maps,
    tokens=list(ex.iso) + ["<eos>"],
    key_tokens=list(ex.text),
    layer=best[0],
    head=best[1],
    query_index=0,
)

# %% [markdown]
# ## Summary
#
# - An encoder–decoder reads the input with a bidirectional encoder and
#   writes the output with a causal decoder whose cross-attention queries
#   the encoder's memory, `(N, H, L, S)` per layer.
# - Training uses teacher forcing: the decoder reads `<bos>` and the true
#   target shifted right, and predicts every next token in one pass.
# - Generation is greedy here: encode once, then choose and append the most
#   likely token until `<eos>`.
# - Trained for {glue:text}`date_steps` steps, our model translates
#   {glue:text}`exact:.1%` of held-out dates exactly.
# - Its cross-attention aligns output digits with the input digits they
#   copy, reordering them as each format requires — measured over the test
#   set, not just seen in one map.
#
# ## Exercises
#
# Each starting point below is wrong on purpose. Run the check, read what it
# says, fix the function, run again. Solutions are under the toggles.
#
# ### Exercise 1: the decoder's input in training
#
# Write `teacher_forcing_input(tgt, bos_id)` for targets of shape `(N, L)`:
# `<bos>` followed by every target token but the last, as in the shifted
# input printed above. Do not use `shift_right`.


# %%
def teacher_forcing_input(tgt, bos_id):
    return tgt  # your turn


check_teacher_forcing_input(teacher_forcing_input)


# %% tags=["hide-input"]
def teacher_forcing_input(tgt, bos_id):
    bos = torch.full_like(tgt[:, :1], bos_id)  # (N, 1)
    return torch.cat([bos, tgt[:, :-1]], dim=1)  # (N, L)


assert check_teacher_forcing_input(teacher_forcing_input)

# %% [markdown]
# ### Exercise 2: greedy translation
#
# Write `greedy_translate(model, src_ids, src_padding_mask, bos_id, eos_id,
# max_new_tokens)` with `model.encode` and `model.decode`, returning the
# generated ids without `<bos>`. Then translate your birthday.


# %%
def greedy_translate(model, src_ids, src_padding_mask, bos_id, eos_id, max_new_tokens):
    memory, _ = model.encode(src_ids, src_padding_mask)
    tokens = torch.full((src_ids.size(0), 1), bos_id, device=src_ids.device)
    for _ in range(max_new_tokens):
        logits = model.decode(tokens, memory, src_padding_mask).logits
        tokens = torch.cat(
            [tokens, logits[:, 0].argmax(-1, keepdim=True)],
            dim=1,
        )  # your turn
    return tokens[:, 1:]


check_greedy_translate(greedy_translate)


# %% tags=["hide-input"]
@torch.no_grad()
def greedy_translate(model, src_ids, src_padding_mask, bos_id, eos_id, max_new_tokens):
    memory, _ = model.encode(src_ids, src_padding_mask)  # (N, S, E), once
    tokens = torch.full((src_ids.size(0), 1), bos_id, device=src_ids.device)  # (N, 1)
    for _ in range(max_new_tokens):
        logits = model.decode(tokens, memory, src_padding_mask).logits  # (N, t, vocab)
        next_token = logits[:, -1].argmax(-1, keepdim=True)  # (N, 1): the last position
        tokens = torch.cat([tokens, next_token], dim=1)
        if bool((tokens == eos_id).any(1).all()):
            break
    return tokens[:, 1:]


assert check_greedy_translate(greedy_translate)
birthday = tok.encode_batch(
    ["July 20, 1969", "20 July 2001", "Friday 13th of October 2023"],
).to(device)
out = greedy_translate(
    model,
    birthday.ids,
    birthday.padding_mask,
    tok.bos_id,
    tok.eos_id,
    11,
)
print(tok.decode_batch(out.cpu()))

# %% [markdown]
# (1969 is outside the range the model was trained on —
# {glue:text}`first_year` to {glue:text}`last_year`: what does it do?)
#
# ### Exercise 3: exact match
#
# Write `exact_match(predictions, targets)` for two lists of strings: the
# share of predictions that equal their target exactly.


# %%
def exact_match(predictions, targets):
    right = sum(
        a == b
        for p, t in zip(predictions, targets, strict=True)
        for a, b in zip(p, t, strict=False)
    )  # your turn
    return right / sum(len(t) for t in targets)


check_exact_match(exact_match)


# %% tags=["hide-input"]
def exact_match(predictions, targets):
    return sum(p == t for p, t in zip(predictions, targets, strict=True)) / len(targets)


assert check_exact_match(exact_match)
assert abs(exact_match(predictions, [e.iso for e in test_examples]) - exact) < 1e-9
