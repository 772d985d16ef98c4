// The emulator: chat with the bot's draft or published flows and see, per
// turn, the debugger's trace: NLU result, the path of nodes, variables
// before and after, HTTP calls, problems and timing.
import { html, Page, useState, useRef, useEffect, ErrorBox, toast, toastError } from "../ui.js";
import { route } from "../router.js";
import { post, put } from "../api.js";
import { BotNav, useBot, MessageLine, BotMissing } from "./botnav.js";
import { can } from "../session.js";
import { t } from "../i18n.js";

function Json({ value }) {
  return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
}

/**
 * A reply's text with the placeholders that rendered empty (unset variables)
 * marked where they stood: the end user gets the plain text, the author sees
 * `{{name}}` in the warning colour with a tooltip.
 */
export function markGaps(text, gaps) {
  if (!gaps || !gaps.length) return text;
  const chars = [...(text || "")];
  const out = [];
  let pos = 0;
  for (const g of [...gaps].sort((a, b) => a.at - b.at)) {
    if (g.at > pos) out.push(chars.slice(pos, g.at).join(""));
    pos = Math.max(pos, g.at);
    const names = g.variables.join(", ");
    const tip = t("emulator.variables_not_set", { count: g.variables.length, names });
    out.push(html`<mark class="template-gap" data-variables=${names} title=${tip}>${g.placeholder}<span class="sr-only"> (${tip})</span></mark>`);
  }
  if (pos < chars.length) out.push(chars.slice(pos).join(""));
  return out;
}

/** Thumbs up/down on a bot answer of the emulator (stored as feedback from the emulator). */
function Thumbs({ conversation, message }) {
  const [rating, setRating] = useState(null);
  const vote = async (r) => {
    try {
      await put(`/api/v1/conversations/${conversation}/messages/${message}/feedback`, { rating: r });
      setRating(r);
    } catch (e) {
      toastError(e);
    }
  };
  return html`<div class="chat-vote" data-vote-for=${message}>
    <button type="button" class="small" aria-pressed=${rating === "up" ? "true" : "false"} aria-label=${t("emulator.helpful_answer")} onClick=${() => vote("up")}>👍</button>
    <button type="button" class="small" aria-pressed=${rating === "down" ? "true" : "false"} aria-label=${t("emulator.unhelpful_answer")} onClick=${() => vote("down")}>👎</button>
  </div>`;
}

function EmulatorLine({ m, conversation }) {
  return html`<${MessageLine} m=${m.gaps && m.gaps.length ? { ...m, text: markGaps(m.text, m.gaps) } : m}>
    ${conversation && m.role === "bot" && m.id ? html`<${Thumbs} conversation=${conversation} message=${m.id} />` : null}
  <//>`;
}

function changedVars(before, after) {
  const flat = (v, prefix = "", out = {}) => {
    if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) flat(x, prefix ? `${prefix}.${k}` : k, out);
    else out[prefix] = v;
    return out;
  };
  const a = flat(before || {});
  const b = flat(after || {});
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => ({ name: k, before: a[k], after: b[k] }));
}

export function TraceView({ trace, index }) {
  if (!trace) return null;
  const nlu = trace.nlu;
  const changes = changedVars(trace.variables_before, trace.variables_after);
  return html`<div class="trace card" data-turn=${index}>
    <h3>${t("emulator.turn")} ${index + 1} · ${trace.duration_ms.toFixed(2)} ${t("emulator.ms")}</h3>
    <div class="trace-section" data-section="nlu">
      <strong>${t("common.nlu")}</strong>
      ${nlu
        ? html`<span> ${t("emulator.intent")} <code class="trace-intent">${nlu.intent || "none"}</code> (${(nlu.confidence || 0).toFixed(2)})
            ${nlu.entities && nlu.entities.length ? html` ${t("emulator.entities")} ${nlu.entities.map((e) => html`<code>${e.entity}=${JSON.stringify(e.value)}</code> `)}` : ""}
            ${nlu.note ? html` <span class="muted">${nlu.note}</span>` : ""} <span class="muted">${(nlu.duration_ms || 0).toFixed(2)} ${t("emulator.ms")}</span>
            ${nlu.encoder ? html` <span class="muted trace-encoder">· ${nlu.encoder}</span>` : ""}</span>`
        : html`<span class="muted"> ${t("emulator.not_run")}</span>`}
    </div>
    <div class="trace-section" data-section="path">
      <strong>${t("emulator.path")}</strong>
      <ol class="trace-path">${trace.path.map((s) => html`<li data-node=${s.node}><code>${s.flow}/${s.node}</code> <span class="muted">${s.node_type}${s.outcome ? ` → ${s.outcome}` : ""}</span></li>`)}</ol>
      ${trace.waiting_at && html`<div class="muted">${t("emulator.waiting_at", { waiting_at: trace.waiting_at })}</div>`}
      ${trace.events.length > 0 && html`<div class="muted">${trace.events.join(" · ")}</div>`}
    </div>
    <div class="trace-section" data-section="variables">
      <strong>${t("emulator.variables")}</strong>
      ${changes.length
        ? html`<table class="trace-vars"><thead><tr><th>${t("emulator.variable")}</th><th>${t("emulator.before")}</th><th>${t("emulator.after")}</th></tr></thead><tbody>
            ${changes.map((c) => html`<tr data-var=${c.name}><td><code>${c.name}</code></td><td>${c.before === undefined ? "—" : JSON.stringify(c.before)}</td><td>${c.after === undefined ? "—" : JSON.stringify(c.after)}</td></tr>`)}
          </tbody></table>`
        : html`<span class="muted"> ${t("emulator.unchanged")}</span>`}
      <details><summary>${t("emulator.all_variables_after_the_turn")}</summary><${Json} value=${trace.variables_after} /></details>
    </div>
    ${trace.http_calls.length > 0 &&
    html`<div class="trace-section" data-section="http"><strong>${t("emulator.http_calls")}</strong>
      <ul>${trace.http_calls.map((c) => html`<li><code>${c.method} ${c.url}</code> → ${c.status || c.error} <span class="muted">${c.duration_ms.toFixed(1)} ${t("emulator.ms")}</span></li>`)}</ul></div>`}
    ${trace.problems.length > 0 &&
    html`<div class="trace-section problems" data-section="problems"><strong>${t("emulator.problems")}</strong>
      <ul>${trace.problems.map((p) => html`<li class=${"trace-problem" + (p.message.startsWith("unset variable:") ? " unset-variable" : "")}>${p.node ? html`<code>${p.flow ? `${p.flow}/` : ""}${p.node}</code>: ` : ""}${p.message}</li>`)}</ul></div>`}
  </div>`;
}

/**
 * The choices the bot offers now: quick replies, buttons and card buttons of
 * the bot's messages since the user last spoke (a re-prompt or a message
 * after a question must not hide the question's choices).
 */
function pendingOptions(log) {
  const options = [];
  for (let i = log.length - 1; i >= 0 && log[i].role !== "user"; i--) {
    const m = log[i];
    const mine = [
      ...(m.quick_replies || []).map((q) => ({ label: q.label, value: q.value })),
      ...(m.buttons || []),
      ...(m.cards || []).flatMap((c) => c.buttons || []),
    ].filter((o) => o.url || (o.value !== undefined && o.value !== null));
    if (mine.length) {
      options.unshift(...mine);
      break;
    }
  }
  return options;
}

/**
 * The conversation so far as a test case: per turn the user's message, the
 * bot's replies (exact), the recognised intent (at least 90 % of today's
 * confidence) and the session variables the turn set.
 */
function asTestTurns(turns) {
  return turns.map((tv) => {
    const before = (tv.trace && tv.trace.variables_before && tv.trace.variables_before.session) || {};
    const after = (tv.trace && tv.trace.variables_after && tv.trace.variables_after.session) || {};
    const variables = {};
    for (const [k, v] of Object.entries(after)) if (JSON.stringify(before[k]) !== JSON.stringify(v)) variables[k] = v;
    const nlu = tv.trace && tv.trace.nlu;
    const turn = { user: tv.user, replies: tv.replies.map((text) => ({ text, match: "exact" })), variables };
    if (tv.user !== null && nlu && nlu.intent) turn.intent = { name: nlu.intent, min_confidence: Math.floor((nlu.confidence || 0) * 90) / 100 };
    return turn;
  });
}

/** "Save as test": stores the emulator's conversation so far as a conversation test. */
function SaveAsTest({ botId, turns }) {
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (!can("bots.write") || turns.length === 0) return null;
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await post(`/api/v1/bots/${botId}/tests`, { name: name.trim(), turns: asTestTurns(turns) });
      toast(t("emulator.saved_the_test", { value: name.trim() }));
      setName("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="row" id="save-as-test" onSubmit=${save}>
    <input id="test-name" aria-label=${t("emulator.test_name")} placeholder=${t("emulator.name_of_the_test")} value=${name} onInput=${(e) => setName(e.target.value)} required />
    <button type="submit" id="save-as-test-button" disabled=${busy || !name.trim()}>${t("emulator.save_as_test")}</button>
    <a href=${`/bots/${botId}/tests`}>${t("emulator.tests")}</a>
    <${ErrorBox} error=${error} />
  </form>`;
}

function Emulator({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const [source, setSource] = useState("draft");
  const [conversation, setConversation] = useState(null);
  const [log, setLog] = useState([]);
  const [traces, setTraces] = useState([]);
  const [turns, setTurns] = useState([]);
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const logRef = useRef(null);
  useEffect(() => {
    if (logRef.current) logRef.current.scrollTop = logRef.current.scrollHeight;
  }, [log]);

  const turn = async (message) => {
    setError(null);
    setBusy(true);
    try {
      const body = { source };
      if (conversation) body.conversation_id = conversation;
      if (message !== undefined) body.text = message;
      const r = await post(`/api/v1/bots/${botId}/emulator`, body);
      setConversation(r.conversation_id);
      setLog((l) => [...l, ...(r.message ? [r.message] : []), ...r.replies]);
      setTraces((tv) => [...tv, r.trace]);
      const replies = r.replies.filter((m) => m.role === "bot").map((m) => m.text);
      setTurns((tv) => [...tv, { user: message === undefined ? null : message, replies, trace: r.trace }]);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const restart = () => {
    setConversation(null);
    setLog([]);
    setTraces([]);
    setTurns([]);
  };
  const send = (e) => {
    e.preventDefault();
    const tv = text;
    setText("");
    turn(tv);
  };
  const options = pendingOptions(log);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("emulator.emulator", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="emulator" />
    <div class="row">
      <label><input type="radio" name="source" checked=${source === "draft"} onChange=${() => (setSource("draft"), restart())} /> ${t("emulator.draft")}</label>
      <label><input type="radio" name="source" id="source-published" checked=${source === "published"} onChange=${() => (setSource("published"), restart())} /> ${t("emulator.published")}</label>
      <button type="button" id="emulator-start" class="primary" disabled=${busy} onClick=${() => (restart(), turn())}>${conversation ? t("emulator.restart") : t("emulator.start")}</button>
    </div>
    <${ErrorBox} error=${error} />
    <div class="emulator">
      <div class="card emulator-chat">
        <div class="chat-log" ref=${logRef} id="emulator-log">${log.map((m) => html`<${EmulatorLine} key=${m.id} m=${m} conversation=${conversation} />`)}</div>
        ${options.length > 0 &&
        html`<div class="chat-opts" id="emulator-options">${options.map((o) =>
          o.url
            ? html`<a class="button" href=${o.url} target="_blank" rel="noopener">${o.label}</a>`
            : html`<button type="button" disabled=${busy} onClick=${() => turn(o.value)}>${o.label}</button>`,
        )}</div>`}
        <form class="row" onSubmit=${send}>
          <input id="emulator-input" aria-label=${t("common.message")} placeholder=${conversation ? t("emulator.type_a_message") : t("emulator.type_a_message_to_start")} value=${text} onInput=${(e) => setText(e.target.value)} />
          <button class="primary" id="emulator-send" type="submit" disabled=${busy || !text.trim()}>${t("common.send")}</button>
        </form>
        <${SaveAsTest} botId=${botId} turns=${turns} />
      </div>
      <div class="emulator-debug" id="debugger">
        ${traces.length === 0 && html`<div class="card muted">${t("emulator.each_turn_s_trace_appears")}</div>`}
        ${[...traces].map((tv, i) => ({ tv, i })).reverse().map(({ tv, i }) => html`<${TraceView} key=${i} trace=${tv} index=${i} />`)}
      </div>
    </div>
  <//>`;
}

route("/bots/:botId/emulator", Emulator);
