// The interactive page of mg.to_html: steps through the forward and backward passes.
// Everything it needs is in the page: the SVG drawn by minigrad and the JSON in #mg-data.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("mg-data").textContent);
  const steps = data.steps;
  const svg = document.querySelector("#mg-graph svg");
  const status = document.getElementById("mg-status");
  const counter = document.getElementById("mg-counter");
  const panel = document.getElementById("mg-panel");
  const buttons = {
    reset: document.getElementById("mg-reset"),
    prev: document.getElementById("mg-prev"),
    forward: document.getElementById("mg-forward"),
    backward: document.getElementById("mg-backward"),
    play: document.getElementById("mg-play"),
    zoom: document.getElementById("mg-zoom"),
  };
  const graphBox = document.getElementById("mg-graph");
  const lastForward = steps.reduce((k, s, i) => (s.pass === "forward" ? i : k), 0);
  let current = 0;
  let timer = null;
  let selected = null; // what the panel shows: {node: i} or {value: i}

  const valueLabels = Array.from(svg.querySelectorAll("text.value[data-value]"));
  const gradLabels = Array.from(svg.querySelectorAll("text.grad[data-value]"));
  const nodes = Array.from(svg.querySelectorAll("g.node[data-node]"));
  const edges = Array.from(svg.querySelectorAll("path.edge[data-value]"));

  function forwardDone(valueIndex) {
    const v = data.values[valueIndex];
    return v !== undefined && v.fwd <= current;
  }

  function gradientDone(valueIndex) {
    const v = data.values[valueIndex];
    return v !== undefined && v.bwd !== null && v.bwd <= current;
  }

  function show() {
    valueLabels.forEach((t) => t.classList.toggle("mg-hidden", !forwardDone(t.dataset.value)));
    gradLabels.forEach((t) => t.classList.toggle("mg-hidden", !gradientDone(t.dataset.value)));
    edges.forEach((p) => p.classList.toggle("mg-grad-edge", gradientDone(p.dataset.value)));
    const step = steps[current];
    nodes.forEach((g) => {
      const i = Number(g.dataset.node);
      const info = data.nodes[i];
      g.classList.toggle("mg-active", step.node === i);
      g.classList.toggle("mg-computed", info.value !== null && forwardDone(info.value));
      g.classList.toggle("mg-backward-done", info.value !== null && gradientDone(info.value));
    });
    const active = step.node === null ? null : svg.querySelector(`g.node[data-node="${step.node}"]`);
    if (active && active.scrollIntoView) {
      active.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    status.textContent = step.text;
    status.className = "mg-" + step.pass;
    counter.textContent = `step ${current} of ${steps.length - 1}`;
    buttons.prev.disabled = current === 0;
    buttons.reset.disabled = current === 0;
    buttons.forward.disabled = current >= lastForward;
    buttons.backward.disabled = current < lastForward || current >= steps.length - 1;
    buttons.play.disabled = current >= steps.length - 1 && timer === null;
    if (selected) render(selected);
  }

  function go(k) {
    current = Math.max(0, Math.min(steps.length - 1, k));
    show();
  }

  function next() {
    if (current < steps.length - 1) go(current + 1);
    if (current >= steps.length - 1) pause();
  }

  function play() {
    if (timer !== null) return pause();
    if (current >= steps.length - 1) go(0);
    timer = window.setInterval(next, 700);
    buttons.play.textContent = "⏸ Pause";
    show();
  }

  function pause() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
    buttons.play.textContent = "▶ Play";
    show();
  }

  // -- the panel -----------------------------------------------------------------------------

  function element(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (className) e.className = className;
    return e;
  }

  const ramp = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

  function colour(byte) {
    const x = (byte / 255) * (ramp.length - 1);
    const i = Math.min(Math.floor(x), ramp.length - 2);
    const f = x - i;
    const c = ramp[i].map((a, k) => Math.round(a + f * (ramp[i + 1][k] - a)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  function arrayView(summary) {
    const box = element("div", null, "mg-array");
    if (summary.kind === "scalar") {
      box.appendChild(element("span", summary.text, "mg-scalar"));
    } else if (summary.kind === "empty") {
      box.appendChild(element("span", "(empty)"));
    } else if (summary.kind === "table") {
      const table = element("table", null, "mg-table");
      summary.rows.forEach((row) => {
        const tr = element("tr");
        row.forEach((cell) => tr.appendChild(element("td", cell)));
        table.appendChild(tr);
      });
      box.appendChild(table);
    } else {
      box.appendChild(element("p", `min ${summary.min} · mean ${summary.mean} · max ${summary.max}` +
        (summary.nonfinite ? ` · ${summary.nonfinite} not finite` : ""), "mg-stats"));
      const heat = summary.heat;
      const canvas = element("canvas", null, "mg-heat");
      const sx = Math.max(1, Math.min(16, Math.floor(256 / heat.cols)));
      const sy = Math.max(1, Math.min(16, Math.floor(160 / heat.rows)));
      canvas.width = heat.cols * sx;
      canvas.height = heat.rows * sy;
      const ctx = canvas.getContext("2d");
      for (let r = 0; r < heat.rows; r++) {
        for (let c = 0; c < heat.cols; c++) {
          const k = 2 * (r * heat.cols + c);
          ctx.fillStyle = colour(parseInt(heat.cells.substr(k, 2), 16));
          ctx.fillRect(c * sx, r * sy, sx, sy);
        }
      }
      box.appendChild(canvas);
      box.appendChild(element("p", "heat map: dark = min, yellow = max", "mg-note"));
    }
    return box;
  }

  function valueSection(i, heading) {
    const v = data.values[i];
    const section = element("section", null, "mg-value");
    section.appendChild(element("h3", heading || v.name || "value"));
    const facts = element("p", `shape (${v.shape.join(", ")}${v.shape.length === 1 ? "," : ""})` +
      ` · dtype ${v.dtype}` + (v.kind === "constant" ? " · a constant" : ""), "mg-facts");
    section.appendChild(facts);
    section.appendChild(element("h4", "value"));
    if (forwardDone(i)) section.appendChild(arrayView(v.data));
    else section.appendChild(element("p", "not computed yet: step forward", "mg-note"));
    section.appendChild(element("h4", "gradient", "mg-red"));
    if (v.grad === null) {
      const why = v.kind === "constant" || !v.requiresGrad
        ? "none: this value does not require grad"
        : "not kept (an intermediate result whose graph was freed by backward())";
      section.appendChild(element("p", why, "mg-note"));
    } else if (gradientDone(i)) {
      section.appendChild(arrayView(v.grad));
    } else {
      section.appendChild(element("p", "not computed yet: step the backward pass", "mg-note"));
    }
    return section;
  }

  function render(what) {
    panel.replaceChildren();
    if (what.value !== undefined) {
      panel.appendChild(valueSection(what.value));
      return;
    }
    const info = data.nodes[what.node];
    if (info.kind === "op") {
      panel.appendChild(element("h2", info.op, "mg-op-name"));
      panel.appendChild(element("p", "local derivative", "mg-label"));
      panel.appendChild(element("p", info.rule, "mg-rule"));
      if (info.doc && info.doc !== info.rule) panel.appendChild(element("p", info.doc, "mg-doc"));
      panel.appendChild(valueSection(info.value, "output"));
      info.inputs.forEach((v, k) => panel.appendChild(valueSection(v, `input ${k + 1}: ` +
        (data.values[v].name || data.values[v].short))));
    } else if (info.kind === "fold") {
      panel.appendChild(element("h2", info.label, "mg-op-name"));
      panel.appendChild(element("p", `${info.count.toLocaleString("en")} ops drawn as one box: ` +
        info.ops.map(([name, k]) => `${name} ×${k.toLocaleString("en")}`).join(", ")));
      info.outputs.forEach((v) => panel.appendChild(valueSection(v, "output")));
    } else {
      const title = { leaf: "leaf", constant: "constant", output: "output" }[info.kind];
      panel.appendChild(element("h2", `${info.label}`, "mg-op-name"));
      panel.appendChild(element("p", title, "mg-label"));
      panel.appendChild(valueSection(info.value, info.kind === "output" ? "the result" : "value"));
    }
  }

  function select(what) {
    selected = what;
    nodes.forEach((g) => g.classList.toggle("mg-selected",
      what.node !== undefined && Number(g.dataset.node) === what.node));
    render(what);
  }

  nodes.forEach((g) => g.addEventListener("click", () => select({ node: Number(g.dataset.node) })));
  valueLabels.concat(gradLabels).forEach((t) =>
    t.addEventListener("click", () => select({ value: Number(t.dataset.value) })));

  buttons.reset.addEventListener("click", () => { pause(); go(0); });
  buttons.prev.addEventListener("click", () => { pause(); go(current - 1); });
  buttons.forward.addEventListener("click", () => { pause(); go(current + 1); });
  buttons.backward.addEventListener("click", () => { pause(); go(current + 1); });
  buttons.play.addEventListener("click", play);
  // Fit: a small graph is enlarged (up to twice its size, as far as the window's height allows),
  // a wide one shrunk to the box's width.
  const naturalWidth = Number(svg.getAttribute("width"));
  const naturalHeight = Number(svg.getAttribute("height"));
  function fit() {
    const fitting = graphBox.classList.contains("mg-fit");
    const width = graphBox.clientWidth - 2;
    const height = window.innerHeight - graphBox.getBoundingClientRect().top - 24;
    const scale = Math.min(width / naturalWidth, Math.max(1, Math.min(2, height / naturalHeight)));
    svg.style.width = fitting && width > 0 ? `${scale * naturalWidth}px` : "";
    buttons.zoom.textContent = fitting ? "Full size" : "Fit";
  }
  function zoom() {
    graphBox.classList.toggle("mg-fit");
    fit();
  }
  window.addEventListener("resize", fit);
  fit();
  buttons.zoom.addEventListener("click", zoom);
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const key = event.key;
    if (key === "ArrowRight" || (key === "f" && current < lastForward) ||
        (key === "b" && current >= lastForward)) {
      pause(); go(current + 1);
    } else if (key === "ArrowLeft") {
      pause(); go(current - 1);
    } else if (key === "p" || key === " ") {
      play();
    } else if (key === "r" || key === "Home") {
      pause(); go(0);
    } else if (key === "z") {
      zoom();
    } else if (key === "End") {
      pause(); go(steps.length - 1);
    } else {
      return;
    }
    event.preventDefault();
  });

  window.minigradPage = { go, steps, data, current: () => current }; // for tests and curious readers
  show();
})();
