// MaskExplorer: the boolean masks of attnbook.masks (True = may attend, SDPA's convention)
// and what they do to softmax over fixed scores. The mask rules below are the library's,
// written again in JavaScript; the tests compare both, cell by cell.

const GRID = 180; // px of each grid's side

/** attnbook.masks, one (i, j) cell at a time. i = query position, j = key position. */
function mayAttend(kind, i, j, p) {
  const offset = i - j;
  switch (kind) {
    case "none":
      return true;
    case "causal": // causal_mask(L)
      return offset >= 0;
    case "padding": // padding_mask([L - padding], max_len=L): padded keys are hidden from all
      return j < p.size - p.padding;
    case "local": // local_window_mask(L, window, causal=causal)
      return p.causal ? offset >= 0 && offset <= p.window : Math.abs(offset) <= p.window;
    case "strided": { // strided_mask(L, stride, causal=causal), local band = stride - 1
      const keep = Math.abs(offset) <= p.stride - 1 || offset % p.stride === 0;
      return p.causal ? keep && offset >= 0 : keep;
    }
    default:
      throw new Error(`unknown mask kind ${kind}`);
  }
}

function render({ model, el }) {
  const root = widgetRoot(el, "mask-explorer", "Attention masks",
    "True = may attend (the convention of scaled_dot_product_attention and attnbook; "
    + "nn.MultiheadAttention's boolean masks mean the opposite).");

  const kindCtl = selectControl({
    stem: "kind", label: "mask", testid: "kind", value: model.get("kind"),
    options: [["none", "none"], ["causal", "causal"], ["padding", "padding"],
      ["local", "local window"], ["strided", "strided"]],
  });
  const maxLen = () => model.get("scores").length;
  const sizeCtl = rangeControl({ stem: "size", label: "length L", testid: "size", min: 1,
    max: maxLen(), step: 1, value: model.get("size"), show: String });
  const paddingCtl = rangeControl({ stem: "padding", label: "padded keys", testid: "padding",
    min: 0, max: maxLen() - 1, step: 1, value: model.get("padding"), show: String });
  const windowCtl = rangeControl({ stem: "window", label: "window (each side)", testid: "window",
    min: 0, max: maxLen() - 1, step: 1, value: model.get("window"), show: String });
  const strideCtl = rangeControl({ stem: "stride", label: "stride", testid: "stride", min: 1,
    max: maxLen(), step: 1, value: model.get("stride"), show: String });
  const causalCtl = checkboxControl({ stem: "causal", label: "causal (local window, strided)",
    checked: model.get("causal"), testid: "causal" });
  const rowCtl = rangeControl({ stem: "row", label: "query row i", testid: "row", min: 0,
    max: model.get("size") - 1, step: 1, value: model.get("query_row"), show: String });

  kindCtl.select.addEventListener("change", () => commit(model, "kind", kindCtl.select.value));
  sizeCtl.input.addEventListener("input", () => {
    const size = Number(sizeCtl.input.value);
    // Pull padding and the selected row inside the new length first (each set redraws),
    // and send all three in one message.
    if (model.get("padding") > size - 1) model.set("padding", size - 1);
    if (model.get("query_row") > size - 1) model.set("query_row", size - 1);
    model.set("size", size);
    model.save_changes();
  });
  paddingCtl.input.addEventListener("input", () => {
    commit(model, "padding", Math.min(Number(paddingCtl.input.value), model.get("size") - 1));
  });
  windowCtl.input.addEventListener("input", () => commit(model, "window", Number(windowCtl.input.value)));
  strideCtl.input.addEventListener("input", () => commit(model, "stride", Number(strideCtl.input.value)));
  causalCtl.input.addEventListener("change", () => commit(model, "causal", causalCtl.input.checked));
  rowCtl.input.addEventListener("input", () => commit(model, "query_row", Number(rowCtl.input.value)));

  const maskSvg = svg("svg", { class: "attnbook-mask-grid", role: "img",
    "aria-label": "the boolean mask: filled = True = may attend" });
  const weightSvg = svg("svg", { class: "attnbook-mask-grid", role: "img",
    "aria-label": "attention weights after masking" });
  const counts = h("div", { class: "attnbook-note" }, [
    h("span", { "data-testid": "allowed-count" }), " of ", h("span", { "data-testid": "cell-count" }),
    " pairs may attend (", h("span", { "data-testid": "allowed-fraction" }), ").",
  ]);
  const rowTable = h("table", { class: "attnbook-table attnbook-mask-row" });
  const rowNote = h("div", { class: "attnbook-note" });
  root.append(
    h("div", { class: "attnbook-row" }, [
      h("div", { class: "attnbook-col attnbook-mask-controls" }, [
        kindCtl.row, sizeCtl.row, paddingCtl.row, windowCtl.row, strideCtl.row, causalCtl.row,
        rowCtl.row,
      ]),
    ]),
    h("div", { class: "attnbook-row attnbook-mask-grids" }, [
      h("figure", {}, [maskSvg, h("figcaption", { text: "mask: filled = True = may attend" })]),
      h("figure", {}, [weightSvg, h("figcaption", { text: "softmax(scores + mask); hatched = masked" })]),
      h("div", { class: "attnbook-mask-rowbox" }, [rowNote, h("div", { class: "attnbook-scroll" }, [rowTable])]),
    ]),
    h("div", { class: "attnbook-note", text: "Rows are query positions i, columns key positions j." }),
    counts,
  );

  function params() {
    return {
      size: model.get("size"), padding: model.get("padding"), window: model.get("window"),
      stride: model.get("stride"), causal: model.get("causal"),
    };
  }

  function compute() {
    const p = params();
    const kind = model.get("kind");
    const scores = model.get("scores");
    const mask = [];
    const weights = [];
    for (let i = 0; i < p.size; i += 1) {
      const m = [];
      for (let j = 0; j < p.size; j += 1) m.push(mayAttend(kind, i, j, p));
      mask.push(m);
      // Masked scores become -inf; softmax of an all -inf row gives zeros, as SDPA on the CPU.
      weights.push(softmax(m.map((ok, j) => (ok ? scores[i][j] : -Infinity))));
    }
    return { mask, weights };
  }

  const hatchId = uid("hatch");
  function drawGrid(target, size, fill, testid, title) {
    const c = GRID / size;
    setAttrs(target, { viewBox: `0 0 ${GRID + 2} ${GRID + 2}`, width: GRID + 2, height: GRID + 2 });
    // Masked cells are hatched, so they never look like a small weight.
    target.replaceChildren(svg("defs", {}, [svg("pattern", {
      id: hatchId, width: 5, height: 5, patternUnits: "userSpaceOnUse",
      patternTransform: "rotate(45)",
    }, [svg("line", { x1: 0, y1: 0, x2: 0, y2: 5, class: "attnbook-mask-hatch" })])]));
    const row = model.get("query_row");
    for (let i = 0; i < size; i += 1) {
      for (let j = 0; j < size; j += 1) {
        const [style, value] = fill(i, j);
        target.append(svg("rect", {
          x: 1 + j * c, y: 1 + i * c, width: c, height: c, style,
          class: "attnbook-mask-cell", "data-testid": `${testid}-${i}-${j}`, "data-value": value,
        }, [svg("title", { text: title(i, j, value) })]));
      }
    }
    target.append(svg("rect", { x: 1, y: 1 + row * c, width: GRID, height: c,
      class: "attnbook-mask-rowmark" }));
  }

  function update() {
    const p = params();
    kindCtl.select.value = model.get("kind");
    sizeCtl.set(p.size);
    paddingCtl.set(p.padding);
    windowCtl.set(p.window);
    strideCtl.set(p.stride);
    causalCtl.input.checked = p.causal;
    rowCtl.input.max = p.size - 1;
    rowCtl.set(model.get("query_row"));
    const kind = model.get("kind");
    paddingCtl.input.disabled = kind !== "padding";
    windowCtl.input.disabled = kind !== "local";
    strideCtl.input.disabled = kind !== "strided";
    causalCtl.input.disabled = kind !== "local" && kind !== "strided";
    paddingCtl.input.max = p.size - 1;

    const { mask, weights } = compute();
    const tokens = (i) => `query ${i}, key`;
    drawGrid(maskSvg, p.size, (i, j) => [mask[i][j] ? "fill: var(--ab-a)" : "fill: transparent",
      mask[i][j] ? "1" : "0"], "mask", (i, j, v) => `${tokens(i)} ${j}: ${v === "1" ? "True" : "False"}`);
    drawGrid(weightSvg, p.size, (i, j) => [
      mask[i][j] ? `fill: ${viridisCss(weights[i][j])}` : `fill: url(#${hatchId})`,
      fmt(weights[i][j]),
    ], "weight", (i, j, v) => `${tokens(i)} ${j}: weight ${v}`);

    let allowed = 0;
    for (const m of mask) for (const ok of m) if (ok) allowed += 1;
    root.querySelector('[data-testid="allowed-count"]').textContent = String(allowed);
    root.querySelector('[data-testid="cell-count"]').textContent = String(p.size * p.size);
    root.querySelector('[data-testid="allowed-fraction"]').textContent = fmt(allowed / (p.size * p.size));

    const i = model.get("query_row");
    const idx = Array.from({ length: p.size }, (_, j) => j);
    rowTable.replaceChildren(
      h("thead", {}, [h("tr", {}, ["key j", "mask", "weight"].map((text) => h("th", { scope: "col", text })))]),
      h("tbody", {}, idx.map((j) => h("tr", { class: mask[i][j] ? "" : "masked" }, [
        h("th", { scope: "row", "data-testid": `row-key-${j}`, text: String(j) }),
        h("td", { "data-testid": `row-mask-${j}`, text: mask[i][j] ? "True" : "False" }),
        h("td", { "data-testid": `row-weight-${j}`, text: fmt(weights[i][j]) }),
      ]))),
    );
    const count = mask[i].filter(Boolean).length;
    rowNote.replaceChildren("Query row ", h("span", { "data-testid": "row-index", text: String(i) }),
      " may attend to ", h("span", { "data-testid": "row-allowed", text: String(count) }),
      count === 1 ? " key." : " keys.");
  }

  update();
  return listen(model, ["kind", "size", "padding", "window", "stride", "causal", "query_row",
    "scores"], update);
}

export default { render };
