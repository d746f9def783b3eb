// tradejet dashboard: one update (GET /api/update, then server-sent events) redraws the page.
// Plain DOM and SVG; nothing is loaded from anywhere but this server.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token");
  const hdrs = token ? { Authorization: "Bearer " + token } : {};
  const SVG = "http://www.w3.org/2000/svg";
  const REGIME_FILL = { RISK_ON: "#d8f0d8", NEUTRAL: "#eceef2", RISK_OFF: "#ffe6c7", PANIC: "#f8c8c8" };
  const $ = (id) => document.getElementById(id);
  let last = null;
  let seenFills = null;
  let pending = null;

  function fmt(x, d) {
    if (x === null || x === undefined || Number.isNaN(x)) return "–";
    const a = Math.abs(x);
    const digits = d !== undefined ? d : a >= 1000 ? 2 : a >= 1 ? 4 : 6;
    return x.toLocaleString("en-US", { minimumFractionDigits: 0, maximumFractionDigits: digits });
  }
  function utc(ns) {
    if (ns === null || ns === undefined) return "–";
    return new Date(ns / 1e6).toISOString().slice(0, 16).replace("T", " ");
  }
  function dur(s) {
    s = Math.floor(s);
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return (h ? h + "h " : "") + m + "m " + (s % 60) + "s";
  }
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }
  function fillTable(id, rows, cols, empty, key) {
    const body = $(id).tBodies[0];
    body.replaceChildren();
    if (!rows.length) {
      const tr = el("tr", null, "empty");
      const td = el("td", empty);
      td.colSpan = $(id).tHead ? $(id).tHead.rows[0].cells.length : 2;
      tr.appendChild(td);
      body.appendChild(tr);
      return;
    }
    for (const r of rows) {
      const tr = el("tr");
      if (key) tr.dataset.key = key(r);
      for (const c of cols) {
        const [text, cls] = c(r);
        tr.appendChild(el("td", text, cls));
      }
      body.appendChild(tr);
    }
  }
  const signed = (x) => [fmt(x, 2), x > 0 ? "n pos" : x < 0 ? "n neg" : "n"];

  function header(s) {
    const mode = $("mode");
    mode.textContent = s.mode === "watch" ? "WATCH" + (s.ledger_mode ? " · " + s.ledger_mode.toUpperCase() : "") : s.mode.toUpperCase();
    mode.className = "badge mode " + (s.mode === "watch" && s.ledger_mode === "live" ? "live" : s.mode);
    document.body.classList.toggle("live", s.mode === "live" || s.ledger_mode === "live");
    const st = $("trading-state");
    st.textContent = s.trading_state + (s.schedule_state && s.schedule_state !== s.trading_state ? " (" + s.schedule_state + ")" : "");
    st.className = "badge state " + s.trading_state;
    const rg = $("regime");
    rg.textContent = s.regime || "–";
    rg.className = "badge regime " + (s.regime || "");
    $("active").textContent = s.active_strategies.length ? s.active_strategies.join(", ") : "–";
    let eq = fmt(s.equity, 2);
    if (s.equity !== null && s.initial_cash) eq += " (" + ((s.equity / s.initial_cash - 1) * 100).toFixed(2) + "%)";
    $("equity").textContent = eq;
    $("bar").textContent = s.bars_done.toLocaleString("en-US") + (s.last_bar_ts ? " · " + utc(s.last_bar_ts) : "");
    $("uptime").textContent = dur(s.uptime_s);
    $("env").textContent = s.environment + (s.run_id ? " · run " + s.run_id : "");
    $("btn-pause").disabled = s.read_only || s.halted || s.paused;
    $("btn-resume").disabled = s.read_only || s.halted || !s.paused;
    $("btn-kill").disabled = s.read_only || s.halted;
    document.title = "tradejet " + mode.textContent + " · " + s.trading_state;
  }

  function alerts(list) {
    const box = $("alerts");
    box.replaceChildren();
    for (const a of list) {
      const d = el("div", a.message, "alert " + a.severity);
      d.dataset.kind = a.kind;
      box.appendChild(d);
    }
  }

  function lineChart(svgEl, xs, ys, opts) {
    svgEl.replaceChildren();
    const W = 1000, H = opts.height, pad = 6;
    if (!xs.length) {
      const t = svg("text", { x: 10, y: 20, fill: "#888", "font-size": 12 });
      t.textContent = "no bars yet";
      svgEl.appendChild(t);
      svgEl.dataset.points = "0";
      return;
    }
    const x0 = xs[0], x1 = xs[xs.length - 1] > x0 ? xs[xs.length - 1] : x0 + 1;
    let lo = opts.lo !== undefined ? opts.lo : Math.min(...ys), hi = opts.hi !== undefined ? opts.hi : Math.max(...ys);
    if (hi === lo) { hi += 1; lo -= 1; }
    const X = (x) => ((x - x0) / (x1 - x0)) * W;
    const Y = (y) => pad + (1 - (y - lo) / (hi - lo)) * (H - 2 * pad);
    if (opts.bands) {
      for (let i = 0; i < opts.bands.length; i++) {
        const b = opts.bands[i], end = i + 1 < opts.bands.length ? opts.bands[i + 1].start_ts : b.end_ts;
        const a = Math.max(X(b.start_ts), 0), z = Math.min(X(end), W);
        svgEl.appendChild(svg("rect", { x: a, y: 0, width: Math.max(z - a, 0.5), height: H, fill: REGIME_FILL[b.regime] || "#f3f4f6" }));
      }
    }
    for (const g of [0.25, 0.5, 0.75]) svgEl.appendChild(svg("line", { x1: 0, x2: W, y1: H * g, y2: H * g, stroke: "#e5e7eb", "stroke-width": 1 }));
    let d = "";
    for (let i = 0; i < xs.length; i++) d += (i ? "L" : "M") + X(xs[i]).toFixed(1) + " " + Y(ys[i]).toFixed(1);
    if (opts.area) {
      svgEl.appendChild(svg("path", { d: d + "L" + X(xs[xs.length - 1]).toFixed(1) + " " + Y(0) + "L" + X(xs[0]).toFixed(1) + " " + Y(0) + "Z", fill: opts.area, stroke: "none" }));
    }
    svgEl.appendChild(svg("path", { d: d, fill: "none", stroke: opts.stroke, "stroke-width": 2, "vector-effect": "non-scaling-stroke", class: "line" }));
    const lab = svg("text", { x: 6, y: 14, fill: "#444", "font-size": 11 });
    lab.textContent = opts.label(hi) ;
    const lab2 = svg("text", { x: 6, y: H - 4, fill: "#444", "font-size": 11 });
    lab2.textContent = opts.label(lo);
    svgEl.append(lab, lab2);
    svgEl.dataset.points = String(xs.length);
  }

  function charts(eq) {
    const xs = eq.points.map((p) => p[0]);
    lineChart($("equity-chart"), xs, eq.points.map((p) => p[1]), { height: 260, stroke: "#1f5fa8", bands: eq.timeline, label: (v) => fmt(v, 0) });
    lineChart($("drawdown-chart"), xs, eq.points.map((p) => p[2] * 100), { height: 110, stroke: "#c0392b", area: "#f6d5d1", hi: 0, label: (v) => v.toFixed(1) + "%" });
    $("equity-note").textContent = eq.total_bars ? eq.total_bars.toLocaleString("en-US") + " bars" + (eq.stride > 1 ? ", every " + eq.stride + "th shown" : "") : "";
    $("dd-note").textContent = eq.total_bars ? "max " + (eq.max_drawdown * 100).toFixed(2) + "%" : "";
    const strip = $("timeline-chart");
    strip.replaceChildren();
    if (eq.timeline.length) {
      const x0 = eq.timeline[0].start_ts, x1 = Math.max(eq.timeline[eq.timeline.length - 1].end_ts, x0 + 1);
      eq.timeline.forEach((s, i) => {
        const end = i + 1 < eq.timeline.length ? eq.timeline[i + 1].start_ts : s.end_ts;
        const a = ((s.start_ts - x0) / (x1 - x0)) * 1000, z = ((end - x0) / (x1 - x0)) * 1000;
        const r = svg("rect", { x: a, y: 0, width: Math.max(z - a, 0.8), height: 26, fill: REGIME_FILL[s.regime] || "#eee" });
        const t = svg("title", {});
        t.textContent = (s.regime || "?") + ": " + (s.active.join(", ") || "none") + " · " + utc(s.start_ts) + " – " + utc(s.end_ts);
        r.appendChild(t);
        strip.appendChild(r);
      });
    }
    fillTable("timeline", eq.timeline.slice().reverse(), [
      (s) => [utc(s.start_ts)], (s) => [utc(s.end_ts)], (s) => [s.regime || "–"], (s) => [s.active.join(", ") || "none"],
    ], "no timeline yet");
  }

  function tables(u) {
    fillTable("positions", u.positions, [
      (p) => [p.strategy], (p) => [p.symbol], (p) => [fmt(p.qty), "n"], (p) => [fmt(p.avg_price), "n"],
      (p) => [fmt(p.mark), "n"], (p) => signed(p.unrealized_pnl),
    ], "flat");
    fillTable("orders", u.orders, [
      (o) => [o.client_order_id], (o) => [o.symbol], (o) => [o.side, o.side], (o) => [o.order_type],
      (o) => [fmt(o.qty), "n"], (o) => [fmt(o.price), "n"], (o) => [o.strategy],
    ], "no open orders", (o) => o.client_order_id);
    fillTable("fills", u.fills, [
      (f) => [utc(f.ts_event)], (f) => [f.symbol], (f) => [f.side, f.side], (f) => [fmt(f.qty), "n"],
      (f) => [fmt(f.price), "n"], (f) => [fmt(f.fee, 4), "n"], (f) => [f.strategy],
    ], "no fills yet", (f) => f.trade_id);
    const now = new Set(u.fills.map((f) => f.trade_id));
    if (seenFills) for (const tr of $("fills").tBodies[0].rows) if (tr.dataset.key && !seenFills.has(tr.dataset.key)) tr.className = "new";
    seenFills = now;
    const pnl = [(r) => [r.key], (r) => signed(r.realized), (r) => signed(r.unrealized), (r) => [fmt(r.fees, 2), "n"], (r) => signed(r.total)];
    fillTable("pnl-strategy", u.pnl.by_strategy, pnl, "nothing traded yet");
    fillTable("pnl-pair", u.pnl.by_pair, pnl, "nothing traded yet");
    const l = u.latency;
    const rows = l.n ? [["samples", l.n.toLocaleString("en-US")], ["p50", fmt(l.p50_us, 1) + " µs"], ["p99", fmt(l.p99_us, 1) + " µs"],
      ["p99.9", fmt(l.p999_us, 1) + " µs"], ["max", fmt(l.max_us, 1) + " µs"]] : [["latency", u.status.mode === "watch" ? "not in a ledger" : "no samples yet"]];
    fillTable("latency", rows, [(r) => [r[0]], (r) => [r[1], "n"]], "");
  }

  function render(u) {
    last = u;
    header(u.status);
    alerts(u.alerts);
    charts(u.equity);
    tables(u);
    document.body.dataset.seq = String(u.seq);
  }

  function toast(text) {
    const t = $("toast");
    t.textContent = text;
    t.hidden = false;
  }

  async function load() {
    const r = await fetch("/api/update", { headers: hdrs });
    if (!r.ok) { toast("cannot load: HTTP " + r.status); return; }
    render(await r.json());
  }

  function connect() {
    const es = new EventSource("/api/events" + (token ? "?token=" + encodeURIComponent(token) : ""));
    es.addEventListener("update", (ev) => { render(JSON.parse(ev.data)); });
    es.onopen = () => { $("conn").textContent = "live"; $("conn").className = "conn on"; };
    es.onerror = () => { $("conn").textContent = "reconnecting"; $("conn").className = "conn off"; };
  }

  const ASK = {
    pause: "Pause new entries? Open positions keep their exits.",
    resume: "Resume new entries?",
    kill: "KILL SWITCH: cancel every open order and stop the engine? A restart is needed to trade again.",
  };
  function ask(action) {
    pending = action;
    $("confirm-text").textContent = ASK[action];
    $("confirm-yes").textContent = "Confirm " + action;
    $("confirm").hidden = false;
  }
  async function act() {
    const action = pending;
    pending = null;
    $("confirm").hidden = true;
    if (!action) return;
    const r = await fetch("/api/actions/" + action, {
      method: "POST", headers: Object.assign({ "Content-Type": "application/json" }, hdrs),
      body: JSON.stringify({ confirm: action, reason: "dashboard button" }),
    });
    const body = await r.json();
    toast(r.ok ? body.message : action + " refused: " + body.error);
    document.body.dataset.lastAction = action + ":" + (r.ok ? "ok" : r.status);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("btn-pause").addEventListener("click", () => ask("pause"));
    $("btn-resume").addEventListener("click", () => ask("resume"));
    $("btn-kill").addEventListener("click", () => ask("kill"));
    $("confirm-yes").addEventListener("click", act);
    $("confirm-no").addEventListener("click", () => { pending = null; $("confirm").hidden = true; });
    const legend = $("legend");
    for (const k in REGIME_FILL) {
      const s = el("span", k);
      const i = el("i");
      i.style.background = REGIME_FILL[k];
      s.prepend(i);
      legend.appendChild(s);
    }
    load().then(connect, (e) => toast("cannot load: " + e));
    setInterval(() => { if (last) $("uptime").textContent = dur((last.status.uptime_s += 1)); }, 1000);
  });
})();
