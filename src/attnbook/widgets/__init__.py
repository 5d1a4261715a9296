"""Interactive explorers for the book: anywidget front ends that compute in the browser.

Each widget is a Python class (data checked with clear errors, sent as widget
state) and a small JavaScript module that draws it and recomputes what the
reader changes. Because the arithmetic runs in the page, the widgets keep
working in the static HTML book with no kernel and no network, as well as in
Jupyter and on Colab. Every displayed number sits in an element with a
``data-testid`` and uses one of the formats of :mod:`attnbook.widgets._base`.

Introduced in the appendix (widget gallery); each class names the chapter that uses it.
"""

from __future__ import annotations

from .dot_product_explorer import DotProductExplorer
from .softmax_explorer import SoftmaxExplorer

__all__ = [
    "DotProductExplorer",
    "SoftmaxExplorer",
]
