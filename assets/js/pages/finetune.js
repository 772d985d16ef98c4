// Fine-tuning: fine-tune models with their datasets (upload, validation
// report, preview, split, convert, from a bot's NLU data), remote jobs with
// live loss/accuracy curves, and versions (compare, activate, production,
// rollback).
import { html, Page, useLoad, useState, useEffect, ErrorBox, Field, toast, toastError, formatDate, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { api, get, post, del } from "../api.js";
import { can, currentOrg } from "../session.js";
import { Chart } from "../charts.js";

const FINISHED = ["succeeded", "failed", "cancelled"];

function CreateModel({ org, onCreated }) {
  const empty = { kind: "llm_finetune", name: "", base_model: "gpt-4o-mini-2024-07-18", provider_id: "", bot_id: "" };
  const [form, setForm] = useState(empty);
  const [error, setError] = useState(null);
  const providers = useLoad(() => get(`/api/v1/orgs/${org.id}/llm-providers?limit=200`).catch(() => ({ items: [] })), [org.id]);
  const bots = useLoad(() => get(`/api/v1/orgs/${org.id}/bots?limit=200`), [org.id]);
  const set = (k) => (v) => setForm((f) => ({ ...f, [k]: v }));
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    const remote = form.kind === "llm_finetune";
    try {
      const m = await post(`/api/v1/orgs/${org.id}/fine-tuning/models`, {
        name: form.name,
        kind: form.kind,
        base_model: remote ? form.base_model : null,
        provider_id: remote && form.provider_id ? Number(form.provider_id) : null,
        bot_id: !remote && form.bot_id ? Number(form.bot_id) : null,
      });
      setForm(empty);
      toast("Fine-tune model created");
      onCreated(m);
    } catch (err) {
      setError(err);
    }
  };
  const remote = form.kind === "llm_finetune";
  return html`<form class="card" id="create-ft-model" onSubmit=${submit}>
    <h2>New fine-tune model</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div>
        <label for="ft-kind">What to tune</label>
        <select id="ft-kind" name="kind" value=${form.kind} onChange=${(e) => set("kind")(e.target.value)}>
          <option value="llm_finetune">A generative model (remote fine-tuning API)</option>
          <option value="nlu_intent">A bot's intent classifier (NLU)</option>
        </select>
      </div>
      <${Field} label="Name" name="name" id="ft-name" value=${form.name} onInput=${set("name")} error=${error} required />
      ${remote
        ? html`<${Field} label="Base model" name="base_model" id="ft-base-model" value=${form.base_model} onInput=${set("base_model")} error=${error} />
            <div>
              <label for="ft-provider">Provider</label>
              <select id="ft-provider" name="provider_id" value=${form.provider_id} onChange=${(e) => set("provider_id")(e.target.value)}>
                <option value="">Choose…</option>
                ${providers.data && providers.data.items.filter((p) => p.kind === "openai_compatible").map((p) => html`<option value=${p.id}>${p.name}</option>`)}
              </select>
            </div>`
        : html`<div>
            <label for="ft-bot">Bot</label>
            <select id="ft-bot" name="bot_id" value=${form.bot_id} onChange=${(e) => set("bot_id")(e.target.value)}>
              <option value="">Choose…</option>
              ${bots.data && bots.data.items.map((b) => html`<option value=${b.id}>${b.name}</option>`)}
            </select>
          </div>`}
    </div>
    <button class="primary" type="submit">Create</button>
  </form>`;
}

function Models() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/fine-tuning/models?limit=200`), [org.id]);
  return html`<${Page} title="Fine-tuning">
    ${can("nlu.train") && html`<${CreateModel} org=${org} onCreated=${(m) => navigate(`/fine-tuning/${m.id}`)} />`}
    <${ErrorBox} error=${list.error} />
    <div class="card">
      <table>
        <thead><tr><th>Name</th><th>Kind</th><th>Base model</th><th>Status</th><th>Tuned model</th><th>Created</th></tr></thead>
        <tbody>
          ${list.data &&
          list.data.items.map(
            (m) => html`<tr data-ft-model=${m.id}>
              <td><a href=${`/fine-tuning/${m.id}`}><strong>${m.name}</strong></a></td>
              <td>${m.kind === "nlu_intent" ? "NLU" : "Remote"}</td>
              <td>${m.base_model}</td>
              <td><span class="badge">${m.status}</span></td>
              <td class="muted">${m.model_id || "—"}</td>
              <td class="muted">${formatDate(m.created_at)}</td>
            </tr>`,
          )}
          <${Loading} load=${list} cols="6" />
          ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">No fine-tune model yet.</td></tr>`}
        </tbody>
      </table>
    </div>
  <//>`;
}

function Report({ dataset }) {
  const r = dataset.report || {};
  const issues = (title, list, fmt) =>
    list && list.length
      ? html`<div><h4>${title}</h4><ul>${list.slice(0, 10).map((x) => html`<li>${fmt(x)}</li>`)}</ul></div>`
      : null;
  return html`<section id="validation-report" aria-label="Validation report">
    <h3>Validation report: <span class=${`badge ${r.ok ? "ok" : "warn"}`} id="report-status">${r.ok ? "valid" : "problems found"}</span></h3>
    <p>
      <span id="report-rows">${r.rows} rows</span> ·
      <span id="report-tokens">${(r.total_tokens || 0).toLocaleString("en")} tokens</span> (${r.tokenizer}) ·
      longest row ${r.max_row_tokens} tokens · mean ${Math.round(r.mean_row_tokens || 0)}
    </p>
    <p class="muted">
      Schema errors: ${r.schema_error_count} · empty rows: ${r.empty_row_count} · over-long rows: ${r.over_long_row_count} ·
      duplicates: <span id="report-duplicates">${r.duplicate_count}</span>
    </p>
    ${issues("Schema errors", r.schema_errors, (x) => `line ${x.line}: ${x.message}`)}
    ${issues("Empty rows", r.empty_rows, (x) => `line ${x}`)}
    ${issues("Over-long rows", r.over_long_rows, (x) => `line ${x.line}: ${x.message}`)}
    ${issues("Duplicates", r.duplicates, (x) => `line ${x.line}: ${x.message}`)}
    ${r.label_balance && r.label_balance.length > 0 &&
    html`<div id="label-balance"><h4>Label balance</h4>
      <table><thead><tr><th>Label</th><th>Rows</th><th>Share</th></tr></thead>
        <tbody>${r.label_balance.map((l) => html`<tr><td>${l.label}</td><td>${l.count}</td><td>${Math.round(l.share * 1000) / 10} %</td></tr>`)}</tbody>
      </table></div>`}
    ${r.warnings && r.warnings.length > 0 && html`<ul class="muted" id="report-warnings">${r.warnings.map((w) => html`<li>${w}</li>`)}</ul>`}
  </section>`;
}

function Preview({ datasetId }) {
  const preview = useLoad(() => get(`/api/v1/fine-tuning/datasets/${datasetId}/preview?limit=10`), [datasetId]);
  if (!preview.data) return html`<${ErrorBox} error=${preview.error} />`;
  const p = preview.data;
  return html`<section id="dataset-preview" aria-label="Preview">
    <h3>First rows (${p.rows.length} of ${p.total_rows})</h3>
    <table>
      <thead><tr><th>Line</th>${p.kind === "chat" ? html`<th>Conversation</th>` : html`<th>Text</th><th>Label</th>`}</tr></thead>
      <tbody>
        ${p.rows.map((row) =>
          p.kind === "chat"
            ? html`<tr><td>${row.line}</td><td>${row.messages.map((m) => html`<div><strong>${m.role}:</strong> ${m.content}</div>`)}</td></tr>`
            : html`<tr><td>${row.line}</td><td>${row.text}</td><td>${row.label}</td></tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function DatasetPanel({ dataset, onChanged }) {
  const [busy, setBusy] = useState(false);
  const act = (fn) => async () => {
    setBusy(true);
    try {
      await fn();
      onChanged();
    } catch (err) {
      toastError(err);
    } finally {
      setBusy(false);
    }
  };
  const split = act(async () => {
    const r = await post(`/api/v1/fine-tuning/datasets/${dataset.id}/split`, { validation_share: 0.2, seed: 42 });
    toast(`Split: ${r.train.row_count} training and ${r.validation.row_count} validation rows`);
  });
  const convert = (format) =>
    act(async () => {
      await post(`/api/v1/fine-tuning/datasets/${dataset.id}/convert`, { format });
      toast(`Converted to ${format}`);
    });
  const remove = act(async () => {
    if (!confirm(`Delete the dataset ${dataset.name}?`)) return;
    await del(`/api/v1/fine-tuning/datasets/${dataset.id}`);
    toast("Dataset deleted");
  });
  return html`<div class="card" id="dataset-panel" data-dataset=${dataset.id}>
    <div class="row" style="justify-content:space-between">
      <h2>${dataset.name}</h2>
      <div class="row">
        <a class="button" href=${`/api/v1/fine-tuning/datasets/${dataset.id}/download`} download>Download</a>
        ${can("nlu.train") &&
        html`<button type="button" id="split-dataset" disabled=${busy} onClick=${split}>Split 80/20</button>
          ${["jsonl", "json", "csv"].filter((f) => f !== dataset.format).map((f) => html`<button type="button" disabled=${busy} onClick=${convert(f)}>As ${f.toUpperCase()}</button>`)}
          <button type="button" class="danger" disabled=${busy} onClick=${remove}>Delete</button>`}
      </div>
    </div>
    <${Report} dataset=${dataset} />
    <${Preview} datasetId=${dataset.id} />
  </div>`;
}

function UploadDataset({ model, onUploaded }) {
  const [format, setFormat] = useState("jsonl");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const upload = async (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    setError(null);
    setBusy(true);
    try {
      const q = new URLSearchParams({ format, file_name: file.name });
      const d = await api("POST", `/api/v1/fine-tuning/models/${model.id}/datasets?${q}`, new Blob([await file.arrayBuffer()], { type: "application/octet-stream" }));
      toast(`Uploaded ${d.name}`);
      onUploaded(d);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
      e.target.value = "";
    }
  };
  const fromBot = async () => {
    setError(null);
    try {
      const d = await post(`/api/v1/fine-tuning/models/${model.id}/datasets/from-bot`, { source: "nlu" });
      toast(`${d.row_count} examples taken from the bot`);
      onUploaded(d);
    } catch (err) {
      setError(err);
    }
  };
  return html`<div class="card" id="upload-dataset">
    <h2>Add a dataset</h2>
    <p class="muted">${model.kind === "nlu_intent"
      ? "Labelled texts: JSONL or JSON rows {\"text\", \"label\"}, or CSV with the columns text,label."
      : "Chat examples: JSONL or JSON rows {\"messages\": [{\"role\", \"content\"}…]}, or CSV with the columns system,user,assistant."}</p>
    <${ErrorBox} error=${error} />
    ${error && error.details && error.details.line && html`<p class="field-error" id="upload-error-line">Line ${error.details.line}</p>`}
    <div class="row">
      <label for="dataset-format">Format</label>
      <select id="dataset-format" value=${format} onChange=${(e) => setFormat(e.target.value)} style="width:auto">
        <option value="jsonl">JSONL</option><option value="json">JSON</option><option value="csv">CSV</option>
      </select>
      <label for="dataset-file" class="sr-only">Dataset file</label>
      <input id="dataset-file" type="file" accept=".jsonl,.json,.csv,.txt" disabled=${busy} onChange=${upload} />
      ${model.kind === "nlu_intent" && html`<button type="button" id="dataset-from-bot" onClick=${fromBot}>From the bot's NLU data</button>`}
    </div>
  </div>`;
}

function curveSpecs(points) {
  const series = (name, key) => ({ name, points: points.filter((p) => p[key] !== null && p[key] !== undefined).map((p) => ({ x: String(p.step), y: p[key] })) });
  return [
    { type: "line", title: "Loss", description: "Training and validation loss per step", series: [series("training", "train_loss"), series("validation", "valid_loss")], empty: "No metrics yet" },
    { type: "line", title: "Accuracy", description: "Token accuracy per step", series: [series("training", "train_accuracy"), series("validation", "valid_accuracy")], empty: "No metrics yet", format: (v) => `${Math.round(v * 1000) / 10} %` },
  ];
}

function JobPanel({ jobId, onFinished }) {
  const [tick, setTick] = useState(0);
  const job = useLoad(() => get(`/api/v1/fine-tuning/jobs/${jobId}`), [jobId, tick]);
  const curve = useLoad(() => get(`/api/v1/fine-tuning/jobs/${jobId}/metrics`), [jobId, tick]);
  const live = job.data && !FINISHED.includes(job.data.status);
  // Live curves: poll while the job runs.
  useEffect(() => {
    if (!live) return undefined;
    const t = setTimeout(() => setTick((n) => n + 1), 3000);
    return () => clearTimeout(t);
  }, [live, tick]);
  useEffect(() => {
    if (job.data && FINISHED.includes(job.data.status)) onFinished();
  }, [job.data && job.data.status]);
  if (!job.data) return html`<${ErrorBox} error=${job.error} />`;
  const j = job.data;
  const cancel = async () => {
    try {
      await post(`/api/v1/fine-tuning/jobs/${j.id}/cancel`);
      setTick((n) => n + 1);
    } catch (err) {
      toastError(err);
    }
  };
  return html`<div class="card" id="job-panel" data-job=${j.id}>
    <div class="row" style="justify-content:space-between">
      <h2>Job ${j.id}: <span class="badge" id="job-status">${j.status}</span></h2>
      ${live && can("nlu.train") && html`<button type="button" class="danger" onClick=${cancel}>Cancel</button>`}
    </div>
    ${j.error_message && html`<p class="field-error" id="job-error">${j.error_message}</p>`}
    ${j.result_model_id && html`<p>Tuned model: <code>${j.result_model_id}</code></p>`}
    <p class="muted">${j.epochs} epochs · ${j.trained_tokens.toLocaleString("en")} tokens trained
      ${j.estimated_cost_micros !== null && html` · estimated cost ${(j.estimated_cost_micros / 1e6).toFixed(2)}`}</p>
    <div class="grid">${curve.data && curveSpecs(curve.data).map((spec) => html`<section><h3>${spec.title}</h3><${Chart} spec=${spec} /></section>`)}</div>
    <details><summary>Events (${j.events.length})</summary>
      <ul>${j.events.slice(-50).map((e) => html`<li class=${e.level === "error" ? "field-error" : ""}>${e.message}</li>`)}</ul>
    </details>
  </div>`;
}

function StartJob({ model, datasets, onStarted }) {
  const ready = datasets.filter((d) => d.status === "ready");
  const [training, setTraining] = useState("");
  const [validation, setValidation] = useState("");
  const [epochs, setEpochs] = useState("3");
  const [estimate, setEstimate] = useState(null);
  const [error, setError] = useState(null);
  const body = () => ({
    training_dataset_id: Number(training),
    validation_dataset_id: validation ? Number(validation) : null,
    n_epochs: Number(epochs),
  });
  useEffect(() => {
    setEstimate(null);
    if (!training) return;
    post(`/api/v1/fine-tuning/models/${model.id}/estimate`, body()).then(setEstimate, setError);
  }, [training, epochs]);
  const start = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const job = await post(`/api/v1/fine-tuning/models/${model.id}/jobs`, body());
      toast("Job started");
      onStarted(job);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" id="start-job" onSubmit=${start}>
    <h2>Start a fine-tuning job</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div><label for="job-training">Training set</label>
        <select id="job-training" value=${training} onChange=${(e) => setTraining(e.target.value)}>
          <option value="">Choose…</option>${ready.map((d) => html`<option value=${d.id}>${d.name}</option>`)}
        </select></div>
      <div><label for="job-validation">Validation set (optional)</label>
        <select id="job-validation" value=${validation} onChange=${(e) => setValidation(e.target.value)}>
          <option value="">None</option>${ready.map((d) => html`<option value=${d.id}>${d.name}</option>`)}
        </select></div>
      <${Field} label="Epochs" name="n_epochs" type="number" value=${epochs} onInput=${setEpochs} error=${error} />
    </div>
    ${estimate &&
    html`<p id="job-estimate">${estimate.trained_tokens.toLocaleString("en")} tokens to train
      (${estimate.dataset_tokens.toLocaleString("en")} × ${estimate.n_epochs} epochs)
      ${estimate.estimated_cost_micros === null ? " · no training price configured for this model" : ` · about ${(estimate.estimated_cost_micros / 1e6).toFixed(2)}`}</p>`}
    <button class="primary" type="submit" disabled=${!training}>Start</button>
  </form>`;
}

function Versions({ model, reloadKey }) {
  const list = useLoad(() => get(`/api/v1/fine-tuning/models/${model.id}/versions?limit=100`), [model.id, reloadKey]);
  const [a, setA] = useState("");
  const [b, setB] = useState("");
  const [comparison, setComparison] = useState(null);
  const [error, setError] = useState(null);
  const act = (fn) => async () => {
    setError(null);
    try {
      await fn();
      list.reload();
    } catch (err) {
      setError(err);
    }
  };
  const compare = async () => {
    setError(null);
    setComparison(null);
    try {
      setComparison(await get(`/api/v1/model-versions/${a}/compare?with=${b}`));
    } catch (err) {
      setError(err);
    }
  };
  const items = (list.data && list.data.items) || [];
  const fmt = (v) => (v === null || v === undefined ? "—" : Math.round(v * 1000) / 1000);
  return html`<div class="card" id="versions">
    <div class="row" style="justify-content:space-between">
      <h2>Versions</h2>
      ${can("nlu.train") && items.length > 1 && html`<button type="button" id="rollback" onClick=${act(() => post(`/api/v1/fine-tuning/models/${model.id}/rollback`))}>Roll back</button>`}
    </div>
    <${ErrorBox} error=${error} />
    <table>
      <thead><tr><th>Version</th><th>Model</th><th>Score</th><th>State</th><th>Created</th><th></th></tr></thead>
      <tbody>
        ${items.map(
          (v) => html`<tr data-version=${v.id}>
            <td>v${v.version_number}</td>
            <td class="muted">${v.remote_model_id || v.description || ""}</td>
            <td>${fmt(v.performance_score)}</td>
            <td>${v.is_active && html`<span class="badge ok">active</span>`} ${v.is_production && html`<span class="badge">production</span>`}</td>
            <td class="muted">${formatDate(v.created_at)}</td>
            <td class="row">${can("nlu.train") &&
            html`${!v.is_active && html`<button type="button" data-activate=${v.id} onClick=${act(() => post(`/api/v1/model-versions/${v.id}/activate`))}>Activate</button>`}
              ${!v.is_production && html`<button type="button" onClick=${act(() => post(`/api/v1/model-versions/${v.id}/production`))}>Set production</button>`}`}</td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="6" />
        ${list.data && !items.length && html`<tr><td colspan="6" class="muted">No version yet.</td></tr>`}
      </tbody>
    </table>
    ${items.length > 1 &&
    html`<div class="row" id="compare-form">
      <label for="compare-a">Compare</label>
      <select id="compare-a" value=${a} onChange=${(e) => setA(e.target.value)} style="width:auto"><option value="">Version…</option>${items.map((v) => html`<option value=${v.id}>v${v.version_number}</option>`)}</select>
      <label for="compare-b">with</label>
      <select id="compare-b" value=${b} onChange=${(e) => setB(e.target.value)} style="width:auto"><option value="">Version…</option>${items.map((v) => html`<option value=${v.id}>v${v.version_number}</option>`)}</select>
      <button type="button" id="compare-versions" disabled=${!a || !b || a === b} onClick=${compare}>Compare</button>
    </div>`}
    ${comparison &&
    html`<section id="comparison" aria-label="Comparison">
      <h3>v${comparison.a.version_number} → v${comparison.b.version_number}</h3>
      ${comparison.micro_f1_a !== null && html`<p id="comparison-f1">Micro F1 ${fmt(comparison.micro_f1_a)} → ${fmt(comparison.micro_f1_b)} (on ${comparison.evaluated_on === "dataset" ? "the dataset" : "the bot's examples"})</p>`}
      ${comparison.per_intent.length > 0 &&
      html`<table id="per-intent"><thead><tr><th>Intent</th><th>Support</th><th>Precision</th><th>Recall</th><th>F1</th><th>Δ F1</th></tr></thead>
        <tbody>${comparison.per_intent.map(
          (r) => html`<tr data-intent=${r.intent}><td>${r.intent}</td><td>${r.support}</td><td>${fmt(r.precision_a)} → ${fmt(r.precision_b)}</td><td>${fmt(r.recall_a)} → ${fmt(r.recall_b)}</td><td>${fmt(r.f1_a)} → ${fmt(r.f1_b)}</td><td data-delta>${r.f1_delta > 0 ? "+" : ""}${fmt(r.f1_delta)}</td></tr>`,
        )}</tbody></table>`}
      <details><summary>Metrics side by side</summary>
        <table><thead><tr><th>Metric</th><th>A</th><th>B</th><th>Δ</th></tr></thead>
          <tbody>${comparison.metrics.map((m) => html`<tr><td>${m.name}</td><td>${fmt(m.a)}</td><td>${fmt(m.b)}</td><td>${fmt(m.delta)}</td></tr>`)}</tbody></table>
      </details>
    </section>`}
  </div>`;
}

function ModelPage({ params }) {
  const id = params.modelId;
  const [tick, setTick] = useState(0);
  const model = useLoad(() => get(`/api/v1/fine-tuning/models/${id}`), [id, tick]);
  const datasets = useLoad(() => get(`/api/v1/fine-tuning/models/${id}/datasets?limit=200`), [id, tick]);
  const jobs = useLoad(() => get(`/api/v1/fine-tuning/models/${id}/jobs?limit=50`), [id, tick]);
  const [selected, setSelected] = useState(null);
  const [job, setJob] = useState(null);
  const reload = () => setTick((n) => n + 1);
  if (!model.data) return html`<${Page} title="Fine-tuning"><${ErrorBox} error=${model.error} /><//>`;
  const m = model.data;
  const items = (datasets.data && datasets.data.items) || [];
  const current = items.find((d) => d.id === selected);
  return html`<${Page} title=${`Fine-tuning · ${m.name}`}>
    <p class="muted">${m.kind === "nlu_intent" ? "The intent classifier of a bot" : `${m.base_model}, tuned through the provider's fine-tuning API`}
      · status <span class="badge" id="model-status">${m.status}</span>${m.model_id ? html` · agents call <code>${m.model_id}</code>` : ""}</p>
    ${can("nlu.train") && html`<${UploadDataset} model=${m} onUploaded=${(d) => (setSelected(d.id), reload())} />`}
    <div class="card">
      <h2>Datasets</h2>
      <table id="datasets">
        <thead><tr><th>Name</th><th>Source</th><th>Format</th><th>Rows</th><th>Tokens</th><th>Status</th><th>Created</th></tr></thead>
        <tbody>
          ${items.map(
            (d) => html`<tr data-dataset-row=${d.id} class=${d.id === selected ? "selected" : ""}>
              <td><button type="button" class="link" onClick=${() => setSelected(d.id)}>${d.name}</button></td>
              <td>${d.source}</td><td>${d.format}</td><td>${d.row_count}</td><td>${d.token_count.toLocaleString("en")}</td>
              <td><span class=${`badge ${d.status === "ready" ? "ok" : "warn"}`}>${d.status}</span></td>
              <td class="muted">${formatDate(d.created_at)}</td>
            </tr>`,
          )}
          <${Loading} load=${datasets} cols="7" />
          ${datasets.data && !items.length && html`<tr><td colspan="7" class="muted">No dataset yet.</td></tr>`}
        </tbody>
      </table>
    </div>
    ${current && html`<${DatasetPanel} dataset=${current} onChanged=${reload} />`}
    ${m.kind === "llm_finetune" && can("nlu.train") && html`<${StartJob} model=${m} datasets=${items} onStarted=${(j) => (setJob(j.id), reload())} />`}
    ${m.kind === "llm_finetune" &&
    html`<div class="card"><h2>Jobs</h2>
      <table id="jobs"><thead><tr><th>Job</th><th>Status</th><th>Tuned model</th><th>Created</th></tr></thead>
        <tbody>${jobs.data && jobs.data.items.map(
          (j) => html`<tr data-job-row=${j.id}><td><button type="button" class="link" onClick=${() => setJob(j.id)}>Job ${j.id}</button></td>
            <td><span class="badge">${j.status}</span></td><td class="muted">${j.result_model_id || "—"}</td><td class="muted">${formatDate(j.created_at)}</td></tr>`,
        )}</tbody></table></div>`}
    ${job && html`<${JobPanel} jobId=${job} onFinished=${() => jobs.reload()} />`}
    <${Versions} model=${m} reloadKey=${tick} />
  <//>`;
}

route("/fine-tuning", Models, { nav: { label: "Fine-tuning", section: "Build", order: 24, requires: "bots.read" } });
route("/fine-tuning/:modelId", ModelPage);
