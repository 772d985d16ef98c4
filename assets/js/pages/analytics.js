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
import { Chart, CsvButton, weekdays } from "../charts.js";
import { t, locale } from "../i18n.js";

const CHANNELS = ["widget", "api", "web", "telegram", "whatsapp", "slack", "messenger", "sms", "voice", "instagram", "email", "http"];
const GRANULARITIES = () => ([
  ["day", t("analytics.day")],
  ["week", t("analytics.week")],
  ["month", t("analytics.month")],
  ["hour", t("analytics.hour_up_to_7_days")],
]);

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
const num = (v, digits = 1) => (v === null || v === undefined ? "—" : Number(v).toLocaleString(locale(), { maximumFractionDigits: digits }));
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
      title: t("analytics.conversations_and_messages"),
      series: [
        { name: t("analytics.conversations_2"), points: points("conversations") },
        { name: t("analytics.messages_in"), points: points("messages_in") },
        { name: t("analytics.messages_out"), points: points("messages_out") },
      ],
    },
    rates: {
      type: "line",
      title: t("analytics.containment_hand_off_and_fallback"),
      format: (v) => `${v}%`,
      series: [
        { name: t("analytics.containment"), points: points("", rate("contained", "conversations")) },
        { name: t("analytics.hand_off"), points: points("", rate("handoffs", "conversations")) },
        { name: t("analytics.fallback"), points: points("", rate("fallbacks", "messages_in")) },
      ],
    },
    csat: { type: "bar", stacked: true, title: t("analytics.csat_answers_by_score"), categories: s.map((b) => b.period), series: csatSeries },
    feedback: {
      type: "bar",
      stacked: true,
      title: t("analytics.answer_feedback"),
      categories: s.map((b) => b.period),
      series: [
        { name: t("analytics.thumbs_up"), values: s.map((b) => b.feedback_up) },
        { name: t("analytics.thumbs_down"), values: s.map((b) => b.feedback_down) },
      ],
    },
    heatmap: { type: "heatmap", title: t("analytics.busiest_hours", { tz: o.tz }), rows: weekdays(), values: o.heatmap, description: t("analytics.end_user_messages_by_weekday") },
    intents: {
      type: "bar",
      horizontal: true,
      title: t("analytics.top_intents"),
      categories: o.top_intents.map((i) => i.intent),
      series: [{ name: t("analytics.messages"), values: o.top_intents.map((i) => i.count) }],
      empty: t("analytics.no_recognised_intents_in_this"),
    },
    unanswered: {
      type: "bar",
      horizontal: true,
      title: t("analytics.top_unanswered_questions"),
      categories: o.unanswered.map((u) => u.text),
      series: [{ name: t("analytics.times_asked"), values: o.unanswered.map((u) => u.count) }],
      empty: t("analytics.nothing_went_unanswered_in_this"),
    },
    channels: {
      type: "bar",
      title: t("analytics.by_channel"),
      categories: o.by_channel.map((c) => c.channel),
      series: [
        { name: t("analytics.conversations_2"), values: o.by_channel.map((c) => c.conversations) },
        { name: t("analytics.hand_offs"), values: o.by_channel.map((c) => c.handoffs) },
        { name: t("analytics.fallbacks"), values: o.by_channel.map((c) => c.fallbacks) },
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
  return html`<form class="card row analytics-filters" id="analytics-filters" onSubmit=${submit} aria-label=${t("analytics.filters")}>
    <label>${t("common.from")} <input type="date" name="from" id="analytics-from" value=${f.from} onInput=${set("from")} required /></label>
    <label>${t("common.to")} <input type="date" name="to" id="analytics-to" value=${f.to} onInput=${set("to")} required /></label>
    <label>${t("analytics.timezone")}
      <input name="tz" id="analytics-tz" list="analytics-tz-list" value=${f.tz} onInput=${set("tz")} autocomplete="off" />
      <datalist id="analytics-tz-list">${timezones().map((z) => html`<option value=${z} />`)}</datalist>
    </label>
    <label>${t("common.channel")}
      <select name="channel" id="analytics-channel" value=${f.channel} onChange=${set("channel")}>
        <option value="">${t("analytics.all_channels")}</option>
        ${CHANNELS.map((c) => html`<option value=${c}>${c}</option>`)}
      </select>
    </label>
    ${bots &&
    html`<label>${t("common.bot")}
      <select name="bot_id" id="analytics-bot" value=${f.bot_id} onChange=${set("bot_id")}>
        <option value="">${t("analytics.all_bots")}</option>
        ${bots.map((b) => html`<option value=${String(b.id)}>${b.name}</option>`)}
      </select>
    </label>`}
    <label>${t("analytics.per")}
      <select name="granularity" id="analytics-granularity" value=${f.granularity} onChange=${set("granularity")}>
        ${GRANULARITIES().map(([v, l]) => html`<option value=${v}>${l}</option>`)}
      </select>
    </label>
    <button type="submit" class="primary" id="analytics-apply">${t("analytics.apply")}</button>
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
          ? t("analytics.hour_s_of_recent_traffic", { pending_hours: o.freshness.pending_hours })
          : t("analytics.up_to_date")}
      </p>
      ${empty &&
      html`<div class="card empty-state" id="analytics-empty" role="status">
        <h2>${t("analytics.no_conversations_in_this_period")}</h2>
        <p>${t("analytics.pick_another_range_or_share")}</p>
      </div>`}
      <div class="kpis" id="analytics-kpis">
        <${Kpi} id="conversations" label=${t("analytics.conversations_2")} value=${num(k.conversations, 0)} />
        <${Kpi} id="unique_users" label=${t("analytics.unique_users")} value=${num(k.unique_users, 0)} />
        <${Kpi} id="messages" label=${t("analytics.messages_in_out")} value=${`${num(k.messages_in, 0)} / ${num(k.messages_out, 0)}`} />
        <${Kpi} id="containment" label=${t("analytics.containment")} value=${pct(k.containment_rate)} hint=${t("analytics.resolved_without_a_human")} />
        <${Kpi} id="handoff" label=${t("analytics.hand_off_rate")} value=${pct(k.handoff_rate)} hint=${t("analytics.first_human_reply", { avg_first_reply_secs: secs(k.avg_first_reply_secs) })} />
        <${Kpi} id="fallback" label=${t("analytics.fallback_rate")} value=${pct(k.fallback_rate)} hint=${t("analytics.messages_not_understood")} />
        <${Kpi} id="turns" label=${t("analytics.turns_per_conversation")} value=${num(k.avg_turns)} />
        <${Kpi} id="csat" label=${t("analytics.csat")} value=${k.csat_avg === null ? "—" : `${num(k.csat_avg)} / 5`} hint=${`${k.csat_count} answers`} />
        <${Kpi} id="feedback" label=${t("analytics.helpful_answers")} value=${pct(k.feedback_positive_rate)} hint=${`${o.totals.feedback_up} 👍 · ${o.totals.feedback_down} 👎`} />
      </div>
      <${DrillLinks} filters=${filters} botId=${botIdOf(base)} overview=${o} />
      <div class="chart-grid">
        ${Object.entries(sp).map(([id, spec]) => html`<${ChartCard} key=${id} id=${id} spec=${spec} />`)}
      </div>
      ${o.unanswered.length > 0 &&
      html`<section class="card" id="unanswered-list" aria-labelledby="unanswered-title">
        <h2 id="unanswered-title">${t("analytics.unanswered_questions_grouped")}</h2>
        <p class="muted small">${o.clustering === "embeddings" ? t("analytics.grouped_by_meaning_with_the") : t("analytics.grouped_by_identical_wording_the")}</p>
        <ol>
          ${o.unanswered.map(
            (u) => html`<li><strong>${u.text}</strong> <span class="badge">${u.count}×</span> <${DrillLink} href=${drillHref(filters, botIdOf(base), "fallback", { text: u.text })} id="unanswered">${t("analytics.conversations")}<//>${u.examples.length ? html` <span class="muted small">${t("analytics.also")} ${u.examples.join(" · ")}</span>` : ""}</li>`,
          )}
        </ol>
      </section>`}
    </div>`}
  <//>`;
}

const KINDS = () => ([
  ["session", t("analytics.conversations_2")],
  ["handoff", t("analytics.hand_offs")],
  ["first_reply", t("analytics.first_human_replies")],
  ["fallback", t("analytics.fallbacks_unanswered")],
  ["csat", t("analytics.csat_answers")],
  ["intent", t("analytics.recognised_intents")],
  ["message", t("analytics.end_user_messages")],
]);

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
  return html`<nav class="row small" id="analytics-drill" aria-label=${t("analytics.drill_down")}>
    <span class="muted">${t("analytics.show_the_conversations_behind")}</span>
    ${KINDS().map(([k, label]) => html`<${DrillLink} href=${drillHref(filters, botId, k)} id=${k}>${label}<//>`)}
    <${DrillLink} href=${drillHref(filters, botId, "csat", { csat_max: 2 })} id="low_csat">${t("analytics.low_csat_1_2")}<//>
    <${DrillLink} href=${drillHref(filters, botId, "message")} id="message">${t("analytics.messages_in")}<//>
    ${cell && html`<${DrillLink} href=${drillHref(filters, botId, "message", { weekday: cell.w, hour: cell.h })} id="busiest">${t("analytics.busiest_hour")}${weekdays()[cell.w]} ${String(cell.h).padStart(2, "0")}${t("analytics.00_messages", { n: cell.n })}<//>`}
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
  const label = (KINDS().find(([k]) => k === kind) || [kind, kind])[1];
  const page = load.data;
  return html`<${Page} title=${`${label} · ${q.get("from") || ""} – ${q.get("to") || ""}`}>
    <p class="muted" id="drill-filters">${[
      q.get("channel") && `channel ${q.get("channel")}`,
      q.get("csat_max") && t("analytics.scores_up_to", { value: q.get("csat_max") }),
      q.get("weekday") && `${weekdays()[Number(q.get("weekday"))] || "?"} ${String(q.get("hour") || 0).padStart(2, "0")}:00 (${q.get("tz") || "UTC"})`,
      q.get("text") && `“${q.get("text")}”`,
    ].filter(Boolean).join(" · ")}</p>
    <p><a href=${dashboard} id="drill-back" onClick=${(e) => (e.preventDefault(), navigate(dashboard))}>${t("analytics.back_to_the_dashboard")}</a></p>
    <${ErrorBox} error=${load.error} />
    <${Loading} load=${load} />
    ${page && !page.items.length && html`<div class="card empty-state" id="drill-empty" role="status"><p>${t("analytics.nothing_of_this_kind_in")}</p></div>`}
    ${page && page.items.length > 0 && html`<table id="drill-table" data-kind=${kind}>
      <thead><tr><th>${t("common.when")}</th><th>${t("common.channel")}</th><th>${kind === "intent" ? t("common.intent") : t("common.text")}</th><th>${kind === "csat" ? t("analytics.score") : kind === "first_reply" ? t("analytics.seconds") : t("common.value")}</th><th>${t("analytics.transcript")}</th></tr></thead>
      <tbody>${page.items.map(
        (e) => html`<tr data-event=${e.id}>
          <td>${e.created_at.replace("T", " ").slice(0, 19)}</td><td>${e.channel}</td><td>${e.text || ""}</td><td>${e.value === null || e.value === undefined ? "" : e.value}</td>
          <td>${e.conversation_id
            ? html`<a data-transcript=${e.conversation_id} href=${`/bots/${e.bot_id}/conversations?conversation=${e.conversation_id}`} onClick=${(ev) => (ev.preventDefault(), navigate(`/bots/${e.bot_id}/conversations?conversation=${e.conversation_id}`))}>${t("analytics.open_conversation", { conversation_id: e.conversation_id })}</a>`
            : html`<span class="muted">${t("analytics.deleted")}</span>`}</td>
        </tr>`,
      )}</tbody>
    </table>`}
    <div class="row">
      ${after.length > 0 && html`<button type="button" id="drill-prev" onClick=${() => setAfter(after.slice(0, -1))}>${t("analytics.newer")}</button>`}
      ${page && page.next_cursor && html`<button type="button" id="drill-next" onClick=${() => setAfter([...after, page.next_cursor])}>${t("common.older")}</button>`}
    </div>
  <//>`;
}

function BotAnalytics({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Dashboard}
    base=${`/api/v1/bots/${botId}/analytics/overview`}
    title=${t("analytics.analytics_2", { value: bot.data ? bot.data.name : "" })}
    nav=${html`<${BotNav} botId=${botId} active="analytics" />
      <p class="row"><a class="button small" href=${`/api/v1/bots/${botId}/feedback/export`} download id="feedback-export">${t("analytics.export_answer_feedback_csv")}</a></p>`}
  />`;
}

function OrgAnalytics() {
  const org = currentOrg();
  const bots = useLoad(() => (org ? get(`/api/v1/orgs/${org.id}/bots?limit=200`) : Promise.resolve({ items: [] })), [org && org.id]);
  if (!org) return html`<${Page} title=${t("analytics.analytics")}><p class="muted">${t("analytics.choose_an_organization_first")}</p><//>`;
  return html`<${Dashboard}
    base=${`/api/v1/orgs/${org.id}/analytics/overview`}
    title=${t("analytics.analytics_3", { name: org.name })}
    bots=${(bots.data && bots.data.items) || []}
  />`;
}

route("/analytics", OrgAnalytics, { nav: { label: "nav.analytics", section: "nav.insights", order: 25, requires: "analytics.read" } });
route("/bots/:botId/analytics", BotAnalytics);
route("/analytics/events", DrillDown);
