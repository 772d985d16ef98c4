// A bot's flows and the flow builder: a canvas with pan (drag the
// background), zoom (wheel or buttons), nodes dragged into place, edges
// drawn from an output port to a node, node properties in a side panel,
// validation issues on the nodes, undo/redo, auto-save of the draft, publish
// with a message, and the version history with diff and rollback.
import { html, Page, useLoad, useState, useEffect, useRef, useCallback, ErrorBox, toast, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, put, del } from "../api.js";
import { can } from "../session.js";
import { BotNav, useBot, BotMissing, Checklist } from "./botnav.js";

const NODE_W = 190;
const PORT_TOP = 46;
const PORT_GAP = 20;

/** Default data of a new node, per type. */
const TEMPLATES = {
  message: { text: "Hello!" },
  question: { prompt: { text: "What is your name?" }, variable: "name", validation: { kind: "any" }, retries: 2 },
  condition: { branches: [{ id: "yes", condition: { subject: "variable", name: "x", operator: "is_not_empty" } }] },
  set_variable: { assignments: [{ variable: "x", expression: "1" }] },
  intent_router: { routes: [{ id: "greet", intent: "greet" }] },
  knowledge: { send_answer: true },
  http: { method: "GET", url: "https://api.example.com/items/{{x}}", mappings: [] },
  jump: { flow: "other", mode: "goto" },
  handoff: { message: { text: "Connecting you to a person." } },
  end: { close_conversation: false },
};

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
    default:
      return [];
  }
}

function summary(node) {
  const d = node.data || {};
  switch (node.type) {
    case "message":
      return d.text || "";
    case "question":
      return `${(d.prompt && d.prompt.text) || ""} → ${d.variable || "?"}`;
    case "http":
      return `${d.method || "GET"} ${d.url || ""}`;
    case "jump":
      return `→ ${d.flow || "?"}`;
    case "set_variable":
      return (d.assignments || []).map((a) => `${a.variable} = ${a.expression}`).join("; ");
    default:
      return "";
  }
}

function nodeHeight(node) {
  return PORT_TOP + Math.max(1, portsOf(node).length) * PORT_GAP;
}

/** The document without the canvas viewport: panning and zooming are not changes to save. */
function contentJson(doc) {
  return JSON.stringify({ ...doc, viewport: undefined });
}

function emptyDoc() {
  return { schema_version: 1, nodes: [{ id: "start", type: "start", position: { x: 60, y: 80 } }], edges: [] };
}

/** Issues of the server's validation, by node id. */
function issuesByNode(issues) {
  const map = {};
  for (const i of issues || []) if (i.node_id) (map[i.node_id] = map[i.node_id] || []).push(i);
  return map;
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
        toast(`Renamed to ${r.name}${others.length ? `; jumps updated in ${others.join(", ")}` : ""}`);
      } else toast(`Copied to ${name.trim()}`);
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const label = mode === "rename" ? "New name" : "Name of the copy";
  return html`<form class="row flow-action" data-action=${mode} onSubmit=${submit}>
    <label>${label} <input class="flow-action-name" aria-label=${`${label} for ${flow}`} value=${name} onInput=${(e) => setName(e.target.value)} required /></label>
    <button class="primary flow-action-submit" type="submit" disabled=${busy}>${mode === "rename" ? "Rename" : "Duplicate"}</button>
    <button type="button" onClick=${onCancel}>Cancel</button>
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
    if (!confirm(`Delete the flow "${flow}" and all its versions? This cannot be undone.`)) return;
    setError(null);
    try {
      await del(`/api/v1/bots/${botId}/flows/${encodeURIComponent(flow)}`);
      toast(`Deleted ${flow}`);
      setReload((k) => k + 1);
    } catch (err) {
      setError(err);
    }
  };
  const items = (list.data && (list.data.items || list.data)) || [];
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${`Flows · ${bot.data ? bot.data.name : ""}`}>
    <${BotNav} botId=${botId} active="flows" />
    <${Checklist} botId=${botId} />
    ${can("bots.write") &&
    html`<form class="card row" onSubmit=${create}>
      <input id="new-flow-name" aria-label="New flow name" placeholder="main" value=${name} onInput=${(e) => setName(e.target.value)} required />
      <button class="primary" id="create-flow" type="submit">New flow</button>
    </form>`}
    <${ErrorBox} error=${error || list.error} />
    <div class="card">
      <table>
        <thead><tr><th>Flow</th><th>Draft</th><th>Published</th><th>Updated</th><th>Actions</th></tr></thead>
        <tbody>
          ${items.map(
            (f) => html`<tr data-flow=${f.name}>
              <td><a href=${`/bots/${botId}/flows/${encodeURIComponent(f.name)}`}>${f.name}</a>${f.is_entry && html` <span class="badge ok">entry</span>`}</td>
              <td>v${f.draft_version}${f.has_unpublished_changes && html` <span class="badge warn">unpublished changes</span>`}</td>
              <td>${f.published_version ? `v${f.published_version}` : html`<span class="muted">never</span>`}</td>
              <td class="muted">${formatDate(f.updated_at)}</td>
              <td><div class="row flow-actions">
                ${can("flows.publish") && html`<button type="button" class="rename-flow" aria-label=${`Rename ${f.name}`} onClick=${() => setAction({ flow: f.name, mode: "rename" })}>Rename</button>`}
                ${can("bots.write") && html`<button type="button" class="duplicate-flow" aria-label=${`Duplicate ${f.name}`} onClick=${() => setAction({ flow: f.name, mode: "duplicate" })}>Duplicate</button>`}
                ${can("flows.publish") && html`<button type="button" class="delete-flow danger" aria-label=${`Delete ${f.name}`} disabled=${f.is_entry} title=${f.is_entry ? "The entry flow cannot be deleted" : ""} onClick=${() => remove(f.name)}>Delete</button>`}
              </div></td>
            </tr>
            ${action && action.flow === f.name &&
            html`<tr><td colspan="5"><${FlowAction} botId=${botId} flow=${f.name} mode=${action.mode}
              onCancel=${() => setAction(null)} onDone=${() => (setAction(null), setReload((k) => k + 1))} /></td></tr>`}`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !items.length && html`<tr><td colspan="5" class="muted">No flows yet: create "main", the entry flow.</td></tr>`}
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

function Canvas({ doc, issues, selected, onSelect, setDoc, commit }) {
  const ref = useRef(null);
  const vp = doc.viewport || { x: 0, y: 0, zoom: 1 };
  const [drag, setDrag] = useState(null);
  const [pending, setPending] = useState(null);
  const byId = Object.fromEntries(doc.nodes.map((n) => [n.id, n]));
  const errs = issuesByNode(issues);

  const toWorld = (e) => {
    const r = ref.current.getBoundingClientRect();
    return { x: (e.clientX - r.left - vp.x) / vp.zoom, y: (e.clientY - r.top - vp.y) / vp.zoom };
  };
  const setViewport = (v) => setDoc((d) => ({ ...d, viewport: v }), { record: false });

  const onPointerDownBg = (e) => {
    if (e.target !== ref.current && !e.target.classList.contains("flow-world")) return;
    onSelect(null);
    setDrag({ kind: "pan", sx: e.clientX, sy: e.clientY, vx: vp.x, vy: vp.y });
  };
  const onNodeDown = (e, node) => {
    e.stopPropagation();
    onSelect({ node: node.id });
    const p = toWorld(e);
    setDrag({ kind: "node", id: node.id, dx: p.x - (node.position?.x || 0), dy: p.y - (node.position?.y || 0), before: doc, moved: false });
  };
  const onPortDown = (e, node, port) => {
    e.stopPropagation();
    setPending({ source: node.id, port, ...toWorld(e) });
  };
  const onMove = (e) => {
    if (pending) setPending((p) => ({ ...p, ...toWorld(e) }));
    if (!drag) return;
    if (drag.kind === "pan") {
      setViewport({ ...vp, x: drag.vx + e.clientX - drag.sx, y: drag.vy + e.clientY - drag.sy });
    } else if (drag.kind === "node") {
      const p = toWorld(e);
      const x = Math.round(p.x - drag.dx);
      const y = Math.round(p.y - drag.dy);
      setDoc((d) => ({ ...d, nodes: d.nodes.map((n) => (n.id === drag.id ? { ...n, position: { x, y } } : n)) }), { record: false });
      if (!drag.moved) setDrag({ ...drag, moved: true });
    }
  };
  const onUp = (e) => {
    if (drag && drag.kind === "node" && drag.moved) commit(drag.before);
    setDrag(null);
    if (pending) {
      const target = e.target.closest && e.target.closest("[data-node-id]");
      const targetId = target && target.getAttribute("data-node-id");
      if (targetId && targetId !== pending.source && byId[targetId] && byId[targetId].type !== "start") {
        const edge = { id: `${pending.source}-${pending.port}-${targetId}`, source: pending.source, port: pending.port, target: targetId };
        setDoc((d) => ({ ...d, edges: [...d.edges.filter((x) => !(x.source === edge.source && (x.port || "next") === edge.port)), edge] }));
      }
      setPending(null);
    }
  };
  const onWheel = (e) => {
    e.preventDefault();
    const r = ref.current.getBoundingClientRect();
    const mx = e.clientX - r.left;
    const my = e.clientY - r.top;
    const zoom = Math.min(2.5, Math.max(0.25, vp.zoom * (e.deltaY < 0 ? 1.1 : 1 / 1.1)));
    setViewport({ zoom, x: mx - ((mx - vp.x) * zoom) / vp.zoom, y: my - ((my - vp.y) * zoom) / vp.zoom });
  };
  useEffect(() => {
    const el = ref.current;
    el.addEventListener("wheel", onWheel, { passive: false });
    return () => el.removeEventListener("wheel", onWheel);
  });

  const portPos = (node, port) => {
    const i = Math.max(0, portsOf(node).indexOf(port));
    return { x: (node.position?.x || 0) + NODE_W, y: (node.position?.y || 0) + PORT_TOP + i * PORT_GAP + 8 };
  };
  const inPos = (node) => ({ x: node.position?.x || 0, y: (node.position?.y || 0) + 20 });
  const curve = (a, b) => {
    const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
    return `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
  };

  return html`<div class="flow-canvas" ref=${ref} id="flow-canvas" onPointerDown=${onPointerDownBg} onPointerMove=${onMove} onPointerUp=${onUp} onPointerLeave=${onUp}>
    <div class="flow-world" style=${`transform:translate(${vp.x}px,${vp.y}px) scale(${vp.zoom})`}>
      <svg class="flow-edges" width="1" height="1">
        ${doc.edges.map((e) => {
          const s = byId[e.source];
          const t = byId[e.target];
          if (!s || !t) return null;
          const sel = selected && selected.edge === e;
          return html`<g key=${`${e.source}-${e.port}-${e.target}`}>
            <path class=${"flow-edge" + (sel ? " selected" : "")} d=${curve(portPos(s, e.port || "next"), inPos(t))} data-edge=${`${e.source}:${e.port || "next"}>${e.target}`}
              onPointerDown=${(ev) => (ev.stopPropagation(), onSelect({ edge: e }))} />
          </g>`;
        })}
        ${pending && byId[pending.source] && html`<path class="flow-edge pending" d=${curve(portPos(byId[pending.source], pending.port), pending)} />`}
      </svg>
      ${doc.nodes.map((n) => {
        const bad = errs[n.id] || [];
        const hasError = bad.some((i) => i.severity === "error");
        const cls = "flow-node" + (selected && selected.node === n.id ? " selected" : "") + (hasError ? " has-error" : bad.length ? " has-warning" : "");
        return html`<div key=${n.id} class=${cls} data-node-id=${n.id} data-type=${n.type}
            style=${`left:${n.position?.x || 0}px;top:${n.position?.y || 0}px;width:${NODE_W}px;min-height:${nodeHeight(n)}px`}
            onPointerDown=${(e) => onNodeDown(e, n)} title=${bad.map((i) => i.message).join("\n")}>
          <div class="flow-node-head"><span class="flow-type">${n.type}</span> <strong>${n.label || n.id}</strong></div>
          <div class="flow-node-body muted">${summary(n)}</div>
          ${bad.length ? html`<div class="flow-node-issue">${bad[0].message}${bad.length > 1 ? ` (+${bad.length - 1})` : ""}</div>` : null}
          ${portsOf(n).map(
            (p, i) => html`<div class="flow-port" data-port=${p} style=${`top:${PORT_TOP + i * PORT_GAP}px`} onPointerDown=${(e) => onPortDown(e, n, p)}>
              <span>${p}</span><i></i>
            </div>`,
          )}
        </div>`;
      })}
    </div>
    <div class="flow-zoom">
      <button type="button" id="zoom-in" onClick=${() => setViewport({ ...vp, zoom: Math.min(2.5, vp.zoom * 1.2) })}>+</button>
      <span id="zoom-level">${Math.round(vp.zoom * 100)}%</span>
      <button type="button" id="zoom-out" onClick=${() => setViewport({ ...vp, zoom: Math.max(0.25, vp.zoom / 1.2) })}>−</button>
      <button type="button" onClick=${() => setViewport({ x: 0, y: 0, zoom: 1 })}>Reset</button>
    </div>
  </div>`;
}

function NodePanel({ doc, selected, setDoc, issues, onSelect }) {
  const node = selected && selected.node && doc.nodes.find((n) => n.id === selected.node);
  const [text, setText] = useState("");
  const [jsonError, setJsonError] = useState(null);
  useEffect(() => {
    setText(node ? JSON.stringify(node.data || {}, null, 2) : "");
    setJsonError(null);
  }, [node && node.id, node && JSON.stringify(node.data)]);
  if (selected && selected.edge) {
    const e = selected.edge;
    return html`<div class="card flow-panel">
      <h2>Edge</h2>
      <p>${e.source} · ${e.port || "next"} → ${e.target}</p>
      <button class="danger" id="delete-edge" onClick=${() => (setDoc((d) => ({ ...d, edges: d.edges.filter((x) => x !== e) })), onSelect(null))}>Delete edge</button>
    </div>`;
  }
  if (!node) return html`<div class="card flow-panel"><h2>Properties</h2><p class="muted">Select a node to edit it. Drag from a port (right side) onto another node to connect them.</p></div>`;
  const update = (patch) => setDoc((d) => ({ ...d, nodes: d.nodes.map((n) => (n.id === node.id ? { ...n, ...patch } : n)) }));
  const applyJson = () => {
    try {
      const data = JSON.parse(text || "{}");
      setJsonError(null);
      update({ data });
    } catch (e) {
      setJsonError(e.message);
    }
  };
  const remove = () => {
    setDoc((d) => ({ ...d, nodes: d.nodes.filter((n) => n.id !== node.id), edges: d.edges.filter((e) => e.source !== node.id && e.target !== node.id) }));
    onSelect(null);
  };
  const mine = (issues || []).filter((i) => i.node_id === node.id);
  return html`<div class="card flow-panel" id="node-panel">
    <h2>${node.type} · ${node.id}</h2>
    <label for="node-label">Label</label>
    <input id="node-label" value=${node.label || ""} onChange=${(e) => update({ label: e.target.value || undefined })} />
    ${node.type !== "start" &&
    html`<label for="node-data">Settings (JSON)</label>
      <textarea id="node-data" rows="14" spellcheck="false" value=${text} onInput=${(e) => setText(e.target.value)} onBlur=${applyJson}></textarea>
      ${jsonError && html`<div class="field-error">${jsonError}</div>`}
      <div class="row"><button type="button" id="apply-node" class="primary" onClick=${applyJson}>Apply</button>
      <button type="button" class="danger" id="delete-node" onClick=${remove}>Delete node</button></div>`}
    ${mine.length > 0 &&
    html`<ul class="issue-list">${mine.map((i) => html`<li class=${i.severity}><strong>${i.code}</strong> ${i.field ? html`<code>${i.field}</code> ` : ""}${i.message}</li>`)}</ul>`}
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
    if (!confirm(`Publish version ${v} again?`)) return;
    try {
      await post(`${base}/rollback`, { version: v, message: `rollback to v${v}` });
      toast(`Version ${v} is live`);
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const items = (versions.data && versions.data.items) || [];
  const row = (v, kind, inGroup) => html`<tr data-version=${v.version} data-kind=${kind} class=${inGroup ? "autosave-row" : ""}>
    <td>v${v.version}
      ${v.is_published && html` <span class="badge ok">published</span>`}
      ${kind === "published" && !v.is_published && html` <span class="badge">published before</span>`}
      ${kind === "named" && html` <span class="badge info">named</span>`}
      ${kind === "autosave" && html` <span class="muted">auto-save</span>`}</td>
    <td>${v.publish_message || (kind === "autosave" && v.message === "auto-save" ? "" : v.message) || ""}</td>
    <td class="muted">${formatDate(v.created_at)}</td>
    <td><button type="button" class="diff-btn" onClick=${() => showDiff(v.version)}>Diff → draft</button>
      ${can("flows.publish") && !v.is_published && html` <button type="button" class="rollback-btn" onClick=${() => rollback(v.version)}>Roll back</button>`}</td>
  </tr>`;
  return html`<div class="card" id="versions">
    <h2>Versions</h2>
    <${ErrorBox} error=${error || versions.error} />
    <table>
      <thead><tr><th>Version</th><th>Message</th><th>Saved</th><th><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>
        ${groupVersions(items).map((g) => {
          if (!g.autosaves) return row(g.version, g.kind, false);
          const key = g.autosaves[0].version;
          const first = g.autosaves[g.autosaves.length - 1].version;
          const expanded = !!open[key];
          return html`<tr class="autosave-group" data-autosaves=${g.autosaves.length}>
              <td colspan="4"><button type="button" class="link autosave-toggle" aria-expanded=${expanded ? "true" : "false"}
                onClick=${() => setOpen((o) => ({ ...o, [key]: !o[key] }))}>${expanded ? "▾" : "▸"} ${g.autosaves.length} auto-save${g.autosaves.length === 1 ? "" : "s"}
                <span class="muted">(v${first}${first === key ? "" : `–v${key}`})</span></button></td>
            </tr>
            ${expanded && g.autosaves.map((v) => row(v, "autosave", true))}`;
        })}
        <${Loading} load=${versions} cols="4" />
      </tbody>
    </table>
    ${diff &&
    html`<div id="diff" class="diff">
      <h3>v${diff.from_version} → v${diff.to_version}${diff.identical ? " (identical)" : ""}</h3>
      ${diff.nodes_added.length > 0 && html`<div class="added">Nodes added: ${diff.nodes_added.join(", ")}</div>`}
      ${diff.nodes_removed.length > 0 && html`<div class="removed">Nodes removed: ${diff.nodes_removed.join(", ")}</div>`}
      ${diff.nodes_changed.map((c) => html`<div class="changed">Node ${c.id} changed: ${c.fields.join(", ")}</div>`)}
      ${diff.edges_added.length > 0 && html`<div class="added">Edges added: ${diff.edges_added.join(", ")}</div>`}
      ${diff.edges_removed.length > 0 && html`<div class="removed">Edges removed: ${diff.edges_removed.join(", ")}</div>`}
    </div>`}
  </div>`;
}

function FlowBuilder({ params }) {
  const { botId } = params;
  const name = params.name;
  const bot = useBot(botId);
  const base = `/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}`;
  const [reloadKey, setReloadKey] = useState(0);
  const detail = useLoad(() => get(base), [base, reloadKey]);
  const h = useHistory(null);
  const [selected, setSelected] = useState(null);
  const [issues, setIssues] = useState([]);
  const [saveState, setSaveState] = useState("saved");
  const [savedJson, setSavedJson] = useState(null);
  const [publishMessage, setPublishMessage] = useState("");
  const [publishWarnings, setPublishWarnings] = useState([]);
  const [error, setError] = useState(null);
  const localKey = `bb.flow-draft:${botId}:${name}`;

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
          toast("Restored unsaved changes of this browser");
        }
      } catch {
        localStorage.removeItem(localKey);
      }
    }
    h.reset(doc);
    setSavedJson(contentJson(server));
    setIssues(detail.data.issues || []);
  }, [detail.data]);

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

  useEffect(() => {
    const onKey = (e) => {
      if (!(e.ctrlKey || e.metaKey) || ["INPUT", "TEXTAREA"].includes(document.activeElement && document.activeElement.tagName)) return;
      if (e.key === "z" && !e.shiftKey) (e.preventDefault(), h.undo());
      if (e.key === "y" || (e.key === "z" && e.shiftKey)) (e.preventDefault(), h.redo());
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });

  const addNode = (type) => {
    const doc = h.doc;
    let i = 1;
    while (doc.nodes.some((n) => n.id === `${type}_${i}`)) i++;
    const vp = doc.viewport || { x: 0, y: 0, zoom: 1 };
    const id = `${type}_${i}`;
    const node = { id, type, data: TEMPLATES[type], position: { x: Math.round((320 - vp.x) / vp.zoom + i * 12), y: Math.round((120 - vp.y) / vp.zoom + i * 12) } };
    h.set((d) => ({ ...d, nodes: [...d.nodes, node] }));
    setSelected({ node: id });
  };

  const publish = async () => {
    setError(null);
    try {
      const r = await post(`${base}/publish`, { message: publishMessage || undefined });
      setPublishMessage("");
      setPublishWarnings(r.warnings || []);
      toast(r.warnings && r.warnings.length ? `Published with a warning: ${r.warnings.join("; ")}` : "Published");
      setReloadKey((k) => k + 1);
    } catch (e) {
      if (e.code === "flow_invalid" && e.details && e.details.issues) setIssues(e.details.issues);
      setError(e);
    }
  };

  const errors = issues.filter((i) => i.severity === "error");
  const stateText = { saved: "All changes saved", changed: "Unsaved changes…", saving: "Saving…", invalid: `Not saved: ${errors.length} error(s)`, error: "Save failed" }[saveState];
  const published = detail.data && detail.data.published;
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${`Flow ${name} · ${bot.data ? bot.data.name : ""}`}
    actions=${html`<span id="save-state" class=${"badge " + (saveState === "saved" ? "ok" : saveState === "invalid" || saveState === "error" ? "bad" : "warn")}>${stateText}</span>`}>
    <${BotNav} botId=${botId} active="flows" />
    <${Checklist} botId=${botId} />
    <${ErrorBox} error=${error || detail.error} />
    ${h.doc &&
    html`<div class="row flow-toolbar">
        <button type="button" id="undo" disabled=${!h.canUndo} onClick=${h.undo}>Undo</button>
        <button type="button" id="redo" disabled=${!h.canRedo} onClick=${h.redo}>Redo</button>
        <span class="muted">Add:</span>
        ${Object.keys(TEMPLATES).map((t) => html`<button type="button" data-add=${t} onClick=${() => addNode(t)}>${t.replace("_", " ")}</button>`)}
      </div>
      <div class="flow-layout">
        <${Canvas} doc=${h.doc} issues=${issues} selected=${selected} onSelect=${setSelected} setDoc=${h.set} commit=${h.commit} />
        <${NodePanel} doc=${h.doc} selected=${selected} setDoc=${h.set} issues=${issues} onSelect=${setSelected} />
      </div>
      ${issues.length > 0 &&
      html`<div class="card"><h2>Problems</h2><ul class="issue-list" id="issues">
        ${issues.map((i) => html`<li class=${i.severity} data-code=${i.code}><a href="#" onClick=${(e) => (e.preventDefault(), i.node_id && setSelected({ node: i.node_id }))}>${i.node_id || i.edge_id || "flow"}</a>: <strong>${i.code}</strong> ${i.message}</li>`)}
      </ul></div>`}
      ${can("flows.publish") &&
      html`<div class="card row">
        <span id="draft-line">Draft v${detail.data && detail.data.draft.version} · published ${published ? `v${published.version}` : "never"}</span>
        <input id="publish-message" placeholder="What changed?" value=${publishMessage} onInput=${(e) => setPublishMessage(e.target.value)} />
        <button type="button" class="primary" id="publish" disabled=${saveState !== "saved"} onClick=${publish}>Publish</button>
        <a class="button" href=${`/bots/${botId}/emulator`}>Try in emulator</a>
      </div>`}
      ${publishWarnings.length > 0 &&
      html`<div class="card warn" id="publish-warnings" role="status">${publishWarnings.join("; ")} · <a href=${`/bots/${botId}/tests`}>See the test results</a></div>`}
      <${Versions} botId=${botId} name=${name} detail=${detail.data} onChanged=${() => setReloadKey((k) => k + 1)} />`}
  <//>`;
}

route("/bots/:botId/flows", FlowList);
route("/bots/:botId/flows/:name", FlowBuilder);
