// Analytics dashboards, per organization (/analytics) and per bot
// (/bots/:botId/analytics): a date range, timezone, channel and
// granularity kept in the URL (shareable), KPI cards, charts drawn by
// charts.js with a CSV button each, empty states, and the rollups'
// freshness. The API reads hourly rollups (docs/analytics.md).
import { html, Page, useLoad, useState, useEffect, ErrorBox, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get } from "../api.js";
import { currentOrg } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";
import { Chart, CsvButton, WEEKDAYS } from "../charts.js";

const CHANNELS = ["widget", "api", "web", "telegram", "whatsapp", "slack", "messenger", "sms", "voice", "instagram", "email", "http"];
const GRANULARITIES = [
  ["day", "Day"],
  ["week", "Week"],
  ["month", "Month"],
  ["hour", "Hour (up to 7 days)"],
];

const iso = (d) => d.toISOString().slice(0, 10);
const browserTz = () => {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
};
const timezones = () => {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return ["UTC"];
  }
};

/** The filters of the URL, with defaults (the last 30 days in the browser's timezone). */
function readFilters(search) {
  const q = new URLSearchParams(search);
  const to = q.get("to") || iso(new Date());
  const from = q.get("from") || iso(new Date(Date.parse(`${to}T00:00:00Z`) - 29 * 86400000));
  return {
    from,
    to,
    tz: q.get("tz") || browserTz(),
    channel: q.get("channel") || "",
    granularity: q.get("granularity") || "day",
    bot_id: q.get("bot_id") || "",
  };
}

function queryOf(f) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  return q.toString();
}

const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const num = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en", { maximumFractionDigits: digits }));
const secs = (v) => {
  if (v === null || v === undefined) return "—";
  if (v < 90) return `${Math.round(v)} s`;
  if (v < 5400) return `${Math.round(v / 60)} min`;
  return `${(v / 3600).toFixed(1)} h`;
};

function Kpi({ id, label, value, hint }) {
  return html`<div class="card kpi" data-kpi=${id}>
    <div class="muted small">${label}</div>
    <div class="kpi-value" data-value>${value}</div>
    ${hint && html`<div class="muted small">${hint}</div>`}
  </div>`;
}

/** A titled chart card with its CSV button. */
function ChartCard({ id, spec }) {
  return html`<section class="card chart-card" data-chart-card=${id} aria-labelledby=${`chart-${id}-title`}>
    <div class="row" style="justify-content:space-between">
      <h2 id=${`chart-${id}-title`}>${spec.title}</h2>
      <${CsvButton} spec=${spec} filename=${`${id}.csv`} />
    </div>
    <${Chart} spec=${spec} />
  </section>`;
}

function specs(o) {
  const s = o.series;
  const points = (key, f = (b) => b[key]) => s.map((b) => ({ x: b.period, y: f(b) }));
  const rate = (a, b) => (x) => (x[b] > 0 ? Math.round((x[a] / x[b]) * 1000) / 10 : 0);
  const csatSeries = [1, 2, 3, 4, 5].map((score) => ({ name: `${score}★`, values: s.map((b) => b.csat[score - 1]) }));
  return {
    volume: {
      type: "line",
      title: "Conversations and messages",
      series: [
        { name: "Conversations", points: points("conversations") },
        { name: "Messages in", points: points("messages_in") },
        { name: "Messages out", points: points("messages_out") },
      ],
    },
    rates: {
      type: "line",
      title: "Containment, hand-off and fallback rates (%)",
      format: (v) => `${v}%`,
      series: [
        { name: "Containment", points: points("", rate("contained", "conversations")) },
        { name: "Hand-off", points: points("", rate("handoffs", "conversations")) },
        { name: "Fallback", points: points("", rate("fallbacks", "messages_in")) },
      ],
    },
    csat: { type: "bar", stacked: true, title: "CSAT answers by score", categories: s.map((b) => b.period), series: csatSeries },
    feedback: {
      type: "bar",
      stacked: true,
      title: "Answer feedback",
      categories: s.map((b) => b.period),
      series: [
        { name: "Thumbs up", values: s.map((b) => b.feedback_up) },
        { name: "Thumbs down", values: s.map((b) => b.feedback_down) },
      ],
    },
    heatmap: { type: "heatmap", title: `Busiest hours (${o.tz})`, rows: WEEKDAYS, values: o.heatmap, description: "End-user messages by weekday and hour of day." },
    intents: {
      type: "bar",
      horizontal: true,
      title: "Top intents",
      categories: o.top_intents.map((i) => i.intent),
      series: [{ name: "Messages", values: o.top_intents.map((i) => i.count) }],
      empty: "No recognised intents in this period",
    },
    unanswered: {
      type: "bar",
      horizontal: true,
      title: "Top unanswered questions",
      categories: o.unanswered.map((u) => u.text),
      series: [{ name: "Times asked", values: o.unanswered.map((u) => u.count) }],
      empty: "Nothing went unanswered in this period",
    },
    channels: {
      type: "bar",
      title: "By channel",
      categories: o.by_channel.map((c) => c.channel),
      series: [
        { name: "Conversations", values: o.by_channel.map((c) => c.conversations) },
        { name: "Hand-offs", values: o.by_channel.map((c) => c.handoffs) },
        { name: "Fallbacks", values: o.by_channel.map((c) => c.fallbacks) },
      ],
    },
  };
}

function Filters({ filters, onApply, bots }) {
  const [f, setF] = useState(filters);
  useEffect(() => setF(filters), [JSON.stringify(filters)]);
  const set = (k) => (e) => {
    const value = e.target.value;
    setF((cur) => ({ ...cur, [k]: value }));
  };
  const submit = (e) => {
    e.preventDefault();
    onApply(f);
  };
  return html`<form class="card row analytics-filters" id="analytics-filters" onSubmit=${submit} aria-label="Filters">
    <label>From <input type="date" name="from" id="analytics-from" value=${f.from} onInput=${set("from")} required /></label>
    <label>To <input type="date" name="to" id="analytics-to" value=${f.to} onInput=${set("to")} required /></label>
    <label>Timezone
      <input name="tz" id="analytics-tz" list="analytics-tz-list" value=${f.tz} onInput=${set("tz")} autocomplete="off" />
      <datalist id="analytics-tz-list">${timezones().map((z) => html`<option value=${z} />`)}</datalist>
    </label>
    <label>Channel
      <select name="channel" id="analytics-channel" value=${f.channel} onChange=${set("channel")}>
        <option value="">All channels</option>
        ${CHANNELS.map((c) => html`<option value=${c}>${c}</option>`)}
      </select>
    </label>
    ${bots &&
    html`<label>Bot
      <select name="bot_id" id="analytics-bot" value=${f.bot_id} onChange=${set("bot_id")}>
        <option value="">All bots</option>
        ${bots.map((b) => html`<option value=${String(b.id)}>${b.name}</option>`)}
      </select>
    </label>`}
    <label>Per
      <select name="granularity" id="analytics-granularity" value=${f.granularity} onChange=${set("granularity")}>
        ${GRANULARITIES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
      </select>
    </label>
    <button type="submit" class="primary" id="analytics-apply">Apply</button>
  </form>`;
}

function Dashboard({ base, title, nav, bots }) {
  const [search, setSearch] = useState(location.search);
  useEffect(() => {
    const onPop = () => setSearch(location.search);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const filters = readFilters(search);
  const query = queryOf(filters);
  const load = useLoad(() => get(`${base}?${query}`), [base, query]);
  const apply = (f) => {
    const q = queryOf(f);
    navigate(`${location.pathname}?${q}`);
    setSearch(`?${q}`);
  };
  const o = load.data;
  const k = o && o.kpis;
  const empty = o && o.totals.conversations === 0 && o.totals.messages_in === 0;
  const sp = o && specs(o);
  return html`<${Page} title=${title}>
    ${nav}
    <${Filters} filters=${filters} onApply=${apply} bots=${bots} />
    <${ErrorBox} error=${load.error} />
    <${Loading} load=${load} />
    ${o &&
    html`<div id="analytics" data-from=${o.from} data-to=${o.to} data-tz=${o.tz} aria-busy=${load.loading ? "true" : "false"}>
      <p class="muted small" id="analytics-freshness">
        ${o.from} – ${o.to} (${o.tz}) · ${o.freshness.pending_hours
          ? `${o.freshness.pending_hours} hour(s) of recent traffic are still being counted.`
          : "Up to date."}
      </p>
      ${empty &&
      html`<div class="card empty-state" id="analytics-empty" role="status">
        <h2>No conversations in this period</h2>
        <p>Pick another range, or share the bot's widget to get the first visitors.</p>
      </div>`}
      <div class="kpis" id="analytics-kpis">
        <${Kpi} id="conversations" label="Conversations" value=${num(k.conversations, 0)} />
        <${Kpi} id="unique_users" label="Unique users" value=${num(k.unique_users, 0)} />
        <${Kpi} id="messages" label="Messages in / out" value=${`${num(k.messages_in, 0)} / ${num(k.messages_out, 0)}`} />
        <${Kpi} id="containment" label="Containment" value=${pct(k.containment_rate)} hint="Resolved without a human" />
        <${Kpi} id="handoff" label="Hand-off rate" value=${pct(k.handoff_rate)} hint=${`First human reply: ${secs(k.avg_first_reply_secs)}`} />
        <${Kpi} id="fallback" label="Fallback rate" value=${pct(k.fallback_rate)} hint="Messages not understood" />
        <${Kpi} id="turns" label="Turns per conversation" value=${num(k.avg_turns)} />
        <${Kpi} id="csat" label="CSAT" value=${k.csat_avg === null ? "—" : `${num(k.csat_avg)} / 5`} hint=${`${k.csat_count} answers`} />
        <${Kpi} id="feedback" label="Helpful answers" value=${pct(k.feedback_positive_rate)} hint=${`${o.totals.feedback_up} 👍 · ${o.totals.feedback_down} 👎`} />
      </div>
      <${DrillLinks} filters=${filters} botId=${botIdOf(base)} overview=${o} />
      <div class="chart-grid">
        ${Object.entries(sp).map(([id, spec]) => html`<${ChartCard} key=${id} id=${id} spec=${spec} />`)}
      </div>
      ${o.unanswered.length > 0 &&
      html`<section class="card" id="unanswered-list" aria-labelledby="unanswered-title">
        <h2 id="unanswered-title">Unanswered questions, grouped</h2>
        <p class="muted small">${o.clustering === "embeddings" ? "Grouped by meaning with the local embedding model." : "Grouped by identical wording (the embedding model is off or still catching up)."}</p>
        <ol>
          ${o.unanswered.map(
            (u) => html`<li><strong>${u.text}</strong> <span class="badge">${u.count}×</span> <${DrillLink} href=${drillHref(filters, botIdOf(base), "fallback", { text: u.text })} id="unanswered">conversations<//>${u.examples.length ? html` <span class="muted small">also: ${u.examples.join(" · ")}</span>` : ""}</li>`,
          )}
        </ol>
      </section>`}
    </div>`}
  <//>`;
}

const KINDS = [
  ["session", "Conversations"],
  ["handoff", "Hand-offs"],
  ["first_reply", "First human replies"],
  ["fallback", "Fallbacks (unanswered)"],
  ["csat", "CSAT answers"],
  ["intent", "Recognised intents"],
  ["message", "End-user messages"],
];

const botIdOf = (base) => (base.match(/\/bots\/(\d+)\//) || [])[1] || "";

/** A drill-down URL: the dashboard's filters, one kind of event and what narrows it. */
function drillHref(filters, botId, kind, extra = {}) {
  const q = new URLSearchParams(queryOf({ ...filters, granularity: "", bot_id: botId || filters.bot_id }));
  q.set("kind", kind);
  for (const [k, v] of Object.entries(extra)) q.set(k, v);
  return `/analytics/events?${q}`;
}

function DrillLink({ href, id, children }) {
  return html`<a href=${href} data-drill=${id} onClick=${(e) => (e.preventDefault(), navigate(href))}>${children}</a>`;
}

/** The busiest weekday × hour cell of the heatmap (null without traffic). */
function busiest(heatmap) {
  let best = null;
  heatmap.forEach((row, w) => row.forEach((n, h) => {
    if (n > 0 && (!best || n > best.n)) best = { w, h, n };
  }));
  return best;
}

/** The dashboard's drill-down links: the same filters, one kind of event. */
function DrillLinks({ filters, botId, overview }) {
  const cell = busiest(overview.heatmap);
  return html`<nav class="row small" id="analytics-drill" aria-label="Drill down">
    <span class="muted">Show the conversations behind:</span>
    ${KINDS.map(([k, label]) => html`<${DrillLink} href=${drillHref(filters, botId, k)} id=${k}>${label}<//>`)}
    <${DrillLink} href=${drillHref(filters, botId, "csat", { csat_max: 2 })} id="low_csat">Low CSAT (1–2)<//>
    <${DrillLink} href=${drillHref(filters, botId, "message")} id="message">Messages in<//>
    ${cell && html`<${DrillLink} href=${drillHref(filters, botId, "message", { weekday: cell.w, hour: cell.h })} id="busiest">Busiest hour (${WEEKDAYS[cell.w]} ${String(cell.h).padStart(2, "0")}:00, ${cell.n} messages)<//>`}
  </nav>`;
}

/** One page of the raw events of a kind, filters from the URL (shareable), newest first. */
function DrillDown() {
  const org = currentOrg();
  const q = new URLSearchParams(location.search);
  const kind = q.get("kind") || "fallback";
  const botId = q.get("bot_id") || "";
  const [after, setAfter] = useState([]);
  const params = new URLSearchParams();
  for (const k of ["kind", "from", "to", "tz", "channel", "csat_max", "weekday", "hour", "text"]) if (q.get(k)) params.set(k, q.get(k));
  params.set("limit", "50");
  if (after.length) params.set("after", after[after.length - 1]);
  const base = botId ? `/api/v1/bots/${botId}/analytics/events` : org ? `/api/v1/orgs/${org.id}/analytics/events` : null;
  const load = useLoad(() => (base ? get(`${base}?${params}`) : Promise.resolve(null)), [base, params.toString()]);
  const back = new URLSearchParams(q);
  back.delete("kind");
  const dashboard = botId ? `/bots/${botId}/analytics?${back}` : `/analytics?${back}`;
  const label = (KINDS.find(([k]) => k === kind) || [kind, kind])[1];
  const page = load.data;
  return html`<${Page} title=${`${label} · ${q.get("from") || ""} – ${q.get("to") || ""}`}>
    <p class="muted" id="drill-filters">${[
      q.get("channel") && `channel ${q.get("channel")}`,
      q.get("csat_max") && `scores up to ${q.get("csat_max")}`,
      q.get("weekday") && `${WEEKDAYS[Number(q.get("weekday"))] || "?"} ${String(q.get("hour") || 0).padStart(2, "0")}:00 (${q.get("tz") || "UTC"})`,
      q.get("text") && `“${q.get("text")}”`,
    ].filter(Boolean).join(" · ")}</p>
    <p><a href=${dashboard} id="drill-back" onClick=${(e) => (e.preventDefault(), navigate(dashboard))}>← Back to the dashboard</a></p>
    <${ErrorBox} error=${load.error} />
    <${Loading} load=${load} />
    ${page && !page.items.length && html`<div class="card empty-state" id="drill-empty" role="status"><p>Nothing of this kind in the range.</p></div>`}
    ${page && page.items.length > 0 && html`<table id="drill-table" data-kind=${kind}>
      <thead><tr><th>When</th><th>Channel</th><th>${kind === "intent" ? "Intent" : "Text"}</th><th>${kind === "csat" ? "Score" : kind === "first_reply" ? "Seconds" : "Value"}</th><th>Transcript</th></tr></thead>
      <tbody>${page.items.map(
        (e) => html`<tr data-event=${e.id}>
          <td>${e.created_at.replace("T", " ").slice(0, 19)}</td><td>${e.channel}</td><td>${e.text || ""}</td><td>${e.value === null || e.value === undefined ? "" : e.value}</td>
          <td>${e.conversation_id
            ? html`<a data-transcript=${e.conversation_id} href=${`/bots/${e.bot_id}/conversations?conversation=${e.conversation_id}`} onClick=${(ev) => (ev.preventDefault(), navigate(`/bots/${e.bot_id}/conversations?conversation=${e.conversation_id}`))}>Open conversation ${e.conversation_id}</a>`
            : html`<span class="muted">deleted</span>`}</td>
        </tr>`,
      )}</tbody>
    </table>`}
    <div class="row">
      ${after.length > 0 && html`<button type="button" id="drill-prev" onClick=${() => setAfter(after.slice(0, -1))}>Newer</button>`}
      ${page && page.next_cursor && html`<button type="button" id="drill-next" onClick=${() => setAfter([...after, page.next_cursor])}>Older</button>`}
    </div>
  <//>`;
}

function BotAnalytics({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Dashboard}
    base=${`/api/v1/bots/${botId}/analytics/overview`}
    title=${`Analytics · ${bot.data ? bot.data.name : ""}`}
    nav=${html`<${BotNav} botId=${botId} active="analytics" />
      <p class="row"><a class="button small" href=${`/api/v1/bots/${botId}/feedback/export`} download id="feedback-export">Export answer feedback (CSV)</a></p>`}
  />`;
}

function OrgAnalytics() {
  const org = currentOrg();
  const bots = useLoad(() => (org ? get(`/api/v1/orgs/${org.id}/bots?limit=200`) : Promise.resolve({ items: [] })), [org && org.id]);
  if (!org) return html`<${Page} title="Analytics"><p class="muted">Choose an organization first.</p><//>`;
  return html`<${Dashboard}
    base=${`/api/v1/orgs/${org.id}/analytics/overview`}
    title=${`Analytics · ${org.name}`}
    bots=${(bots.data && bots.data.items) || []}
  />`;
}

route("/analytics", OrgAnalytics, { nav: { label: "Analytics", section: "Insights", order: 25, requires: "analytics.read" } });
route("/bots/:botId/analytics", BotAnalytics);
route("/analytics/events", DrillDown);
