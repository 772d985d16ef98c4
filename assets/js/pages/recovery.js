// Revenue recovery: campaigns with their figures, the campaign builder
// (trigger, audience, send window, quiet hours, steps timeline, message
// editor with a live preview per channel and a test send), the events log
// the daily analytics (cost, ROI, A/B results per variant) with CSV export,
// and customer health: the at-risk list with reasons and a detail view with
// every signal's weight and the score history.
import { html, Page, useLoad, useState, ErrorBox, Field, FieldError, toast, toastError, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post, put, del } from "../api.js";
import { currentOrg } from "../session.js";
import { t } from "../i18n.js";

const TRIGGERS = () => ([
  ["abandoned_cart", t("recovery.abandoned_cart")],
  ["failed_payment", t("recovery.failed_payment")],
  ["churn_risk", t("recovery.churn_risk")],
  ["inactivity", t("recovery.inactivity")],
  ["win_back", t("recovery.win_back")],
  ["custom", t("recovery.custom_event")],
]);
const CHANNELS = ["email", "whatsapp", "sms", "telegram"];
const FIELDS = {
  common: ["customer.first_name", "customer.name", "customer.email", "campaign.name", "unsubscribe_url"],
  abandoned_cart: ["cart.items", "cart.total", "amount", "checkout_url"],
  failed_payment: ["amount", "invoice_id", "payment_url"],
  custom: ["amount", "cart.items", "checkout_url", "payment_url", "data.…"],
  churn_risk: ["data.reasons", "data.health_score"],
  inactivity: ["data.signal", "data.days_inactive"],
  win_back: ["data.…"],
};
const SAMPLE = {
  "customer.first_name": "Ann", "customer.name": "Ann Lee", "customer.email": "ann@example.com", "customer.id": "cus_sample",
  "cart.items": "2 × Blue shirt, 1 × Socks", "cart.total": "59.98 EUR", amount: "59.98 EUR", currency: "EUR",
  checkout_url: "https://shop.example/checkout/sample", payment_url: "https://billing.example/pay/sample",
  invoice_id: "in_sample", unsubscribe_url: "https://…/unsubscribe", "campaign.name": "",
};

const money = (minor, currency) => `${(minor / 100).toFixed(2)} ${currency || ""}`.trim();
const pct = (v) => (v == null ? "–" : `${v.toFixed(1)} %`);

/** The text as the recipient would read it, with sample data. */
function preview(text, name) {
  return (text || "").replace(/\{\{\s*([^{}]*?)\s*\}\}/g, (_, key) => (key === "campaign.name" ? name : SAMPLE[key] ?? `{{${key}}}`));
}

function newStep(n) {
  return { delay_minutes: n === 0 ? 60 : 1440 * n, channel: "email", body: "", subject: "" };
}

function StepEditor({ step, index, trigger, name, error, onChange, onRemove }) {
  const set = (k, v) => onChange({ ...step, [k]: v });
  const f = (k) => `steps[${index}].${k}`;
  const known = [...FIELDS.common, ...(FIELDS[trigger] || [])];
  return html`<li class="card step" data-step=${index}>
    <h3>${t("common.step")} ${index + 1}${t("recovery.after")} ${step.delay_minutes >= 1440 ? `${(step.delay_minutes / 1440).toFixed(1)} days` : `${step.delay_minutes} min`}</h3>
    <div class="grid">
      <div><label for=${f("delay_minutes")}>${t("recovery.delay_after_the_event_minutes")}</label>
        <input id=${f("delay_minutes")} type="number" min="0" value=${step.delay_minutes} onInput=${(e) => set("delay_minutes", Number(e.target.value))} />
        <${FieldError} error=${error} name=${f("delay_minutes")} /></div>
      <div><label for=${f("channel")}>${t("common.channel")}</label>
        <select id=${f("channel")} value=${step.channel} onChange=${(e) => set("channel", e.target.value)}>
          ${CHANNELS.map((c) => html`<option value=${c}>${c}</option>`)}</select>
        <${FieldError} error=${error} name=${f("channel")} /></div>
      <div><label for=${f("fallback_channel")}>${t("recovery.fallback_when_the_customer_has", { channel: step.channel })}</label>
        <select id=${f("fallback_channel")} value=${step.fallback_channel || ""} onChange=${(e) => set("fallback_channel", e.target.value || null)}>
          <option value="">${t("common.none")}</option>${CHANNELS.filter((c) => c !== step.channel && c !== "whatsapp").map((c) => html`<option value=${c}>${c}</option>`)}</select>
        <${FieldError} error=${error} name=${f("fallback_channel")} /></div>
    </div>
    ${step.channel === "email" && html`<${Field} label=${t("recovery.subject")} name=${f("subject")} value=${step.subject || ""} onInput=${(v) => set("subject", v)} error=${error} />`}
    ${step.channel === "whatsapp" && html`<div class="grid">
      <${Field} label=${t("recovery.approved_template_id")} name=${f("template_id")} type="number" value=${step.template_id || ""} onInput=${(v) => set("template_id", v ? Number(v) : null)} error=${error} />
      <${Field} label=${t("recovery.template_values_one_per_line")} name=${f("template_variables")} value=${(step.template_variables || []).join(" | ")}
        onInput=${(v) => set("template_variables", v.split("|").map((s) => s.trim()).filter(Boolean))} error=${error} />
    </div>`}
    <div><label for=${f("body")}>${t("common.message")}${step.channel === "whatsapp" ? " " + t("recovery.for_the_fallback_channel") : ""}</label>
      <textarea id=${f("body")} rows="4" value=${step.body} onInput=${(e) => set("body", e.target.value)}></textarea>
      <${FieldError} error=${error} name=${f("body")} />
      <p class="muted small">${t("recovery.fields")} ${known.map((k) => html`<code>{{${k}}}</code> `)}</p></div>
    <div class="preview" aria-label=${t("recovery.preview_of_step", { value: index + 1 })}>
      <strong>${t("recovery.preview", { channel: step.channel })}${(step.variants || []).length ? " " + t("recovery.variant_a") : ""}</strong>
      ${step.channel === "email" && html`<div><em>${preview(step.subject || name, name)}</em></div>`}
      <pre>${step.channel === "whatsapp" ? (step.template_variables || []).map((v) => preview(v, name)).join(" | ") : preview(step.body, name)}</pre>
    </div>
    ${step.channel !== "whatsapp" && html`<fieldset class="variants"><legend>${t("recovery.a_b_variants_each_customer")}</legend>
      ${(step.variants || []).map((v, j) => {
        const vf = `steps[${index}].variants[${j}].body`;
        const label = String.fromCharCode(66 + j);
        return html`<div class="variant" data-variant=${label}>
          <label for=${vf}>${t("recovery.variant", { label })}</label>
          <textarea id=${vf} rows="3" value=${v.body} onInput=${(e) => set("variants", step.variants.map((x, k) => (k === j ? { ...x, body: e.target.value } : x)))}></textarea>
          <${FieldError} error=${error} name=${vf} />
          <div class="preview" aria-label=${t("recovery.preview_of_step_variant", { value: index + 1, label })}><pre>${preview(v.body, name)}</pre></div>
          <button type="button" class="danger" onClick=${() => set("variants", step.variants.filter((_, k) => k !== j))}>${t("recovery.remove_variant", { label })}</button>
        </div>`;
      })}
      ${(step.variants || []).length < 4 && html`<button type="button" class="add-variant" onClick=${() => set("variants", [...(step.variants || []), { body: step.body }])}>${t("recovery.add_variant")}</button>`}
      <${FieldError} error=${error} name=${f("variants")} />
    </fieldset>
    <label class="check"><input type="checkbox" style="width:auto" id=${f("rewrite")} checked=${!!step.rewrite} onChange=${(e) => set("rewrite", e.target.checked)} />
      ${t("recovery.rewrite_with_the_organization_s")}</label>`}
    <button type="button" class="danger" onClick=${onRemove}>${t("recovery.remove_step")}</button>
  </li>`;
}

function Builder({ org, campaign, onSaved, onCancel }) {
  const [c, setC] = useState(
    campaign || { name: "", trigger: "abandoned_cart", status: "draft", timezone: "UTC", steps: [newStep(0)], send_window: { start: "09:00", end: "20:00" }, quiet_hours: null, audience: {} },
  );
  const [error, setError] = useState(null);
  const [testTo, setTestTo] = useState("");
  const set = (k, v) => setC({ ...c, [k]: v });
  const body = () => {
    const b = { name: c.name, trigger: c.trigger, status: c.status, timezone: c.timezone, steps: c.steps.map((s) => ({ ...s, subject: s.subject || null })),
      send_window: c.send_window, quiet_hours: c.quiet_hours, audience: c.audience || {}, description: c.description || null };
    if (c.trigger === "custom") b.custom_event = c.custom_event;
    if (c.max_messages_per_day) b.max_messages_per_day = c.max_messages_per_day;
    return b;
  };
  const save = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const saved = campaign ? await put(`/api/v1/recovery-campaigns/${campaign.id}`, body()) : await post(`/api/v1/orgs/${org.id}/recovery/campaigns`, body());
      toast(t("recovery.campaign_saved", { name: saved.name }));
      onSaved(saved);
    } catch (err) {
      setError(err);
    }
  };
  const testSend = async (step) => {
    try {
      const r = await post(`/api/v1/recovery-campaigns/${campaign.id}/test`, { step, to: testTo || null });
      toast(testTo ? t("recovery.test_of_step_queued", { step: step + 1, to: testTo }) : t("recovery.preview_text", { text: r.text }));
    } catch (err) {
      toastError(err);
    }
  };
  const range = (k, label) => html`<fieldset><legend>${label}</legend>
    <label class="check"><input type="checkbox" style="width:auto" checked=${!!c[k]} onChange=${(e) => set(k, e.target.checked ? { start: k === "quiet_hours" ? "21:00" : "09:00", end: k === "quiet_hours" ? "08:00" : "20:00" } : null)} /> ${t("common.on")}</label>
    ${c[k] && html`<div class="row">
      <input aria-label=${t("recovery.window_start", { label })} id=${`${k}.start`} value=${c[k].start} onInput=${(e) => set(k, { ...c[k], start: e.target.value })} />
      <input aria-label=${t("recovery.window_end", { label })} id=${`${k}.end`} value=${c[k].end} onInput=${(e) => set(k, { ...c[k], end: e.target.value })} /></div>`}
    <${FieldError} error=${error} name=${k} /><${FieldError} error=${error} name=${`${k}.start`} /><${FieldError} error=${error} name=${`${k}.end`} />
  </fieldset>`;
  return html`<form class="card" id="campaign-builder" onSubmit=${save}>
    <h2>${campaign ? t("recovery.edit", { name: campaign.name }) : t("recovery.new_campaign")}</h2>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Field} label=${t("common.name")} name="name" required value=${c.name} onInput=${(v) => set("name", v)} error=${error} />
      <div><label for="trigger">${t("common.trigger")}</label>
        <select id="trigger" value=${c.trigger} onChange=${(e) => set("trigger", e.target.value)}>${TRIGGERS().map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
        <${FieldError} error=${error} name="trigger" /></div>
      ${c.trigger === "custom" && html`<${Field} label=${t("recovery.event_name")} name="custom_event" value=${c.custom_event || ""} onInput=${(v) => set("custom_event", v)} error=${error} />`}
      <div><label for="status">${t("common.status")}</label>
        <select id="status" value=${c.status} onChange=${(e) => set("status", e.target.value)}>${["draft", "active", "paused", "archived"].map((s) => html`<option value=${s}>${s}</option>`)}</select></div>
      <${Field} label=${t("recovery.default_timezone_of_recipients")} name="timezone" value=${c.timezone} onInput=${(v) => set("timezone", v)} error=${error} />
      <${Field} label=${t("recovery.at_most_messages_per_customer")} name="max_messages_per_day" type="number" value=${c.max_messages_per_day || 3}
        onInput=${(v) => set("max_messages_per_day", Number(v))} error=${error} />
      <${Field} label=${t("recovery.only_events_worth_at_least")} name="audience.min_value" type="number" value=${(c.audience || {}).min_value ?? ""}
        onInput=${(v) => set("audience", { ...c.audience, min_value: v === "" ? null : Number(v) })} error=${error} />
    </div>
    <div class="grid">${range("send_window", t("recovery.send_window_recipient_s_local"))}${range("quiet_hours", t("recovery.quiet_hours"))}</div>
    <h3>${t("common.steps")}</h3>
    <${FieldError} error=${error} name="steps" />
    <ol class="timeline">
      ${c.steps.map((s, i) => html`<${StepEditor} key=${i} step=${s} index=${i} trigger=${c.trigger} name=${c.name} error=${error}
        onChange=${(v) => set("steps", c.steps.map((x, j) => (j === i ? v : x)))} onRemove=${() => set("steps", c.steps.filter((_, j) => j !== i))} />`)}
    </ol>
    <p class="row"><button type="button" id="add-step" onClick=${() => set("steps", [...c.steps, newStep(c.steps.length)])}>${t("recovery.add_step")}</button></p>
    ${campaign && html`<div class="row"><${Field} label=${t("recovery.test_send_to_address_on")} name="test_to" value=${testTo} onInput=${setTestTo} />
      ${c.steps.map((_, i) => html`<button type="button" class="test-send" onClick=${() => testSend(i)}>${t("recovery.test_step")} ${i + 1}</button>`)}</div>`}
    <p class="row"><button class="primary" type="submit">${t("recovery.save_campaign")}</button><button type="button" onClick=${onCancel}>${t("common.cancel")}</button></p>
  </form>`;
}

function EventsLog({ org }) {
  const events = useLoad(() => get(`/api/v1/orgs/${org.id}/recovery/events?limit=50`), [org.id]);
  return html`<div class="card" id="recovery-events">
    <h2>${t("recovery.events_log")}</h2>
    <${ErrorBox} error=${events.error} />
    <table>
      <thead><tr><th>${t("recovery.received")}</th><th>${t("common.type")}</th><th>${t("recovery.customer")}</th><th>${t("common.value")}</th><th>${t("common.status")}</th><th>${t("recovery.source")}</th></tr></thead>
      <tbody>
        ${events.data && events.data.items.map((e) => html`<tr data-event=${e.id}>
          <td class="muted">${formatDate(e.created_at)}</td><td><code>${e.event_type}</code></td>
          <td>${e.customer_email || e.customer_phone || e.customer_id}</td>
          <td>${e.potential_value != null ? money(e.potential_value, e.currency) : "–"}</td>
          <td><span class=${"badge " + (e.status === "recovered" ? "ok" : e.status === "ignored" || e.status === "opted_out" ? "warn" : "")}>${e.status}</span>
            ${e.reason && html`<div class="muted small">${e.reason}</div>`}</td>
          <td class="muted">${e.source || ""}</td></tr>`)}
        <${Loading} load=${events} cols="6" />
        ${events.data && !events.data.items.length && html`<tr><td colspan="6" class="muted">${t("recovery.no_events_yet_report_them")}</td></tr>`}
      </tbody>
    </table>
  </div>`;
}

const RISK_BADGE = { very_low: "ok", low: "ok", medium: "", high: "warn", critical: "danger" };

function HealthDetail({ id, onClose }) {
  const d = useLoad(() => get(`/api/v1/recovery-health/${id}`), [id]);
  const h = d.data;
  return html`<section class="card" id="health-detail" aria-label=${t("recovery.customer_health_detail")}>
    <${ErrorBox} error=${d.error} />
    ${h && html`<h3>${h.customer_name || h.customer_id} ${t("recovery.100_churn", { health_score: h.health_score, health_grade: h.health_grade })} ${(100 * h.churn_probability).toFixed(0)} %</h3>
      <p class="muted">${t("common.model")} ${h.model_version || "–"}${h.model && h.model.training_auc != null ? t("recovery.training_auc", { training_auc: h.model.training_auc }) : ""}${t("recovery.trend")} ${h.score_trend || "–"}${t("recovery.subscription")} ${h.subscription_status || "none"} (${h.plan || "–"}).</p>
      <table id="health-signals"><thead><tr><th>${t("recovery.signal")}</th><th>${t("common.value")}</th><th>${t("recovery.weight")}</th><th>${t("recovery.contribution")}</th></tr></thead>
        <tbody>${h.signals.map((x) => html`<tr data-signal=${x.signal}><td><strong>${x.signal}</strong><div class="muted small">${x.description}</div></td>
          <td>${x.value}</td><td>${x.weight}</td><td class=${x.contribution > 0 ? "warn" : ""}>${x.contribution > 0 ? "+" : ""}${x.contribution}</td></tr>`)}</tbody></table>
      <h4>${t("recovery.history")}</h4>
      <ul id="health-history">${h.history.map((p) => html`<li>${formatDate(p.recorded_at)}: ${p.health_score} (${p.churn_risk_level || "–"})</li>`)}</ul>`}
    <${Loading} load=${d} />
    <button type="button" onClick=${onClose}>${t("common.close")}</button>
  </section>`;
}

function Health({ org }) {
  const [atRisk, setAtRisk] = useState(true);
  const [open, setOpen] = useState(null);
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/recovery/health?limit=200${atRisk ? "&at_risk=true" : ""}`), [org.id, atRisk]);
  return html`<div class="card" id="recovery-health">
    <h2>${t("recovery.customer_health")}</h2>
    <label class="check"><input type="checkbox" style="width:auto" id="health-at-risk" checked=${atRisk} onChange=${(e) => setAtRisk(e.target.checked)} /> ${t("recovery.at_risk_only")}</label>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th>${t("recovery.customer")}</th><th>${t("recovery.score")}</th><th>${t("recovery.churn_risk")}</th><th>${t("recovery.why")}</th><th>${t("recovery.trend_2")}</th><th></th></tr></thead>
      <tbody>
        ${list.data && list.data.items.map((h) => html`<tr data-health=${h.id}>
          <td><strong>${h.customer_name || h.customer_id}</strong><div class="muted small">${h.customer_email || ""}</div></td>
          <td>${h.health_score} (${h.health_grade})</td>
          <td><span class=${"badge " + (RISK_BADGE[h.churn_risk_level] || "")}>${h.churn_risk_level.replace("_", " ")}</span> ${(100 * h.churn_probability).toFixed(0)} %</td>
          <td><ul class="reasons">${(h.reasons || []).map((r) => html`<li>${r.reason}</li>`)}</ul></td>
          <td>${h.score_trend || "–"}</td>
          <td><button type="button" class="open-health" onClick=${() => setOpen(h.id)}>${t("recovery.details")}</button></td></tr>`)}
        <${Loading} load=${list} cols="6" />
        ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${atRisk ? t("recovery.no_customer_at_risk") : t("recovery.no_health_scores_yet_they")}</td></tr>`}
      </tbody>
    </table>
    ${open && html`<${HealthDetail} key=${open} id=${open} onClose=${() => setOpen(null)} />`}
  </div>`;
}

function Recovery() {
  const org = currentOrg();
  const campaigns = useLoad(() => get(`/api/v1/orgs/${org.id}/recovery/campaigns?limit=200`), [org.id]);
  const analytics = useLoad(() => get(`/api/v1/orgs/${org.id}/recovery/analytics`), [org.id]);
  const [editing, setEditing] = useState(null);
  const byCampaign = {};
  for (const r of (analytics.data && analytics.data.rows) || []) {
    const a = (byCampaign[r.campaign_id] ||= { sent: 0, delivered: 0, clicked: 0, converted: 0, revenue: 0, currency: r.currency });
    a.sent += r.sent; a.delivered += r.delivered; a.clicked += r.clicked; a.converted += r.converted; a.revenue += r.revenue_recovered;
  }
  const remove = async (c) => {
    if (!confirm(t("recovery.delete_and_its_messages", { name: c.name }))) return;
    try {
      await del(`/api/v1/recovery-campaigns/${c.id}`);
      toast(t("recovery.deleted", { name: c.name }));
      campaigns.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const rate = (a, k) => (a && a.sent ? pct((100 * a[k]) / a.sent) : "–");
  return html`<${Page} title=${t("recovery.recovery")} actions=${html`<button class="primary" id="new-campaign" onClick=${() => setEditing({})}>${t("recovery.new_campaign")}</button>
      <a class="button" href=${`/api/v1/orgs/${org.id}/recovery/analytics.csv`} download>${t("common.export_csv")}</a>`}>
    ${editing && html`<${Builder} key=${editing.id || "new"} org=${org} campaign=${editing.id ? editing : null}
      onCancel=${() => setEditing(null)} onSaved=${() => (setEditing(null), campaigns.reload(), analytics.reload())} />`}
    <div class="card">
      <h2>${t("recovery.campaigns")}</h2>
      <${ErrorBox} error=${campaigns.error || analytics.error} />
      <table id="recovery-campaigns">
        <thead><tr><th>${t("common.name")}</th><th>${t("common.trigger")}</th><th>${t("common.status")}</th><th>${t("common.steps")}</th><th>${t("recovery.sent")}</th><th>${t("recovery.delivered")}</th><th>${t("recovery.clicked")}</th><th>${t("recovery.converted")}</th><th>${t("recovery.recovered")}</th><th></th></tr></thead>
        <tbody>
          ${campaigns.data && campaigns.data.items.map((c) => {
            const a = byCampaign[c.id];
            return html`<tr data-campaign=${c.id}>
              <td><strong>${c.name}</strong></td><td>${(TRIGGERS().find((tv) => tv[0] === c.trigger) || [c.trigger, c.trigger])[1]}</td>
              <td><span class=${"badge " + (c.status === "active" ? "ok" : "")}>${c.status}</span></td>
              <td class="muted small">${c.steps.map((s) => s.channel).join(" → ")}</td>
              <td>${c.total_sent}</td><td>${rate(a, "delivered")}</td><td>${rate(a, "clicked")}</td><td>${rate(a, "converted")}</td>
              <td>${money(c.total_revenue_recovered, c.currency)}</td>
              <td class="row"><button type="button" onClick=${() => setEditing(c)}>${t("common.edit")}</button>
                <button type="button" class="danger" onClick=${() => remove(c)}>${t("common.delete")}</button></td></tr>`;
          })}
          <${Loading} load=${campaigns} cols="10" />
          ${campaigns.data && !campaigns.data.items.length && html`<tr><td colspan="10" class="muted">${t("recovery.no_campaigns_yet_create_one")}</td></tr>`}
        </tbody>
      </table>
    </div>
    <div class="card" id="recovery-daily">
      <h2>${t("recovery.by_day")}</h2>
      <table>
        <thead><tr><th>${t("recovery.day")}</th><th>${t("recovery.campaign")}</th><th>${t("recovery.events")}</th><th>${t("recovery.sent")}</th><th>${t("recovery.delivered")}</th><th>${t("recovery.clicked")}</th><th>${t("recovery.converted")}</th><th>${t("recovery.recovered")}</th><th>${t("common.cost")}</th><th>${t("recovery.roi")}</th></tr></thead>
        <tbody>
          ${analytics.data && analytics.data.rows.map((r) => html`<tr><td>${r.day}</td><td>${r.campaign_name}</td><td>${r.events}</td><td>${r.sent}</td>
            <td>${pct(r.delivery_rate)}</td><td>${pct(r.click_rate)}</td><td>${pct(r.conversion_rate)}</td><td>${money(r.revenue_recovered, r.currency)}</td>
            <td>${money(r.cost, r.currency)}</td><td>${pct(r.roi_percent)}</td></tr>`)}
          <${Loading} load=${analytics} cols="10" />
          ${analytics.data && !analytics.data.rows.length && html`<tr><td colspan="10" class="muted">${t("recovery.nothing_sent_yet")}</td></tr>`}
        </tbody>
      </table>
      <p class="muted small">${analytics.data && analytics.data.rolled_up_at ? t("recovery.rolled_up_every_5_minutes", { rolled_up_at: formatDate(analytics.data.rolled_up_at) }) : t("recovery.figures_appear_after_the_next")}</p>
      ${analytics.data && analytics.data.variants.length > 0 && html`<h3>${t("recovery.a_b_variants")}</h3>
        <table id="recovery-variants"><thead><tr><th>${t("recovery.campaign")}</th><th>${t("common.step")}</th><th>${t("recovery.variant_2")}</th><th>${t("recovery.messages")}</th><th>${t("recovery.sent")}</th><th>${t("recovery.clicked")}</th><th>${t("recovery.converted")}</th><th>${t("recovery.conversion")}</th><th>${t("recovery.recovered")}</th></tr></thead>
          <tbody>${analytics.data.variants.map((v) => html`<tr><td>${((campaigns.data && campaigns.data.items.find((c) => c.id === v.campaign_id)) || { name: v.campaign_id }).name}</td>
            <td>${v.step}</td><td>${v.variant}</td><td>${v.messages}</td><td>${v.sent}</td><td>${v.clicked}</td><td>${v.converted}</td><td>${pct(v.conversion_rate)}</td><td>${money(v.revenue_recovered)}</td></tr>`)}</tbody></table>`}
    </div>
    <${Health} org=${org} />
    <${EventsLog} org=${org} />
  <//>`;
}

route("/recovery", Recovery, { nav: { label: "nav.recovery", section: "nav.engage", order: 44, requires: "analytics.read" } });
