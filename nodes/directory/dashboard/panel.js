// The side panel: the selected node's or channel's counters, one column per instance. Rebuilt
// on every refresh (it is small); rows whose counters are zero on every instance are folded into
// one line so that what moves stands out.
"use strict";

const BrookPanel = (() => {
  const F = BrookFormat;

  function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  }

  const instanceName = (node, inst) => `${node.name}.${inst.instance}`;

  // Rows of a table whose columns are `cols` ({label, attrs, values: Map name -> value}).
  function counterRows(tbody, title, names, cols) {
    if (!names.length) return;
    tbody.append(h("tr", {class: "section"}, h("th", {colspan: cols.length + 1}, title)));
    let zeros = 0;
    for (const name of names) {
      const values = cols.map((c) => c.values.get(name));
      if (values.every((v) => !v)) {
        ++zeros;
        continue;
      }
      const tr = h("tr", {"data-counter": name}, h("th", {}, name.replace(/_/g, " ")));
      for (const v of values) tr.append(h("td", {class: v ? "num" : "num zero"}, v === undefined ? "–" : F.count(v)));
      tbody.append(tr);
    }
    if (zeros) {
      tbody.append(h("tr", {class: "zeros"}, h("td", {colspan: cols.length + 1},
        `${zeros} counter${zeros > 1 ? "s" : ""} at 0 on every instance`)));
    }
  }

  function instanceTable(cols, fixedRows, groups) {
    const head = h("tr", {}, h("th", {}, ""));
    for (const c of cols) head.append(h("th", c.attrs, c.label));
    const tbody = h("tbody");
    for (const [label, get] of fixedRows) {
      const tr = h("tr", {}, h("th", {}, label));
      for (const c of cols) tr.append(h("td", {class: "num"}, get(c)));
      tbody.append(tr);
    }
    for (const g of groups) counterRows(tbody, g.title, g.names, g.cols || cols);
    return h("div", {class: "table-wrap"}, h("table", {class: "instances"}, h("thead", {}, head), tbody));
  }

  // Section titles and counter names over all instances, in the order they first appear.
  function unionSections(instances) {
    const order = [];
    const byTitle = new Map();
    for (const inst of instances) {
      for (const s of F.sections(inst.counters)) {
        if (!byTitle.has(s.title)) {
          byTitle.set(s.title, new Set());
          order.push(s.title);
        }
        for (const [k] of s.values) byTitle.get(s.title).add(k);
      }
    }
    return order.map((title) => ({title, names: [...byTitle.get(title)]}));
  }

  function nodeView(m, node) {
    const health = F.health(node);
    const box = h("div", {"data-panel-node": node.name});
    box.append(h("h2", {"data-panel-title": ""}, node.name));
    box.append(h("p", {class: "sub"},
      `${node.scope ? "scope " + node.scope + " · " : ""}${node.instances.length} of ${node.replicas} replica${node.replicas === 1 ? "" : "s"} running · `,
      h("span", {class: "health " + health}, health)));
    if (!node.instances.length) {
      box.append(h("p", {class: "empty"}, node.known ? "No instance is registered with the directory."
        : "Named by a channel; no instance has registered with the directory."));
      return box;
    }
    const secs = unionSections(node.instances);
    // The panel is about one node: a long name is not repeated in every column's head.
    const short = (inst) => (node.name.length > 12 ? "\u2026." + inst.instance : instanceName(node, inst));
    const cols = node.instances.map((inst) => ({inst, label: short(inst),
      attrs: {"data-instance": instanceName(node, inst), title: instanceName(node, inst)},
      sections: new Map(F.sections(inst.counters).map((s) => [s.title, new Map(s.values)]))}));
    const groups = secs.map((s) => ({title: s.title, names: s.names,
      cols: cols.map((c) => Object.assign({}, c, {values: c.sections.get(s.title) || new Map()}))}));
    box.append(instanceTable(cols, [
      ["health", (c) => h("span", {class: "health " + c.inst.health}, c.inst.health)],
      ["host", (c) => c.inst.host],
      ["pid", (c) => String(c.inst.pid)],
      ["heartbeat age", (c) => F.duration(c.inst.age_ms)],
      ["uptime", (c) => F.duration(c.inst.uptime_ms)],
      ["received /s", (c) => F.rate(c.inst.rates.received)],
      ["handled /s", (c) => F.rate(c.inst.rates.handled)],
      ["sent /s", (c) => F.rate(c.inst.rates.sent)],
    ], groups));
    return box;
  }

  function channelView(m, ch) {
    const box = h("div", {"data-panel-channel": ch.name});
    box.append(h("h2", {"data-panel-title": ""}, ch.name));
    const names = (keys) => keys.map((k) => m.nodes.get(k).name).join(", ") || "none";
    box.append(h("p", {class: "sub"}, `${ch.pattern} · ${ch.delivery}${ch.scope ? " · scope " + ch.scope : ""}`));
    box.append(h("p", {class: "sub"}, `${names(ch.producers)} → ${names(ch.consumers)}`));
    const summary = h("tbody");
    for (const [label, v] of [["msg/s received", F.rate(ch.rate)], ["msg/s sent", F.rate(ch.sent_rate)],
      ["in flight", F.count(ch.in_flight)], ["pending", F.count(ch.pending)], ["lag", F.duration(ch.lag_ms)],
      ["errors", F.count(ch.errors)], ["dead lettered", F.count(ch.dead_lettered)],
      ["redelivered", F.count(ch.redelivered)], ["duplicates", F.count(ch.duplicates)],
      ["retried", F.count(ch.retried)]]) {
      summary.append(h("tr", {}, h("th", {}, label), h("td", {class: "num"}, v)));
    }
    box.append(h("table", {class: "summary"}, summary));
    // Each producer's and consumer's instances with their counters for this channel only.
    const cols = [];
    const counterNames = new Set();
    for (const [role, keys] of [["out", ch.producers], ["in", ch.consumers]]) {
      for (const key of keys) {
        const node = m.nodes.get(key);
        for (const inst of node.instances) {
          const cs = (inst.counters.channels || {})[ch.name] || {};
          Object.keys(cs).forEach((k) => counterNames.add(k));
          cols.push({label: `${instanceName(node, inst)} ${role === "out" ? "→" : "←"}`,
            attrs: {"data-instance": instanceName(node, inst), "data-role": role},
            values: new Map(Object.entries(cs))});
        }
      }
    }
    if (cols.length) box.append(instanceTable(cols, [], [{title: "counters per instance", names: [...counterNames]}]));
    else box.append(h("p", {class: "empty"}, "No producer or consumer instance is registered."));
    return box;
  }

  // Fills `body` for the selection; returns false when the selection no longer exists.
  function render(body, m, selected) {
    const scroll = body.scrollTop;
    let view = null;
    if (selected && selected.kind === "node" && m.nodes.has(selected.key)) view = nodeView(m, m.nodes.get(selected.key));
    if (selected && selected.kind === "channel" && m.channels.has(selected.key)) {
      view = channelView(m, m.channels.get(selected.key));
    }
    body.replaceChildren(...(view ? [view] : []));
    body.scrollTop = scroll;
    return view !== null;
  }

  return {render};
})();
