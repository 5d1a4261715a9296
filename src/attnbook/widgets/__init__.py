"""Interactive explorers for the book: anywidget front ends that compute in the browser.

Each widget is a Python class (data checked with clear errors, sent as widget
state) and a small JavaScript module that draws it and recomputes what the
reader changes. Because the arithmetic runs in the page, the widgets keep
working in the static HTML book with no kernel and no network, as well as in
Jupyter and on Colab. Every displayed number sits in an element with a
``data-testid`` and uses one of the formats of ``attnbook.widgets._base``;
each class has Python methods that compute what its page shows.

The appendix's widget gallery shows all eight; each class names the chapter that uses it.
"""

from __future__ import annotations

from .attention_lookup import AttentionLookup
from .attention_map import AttentionMap
from .cost_explorer import CostExplorer, measurements_from_benchmark
from .dot_product_explorer import DotProductExplorer
from .mask_explorer import MaskExplorer
from .positional_explorer import PositionalExplorer
from .scaling_explorer import ScalingExplorer
from .softmax_explorer import SoftmaxExplorer

__all__ = [
    "AttentionLookup",
    "AttentionMap",
    "CostExplorer",
    "DotProductExplorer",
    "MaskExplorer",
    "PositionalExplorer",
    "ScalingExplorer",
    "SoftmaxExplorer",
    "measurements_from_benchmark",
]
