// A bot's A/B experiments: a setup form (what varies, the variants and
// their traffic shares, the goal, the design with its minimum sample size
// computed live by the server), the list of tests, and per test its
// variants, start / stop / cancel, live results with always-valid intervals
// and a chart, and declaring the winner.
import { html, Page, useLoad, useState, useEffect, ErrorBox, FieldError, toast, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, del } from "../api.js";
import { can } from "../session.js";
import { Chart } from "../charts.js";
import { BotNav, useBot, BotMissing } from "./botnav.js";

const KINDS = [
  ["flow", "Flow versions"],
  ["nlu_model", "NLU model versions"],
  ["agent", "Agent configurations"],
  ["knowledge", "Knowledge answer settings"],
];
const GOALS = [
  ["resolution", "Resolved without hand-off"],
  ["csat", "CSAT of 4 or 5"],
  ["goal_node", "Goal node reached"],
  ["conversion", "Conversion event"],
  ["feedback", "Thumbs up on answers"],
];
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)} %`);
const signedPct = (v) => `${v >= 0 ? "+" : ""}${(v * 100).toFixed(1)} pp`;

const blankVariant = (i) => ({ name: i === 0 ? "Control" : `Variant ${String.fromCharCode(65 + i)}`, share: 50, ref: "", settings: "" });

/** The request body of the form's state. */
function requestOf(f) {
  const body = {
    name: f.name,
    kind: f.kind,
    goal_metric: f.goal,
    baseline_rate: Number(f.baseline),
    minimum_effect: Number(f.effect),
    alpha: Number(f.alpha),
    power: Number(f.power),
    auto_stop: f.autoStop,
    unit: f.unit,
    variants: f.variants.map((v) => {
      const out = { name: v.name, share: Number(v.share) };
      if (f.kind === "flow") out.flow_version = v.ref === "" ? null : Number(v.ref);
      if (f.kind === "nlu_model") out.model_version_id = v.ref === "" ? null : Number(v.ref);
      if (f.kind === "agent" || f.kind === "knowledge") {
        let settings = {};
        try {
          settings = v.settings.trim() ? JSON.parse(v.settings) : {};
        } catch {
          settings = { invalid: v.settings };
        }
        out[f.kind] = settings;
      }
      return out;
    }),
  };
  if (f.kind === "flow") body.flow_name = f.flow;
  if (f.kind === "agent") body.agent_id = f.agent === "" ? null : Number(f.agent);
  if (f.goal === "goal_node") Object.assign(body, { goal_flow: f.goalFlow, goal_node: f.goalNode });
  if (f.goal === "conversion") body.goal_event = f.goalEvent;
  return body;
}

function SetupForm({ botId, onCreated }) {
  const flows = useLoad(() => get(`/api/v1/bots/${botId}/flows`), [botId]);
  const [f, setF] = useState({
    name: "", kind: "flow", flow: "main", agent: "", unit: "conversation", goal: "resolution", goalFlow: "", goalNode: "", goalEvent: "",
    baseline: "0.3", effect: "0.05", alpha: "0.05", power: "0.8", autoStop: false, variants: [blankVariant(0), blankVariant(1)],
  });
  const [size, setSize] = useState(null);
  const [sizeError, setSizeError] = useState(null);
  const [error, setError] = useState(null);
  const set = (patch) => setF({ ...f, ...patch });
  const setVariant = (i, patch) => set({ variants: f.variants.map((v, k) => (k === i ? { ...v, ...patch } : v)) });
  const shareSum = f.variants.reduce((s, v) => s + Number(v.share || 0), 0);
  // The minimum sample size, asked of the server as the design changes.
  useEffect(() => {
    let alive = true;
    const t = setTimeout(async () => {
      try {
        const r = await post(`/api/v1/bots/${botId}/experiments/sample-size`, {
          baseline_rate: Number(f.baseline), minimum_effect: Number(f.effect), alpha: Number(f.alpha), power: Number(f.power),
          shares: f.variants.map((v) => Number(v.share)),
        });
        if (alive) (setSize(r), setSizeError(null));
      } catch (e) {
        if (alive) (setSize(null), setSizeError(e));
      }
    }, 250);
    return () => ((alive = false), clearTimeout(t));
  }, [f.baseline, f.effect, f.alpha, f.power, f.variants.map((v) => v.share).join(",")]);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const created = await post(`/api/v1/bots/${botId}/experiments`, requestOf(f));
      toast(`Experiment “${created.name}” created`);
      onCreated(created);
    } catch (err) {
      setError(err);
    }
  };
  const refLabel = f.kind === "flow" ? "Flow version" : "Model version id";
  return html`<form class="card" id="experiment-form" onSubmit=${submit}>
    <h2>New experiment</h2>
    <div class="row">
      <label>Name <input id="experiment-name" value=${f.name} onInput=${(e) => set({ name: e.target.value })} required /></label>
      <label>What varies <select id="experiment-kind" value=${f.kind} onChange=${(e) => set({ kind: e.target.value })}>
        ${KINDS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></label>
      ${f.kind === "flow" && html`<label>Flow <select id="experiment-flow" value=${f.flow} onChange=${(e) => set({ flow: e.target.value })}>
        ${(flows.data || [{ name: "main" }]).map((fl) => html`<option value=${fl.name}>${fl.name}</option>`)}</select></label>`}
      ${f.kind === "agent" && html`<label>Agent id <input id="experiment-agent" type="number" value=${f.agent} onInput=${(e) => set({ agent: e.target.value })} /></label>`}
      <label>Unit <select id="experiment-unit" value=${f.unit} onChange=${(e) => set({ unit: e.target.value })}>
        <option value="conversation">each conversation</option><option value="contact">each contact</option></select></label>
    </div>
    <${FieldError} error=${error} name="flow_name" /><${FieldError} error=${error} name="agent_id" />
    <fieldset><legend>Variants (the first is the control)</legend>
      <table class="experiment-variants"><thead><tr><th>Name</th><th>Share %</th><th>${f.kind === "flow" || f.kind === "nlu_model" ? refLabel : "Settings (JSON)"}</th><th></th></tr></thead>
        <tbody>${f.variants.map((v, i) => html`<tr data-variant=${i}>
          <td><input aria-label=${`Variant ${i + 1} name`} class="variant-name" value=${v.name} onInput=${(e) => setVariant(i, { name: e.target.value })} /></td>
          <td><input aria-label=${`Variant ${i + 1} share`} class="variant-share" type="number" min="1" max="99" value=${v.share} onInput=${(e) => setVariant(i, { share: e.target.value })} /></td>
          <td>${f.kind === "flow" || f.kind === "nlu_model"
            ? html`<input aria-label=${`Variant ${i + 1} ${refLabel}`} class="variant-ref" type="number" value=${v.ref} onInput=${(e) => setVariant(i, { ref: e.target.value })} />`
            : html`<input aria-label=${`Variant ${i + 1} settings`} class="variant-settings" placeholder=${f.kind === "agent" ? '{"model": "gpt-4o-mini"}' : '{"min_score": 0.4}'} value=${v.settings} onInput=${(e) => setVariant(i, { settings: e.target.value })} />`}
            <${FieldError} error=${error} name=${`variants[${i}]`} /></td>
          <td>${f.variants.length > 2 && html`<button type="button" onClick=${() => set({ variants: f.variants.filter((_, k) => k !== i) })}>Remove</button>`}</td>
        </tr>`)}</tbody></table>
      <div class="row">
        <button type="button" id="add-variant" disabled=${f.variants.length >= 10} onClick=${() => set({ variants: [...f.variants, blankVariant(f.variants.length)] })}>Add variant</button>
        <span id="share-sum" class=${shareSum === 100 ? "muted" : "bad"}>Shares add to ${shareSum} %${shareSum === 100 ? "" : " (must be 100)"}</span>
      </div>
      <${FieldError} error=${error} name="variants" />
    </fieldset>
    <div class="row">
      <label>Goal <select id="experiment-goal" value=${f.goal} onChange=${(e) => set({ goal: e.target.value })}>
        ${GOALS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></label>
      ${f.goal === "goal_node" && html`<label>Goal flow <input id="goal-flow" value=${f.goalFlow} onInput=${(e) => set({ goalFlow: e.target.value })} /></label>
        <label>Goal node <input id="goal-node" value=${f.goalNode} onInput=${(e) => set({ goalNode: e.target.value })} /></label>`}
      ${f.goal === "conversion" && html`<label>Event <input id="goal-event" value=${f.goalEvent} onInput=${(e) => set({ goalEvent: e.target.value })} /></label>`}
    </div>
    <div class="row">
      <label>Baseline rate <input id="baseline-rate" type="number" step="0.01" min="0" max="1" value=${f.baseline} onInput=${(e) => set({ baseline: e.target.value })} /></label>
      <label>Minimum detectable effect <input id="minimum-effect" type="number" step="0.01" min="0" max="1" value=${f.effect} onInput=${(e) => set({ effect: e.target.value })} /></label>
      <label>Alpha <input id="alpha" type="number" step="0.01" value=${f.alpha} onInput=${(e) => set({ alpha: e.target.value })} /></label>
      <label>Power <input id="power" type="number" step="0.05" value=${f.power} onInput=${(e) => set({ power: e.target.value })} /></label>
      <label><input type="checkbox" id="auto-stop" checked=${f.autoStop} onChange=${(e) => set({ autoStop: e.target.checked })} /> Stop and promote the winner automatically</label>
    </div>
    ${["baseline_rate", "minimum_effect", "alpha", "power", "goal_flow", "goal_node", "goal_event"].map((n) => html`<${FieldError} error=${error} name=${n} />`)}
    <p id="sample-size" role="status">${size
      ? html`Minimum sample size: <strong>${size.per_variant.toLocaleString()}</strong> units per variant, <strong>${size.total.toLocaleString()}</strong> in total.`
      : sizeError ? html`<span class="bad">${sizeError.message}</span>` : "…"}</p>
    <${ErrorBox} error=${error} />
    <button type="submit" class="primary" id="create-experiment">Create experiment</button>
  </form>`;
}

function Results({ experiment }) {
  const [tick, setTick] = useState(0);
  const results = useLoad(() => get(`/api/v1/experiments/${experiment.id}/results`), [experiment.id, experiment.updated_at, tick]);
  useEffect(() => {
    if (experiment.status !== "running") return undefined;
    const t = setInterval(() => setTick((k) => k + 1), 5000);
    return () => clearInterval(t);
  }, [experiment.id, experiment.status]);
  const r = results.data;
  if (!r) return html`<${Loading} load=${results} /><${ErrorBox} error=${results.error} />`;
  const spec = {
    type: "bar",
    title: "Success rate by variant",
    categories: r.variants.map((v) => v.name),
    series: [
      { name: "Rate", values: r.variants.map((v) => v.rate) },
      { name: "Interval low", values: r.variants.map((v) => v.interval.low) },
      { name: "Interval high", values: r.variants.map((v) => v.interval.high) },
    ],
    format: (v) => pct(v),
    empty: "No units yet",
  };
  const nameOf = (id) => (r.variants.find((v) => v.variant_id === id) || {}).name;
  return html`<div class="experiment-results" data-progress=${r.progress}>
    <table id="results-table"><thead><tr><th>Variant</th><th>Units</th><th>Trials</th><th>Successes</th><th>Rate</th><th>Interval (always valid)</th>${r.goal_metric === "csat" && html`<th>Mean rating</th>`}</tr></thead>
      <tbody>${r.variants.map((v) => html`<tr data-variant-id=${v.variant_id}>
        <td>${v.name}${r.leader_variant_id === v.variant_id && html` <span class="badge ok">leading</span>`}</td><td class="units">${v.units}</td><td>${v.trials}</td><td class="successes">${v.successes}</td>
        <td>${pct(v.rate)}</td><td>${pct(v.interval.low)} – ${pct(v.interval.high)}</td>${r.goal_metric === "csat" && html`<td>${v.mean_value === null ? "—" : v.mean_value.toFixed(2)}</td>`}</tr>`)}</tbody></table>
    <table id="comparisons"><thead><tr><th>Against the control</th><th>Difference</th><th>Interval</th><th>p-value</th><th></th></tr></thead>
      <tbody>${r.comparisons.map((c) => html`<tr><td>${nameOf(c.variant_id)}</td><td>${signedPct(c.difference)}</td><td>${signedPct(c.interval.low)} to ${signedPct(c.interval.high)}</td>
        <td>${c.p_value < 0.0001 ? "< 0.0001" : c.p_value.toFixed(4)}</td><td>${c.significant ? html`<span class="badge ok">significant</span>` : html`<span class="muted">not yet</span>`}</td></tr>`)}</tbody></table>
    <p class="muted">Sequential test (mSPRT) at alpha ${r.alpha} (${r.alpha_per_comparison.toFixed(4)} per comparison): the p-values and intervals stay valid however often you look. Progress ${Math.round(r.progress * 100)} % of the minimum sample size (${r.sample_size.total.toLocaleString()} units).</p>
    <${Chart} spec=${spec} />
  </div>`;
}

function ExperimentCard({ experiment, onChanged }) {
  const [error, setError] = useState(null);
  const act = async (verb, body) => {
    setError(null);
    try {
      const e = await post(`/api/v1/experiments/${experiment.id}/${verb}`, body);
      toast(`Experiment ${e.status}`);
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const remove = async () => {
    if (!confirm(`Delete the experiment “${experiment.name}” and its results?`)) return;
    try {
      await del(`/api/v1/experiments/${experiment.id}`);
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const e = experiment;
  const live = e.status === "running" || e.status === "stopped";
  const winner = e.variants.find((v) => v.id === e.winner_variant_id);
  return html`<section class="card experiment" data-experiment=${e.name} data-status=${e.status}>
    <div class="row" style="justify-content:space-between">
      <h2>${e.name} <span class=${"badge " + (e.status === "running" ? "ok" : "")} id=${`status-${e.id}`}>${e.status}</span></h2>
      ${can("flows.publish") && html`<div class="row">
        ${(e.status === "draft" || e.status === "stopped") && html`<button type="button" class="primary start-experiment" onClick=${() => act("start")}>Start</button>`}
        ${e.status === "running" && html`<button type="button" class="stop-experiment" onClick=${() => act("stop")}>Stop</button>`}
        ${(e.status === "draft" || live) && html`<button type="button" class="cancel-experiment" onClick=${() => act("cancel")}>Cancel</button>`}
      </div>`}
      ${can("bots.write") && e.status !== "running" && html`<button type="button" class="danger delete-experiment" onClick=${remove}>Delete</button>`}
    </div>
    <p class="muted">${KINDS.find(([k]) => k === e.kind)[1]}${e.flow_name ? ` of flow “${e.flow_name}”` : ""}${e.agent_id ? ` of agent ${e.agent_id}` : ""} ·
      goal: ${GOALS.find(([g]) => g === e.goal_metric)[1]}${e.goal_event ? ` “${e.goal_event}”` : ""}${e.goal_node ? ` ${e.goal_flow}/${e.goal_node}` : ""} ·
      per ${e.unit} · ${e.total_units} units · minimum ${e.sample_size.total.toLocaleString()}
      ${e.started_at ? ` · started ${formatDate(e.started_at)}` : ""}${e.auto_stop ? " · auto-stop on" : ""}</p>
    ${winner && html`<p class="winner">Winner: <strong>${winner.name}</strong> (${e.decided_by === "auto" ? "decided by the test" : "declared by hand"}${e.promoted ? ", promoted" : ""}).</p>`}
    <ul class="plain">${e.variants.map((v) => html`<li data-variant-id=${v.id}>
      <strong>${v.name}</strong> ${v.share} %${v.is_control ? " (control)" : ""}
      ${v.flow_version !== null && html` · version ${v.flow_version}`}${v.model_version_id !== null && html` · model version ${v.model_version_id}`}
      ${v.agent && html` · <code>${JSON.stringify(v.agent)}</code>`}${v.knowledge && html` · <code>${JSON.stringify(v.knowledge)}</code>`}
      ${v.missing && html` <span class="badge bad">deleted</span>`}
      ${live && can("flows.publish") && html` <button type="button" class="declare-winner" data-variant=${v.name} onClick=${() => {
        if (confirm(`Declare “${v.name}” the winner and make it live?`)) act("declare", { variant_id: v.id, promote: true });
      }}>Declare winner</button>`}
    </li>`)}</ul>
    <${ErrorBox} error=${error} />
    ${e.status !== "draft" && html`<${Results} experiment=${e} />`}
  </section>`;
}

function Experiments({ params }) {
  const { botId } = params;
  const bot = useBot(botId);
  const [reload, setReload] = useState(0);
  const [creating, setCreating] = useState(false);
  const list = useLoad(() => get(`/api/v1/bots/${botId}/experiments`), [botId, reload]);
  if (bot.error) return html`<${BotMissing} error=${bot.error} />`;
  const items = list.data || [];
  return html`<${Page} title=${`Experiments · ${bot.data ? bot.data.name : ""}`}
    actions=${can("bots.write") && html`<button type="button" class="primary" id="new-experiment" onClick=${() => setCreating(!creating)}>${creating ? "Close the form" : "New experiment"}</button>`}>
    <${BotNav} botId=${botId} active="experiments" />
    ${creating && html`<${SetupForm} botId=${botId} onCreated=${() => (setCreating(false), setReload((k) => k + 1))} />`}
    <${ErrorBox} error=${list.error} />
    <${Loading} load=${list} />
    ${list.data && !items.length && html`<div class="card muted" id="no-experiments">No experiments yet. Compare flow versions, NLU models, agent configurations or knowledge settings on live traffic.</div>`}
    ${items.map((e) => html`<${ExperimentCard} key=${e.id} experiment=${e} onChanged=${() => setReload((k) => k + 1)} />`)}
  <//>`;
}

route("/bots/:botId/experiments", Experiments);
