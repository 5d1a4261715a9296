"""attnbook.device: device choice and its override, seeds, descriptions, autocast dtypes."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
import torch

from attnbook import device as device_module
from attnbook.device import autocast_dtype, default_device, describe_device, seed_everything


@pytest.fixture
def no_override(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("ATTNBOOK_DEVICE", raising=False)
    return monkeypatch


def _pretend(monkeypatch: pytest.MonkeyPatch, *, cuda: bool, mps: bool, count: int = 1) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count if cuda else 0)
    monkeypatch.setattr(device_module, "_mps_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_default_device_prefers_cuda_then_mps_then_cpu(
    no_override: pytest.MonkeyPatch, cuda: bool, mps: bool, expected: str
) -> None:
    _pretend(no_override, cuda=cuda, mps=mps)
    assert default_device() == torch.device(expected)


def test_default_device_on_this_machine(no_override: pytest.MonkeyPatch) -> None:
    if torch.cuda.is_available():
        expected = "cuda"
    elif device_module._mps_available():
        expected = "mps"
    else:
        expected = "cpu"
    assert default_device().type == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("cpu", "cpu"), (" CPU ", "cpu"), ("cuda", "cuda"), ("cuda:1", "cuda:1"), ("mps", "mps")],
)
def test_env_overrides_the_choice(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    _pretend(monkeypatch, cuda=True, mps=True, count=2)
    monkeypatch.setenv("ATTNBOOK_DEVICE", value)
    assert default_device() == torch.device(expected)


def test_empty_env_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv("ATTNBOOK_DEVICE", "  ")
    assert default_device() == torch.device("cpu")


@pytest.mark.parametrize("value", ["tpu", "gpu", "cuda:x", "cpu:1", "xpu"])
def test_unknown_env_value_names_the_valid_ones(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("ATTNBOOK_DEVICE", value)
    message = (
        rf"ATTNBOOK_DEVICE: expected one of 'cpu', 'cuda', 'cuda:<index>', 'mps', got '{value}'"
    )
    with pytest.raises(ValueError, match=message):
        default_device()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("cuda", r"ATTNBOOK_DEVICE='cuda' asks for CUDA, but torch.cuda.is_available\(\) is False"),
        ("mps", r"ATTNBOOK_DEVICE='mps' asks for MPS, but .*is_available\(\) is False"),
    ],
)
def test_unavailable_device_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    _pretend(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv("ATTNBOOK_DEVICE", value)
    with pytest.raises(RuntimeError, match=message):
        default_device()


def test_missing_cuda_index_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    _pretend(monkeypatch, cuda=True, mps=False, count=2)
    monkeypatch.setenv("ATTNBOOK_DEVICE", "cuda:2")
    with pytest.raises(RuntimeError, match=r"asks for CUDA device 2, but only 2 CUDA device\(s\)"):
        default_device()


def test_seed_everything_repeats_every_generator() -> None:
    def draw() -> tuple:
        return random.random(), np.random.rand(), torch.rand(3)  # noqa: NPY002

    seed_everything(7)
    first = draw()
    seed_everything(7)
    second = draw()
    assert first[:2] == second[:2] and torch.equal(first[2], second[2])
    seed_everything(8)
    assert draw()[0] != first[0]


@pytest.mark.parametrize(
    ("seed", "error", "message"),
    [
        (1.5, TypeError, r"seed: expected an int, got float \(1.5\)"),
        (True, TypeError, r"seed: expected an int, got bool"),
        (-1, ValueError, r"seed: expected 0 <= seed < 2\*\*32, got -1"),
        (2**32, ValueError, r"seed: expected 0 <= seed < 2\*\*32, got 4294967296"),
    ],
)
def test_seed_everything_refuses_bad_seeds(seed: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        seed_everything(seed)


def test_describe_device(device: torch.device) -> None:
    text = describe_device(device)
    assert "\n" not in text and torch.__version__ in text
    assert text.startswith(device.type)
    if device.type == "cpu":
        assert re.fullmatch(rf"cpu \({torch.get_num_threads()} threads?, torch .+\)", text)
    if device.type == "cuda":
        assert torch.cuda.get_device_name(device) in text
    assert describe_device("cpu") == describe_device(torch.device("cpu"))


def test_describe_device_defaults_to_default_device(no_override: pytest.MonkeyPatch) -> None:
    assert describe_device() == describe_device(default_device())
    with pytest.raises(
        TypeError, match=r"device: expected a torch.device, a string or None, got int"
    ):
        describe_device(0)


@pytest.mark.parametrize(
    ("device_name", "bf16", "expected"),
    [
        ("cpu", False, torch.bfloat16),
        ("cuda", True, torch.bfloat16),
        ("cuda", False, torch.float16),
        ("mps", False, torch.float16),
    ],
)
def test_autocast_dtype(
    monkeypatch: pytest.MonkeyPatch, device_name: str, bf16: bool, expected: torch.dtype
) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    assert autocast_dtype(device_name) == expected


def test_autocast_dtype_runs_under_autocast(device: torch.device) -> None:
    dtype = autocast_dtype(device)
    with torch.autocast(device.type, dtype=dtype):
        y = torch.ones(4, 8, device=device) @ torch.ones(8, 2, device=device)
    assert y.dtype == dtype


def test_describe_device_counts_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert describe_device("cpu").startswith("cpu (1 thread, torch ")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 4)
    assert describe_device("cpu").startswith("cpu (4 threads, torch ")
