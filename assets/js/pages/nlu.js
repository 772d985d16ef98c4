// The NLU editor of a bot: intents with examples, entities with values and
// synonyms, import/export, training with live progress and model versions,
// a test box, the misunderstood inbox and cross-validation with a confusion chart.
import { html, Page, useLoad, useState, useEffect, ErrorBox, FieldError, toast, formatDate, plural, Loading } from "../ui.js";
import { BotMissing } from "./botnav.js";
import { route } from "../router.js";
import { get, post, patch, del, ApiError } from "../api.js";
import { can, currentUser } from "../session.js";
import { t } from "../i18n.js";

const TABS = () => ([
  ["intents", t("nlu.intents")],
  ["entities", t("nlu.entities")],
  ["train", t("nlu.train_test")],
  ["inbox", t("nlu.misunderstood")],
  ["evaluate", t("nlu.evaluation")],
  ["io", t("nlu.import_export")],
]);

function base(botId) {
  return `/api/v1/bots/${botId}/nlu`;
}

/** Polls a job until it ends; calls onUpdate with each view. */
async function waitForJob(id, onUpdate) {
  for (;;) {
    const job = await get(`/api/v1/jobs/${id}`);
    onUpdate(job);
    if (!["queued", "running"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 400));
  }
}

function progressText(job) {
  if (!job) return "";
  const p = job.progress || {};
  if (job.status === "running" && p.stage === "embedding") {
    return `embedding ${p.done}/${p.total}` + (p.cached ? ` (${p.cached} cached)` : "");
  }
  if (job.status === "running" && p.stage) return `${p.stage}…`;
  if (job.status === "failed" || job.status === "dead") return `${job.status}: ${job.last_error || ""}`;
  return job.status;
}

// ---------------- intents ----------------

function IntentList({ botId, selected, onSelect, reloadKey, onChanged }) {
  const list = useLoad(() => get(`${base(botId)}/intents?limit=200`), [botId, reloadKey]);
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const intent = await post(`${base(botId)}/intents`, { name });
      setName("");
      onSelect(intent.id);
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" style="flex:1;min-width:240px">
    <h2>${t("nlu.intents")}</h2>
    ${can("bots.write") &&
    html`<form class="row" onSubmit=${create}>
      <input id="new-intent-name" aria-label=${t("nlu.new_intent_name")} placeholder=${t("nlu.new_intent")} value=${name} onInput=${(e) => setName(e.target.value)} required />
      <button id="add-intent" class="primary" type="submit">${t("common.add")}</button>
    </form>`}
    <${ErrorBox} error=${error || list.error} />
    <ul class="pick-list">
      ${list.data &&
      list.data.items.map(
        (i) => html`<li data-intent=${i.name} class=${selected === i.id ? "active" : ""}>
          <a href="#" onClick=${(e) => (e.preventDefault(), onSelect(i.id))}>${i.name}</a>
          <span class="muted"> ${i.example_count}</span>${!i.is_active && html` <span class="badge">${t("nlu.inactive")}</span>`}
        </li>`,
      )}
      <${Loading} load=${list} li />
      ${list.data && !list.data.items.length && html`<li class="muted">${t("nlu.no_intents_yet")}</li>`}
    </ul>
  </div>`;
}

function IntentEditor({ botId, intentId, onChanged }) {
  const intent = useLoad(() => get(`${base(botId)}/intents/${intentId}`), [botId, intentId]);
  const examples = useLoad(() => get(`${base(botId)}/intents/${intentId}/examples?limit=200`), [botId, intentId]);
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const add = async (e) => {
    e.preventDefault();
    setError(null);
    const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
    if (!lines.length) return;
    try {
      const res = await post(`${base(botId)}/intents/${intentId}/examples`, { examples: lines.map((tv) => ({ text: tv })) });
      setText("");
      toast(t("nlu.added_examples", { added: res.added.length, duplicates: res.duplicates.length ? t("nlu.already_there", { count: res.duplicates.length }) : "" }));
      examples.reload();
      intent.reload();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async (ex) => {
    await post(`${base(botId)}/examples/remove`, { ids: [ex.id] });
    examples.reload();
    onChanged();
  };
  const saveSettings = async (changes) => {
    try {
      await patch(`${base(botId)}/intents/${intentId}`, changes);
      intent.reload();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const removeIntent = async () => {
    if (!confirm(t("nlu.delete_intent_and_its_examples", { name: intent.data.name }))) return;
    await del(`${base(botId)}/intents/${intentId}`);
    onChanged(null);
  };
  if (!intent.data) return html`<div class="card" style="flex:2"><${ErrorBox} error=${intent.error} /></div>`;
  const i = intent.data;
  return html`<div class="card" style="flex:2" data-editing=${i.name}>
    <div class="row" style="justify-content:space-between"><h2>${i.name}</h2>
      ${can("bots.write") && html`<button class="danger" onClick=${removeIntent}>${t("nlu.delete_intent")}</button>`}</div>
    ${can("bots.write") &&
    html`<div class="row">
      <label class="row"><input type="checkbox" checked=${i.is_active} onChange=${(e) => saveSettings({ is_active: e.target.checked })} /> ${t("common.active")}</label>
      <label class="row">${t("nlu.threshold")}
        <input style="width:6em" type="number" min="0" max="1" step="0.05" value=${i.confidence_threshold ?? ""} placeholder=${t("nlu.auto")}
          onChange=${(e) => saveSettings({ confidence_threshold: e.target.value === "" ? null : Number(e.target.value) })} /></label>
    </div>`}
    <${ErrorBox} error=${error} />
    ${can("bots.write") &&
    html`<form onSubmit=${add}>
      <label for="new-examples">${t("nlu.add_examples_one_per_line")}</label>
      <textarea id="new-examples" rows="4" value=${text} onInput=${(e) => setText(e.target.value)}></textarea>
      <button id="add-examples" class="primary" type="submit">${t("nlu.add_examples")}</button>
    </form>`}
    <table>
      <tbody>
        ${examples.data &&
        examples.data.items.map(
          (ex) => html`<tr data-example=${ex.id}>
            <td>${ex.text}${ex.entities.length > 0 && html`<div class="muted">${ex.entities.map((a) => `${a.entity}=${a.value}`).join(", ")}</div>`}</td>
            <td>${can("bots.write") && html`<button onClick=${() => remove(ex)} aria-label=${t("nlu.remove_example")}>✕</button>`}</td>
          </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function IntentsTab({ botId, onChanged }) {
  const [selected, setSelected] = useState(null);
  const [reloadKey, setReloadKey] = useState(0);
  const changed = (next) => {
    if (next === null) setSelected(null);
    setReloadKey((k) => k + 1);
    onChanged();
  };
  return html`<div class="row" style="align-items:flex-start">
    <${IntentList} botId=${botId} selected=${selected} onSelect=${setSelected} reloadKey=${reloadKey} onChanged=${changed} />
    ${selected ? html`<${IntentEditor} key=${selected} botId=${botId} intentId=${selected} onChanged=${changed} />`
      : html`<div class="card muted" style="flex:2">${t("nlu.pick_or_add_an_intent")}</div>`}
  </div>`;
}

// ---------------- entities ----------------

function valuesToText(values) {
  return values.map((v) => (v.synonyms.length ? `${v.value}: ${v.synonyms.join(", ")}` : v.value)).join("\n");
}

function textToValues(text) {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [value, syn] = l.split(/:(.*)/s);
      return { value: value.trim(), synonyms: (syn || "").split(",").map((s) => s.trim()).filter(Boolean) };
    });
}

const SYSTEM_TYPES = ["number", "ordinal", "date", "time", "duration", "email", "phone", "url", "money", "percentage"];

function EntityForm({ botId, entity, onDone }) {
  const [name, setName] = useState(entity ? entity.name : "");
  const [type, setType] = useState(entity ? entity.type : "list");
  const [values, setValues] = useState(entity ? valuesToText(entity.values) : "");
  const [pattern, setPattern] = useState(entity ? entity.pattern || "" : "");
  const [systemType, setSystemType] = useState(entity ? entity.system_type || "date" : "date");
  const [fuzzy, setFuzzy] = useState(entity ? entity.fuzzy_matching : true);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const body = { name };
    if (type === "list") Object.assign(body, { values: textToValues(values), fuzzy_matching: fuzzy });
    if (type === "regex") body.pattern = pattern;
    if (type === "system") body.system_type = systemType;
    try {
      if (entity) await patch(`${base(botId)}/entities/${entity.id}`, body);
      else await post(`${base(botId)}/entities`, { ...body, type });
      onDone();
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit}>
    <h2>${entity ? t("nlu.edit", { name: entity.name }) : t("nlu.new_entity")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row">
      <div><label for="entity-name">${t("common.name")}</label><input id="entity-name" value=${name} onInput=${(e) => setName(e.target.value)} required /></div>
      <div><label for="entity-type">${t("common.type")}</label>
        <select id="entity-type" value=${type} disabled=${!!entity} onChange=${(e) => setType(e.target.value)}>
          <option value="list">${t("nlu.list")}</option><option value="regex">${t("nlu.regex")}</option><option value="system">${t("nlu.system")}</option>
        </select></div>
    </div>
    ${type === "list" &&
    html`<label for="entity-values">${t("nlu.values_one_per_line")} <code>value: synonym, synonym</code></label>
      <textarea id="entity-values" rows="5" value=${values} onInput=${(e) => setValues(e.target.value)}></textarea>
      <label class="row"><input type="checkbox" checked=${fuzzy} onChange=${(e) => setFuzzy(e.target.checked)} /> ${t("nlu.typo_tolerant_matching")}</label>`}
    ${type === "regex" &&
    html`<label for="entity-pattern">${t("nlu.pattern")}</label><input id="entity-pattern" value=${pattern} onInput=${(e) => setPattern(e.target.value)} />
      <${FieldError} error=${error} name="pattern" />`}
    ${type === "system" &&
    html`<label for="entity-system">${t("nlu.kind")}</label>
      <select id="entity-system" value=${systemType} onChange=${(e) => setSystemType(e.target.value)}>
        ${SYSTEM_TYPES.map((tv) => html`<option value=${tv}>${tv}</option>`)}
      </select>`}
    <div class="row"><button class="primary" type="submit">${t("common.save")}</button>${entity && html`<button type="button" onClick=${onDone}>${t("common.cancel")}</button>`}</div>
  </form>`;
}

function EntitiesTab({ botId, onChanged }) {
  const list = useLoad(() => get(`${base(botId)}/entities?limit=200`), [botId]);
  const [editing, setEditing] = useState(null);
  const done = () => {
    setEditing(null);
    list.reload();
    onChanged();
  };
  const remove = async (e) => {
    if (!confirm(t("nlu.delete_entity", { name: e.name }))) return;
    await del(`${base(botId)}/entities/${e.id}`);
    done();
  };
  return html`<div>
    ${can("bots.write") && html`<${EntityForm} key=${editing ? editing.id : "new"} botId=${botId} entity=${editing} onDone=${done} />`}
    <${ErrorBox} error=${list.error} />
    <div class="card"><table>
      <thead><tr><th>${t("common.name")}</th><th>${t("common.type")}</th><th>${t("nlu.definition")}</th><th></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (e) => html`<tr data-entity=${e.name}>
            <td><strong>${e.name}</strong></td><td>${e.type}</td>
            <td class="muted">${e.type === "list" ? e.values.map((v) => (v.synonyms.length ? `${v.value} (${v.synonyms.join(", ")})` : v.value)).join("; ")
              : e.type === "regex" ? html`<code>${e.pattern}</code>` : e.system_type}</td>
            <td>${can("bots.write") && html`<button onClick=${() => setEditing(e)}>${t("common.edit")}</button> <button class="danger" onClick=${() => remove(e)}>${t("common.delete")}</button>`}</td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="4" />
        ${list.data && !list.data.items.length && html`<tr><td colspan="4" class="muted">${t("nlu.no_entities_yet_system_entities")}</td></tr>`}
      </tbody>
    </table></div>
  </div>`;
}

// ---------------- train & test ----------------

function TrainPanel({ botId, status, onChanged }) {
  const versions = useLoad(() => get(`${base(botId)}/models?limit=20`), [botId, status && status.active_model && status.active_model.id]);
  const [job, setJob] = useState(null);
  const [error, setError] = useState(null);
  const train = async () => {
    setError(null);
    try {
      const started = await post(`${base(botId)}/train`);
      setJob(started);
      const end = await waitForJob(started.id, setJob);
      if (end.status === "succeeded") toast(t("nlu.model_version_is_live", { version_number: end.result.version_number }));
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const activate = async (v) => {
    await post(`${base(botId)}/models/${v.id}/activate`);
    toast(t("nlu.version_is_live", { version_number: v.version_number }));
    onChanged();
  };
  const busy = job && ["queued", "running"].includes(job.status);
  return html`<div class="card" style="flex:1">
    <h2>${t("nlu.training")}</h2>
    <p class="muted">${status && status.active_model ? t("nlu.live_version", { version_number: status.active_model.version_number }) : t("nlu.not_trained_yet")}
      ${status && (status.embedding_model_changed
        ? " " + t("nlu.encoder_changed", { encoder: status.encoder })
        : status.needs_training && " " + t("nlu.the_data_changed_since"))}</p>
    ${can("nlu.train") && html`<button id="train" class="primary" disabled=${busy} onClick=${train}>${busy ? t("nlu.training_2") : t("nlu.train")}</button>`}
    <span id="train-status" class="muted" style="margin-left:1em">${progressText(job)}</span>
    <${ErrorBox} error=${error} />
    ${error && error.details && error.details.intents_without_examples && error.details.intents_without_examples.length > 0 &&
    html`<p class="field-error">${t("nlu.add_examples_to")} ${error.details.intents_without_examples.join(", ")}</p>`}
    <h3>${t("nlu.versions")}</h3>
    <table><tbody>
      ${versions.data &&
      versions.data.items.map(
        (v) => html`<tr data-version=${v.version_number}>
          <td>${t("nlu.v", { version_number: v.version_number })}</td><td class="muted">${formatDate(v.created_at)}</td>
          <td class="muted">${v.description || ""}${v.metrics && v.metrics.training ? t("nlu.held_out_accuracy", { percent: (v.metrics.training.validation_accuracy * 100).toFixed(1) }) : ""}</td>
          <td>${v.is_active ? html`<span class="badge ok">${t("nlu.live")}</span>` : can("nlu.train") && html`<button onClick=${() => activate(v)}>${t("nlu.activate")}</button>`}</td>
        </tr>`,
      )}
    </tbody></table>
  </div>`;
}

function Bar({ value }) {
  return html`<svg width="120" height="10" role="img" aria-label=${`${Math.round(value * 100)}%`}>
    <rect width="120" height="10" fill="#eee" /><rect width=${Math.max(1, value * 120)} height="10" fill="#6d28d9" />
  </svg>`;
}

function TestBox({ botId }) {
  const [text, setText] = useState("");
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const parse = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      setResult(await post(`${base(botId)}/parse`, { text, timezone: Intl.DateTimeFormat().resolvedOptions().timeZone }));
    } catch (err) {
      setResult(null);
      setError(err);
    }
  };
  return html`<div class="card" style="flex:1">
    <h2>${t("common.test")}</h2>
    <form class="row" onSubmit=${parse}>
      <input id="test-text" style="flex:1" aria-label=${t("nlu.text_to_parse")} placeholder=${t("nlu.type_a_message")} value=${text} onInput=${(e) => setText(e.target.value)} required />
      <button id="test-parse" class="primary" type="submit">${t("nlu.parse")}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result &&
    html`<div id="test-result">
      <p>${t("nlu.intent")} <strong id="test-intent">${result.intent ? result.intent.name : t("nlu.out_of_scope")}</strong>
        ${result.intent && html` <span class="muted">${(result.intent.confidence * 100).toFixed(1)}%</span>`}
        <span class="muted"> ${t("nlu.v_2", { model_version: result.model_version })} ${result.latency_ms.toFixed(1)} ${t("nlu.ms")}</span></p>
      <table><tbody>
        ${result.ranking.map((r) => html`<tr><td>${r.name}</td><td><${Bar} value=${r.confidence} /></td><td class="muted">${(r.confidence * 100).toFixed(1)}%</td></tr>`)}
      </tbody></table>
      <h3>${t("nlu.entities")}</h3>
      ${result.entities.length === 0 ? html`<p class="muted">${t("nlu.none_found")}</p>`
        : html`<table id="test-entities"><thead><tr><th>${t("nlu.entity")}</th><th>${t("common.text")}</th><th>${t("common.value")}</th><th>${t("nlu.by")}</th></tr></thead><tbody>
          ${result.entities.map((en) => html`<tr><td>${en.entity}</td><td>${en.value}</td><td><code>${JSON.stringify(en.resolved)}</code></td><td class="muted">${en.extractor}</td></tr>`)}
        </tbody></table>`}
    </div>`}
  </div>`;
}

// ---------------- misunderstood inbox ----------------

function InboxTab({ botId, onChanged }) {
  const list = useLoad(() => get(`${base(botId)}/misunderstood?limit=100`), [botId]);
  const intents = useLoad(() => get(`${base(botId)}/intents?limit=200`), [botId]);
  const [choice, setChoice] = useState({});
  const assign = async (log) => {
    const intentId = Number(choice[log.id] || (intents.data && intents.data.items[0] && intents.data.items[0].id));
    if (!intentId) return;
    await post(`${base(botId)}/misunderstood/${log.id}/assign`, { intent_id: intentId });
    toast(t("nlu.added_as_an_example_train"));
    list.reload();
    onChanged();
  };
  const dismiss = async (log) => {
    await post(`${base(botId)}/misunderstood/${log.id}/dismiss`);
    list.reload();
  };
  return html`<div class="card">
    <h2>${t("nlu.misunderstood")}</h2>
    <p class="muted">${t("nlu.messages_the_model_was_unsure")}</p>
    <${ErrorBox} error=${list.error} />
    <table><tbody>
      ${list.data &&
      list.data.items.map(
        (log) => html`<tr data-log=${log.id}>
          <td>${log.text}<div class="muted">${log.out_of_scope ? t("nlu.out_of_scope_lower") : `${log.intent} ${(log.confidence * 100).toFixed(0)}%`} · ${formatDate(log.created_at)}</div></td>
          <td>${can("bots.write") &&
          html`<select aria-label=${t("common.intent")} onChange=${(e) => setChoice({ ...choice, [log.id]: e.target.value })}>
              ${intents.data && intents.data.items.map((i) => html`<option value=${i.id}>${i.name}</option>`)}
            </select>
            <button class="primary" onClick=${() => assign(log)}>${t("nlu.assign")}</button>
            <button onClick=${() => dismiss(log)}>${t("nlu.dismiss")}</button>`}</td>
        </tr>`,
      )}
      <${Loading} load=${list} cols="1" />
      ${list.data && !list.data.items.length && html`<tr><td class="muted">${t("nlu.nothing_to_review")}</td></tr>`}
    </tbody></table>
  </div>`;
}

// ---------------- evaluation ----------------

/** The confusion matrix as an SVG heat map (rows: expected, columns: predicted). */
function ConfusionChart({ labels, matrix }) {
  const n = labels.length;
  if (!n) return null;
  const cell = Math.max(12, Math.min(36, Math.floor(560 / n)));
  const pad = 140;
  const max = Math.max(1, ...matrix.flat());
  return html`<svg id="confusion-chart" width=${pad + n * cell + 10} height=${pad + n * cell + 10} role="img" aria-label=${t("nlu.confusion_matrix")}>
    ${labels.map((l, i) => html`<text x=${pad - 4} y=${pad + i * cell + cell * 0.7} text-anchor="end" font-size="11">${l.slice(0, 22)}</text>`)}
    ${labels.map((l, j) => html`<text transform=${`translate(${pad + j * cell + cell * 0.7},${pad - 4}) rotate(-60)`} font-size="11">${l.slice(0, 22)}</text>`)}
    ${matrix.map((row, i) =>
      row.map((v, j) => {
        const shade = v / max;
        const color = i === j ? `rgba(22,163,74,${0.15 + 0.85 * shade})` : `rgba(220,38,38,${v ? 0.15 + 0.85 * shade : 0.04})`;
        return html`<g><rect x=${pad + j * cell} y=${pad + i * cell} width=${cell - 1} height=${cell - 1} fill=${color}><title>${`${labels[i]} → ${labels[j]}: ${v}`}</title></rect>
          ${v > 0 && cell >= 18 && html`<text x=${pad + j * cell + cell / 2} y=${pad + i * cell + cell * 0.65} text-anchor="middle" font-size="10">${v}</text>`}</g>`;
      }),
    )}
  </svg>`;
}

function EvaluateTab({ botId }) {
  const [job, setJob] = useState(null);
  const [folds, setFolds] = useState(5);
  const [error, setError] = useState(null);
  const run = async () => {
    setError(null);
    try {
      const started = await post(`${base(botId)}/evaluate`, { folds: Number(folds) });
      setJob(started);
      await waitForJob(started.id, setJob);
    } catch (err) {
      setError(err);
    }
  };
  const report = job && job.status === "succeeded" ? job.result : null;
  return html`<div class="card">
    <h2>${t("nlu.cross_validation")}</h2>
    <div class="row">
      <label class="row">${t("nlu.folds")} <input type="number" min="2" max="10" style="width:5em" value=${folds} onInput=${(e) => setFolds(e.target.value)} /></label>
      ${can("nlu.train") && html`<button id="evaluate" class="primary" onClick=${run}>${t("common.run")}</button>`}
      <span class="muted">${progressText(job)}</span>
    </div>
    <${ErrorBox} error=${error} />
    ${report &&
    html`<div id="evaluation-report">
      <p>${t("nlu.accuracy")} <strong>${(report.accuracy * 100).toFixed(1)}%</strong> ${t("nlu.macro_f1")} ${report.macro_f1.toFixed(3)} ${t("nlu.micro_f1")} ${report.micro_f1.toFixed(3)} ${t("nlu.examples_folds", { examples: report.examples, folds: report.folds })}</p>
      <table><thead><tr><th>${t("common.intent")}</th><th>${t("nlu.precision")}</th><th>${t("nlu.recall")}</th><th>${t("nlu.f1")}</th><th>${t("nlu.examples")}</th></tr></thead><tbody>
        ${report.per_intent.map((m) => html`<tr><td>${m.intent}</td><td>${m.precision.toFixed(3)}</td><td>${m.recall.toFixed(3)}</td><td>${m.f1.toFixed(3)}</td><td>${m.support}</td></tr>`)}
      </tbody></table>
      ${report.confusions.length > 0 &&
      html`<h3>${t("nlu.most_confused")}</h3><ul>${report.confusions.slice(0, 10).map((c) => html`<li>${c.expected} → ${c.predicted}: ${c.count}</li>`)}</ul>`}
      <h3>${t("nlu.confusion_matrix")}</h3>
      <${ConfusionChart} labels=${report.labels} matrix=${report.matrix} />
    </div>`}
  </div>`;
}

// ---------------- import / export ----------------

function IoTab({ botId, onChanged }) {
  const [format, setFormat] = useState("json");
  const [mode, setMode] = useState("merge");
  const [error, setError] = useState(null);
  const [summary, setSummary] = useState(null);
  const upload = async (e) => {
    e.preventDefault();
    setError(null);
    setSummary(null);
    const file = e.target.elements.file.files[0];
    if (!file) return;
    const me = currentUser();
    const response = await fetch(`${base(botId)}/import?format=${format}&mode=${mode}`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/octet-stream", "X-CSRF-Token": me ? me.csrf_token : "" },
      body: await file.arrayBuffer(),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) setError(new ApiError(response.status, body, response.headers.get("x-request-id")));
    else {
      setSummary(body);
      onChanged();
    }
  };
  return html`<div class="row" style="align-items:flex-start">
    ${can("bots.write") &&
    html`<form class="card" style="flex:1" onSubmit=${upload}>
      <h2>${t("common.import")}</h2>
      <p class="muted">${t("nlu.botbuilder_json_rasa_nlu_yaml")} <code>text,intent</code> ${t("nlu.columns_a_file_with_an")}</p>
      <input name="file" type="file" accept=".json,.yml,.yaml,.csv,.txt" aria-label=${t("nlu.file")} />
      <div class="row">
        <select aria-label=${t("nlu.format")} value=${format} onChange=${(e) => setFormat(e.target.value)}>
          <option value="json">JSON</option><option value="rasa">${t("nlu.rasa_yaml")}</option><option value="csv">CSV</option>
        </select>
        <select aria-label=${t("nlu.mode")} value=${mode} onChange=${(e) => setMode(e.target.value)}>
          <option value="merge">${t("nlu.add_to_existing_data")}</option><option value="replace">${t("nlu.replace_all_data")}</option>
        </select>
        <button class="primary" type="submit">${t("common.import")}</button>
      </div>
      <${ErrorBox} error=${error} />
      ${summary && html`<p>${t("nlu.created_intents_added_examples_new", { intents_created: summary.intents_created, examples_added: summary.examples_added, entities_created: summary.entities_created, entities_updated: summary.entities_updated })}</p>`}
    </form>`}
    <div class="card" style="flex:1">
      <h2>${t("nlu.export")}</h2>
      <ul>
        <li><a href=${`${base(botId)}/export?format=json`} download>${t("nlu.botbuilder_json")}</a> ${t("nlu.everything")}</li>
        <li><a href=${`${base(botId)}/export?format=rasa`} download>${t("nlu.rasa_nlu_yaml")}</a></li>
        <li><a href=${`${base(botId)}/export?format=csv`} download>CSV</a> ${t("nlu.examples_only")}</li>
      </ul>
    </div>
  </div>`;
}

// ---------------- the page ----------------

function NluEditor({ params }) {
  const botId = params.botId;
  const bot = useLoad(() => get(`/api/v1/bots/${botId}`), [botId]);
  const [tick, setTick] = useState(0);
  const status = useLoad(() => get(base(botId)), [botId, tick]);
  const [tab, setTab] = useState(new URLSearchParams(location.search).get("tab") || "intents");
  const changed = () => setTick((tv) => tv + 1);
  useEffect(() => {
    const url = new URL(location.href);
    url.searchParams.set("tab", tab);
    history.replaceState(null, "", url.pathname + url.search);
  }, [tab]);
  const s = status.data;
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  return html`<${Page} title=${bot.data ? t("nlu.nlu", { name: bot.data.name }) : "NLU"}>
    <${ErrorBox} error=${bot.error || status.error} />
    ${s &&
    html`<p class="muted" id="nlu-summary">${plural(s.intents, "intent")} · ${plural(s.examples, "example")} · ${plural(s.entities, "entity", "entities")} ·${" "}
      ${s.active_model ? t("nlu.model_version", { version: s.active_model.version_number }) : t("nlu.not_trained")}${s.needs_training ? " " + t("nlu.needs_training") : ""}
      ${t("nlu.encoder")} <code id="nlu-encoder" title=${t("nlu.the_sentence_encoder_follows_the")}>${s.encoder}</code>
      ${s.unresolved_misunderstood > 0 ? ` · ${s.unresolved_misunderstood} to review` : ""}</p>`}
    <div class="row tabs" role="tablist">
      ${TABS().map(([id, label]) => html`<button role="tab" id=${`tab-${id}`} aria-selected=${tab === id} class=${tab === id ? "primary" : ""} onClick=${() => setTab(id)}>${label}</button>`)}
    </div>
    ${tab === "intents" && html`<${IntentsTab} botId=${botId} onChanged=${changed} />`}
    ${tab === "entities" && html`<${EntitiesTab} botId=${botId} onChanged=${changed} />`}
    ${tab === "train" && html`<div class="row" style="align-items:flex-start"><${TrainPanel} botId=${botId} status=${s} onChanged=${changed} /><${TestBox} botId=${botId} /></div>`}
    ${tab === "inbox" && html`<${InboxTab} botId=${botId} onChanged=${changed} />`}
    ${tab === "evaluate" && html`<${EvaluateTab} botId=${botId} />`}
    ${tab === "io" && html`<${IoTab} botId=${botId} onChanged=${changed} />`}
  <//>`;
}

route("/bots/:botId/nlu", NluEditor);
