// Insights: a bot's NLU insights (confidence histogram, low-confidence and
// unmatched messages with "add as example", per-intent quality, conflicts
// with "move", training gaps, find-similar) and knowledge insights
// (answered vs "I don't know", most cited documents, low retrieval scores);
// and the organization's admin page (stats, activity timeline). Filters
// live in the URL so a view can be shared; every chart exports its data as CSV.
import { html, Page, useLoad, useState, useEffect, ErrorBox, toast, toastError, formatDate } from "../ui.js";
import { route } from "../router.js";
import { get, post } from "../api.js";
import { can, currentOrg } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";
import { Chart, CsvButton } from "../charts.js";
import { t } from "../i18n.js";

/** Filters kept in the query string (shareable URLs). */
function useUrlFilters(keys) {
  const initial = Object.fromEntries(keys.map((k) => [k, new URLSearchParams(location.search).get(k) || ""]));
  const [filters, setFilters] = useState(initial);
  useEffect(() => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    const url = location.pathname + (q.toString() ? `?${q}` : "");
    if (url !== location.pathname + location.search) history.replaceState(history.state, "", url);
  }, [JSON.stringify(filters)]);
  return [filters, setFilters];
}

function qs(filters) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

function RangeFilters({ filters, setFilters, idPrefix }) {
  return html`<div class="row" role="group" aria-label=${t("insights.period")}>
    <label>${t("common.from")} <input type="date" id=${`${idPrefix}-from`} value=${filters.from} onChange=${(e) => setFilters({ ...filters, from: e.target.value })} /></label>
    <label>${t("common.to")} <input type="date" id=${`${idPrefix}-to`} value=${filters.to} onChange=${(e) => setFilters({ ...filters, to: e.target.value })} /></label>
  </div>`;
}

function ChartCard({ id, title, spec, filename }) {
  return html`<div class="card" id=${id}><div class="row"><h3>${title}</h3><${CsvButton} spec=${spec} filename=${filename} /></div><${Chart} spec=${spec} /></div>`;
}

function Messages({ base, range, kind, intents, onChanged }) {
  const [after, setAfter] = useState(null);
  const page = useLoad(() => get(`${base}/nlu/insights/messages${qs({ ...range, kind, after })}`), [base, range.from, range.to, kind, after]);
  const [target, setTarget] = useState({});
  const add = async (log) => {
    try {
      await post(`${base}/nlu/insights/add-example`, { log_id: log.id, intent_id: Number(target[log.id]) });
      toast(t("insights.added_as_an_example"));
      onChanged();
    } catch (e) {
      toastError(e);
    }
  };
  if (page.error) return html`<${ErrorBox} error=${page.error} />`;
  if (!page.data) return html`<p class="muted">${t("common.loading")}</p>`;
  if (!page.data.items.length) return html`<p class="muted empty" data-empty=${kind}>${t("insights.no")} ${kind === "unmatched" ? "unmatched" : "low-confidence"} ${t("insights.messages_in_this_period")}</p>`;
  return html`<table class="table" data-messages=${kind}><thead><tr><th>${t("common.message")}</th><th>${t("common.intent")}</th><th>${t("insights.confidence")}</th><th>${t("common.when")}</th>${can("bots.write") && html`<th>${t("insights.add_as_example_of")}</th>`}</tr></thead>
    <tbody>${page.data.items.map(
      (m) => html`<tr data-log=${m.id}><td>${m.text}</td><td>${m.intent || "—"}</td><td>${m.confidence.toFixed(2)}</td><td>${formatDate(m.created_at)}</td>
        ${can("bots.write") && html`<td class="row"><select aria-label=${t("insights.intent_for", { text: m.text })} value=${target[m.id] || ""} onChange=${(e) => setTarget({ ...target, [m.id]: e.target.value })}>
          <option value="">${t("insights.choose")}</option>${intents.map((i) => html`<option value=${i.id}>${i.name}</option>`)}</select>
          <button type="button" disabled=${!target[m.id]} onClick=${() => add(m)}>${t("common.add")}</button></td>`}</tr>`,
    )}</tbody></table>
    ${page.data.next_cursor && html`<button type="button" onClick=${() => setAfter(page.data.next_cursor)}>${t("common.older")}</button>`}`;
}

function Conflicts({ base, intents, reload, onChanged }) {
  const [threshold, setThreshold] = useState("0.9");
  const c = useLoad(() => get(`${base}/nlu/insights/conflicts?threshold=${threshold}`), [base, threshold, reload]);
  const move = async (example, intentId) => {
    try {
      await post(`${base}/nlu/insights/move-example`, { example_id: example.example_id, intent_id: Number(intentId) });
      toast(t("insights.example_moved"));
      onChanged();
    } catch (e) {
      toastError(e);
    }
  };
  const side = (x, other) => html`<div><strong>${x.intent}</strong>: “${x.text}”
    ${can("bots.write") && html` <button type="button" class="small" onClick=${() => move(x, other.intent_id)}>${t("insights.move_to", { intent: other.intent })}</button>`}</div>`;
  return html`<div class="card" id="nlu-conflicts"><div class="row"><h3>${t("insights.conflicts")}</h3>
      <label>${t("insights.similarity")} <input type="number" min="0.5" max="1" step="0.01" value=${threshold} onChange=${(e) => setThreshold(e.target.value)} style="width:6em" /></label></div>
    <${ErrorBox} error=${c.error} />
    ${c.data && (c.data.pairs.length === 0 && c.data.confusions.length === 0
      ? html`<p class="muted empty">${t("insights.no_conflicting_examples")}</p>`
      : html`<ul>${c.data.pairs.map((p) => html`<li data-conflict=${`${p.a.example_id}-${p.b.example_id}`}>${(p.similarity * 100).toFixed(0)}${t("insights.alike")} ${side(p.a, p.b)} ${side(p.b, p.a)}</li>`)}</ul>
        ${c.data.confusions.length > 0 && html`<p>${t("insights.confused_in_the_last_evaluation")} ${c.data.confusions.map((x) => `${x.expected} → ${x.predicted} (${x.count})`).join(", ")}</p>`}`)}
  </div>`;
}

function Similar({ base }) {
  const [text, setText] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const find = async (e) => {
    e.preventDefault();
    try {
      setError(null);
      setResult(await post(`${base}/nlu/insights/similar`, { text, limit: 10 }));
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="nlu-similar"><h3>${t("insights.find_similar_examples")}</h3>
    <form class="row" onSubmit=${find}><label>${t("insights.sentence")} <input id="similar-text" value=${text} onInput=${(e) => setText(e.target.value)} /></label><button type="submit">${t("insights.find")}</button></form>
    <${ErrorBox} error=${error} />
    ${result && (result.items.length ? html`<ol>${result.items.map((x) => html`<li>${x.text} — <strong>${x.intent}</strong> (${x.score.toFixed(2)})</li>`)}</ol>` : html`<p class="muted empty">${t("insights.no_examples_yet")}</p>`)}
  </div>`;
}

function NluInsights({ base, range }) {
  const [reload, setReload] = useState(0);
  const sum = useLoad(() => get(`${base}/nlu/insights/summary${qs(range)}`), [base, range.from, range.to, reload]);
  const quality = useLoad(() => get(`${base}/nlu/insights/intents`), [base]);
  const gaps = useLoad(() => get(`${base}/nlu/insights/gaps`), [base, reload]);
  const intents = useLoad(() => get(`${base}/nlu/intents?limit=200`), [base, reload]);
  const list = intents.data ? intents.data.items : [];
  const changed = () => setReload((r) => r + 1);
  const histogram = {
    type: "histogram",
    title: t("insights.confidence"),
    bins: sum.data ? sum.data.histogram.map((b) => ({ from: b.lower, to: b.upper, count: b.count })) : [],
    empty: t("insights.no_messages_in_this_period"),
  };
  const q = quality.data;
  const qualitySpec = {
    type: "bar",
    title: t("insights.precision_and_recall_per_intent"),
    categories: q ? q.per_intent.map((m) => m.intent) : [],
    series: q ? [{ name: "precision", values: q.per_intent.map((m) => m.precision) }, { name: "recall", values: q.per_intent.map((m) => m.recall) }] : [],
    empty: t("insights.run_an_evaluation_nlu_evaluate"),
  };
  return html`<section aria-labelledby="nlu-insights-h"><h2 id="nlu-insights-h">${t("common.nlu")}</h2>
    <${ErrorBox} error=${sum.error} />
    ${sum.data && html`<div class="grid" id="nlu-totals">
      ${[[t("insights.messages"), sum.data.total], [t("insights.matched"), sum.data.matched], [t("insights.low_confidence"), sum.data.low_confidence], [t("insights.unmatched"), sum.data.unmatched]].map(
        ([k, v]) => html`<div class="card"><div class="muted">${k}</div><div style="font-size:1.6rem" data-total=${k}>${v}</div></div>`,
      )}</div>`}
    <${ChartCard} id="nlu-histogram" title=${t("insights.confidence_histogram")} spec=${histogram} filename="nlu-confidence.csv" />
    <div class="card"><h3>${t("insights.low_confidence_messages")}</h3><${Messages} base=${base} range=${range} kind="low_confidence" intents=${list} onChanged=${changed} /></div>
    <div class="card"><h3>${t("insights.unmatched_messages")}</h3><${Messages} base=${base} range=${range} kind="unmatched" intents=${list} onChanged=${changed} /></div>
    <${ChartCard} id="nlu-quality" title=${q && q.evaluated_at ? t("insights.intent_quality_evaluated", { evaluated_at: formatDate(q.evaluated_at) }) : t("insights.intent_quality")} spec=${qualitySpec} filename="nlu-quality.csv" />
    <${Conflicts} base=${base} intents=${list} reload=${reload} onChanged=${changed} />
    <div class="card" id="nlu-gaps"><h3>${t("insights.training_gaps")}</h3><${ErrorBox} error=${gaps.error} />
      ${gaps.data && !gaps.data.similarity_checked && html`<p class="muted">${t("insights.the_local_models_are_off")}</p>`}
      ${gaps.data && (gaps.data.gaps.length === 0 ? html`<p class="muted empty">${t("insights.every_intent_has_enough_varied")}</p>`
        : html`<ul>${gaps.data.gaps.map((g) => html`<li data-gap=${g.intent}><strong>${g.intent}</strong>${t("insights.examples_count", { count: g.examples })}${g.reasons.includes("examples_too_similar") ? t("insights.examples_too_alike", { percent: (g.mean_similarity * 100).toFixed(0) }) : ""}${g.reasons.includes("too_few_examples") ? t("insights.add_at_least", { min: gaps.data.min_examples }) : ""}</li>`)}</ul>`)}
    </div>
    <${Similar} base=${base} />
  </section>`;
}

function KnowledgeInsights({ base, range }) {
  const k = useLoad(() => get(`${base}/knowledge/insights${qs(range)}`), [base, range.from, range.to]);
  const low = useLoad(() => get(`${base}/knowledge/insights/low-scores${qs(range)}`), [base, range.from, range.to]);
  const d = k.data;
  const answers = { type: "bar", title: t("insights.knowledge_answers"), categories: [t("insights.answered"), t("insights.i_don_t_know"), t("insights.errors")], series: [{ name: "questions", values: d ? [d.answered, d.unanswered, d.errors] : [] }], empty: t("insights.no_knowledge_questions_in_this") };
  const docs = { type: "bar", horizontal: true, title: t("insights.most_cited_documents"), categories: d ? d.top_documents.map((x) => x.title || `#${x.document_id}`) : [], series: [{ name: "citations", values: d ? d.top_documents.map((x) => x.citations) : [] }], empty: t("insights.no_citations_in_this_period") };
  return html`<section aria-labelledby="kb-insights-h" id="knowledge-insights"><h2 id="kb-insights-h">${t("insights.knowledge")}</h2>
    <${ErrorBox} error=${k.error} />
    ${d && html`<p id="kb-answer-rate">${t("insights.questions_answered_from_knowledge", { count: d.questions, percent: Math.round(d.answer_rate * 100) })}</p>`}
    ${d && d.questions === 0 ? html`<p class="muted empty">${t("insights.no_knowledge_questions_in_this")}</p>` : html`
    <${ChartCard} id="kb-answers" title=${t("insights.answered_vs_i_don_t")} spec=${answers} filename="knowledge-answers.csv" />
    <${ChartCard} id="kb-documents" title=${t("insights.most_cited_documents")} spec=${docs} filename="knowledge-documents.csv" />`}
    <div class="card"><h3>${t("insights.questions_with_low_retrieval_scores")}</h3>
      ${low.data && (low.data.items.length === 0 ? html`<p class="muted empty">${t("insights.none_in_this_period")}</p>`
        : html`<table class="table"><thead><tr><th>${t("insights.question_2")}</th><th>${t("insights.best_score")}</th><th>${t("insights.answer")}</th><th>${t("common.when")}</th></tr></thead>
          <tbody>${low.data.items.map((x) => html`<tr><td>${x.query}</td><td>${x.top_score == null ? "—" : x.top_score.toFixed(2)}</td><td>${x.mode.replace("_", " ")}</td><td>${formatDate(x.created_at)}</td></tr>`)}</tbody></table>`)}
    </div>
  </section>`;
}

function BotInsights({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const [filters, setFilters] = useUrlFilters(["from", "to"]);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  const base = `/api/v1/bots/${botId}`;
  return html`<${Page} title=${t("insights.insights", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="insights" />
    <${RangeFilters} filters=${filters} setFilters=${setFilters} idPrefix="insights" />
    <${NluInsights} base=${base} range=${filters} />
    <${KnowledgeInsights} base=${base} range=${filters} />
  <//>`;
}

function OrgAdmin() {
  const org = currentOrg();
  const [filters, setFilters] = useUrlFilters(["from", "to"]);
  const stats = useLoad(() => get(`/api/v1/orgs/${org.id}/admin/stats`), [org.id]);
  const timeline = useLoad(() => get(`/api/v1/orgs/${org.id}/admin/activity-timeline${qs(filters)}`), [org.id, filters.from, filters.to]);
  const s = stats.data;
  const tv = timeline.data;
  const spec = {
    type: "bar",
    stacked: true,
    title: t("insights.activity_per_day"),
    categories: tv ? tv.days.map((d) => d.day) : [],
    series: tv ? [{ name: "audit events", values: tv.days.map((d) => d.audit_events) }, { name: "activity", values: tv.days.map((d) => d.activity_events) }] : [],
    empty: t("insights.no_activity_in_this_period"),
  };
  return html`<${Page} title=${t("insights.organization_admin")}>
    <${ErrorBox} error=${stats.error || timeline.error} />
    ${s && html`<div class="grid" id="org-stats">${[
      [t("insights.members"), s.members], [t("insights.bots"), s.bots], [t("insights.open_conversations"), s.conversations_open], [t("insights.in_the_inbox"), s.conversations_handoff],
      [t("insights.messages_30_days"), s.messages_last_30_days], [t("insights.documents"), s.documents], [t("insights.files"), t("insights.mib", { value: (s.files_bytes / 1048576).toFixed(1) })],
      [t("insights.queued_jobs"), s.jobs_queued], [t("insights.failed_jobs_24_h"), s.jobs_failed_last_24h],
    ].map(([k, v]) => html`<div class="card"><div class="muted">${k}</div><div style="font-size:1.6rem">${v}</div></div>`)}</div>`}
    <${RangeFilters} filters=${filters} setFilters=${setFilters} idPrefix="timeline" />
    <${ChartCard} id="org-timeline" title=${t("insights.activity_timeline")} spec=${spec} filename="activity.csv" />
    ${tv && html`<div class="card"><h3>${t("insights.latest_events")}</h3>${tv.recent.length === 0 ? html`<p class="muted empty">${t("insights.no_events_in_the_last")}</p>`
      : html`<table class="table"><thead><tr><th>${t("common.when")}</th><th>${t("insights.who")}</th><th>${t("common.action")}</th><th>${t("insights.resource")}</th></tr></thead>
        <tbody>${tv.recent.map((e) => html`<tr><td>${formatDate(e.created_at)}</td><td>${e.user_name || e.user_email || "—"}</td><td>${e.action}</td><td>${e.resource_type || ""} ${e.resource_id || ""}</td></tr>`)}</tbody></table>`}</div>`}
  <//>`;
}

route("/bots/:botId/insights", BotInsights);
route("/org-admin", OrgAdmin, { nav: { label: "nav.organization_admin", section: "nav.organization", order: 74, requires: "analytics.read" } });
