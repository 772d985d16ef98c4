// The human handoff inbox (live over Server-Sent Events: take, reply,
// internal notes, hand back to the bot, close with a resolution) across all
// bots of the organization with filters, unread counts, visitor details,
// canned replies (`/shortcut` in the composer), browser notifications and a
// sound; and a bot's transcripts with search and replay against the draft.
import { html, Page, useLoad, useState, useEffect, useRef, ErrorBox, toast, formatDate, plural, Loading, FieldError } from "../ui.js";
import { route } from "../router.js";
import { get, post, patch, del, api } from "../api.js";
import { currentOrg, currentUser, can } from "../session.js";
import { BotNav, useBot, BotMissing, MessageLine, humanSize } from "./botnav.js";
import { t } from "../i18n.js";

/**
 * Subscribes to an SSE URL while mounted; `handlers` maps event names to
 * callbacks. Closed while the page sits in the back/forward cache (a frozen
 * page must not hold one of the browser's few connections to the server).
 */
function useEvents(url, handlers, deps) {
  useEffect(() => {
    if (!url || !window.EventSource) return undefined;
    let source = null;
    const open = () => {
      if (source) return;
      source = new EventSource(url);
      for (const [name, fn] of Object.entries(handlers)) source.addEventListener(name, (e) => fn(e.data ? JSON.parse(e.data) : null));
    };
    const close = () => {
      if (source) source.close();
      source = null;
    };
    window.addEventListener("pagehide", close);
    window.addEventListener("pageshow", open);
    open();
    return () => {
      window.removeEventListener("pagehide", close);
      window.removeEventListener("pageshow", open);
      close();
    };
  }, deps);
}

// ---- Unread counts, notifications and the sound -----------------------------

const SOUND_KEY = "bb-inbox-sound";
let audioContext = null;
let lastUnread = null;
const unreadWatchers = new Set();

export function soundOn() {
  try {
    return localStorage.getItem(SOUND_KEY) === "on";
  } catch (e) {
    return false;
  }
}

/** A short two-tone beep (WebAudio; needs one user gesture first, the toggle). */
export function beep() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  try {
    audioContext = audioContext || new Ctx();
    if (audioContext.state === "suspended") audioContext.resume();
    const tv = audioContext.currentTime;
    const gain = audioContext.createGain();
    gain.gain.setValueAtTime(0.0001, tv);
    gain.gain.exponentialRampToValueAtTime(0.15, tv + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, tv + 0.25);
    gain.connect(audioContext.destination);
    const osc = audioContext.createOscillator();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, tv);
    osc.frequency.setValueAtTime(660, tv + 0.12);
    osc.connect(gain);
    osc.start(tv);
    osc.stop(tv + 0.26);
  } catch (e) {
    /* no sound is better than a broken page */
  }
}

function alertAgent(summary) {
  window.__bbInboxAlerts = (window.__bbInboxAlerts || 0) + 1;
  if (soundOn()) beep();
  // The system notification is for an agent who is elsewhere: not while this tab is in front.
  if (window.Notification && Notification.permission === "granted" && document.visibilityState !== "visible") {
    try {
      new Notification(t("inbox.new_message_in_the_inbox"), { body: t("inbox.unread_from_visitors", { messages: plural(summary.unread, "unread message") }), tag: "bb-inbox" });
    } catch (e) {
      /* some browsers only allow notifications from a service worker */
    }
  }
}

/** Fetches the caller's unread count; a rise means a new visitor message: notify. */
export async function refreshUnread(orgId) {
  try {
    const r = await get(`/api/v1/orgs/${orgId}/inbox/unread`);
    const before = lastUnread;
    lastUnread = r.unread;
    if (before !== null && r.unread > before) alertAgent(r);
    unreadWatchers.forEach((fn) => fn(r));
  } catch (e) {
    /* the badge keeps its last value */
  }
}

/** The unread count for the sidebar badge, live while mounted. */
export function useInboxUnread(org) {
  const [unread, setUnread] = useState(0);
  const allowed = !!org && org.permissions.includes("conversations.handle");
  useEffect(() => {
    if (!allowed) return undefined;
    lastUnread = null;
    const fn = (r) => setUnread(r.unread);
    unreadWatchers.add(fn);
    refreshUnread(org.id);
    // The stream is closed while the page is hidden in the back/forward
    // cache: a frozen page must not keep one of the browser's few
    // connections to this server.
    let source = null;
    const open = () => {
      if (source || !window.EventSource) return;
      source = new EventSource(`/api/v1/orgs/${org.id}/inbox/events`);
      source.addEventListener("conversation", () => refreshUnread(org.id));
    };
    const close = () => {
      if (source) source.close();
      source = null;
    };
    const show = () => (open(), refreshUnread(org.id));
    window.addEventListener("pagehide", close);
    window.addEventListener("pageshow", show);
    open();
    return () => {
      unreadWatchers.delete(fn);
      window.removeEventListener("pagehide", close);
      window.removeEventListener("pageshow", show);
      close();
    };
  }, [allowed, org && org.id]);
  return allowed ? unread : 0;
}

function AlertSettings() {
  const [sound, setSound] = useState(soundOn());
  const [permission, setPermission] = useState(window.Notification ? Notification.permission : "unsupported");
  const toggleSound = (e) => {
    const on = e.target.checked;
    try {
      localStorage.setItem(SOUND_KEY, on ? "on" : "off");
    } catch (err) {
      /* not remembered, still on for now */
    }
    setSound(on);
    if (on) beep();
  };
  const ask = async () => {
    const p = await Notification.requestPermission();
    setPermission(p);
    toast(p === "granted" ? t("inbox.notifications_on") : t("inbox.notifications_are_blocked_by_the"), { error: p !== "granted" });
  };
  return html`<div class="row inbox-alerts">
    <label><input type="checkbox" id="inbox-sound" checked=${sound} onChange=${toggleSound} /> ${t("inbox.sound")}</label>
    ${permission === "default" && html`<button type="button" id="inbox-notify" onClick=${ask}>${t("inbox.enable_notifications")}</button>`}
    ${permission === "granted" && html`<span class="muted" id="inbox-notify-on">${t("inbox.notifications_on")}</span>`}
    ${permission === "denied" && html`<span class="muted">${t("inbox.notifications_blocked_in_the_browser")}</span>`}
  </div>`;
}

// ---- Canned replies ---------------------------------------------------------

/** Fills `{{visitor.name}}`, `{{visitor.email}}`, `{{agent.name}}`, `{{bot.name}}`; unknown ones stay for the agent to edit. */
export function fillCanned(text, conv) {
  const me = currentUser();
  const values = {
    "visitor.name": conv && conv.visitor && conv.visitor.name,
    "visitor.email": conv && conv.visitor && conv.visitor.email,
    "agent.name": me && me.user && (me.user.name || me.user.email),
    "bot.name": conv && conv.bot_name,
  };
  return text.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, (all, name) => (values[name] ? values[name] : all));
}

function useCanned(orgId) {
  return useLoad(() => get(`/api/v1/orgs/${orgId}/canned-replies?limit=200`), [orgId]);
}

function CannedManager({ orgId, onChanged }) {
  const list = useCanned(orgId);
  const [shortcut, setShortcut] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const items = (list.data && list.data.items) || [];
  const add = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post(`/api/v1/orgs/${orgId}/canned-replies`, { shortcut, text });
      setShortcut("");
      setText("");
      toast(t("inbox.canned_reply_saved"));
      list.reload();
      onChanged && onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (r) => {
    setError(null);
    try {
      await del(`/api/v1/canned-replies/${r.id}`);
      list.reload();
      onChanged && onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const edit = async (r) => {
    const tv = prompt(t("inbox.text_of", { shortcut: r.shortcut }), r.text);
    if (tv === null) return;
    setError(null);
    try {
      await patch(`/api/v1/canned-replies/${r.id}`, { text: tv });
      list.reload();
      onChanged && onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="canned-manager">
    <h2>${t("inbox.canned_replies")}</h2>
    <p class="muted">${t("inbox.agents_type")} <code>/shortcut</code> ${t("inbox.in_the_reply_box_variables")} <code>{{visitor.name}}</code>, <code>{{visitor.email}}</code>, <code>{{agent.name}}</code>, <code>{{bot.name}}</code>.</p>
    <ul class="pick-list" id="canned-list">
      ${items.map(
        (r) => html`<li data-shortcut=${r.shortcut}><code>/${r.shortcut}</code> ${r.text}
          <button type="button" onClick=${() => edit(r)} aria-label=${t("inbox.edit", { shortcut: r.shortcut })}>${t("common.edit")}</button>
          <button type="button" class="danger" onClick=${() => remove(r)} aria-label=${t("inbox.delete", { shortcut: r.shortcut })}>${t("common.delete")}</button></li>`,
      )}
      <${Loading} load=${list} li />
      ${list.data && !items.length && html`<li class="muted">${t("inbox.no_canned_replies_yet")}</li>`}
    </ul>
    <form class="stack" onSubmit=${add}>
      <label for="canned-shortcut">${t("inbox.shortcut_2")}</label>
      <input id="canned-shortcut" placeholder=${t("inbox.thanks")} value=${shortcut} onInput=${(e) => setShortcut(e.target.value)} />
      <${FieldError} error=${error} name="shortcut" />
      <label for="canned-text">${t("common.text")}</label>
      <textarea id="canned-text" rows="2" placeholder=${t("inbox.thank_you_visitor_name")} value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <${FieldError} error=${error} name="text" />
      <${ErrorBox} error=${error && !error.field ? error : null} />
      <button type="submit" class="primary" id="canned-save">${t("inbox.save_canned_reply")}</button>
    </form>
  </div>`;
}

/** The `/word` being typed at the end of the composer, if any. */
function slashQuery(text) {
  const m = /(^|\s)\/([a-z0-9_-]*)$/.exec(text);
  return m ? m[2] : null;
}

function Composer({ conv, orgId, cannedVersion, onSend }) {
  const [text, setText] = useState("");
  const [active, setActive] = useState(0);
  // Files uploaded for the next reply (sent with it by id).
  const [files, setFiles] = useState([]);
  const [uploading, setUploading] = useState(0);
  const [uploadError, setUploadError] = useState(null);
  const pick = useRef(null);
  const attach = async (list) => {
    setUploadError(null);
    for (const f of Array.from(list || [])) {
      setUploading((n) => n + 1);
      try {
        const a = await api("POST", `/api/v1/conversations/${conv.id}/files?name=${encodeURIComponent(f.name || "")}`, f);
        setFiles((fs) => [...fs, a]);
      } catch (e) {
        setUploadError(e);
      } finally {
        setUploading((n) => n - 1);
      }
    }
  };
  const canned = useLoad(() => get(`/api/v1/orgs/${orgId}/canned-replies?limit=200`), [orgId, cannedVersion]);
  const all = (canned.data && canned.data.items) || [];
  const query = slashQuery(text);
  const matches = query === null ? [] : all.filter((r) => r.shortcut.startsWith(query)).slice(0, 8);
  const insert = (r) => {
    const filled = fillCanned(r.text, conv);
    setText((tv) => (slashQuery(tv) === null ? `${tv}${tv && !tv.endsWith(" ") ? " " : ""}${filled}` : tv.replace(/\/[a-z0-9_-]*$/, filled)));
    setActive(0);
    const box = document.getElementById("agent-text");
    if (box) box.focus();
  };
  const keyDown = (e) => {
    if (!matches.length) return;
    if (e.key === "ArrowDown") (e.preventDefault(), setActive((a) => (a + 1) % matches.length));
    else if (e.key === "ArrowUp") (e.preventDefault(), setActive((a) => (a - 1 + matches.length) % matches.length));
    else if (e.key === "Enter" || e.key === "Tab") (e.preventDefault(), insert(matches[Math.min(active, matches.length - 1)]));
    else if (e.key === "Escape") setText((tv) => tv.replace(/\/[a-z0-9_-]*$/, ""));
  };
  const send = (kind) => (e) => {
    e && e.preventDefault();
    const withFiles = kind === "reply" && files.length > 0;
    if (!text.trim() && !withFiles) return;
    if (uploading) return;
    const tv = text;
    setText("");
    if (withFiles) setFiles([]);
    onSend(kind, tv, withFiles ? files.map((f) => f.file_id) : []);
  };
  return html`<form class="composer" onSubmit=${send("reply")}>
    <div class="composer-box">
      <textarea id="agent-text" rows="2" aria-label=${t("inbox.reply_or_note")} aria-autocomplete="list" aria-controls=${matches.length ? "canned-suggestions" : undefined}
        placeholder=${t("inbox.reply_to_the_user_or")} value=${text}
        onInput=${(e) => (setText(e.target.value), setActive(0))} onKeyDown=${keyDown}
        onPaste=${(e) => {
          const pasted = e.clipboardData && e.clipboardData.files;
          if (pasted && pasted.length) (e.preventDefault(), attach(pasted));
        }}></textarea>
      ${matches.length > 0 &&
      html`<ul class="canned-suggestions" id="canned-suggestions" role="listbox" aria-label=${t("inbox.canned_replies")}>
        ${matches.map(
          (r, i) => html`<li role="option" aria-selected=${i === active} class=${i === active ? "active" : ""} data-shortcut=${r.shortcut}
            onMouseDown=${(e) => (e.preventDefault(), insert(r))}><code>/${r.shortcut}</code> <span class="muted">${r.text.slice(0, 80)}</span></li>`,
        )}
      </ul>`}
    </div>
    ${uploadError && html`<${ErrorBox} error=${uploadError} />`}
    ${(files.length > 0 || uploading > 0) &&
    html`<ul class="composer-files" id="composer-files" aria-label=${t("inbox.files_to_send")}>
      ${files.map(
        (f) => html`<li data-file-id=${f.file_id}>📎 ${f.name} <span class="muted">(${humanSize(f.size_bytes)})</span>
          <button type="button" class="link" aria-label=${t("inbox.remove", { name: f.name })} onClick=${() => setFiles((fs) => fs.filter((x) => x !== f))}>×</button></li>`,
      )}
      ${uploading > 0 && html`<li class="muted" role="status">${t("inbox.uploading")}</li>`}
    </ul>`}
    <div class="row">
      <button type="submit" class="primary" id="send-reply" disabled=${uploading > 0}>${t("inbox.reply")}</button>
      <input type="file" id="agent-file" ref=${pick} multiple hidden aria-hidden="true" tabindex="-1"
        onChange=${(e) => (attach(e.target.files), (e.target.value = ""))} />
      <button type="button" id="attach-file" onClick=${() => pick.current && pick.current.click()}>${t("inbox.attach_file")}</button>
      <button type="button" id="add-note" onClick=${send("notes")}>${t("inbox.note")}</button>
      ${all.length > 0 &&
      html`<label for="canned-picker" class="sr-only">${t("inbox.insert_a_canned_reply")}</label>
      <select id="canned-picker" value="" onChange=${(e) => {
        const r = all.find((x) => String(x.id) === e.target.value);
        if (r) insert(r);
        e.target.value = "";
      }}>
        <option value="">${t("inbox.canned_reply")}</option>
        ${all.map((r) => html`<option value=${r.id}>/${r.shortcut}</option>`)}
      </select>`}
    </div>
  </form>`;
}

// ---- Tool calls waiting for a human ----------------------------------------

/** Pending tool-call approvals of the organization (or of one conversation), live while mounted. */
function useApprovals(orgId, conversationId, tick, enabled = true) {
  const qs = conversationId ? `&conversation_id=${conversationId}` : "";
  return useLoad(
    () => (enabled ? get(`/api/v1/orgs/${orgId}/agent-approvals?limit=100${qs}`) : null),
    [orgId, conversationId, tick, enabled],
  );
}

/**
 * One tool call an agent waits on: the agent, bot, conversation, tool and
 * its arguments (secrets redacted by the server), who asked and when; Approve,
 * or Reject with a reason the model is told. Both continue the agent's turn.
 */
function ApprovalItem({ a, onOpen, onDecided }) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const decide = async (verb) => {
    setBusy(true);
    setError(null);
    try {
      const run = await post(`/api/v1/agent-approvals/${a.id}/${verb}`, verb === "reject" && reason.trim() ? { note: reason.trim() } : {});
      toast(verb === "approve" ? `Approved ${a.tool_name}` : `Rejected ${a.tool_name}`);
      onDecided && onDecided(a, run);
    } catch (e) {
      setError(e);
      // Decided elsewhere in the meantime: the list moves on.
      if (e && e.code === "agent_approval_decided") onDecided && onDecided(a, null);
    } finally {
      setBusy(false);
    }
  };
  const reasonId = `approval-reason-${a.id}`;
  return html`<li class="approval" data-approval=${a.id} aria-labelledby=${`approval-title-${a.id}`}>
    <div id=${`approval-title-${a.id}`}><strong>${a.agent_name}</strong>${a.bot_name ? html` · ${a.bot_name}` : ""} ${t("inbox.wants_to_run")} <code class="approval-tool">${a.tool_name}</code></div>
    <pre class="approval-arguments" aria-label=${t("inbox.arguments")}>${JSON.stringify(a.arguments, null, 2)}</pre>
    <div class="muted approval-meta">
      ${t("inbox.asked_by")} <span class="approval-asker">${a.requested_by || (a.run_source === "test" ? t("inbox.the_test_chat") : a.run_source)}</span> · ${formatDate(a.created_at)}
      ${a.conversation_id && onOpen
        ? html` · <a href="#" class="approval-open" onClick=${(e) => (e.preventDefault(), onOpen(a.conversation_id))}>${t("inbox.conversation", { conversation_id: a.conversation_id })}</a>`
        : a.conversation_id ? html` ${t("inbox.conversation_2", { conversation_id: a.conversation_id })}` : ""}
    </div>
    ${a.input && html`<div class="muted approval-input">${t("inbox.message_quoted", { text: a.input.length > 200 ? a.input.slice(0, 200) + "…" : a.input })}</div>`}
    <div class="row">
      <button type="button" class="primary approval-approve" disabled=${busy} onClick=${() => decide("approve")}>${t("common.approve")}</button>
      <label for=${reasonId} class="sr-only">${t("inbox.reason_for_rejecting")}</label>
      <input id=${reasonId} class="approval-reason" placeholder=${t("inbox.reason_told_to_the_agent")} maxlength="1000" value=${reason} onInput=${(e) => setReason(e.target.value)} />
      <button type="button" class="danger approval-reject" disabled=${busy} onClick=${() => decide("reject")}>${t("inbox.reject")}</button>
    </div>
    <${FieldError} error=${error} name="note" />
    <${ErrorBox} error=${error && !error.field ? error : null} />
  </li>`;
}

/** The pending approvals as a list (`id` tells the inbox-wide list from a conversation's). */
function ApprovalList({ id, load, onOpen, onDecided }) {
  const items = (load.data && load.data.items) || [];
  return html`<ul class="pick-list approvals" id=${id}>
    ${items.map((a) => html`<${ApprovalItem} key=${a.id} a=${a} onOpen=${onOpen} onDecided=${onDecided} />`)}
    <${Loading} load=${load} li />
    ${load.data && !items.length && html`<li class="muted">${t("inbox.no_tool_calls_wait_for")}</li>`}
  </ul>`;
}

// ---- One conversation -------------------------------------------------------

function VisitorDetails({ conv }) {
  const v = conv.visitor;
  if (!v) return null;
  const rows = [
    [t("common.name"), v.name],
    [t("common.email"), v.email && html`<a href=${`mailto:${v.email}`}>${v.email}</a>`],
    [t("inbox.page"), v.page_url && html`<a href=${v.page_url} target="_blank" rel="noopener noreferrer">${v.page_title || v.page_url}</a>`],
    [t("inbox.browser"), [v.browser, v.os].filter(Boolean).join(" on ")],
    [t("inbox.language"), v.language],
    [t("inbox.first_seen"), formatDate(v.first_seen)],
    [t("common.channel"), conv.channel === "emulator" ? t("inbox.emulator_test") : v.channel],
  ].filter(([, value]) => value);
  return html`<details class="visitor-details" id="visitor-details" open>
    <summary>${t("inbox.visitor")}</summary>
    <dl>${rows.map(([k, value]) => html`<dt>${k}</dt><dd data-field=${k.toLowerCase().replace(" ", "_")}>${value}</dd>`)}</dl>
  </details>`;
}

/** Whether a scroll box shows its end (a few pixels of slack). */
function atBottom(el) {
  return !el || el.scrollHeight - el.scrollTop - el.clientHeight < 24;
}

function ConversationPanel({ id, onChanged, agent, inbox, cannedVersion }) {
  const org = currentOrg();
  const [tick, setTick] = useState(0);
  const conv = useLoad(() => get(`/api/v1/conversations/${id}`), [id, tick]);
  const messages = useLoad(() => get(`/api/v1/conversations/${id}/messages?limit=200`), [id, tick]);
  // Channel conversations show each message's delivery state (empty list elsewhere).
  const deliveries = useLoad(() => get(`/api/v1/conversations/${id}/deliveries`), [id, tick]);
  const deliveryOf = new Map(((deliveries.data && deliveries.data.items) || []).map((d) => [d.message_id, d]));
  // Thumbs up/down of the end user on the bot's answers.
  const votes = useLoad(() => get(`/api/v1/conversations/${id}/feedback`), [id, tick]);
  const voteOf = new Map((votes.data || []).map((v) => [v.message_id, v]));
  const [resolution, setResolution] = useState("");
  const [error, setError] = useState(null);
  const [newBelow, setNewBelow] = useState(false);
  const logRef = useRef(null);
  const following = useRef(true);
  const seen = useRef(0);
  const marked = useRef(0);
  const refresh = () => setTick((tv) => tv + 1);
  useEvents(`/api/v1/conversations/${id}/events`, { message: refresh, status: refresh }, [id]);
  // Tool calls of this conversation's agent waiting for a human.
  const approvals = useApprovals(org.id, id, tick, !!agent);
  const waiting = agent ? (approvals.data && approvals.data.items) || [] : [];
  useEffect(() => {
    following.current = true;
    seen.current = 0;
    setNewBelow(false);
  }, [id]);
  const items = (messages.data && messages.data.items) || [];
  const last = items.length ? items[items.length - 1].id : 0;
  // Follow the conversation: to the newest message unless the agent scrolled up.
  useEffect(() => {
    const el = logRef.current;
    if (!el || !last) return;
    const grew = last > seen.current;
    const first = seen.current === 0;
    seen.current = last;
    if (first || following.current) {
      el.scrollTop = el.scrollHeight;
      setNewBelow(false);
    } else if (grew) {
      setNewBelow(true);
    }
  }, [last]);
  // What the agent has on screen is read.
  useEffect(() => {
    if (!inbox || !agent || !last || last <= marked.current || document.visibilityState !== "visible") return;
    marked.current = last;
    post(`/api/v1/conversations/${id}/read`, { message_id: last }).then(
      () => {
        refreshUnread(org.id);
        onChanged && onChanged();
      },
      () => {},
    );
  }, [id, last]);
  const onScroll = () => {
    following.current = atBottom(logRef.current);
    if (following.current) setNewBelow(false);
  };
  const jump = () => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
    following.current = true;
    setNewBelow(false);
  };
  const act = async (path, body, done) => {
    setError(null);
    try {
      await post(`/api/v1/conversations/${id}/${path}`, body);
      if (done) toast(done);
      following.current = true;
      refresh();
      onChanged && onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const send = (kind, tv, attachments) =>
    act(kind, kind === "reply" && attachments.length ? { text: tv, attachments } : { text: tv });
  const c = conv.data;
  const me = currentUser();
  const mine = c && me && c.assignee_user_id === me.user.id;
  return html`<div class="card conversation-panel" id="conversation-panel" data-conversation=${id}>
    <${ErrorBox} error=${error || conv.error} />
    ${c &&
    html`<div class="row" style="justify-content:space-between">
      <div><strong>${c.bot_name}</strong> · ${c.channel}${c.channel === "emulator" ? html` <span class="badge warn test-badge">${t("common.test")}</span>` : ""} · <span class="muted">${(c.visitor && c.visitor.name) || c.external_user_id}</span></div>
      <span class=${"badge " + (c.status === "handoff" ? "warn" : c.status === "open" ? "ok" : "")} id="conversation-status">${c.status}</span>
    </div>
    <div class="muted">${c.assignee_name ? t("inbox.assigned_to", { assignee_name: c.assignee_name }) : c.status === "handoff" ? t("inbox.waiting_for_an_agent") : ""}${c.resolution ? ` · Resolved: ${c.resolution}` : ""}${c.csat ? ` · CSAT ${c.csat}/5` : ""}</div>
    <${VisitorDetails} conv=${c} />`}
    ${waiting.length > 0 &&
    html`<div class="conversation-approvals" role="region" aria-label=${t("inbox.tool_calls_waiting_for_approval")}>
      <h3>${t("inbox.the_agent_waits_for_your")}</h3>
      <${ApprovalList} id="conversation-approvals" load=${approvals} onDecided=${() => (following.current = true, refresh(), onChanged && onChanged())} />
    </div>`}
    <div class="chat-follow">
      <div class="chat-log" id="conversation-log" ref=${logRef} onScroll=${onScroll} tabindex="0" aria-label=${t("inbox.messages")} role="log">
        ${items.map((m) => html`<${MessageLine} key=${m.id} m=${m} delivery=${deliveryOf.get(m.id)} vote=${voteOf.get(m.id)} />`)}
        ${messages.data && !items.length && html`<div class="muted">${t("inbox.no_messages")}</div>`}
      </div>
      ${newBelow && html`<button type="button" class="new-messages" id="new-messages" onClick=${jump}>${t("inbox.new_messages")}</button>`}
    </div>
    ${agent && c && c.status === "handoff" &&
    html`<div class="agent-actions">
      ${!mine && html`<button type="button" class="primary" id="take" onClick=${() => act("assign", {}, t("inbox.taken"))}>${t("inbox.take")}</button>`}
      <${Composer} conv=${c} orgId=${org.id} cannedVersion=${cannedVersion || 0} onSend=${send} />
      <div class="row">
        <button type="button" id="hand-back" onClick=${() => act("handback", undefined, t("inbox.handed_back_to_the_bot"))}>${t("inbox.hand_back_to_bot")}</button>
        <input id="resolution" aria-label=${t("inbox.resolution")} placeholder=${t("inbox.resolution")} value=${resolution} onInput=${(e) => setResolution(e.target.value)} />
        <button type="button" class="danger" id="close-conversation" onClick=${() => act("close", { resolution: resolution || undefined }, t("inbox.closed"))}>${t("common.close")}</button>
      </div>
    </div>`}
    ${agent && c && c.status === "open" &&
    html`<div class="agent-actions">
      <p class="muted">${t("inbox.the_bot_is_handling_this")}</p>
      <${Composer} conv=${c} orgId=${org.id} cannedVersion=${cannedVersion || 0} onSend=${send} />
      <button type="button" id="move-to-inbox" onClick=${() => act("handoff", {}, t("inbox.moved_to_the_inbox"))}>${t("inbox.move_to_inbox")}</button>
    </div>`}
  </div>`;
}

const STATUSES = () => ([
  ["", t("inbox.waiting_and_assigned")],
  ["waiting", t("inbox.waiting_2")],
  ["assigned", t("inbox.assigned")],
  ["mine", t("inbox.mine")],
  ["closed", t("inbox.closed")],
  ["open", t("inbox.with_the_bot")],
]);
const CHANNELS = ["widget", "api", "telegram", "whatsapp", "slack", "messenger", "instagram", "sms", "email", "http", "voice", "web"];

function Inbox() {
  const org = currentOrg();
  const [status, setStatus] = useState("");
  const [bot, setBot] = useState("");
  const [channel, setChannel] = useState("");
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [test, setTest] = useState(false);
  const [tick, setTick] = useState(0);
  const [cannedVersion, setCannedVersion] = useState(0);
  const [showCanned, setShowCanned] = useState(false);
  const params = new URLSearchParams({ limit: "100" });
  if (status) params.set("status", status);
  if (bot) params.set("bot_id", bot);
  if (channel) params.set("channel", channel);
  if (query) params.set("q", query);
  if (test) params.set("include_emulator", "true");
  const qs = params.toString();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/inbox?${qs}`), [org.id, qs, tick]);
  const bots = useLoad(() => get(`/api/v1/orgs/${org.id}/bots?limit=200`), [org.id]);
  const [selected, setSelected] = useState(null);
  const [live, setLive] = useState(false);
  const [showApprovals, setShowApprovals] = useState(true);
  const [panelKey, setPanelKey] = useState(0);
  useEvents(`/api/v1/orgs/${org.id}/inbox/events`, { ready: () => setLive(true), conversation: () => setTick((tv) => tv + 1) }, [org.id]);
  const approvals = useApprovals(org.id, null, tick);
  const pending = ((approvals.data && approvals.data.items) || []).length;
  // After a decision the conversation opens to show the decision and the agent's reply.
  const decided = (a) => {
    setTick((tv) => tv + 1);
    if (a.conversation_id) {
      setSelected(a.conversation_id);
      setPanelKey((k) => k + 1);
    }
  };
  const items = (list.data && list.data.items) || [];
  const filtered = status || bot || channel || query || test;
  return html`<${Page} title=${t("inbox.inbox")} actions=${html`<span class=${"badge " + (live ? "ok" : "")} id="inbox-live">${live ? "live" : t("inbox.connecting")}</span>`}>
    <div class="row inbox-toolbar">
      <form class="row" role="search" onSubmit=${(e) => (e.preventDefault(), setQuery(q.trim()))}>
        <label for="inbox-search" class="sr-only">${t("inbox.search_conversations")}</label>
        <input id="inbox-search" type="search" placeholder=${t("inbox.search_messages_or_visitor")} value=${q} onInput=${(e) => setQ(e.target.value)} />
        <button type="submit">${t("common.search")}</button>
      </form>
      <label for="inbox-status" class="sr-only">${t("common.status")}</label>
      <select id="inbox-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        ${STATUSES().map(([v, label]) => html`<option value=${v}>${label}</option>`)}
      </select>
      <label for="inbox-bot" class="sr-only">${t("common.bot")}</label>
      <select id="inbox-bot" value=${bot} onChange=${(e) => setBot(e.target.value)}>
        <option value="">${t("inbox.all_bots")}</option>
        ${((bots.data && bots.data.items) || []).map((b) => html`<option value=${b.id}>${b.name}</option>`)}
      </select>
      <label for="inbox-channel" class="sr-only">${t("common.channel")}</label>
      <select id="inbox-channel" value=${channel} onChange=${(e) => setChannel(e.target.value)}>
        <option value="">${t("inbox.all_channels")}</option>
        ${CHANNELS.map((c) => html`<option value=${c}>${c}</option>`)}
      </select>
      <label><input type="checkbox" id="inbox-include-test" checked=${test} onChange=${(e) => setTest(e.target.checked)} /> ${t("inbox.show_test_conversations")}</label>
    </div>
    <div class="row">
      <${AlertSettings} />
      ${can("bots.write") && html`<button type="button" id="canned-manage" aria-expanded=${showCanned} onClick=${() => setShowCanned((v) => !v)}>${t("inbox.canned_replies")}</button>`}
    </div>
    ${showCanned && html`<${CannedManager} orgId=${org.id} onChanged=${() => setCannedVersion((v) => v + 1)} />`}
    <section class="card" id="approvals" aria-labelledby="approvals-title">
      <div class="row" style="justify-content:space-between">
        <h2 id="approvals-title">${t("inbox.tool_approvals")} <span class=${"badge " + (pending ? "warn" : "")} id="approvals-count">${pending}<span class="sr-only"> ${t("inbox.waiting")}</span></span></h2>
        <button type="button" id="approvals-toggle" aria-expanded=${showApprovals} aria-controls="approvals-list" onClick=${() => setShowApprovals((v) => !v)}>${showApprovals ? t("inbox.hide") : t("inbox.show")}</button>
      </div>
      ${showApprovals && html`<p class="muted">${t("inbox.agents_ask_before_running_tools")}</p>
        <${ErrorBox} error=${approvals.error} />
        <${ApprovalList} id="approvals-list" load=${approvals} onOpen=${(cid) => setSelected(cid)} onDecided=${decided} />`}
    </section>
    <${ErrorBox} error=${list.error} />
    <div class=${"split inbox" + (selected ? " has-selection" : "")}>
      <div class="card inbox-list-card" style="flex:1;min-width:260px">
        <ul class="pick-list" id="inbox-list">
          ${items.map(
            (c) => html`<li data-conversation=${c.id} data-unread=${c.unread || 0} class=${(selected === c.id ? "active" : "") + (c.unread ? " unread" : "")}>
              <a href="#" onClick=${(e) => (e.preventDefault(), setSelected(c.id))}><strong>${c.bot_name}</strong> · ${c.external_user_id}</a>
              ${c.unread > 0 && html` <span class="badge unread-count">${c.unread}<span class="sr-only"> ${t("inbox.unread")}</span></span>`}
              ${c.channel === "emulator" && html` <span class="badge warn test-badge">${t("common.test")}</span>`}
              <div class="muted">${c.last_message || ""}</div>
              <div class="muted">${c.channel} · ${c.status === "closed" ? t("inbox.state_closed") : c.assignee_name ? t("inbox.state_with", { name: c.assignee_name }) : c.status === "handoff" ? t("inbox.waiting") : t("inbox.state_with_the_bot")} · ${formatDate(c.handoff_at || c.created_at)}</div>
            </li>`,
          )}
          <${Loading} load=${list} li />
          ${list.data && !items.length && html`<li class="muted">${filtered ? t("inbox.no_conversations_match_these_filters") : t("inbox.nobody_is_waiting")}</li>`}
        </ul>
      </div>
      <div class="inbox-conversation" style="flex:2">
        ${selected
          ? html`<button type="button" class="inbox-back" id="inbox-back" onClick=${() => setSelected(null)}>${t("inbox.all_conversations")}</button>
            <${ConversationPanel} key=${`${selected}-${panelKey}`} id=${selected} agent=${true} inbox=${true} cannedVersion=${cannedVersion} onChanged=${() => setTick((tv) => tv + 1)} />`
          : html`<div class="card muted">${t("inbox.select_a_conversation")}</div>`}
      </div>
    </div>
  <//>`;
}

function ReplayView({ report }) {
  return html`<div class="card" id="replay">
    <h2>${t("inbox.replay_against_the_draft_turn", { differing_turns: report.differing_turns })}</h2>
    <table><thead><tr><th>${t("inbox.user")}</th><th>${t("inbox.then")}</th><th>${t("inbox.now_draft")}</th></tr></thead><tbody>
      ${report.turns.map(
        (tv) => html`<tr class=${tv.same ? "" : "differs"}><td>${tv.user}</td><td>${tv.original.join(" / ")}</td><td>${tv.replayed.join(" / ")}${tv.same ? "" : html` <span class="badge warn">${t("inbox.changed")}</span>`}</td></tr>`,
      )}
    </tbody></table>
  </div>`;
}

function Transcripts({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [status, setStatus] = useState("");
  const [cursor, setCursor] = useState(null);
  const url = `/api/v1/bots/${botId}/conversations?limit=50${query ? `&q=${encodeURIComponent(query)}` : ""}${status ? `&status=${status}` : ""}${cursor ? `&after=${encodeURIComponent(cursor)}` : ""}`;
  const list = useLoad(() => get(url), [url]);
  // `?conversation=ID` (links from a contact's conversations) opens that transcript.
  const [selected, setSelected] = useState(() => Number(new URLSearchParams(location.search).get("conversation")) || null);
  const [replay, setReplay] = useState(null);
  const [error, setError] = useState(null);
  const search = (e) => {
    e.preventDefault();
    setCursor(null);
    setQuery(q);
  };
  const doReplay = async () => {
    setError(null);
    try {
      setReplay(await post(`/api/v1/conversations/${selected}/replay`));
    } catch (e) {
      setError(e);
    }
  };
  const items = (list.data && list.data.items) || [];
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("inbox.transcripts", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="conversations" />
    <form class="row card" onSubmit=${search}>
      <label for="transcript-search" class="sr-only">${t("inbox.search_messages")}</label>
      <input id="transcript-search" placeholder=${t("inbox.search_messages")} value=${q} onInput=${(e) => setQ(e.target.value)} />
      <label for="transcript-status" class="sr-only">${t("common.status")}</label>
      <select id="transcript-status" value=${status} onChange=${(e) => (setCursor(null), setStatus(e.target.value))}>
        <option value="">${t("inbox.any_status")}</option><option value="open">${t("inbox.open")}</option><option value="handoff">${t("inbox.handoff")}</option><option value="closed">${t("inbox.closed")}</option>
      </select>
      <button class="primary" type="submit">${t("common.search")}</button>
    </form>
    <${ErrorBox} error=${list.error || error} />
    <div class="split">
      <div class="card" style="flex:1;min-width:280px">
        <table id="transcript-list"><thead><tr><th>${t("inbox.user")}</th><th>${t("inbox.last_message")}</th><th>${t("common.status")}</th></tr></thead><tbody>
          ${items.map(
            (c) => html`<tr data-conversation=${c.id} class=${selected === c.id ? "active" : ""} onClick=${() => (setSelected(c.id), setReplay(null))} style="cursor:pointer">
              <td>${c.external_user_id}<div class="muted">${c.channel} · ${plural(c.message_count, "message")}</div></td>
              <td>${c.last_message || ""}<div class="muted">${formatDate(c.last_message_at)}</div></td>
              <td><span class="badge">${c.status}</span></td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="3" />
          ${list.data && !items.length && html`<tr><td colspan="3" class="muted">${t("inbox.no_conversations")}${query ? ` mention “${query}”` : ""}.</td></tr>`}
        </tbody></table>
        ${list.data && list.data.next_cursor && html`<button type="button" onClick=${() => setCursor(list.data.next_cursor)}>${t("common.older")}</button>`}
      </div>
      <div style="flex:2">
        ${selected
          ? html`<${ConversationPanel} id=${selected} agent=${can("conversations.handle")} />
            ${can("bots.write") && html`<button type="button" id="replay-btn" onClick=${doReplay}>${t("inbox.replay_against_the_draft")}</button>`}
            ${replay && html`<${ReplayView} report=${replay} />`}`
          : html`<div class="card muted">${t("inbox.select_a_conversation")}</div>`}
      </div>
    </div>
  <//>`;
}

route("/inbox", Inbox, { nav: { label: "nav.inbox", section: "nav.support", order: 30, requires: "conversations.handle" } });
route("/bots/:botId/conversations", Transcripts);
