// ScalingExplorer: why attention divides q · k by √d_k. For each d_k the model holds
// q · k of random standard-normal vectors (made in Python, seeded); this module scales
// them, draws both histograms and the softmax of one query, and reports the spread,
// the mean largest weight and the mean entropy of each row.

const HIST_W = 600;
const HIST_H = 96; // one panel
const BINS = 31;

function rowStats(values, numQueries, numKeys) {
  const n = values.length;
  let mean = 0;
  for (const v of values) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of values) variance += (v - mean) * (v - mean);
  variance /= n;
  let maxWeight = 0;
  let ent = 0;
  for (let q = 0; q < numQueries; q += 1) {
    const p = softmax(values.slice(q * numKeys, (q + 1) * numKeys));
    maxWeight += Math.max(...p);
    ent += entropy(p);
  }
  return { std: Math.sqrt(variance), maxWeight: maxWeight / numQueries, entropy: ent / numQueries };
}

function render({ model, el }) {
  const root = widgetRoot(el, "scaling-explorer", "Why divide by √d_k?",
    "q · k of random vectors with unit-variance entries spreads like √d_k; dividing by √d_k "
    + "keeps softmax away from one-hot.");
  const dims = () => model.get("dims");
  const slider = rangeControl({
    stem: "dk", label: "key size d_k", testid: "dk", min: 0, max: dims().length - 1, step: 1,
    value: model.get("dim_index"), show: (i) => String(dims()[i]),
  });
  slider.input.addEventListener("input", () => commit(model, "dim_index", Number(slider.input.value)));

  const chart = svg("svg", {
    viewBox: `0 0 ${HIST_W} ${2 * HIST_H + 44}`, width: HIST_W, height: 2 * HIST_H + 44,
    role: "img", "aria-label": "histograms of raw and scaled scores", class: "attnbook-scaling-chart",
  });
  const legend = h("div", { class: "attnbook-note" }, [
    h("span", { class: "attnbook-swatch", style: "background: var(--ab-b)" }), "raw q · k   ",
    h("span", { class: "attnbook-swatch", style: "background: var(--ab-a)" }), "scaled q · k / √d_k",
  ]);

  const table = h("table", { class: "attnbook-table" });
  const cell = (id) => h("td", { "data-testid": id });
  const cells = {};
  for (const id of ["raw-std", "raw-max-weight", "raw-entropy", "scaled-std",
    "scaled-max-weight", "scaled-entropy"]) cells[id] = cell(id);
  table.append(
    h("thead", {}, [h("tr", {}, ["scores", "std", "mean largest weight", "mean entropy (nats)"]
      .map((text) => h("th", { scope: "col", text })))]),
    h("tbody", {}, [
      h("tr", {}, [h("th", { scope: "row", text: "raw q · k" }),
        cells["raw-std"], cells["raw-max-weight"], cells["raw-entropy"]]),
      h("tr", {}, [h("th", { scope: "row", text: "scaled by 1/√d_k" }),
        cells["scaled-std"], cells["scaled-max-weight"], cells["scaled-entropy"]]),
    ]),
  );
  const expected = h("span", { "data-testid": "expected-std" });
  const maxEntropy = h("span", { "data-testid": "max-entropy" });
  const sampleNote = h("span", { "data-testid": "sample-size" });
  const note = h("div", { class: "attnbook-note" }, [
    "Expected std of raw q · k: √d_k = ", expected, ". Entropy of a uniform row: log(keys) = ",
    maxEntropy, "; a one-hot row has entropy 0. Samples: ", sampleNote, ".",
  ]);

  const rows = h("div", { class: "attnbook-scaling-rows" });
  root.append(slider.row, legend, chart, h("div", { class: "attnbook-note",
    text: "Softmax weights of the first query over its keys:" }), rows, table, note);

  function histogram(values, low, high) {
    const counts = new Array(BINS).fill(0);
    const width = (high - low) / BINS;
    for (const v of values) counts[clamp(Math.floor((v - low) / width), 0, BINS - 1)] += 1;
    return counts;
  }

  function drawPanel(group, counts, top, colour, label) {
    const max = Math.max(...counts, 1);
    const barW = (HIST_W - 20) / BINS;
    counts.forEach((c, k) => {
      const height = ((HIST_H - 18) * c) / max;
      group.append(svg("rect", {
        x: 10 + k * barW + 0.5, y: top + HIST_H - height, width: Math.max(barW - 1, 1),
        height, style: `fill: ${colour}`,
      }));
    });
    group.append(svg("text", { x: 12, y: top + 12, text: label }));
    group.append(svg("line", { x1: 10, x2: HIST_W - 10, y1: top + HIST_H, y2: top + HIST_H,
      class: "attnbook-axis" }));
  }

  function weightBars(weights, colour, label) {
    const max = Math.max(...weights);
    return h("div", { class: "attnbook-scaling-weights" }, [
      h("span", { class: "attnbook-scaling-weights-label", text: label }),
      h("div", { class: "attnbook-scaling-bars", "aria-hidden": "true" }, weights.map((w) => h("span", {
        style: `height: ${(100 * w / Math.max(max, 1e-12)).toFixed(1)}%; background: ${colour}`,
      }))),
    ]);
  }

  function update() {
    const index = model.get("dim_index");
    const dk = dims()[index];
    slider.set(index);
    const numQueries = model.get("num_queries");
    const numKeys = model.get("num_keys");
    const raw = model.get("scores")[index];
    const factor = 1 / Math.sqrt(dk);
    const scaled = raw.map((v) => v * factor);
    const rawStats = rowStats(raw, numQueries, numKeys);
    const scaledStats = rowStats(scaled, numQueries, numKeys);
    cells["raw-std"].textContent = fmt(rawStats.std);
    cells["raw-max-weight"].textContent = fmt(rawStats.maxWeight);
    cells["raw-entropy"].textContent = fmt(rawStats.entropy);
    cells["scaled-std"].textContent = fmt(scaledStats.std);
    cells["scaled-max-weight"].textContent = fmt(scaledStats.maxWeight);
    cells["scaled-entropy"].textContent = fmt(scaledStats.entropy);
    expected.textContent = fmt(Math.sqrt(dk));
    maxEntropy.textContent = fmt(Math.log(numKeys));
    sampleNote.textContent = `${numQueries} queries × ${numKeys} keys`;

    // One x axis for both panels, wide enough for the raw scores: the scaled ones stay narrow.
    let reach = 1;
    for (const v of raw) reach = Math.max(reach, Math.abs(v));
    const ticks = niceTicks(-reach, reach, 6);
    const low = -reach;
    const high = reach;
    chart.replaceChildren();
    const group = svg("g");
    drawPanel(group, histogram(raw, low, high), 0, "var(--ab-b)", "raw");
    drawPanel(group, histogram(scaled, low, high), HIST_H + 8, "var(--ab-a)", "scaled");
    const digits = tickDigits(ticks);
    ticks.forEach((t, k) => {
      const x = 10 + ((t - low) / (high - low)) * (HIST_W - 20);
      group.append(
        svg("line", { x1: x, x2: x, y1: 2 * HIST_H + 8, y2: 2 * HIST_H + 13, class: "attnbook-axis" }),
        svg("text", { x, y: 2 * HIST_H + 26, "text-anchor": "middle", "data-testid": `x-tick-${k}`,
          text: fmt(t, digits) }),
      );
    });
    group.append(svg("text", { x: HIST_W - 10, y: 2 * HIST_H + 40, "text-anchor": "end",
      text: "score" }));
    chart.append(group);

    rows.replaceChildren(
      weightBars(softmax(raw.slice(0, numKeys)), "var(--ab-b)", "raw"),
      weightBars(softmax(scaled.slice(0, numKeys)), "var(--ab-a)", "scaled"),
    );
  }

  update();
  const stop = listen(model, ["dim_index", "scores", "dims", "num_queries", "num_keys"], () => {
    slider.input.max = dims().length - 1;
    update();
  });
  return stop;
}

export default { render };
