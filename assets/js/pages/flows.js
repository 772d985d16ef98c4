// A bot's flows and the flow builder: a canvas with pan (drag the
// background), zoom (wheel, buttons, zoom to fit), a minimap, auto-layout,
// nodes dragged into place (several at once: shift-click or shift-drag a
// rectangle), copy/paste, Delete, keyboard use (Tab to a node, arrows move
// it, Enter edits it, Escape returns to the canvas), edges drawn from an
// output port to a node or chosen in the form's "Next step", a form per node
// type in a side panel (nodeforms.js), a readable summary on every node,
// validation issues on the nodes, undo/redo, auto-save of the draft, publish
// with a message, and the version history with diff and rollback.
import { html, Page, useLoad, useState, useEffect, useRef, useCallback, ErrorBox, toast, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, put, del } from "../api.js";
import { can } from "../session.js";
import { BotNav, useBot, BotMissing, Checklist } from "./botnav.js";
import { NodeForm, SampleValues, collectVariables, usePickerData, operatorWords } from "./nodeforms.js";
import { Chart, CsvButton } from "../charts.js";
import { GenerateCard, ImproveCard, SuggestNext, TemplateGallery } from "./studio.js";

import { Canvas, NODE_W, PORT_TOP, PORT_GAP, fitViewport as fitBy } from "../canvas.js";
import { t } from "../i18n.js";

/** Default data of a new node, per type. */
const TEMPLATES = () => ({
  message: { text: t("flows.hello") },
  question: { prompt: { text: t("flows.what_is_your_name") }, variable: "name", validation: { kind: "any" }, retries: 2 },
  condition: { branches: [{ id: "yes", condition: { subject: "variable", name: "name", operator: "is_not_empty" } }] },
  set_variable: { assignments: [{ variable: "x", expression: "1" }] },
  intent_router: { routes: [] },
  knowledge: { send_answer: true },
  http: { method: "GET", url: "https://api.example.com/items", mappings: [] },
  agent: { agent_id: 0, send_reply: true },
  tool: { tool_id: 0, arguments: {} },
  jump: { flow: "" },
  handoff: { message: { text: t("flows.connecting_you_to_a_person") } },
  end: { close_conversation: false },
  form: { slots: [{ entity: "number", variable: "guests", prompt: { text: t("flows.for_how_many_people") } }], retries: 2 },
});

/** The palette's names of the node types. */
const ADD_LABELS = () => ({
  message: t("common.message"),
  question: t("flows.question"),
  condition: t("flows.condition"),
  set_variable: t("flows.set_variable"),
  intent_router: t("flows.intent_router"),
  knowledge: t("flows.knowledge_answer"),
  http: t("flows.http_request"),
  agent: t("flows.ai_agent"),
  tool: t("flows.run_a_tool"),
  jump: t("flows.jump_to_flow"),
  handoff: t("flows.hand_over"),
  end: "End",
  form: t("flows.form_fill_slots"),
});

/** The output ports of a node, as the server computes them. */
export function portsOf(node) {
  const d = node.data || {};
  switch (node.type) {
    case "start":
    case "message":
    case "set_variable":
    case "jump":
    case "handoff":
      return ["next"];
    case "question":
      return ["next", "invalid"];
    case "condition":
      return [...(d.branches || []).map((b) => b.id), "else"];
    case "intent_router":
      return [...(d.routes || []).map((r) => r.id), "out_of_scope"];
    case "knowledge":
      return ["answered", "no_answer"];
    case "http":
      return ["success", "error"];
    case "form":
      return ["done", "cancelled"];
    case "agent":
      return ["done", "handoff", "error"];
    case "tool":
      return ["ok", "error"];
    default:
      return [];
  }
}

const VALIDATION_WORDS = { any: "", regex: "pattern", choices: "choice" };

function conditionText(c) {
  if (!c) return "";
  if (c.expression !== undefined) return c.expression;
  if (c.all || c.any) return (c.all || c.any).map(conditionText).join(c.all ? " and " : " or ");
  const subject = c.subject === "variable" || c.subject === "entity" ? c.name || "?" : c.subject;
  const value = c.value === undefined ? "" : ` ${Array.isArray(c.value) ? c.value.join(", ") : c.value}`;
  return `${subject} ${operatorWords()[c.operator] || c.operator || ""}${value}`;
}

function hostAndPath(url) {
  return String(url || "").replace(/^https?:\/\//, "");
}

/** A readable one-line description of a node, shown on the canvas. */
export function summary(node, names = {}) {
  const d = node.data || {};
  switch (node.type) {
    case "start":
      return t("flows.conversation_starts");
    case "message": {
      const extras = [d.quick_replies && d.quick_replies.length && t("flows.quick_replies_count", { count: d.quick_replies.length }), d.buttons && d.buttons.length && t("flows.buttons_count", { count: d.buttons.length }), d.cards && d.cards.length && t("flows.cards_count", { count: d.cards.length })].filter(Boolean);
      return `Say: ${d.text || ""}${extras.length ? ` [${extras.join(", ")}]` : ""}`;
    }
    case "question": {
      const v = d.validation || {};
      const kind = v.kind === "entity" ? v.entity : VALIDATION_WORDS[v.kind] || "";
      return `Ask: ${(d.prompt && d.prompt.text) || ""} → ${d.variable || "?"}${kind ? ` (${kind})` : ""}`;
    }
    case "condition":
      return (d.branches || []).map((b) => `If ${conditionText(b.condition)}`).join("; ") || t("flows.no_branches");
    case "set_variable":
      return (d.assignments || []).map((a) => `${a.variable} = ${a.expression}`).join("; ");
    case "intent_router":
      return t("flows.route_by_intent", { intents: (d.routes || []).map((r) => r.intent).join(", ") || t("flows.none_yet") });
    case "knowledge":
      return t("flows.answer_from", { source: d.knowledge_base_id != null ? names.kbs?.[d.knowledge_base_id] || t("flows.knowledge_base_id", { id: d.knowledge_base_id }) : t("flows.the_bot_s_knowledge_base") });
    case "http":
      return `${d.method || "GET"} ${hostAndPath(d.url)}`;
    case "agent":
      return `AI agent ${names.agents?.[d.agent_id] || (d.agent_id ? `#${d.agent_id}` : "?")} answers${d.variable ? ` → ${d.variable}` : ""}`;
    case "tool":
      return t("flows.run_tool", { tool: names.tools?.[d.tool_id] || (d.tool_id ? `#${d.tool_id}` : "?"), variable: d.variable ? ` → ${d.variable}` : "" });
    case "jump":
      return `${d.mode === "call" ? t("flows.call") : "Go to"} flow ${d.flow || "?"}`;
    case "handoff":
      return t("flows.hand_over_to_a_person", { message: d.message && d.message.text ? `: ${d.message.text}` : "" });
    case "form":
      return `Fill: ${(d.slots || []).map((sl) => `${sl.variable || "?"} (${sl.entity || "?"}${sl.role ? `:${sl.role}` : ""})`).join(", ") || t("flows.no_slots")}`;
    case "end":
      return `End${d.close_conversation ? (" " + t("flows.and_close")) : ""}${d.message && d.message.text ? `: ${d.message.text}` : ""}`;
    default:
      return "";
  }
}

function nodeHeight(node) {
  return PORT_TOP + Math.max(1, portsOf(node).length) * PORT_GAP;
}

const fitViewport = (nodes, w, h) => fitBy(nodes, w, h, nodeHeight);

/** The document without the canvas viewport: panning and zooming are not changes to save. */
function contentJson(doc) {
  return JSON.stringify({ ...doc, viewport: undefined });
}

function emptyDoc() {
  return { schema_version: 1, nodes: [{ id: "start", type: "start", position: { x: 60, y: 80 } }], edges: [] };
}


// ---------------- list ----------------

/** Rename or duplicate a flow: an inline form under its row. */
function FlowAction({ botId, flow, mode, onDone, onCancel }) {
  const [name, setName] = useState(mode === "duplicate" ? `${flow}_copy` : flow);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const r = await post(`/api/v1/bots/${botId}/flows/${encodeURIComponent(flow)}/${mode}`, { new_name: name.trim() });
      if (mode === "rename") {
        const others = r.updated_flows.filter((f) => f !== r.name);
        toast(t("flows.renamed_to", { name: r.name, jumps: others.length ? t("flows.jumps_updated_in", { flows: others.join(", ") }) : "" }));
      } else toast(t("flows.copied_to", { value: name.trim() }));
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const label = mode === "rename" ? t("flows.new_name") : t("flows.name_of_the_copy");
  return html`<form class="row flow-action" data-action=${mode} onSubmit=${submit}>
    <label>${label} <input class="flow-action-name" aria-label=${t("flows.name_for_flow", { label, flow })} value=${name} onInput=${(e) => setName(e.target.value)} required /></label>
    <button class="primary flow-action-submit" type="submit" disabled=${busy}>${mode === "rename" ? t("flows.rename") : t("flows.duplicate")}</button>
    <button type="button" onClick=${onCancel}>${t("common.cancel")}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function FlowList({ params }) {
  const botId = params.botId;
  const bot = useBot(botId);
  const [reload, setReload] = useState(0);
  const list = useLoad(() => get(`/api/v1/bots/${botId}/flows`), [botId, reload]);
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const [action, setAction] = useState(null);
  const [panel, setPanel] = useState(null);
  const addTemplate = async (tv) => {
    const added = await post(`/api/v1/bots/${botId}/flows/from-template`, { template: tv.id });
    toast(t("flows.added_the_flow_as_a", { flow_name: added.flow_name }));
    navigate(`/bots/${botId}/flows/${encodeURIComponent(added.flow_name)}`);
  };
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await put(`/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}`, { document: emptyDoc(), message: "created" });
      navigate(`/bots/${botId}/flows/${encodeURIComponent(name)}`);
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (flow) => {
    if (!confirm(t("flows.delete_the_flow_and_all", { flow }))) return;
    setError(null);
    try {
      await del(`/api/v1/bots/${botId}/flows/${encodeURIComponent(flow)}`);
      toast(t("flows.deleted", { flow }));
      setReload((k) => k + 1);
    } catch (err) {
      setError(err);
    }
  };
  const items = (list.data && (list.data.items || list.data)) || [];
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("flows.flows", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="flows" />
    <${Checklist} botId=${botId} />
    ${can("bots.write") &&
    html`<form class="card row" onSubmit=${create}>
      <input id="new-flow-name" aria-label=${t("flows.new_flow_name")} placeholder=${t("flows.main")} value=${name} onInput=${(e) => setName(e.target.value)} required />
      <button class="primary" id="create-flow" type="submit">${t("flows.new_flow")}</button>
      <button type="button" id="open-generate" aria-expanded=${panel === "generate"} onClick=${() => setPanel(panel === "generate" ? null : "generate")}>${t("flows.generate_with_ai")}</button>
      <button type="button" id="open-flow-templates" aria-expanded=${panel === "templates"} onClick=${() => setPanel(panel === "templates" ? null : "templates")}>${t("flows.from_a_template")}</button>
    </form>`}
    ${panel === "generate" && html`<${GenerateCard} botId=${botId} onClose=${() => setPanel(null)} />`}
    ${panel === "templates" &&
    html`<${TemplateGallery} id="flow-template-gallery" title=${t("flows.add_a_flow_from_a")} action=${t("flows.add_this_flow")} onUse=${addTemplate} />`}
    <${ErrorBox} error=${error || list.error} />
    <div class="card">
      <table>
        <thead><tr><th>${t("flows.flow")}</th><th>${t("flows.draft")}</th><th>${t("flows.published")}</th><th>${t("common.updated")}</th><th>${t("flows.actions")}</th></tr></thead>
        <tbody>
          ${items.map(
            (f) => html`<tr data-flow=${f.name}>
              <td><a href=${`/bots/${botId}/flows/${encodeURIComponent(f.name)}`}>${f.name}</a>${f.is_entry && html` <span class="badge ok">${t("flows.entry")}</span>`}</td>
              <td>${t("flows.v", { draft_version: f.draft_version })}${f.has_unpublished_changes && html` <span class="badge warn">${t("flows.unpublished_changes")}</span>`}</td>
              <td>${f.published_version ? `v${f.published_version}` : html`<span class="muted">${t("flows.never")}</span>`}</td>
              <td class="muted">${formatDate(f.updated_at)}</td>
              <td><div class="row flow-actions">
                ${can("flows.publish") && html`<button type="button" class="rename-flow" aria-label=${t("flows.rename_2", { name: f.name })} onClick=${() => setAction({ flow: f.name, mode: "rename" })}>${t("flows.rename")}</button>`}
                ${can("bots.write") && html`<button type="button" class="duplicate-flow" aria-label=${t("flows.duplicate_2", { name: f.name })} onClick=${() => setAction({ flow: f.name, mode: "duplicate" })}>${t("flows.duplicate")}</button>`}
                ${can("flows.publish") && html`<button type="button" class="delete-flow danger" aria-label=${t("flows.delete", { name: f.name })} disabled=${f.is_entry} title=${f.is_entry ? t("flows.the_entry_flow_cannot_be") : ""} onClick=${() => remove(f.name)}>${t("common.delete")}</button>`}
              </div></td>
            </tr>
            ${action && action.flow === f.name &&
            html`<tr><td colspan="5"><${FlowAction} botId=${botId} flow=${f.name} mode=${action.mode}
              onCancel=${() => setAction(null)} onDone=${() => (setAction(null), setReload((k) => k + 1))} /></td></tr>`}`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !items.length && html`<tr><td colspan="5" class="muted">${t("flows.no_flows_yet_create_main")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

// ---------------- builder ----------------

function useHistory(initial) {
  const [state, setState] = useState({ past: [], present: initial, future: [] });
  const set = useCallback((next, { record = true } = {}) => {
    setState((s) => {
      const value = typeof next === "function" ? next(s.present) : next;
      if (!record) return { ...s, present: value };
      return { past: [...s.past.slice(-99), s.present], present: value, future: [] };
    });
  }, []);
  const undo = () =>
    setState((s) => (s.past.length ? { past: s.past.slice(0, -1), present: s.past[s.past.length - 1], future: [s.present, ...s.future] } : s));
  const redo = () =>
    setState((s) => (s.future.length ? { past: [...s.past, s.present], present: s.future[0], future: s.future.slice(1) } : s));
  const reset = (value) => setState({ past: [], present: value, future: [] });
  /** Records `before` as an undo step for a change already applied without recording (a drag). */
  const commit = (before) => setState((s) => ({ past: [...s.past.slice(-99), before], present: s.present, future: [] }));
  return { doc: state.present, set, undo, redo, reset, commit, canUndo: state.past.length > 0, canRedo: state.future.length > 0 };
}

// ---- geometry: free spots, layout, bounds ----

const GAP = 24;

function boxOf(n) {
  return { x: n.position?.x || 0, y: n.position?.y || 0, w: NODE_W, h: nodeHeight(n) };
}

function overlaps(a, b) {
  return a.x < b.x + b.w + GAP && b.x < a.x + a.w + GAP && a.y < b.y + b.h + GAP && b.y < a.y + a.h + GAP;
}

/** The nearest position to (x, y) where a node of height `h` touches no other node (a spiral of grid steps). */
export function freeSpot(nodes, x, y, h) {
  const fits = (px, py) => !nodes.some((n) => overlaps({ x: px, y: py, w: NODE_W, h }, boxOf(n)));
  if (fits(x, y)) return { x, y };
  for (let r = 1; r < 60; r++) {
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        if (Math.max(Math.abs(dx), Math.abs(dy)) !== r) continue;
        const px = x + dx * 40;
        const py = y + dy * 30;
        if (fits(px, py)) return { x: px, y: py };
      }
    }
  }
  return { x, y: y + 40 * nodes.length };
}


/** Layered left-to-right layout: a node's column is its distance from the start along edges. */
export function autoLayout(doc) {
  const layer = {};
  const start = doc.nodes.find((n) => n.type === "start") || doc.nodes[0];
  if (!start) return doc;
  layer[start.id] = 0;
  const queue = [start.id];
  while (queue.length) {
    const id = queue.shift();
    for (const e of doc.edges.filter((x) => x.source === id)) {
      if (layer[e.target] === undefined) {
        layer[e.target] = layer[id] + 1;
        queue.push(e.target);
      }
    }
  }
  const maxLayer = Math.max(0, ...Object.values(layer));
  const columns = {};
  for (const n of doc.nodes) {
    const l = layer[n.id] ?? maxLayer + 1;
    (columns[l] = columns[l] || []).push(n);
  }
  const pos = {};
  for (const [l, list] of Object.entries(columns)) {
    list.sort((a, b) => (a.position?.y || 0) - (b.position?.y || 0));
    let y = 60;
    for (const n of list) {
      pos[n.id] = { x: 60 + Number(l) * (NODE_W + 60), y };
      y += nodeHeight(n) + 50;
    }
  }
  return { ...doc, nodes: doc.nodes.map((n) => ({ ...n, position: pos[n.id] })) };
}




// "Show analytics": the funnel's counts per node and per edge, keyed for the canvas.
function funnelIndex(funnel) {
  if (!funnel) return null;
  const nodes = {};
  for (const n of funnel.nodes) nodes[n.id] = n;
  const edges = {};
  for (const e of funnel.edges) edges[`${e.source}>${e.target}`] = e;
  return { nodes, edges };
}


// The funnel card under the canvas: range filters (kept in the URL so the
// view can be shared), the funnel chart of the nodes by reach, CSV export.
function FunnelCard({ funnel, range, setRange }) {
  const steps = funnel ? funnel.nodes.filter((n) => n.reached > 0).sort((a, b) => b.reached - a.reached).map((n) => ({ label: n.label || n.id, value: n.reached })) : [];
  const spec = { type: "funnel", title: t("flows.conversations_reaching_each_node"), steps, empty: t("flows.no_conversation_went_through_this") };
  return html`<div class="card" id="funnel-card"><h2>${t("flows.funnel")}</h2>
    <div class="row">
      <label>${t("common.from")} <input type="date" id="funnel-from" value=${range.from} onChange=${(e) => setRange({ ...range, from: e.target.value })} /></label>
      <label>${t("common.to")} <input type="date" id="funnel-to" value=${range.to} onChange=${(e) => setRange({ ...range, to: e.target.value })} /></label>
      <${CsvButton} spec=${spec} filename="funnel.csv" />
    </div>
    ${funnel && html`<p class="muted" id="funnel-total">${t("flows.conversations_entered", { count: funnel.conversations })}</p>`}
    <${Chart} spec=${spec} />
  </div>`;
}


function NodePanel({ doc, sel, setSel, setDoc, commit, issues, ctx, botId, flowName, names, sample, setSample, canvasRef }) {
  const id = sel.nodes && sel.nodes.length === 1 ? sel.nodes[0] : null;
  const node = id && doc.nodes.find((n) => n.id === id);
  const before = useRef(null);
  if (sel.edge) {
    const e = sel.edge;
    return html`<div class="card flow-panel">
      <h2>${t("flows.connection")}</h2>
      <p>${e.source} · ${e.port || "next"} → ${e.target}</p>
      <button class="danger" id="delete-edge" onClick=${() => (setDoc((d) => ({ ...d, edges: d.edges.filter((x) => x !== e) })), setSel({ nodes: [] }))}>${t("flows.delete_connection")}</button>
    </div>`;
  }
  if (sel.nodes && sel.nodes.length > 1)
    return html`<div class="card flow-panel" id="node-panel"><h2>${t("flows.nodes_selected", { nodes: sel.nodes.length })}</h2>
      <p class="muted">${t("flows.drag_one_to_move_them")}</p></div>`;
  if (!node)
    return html`<div class="card flow-panel"><h2>${t("flows.properties")}</h2><p class="muted">${t("flows.select_a_node_to_edit")}</p></div>`;
  const update = (patch) => setDoc((d) => ({ ...d, nodes: d.nodes.map((n) => (n.id === node.id ? { ...n, ...patch } : n)) }), { record: false });
  // Typing changes the document live (preview, canvas); one undo step per field edit, taken when the field changes.
  const setData = (patch, replace) =>
    setDoc((d) => ({ ...d, nodes: d.nodes.map((n) => (n.id === node.id ? { ...n, data: replace ? patch : { ...(n.data || {}), ...patch } } : n)) }), { record: false });
  const onFocus = () => (before.current = doc);
  const onChange = (e) => {
    // Sample values are not part of the document: no undo step for them.
    if (e.target.closest("[data-no-undo]")) return;
    if (before.current) commit(before.current);
    before.current = null;
  };
  const onClickCapture = (e) => {
    // Buttons (add, move, remove rows) change the document at once: record before them.
    if (e.target.closest("button[data-add-row], .nf-row-tools button, [role=menuitem], #delete-node, .link-btn")) {
      commit(doc);
      before.current = null;
    }
  };
  const remove = () => {
    setDoc((d) => ({ ...d, nodes: d.nodes.filter((n) => n.id !== node.id), edges: d.edges.filter((e) => e.source !== node.id && e.target !== node.id) }), { record: false });
    setSel({ nodes: [] });
  };
  const connect = (port, target) =>
    setDoc((d) => ({
      ...d,
      edges: [...d.edges.filter((x) => !(x.source === node.id && (x.port || "next") === port)), ...(target ? [{ id: `${node.id}-${port}-${target}`, source: node.id, port, target }] : [])],
    }), { record: false });
  const targets = doc.nodes.filter((n) => n.id !== node.id && n.type !== "start");
  const mine = (issues || []).filter((i) => i.node_id === node.id);
  return html`<div class="card flow-panel" id="node-panel" onFocusCapture=${onFocus} onChange=${onChange} onClickCapture=${onClickCapture}
      onKeyDown=${(e) => e.key === "Escape" && (e.preventDefault(), canvasRef.current && (canvasRef.current.querySelector(`[data-node-id='${node.id}']`) || canvasRef.current).focus())}>
    <h2><span class="flow-type">${node.type.replace("_", " ")}</span> ${node.label || node.id}</h2>
    <p class="muted small" id="node-summary">${summary(node, names)}</p>
    <div class="nf-field"><label for="node-label">${t("flows.name_on_the_canvas")}</label>
      <input id="node-label" value=${node.label || ""} placeholder=${node.id} onChange=${(e) => update({ label: e.target.value || undefined })} /></div>
    <div class="node-form" data-form=${node.type}>
      <${NodeForm} node=${node} set=${setData} ctx=${ctx} botId=${botId} flowName=${flowName} sample=${sample} setSample=${setSample} />
      <${SampleValues} node=${node} sample=${sample} setSample=${setSample} />
    </div>
    ${portsOf(node).length > 0 &&
    html`<fieldset class="nf-rows nf-next"><legend>${t("flows.next_step")}</legend>
      ${portsOf(node).map((p) => {
        const edge = doc.edges.find((x) => x.source === node.id && (x.port || "next") === p);
        return html`<div class="nf-field"><label for=${`next-${p}`}>${p === "next" ? t("flows.then") : t("flows.when", { p })}</label>
          <select id=${`next-${p}`} data-next-port=${p} value=${edge ? edge.target : ""} onChange=${(e) => connect(p, e.target.value)}>
            <option value="">${t("flows.nothing_ends_here")}</option>
            ${targets.map((tv) => html`<option value=${tv.id}>${tv.label || tv.id} · ${summary(tv, names).slice(0, 48)}</option>`)}
          </select></div>`;
      })}
    </fieldset>`}
    ${node.type !== "start" && html`<div class="row"><button type="button" class="danger" id="delete-node" onClick=${remove}>${t("flows.delete_node")}</button></div>`}
    ${mine.length > 0 &&
    html`<ul class="issue-list">${mine.map((i) => html`<li class=${i.severity}><strong>${i.code}</strong> ${i.field ? html`<code>${i.field}</code> ` : ""}${i.message}${i.blocks_publish && html` <span class="badge warn">${t("flows.before_publishing")}</span>`}</li>`)}</ul>`}
  </div>`;
}

/**
 * The history as groups: named versions and publishes one per row, each run
 * of auto-saves between them folded into one expandable row.
 */
export function groupVersions(items) {
  const groups = [];
  for (const v of items) {
    const kind = v.kind || (v.published_at ? "published" : "named");
    const last = groups[groups.length - 1];
    if (kind === "autosave" && !v.is_published) {
      if (last && last.autosaves) last.autosaves.push(v);
      else groups.push({ autosaves: [v] });
    } else groups.push({ version: v, kind });
  }
  return groups;
}

function Versions({ botId, name, detail, onChanged }) {
  const versions = useLoad(() => get(`/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}/versions?limit=100`), [botId, name, detail]);
  const [diff, setDiff] = useState(null);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState({});
  const base = `/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}`;
  const showDiff = async (v) => {
    try {
      setDiff(await get(`${base}/diff?from=${v}&to=draft`));
    } catch (e) {
      setError(e);
    }
  };
  const rollback = async (v) => {
    if (!confirm(t("flows.publish_version_again", { v }))) return;
    try {
      await post(`${base}/rollback`, { version: v, message: `rollback to v${v}` });
      toast(t("flows.version_is_live", { v }));
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const items = (versions.data && versions.data.items) || [];
  const row = (v, kind, inGroup) => html`<tr data-version=${v.version} data-kind=${kind} class=${inGroup ? "autosave-row" : ""}>
    <td>${t("flows.v_2", { version: v.version })}
      ${v.is_published && html` <span class="badge ok">${t("flows.published_2")}</span>`}
      ${kind === "published" && !v.is_published && html` <span class="badge">${t("flows.published_before")}</span>`}
      ${kind === "named" && html` <span class="badge info">${t("flows.named")}</span>`}
      ${kind === "autosave" && html` <span class="muted">${t("flows.auto_save")}</span>`}</td>
    <td>${v.publish_message || (kind === "autosave" && v.message === "auto-save" ? "" : v.message) || ""}</td>
    <td class="muted">${formatDate(v.created_at)}</td>
    <td><button type="button" class="diff-btn" onClick=${() => showDiff(v.version)}>${t("flows.diff_draft")}</button>
      ${can("flows.publish") && !v.is_published && html` <button type="button" class="rollback-btn" onClick=${() => rollback(v.version)}>${t("flows.roll_back")}</button>`}</td>
  </tr>`;
  return html`<div class="card" id="versions">
    <h2>${t("flows.versions")}</h2>
    <${ErrorBox} error=${error || versions.error} />
    <table>
      <thead><tr><th>${t("flows.version")}</th><th>${t("common.message")}</th><th>${t("flows.saved")}</th><th><span class="sr-only">${t("flows.actions")}</span></th></tr></thead>
      <tbody>
        ${groupVersions(items).map((g) => {
          if (!g.autosaves) return row(g.version, g.kind, false);
          const key = g.autosaves[0].version;
          const first = g.autosaves[g.autosaves.length - 1].version;
          const expanded = !!open[key];
          return html`<tr class="autosave-group" data-autosaves=${g.autosaves.length}>
              <td colspan="4"><button type="button" class="link autosave-toggle" aria-expanded=${expanded ? "true" : "false"}
                onClick=${() => setOpen((o) => ({ ...o, [key]: !o[key] }))}>${expanded ? "▾" : "▸"} ${t("flows.auto_saves", { count: g.autosaves.length })}
                <span class="muted">${t("flows.v_3", { first })}${first === key ? "" : `–v${key}`})</span></button></td>
            </tr>
            ${expanded && g.autosaves.map((v) => row(v, "autosave", true))}`;
        })}
        <${Loading} load=${versions} cols="4" />
      </tbody>
    </table>
    ${diff &&
    html`<div id="diff" class="diff">
      <h3>${t("flows.v_v", { from_version: diff.from_version, to_version: diff.to_version })}${diff.identical ? " " + t("flows.identical") : ""}</h3>
      ${diff.nodes_added.length > 0 && html`<div class="added">${t("flows.nodes_added")} ${diff.nodes_added.join(", ")}</div>`}
      ${diff.nodes_removed.length > 0 && html`<div class="removed">${t("flows.nodes_removed")} ${diff.nodes_removed.join(", ")}</div>`}
      ${diff.nodes_changed.map((c) => html`<div class="changed">${t("flows.node_changed", { id: c.id })} ${c.fields.join(", ")}</div>`)}
      ${diff.edges_added.length > 0 && html`<div class="added">${t("flows.edges_added")} ${diff.edges_added.join(", ")}</div>`}
      ${diff.edges_removed.length > 0 && html`<div class="removed">${t("flows.edges_removed")} ${diff.edges_removed.join(", ")}</div>`}
    </div>`}
  </div>`;
}

/** Copied nodes (with the edges between them), shared by the flows of this browser. */
const CLIPBOARD_KEY = "bb.flow-clipboard";

function isTyping() {
  const el = document.activeElement;
  return !!el && (["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName) || el.isContentEditable);
}

/** Pastes `clip` into `doc` with new ids, offset from the originals and never on top of another node. */
export function pasteInto(doc, clip) {
  const taken = new Set(doc.nodes.map((n) => n.id));
  const rename = {};
  for (const n of clip.nodes) {
    let i = 1;
    while (taken.has(`${n.type}_${i}`)) i++;
    rename[n.id] = `${n.type}_${i}`;
    taken.add(rename[n.id]);
  }
  let dx = 40;
  let dy = 40;
  const placed = (ox, oy) => clip.nodes.map((n) => ({ ...n, id: rename[n.id], position: { x: (n.position?.x || 0) + ox, y: (n.position?.y || 0) + oy } }));
  let nodes = placed(dx, dy);
  for (let tries = 0; tries < 200 && nodes.some((a) => doc.nodes.some((b) => overlaps(boxOf(a), boxOf(b)))); tries++) {
    dy += 30;
    if (tries % 10 === 9) dx += NODE_W + GAP;
    nodes = placed(dx, dy);
  }
  const edges = clip.edges.map((e) => ({ ...e, id: `${rename[e.source]}-${e.port || "next"}-${rename[e.target]}`, source: rename[e.source], target: rename[e.target] }));
  return { doc: { ...doc, nodes: [...doc.nodes, ...nodes], edges: [...doc.edges, ...edges] }, ids: nodes.map((n) => n.id) };
}

function FlowBuilder({ params }) {
  const { botId } = params;
  const name = params.name;
  const bot = useBot(botId);
  const base = `/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}`;
  const [reloadKey, setReloadKey] = useState(0);
  const detail = useLoad(() => get(base), [base, reloadKey]);
  const h = useHistory(null);
  const [sel, setSel] = useState({ nodes: [] });
  const [issues, setIssues] = useState([]);
  const [saveState, setSaveState] = useState("saved");
  const [savedJson, setSavedJson] = useState(null);
  const [publishMessage, setPublishMessage] = useState("");
  const [publishWarnings, setPublishWarnings] = useState([]);
  const [error, setError] = useState(null);
  const [openForm, setOpenForm] = useState(0);
  const [studio, setStudio] = useState(null);
  const [size, setSize] = useState({ w: 0, h: 0 });
  const canvasRef = useRef(null);
  const query = new URLSearchParams(location.search);
  const [analytics, setAnalytics] = useState(query.get("analytics") === "1");
  const [range, setRangeState] = useState({ from: query.get("from") || "", to: query.get("to") || "" });
  const [funnel, setFunnel] = useState(null);
  const setRange = (r) => setRangeState(r);
  useEffect(() => {
    // Shareable: the toggle and the range live in the URL.
    const q = new URLSearchParams();
    if (analytics) q.set("analytics", "1");
    if (range.from) q.set("from", range.from);
    if (range.to) q.set("to", range.to);
    const url = location.pathname + (q.toString() ? `?${q}` : "");
    if (url !== location.pathname + location.search) history.replaceState(history.state, "", url);
    if (!analytics) return;
    const f = new URLSearchParams();
    if (range.from) f.set("from", range.from);
    if (range.to) f.set("to", range.to);
    get(`${base}/funnel${f.toString() ? `?${f}` : ""}`).then(setFunnel, (e) => setError(e));
  }, [analytics, range.from, range.to, base]);
  const localKey = `bb.flow-draft:${botId}:${name}`;
  const sampleKey = `bb.flow-samples:${botId}`;
  const [sample, setSampleState] = useState(() => {
    try {
      return JSON.parse(localStorage.getItem(sampleKey) || "{}");
    } catch {
      return {};
    }
  });
  const setSample = (s) => (setSampleState(s), localStorage.setItem(sampleKey, JSON.stringify(s)));
  const pickers = usePickerData(botId, bot.data && bot.data.organization_id);
  const vars = collectVariables(h.doc);
  const ctx = { vars, sample, data: pickers };
  const names = { kbs: Object.fromEntries(pickers.kbs.map((k) => [k.id, k.name])) };

  useEffect(() => {
    if (!detail.data || h.doc) return;
    const server = detail.data.draft.document || emptyDoc();
    const local = localStorage.getItem(localKey);
    let doc = server;
    if (local) {
      try {
        const parsed = JSON.parse(local);
        if (parsed.base_version === detail.data.draft.version && JSON.stringify(parsed.doc) !== JSON.stringify(server)) {
          doc = parsed.doc;
          toast(t("flows.restored_unsaved_changes_of_this"));
        }
      } catch {
        localStorage.removeItem(localKey);
      }
    }
    h.reset(doc);
    setSavedJson(contentJson(server));
    setIssues(detail.data.issues || []);
  }, [detail.data]);

  // The canvas size, for new-node placement, zoom to fit and the minimap.
  useEffect(() => {
    const el = canvasRef.current;
    if (!el) return;
    const measure = () => setSize({ w: el.clientWidth, h: el.clientHeight });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [!!h.doc]);

  // Validate soon after each change; save the draft when it has no errors.
  useEffect(() => {
    if (!h.doc || savedJson === null) return;
    const json = contentJson(h.doc);
    if (json === savedJson) {
      setSaveState("saved");
      return;
    }
    setSaveState("changed");
    localStorage.setItem(localKey, JSON.stringify({ base_version: detail.data && detail.data.draft.version, doc: h.doc }));
    const timer = setTimeout(async () => {
      try {
        // Drafts always save: unfinished flows come back with warnings.
        setSaveState("saving");
        const saved = await put(base, { document: h.doc, autosave: true });
        setSavedJson(json);
        setIssues(saved.issues || []);
        localStorage.removeItem(localKey);
        setSaveState("saved");
        setReloadKey((k) => k + 1);
      } catch (e) {
        setSaveState(e.code === "flow_invalid" ? "invalid" : "error");
        if (e.details && e.details.issues) setIssues(e.details.issues);
        setError(e);
      }
    }, 700);
    return () => clearTimeout(timer);
  }, [h.doc, savedJson]);

  const removeSelection = () => {
    const ids = (sel.nodes || []).filter((id) => h.doc.nodes.some((n) => n.id === id && n.type !== "start"));
    if (sel.edge) {
      h.set((d) => ({ ...d, edges: d.edges.filter((x) => x !== sel.edge) }));
    } else if (ids.length) {
      h.set((d) => ({ ...d, nodes: d.nodes.filter((n) => !ids.includes(n.id)), edges: d.edges.filter((e) => !ids.includes(e.source) && !ids.includes(e.target)) }));
    } else return false;
    setSel({ nodes: [] });
    if (canvasRef.current) canvasRef.current.focus();
    return true;
  };
  const copySelection = () => {
    const ids = (sel.nodes || []).filter((id) => h.doc.nodes.some((n) => n.id === id && n.type !== "start"));
    if (!ids.length) return false;
    const clip = { nodes: h.doc.nodes.filter((n) => ids.includes(n.id)), edges: h.doc.edges.filter((e) => ids.includes(e.source) && ids.includes(e.target)) };
    localStorage.setItem(CLIPBOARD_KEY, JSON.stringify(clip));
    toast(t("flows.copied_nodes", { count: ids.length }));
    return true;
  };
  const paste = () => {
    let clip;
    try {
      clip = JSON.parse(localStorage.getItem(CLIPBOARD_KEY) || "null");
    } catch {
      clip = null;
    }
    if (!clip || !clip.nodes || !clip.nodes.length) return false;
    const out = pasteInto(h.doc, clip);
    h.set(out.doc);
    setSel({ nodes: out.ids });
    return true;
  };

  useEffect(() => {
    const onKey = (e) => {
      if (isTyping()) return;
      const inBuilder = canvasRef.current && (canvasRef.current.contains(document.activeElement) || document.activeElement === document.body);
      if (e.ctrlKey || e.metaKey) {
        const k = e.key.toLowerCase();
        if (k === "z" && !e.shiftKey) (e.preventDefault(), h.undo());
        else if (k === "y" || (k === "z" && e.shiftKey)) (e.preventDefault(), h.redo());
        else if (k === "c" && inBuilder && copySelection()) e.preventDefault();
        else if (k === "v" && inBuilder && paste()) e.preventDefault();
        else if (k === "a" && inBuilder) (e.preventDefault(), setSel({ nodes: h.doc.nodes.map((n) => n.id) }));
        return;
      }
      if ((e.key === "Delete" || e.key === "Backspace") && inBuilder && removeSelection()) e.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  // Enter on a node (or a double click) opens its form: focus its first field.
  useEffect(() => {
    if (!openForm) return;
    const el = document.querySelector("#node-panel .node-form :is(input, select, textarea)") || document.querySelector("#node-panel input");
    if (el) el.focus();
  }, [openForm]);
  const onOpen = (id) => (setSel({ nodes: [id] }), setOpenForm((k) => k + 1));

  const addNode = (type) => {
    const doc = h.doc;
    let i = 1;
    while (doc.nodes.some((n) => n.id === `${type}_${i}`)) i++;
    const vp = doc.viewport || { x: 0, y: 0, zoom: 1 };
    const id = `${type}_${i}`;
    const data = JSON.parse(JSON.stringify(TEMPLATES()[type]));
    // Start from what the bot has, so a new node is valid at once where it can be.
    const intent = pickers.intents[0] && pickers.intents[0].name;
    if (type === "intent_router" && intent) data.routes = [{ id: intent.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64), intent }];
    const other = pickers.flows.map((f) => f.name).find((f) => f !== name);
    if (type === "jump" && other) data.flow = other;
    const node = { id, type, data };
    // Where the user is looking: the centre of the visible canvas, nudged to a free spot.
    const w = size.w || 640;
    const hgt = size.h || 420;
    const cx = Math.round((w / 2 - vp.x) / vp.zoom - NODE_W / 2);
    const cy = Math.round((hgt / 2 - vp.y) / vp.zoom - nodeHeight(node) / 2);
    node.position = freeSpot(doc.nodes, cx, cy, nodeHeight(node));
    h.set((d) => ({ ...d, nodes: [...d.nodes, node] }));
    setSel({ nodes: [id] });
  };

  const publish = async () => {
    setError(null);
    try {
      const r = await post(`${base}/publish`, { message: publishMessage || undefined });
      setPublishMessage("");
      setPublishWarnings(r.warnings || []);
      toast(r.warnings && r.warnings.length ? t("flows.published_with_a_warning", { warnings: r.warnings.join("; ") }) : t("flows.published"));
      setReloadKey((k) => k + 1);
    } catch (e) {
      if (e.code === "flow_invalid" && e.details && e.details.issues) setIssues(e.details.issues);
      setError(e);
    }
  };

  const errors = issues.filter((i) => i.severity === "error");
  const stateText = { saved: t("flows.all_changes_saved"), changed: t("flows.unsaved_changes"), saving: t("flows.saving"), invalid: t("flows.not_saved_errors", { count: errors.length }), error: t("flows.save_failed") }[saveState];
  const published = detail.data && detail.data.published;
  const fit = () => {
    const el = canvasRef.current;
    if (el) h.set((d) => ({ ...d, viewport: fitViewport(d.nodes, el.clientWidth, el.clientHeight) }), { record: false });
  };
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("flows.flow_2", { name, value: bot.data ? bot.data.name : "" })}
    actions=${html`<span id="save-state" class=${"badge " + (saveState === "saved" ? "ok" : saveState === "invalid" || saveState === "error" ? "bad" : "warn")}>${stateText}</span>`}>
    <${BotNav} botId=${botId} active="flows" />
    <${Checklist} botId=${botId} />
    <${ErrorBox} error=${error || detail.error} />
    ${h.doc &&
    html`<div class="row flow-toolbar" role="toolbar" aria-label=${t("flows.flow_tools")}>
        <button type="button" id="undo" disabled=${!h.canUndo} onClick=${h.undo}>${t("flows.undo")}</button>
        <button type="button" id="redo" disabled=${!h.canRedo} onClick=${h.redo}>${t("flows.redo")}</button>
        <button type="button" id="auto-layout" onClick=${() => (h.set((d) => autoLayout(d)), setTimeout(fit, 0))}>${t("flows.auto_layout")}</button>
        <button type="button" id="fit-view" onClick=${fit}>${t("flows.zoom_to_fit")}</button>
        <label class="toggle"><input type="checkbox" id="show-analytics" checked=${analytics} onChange=${(e) => setAnalytics(e.target.checked)} /> ${t("flows.show_analytics")}</label>
        ${can("bots.write") &&
        html`<button type="button" id="open-improve" aria-expanded=${studio === "improve"} onClick=${() => setStudio(studio === "improve" ? null : "improve")}>${t("flows.improve_with_ai")}</button>
          <button type="button" id="open-suggest" aria-expanded=${studio === "suggest"} disabled=${!(sel.nodes && sel.nodes.length === 1)}
            title=${t("flows.select_one_node_first")} onClick=${() => setStudio(studio === "suggest" ? null : "suggest")}>${t("flows.suggest_next")}</button>`}
        <span class="muted">${t("flows.add")}</span>
        ${Object.keys(TEMPLATES()).map((tv) => html`<button type="button" class=${"add-node add-" + tv} data-add=${tv} onClick=${() => addNode(tv)}>${ADD_LABELS()[tv]}</button>`)}
      </div>
      ${studio === "improve" &&
      html`<${ImproveCard} botId=${botId} name=${name} doc=${h.doc} onClose=${() => setStudio(null)}
        onApply=${(doc) => (h.set((d) => ({ ...doc, viewport: d.viewport })), toast(t("flows.applied_undo_reverts_it")))} />`}
      ${studio === "suggest" && sel.nodes && sel.nodes.length === 1 &&
      html`<div class="card"><h2>${t("flows.next_steps_after")} ${sel.nodes[0]}</h2>
        <${SuggestNext} key=${sel.nodes[0]} botId=${botId} name=${name} doc=${h.doc} nodeId=${sel.nodes[0]}
          onAdd=${(node, edge) => (h.set((d) => ({ ...d, nodes: [...d.nodes, node], edges: [...d.edges, { ...edge, id: `${edge.source}-${edge.port}-${edge.target}` }] })), setSel({ nodes: [node.id] }))} /></div>`}
      <div class="flow-layout">
        <${Canvas} ports=${portsOf} describe=${summary} doc=${h.doc} issues=${issues} sel=${sel} setSel=${setSel} setDoc=${h.set} commit=${h.commit} names=${names} onOpen=${onOpen} canvasRef=${canvasRef} size=${size}
          stats=${analytics ? funnelIndex(funnel) : null} />
        <${NodePanel} doc=${h.doc} sel=${sel} setSel=${setSel} setDoc=${h.set} commit=${h.commit} issues=${issues} ctx=${ctx} botId=${botId} flowName=${name}
          names=${names} sample=${sample} setSample=${setSample} canvasRef=${canvasRef} />
      </div>
      ${analytics && html`<${FunnelCard} funnel=${funnel} range=${range} setRange=${setRange} />`}
      ${issues.length > 0 &&
      html`<div class="card"><h2>${t("flows.problems")}</h2>
        ${issues.some((i) => i.blocks_publish) && html`<p class="muted" id="issues-blocking">${t("flows.the_draft_is_saved_fix")}</p>`}
        <ul class="issue-list" id="issues">
        ${issues.map((i) => html`<li class=${i.severity} data-code=${i.code}><a href="#" onClick=${(e) => (e.preventDefault(), i.node_id && onOpen(i.node_id))}>${i.node_id || i.edge_id || "flow"}</a>: <strong>${i.code}</strong> ${i.message}${i.blocks_publish && html` <span class="badge warn">${t("flows.before_publishing")}</span>`}</li>`)}
      </ul></div>`}
      ${can("flows.publish") &&
      html`<div class="card row">
        <span id="draft-line">${t("flows.draft_v")}${detail.data && detail.data.draft.version} ${t("flows.published_3")} ${published ? `v${published.version}` : t("common.never")}</span>
        <input id="publish-message" aria-label=${t("flows.what_changed")} placeholder=${t("flows.what_changed")} value=${publishMessage} onInput=${(e) => setPublishMessage(e.target.value)} />
        <button type="button" class="primary" id="publish" disabled=${saveState !== "saved"} onClick=${publish}>${t("flows.publish")}</button>
        <a class="button" href=${`/bots/${botId}/emulator`}>${t("flows.try_in_emulator")}</a>
      </div>`}
      ${publishWarnings.length > 0 &&
      html`<div class="card warn" id="publish-warnings" role="status">${publishWarnings.join("; ")} · <a href=${`/bots/${botId}/tests`}>${t("flows.see_the_test_results")}</a></div>`}
      <${Versions} botId=${botId} name=${name} detail=${detail.data} onChanged=${() => setReloadKey((k) => k + 1)} />`}
  <//>`;
}

route("/bots/:botId/flows", FlowList);
route("/bots/:botId/flows/:name", FlowBuilder);
