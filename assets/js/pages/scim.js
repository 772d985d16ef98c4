// SCIM provisioning: the base URL for the identity provider, tokens created
// (shown once), rotated, listed with last use and revoked.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, del } from "../api.js";
import { currentOrg } from "../session.js";
import { t } from "../i18n.js";

function Secret({ secret }) {
  if (!secret) return null;
  return html`<div class="alert ok" role="status">
    <p>${t("scim.copy_the_token_now_and")}</p>
    <code id="new-scim-token">${secret}</code> <${CopyButton} id="copy-scim-token" text=${secret} what=${t("scim.token")} />
  </div>`;
}

function CreateScimToken({ org, roles, onCreated }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState("viewer");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const created = await post(`/api/v1/orgs/${org.id}/scim-tokens`, { name, role });
      setName("");
      onCreated(created.token);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} id="create-scim-token">
    <h2>${t("scim.new_scim_token")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label=${t("scim.name_e_g_okta_entra")} name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:1">
        <label for="scim-role">${t("scim.role_of_provisioned_members")}</label>
        <select id="scim-role" name="role" value=${role} onChange=${(e) => setRole(e.target.value)}>
          ${roles.filter((r) => r.name !== "owner").map((r) => html`<option value=${r.name}>${r.name}</option>`)}
        </select>
        <${FieldError} error=${error} name="role" />
      </div>
    </div>
    <p><button class="primary" type="submit">${t("scim.create_token")}</button></p>
  </form>`;
}

function Scim() {
  const org = currentOrg();
  const settings = useLoad(() => get(`/api/v1/orgs/${org.id}/scim`), [org.id]);
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/scim-tokens?limit=200`), [org.id]);
  const roles = useLoad(() => get(`/api/v1/orgs/${org.id}/roles`), [org.id]);
  const [secret, setSecret] = useState(null);
  const shown = (token) => {
    setSecret(token);
    list.reload();
    settings.reload();
  };
  const rotate = async (tv) => {
    if (!confirm(t("scim.rotate_the_current_secret_stops", { name: tv.name }))) return;
    try {
      const rotated = await post(`/api/v1/scim-tokens/${tv.id}/rotate`, {});
      shown(rotated.token);
      toast(t("scim.rotated", { name: tv.name }));
    } catch (err) {
      toastError(err);
    }
  };
  const revoke = async (tv) => {
    if (!confirm(t("scim.revoke_provisioning_with_it_stops", { name: tv.name }))) return;
    try {
      await del(`/api/v1/scim-tokens/${tv.id}`);
      toast(t("scim.revoked", { name: tv.name }));
      list.reload();
      settings.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const roleList = roles.data ? (Array.isArray(roles.data) ? roles.data : roles.data.items || []) : [];
  return html`<${Page} title=${t("scim.scim_provisioning")}>
    <div class="card">
      <p>${t("scim.your_identity_provider_okta_microsoft")}</p>
      <${ErrorBox} error=${settings.error} />
      ${settings.data &&
      html`<p><strong>${t("scim.scim_base_url")}</strong>
        <span class="row" style="align-items:center"><code id="scim-base-url">${settings.data.base_url}</code> <${CopyButton} id="copy-scim-url" text=${settings.data.base_url} what="URL" /></span></p>
        <p class="muted">${t("scim.authentication_http_header_bearer_token")}</p>`}
    </div>
    <${Secret} secret=${secret} />
    ${roles.data && html`<${CreateScimToken} org=${org} roles=${roleList} onCreated=${shown} />`}
    <div class="card">
      <h2>${t("common.tokens")}</h2>
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("scim.token_2")}</th><th>${t("common.role")}</th><th>${t("scim.created_by")}</th><th>${t("scim.last_used")}</th><th>${t("common.status")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (tv) => html`<tr data-scim-token=${tv.name}>
              <td>${tv.name}</td><td><code>${tv.prefix}…</code></td><td>${tv.role}</td>
              <td>${tv.created_by || "—"}</td><td class="muted">${formatDate(tv.last_used_at) || t("common.never")}</td>
              <td><span class=${"badge " + (tv.status === "active" ? "ok" : "")}>${tv.status}</span></td>
              <td>${tv.status === "active" &&
              html`<button onClick=${() => rotate(tv)}>${t("scim.rotate")}</button> <button class="danger" onClick=${() => revoke(tv)}>${t("common.revoke")}</button>`}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="7" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="7" class="muted">${t("scim.no_scim_tokens_yet_create")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/scim", Scim, { nav: { label: "nav.scim_provisioning", section: "nav.organization", order: 72, requires: "sso.manage" } });
