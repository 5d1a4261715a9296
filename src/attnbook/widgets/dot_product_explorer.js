// DotProductExplorer: two 2-D vectors, moved by dragging their tips or with sliders.
// Shows a · b, the lengths, the cosine and the angle, and draws the projection of b on a.

const VIEW = 320; // SVG size in user units (px at 100 %)
const PAD = 14;

function render({ model, el }) {
  const root = widgetRoot(el, "dot-product-explorer", "Dot product and cosine similarity",
    "Drag the tips (or focus one and use the arrow keys), or move the sliders.");

  const extent = () => model.get("extent");
  const step = () => model.get("step");
  const snap = (v) => {
    const s = step();
    return clamp(Math.round(v / s) * s, -extent(), extent());
  };
  // Snapped values are multiples of `step`; rounding to 10 decimals drops the binary noise
  // (0.1 * 3 = 0.30000000000000004) so sliders, state and Python see the same number.
  const tidy = (v) => Number(snap(v).toFixed(10));

  const scale = () => (VIEW - 2 * PAD) / (2 * extent());
  const toPx = ([x, y]) => [PAD + (x + extent()) * scale(), PAD + (extent() - y) * scale()];

  // ---- canvas --------------------------------------------------------------------
  const canvas = svg("svg", {
    viewBox: `0 0 ${VIEW} ${VIEW}`, width: VIEW, height: VIEW, role: "img",
    "aria-label": "the vectors a and b, their angle and the projection of b on a",
    class: "attnbook-dot-canvas",
  });
  const defs = svg("defs");
  const markerIds = {};
  for (const [name, color] of [["a", "var(--ab-a)"], ["b", "var(--ab-b)"], ["p", "var(--ab-c)"]]) {
    markerIds[name] = uid(`arrow-${name}`);
    defs.append(svg("marker", {
      // Sized in canvas units, not in multiples of the (different) stroke widths.
      id: markerIds[name], viewBox: "0 0 10 10", refX: 9, refY: 5, markerUnits: "userSpaceOnUse",
      markerWidth: 12, markerHeight: 12, orient: "auto-start-reverse",
    }, [svg("path", { d: "M 0 0 L 10 5 L 0 10 z", style: `fill: ${color}` })]));
  }
  const grid = svg("g", { class: "attnbook-dot-grid" });
  const arc = svg("path", { class: "attnbook-dot-arc" });
  const arcLabel = svg("text", { class: "attnbook-dot-arc-label", text: "θ" });
  const perp = svg("line", { class: "attnbook-dot-perp" });
  const proj = svg("line", { class: "attnbook-dot-proj", "marker-end": `url(#${markerIds.p})` });
  const lines = {};
  const handles = {};
  const tipLabels = {};
  for (const name of ["a", "b"]) {
    lines[name] = svg("line", {
      class: `attnbook-dot-vec attnbook-dot-vec-${name}`, "marker-end": `url(#${markerIds[name]})`,
    });
    handles[name] = svg("circle", {
      r: 9, class: `attnbook-dot-handle attnbook-dot-handle-${name}`, tabindex: 0,
      "data-testid": `handle-${name}`,
      "aria-label": `tip of vector ${name}: drag it, or use the arrow keys`,
    });
    tipLabels[name] = svg("text", { class: "attnbook-dot-tip-label", text: name });
  }
  canvas.append(defs, grid, arc, arcLabel, perp, proj, lines.a, lines.b,
    tipLabels.a, tipLabels.b, handles.a, handles.b);

  // ---- controls and readouts -----------------------------------------------------
  const sliders = {};
  const controls = h("div", { class: "attnbook-col" });
  for (const name of ["a", "b"]) {
    for (const [k, axis] of [[0, "x"], [1, "y"]]) {
      const control = rangeControl({
        stem: `${name}-${axis}`, label: `${name}${axis === "x" ? "₁" : "₂"} (${axis})`,
        testid: `${name}-${axis}`, min: -extent(), max: extent(), step: step(),
        value: model.get(name)[k], show: (v) => fmt(v, 2),
      });
      control.input.addEventListener("input", () => {
        const next = model.get(name).slice();
        next[k] = tidy(Number(control.input.value));
        commit(model, name, next);
      });
      sliders[`${name}${k}`] = control;
      controls.append(control.row);
    }
  }
  const readout = h("dl", { class: "attnbook-readout" });
  const values = {};
  for (const [key, label] of [
    ["dot", "a · b"], ["norm-a", "|a|"], ["norm-b", "|b|"], ["cosine", "cos θ = a·b / (|a||b|)"],
    ["angle", "θ (degrees)"], ["projection", "a·b / |a| (projection)"],
  ]) {
    values[key] = h("dd", { "data-testid": `${key}-value` });
    const swatch = key === "projection"
      ? h("span", { class: "attnbook-swatch", style: "background: var(--ab-c)" }) : null;
    readout.append(h("dt", {}, [swatch, label]), values[key]);
  }
  const formula = h("div", { class: "attnbook-note", "data-testid": "dot-formula" });
  controls.append(readout, formula);
  root.append(h("div", { class: "attnbook-row" }, [
    h("div", { class: "attnbook-dot-canvas-box" }, [canvas]), controls,
  ]));

  // ---- drawing ---------------------------------------------------------------------
  function drawGrid() {
    grid.replaceChildren();
    const ticks = niceTicks(-extent(), extent(), 4);
    for (const t of ticks) {
      const [x] = toPx([t, 0]);
      const [, y] = toPx([0, t]);
      grid.append(
        svg("line", { x1: x, y1: PAD, x2: x, y2: VIEW - PAD, class: t === 0 ? "axis" : "" }),
        svg("line", { x1: PAD, y1: y, x2: VIEW - PAD, y2: y, class: t === 0 ? "axis" : "" }),
      );
      if (t !== 0) {
        const digits = tickDigits(ticks);
        grid.append(
          svg("text", { x, y: toPx([0, 0])[1] + 12, "text-anchor": "middle", text: fmt(t, digits) }),
          svg("text", { x: toPx([0, 0])[0] - 4, y: y + 4, "text-anchor": "end", text: fmt(t, digits) }),
        );
      }
    }
  }

  function placeLine(line, from, to) {
    const [x1, y1] = toPx(from);
    const [x2, y2] = toPx(to);
    setAttrs(line, { x1, y1, x2, y2 });
  }

  function update() {
    const a = model.get("a");
    const b = model.get("b");
    const dot = a[0] * b[0] + a[1] * b[1];
    const normA = Math.sqrt(a[0] * a[0] + a[1] * a[1]);
    const normB = Math.sqrt(b[0] * b[0] + b[1] * b[1]);
    const defined = normA > 0 && normB > 0;
    const cosine = defined ? dot / (normA * normB) : NaN;
    const angle = defined ? (Math.acos(clamp(cosine, -1, 1)) * 180) / Math.PI : NaN;
    const projection = normA > 0 ? dot / normA : NaN;

    values.dot.textContent = fmt(dot);
    values["norm-a"].textContent = fmt(normA);
    values["norm-b"].textContent = fmt(normB);
    values.cosine.textContent = defined ? fmt(cosine) : "undefined (a zero vector)";
    values.angle.textContent = defined ? fmt(angle, 2) : "undefined";
    values.projection.textContent = normA > 0 ? fmt(projection) : "undefined (a = 0)";
    formula.textContent = `a · b = (${fmt(a[0], 2)})(${fmt(b[0], 2)}) + (${fmt(a[1], 2)})`
      + `(${fmt(b[1], 2)}) = ${fmt(dot)}`;

    for (const [name, v] of [["a", a], ["b", b]]) {
      sliders[`${name}0`].set(v[0]);
      sliders[`${name}1`].set(v[1]);
      placeLine(lines[name], [0, 0], v);
      const [cx, cy] = toPx(v);
      setAttrs(handles[name], { cx, cy });
      const len = Math.hypot(v[0], v[1]) || 1;
      setAttrs(tipLabels[name], {
        x: cx + (14 * v[0]) / len, y: cy - (14 * v[1]) / len + 4, "text-anchor": "middle",
      });
    }

    // Projection of b on a: the foot of the perpendicular from b's tip to a's line.
    const show = normA > 0;
    const foot = show ? [(dot / (normA * normA)) * a[0], (dot / (normA * normA)) * a[1]] : [0, 0];
    proj.style.display = show && Math.hypot(foot[0], foot[1]) > 1e-9 ? "" : "none";
    perp.style.display = show ? "" : "none";
    placeLine(proj, [0, 0], foot);
    placeLine(perp, b, foot);

    // Angle arc from a to b (the smaller angle), radius 28 px.
    if (defined) {
      const angA = Math.atan2(a[1], a[0]);
      let delta = Math.atan2(b[1], b[0]) - angA;
      while (delta > Math.PI) delta -= 2 * Math.PI;
      while (delta < -Math.PI) delta += 2 * Math.PI;
      const [ox, oy] = toPx([0, 0]);
      const r = 28;
      const p1 = [ox + r * Math.cos(angA), oy - r * Math.sin(angA)];
      const p2 = [ox + r * Math.cos(angA + delta), oy - r * Math.sin(angA + delta)];
      const sweep = delta > 0 ? 0 : 1;
      arc.setAttribute("d", `M ${p1[0]} ${p1[1]} A ${r} ${r} 0 0 ${sweep} ${p2[0]} ${p2[1]}`);
      const mid = angA + delta / 2;
      setAttrs(arcLabel, { x: ox + 40 * Math.cos(mid), y: oy - 40 * Math.sin(mid) + 4,
        "text-anchor": "middle" });
      arc.style.display = arcLabel.style.display = "";
    } else {
      arc.style.display = arcLabel.style.display = "none";
    }
  }

  // ---- dragging and keys -------------------------------------------------------------
  function dataPoint(event) {
    const point = canvas.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const p = point.matrixTransform(canvas.getScreenCTM().inverse());
    return [(p.x - PAD) / scale() - extent(), extent() - (p.y - PAD) / scale()];
  }
  for (const name of ["a", "b"]) {
    const handle = handles[name];
    handle.addEventListener("pointerdown", (event) => {
      handle.setPointerCapture(event.pointerId);
      handle.classList.add("dragging");
      event.preventDefault();
    });
    handle.addEventListener("pointermove", (event) => {
      if (!handle.hasPointerCapture(event.pointerId)) return;
      const [x, y] = dataPoint(event);
      const next = [tidy(x), tidy(y)];
      const now = model.get(name);
      if (next[0] !== now[0] || next[1] !== now[1]) commit(model, name, next);
    });
    const release = (event) => {
      if (handle.hasPointerCapture(event.pointerId)) handle.releasePointerCapture(event.pointerId);
      handle.classList.remove("dragging");
    };
    handle.addEventListener("pointerup", release);
    handle.addEventListener("pointercancel", release);
    handle.addEventListener("keydown", (event) => {
      const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      const v = model.get(name);
      commit(model, name, [tidy(v[0] + move[0] * step()), tidy(v[1] + move[1] * step())]);
    });
  }

  drawGrid();
  update();
  const stop = listen(model, ["a", "b"], update);
  const stopExtent = listen(model, ["extent", "step"], () => {
    for (const control of Object.values(sliders)) {
      setAttrs(control.input, { min: -extent(), max: extent(), step: step() });
    }
    drawGrid();
    update();
  });
  return () => { stop(); stopExtent(); };
}

export default { render };
