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

const RUN_BADGE = { completed: "ok", failed: "bad", cancelled: "", paused: "", running: "", pending: "" };
const money = (micros) => (micros == null ? "—" : `$${(micros / 1e6).toFixed(4)}`);
const orNull = (v) => (String(v ?? "").trim() === "" ? null : v);
const numOrNull = (v) => (String(v ?? "").trim() === "" ? null : Number(v));

/** The next times a schedule fires, fetched as the user types. */
function SchedulePreview({ org, cron, timezone }) {
  const [state, setState] = useState({});
  useEffect(() => {
    if (!cron.trim()) return setState({});
    const t = setTimeout(async () => {
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
    return () => clearTimeout(t);
  }, [cron, timezone]);
  if (state.error) return html`<div class="muted small" id="schedule-preview" role="status">${state.error}</div>`;
  if (!state.runs) return null;
  return html`<div class="muted small" id="schedule-preview" role="status">Next runs: ${state.runs.join(" · ")}</div>`;
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
    <h2>${editing ? `Edit ${agent.name}` : "New autonomous agent"}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      ${field("aa-name", "Name", "name", { required: true, maxlength: 100 })}
      <div>
        <label for="aa-status">Status</label>
        <select id="aa-status" name="status" value=${f.status} onChange=${set("status")}>
          <option value="active">Active</option><option value="paused">Paused (no trigger starts it)</option><option value="archived">Archived</option>
        </select>
      </div>
    </div>
    <div>
      <label for="aa-goal">Goal</label>
      <textarea id="aa-goal" name="goal" rows="3" required value=${f.goal} onInput=${set("goal")}
        aria-describedby="aa-goal-help"></textarea>
      <div class="muted small" id="aa-goal-help">Each run plans its steps from the goal, then carries them out one by one.</div>
      <${FieldError} error=${error} name="goal" />
    </div>
    <fieldset>
      <legend>Model and tools</legend>
      <div class="grid">
        <div>
          <label for="aa-provider">LLM provider</label>
          <select id="aa-provider" name="provider_id" value=${f.provider_id} onChange=${set("provider_id")}>
            <option value="">The organization's default</option>
            ${providers.data && providers.data.items.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
          </select>
          <${FieldError} error=${error} name="provider_id" />
        </div>
        ${field("aa-model", "Model (optional)", "model")}
      </div>
      <label for="aa-system">Instructions (optional)</label>
      <textarea id="aa-system" name="system_prompt" rows="3" value=${f.system_prompt} onInput=${set("system_prompt")}></textarea>
      <div role="group" aria-labelledby="aa-tools-label">
        <div id="aa-tools-label">Tools the steps may call</div>
        ${tools.data && !tools.data.items.length && html`<div class="muted small">No tools yet: add them on the Tools page.</div>`}
        ${tools.data &&
        tools.data.items.map(
          (t) => html`<label class="inline"><input type="checkbox" name="tool" value=${t.id} checked=${f.tool_ids.includes(t.id)}
            onChange=${() => toggleTool(t.id)} /> ${t.name}</label>`,
        )}
        <${FieldError} error=${error} name="tool_ids" />
      </div>
    </fieldset>
    <fieldset>
      <legend>Triggers</legend>
      <div class="grid">
        <div>
          <label for="aa-cron">Schedule (cron, optional)</label>
          <input id="aa-cron" name="cron" class="mono" placeholder="0 9 * * MON-FRI" value=${f.cron} onInput=${set("cron")} />
          <${FieldError} error=${error} name="schedule.cron" />
        </div>
        <div>
          <label for="aa-timezone">Time zone</label>
          <input id="aa-timezone" name="timezone" placeholder="Europe/Paris" value=${f.timezone} onInput=${set("timezone")} />
          <${FieldError} error=${error} name="schedule.timezone" />
        </div>
        <div>
          <label for="aa-event">On an organization event</label>
          <select id="aa-event" name="trigger_event" value=${f.trigger_event} onChange=${set("trigger_event")}>
            <option value="">None</option>
            ${events.data && events.data.filter((e) => e.name !== "agent.run.completed").map((e) => html`<option value=${e.name}>${e.name}</option>`)}
          </select>
          <${FieldError} error=${error} name="trigger_event" />
        </div>
      </div>
      <${SchedulePreview} org=${org} cron=${f.cron} timezone=${f.timezone} />
    </fieldset>
    <fieldset>
      <legend>Limits and delivery</legend>
      <div class="grid">
        ${field("aa-max-steps", "Most steps per run", "max_steps", { type: "number", min: 1, max: 50 })}
        ${field("aa-token-budget", "Token budget per run (optional)", "token_budget", { type: "number", min: 0 })}
        ${field("aa-cost-budget", "Cost budget per run, micro-dollars (optional)", "cost_budget_micros", { type: "number", min: 0 })}
        ${field("aa-memory-cap", "Most memories kept", "memory_cap", { type: "number", min: 1, max: 10000 })}
        ${field("aa-email", "Email results to (optional)", "deliver_email", { type: "email" })}
      </div>
      <label class="inline"><input type="checkbox" id="aa-webhook" checked=${f.deliver_webhook} onChange=${set("deliver_webhook")} />
        Send the <code>agent.run.completed</code> webhook event</label>
    </fieldset>
    <p class="row">
      <button class="primary" type="submit">${editing ? "Save" : "Create agent"}</button>
      ${onCancel && html`<button type="button" onClick=${onCancel}>Cancel</button>`}
    </p>
  </form>`;
}

function Analytics({ agent, version }) {
  const load = useLoad(() => get(`/api/v1/autonomous-agents/${agent.id}/analytics`), [agent.id, version]);
  const s = load.data;
  return html`<div class="card" id="autonomous-analytics">
    <h2>Analytics</h2>
    <${ErrorBox} error=${load.error} />
    ${s &&
    html`<dl class="grid">
      <div><dt>Runs</dt><dd id="stat-runs">${s.runs}</dd></div>
      <div><dt>Success rate</dt><dd id="stat-success">${s.success_rate == null ? "—" : `${Math.round(s.success_rate * 100)} %`}</dd></div>
      <div><dt>Tokens</dt><dd id="stat-tokens">${s.tokens}</dd></div>
      <div><dt>Cost</dt><dd id="stat-cost">${money(s.cost_micros)}</dd></div>
      <div><dt>Memories</dt><dd>${s.memories}</dd></div>
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
    const t = setInterval(() => load.reload(), 2000);
    return () => clearInterval(t);
  }, [live]);
  if (!r) return html`<${ErrorBox} error=${load.error} />`;
  return html`<div id="run-detail" data-status=${r.status}>
    <p><span class=${"badge " + (RUN_BADGE[r.status] || "")}>${r.status}</span>
      ${r.stop_reason && html` <code>${r.stop_reason}</code>`} ${r.error && html`<span class="muted">${r.error}</span>`}</p>
    ${can("agents.write") && live && html`<p class="row">
      ${r.status === "paused"
        ? html`<button type="button" id="resume-run" onClick=${() => act("resume")}>Resume</button>`
        : html`<button type="button" id="pause-run" onClick=${() => act("pause")}>Pause</button>`}
      <button type="button" class="danger" id="cancel-run" onClick=${() => act("cancel")}>Cancel</button>
    </p>`}
    <ol id="run-steps">
      ${(r.steps || []).map(
        (s) => html`<li data-step=${s.step_number} data-status=${s.status}>
          <strong>${s.action_type === "plan" ? "Plan" : s.action}</strong>
          <span class=${"badge " + (RUN_BADGE[s.status] || "")}>${s.status}</span>
          <span class="muted small"> ${s.tokens_used} tokens${s.duration_ms != null ? `, ${s.duration_ms} ms` : ""}</span>
          ${s.output && s.output.text && html`<div class="step-output">${s.output.text}</div>`}
          ${s.output && s.output.steps && html`<ul>${s.output.steps.map((x) => html`<li>${x}</li>`)}</ul>`}
          ${s.output && s.output.tool_calls && s.output.tool_calls.length > 0 &&
          html`<pre class="mono small">${JSON.stringify(s.output.tool_calls, null, 2)}</pre>`}
          ${s.error && html`<div class="alert error" role="alert">${s.error}</div>`}
        </li>`,
      )}
    </ol>
    ${r.result && html`<h3>Result</h3><div id="run-result">${r.result.text}</div>`}
  </div>`;
}

function Runs({ agent, version, onChanged }) {
  const load = useLoad(() => get(`/api/v1/autonomous-agents/${agent.id}/runs?limit=50`), [agent.id, version]);
  const [open, setOpen] = useState(null);
  const items = load.data ? load.data.items : [];
  return html`<div class="card" id="autonomous-runs">
    <h2>Run history</h2>
    <${ErrorBox} error=${load.error} />
    <table>
      <thead><tr><th>Started</th><th>Trigger</th><th>Status</th><th>Steps</th><th>Tokens</th><th>Cost</th><th></th></tr></thead>
      <tbody>
        ${items.map(
          (r) => html`<tr data-run=${r.id} data-status=${r.status}>
            <td class="muted">${formatDate(r.created_at)}</td>
            <td>${r.triggered_by}</td>
            <td><span class=${"badge " + (RUN_BADGE[r.status] || "")}>${r.status}</span>${r.stop_reason && html` <code class="small">${r.stop_reason}</code>`}</td>
            <td>${r.completed_steps}/${r.total_steps}</td>
            <td>${r.tokens_used}</td>
            <td>${money(r.cost_micros)}</td>
            <td><button type="button" class="open-run" onClick=${() => setOpen(r.id)}>Steps</button></td>
          </tr>`,
        )}
        <${Loading} load=${load} cols="7" />
        ${load.data && !items.length && html`<tr><td colspan="7" class="muted">No runs yet: start one with Run now.</td></tr>`}
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
      toast("Remembered");
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
      toast(`Merged ${c.merged}, dropped ${c.dropped}, ${c.remaining} left`);
      load.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="autonomous-memories">
    <h2>Memory</h2>
    <form class="row" role="search" onSubmit=${(e) => { e.preventDefault(); setSearch(q.trim()); }}>
      <label for="memory-q" class="visually-hidden">Search memories</label>
      <input id="memory-q" type="search" placeholder="Search by meaning" value=${q} onInput=${(e) => setQ(e.target.value)} />
      <button type="submit">Search</button>
      ${writable && html`<button type="button" id="consolidate" onClick=${consolidate}>Consolidate</button>`}
    </form>
    <${ErrorBox} error=${load.error} />
    <ul id="memory-list">
      ${(load.data || []).map(
        (m) => html`<li data-memory=${m.id}>${m.content}
          <span class="muted small"> · ${m.hits} recalls${m.merged_count > 1 ? ` · ${m.merged_count} merged` : ""}${m.score != null ? ` · score ${m.score.toFixed(2)}` : ""}</span>
          ${writable && html` <button type="button" class="link" aria-label=${`Forget: ${m.content.slice(0, 40)}`} onClick=${() => forget(m)}>Forget</button>`}
        </li>`,
      )}
    </ul>
    ${load.data && !load.data.length && html`<p class="muted">${search ? "No memory matches." : "No memories yet: runs remember their results."}</p>`}
    ${writable && html`<form onSubmit=${add}>
      <label for="memory-new">Add a memory</label>
      <textarea id="memory-new" name="content" rows="2" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <${FieldError} error=${error} name="content" />
      <${ErrorBox} error=${error} />
      <button type="submit">Remember</button>
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
    <h2>Inbound webhook</h2>
    <p class="muted">POST JSON to the URL to start a run; the body becomes its input.
      ${agent.webhook_trigger ? " A URL is set." : " No URL yet."}</p>
    ${secret && html`<p role="status">Copy it now, it is shown once: <code id="hook-url">${secret.url}</code></p>`}
    ${can("agents.write") && html`<button type="button" id="rotate-hook" onClick=${rotate}>${agent.webhook_trigger ? "New URL" : "Create URL"}</button>`}
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
      toast("Run started");
      bump();
    } catch (err) {
      toastError(err);
    }
  };
  if (!agent) return html`<${Page} title="Autonomous agent"><${ErrorBox} error=${load.error} /><//>`;
  return html`<${Page} title=${agent.name}
    actions=${can("agents.write") && html`<div class="row">
      <button class="primary" type="button" id="run-now" onClick=${runNow}>Run now</button>
      <button type="button" id="edit-agent" onClick=${() => setEditing(!editing)}>Edit</button>
    </div>`}>
    <p><a href="/autonomous">← All autonomous agents</a></p>
    <p>${agent.goal}</p>
    <p class="muted small">
      ${agent.schedule ? html`Schedule <code>${agent.schedule.cron}</code> (${agent.schedule.timezone}), next run ${formatDate(agent.next_run_at)}. ` : "No schedule. "}
      ${agent.trigger_event && html`Starts on <code>${agent.trigger_event}</code>. `}
      Status ${agent.status}.
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
    if (!confirm(`Delete ${a.name} with its runs and memories?`)) return;
    try {
      await del(`/api/v1/autonomous-agents/${a.id}`);
      toast(`Deleted ${a.name}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title="Autonomous agents"
    actions=${writable && html`<button class="primary" type="button" id="new-autonomous" onClick=${() => setCreating(true)}>New agent</button>`}>
    <p class="muted">Agents that work towards a goal on their own: on demand, on a schedule, on an event or from a webhook,
      within step and budget limits, with a long-term memory. Results go by email or webhook.</p>
    ${creating && html`<${AgentForm} org=${org} onSaved=${(a) => { setCreating(false); navigate(`/autonomous/${a.id}`); }} onCancel=${() => setCreating(false)} />`}
    <div class="card">
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>Name</th><th>Status</th><th>Next run</th><th>Runs</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (a) => html`<tr data-agent=${a.id}>
              <td><a href=${`/autonomous/${a.id}`}><strong>${a.name}</strong></a><div class="muted small">${a.goal}</div></td>
              <td>${a.status}</td>
              <td class="muted">${a.next_run_at ? formatDate(a.next_run_at) : "—"}</td>
              <td>${a.successful_tasks}/${a.total_tasks}</td>
              <td>${writable && html`<button type="button" class="danger" onClick=${() => remove(a)}>Delete</button>`}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">No autonomous agents yet${writable ? ": create one with New agent." : "."}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/autonomous", AgentList, { nav: { label: "Autonomous agents", section: "Build", order: 26, requires: "agents.read" } });
route("/autonomous/:id", AgentPage);
