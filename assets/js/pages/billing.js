// Pricing (the public plans; only when billing is on) and the organization's
// usage per month with bar charts, limits and a CSV export.
import { html, Page, useLoad, useState, ErrorBox, Loading } from "../ui.js";
import { route, navigate } from "../router.js";
import { get } from "../api.js";
import { currentOrg } from "../session.js";
import { Chart } from "../charts.js";

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

const LIMIT_LABELS = {
  bots: "Bots",
  messages_per_month: "Messages / month",
  knowledge_storage_bytes: "Knowledge storage",
  seats: "Seats",
  llm_tokens_per_month: "LLM tokens / month",
  channels: "Channels",
  voice_minutes_per_month: "Voice minutes / month",
};

const METRIC_LABELS = {
  message_received: "Messages received",
  message_sent: "Messages sent",
  api_call: "API calls",
  llm_tokens: "LLM tokens",
  llm_cost_micros: "LLM cost (µUSD)",
  voice_minutes: "Voice minutes",
  knowledge_storage_bytes: "Knowledge storage (bytes)",
  seats: "Seats",
};

function bytes(n) {
  if (n >= 1 << 30) return `${Math.round((n / (1 << 30)) * 10) / 10} GiB`;
  if (n >= 1 << 20) return `${Math.round((n / (1 << 20)) * 10) / 10} MiB`;
  if (n >= 1 << 10) return `${Math.round(n / (1 << 10))} KiB`;
  return `${n} B`;
}

/** Minor units as a localized amount (`$29.00`). */
export function money(amount, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(
      amount / 10 ** (new Intl.NumberFormat(undefined, { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2),
    );
  } catch {
    return `${amount} ${currency}`;
  }
}

function limitText(name, v) {
  if (v === null || v === undefined) return "Unlimited";
  return name === "knowledge_storage_bytes" ? bytes(v) : v.toLocaleString();
}

function Pricing() {
  const plans = useLoad(() => get("/api/v1/plans"));
  const [interval, setInterval] = useState("month");
  return html`<${Page} title="Plans and pricing">
    <${ErrorBox} error=${plans.error} />
    <${Loading} load=${plans} />
    ${plans.data &&
    html`<fieldset class="card" id="interval">
        <legend>Billing interval</legend>
        <label><input type="radio" name="interval" value="month" checked=${interval === "month"} onChange=${() => setInterval("month")} /> Monthly</label>
        <label><input type="radio" name="interval" value="year" checked=${interval === "year"} onChange=${() => setInterval("year")} /> Yearly</label>
      </fieldset>
      ${plans.data.length === 0 && html`<p class="card muted" id="no-plans">No plans are offered yet.</p>`}
      <div class="row" id="plans" style="align-items:stretch;flex-wrap:wrap">
        ${plans.data.map((p) => {
          const price = p.prices.find((x) => x.interval === interval && x.currency === p.currency) || p.prices.find((x) => x.interval === interval);
          return html`<section class="card" style="flex:1;min-width:14rem" data-plan=${p.name} aria-labelledby=${`plan-${p.name}`}>
            <h2 id=${`plan-${p.name}`}>${p.display_name}</h2>
            <p class="price" data-price>${price ? html`${money(price.amount, price.currency)} <span class="muted">/ ${interval}</span>` : html`<span class="muted">Not offered ${interval}ly</span>`}</p>
            ${p.trial_days > 0 && html`<p class="badge ok">${p.trial_days}-day trial</p>`}
            ${p.description && html`<p class="muted">${p.description}</p>`}
            <dl>
              ${Object.entries(LIMIT_LABELS).map(([k, label]) => html`<dt>${label}</dt><dd data-limit=${k}>${limitText(k, p.limits[k])}</dd>`)}
            </dl>
            <ul aria-label="Features">
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
    { name: METRIC_LABELS[metric], values: data.months.map((m) => (m.metrics.find((f) => f.metric === metric) || {}).used || 0) },
  ];
  const apply = (e) => {
    e.preventDefault();
    setRange(draft);
  };
  return html`<${Page} title="Usage" actions=${html`<a class="button" href=${`/api/v1/orgs/${org.id}/usage/export?${query}`} download id="usage-csv">Export CSV</a>`}>
    <form class="card" onSubmit=${apply} id="usage-range">
      <div class="row" style="align-items:flex-end">
        <div><label for="u-from">From</label><input id="u-from" type="month" value=${draft.from} onInput=${(e) => setDraft({ ...draft, from: e.target.value })} /></div>
        <div><label for="u-to">To</label><input id="u-to" type="month" value=${draft.to} onInput=${(e) => setDraft({ ...draft, to: e.target.value })} /></div>
        <button class="primary" type="submit">Show</button>
      </div>
    </form>
    <${ErrorBox} error=${usage.error} />
    <${Loading} load=${usage} />
    ${data &&
    html`<div class="card">
        <h2>${current.month}${data.plan ? html` · plan <span id="usage-plan">${data.plan}</span>` : ""}</h2>
        ${!data.limits_enforced && html`<p class="muted" id="no-limits">Plan limits are not enforced on this server.</p>`}
        <table id="usage-table">
          <thead><tr><th scope="col">Metric</th><th scope="col">Used</th><th scope="col">Limit</th><th scope="col">Used %</th></tr></thead>
          <tbody>
            ${current.metrics.map(
              (f) => html`<tr data-metric=${f.metric}>
                <th scope="row">${METRIC_LABELS[f.metric] || f.metric}</th>
                <td>${f.metric === "knowledge_storage_bytes" ? bytes(f.used) : f.used.toLocaleString()}</td>
                <td>${f.limit === null ? "—" : f.metric === "knowledge_storage_bytes" ? bytes(f.limit) : f.limit.toLocaleString()}</td>
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
              title: `${METRIC_LABELS[metric]} per month`,
              categories: data.months.map((m) => m.month),
              series: series(metric),
              format: metric === "knowledge_storage_bytes" ? bytes : undefined,
            }}
          />
        </div>`,
      )}`}
  <//>`;
}

route("/pricing", Pricing, { nav: { label: "Plans and pricing", section: "Organization", order: 78, when: () => billingEnabled } });
route("/usage", Usage, { nav: { label: "Usage", section: "Organization", order: 77, requires: "analytics.read" } });
