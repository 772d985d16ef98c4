// Data: retention settings, archives (list, search, re-import), for owners
// the organization export and erase, and the import of an organization file
// as a new organization (docs/retention.md, docs/export.md).
import { html, Page, useLoad, useState, ErrorBox, Field, toast, Loading, formatDate } from "../ui.js";
import { route, navigate } from "../router.js";
import { api, get, post, put } from "../api.js";
import { currentOrg, refreshMe, selectOrg, can } from "../session.js";

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
      toast("Saved");
    } catch (err) {
      setError(err);
    }
  };
  const runNow = async () => {
    setError(null);
    try {
      const r = await post(`/api/v1/orgs/${org.id}/retention/run`);
      setLastRun(r);
      toast(`Archived ${r.rows_archived} rows in ${r.files_written} files`);
      onRun();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="retention-settings" onSubmit=${save}>
    <h2>Retention</h2>
    <p class="muted">Older rows — conversation, channel and recovery messages; NLU, integration, AI-call and webhook logs — are written to compressed archive files, then removed from the database. Archives can be searched and re-imported below.</p>
    <${ErrorBox} error=${loaded.error || error} />
    <${Loading} load=${loaded} />
    ${data &&
    html`<${Field} label="Keep conversation, channel and recovery messages for (days, 30–3650)" name="messages_days" type="number" min="30" max="3650" value=${data.messages_days} onInput=${(v) => setForm({ ...data, messages_days: v })} error=${error} />
      <${Field} label="Keep NLU, integration, AI-call and webhook logs for (days, 30–3650)" name="logs_days" type="number" min="30" max="3650" value=${data.logs_days} onInput=${(v) => setForm({ ...data, logs_days: v })} error=${error} />
      <${Field} label="Keep failed webhook deliveries for (days, 7–3650)" name="failed_events_days" type="number" min="7" max="3650" value=${data.failed_events_days} onInput=${(v) => setForm({ ...data, failed_events_days: v })} error=${error} />
      <p class="row"><button class="primary" type="submit">Save</button> <button type="button" id="retention-run" onClick=${runNow}>Archive expired rows now</button></p>`}
    ${lastRun &&
    html`<p id="retention-last-run" role="status">Last run: ${lastRun.rows_archived} rows archived in ${lastRun.files_written} files${Object.keys(lastRun.tables).length > 0 && ` (${Object.entries(lastRun.tables).map(([t, n]) => `${t.replaceAll("_", " ")}: ${n}`).join(", ")})`}.</p>`}
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
    if (!confirm(`Put the rows of ${name} back into the database?`)) return;
    try {
      const r = await post(`/api/v1/orgs/${org.id}/archives/restore`, { file: name });
      setRestored(r);
      toast(`Restored ${r.restored} rows (${r.skipped} skipped)`);
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="archives">
    <h2>Archives</h2>
    <${ErrorBox} error=${files.error || error} />
    ${restored && html`<p id="archive-restored" role="status">Re-imported ${restored.file}: ${restored.restored} rows back, ${restored.skipped} skipped.</p>`}
    <form class="row" style="align-items:flex-end" onSubmit=${search} role="search">
      <div style="flex:2"><${Field} label="Text" name="q" value=${q} onInput=${setQ} error=${error} /></div>
      <div style="flex:1"><${Field} label="From" name="from" type="date" value=${from} onInput=${setFrom} error=${error} /></div>
      <div style="flex:1"><${Field} label="To" name="to" type="date" value=${to} onInput=${setTo} error=${error} /></div>
      <button type="submit">Search</button>
    </form>
    ${hits &&
    html`<table id="archive-hits">
      <thead><tr><th>Created</th><th>Table</th><th>Content</th></tr></thead>
      <tbody>
        ${hits.map((h) => html`<tr><td class="muted">${formatDate(h.row.created_at)}</td><td>${h.table}</td><td>${h.row.content || h.row.message_body || h.row.message || h.row.error_message || h.row.action || h.row.model || h.row.event_type || ""}</td></tr>`)}
        ${!hits.length && html`<tr><td colspan="3" class="muted">Nothing found.</td></tr>`}
      </tbody>
    </table>`}
    <table>
      <thead><tr><th>File</th><th>Table</th><th>Size</th><th></th></tr></thead>
      <tbody>
        ${files.data &&
        files.data.map(
          (f) => html`<tr><td>${f.name}</td><td>${f.table}</td><td>${Math.ceil(f.bytes / 1024)} KiB</td>
            <td><button type="button" class="restore-archive" onClick=${() => restore(f.name)}>Re-import</button></td></tr>`,
        )}
        <${Loading} load=${files} cols="4" />
        ${files.data && !files.data.length && html`<tr><td colspan="4" class="muted">No archives yet: rows are archived once they are older than their retention.</td></tr>`}
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
      toast(`Export started (job ${r.job_id}); download it here when it is done`);
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
      toast(`Erased: ${r.rows_deleted} rows, ${r.users_removed} accounts`);
      navigate("/dashboard");
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="org-export">
    <h2>Export everything</h2>
    <p class="muted">One archive with everything this organization owns (for moving hosts or a data access request). It is prepared in the background.</p>
    <${ErrorBox} error=${error} />
    <p class="row"><button type="button" onClick=${start}>Start an export</button>
      <a class="button" href=${`/api/v1/orgs/${org.id}/export`} download>Download the latest export</a></p>
    <form onSubmit=${erase} id="org-erase">
      <h2>Erase the organization</h2>
      <p class="muted">Removes every row and file of the organization, its archives, and the accounts of members who belong to no other organization. Type the organization's name to confirm.</p>
      <${Field} label="Name" name="confirm_name" value=${confirmName} onInput=${setConfirmName} error=${error} />
      <p><button class="danger" type="submit" disabled=${confirmName !== org.name}>Erase for good</button></p>
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
        toast(`Imported ${r.organization_name}`);
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
    <h2>Import an organization</h2>
    <p class="muted">An organization export, from this server or another, becomes a new organization that you own. Nothing is created until you confirm.</p>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <label for="import-org-file">Organization export (.zip)</label>
      <input id="import-org-file" name="file" type="file" accept=".zip,application/zip" onChange=${choose} />
      <button type="button" disabled=${!file || busy} onClick=${() => send(true)}>Check the file</button>
    </div>
    ${report &&
    html`<div id="import-org-report" role="status">
      <h3>What the import will do</h3>
      <p>Creates the organization <strong>${report.organization_name}</strong> (exported by botbuilder ${report.botbuilder_version}, format ${report.format_version}).</p>
      <ul>${Object.entries(report.created).filter(([, n]) => n > 0).map(([t, n]) => html`<li>${t.replaceAll("_", " ")}: ${n}</li>`)}</ul>
      ${report.members_matched.length > 0 && html`<p>Members again: ${report.members_matched.join(", ")}</p>`}
      ${report.members_missing.length > 0 && html`<p>No account on this server (invite them again): ${report.members_missing.join(", ")}</p>`}
      ${report.skipped.length > 0 && html`<p>Left out:</p><ul>${report.skipped.map((s) => html`<li>${s.table.replaceAll("_", " ")}: ${s.rows} (${s.reason})</li>`)}</ul>`}
      ${report.conflicts.length > 0 && html`<p>Taken on this server:</p><ul>${report.conflicts.map((c) => html`<li>${c.table}.${c.columns.join(", ")}: ${c.rows} ${c.resolution}</li>`)}</ul>`}
      ${report.warnings.length > 0 && html`<p>Notes:</p><ul>${report.warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
      <button class="primary" type="button" disabled=${busy} onClick=${() => send(false)}>Import</button>
    </div>`}
  </div>`;
}

function DataPage() {
  const org = currentOrg();
  const [runs, setRuns] = useState(0);
  return html`<${Page} title="Data and retention">
    <${RetentionSettings} org=${org} onRun=${() => setRuns(runs + 1)} />
    <${Archives} org=${org} version=${runs} />
    ${can("org.delete") && html`<${ExportAndErase} org=${org} />`}
    <${ImportOrganization} />
  <//>`;
}

route("/retention", DataPage, { nav: { label: "Data and retention", section: "Organization", order: 81, requires: "org.manage" } });
