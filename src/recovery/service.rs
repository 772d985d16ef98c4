//! Recovery rules: campaign validation, event intake (dedupe, contact
//! matching, audience, opt-out), sequence scheduling in the recipient's
//! timezone, conversions, signed links and analytics.

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use regex::Regex;
use rusqlite::Connection;
use serde_json::{Value, json};

use super::dispatch;
use super::model::{
    RecoveryAnalytics, RecoveryAnalyticsQuery, RecoveryCampaign, RecoveryCampaignId, RecoveryCampaignRequest,
    RecoveryEvent, RecoveryEventRequest, RecoveryIngest, RecoveryMessage, RecoveryMessageFilter, RecoveryMessageId,
    RecoveryPreview, RecoverySource, RecoverySourceId, RecoverySourceRequest, RecoveryStep, RecoveryTestRequest,
    STEP_CHANNELS, TRIGGERS,
};
use super::schedule::{Daily, Rules};
use super::store::{self, CampaignFields, NewEvent, NewMessage};
use crate::app::AppState;
use crate::crypto::{Keys, constant_time_eq, random_token, sha256};
use crate::db::format_timestamp;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::csv::CsvWriter;
use crate::http::{Page, PageParams, Tenant};
use crate::ids::OrgId;

pub(crate) fn campaign_not_found() -> AppError {
    AppError::new(ErrorCode::RecoveryCampaignNotFound, "no such recovery campaign")
}

pub(crate) fn source_not_found() -> AppError {
    AppError::new(ErrorCode::RecoverySourceNotFound, "no such recovery event source")
}

fn link_invalid() -> AppError {
    AppError::new(ErrorCode::RecoveryLinkInvalid, "this link is not valid")
}

/// The `recovery_campaigns.campaign_type` of a trigger.
fn campaign_type(trigger: &str) -> &'static str {
    match trigger {
        "abandoned_cart" => "cart_abandonment",
        "failed_payment" => "payment_failed",
        "churn_risk" => "churn_prevention",
        "inactivity" => "inactive_user",
        "win_back" => "winback",
        _ => "custom",
    }
}

/// An event type of the generic schema: its `recovery_events.event_type` and trigger.
fn event_kind(event_type: &str) -> Option<(&'static str, &'static str)> {
    Some(match event_type {
        "cart_abandoned" => ("cart_abandoned", "abandoned_cart"),
        "checkout_abandoned" => ("checkout_abandoned", "abandoned_cart"),
        "payment_failed" => ("payment_failed", "failed_payment"),
        "churn_risk" => ("churn_risk_detected", "churn_risk"),
        "inactive" => ("inactive_detected", "inactivity"),
        "subscription_cancelled" => ("subscription_cancelled", "win_back"),
        "custom" => ("custom", "custom"),
        _ => return None,
    })
}

const COMMON_FIELDS: [&str; 7] = [
    "customer.id",
    "customer.email",
    "customer.phone",
    "customer.name",
    "customer.first_name",
    "campaign.name",
    "unsubscribe_url",
];

/// The fields a trigger's events provide to templates.
#[must_use]
pub fn trigger_fields(trigger: &str) -> Vec<&'static str> {
    let extra: &[&'static str] = match trigger {
        "abandoned_cart" => &["cart.items", "cart.total", "amount", "currency", "checkout_url"],
        "failed_payment" => &["amount", "currency", "invoice_id", "payment_url"],
        "custom" => &["amount", "currency", "cart.items", "cart.total", "checkout_url", "payment_url", "data.*"],
        // Internal events (health, inactivity, usage drops) carry their facts in `data`.
        "churn_risk" | "inactivity" | "win_back" => &["data.*"],
        _ => &[],
    };
    COMMON_FIELDS.iter().chain(extra).copied().collect()
}

static PLACEHOLDER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"\{\{\s*([^{}]*?)\s*\}\}").ok());

fn placeholders(text: &str) -> Vec<String> {
    PLACEHOLDER.as_ref().map(|re| re.captures_iter(text).map(|c| c[1].to_owned()).collect()).unwrap_or_default()
}

fn check_placeholders(trigger: &str, field: &str, text: &str) -> AppResult<()> {
    let known = trigger_fields(trigger);
    for p in placeholders(text) {
        let ok = known.contains(&p.as_str()) || (known.contains(&"data.*") && p.starts_with("data.") && p.len() > 5);
        if !ok {
            return Err(AppError::new(
                ErrorCode::RecoveryTemplateField,
                format!("`{{{{{p}}}}}` is not a field of {trigger} events"),
            )
            .with_details(json!({ "field": field, "placeholder": p, "known": known })));
        }
    }
    Ok(())
}

fn check_range(field: &str, r: Option<&super::model::RecoveryTimeRange>) -> AppResult<Option<Daily>> {
    let Some(r) = r else { return Ok(None) };
    let daily = Daily::parse(&r.start, &r.end);
    let Some(daily) = daily else {
        let bad = if super::schedule::parse_hm(&r.start).is_none() { "start" } else { "end" };
        return Err(AppError::validation(format!("{field}.{bad}"), "a local time HH:MM (00:00–23:59)"));
    };
    if daily.start == daily.end {
        return Err(AppError::validation(field, "the interval is empty: start and end are the same time"));
    }
    Ok(Some(daily))
}

fn parse_tz(field: &str, tz: &str) -> AppResult<Tz> {
    tz.parse::<Tz>().map_err(|_| AppError::validation(field, "not an IANA timezone name (e.g. Europe/Paris)"))
}

/// The send rules of a campaign as stored (checked at save).
fn rules_of(c: &RecoveryCampaign) -> Rules {
    Rules {
        window: c.send_window.as_ref().and_then(|w| Daily::parse(&w.start, &w.end)),
        quiet: c.quiet_hours.as_ref().and_then(|q| Daily::parse(&q.start, &q.end)),
    }
}

struct Checked {
    req: RecoveryCampaignRequest,
    status: String,
    timezone: String,
    max_per_day: i64,
}

fn check_campaign(conn: &Connection, tenant: &Tenant, mut req: RecoveryCampaignRequest) -> AppResult<Checked> {
    req.name = req.name.trim().to_owned();
    if req.name.is_empty() || req.name.chars().count() > 200 {
        return Err(AppError::validation("name", "must be 1–200 characters"));
    }
    if !TRIGGERS.contains(&req.trigger.as_str()) {
        return Err(AppError::validation("trigger", format!("one of {}", TRIGGERS.join(", "))));
    }
    if req.trigger == "custom" {
        let name = req.custom_event.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() || name.len() > 100 {
            return Err(AppError::validation(
                "custom_event",
                "a custom trigger needs the event name (1–100 characters)",
            ));
        }
        req.custom_event = Some(name.to_owned());
    } else if req.custom_event.is_some() {
        return Err(AppError::validation("custom_event", "only custom triggers take an event name"));
    }
    let status = req.status.clone().unwrap_or_else(|| "draft".to_owned());
    if !["draft", "active", "paused", "archived"].contains(&status.as_str()) {
        return Err(AppError::validation("status", "draft, active, paused or archived"));
    }
    if req.steps.is_empty() {
        return Err(AppError::validation("steps", "a sequence needs at least one step"));
    }
    if req.steps.len() > 10 {
        return Err(AppError::validation("steps", "at most 10 steps"));
    }
    for (i, step) in req.steps.iter_mut().enumerate() {
        check_step(conn, tenant, &req.trigger, i, step)?;
    }
    if let (Some(min), Some(max)) = (req.audience.min_value, req.audience.max_value)
        && min > max
    {
        return Err(AppError::validation("audience.max_value", "must not be below min_value"));
    }
    if req.audience.tags_any.len() > 50 {
        return Err(AppError::validation("audience.tags_any", "at most 50 tags"));
    }
    let window = check_range("send_window", req.send_window.as_ref())?;
    let quiet = check_range("quiet_hours", req.quiet_hours.as_ref())?;
    if !(Rules { window, quiet }).ever_open() {
        return Err(AppError::validation("send_window", "the send window is empty once the quiet hours are taken out"));
    }
    let timezone = req.timezone.clone().unwrap_or_else(|| "UTC".to_owned());
    parse_tz("timezone", &timezone)?;
    let max_per_day = req.max_messages_per_day.unwrap_or(3);
    if !(1..=100).contains(&max_per_day) {
        return Err(AppError::validation("max_messages_per_day", "between 1 and 100"));
    }
    Ok(Checked { req, status, timezone, max_per_day })
}

fn check_step(conn: &Connection, tenant: &Tenant, trigger: &str, i: usize, step: &mut RecoveryStep) -> AppResult<()> {
    let f = |name: &str| format!("steps[{i}].{name}");
    if !STEP_CHANNELS.contains(&step.channel.as_str()) {
        return Err(AppError::validation(f("channel"), format!("one of {}", STEP_CHANNELS.join(", "))));
    }
    if let Some(fb) = &step.fallback_channel {
        if !STEP_CHANNELS.contains(&fb.as_str()) || *fb == step.channel {
            return Err(AppError::validation(f("fallback_channel"), "another of email, whatsapp, sms, telegram"));
        }
        if fb == "whatsapp" {
            return Err(AppError::validation(
                f("fallback_channel"),
                "WhatsApp needs a template: make it the step's channel",
            ));
        }
    }
    if step.delay_minutes > 60 * 24 * 90 {
        return Err(AppError::validation(f("delay_minutes"), "at most 90 days"));
    }
    step.body = step.body.trim().to_owned();
    let needs_body = step.channel != "whatsapp" || step.fallback_channel.is_some();
    if needs_body && step.body.is_empty() {
        return Err(AppError::validation(f("body"), "the message text is empty"));
    }
    if step.body.chars().count() > 4000 {
        return Err(AppError::validation(f("body"), "at most 4000 characters"));
    }
    check_placeholders(trigger, &f("body"), &step.body)?;
    if let Some(s) = &step.subject {
        if s.chars().count() > 200 {
            return Err(AppError::validation(f("subject"), "at most 200 characters"));
        }
        check_placeholders(trigger, &f("subject"), s)?;
    }
    if step.variants.len() > 4 {
        return Err(AppError::validation(f("variants"), "at most 4 variants besides the step's own message"));
    }
    if !step.variants.is_empty() && step.channel == "whatsapp" {
        return Err(AppError::validation(
            f("variants"),
            "WhatsApp steps send an approved template: variants are for text channels",
        ));
    }
    for (j, v) in step.variants.iter_mut().enumerate() {
        v.body = v.body.trim().to_owned();
        let field = format!("steps[{i}].variants[{j}].body");
        if v.body.is_empty() || v.body.chars().count() > 4000 {
            return Err(AppError::validation(field, "the variant's text: 1–4000 characters"));
        }
        check_placeholders(trigger, &field, &v.body)?;
        if let Some(s) = &v.subject {
            let field = format!("steps[{i}].variants[{j}].subject");
            if s.chars().count() > 200 {
                return Err(AppError::validation(field, "at most 200 characters"));
            }
            check_placeholders(trigger, &field, s)?;
        }
    }
    if step.rewrite && step.channel == "whatsapp" {
        return Err(AppError::validation(
            f("rewrite"),
            "WhatsApp templates are approved as written: they cannot be rewritten",
        ));
    }
    if step.channel == "whatsapp" {
        let Some(t) = step.template_id else {
            return Err(AppError::validation(f("template_id"), "WhatsApp steps send an approved message template"));
        };
        let vars: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT content FROM channel_templates WHERE id = ?1 AND organization_id = ?2",
            rusqlite::params![t, tenant.org_id()],
            |r| r.get(0),
        ))?;
        let Some(body) = vars else {
            return Err(AppError::validation(f("template_id"), "no such WhatsApp template in this organization"));
        };
        let n = crate::channels::templates::service::variable_count(&body).unwrap_or(0);
        if step.template_variables.len() != n {
            return Err(AppError::validation(
                f("template_variables"),
                format!("the template has {n} variables, {} values were given", step.template_variables.len()),
            ));
        }
        for (j, v) in step.template_variables.iter().enumerate() {
            check_placeholders(trigger, &format!("steps[{i}].template_variables[{j}]"), v)?;
        }
    } else if step.template_id.is_some() || !step.template_variables.is_empty() {
        return Err(AppError::validation(f("template_id"), "only WhatsApp steps use templates"));
    }
    if let Some(id) = step.channel_id {
        let kind: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT type FROM channels WHERE id = ?1 AND organization_id = ?2",
            rusqlite::params![id, tenant.org_id()],
            |r| r.get(0),
        ))?;
        if kind.as_deref() != Some(step.channel.as_str()) {
            return Err(AppError::validation(f("channel_id"), format!("no {} channel with this id", step.channel)));
        }
    }
    Ok(())
}

fn fields<'a>(c: &'a Checked, rules: &'a str, steps: &'a str, channels: &'a str) -> CampaignFields<'a> {
    CampaignFields {
        name: &c.req.name,
        description: c.req.description.as_deref(),
        campaign_type: campaign_type(&c.req.trigger),
        status: &c.status,
        target_rules: rules.to_owned(),
        steps: steps.to_owned(),
        channels: channels.to_owned(),
        window: c.req.send_window.as_ref().map(|w| (w.start.as_str(), w.end.as_str())),
        timezone: &c.timezone,
        max_per_day: c.max_per_day,
    }
}

fn save(
    tx: &Connection,
    tenant: &Tenant,
    id: Option<RecoveryCampaignId>,
    req: RecoveryCampaignRequest,
) -> AppResult<RecoveryCampaignId> {
    let c = check_campaign(tx, tenant, req)?;
    if store::campaign_name_taken(tx, tenant, &c.req.name, id)? {
        return Err(AppError::new(ErrorCode::RecoveryCampaignExists, "a campaign with this name exists")
            .with_details(json!({ "field": "name" })));
    }
    let rules =
        store::target_rules(&c.req.trigger, c.req.custom_event.as_deref(), &c.req.audience, c.req.quiet_hours.as_ref());
    let steps = serde_json::to_string(&c.req.steps).map_err(AppError::internal)?;
    let mut kinds: Vec<&str> = c.req.steps.iter().map(|s| s.channel.as_str()).collect();
    kinds.dedup();
    let channels = json!(kinds).to_string();
    let f = fields(&c, &rules, &steps, &channels);
    match id {
        None => Ok(store::insert_campaign(tx, tenant, &f)?),
        Some(id) => {
            if store::update_campaign(tx, tenant, id, &f)? == 0 {
                return Err(campaign_not_found());
            }
            Ok(id)
        }
    }
}

pub async fn create_campaign(
    state: &AppState,
    tenant: Tenant,
    req: RecoveryCampaignRequest,
) -> AppResult<RecoveryCampaign> {
    state
        .db
        .write(move |tx| {
            let id = save(tx, &tenant, None, req)?;
            store::find_campaign(tx, &tenant, id)?.ok_or_else(campaign_not_found)
        })
        .await
}

pub async fn update_campaign(
    state: &AppState,
    tenant: Tenant,
    id: RecoveryCampaignId,
    req: RecoveryCampaignRequest,
) -> AppResult<RecoveryCampaign> {
    state
        .db
        .write(move |tx| {
            save(tx, &tenant, Some(id), req)?;
            store::find_campaign(tx, &tenant, id)?.ok_or_else(campaign_not_found)
        })
        .await
}

pub async fn get_campaign(state: &AppState, tenant: Tenant, id: RecoveryCampaignId) -> AppResult<RecoveryCampaign> {
    state.db.read(move |c| store::find_campaign(c, &tenant, id)?.ok_or_else(campaign_not_found)).await
}

pub async fn list_campaigns(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<RecoveryCampaign>> {
    let (after, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list_campaigns(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |c| c.id.0)
}

pub async fn delete_campaign(state: &AppState, tenant: Tenant, id: RecoveryCampaignId) -> AppResult<()> {
    let n = state.db.write(move |tx| Ok(store::delete_campaign(tx, &tenant, id)?)).await?;
    if n == 0 { Err(campaign_not_found()) } else { Ok(()) }
}

// Events in.

fn trimmed(s: Option<&String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn check_url(field: &str, url: Option<&String>) -> AppResult<Option<String>> {
    let Some(u) = trimmed(url) else { return Ok(None) };
    let ok = url::Url::parse(&u).is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
    if !ok || u.len() > 2048 {
        return Err(AppError::validation(field, "an http(s) URL of at most 2048 characters"));
    }
    Ok(Some(u))
}

/// A checked event: the template variables and the identity of the customer.
struct Intake {
    customer_id: String,
    email: Option<String>,
    phone: Option<String>,
    name: Option<String>,
    timezone: Option<String>,
    currency: String,
    amount: Option<i64>,
    vars: Value,
    source: String,
    source_id: Option<String>,
}

fn check_event(req: &RecoveryEventRequest) -> AppResult<Intake> {
    let email = trimmed(req.customer.email.as_ref()).map(|e| e.to_lowercase());
    if email.as_deref().is_some_and(|e| !e.contains('@') || e.len() > 320) {
        return Err(AppError::validation("customer.email", "not an email address"));
    }
    let phone = trimmed(req.customer.phone.as_ref()).map(|p| p.replace([' ', '-', '(', ')'], ""));
    if phone.as_deref().is_some_and(|p| {
        let digits = p.trim_start_matches('+');
        digits.len() < 6 || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit())
    }) {
        return Err(AppError::validation(
            "customer.phone",
            "a phone number in international format (+ and 6–15 digits)",
        ));
    }
    let customer_id = trimmed(req.customer.id.as_ref())
        .or_else(|| email.clone())
        .or_else(|| phone.clone())
        .ok_or_else(|| AppError::validation("customer", "the customer needs an id, an email or a phone number"))?;
    if customer_id.len() > 200 {
        return Err(AppError::validation("customer.id", "at most 200 characters"));
    }
    let timezone = trimmed(req.customer.timezone.as_ref());
    if let Some(tz) = &timezone {
        parse_tz("customer.timezone", tz)?;
    }
    let currency = trimmed(req.currency.as_ref()).unwrap_or_else(|| "USD".to_owned()).to_uppercase();
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(AppError::validation("currency", "an ISO 4217 code (e.g. EUR)"));
    }
    if req.amount.is_some_and(|a| a < 0) {
        return Err(AppError::validation("amount", "minor units, not negative"));
    }
    let source = trimmed(req.source.as_ref()).unwrap_or_else(|| "api".to_owned());
    if source.len() > 50 {
        return Err(AppError::validation("source", "at most 50 characters"));
    }
    let source_id = trimmed(req.source_id.as_ref());
    if source_id.as_deref().is_some_and(|s| s.len() > 200) {
        return Err(AppError::validation("source_id", "at most 200 characters"));
    }
    let checkout_url = check_url("checkout_url", req.checkout_url.as_ref())?;
    let payment_url = check_url("payment_url", req.payment_url.as_ref())?;
    if req.cart_items.len() > 200 {
        return Err(AppError::validation("cart_items", "at most 200 lines"));
    }
    let items: Vec<Value> =
        req.cart_items.iter().map(|i| json!({ "name": i.name, "quantity": i.quantity, "price": i.price })).collect();
    let name = trimmed(req.customer.name.as_ref());
    let vars = json!({
        "customer": { "id": customer_id, "email": email, "phone": phone, "name": name,
                      "first_name": name.as_deref().and_then(|n| n.split_whitespace().next()) },
        "cart": { "items": items, "total": req.amount },
        "amount": req.amount,
        "currency": currency,
        "checkout_url": checkout_url,
        "payment_url": payment_url,
        "invoice_id": req.data.get("invoice_id").cloned().unwrap_or(Value::Null),
        "data": Value::Object(req.data.clone()),
    });
    Ok(Intake { customer_id, email, phone, name, timezone, currency, amount: req.amount, vars, source, source_id })
}

/// Takes an event from the API, a source webhook or the platform itself.
/// Runs in the caller's transaction; queue jobs are created in it (notify after the commit).
#[allow(clippy::too_many_lines, reason = "the intake steps of one event, in order")]
pub fn ingest_in(tx: &Connection, tenant: &Tenant, req: &RecoveryEventRequest) -> AppResult<RecoveryIngest> {
    let intake = check_event(req)?;
    let org = tenant.org_id();
    if req.event_type == "conversion" {
        return convert_in(tx, org, &intake, req.order_id.as_deref(), None);
    }
    let Some((event_type, trigger)) = event_kind(&req.event_type) else {
        let reason = format!("unknown event type `{}`", req.event_type.chars().take(100).collect::<String>());
        let mut data = intake.vars.clone();
        data["rejected_reason"] = json!(reason);
        data["type"] = json!(req.event_type.chars().take(100).collect::<String>());
        let id = insert(tx, tenant, &intake, None, "custom", &data, "ignored")?;
        return Ok(RecoveryIngest {
            event_id: id,
            outcome: "rejected".into(),
            campaign_id: None,
            messages_scheduled: 0,
            reason: Some(reason),
        });
    };
    let custom_name = trimmed(req.name.as_ref());
    if trigger == "custom" && custom_name.is_none() {
        return Err(AppError::validation("name", "a custom event needs its name"));
    }
    if let Some(sid) = &intake.source_id
        && let Some((id, campaign)) = store::event_by_source(tx, tenant, &intake.source, sid)?
    {
        return Ok(RecoveryIngest {
            event_id: Some(id),
            outcome: "duplicate".into(),
            campaign_id: campaign,
            messages_scheduled: 0,
            reason: None,
        });
    }
    let mut data = intake.vars.clone();
    if let Some(n) = &custom_name {
        data["name"] = json!(n);
    }
    let (email, phone) = (intake.email.as_deref(), intake.phone.as_deref());
    if store::opted_out(tx, org, &intake.customer_id, email, phone)? {
        data["rejected_reason"] = json!("the customer opted out");
        let id = insert(tx, tenant, &intake, None, event_type, &data, "opted_out")?;
        return Ok(RecoveryIngest {
            event_id: id,
            outcome: "opted_out".into(),
            campaign_id: None,
            messages_scheduled: 0,
            reason: Some("the customer opted out".into()),
        });
    }
    let tags = store::contact_tags(tx, org, &intake.customer_id, email, phone)?;
    let campaign = store::active_campaigns(tx, tenant)?.into_iter().find(|c| {
        c.trigger == trigger
            && (trigger != "custom" || c.custom_event == custom_name)
            && c.audience.min_value.is_none_or(|m| intake.amount.unwrap_or(0) >= m)
            && c.audience.max_value.is_none_or(|m| intake.amount.unwrap_or(0) <= m)
            && (c.audience.tags_any.is_empty() || c.audience.tags_any.iter().any(|t| tags.contains(t)))
    });
    let Some(campaign) = campaign else {
        data["rejected_reason"] = json!("no active campaign takes this event");
        let id = insert(tx, tenant, &intake, None, event_type, &data, "ignored")?;
        return Ok(RecoveryIngest {
            event_id: id,
            outcome: "no_campaign".into(),
            campaign_id: None,
            messages_scheduled: 0,
            reason: Some("no active campaign takes this event".into()),
        });
    };
    let Some(event) = insert(tx, tenant, &intake, Some(campaign.id), event_type, &data, "processing")? else {
        return Ok(RecoveryIngest {
            event_id: None,
            outcome: "duplicate".into(),
            campaign_id: Some(campaign.id),
            messages_scheduled: 0,
            reason: None,
        });
    };
    let tz_name = intake
        .timezone
        .clone()
        .or(store::contact_timezone(tx, org, &intake.customer_id, email, phone)?.filter(|t| t.parse::<Tz>().is_ok()))
        .unwrap_or_else(|| campaign.timezone.clone());
    let tz: Tz = tz_name.parse().unwrap_or(Tz::UTC);
    let mut vars = data;
    vars["campaign"] = json!({ "name": campaign.name });
    vars["_timezone"] = json!(tz_name);
    let rules = rules_of(&campaign);
    let now = Utc::now();
    for (i, step) in campaign.steps.iter().enumerate() {
        let due = now + chrono::Duration::minutes(i64::from(step.delay_minutes));
        let at = rules.next_allowed(due, tz);
        let (subject, body, variant) = variant_for(step, campaign.id, i, &intake.customer_id);
        let mut message_vars = vars.clone();
        if let Some(v) = variant {
            message_vars["_variant"] = json!(v);
        }
        let id = store::insert_message(
            tx,
            tenant,
            &NewMessage {
                campaign: campaign.id,
                event,
                customer_id: &intake.customer_id,
                email,
                phone,
                channel: &step.channel,
                subject,
                body,
                variables: &message_vars,
                currency: &intake.currency,
                step: i64::try_from(i + 1).unwrap_or(1),
                scheduled_at: &format_timestamp(at),
            },
        )?;
        dispatch::enqueue_in(tx, org, id, (at - now).to_std().unwrap_or_default())?;
    }
    store::count_targeted(tx, campaign.id)?;
    Ok(RecoveryIngest {
        event_id: Some(event),
        outcome: "accepted".into(),
        campaign_id: Some(campaign.id),
        messages_scheduled: campaign.steps.len(),
        reason: None,
    })
}

/// The variant of step `i` customer `customer` gets: subject, body and its
/// label (`None` when the step has no variants). Deterministic: the same
/// customer always gets the same variant of a step.
#[must_use]
pub fn variant_for<'s>(
    step: &'s RecoveryStep,
    campaign: RecoveryCampaignId,
    i: usize,
    customer: &str,
) -> (Option<&'s str>, &'s str, Option<String>) {
    if step.variants.is_empty() {
        return (step.subject.as_deref(), &step.body, None);
    }
    let h = sha256(format!("recovery-variant:{campaign}:{i}:{customer}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&h[..8]);
    let n = u64::try_from(step.variants.len() + 1).unwrap_or(1);
    let pick = usize::try_from(u64::from_be_bytes(first) % n).unwrap_or(0);
    variant_at(step, pick)
}

/// Variant number `pick` of a step (0 = `A`, the step's own message).
#[must_use]
pub fn variant_at(step: &RecoveryStep, pick: usize) -> (Option<&str>, &str, Option<String>) {
    let label =
        (!step.variants.is_empty()).then(|| char::from(b'A' + u8::try_from(pick.min(25)).unwrap_or(0)).to_string());
    match pick.checked_sub(1).and_then(|j| step.variants.get(j)) {
        Some(v) => (v.subject.as_deref().or(step.subject.as_deref()), &v.body, label),
        None => (step.subject.as_deref(), &step.body, label.map(|_| "A".to_owned())),
    }
}

/// The placeholders of `text` (for checking a model's rewrite).
pub(crate) fn placeholder_set(text: &str) -> std::collections::BTreeSet<String> {
    placeholders(text).into_iter().collect()
}

fn insert(
    tx: &Connection,
    tenant: &Tenant,
    intake: &Intake,
    campaign: Option<RecoveryCampaignId>,
    event_type: &str,
    data: &Value,
    status: &str,
) -> AppResult<Option<super::model::RecoveryEventId>> {
    Ok(store::insert_event(
        tx,
        tenant,
        &NewEvent {
            campaign,
            customer_id: &intake.customer_id,
            email: intake.email.as_deref(),
            phone: intake.phone.as_deref(),
            name: intake.name.as_deref(),
            event_type,
            data,
            value: intake.amount,
            currency: &intake.currency,
            status,
            source: &intake.source,
            source_id: intake.source_id.as_deref(),
            occurred_at: &crate::db::now(),
        },
    )?)
}

/// A conversion (an order): stops the customer's sequence and attributes
/// the amount to the last message sent for it, once per order id.
fn convert_in(
    tx: &Connection,
    org: OrgId,
    intake: &Intake,
    order: Option<&str>,
    source_ref: Option<(&str, &str)>,
) -> AppResult<RecoveryIngest> {
    let order = order
        .map(str::trim)
        .filter(|o| !o.is_empty() && o.len() <= 200)
        .ok_or_else(|| AppError::validation("order_id", "a conversion needs the order's id (1–200 characters)"))?;
    let amount =
        intake.amount.ok_or_else(|| AppError::validation("amount", "a conversion needs the order's amount"))?;
    if store::order_attributed(tx, org, order)? {
        return Ok(RecoveryIngest {
            event_id: None,
            outcome: "duplicate".into(),
            campaign_id: None,
            messages_scheduled: 0,
            reason: None,
        });
    }
    let Some((event, campaign)) =
        store::conversion_target(tx, org, &intake.customer_id, intake.email.as_deref(), source_ref)?
    else {
        return Ok(RecoveryIngest {
            event_id: None,
            outcome: "unattributed".into(),
            campaign_id: None,
            messages_scheduled: 0,
            reason: Some("no open recovery of this customer".into()),
        });
    };
    store::convert(tx, org, event, campaign, order, amount)?;
    Ok(RecoveryIngest {
        event_id: Some(event),
        outcome: "converted".into(),
        campaign_id: campaign,
        messages_scheduled: 0,
        reason: None,
    })
}

pub(crate) fn convert_by_source(
    tx: &Connection,
    tenant: &Tenant,
    req: &RecoveryEventRequest,
    source: &str,
    checkout: Option<&str>,
) -> AppResult<RecoveryIngest> {
    let intake = check_event(req)?;
    convert_in(tx, tenant.org_id(), &intake, req.order_id.as_deref(), checkout.map(|c| (source, c)))
}

/// `POST /orgs/{org_id}/recovery/events`.
pub async fn ingest(state: &AppState, tenant: Tenant, req: RecoveryEventRequest) -> AppResult<RecoveryIngest> {
    let out = state.db.write(move |tx| ingest_in(tx, &tenant, &req)).await?;
    state.jobs.notify();
    if out.outcome == "rejected" {
        return Err(AppError::new(ErrorCode::RecoveryEventTypeUnknown, out.reason.clone().unwrap_or_default())
            .with_details(json!({ "field": "type", "event_id": out.event_id })));
    }
    Ok(out)
}

pub async fn list_events(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<RecoveryEvent>> {
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list_events(c, &tenant, before, limit)?)).await?;
    Page::from_rows(rows, &page, |e| e.id.0)
}

pub async fn list_messages(
    state: &AppState,
    tenant: Tenant,
    filter: RecoveryMessageFilter,
    page: PageParams,
) -> AppResult<Page<RecoveryMessage>> {
    let (after, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state
        .db
        .write(move |tx| {
            store::sync_statuses(tx, tenant.org_id())?;
            Ok(store::list_messages(tx, &tenant, filter.event_id, filter.campaign_id, after, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |m| m.id.0)
}

/// `at` (RFC 3339) in `tz`, RFC 3339 with the offset.
#[must_use]
pub fn local_time(at: &str, tz: &str) -> Option<String> {
    let tz: Tz = tz.parse().ok()?;
    let t = DateTime::parse_from_rfc3339(at).ok()?;
    Some(t.with_timezone(&tz).to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
}

// Rendering and links.

fn money(amount: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", amount / 100, (amount % 100).abs())
}

fn lookup<'v>(vars: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(vars, |v, key| v.get(key))
}

fn sign(keys: &Keys, what: &str) -> String {
    URL_SAFE_NO_PAD.encode(&keys.mac_token(&format!("recovery-link:{what}"))[..16])
}

/// The links of one message.
pub struct Links<'a> {
    pub keys: &'a Keys,
    pub base: &'a str,
    pub message: RecoveryMessageId,
}

impl Links<'_> {
    fn click(&self, field: &str) -> String {
        let what = format!("{}.{field}", self.message);
        format!("{}/api/v1/recovery-links/{what}.{}", self.base, sign(self.keys, &what))
    }

    fn unsubscribe(&self) -> String {
        let what = format!("{}.unsubscribe", self.message);
        format!("{}/api/v1/recovery-unsubscribe/{what}.{}", self.base, sign(self.keys, &what))
    }
}

/// Fills `{{field}}` placeholders from the event's variables; links become
/// signed tracking and unsubscribe links.
#[must_use]
pub fn render(text: &str, vars: &Value, links: Option<&Links<'_>>) -> String {
    let Some(re) = PLACEHOLDER.as_ref() else { return text.to_owned() };
    let currency = vars.get("currency").and_then(Value::as_str).unwrap_or("USD");
    re.replace_all(text, |c: &regex::Captures<'_>| {
        let key = &c[1];
        match key {
            "cart.items" => lookup(vars, key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            let q = i.get("quantity").and_then(Value::as_i64).unwrap_or(1);
                            format!("{q} × {}", i.get("name").and_then(Value::as_str).unwrap_or(""))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            "amount" | "cart.total" => {
                lookup(vars, key).and_then(Value::as_i64).map(|a| money(a, currency)).unwrap_or_default()
            }
            "checkout_url" | "payment_url" => match (lookup(vars, key).and_then(Value::as_str), links) {
                (Some(_), Some(l)) => l.click(key),
                (Some(url), None) => url.to_owned(),
                _ => String::new(),
            },
            "unsubscribe_url" => links.map(Links::unsubscribe).unwrap_or_default(),
            _ => match lookup(vars, key) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            },
        }
    })
    .into_owned()
}

/// Checks a link token `{message}.{what}.{signature}`; answers the message and `what`.
fn open_link(keys: &Keys, token: &str) -> AppResult<(RecoveryMessageId, String)> {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(what), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(link_invalid());
    };
    let id: i64 = id.parse().map_err(|_| link_invalid())?;
    let expected = sign(keys, &format!("{id}.{what}"));
    if !constant_time_eq(expected.as_bytes(), sig.as_bytes()) {
        return Err(link_invalid());
    }
    Ok((RecoveryMessageId(id), what.to_owned()))
}

/// A tracked link was followed: records the click, answers where to go
/// (only the URL stored with the event: the link cannot be pointed elsewhere).
pub async fn click(state: &AppState, token: String) -> AppResult<String> {
    let (id, field) = open_link(&state.keys, &token)?;
    if !["checkout_url", "payment_url"].contains(&field.as_str()) {
        return Err(link_invalid());
    }
    state
        .db
        .write(move |tx| {
            let (_, _, _, vars) = store::link_target(tx, id)?.ok_or_else(link_invalid)?;
            let dest = lookup(&vars, &field).and_then(Value::as_str).map(str::to_owned).ok_or_else(link_invalid)?;
            if !(dest.starts_with("https://") || dest.starts_with("http://")) {
                return Err(link_invalid());
            }
            store::mark_clicked(tx, id)?;
            Ok(dest)
        })
        .await
}

/// Checks an unsubscribe link (for the confirmation page).
pub fn check_unsubscribe(state: &AppState, token: &str) -> AppResult<()> {
    let (_, what) = open_link(&state.keys, token)?;
    if what == "unsubscribe" { Ok(()) } else { Err(link_invalid()) }
}

/// One-click unsubscribe: the customer gets no more recovery messages
/// (pending ones are skipped) and the matching contacts' consent is revoked.
pub async fn unsubscribe(state: &AppState, token: String) -> AppResult<()> {
    let (id, what) = open_link(&state.keys, &token)?;
    if what != "unsubscribe" {
        return Err(link_invalid());
    }
    state
        .db
        .write(move |tx| {
            let (org, customer, event, _) = store::link_target(tx, id)?.ok_or_else(link_invalid)?;
            store::unsubscribe(tx, org, id, &customer, event)?;
            Ok(())
        })
        .await
}

// Preview and test send.

fn sample_vars(trigger: &str, campaign: &str) -> Value {
    json!({
        "customer": { "id": "cus_sample", "email": "ann@example.com", "phone": "+4915112345678", "name": "Ann Lee", "first_name": "Ann" },
        "cart": { "items": [{ "name": "Blue shirt", "quantity": 2 }, { "name": "Socks", "quantity": 1 }], "total": 5_998 },
        "amount": 5_998, "currency": "EUR",
        "checkout_url": (trigger != "failed_payment").then_some("https://shop.example/checkout/sample"),
        "payment_url": (trigger == "failed_payment").then_some("https://billing.example/pay/sample"),
        "invoice_id": "in_sample", "data": {}, "campaign": { "name": campaign }, "_timezone": "UTC"
    })
}

/// Renders a step with sample data; with `to`, also queues it on the step's channel.
pub async fn test_step(
    state: &AppState,
    tenant: Tenant,
    id: RecoveryCampaignId,
    req: RecoveryTestRequest,
) -> AppResult<RecoveryPreview> {
    let base = crate::admin::instance::public_url_in_force(state).await.unwrap_or_default();
    let keys = state.keys.clone();
    let out = state
        .db
        .write(move |tx| {
            let c = store::find_campaign(tx, &tenant, id)?.ok_or_else(campaign_not_found)?;
            let step = c
                .steps
                .get(req.step)
                .ok_or_else(|| AppError::validation("step", format!("the campaign has {} steps", c.steps.len())))?;
            let vars = sample_vars(&c.trigger, &c.name);
            let text = if step.body.is_empty() {
                step.template_variables.iter().map(|v| render(v, &vars, None)).collect::<Vec<_>>().join(" | ")
            } else {
                render(&step.body, &vars, None)
            };
            let subject =
                (step.channel == "email").then(|| render(step.subject.as_deref().unwrap_or(&c.name), &vars, None));
            if let Some(to) = req.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let (channel, _) =
                    store::route(tx, tenant.org_id(), &step.channel, step.channel_id, "", Some(to), Some(to))?
                        .ok_or_else(|| {
                            AppError::validation(
                                "to",
                                format!("the organization has no active {} channel", step.channel),
                            )
                        })?;
                let values: Vec<String> = step.template_variables.iter().map(|v| render(v, &vars, None)).collect();
                let template =
                    step.template_id.map(|t| (crate::channels::templates::model::TemplateId(t), values.as_slice()));
                let _ = (&keys, &base);
                crate::channels::service::queue_campaign_message(
                    tx,
                    &tenant,
                    &crate::channels::service::CampaignMessage {
                        channel: crate::channels::model::ChannelId(channel),
                        to,
                        text: &text,
                        subject: subject.as_deref(),
                        template,
                    },
                )?;
            }
            Ok(RecoveryPreview { step: req.step, channel: step.channel.clone(), subject, text })
        })
        .await?;
    state.jobs.notify();
    Ok(out)
}

// Sources.

fn source_context(id: RecoverySourceId) -> String {
    format!("recovery_sources.secret_encrypted:{}", id.0)
}

pub async fn create_source(state: &AppState, tenant: Tenant, req: RecoverySourceRequest) -> AppResult<RecoverySource> {
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name", "must be 1–200 characters"));
    }
    if !["shopify", "stripe"].contains(&req.platform.as_str()) {
        return Err(AppError::validation("platform", "shopify or stripe"));
    }
    let secret = req.secret.trim().to_owned();
    if secret.len() < 8 || secret.len() > 500 {
        return Err(AppError::validation("secret", "the source's signing secret: 8–500 characters"));
    }
    let token = random_token(24);
    let hash = sha256(token.as_bytes());
    let keys = state.keys.clone();
    let platform = req.platform.clone();
    let mut source = state
        .db
        .write(move |tx| {
            if store::source_name_taken(tx, &tenant, &name)? {
                return Err(AppError::new(ErrorCode::RecoveryCampaignExists, "a source with this name exists")
                    .with_details(json!({ "field": "name" })));
            }
            let id = store::insert_source(tx, &tenant, &name, &platform, &hash)?;
            store::set_source_secret(tx, id, &keys.encrypt(secret.as_bytes(), &source_context(id)))?;
            store::list_sources(tx, &tenant)?.into_iter().find(|s| s.id == id).ok_or_else(source_not_found)
        })
        .await?;
    let base = crate::admin::instance::public_url_in_force(state).await.unwrap_or_default();
    source.url = Some(format!("{}/api/v1/recovery-hooks/{token}", base.trim_end_matches('/')));
    Ok(source)
}

pub async fn list_sources(state: &AppState, tenant: Tenant) -> AppResult<Vec<RecoverySource>> {
    state.db.read(move |c| Ok(store::list_sources(c, &tenant)?)).await
}

pub async fn delete_source(state: &AppState, tenant: Tenant, id: RecoverySourceId) -> AppResult<()> {
    let n = state.db.write(move |tx| Ok(store::delete_source(tx, &tenant, id)?)).await?;
    if n == 0 { Err(source_not_found()) } else { Ok(()) }
}

/// The source of a webhook token and its secret.
pub(crate) async fn source_for_hook(
    state: &AppState,
    token: &str,
) -> AppResult<(RecoverySourceId, OrgId, String, String)> {
    if token.len() > 100 {
        return Err(source_not_found());
    }
    let hash = sha256(token.as_bytes());
    let (id, org, platform, sealed) =
        state.db.read(move |c| Ok(store::source_by_token(c, &hash)?)).await?.ok_or_else(source_not_found)?;
    let secret = state.keys.decrypt(&sealed, &source_context(id)).map_err(|_| {
        AppError::new(ErrorCode::SecretUnreadable, "the source's secret cannot be read; create the source again")
    })?;
    Ok((id, org, platform, String::from_utf8_lossy(&secret).into_owned()))
}

// Analytics.

pub async fn analytics(state: &AppState, tenant: Tenant, q: RecoveryAnalyticsQuery) -> AppResult<RecoveryAnalytics> {
    for (field, day) in [("from", &q.from), ("to", &q.to)] {
        if day.as_deref().is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err()) {
            return Err(AppError::validation(field, "a day YYYY-MM-DD"));
        }
    }
    if let (Some(from), Some(to)) = (&q.from, &q.to)
        && to < from
    {
        return Err(AppError::new(ErrorCode::DateRangeInvalid, "the range ends before it starts")
            .with_details(json!({ "field": "to" })));
    }
    let (org, campaign) = (tenant.org_id(), q.campaign_id);
    let (rows, rolled_up_at) = state
        .db
        .read(move |c| {
            let rows = store::rollups(c, &tenant, q.campaign_id, q.from.as_deref(), q.to.as_deref())?;
            Ok((rows, store::rolled_up_at(c, tenant.org_id())?))
        })
        .await?;
    let variants = state.db.read(move |c| Ok(store::variant_results(c, org, campaign)?)).await?;
    let sum = |f: fn(&super::model::RecoveryAnalyticsRow) -> i64| rows.iter().map(f).sum();
    let (cost, revenue_recovered): (i64, i64) = (sum(|r| r.cost), sum(|r| r.revenue_recovered));
    #[allow(clippy::cast_precision_loss, reason = "money in minor units")]
    let roi_percent = (cost > 0).then(|| ((revenue_recovered - cost) as f64 * 1000.0 / cost as f64).round() / 10.0);
    Ok(RecoveryAnalytics {
        sent: sum(|r| r.sent),
        delivered: sum(|r| r.delivered),
        clicked: sum(|r| r.clicked),
        converted: sum(|r| r.converted),
        revenue_recovered,
        cost,
        roi_percent,
        rolled_up_at,
        variants,
        rows,
    })
}

#[must_use]
pub fn analytics_csv(a: &RecoveryAnalytics) -> String {
    let mut w = CsvWriter::new(&[
        "day",
        "campaign_id",
        "campaign",
        "events",
        "sent",
        "delivered",
        "opened",
        "clicked",
        "converted",
        "revenue_at_risk",
        "revenue_recovered",
        "currency",
        "delivery_rate",
        "click_rate",
        "conversion_rate",
        "cost",
        "roi_percent",
    ]);
    let rate = |r: Option<f64>| r.map(|v| format!("{v:.1}")).unwrap_or_default();
    for r in &a.rows {
        w.row([
            r.day.clone(),
            r.campaign_id.to_string(),
            r.campaign_name.clone(),
            r.events.to_string(),
            r.sent.to_string(),
            r.delivered.to_string(),
            r.opened.to_string(),
            r.clicked.to_string(),
            r.converted.to_string(),
            r.revenue_at_risk.to_string(),
            r.revenue_recovered.to_string(),
            r.currency.clone(),
            rate(r.delivery_rate),
            rate(r.click_rate),
            rate(r.conversion_rate),
            r.cost.to_string(),
            rate(r.roi_percent),
        ]);
    }
    w.finish()
}

/// How long after its due time a message may still go outside its window
/// (a busy queue); later than that, it waits for the next opening.
pub const LATE_GRACE: Duration = Duration::from_secs(15 * 60);

pub(crate) fn step_of(c: &RecoveryCampaign, step: i64) -> Option<&RecoveryStep> {
    usize::try_from(step - 1).ok().and_then(|i| c.steps.get(i))
}

pub(crate) fn campaign_rules(c: &RecoveryCampaign) -> Rules {
    rules_of(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_cart_items_amounts_and_unknown_fields_are_refused() {
        let vars = json!({ "customer": { "name": "Ann" }, "cart": { "items": [{ "name": "Shirt", "quantity": 2 }] },
            "amount": 5_999, "currency": "EUR", "checkout_url": "https://shop.example/c/1" });
        assert_eq!(
            render("Hi {{customer.name}}: {{cart.items}} for {{ amount }} at {{checkout_url}}", &vars, None),
            "Hi Ann: 2 × Shirt for 59.99 EUR at https://shop.example/c/1"
        );
        assert!(check_placeholders("abandoned_cart", "steps[0].body", "{{cart.items}} {{checkout_url}}").is_ok());
        let e = check_placeholders("failed_payment", "steps[1].body", "{{cart.items}}").err().map(|e| e.code());
        assert_eq!(e, Some(ErrorCode::RecoveryTemplateField));
        assert!(check_placeholders("custom", "b", "{{data.plan}}").is_ok());
    }
}
