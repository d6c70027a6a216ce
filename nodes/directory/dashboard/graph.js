// The topology as a graph: a model of /api/topology's nodes and channels, a left-to-right layered
// layout (a node's column is its pipeline depth, each channel sits in the column after its
// deepest producer), and an SVG drawing that is built once per shape and then only updated, so
// that clicks and the test's element handles survive the once-a-second refresh.
"use strict";

const BrookGraph = (() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const BOX_W = 160;  // node boxes and channel labels share a width: one column pitch fits both
  const NODE_H = 62;
  const CHANNEL_H = 70;
  const COL_PITCH = 196;
  const ROW_PITCH = 92;
  const PAD = 16;

  const keyOf = (scope, name) => (scope ? scope + "/" + name : name);

  // Nodes and channels keyed by scope/name. A channel may name a producer or consumer the
  // directory has no instance of (a finished job, a node not started yet): it gets a box with no
  // instances rather than a dangling edge.
  function model(topo) {
    const nodes = new Map();
    const channels = new Map();
    const addNode = (scope, name, n) => {
      const key = keyOf(scope, name);
      if (!nodes.has(key)) {
        nodes.set(key, {key, scope, name, replicas: 0, instances: [], known: false});
      }
      const node = nodes.get(key);
      if (n) Object.assign(node, {replicas: n.replicas, instances: n.instances, known: true});
      return node;
    };
    for (const n of topo.nodes) addNode(n.scope, n.name, n);
    for (const c of topo.channels) {
      const key = keyOf(c.scope, c.name);
      const producers = c.producers.map((p) => addNode(c.scope, p).key);
      const consumers = c.consumers.map((p) => addNode(c.scope, p).key);
      channels.set(key, Object.assign({}, c, {key, producers, consumers}));
    }
    // Names are shown as scope/name only when several topologies share the directory.
    const scopes = new Set([...nodes.values()].map((n) => n.scope));
    return {nodes, channels, label: (x) => (scopes.size > 1 ? x.key : x.name)};
  }

  // What decides the drawing's structure; the counters change every second, this seldom does.
  function shapeOf(m) {
    const parts = [];
    for (const n of m.nodes.values()) {
      parts.push("n:" + n.key + ":" + n.replicas + ":" + n.instances.map((i) => i.instance).join(","));
    }
    for (const c of m.channels.values()) {
      parts.push("c:" + c.key + ":" + c.producers.join(",") + ">" + c.consumers.join(","));
    }
    return parts.sort().join("|");
  }

  // Longest path from the sources, ignoring the edges that close a cycle (found by depth-first
  // search), so that a feedback channel does not push its nodes off to infinity.
  function depths(m) {
    const feeders = new Map();
    for (const key of m.nodes.keys()) feeders.set(key, new Set());
    for (const c of m.channels.values()) {
      for (const to of c.consumers) {
        for (const from of c.producers) if (from !== to) feeders.get(to).add(from);
      }
    }
    const depth = new Map();
    const visiting = new Set();
    const visit = (key) => {
      if (depth.has(key)) return depth.get(key);
      if (visiting.has(key)) return -1;
      visiting.add(key);
      let d = 0;
      for (const from of feeders.get(key)) {
        const fd = visit(from);
        if (fd >= 0) d = Math.max(d, fd + 1);
      }
      visiting.delete(key);
      depth.set(key, d);
      return d;
    };
    for (const key of [...m.nodes.keys()].sort()) visit(key);
    return depth;
  }

  // Items (nodes, channel labels, and waypoints where an edge crosses a column) with their
  // positions, and each edge as the chain of items it passes. Within a column, items are ordered
  // by the mean row of their neighbours (a few sweeps each way) to limit crossings; waypoints
  // keep long edges from running behind the boxes in between.
  function layout(m) {
    const depth = depths(m);
    const items = new Map();
    for (const n of m.nodes.values()) items.set("n:" + n.key, {col: 2 * depth.get(n.key), h: NODE_H});
    for (const c of m.channels.values()) {
      let col = 1;
      if (c.producers.length) col = 2 * Math.max(...c.producers.map((p) => depth.get(p))) + 1;
      else if (c.consumers.length) col = 2 * Math.min(...c.consumers.map((p) => depth.get(p))) - 1;
      items.set("c:" + c.key, {col, h: CHANNEL_H});
    }
    const minCol = Math.min(0, ...[...items.values()].map((it) => it.col));
    for (const it of items.values()) it.col -= minCol;

    const neighbours = new Map([...items.keys()].map((id) => [id, []]));
    const edges = [];
    let waypoints = 0;
    const chain = (from, to, attrs) => {
      const ids = [from];
      for (let col = items.get(from).col + 1; col < items.get(to).col; ++col) {
        const id = "w:" + waypoints++;
        items.set(id, {col, h: 0});
        neighbours.set(id, []);
        ids.push(id);
      }
      ids.push(to);
      for (let i = 1; i < ids.length; ++i) {
        neighbours.get(ids[i - 1]).push(ids[i]);
        neighbours.get(ids[i]).push(ids[i - 1]);
      }
      edges.push(Object.assign({ids}, attrs));
    };
    for (const c of m.channels.values()) {
      for (const p of c.producers) chain("n:" + p, "c:" + c.key, {channel: c.key, from: p});
      for (const p of c.consumers) chain("c:" + c.key, "n:" + p, {channel: c.key, to: p});
    }

    const columns = [];
    for (const [id, it] of [...items.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      (columns[it.col] = columns[it.col] || []).push(id);
    }
    for (let i = 0; i < columns.length; ++i) columns[i] = columns[i] || [];
    const row = new Map();
    const number = () => columns.forEach((ids) => ids.forEach((id, r) => row.set(id, r)));
    number();
    // Each pass looks at the column it came from (the left one going right, and back), as the
    // usual layered-graph heuristic does; an item with no neighbour there keeps its place.
    const sweep = (order, side) => {
      for (const c of order) {
        const score = new Map();
        for (const id of columns[c]) {
          const rows = neighbours.get(id).filter((n) => items.get(n).col === c + side).map((n) => row.get(n));
          score.set(id, rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : row.get(id));
        }
        columns[c].sort((a, b) => score.get(a) - score.get(b) || row.get(a) - row.get(b));
        number();
      }
    };
    const cols = columns.map((_, i) => i);
    for (let pass = 0; pass < 4; ++pass) sweep(pass % 2 ? [...cols].reverse() : cols, pass % 2 ? 1 : -1);
    const tallest = Math.max(1, ...columns.map((ids) => ids.length));
    columns.forEach((ids, c) => {
      const top = PAD + ((tallest - ids.length) * ROW_PITCH) / 2;
      ids.forEach((id, r) => {
        const it = items.get(id);
        Object.assign(it, {x: PAD + c * COL_PITCH, y: top + r * ROW_PITCH + (ROW_PITCH - it.h) / 2, w: BOX_W});
      });
    });
    for (const e of edges) e.d = chainPath(e.ids.map((id) => items.get(id)));
    return {
      items,
      edges,
      width: 2 * PAD + Math.max(0, columns.length - 1) * COL_PITCH + BOX_W,
      height: 2 * PAD + tallest * ROW_PITCH,
    };
  }

  // From the right side of the first item to the left side of the last, straight across each
  // waypoint and curved between columns; one that runs backwards (a cycle) loops below its ends.
  function chainPath(its) {
    const first = its[0];
    const last = its[its.length - 1];
    const mid = (it) => it.y + it.h / 2;
    const [x1, y1, x2, y2] = [first.x + first.w, mid(first), last.x, mid(last)];
    if (x2 <= x1) {
      const drop = Math.max(y1, y2) + ROW_PITCH / 2 + 10;
      return `M${x1},${y1} C${x1 + 80},${drop} ${x2 - 80},${drop} ${x2},${y2}`;
    }
    let d = `M${x1},${y1}`;
    let [x, y] = [x1, y1];
    const curve = (tx, ty) => {
      const dx = Math.max(20, (tx - x) / 2);
      d += ` C${x + dx},${y} ${tx - dx},${ty} ${tx},${ty}`;
      [x, y] = [tx, ty];
    };
    for (const w of its.slice(1, -1)) {
      curve(w.x, mid(w));
      d += ` L${w.x + w.w},${mid(w)}`;
      x = w.x + w.w;
    }
    curve(x2, y2);
    return d;
  }

  function el(name, attrs, parent) {
    const e = document.createElementNS(SVG_NS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  // About what a box's title line holds; the full name is in the box's tooltip and panel.
  const fit = (s) => (s.length > 20 ? s.slice(0, 19) + "\u2026" : s);

  // A box is a button: a click or Enter/Space selects it.
  function selectable(g, onSelect, what) {
    g.addEventListener("click", () => onSelect(what));
    g.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        onSelect(what);
      }
    });
  }

  // A line of text that may take `max` pixels (setText squeezes it to fit).
  function text(parent, x, y, cls, role, max) {
    const t = el("text", {x, y, class: cls, "data-role": role, "data-max": max}, parent);
    return t;
  }

  // Sets a line's text; one wider than its box is squeezed rather than spilling over the edge.
  function setText(t, value) {
    if (t.textContent === value) return;
    t.textContent = value;
    t.removeAttribute("textLength");
    const max = Number(t.getAttribute("data-max"));
    if (t.getComputedTextLength() > max) {
      t.setAttribute("textLength", max);
      t.setAttribute("lengthAdjust", "spacingAndGlyphs");
    }
  }

  // Builds the SVG for this model: returns {nodes: key -> group, channels: key -> group}.
  function build(svg, m, onSelect) {
    const lay = layout(m);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", `0 0 ${lay.width} ${lay.height}`);
    svg.setAttribute("width", lay.width);
    svg.setAttribute("height", lay.height);
    const defs = el("defs", {}, svg);
    for (const kind of ["ok", "bad"]) {
      const mk = el("marker", {id: "arrow-" + kind, viewBox: "0 0 10 10", refX: 9, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse"}, defs);
      el("path", {d: "M0,0 L10,5 L0,10 z", class: "arrow arrow-" + kind}, mk);
    }
    const edgeLayer = el("g", {class: "edges"}, svg);
    const boxLayer = el("g", {class: "boxes"}, svg);
    const out = {nodes: new Map(), channels: new Map()};

    for (const c of m.channels.values()) {
      const at = lay.items.get("c:" + c.key);
      const g = el("g", {class: "channel", "data-channel": c.name, "data-scope": c.scope,
        tabindex: 0, role: "button"}, boxLayer);
      const edges = el("g", {class: "channel-edges", "data-channel-edges": c.name}, edgeLayer);
      for (const e of lay.edges.filter((x) => x.channel === c.key)) {
        const attrs = {d: e.d, class: "edge"};
        if (e.from !== undefined) attrs["data-from"] = m.nodes.get(e.from).name;
        else Object.assign(attrs, {"data-to": m.nodes.get(e.to).name, "marker-end": "url(#arrow-ok)"});
        el("path", attrs, edges);
      }
      el("rect", {x: at.x, y: at.y, width: at.w, height: at.h, rx: at.h / 2 > 14 ? 14 : 6,
        class: "channel-box"}, g);
      const cx = at.x + at.w / 2;
      const inner = at.w - 12;
      setText(text(g, cx, at.y + 16, "title", "name", inner), fit(m.label(c)));
      text(g, cx, at.y + 34, "rate", "rate", inner);
      text(g, cx, at.y + 49, "detail", "flight", inner);
      text(g, cx, at.y + 63, "detail", "faults", inner);
      const title = el("title", {}, g);
      title.textContent = `${m.label(c)} (${c.pattern}, ${c.delivery})`;
      selectable(g, onSelect, {kind: "channel", key: c.key});
      out.channels.set(c.key, {g, edges});
    }

    for (const n of m.nodes.values()) {
      const at = lay.items.get("n:" + n.key);
      const g = el("g", {class: "node", "data-node": n.name, "data-scope": n.scope,
        tabindex: 0, role: "button"}, boxLayer);
      el("rect", {x: at.x, y: at.y, width: at.w, height: at.h, rx: 6, class: "node-box"}, g);
      setText(text(g, at.x + 10, at.y + 19, "title left", "name", at.w - 20), fit(m.label(n)));
      el("title", {}, g).textContent = m.label(n);
      // Up to 8 replicas as large dots in one row, up to 32 as small ones in two; the panel
      // lists every instance.
      const dots = el("g", {class: "dots"}, g);
      const slots = Math.min(32, Math.max(n.replicas, n.instances.length));
      const [r, step, perRow] = slots <= 8 ? [4, 11, 8] : [2.5, 6, 16];
      for (let i = 0; i < slots; ++i) {
        const inst = n.instances[i];
        const row = Math.floor(i / perRow);
        const cy = at.y + (slots <= 8 ? 33 : 29 + row * 7);
        const dot = el("circle", {cx: at.x + 15 + (i % perRow) * step, cy, r, class: "dot"}, dots);
        dot.setAttribute("data-instance", inst ? `${n.name}.${inst.instance}` : "");
        el("title", {}, dot);
      }
      text(g, at.x + at.w - 10, at.y + 37, "detail right", "replicas", 40);
      text(g, at.x + 10, at.y + 54, "detail left", "rates", at.w - 20);
      selectable(g, onSelect, {kind: "node", key: n.key});
      out.nodes.set(n.key, {g, dots});
    }
    return out;
  }

  return {model, shapeOf, layout, build, setText};
})();
