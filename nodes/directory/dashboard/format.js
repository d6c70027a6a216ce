// Numbers, durations and times as the dashboard shows them, and the sums it derives from an
// instance's counters. No DOM here.
"use strict";

const BrookFormat = (() => {
  // 0.4, 12.5, 1 234, 12.3k, 4.5M: short enough for a label, exact enough to see a change.
  function rate(v) {
    if (!(v > 0)) return "0";
    if (v < 10) return v.toFixed(1);
    if (v < 10000) return Math.round(v).toLocaleString("en-US").replace(/,/g, "\u202f");
    if (v < 1e6) return (v / 1e3).toFixed(1) + "k";
    return (v / 1e6).toFixed(1) + "M";
  }

  function count(v) {
    if (typeof v !== "number") return String(v);
    return v.toLocaleString("en-US").replace(/,/g, "\u202f");
  }

  function duration(ms) {
    if (!(ms > 0)) return "0 ms";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + " s";
    if (ms < 3600000) return Math.floor(ms / 60000) + " min " + Math.floor((ms % 60000) / 1000) + " s";
    return Math.floor(ms / 3600000) + " h " + Math.floor((ms % 3600000) / 60000) + " min";
  }

  const pad2 = (n) => String(n).padStart(2, "0");
  function clock(ms) {
    const d = new Date(ms);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  function micros(us) {
    if (us < 1000) return Math.round(us) + " µs";
    if (us < 1e6) return (us / 1000).toFixed(us < 1e4 ? 1 : 0) + " ms";
    return (us / 1e6).toFixed(1) + " s";
  }

  // A handler-time histogram ({sum_ns, buckets}: buckets[i] counts calls of at most 2^i µs, the
  // last one the longer calls) as rows: calls, mean, and the bucket bound under which 99 % fell.
  function latencyRows(channel, h) {
    const buckets = h.buckets || [];
    const calls = buckets.reduce((a, b) => a + b, 0);
    if (!calls) return [[channel + " calls", 0]];
    let seen = 0;
    let i = 0;
    while (i < buckets.length - 1 && (seen += buckets[i]) < 0.99 * calls) ++i;
    const p99 = i >= 24 ? "> 8.4 s" : "≤ " + micros(2 ** i);
    return [[channel + " calls", calls], [channel + " mean", micros(h.sum_ns / calls / 1000)],
      [channel + " p99", p99]];
  }

  // Any other shape (a newer directory's) is flattened to "outer inner" names, so it still shows.
  function flatten(prefix, value, out) {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) flatten(prefix ? prefix + " " + k : k, v, out);
    } else if (typeof value === "number" || typeof value === "string") {
      out.push([prefix, value]);
    }
    return out;
  }

  // An instance's counters as titled sections of (name, value) pairs: one per channel, then the
  // handlers' times, the author's counters and gauges, then the node-wide numbers.
  function sections(counters) {
    const out = [];
    const node = [];
    for (const [key, value] of Object.entries(counters || {})) {
      if (key === "channels" && value && typeof value === "object") {
        for (const [ch, cs] of Object.entries(value)) out.push({title: "channel " + ch, values: flatten("", cs, [])});
      } else if (key === "latency" && value && typeof value === "object") {
        const rows = Object.entries(value).flatMap(([ch, h]) => latencyRows(ch, h || {}));
        if (rows.length) out.push({title: "handler time", values: rows});
      } else if (value && typeof value === "object") {
        out.push({title: key.replace(/_/g, " "), values: flatten("", value, [])});
      } else {
        node.push([key, value]);
      }
    }
    if (node.length) out.push({title: "node", values: node});
    return out;
  }

  // Errors an instance reported on any of its channels (the decoder's and the handlers').
  function errors(counters) {
    let n = 0;
    const chans = (counters && counters.channels) || {};
    for (const cs of Object.values(chans)) n += (cs.decode_errors || 0) + (cs.handler_errors || 0);
    return n;
  }

  // A node's health from its instances: idle (none running), late (one missed heartbeats),
  // degraded (fewer than declared), up.
  function health(node) {
    if (!node.instances.length) return "idle";
    if (node.instances.some((i) => i.health !== "up")) return "late";
    if (node.instances.length < node.replicas) return "degraded";
    return "up";
  }

  function sumRates(node) {
    const r = {received: 0, handled: 0, sent: 0};
    for (const i of node.instances) {
      for (const k of Object.keys(r)) r[k] += i.rates[k] || 0;
    }
    return r;
  }

  return {rate, count, duration, clock, sections, errors, health, sumRates};
})();
