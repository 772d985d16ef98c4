// Pricing (the public plans; only when billing is on) and the organization's
// usage per month with bar charts, limits and a CSV export.
import { html, Page, useLoad, useState, ErrorBox, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get } from "../api.js";
import { currentOrg } from "../session.js";
import { Chart } from "../charts.js";
import { t, locale } from "../i18n.js";

// Whether billing is on (`/api/v1/instance`); the pricing entry is hidden otherwise.
let billingEnabled = false;
get("/api/v1/instance").then(
  (i) => {
    billingEnabled = !!i.billing_enabled;
    // Draw the menu again with the entry (same URL, no history entry).
    if (billingEnabled) navigate(location.pathname + location.search, { replace: true });
  },
  () => {},
);

/** Whether billing is on (the menu entries of billing screens ask). */
export const isBillingEnabled = () => billingEnabled;

const LIMIT_LABELS = () => ({
  bots: t("billing.bots"),
  messages_per_month: t("billing.messages_month"),
  knowledge_storage_bytes: t("billing.knowledge_storage"),
  seats: t("billing.seats"),
  llm_tokens_per_month: t("billing.llm_tokens_month"),
  channels: t("billing.channels"),
  voice_minutes_per_month: t("billing.voice_minutes_month"),
});

const METRIC_LABELS = () => ({
  message_received: t("billing.messages_received"),
  message_sent: t("billing.messages_sent"),
  api_call: t("billing.api_calls"),
  llm_tokens: t("billing.llm_tokens"),
  llm_cost_micros: t("billing.llm_cost_usd"),
  voice_minutes: t("billing.voice_minutes"),
  knowledge_storage_bytes: t("billing.knowledge_storage_bytes"),
  seats: t("billing.seats"),
});

function bytes(n) {
  if (n >= 1 << 30) return `${Math.round((n / (1 << 30)) * 10) / 10} GiB`;
  if (n >= 1 << 20) return `${Math.round((n / (1 << 20)) * 10) / 10} MiB`;
  if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KiB`;
  return `${n} B`;
}

/** Minor units as a localized amount (`$29.00`). */
export function money(amount, currency) {
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(
      amount / 10 ** (new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2),
    );
  } catch {
    return `${amount} ${currency}`;
  }
}

function limitText(name, v) {
  if (v === null || v === undefined) return t("billing.unlimited");
  return name === "knowledge_storage_bytes" ? bytes(v) : v.toLocaleString(locale());
}

function Pricing() {
  const plans = useLoad(() => get("/api/v1/plans"));
  const [interval, setInterval] = useState("month");
  return html`<${Page} title=${t("billing.plans_and_pricing")}>
    <${ErrorBox} error=${plans.error} />
    <${Loading} load=${plans} />
    ${plans.data &&
    html`<fieldset class="card" id="interval">
        <legend>${t("billing.billing_interval")}</legend>
        <label><input type="radio" name="interval" value="month" checked=${interval === "month"} onChange=${() => setInterval("month")} /> ${t("billing.monthly")}</label>
        <label><input type="radio" name="interval" value="year" checked=${interval === "year"} onChange=${() => setInterval("year")} /> ${t("billing.yearly")}</label>
      </fieldset>
      ${plans.data.length === 0 && html`<p class="card muted" id="no-plans">${t("billing.no_plans_are_offered_yet")}</p>`}
      <div class="row" id="plans" style="align-items:stretch;flex-wrap:wrap">
        ${plans.data.map((p) => {
          const price = p.prices.find((x) => x.interval === interval && x.currency === p.currency) || p.prices.find((x) => x.interval === interval);
          return html`<section class="card" style="flex:1;min-width:14rem" data-plan=${p.name} aria-labelledby=${`plan-${p.name}`}>
            <h2 id=${`plan-${p.name}`}>${p.display_name}</h2>
            <p class="price" data-price>${price ? html`${money(price.amount, price.currency)} <span class="muted">/ ${interval}</span>` : html`<span class="muted">${t("billing.not_offered_ly", { interval })}</span>`}</p>
            ${p.trial_days > 0 && html`<p class="badge ok">${t("billing.day_trial", { trial_days: p.trial_days })}</p>`}
            ${p.description && html`<p class="muted">${p.description}</p>`}
            <dl>
              ${Object.entries(LIMIT_LABELS()).map(([k, label]) => html`<dt>${label}</dt><dd data-limit=${k}>${limitText(k, p.limits[k])}</dd>`)}
            </dl>
            <ul aria-label=${t("billing.features")}>
              ${Object.entries(p.features).map(([k, on]) => html`<li data-feature=${k}>${on ? "✓" : "✗"} ${k.replace(/_/g, " ")}</li>`)}
            </ul>
          </section>`;
        })}
      </div>`}
  <//>`;
}

function thisMonth() {
  return new Date().toISOString().slice(0, 7);
}

function monthsBack(month, n) {
  const [y, m] = month.split("-").map(Number);
  const d = new Date(Date.UTC(y, m - 1 - n, 1));
  return d.toISOString().slice(0, 7);
}

function Usage() {
  const org = currentOrg();
  const [range, setRange] = useState({ from: monthsBack(thisMonth(), 11), to: thisMonth() });
  const [draft, setDraft] = useState(range);
  const query = `from=${range.from}&to=${range.to}`;
  const usage = useLoad(() => get(`/api/v1/orgs/${org.id}/usage?${query}`), [org.id, query]);
  const data = usage.data;
  const current = data && data.months[data.months.length - 1];
  const series = (metric) => [
    { name: METRIC_LABELS()[metric], values: data.months.map((m) => (m.metrics.find((f) => f.metric === metric) || {}).used || 0) },
  ];
  const apply = (e) => {
    e.preventDefault();
    setRange(draft);
  };
  return html`<${Page} title=${t("billing.usage")} actions=${html`<a class="button" href=${`/api/v1/orgs/${org.id}/usage/export?${query}`} download id="usage-csv">${t("common.export_csv")}</a>`}>
    <form class="card" onSubmit=${apply} id="usage-range">
      <div class="row" style="align-items:flex-end">
        <div><label for="u-from">${t("common.from")}</label><input id="u-from" type="month" value=${draft.from} onInput=${(e) => setDraft({ ...draft, from: e.target.value })} /></div>
        <div><label for="u-to">${t("common.to")}</label><input id="u-to" type="month" value=${draft.to} onInput=${(e) => setDraft({ ...draft, to: e.target.value })} /></div>
        <button class="primary" type="submit">${t("billing.show")}</button>
      </div>
    </form>
    <${ErrorBox} error=${usage.error} />
    <${Loading} load=${usage} />
    ${data &&
    html`<div class="card">
        <h2>${current.month}${data.plan ? html` ${t("billing.plan")} <span id="usage-plan">${data.plan}</span>` : ""}</h2>
        ${!data.limits_enforced && html`<p class="muted" id="no-limits">${t("billing.plan_limits_are_not_enforced")}</p>`}
        <table id="usage-table">
          <thead><tr><th scope="col">${t("billing.metric")}</th><th scope="col">${t("billing.used")}</th><th scope="col">${t("billing.limit")}</th><th scope="col">${t("billing.used_2")}</th></tr></thead>
          <tbody>
            ${current.metrics.map(
              (f) => html`<tr data-metric=${f.metric}>
                <th scope="row">${METRIC_LABELS()[f.metric] || f.metric}</th>
                <td>${f.metric === "knowledge_storage_bytes" ? bytes(f.used) : f.used.toLocaleString(locale())}</td>
                <td>${f.limit === null ? "—" : f.metric === "knowledge_storage_bytes" ? bytes(f.limit) : f.limit.toLocaleString(locale())}</td>
                <td>${f.percent === null ? "—" : html`<span class=${"badge " + (f.percent >= 100 ? "bad" : f.percent >= 80 ? "warn" : "ok")}>${Math.round(f.percent * 10) / 10} %</span>`}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
      ${["message_received", "api_call", "llm_tokens", "knowledge_storage_bytes"].map(
        (metric) => html`<div class="card" data-chart-metric=${metric}>
          <${Chart}
            spec=${{
              type: "bar",
              title: t("billing.per_month", { value: METRIC_LABELS()[metric] }),
              categories: data.months.map((m) => m.month),
              series: series(metric),
              format: metric === "knowledge_storage_bytes" ? bytes : undefined,
            }}
          />
        </div>`,
      )}`}
  <//>`;
}

route("/pricing", Pricing, { nav: { label: "nav.plans_and_pricing", section: "nav.organization", order: 78, when: () => billingEnabled } });
route("/usage", Usage, { nav: { label: "nav.usage", section: "nav.organization", order: 77, requires: "analytics.read" } });
