// A bot's agents: the list, a form (instructions, model settings that
// default to the bot's AI settings, guardrails, tools by priority with an
// approval toggle each, knowledge bases) and a test chat that shows every
// step of a turn: model calls with tokens, cost and latency, tool calls with
// arguments and result. Errors of the API name the field and are shown
// under it.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";

const orNull = (v) => (v === "" || v === null || v === undefined ? null : Number(v));
const str = (v) => (v === null || v === undefined ? "" : String(v));

function formOf(a) {
  return {
    name: a ? a.name : "",
    instructions: a ? a.instructions : "",
    model: a && a.model ? a.model : "",
    temperature: str(a && a.temperature),
    max_tokens: str(a && a.max_tokens),
    max_steps: str(a ? a.max_steps : 8),
    conversation_token_budget: str(a && a.conversation_token_budget),
    conversation_cost_budget_micros: str(a && a.conversation_cost_budget_micros),
    tools: a ? a.tools.map((t) => ({ tool_id: t.tool_id, priority: t.priority, requires_approval: t.requires_approval })) : [],
    knowledge_base_ids: a ? a.knowledge_base_ids.join(", ") : "",
    is_active: a ? a.is_active : true,
  };
}

/** Create or edit an agent. */
function AgentForm({ botId, agent, tools, onSaved, onCancel }) {
  const [form, setForm] = useState(formOf(agent));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v }));
  const catalogue = (tools.data && tools.data.items) || [];
  const chosen = (id) => form.tools.find((t) => t.tool_id === id);
  const toggleTool = (id, on) =>
    setForm((f) => ({
      ...f,
      tools: on ? [...f.tools, { tool_id: id, priority: f.tools.length + 1, requires_approval: false }] : f.tools.filter((t) => t.tool_id !== id),
    }));
  const setTool = (id, k, v) => setForm((f) => ({ ...f, tools: f.tools.map((t) => (t.tool_id === id ? { ...t, [k]: v } : t)) }));
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    const body = {
      name: form.name,
      instructions: form.instructions,
      model: form.model.trim() || null,
      temperature: orNull(form.temperature),
      max_tokens: orNull(form.max_tokens),
      max_steps: orNull(form.max_steps),
      conversation_token_budget: orNull(form.conversation_token_budget),
      conversation_cost_budget_micros: orNull(form.conversation_cost_budget_micros),
      tools: form.tools.map((t) => ({ tool_id: t.tool_id, priority: Number(t.priority), requires_approval: t.requires_approval })),
      knowledge_base_ids: form.knowledge_base_ids.split(",").map((s) => s.trim()).filter(Boolean).map(Number),
      is_active: form.is_active,
    };
    try {
      const saved = agent ? await patch(`/api/v1/agents/${agent.id}`, body) : await post(`/api/v1/bots/${botId}/agents`, body);
      toast(agent ? "Agent saved" : "Agent created");
      onSaved(saved);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" id="agent-form" onSubmit=${save}>
    <h2>${agent ? `Edit ${agent.name}` : "New agent"}</h2>
    <${ErrorBox} error=${error} />
    <${Field} label="Name" name="name" value=${form.name} onInput=${set("name")} error=${error} required />
    <div>
      <label for="instructions">Instructions</label>
      <textarea id="instructions" name="instructions" rows="4" value=${form.instructions} onInput=${(e) => set("instructions")(e.target.value)} required></textarea>
      <${FieldError} error=${error} name="instructions" />
    </div>
    <fieldset>
      <legend>Model (empty: the bot's AI settings)</legend>
      <${Field} label="Model" name="model" value=${form.model} onInput=${set("model")} error=${error} />
      <${Field} label="Temperature" name="temperature" type="number" step="0.1" value=${form.temperature} onInput=${set("temperature")} error=${error} />
      <${Field} label="Max tokens" name="max_tokens" type="number" value=${form.max_tokens} onInput=${set("max_tokens")} error=${error} />
    </fieldset>
    <fieldset>
      <legend>Guardrails</legend>
      <${Field} label="Max steps per turn" name="max_steps" type="number" value=${form.max_steps} onInput=${set("max_steps")} error=${error} />
      <${Field} label="Token budget per conversation" name="conversation_token_budget" type="number" value=${form.conversation_token_budget} onInput=${set("conversation_token_budget")} error=${error} />
      <${Field} label="Cost budget per conversation (micro-units)" name="conversation_cost_budget_micros" type="number" value=${form.conversation_cost_budget_micros} onInput=${set("conversation_cost_budget_micros")} error=${error} />
    </fieldset>
    <fieldset id="agent-tools">
      <legend>Tools (smaller priority first)</legend>
      ${!catalogue.length && html`<p class="muted">No tools yet: create them under Build → Tools.</p>`}
      ${catalogue.map((t) => {
        const c = chosen(t.id);
        return html`<div class="row" data-tool=${t.name}>
          <label><input type="checkbox" name=${`tool-${t.id}`} checked=${!!c} onChange=${(e) => toggleTool(t.id, e.target.checked)} /> ${t.name}</label>
          ${c && html`<label>Priority <input type="number" name=${`priority-${t.id}`} value=${c.priority} onInput=${(e) => setTool(t.id, "priority", e.target.value)} /></label>
            <label><input type="checkbox" name=${`approval-${t.id}`} checked=${c.requires_approval} onChange=${(e) => setTool(t.id, "requires_approval", e.target.checked)} /> Needs approval</label>`}
        </div>`;
      })}
      <${FieldError} error=${error} name="tools" />
    </fieldset>
    <${Field} label="Knowledge base ids (comma-separated)" name="knowledge_base_ids" value=${form.knowledge_base_ids} onInput=${set("knowledge_base_ids")} error=${error} />
    <label><input type="checkbox" name="is_active" checked=${form.is_active} onChange=${(e) => set("is_active")(e.target.checked)} /> Active</label>
    <div class="row">
      <button class="primary" type="submit" disabled=${busy}>${agent ? "Save" : "Create agent"}</button>
      ${onCancel && html`<button type="button" onClick=${onCancel}>Cancel</button>`}
    </div>
  </form>`;
}

/** One step of a turn, as a row of the trace. */
function StepRow({ s }) {
  const detail =
    s.kind === "model_call"
      ? `${s.model || ""} · ${s.prompt_tokens}+${s.completion_tokens} tokens · cost ${s.cost_micros} µ`
      : `${s.tool_name || ""}(${JSON.stringify(s.arguments)}) → ${s.error_code ? `${s.error_code}: ${s.error || ""}` : JSON.stringify(s.result)}`;
  return html`<tr class="agent-step" data-kind=${s.kind} data-status=${s.status}>
    <td>${s.order}</td><td>${s.kind.replace("_", " ")}</td><td>${s.status}</td><td><code>${detail}</code></td><td>${s.latency_ms} ms</td>
  </tr>`;
}

/** The test chat: each turn with its steps. */
function TestChat({ agent }) {
  const [thread, setThread] = useState(null);
  const [turns, setTurns] = useState([]);
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    setError(null);
    setBusy(true);
    try {
      const run = await post(`/api/v1/agents/${agent.id}/chat`, { message: text, thread });
      setThread(run.thread);
      setTurns((t) => [...t, run]);
      setText("");
    } catch (err) {
      setError(err);
      const runId = err.details && err.details.run_id;
      if (runId) {
        const run = await get(`/api/v1/agent-runs/${runId}`).catch(() => null);
        if (run) setTurns((t) => [...t, run]);
      }
    } finally {
      setBusy(false);
    }
  };
  const decide = async (run, verb) => {
    try {
      const next = await post(`/api/v1/agent-approvals/${run.approval.id}/${verb}`, {});
      setTurns((t) => t.map((x) => (x.id === run.id ? next : x)));
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="agent-chat">
    <h2>Test chat · ${agent.name}</h2>
    <${ErrorBox} error=${error} />
    ${turns.map(
      (run) => html`<div class="agent-turn" data-status=${run.status}>
        <p><strong>You:</strong> ${run.input}</p>
        <table><caption>Steps</caption><thead><tr><th>#</th><th>Step</th><th>Status</th><th>Detail</th><th>Latency</th></tr></thead>
          <tbody>${run.steps.map((s) => html`<${StepRow} s=${s} />`)}</tbody></table>
        ${run.reply && html`<p class="agent-reply"><strong>Agent:</strong> ${run.reply}</p>`}
        <p class="muted">${run.total_tokens} tokens · cost ${run.cost_micros} µ · ${run.status}</p>
        ${run.status === "waiting_approval" && run.approval && html`<div class="row">
          <span>Approve <code>${run.approval.tool_name}(${JSON.stringify(run.approval.arguments)})</code>?</span>
          <button class="primary" onClick=${() => decide(run, "approve")}>Approve</button>
          <button onClick=${() => decide(run, "reject")}>Reject</button>
        </div>`}
      </div>`,
    )}
    <form class="row" onSubmit=${send}>
      <label for="agent-message" class="sr-only">Message</label>
      <input id="agent-message" name="message" value=${text} onInput=${(e) => setText(e.target.value)} placeholder="Ask the agent…" />
      <button class="primary" type="submit" disabled=${busy}>Send</button>
    </form>
  </div>`;
}

function BotAgents({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const org = currentOrg();
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState(null);
  const [chatting, setChatting] = useState(null);
  const agents = useLoad(() => get(`/api/v1/bots/${botId}/agents?limit=100`), [botId, tick]);
  const tools = useLoad(() => get(`/api/v1/orgs/${org.id}/tools?limit=200`), [org.id]);
  const writable = can("agents.write");
  const saved = (a) => {
    setEditing(null);
    setChatting(a);
    setTick((t) => t + 1);
  };
  const remove = async (a) => {
    if (!confirm(`Delete the agent ${a.name}?`)) return;
    await del(`/api/v1/agents/${a.id}`);
    setTick((t) => t + 1);
  };
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  const items = (agents.data && agents.data.items) || [];
  return html`<${Page} title=${`Agents · ${bot.data ? bot.data.name : ""}`}>
    <${BotNav} botId=${botId} active="agents" />
    <${ErrorBox} error=${agents.error} />
    <div class="card">
      <table id="agents-list"><caption>Agents</caption>
        <thead><tr><th>Name</th><th>Tools</th><th>Max steps</th><th>Active</th><th></th></tr></thead>
        <tbody>
          <${Loading} load=${agents} cols="5" />
          ${agents.data && !items.length && html`<tr><td colspan="5" class="muted">No agents yet. An agent answers with a model and the tools you give it.</td></tr>`}
          ${items.map(
            (a) => html`<tr data-agent=${a.name}>
              <td>${a.name}</td><td>${a.tools.map((t) => t.function_name + (t.requires_approval ? " (approval)" : "")).join(", ")}</td>
              <td>${a.max_steps}</td><td>${a.is_active ? "yes" : "no"}</td>
              <td class="row">
                ${writable && html`<button onClick=${() => setChatting(a)}>Test chat</button>`}
                ${writable && html`<button onClick=${() => setEditing(a)}>Edit</button>`}
                ${writable && html`<button onClick=${() => remove(a)}>Delete</button>`}
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${writable && !editing && html`<button class="primary" id="new-agent" onClick=${() => setEditing("new")}>New agent</button>`}
    </div>
    ${editing && html`<${AgentForm} key=${editing === "new" ? "new" : editing.id} botId=${botId} agent=${editing === "new" ? null : editing} tools=${tools} onSaved=${saved} onCancel=${() => setEditing(null)} />`}
    ${chatting && html`<${TestChat} key=${chatting.id} agent=${chatting} />`}
  <//>`;
}

route("/bots/:botId/agents", BotAgents);
