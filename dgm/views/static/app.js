// dgm viewer: the lineage tree as SVG (pan, zoom, click) and one node's details.
// Plain JavaScript, no libraries; every text from the run goes in through textContent.
"use strict";

const SX = 16, SY = 48, R = 5;
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
// x and y zoom apart: a wide, shallow tree fits the pane. Edges live in a scaled group;
// circles are placed in screen units so they stay round.
const view = { tx: 20, ty: 20, kx: 1, ky: 1 };
let tree = null;
let circles = [];
let selected = null;
let frame = 0;

// Viridis, sampled: a resolved rate of 0..1 to a colour.
const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89",
                 "#35b779", "#6ece58", "#b5de2b", "#fde725"];
function colour(rate) {
  return VIRIDIS[Math.min(VIRIDIS.length - 1, Math.floor(rate * VIRIDIS.length))];
}

function el(tag, attrs = {}, text = null) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}

async function getJSON(url) {
  const resp = await fetch(url);
  const body = await resp.json();
  if (!resp.ok) throw new Error(body.error || resp.statusText);
  return body;
}

function applyView() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    $("viewport").setAttribute("transform",
      `translate(${view.tx},${view.ty}) scale(${view.kx},${view.ky})`);
    const r = Math.max(2, Math.min(R, Math.min(view.kx * SX, view.ky * SY) / 3));
    for (let i = 0; i < circles.length; i++) {
      const c = circles[i];
      c.setAttribute("cx", view.tx + tree.x[i] * SX * view.kx);
      c.setAttribute("cy", view.ty + tree.y[i] * SY * view.ky);
      c.setAttribute("r", r);
    }
  });
}

function fit() {
  if (!tree || !tree.id.length) return;
  const box = $("tree").getBoundingClientRect();
  const w = Math.max(1, tree.x.reduce((a, b) => Math.max(a, b), 0)) * SX;
  const h = Math.max(1, tree.y.reduce((a, b) => Math.max(a, b), 0)) * SY;
  view.kx = Math.min(2, (box.width - 40) / w);
  view.ky = Math.min(1.5, (box.height - 40) / h);
  view.tx = 20; view.ty = 20;
  applyView();
}

async function loadTree() {
  tree = await getJSON("/api/tree");
  $("run-name").textContent = tree.run;
  const n = tree.id.length;
  const best = tree.best === null ? "none yet" : `node ${tree.best}`;
  const rate = tree.tamper_rate === null ? "" : ` (tamper rate ${tree.tamper_rate.toFixed(2)})`;
  $("summary").textContent = `${n} nodes · final agent: ${best} · ` +
    `${tree.tampered_total} of ${tree.evaluations_total} evaluations tampered${rate}`;
  const index = new Map(tree.id.map((id, i) => [id, i]));
  const onBest = new Set(tree.best_path);
  let edges = "", bestEdges = "";
  const group = $("nodes");
  group.replaceChildren();
  circles = [];
  const frag = document.createDocumentFragment();
  for (let i = 0; i < n; i++) {
    const x = tree.x[i] * SX, y = tree.y[i] * SY;
    const p = tree.parent[i];
    if (p !== null && index.has(p)) {
      const j = index.get(p);
      const seg = `M${tree.x[j] * SX},${tree.y[j] * SY}L${x},${y}`;
      if (onBest.has(p) && onBest.has(tree.id[i])) bestEdges += seg; else edges += seg;
    }
    const c = document.createElementNS(SVGNS, "circle");
    c.setAttribute("data-id", tree.id[i]);
    c.setAttribute("id", `node-${tree.id[i]}`);
    const trials = tree.trials[i];
    const held = ["quarantined", "waiting", "rejected"].includes(tree.quarantine[i]);
    if (tree.status[i] === "invalid") c.setAttribute("class", "invalid");
    else if (!trials) c.setAttribute("class", "unscored");
    else c.setAttribute("fill", colour(tree.successes[i] / trials));
    if (held) c.classList.add("quarantined");
    const title = document.createElementNS(SVGNS, "title");
    title.textContent = `node ${tree.id[i]} · ${tree.status[i]} · ` +
      (trials ? `${tree.successes[i]}/${trials} resolved` : "not evaluated") +
      (tree.clade[i] ? ` · clade ${tree.clade[i][0]}/${tree.clade[i][1]}` : "") +
      (tree.tampered[i] ? ` · tampered ${tree.tampered[i]}/${trials}` : "") +
      (tree.quarantine[i] ? ` · ${tree.quarantine[i]}` : "");
    c.appendChild(title);
    frag.appendChild(c);
    circles.push(c);
  }
  group.appendChild(frag);
  $("edges").setAttribute("d", edges);
  $("best-edges").setAttribute("d", bestEdges);
}

function select(id) {
  if (selected !== null) $(`node-${selected}`)?.classList.remove("selected");
  selected = id;
  $(`node-${id}`)?.classList.add("selected");
  showNode(id);
}

function section(parent, title) {
  parent.appendChild(el("h3", {}, title));
}

function nodeLink(id) {
  const a = el("a", { class: "node-link", "data-node": id }, `node ${id}`);
  a.addEventListener("click", () => select(id));
  return a;
}

function renderDiff(text) {
  const pre = el("pre", { class: "diff", id: "diff" });
  if (!text) { pre.textContent = "(no changes)"; return pre; }
  for (const line of text.split("\n")) {
    let cls = "";
    if (line.startsWith("+") && !line.startsWith("+++")) cls = "add";
    else if (line.startsWith("-") && !line.startsWith("---")) cls = "del";
    else if (line.startsWith("@@")) cls = "hunk";
    const span = el("span", cls ? { class: cls } : {}, line + "\n");
    pre.appendChild(span);
  }
  return pre;
}

function renderDiagnosis(parent, diag) {
  if (diag === undefined || diag === null) {
    parent.appendChild(el("p", { class: "muted" }, "none recorded"));
  } else if (typeof diag === "object") {
    const dl = el("dl");
    for (const [k, v] of Object.entries(diag)) {
      dl.appendChild(el("dt", {}, k.replaceAll("_", " ")));
      dl.appendChild(el("dd", {}, typeof v === "string" ? v : JSON.stringify(v, null, 1)));
    }
    parent.appendChild(dl);
  } else {
    parent.appendChild(el("pre", {}, String(diag)));
  }
}

async function showLog(path, box) {
  box.replaceChildren(el("p", { class: "muted" }, `loading ${path}…`));
  try {
    const log = await getJSON(`/api/log?path=${encodeURIComponent(path)}`);
    box.replaceChildren();
    if (log.kind === "dir") {
      for (const f of log.files) {
        const b = el("button", { class: "link", type: "button" }, f);
        const inner = el("div");
        b.addEventListener("click", () => showLog(f, inner));
        box.append(b, inner);
      }
    } else {
      box.appendChild(el("pre", { class: "transcript" }, log.text +
        (log.truncated ? "\n… (truncated)" : "")));
    }
  } catch (err) {
    box.replaceChildren(el("p", { class: "error" }, String(err.message)));
  }
}

async function showNode(id) {
  const pane = $("detail");
  pane.replaceChildren(el("p", { class: "muted" }, `loading node ${id}…`));
  let n;
  try { n = await getJSON(`/api/node/${id}`); } catch (err) {
    pane.replaceChildren(el("p", { class: "error" }, String(err.message))); return;
  }
  pane.replaceChildren();
  pane.appendChild(el("h2", { id: "node-title" }, `Node ${n.id} · ${n.status}`));
  const facts = el("p");
  if (n.parent !== null) facts.append("parent ", nodeLink(n.parent), " · ");
  const when = Number(n.created);
  const created = Number.isFinite(when) ? new Date(when * 1000).toLocaleString() : n.created;
  facts.append(`entry: ${n.entry || "—"} · created ${created}`);
  if (n.reason) facts.append(` · reason: ${n.reason}`);
  pane.appendChild(facts);
  const tamper = el("p", { id: "tamper" }, n.evaluations.length
    ? `tampered: ${n.tampered} of ${n.evaluations.length} evaluations ` +
      `(tamper rate ${n.tamper_rate.toFixed(2)})` : "tampered: -");
  if (n.quarantine) tamper.append(el("strong", { class: "quarantine" }, ` · ${n.quarantine}`));
  pane.appendChild(tamper);
  for (const d of n.decisions) {
    const who = d.by ? ` by ${d.by}` : "";
    pane.appendChild(el("p", { class: "decision" }, `${d.kind}: ${d.state}${who}` +
      (d.evidence ? ` · evidence: ${d.evidence}` : "") + (d.note ? ` · note: ${d.note}` : "")));
  }

  section(pane, "Scores per task");
  const byTask = new Map();
  for (const e of n.evaluations) {
    if (!byTask.has(e.task)) byTask.set(e.task, []);
    byTask.get(e.task).push(e);
  }
  if (!byTask.size) pane.appendChild(el("p", { class: "muted" }, "not evaluated"));
  else {
    const table = el("table", { id: "scores" });
    table.appendChild(el("tr")).append(el("th", {}, "task"), el("th", {}, "outcomes"),
      el("th", {}, "cost $"), el("th", {}, "transcript"));
    for (const [task, evs] of byTask) {
      const row = el("tr");
      const outs = el("td");
      for (const e of evs) {
        const attrs = e.reason ? { class: e.outcome, title: e.reason } : { class: e.outcome };
        outs.append(el("span", attrs, e.outcome), " ");
      }
      const cost = evs.reduce((s, e) => s + (e.cost || 0), 0);
      const logs = el("td");
      evs.forEach((e, i) => {
        if (!e.log) return;
        const b = el("button", { class: "link", type: "button" }, `#${i}`);
        b.addEventListener("click", () => showLog(e.log, $("transcript-box")));
        logs.append(b, " ");
      });
      row.append(el("td", {}, task), outs, el("td", {}, cost.toFixed(4)), logs);
      table.appendChild(row);
    }
    pane.appendChild(table);
  }

  section(pane, "FM cost");
  pane.appendChild(el("p", { id: "fm-cost" },
    `$${Number(n.fm.cost).toFixed(4)} · ${n.fm.calls} calls · ${n.fm.tokens} tokens ` +
    "(calls tagged with this node: its evaluations and the expansions it parented)"));

  section(pane, "Diagnosis");
  renderDiagnosis(pane, n.meta.diagnosis);
  if (n.meta.changed_files) {
    pane.appendChild(el("p", {}, `changed files: ${n.meta.changed_files.join(", ")}`));
  }
  section(pane, "Problem statement");
  pane.appendChild(el("pre", {}, n.problem_statement || "(seed agent: none)"));

  section(pane, n.parent === null ? "Diff" : `Diff against parent (node ${n.parent})`);
  if (n.diff_files.length) {
    pane.appendChild(el("p", {}, n.diff_files.map((f) => `${f[0]} +${f[1]} -${f[2]}`)
      .join(" · ")));
  }
  pane.appendChild(n.parent === null ? el("p", { class: "muted" }, "the seed agent")
    : renderDiff(n.diff));

  section(pane, "Transcripts");
  if (n.meta.log) {
    const b = el("button", { class: "link", type: "button" }, "self-modification transcript");
    b.addEventListener("click", () => showLog(n.meta.log, $("transcript-box")));
    pane.appendChild(el("p")).appendChild(b);
  }
  for (const dir of n.replays || []) {
    const b = el("button", { class: "link replay", type: "button" },
      `replay ${dir.split("/").pop()}`);
    b.addEventListener("click", () => showLog(dir, $("transcript-box")));
    pane.appendChild(el("p")).appendChild(b);
  }
  pane.appendChild(el("div", { id: "transcript-box" }, "pick a transcript above"));
}

function setupPanZoom() {
  const svg = $("tree");
  let drag = null;
  svg.addEventListener("pointerdown", (ev) => {
    drag = { x: ev.clientX, y: ev.clientY, tx: view.tx, ty: view.ty, moved: false };
  });
  svg.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (!drag.moved && Math.hypot(dx, dy) < 4) return;
    drag.moved = true;
    svg.classList.add("dragging");
    view.tx = drag.tx + dx; view.ty = drag.ty + dy;
    applyView();
  });
  svg.addEventListener("pointerup", (ev) => {
    const wasClick = drag && !drag.moved;
    drag = null;
    svg.classList.remove("dragging");
    const id = ev.target.getAttribute && ev.target.getAttribute("data-id");
    if (wasClick && id !== null) select(Number(id));
  });
  svg.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const box = svg.getBoundingClientRect();
    const mx = ev.clientX - box.left, my = ev.clientY - box.top;
    const factor = Math.exp(-ev.deltaY * 0.0015);
    // Shift+wheel zooms across only, Alt+wheel down only; plain wheel both.
    const fx = ev.altKey ? 1 : factor, fy = ev.shiftKey ? 1 : factor;
    const kx = Math.min(50, Math.max(1e-4, view.kx * fx));
    const ky = Math.min(50, Math.max(1e-3, view.ky * fy));
    view.tx = mx - (mx - view.tx) * (kx / view.kx);
    view.ty = my - (my - view.ty) * (ky / view.ky);
    view.kx = kx; view.ky = ky;
    applyView();
  }, { passive: false });
}

async function main() {
  setupPanZoom();
  $("fit").addEventListener("click", fit);
  $("reload").addEventListener("click", async () => { await loadTree(); fit(); });
  $("goto").addEventListener("change", (ev) => select(Number(ev.target.value)));
  await loadTree();
  fit();
  // Ready once the circles have been placed (that happens in an animation frame).
  await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  document.body.setAttribute("data-ready", "1");
}

main();
