// LLM provider settings: OpenAI-compatible endpoints of the organization
// (Ollama, llama.cpp server, vLLM, OpenAI…) or Anthropic's Messages API.
// Keys are write-only.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del } from "../api.js";
import { currentOrg } from "../session.js";
import { t } from "../i18n.js";

function CreateProvider({ org, onCreated }) {
  const empty = { kind: "openai_compatible", name: "", base_url: "http://127.0.0.1:11434/v1", default_model: "", api_key: "", timeout_ms: "60000" };
  const [form, setForm] = useState(empty);
  const [isDefault, setDefault] = useState(true);
  const [error, setError] = useState(null);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/orgs/${org.id}/llm-providers`, {
        ...form,
        api_key: form.api_key || null,
        timeout_ms: Number(form.timeout_ms),
        is_default: isDefault,
      });
      setForm(empty);
      toast(t("llm.provider_added"));
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="create-provider" onSubmit=${submit}>
    <h2>${t("llm.add_an_llm_provider")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div>
        <label for="provider-kind">API</label>
        <select id="provider-kind" name="kind" value=${form.kind} onChange=${(e) => {
          const kind = e.target.value;
          // The usual address of each API, unless one was typed.
          setForm((f) => ({
            ...f,
            kind,
            base_url: kind === "anthropic" && f.base_url === empty.base_url ? "https://api.anthropic.com/v1" : kind !== "anthropic" && f.base_url === "https://api.anthropic.com/v1" ? empty.base_url : f.base_url,
          }));
        }}>
          <option value="openai_compatible">${t("llm.openai_compatible_chat_completions")}</option>
          <option value="anthropic">${t("llm.anthropic_messages_api")}</option>
        </select>
      </div>
      <${Field} label=${t("common.name")} name="name" value=${form.name} onInput=${set("name")} error=${error} required />
      <${Field} label=${t("llm.base_url_v1")} name="base_url" value=${form.base_url} onInput=${set("base_url")} error=${error} required />
      <${Field} label=${t("common.model")} name="default_model" value=${form.default_model} onInput=${set("default_model")} error=${error} required />
      <${Field} label=${t("llm.api_key_optional_stored_encrypted")} name="api_key" type="password" value=${form.api_key} onInput=${set("api_key")} error=${error} autocomplete="off" />
      <${Field} label=${t("llm.timeout_ms")} name="timeout_ms" type="number" value=${form.timeout_ms} onInput=${set("timeout_ms")} error=${error} />
    </div>
    <label><input type="checkbox" style="width:auto" checked=${isDefault} onChange=${(e) => setDefault(e.target.checked)} /> ${t("llm.default_provider_for_answers")}</label>
    <button class="primary" type="submit">${t("common.add")}</button>
  </form>`;
}

function Providers() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/llm-providers?limit=200`), [org.id]);
  const test = async (p) => {
    try {
      const r = await post(`/api/v1/llm-providers/${p.id}/test`);
      toast(t("llm.from_in_ms", { name: p.name, reply: r.reply, model: r.model, latency_ms: Math.round(r.latency_ms) }));
    } catch (err) {
      toast(`${p.name}: ${err.message}`);
    }
  };
  const toggle = async (p, field) => {
    try {
      await patch(`/api/v1/llm-providers/${p.id}`, { [field]: !p[field] });
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const remove = async (p) => {
    if (!confirm(t("llm.delete", { name: p.name }))) return;
    await del(`/api/v1/llm-providers/${p.id}`);
    list.reload();
  };
  return html`<${Page} title=${t("llm.llm_providers")}>
    <${CreateProvider} org=${org} onCreated=${list.reload} />
    <${ErrorBox} error=${list.error} />
    <div class="card">
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("llm.endpoint")}</th><th>${t("common.model")}</th><th>${t("llm.key")}</th><th>${t("llm.default")}</th><th>${t("common.active_2")}</th><th>${t("llm.added")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (p) => html`<tr data-provider=${p.id}>
              <td><strong>${p.name}</strong></td>
              <td class="muted">${p.base_url}${p.kind === "anthropic" ? html` <span class="badge">${t("llm.anthropic")}</span>` : ""}</td>
              <td>${p.default_model}</td>
              <td>${p.has_api_key ? t("common.stored") : t("common.none_lower")}</td>
              <td><input type="checkbox" style="width:auto" checked=${p.is_default} onChange=${() => toggle(p, "is_default")} /></td>
              <td><input type="checkbox" style="width:auto" checked=${p.is_active} onChange=${() => toggle(p, "is_active")} /></td>
              <td class="muted">${formatDate(p.created_at)}</td>
              <td class="row"><button onClick=${() => test(p)}>${t("common.test")}</button><button class="danger" onClick=${() => remove(p)}>${t("common.delete")}</button></td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="8" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="8" class="muted">${t("llm.no_provider_answers_are_extractive")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/settings/llm-providers", Providers, { nav: { label: "nav.llm_providers", section: "nav.settings", order: 60, requires: "integrations.manage" } });
