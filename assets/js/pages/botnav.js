// The tabs of one bot's screens, and the transcript view shared by the
// inbox, the transcripts list and the emulator.
import { html, Page, useLoad, useState, formatDate, ErrorBox } from "../ui.js";
import { get } from "../api.js";
import { t } from "../i18n.js";

const TABS = () => ([
  ["settings", t("botnav.settings"), ""],
  ["flows", t("botnav.flows"), "/flows"],
  ["orchestrations", t("botnav.orchestrations"), "/orchestrations"],
  ["widget", t("botnav.widget"), "/widget"],
  ["emulator", t("botnav.emulator_2"), "/emulator"],
  ["tests", t("botnav.tests"), "/tests"],
  ["experiments", t("botnav.experiments"), "/experiments"],
  ["conversations", t("botnav.transcripts"), "/conversations"],
  ["nlu", "NLU", "/nlu"],
  ["insights", t("botnav.insights"), "/insights"],
  ["ai", "AI", "/ai"],
  ["agents", t("botnav.agents"), "/agents"],
  ["workflows", t("botnav.workflows"), "/workflows"],
  ["analytics", t("botnav.analytics"), "/analytics"],
]);

export function BotNav({ botId, active }) {
  return html`<nav class="row tabs" aria-label=${t("common.bot")}>
    ${TABS().map(
      ([id, label, suffix]) =>
        html`<a class=${"button" + (id === active ? " primary" : "")} data-bot-tab=${id} aria-current=${id === active ? "page" : undefined} href=${`/bots/${botId}${suffix}`}>${label}</a>`,
    )}
  </nav>`;
}

/** A bot screen whose bot is gone or not visible: no tabs, a way back. */
export function BotMissing({ error }) {
  const title = error.status === 404 ? t("botnav.bot_not_found") : t("botnav.bot_unavailable");
  return html`<${Page} title=${title}>
    <div class="card" id="bot-missing">
      <${ErrorBox} error=${error} />
      <p>${error.status === 404 ? t("botnav.this_bot_does_not_exist") : ""}</p>
      <p><a class="button primary" href="/bots">${t("botnav.back_to_bots")}</a></p>
    </div>
  <//>`;
}

/**
 * The first steps with a new bot: add knowledge, train, try it in the
 * emulator, embed the widget. Each is ticked from the bot's real state; the
 * list hides itself once everything is done or the user dismisses it.
 */
export function Checklist({ botId }) {
  const key = `bb.checklist.dismissed.${botId}`;
  const [dismissed, setDismissed] = useState(localStorage.getItem(key) === "1");
  const state = useLoad(async () => {
    if (dismissed) return null;
    const [links, nlu, emulator, widget] = await Promise.all([
      get(`/api/v1/bots/${botId}/knowledge-bases`),
      get(`/api/v1/bots/${botId}/nlu`),
      get(`/api/v1/bots/${botId}/conversations?channel=emulator&include_emulator=true&limit=1`),
      get(`/api/v1/bots/${botId}/conversations?channel=widget&limit=1`),
    ]);
    return [
      { id: "knowledge", done: links.length > 0, text: t("botnav.add_knowledge_link_a_knowledge"), href: "/knowledge" },
      {
        id: "train",
        done: !!nlu.active_model && !nlu.needs_training,
        text: nlu.intents ? t("botnav.train_the_nlu_on_your") : t("botnav.add_intents_and_train_the"),
        href: `/bots/${botId}/nlu`,
      },
      { id: "emulator", done: emulator.items.length > 0, text: t("botnav.try_it_in_the_emulator"), href: `/bots/${botId}/emulator` },
      { id: "widget", done: widget.items.length > 0, text: t("botnav.embed_the_widget_on_your"), href: `/bots/${botId}/widget` },
    ];
  }, [botId, dismissed]);
  if (dismissed || !state.data || state.data.every((s) => s.done)) return null;
  const left = state.data.filter((s) => !s.done).length;
  return html`<section class="card checklist" id="bot-checklist" aria-labelledby="checklist-title">
    <div class="row" style="justify-content:space-between">
      <h2 id="checklist-title">${t("botnav.get_this_bot_live_of", { left, data: state.data.length })}</h2>
      <button type="button" id="dismiss-checklist" onClick=${() => (localStorage.setItem(key, "1"), setDismissed(true))}>${t("botnav.hide")}</button>
    </div>
    <ol>
      ${state.data.map(
        (s) => html`<li data-step=${s.id} data-done=${s.done ? "yes" : "no"}>
          <span aria-hidden="true">${s.done ? "✓" : "○"}</span> ${s.done ? html`<s>${s.text}</s>` : html`<a href=${s.href}>${s.text}</a>`}
          <span class="sr-only">${s.done ? t("botnav.done") : t("botnav.to_do")}</span>
        </li>`,
      )}
    </ol>
  </section>`;
}

/** The bot's name for page titles. */
export function useBot(botId) {
  return useLoad(() => get(`/api/v1/bots/${botId}`), [botId]);
}

const DELIVERY_LABELS = () => ({ queued: t("botnav.queued"), retrying: t("botnav.retrying"), sent: t("botnav.sent"), delivered: t("botnav.delivered"), read: t("botnav.read"), failed: t("botnav.failed"), dead: t("botnav.not_delivered") });

/** A channel message's delivery state, as a small label after it. */
function DeliveryBadge({ d }) {
  if (!d) return null;
  const bad = d.status === "failed" || d.status === "dead";
  const title = d.error_message || (d.read_at ? `Read ${formatDate(d.read_at)}` : d.delivered_at ? `Delivered ${formatDate(d.delivered_at)}` : "");
  return html`<span class=${"delivery small " + (bad ? "bad" : "muted")} data-delivery=${d.status} title=${title}>${DELIVERY_LABELS()[d.status] || d.status}</span>`;
}

/** The end user's (or a tester's) vote on a bot answer. */
function VoteBadge({ vote }) {
  if (!vote) return null;
  const up = vote.rating === "up";
  return html`<span class=${"badge feedback-badge " + (up ? "ok" : "warn")} data-feedback=${vote.rating} title=${vote.comment || ""}>
    ${up ? t("botnav.helpful") : t("botnav.not_helpful")}${vote.comment ? html` · <q>${vote.comment}</q>` : ""}${vote.source === "emulator" ? " " + t("botnav.emulator") : ""}
  </span>`;
}

/** One transcript message (with its delivery state on a channel, and its feedback vote). */
export function MessageLine({ m, delivery, vote, children }) {
  const who = m.role === "agent" ? m.author_name || t("botnav.agent") : m.role === "note" ? t("botnav.note_by", { name: m.author_name || t("botnav.agent") }) : m.role;
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
    ${m.image ? html`<div class="muted">${t("botnav.image")} ${m.image.alt || m.image.url}]</div>` : null}
    ${m.attachments && m.attachments.length ? html`<${Attachments} items=${m.attachments} />` : null}
    <${DeliveryBadge} d=${delivery} />
    <${VoteBadge} vote=${vote} />
    ${children}
  </div>`;
}

/** "12 KB": a file size for people. */
export function humanSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Files of a message: image thumbnails, other files as download links. */
export function Attachments({ items }) {
  return html`<div class="chat-attachments">
    ${items.map((a) => {
      const url = `/api/v1/files/${a.file_id}`;
      return a.content_type.startsWith("image/")
        ? html`<a class="chat-thumb" href=${url} target="_blank" rel="noopener" data-file-id=${a.file_id}><img src=${url} alt=${a.name} loading="lazy" /></a>`
        : html`<a class="chat-file" href=${url} download=${a.name} data-file-id=${a.file_id}>📎 ${a.name} <span class="muted">(${humanSize(a.size_bytes)})</span></a>`;
    })}
  </div>`;
}

export function Transcript({ messages }) {
  return html`<div class="chat-log">
    ${messages.map((m) => html`<${MessageLine} key=${m.id} m=${m} />`)}
    ${!messages.length && html`<div class="muted">${t("botnav.no_messages")}</div>`}
  </div>`;
}
