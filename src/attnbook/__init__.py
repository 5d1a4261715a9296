"""attnbook: the tested helper library of *Attention, Step by Step*.

Each submodule holds one idea of the book and is imported on first use, so
``import attnbook`` stays cheap::

    >>> import attnbook
    >>> attnbook.functional.softmax  # doctest: +ELLIPSIS
    <function softmax at ...>
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = (
    "attention",
    "blocks",
    "data",
    "device",
    "efficient",
    "exercises",
    "functional",
    "interpret",
    "masks",
    "models",
    "notebook",
    "positional",
    "train",
    "viz",
    "widgets",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'attnbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
