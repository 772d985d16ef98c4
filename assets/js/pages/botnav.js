// The tabs of one bot's screens, and the transcript view shared by the
// inbox, the transcripts list and the emulator.
import { html, Page, useLoad, formatDate, ErrorBox } from "../ui.js";
import { get } from "../api.js";

const TABS = [
  ["settings", "Settings", ""],
  ["flows", "Flows", "/flows"],
  ["orchestrations", "Orchestrations", "/orchestrations"],
  ["widget", "Widget", "/widget"],
  ["emulator", "Emulator", "/emulator"],
  ["conversations", "Transcripts", "/conversations"],
  ["nlu", "NLU", "/nlu"],
];

export function BotNav({ botId, active }) {
  return html`<nav class="row tabs" aria-label="Bot">
    ${TABS.map(
      ([id, label, suffix]) =>
        html`<a class=${"button" + (id === active ? " primary" : "")} data-bot-tab=${id} aria-current=${id === active ? "page" : undefined} href=${`/bots/${botId}${suffix}`}>${label}</a>`,
    )}
  </nav>`;
}

/** A bot screen whose bot is gone or not visible: no tabs, a way back. */
export function BotMissing({ error }) {
  const title = error.status === 404 ? "Bot not found" : "Bot unavailable";
  return html`<${Page} title=${title}>
    <div class="card" id="bot-missing">
      <${ErrorBox} error=${error} />
      <p>${error.status === 404 ? "This bot does not exist, or it belongs to another organization." : ""}</p>
      <p><a class="button primary" href="/bots">Back to bots</a></p>
    </div>
  <//>`;
}

/** The bot's name for page titles. */
export function useBot(botId) {
  return useLoad(() => get(`/api/v1/bots/${botId}`), [botId]);
}

/** One transcript message. */
export function MessageLine({ m }) {
  const who = m.role === "agent" ? m.author_name || "Agent" : m.role === "note" ? `Note by ${m.author_name || "agent"}` : m.role;
  return html`<div class=${"chat-msg " + m.role} data-role=${m.role} title=${formatDate(m.created_at)}>
    <span class="who">${who}</span>
    <div class="chat-text">${m.text}</div>
    ${m.quick_replies && m.quick_replies.length
      ? html`<div class="chat-opts">${m.quick_replies.map((q) => html`<span class="badge">${q.label}</span>`)}</div>`
      : null}
    ${m.buttons && m.buttons.length
      ? html`<div class="chat-opts">${m.buttons.map((b) => html`<span class="badge">${b.label}</span>`)}</div>`
      : null}
    ${m.cards && m.cards.length
      ? html`<div class="chat-opts">${m.cards.map((c) => html`<div class="card mini"><strong>${c.title}</strong><div class="muted">${c.subtitle || ""}</div></div>`)}</div>`
      : null}
    ${m.image ? html`<div class="muted">[image ${m.image.alt || m.image.url}]</div>` : null}
  </div>`;
}

export function Transcript({ messages }) {
  return html`<div class="chat-log">
    ${messages.map((m) => html`<${MessageLine} key=${m.id} m=${m} />`)}
    ${!messages.length && html`<div class="muted">No messages.</div>`}
  </div>`;
}
