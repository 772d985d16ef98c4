// Workflows of a bot: a step-list editor (each step's id, type and fields;
// add, remove, reorder) with the graph drawn beside it from the same
// definition, runs started with a JSON input, and an execution trace viewer
// (steps with status, timing, tokens, input and output; the messages
// between steps; cancel and approve while a run is live). The server checks
// every definition: the step at fault is marked and its field named.
import { html, Page, useLoad, useState, useEffect, ErrorBox, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { can } from "../session.js";
import { BotNav, BotMissing, useBot } from "./botnav.js";

const TYPES = {
  agent: { label: "Agent", fields: { agent_id: null, input: "{{ input.question }}", next: "" } },
  tool: { label: "Tool", fields: { tool: "", arguments: {}, next: "" } },
  condition: { label: "Condition", fields: { branches: [{ when: "input.amount > 100", next: "" }], default: "" } },
  parallel: { label: "Parallel", fields: { branches: ["", ""] } },
  join: { label: "Join", fields: { next: "" } },
  router: { label: "Router (agent picks)", fields: { agent_id: null, input: "{{ input.question }}", routes: { name: "" }, default: "" } },
  approval: { label: "Approval", fields: { message: "Approve?", next: "", reject: "" } },
  end: { label: "End", fields: { output: null } },
};

const STATUS_BADGE = { completed: "ok", failed: "bad", cancelled: "bad", skipped: "", running: "warn", pending: "", waiting_approval: "warn" };
const LIVE = ["pending", "running", "waiting_approval"];
const pretty = (v) => JSON.stringify(v, null, 2);

/** The step's fields other than id and type, without empty edges. */
function fieldsOf(step) {
  const { id, type, ...rest } = step;
  return rest;
}

/** The edges of a step: [label, target]. */
function edges(step) {
  const out = [];
  const one = (label, t) => t && out.push([label, t]);
  one("next", step.next);
  one("reject", step.reject);
  one("default", step.default);
  if (step.type === "condition") (step.branches || []).forEach((b, i) => one(b && b.when ? b.when : `branch ${i + 1}`, b && b.next));
  if (step.type === "parallel") (step.branches || []).forEach((t) => one("", t));
  if (step.type === "router") Object.entries(step.routes || {}).forEach(([name, t]) => one(name, t));
  return out;
}

/** The graph drawn as SVG: steps in layers by distance from the start. */
export function Graph({ definition, highlight, statuses = {} }) {
  const steps = (definition && Array.isArray(definition.steps) ? definition.steps : []).filter((s) => s && s.id);
  if (!steps.length) return html`<p class="muted">No steps yet.</p>`;
  const byId = Object.fromEntries(steps.map((s) => [s.id, s]));
  const start = definition.start && byId[definition.start] ? definition.start : steps[0].id;
  const depth = { [start]: 0 };
  const queue = [start];
  while (queue.length) {
    const id = queue.shift();
    for (const [, t] of edges(byId[id])) {
      if (byId[t] && depth[t] === undefined) {
        depth[t] = depth[id] + 1;
        queue.push(t);
      }
    }
  }
  let maxDepth = Math.max(...Object.values(depth));
  for (const s of steps) if (depth[s.id] === undefined) depth[s.id] = ++maxDepth;
  const layers = [];
  for (const s of steps) (layers[depth[s.id]] ||= []).push(s.id);
  const W = 150, H = 44, GX = 40, GY = 50;
  const width = Math.max(...layers.map((l) => (l ? l.length : 0))) * (W + GX) + GX;
  const pos = {};
  layers.forEach((ids, d) => (ids || []).forEach((id, i) => (pos[id] = { x: GX + i * (W + GX) + ((width - GX) - ids.length * (W + GX)) / 2, y: 20 + d * (H + GY) })));
  const height = (layers.length) * (H + GY) + 20;
  return html`<svg class="workflow-graph" id="workflow-graph" role="img" aria-label="Workflow graph" viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height}>
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="currentColor" /></marker></defs>
    ${steps.flatMap((s) =>
      edges(s).filter(([, t]) => pos[t]).map(([label, t]) => {
        const a = pos[s.id], b = pos[t];
        const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
        const back = y2 <= y1;
        const d = back ? `M ${x1 + W / 2 - 10} ${a.y + H / 2} C ${x1 + W} ${a.y}, ${x2 + W} ${y2 + H}, ${x2 + W / 2} ${y2 + H / 2}` : `M ${x1} ${y1} L ${x2} ${y2}`;
        return html`<g class="edge" data-from=${s.id} data-to=${t}><path d=${d} fill="none" stroke="currentColor" marker-end="url(#arrow)" />
          ${label && html`<text x=${(x1 + x2) / 2 + 4} y=${(y1 + y2) / 2} font-size="10">${label.length > 22 ? label.slice(0, 21) + "…" : label}</text>`}</g>`;
      }),
    )}
    ${steps.map((s) => {
      const p = pos[s.id];
      const st = statuses[s.id];
      return html`<g class=${"node" + (highlight === s.id ? " fault" : "") + (st ? ` ${st}` : "")} data-step=${s.id} data-status=${st || ""}>
        <rect x=${p.x} y=${p.y} width=${W} height=${H} rx="6" fill=${highlight === s.id ? "#fde2e2" : st === "completed" ? "#e3f6e8" : st === "failed" ? "#fde2e2" : st ? "#fff6dc" : "#f4f6fa"} stroke="currentColor" />
        <text x=${p.x + 8} y=${p.y + 18} font-size="12" font-weight="bold">${s.id}${s.id === start ? " ▶" : ""}</text>
        <text x=${p.x + 8} y=${p.y + 34} font-size="11">${(TYPES[s.type] || { label: s.type }).label}${st ? ` · ${st}` : ""}</text>
      </g>`;
    })}
  </svg>`;
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

function StepRow({ step, index, count, fault, error, onChange, onRemove, onMove, agents, tools }) {
  const [text, setText] = useState(pretty(fieldsOf(step)));
  const [bad, setBad] = useState(null);
  useEffect(() => setText(pretty(fieldsOf(step))), [step.type]);
  const update = (t) => {
    setText(t);
    try {
      const fields = JSON.parse(t);
      setBad(null);
      onChange({ id: step.id, type: step.type, ...fields });
    } catch (e) {
      setBad(e.message);
    }
  };
  const setType = (type) => onChange({ id: step.id, type, ...TYPES[type].fields });
  const base = `step-${index}`;
  const help = step.type === "agent" || step.type === "router"
    ? `Agents: ${agents.map((a) => `${a.id} = ${a.name}`).join(", ") || "none yet (create one on the AI tab)"}`
    : step.type === "tool"
      ? `Tools: ${tools.map((t) => t.name).join(", ") || "none yet (create one under Tools)"}`
      : "Templates read {{ input.x }} and {{ steps.<id>.<field> }}.";
  return html`<li class=${"card workflow-step" + (fault ? " fault" : "")} data-step-index=${index} data-step=${step.id}>
    <div class="grid">
      <div>
        <label for=${`${base}-id`}>Step id</label>
        <input id=${`${base}-id`} name=${`definition.steps[${index}].id`} value=${step.id} required pattern="[a-z][a-z0-9_]{0,63}"
          onInput=${(e) => onChange({ ...step, id: e.target.value })} />
      </div>
      <div>
        <label for=${`${base}-type`}>Type</label>
        <select id=${`${base}-type`} name=${`definition.steps[${index}].type`} value=${step.type} onChange=${(e) => setType(e.target.value)}>
          ${Object.entries(TYPES).map(([k, v]) => html`<option value=${k}>${v.label}</option>`)}
        </select>
      </div>
    </div>
    <label for=${`${base}-fields`}>Settings (JSON)</label>
    <textarea id=${`${base}-fields`} class="mono" rows="4" spellcheck="false" aria-describedby=${`${base}-help`} value=${text} onInput=${(e) => update(e.target.value)}></textarea>
    <div class="muted small" id=${`${base}-help`}>${help}</div>
    ${bad && html`<div class="field-error" role="alert">Not valid JSON: ${bad}</div>`}
    ${fault && error && html`<div class="field-error" role="alert" data-field-error=${error.field}>${error.message} <span class="muted">(field <code>${error.field}</code>)</span></div>`}
    <div class="row">
      <button type="button" aria-label=${`Move ${step.id} up`} disabled=${index === 0} onClick=${() => onMove(-1)}>↑</button>
      <button type="button" aria-label=${`Move ${step.id} down`} disabled=${index === count - 1} onClick=${() => onMove(1)}>↓</button>
      <button type="button" class="danger remove-step" onClick=${onRemove}>Remove step</button>
    </div>
  </li>`;
}

function Editor({ botId, workflow, onSaved, onCancel }) {
  const [name, setName] = useState(workflow ? workflow.name : "");
  const [description, setDescription] = useState(workflow ? workflow.description || "" : "");
  const [definition, setDefinition] = useState(
    workflow ? workflow.definition : { steps: [{ id: "start", type: "tool", tool: "", arguments: {}, next: "done" }, { id: "done", type: "end" }] },
  );
  const [error, setError] = useState(null);
  const refs = useLoad(() => Promise.all([get(`/api/v1/bots/${botId}/agents?limit=200`).catch(() => ({ items: [] })), get(`/api/v1/bots/${botId}`)]), [botId]);
  const org = refs.data ? refs.data[1].organization_id : null;
  const tools = useLoad(() => (org ? get(`/api/v1/orgs/${org}/tools?limit=200`) : Promise.resolve({ items: [] })), [org]);
  const agents = refs.data ? refs.data[0].items : [];
  const steps = definition.steps || [];
  const setSteps = (s) => setDefinition({ ...definition, steps: s });
  const fault = faultIndex(error);
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
  const add = () => {
    let n = steps.length + 1;
    while (steps.some((s) => s.id === `step${n}`)) n++;
    setSteps([...steps, { id: `step${n}`, type: "end" }]);
  };
  const move = (i, d) => {
    const s = [...steps];
    [s[i], s[i + d]] = [s[i + d], s[i]];
    setSteps(s);
  };
  return html`<form class="card" id="workflow-form" onSubmit=${submit}>
    <h2>${workflow ? `Edit ${workflow.name}` : "New workflow"}</h2>
    ${fault < 0 && html`<${ErrorBox} error=${error} />`}
    <div class="grid">
      <div>
        <label for="workflow-name">Name</label>
        <input id="workflow-name" name="name" required maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} />
        <${FieldError} error=${error} name="name" />
      </div>
      <div>
        <label for="workflow-description">Description (optional)</label>
        <input id="workflow-description" name="description" value=${description} onInput=${(e) => setDescription(e.target.value)} />
      </div>
      <div>
        <label for="workflow-start">Start step</label>
        <select id="workflow-start" name="definition.start" value=${definition.start || (steps[0] && steps[0].id) || ""}
          onChange=${(e) => setDefinition({ ...definition, start: e.target.value })}>
          ${steps.map((s) => html`<option value=${s.id}>${s.id}</option>`)}
        </select>
      </div>
      <div>
        <label for="workflow-timeout">Time limit of a run (ms)</label>
        <input id="workflow-timeout" name="definition.timeout_ms" type="number" min="100" value=${definition.timeout_ms ?? 600000}
          onInput=${(e) => setDefinition({ ...definition, timeout_ms: Number(e.target.value) })} />
        <${FieldError} error=${error} name="definition.timeout_ms" />
      </div>
    </div>
    <div class="workflow-editor">
      <div>
        <h3>Steps</h3>
        <ol class="workflow-steps">
          ${steps.map(
            (s, i) => html`<${StepRow} key=${i + ":" + s.type} step=${s} index=${i} count=${steps.length} fault=${fault === i} error=${error}
              agents=${agents} tools=${tools.data ? tools.data.items : []}
              onChange=${(next) => setSteps(steps.map((x, j) => (j === i ? next : x)))}
              onRemove=${() => setSteps(steps.filter((_, j) => j !== i))} onMove=${(d) => move(i, d)} />`,
          )}
        </ol>
        <button type="button" id="add-step" onClick=${add}>Add step</button>
      </div>
      <div>
        <h3>Graph</h3>
        <${Graph} definition=${definition} highlight=${fault >= 0 && steps[fault] ? steps[fault].id : null} />
      </div>
    </div>
    <div class="row">
      <button class="primary" type="submit" id="save-workflow">Save workflow</button>
      <button type="button" onClick=${onCancel}>Cancel</button>
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
    if (!confirm(`Delete ${w.name} and its runs?`)) return;
    try {
      await del(`/api/v1/workflows/${w.id}`);
      toast(`Deleted ${w.name}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title=${`${bot.data ? bot.data.name : "Bot"} · Workflows`}
    actions=${writable && html`<button class="primary" type="button" id="new-workflow" onClick=${() => setEditing("new")}>New workflow</button>`}>
    <${BotNav} botId=${botId} active="workflows" />
    <p class="muted">Workflows chain agents and tools: sequential steps, parallel branches joined again, conditions, a router agent
      that picks the next branch, and approvals by a person. Runs are durable: they continue after a restart.</p>
    ${editing &&
    html`<${Editor} key=${editing === "new" ? "new" : editing.id} botId=${botId} workflow=${editing === "new" ? null : editing}
      onSaved=${(w) => { setEditing(null); list.reload(); navigate(`/workflows/${w.id}`); }} onCancel=${() => setEditing(null)} />`}
    <div class="card">
      <h2>Workflows</h2>
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>Name</th><th>Steps</th><th>Status</th><th>Updated</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (w) => html`<tr data-workflow=${w.id} data-name=${w.name}>
              <td><a href=${`/workflows/${w.id}`}><strong>${w.name}</strong></a>${w.description && html`<div class="muted small">${w.description}</div>`}</td>
              <td>${(w.definition.steps || []).length}</td>
              <td><span class=${"badge " + (w.is_active ? "ok" : "")}>${w.is_active ? "active" : "off"}</span></td>
              <td class="muted">${formatDate(w.updated_at)}</td>
              <td class="row">
                ${writable && html`<button type="button" class="edit-workflow" onClick=${() => setEditing(w)}>Edit</button>`}
                ${writable && html`<button type="button" class="danger" onClick=${() => remove(w)}>Delete</button>`}
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">No workflows yet${writable ? ": create one with New workflow." : "."}</td></tr>`}
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
      setError({ message: `input: not valid JSON (${err.message})`, field: "input" });
      return;
    }
    try {
      const exec = await post(`/api/v1/workflows/${id}/run`, { input: parsed });
      toast("Run started");
      navigate(`/workflow-executions/${exec.id}`);
    } catch (err) {
      setError(err);
    }
  };
  if (wf.error) return html`<${Page} title="Workflow"><${ErrorBox} error=${wf.error} /><//>`;
  if (!wf.data) return html`<${Page} title="Workflow"><${Loading} load=${wf} /><//>`;
  const w = wf.data;
  return html`<${Page} title=${w.name}
    actions=${writable && html`<button type="button" id="edit-workflow" onClick=${() => setEditing(!editing)}>${editing ? "Close editor" : "Edit"}</button>`}>
    <${BotNav} botId=${w.bot_id} active="workflows" />
    ${editing && html`<${Editor} botId=${w.bot_id} workflow=${w} onSaved=${() => { setEditing(false); wf.reload(); }} onCancel=${() => setEditing(false)} />`}
    ${!editing && html`<div class="card"><h2>Graph</h2><${Graph} definition=${w.definition} /></div>`}
    ${writable &&
    html`<form class="card" id="run-form" onSubmit=${start}>
      <h2>Run</h2>
      <${ErrorBox} error=${error} />
      <label for="run-input">Input (JSON object, read as <code>input</code>)</label>
      <textarea id="run-input" name="input" class="mono" rows="3" value=${input} onInput=${(e) => setInput(e.target.value)}></textarea>
      <${FieldError} error=${error} name="input" />
      <button class="primary" type="submit" id="run-workflow" disabled=${!w.is_active}>Run workflow</button>
      ${!w.is_active && html`<span class="muted"> The workflow is switched off.</span>`}
    </form>`}
    <div class="card">
      <h2>Runs</h2>
      <${ErrorBox} error=${runs.error} />
      <table>
        <thead><tr><th>Run</th><th>Status</th><th>Started</th><th>Duration</th><th>Tokens</th></tr></thead>
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
          ${runs.data && !runs.data.items.length && html`<tr><td colspan="5" class="muted">No runs yet.</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

const short = (v) => {
  const t = v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return t.length > 120 ? t.slice(0, 119) + "…" : t;
};

function Trace({ params }) {
  const id = params.id;
  const trace = useLoad(() => get(`/api/v1/workflow-executions/${id}`), [id]);
  const wf = useLoad(() => (trace.data && trace.data.workflow_id ? get(`/api/v1/workflows/${trace.data.workflow_id}`) : null), [trace.data && trace.data.workflow_id]);
  const [comment, setComment] = useState("");
  const writable = can("agents.write");
  const t = trace.data;
  const live = t && LIVE.includes(t.status);
  useEffect(() => {
    if (!live) return undefined;
    const timer = setTimeout(trace.reload, 1000);
    return () => clearTimeout(timer);
  }, [t]);
  const act = async (path, body, done) => {
    try {
      await post(`/api/v1/workflow-executions/${id}/${path}`, body);
      toast(done);
      trace.reload();
    } catch (err) {
      toastError(err);
    }
  };
  if (trace.error) return html`<${Page} title="Workflow run"><${ErrorBox} error=${trace.error} /><//>`;
  if (!t) return html`<${Page} title="Workflow run"><${Loading} load=${trace} /><//>`;
  const statuses = {};
  for (const s of t.steps) statuses[s.step] = s.status;
  return html`<${Page} title=${`Run #${t.id}${wf.data ? ` · ${wf.data.name}` : ""}`}
    actions=${writable && live && html`<button type="button" class="danger" id="cancel-run" onClick=${() => act("cancel", undefined, "Run cancelled")}>Cancel run</button>`}>
    ${wf.data && html`<${BotNav} botId=${wf.data.bot_id} active="workflows" />`}
    <div class="card" id="run-summary" data-status=${t.status}>
      <p>
        <span class=${"badge " + (STATUS_BADGE[t.status] || "")} id="run-status">${t.status}</span>
        ${t.error_code && html` <code>${t.error_code}</code> ${t.error}`}
      </p>
      <p class="muted">Started ${formatDate(t.started_at || t.created_at)}${t.finished_at ? ` · finished ${formatDate(t.finished_at)} · ${t.duration_ms} ms` : ""}
        · ${t.total_tokens} tokens${t.deadline_at && live ? ` · time limit ${formatDate(t.deadline_at)}` : ""}</p>
      ${wf.data && html`<a href=${`/workflows/${wf.data.id}`}>Back to the workflow</a>`}
    </div>
    ${t.status === "waiting_approval" && writable &&
    html`<div class="card" id="approval-panel" role="region" aria-labelledby="approval-title">
      <h2 id="approval-title">Waiting for your approval: ${t.waiting_step}</h2>
      <p>${(t.steps.find((s) => s.step === t.waiting_step && s.status === "running") || { input: {} }).input.message}</p>
      <label for="approval-comment">Comment (optional)</label>
      <input id="approval-comment" value=${comment} maxlength="1000" onInput=${(e) => setComment(e.target.value)} />
      <div class="row">
        <button class="primary" type="button" id="approve-run" onClick=${() => act("approve", { approved: true, comment: comment || null }, "Approved")}>Approve</button>
        <button class="danger" type="button" id="reject-run" onClick=${() => act("approve", { approved: false, comment: comment || null }, "Refused")}>Refuse</button>
      </div>
    </div>`}
    ${wf.data && html`<div class="card"><h2>Graph</h2><${Graph} definition=${wf.data.definition} statuses=${statuses} /></div>`}
    <div class="card">
      <h2>Steps</h2>
      <table id="trace-steps">
        <thead><tr><th>Step</th><th>Type</th><th>Status</th><th>Duration</th><th>Tokens</th><th>Input</th><th>Output or error</th></tr></thead>
        <tbody>
          ${t.steps.map(
            (s) => html`<tr data-step=${s.step} data-status=${s.status}>
              <td><strong>${s.step}</strong>${s.iteration > 1 && html` <span class="muted">#${s.iteration}</span>`}<div class="muted small">${formatDate(s.started_at)}</div></td>
              <td>${s.type}${s.agent_id && html` <span class="muted small">agent ${s.agent_id}</span>`}</td>
              <td><span class=${"badge " + (STATUS_BADGE[s.status] || "")}>${s.status}</span></td>
              <td class="muted">${s.finished_at ? `${s.duration_ms} ms` : ""}</td>
              <td>${s.tokens_used || ""}</td>
              <td class="small"><code title=${JSON.stringify(s.input)}>${short(s.input)}</code></td>
              <td class="small">${s.error ? html`<code>${s.error.code}</code> ${s.error.message}` : html`<code title=${JSON.stringify(s.output)}>${short(s.output)}</code>`}</td>
            </tr>`,
          )}
          ${!t.steps.length && html`<tr><td colspan="7" class="muted">No step has run yet.</td></tr>`}
        </tbody>
      </table>
    </div>
    <div class="card">
      <h2>Messages</h2>
      <ol id="trace-messages">
        ${t.messages.map(
          (m) => html`<li data-message-type=${m.message_type}>
            <span class="badge">${m.message_type}</span> ${m.from_step || "person"} → ${m.to_step || "—"}
            <code class="small" title=${JSON.stringify(m.content)}>${short(m.content)}</code>
            <span class="muted small">${formatDate(m.created_at)}</span>
          </li>`,
        )}
        ${!t.messages.length && html`<li class="muted">No messages yet.</li>`}
      </ol>
    </div>
  <//>`;
}

route("/bots/:botId/workflows", Workflows);
route("/workflows/:id", WorkflowDetail);
route("/workflow-executions/:id", Trace);
