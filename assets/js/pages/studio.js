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
import { t } from "../i18n.js";

/** The problems the server found in the model's last answer, if any. */
function Problems({ error }) {
  const issues = (error && error.details && error.details.issues) || [];
  if (!issues.length) return null;
  return html`<div class="studio-problems" role="status">
    <p class="muted">${t("studio.what_was_still_wrong_after")} ${error.details.rounds || "several"} ${t("studio.attempt_s_nothing_was_saved")}</p>
    <ul class="issue-list">
      ${issues.map((i) => html`<li class="error" data-code=${i.code}>${i.node_id ? html`<code>${i.node_id}</code>: ` : ""}<strong>${i.code}</strong> ${i.message}</li>`)}
    </ul>
  </div>`;
}

/** Why the studio cannot work here, in words, for the no-model case. */
function NoModelHint({ error, botId }) {
  if (!error || error.code !== "llm_not_configured") return null;
  return html`<p class="muted" id="studio-no-model">${t("studio.no_model_is_set_up")}
    <a href=${`/bots/${botId}/ai`}>${t("studio.ai_settings")}</a>${t("studio.the_templates_below_work_without")}</p>`;
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
      await put(`/api/v1/bots/${botId}/flows/${encodeURIComponent(name)}`, { document: draft.document, message: t("studio.generated_with_ai") });
      toast(t("studio.saved_the_draft_as", { name }));
      navigate(`/bots/${botId}/flows/${encodeURIComponent(name)}`);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card" id="generate-card" aria-labelledby="generate-title">
    <h2 id="generate-title">${t("studio.generate_a_flow_with_ai")}</h2>
    <p class="muted">${t("studio.describe_what_the_bot_should")}</p>
    <form onSubmit=${generate}>
      <label for="generate-description">${t("studio.what_should_the_bot_do")}</label>
      <textarea id="generate-description" name="description" rows="4" required maxlength="4000" value=${form.description}
        placeholder=${t("studio.book_haircuts_ask_for_the")}
        onInput=${(e) => set("description")(e.target.value)}></textarea>
      <div class="grid">
        <${Field} label=${t("studio.language_optional")} name="language" placeholder=${t("studio.en")} value=${form.language} onInput=${set("language")} error=${error} />
        <${Field} label=${t("studio.channel_optional")} name="channel" placeholder=${t("studio.web_whatsapp_voice")} value=${form.channel} onInput=${set("channel")} error=${error} />
      </div>
      <div class="row">
        <button class="primary" type="submit" id="generate-submit" disabled=${busy}>${busy ? t("studio.generating") : t("studio.generate_draft")}</button>
        <button type="button" onClick=${onClose}>${t("common.close")}</button>
      </div>
    </form>
    <${ErrorBox} error=${error} />
    <${NoModelHint} error=${error} botId=${botId} />
    <${Problems} error=${error} />
    ${draft &&
    html`<div id="generate-draft">
      <h3>${t("studio.draft_steps", { nodes: draft.document.nodes.length })} <span class="badge ok">${t("studio.valid")}</span></h3>
      <${DraftPreview} doc=${draft.document} issues=${draft.issues} />
      <div class="row" style="align-items:flex-end">
        <${Field} label=${t("studio.save_as_flow")} name="generate-name" placeholder=${t("studio.generated")} pattern="[a-z0-9_-]{1,64}" value=${form.name} onInput=${set("name")} error=${error} />
        <button class="primary" type="button" id="generate-open" onClick=${open}>${t("studio.open_in_editor")}</button>
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
    <h2 id="improve-title">${t("studio.improve_with_ai")}</h2>
    <form class="row" onSubmit=${submit}>
      <label for="improve-instruction" class="sr-only">${t("studio.what_should_change")}</label>
      <input id="improve-instruction" style="flex:1" required maxlength="4000" placeholder=${t("studio.ask_for_a_phone_number")} value=${instruction} onInput=${(e) => setInstruction(e.target.value)} />
      <button class="primary" type="submit" id="improve-submit" disabled=${busy}>${busy ? t("studio.working") : t("studio.suggest_changes")}</button>
      <button type="button" onClick=${onClose}>${t("common.close")}</button>
    </form>
    <${ErrorBox} error=${error} />
    <${NoModelHint} error=${error} botId=${botId} />
    <${Problems} error=${error} />
    ${result &&
    html`<div id="improve-result">
      <ul id="improve-summary">${result.summary.map((l) => html`<li>${l}</li>`)}</ul>
      <button class="primary" type="button" id="improve-apply" onClick=${() => (onApply(result.document), onClose())}>${t("studio.apply_to_the_draft")}</button>
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
      <label>${t("studio.port")} <input id="suggest-port" size="8" value=${port} onInput=${(e) => setPort(e.target.value)} /></label>
      <button type="button" id="suggest-submit" disabled=${busy} onClick=${ask}>${busy ? t("studio.thinking") : t("studio.suggest_next_steps")}</button>
    </div>
    <${ErrorBox} error=${error} />
    <${Problems} error=${error} />
    ${result &&
    html`<ul class="studio-suggestions">${result.suggestions.map(
      (s) => html`<li data-suggestion=${s.node.id}><span class="badge">${s.node.type}</span> ${summary(s.node)}
        ${s.reason && html`<div class="muted small">${s.reason}</div>`}
        <button type="button" class="suggest-add" onClick=${() => (onAdd(s.node, s.edge), setResult(null))}>${t("common.add")}</button></li>`,
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
  const use = async (tv) => {
    setError(null);
    setBusy(tv.id);
    try {
      await onUse(tv);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  return html`<section class="card" id=${id} aria-labelledby=${`${id}-title`}>
    <h2 id=${`${id}-title`}>${title}</h2>
    <${ErrorBox} error=${templates.error || error} />
    ${templates.loading && html`<p class="muted">${t("studio.loading_templates")}</p>`}
    <div class="template-grid">
      ${(templates.data || []).map(
        (tv) => html`<div class="template-tile" data-template=${tv.id}>
          <h3>${tv.name}</h3>
          <p class="muted">${tv.summary}</p>
          <p><span class="badge">${tv.category}</span>${tv.creates_knowledge_base ? html` <span class="badge">${t("studio.knowledge_base")}</span>` : ""}${tv.intents.length
            ? html` <span class="badge">${t("studio.intents", { intents: tv.intents.length })}</span>`
            : ""}</p>
          ${tv.preview &&
          html`<details class="template-preview">
            <summary>${t("studio.preview_steps", { nodes: tv.preview.nodes })}</summary>
            ${tv.preview.opening && html`<p class="small">“${tv.preview.opening}”</p>`}
            <p class="muted small">${tv.preview.steps.join(" → ")}</p>
          </details>`}
          <button type="button" class="primary" id=${`use-template-${tv.id}`} disabled=${busy !== null} onClick=${() => use(tv)}>
            ${busy === tv.id ? t("studio.working") : action}
          </button>
        </div>`,
      )}
    </div>
  </section>`;
}
