// A bot's AI section: its model settings (provider and model, temperature,
// max tokens, system prompt, fallback provider, monthly budgets), a test
// round trip, a small chat tester that streams (text, tool calls, usage),
// and the usage table per day and model. Costs are in the currency's units
// here and micro-units in the API (1 unit = 1,000,000 micros). Number inputs
// carry no min/max: the server's 422 names the field and is shown under it.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, put, post, postEvents, ApiError } from "../api.js";
import { currentOrg, can } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";
import { t } from "../i18n.js";

const MICROS = 1000000;
const money = (micros) => (micros / MICROS).toFixed(micros % 10000 === 0 ? 2 : 6);
const toMicros = (v) => (v === "" ? null : Math.round(Number(v) * MICROS));
const orNull = (v) => (v === "" ? null : Number(v));

function formOf(c) {
  return {
    provider_id: c.provider_id === null ? "" : String(c.provider_id),
    fallback_provider_id: c.fallback_provider_id === null ? "" : String(c.fallback_provider_id),
    model: c.model || "",
    temperature: String(c.temperature),
    max_tokens: String(c.max_tokens),
    system_prompt: c.system_prompt,
    monthly_token_budget: c.monthly_token_budget === null ? "" : String(c.monthly_token_budget),
    monthly_cost_budget: c.monthly_cost_budget_micros === null ? "" : money(c.monthly_cost_budget_micros),
    is_enabled: c.is_enabled,
  };
}

/** The settings form; providers are listed for those who may see them. */
function ConfigForm({ botId, config, providers, onSaved }) {
  const [form, setForm] = useState(formOf(config));
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v }));
  const items = (providers.data && providers.data.items) || [];
  const chosen = items.find((p) => String(p.id) === form.provider_id) || items.find((p) => p.is_default);
  const writable = can("bots.write");
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const saved = await put(`/api/v1/bots/${botId}/ai/config`, {
        provider_id: orNull(form.provider_id),
        fallback_provider_id: orNull(form.fallback_provider_id),
        model: form.model.trim() || null,
        temperature: Number(form.temperature),
        max_tokens: Number(form.max_tokens),
        system_prompt: form.system_prompt,
        monthly_token_budget: orNull(form.monthly_token_budget),
        monthly_cost_budget_micros: toMicros(form.monthly_cost_budget),
        is_enabled: form.is_enabled,
      });
      toast(t("ai.ai_settings_saved"));
      onSaved(saved);
    } catch (err) {
      // The API's cost field is the form's cost field (in currency units).
      if (err.field === "monthly_cost_budget_micros") err.details = { ...err.details, field: "monthly_cost_budget" };
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const picker = (name, label, emptyLabel) => html`<div>
    <label for=${name}>${label}</label>
    ${providers.error
      ? html`<input id=${name} name=${name} type="number" min="1" placeholder=${t("ai.provider_id")} value=${form[name]} onInput=${(e) => set(name)(e.target.value)} disabled=${!writable} />`
      : html`<select id=${name} name=${name} value=${form[name]} onChange=${(e) => set(name)(e.target.value)} disabled=${!writable}>
          <option value="">${emptyLabel}</option>
          ${items.map((p) => html`<option value=${String(p.id)}>${p.name} (${p.default_model})${p.is_active ? "" : " " + t("ai.disabled")}</option>`)}
        </select>`}
    <${FieldError} error=${error} name=${name} />
  </div>`;
  return html`<form class="card" id="ai-config" onSubmit=${save}>
    <h2>${t("common.model")}</h2>
    <${ErrorBox} error=${error} />
    ${providers.data && !items.length &&
    html`<p class="muted" id="ai-no-provider">${t("ai.no_llm_provider_yet")} ${can("integrations.manage") ? html`${t("ai.add_one_in")} <a href="/settings/llm-providers">${t("ai.settings_llm_providers")}</a>.` : t("ai.ask_an_administrator_to_add")} ${t("ai.without_one_the_bot_s")}</p>`}
    <div class="grid">
      ${picker("provider_id", t("ai.provider"), t("ai.organization_default"))}
      <div>
        <label for="model">${t("common.model")}</label>
        <input id="model" name="model" list="ai-models" placeholder=${chosen ? chosen.default_model : t("ai.provider_default")} value=${form.model} onInput=${(e) => set("model")(e.target.value)} disabled=${!writable} />
        <datalist id="ai-models">${items.map((p) => html`<option value=${p.default_model} />`)}</datalist>
        <${FieldError} error=${error} name="model" />
      </div>
      <${Field} label=${t("ai.temperature_0_2")} name="temperature" type="number" step="any" value=${form.temperature} onInput=${set("temperature")} error=${error} disabled=${!writable} />
      <${Field} label=${t("ai.max_tokens_per_answer")} name="max_tokens" type="number" value=${form.max_tokens} onInput=${set("max_tokens")} error=${error} disabled=${!writable} />
      ${picker("fallback_provider_id", t("ai.fallback_provider"), t("ai.the_provider_s_own_fallback"))}
      <${Field} label=${t("ai.monthly_token_budget_empty_no")} name="monthly_token_budget" type="number" value=${form.monthly_token_budget} onInput=${set("monthly_token_budget")} error=${error} disabled=${!writable} />
      <${Field} label=${t("ai.monthly_cost_budget_currency_units")} name="monthly_cost_budget" type="number" step="any" value=${form.monthly_cost_budget} onInput=${set("monthly_cost_budget")} error=${error} disabled=${!writable} />
    </div>
    <label for="system_prompt">${t("ai.system_prompt")}</label>
    <textarea id="system_prompt" name="system_prompt" rows="3" value=${form.system_prompt} onInput=${(e) => set("system_prompt")(e.target.value)} disabled=${!writable}></textarea>
    <${FieldError} error=${error} name="system_prompt" />
    <label><input type="checkbox" style="width:auto" checked=${form.is_enabled} onChange=${(e) => set("is_enabled")(e.target.checked)} disabled=${!writable} /> ${t("ai.ai_enabled_for_this_bot")}</label>
    <p class="muted" id="ai-month">${t("ai.this_month_tokens", { month_tokens: config.month_tokens })}${config.monthly_token_budget !== null ? ` of ${config.monthly_token_budget}` : ""}${t("ai.cost", { month_cost_micros: money(config.month_cost_micros) })}${config.monthly_cost_budget_micros !== null ? ` of ${money(config.monthly_cost_budget_micros)}` : ""}.</p>
    ${writable && html`<button class="primary" type="submit" disabled=${busy}>${busy ? t("ai.saving") : t("common.save")}</button>`}
  </form>`;
}

/** One round trip with the bot's settings. */
function TestButton({ botId, onDone }) {
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setError(null);
    setResult(null);
    setBusy(true);
    try {
      setResult(await post(`/api/v1/bots/${botId}/ai/test`));
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="card" id="ai-test">
    <h2>${t("common.test")}</h2>
    <button type="button" id="ai-test-button" onClick=${run} disabled=${busy}>${busy ? t("ai.testing") : t("ai.send_a_test_prompt")}</button>
    <${ErrorBox} error=${error} />
    ${result &&
    html`<p role="status" id="ai-test-result">${t("ai.from", { reply: result.reply })} <strong>${result.usage.model}</strong> ${t("ai.in_ms_tokens", { latency_ms: result.usage.latency_ms, total_tokens: result.usage.total_tokens })}${result.usage.fell_back ? " " + t("ai.fallback_provider_2") : ""}.</p>`}
  </div>`;
}

/** Streams a chat completion (fetch + ReadableStream), calling `on(event, data)`. */
function streamChat(botId, messages, on, signal) {
  return postEvents(`/api/v1/bots/${botId}/ai/chat/stream`, { messages }, on, signal);
}

/** A small chat with the model: the answer streams in, then its usage. */
function ChatTester({ botId, onDone }) {
  const [messages, setMessages] = useState([]);
  const [text, setText] = useState("");
  const [partial, setPartial] = useState(null);
  const [usage, setUsage] = useState(null);
  const [error, setError] = useState(null);
  const [controller, setController] = useState(null);
  const send = async (e) => {
    e.preventDefault();
    if (!text.trim() || controller) return;
    const history = [...messages, { role: "user", content: text.trim() }];
    setMessages(history);
    setText("");
    setError(null);
    setUsage(null);
    setPartial("");
    const abort = new AbortController();
    setController(abort);
    let answer = "";
    let calls = {};
    try {
      await streamChat(
        botId,
        history,
        (event, data) => {
          if (event === "delta") {
            answer += data.text;
            setPartial(answer);
          } else if (event === "tool_call") {
            const c = calls[data.index] || { name: "", arguments: "" };
            calls = { ...calls, [data.index]: { name: c.name + (data.name || ""), arguments: c.arguments + data.arguments } };
          } else if (event === "done") {
            setMessages((m) => [...m, data.message]);
          } else if (event === "error") {
            setError(new ApiError(502, { error: { code: data.code, message: data.message } }));
          } else if (event === "usage") {
            setUsage(data);
          }
        },
        abort.signal,
      );
    } catch (err) {
      if (err.name !== "AbortError") setError(err);
    } finally {
      setPartial(null);
      setController(null);
      onDone();
    }
  };
  return html`<div class="card" id="ai-chat">
    <h2>${t("ai.chat_tester")}</h2>
    <ul class="plain" id="ai-chat-log" aria-live="polite">
      ${messages.map(
        (m, i) => html`<li key=${i} class=${`ai-msg ai-${m.role}`}><strong>${m.role === "user" ? t("ai.you") : t("common.model")}:</strong> ${m.content || ""}
          ${(m.tool_calls || []).map((c) => html`<div class="muted small">${t("ai.calls")} <code>${c.function.name}(${c.function.arguments})</code></div>`)}</li>`,
      )}
      ${partial !== null && html`<li class="ai-msg ai-assistant" id="ai-partial" aria-busy="true"><strong>${t("ai.model")}</strong> ${partial}</li>`}
    </ul>
    <${ErrorBox} error=${error} />
    ${usage && html`<p class="muted small" id="ai-chat-usage">${t("ai.tokens_cost_ms", { total_tokens: usage.total_tokens, cost_micros: money(usage.cost_micros), latency_ms: usage.latency_ms, model: usage.model })}</p>`}
    <form class="row" onSubmit=${send}>
      <label for="ai-chat-text" class="sr-only">${t("common.message")}</label>
      <input id="ai-chat-text" placeholder=${t("ai.say_something_to_the_model")} value=${text} onInput=${(e) => setText(e.target.value)} />
      ${controller
        ? html`<button type="button" onClick=${() => controller.abort()}>${t("ai.stop")}</button>`
        : html`<button type="submit" class="primary" id="ai-chat-send">${t("common.send")}</button>`}
      <button type="button" onClick=${() => (setMessages([]), setUsage(null))}>${t("ai.clear")}</button>
    </form>
  </div>`;
}

/** Tokens and cost per day and model, this month. */
function UsageTable({ botId, tick }) {
  const usage = useLoad(() => get(`/api/v1/bots/${botId}/ai/usage`), [botId, tick]);
  return html`<div class="card" id="ai-usage">
    <h2>${t("ai.usage_this_month")}</h2>
    <${ErrorBox} error=${usage.error} />
    <table>
      <thead><tr><th>${t("ai.day")}</th><th>${t("common.model")}</th><th>${t("ai.calls_2")}</th><th>${t("ai.failed")}</th><th>${t("ai.prompt_tokens")}</th><th>${t("ai.completion_tokens")}</th><th>${t("common.cost")}</th></tr></thead>
      <tbody>
        ${usage.data &&
        usage.data.rows.map(
          (r) => html`<tr data-usage-day=${r.day} data-usage-model=${r.model}>
            <td>${r.day}</td><td>${r.model}</td><td>${r.calls}</td><td>${r.failed_calls}</td>
            <td>${r.prompt_tokens}</td><td>${r.completion_tokens}</td><td>${money(r.cost_micros)}</td>
          </tr>`,
        )}
        <${Loading} load=${usage} cols="7" />
        ${usage.data && !usage.data.rows.length && html`<tr><td colspan="7" class="muted">${t("ai.no_model_calls_this_month")}</td></tr>`}
      </tbody>
      ${usage.data && usage.data.rows.length > 0 &&
      html`<tfoot><tr><td colspan="4"><strong>${t("ai.total")}</strong></td><td colspan="2" id="ai-usage-tokens">${t("ai.tokens", { total_tokens: usage.data.total_tokens })}</td><td>${money(usage.data.cost_micros)}</td></tr></tfoot>`}
    </table>
  </div>`;
}

function BotAi({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const org = currentOrg();
  const [tick, setTick] = useState(0);
  const config = useLoad(() => get(`/api/v1/bots/${botId}/ai/config`), [botId, tick]);
  const providers = useLoad(() => get(`/api/v1/orgs/${org.id}/llm-providers?limit=200`), [org.id]);
  const refresh = () => setTick((tv) => tv + 1);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("ai.ai_title", { name: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="ai" />
    <${ErrorBox} error=${config.error} />
    <${Loading} load=${config} />
    ${config.data && html`<${ConfigForm} key=${config.data.updated_at || "new"} botId=${botId} config=${config.data} providers=${providers} onSaved=${refresh} />`}
    ${can("bots.write") && html`<${TestButton} botId=${botId} onDone=${refresh} />`}
    ${can("bots.write") && html`<${ChatTester} botId=${botId} onDone=${refresh} />`}
    <${UsageTable} botId=${botId} tick=${tick} />
  <//>`;
}

route("/bots/:botId/ai", BotAi);
