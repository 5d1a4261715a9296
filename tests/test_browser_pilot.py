"""The pilot chapter (03, softmax) in the built book: its explorer computes in the page.

The backbone's end-to-end proof: a chapter executed by the book build, its
widget state embedded, the page opened offline in Chromium, the temperature
slider moved, and the probabilities the page now shows compared with what
Python computes for that temperature.
"""

from __future__ import annotations

import pytest
from test_browser_widgets import _assert_softmax_readouts, press, saved_state

pytestmark = [pytest.mark.browser, pytest.mark.book]

PILOT = "notebooks/03_softmax.html"


def test_pilot_softmax_slider_matches_python(page) -> None:
    page.goto(f"{page.base_url}/{PILOT}")
    page.wait_for_load_state("networkidle")
    root = page.get_by_test_id("softmax-explorer").first
    root.wait_for(timeout=30_000)
    saved = saved_state(page, "SoftmaxExplorer")
    state = {k: saved[k] for k in ("scores", "labels", "temperature")}
    _assert_softmax_readouts(root, state)
    before = [root.get_by_test_id(f"prob-{i}").inner_text() for i in range(len(state["scores"]))]

    press(root, "temperature-input", "ArrowRight", times=4)
    state["temperature"] = round(saved["temperature"] + 4 * saved["temperature_step"], 10)
    _assert_softmax_readouts(root, state)
    after = [root.get_by_test_id(f"prob-{i}").inner_text() for i in range(len(state["scores"]))]
    assert after != before, "moving the temperature slider did not change the probabilities"
