// SoftmaxExplorer: editable scores and a temperature; probability bars; and a panel
// that computes softmax twice, naively and with the maximum subtracted, to show that
// the shift changes nothing except whether exp() overflows.

const OVERFLOW_DEMO = 800; // exp(800) is Infinity in float64 (the largest double is ~1.8e308)

function render({ model, el }) {
  const root = widgetRoot(el, "softmax-explorer", "Softmax and temperature",
    "Edit the scores and move the temperature T: p_i = exp(s_i / T) / Σ_j exp(s_j / T).");

  const temperature = rangeControl({
    stem: "temperature", label: "temperature T", testid: "temperature",
    min: model.get("temperature_min"), max: model.get("temperature_max"),
    step: model.get("temperature_step"), value: model.get("temperature"), show: (t) => fmt(t, 2),
  });
  temperature.input.addEventListener("input", () => {
    commit(model, "temperature", Number(temperature.input.value));
  });

  const rowsBox = h("div", { class: "attnbook-softmax-rows", role: "group",
    "aria-label": "scores and probabilities" });
  const sumLine = h("div", { class: "attnbook-note" });
  const buttons = h("div", { class: "attnbook-row attnbook-softmax-buttons" });
  const demo = h("button", { type: "button", "data-testid": "overflow-demo",
    text: `set score 0 to ${OVERFLOW_DEMO}` });
  const reset = h("button", { type: "button", "data-testid": "reset-scores",
    text: "reset scores" });
  buttons.append(demo, reset);
  const initialScores = model.get("scores").slice();
  demo.addEventListener("click", () => {
    const next = model.get("scores").slice();
    next[0] = OVERFLOW_DEMO;
    commit(model, "scores", next);
  });
  reset.addEventListener("click", () => commit(model, "scores", initialScores.slice()));

  const table = h("table", { class: "attnbook-table attnbook-softmax-table" });
  const status = h("div", { class: "attnbook-note", "data-testid": "overflow-status" });
  const details = h("details", { class: "attnbook-softmax-details", open: true }, [
    h("summary", { text: "Why subtract the maximum? Naive vs stable softmax, step by step" }),
    h("div", { class: "attnbook-scroll" }, [table]),
    status,
  ]);
  root.append(temperature.row, rowsBox, sumLine, buttons, details);

  let inputs = [];
  let cells = [];

  function build() {
    const scores = model.get("scores");
    const labels = model.get("labels");
    rowsBox.replaceChildren();
    inputs = scores.map((s, i) => {
      const id = uid(`score-${i}`);
      const input = h("input", {
        type: "number", id, step: "any", value: String(s), "data-testid": `score-${i}-input`,
        "aria-label": `score of ${labels[i]}`,
      });
      input.addEventListener("input", () => {
        const value = input.value.trim() === "" ? NaN : Number(input.value);
        const ok = Number.isFinite(value);
        input.setAttribute("aria-invalid", ok ? "false" : "true");
        if (!ok) return; // keep the last valid score until the text is a number again
        const next = model.get("scores").slice();
        next[i] = value;
        commit(model, "scores", next);
      });
      const bar = h("div", { class: "attnbook-bar" });
      const prob = h("span", { class: "attnbook-num", "data-testid": `prob-${i}` });
      rowsBox.append(h("div", { class: "attnbook-softmax-row" }, [
        h("label", { for: id, class: "attnbook-softmax-label", text: labels[i] }),
        input,
        h("div", { class: "attnbook-bar-track", "aria-hidden": "true" }, [bar]),
        prob,
      ]));
      return { input, bar, prob };
    });

    const head = h("tr", {}, [
      "token", "s / T", "naive exp(s / T)", "naive p", "exp((s − max) / T)", "stable p",
    ].map((text) => h("th", { scope: "col", text })));
    cells = scores.map((_, i) => ({
      scaled: h("td", { "data-testid": `scaled-${i}` }),
      naiveExp: h("td", { "data-testid": `naive-exp-${i}` }),
      naiveProb: h("td", { "data-testid": `naive-prob-${i}` }),
      shiftedExp: h("td", { "data-testid": `shifted-exp-${i}` }),
      stableProb: h("td", { "data-testid": `stable-prob-${i}` }),
    }));
    const sums = {
      naive: h("td", { "data-testid": "naive-sum" }),
      shifted: h("td", { "data-testid": "shifted-sum" }),
    };
    cells.sums = sums;
    table.replaceChildren(
      h("thead", {}, [head]),
      h("tbody", {}, cells.map((c, i) => h("tr", {}, [
        h("th", { scope: "row", text: labels[i] }),
        c.scaled, c.naiveExp, c.naiveProb, c.shiftedExp, c.stableProb,
      ]))),
      h("tfoot", {}, [h("tr", {}, [
        h("th", { scope: "row", text: "sum" }), h("td"), sums.naive, h("td"), sums.shifted, h("td"),
      ])]),
    );
  }

  function update() {
    const scores = model.get("scores");
    const t = model.get("temperature");
    temperature.set(t);
    const probs = softmax(scores, t);
    // Naive: exponentiate s / T as it is. Stable: subtract the maximum first.
    const naiveExp = scores.map((s) => Math.exp(s / t));
    const naiveSum = naiveExp.reduce((a, b) => a + b, 0);
    const naiveProb = naiveExp.map((e) => e / naiveSum);
    const shift = Math.max(...scores);
    const shiftedExp = scores.map((s) => Math.exp((s - shift) / t));
    const shiftedSum = shiftedExp.reduce((a, b) => a + b, 0);

    let total = 0;
    scores.forEach((s, i) => {
      const row = inputs[i];
      // Leave a field alone while it is being typed in, unless the model disagrees.
      if (document.activeElement !== row.input || Number(row.input.value) !== s) {
        row.input.value = String(s);
        row.input.setAttribute("aria-invalid", "false");
      }
      row.bar.style.width = `${(100 * probs[i]).toFixed(2)}%`;
      row.prob.textContent = fmt(probs[i]);
      total += probs[i];
      const c = cells[i];
      c.scaled.textContent = fmt(s / t);
      c.naiveExp.textContent = fmtExp(naiveExp[i]);
      c.naiveProb.textContent = fmt(naiveProb[i]);
      c.shiftedExp.textContent = fmtExp(shiftedExp[i]);
      c.stableProb.textContent = fmt(probs[i]);
      c.naiveProb.classList.toggle("attnbook-warn", Number.isNaN(naiveProb[i]));
      c.naiveExp.classList.toggle("attnbook-warn", !Number.isFinite(naiveExp[i]));
    });
    cells.sums.naive.textContent = fmtExp(naiveSum);
    cells.sums.shifted.textContent = fmtExp(shiftedSum);
    sumLine.replaceChildren("Σ p = ", h("span", { "data-testid": "prob-sum", text: fmt(total) }));
    status.classList.toggle("attnbook-warn", !Number.isFinite(naiveSum));
    status.textContent = Number.isFinite(naiveSum)
      ? "No overflow: both columns agree. Subtracting the maximum multiplies every exp by "
        + "the same factor exp(−max / T), which cancels in the division."
      : "Overflow: the naive sum is Infinity, so Infinity / Infinity = NaN. After subtracting "
        + "the maximum the largest term is exp(0) = 1 and nothing overflows.";
  }

  build();
  update();
  const stopScores = listen(model, ["scores"], () => {
    if (model.get("scores").length !== inputs.length) build();
    update();
  });
  const stopLabels = listen(model, ["labels"], () => { build(); update(); });
  const stopTemp = listen(model, ["temperature"], update);
  return () => { stopScores(); stopLabels(); stopTemp(); };
}

export default { render };
