"""What every explorer widget shares: loading its front end, checking its data, formatting numbers.

Front ends. anywidget loads a widget's JavaScript from *one* ES module string
(``_esm``), so :func:`load_esm` prepends ``_common.js`` (DOM, formatting and
maths helpers) to the widget's own ``name.js``; :func:`load_css` likewise puts
``_common.css`` before ``name.css``. Nothing is fetched at run time: the static
book runs the same string from the page's saved widget state.

Data. Arrays arrive from Python as nested lists, numpy arrays or torch tensors;
:func:`as_float_array` turns them into float64 numpy arrays and refuses wrong
shapes and non-finite values with a ``ValueError`` naming the argument.

Numbers. Every number a widget displays is formatted in JavaScript by
``fmt``/``fmtExp``/``fmtInt``/``fmtBytes`` of ``_common.js``, and
:func:`format_fixed`, :func:`format_exp`, :func:`format_int` and
:func:`format_bytes` here give the same strings in Python, so tests and readers
can predict what a widget shows:

* ``format_fixed(x, 4)`` — JavaScript's ``x.toFixed(4)``: fixed point, halves
  rounded away from zero on the exact binary value, ``-0.0000`` shown as
  ``0.0000``, ``NaN``/``Infinity``/``-Infinity`` spelled as JavaScript does.
* ``format_exp(x, 4)`` — ``x.toExponential(4)``: ``1.2346e+5``, ``0.0000e+0``.
* ``format_int(n)`` — an integer with ``,`` every three digits: ``100,000,000``.
* ``format_bytes(n)`` — binary units with two decimals: ``381.47 MiB``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import Any

import numpy as np

_HERE = Path(__file__).resolve().parent

__all__ = [
    "as_float_array",
    "check_tokens",
    "format_bytes",
    "format_exp",
    "format_fixed",
    "format_int",
    "load_css",
    "load_esm",
]


# ----------------------------------------------------------------------------- assets


def load_esm(name: str) -> str:
    """The ES module of widget ``name``: ``_common.js`` followed by ``name.js``.

    Args:
        name: File stem of the widget's script in ``attnbook/widgets/``.

    Returns:
        One module string for anywidget's ``_esm``.

    Example:
        >>> esm = load_esm("softmax_explorer")
        >>> "function fmt(" in esm and "export default" in esm
        True
    """
    common = (_HERE / "_common.js").read_text(encoding="utf-8")
    own = (_HERE / f"{name}.js").read_text(encoding="utf-8")
    return f"{common}\n// ---- {name}.js ----\n{own}"


def load_css(name: str) -> str:
    """The style sheet of widget ``name``: ``_common.css`` followed by ``name.css`` if present.

    Args:
        name: File stem of the widget's style sheet in ``attnbook/widgets/``.

    Returns:
        One CSS string for anywidget's ``_css``.

    Example:
        >>> ".attnbook-widget" in load_css("softmax_explorer")
        True
    """
    parts = [(_HERE / "_common.css").read_text(encoding="utf-8")]
    own = _HERE / f"{name}.css"
    if own.exists():
        parts.append(own.read_text(encoding="utf-8"))
    return "\n".join(parts)


# ----------------------------------------------------------------------------- data checks


def _describe(value: object) -> str:
    return type(value).__name__


def as_float_array(
    value: Any,
    name: str,
    *,
    ndim: int | Sequence[int],
    layout: str,
) -> np.ndarray:
    """Convert ``value`` to a finite float64 numpy array with ``ndim`` dimensions.

    Accepts nested lists or tuples of numbers, numpy arrays and torch tensors
    (detached and copied to the CPU).

    Args:
        value: The data.
        name: Argument name used in error messages.
        ndim: Allowed number(s) of dimensions.
        layout: The expected shape in words, for messages, e.g. ``"(L, E)"``.

    Returns:
        A new float64 array.

    Raises:
        TypeError: ``value`` is not numeric data (a string, a dict, booleans, ...).
        ValueError: Wrong number of dimensions, an empty dimension, or NaN/inf.

    Example:
        >>> as_float_array([[1, 2], [3, 4]], "keys", ndim=2, layout="(S, E)").shape
        (2, 2)
        >>> as_float_array([1.0, float("nan")], "scores", ndim=1, layout="(S,)")
        Traceback (most recent call last):
        ...
        ValueError: scores: expected finite numbers, got nan at index (1,)
    """
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
        if value.dtype.is_complex or str(value.dtype) == "torch.bool":
            raise TypeError(f"{name}: expected real numbers, got a tensor of dtype {value.dtype}")
        value = value.double().numpy()
    if isinstance(value, (str, bytes, dict, set)):
        raise TypeError(f"{name}: expected an array of numbers {layout}, got {_describe(value)}")
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"{name}: expected an array of numbers {layout}, got {_describe(value)} ({error})"
        ) from None
    source = np.asarray(value) if not isinstance(value, np.ndarray) else value
    if source.dtype == np.bool_:
        raise TypeError(f"{name}: expected numbers {layout}, got booleans")
    if array.ndim not in allowed:
        raise ValueError(
            f"{name}: expected {layout} ({' or '.join(f'{d}-D' for d in allowed)}), "
            f"got shape {array.shape}"
        )
    if 0 in array.shape:
        raise ValueError(f"{name}: expected non-empty data {layout}, got shape {array.shape}")
    if not np.isfinite(array).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise ValueError(f"{name}: expected finite numbers, got {array[bad]} at index {bad}")
    return array


def check_tokens(
    tokens: Any, name: str, *, length: int | None = None, what: str = "rows"
) -> list[str]:
    """Check that ``tokens`` is a list of strings, of ``length`` items when given.

    Args:
        tokens: A list or tuple of ``str``.
        name: Argument name used in error messages.
        length: The number of tokens the data has, or ``None`` for any.
        what: What ``length`` counts, for the message (e.g. ``"rows of queries"``).

    Returns:
        The tokens as a new list.

    Raises:
        TypeError: ``tokens`` is not a list/tuple of strings.
        ValueError: ``tokens`` is empty or its length differs from ``length``.

    Example:
        >>> check_tokens(("I", "love", "pizza"), "tokens", length=3)
        ['I', 'love', 'pizza']
        >>> check_tokens(["I", "love"], "tokens", length=3, what="rows of queries")
        Traceback (most recent call last):
        ...
        ValueError: tokens: expected 3 tokens (one per rows of queries), got 2
    """
    if isinstance(tokens, str) or not isinstance(tokens, (list, tuple)):
        raise TypeError(f"{name}: expected a list of strings, got {_describe(tokens)}")
    for index, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(
                f"{name}: expected a list of strings, got {_describe(token)} at index {index}"
            )
    if not tokens:
        raise ValueError(f"{name}: expected at least one token, got none")
    if length is not None and len(tokens) != length:
        raise ValueError(f"{name}: expected {length} tokens (one per {what}), got {len(tokens)}")
    return list(tokens)


def check_number(
    value: Any, name: str, *, low: float, high: float, integer: bool = False
) -> float | int:
    """Check that ``value`` is a real (or integer) number in ``[low, high]``.

    Args:
        value: The number.
        name: Argument name used in error messages.
        low: Smallest allowed value.
        high: Largest allowed value.
        integer: Require an ``int``.

    Returns:
        ``value`` as ``int`` (``integer=True``) or ``float``.

    Raises:
        TypeError: Not a number (``bool`` is refused too).
        ValueError: NaN, infinite or outside ``[low, high]``.

    Example:
        >>> check_number(0.5, "temperature", low=0.05, high=5.0)
        0.5
        >>> check_number(9, "temperature", low=0.05, high=5.0)
        Traceback (most recent call last):
        ...
        ValueError: temperature: expected a number in [0.05, 5.0], got 9
    """
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kinds):
        expected = "an int" if integer else "a number"
        raise TypeError(f"{name}: expected {expected}, got {_describe(value)} ({value!r})")
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name}: expected a number in [{low}, {high}], got {value}")
    return int(value) if integer else float(value)


# ----------------------------------------------------------------------------- formats


def format_fixed(x: float, digits: int = 4) -> str:
    """``x`` as JavaScript's ``x.toFixed(digits)`` writes it (``-0`` shown without sign).

    Args:
        x: The number.
        digits: Decimals after the point.

    Returns:
        The string a widget displays.

    Example:
        >>> format_fixed(2 / 3), format_fixed(0.03125), format_fixed(-0.00001)
        ('0.6667', '0.0313', '0.0000')
        >>> format_fixed(float("nan")), format_fixed(float("inf"))
        ('NaN', 'Infinity')
    """
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if abs(x) >= 1e21:  # toFixed falls back to the shortest round-trip string here
        return repr(x)
    with localcontext() as context:
        context.prec = 64
        # Decimal(x) is the exact binary value; toFixed rounds halves of it up in magnitude.
        text = f"{Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP):f}"
    if text.startswith("-") and not text.strip("-0."):
        text = text[1:]
    return text


def format_exp(x: float, digits: int = 4) -> str:
    """``x`` as JavaScript's ``x.toExponential(digits)`` writes it.

    Args:
        x: The number.
        digits: Digits after the point of the mantissa.

    Returns:
        The string a widget displays, e.g. ``"2.7183e+0"``.

    Example:
        >>> format_exp(math.e), format_exp(1e-7), format_exp(0.0), format_exp(math.exp(700))
        ('2.7183e+0', '1.0000e-7', '0.0000e+0', '1.0142e+304')
    """
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return format_fixed(x)
    if x == 0:
        return f"{0:.{digits}f}e+0"
    with localcontext() as context:
        context.prec = 64
        exact = Decimal(abs(x))
        exponent = exact.adjusted()
        quantum = Decimal(1).scaleb(-digits)
        mantissa = exact.scaleb(-exponent).quantize(quantum, rounding=ROUND_HALF_UP)
        if mantissa >= 10:  # 9.99995 rounds up to 10.0000: carry into the exponent
            exponent += 1
            mantissa = exact.scaleb(-exponent).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if x < 0 else ""
    return f"{sign}{mantissa:f}e{'+' if exponent >= 0 else '-'}{abs(exponent)}"


def format_int(n: int) -> str:
    """An integer with a comma every three digits, as the widgets show counts.

    Example:
        >>> format_int(10_000 * 10_000)
        '100,000,000'
    """
    return f"{int(n):,}"


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(n: int) -> str:
    """A byte count in binary units with two decimals (``B`` without decimals).

    Example:
        >>> format_bytes(512), format_bytes(400_000_000), format_bytes(2**40)
        ('512 B', '381.47 MiB', '1.00 TiB')
    """
    n = int(n)
    if n < 1024:
        return f"{n} B"
    power = min(len(_UNITS) - 1, (n.bit_length() - 1) // 10)
    # The division happens in float64, as in JavaScript, before toFixed(2).
    return f"{format_fixed(n / 1024**power, 2)} {_UNITS[power]}"
