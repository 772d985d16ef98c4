// The superadmin's plans (issue 21): list, create, edit and archive plans —
// prices per interval and currency (typed and shown as money, sent in
// integer minor units), trial days, every limit (empty = unlimited) and
// feature flags. The API's 422 shows under the field at fault; a change
// that leaves organizations above a limit lists them.
import { html, useState, ErrorBox, FieldError, toast, toastError, useLoad } from "../ui.js";
import { get, post, put } from "../api.js";
import { t, locale } from "../i18n.js";

const LIMITS = () => ([
  ["bots", t("admin_plans.bots")],
  ["messages_per_month", t("admin_plans.messages_per_month")],
  ["knowledge_storage_bytes", t("admin_plans.knowledge_storage_bytes")],
  ["seats", t("admin_plans.seats")],
  ["llm_tokens_per_month", t("admin_plans.llm_tokens_per_month")],
  ["channels", t("admin_plans.channels")],
  ["voice_minutes_per_month", t("admin_plans.voice_minutes_per_month")],
]);

/** Decimal places of a currency's minor unit (JPY 0, KWD 3, most 2). */
function decimals(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** An amount in minor units as money, e.g. 2900 USD → "$29.00". */
export function money(amount, currency) {
  const d = decimals(currency);
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(amount / 10 ** d);
  } catch {
    return `${(amount / 10 ** d).toFixed(d)} ${currency}`;
  }
}

/** "29.90" in `currency` → 2990 minor units (NaN when not a number). */
function toMinor(text, currency) {
  const tv = String(text).trim().replace(",", ".");
  if (!/^-?\d+(\.\d*)?$/.test(tv)) return NaN;
  return Math.round(Number(tv) * 10 ** decimals(currency));
}

function emptyForm() {
  return {
    name: "",
    display_name: "",
    description: "",
    currency: "USD",
    prices: [{ interval: "month", currency: "USD", amount: "0" }],
    trial_days: "0",
    limits: Object.fromEntries(LIMITS().map(([k]) => [k, ""])),
    features: [],
    is_active: true,
    is_public: true,
    sort_order: "0",
  };
}

function formOf(p) {
  return {
    name: p.name,
    display_name: p.display_name,
    description: p.description || "",
    currency: p.currency,
    prices: p.prices.map((x) => ({ interval: x.interval, currency: x.currency, amount: (x.amount / 10 ** decimals(x.currency)).toFixed(decimals(x.currency)), stripe_price_id: x.stripe_price_id })),
    trial_days: String(p.trial_days),
    limits: Object.fromEntries(LIMITS().map(([k]) => [k, p.limits[k] == null ? "" : String(p.limits[k])])),
    features: Object.entries(p.features).map(([k, v]) => ({ key: k, on: v })),
    is_active: p.is_active,
    is_public: p.is_public,
    sort_order: String(p.sort_order),
  };
}

/** The request body; numbers the server checks (a negative price is its 422). */
function bodyOf(f) {
  const int = (s) => (String(s).trim() === "" ? 0 : Number(s));
  return {
    name: f.name.trim(),
    display_name: f.display_name.trim(),
    description: f.description.trim() || null,
    currency: f.currency.trim(),
    prices: f.prices.map((p) => {
      const amount = toMinor(p.amount, p.currency.trim().toUpperCase() || "USD");
      const out = { interval: p.interval, currency: p.currency.trim(), amount: Number.isNaN(amount) ? p.amount : amount };
      if (p.stripe_price_id) out.stripe_price_id = p.stripe_price_id;
      return out;
    }),
    trial_days: int(f.trial_days),
    limits: Object.fromEntries(LIMITS().map(([k]) => [k, String(f.limits[k]).trim() === "" ? null : Number(f.limits[k])])),
    features: Object.fromEntries(f.features.filter((x) => x.key.trim()).map((x) => [x.key.trim(), x.on])),
    is_active: f.is_active,
    is_public: f.is_public,
    sort_order: int(f.sort_order),
  };
}

function Input({ label, name, value, onInput, error, ...rest }) {
  return html`<div>
    <label for=${`plan-${name}`}>${label}</label>
    <input id=${`plan-${name}`} name=${name} value=${value} onInput=${(e) => onInput(e.target.value)} aria-invalid=${error && error.field === name ? "true" : undefined} ...${rest} />
    <${FieldError} error=${error} name=${name} />
  </div>`;
}

function PlanForm({ plan, onSaved, onCancel }) {
  const [f, setF] = useState(plan ? formOf(plan) : emptyForm());
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const set = (k) => (v) => setF({ ...f, [k]: v });
  const setPrice = (i, k) => (v) => setF({ ...f, prices: f.prices.map((p, j) => (j === i ? { ...p, [k]: v } : p)) });
  const setLimit = (k) => (v) => setF({ ...f, limits: { ...f.limits, [k]: v } });
  const setFeature = (i, k) => (v) => setF({ ...f, features: f.features.map((x, j) => (j === i ? { ...x, [k]: v } : x)) });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const change = plan ? await put(`/api/v1/admin/plans/${plan.id}`, bodyOf(f)) : await post("/api/v1/admin/plans", bodyOf(f));
      onSaved(change);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" id="plan-form" onSubmit=${submit} aria-labelledby="plan-form-heading">
    <h3 id="plan-form-heading">${plan ? t("admin_plans.edit_plan", { name: plan.name }) : t("admin_plans.new_plan")}</h3>
    <${ErrorBox} error=${error} />
    <div class="grid">
      <${Input} label=${t("admin_plans.name_a_z_0_9")} name="name" value=${f.name} onInput=${set("name")} error=${error} required />
      <${Input} label=${t("admin_plans.display_name")} name="display_name" value=${f.display_name} onInput=${set("display_name")} error=${error} required />
      <${Input} label=${t("admin_plans.main_currency")} name="currency" value=${f.currency} onInput=${set("currency")} error=${error} maxlength="3" />
      <${Input} label=${t("admin_plans.trial_days")} name="trial_days" type="number" value=${f.trial_days} onInput=${set("trial_days")} error=${error} />
      <${Input} label=${t("admin_plans.sort_order")} name="sort_order" type="number" value=${f.sort_order} onInput=${set("sort_order")} error=${error} />
    </div>
    <div>
      <label for="plan-description">${t("admin_plans.description")}</label>
      <textarea id="plan-description" name="description" value=${f.description} onInput=${(e) => set("description")(e.target.value)}></textarea>
      <${FieldError} error=${error} name="description" />
    </div>
    <fieldset id="plan-prices"><legend>${t("admin_plans.prices")}</legend>
      <${FieldError} error=${error && error.field === "prices" ? error : null} name="prices" />
      ${f.prices.map(
        (p, i) => html`<div class="row" data-price-row=${i}>
          <div><label for=${`plan-price-${i}-interval`}>${t("admin_plans.interval")}</label>
            <select id=${`plan-price-${i}-interval`} value=${p.interval} onChange=${(e) => setPrice(i, "interval")(e.target.value)}>
              <option value="month">${t("admin_plans.per_month")}</option><option value="year">${t("admin_plans.per_year")}</option>
            </select></div>
          <${Input} label=${t("admin_plans.currency")} name=${`prices[${i}].currency`} value=${p.currency} onInput=${setPrice(i, "currency")} error=${error} maxlength="3" size="4" />
          <${Input} label=${t("admin_plans.amount")} name=${`prices[${i}].amount`} value=${p.amount} onInput=${setPrice(i, "amount")} error=${error} inputmode="decimal" />
          <span class="muted" data-money>${Number.isNaN(toMinor(p.amount, p.currency.toUpperCase() || "USD")) ? "" : money(toMinor(p.amount, p.currency.toUpperCase() || "USD"), p.currency.toUpperCase() || "USD")}</span>
          <button type="button" aria-label=${t("admin_plans.remove_price", { value: i + 1 })} onClick=${() => setF({ ...f, prices: f.prices.filter((_, j) => j !== i) })}>${t("common.remove")}</button>
          <${FieldError} error=${error && error.field === `prices[${i}]` ? error : null} name=${`prices[${i}]`} />
        </div>`,
      )}
      <button type="button" id="plan-add-price" onClick=${() => setF({ ...f, prices: [...f.prices, { interval: "year", currency: f.currency || "USD", amount: "0" }] })}>${t("admin_plans.add_a_price")}</button>
    </fieldset>
    <fieldset id="plan-limits"><legend>${t("admin_plans.limits_empty_unlimited")}</legend>
      <div class="grid">
        ${LIMITS().map(([k, label]) => html`<${Input} label=${label} name=${`limits.${k}`} type="number" value=${f.limits[k]} onInput=${setLimit(k)} error=${error} />`)}
      </div>
    </fieldset>
    <fieldset id="plan-features"><legend>${t("admin_plans.feature_flags")}</legend>
      <${FieldError} error=${error} name="features" />
      ${f.features.map(
        (x, i) => html`<div class="row" data-feature-row=${i}>
          <input aria-label=${t("admin_plans.feature_name", { value: i + 1 })} value=${x.key} onInput=${(e) => setFeature(i, "key")(e.target.value)} />
          <label><input type="checkbox" checked=${x.on} onChange=${(e) => setFeature(i, "on")(e.target.checked)} /> ${t("common.on")}</label>
          <button type="button" aria-label=${t("admin_plans.remove_feature", { value: i + 1 })} onClick=${() => setF({ ...f, features: f.features.filter((_, j) => j !== i) })}>${t("common.remove")}</button>
        </div>`,
      )}
      <button type="button" id="plan-add-feature" onClick=${() => setF({ ...f, features: [...f.features, { key: "", on: true }] })}>${t("admin_plans.add_a_feature_flag")}</button>
    </fieldset>
    <div class="row">
      <label><input type="checkbox" name="is_public" checked=${f.is_public} onChange=${(e) => set("is_public")(e.target.checked)} /> ${t("admin_plans.shown_on_the_pricing_page")}</label>
      <label><input type="checkbox" name="is_active" checked=${f.is_active} onChange=${(e) => set("is_active")(e.target.checked)} /> ${t("admin_plans.active_unchecked_archived")}</label>
    </div>
    <div class="row">
      <button class="primary" type="submit" disabled=${busy}>${plan ? t("admin_plans.save_plan") : t("admin_plans.create_plan")}</button>
      <button type="button" onClick=${onCancel}>${t("common.cancel")}</button>
    </div>
  </form>`;
}

function Warnings({ warnings }) {
  if (!warnings || !warnings.length) return null;
  return html`<div class="alert warning" role="status" id="plan-warnings">
    <strong>${t("admin_plans.saved_these_organizations_are_now")}</strong> ${t("admin_plans.they_keep_their_data_but")}
    <ul>${warnings.map((w) => html`<li data-over=${`${w.organization_id}:${w.limit}`}>${t("admin_plans.used_allowed", { organization_name: w.organization_name, limit: w.limit, used: w.used, allowed: w.allowed })}</li>`)}</ul>
  </div>`;
}

export function Plans() {
  const list = useLoad(() => get("/api/v1/admin/plans"));
  const [editing, setEditing] = useState(null); // null, "new" or a plan
  const [warnings, setWarnings] = useState([]);
  const saved = (change) => {
    toast(t("admin_plans.saved", { name: change.plan.name }));
    setWarnings(change.warnings);
    setEditing(null);
    list.reload();
  };
  const archive = async (p, active) => {
    try {
      const body = bodyOf(formOf(p));
      body.is_active = active;
      const change = await put(`/api/v1/admin/plans/${p.id}`, body);
      toast(active ? `Restored ${p.name}` : `Archived ${p.name}`);
      setWarnings(change.warnings);
      list.reload();
    } catch (err) {
      toastError(err);
    }
  };
  const limitText = (v) => (v == null ? t("admin_plans.unlimited") : v.toLocaleString(locale()));
  return html`<section aria-labelledby="plans-heading" id="admin-plans">
    <div class="row"><h2 id="plans-heading" style="flex:1">${t("admin_plans.plans")}</h2>
      ${editing === null && html`<button class="primary" id="plan-new" onClick=${() => (setWarnings([]), setEditing("new"))}>${t("admin_plans.new_plan")}</button>`}</div>
    <${Warnings} warnings=${warnings} />
    ${editing !== null && html`<${PlanForm} key=${editing === "new" ? "new" : editing.id} plan=${editing === "new" ? null : editing} onSaved=${saved} onCancel=${() => setEditing(null)} />`}
    <${ErrorBox} error=${list.error} />
    ${list.data && !list.data.length && html`<p class="muted" id="plans-empty">${t("admin_plans.no_plans_yet")}</p>`}
    ${list.data && list.data.length > 0 && html`<div class="card" style="overflow-x:auto"><table id="plans-table">
      <thead><tr><th>${t("admin_plans.plan")}</th><th>${t("admin_plans.prices")}</th><th>${t("admin_plans.trial")}</th>${LIMITS().map(([, l]) => html`<th>${l}</th>`)}<th>${t("admin_plans.features")}</th><th>${t("admin_plans.state")}</th><th></th></tr></thead>
      <tbody>${list.data.map(
        (p) => html`<tr data-plan=${p.name} data-active=${p.is_active ? "true" : "false"}>
          <td>${p.display_name}<div class="muted">${p.name}</div></td>
          <td data-prices>${p.prices.map((x) => html`<div>${money(x.amount, x.currency)} / ${x.interval}</div>`)}</td>
          <td>${t("admin_plans.days", { trial_days: p.trial_days })}</td>
          ${LIMITS().map(([k]) => html`<td data-limit=${k}>${limitText(p.limits[k])}</td>`)}
          <td>${Object.entries(p.features).map(([k, v]) => html`<div>${v ? "✓" : "✗"} ${k}</div>`)}</td>
          <td>${p.is_active ? html`<span class="badge ok">${t("common.active")}</span>` : html`<span class="badge bad">${t("admin_plans.archived")}</span>`}${p.is_public ? "" : html` <span class="badge">${t("admin_plans.hidden")}</span>`}</td>
          <td><button onClick=${() => (setWarnings([]), setEditing(p))} aria-label=${t("admin_plans.edit", { name: p.name })} data-edit=${p.name}>${t("common.edit")}</button>
            ${p.is_active
              ? html`<button class="danger" onClick=${() => archive(p, false)} aria-label=${t("admin_plans.archive_2", { name: p.name })} data-archive=${p.name}>${t("admin_plans.archive")}</button>`
              : html`<button onClick=${() => archive(p, true)} aria-label=${t("admin_plans.restore_2", { name: p.name })} data-restore=${p.name}>${t("admin_plans.restore")}</button>`}</td>
        </tr>`,
      )}</tbody>
    </table></div>`}
  </section>`;
}
