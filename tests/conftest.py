"""Shared fixtures: the devices to test on, and hypothesis profiles."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import torch
from hypothesis import HealthCheck, settings

# Tests draw figures without a screen. (The book build must not inherit this: its
# kernels need the inline backend, or plt.show() puts nothing into the pages.)
os.environ.setdefault("MPLBACKEND", "Agg")

# A fixed, bounded profile keeps property tests deterministic and quick on the
# 2-core CI machine; `HYPOTHESIS_PROFILE=thorough` explores more locally.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


@pytest.fixture(params=_available_devices())
def device(request: pytest.FixtureRequest) -> torch.device:
    """Every device this machine has: CPU always, CUDA and MPS when present."""
    return torch.device(request.param)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """One torch thread for a whole test module (use with ``pytestmark``).

    Tiny models: one thread skips OpenMP's hand-offs, which on a shared 2-core CPU
    (several test runs at once) made such tests ten times slower than one thread.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --- the built book in a real browser ------------------------------------------


@pytest.fixture(scope="session")
def book_server():
    """Base URL of the built book (``_build/html``) served on 127.0.0.1."""
    from browser_support import BUILD, serve

    if not (BUILD / "index.html").exists():
        pytest.fail("the book is not built: run `make book` first (_build/html/index.html)")
    with serve(BUILD) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by playwright (never a downloaded browser)."""
    from browser_support import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, book_server):
    """A fresh page whose external requests, console and page errors must stay empty."""
    from browser_support import watch

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.log = watch(pg, book_server)
    pg.base_url = book_server
    yield pg
    problems = pg.log.problems()
    context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture
def unwrapped_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exercise verdicts on one line each, as tests match them (the book wraps them)."""
    from attnbook.exercises import _verdict

    monkeypatch.setattr(_verdict, "WIDTH", 10**6)
