"""Date-format translation: many human spellings of a date → ISO ``YYYY-MM-DD``.

A small "translation" task that needs real alignment (the day may come
first, second or third; the month may be a word or a number) yet is checked
exactly. Dates run from 1970-01-01 to 2068-12-31, where a two-digit year has
one meaning (``"21"`` is 2021, ``"75"`` is 1975; Python's ``%y`` reads them
the same way). Numbers with slashes are month first (``3/4/21`` is March 4),
numbers with dots are day first (``04.03.2021`` is also March 4).

The held-out split is by *date*: a fixed tenth of all calendar days never
appears in training, so the test checks dates the model has never seen.
Month and weekday names are spelled out here (not taken from the locale), so
every machine generates the same strings.

Introduced in chapter 12 (encoder-decoder).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from attnbook.data.tokenizers import CharTokenizer

__all__ = [
    "DATE_FORMATS",
    "FIRST_DATE",
    "LAST_DATE",
    "DateExample",
    "date_examples",
    "date_split",
    "date_tokenizer",
    "format_date",
]

FIRST_DATE = dt.date(1970, 1, 1)
LAST_DATE = dt.date(2068, 12, 31)

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# The split is fixed once and for all (it must not move with the sampling seed).
_SPLIT_SEED = 20240229


def _ordinal(n: int) -> str:
    """1 → '1st', 2 → '2nd', 11 → '11th', 23 → '23rd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _month(d: dt.date) -> str:
    return MONTHS[d.month - 1]


def _weekday(d: dt.date) -> str:
    return WEEKDAYS[d.weekday()]


#: Format name → function that spells a date that way (example: 2021-03-03).
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "Month D, YYYY": lambda d: f"{_month(d)} {d.day}, {d.year}",  # March 3, 2021
    "D Month YYYY": lambda d: f"{d.day} {_month(d)} {d.year}",  # 3 March 2021
    "M/D/YY": lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}",  # 3/3/21
    "MM/DD/YYYY": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}",  # 03/03/2021
    "DD.MM.YYYY": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",  # 03.03.2021
    "Weekday Dth of Month YYYY": lambda d: (  # Wednesday 3rd of March 2021
        f"{_weekday(d)} {_ordinal(d.day)} of {_month(d)} {d.year}"
    ),
    "Weekday, Month D, YYYY": lambda d: (  # Wednesday, March 3, 2021
        f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}"
    ),
    "Wkd, Mon D, YYYY": lambda d: (  # Wed, Mar 3, 2021
        f"{_weekday(d)[:3]}, {_month(d)[:3]} {d.day}, {d.year}"
    ),
    "D Mon YYYY": lambda d: f"{d.day} {_month(d)[:3]} {d.year}",  # 3 Mar 2021
    "Mon D YY": lambda d: f"{_month(d)[:3]} {d.day} {d.year % 100:02d}",  # Mar 3 21
    "Month Dth, YYYY": lambda d: f"{_month(d)} {_ordinal(d.day)}, {d.year}",  # March 3rd, 2021
    "the Dth of Month, YYYY": lambda d: (  # the 3rd of March, 2021
        f"the {_ordinal(d.day)} of {_month(d)}, {d.year}"
    ),
    "MONTH D, YYYY": lambda d: f"{_month(d).upper()} {d.day}, {d.year}",  # MARCH 3, 2021
    "D Month YY": lambda d: f"{d.day} {_month(d)} {d.year % 100:02d}",  # 3 March 21
    "YYYYMMDD": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",  # 20210303
}


@dataclass(frozen=True)
class DateExample:
    """One date spelled two ways.

    Attributes:
        text: the human spelling, e.g. ``"Wednesday 3rd of March 2021"``.
        iso: the ISO spelling, e.g. ``"2021-03-03"``.
        format: the name of the format in ``DATE_FORMATS``.
    """

    text: str
    iso: str
    format: str


def format_date(date: dt.date, fmt: str) -> str:
    """Spell ``date`` in the format named ``fmt``.

    Args:
        date: a date between ``FIRST_DATE`` and ``LAST_DATE``.
        fmt: a key of ``DATE_FORMATS``.

    Returns:
        The spelled-out date.

    Example:
        >>> format_date(dt.date(2021, 3, 3), "Weekday Dth of Month YYYY")
        'Wednesday 3rd of March 2021'
        >>> format_date(dt.date(2021, 3, 3), "M/D/YY")
        '3/3/21'

    Introduced in chapter 12 (encoder-decoder).
    """
    if fmt not in DATE_FORMATS:
        raise ValueError(f"fmt: expected one of {sorted(DATE_FORMATS)}, got {fmt!r}")
    if not isinstance(date, dt.date) or not FIRST_DATE <= date <= LAST_DATE:
        raise ValueError(f"date: expected a date from {FIRST_DATE} to {LAST_DATE}, got {date!r}")
    return DATE_FORMATS[fmt](date)


@lru_cache(maxsize=4)
def date_split(test_fraction: float = 0.1) -> tuple[tuple[dt.date, ...], tuple[dt.date, ...]]:
    """Split every calendar day of the range into training and held-out days.

    The split is fixed (its own seed), so every caller sees the same held-out days.

    Args:
        test_fraction: the share of days held out.

    Returns:
        ``(train_dates, test_dates)``, disjoint, each sorted.

    Example:
        >>> train, test = date_split()
        >>> len(train) + len(test) == (LAST_DATE - FIRST_DATE).days + 1, set(train) & set(test)
        (True, set())

    Introduced in chapter 12 (encoder-decoder).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
    days = [FIRST_DATE + dt.timedelta(days=i) for i in range((LAST_DATE - FIRST_DATE).days + 1)]
    random.Random(_SPLIT_SEED).shuffle(days)
    n_test = round(len(days) * test_fraction)
    return tuple(sorted(days[n_test:])), tuple(sorted(days[:n_test]))


def date_examples(
    num_examples: int,
    split: str = "train",
    *,
    seed: int = 0,
    formats: Sequence[str] | None = None,
    test_fraction: float = 0.1,
) -> list[DateExample]:
    """Random dates from one side of the split, each in a random format.

    Args:
        num_examples: how many examples.
        split: ``"train"`` or ``"test"`` (days never seen in training).
        seed: the sampling seed (the split itself does not depend on it).
        formats: format names to draw from (default: all of ``DATE_FORMATS``).
        test_fraction: the share of days held out (see :func:`date_split`).

    Returns:
        A list of :class:`DateExample`.

    Example:
        >>> for ex in date_examples(3, seed=0):
        ...     print(f"{ex.text!r:36} -> {ex.iso}")
        'Tuesday, February 10, 2054'         -> 2054-02-10
        '20450717'                           -> 2045-07-17
        'November 25, 2011'                  -> 2011-11-25

    Introduced in chapter 12 (encoder-decoder).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if not isinstance(num_examples, int) or num_examples < 0:
        raise ValueError(f"num_examples: expected an int >= 0, got {num_examples!r}")
    names = list(DATE_FORMATS) if formats is None else list(formats)
    for name in names:
        if name not in DATE_FORMATS:
            raise ValueError(f"formats: unknown format {name!r}; known: {sorted(DATE_FORMATS)}")
    train_days, test_days = date_split(test_fraction)
    days = train_days if split == "train" else test_days
    rng = random.Random(seed)
    examples = []
    for _ in range(num_examples):
        day = rng.choice(days)
        name = rng.choice(names)
        examples.append(DateExample(DATE_FORMATS[name](day), day.isoformat(), name))
    return examples


@lru_cache(maxsize=1)
def date_tokenizer() -> CharTokenizer:
    """The character tokenizer for both sides of the date task.

    Its vocabulary is every character any format can produce (each month,
    weekday and digit appears in the days of 2021) plus ``-`` of the ISO side.

    Example:
        >>> tok = date_tokenizer()
        >>> tok.decode(tok.encode("Wednesday 3rd of March 2021"))
        'Wednesday 3rd of March 2021'

    Introduced in chapter 12 (encoder-decoder).
    """
    chars = set("0123456789-")
    for i in range(365):
        day = dt.date(2021, 1, 1) + dt.timedelta(days=i)
        for spell in DATE_FORMATS.values():
            chars.update(spell(day))
    return CharTokenizer(sorted(chars))
