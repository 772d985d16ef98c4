// Messaging channels: connect a provider account to a bot, copy the
// webhook URL (and the secret for types that need one), test the
// credentials, activate (the provider is pointed at the webhook URL where
// its API allows), and watch the channel's health: last inbound event, last
// error, messages queued.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, del } from "../api.js";
import { currentOrg } from "../session.js";
import { t } from "../i18n.js";

// One entry per channel type the server speaks: the create form's fields
// (credential fields are sent under `credentials`) and the setup steps shown
// with it. A new adapter adds its entry here.
export const CHANNEL_TYPES = () => ({
  telegram: {
    label: t("channels.telegram"),
    intro: t("channels.create_a_bot_with_botfather"),
    fields: [{ name: "bot_token", label: t("channels.bot_token"), secret: true, placeholder: t("channels.123456789_aa") }],
  },
  slack: {
    label: t("channels.slack"),
    intro: t("channels.at_api_slack_com_apps"),
    fields: [
      { name: "bot_token", label: t("channels.bot_user_oauth_token"), secret: true, placeholder: t("channels.xoxb") },
      { name: "signing_secret", label: t("channels.signing_secret"), secret: true },
    ],
  },
  messenger: {
    label: t("channels.facebook_messenger"),
    intro: t("channels.1_in_meta_for_developers"),
    fields: [
      { name: "page_id", label: t("channels.page_id"), placeholder: "1122334455" },
      { name: "page_access_token", label: t("channels.page_access_token"), secret: true, placeholder: t("channels.eaa") },
      { name: "app_secret", label: t("channels.app_secret"), secret: true, placeholder: t("channels.32_letters_and_digits") },
    ],
  },
  instagram: {
    label: t("channels.instagram"),
    intro: t("channels.1_link_your_instagram_professional"),
    fields: [
      { name: "page_id", label: t("channels.facebook_page_id"), placeholder: "1122334455" },
      { name: "page_access_token", label: t("channels.page_access_token"), secret: true, placeholder: t("channels.eaa") },
      { name: "app_secret", label: t("channels.app_secret"), secret: true, placeholder: t("channels.32_letters_and_digits") },
      { name: "instagram_account_id", label: t("channels.instagram_account_id_optional_checked"), optional: true, placeholder: "17841…" },
    ],
  },
  whatsapp: {
    label: t("channels.whatsapp"),
    intro: t("channels.in_meta_for_developers_add"),
    fields: [
      { name: "access_token", label: t("channels.access_token"), secret: true, placeholder: t("channels.eaag") },
      { name: "phone_number_id", label: t("channels.phone_number_id"), placeholder: "106540352242922" },
      { name: "app_secret", label: t("channels.app_secret"), secret: true },
      { name: "business_account_id", label: t("channels.whatsapp_business_account_id_for"), optional: true, placeholder: "102290129340398" },
    ],
  },
  http: {
    label: t("channels.generic_http"),
    intro: t("channels.any_system_can_talk_to"),
    fields: [{ name: "outbound_url", label: t("channels.url_replies_are_posted_to"), type: "url", placeholder: "https://example.com/bot-replies" }],
  },
  sms: {
    label: t("channels.sms_twilio"),
    intro: t("channels.in_the_twilio_console_copy"),
    fields: [
      { name: "account_sid", label: t("channels.account_sid"), placeholder: t("channels.ac") },
      { name: "auth_token", label: t("channels.auth_token"), secret: true },
      { name: "from", label: t("channels.from_number_or_messaging_service"), placeholder: t("channels.14155550100_or_mg") },
    ],
  },
  email: {
    label: t("common.email"),
    intro: t("channels.replies_go_out_through_this"),
    fields: [
      { name: "from_address", label: t("channels.address_customers_write_to_replies"), type: "email", placeholder: t("channels.help_example_com") },
      { name: "from_name", label: t("channels.sender_name"), optional: true, placeholder: t("channels.example_support") },
    ],
  },
});

function CreateChannel({ org, bots, onCreated }) {
  const [type, setType] = useState("telegram");
  const [name, setName] = useState("");
  const [values, setValues] = useState({});
  const [bot, setBot] = useState("");
  const [error, setError] = useState(null);
  const spec = CHANNEL_TYPES()[type];
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const credentials = {};
      for (const f of spec.fields) if ((values[f.name] || "").trim()) credentials[f.name] = values[f.name].trim();
      const body = { type, bot_id: Number(bot), credentials };
      if (name.trim()) body.name = name.trim();
      await post(`/api/v1/orgs/${org.id}/channels`, body);
      toast(t("channels.channel_created_test_it_then"));
      setName("");
      setValues({});
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="create-channel" onSubmit=${submit}>
    <h2>${t("channels.connect_a_channel")}</h2>
    <div>
      <label for="channel-type">${t("common.type")}</label>
      <select id="channel-type" name="type" value=${type} onChange=${(e) => { setType(e.target.value); setValues({}); setError(null); }}>
        ${Object.entries(CHANNEL_TYPES()).map(([key, tv]) => html`<option value=${key}>${tv.label}</option>`)}
      </select>
    </div>
    <p class="muted">${spec.intro}</p>
    <${ErrorBox} error=${error} />
    <div class="grid">
      ${spec.fields.map(
        (f) => html`<${Field} key=${type + f.name} label=${f.label} name=${`credentials.${f.name}`} type=${f.secret ? "password" : f.type || "text"}
          autocomplete="off" required=${!f.optional} value=${values[f.name] || ""} placeholder=${f.placeholder || ""}
          onInput=${(v) => setValues({ ...values, [f.name]: v })} error=${error} />`,
      )}
      <div>
        <label for="channel-bot">${t("channels.bot_that_answers")}</label>
        <select id="channel-bot" name="bot_id" required value=${bot} onChange=${(e) => setBot(e.target.value)}>
          <option value="">${t("channels.choose_a_bot")}</option>
          ${bots.map((b) => html`<option value=${b.id}>${b.name}</option>`)}
        </select>
        <${FieldError} error=${error} name="bot_id" />
      </div>
      <${Field} label=${t("channels.name_optional")} name="name" value=${name} onInput=${setName} error=${error} />
    </div>
    <p><button class="primary" type="submit">${t("channels.create_channel")}</button></p>
  </form>`;
}

const STATUS_BADGE = { sent: "ok", delivered: "ok", read: "ok", received: "", queued: "", retrying: "warn", failed: "bad", dead: "bad" };

// One channel's panel: send a test message to an address at the provider,
// and the message log (both directions, newest first) with delivery states.
function ChannelLog({ channel, onChanged }) {
  const [tick, setTick] = useState(0);
  const log = useLoad(() => get(`/api/v1/channels/${channel.id}/messages?limit=50`), [channel.id, tick]);
  const [to, setTo] = useState("");
  const [text, setText] = useState(t("channels.hello_from_botbuilder_this_is"));
  const [error, setError] = useState(null);
  const send = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/channels/${channel.id}/send-test`, { to: to.trim(), text });
      toast(t("channels.test_message_queued"));
      setTick((tv) => tv + 1);
      onChanged();
      // The queue sends within a moment: look again.
      setTimeout(() => setTick((tv) => tv + 1), 1500);
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="channel-log" data-channel=${channel.id}>
    <h2>${t("channels.send_a_test_and_message", { name: channel.name })}</h2>
    <form id="send-test" class="row wrap" onSubmit=${send}>
      <${ErrorBox} error=${error} />
      <${Field} label=${t("channels.to_chat_id_phone_number")} name="to" value=${to} onInput=${setTo} error=${error} required />
      <${Field} label=${t("common.text")} name="text" value=${text} onInput=${setText} error=${error} required />
      <p><button type="submit">${t("channels.send_a_test")}</button> <button type="button" onClick=${() => setTick((tv) => tv + 1)}>${t("common.refresh")}</button></p>
    </form>
    <${ErrorBox} error=${log.error} />
    <table>
      <thead><tr><th>${t("common.when")}</th><th>${t("channels.direction")}</th><th>${t("common.status")}</th><th>${t("channels.content")}</th><th>${t("channels.attempts")}</th></tr></thead>
      <tbody>
        ${log.data &&
        log.data.items.map(
          (m) => html`<tr data-message=${m.id} data-status=${m.status}>
            <td class="small">${formatDate(m.created_at)}</td>
            <td>${m.direction}</td>
            <td><span class=${"badge " + (STATUS_BADGE[m.status] || "")}>${m.status}</span>${m.error_message && html`<div class="small muted">${m.error_message}</div>`}</td>
            <td class="small">${m.content || (m.media_filename || m.message_type)}${m.media_url && html` <a href=${m.media_url} target="_blank" rel="noopener">${t("channels.media")}</a>`}</td>
            <td>${m.attempts}</td>
          </tr>`,
        )}
        <${Loading} load=${log} cols="5" />
        ${log.data && !log.data.items.length && html`<tr><td colspan="5" class="muted">${t("channels.no_messages_yet")}</td></tr>`}
      </tbody>
    </table>
  </div>`;
}

const badge = (status) => (status === "active" ? "ok" : status === "error" ? "bad" : "");

function Channels() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/channels?limit=200`), [org.id]);
  const bots = useLoad(() => get(`/api/v1/orgs/${org.id}/bots?limit=200`), [org.id]);
  const [busy, setBusy] = useState(null);
  const [open, setOpen] = useState(null);
  const act = async (c, what, fn) => {
    setBusy(`${c.id}:${what}`);
    try {
      const r = await fn();
      toast(r && r.username ? `${what}: @${r.username} OK` : `${what}: done`);
    } catch (err) {
      toastError(err);
    } finally {
      setBusy(null);
      list.reload();
    }
  };
  const remove = (c) =>
    confirm(t("channels.delete_its_contacts_and_message", { name: c.name })) && act(c, "Delete", () => del(`/api/v1/channels/${c.id}`));
  const botName = (id) => ((bots.data && bots.data.items.find((b) => b.id === id)) || {}).name || "—";
  return html`<${Page} title=${t("channels.channels")}>
    <p class="muted">${t("channels.your_bots_answer_on_messaging")}</p>
    ${bots.data && html`<${CreateChannel} org=${org} bots=${bots.data.items} onCreated=${list.reload} />`}
    <div class="card">
      <h2>${t("channels.channels")}</h2>
      <${ErrorBox} error=${list.error || bots.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("common.bot")}</th><th>${t("common.status")}</th><th>${t("channels.webhook_url_2")}</th><th>${t("channels.health")}</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (c) => html`<tr data-channel=${c.id} data-status=${c.status}>
              <td><strong>${c.name}</strong> <span class="muted small">${c.type}${c.username ? html` · @${c.username}` : ""}</span></td>
              <td>${botName(c.bot_id)}</td>
              <td><span class=${"badge " + badge(c.status)}>${c.status}</span></td>
              <td><code class="excerpt">${c.webhook_url}</code> <${CopyButton} id=${`copy-channel-url-${c.id}`} text=${c.webhook_url} what=${t("channels.webhook_url")} />
                ${c.webhook_secret && html`<div class="small">${t("channels.secret_2")} <${CopyButton} id=${`copy-channel-secret-${c.id}`} text=${c.webhook_secret} what=${t("channels.secret")} /></div>`}</td>
              <td class="small">
                <div>${t("channels.last_inbound")} ${c.last_inbound_at ? formatDate(c.last_inbound_at) : html`<span class="muted">${t("channels.never")}</span>`}</div>
                <div>${t("channels.queued", { queue_depth: c.queue_depth })}</div>
                ${c.error_message && html`<div class="alert error small" role="note">${t("channels.last_error", { last_error_at: formatDate(c.last_error_at), error_message: c.error_message })}</div>`}
              </td>
              <td class="row">
                <button type="button" class="test-channel" disabled=${busy === `${c.id}:Test connection`}
                  onClick=${() => act(c, t("channels.test_connection"), () => post(`/api/v1/channels/${c.id}/test`))}>${t("channels.test_connection")}</button>
                <button type="button" class="activate-channel" disabled=${busy === `${c.id}:Activate`}
                  onClick=${() => act(c, t("channels.activate"), () => post(`/api/v1/channels/${c.id}/activate`))}>${c.status === "active" ? t("channels.re_activate") : t("channels.activate")}</button>
                <button type="button" class="open-channel-log" aria-expanded=${open === c.id} onClick=${() => setOpen(open === c.id ? null : c.id)}>${t("channels.test_log")}</button>
                ${c.type === "whatsapp" && html`<a class="button templates-link" href=${`/settings/channels/${c.id}/templates`}
                  onClick=${(e) => (e.preventDefault(), navigate(`/settings/channels/${c.id}/templates`))}>${t("common.templates")}</a>`}
                <button type="button" class="danger" onClick=${() => remove(c)}>${t("common.delete")}</button>
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${t("channels.no_channels_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
    ${open && list.data && list.data.items.find((c) => c.id === open) &&
    html`<${ChannelLog} key=${open} channel=${list.data.items.find((c) => c.id === open)} onChanged=${list.reload} />`}
  <//>`;
}

route("/settings/channels", Channels, { nav: { label: "nav.channels", section: "nav.settings", order: 64, requires: "integrations.manage" } });
