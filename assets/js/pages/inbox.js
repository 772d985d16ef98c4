// The human handoff inbox (live over Server-Sent Events: take, reply,
// internal notes, hand back to the bot, close with a resolution) and a
// bot's transcripts with search and replay against the draft.
import { html, Page, useLoad, useState, useEffect, ErrorBox, toast, formatDate, plural, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post } from "../api.js";
import { currentOrg, currentUser, can } from "../session.js";
import { BotNav, useBot, Transcript, BotMissing } from "./botnav.js";

/** Subscribes to an SSE URL while mounted; `handlers` maps event names to callbacks. */
function useEvents(url, handlers, deps) {
  useEffect(() => {
    if (!url || !window.EventSource) return undefined;
    const source = new EventSource(url);
    for (const [name, fn] of Object.entries(handlers)) source.addEventListener(name, (e) => fn(e.data ? JSON.parse(e.data) : null));
    return () => source.close();
  }, deps);
}

function ConversationPanel({ id, onChanged, agent }) {
  const [tick, setTick] = useState(0);
  const conv = useLoad(() => get(`/api/v1/conversations/${id}`), [id, tick]);
  const messages = useLoad(() => get(`/api/v1/conversations/${id}/messages?limit=200`), [id, tick]);
  const [text, setText] = useState("");
  const [resolution, setResolution] = useState("");
  const [error, setError] = useState(null);
  const refresh = () => setTick((t) => t + 1);
  useEvents(`/api/v1/conversations/${id}/events`, { message: refresh, status: refresh }, [id]);
  const act = async (path, body, done) => {
    setError(null);
    try {
      await post(`/api/v1/conversations/${id}/${path}`, body);
      if (done) toast(done);
      refresh();
      onChanged && onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const c = conv.data;
  const me = currentUser();
  const mine = c && me && c.assignee_user_id === me.user.id;
  const send = (kind) => (e) => {
    e && e.preventDefault();
    if (!text.trim()) return;
    const t = text;
    setText("");
    act(kind, { text: t });
  };
  return html`<div class="card conversation-panel" id="conversation-panel" data-conversation=${id}>
    <${ErrorBox} error=${error || conv.error} />
    ${c &&
    html`<div class="row" style="justify-content:space-between">
      <div><strong>${c.bot_name}</strong> · ${c.channel} · <span class="muted">${c.external_user_id}</span></div>
      <span class=${"badge " + (c.status === "handoff" ? "warn" : c.status === "open" ? "ok" : "")} id="conversation-status">${c.status}</span>
    </div>
    <div class="muted">${c.assignee_name ? `Assigned to ${c.assignee_name}` : c.status === "handoff" ? "Waiting for an agent" : ""}${c.resolution ? ` · Resolved: ${c.resolution}` : ""}${c.csat ? ` · CSAT ${c.csat}/5` : ""}</div>`}
    <${Transcript} messages=${(messages.data && messages.data.items) || []} />
    ${agent && c && c.status === "handoff" &&
    html`<div class="agent-actions">
      ${!mine && html`<button type="button" class="primary" id="take" onClick=${() => act("assign", {}, "Taken")}>Take</button>`}
      <form class="row" onSubmit=${send("reply")}>
        <textarea id="agent-text" rows="2" aria-label="Reply or note" placeholder="Reply to the user, or write an internal note" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
        <button type="submit" class="primary" id="send-reply">Reply</button>
        <button type="button" id="add-note" onClick=${send("notes")}>Note</button>
      </form>
      <div class="row">
        <button type="button" id="hand-back" onClick=${() => act("handback", undefined, "Handed back to the bot")}>Hand back to bot</button>
        <input id="resolution" aria-label="Resolution" placeholder="Resolution" value=${resolution} onInput=${(e) => setResolution(e.target.value)} />
        <button type="button" class="danger" id="close-conversation" onClick=${() => act("close", { resolution: resolution || undefined }, "Closed")}>Close</button>
      </div>
    </div>`}
    ${agent && c && c.status === "open" && html`<button type="button" id="move-to-inbox" onClick=${() => act("handoff", {}, "Moved to the inbox")}>Move to inbox</button>`}
  </div>`;
}

function Inbox() {
  const org = currentOrg();
  const [mine, setMine] = useState(false);
  const [tick, setTick] = useState(0);
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/inbox?limit=100${mine ? "&mine=true" : ""}`), [org.id, mine, tick]);
  const [selected, setSelected] = useState(null);
  const [live, setLive] = useState(false);
  useEvents(`/api/v1/orgs/${org.id}/inbox/events`, { ready: () => setLive(true), conversation: () => setTick((t) => t + 1) }, [org.id]);
  const items = (list.data && list.data.items) || [];
  return html`<${Page} title="Inbox" actions=${html`<span class=${"badge " + (live ? "ok" : "")} id="inbox-live">${live ? "live" : "connecting…"}</span>`}>
    <div class="row">
      <label><input type="checkbox" id="inbox-mine" checked=${mine} onChange=${(e) => setMine(e.target.checked)} /> Only mine</label>
    </div>
    <${ErrorBox} error=${list.error} />
    <div class="split">
      <div class="card" style="flex:1;min-width:260px">
        <ul class="pick-list" id="inbox-list">
          ${items.map(
            (c) => html`<li data-conversation=${c.id} class=${selected === c.id ? "active" : ""}>
              <a href="#" onClick=${(e) => (e.preventDefault(), setSelected(c.id))}><strong>${c.bot_name}</strong> · ${c.external_user_id}</a>
              <div class="muted">${c.last_message || ""}</div>
              <div class="muted">${c.assignee_name ? `with ${c.assignee_name}` : "unassigned"} · ${formatDate(c.handoff_at)}</div>
            </li>`,
          )}
          <${Loading} load=${list} li />
          ${list.data && !items.length && html`<li class="muted">Nobody is waiting.</li>`}
        </ul>
      </div>
      <div style="flex:2">${selected ? html`<${ConversationPanel} id=${selected} agent=${true} onChanged=${() => setTick((t) => t + 1)} />` : html`<div class="card muted">Select a conversation.</div>`}</div>
    </div>
  <//>`;
}

function ReplayView({ report }) {
  return html`<div class="card" id="replay">
    <h2>Replay against the draft: ${report.differing_turns} turn(s) differ</h2>
    <table><thead><tr><th>User</th><th>Then</th><th>Now (draft)</th></tr></thead><tbody>
      ${report.turns.map(
        (t) => html`<tr class=${t.same ? "" : "differs"}><td>${t.user}</td><td>${t.original.join(" / ")}</td><td>${t.replayed.join(" / ")}${t.same ? "" : html` <span class="badge warn">changed</span>`}</td></tr>`,
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
  const [selected, setSelected] = useState(null);
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
  return html`<${Page} title=${`Transcripts · ${bot.data ? bot.data.name : ""}`}>
    <${BotNav} botId=${botId} active="conversations" />
    <form class="row card" onSubmit=${search}>
      <label for="transcript-search" class="sr-only">Search messages</label>
      <input id="transcript-search" placeholder="Search messages" value=${q} onInput=${(e) => setQ(e.target.value)} />
      <label for="transcript-status" class="sr-only">Status</label>
      <select id="transcript-status" value=${status} onChange=${(e) => (setCursor(null), setStatus(e.target.value))}>
        <option value="">Any status</option><option value="open">Open</option><option value="handoff">Handoff</option><option value="closed">Closed</option>
      </select>
      <button class="primary" type="submit">Search</button>
    </form>
    <${ErrorBox} error=${list.error || error} />
    <div class="split">
      <div class="card" style="flex:1;min-width:280px">
        <table id="transcript-list"><thead><tr><th>User</th><th>Last message</th><th>Status</th></tr></thead><tbody>
          ${items.map(
            (c) => html`<tr data-conversation=${c.id} class=${selected === c.id ? "active" : ""} onClick=${() => (setSelected(c.id), setReplay(null))} style="cursor:pointer">
              <td>${c.external_user_id}<div class="muted">${c.channel} · ${plural(c.message_count, "message")}</div></td>
              <td>${c.last_message || ""}<div class="muted">${formatDate(c.last_message_at)}</div></td>
              <td><span class="badge">${c.status}</span></td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="3" />
          ${list.data && !items.length && html`<tr><td colspan="3" class="muted">No conversations${query ? ` mention “${query}”` : ""}.</td></tr>`}
        </tbody></table>
        ${list.data && list.data.next_cursor && html`<button type="button" onClick=${() => setCursor(list.data.next_cursor)}>Older</button>`}
      </div>
      <div style="flex:2">
        ${selected
          ? html`<${ConversationPanel} id=${selected} agent=${can("conversations.handle")} />
            ${can("bots.write") && html`<button type="button" id="replay-btn" onClick=${doReplay}>Replay against the draft</button>`}
            ${replay && html`<${ReplayView} report=${replay} />`}`
          : html`<div class="card muted">Select a conversation.</div>`}
      </div>
    </div>
  <//>`;
}

route("/inbox", Inbox, { nav: { label: "Inbox", section: "Support", order: 30, requires: "conversations.handle" } });
route("/bots/:botId/conversations", Transcripts);
