// The organization's bots.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { api, get, post, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { TemplateGallery } from "./studio.js";

function CreateBot({ org, onCreated }) {
  const [name, setName] = useState("");
  const [language, setLanguage] = useState("en");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const bot = await post(`/api/v1/orgs/${org.id}/bots`, { name, language });
      setName("");
      toast(`Created ${bot.name}`);
      onCreated();
      navigate(`/bots/${bot.id}/flows`);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit}>
    <h2>New blank bot</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label="Name" name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:1"><${Field} label="Language" name="language" value=${language} onInput=${setLanguage} error=${error} /></div>
      <button class="primary" type="submit">Create</button>
    </div>
  </form>`;
}

/** Starter bots: one click makes a working bot and opens its flow. */
function Gallery({ org }) {
  const use = async (t) => {
    const made = await post(`/api/v1/orgs/${org.id}/bots/from-template`, { template: t.id });
    toast(`Created ${made.bot.name}`);
    navigate(`/bots/${made.bot.id}/flows/${made.entry_flow}`);
  };
  return html`<${TemplateGallery} title="Start from a template" action="Use this template" onUse=${use} />`;
}

/** Import a bot file: a dry run first shows what would be created, then the import. */
function ImportBot({ org, onImported }) {
  const [file, setFile] = useState(null);
  const [report, setReport] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const send = async (dryRun) => {
    setError(null);
    setBusy(true);
    try {
      const r = await api("POST", `/api/v1/orgs/${org.id}/bots/import?dry_run=${dryRun}`, file);
      if (dryRun) {
        setReport(r);
      } else {
        setReport(null);
        setFile(null);
        toast(`Imported ${r.bot_name}`);
        onImported();
        navigate(`/bots/${r.bot_id}`);
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
  return html`<div class="card" id="import-bot">
    <h2>Import a bot</h2>
    <p class="muted">A file exported from a bot's settings, on this server or another. Nothing is created until you confirm.</p>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <label for="import-file">Export file (.zip)</label>
      <input id="import-file" name="file" type="file" accept=".zip,application/zip" onChange=${choose} />
      <button type="button" disabled=${!file || busy} onClick=${() => send(true)}>Check the file</button>
    </div>
    ${report &&
    html`<div id="import-report" role="status">
      <h3>What the import will do</h3>
      <p>Creates the bot <strong>${report.bot_name}</strong> (exported by botbuilder ${report.botbuilder_version}, format ${report.format_version}).</p>
      <ul>${Object.entries(report.created).filter(([, n]) => n > 0).map(([t, n]) => html`<li>${t.replaceAll("_", " ")}: ${n}</li>`)}</ul>
      ${report.renamed.length > 0 && html`<p>Renamed because the name is taken:</p><ul>${report.renamed.map((r) => html`<li>${r.from} → ${r.to}</li>`)}</ul>`}
      ${report.warnings.length > 0 && html`<p>Not imported:</p><ul>${report.warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
      <button class="primary" type="button" disabled=${busy} onClick=${() => send(false)}>Import</button>
    </div>`}
  </div>`;
}

function Bots() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/bots?limit=200`), [org.id]);
  const remove = async (bot) => {
    if (!confirm(`Delete ${bot.name} and all its data?`)) return;
    try {
      await del(`/api/v1/bots/${bot.id}`);
      toast(`Deleted ${bot.name}`);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title="Bots">
    ${can("bots.write") && html`<${Gallery} org=${org} /><${CreateBot} org=${org} onCreated=${list.reload} /><${ImportBot} org=${org} onImported=${list.reload} />`}
    <${ErrorBox} error=${list.error} />
    <div class="card">
      <table>
        <thead><tr><th>Name</th><th>Language</th><th>Status</th><th>Created</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (bot) => html`<tr data-bot=${bot.id}>
              <td><a href=${`/bots/${bot.id}`} data-bot-link=${bot.id}><strong>${bot.name}</strong></a><div class="muted">${bot.description || ""}</div></td>
              <td>${bot.language}</td>
              <td><span class=${"badge " + (bot.is_active ? "ok" : "")}>${bot.is_active ? "active" : "inactive"}</span></td>
              <td class="muted">${formatDate(bot.created_at)}</td>
              <td>
                <a class="button" href=${`/bots/${bot.id}/flows`} data-flows-link=${bot.id}>Flows</a>
                <a class="button" href=${`/bots/${bot.id}/emulator`}>Emulator</a>
                <a class="button" href=${`/bots/${bot.id}/nlu`} data-nlu-link=${bot.id}>NLU</a>
                ${can("bots.delete") && html` <button class="danger" onClick=${() => remove(bot)}>Delete</button>`}
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">No bots yet.</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/bots", Bots, { nav: { label: "Bots", section: "Build", order: 10, requires: "bots.read" } });
