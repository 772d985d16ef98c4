// WhatsApp message templates of one channel: the list with Meta's review
// status, a create form with a live preview of the variables, submit for
// review, sync the status, and send a test to a WhatsApp number.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, del } from "../api.js";
import { t } from "../i18n.js";

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

const BUTTON_TYPES = () => ([
  ["quick_reply", t("templates.quick_reply")],
  ["url", t("templates.open_a_url")],
  ["phone_number", t("templates.call_a_number")],
]);

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
      toast(t("templates.template_created_submit_it_to"));
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
    <h2>${t("templates.new_template")}</h2>
    <p class="muted">${t("templates.outside_the_24_hours_after")}</p>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label=${t("templates.name_a_z_0_9")} name="name" required pattern="[a-z0-9_]+" value=${form.name} onInput=${set("name")} error=${error} />
      <${Field} label=${t("templates.language")} name="language" required value=${form.language} onInput=${set("language")} error=${error} />
      <div>
        <label for="category">${t("templates.category")}</label>
        <select id="category" name="category" value=${form.category} onChange=${(e) => set("category")(e.target.value)}>
          <option value="utility">${t("templates.utility")}</option><option value="marketing">${t("templates.marketing")}</option><option value="authentication">${t("templates.authentication")}</option>
        </select>
        <${FieldError} error=${error} name="category" />
      </div>
      <div>
        <label for="header_type">${t("templates.header")}</label>
        <select id="header_type" name="header_type" value=${form.header_type} onChange=${(e) => set("header_type")(e.target.value)}>
          <option value="none">${t("common.none")}</option><option value="text">${t("common.text")}</option><option value="image">${t("templates.image")}</option>
          <option value="video">${t("templates.video")}</option><option value="document">${t("templates.document")}</option>
        </select>
      </div>
      ${form.header_type !== "none" &&
      html`<${Field} label=${form.header_type === "text" ? t("templates.header_text") : t("templates.sample_media_handle_from_meta")} name="header_content"
        value=${form.header_content} onInput=${set("header_content")} error=${error} />`}
    </div>
    <div>
      <label for="body">${t("templates.body")}</label>
      <textarea id="body" name="body" rows="4" required maxlength="1024" value=${form.body} onInput=${(e) => set("body")(e.target.value)}></textarea>
      <${FieldError} error=${error} name="body" />
    </div>
    ${count > 0 &&
    html`<div class="grid" id="template-examples">
      ${Array.from({ length: count }, (_, i) => html`<${Field} key=${i} label=${t("templates.example_for", { value: i + 1 })} name=${`examples.${i}`} required
        value=${examples[i] || ""} onInput=${(v) => { const next = [...examples]; next[i] = v; setExamples(next); }} error=${error} />`)}
      <${FieldError} error=${error} name="examples" />
    </div>`}
    <${Field} label=${t("templates.footer_optional")} name="footer" value=${form.footer} onInput=${set("footer")} error=${error} />
    <fieldset>
      <legend>${t("templates.buttons")}</legend>
      ${buttons.map(
        (b, i) => html`<div class="row" key=${i}>
          <select aria-label=${t("templates.button_type")} value=${b.type} onChange=${(e) => setButton(i, "type", e.target.value)}>
            ${BUTTON_TYPES().map(([v, l]) => html`<option value=${v}>${l}</option>`)}
          </select>
          <input aria-label=${t("templates.button_text")} maxlength="25" value=${b.text} onInput=${(e) => setButton(i, "text", e.target.value)} />
          ${b.type === "url" && html`<input aria-label="URL" type="url" placeholder=${t("templates.https")} value=${b.url || ""} onInput=${(e) => setButton(i, "url", e.target.value)} />`}
          ${b.type === "phone_number" && html`<input aria-label=${t("templates.phone_number")} placeholder="+15550100000" value=${b.phone_number || ""} onInput=${(e) => setButton(i, "phone_number", e.target.value)} />`}
          <button type="button" onClick=${() => setButtons(buttons.filter((_, j) => j !== i))}>${t("common.remove")}</button>
          <${FieldError} error=${error} name=${`buttons[${i}].text`} />
        </div>`,
      )}
      ${buttons.length < 10 && html`<button type="button" onClick=${() => setButtons([...buttons, { type: "quick_reply", text: "" }])}>${t("templates.add_a_button")}</button>`}
    </fieldset>
    <div class="card" id="template-preview" aria-live="polite">
      <h3>${t("templates.preview")}</h3>
      ${form.header_type === "text" && form.header_content && html`<p><strong>${form.header_content}</strong></p>`}
      ${form.header_type !== "none" && form.header_type !== "text" && html`<p class="muted">[${form.header_type}]</p>`}
      <p style="white-space: pre-wrap">${preview(form.body, examples) || html`<span class="muted">${t("templates.the_body_appears_here")}</span>`}</p>
      ${form.footer && html`<p class="muted small">${form.footer}</p>`}
      ${buttons.length > 0 && html`<p>${buttons.map((b) => html`<span class="badge">${b.text || "…"}</span> `)}</p>`}
    </div>
    <p><button class="primary" type="submit">${t("templates.create_template")}</button></p>
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
      toast(t("templates.queued_see_the_channel_s"));
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="send-template" onSubmit=${submit}>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label=${t("templates.to_whatsapp_number_digits")} name="to" required value=${to} onInput=${setTo} error=${error} />
      ${Array.from({ length: count }, (_, i) => html`<${Field} key=${i} label=${`{{${i + 1}}}`} name=${`variables.${i}`}
        value=${values[i] || ""} onInput=${(v) => { const next = [...values]; next[i] = v; setValues(next); }} error=${error} />`)}
      ${media_header && html`<${Field} label=${t("templates.header_media_url_https")} name="header_media_url" type="url" required value=${media} onInput=${setMedia} error=${error} />`}
    </div>
    <${FieldError} error=${error} name="variables" />
    <p class="small">${preview(template.body, values)}</p>
    <p><button class="primary" type="submit">${t("templates.send_test")}</button> <button type="button" onClick=${onDone}>${t("common.cancel")}</button></p>
  </form>`;
}

const badge = (status) => (status === "approved" ? "ok" : status === "rejected" || status === "disabled" ? "bad" : "");

function Templates({ params }) {
  const channelId = params.channelId;
  const channel = useLoad(() => get(`/api/v1/channels/${channelId}`), [channelId]);
  const list = useLoad(() => get(`/api/v1/channels/${channelId}/templates?limit=200`), [channelId]);
  const [sending, setSending] = useState(null);
  const [busy, setBusy] = useState(null);
  const act = async (tv, what, fn) => {
    setBusy(`${tv.id}:${what}`);
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
  const title = channel.data ? `Templates · ${channel.data.name}` : t("common.templates");
  return html`<${Page} title=${title} actions=${html`<a class="button" href="/settings/channels"
      onClick=${(e) => (e.preventDefault(), navigate("/settings/channels"))}>${t("templates.back_to_channels")}</a>`}>
    <${ErrorBox} error=${channel.error} />
    <${CreateTemplate} channelId=${channelId} onCreated=${list.reload} />
    <div class="card">
      <h2>${t("common.templates")}</h2>
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("templates.language")}</th><th>${t("templates.category")}</th><th>${t("common.status")}</th><th>${t("templates.body")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (tv) => html`<tr data-template=${tv.id} data-status=${tv.status}>
              <td><strong>${tv.name}</strong><div class="muted small">${t("templates.updated", { updated_at: formatDate(tv.updated_at) })}</div></td>
              <td>${tv.language}</td>
              <td>${tv.category}</td>
              <td><span class=${"badge " + badge(tv.status)}>${tv.submitted ? tv.status : "draft"}</span>
                ${tv.rejection_reason && html`<div class="small">${tv.rejection_reason}</div>`}</td>
              <td class="small">${tv.body}</td>
              <td class="row">
                ${!tv.submitted && html`<button type="button" class="submit-template" disabled=${busy === `${tv.id}:Submit`}
                  onClick=${() => act(tv, t("templates.submit"), () => post(`${base}/${tv.id}/submit`))}>${t("templates.submit_for_review")}</button>`}
                ${tv.submitted && html`<button type="button" class="sync-template" disabled=${busy === `${tv.id}:Sync`}
                  onClick=${() => act(tv, t("templates.sync"), () => post(`${base}/${tv.id}/sync`))}>${t("templates.sync_status")}</button>`}
                ${tv.status === "approved" && html`<button type="button" class="send-test" onClick=${() => setSending(tv.id)}>${t("templates.send_a_test")}</button>`}
                <button type="button" class="danger" onClick=${() => confirm(t("templates.delete_here_meta_keeps_its", { name: tv.name })) && act(tv, t("common.delete"), () => del(`${base}/${tv.id}`))}>${t("common.delete")}</button>
              </td>
            </tr>
            ${sending === tv.id && html`<tr><td colspan="6"><${SendTest} channelId=${channelId} template=${tv} onDone=${() => setSending(null)} /></td></tr>`}`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${t("templates.no_templates_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/settings/channels/:channelId/templates", Templates);
