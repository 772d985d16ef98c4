// The flow builder's per-node-type forms: every field of the server's node
// data (src/flows/document.rs) has a control, so no JSON is ever typed.
// Pickers list what exists (knowledge bases, intents, entities, variables,
// flows); rows editors add, reorder and remove quick replies, buttons,
// cards, choices, branches, headers and mappings; the HTTP node can send a
// test request with sample values.
import { html, useState, useRef, useLoad, ErrorBox, FieldError } from "../ui.js";
import { get, post } from "../api.js";

/** Variables the runtime sets on every turn (compile.rs BUILTINS). */
export const BUILTIN_VARS = ["message", "intent", "confidence", "entities", "channel", "conversation", "detected_language"];
/** System entities (src/nlu/entities/system.rs). */
export const SYSTEM_ENTITIES = ["email", "phone", "number", "ordinal", "date", "time", "duration", "url", "money", "percentage"];
const SUBJECTS = [
  ["variable", "Variable"],
  ["intent", "Intent"],
  ["entity", "Entity"],
  ["channel", "Channel"],
  ["message", "Message text"],
  ["confidence", "Intent confidence"],
  ["detected_language", "Detected language (ISO 639-1, e.g. de)"],
];
const OPERATORS = [
  ["equals", "is"],
  ["not_equals", "is not"],
  ["contains", "contains"],
  ["not_contains", "does not contain"],
  ["starts_with", "starts with"],
  ["greater_than", ">"],
  ["less_than", "<"],
  ["greater_or_equal", "≥"],
  ["less_or_equal", "≤"],
  ["is_empty", "is empty"],
  ["is_not_empty", "is not empty"],
  ["matches", "matches pattern"],
  ["in", "is one of"],
];
export const OPERATOR_WORDS = Object.fromEntries(OPERATORS);
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
  return html`<div class="nf-preview" id=${id} aria-label="Preview with sample values">
    <span class="muted small">Preview</span>
    <div>${previewParts(text, sample).map((p) =>
      p.unset !== undefined
        ? html`<mark class="unset-var" title="No sample value: shown empty at run time when unset">{{${p.unset}}}</mark>`
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
    <button type="button" class="small-btn" id=${id} aria-haspopup="menu" aria-expanded=${open} onClick=${() => setOpen(!open)}>{x} Insert variable</button>
    ${open &&
    html`<ul class="nf-menu" role="menu">
      ${vars.own.map((v) => html`<li role="none"><button type="button" role="menuitem" data-var=${v} onClick=${() => insert(v)}>${v}</button></li>`)}
      ${vars.builtins.map((v) => html`<li role="none"><button type="button" role="menuitem" class="muted" data-var=${v} onClick=${() => insert(v)}>${v} <small>built-in</small></button></li>`)}
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
    <input id=${fid} list=${`${fid}-list`} value=${value || ""} autocomplete="off" placeholder="variable name" onInput=${(e) => onValue(e.target.value)} />
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
          <button type="button" class="icon-btn" aria-label=${`Move ${name} ${i + 1} up`} disabled=${i === 0} onClick=${() => move(i, -1)}>↑</button>
          <button type="button" class="icon-btn" aria-label=${`Move ${name} ${i + 1} down`} disabled=${i === list.length - 1} onClick=${() => move(i, 1)}>↓</button>
          <button type="button" class="icon-btn danger" aria-label=${`Remove ${name} ${i + 1}`} onClick=${() => onRows(list.filter((_, j) => j !== i))}>×</button>
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

function ButtonsEditor({ rows, onRows, name = "button", title = "Buttons", ctx }) {
  return html`<${Rows} title=${title} name=${name} addLabel="Add button" rows=${rows} onRows=${onRows} make=${() => ({ label: "" })}
    render=${(b, set, i) => html`
      <${Text} label="Label" id=${`nf-${name}-${i}-label`} value=${b.label} onValue=${(v) => set({ ...b, label: v })} />
      <${Text} label="Sends (default: the label)" value=${b.value} onValue=${(v) => set(clean({ ...b, value: v }))} />
      <${Text} label="Or opens URL" type="url" value=${b.url} onValue=${(v) => set(clean({ ...b, url: v }))} />`} />`;
}

/** Text, quick replies, buttons, cards and an image: the parts of a message (MessageData). */
export function MessageEditor({ value, onValue, ctx, idPrefix = "nf", textLabel = "Message text" }) {
  const m = value || {};
  const set = (patch) => onValue(clean({ ...m, ...patch }));
  const [more, setMore] = useState(!!((m.buttons && m.buttons.length) || (m.cards && m.cards.length) || m.image));
  return html`<div class="nf-message">
    <${TemplateField} label=${textLabel} id=${`${idPrefix}-text`} multiline value=${m.text} onValue=${(v) => set({ text: v })} vars=${ctx.vars} sample=${ctx.sample} />
    <${Rows} title="Quick replies" name="quick_reply" addLabel="Add quick reply" rows=${m.quick_replies} onRows=${(r) => set({ quick_replies: r })}
      make=${() => ({ label: "" })}
      render=${(q, setQ, i) => html`
        <${Text} label="Label" id=${`${idPrefix}-qr-${i}-label`} value=${q.label} onValue=${(v) => setQ({ ...q, label: v })} />
        <${Text} label="Sends (default: the label)" value=${q.value} onValue=${(v) => setQ(clean({ ...q, value: v }))} />`} />
    ${!more && html`<button type="button" class="link-btn" onClick=${() => setMore(true)}>Buttons, cards and image…</button>`}
    ${more &&
    html`<${ButtonsEditor} rows=${m.buttons} onRows=${(r) => set({ buttons: r })} ctx=${ctx} />
      <${Rows} title="Cards" name="card" addLabel="Add card" rows=${m.cards} onRows=${(r) => set({ cards: r })} make=${() => ({ title: "" })}
        render=${(c, setC, i) => html`
          <${Text} label="Title" id=${`${idPrefix}-card-${i}-title`} value=${c.title} onValue=${(v) => setC({ ...c, title: v })} />
          <${Text} label="Subtitle" value=${c.subtitle} onValue=${(v) => setC(clean({ ...c, subtitle: v }))} />
          <${Text} label="Image URL" type="url" value=${c.image_url} onValue=${(v) => setC(clean({ ...c, image_url: v }))} />
          <${ButtonsEditor} name=${`card-${i}-button`} title="Card buttons" rows=${c.buttons} onRows=${(r) => setC(clean({ ...c, buttons: r }))} ctx=${ctx} />`} />
      <div class="nf-pair">
        <${Text} label="Image URL" type="url" value=${m.image && m.image.url} onValue=${(v) => set({ image: v ? clean({ ...(m.image || {}), url: v }) : undefined })} />
        <${Text} label="Image description" value=${m.image && m.image.alt} onValue=${(v) => m.image && set({ image: clean({ ...m.image, alt: v }) })} />
      </div>`}
  </div>`;
}

function QuestionForm({ d, set, ctx }) {
  const v = d.validation || { kind: "any" };
  const kinds = [
    ["any", "Any answer"],
    ["email", "Email address"],
    ["phone", "Phone number"],
    ["number", "Number"],
    ["date", "Date"],
    ["entity", "Other entity…"],
    ["regex", "Pattern (regular expression)"],
    ["choices", "One of these choices"],
  ];
  // email/phone/number/date are entity validations with a system entity.
  const shown = v.kind === "entity" && ["email", "phone", "number", "date"].includes(v.entity) ? v.entity : v.kind;
  const setKind = (k) => {
    if (["email", "phone", "number", "date"].includes(k)) set({ validation: { kind: "entity", entity: k } });
    else if (k === "entity") set({ validation: { kind: "entity", entity: (ctx.data.entities[0] && ctx.data.entities[0].name) || "money" } });
    else if (k === "regex") set({ validation: { kind: "regex", pattern: "", case_insensitive: true } });
    else if (k === "choices") set({ validation: { kind: "choices", choices: [{ label: "Yes" }, { label: "No" }], show_as_quick_replies: true } });
    else set({ validation: { kind: "any" } });
  };
  return html`
    <${MessageEditor} value=${d.prompt} onValue=${(p) => set({ prompt: p })} ctx=${ctx} idPrefix="nf-prompt" textLabel="Question" />
    <${VariablePicker} label="Save the answer in" id="nf-variable" value=${d.variable} onValue=${(x) => set({ variable: x })} vars=${ctx.vars} />
    <${Select} label="Accept" id="nf-validation" value=${shown} onValue=${setKind} options=${kinds} />
    ${v.kind === "entity" &&
    !["email", "phone", "number", "date"].includes(v.entity) &&
    html`<${Select} label="Entity" id="nf-validation-entity" value=${v.entity} onValue=${(e) => set({ validation: { kind: "entity", entity: e } })}
      options=${[...ctx.data.entities.map((e) => [e.name, e.name]), ...SYSTEM_ENTITIES.map((e) => [e, `${e} (system)`])]} />`}
    ${v.kind === "regex" &&
    html`<${Text} label="Pattern (the whole answer must match)" id="nf-pattern" value=${v.pattern} onValue=${(p) => set({ validation: { ...v, pattern: p } })} />
      <${Check} label="Ignore case" checked=${v.case_insensitive} onValue=${(c) => set({ validation: { ...v, case_insensitive: c } })} />`}
    ${v.kind === "choices" &&
    html`<${Rows} title="Choices" name="choice" addLabel="Add choice" rows=${v.choices} onRows=${(r) => set({ validation: { ...v, choices: r } })} make=${() => ({ label: "" })}
        render=${(c, setC, i) => html`<${Text} label="Label" id=${`nf-choice-${i}-label`} value=${c.label} onValue=${(x) => setC({ ...c, label: x })} />
          <${Text} label="Stored value (default: the label)" value=${c.value} onValue=${(x) => setC(clean({ ...c, value: x }))} />`} />
      <${Check} label="Show the choices as quick replies" checked=${v.show_as_quick_replies !== false} onValue=${(c) => set({ validation: { ...v, show_as_quick_replies: c } })} />`}
    <div class="nf-pair">
      <${Text} label="Retries before “invalid”" id="nf-retries" type="number" min="0" max="10" value=${d.retries == null ? 2 : d.retries} onValue=${(r) => set({ retries: r == null ? 0 : r })} />
    </div>
    <${TemplateField} label="Said before asking again" id="nf-reprompt" value=${d.reprompt} onValue=${(r) => set({ reprompt: r || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
    <${Check} label="Take the answer from the message that reached the question, when valid" checked=${d.fill_from_message} onValue=${(c) => set({ fill_from_message: c || undefined })} />`;
}

/** A form: its slots (entity, role, variable, prompt, validation), retries and how to cancel. */
function FormForm({ d, set, ctx }) {
  const entityOptions = [...ctx.data.entities.map((e) => [e.name, e.name]), ...SYSTEM_ENTITIES.map((e) => [e, `${e} (system)`])];
  const rolesOf = (name) => ((ctx.data.entities.find((e) => e.name === name) || {}).roles || []);
  const words = (list) => (list || []).join(", ");
  const split = (text) => text.split(",").map((w) => w.trim()).filter(Boolean);
  return html`
    <p class="muted small">Asks only for the slots the user has not given yet; a later message can correct any slot (“no, to Munich”).</p>
    <${Rows} title="Slots" name="slot" addLabel="Add slot" rows=${d.slots} onRows=${(r) => set({ slots: r })}
      make=${(list) => ({ entity: (ctx.data.entities[0] && ctx.data.entities[0].name) || "number", variable: `slot_${list.length + 1}`, prompt: { text: "" } })}
      render=${(sl, setS, i) => {
        const roles = rolesOf(sl.entity);
        return html`<div class="nf-pair">
            <${Select} label="Entity" id=${`nf-slot-${i}-entity`} value=${sl.entity} options=${entityOptions} onValue=${(e) => setS(clean({ ...sl, entity: e || "", role: undefined }))} />
            <${Select} label="Role" id=${`nf-slot-${i}-role`} value=${sl.role} empty=${roles.length ? "Any role" : "No roles declared"} options=${roles} onValue=${(r) => setS(clean({ ...sl, role: r }))} />
          </div>
          <${VariablePicker} label="Save in" id=${`nf-slot-${i}-variable`} value=${sl.variable} vars=${ctx.vars} onValue=${(v) => setS({ ...sl, variable: v })} />
          <${TemplateField} label="Ask with" id=${`nf-slot-${i}-prompt`} value=${sl.prompt && sl.prompt.text} onValue=${(t) => setS({ ...sl, prompt: { ...(sl.prompt || {}), text: t } })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
          <${Text} label="Valid when (expression over value, optional)" id=${`nf-slot-${i}-validation`} value=${sl.validation} placeholder="value >= 1 and value <= 12" onValue=${(x) => setS(clean({ ...sl, validation: x }))} />
          <${TemplateField} label="Said when the value is refused" id=${`nf-slot-${i}-invalid`} value=${sl.invalid_message} onValue=${(x) => setS(clean({ ...sl, invalid_message: x }))} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
          <${Check} label="Required (ask for it)" id=${`nf-slot-${i}-required`} checked=${sl.required !== false} onValue=${(c) => setS(clean({ ...sl, required: c ? undefined : false }))} />`;
      }} />
    <div class="nf-pair">
      <${Text} label="Refusals before “cancelled”" id="nf-form-retries" type="number" min="0" max="10" value=${d.retries == null ? 2 : d.retries} onValue=${(r) => set({ retries: r == null ? 0 : r })} />
      <${Text} label="Cancel words (comma-separated)" id="nf-form-cancel" value=${words(d.cancel_keywords == null ? ["cancel"] : d.cancel_keywords)} onValue=${(t) => set({ cancel_keywords: split(t) })} />
    </div>
    <${Text} label="Cancel intents (comma-separated)" id="nf-form-cancel-intents" value=${words(d.cancel_intents)} list="nf-form-intents" onValue=${(t) => set({ cancel_intents: split(t).length ? split(t) : undefined })} />
    <datalist id="nf-form-intents">${ctx.data.intents.map((x) => html`<option value=${x.name} />`)}</datalist>
    <${Check} label="Count slots whose variable already has a value as given" id="nf-form-keep" checked=${d.keep_existing} onValue=${(c) => set({ keep_existing: c || undefined })} />`;
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
    <${Select} label="If" id=${`${idPrefix}-subject`} value=${subject} options=${SUBJECTS}
      onValue=${(s) => onValue(clean({ subject: s, operator: op, value: c.value, name: s === "variable" || s === "entity" ? c.name : undefined }))} />
    ${subject === "variable" && html`<${VariablePicker} label="Variable" id=${`${idPrefix}-name`} value=${c.name} onValue=${(n) => onValue({ ...c, name: n })} vars=${ctx.vars} allowBuiltins />`}
    ${subject === "entity" &&
    html`<${Select} label="Entity" id=${`${idPrefix}-name`} value=${c.name} empty="— pick an entity —" onValue=${(n) => onValue(clean({ ...c, name: n }))}
      options=${[...ctx.data.entities.map((e) => e.name), ...SYSTEM_ENTITIES]} />`}
    <${Select} label="Operator" id=${`${idPrefix}-operator`} value=${op} options=${OPERATORS} onValue=${(o) => onValue(clean({ ...c, operator: o, value: ["is_empty", "is_not_empty"].includes(o) ? undefined : c.value }))} />
    ${needsValue &&
    (subject === "intent" && ["equals", "not_equals"].includes(op)
      ? html`<${Select} label="Intent" id=${`${idPrefix}-value`} value=${c.value} empty="— pick an intent —" onValue=${(x) => onValue(clean({ ...c, value: x }))}
          options=${ctx.data.intents.map((i) => i.name)} />`
      : html`<div class="nf-field"><label for=${`${idPrefix}-value`}>${op === "in" ? "Values (comma-separated)" : "Value"}</label>
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
  return html`<${Rows} title="Branches (checked in order; otherwise “else”)" name="branch" addLabel="Add branch" rows=${branches}
      onRows=${(r) => set({ branches: r })}
      make=${(list) => ({ id: newId(list), condition: { subject: "variable", name: "", operator: "is_not_empty" } })}
      render=${(b, setB, i) => {
        const c = b.condition || {};
        const structured = !c.expression && !c.all && !c.any;
        return html`<div data-branch=${i}>
          <div class="nf-pair">
            <${Text} label="Port name" id=${`nf-branch-${i}-id`} value=${b.id} pattern="[A-Za-z0-9_-]+" onValue=${(x) => setB({ ...b, id: x })} />
            <${Text} label="Label" value=${b.label} onValue=${(x) => setB(clean({ ...b, label: x }))} />
          </div>
          ${structured
            ? html`<${RuleEditor} c=${c} ctx=${ctx} idPrefix=${`nf-branch-${i}`} onValue=${(cond) => setB({ ...b, condition: cond })} />
                <button type="button" class="link-btn" onClick=${() => setB({ ...b, condition: { expression: "" } })}>Use an expression instead</button>`
            : c.expression !== undefined
              ? html`<${Text} label="Expression" id=${`nf-branch-${i}-expression`} value=${c.expression} placeholder="score > 3 and plan == 'pro'" onValue=${(x) => setB({ ...b, condition: { expression: x } })} />
                  <button type="button" class="link-btn" onClick=${() => setB({ ...b, condition: { subject: "variable", name: "", operator: "is_not_empty" } })}>Use the rule builder</button>`
              : html`<p class="muted small">A combined condition (${c.all ? "all" : "any"} of ${(c.all || c.any).length}).
                  <button type="button" class="link-btn" onClick=${() => setB({ ...b, condition: { subject: "variable", name: "", operator: "is_not_empty" } })}>Replace with one rule</button></p>`}
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
  const used = [...new Set([d.url, ...Object.values(d.headers || {}), ...body.map((b) => b.value)].flatMap((t) => [...String(t || "").matchAll(/\{\{\s*([A-Za-z_][\w.]*)\s*\}\}/g)].map((m) => m[1])))];
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
      <${Select} label="Method" id="nf-method" value=${d.method || "GET"} options=${["GET", "POST", "PUT", "PATCH", "DELETE"]} onValue=${(m) => set({ method: m })} />
      <${Text} label="Timeout (ms)" type="number" min="100" max="30000" value=${d.timeout_ms} placeholder="5000" onValue=${(t) => set({ timeout_ms: t })} />
    </div>
    <${TemplateField} label="URL" id="nf-url" value=${d.url} onValue=${(u) => set({ url: u })} vars=${ctx.vars} sample=${sample} placeholder="https://api.example.com/orders/{{order_id}}" />
    <${FieldError} error=${error} name="url" />
    <${Rows} title="Headers" name="header" addLabel="Add header" rows=${headers} onRows=${(r) => set({ headers: r.length ? toObject(r) : undefined })} make=${() => ({ key: "", value: "" })}
      render=${(h, setH, i) => html`<div class="nf-pair"><${Text} label="Name" id=${`nf-header-${i}-name`} value=${h.key} onValue=${(k) => setH({ ...h, key: k })} />
        <${Text} label="Value" id=${`nf-header-${i}-value`} value=${h.value} onValue=${(v) => setH({ ...h, value: v })} /></div>`} />
    ${(d.method || "GET") !== "GET" &&
    html`<${Rows} title="JSON body fields ({{var}} alone keeps the value's type)" name="body" addLabel="Add field" rows=${body}
      onRows=${(r) => set({ body: r.length ? toObject(r) : undefined })} make=${() => ({ key: "", value: "" })}
      render=${(b, setB, i) => html`<div class="nf-pair"><${Text} label="Field" id=${`nf-body-${i}-key`} value=${b.key} onValue=${(k) => setB({ ...b, key: k })} />
        <${Text} label="Value" id=${`nf-body-${i}-value`} value=${b.value} onValue=${(v) => setB({ ...b, value: v })} /></div>`} />`}
    <${Rows} title="Response mapping (JSON path → variable, on 2xx)" name="mapping" addLabel="Add mapping" rows=${d.mappings} onRows=${(r) => set({ mappings: r })} make=${() => ({ path: "$.", variable: "" })}
      render=${(m, setM, i) => html`<div class="nf-pair"><${Text} label="JSON path" id=${`nf-mapping-${i}-path`} value=${m.path} placeholder="$.data.status" onValue=${(p) => setM({ ...m, path: p })} />
        <${VariablePicker} label="Variable" id=${`nf-mapping-${i}-variable`} value=${m.variable} vars=${ctx.vars} onValue=${(v) => setM({ ...m, variable: v })} /></div>`} />
    <div class="nf-pair">
      <${VariablePicker} label="Status code into" value=${d.status_variable} vars=${ctx.vars} onValue=${(v) => set({ status_variable: v || undefined })} />
      <${VariablePicker} label="Whole response into" value=${d.response_variable} vars=${ctx.vars} onValue=${(v) => set({ response_variable: v || undefined })} />
    </div>
    <fieldset class="nf-rows nf-test">
      <legend>Test request</legend>
      ${used.length === 0 && html`<p class="muted small">The request uses no variables.</p>`}
      ${used.map((name) => html`<${Text} label=${`Sample value of ${name}`} id=${`nf-sample-${name}`} value=${sample[name]} onValue=${(v) => setSample({ ...sample, [name]: v })} />`)}
      <button type="button" id="test-request" class="primary" disabled=${busy || !d.url} onClick=${test}>${busy ? "Sending…" : "Test request"}</button>
      <${ErrorBox} error=${error} />
      ${result &&
      html`<div class="nf-test-result" id="test-result">
        <div><span class=${"badge " + (result.success ? "ok" : "bad")} id="test-status">${result.status}</span> <code>${result.url}</code> <span class="muted small">${Math.round(result.duration_ms)} ms</span></div>
        ${result.mapped.length > 0 &&
        html`<table class="nf-mapped"><thead><tr><th>Variable</th><th>Value</th></tr></thead><tbody>
          ${result.mapped.map((m) => html`<tr data-mapped=${m.variable}><td>${m.variable}</td><td><code>${JSON.stringify(m.value)}</code></td></tr>`)}</tbody></table>`}
        <details><summary>Headers (${result.headers.length})</summary><ul class="small">${result.headers.map((h) => html`<li><code>${h.name}</code>: ${h.value}</li>`)}</ul></details>
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
    <summary>Sample values for the preview</summary>
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
      return html`<${Rows} title="Assignments" name="assignment" addLabel="Add assignment" rows=${d.assignments} onRows=${(r) => set({ assignments: r })}
        make=${() => ({ variable: "", expression: "" })}
        render=${(a, setA, i) => html`<div class="nf-pair"><${VariablePicker} label="Variable" id=${`nf-assignment-${i}-variable`} value=${a.variable} vars=${ctx.vars} onValue=${(v) => setA({ ...a, variable: v })} />
          <${Text} label="Value (expression)" id=${`nf-assignment-${i}-expression`} value=${a.expression} placeholder="'text', 3, name + '!'" onValue=${(x) => setA({ ...a, expression: x })} /></div>`} />`;
    case "intent_router":
      return html`<${Rows} title="Routes (one output per intent)" name="route" addLabel="Add route" rows=${d.routes} onRows=${(r) => set({ routes: r })}
          make=${(list) => ({ id: `route_${list.length + 1}`, intent: (ctx.data.intents[0] && ctx.data.intents[0].name) || "" })}
          render=${(r, setR, i) => html`<div class="nf-pair">
            <${Select} label="Intent" id=${`nf-route-${i}-intent`} value=${r.intent} empty="— pick an intent —" options=${ctx.data.intents.map((x) => x.name)}
              onValue=${(x) => setR({ ...r, intent: x || "", id: r.id && !r.id.startsWith("route_") ? r.id : (x || r.id).replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) })} />
            <${Text} label="Port name" value=${r.id} onValue=${(x) => setR({ ...r, id: x })} />
            <${Text} label="Min. confidence" type="number" step="0.05" min="0" max="1" value=${r.min_confidence} onValue=${(x) => setR(clean({ ...r, min_confidence: x }))} /></div>`} />
        ${ctx.data.intents.length === 0 && html`<p class="muted small">This bot has no intents yet: add them on the NLU page.</p>`}
        <${Text} label="Out of scope below confidence (default: the model's)" type="number" step="0.05" min="0" max="1" value=${d.min_confidence} onValue=${(x) => set({ min_confidence: x })} />`;
    case "knowledge":
      return html`<${Select} label="Answer from" id="nf-kb" value=${d.knowledge_base_id == null ? "" : String(d.knowledge_base_id)} empty="The bot's default knowledge base"
          options=${ctx.data.kbs.map((k) => [String(k.id), k.name])} onValue=${(v) => set({ knowledge_base_id: v ? Number(v) : undefined })} />
        <${TemplateField} label="Search for (default: the user's message)" id="nf-question" value=${d.question} onValue=${(q) => set({ question: q || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
        <${Text} label="Minimum relevance (0–1)" type="number" step="0.05" min="0" max="1" value=${d.min_score} onValue=${(x) => set({ min_score: x })} />
        <${VariablePicker} label="Also store the answer in" value=${d.variable} vars=${ctx.vars} onValue=${(v) => set({ variable: v || undefined })} />
        <${Check} label="Send the answer to the user" id="nf-send-answer" checked=${d.send_answer !== false} onValue=${(c) => set({ send_answer: c })} />`;
    case "agent":
      return html`<${Select} label="Agent" id="nf-agent" value=${d.agent_id ? String(d.agent_id) : ""} empty="— pick an agent —"
          options=${(ctx.data.agents || []).map((a) => [String(a.id), a.name])} onValue=${(v) => set({ agent_id: v ? Number(v) : 0 })} />
        ${(ctx.data.agents || []).length === 0 && html`<p class="muted small">This bot has no agents yet: add them on the Agents tab.</p>`}
        <${TemplateField} label="Ask (default: the user's message)" id="nf-agent-input" value=${d.input} onValue=${(q) => set({ input: q || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />
        <${VariablePicker} label="Also store the reply in" value=${d.variable} vars=${ctx.vars} onValue=${(v) => set({ variable: v || undefined })} />
        <${Check} label="Send the reply to the user" id="nf-send-reply" checked=${d.send_reply !== false} onValue=${(c) => set({ send_reply: c })} />
        <p class="muted small">Outputs: done; handoff (the agent hands off or a tool call waits for approval — lead it to a Hand over node); error (no model, budget used up, step limit).</p>`;
    case "tool":
      return html`<${Select} label="Tool" id="nf-tool" value=${d.tool_id ? String(d.tool_id) : ""} empty="— pick a tool —"
          options=${(ctx.data.tools || []).map((t) => [String(t.id), t.name])} onValue=${(v) => set({ tool_id: v ? Number(v) : 0 })} />
        <div><label for="nf-tool-arguments">Arguments (JSON; strings may use {{variables}})</label>
          <textarea id="nf-tool-arguments" rows="4" value=${JSON.stringify(d.arguments || {}, null, 2)}
            onChange=${(e) => { try { set({ arguments: JSON.parse(e.target.value) }); } catch (_) { /* kept until it parses */ } }}></textarea></div>
        <${VariablePicker} label="Store the result in" value=${d.variable} vars=${ctx.vars} onValue=${(v) => set({ variable: v || undefined })} />
        <${VariablePicker} label="Store the error ({code, message}) in" value=${d.error_variable} vars=${ctx.vars} onValue=${(v) => set({ error_variable: v || undefined })} />`;
    case "http":
      return html`<${HttpForm} d=${d} set=${set} ctx=${ctx} botId=${botId} sample=${sample} setSample=${setSample} />`;
    case "jump":
      return html`<${Select} label="Continue in flow" id="nf-flow" value=${d.flow} empty="— pick a flow —" onValue=${(f) => set({ flow: f || "" })}
          options=${ctx.data.flows.map((f) => f.name).filter((f) => f !== flowName)} />
        <${Select} label="Mode" value=${d.mode || "goto"} onValue=${(m) => set({ mode: m })} options=${[["goto", "Go to (leave this flow)"], ["call", "Call (come back through “next”)"]]} />`;
    case "handoff":
      return html`<${MessageEditor} value=${d.message} onValue=${(m) => set({ message: Object.keys(m).length ? m : undefined })} ctx=${ctx} idPrefix="nf-handoff" textLabel="Say before handing over" />
        <${Select} label="Hand over to team" id="nf-team" value=${d.team_id == null ? "" : String(d.team_id)} empty="The bot's team"
          options=${ctx.data.teams.map((t) => [String(t.id), t.name])} onValue=${(v) => set({ team_id: v ? Number(v) : undefined })} />
        <${TemplateField} label="Note for the agent" id="nf-note" multiline value=${d.note} onValue=${(n) => set({ note: n || undefined })} vars=${ctx.vars} sample=${ctx.sample} preview=${false} />`;
    case "end":
      return html`<${MessageEditor} value=${d.message} onValue=${(m) => set({ message: Object.keys(m).length ? m : undefined })} ctx=${ctx} idPrefix="nf-end" textLabel="Goodbye message" />
        <${Check} label="Close the conversation" id="nf-close" checked=${d.close_conversation} onValue=${(c) => set({ close_conversation: c })} />`;
    case "start":
      return html`<p class="muted">Conversations of this flow start here. Connect its “next” output to the first step.</p>`;
    default:
      return html`<p class="muted">No form for node type ${node.type}.</p>`;
  }
}
