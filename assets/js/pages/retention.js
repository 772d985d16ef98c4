// Data: retention settings, archives (list, search, re-import), for owners
// the organization export and erase, and the import of an organization file
// as a new organization (docs/retention.md, docs/export.md).
import { html, Page, useLoad, useState, ErrorBox, Field, toast, Loading, formatDate } from "../ui.js";
import { route, navigate } from "../router.js";
import { api, get, post, put } from "../api.js";
import { currentOrg, refreshMe, selectOrg, can } from "../session.js";
import { t } from "../i18n.js";

function RetentionSettings({ org, onRun }) {
  const loaded = useLoad(() => get(`/api/v1/orgs/${org.id}/retention`), [org.id]);
  const [form, setForm] = useState(null);
  const [error, setError] = useState(null);
  const [lastRun, setLastRun] = useState(null);
  const data = form || loaded.data;
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const saved = await put(`/api/v1/orgs/${org.id}/retention`, {
        messages_days: Number(data.messages_days),
        logs_days: Number(data.logs_days),
        failed_events_days: Number(data.failed_events_days),
      });
      setForm(saved);
      toast(t("retention.saved"));
    } catch (err) {
      setError(err);
    }
  };
  const runNow = async () => {
    setError(null);
    try {
      const r = await post(`/api/v1/orgs/${org.id}/retention/run`);
      setLastRun(r);
      toast(t("retention.archived_rows_in_files", { rows_archived: r.rows_archived, files_written: r.files_written }));
      onRun();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="retention-settings" onSubmit=${save}>
    <h2>${t("retention.retention")}</h2>
    <p class="muted">${t("retention.older_rows_conversation_channel_and")}</p>
    <${ErrorBox} error=${loaded.error || error} />
    <${Loading} load=${loaded} />
    ${data &&
    html`<${Field} label=${t("retention.keep_conversation_channel_and_recovery")} name="messages_days" type="number" min="30" max="3650" value=${data.messages_days} onInput=${(v) => setForm({ ...data, messages_days: v })} error=${error} />
      <${Field} label=${t("retention.keep_nlu_integration_ai_call")} name="logs_days" type="number" min="30" max="3650" value=${data.logs_days} onInput=${(v) => setForm({ ...data, logs_days: v })} error=${error} />
      <${Field} label=${t("retention.keep_failed_webhook_deliveries_for")} name="failed_events_days" type="number" min="7" max="3650" value=${data.failed_events_days} onInput=${(v) => setForm({ ...data, failed_events_days: v })} error=${error} />
      <p class="row"><button class="primary" type="submit">${t("common.save")}</button> <button type="button" id="retention-run" onClick=${runNow}>${t("retention.archive_expired_rows_now")}</button></p>`}
    ${lastRun &&
    html`<p id="retention-last-run" role="status">${t("retention.last_run_rows_archived_in", { rows_archived: lastRun.rows_archived, files_written: lastRun.files_written })}${Object.keys(lastRun.tables).length > 0 && ` (${Object.entries(lastRun.tables).map(([tv, n]) => `${tv.replaceAll("_", " ")}: ${n}`).join(", ")})`}.</p>`}
  </form>`;
}

function Archives({ org, version }) {
  const files = useLoad(() => get(`/api/v1/orgs/${org.id}/archives`), [org.id, version]);
  const [q, setQ] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [hits, setHits] = useState(null);
  const [error, setError] = useState(null);
  const [restored, setRestored] = useState(null);
  const search = async (e) => {
    e.preventDefault();
    setError(null);
    const params = new URLSearchParams();
    if (q) params.set("q", q);
    if (from) params.set("from", from);
    if (to) params.set("to", to);
    try {
      setHits(await get(`/api/v1/orgs/${org.id}/archives/search?${params}`));
    } catch (err) {
      setError(err);
    }
  };
  const restore = async (name) => {
    if (!confirm(t("retention.put_the_rows_of_back", { name }))) return;
    try {
      const r = await post(`/api/v1/orgs/${org.id}/archives/restore`, { file: name });
      setRestored(r);
      toast(t("retention.restored_rows_skipped", { restored: r.restored, skipped: r.skipped }));
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="archives">
    <h2>${t("retention.archives")}</h2>
    <${ErrorBox} error=${files.error || error} />
    ${restored && html`<p id="archive-restored" role="status">${t("retention.re_imported_rows_back_skipped", { file: restored.file, restored: restored.restored, skipped: restored.skipped })}</p>`}
    <form class="row" style="align-items:flex-end" onSubmit=${search} role="search">
      <div style="flex:2"><${Field} label=${t("common.text")} name="q" value=${q} onInput=${setQ} error=${error} /></div>
      <div style="flex:1"><${Field} label=${t("common.from")} name="from" type="date" value=${from} onInput=${setFrom} error=${error} /></div>
      <div style="flex:1"><${Field} label=${t("common.to")} name="to" type="date" value=${to} onInput=${setTo} error=${error} /></div>
      <button type="submit">${t("common.search")}</button>
    </form>
    ${hits &&
    html`<table id="archive-hits">
      <thead><tr><th>${t("common.created")}</th><th>${t("retention.table")}</th><th>${t("retention.content")}</th></tr></thead>
      <tbody>
        ${hits.map((h) => html`<tr><td class="muted">${formatDate(h.row.created_at)}</td><td>${h.table}</td><td>${h.row.content || h.row.message_body || h.row.message || h.row.error_message || h.row.action || h.row.model || h.row.event_type || ""}</td></tr>`)}
        ${!hits.length && html`<tr><td colspan="3" class="muted">${t("retention.nothing_found")}</td></tr>`}
      </tbody>
    </table>`}
    <table>
      <thead><tr><th>${t("retention.file")}</th><th>${t("retention.table")}</th><th>${t("retention.size")}</th><th></th></tr></thead>
      <tbody>
        ${files.data &&
        files.data.map(
          (f) => html`<tr><td>${f.name}</td><td>${f.table}</td><td>${Math.ceil(f.bytes / 1024)} ${t("retention.kib")}</td>
            <td><button type="button" class="restore-archive" onClick=${() => restore(f.name)}>${t("retention.re_import")}</button></td></tr>`,
        )}
        <${Loading} load=${files} cols="4" />
        ${files.data && !files.data.length && html`<tr><td colspan="4" class="muted">${t("retention.no_archives_yet_rows_are")}</td></tr>`}
      </tbody>
    </table>
  </div>`;
}

function ExportAndErase({ org }) {
  const [error, setError] = useState(null);
  const [confirmName, setConfirmName] = useState("");
  const start = async () => {
    setError(null);
    try {
      const r = await post(`/api/v1/orgs/${org.id}/export`);
      toast(t("retention.export_started_job_download_it", { job_id: r.job_id }));
    } catch (err) {
      setError(err);
    }
  };
  const erase = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const r = await post(`/api/v1/orgs/${org.id}/erase`, { confirm_name: confirmName });
      const me = await refreshMe();
      if (me && me.organizations.length) selectOrg(me.organizations[0].id);
      toast(t("retention.erased_rows_accounts", { rows_deleted: r.rows_deleted, users_removed: r.users_removed }));
      navigate("/dashboard");
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="org-export">
    <h2>${t("retention.export_everything")}</h2>
    <p class="muted">${t("retention.one_archive_with_everything_this")}</p>
    <${ErrorBox} error=${error} />
    <p class="row"><button type="button" onClick=${start}>${t("retention.start_an_export")}</button>
      <a class="button" href=${`/api/v1/orgs/${org.id}/export`} download>${t("retention.download_the_latest_export")}</a></p>
    <form onSubmit=${erase} id="org-erase">
      <h2>${t("retention.erase_the_organization")}</h2>
      <p class="muted">${t("retention.removes_every_row_and_file")}</p>
      <${Field} label=${t("common.name")} name="confirm_name" value=${confirmName} onInput=${setConfirmName} error=${error} />
      <p><button class="danger" type="submit" disabled=${confirmName !== org.name}>${t("retention.erase_for_good")}</button></p>
    </form>
  </div>`;
}

/** Import an organization file as a new organization: a dry run first, then the import. */
function ImportOrganization() {
  const [file, setFile] = useState(null);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (dryRun) => {
    setError(null);
    setBusy(true);
    try {
      const r = await api("POST", `/api/v1/orgs/import?dry_run=${dryRun}`, file);
      if (dryRun) {
        setReport(r);
      } else {
        setReport(null);
        setFile(null);
        await refreshMe();
        selectOrg(r.organization_id);
        toast(t("retention.imported", { organization_name: r.organization_name }));
        navigate("/dashboard");
      }
    } catch (err) {
      setReport(null);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const choose = (e) => {
    setReport(null);
    setError(null);
    setFile(e.target.files[0] || null);
  };
  return html`<div class="card" id="import-org">
    <h2>${t("retention.import_an_organization")}</h2>
    <p class="muted">${t("retention.an_organization_export_from_this")}</p>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <label for="import-org-file">${t("retention.organization_export_zip")}</label>
      <input id="import-org-file" name="file" type="file" accept=".zip,application/zip" onChange=${choose} />
      <button type="button" disabled=${!file || busy} onClick=${() => send(true)}>${t("retention.check_the_file")}</button>
    </div>
    ${report &&
    html`<div id="import-org-report" role="status">
      <h3>${t("retention.what_the_import_will_do")}</h3>
      <p>${t("retention.creates_the_organization")} <strong>${report.organization_name}</strong> ${t("retention.exported_by_botbuilder_format", { botbuilder_version: report.botbuilder_version, format_version: report.format_version })}</p>
      <ul>${Object.entries(report.created).filter(([, n]) => n > 0).map(([tv, n]) => html`<li>${tv.replaceAll("_", " ")}: ${n}</li>`)}</ul>
      ${report.members_matched.length > 0 && html`<p>${t("retention.members_again")} ${report.members_matched.join(", ")}</p>`}
      ${report.members_missing.length > 0 && html`<p>${t("retention.no_account_on_this_server")} ${report.members_missing.join(", ")}</p>`}
      ${report.skipped.length > 0 && html`<p>${t("retention.left_out")}</p><ul>${report.skipped.map((s) => html`<li>${s.table.replaceAll("_", " ")}: ${s.rows} (${s.reason})</li>`)}</ul>`}
      ${report.conflicts.length > 0 && html`<p>${t("retention.taken_on_this_server")}</p><ul>${report.conflicts.map((c) => html`<li>${c.table}.${c.columns.join(", ")}: ${c.rows} ${c.resolution}</li>`)}</ul>`}
      ${report.warnings.length > 0 && html`<p>${t("retention.notes")}</p><ul>${report.warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
      <button class="primary" type="button" disabled=${busy} onClick=${() => send(false)}>${t("common.import")}</button>
    </div>`}
  </div>`;
}

function DataPage() {
  const org = currentOrg();
  const [runs, setRuns] = useState(0);
  return html`<${Page} title=${t("retention.data_and_retention")}>
    <${RetentionSettings} org=${org} onRun=${() => setRuns(runs + 1)} />
    <${Archives} org=${org} version=${runs} />
    ${can("org.delete") && html`<${ExportAndErase} org=${org} />`}
    <${ImportOrganization} />
  <//>`;
}

route("/retention", DataPage, { nav: { label: "nav.data_and_retention", section: "nav.organization", order: 81, requires: "org.manage" } });
