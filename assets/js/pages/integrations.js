// Integrations: the credentials vault (a create form per type, built from
// the server's per-type schema), status and last error, Test connection,
// Connect (OAuth 2.0) and the log of provider calls. Secrets are typed in
// once and never shown again: the API only says which fields are set.
import { html, Page, useLoad, useState, ErrorBox, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, del } from "../api.js";
import { currentOrg } from "../session.js";
import { t } from "../i18n.js";

const REASONS = () => ({
  access_denied: t("integrations.access_was_refused_at_the"),
  state_invalid: t("integrations.the_sign_in_link_was"),
  state_used: t("integrations.the_sign_in_link_was_2"),
  state_expired: t("integrations.the_sign_in_took_longer"),
  state_wrong_browser: t("integrations.the_sign_in_was_started"),
  token_exchange_failed: t("integrations.the_provider_refused_the_authorization"),
});

/** The result of an OAuth connect, from the callback's redirect. */
function OAuthResult() {
  const q = new URLSearchParams(location.search);
  const result = q.get("oauth");
  if (!result) return null;
  if (result === "connected") {
    return html`<div class="alert ok" id="oauth-result" role="status">${t("integrations.connected_the_tokens_are_stored")}</div>`;
  }
  const reason = q.get("reason") || "error";
  return html`<div class="alert error" id="oauth-result" role="alert" data-reason=${reason}>
    <strong>${t("integrations.the_connection_failed")}</strong> ${q.get("message") || REASONS()[reason] || reason}
    <span class="muted small"> ${t("integrations.reason")} <code>${reason}</code>${t("integrations.nothing_was_stored")}</span>
  </div>`;
}

function SchemaField({ prefix, field, value, onInput, error, secret }) {
  const id = `${prefix}-${field.name}`;
  const name = `${prefix === "cfg" ? "config" : "credentials"}.${field.name}`;
  return html`<div>
    <label for=${id}>${field.label}${field.required ? "" : " " + t("integrations.optional")}</label>
    <input id=${id} name=${name} type=${secret ? "password" : "text"} autocomplete=${secret ? "new-password" : "off"}
      value=${value || ""} onInput=${(e) => onInput(e.target.value)} aria-describedby=${`${id}-help`} />
    <div class="muted small" id=${`${id}-help`}>${field.help}</div>
    <${FieldError} error=${error} name=${name} />
  </div>`;
}

function CreateIntegration({ org, types, onCreated }) {
  const [type, setType] = useState(types[0] ? types[0].type : "");
  const [name, setName] = useState("");
  const [config, setConfig] = useState({});
  const [credentials, setCredentials] = useState({});
  const [scopes, setScopes] = useState("");
  const [error, setError] = useState(null);
  const spec = types.find((tv) => tv.type === type);
  const pick = (tv) => {
    setType(tv);
    setConfig({});
    setCredentials({});
    setScopes("");
    setError(null);
  };
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const body = { type, name };
    const cfg = Object.fromEntries(Object.entries(config).filter(([, v]) => v.trim()));
    const creds = Object.fromEntries(Object.entries(credentials).filter(([, v]) => v.trim()));
    if (Object.keys(cfg).length) body.config = cfg;
    if (Object.keys(creds).length) body.credentials = creds;
    const list = scopes.split(/[\s,]+/).filter(Boolean);
    if (list.length) body.scopes = list;
    try {
      const created = await post(`/api/v1/orgs/${org.id}/integrations`, body);
      toast(`${created.name} saved`);
      setName("");
      setConfig({});
      setCredentials({});
      setScopes("");
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="create-integration" onSubmit=${submit}>
    <h2>${t("integrations.new_integration")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div>
        <label for="integration-type">${t("integrations.service")}</label>
        <select id="integration-type" name="type" value=${type} onChange=${(e) => pick(e.target.value)}>
          ${types.map((tv) => html`<option value=${tv.type}>${tv.label}</option>`)}
        </select>
        <${FieldError} error=${error} name="type" />
      </div>
      <div>
        <label for="integration-name">${t("common.name")}</label>
        <input id="integration-name" name="name" required value=${name} onInput=${(e) => setName(e.target.value)} />
        <${FieldError} error=${error} name="name" />
      </div>
    </div>
    ${spec &&
    html`<p class="muted small">
        ${t("integrations.test_connection_calls")} <code>${spec.test_call}</code>.
        ${spec.oauth === "required" && " " + t("integrations.connect_signs_in_at_the")}
        ${spec.oauth === "optional" && " " + t("integrations.give_a_token_or_the")}
      </p>
      <div class="grid">
        ${spec.config.map(
          (f) => html`<${SchemaField} key=${`c-${type}-${f.name}`} prefix="cfg" field=${f} value=${config[f.name]} error=${error}
            onInput=${(v) => setConfig({ ...config, [f.name]: v })} />`,
        )}
        ${spec.credentials.map(
          (f) => html`<${SchemaField} key=${`s-${type}-${f.name}`} prefix="secret" field=${f} secret value=${credentials[f.name]} error=${error}
            onInput=${(v) => setCredentials({ ...credentials, [f.name]: v })} />`,
        )}
        ${spec.oauth !== "none" &&
        html`<div>
          <label for="integration-scopes">${t("integrations.oauth_scopes_optional")}</label>
          <input id="integration-scopes" name="scopes" value=${scopes} placeholder=${spec.default_scopes.join(" ")}
            onInput=${(e) => setScopes(e.target.value)} />
          <${FieldError} error=${error} name="scopes" />
        </div>`}
      </div>`}
    <p><button class="primary" type="submit">${t("integrations.save_integration")}</button></p>
  </form>`;
}

function Logs({ integration }) {
  const [pages, setPages] = useState([]);
  const query = (after) => get(`/api/v1/integrations/${integration.id}/logs?limit=25${after ? `&after=${after}` : ""}`);
  const first = useLoad(() => query(null), [integration.id, integration.updated_at]);
  const items = first.data ? [first.data, ...pages].flatMap((p) => p.items) : [];
  const last = pages.length ? pages[pages.length - 1] : first.data;
  const more = async () => {
    try {
      setPages([...pages, await query(last.next_cursor)]);
    } catch (err) {
      toastError(err);
    }
  };
  const shown = (r) => {
    if (!r) return "";
    const body = r.body !== undefined ? r.body : r.error;
    return typeof body === "string" ? body : JSON.stringify(body);
  };
  return html`<div class="card" id="integration-logs">
    <h2>${t("integrations.calls_of", { name: integration.name })}</h2>
    <${ErrorBox} error=${first.error} />
    <table>
      <thead><tr><th>${t("common.when")}</th><th>${t("common.action")}</th><th>${t("common.result")}</th><th>${t("integrations.request")}</th><th>${t("integrations.response")}</th><th>${t("common.duration")}</th></tr></thead>
      <tbody>
        ${items.map(
          (l) => html`<tr data-log=${l.id} data-result=${l.result}>
            <td class="muted">${formatDate(l.created_at)}</td>
            <td><code>${l.action}</code></td>
            <td><span class=${"badge " + (l.result === "success" ? "ok" : "bad")}>${l.result}</span>
              ${l.error_message && html`<div class="muted small">${l.error_message}</div>`}</td>
            <td class="muted small"><code>${l.request && l.request.method} ${l.request && l.request.url}</code></td>
            <td class="small">${l.response && l.response.status != null ? html`<strong>${l.response.status}</strong> ` : ""}<code class="excerpt" title=${shown(l.response)}>${shown(l.response).slice(0, 160)}</code></td>
            <td class="muted">${l.duration_ms != null ? `${l.duration_ms} ms` : ""}</td>
          </tr>`,
        )}
        <${Loading} load=${first} cols="6" />
        ${first.data && !items.length && html`<tr><td colspan="6" class="muted">${t("integrations.no_calls_yet")}</td></tr>`}
      </tbody>
    </table>
    ${last && last.next_cursor && html`<p><button type="button" id="more-logs" onClick=${more}>${t("common.load_more")}</button></p>`}
  </div>`;
}

const STATUS_BADGE = { connected: "ok", error: "bad", disconnected: "" };

function Integrations() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/integrations?limit=200`), [org.id]);
  const types = useLoad(() => get(`/api/v1/orgs/${org.id}/integration-types`), [org.id]);
  const [logOf, setLogOf] = useState(null);
  const [result, setResult] = useState(null);
  const specOf = (i) => (types.data || []).find((tv) => tv.type === i.type);
  const test = async (i) => {
    setResult(null);
    try {
      const r = await post(`/api/v1/integrations/${i.id}/test`);
      setResult({ ok: true, name: i.name, account: r.account, ms: r.duration_ms });
    } catch (err) {
      setResult({ ok: false, name: i.name, error: err });
    }
    list.reload();
    setLogOf(i);
  };
  const connect = async (i) => {
    try {
      const r = await post(`/api/v1/integrations/${i.id}/oauth/start`);
      location.assign(r.authorize_url);
    } catch (err) {
      toastError(err);
    }
  };
  const remove = async (i) => {
    if (!confirm(t("integrations.delete_its_stored_credentials_and", { name: i.name }))) return;
    try {
      await del(`/api/v1/integrations/${i.id}`);
      if (logOf && logOf.id === i.id) setLogOf(null);
      toast(t("integrations.deleted", { name: i.name }));
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const current = logOf && list.data ? list.data.items.find((i) => i.id === logOf.id) || logOf : logOf;
  return html`<${Page} title=${t("integrations.integrations")}>
    <p class="muted">${t("integrations.credentials_of_external_services_stored")}</p>
    <${OAuthResult} />
    ${types.data && html`<${CreateIntegration} org=${org} types=${types.data} onCreated=${list.reload} />`}
    ${result &&
    (result.ok
      ? html`<div class="alert ok" id="test-result" role="status">${t("integrations.the_connection_works_ms", { name: result.name, ms: result.ms })}
          <code>${JSON.stringify(result.account)}</code></div>`
      : html`<div id="test-result"><${ErrorBox} error=${result.error} /></div>`)}
    <div class="card">
      <h2>${t("integrations.integrations")}</h2>
      <${ErrorBox} error=${list.error || types.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("integrations.service")}</th><th>${t("common.status")}</th><th>${t("integrations.secrets_set")}</th><th>${t("integrations.last_call")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map((i) => {
            const spec = specOf(i);
            return html`<tr data-integration=${i.id} data-status=${i.status}>
              <td><strong>${i.name}</strong></td>
              <td>${spec ? spec.label : i.type}</td>
              <td><span class=${"badge " + (STATUS_BADGE[i.status] || "")}>${i.status}</span>
                ${i.error_message && html`<div class="alert error small last-error" role="note">${i.error_message}</div>`}</td>
              <td class="muted small">${Object.keys(i.credentials).join(", ") || t("common.none_lower")}</td>
              <td class="muted">${formatDate(i.last_sync_at)}</td>
              <td class="row">
                <button type="button" class="test-connection" onClick=${() => test(i)}>${t("integrations.test_connection")}</button>
                ${spec && spec.oauth !== "none" && html`<button type="button" class="connect" onClick=${() => connect(i)}>${t("integrations.connect")}</button>`}
                <button type="button" class="show-logs" onClick=${() => setLogOf(i)}>${t("integrations.log")}</button>
                <button type="button" class="danger" onClick=${() => remove(i)}>${t("common.delete")}</button>
              </td>
            </tr>`;
          })}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${t("integrations.no_integrations_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
    ${current && html`<${Logs} key=${current.id} integration=${current} />`}
  <//>`;
}

route("/settings/integrations", Integrations, { nav: { label: "nav.integrations", section: "nav.settings", order: 66, requires: "integrations.manage" } });
