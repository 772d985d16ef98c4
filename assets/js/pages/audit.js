// The audit log with filters, paging and CSV export, and the activity feed.
import { html, Page, useState, useEffect, ErrorBox, formatDate } from "../ui.js";
import { route } from "../router.js";
import { get } from "../api.js";
import { currentOrg } from "../session.js";
import { t } from "../i18n.js";

function toQuery(filters) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(filters)) {
    if (!v) continue;
    q.set(k, k === "from" || k === "to" ? new Date(v).toISOString() : v);
  }
  return q.toString();
}

/** A cursor-paged list: items so far, and a loader for the next page. */
function usePaged(url, deps) {
  const [state, setState] = useState({ items: [], next: null, error: null, loading: true });
  const load = async (after, append) => {
    try {
      const page = await get(`${url}${url.includes("?") ? "&" : "?"}limit=50${after ? `&after=${after}` : ""}`);
      setState((s) => ({ items: append ? [...s.items, ...page.items] : page.items, next: page.next_cursor || null, error: null, loading: false }));
    } catch (error) {
      setState((s) => ({ ...s, error, loading: false }));
    }
  };
  useEffect(() => {
    load(null, false);
  }, deps);
  return { ...state, more: () => load(state.next, true) };
}

function AuditLog() {
  const org = currentOrg();
  const [draft, setDraft] = useState({ action: "", resource_type: "", user_id: "", from: "", to: "" });
  const [filters, setFilters] = useState(draft);
  const query = toQuery(filters);
  const page = usePaged(`/api/v1/orgs/${org.id}/audit-logs${query ? `?${query}` : ""}`, [org.id, query]);
  const set = (k) => (e) => setDraft({ ...draft, [k]: e.target.value });
  const apply = (e) => {
    e.preventDefault();
    setFilters(draft);
  };
  const exportUrl = `/api/v1/orgs/${org.id}/audit-logs/export${query ? `?${query}` : ""}`;
  return html`<${Page} title=${t("audit.audit_log")} actions=${html`<a class="button" href=${exportUrl} download id="export-csv">${t("common.export_csv")}</a>`}>
    <form class="card" onSubmit=${apply} id="audit-filters">
      <div class="row" style="align-items:flex-end">
        <div style="flex:1"><label for="f-action">${t("audit.action_prefix_with")}</label><input id="f-action" placeholder=${t("audit.member")} value=${draft.action} onInput=${set("action")} /></div>
        <div style="flex:1"><label for="f-resource">${t("audit.resource")}</label><input id="f-resource" placeholder=${t("audit.team")} value=${draft.resource_type} onInput=${set("resource_type")} /></div>
        <div style="flex:1"><label for="f-user">${t("audit.user_id")}</label><input id="f-user" value=${draft.user_id} onInput=${set("user_id")} /></div>
        <div style="flex:1"><label for="f-from">${t("common.from")}</label><input id="f-from" type="datetime-local" value=${draft.from} onInput=${set("from")} /></div>
        <div style="flex:1"><label for="f-to">${t("common.to")}</label><input id="f-to" type="datetime-local" value=${draft.to} onInput=${set("to")} /></div>
        <button class="primary" type="submit">${t("audit.filter")}</button>
      </div>
    </form>
    <${ErrorBox} error=${page.error} />
    <div class="card">
      <table id="audit-table">
        <thead><tr><th>${t("common.when")}</th><th>${t("audit.who")}</th><th>${t("common.action")}</th><th>${t("audit.resource")}</th><th>${t("audit.ip")}</th><th>${t("audit.change")}</th></tr></thead>
        <tbody>
          ${page.items.map(
            (e) => html`<tr data-action=${e.action}>
              <td class="muted">${formatDate(e.created_at)}</td>
              <td>${e.user_email || "system"}</td>
              <td><code>${e.action}</code></td>
              <td>${e.resource_type}${e.resource_id != null ? ` #${e.resource_id}` : ""}</td>
              <td class="muted">${e.ip_address || ""}</td>
              <td class="muted" style="font-size:.75rem;max-width:28rem;overflow-wrap:anywhere">${e.new_values ? JSON.stringify(e.new_values) : ""}</td>
            </tr>`,
          )}
          ${!page.loading && !page.items.length && html`<tr><td colspan="6" class="muted">${t("audit.nothing_matches")}</td></tr>`}
        </tbody>
      </table>
      ${page.next && html`<p><button onClick=${page.more}>${t("common.load_more")}</button></p>`}
    </div>
  <//>`;
}

// What an activity entry says, in words; unknown actions fall back to their code.
const VERBS = () => ({
  "org.created": t("audit.verb_org_created"),
  "bot.created": t("audit.verb_bot_created"),
  "bot.deleted": t("audit.verb_bot_deleted"),
  "flow.deleted": t("audit.verb_flow_deleted"),
  "orchestration.created": t("audit.verb_orchestration_created"),
  "knowledge_base.created": t("audit.verb_knowledge_base_created"),
  "knowledge_base.deleted": t("audit.verb_knowledge_base_deleted"),
  "document.created": t("audit.verb_document_created"),
  "nlu.model.trained": t("audit.trained_an_nlu_model"),
  "nlu.model.activated": t("audit.activated_an_nlu_model"),
  "nlu.imported": t("audit.imported_nlu_data"),
  "llm_provider.created": t("audit.added_the_llm_provider"),
});

function describe(a) {
  const values = (a.changes && (a.changes.new || a.changes.old)) || {};
  const name = values.name || values.title || values.email;
  const verb = VERBS()[a.action];
  if (!verb) return html`<code>${a.action}</code> ${a.entity_type}${a.entity_id != null ? ` #${a.entity_id}` : ""}`;
  return html`${verb}${name ? html` <strong>${name}</strong>` : ""}`;
}

function Activity() {
  const org = currentOrg();
  const page = usePaged(`/api/v1/orgs/${org.id}/activity`, [org.id]);
  return html`<${Page} title=${t("audit.activity")}>
    <${ErrorBox} error=${page.error} />
    <div class="card">
      <ul class="feed">
        ${page.items.map(
          (a) => html`<li data-action=${a.action}><strong>${a.user_name || t("audit.system")}</strong> ${describe(a)}
            <span class="muted">· ${formatDate(a.created_at)}</span></li>`,
        )}
        ${!page.loading && !page.items.length && html`<li class="muted">${t("audit.no_activity_yet")}</li>`}
      </ul>
      ${page.next && html`<p><button onClick=${page.more}>${t("common.load_more")}</button></p>`}
    </div>
  <//>`;
}

route("/audit", AuditLog, { nav: { label: "nav.audit_log", section: "nav.organization", order: 75, requires: "audit.read" } });
route("/activity", Activity, { nav: { label: "nav.activity", section: "nav.organization", order: 76 } });
