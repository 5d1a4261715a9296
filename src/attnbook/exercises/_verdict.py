"""What every check returns, and how it prints its verdict.

Introduced in chapter 01 (why attention).
"""

from __future__ import annotations

import textwrap

from attnbook.notebook import OUTPUT_WIDTH

#: Verdict lines wrap at this width, so the book's column shows them whole.
WIDTH = OUTPUT_WIDTH


class Verdict:
    """The outcome of a check: true when your function passed.

    It behaves like the bool it stands for (``assert check_x(f)``, ``if check_x(f):``,
    ``check_x(f) == True``), but a notebook shows nothing for it: the check has
    already printed its verdict, so a check on a cell's last line leaves no stray
    ``True`` or ``False`` under the message.

    Example:
        >>> passed = Verdict(True)
        >>> bool(passed), passed == True, not passed
        (True, True, False)
        >>> passed
        Verdict(passed=True)
    """

    __slots__ = ("passed",)

    def __init__(self, passed: bool) -> None:
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (bool, Verdict)):
            return self.passed == bool(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"Verdict(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Show nothing in IPython and Jupyter: the verdict is printed already."""


def report(passed: bool, message: str) -> Verdict:
    """Print ``message`` wrapped at :data:`WIDTH` columns and return the :class:`Verdict`.

    Each line keeps its indentation, and its continuation lines are indented four
    more spaces; words (and long tensors) are never split.

    Example:
        >>> report(False, "Not yet: check_x — " + "word " * 20)
        Not yet: check_x — word word word word word word word word word word word
            word word word word word word word word word
        Verdict(passed=False)
    """
    lines = []
    for line in message.splitlines() or [""]:
        indent = " " * (len(line) - len(line.lstrip()))
        wrapped = textwrap.fill(
            line,
            WIDTH,
            subsequent_indent=indent + "    ",
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.append(wrapped or line)
    print("\n".join(lines))
    return Verdict(passed)
