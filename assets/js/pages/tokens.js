// API tokens: create (shown once), list with last use, revoke.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { PermissionPicker } from "./roles.js";

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
    <h2>New API token</h2>
    ${secret && html`<div class="alert ok"><p>Copy the token now; it is not shown again.</p><code id="new-token">${secret}</code> <${CopyButton} id="copy-token" text=${secret} what="token" /></div>`}
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label="Name" name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:1">
        <label for="token-bot">Only for bot</label>
        <select id="token-bot" value=${botId} onChange=${(e) => setBotId(e.target.value)}>
          <option value="">Any bot</option>
          ${bots.data && bots.data.items.map((b) => html`<option value=${String(b.id)}>${b.name}</option>`)}
        </select>
      </div>
      <div style="flex:1"><${Field} label="Expires on (optional)" name="expires_at" type="date" value=${expires} onInput=${setExpires} error=${error} /></div>
    </div>
    <label>Scopes (at most your own permissions)</label>
    <${PermissionPicker} catalogue=${catalogue} value=${scopes} onChange=${setScopes} name="scopes" />
    <p><button class="primary" type="submit">Create token</button></p>
  </form>`;
}

function Tokens() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/api-tokens?limit=200`), [org.id]);
  const catalogue = useLoad(() => get("/api/v1/permissions"));
  const revoke = async (t) => {
    if (!confirm(`Revoke ${t.name}? Scripts using it stop working at once.`)) return;
    try {
      await del(`/api/v1/api-tokens/${t.id}`);
      toast(`Revoked ${t.name}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title="API tokens">
    ${catalogue.data && html`<${CreateToken} org=${org} catalogue=${catalogue.data} onCreated=${list.reload} />`}
    <div class="card">
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>Name</th><th>Token</th><th>Scopes</th><th>Created by</th><th>Last used</th><th>Expires</th><th>Status</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (t) => html`<tr data-token=${t.name}>
              <td>${t.name}</td><td><code>${t.prefix}…</code></td>
              <td class="muted" style="font-size:.8rem">${t.scopes.join(", ") || "none"}${t.bot_id ? ` (bot ${t.bot_id})` : ""}</td>
              <td>${t.created_by}</td><td class="muted">${formatDate(t.last_used_at) || "never"}</td>
              <td class="muted">${formatDate(t.expires_at) || "never"}</td>
              <td><span class=${"badge " + (t.status === "active" ? "ok" : "")}>${t.status}</span></td>
              <td>${t.status === "active" && html`<button class="danger" onClick=${() => revoke(t)}>Revoke</button>`}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="8" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="8" class="muted">No tokens yet.</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/api-tokens", Tokens, { nav: { label: "API tokens", section: "Organization", order: 70, requires: "api_tokens.manage" } });
