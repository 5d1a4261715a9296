# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Applications: answering, translating, summarising
#
# The same few pieces, attention, feed-forward layers, an encoder, a decoder, serve
# very different tasks. This chapter trains three small models on tasks generated
# by `attnbook.data` and measures each: answering questions about a short story,
# translating a sentence into another word order, and writing a headline for a
# story. For each we look at what attention does in the trained model.

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
# - frame reading comprehension as *pointing*: a model scores every word of the
#   story and the best-scoring word is the answer;
# - train an encoder–decoder to translate and read the alignment, including changes
#   of word order, from its cross-attention;
# - train a model to write a headline for a story and check that its attention
#   selects the sentence that matters;
# - say what attention contributes to each of these tasks, with numbers.

# %%
import dataclasses
import textwrap
from collections import Counter

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Markdown
from torch import nn

from attnbook.data import (
    headline_examples,
    qa_examples,
    sample_batch,
    shift_right,
    toyworld_tokenizer,
    word_order_examples,
)
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import check_alignment, check_best_span, check_pointer_in_context
from attnbook.models import EncoderDecoder, EncoderDecoderConfig, EncoderOnly, EncoderOnlyConfig
from attnbook.notebook import fast_mode, glue
from attnbook.train import fit
from attnbook.viz import plot_heatmap, plot_weights_bar, use_book_style
from attnbook.widgets import AttentionMap

seed_everything(0)
device = default_device()
if device.type == "cpu":
    # Our models are small: a second thread hardly speeds them up, and when other
    # programs share the CPU, threads waiting for each other slow training down a lot.
    torch.set_num_threads(1)
use_book_style()
print(describe_device(device))
tok = toyworld_tokenizer()

# %% [markdown]
# (qa)=
# ## Question answering: point at the answer
#
# The guide's example is reading comprehension: given a short story, answer "What
# color was the car?". `attnbook.data.qa_examples` writes such stories and knows
# each answer, a single word of the story:

# %%
NUM_OBJECTS = 2  # objects per story: each question has two candidates of the right kind
ex = qa_examples(1, "train", seed=3, num_objects=NUM_OBJECTS)[0]
print(textwrap.fill(ex.context, width=76))
print(ex.question, "->", ex.answer, f"(word {ex.answer_index} of the story)")
assert tok.tokenize(ex.context)[ex.answer_index] == ex.answer

# %% [markdown]
# Extractive question answering (BERT on SQuAD {cite}`devlin2018bert` is the
# classic) does not *generate* the answer: it points at it. The encoder reads the
# question and the story together, so that self-attention can compare every word
# of the question with every word of the story, and a *pointer* head gives each
# position one score. A softmax over the story's positions turns the scores into a
# distribution, like attention weights over the story, and the answer is where it
# peaks. Real datasets have multi-word answers and predict a start and an end
# (exercise 1); our answers are one word, so one pointer suffices.
#
# We put the question first and the story after it, and remember which positions
# belong to the story, because the model must not answer with a word of the
# question.

# %%
QA_LEN = 36  # the longest question + story of two objects is shorter


def qa_tensors(examples):
    """ids (N, QA_LEN), padding mask, story mask (True at story words), answer positions."""
    ids = torch.zeros(len(examples), QA_LEN, dtype=torch.long)  # 0 is <pad>
    story = torch.zeros(len(examples), QA_LEN, dtype=torch.bool)
    answer = torch.zeros(len(examples), dtype=torch.long)
    for i, e in enumerate(examples):
        q, c = tok.encode(e.question), tok.encode(e.context)
        ids[i, : len(q) + len(c)] = torch.tensor(q + c)
        story[i, len(q) : len(q) + len(c)] = True
        answer[i] = len(q) + e.answer_index
    return ids, ids != tok.pad_id, story, answer


qa_train = qa_tensors(qa_examples(20_000, "train", seed=0, num_objects=NUM_OBJECTS))
qa_test_examples = qa_examples(1_000, "test", seed=0, num_objects=NUM_OBJECTS)
qa_test = qa_tensors(qa_test_examples)
ids, padding, story, answer = qa_test
assert bool(story[torch.arange(len(answer)), answer].all())  # every answer lies in its story
print("train", tuple(qa_train[0].shape), "test", tuple(ids.shape))

# %% [markdown]
# The loss is cross-entropy over the story positions: scores of the question and of
# the padding are set to $-\infty$ first. The encoder uses rotary position
# embeddings (RoPE, chapter 08): the answer is always a fixed number of words away
# from the object it describes ("The car was *red*"), and relative positions make
# such offsets easy to express. Each story has two objects, so every question has
# two candidates of the right kind (two colors, two people, two places).
#
# ```{warning}
# Forgetting that mask is a classic slip: the model is then free to "answer" with a
# question word ("What color was the car?" → "car"), and it partly learns to,
# because the question often contains a word that also occurs in the story.
# ```
#
# The task takes two hops. To answer "What color was the car?" the model must find
# the story's sentence about *the car* by matching it with the question's "car",
# and then step from that sentence's "car" to the color word two places further on.
# The match has a catch: "car" occurs in the question *and* twice in the story,
# and with rotary positions, which only tell how far apart two words are, a word has
# no direct way to know whether it sits in the question or in the story. BERT meets
# the same need with a *segment embedding* {cite}`devlin2018bert`: a second learned
# vector, one for the question (segment A) and one for the passage (segment B),
# added to every token's embedding. We add it to our encoder's embedding layer; the
# question ends at its "?", so the segment of each token follows from the ids.


# %%
class WithSegments(nn.Module):
    """Token embedding plus a segment embedding: 0 up to the question's "?", 1 after it."""

    def __init__(self, embedding, end_of_question):
        super().__init__()
        self.embedding, self.end_of_question = embedding, end_of_question
        self.segment = nn.Embedding(2, embedding.embedding_dim)
        nn.init.normal_(self.segment.weight, std=0.02)  # as small as the token embeddings

    def segments(self, ids):  # (N, L) -> (N, L)
        ends = (ids == self.end_of_question).long()
        return ends.cumsum(dim=1) - ends  # 0 in the question ("?" included), 1 after it

    def forward(self, ids):  # (N, L) -> (N, L, E)
        return self.embedding(ids) + self.segment(self.segments(ids))


qa_config = EncoderOnlyConfig(
    vocab_size=tok.vocab_size,
    max_len=QA_LEN,
    embed_dim=32,
    num_heads=4,
    num_layers=2,
    dim_feedforward=64,
    positional="rope",
    head="pointer",
)
QA_STEPS = 60 if fast_mode() else 1000


def pointer_scores(model, ids, padding, story):
    logits = model(ids, padding).logits  # (N, L): one score per position
    return logits.masked_fill(~story, float("-inf"))  # only story words may be the answer


def qa_loss(model, batch):
    ids, padding, story, answer = batch
    return F.cross_entropy(pointer_scores(model, ids, padding, story), answer)


@torch.no_grad()
def qa_accuracy(model, data=qa_test):
    ids, padding, story, answer = (t.to(device) for t in data)
    return (pointer_scores(model, ids, padding, story).argmax(-1) == answer).float().mean().item()


def train_qa(embedding_cls, steps, seed=0):
    """A pointer encoder with `embedding_cls` around its token embedding, trained."""
    torch.manual_seed(seed)
    model = EncoderOnly(qa_config)
    model.embedding = embedding_cls(model.embedding, tok.encode("?")[0])
    history = fit(
        model,
        lambda g: sample_batch(*qa_train, batch_size=64, generator=g),
        qa_loss,
        steps=steps,
        lr=1e-2,
        warmup=0.1,
        device=device,
        progress=False,
        eval_fn=lambda m: {"accuracy": qa_accuracy(m)},
        eval_every=steps // 10,
        seed=seed,
    )
    return model, history


qa_model, qa_history = train_qa(WithSegments, QA_STEPS)
qa_acc = qa_history.final("accuracy")
print(f"{qa_history.steps} steps: held-out accuracy {qa_acc:.1%}")
for step, acc in zip(qa_history.eval_step, qa_history.metrics["accuracy"], strict=True):
    print(f"  after {step:>4} steps: {acc:.1%}")
glue("qa_accuracy", 100 * qa_acc)
glue("qa_steps", qa_history.steps)

# %% [markdown]
# After {glue:text}`qa_steps` training steps the model answers
# {glue:text}`qa_accuracy:.1f`% of the questions about held-out stories correctly.
# Two baselines put that in perspective: a random word of the story is right
# {glue:text}`qa_chance:.1f`% of the time, and knowing only the *kind* of answer (a
# color, a name or a place) and guessing between the two candidates of that kind
# gives {glue:text}`qa_kind_guess:.0f`%. To do better, the model must connect the
# question's object with the right sentence of the story. By kind of question:

# %%
with torch.no_grad():
    predicted = pointer_scores(qa_model, *(t.to(device) for t in qa_test[:3])).argmax(-1).cpu()
correct = predicted == answer
for kind in ("color", "who", "where"):
    rows = torch.tensor([e.kind == kind for e in qa_test_examples])
    print(f"{kind:>6} questions: {correct[rows].float().mean():.1%} of {int(rows.sum())}")
guess = (1 / story.sum(-1).float()).mean().item()
print(f"chance (a random story word): {guess:.1%}")
glue("qa_chance", 100 * guess)
glue("qa_kind_guess", 100 / NUM_OBJECTS)

# %% [markdown]
# Here is the accuracy at every evaluation:

# %%
FLAT = 0.6  # "still near the kind-guessing baseline": under this accuracy
curve_steps, curve_acc = qa_history.eval_step, qa_history.metrics["accuracy"]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(curve_steps, [100 * a for a in curve_acc], marker="o", label="held-out accuracy")
ax.axhline(100 / NUM_OBJECTS, color="grey", linestyle="--", label="guessing within the kind")
ax.set(xlabel="training step", ylabel="accuracy (%)", ylim=(0, 100))
ax.legend(loc="lower right")
plt.show()
flat_steps = [s for s, a in zip(curve_steps, curve_acc, strict=True) if a < FLAT]
last_flat = max(flat_steps, default=0)  # the last evaluation still near the baseline
after = next((a for s, a in zip(curve_steps, curve_acc, strict=True) if s > last_flat), None)
if not flat_steps:
    plateau = (
        f"The model is above {FLAT:.0%} from the first evaluation (step "
        f"{curve_steps[0]}) on: this run hardly sat on the plateau at all."
    )
elif after is None:
    plateau = (
        f"The model stays below {FLAT:.0%} for all {qa_history.steps} steps, close to "
        "the kind-guessing baseline: this run never left the plateau."
    )
else:
    plateau = (
        f"For the first {last_flat} steps the model stays below {FLAT:.0%}, close to "
        f"the kind-guessing baseline; at the next evaluation, {QA_STEPS // 10} steps "
        f"later, it is at {after:.0%}."
    )
print(textwrap.fill(plateau, width=76))
glue("qa_plateau", Markdown(plateau))  # pasted as plain text, not bold

# %% [markdown]
# {glue:md}`qa_plateau` Such plateaus are typical of two-hop tasks: the matching
# step (question "car" → story "car") and the stepping (story "car" → "red") are
# useless alone, so neither gets a strong gradient until the other half begins to
# form; then both grow together and the accuracy rises suddenly. How long the
# plateau lasts depends on the details: the learning rate, the width, even the
# seed. In the trials we ran while writing this chapter (not repeated here, to keep
# it short), this recipe trained for longer left the plateau after a number of steps
# that changed from seed to seed, sometimes too late to end well, and without the
# segment embedding it did not leave it at all. A GPU's different rounding sends
# training down a different path too. When a curve has a plateau, judge a recipe by
# several seeds, never by one run.
#
# ### A feature that does the first hop
#
# The first hop, finding where the story mentions the question's object, is string
# matching, and a model need not learn it from scratch. DrQA
# {cite}`chen2017reading`, a reading-comprehension system, gave every word of the
# passage an *exact-match* feature: does this word occur in the question? We add it
# the way we added the segment, as one more small embedding with two vectors ("occurs
# in the question" or not) added to each story word's embedding. The encoder still
# has work to do: "the" and "was" occur in the question too, so it must learn which
# flagged word is the object, and then step from it to the word that answers. We
# train this model with three seeds, each for fewer steps than the model above:


# %%
class WithMatch(WithSegments):
    """WithSegments plus an exact-match embedding: 1 at story words in the question."""

    def __init__(self, embedding, end_of_question):
        super().__init__(embedding, end_of_question)
        self.match = nn.Embedding(2, embedding.embedding_dim)
        nn.init.normal_(self.match.weight, std=0.02)

    def forward(self, ids):  # (N, L) -> (N, L, E)
        in_story = self.segments(ids).bool()  # (N, L): after the "?"
        question = ids.masked_fill(in_story, -1)  # (N, L): question ids, -1 elsewhere
        # seen[n, i]: the id at position i occurs among row n's question ids
        seen = (ids[:, :, None] == question[:, None, :]).any(dim=-1)  # (N, L)
        match = (seen & in_story).long()  # (N, L): 1 at story words in the question
        return super().forward(ids) + self.match(match)


MATCH_STEPS, MATCH_SEEDS = (30, (0,)) if fast_mode() else (300, (0, 1, 2))
match_accuracy = {}
for seed in MATCH_SEEDS:
    model, history = train_qa(WithMatch, MATCH_STEPS, seed)
    match_accuracy[seed] = history.final("accuracy")
    if seed == MATCH_SEEDS[0]:
        match_model = model  # the model the rest of this section asks questions
    curve = " ".join(f"{a:.0%}" for a in history.metrics["accuracy"])
    final = match_accuracy[seed]
    print(f"seed {seed}: {history.steps} steps, held-out accuracy {final:.1%}")
    print(f"  at each evaluation: {curve}")
glue("match_steps", MATCH_STEPS)
glue("match_seeds", len(MATCH_SEEDS))
glue("match_worst", 100 * min(match_accuracy.values()))
glue("match_first_seed", MATCH_SEEDS[0])

# %% [markdown]
# With the feature, the worst of the {glue:text}`match_seeds` seeds answers
# {glue:text}`match_worst:.1f`% of the held-out questions after
# {glue:text}`match_steps` steps, against {glue:text}`qa_accuracy:.1f`% after
# {glue:text}`qa_steps` steps without it. The feature does part of what attention
# had to learn, and what is left, reading the word near the flagged object, no
# longer waits for a lucky start. Real systems learn the match from data, with models and
# datasets far larger than ours; a small model and a short budget are exactly where
# such a feature pays.

# %% [markdown]
# Now the guide's own question, asked to the model with the exact-match feature
# (seed {glue:text}`match_first_seed`). We write a story with a car in it and look at
# the pointer's distribution over the story:

# %%
story_text = (
    "Anna took the car to the park. The kite was blue. The car was red. "
    "Ben took the kite to the beach."
)
question = "What color was the car?"
q_ids, c_ids = tok.encode(question), tok.encode(story_text)
one = torch.tensor([q_ids + c_ids], device=device)  # (1, L)
one_story = torch.zeros_like(one, dtype=torch.bool)
one_story[0, len(q_ids) :] = True
with torch.no_grad():
    scores = pointer_scores(match_model, one, one != tok.pad_id, one_story)
    scores = scores[0, len(q_ids) :]  # (story length,)
probs = scores.softmax(-1).cpu()  # a distribution over the story's words
words = tok.tokenize(story_text)
qa_answer = words[int(probs.argmax())]
print(f"{question} -> {qa_answer!r} ({probs.max():.0%})")
glue("qa_car_answer", qa_answer)
glue("qa_car_prob", 100 * probs.max().item())
fig, ax = plt.subplots(figsize=(8.5, 3.4), layout="constrained")  # tall enough to read
plot_weights_bar(
    words,
    probs,
    ax=ax,
    title=f"{question} The pointer over the story",
    ylabel="pointer probability",
)
ax.tick_params(axis="x", rotation=60)
plt.show()

# %% [markdown]
# The tallest bar is the model's answer, "{glue:text}`qa_car_answer`", with
# probability {glue:text}`qa_car_prob:.0f`% (the story says the car was red). The
# feature flags both mentions of "car", in "took the car" and in "The car was red",
# and every "the" and "was" as well; the encoder has to prefer the mention that a
# color follows and point at that color, two places further on, a fixed offset that
# rotary positions make easy to express. The model without the feature had to learn
# the match as well. Self-attention can do it, since it compares every question word
# with every story word, but we saw what finding that solution cost: a plateau whose
# length depends on the seed.
#
# (translation)=
# ## Translation: alignment and word order
#
# {doc}`Chapter 12 <12_encoder_decoder>` trained an encoder–decoder to translate
# dates written by people ("8 October 1995") into ISO dates ("1995-10-08") and
# measured how often each output digit's cross-attention lands on the input digit
# it copies. Dates change the *order* of their parts; so do languages. English
# says "The dog bit the man."; the passive voice says the same thing in a different
# order, with different word forms: "The man was bitten by the dog." Real
# translation does this all the time (German and Japanese put the verb last, French
# puts most adjectives after the noun). We use active → passive as a translation
# task whose word order we know exactly: the generator writes both versions of the
# same event.


# %%
def voice_pairs(num, split):
    """The same events in the active voice (source) and the passive voice (target)."""
    active = word_order_examples(num, split, seed=0, passive=0.0)
    passive = word_order_examples(num, split, seed=0, passive=1.0)
    for a, p in zip(active, passive, strict=True):  # same seed: the same events
        assert (a.agent, a.patient, a.verb, a.voice, p.voice) == (
            p.agent,
            p.patient,
            p.verb,
            "active",
            "passive",
        )
    return active, passive


for a, p in zip(*voice_pairs(3, "train"), strict=True):
    print(f"{a.text:<32} -> {p.text}")

# %% [markdown]
# The model is {doc}`chapter 12 <12_encoder_decoder>`'s encoder–decoder with word tokens, with rotary
# positions (RoPE): the decoder must find its words by *content*, wherever they sit
# in the source, and relative positions keep the position signal from drowning the
# word identities.

# %%
VOICE_SRC, VOICE_TGT = 12, 14
voice_config = EncoderDecoderConfig(
    vocab_size=tok.vocab_size,
    max_len=VOICE_SRC,
    max_tgt_len=VOICE_TGT,
    embed_dim=64,
    num_heads=4,
    num_layers=2,
    num_decoder_layers=2,
    dim_feedforward=128,
    positional="rope",
)


def seq2seq_tensors(sources, targets, src_len, tgt_len):
    src = tok.encode_batch(sources, max_len=src_len)
    tgt = tok.encode_batch(targets, add_eos=True, max_len=tgt_len)
    return src.ids, src.padding_mask, tgt.ids


def seq2seq_loss(model, batch):
    src, mask, tgt = batch
    logits = model(src, shift_right(tgt, tok.bos_id), mask).logits  # (N, T, V)
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten(), ignore_index=tok.pad_id)


@torch.no_grad()
def greedy(model, src, mask, max_new_tokens):
    out = model.generate(
        src.to(device),
        max_new_tokens=max_new_tokens,
        bos_id=tok.bos_id,
        eos_id=tok.eos_id,
        src_padding_mask=mask.to(device),
    )
    return tok.decode_batch(out.cpu())


train_active, train_passive = voice_pairs(20_000, "train")
test_active, test_passive = voice_pairs(1_000, "test")
voice_train = seq2seq_tensors(
    [e.text for e in train_active], [e.text for e in train_passive], VOICE_SRC, VOICE_TGT
)
voice_test = seq2seq_tensors(
    [e.text for e in test_active], [e.text for e in test_passive], VOICE_SRC, VOICE_TGT
)
references = [e.text for e in test_passive]


def voice_exact_match(model):
    predicted = greedy(model, *voice_test[:2], VOICE_TGT - 1)
    return sum(p == r for p, r in zip(predicted, references, strict=True)) / len(references)


def train_seq2seq(config, train, steps, eval_fn=None):
    """A fresh encoder-decoder (seed 0) trained on batches of 64 (src, padding, tgt)."""
    torch.manual_seed(0)
    model = EncoderDecoder(config)
    history = fit(
        model,
        lambda g: sample_batch(*train, batch_size=64, generator=g),
        seq2seq_loss,
        steps=30 if fast_mode() else steps,
        lr=3e-3,
        device=device,
        progress=False,
        eval_fn=eval_fn,
    )
    return model, history


voice_model, voice_history = train_seq2seq(
    voice_config,
    voice_train,
    steps=400,
    eval_fn=lambda m: {"exact_match": voice_exact_match(m)},
)
voice_em = voice_history.final("exact_match")
print(f"{voice_history.steps} steps: held-out exact match {voice_em:.1%}")
glue("voice_accuracy", 100 * voice_em)

# %% [markdown]
# The held-out sentences pair agents, patients and verbs never seen together in
# training; the model rewrites {glue:text}`voice_accuracy:.1f`% of them exactly.
# Now the alignment, from the cross-attention of the last decoder layer while it
# writes the passive sentence (teacher forcing: we feed the right target, so each
# row is the step that *writes* that word):


# %%
def cross_attention(model, source, target):
    """Cross-attention (layers, H, T, S) while `model` writes `target` for `source`."""
    src = torch.tensor([tok.encode(source)], device=device)  # (1, S)
    tgt = torch.tensor([tok.encode(target, add_eos=True)], device=device)  # (1, T)
    with torch.no_grad():
        out = model(src, shift_right(tgt, tok.bos_id), need_weights=True)
    return torch.stack(out.cross_attentions, dim=1)[0].cpu()


source, target = "The big dog bit the man.", "The man was bitten by the big dog."
weights = cross_attention(voice_model, source, target)
src_words, tgt_words = tok.tokenize(source), [*tok.tokenize(target), "<eos>"]
assert weights.shape[-2:] == (len(tgt_words), len(src_words))
plot_heatmap(
    weights[-1].mean(0),
    tgt_words,
    src_words,
    annotate=True,
    fmt="{:.2f}",
    vmin=0,
    vmax=1,
    xlabel="active sentence (key)",
    ylabel="passive sentence (query)",
    title="Cross-attention, last decoder layer, heads averaged",
)
plt.show()
reads = weights[-1].mean(0).argmax(-1)  # (T,): the most-read source word of each output step
for noun in ("man", "dog"):
    read = src_words[int(reads[tgt_words.index(noun)])]
    print(f"writing {noun!r}, the last layer reads {read!r} most")
    glue(f"voice_{noun}_reads", read)

# %% [markdown]
# Read it row by row. Writing "man", near the start of the passive sentence, the
# decoder reads "{glue:text}`voice_man_reads`" most, at the *end* of the source, where
# "man" is; writing "dog", at the end, it reads "{glue:text}`voice_dog_reads`", back
# at the start. The bright cells cross instead of running down the diagonal: that
# crossing *is* the change of word order, and attention handles it by looking up
# each word where it is, whatever the order. A model that had to squeeze the source
# into one fixed vector first (an RNN encoder, chapter 01) would have to carry both
# nouns and their roles to the end.
#
# One sentence is an anecdote; we measure over the held-out pairs: when the decoder
# writes the patient (first noun of the passive) and the agent (last noun), does its
# cross-attention peak on that noun in the source? We count a peak on the noun's
# neighbour as a hit too, because the encoder is bidirectional: after its layers, the
# word next to "man" (the "the" before it, the "." after it) also carries "man", and
# decoders often read the word they copy from there. We report the strict count,
# the noun itself, beside it.

# %%
src, mask, tgt = voice_test
with torch.no_grad():
    out = voice_model(
        src.to(device), shift_right(tgt, tok.bos_id).to(device), mask.to(device), need_weights=True
    )
cross = torch.stack(out.cross_attentions, dim=1).cpu().mean(2)  # (N, layers, T, S), heads averaged
rows = torch.arange(len(test_active))
near, exact = {}, {}  # role -> per-layer share of sentences: peak within one word / on the word
for role in ("patient", "agent"):
    at_tgt = torch.tensor([getattr(p, f"{role}_index") for p in test_passive])  # writing step
    in_src = torch.tensor([getattr(a, f"{role}_index") for a in test_active])  # source position
    top = cross[rows, :, at_tgt].argmax(-1)  # (N, layers): most-read source word
    near[role] = ((top - in_src[:, None]).abs() <= 1).float().mean(0)
    exact[role] = (top == in_src[:, None]).float().mean(0)
print("peak within one word of the source noun (on the noun itself):")
for layer in range(voice_config.num_decoder_layers):
    cell = {r: f"{near[r][layer]:.0%} ({exact[r][layer]:.0%})" for r in near}
    print(
        f"decoder layer {layer}: "
        f"writing the patient {cell['patient']}, writing the agent {cell['agent']}"
    )
best = {role: int(near[role].argmax()) for role in near}  # the best layer for each noun
for role in ("patient", "agent"):
    glue(f"voice_{role}_aligned", 100 * near[role][best[role]].item())
    glue(f"voice_{role}_exact", 100 * exact[role][best[role]].item())

# %% [markdown]
# In its best layer, the decoder's attention peaks on the right source noun or its
# neighbour in {glue:text}`voice_patient_aligned:.0f`% of the sentences when it
# writes the patient and {glue:text}`voice_agent_aligned:.0f`% when it writes the
# agent, two words that swap ends between the languages. On the noun itself, in the
# same layers: {glue:text}`voice_patient_exact:.0f`% and
# {glue:text}`voice_agent_exact:.0f`%. Either way, the decoder fetches each noun from
# where it stands in the source; which of the neighbouring positions it reads is a
# detail of how this encoder spread the word over its states. {doc}`Chapter 12 <12_encoder_decoder>` found
# alignments of this kind for dates, digit by digit. ({doc}`Chapter 14 <14_reading_attention>` explains why such
# alignments are evidence, not proof, of what the model uses.)
#
# Here are all the cross-attention maps of the trained model for our example, one
# per layer and head, in the `AttentionMap` widget: pick a layer and a head, and
# select a word of the passive sentence to list the source words it reads most.

# %%
AttentionMap(
    cross_attention(voice_model, source, target),  # (layers, H, T, S)
    tokens=tgt_words,
    key_tokens=src_words,
    layer=voice_config.num_decoder_layers - 1,
    query_index=tgt_words.index("man"),
)

# %% [markdown]
# (summaries)=
# ## Summarisation: a headline for a story
#
# Summarising means deciding what matters and saying it shortly. Our tiny version:
# each toy-world story has one event among filler sentences, and the headline
# reports the event in headline style (present tense, no articles, no color).

# %%
for e in headline_examples(3, "train", seed=4):
    print(textwrap.fill(e.story, width=76, subsequent_indent="    "))
    print(f"  -> {e.headline}")

# %% [markdown]
# The same encoder–decoder recipe as for the voice task learns it: the encoder
# reads the story, the decoder writes the headline word by word, attending to the
# story.

# %%
NEWS_SRC, NEWS_TGT = 36, 8
news_train_examples = headline_examples(20_000, "train", seed=0)
news_test_examples = headline_examples(1_000, "test", seed=0)
news_train = seq2seq_tensors(
    [e.story for e in news_train_examples],
    [e.headline for e in news_train_examples],
    NEWS_SRC,
    NEWS_TGT,
)
news_test = seq2seq_tensors(
    [e.story for e in news_test_examples],
    [e.headline for e in news_test_examples],
    NEWS_SRC,
    NEWS_TGT,
)
news_config = dataclasses.replace(voice_config, max_len=NEWS_SRC, max_tgt_len=NEWS_TGT)


news_model, news_history = train_seq2seq(news_config, news_train, steps=300)
predicted = greedy(news_model, *news_test[:2], NEWS_TGT - 1)
word_hits = [
    sum(a == b for a, b in zip(p.split(), e.headline.split(), strict=False))
    / len(e.headline.split())
    for p, e in zip(predicted, news_test_examples, strict=True)
]
news_em = sum(p == e.headline for p, e in zip(predicted, news_test_examples, strict=True))
news_em /= len(predicted)
print(
    f"{news_history.steps} steps: held-out exact match "
    f"{news_em:.1%}, words in the right place {sum(word_hits) / len(word_hits):.1%}"
)
for p, e in list(zip(predicted, news_test_examples, strict=True))[:3]:
    print(textwrap.fill(e.story, 76, initial_indent="  ", subsequent_indent="    "))
    print(f"    model:     {p!r}\n    reference: {e.headline!r}")
glue("news_em", 100 * news_em)

# %% [markdown]
# The model writes exactly the reference headline for {glue:text}`news_em:.1f`% of
# held-out stories. Where does it look while writing? Here is the cross-attention of
# the last decoder layer for one held-out story:

# %%
e = news_test_examples[0]
weights = cross_attention(news_model, e.story, e.headline)  # (layers, H, T, S)
story_words, head_words = tok.tokenize(e.story), [*tok.tokenize(e.headline), "<eos>"]
fig, ax = plt.subplots(figsize=(8.5, 3.8), layout="constrained")
plot_heatmap(
    weights[-1].mean(0),
    head_words,
    story_words,
    ax=ax,
    annotate=False,
    vmin=0,
    xlabel="story word (key)",
    ylabel="headline word (query)",
    title="Cross-attention while writing the headline (last layer, heads averaged)",
)
ax.tick_params(axis="x", rotation=90)  # one word per tick, none touching
plt.show()

# %% [markdown]
# Look along each row for the brightest cell: where does the decoder read while it
# writes the name, the verb, the object and the place? A model that summarises by
# selecting should read the event sentence and leave the fillers alone. We measure
# two things over all held-out stories: the share of cross-attention that lands on
# the event sentence, compared with the share of the story's words that sentence
# holds (what spreading attention evenly would give); and, for each headline word,
# how often the most-read story word is the word it comes from ("Anna" from "Anna",
# "finds" from "found") or, as for the voice task, its neighbour.


# %%
def event_span(words, headline):
    """Start and end (exclusive) of the sentence that mentions the headline's object."""
    obj = headline.split()[2]  # "Anna finds kite at park": the object is the third word
    ends = [i + 1 for i, w in enumerate(words) if w == "."]
    starts = [0, *ends[:-1]]
    return next((s, t) for s, t in zip(starts, ends, strict=True) if obj in words[s:t])


src, mask, tgt = news_test
with torch.no_grad():
    out = news_model(
        src.to(device), shift_right(tgt, tok.bos_id).to(device), mask.to(device), need_weights=True
    )
on_event = torch.zeros(news_config.num_decoder_layers)
even_share = 0.0
for i, e in enumerate(news_test_examples):
    words = tok.tokenize(e.story)
    s, t = event_span(words, e.headline)
    real = tgt[i] != tok.pad_id  # headline positions (and <eos>), not padding
    for layer, w in enumerate(out.cross_attentions):
        on_event[layer] += w[i].mean(0)[real.to(device)][:, s:t].sum(-1).mean().cpu()
    even_share += (t - s) / len(words)
on_event /= len(news_test_examples)
even_share /= len(news_test_examples)
for layer, share in enumerate(on_event):
    print(f"decoder layer {layer}: {share:.0%} of the cross-attention on the event sentence")
print(f"spread evenly over the story, it would be {even_share:.0%}")
glue("event_share", 100 * on_event.max().item())
glue("even_share", 100 * even_share)

# Headline word k comes from event-sentence word SOURCE[k]: "Anna found the red kite at
# the park ." -> "Anna finds kite at park" (name 0, verb 1, object 4, place 7).
SOURCE = {"name": (0, 0), "verb": (1, 1), "object": (2, 4), "place": (4, 7)}
# As for the nouns of the voice task, a peak within one word of the source word counts.
layers = news_config.num_decoder_layers
near = {role: torch.zeros(layers) for role in SOURCE}  # peak within one word of the source
exact = {role: torch.zeros(layers) for role in SOURCE}  # peak on the source word itself
for i, e in enumerate(news_test_examples):
    s, _ = event_span(tok.tokenize(e.story), e.headline)
    for layer, w in enumerate(out.cross_attentions):
        top = w[i].mean(0).argmax(-1).cpu()  # (T,): most-read story word per headline step
        for role, (k, offset) in SOURCE.items():
            distance = abs(int(top[k]) - (s + offset))
            near[role][layer] += float(distance <= 1) / len(news_test_examples)
            exact[role][layer] += float(distance == 0) / len(news_test_examples)
print("peak within one word of the source word (on the word itself), by layer:")
for role in SOURCE:
    print(
        f"writing the {role:>6}: "
        + ", ".join(
            f"layer {layer} {near[role][layer]:.0%} ({exact[role][layer]:.0%})"
            for layer in range(layers)
        )
    )
glue("copy_read", 100 * max(near[role].max().item() for role in SOURCE))
glue("copy_exact", 100 * max(exact[role].max().item() for role in SOURCE))

# %% [markdown]
# In its most focused layer the decoder puts {glue:text}`event_share:.0f`% of its
# attention on the event sentence, which holds {glue:text}`even_share:.0f`% of the
# story's words: attention is how the model *selects* what goes into the summary.
# Word by word, the picture is not the one of the voice task: for no headline word,
# in no layer, does the peak sit on or next to its source word in more than
# {glue:text}`copy_read:.0f`% of the stories (on the word itself:
# {glue:text}`copy_exact:.0f`%).
#
# If the peaks are not on the copied words, where are they? For each headline word,
# the word of the event sentence that the last layer reads most often:


# %%
# The words of the event sentence "Anna found the red kite at the park .", by position:
SLOTS = ("name", "verb", "the (1st)", "color", "object", "at", "the (2nd)", "place", ".")
last = out.cross_attentions[-1].mean(1).argmax(-1).cpu()  # (N, T): most-read story word
favourite = {}
for role, (k, _) in SOURCE.items():
    slots = []
    for i, e in enumerate(news_test_examples):
        s, t = event_span(tok.tokenize(e.story), e.headline)
        position = int(last[i, k])
        slots.append(SLOTS[position - s] if s <= position < t else "another sentence")
    slot, count = Counter(slots).most_common(1)[0]
    favourite[role] = (slot, count / len(slots))
    print(f"writing the {role:>6}: reads the event's {slot!r} most ({favourite[role][1]:.0%})")
glue("name_reads", favourite["name"][0])
glue("name_reads_share", 100 * favourite["name"][1])
glue("place_reads", favourite["place"][0])
glue("place_reads_share", 100 * favourite["place"][1])

# %% [markdown]
# Writing the name, the decoder reads the event's "{glue:text}`name_reads`" most
# often ({glue:text}`name_reads_share:.0f`% of the stories); writing the place, its
# "{glue:text}`place_reads`" ({glue:text}`place_reads_share:.0f`%). The encoder's
# layers have already mixed the words of the event sentence into each other's
# states, so the decoder can fetch the name from another word's position, and it
# settles on a few fixed positions of the sentence. Attention still does the
# selecting, it reads the event sentence and not the fillers, but here a peak does
# not tell which source word a headline word came from. {doc}`Chapter 14 <14_reading_attention>` returns to this:
# an attention map shows where a model reads, not what the states it reads contain.
#
# ## What attention contributes
#
# | task | what attention does | measured here |
# |---|---|---|
# | question answering | self-attention compares each question word with each story word; the pointer is itself a softmax over the story | {glue:text}`qa_accuracy:.1f`% correct on held-out stories when the model learns the match itself ({glue:text}`qa_steps` steps, one seed); {glue:text}`match_worst:.1f`% with an exact-match feature (worst of {glue:text}`match_seeds` seeds) |
# | translation (active → passive) | cross-attention fetches, for each output word, the source word it depends on, whatever their order | {glue:text}`voice_accuracy:.1f`% exact match; attention on each noun (or its neighbour) in {glue:text}`voice_patient_aligned:.0f`% and {glue:text}`voice_agent_aligned:.0f`% of sentences |
# | summarisation | cross-attention selects the sentence that matters and copies its words | {glue:text}`news_em:.1f`% exact match; {glue:text}`event_share:.0f`% of attention on the event |
#
# In all three, the alternative is a fixed-size summary of the input that must hold
# everything before the output starts. Attention replaces it with a lookup that each
# output step (or each answer candidate) makes for itself.
#
# ## Summary
#
# - Extractive question answering *points*: a score per story word, a softmax over
#   the story, the answer at the peak. Masking the question out is part of the task.
# - Matching the question with the story is a two-hop task; a segment embedding tells
#   each word which side it is on. Learning both hops from scratch shows a plateau
#   whose length depends on the seed; an exact-match feature (DrQA) does the first
#   hop and makes training short and reliable.
# - An encoder–decoder translates by letting each output step attend to the source;
#   its cross-attention is an alignment, and word-order changes show up as crossings.
# - Headline generation selects (attention on the event sentence) and rewrites
#   (present tense, no articles): attention does the selecting.
#
# ## Exercises
#
# **1. Best answer span.** Real QA models predict a start score and an end score for
# every position. Write `best_span(start_logits, end_logits, max_len)` that returns
# the pair `(start, end)` (end inclusive) with the largest
# `start_logits[start] + end_logits[end]`, such that `start <= end` and the span has
# at most `max_len` tokens. The starting point takes the two best positions
# separately.


# %%
def best_span(start_logits, end_logits, max_len):
    return int(start_logits.argmax()), int(end_logits.argmax())


check_best_span(best_span)


# %% tags=["hide-input"]
def best_span(start_logits, end_logits, max_len):
    L = len(start_logits)
    scores = start_logits[:, None] + end_logits[None, :]  # (L, L): row = start, column = end
    allowed = torch.ones(L, L, dtype=torch.bool).triu()  # start <= end
    allowed &= ~torch.ones(L, L, dtype=torch.bool).triu(max_len)  # end - start < max_len
    start, end = divmod(int(scores.masked_fill(~allowed, float("-inf")).argmax()), L)
    return start, end


check_best_span(best_span)

# %% [markdown]
# **2. Point inside the story.** Write `pointer_in_context(logits, context_mask)`:
# given scores `(N, L)` over `question + story` and a boolean `(N, L)` mask that is
# `True` at the story's words, return each row's highest-scoring story position.
# The starting point ignores the mask.


# %%
def pointer_in_context(logits, context_mask):
    return logits.argmax(dim=-1)


check_pointer_in_context(pointer_in_context)


# %% tags=["hide-input"]
def pointer_in_context(logits, context_mask):
    return logits.masked_fill(~context_mask, float("-inf")).argmax(dim=-1)


check_pointer_in_context(pointer_in_context)

# %% [markdown]
# **3. Read an alignment.** Write `alignment(cross_weights)` that takes one layer's
# cross-attention `(H, T, S)` and returns, for each of the `T` output positions, the
# source position it attends to most, with the heads averaged. Then print the
# alignment of the active → passive example. The starting point reads the wrong
# axis.


# %%
def alignment(cross_weights):
    return cross_weights.mean(dim=0).argmax(dim=0)


check_alignment(alignment)


# %% tags=["hide-input"]
def alignment(cross_weights):
    return cross_weights.mean(dim=0).argmax(dim=-1)  # each output row picks a source column


check_alignment(alignment)
weights = cross_attention(voice_model, source, target)[-1]  # (H, T, S), last layer
for out_word, src_pos in zip(tgt_words, alignment(weights).tolist(), strict=True):
    print(f"{out_word!r:>10} <- {src_words[src_pos]!r}")
