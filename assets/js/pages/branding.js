// White-label settings: brand name, colours, logo and favicon, custom
// domain, email sender. Saved branding applies to the UI at once.
import { html, Page, useLoad, useState, ErrorBox, FieldError, Field, toast } from "../ui.js";
import { route } from "../router.js";
import { get, patch, upload, del } from "../api.js";
import { currentOrg, can, applyBranding } from "../session.js";
import { t } from "../i18n.js";

const TEXT_FIELDS = () => ([
  ["brand_name", t("branding.brand_name")],
  ["custom_domain", t("branding.custom_domain_e_g_bots")],
  ["company_name", t("branding.company_name")],
  ["company_website", t("branding.company_website")],
  ["support_email", t("branding.support_email")],
  ["email_from_name", t("branding.email_sender_name")],
  ["email_from_address", t("branding.email_sender_address")],
  ["email_footer_text", t("branding.email_footer")],
  ["privacy_policy_url", t("branding.privacy_policy_url")],
  ["terms_of_service_url", t("branding.terms_of_service_url")],
]);
const COLOR_FIELDS = () => ([
  ["primary_color", t("branding.primary")],
  ["secondary_color", t("branding.secondary")],
  ["accent_color", t("branding.accent")],
  ["background_color", t("branding.background")],
  ["text_color", t("branding.text")],
]);

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
    <label for=${`upload-${kind}`}>${kind === "logo" ? t("branding.logo") : t("branding.favicon")} ${t("branding.png_jpeg_gif_webp_ico")}</label>
    <div class="row">
      ${url && html`<img src=${url} alt="" style="height:40px" id=${`${kind}-preview`} />`}
      <input id=${`upload-${kind}`} type="file" accept="image/*" style="width:auto" onChange=${send} disabled=${!can("org.manage")} />
      ${url && can("org.manage") && html`<button type="button" onClick=${remove}>${t("common.remove")}</button>`}
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
    for (const [k] of [...TEXT_FIELDS(), ...COLOR_FIELDS()]) {
      const v = data[k];
      body[k] = k === "brand_name" || k.endsWith("_color") ? v : v ? v : null;
    }
    body.show_powered_by = data.show_powered_by;
    try {
      changed(await patch(`/api/v1/orgs/${org.id}/whitelabel`, body));
      toast(t("branding.branding_saved"));
    } catch (err) {
      setError(err);
    }
  };
  const editable = can("org.manage");
  return html`<${Page} title=${t("branding.branding")}>
    <${ErrorBox} error=${loaded.error || (error)} />
    ${data &&
    html`<form class="card" onSubmit=${save} id="branding-form">
      <div class="grid">
        ${TEXT_FIELDS().map(([k, label]) => html`<${Field} label=${label} name=${k} value=${data[k] || ""} onInput=${set(k)} error=${error} disabled=${!editable} />`)}
      </div>
      <div class="grid">
        ${COLOR_FIELDS().map(
          ([k, label]) => html`<div>
            <label for=${k}>${t("branding.colour", { label })}</label>
            <input id=${k} name=${k} type="color" value=${data[k]} onInput=${(e) => set(k)(e.target.value)} disabled=${!editable} style="height:2.4rem" />
            <${FieldError} error=${error} name=${k} />
          </div>`,
        )}
      </div>
      <label class="check"><input type="checkbox" checked=${data.show_powered_by} onChange=${(e) => set("show_powered_by")(e.target.checked)} disabled=${!editable} /> <span>${t("branding.show_powered_by_botbuilder_in")}</span></label>
      ${editable && html`<p><button class="primary" type="submit">${t("branding.save_branding")}</button></p>`}
    </form>
    <div class="card">
      <h2>${t("branding.images")}</h2>
      <${ImageUpload} org=${org} kind="logo" url=${data.logo_url} onSaved=${changed} />
      <${ImageUpload} org=${org} kind="favicon" url=${data.favicon_url} onSaved=${changed} />
    </div>`}
  <//>`;
}

route("/branding", Branding, { nav: { label: "nav.branding", section: "nav.organization", order: 78, requires: "org.manage" } });
