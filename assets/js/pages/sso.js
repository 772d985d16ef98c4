// Single sign-on settings (org admins, `sso.manage`): the OpenID Connect
// setup wizard (discovery URL → client → copyable redirect URI → test
// sign-in showing the received claims), the group → role mapping editor,
// domains with their verification instructions, and the sign-in log.
import { html, Page, useLoad, useState, ErrorBox, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg } from "../session.js";

const ROLES = ["viewer", "agent", "editor", "admin"];

function CreateConfiguration({ org, onCreated }) {
  const [form, setForm] = useState({ name: "", issuer_url: "", client_id: "", client_secret: "", scopes: "openid profile email", default_role: "viewer" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const body = { protocol: "oidc", enabled: false, ...form };
      if (!body.client_secret) delete body.client_secret;
      const created = await post(`/api/v1/orgs/${org.id}/sso/configurations`, body);
      toast(`${created.name} saved: endpoints read from the discovery document`);
      setForm({ ...form, name: "", issuer_url: "", client_id: "", client_secret: "" });
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const input = (id, label, key, help, type = "text") => html`<div>
    <label for=${id}>${label}</label>
    <input id=${id} name=${key} type=${type} value=${form[key]} onInput=${set(key)} aria-describedby=${`${id}-help`}
      autocomplete=${type === "password" ? "new-password" : "off"} />
    <div class="muted small" id=${`${id}-help`}>${help}</div>
    <${FieldError} error=${error} name=${key} />
  </div>`;
  return html`<form class="card" id="create-sso" onSubmit=${submit}>
    <h2>New OpenID Connect configuration</h2>
    <ol class="muted small">
      <li>At your identity provider (Okta, Microsoft Entra ID, Google Workspace, Keycloak, Authentik…), create a web application
        using the authorization-code flow, with the redirect URI shown after saving.</li>
      <li>Give its issuer URL: the endpoints are read from <code>/.well-known/openid-configuration</code>.</li>
      <li>Save, copy the redirect URI to the IdP, run a test sign-in, then add and verify your domain and enable.</li>
    </ol>
    <${ErrorBox} error=${error} />
    <div class="grid">
      ${input("sso-name", "Name", "name", "Shown to admins, e.g. “Okta”.")}
      ${input("sso-issuer", "Issuer (discovery) URL", "issuer_url", "e.g. https://login.microsoftonline.com/{tenant}/v2.0")}
      ${input("sso-client", "Client id", "client_id", "The application's client id at the IdP.")}
      ${input("sso-secret", "Client secret", "client_secret", "Stored encrypted, never shown again.", "password")}
      ${input("sso-scopes", "Scopes", "scopes", "Must include openid.")}
      <div>
        <label for="sso-default-role">Role of new members</label>
        <select id="sso-default-role" name="default_role" value=${form.default_role} onChange=${set("default_role")}>
          ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
        <${FieldError} error=${error} name="default_role" />
      </div>
    </div>
    <p><button class="primary" type="submit" disabled=${busy}>${busy ? "Reading discovery…" : "Save configuration"}</button></p>
  </form>`;
}

function MappingEditor({ config, onSaved }) {
  const [claim, setClaim] = useState(config.mapping.groups_claim);
  const [rules, setRules] = useState(config.mapping.rules.map((r) => ({ ...r, teams: (r.teams || []).join(", ") })));
  const [error, setError] = useState(null);
  const update = (i, k, v) => setRules(rules.map((r, j) => (j === i ? { ...r, [k]: v } : r)));
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const mapping = {
        groups_claim: claim,
        rules: rules.map((r) => ({
          group: r.group,
          role: r.role || null,
          teams: String(r.teams || "").split(/[\s,]+/).filter(Boolean).map(Number),
        })),
      };
      await patch(`/api/v1/sso/configurations/${config.id}`, { mapping });
      toast("Mapping saved: it applies at each sign-in");
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="mapping" onSubmit=${save} id=${`mapping-${config.id}`}>
    <h3>Group → role and team mapping</h3>
    <p class="muted small">The first rule whose group the user has sets the role (else the default role); teams of every matching rule are joined. Owners keep their role.</p>
    <${ErrorBox} error=${error} />
    <label for=${`claim-${config.id}`}>Groups claim</label>
    <input id=${`claim-${config.id}`} name="mapping.groups_claim" value=${claim} onInput=${(e) => setClaim(e.target.value)}
      aria-describedby=${`claim-${config.id}-help`} />
    <div class="muted small" id=${`claim-${config.id}-help`}><code>groups</code> (Okta, Keycloak, Entra groups), <code>roles</code> (Entra app roles).</div>
    <table>
      <thead><tr><th>IdP group</th><th>Role</th><th>Team ids</th><th></th></tr></thead>
      <tbody>
        ${rules.map(
          (r, i) => html`<tr>
            <td><input aria-label="IdP group" name=${`mapping.rules[${i}].group`} value=${r.group} onInput=${(e) => update(i, "group", e.target.value)} />
              <${FieldError} error=${error} name=${`mapping.rules[${i}].group`} /></td>
            <td><select aria-label="Role" value=${r.role || ""} onChange=${(e) => update(i, "role", e.target.value)}>
              <option value="">(no role)</option>${ROLES.map((x) => html`<option value=${x}>${x}</option>`)}</select>
              <${FieldError} error=${error} name=${`mapping.rules[${i}].role`} /></td>
            <td><input aria-label="Team ids" value=${r.teams} onInput=${(e) => update(i, "teams", e.target.value)} />
              <${FieldError} error=${error} name=${`mapping.rules[${i}].teams`} /></td>
            <td><button type="button" class="danger" onClick=${() => setRules(rules.filter((_, j) => j !== i))}>Remove</button></td>
          </tr>`,
        )}
        ${!rules.length && html`<tr><td colspan="4" class="muted">No rules: everyone gets the default role.</td></tr>`}
      </tbody>
    </table>
    <p class="row">
      <button type="button" onClick=${() => setRules([...rules, { group: "", role: "", teams: "" }])}>Add rule</button>
      <button class="primary" type="submit">Save mapping</button>
    </p>
  </form>`;
}

function TestResult({ config }) {
  const result = useLoad(() => get(`/api/v1/sso/configurations/${config.id}/test-result`), [config.id]);
  if (!result.data || result.data.status === "none") return null;
  const r = result.data;
  return html`<div class="test-result" data-status=${r.status}>
    <h3>Last test sign-in (${formatDate(r.created_at)})</h3>
    ${r.status === "success"
      ? html`<div class="alert ok" role="status">The IdP's answer was valid. Mapped to role <strong>${r.mapped.role}</strong>${r.mapped.teams && r.mapped.teams.length ? `, teams ${r.mapped.teams.join(", ")}` : ""}.</div>`
      : html`<div class="alert error" role="alert">Refused: <code>${r.reason}</code></div>`}
    <pre class="claims">${JSON.stringify(r.claims, null, 2)}</pre>
  </div>`;
}

function Configuration({ config, onChanged }) {
  const toggle = async (field, value) => {
    try {
      await patch(`/api/v1/sso/configurations/${config.id}`, { [field]: value });
      onChanged();
    } catch (err) {
      toastError(err);
    }
  };
  const test = async () => {
    try {
      const r = await post(`/api/v1/sso/configurations/${config.id}/test`);
      location.assign(r.authorize_url);
    } catch (err) {
      toastError(err);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete ${config.name}, its domains and its user links? Users keep their accounts.`)) return;
    try {
      await del(`/api/v1/sso/configurations/${config.id}`);
      onChanged();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<section class="card" data-sso-configuration=${config.id}>
    <h2>${config.name} <span class="badge">${config.protocol.toUpperCase()}</span>
      <span class=${"badge " + (config.enabled ? "ok" : "")}>${config.enabled ? "enabled" : "disabled"}</span>
      ${config.enforced && html`<span class="badge bad">enforced</span>`}</h2>
    <dl class="grid small">
      <div><dt>Redirect URI (give it to the IdP)</dt><dd><code id=${`redirect-${config.id}`}>${config.redirect_uri}</code>
        <${CopyButton} text=${config.redirect_uri} what="redirect URI" /></dd></div>
      <div><dt>Issuer</dt><dd><code>${config.issuer_url}</code></dd></div>
      <div><dt>Client id</dt><dd><code>${config.client_id}</code> ${config.client_secret_set ? "(secret set)" : "(no secret: public client)"}</dd></div>
      <div><dt>Endpoints</dt><dd class="muted">${config.authorization_url}<br />${config.token_url}<br />${config.jwks_url}</dd></div>
    </dl>
    <p class="row">
      <button type="button" class="test-sso" onClick=${test}>Test sign-in</button>
      <button type="button" onClick=${() => toggle("enabled", !config.enabled)}>${config.enabled ? "Disable" : "Enable"}</button>
      ${config.enabled &&
      html`<button type="button" onClick=${() => toggle("enforced", !config.enforced)}
        title="Password sign-in and reset are refused for users of this configuration's verified domains (API tokens still work)">
        ${config.enforced ? "Stop enforcing" : "Enforce SSO"}</button>`}
      <button type="button" class="danger" onClick=${remove}>Delete</button>
    </p>
    <${TestResult} config=${config} />
    <${MappingEditor} key=${config.updated_at} config=${config} onSaved=${onChanged} />
  </section>`;
}

function Domains({ org, configs }) {
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/sso/domains`), [org.id]);
  const [domain, setDomain] = useState("");
  const [configId, setConfigId] = useState(configs[0] ? String(configs[0].id) : "");
  const [error, setError] = useState(null);
  const add = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/orgs/${org.id}/sso/domains`, { domain, sso_configuration_id: Number(configId) });
      setDomain("");
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const verify = async (d, method) => {
    try {
      await post(`/api/v1/sso/domains/${d.id}/verify`, { method });
      toast(`${d.domain} verified`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const remove = async (d) => {
    if (!confirm(`Release ${d.domain}?`)) return;
    try {
      await del(`/api/v1/sso/domains/${d.id}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="sso-domains">
    <h2>Domains</h2>
    <p class="muted">Sign-in is routed by the email's domain once the domain is verified. A domain belongs to one organization.</p>
    <${ErrorBox} error=${list.error} />
    <form class="row" onSubmit=${add}>
      <div>
        <label for="sso-domain">Domain</label>
        <input id="sso-domain" name="domain" placeholder="example.com" required value=${domain} onInput=${(e) => setDomain(e.target.value)} />
        <${FieldError} error=${error} name="domain" />
      </div>
      <div>
        <label for="sso-domain-config">Configuration</label>
        <select id="sso-domain-config" name="sso_configuration_id" value=${configId} onChange=${(e) => setConfigId(e.target.value)}>
          ${configs.map((c) => html`<option value=${c.id}>${c.name}</option>`)}
        </select>
      </div>
      <button class="primary" type="submit" disabled=${!configs.length}>Add domain</button>
    </form>
    ${error && !error.field && html`<${ErrorBox} error=${error} />`}
    <table>
      <thead><tr><th>Domain</th><th>Status</th><th>How to verify</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.map(
          (d) => html`<tr data-domain=${d.domain} data-verified=${d.verified}>
            <td><strong>${d.domain}</strong></td>
            <td>${d.verified ? html`<span class="badge ok">verified (${d.verification_method})</span>` : html`<span class="badge">unverified</span>`}</td>
            <td class="small">${d.verified
              ? formatDate(d.verified_at)
              : html`<div>DNS TXT record <code>${d.dns_record_name}</code> = <code>${d.dns_record_value}</code>
                    <${CopyButton} text=${d.dns_record_value} what="TXT value" /></div>
                  <div class="muted">or a file at <code>${d.http_url}</code> containing that value (air-gapped installs: ask your instance administrator to approve it).</div>`}</td>
            <td class="row">
              ${!d.verified &&
              html`<button type="button" onClick=${() => verify(d, "dns")}>Verify by DNS</button>
                <button type="button" onClick=${() => verify(d, "http")}>Verify by file</button>`}
              <button type="button" class="danger" onClick=${() => remove(d)}>Remove</button>
            </td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="4" />
        ${list.data && !list.data.length && html`<tr><td colspan="4" class="muted">No domains yet.</td></tr>`}
      </tbody>
    </table>
  </div>`;
}

function LoginLog({ org }) {
  const [pages, setPages] = useState([]);
  const query = (after) => get(`/api/v1/orgs/${org.id}/sso/logins?limit=25${after ? `&after=${after}` : ""}`);
  const first = useLoad(() => query(null), [org.id]);
  const items = first.data ? [first.data, ...pages].flatMap((p) => p.items) : [];
  const last = pages.length ? pages[pages.length - 1] : first.data;
  const more = async () => {
    try {
      setPages([...pages, await query(last.next_cursor)]);
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="sso-log">
    <h2>Sign-in log</h2>
    <${ErrorBox} error=${first.error} />
    <table>
      <thead><tr><th>When</th><th>Email</th><th>Result</th><th>Reason</th><th>IP</th></tr></thead>
      <tbody>
        ${items.map(
          (l) => html`<tr data-status=${l.status}>
            <td class="muted">${formatDate(l.created_at)}</td>
            <td>${l.email || html`<span class="muted">—</span>`}</td>
            <td><span class=${"badge " + (l.status === "success" ? "ok" : "bad")}>${l.status}</span></td>
            <td>${l.reason && html`<code>${l.reason}</code>`} <span class="muted small">${l.message}</span></td>
            <td class="muted">${l.ip_address}</td>
          </tr>`,
        )}
        <${Loading} load=${first} cols="5" />
        ${first.data && !items.length && html`<tr><td colspan="5" class="muted">No sign-ins yet.</td></tr>`}
      </tbody>
    </table>
    ${last && last.next_cursor && html`<p><button type="button" onClick=${more}>Load more</button></p>`}
  </div>`;
}

function Sso() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/sso/configurations`), [org.id]);
  const q = new URLSearchParams(location.search);
  const test = q.get("test");
  return html`<${Page} title="Single sign-on">
    <p class="muted">Members sign in through your identity provider (OpenID Connect). Accounts are created at first sign-in and their role follows the IdP's groups.</p>
    ${test === "success" && html`<div class="alert ok" role="status" id="sso-test-outcome">Test sign-in succeeded: the claims received are below.</div>`}
    ${test === "failed" && html`<div class="alert error" role="alert" id="sso-test-outcome">Test sign-in refused: <code>${q.get("reason")}</code>.</div>`}
    <${ErrorBox} error=${list.error} />
    ${list.data && list.data.map((c) => html`<${Configuration} key=${c.id} config=${c} onChanged=${list.reload} />`)}
    <${CreateConfiguration} org=${org} onCreated=${list.reload} />
    ${list.data && html`<${Domains} org=${org} configs=${list.data} />`}
    <${LoginLog} org=${org} />
  <//>`;
}

route("/settings/sso", Sso, { nav: { label: "Single sign-on", section: "Settings", order: 67, requires: "sso.manage" } });
