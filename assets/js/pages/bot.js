// One bot's settings (name, language, active flag, team, avatar, handoff
// and CSAT behaviour), its canned messages and this month's usage.
import { html, Page, useLoad, useState, useEffect, ErrorBox, Field, toast, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del, putBytes } from "../api.js";
import { can, currentOrg } from "../session.js";
import { BotNav, BotMissing } from "./botnav.js";
import { t } from "../i18n.js";

const KINDS = ["greeting", "response", "fallback", "command", "help"];

function TeamField({ value, onInput }) {
  const org = currentOrg();
  const teams = useLoad(() => get(`/api/v1/orgs/${org.id}/teams?limit=200`), [org.id]);
  const items = teams.data && (teams.data.items || teams.data);
  if (!items) return html`<${Field} label=${t("bot.team_id_handoffs_go_to")} name="team_id" type="number" value=${value} onInput=${onInput} />`;
  return html`<div>
    <label for="team_id">${t("bot.team_handoffs_go_to_this")}</label>
    <select id="team_id" value=${value} onChange=${(e) => onInput(e.target.value)}>
      <option value="">${t("bot.no_team_every_agent")}</option>
      ${items.map((tv) => html`<option value=${String(tv.id)}>${tv.name}</option>`)}
    </select>
  </div>`;
}

function SettingsForm({ bot, onSaved }) {
  const s = bot.settings;
  const [f, setF] = useState(null);
  const [error, setError] = useState(null);
  useEffect(
    () =>
      setF({
        name: bot.name, description: bot.description || "", language: bot.language, is_active: bot.is_active,
        team_id: bot.team_id === null || bot.team_id === undefined ? "" : String(bot.team_id),
        handoff_keywords: s.handoff_keywords.join(", "), handoff_message: s.handoff_message, fallback_message: s.fallback_message,
        csat_enabled: s.csat_enabled, csat_question: s.csat_question, csat_thanks: s.csat_thanks,
        block_publish_on_test_failure: !!s.block_publish_on_test_failure,
        nlu_encoder: s.nlu_encoder || "",
      }),
    [bot],
  );
  if (!f) return null;
  const set = (k) => (v) => setF((x) => ({ ...x, [k]: v }));
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const saved = await patch(`/api/v1/bots/${bot.id}`, {
        name: f.name, description: f.description || null, language: f.language, is_active: f.is_active,
        team_id: f.team_id === "" ? null : Number(f.team_id),
        settings: {
          handoff_keywords: f.handoff_keywords.split(",").map((x) => x.trim()).filter(Boolean),
          handoff_message: f.handoff_message, fallback_message: f.fallback_message,
          csat_enabled: f.csat_enabled, csat_question: f.csat_question, csat_thanks: f.csat_thanks,
          block_publish_on_test_failure: f.block_publish_on_test_failure,
          nlu_encoder: f.nlu_encoder || null,
        },
      });
      toast(t("bot.saved"));
      onSaved(saved);
    } catch (err) {
      setError(err);
    }
  };
  const field = (label, name, rest = {}) => html`<${Field} label=${label} name=${name} value=${f[name]} onInput=${set(name)} error=${error} ...${rest} />`;
  return html`<form class="card" id="bot-settings" onSubmit=${save}>
    <h2>${t("bot.settings")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      ${field(t("common.name"), "name", { required: true })}
      ${field(t("bot.language"), "language")}
      ${field(t("bot.description"), "description")}
      <${TeamField} value=${f.team_id} onInput=${set("team_id")} />
      <div>
        <label for="nlu_encoder">${t("bot.nlu_sentence_encoder")}</label>
        <select id="nlu_encoder" value=${f.nlu_encoder} onChange=${(e) => set("nlu_encoder")(e.target.value)}>
          <option value="">${t("bot.by_language_english_all_minilm")}</option>
          <option value="all-MiniLM-L6-v2">${t("bot.all_minilm_l6_v2_english")}</option>
          <option value="multilingual-e5-small">${t("bot.multilingual_e5_small_many_languages")}</option>
        </select>
      </div>
    </div>
    <label><input type="checkbox" id="is_active" checked=${f.is_active} onChange=${(e) => set("is_active")(e.target.checked)} /> ${t("bot.active_answers_messages")}</label>
    <h3>${t("bot.handoff")}</h3>
    <div class="grid">
      ${field(t("bot.keywords_that_ask_for_a"), "handoff_keywords")}
      ${field(t("bot.handoff_message"), "handoff_message")}
      ${field(t("bot.fallback_message"), "fallback_message")}
    </div>
    <h3>${t("bot.satisfaction_survey")}</h3>
    <label><input type="checkbox" id="csat_enabled" checked=${f.csat_enabled} onChange=${(e) => set("csat_enabled")(e.target.checked)} /> ${t("bot.ask_for_a_rating_1")}</label>
    <label><input type="checkbox" id="block_publish_on_test_failure" checked=${f.block_publish_on_test_failure} onChange=${(e) => set("block_publish_on_test_failure")(e.target.checked)} /> ${t("bot.block_publishing_while_conversation_test")}</label>
    <div class="grid">${field(t("bot.question"), "csat_question")}${field(t("bot.thanks"), "csat_thanks")}</div>
    ${can("bots.write") && html`<button class="primary" type="submit" id="save-bot">${t("common.save")}</button>`}
  </form>`;
}

function Avatar({ bot, onChanged }) {
  const [error, setError] = useState(null);
  const upload = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    setError(null);
    try {
      await putBytes(`/api/v1/bots/${bot.id}/avatar`, file);
      toast(t("bot.avatar_updated"));
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    try {
      await del(`/api/v1/bots/${bot.id}/avatar`);
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card">
    <h2>${t("bot.avatar")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row">
      ${bot.avatar_url ? html`<img class="avatar" src=${`${bot.avatar_url}?v=${bot.updated_at}`} alt="" width="64" height="64" />` : html`<span class="muted">${t("common.none")}</span>`}
      ${can("bots.write") && html`<label for="avatar-file" class="sr-only">${t("bot.upload_an_avatar_image")}</label><input id="avatar-file" type="file" accept="image/png,image/jpeg,image/webp,image/gif" onChange=${upload} />`}
      ${can("bots.write") && bot.avatar_url && html`<button type="button" onClick=${remove}>${t("common.remove")}</button>`}
    </div>
  </div>`;
}

function Canned({ botId }) {
  const list = useLoad(() => get(`/api/v1/bots/${botId}/canned-messages?limit=200`), [botId]);
  const [draft, setDraft] = useState({ message_type: "response", content: "", keywords: "" });
  const [error, setError] = useState(null);
  const add = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/bots/${botId}/canned-messages`, {
        message_type: draft.message_type, content: draft.content,
        trigger_keywords: draft.keywords.split(",").map((x) => x.trim()).filter(Boolean),
      });
      setDraft({ ...draft, content: "", keywords: "" });
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const toggle = async (m) => {
    try {
      await patch(`/api/v1/canned-messages/${m.id}`, { is_active: !m.is_active });
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (m) => {
    try {
      await del(`/api/v1/canned-messages/${m.id}`);
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const items = (list.data && (list.data.items || list.data)) || [];
  return html`<div class="card" id="canned">
    <h2>${t("bot.canned_messages")}</h2>
    <p class="muted">${t("bot.greeting_and_fallback_replace_the")}</p>
    <${ErrorBox} error=${error || list.error} />
    <table><thead><tr><th>${t("common.type")}</th><th>${t("bot.keywords")}</th><th>${t("common.text")}</th><th></th></tr></thead><tbody>
      ${items.map(
        (m) => html`<tr data-canned=${m.id}><td>${m.message_type}</td><td>${m.trigger_keywords.join(", ")}</td><td>${m.content}</td>
          <td>${can("bots.write") && html`<button type="button" onClick=${() => toggle(m)}>${m.is_active ? t("bot.disable") : t("bot.enable")}</button> <button type="button" class="danger" onClick=${() => remove(m)}>${t("common.delete")}</button>`}</td></tr>`,
      )}
    </tbody></table>
    ${can("bots.write") &&
    html`<form class="row" onSubmit=${add}>
      <select aria-label=${t("common.type")} onChange=${(e) => setDraft({ ...draft, message_type: e.target.value })}>${KINDS.map((k) => html`<option value=${k} selected=${draft.message_type === k}>${k}</option>`)}</select>
      <input placeholder=${t("bot.keywords_comma_separated")} value=${draft.keywords} onInput=${(e) => setDraft({ ...draft, keywords: e.target.value })} />
      <input placeholder=${t("common.text")} required value=${draft.content} onInput=${(e) => setDraft({ ...draft, content: e.target.value })} />
      <button class="primary" type="submit">${t("common.add")}</button>
    </form>`}
  </div>`;
}

function Usage({ botId }) {
  const u = useLoad(() => get(`/api/v1/bots/${botId}/usage`), [botId]);
  if (!u.data) return html`<${ErrorBox} error=${u.error} />`;
  const d = u.data;
  const pct = d.limit > 0 ? Math.min(100, Math.round((d.organization_messages * 100) / d.limit)) : 0;
  return html`<div class="card" id="usage">
    <h2>${t("bot.usage", { month: d.month })}</h2>
    <p>${t("bot.of", { organization_messages: d.organization_messages })} ${d.limit < 0 ? "unlimited" : d.limit} ${t("bot.messages_used_by_the_organization")}${d.limit > 0 ? ` (${pct} %)` : ""}${t("bot.this_bot_received_and_sent", { bot_messages_received: d.bot_messages_received, bot_messages_sent: d.bot_messages_sent })}</p>
    ${d.limit > 0 && html`<progress max="100" value=${pct}></progress>`}
  </div>`;
}

/** Downloads the bot as one file (docs/export.md); imported from the Bots page. */
function ExportBot({ botId }) {
  return html`<div class="card" id="export-bot">
    <h2>${t("bot.export")}</h2>
    <p class="muted">${t("bot.one_file_with_the_flows")}</p>
    <a class="button" href=${`/api/v1/bots/${botId}/export`} download>${t("bot.export_this_bot")}</a>
  </div>`;
}

function BotPage({ params }) {
  const { botId } = params;
  const [tick, setTick] = useState(0);
  const bot = useLoad(() => get(`/api/v1/bots/${botId}`), [botId, tick]);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${bot.data ? bot.data.name : t("common.bot")}>
    <${BotNav} botId=${botId} active="settings" />
    <${ErrorBox} error=${bot.error} />
    <${Loading} load=${bot} />
    ${bot.data &&
    html`<${SettingsForm} bot=${bot.data} onSaved=${() => setTick((tv) => tv + 1)} />
      <${Avatar} bot=${bot.data} onChanged=${() => setTick((tv) => tv + 1)} />
      <${Canned} botId=${botId} />
      <${Usage} botId=${botId} />
      ${can("bots.write") && html`<${ExportBot} botId=${botId} />`}`}
  <//>`;
}

route("/bots/:botId", BotPage);
