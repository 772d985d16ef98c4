// Autonomous agents: agents that work towards a goal on their own. The list
// leads to one agent's page: its settings form (goal, model, tools, cron
// schedule with a live preview of the next runs, event and inbound-webhook
// triggers, step limit and budgets, delivery), "Run now", the analytics card,
// the run history with each run's plan and steps (pause, resume, cancel),
// and the memory browser (search by meaning, add, forget, consolidate).
import { html, Page, useLoad, useState, useEffect, ErrorBox, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { t } from "../i18n.js";

const RUN_BADGE = { completed: "ok", failed: "bad", cancelled: "", paused: "", running: "", pending: "" };
const money = (micros) => (micros == null ? "—" : `$${(micros / 1e6).toFixed(4)}`);
const orNull = (v) => (String(v ?? "").trim() === "" ? null : v);
const numOrNull = (v) => (String(v ?? "").trim() === "" ? null : Number(v));

/** The next times a schedule fires, fetched as the user types. */
function SchedulePreview({ org, cron, timezone }) {
  const [state, setState] = useState({});
  useEffect(() => {
    if (!cron.trim()) return setState({});
    const tv = setTimeout(async () => {
      try {
        const r = await post(`/api/v1/orgs/${org.id}/autonomous-agents/schedule-preview`, {
          schedule: { cron, timezone: timezone || "UTC" },
          count: 3,
        });
        setState({ runs: r.next_runs_local });
      } catch (err) {
        setState({ error: err.message });
      }
    }, 300);
    return () => clearTimeout(tv);
  }, [cron, timezone]);
  if (state.error) return html`<div class="muted small" id="schedule-preview" role="status">${state.error}</div>`;
  if (!state.runs) return null;
  return html`<div class="muted small" id="schedule-preview" role="status">${t("autonomous.next_runs")} ${state.runs.join(" · ")}</div>`;
}

function AgentForm({ org, agent, onSaved, onCancel }) {
  const editing = !!agent;
  const a = agent || {};
  const providers = useLoad(() => get(`/api/v1/orgs/${org.id}/llm-providers?limit=200`), [org.id]);
  const tools = useLoad(() => get(`/api/v1/orgs/${org.id}/tools?limit=200`), [org.id]);
  const events = useLoad(() => get(`/api/v1/orgs/${org.id}/webhook-events`), [org.id]);
  const [f, setF] = useState({
    name: a.name || "",
    goal: a.goal || "",
    description: a.description || "",
    provider_id: a.provider_id ?? "",
    model: a.model || "",
    system_prompt: a.system_prompt || "",
    tool_ids: a.tool_ids || [],
    cron: a.schedule ? a.schedule.cron : "",
    timezone: a.schedule ? a.schedule.timezone : Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    trigger_event: a.trigger_event || "",
    max_steps: String(a.max_steps ?? 8),
    token_budget: a.token_budget ?? "",
    cost_budget_micros: a.cost_budget_micros ?? "",
    deliver_email: a.deliver_email || "",
    deliver_webhook: !!a.deliver_webhook,
    memory_cap: String(a.memory_cap ?? 200),
    status: a.status || "active",
  });
  const [error, setError] = useState(null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const toggleTool = (id) =>
    setF({ ...f, tool_ids: f.tool_ids.includes(id) ? f.tool_ids.filter((x) => x !== id) : [...f.tool_ids, id] });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const body = {
      name: f.name,
      goal: f.goal,
      description: orNull(f.description),
      provider_id: numOrNull(f.provider_id),
      model: orNull(f.model),
      system_prompt: orNull(f.system_prompt),
      tool_ids: f.tool_ids,
      schedule: f.cron.trim() ? { cron: f.cron, timezone: f.timezone || "UTC" } : null,
      trigger_event: orNull(f.trigger_event),
      max_steps: Number(f.max_steps),
      token_budget: numOrNull(f.token_budget),
      cost_budget_micros: numOrNull(f.cost_budget_micros),
      deliver_email: orNull(f.deliver_email),
      deliver_webhook: f.deliver_webhook,
      memory_cap: Number(f.memory_cap),
      status: f.status,
    };
    try {
      const saved = editing
        ? await patch(`/api/v1/autonomous-agents/${agent.id}`, body)
        : await post(`/api/v1/orgs/${org.id}/autonomous-agents`, body);
      toast(`${saved.name} saved`);
      onSaved(saved);
    } catch (err) {
      setError(err);
    }
  };
  const field = (id, label, k, attrs = {}) => html`<div>
    <label for=${id}>${label}</label>
    <input id=${id} name=${k} value=${f[k]} onInput=${set(k)} ...${attrs} />
    <${FieldError} error=${error} name=${k} />
  </div>`;
  return html`<form class="card" id="autonomous-form" onSubmit=${submit}>
    <h2>${editing ? t("autonomous.edit", { name: agent.name }) : t("autonomous.new_autonomous_agent")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      ${field("aa-name", t("common.name"), "name", { required: true, maxlength: 100 })}
      <div>
        <label for="aa-status">${t("common.status")}</label>
        <select id="aa-status" name="status" value=${f.status} onChange=${set("status")}>
          <option value="active">${t("common.active_2")}</option><option value="paused">${t("autonomous.paused_no_trigger_starts_it")}</option><option value="archived">${t("autonomous.archived")}</option>
        </select>
      </div>
    </div>
    <div>
      <label for="aa-goal">${t("autonomous.goal")}</label>
      <textarea id="aa-goal" name="goal" rows="3" required value=${f.goal} onInput=${set("goal")}
        aria-describedby="aa-goal-help"></textarea>
      <div class="muted small" id="aa-goal-help">${t("autonomous.each_run_plans_its_steps")}</div>
      <${FieldError} error=${error} name="goal" />
    </div>
    <fieldset>
      <legend>${t("autonomous.model_and_tools")}</legend>
      <div class="grid">
        <div>
          <label for="aa-provider">${t("autonomous.llm_provider")}</label>
          <select id="aa-provider" name="provider_id" value=${f.provider_id} onChange=${set("provider_id")}>
            <option value="">${t("autonomous.the_organization_s_default")}</option>
            ${providers.data && providers.data.items.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
          </select>
          <${FieldError} error=${error} name="provider_id" />
        </div>
        ${field("aa-model", t("autonomous.model_optional"), "model")}
      </div>
      <label for="aa-system">${t("autonomous.instructions_optional")}</label>
      <textarea id="aa-system" name="system_prompt" rows="3" value=${f.system_prompt} onInput=${set("system_prompt")}></textarea>
      <div role="group" aria-labelledby="aa-tools-label">
        <div id="aa-tools-label">${t("autonomous.tools_the_steps_may_call")}</div>
        ${tools.data && !tools.data.items.length && html`<div class="muted small">${t("autonomous.no_tools_yet_add_them")}</div>`}
        ${tools.data &&
        tools.data.items.map(
          (tv) => html`<label class="inline"><input type="checkbox" name="tool" value=${tv.id} checked=${f.tool_ids.includes(tv.id)}
            onChange=${() => toggleTool(tv.id)} /> ${tv.name}</label>`,
        )}
        <${FieldError} error=${error} name="tool_ids" />
      </div>
    </fieldset>
    <fieldset>
      <legend>${t("autonomous.triggers")}</legend>
      <div class="grid">
        <div>
          <label for="aa-cron">${t("autonomous.schedule_cron_optional")}</label>
          <input id="aa-cron" name="cron" class="mono" placeholder=${t("autonomous.0_9_mon_fri")} value=${f.cron} onInput=${set("cron")} />
          <${FieldError} error=${error} name="schedule.cron" />
        </div>
        <div>
          <label for="aa-timezone">${t("autonomous.time_zone")}</label>
          <input id="aa-timezone" name="timezone" placeholder=${t("autonomous.europe_paris")} value=${f.timezone} onInput=${set("timezone")} />
          <${FieldError} error=${error} name="schedule.timezone" />
        </div>
        <div>
          <label for="aa-event">${t("autonomous.on_an_organization_event")}</label>
          <select id="aa-event" name="trigger_event" value=${f.trigger_event} onChange=${set("trigger_event")}>
            <option value="">${t("common.none")}</option>
            ${events.data && events.data.filter((e) => e.name !== "agent.run.completed").map((e) => html`<option value=${e.name}>${e.name}</option>`)}
          </select>
          <${FieldError} error=${error} name="trigger_event" />
        </div>
      </div>
      <${SchedulePreview} org=${org} cron=${f.cron} timezone=${f.timezone} />
    </fieldset>
    <fieldset>
      <legend>${t("autonomous.limits_and_delivery")}</legend>
      <div class="grid">
        ${field("aa-max-steps", t("autonomous.most_steps_per_run"), "max_steps", { type: "number", min: 1, max: 50 })}
        ${field("aa-token-budget", t("autonomous.token_budget_per_run_optional"), "token_budget", { type: "number", min: 0 })}
        ${field("aa-cost-budget", t("autonomous.cost_budget_per_run_micro"), "cost_budget_micros", { type: "number", min: 0 })}
        ${field("aa-memory-cap", t("autonomous.most_memories_kept"), "memory_cap", { type: "number", min: 1, max: 10000 })}
        ${field("aa-email", t("autonomous.email_results_to_optional"), "deliver_email", { type: "email" })}
      </div>
      <label class="inline"><input type="checkbox" id="aa-webhook" checked=${f.deliver_webhook} onChange=${set("deliver_webhook")} />
        ${t("autonomous.send_the")} <code>agent.run.completed</code> ${t("autonomous.webhook_event")}</label>
    </fieldset>
    <p class="row">
      <button class="primary" type="submit">${editing ? t("common.save") : t("autonomous.create_agent")}</button>
      ${onCancel && html`<button type="button" onClick=${onCancel}>${t("common.cancel")}</button>`}
    </p>
  </form>`;
}

function Analytics({ agent, version }) {
  const load = useLoad(() => get(`/api/v1/autonomous-agents/${agent.id}/analytics`), [agent.id, version]);
  const s = load.data;
  return html`<div class="card" id="autonomous-analytics">
    <h2>${t("autonomous.analytics")}</h2>
    <${ErrorBox} error=${load.error} />
    ${s &&
    html`<dl class="grid">
      <div><dt>${t("autonomous.runs")}</dt><dd id="stat-runs">${s.runs}</dd></div>
      <div><dt>${t("autonomous.success_rate")}</dt><dd id="stat-success">${s.success_rate == null ? "—" : `${Math.round(s.success_rate * 100)} %`}</dd></div>
      <div><dt>${t("common.tokens")}</dt><dd id="stat-tokens">${s.tokens}</dd></div>
      <div><dt>${t("common.cost")}</dt><dd id="stat-cost">${money(s.cost_micros)}</dd></div>
      <div><dt>${t("autonomous.memories")}</dt><dd>${s.memories}</dd></div>
    </dl>`}
  </div>`;
}

function RunDetail({ id, onChanged }) {
  const load = useLoad(() => get(`/api/v1/autonomous-runs/${id}`), [id]);
  const r = load.data;
  const act = async (what) => {
    try {
      await post(`/api/v1/autonomous-runs/${id}/${what}`, {});
      load.reload();
      onChanged();
    } catch (err) {
      toastError(err);
    }
  };
  const live = r && ["pending", "running", "paused"].includes(r.status);
  useEffect(() => {
    if (!live) return undefined;
    const tv = setInterval(() => load.reload(), 2000);
    return () => clearInterval(tv);
  }, [live]);
  if (!r) return html`<${ErrorBox} error=${load.error} />`;
  return html`<div id="run-detail" data-status=${r.status}>
    <p><span class=${"badge " + (RUN_BADGE[r.status] || "")}>${r.status}</span>
      ${r.stop_reason && html` <code>${r.stop_reason}</code>`} ${r.error && html`<span class="muted">${r.error}</span>`}</p>
    ${can("agents.write") && live && html`<p class="row">
      ${r.status === "paused"
        ? html`<button type="button" id="resume-run" onClick=${() => act("resume")}>${t("autonomous.resume")}</button>`
        : html`<button type="button" id="pause-run" onClick=${() => act("pause")}>${t("autonomous.pause")}</button>`}
      <button type="button" class="danger" id="cancel-run" onClick=${() => act("cancel")}>${t("common.cancel")}</button>
    </p>`}
    <ol id="run-steps">
      ${(r.steps || []).map(
        (s) => html`<li data-step=${s.step_number} data-status=${s.status}>
          <strong>${s.action_type === "plan" ? t("autonomous.plan") : s.action}</strong>
          <span class=${"badge " + (RUN_BADGE[s.status] || "")}>${s.status}</span>
          <span class="muted small"> ${t("autonomous.tokens", { tokens_used: s.tokens_used })}${s.duration_ms != null ? `, ${s.duration_ms} ms` : ""}</span>
          ${s.output && s.output.text && html`<div class="step-output">${s.output.text}</div>`}
          ${s.output && s.output.steps && html`<ul>${s.output.steps.map((x) => html`<li>${x}</li>`)}</ul>`}
          ${s.output && s.output.tool_calls && s.output.tool_calls.length > 0 &&
          html`<pre class="mono small">${JSON.stringify(s.output.tool_calls, null, 2)}</pre>`}
          ${s.error && html`<div class="alert error" role="alert">${s.error}</div>`}
        </li>`,
      )}
    </ol>
    ${r.result && html`<h3>${t("common.result")}</h3><div id="run-result">${r.result.text}</div>`}
  </div>`;
}

function Runs({ agent, version, onChanged }) {
  const load = useLoad(() => get(`/api/v1/autonomous-agents/${agent.id}/runs?limit=50`), [agent.id, version]);
  const [open, setOpen] = useState(null);
  const items = load.data ? load.data.items : [];
  return html`<div class="card" id="autonomous-runs">
    <h2>${t("autonomous.run_history")}</h2>
    <${ErrorBox} error=${load.error} />
    <table>
      <thead><tr><th>${t("common.started")}</th><th>${t("common.trigger")}</th><th>${t("common.status")}</th><th>${t("common.steps")}</th><th>${t("common.tokens")}</th><th>${t("common.cost")}</th><th></th></tr></thead>
      <tbody>
        ${items.map(
          (r) => html`<tr data-run=${r.id} data-status=${r.status}>
            <td class="muted">${formatDate(r.created_at)}</td>
            <td>${r.triggered_by}</td>
            <td><span class=${"badge " + (RUN_BADGE[r.status] || "")}>${r.status}</span>${r.stop_reason && html` <code class="small">${r.stop_reason}</code>`}</td>
            <td>${r.completed_steps}/${r.total_steps}</td>
            <td>${r.tokens_used}</td>
            <td>${money(r.cost_micros)}</td>
            <td><button type="button" class="open-run" onClick=${() => setOpen(r.id)}>${t("common.steps")}</button></td>
          </tr>`,
        )}
        <${Loading} load=${load} cols="7" />
        ${load.data && !items.length && html`<tr><td colspan="7" class="muted">${t("autonomous.no_runs_yet_start_one")}</td></tr>`}
      </tbody>
    </table>
    ${open && html`<${RunDetail} key=${open} id=${open} onChanged=${onChanged} />`}
  </div>`;
}

function Memories({ agent }) {
  const [q, setQ] = useState("");
  const [search, setSearch] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const path = `/api/v1/autonomous-agents/${agent.id}/memories`;
  const load = useLoad(() => get(search ? `${path}?q=${encodeURIComponent(search)}&limit=20` : `${path}?limit=50`), [agent.id, search]);
  const writable = can("agents.write");
  const add = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(path, { content: text });
      setText("");
      toast(t("autonomous.remembered"));
      load.reload();
    } catch (err) {
      setError(err);
    }
  };
  const forget = async (m) => {
    try {
      await del(`/api/v1/autonomous-memories/${m.id}`);
      load.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const consolidate = async () => {
    try {
      const c = await post(`${path}/consolidate`, {});
      toast(t("autonomous.merged_dropped_left", { merged: c.merged, dropped: c.dropped, remaining: c.remaining }));
      load.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="autonomous-memories">
    <h2>${t("autonomous.memory")}</h2>
    <form class="row" role="search" onSubmit=${(e) => { e.preventDefault(); setSearch(q.trim()); }}>
      <label for="memory-q" class="visually-hidden">${t("autonomous.search_memories")}</label>
      <input id="memory-q" type="search" placeholder=${t("autonomous.search_by_meaning")} value=${q} onInput=${(e) => setQ(e.target.value)} />
      <button type="submit">${t("common.search")}</button>
      ${writable && html`<button type="button" id="consolidate" onClick=${consolidate}>${t("autonomous.consolidate")}</button>`}
    </form>
    <${ErrorBox} error=${load.error} />
    <ul id="memory-list">
      ${(load.data || []).map(
        (m) => html`<li data-memory=${m.id}>${m.content}
          <span class="muted small"> ${t("autonomous.recalls", { hits: m.hits })}${m.merged_count > 1 ? ` · ${m.merged_count} merged` : ""}${m.score != null ? ` · score ${m.score.toFixed(2)}` : ""}</span>
          ${writable && html` <button type="button" class="link" aria-label=${t("autonomous.forget_2", { value: (m.content.slice(0, 40)) })} onClick=${() => forget(m)}>${t("autonomous.forget")}</button>`}
        </li>`,
      )}
    </ul>
    ${load.data && !load.data.length && html`<p class="muted">${search ? t("autonomous.no_memory_matches") : t("autonomous.no_memories_yet_runs_remember")}</p>`}
    ${writable && html`<form onSubmit=${add}>
      <label for="memory-new">${t("autonomous.add_a_memory")}</label>
      <textarea id="memory-new" name="content" rows="2" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <${FieldError} error=${error} name="content" />
      <${ErrorBox} error=${error} />
      <button type="submit">${t("autonomous.remember")}</button>
    </form>`}
  </div>`;
}

function HookCard({ agent, onChanged }) {
  const [secret, setSecret] = useState(null);
  const rotate = async () => {
    try {
      setSecret(await post(`/api/v1/autonomous-agents/${agent.id}/hook`, {}));
      onChanged();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="autonomous-hook">
    <h2>${t("autonomous.inbound_webhook")}</h2>
    <p class="muted">${t("autonomous.post_json_to_the_url")}
      ${agent.webhook_trigger ? " " + t("autonomous.a_url_is_set") : " " + t("autonomous.no_url_yet")}</p>
    ${secret && html`<p role="status">${t("autonomous.copy_it_now_it_is")} <code id="hook-url">${secret.url}</code></p>`}
    ${can("agents.write") && html`<button type="button" id="rotate-hook" onClick=${rotate}>${agent.webhook_trigger ? t("autonomous.new_url") : t("autonomous.create_url")}</button>`}
  </div>`;
}

function AgentPage({ params }) {
  const org = currentOrg();
  const load = useLoad(() => get(`/api/v1/autonomous-agents/${params.id}`), [params.id]);
  const [editing, setEditing] = useState(false);
  const [version, setVersion] = useState(0);
  const bump = () => setVersion(version + 1);
  const agent = load.data;
  const runNow = async () => {
    try {
      await post(`/api/v1/autonomous-agents/${agent.id}/runs`, {});
      toast(t("autonomous.run_started"));
      bump();
    } catch (err) {
      toastError(err);
    }
  };
  if (!agent) return html`<${Page} title=${t("autonomous.autonomous_agent")}><${ErrorBox} error=${load.error} /><//>`;
  return html`<${Page} title=${agent.name}
    actions=${can("agents.write") && html`<div class="row">
      <button class="primary" type="button" id="run-now" onClick=${runNow}>${t("autonomous.run_now")}</button>
      <button type="button" id="edit-agent" onClick=${() => setEditing(!editing)}>${t("common.edit")}</button>
    </div>`}>
    <p><a href="/autonomous">${t("autonomous.all_autonomous_agents")}</a></p>
    <p>${agent.goal}</p>
    <p class="muted small">
      ${agent.schedule ? html`${t("autonomous.schedule")} <code>${agent.schedule.cron}</code> ${t("autonomous.next_run", { timezone: agent.schedule.timezone, next_run_at: formatDate(agent.next_run_at) })} ` : t("autonomous.no_schedule") + " "}
      ${agent.trigger_event && html`${t("autonomous.starts_on")} <code>${agent.trigger_event}</code>. `}
      ${t("autonomous.status", { status: agent.status })}
    </p>
    ${editing && html`<${AgentForm} org=${org} agent=${agent} onSaved=${() => { setEditing(false); load.reload(); }} onCancel=${() => setEditing(false)} />`}
    <${Analytics} agent=${agent} version=${version} />
    <${Runs} agent=${agent} version=${version} onChanged=${bump} />
    <${Memories} agent=${agent} />
    <${HookCard} agent=${agent} onChanged=${() => load.reload()} />
  <//>`;
}

function AgentList() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/autonomous-agents?limit=200`), [org.id]);
  const [creating, setCreating] = useState(false);
  const writable = can("agents.write");
  const remove = async (a) => {
    if (!confirm(t("autonomous.delete_with_its_runs_and", { name: a.name }))) return;
    try {
      await del(`/api/v1/autonomous-agents/${a.id}`);
      toast(t("autonomous.deleted", { name: a.name }));
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title=${t("autonomous.autonomous_agents")}
    actions=${writable && html`<button class="primary" type="button" id="new-autonomous" onClick=${() => setCreating(true)}>${t("autonomous.new_agent")}</button>`}>
    <p class="muted">${t("autonomous.agents_that_work_towards_a")}</p>
    ${creating && html`<${AgentForm} org=${org} onSaved=${(a) => { setCreating(false); navigate(`/autonomous/${a.id}`); }} onCancel=${() => setCreating(false)} />`}
    <div class="card">
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("common.status")}</th><th>${t("autonomous.next_run_2")}</th><th>${t("autonomous.runs")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (a) => html`<tr data-agent=${a.id}>
              <td><a href=${`/autonomous/${a.id}`}><strong>${a.name}</strong></a><div class="muted small">${a.goal}</div></td>
              <td>${a.status}</td>
              <td class="muted">${a.next_run_at ? formatDate(a.next_run_at) : "—"}</td>
              <td>${a.successful_tasks}/${a.total_tasks}</td>
              <td>${writable && html`<button type="button" class="danger" onClick=${() => remove(a)}>${t("common.delete")}</button>`}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">${t("autonomous.no_autonomous_agents_yet")}${writable ? t("autonomous.create_one_with_new_agent") : "."}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/autonomous", AgentList, { nav: { label: "nav.autonomous_agents", section: "nav.build", order: 26, requires: "agents.read" } });
route("/autonomous/:id", AgentPage);
