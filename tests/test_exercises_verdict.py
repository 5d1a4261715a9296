"""attnbook.exercises: what a check returns, and how its verdict looks in the book."""

from __future__ import annotations

from IPython.core.formatters import DisplayFormatter

from attnbook.exercises import Verdict, check_dot, check_split_heads
from attnbook.exercises._verdict import WIDTH, report


def test_a_check_returns_a_verdict_that_acts_as_its_bool(capsys):
    right = check_dot(lambda a, b: (a * b).sum())
    wrong = check_dot(lambda a, b: (a * b).sum() + 1)
    assert isinstance(right, Verdict) and isinstance(wrong, Verdict)
    assert right.passed is True and wrong.passed is False
    assert right and not wrong
    assert right == True and wrong == False  # noqa: E712 - the comparison is the point
    assert right != wrong and right == Verdict(True)
    assert {right, Verdict(True)} == {right}
    assert repr(wrong) == "Verdict(passed=False)"
    capsys.readouterr()


def test_a_notebook_shows_nothing_for_a_verdict():
    """A check on a cell's last line leaves only its printed message, no 'True'/'False'."""
    data, metadata = DisplayFormatter().format(Verdict(False))
    assert data == {} and metadata == {}


def test_verdicts_wrap_to_the_book_column_without_splitting_words(capsys):
    check_split_heads(lambda x, num_heads: x.reshape(x.shape[0], num_heads, x.shape[1], -1))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert len(lines) > 1
    assert all(len(line) <= WIDTH for line in lines if " " in line.strip())
    assert lines[0].startswith("Not yet: check_split_heads")
    assert all(line.startswith("    ") for line in lines[1:])  # continuations indented


def test_report_keeps_each_lines_indent_and_an_unbreakable_word_whole(capsys):
    long_word = "x" * (WIDTH + 10)
    verdict = report(True, f"Correct: a\n    input:    {long_word} tail " + "word " * 30)
    lines = capsys.readouterr().out.splitlines()
    assert verdict.passed is True
    assert lines[0] == "Correct: a"
    assert lines[1].startswith("    input:") and long_word in "".join(lines)
    assert all(line.startswith("        ") for line in lines[2:])
