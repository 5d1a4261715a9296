"""Every page of the built book in headless Chromium, with the network cut off.

The ``page`` fixture aborts and records every request that leaves the local
server and fails the test on any console or page error. Here we also check
that maths is typeset and that every widget in the saved state rendered.
"""

from __future__ import annotations

import pytest
from test_book import toc_pages

pytestmark = pytest.mark.browser

VIEW_SCRIPT = 'script[type="application/vnd.jupyter.widget-view+json"]'


def open_page(page, path: str) -> None:
    page.goto(f"{page.base_url}/{path}")
    page.wait_for_load_state("networkidle")


def wait_for_widgets(page, timeout_ms: int = 20_000) -> int:
    """Wait until every saved widget view has been rendered; return how many."""
    views = page.locator(VIEW_SCRIPT).count()
    if views:
        page.wait_for_function(
            """n => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
                  .filter(s => s.previousElementSibling
                               && s.previousElementSibling.classList.contains('widget-subarea')
                               && s.previousElementSibling.childElementCount > 0).length === n""",
            arg=views,
            timeout=timeout_ms,
        )
    return views


@pytest.mark.parametrize("path", toc_pages())
def test_page_renders_offline_without_errors(page, path: str) -> None:
    open_page(page, path)
    assert page.locator("main h1").count() >= 1, f"{path} has no title"
    maths = page.locator("span.math, div.math").count()
    if maths:
        page.wait_for_function(
            """() => [...document.querySelectorAll('span.math, div.math')]
                  .every(m => m.querySelector('mjx-container'))""",
            timeout=20_000,
        )
        assert page.locator("mjx-container merror").count() == 0, f"{path}: MathJax error"
    wait_for_widgets(page)
    broken = page.evaluate(
        """() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0)
                 .map(i => i.src)"""
    )
    assert not broken, f"{path}: images that did not load: {broken}"
    page.set_viewport_size({"width": 400, "height": 800})  # a phone: nothing may stick out
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner, f"{path}: at {inner} px wide the page scrolls sideways to {scroll} px"
