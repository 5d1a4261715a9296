// Helpers shared by every attnbook widget. attnbook.widgets._base.load_esm puts this
// file in front of each widget's own script, because anywidget loads a widget from
// one ES module string. Plain DOM and SVG, no dependencies, no network.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else node.setAttribute(key, value === true ? "" : String(value));
  }
  return node;
}

/** An HTML element: h("div", { class: "x", text: "hi" }, [children]). */
function h(tag, attrs = {}, children = []) {
  const node = setAttrs(document.createElement(tag), attrs);
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

/** An SVG element, same calling convention as h(). */
function svg(tag, attrs = {}, children = []) {
  const node = setAttrs(document.createElementNS(SVG_NS, tag), attrs);
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

let uidCounter = 0;
/** A page-unique id, so several widgets on one page never share a <label for>. */
function uid(stem) {
  uidCounter += 1;
  return `attnbook-${stem}-${uidCounter}-${Math.random().toString(36).slice(2, 8)}`;
}

// ---- number formats (mirrored in Python by attnbook.widgets._base) --------------------

/** Fixed point, `digits` decimals (toFixed: halves away from zero); -0 shown as 0. */
function fmt(x, digits = 4) {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  const text = x.toFixed(digits);
  return /^-[0.]+$/.test(text) ? text.slice(1) : text;
}

/** Scientific notation as toExponential: "1.0142e+304". */
function fmtExp(x, digits = 4) {
  if (!Number.isFinite(x)) return fmt(x);
  return x === 0 ? `${(0).toFixed(digits)}e+0` : x.toExponential(digits);
}

/** An integer (Number or BigInt) with a comma every three digits, locale-independent. */
function fmtInt(n) {
  const text = BigInt(n).toString();
  const sign = text.startsWith("-") ? "-" : "";
  const digits = sign ? text.slice(1) : text;
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
/** A byte count (BigInt or Number) in binary units with two decimals. */
function fmtBytes(n) {
  const big = BigInt(n);
  if (big < 1024n) return `${big} B`;
  const power = Math.min(BYTE_UNITS.length - 1, Math.floor((big.toString(2).length - 1) / 10));
  return `${fmt(Number(big) / 1024 ** power, 2)} ${BYTE_UNITS[power]}`;
}

// ---- maths ----------------------------------------------------------------------------

/** Stable softmax with temperature, as attnbook.functional.softmax: exp((x - max) / T). */
function softmax(xs, temperature = 1) {
  let shift = -Infinity;
  for (const x of xs) if (x > shift) shift = x;
  if (!Number.isFinite(shift)) shift = 0; // an all -inf row: exp gives 0 everywhere
  const ex = xs.map((x) => Math.exp((x - shift) / temperature));
  let total = 0;
  for (const e of ex) total += e;
  return ex.map((e) => (total > 0 ? e / total : 0)); // an all -inf row gets zeros
}

/** Entropy in nats, with 0 log 0 = 0. */
function entropy(ps) {
  let total = 0;
  for (const p of ps) if (p > 0) total -= p * Math.log(p);
  return total;
}

function clamp(x, low, high) {
  return Math.min(high, Math.max(low, x));
}

// A perceptual colour scale (viridis anchors) for heat maps: its lightness rises
// monotonically, so it reads the same on light and dark pages.
const VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];
function viridis(t) {
  const x = clamp(Number.isFinite(t) ? t : 0, 0, 1) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  return VIRIDIS[i].map((c, k) => Math.round(c + f * (VIRIDIS[i + 1][k] - c)));
}
function viridisCss(t) {
  const [r, g, b] = viridis(t);
  return `rgb(${r}, ${g}, ${b})`;
}

// ---- building blocks ------------------------------------------------------------------

/** The outer box of a widget: a titled <section> with data-testid = the widget's name. */
function widgetRoot(el, name, title, subtitle) {
  const root = h("section", {
    class: `attnbook-widget attnbook-${name}`,
    "data-testid": name,
    "aria-label": title,
  });
  root.append(h("div", { class: "attnbook-title", text: title }));
  if (subtitle) root.append(h("div", { class: "attnbook-subtitle", text: subtitle }));
  el.replaceChildren(root);
  return root;
}

/**
 * A labelled <input type=range> with an <output> showing its value.
 * `testid` names both: `${testid}-input` and `${testid}-value`.
 */
function rangeControl({ stem, label, min, max, step, value, testid, show }) {
  const id = uid(stem);
  const input = h("input", {
    type: "range", id, min, max, step, value, "data-testid": `${testid}-input`,
  });
  const output = h("output", { for: id, "data-testid": `${testid}-value` });
  const row = h("div", { class: "attnbook-control" }, [
    h("label", { for: id, text: label }), input, output,
  ]);
  const display = (v) => {
    const text = show(v);
    output.textContent = text;
    input.setAttribute("aria-valuetext", text);
  };
  return {
    row, input, output,
    set(v) {
      // Only move the thumb when the value differs, so a drag in progress is not reset.
      if (Number(input.value) !== Number(v)) input.value = v;
      display(v);
    },
  };
}

/** A labelled <select>; options are [value, text] pairs. */
function selectControl({ stem, label, options, value, testid }) {
  const id = uid(stem);
  const select = h("select", { id, "data-testid": `${testid}-select` },
    options.map(([v, text]) => h("option", { value: v, text })));
  select.value = String(value);
  const row = h("div", { class: "attnbook-control" }, [h("label", { for: id, text: label }), select]);
  return { row, select };
}

/** A labelled checkbox. */
function checkboxControl({ stem, label, checked, testid }) {
  const id = uid(stem);
  const input = h("input", { type: "checkbox", id, "data-testid": `${testid}-input` });
  input.checked = Boolean(checked);
  const row = h("div", { class: "attnbook-control attnbook-check" }, [
    input, h("label", { for: id, text: label }),
  ]);
  return { row, input };
}

/** Set a model trait from the page and send it to the kernel when there is one. */
function commit(model, name, value) {
  model.set(name, value);
  model.save_changes();
}

/** Subscribe to changes of several traits; returns the unsubscribe function. */
function listen(model, names, callback) {
  for (const name of names) model.on(`change:${name}`, callback);
  return () => { for (const name of names) model.off(`change:${name}`, callback); };
}

/** Nice tick values covering [low, high] for a linear axis. */
function niceTicks(low, high, count = 5) {
  const span = high - low;
  if (!(span > 0)) return [low];
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(low / step) * step; t <= high + step * 1e-9; t += step) {
    ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  }
  return ticks;
}

/** The digits a tick label needs for `step`-spaced ticks. */
function tickDigits(ticks) {
  if (ticks.length < 2) return 2;
  const step = Math.abs(ticks[1] - ticks[0]);
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}
