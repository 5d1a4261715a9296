"""The widgets' front ends in headless Chromium: they render, react, and show Python's numbers.

Two layers:

* **Module tests** mount one widget's real ``_esm``/``_css`` in a blank page
  with a stand-in for the anywidget model (``get``/``set``/``on``/``off``/
  ``save_changes``) holding ``widget.get_state()`` — exactly what the static
  book hands the module. A control is moved with the keyboard or the mouse,
  the model's new state is read back, and every displayed number is compared
  with what Python computes for that state. These need no built book.
* **Book tests** (at the end) open the built gallery page and do the same
  through the real widget manager, offline.

Displayed numbers are parsed and must lie within half a unit of their last
shown digit of the Python value (JavaScript's ``Math.exp`` may differ from
libm by an ulp, so comparing strings could flip on a rounding boundary).
Screenshots land in ``/tmp/widgets/``.
"""

from __future__ import annotations

import base64
import math
import re
from pathlib import Path
from typing import Any

import pytest

from attnbook.widgets import DotProductExplorer, SoftmaxExplorer
from attnbook.widgets._base import format_exp, format_fixed

pytestmark = pytest.mark.browser

SHOTS = Path("/tmp/widgets")

# ----------------------------------------------------------------------------- harness

# Light and dark colours of pydata-sphinx-theme, the book's theme.
PAGE = """<!doctype html>
<html class="{theme}"><head><meta charset="utf-8"><title>widget</title><style>
html.light {{ --pst-color-text-base: #222832; --pst-color-background: #ffffff;
  --pst-color-border: #d1d5da; --pst-color-surface: #f3f4f5; background: #ffffff;
  color: #222832; color-scheme: light; }}
html.dark {{ --pst-color-text-base: #ced6dd; --pst-color-background: #121212;
  --pst-color-border: #48566b; --pst-color-surface: #29313d; background: #121212;
  color: #ced6dd; color-scheme: dark; }}
body {{ font-family: system-ui, sans-serif; margin: 12px; width: 680px; }}
</style></head><body><div id="root"></div></body></html>"""

MOUNT_JS = """
async ({ esm, css, state }) => {
  const revive = (value) => {
    if (Array.isArray(value)) return value.map(revive);
    if (value && typeof value === "object") {
      if (typeof value.__b64__ === "string") {
        const bytes = Uint8Array.from(atob(value.__b64__), (c) => c.charCodeAt(0));
        return new DataView(bytes.buffer);
      }
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
    }
    return value;
  };
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
  const url = URL.createObjectURL(new Blob([esm], { type: "text/javascript" }));
  const module = await import(url);
  const listeners = new Map();
  const model = {
    state: revive(state),
    saved: 0,
    get(name) { return this.state[name]; },
    set(name, value) {
      this.state[name] = value;
      for (const f of listeners.get(`change:${name}`) || []) f();
    },
    on(events, f) {
      for (const e of events.split(" ")) {
        if (!listeners.has(e)) listeners.set(e, []);
        listeners.get(e).push(f);
      }
    },
    off(events, f) {
      for (const e of events.split(" ")) {
        listeners.set(e, (listeners.get(e) || []).filter((g) => g !== f));
      }
    },
    save_changes() { this.saved += 1; },
    send() {},
  };
  window.__model = model;
  window.__cleanup = await module.default.render({ model, el: document.getElementById("root") });
}
"""


def _encode(value: Any) -> Any:
    """Bytes cannot cross into the page as they are: send base64, revived as a DataView."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"__b64__": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


@pytest.fixture
def wpage(browser):
    """A blank page that may not reach the network and must log no error."""
    from browser_support import watch

    context = browser.new_context(viewport={"width": 720, "height": 900})
    pg = context.new_page()
    log = watch(pg, "http://127.0.0.1:0/nothing-is-served")
    yield pg
    problems = log.problems()
    context.close()
    assert not problems, "\n".join(problems)


def mount(page, widget, theme: str = "light") -> None:
    """Render ``widget``'s front end into ``page`` (``theme``: ``light`` or ``dark``)."""
    page.set_content(PAGE.format(theme=theme))
    state = {k: v for k, v in widget.get_state().items() if not k.startswith("_")}
    page.evaluate(MOUNT_JS, {"esm": widget._esm, "css": widget._css, "state": _encode(state)})


def model_state(page, *names: str) -> dict[str, Any]:
    """The stand-in model's values of ``names``: what the page would send to a kernel."""
    return page.evaluate(
        "(names) => Object.fromEntries(names.map((n) => [n, window.__model.state[n]]))",
        list(names),
    )


def shown(page, testid: str) -> str:
    return page.get_by_test_id(testid).inner_text().strip()


def assert_shown(page, testid: str, expected: float, digits: int = 4) -> None:
    """The text of ``testid`` is ``expected`` written with ``digits`` decimals."""
    text = shown(page, testid)
    if math.isnan(expected) or math.isinf(expected):
        assert text == format_fixed(expected), (testid, text, expected)
        return
    assert re.fullmatch(rf"-?\d+\.\d{{{digits}}}", text), (testid, text)
    assert abs(float(text) - expected) <= 0.5 * 10**-digits + 1e-9, (testid, text, expected)


def assert_shown_exp(page, testid: str, expected: float) -> None:
    """The text of ``testid`` is ``expected`` in exponent notation with 4 digits."""
    text = shown(page, testid)
    if not math.isfinite(expected):
        assert text == format_exp(expected), (testid, text, expected)
        return
    assert re.fullmatch(r"-?\d\.\d{4}e[+-]\d+", text), (testid, text)
    assert math.isclose(float(text), expected, rel_tol=6e-5), (testid, text, expected)


def press(page, testid: str, key: str, times: int = 1) -> None:
    control = page.get_by_test_id(testid)
    control.focus()
    for _ in range(times):
        control.press(key)


def screenshot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#root").screenshot(path=str(SHOTS / f"{name}.png"))


# ----------------------------------------------------------------------------- formats


def test_number_formats_match_python(wpage) -> None:
    """fmt/fmtExp in the page write every number as attnbook.widgets._base does."""
    values = [0.0, -0.0, 1 / 3, -2 / 3, 0.03125, -0.03125, 1.00005, 123456.789, -1e-9, 2.5e-5]
    values += [math.exp(700), 1e-300, 9.99995, -4.4e15, float("inf"), float("-inf"), float("nan")]
    # fmt and fmtExp are private to the module: re-export them from a copy of it.
    wpage.set_content(PAGE.format(theme="light"))
    results = wpage.evaluate(
        """async ({ esm, values }) => {
          const src = esm.replace(/export default[^;]*;/, "")
            + "\\nexport { fmt, fmtExp, fmtInt, fmtBytes };";
          const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
          const m = await import(url);
          const decode = (v) => v === "nan" ? NaN : v === "inf" ? Infinity
            : v === "-inf" ? -Infinity : v;
          return values.map((v) => [m.fmt(decode(v)), m.fmt(decode(v), 2), m.fmtExp(decode(v))]);
        }""",
        {
            "esm": SoftmaxExplorer._esm,
            "values": [v if math.isfinite(v) else repr(v) for v in values],
        },
    )
    for value, (fixed4, fixed2, exp4) in zip(values, results, strict=True):
        assert fixed4 == format_fixed(value), value
        assert fixed2 == format_fixed(value, 2), value
        assert exp4 == format_exp(value), value


# ----------------------------------------------------------------------------- 1 dot product


def _assert_dot_readouts(page) -> None:
    state = model_state(page, "a", "b")
    q = DotProductExplorer(a=state["a"], b=state["b"]).quantities()
    assert_shown(page, "dot-value", q["dot"])
    assert_shown(page, "norm-a-value", q["norm_a"])
    assert_shown(page, "norm-b-value", q["norm_b"])
    assert_shown(page, "cosine-value", q["cosine"])
    assert_shown(page, "angle-value", q["angle_degrees"], digits=2)
    assert_shown(page, "projection-value", q["projection"])


def test_dot_product_keyboard_and_drag(wpage) -> None:
    widget = DotProductExplorer(a=(1.5, 0.5), b=(0.5, 1.25))
    mount(wpage, widget)
    _assert_dot_readouts(wpage)
    screenshot(wpage, "1_dot_product_light")

    press(wpage, "a-y-input", "ArrowRight", times=4)  # 4 steps of 0.05
    assert model_state(wpage, "a")["a"] == [1.5, 0.7]
    assert shown(wpage, "a-y-value") == "0.70"
    _assert_dot_readouts(wpage)

    press(wpage, "handle-b", "ArrowLeft", times=2)  # the tip moves with the arrow keys too
    assert model_state(wpage, "b")["b"] == [0.4, 1.25]
    _assert_dot_readouts(wpage)

    # Drag b's tip to the canvas point of (-1, 1): the tip snaps to the 0.05 grid.
    box = wpage.get_by_test_id("handle-b").bounding_box()
    canvas = wpage.locator(".attnbook-dot-canvas").bounding_box()
    per_unit = (canvas["width"] - 2 * 14 * canvas["width"] / 320) / 4
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    wpage.mouse.move(cx, cy)
    wpage.mouse.down()
    wpage.mouse.move(cx - 1.4 * per_unit, cy + 0.25 * per_unit, steps=5)
    wpage.mouse.up()
    b = model_state(wpage, "b")["b"]
    assert b == pytest.approx([-1.0, 1.0], abs=0.051)
    assert all(abs(v / 0.05 - round(v / 0.05)) < 1e-9 for v in b)
    _assert_dot_readouts(wpage)
    assert wpage.evaluate("window.__model.saved") > 0


def test_dot_product_zero_vector_is_undefined(wpage) -> None:
    mount(wpage, DotProductExplorer(a=(0.0, 0.0), b=(1.0, 1.0)))
    assert shown(wpage, "cosine-value").startswith("undefined")
    assert shown(wpage, "projection-value").startswith("undefined")
    assert_shown(wpage, "dot-value", 0.0)


# ----------------------------------------------------------------------------- 2 softmax


def _assert_softmax_readouts(page) -> SoftmaxExplorer:
    state = model_state(page, "scores", "temperature", "labels")
    widget = SoftmaxExplorer(**state)
    probs = widget.probabilities().tolist()
    naive_exp = widget.naive_exponentials().tolist()
    naive_p = widget.naive_probabilities().tolist()
    for i, p in enumerate(probs):
        assert_shown(page, f"prob-{i}", p)
        assert_shown(page, f"stable-prob-{i}", p)
        assert_shown(page, f"naive-prob-{i}", naive_p[i])
        assert_shown_exp(page, f"naive-exp-{i}", naive_exp[i])
        assert_shown(page, f"scaled-{i}", state["scores"][i] / state["temperature"])
    assert_shown(page, "prob-sum", 1.0)
    assert_shown(page, "temperature-value", state["temperature"], digits=2)
    return widget


def test_softmax_temperature_and_overflow(wpage) -> None:
    mount(wpage, SoftmaxExplorer(scores=[2.0, 1.0, 0.1], labels=["cat", "dog", "fish"]))
    _assert_softmax_readouts(wpage)

    press(wpage, "temperature-input", "ArrowRight", times=3)  # 1.00 -> 1.15
    assert model_state(wpage, "temperature")["temperature"] == pytest.approx(1.15)
    _assert_softmax_readouts(wpage)
    press(wpage, "temperature-input", "Home")
    assert model_state(wpage, "temperature")["temperature"] == pytest.approx(0.05)
    _assert_softmax_readouts(wpage)
    press(wpage, "temperature-input", "End")
    _assert_softmax_readouts(wpage)

    wpage.get_by_test_id("score-1-input").fill("3.5")
    assert model_state(wpage, "scores")["scores"] == [2.0, 3.5, 0.1]
    _assert_softmax_readouts(wpage)

    wpage.get_by_test_id("score-1-input").fill("")  # not a number: flagged, model unchanged
    assert wpage.get_by_test_id("score-1-input").get_attribute("aria-invalid") == "true"
    assert model_state(wpage, "scores")["scores"] == [2.0, 3.5, 0.1]

    wpage.get_by_test_id("overflow-demo").click()  # score 0 := 800, naive exp overflows
    press(wpage, "temperature-input", "Home")
    assert model_state(wpage, "scores")["scores"][0] == 800.0
    widget = _assert_softmax_readouts(wpage)
    assert shown(wpage, "naive-exp-0") == "Infinity"
    assert shown(wpage, "naive-prob-0") == "NaN"
    assert shown(wpage, "naive-sum") == "Infinity"
    assert_shown(wpage, "prob-0", 1.0)
    assert "Overflow" in shown(wpage, "overflow-status")
    assert bool(widget.probabilities().isfinite().all())
    screenshot(wpage, "2_softmax_overflow_light")

    wpage.get_by_test_id("reset-scores").click()
    assert model_state(wpage, "scores")["scores"] == [2.0, 1.0, 0.1]
    assert "No overflow" in shown(wpage, "overflow-status")


def test_softmax_follows_python_changes(wpage) -> None:
    """A change of the model from the kernel side redraws the widget (rows added too)."""
    mount(wpage, SoftmaxExplorer(scores=[1.0, 0.0]))
    wpage.evaluate(
        "() => { window.__model.state.labels = ['x', 'y', 'z'];"
        " window.__model.set('scores', [0.0, 1.0, 2.0]); window.__model.set('temperature', 0.5); }"
    )
    assert wpage.get_by_test_id("prob-2").count() == 1
    _assert_softmax_readouts(wpage)
    screenshot(wpage, "2_softmax_light")
    mount(wpage, SoftmaxExplorer(scores=[1.0, 0.0, -1.0]), theme="dark")
    screenshot(wpage, "2_softmax_dark")
