// charts.js — compact SVG charts with no network and no dependency.
//
// Stable API (only additive changes; other pages cherry-pick this file):
//
//   renderChart(el, spec) -> { update(spec), destroy() }
//       Draws `spec` into the element `el` (its content is replaced) and
//       returns a handle. Framework-free: plain DOM + SVG.
//   Chart({ spec, class })            Preact component wrapping renderChart.
//   CsvButton({ spec, filename, label }) Preact button downloading toCsv(spec).
//   toTable(spec) -> { columns: string[], rows: (string|number)[][] }
//   toCsv(specOrSeries) -> string   RFC 4180 CSV (CRLF line ends) of a chart
//       spec, or of a bare series array `[{name, points:[{x,y}]}]` (one row
//       per x, one column per series).
//   downloadCsv(filename, csv)      Saves a CSV string as a file.
//
// Chart specs (every spec has `type`, optional `title`, `description`,
// `height` (px, default 220), `format(v)` for values, `empty` (text shown
// when there is no data, default "No data for this period")):
//
//   { type: "line" | "area", series: [{ name, points: [{ x, y }] }] }
//       x is a label (e.g. "2026-03-01"), drawn in the order given; series
//       share the x labels of the union of their points. `stacked: true`
//       stacks areas.
//   { type: "bar", categories: [label], series: [{ name, values: [number] }],
//     horizontal?: bool, stacked?: bool }
//   { type: "heatmap", rows: [label], cols: [label], values: [[number]] }
//       values[row][col]; defaults rows = Mon..Sun, cols = 0..23 (weekday × hour).
//   { type: "histogram", bins: [{ from, to, count }] }
//   { type: "funnel", steps: [{ label, value }] }
//
// Accessibility: the SVG has role="img" with <title>/<desc>; a visually
// hidden <table> carries every value; the chart box is focusable and the
// arrow keys walk the data points, showing the tooltip (also on hover),
// which is announced through an aria-live region. Legends are drawn for
// every chart with more than one series.
import { html, useEffect, useRef } from "/vendor/preact-htm.js";
import { t, locale } from "./i18n.js";

const SVG = "http://www.w3.org/2000/svg";
export const PALETTE = ["#6d28d9", "#db2777", "#0891b2", "#ca8a04", "#059669", "#dc2626", "#4f46e5", "#78716c"];
/** Monday…Sunday, short, in the UI's language (the heatmap's rows, weekday 0 = Monday). */
export function weekdays() {
  const format = new Intl.DateTimeFormat(locale(), { weekday: "short", timeZone: "UTC" });
  // 2024-01-01 was a Monday.
  return Array.from({ length: 7 }, (_, i) => format.format(Date.UTC(2024, 0, 1 + i)));
}
const HOURS = Array.from({ length: 24 }, (_, h) => String(h));
let uid = 0;

const STYLE = `
.bbc{position:relative;outline-offset:2px;font:12px system-ui,sans-serif;color:var(--fg,#1f2937)}
.bbc svg{display:block;width:100%;overflow:hidden}
.bbc text{fill:var(--muted,#535a66);font-size:11px}
.bbc .bbc-grid{stroke:var(--border,#e5e7eb)}
.bbc .bbc-hi{stroke:var(--fg,#1f2937);stroke-width:2}
.bbc-tip{position:absolute;pointer-events:none;background:var(--surface,#fff);color:var(--fg,#1f2937);border:1px solid var(--border,#e5e7eb);border-radius:6px;padding:4px 8px;box-shadow:0 1px 8px rgba(0,0,0,.12);white-space:nowrap;z-index:5}
.bbc-legend{display:flex;flex-wrap:wrap;gap:4px 12px;margin:4px 0 0;padding:0;list-style:none}
.bbc-legend li{display:flex;align-items:center;gap:4px}
.bbc-legend i{display:inline-block;width:10px;height:10px;border-radius:2px}
.bbc-empty{padding:24px;text-align:center;color:var(--muted,#535a66);border:1px dashed var(--border,#e5e7eb);border-radius:8px}
.bbc-sr{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
`;

function ensureStyle() {
  if (typeof document === "undefined" || document.getElementById("bbc-style")) return;
  const s = document.createElement("style");
  s.id = "bbc-style";
  s.textContent = STYLE;
  document.head.appendChild(s);
}

function el(tag, attrs = {}, parent) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) n.setAttribute(k, String(v));
  if (parent) parent.appendChild(n);
  return n;
}

function h(tag, attrs = {}, text) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const defaultFormat = (v) => (Number.isInteger(v) ? v.toLocaleString(locale()) : Number(v).toLocaleString(locale(), { maximumFractionDigits: 2 }));

/** A "nice" maximum for an axis (1, 2, 5 × 10^n) and the tick step. */
function niceMax(max) {
  if (!(max > 0)) return { max: 1, step: 1 };
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || 10 * p;
  return { max: Math.ceil(max / step) * step, step };
}

/** Line/area: the union of x labels, in first-seen order. */
function xLabels(series) {
  const seen = new Map();
  for (const s of series || []) for (const p of s.points || []) if (!seen.has(String(p.x))) seen.set(String(p.x), seen.size);
  return [...seen.keys()];
}

/** The data of any spec as a table: what the CSV export and the hidden table show. */
export function toTable(spec) {
  if (Array.isArray(spec)) spec = { type: "line", series: spec };
  switch (spec && spec.type) {
    case "line":
    case "area": {
      const xs = xLabels(spec.series);
      const cols = ["x", ...(spec.series || []).map((s) => s.name || "value")];
      const maps = (spec.series || []).map((s) => new Map((s.points || []).map((p) => [String(p.x), p.y])));
      return { columns: cols, rows: xs.map((x) => [x, ...maps.map((m) => (m.has(x) ? m.get(x) : ""))]) };
    }
    case "bar":
      return {
        columns: ["category", ...(spec.series || []).map((s) => s.name || "value")],
        rows: (spec.categories || []).map((c, i) => [c, ...(spec.series || []).map((s) => (s.values || [])[i] ?? "")]),
      };
    case "heatmap": {
      const rows = spec.rows || weekdays();
      const cols = spec.cols || HOURS;
      return { columns: ["row", ...cols.map(String)], rows: rows.map((r, i) => [r, ...cols.map((_, j) => ((spec.values || [])[i] || [])[j] ?? 0)]) };
    }
    case "histogram":
      return { columns: ["from", "to", "count"], rows: (spec.bins || []).map((b) => [b.from, b.to, b.count]) };
    case "funnel":
      return { columns: ["step", "value"], rows: (spec.steps || []).map((s) => [s.label, s.value]) };
    default:
      return { columns: [], rows: [] };
  }
}

function csvCell(v) {
  let s = v === null || v === undefined ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s) && isNaN(Number(s))) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV of a chart spec or a bare series array (formula-looking text cells are neutralised). */
export function toCsv(specOrSeries) {
  const tv = toTable(specOrSeries);
  return [tv.columns, ...tv.rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/** Saves `csv` as `filename` through a temporary object URL. */
export function downloadCsv(filename, csv) {
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv;charset=utf-8" }));
  const a = h("a", { href: url, download: filename });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function isEmpty(spec) {
  const tv = toTable(spec);
  if (!tv.rows.length) return true;
  if (spec.type === "heatmap" || spec.type === "histogram" || spec.type === "funnel" || spec.type === "bar")
    return tv.rows.every((r) => r.slice(1).every((v) => !num(v)));
  return false;
}

/**
 * Draws `spec` into `container`. Returns { update(spec), destroy() }.
 */
export function renderChart(container, spec) {
  ensureStyle();
  let cleanup = () => {};
  const draw = (s) => {
    cleanup();
    cleanup = drawInto(container, s || {});
  };
  draw(spec);
  return { update: draw, destroy: () => (cleanup(), (container.textContent = "")) };
}

function drawInto(container, spec) {
  container.textContent = "";
  const id = `bbc${++uid}`;
  const fmt = spec.format || defaultFormat;
  const title = spec.title || t("charts.chart");
  const box = h("div", { class: "bbc", "data-chart": spec.type || "" });
  container.appendChild(box);
  if (isEmpty(spec)) {
    box.appendChild(h("div", { class: "bbc-empty", role: "status", "data-empty": "true" }, spec.empty || t("charts.no_data_for_this_period")));
    return () => {};
  }
  const width = 640;
  const height = spec.height || 220;
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`, preserveAspectRatio: "none" });
  svg.style.height = `${height}px`;
  el("title", { id: `${id}-t` }, svg).textContent = title;
  el("desc", { id: `${id}-d` }, svg).textContent = spec.description || t("charts.values_in_the_table", { title });
  box.appendChild(svg);
  // Every mark: {x, y, w, h, label, node}; keyboard and hover walk them.
  const marks = [];
  const legend = [];
  const ctx = { svg, width, height, fmt, marks, legend, spec };
  ({ line: drawLine, area: drawLine, bar: drawBar, heatmap: drawHeatmap, histogram: drawHistogram, funnel: drawFunnel })[spec.type]?.(ctx);

  if (legend.length > 1) {
    const ul = h("ul", { class: "bbc-legend", "aria-hidden": "true" });
    legend.forEach(({ name, color }) => {
      const li = h("li");
      const sw = h("i");
      sw.style.background = color;
      li.append(sw, document.createTextNode(name));
      ul.appendChild(li);
    });
    box.appendChild(ul);
  }

  // The data for screen readers.
  const tv = toTable(spec);
  const table = h("table", { class: "bbc-sr" });
  table.appendChild(h("caption", {}, title));
  const thead = h("tr");
  tv.columns.forEach((c) => thead.appendChild(h("th", { scope: "col" }, c)));
  table.appendChild(thead);
  tv.rows.forEach((r) => {
    const tr = h("tr");
    r.forEach((v, i) => tr.appendChild(h(i ? "td" : "th", i ? {} : { scope: "row" }, typeof v === "number" ? fmt(v) : String(v))));
    table.appendChild(tr);
  });
  box.appendChild(table);

  // Tooltip on hover and on keyboard focus (arrow keys).
  const tip = h("div", { class: "bbc-tip", role: "status", "aria-live": "polite" });
  tip.hidden = true;
  box.appendChild(tip);
  box.setAttribute("tabindex", "0");
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", t("charts.arrow_keys_read_values", { title }));
  let active = -1;
  let hi = null;
  const show = (i) => {
    if (!marks.length) return;
    active = Math.max(0, Math.min(marks.length - 1, i));
    const m = marks[active];
    tip.textContent = m.label;
    tip.hidden = false;
    const bw = svg.getBoundingClientRect().width || width;
    const scale = bw / width;
    tip.style.left = `${Math.max(0, Math.min(bw - 160, (m.x + m.w / 2) * scale - 60))}px`;
    tip.style.top = `${Math.max(0, m.y * (svg.getBoundingClientRect().height / height || 1) - 34)}px`;
    if (hi) hi.remove();
    hi = el("rect", { x: m.x - 1, y: m.y - 1, width: Math.max(2, m.w + 2), height: Math.max(2, m.h + 2), fill: "none", class: "bbc-hi", rx: 2 }, svg);
  };
  const hide = () => {
    tip.hidden = true;
    if (hi) hi.remove();
    hi = null;
  };
  const onMove = (ev) => {
    const r = svg.getBoundingClientRect();
    const px = ((ev.clientX - r.left) / r.width) * width;
    const py = ((ev.clientY - r.top) / r.height) * height;
    let best = -1;
    let bestD = Infinity;
    marks.forEach((m, i) => {
      const dx = px < m.x ? m.x - px : px > m.x + m.w ? px - m.x - m.w : 0;
      const dy = py < m.y ? m.y - py : py > m.y + m.h ? py - m.y - m.h : 0;
      const d = dx * dx + dy * dy * (spec.type === "line" || spec.type === "area" ? 0.05 : 1);
      if (d < bestD) (bestD = d), (best = i);
    });
    if (best >= 0 && bestD < 900) show(best);
    else hide();
  };
  const onKey = (ev) => {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[ev.key];
    if (step) {
      ev.preventDefault();
      show(active < 0 ? 0 : active + step);
    } else if (ev.key === "Home") show(0);
    else if (ev.key === "End") show(marks.length - 1);
    else if (ev.key === "Escape") hide();
  };
  svg.addEventListener("mousemove", onMove);
  svg.addEventListener("mouseleave", hide);
  box.addEventListener("keydown", onKey);
  box.addEventListener("focus", () => show(active < 0 ? 0 : active));
  box.addEventListener("blur", hide);
  return () => {
    svg.removeEventListener("mousemove", onMove);
    svg.removeEventListener("mouseleave", hide);
    box.removeEventListener("keydown", onKey);
  };
}

/** Left axis with ticks and grid lines; returns the plot area. */
function axes(ctx, max, { left = 44, bottom = 22, top = 8, right = 8 } = {}) {
  const { svg, width, height, fmt } = ctx;
  const { max: top_, step } = niceMax(max);
  const plot = { x: left, y: top, w: width - left - right, h: height - top - bottom, max: top_ };
  for (let v = 0; v <= top_ + 1e-9; v += step) {
    const y = plot.y + plot.h - (v / top_) * plot.h;
    el("line", { x1: plot.x, x2: plot.x + plot.w, y1: y, y2: y, class: "bbc-grid" }, svg);
    el("text", { x: plot.x - 6, y: y + 4, "text-anchor": "end" }, svg).textContent = fmt(Math.round(v * 100) / 100);
  }
  return plot;
}

function xTicks(ctx, plot, labels, center) {
  const every = Math.max(1, Math.ceil(labels.length / 8));
  labels.forEach((l, i) => {
    if (i % every) return;
    const x = center(i);
    el("text", { x, y: plot.y + plot.h + 15, "text-anchor": "middle" }, ctx.svg).textContent = String(l);
  });
}

function drawLine(ctx) {
  const { svg, spec, marks, legend, fmt } = ctx;
  const series = spec.series || [];
  const xs = xLabels(series);
  const area = spec.type === "area";
  const stacked = area && spec.stacked;
  const vals = series.map((s) => {
    const m = new Map((s.points || []).map((p) => [String(p.x), num(p.y)]));
    return xs.map((x) => m.get(x) ?? 0);
  });
  const base = xs.map(() => 0);
  const tops = vals.map((v) => v.map((y, i) => (stacked ? (base[i] += y) : y)));
  const max = Math.max(0, ...tops.flat());
  const plot = axes(ctx, max);
  const cx = (i) => plot.x + (xs.length === 1 ? plot.w / 2 : (i / (xs.length - 1)) * plot.w);
  const cy = (v) => plot.y + plot.h - (v / plot.max) * plot.h;
  xTicks(ctx, plot, xs, cx);
  tops.forEach((top, si) => {
    const color = series[si].color || PALETTE[si % PALETTE.length];
    legend.push({ name: series[si].name || "value", color });
    const pts = top.map((v, i) => `${cx(i).toFixed(1)},${cy(v).toFixed(1)}`);
    if (area) {
      const below = stacked && si > 0 ? tops[si - 1] : xs.map(() => 0);
      const back = below.map((v, i) => `${cx(i).toFixed(1)},${cy(v).toFixed(1)}`).reverse();
      el("polygon", { points: [...pts, ...back].join(" "), fill: color, "fill-opacity": 0.25 }, svg);
    }
    el("polyline", { points: pts.join(" "), fill: "none", stroke: color, "stroke-width": 2, "data-series": series[si].name || "" }, svg);
    top.forEach((v, i) => {
      if (xs.length <= 62) el("circle", { cx: cx(i), cy: cy(v), r: 2.5, fill: color }, svg);
      marks.push({ x: cx(i) - 3, y: cy(v) - 3, w: 6, h: 6, label: `${xs[i]} · ${series[si].name || "value"}: ${fmt(vals[si][i])}` });
    });
  });
}

function drawBar(ctx) {
  const { svg, spec, marks, legend, fmt, width, height } = ctx;
  const cats = spec.categories || [];
  const series = spec.series || [];
  const stacked = !!spec.stacked;
  const totals = cats.map((_, i) => series.reduce((a, s) => a + num((s.values || [])[i]), 0));
  const max = stacked ? Math.max(0, ...totals) : Math.max(0, ...series.flatMap((s) => (s.values || []).map(num)));
  series.forEach((s, si) => legend.push({ name: s.name || "value", color: s.color || PALETTE[si % PALETTE.length] }));
  const color = (si) => series[si].color || PALETTE[si % PALETTE.length];
  if (spec.horizontal) {
    const left = Math.min(220, 12 + 6.5 * Math.max(4, ...cats.map((c) => String(c).length)));
    const plot = { x: left, y: 4, w: width - left - 48, h: height - 8 };
    const { max: top } = niceMax(max);
    const band = plot.h / Math.max(1, cats.length);
    cats.forEach((c, i) => {
      const y = plot.y + i * band;
      const lbl = String(c);
      el("text", { x: left - 6, y: y + band / 2 + 4, "text-anchor": "end" }, svg).textContent = lbl.length > 34 ? `${lbl.slice(0, 33)}…` : lbl;
      let x0 = plot.x;
      series.forEach((s, si) => {
        const v = num((s.values || [])[i]);
        const w = (v / top) * plot.w;
        const bh = stacked ? band * 0.7 : (band * 0.7) / series.length;
        const by = stacked ? y + band * 0.15 : y + band * 0.15 + si * bh;
        const bx = stacked ? x0 : plot.x;
        el("rect", { x: bx, y: by, width: Math.max(0, w), height: bh, fill: color(si), rx: 2 }, svg);
        marks.push({ x: bx, y: by, w: Math.max(2, w), h: bh, label: `${c} · ${s.name || "value"}: ${fmt(v)}` });
        if (stacked) x0 += w;
      });
      el("text", { x: plot.x + ((stacked ? totals[i] : Math.max(...series.map((s) => num((s.values || [])[i])))) / top) * plot.w + 4, y: y + band / 2 + 4 }, svg).textContent = fmt(
        stacked ? totals[i] : num(((series[0] || {}).values || [])[i]),
      );
    });
    return;
  }
  const plot = axes(ctx, max);
  const band = plot.w / Math.max(1, cats.length);
  const center = (i) => plot.x + band * i + band / 2;
  xTicks(ctx, plot, cats, center);
  cats.forEach((c, i) => {
    let y0 = plot.y + plot.h;
    series.forEach((s, si) => {
      const v = num((s.values || [])[i]);
      const bh = (v / plot.max) * plot.h;
      const bw = stacked ? band * 0.7 : (band * 0.7) / series.length;
      const bx = stacked ? plot.x + band * i + band * 0.15 : plot.x + band * i + band * 0.15 + si * bw;
      const by = stacked ? y0 - bh : plot.y + plot.h - bh;
      el("rect", { x: bx, y: by, width: Math.max(0.5, bw), height: Math.max(0, bh), fill: color(si), rx: 1 }, svg);
      marks.push({ x: bx, y: by, w: Math.max(2, bw), h: Math.max(2, bh), label: `${c} · ${s.name || "value"}: ${fmt(v)}` });
      if (stacked) y0 -= bh;
    });
  });
}

function drawHeatmap(ctx) {
  const { svg, spec, marks, fmt, width, height } = ctx;
  const rows = spec.rows || weekdays();
  const cols = spec.cols || HOURS;
  const values = spec.values || [];
  const max = Math.max(0, ...values.flat().map(num));
  const left = 40;
  const cw = (width - left - 4) / cols.length;
  const ch = (height - 20) / rows.length;
  rows.forEach((r, i) => {
    el("text", { x: left - 6, y: i * ch + ch / 2 + 4, "text-anchor": "end" }, svg).textContent = String(r);
    cols.forEach((c, j) => {
      const v = num((values[i] || [])[j]);
      const x = left + j * cw;
      const y = i * ch;
      el("rect", { x: x + 1, y: y + 1, width: cw - 2, height: ch - 2, rx: 2, fill: PALETTE[0], "fill-opacity": max ? 0.06 + 0.94 * (v / max) : 0.06 }, svg);
      marks.push({ x: x + 1, y: y + 1, w: cw - 2, h: ch - 2, label: `${r} ${c}${spec.cols ? "" : ":00"} · ${fmt(v)}` });
    });
  });
  const every = Math.max(1, Math.ceil(cols.length / 12));
  cols.forEach((c, j) => {
    if (j % every === 0) el("text", { x: left + j * cw + cw / 2, y: height - 6, "text-anchor": "middle" }, svg).textContent = String(c);
  });
}

function drawHistogram(ctx) {
  const { svg, spec, marks, fmt } = ctx;
  const bins = spec.bins || [];
  const plot = axes(ctx, Math.max(0, ...bins.map((b) => num(b.count))));
  const bw = plot.w / Math.max(1, bins.length);
  bins.forEach((b, i) => {
    const bh = (num(b.count) / plot.max) * plot.h;
    const x = plot.x + i * bw;
    el("rect", { x: x + 0.5, y: plot.y + plot.h - bh, width: Math.max(0.5, bw - 1), height: bh, fill: PALETTE[0] }, svg);
    marks.push({ x, y: plot.y + plot.h - bh, w: bw, h: Math.max(2, bh), label: `${b.from} – ${b.to}: ${fmt(num(b.count))}` });
  });
  xTicks(ctx, plot, bins.map((b) => b.from), (i) => plot.x + i * bw);
}

function drawFunnel(ctx) {
  const { svg, spec, marks, fmt, width, height } = ctx;
  const steps = spec.steps || [];
  const first = num((steps[0] || {}).value) || 1;
  const band = height / Math.max(1, steps.length);
  steps.forEach((s, i) => {
    const v = num(s.value);
    const w = Math.max(2, (v / Math.max(first, ...steps.map((x) => num(x.value)))) * (width - 180));
    const x = 140 + (width - 180 - w) / 2;
    const y = i * band + 2;
    el("rect", { x, y, width: w, height: band - 4, fill: PALETTE[i % PALETTE.length], rx: 3 }, svg);
    const pct = i === 0 ? "" : ` (${Math.round((v / first) * 1000) / 10}% of first)`;
    el("text", { x: 134, y: y + band / 2 + 2, "text-anchor": "end" }, svg).textContent = String(s.label);
    el("text", { x: x + w + 6, y: y + band / 2 + 2 }, svg).textContent = fmt(v);
    marks.push({ x, y, w, h: band - 4, label: `${s.label}: ${fmt(v)}${pct}` });
  });
}

/** Preact component: `<${Chart} spec=${{ type: "line", title, series }} />`. */
export function Chart({ spec, class: cls }) {
  const ref = useRef(null);
  const handle = useRef(null);
  useEffect(() => {
    if (!ref.current) return undefined;
    if (!handle.current) handle.current = renderChart(ref.current, spec);
    else handle.current.update(spec);
  }, [JSON.stringify(spec, (k, v) => (typeof v === "function" ? undefined : v))]);
  useEffect(() => () => handle.current && handle.current.destroy(), []);
  return html`<div class=${cls || "chart"} ref=${ref}></div>`;
}

/** Preact component: a button that downloads the spec's data as CSV. */
export function CsvButton({ spec, filename, label = "CSV" }) {
  const name = filename || `${(spec && spec.title ? spec.title : "chart").toLowerCase().replace(/[^a-z0-9]+/g, "-")}.csv`;
  return html`<button type="button" class="secondary small" data-csv=${name} aria-label=${t("charts.download_data_as_csv", { value: (spec && spec.title) || "chart" })}
    onClick=${() => downloadCsv(name, toCsv(spec))}>${label}</button>`;
}
