// AttentionMap: one head's (L, S) weights out of (layers, heads, L, S), as a heat map on a
// <canvas> (cheap for 128 × 128) or as lines between tokens. Hover a cell to read it;
// select a query token to list the keys it attends to most.

const MAP_SIZE = 320; // CSS px of the heat map's longer side
const LABEL_LIMIT = 40; // above this many tokens the axes carry no labels
const LINE_ROW = 18; // px per token in the lines view
const LINE_HEAD = 18; // px above the first token, for the column titles

/** Decode {shape, levels, data: DataView of little-endian uint16} into a Float32Array. */
function decodeWeights(packed) {
  const [layers, heads, L, S] = packed.shape;
  const view = packed.data instanceof DataView ? packed.data
    : new DataView(packed.data.buffer ?? packed.data, packed.data.byteOffset ?? 0,
      packed.data.byteLength);
  const out = new Float32Array(layers * heads * L * S);
  for (let k = 0; k < out.length; k += 1) out[k] = view.getUint16(2 * k, true) / packed.levels;
  return { layers, heads, L, S, data: out };
}

function render({ model, el }) {
  const root = widgetRoot(el, "attention-map", "Attention map",
    "Rows are query tokens, columns key tokens. Hover to read a weight; click a row, or "
    + "focus the map and use ↑/↓, to select a token.");

  let w = decodeWeights(model.get("weights"));
  const layerCtl = selectControl({ stem: "layer", label: "layer", testid: "layer", value: 0,
    options: [] });
  const headCtl = selectControl({ stem: "head", label: "head", testid: "head", value: 0,
    options: [] });
  const viewCtl = selectControl({ stem: "view", label: "view", testid: "view", value: "heatmap",
    options: [["heatmap", "heat map"], ["lines", "token lines"]] });
  const queryCtl = selectControl({ stem: "query", label: "query token", testid: "query",
    value: -1, options: [] });
  layerCtl.select.addEventListener("change", () => commit(model, "layer", Number(layerCtl.select.value)));
  headCtl.select.addEventListener("change", () => commit(model, "head", Number(headCtl.select.value)));
  viewCtl.select.addEventListener("change", () => {
    hover = null;
    commit(model, "view", viewCtl.select.value);
  });
  queryCtl.select.addEventListener("change", () => commit(model, "query_index", Number(queryCtl.select.value)));

  const canvas = h("canvas", {
    tabindex: 0, "data-testid": "heatmap", class: "attnbook-map-canvas",
    role: "img", "aria-label": "attention heat map; ↑ and ↓ select a query token",
  });
  const heatBox = h("div", { class: "attnbook-map-heat" }, [canvas]);
  const linesSvg = svg("svg", { class: "attnbook-map-lines", role: "group",
    "aria-label": "token-to-token lines" });
  const linesBox = h("div", { class: "attnbook-map-linesbox attnbook-scroll" }, [linesSvg]);

  const hoverParts = {
    query: h("span", { "data-testid": "hover-query" }),
    key: h("span", { "data-testid": "hover-key" }),
    weight: h("span", { "data-testid": "hover-weight" }),
  };
  const hoverHint = h("span", { text: "Hover a cell to read its weight." });
  const hoverRead = h("span", {}, [hoverParts.query, " → ", hoverParts.key, ": weight ",
    hoverParts.weight]);
  const hoverLine = h("div", { class: "attnbook-note attnbook-map-hover" }, [hoverHint, hoverRead]);
  const colorMax = h("span", { "data-testid": "color-max" });
  const legend = h("div", { class: "attnbook-note attnbook-map-legend" }, [
    "colour: 0 ", h("span", { class: "attnbook-map-ramp" }), " ", colorMax, " (head's max)",
  ]);
  const topList = h("ol", { class: "attnbook-map-top", "data-testid": "top-list" });  // ranks drawn as text
  const selected = h("div", { class: "attnbook-map-selected", "data-testid": "selected-token" });
  const side = h("div", { class: "attnbook-map-side" }, [
    queryCtl.row, selected, topList,
  ]);
  root.append(
    h("div", { class: "attnbook-row attnbook-map-controls" }, [layerCtl.row, headCtl.row, viewCtl.row]),
    h("div", { class: "attnbook-row" }, [
      h("div", { class: "attnbook-map-main" }, [heatBox, linesBox, legend, hoverLine]), side,
    ]),
  );

  const at = (l, hd, i, j) => w.data[((l * w.heads + hd) * w.L + i) * w.S + j];
  const rowOf = (i) => {
    const row = new Array(w.S);
    const l = model.get("layer");
    const hd = model.get("head");
    for (let j = 0; j < w.S; j += 1) row[j] = at(l, hd, i, j);
    return row;
  };
  let cell = 1;
  let labelPad = 0;
  let hover = null;
  const ink = () => getComputedStyle(root).color;

  function fillOptions() {
    layerCtl.select.replaceChildren(...Array.from({ length: w.layers },
      (_, l) => h("option", { value: l, text: `layer ${l}` })));
    headCtl.select.replaceChildren(...Array.from({ length: w.heads },
      (_, k) => h("option", { value: k, text: `head ${k}` })));
    queryCtl.select.replaceChildren(h("option", { value: -1, text: "(none)" }),
      ...model.get("tokens").map((t, i) => h("option", { value: i, text: `${i}: ${t}` })));
  }

  function headMax() {
    let max = 0;
    const l = model.get("layer");
    const hd = model.get("head");
    const start = (l * w.heads + hd) * w.L * w.S;
    for (let k = start; k < start + w.L * w.S; k += 1) if (w.data[k] > max) max = w.data[k];
    return max;
  }

  function drawHeatmap() {
    const tokens = model.get("tokens");
    const keyTokens = model.get("key_tokens");
    const labelled = Math.max(w.L, w.S) <= LABEL_LIMIT;
    labelPad = labelled ? 72 : 0;
    // Whole pixels per cell while they are large; fractional ones fill the box for long inputs.
    const fit = MAP_SIZE / Math.max(w.L, w.S);
    cell = fit >= 4 ? Math.floor(fit) : fit;
    const width = labelPad + cell * w.S + (labelled ? 40 : 0); // room for the slanted key labels
    const height = labelPad + cell * w.L;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = `${width}px`;
    canvas.style.aspectRatio = `${width} / ${height}`;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);

    // One pixel per weight, scaled up without smoothing: fast for any L × S.
    const max = headMax() || 1;
    const image = new ImageData(w.S, w.L);
    const l = model.get("layer");
    const hd = model.get("head");
    for (let i = 0; i < w.L; i += 1) {
      for (let j = 0; j < w.S; j += 1) {
        const [r, g, b] = viridis(at(l, hd, i, j) / max);
        const k = 4 * (i * w.S + j);
        image.data[k] = r; image.data[k + 1] = g; image.data[k + 2] = b; image.data[k + 3] = 255;
      }
    }
    const small = document.createElement("canvas");
    small.width = w.S;
    small.height = w.L;
    small.getContext("2d").putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, labelPad, labelPad, cell * w.S, cell * w.L);
    colorMax.textContent = fmt(max);

    const colour = ink();
    if (labelled) {
      ctx.fillStyle = colour;
      ctx.font = `${Math.min(12, Math.max(8, cell - 2))}px system-ui, sans-serif`;
      ctx.textBaseline = "middle";
      ctx.textAlign = "right";
      tokens.forEach((t, i) => ctx.fillText(t.slice(0, 10), labelPad - 4, labelPad + (i + 0.5) * cell));
      ctx.save();
      keyTokens.forEach((t, j) => {
        ctx.save();
        ctx.translate(labelPad + (j + 0.5) * cell, labelPad - 4);
        ctx.rotate(-Math.PI / 3);
        ctx.textAlign = "left";
        ctx.fillText(t.slice(0, 10), 0, 0);
        ctx.restore();
      });
      ctx.restore();
    }
    // Bright outlines, visible on every colour of the scale and on both page themes.
    const q = model.get("query_index");
    ctx.lineWidth = 2;
    if (q >= 0) {
      ctx.strokeStyle = "#ff3d7f";
      ctx.strokeRect(labelPad - 1, labelPad + q * cell - 1, cell * w.S + 2, Math.max(cell, 1) + 2);
    }
    if (hover && hover[1] >= 0) {
      ctx.strokeStyle = "#00d5ff";
      ctx.strokeRect(labelPad + hover[1] * cell, labelPad + hover[0] * cell, Math.max(cell, 2),
        Math.max(cell, 2));
    }
  }

  const edges = svg("g", { class: "attnbook-map-edges" });
  const yOf = (i) => 4 + (i + 0.5) * LINE_ROW;
  const LINES_W = 420;
  const xL = 120;
  const xR = LINES_W - 120;

  // Token labels are built once per data/selection change; hovering redraws only the edges,
  // so the element under the pointer is never replaced.
  function drawLines() {
    const tokens = model.get("tokens");
    const keyTokens = model.get("key_tokens");
    const q = model.get("query_index");
    const height = Math.max(w.L, w.S) * LINE_ROW + 8 + LINE_HEAD;
    setAttrs(linesSvg, { viewBox: `0 ${-LINE_HEAD} ${LINES_W} ${height}`, width: LINES_W, height });
    linesSvg.replaceChildren(edges,
      svg("text", { x: xL, y: -6, "text-anchor": "end", class: "attnbook-map-head", text: "query" }),
      svg("text", { x: xR, y: -6, "text-anchor": "start", class: "attnbook-map-head", text: "key" }));
    tokens.forEach((t, i) => {
      const label = svg("text", {
        x: xL, y: yOf(i) + 4, "text-anchor": "end", tabindex: 0, "data-testid": `line-query-${i}`,
        class: i === q ? "attnbook-map-token selected" : "attnbook-map-token", text: t,
        role: "button", "aria-pressed": i === q ? "true" : "false",
      });
      const toggle = () => commit(model, "query_index", model.get("query_index") === i ? -1 : i);
      label.addEventListener("click", toggle);
      label.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          toggle();
        }
      });
      label.addEventListener("mouseenter", () => { hover = [i, -1]; drawEdges(); });
      label.addEventListener("mouseleave", () => { hover = null; drawEdges(); });
      linesSvg.append(label);
    });
    keyTokens.forEach((t, j) => {
      linesSvg.append(svg("text", { x: xR, y: yOf(j) + 4, "text-anchor": "start",
        class: "attnbook-map-token", text: t }));
    });
    drawEdges();
  }

  function drawEdges() {
    const q = model.get("query_index");
    const focus = hover ? hover[0] : q;
    const queries = focus >= 0 ? [focus] : Array.from({ length: w.L }, (_, i) => i);
    edges.replaceChildren();
    for (const i of queries) {
      const row = rowOf(i);
      const rowMax = Math.max(...row) || 1;
      row.forEach((v, j) => {
        // With one query shown, every key above 1 % of its row; otherwise each row's strongest.
        const keep = focus >= 0 ? v >= 0.01 * rowMax : v === rowMax;
        if (!keep) return;
        edges.append(svg("line", {
          x1: xL + 4, y1: yOf(i), x2: xR - 4, y2: yOf(j),
          style: `stroke-opacity: ${(0.15 + 0.85 * v / rowMax).toFixed(3)}; `
            + `stroke-width: ${(1 + 4 * v).toFixed(2)}`,
        }));
      });
    }
  }

  function updateSide() {
    const q = model.get("query_index");
    queryCtl.select.value = String(q);
    topList.replaceChildren();
    if (q < 0) {
      selected.textContent = "No token selected.";
      return;
    }
    const tokens = model.get("tokens");
    const keyTokens = model.get("key_tokens");
    selected.replaceChildren("“", h("strong", { text: tokens[q] }), "” attends most to:");
    const row = rowOf(q);
    const order = row.map((v, j) => j).sort((a, b) => row[b] - row[a] || a - b);
    const k = Math.min(model.get("top_k"), row.length);
    order.slice(0, k).forEach((j, rank) => {
      topList.append(h("li", {}, [
        h("span", { class: "attnbook-map-rank", text: `${rank + 1}.` }),
        h("span", { class: "attnbook-map-key" }, [
          h("span", { "data-testid": `top-${rank + 1}-token`, text: keyTokens[j] }),
          h("span", { class: "attnbook-map-index", text: " #" }),
          h("span", { class: "attnbook-map-index", "data-testid": `top-${rank + 1}-index`,
            text: String(j) }),
        ]),
        h("div", { class: "attnbook-bar-track" }, [
          h("div", { class: "attnbook-bar", style: `width: ${(100 * row[j]).toFixed(2)}%` }),
        ]),
        h("span", { class: "attnbook-num", "data-testid": `top-${rank + 1}-weight`, text: fmt(row[j]) }),
      ]));
    });
  }

  function updateHover() {
    const active = Boolean(hover && hover[1] >= 0);
    hoverHint.hidden = active;
    hoverRead.hidden = !active;
    if (!active) return;
    const [i, j] = hover;
    hoverParts.query.textContent = model.get("tokens")[i];
    hoverParts.key.textContent = model.get("key_tokens")[j];
    hoverParts.weight.textContent = fmt(at(model.get("layer"), model.get("head"), i, j));
  }

  function update() {
    layerCtl.select.value = String(model.get("layer"));
    headCtl.select.value = String(model.get("head"));
    const view = model.get("view");
    viewCtl.select.value = view;
    heatBox.hidden = view !== "heatmap";
    legend.hidden = view !== "heatmap";
    hoverLine.hidden = view !== "heatmap";
    linesBox.hidden = view !== "lines";
    if (view === "heatmap") drawHeatmap();
    else drawLines();
    updateSide();
    updateHover();
  }

  function cellAt(event) {
    const rect = canvas.getBoundingClientRect();
    const scale = rect.width / (canvas.width / (window.devicePixelRatio || 1));
    const x = (event.clientX - rect.left) / scale - labelPad;
    const y = (event.clientY - rect.top) / scale - labelPad;
    const i = Math.floor(y / cell);
    const j = Math.floor(x / cell);
    return i >= 0 && i < w.L && j >= 0 && j < w.S ? [i, j] : null;
  }
  canvas.addEventListener("mousemove", (event) => {
    const next = cellAt(event);
    if (String(next) === String(hover)) return;
    hover = next;
    drawHeatmap();
    updateHover();
  });
  canvas.addEventListener("mouseleave", () => { hover = null; drawHeatmap(); updateHover(); });
  canvas.addEventListener("click", (event) => {
    const hit = cellAt(event);
    if (hit) commit(model, "query_index", hit[0]);
  });
  canvas.addEventListener("keydown", (event) => {
    const q = model.get("query_index");
    let next = null;
    if (event.key === "ArrowDown") next = Math.min(w.L - 1, q + 1);
    else if (event.key === "ArrowUp") next = q < 0 ? 0 : Math.max(0, q - 1);
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = w.L - 1;
    else if (event.key === "Escape") next = -1;
    if (next === null) return;
    event.preventDefault();
    commit(model, "query_index", next);
  });

  fillOptions();
  update();
  const stopData = listen(model, ["weights", "tokens", "key_tokens"], () => {
    w = decodeWeights(model.get("weights"));
    hover = null;
    fillOptions();
    update();
  });
  const stopControls = listen(model, ["layer", "head", "view", "query_index", "top_k"], update);
  return () => { stopData(); stopControls(); };
}

export default { render };
