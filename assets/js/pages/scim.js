// SCIM provisioning: the base URL for the identity provider, tokens created
// (shown once), rotated, listed with last use and revoked.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, del } from "../api.js";
import { currentOrg } from "../session.js";

function Secret({ secret }) {
  if (!secret) return null;
  return html`<div class="alert ok" role="status">
    <p>Copy the token now and paste it into your identity provider; it is not shown again.</p>
    <code id="new-scim-token">${secret}</code> <${CopyButton} id="copy-scim-token" text=${secret} what="token" />
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
    <h2>New SCIM token</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label="Name (e.g. Okta, Entra ID)" name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:1">
        <label for="scim-role">Role of provisioned members</label>
        <select id="scim-role" name="role" value=${role} onChange=${(e) => setRole(e.target.value)}>
          ${roles.filter((r) => r.name !== "owner").map((r) => html`<option value=${r.name}>${r.name}</option>`)}
        </select>
        <${FieldError} error=${error} name="role" />
      </div>
    </div>
    <p><button class="primary" type="submit">Create token</button></p>
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
  const rotate = async (t) => {
    if (!confirm(`Rotate ${t.name}? The current secret stops working at once; paste the new one into your identity provider.`)) return;
    try {
      const rotated = await post(`/api/v1/scim-tokens/${t.id}/rotate`, {});
      shown(rotated.token);
      toast(`Rotated ${t.name}`);
    } catch (err) {
      toastError(err);
    }
  };
  const revoke = async (t) => {
    if (!confirm(`Revoke ${t.name}? Provisioning with it stops at once.`)) return;
    try {
      await del(`/api/v1/scim-tokens/${t.id}`);
      toast(`Revoked ${t.name}`);
      list.reload();
      settings.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const roleList = roles.data ? (Array.isArray(roles.data) ? roles.data : roles.data.items || []) : [];
  return html`<${Page} title="SCIM provisioning">
    <div class="card">
      <p>Your identity provider (Okta, Microsoft Entra ID, …) creates, updates, deactivates and removes members and teams through SCIM 2.0.
        Deactivating a user there ends their access here at once.</p>
      <${ErrorBox} error=${settings.error} />
      ${settings.data &&
      html`<p><strong>SCIM base URL</strong>
        <span class="row" style="align-items:center"><code id="scim-base-url">${settings.data.base_url}</code> <${CopyButton} id="copy-scim-url" text=${settings.data.base_url} what="URL" /></span></p>
        <p class="muted">Authentication: HTTP header, bearer token (a SCIM token below).</p>`}
    </div>
    <${Secret} secret=${secret} />
    ${roles.data && html`<${CreateScimToken} org=${org} roles=${roleList} onCreated=${shown} />`}
    <div class="card">
      <h2>Tokens</h2>
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>Name</th><th>Token</th><th>Role</th><th>Created by</th><th>Last used</th><th>Status</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (t) => html`<tr data-scim-token=${t.name}>
              <td>${t.name}</td><td><code>${t.prefix}…</code></td><td>${t.role}</td>
              <td>${t.created_by || "—"}</td><td class="muted">${formatDate(t.last_used_at) || "never"}</td>
              <td><span class=${"badge " + (t.status === "active" ? "ok" : "")}>${t.status}</span></td>
              <td>${t.status === "active" &&
              html`<button onClick=${() => rotate(t)}>Rotate</button> <button class="danger" onClick=${() => revoke(t)}>Revoke</button>`}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="7" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="7" class="muted">No SCIM tokens yet. Create one to connect your identity provider.</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/scim", Scim, { nav: { label: "SCIM provisioning", section: "Organization", order: 72, requires: "sso.manage" } });
