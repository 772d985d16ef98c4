// The flow builder's per-node-type forms: every field of the server's node
// data (src/flows/document.rs) has a control, so no JSON is ever typed.
// Pickers list what exists (knowledge bases, intents, entities, variables,
// flows); rows editors add, reorder and remove quick replies, buttons,
// cards, choices, branches, headers and mappings; the HTTP node can send a
// test request with sample values.
import { html, useState, useRef, useLoad, ErrorBox, FieldError } from "../ui.js";
import { get, post } from "../api.js";
import { t } from "../i18n.js";

/** Variables the runtime sets on every turn (compile.rs BUILTINS). */
export const BUILTIN_VARS = ["message", "intent", "confidence", "entities", "channel", "conversation", "detected_language"];
/** System entities (src/nlu/entities/system.rs). */
export const SYSTEM_ENTITIES = ["email", "phone", "number", "ordinal", "date", "time", "duration", "url", "money", "percentage"];
const SUBJECTS = () => ([
  ["variable", t("nodeforms.variable")],
  ["intent", t("nodeforms.intent")],
  ["entity", t("nodeforms.entity")],
  ["channel", t("nodeforms.channel")],
  ["message", t("nodeforms.message_text")],
  ["confidence", t("nodeforms.intent_confidence")],
  ["detected_language", t("nodeforms.detected_language_iso_639_1")],
]);
const OPERATORS = () => [
  ["equals", t("nodeforms.op_equals")],
  ["not_equals", t("nodeforms.op_not_equals")],
  ["contains", t("nodeforms.op_contains")],
  ["not_contains", t("nodeforms.op_not_contains")],
  ["starts_with", t("nodeforms.op_starts_with")],
  ["greater_than", ">"],
  ["less_than", "<"],
  ["greater_or_equal", "≥"],
  ["less_or_equal", "≤"],
  ["is_empty", t("nodeforms.op_is_empty")],
  ["is_not_empty", t("nodeforms.op_is_not_empty")],
  ["matches", t("nodeforms.op_matches")],
  ["in", t("nodeforms.op_in")],
];
/** Operator → its words in the UI's language (for summaries of conditions). */
export const operatorWords = () => Object.fromEntries(OPERATORS());
const CHANNELS = ["widget", "emulator", "api", "telegram", "whatsapp", "slack", "messenger", "sms", "voice", "email"];
const NUMERIC_OPS = ["greater_than", "less_than", "greater_or_equal", "less_or_equal"];

/** Every variable the document sets, with the runtime's built-ins, sorted. */
export function collectVariables(doc) {
  const names = new Set();
  for (const n of (doc && doc.nodes) || []) {
    const d = n.data || {};
    if (n.type === "question" && d.variable) names.add(d.variable);
    if (n.type === "set_variable") for (const a of d.assignments || []) a.variable && names.add(a.variable);
    if (n.type === "http") {
      for (const m of d.mappings || []) m.variable && names.add(m.variable);
      if (d.status_variable) names.add(d.status_variable);
      if (d.response_variable) names.add(d.response_variable);
    }
    if (n.type === "knowledge" && d.variable) names.add(d.variable);
    if (n.type === "form") for (const sl of d.slots || []) sl.variable && names.add(sl.variable);
    if ((n.type === "agent" || n.type === "tool") && d.variable) names.add(d.variable);
    if (n.type === "tool" && d.error_variable) names.add(d.error_variable);
  }
  return { own: [...names].sort(), builtins: BUILTIN_VARS };
}

/** Loads what the pickers list: knowledge bases, intents, entities, flows, teams, agents, tools. */
export function usePickerData(botId, orgId) {
  const kbs = useLoad(() => (orgId ? get(`/api/v1/orgs/${orgId}/knowledge-bases?limit=200`) : null), [orgId]);
  const intents = useLoad(() => get(`/api/v1/bots/${botId}/nlu/intents?limit=200`), [botId]);
  const entities = useLoad(() => get(`/api/v1/bots/${botId}/nlu/entities?limit=200`), [botId]);
  const flows = useLoad(() => get(`/api/v1/bots/${botId}/flows`), [botId]);
  const teams = useLoad(() => (orgId ? get(`/api/v1/orgs/${orgId}/teams?limit=200`) : null), [orgId]);
  // Agents and tools need `agents.read`; without it the pickers are empty.
  const agents = useLoad(() => get(`/api/v1/bots/${botId}/agents?limit=100`), [botId]);
  const tools = useLoad(() => (orgId ? get(`/api/v1/orgs/${orgId}/tools?limit=200`) : null), [orgId]);
  const items = (l) => (l.data && (l.data.items || l.data)) || [];
  return {
    kbs: items(kbs), intents: items(intents), entities: items(entities), flows: items(flows), teams: items(teams),
    agents: items(agents), tools: items(tools),
  };
}

/** A template with `{{var}}` placeholders as preview pieces: text, a sample value, or an unset variable. */
export function previewParts(text, sample) {
  const out = [];
  const re = /\{\{\s*([^}]*?)\s*\}\}/g;
  let last = 0;
  let m;
  while ((m = re.exec(text || ""))) {
    if (m.index > last) out.push({ text: text.slice(last, m.index) });
    const name = m[1];
    const value = (sample || {})[name];
    if (value !== undefined && value !== "") out.push({ value: String(value), name });
    else out.push({ unset: name });
    last = m.index + m[0].length;
  }
  if (last < (text || "").length) out.push({ text: text.slice(last) });
  return out;
}

export function Preview({ text, sample, id }) {
  if (!text) return null;
  return html`<div class="nf-preview" id=${id} aria-label=${t("nodeforms.preview_with_sample_values")}>
    <span class="muted small">${t("nodeforms.preview")}</span>
    <div>${previewParts(text, sample).map((p) =>
      p.unset !== undefined
        ? html`<mark class="unset-var" title=${t("nodeforms.no_sample_value_shown_empty")}>{{${p.unset}}}</mark>`
        : p.value !== undefined
          ? html`<span class="sample-var" title=${p.name}>${p.value}</span>`
          : p.text,
    )}</div>
  </div>`;
}

/** "{x} Insert variable": a menu of the known variables that inserts `{{name}}` at the cursor of `target`. */
function InsertVariable({ vars, target, onInsert, id }) {
  const [open, setOpen] = useState(false);
  const insert = (name) => {
    const el = target.current;
    const token = `{{${name}}}`;
    const value = (el && el.value) || "";
    const at = el && el.selectionStart != null ? el.selectionStart : value.length;
    const end = el && el.selectionEnd != null ? el.selectionEnd : at;
    onInsert(value.slice(0, at) + token + value.slice(end));
    setOpen(false);
    if (el) setTimeout(() => (el.focus(), el.setSelectionRange(at + token.length, at + token.length)), 0);
  };
  return html`<span class="nf-insert">
    <button type="button" class="small-btn" id=${id} aria-haspopup="menu" aria-expanded=${open} onClick=${() => setOpen(!open)}>${t("nodeforms.insert_variable")}</button>
    ${open &&
    html`<ul class="nf-menu" role="menu">
      ${vars.own.map((v) => html`<li role="none"><button type="button" role="menuitem" data-var=${v} onClick=${() => insert(v)}>${v}</button></li>`)}
      ${vars.builtins.map((v) => html`<li role="none"><button type="button" role="menuitem" class="muted" data-var=${v} onClick=${() => insert(v)}>${v} <small>${t("nodeforms.built_in")}</small></button></li>`)}
    </ul>`}
  </span>`;
}

let uid = 0;
/** A labelled text input or textarea whose value is a template, with variable insertion and preview. */
function TemplateField({ label, value, onValue, vars, sample, id, multiline, preview = true, placeholder }) {
  const ref = useRef(null);
  const fid = id || `nf-f${++uid}`;
  const props = { id: fid, ref, value: value || "", placeholder, onInput: (e) => onValue(e.target.value) };
  return html`<div class="nf-field">
    <div class="nf-label-row"><label for=${fid}>${label}</label><${InsertVariable} vars=${vars} target=${ref} onInsert=${onValue} id=${`${fid}-insert`} /></div>
    ${multiline ? html`<textarea rows="3" ...${props}></textarea>` : html`<input ...${props} />`}
    ${preview && html`<${Preview} text=${value} sample=${sample} id=${`${fid}-preview`} />`}
  </div>`;
}

function Text({ label, value, onValue, id, type = "text", placeholder, list, ...rest }) {
  const fid = id || `nf-f${++uid}`;
  return html`<div class="nf-field"><label for=${fid}>${label}</label>
    <input id=${fid} type=${type} value=${value == null ? "" : value} placeholder=${placeholder} list=${list}
      onInput=${(e) => onValue(type === "number" ? (e.target.value === "" ? undefined : Number(e.target.value)) : e.target.value)} ...${rest} /></div>`;
}

function Check({ label, checked, onValue, id }) {
  return html`<label class="nf-check"><input type="checkbox" id=${id} checked=${!!checked} onChange=${(e) => onValue(e.target.checked)} /> ${label}</label>`;
}

function Select({ label, value, onValue, options, id, empty }) {
  const fid = id || `nf-f${++uid}`;
  return html`<div class="nf-field"><label for=${fid}>${label}</label>
    <select id=${fid} value=${value == null ? "" : value} onChange=${(e) => onValue(e.target.value === "" ? undefined : e.target.value)}>
      ${empty !== undefined && html`<option value="">${empty}</option>`}
      ${options.map((o) => (Array.isArray(o) ? html`<option value=${o[0]}>${o[1]}</option>` : html`<option value=${o}>${o}</option>`))}
    </select></div>`;
}

/** A variable picker: the known variables, or a new name typed in. */
function VariablePicker({ label, value, onValue, vars, id, allowBuiltins }) {
  const fid = id || `nf-f${++uid}`;
  const names = allowBuiltins ? [...vars.own, ...vars.builtins] : vars.own;
  return html`<div class="nf-field"><label for=${fid}>${label}</label>
    <input id=${fid} list=${`${fid}-list`} value=${value || ""} autocomplete="off" placeholder=${t("nodeforms.variable_name")} onInput=${(e) => onValue(e.target.value)} />
    <datalist id=${`${fid}-list`}>${names.map((v) => html`<option value=${v} />`)}</datalist></div>`;
}

/** Rows editor: add, move up/down, remove. */
function Rows({ title, rows, onRows, make, render, name, addLabel }) {
  const list = rows || [];
  const set = (i, row) => onRows(list.map((r, j) => (j === i ? row : r)));
  const move = (i, d) => {
    const j = i + d;
    if (j < 0 || j >= list.length) return;
    const next = [...list];
    [next[i], next[j]] = [next[j], next[i]];
    onRows(next);
  };
  return html`<fieldset class="nf-rows" data-rows=${name}>
    <legend>${title}</legend>
    ${list.map(
      (r, i) => html`<div class="nf-row" data-row=${i}>
        <div class="nf-row-fields">${render(r, (row) => set(i, row), i)}</div>
        <div class="nf-row-tools">
          <button type="button" class="icon-btn" aria-label=${t("nodeforms.move_up", { name, value: i + 1 })} disabled=${i === 0} onClick=${() => move(i, -1)}>↑</button>
          <button type="button" class="icon-btn" aria-label=${t("nodeforms.move_down", { name, value: i + 1 })} disabled=${i === list.length - 1} onClick=${() => move(i, 1)}>↓</button>
          <button type="button" class="icon-btn danger" aria-label=${t("nodeforms.remove", { name, value: i + 1 })} onClick=${() => onRows(list.filter((_, j) => j !== i))}>×</button>
        </div>
      </div>`,
    )}
    <button type="button" class="small-btn" data-add-row=${name} onClick=${() => onRows([...list, make(list)])}>+ ${addLabel}</button>
  </fieldset>`;
}

/** Drops empty optional fields so the document stays minimal. */
function clean(obj) {
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out;
}

function ButtonsEditor({ rows, onRows, name = "button", title = t("nodeforms.buttons"), ctx }) {
  return html`<${Rows} title=${title} name=${name} addLabel=${t("nodeforms.add_button")} rows=${rows} onRows=${onRows} make=${() => ({ label: "" })}
    render=${(b, set, i) => html`
      <${Text} label=${t("nodeforms.label")} id=${`nf-${name}-${i}-label`} value=${b.label} onValue=${(v) => set({ ...b, label: v })} />
      <${Text} label=${t("nodeforms.sends_default_the_label")} value=${b.value} onValue=${(v) => set(clean({ ...b, value: v }))} />
      <${Text} label=${t("nodeforms.or_opens_url")} type="url" value=${b.url} onValue=${(v) => set(clean({ ...b, url: v }))} />`} />`;
}

/** Text, quick replies, buttons, cards and an image: the parts of a message (MessageData). */
export function MessageEditor({ value, onValue, ctx, idPrefix = "nf", textLabel = t("nodeforms.message_text") }) {
  const m = value || {};
  const set = (patch) => onValue(clean({ ...m, ...patch }));
  const [more, setMore] = useState(!!((m.buttons && m.buttons.length) || (m.cards && m.cards.length) || m.image));
  return html`<div class="nf-message">
    <${TemplateField} label=${textLabel} id=${`${idPrefix}-text`} multiline value=${m.text} onValue=${(v) => set({ text: v })} vars=${ctx.vars} sample=${ctx.sample} />
    <${Rows} title=${t("nodeforms.quick_replies")} name="quick_reply" addLabel=${t("nodeforms.add_quick_reply")} rows=${m.quick_replies} onRows=${(r) => set({ quick_replies: r })}
      make=${() => ({ label: "" })}
      render=${(q, setQ, i) => html`
        <${Text} label=${t("nodeforms.label")} id=${`${idPrefix}-qr-${i}-label`} value=${q.label} onValue=${(v) => setQ({ ...q, label: v })} />
        <${Text} label=${t("nodeforms.sends_default_the_label")} value=${q.value} onValue=${(v) => setQ(clean({ ...q, value: v }))} />`} />
    ${!more && html`<button type="button" class="link-btn" onClick=${() => setMore(true)}>${t("nodeforms.buttons_cards_and_image")}</button>`}
    ${more &&
    html`<${ButtonsEditor} rows=${m.buttons} onRows=${(r) => set({ buttons: r })} ctx=${ctx} />
      <${Rows} title=${t("nodeforms.cards")} name="card" addLabel=${t("nodeforms.add_card")} rows=${m.cards} onRows=${(r) => set({ cards: r })} make=${() => ({ title: "" })}
        render=${(c, setC, i) => html`
          <${Text} label=${t("nodeforms.title")} id=${`${idPrefix}-card-${i}-title`} value=${c.title} onValue=${(v) => setC({ ...c, title: v })} />
          <${Text} label=${t("nodeforms.subtitle")} value=${c.subtitle} onValue=${(v) => setC(clean({ ...c, subtitle: v }))} />
          <${Text} label=${t("nodeforms.image_url")} type="url" value=${c.image_url} onValue=${(v) => setC(clean({ ...c, image_url: v }))} />
          <${ButtonsEditor} name=${`card-${i}-button`} title=${t("nodeforms.card_buttons")} rows=${c.buttons} onRows=${(r) => setC(clean({ ...c, buttons: r }))} ctx=${ctx} />`} />
      <div class="nf-pair">
        <${Text} label=${t("nodeforms.image_url")} type="url" value=${m.image && m.image.url} onValue=${(v) => set({ image: v ? clean({ ...(m.image || {}), url: v }) : undefined })} />
        <${Text} label=${t("nodeforms.image_description")} value=${m.image && m.image.alt} onValue=${(v) => m.image && set({ image: clean({ ...m.image, alt: v }) })} />
      </div>`}
  </div>`;
}

function QuestionForm({ d, set, ctx }) {
  const v = d.validation || { kind: "any" };
  const kinds = [
    ["any", t("nodeforms.any_answer")],
    ["email", t("nodeforms.email_address")],
    ["phone", t("nodeforms.phone_number")],
    ["number", t("nodeforms.number")],
    ["date", t("nodeforms.date")],
    ["entity", t("nodeforms.other_entity")],
    ["regex", t("nodeforms.pattern_regular_expression")],
    ["choices", t("nodeforms.one_of_these_choices")],
  ];
  // email/phone/number/date are entity validations with a system entity.
  const shown = v.kind === "entity" && ["email", "phone", "number", "date"].includes(v.entity) ? v.entity : v.kind;
  const setKind = (k) => {
    if (["email", "phone", "number", "date"].includes(k)) set({ validation: { kind: "entity", entity: k } });
    else if (k === "entity") set({ validation: { kind: "entity", entity: (ctx.data.entities[0] && ctx.data.entities[0].name) || "money" } });
    else if (k === "regex") set({ validation: { kind: "regex", pattern: "", case_insensitive: true } });
    else if (k === "choices") set({ validation: { kind: "choices", choices: [{ label: t("nodeforms.yes") }, { label: t("nodeforms.no") }], show_as_quick_replies: true } });
    else set({ validation: { kind: "any" } });
  };
  return html`
    <${MessageEditor} value=${d.prompt} onValue=${(p) => set({ prompt: p })} ctx=${ctx} idPrefix="nf-prompt" textLabel=${t("nodeforms.question")} />
    <${VariablePicker} label=${t("nodeforms.save_the_answer_in")} id="nf-variable" value=${d.variable} onValue=${(x) => set({ variable: x })} vars=${ctx.vars} />
    <${Select} label=${t("nodeforms.accept")} id="nf-validation" value=${shown} onValue=${setKind} options=${kinds} />
    ${v.kind === "entity" &&
    !["email", "phone", "number", "date"].includes(v.entity) &&
    html`<${Select} label=${t("nodeforms.entity")} id="nf-validation-entity" value=${v.entity} onValue=${(e) => set({ validation: { kind: "entity", entity: e } })}
      options=${[...ctx.data.entities.map((e) => [e.name, e.name]), ...SYSTEM_ENTITIES.map((e) => [e, `${e} (system)`])]} />`}
    ${v.kind === "regex" &&
    html`<${Text} label=${t("nodeforms.pattern_the_whole_answer_must")} id="nf-pattern" value=${v.pattern} onValue=${(p) => set({ validation: { ...v, pattern: p } })} />
      <${Check} label=${t("nodeforms.ignore_case")} checked=${v.case_insensitive} onValue=${(c) => set({ validation: { ...v, case_insensitive: c } })} />`}
    ${v.kind === "choices" &&
    html`<${Rows} title=${t("nodeforms.choices")} name="choice" addLabel=${t("nodeforms.add_choice")} rows=${v.choices} onRows=${(r) => set({ validation: { ...v, choices: r } })} make=${() => ({ label: "" })}
        render=${(c, setC, i) => html`<${Text} label=${t("nodeforms.label")} id=${`nf-choice-${i}-label`} value=${c.label} onValue=${(x) => setC({ ...c, label: x })} />
          <${Text} label=${t("nodeforms.stored_value_default_the_label")} value=${c.value} onValue=${(x) => setC(clean({ ...c, value: x }))} />`} />
      <${Check} label=${t("nodeforms.show_the_choices_as_quick")} checked=${v.show_as_quick_replies !== false} onValue=${(c) => set({ validation: { ...v, show_as_quick_replies: c } })} />`}
    <div class="nf-pair">
      <${Text} label=${t("nodeforms.retries_before_invalid")} id="nf-retries" type="number" min="0" max="10" value=${d.retries == null ? 2 : d.retries} onValue=${(r) => set({ retries: r == null ? 0 : r })} />
    </div>
    <${TemplateField} label=${t("nodeforms.said_before_asking_again")} id="nf-reprompt" value=${d.reprompt} onValue=${(r) => set({ reprompt: r || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
    <${Check} label=${t("nodeforms.take_the_answer_from_the")} checked=${d.fill_from_message} onValue=${(c) => set({ fill_from_message: c || undefined })} />`;
}

/** A form: its slots (entity, role, variable, prompt, validation), retries and how to cancel. */
function FormForm({ d, set, ctx }) {
  const entityOptions = [...ctx.data.entities.map((e) => [e.name, e.name]), ...SYSTEM_ENTITIES.map((e) => [e, `${e} (system)`])];
  const rolesOf = (name) => ((ctx.data.entities.find((e) => e.name === name) || {}).roles || []);
  const words = (list) => (list || []).join(", ");
  const split = (text) => text.split(",").map((w) => w.trim()).filter(Boolean);
  return html`
    <p class="muted small">${t("nodeforms.asks_only_for_the_slots")}</p>
    <${Rows} title=${t("nodeforms.slots")} name="slot" addLabel=${t("nodeforms.add_slot")} rows=${d.slots} onRows=${(r) => set({ slots: r })}
      make=${(list) => ({ entity: (ctx.data.entities[0] && ctx.data.entities[0].name) || "number", variable: `slot_${list.length + 1}`, prompt: { text: "" } })}
      render=${(sl, setS, i) => {
        const roles = rolesOf(sl.entity);
        return html`<div class="nf-pair">
            <${Select} label=${t("nodeforms.entity")} id=${`nf-slot-${i}-entity`} value=${sl.entity} options=${entityOptions} onValue=${(e) => setS(clean({ ...sl, entity: e || "", role: undefined }))} />
            <${Select} label=${t("common.role")} id=${`nf-slot-${i}-role`} value=${sl.role} empty=${roles.length ? t("nodeforms.any_role") : t("nodeforms.no_roles_declared")} options=${roles} onValue=${(r) => setS(clean({ ...sl, role: r }))} />
          </div>
          <${VariablePicker} label=${t("nodeforms.save_in")} id=${`nf-slot-${i}-variable`} value=${sl.variable} vars=${ctx.vars} onValue=${(v) => setS({ ...sl, variable: v })} />
          <${TemplateField} label=${t("nodeforms.ask_with")} id=${`nf-slot-${i}-prompt`} value=${sl.prompt && sl.prompt.text} onValue=${(tv) => setS({ ...sl, prompt: { ...(sl.prompt || {}), text: tv } })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
          <${Text} label=${t("nodeforms.valid_when_expression_over_value")} id=${`nf-slot-${i}-validation`} value=${sl.validation} placeholder=${t("nodeforms.value_1_and_value_12")} onValue=${(x) => setS(clean({ ...sl, validation: x }))} />
          <${TemplateField} label=${t("nodeforms.said_when_the_value_is")} id=${`nf-slot-${i}-invalid`} value=${sl.invalid_message} onValue=${(x) => setS(clean({ ...sl, invalid_message: x }))} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
          <${Check} label=${t("nodeforms.required_ask_for_it")} id=${`nf-slot-${i}-required`} checked=${sl.required !== false} onValue=${(c) => setS(clean({ ...sl, required: c ? undefined : false }))} />`;
      }} />
    <div class="nf-pair">
      <${Text} label=${t("nodeforms.refusals_before_cancelled")} id="nf-form-retries" type="number" min="0" max="10" value=${d.retries == null ? 2 : d.retries} onValue=${(r) => set({ retries: r == null ? 0 : r })} />
      <${Text} label=${t("nodeforms.cancel_words_comma_separated")} id="nf-form-cancel" value=${words(d.cancel_keywords == null ? ["cancel"] : d.cancel_keywords)} onValue=${(tv) => set({ cancel_keywords: split(tv) })} />
    </div>
    <${Text} label=${t("nodeforms.cancel_intents_comma_separated")} id="nf-form-cancel-intents" value=${words(d.cancel_intents)} list="nf-form-intents" onValue=${(tv) => set({ cancel_intents: split(tv).length ? split(tv) : undefined })} />
    <datalist id="nf-form-intents">${ctx.data.intents.map((x) => html`<option value=${x.name} />`)}</datalist>
    <${Check} label=${t("nodeforms.count_slots_whose_variable_already")} id="nf-form-keep" checked=${d.keep_existing} onValue=${(c) => set({ keep_existing: c || undefined })} />`;
}

/** One structured rule: subject, name, operator, value (ConditionDoc). */
function RuleEditor({ c, onValue, ctx, idPrefix }) {
  const subject = c.subject || "variable";
  const op = c.operator || "equals";
  const needsValue = !["is_empty", "is_not_empty"].includes(op);
  const setValue = (raw) => {
    let value = raw;
    if (op === "in") value = String(raw).split(",").map((s) => s.trim()).filter(Boolean);
    else if (NUMERIC_OPS.includes(op) || subject === "confidence") value = raw === "" || isNaN(Number(raw)) ? raw : Number(raw);
    onValue(clean({ ...c, value }));
  };
  const shownValue = Array.isArray(c.value) ? c.value.join(", ") : c.value == null ? "" : String(c.value);
  const valueList = subject === "intent" ? `${idPrefix}-intents` : subject === "channel" ? `${idPrefix}-channels` : undefined;
  return html`<div class="nf-rule">
    <${Select} label=${t("nodeforms.if")} id=${`${idPrefix}-subject`} value=${subject} options=${SUBJECTS()}
      onValue=${(s) => onValue(clean({ subject: s, operator: op, value: c.value, name: s === "variable" || s === "entity" ? c.name : undefined }))} />
    ${subject === "variable" && html`<${VariablePicker} label=${t("nodeforms.variable")} id=${`${idPrefix}-name`} value=${c.name} onValue=${(n) => onValue({ ...c, name: n })} vars=${ctx.vars} allowBuiltins />`}
    ${subject === "entity" &&
    html`<${Select} label=${t("nodeforms.entity")} id=${`${idPrefix}-name`} value=${c.name} empty=${t("nodeforms.pick_an_entity")} onValue=${(n) => onValue(clean({ ...c, name: n }))}
      options=${[...ctx.data.entities.map((e) => e.name), ...SYSTEM_ENTITIES]} />`}
    <${Select} label=${t("nodeforms.operator")} id=${`${idPrefix}-operator`} value=${op} options=${OPERATORS()} onValue=${(o) => onValue(clean({ ...c, operator: o, value: ["is_empty", "is_not_empty"].includes(o) ? undefined : c.value }))} />
    ${needsValue &&
    (subject === "intent" && ["equals", "not_equals"].includes(op)
      ? html`<${Select} label=${t("common.intent")} id=${`${idPrefix}-value`} value=${c.value} empty=${t("nodeforms.pick_an_intent")} onValue=${(x) => onValue(clean({ ...c, value: x }))}
          options=${ctx.data.intents.map((i) => i.name)} />`
      : html`<div class="nf-field"><label for=${`${idPrefix}-value`}>${op === "in" ? t("nodeforms.values_comma_separated") : t("common.value")}</label>
          <input id=${`${idPrefix}-value`} list=${valueList} value=${shownValue} onInput=${(e) => setValue(e.target.value)} />
          <datalist id=${`${idPrefix}-intents`}>${ctx.data.intents.map((i) => html`<option value=${i.name} />`)}</datalist>
          <datalist id=${`${idPrefix}-channels`}>${CHANNELS.map((ch) => html`<option value=${ch} />`)}</datalist></div>`)}
  </div>`;
}

function ConditionForm({ d, set, ctx }) {
  const branches = d.branches || [];
  const newId = (list) => {
    let i = list.length + 1;
    while (list.some((b) => b.id === `branch_${i}`)) i++;
    return `branch_${i}`;
  };
  return html`<${Rows} title=${t("nodeforms.branches_checked_in_order_otherwise")} name="branch" addLabel=${t("nodeforms.add_branch")} rows=${branches}
      onRows=${(r) => set({ branches: r })}
      make=${(list) => ({ id: newId(list), condition: { subject: "variable", name: "", operator: "is_not_empty" } })}
      render=${(b, setB, i) => {
        const c = b.condition || {};
        const structured = !c.expression && !c.all && !c.any;
        return html`<div data-branch=${i}>
          <div class="nf-pair">
            <${Text} label=${t("nodeforms.port_name")} id=${`nf-branch-${i}-id`} value=${b.id} pattern="[A-Za-z0-9_-]+" onValue=${(x) => setB({ ...b, id: x })} />
            <${Text} label=${t("nodeforms.label")} value=${b.label} onValue=${(x) => setB(clean({ ...b, label: x }))} />
          </div>
          ${structured
            ? html`<${RuleEditor} c=${c} ctx=${ctx} idPrefix=${`nf-branch-${i}`} onValue=${(cond) => setB({ ...b, condition: cond })} />
                <button type="button" class="link-btn" onClick=${() => setB({ ...b, condition: { expression: "" } })}>${t("nodeforms.use_an_expression_instead")}</button>`
            : c.expression !== undefined
              ? html`<${Text} label=${t("nodeforms.expression")} id=${`nf-branch-${i}-expression`} value=${c.expression} placeholder=${t("nodeforms.score_3_and_plan_pro")} onValue=${(x) => setB({ ...b, condition: { expression: x } })} />
                  <button type="button" class="link-btn" onClick=${() => setB({ ...b, condition: { subject: "variable", name: "", operator: "is_not_empty" } })}>${t("nodeforms.use_the_rule_builder")}</button>`
              : html`<p class="muted small">${t("nodeforms.a_combined_condition")}${c.all ? "all" : "any"} ${t("nodeforms.of")} ${(c.all || c.any).length}).
                  <button type="button" class="link-btn" onClick=${() => setB({ ...b, condition: { subject: "variable", name: "", operator: "is_not_empty" } })}>${t("nodeforms.replace_with_one_rule")}</button></p>`}
        </div>`;
      }} />`;
}

function HttpForm({ d, set, ctx, botId, sample, setSample }) {
  const headers = Object.entries(d.headers || {}).map(([key, value]) => ({ key, value }));
  const body = d.body && typeof d.body === "object" && !Array.isArray(d.body) ? Object.entries(d.body).map(([key, value]) => ({ key, value: typeof value === "string" ? value : JSON.stringify(value) })) : [];
  const toObject = (rows) => {
    const o = {};
    for (const r of rows) o[r.key] = r.value;
    return o;
  };
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const used = [...new Set([d.url, ...Object.values(d.headers || {}), ...body.map((b) => b.value)].flatMap((tv) => [...String(tv || "").matchAll(/\{\{\s*([A-Za-z_][\w.]*)\s*\}\}/g)].map((m) => m[1])))];
  const test = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const s = {};
      for (const name of used) if (sample[name] !== undefined) s[name] = sample[name];
      setResult(await post(`/api/v1/bots/${botId}/flows/test-request`, clean({ method: d.method || "GET", url: d.url, headers: d.headers, body: d.body, timeout_ms: d.timeout_ms, mappings: d.mappings, sample: s })));
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`
    <div class="nf-pair">
      <${Select} label=${t("nodeforms.method")} id="nf-method" value=${d.method || "GET"} options=${["GET", "POST", "PUT", "PATCH", "DELETE"]} onValue=${(m) => set({ method: m })} />
      <${Text} label=${t("nodeforms.timeout_ms")} type="number" min="100" max="30000" value=${d.timeout_ms} placeholder="5000" onValue=${(tv) => set({ timeout_ms: tv })} />
    </div>
    <${TemplateField} label="URL" id="nf-url" value=${d.url} onValue=${(u) => set({ url: u })} vars=${ctx.vars} sample=${sample} placeholder=${t("nodeforms.https_api_example_com_orders")} />
    <${FieldError} error=${error} name="url" />
    <${Rows} title=${t("nodeforms.headers_2")} name="header" addLabel=${t("nodeforms.add_header")} rows=${headers} onRows=${(r) => set({ headers: r.length ? toObject(r) : undefined })} make=${() => ({ key: "", value: "" })}
      render=${(h, setH, i) => html`<div class="nf-pair"><${Text} label=${t("common.name")} id=${`nf-header-${i}-name`} value=${h.key} onValue=${(k) => setH({ ...h, key: k })} />
        <${Text} label=${t("common.value")} id=${`nf-header-${i}-value`} value=${h.value} onValue=${(v) => setH({ ...h, value: v })} /></div>`} />
    ${(d.method || "GET") !== "GET" &&
    html`<${Rows} title=${t("nodeforms.json_body_fields_alone_keeps")} name="body" addLabel=${t("nodeforms.add_field")} rows=${body}
      onRows=${(r) => set({ body: r.length ? toObject(r) : undefined })} make=${() => ({ key: "", value: "" })}
      render=${(b, setB, i) => html`<div class="nf-pair"><${Text} label=${t("nodeforms.field")} id=${`nf-body-${i}-key`} value=${b.key} onValue=${(k) => setB({ ...b, key: k })} />
        <${Text} label=${t("common.value")} id=${`nf-body-${i}-value`} value=${b.value} onValue=${(v) => setB({ ...b, value: v })} /></div>`} />`}
    <${Rows} title=${t("nodeforms.response_mapping_json_path_variable")} name="mapping" addLabel=${t("nodeforms.add_mapping")} rows=${d.mappings} onRows=${(r) => set({ mappings: r })} make=${() => ({ path: "$.", variable: "" })}
      render=${(m, setM, i) => html`<div class="nf-pair"><${Text} label=${t("nodeforms.json_path")} id=${`nf-mapping-${i}-path`} value=${m.path} placeholder=${t("nodeforms.data_status")} onValue=${(p) => setM({ ...m, path: p })} />
        <${VariablePicker} label=${t("nodeforms.variable")} id=${`nf-mapping-${i}-variable`} value=${m.variable} vars=${ctx.vars} onValue=${(v) => setM({ ...m, variable: v })} /></div>`} />
    <div class="nf-pair">
      <${VariablePicker} label=${t("nodeforms.status_code_into")} value=${d.status_variable} vars=${ctx.vars} onValue=${(v) => set({ status_variable: v || undefined })} />
      <${VariablePicker} label=${t("nodeforms.whole_response_into")} value=${d.response_variable} vars=${ctx.vars} onValue=${(v) => set({ response_variable: v || undefined })} />
    </div>
    <fieldset class="nf-rows nf-test">
      <legend>${t("nodeforms.test_request")}</legend>
      ${used.length === 0 && html`<p class="muted small">${t("nodeforms.the_request_uses_no_variables")}</p>`}
      ${used.map((name) => html`<${Text} label=${t("nodeforms.sample_value_of", { name })} id=${`nf-sample-${name}`} value=${sample[name]} onValue=${(v) => setSample({ ...sample, [name]: v })} />`)}
      <button type="button" id="test-request" class="primary" disabled=${busy || !d.url} onClick=${test}>${busy ? t("nodeforms.sending") : t("nodeforms.test_request")}</button>
      <${ErrorBox} error=${error} />
      ${result &&
      html`<div class="nf-test-result" id="test-result">
        <div><span class=${"badge " + (result.success ? "ok" : "bad")} id="test-status">${result.status}</span> <code>${result.url}</code> <span class="muted small">${t("nodeforms.ms", { duration_ms: Math.round(result.duration_ms) })}</span></div>
        ${result.mapped.length > 0 &&
        html`<table class="nf-mapped"><thead><tr><th>${t("nodeforms.variable")}</th><th>${t("common.value")}</th></tr></thead><tbody>
          ${result.mapped.map((m) => html`<tr data-mapped=${m.variable}><td>${m.variable}</td><td><code>${JSON.stringify(m.value)}</code></td></tr>`)}</tbody></table>`}
        <details><summary>${t("nodeforms.headers", { headers: result.headers.length })}</summary><ul class="small">${result.headers.map((h) => html`<li><code>${h.name}</code>: ${h.value}</li>`)}</ul></details>
        <pre class="nf-body">${result.body}${result.body_truncated ? "\n…" : ""}</pre>
      </div>`}
    </fieldset>`;
}

/** The variables a node's templates use (`{{name}}`, `{{name.field}}` → `name`). */
export function usedVariables(data) {
  const names = new Set();
  for (const m of JSON.stringify(data || {}).matchAll(/\{\{\s*([A-Za-z_]\w*)[^}]*\}\}/g)) names.add(m[1]);
  return [...names];
}

/** Sample values of the variables a node uses, for its previews (kept in this browser). */
export function SampleValues({ node, sample, setSample }) {
  const used = usedVariables(node.data);
  if (!used.length || node.type === "http") return null;
  return html`<details class="nf-rows nf-samples" data-no-undo open=${used.some((n) => sample[n] === undefined)}>
    <summary>${t("nodeforms.sample_values_for_the_preview")}</summary>
    ${used.map((name) => html`<${Text} label=${name} id=${`nf-sample-${name}`} value=${sample[name]} onValue=${(v) => setSample({ ...sample, [name]: v })} />`)}
  </details>`;
}

/** The form of one node; `set(patch)` merges into the node's data. */
export function NodeForm({ node, set, ctx, botId, flowName, sample, setSample }) {
  const d = node.data || {};
  switch (node.type) {
    case "message":
      return html`<${MessageEditor} value=${d} onValue=${(m) => set(m, true)} ctx=${ctx} />`;
    case "question":
      return html`<${QuestionForm} d=${d} set=${set} ctx=${ctx} />`;
    case "form":
      return html`<${FormForm} d=${d} set=${set} ctx=${ctx} />`;
    case "condition":
      return html`<${ConditionForm} d=${d} set=${set} ctx=${ctx} />`;
    case "set_variable":
      return html`<${Rows} title=${t("nodeforms.assignments")} name="assignment" addLabel=${t("nodeforms.add_assignment")} rows=${d.assignments} onRows=${(r) => set({ assignments: r })}
        make=${() => ({ variable: "", expression: "" })}
        render=${(a, setA, i) => html`<div class="nf-pair"><${VariablePicker} label=${t("nodeforms.variable")} id=${`nf-assignment-${i}-variable`} value=${a.variable} vars=${ctx.vars} onValue=${(v) => setA({ ...a, variable: v })} />
          <${Text} label=${t("nodeforms.value_expression")} id=${`nf-assignment-${i}-expression`} value=${a.expression} placeholder=${t("nodeforms.text_3_name")} onValue=${(x) => setA({ ...a, expression: x })} /></div>`} />`;
    case "intent_router":
      return html`<${Rows} title=${t("nodeforms.routes_one_output_per_intent")} name="route" addLabel=${t("nodeforms.add_route")} rows=${d.routes} onRows=${(r) => set({ routes: r })}
          make=${(list) => ({ id: `route_${list.length + 1}`, intent: (ctx.data.intents[0] && ctx.data.intents[0].name) || "" })}
          render=${(r, setR, i) => html`<div class="nf-pair">
            <${Select} label=${t("common.intent")} id=${`nf-route-${i}-intent`} value=${r.intent} empty=${t("nodeforms.pick_an_intent")} options=${ctx.data.intents.map((x) => x.name)}
              onValue=${(x) => setR({ ...r, intent: x || "", id: r.id && !r.id.startsWith("route_") ? r.id : (x || r.id).replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) })} />
            <${Text} label=${t("nodeforms.port_name")} value=${r.id} onValue=${(x) => setR({ ...r, id: x })} />
            <${Text} label=${t("nodeforms.min_confidence")} type="number" step="0.05" min="0" max="1" value=${r.min_confidence} onValue=${(x) => setR(clean({ ...r, min_confidence: x }))} /></div>`} />
        ${ctx.data.intents.length === 0 && html`<p class="muted small">${t("nodeforms.this_bot_has_no_intents")}</p>`}
        <${Text} label=${t("nodeforms.out_of_scope_below_confidence")} type="number" step="0.05" min="0" max="1" value=${d.min_confidence} onValue=${(x) => set({ min_confidence: x })} />`;
    case "knowledge":
      return html`<${Select} label=${t("nodeforms.answer_from")} id="nf-kb" value=${d.knowledge_base_id == null ? "" : String(d.knowledge_base_id)} empty=${t("nodeforms.the_bot_s_default_knowledge")}
          options=${ctx.data.kbs.map((k) => [String(k.id), k.name])} onValue=${(v) => set({ knowledge_base_id: v ? Number(v) : undefined })} />
        <${TemplateField} label=${t("nodeforms.search_for_default_the_user")} id="nf-question" value=${d.question} onValue=${(q) => set({ question: q || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
        <${Text} label=${t("nodeforms.minimum_relevance_0_1")} type="number" step="0.05" min="0" max="1" value=${d.min_score} onValue=${(x) => set({ min_score: x })} />
        <${VariablePicker} label=${t("nodeforms.also_store_the_answer_in")} value=${d.variable} vars=${ctx.vars} onValue=${(v) => set({ variable: v || undefined })} />
        <${Check} label=${t("nodeforms.send_the_answer_to_the")} id="nf-send-answer" checked=${d.send_answer !== false} onValue=${(c) => set({ send_answer: c })} />`;
    case "agent":
      return html`<${Select} label=${t("nodeforms.agent")} id="nf-agent" value=${d.agent_id ? String(d.agent_id) : ""} empty=${t("nodeforms.pick_an_agent")}
          options=${(ctx.data.agents || []).map((a) => [String(a.id), a.name])} onValue=${(v) => set({ agent_id: v ? Number(v) : 0 })} />
        ${(ctx.data.agents || []).length === 0 && html`<p class="muted small">${t("nodeforms.this_bot_has_no_agents")}</p>`}
        <${TemplateField} label=${t("nodeforms.ask_default_the_user_s")} id="nf-agent-input" value=${d.input} onValue=${(q) => set({ input: q || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
        <${VariablePicker} label=${t("nodeforms.also_store_the_reply_in")} value=${d.variable} vars=${ctx.vars} onValue=${(v) => set({ variable: v || undefined })} />
        <${Check} label=${t("nodeforms.send_the_reply_to_the")} id="nf-send-reply" checked=${d.send_reply !== false} onValue=${(c) => set({ send_reply: c })} />
        <p class="muted small">${t("nodeforms.outputs_done_handoff_the_agent")}</p>`;
    case "tool":
      return html`<${Select} label=${t("nodeforms.tool")} id="nf-tool" value=${d.tool_id ? String(d.tool_id) : ""} empty=${t("nodeforms.pick_a_tool")}
          options=${(ctx.data.tools || []).map((tv) => [String(tv.id), tv.name])} onValue=${(v) => set({ tool_id: v ? Number(v) : 0 })} />
        <div><label for="nf-tool-arguments">${t("nodeforms.arguments_json_strings_may_use")}</label>
          <textarea id="nf-tool-arguments" rows="4" value=${JSON.stringify(d.arguments || {}, null, 2)}
            onChange=${(e) => { try { set({ arguments: JSON.parse(e.target.value) }); } catch (_) { /* kept until it parses */ } }}></textarea></div>
        <${VariablePicker} label=${t("nodeforms.store_the_result_in")} value=${d.variable} vars=${ctx.vars} onValue=${(v) => set({ variable: v || undefined })} />
        <${VariablePicker} label=${t("nodeforms.store_the_error_code_message")} value=${d.error_variable} vars=${ctx.vars} onValue=${(v) => set({ error_variable: v || undefined })} />`;
    case "http":
      return html`<${HttpForm} d=${d} set=${set} ctx=${ctx} botId=${botId} sample=${sample} setSample=${setSample} />`;
    case "jump":
      return html`<${Select} label=${t("nodeforms.continue_in_flow")} id="nf-flow" value=${d.flow} empty=${t("nodeforms.pick_a_flow")} onValue=${(f) => set({ flow: f || "" })}
          options=${ctx.data.flows.map((f) => f.name).filter((f) => f !== flowName)} />
        <${Select} label=${t("nodeforms.mode")} value=${d.mode || "goto"} onValue=${(m) => set({ mode: m })} options=${[["goto", t("nodeforms.go_to_leave_this_flow")], ["call", t("nodeforms.call_come_back_through_next")]]} />`;
    case "handoff":
      return html`<${MessageEditor} value=${d.message} onValue=${(m) => set({ message: Object.keys(m).length ? m : undefined })} ctx=${ctx} idPrefix="nf-handoff" textLabel=${t("nodeforms.say_before_handing_over")} />
        <${Select} label=${t("nodeforms.hand_over_to_team")} id="nf-team" value=${d.team_id == null ? "" : String(d.team_id)} empty=${t("nodeforms.the_bot_s_team")}
          options=${ctx.data.teams.map((tv) => [String(tv.id), tv.name])} onValue=${(v) => set({ team_id: v ? Number(v) : undefined })} />
        <${TemplateField} label=${t("nodeforms.note_for_the_agent")} id="nf-note" multiline value=${d.note} onValue=${(n) => set({ note: n || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />`;
    case "end":
      return html`<${MessageEditor} value=${d.message} onValue=${(m) => set({ message: Object.keys(m).length ? m : undefined })} ctx=${ctx} idPrefix="nf-end" textLabel=${t("nodeforms.goodbye_message")} />
        <${Check} label=${t("nodeforms.close_the_conversation")} id="nf-close" checked=${d.close_conversation} onValue=${(c) => set({ close_conversation: c })} />`;
    case "start":
      return html`<p class="muted">${t("nodeforms.conversations_of_this_flow_start")}</p>`;
    default:
      return html`<p class="muted">${t("nodeforms.no_form_for_node_type", { type: node.type })}</p>`;
  }
}
