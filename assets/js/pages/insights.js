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
  return html`<div class="row" role="group" aria-label="Period">
    <label>From <input type="date" id=${`${idPrefix}-from`} value=${filters.from} onChange=${(e) => setFilters({ ...filters, from: e.target.value })} /></label>
    <label>To <input type="date" id=${`${idPrefix}-to`} value=${filters.to} onChange=${(e) => setFilters({ ...filters, to: e.target.value })} /></label>
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
      toast("Added as an example");
      onChanged();
    } catch (e) {
      toastError(e);
    }
  };
  if (page.error) return html`<${ErrorBox} error=${page.error} />`;
  if (!page.data) return html`<p class="muted">Loading…</p>`;
  if (!page.data.items.length) return html`<p class="muted empty" data-empty=${kind}>No ${kind === "unmatched" ? "unmatched" : "low-confidence"} messages in this period.</p>`;
  return html`<table class="table" data-messages=${kind}><thead><tr><th>Message</th><th>Intent</th><th>Confidence</th><th>When</th>${can("bots.write") && html`<th>Add as example of</th>`}</tr></thead>
    <tbody>${page.data.items.map(
      (m) => html`<tr data-log=${m.id}><td>${m.text}</td><td>${m.intent || "—"}</td><td>${m.confidence.toFixed(2)}</td><td>${formatDate(m.created_at)}</td>
        ${can("bots.write") && html`<td class="row"><select aria-label=${`Intent for “${m.text}”`} value=${target[m.id] || ""} onChange=${(e) => setTarget({ ...target, [m.id]: e.target.value })}>
          <option value="">Choose…</option>${intents.map((i) => html`<option value=${i.id}>${i.name}</option>`)}</select>
          <button type="button" disabled=${!target[m.id]} onClick=${() => add(m)}>Add</button></td>`}</tr>`,
    )}</tbody></table>
    ${page.data.next_cursor && html`<button type="button" onClick=${() => setAfter(page.data.next_cursor)}>Older</button>`}`;
}

function Conflicts({ base, intents, reload, onChanged }) {
  const [threshold, setThreshold] = useState("0.9");
  const c = useLoad(() => get(`${base}/nlu/insights/conflicts?threshold=${threshold}`), [base, threshold, reload]);
  const move = async (example, intentId) => {
    try {
      await post(`${base}/nlu/insights/move-example`, { example_id: example.example_id, intent_id: Number(intentId) });
      toast("Example moved");
      onChanged();
    } catch (e) {
      toastError(e);
    }
  };
  const side = (x, other) => html`<div><strong>${x.intent}</strong>: “${x.text}”
    ${can("bots.write") && html` <button type="button" class="small" onClick=${() => move(x, other.intent_id)}>Move to ${other.intent}</button>`}</div>`;
  return html`<div class="card" id="nlu-conflicts"><div class="row"><h3>Conflicts</h3>
      <label>Similarity ≥ <input type="number" min="0.5" max="1" step="0.01" value=${threshold} onChange=${(e) => setThreshold(e.target.value)} style="width:6em" /></label></div>
    <${ErrorBox} error=${c.error} />
    ${c.data && (c.data.pairs.length === 0 && c.data.confusions.length === 0
      ? html`<p class="muted empty">No conflicting examples.</p>`
      : html`<ul>${c.data.pairs.map((p) => html`<li data-conflict=${`${p.a.example_id}-${p.b.example_id}`}>${(p.similarity * 100).toFixed(0)}% alike ${side(p.a, p.b)} ${side(p.b, p.a)}</li>`)}</ul>
        ${c.data.confusions.length > 0 && html`<p>Confused in the last evaluation: ${c.data.confusions.map((x) => `${x.expected} → ${x.predicted} (${x.count})`).join(", ")}</p>`}`)}
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
  return html`<div class="card" id="nlu-similar"><h3>Find similar examples</h3>
    <form class="row" onSubmit=${find}><label>Sentence <input id="similar-text" value=${text} onInput=${(e) => setText(e.target.value)} /></label><button type="submit">Find</button></form>
    <${ErrorBox} error=${error} />
    ${result && (result.items.length ? html`<ol>${result.items.map((x) => html`<li>${x.text} — <strong>${x.intent}</strong> (${x.score.toFixed(2)})</li>`)}</ol>` : html`<p class="muted empty">No examples yet.</p>`)}
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
    title: "Confidence",
    bins: sum.data ? sum.data.histogram.map((b) => ({ from: b.lower, to: b.upper, count: b.count })) : [],
    empty: "No messages in this period.",
  };
  const q = quality.data;
  const qualitySpec = {
    type: "bar",
    title: "Precision and recall per intent",
    categories: q ? q.per_intent.map((m) => m.intent) : [],
    series: q ? [{ name: "precision", values: q.per_intent.map((m) => m.precision) }, { name: "recall", values: q.per_intent.map((m) => m.recall) }] : [],
    empty: "Run an evaluation (NLU › Evaluate) to see precision and recall.",
  };
  return html`<section aria-labelledby="nlu-insights-h"><h2 id="nlu-insights-h">NLU</h2>
    <${ErrorBox} error=${sum.error} />
    ${sum.data && html`<div class="grid" id="nlu-totals">
      ${[["Messages", sum.data.total], ["Matched", sum.data.matched], ["Low confidence", sum.data.low_confidence], ["Unmatched", sum.data.unmatched]].map(
        ([k, v]) => html`<div class="card"><div class="muted">${k}</div><div style="font-size:1.6rem" data-total=${k}>${v}</div></div>`,
      )}</div>`}
    <${ChartCard} id="nlu-histogram" title="Confidence histogram" spec=${histogram} filename="nlu-confidence.csv" />
    <div class="card"><h3>Low-confidence messages</h3><${Messages} base=${base} range=${range} kind="low_confidence" intents=${list} onChanged=${changed} /></div>
    <div class="card"><h3>Unmatched messages</h3><${Messages} base=${base} range=${range} kind="unmatched" intents=${list} onChanged=${changed} /></div>
    <${ChartCard} id="nlu-quality" title=${q && q.evaluated_at ? `Intent quality (evaluated ${formatDate(q.evaluated_at)})` : "Intent quality"} spec=${qualitySpec} filename="nlu-quality.csv" />
    <${Conflicts} base=${base} intents=${list} reload=${reload} onChanged=${changed} />
    <div class="card" id="nlu-gaps"><h3>Training gaps</h3><${ErrorBox} error=${gaps.error} />
      ${gaps.data && !gaps.data.similarity_checked && html`<p class="muted">The local models are off: only the number of examples was checked.</p>`}
      ${gaps.data && (gaps.data.gaps.length === 0 ? html`<p class="muted empty">Every intent has enough varied examples.</p>`
        : html`<ul>${gaps.data.gaps.map((g) => html`<li data-gap=${g.intent}><strong>${g.intent}</strong>: ${g.examples} example${g.examples === 1 ? "" : "s"}${g.reasons.includes("examples_too_similar") ? ` · examples too alike (${(g.mean_similarity * 100).toFixed(0)}%)` : ""}${g.reasons.includes("too_few_examples") ? ` · add at least ${gaps.data.min_examples}` : ""}</li>`)}</ul>`)}
    </div>
    <${Similar} base=${base} />
  </section>`;
}

function KnowledgeInsights({ base, range }) {
  const k = useLoad(() => get(`${base}/knowledge/insights${qs(range)}`), [base, range.from, range.to]);
  const low = useLoad(() => get(`${base}/knowledge/insights/low-scores${qs(range)}`), [base, range.from, range.to]);
  const d = k.data;
  const answers = { type: "bar", title: "Knowledge answers", categories: ["Answered", "I don't know", "Errors"], series: [{ name: "questions", values: d ? [d.answered, d.unanswered, d.errors] : [] }], empty: "No knowledge questions in this period." };
  const docs = { type: "bar", horizontal: true, title: "Most cited documents", categories: d ? d.top_documents.map((x) => x.title || `#${x.document_id}`) : [], series: [{ name: "citations", values: d ? d.top_documents.map((x) => x.citations) : [] }], empty: "No citations in this period." };
  return html`<section aria-labelledby="kb-insights-h" id="knowledge-insights"><h2 id="kb-insights-h">Knowledge</h2>
    <${ErrorBox} error=${k.error} />
    ${d && html`<p id="kb-answer-rate">${d.questions} question${d.questions === 1 ? "" : "s"}, ${Math.round(d.answer_rate * 100)}% answered from knowledge.</p>`}
    ${d && d.questions === 0 ? html`<p class="muted empty">No knowledge questions in this period.</p>` : html`
    <${ChartCard} id="kb-answers" title="Answered vs “I don't know”" spec=${answers} filename="knowledge-answers.csv" />
    <${ChartCard} id="kb-documents" title="Most cited documents" spec=${docs} filename="knowledge-documents.csv" />`}
    <div class="card"><h3>Questions with low retrieval scores</h3>
      ${low.data && (low.data.items.length === 0 ? html`<p class="muted empty">None in this period.</p>`
        : html`<table class="table"><thead><tr><th>Question</th><th>Best score</th><th>Answer</th><th>When</th></tr></thead>
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
  return html`<${Page} title=${`Insights · ${bot.data ? bot.data.name : ""}`}>
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
  const t = timeline.data;
  const spec = {
    type: "bar",
    stacked: true,
    title: "Activity per day",
    categories: t ? t.days.map((d) => d.day) : [],
    series: t ? [{ name: "audit events", values: t.days.map((d) => d.audit_events) }, { name: "activity", values: t.days.map((d) => d.activity_events) }] : [],
    empty: "No activity in this period.",
  };
  return html`<${Page} title="Organization admin">
    <${ErrorBox} error=${stats.error || timeline.error} />
    ${s && html`<div class="grid" id="org-stats">${[
      ["Members", s.members], ["Bots", s.bots], ["Open conversations", s.conversations_open], ["In the inbox", s.conversations_handoff],
      ["Messages (30 days)", s.messages_last_30_days], ["Documents", s.documents], ["Files", `${(s.files_bytes / 1048576).toFixed(1)} MiB`],
      ["Queued jobs", s.jobs_queued], ["Failed jobs (24 h)", s.jobs_failed_last_24h],
    ].map(([k, v]) => html`<div class="card"><div class="muted">${k}</div><div style="font-size:1.6rem">${v}</div></div>`)}</div>`}
    <${RangeFilters} filters=${filters} setFilters=${setFilters} idPrefix="timeline" />
    <${ChartCard} id="org-timeline" title="Activity timeline" spec=${spec} filename="activity.csv" />
    ${t && html`<div class="card"><h3>Latest events</h3>${t.recent.length === 0 ? html`<p class="muted empty">No events in the last 30 days.</p>`
      : html`<table class="table"><thead><tr><th>When</th><th>Who</th><th>Action</th><th>Resource</th></tr></thead>
        <tbody>${t.recent.map((e) => html`<tr><td>${formatDate(e.created_at)}</td><td>${e.user_name || e.user_email || "—"}</td><td>${e.action}</td><td>${e.resource_type || ""} ${e.resource_id || ""}</td></tr>`)}</tbody></table>`}</div>`}
  <//>`;
}

route("/bots/:botId/insights", BotInsights);
route("/org-admin", OrgAdmin, { nav: { label: "Organization admin", section: "Organization", order: 74, requires: "analytics.read" } });
