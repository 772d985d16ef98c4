//! An organization's Stripe subscription: its state, Checkout for a new
//! one, the Customer Portal (payment method, invoices at Stripe), a plan
//! change with its proration preview, cancel at period end and resume.
//! Every route needs `billing.manage` (owners and admins).
//!
//! Stripe stays the truth: each change is made there, and its answer (the
//! subscription object) is applied here at once with the same rules as a
//! webhook, so the page shows the change before the webhook arrives.

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::plans::{self, Interval, Plan};
use super::stripe::Stripe;
use super::stripe::client::{ChangeRequest, CheckoutRequest};
use super::stripe::event::{self, timestamp};
use super::stripe::store::{self, SubscriptionRow};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::{Json, OrgScope, Tenant};
use crate::permissions::perm;

fn monthly() -> Interval {
    Interval::Month
}

/// The organization's subscription as the billing page shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[allow(clippy::struct_excessive_bools, reason = "independent flags of the API's view, not states of one machine")]
pub struct SubscriptionView {
    /// Billing is on (`billing.enabled`) on this instance.
    pub billing_enabled: bool,
    /// Stripe is set up: checkout, portal and plan changes work.
    pub stripe_configured: bool,
    /// The plan the organization's limits follow (`free` without a subscription).
    pub plan: String,
    /// `none`, `active`, `trialing`, `past_due`, `canceled`, `unpaid` or `incomplete`.
    pub status: String,
    pub billing_cycle: Option<String>,
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
    /// The subscription ends at the end of the period (resume to keep it).
    pub cancel_at_period_end: bool,
    pub trial_end: Option<String>,
    pub canceled_at: Option<String>,
    /// When the overdue payment began the grace period.
    pub past_due_since: Option<String>,
    /// When the grace period ends (then new conversations get the notice).
    pub grace_ends_at: Option<String>,
    /// Dunning restricts the organization now: new conversations are
    /// answered with the notice until the payment succeeds.
    pub restricted: bool,
    /// A Stripe customer exists (the portal can be opened).
    pub has_customer: bool,
}

/// A plan, billing interval and currency to subscribe or switch to.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanChoice {
    /// The plan's name (e.g. `pro`).
    pub plan: String,
    /// `month` (default) or `year`.
    #[serde(default = "monthly")]
    pub interval: Interval,
    /// ISO 4217 code of one of the plan's prices (default: the plan's main currency).
    #[serde(default)]
    pub currency: Option<String>,
}

/// A plan change; pass the preview's `proration_date` so the charge equals
/// the preview.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlanRequest {
    pub plan: String,
    #[serde(default = "monthly")]
    pub interval: Interval,
    #[serde(default)]
    pub currency: Option<String>,
    /// Unix seconds, from the preview (default: now).
    pub proration_date: Option<i64>,
}

/// Where to send the browser.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RedirectView {
    pub url: String,
    /// The Checkout Session or Portal session id.
    pub id: String,
}

/// One line of a proration preview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewLine {
    pub description: Option<String>,
    /// Minor units; negative for credit of unused time.
    pub amount: i64,
    pub proration: bool,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
}

/// What a plan change would cost now (Stripe's invoice preview).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProrationPreview {
    pub plan: String,
    pub interval: Interval,
    pub currency: String,
    /// The prorated amount of the change alone (credit and charge), minor units.
    pub proration_amount: i64,
    /// What the next invoice totals with the change, minor units.
    pub amount_due: i64,
    /// Unix seconds the proration is computed at; pass it to the change.
    pub proration_date: i64,
    pub lines: Vec<PreviewLine>,
}

/// Registers the routes.
pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_subscription)
        .service(create_checkout)
        .service(create_portal)
        .service(preview_change)
        .service(change_plan)
        .service(cancel_subscription)
        .service(resume_subscription);
}

/// Shows the organization's subscription and dunning state.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `billing_disabled`")),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[get("/orgs/{org_id}/billing/subscription")]
async fn get_subscription(
    scope: OrgScope<perm::BillingManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<SubscriptionView>> {
    super::require_enabled(&state.config.billing)?;
    Ok(web::Json(view(&state, scope.into_tenant()).await?))
}

/// Starts a subscription: answers the Stripe Checkout URL to send the browser to.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = PlanChoice,
    responses((status = 201, body = RedirectView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `billing_disabled`"),
              (status = 409, body = ErrorBody, description = "`billing_not_configured` (Stripe not set up) or `already_subscribed`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`plan`, `interval`, `currency`)"),
              (status = 502, body = ErrorBody, description = "`stripe_unavailable`")),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[post("/orgs/{org_id}/billing/checkout")]
async fn create_checkout(
    scope: OrgScope<perm::BillingManage>,
    state: web::Data<AppState>,
    body: Json<PlanChoice>,
) -> AppResult<HttpResponse> {
    let choice = body.into_inner()?;
    Ok(HttpResponse::Created().json(checkout(&state, scope.into_tenant(), &choice).await?))
}

/// Opens the Stripe Customer Portal (payment method, invoices): answers its URL.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 201, body = RedirectView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `billing_disabled`"),
              (status = 409, body = ErrorBody, description = "`billing_not_configured` (Stripe not set up)"), (status = 502, body = ErrorBody)),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[post("/orgs/{org_id}/billing/portal")]
async fn create_portal(scope: OrgScope<perm::BillingManage>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let stripe = Stripe::from_state(&state)?;
    let tenant = scope.into_tenant();
    let customer = ensure_customer(&state, &stripe, &tenant).await?;
    let return_url = format!("{}/settings/billing", state.config.public_url());
    let session = stripe.create_portal_session(&customer, &return_url).await?;
    Ok(HttpResponse::Created().json(redirect(&session)?))
}

/// Previews a plan change: the prorated amount and the next invoice.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = PlanChoice,
    responses((status = 200, body = ProrationPreview), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `billing_disabled`"),
              (status = 409, body = ErrorBody, description = "`billing_not_configured` (Stripe not set up) or `no_subscription`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`plan`, `interval`, `currency`)"), (status = 502, body = ErrorBody)),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[post("/orgs/{org_id}/billing/subscription/preview")]
async fn preview_change(
    scope: OrgScope<perm::BillingManage>,
    state: web::Data<AppState>,
    body: Json<PlanChoice>,
) -> AppResult<web::Json<ProrationPreview>> {
    let choice = body.into_inner()?;
    Ok(web::Json(preview(&state, scope.into_tenant(), &choice).await?))
}

/// Switches the subscription to another plan or interval, prorated.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = ChangePlanRequest,
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `billing_disabled`"),
              (status = 409, body = ErrorBody, description = "`billing_not_configured` (Stripe not set up) or `no_subscription`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`plan`, `interval`, `proration_date`)"), (status = 502, body = ErrorBody)),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[post("/orgs/{org_id}/billing/subscription/change")]
async fn change_plan(
    scope: OrgScope<perm::BillingManage>,
    state: web::Data<AppState>,
    body: Json<ChangePlanRequest>,
) -> AppResult<web::Json<SubscriptionView>> {
    let request = body.into_inner()?;
    let tenant = scope.into_tenant();
    change(&state, &tenant, &request).await?;
    Ok(web::Json(view(&state, tenant).await?))
}

/// Cancels the subscription at the end of the paid period.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `billing_disabled`"),
              (status = 409, body = ErrorBody, description = "`billing_not_configured` (Stripe not set up) or `no_subscription`"), (status = 502, body = ErrorBody)),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[post("/orgs/{org_id}/billing/subscription/cancel")]
async fn cancel_subscription(
    scope: OrgScope<perm::BillingManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<SubscriptionView>> {
    let tenant = scope.into_tenant();
    set_cancel_at_period_end(&state, &tenant, true).await?;
    Ok(web::Json(view(&state, tenant).await?))
}

/// Resumes a subscription that was set to cancel at the period end.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = SubscriptionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `billing_disabled`"),
              (status = 409, body = ErrorBody, description = "`billing_not_configured` (Stripe not set up) or `no_subscription`"), (status = 502, body = ErrorBody)),
    security(("session" = ["billing.manage"]), ("api_token" = ["billing.manage"]))
)]
#[post("/orgs/{org_id}/billing/subscription/resume")]
async fn resume_subscription(
    scope: OrgScope<perm::BillingManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<SubscriptionView>> {
    let tenant = scope.into_tenant();
    set_cancel_at_period_end(&state, &tenant, false).await?;
    Ok(web::Json(view(&state, tenant).await?))
}

/// The subscription view of an organization.
pub async fn view(state: &AppState, tenant: Tenant) -> AppResult<SubscriptionView> {
    let config = state.config.billing.clone();
    state
        .db
        .read(move |c| {
            let org = store::org_billing(c, &tenant)?;
            let row = store::subscription(c, &tenant)?;
            let grace_ends_at = row
                .as_ref()
                .and_then(|r| r.past_due_since.as_deref())
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                .map(|t| {
                    crate::db::format_timestamp((t + chrono::Duration::days(i64::from(config.grace_days))).to_utc())
                });
            Ok(SubscriptionView {
                billing_enabled: config.enabled,
                stripe_configured: config.stripe_ready(),
                plan: org.plan_tier,
                status: row.as_ref().map_or_else(|| "none".to_owned(), |r| r.status.clone()),
                billing_cycle: row.as_ref().map(|r| r.billing_cycle.clone()),
                current_period_start: row.as_ref().and_then(|r| r.current_period_start.clone()),
                current_period_end: row.as_ref().and_then(|r| r.current_period_end.clone()),
                cancel_at_period_end: row.as_ref().is_some_and(|r| r.cancel_at_period_end),
                trial_end: row.as_ref().and_then(|r| r.trial_end.clone()),
                canceled_at: row.as_ref().and_then(|r| r.canceled_at.clone()),
                past_due_since: row.as_ref().and_then(|r| r.past_due_since.clone()),
                grace_ends_at,
                restricted: row
                    .as_ref()
                    .is_some_and(|r| r.restricted_at.is_some() && matches!(r.status.as_str(), "past_due" | "unpaid")),
                has_customer: org.stripe_customer_id.is_some(),
            })
        })
        .await
}

/// A subscription that Stripe still bills (may be changed or canceled).
fn is_live(row: &SubscriptionRow) -> bool {
    row.stripe_subscription_id.is_some() && matches!(row.status.as_str(), "active" | "trialing" | "past_due" | "unpaid")
}

/// The active plan and its Stripe price for the interval and currency, or
/// 422 naming the field at fault.
async fn priced_plan(
    state: &AppState,
    name: &str,
    interval: Interval,
    currency: Option<&str>,
) -> AppResult<(Plan, String)> {
    let key = name.trim().to_ascii_lowercase();
    let plan = state
        .db
        .read(move |c| Ok(plans::find_by_name(c, &key)?))
        .await?
        .filter(|p| p.is_active)
        .ok_or_else(|| AppError::validation("plan", format!("no active plan is named `{name}`")))?;
    let currency = currency.map_or_else(|| plan.currency.clone(), str::to_ascii_uppercase);
    let price = plan
        .price(interval, &currency)
        .ok_or_else(|| {
            AppError::validation(
                "currency",
                format!("the plan `{}` has no {} price in {currency}", plan.name, interval.as_str()),
            )
        })?
        .stripe_price_id
        .clone()
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| {
            AppError::validation(
                "interval",
                format!("the plan `{}` has no Stripe price for its {} {currency} price", plan.name, interval.as_str()),
            )
        })?;
    Ok((plan, price))
}

/// The organization's Stripe customer, created (and stored) on first use
/// with the acting user's email.
async fn ensure_customer(state: &AppState, stripe: &Stripe, tenant: &Tenant) -> AppResult<String> {
    let (t, user) = (tenant.clone(), tenant.user_id());
    let (org, email) = state
        .db
        .read(move |c| {
            let org = store::org_billing(c, &t)?;
            let email = match user {
                Some(u) => store::user_email(c, u)?,
                None => None,
            };
            Ok((org, email))
        })
        .await?;
    if let Some(customer) = org.stripe_customer_id {
        return Ok(customer);
    }
    let created = stripe.create_customer(email.as_deref().unwrap_or_default(), &org.name, tenant.org_id().0).await?;
    let customer = created["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("Stripe answered a customer without id")))?;
    let (t, c) = (tenant.clone(), customer.clone());
    state.db.write(move |tx| Ok(store::set_customer(tx, &t, &c)?)).await?;
    Ok(customer)
}

fn redirect(session: &Value) -> AppResult<RedirectView> {
    match (session["url"].as_str(), session["id"].as_str()) {
        (Some(url), Some(id)) => Ok(RedirectView { url: url.to_owned(), id: id.to_owned() }),
        _ => Err(AppError::new(ErrorCode::StripeUnavailable, "the payment provider answered a session without URL")),
    }
}

/// Creates a Checkout Session for a new subscription.
pub async fn checkout(state: &AppState, tenant: Tenant, choice: &PlanChoice) -> AppResult<RedirectView> {
    let stripe = Stripe::from_state(state)?;
    let (plan, price) = priced_plan(state, &choice.plan, choice.interval, choice.currency.as_deref()).await?;
    let t = tenant.clone();
    if let Some(row) = state.db.read(move |c| Ok(store::subscription(c, &t)?)).await?
        && is_live(&row)
    {
        return Err(AppError::new(
            ErrorCode::AlreadySubscribed,
            format!("the organization already subscribes to {}; change the plan instead", row.plan_name),
        ));
    }
    let customer = ensure_customer(state, &stripe, &tenant).await?;
    let base = state.config.public_url();
    let success_url = format!("{base}/settings/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}");
    let cancel_url = format!("{base}/settings/billing?checkout=canceled");
    let session = stripe
        .create_checkout_session(&CheckoutRequest {
            customer: &customer,
            price: &price,
            trial_days: plan.trial_days,
            org_id: tenant.org_id().0,
            success_url: &success_url,
            cancel_url: &cancel_url,
        })
        .await?;
    redirect(&session)
}

/// The live subscription and its first item, fetched from Stripe.
async fn live_subscription(
    state: &AppState,
    stripe: &Stripe,
    tenant: &Tenant,
) -> AppResult<(SubscriptionRow, String, String)> {
    let t = tenant.clone();
    let row = state
        .db
        .read(move |c| Ok(store::subscription(c, &t)?))
        .await?
        .filter(is_live)
        .ok_or_else(|| AppError::new(ErrorCode::NoSubscription, "the organization has no live subscription"))?;
    let (Some(sub_id), Some(customer)) = (row.stripe_subscription_id.clone(), row.stripe_customer_id.clone()) else {
        return Err(AppError::new(ErrorCode::NoSubscription, "the organization has no live subscription"));
    };
    let object = stripe.get_subscription(&sub_id).await?;
    let item = event::subscription(&object)
        .ok()
        .and_then(|s| s.item)
        .ok_or_else(|| AppError::new(ErrorCode::StripeUnavailable, "the subscription has no item to change"))?;
    Ok((SubscriptionRow { stripe_customer_id: Some(customer.clone()), ..row }, item, customer))
}

/// Stripe's invoice preview of a plan change.
pub async fn preview(state: &AppState, tenant: Tenant, choice: &PlanChoice) -> AppResult<ProrationPreview> {
    let stripe = Stripe::from_state(state)?;
    let (plan, price) = priced_plan(state, &choice.plan, choice.interval, choice.currency.as_deref()).await?;
    let (row, item, customer) = live_subscription(state, &stripe, &tenant).await?;
    let proration_date = chrono::Utc::now().timestamp();
    let sub_id = row.stripe_subscription_id.unwrap_or_default();
    let invoice = stripe
        .preview_change(&ChangeRequest {
            customer: &customer,
            subscription: &sub_id,
            item: &item,
            price: &price,
            proration_date,
        })
        .await?;
    let lines: Vec<PreviewLine> = invoice["lines"]["data"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|l| PreviewLine {
            description: l["description"].as_str().map(str::to_owned),
            amount: l["amount"].as_i64().unwrap_or(0),
            proration: l["proration"].as_bool().unwrap_or(false)
                || l["parent"]["subscription_item_details"]["proration"].as_bool().unwrap_or(false),
            period_start: l["period"]["start"].as_i64().and_then(timestamp),
            period_end: l["period"]["end"].as_i64().and_then(timestamp),
        })
        .collect();
    Ok(ProrationPreview {
        plan: plan.name,
        interval: choice.interval,
        currency: invoice["currency"].as_str().unwrap_or(&plan.currency).to_ascii_uppercase(),
        proration_amount: lines.iter().filter(|l| l.proration).map(|l| l.amount).sum(),
        amount_due: invoice["amount_due"].as_i64().or_else(|| invoice["total"].as_i64()).unwrap_or(0),
        proration_date,
        lines,
    })
}

/// Applies a subscription object Stripe answered to our row.
async fn apply_answer(state: &AppState, tenant: &Tenant, object: Value) -> AppResult<()> {
    let sub = event::subscription(&object)?;
    let (org, config, at) = (tenant.org_id(), state.config.billing.clone(), chrono::Utc::now().timestamp());
    let emails = state.db.write(move |tx| super::webhooks::apply_answer(tx, &config, org, &sub, at)).await?;
    state.runtime.forget_billing(org);
    if emails > 0 {
        state.jobs.notify();
    }
    Ok(())
}

/// Switches the live subscription's price (prorated at `proration_date`).
pub async fn change(state: &AppState, tenant: &Tenant, request: &ChangePlanRequest) -> AppResult<()> {
    let stripe = Stripe::from_state(state)?;
    let (_plan, price) = priced_plan(state, &request.plan, request.interval, request.currency.as_deref()).await?;
    let now = chrono::Utc::now().timestamp();
    let proration_date = request.proration_date.unwrap_or(now);
    // Stripe takes a proration date in the current period, not in the future.
    if proration_date > now || now - proration_date > 86_400 {
        return Err(AppError::validation("proration_date", "must be a preview's date from the last 24 hours"));
    }
    let (row, item, customer) = live_subscription(state, &stripe, tenant).await?;
    let sub_id = row.stripe_subscription_id.unwrap_or_default();
    let object = stripe
        .change_price(&ChangeRequest {
            customer: &customer,
            subscription: &sub_id,
            item: &item,
            price: &price,
            proration_date,
        })
        .await?;
    apply_answer(state, tenant, object).await
}

/// Cancels at the period end (`true`) or resumes (`false`).
pub async fn set_cancel_at_period_end(state: &AppState, tenant: &Tenant, cancel: bool) -> AppResult<()> {
    let stripe = Stripe::from_state(state)?;
    let t = tenant.clone();
    let row = state
        .db
        .read(move |c| Ok(store::subscription(c, &t)?))
        .await?
        .filter(is_live)
        .ok_or_else(|| AppError::new(ErrorCode::NoSubscription, "the organization has no live subscription"))?;
    let sub_id = row.stripe_subscription_id.unwrap_or_default();
    let mut form = Vec::new();
    super::stripe::client::field(&mut form, "cancel_at_period_end", cancel);
    let object = stripe.update_subscription(&sub_id, &form).await?;
    apply_answer(state, tenant, object).await
}
