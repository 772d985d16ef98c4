//! SQL of Stripe billing: the event log, the organization's subscription
//! row, payments and the dunning queries.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::http::Tenant;
use crate::ids::OrgId;

/// The subscription row of an organization, as the billing code needs it.
#[derive(Debug, Clone)]
pub struct SubscriptionRow {
    pub id: i64,
    pub org_id: OrgId,
    pub plan_id: i64,
    pub plan_name: String,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub stripe_price_id: Option<String>,
    pub status: String,
    pub billing_cycle: String,
    pub current_period_start: Option<String>,
    pub current_period_end: Option<String>,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<String>,
    pub canceled_at: Option<String>,
    pub past_due_since: Option<String>,
    pub restricted_at: Option<String>,
    pub last_event_at: Option<i64>,
}

const SUBSCRIPTION_COLUMNS: &str = "s.id, s.organization_id, s.plan_id, p.name AS plan_name, s.stripe_customer_id,
    s.stripe_subscription_id, s.stripe_price_id, s.status, s.billing_cycle, s.current_period_start, s.current_period_end,
    s.cancel_at_period_end, s.trial_end, s.canceled_at, s.past_due_since, s.restricted_at, s.last_event_at";

fn subscription_from_row(r: &Row<'_>) -> rusqlite::Result<SubscriptionRow> {
    Ok(SubscriptionRow {
        id: r.get("id")?,
        org_id: r.get("organization_id")?,
        plan_id: r.get("plan_id")?,
        plan_name: r.get("plan_name")?,
        stripe_customer_id: r.get("stripe_customer_id")?,
        stripe_subscription_id: r.get("stripe_subscription_id")?,
        stripe_price_id: r.get("stripe_price_id")?,
        status: r.get("status")?,
        billing_cycle: r.get("billing_cycle")?,
        current_period_start: r.get("current_period_start")?,
        current_period_end: r.get("current_period_end")?,
        cancel_at_period_end: r.get("cancel_at_period_end")?,
        trial_end: r.get("trial_end")?,
        canceled_at: r.get("canceled_at")?,
        past_due_since: r.get("past_due_since")?,
        restricted_at: r.get("restricted_at")?,
        last_event_at: r.get("last_event_at")?,
    })
}

/// The organization's subscription row, if it has one.
pub fn subscription(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Option<SubscriptionRow>> {
    conn.query_row(
        &format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM user_subscriptions s JOIN subscription_plans p ON p.id = s.plan_id
             WHERE s.organization_id = ?1"
        ),
        [tenant.org_id()],
        subscription_from_row,
    )
    .optional()
}

/// What the organization is billed as: name, slug, Stripe customer, plan tier.
#[derive(Debug, Clone)]
pub struct OrgBilling {
    pub name: String,
    pub stripe_customer_id: Option<String>,
    pub plan_tier: String,
}

pub fn org_billing(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<OrgBilling> {
    conn.query_row(
        "SELECT name, stripe_customer_id, plan_tier FROM organizations WHERE id = ?1",
        [tenant.org_id()],
        |r| Ok(OrgBilling { name: r.get(0)?, stripe_customer_id: r.get(1)?, plan_tier: r.get(2)? }),
    )
}

/// Stores the organization's Stripe customer id.
pub fn set_customer(conn: &Connection, tenant: &Tenant, customer: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE organizations SET stripe_customer_id = ?2 WHERE id = ?1", params![tenant.org_id(), customer])?;
    Ok(())
}

/// A user's email address.
pub fn user_email(conn: &Connection, user: crate::ids::UserId) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT email FROM users WHERE id = ?1", [user], |r| r.get(0)).optional()
}

/// The organization whose Stripe customer this is.
pub fn org_by_customer(conn: &Connection, customer: &str) -> rusqlite::Result<Option<OrgId>> {
    conn.query_row("SELECT id FROM organizations WHERE stripe_customer_id = ?1", [customer], |r| r.get(0)).optional()
}

/// Whether an organization exists (an id from Stripe metadata).
pub fn org_exists(conn: &Connection, org: i64) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM organizations WHERE id = ?1)", [org], |r| r.get(0))
}

/// The plan (active or not: a subscription outlives a retired plan) one
/// of whose prices (`subscription_plan_prices`) is this Stripe price:
/// (plan id, plan name, billing cycle `monthly`/`yearly`).
pub fn plan_by_price(conn: &Connection, price: &str) -> rusqlite::Result<Option<(i64, String, &'static str)>> {
    conn.query_row(
        "SELECT p.id, p.name, pp.interval FROM subscription_plan_prices pp JOIN subscription_plans p ON p.id = pp.plan_id
         WHERE pp.stripe_price_id = ?1 ORDER BY p.is_active DESC, p.id LIMIT 1",
        [price],
        |r| {
            let interval: String = r.get(2)?;
            Ok((r.get(0)?, r.get(1)?, if interval == "year" { "yearly" } else { "monthly" }))
        },
    )
    .optional()
}

/// The fields a Stripe subscription object sets on our row.
#[derive(Debug, Clone)]
pub struct SubscriptionWrite<'a> {
    pub org: OrgId,
    pub plan_id: i64,
    pub plan_name: &'a str,
    pub customer: &'a str,
    pub subscription: &'a str,
    pub price: Option<&'a str>,
    pub status: &'a str,
    pub billing_cycle: &'a str,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<String>,
    pub canceled_at: Option<String>,
    pub past_due_since: Option<String>,
    pub restricted_at: Option<String>,
    pub last_event_at: i64,
}

/// Writes the subscription row (one per organization) and mirrors its state
/// on the organization: the plan tier that limits read, the status, the
/// Stripe ids and the period end.
pub fn write_subscription(conn: &Connection, w: &SubscriptionWrite<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO user_subscriptions (organization_id, plan_id, stripe_customer_id, stripe_subscription_id, stripe_price_id,
                status, billing_cycle, current_period_start, current_period_end, cancel_at_period_end, trial_end, canceled_at,
                past_due_since, restricted_at, last_event_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT (organization_id) DO UPDATE SET plan_id = excluded.plan_id, stripe_customer_id = excluded.stripe_customer_id,
                stripe_subscription_id = excluded.stripe_subscription_id, stripe_price_id = excluded.stripe_price_id,
                status = excluded.status, billing_cycle = excluded.billing_cycle,
                current_period_start = excluded.current_period_start, current_period_end = excluded.current_period_end,
                cancel_at_period_end = excluded.cancel_at_period_end, trial_end = excluded.trial_end,
                canceled_at = excluded.canceled_at, past_due_since = excluded.past_due_since,
                restricted_at = excluded.restricted_at, last_event_at = excluded.last_event_at",
        params![
            w.org,
            w.plan_id,
            w.customer,
            w.subscription,
            w.price,
            w.status,
            w.billing_cycle,
            w.period_start,
            w.period_end,
            w.cancel_at_period_end,
            w.trial_end,
            w.canceled_at,
            w.past_due_since,
            w.restricted_at,
            w.last_event_at
        ],
    )?;
    // A live subscription sets the plan; an ended one falls back to free.
    let tier = if matches!(w.status, "active" | "trialing" | "past_due") { w.plan_name } else { "free" };
    conn.execute(
        "UPDATE organizations SET plan_tier = ?2, subscription_status = ?3, stripe_customer_id = ?4,
                stripe_subscription_id = ?5, subscription_current_period_end = ?6
         WHERE id = ?1",
        params![w.org, tier, w.status, w.customer, w.subscription, w.period_end],
    )?;
    Ok(())
}

/// Sets the dunning markers (and the organization's status) of a row.
pub fn set_dunning(
    conn: &Connection,
    org: OrgId,
    status: &str,
    past_due_since: Option<&str>,
    restricted_at: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE user_subscriptions SET status = ?2, past_due_since = ?3, restricted_at = ?4 WHERE organization_id = ?1",
        params![org, status, past_due_since, restricted_at],
    )?;
    conn.execute("UPDATE organizations SET subscription_status = ?2 WHERE id = ?1", params![org, status])?;
    Ok(())
}

/// Moves the row's newest-applied-event time forward to `at`.
pub fn advance_event_at(conn: &Connection, org: OrgId, at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE user_subscriptions SET last_event_at = max(ifnull(last_event_at, 0), ?2) WHERE organization_id = ?1",
        params![org, at],
    )?;
    Ok(())
}

/// Sets the plan the organization's limits read.
pub fn set_plan_tier(conn: &Connection, org: OrgId, plan: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE organizations SET plan_tier = ?2 WHERE id = ?1", params![org, plan])?;
    Ok(())
}

/// Marks an overdue subscription restricted; false when it was already
/// (or is no longer overdue).
pub fn restrict(conn: &Connection, org: OrgId, at: &str) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "UPDATE user_subscriptions SET restricted_at = ?2
         WHERE organization_id = ?1 AND restricted_at IS NULL AND status IN ('past_due', 'unpaid')",
        params![org, at],
    )?;
    Ok(n == 1)
}

/// Ends a subscription here (dunning ran out): canceled, back to free.
pub fn end_subscription(conn: &Connection, org: OrgId, at: &str, event_at: i64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE user_subscriptions SET status = 'canceled', canceled_at = ?2, restricted_at = NULL, past_due_since = NULL,
                cancel_at_period_end = 0, last_event_at = max(ifnull(last_event_at, 0), ?3)
         WHERE organization_id = ?1",
        params![org, at, event_at],
    )?;
    conn.execute(
        "UPDATE organizations SET plan_tier = 'free', subscription_status = 'canceled' WHERE id = ?1",
        params![org],
    )?;
    Ok(())
}

/// Past-due subscriptions whose grace period ended before `cutoff` and
/// that are not restricted yet.
pub fn due_for_restriction(conn: &Connection, cutoff: &str) -> rusqlite::Result<Vec<OrgId>> {
    let mut stmt = conn.prepare(
        "SELECT organization_id FROM user_subscriptions
         WHERE status = 'past_due' AND restricted_at IS NULL AND past_due_since IS NOT NULL AND past_due_since <= ?1",
    )?;
    stmt.query_map([cutoff], |r| r.get(0))?.collect()
}

/// Restricted subscriptions restricted before `cutoff` (to be canceled).
pub fn due_for_cancellation(conn: &Connection, cutoff: &str) -> rusqlite::Result<Vec<(OrgId, Option<String>)>> {
    let mut stmt = conn.prepare(
        "SELECT organization_id, stripe_subscription_id FROM user_subscriptions
         WHERE status IN ('past_due', 'unpaid') AND restricted_at IS NOT NULL AND restricted_at <= ?1",
    )?;
    stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// The active owners of an organization, with its name: who billing emails.
pub fn owners(conn: &Connection, org: OrgId) -> rusqlite::Result<(String, Vec<(i64, String)>)> {
    let name: String = conn.query_row("SELECT name FROM organizations WHERE id = ?1", [org], |r| r.get(0))?;
    let mut stmt = conn.prepare(
        "SELECT u.id, u.email FROM organization_members m JOIN roles r ON r.id = m.role_id JOIN users u ON u.id = m.user_id
         WHERE m.organization_id = ?1 AND m.status = 'active' AND r.organization_id IS NULL AND r.name = 'owner'
         ORDER BY u.id",
    )?;
    let owners = stmt.query_map([org], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
    Ok((name, owners))
}

/// Records a received event; false when its id was seen before.
pub fn insert_event(conn: &Connection, e: &NewEvent<'_>) -> rusqlite::Result<bool> {
    let n = conn.execute(
        "INSERT INTO billing_events (stripe_event_id, event_type, event_created, organization_id, payload, outcome, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (stripe_event_id) DO NOTHING",
        params![e.id, e.kind, e.created, e.org, e.payload, e.outcome, e.detail],
    )?;
    Ok(n == 1)
}

/// Whether an event id was recorded.
pub fn event_seen(conn: &Connection, id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM billing_events WHERE stripe_event_id = ?1)", [id], |r| r.get(0))
}

/// A received event to record.
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub created: i64,
    pub org: Option<OrgId>,
    pub payload: &'a str,
    pub outcome: &'a str,
    pub detail: Option<&'a str>,
}

/// A payment (invoice) as webhook data describes it.
#[derive(Debug, Clone)]
pub struct PaymentWrite<'a> {
    pub org: OrgId,
    pub invoice: &'a str,
    pub number: Option<&'a str>,
    pub amount: i64,
    pub currency: &'a str,
    pub status: &'a str,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub payment_intent: Option<&'a str>,
    pub charge: Option<&'a str>,
    pub receipt_url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_at: i64,
}

/// Rank of a payment status: a payment never moves back to a lower rank
/// (a late `payment_failed` cannot undo `paid`; refunds are final).
fn status_rank(status: &str) -> i64 {
    match status {
        "pending" => 0,
        "failed" => 1,
        "succeeded" => 2,
        _ => 3,
    }
}

/// Upserts the payment of an invoice. The status only moves forward
/// (pending → failed → succeeded → refunded), except that a failed payment
/// retried later may succeed; amounts and details follow the newest event.
pub fn upsert_payment(conn: &Connection, w: &PaymentWrite<'_>) -> rusqlite::Result<bool> {
    let existing: Option<(String, Option<i64>)> = conn
        .query_row(
            "SELECT status, last_event_at FROM payment_history WHERE stripe_invoice_id = ?1 AND organization_id = ?2",
            params![w.invoice, w.org],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let subscription: Option<i64> = conn
        .query_row("SELECT id FROM user_subscriptions WHERE organization_id = ?1", [w.org], |r| r.get(0))
        .optional()?;
    match existing {
        None => {
            conn.execute(
                "INSERT INTO payment_history (organization_id, subscription_id, stripe_invoice_id, invoice_number, amount, currency,
                        status, period_start, period_end, stripe_payment_intent_id, stripe_charge_id, receipt_url, description,
                        last_event_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    w.org,
                    subscription,
                    w.invoice,
                    w.number,
                    w.amount,
                    w.currency,
                    w.status,
                    w.period_start,
                    w.period_end,
                    w.payment_intent,
                    w.charge,
                    w.receipt_url,
                    w.description,
                    w.event_at
                ],
            )?;
            Ok(true)
        }
        Some((status, last)) => {
            let forward = status_rank(w.status) > status_rank(&status)
                || (status_rank(w.status) == status_rank(&status) && last.is_none_or(|l| w.event_at >= l));
            let keep_status = if forward { w.status } else { status.as_str() };
            conn.execute(
                "UPDATE payment_history SET status = ?3, invoice_number = coalesce(?4, invoice_number),
                        amount = CASE WHEN ?13 THEN ?5 ELSE amount END, currency = ?6,
                        period_start = coalesce(?7, period_start), period_end = coalesce(?8, period_end),
                        stripe_payment_intent_id = coalesce(?9, stripe_payment_intent_id),
                        stripe_charge_id = coalesce(?10, stripe_charge_id), receipt_url = coalesce(?11, receipt_url),
                        last_event_at = max(ifnull(last_event_at, 0), ?12)
                 WHERE stripe_invoice_id = ?1 AND organization_id = ?2",
                params![
                    w.invoice,
                    w.org,
                    keep_status,
                    w.number,
                    w.amount,
                    w.currency,
                    w.period_start,
                    w.period_end,
                    w.payment_intent,
                    w.charge,
                    w.receipt_url,
                    w.event_at,
                    forward
                ],
            )?;
            Ok(forward)
        }
    }
}

/// Records a refund on the payment of a charge (by invoice, charge or
/// payment intent): the refunded amount only grows; fully refunded
/// payments are `refunded`.
pub fn record_refund(
    conn: &Connection,
    org: OrgId,
    keys: (Option<&str>, Option<&str>, Option<&str>),
    amount_refunded: i64,
) -> rusqlite::Result<bool> {
    let (invoice, charge, intent) = keys;
    let n = conn.execute(
        "UPDATE payment_history SET amount_refunded = max(amount_refunded, ?5),
                status = CASE WHEN max(amount_refunded, ?5) >= amount AND amount > 0 THEN 'refunded' ELSE status END,
                stripe_charge_id = coalesce(stripe_charge_id, ?3)
         WHERE organization_id = ?1 AND ((?2 IS NOT NULL AND stripe_invoice_id = ?2) OR (?3 IS NOT NULL AND stripe_charge_id = ?3)
                                         OR (?4 IS NOT NULL AND stripe_payment_intent_id = ?4))",
        params![org, invoice, charge, intent, amount_refunded],
    )?;
    Ok(n > 0)
}

/// A payment of the organization as the invoice list shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceRow {
    pub id: i64,
    /// Stripe's invoice number (e.g. `ABCD-0001`).
    pub number: Option<String>,
    /// pending, failed, succeeded or refunded.
    pub status: String,
    /// Minor units.
    pub amount: i64,
    /// Refunded so far, minor units.
    pub amount_refunded: i64,
    pub currency: String,
    pub description: Option<String>,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    /// Stripe's hosted invoice page, if any.
    pub hosted_url: Option<String>,
    pub created_at: String,
}

const INVOICE_COLUMNS: &str =
    "id, invoice_number, status, amount, amount_refunded, currency, description, period_start,
    period_end, receipt_url, created_at";

fn invoice_from_row(r: &Row<'_>) -> rusqlite::Result<InvoiceRow> {
    Ok(InvoiceRow {
        id: r.get("id")?,
        number: r.get("invoice_number")?,
        status: r.get("status")?,
        amount: r.get("amount")?,
        amount_refunded: r.get("amount_refunded")?,
        currency: r.get("currency")?,
        description: r.get("description")?,
        period_start: r.get("period_start")?,
        period_end: r.get("period_end")?,
        hosted_url: r.get("receipt_url")?,
        created_at: r.get("created_at")?,
    })
}

/// The organization's payments, newest first, before the cursor.
pub fn invoices(
    conn: &Connection,
    tenant: &Tenant,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<InvoiceRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {INVOICE_COLUMNS} FROM payment_history WHERE organization_id = ?1 AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3"
    ))?;
    stmt.query_map(params![tenant.org_id(), before, limit], invoice_from_row)?.collect()
}

/// One payment of the organization.
pub fn invoice(conn: &Connection, tenant: &Tenant, id: i64) -> rusqlite::Result<Option<InvoiceRow>> {
    conn.query_row(
        &format!("SELECT {INVOICE_COLUMNS} FROM payment_history WHERE organization_id = ?1 AND id = ?2"),
        params![tenant.org_id(), id],
        invoice_from_row,
    )
    .optional()
}

/// Every subscription row with what it bills per month: (status, amount
/// per month in minor units, currency). The amount is the subscribed Stripe
/// price's (a yearly one divided by 12), else the plan's main price.
pub fn revenue_rows(conn: &Connection) -> rusqlite::Result<Vec<(String, i64, String)>> {
    let mut stmt = conn.prepare(
        "SELECT s.status,
                coalesce(CASE pp.interval WHEN 'year' THEN pp.amount / 12 ELSE pp.amount END,
                         CASE s.billing_cycle WHEN 'yearly' THEN coalesce(p.price_yearly, p.price_monthly * 12) / 12
                                              ELSE p.price_monthly END),
                coalesce(pp.currency, p.currency)
         FROM user_subscriptions s JOIN subscription_plans p ON p.id = s.plan_id
         LEFT JOIN subscription_plan_prices pp ON pp.plan_id = s.plan_id AND pp.stripe_price_id = s.stripe_price_id",
    )?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
}

/// Subscriptions canceled since `since`, and restricted ones now.
pub fn churn_counts(conn: &Connection, since: &str) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM user_subscriptions WHERE status = 'canceled' AND canceled_at >= ?1),
                (SELECT count(*) FROM user_subscriptions WHERE restricted_at IS NOT NULL AND status IN ('past_due', 'unpaid'))",
        [since],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Failed payments recorded since `since` (the `invoice.payment_failed`
/// events revenue recovery consumes): (organization, event id, created, raw event).
pub fn payment_failures(conn: &Connection, since: &str) -> rusqlite::Result<Vec<(OrgId, String, i64, String)>> {
    let mut stmt = conn.prepare(
        "SELECT organization_id, stripe_event_id, event_created, payload FROM billing_events
         WHERE event_type = 'invoice.payment_failed' AND outcome = 'applied' AND organization_id IS NOT NULL
           AND received_at >= ?1 ORDER BY id",
    )?;
    stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
}
