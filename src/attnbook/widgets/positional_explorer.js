// PositionalExplorer: the sinusoidal table of attnbook.positional.sinusoidal_table and the
// rotation of attnbook.positional.RotaryEmbedding, computed here with the same formulas.
// Frequency i: theta_i = base^(-2i / E). Sinusoidal: PE[p, 2i] = sin(p theta_i),
// PE[p, 2i + 1] = cos(p theta_i). RoPE: features i and i + E/2 turn by the angle p theta_i.

const CURVE_W = 600;
const CURVE_H = 130;
const SIM_SIZE = 220;
const ROPE = 190;

function render({ model, el }) {
  const root = widgetRoot(el, "positional-explorer", "Positional encodings",
    "Sinusoidal columns vs position, how similar two positions' encodings are, and RoPE's rotation.");
  const E = () => model.get("embed_dim");
  const maxLen = () => model.get("max_len");
  const theta = (i) => Math.pow(model.get("base"), -(2 * i) / E());

  const freqCtl = rangeControl({ stem: "freq", label: "frequency i", testid: "freq", min: 0,
    max: E() / 2 - 1, step: 1, value: model.get("freq_index"), show: String });
  const posCtl = rangeControl({ stem: "position", label: "position p", testid: "position", min: 0,
    max: maxLen() - 1, step: 1, value: model.get("position"), show: String });
  const otherCtl = rangeControl({ stem: "other", label: "other position q", testid: "other",
    min: 0, max: maxLen() - 1, step: 1, value: model.get("other"), show: String });
  freqCtl.input.addEventListener("input", () => commit(model, "freq_index", Number(freqCtl.input.value)));
  posCtl.input.addEventListener("input", () => commit(model, "position", Number(posCtl.input.value)));
  otherCtl.input.addEventListener("input", () => commit(model, "other", Number(otherCtl.input.value)));

  const curves = svg("svg", { viewBox: `0 0 ${CURVE_W} ${CURVE_H}`, width: CURVE_W, height: CURVE_H,
    class: "attnbook-pos-curves", role: "img",
    "aria-label": "the sin and cos columns of frequency i against position" });
  const sim = h("canvas", { class: "attnbook-pos-sim", role: "img",
    "aria-label": "cosine similarity of the encodings of every pair of positions" });
  const rope = svg("svg", { viewBox: `0 0 ${ROPE} ${ROPE}`, width: ROPE, height: ROPE,
    class: "attnbook-pos-rope", role: "img", "aria-label": "RoPE rotation of one feature pair" });

  const value = (id) => h("dd", { "data-testid": id });
  const out = {};
  const readout = (pairs) => {
    const dl = h("dl", { class: "attnbook-readout" });
    for (const [id, label] of pairs) {
      out[id] = value(id);
      dl.append(h("dt", { text: label }), out[id]);
    }
    return dl;
  };
  root.append(
    freqCtl.row, posCtl.row, otherCtl.row,
    readout([["frequency-value", "θ_i = base^(−2i/E)"], ["wavelength-value", "wavelength 2π/θ_i"],
      ["pe-sin-value", "PE[p, 2i] = sin(p θ_i)"], ["pe-cos-value", "PE[p, 2i+1] = cos(p θ_i)"]]),
    h("div", { class: "attnbook-note", text: "Column 2i (sin, solid) and 2i+1 (cos, dashed); dots at "
      + "whole positions, the line through p marked." }),
    curves,
    h("div", { class: "attnbook-row attnbook-pos-bottom" }, [
      h("figure", {}, [sim, h("figcaption", { text: "cos similarity of PE[p] and PE[q] (rows p, columns q)" }),
        readout([["similarity-value", "cos(PE[p], PE[q])"], ["offset-value", "offset p − q"]])]),
      h("figure", {}, [rope, h("figcaption", { text: "RoPE: pair (x_i, x_{i+E/2}) at p (blue) and q (orange)" }),
        readout([["rope-angle-value", "angle p θ_i (rad)"], ["rope-x-value", "rotated x_i at p"],
          ["rope-y-value", "rotated x_{i+E/2} at p"], ["rope-dot-value", "rot_p(v) · rot_q(v)"],
          ["rope-offset-dot-value", "|v|² cos((p − q) θ_i)"]])]),
    ]),
  );

  const xOf = (p) => 30 + (p / Math.max(1, maxLen() - 1)) * (CURVE_W - 40);
  const yOf = (v) => 10 + ((1 - v) / 2) * (CURVE_H - 30);

  function drawCurves(i, p) {
    const t = theta(i);
    curves.replaceChildren();
    for (const v of [-1, 0, 1]) {
      curves.append(svg("line", { x1: 30, x2: CURVE_W - 10, y1: yOf(v), y2: yOf(v),
        class: v === 0 ? "attnbook-pos-axis" : "attnbook-pos-gridline" }),
      svg("text", { x: 24, y: yOf(v) + 4, "text-anchor": "end", "data-testid": `curve-y-${v + 1}`,
        text: String(v) }));
    }
    const steps = Math.min(4000, (maxLen() - 1) * 8);
    for (const [fn, cls] of [[Math.sin, "sin"], [Math.cos, "cos"]]) {
      const pts = [];
      for (let k = 0; k <= steps; k += 1) {
        const x = ((maxLen() - 1) * k) / steps;
        pts.push(`${xOf(x).toFixed(2)},${yOf(fn(x * t)).toFixed(2)}`);
      }
      curves.append(svg("polyline", { points: pts.join(" "), class: `attnbook-pos-${cls}` }));
      for (let q = 0; q < maxLen(); q += 1) {
        curves.append(svg("circle", { cx: xOf(q), cy: yOf(fn(q * t)), r: 1.8,
          class: `attnbook-pos-dot-${cls}` }));
      }
    }
    curves.append(svg("line", { x1: xOf(p), x2: xOf(p), y1: 6, y2: CURVE_H - 18,
      class: "attnbook-pos-marker" }));
    curves.append(svg("text", { x: xOf(0), y: CURVE_H - 4, "data-testid": "curve-x-min", text: "0" }),
      svg("text", { x: CURVE_W - 10, y: CURVE_H - 4, "text-anchor": "end", "data-testid": "curve-x-max",
        text: `${maxLen() - 1} (position)` }));
  }

  let table = null;
  function buildTable() {
    // The whole table in float64, as sinusoidal_table builds it before its final cast.
    const n = maxLen();
    const half = E() / 2;
    table = Array.from({ length: n }, (_, p) => {
      const row = new Float64Array(E());
      for (let i = 0; i < half; i += 1) {
        row[2 * i] = Math.sin(p * theta(i));
        row[2 * i + 1] = Math.cos(p * theta(i));
      }
      return row;
    });
  }
  const dot = (a, b) => { let s = 0; for (let k = 0; k < a.length; k += 1) s += a[k] * b[k]; return s; };
  const cosSim = (p, q) => dot(table[p], table[q]) / Math.sqrt(dot(table[p], table[p]) * dot(table[q], table[q]));

  let simImage = null;
  function buildSimilarity() {
    // n × n similarities change only with the table: paint them once into a small canvas.
    const n = maxLen();
    const image = new ImageData(n, n);
    for (let a = 0; a < n; a += 1) {
      for (let b = 0; b < n; b += 1) {
        const [r, g, bl] = viridis((cosSim(a, b) + 1) / 2);
        const k = 4 * (a * n + b);
        image.data[k] = r; image.data[k + 1] = g; image.data[k + 2] = bl; image.data[k + 3] = 255;
      }
    }
    simImage = document.createElement("canvas");
    simImage.width = n;
    simImage.height = n;
    simImage.getContext("2d").putImageData(image, 0, 0);
  }

  function drawSimilarity(p, q) {
    const n = maxLen();
    const dpr = window.devicePixelRatio || 1;
    sim.width = Math.round(SIM_SIZE * dpr);
    sim.height = Math.round(SIM_SIZE * dpr);
    sim.style.width = `${SIM_SIZE}px`;
    const ctx = sim.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(simImage, 0, 0, SIM_SIZE, SIM_SIZE);
    const c = SIM_SIZE / n;
    ctx.strokeStyle = "#ff3d7f";
    ctx.lineWidth = 2;
    ctx.strokeRect(q * c, p * c, Math.max(c, 3), Math.max(c, 3));
  }

  function drawRope(i, p, q) {
    const [vx, vy] = model.get("rope_vector");
    const t = theta(i);
    const rot = (angle) => [vx * Math.cos(angle) - vy * Math.sin(angle),
      vy * Math.cos(angle) + vx * Math.sin(angle)];
    const atP = rot(p * t);
    const atQ = rot(q * t);
    const radius = Math.hypot(vx, vy) || 1;
    const c = ROPE / 2;
    const s = (ROPE / 2 - 12) / radius;
    const arrow = (v, cls) => svg("line", { x1: c, y1: c, x2: c + s * v[0], y2: c - s * v[1], class: cls });
    rope.replaceChildren(
      svg("circle", { cx: c, cy: c, r: ROPE / 2 - 12, class: "attnbook-pos-gridline" }),
      svg("line", { x1: 6, x2: ROPE - 6, y1: c, y2: c, class: "attnbook-pos-gridline" }),
      svg("line", { x1: c, x2: c, y1: 6, y2: ROPE - 6, class: "attnbook-pos-gridline" }),
      arrow([vx, vy], "attnbook-pos-v"), arrow(atQ, "attnbook-pos-q"), arrow(atP, "attnbook-pos-p"),
    );
    out["rope-angle-value"].textContent = fmt(p * t);
    out["rope-x-value"].textContent = fmt(atP[0]);
    out["rope-y-value"].textContent = fmt(atP[1]);
    out["rope-dot-value"].textContent = fmt(atP[0] * atQ[0] + atP[1] * atQ[1]);
    out["rope-offset-dot-value"].textContent = fmt((vx * vx + vy * vy) * Math.cos((p - q) * t));
  }

  function update() {
    const i = model.get("freq_index");
    const p = model.get("position");
    const q = model.get("other");
    freqCtl.set(i);
    posCtl.set(p);
    otherCtl.set(q);
    const t = theta(i);
    out["frequency-value"].textContent = fmtExp(t);
    out["wavelength-value"].textContent = fmt((2 * Math.PI) / t, 2);
    out["pe-sin-value"].textContent = fmt(table[p][2 * i]);
    out["pe-cos-value"].textContent = fmt(table[p][2 * i + 1]);
    out["similarity-value"].textContent = fmt(cosSim(p, q));
    out["offset-value"].textContent = String(p - q);
    drawCurves(i, p);
    drawSimilarity(p, q);
    drawRope(i, p, q);
  }

  buildTable();
  buildSimilarity();
  update();
  const stopShape = listen(model, ["embed_dim", "max_len", "base"], () => {
    setAttrs(freqCtl.input, { max: E() / 2 - 1 });
    setAttrs(posCtl.input, { max: maxLen() - 1 });
    setAttrs(otherCtl.input, { max: maxLen() - 1 });
    buildTable();
    buildSimilarity();
    update();
  });
  const stop = listen(model, ["freq_index", "position", "other", "rope_vector"], update);
  return () => { stopShape(); stop(); };
}

export default { render };
