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
import { t } from "../i18n.js";

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
      toast(t("sso.saved_endpoints_read_from_the", { name: created.name }));
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
    <h3>${t("sso.new_openid_connect_configuration")}</h3>
    <ol class="muted small">
      <li>${t("sso.at_your_identity_provider_okta")}</li>
      <li>${t("sso.give_its_issuer_url_the")} <code>/.well-known/openid-configuration</code>.</li>
      <li>${t("sso.save_copy_the_redirect_uri")}</li>
    </ol>
    <${ErrorBox} error=${error} />
    <div class="grid">
      ${input("sso-name", t("common.name"), "name", t("sso.shown_to_admins_e_g_2"))}
      ${input("sso-issuer", t("sso.issuer_discovery_url"), "issuer_url", t("sso.e_g_https_login_microsoftonline"))}
      ${input("sso-client", t("sso.client_id"), "client_id", t("sso.the_application_s_client_id"))}
      ${input("sso-secret", t("sso.client_secret"), "client_secret", t("sso.stored_encrypted_never_shown_again"), "password")}
      ${input("sso-scopes", t("sso.scopes"), "scopes", t("sso.must_include_openid"))}
      <div>
        <label for="sso-default-role">${t("sso.role_of_new_members")}</label>
        <select id="sso-default-role" name="default_role" value=${form.default_role} onChange=${set("default_role")}>
          ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
        <${FieldError} error=${error} name="default_role" />
      </div>
    </div>
    <p><button class="primary" type="submit" disabled=${busy}>${busy ? t("sso.reading_discovery") : t("sso.save_configuration")}</button></p>
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
      toast(warned ? t("sso.saved_with_warnings", { name: created.name }) : t("sso.saved_give_the_idp", { name: created.name }));
      setForm(empty);
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form id="create-saml" onSubmit=${submit}>
    <h3>${t("sso.new_saml_2_0_configuration")}</h3>
    <ol class="muted small">
      <li>${t("sso.at_your_identity_provider_entra")}</li>
      <li>${t("sso.give_its_metadata_here_its")}</li>
      <li>${t("sso.save_then_give_the_idp")}</li>
    </ol>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div>
        <label for="saml-name">${t("common.name")}</label>
        <input id="saml-name" name="name" value=${form.name} onInput=${set("name")} aria-describedby="saml-name-help" />
        <div class="muted small" id="saml-name-help">${t("sso.shown_to_admins_e_g")}</div>
        <${FieldError} error=${error} name="name" />
      </div>
      <fieldset>
        <legend>${t("sso.idp_metadata")}</legend>
        <label><input type="radio" name="source" value="url" checked=${form.source === "url"} onChange=${set("source")} /> ${t("sso.from_its_url")}</label>
        <label><input type="radio" name="source" value="xml" checked=${form.source === "xml"} onChange=${set("source")} /> ${t("sso.upload_or_paste_the_xml")}</label>
      </fieldset>
      ${form.source === "url"
        ? html`<div>
            <label for="saml-metadata-url">${t("sso.metadata_url")}</label>
            <input id="saml-metadata-url" name="saml.idp_metadata_url" type="url" value=${form.idp_metadata_url} onInput=${set("idp_metadata_url")}
              aria-describedby="saml-metadata-url-help" placeholder=${t("sso.https_login_microsoftonline_com_federati")} />
            <div class="muted small" id="saml-metadata-url-help">${t("sso.fetched_now_and_re_read")}</div>
            <${FieldError} error=${error} name="saml.idp_metadata_url" />
          </div>`
        : html`<div>
            <label for="saml-metadata-file">${t("sso.metadata_file")}</label>
            <input id="saml-metadata-file" type="file" accept=".xml,application/xml,text/xml" onChange=${readFile} />
            <label for="saml-metadata-xml">${t("sso.metadata_xml")}</label>
            <textarea id="saml-metadata-xml" name="saml.idp_metadata_xml" rows="6" value=${form.idp_metadata_xml} onInput=${set("idp_metadata_xml")}></textarea>
            <${FieldError} error=${error} name="saml.idp_metadata_xml" />
          </div>`}
      <div>
        <label for="saml-next-cert">${t("sso.next_signing_certificate_optional_pem")}</label>
        <textarea id="saml-next-cert" name="saml.idp_certificates[0]" rows="3" value=${form.next_certificate} onInput=${set("next_certificate")}
          aria-describedby="saml-next-cert-help" placeholder=${t("sso.begin_certificate")}></textarea>
        <div class="muted small" id="saml-next-cert-help">${t("sso.during_a_certificate_rollover_responses")}</div>
        <${FieldError} error=${error} name="saml.idp_certificates[0]" />
      </div>
      <div>
        <label for="saml-email-attr">${t("sso.email_attribute_optional")}</label>
        <input id="saml-email-attr" name="saml.email_attribute" value=${form.email_attribute} onInput=${set("email_attribute")} aria-describedby="saml-email-attr-help" />
        <div class="muted small" id="saml-email-attr-help">${t("sso.default")} <code>email</code>, <code>mail</code>${t("sso.the_emailaddress_claim_else_the")}</div>
      </div>
      <div>
        <label for="saml-default-role">${t("sso.role_of_new_members")}</label>
        <select id="saml-default-role" name="default_role" value=${form.default_role} onChange=${set("default_role")}>
          ${ROLES.map((r) => html`<option value=${r}>${r}</option>`)}
        </select>
        <${FieldError} error=${error} name="default_role" />
      </div>
      <div>
        <label><input type="checkbox" name="saml.allow_idp_initiated" checked=${form.allow_idp_initiated} onChange=${set("allow_idp_initiated")} />
          ${t("sso.allow_idp_initiated_sign_in")}</label>
        <div class="muted small">${t("sso.off_by_default_such_sign")}</div>
      </div>
      <div>
        <label><input type="checkbox" name="saml.encrypt_assertions" checked=${form.encrypt_assertions} onChange=${set("encrypt_assertions")} />
          ${t("sso.idp_encrypts_assertions")}</label>
        <div class="muted small">${t("sso.we_generate_an_encryption_key")}</div>
      </div>
    </div>
    <p><button class="primary" type="submit" disabled=${busy}>${busy ? t("sso.reading_metadata") : t("sso.save_configuration")}</button></p>
  </form>`;
}

function CreateConfiguration({ org, onCreated }) {
  const [protocol, setProtocol] = useState("oidc");
  return html`<div class="card" id="new-sso">
    <h2>${t("sso.new_sso_configuration")}</h2>
    <fieldset class="row">
      <legend>${t("sso.protocol")}</legend>
      <label><input type="radio" name="protocol" value="oidc" checked=${protocol === "oidc"} onChange=${() => setProtocol("oidc")} /> ${t("sso.openid_connect")}</label>
      <label><input type="radio" name="protocol" value="saml" checked=${protocol === "saml"} onChange=${() => setProtocol("saml")} /> ${t("sso.saml_2_0")}</label>
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
    ${copy(t("sso.sp_entity_id_audience"), sp.entity_id, `sp-entity-${config.id}`)}
    ${copy(t("sso.acs_url_http_post"), sp.acs_url, `sp-acs-${config.id}`)}
    ${copy(t("sso.sp_metadata_url"), sp.metadata_url, `sp-metadata-${config.id}`)}
    <div><dt>${t("sso.idp_entity_id")}</dt><dd><code>${idp.idp_entity_id}</code></dd></div>
    <div><dt>${t("sso.idp_sign_on_url")}</dt><dd class="muted">${idp.idp_sso_url}</dd></div>
    <div><dt>${t("sso.certificates")}</dt><dd>${(idp.idp_certificates || []).length} ${t("sso.signing_certificate_s")}
      ${config.warnings && config.warnings.some((w) => w.code.startsWith("certificate_")) ? html` <span class="badge bad">${t("sso.check_dates")}</span>` : html` <span class="badge ok">${t("sso.in_force")}</span>`}
      ${idp.idp_metadata_url && html`<div class="muted">${t("sso.from", { idp_metadata_url: idp.idp_metadata_url })}${config.refreshed_at ? t("sso.re_read", { refreshed_at: formatDate(config.refreshed_at) }) : ""}</div>`}</dd></div>
    <div><dt>${t("sso.idp_initiated_sign_in")}</dt><dd>${idp.allow_idp_initiated ? "allowed" : "off"}</dd></div>
    <div><dt>${t("sso.encrypted_assertions")}</dt><dd>${idp.encrypt_assertions ? t("sso.required") : t("sso.not_required")}</dd></div>
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

const KEY_STATUS = () => ({
  current: t("sso.current_published_the_idp_should"),
  next: t("sso.next_published_beside_the_current"),
  previous: t("sso.previous_no_longer_published_still"),
});

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
      on ? t("sso.assertions_must_now_be_encrypted") : t("sso.unencrypted_assertions_are_accepted_agai"));
  };
  const retire = (k) => {
    if (!confirm(t("sso.retire_the_key_assertions_encrypted", { status: k.status }))) return;
    act(() => del(`${base}/${k.id}`), t("sso.key_retired"));
  };
  return html`<div class="saml-encryption" id=${`saml-encryption-${config.id}`}>
    <h3>${t("sso.encrypted_assertions")}</h3>
    <label><input type="checkbox" class="encrypt-assertions" checked=${required} disabled=${busy} onChange=${toggle} />
      ${t("sso.idp_encrypts_assertions_unencrypted_ones")}</label>
    <p class="muted small">${t("sso.give_the_idp_the_current")}</p>
    ${keys.length
      ? html`<table class="keys">
          <thead><tr><th>${t("common.status")}</th><th>${t("sso.certificate")}</th><th>${t("sso.valid_until")}</th><th></th></tr></thead>
          <tbody>${keys.map(
            (k) => html`<tr data-key-status=${k.status}>
              <td><span class=${"badge " + (k.status === "current" ? "ok" : "")}>${k.status}</span>
                <div class="muted small">${KEY_STATUS()[k.status]}</div></td>
              <td><code>${k.subject}</code><div class="muted small" title=${t("sso.sha_256_fingerprint")}>${t("sso.sha_256")} ${k.sha256_fingerprint.slice(0, 23)}…</div></td>
              <td>${formatDate(k.not_after)}</td>
              <td class="row">
                <button type="button" class="download-cert" onClick=${() => download(`sp-encryption-${k.status}-${config.id}.crt`, k.certificate_pem)}>${t("sso.download_certificate")}</button>
                ${(k.status !== "current" || !required) && html`<button type="button" class="danger retire-key" disabled=${busy} onClick=${() => retire(k)}>${t("sso.retire")}</button>`}
              </td>
            </tr>`,
          )}</tbody>
        </table>`
      : html`<p class="muted small">${t("sso.no_encryption_key_yet")}</p>`}
    <p class="row">
      ${!has("next") && html`<button type="button" class="generate-key" disabled=${busy} onClick=${() => act(() => post(base), has("current") ? t("sso.next_key_generated_and_published") : t("sso.key_generated_and_published"))}>
        ${busy ? t("sso.generating") : has("current") ? t("sso.generate_next_key") : t("sso.generate_key")}</button>`}
      ${has("next") && html`<button type="button" class="promote-key" disabled=${busy} onClick=${() => act(() => post(`${base}/promote`), t("sso.next_key_promoted"))}>${t("sso.promote_next_key")}</button>`}
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
      toast(t("sso.mapping_saved_it_applies_at"));
      onSaved();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="mapping" onSubmit=${save} id=${`mapping-${config.id}`}>
    <h3>${t("sso.group_role_and_team_mapping")}</h3>
    <p class="muted small">${t("sso.the_first_rule_whose_group")}</p>
    <${ErrorBox} error=${error} />
    <label for=${`claim-${config.id}`}>${t("sso.groups_claim")}</label>
    <input id=${`claim-${config.id}`} name="mapping.groups_claim" value=${claim} onInput=${(e) => setClaim(e.target.value)}
      aria-describedby=${`claim-${config.id}-help`} />
    <div class="muted small" id=${`claim-${config.id}-help`}><code>groups</code> ${t("sso.okta_keycloak_entra_groups")} <code>roles</code> ${t("sso.entra_app_roles")}</div>
    <table>
      <thead><tr><th>${t("sso.idp_group")}</th><th>${t("common.role")}</th><th>${t("sso.team_ids")}</th><th></th></tr></thead>
      <tbody>
        ${rules.map(
          (r, i) => html`<tr>
            <td><input aria-label=${t("sso.idp_group")} name=${`mapping.rules[${i}].group`} value=${r.group} onInput=${(e) => update(i, "group", e.target.value)} />
              <${FieldError} error=${error} name=${`mapping.rules[${i}].group`} /></td>
            <td><select aria-label=${t("common.role")} value=${r.role || ""} onChange=${(e) => update(i, "role", e.target.value)}>
              <option value="">${t("sso.no_role")}</option>${ROLES.map((x) => html`<option value=${x}>${x}</option>`)}</select>
              <${FieldError} error=${error} name=${`mapping.rules[${i}].role`} /></td>
            <td><input aria-label=${t("sso.team_ids")} value=${r.teams} onInput=${(e) => update(i, "teams", e.target.value)} />
              <${FieldError} error=${error} name=${`mapping.rules[${i}].teams`} /></td>
            <td><button type="button" class="danger" onClick=${() => setRules(rules.filter((_, j) => j !== i))}>${t("common.remove")}</button></td>
          </tr>`,
        )}
        ${!rules.length && html`<tr><td colspan="4" class="muted">${t("sso.no_rules_everyone_gets_the")}</td></tr>`}
      </tbody>
    </table>
    <p class="row">
      <button type="button" onClick=${() => setRules([...rules, { group: "", role: "", teams: "" }])}>${t("sso.add_rule")}</button>
      <button class="primary" type="submit">${t("sso.save_mapping")}</button>
    </p>
  </form>`;
}

function TestResult({ config }) {
  const result = useLoad(() => get(`/api/v1/sso/configurations/${config.id}/test-result`), [config.id]);
  if (!result.data || result.data.status === "none") return null;
  const r = result.data;
  return html`<div class="test-result" data-status=${r.status}>
    <h3>${t("sso.last_test_sign_in", { created_at: formatDate(r.created_at) })}</h3>
    ${r.status === "success"
      ? html`<div class="alert ok" role="status">${t("sso.the_idp_s_answer_was")} <strong>${r.mapped.role}</strong>${r.mapped.teams && r.mapped.teams.length ? t("sso.teams", { value: (r.mapped.teams.join(", ")) }) : ""}.</div>`
      : html`<div class="alert error" role="alert">${t("sso.refused")} <code>${r.reason}</code></div>`}
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
    if (!confirm(t("sso.delete_its_domains_and_its", { name: config.name }))) return;
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
      ${config.enforced && html`<span class="badge bad">${t("sso.enforced")}</span>`}</h2>
    <${Warnings} config=${config} />
    ${config.protocol === "saml"
      ? html`<${SamlDetails} config=${config} /><${SamlEncryption} config=${config} onChanged=${onChanged} />`
      : html`<dl class="grid small">
      <div><dt>${t("sso.redirect_uri_give_it_to")}</dt><dd><code id=${`redirect-${config.id}`}>${config.redirect_uri}</code>
        <${CopyButton} text=${config.redirect_uri} what=${t("sso.redirect_uri")} /></dd></div>
      <div><dt>${t("sso.issuer")}</dt><dd><code>${config.issuer_url}</code></dd></div>
      <div><dt>${t("sso.client_id")}</dt><dd><code>${config.client_id}</code> ${config.client_secret_set ? t("sso.secret_set") : t("sso.no_secret_public_client")}</dd></div>
      <div><dt>${t("sso.endpoints")}</dt><dd class="muted">${config.authorization_url}<br />${config.token_url}<br />${config.jwks_url}</dd></div>
    </dl>`}
    <p class="row">
      <button type="button" class="test-sso" onClick=${test}>${t("sso.test_sign_in")}</button>
      <button type="button" onClick=${() => toggle("enabled", !config.enabled)}>${config.enabled ? t("sso.disable") : t("sso.enable")}</button>
      ${config.enabled &&
      html`<button type="button" onClick=${() => toggle("enforced", !config.enforced)}
        title=${t("sso.password_sign_in_and_reset")}>
        ${config.enforced ? t("sso.stop_enforcing") : t("sso.enforce_sso")}</button>`}
      <button type="button" class="danger" onClick=${remove}>${t("common.delete")}</button>
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
    if (!confirm(t("sso.release", { domain: d.domain }))) return;
    try {
      await del(`/api/v1/sso/domains/${d.id}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="sso-domains">
    <h2>${t("sso.domains")}</h2>
    <p class="muted">${t("sso.sign_in_is_routed_by")}</p>
    <${ErrorBox} error=${list.error} />
    <form class="row" onSubmit=${add}>
      <div>
        <label for="sso-domain">${t("sso.domain")}</label>
        <input id="sso-domain" name="domain" placeholder=${t("sso.example_com")} required value=${domain} onInput=${(e) => setDomain(e.target.value)} />
        <${FieldError} error=${error} name="domain" />
      </div>
      <div>
        <label for="sso-domain-config">${t("sso.configuration")}</label>
        <select id="sso-domain-config" name="sso_configuration_id" value=${configId} onChange=${(e) => setConfigId(e.target.value)}>
          ${configs.map((c) => html`<option value=${c.id}>${c.name}</option>`)}
        </select>
      </div>
      <button class="primary" type="submit" disabled=${!configs.length}>${t("sso.add_domain")}</button>
    </form>
    ${error && !error.field && html`<${ErrorBox} error=${error} />`}
    <table>
      <thead><tr><th>${t("sso.domain")}</th><th>${t("common.status")}</th><th>${t("sso.how_to_verify")}</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.map(
          (d) => html`<tr data-domain=${d.domain} data-verified=${d.verified}>
            <td><strong>${d.domain}</strong></td>
            <td>${d.verified ? html`<span class="badge ok">${t("sso.verified", { verification_method: d.verification_method })}</span>` : html`<span class="badge">${t("sso.unverified")}</span>`}</td>
            <td class="small">${d.verified
              ? formatDate(d.verified_at)
              : html`<div>${t("sso.dns_txt_record")} <code>${d.dns_record_name}</code> = <code>${d.dns_record_value}</code>
                    <${CopyButton} text=${d.dns_record_value} what=${t("sso.txt_value")} /></div>
                  <div class="muted">${t("sso.or_a_file_at")} <code>${d.http_url}</code> ${t("sso.containing_that_value_air_gapped")}</div>`}</td>
            <td class="row">
              ${!d.verified &&
              html`<button type="button" onClick=${() => verify(d, "dns")}>${t("sso.verify_by_dns")}</button>
                <button type="button" onClick=${() => verify(d, "http")}>${t("sso.verify_by_file")}</button>`}
              <button type="button" class="danger" onClick=${() => remove(d)}>${t("common.remove")}</button>
            </td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="4" />
        ${list.data && !list.data.length && html`<tr><td colspan="4" class="muted">${t("sso.no_domains_yet")}</td></tr>`}
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
    <h2>${t("sso.sign_in_log")}</h2>
    <${ErrorBox} error=${first.error} />
    <table>
      <thead><tr><th>${t("common.when")}</th><th>${t("common.email")}</th><th>${t("common.result")}</th><th>${t("sso.reason")}</th><th>${t("sso.ip")}</th></tr></thead>
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
        ${first.data && !items.length && html`<tr><td colspan="5" class="muted">${t("sso.no_sign_ins_yet")}</td></tr>`}
      </tbody>
    </table>
    ${last && last.next_cursor && html`<p><button type="button" onClick=${more}>${t("common.load_more")}</button></p>`}
  </div>`;
}

function Sso() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/sso/configurations`), [org.id]);
  const q = new URLSearchParams(location.search);
  const test = q.get("test");
  return html`<${Page} title=${t("sso.single_sign_on")}>
    <p class="muted">${t("sso.members_sign_in_through_your")}</p>
    ${test === "success" && html`<div class="alert ok" role="status" id="sso-test-outcome">${t("sso.test_sign_in_succeeded_the")}</div>`}
    ${test === "failed" && html`<div class="alert error" role="alert" id="sso-test-outcome">${t("sso.test_sign_in_refused")} <code>${q.get("reason")}</code>.</div>`}
    <${ErrorBox} error=${list.error} />
    ${list.data && list.data.map((c) => html`<${Configuration} key=${c.id} config=${c} onChanged=${list.reload} />`)}
    <${CreateConfiguration} org=${org} onCreated=${list.reload} />
    ${list.data && html`<${Domains} org=${org} configs=${list.data} />`}
    <${LoginLog} org=${org} />
  <//>`;
}

route("/settings/sso", Sso, { nav: { label: "nav.single_sign_on", section: "nav.settings", order: 67, requires: "sso.manage" } });
