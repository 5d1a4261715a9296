# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The transformer block
#
# Parts I and II built attention. A transformer is not attention alone: it is
# a stack of identical *blocks*, and each block wraps its attention in three
# humble pieces of engineering — a {term}`residual connection`, a layer
# normalisation and a small {term}`feed-forward network` — plus
# {term}`dropout`, a little deliberate noise while it trains. None of them is
# about attention, and every model in the rest of the book depends on them: without the residual path a deep stack does not
# train, and where the normalisation sits decides how gently it must be
# trained. This chapter builds each piece, measures what it does, assembles
# the block from `attnbook` parts and checks it, number for number, against
# PyTorch's own `torch.nn.TransformerEncoderLayer`.

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
# - see why every sublayer is wrapped as $x + f(x)$, by measuring the gradient
#   that reaches the bottom of a deep stack with and without the residual path;
# - write layer normalisation and the position-wise feed-forward network, and
#   check both against PyTorch;
# - watch dropout act in training and vanish in evaluation;
# - assemble the block in both arrangements — layer norm after the sublayer
#   (post-norm, 2017) and before it (pre-norm, today) — and match
#   `torch.nn.TransformerEncoderLayer` exactly;
# - measure why the arrangement matters: gradient norms per layer of a deep
#   stack, and a short training run in which one of them fails to learn
#   without a warm-up.

# %%
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from attnbook.blocks import DecoderLayer, EncoderLayer, FeedForward
from attnbook.data import sequence_task, task_tokenizer
from attnbook.device import default_device, describe_device, seed_everything
from attnbook.exercises import (
    check_feed_forward,
    check_inverted_dropout,
    check_layer_norm,
    check_post_norm_block,
)
from attnbook.notebook import fast_mode, glue
from attnbook.positional import SinusoidalPositionalEncoding
from attnbook.train import fit
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
# ## The block at a glance
#
# A block takes a batch of $N$ sequences of $L$ vectors of width $E$ — a
# tensor of shape `(N, L, E)` ({doc}`../book/notation` lists the letters) —
# and returns one of the same shape, so blocks stack. Inside there are two
# *sublayers*: multi-head self-attention
# ({doc}`chapter 05 <05_multi_head_attention>`), where positions exchange
# information, and a feed-forward network, which transforms each position on
# its own. Each sublayer is wrapped the same way, and there are
# two ways to wrap it. The original transformer {cite}`vaswani2017attention`
# normalises *after* adding the residual (**post-norm**):
#
# $$h = \operatorname{LN}_1\big(x + \operatorname{MHA}(x)\big), \qquad
#   y = \operatorname{LN}_2\big(h + \operatorname{FFN}(h)\big).$$
#
# GPT-2 {cite}`radford2019language` and most models since normalise the
# sublayer's *input* and leave the residual path untouched (**pre-norm**):
#
# $$h = x + \operatorname{MHA}\big(\operatorname{LN}_1(x)\big), \qquad
#   y = h + \operatorname{FFN}\big(\operatorname{LN}_2(h)\big).$$
#
# We take the pieces one at a time: the $x + \ldots$, the
# $\operatorname{LN}$, the $\operatorname{FFN}$, and dropout, which hides
# inside the sublayers during training.
#
# (residuals)=
# ## Residual connections: a direct path for the gradient
#
# A residual connection adds a sublayer's input to its output,
# $x \mapsto x + f(x)$. The sublayer no longer has to carry the whole signal;
# it only learns a *correction* to it. The real gift is to the gradient: the
# Jacobian of $x + f(x)$ is $I + \partial f / \partial x$, so however small
# $\partial f/\partial x$ is, the identity $I$ carries the gradient straight
# through. Without it, back-propagation through $D$ layers multiplies $D$
# Jacobians, and if each shrinks a vector a little, the product shrinks it
# exponentially.
#
# A clean experiment: stack $D$ layers (the depth) $f(h) = \tanh(hW)$ with small random
# weights (as at initialisation), once plain ($h \leftarrow f(h)$) and once
# residual ($h \leftarrow h + f(h)$), and measure how much gradient reaches
# the input.


# %%
def input_gradient(depth, residual, width=64, seed=0):
    """Size of d(loss)/d(input) after `depth` tanh layers.

    Relative to d(loss)/d(output).
    """
    g = torch.Generator().manual_seed(seed)
    weights = [
        (torch.randn(width, width, generator=g) * 0.5 / math.sqrt(width)).to(device)
        for _ in range(depth)
    ]
    x = torch.randn(16, width, generator=g).to(device).requires_grad_()  # (N, E)
    # a fixed direction: loss = <h, u>
    u = torch.randn(16, width, generator=g).to(device)
    h = x
    for W in weights:
        f = torch.tanh(h @ W)  # (N, E)
        h = h + f if residual else f
    (h * u).sum().backward()
    return (x.grad.norm() / u.norm()).item()


depths = [1, 2, 4, 8, 16, 32, 48]
plain = [input_gradient(d, residual=False) for d in depths]
resid = [input_gradient(d, residual=True) for d in depths]
for d, p, r in zip(depths, plain, resid, strict=True):
    print(f"depth {d:2d}: plain {p:9.2e}   residual {r:6.2f}")
assert plain[-1] < 1e-6 * plain[0]  # the plain stack's gradient has all but vanished
assert resid[-1] > resid[0]  # the residual stack's has not shrunk at all
glue("plain_grad_48", plain[-1], display=False)
glue("resid_grad_48", resid[-1], display=False)
glue("max_depth", depths[-1], display=False)

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
ax.semilogy(depths, plain, "o-", label=r"plain: $h \leftarrow f(h)$")
ax.semilogy(depths, resid, "s-", label=r"residual: $h \leftarrow h + f(h)$")
ax.set_xlabel("depth D (layers)")
ax.set_ylabel("gradient reaching the input (log scale)")
ax.set_title("The residual path keeps the gradient alive")
ax.legend()
plt.show()

# %% [markdown]
# Read the plot from left to right: the plain curve falls by orders of
# magnitude, the residual one does not fall at all. After
# {glue:text}`max_depth` plain layers the gradient at the input is
# {glue:text}`plain_grad_48:.1e` of what left the output: the first layers
# would receive no learning signal at all. With residual connections it is
# {glue:text}`resid_grad_48:.1f` — it has grown rather than shrunk, because
# every branch adds its own contribution on top of the identity, and these
# add up with depth. That growth is one reason the block also needs a
# normalisation.
#
# (layer-norm)=
# ## Layer normalisation
#
# Layer normalisation {cite}`ba2016layer` rescales each position's vector to
# mean 0 and variance 1 *across its $E$ features*, then applies a learned
# per-feature scale $\gamma$ (`weight`) and shift $\beta$ (`bias`):
#
# $$\operatorname{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,
# \qquad \mu = \frac{1}{E}\sum_{i=1}^{E} x_i, \quad
# \sigma^2 = \frac{1}{E}\sum_{i=1}^{E} (x_i - \mu)^2 .$$
#
# The small $\epsilon$ keeps a vector whose features are all equal
# ($\sigma^2 = 0$) from dividing by zero.


# %%
def layer_norm(x, weight, bias, eps=1e-5):
    """Normalise each position's features to mean 0, variance 1; scale and shift."""
    mean = x.mean(dim=-1, keepdim=True)  # (N, L, 1)
    var = x.var(dim=-1, correction=0, keepdim=True)  # (N, L, 1): divide by E, not E - 1
    return (x - mean) / torch.sqrt(var + eps) * weight + bias  # (N, L, E)


N, L, E = 2, 5, 16
x = torch.randn(N, L, E, device=device) * 4 + 3  # far from mean 0, variance 1
torch_norm = nn.LayerNorm(E, device=device)
with torch.no_grad():  # random scale and shift, so they are checked too
    torch_norm.weight.uniform_(0.5, 1.5)
    torch_norm.bias.normal_()
ours = layer_norm(x, torch_norm.weight, torch_norm.bias)
torch.testing.assert_close(ours, torch_norm(x))
torch.testing.assert_close(
    ours,
    F.layer_norm(x, (E,), torch_norm.weight, torch_norm.bias),
)

plain_ln = layer_norm(x, torch.ones(E, device=device), torch.zeros(E, device=device))
torch.testing.assert_close(
    plain_ln.mean(-1),
    torch.zeros(N, L, device=device),
    atol=1e-5,
    rtol=0,
)
torch.testing.assert_close(
    plain_ln.var(-1, correction=0), torch.ones(N, L, device=device), atol=1e-3, rtol=0
)
what = "every position has mean 0 and variance 1 before scale and shift"
print(f"matches nn.LayerNorm;\n    {what}")

# %% [markdown]
# Our four lines agree with `nn.LayerNorm` and `F.layer_norm`. What matters
# for sequences is that each position is normalised on its own, so the
# result does not depend on the batch size, the sequence length or the
# *other* positions — padding ({doc}`chapter 07 <07_masking>`) cannot leak
# into real tokens through the norm. Batch normalisation, common in image
# models, averages each feature over the batch instead, so a position's
# output would depend on whatever else is in the batch, padding included;
# that is one reason transformers use layer norm. The next cell checks the
# independence: it changes every position but the first.

# %%
x_changed = x.clone()
# change every other position
x_changed[:, 1:] = torch.randn(N, L - 1, E, device=device) * 100
torch.testing.assert_close(torch_norm(x_changed)[:, 0], torch_norm(x)[:, 0])
print("position 0 is unchanged when every other position changes")

# %% [markdown]
# ```{warning}
# `torch.var` and `Tensor.var` divide by $E - 1$ by default (the *unbiased*
# estimate). Layer norm divides by $E$. With the default you get numbers that
# are close but not equal — off by a factor $\sqrt{E/(E-1)}$ — and a test
# against `nn.LayerNorm` fails for no visible reason. Pass `correction=0`
# (`unbiased=False` in older code).
# ```

# %%
unbiased = (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True) + 1e-5)
gap = (unbiased - plain_ln).abs().max().item()
print(f"largest difference with the unbiased variance, E = {E}: {gap:.3f}")
assert gap > 1e-2

# %% [markdown]
# (feed-forward)=
# ## The feed-forward network
#
# The second sublayer is a two-layer network applied to every position
# separately — the same weights at every position, no mixing between them:
#
# $$\operatorname{FFN}(x) = \operatorname{act}(x W_1^\top + b_1)\, W_2^\top + b_2,
# \qquad W_1 \in \mathbb{R}^{F \times E},\; W_2 \in \mathbb{R}^{E \times F}.$$
#
# The hidden width $F$ (`dim_feedforward`) is usually $4E$, and the
# activation is ReLU ($\max(0, z)$) in the original paper; BERT and GPT use
# GELU, a smooth version of it. Attention
# moves information *between* positions; the feed-forward network processes
# what arrived *at* each position. Here it is with the weights of
# `attnbook.blocks.FeedForward`, which we use from now on.


# %%
def feed_forward(x, W1, b1, W2, b2):
    """Position-wise feed-forward network with GELU."""
    hidden = F.gelu(x @ W1.T + b1)  # (N, L, F)
    return hidden @ W2.T + b2  # (N, L, E)


ff = FeedForward(embed_dim=E, dim_feedforward=4 * E, activation="gelu")
ff = ff.to(device).eval()
ours = feed_forward(
    x,
    ff.linear1.weight,
    ff.linear1.bias,
    ff.linear2.weight,
    ff.linear2.bias,
)
torch.testing.assert_close(ours, ff(x))

# Position-wise: running one position alone gives the same answer as inside the
# sequence.
for i in range(L):
    torch.testing.assert_close(ff(x[:, i : i + 1]), ff(x)[:, i : i + 1])
how = "one position at a time or all together"
print(f"feed_forward matches attnbook's FeedForward,\n    {how}")

# %% [markdown]
# The feed-forward network is where most of a block's parameters live.
# Count them in an `attnbook` encoder block (`EncoderLayer`, the block we
# assemble {ref}`below <assemble>`) of width $E = 512$ with the usual
# $F = 4E$:

# %%
block = EncoderLayer(embed_dim=512, num_heads=8, dim_feedforward=2048)
norm_params = [*block.norm1.parameters(), *block.norm2.parameters()]
counts = {
    "attention": sum(p.numel() for p in block.self_attn.parameters()),
    "feed-forward": sum(p.numel() for p in block.ff.parameters()),
    "layer norms": sum(p.numel() for p in norm_params),
}
total = sum(counts.values())
assert total == sum(p.numel() for p in block.parameters())
for part, count in counts.items():
    print(f"{part:>12}: {count:>9,} parameters ({count / total:.1%})")
glue("ffn_share", counts["feed-forward"] / total, display=False)

# %% [markdown]
# About two thirds ({glue:text}`ffn_share:.0%`) of the block is the
# feed-forward network: $2EF = 8E^2$ weights against attention's $4E^2$
# (the four $E \times E$ projections for queries, keys, values and output),
# plus biases.
#
# (dropout)=
# ## Dropout: noise in training, nothing in evaluation
#
# Dropout zeroes each entry with probability $p$ during training, so that
# the network cannot rely on any single unit. The entries it keeps are
# divided by $1 - p$ (*inverted* dropout), so every entry keeps its expected
# value and nothing needs rescaling at test time, when dropout is simply off.
# A transformer block uses it in three places: on the attention weights,
# inside the feed-forward network, and on each sublayer's output just before
# the residual addition.

# %%
drop = nn.Dropout(p=0.1)
ones = torch.ones(1_000_000, device=device)
drop.train()
out = drop(ones)
dropped = (out == 0).float().mean().item()
kept_value = out[out != 0].unique()
kept = kept_value.tolist()
print(f"training: {dropped:.2%} of entries zeroed, the rest set to {kept}")
print(f"mean before {ones.mean().item():.4f}, after {out.mean().item():.4f}")
torch.testing.assert_close(kept_value, torch.tensor([1 / 0.9], device=device))
assert abs(dropped - 0.1) < 0.005 and abs(out.mean().item() - 1) < 0.005
drop.eval()
assert torch.equal(drop(ones), ones)
print("evaluation: the input comes back unchanged")

# %% [markdown]
# The same holds for a whole block: in training mode two calls on the same
# input differ, in evaluation mode they agree.

# %%
noisy = EncoderLayer(
    embed_dim=E,
    num_heads=4,
    dim_feedforward=4 * E,
    dropout=0.1,
).to(device)
noisy.train()
a, b = noisy(x)[0], noisy(x)[0]
assert not torch.allclose(a, b)
noisy.eval()
torch.testing.assert_close(noisy(x)[0], noisy(x)[0], rtol=0, atol=0)
print("train mode: two calls differ; eval mode: identical")

# %% [markdown]
# ```{warning}
# Forgetting `model.eval()` before measuring or generating is one of the most
# common bugs: predictions become random and accuracy drops for no visible
# reason. `attnbook.train.fit` leaves the model in evaluation mode when it
# returns, and the models' `generate` methods switch to it themselves.
# ```
#
# (assemble)=
# ## Assembling the block
#
# Now the block itself, written with the pieces of an `attnbook` layer:
# `layer.self_attn` (the multi-head attention of
# {doc}`chapter 05 <05_multi_head_attention>`, which returns
# `(output, weights)`), `layer.ff`, `layer.norm1` and `layer.norm2`. Both
# arrangements, line for line from the formulas above:


# %%
def pre_norm_block(x, layer):
    """x + MHA(LN1(x)), then h + FFN(LN2(h))."""
    h = layer.norm1(x)
    x = x + layer.self_attn(h, h, h)[0]  # (N, L, E)
    return x + layer.ff(layer.norm2(x))  # (N, L, E)


def post_norm_block(x, layer):
    """LN1(x + MHA(x)), then LN2(h + FFN(h))."""
    h = layer.norm1(x + layer.self_attn(x, x, x)[0])  # (N, L, E)
    return layer.norm2(h + layer.ff(h))  # (N, L, E)


with torch.no_grad():
    for norm_first, ours_fn in ((True, pre_norm_block), (False, post_norm_block)):
        layer = EncoderLayer(E, 4, 4 * E, norm_first=norm_first).to(device).eval()
        out, _ = layer(x)
        torch.testing.assert_close(ours_fn(x, layer), out)
        assert out.shape == x.shape
print("pre_norm_block and post_norm_block match attnbook's EncoderLayer")

# %% [markdown]
# `attnbook.blocks.EncoderLayer` is this block, with dropout in its three
# places and the switch `norm_first` choosing the arrangement. PyTorch has
# the same layer, `torch.nn.TransformerEncoderLayer`, with the same switch.
# To compare the two we copy our weights into PyTorch's. Our submodules carry
# PyTorch's names (`self_attn`, `norm1`, ...), with two differences: PyTorch
# packs the query, key and value projections into one `in_proj_weight` of
# shape `(3E, E)`, and its feed-forward maps sit directly on the layer
# (`linear1`, `linear2`) rather than in `ff`.


# %%
def to_torch_encoder_layer(layer):
    """A torch.nn.TransformerEncoderLayer (batch_first).

    It has the weights of an attnbook one.
    """
    attn = layer.self_attn
    theirs = nn.TransformerEncoderLayer(
        d_model=attn.embed_dim,
        nhead=attn.num_heads,
        dim_feedforward=layer.ff.linear1.out_features,
        dropout=0.0,
        activation=layer.ff.activation,
        batch_first=True,  # torch's default is False: (L, N, E)
        norm_first=layer.norm_first,
        device=layer.norm1.weight.device,
        dtype=layer.norm1.weight.dtype,
    )
    projections = (attn.q_proj, attn.k_proj, attn.v_proj)
    state = {
        # in_proj_weight: (3E, E)
        "self_attn.in_proj_weight": torch.cat([p.weight for p in projections]),
        "self_attn.in_proj_bias": torch.cat([p.bias for p in projections]),  # (3E,)
        "self_attn.out_proj.weight": attn.out_proj.weight,
        "self_attn.out_proj.bias": attn.out_proj.bias,
        "linear1.weight": layer.ff.linear1.weight,
        "linear1.bias": layer.ff.linear1.bias,
        "linear2.weight": layer.ff.linear2.weight,
        "linear2.bias": layer.ff.linear2.bias,
    }
    for name in ("norm1", "norm2"):
        state[f"{name}.weight"] = getattr(layer, name).weight
        state[f"{name}.bias"] = getattr(layer, name).bias
    theirs.load_state_dict(state)  # strict: every weight must find its place
    return theirs.eval()


lengths = torch.tensor([L, 3], device=device)
# real: (N, L), True = real token
real = torch.arange(L, device=device)[None, :] < lengths[:, None]
torch.backends.mha.set_fastpath_enabled(False)  # compare with the standard path
with torch.no_grad():
    for norm_first in (True, False):
        ours = EncoderLayer(E, 4, 4 * E, activation="gelu", norm_first=norm_first)
        ours = ours.to(device).eval()
        theirs = to_torch_encoder_layer(ours)
        torch.testing.assert_close(ours(x)[0], theirs(x))
        out_ours = ours(x, key_padding_mask=real)[0]
        out_theirs = theirs(x, src_key_padding_mask=~real)  # torch: True = padding!
        torch.testing.assert_close(out_ours[real], out_theirs[real])
        torch_name = "torch.nn.TransformerEncoderLayer"
        print(f"norm_first={norm_first}: equals {torch_name}, with padding too")
    torch.backends.mha.set_fastpath_enabled(True)  # torch's default
    fast_gap = (theirs(x) - ours(x)[0]).abs().max().item()
print(f"largest difference from torch's fast path on {device.type}: {fast_gap:.1e}")

# %% [markdown]
# The conventions must match for the numbers to match: `batch_first=True`,
# the same activation, `dropout=0` (or both in `eval()`), the same
# `norm_first`.
#
# PyTorch's layer can compute its output in two ways. Whenever autograd
# records, and always in training, it runs its submodules one by one, as
# ours does. In `eval()` mode under `torch.no_grad()` it may instead take an
# inference *fast path* of fused kernels. We switched that off
# (`torch.backends.mha.set_fastpath_enabled(False)`) to compare with the
# standard path, and printed how far the fast path's output lies from ours.
# On a CPU the gap is float32 rounding. On a CUDA GPU (we tried PyTorch 2.11
# on an H200) it is far larger with `activation="gelu"` and vanishes with
# ReLU: the fused kernels compute GELU differently. Comparing against the
# wrong path would have made a correct layer look wrong, only on a GPU.
#
# ```{warning}
# The padding masks have opposite polarity. In `attnbook` (as in
# `F.scaled_dot_product_attention`) `True` means *this token is real, attend
# to it*; PyTorch's `src_key_padding_mask` reads `True` as *this is padding,
# ignore it*. Passing one where the other is expected does not fail: it
# silently attends to the padding and ignores the words. Hence the `~real`
# above; {doc}`chapter 07 <07_masking>` has the conversion helpers.
# ```
#
# The decoder's block, `attnbook.blocks.DecoderLayer`, is the same recipe with
# a causal self-attention and, in an encoder–decoder, a third sublayer
# between the two: cross-attention to the encoder's output
# ({doc}`chapter 06 <06_self_and_cross_attention>`). Chapters
# {doc}`11 <11_decoder_only>` and {doc}`12 <12_encoder_decoder>` use it;
# the cell below checks its shapes (the encoder's output, called `memory`,
# has its own length $S$) and its causality (no weight above the diagonal).

# %%
decoder_layer = DecoderLayer(E, 4, 4 * E).to(device).eval()
memory = torch.randn(N, 7, E, device=device)  # an encoder's output, S = 7
with torch.no_grad():
    out, self_w, cross_w = decoder_layer(x, memory, need_weights=True)
assert out.shape == (N, L, E)
assert self_w.shape == (N, 4, L, L) and cross_w.shape == (N, 4, L, 7)
assert torch.all(self_w.triu(diagonal=1) == 0)  # no weight on later positions
print(
    f"decoder layer: out {tuple(out.shape)}, self {tuple(self_w.shape)}, "
    f"cross {tuple(cross_w.shape)}"
)

# %% [markdown]
# (pre-vs-post)=
# ## Pre-norm or post-norm? Measured on a deep stack
#
# The two arrangements compute different functions, and they behave
# differently in a deep stack. In post-norm every residual sum passes
# through a layer norm, so the path from the loss to the first layer crosses
# $2D$ normalisations; in pre-norm the residual stream runs from input to
# output untouched, and each sublayer only *adds* to it. Xiong et al.
# {cite}`xiong2020layer` showed that at initialisation this makes the
# post-norm gradients largest in the layers nearest the output, and that this
# is why post-norm transformers need a learning-rate *warm-up*. (The
# *learning rate* is the factor that scales each update of the weights
# during training; a warm-up starts it small and grows it to its full value
# over the first part of training.)
#
# First the gradients. We build a stack of {glue:text}`grad_depth` encoder
# blocks of width {glue:text}`grad_width` in each arrangement, initialise the weight matrices as the original
# transformer did (Xavier/Glorot uniform, also what `torch.nn.Transformer`
# does), push a random batch through, and measure the gradient norm of each
# block's parameters (the length of all its gradients taken as one vector),
# averaged over {glue:text}`grad_seeds` seeds.


# %%
grad_depth, grad_width = 24, 64


def layer_gradient_norms(norm_first, depth=grad_depth, width=grad_width, seed=0):
    """Gradient norm of each block's parameters for one random batch and target."""
    torch.manual_seed(seed)
    stack = nn.ModuleList(
        EncoderLayer(width, 4, 4 * width, activation="relu", norm_first=norm_first)
        for _ in range(depth)
    ).to(device)
    for p in stack.parameters():
        if p.dim() > 1:
            nn.init.xavier_uniform_(p)
    final_norm = nn.LayerNorm(width, device=device) if norm_first else nn.Identity()
    h = torch.randn(8, 16, width, device=device)  # (N, L, E)
    target = torch.randn(8, 16, width, device=device)
    for layer in stack:
        h, _ = layer(h)
    F.mse_loss(final_norm(h), target).backward()
    grads = [[p.grad.flatten() for p in layer.parameters()] for layer in stack]
    return torch.stack([torch.cat(g).norm() for g in grads]).cpu()


grad_seeds = 3
grad_norms = {
    name: torch.stack(
        [layer_gradient_norms(norm_first, seed=s) for s in range(grad_seeds)],
    ).mean(0)
    for name, norm_first in (("post-norm", False), ("pre-norm", True))
}
for name, g in grad_norms.items():
    ratio = (g[-1] / g[0]).item()
    blocks = f"first block {g[0]:.3f}, last block {g[-1]:.3f}"
    print(f"{name:>9}: {blocks}, last / first = {ratio:.2f}")
post_ratio = (grad_norms["post-norm"][-1] / grad_norms["post-norm"][0]).item()
pre_ratio = (grad_norms["pre-norm"][-1] / grad_norms["pre-norm"][0]).item()
assert post_ratio > 1 > pre_ratio
glue("post_ratio", post_ratio, display=False)
glue("pre_ratio", pre_ratio, display=False)
glue("grad_seeds", grad_seeds, display=False)
glue("grad_depth", grad_depth, display=False)
glue("grad_width", grad_width, display=False)

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.6))
blocks_axis = range(1, len(grad_norms["pre-norm"]) + 1)
for (name, g), marker in zip(grad_norms.items(), "os", strict=True):
    ax.plot(blocks_axis, g.numpy(), marker=marker, markersize=4, label=name)
ax.set_xlabel(f"block (1 = next to the input, {grad_depth} = next to the loss)")
ax.set_ylabel("gradient norm of the block's parameters")
ax.set_title(f"Gradients per block at initialisation, {grad_depth} blocks")
ax.set_ylim(bottom=0)
ax.legend()
plt.show()

# %% [markdown]
# Read the two curves from right (near the loss) to left (near the input).
# In the post-norm stack the gradient grows towards the output: the last
# block's is {glue:text}`post_ratio:.1f` times the first block's. Those top
# blocks take the biggest steps at the very start of training, when the
# model is random — with a large learning rate, big enough to wreck it. In
# the pre-norm stack the ratio is {glue:text}`pre_ratio:.2f`: the gradient
# is larger at the bottom than at the top, and the blocks next to the loss
# are not singled out for large updates.
#
# Does that matter for training? A short run answers. The task is to sort
# {glue:text}`sort_length` letters (`"hbdca…"` → `"abcdh…"`), predicting
# the sorted letter at each position. The model is built from this chapter's
# parts: an embedding, sinusoidal positions
# ({doc}`chapter 08 <08_positional_encoding>`), {glue:text}`sort_layers`
# `EncoderLayer`s, a final layer norm
# for the pre-norm stack (whose residual stream is never normalised
# otherwise), and a linear map to the letters — an encoder-only model, the
# subject of {doc}`chapter 10 <10_encoder_only>`. We train it three times with the same seed, data and
# learning rate of $10^{-2}$: pre-norm and post-norm with the learning rate at
# full strength from the first step, and post-norm once more with a warm-up
# (the rate climbs linearly from zero over the first 30 % of training). The
# loss is the cross-entropy: the average over the positions of $-\ln p$,
# where $p$ is the probability the model gives the right letter, as for the
# validation loss of {doc}`chapter 05 <05_multi_head_attention>`.

# %%
tok = task_tokenizer()
examples = sequence_task("sort", 4000, length=10, seed=0)
sources = torch.tensor([tok.encode(e.source) for e in examples])  # (4000, 10)
targets = torch.tensor([tok.encode(e.target) for e in examples])  # (4000, 10)


def sort_batch(generator):
    rows = torch.randint(len(sources), (32,), generator=generator)
    return sources[rows], targets[rows]


def sort_loss(model, batch):
    src, tgt = batch
    logits = model(src)  # (N, L, vocab)
    return F.cross_entropy(logits.flatten(0, 1), tgt.flatten())


class BlockStack(nn.Module):
    """Embedding + positions + encoder blocks + a linear output per position."""

    def __init__(self, vocab_size, norm_first, embed_dim=32, num_layers=12, max_len=16):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.positions = SinusoidalPositionalEncoding(embed_dim, max_len)
        self.blocks = nn.ModuleList(
            EncoderLayer(embed_dim, 4, 4 * embed_dim, norm_first=norm_first)
            for _ in range(num_layers)
        )
        self.final_norm = nn.LayerNorm(embed_dim) if norm_first else nn.Identity()
        self.out = nn.Linear(embed_dim, vocab_size)

    def forward(self, ids):
        x = self.positions(self.embedding(ids))  # (N, L, E)
        for block in self.blocks:
            x, _ = block(x)
        return self.out(self.final_norm(x))  # (N, L, vocab)


steps = 8 if fast_mode() else 150  # ATTNBOOK_FAST=1 (quick checks) shortens every run
runs, models = {}, {}
for name, norm_first, warmup in (
    ("pre-norm, no warm-up", True, 0.0),
    ("post-norm, no warm-up", False, 0.0),
    ("post-norm, 30 % warm-up", False, 0.3),
):
    torch.manual_seed(0)
    model = models[name] = BlockStack(tok.vocab_size, norm_first)
    runs[name] = fit(
        model,
        sort_batch,
        sort_loss,
        steps=steps,
        lr=1e-2,
        warmup=warmup,
        device=device,
        seed=0,
        desc=name,
    )


def last_loss(history, n=20):
    """Mean training loss over the last n steps."""
    return sum(history.loss[-n:]) / len(history.loss[-n:])


uniform = math.log(10)  # the loss of a uniform guess among the 10 letters
for name, history in runs.items():
    print(f"{name:>24}: loss over the last 20 steps {last_loss(history):.3f}")
print(f"{'guessing uniformly':>24}: {uniform:.3f}")
glue("loss_pre", last_loss(runs["pre-norm, no warm-up"]), display=False)
glue("loss_post", last_loss(runs["post-norm, no warm-up"]), display=False)
glue("loss_post_warm", last_loss(runs["post-norm, 30 % warm-up"]), display=False)
glue("loss_uniform", uniform, display=False)
glue("sort_steps", steps, display=False)
glue("sort_length", sources.shape[1], display=False)
glue("sort_layers", len(models["pre-norm, no warm-up"].blocks), display=False)
if not fast_mode():
    assert last_loss(runs["post-norm, no warm-up"]) > 0.9 * uniform  # stuck at guessing
    assert last_loss(runs["pre-norm, no warm-up"]) < 0.5 * uniform
    assert last_loss(runs["post-norm, 30 % warm-up"]) < 0.8 * uniform
    pre_norm_loss = last_loss(runs["pre-norm, no warm-up"])
    assert pre_norm_loss < last_loss(runs["post-norm, 30 % warm-up"])

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for name, history in runs.items():
    window = 10  # a running mean makes the curves readable
    size = min(window, len(history.loss))
    smooth = torch.tensor(history.loss).unfold(0, size, 1).mean(1)
    ax.plot(history.step[len(history.step) - len(smooth) :], smooth.numpy(), label=name)
ax.axhline(uniform, color="grey", linestyle=":", label="uniform guess (ln 10)")
ax.set_xlabel("training step")
ax.set_ylabel("training loss (running mean of 10)")
ax.set_title("12 blocks, learning rate 0.01")
ax.legend()
plt.show()

# %% [markdown]
# After {glue:text}`sort_steps` steps the pre-norm stack is down to a loss of
# {glue:text}`loss_pre:.2f`. The post-norm stack, given the same learning rate
# from step one, is stuck at {glue:text}`loss_post:.2f` — the
# {glue:text}`loss_uniform:.2f` of guessing uniformly among the ten letters
# (the loss curves in the plot: the post-norm one without warm-up stays on
# the dotted line):
# its first large updates pushed it into a state it does not recover from in
# this run. The same post-norm model with a warm-up learns
# ({glue:text}`loss_post_warm:.2f`), though more slowly than pre-norm. That
# is the practical difference: post-norm can work well but needs a warm-up
# and care with the learning rate; pre-norm is forgiving, which is why
# `attnbook`'s models default to `norm_first=True` (a pre-norm stack also
# needs one final layer norm after its last block, which the models add).
#
# ```{warning}
# Descriptions and code do not always agree: a text may quote the paper's
# post-norm formula while its code normalises first, or the other way round.
# When you read (or write) a block, check *where* the norm is applied, not
# what the text says; when you compare with
# `torch.nn.TransformerEncoderLayer`, remember its default is
# `norm_first=False`.
# ```
#
# ### Inside the trained pre-norm stack
#
# What did the {glue:text}`sort_layers` blocks learn to look at? Below, one unsorted sequence
# goes through the trained pre-norm model and every block hands back its
# attention weights, one $L \times L$ map per head. Pick a block and a head
# in the widget, then click a letter (a query) to see which letters it reads.
# To write the letter that belongs at a position, the model must find where
# that letter sits in the input, so look for heads whose weights follow the
# letters' *values* (a query attending to the letter just below or above its
# own) rather than their positions.


# %%
@torch.no_grad()
def block_weights(stack, ids):
    """Attention weights of every block, (layers, H, L, L).

    ids: one sequence, (1, L).
    """
    stack.eval()
    x = stack.positions(stack.embedding(ids))  # (1, L, E)
    maps = []
    for block in stack.blocks:
        x, w = block(x, need_weights=True)  # w: (1, H, L, L)
        maps.append(w[0])
    return torch.stack(maps).cpu()


pre_norm = models["pre-norm, no warm-up"]
example = examples[0]
ids = torch.tensor([tok.encode(example.source)], device=device)  # (1, L)
weights = block_weights(pre_norm, ids)
assert weights.shape == (len(pre_norm.blocks), 4, ids.shape[1], ids.shape[1])
# rows sum to 1
torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))
with torch.no_grad():
    predicted = tok.decode(pre_norm(ids).argmax(-1)[0].tolist())
print(f"input {example.source!r} -> model {predicted!r} (target {example.target!r})")
AttentionMap(
    weights,
    tokens=list(example.source),
    layer=len(pre_norm.blocks) - 1,
    head=0,
)

# %% [markdown]
# ## Summary
#
# - A block is two sublayers — self-attention, which mixes positions, and a
#   position-wise feed-forward network, which holds most of the parameters —
#   each wrapped in a residual connection and a layer norm, with dropout in
#   training.
# - The residual path $x + f(x)$ gives the gradient an identity route through
#   the stack; without it the gradient vanishes exponentially with depth.
# - Layer norm normalises each position over its $E$ features (biased
#   variance, $\epsilon$ inside the root), independently of the batch and of
#   other positions.
# - Dropout zeroes a share $p$ and rescales the rest by $1/(1-p)$ in training
#   and does nothing in `eval()` mode.
# - Post-norm normalises the residual sum; pre-norm normalises the sublayer's
#   input. At initialisation post-norm concentrates the gradient in the top
#   blocks and, without warm-up, failed to train in our run; pre-norm
#   trained from the first step.
# - `attnbook.blocks.EncoderLayer` equals `torch.nn.TransformerEncoderLayer`
#   with matched conventions (and `DecoderLayer` adds causal self-attention
#   and cross-attention).
#
# ## Exercises
#
# Each starting point below is wrong on purpose. Run the check, read what it
# says, fix the function, run again. Solutions are under the toggles.
#
# ### Exercise 1: layer norm
#
# Write `my_layer_norm(x, weight, bias, eps=1e-5)` without `F.layer_norm`.


# %%
def my_layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    # your turn
    return (x - mean) / torch.sqrt(x.var(dim=-1, keepdim=True) + eps) * weight + bias


check_layer_norm(my_layer_norm)


# %% tags=["hide-input"]
def my_layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = x.var(dim=-1, correction=0, keepdim=True)  # (..., 1), biased
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


assert check_layer_norm(my_layer_norm)

# %% [markdown]
# ### Exercise 2: the feed-forward network
#
# Write `my_feed_forward(x, ff)` using the weights and biases of `ff`
# (`ff.linear1.weight`, `ff.linear1.bias`, ...) and the activation named by
# `ff.activation` (`"gelu"` or `"relu"`), without calling `ff` or its linear
# layers.


# %%
def my_feed_forward(x, ff):
    hidden = x @ ff.linear1.weight.T + ff.linear1.bias
    return hidden @ ff.linear2.weight.T + ff.linear2.bias  # your turn


check_feed_forward(my_feed_forward)


# %% tags=["hide-input"]
def my_feed_forward(x, ff):
    activation = {"gelu": F.gelu, "relu": F.relu}[ff.activation]
    hidden = activation(x @ ff.linear1.weight.T + ff.linear1.bias)  # (N, L, F)
    return hidden @ ff.linear2.weight.T + ff.linear2.bias  # (N, L, E)


assert check_feed_forward(my_feed_forward)

# %% [markdown]
# ### Exercise 3: the post-norm block, from memory
#
# Without scrolling up, write `my_post_norm_block(x, layer)` for an
# `EncoderLayer` with `norm_first=False`, using `layer.self_attn`,
# `layer.ff`, `layer.norm1` and `layer.norm2`.


# %%
def my_post_norm_block(x, layer):
    h = x + layer.self_attn(layer.norm1(x), layer.norm1(x), layer.norm1(x))[0]
    return h + layer.ff(layer.norm2(h))  # your turn


check_post_norm_block(my_post_norm_block)


# %% tags=["hide-input"]
def my_post_norm_block(x, layer):
    h = layer.norm1(x + layer.self_attn(x, x, x)[0])  # normalise the residual sum
    return layer.norm2(h + layer.ff(h))


assert check_post_norm_block(my_post_norm_block)

# %% [markdown]
# ### Exercise 4: inverted dropout
#
# Write `my_dropout(x, p, training)`: in training zero each entry with
# probability `p` and rescale the rest; otherwise return `x`. Use
# `torch.rand_like(x)` for the random numbers.


# %%
def my_dropout(x, p, training):
    keep = torch.rand_like(x) >= p
    return x * keep  # your turn


check_inverted_dropout(my_dropout)


# %% tags=["hide-input"]
def my_dropout(x, p, training):
    if not training or p == 0:
        return x
    keep = torch.rand_like(x) >= p  # True with probability 1 - p
    return x * keep / (1 - p)


assert check_inverted_dropout(my_dropout)
