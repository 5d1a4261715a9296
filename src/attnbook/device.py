"""Where tensors live and how runs repeat: device choice, seeds, dtypes.

Every chapter decides its device once, at the top, with :func:`default_device`,
and prints :func:`describe_device` so a reader knows what produced the numbers.
Nothing else in ``attnbook`` picks a device: modules follow their inputs.
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["autocast_dtype", "default_device", "describe_device", "seed_everything"]

#: The environment variable that overrides :func:`default_device`.
DEVICE_ENV = "ATTNBOOK_DEVICE"

_VALID_DEVICES = "'cpu', 'cuda', 'cuda:<index>', 'mps'"


def _mps_available() -> bool:
    # Older or non-Apple builds may lack torch.backends.mps altogether.
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def _parse_device(value: str) -> torch.device:
    """Turn the text of ``ATTNBOOK_DEVICE`` into an available device, or explain why not."""
    text = value.strip().lower()
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{DEVICE_ENV}: expected one of {_VALID_DEVICES}, got {value!r}")
    if device.type == "cpu" and device.index not in (None, 0):
        raise ValueError(f"{DEVICE_ENV}: expected one of {_VALID_DEVICES}, got {value!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"{DEVICE_ENV}={value!r} asks for CUDA, but torch.cuda.is_available() is False "
                f"(torch {torch.__version__}); unset {DEVICE_ENV} or set it to 'cpu'"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise RuntimeError(
                f"{DEVICE_ENV}={value!r} asks for CUDA device {device.index}, but only "
                f"{count} CUDA device(s) are visible (indices 0..{count - 1})"
            )
    if device.type == "mps" and not _mps_available():
        raise RuntimeError(
            f"{DEVICE_ENV}={value!r} asks for MPS, but torch.backends.mps.is_available() "
            f"is False; unset {DEVICE_ENV} or set it to 'cpu'"
        )
    return device


def default_device() -> torch.device:
    """The device a chapter should use: CUDA if present, else Apple MPS, else the CPU.

    The environment variable ``ATTNBOOK_DEVICE`` overrides the choice; it accepts
    ``cpu``, ``cuda``, ``cuda:<index>`` and ``mps`` (an empty value counts as unset).

    Introduced in chapter 01 (why attention).

    Returns:
        The chosen ``torch.device``.

    Raises:
        ValueError: ``ATTNBOOK_DEVICE`` holds something other than the values above.
        RuntimeError: ``ATTNBOOK_DEVICE`` asks for a device this machine does not have.

    Example:
        >>> default_device().type in {"cpu", "cuda", "mps"}
        True
    """
    requested = os.environ.get(DEVICE_ENV, "").strip()
    if requested:
        return _parse_device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device) at once.

    Introduced in chapter 01 (why attention).

    Args:
        seed: A non-negative integer below ``2**32`` (NumPy's limit).

    Raises:
        TypeError: ``seed`` is not an ``int`` (``bool`` is refused too).
        ValueError: ``seed`` is negative or not below ``2**32``.

    Example:
        >>> seed_everything(0); a = torch.rand(2)
        >>> seed_everything(0); b = torch.rand(2)
        >>> torch.equal(a, b)
        True
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__} ({seed!r})")
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed: expected 0 <= seed < 2**32, got {seed}")
    random.seed(seed)
    # The legacy global generator is the one np.random.rand & co. use: seed it.
    np.random.seed(seed)  # noqa: NPY002
    torch.manual_seed(seed)  # also seeds every CUDA device
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _as_device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return default_device()
    if isinstance(device, (str, torch.device)):
        return torch.device(device)
    raise TypeError(
        f"device: expected a torch.device, a string or None, got {type(device).__name__}"
    )


def describe_device(device: torch.device | str | None = None) -> str:
    """One line naming the device and the torch version, for a chapter's header.

    Introduced in chapter 01 (why attention).

    Args:
        device: The device to describe; ``None`` means :func:`default_device`.

    Returns:
        For example ``"cpu (2 threads, torch 2.13.0)"`` or
        ``"cuda:0 (NVIDIA H100 80GB HBM3, 79.1 GiB, torch 2.13.0)"``.

    Example:
        >>> describe_device("cpu")  # doctest: +ELLIPSIS
        'cpu (... thread..., torch ...)'
    """
    device = _as_device(device)
    version = f"torch {torch.__version__}"
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(index)
        memory = props.total_memory / 2**30
        return f"cuda:{index} ({props.name}, {memory:.1f} GiB, {version})"
    if device.type == "mps":
        return f"mps (Apple GPU, {version})"
    threads = torch.get_num_threads()
    return f"{device.type} ({threads} thread{'s' if threads != 1 else ''}, {version})"


def autocast_dtype(device: torch.device | str) -> torch.dtype:
    """The reduced-precision dtype for ``torch.autocast`` on ``device``.

    bfloat16 where the hardware has it (it keeps float32's range, so no loss
    scaling is needed), float16 on older CUDA GPUs and on MPS.

    Introduced in chapter 15 (the cost of attention).

    Args:
        device: The device the computation runs on.

    Returns:
        ``torch.bfloat16`` on the CPU and on CUDA GPUs that support it,
        ``torch.float16`` otherwise.

    Example:
        >>> autocast_dtype("cpu")
        torch.bfloat16
        >>> with torch.autocast("cpu", dtype=autocast_dtype("cpu")):
        ...     y = torch.ones(2, 3) @ torch.ones(3, 2)
        >>> y.dtype
        torch.bfloat16
    """
    device = _as_device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.bfloat16
