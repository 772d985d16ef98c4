// Messaging channels: connect a provider account to a bot, copy the
// webhook URL (and the secret for types that need one), test the
// credentials, activate (the provider is pointed at the webhook URL where
// its API allows), and watch the channel's health: last inbound event, last
// error, messages queued.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route, navigate } from "../router.js";
import { get, post, del } from "../api.js";
import { currentOrg } from "../session.js";

// One entry per channel type the server speaks: the create form's fields
// (credential fields are sent under `credentials`) and the setup steps shown
// with it. A new adapter adds its entry here.
export const CHANNEL_TYPES = {
  telegram: {
    label: "Telegram",
    intro: "Create a bot with @BotFather in Telegram and paste the token it gives you. Activating the channel points Telegram at its webhook URL.",
    fields: [{ name: "bot_token", label: "Bot token", secret: true, placeholder: "123456789:AA…" }],
  },
  slack: {
    label: "Slack",
    intro: "At api.slack.com/apps create an app. OAuth & Permissions: add the bot scopes chat:write, im:history, app_mentions:read and files:read, install it and copy the Bot User OAuth Token (xoxb-…). Basic Information: copy the Signing Secret. After creating the channel, paste its webhook URL as the Event Subscriptions Request URL (bot events message.im and app_mention) and as the Interactivity Request URL, allow messages in App Home, then test and activate.",
    fields: [
      { name: "bot_token", label: "Bot User OAuth Token", secret: true, placeholder: "xoxb-…" },
      { name: "signing_secret", label: "Signing Secret", secret: true },
    ],
  },
  messenger: {
    label: "Facebook Messenger",
    intro: "1. In Meta for Developers, create a Business app and add the Messenger product. 2. Under Messenger → Settings, add your Facebook Page and generate a Page access token (the app needs pages_messaging). 3. Paste the Page ID, the token and the app secret (App settings → Basic) here and create the channel. 4. Under Webhooks, set the callback URL to this channel's webhook URL and the verify token to its secret (both shown below with copy buttons) and subscribe to messages, messaging_postbacks, message_deliveries and message_reads. 5. Activate: this checks the token and subscribes the Page to your app.",
    fields: [
      { name: "page_id", label: "Page ID", placeholder: "1122334455" },
      { name: "page_access_token", label: "Page access token", secret: true, placeholder: "EAA…" },
      { name: "app_secret", label: "App secret", secret: true, placeholder: "32 letters and digits" },
    ],
  },
  instagram: {
    label: "Instagram",
    intro: "1. Link your Instagram professional account to a Facebook Page. 2. In Meta for Developers, create a Business app with the Messenger product and Instagram messaging (permissions instagram_basic, instagram_manage_messages, pages_manage_metadata); generate a Page access token for that Page. 3. Paste the Page ID, the token and the app secret (App settings → Basic) here. 4. Under Webhooks, choose the Instagram object, set the callback URL to this channel's webhook URL and the verify token to its secret, and subscribe to messages, messaging_postbacks and messaging_seen. 5. Activate: this checks that the Page has the Instagram account and subscribes the Page to your app.",
    fields: [
      { name: "page_id", label: "Facebook Page ID", placeholder: "1122334455" },
      { name: "page_access_token", label: "Page access token", secret: true, placeholder: "EAA…" },
      { name: "app_secret", label: "App secret", secret: true, placeholder: "32 letters and digits" },
      { name: "instagram_account_id", label: "Instagram account ID (optional, checked if given)", optional: true, placeholder: "17841…" },
    ],
  },
  whatsapp: {
    label: "WhatsApp",
    intro: "In Meta for Developers, add the WhatsApp product to a Business app. From WhatsApp > API Setup copy the Phone number ID and the WhatsApp Business Account ID; create a permanent token for a system user with whatsapp_business_messaging and whatsapp_business_management; copy the App secret from App settings > Basic. After creating the channel, paste its webhook URL and verify token (the secret shown) under WhatsApp > Configuration > Webhook, and subscribe to the messages and message_template_status_update fields.",
    fields: [
      { name: "access_token", label: "Access token", secret: true, placeholder: "EAAG…" },
      { name: "phone_number_id", label: "Phone number ID", placeholder: "106540352242922" },
      { name: "app_secret", label: "App secret", secret: true },
      { name: "business_account_id", label: "WhatsApp Business Account ID (for templates)", optional: true, placeholder: "102290129340398" },
    ],
  },
  http: {
    label: "Generic HTTP",
    intro: "Any system can talk to a bot: it posts signed JSON events to the webhook URL, and replies are posted, signed with the same secret, to your URL (see docs/channels.md).",
    fields: [{ name: "outbound_url", label: "URL replies are posted to", type: "url", placeholder: "https://example.com/bot-replies" }],
  },
  sms: {
    label: "SMS (Twilio)",
    intro: "In the Twilio console copy the Account SID and Auth Token (account dashboard) and the sending number (+E.164) or a Messaging Service SID (MG…). After creating the channel open Phone Numbers → Manage → Active numbers → your number → Messaging configuration and paste the channel's webhook URL as \"A message comes in\" (Webhook, HTTP POST); with a Messaging Service, paste it in the service's Integration → \"Send a webhook\". Delivery statuses come back to the same URL. STOP/START opt a number out and back in.",
    fields: [
      { name: "account_sid", label: "Account SID", placeholder: "AC…" },
      { name: "auth_token", label: "Auth Token", secret: true },
      { name: "from", label: "From number or Messaging Service SID", placeholder: "+14155550100 or MG…" },
    ],
  },
  email: {
    label: "Email",
    intro: "Replies go out through this server's SMTP server (admin console → Instance settings). Point your mail service's inbound route at the channel's webhook URL with ?token=<the channel secret shown after creation> appended: a Mailgun route forwarding to that URL with &f=mime appended (a URL ending in mime makes Mailgun post the raw message as body-mime), SendGrid Inbound Parse with \"POST the raw, full MIME message\" (field email), or any relay posting the raw message (curl --data-binary @mail.eml -H 'Content-Type: message/rfc822').",
    fields: [
      { name: "from_address", label: "Address customers write to (replies come from it)", type: "email", placeholder: "help@example.com" },
      { name: "from_name", label: "Sender name", optional: true, placeholder: "Example Support" },
    ],
  },
};

function CreateChannel({ org, bots, onCreated }) {
  const [type, setType] = useState("telegram");
  const [name, setName] = useState("");
  const [values, setValues] = useState({});
  const [bot, setBot] = useState("");
  const [error, setError] = useState(null);
  const spec = CHANNEL_TYPES[type];
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const credentials = {};
      for (const f of spec.fields) if ((values[f.name] || "").trim()) credentials[f.name] = values[f.name].trim();
      const body = { type, bot_id: Number(bot), credentials };
      if (name.trim()) body.name = name.trim();
      await post(`/api/v1/orgs/${org.id}/channels`, body);
      toast("Channel created: test it, then activate it");
      setName("");
      setValues({});
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="create-channel" onSubmit=${submit}>
    <h2>Connect a channel</h2>
    <div>
      <label for="channel-type">Type</label>
      <select id="channel-type" name="type" value=${type} onChange=${(e) => { setType(e.target.value); setValues({}); setError(null); }}>
        ${Object.entries(CHANNEL_TYPES).map(([key, t]) => html`<option value=${key}>${t.label}</option>`)}
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
        <label for="channel-bot">Bot that answers</label>
        <select id="channel-bot" name="bot_id" required value=${bot} onChange=${(e) => setBot(e.target.value)}>
          <option value="">Choose a bot…</option>
          ${bots.map((b) => html`<option value=${b.id}>${b.name}</option>`)}
        </select>
        <${FieldError} error=${error} name="bot_id" />
      </div>
      <${Field} label="Name (optional)" name="name" value=${name} onInput=${setName} error=${error} />
    </div>
    <p><button class="primary" type="submit">Create channel</button></p>
  </form>`;
}

const STATUS_BADGE = { sent: "ok", delivered: "ok", read: "ok", received: "", queued: "", retrying: "warn", failed: "bad", dead: "bad" };

// One channel's panel: send a test message to an address at the provider,
// and the message log (both directions, newest first) with delivery states.
function ChannelLog({ channel, onChanged }) {
  const [tick, setTick] = useState(0);
  const log = useLoad(() => get(`/api/v1/channels/${channel.id}/messages?limit=50`), [channel.id, tick]);
  const [to, setTo] = useState("");
  const [text, setText] = useState("Hello from botbuilder — this is a test.");
  const [error, setError] = useState(null);
  const send = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/channels/${channel.id}/send-test`, { to: to.trim(), text });
      toast("Test message queued");
      setTick((t) => t + 1);
      onChanged();
      // The queue sends within a moment: look again.
      setTimeout(() => setTick((t) => t + 1), 1500);
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="channel-log" data-channel=${channel.id}>
    <h2>${channel.name}: send a test and message log</h2>
    <form id="send-test" class="row wrap" onSubmit=${send}>
      <${ErrorBox} error=${error} />
      <${Field} label="To (chat id, phone number or user id at the provider)" name="to" value=${to} onInput=${setTo} error=${error} required />
      <${Field} label="Text" name="text" value=${text} onInput=${setText} error=${error} required />
      <p><button type="submit">Send a test</button> <button type="button" onClick=${() => setTick((t) => t + 1)}>Refresh</button></p>
    </form>
    <${ErrorBox} error=${log.error} />
    <table>
      <thead><tr><th>When</th><th>Direction</th><th>Status</th><th>Content</th><th>Attempts</th></tr></thead>
      <tbody>
        ${log.data &&
        log.data.items.map(
          (m) => html`<tr data-message=${m.id} data-status=${m.status}>
            <td class="small">${formatDate(m.created_at)}</td>
            <td>${m.direction}</td>
            <td><span class=${"badge " + (STATUS_BADGE[m.status] || "")}>${m.status}</span>${m.error_message && html`<div class="small muted">${m.error_message}</div>`}</td>
            <td class="small">${m.content || (m.media_filename || m.message_type)}${m.media_url && html` <a href=${m.media_url} target="_blank" rel="noopener">media</a>`}</td>
            <td>${m.attempts}</td>
          </tr>`,
        )}
        <${Loading} load=${log} cols="5" />
        ${log.data && !log.data.items.length && html`<tr><td colspan="5" class="muted">No messages yet.</td></tr>`}
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
    confirm(`Delete ${c.name}? Its contacts and message log go with it.`) && act(c, "Delete", () => del(`/api/v1/channels/${c.id}`));
  const botName = (id) => ((bots.data && bots.data.items.find((b) => b.id === id)) || {}).name || "—";
  return html`<${Page} title="Channels">
    <p class="muted">Your bots answer on messaging apps. Each channel has its own secret webhook URL; activating a channel gives it to the provider.</p>
    ${bots.data && html`<${CreateChannel} org=${org} bots=${bots.data.items} onCreated=${list.reload} />`}
    <div class="card">
      <h2>Channels</h2>
      <${ErrorBox} error=${list.error || bots.error} />
      <table>
        <thead><tr><th>Name</th><th>Bot</th><th>Status</th><th>Webhook URL</th><th>Health</th><th></th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (c) => html`<tr data-channel=${c.id} data-status=${c.status}>
              <td><strong>${c.name}</strong> <span class="muted small">${c.type}${c.username ? html` · @${c.username}` : ""}</span></td>
              <td>${botName(c.bot_id)}</td>
              <td><span class=${"badge " + badge(c.status)}>${c.status}</span></td>
              <td><code class="excerpt">${c.webhook_url}</code> <${CopyButton} id=${`copy-channel-url-${c.id}`} text=${c.webhook_url} what="webhook URL" />
                ${c.webhook_secret && html`<div class="small">Secret: <${CopyButton} id=${`copy-channel-secret-${c.id}`} text=${c.webhook_secret} what="secret" /></div>`}</td>
              <td class="small">
                <div>Last inbound: ${c.last_inbound_at ? formatDate(c.last_inbound_at) : html`<span class="muted">never</span>`}</div>
                <div>Queued: ${c.queue_depth}</div>
                ${c.error_message && html`<div class="alert error small" role="note">Last error (${formatDate(c.last_error_at)}): ${c.error_message}</div>`}
              </td>
              <td class="row">
                <button type="button" class="test-channel" disabled=${busy === `${c.id}:Test connection`}
                  onClick=${() => act(c, "Test connection", () => post(`/api/v1/channels/${c.id}/test`))}>Test connection</button>
                <button type="button" class="activate-channel" disabled=${busy === `${c.id}:Activate`}
                  onClick=${() => act(c, "Activate", () => post(`/api/v1/channels/${c.id}/activate`))}>${c.status === "active" ? "Re-activate" : "Activate"}</button>
                <button type="button" class="open-channel-log" aria-expanded=${open === c.id} onClick=${() => setOpen(open === c.id ? null : c.id)}>Test & log</button>
                ${c.type === "whatsapp" && html`<a class="button templates-link" href=${`/settings/channels/${c.id}/templates`}
                  onClick=${(e) => (e.preventDefault(), navigate(`/settings/channels/${c.id}/templates`))}>Templates</a>`}
                <button type="button" class="danger" onClick=${() => remove(c)}>Delete</button>
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">No channels yet.</td></tr>`}
        </tbody>
      </table>
    </div>
    ${open && list.data && list.data.items.find((c) => c.id === open) &&
    html`<${ChannelLog} key=${open} channel=${list.data.items.find((c) => c.id === open)} onChanged=${list.reload} />`}
  <//>`;
}

route("/settings/channels", Channels, { nav: { label: "Channels", section: "Settings", order: 64, requires: "integrations.manage" } });
