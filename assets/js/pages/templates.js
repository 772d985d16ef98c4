// WhatsApp message templates of one channel: the list with Meta's review
// status, a create form with a live preview of the variables, submit for
// review, sync the status, and send a test to a WhatsApp number.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, del } from "../api.js";

// The variable numbers of a body ({{1}}, {{2}}…), in order of first use.
export function variableNumbers(body) {
  const seen = [];
  for (const m of body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)) {
    const n = Number(m[1]);
    if (!seen.includes(n)) seen.push(n);
  }
  return seen.sort((a, b) => a - b);
}

// The body with each variable replaced by its value (or left as {{n}}).
export function preview(body, values) {
  return body.replace(/\{\{\s*(\d+)\s*\}\}/g, (all, n) => (values[Number(n) - 1] || "").trim() || all);
}

const BUTTON_TYPES = [
  ["quick_reply", "Quick reply"],
  ["url", "Open a URL"],
  ["phone_number", "Call a number"],
];

function CreateTemplate({ channelId, onCreated }) {
  const empty = { name: "", language: "en_US", category: "utility", body: "", header_type: "none", header_content: "", footer: "" };
  const [form, setForm] = useState(empty);
  const [examples, setExamples] = useState([]);
  const [buttons, setButtons] = useState([]);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setForm({ ...form, [k]: v });
  const numbers = variableNumbers(form.body);
  const count = numbers.length ? numbers[numbers.length - 1] : 0;
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { ...form, examples: examples.slice(0, count), buttons };
      if (body.header_type === "none") delete body.header_content;
      if (!body.footer.trim()) delete body.footer;
      await post(`/api/v1/channels/${channelId}/templates`, body);
      toast("Template created: submit it to WhatsApp for review");
      setForm(empty);
      setExamples([]);
      setButtons([]);
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  const setButton = (i, k, v) => setButtons(buttons.map((b, j) => (j === i ? { ...b, [k]: v } : b)));
  return html`<form class="card" id="create-template" onSubmit=${submit}>
    <h2>New template</h2>
    <p class="muted">Outside the 24 hours after a customer's last message, WhatsApp only delivers approved templates. Write variables as {{1}}, {{2}}… and give an example for each: Meta reviews the template with them.</p>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label="Name (a–z, 0–9, _)" name="name" required pattern="[a-z0-9_]+" value=${form.name} onInput=${set("name")} error=${error} />
      <${Field} label="Language" name="language" required value=${form.language} onInput=${set("language")} error=${error} />
      <div>
        <label for="category">Category</label>
        <select id="category" name="category" value=${form.category} onChange=${(e) => set("category")(e.target.value)}>
          <option value="utility">Utility</option><option value="marketing">Marketing</option><option value="authentication">Authentication</option>
        </select>
        <${FieldError} error=${error} name="category" />
      </div>
      <div>
        <label for="header_type">Header</label>
        <select id="header_type" name="header_type" value=${form.header_type} onChange=${(e) => set("header_type")(e.target.value)}>
          <option value="none">None</option><option value="text">Text</option><option value="image">Image</option>
          <option value="video">Video</option><option value="document">Document</option>
        </select>
      </div>
      ${form.header_type !== "none" &&
      html`<${Field} label=${form.header_type === "text" ? "Header text" : "Sample media handle (from Meta's upload API)"} name="header_content"
        value=${form.header_content} onInput=${set("header_content")} error=${error} />`}
    </div>
    <div>
      <label for="body">Body</label>
      <textarea id="body" name="body" rows="4" required maxlength="1024" value=${form.body} onInput=${(e) => set("body")(e.target.value)}></textarea>
      <${FieldError} error=${error} name="body" />
    </div>
    ${count > 0 &&
    html`<div class="grid" id="template-examples">
      ${Array.from({ length: count }, (_, i) => html`<${Field} key=${i} label=${`Example for {{${i + 1}}}`} name=${`examples.${i}`} required
        value=${examples[i] || ""} onInput=${(v) => { const next = [...examples]; next[i] = v; setExamples(next); }} error=${error} />`)}
      <${FieldError} error=${error} name="examples" />
    </div>`}
    <${Field} label="Footer (optional)" name="footer" value=${form.footer} onInput=${set("footer")} error=${error} />
    <fieldset>
      <legend>Buttons</legend>
      ${buttons.map(
        (b, i) => html`<div class="row" key=${i}>
          <select aria-label="Button type" value=${b.type} onChange=${(e) => setButton(i, "type", e.target.value)}>
            ${BUTTON_TYPES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
          </select>
          <input aria-label="Button text" maxlength="25" value=${b.text} onInput=${(e) => setButton(i, "text", e.target.value)} />
          ${b.type === "url" && html`<input aria-label="URL" type="url" placeholder="https://" value=${b.url || ""} onInput=${(e) => setButton(i, "url", e.target.value)} />`}
          ${b.type === "phone_number" && html`<input aria-label="Phone number" placeholder="+15550100000" value=${b.phone_number || ""} onInput=${(e) => setButton(i, "phone_number", e.target.value)} />`}
          <button type="button" onClick=${() => setButtons(buttons.filter((_, j) => j !== i))}>Remove</button>
          <${FieldError} error=${error} name=${`buttons[${i}].text`} />
        </div>`,
      )}
      ${buttons.length < 10 && html`<button type="button" onClick=${() => setButtons([...buttons, { type: "quick_reply", text: "" }])}>Add a button</button>`}
    </fieldset>
    <div class="card" id="template-preview" aria-live="polite">
      <h3>Preview</h3>
      ${form.header_type === "text" && form.header_content && html`<p><strong>${form.header_content}</strong></p>`}
      ${form.header_type !== "none" && form.header_type !== "text" && html`<p class="muted">[${form.header_type}]</p>`}
      <p style="white-space: pre-wrap">${preview(form.body, examples) || html`<span class="muted">The body appears here.</span>`}</p>
      ${form.footer && html`<p class="muted small">${form.footer}</p>`}
      ${buttons.length > 0 && html`<p>${buttons.map((b) => html`<span class="badge">${b.text || "…"}</span> `)}</p>`}
    </div>
    <p><button class="primary" type="submit">Create template</button></p>
  </form>`;
}

function SendTest({ channelId, template, onDone }) {
  const numbers = variableNumbers(template.body);
  const count = numbers.length ? numbers[numbers.length - 1] : 0;
  const [to, setTo] = useState("");
  const [values, setValues] = useState([]);
  const [media, setMedia] = useState("");
  const [error, setError] = useState(null);
  const media_header = ["image", "video", "document"].includes(template.header_type);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { to, variables: values.slice(0, count) };
      if (media_header) body.header_media_url = media;
      await post(`/api/v1/channels/${channelId}/templates/${template.id}/send`, body);
      toast("Queued: see the channel's message log for its delivery");
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="send-template" onSubmit=${submit}>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label="To (WhatsApp number, digits)" name="to" required value=${to} onInput=${setTo} error=${error} />
      ${Array.from({ length: count }, (_, i) => html`<${Field} key=${i} label=${`{{${i + 1}}}`} name=${`variables.${i}`}
        value=${values[i] || ""} onInput=${(v) => { const next = [...values]; next[i] = v; setValues(next); }} error=${error} />`)}
      ${media_header && html`<${Field} label="Header media URL (https)" name="header_media_url" type="url" required value=${media} onInput=${setMedia} error=${error} />`}
    </div>
    <${FieldError} error=${error} name="variables" />
    <p class="small">${preview(template.body, values)}</p>
    <p><button class="primary" type="submit">Send test</button> <button type="button" onClick=${onDone}>Cancel</button></p>
  </form>`;
}

const badge = (status) => (status === "approved" ? "ok" : status === "rejected" || status === "disabled" ? "bad" : "");

function Templates({ params }) {
  const channelId = params.channelId;
  const channel = useLoad(() => get(`/api/v1/channels/${channelId}`), [channelId]);
  const list = useLoad(() => get(`/api/v1/channels/${channelId}/templates?limit=200`), [channelId]);
  const [sending, setSending] = useState(null);
  const [busy, setBusy] = useState(null);
  const act = async (t, what, fn) => {
    setBusy(`${t.id}:${what}`);
    try {
      const r = await fn();
      toast(r && r.status ? `${what}: ${r.status}` : `${what}: done`);
    } catch (err) {
      toastError(err);
    } finally {
      setBusy(null);
      list.reload();
    }
  };
  const base = `/api/v1/channels/${channelId}/templates`;
  const title = channel.data ? `Templates · ${channel.data.name}` : "Templates";
  return html`<${Page} title=${title} actions=${html`<a class="button" href="/settings/channels"
      onClick=${(e) => (e.preventDefault(), navigate("/settings/channels"))}>Back to channels</a>`}>
    <${ErrorBox} error=${channel.error} />
    <${CreateTemplate} channelId=${channelId} onCreated=${list.reload} />
    <div class="card">
      <h2>Templates</h2>
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>Name</th><th>Language</th><th>Category</th><th>Status</th><th>Body</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (t) => html`<tr data-template=${t.id} data-status=${t.status}>
              <td><strong>${t.name}</strong><div class="muted small">updated ${formatDate(t.updated_at)}</div></td>
              <td>${t.language}</td>
              <td>${t.category}</td>
              <td><span class=${"badge " + badge(t.status)}>${t.submitted ? t.status : "draft"}</span>
                ${t.rejection_reason && html`<div class="small">${t.rejection_reason}</div>`}</td>
              <td class="small">${t.body}</td>
              <td class="row">
                ${!t.submitted && html`<button type="button" class="submit-template" disabled=${busy === `${t.id}:Submit`}
                  onClick=${() => act(t, "Submit", () => post(`${base}/${t.id}/submit`))}>Submit for review</button>`}
                ${t.submitted && html`<button type="button" class="sync-template" disabled=${busy === `${t.id}:Sync`}
                  onClick=${() => act(t, "Sync", () => post(`${base}/${t.id}/sync`))}>Sync status</button>`}
                ${t.status === "approved" && html`<button type="button" class="send-test" onClick=${() => setSending(t.id)}>Send a test</button>`}
                <button type="button" class="danger" onClick=${() => confirm(`Delete ${t.name} here? Meta keeps its copy.`) && act(t, "Delete", () => del(`${base}/${t.id}`))}>Delete</button>
              </td>
            </tr>
            ${sending === t.id && html`<tr><td colspan="6"><${SendTest} channelId=${channelId} template=${t} onDone=${() => setSending(null)} /></td></tr>`}`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">No templates yet.</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/settings/channels/:channelId/templates", Templates);
