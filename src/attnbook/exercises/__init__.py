"""Self-checks for the book's exercises: ``check_<name>(your_function)``.

Each check calls your function on several inputs, compares the results with a
reference, prints one line that says either that it is right or *what* is
wrong (it recognises the usual mistakes), and returns a :class:`Verdict`, true when your function passed::

    >>> import torch
    >>> from attnbook.exercises import check_dot
    >>> check_dot(lambda a, b: (a * b).sum())
    Correct: check_dot — your dot product matches a · b on all 4 inputs.
    Verdict(passed=True)

One module per part of the book; each adds one import line below.

Introduced in chapter 01 (why attention).
"""

from ._verdict import Verdict
from .part1 import *  # noqa: F403
from .part2 import *  # noqa: F403
from .part3 import *  # noqa: F403
from .part4 import *  # noqa: F403

# Every check_* imported above, whichever part it comes from, and what they return.
__all__ = ["Verdict", *sorted(name for name in dir() if name.startswith("check_"))]
