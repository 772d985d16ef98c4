// The node canvas shared by the flow builder and the workflow editor: pan
// (drag the background), zoom (wheel, buttons, fit), a minimap, nodes
// dragged into place (several at once: shift-click or shift-drag a
// rectangle), keyboard use (Tab to a node, arrows move it, Enter opens it),
// edges drawn from an output port to a node, validation issues and run
// statuses on the nodes. What a node's ports are and how it reads come from
// the caller (`ports`, `describe`), so flows and workflows draw alike.
import { html, useState, useEffect } from "./ui.js";
import { t } from "./i18n.js";

export const NODE_W = 190;
export const PORT_TOP = 46;
export const PORT_GAP = 20;

/** A node's height for a `ports` function: room for every output port. */
export function heightFor(ports) {
  return (node) => PORT_TOP + Math.max(1, ports(node).length) * PORT_GAP;
}

/** Issues of the server's validation, by node id. */
export function issuesByNode(issues) {
  const map = {};
  for (const i of issues || []) if (i.node_id) (map[i.node_id] = map[i.node_id] || []).push(i);
  return map;
}

/** The box around `nodes` (`height(node)` is a node's height). */
export function bounds(nodes, height) {
  if (!nodes.length) return { x: 0, y: 0, w: 1, h: 1 };
  const xs = nodes.map((n) => n.position?.x || 0);
  const ys = nodes.map((n) => n.position?.y || 0);
  const x2 = Math.max(...nodes.map((n) => (n.position?.x || 0) + NODE_W));
  const y2 = Math.max(...nodes.map((n) => (n.position?.y || 0) + height(n)));
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, w: Math.max(1, x2 - x), h: Math.max(1, y2 - y) };
}

/** The viewport that shows every node in a canvas of `w`×`h` pixels. */
export function fitViewport(nodes, w, h, height) {
  const b = bounds(nodes, height);
  const zoom = Math.min(1.5, Math.max(0.25, Math.min((w - 80) / b.w, (h - 80) / b.h)));
  return { zoom, x: Math.round((w - b.w * zoom) / 2 - b.x * zoom), y: Math.round((h - b.h * zoom) / 2 - b.y * zoom) };
}

function Minimap({ doc, vp, size, onCentre, height }) {
  const W = 180;
  const H = 120;
  if (!size.w) return null;
  const view = { x: -vp.x / vp.zoom, y: -vp.y / vp.zoom, w: size.w / vp.zoom, h: size.h / vp.zoom };
  const b0 = bounds(doc.nodes, height);
  const b = { x: Math.min(b0.x, view.x), y: Math.min(b0.y, view.y) };
  b.w = Math.max(b0.x + b0.w, view.x + view.w) - b.x;
  b.h = Math.max(b0.y + b0.h, view.y + view.h) - b.y;
  const s = Math.min(W / b.w, H / b.h);
  const click = (e) => {
    const r = e.currentTarget.getBoundingClientRect();
    onCentre({ x: b.x + (e.clientX - r.left) / s, y: b.y + (e.clientY - r.top) / s });
  };
  return html`<svg class="flow-minimap" id="flow-minimap" width=${W} height=${H} role="img" aria-label=${t("canvas.minimap_click_to_move_the")} onPointerDown=${(e) => (e.stopPropagation(), click(e))}>
    ${doc.nodes.map((n) => html`<rect class=${"mm-node mm-" + n.type} x=${((n.position?.x || 0) - b.x) * s} y=${((n.position?.y || 0) - b.y) * s} width=${NODE_W * s} height=${height(n) * s} rx="2" />`)}
    <rect class="mm-view" x=${(view.x - b.x) * s} y=${(view.y - b.y) * s} width=${view.w * s} height=${view.h * s} />
  </svg>`;
}

export function issueLine(bad) {
  return `${bad[0].message}${bad.length > 1 ? ` (+${bad.length - 1})` : ""}`;
}

export function seconds(s) {
  if (s == null) return "";
  return s < 90 ? `${Math.round(s)} s` : `${Math.round(s / 60)} min`;
}

export function Canvas({
  doc, issues, sel, setSel, setDoc, commit, names, onOpen, canvasRef, size, stats, statuses,
  ports = () => [], describe = () => "", typeLabel = (tv) => tv.replace("_", " "), id = "flow-canvas",
  label = t("canvas.flow_canvas_tab_to_a"),
  canConnect = (source, port, target) => target.type !== "start", onConnect,
}) {
  const ref = canvasRef;
  const height = heightFor(ports);
  const boxOf = (n) => ({ x: n.position?.x || 0, y: n.position?.y || 0, w: NODE_W, h: height(n) });
  const vp = doc.viewport || { x: 0, y: 0, zoom: 1 };
  const [drag, setDrag] = useState(null);
  const [pending, setPending] = useState(null);
  const byId = Object.fromEntries(doc.nodes.map((n) => [n.id, n]));
  const errs = issuesByNode(issues);
  const selected = sel.nodes || [];

  const toWorld = (e) => {
    const r = ref.current.getBoundingClientRect();
    return { x: (e.clientX - r.left - vp.x) / vp.zoom, y: (e.clientY - r.top - vp.y) / vp.zoom };
  };
  const setViewport = (v) => setDoc((d) => ({ ...d, viewport: v }), { record: false });

  const onPointerDownBg = (e) => {
    if (e.target !== ref.current && !e.target.classList.contains("flow-world")) return;
    if (e.shiftKey) {
      const p = toWorld(e);
      setDrag({ kind: "band", x0: p.x, y0: p.y, x1: p.x, y1: p.y, keep: selected });
      return;
    }
    setSel({ nodes: [] });
    setDrag({ kind: "pan", sx: e.clientX, sy: e.clientY, vx: vp.x, vy: vp.y });
  };
  const onNodeDown = (e, node) => {
    e.stopPropagation();
    if (e.shiftKey) {
      setSel({ nodes: selected.includes(node.id) ? selected.filter((x) => x !== node.id) : [...selected, node.id] });
      return;
    }
    const group = selected.includes(node.id) ? selected : [node.id];
    if (!selected.includes(node.id)) setSel({ nodes: [node.id] });
    const p = toWorld(e);
    const start = Object.fromEntries(group.map((id) => [id, { ...(byId[id].position || { x: 0, y: 0 }) }]));
    setDrag({ kind: "node", group, start, px: p.x, py: p.y, before: doc, moved: false });
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
    } else if (drag.kind === "band") {
      const p = toWorld(e);
      setDrag({ ...drag, x1: p.x, y1: p.y });
    } else if (drag.kind === "node") {
      const p = toWorld(e);
      const dx = Math.round(p.x - drag.px);
      const dy = Math.round(p.y - drag.py);
      setDoc((d) => ({ ...d, nodes: d.nodes.map((n) => (drag.start[n.id] ? { ...n, position: { x: drag.start[n.id].x + dx, y: drag.start[n.id].y + dy } } : n)) }), { record: false });
      if (!drag.moved) setDrag({ ...drag, moved: true });
    }
  };
  const onUp = (e) => {
    if (drag && drag.kind === "node" && drag.moved) commit(drag.before);
    if (drag && drag.kind === "band") {
      const band = { x: Math.min(drag.x0, drag.x1), y: Math.min(drag.y0, drag.y1), w: Math.abs(drag.x1 - drag.x0), h: Math.abs(drag.y1 - drag.y0) };
      const inside = doc.nodes.filter((n) => {
        const b = boxOf(n);
        return b.x < band.x + band.w && band.x < b.x + b.w && b.y < band.y + band.h && band.y < b.y + b.h;
      });
      setSel({ nodes: [...new Set([...drag.keep, ...inside.map((n) => n.id)])] });
    }
    setDrag(null);
    if (pending) {
      const target = e.target.closest && e.target.closest("[data-node-id]");
      const targetId = target && target.getAttribute("data-node-id");
      if (targetId && targetId !== pending.source && byId[targetId] && canConnect(byId[pending.source], pending.port, byId[targetId])) {
        const edge = { id: `${pending.source}-${pending.port}-${targetId}`, source: pending.source, port: pending.port, target: targetId };
        if (onConnect) onConnect(edge);
        else setDoc((d) => ({ ...d, edges: [...d.edges.filter((x) => !(x.source === edge.source && (x.port || "next") === edge.port)), edge] }));
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

  /** Arrow keys move the node (and the rest of the selection); Enter opens its form. */
  const onNodeKey = (e, node) => {
    const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (steps[e.key]) {
      e.preventDefault();
      const group = selected.includes(node.id) ? selected : [node.id];
      if (!selected.includes(node.id)) setSel({ nodes: [node.id] });
      const step = e.shiftKey ? 50 : 10;
      const [dx, dy] = steps[e.key];
      setDoc((d) => ({ ...d, nodes: d.nodes.map((n) => (group.includes(n.id) ? { ...n, position: { x: (n.position?.x || 0) + dx * step, y: (n.position?.y || 0) + dy * step } } : n)) }));
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onOpen(node.id);
    } else if (e.key === "Escape") {
      setSel({ nodes: [] });
      ref.current.focus();
    }
  };

  const portPos = (node, port) => {
    const i = Math.max(0, ports(node).indexOf(port));
    return { x: (node.position?.x || 0) + NODE_W, y: (node.position?.y || 0) + PORT_TOP + i * PORT_GAP + 8 };
  };
  const inPos = (node) => ({ x: node.position?.x || 0, y: (node.position?.y || 0) + 20 });
  const curve = (a, b) => {
    const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
    return `M${a.x},${a.y} C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
  };
  const band = drag && drag.kind === "band" && { x: Math.min(drag.x0, drag.x1), y: Math.min(drag.y0, drag.y1), w: Math.abs(drag.x1 - drag.x0), h: Math.abs(drag.y1 - drag.y0) };

  return html`<div class="flow-canvas" ref=${ref} id=${id} tabindex="0" role="application"
      aria-label=${label}
      onPointerDown=${onPointerDownBg} onPointerMove=${onMove} onPointerUp=${onUp} onPointerLeave=${onUp}>
    <div class="flow-world" style=${`transform:translate(${vp.x}px,${vp.y}px) scale(${vp.zoom})`}>
      <svg class="flow-edges" width="1" height="1">
        ${doc.edges.map((e) => {
          const s = byId[e.source];
          const tv = byId[e.target];
          if (!s || !tv) return null;
          const isSel = sel.edge === e;
          const moved = stats && stats.edges[`${e.source}>${e.target}`];
          const a = portPos(s, e.port || "next");
          const b = inPos(tv);
          return html`<g key=${`${e.source}-${e.port}-${e.target}`}>
            <path class=${"flow-edge" + (isSel ? " selected" : "")} d=${curve(a, b)} data-edge=${`${e.source}:${e.port || "next"}>${e.target}`}
              onPointerDown=${(ev) => (ev.stopPropagation(), setSel({ nodes: [], edge: e }))} />
            ${stats && html`<text class="flow-edge-count" x=${(a.x + b.x) / 2} y=${(a.y + b.y) / 2 - 4} text-anchor="middle" data-edge-count=${`${e.source}>${e.target}`}>${moved ? moved.count : 0}</text>`}
          </g>`;
        })}
        ${pending && byId[pending.source] && html`<path class="flow-edge pending" d=${curve(portPos(byId[pending.source], pending.port), pending)} />`}
      </svg>
      ${band && html`<div class="flow-band" style=${`left:${band.x}px;top:${band.y}px;width:${band.w}px;height:${band.h}px`}></div>`}
      ${doc.nodes.map((n) => {
        const bad = errs[n.id] || [];
        const hasError = bad.some((i) => i.severity === "error");
        const text = describe(n, names);
        const st = statuses && statuses[n.id];
        const cls = "flow-node" + (selected.includes(n.id) ? " selected" : "") + (hasError ? " has-error" : bad.length ? " has-warning" : "") + (st ? ` status-${st}` : "");
        return html`<div key=${n.id} class=${cls} data-node-id=${n.id} data-type=${n.type} data-status=${st || undefined} tabindex="0" role="button"
            aria-pressed=${selected.includes(n.id)}
            style=${`left:${n.position?.x || 0}px;top:${n.position?.y || 0}px;width:${NODE_W}px;min-height:${height(n)}px`}
            onPointerDown=${(e) => onNodeDown(e, n)} onDblClick=${() => onOpen(n.id)} onKeyDown=${(e) => onNodeKey(e, n)}
            onFocus=${() => !selected.includes(n.id) && setSel({ nodes: [n.id] })}
            title=${bad.map((i) => i.message).join("\n")}>
          <div class="flow-node-head"><span class="flow-type">${typeLabel(n.type)}</span> <strong>${n.label || n.id}</strong></div>
          <div class="flow-node-body">${text}</div>
          ${st ? html`<div class="flow-node-status"><span class=${"badge " + (st === "completed" ? "ok" : st === "failed" || st === "cancelled" ? "bad" : "warn")}>${st}</span></div>` : null}
          ${bad.length ? html`<div class="flow-node-issue">${issueLine(bad)}</div>` : null}
          ${stats && (() => {
            const st = stats.nodes[n.id] || { reached: 0, dropped_off: 0, average_seconds: null };
            return html`<div class="flow-node-stats" data-reached=${st.reached} aria-label=${t("canvas.reached_dropped_off", { reached: st.reached, dropped_off: st.dropped_off })}>
              <span class="badge ok">${t("canvas.reached", { reached: st.reached })}</span> <span class="badge warn">${t("canvas.dropped", { dropped_off: st.dropped_off })}</span>${st.average_seconds != null ? html` <span class="muted">${seconds(st.average_seconds)}</span>` : null}
            </div>`;
          })()}
          ${ports(n).map(
            (p, i) => html`<div class="flow-port" data-port=${p} style=${`top:${PORT_TOP + i * PORT_GAP}px`} onPointerDown=${(e) => onPortDown(e, n, p)}>
              <span aria-hidden="true">${p}</span><i></i>
            </div>`,
          )}
        </div>`;
      })}
    </div>
    <${Minimap} doc=${doc} vp=${vp} size=${size} height=${height} onCentre=${(p) => setViewport({ ...vp, x: size.w / 2 - p.x * vp.zoom, y: size.h / 2 - p.y * vp.zoom })} />
    <div class="flow-zoom">
      <button type="button" id="zoom-in" aria-label=${t("canvas.zoom_in")} onClick=${() => setViewport({ ...vp, zoom: Math.min(2.5, vp.zoom * 1.2) })}>+</button>
      <span id="zoom-level">${Math.round(vp.zoom * 100)}%</span>
      <button type="button" id="zoom-out" aria-label=${t("canvas.zoom_out")} onClick=${() => setViewport({ ...vp, zoom: Math.max(0.25, vp.zoom / 1.2) })}>−</button>
      <button type="button" id="zoom-fit" onClick=${() => setViewport(fitViewport(doc.nodes, size.w, size.h, height))}>${t("canvas.fit")}</button>
      <button type="button" onClick=${() => setViewport({ x: 0, y: 0, zoom: 1 })}>${t("canvas.reset")}</button>
    </div>
  </div>`;
}
