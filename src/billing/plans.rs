//! Plans: what an organization may use (limits, feature flags) and what it
//! costs (prices per billing interval and ISO 4217 currency, in integer minor
//! units), plus the trial length. Stored in `subscription_plans` and
//! `subscription_plan_prices` (V065).
//!
//! For the Stripe/checkout side: [`find`], [`find_by_name`] and [`list`] read
//! plans; [`Plan::price`] picks the price of one interval and currency (its
//! `stripe_price_id` is the provider's price, if the operator set one).
//!
//! Limits: `None` (JSON `null`, stored as -1) is unlimited; input also accepts
//! -1. An organization's plan is `organizations.plan_tier` (the plan's
//! `name`); limits are read from the plan on every check, so a plan change
//! applies at once.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult, ErrorCode};

crate::id_type!(
    /// A row of `subscription_plans`.
    PlanId
);

/// A billing interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Month,
    Year,
}

impl Interval {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "month" => Some(Interval::Month),
            "year" => Some(Interval::Year),
            _ => None,
        }
    }
}

/// One price of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanPrice {
    pub interval: Interval,
    /// ISO 4217 code, upper case (`USD`, `EUR`, …).
    pub currency: String,
    /// Integer minor units (cents for USD; yen for JPY).
    pub amount: i64,
    /// The payment provider's price id, if the operator configured one.
    #[serde(default)]
    pub stripe_price_id: Option<String>,
}

/// The limits of a plan; `null` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PlanLimits {
    pub bots: Option<i64>,
    pub messages_per_month: Option<i64>,
    pub knowledge_storage_bytes: Option<i64>,
    pub seats: Option<i64>,
    pub llm_tokens_per_month: Option<i64>,
    pub channels: Option<i64>,
    pub voice_minutes_per_month: Option<i64>,
}

impl PlanLimits {
    /// Each limit with its API name, in a fixed order.
    #[must_use]
    pub fn named(&self) -> [(&'static str, Option<i64>); 7] {
        [
            ("bots", self.bots),
            ("messages_per_month", self.messages_per_month),
            ("knowledge_storage_bytes", self.knowledge_storage_bytes),
            ("seats", self.seats),
            ("llm_tokens_per_month", self.llm_tokens_per_month),
            ("channels", self.channels),
            ("voice_minutes_per_month", self.voice_minutes_per_month),
        ]
    }

    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let lim = |col: &str| -> rusqlite::Result<Option<i64>> {
            let v: i64 = row.get(col)?;
            Ok((v >= 0).then_some(v))
        };
        Ok(PlanLimits {
            bots: lim("max_bots")?,
            messages_per_month: lim("max_messages_per_month")?,
            knowledge_storage_bytes: lim("max_knowledge_storage_bytes")?,
            seats: lim("max_seats")?,
            llm_tokens_per_month: lim("max_llm_tokens_per_month")?,
            channels: lim("max_channels")?,
            voice_minutes_per_month: lim("max_voice_minutes_per_month")?,
        })
    }
}

/// A plan as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Plan {
    pub id: PlanId,
    /// The plan's key (lower case), what `organizations.plan_tier` holds.
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    /// The main currency: `price_monthly`/`price_yearly` of the legacy columns.
    pub currency: String,
    pub prices: Vec<PlanPrice>,
    pub trial_days: i64,
    pub limits: PlanLimits,
    /// Feature flags (`api_access`, `custom_branding`, …).
    pub features: BTreeMap<String, bool>,
    /// Inactive plans cannot be chosen; organizations on them keep them.
    pub is_active: bool,
    /// Listed by the public `GET /plans` (when also active).
    pub is_public: bool,
    pub sort_order: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl Plan {
    /// The price of one interval in one currency, if the plan has it.
    #[must_use]
    pub fn price(&self, interval: Interval, currency: &str) -> Option<&PlanPrice> {
        self.prices.iter().find(|p| p.interval == interval && p.currency.eq_ignore_ascii_case(currency))
    }

    /// Whether a feature flag is on (absent = off).
    #[must_use]
    pub fn feature(&self, name: &str) -> bool {
        self.features.get(name).copied().unwrap_or(false)
    }
}

/// Body of `POST /admin/plans` and `PUT /admin/plans/{plan_id}` (a full replacement).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub name: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The main currency; must have a monthly price. Default: the first price's.
    #[serde(default)]
    pub currency: Option<String>,
    pub prices: Vec<PlanPrice>,
    #[serde(default)]
    pub trial_days: i64,
    #[serde(default)]
    pub limits: PlanLimits,
    #[serde(default)]
    pub features: BTreeMap<String, bool>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default = "yes")]
    pub is_public: bool,
    #[serde(default)]
    pub sort_order: i64,
}

fn yes() -> bool {
    true
}

/// ISO 4217 active currency codes.
pub const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC",
    "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS",
    "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD",
    "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL",
    "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD",
    "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP",
    "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES",
    "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG",
];

/// A plan input checked and normalised: what the store writes.
#[derive(Debug, Clone)]
pub struct ValidPlan(PlanInput);

impl PlanInput {
    /// Checks every field; the error names the field at fault (422
    /// `validation_failed`, or `unknown_currency` for a currency that is not
    /// ISO 4217).
    pub fn validate(mut self) -> AppResult<ValidPlan> {
        self.name = self.name.trim().to_lowercase();
        if self.name.is_empty()
            || self.name.len() > 50
            || !self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(AppError::validation("name", "a plan name is 1–50 characters: a–z, 0–9, - and _"));
        }
        self.display_name = String::from(self.display_name.trim());
        if self.display_name.is_empty() || self.display_name.chars().count() > 100 {
            return Err(AppError::validation("display_name", "the display name is 1–100 characters"));
        }
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
            return Err(AppError::validation("description", "the description is at most 2000 characters"));
        }
        if !(0..=365).contains(&self.trial_days) {
            return Err(AppError::validation("trial_days", "trial days are between 0 and 365"));
        }
        if self.prices.is_empty() {
            return Err(AppError::validation("prices", "a plan needs at least a monthly price"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in self.prices.iter_mut().enumerate() {
            p.currency = p.currency.trim().to_uppercase();
            if !CURRENCIES.contains(&p.currency.as_str()) {
                return Err(unknown_currency(&format!("prices[{i}].currency"), &p.currency));
            }
            if p.amount < 0 {
                return Err(AppError::validation(
                    format!("prices[{i}].amount"),
                    "a price is a non-negative integer amount of minor units",
                ));
            }
            if !seen.insert((p.interval, p.currency.clone())) {
                return Err(AppError::validation(
                    format!("prices[{i}]"),
                    format!("two prices for {} in {}", p.interval.as_str(), p.currency),
                ));
            }
        }
        let currency = match self.currency.take() {
            Some(c) => c.trim().to_uppercase(),
            None => self.prices[0].currency.clone(),
        };
        if !CURRENCIES.contains(&currency.as_str()) {
            return Err(unknown_currency("currency", &currency));
        }
        if !self.prices.iter().any(|p| p.interval == Interval::Month && p.currency == currency) {
            return Err(AppError::validation(
                "prices",
                format!("a plan needs a monthly price in its currency {currency}"),
            ));
        }
        self.currency = Some(currency);
        for (name, v) in self.limits.clone().named() {
            if let Some(v) = v
                && v < -1
            {
                return Err(AppError::validation(format!("limits.{name}"), "a limit is ≥ 0, or null/-1 for unlimited"));
            }
        }
        // -1 is unlimited, like null.
        let norm = |v: &mut Option<i64>| {
            if *v == Some(-1) {
                *v = None;
            }
        };
        let l = &mut self.limits;
        for v in [
            &mut l.bots,
            &mut l.messages_per_month,
            &mut l.knowledge_storage_bytes,
            &mut l.seats,
            &mut l.llm_tokens_per_month,
            &mut l.channels,
            &mut l.voice_minutes_per_month,
        ] {
            norm(v);
        }
        if self.features.len() > 100 || self.features.keys().any(|k| k.is_empty() || k.len() > 64) {
            return Err(AppError::validation("features", "at most 100 feature flags, names of 1–64 characters"));
        }
        Ok(ValidPlan(self))
    }
}

fn unknown_currency(field: &str, code: &str) -> AppError {
    AppError::new(ErrorCode::UnknownCurrency, format!("`{code}` is not an ISO 4217 currency code"))
        .with_details(serde_json::json!({ "field": field, "value": code }))
}

const PLAN_COLUMNS: &str =
    "SELECT id, name, display_name, description, currency, trial_days, max_bots, max_messages_per_month,
       max_knowledge_storage_bytes, max_seats, max_llm_tokens_per_month, max_channels, max_voice_minutes_per_month,
       features, is_active, is_public, sort_order, created_at, updated_at FROM subscription_plans";

fn plan_from_row(row: &Row<'_>) -> rusqlite::Result<Plan> {
    let features: String = row.get("features")?;
    // Only booleans are flags; other values (none are written) read as absent.
    let features: BTreeMap<String, serde_json::Value> = serde_json::from_str(&features).unwrap_or_default();
    Ok(Plan {
        id: row.get("id")?,
        name: row.get("name")?,
        display_name: row.get("display_name")?,
        description: row.get("description")?,
        currency: row.get("currency")?,
        prices: Vec::new(),
        trial_days: row.get("trial_days")?,
        limits: PlanLimits::from_row(row)?,
        features: features.into_iter().filter_map(|(k, v)| v.as_bool().map(|b| (k, b))).collect(),
        is_active: row.get("is_active")?,
        is_public: row.get("is_public")?,
        sort_order: row.get("sort_order")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn with_prices(conn: &Connection, mut plan: Plan) -> rusqlite::Result<Plan> {
    let mut stmt = conn.prepare_cached(
        "SELECT interval, currency, amount, stripe_price_id FROM subscription_plan_prices WHERE plan_id = ?1
         ORDER BY interval = 'year', currency",
    )?;
    plan.prices = stmt
        .query_map([plan.id], |r| {
            let interval: String = r.get(0)?;
            Ok(PlanPrice {
                interval: Interval::parse(&interval).unwrap_or(Interval::Month),
                currency: r.get(1)?,
                amount: r.get(2)?,
                stripe_price_id: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(plan)
}

/// A plan by id.
pub fn find(conn: &Connection, id: PlanId) -> rusqlite::Result<Option<Plan>> {
    let plan = conn.query_row(&format!("{PLAN_COLUMNS} WHERE id = ?1"), [id], plan_from_row).optional()?;
    plan.map(|p| with_prices(conn, p)).transpose()
}

/// A plan by name (`organizations.plan_tier`).
pub fn find_by_name(conn: &Connection, name: &str) -> rusqlite::Result<Option<Plan>> {
    let plan = conn.query_row(&format!("{PLAN_COLUMNS} WHERE name = ?1"), [name], plan_from_row).optional()?;
    plan.map(|p| with_prices(conn, p)).transpose()
}

/// The plan an organization is on.
pub fn of_org(conn: &Connection, org: crate::ids::OrgId) -> rusqlite::Result<Option<Plan>> {
    let name: Option<String> =
        conn.query_row("SELECT plan_tier FROM organizations WHERE id = ?1", [org], |r| r.get(0)).optional()?;
    match name {
        Some(n) => find_by_name(conn, &n),
        None => Ok(None),
    }
}

/// Which plans [`list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanFilter {
    /// Every plan (superadmin).
    All,
    /// Active and public plans (the pricing page).
    Public,
}

/// Plans by `sort_order`, then id.
pub fn list(conn: &Connection, filter: PlanFilter) -> rusqlite::Result<Vec<Plan>> {
    let sql = format!("{PLAN_COLUMNS} WHERE (?1 = 0 OR (is_active = 1 AND is_public = 1)) ORDER BY sort_order, id");
    let plans: Vec<Plan> = {
        let mut stmt = conn.prepare_cached(&sql)?;
        stmt.query_map([filter == PlanFilter::Public], plan_from_row)?.collect::<rusqlite::Result<_>>()?
    };
    plans.into_iter().map(|p| with_prices(conn, p)).collect()
}

fn lim(v: Option<i64>) -> i64 {
    v.unwrap_or(-1)
}

fn write_prices(conn: &Connection, id: PlanId, plan: &PlanInput) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM subscription_plan_prices WHERE plan_id = ?1", [id])?;
    for p in &plan.prices {
        conn.execute(
            "INSERT INTO subscription_plan_prices (plan_id, interval, currency, amount, stripe_price_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, p.interval.as_str(), p.currency, p.amount, p.stripe_price_id],
        )?;
    }
    Ok(())
}

fn main_prices(plan: &PlanInput) -> (String, i64, Option<i64>, Option<String>, Option<String>) {
    let currency = plan.currency.clone().unwrap_or_default();
    let month = plan.prices.iter().find(|p| p.interval == Interval::Month && p.currency == currency);
    let year = plan.prices.iter().find(|p| p.interval == Interval::Year && p.currency == currency);
    (
        currency,
        month.map_or(0, |p| p.amount),
        year.map(|p| p.amount),
        month.and_then(|p| p.stripe_price_id.clone()),
        year.and_then(|p| p.stripe_price_id.clone()),
    )
}

/// Inserts a plan (a taken name is a unique-constraint error: the caller
/// maps it): a row with its name, then [`update`] writes every column.
pub fn create(conn: &Connection, plan: &ValidPlan) -> rusqlite::Result<PlanId> {
    let p = &plan.0;
    let id = PlanId(conn.query_row(
        "INSERT INTO subscription_plans (name, display_name, price_monthly, max_bots, max_messages_per_month)
         VALUES (?1, ?2, 0, 0, 0) RETURNING id",
        params![p.name, p.display_name],
        |r| r.get(0),
    )?);
    update(conn, id, plan)?;
    Ok(id)
}

/// Replaces a plan; false when there is no such plan. Renaming a plan
/// renames `organizations.plan_tier` with it (ON UPDATE CASCADE).
pub fn update(conn: &Connection, id: PlanId, plan: &ValidPlan) -> rusqlite::Result<bool> {
    let p = &plan.0;
    let (currency, monthly, yearly, sm, sy) = main_prices(p);
    let l = &p.limits;
    let n = conn.execute(
        "UPDATE subscription_plans SET name = ?2, display_name = ?3, description = ?4, price_monthly = ?5, price_yearly = ?6,
             currency = ?7, max_bots = ?8, max_messages_per_month = ?9, max_knowledge_storage_bytes = ?10, max_seats = ?11,
             max_llm_tokens_per_month = ?12, max_channels = ?13, max_voice_minutes_per_month = ?14, features = ?15,
             stripe_price_id_monthly = ?16, stripe_price_id_yearly = ?17, is_active = ?18, is_public = ?19,
             trial_days = ?20, sort_order = ?21
         WHERE id = ?1",
        params![
            id,
            p.name,
            p.display_name,
            p.description,
            monthly,
            yearly,
            currency,
            lim(l.bots),
            lim(l.messages_per_month),
            lim(l.knowledge_storage_bytes),
            lim(l.seats),
            lim(l.llm_tokens_per_month),
            lim(l.channels),
            lim(l.voice_minutes_per_month),
            serde_json::to_string(&p.features).unwrap_or_else(|_| "{}".to_owned()),
            sm,
            sy,
            p.is_active,
            p.is_public,
            p.trial_days,
            p.sort_order,
        ],
    )?;
    if n == 0 {
        return Ok(false);
    }
    write_prices(conn, id, p)?;
    Ok(true)
}

/// How many organizations are on a plan.
pub fn organizations_on(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM organizations WHERE plan_tier = ?1", [name], |r| r.get(0))
}

/// Deletes a plan nobody uses; false when there is no such plan.
pub fn delete(conn: &Connection, id: PlanId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM subscription_plans WHERE id = ?1", [id])? > 0)
}

/// The organizations on a plan whose current usage is above one of its
/// limits: `(organization id, organization name, limit, used, allowed)`.
pub fn over_limit(conn: &Connection, plan: &Plan) -> AppResult<Vec<OverLimit>> {
    let orgs: Vec<(crate::ids::OrgId, String)> = {
        let mut stmt = conn.prepare("SELECT id, name FROM organizations WHERE plan_tier = ?1 ORDER BY id")?;
        stmt.query_map([&plan.name], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    let mut out = Vec::new();
    for (org, org_name) in orgs {
        for limit in super::limits::Limit::ALL {
            let Some(allowed) = limit.allowed(&plan.limits) else { continue };
            let used = limit.used(conn, org)?;
            if used > allowed {
                out.push(OverLimit {
                    organization_id: org,
                    organization_name: org_name.clone(),
                    limit: limit.name(),
                    used,
                    allowed,
                });
            }
        }
    }
    Ok(out)
}

/// An organization above one limit of its plan (a warning of a plan change).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverLimit {
    pub organization_id: crate::ids::OrgId,
    pub organization_name: String,
    pub limit: &'static str,
    pub used: i64,
    pub allowed: i64,
}
