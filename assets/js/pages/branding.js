// White-label settings: brand name, colours, logo and favicon, custom
// domain, email sender. Saved branding applies to the UI at once.
import { html, Page, useLoad, useState, ErrorBox, FieldError, Field, toast } from "../ui.js";
import { route } from "../router.js";
import { get, patch, upload, del } from "../api.js";
import { currentOrg, can, applyBranding } from "../session.js";

const TEXT_FIELDS = [
  ["brand_name", "Brand name"],
  ["custom_domain", "Custom domain (e.g. bots.example.com)"],
  ["company_name", "Company name"],
  ["company_website", "Company website"],
  ["support_email", "Support email"],
  ["email_from_name", "Email sender name"],
  ["email_from_address", "Email sender address"],
  ["email_footer_text", "Email footer"],
  ["privacy_policy_url", "Privacy policy URL"],
  ["terms_of_service_url", "Terms of service URL"],
];
const COLOR_FIELDS = [
  ["primary_color", "Primary"],
  ["secondary_color", "Secondary"],
  ["accent_color", "Accent"],
  ["background_color", "Background"],
  ["text_color", "Text"],
];

function ImageUpload({ org, kind, url, onSaved }) {
  const [error, setError] = useState(null);
  const send = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    setError(null);
    try {
      onSaved(await upload(`/api/v1/orgs/${org.id}/whitelabel/${kind}`, file));
      toast(`${kind} uploaded`);
    } catch (err) {
      setError(err);
    }
    e.target.value = "";
  };
  const remove = async () => onSaved(await del(`/api/v1/orgs/${org.id}/whitelabel/${kind}`));
  return html`<div>
    <label for=${`upload-${kind}`}>${kind === "logo" ? "Logo" : "Favicon"} (PNG, JPEG, GIF, WebP, ICO or SVG; 1 MiB)</label>
    <div class="row">
      ${url && html`<img src=${url} alt="" style="height:40px" id=${`${kind}-preview`} />`}
      <input id=${`upload-${kind}`} type="file" accept="image/*" style="width:auto" onChange=${send} disabled=${!can("org.manage")} />
      ${url && can("org.manage") && html`<button type="button" onClick=${remove}>Remove</button>`}
    </div>
    <${ErrorBox} error=${error} />
  </div>`;
}

function Branding() {
  const org = currentOrg();
  const loaded = useLoad(() => get(`/api/v1/orgs/${org.id}/whitelabel`), [org.id]);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const data = form || loaded.data;
  const set = (k) => (v) => setForm({ ...data, [k]: v });
  const changed = (saved) => {
    setForm(saved);
    applyBranding(saved);
  };
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    const body = {};
    for (const [k] of [...TEXT_FIELDS, ...COLOR_FIELDS]) {
      const v = data[k];
      body[k] = k === "brand_name" || k.endsWith("_color") ? v : v ? v : null;
    }
    body.show_powered_by = data.show_powered_by;
    try {
      changed(await patch(`/api/v1/orgs/${org.id}/whitelabel`, body));
      toast("Branding saved");
    } catch (err) {
      setError(err);
    }
  };
  const editable = can("org.manage");
  return html`<${Page} title="Branding">
    <${ErrorBox} error=${loaded.error || (error)} />
    ${data &&
    html`<form class="card" onSubmit=${save} id="branding-form">
      <div class="grid">
        ${TEXT_FIELDS.map(([k, label]) => html`<${Field} label=${label} name=${k} value=${data[k] || ""} onInput=${set(k)} error=${error} disabled=${!editable} />`)}
      </div>
      <div class="grid">
        ${COLOR_FIELDS.map(
          ([k, label]) => html`<div>
            <label for=${k}>${label} colour</label>
            <input id=${k} name=${k} type="color" value=${data[k]} onInput=${(e) => set(k)(e.target.value)} disabled=${!editable} style="height:2.4rem" />
            <${FieldError} error=${error} name=${k} />
          </div>`,
        )}
      </div>
      <label class="check"><input type="checkbox" checked=${data.show_powered_by} onChange=${(e) => set("show_powered_by")(e.target.checked)} disabled=${!editable} /> <span>Show “Powered by botbuilder” in emails</span></label>
      ${editable && html`<p><button class="primary" type="submit">Save branding</button></p>`}
    </form>
    <div class="card">
      <h2>Images</h2>
      <${ImageUpload} org=${org} kind="logo" url=${data.logo_url} onSaved=${changed} />
      <${ImageUpload} org=${org} kind="favicon" url=${data.favicon_url} onSaved=${changed} />
    </div>`}
  <//>`;
}

route("/branding", Branding, { nav: { label: "Branding", section: "Organization", order: 78, requires: "org.manage" } });
