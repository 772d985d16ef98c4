// The orchestration editor: the entry flow, transitions between flows
// (on_complete, on_condition, on_intent, on_keyword) and typed variables.
import { html, Page, useLoad, useState, useEffect, ErrorBox, toast, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, put, del } from "../api.js";
import { can } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";
import { t } from "../i18n.js";

const TRIGGERS = ["on_complete", "on_condition", "on_intent", "on_keyword"];
const TYPES = ["string", "number", "boolean", "date", "list", "object"];
const SCOPES = ["global", "session", "flow"];

/** The editable text of a trigger value, and back. */
function triggerText(tv) {
  const v = tv.trigger_value || {};
  if (tv.trigger_type === "on_intent") return v.intent || "";
  if (tv.trigger_type === "on_keyword") return (v.keywords || []).join(", ");
  if (tv.trigger_type === "on_condition") return v.expression || JSON.stringify(v);
  return "";
}

function triggerValue(type, text) {
  if (type === "on_intent") return { intent: text.trim() };
  if (type === "on_keyword") return { keywords: text.split(",").map((s) => s.trim()).filter(Boolean) };
  if (type === "on_condition") {
    const tv = text.trim();
    if (tv.startsWith("{")) {
      try {
        return JSON.parse(tv);
      } catch {
        return { expression: tv };
      }
    }
    return { expression: tv };
  }
  return {};
}

function Editor({ botId, orch, flows, onSaved, onDeleted }) {
  const [o, setO] = useState(orch);
  const [error, setError] = useState(null);
  useEffect(() => setO(orch), [orch]);
  const set = (patch) => setO((x) => ({ ...x, ...patch }));
  const setRow = (list, i, patch) => set({ [list]: o[list].map((r, j) => (j === i ? { ...r, ...patch } : r)) });
  const save = async () => {
    setError(null);
    const body = {
      name: o.name,
      description: o.description || undefined,
      is_active: o.is_active,
      entry_flow: o.entry_flow,
      transitions: o.transitions.map((tv) => ({
        from_flow: tv.from_flow, to_flow: tv.to_flow, trigger_type: tv.trigger_type, priority: Number(tv.priority) || 0,
        trigger_value: tv._text !== undefined ? triggerValue(tv.trigger_type, tv._text) : tv.trigger_value || {},
      })),
      variables: o.variables.map((v) => ({ name: v.name, type: v.type, scope: v.scope, default_value: v._default !== undefined ? parseDefault(v._default) : v.default_value })),
    };
    try {
      const saved = o.id ? await put(`/api/v1/orchestrations/${o.id}`, body) : await post(`/api/v1/bots/${botId}/orchestrations`, body);
      toast(t("orchestrations.orchestration_saved"));
      onSaved(saved);
    } catch (e) {
      setError(e);
    }
  };
  const remove = async () => {
    if (!confirm(t("orchestrations.delete", { name: o.name }))) return;
    try {
      await del(`/api/v1/orchestrations/${o.id}`);
      onDeleted();
    } catch (e) {
      setError(e);
    }
  };
  const flowOptions = (value, any) => html`${any && html`<option value="*" selected=${value === "*"}>${t("orchestrations.any_flow")}</option>`}${flows.map((f) => html`<option value=${f} selected=${value === f}>${f}</option>`)}`;
  return html`<div class="card" id="orchestration-editor">
    <${ErrorBox} error=${error} />
    <div class="row">
      <div style="flex:1"><label for="orch-name">${t("common.name")}</label><input id="orch-name" value=${o.name} onInput=${(e) => set({ name: e.target.value })} /></div>
      <div><label for="orch-entry">${t("orchestrations.entry_flow")}</label><select id="orch-entry" onChange=${(e) => set({ entry_flow: e.target.value })}>${flowOptions(o.entry_flow, false)}</select></div>
      <label><input type="checkbox" id="orch-active" checked=${o.is_active} onChange=${(e) => set({ is_active: e.target.checked })} /> ${t("common.active_2")}</label>
    </div>
    <h3>${t("orchestrations.transitions")}</h3>
    <table id="transitions"><thead><tr><th>${t("common.from")}</th><th>${t("common.trigger")}</th><th>${t("common.value")}</th><th>${t("common.to")}</th><th>${t("orchestrations.priority")}</th><th></th></tr></thead><tbody>
      ${o.transitions.map(
        (tv, i) => html`<tr>
          <td><select onChange=${(e) => setRow("transitions", i, { from_flow: e.target.value })}>${flowOptions(tv.from_flow, true)}</select></td>
          <td><select onChange=${(e) => setRow("transitions", i, { trigger_type: e.target.value })}>${TRIGGERS.map((x) => html`<option selected=${tv.trigger_type === x}>${x}</option>`)}</select></td>
          <td><input class="trigger-value" placeholder=${{ on_intent: t("orchestrations.intent_name"), on_keyword: t("orchestrations.word_other_words"), on_condition: "expression", on_complete: "" }[tv.trigger_type]}
                disabled=${tv.trigger_type === "on_complete"} value=${tv._text !== undefined ? tv._text : triggerText(tv)} onInput=${(e) => setRow("transitions", i, { _text: e.target.value })} /></td>
          <td><select onChange=${(e) => setRow("transitions", i, { to_flow: e.target.value })}>${flowOptions(tv.to_flow, false)}</select></td>
          <td><input type="number" style="width:5em" value=${tv.priority} onInput=${(e) => setRow("transitions", i, { priority: e.target.value })} /></td>
          <td><button type="button" onClick=${() => set({ transitions: o.transitions.filter((_, j) => j !== i) })}>${t("common.remove")}</button></td>
        </tr>`,
      )}
    </tbody></table>
    <button type="button" id="add-transition" onClick=${() => set({ transitions: [...o.transitions, { from_flow: "*", to_flow: flows[0] || "main", trigger_type: "on_keyword", trigger_value: { keywords: [] }, priority: 0 }] })}>${t("orchestrations.add_transition")}</button>
    <h3>${t("orchestrations.variables")}</h3>
    <table id="variables"><thead><tr><th>${t("common.name")}</th><th>${t("common.type")}</th><th>${t("orchestrations.scope")}</th><th>${t("orchestrations.default_json")}</th><th></th></tr></thead><tbody>
      ${o.variables.map(
        (v, i) => html`<tr>
          <td><input value=${v.name} onInput=${(e) => setRow("variables", i, { name: e.target.value })} /></td>
          <td><select onChange=${(e) => setRow("variables", i, { type: e.target.value })}>${TYPES.map((x) => html`<option selected=${v.type === x}>${x}</option>`)}</select></td>
          <td><select onChange=${(e) => setRow("variables", i, { scope: e.target.value })}>${SCOPES.map((x) => html`<option selected=${v.scope === x}>${x}</option>`)}</select></td>
          <td><input value=${v._default !== undefined ? v._default : v.default_value === undefined || v.default_value === null ? "" : JSON.stringify(v.default_value)} onInput=${(e) => setRow("variables", i, { _default: e.target.value })} /></td>
          <td><button type="button" onClick=${() => set({ variables: o.variables.filter((_, j) => j !== i) })}>${t("common.remove")}</button></td>
        </tr>`,
      )}
    </tbody></table>
    <button type="button" id="add-variable" onClick=${() => set({ variables: [...o.variables, { name: "", type: "string", scope: "session" }] })}>${t("orchestrations.add_variable")}</button>
    ${can("bots.write") &&
    html`<div class="row" style="margin-top:1rem"><button type="button" class="primary" id="save-orchestration" onClick=${save}>${t("common.save")}</button>
      ${o.id && html`<button type="button" class="danger" onClick=${remove}>${t("common.delete")}</button>`}</div>`}
  </div>`;
}

function parseDefault(text) {
  const tv = (text || "").trim();
  if (!tv) return undefined;
  try {
    return JSON.parse(tv);
  } catch {
    return tv;
  }
}

function Orchestrations({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const [tick, setTick] = useState(0);
  const list = useLoad(() => get(`/api/v1/bots/${botId}/orchestrations?limit=100`), [botId, tick]);
  const flows = useLoad(() => get(`/api/v1/bots/${botId}/flows`), [botId]);
  const [selected, setSelected] = useState(null);
  const items = (list.data && (list.data.items || list.data)) || [];
  const flowNames = ((flows.data && (flows.data.items || flows.data)) || []).map((f) => f.name);
  const blank = { name: t("orchestrations.new_orchestration"), is_active: items.length === 0, entry_flow: flowNames[0] || "main", transitions: [], variables: [] };
  const current = selected === "new" ? blank : items.find((o) => o.id === selected);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("orchestrations.orchestrations", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="orchestrations" />
    <${ErrorBox} error=${list.error} />
    <div class="split">
      <div class="card" style="flex:1;min-width:220px">
        <ul class="pick-list">
          ${items.map((o) => html`<li class=${selected === o.id ? "active" : ""}><a href="#" onClick=${(e) => (e.preventDefault(), setSelected(o.id))}>${o.name}</a>${o.is_active && html` <span class="badge ok">${t("common.active")}</span>`}</li>`)}
          <${Loading} load=${list} li />
          ${list.data && !items.length && html`<li class="muted">${t("orchestrations.none_conversations_start_in_the")}</li>`}
        </ul>
        ${can("bots.write") && html`<button type="button" id="new-orchestration" onClick=${() => setSelected("new")}>${t("orchestrations.new_orchestration")}</button>`}
      </div>
      <div style="flex:3">
        ${current
          ? html`<${Editor} botId=${botId} orch=${current} flows=${flowNames} onSaved=${(o) => (setTick((tv) => tv + 1), setSelected(o.id))} onDeleted=${() => (setTick((tv) => tv + 1), setSelected(null))} />`
          : html`<div class="card muted">${t("orchestrations.select_or_create_an_orchestration")}</div>`}
      </div>
    </div>
  <//>`;
}

route("/bots/:botId/orchestrations", Orchestrations);
