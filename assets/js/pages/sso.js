// Single sign-on settings (org admins, `sso.manage`): a setup wizard per
// protocol — OpenID Connect (discovery URL → client → copyable redirect URI)
// and SAML 2.0 (IdP metadata by URL, file or paste → copyable SP entity id,
// ACS URL and metadata URL → certificate status → encrypted assertions with
// our key's certificate to download and its rollover) — a test sign-in for both
// that shows the received claims or attributes without signing in, the
// group → role mapping editor, domains with their verification
// instructions, and the sign-in log with the reason of every refusal.
import { html, Page, useLoad, useState, ErrorBox, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg } from "../session.js";

const ROLES = ["viewer", "agent", "editor", "admin"];

function CreateOidc({ org, onCreated }) {
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
  return html`<form id="create-sso" onSubmit=${submit}>
    <h3>New OpenID Connect configuration</h3>
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

function CreateSaml({ org, onCreated }) {
  const empty = { name: "", source: "url", idp_metadata_url: "", idp_metadata_xml: "", next_certificate: "", email_attribute: "", allow_idp_initiated: false, encrypt_assertions: false, default_role: "viewer" };
  const [form, setForm] = useState(empty);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  const readFile = async (e) => {
    const file = e.target.files && e.target.files[0];
    if (file) setForm({ ...form, idp_metadata_xml: await file.text() });
  };
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const saml = { allow_idp_initiated: form.allow_idp_initiated, encrypt_assertions: form.encrypt_assertions };
      if (form.source === "url") saml.idp_metadata_url = form.idp_metadata_url;
      else saml.idp_metadata_xml = form.idp_metadata_xml;
      if (form.next_certificate.trim()) saml.idp_certificates = [form.next_certificate];
      if (form.email_attribute.trim()) saml.email_attribute = form.email_attribute;
      const created = await post(`/api/v1/orgs/${org.id}/sso/configurations`, {
        protocol: "saml", enabled: false, name: form.name, default_role: form.default_role, saml,
      });
      const warned = created.warnings && created.warnings.length;
      toast(warned ? `${created.name} saved, with warnings: see its certificate status` : `${created.name} saved: give the IdP the values shown`);
      setForm(empty);
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form id="create-saml" onSubmit=${submit}>
    <h3>New SAML 2.0 configuration</h3>
    <ol class="muted small">
      <li>At your identity provider (Entra ID, Okta, Google Workspace, AD FS, Keycloak, Authentik…), create a SAML application.</li>
      <li>Give its metadata here: its URL (re-read every 6 hours, so certificate rollovers are followed) or the XML file.</li>
      <li>Save, then give the IdP the entity id and ACS URL shown (or our metadata URL), run a test sign-in, add and verify your domain, and enable.</li>
    </ol>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div>
        <label for="saml-name">Name</label>
        <input id="saml-name" name="name" value=${form.name} onInput=${set("name")} aria-describedby="saml-name-help" />
        <div class="muted small" id="saml-name-help">Shown to admins, e.g. “Entra ID”.</div>
        <${FieldError} error=${error} name="name" />
      </div>
      <fieldset>
        <legend>IdP metadata</legend>
        <label><input type="radio" name="source" value="url" checked=${form.source === "url"} onChange=${set("source")} /> From its URL</label>
        <label><input type="radio" name="source" value="xml" checked=${form.source === "xml"} onChange=${set("source")} /> Upload or paste the XML</label>
      </fieldset>
      ${form.source === "url"
        ? html`<div>
            <label for="saml-metadata-url">Metadata URL</label>
            <input id="saml-metadata-url" name="saml.idp_metadata_url" type="url" value=${form.idp_metadata_url} onInput=${set("idp_metadata_url")}
              aria-describedby="saml-metadata-url-help" placeholder="https://login.microsoftonline.com/{tenant}/federationmetadata/2007-06/federationmetadata.xml" />
            <div class="muted small" id="saml-metadata-url-help">Fetched now and re-read in the background.</div>
            <${FieldError} error=${error} name="saml.idp_metadata_url" />
          </div>`
        : html`<div>
            <label for="saml-metadata-file">Metadata file</label>
            <input id="saml-metadata-file" type="file" accept=".xml,application/xml,text/xml" onChange=${readFile} />
            <label for="saml-metadata-xml">Metadata XML</label>
            <textarea id="saml-metadata-xml" name="saml.idp_metadata_xml" rows="6" value=${form.idp_metadata_xml} onInput=${set("idp_metadata_xml")}></textarea>
            <${FieldError} error=${error} name="saml.idp_metadata_xml" />
          </div>`}
      <div>
        <label for="saml-next-cert">Next signing certificate (optional, PEM)</label>
        <textarea id="saml-next-cert" name="saml.idp_certificates[0]" rows="3" value=${form.next_certificate} onInput=${set("next_certificate")}
          aria-describedby="saml-next-cert-help" placeholder="-----BEGIN CERTIFICATE-----"></textarea>
        <div class="muted small" id="saml-next-cert-help">During a certificate rollover: responses signed with either certificate are accepted.</div>
        <${FieldError} error=${error} name="saml.idp_certificates[0]" />
      </div>
      <div>
        <label for="saml-email-attr">Email attribute (optional)</label>
        <input id="saml-email-attr" name="saml.email_attribute" value=${form.email_attribute} onInput=${set("email_attribute")} aria-describedby="saml-email-attr-help" />
        <div class="muted small" id="saml-email-attr-help">Default: <code>email</code>, <code>mail</code>, the emailaddress claim, else the NameID.</div>
      </div>
      <div>
        <label for="saml-default-role">Role of new members</label>
        <select id="saml-default-role" name="default_role" value=${form.default_role} onChange=${set("default_role")}>
          ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
        <${FieldError} error=${error} name="default_role" />
      </div>
      <div>
        <label><input type="checkbox" name="saml.allow_idp_initiated" checked=${form.allow_idp_initiated} onChange=${set("allow_idp_initiated")} />
          Allow IdP-initiated sign-in (from the IdP's app portal)</label>
        <div class="muted small">Off by default: such sign-ins cannot be tied to this browser.</div>
      </div>
      <div>
        <label><input type="checkbox" name="saml.encrypt_assertions" checked=${form.encrypt_assertions} onChange=${set("encrypt_assertions")} />
          IdP encrypts assertions</label>
        <div class="muted small">We generate an encryption key pair; its certificate is in our SP metadata (and downloadable) for the IdP. Unencrypted assertions are then refused.</div>
      </div>
    </div>
    <p><button class="primary" type="submit" disabled=${busy}>${busy ? "Reading metadata…" : "Save configuration"}</button></p>
  </form>`;
}

function CreateConfiguration({ org, onCreated }) {
  const [protocol, setProtocol] = useState("oidc");
  return html`<div class="card" id="new-sso">
    <h2>New SSO configuration</h2>
    <fieldset class="row">
      <legend>Protocol</legend>
      <label><input type="radio" name="protocol" value="oidc" checked=${protocol === "oidc"} onChange=${() => setProtocol("oidc")} /> OpenID Connect</label>
      <label><input type="radio" name="protocol" value="saml" checked=${protocol === "saml"} onChange=${() => setProtocol("saml")} /> SAML 2.0</label>
    </fieldset>
    ${protocol === "oidc" ? html`<${CreateOidc} org=${org} onCreated=${onCreated} />` : html`<${CreateSaml} org=${org} onCreated=${onCreated} />`}
  </div>`;
}

function Warnings({ config }) {
  if (!config.warnings || !config.warnings.length) return null;
  return html`<div class="alert warn" role="alert" data-warnings=${config.id}>
    <ul>${config.warnings.map((w) => html`<li><code>${w.code}</code> ${w.message}</li>`)}</ul>
  </div>`;
}

function SamlDetails({ config }) {
  const sp = config.saml_sp;
  const idp = config.saml || {};
  const copy = (label, value, id) => html`<div><dt>${label}</dt><dd><code id=${id}>${value}</code> <${CopyButton} text=${value} what=${label} /></dd></div>`;
  return html`<dl class="grid small saml-sp">
    ${copy("SP entity id (audience)", sp.entity_id, `sp-entity-${config.id}`)}
    ${copy("ACS URL (HTTP-POST)", sp.acs_url, `sp-acs-${config.id}`)}
    ${copy("SP metadata URL", sp.metadata_url, `sp-metadata-${config.id}`)}
    <div><dt>IdP entity id</dt><dd><code>${idp.idp_entity_id}</code></dd></div>
    <div><dt>IdP sign-on URL</dt><dd class="muted">${idp.idp_sso_url}</dd></div>
    <div><dt>Certificates</dt><dd>${(idp.idp_certificates || []).length} signing certificate(s)
      ${config.warnings && config.warnings.some((w) => w.code.startsWith("certificate_")) ? html` <span class="badge bad">check dates</span>` : html` <span class="badge ok">in force</span>`}
      ${idp.idp_metadata_url && html`<div class="muted">from ${idp.idp_metadata_url}${config.refreshed_at ? `, re-read ${formatDate(config.refreshed_at)}` : ""}</div>`}</dd></div>
    <div><dt>IdP-initiated sign-in</dt><dd>${idp.allow_idp_initiated ? "allowed" : "off"}</dd></div>
    <div><dt>Encrypted assertions</dt><dd>${idp.encrypt_assertions ? "required" : "not required"}</dd></div>
  </dl>`;
}

// Saves a certificate as a file (it is public: the IdP encrypts to it).
function download(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

const KEY_STATUS = {
  current: "current — published, the IdP should use it",
  next: "next — published beside the current key, decrypts too",
  previous: "previous — no longer published, still decrypts until retired",
};

/** Our SAML encryption keys: the switch, certificates to download, and the rollover. */
function SamlEncryption({ config, onChanged }) {
  const keys = config.saml_encryption_keys || [];
  const required = !!(config.saml && config.saml.encrypt_assertions);
  const has = (status) => keys.some((k) => k.status === status);
  const [busy, setBusy] = useState(false);
  const act = async (action, done) => {
    setBusy(true);
    try {
      await action();
      toast(done);
      onChanged();
    } catch (err) {
      toastError(err);
    } finally {
      setBusy(false);
    }
  };
  const base = `/api/v1/sso/configurations/${config.id}/saml/encryption-keys`;
  const toggle = (e) => {
    const on = e.target.checked;
    act(() => patch(`/api/v1/sso/configurations/${config.id}`, { saml: { ...config.saml, encrypt_assertions: on } }),
      on ? "Assertions must now be encrypted: give the IdP our certificate" : "Unencrypted assertions are accepted again");
  };
  const retire = (k) => {
    if (!confirm(`Retire the ${k.status} key? Assertions encrypted to it will be refused.`)) return;
    act(() => del(`${base}/${k.id}`), "Key retired");
  };
  return html`<div class="saml-encryption" id=${`saml-encryption-${config.id}`}>
    <h3>Encrypted assertions</h3>
    <label><input type="checkbox" class="encrypt-assertions" checked=${required} disabled=${busy} onChange=${toggle} />
      IdP encrypts assertions (unencrypted ones are refused)</label>
    <p class="muted small">Give the IdP the current certificate (or our SP metadata URL). For a rollover: generate the next key,
      let the IdP learn it (both are published and both decrypt), promote it, then retire the previous key.</p>
    ${keys.length
      ? html`<table class="keys">
          <thead><tr><th>Status</th><th>Certificate</th><th>Valid until</th><th></th></tr></thead>
          <tbody>${keys.map(
            (k) => html`<tr data-key-status=${k.status}>
              <td><span class=${"badge " + (k.status === "current" ? "ok" : "")}>${k.status}</span>
                <div class="muted small">${KEY_STATUS[k.status]}</div></td>
              <td><code>${k.subject}</code><div class="muted small" title="SHA-256 fingerprint">SHA-256 ${k.sha256_fingerprint.slice(0, 23)}…</div></td>
              <td>${formatDate(k.not_after)}</td>
              <td class="row">
                <button type="button" class="download-cert" onClick=${() => download(`sp-encryption-${k.status}-${config.id}.crt`, k.certificate_pem)}>Download certificate</button>
                ${(k.status !== "current" || !required) && html`<button type="button" class="danger retire-key" disabled=${busy} onClick=${() => retire(k)}>Retire</button>`}
              </td>
            </tr>`,
          )}</tbody>
        </table>`
      : html`<p class="muted small">No encryption key yet.</p>`}
    <p class="row">
      ${!has("next") && html`<button type="button" class="generate-key" disabled=${busy} onClick=${() => act(() => post(base), has("current") ? "Next key generated and published" : "Key generated and published")}>
        ${busy ? "Generating…" : has("current") ? "Generate next key" : "Generate key"}</button>`}
      ${has("next") && html`<button type="button" class="promote-key" disabled=${busy} onClick=${() => act(() => post(`${base}/promote`), "Next key promoted")}>Promote next key</button>`}
    </p>
  </div>`;
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
    <${Warnings} config=${config} />
    ${config.protocol === "saml"
      ? html`<${SamlDetails} config=${config} /><${SamlEncryption} config=${config} onChanged=${onChanged} />`
      : html`<dl class="grid small">
      <div><dt>Redirect URI (give it to the IdP)</dt><dd><code id=${`redirect-${config.id}`}>${config.redirect_uri}</code>
        <${CopyButton} text=${config.redirect_uri} what="redirect URI" /></dd></div>
      <div><dt>Issuer</dt><dd><code>${config.issuer_url}</code></dd></div>
      <div><dt>Client id</dt><dd><code>${config.client_id}</code> ${config.client_secret_set ? "(secret set)" : "(no secret: public client)"}</dd></div>
      <div><dt>Endpoints</dt><dd class="muted">${config.authorization_url}<br />${config.token_url}<br />${config.jwks_url}</dd></div>
    </dl>`}
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
    <p class="muted">Members sign in through your identity provider (OpenID Connect or SAML 2.0). Accounts are created at first sign-in and their role follows the IdP's groups.</p>
    ${test === "success" && html`<div class="alert ok" role="status" id="sso-test-outcome">Test sign-in succeeded: the claims or attributes received are below.</div>`}
    ${test === "failed" && html`<div class="alert error" role="alert" id="sso-test-outcome">Test sign-in refused: <code>${q.get("reason")}</code>.</div>`}
    <${ErrorBox} error=${list.error} />
    ${list.data && list.data.map((c) => html`<${Configuration} key=${c.id} config=${c} onChanged=${list.reload} />`)}
    <${CreateConfiguration} org=${org} onCreated=${list.reload} />
    ${list.data && html`<${Domains} org=${org} configs=${list.data} />`}
    <${LoginLog} org=${org} />
  <//>`;
}

route("/settings/sso", Sso, { nav: { label: "Single sign-on", section: "Settings", order: 67, requires: "sso.manage" } });
