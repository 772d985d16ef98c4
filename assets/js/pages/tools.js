// Tools: the organization's tools for agents and flows. The create/edit form
// is built from the server's type catalogue (each type's config schema);
// the argument schema is edited as JSON and checked by the server (the
// path of a fault inside it is shown); a test-run panel shows the result,
// duration and status; the run log lists every execution with secrets
// already redacted by the server.
import { html, Page, useLoad, useState, ErrorBox, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { t } from "../i18n.js";

const STATUS_BADGE = { ok: "ok", error: "bad", timeout: "bad" };

/** Parses JSON typed in a textarea; throws an error naming the field. */
function parseJson(text, field) {
  try {
    return JSON.parse(text);
  } catch (e) {
    const err = new Error(t("tools.not_valid_json", { field, message: e.message }));
    err.details = { field };
    err.code = "invalid_json";
    Object.defineProperty(err, "field", { get: () => field });
    throw err;
  }
}

const pretty = (v) => JSON.stringify(v, null, 2);

/** Whether a config property is edited as JSON rather than a plain input. */
const isJsonProp = (p) => !p.enum && !["string", "integer", "number", "boolean"].includes(p.type);

/** One field of a type's config, from its JSON Schema property. */
function ConfigField({ name, prop, required, value, onInput, error }) {
  const id = `tool-config-${name}`;
  const field = `config.${name}`;
  const label = `${prop.title || name}${required ? "" : " (optional)"}`;
  let input;
  if (prop.enum) {
    input = html`<select id=${id} name=${field} value=${value ?? ""} onChange=${(e) => onInput(e.target.value)}>
      ${!required && html`<option value="">—</option>`}
      ${prop.enum.map((v) => html`<option value=${v}>${v}</option>`)}
    </select>`;
  } else if (isJsonProp(prop)) {
    input = html`<textarea id=${id} name=${field} rows="4" class="mono" spellcheck="false" value=${value ?? ""}
      placeholder="JSON" onInput=${(e) => onInput(e.target.value)}></textarea>`;
  } else {
    input = html`<input id=${id} name=${field} type=${prop.type === "integer" || prop.type === "number" ? "number" : "text"}
      value=${value ?? ""} autocomplete="off" onInput=${(e) => onInput(e.target.value)} />`;
  }
  return html`<div>
    <label for=${id}>${label}</label>
    ${input}
    <${FieldError} error=${error} name=${field} />
  </div>`;
}

/** The form's text values of a config object. */
function configTexts(schema, config) {
  const out = {};
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    if (config[name] === undefined) continue;
    out[name] = isJsonProp(prop) ? pretty(config[name]) : String(config[name]);
  }
  return out;
}

/** A config object from the form's text values. */
function configFrom(schema, texts) {
  const out = {};
  for (const [name, prop] of Object.entries(schema.properties || {})) {
    const raw = texts[name];
    if (raw === undefined || String(raw).trim() === "") continue;
    if (isJsonProp(prop)) out[name] = parseJson(raw, `config.${name}`);
    else if (prop.type === "integer" || prop.type === "number") out[name] = Number(raw);
    else out[name] = raw;
  }
  return out;
}

function ToolForm({ org, types, tool, onSaved, onCancel }) {
  const editing = !!tool;
  const [type, setType] = useState(tool ? tool.type : types[0].name);
  const spec = types.find((tv) => tv.name === type) || types[0];
  const [name, setName] = useState(tool ? tool.name : "");
  const [description, setDescription] = useState(tool ? tool.description || "" : "");
  const [timeout, setTimeoutMs] = useState(String(tool ? tool.timeout_ms : 10000));
  const [enabled, setEnabled] = useState(tool ? tool.is_enabled : true);
  const [config, setConfig] = useState(configTexts(spec.config_schema, tool ? tool.config : spec.config_example));
  const [schema, setSchema] = useState(pretty(tool ? tool.input_schema : spec.input_schema_example));
  const [error, setError] = useState(null);
  const pick = (tv) => {
    const next = types.find((x) => x.name === tv);
    setType(tv);
    setConfig(configTexts(next.config_schema, next.config_example));
    setSchema(pretty(next.input_schema_example));
    setError(null);
  };
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = {
        name,
        description: description.trim() || null,
        config: configFrom(spec.config_schema, config),
        // An MCP tool takes the server's schema unless edited afterwards.
        input_schema: type === "mcp" && !editing ? undefined : parseJson(schema, "input_schema"),
        timeout_ms: Number(timeout),
        is_enabled: enabled,
      };
      const saved = editing
        ? await patch(`/api/v1/tools/${tool.id}`, body)
        : await post(`/api/v1/orgs/${org.id}/tools`, { ...body, type });
      toast(`${saved.name} saved`);
      onSaved(saved);
    } catch (err) {
      setError(err);
    }
  };
  const required = spec.config_schema.required || [];
  const schemaPath = error && error.code === "tool_schema_invalid" && error.details && error.details.path;
  return html`<form class="card" id="tool-form" onSubmit=${submit}>
    <h2>${editing ? t("tools.edit", { name: tool.name }) : t("tools.new_tool")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div>
        <label for="tool-type">${t("common.type")}</label>
        <select id="tool-type" name="type" value=${type} disabled=${editing} onChange=${(e) => pick(e.target.value)}>
          ${types.map((tv) => html`<option value=${tv.name}>${tv.label}</option>`)}
        </select>
        <div class="muted small">${spec.description}</div>
        <${FieldError} error=${error} name="type" />
      </div>
      <div>
        <label for="tool-name">${t("tools.name_what_a_model_calls")}</label>
        <input id="tool-name" name="name" required pattern="[A-Za-z0-9_\\-]{1,64}" value=${name}
          onInput=${(e) => setName(e.target.value)} aria-describedby="tool-name-help" />
        <div class="muted small" id="tool-name-help">${t("tools.letters_digits_and_unique_in")}</div>
        <${FieldError} error=${error} name="name" />
      </div>
      <div>
        <label for="tool-description">${t("tools.description_optional")}</label>
        <input id="tool-description" name="description" value=${description} onInput=${(e) => setDescription(e.target.value)} />
        <${FieldError} error=${error} name="description" />
      </div>
      <div>
        <label for="tool-timeout">${t("tools.time_limit_ms")}</label>
        <input id="tool-timeout" name="timeout_ms" type="number" min="100" max="120000" value=${timeout}
          onInput=${(e) => setTimeoutMs(e.target.value)} />
        <${FieldError} error=${error} name="timeout_ms" />
      </div>
    </div>
    <fieldset>
      <legend>${t("tools.settings_of", { label: spec.label })}</legend>
      <div class="grid">
        ${Object.entries(spec.config_schema.properties || {}).map(
          ([k, prop]) => html`<${ConfigField} key=${`${type}-${k}`} name=${k} prop=${prop} required=${required.includes(k)}
            value=${config[k]} error=${error} onInput=${(v) => setConfig({ ...config, [k]: v })} />`,
        )}
      </div>
    </fieldset>
    <div>
      <label for="tool-input-schema">${t("tools.argument_schema_json_schema_of")}</label>
      <textarea id="tool-input-schema" name="input_schema" rows="8" class="mono" spellcheck="false" value=${schema}
        onInput=${(e) => setSchema(e.target.value)}></textarea>
      ${schemaPath !== undefined && schemaPath !== false && schemaPath !== null &&
      html`<div class="muted small" id="schema-path">${t("tools.at")} <code>${schemaPath || "/"}</code></div>`}
      <${FieldError} error=${error} name="input_schema" />
    </div>
    <p class="row">
      <label class="inline"><input type="checkbox" id="tool-enabled" checked=${enabled} onChange=${(e) => setEnabled(e.target.checked)} /> ${t("tools.enabled")}</label>
      <button class="primary" type="submit">${editing ? t("common.save") : t("tools.create_tool")}</button>
      ${onCancel && html`<button type="button" onClick=${onCancel}>${t("common.cancel")}</button>`}
    </p>
  </form>`;
}

function TestPanel({ tool, onRan }) {
  const example = {};
  for (const [k, p] of Object.entries((tool.input_schema && tool.input_schema.properties) || {})) {
    example[k] = p.type === "integer" || p.type === "number" ? 0 : p.type === "boolean" ? false : "";
  }
  const [args, setArgs] = useState(pretty(example));
  const [outcome, setOutcome] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const runTest = async (e) => {
    e.preventDefault();
    setError(null);
    setOutcome(null);
    setBusy(true);
    try {
      const r = await post(`/api/v1/tools/${tool.id}/test`, { arguments: parseJson(args, "arguments") });
      setOutcome(r);
      onRan();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const issues = error && error.details && Array.isArray(error.details.issues) ? error.details.issues : [];
  return html`<form class="card" id="tool-test" onSubmit=${runTest}>
    <h2>${t("tools.test", { name: tool.name })}</h2>
    <label for="tool-test-arguments">${t("tools.arguments_json")}</label>
    <textarea id="tool-test-arguments" name="arguments" rows="5" class="mono" spellcheck="false" value=${args}
      onInput=${(e) => setArgs(e.target.value)}></textarea>
    <${ErrorBox} error=${error} />
    ${issues.length > 0 &&
    html`<ul id="argument-issues">${issues.map((i) => html`<li><code>${i.pointer || "/"}</code>: ${i.message}</li>`)}</ul>`}
    <p><button class="primary" type="submit" id="run-test" disabled=${busy} aria-busy=${busy}>${t("common.run")}</button></p>
    ${outcome &&
    html`<div id="test-outcome" data-status=${outcome.status} role="status">
      <p><span class=${"badge " + (STATUS_BADGE[outcome.status] || "")}>${outcome.status}</span>
        <span class="muted"> ${t("tools.in_ms", { duration_ms: outcome.duration_ms })}</span></p>
      ${outcome.error && html`<div class="alert error" role="alert"><code>${outcome.error.code}</code> ${outcome.error.message}</div>`}
      ${outcome.result !== undefined && outcome.result !== null && html`<pre class="mono" id="test-result">${pretty(outcome.result)}</pre>`}
    </div>`}
  </form>`;
}

function Executions({ tool, version }) {
  const [pages, setPages] = useState([]);
  const query = (after) => get(`/api/v1/tools/${tool.id}/executions?limit=25${after ? `&after=${after}` : ""}`);
  const first = useLoad(() => query(null), [tool.id, version]);
  const items = first.data ? [first.data, ...pages].flatMap((p) => p.items) : [];
  const last = pages.length ? pages[pages.length - 1] : first.data;
  const more = async () => {
    try {
      setPages([...pages, await query(last.next_cursor)]);
    } catch (err) {
      toastError(err);
    }
  };
  const short = (v) => (v === null || v === undefined ? "" : JSON.stringify(v)).slice(0, 160);
  return html`<div class="card" id="tool-executions">
    <h2>${t("tools.runs_of", { name: tool.name })}</h2>
    <${ErrorBox} error=${first.error} />
    <table>
      <thead><tr><th>${t("common.when")}</th><th>${t("tools.source")}</th><th>${t("common.status")}</th><th>${t("tools.arguments")}</th><th>${t("tools.result_or_error")}</th><th>${t("common.duration")}</th></tr></thead>
      <tbody>
        ${items.map(
          (x) => html`<tr data-execution=${x.id} data-status=${x.status}>
            <td class="muted">${formatDate(x.created_at)}</td>
            <td>${x.source}</td>
            <td><span class=${"badge " + (STATUS_BADGE[x.status] || "")}>${x.status}</span></td>
            <td class="small"><code title=${JSON.stringify(x.arguments)}>${short(x.arguments)}</code></td>
            <td class="small">${x.error ? html`<code>${x.error.code}</code> ${x.error.message}` : html`<code title=${JSON.stringify(x.result)}>${short(x.result)}</code>`}</td>
            <td class="muted">${x.duration_ms != null ? `${x.duration_ms} ms` : ""}</td>
          </tr>`,
        )}
        <${Loading} load=${first} cols="6" />
        ${first.data && !items.length && html`<tr><td colspan="6" class="muted">${t("tools.no_runs_yet_test_the")}</td></tr>`}
      </tbody>
    </table>
    ${last && last.next_cursor && html`<p><button type="button" id="more-executions" onClick=${more}>${t("common.load_more")}</button></p>`}
  </div>`;
}

const MCP_BADGE = { ok: "ok", error: "bad", new: "" };

/** A tool name a model accepts, from an MCP tool's name. */
const toolName = (server, name) => `${server}_${name}`.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);

function McpServerForm({ org, onSaved, onCancel }) {
  const integrations = useLoad(() => get(`/api/v1/orgs/${org.id}/integrations?limit=200`), [org.id]);
  const [form, setForm] = useState({ name: "", url: "", integration_id: "", auth_header: "Authorization", auth_prefix: "Bearer " });
  const [error, setError] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { ...form, integration_id: form.integration_id ? Number(form.integration_id) : null };
      const saved = await post(`/api/v1/orgs/${org.id}/mcp-servers`, body);
      toast(t("tools.added_refresh_it_to_read", { name: saved.name }));
      onSaved(saved);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="mcp-server-form" onSubmit=${submit}>
    <h3>${t("tools.connect_an_mcp_server")}</h3>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div>
        <label for="mcp-name">${t("common.name")}</label>
        <input id="mcp-name" name="name" required value=${form.name} onInput=${set("name")} />
        <${FieldError} error=${error} name="name" />
      </div>
      <div>
        <label for="mcp-url">${t("tools.endpoint_url_streamable_http")}</label>
        <input id="mcp-url" name="url" type="url" required placeholder=${t("tools.https_mcp_example_com_mcp")} value=${form.url} onInput=${set("url")} />
        <${FieldError} error=${error} name="url" />
      </div>
      <div>
        <label for="mcp-integration">${t("tools.credential_optional")}</label>
        <select id="mcp-integration" name="integration_id" value=${form.integration_id} onChange=${set("integration_id")}
          aria-describedby="mcp-integration-help">
          <option value="">${t("common.none")}</option>
          ${integrations.data && integrations.data.items.map((i) => html`<option value=${i.id}>${i.name} (${i.type})</option>`)}
        </select>
        <div class="muted small" id="mcp-integration-help">${t("tools.an_integration_of_the_vault")}</div>
        <${FieldError} error=${error} name="integration_id" />
      </div>
      <div>
        <label for="mcp-header">${t("tools.header")}</label>
        <input id="mcp-header" name="auth_header" value=${form.auth_header} onInput=${set("auth_header")} />
        <${FieldError} error=${error} name="auth_header" />
      </div>
      <div>
        <label for="mcp-prefix">${t("tools.value_prefix")}</label>
        <input id="mcp-prefix" name="auth_prefix" value=${form.auth_prefix} onInput=${set("auth_prefix")} />
        <${FieldError} error=${error} name="auth_prefix" />
      </div>
    </div>
    <p class="row">
      <button class="primary" type="submit">${t("tools.add_server")}</button>
      <button type="button" onClick=${onCancel}>${t("common.cancel")}</button>
    </p>
  </form>`;
}

/** The MCP servers of the organization: add, refresh (the connection test), their tools, add one as a tool. */
function McpServers({ org, writable, onToolAdded }) {
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/mcp-servers?limit=100`), [org.id]);
  const [adding, setAdding] = useState(false);
  const [open, setOpen] = useState(null);
  const [busy, setBusy] = useState(null);
  const [error, setError] = useState(null);
  const refresh = async (s) => {
    setBusy(s.id);
    setError(null);
    try {
      const r = await post(`/api/v1/mcp-servers/${s.id}/refresh`);
      toast(t("tools.tools_2", { name: r.name, tools: r.tools.length }));
      setOpen(s.id);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
      list.reload();
    }
  };
  const remove = async (s) => {
    if (!confirm(t("tools.remove_the_mcp_server_its", { name: s.name }))) return;
    try {
      await del(`/api/v1/mcp-servers/${s.id}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const addTool = async (s, tv) => {
    try {
      const saved = await post(`/api/v1/orgs/${org.id}/tools`, {
        name: toolName(s.name, tv.name), type: "mcp", description: tv.description ? tv.description.slice(0, 1000) : null,
        config: { server_id: s.id, tool: tv.name },
      });
      toast(`${saved.name} added`);
      onToolAdded(saved);
    } catch (err) {
      toastError(err);
    }
  };
  const shown = list.data ? list.data.items.find((s) => s.id === open) : null;
  return html`<div class="card" id="mcp-servers">
    <div class="row"><h2>${t("tools.mcp_servers")}</h2>
      ${writable && !adding && html`<button type="button" id="add-mcp-server" onClick=${() => setAdding(true)}>${t("tools.connect_a_server")}</button>`}</div>
    <p class="muted">${t("tools.model_context_protocol_servers_streamabl")}</p>
    ${adding && html`<${McpServerForm} org=${org} onSaved=${(s) => { setAdding(false); list.reload(); setOpen(s.id); }} onCancel=${() => setAdding(false)} />`}
    <${ErrorBox} error=${error || list.error} />
    <table>
      <thead><tr><th>${t("common.name")}</th><th>URL</th><th>${t("common.status")}</th><th>${t("tools.tools")}</th><th>${t("tools.refreshed")}</th><th></th></tr></thead>
      <tbody>
        ${list.data && list.data.items.map(
          (s) => html`<tr data-mcp-server=${s.id} data-status=${s.status}>
            <td><strong>${s.name}</strong>${s.server_name && html`<div class="muted small">${s.server_name} · ${s.protocol_version}</div>`}</td>
            <td class="small"><code>${s.url}</code></td>
            <td><span class=${"badge " + (MCP_BADGE[s.status] || "")}>${s.status}</span>
              ${s.last_error && html`<div class="small" role="note">${s.last_error}</div>`}</td>
            <td>${s.tools.length}</td>
            <td class="muted">${s.refreshed_at ? formatDate(s.refreshed_at) : t("common.never")}</td>
            <td class="row">
              <button type="button" class="show-mcp-tools" aria-expanded=${open === s.id} onClick=${() => setOpen(open === s.id ? null : s.id)}>${t("tools.tools")}</button>
              ${writable && html`<button type="button" class="refresh-mcp" disabled=${busy === s.id} aria-busy=${busy === s.id} onClick=${() => refresh(s)}>${t("common.refresh")}</button>`}
              ${writable && html`<button type="button" class="danger" onClick=${() => remove(s)}>${t("common.remove")}</button>`}
            </td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="6" />
        ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${t("tools.no_mcp_servers_connected")}</td></tr>`}
      </tbody>
    </table>
    ${shown && html`<div id="mcp-tools">
      <h3>${t("tools.tools_of", { name: shown.name })}</h3>
      ${shown.tools.length === 0
        ? html`<p class="muted">${t("tools.no_tools_read_yet_refresh")}</p>`
        : html`<ul>${shown.tools.map((tv) => html`<li data-mcp-tool=${tv.name}>
            <code>${tv.name}</code> ${tv.description && html`<span class="muted">${tv.description}</span>`}
            ${writable && html` <button type="button" class="add-mcp-tool" onClick=${() => addTool(shown, tv)}>${t("tools.add_as_tool")}</button>`}
          </li>`)}</ul>`}
    </div>`}
  </div>`;
}

function Tools() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/tools?limit=200`), [org.id]);
  const types = useLoad(() => get(`/api/v1/orgs/${org.id}/tool-types`), [org.id]);
  const [selected, setSelected] = useState(null);
  const [editing, setEditing] = useState(false);
  const [creating, setCreating] = useState(false);
  const [runs, setRuns] = useState(0);
  const writable = can("agents.write");
  const typeLabel = (tv) => ((types.data || []).find((x) => x.name === tv) || { label: tv }).label;
  const remove = async (tv) => {
    if (!confirm(t("tools.delete_and_its_run_log", { name: tv.name }))) return;
    try {
      await del(`/api/v1/tools/${tv.id}`);
      if (selected && selected.id === tv.id) setSelected(null);
      toast(t("tools.deleted", { name: tv.name }));
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const current = selected && list.data ? list.data.items.find((tv) => tv.id === selected.id) || selected : selected;
  return html`<${Page} title=${t("tools.tools")}
    actions=${writable && html`<button class="primary" type="button" id="new-tool" onClick=${() => { setCreating(true); setSelected(null); }}>${t("tools.new_tool")}</button>`}>
    <p class="muted">${t("tools.tools_that_agents_and_flows")}</p>
    ${creating && types.data &&
    html`<${ToolForm} org=${org} types=${types.data}
      onSaved=${(tv) => { setCreating(false); setSelected(tv); list.reload(); }} onCancel=${() => setCreating(false)} />`}
    <div class="card">
      <h2>${t("tools.tools")}</h2>
      <${ErrorBox} error=${list.error || types.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("common.type")}</th><th>${t("common.status")}</th><th>${t("common.updated")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (tv) => html`<tr data-tool=${tv.id} data-name=${tv.name}>
              <td><strong>${tv.name}</strong>${tv.description && html`<div class="muted small">${tv.description}</div>`}</td>
              <td>${typeLabel(tv.type)}</td>
              <td><span class=${"badge " + (tv.is_enabled ? "ok" : "")}>${tv.is_enabled ? "enabled" : "off"}</span></td>
              <td class="muted">${formatDate(tv.updated_at)}</td>
              <td class="row">
                <button type="button" class="open-tool" onClick=${() => { setSelected(tv); setEditing(false); setCreating(false); }}>${t("tools.open")}</button>
                ${writable && html`<button type="button" class="edit-tool" onClick=${() => { setSelected(tv); setEditing(true); setCreating(false); }}>${t("common.edit")}</button>`}
                ${writable && html`<button type="button" class="danger" onClick=${() => remove(tv)}>${t("common.delete")}</button>`}
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">${t("tools.no_tools_yet")}${writable ? t("tools.create_one_with_new_tool") : "."}</td></tr>`}
        </tbody>
      </table>
    </div>
    <${McpServers} org=${org} writable=${writable} onToolAdded=${(tv) => { list.reload(); setSelected(tv); setEditing(false); }} />
    ${current && editing && types.data &&
    html`<${ToolForm} key=${`edit-${current.id}`} org=${org} types=${types.data} tool=${current}
      onSaved=${(tv) => { setEditing(false); setSelected(tv); list.reload(); }} onCancel=${() => setEditing(false)} />`}
    ${current && writable && html`<${TestPanel} key=${`test-${current.id}`} tool=${current} onRan=${() => setRuns(runs + 1)} />`}
    ${current && html`<${Executions} key=${`runs-${current.id}`} tool=${current} version=${runs} />`}
  <//>`;
}

route("/tools", Tools, { nav: { label: "nav.tools", section: "nav.build", order: 25, requires: "agents.read" } });
