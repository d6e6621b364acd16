/* grokscope report: draws a run's report from the JSON in #grokscope-data with the embedded Plotly.
 * In a live page (grokscope serve) it polls the data URL and redraws when the run has new steps.
 * window.grokscope exposes what tests read: the data, how often the page was drawn, the plot ids. */
(function () {
  "use strict";

  const COLORS = {
    "train/loss": "#1f77b4", "train/acc": "#1f77b4", "test/loss": "#d62728", "test/acc": "#d62728",
    "test_mirror/loss": "#ff7f0e", "test_mirror/acc": "#ff7f0e", "shift/loss": "#2ca02c",
    "shift/failure": "#2ca02c", "shift/excess_failure": "#9467bd",
    "measure/restricted_loss": "#2ca02c", "measure/restricted_loss_live": "#2ca02c",
    "measure/excluded_loss": "#9467bd", "measure/excluded_loss_live": "#9467bd",
    "measure/gini_embed": "#8c564b", "measure/gini_neuron_logit": "#e377c2",
    "measure/ideal_form_fve": "#17becf", "measure/ideal_form_fve_live": "#17becf",
    "measure/embed_peak_z": "#8c564b", "measure/weight_norm_sq": "#7f7f7f", "measure/n_key_frequencies_live": "#bcbd22",
    "monitor/llc": "#d62728", "monitor/prequential_bits": "#9467bd", "monitor/effective_rank": "#17becf",
    "monitor/weight_norm": "#7f7f7f", "monitor/effective_lr_per_step": "#bcbd22",
  };
  // Titles are the captions in report.html, outside the plots: Plotly's toolbar cannot cover them, and they wrap.
  const PANELS = {
    loss: { ylog: true, ytitle: "cross-entropy" },
    accuracy: { ylog: false, ytitle: "exact match", yrange: [-0.02, 1.02] },
    progress: { ylog: true, ytitle: "cross-entropy" },
    gini: { ylog: false, ytitle: "", yrange: [-0.02, 1.02] },
    warning: { ylog: false, ytitle: "z" },
    norm: { ylog: true, ytitle: "Σ w²", y2metric: "measure/n_key_frequencies_live", y2title: "live key frequencies" },
    // small multiples: five quantities in different units, one row and one y axis each
    monitor: { ylog: true, multiples: true, section: "monitor-section" }, // hidden until `grokscope monitor` has run
    shift: { ylog: false, ytitle: "ratio", section: "shift-section" }, // a stored table's shift era (task table)
  };
  const LOSS_TITLES = { cross_entropy: "cross-entropy", stablemax: "StableMax cross-entropy", mse: "mean squared error",
    squared_error: "squared error" };
  const MEMBER_LINES_UP_TO = 32; // larger ensembles: median and 10-90% band, one member on demand
  const PHASES = [
    ["memorization", "rgba(31,119,180,0.07)"], ["circuit formation", "rgba(255,127,14,0.09)"], ["cleanup", "rgba(44,160,44,0.09)"],
  ];
  const CONFIG = { responsive: true, displaylogo: false, displayModeBar: "hover" };
  // A 300-px panel has no room for the toolbar beside its caption; dragging still zooms, a double click resets.
  const SMALL_CONFIG = { displaylogo: false, displayModeBar: false };
  // The same margins on every step-axis panel (room for the weight-norm panel's right axis), so that a step sits
  // at the same x on each and the phase shading lines up down the page; the top one leaves the toolbar's 26 px
  // (shown on hover, at the top right) clear of the early-warning label under it.
  const STEP_PANEL_MARGIN = { l: 60, r: 60, t: 44, b: 10 };
  // Below the figure, not at a fraction of the plot's height: the margin grows to hold it, whatever the width.
  const LEGEND = { orientation: "h", traceorder: "normal", x: 0, xanchor: "left", y: 0, yanchor: "bottom", yref: "container",
    font: { size: 11 } };
  const COLLAPSE_COLOR = "#7a0099";
  const ARM_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const CYCLIC = [0, 1, 2, 3, 4, 5, 6].map((i) => [i / 6, `hsl(${i * 60},75%,48%)`]); // a colour wheel

  const state = { data: null, focus: 0, overlay: null, clockFrame: null, spectrumMember: "median", renders: 0 };
  window.grokscope = state;

  function unpack(p) {
    const bin = atob(p.f32);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return { shape: p.shape, data: new Float32Array(bytes.buffer) };
  }
  function rows(p) { // packed [R, C] -> array of R arrays, NaN as null (a gap in the line)
    const a = unpack(p), width = a.shape[a.shape.length - 1], out = [];
    for (let r = 0; r < a.data.length / width; r++) {
      out.push(Array.from(a.data.subarray(r * width, (r + 1) * width), (v) => (Number.isFinite(v) ? v : null)));
    }
    return out;
  }
  function quantile(sorted, q) {
    if (!sorted.length) return null;
    const at = (sorted.length - 1) * q, lo = Math.floor(at), hi = Math.ceil(at);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
  }
  function bands(memberRows) { // per step: [q10, median, q90] over members with a value
    const lo = [], mid = [], hi = [];
    for (let t = 0; t < memberRows[0].length; t++) {
      const col = memberRows.map((r) => r[t]).filter((v) => v !== null).sort((x, y) => x - y);
      lo.push(quantile(col, 0.1)); mid.push(quantile(col, 0.5)); hi.push(quantile(col, 0.9));
    }
    return [lo, mid, hi];
  }
  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function fmt(v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number" && !Number.isInteger(v)) return Math.abs(v) >= 0.01 ? v.toFixed(3) : v.toExponential(2);
    if (Array.isArray(v)) return v.length ? v.join(", ") : "—";
    return String(v);
  }

  /* ---------- scalar panels ---------- */

  function positive(steps, values) { // a log step axis has no step 0
    const keep = steps.map((s) => s > 0);
    return [steps.filter((_, i) => keep[i]), values.filter((_, i) => keep[i])];
  }
  function phaseShapes(member) {
    const d = state.data, info = d.summary.members[member];
    if (!info) return [];
    const p = info.phases || {}, first = 1, last = Math.max(d.summary.steps, 2); // a stored table's run has no phases
    const edges = [first, p.memorization_end, p.cleanup_start, p.cleanup_end];
    const shapes = [];
    for (let i = 0; i < 3; i++) {
      if (edges[i] === null || edges[i] === undefined) break;
      const end = edges[i + 1] === null || edges[i + 1] === undefined ? last : edges[i + 1];
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: Math.max(edges[i], 1), x1: end, y0: 0, y1: 1,
        fillcolor: PHASES[i][1], line: { width: 0 }, layer: "below", name: PHASES[i][0] });
      if (edges[i + 1] === null || edges[i + 1] === undefined) break;
    }
    if (info.early_warning_step) {
      shapes.push({ type: "line", xref: "x", yref: "paper", x0: info.early_warning_step, x1: info.early_warning_step,
        y0: 0, y1: 1, line: { color: "#b00", width: 1.5, dash: "dot" }, name: "early warning" });
    }
    const collapse = info.softmax_collapse;
    if (collapse) { // from here to the end most training pairs give no gradient (docs/levers.md)
      shapes.push({ type: "rect", xref: "x", yref: "paper", x0: Math.max(collapse.step, 1), x1: last, y0: 0, y1: 1,
        fillcolor: "rgba(120,0,160,0.06)", line: { color: COLLAPSE_COLOR, width: 1.5, dash: "dash" }, name: "softmax collapse" });
    }
    return shapes;
  }
  function phaseAnnotations(member) {
    const info = state.data.summary.members[member];
    if (!info) return [];
    const notes = [];
    if (info.early_warning_step) {
      notes.push({ x: Math.log10(info.early_warning_step), xref: "x", yref: "paper", y: 1.0, yanchor: "bottom",
        text: "early warning", showarrow: false, font: { color: "#b00", size: 11 } });
    }
    if (info.softmax_collapse) {
      notes.push({ x: Math.log10(Math.max(info.softmax_collapse.step, 1)), xref: "x", yref: "paper", y: 0.93, xanchor: "left",
        text: `softmax collapse (step ${info.softmax_collapse.step})`, showarrow: false, font: { color: COLLAPSE_COLOR, size: 11 },
        name: "softmax collapse" });
    }
    return notes;
  }
  function panelCurves(panel) { // the curves the data lists for this panel that the run logged
    const d = state.data;
    return d.curves.filter((c) => c.panel === panel && d.scalars[c.metric]);
  }
  function curveAxes(spec, curves) { // metric -> y axis: a row each for small multiples, else "y" (or "y2" on the right)
    return Object.fromEntries(curves.map((c, k) =>
      [c.metric, spec.multiples ? (k ? `y${k + 1}` : "y") : (c.metric === spec.y2metric ? "y2" : "y")]));
  }
  function scalarTraces(curves, axes) {
    const d = state.data, traces = [], E = d.n_members;
    for (const curve of curves) {
      const series = d.scalars[curve.metric];
      const live = curve.metric.endsWith("_live");
      const color = COLORS[curve.metric] || "#333";
      const base = { mode: "lines", line: { color: color, width: 1.4, dash: live ? "dash" : "solid" },
        yaxis: axes[curve.metric], connectgaps: false };
      const memberRows = rows(series.values).map((r) => positive(series.steps, r));
      const steps = memberRows[0][0], values = memberRows.map((r) => r[1]);
      if (E > 1) {
        const [lo, mid, hi] = bands(values);
        traces.push({ x: steps, y: hi, mode: "lines", line: { width: 0, color: color }, hoverinfo: "skip", showlegend: false,
          yaxis: base.yaxis, meta: { kind: "band", metric: curve.metric } });
        traces.push({ x: steps, y: lo, mode: "lines", fill: "tonexty", fillcolor: hexAlpha(color, 0.15), line: { width: 0, color: color },
          hoverinfo: "skip", showlegend: false, yaxis: base.yaxis, meta: { kind: "band", metric: curve.metric } });
        traces.push(Object.assign({}, base, { x: steps, y: mid, name: curve.label + " (median)",
          line: Object.assign({}, base.line, { width: 2.2 }), meta: { kind: "median", metric: curve.metric } }));
      }
      const shown = E <= MEMBER_LINES_UP_TO ? values.map((_, e) => e) : (state.overlay === null ? [] : [state.overlay]);
      for (const e of shown) {
        const highlighted = E === 1 || e === state.focus || e === state.overlay;
        traces.push(Object.assign({}, base, { x: steps, y: values[e], name: E === 1 ? curve.label : `${curve.label}, member ${e}`,
          showlegend: E === 1, opacity: highlighted ? 1 : 0.35, legendgroup: curve.metric,
          line: Object.assign({}, base.line, { width: highlighted ? 1.6 : 0.8 }), meta: { kind: "member", member: e, metric: curve.metric } }));
      }
    }
    return traces;
  }
  function hexAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
  }
  function stepAxis() { // every step-axis panel spans step 1 to the last, as the phase shading does
    return { type: "log", title: { text: "step (log)" }, range: [0, Math.log10(Math.max(state.data.summary.steps, 2))],
      automargin: true }; // below the plot, then the legend under it (LEGEND reserves its own room)
  }
  function singleAxes(spec) { // one y axis, and the right-hand one where the panel has it
    // The loss panels name the loss the run trained on (config.loss).
    const ytitle = spec.ytitle === "cross-entropy" ? (LOSS_TITLES[state.data.config.loss] || spec.ytitle) : spec.ytitle;
    const axes = { yaxis: { type: spec.ylog ? "log" : "linear", title: { text: ytitle }, range: spec.yrange, exponentformat: "power" } };
    if (spec.y2title) axes.yaxis2 = { overlaying: "y", side: "right", title: { text: spec.y2title }, rangemode: "tozero", dtick: 1 };
    return axes;
  }
  function multipleAxes(spec, curves) { // a row per quantity, its own y axis, named above it; the step axis under the last row
    const gap = 0.1, rowHeight = (1 - gap * (curves.length - 1)) / curves.length, axes = { rowTitles: [] };
    curves.forEach((c, k) => {
      const top = 1 - k * (rowHeight + gap);
      axes[k ? `yaxis${k + 1}` : "yaxis"] = { type: spec.ylog ? "log" : "linear", domain: [top - rowHeight, top], exponentformat: "power" };
      axes.rowTitles.push({ text: c.label, xref: "paper", yref: "paper", x: 0, y: top, xanchor: "left", yanchor: "bottom",
        showarrow: false, font: { size: 12 }, name: "subplot title" });
    });
    axes.xanchor = curves.length > 1 ? `y${curves.length}` : "y";
    return axes;
  }
  function drawScalarPanel(panel) {
    const spec = PANELS[panel], box = document.getElementById("plot-" + panel);
    const curves = panelCurves(panel);
    const traces = scalarTraces(curves, curveAxes(spec, curves));
    if (spec.section) document.getElementById(spec.section).hidden = !traces.length;
    if (!traces.length) { box.classList.add("empty"); box.textContent = "Not logged for this run."; return; }
    box.classList.remove("empty");
    const layout = { height: 330, margin: STEP_PANEL_MARGIN, xaxis: stepAxis(), shapes: phaseShapes(state.focus),
      annotations: phaseAnnotations(state.focus), legend: LEGEND, hovermode: "x" };
    if (spec.multiples) {
      const { rowTitles, xanchor, ...axes } = multipleAxes(spec, curves);
      const raised = layout.annotations.map((a) => Object.assign({}, a, { yshift: 18 })); // above the first row's title
      Object.assign(layout, axes, { height: 150 * curves.length + 80, annotations: raised.concat(rowTitles),
        margin: Object.assign({}, STEP_PANEL_MARGIN, { t: 62 }) });
      layout.xaxis.anchor = xanchor;
    } else Object.assign(layout, singleAxes(spec));
    Plotly.react(box, traces, layout, CONFIG);
  }

  /* ---------- arms (grokscope compare) ---------- */

  function censoredSteps(value, censored) { return (censored ? ">" : "") + Math.round(value).toLocaleString("en-US"); }
  function armRow(a, control) { // the cells of `grokscope compare`'s table
    let speedup = "control", p = "", paired = "";
    if (a.arm !== control) {
      const bound = { lower: "≥", upper: "≤" }[a.speedup_bound] || "";
      const interval = a.speedup_low === null ? "-" : `${a.speedup_low.toFixed(2)}, ${a.speedup_high.toFixed(2)}`;
      speedup = `${a.speedup === null ? "?" : bound + a.speedup.toFixed(2)} [${interval}]`;
      p = a.p_value === null ? "-" : String(Number(a.p_value.toPrecision(3)));
      paired = a.paired === null ? "" : `${a.paired_faster}/${a.paired}`;
    }
    return [a.arm, `${a.generalized}/${a.members}`, censoredSteps(a.median, a.median_censored),
      `${censoredSteps(a.q25, a.q25_censored)}–${censoredSteps(a.q75, a.q75_censored)}`, speedup, p, paired];
  }
  function drawArms() {
    const d = state.data, section = document.getElementById("arms-section");
    if (!d.arms) { section.hidden = true; return; }
    section.hidden = false;
    const a = d.arms, byArm = Object.fromEntries(a.arms.map((row) => [row.arm, row]));
    const traces = a.curves.map((c, i) => ({ type: "scatter", mode: "lines", x: c.steps, y: c.fractions,
      line: { shape: "hv", width: 2, color: ARM_COLORS[i % ARM_COLORS.length] },
      name: `${c.arm} (${byArm[c.arm].generalized}/${byArm[c.arm].members})`, meta: { kind: "arm", arm: c.arm } }));
    Plotly.react("plot-arms", traces, { height: 330, margin: STEP_PANEL_MARGIN, xaxis: stepAxis(),
      yaxis: { range: [-0.02, 1.02], title: { text: `fraction with ${a.metric} ≥ ${a.threshold}` } },
      legend: LEGEND, hovermode: "x" }, CONFIG);
    const table = document.getElementById("arms-table");
    table.innerHTML = "";
    const head = el("tr");
    ["arm", "generalized", "median steps", "IQR", "speed-up [95% CI]", "p", "paired faster"].forEach((h) => head.appendChild(el("th", {}, h)));
    table.appendChild(head);
    a.arms.forEach((row) => {
      const tr = el("tr");
      armRow(row, a.control).forEach((v) => tr.appendChild(el("td", {}, v)));
      table.appendChild(tr);
    });
  }

  /* ---------- Fourier panels ---------- */

  function drawSpectrum() {
    const d = state.data, box = document.getElementById("plot-spectrum");
    if (!d.spectrum) { box.classList.add("empty"); box.textContent = "No Fourier spectrum: " + (d.notes.join(" ") || "not logged"); return; }
    box.classList.remove("empty");
    const s = d.spectrum;
    let z;
    if (state.spectrumMember === "median") z = rows(s.median);
    else {
      const all = unpack(s.values), [M, T, K] = all.shape, m = s.members.indexOf(Number(state.spectrumMember));
      z = [];
      for (let t = 0; t < T; t++) z.push(Array.from(all.data.subarray((m * T + t) * K, (m * T + t + 1) * K)));
    }
    const keep = s.steps.map((step) => step > 0);
    const steps = s.steps.filter((_, i) => keep[i]);
    z = z.filter((_, i) => keep[i]);
    const byFrequency = s.frequencies.map((_, k) => z.map((row) => row[k])); // [K][T]
    Plotly.react(box, [{ type: "heatmap", x: steps, y: s.frequencies, z: byFrequency, colorscale: "Viridis",
      colorbar: { title: { text: "‖W_E_k‖" } }, meta: { kind: "spectrum" } }],
      { height: 340, margin: { l: 60, r: 20, t: 24, b: 45 }, xaxis: { type: "log", title: { text: "step (log)" } },
        yaxis: { title: { text: "frequency k" } } }, CONFIG);
  }

  function clockRange(coords, frequencyIndex) {
    const [C, K, n] = coords.shape;
    let m = 1e-12;
    for (let c = 0; c < C; c++) for (let i = 0; i < n; i++) for (let j = 0; j < 2; j++) {
      m = Math.max(m, Math.abs(coords.data[((c * K + frequencyIndex) * n + i) * 2 + j]));
    }
    return [-1.1 * m, 1.1 * m];
  }
  function drawClock() {
    const d = state.data, holder = document.getElementById("plot-clock"), slider = document.getElementById("clock-slider");
    if (!d.clock || !d.clock.frequencies.length) {
      holder.classList.add("empty"); holder.textContent = "No clock: " + (d.notes.join(" ") || "no key frequencies yet");
      slider.disabled = true; return;
    }
    holder.classList.remove("empty");
    const c = d.clock, coords = unpack(c.coords), [C, K, n] = coords.shape;
    slider.max = C - 1; slider.disabled = false;
    if (state.clockFrame === null || state.clockFrame > C - 1) state.clockFrame = C - 1;
    slider.value = state.clockFrame;
    document.getElementById("clock-step").textContent = `step ${c.steps[state.clockFrame]} (checkpoint ${state.clockFrame + 1} of ${C})`;
    fillSmallFigures(holder, "clock", c.frequencies.map((f) => `frequency ${f}: W_E on its (cos, sin) plane`));
    for (let k = 0; k < K; k++) {
      const x = [], y = [];
      for (let i = 0; i < n; i++) {
        const at = ((state.clockFrame * K + k) * n + i) * 2;
        x.push(coords.data[at]); y.push(coords.data[at + 1]);
      }
      const range = clockRange(coords, k), frequency = c.frequencies[k];
      // Hue by k·a mod n, the angle the clock gives residue a: a built clock is a smooth colour wheel.
      const angle = c.residues.map((a) => (frequency * a) % n);
      Plotly.react(`plot-clock-${k}`, [{ type: "scatter", mode: "markers+text", x: x, y: y, text: c.residues.map(String),
        textposition: "top center", textfont: { size: 8 }, customdata: angle,
        marker: { color: angle, colorscale: CYCLIC, cmin: 0, cmax: n, size: 7 },
        hovertemplate: "residue %{text}, k·a mod n = %{customdata}<extra></extra>",
        meta: { kind: "clock", frequency: c.frequencies[k], frame: state.clockFrame } }],
        { height: 300, width: 300, margin: { l: 40, r: 10, t: 10, b: 40 }, xaxis: { range: range, zeroline: false, title: { text: "cos" } },
          yaxis: { range: range, zeroline: false, scaleanchor: "x", title: { text: "sin" } }, showlegend: false }, SMALL_CONFIG);
    }
  }

  function fillSmallFigures(holder, kind, captions) { // one captioned figure per plot, each plot `#${holder.id}-${i}`
    const shown = Array.from(holder.querySelectorAll("figcaption"), (c) => c.textContent);
    if (shown.join("\n") === captions.join("\n")) return; // the same plots: redraw them in place (the clock's slider)
    holder.innerHTML = "";
    captions.forEach((caption, i) => {
      const figure = el("figure", { class: "small" });
      figure.appendChild(el("figcaption", {}, caption));
      figure.appendChild(el("div", { class: kind, id: `${holder.id}-${i}` }));
      holder.appendChild(figure);
    });
  }
  function drawHeatmaps(id, panel, caption, unit) {
    const holder = document.getElementById(id);
    if (!panel) { holder.classList.add("empty"); holder.textContent = "Not available for this run: " + (state.data.notes.join(" ") || "1-layer attention only"); return; }
    holder.classList.remove("empty");
    const g = unpack(panel.grid), [H, n] = g.shape;
    fillSmallFigures(holder, "grid", Array.from({ length: H }, (_, h) => caption(h)));
    for (let h = 0; h < H; h++) {
      const z = [];
      for (let i = 0; i < n; i++) z.push(Array.from(g.data.subarray((h * n + i) * n, (h * n + i + 1) * n)));
      Plotly.react(`${id}-${h}`, [{ type: "heatmap", z: z, colorscale: "RdBu", reversescale: true, meta: { kind: "grid" },
        colorbar: { thickness: 10, len: 0.9, title: { text: unit, side: "right" } } }],
        { height: 290, width: 330, margin: { l: 40, r: 10, t: 10, b: 40 },
          xaxis: { title: { text: "b" } }, yaxis: { title: { text: "a" }, scaleanchor: "x" } }, SMALL_CONFIG);
    }
  }

  /* ---------- header ---------- */

  function collapseCell(v) { // Run.summary()'s softmax_collapse verdict
    if (!v) return "—";
    return `from step ${v.step} (${Math.round(100 * v.zero_grad_fraction)}% of training pairs without gradient)` +
      (v.remedies ? `; try ${v.remedies}` : "");
  }
  function fillCollapseNote() {
    const box = document.getElementById("collapse-note"), lines = state.data.collapse || [];
    box.innerHTML = "";
    box.hidden = lines.length === 0;
    if (!lines.length) return;
    box.appendChild(el("p", {}, lines[0]));
    const ul = el("ul");
    lines.slice(1).forEach((l) => ul.appendChild(el("li", {}, l)));
    box.appendChild(ul);
  }

  function fillMirrorNote() { // why there is no separate mirror-held-out curve or column
    const box = document.getElementById("mirror-note");
    box.textContent = state.data.mirror_note || "";
    box.hidden = !state.data.mirror_note;
  }

  function fillHeader() {
    const d = state.data, cfg = d.config, s = d.summary;
    document.getElementById("title").textContent = `${d.title} — ${d.run}`;
    // A task without the additive view (sparse parity, digits): its Fourier panels say nothing, so they are left out.
    document.querySelectorAll(".fourier").forEach((node) => { node.hidden = Boolean(d.fourier_note); });
    const fourierNote = document.getElementById("fourier-note");
    fourierNote.textContent = d.fourier_note || "";
    fourierNote.hidden = !d.fourier_note;
    const status = s.status || {};
    document.getElementById("status").textContent =
      `${status.state || "?"} at step ${status.step ?? s.steps}${status.stop_reason ? " (" + status.stop_reason + ")" : ""}` +
      ` · ${d.n_members} member${d.n_members > 1 ? "s" : ""} · report made ${d.generated}${d.live ? " · live" : ""}`;
    const configTable = document.getElementById("config");
    configTable.innerHTML = "";
    for (const [k, v] of Object.entries(cfg)) {
      if (v === null) continue;
      const tr = el("tr"); tr.appendChild(el("th", {}, k)); tr.appendChild(el("td", {}, fmt(v))); configTable.appendChild(tr);
    }
    const head = ["member", "seed", "frac", "lr", "wd", "steps_to_memorize", "steps_to_generalize", "steps_to_generalize_mirror",
      "grokking_delay", "early_warning_step", "softmax_collapse", "diverged_at", "final_train_acc", "final_test_acc", "final_test_mirror_acc", "key_frequencies_live",
      "init_scale", "permuted_groups", "final_train_loss", "final_test_loss", "final_shift_loss", "final_failure", "final_excess_failure"]; // the last: a stored table's
    const mirrorColumns = d.mirror_note ? ["steps_to_generalize_mirror", "final_test_mirror_acc"] : []; // they repeat the test ones
    const cols = head.filter((h) => !mirrorColumns.includes(h) &&
      s.members.some((m) => (h === "softmax_collapse" || h === "diverged_at" ? m[h] : h in m))); // collapse, divergence: only where they happened
    const table = document.getElementById("summary");
    table.innerHTML = "";
    const tr = el("tr");
    const phased = s.members.some((m) => m.phases); // a stored table's run has neither phases nor an accuracy to stop on
    cols.concat(phased ? ["phases (memorization end / cleanup start / cleanup end)", "early stopping on test loss: stopped at / kept step (test acc)"] : [])
      .forEach((h) => tr.appendChild(el("th", {}, h.replaceAll("_", " "))));
    table.appendChild(tr);
    s.members.slice(0, MEMBER_LINES_UP_TO).forEach((m) => {
      const row = el("tr", m.member === state.focus ? { class: "focus" } : {});
      cols.forEach((h) => row.appendChild(el("td", {}, h === "softmax_collapse" ? collapseCell(m[h]) : fmt(m[h]))));
      if (phased) {
        const p = m.phases || {};
        row.appendChild(el("td", {}, `${fmt(p.memorization_end)} / ${fmt(p.cleanup_start)} / ${fmt(p.cleanup_end)}`));
        const stop = m.early_stopping || {};
        row.appendChild(el("td", {}, stop.stopped_at === null || stop.stopped_at === undefined ? "never"
          : `${stop.stopped_at} / ${stop.kept_step} (${fmt(stop.test_acc_kept)})`));
      }
      table.appendChild(row);
    });
    const more = document.getElementById("summary-more");
    more.textContent = s.members.length > MEMBER_LINES_UP_TO ? `${s.members.length - MEMBER_LINES_UP_TO} more members in show --json.` : "";
    const mech = document.getElementById("mechanism");
    mech.innerHTML = "";
    if (d.mechanism) {
      mech.appendChild(el("p", {}, `Member ${d.mechanism.member} at step ${d.mechanism.step}:`));
      const ul = el("ul"); d.mechanism.lines.forEach((l) => ul.appendChild(el("li", {}, l))); mech.appendChild(ul);
    }
    d.notes.forEach((n) => mech.appendChild(el("p", { class: "note" }, n)));
    document.getElementById("provenance").textContent = JSON.stringify(d.provenance, null, 1);
    const select = document.getElementById("member-select");
    if (select.options.length !== d.n_members) {
      select.innerHTML = "";
      for (let e = 0; e < d.n_members; e++) select.appendChild(el("option", { value: e }, `member ${e} (seed ${s.members[e] ? s.members[e].seed : "?"})`));
    }
    select.value = state.overlay === null ? state.focus : state.overlay;
    const spectrumSelect = document.getElementById("spectrum-select");
    if (d.spectrum && spectrumSelect.options.length !== d.spectrum.members.length + 1) {
      spectrumSelect.innerHTML = "";
      spectrumSelect.appendChild(el("option", { value: "median" }, d.n_members > 1 ? "median over members" : "member 0"));
      if (d.n_members > 1) d.spectrum.members.forEach((m) => spectrumSelect.appendChild(el("option", { value: m }, `member ${m}`)));
    }
  }

  function render() {
    fillHeader();
    fillCollapseNote();
    fillMirrorNote();
    Object.keys(PANELS).forEach(drawScalarPanel);
    drawArms();
    drawSpectrum();
    drawClock();
    const n = state.data.neurons;
    drawHeatmaps("plot-neurons", n && n.neurons.length ? n : null,
      (h) => `neuron ${n.neurons[h]}: frequency ${n.frequencies[h]} (FVE ${n.fve[h].toFixed(2)})`, "activation");
    drawHeatmaps("plot-attention", state.data.attention, (h) => `head ${h}: attention from '=' to a`, "attention");
    state.renders += 1;
    state.ready = true;
  }

  function poll(base, seen) { // base: /api/runs/NAME/ ; the whole report is fetched only when progress changed
    const json = (r) => (r.ok ? r.json() : null);
    fetch(base + "progress.json", { cache: "no-store" }).then(json).then((progress) => {
      const key = JSON.stringify(progress);
      if (!progress || key === seen) return seen;
      return fetch(base + "report.json", { cache: "no-store" }).then(json).then((d) => {
        if (d) { state.data = d; render(); }
        return key;
      });
    }).catch(() => seen).then((key) => setTimeout(() => poll(base, key), 2000));
  }

  document.addEventListener("DOMContentLoaded", () => {
    state.data = JSON.parse(document.getElementById("grokscope-data").textContent);
    state.focus = state.data.focus;
    document.getElementById("clock-slider").addEventListener("input", (ev) => { state.clockFrame = Number(ev.target.value); drawClock(); });
    document.getElementById("member-select").addEventListener("change", (ev) => {
      const e = Number(ev.target.value);
      if (state.data.n_members > MEMBER_LINES_UP_TO) state.overlay = e; else state.focus = e;
      Object.keys(PANELS).forEach(drawScalarPanel);
    });
    document.getElementById("spectrum-select").addEventListener("change", (ev) => { state.spectrumMember = ev.target.value; drawSpectrum(); });
    render();
    const live = document.body.getAttribute("data-live-url");
    if (live) setTimeout(() => poll(live, null), 2000);
  });
})();
