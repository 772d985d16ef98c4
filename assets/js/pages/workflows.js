// Workflows of a bot: a step-list editor (each step's id, type and fields;
// add, remove, reorder) with the graph drawn beside it from the same
// definition, runs started with a JSON input, and an execution trace viewer
// (steps with status, timing, tokens, input and output; the messages
// between steps; cancel and approve while a run is live). The server checks
// every definition: the step at fault is marked and its field named.
import { html, Page, useLoad, useState, useEffect, useRef, ErrorBox, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { Canvas, NODE_W, heightFor, fitViewport } from "../canvas.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { can } from "../session.js";
import { BotNav, BotMissing, useBot } from "./botnav.js";
import { t } from "../i18n.js";

const TYPES = () => ({
  agent: { label: t("workflows.agent_2"), fields: { agent_id: null, input: "{{ input.question }}", next: "" } },
  tool: { label: t("workflows.tool"), fields: { tool: "", arguments: {}, next: "" } },
  condition: { label: t("workflows.condition"), fields: { branches: [{ when: "input.amount > 100", next: "" }], default: "" } },
  parallel: { label: t("workflows.parallel"), fields: { branches: ["", ""] } },
  join: { label: t("workflows.join"), fields: { next: "" } },
  router: { label: t("workflows.router_agent_picks"), fields: { agent_id: null, input: "{{ input.question }}", routes: { name: "" }, default: "" } },
  approval: { label: t("workflows.approval"), fields: { message: t("workflows.approve"), next: "", reject: "" } },
  end: { label: t("workflows.end"), fields: { output: null } },
});

const STATUS_BADGE = { completed: "ok", failed: "bad", cancelled: "bad", skipped: "", running: "warn", pending: "", waiting_approval: "warn" };
const LIVE = ["pending", "running", "waiting_approval"];
const pretty = (v) => JSON.stringify(v, null, 2);

/** The step's settings: its fields other than id, type and its place on the canvas. */
function fieldsOf(step) {
  const { id, type, position, ...rest } = step;
  return rest;
}


// ---- The workflow on the flow canvas ------------------------------------------

/**
 * The output ports of a step (where its edges leave) and, for each, how to
 * read and set its target in the step: `next`, `reject`, `default`, a
 * condition's branches (`if 1`, …), a parallel step's branches (`branch 1`,
 * …, and `+ branch` to add one by drawing), a router's named routes.
 */
export function stepPorts(step) {
  const field = (key) => ({ get: (s) => s[key] || "", set: (s, tv) => ({ ...s, [key]: tv }) });
  switch (step.type) {
    case "agent":
    case "tool":
    case "join":
      return [["next", field("next")]];
    case "approval":
      return [["next", field("next")], ["reject", field("reject")]];
    case "condition":
      return [
        ...(Array.isArray(step.branches) ? step.branches : []).map((_, i) => [
          `if ${i + 1}`,
          {
            get: (s) => (s.branches[i] && s.branches[i].next) || "",
            set: (s, tv) => ({ ...s, branches: s.branches.map((b, j) => (j === i ? { ...b, next: tv } : b)) }),
          },
        ]),
        ["default", field("default")],
      ];
    case "parallel": {
      const branches = Array.isArray(step.branches) ? step.branches : [];
      return [
        ...branches.map((_, i) => [
          `branch ${i + 1}`,
          { get: (s) => s.branches[i] || "", set: (s, tv) => ({ ...s, branches: s.branches.map((b, j) => (j === i ? tv : b)) }) },
        ]),
        [t("workflows.branch"), { get: () => "", set: (s, tv) => ({ ...s, branches: [...(s.branches || []).filter(Boolean), tv] }) }],
      ];
    }
    case "router":
      return [
        ...Object.keys(step.routes && typeof step.routes === "object" ? step.routes : {}).map((name) => [
          name,
          { get: (s) => s.routes[name] || "", set: (s, tv) => ({ ...s, routes: { ...s.routes, [name]: tv } }) },
        ]),
        ["default", field("default")],
      ];
    default:
      return [];
  }
}

const portNames = (step) => stepPorts(step).map(([name]) => name);
const stepHeight = heightFor(portNames);

/** The edges of a step: [label, target]. */
function edges(step) {
  return stepPorts(step)
    .map(([name, f]) => [name, f.get(step)])
    .filter(([, tv]) => tv);
}

/** Positions for the steps that have none: columns by distance from the start. */
export function layoutSteps(definition) {
  const steps = (definition && Array.isArray(definition.steps) ? definition.steps : []).filter((s) => s && s.id);
  if (!steps.length || steps.every((s) => s.position)) return definition;
  const byId = Object.fromEntries(steps.map((s) => [s.id, s]));
  const start = definition.start && byId[definition.start] ? definition.start : steps[0].id;
  const depth = { [start]: 0 };
  const queue = [start];
  while (queue.length) {
    const id = queue.shift();
    for (const [, tv] of edges(byId[id])) {
      if (byId[tv] && depth[tv] === undefined) {
        depth[tv] = depth[id] + 1;
        queue.push(tv);
      }
    }
  }
  let maxDepth = Math.max(0, ...Object.values(depth));
  for (const s of steps) if (depth[s.id] === undefined) depth[s.id] = ++maxDepth;
  const rows = {};
  return {
    ...definition,
    steps: definition.steps.map((s) => {
      if (!s || !s.id || s.position) return s;
      const d = depth[s.id];
      const row = (rows[d] = (rows[d] || 0) + 1) - 1;
      return { ...s, position: { x: 40 + d * (NODE_W + 70), y: 40 + row * 130 } };
    }),
  };
}

/** The canvas document of a definition: a node per step, an edge per connection. */
function toDoc(definition, viewport) {
  const steps = (definition && Array.isArray(definition.steps) ? definition.steps : []).filter((s) => s && s.id);
  return {
    viewport,
    nodes: steps.map((s) => ({ id: s.id, type: s.type, label: s.name || s.id, position: s.position || { x: 0, y: 0 }, step: s })),
    edges: steps.flatMap((s) => edges(s).map(([port, target]) => ({ source: s.id, port, target }))),
  };
}

/** What a step node says: its main setting and where it starts. */
function describeStep(node, names = {}) {
  const s = node.step || {};
  const start = names.start === s.id ? (t("workflows.start") + " ") : "";
  switch (s.type) {
    case "agent":
    case "router":
      return `${start}${names.agents && names.agents[s.agent_id] ? names.agents[s.agent_id] : s.agent_id ? `agent ${s.agent_id}` : t("workflows.no_agent_chosen")}`;
    case "tool":
      return `${start}${s.tool || t("workflows.no_tool_chosen")}`;
    case "condition":
      return `${start}${(s.branches || []).map((b) => b && b.when).filter(Boolean).join(" · ") || t("workflows.no_branches")}`;
    case "approval":
      return `${start}${s.message || "approval"}`;
    case "parallel":
      return `${start}${(s.branches || []).filter(Boolean).length} branches`;
    case "join":
      return t("workflows.waits_for_every_branch", { start });
    default:
      return `${start}${s.output !== undefined && s.output !== null ? t("workflows.returns_output") : t("workflows.ends_the_run")}`;
  }
}

const typeLabel = (tv) => (TYPES()[tv] || { label: tv }).label;

/** Measures an element while mounted (the minimap and zoom to fit need the canvas size). */
function useSize(ref) {
  const [size, setSize] = useState({ w: 0, h: 0 });
  useEffect(() => {
    const el = ref.current;
    if (!el) return undefined;
    const measure = () => setSize({ w: el.clientWidth, h: el.clientHeight });
    measure();
    if (!window.ResizeObserver) return undefined;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return size;
}

/**
 * A workflow drawn on the flow canvas, read-only (the detail page and the
 * trace: moving and zooming stay on screen; `statuses` mark the executed
 * steps).
 */
export function Graph({ definition, highlight, statuses = {} }) {
  const ref = useRef(null);
  const size = useSize(ref);
  const [laid, setLaid] = useState(() => layoutSteps(definition));
  const [viewport, setViewport] = useState(null);
  const [sel, setSel] = useState({ nodes: [] });
  useEffect(() => setLaid(layoutSteps(definition)), [JSON.stringify(definition)]);
  useEffect(() => {
    if (size.w && !viewport) setViewport(fitViewport(toDoc(laid).nodes, size.w, size.h, stepHeight));
  }, [size.w, size.h]);
  const doc = toDoc(laid, viewport || { x: 0, y: 0, zoom: 1 });
  const setDoc = (f) => {
    const next = typeof f === "function" ? f(doc) : f;
    if (next.viewport !== doc.viewport) setViewport(next.viewport);
    const pos = Object.fromEntries(next.nodes.map((n) => [n.id, n.position]));
    setLaid((d) => ({ ...d, steps: d.steps.map((s) => (s && pos[s.id] ? { ...s, position: pos[s.id] } : s)) }));
  };
  const issues = highlight ? [{ node_id: highlight, severity: "error", message: t("workflows.this_step_is_at_fault") }] : [];
  return html`<div class="workflow-canvas readonly">
    <${Canvas} id="workflow-graph" label=${t("workflows.workflow_graph_tab_to_a")} doc=${doc} issues=${issues} sel=${sel} setSel=${setSel}
      setDoc=${setDoc} commit=${() => {}} names=${{ start: definition.start || (laid.steps && laid.steps[0] && laid.steps[0].id) }}
      onOpen=${() => {}} canvasRef=${ref} size=${size} statuses=${statuses} ports=${portNames} describe=${describeStep}
      typeLabel=${typeLabel} canConnect=${() => false} />
  </div>`;
}

/** The definition without the edges and settings left empty in the form. */
function clean(definition) {
  const steps = (definition.steps || []).map((step) =>
    Object.fromEntries(Object.entries(step).filter(([, v]) => v !== "" && v !== null && v !== undefined)),
  );
  return { ...definition, steps };
}

/** The index of the step a server error names (`definition.steps[3]…`). */
function faultIndex(error) {
  const m = error && error.field && /^definition\.steps\[(\d+)\]/.exec(error.field);
  return m ? Number(m[1]) : -1;
}

function StepRow({ step, index, fault, error, onChange, onRemove, agents, tools, steps, onConnect }) {
  const [text, setText] = useState(pretty(fieldsOf(step)));
  const [bad, setBad] = useState(null);
  const fieldsJson = JSON.stringify(fieldsOf(step));
  // A connection drawn on the canvas changes the settings: show them, unless
  // the text already says the same (typing must not be reformatted).
  useEffect(() => {
    try {
      if (JSON.stringify(JSON.parse(text)) === fieldsJson) return;
    } catch (e) {
      /* the text is being edited: replaced below */
    }
    setText(pretty(fieldsOf(step)));
    setBad(null);
  }, [fieldsJson, step.type]);
  const update = (tv) => {
    setText(tv);
    try {
      const fields = JSON.parse(tv);
      setBad(null);
      onChange({ id: step.id, type: step.type, ...(step.position ? { position: step.position } : {}), ...fields });
    } catch (e) {
      setBad(e.message);
    }
  };
  const setType = (type) => onChange({ id: step.id, type, ...(step.position ? { position: step.position } : {}), ...TYPES()[type].fields });
  const base = `step-${index}`;
  const help = step.type === "agent" || step.type === "router"
    ? `Agents: ${agents.map((a) => `${a.id} = ${a.name}`).join(", ") || t("workflows.none_yet_create_one_on")}`
    : step.type === "tool"
      ? `Tools: ${tools.map((tv) => tv.name).join(", ") || t("workflows.none_yet_create_one_under")}`
      : "Templates read {{ input.x }} and {{ steps.<id>.<field> }}.";
  const ports = stepPorts(step);
  return html`<div class=${"workflow-step" + (fault ? " fault" : "")} id="step-panel" data-step-index=${index} data-step=${step.id}
      role="region" aria-label=${t("workflows.step", { id: step.id })}>
    <h3>${t("common.step")} <code>${step.id}</code></h3>
    <div class="grid">
      <div>
        <label for=${`${base}-id`}>${t("workflows.step_id")}</label>
        <input id=${`${base}-id`} name=${`definition.steps[${index}].id`} value=${step.id} required pattern="[a-z][a-z0-9_]{0,63}"
          onInput=${(e) => onChange({ ...step, id: e.target.value })} />
      </div>
      <div>
        <label for=${`${base}-type`}>${t("common.type")}</label>
        <select id=${`${base}-type`} name=${`definition.steps[${index}].type`} value=${step.type} onChange=${(e) => setType(e.target.value)}>
          ${Object.entries(TYPES()).map(([k, v]) => html`<option value=${k}>${v.label}</option>`)}
        </select>
      </div>
    </div>
    ${ports.length > 0 &&
    html`<fieldset class="step-ports">
      <legend>${t("workflows.connections_or_drag_from_a")}</legend>
      ${ports.map(([port, f], k) => html`<div class="row">
        <label for=${`${base}-port-${k}`}>${port} →</label>
        <select id=${`${base}-port-${k}`} data-port=${port} value=${f.get(step)} onChange=${(e) => onConnect(step, port, e.target.value)}>
          <option value="">${port === t("workflows.branch") ? t("workflows.add_a_branch_to") : t("workflows.none")}</option>
          ${steps.filter((x) => x && x.id && x.id !== step.id).map((x) => html`<option value=${x.id}>${x.id} · ${typeLabel(x.type)}</option>`)}
        </select>
      </div>`)}
    </fieldset>`}
    <label for=${`${base}-fields`}>${t("workflows.settings_json")}</label>
    <textarea id=${`${base}-fields`} class="mono" rows="5" spellcheck="false" aria-describedby=${`${base}-help`} value=${text} onInput=${(e) => update(e.target.value)}></textarea>
    <div class="muted small" id=${`${base}-help`}>${help}</div>
    ${bad && html`<div class="field-error" role="alert">${t("workflows.not_valid_json", { bad })}</div>`}
    ${fault && error && html`<div class="field-error" role="alert" data-field-error=${error.field}>${error.message} <span class="muted">${t("workflows.field")} <code>${error.field}</code>)</span></div>`}
    <div class="row">
      <button type="button" class="danger remove-step" onClick=${onRemove}>${t("workflows.remove_step")}</button>
    </div>
  </div>`;
}

/** `step` with the target of its output `port` set to `target` ("" removes the connection). */
function connect(step, port, target) {
  if (!target && step.type === "parallel" && port.startsWith("branch ")) {
    const i = Number(port.slice(7)) - 1;
    return { ...step, branches: step.branches.filter((_, j) => j !== i) };
  }
  if (!target && step.type === "condition" && port.startsWith("if ")) {
    const i = Number(port.slice(3)) - 1;
    return { ...step, branches: step.branches.filter((_, j) => j !== i) };
  }
  if (!target && port === t("workflows.branch")) return step;
  const found = stepPorts(step).find(([name]) => name === port);
  return found ? found[1].set(step, target) : step;
}

/** `step` without its connections to `target` (a removed step). */
function disconnect(step, target) {
  let out = step;
  for (const [port] of [...stepPorts(step)].reverse()) {
    const f = stepPorts(out).find(([name]) => name === port);
    if (f && f[1].get(out) === target) out = connect(out, port, "");
  }
  return out;
}

const NEW_WORKFLOW = { steps: [{ id: "start", type: "tool", tool: "", arguments: {}, next: "done" }, { id: "done", type: "end" }] };

/**
 * The workflow editor on the flow canvas: steps as nodes, connections drawn
 * from a step's output port to another step (or chosen in the properties
 * panel), the selected step's id, type, connections and settings in the
 * panel, the server's validation shown on the step at fault.
 */
function Editor({ botId, workflow, onSaved, onCancel }) {
  const [name, setName] = useState(workflow ? workflow.name : "");
  const [description, setDescription] = useState(workflow ? workflow.description || "" : "");
  const [definition, setDefinition] = useState(() => layoutSteps(workflow ? workflow.definition : NEW_WORKFLOW));
  const [viewport, setViewport] = useState(null);
  const [sel, setSel] = useState(() => ({ nodes: (definition.steps || []).slice(0, 1).map((x) => x.id) }));
  const [newType, setNewType] = useState("agent");
  const [error, setError] = useState(null);
  const canvasRef = useRef(null);
  const size = useSize(canvasRef);
  const refs = useLoad(() => Promise.all([get(`/api/v1/bots/${botId}/agents?limit=200`).catch(() => ({ items: [] })), get(`/api/v1/bots/${botId}`)]), [botId]);
  const org = refs.data ? refs.data[1].organization_id : null;
  const tools = useLoad(() => (org ? get(`/api/v1/orgs/${org}/tools?limit=200`) : Promise.resolve({ items: [] })), [org]);
  const agents = refs.data ? refs.data[0].items : [];
  const steps = definition.steps || [];
  const setSteps = (f) => setDefinition((d) => ({ ...d, steps: f(d.steps || []) }));
  const fault = faultIndex(error);
  useEffect(() => {
    if (size.w && !viewport) setViewport(fitViewport(toDoc(definition).nodes, size.w, size.h, stepHeight));
  }, [size.w, size.h]);
  // The step at fault is the one the panel shows.
  useEffect(() => {
    if (fault >= 0 && steps[fault]) setSel({ nodes: [steps[fault].id] });
  }, [error]);
  const vp = viewport || { x: 0, y: 0, zoom: 1 };
  const startId = definition.start || (steps[0] && steps[0].id);
  const doc = toDoc(definition, vp);
  const setDoc = (f) => {
    const next = typeof f === "function" ? f(doc) : f;
    if (next.viewport !== doc.viewport) setViewport(next.viewport);
    const pos = {};
    for (const n of next.nodes) pos[n.id] = n.position;
    if (next.nodes.some((n, i) => doc.nodes[i] && n.position !== doc.nodes[i].position)) {
      setSteps((list) => list.map((x) => (x && pos[x.id] && pos[x.id] !== x.position ? { ...x, position: pos[x.id] } : x)));
    }
  };
  const onConnect = (edge) => setSteps((list) => list.map((x) => (x.id === edge.source ? connect(x, edge.port, edge.target) : x)));
  const removeSteps = (ids) => {
    setSteps((list) => list.filter((x) => !ids.includes(x.id)).map((x) => ids.reduce(disconnect, x)));
    if (ids.includes(definition.start)) setDefinition((d) => ({ ...d, start: undefined }));
    setSel({ nodes: [] });
  };
  const removeEdge = (e) => {
    onConnect({ ...e, target: "" });
    setSel({ nodes: [] });
  };
  const onKeyDown = (e) => {
    if (e.key !== "Delete" && e.key !== "Backspace") return;
    if (!canvasRef.current || !canvasRef.current.contains(e.target)) return;
    e.preventDefault();
    if (sel.edge) removeEdge(sel.edge);
    else if ((sel.nodes || []).length) removeSteps(sel.nodes);
  };
  const add = () => {
    let n = steps.length + 1;
    while (steps.some((x) => x.id === `step${n}`)) n++;
    const id = `step${n}`;
    // In the middle of the view, clear of the other steps.
    let x = Math.round(((size.w || 600) / 2 - vp.x) / vp.zoom - NODE_W / 2);
    let y = Math.round(((size.h || 400) / 2 - vp.y) / vp.zoom - 40);
    while (steps.some((o) => o.position && Math.abs(o.position.x - x) < NODE_W + 20 && Math.abs(o.position.y - y) < 130)) y += 130;
    const { next, reject, default: dflt, ...fields } = TYPES()[newType].fields;
    const step = { id, type: newType, position: { x, y }, ...fields };
    setSteps((list) => [...list, step]);
    setSel({ nodes: [id] });
  };
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { name, description: description.trim() || null, definition: clean(definition) };
      const saved = workflow ? await patch(`/api/v1/workflows/${workflow.id}`, body) : await post(`/api/v1/bots/${botId}/workflows`, body);
      toast(`${saved.name} saved`);
      onSaved(saved);
    } catch (err) {
      setError(err);
    }
  };
  const one = (sel.nodes || []).length === 1 ? steps.findIndex((x) => x.id === sel.nodes[0]) : -1;
  const issues = fault >= 0 && steps[fault] ? [{ node_id: steps[fault].id, severity: "error", message: error.message }] : [];
  const names = { start: startId, agents: Object.fromEntries(agents.map((a) => [a.id, a.name])) };
  return html`<form class="card" id="workflow-form" onSubmit=${submit}>
    <h2>${workflow ? t("workflows.edit", { name: workflow.name }) : t("workflows.new_workflow")}</h2>
    ${fault < 0 && html`<${ErrorBox} error=${error} />`}
    <div class="grid">
      <div>
        <label for="workflow-name">${t("common.name")}</label>
        <input id="workflow-name" name="name" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
        <${FieldError} error=${error} name="name" />
      </div>
      <div>
        <label for="workflow-description">${t("workflows.description_optional")}</label>
        <input id="workflow-description" name="description" value=${description} onInput=${(e) => setDescription(e.target.value)} />
      </div>
      <div>
        <label for="workflow-start">${t("workflows.start_step")}</label>
        <select id="workflow-start" name="definition.start" value=${startId || ""}
          onChange=${(e) => setDefinition({ ...definition, start: e.target.value })}>
          ${steps.map((x) => html`<option value=${x.id}>${x.id}</option>`)}
        </select>
      </div>
      <div>
        <label for="workflow-timeout">${t("workflows.time_limit_of_a_run")}</label>
        <input id="workflow-timeout" name="definition.timeout_ms" type="number" min="100" value=${definition.timeout_ms ?? 600000}
          onInput=${(e) => setDefinition({ ...definition, timeout_ms: Number(e.target.value) })} />
        <${FieldError} error=${error} name="definition.timeout_ms" />
      </div>
    </div>
    <div class="row workflow-palette">
      <label for="new-step-type">${t("workflows.new_step")}</label>
      <select id="new-step-type" value=${newType} onChange=${(e) => setNewType(e.target.value)}>
        ${Object.entries(TYPES()).map(([k, v]) => html`<option value=${k}>${v.label}</option>`)}
      </select>
      <button type="button" id="add-step" onClick=${add}>${t("workflows.add_step")}</button>
      <span class="muted small">${t("workflows.drag_from_a_port_on")}</span>
    </div>
    <div class="workflow-editor" onKeyDown=${onKeyDown}>
      <${Canvas} id="workflow-canvas" label=${t("workflows.workflow_canvas_tab_to_a")}
        doc=${doc} issues=${issues} sel=${sel} setSel=${setSel} setDoc=${setDoc} commit=${() => {}} names=${names}
        onOpen=${() => { const el = document.querySelector("#step-panel input"); if (el) el.focus(); }}
        canvasRef=${canvasRef} size=${size} ports=${portNames} describe=${describeStep} typeLabel=${typeLabel}
        canConnect=${(source, port, target) => source.id !== target.id} onConnect=${onConnect} />
      <aside class="card workflow-properties" id="workflow-properties" aria-label=${t("workflows.properties")}>
        ${one >= 0
          ? html`<${StepRow} key=${one + ":" + steps[one].type} step=${steps[one]} index=${one} fault=${fault === one} error=${error}
              agents=${agents} tools=${tools.data ? tools.data.items : []} steps=${steps}
              onChange=${(next) => {
                const old = steps[one].id;
                setSteps((list) => list.map((x, j) => (j === one ? next : x)));
                if (next.id !== old) {
                  setSel({ nodes: [next.id] });
                  if (definition.start === old) setDefinition((d) => ({ ...d, start: next.id }));
                }
              }}
              onConnect=${(step, port, target) => onConnect({ source: step.id, port, target })}
              onRemove=${() => removeSteps([steps[one].id])} />`
          : sel.edge
            ? html`<div id="edge-panel"><h3>${t("workflows.connection")}</h3><p><code>${sel.edge.source}</code> (${sel.edge.port}) → <code>${sel.edge.target}</code></p>
                <button type="button" class="danger" id="remove-edge" onClick=${() => removeEdge(sel.edge)}>${t("workflows.remove_connection")}</button></div>`
            : html`<p class="muted">${(sel.nodes || []).length > 1 ? t("workflows.steps_selected_delete_removes_them", { nodes: sel.nodes.length }) : t("workflows.select_a_step_on_the")}</p>
                ${fault >= 0 && steps[fault] && html`<div class="field-error" role="alert">${error.message}</div>`}`}
      </aside>
    </div>
    <div class="row">
      <button class="primary" type="submit" id="save-workflow">${t("workflows.save_workflow")}</button>
      <button type="button" onClick=${onCancel}>${t("common.cancel")}</button>
    </div>
  </form>`;
}

function Workflows({ params }) {
  const botId = params.botId;
  const bot = useBot(botId);
  const list = useLoad(() => get(`/api/v1/bots/${botId}/workflows?limit=200`), [botId]);
  const [editing, setEditing] = useState(null);
  const writable = can("agents.write");
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  const remove = async (w) => {
    if (!confirm(t("workflows.delete_and_its_runs", { name: w.name }))) return;
    try {
      await del(`/api/v1/workflows/${w.id}`);
      toast(t("workflows.deleted", { name: w.name }));
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title=${t("workflows.workflows_2", { value: bot.data ? bot.data.name : t("common.bot") })}
    actions=${writable && html`<button class="primary" type="button" id="new-workflow" onClick=${() => setEditing("new")}>${t("workflows.new_workflow")}</button>`}>
    <${BotNav} botId=${botId} active="workflows" />
    <p class="muted">${t("workflows.workflows_chain_agents_and_tools")}</p>
    ${editing &&
    html`<${Editor} key=${editing === "new" ? "new" : editing.id} botId=${botId} workflow=${editing === "new" ? null : editing}
      onSaved=${(w) => { setEditing(null); list.reload(); navigate(`/workflows/${w.id}`); }} onCancel=${() => setEditing(null)} />`}
    <div class="card">
      <h2>${t("workflows.workflows")}</h2>
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("common.steps")}</th><th>${t("common.status")}</th><th>${t("common.updated")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (w) => html`<tr data-workflow=${w.id} data-name=${w.name}>
              <td><a href=${`/workflows/${w.id}`}><strong>${w.name}</strong></a>${w.description && html`<div class="muted small">${w.description}</div>`}</td>
              <td>${(w.definition.steps || []).length}</td>
              <td><span class=${"badge " + (w.is_active ? "ok" : "")}>${w.is_active ? "active" : "off"}</span></td>
              <td class="muted">${formatDate(w.updated_at)}</td>
              <td class="row">
                ${writable && html`<button type="button" class="edit-workflow" onClick=${() => setEditing(w)}>${t("common.edit")}</button>`}
                ${writable && html`<button type="button" class="danger" onClick=${() => remove(w)}>${t("common.delete")}</button>`}
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">${t("workflows.no_workflows_yet")}${writable ? t("workflows.create_one_with_new_workflow") : "."}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

function WorkflowDetail({ params }) {
  const id = params.id;
  const wf = useLoad(() => get(`/api/v1/workflows/${id}`), [id]);
  const runs = useLoad(() => get(`/api/v1/workflows/${id}/executions?limit=50`), [id]);
  const [input, setInput] = useState("{}");
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(false);
  const writable = can("agents.write");
  const start = async (e) => {
    e.preventDefault();
    setError(null);
    let parsed;
    try {
      parsed = JSON.parse(input);
    } catch (err) {
      setError({ message: t("workflows.input_not_valid_json", { message: err.message }), field: "input" });
      return;
    }
    try {
      const exec = await post(`/api/v1/workflows/${id}/run`, { input: parsed });
      toast(t("workflows.run_started"));
      navigate(`/workflow-executions/${exec.id}`);
    } catch (err) {
      setError(err);
    }
  };
  if (wf.error) return html`<${Page} title=${t("workflows.workflow")}><${ErrorBox} error=${wf.error} /><//>`;
  if (!wf.data) return html`<${Page} title=${t("workflows.workflow")}><${Loading} load=${wf} /><//>`;
  const w = wf.data;
  return html`<${Page} title=${w.name}
    actions=${writable && html`<button type="button" id="edit-workflow" onClick=${() => setEditing(!editing)}>${editing ? t("workflows.close_editor") : t("common.edit")}</button>`}>
    <${BotNav} botId=${w.bot_id} active="workflows" />
    ${editing && html`<${Editor} botId=${w.bot_id} workflow=${w} onSaved=${() => { setEditing(false); wf.reload(); }} onCancel=${() => setEditing(false)} />`}
    ${!editing && html`<div class="card"><h2>${t("workflows.graph")}</h2><${Graph} definition=${w.definition} /></div>`}
    ${writable &&
    html`<form class="card" id="run-form" onSubmit=${start}>
      <h2>${t("common.run")}</h2>
      <${ErrorBox} error=${error} />
      <label for="run-input">${t("workflows.input_json_object_read_as")} <code>input</code>)</label>
      <textarea id="run-input" name="input" class="mono" rows="3" value=${input} onInput=${(e) => setInput(e.target.value)}></textarea>
      <${FieldError} error=${error} name="input" />
      <button class="primary" type="submit" id="run-workflow" disabled=${!w.is_active}>${t("workflows.run_workflow")}</button>
      ${!w.is_active && html`<span class="muted"> ${t("workflows.the_workflow_is_switched_off")}</span>`}
    </form>`}
    <div class="card">
      <h2>${t("workflows.runs")}</h2>
      <${ErrorBox} error=${runs.error} />
      <table>
        <thead><tr><th>${t("common.run")}</th><th>${t("common.status")}</th><th>${t("common.started")}</th><th>${t("common.duration")}</th><th>${t("common.tokens")}</th></tr></thead>
        <tbody>
          ${runs.data &&
          runs.data.items.map(
            (x) => html`<tr data-execution=${x.id} data-status=${x.status}>
              <td><a href=${`/workflow-executions/${x.id}`}>#${x.id}</a></td>
              <td><span class=${"badge " + (STATUS_BADGE[x.status] || "")}>${x.status}</span>${x.error_code && html` <code>${x.error_code}</code>`}</td>
              <td class="muted">${formatDate(x.started_at || x.created_at)}</td>
              <td class="muted">${x.finished_at ? `${x.duration_ms} ms` : ""}</td>
              <td>${x.total_tokens}</td>
            </tr>`,
          )}
          <${Loading} load=${runs} cols="5" />
          ${runs.data && !runs.data.items.length && html`<tr><td colspan="5" class="muted">${t("workflows.no_runs_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

const short = (v) => {
  const tv = v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return tv.length > 120 ? tv.slice(0, 119) + "…" : tv;
};

function Trace({ params }) {
  const id = params.id;
  const trace = useLoad(() => get(`/api/v1/workflow-executions/${id}`), [id]);
  const wf = useLoad(() => (trace.data && trace.data.workflow_id ? get(`/api/v1/workflows/${trace.data.workflow_id}`) : null), [trace.data && trace.data.workflow_id]);
  const [comment, setComment] = useState("");
  const writable = can("agents.write");
  const tv = trace.data;
  const live = tv && LIVE.includes(tv.status);
  useEffect(() => {
    if (!live) return undefined;
    const timer = setTimeout(trace.reload, 1000);
    return () => clearTimeout(timer);
  }, [tv]);
  const act = async (path, body, done) => {
    try {
      await post(`/api/v1/workflow-executions/${id}/${path}`, body);
      toast(done);
      trace.reload();
    } catch (err) {
      toastError(err);
    }
  };
  if (trace.error) return html`<${Page} title=${t("workflows.workflow_run")}><${ErrorBox} error=${trace.error} /><//>`;
  if (!tv) return html`<${Page} title=${t("workflows.workflow_run")}><${Loading} load=${trace} /><//>`;
  const statuses = {};
  for (const s of tv.steps) statuses[s.step] = s.status;
  return html`<${Page} title=${`Run #${tv.id}${wf.data ? ` · ${wf.data.name}` : ""}`}
    actions=${writable && live && html`<button type="button" class="danger" id="cancel-run" onClick=${() => act("cancel", undefined, t("workflows.run_cancelled"))}>${t("workflows.cancel_run")}</button>`}>
    ${wf.data && html`<${BotNav} botId=${wf.data.bot_id} active="workflows" />`}
    <div class="card" id="run-summary" data-status=${tv.status}>
      <p>
        <span class=${"badge " + (STATUS_BADGE[tv.status] || "")} id="run-status">${tv.status}</span>
        ${tv.error_code && html` <code>${tv.error_code}</code> ${tv.error}`}
      </p>
      <p class="muted">${t("common.started")} ${formatDate(tv.started_at || tv.created_at)}${tv.finished_at ? ` · finished ${formatDate(tv.finished_at)} · ${tv.duration_ms} ms` : ""}
        ${t("workflows.tokens", { total_tokens: tv.total_tokens })}${tv.deadline_at && live ? t("workflows.time_limit", { deadline: formatDate(tv.deadline_at) }) : ""}</p>
      ${wf.data && html`<a href=${`/workflows/${wf.data.id}`}>${t("workflows.back_to_the_workflow")}</a>`}
    </div>
    ${tv.status === "waiting_approval" && writable &&
    html`<div class="card" id="approval-panel" role="region" aria-labelledby="approval-title">
      <h2 id="approval-title">${t("workflows.waiting_for_your_approval", { waiting_step: tv.waiting_step })}</h2>
      <p>${(tv.steps.find((s) => s.step === tv.waiting_step && s.status === "running") || { input: {} }).input.message}</p>
      <label for="approval-comment">${t("workflows.comment_optional")}</label>
      <input id="approval-comment" value=${comment} maxlength="1000" onInput=${(e) => setComment(e.target.value)} />
      <div class="row">
        <button class="primary" type="button" id="approve-run" onClick=${() => act("approve", { approved: true, comment: comment || null }, t("workflows.approved"))}>${t("common.approve")}</button>
        <button class="danger" type="button" id="reject-run" onClick=${() => act("approve", { approved: false, comment: comment || null }, t("workflows.refused"))}>${t("workflows.refuse")}</button>
      </div>
    </div>`}
    ${wf.data && html`<div class="card"><h2>${t("workflows.graph")}</h2><${Graph} definition=${wf.data.definition} statuses=${statuses} /></div>`}
    <div class="card">
      <h2>${t("common.steps")}</h2>
      <table id="trace-steps">
        <thead><tr><th>${t("common.step")}</th><th>${t("common.type")}</th><th>${t("common.status")}</th><th>${t("common.duration")}</th><th>${t("common.tokens")}</th><th>${t("workflows.input_2")}</th><th>${t("workflows.output_or_error")}</th></tr></thead>
        <tbody>
          ${tv.steps.map(
            (s) => html`<tr data-step=${s.step} data-status=${s.status}>
              <td><strong>${s.step}</strong>${s.iteration > 1 && html` <span class="muted">#${s.iteration}</span>`}<div class="muted small">${formatDate(s.started_at)}</div></td>
              <td>${s.type}${s.agent_id && html` <span class="muted small">${t("workflows.agent", { agent_id: s.agent_id })}</span>`}</td>
              <td><span class=${"badge " + (STATUS_BADGE[s.status] || "")}>${s.status}</span></td>
              <td class="muted">${s.finished_at ? `${s.duration_ms} ms` : ""}</td>
              <td>${s.tokens_used || ""}</td>
              <td class="small"><code title=${JSON.stringify(s.input)}>${short(s.input)}</code></td>
              <td class="small">${s.error ? html`<code>${s.error.code}</code> ${s.error.message}` : html`<code title=${JSON.stringify(s.output)}>${short(s.output)}</code>`}</td>
            </tr>`,
          )}
          ${!tv.steps.length && html`<tr><td colspan="7" class="muted">${t("workflows.no_step_has_run_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
    <div class="card">
      <h2>${t("workflows.messages")}</h2>
      <ol id="trace-messages">
        ${tv.messages.map(
          (m) => html`<li data-message-type=${m.message_type}>
            <span class="badge">${m.message_type}</span> ${m.from_step || "person"} → ${m.to_step || "—"}
            <code class="small" title=${JSON.stringify(m.content)}>${short(m.content)}</code>
            <span class="muted small">${formatDate(m.created_at)}</span>
          </li>`,
        )}
        ${!tv.messages.length && html`<li class="muted">${t("workflows.no_messages_yet")}</li>`}
      </ol>
    </div>
  <//>`;
}

route("/bots/:botId/workflows", Workflows);
route("/workflows/:id", WorkflowDetail);
route("/workflow-executions/:id", Trace);
