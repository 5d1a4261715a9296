# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Widget gallery
#
# Every interactive explorer of the book, in one place. Each one computes in
# your browser: move a slider or pick a token and the numbers change at once,
# here in the static book (no kernel, no network), in Jupyter and on Colab.
# Each section says in one line what the widget teaches and where the book
# uses it; the widgets live in `attnbook.widgets`.

# %% tags=["hide-cell"]
# Colab only: install attnbook, the book's library, from the repository.
import subprocess
import sys

ATTNBOOK = "attnbook @ git+https://github.com/attnbook/attention-step-by-step@main"
if "google.colab" in sys.modules:
    pip = [sys.executable, "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, ATTNBOOK], check=True)

# %%
from pathlib import Path

import torch

from attnbook.attention import MultiheadAttention
from attnbook.device import seed_everything
from attnbook.positional import sinusoidal_table
from attnbook.widgets import (
    AttentionLookup,
    AttentionMap,
    CostExplorer,
    DotProductExplorer,
    MaskExplorer,
    PositionalExplorer,
    ScalingExplorer,
    SoftmaxExplorer,
)

seed_everything(0)

# %% [markdown]
# ## 1. Dot product and cosine similarity
#
# The dot product $a \cdot b$ grows when two vectors point the same way and
# when they are long; the cosine keeps only the direction (chapter 02). Drag the
# tips, or use the sliders.

# %%
DotProductExplorer(a=(1.5, 0.5), b=(0.5, 1.25))

# %% [markdown]
# ## 2. Softmax and temperature
#
# Softmax turns scores into weights that sum to 1; a low temperature $T$
# sharpens them towards the largest score, a high one flattens them; and
# subtracting the maximum first changes nothing except that $e^{800}$ no longer
# overflows (chapter 03). Try the "set score 0 to 800" button.

# %%
SoftmaxExplorer(scores=[2.0, 1.0, 0.1], labels=["cat", "dog", "fish"])

# %% [markdown]
# ## 3. Why divide by $\sqrt{d_k}$
#
# The dot product of two random vectors with unit-variance entries has a
# spread of $\sqrt{d_k}$; without the scaling, softmax turns almost one-hot
# as $d_k$ grows (chapter 04).

# %%
ScalingExplorer(d_k=64)

# %% [markdown]
# ## 4. Attention as a lookup
#
# Pick the token that asks: its query is compared with every key, softmax
# turns the scores into weights, and the answer is the weighted sum of the
# values (chapter 04). Here the vectors are projections of small made-up
# embeddings by random matrices, as in an untrained layer.

# %%
tokens = ["I", "love", "pizza", "with", "olives"]
embeddings = torch.tensor(
    [  # made-up features: person, feeling, food, link
        [1.0, 0.1, 0.0, 0.0],
        [0.2, 1.0, 0.3, 0.0],
        [0.0, 0.4, 1.0, 0.1],
        [0.0, 0.0, 0.1, 1.0],
        [0.0, 0.1, 0.9, 0.2],
    ]
)  # (L, 4)
w_q, w_k, w_v = (torch.randn(4, 4) for _ in range(3))
AttentionLookup(
    tokens,
    embeddings @ w_q,
    embeddings @ w_k,
    embeddings @ w_v,
    query_index=2,
)

# %% [markdown]
# ## 5. Attention maps
#
# Where each token looks, per layer and head: a heat map, or lines from a
# query token to the keys it weighs ({doc}`chapter 14 <14_reading_attention>` reads the maps of a trained
# model). Here: two untrained layers of 4 heads over a sentence, so the
# patterns are those of random projections.

# %%
sentence = "the cat sat on the mat because it was tired".split()
vocabulary = sorted(set(sentence))
table = torch.randn(len(vocabulary), 32)  # (V, E) made-up embeddings
x = table[[vocabulary.index(t) for t in sentence]] + sinusoidal_table(len(sentence), 32)
x = x.unsqueeze(0)  # (N=1, L, E)
maps = []
with torch.no_grad():
    for _ in range(2):
        layer = MultiheadAttention(embed_dim=32, num_heads=4)
        out, weights = layer(x, x, x, need_weights=True, average_attn_weights=False)
        maps.append(weights[0])  # (H, L, S)
        x = x + out
AttentionMap(torch.stack(maps), sentence, query_index=7)  # (layers, heads, L, S)

# %% [markdown]
# ## 6. Masks
#
# A mask says which keys each query may see: `True` = may attend, the
# convention of PyTorch's `scaled_dot_product_attention` and of `attnbook`
# (chapter 07; the local and strided patterns return in chapter 15).

# %%
MaskExplorer("causal", size=8)

# %% [markdown]
# ## 7. Positional encodings
#
# Sinusoidal encodings give every position a pattern of sines and cosines
# whose similarity depends only on the distance; RoPE instead turns pairs of
# query and key features by an angle proportional to the position (chapter 08).

# %%
PositionalExplorer(embed_dim=64, max_len=64)

# %% [markdown]
# ## 8. The cost of attention
#
# Every head holds an $L \times L$ matrix of weights: 10,000 tokens make 100
# million weights per head. Beside the counts, the forward times this book
# measured on a CPU (`benchmarks/efficient_attention.py`) for exact and
# cheaper attention variants (chapter 15).

# %%
benchmark = Path("../benchmarks/results/efficient_attention_cpu.json")
# e.g. on Colab, which installs attnbook without the repository
if not benchmark.exists():
    print(f"{benchmark} is not here: the chart stays empty.")
CostExplorer(
    benchmark if benchmark.exists() else None,
    where={"mode": "forward", "causal": False},
    source="CPU, from benchmarks/efficient_attention.py",
)
