// Two ways to a voice bot without building a flow by hand: ready templates
// (IVR menu, appointment booking, order status, FAQ from a knowledge base)
// made in one click, and "describe your bot by voice" — record (MediaRecorder)
// or upload a spoken description, which is transcribed and turned into
// topics, questions and answers (by the model, or in the guided form), with
// the phone script to preview before the bot is created.
import { html, useLoad, useState, useRef, ErrorBox, Field, toast, Loading } from "../ui.js";
import { api, get, post, put } from "../api.js";

export function VoiceTemplates({ org, onCreated }) {
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/voice-bot-templates`), [org.id]);
  const [made, setMade] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState("");
  const use = async (t) => {
    setError(null);
    setBusy(t.slug);
    try {
      const result = await post(`/api/v1/orgs/${org.id}/voice-bots/from-template`, { template: t.slug });
      setMade(result);
      toast(`Voice bot ${result.voice_bot.name} created`);
      onCreated();
      list.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy("");
    }
  };
  return html`<div class="card" id="voice-templates">
    <h2>Templates</h2>
    <p class="muted">A ready phone bot in one click: the bot, its flow (published) and the voice bot. Assign a number below.</p>
    <${ErrorBox} error=${error || list.error} />
    ${made && html`<p class="alert" role="status" id="voice-template-made">Created <strong>${made.voice_bot.name}</strong> (bot #${made.bot.id}).
      ${made.setup && html`<br /><span class="small">Next: ${made.setup}</span>`}</p>`}
    <div class="grid">
      ${list.data &&
      list.data.map(
        (t) => html`<div class="card" data-voice-template=${t.slug}>
          <h3>${t.name}</h3>
          <p class="small">${t.description}</p>
          ${t.greeting && html`<p class="muted small">Callers hear: “${t.greeting}”</p>`}
          <p class="muted small">${t.bot.preview.steps.join(" → ")}</p>
          <button type="button" class="primary" id=${`use-voice-template-${t.slug}`} disabled=${busy !== ""} onClick=${() => use(t)}>
            ${busy === t.slug ? "Creating…" : "Use template"}</button>
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
      setError(new Error("this browser cannot record audio: upload a file instead"));
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks = [];
      const r = new MediaRecorder(stream);
      r.ondataavailable = (e) => e.data.size && chunks.push(e.data);
      r.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        onDone(new Blob(chunks, { type: r.mimeType || "audio/webm" }));
        setState("idle");
      };
      recorder.current = r;
      r.start();
      setState("recording");
    } catch (err) {
      setError(new Error(`the microphone is not available (${err.message})`));
    }
  };
  const stop = () => recorder.current && recorder.current.stop();
  return html`<div>
    ${state === "recording"
      ? html`<button type="button" class="danger" id="voice-record-stop" onClick=${stop}>Stop recording</button> <span class="muted">Recording…</span>`
      : html`<button type="button" id="voice-record-start" onClick=${start}>Record with the microphone</button>`}
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
    <h3>Guided form</h3>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label="Bot name" name="name" required value=${form.name} onInput=${(v) => set("name", v)} error=${error} />
      <${Field} label="Greeting callers hear first" name="greeting" required value=${form.greeting} onInput=${(v) => set("greeting", v)} error=${error} />
    </div>
    <h4>Topics callers call about (the menu)</h4>
    ${form.intents.map(
      (it, i) => html`<div class="grid" data-topic=${i}>
        <${Field} label=${`Topic ${i + 1}: menu label`} name=${`intents[${i}].label`} required value=${it.label} onInput=${(v) => setItem("intents", i, "label", v)} error=${error} />
        <${Field} label="Answer" name=${`intents[${i}].answer`} required value=${it.answer} onInput=${(v) => setItem("intents", i, "answer", v)} error=${error} />
        <${Field} label="Example phrases (comma separated)" name=${`intents[${i}].examples`} value=${it.examples} onInput=${(v) => setItem("intents", i, "examples", v)} error=${error} />
      </div>`,
    )}
    <p class="row">
      <button type="button" disabled=${form.intents.length >= 8} onClick=${() => set("intents", [...form.intents, blankIntent()])}>Add topic</button>
      ${form.intents.length > 1 && html`<button type="button" onClick=${() => set("intents", form.intents.slice(0, -1))}>Remove last topic</button>`}
    </p>
    <h4>Questions to ask first</h4>
    ${form.questions.map(
      (q, i) => html`<${Field} label=${`Question ${i + 1}`} name=${`questions[${i}].prompt`} value=${q.prompt} onInput=${(v) => setItem("questions", i, "prompt", v)} error=${error} />`,
    )}
    <p class="row">
      <button type="button" disabled=${form.questions.length >= 5} onClick=${() => set("questions", [...form.questions, { variable: "", prompt: "" }])}>Add question</button>
      <button type="submit" class="primary">Draft the phone flow</button>
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
      setError(new Error("record or choose a recording first"));
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
      toast(`Voice bot ${result.voice_bot.name} created`);
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  const c = creation;
  return html`<div class="card" id="voice-describe">
    <h2>Describe your bot by voice</h2>
    <p class="muted">Say what callers ask about and what the bot should answer. The recording is transcribed by your
      organization's AI provider; its model (or you, in the guided form) turns it into a phone flow to preview.</p>
    <form onSubmit=${send}>
      <div class="grid">
        <${Recorder} onDone=${(blob) => setAudio(blob)} />
        <div><label for="voice-description-file">Or upload a recording (WAV, MP3, OGG, WebM, M4A)</label>
          <input id="voice-description-file" type="file" accept="audio/*" onChange=${(e) => setAudio(e.target.files[0] || null)} /></div>
        <${Field} label="Language" name="language" value=${language} onInput=${setLanguage} error=${error} />
        <div><label><input type="checkbox" style="width:auto" checked=${useForm} onChange=${() => setUseForm(!useForm)} /> I will fill in the guided form myself</label></div>
      </div>
      ${audio && html`<p class="muted small">Recording ready (${Math.round(audio.size / 1024)} KiB).</p>`}
      <p><button type="submit" class="primary" id="voice-describe-send" disabled=${busy}>${busy ? "Transcribing…" : "Transcribe"}</button></p>
    </form>
    <${ErrorBox} error=${error} />
    ${c && html`<div id="voice-creation" data-status=${c.status}>
      ${c.transcript && html`<p><strong>Transcript:</strong> <q>${c.transcript}</q></p>`}
      ${c.next_step === "review" && html`<div>
        <h3>What callers will hear</h3>
        <ol id="voice-script">${c.script.map((l) => html`<li>${l}</li>`)}</ol>
        ${c.voice_warnings.length ? html`<p class="alert warn">${c.voice_warnings.length} parts cannot be spoken.</p>` : null}
        <p class="row"><button type="button" class="primary" id="voice-creation-create" onClick=${create}>Create voice bot</button></p>
      </div>`}
      ${(c.next_step === "form" || c.next_step === "review") && html`<${GuidedForm} key=${c.updated_at} creation=${c} onSaved=${setCreation} />`}
      ${made && html`<p class="alert" role="status">Created <strong>${made.voice_bot.name}</strong>: assign it a number below.</p>`}
    </div>`}
  </div>`;
}
