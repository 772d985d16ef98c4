// A bot's conversation tests: saved from the emulator ("Save as test"),
// listed with their expectations (replies with exact / contains / ignore,
// intent with a minimum confidence, variables), editable and deletable, and
// run against the draft in one click. A failed test shows the turn where the
// bot diverged, expected against got. Publishing runs them too.
import { html, Page, useLoad, useState, ErrorBox, toast, formatDate, Loading, plural } from "../ui.js";
import { route } from "../router.js";
import { get, post, put, del } from "../api.js";
import { can } from "../session.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";
import { t } from "../i18n.js";

const show = (v) => (v === null || v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v));

function Expected({ turn }) {
  return html`<ul class="plain">
    ${turn.replies.map((r) => html`<li><span class="badge">${r.match}</span> ${r.match === "ignore" ? html`<span class="muted">${t("bottests.any_reply")}</span>` : r.text}</li>`)}
    ${turn.replies.length === 0 && html`<li class="muted">${t("bottests.no_reply")}</li>`}
    ${turn.intent && html`<li>${t("bottests.intent")} <code>${turn.intent.name}</code> ≥ ${turn.intent.min_confidence}</li>`}
    ${Object.entries(turn.variables || {}).map(([k, v]) => html`<li><code>${k}</code> = ${JSON.stringify(v)}</li>`)}
  </ul>`;
}

/** One turn's editor: the replies with their match mode, the intent and the variables. */
function TurnEditor({ turn, index, onChange, error }) {
  const set = (patch) => onChange({ ...turn, ...patch });
  const setReply = (j, patch) => set({ replies: turn.replies.map((r, k) => (k === j ? { ...r, ...patch } : r)) });
  const [vars, setVars] = useState(JSON.stringify(turn.variables || {}));
  const field = (f) => error && error.field === `turns[${index}].${f}`;
  return html`<div class="turn-editor" data-turn=${index}>
    ${turn.replies.map(
      (r, j) => html`<div class="row">
        <label>${t("bottests.reply")} ${j + 1} <input class="reply-text" aria-invalid=${field(`replies[${j}].text`) ? "true" : undefined} value=${r.text} onInput=${(e) => setReply(j, { text: e.target.value })} /></label>
        <label>${t("bottests.match")} <select class="reply-match" value=${r.match} onChange=${(e) => setReply(j, { match: e.target.value })}>
          <option value="exact">${t("bottests.exact")}</option><option value="contains">${t("bottests.contains")}</option><option value="ignore">${t("bottests.ignore")}</option>
        </select></label>
        <button type="button" onClick=${() => set({ replies: turn.replies.filter((_, k) => k !== j) })}>${t("common.remove")}</button>
      </div>`,
    )}
    <button type="button" onClick=${() => set({ replies: [...turn.replies, { text: "", match: "contains" }] })}>${t("bottests.add_reply")}</button>
    ${turn.user !== null &&
    html`<div class="row">
      <label>${t("common.intent")} <input class="intent-name" value=${turn.intent ? turn.intent.name : ""} placeholder=${t("bottests.not_checked")}
        onInput=${(e) => set({ intent: e.target.value.trim() ? { name: e.target.value.trim(), min_confidence: turn.intent ? turn.intent.min_confidence : 0 } : null })} /></label>
      ${turn.intent &&
      html`<label>${t("bottests.confidence_at_least")} <input type="number" class="intent-confidence" min="0" max="1" step="0.05" value=${turn.intent.min_confidence}
        onInput=${(e) => set({ intent: { ...turn.intent, min_confidence: Number(e.target.value) } })} /></label>`}
    </div>`}
    <label>${t("bottests.variables_json_object")} <input class="variables" value=${vars} onInput=${(e) => {
      setVars(e.target.value);
      try {
        const v = JSON.parse(e.target.value || "{}");
        if (v && typeof v === "object" && !Array.isArray(v)) set({ variables: v });
      } catch {
        // Kept as typed until it parses.
      }
    }} /></label>
  </div>`;
}

function TestCard({ test, result, onChanged }) {
  const [editing, setEditing] = useState(null);
  const [error, setError] = useState(null);
  const save = async () => {
    setError(null);
    try {
      await put(`/api/v1/bot-tests/${test.id}`, { name: editing.name, turns: editing.turns });
      setEditing(null);
      toast(t("bottests.test_saved"));
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const remove = async () => {
    if (!confirm(t("bottests.delete_the_test", { name: test.name }))) return;
    try {
      await del(`/api/v1/bot-tests/${test.id}`);
      onChanged();
    } catch (e) {
      setError(e);
    }
  };
  const status = !result ? "not run" : result.passed ? "passed" : "failed";
  const byTurn = {};
  for (const tv of (result && result.turns) || []) byTurn[tv.index] = tv;
  const turns = editing ? editing.turns : test.turns;
  return html`<section class="card bot-test" data-test=${test.name} data-status=${status}>
    <div class="row" style="justify-content:space-between">
      <h2>${editing ? html`<input aria-label=${t("bottests.test_name")} value=${editing.name} onInput=${(e) => setEditing({ ...editing, name: e.target.value })} />` : test.name}
        <span class=${"badge " + (status === "passed" ? "ok" : status === "failed" ? "bad" : "")}>${status}</span></h2>
      ${can("bots.write") &&
      html`<div class="row">
        ${editing
          ? html`<button type="button" class="primary save-test" onClick=${save}>${t("common.save")}</button><button type="button" onClick=${() => (setEditing(null), setError(null))}>${t("common.cancel")}</button>`
          : html`<button type="button" class="edit-test" onClick=${() => setEditing({ name: test.name, turns: JSON.parse(JSON.stringify(test.turns)) })}>${t("bottests.edit_expectations")}</button>`}
        <button type="button" class="delete-test danger" onClick=${remove}>${t("common.delete")}</button>
      </div>`}
    </div>
    <${ErrorBox} error=${error} />
    ${result && result.error && html`<p class="bad">${result.error}</p>`}
    ${result && !result.passed && result.diverged_turn !== null && result.diverged_turn !== undefined &&
    html`<p class="diverged-note">${t("bottests.diverged_at_turn")} ${result.diverged_turn + 1}.</p>`}
    <table class="test-turns">
      <thead><tr><th>${t("bottests.turn")}</th><th>${t("bottests.user_says")}</th><th>${t("bottests.expected_2")}</th><th>${t("bottests.got_2")}</th></tr></thead>
      <tbody>
        ${turns.map((tv, i) => {
          const r = byTurn[i];
          const diverged = result && result.diverged_turn === i;
          return html`<tr data-turn=${i} class=${diverged ? "diverged" : r && r.passed ? "passed" : ""} aria-invalid=${diverged ? "true" : undefined}>
            <td>${i + 1}${diverged ? html` <span class="badge bad">${t("bottests.diverged")}</span>` : ""}</td>
            <td>${tv.user === null ? html`<span class="muted">${t("bottests.conversation_opens")}</span>` : tv.user}</td>
            <td>${editing
              ? html`<${TurnEditor} turn=${tv} index=${i} error=${error} onChange=${(nt) => setEditing({ ...editing, turns: editing.turns.map((x, k) => (k === i ? nt : x)) })} />`
              : html`<${Expected} turn=${tv} />`}</td>
            <td>${r
              ? html`<ul class="plain">${r.got.replies.map((g) => html`<li>${g}</li>`)}
                  ${r.got.intent && html`<li class="muted">${t("bottests.intent_2", { intent: r.got.intent })}${r.got.confidence.toFixed(2)})</li>`}</ul>
                ${r.failures.map((f) => html`<div class="failure" data-field=${f.field}><strong>${f.field}</strong>${t("bottests.expected")} ${show(f.expected && f.expected.text !== undefined ? f.expected.text : f.expected)}${t("bottests.got", { got: show(f.got) })}</div>`)}`
              : html`<span class="muted">—</span>`}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </section>`;
}

function BotTests({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const [reload, setReload] = useState(0);
  const tests = useLoad(() => get(`/api/v1/bots/${botId}/tests`), [botId, reload]);
  const latest = useLoad(() => get(`/api/v1/bots/${botId}/test-runs?limit=1`), [botId]);
  const [run, setRun] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const current = run || (latest.data && latest.data.items[0]) || null;
  const runAll = async () => {
    setError(null);
    setBusy(true);
    try {
      const r = await post(`/api/v1/bots/${botId}/tests/run`);
      setRun(r);
      toast(r.failed ? t("bottests.failed_of", { failed: r.failed, count: r.total }) : t("bottests.all_passed", { count: r.total }), { error: r.failed > 0 });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const resultOf = (tv) => current && current.results.find((r) => r.test_id === tv.id);
  const items = tests.data || [];
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${t("bottests.tests", { value: bot.data ? bot.data.name : "" })}>
    <${BotNav} botId=${botId} active="tests" />
    <div class="card row">
      ${can("bots.write") && html`<button type="button" class="primary" id="run-tests" disabled=${busy || !items.length} onClick=${runAll}>${busy ? t("bottests.running") : t("bottests.run_all_against_the_draft")}</button>`}
      <span id="run-summary" role="status">
        ${current
          ? html`${current.trigger === "publish" ? t("bottests.publish_of", { flow_name: current.flow_name }) : t("common.run")} ${formatDate(current.created_at)}: <strong>${t("bottests.of_passed", { passed: current.passed, total: current.total })}</strong>`
          : html`<span class="muted">${t("bottests.not_run_yet")}</span>`}
      </span>
    </div>
    <${ErrorBox} error=${error || tests.error} />
    ${tests.loading && html`<${Loading} load=${tests} />`}
    ${tests.data && !items.length &&
    html`<div class="card muted" id="no-tests">${t("bottests.no_tests_yet_chat_with")} <a href=${`/bots/${botId}/emulator`}>${t("bottests.emulator")}</a> ${t("bottests.and_choose_save_as_test")}</div>`}
    ${items.map((tv) => html`<${TestCard} key=${tv.id} test=${tv} result=${resultOf(tv)} onChanged=${() => setReload((k) => k + 1)} />`)}
  <//>`;
}

route("/bots/:botId/tests", BotTests);
