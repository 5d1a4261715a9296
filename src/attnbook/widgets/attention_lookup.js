// AttentionLookup: attention as a soft database lookup. Pick a query token; its query
// vector is compared with every key (dot product, times the scale), softmax turns the
// scores into weights, and the answer is the weighted sum of the values.

function render({ model, el }) {
  const root = widgetRoot(el, "attention-lookup", "Attention as a lookup",
    "Pick the token that asks. Its query meets every key; the weights mix the values.");

  const chipsId = uid("query-label");
  const chips = h("div", { class: "attnbook-lookup-chips", role: "group", "aria-labelledby": chipsId });
  const scaleBox = checkboxControl({
    stem: "scaled", label: "divide scores by √d_k", checked: model.get("scaled"), testid: "scaled",
  });
  scaleBox.input.addEventListener("change", () => commit(model, "scaled", scaleBox.input.checked));
  const queryLine = h("div", { class: "attnbook-lookup-query" });
  const table = h("table", { class: "attnbook-table attnbook-lookup-table" });
  const outputLine = h("div", { class: "attnbook-lookup-output" });
  root.append(
    h("div", { class: "attnbook-lookup-head" }, [
      h("span", { id: chipsId, class: "attnbook-lookup-ask", text: "query token:" }), chips,
    ]),
    scaleBox.row, queryLine, h("div", { class: "attnbook-scroll" }, [table]), outputLine,
  );

  let chipButtons = [];

  function vectorSpans(vector, prefix, digits) {
    const parts = ["("];
    vector.forEach((v, d) => {
      if (d > 0) parts.push(", ");
      parts.push(h("span", { "data-testid": `${prefix}-${d}`, text: fmt(v, digits) }));
    });
    parts.push(")");
    return h("span", { class: "attnbook-num attnbook-vector" }, parts);
  }

  function buildChips() {
    const tokens = model.get("tokens");
    chipButtons = tokens.map((token, i) => {
      const button = h("button", {
        type: "button", "data-testid": `query-token-${i}`, "aria-pressed": "false", text: token,
      });
      button.addEventListener("click", () => commit(model, "query_index", i));
      return button;
    });
    chips.replaceChildren(...chipButtons);
  }

  function update() {
    const i = model.get("query_index");
    const tokens = model.get("tokens");
    const keyTokens = model.get("key_tokens");
    const q = model.get("query")[i];
    const keys = model.get("key");
    const values = model.get("value");
    const dk = q.length;
    const scaled = model.get("scaled");
    const scale = scaled ? 1 / Math.sqrt(dk) : 1;
    scaleBox.input.checked = scaled;
    chipButtons.forEach((b, k) => b.setAttribute("aria-pressed", k === i ? "true" : "false"));

    const dots = keys.map((k) => k.reduce((acc, kd, d) => acc + q[d] * kd, 0));
    const scores = dots.map((s) => s * scale);
    const weights = softmax(scores);
    const ev = values[0].length;
    const output = new Array(ev).fill(0);
    weights.forEach((w, j) => values[j].forEach((v, d) => { output[d] += w * v; }));

    queryLine.replaceChildren(
      h("span", { text: "query of “" }),
      h("strong", { "data-testid": "query-token", text: tokens[i] }),
      h("span", { text: "”: q = " }), vectorSpans(q, "query", 2),
      h("span", { text: "   scale = " }),
      h("span", { "data-testid": "scale-value", class: "attnbook-num", text: fmt(scale) }),
    );

    const maxW = Math.max(...weights);
    table.replaceChildren(
      h("thead", {}, [h("tr", {}, ["key token", "k", "q · k", "score", "weight", "", "value v"]
        .map((text) => h("th", { scope: "col", text })))]),
      h("tbody", {}, keyTokens.map((token, j) => h("tr", { class: weights[j] === maxW ? "top" : "" }, [
        h("th", { scope: "row", text: token }),
        h("td", {}, [vectorSpans(keys[j], `key-${j}`, 2)]),
        h("td", { "data-testid": `dot-${j}`, text: fmt(dots[j]) }),
        h("td", { "data-testid": `score-${j}`, text: fmt(scores[j]) }),
        h("td", { "data-testid": `weight-${j}`, text: fmt(weights[j]) }),
        h("td", { class: "attnbook-lookup-bar-cell" }, [h("div", { class: "attnbook-bar-track" }, [
          h("div", { class: "attnbook-bar", style: `width: ${(100 * weights[j]).toFixed(2)}%` }),
        ])]),
        h("td", {}, [vectorSpans(values[j], `value-${j}`, 2)]),
      ]))),
    );
    outputLine.replaceChildren(
      h("span", { text: "output = Σ weight × value = " }), vectorSpans(output, "output", 4),
    );
  }

  buildChips();
  update();
  const stopTokens = listen(model, ["tokens"], () => { buildChips(); update(); });
  const stop = listen(model, ["query_index", "scaled", "query", "key", "value", "key_tokens"],
    update);
  return () => { stopTokens(); stop(); };
}

export default { render };
