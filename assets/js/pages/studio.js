// The flow studio: the template gallery (no model needed), "Generate with
// AI" (a description → a validated draft to review → opened in the editor),
// "Improve with AI" (an instruction → the revised flow with what changed →
// applied to the editor, undoable) and next-node suggestions for the
// selected node. The model's flows are checked on the server; what it could
// not get right comes back as a list of problems.
import { html, useLoad, useState, ErrorBox, Field, toast } from "../ui.js";
import { navigate } from "../router.js";
import { get, post, put } from "../api.js";
import { summary } from "./flows.js";

/** The problems the server found in the model's last answer, if any. */
function Problems({ error }) {
  const issues = (error && error.details && error.details.issues) || [];
  if (!issues.length) return null;
  return html`<div class="studio-problems" role="status">
    <p class="muted">What was still wrong after ${error.details.rounds || "several"} attempt(s) (nothing was saved):</p>
    <ul class="issue-list">
      ${issues.map((i) => html`<li class="error" data-code=${i.code}>${i.node_id ? html`<code>${i.node_id}</code>: ` : ""}<strong>${i.code}</strong> ${i.message}</li>`)}
    </ul>
  </div>`;
}

/** Why the studio cannot work here, in words, for the no-model case. */
function NoModelHint({ error, botId }) {
  if (!error || error.code !== "llm_not_configured") return null;
  return html`<p class="muted" id="studio-no-model">No model is set up for this bot. Add an LLM provider, or choose one in the bot's
    <a href=${`/bots/${botId}/ai`}>AI settings</a>; the templates below work without one.</p>`;
}

/** The nodes of a document as readable lines. */
export function DraftPreview({ doc, issues }) {
  return html`<div class="studio-preview">
    <ol class="studio-nodes">
      ${doc.nodes.map((n) => html`<li data-node=${n.id}><span class="badge">${n.type}</span> <strong>${n.label || n.id}</strong> <span class="muted">${summary(n)}</span></li>`)}
    </ol>
    ${issues && issues.length > 0 &&
    html`<ul class="issue-list">${issues.map((i) => html`<li class="warning" data-code=${i.code}>${i.node_id || "flow"}: ${i.message}</li>`)}</ul>`}
  </div>`;
}

/** Describe a bot, review the model's validated draft, open it in the editor. */
export function GenerateCard({ botId, onClose }) {
  const [form, setForm] = useState({ description: "", language: "", channel: "", name: "" });
  const [draft, setDraft] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const generate = async (e) => {
    e.preventDefault();
    setError(null);
    setDraft(null);
    setBusy(true);
    try {
      const body = { description: form.description };
      if (form.language.trim()) body.language = form.language.trim();
      if (form.channel.trim()) body.channel = form.channel.trim();
      setDraft(await post(`/api/v1/bots/${botId}/flows/generate`, body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const open = async () => {
    setError(null);
    const name = form.name.trim() || "generated";
    try {
      await put(`/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}`, { document: draft.document, message: "generated with AI" });
      toast(`Saved the draft as ${name}`);
      navigate(`/bots/${botId}/flows/${encodeURIComponent(name)}`);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card" id="generate-card" aria-labelledby="generate-title">
    <h2 id="generate-title">Generate a flow with AI</h2>
    <p class="muted">Describe what the bot should do. The bot's model drafts a flow; the server checks it like a flow you publish and asks the model to fix what is wrong.</p>
    <form onSubmit=${generate}>
      <label for="generate-description">What should the bot do?</label>
      <textarea id="generate-description" name="description" rows="4" required maxlength="4000" value=${form.description}
        placeholder="Book haircuts: ask for the service, the day and the time, confirm, and hand over to staff when stuck."
        onInput=${(e) => set("description")(e.target.value)}></textarea>
      <div class="grid">
        <${Field} label="Language (optional)" name="language" placeholder="en" value=${form.language} onInput=${set("language")} error=${error} />
        <${Field} label="Channel (optional)" name="channel" placeholder="web, whatsapp, voice…" value=${form.channel} onInput=${set("channel")} error=${error} />
      </div>
      <div class="row">
        <button class="primary" type="submit" id="generate-submit" disabled=${busy}>${busy ? "Generating…" : "Generate draft"}</button>
        <button type="button" onClick=${onClose}>Close</button>
      </div>
    </form>
    <${ErrorBox} error=${error} />
    <${NoModelHint} error=${error} botId=${botId} />
    <${Problems} error=${error} />
    ${draft &&
    html`<div id="generate-draft">
      <h3>Draft: ${draft.document.nodes.length} steps <span class="badge ok">valid</span></h3>
      <${DraftPreview} doc=${draft.document} issues=${draft.issues} />
      <div class="row" style="align-items:flex-end">
        <${Field} label="Save as flow" name="generate-name" placeholder="generated" pattern="[a-z0-9_-]{1,64}" value=${form.name} onInput=${set("name")} error=${error} />
        <button class="primary" type="button" id="generate-open" onClick=${open}>Open in editor</button>
      </div>
    </div>`}
  </section>`;
}

/** An instruction → the revised flow and what changed → applied to the editor. */
export function ImproveCard({ botId, name, doc, onApply, onClose }) {
  const [instruction, setInstruction] = useState("");
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setResult(null);
    setBusy(true);
    try {
      setResult(await post(`/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}/improve`, { instruction, document: doc }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="card" id="improve-card" aria-labelledby="improve-title">
    <h2 id="improve-title">Improve with AI</h2>
    <form class="row" onSubmit=${submit}>
      <label for="improve-instruction" class="sr-only">What should change?</label>
      <input id="improve-instruction" style="flex:1" required maxlength="4000" placeholder="Ask for a phone number after the email" value=${instruction} onInput=${(e) => setInstruction(e.target.value)} />
      <button class="primary" type="submit" id="improve-submit" disabled=${busy}>${busy ? "Working…" : "Suggest changes"}</button>
      <button type="button" onClick=${onClose}>Close</button>
    </form>
    <${ErrorBox} error=${error} />
    <${NoModelHint} error=${error} botId=${botId} />
    <${Problems} error=${error} />
    ${result &&
    html`<div id="improve-result">
      <ul id="improve-summary">${result.summary.map((l) => html`<li>${l}</li>`)}</ul>
      <button class="primary" type="button" id="improve-apply" onClick=${() => (onApply(result.document), onClose())}>Apply to the draft</button>
    </div>`}
  </section>`;
}

/** Candidate next nodes for a node's port; "Add" puts one on the canvas, joined. */
export function SuggestNext({ botId, name, doc, nodeId, onAdd }) {
  const [port, setPort] = useState("next");
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const ask = async () => {
    setError(null);
    setResult(null);
    setBusy(true);
    try {
      setResult(await post(`/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}/suggest-next`, { node_id: nodeId, port, document: doc }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="studio-suggest" id="suggest-next">
    <div class="row">
      <label>Port <input id="suggest-port" size="8" value=${port} onInput=${(e) => setPort(e.target.value)} /></label>
      <button type="button" id="suggest-submit" disabled=${busy} onClick=${ask}>${busy ? "Thinking…" : "Suggest next steps"}</button>
    </div>
    <${ErrorBox} error=${error} />
    <${Problems} error=${error} />
    ${result &&
    html`<ul class="studio-suggestions">${result.suggestions.map(
      (s) => html`<li data-suggestion=${s.node.id}><span class="badge">${s.node.type}</span> ${summary(s.node)}
        ${s.reason && html`<div class="muted small">${s.reason}</div>`}
        <button type="button" class="suggest-add" onClick=${() => (onAdd(s.node, s.edge), setResult(null))}>Add</button></li>`,
    )}</ul>`}
  </div>`;
}

/**
 * The template gallery. `onUse(template)` does the work (make a bot, add a
 * flow) and may throw; the tile shows what the flow does before anyone uses it.
 */
export function TemplateGallery({ title, action, onUse, id = "template-gallery" }) {
  const templates = useLoad(() => get("/api/v1/bot-templates"), []);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const use = async (t) => {
    setError(null);
    setBusy(t.id);
    try {
      await onUse(t);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  return html`<section class="card" id=${id} aria-labelledby=${`${id}-title`}>
    <h2 id=${`${id}-title`}>${title}</h2>
    <${ErrorBox} error=${templates.error || error} />
    ${templates.loading && html`<p class="muted">Loading templates…</p>`}
    <div class="template-grid">
      ${(templates.data || []).map(
        (t) => html`<div class="template-tile" data-template=${t.id}>
          <h3>${t.name}</h3>
          <p class="muted">${t.summary}</p>
          <p><span class="badge">${t.category}</span>${t.creates_knowledge_base ? html` <span class="badge">knowledge base</span>` : ""}${t.intents.length
            ? html` <span class="badge">${t.intents.length} intents</span>`
            : ""}</p>
          ${t.preview &&
          html`<details class="template-preview">
            <summary>Preview: ${t.preview.nodes} steps</summary>
            ${t.preview.opening && html`<p class="small">“${t.preview.opening}”</p>`}
            <p class="muted small">${t.preview.steps.join(" → ")}</p>
          </details>`}
          <button type="button" class="primary" id=${`use-template-${t.id}`} disabled=${busy !== null} onClick=${() => use(t)}>
            ${busy === t.id ? "Working…" : action}
          </button>
        </div>`,
      )}
    </div>
  </section>`;
}
