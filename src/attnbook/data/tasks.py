"""Algorithmic sequence tasks: copy, reverse, sort and associative recall.

Each example is a pair of short strings, so the book can print them and a
:class:`~attnbook.data.CharTokenizer` (see :func:`task_tokenizer`) turns them
into ids. Every generator is seeded and uses its own ``random.Random``, so
the same seed gives the same examples on every machine.

* ``copy``:    ``"hbdca"`` → ``"hbdca"``
* ``reverse``: ``"hbdca"`` → ``"acdbh"``
* ``sort``:    ``"hbdca"`` → ``"abcdh"``
* ``recall``:  ``"a3k7q1?k"`` → ``"7"`` (key–value pairs, then ``?`` and a key:
  answer with its value; with many pairs the value sits far from the query,
  the long-range lookup that recurrent networks find hard).

Introduced in chapter 01 (why attention).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

from attnbook.data.tokenizers import CharTokenizer

__all__ = ["SEQUENCE_TASKS", "TaskExample", "sequence_task", "task_tokenizer"]

#: The task names :func:`sequence_task` knows.
SEQUENCE_TASKS: tuple[str, ...] = ("copy", "reverse", "sort", "recall")

_LETTERS = string.ascii_lowercase
_DIGITS = string.digits
_QUERY = "?"


@dataclass(frozen=True)
class TaskExample:
    """One example of a sequence task.

    Attributes:
        source: the input string.
        target: the string the model must produce.
    """

    source: str
    target: str


def task_tokenizer() -> CharTokenizer:
    """The character tokenizer that covers every task: ``a``–``z``, ``0``–``9`` and ``?``.

    Example:
        >>> task_tokenizer().vocab_size
        42

    Introduced in chapter 01 (why attention).
    """
    return CharTokenizer(_LETTERS + _DIGITS + _QUERY)


def _check_length(length: int | tuple[int, int]) -> tuple[int, int]:
    lo, hi = (length, length) if isinstance(length, int) else tuple(length)
    if not (isinstance(lo, int) and isinstance(hi, int)) or not 1 <= lo <= hi:
        raise ValueError(f"length: expected an int >= 1 or a pair lo <= hi, got {length!r}")
    return lo, hi


def sequence_task(
    task: str,
    num_examples: int,
    length: int | tuple[int, int] = 8,
    *,
    alphabet: str = _LETTERS[:10],
    seed: int = 0,
) -> list[TaskExample]:
    """Generate ``num_examples`` examples of one algorithmic task.

    Args:
        task: one of ``"copy"``, ``"reverse"``, ``"sort"``, ``"recall"``.
        num_examples: how many examples.
        length: the source length (an int, or an inclusive range ``(lo, hi)``
            drawn uniformly). For ``"recall"`` it is the number of key–value
            pairs (at most 26: keys are distinct letters).
        alphabet: the symbols of copy/reverse/sort sources (letters and
            digits only). Ignored by ``"recall"``, whose keys are letters and
            values digits.
        seed: the random seed.

    Returns:
        A list of :class:`TaskExample`.

    Example:
        >>> sequence_task("reverse", 2, length=5, seed=0)
        [TaskExample(source='gaeih', target='hieag'), TaskExample(source='ehfjd', target='djfhe')]
        >>> sequence_task("recall", 1, length=3, seed=1)
        [TaskExample(source='s1z4y1?z', target='4')]

    Introduced in chapter 01 (why attention).
    """
    if task not in SEQUENCE_TASKS:
        raise ValueError(f"task: expected one of {SEQUENCE_TASKS}, got {task!r}")
    if not isinstance(num_examples, int) or num_examples < 0:
        raise ValueError(f"num_examples: expected an int >= 0, got {num_examples!r}")
    lo, hi = _check_length(length)
    if not alphabet or any(c not in _LETTERS + _DIGITS for c in alphabet):
        raise ValueError(f"alphabet: expected lowercase letters and digits, got {alphabet!r}")
    if task == "recall" and hi > len(_LETTERS):
        raise ValueError(f"length: recall has at most {len(_LETTERS)} distinct keys, got {hi}")
    rng = random.Random(seed)
    examples = []
    for _ in range(num_examples):
        n = rng.randint(lo, hi)
        if task == "recall":
            keys = rng.sample(_LETTERS, n)
            values = [rng.choice(_DIGITS) for _ in keys]
            asked = rng.randrange(n)
            source = "".join(k + v for k, v in zip(keys, values, strict=True))
            examples.append(TaskExample(source + _QUERY + keys[asked], values[asked]))
            continue
        source = "".join(rng.choice(alphabet) for _ in range(n))
        target = {"copy": source, "reverse": source[::-1], "sort": "".join(sorted(source))}[task]
        examples.append(TaskExample(source, target))
    return examples
