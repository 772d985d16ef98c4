// The organization's bots.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { api, get, post, del } from "../api.js";
import { currentOrg, can } from "../session.js";
import { TemplateGallery } from "./studio.js";
import { t } from "../i18n.js";

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
      toast(t("bots.created", { name: bot.name }));
      onCreated();
      navigate(`/bots/${bot.id}/flows`);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit}>
    <h2>${t("bots.new_blank_bot")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <div style="flex:2"><${Field} label=${t("common.name")} name="name" required value=${name} onInput=${setName} error=${error} /></div>
      <div style="flex:1"><${Field} label=${t("bots.language")} name="language" value=${language} onInput=${setLanguage} error=${error} /></div>
      <button class="primary" type="submit">${t("common.create")}</button>
    </div>
  </form>`;
}

/** Starter bots: one click makes a working bot and opens its flow. */
function Gallery({ org }) {
  const use = async (tv) => {
    const made = await post(`/api/v1/orgs/${org.id}/bots/from-template`, { template: tv.id });
    toast(t("bots.created", { name: made.bot.name }));
    navigate(`/bots/${made.bot.id}/flows/${made.entry_flow}`);
  };
  return html`<${TemplateGallery} title=${t("bots.start_from_a_template")} action=${t("bots.use_this_template")} onUse=${use} />`;
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
        toast(t("bots.imported", { bot_name: r.bot_name }));
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
    <h2>${t("bots.import_a_bot")}</h2>
    <p class="muted">${t("bots.a_file_exported_from_a")}</p>
    <${ErrorBox} error=${error} />
    <div class="row" style="align-items:flex-end">
      <label for="import-file">${t("bots.export_file_zip")}</label>
      <input id="import-file" name="file" type="file" accept=".zip,application/zip" onChange=${choose} />
      <button type="button" disabled=${!file || busy} onClick=${() => send(true)}>${t("bots.check_the_file")}</button>
    </div>
    ${report &&
    html`<div id="import-report" role="status">
      <h3>${t("bots.what_the_import_will_do")}</h3>
      <p>${t("bots.creates_the_bot")} <strong>${report.bot_name}</strong> ${t("bots.exported_by_botbuilder_format", { botbuilder_version: report.botbuilder_version, format_version: report.format_version })}</p>
      <ul>${Object.entries(report.created).filter(([, n]) => n > 0).map(([tv, n]) => html`<li>${tv.replaceAll("_", " ")}: ${n}</li>`)}</ul>
      ${report.renamed.length > 0 && html`<p>${t("bots.renamed_because_the_name_is")}</p><ul>${report.renamed.map((r) => html`<li>${r.from} → ${r.to}</li>`)}</ul>`}
      ${report.warnings.length > 0 && html`<p>${t("bots.not_imported")}</p><ul>${report.warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
      <button class="primary" type="button" disabled=${busy} onClick=${() => send(false)}>${t("common.import")}</button>
    </div>`}
  </div>`;
}

function Bots() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/bots?limit=200`), [org.id]);
  const remove = async (bot) => {
    if (!confirm(t("bots.delete_and_all_its_data", { name: bot.name }))) return;
    try {
      await del(`/api/v1/bots/${bot.id}`);
      toast(t("bots.deleted", { name: bot.name }));
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  return html`<${Page} title=${t("bots.bots")}>
    ${can("bots.write") && html`<${Gallery} org=${org} /><${CreateBot} org=${org} onCreated=${list.reload} /><${ImportBot} org=${org} onImported=${list.reload} />`}
    <${ErrorBox} error=${list.error} />
    <div class="card">
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("bots.language")}</th><th>${t("common.status")}</th><th>${t("common.created")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (bot) => html`<tr data-bot=${bot.id}>
              <td><a href=${`/bots/${bot.id}`} data-bot-link=${bot.id}><strong>${bot.name}</strong></a><div class="muted">${bot.description || ""}</div></td>
              <td>${bot.language}</td>
              <td><span class=${"badge " + (bot.is_active ? "ok" : "")}>${bot.is_active ? t("common.active") : t("common.inactive")}</span></td>
              <td class="muted">${formatDate(bot.created_at)}</td>
              <td>
                <a class="button" href=${`/bots/${bot.id}/flows`} data-flows-link=${bot.id}>${t("bots.flows")}</a>
                <a class="button" href=${`/bots/${bot.id}/emulator`}>${t("bots.emulator")}</a>
                <a class="button" href=${`/bots/${bot.id}/nlu`} data-nlu-link=${bot.id}>${t("common.nlu")}</a>
                ${can("bots.delete") && html` <button class="danger" onClick=${() => remove(bot)}>${t("common.delete")}</button>`}
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="5" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">${t("bots.no_bots_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

route("/bots", Bots, { nav: { label: "nav.bots", section: "nav.build", order: 10, requires: "bots.read" } });
