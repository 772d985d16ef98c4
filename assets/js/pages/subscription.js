// Billing: the organization's subscription (plan, status, period, trial,
// past-due grace period and restriction), starting one through Stripe
// Checkout, changing plan with the proration preview, cancel at period end
// and resume, the payment method through the Stripe portal, and invoices
// (download, refunds). Shown only when billing is on.
import { html, Page, useLoad, useState, ErrorBox, toast, toastError, formatDate, Loading } from "../ui.js";
import { route } from "../router.js";
import { get, post } from "../api.js";
import { currentOrg } from "../session.js";
import { money, isBillingEnabled } from "./billing.js";
import { t } from "../i18n.js";

const STATUS_BADGE = { active: "ok", trialing: "ok", past_due: "warn", unpaid: "bad", canceled: "", incomplete: "warn", none: "" };
const STATUS_TEXT = () => ({ active: t("subscription.active"), trialing: t("subscription.trial"), past_due: t("subscription.payment_overdue"), unpaid: t("subscription.unpaid"), canceled: t("subscription.canceled"), incomplete: t("subscription.incomplete"), none: t("subscription.no_subscription") });
const live = (sub) => ["active", "trialing", "past_due", "unpaid"].includes(sub.status);
const day = (iso) => (iso ? formatDate(iso).split(",")[0] : "—");

function Current({ sub, plans, onChanged }) {
  const org = currentOrg();
  const [busy, setBusy] = useState(false);
  const plan = plans.find((p) => p.name === sub.plan);
  const act = async (fn, done) => {
    setBusy(true);
    try {
      await fn();
      if (done) toast(done);
      onChanged();
    } catch (err) {
      toastError(err);
    } finally {
      setBusy(false);
    }
  };
  const portal = () =>
    act(async () => {
      const r = await post(`/api/v1/orgs/${org.id}/billing/portal`);
      location.assign(r.url);
    });
  return html`<section class="card" id="current-subscription" aria-labelledby="current-heading">
    <h2 id="current-heading">${t("subscription.current_subscription")}</h2>
    <p><strong id="current-plan">${plan ? plan.display_name : sub.plan}</strong>
      <span class=${"badge " + (STATUS_BADGE[sub.status] || "")} id="subscription-status">${STATUS_TEXT()[sub.status] || sub.status}</span>
      ${sub.billing_cycle && live(sub) && html` <span class="muted">${t("subscription.billed", { billing_cycle: sub.billing_cycle })}</span>`}</p>
    ${live(sub) && sub.current_period_end && html`<p class="muted">${t("subscription.current_period_ends", { current_period_end: day(sub.current_period_end) })}</p>`}
    ${sub.status === "trialing" && sub.trial_end && html`<p class="muted">${t("subscription.trial_until", { trial_end: day(sub.trial_end) })}</p>`}
    ${sub.cancel_at_period_end && html`<div class="alert" role="status" id="cancel-notice">${t("subscription.the_subscription_ends_on_resume", { current_period_end: day(sub.current_period_end) })} ${plan ? plan.display_name : sub.plan}.</div>`}
    ${sub.restricted
      ? html`<div class="alert error" role="alert" id="restricted-notice">${t("subscription.the_payment_is_overdue_beyond")}</div>`
      : sub.status === "past_due" &&
        html`<div class="alert error" role="alert" id="past-due-notice">${t("subscription.the_latest_payment_failed_your", { grace_ends_at: day(sub.grace_ends_at) })}</div>`}
    ${!sub.stripe_configured && html`<p class="muted">${t("subscription.payments_are_not_set_up")}</p>`}
    <div class="row">
      ${sub.stripe_configured && sub.has_customer && html`<button type="button" id="manage-payment" disabled=${busy} onClick=${portal}>${t("subscription.manage_payment_method")}</button>`}
      ${live(sub) && !sub.cancel_at_period_end &&
      html`<button type="button" class="danger" id="cancel-subscription" disabled=${busy}
        onClick=${() => act(() => post(`/api/v1/orgs/${org.id}/billing/subscription/cancel`), t("subscription.the_subscription_ends_at_the"))}>${t("subscription.cancel_at_period_end")}</button>`}
      ${live(sub) && sub.cancel_at_period_end &&
      html`<button type="button" class="primary" id="resume-subscription" disabled=${busy}
        onClick=${() => act(() => post(`/api/v1/orgs/${org.id}/billing/subscription/resume`), t("subscription.subscription_resumed"))}>${t("subscription.resume_subscription")}</button>`}
    </div>
  </section>`;
}

function priceOf(plan, interval) {
  return plan.prices.find((p) => p.interval === interval && p.currency === plan.currency) || plan.prices.find((p) => p.interval === interval);
}

function Preview({ preview, onConfirm, onCancel, busy }) {
  return html`<div class="card" id="proration-preview" role="region" aria-label=${t("subscription.proration_preview")}>
    <h3>${t("subscription.change_to", { plan: preview.plan })}${preview.interval === "year" ? "yearly" : "monthly"})</h3>
    <table>
      <thead><tr><th scope="col">${t("subscription.line")}</th><th scope="col">${t("subscription.period")}</th><th scope="col" style="text-align:right">${t("subscription.amount")}</th></tr></thead>
      <tbody>
        ${preview.lines.map(
          (l) => html`<tr class=${l.proration ? "proration-line" : ""}><td>${l.description || "—"}${l.proration ? html` <span class="badge">${t("subscription.prorated")}</span>` : ""}</td>
            <td class="muted">${day(l.period_start)} – ${day(l.period_end)}</td><td style="text-align:right">${money(l.amount, preview.currency)}</td></tr>`,
        )}
      </tbody>
    </table>
    <p>${t("subscription.prorated_now")} <strong id="proration-amount">${money(preview.proration_amount, preview.currency)}</strong>${t("subscription.next_invoice")} <strong id="amount-due">${money(preview.amount_due, preview.currency)}</strong>.</p>
    <p class="row"><button type="button" class="primary" id="confirm-change" disabled=${busy} onClick=${onConfirm}>${t("subscription.confirm_change")}</button>
      <button type="button" onClick=${onCancel}>${t("subscription.keep_the_current_plan")}</button></p>
  </div>`;
}

function Plans({ sub, plans, onChanged }) {
  const org = currentOrg();
  const [interval, setInterval] = useState("month");
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const subscribe = (plan) =>
    run(async () => {
      const r = await post(`/api/v1/orgs/${org.id}/billing/checkout`, { plan: plan.name, interval });
      location.assign(r.url);
    });
  const previewChange = (plan) =>
    run(async () => setPreview(await post(`/api/v1/orgs/${org.id}/billing/subscription/preview`, { plan: plan.name, interval })));
  const confirm = () =>
    run(async () => {
      await post(`/api/v1/orgs/${org.id}/billing/subscription/change`, { plan: preview.plan, interval: preview.interval, proration_date: preview.proration_date });
      toast(t("subscription.switched_to", { plan: preview.plan }));
      setPreview(null);
      onChanged();
    });
  const choosable = plans.filter((p) => p.prices.some((pr) => pr.interval === interval && pr.amount > 0));
  return html`<section class="card" id="plans" aria-labelledby="plans-heading">
    <h2 id="plans-heading">${live(sub) ? t("subscription.change_plan") : t("subscription.choose_a_plan")}</h2>
    <${ErrorBox} error=${error} />
    <div class="row"><label for="billing-interval">${t("subscription.billing")}</label>
      <select id="billing-interval" style="width:auto" value=${interval} onChange=${(e) => (setPreview(null), setInterval(e.target.value))}>
        <option value="month">${t("subscription.monthly")}</option><option value="year">${t("subscription.yearly")}</option>
      </select></div>
    <div class="grid">
      ${choosable.map((p) => {
        const price = priceOf(p, interval);
        const current = live(sub) && p.name === sub.plan && (sub.billing_cycle === (interval === "year" ? "yearly" : "monthly"));
        return html`<div class="card" data-plan=${p.name}>
          <h3>${p.display_name}</h3>
          <p><strong>${money(price.amount, price.currency)}</strong> <span class="muted">/ ${interval}</span></p>
          ${p.trial_days > 0 && !live(sub) && html`<p class="muted">${t("subscription.day_free_trial", { trial_days: p.trial_days })}</p>`}
          ${p.description && html`<p class="muted small">${p.description}</p>`}
          ${current
            ? html`<span class="badge ok">${t("subscription.current_plan")}</span>`
            : live(sub)
              ? html`<button type="button" class="preview-change" disabled=${busy || !sub.stripe_configured} onClick=${() => previewChange(p)}>${t("subscription.preview_change")}</button>`
              : html`<button type="button" class="primary subscribe" disabled=${busy || !sub.stripe_configured} onClick=${() => subscribe(p)}>${t("subscription.subscribe")}</button>`}
        </div>`;
      })}
      ${!choosable.length && html`<p class="muted">${t("subscription.no_paid_plan_is_offered", { interval })}</p>`}
    </div>
    ${preview && html`<${Preview} preview=${preview} busy=${busy} onConfirm=${confirm} onCancel=${() => setPreview(null)} />`}
  </section>`;
}

const INVOICE_BADGE = { succeeded: "ok", refunded: "", failed: "bad", pending: "warn" };
const INVOICE_TEXT = () => ({ succeeded: t("subscription.paid"), refunded: t("subscription.refunded"), failed: t("subscription.failed"), pending: t("subscription.open") });

function Invoices() {
  const org = currentOrg();
  const list = useLoad(() => get(`/api/v1/orgs/${org.id}/billing/invoices?limit=100`), [org.id]);
  return html`<section class="card" id="invoices" aria-labelledby="invoices-heading">
    <h2 id="invoices-heading">${t("subscription.invoices")}</h2>
    <${ErrorBox} error=${list.error} />
    <table>
      <thead><tr><th scope="col">${t("subscription.invoice")}</th><th scope="col">${t("subscription.date")}</th><th scope="col">${t("subscription.period")}</th><th scope="col">${t("subscription.amount")}</th><th scope="col">${t("common.status")}</th><th scope="col"></th></tr></thead>
      <tbody>
        ${list.data &&
        list.data.items.map(
          (i) => html`<tr data-invoice=${i.id}>
            <td>${i.number || `#${i.id}`}</td>
            <td class="muted">${day(i.created_at)}</td>
            <td class="muted">${day(i.period_start)} – ${day(i.period_end)}</td>
            <td>${money(i.amount, i.currency)}${i.amount_refunded > 0 && html`<div class="small refund">${t("subscription.refunded")} ${money(i.amount_refunded, i.currency)}</div>`}</td>
            <td><span class=${"badge " + (INVOICE_BADGE[i.status] || "")}>${INVOICE_TEXT()[i.status] || i.status}</span></td>
            <td class="row"><a class="button download-invoice" href=${`/api/v1/invoices/${i.id}/document`} download>${t("subscription.download")}</a>
              ${i.hosted_url && html`<a href=${i.hosted_url} target="_blank" rel="noopener">${t("subscription.view_at_stripe")}</a>`}</td>
          </tr>`,
        )}
        <${Loading} load=${list} cols="6" />
        ${list.data && !list.data.items.length && html`<tr><td colspan="6" class="muted">${t("subscription.no_invoices_yet")}</td></tr>`}
      </tbody>
    </table>
  </section>`;
}

function Billing() {
  const org = currentOrg();
  const sub = useLoad(() => get(`/api/v1/orgs/${org.id}/billing/subscription`), [org.id]);
  const plans = useLoad(() => get("/api/v1/plans"), []);
  const [version, setVersion] = useState(0);
  const changed = () => {
    sub.reload();
    setVersion(version + 1);
  };
  const checkout = new URLSearchParams(location.search).get("checkout");
  return html`<${Page} title=${t("subscription.billing")}>
    ${checkout === "success" && html`<div class="alert ok" role="status" id="checkout-success">${t("subscription.thank_you_the_subscription_starts")}</div>`}
    ${checkout === "canceled" && html`<div class="alert" role="status">${t("subscription.checkout_was_canceled_nothing_was")}</div>`}
    <${ErrorBox} error=${sub.error || plans.error} />
    <${Loading} load=${sub} />
    ${sub.data && plans.data && html`<${Current} sub=${sub.data} plans=${plans.data} onChanged=${changed} />
      <${Plans} sub=${sub.data} plans=${plans.data} onChanged=${changed} />
      <${Invoices} key=${version} />`}
  <//>`;
}

route("/settings/billing", Billing, { nav: { label: "nav.billing", section: "nav.settings", order: 60, requires: "billing.manage", when: isBillingEnabled } });
