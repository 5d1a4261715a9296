# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Softmax: from scores to weights
#
# {doc}`Chapter 02 <02_dot_products>` gave us a *score* for every key: a dot product that is large when
# the key matches the query. Attention needs *weights*: numbers that are
# positive and add up to 1, so that it can take a weighted average. Softmax is
# the function that turns the one into the other. It is three lines of code,
# and it hides two traps that every practitioner falls into once: overflow and
# the wrong axis.

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
# - turn any list of scores into weights that are positive and sum to 1, and see why softmax uses $e^{x}$;
# - predict what the temperature $T$ does to the weights, and measure it with the entropy;
# - watch the naive softmax overflow in float32 and float16, and fix it by subtracting the maximum;
# - normalise over the right axis of a batch of scores;
# - check your softmax against `torch.softmax` and `attnbook.functional.softmax`.

# %%
import math

import matplotlib.pyplot as plt
import torch

from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_entropy,
    check_log_softmax,
    check_softmax,
    check_softmax_temperature,
)
from attnbook.functional import softmax
from attnbook.notebook import glue
from attnbook.viz import plot_weights_bar, use_book_style
from attnbook.widgets import SoftmaxExplorer

seed_everything(0)
device = default_device()
use_book_style()
print(describe_device(device))

# %% [markdown]
# ## Scores are not weights
#
# Take the sentence "The cat sat on the mat because it was comfortable". To
# understand "it", a model compares the *query* of "it" (what "it" is looking
# for) with the *key* of every earlier word (what each word offers), one dot
# product each; {doc}`chapter 04 <04_queries_keys_values>` shows where these
# vectors come from. Say the comparison gave the scores below: made-up numbers,
# chosen so that "mat" fits best and "cat" next.

# %%
tokens = ["The", "cat", "sat", "on", "the", "mat"]
scores = torch.tensor([-1.0, 2.0, 0.5, -0.5, -1.5, 3.0], device=device)  # (S,)
S = len(tokens)
assert scores.shape == (S,)
print(dict(zip(tokens, scores.tolist(), strict=True)))

# %% [markdown]
# The obvious way to turn scores into weights is to divide each by their sum.
# It fails: scores can be negative, so the "weights" can be negative too, or
# larger than 1.

# %%
naive = scores / scores.sum()
print("sum of the scores:", scores.sum().item())
print("scores / sum:", [round(w, 3) for w in naive.tolist()])
assert (naive < 0).any() and (naive > 1).any()  # not weights at all

# %% [markdown]
# Softmax first sends every score through the exponential $e^{x}$, which is
# positive for every $x$ and keeps the order (a larger score gives a larger
# $e^{x}$). Then it divides by the sum:
#
# $$\operatorname{softmax}(x)_i = \frac{e^{x_i}}{\sum_{j=1}^{S} e^{x_j}} .$$
#
# Here it is, written out.


# %%
def softmax_v1(x):
    """Softmax of a 1-D tensor, straight from the formula."""
    e = torch.exp(x)
    return e / e.sum()


weights = softmax_v1(scores)
for token, w in zip(tokens, weights.tolist(), strict=True):
    print(f"{token:>4}: {w:.3f}")

assert torch.all(weights > 0)
torch.testing.assert_close(weights.sum(), torch.tensor(1.0, device=device))
assert weights.argmax() == scores.argmax()  # the best score keeps the largest weight
torch.testing.assert_close(weights, torch.softmax(scores, dim=0))  # PyTorch agrees

glue("w_mat", weights[5].item(), display=False)
glue("w_cat", weights[1].item(), display=False)

# %% [markdown]
# All six weights are positive, they sum to 1, and "mat" gets the most,
# {glue:text}`w_mat:.3f`, with "cat" second at {glue:text}`w_cat:.3f`. The
# figure puts scores and weights side by side. Look at the gaps: a score one
# unit higher gets $e \approx 2.7$ times the weight, so softmax widens the
# lead of the best scores.

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.2), layout="constrained")
plot_weights_bar(
    tokens,
    scores,
    ax=left,
    title="scores of 'it'",
    ylabel="score",
    percent=False,
)
plot_weights_bar(tokens, weights, ax=right, title="softmax(scores)", ylabel="weight")
left.axhline(0, color="gray", linewidth=0.8)
plt.show()

# %% [markdown]
# ## Only the differences matter
#
# Add the same number $c$ to every score and the weights do not change: each
# $e^{x_i + c} = e^{x_i} e^{c}$, and the factor $e^{c}$ cancels between the
# top and the bottom of the fraction.

# %%
for c in (-5.0, 10.0, 50.0):
    torch.testing.assert_close(softmax_v1(scores + c), weights)
print("the same weights after adding -5, 10 and 50 to every score")
print("after adding 100:", softmax_v1(scores + 100.0))
assert torch.isnan(softmax_v1(scores + 100.0)).all()

# %% [markdown]
# Adding 100, though, returns `nan` everywhere. The maths says the weights
# cannot change, so the computer is at fault: we come back to this
# {ref}`below <softmax-overflow>`, and the fix uses the very property we just
# checked.

# %% [markdown]
# (softmax-temperature)=
# ## Temperature: how sharp the weights are
#
# Dividing the scores by a *temperature* $T > 0$ before the softmax changes
# how decisive the weights are:
#
# $$\operatorname{softmax}(x / T)_i = \frac{e^{x_i / T}}{\sum_j e^{x_j / T}} .$$
#
# A small $T$ stretches the gaps between scores, so the best one takes almost
# all the weight; a large $T$ shrinks the gaps, so the weights approach the
# uniform $1/S$. To put one number on "how spread out", we use the {term}`entropy`
# $-\sum_i p_i \ln p_i$ of the weights $p$: it is 0 when one weight is 1, and
# it is at most $\ln S$, reached by the uniform weights. (With the natural
# logarithm $\ln$, entropy is measured in *nats*.)


# %%
def entropy(p):
    """Entropy in nats of each distribution on the last axis; 0 · ln 0 counts as 0."""
    return -torch.special.xlogy(p, p).sum(-1)


temperatures = [0.25, 0.5, 1.0, 2.0, 4.0, 10.0]
print("   T  " + " ".join(f"{t:>6}" for t in tokens) + "  entropy")
for T in temperatures:
    p = softmax_v1(scores / T)
    row_text = " ".join(f"{w:6.3f}" for w in p.tolist())
    print(f"{T:5.2f} {row_text}  {entropy(p).item():.3f}")

sharp, flat = softmax_v1(scores / 0.25), softmax_v1(scores / 10.0)
assert entropy(sharp) < entropy(weights) < entropy(flat) < math.log(S)
glue("sharp_max", sharp.max().item(), display=False)
glue("flat_min", flat.min().item(), display=False)
glue("flat_max", flat.max().item(), display=False)
glue("uniform", 1 / S, display=False)
glue("ln_S", math.log(S), display=False)

# %% [markdown]
# At $T = 0.25$ "mat" takes {glue:text}`sharp_max:.3f` of the weight: nearly
# a hard choice, a spotlight on one word. At $T = 10$ every weight lies between
# {glue:text}`flat_min:.3f` and {glue:text}`flat_max:.3f`, close to the
# uniform {glue:text}`uniform:.3f`, and the entropy approaches its ceiling
# $\ln S =$ {glue:text}`ln_S:.3f`. The figure sweeps $T$ continuously.

# %%
T_grid = torch.logspace(-1.5, 1.5, 200, device=device)  # 0.03 .. 31.6
# P: (200, S), one row per temperature
P = softmax(scores[None, :] / T_grid[:, None], dim=-1)
fig, (left, right) = plt.subplots(1, 2, figsize=(8.5, 3.4), layout="constrained")
for i, token in enumerate(tokens):
    left.plot(
        T_grid.cpu(),
        P[:, i].cpu(),
        label=token,
        linestyle="--" if i == 4 else "-",
    )
left.set(
    xscale="log",
    xlabel="temperature T",
    ylabel="weight",
    title="weights vs temperature",
)
left.legend(ncol=2, fontsize=9)
right.plot(T_grid.cpu(), entropy(P).cpu(), color="black")
right.axhline(math.log(S), color="gray", linestyle=":", label="ln S (uniform)")
right.set(
    xscale="log",
    xlabel="temperature T",
    ylabel="entropy (nats)",
    title="entropy vs temperature",
)
right.legend()
plt.show()

# %% [markdown]
# On the left, read each curve from left to right: at low $T$ "mat" holds
# all the weight; as $T$ grows every curve moves towards $1/S$. On the right,
# the entropy climbs from 0 towards $\ln S$. Attention itself uses $T = 1$,
# but the same knob returns in {doc}`chapter 04 <04_queries_keys_values>`
# (where dividing by $\sqrt{d_k}$ acts as a temperature) and in {doc}`chapter 11 <11_decoder_only>`
# (sampling text).
#
# ### Try it
#
# The explorer below computes the same softmax in your browser. Move the
# temperature slider and watch the weights: towards $T = 0.05$ "mat" takes
# everything, towards $T = 5$ the bars level out. You can also type your own
# scores. Then press "set score 0 to 800", which gives "The" a score of 800,
# and compare the columns "naive p" and "stable p" of the table: the naive
# softmax computes $e^{800}$, which is infinite even in float64, and returns
# `NaN`; the stable one, explained next, does not.

# %%
SoftmaxExplorer(scores=scores.tolist(), labels=tokens, temperature=1.0)

# %% [markdown]
# (softmax-overflow)=
# ## Overflow, and the max-subtraction trick
#
# A computer stores numbers with a fixed number of bits, so there is a
# largest one. Past it, $e^{x}$ becomes `inf`, and `inf / inf` is `nan`.
# Let us find where that happens for the two float types attention uses.

# %%
for dtype in (torch.float32, torch.float16):
    largest = torch.finfo(dtype).max
    limit = math.log(largest)
    print(f"{str(dtype):14} largest number {largest:.4g}", end=" -> ")
    print(f"exp(x) overflows above x = {limit:.2f}")

big = torch.tensor([1000.0, 999.0, 0.0], device=device)
print("float32, scores [1000, 999, 0]:", softmax_v1(big))
half = torch.tensor([12.0, 11.0, 0.0], device=device, dtype=torch.float16)
print("float16, scores [12, 11, 0]:   ", softmax_v1(half))
assert torch.isnan(softmax_v1(big)).any() and torch.isnan(softmax_v1(half)).any()

# How often does a score pass float16's limit? Dot products of random
# d_k-dimensional vectors with standard-normal entries, as in chapter 04:
d_k = 64
# q, k: (10000, d_k) each, 10,000 query-key pairs
q, k = torch.randn(2, 10_000, d_k, device=device)
limit16 = math.log(torch.finfo(torch.float16).max)
share_over = ((q * k).sum(-1) > limit16).float().mean().item()
print(f"share of such dot products above {limit16:.2f}: {share_over:.1%}")
glue("share_over", 100 * share_over, display=False)
glue("limit16", limit16, display=False)
glue("d_k_random", d_k, display=False)

# %% [markdown]
# In float16, any score above {glue:text}`limit16:.2f` breaks the naive
# formula (our example used 12), and such scores are common:
# {glue:text}`share_over:.0f`% of the dot products of random
# {glue:text}`d_k_random`-dimensional vectors pass the limit. Large models are routinely
# trained in 16-bit floats.
#
# The fix follows from the previous section: subtracting the same number from
# every score changes nothing, so subtract the *largest* score $m = \max_j x_j$.
# Now every exponent is at most 0, every $e^{x_i - m}$ lies between 0 and 1,
# and at least one of them is exactly $e^{0} = 1$, so the sum is never 0.
#
# $$\operatorname{softmax}(x)_i = \frac{e^{x_i - m}}{\sum_j e^{x_j - m}}, \qquad m = \max_j x_j .$$
#
# The version below also takes a `dim` argument, because attention applies
# softmax to a whole matrix of scores at once. `keepdim=True` keeps the reduced
# axis with size 1, so that each row subtracts its own maximum.


# %%
def stable_softmax(x, dim=-1):
    """Softmax along ``dim`` that cannot overflow: subtract the maximum first."""
    # m: (..., 1, ...), the reduced axis kept with size 1
    m = x.amax(dim=dim, keepdim=True)
    e = torch.exp(x - m)  # every exponent <= 0, so every e <= 1
    return e / e.sum(dim=dim, keepdim=True)


print("float32, scores [1000, 999, 0]:", stable_softmax(big))
print("float16, scores [12, 11, 0]:\n   ", stable_softmax(half))
tiny = torch.tensor([-1000.0, -1001.0], device=device)
print("float32, scores [-1000, -1001]: naive ", softmax_v1(tiny))
print(f"{'stable':>38}", stable_softmax(tiny))

# Same answer as before on ordinary scores, and finite on extreme ones.
torch.testing.assert_close(stable_softmax(scores), weights)
torch.testing.assert_close(stable_softmax(big), torch.softmax(big, dim=-1))
torch.testing.assert_close(
    stable_softmax(half),
    torch.softmax(half.float(), dim=-1).half(),
)
assert torch.isfinite(stable_softmax(tiny)).all()

# %% [markdown]
# The last line shows the mirror problem, *underflow*: scores of $-1000$ make
# every $e^{x}$ round to 0, and $0/0$ is `nan` too. Subtracting the maximum
# fixes both.
#
# :::{admonition} Overflow in `exp`
# :class: warning
# Never compute `torch.exp(scores)` on raw attention scores. Use
# `torch.softmax`, `torch.log_softmax` or `attnbook.functional.softmax`, which
# subtract the maximum for you. A `nan` that appears "at random" during
# training, often only in float16, is very often this.
# :::

# %% [markdown]
# (softmax-axis)=
# ## A batch of scores, and the right axis
#
# In attention there is not one query but $L$ of them, each with a score for
# each of the $S$ keys: an $L \times S$ matrix, one row per query. Each query
# needs its own weights, so softmax must normalise **each row**: along the last
# axis, `dim=-1`.

# %%
L = 3
score_matrix = torch.randn(L, S, device=device) * 2  # (L, S): row i = query i's scores
right_axis = stable_softmax(score_matrix, dim=-1)  # (L, S)
wrong_axis = stable_softmax(score_matrix, dim=0)  # (L, S), normalised down each column
print("dim=-1 row sums:   ", right_axis.sum(dim=-1))
print("dim=0  row sums:   ", wrong_axis.sum(dim=-1))
print("dim=0  column sums:", wrong_axis.sum(dim=0))
torch.testing.assert_close(right_axis.sum(dim=-1), torch.ones(L, device=device))
assert not torch.allclose(wrong_axis.sum(dim=-1), torch.ones(L, device=device))

# %% [markdown]
# :::{admonition} Softmax over the wrong axis
# :class: warning
# `dim=0` runs without an error and returns numbers between 0 and 1, yet each
# query's weights no longer sum to 1: the softmax mixed the queries together.
# In attention the scores have shape `(..., L, S)` and the softmax goes over
# the keys, `dim=-1`. Always pass `dim` explicitly (`torch.softmax(x)` without
# it is refused; `F.softmax(x)` and `nn.Softmax()` without it warn and guess), and check
# that the rows sum to 1.
# :::

# %% [markdown]
# ## The library's softmax
#
# From now on the book uses `attnbook.functional.softmax(x, dim=-1, temperature=1.0)`.
# It is `stable_softmax` with a temperature, plus two details that matter later:
# float16 inputs are computed in float32 (sums of many small weights lose
# digits in float16), and a row whose scores are all $-\infty$ (a query that
# may see no key, {doc}`chapter 07 <07_masking>`) gets weights 0 instead of
# `nan`. Let us check it
# against our version and against PyTorch on random tensors, every axis and
# several temperatures.

# %%
x = torch.randn(4, 5, 7, device=device) * 3  # (N, L, S)
for dim in (0, 1, 2, -1):
    ours = stable_softmax(x, dim=dim)
    torch.testing.assert_close(softmax(x, dim=dim), ours)
    torch.testing.assert_close(torch.softmax(x, dim=dim), ours)
for T in (0.1, 0.5, 2.0, 7.0):
    torch.testing.assert_close(softmax(x, temperature=T), stable_softmax(x / T))
print("attnbook.functional.softmax == stable_softmax == torch.softmax")
print("on 4 axes and 4 temperatures")

huge = torch.tensor([[1e4, -1e4, 0.0]], device=device, dtype=torch.float16)
print("float16 [1e4, -1e4, 0]:", softmax(huge))
assert softmax(huge).dtype == torch.float16 and torch.isfinite(softmax(huge)).all()
print("all scores -inf:", softmax(torch.full((3,), float("-inf"), device=device)))

# %% [markdown]
# ## Summary
#
# - Softmax turns scores into weights: $e^{x_i} / \sum_j e^{x_j}$. The
#   exponential makes them positive and keeps their order; dividing by the sum
#   makes them add up to 1.
# - Adding a constant to every score changes nothing: only differences matter.
# - The temperature $T$ divides the scores: small $T$ sharpens the weights
#   towards the best score, large $T$ flattens them towards $1/S$. The entropy
#   measures this, from 0 up to $\ln S$.
# - Naive softmax overflows (in float16 already above a score of
#   {glue:text}`limit16:.2f`) and underflows;
#   subtracting the maximum fixes both without changing the answer.
# - Attention normalises each query's row of scores: `dim=-1`.
# - `attnbook.functional.softmax` is the stable version, with a temperature;
#   it matches `torch.softmax`.
#
# Next, {doc}`chapter 04 <04_queries_keys_values>` puts dot products and
# softmax together into attention.

# %% [markdown]
# ## Exercises
#
# Each exercise gives a starting point and a check that calls your function on
# several inputs and tells you what is wrong. The starting points are wrong on
# purpose: run the check, read its message, fix the function, run it again.
# The solutions are hidden under the toggles.
#
# ### Exercise 1: a stable softmax
#
# Write `my_softmax(x, dim=-1)`, which must survive scores of $\pm 1000$ and
# work along any axis.


# %%
def my_softmax(x, dim=-1):
    e = torch.exp(x)  # your turn: what happens for x = 1000?
    return e / e.sum(dim=dim, keepdim=True)


check_softmax(my_softmax)


# %% tags=["hide-input"]
def my_softmax(x, dim=-1):
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)


assert check_softmax(my_softmax)

# %% [markdown]
# ### Exercise 2: temperature
#
# Write `softmax_with_temperature(x, temperature)` along the last axis. Before
# running the check, predict: with $T = 2$, should the largest weight grow or
# shrink?


# %%
def softmax_with_temperature(x, temperature):
    return torch.softmax(x * temperature, dim=-1)  # your turn


check_softmax_temperature(softmax_with_temperature)


# %% tags=["hide-input"]
def softmax_with_temperature(x, temperature):
    return torch.softmax(x / temperature, dim=-1)


assert check_softmax_temperature(softmax_with_temperature)

# %% [markdown]
# ### Exercise 3: entropy
#
# Write `my_entropy(p)`: $-\sum_i p_i \ln p_i$ over the last axis, one number
# per distribution, in nats. A weight of exactly 0 must contribute 0 (as
# $p \ln p \to 0$ when $p \to 0$), not `nan`.


# %%
def my_entropy(p):
    return -(p * torch.log(p)).sum(dim=-1)  # your turn: try p = [0, 1, 0]


check_entropy(my_entropy)


# %% tags=["hide-input"]
def my_entropy(p):
    # xlogy(p, p) is p * log(p), defined as 0 where p == 0.
    return -torch.special.xlogy(p, p).sum(dim=-1)


assert check_entropy(my_entropy)

# %% [markdown]
# ### Exercise 4: a stable log-softmax
#
# Training uses the *logarithm* of softmax weights (the cross-entropy loss).
# `torch.log(torch.softmax(x, -1))` is not safe: a weight that rounds to 0
# gives $-\infty$. Write `my_log_softmax(x)` along the last axis using
# $\log \operatorname{softmax}(x)_i = x_i - m - \ln \sum_j e^{x_j - m}$.


# %%
def my_log_softmax(x):
    return torch.log(torch.softmax(x, dim=-1))  # your turn


check_log_softmax(my_log_softmax)


# %% tags=["hide-input"]
def my_log_softmax(x):
    shifted = x - x.amax(dim=-1, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=-1, keepdim=True))


assert check_log_softmax(my_log_softmax)
