// Voice bots over Twilio-compatible telephony: the telephony account with
// the webhook URLs to paste, voice bots (a bot's published flow on the phone,
// with the nodes a phone cannot say), phone numbers (sync, search, buy,
// assign, release), and the call log with filters, stats, each call's
// transcript per turn and its recording.
import { html, Page, useLoad, useState, ErrorBox, Field, toast, toastError, formatDate, Loading, CopyButton } from "../ui.js";
import { route } from "../router.js";
import { get, post, put, patch, del } from "../api.js";
import { currentOrg } from "../session.js";
import { VoiceTemplates, DescribeByVoice } from "./voice_create.js";
import { t } from "../i18n.js";

function Account({ org }) {
  const account = useLoad(() => get(`/api/v1/orgs/${org.id}/voice/account`).catch((e) => (e.code === "voice_account_not_configured" ? null : Promise.reject(e))), [org.id]);
  const [sid, setSid] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState(null);
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await put(`/api/v1/orgs/${org.id}/voice/account`, { account_sid: sid, auth_token: token });
      setToken("");
      toast(t("voice.telephony_account_saved"));
      account.reload();
    } catch (err) {
      setError(err);
    }
  };
  const a = account.data;
  return html`<form class="card" id="voice-account" onSubmit=${save}>
    <h2>${t("voice.twilio_account")}</h2>
    <${ErrorBox} error=${error || account.error} />
    ${a && html`<p>${t("voice.account")} <code>${a.account_sid}</code>${t("voice.give_each_number_this_voice")}
      <code id="voice-url">${a.voice_url}</code> <${CopyButton} text=${a.voice_url} what=${t("voice.voice_webhook_url")} />
      ${t("voice.and_this_status_callback")} <code>${a.status_callback_url}</code>${t("voice.numbers_bought_here_get_both")}</p>`}
    ${account.data === null && html`<p class="muted">${t("voice.no_telephony_account_yet_enter")}</p>`}
    <div class="grid">
      <${Field} label=${t("voice.account_sid")} name="account_sid" required value=${sid} onInput=${setSid} error=${error} placeholder=${t("voice.ac")} />
      <${Field} label=${t("voice.auth_token")} name="auth_token" type="password" required value=${token} onInput=${setToken} error=${error} autocomplete="off" />
    </div>
    <p><button class="primary" type="submit">${a ? t("voice.replace_account") : t("voice.save_account")}</button></p>
  </form>`;
}

function CreateVoiceBot({ org, bots, onCreated }) {
  const [name, setName] = useState("");
  const [botId, setBotId] = useState("");
  const [voice, setVoice] = useState("Polly.Joanna");
  const [language, setLanguage] = useState("en-US");
  const [transfer, setTransfer] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const settings = {};
      if (transfer.trim()) settings.transfer_to = transfer.trim();
      await post(`/api/v1/orgs/${org.id}/voice-bots`, { name, bot_id: Number(botId), voice_id: voice, language, settings });
      setName("");
      setTransfer("");
      toast(t("voice.voice_bot_created", { name }));
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="create-voice-bot" onSubmit=${submit}>
    <h2>${t("voice.new_voice_bot")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label=${t("common.name")} name="name" required value=${name} onInput=${setName} error=${error} />
      <div><label for="voice-bot-bot">${t("voice.bot_its_published_flow_answers")}</label>
        <select id="voice-bot-bot" required value=${botId} onChange=${(e) => setBotId(e.target.value)}>
          <option value="">${t("voice.choose_a_bot")}</option>
          ${bots.map((b) => html`<option value=${b.id}>${b.name}</option>`)}
        </select></div>
      <${Field} label=${t("voice.voice")} name="voice_id" value=${voice} onInput=${setVoice} error=${error} />
      <${Field} label=${t("voice.language")} name="language" value=${language} onInput=${setLanguage} error=${error} />
      <${Field} label=${t("voice.transfer_hand_offs_to_number")} name="settings.transfer_to" value=${transfer} onInput=${setTransfer} error=${error} placeholder="+14155550100" />
    </div>
    <p><button class="primary" type="submit">${t("voice.create_voice_bot")}</button></p>
  </form>`;
}

function Numbers({ org, voiceBots, onChanged }) {
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/phone-numbers?limit=200`), [org.id]);
  const [areaCode, setAreaCode] = useState("");
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  const act = async (fn, done) => {
    setError(null);
    try {
      await fn();
      if (done) toast(done);
      list.reload();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const search = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const q = new URLSearchParams({ country: "US" });
      if (areaCode) q.set("area_code", areaCode);
      setFound(await get(`/api/v1/orgs/${org.id}/phone-numbers/available?${q}`));
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="phone-numbers">
    <h2>${t("voice.phone_numbers")}</h2>
    <${ErrorBox} error=${error || list.error} />
    <p class="row">
      <button type="button" id="sync-numbers" onClick=${() => act(() => post(`/api/v1/orgs/${org.id}/phone-numbers/sync`), t("voice.numbers_synced"))}>${t("voice.sync_from_twilio")}</button>
    </p>
    <table>
      <thead><tr><th>${t("voice.number")}</th><th>${t("voice.capabilities")}</th><th>${t("common.status")}</th><th>${t("voice.voice_bot")}</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (n) => html`<tr data-number=${n.id}>
            <td><strong>${n.phone_number}</strong> <span class="muted small">${n.friendly_name || ""}</span></td>
            <td class="muted">${["voice", "sms"].filter((c) => n.capabilities && n.capabilities[c]).join(", ") || t("common.none_lower")}</td>
            <td>${n.status}</td>
            <td>${n.status === "released"
              ? html`<span class="muted">—</span>`
              : html`<select aria-label=${t("voice.voice_bot_of", { phone_number: n.phone_number })} value=${n.voice_bot_id ?? ""}
                  onChange=${(e) => act(() => patch(`/api/v1/phone-numbers/${n.id}`, { voice_bot_id: e.target.value ? Number(e.target.value) : null }), t("voice.number_assigned"))}>
                  <option value="">${t("voice.not_assigned")}</option>
                  ${voiceBots.map((v) => html`<option value=${v.id}>${v.name}</option>`)}
                </select>`}</td>
            <td>${n.status !== "released" &&
              html`<button type="button" class="danger" onClick=${() => confirm(t("voice.release_at_twilio_it_cannot", { phone_number: n.phone_number })) && act(() => del(`/api/v1/phone-numbers/${n.id}`), t("voice.number_released"))}>${t("voice.release")}</button>`}</td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="5" />
        ${list.data && !list.data.items.length && html`<tr><td colspan="5" class="muted">${t("voice.no_numbers_yet_sync_them")}</td></tr>`}
      </tbody>
    </table>
    <form class="row" style="align-items:flex-end" onSubmit=${search}>
      <${Field} label=${t("voice.area_code")} name="area_code" value=${areaCode} onInput=${setAreaCode} error=${error} />
      <button type="submit" id="search-numbers">${t("voice.search_numbers")}</button>
    </form>
    ${found &&
    html`<ul id="available-numbers">
      ${found.map(
        (n) => html`<li>${n.phone_number} <span class="muted">${[n.locality, n.region].filter(Boolean).join(", ")}</span>
          <button type="button" onClick=${() => act(() => post(`/api/v1/orgs/${org.id}/phone-numbers`, { phone_number: n.phone_number }), t("voice.bought", { phone_number: n.phone_number }))}>${t("voice.buy")}</button></li>`,
      )}
      ${!found.length && html`<li class="muted">${t("voice.no_numbers_found")}</li>`}
    </ul>`}
  </div>`;
}

function VoiceBots() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/voice-bots?limit=200`), [org.id]);
  const bots = useLoad(() => get(`/api/v1/orgs/${org.id}/bots?limit=200`), [org.id]);
  const [details, setDetails] = useState({});
  const check = async (vb) => {
    try {
      const full = await get(`/api/v1/voice-bots/${vb.id}`);
      setDetails({ ...details, [vb.id]: full.voice_warnings });
    } catch (err) {
      toastError(err);
    }
  };
  const act = async (fn, done) => {
    try {
      await fn();
      toast(done);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const items = list.data ? list.data.items : [];
  return html`<${Page} title=${t("voice.voice_bots")} actions=${html`<a class="button" href="/voice/calls">${t("voice.call_log")}</a>`}>
    <p class="muted">${t("voice.a_voice_bot_answers_a")}</p>
    <${Account} org=${org} />
    <${VoiceTemplates} org=${org} onCreated=${() => { list.reload(); bots.reload(); }} />
    <${DescribeByVoice} org=${org} onCreated=${() => { list.reload(); bots.reload(); }} />
    ${bots.data && html`<${CreateVoiceBot} org=${org} bots=${bots.data.items} onCreated=${list.reload} />`}
    <div class="card">
      <h2>${t("voice.voice_bots")}</h2>
      <${ErrorBox} error=${list.error} />
      <table>
        <thead><tr><th>${t("common.name")}</th><th>${t("voice.number")}</th><th>${t("voice.voice")}</th><th>${t("voice.calls")}</th><th>${t("common.status")}</th><th></th></tr></thead>
        <tbody>
          ${items.map(
            (v) => html`<tr data-voice-bot=${v.id}>
              <td><strong>${v.name}</strong>
                ${details[v.id] &&
                (details[v.id].length
                  ? html`<ul class="alert warn small" role="note">${details[v.id].map((w) => html`<li><code>${w.flow}/${w.node_id}</code>: ${w.message}</li>`)}</ul>`
                  : html`<div class="muted small">${t("voice.every_node_can_be_spoken")}</div>`)}</td>
              <td>${v.phone_number || html`<span class="muted">${t("voice.none")}</span>`}</td>
              <td class="muted">${v.voice_id || "default"} · ${v.language}</td>
              <td>${v.total_calls}</td>
              <td><input type="checkbox" style="width:auto" aria-label=${t("voice.name_active", { name: v.name })} checked=${v.status === "active"}
                onChange=${() => act(() => patch(`/api/v1/voice-bots/${v.id}`, { status: v.status === "active" ? "inactive" : "active" }), t("voice.saved"))} /></td>
              <td class="row">
                <button type="button" onClick=${() => check(v)}>${t("voice.check_flow_for_voice")}</button>
                <button type="button" class="danger" onClick=${() => confirm(t("voice.delete_and_its_call_log", { name: v.name })) && act(() => del(`/api/v1/voice-bots/${v.id}`), t("voice.deleted", { name: v.name }))}>${t("common.delete")}</button>
              </td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !items.length && html`<tr><td colspan="6" class="muted">${t("voice.no_voice_bots_yet")}</td></tr>`}
        </tbody>
      </table>
    </div>
    <${Numbers} org=${org} voiceBots=${items} onChanged=${list.reload} />
  <//>`;
}

function Calls() {
  const org = currentOrg();
  const [filters, setFilters] = useState({ direction: "", status: "", outcome: "", min_duration: "", max_duration: "" });
  const q = new URLSearchParams({ limit: "100" });
  Object.entries(filters).forEach(([k, v]) => v !== "" && q.set(k, v));
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/calls?${q}`), [org.id, q.toString()]);
  const stats = useLoad(() => get(`/api/v1/orgs/${org.id}/voice/stats`), [org.id]);
  const set = (k) => (e) => setFilters({ ...filters, [k]: e.target.value });
  const s = stats.data;
  const select = (k, label, options) => html`<div><label for=${`calls-${k}`}>${label}</label>
    <select id=${`calls-${k}`} value=${filters[k]} onChange=${set(k)}><option value="">${t("common.any")}</option>${options.map((o) => html`<option value=${o}>${o}</option>`)}</select></div>`;
  return html`<${Page} title=${t("voice.calls")}>
    ${s && html`<div class="card row" id="voice-stats">
      <div><strong>${s.calls}</strong> ${t("voice.calls_in_out", { inbound: s.inbound, outbound: s.outbound })}</div>
      <div><strong>${t("voice.s", { average_handle_time_secs: Math.round(s.average_handle_time_secs) })}</strong> ${t("voice.average_handle_time")}</div>
      <div><strong>${Math.round(s.containment_rate * 100)} %</strong> ${t("voice.contained")}</div>
      <div><strong>${s.transferred}</strong> ${t("voice.transferred")}</div>
    </div>`}
    <div class="card">
      <div class="row" style="align-items:flex-end">
        ${select("direction", t("voice.direction"), ["inbound", "outbound"])}
        ${select("status", t("common.status"), ["queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"])}
        ${select("outcome", t("voice.outcome"), ["contained", "transferred", "voicemail", "failed"])}
        <div><label for="calls-min">${t("voice.min_seconds")}</label><input id="calls-min" type="number" min="0" value=${filters.min_duration} onChange=${set("min_duration")} /></div>
        <div><label for="calls-max">${t("voice.max_seconds")}</label><input id="calls-max" type="number" min="0" value=${filters.max_duration} onChange=${set("max_duration")} /></div>
      </div>
      <${ErrorBox} error=${list.error || stats.error} />
      <table>
        <thead><tr><th>${t("common.started")}</th><th>${t("voice.direction")}</th><th>${t("common.from")}</th><th>${t("common.to")}</th><th>${t("common.status")}</th><th>${t("voice.seconds")}</th><th>${t("voice.outcome")}</th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (c) => html`<tr data-call=${c.id}>
              <td><a href=${`/voice/calls/${c.id}`}>${formatDate(c.created_at)}</a></td>
              <td>${c.direction}</td><td>${c.from_number || ""}</td><td>${c.to_number || ""}</td>
              <td>${c.status}</td><td>${c.duration}</td><td>${c.outcome || html`<span class="muted">${t("voice.live")}</span>`}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="7" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="7" class="muted">${t("voice.no_calls_match")}</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

function CallDetail({ params }) {
  const call = useLoad(() => get(`/api/v1/calls/${params.callId}`), [params.callId]);
  const c = call.data;
  return html`<${Page} title=${t("voice.call")} actions=${html`<a class="button" href="/voice/calls">${t("voice.all_calls")}</a>`}>
    <${ErrorBox} error=${call.error} />
    ${c && html`<div class="card" id="call-detail">
      <p>${t("voice.call_from", { direction: c.direction })} <strong>${c.from_number}</strong> ${t("voice.to")} <strong>${c.to_number}</strong>${t("voice.s_2", { status: c.status, duration: c.duration })}${c.outcome ? `, ${c.outcome}` : ""}${c.answered_by ? t("voice.answered_by", { answered_by: c.answered_by }) : ""}.</p>
      ${c.recording_url
        ? html`<p><label for="call-recording">${t("voice.recording")}</label><audio id="call-recording" controls preload="none" src=${c.recording_url}></audio></p>`
        : html`<p class="muted">${t("voice.no_recording")}</p>`}
      <h2>${t("voice.transcript")}</h2>
      <ol class="transcript">
        ${c.segments.map(
          (s) => html`<li data-segment=${s.segment_number}>
            <strong>${s.speaker === "caller" ? t("voice.caller") : t("common.bot")}:</strong> ${s.text}
            ${s.intent && html` <span class="badge">${s.intent}</span>`}
            ${s.confidence != null && html` <span class="muted small">${Math.round(s.confidence * 100)} %</span>`}
            ${s.speaker === "caller" && s.reply && html`<div><strong>${t("voice.bot")}</strong> ${s.reply}</div>`}
            <div class="muted small">${formatDate(s.created_at)}${s.latency_ms != null ? ` · ${s.latency_ms} ms` : ""}</div>
          </li>`,
        )}
        ${!c.segments.length && html`<li class="muted">${t("voice.nothing_was_said")}</li>`}
      </ol>
    </div>`}
  <//>`;
}

route("/voice", VoiceBots, { nav: { label: "nav.voice_bots", section: "nav.build", order: 27, requires: "bots.read" } });
route("/voice/calls", Calls, { nav: { label: "nav.calls", section: "nav.support", order: 32, requires: "conversations.read" } });
route("/voice/calls/:callId", CallDetail);
