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

import numpy as np
import pytest
import torch

from attnbook.widgets import (
    AttentionLookup,
    AttentionMap,
    CostExplorer,
    DotProductExplorer,
    MaskExplorer,
    PositionalExplorer,
    ScalingExplorer,
    SoftmaxExplorer,
)
from attnbook.widgets._base import format_bytes, format_exp, format_fixed, format_int

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


def _assert_dot_readouts(page, state: dict[str, Any] | None = None) -> None:
    state = state or model_state(page, "a", "b")
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
    mount(wpage, DotProductExplorer(a=(-1.0, 0.5), b=(1.5, 1.0)), theme="dark")
    screenshot(wpage, "1_dot_product_dark")


def test_dot_product_zero_vector_is_undefined(wpage) -> None:
    mount(wpage, DotProductExplorer(a=(0.0, 0.0), b=(1.0, 1.0)))
    assert shown(wpage, "cosine-value").startswith("undefined")
    assert shown(wpage, "projection-value").startswith("undefined")
    assert_shown(wpage, "dot-value", 0.0)


# ----------------------------------------------------------------------------- 2 softmax


def _assert_softmax_readouts(page, state: dict[str, Any] | None = None) -> SoftmaxExplorer:
    state = state or model_state(page, "scores", "temperature", "labels")
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


def private_functions(page, widget_class, names: list[str], calls: str, arg: Any) -> Any:
    """Run ``calls`` (a JS arrow function body over module functions ``names``) in the page.

    The widget's module keeps its helpers private; a copy of it that exports them
    lets a test call exactly the code the page runs.
    """
    page.set_content(PAGE.format(theme="light"))
    return page.evaluate(
        """async ({ esm, names, calls, arg }) => {
          const src = esm.replace(/export default[^;]*;/, "") + `\\nexport { ${names.join(", ")} };`;
          const url = URL.createObjectURL(new Blob([src], { type: "text/javascript" }));
          const m = await import(url);
          return new Function("m", "arg", calls)(m, arg);
        }""",
        {"esm": widget_class._esm, "names": names, "calls": calls, "arg": arg},
    )


# ----------------------------------------------------------------------------- 3 scaling


def _assert_scaling_readouts(page, widget: ScalingExplorer | None = None) -> None:
    if widget is None:
        widget = ScalingExplorer()
        widget.dim_index = model_state(page, "dim_index")["dim_index"]
    stats = widget.statistics()
    assert shown(page, "dk-value") == str(widget.d_k)
    for kind in ("raw", "scaled"):
        assert_shown(page, f"{kind}-std", stats[kind]["std"])
        assert_shown(page, f"{kind}-max-weight", stats[kind]["max_weight"])
        assert_shown(page, f"{kind}-entropy", stats[kind]["entropy"])
    assert_shown(page, "expected-std", math.sqrt(widget.d_k))
    assert_shown(page, "max-entropy", math.log(widget.num_keys))


def test_scaling_slider_matches_python(wpage) -> None:
    mount(wpage, ScalingExplorer(d_k=64))
    _assert_scaling_readouts(wpage)
    screenshot(wpage, "3_scaling_light")
    press(wpage, "dk-input", "ArrowRight")
    assert model_state(wpage, "dim_index")["dim_index"] == 7  # d_k = 128
    _assert_scaling_readouts(wpage)
    press(wpage, "dk-input", "End")
    _assert_scaling_readouts(wpage)
    assert float(shown(wpage, "raw-max-weight")) > 0.9  # unscaled: nearly one-hot
    assert float(shown(wpage, "scaled-max-weight")) < 0.6
    press(wpage, "dk-input", "Home")
    _assert_scaling_readouts(wpage)
    assert wpage.locator('[data-testid^="x-tick-"]').count() >= 3
    mount(wpage, ScalingExplorer(d_k=512), theme="dark")
    screenshot(wpage, "3_scaling_dark")


# ----------------------------------------------------------------------------- 4 lookup


def _lookup_data(L: int = 5, E: int = 4, Ev: int = 3) -> dict[str, Any]:
    g = torch.Generator().manual_seed(3)
    return {
        "tokens": ["I", "love", "pizza", "with", "olives"][:L],
        "query": torch.randn(L, E, generator=g) * 1.5,
        "key": torch.randn(L, E, generator=g) * 1.5,
        "value": torch.randn(L, Ev, generator=g),
    }


def test_lookup_selected_token_matches_tensors(wpage) -> None:
    data = _lookup_data()
    mount(wpage, AttentionLookup(**data))
    q, k, v = (data[name].double() for name in ("query", "key", "value"))
    for i in (2, 0, 4):
        wpage.get_by_test_id(f"query-token-{i}").click()
        assert model_state(wpage, "query_index")["query_index"] == i
        assert wpage.get_by_test_id(f"query-token-{i}").get_attribute("aria-pressed") == "true"
        assert shown(wpage, "query-token") == data["tokens"][i]
        weights = torch.softmax(q[i] @ k.T / math.sqrt(q.shape[-1]), dim=-1)  # (S,)
        for j, w in enumerate(weights.tolist()):
            assert_shown(wpage, f"weight-{j}", w)
            assert_shown(wpage, f"dot-{j}", float(q[i] @ k[j]))
        for d, o in enumerate((weights @ v).tolist()):
            assert_shown(wpage, f"output-{d}", o)
    screenshot(wpage, "4_lookup_light")

    wpage.get_by_test_id("scaled-input").click()  # unscaled: softmax(q · k)
    assert model_state(wpage, "scaled")["scaled"] is False
    weights = torch.softmax(q[4] @ k.T, dim=-1)
    for j, w in enumerate(weights.tolist()):
        assert_shown(wpage, f"weight-{j}", w)
    assert_shown(wpage, "scale-value", 1.0)
    mount(wpage, AttentionLookup(**data, query_index=1), theme="dark")
    screenshot(wpage, "4_lookup_dark")


# ----------------------------------------------------------------------------- 5 map


def _map_weights(layers: int, heads: int, L: int, seed: int = 5) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(layers, heads, L, L, generator=g) * 2.5
    return torch.softmax(scores, dim=-1)  # (layers, heads, L, S)


def _assert_top_keys(page, weights: torch.Tensor, layer: int, head: int, i: int, k: int = 5):
    """The listed keys are the row's largest weights, ties to the lower index, as shown."""
    row = weights[layer, head, i].double()  # (S,)
    shown_row = torch.round(row * 65535) / 65535  # the page's uint16 copy
    order = sorted(range(len(row)), key=lambda j: (-float(shown_row[j]), j))[:k]
    for rank, j in enumerate(order):
        assert int(shown(page, f"top-{rank + 1}-index")) == j
        # uint16 transport (<= 7.7e-6) plus rounding to 4 decimals (<= 5e-5)
        assert abs(float(shown(page, f"top-{rank + 1}-weight")) - float(row[j])) <= 5e-5 + 8e-6


def test_attention_map_select_hover_and_lines(wpage) -> None:
    weights = _map_weights(2, 4, 10)
    tokens = "the cat sat on the mat because it was tired".split()
    mount(wpage, AttentionMap(weights, tokens))
    wpage.get_by_test_id("layer-select").select_option("1")
    wpage.get_by_test_id("head-select").select_option("2")
    wpage.get_by_test_id("query-select").select_option("7")
    assert model_state(wpage, "layer", "head", "query_index") == {
        "layer": 1,
        "head": 2,
        "query_index": 7,
    }
    assert shown(wpage, "selected-token").startswith("“it”")
    _assert_top_keys(wpage, weights, 1, 2, 7)

    heat = wpage.get_by_test_id("heatmap")
    heat.focus()
    heat.press("ArrowDown")  # keyboard: next query row
    assert model_state(wpage, "query_index")["query_index"] == 8
    _assert_top_keys(wpage, weights, 1, 2, 8)

    # Hover the cell (query 3, key 5) and click it: the row becomes the selection.
    box = heat.bounding_box()
    geometry = wpage.evaluate(
        """() => { const c = document.querySelector('[data-testid="heatmap"]');
          return [c.width / (window.devicePixelRatio || 1)]; }"""
    )
    css_width = geometry[0]
    pad, cell = 72, math.floor(320 / 10)
    scale = box["width"] / css_width
    x = box["x"] + (pad + 5.5 * cell) * scale
    y = box["y"] + (pad + 3.5 * cell) * scale
    wpage.mouse.move(x, y)
    assert shown(wpage, "hover-query") == tokens[3]
    assert shown(wpage, "hover-key") == tokens[5]
    assert abs(float(shown(wpage, "hover-weight")) - float(weights[1, 2, 3, 5])) <= 5e-5 + 8e-6
    wpage.mouse.click(x, y)
    assert model_state(wpage, "query_index")["query_index"] == 3
    screenshot(wpage, "5_attention_map_heatmap_light")

    wpage.get_by_test_id("view-select").select_option("lines")
    wpage.get_by_test_id("line-query-1").click()
    assert model_state(wpage, "view", "query_index") == {"view": "lines", "query_index": 1}
    _assert_top_keys(wpage, weights, 1, 2, 1)
    wpage.get_by_test_id("line-query-1").focus()
    wpage.keyboard.press("Enter")  # Enter on the selected token clears the selection
    assert model_state(wpage, "query_index")["query_index"] == -1
    screenshot(wpage, "5_attention_map_lines_light")
    mount(wpage, AttentionMap(weights, tokens, query_index=7, layer=1), theme="dark")
    screenshot(wpage, "5_attention_map_dark")


def test_attention_map_cross_attention_tokens(wpage) -> None:
    weights = torch.softmax(torch.randn(3, 6, generator=torch.Generator().manual_seed(1)), -1)
    source = ["le", "chat", "est", "sur", "le", "tapis"]
    mount(wpage, AttentionMap(weights, ["the", "cat", "sat"], key_tokens=source, query_index=1))
    _assert_top_keys(wpage, weights[None, None], 0, 0, 1)
    assert shown(wpage, "top-1-token") == source[int(weights[1].argmax())]


def test_attention_map_large_stays_light(wpage) -> None:
    """4 layers × 8 heads × 128 tokens: one canvas, a bounded DOM, correct after switching."""
    weights = _map_weights(4, 8, 128, seed=11)
    tokens = [f"t{i}" for i in range(128)]
    mount(wpage, AttentionMap(weights, tokens, query_index=100))
    assert wpage.locator("canvas").count() == 1
    nodes = wpage.evaluate("document.querySelectorAll('*').length")
    assert nodes < 1500, nodes  # 128 × 128 cells would be 16k nodes as SVG
    wpage.get_by_test_id("layer-select").select_option("3")
    wpage.get_by_test_id("head-select").select_option("7")
    _assert_top_keys(wpage, weights, 3, 7, 100)
    screenshot(wpage, "5_attention_map_128_light")


# ----------------------------------------------------------------------------- 6 masks


def test_mask_rules_match_attnbook_masks(wpage) -> None:
    """Every cell of the page's mask rules equals attnbook.masks for many settings."""
    cases = []
    for size in (1, 2, 5, 9, 12):
        for kind in ("none", "causal"):
            cases.append({"kind": kind, "size": size})
        for padding in range(size):
            cases.append({"kind": "padding", "size": size, "padding": padding})
        for causal in (False, True):
            for window in range(size):
                cases.append({"kind": "local", "size": size, "window": window, "causal": causal})
            for stride in range(1, size + 1):
                cases.append({"kind": "strided", "size": size, "stride": stride, "causal": causal})
    got = private_functions(
        wpage,
        MaskExplorer,
        ["mayAttend"],
        """return arg.map((c) => {
             const p = { size: c.size, padding: c.padding ?? 0, window: c.window ?? 0,
                         stride: c.stride ?? 1, causal: c.causal ?? false };
             return Array.from({ length: c.size }, (_, i) =>
               Array.from({ length: c.size }, (_, j) => m.mayAttend(c.kind, i, j, p)));
           });""",
        cases,
    )
    for case, page_mask in zip(cases, got, strict=True):
        expected = MaskExplorer(max_len=12, **case).mask()
        assert torch.equal(torch.tensor(page_mask, dtype=torch.bool), expected), case


MASK_CONTROLS = ("kind", "size", "window", "stride", "padding", "causal", "query_row")


def _assert_mask_page(page, widget: MaskExplorer | None = None) -> None:
    if widget is None:
        widget = MaskExplorer(max_len=12, **model_state(page, *MASK_CONTROLS))
    state = {name: getattr(widget, name) for name in MASK_CONTROLS}
    mask, weights = widget.mask(), widget.weights()
    cells = page.evaluate(
        """() => Array.from(document.querySelectorAll('rect[data-testid^="mask-"]'),
             (r) => [r.dataset.testid, r.dataset.value])"""
    )
    L = state["size"]
    assert len(cells) == L * L
    for testid, value in cells:
        _, i, j = testid.split("-")
        assert value == ("1" if mask[int(i), int(j)] else "0"), testid
    i = state["query_row"]
    for j in range(L):
        assert_shown(page, f"row-weight-{j}", float(weights[i, j]))
        assert shown(page, f"row-mask-{j}") == str(bool(mask[i, j]))
    assert shown(page, "allowed-count") == str(int(mask.sum()))
    assert_shown(page, "allowed-fraction", float(mask.sum()) / L**2)
    assert shown(page, "row-allowed") == str(int(mask[i].sum()))


def test_mask_controls_match_python(wpage) -> None:
    mount(wpage, MaskExplorer("causal", size=8, max_len=12))
    _assert_mask_page(wpage)
    screenshot(wpage, "6_mask_causal_light")
    wpage.get_by_test_id("kind-select").select_option("local")
    press(wpage, "window-input", "ArrowRight")  # window 2
    _assert_mask_page(wpage)
    wpage.get_by_test_id("causal-input").check()
    _assert_mask_page(wpage)
    wpage.get_by_test_id("kind-select").select_option("strided")
    press(wpage, "size-input", "End")  # L = 12
    press(wpage, "stride-input", "ArrowRight")  # stride 4
    press(wpage, "row-input", "End")  # last query row
    assert model_state(wpage, "size", "stride")["stride"] == 4
    _assert_mask_page(wpage)
    screenshot(wpage, "6_mask_strided_light")
    wpage.get_by_test_id("kind-select").select_option("padding")
    press(wpage, "padding-input", "ArrowRight", times=3)  # 5 padded keys
    _assert_mask_page(wpage)
    press(wpage, "size-input", "Home")  # L = 1: padding and the row follow it down to 0
    assert model_state(wpage, "size", "padding", "query_row") == {
        "size": 1,
        "padding": 0,
        "query_row": 0,
    }
    _assert_mask_page(wpage)
    mount(wpage, MaskExplorer("local", size=10, window=2, max_len=12), theme="dark")
    screenshot(wpage, "6_mask_dark")


# ----------------------------------------------------------------------------- 7 positional


def _assert_positional_page(page, widget: PositionalExplorer | None = None) -> None:
    if widget is None:
        widget = PositionalExplorer(**model_state(page, "freq_index", "position", "other"))
    state = {name: getattr(widget, name) for name in ("freq_index", "position", "other")}
    table = widget.table()
    i, p = state["freq_index"], state["position"]
    assert_shown(page, "pe-sin-value", float(table[p, 2 * i]))
    assert_shown(page, "pe-cos-value", float(table[p, 2 * i + 1]))
    assert_shown(page, "similarity-value", widget.similarity())
    assert shown(page, "offset-value") == str(p - state["other"])
    assert_shown_exp(page, "frequency-value", widget.theta())
    assert_shown(page, "wavelength-value", 2 * math.pi / widget.theta(), digits=2)
    x, y = widget.rotate()
    # RotaryEmbedding keeps float32 tables: allow their rounding on top of the display's.
    assert abs(float(shown(page, "rope-x-value")) - x) <= 5e-5 + 1e-6
    assert abs(float(shown(page, "rope-y-value")) - y) <= 5e-5 + 1e-6
    assert_shown(page, "rope-angle-value", p * widget.theta())
    xq, yq = widget.rotate(state["other"])
    assert abs(float(shown(page, "rope-dot-value")) - (x * xq + y * yq)) <= 5e-5 + 2e-6
    assert_shown(page, "rope-offset-dot-value", widget.rope_dot())


def test_positional_controls_match_python(wpage) -> None:
    mount(wpage, PositionalExplorer())
    _assert_positional_page(wpage)
    screenshot(wpage, "7_positional_light")
    press(wpage, "position-input", "End")
    press(wpage, "other-input", "Home")
    press(wpage, "freq-input", "ArrowRight", times=3)
    assert model_state(wpage, "freq_index", "position", "other") == {
        "freq_index": 5,
        "position": 63,
        "other": 0,
    }
    _assert_positional_page(wpage)
    # Same offset, other place: the similarity and the RoPE dot product do not change.
    before = (shown(wpage, "similarity-value"), shown(wpage, "rope-offset-dot-value"))
    press(wpage, "position-input", "ArrowLeft", times=10)
    press(wpage, "other-input", "ArrowRight", times=10)
    press(wpage, "other-input", "ArrowLeft", times=20)  # clamps at 0; p - q = 53
    assert model_state(wpage, "position", "other") == {"position": 53, "other": 0}
    _assert_positional_page(wpage)
    assert before != (shown(wpage, "similarity-value"), shown(wpage, "rope-offset-dot-value"))
    mount(wpage, PositionalExplorer(freq_index=0, position=20, other=10), theme="dark")
    screenshot(wpage, "7_positional_dark")


# ----------------------------------------------------------------------------- 8 cost

BENCH = {
    "results": [
        {"L": n, "median_ms": {"naive": 1e-6 * n * n, "tiled": 1.2e-6 * n * n, "linear": 2e-3 * n}}
        for n in (256, 512, 1024, 2048, 4096)
    ]
}


COST_CONTROLS = ("seq_len", "num_heads", "num_layers", "batch_size", "precision")


def _assert_cost_page(page, state: dict[str, Any] | None = None) -> None:
    state = state or model_state(page, *COST_CONTROLS)
    counts = CostExplorer(**state).counts()
    assert shown(page, "headline-tokens") == format_int(state["seq_len"])
    assert shown(page, "weights-per-head") == format_int(counts["weights_per_head"])
    for key, name in (("head", "per_head"), ("layer", "per_layer"), ("total", "total")):
        assert shown(page, f"weights-{key}") == format_int(counts[f"weights_{name}"])
        assert shown(page, f"memory-{key}") == format_bytes(counts[f"bytes_{name}"])


def test_cost_counts_and_measurements(wpage) -> None:
    widget = CostExplorer(BENCH, source="synthetic")
    mount(wpage, widget)
    assert shown(wpage, "weights-per-head") == "100,000,000"  # 10,000 tokens, one head
    _assert_cost_page(wpage)
    slopes = widget.slopes()
    methods = sorted(slopes)
    for k, method in enumerate(methods):
        assert shown(wpage, f"method-{k}") == method
        assert_shown(wpage, f"slope-{k}", slopes[method], digits=2)
        assert shown(wpage, f"largest-n-{k}") == "4,096"
        expected = [r for r in widget.measurements if r["method"] == method][-1]["seconds"]
        assert_shown_exp(wpage, f"largest-seconds-{k}", expected)
    screenshot(wpage, "8_cost_light")

    press(wpage, "seq-len-input", "ArrowRight")  # 16,384
    assert model_state(wpage, "seq_len")["seq_len"] == 16_384
    _assert_cost_page(wpage)
    wpage.get_by_test_id("num-heads-input").fill("16")
    wpage.get_by_test_id("num-layers-input").fill("24")
    wpage.get_by_test_id("batch-size-input").fill("32")
    wpage.get_by_test_id("precision-select").select_option("bf16")
    press(wpage, "seq-len-input", "End")  # 131,072 tokens: 1.6e16 weights, beyond 2^53
    assert model_state(wpage, "num_heads", "num_layers", "batch_size", "precision") == {
        "num_heads": 16,
        "num_layers": 24,
        "batch_size": 32,
        "precision": "bf16",
    }
    _assert_cost_page(wpage)
    wpage.get_by_test_id("num-heads-input").fill("0")  # out of range: flagged, model unchanged
    assert wpage.get_by_test_id("num-heads-input").get_attribute("aria-invalid") == "true"
    assert model_state(wpage, "num_heads")["num_heads"] == 16
    mount(wpage, CostExplorer(BENCH, seq_len=4096), theme="dark")
    screenshot(wpage, "8_cost_dark")


def test_cost_without_measurements(wpage) -> None:
    mount(wpage, CostExplorer(seq_len=1024, precision="int8"))
    _assert_cost_page(wpage)
    assert "No measurements" in wpage.get_by_test_id("cost-explorer").inner_text()


# ----------------------------------------------------------------------------- the built book
#
# The same checks through the real page: Jupyter Book's saved widget state, the
# vendored widget manager and anywidget's front end, offline. The data each widget
# got in Python is read back from the page's saved state (what "the tensor passed
# in" became), and the `gallery` fixture fails on any request that leaves the site
# and on any console or page error.

GALLERY = "notebooks/A1_widget_gallery.html"
WIDGETS = {
    "dot-product-explorer": "DotProductExplorer",
    "softmax-explorer": "SoftmaxExplorer",
    "scaling-explorer": "ScalingExplorer",
    "attention-lookup": "AttentionLookup",
    "attention-map": "AttentionMap",
    "mask-explorer": "MaskExplorer",
    "positional-explorer": "PositionalExplorer",
    "cost-explorer": "CostExplorer",
}


@pytest.fixture(scope="module")
def gallery(browser, book_server):
    """The built gallery page, once every widget has rendered, shared by the book tests.

    Loading it once keeps these tests quick; each test moves only its own widget's
    controls. Like the ``page`` fixture, it fails on any request that leaves the
    site and on any console or page error, checked when the module is done.
    """
    from browser_support import watch

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    log = watch(page, book_server)
    page.goto(f"{book_server}/{GALLERY}")
    page.wait_for_load_state("networkidle")
    page.wait_for_function(
        "n => document.querySelectorAll('.attnbook-widget').length >= n",
        arg=len(WIDGETS),
        timeout=30_000,
    )
    yield page
    problems = log.problems()
    context.close()
    assert not problems, "\n".join(problems)


def saved_state(page, class_name: str) -> dict[str, Any]:
    """The saved state of the page's one ``class_name`` widget, binary buffers decoded."""
    model = page.evaluate(
        """(name) => {
          const script = document.querySelector(
            'script[type="application/vnd.jupyter.widget-state+json"]');
          const models = Object.values(JSON.parse(script.textContent).state);
          return models.find((m) => String(m.state._anywidget_id || "").endsWith("." + name))
            || null;
        }""",
        class_name,
    )
    assert model, f"{class_name} is not in the saved widget state of {GALLERY}"
    state = model["state"]
    for buffer in model.get("buffers", []):
        target = state
        for key in buffer["path"][:-1]:
            target = target[key]
        target[buffer["path"][-1]] = base64.b64decode(buffer["data"])
    return state


@pytest.mark.book
def test_gallery_shows_every_widget(gallery) -> None:
    found = gallery.evaluate(
        "[...document.querySelectorAll('.attnbook-widget')].map((e) => e.dataset.testid)"
    )
    assert sorted(found) == sorted(WIDGETS)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for testid in WIDGETS:
        root = gallery.get_by_test_id(testid)
        box = root.bounding_box()
        assert box["width"] > 300 and box["height"] > 150, (testid, box)
        root.screenshot(path=str(SHOTS / f"book_{testid}.png"))


@pytest.mark.book
def test_gallery_dot_product(gallery) -> None:
    root = gallery.get_by_test_id("dot-product-explorer")
    saved = saved_state(gallery, "DotProductExplorer")
    _assert_dot_readouts(root, {"a": saved["a"], "b": saved["b"]})
    press(root, "a-x-input", "ArrowLeft", times=2)
    a = [round(saved["a"][0] - 2 * saved["step"], 10), saved["a"][1]]
    assert shown(root, "a-x-value") == format_fixed(a[0], 2)
    _assert_dot_readouts(root, {"a": a, "b": saved["b"]})


@pytest.mark.book
def test_gallery_softmax(gallery) -> None:
    root = gallery.get_by_test_id("softmax-explorer")
    saved = saved_state(gallery, "SoftmaxExplorer")
    state = {k: saved[k] for k in ("scores", "labels", "temperature")}
    _assert_softmax_readouts(root, state)
    press(root, "temperature-input", "ArrowRight", times=2)
    state["temperature"] = round(saved["temperature"] + 2 * saved["temperature_step"], 10)
    _assert_softmax_readouts(root, state)
    root.get_by_test_id("overflow-demo").click()
    state["scores"] = [800.0, *saved["scores"][1:]]
    _assert_softmax_readouts(root, state)
    assert shown(root, "naive-exp-0") == "Infinity"


@pytest.mark.book
def test_gallery_scaling(gallery) -> None:
    root = gallery.get_by_test_id("scaling-explorer")
    saved = saved_state(gallery, "ScalingExplorer")
    widget = ScalingExplorer(
        saved["dims"],
        num_queries=saved["num_queries"],
        num_keys=saved["num_keys"],
        seed=saved["seed"],
        d_k=saved["dims"][saved["dim_index"]],
    )
    assert widget.scores == saved["scores"]  # the shipped samples are reproducible
    _assert_scaling_readouts(root, widget)
    press(root, "dk-input", "ArrowRight")
    widget.dim_index += 1
    _assert_scaling_readouts(root, widget)


@pytest.mark.book
def test_gallery_lookup(gallery) -> None:
    root = gallery.get_by_test_id("attention-lookup")
    saved = saved_state(gallery, "AttentionLookup")
    q, k, v = (torch.tensor(saved[n], dtype=torch.float64) for n in ("query", "key", "value"))
    for i in (0, len(saved["tokens"]) - 1):
        root.get_by_test_id(f"query-token-{i}").click()
        assert shown(root, "query-token") == saved["tokens"][i]
        weights = torch.softmax(q[i] @ k.T / math.sqrt(q.shape[-1]), dim=-1)  # (S,)
        for j, w in enumerate(weights.tolist()):
            assert_shown(root, f"weight-{j}", w)
        for d, o in enumerate((weights @ v).tolist()):
            assert_shown(root, f"output-{d}", o)


@pytest.mark.book
def test_gallery_attention_map(gallery) -> None:
    root = gallery.get_by_test_id("attention-map")
    saved = saved_state(gallery, "AttentionMap")
    packed = saved["weights"]
    weights = torch.tensor(
        np.frombuffer(packed["data"], dtype="<u2").astype(np.float64) / packed["levels"]
    ).reshape(packed["shape"])  # (layers, heads, L, S): what Python passed, to 7.7e-6
    layer, head = packed["shape"][0] - 1, packed["shape"][1] - 1
    root.get_by_test_id("layer-select").select_option(str(layer))
    root.get_by_test_id("head-select").select_option(str(head))
    root.get_by_test_id("query-select").select_option("3")
    _assert_top_keys(root, weights, layer, head, 3)
    root.get_by_test_id("view-select").select_option("lines")
    root.get_by_test_id("line-query-5").click()
    _assert_top_keys(root, weights, layer, head, 5)


@pytest.mark.book
def test_gallery_masks(gallery) -> None:
    root = gallery.get_by_test_id("mask-explorer")
    saved = saved_state(gallery, "MaskExplorer")
    widget = MaskExplorer(scores=saved["scores"], **{n: saved[n] for n in MASK_CONTROLS})
    _assert_mask_page(root, widget)
    root.get_by_test_id("kind-select").select_option("local")
    press(root, "window-input", "ArrowRight")
    widget.kind, widget.window = "local", saved["window"] + 1
    _assert_mask_page(root, widget)


@pytest.mark.book
def test_gallery_positional(gallery) -> None:
    root = gallery.get_by_test_id("positional-explorer")
    saved = saved_state(gallery, "PositionalExplorer")
    names = ("embed_dim", "max_len", "base", "freq_index", "position", "other", "rope_vector")
    widget = PositionalExplorer(**{n: saved[n] for n in names})
    _assert_positional_page(root, widget)
    press(root, "position-input", "End")
    press(root, "freq-input", "ArrowRight")
    widget.position, widget.freq_index = saved["max_len"] - 1, saved["freq_index"] + 1
    _assert_positional_page(root, widget)


@pytest.mark.book
def test_gallery_cost(gallery) -> None:
    root = gallery.get_by_test_id("cost-explorer")
    saved = saved_state(gallery, "CostExplorer")
    state = {n: saved[n] for n in COST_CONTROLS}
    _assert_cost_page(root, state)
    press(root, "seq-len-input", "ArrowRight")
    choices = saved["seq_len_choices"]
    state["seq_len"] = choices[choices.index(saved["seq_len"]) + 1]
    _assert_cost_page(root, state)
    slopes = CostExplorer(saved["measurements"]).slopes()
    for k, method in enumerate(sorted(slopes)):
        assert shown(root, f"method-{k}") == method
        if math.isfinite(slopes[method]):
            assert_shown(root, f"slope-{k}", slopes[method], digits=2)
