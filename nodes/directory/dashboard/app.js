// The dashboard's loop: fetch /api/topology once a second (one request at a time), redraw the
// graph when its shape changed, update labels, colours and the side panel in place, and say so
// in the header when the directory stops answering.
"use strict";

(() => {
  const F = BrookFormat;
  const POLL_MS = 1000;
  const TIMEOUT_MS = 2500;
  const LAG_WARN_MS = 1000;

  const $ = (id) => document.getElementById(id);
  const svg = $("graph");
  const panel = $("panel");
  const panelBody = $("panel-body");
  const status = $("status");

  const state = {
    shape: null,
    drawing: null,
    model: null,
    selected: null,
    lastOk: 0,          // page clock of the last good answer
    failingSince: 0,    // page clock of the first failure in a row
    previous: new Map(),  // channel key -> {errors, dead_lettered} at the previous answer
  };

  function setClass(e, name, on) {
    e.classList.toggle(name, Boolean(on));
  }

  function setText(g, role, value) {
    BrookGraph.setText(g.querySelector(`[data-role="${role}"]`), value);
  }

  function select(what) {
    state.selected = what;
    panel.hidden = false;
    document.body.classList.add("with-panel");
    refreshSelection();
  }

  function closePanel() {
    state.selected = null;
    panel.hidden = true;
    document.body.classList.remove("with-panel");
    refreshSelection();
  }

  function refreshSelection() {
    if (!state.drawing) return;
    const sel = state.selected;
    for (const [key, d] of state.drawing.nodes) setClass(d.g, "selected", sel && sel.kind === "node" && sel.key === key);
    for (const [key, d] of state.drawing.channels) {
      const on = sel && sel.kind === "channel" && sel.key === key;
      setClass(d.g, "selected", on);
      setClass(d.edges, "selected", on);
    }
    if (sel && !BrookPanel.render(panelBody, state.model, sel)) {
      panelBody.replaceChildren(Object.assign(document.createElement("p"), {
        className: "empty", textContent: "This is no longer in the topology."}));
    }
  }

  function updateNode(node, d) {
    const health = F.health(node);
    const rates = F.sumRates(node);
    const errors = node.instances.reduce((n, i) => n + F.errors(i.counters), 0);
    const g = d.g;
    for (const h of ["up", "late", "degraded", "idle"]) setClass(g, "health-" + h, health === h);
    setClass(g, "errors", errors > 0);
    g.setAttribute("data-health", health);
    g.setAttribute("data-replicas", node.replicas);
    g.setAttribute("data-instances", node.instances.length);
    g.setAttribute("data-rate", Math.max(rates.received, rates.sent));
    g.setAttribute("data-errors", errors);
    setText(g, "replicas", `${node.instances.length}/${node.replicas}`);
    setText(g, "rates", `in ${F.rate(rates.received)}/s · out ${F.rate(rates.sent)}/s`);
    // Only the first 32 replicas have a dot (graph.js); the panel shows them all.
    d.dots.querySelectorAll("circle").forEach((dot, i) => {
      const inst = node.instances[i];
      const h = inst ? inst.health : "missing";
      dot.setAttribute("class", "dot " + h);
      dot.setAttribute("data-health", h);
      dot.firstChild.textContent = inst
        ? `${node.name}.${inst.instance}: ${h}, pid ${inst.pid} on ${inst.host}, heartbeat ${F.duration(inst.age_ms)} ago`
        : `replica ${i}: not running`;
    });
  }

  function updateChannel(ch, d) {
    const prev = state.previous.get(ch.key);
    const faults = ch.errors + ch.dead_lettered;
    const rising = prev !== undefined && faults > prev;
    state.previous.set(ch.key, faults);
    const g = d.g;
    g.setAttribute("data-rate", ch.rate);
    g.setAttribute("data-sent-rate", ch.sent_rate);
    g.setAttribute("data-in-flight", ch.in_flight);
    g.setAttribute("data-lag-ms", ch.lag_ms);
    g.setAttribute("data-errors", ch.errors);
    g.setAttribute("data-dead-lettered", ch.dead_lettered);
    setText(g, "rate", `${F.rate(ch.rate)} msg/s`);
    setText(g, "flight", `${F.count(ch.in_flight)} in flight · lag ${F.duration(ch.lag_ms)}`);
    setText(g, "faults", `${F.count(ch.errors)} errors · ${F.count(ch.dead_lettered)} dead`);
    for (const e of [g, d.edges]) {
      setClass(e, "active", ch.rate > 0 || ch.sent_rate > 0);
      setClass(e, "errors", faults > 0);
      setClass(e, "rising", rising);
      setClass(e, "lagging", ch.lag_ms >= LAG_WARN_MS);
    }
    const marker = faults > 0 ? "url(#arrow-bad)" : "url(#arrow-ok)";
    d.edges.querySelectorAll("path[marker-end]").forEach((p) => p.setAttribute("marker-end", marker));
  }

  function updateHeader(topo) {
    $("endpoint").textContent = topo.directory.endpoint || "(unknown)";
    $("endpoint").title = "directory epoch " + topo.directory.epoch;
    const scopes = topo.scopes.filter((s) => s !== "");
    $("scopes").textContent = scopes.length ? scopes.join(", ") : "";
    $("updated").textContent = F.clock(topo.time_ms);
    $("updated").setAttribute("data-time-ms", topo.time_ms);
    const late = state.model ? [...state.model.nodes.values()].filter((n) => F.health(n) === "late").length : 0;
    $("counts").textContent =
      `${topo.nodes.length} nodes · ${topo.channels.length} channels · ` +
      `${topo.nodes.reduce((n, x) => n + x.instances.length, 0)} instances${late ? ` · ${late} late` : ""}`;
  }

  function setStatus(kind, message) {
    status.setAttribute("data-status", kind);
    status.textContent = message;
    document.body.setAttribute("data-status", kind);
  }

  function onData(topo) {
    const m = BrookGraph.model(topo);
    const shape = BrookGraph.shapeOf(m);
    state.model = m;
    if (shape !== state.shape) {
      state.drawing = BrookGraph.build(svg, m, select);
      state.shape = shape;
    }
    for (const [key, node] of m.nodes) updateNode(node, state.drawing.nodes.get(key));
    for (const [key, ch] of m.channels) updateChannel(ch, state.drawing.channels.get(key));
    $("empty").hidden = m.nodes.size > 0;
    updateHeader(topo);
    state.lastOk = Date.now();
    state.failingSince = 0;
    setStatus("live", "live");
    refreshSelection();
  }

  function onFailure(why) {
    const now = Date.now();
    if (!state.failingSince) state.failingSince = now;
    const since = F.clock(state.failingSince);
    const shown = state.lastOk ? `; showing what it said ${F.duration(now - state.lastOk)} ago` : "";
    setStatus("down", `The directory is not answering since ${since} (${why})${shown}. Retrying every second.`);
  }

  async function poll() {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    let topo = null;
    try {
      const res = await fetch("/api/topology", {cache: "no-store", signal: abort.signal});
      if (!res.ok) throw new Error(`/api/topology answered HTTP ${res.status}`);
      topo = await res.json();
    } catch (e) {
      onFailure(e.name === "AbortError" ? `no answer within ${TIMEOUT_MS / 1000} s` : e.message);
    } finally {
      clearTimeout(timer);
    }
    setTimeout(poll, POLL_MS);
    // Outside the try: a bug in drawing is an uncaught error in the console (the test fails on
    // it), not a directory that seems down.
    if (topo) onData(topo);
  }

  $("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closePanel();
  });
  $("http").textContent = location.host;
  setStatus("connecting", "connecting…");
  poll();
})();
