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
import { t } from "../i18n.js";

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
    tools: a ? a.tools.map((tv) => ({ tool_id: tv.tool_id, priority: tv.priority, requires_approval: tv.requires_approval })) : [],
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
  const chosen = (id) => form.tools.find((tv) => tv.tool_id === id);
  const toggleTool = (id, on) =>
    setForm((f) => ({
      ...f,
      tools: on ? [...f.tools, { tool_id: id, priority: f.tools.length + 1, requires_approval: false }] : f.tools.filter((tv) => tv.tool_id !== id),
    }));
  const setTool = (id, k, v) => setForm((f) => ({ ...f, tools: f.tools.map((tv) => (tv.tool_id === id ? { ...tv, [k]: v } : tv)) }));
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
      tools: form.tools.map((tv) => ({ tool_id: tv.tool_id, priority: Number(tv.priority), requires_approval: tv.requires_approval })),
      knowledge_base_ids: form.knowledge_base_ids.split(",").map((s) => s.trim()).filter(Boolean).map(Number),
      is_active: form.is_active,
    };
    try {
      const saved = agent ? await patch(`/api/v1/agents/${agent.id}`, body) : await post(`/api/v1/bots/${botId}/agents`, body);
      toast(agent ? t("agents.agent_saved") : t("agents.agent_created"));
      onSaved(saved);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" id="agent-form" onSubmit=${save}>
    <h2>${agent ? t("agents.edit", { name: agent.name }) : t("agents.new_agent")}</h2>
    <${ErrorBox} error=${error} />
    <${Field} label=${t("common.name")} name="name" value=${form.name} onInput=${set("name")} error=${error} required />
    <div>
      <label for="instructions">${t("agents.instructions")}</label>
      <textarea id="instructions" name="instructions" rows="4" value=${form.instructions} onInput=${(e) => set("instructions")(e.target.value)} required></textarea>
      <${FieldError} error=${error} name="instructions" />
    </div>
    <fieldset>
      <legend>${t("agents.model_empty_the_bot_s")}</legend>
      <${Field} label=${t("common.model")} name="model" value=${form.model} onInput=${set("model")} error=${error} />
      <${Field} label=${t("agents.temperature")} name="temperature" type="number" step="0.1" value=${form.temperature} onInput=${set("temperature")} error=${error} />
      <${Field} label=${t("agents.max_tokens")} name="max_tokens" type="number" value=${form.max_tokens} onInput=${set("max_tokens")} error=${error} />
    </fieldset>
    <fieldset>
      <legend>${t("agents.guardrails")}</legend>
      <${Field} label=${t("agents.max_steps_per_turn")} name="max_steps" type="number" value=${form.max_steps} onInput=${set("max_steps")} error=${error} />
      <${Field} label=${t("agents.token_budget_per_conversation")} name="conversation_token_budget" type="number" value=${form.conversation_token_budget} onInput=${set("conversation_token_budget")} error=${error} />
      <${Field} label=${t("agents.cost_budget_per_conversation_micro")} name="conversation_cost_budget_micros" type="number" value=${form.conversation_cost_budget_micros} onInput=${set("conversation_cost_budget_micros")} error=${error} />
    </fieldset>
    <fieldset id="agent-tools">
      <legend>${t("agents.tools_smaller_priority_first")}</legend>
      ${!catalogue.length && html`<p class="muted">${t("agents.no_tools_yet_create_them")}</p>`}
      ${catalogue.map((tv) => {
        const c = chosen(tv.id);
        return html`<div class="row" data-tool=${tv.name}>
          <label><input type="checkbox" name=${`tool-${tv.id}`} checked=${!!c} onChange=${(e) => toggleTool(tv.id, e.target.checked)} /> ${tv.name}</label>
          ${c && html`<label>${t("agents.priority")} <input type="number" name=${`priority-${tv.id}`} value=${c.priority} onInput=${(e) => setTool(tv.id, "priority", e.target.value)} /></label>
            <label><input type="checkbox" name=${`approval-${tv.id}`} checked=${c.requires_approval} onChange=${(e) => setTool(tv.id, "requires_approval", e.target.checked)} /> ${t("agents.needs_approval")}</label>`}
        </div>`;
      })}
      <${FieldError} error=${error} name="tools" />
    </fieldset>
    <${Field} label=${t("agents.knowledge_base_ids_comma_separated")} name="knowledge_base_ids" value=${form.knowledge_base_ids} onInput=${set("knowledge_base_ids")} error=${error} />
    <label><input type="checkbox" name="is_active" checked=${form.is_active} onChange=${(e) => set("is_active")(e.target.checked)} /> ${t("common.active_2")}</label>
    <div class="row">
      <button class="primary" type="submit" disabled=${busy}>${agent ? t("common.save") : t("agents.create_agent")}</button>
      ${onCancel && html`<button type="button" onClick=${onCancel}>${t("common.cancel")}</button>`}
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
    <td>${s.order}</td><td>${s.kind.replace("_", " ")}</td><td>${s.status}</td><td><code>${detail}</code></td><td>${t("agents.ms", { latency_ms: s.latency_ms })}</td>
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
      setTurns((tv) => [...tv, run]);
      setText("");
    } catch (err) {
      setError(err);
      const runId = err.details && err.details.run_id;
      if (runId) {
        const run = await get(`/api/v1/agent-runs/${runId}`).catch(() => null);
        if (run) setTurns((tv) => [...tv, run]);
      }
    } finally {
      setBusy(false);
    }
  };
  const decide = async (run, verb) => {
    try {
      const next = await post(`/api/v1/agent-approvals/${run.approval.id}/${verb}`, {});
      setTurns((tv) => tv.map((x) => (x.id === run.id ? next : x)));
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="agent-chat">
    <h2>${t("agents.test_chat", { name: agent.name })}</h2>
    <${ErrorBox} error=${error} />
    ${turns.map(
      (run) => html`<div class="agent-turn" data-status=${run.status}>
        <p><strong>${t("agents.you")}</strong> ${run.input}</p>
        <table><caption>${t("common.steps")}</caption><thead><tr><th>#</th><th>${t("common.step")}</th><th>${t("common.status")}</th><th>${t("agents.detail")}</th><th>${t("agents.latency")}</th></tr></thead>
          <tbody>${run.steps.map((s) => html`<${StepRow} s=${s} />`)}</tbody></table>
        ${run.reply && html`<p class="agent-reply"><strong>${t("agents.agent")}</strong> ${run.reply}</p>`}
        <p class="muted">${t("agents.tokens_cost", { total_tokens: run.total_tokens, cost_micros: run.cost_micros, status: run.status })}</p>
        ${run.status === "waiting_approval" && run.approval && html`<div class="row">
          <span>${t("common.approve")} <code>${run.approval.tool_name}(${JSON.stringify(run.approval.arguments)})</code>?</span>
          <button class="primary" onClick=${() => decide(run, "approve")}>${t("common.approve")}</button>
          <button onClick=${() => decide(run, "reject")}>${t("agents.reject")}</button>
        </div>`}
      </div>`,
    )}
    <form class="row" onSubmit=${send}>
      <label for="agent-message" class="sr-only">${t("common.message")}</label>
      <input id="agent-message" name="message" value=${text} onInput=${(e) => setText(e.target.value)} placeholder=${t("agents.ask_the_agent")} />
      <button class="primary" type="submit" disabled=${busy}>${t("common.send")}</button>
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
    setTick((tv) => tv + 1);
  };
  const remove = async (a) => {
    if (!confirm(t("agents.delete_the_agent", { name: a.name }))) return;
    await del(`/api/v1/agents/${a.id}`);
    setTick((tv) => tv + 1);
  };
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  const items = (agents.data && agents.data.items) || [];
  return html`<${Page} title=${t("agents.agents_2", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="agents" />
    <${ErrorBox} error=${agents.error} />
    <div class="card">
      <table id="agents-list"><caption>${t("agents.agents")}</caption>
        <thead><tr><th>${t("common.name")}</th><th>${t("agents.tools")}</th><th>${t("agents.max_steps")}</th><th>${t("common.active_2")}</th><th></th></tr></thead>
        <tbody>
          <${Loading} load=${agents} cols="5" />
          ${agents.data && !items.length && html`<tr><td colspan="5" class="muted">${t("agents.no_agents_yet_an_agent")}</td></tr>`}
          ${items.map(
            (a) => html`<tr data-agent=${a.name}>
              <td>${a.name}</td><td>${a.tools.map((tv) => tv.function_name + (tv.requires_approval ? " " + t("agents.approval") : "")).join(", ")}</td>
              <td>${a.max_steps}</td><td>${a.is_active ? t("common.yes_lower") : t("common.no_lower")}</td>
              <td class="row">
                ${writable && html`<button onClick=${() => setChatting(a)}>${t("agents.test_chat_2")}</button>`}
                ${writable && html`<button onClick=${() => setEditing(a)}>${t("common.edit")}</button>`}
                ${writable && html`<button onClick=${() => remove(a)}>${t("common.delete")}</button>`}
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${writable && !editing && html`<button class="primary" id="new-agent" onClick=${() => setEditing("new")}>${t("agents.new_agent")}</button>`}
    </div>
    ${editing && html`<${AgentForm} key=${editing === "new" ? "new" : editing.id} botId=${botId} agent=${editing === "new" ? null : editing} tools=${tools} onSaved=${saved} onCancel=${() => setEditing(null)} />`}
    ${chatting && html`<${TestChat} key=${chatting.id} agent=${chatting} />`}
  <//>`;
}

route("/bots/:botId/agents", BotAgents);
