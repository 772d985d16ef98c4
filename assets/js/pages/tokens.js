// API tokens: create (shown once), list with last use, revoke.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { PermissionPicker } from "./roles.js";
import { t } from "../i18n.js";

function CreateToken({ org, catalogue, onCreated }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState([]);
  const [botId, setBotId] = useState("");
  const [expires, setExpires] = useState("");
  const [error, setError] = useState(null);
  const [secret, setSecret] = useState(null);
  const bots = useLoad(() => (can("bots.read") ? get(`/api/v1/orgs/${org.id}/bots?limit=200`) : { items: [] }), [org.id]);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { name, scopes };
      if (botId) body.bot_id = Number(botId);
      if (expires) body.expires_at = new Date(`${expires}T23:59:59`).toISOString();
      const created = await post(`/api/v1/orgs/${org.id}/api-tokens`, body);
      setSecret(created.token);
      setName("");
      setScopes([]);
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} id="create-token">
    <h2>${t("tokens.new_api_token")}</h2>
    ${secret && html`<div class="alert ok"><p>${t("tokens.copy_the_token_now_it")}</p><code id="new-token">${secret}</code> <${CopyButton} id="copy-token" text=${secret} what=${t("tokens.token")} /></div>`}
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label=${t("common.name")} name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:1">
        <label for="token-bot">${t("tokens.only_for_bot")}</label>
        <select id="token-bot" value=${botId} onChange=${(e) => setBotId(e.target.value)}>
          <option value="">${t("tokens.any_bot")}</option>
          ${bots.data && bots.data.items.map((b) => html`<option value=${String(b.id)}>${b.name}</option>`)}
        </select>
      </div>
      <div style="flex:1"><${Field} label=${t("tokens.expires_on_optional")} name="expires_at" type="date" value=${expires} onInput=${setExpires} error=${error} /></div>
    </div>
    <label>${t("tokens.scopes_at_most_your_own")}</label>
    <${PermissionPicker} catalogue=${catalogue} value=${scopes} onChange=${setScopes} name="scopes" />
    <p><button class="primary" type="submit">${t("tokens.create_token")}</button></p>
  </form>`;
}

function Tokens() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/api-tokens?limit=200`), [org.id]);
  const catalogue = useLoad(() => get("/api/v1/permissions"));
  const revoke = async (tv) => {
    if (!confirm(t("tokens.revoke_scripts_using_it_stop", { name: tv.name }))) return;
    try {
      await del(`/api/v1/api-tokens/${tv.id}`);
      toast(t("tokens.revoked", { name: tv.name }));
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title=${t("tokens.api_tokens")}>
    ${catalogue.data && html`<${CreateToken} org=${org} catalogue=${catalogue.data} onCreated=${list.reload} />`}
    <div class="card">
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("tokens.token_2")}</th><th>${t("tokens.scopes")}</th><th>${t("tokens.created_by")}</th><th>${t("tokens.last_used")}</th><th>${t("tokens.expires")}</th><th>${t("common.status")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (tv) => html`<tr data-token=${tv.name}>
              <td>${tv.name}</td><td><code>${tv.prefix}…</code></td>
              <td class="muted" style="font-size:.8rem">${tv.scopes.join(", ") || t("common.none_lower")}${tv.bot_id ? ` (bot ${tv.bot_id})` : ""}</td>
              <td>${tv.created_by}</td><td class="muted">${formatDate(tv.last_used_at) || t("common.never")}</td>
              <td class="muted">${formatDate(tv.expires_at) || t("common.never")}</td>
              <td><span class=${"badge " + (tv.status === "active" ? "ok" : "")}>${tv.status}</span></td>
              <td>${tv.status === "active" && html`<button class="danger" onClick=${() => revoke(tv)}>${t("common.revoke")}</button>`}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="8" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="8" class="muted">${t("tokens.no_tokens_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/api-tokens", Tokens, { nav: { label: "nav.api_tokens", section: "nav.organization", order: 70, requires: "api_tokens.manage" } });
