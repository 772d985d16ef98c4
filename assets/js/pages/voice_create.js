// Two ways to a voice bot without building a flow by hand: ready templates
// (IVR menu, appointment booking, order status, FAQ from a knowledge base)
// made in one click, and "describe your bot by voice" — record (MediaRecorder)
// or upload a spoken description, which is transcribed and turned into
// topics, questions and answers (by the model, or in the guided form), with
// the phone script to preview before the bot is created.
import { html, useLoad, useState, useRef, ErrorBox, Field, toast, Loading } from "../ui.js";
import { api, get, post, put } from "../api.js";
import { t } from "../i18n.js";

export function VoiceTemplates({ org, onCreated }) {
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/voice-bot-templates`), [org.id]);
  const [made, setMade] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState("");
  const use = async (tv) => {
    setError(null);
    setBusy(tv.slug);
    try {
      const result = await post(`/api/v1/orgs/${org.id}/voice-bots/from-template`, { template: tv.slug });
      setMade(result);
      toast(t("voice_create.voice_bot_created", { name: result.voice_bot.name }));
      onCreated();
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy("");
    }
  };
  return html`<div class="card" id="voice-templates">
    <h2>${t("common.templates")}</h2>
    <p class="muted">${t("voice_create.a_ready_phone_bot_in")}</p>
    <${ErrorBox} error=${error || list.error} />
    ${made && html`<p class="alert" role="status" id="voice-template-made">${t("common.created")} <strong>${made.voice_bot.name}</strong> ${t("voice_create.bot", { id: made.bot.id })}
      ${made.setup && html`<br /><span class="small">${t("voice_create.next", { setup: made.setup })}</span>`}</p>`}
    <div class="grid">
      ${list.data &&
      list.data.map(
        (tv) => html`<div class="card" data-voice-template=${tv.slug}>
          <h3>${tv.name}</h3>
          <p class="small">${tv.description}</p>
          ${tv.greeting && html`<p class="muted small">${t("voice_create.callers_hear", { greeting: tv.greeting })}</p>`}
          <p class="muted small">${tv.bot.preview.steps.join(" → ")}</p>
          <button type="button" class="primary" id=${`use-voice-template-${tv.slug}`} disabled=${busy !== ""} onClick=${() => use(tv)}>
            ${busy === tv.slug ? t("voice_create.creating") : t("voice_create.use_template")}</button>
        </div>`,
      )}
      <${Loading} load=${list} />
    </div>
  </div>`;
}

/** Records from the microphone with MediaRecorder; `onDone(blob)` gets the recording. */
function Recorder({ onDone }) {
  const [state, setState] = useState("idle");
  const [error, setError] = useState(null);
  const recorder = useRef(null);
  const start = async () => {
    setError(null);
    if (!navigator.mediaDevices || !window.MediaRecorder) {
      setError(new Error(t("voice_create.this_browser_cannot_record_audio")));
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      const r = new MediaRecorder(stream);
      r.ondataavailable = (e) => e.data.size && chunks.push(e.data);
      r.onstop = () => {
        stream.getTracks().forEach((tv) => tv.stop());
        onDone(new Blob(chunks, { type: r.mimeType || "audio/webm" }));
        setState("idle");
      };
      recorder.current = r;
      r.start();
      setState("recording");
    } catch (err) {
      setError(new Error(t("voice_create.microphone_not_available", { message: err.message })));
    }
  };
  const stop = () => recorder.current && recorder.current.stop();
  return html`<div>
    ${state === "recording"
      ? html`<button type="button" class="danger" id="voice-record-stop" onClick=${stop}>${t("voice_create.stop_recording")}</button> <span class="muted">${t("voice_create.recording")}</span>`
      : html`<button type="button" id="voice-record-start" onClick=${start}>${t("voice_create.record_with_the_microphone")}</button>`}
    <${ErrorBox} error=${error} />
  </div>`;
}

const blankIntent = () => ({ name: "", label: "", examples: "", answer: "" });

function toForm(extraction) {
  const e = extraction || {};
  return {
    name: e.name || "",
    greeting: e.greeting || "",
    intents: (e.intents && e.intents.length ? e.intents : [blankIntent()]).map((i) => ({ ...i, examples: (i.examples || []).join(", ") })),
    questions: (e.questions || []).map((q) => ({ ...q })),
  };
}

const snake = (s) => s.toLowerCase().trim().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").replace(/^([0-9])/, "t_$1").slice(0, 40);

/** The guided form: the same document the model would have extracted. */
function GuidedForm({ creation, onSaved }) {
  const [form, setForm] = useState(() => toForm(creation.extraction));
  const [error, setError] = useState(null);
  const set = (k, v) => setForm({ ...form, [k]: v });
  const setItem = (list, i, k, v) => set(list, form[list].map((x, n) => (n === i ? { ...x, [k]: v } : x)));
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    const body = {
      name: form.name,
      greeting: form.greeting,
      intents: form.intents.map((i) => ({
        name: i.name || snake(i.label),
        label: i.label,
        answer: i.answer,
        examples: i.examples.split(",").map((x) => x.trim()).filter(Boolean),
      })),
      questions: form.questions.map((q) => ({ variable: q.variable || snake(q.prompt), prompt: q.prompt })),
    };
    try {
      onSaved(await put(`/api/v1/voice-bot-creations/${creation.id}/extraction`, body));
    } catch (err) {
      setError(err);
    }
  };
  return html`<form id="voice-guided-form" onSubmit=${save}>
    <h3>${t("voice_create.guided_form")}</h3>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label=${t("voice_create.bot_name")} name="name" required value=${form.name} onInput=${(v) => set("name", v)} error=${error} />
      <${Field} label=${t("voice_create.greeting_callers_hear_first")} name="greeting" required value=${form.greeting} onInput=${(v) => set("greeting", v)} error=${error} />
    </div>
    <h4>${t("voice_create.topics_callers_call_about_the")}</h4>
    ${form.intents.map(
      (it, i) => html`<div class="grid" data-topic=${i}>
        <${Field} label=${t("voice_create.topic_menu_label", { value: i + 1 })} name=${`intents[${i}].label`} required value=${it.label} onInput=${(v) => setItem("intents", i, "label", v)} error=${error} />
        <${Field} label=${t("voice_create.answer")} name=${`intents[${i}].answer`} required value=${it.answer} onInput=${(v) => setItem("intents", i, "answer", v)} error=${error} />
        <${Field} label=${t("voice_create.example_phrases_comma_separated")} name=${`intents[${i}].examples`} value=${it.examples} onInput=${(v) => setItem("intents", i, "examples", v)} error=${error} />
      </div>`,
    )}
    <p class="row">
      <button type="button" disabled=${form.intents.length >= 8} onClick=${() => set("intents", [...form.intents, blankIntent()])}>${t("voice_create.add_topic")}</button>
      ${form.intents.length > 1 && html`<button type="button" onClick=${() => set("intents", form.intents.slice(0, -1))}>${t("voice_create.remove_last_topic")}</button>`}
    </p>
    <h4>${t("voice_create.questions_to_ask_first")}</h4>
    ${form.questions.map(
      (q, i) => html`<${Field} label=${t("voice_create.question", { value: i + 1 })} name=${`questions[${i}].prompt`} value=${q.prompt} onInput=${(v) => setItem("questions", i, "prompt", v)} error=${error} />`,
    )}
    <p class="row">
      <button type="button" disabled=${form.questions.length >= 5} onClick=${() => set("questions", [...form.questions, { variable: "", prompt: "" }])}>${t("voice_create.add_question")}</button>
      <button type="submit" class="primary">${t("voice_create.draft_the_phone_flow")}</button>
    </p>
  </form>`;
}

export function DescribeByVoice({ org, onCreated }) {
  const [audio, setAudio] = useState(null);
  const [language, setLanguage] = useState("en");
  const [useForm, setUseForm] = useState(false);
  const [creation, setCreation] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [made, setMade] = useState(null);
  const send = async (e) => {
    e.preventDefault();
    setError(null);
    setMade(null);
    if (!audio) {
      setError(new Error(t("voice_create.record_or_choose_first")));
      return;
    }
    const data = new FormData();
    data.append("audio", audio, audio.name || "description");
    data.append("language", language);
    if (useForm) data.append("extraction", "form");
    setBusy(true);
    try {
      setCreation(await api("POST", `/api/v1/orgs/${org.id}/voice-bot-creations`, data));
    } catch (err) {
      setError(err);
      // The creation is kept: its guided form can go on.
      if (err.details && err.details.creation_id) setCreation(await get(`/api/v1/voice-bot-creations/${err.details.creation_id}`).catch(() => null));
    } finally {
      setBusy(false);
    }
  };
  const create = async () => {
    setError(null);
    try {
      const result = await post(`/api/v1/voice-bot-creations/${creation.id}/bot`, {});
      setCreation(result.creation);
      setMade(result);
      toast(t("voice_create.voice_bot_created", { name: result.voice_bot.name }));
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  const c = creation;
  return html`<div class="card" id="voice-describe">
    <h2>${t("voice_create.describe_your_bot_by_voice")}</h2>
    <p class="muted">${t("voice_create.say_what_callers_ask_about")}</p>
    <form onSubmit=${send}>
      <div class="grid">
        <${Recorder} onDone=${(blob) => setAudio(blob)} />
        <div><label for="voice-description-file">${t("voice_create.or_upload_a_recording_wav")}</label>
          <input id="voice-description-file" type="file" accept="audio/*" onChange=${(e) => setAudio(e.target.files[0] || null)} /></div>
        <${Field} label=${t("voice_create.language")} name="language" value=${language} onInput=${setLanguage} error=${error} />
        <div><label><input type="checkbox" style="width:auto" checked=${useForm} onChange=${() => setUseForm(!useForm)} /> ${t("voice_create.i_will_fill_in_the")}</label></div>
      </div>
      ${audio && html`<p class="muted small">${t("voice_create.recording_ready")}${Math.round(audio.size / 1024)} ${t("voice_create.kib")}</p>`}
      <p><button type="submit" class="primary" id="voice-describe-send" disabled=${busy}>${busy ? t("voice_create.transcribing") : t("voice_create.transcribe")}</button></p>
    </form>
    <${ErrorBox} error=${error} />
    ${c && html`<div id="voice-creation" data-status=${c.status}>
      ${c.transcript && html`<p><strong>${t("voice_create.transcript")}</strong> <q>${c.transcript}</q></p>`}
      ${c.next_step === "review" && html`<div>
        <h3>${t("voice_create.what_callers_will_hear")}</h3>
        <ol id="voice-script">${c.script.map((l) => html`<li>${l}</li>`)}</ol>
        ${c.voice_warnings.length ? html`<p class="alert warn">${t("voice_create.parts_cannot_be_spoken", { voice_warnings: c.voice_warnings.length })}</p>` : null}
        <p class="row"><button type="button" class="primary" id="voice-creation-create" onClick=${create}>${t("voice_create.create_voice_bot")}</button></p>
      </div>`}
      ${(c.next_step === "form" || c.next_step === "review") && html`<${GuidedForm} key=${c.updated_at} creation=${c} onSaved=${setCreation} />`}
      ${made && html`<p class="alert" role="status">${t("common.created")} <strong>${made.voice_bot.name}</strong>${t("voice_create.assign_it_a_number_below")}</p>`}
    </div>`}
  </div>`;
}
