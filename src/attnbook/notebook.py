"""Small helpers for running the chapters as notebooks, in the book or elsewhere.

The book quotes computed numbers in its prose with myst-nb's ``glue``. Readers
on Colab or in plain Jupyter do not have myst-nb installed, so chapters call
:func:`glue` from here: it hands the value to myst-nb when the book is being
built, and otherwise simply shows the value (or nothing) so the chapter still
runs top to bottom.

Introduced in chapter 03 (softmax).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

__all__ = ["OUTPUT_WIDTH", "fast_mode", "glue"]

#: Columns of printed text the book's output column shows whole (77 fit it on a
#: 1280-pixel-wide screen): exercise verdicts and benchmark records wrap here.
OUTPUT_WIDTH = 76


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's prose (``{glue:text}`name```).

    Args:
        name: The key the prose refers to.
        value: Any object; numbers are the usual case.
        display: Also show the value in the cell's output.

    Example:
        >>> glue("answer", 42)  # outside a notebook this records nothing and shows nothing
    """
    if importlib.util.find_spec("myst_nb") is not None and _in_kernel():
        from myst_nb import glue as myst_glue

        myst_glue(name, value, display=display)
    elif display:
        from IPython.display import display as show

        show(value)


def fast_mode() -> bool:
    """True when ``ATTNBOOK_FAST=1``: chapters shorten their training for quick checks.

    The book build always runs the full chapters; the Colab check sets it.

    Example:
        >>> isinstance(fast_mode(), bool)
        True
    """
    return os.environ.get("ATTNBOOK_FAST", "0") not in ("", "0", "false", "False")


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
