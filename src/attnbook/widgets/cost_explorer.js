// CostExplorer: how many attention weights a model holds, and their memory, as the sequence
// grows; next to it, measured times from a benchmark on a log-log chart. Counts use BigInt,
// so layers × batch × heads × L² stays exact far beyond 2^53.

const BYTES = { fp32: 4n, fp16: 2n, bf16: 2n, int8: 1n };
const PALETTE = ["#3b82f6", "#f97316", "#16a34a", "#a855f7", "#e11d48", "#0891b2", "#ca8a04", "#64748b"];
const CH_W = 600;
const CH_H = 230;
const M = { left: 56, right: 12, top: 10, bottom: 34 };

/** Least-squares slope of log10(seconds) against log10(n): the exponent of the growth. */
function logSlope(points) {
  const xs = points.map((p) => Math.log10(p.n));
  const ys = points.map((p) => Math.log10(p.seconds));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0;
  let sxx = 0;
  xs.forEach((x, k) => { sxy += (x - mx) * (ys[k] - my); sxx += (x - mx) * (x - mx); });
  return sxx > 0 ? sxy / sxx : NaN;
}

function render({ model, el }) {
  const root = widgetRoot(el, "cost-explorer", "The cost of attention",
    "Every head of every layer holds an L × L matrix of weights: memory grows with L².");

  const choices = () => model.get("seq_len_choices");
  const lenCtl = rangeControl({
    stem: "seq-len", label: "sequence length L", testid: "seq-len", min: 0,
    max: choices().length - 1, step: 1, value: Math.max(0, choices().indexOf(model.get("seq_len"))),
    show: (k) => fmtInt(choices()[k]),
  });
  lenCtl.input.addEventListener("input", () => commit(model, "seq_len", choices()[Number(lenCtl.input.value)]));

  const numberInputs = {};
  const numberRows = [["num_heads", "heads", 1, 128], ["num_layers", "layers", 1, 128],
    ["batch_size", "batch size", 1, 1024]].map(([name, label, min, max]) => {
    const id = uid(name);
    const testid = name.replace("_", "-");
    const input = h("input", { type: "number", id, min, max, step: 1, value: model.get(name),
      "data-testid": `${testid}-input` });
    input.addEventListener("input", () => {
      const v = Number(input.value);
      const ok = Number.isInteger(v) && v >= min && v <= max && input.value.trim() !== "";
      input.setAttribute("aria-invalid", ok ? "false" : "true");
      if (ok) commit(model, name, v);
    });
    numberInputs[name] = input;
    return h("div", { class: "attnbook-cost-field" }, [h("label", { for: id, text: label }), input]);
  });
  const precision = selectControl({ stem: "precision", label: "precision", testid: "precision",
    value: model.get("precision"),
    options: [["fp32", "fp32 (4 bytes)"], ["fp16", "fp16 (2 bytes)"], ["bf16", "bf16 (2 bytes)"],
      ["int8", "int8 (1 byte)"]] });
  precision.select.addEventListener("change", () => commit(model, "precision", precision.select.value));

  const headline = h("div", { class: "attnbook-cost-headline" }, [
    h("span", { "data-testid": "headline-tokens" }), " tokens → ",
    h("span", { "data-testid": "weights-per-head" }), " weights per head",
  ]);
  const cells = {};
  const tableRow = (key, label) => {
    cells[`weights-${key}`] = h("td", { "data-testid": `weights-${key}` });
    cells[`memory-${key}`] = h("td", { "data-testid": `memory-${key}` });
    return h("tr", {}, [h("th", { scope: "row", text: label }), cells[`weights-${key}`],
      cells[`memory-${key}`]]);
  };
  const table = h("table", { class: "attnbook-table attnbook-cost-table" }, [
    h("thead", {}, [h("tr", {}, ["", "attention weights", "memory"].map((text) => h("th", { scope: "col", text })))]),
    h("tbody", {}, [
      tableRow("head", "one head: L × L"),
      tableRow("layer", "one layer: batch × heads × L²"),
      tableRow("total", "all layers (kept for backward)"),
    ]),
  ]);
  const chart = svg("svg", { viewBox: `0 0 ${CH_W} ${CH_H}`, width: CH_W, height: CH_H,
    class: "attnbook-cost-chart", role: "img", "aria-label": "measured time against length, log-log" });
  const chartTitle = h("div", { class: "attnbook-cost-chart-title" });
  const legend = h("table", { class: "attnbook-table attnbook-cost-legend" });

  root.append(
    lenCtl.row,
    h("div", { class: "attnbook-row attnbook-cost-fields" }, [...numberRows, precision.row]),
    headline, table,
    h("div", { class: "attnbook-note", text: "Training keeps one such matrix per head and layer "
      + "for the backward pass; FlashAttention-style tiling never stores it (chapter 15)." }),
    chartTitle, chart, legend,
  );

  function updateCounts() {
    const n = BigInt(model.get("seq_len"));
    const heads = BigInt(model.get("num_heads"));
    const layers = BigInt(model.get("num_layers"));
    const batch = BigInt(model.get("batch_size"));
    const bytes = BYTES[model.get("precision")];
    const perHead = n * n;
    const perLayer = batch * heads * perHead;
    const total = layers * perLayer;
    root.querySelector('[data-testid="headline-tokens"]').textContent = fmtInt(n);
    headline.querySelector('[data-testid="weights-per-head"]').textContent = fmtInt(perHead);
    // (the table's "weights-head" cell repeats the headline's number for the table reader)
    for (const [key, count] of [["head", perHead], ["layer", perLayer], ["total", total]]) {
      cells[`weights-${key}`].textContent = fmtInt(count);
      cells[`memory-${key}`].textContent = fmtBytes(count * bytes);
    }
  }

  function drawChart() {
    const records = model.get("measurements");
    chart.replaceChildren();
    legend.replaceChildren();
    const source = model.get("source");
    chartTitle.textContent = records.length
      ? `Measured forward time${source ? ` (${source})` : ""}, log-log:`
      : "No measurements loaded (pass a benchmark JSON to CostExplorer).";
    chart.style.display = records.length ? "" : "none";
    if (!records.length) return;
    const methods = [...new Set(records.map((r) => r.method))];
    const lx = (v) => Math.log10(v);
    const xs = records.map((r) => lx(r.n));
    const ys = records.map((r) => lx(r.seconds));
    const x0 = Math.floor(Math.min(...xs));
    const x1 = Math.max(Math.ceil(Math.max(...xs)), x0 + 1);
    const y0 = Math.floor(Math.min(...ys));
    const y1 = Math.max(Math.ceil(Math.max(...ys)), y0 + 1);
    const px = (v) => M.left + ((lx(v) - x0) / (x1 - x0)) * (CH_W - M.left - M.right);
    const py = (v) => CH_H - M.bottom - ((lx(v) - y0) / (y1 - y0)) * (CH_H - M.top - M.bottom);
    const axes = svg("g", { class: "attnbook-cost-axes" });
    for (let e = x0; e <= x1; e += 1) {
      const x = px(10 ** e);
      axes.append(svg("line", { x1: x, x2: x, y1: M.top, y2: CH_H - M.bottom, class: "grid" }),
        svg("text", { x, y: CH_H - M.bottom + 14, "text-anchor": "middle",
          "data-testid": `chart-x-tick-${e - x0}`, text: `1e${e}` }));
    }
    for (let e = y0; e <= y1; e += 1) {
      const y = py(10 ** e);
      axes.append(svg("line", { x1: M.left, x2: CH_W - M.right, y1: y, y2: y, class: "grid" }),
        svg("text", { x: M.left - 6, y: y + 4, "text-anchor": "end",
          "data-testid": `chart-y-tick-${e - y0}`, text: `1e${e} s` }));
    }
    axes.append(svg("text", { x: CH_W - M.right, y: CH_H - 4, "text-anchor": "end",
      text: "sequence length L" }));
    chart.append(axes);
    const n = model.get("seq_len");
    if (lx(n) >= x0 && lx(n) <= x1) {
      chart.append(svg("line", { x1: px(n), x2: px(n), y1: M.top, y2: CH_H - M.bottom,
        class: "attnbook-cost-marker" }));
    }
    legend.append(h("tr", {}, ["method", "largest L", "time there (s)", "fitted slope"]
      .map((text) => h("th", { scope: "col", text }))));
    methods.forEach((method, k) => {
      const colour = PALETTE[k % PALETTE.length];
      const pts = records.filter((r) => r.method === method).sort((a, b) => a.n - b.n);
      chart.append(svg("polyline", { class: "attnbook-cost-series", style: `stroke: ${colour}`,
        points: pts.map((p) => `${px(p.n).toFixed(2)},${py(p.seconds).toFixed(2)}`).join(" ") }));
      for (const p of pts) {
        chart.append(svg("circle", { cx: px(p.n), cy: py(p.seconds), r: 3, style: `fill: ${colour}` },
          [svg("title", { text: `${method}: L = ${fmtInt(p.n)}, ${fmtExp(p.seconds)} s` })]));
      }
      const last = pts[pts.length - 1];
      const slope = logSlope(pts);
      legend.append(h("tr", {}, [
        h("th", { scope: "row" }, [h("span", { class: "attnbook-swatch", style: `background: ${colour}` }),
          h("span", { "data-testid": `method-${k}`, text: method })]),
        h("td", { "data-testid": `largest-n-${k}`, text: fmtInt(last.n) }),
        h("td", { "data-testid": `largest-seconds-${k}`, text: fmtExp(last.seconds) }),
        h("td", { "data-testid": `slope-${k}`, text: Number.isFinite(slope) ? fmt(slope, 2) : "—" }),
      ]));
    });
  }

  function update() {
    const k = choices().indexOf(model.get("seq_len"));
    lenCtl.input.max = choices().length - 1;
    lenCtl.set(Math.max(0, k));
    for (const [name, input] of Object.entries(numberInputs)) {
      if (Number(input.value) !== model.get(name)) input.value = model.get(name);
    }
    precision.select.value = model.get("precision");
    updateCounts();
    drawChart();
  }

  update();
  return listen(model, ["seq_len", "seq_len_choices", "num_heads", "num_layers", "batch_size",
    "precision", "measurements", "source"], update);
}

export default { render };
