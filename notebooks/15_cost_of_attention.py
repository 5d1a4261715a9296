# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The cost of attention
#
# Every query compares itself with every key. That is what makes attention so
# flexible, and it is also its price: double the length of the text and the work,
# and the memory of the textbook implementation, grow four times. In this chapter
# we measure that price on your machine, then meet the ways around it, one exact
# and several approximate.

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
# - count the attention weights a model holds and turn the count into bytes
#   ("10,000 tokens make 100 million weights per head");
# - measure how the time of attention grows with the sequence length and fit the
#   exponent of that growth;
# - derive the online softmax and build exact *tiled* attention (the idea behind
#   FlashAttention) that never holds the whole matrix of weights;
# - compare local windows, strided sparse patterns, linear attention and
#   hierarchical attention on speed and on how far they move away from exact attention.

# %%
import json
import math
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from attnbook.device import default_device, describe_device, seed_everything
from attnbook.efficient import (
    hierarchical_attention,
    linear_attention,
    sliding_window_attention,
    strided_attention,
    tiled_attention,
)
from attnbook.exercises import (
    check_attention_memory,
    check_causal_tiled_attention,
    check_fit_exponent,
    check_online_softmax,
)
from attnbook.functional import scaled_dot_product_attention
from attnbook.masks import local_window_mask, strided_mask
from attnbook.notebook import fast_mode, glue
from attnbook.viz import use_book_style
from attnbook.widgets import CostExplorer

device = default_device()
if device.type == "cpu":
    # One thread: timings steadier on a busy machine, and like the committed benchmark.
    torch.set_num_threads(1)
print(describe_device(device))
seed_everything(0)
use_book_style()
FAST = fast_mode()  # ATTNBOOK_FAST=1 shrinks every measurement to a quick check

# %% [markdown]
# ## Counting the weights
#
# For one head, self-attention over $n$ tokens computes a score for every pair of
# a query and a key, $QK^\top/\sqrt{d_k}$, and turns each row of scores into
# weights with a softmax. The weight matrix $A$ has $L \times S = n \times n$
# entries. Written out for the example of a 10,000-token document in the
# beginner's guide this book grew from ({doc}`chapter 01 <01_why_attention>`):

# %%
n = 10_000
weights_per_head = n * n  # one weight per (query, key) pair
bytes_fp32 = weights_per_head * 4  # a float32 takes 4 bytes
bytes_fp16 = weights_per_head * 2  # a float16 or bfloat16 takes 2
print(f"{n:,} tokens -> {weights_per_head:,} weights per head")
print(f"  float32: {bytes_fp32 / 1e6:,.0f} MB   float16: {bytes_fp16 / 1e6:,.0f} MB")
assert weights_per_head == 100_000_000  # the guide's "100 million weights per head"
glue("weights_10k", weights_per_head)
glue("mb_fp32_10k", bytes_fp32 / 1e6)
glue("mb_fp16_10k", bytes_fp16 / 1e6)

# %% [markdown]
# So the guide's "100 million weights per head" is exact: {glue:text}`weights_10k:,`
# weights, {glue:text}`mb_fp32_10k:,.0f` MB in float32 and
# {glue:text}`mb_fp16_10k:,.0f` MB in float16, *for one head of one layer of one
# sequence*. A model multiplies that by its heads, by its batch, and, while
# training, by its layers, because the backward pass needs every layer's weights.
# For a BERT-base-sized model (12 layers of 12 heads) at that length:

# %%
layers, heads = 12, 12
training_bytes = layers * heads * weights_per_head * 4
print(
    f"{layers} layers x {heads} heads x {weights_per_head:,} x 4 bytes\n"
    f"= {training_bytes / 2**30:,.1f} GiB of attention weights for ONE sequence"
)
glue("gib_bert_10k", training_bytes / 2**30)

# %% [markdown]
# That is {glue:text}`gib_bert_10k:.1f` GiB before a single activation of the rest
# of the network, more than most GPUs hold. The rest of the model (embeddings,
# feed-forward layers) grows only linearly with $n$; attention is the part that
# explodes.
#
# Now the same count on tensors that really exist. We compute the weights of one
# head at a few lengths that fit in memory and ask each tensor how many bytes it
# holds (`numel() * element_size()`):

# %%
d_k = 64  # the size of one head's queries and keys
memory_lengths = [256, 512, 1024] if FAST else [512, 1024, 2048]
measured_bytes = []
for length in memory_lengths:
    q, k = torch.randn(2, length, d_k, device=device).unbind(0)  # (L, d_k), (S, d_k)
    weights = torch.softmax(q @ k.T / math.sqrt(d_k), dim=-1)  # (L, S)
    size = weights.numel() * weights.element_size()
    measured_bytes.append(size)
    size_mib = size / 2**20
    weights_shape = tuple(weights.shape)
    print(f"n = {length:5d}: weights tensor {weights_shape} holds {size_mib:6.1f} MiB")
    assert size == length * length * 4
    del weights
doublings = range(len(measured_bytes) - 1)
ratios = [measured_bytes[i + 1] / measured_bytes[i] for i in doublings]
print("memory ratio per doubling of n:", ratios)
assert all(r == 4 for r in ratios)  # double n, four times the memory

# %% [markdown]
# Doubling $n$ multiplies the memory by four: memory is $O(n^2)$. On a GPU we can
# also ask the allocator for the peak memory a call needed, which includes every
# temporary tensor; this cell only runs when a CUDA device is present.

# %%
if device.type == "cuda":
    for length in memory_lengths:
        q, k, v = (torch.randn(1, 8, length, d_k, device=device) for _ in range(3))
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d_k), dim=-1) @ v
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
        print(
            f"n = {length}: naive attention, 8 heads, peak {peak / 2**20:.1f} MiB "
            f"(the weights alone: {8 * length**2 * 4 / 2**20:.1f} MiB)"
        )
else:
    measured = "the tensor sizes above are the measurement"
    print(f"no CUDA device here ({device.type}): {measured}")

# %% [markdown]
# (time-grows)=
# ## Time grows as $n^2$ too
#
# The work is two matrix products, $QK^\top$ (an $n \times d_k$ times
# $d_k \times n$ product) and $AV$, each about $2 n^2 d_k$ floating-point
# operations per head, plus a softmax over $n^2$ numbers. If time follows
# $t \approx c\, n^p$, then $\log t \approx \log c + p \log n$: on log-log axes the
# measurements lie on a line whose slope is the exponent $p$. We expect $p = 2$.
#
# We time two implementations: the textbook one, which writes the weights out,
# and PyTorch's fused `F.scaled_dot_product_attention` (SDPA). A small helper
# runs each call a few times after one warm-up call and keeps the fastest run.
# (The benchmark scripts of the repository report medians over many runs; for a
# quick measurement on a shared machine the fastest run is steadier, because other
# programs can only ever *add* time.)
#
# ```{warning}
# Timing pitfalls: the first call of a function pays one-time costs (memory
# allocation, choosing a kernel), so warm up before timing; other programs on the
# machine add noise, so repeat the measurement; and a GPU runs asynchronously,
# so call `torch.cuda.synchronize()` before reading the clock, or you time only
# the launch of the work.
# ```


# %%
# The colours of the CostExplorer at the end of the chapter, method by method.
COLOURS = {
    "hierarchical": "#3b82f6",
    "linear": "#f97316",
    "local window": "#16a34a",
    "naive": "#a855f7",
    "sdpa": "#e11d48",
    "strided": "#0891b2",
    "tiled": "#ca8a04",
}


def log_log(ax):
    """Log axes: lengths in powers of two, times and sizes in powers of ten."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.grid(True, which="major", alpha=0.3)


def naive_attention(q, k, v):
    """Textbook attention: the (N, H, L, S) weights are written out in full."""
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v  # (N, H, L, Ev)


def time_call(fn, *args, repeats=5):
    """Fastest wall-clock seconds of fn(*args) over `repeats` runs, after a warm-up."""
    with torch.inference_mode():
        fn(*args)
        times = []
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn(*args)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return min(times)


H = 2  # heads, all computed in one batched call
q, k, v = (torch.randn(1, H, 64, d_k, device=device) for _ in range(3))
torch.testing.assert_close(
    naive_attention(q, k, v),
    F.scaled_dot_product_attention(q, k, v),
)
torch.testing.assert_close(
    naive_attention(q, k, v),
    scaled_dot_product_attention(q, k, v),
)

# %% [markdown]
# Both give the same numbers (and the same as `attnbook.functional`'s reference
# version). Now the clock, at lengths that double:

# %%
time_lengths = [128, 256, 512] if FAST else [512, 1024, 2048, 4096]
repeats = 2 if FAST else 3
timings = {"naive": [], "sdpa": []}
for length in time_lengths:
    q, k, v = (torch.randn(1, H, length, d_k, device=device) for _ in range(3))
    timings["naive"].append(time_call(naive_attention, q, k, v, repeats=repeats))
    timings["sdpa"].append(
        time_call(F.scaled_dot_product_attention, q, k, v, repeats=repeats),
    )
    print(
        f"n = {length:5d}: naive {1e3 * timings['naive'][-1]:8.2f} ms   "
        f"SDPA {1e3 * timings['sdpa'][-1]:8.2f} ms"
    )

# %% [markdown]
# `numpy.polyfit` fits a straight line to $(\log n, \log t)$; its slope is the
# exponent.

# %%
exponents = {}
for name, seconds in timings.items():
    slope, intercept = np.polyfit(np.log(time_lengths), np.log(seconds), deg=1)
    exponents[name] = float(slope)
    print(f"{name:5s}: time ~ n^{slope:.2f}")
assert all(np.isfinite(p) for p in exponents.values())


def compared_with_two(p, tolerance=0.1):
    """Words for the text: where a fitted exponent sits relative to 2."""
    if p > 2 + tolerance:
        return "above 2"
    if p < 2 - tolerance:
        return "below 2"
    return "close to 2"


glue("p_naive", exponents["naive"])
glue("p_sdpa", exponents["sdpa"])
glue("p_naive_vs_2", compared_with_two(exponents["naive"]))
glue("p_sdpa_vs_2", compared_with_two(exponents["sdpa"]))
# The size of the n x n weights the textbook version writes out (H heads, fp32).
weights_mib = [H * m * m * 4 / 2**20 for m in time_lengths]
glue("time_n_first", time_lengths[0])
glue("time_n_last", time_lengths[-1])
glue("weights_mib_first", weights_mib[0])
glue("weights_mib_last", weights_mib[-1])
print("weights written by the textbook version:")
print(f"  {weights_mib[0]:g} MiB at n = {time_lengths[0]},", end=" ")
print(f"{weights_mib[-1]:g} MiB at n = {time_lengths[-1]}")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
for name, seconds in timings.items():
    label = f"{name} (fitted exponent {exponents[name]:.2f})"
    ax.plot(time_lengths, seconds, "o-", color=COLOURS[name], label=label)
guide = [timings["naive"][-1] * (m / time_lengths[-1]) ** 2 for m in time_lengths]
ax.plot(time_lengths, guide, "k--", label="slope 2 (quadratic)")
log_log(ax)
ax.set_xlabel("sequence length n")
ax.set_ylabel("seconds per call")
ax.set_title(f"Attention time vs length ({H} heads, d_k = {d_k})")
ax.legend()
plt.show()

# %% [markdown]
# Look at the slopes: on this machine the textbook version grew as
# $n^{\,p}$ with $p$ = {glue:text}`p_naive:.2f` ({glue:text}`p_naive_vs_2`) and
# SDPA with $p$ = {glue:text}`p_sdpa:.2f` ({glue:text}`p_sdpa_vs_2`). The
# arithmetic is $n^2$ multiply-adds, so 2 is the exponent of the *work*; the clock
# can miss it either way. At small $n$ fixed costs (calling into PyTorch,
# starting threads) flatten the curve and pull the fitted exponent below 2. At
# large $n$ the textbook version's weights outgrow the CPU's caches: they take
# {glue:text}`weights_mib_first:g` MiB at $n$ = {glue:text}`time_n_first` but
# {glue:text}`weights_mib_last:g` MiB at $n$ = {glue:text}`time_n_last`, so
# each weight written and read back costs a trip to the slower main memory,
# and the time per element grows with $n$. That is the likely reason for an
# exponent above 2 (this chapter does not measure the memory traffic itself). A
# busy machine adds noise on top. SDPA is faster, because it fuses the steps and
# never writes the weights to memory, but it is *still quadratic*: a fused kernel
# does the same $n^2$ work, only more efficiently.
#
# The heads, by the way, cost nothing extra in calls: the $H$ heads are one
# batched matrix product. A Python loop over the heads does the same arithmetic
# in $H$ separate calls:

# %%
length, many_heads = time_lengths[1], 8
q, k, v = (torch.randn(1, many_heads, length, d_k, device=device) for _ in range(3))


def loop_over_heads(q, k, v):
    heads = [
        F.scaled_dot_product_attention(
            q[:, h : h + 1],
            k[:, h : h + 1],
            v[:, h : h + 1],
        )
        for h in range(q.shape[1])
    ]
    return torch.cat(heads, dim=1)  # (N, H, L, Ev)


torch.testing.assert_close(
    loop_over_heads(q, k, v),
    F.scaled_dot_product_attention(q, k, v),
)
batched = time_call(F.scaled_dot_product_attention, q, k, v, repeats=repeats)
looped = time_call(loop_over_heads, q, k, v, repeats=repeats)
print(
    f"n = {length}: {many_heads} heads in one call {1e3 * batched:.2f} ms, "
    f"in a loop {1e3 * looped:.2f} ms"
)

# %% [markdown]
# (online-softmax)=
# ## Exact attention without the matrix: the online softmax
#
# The memory wall comes from *storing* the $n \times n$ weights. Do we have to?
# Each output row is $o_i = \sum_j a_{ij} v_j$ with
# $a_{ij} = e^{s_{ij}} / \sum_{j'} e^{s_{ij'}}$, so a row needs its whole row of
# scores before the first weight is known, because of the denominator. The trick
# of FlashAttention {cite}`dao2022flashattention` is to walk through the scores in
# chunks and keep three running quantities per row, correcting them whenever a new
# chunk changes the picture.
#
# ### One row of scores
#
# Start with a vector of scores $s_1, \dots, s_S$ and the numerically stable
# softmax $p_j = e^{s_j - m} / \ell$, where $m = \max_j s_j$ and
# $\ell = \sum_j e^{s_j - m}$. Read the scores chunk by chunk, keeping the
# maximum $m$ and the denominator $\ell$ *of what has been seen so far*. When a
# chunk $c$ arrives:
#
# $$
# m' = \max\bigl(m, \max_{j \in c} s_j\bigr), \qquad
# \ell' = \ell \, e^{m - m'} + \sum_{j \in c} e^{s_j - m'} .
# $$
#
# The factor $e^{m - m'}$ is the whole trick: every term already in $\ell$ was
# computed as $e^{s_j - m}$, and multiplying by $e^{m - m'}$ turns it into
# $e^{s_j - m'}$, as if the new maximum had been known from the start. Start from
# $m = -\infty$, $\ell = 0$.

# %%
scores = torch.tensor([1.0, 3.0, 0.5, 4.0, 2.0, 8.0, 1.5, 0.0, 5.0, 2.5])
chunk = 3
m, ell = -math.inf, 0.0  # running maximum and running denominator
for start in range(0, len(scores), chunk):
    c = scores[start : start + chunk]
    m_new = max(m, c.max().item())
    ell = ell * math.exp(m - m_new) + torch.exp(c - m_new).sum().item()
    m = m_new
    print(f"after {c.tolist()}: m = {m:.1f}, ell = {ell:.4f}")
p = torch.exp(scores - m) / ell
torch.testing.assert_close(p, torch.softmax(scores, dim=0))
print("online softmax == torch.softmax")

# %% [markdown]
# Watch $m$ jump from 3 to 4 to 8: each time, the sum so far is rescaled, and at
# the end $m$ and $\ell$ are exactly the maximum and the denominator of the whole
# row.
#
# ### Values, too
#
# We do not even need the probabilities at the end: what attention returns is
# $o = \sum_j p_j v_j = \frac{1}{\ell}\sum_j e^{s_j - m} v_j$. Keep an
# unnormalised accumulator $\mathrm{acc} = \sum_j e^{s_j - m} v_j$ and correct it
# with the same factor:
#
# $$
# \mathrm{acc}' = \mathrm{acc}\, e^{m - m'} + \sum_{j \in c} e^{s_j - m'} v_j ,
# \qquad o = \mathrm{acc} / \ell \text{ after the last chunk.}
# $$

# %%
values = torch.randn(len(scores), 2)  # one value vector (of size 2) per key
m, ell, acc = -math.inf, 0.0, torch.zeros(2)
for start in range(0, len(scores), chunk):
    c, vc = scores[start : start + chunk], values[start : start + chunk]
    m_new = max(m, c.max().item())
    e = torch.exp(c - m_new)  # this chunk's unnormalised weights
    ell = ell * math.exp(m - m_new) + e.sum().item()
    acc = acc * math.exp(m - m_new) + e @ vc
    m = m_new
out = acc / ell
torch.testing.assert_close(out, torch.softmax(scores, dim=0) @ values)
print("online attention for one query:", out)

# %% [markdown]
# ### Tiles
#
# Now do it for all queries at once: $m$, $\ell$ and $\mathrm{acc}$ become one
# entry (or row) per query, and a chunk becomes a *tile* of `block` keys. Only an
# $L \times \text{block}$ tile of scores exists at any moment; the full
# $L \times S$ matrix never does.


# %%
def tiled_attention_simple(q, k, v, block):
    """Exact attention, visiting the keys `block` at a time.

    q: (L, E), k: (S, E), v: (S, Ev).
    """
    L, E = q.shape
    q = q / math.sqrt(E)
    m = torch.full((L, 1), -math.inf, device=q.device)  # running max per query
    ell = torch.zeros(L, 1, device=q.device)  # running denominator per query
    acc = torch.zeros(L, v.shape[-1], device=q.device)  # running unnormalised output
    for j in range(0, k.shape[0], block):
        s = q @ k[j : j + block].T  # (L, block): one tile of scores
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))  # (L, 1)
        e = torch.exp(s - m_new)  # (L, block)
        correction = torch.exp(m - m_new)  # rescales what earlier tiles added
        ell = ell * correction + e.sum(dim=-1, keepdim=True)
        acc = acc * correction + e @ v[j : j + block]
        m = m_new
    return acc / ell  # (L, Ev)


q, k, v = (torch.randn(300, 32, device=device) for _ in range(3))
out = tiled_attention_simple(q, k, v, block=64)  # 300 is not a multiple of 64: fine
expected = F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
torch.testing.assert_close(out, expected)
print("tiled == SDPA; largest tile of scores:", (300, 64), "instead of", (300, 300))

# %% [markdown]
# ```{warning}
# Two slips are easy here. Forgetting the correction factor gives outputs that look
# plausible but are wrong whenever a later tile holds a larger score. And starting
# from $m = 0$ instead of $-\infty$, or skipping the maximum altogether, works on
# small scores and overflows `exp` on large ones (in float32, `exp` of a score of
# a few hundred is already `inf`); the maximum keeps every exponent at or below zero.
# ```
#
# `attnbook.efficient.tiled_attention` is the same recurrence, grown up: it also
# cuts the queries into tiles, takes any batch of heads `(N, H, L, E)` and masks,
# skips the tiles that lie wholly in the future when `is_causal=True`, and has its
# own backward pass that *recomputes* each tile of weights from $Q$, $K$, $V$, the
# output and the per-row $\log \ell + m$ instead of storing them. From here on we
# use the library's version.

# %%
torch.testing.assert_close(
    tiled_attention(q[None], k[None], v[None], block_q=64, block_k=64)[0], out
)
qg, kg, vg = (
    torch.randn(
        1,
        2,
        200,
        16,
        dtype=torch.float64,
        requires_grad=True,
    )
    for _ in range(3)
)
grads_tiled = torch.autograd.grad(
    tiled_attention(qg, kg, vg, is_causal=True, block_q=48, block_k=48).sum(),
    (qg, kg, vg),
)
grads_torch = torch.autograd.grad(
    F.scaled_dot_product_attention(qg, kg, vg, is_causal=True).sum(), (qg, kg, vg)
)
for mine, theirs in zip(grads_tiled, grads_torch, strict=True):
    torch.testing.assert_close(mine, theirs)
print("tiled_attention: same outputs and same gradients as torch")

# %% [markdown]
# ### What the backward pass keeps
#
# Training needs more memory than inference: autograd saves tensors during the
# forward pass for use in the backward pass. PyTorch lets us watch exactly what is
# saved, with `torch.autograd.graph.saved_tensors_hooks`. We add up the bytes of
# every saved tensor, apart from the inputs $Q, K, V$ themselves:


# %%
def saved_bytes(fn, length, heads=H):
    """Bytes that autograd saves for the backward pass of fn(q, k, v).

    The inputs themselves are excluded.
    """
    q, k, v = (
        torch.randn(
            1,
            heads,
            length,
            d_k,
            device=device,
            requires_grad=True,
        )
        for _ in range(3)
    )
    inputs = {x.untyped_storage().data_ptr() for x in (q, k, v)}
    saved = {}

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(q, k, v)
    return sum(size for ptr, size in saved.items() if ptr not in inputs)


saved = {
    name: [saved_bytes(fn, length) for length in memory_lengths]
    for name, fn in [
        ("naive", naive_attention),
        ("tiled", tiled_attention),
        ("sdpa", F.scaled_dot_product_attention),
    ]
}
for i, length in enumerate(memory_lengths):
    cells = [f"{name} {sizes[i] / 2**20:7.2f} MiB" for name, sizes in saved.items()]
    print(f"n = {length:5d}: " + "   ".join(cells))
assert saved["naive"][-1] == H * memory_lengths[-1] ** 2 * 4  # exactly the weights
glue("saved_ratio", saved["naive"][-1] / saved["tiled"][-1])

# %% [markdown]
# The textbook version saves the whole weight matrix (it grows four times per
# doubling), the tiled version only its output and one number per row (two times
# per doubling): at the largest length here it saves
# {glue:text}`saved_ratio:.0f` times less. PyTorch's fused kernel keeps the same
# small set as ours.
#
# ### How fast is tiling?
#
# Exactness and small memory are guaranteed by the maths. Speed is an engineering
# question: the tiles must be large enough for the matrix products to run at full
# speed, and small enough to stay in fast memory. The repository's benchmark,
# `benchmarks/efficient_attention.py`, measures each method in a fresh process on
# the machine that built this book; here is what it recorded (the file is only
# there when you run the chapter from a copy of the repository):


# %%
def find_benchmark(name="efficient_attention_cpu.json"):
    for folder in (Path("../benchmarks/results"), Path("benchmarks/results")):
        if (folder / name).is_file():
            return json.loads((folder / name).read_text())
    return None


bench = find_benchmark()
if bench is None:
    print(
        "benchmarks/results/efficient_attention_cpu.json is not here "
        "(for example on Colab): skip to the live timing below"
    )
else:
    rows = [r for r in bench["results"] if "error" not in r and not r["causal"]]
    setup = bench["setup"]
    print(f"recorded on {bench['environment']['device']}, {bench['date']},")
    print(f"N={setup['N']}, H={setup['H']}, E={setup['E']}, fp32")
    header = ("method", "mode", "n", "median ms", "x SDPA", "peak MiB")
    print("{:>6} {:>16} {:>5} {:>10} {:>7} {:>9}".format(*header))
    unmeasured = []  # rows whose memory reading is missing or zero
    for r in sorted(rows, key=lambda r: (r["mode"], r["method"], r["n"])):
        if r["method"] not in ("naive", "sdpa", "tiled"):
            continue
        memory = f"{r['peak_mib']:9.1f}" if r["peak_mib"] else f"{'— (*)':>9}"
        if not r["peak_mib"]:
            unmeasured.append(r)
        print(
            f"{r['method']:>6} {r['mode']:>16} {r['n']:5d} {r['median_ms']:10.2f} "
            f"{r['ratio_to_sdpa']:7.2f} {memory}"
        )
    note = (
        "the record says {mib} MiB, but the output alone takes {out:g} MiB. The CPU "
        "benchmark measures memory as the growth of the process's resident size during "
        "the call; it did not grow here, most likely because the call reused memory "
        "the process already held (buffers freed while the inputs were made), so the "
        "reading is left out of the table and of the memory panel below."
    )
    for r in unmeasured:
        out = setup["N"] * setup["H"] * r["n"] * setup["E"] * 4 / 2**20  # MiB, fp32
        text = note.format(mib=r["peak_mib"], out=out)
        print(f"(*) {r['method']} {r['mode']}, n = {r['n']}:")
        print(
            textwrap.fill(
                text,
                width=76,
                initial_indent="    ",
                subsequent_indent="    ",
            )
        )

# %%
if bench is not None:
    fig, axes = plt.subplots(1, 2, figsize=(8.5, 4.4), layout="constrained")
    for name, marker in (("naive", "o"), ("sdpa", "s"), ("tiled", "^")):
        for mode, line in (("forward", "-"), ("forward_backward", "--")):
            pts = sorted(
                (r["n"], r["median_ms"], r["peak_mib"])
                for r in rows
                if r["method"] == name and r["mode"] == mode
            )
            if not pts:
                continue
            ns, ms, mib = zip(*pts, strict=True)
            label = name + (" fwd+bwd" if mode == "forward_backward" else "")
            style = {"marker": marker, "linestyle": line, "color": COLOURS[name]}
            axes[0].plot(ns, ms, label=label, **style)
            # the rows marked (*) have no reading: plot the others
            measured = [(n, x) for n, x in zip(ns, mib, strict=True) if x]
            axes[1].plot(*zip(*measured, strict=True), **style)
    for ax in axes:
        log_log(ax)
    axes[0].set(xlabel="sequence length n", ylabel="median ms per call", title="time")
    axes[1].set(
        xlabel="sequence length n",
        ylabel="peak extra memory (MiB)",
        title="memory",
    )
    fig.legend(loc="outside lower center", ncols=3, fontsize=9)
    fig.suptitle("Committed benchmark: exact attention three ways (not causal, fp32)")
    plt.show()
    print("exponents fitted to the two largest lengths (time, memory):")
    for name in ("naive", "sdpa", "tiled"):
        for mode in ("forward", "forward_backward"):
            pts = sorted(
                (r["n"], r["median_ms"], r["peak_mib"])
                for r in rows
                if r["method"] == name and r["mode"] == mode
            )[-2:]
            if len(pts) < 2:
                continue
            (n0, t0, m0), (n1, t1, m1) = pts
            memory = (
                f"{math.log(m1 / m0) / math.log(n1 / n0):5.2f}"
                if m0 and m1 and m0 > 0 and m1 > 0
                else "  n/a"
            )
            time_exponent = math.log(t1 / t0) / math.log(n1 / n0)
            print(f"  {name:>5} {mode:>16}: time {time_exponent:5.2f}, memory {memory}")

# %% [markdown]
# What to look for: in the memory panel, the textbook version's extra memory grows
# with slope 2 (it holds the weights), while the tiled version and SDPA hold only
# tiles, outputs and row statistics, so at large $n$ their memory grows with slope
# 1 at most (at small $n$ fixed buffers dominate and the curves are flat). In the
# time panel all three are quadratic: tiling saves memory, not arithmetic. The
# printed exponents give the slopes between the two largest lengths. Now a small
# live timing on your machine, with the same inputs for the three exact methods:

# %%
live = {"naive": [], "sdpa": [], "tiled": []}
print("time per call in ms:")
for length in time_lengths[1:3]:
    q, k, v = (torch.randn(1, H, length, d_k, device=device) for _ in range(3))
    live["naive"].append(time_call(naive_attention, q, k, v, repeats=repeats))
    live["sdpa"].append(
        time_call(F.scaled_dot_product_attention, q, k, v, repeats=repeats),
    )
    live["tiled"].append(time_call(tiled_attention, q, k, v, repeats=repeats))
    print(
        f"n = {length:5d}: "
        + "  ".join(f"{name} {1e3 * t[-1]:7.2f}" for name, t in live.items())
        + f"   tiled / SDPA = {live['tiled'][-1] / live['sdpa'][-1]:.2f}"
    )

# %% [markdown]
# Our tiled attention is plain PyTorch: a Python loop over tiles calling matrix
# products. PyTorch's kernel is the same algorithm in C++ (or CUDA), so it pays no
# Python overhead per tile; on a CPU, being within a small factor of it is what a
# readable version can hope for.
#
# A GPU changes the picture. The repository also holds the same benchmark run on a
# GPU (an NVIDIA H200 lent to the project for one session, float32). Side by side,
# the forward time of our tiled attention divided by SDPA's, and the peak memory of
# forward and backward relative to the textbook version's, both not causal:


# %%
def tiled_vs_sdpa(record):
    """n -> (tiled / SDPA forward time, tiled / naive fwd+bwd peak), not causal."""
    rows = [r for r in record["results"] if "error" not in r and not r["causal"]]
    time_ratio = {
        r["n"]: r["ratio_to_sdpa"]
        for r in rows
        if r["method"] == "tiled" and r["mode"] == "forward"
    }
    both_ways = [r for r in rows if r["mode"] == "forward_backward"]
    peaks = {(r["method"], r["n"]): r["peak_mib"] for r in both_ways}
    return {
        n: (ratio, peaks[("tiled", n)] / peaks[("naive", n)] if peaks[("naive", n)] else None)
        for n, ratio in time_ratio.items()
    }


gpu_bench = find_benchmark("efficient_attention_cuda.json")
if bench is None or gpu_bench is None:
    print("the committed CPU and GPU records are not both here: skip this table")
else:
    cpu_rows, gpu_rows = tiled_vs_sdpa(bench), tiled_vs_sdpa(gpu_bench)
    print("CPU:", bench["environment"]["device"])
    print("GPU:", gpu_bench["environment"]["device"])
    print(f"{'':>5}  {'tiled / SDPA time':>19}  {'tiled / naive peak':>19}")
    print(f"{'n':>5}  {'CPU':>9} {'GPU':>9}  {'CPU':>9} {'GPU':>9}")
    for n in sorted(cpu_rows.keys() & gpu_rows.keys()):
        (cpu_t, cpu_m), (gpu_t, gpu_m) = cpu_rows[n], gpu_rows[n]
        cpu_m = f"{cpu_m:9.3f}" if cpu_m else f"{'—':>9}"
        print(f"{n:5d}  {cpu_t:9.2f} {gpu_t:9.2f}  {cpu_m} {gpu_m:9.3f}")
    big = max(cpu_rows.keys() & gpu_rows.keys())
    glue("gpu_tiled_over_sdpa", gpu_rows[big][0])
    glue("cpu_tiled_over_sdpa", cpu_rows[big][0])
    glue("gpu_big_n", big)

# %% [markdown]
# The memory columns agree: on both machines the tiled version's share of the
# textbook version's memory shrinks as $n$ grows, because that saving is
# arithmetic, not engineering. The time columns do not. At $n$ = {glue:text}`gpu_big_n` our loop takes
# {glue:text}`cpu_tiled_over_sdpa:.2f` times SDPA's time on the CPU but
# {glue:text}`gpu_tiled_over_sdpa:.0f` times on the GPU. A GPU finishes one tile's
# matrix product in microseconds, so the few small kernels a Python loop launches
# per tile cost more than their arithmetic, while PyTorch's fused kernel (for
# float32 its memory-efficient kernel; FlashAttention {cite}`dao2022flashattention`
# for half precision) handles every tile in one launch and keeps each tile in the
# fast on-chip memory. That is where FlashAttention earns its name: the algorithm
# is the one you just wrote, and its speed comes from where the tiles live.
#
# (approximations)=
# ## Cheaper, but no longer exact
#
# Tiling keeps the $n^2$ arithmetic. To cut the arithmetic itself, a model has to
# *skip* pairs or *summarise* them. Four families, all in `attnbook.efficient`:
#
# - **local windows** {cite}`beltagy2020longformer`: query $i$ sees only keys
#   with $|i - j| \le w$. Cost $O(n w)$.
# - **strided (sparse) patterns** {cite}`child2019generating`: a local band plus
#   every $r$-th key, so any token is reachable in two steps. With
#   $r \approx \sqrt{n}$ the cost is $O(n \sqrt{n})$.
# - **linear attention** {cite}`katharopoulos2020transformers`: replace
#   $e^{q \cdot k}$ by a product of positive features $\phi(q) \cdot \phi(k)$.
#   Then $\sum_j (\phi(q_i) \cdot \phi(k_j)) v_j = \phi(q_i)^\top \bigl(\sum_j
#   \phi(k_j) v_j^\top\bigr)$: the bracket is computed once, cost $O(n)$.
# - **hierarchical**: exact inside a query's block, and one summary (the mean key
#   and mean value) for every other block. Blocks of $\sqrt{n}$ give
#   $O(n\sqrt{n})$.
#
# Which keys does a query see? Here are the patterns for 32 positions (a dark cell:
# the query of that row sees the key of that column; for the hierarchical pattern
# a mid-grey cell is a key seen only through its block's summary):

# %%
size, block = 32, 8
block_id = torch.arange(size) // block
# hier: 1.0 within the own block, 0.4 for the summaries
hier = torch.where(block_id[:, None] == block_id[None, :], 1.0, 0.4)
patterns = {
    "exact": torch.ones(size, size),
    "local window (w = 3)": local_window_mask(size, 3).float(),
    "strided (r = 6)": strided_mask(size, 6, causal=False).float(),
    "hierarchical (blocks of 8)": hier,
}
fig, axes = plt.subplots(2, 2, figsize=(6.8, 7), layout="constrained")
for ax, (title, pattern) in zip(axes.flat, patterns.items(), strict=True):
    ax.imshow(pattern.numpy(), cmap="Greys", vmin=0, vmax=1)
    seen = (pattern > 0.5).float().mean().item()
    ax.set(title=f"{title}\nexact pairs: {seen:.0%}", xlabel="key j", ylabel="query i")
plt.show()

# %% [markdown]
# The local and strided functions compute only the dark cells; they never build
# the full matrix and mask it. (A mask hides scores that were computed anyway: it
# saves no time.) Each returns the same result as dense attention under the
# matching mask:

# %%
q, k, v = (torch.randn(1, H, 256, d_k, device=device) for _ in range(3))
local_mask = local_window_mask(256, 16, device=device)
torch.testing.assert_close(
    sliding_window_attention(q, k, v, window=16),
    F.scaled_dot_product_attention(q, k, v, attn_mask=local_mask),
)
sparse_mask = strided_mask(256, 16, causal=False, device=device)
torch.testing.assert_close(
    strided_attention(q, k, v, stride=16, is_causal=False),
    F.scaled_dot_product_attention(q, k, v, attn_mask=sparse_mask),
)
print("sliding window and strided == dense attention under the same masks")

# %% [markdown]
# ### Cost, measured
#
# The same clock as before, at three lengths, with the window fixed at 64 keys
# each side and the strided and hierarchical sizes at $\sqrt{n}$:

# %%
variant_lengths = [256, 512] if FAST else [512, 1024, 2048]
window = 64


def variants(length):
    root = round(math.sqrt(length))
    return {
        "sdpa (exact)": F.scaled_dot_product_attention,
        "tiled (exact)": tiled_attention,
        "local window": lambda q, k, v: sliding_window_attention(q, k, v, window),
        "strided": lambda q, k, v: strided_attention(q, k, v, root, is_causal=False),
        "linear": linear_attention,
        "hierarchical": lambda q, k, v: hierarchical_attention(q, k, v, root),
    }


variant_times = {name: [] for name in variants(1)}
for length in variant_lengths:
    q, k, v = (torch.randn(1, H, length, d_k, device=device) for _ in range(3))
    for name, fn in variants(length).items():
        variant_times[name].append(time_call(fn, q, k, v, repeats=repeats))
variant_slopes = {
    name: float(np.polyfit(np.log(variant_lengths), np.log(t), 1)[0])
    for name, t in variant_times.items()
}
length_columns = "".join(f"{f'n={m}':>11}" for m in variant_lengths)
print(f"{'method':>15}" + length_columns + "   exponent")
for name, t in variant_times.items():
    times_row = "".join(f"{1e3 * x:9.2f}ms" for x in t)
    print(f"{name:>15}" + times_row + f"   {variant_slopes[name]:6.2f}")

# %%
fig, ax = plt.subplots(figsize=(6.5, 4.2))
for name, t in variant_times.items():
    colour = COLOURS[name.removesuffix(" (exact)")]
    ax.plot(
        variant_lengths,
        t,
        "o-",
        color=colour,
        label=f"{name} ({variant_slopes[name]:.2f})",
    )
log_log(ax)
ax.set(
    xlabel="sequence length n",
    ylabel="seconds per call",
    title="Exact vs approximate attention (fitted exponent)",
)
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# Compare the exponents in the legend with what the costs predict: about 2 for the
# exact methods, about 1 for the window and linear attention, about 1.5 for the
# $\sqrt{n}$ designs. At these modest lengths the constant factors still matter as
# much as the exponents (a fused quadratic kernel in C++ can beat a linear method
# written in plain PyTorch, and fixed costs flatten the small-$n$ end of every
# curve), which is why the cheaper variants pay off mainly for long inputs; the
# committed benchmark above goes to longer ones.
#
# ### Accuracy: what is lost
#
# The price of skipping pairs depends on where the attention *would have gone*.
# We compare each method with exact attention on two kinds of input at one length:
# independent random queries and keys, where exact attention spreads its weight
# over the whole sequence; and "local" inputs whose queries and keys carry a
# positional signal (sines and cosines of the position, as in
# {doc}`chapter 08 <08_positional_encoding>`), so that
# exact attention concentrates near the diagonal, as it often does in trained
# language models. The error is measured per query as
# $\lVert o_i - o_i^{\text{exact}} \rVert / \lVert o_i^{\text{exact}} \rVert$,
# averaged over queries.


# %%
def make_inputs(kind, length, heads=H, seed=1):
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(1, heads, length, d_k, generator=g)
    if kind == "random":
        q, k = (torch.randn(1, heads, length, d_k, generator=g) for _ in range(2))
    else:  # "local": q_i . k_j is largest at j = i and decays with |i - j|
        pos = torch.arange(length, dtype=torch.float32)[:, None]  # (n, 1)
        angles = pos * torch.logspace(-3, 0, d_k // 2)  # (n, d_k / 2)
        p = torch.cat([angles.sin(), angles.cos()], dim=-1)  # (n, d_k)
        noise_shape = (1, heads, length, d_k)
        q, k = (1.5 * p + 0.5 * torch.randn(noise_shape, generator=g) for _ in range(2))
    return tuple(x.to(device) for x in (q, k, v))


def relative_error(out, exact):
    return ((out - exact).norm(dim=-1) / exact.norm(dim=-1)).mean().item()


error_length = 512 if FAST else 1024
errors = {}
for kind in ("random", "local"):
    q, k, v = make_inputs(kind, error_length)
    exact, weights = scaled_dot_product_attention(q, k, v, need_weights=True)
    near = local_window_mask(error_length, window, device=device)
    in_window = (weights * near).sum(-1).mean().item()  # exact weight inside the window
    methods = variants(error_length).items()
    errors[kind] = {name: relative_error(fn(q, k, v), exact) for name, fn in methods}
    print(
        f"{kind} inputs: exact attention puts {in_window:.0%} of its weight within "
        f"{window} positions"
    )
    glue(f"in_window_{kind}", 100 * in_window)
print(f"\n{'method':>15} {'random':>10} {'local':>10}")
for name in errors["random"]:
    print(f"{name:>15} {errors['random'][name]:10.2e} {errors['local'][name]:10.2e}")
random_errors, local_errors = errors["random"], errors["local"]
assert random_errors["tiled (exact)"] < 1e-5 and local_errors["tiled (exact)"] < 1e-5
assert errors["local"]["local window"] < errors["random"]["local window"]

# %% [markdown]
# Read the table by column. On random inputs exact attention puts only
# {glue:text}`in_window_random:.0f`% of its weight inside the window, so the window,
# which drops the rest, is far off. On local inputs the window holds
# {glue:text}`in_window_local:.0f`% of the weight and the local window becomes a
# good approximation. The tiled method is exact in both columns (the errors are
# float32 rounding). Linear attention is far off on both kinds of input: it is a *different*
# weighting (no exponential, hence much flatter weights), not an approximation of
# the softmax, and models that use it are trained with it from the start.
#
# ```{warning}
# An "efficient attention" method that is fast on your benchmark can still change
# what the model computes. Always measure both: the time, and the distance from
# exact attention *on inputs like yours*. Random inputs make every sparse method
# look bad and flat attention makes every method look good.
# ```
#
# (cost-explorer)=
# ## Explore the cost
#
# The explorer below holds the times measured in this chapter on your machine
# (the log-log chart, with each method's fitted slope) and recomputes the weight
# count and memory for the length, heads, layers, batch and precision you choose.
# Try 10,000 tokens with 12 heads and 12 layers in fp32, then in fp16; then drag
# the length and watch memory grow four times per doubling.

# %%
records = [
    {"method": name, "n": length, "seconds": t}
    for name, ts in timings.items()
    for length, t in zip(time_lengths, ts, strict=True)
]
records += [
    {"method": name, "n": length, "seconds": t}
    for name, ts in variant_times.items()
    if name != "sdpa (exact)"
    for length, t in zip(variant_lengths, ts, strict=True)
]
explorer = CostExplorer(
    records,
    seq_len=10_000,
    num_heads=12,
    num_layers=12,
    source=f"measured in this chapter on {describe_device(device)}",
)
assert explorer.counts()["weights_per_head"] == weights_per_head
assert explorer.counts()["bytes_total"] == training_bytes
explorer

# %% [markdown]
# ## Summary
#
# - One head over $n$ tokens holds $n^2$ weights: 10,000 tokens make
#   {glue:text}`weights_10k:,` of them, {glue:text}`mb_fp32_10k:,.0f` MB in
#   float32, per head, per layer, per sequence.
# - Time grows as $n^2$ as well; fitted on log-log axes, the exponent comes out
#   near 2 once $n$ is large enough for the quadratic work to dominate.
# - The online softmax keeps a running maximum $m$, denominator $\ell$ and
#   accumulator, rescaling by $e^{m - m'}$ when the maximum grows. Tiled
#   (FlashAttention-style) attention built on it is *exact*, and its memory grows
#   only linearly; its arithmetic is still quadratic.
# - Local windows, strided patterns, hierarchical summaries and linear attention
#   cut the arithmetic by skipping or summarising pairs. How much they change the
#   output depends on where exact attention would have looked.
#
# ## Exercises
#
# Each exercise has a self-check: call it with your function and it tells you what
# is wrong, or prints a success line. The solutions are hidden below each exercise.
#
# **1. Memory of one layer.** Write `attention_weight_bytes(seq_len, num_heads,
# batch_size, bytes_per_element)`, the bytes that one layer's attention weights
# occupy. The starting point below forgets something.


# %%
def attention_weight_bytes(seq_len, num_heads, batch_size, bytes_per_element):
    return seq_len * seq_len * num_heads * batch_size


check_attention_memory(attention_weight_bytes)


# %% tags=["hide-input"]
def attention_weight_bytes(seq_len, num_heads, batch_size, bytes_per_element):
    # Every sequence of the batch, in every head, holds an L x L matrix of weights.
    return batch_size * num_heads * seq_len**2 * bytes_per_element


check_attention_memory(attention_weight_bytes)

# %% [markdown]
# **2. Fit the exponent.** Write `fit_exponent(lengths, seconds)` that returns
# $p$ in $t \approx c\,n^p$ from measurements (`numpy.polyfit` helps). The
# starting point fits a line to the raw numbers.


# %%
def fit_exponent(lengths, seconds):
    slope, intercept = np.polyfit(lengths, seconds, deg=1)
    return slope


check_fit_exponent(fit_exponent)


# %% tags=["hide-input"]
def fit_exponent(lengths, seconds):
    # A power law is a straight line in log-log coordinates; its slope is the exponent.
    slope, intercept = np.polyfit(np.log(lengths), np.log(seconds), deg=1)
    return slope


check_fit_exponent(fit_exponent)

# %% [markdown]
# **3. Online softmax.** Write `online_softmax(scores, block_size)` that reads a
# 1-D tensor of scores `block_size` at a time, keeping only a running maximum and
# a running denominator, and returns the softmax of the whole vector. The starting
# point forgets one step of the recurrence.


# %%
def online_softmax(scores, block_size):
    m, ell = -math.inf, 0.0
    for start in range(0, len(scores), block_size):
        c = scores[start : start + block_size]
        m = max(m, c.max().item())
        ell = ell + torch.exp(c - m).sum().item()
    return torch.exp(scores - m) / ell


check_online_softmax(online_softmax)


# %% tags=["hide-input"]
def online_softmax(scores, block_size):
    m, ell = -math.inf, 0.0
    for start in range(0, len(scores), block_size):
        c = scores[start : start + block_size]
        m_new = max(m, c.max().item())
        ell = ell * math.exp(m - m_new) + torch.exp(c - m_new).sum().item()
        m = m_new
    return torch.exp(scores - m) / ell


check_online_softmax(online_softmax)

# %% [markdown]
# **4. Causal tiles.** Make `tiled_attention_simple` causal: query $i$ may see
# keys $j \le i$ only. Mask the scores of a tile that crosses the diagonal with
# $-\infty$, and, for full marks, skip the tiles that lie wholly after the last
# query (they would be all $-\infty$). Your function takes `(q, k, v, block)` with
# `q, k, v` of shape `(L, E)`. The starting point is the non-causal version.

# %%
check_causal_tiled_attention(tiled_attention_simple)


# %% tags=["hide-input"]
def causal_tiled_attention(q, k, v, block):
    L, E = q.shape
    q = q / math.sqrt(E)
    m = torch.full((L, 1), -math.inf, device=q.device)
    ell = torch.zeros(L, 1, device=q.device)
    acc = torch.zeros(L, v.shape[-1], device=q.device)
    rows = torch.arange(L, device=q.device)[:, None]  # (L, 1) query positions
    # keys after the last query: never seen
    for j in range(0, min(k.shape[0], L), block):
        # cols: key positions
        cols = torch.arange(j, min(j + block, k.shape[0]), device=q.device)
        s = (q @ k[j : j + block].T).masked_fill(cols > rows, -math.inf)  # (L, block)
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
        e = torch.exp(s - m_new)  # key 0 is in the first tile, so m_new is finite
        correction = torch.exp(m - m_new)
        ell = ell * correction + e.sum(dim=-1, keepdim=True)
        acc = acc * correction + e @ v[j : j + block]
        m = m_new
    return acc / ell


check_causal_tiled_attention(causal_tiled_attention)
