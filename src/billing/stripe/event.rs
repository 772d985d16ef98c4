//! Stripe's event envelope and the objects billing reads from it, checked
//! for Stripe's shape: a body that is not one is refused (400
//! `stripe_event_invalid`) before anything is stored.

use serde_json::{Value, json};

use crate::error::{AppError, ErrorCode};

/// A Stripe event: `{"id":"evt_…","object":"event","type":…,"created":…,"data":{"object":{…}}}`.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub kind: String,
    pub created: i64,
    pub object: Value,
}

/// The events billing acts on; others are recorded as `ignored`.
pub const HANDLED: &[&str] = &[
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.finalized",
    "charge.refunded",
];

fn invalid(field: &str, message: &str) -> AppError {
    AppError::new(ErrorCode::StripeEventInvalid, format!("not a Stripe event: {message}"))
        .with_details(json!({ "field": field }))
}

fn id_like(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty() && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
}

/// Parses and checks an event body.
pub fn parse(body: &[u8]) -> Result<Event, AppError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| invalid("body", "the body is not JSON"))?;
    if !value.is_object() {
        return Err(invalid("body", "the body is not a JSON object"));
    }
    if value["object"] != "event" {
        return Err(invalid("object", "`object` is not \"event\""));
    }
    let id = id_like(&value["id"]).ok_or_else(|| invalid("id", "`id` is missing or malformed"))?.to_owned();
    let kind = value["type"]
        .as_str()
        .filter(|t| {
            !t.is_empty() && t.len() <= 100 && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
        })
        .ok_or_else(|| invalid("type", "`type` is missing or malformed"))?
        .to_owned();
    let created = value["created"]
        .as_i64()
        .filter(|c| *c > 0)
        .ok_or_else(|| invalid("created", "`created` is not a Unix time"))?;
    let object = value["data"]["object"].clone();
    if !object.is_object() {
        return Err(invalid("data.object", "`data.object` is not an object"));
    }
    let expected = match kind.as_str() {
        "checkout.session.completed" => Some("checkout.session"),
        k if k.starts_with("customer.subscription.") => Some("subscription"),
        k if k.starts_with("invoice.") => Some("invoice"),
        "charge.refunded" => Some("charge"),
        _ => None,
    };
    if let Some(expected) = expected {
        if object["object"] != expected {
            return Err(invalid("data.object.object", &format!("`data.object.object` is not \"{expected}\"")));
        }
        if id_like(&object["id"]).is_none() {
            return Err(invalid("data.object.id", "`data.object.id` is missing or malformed"));
        }
    }
    Ok(Event { id, kind, created, object })
}

/// An id field that may be a string or an expanded object with an `id`.
fn ref_id(v: &Value) -> Option<String> {
    id_like(v).or_else(|| id_like(&v["id"])).map(str::to_owned)
}

fn unix(v: &Value) -> Option<i64> {
    v.as_i64().filter(|t| *t > 0)
}

/// Unix seconds as our timestamp text.
#[must_use]
pub fn timestamp(t: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(t, 0).map(crate::db::format_timestamp)
}

fn org_hint(v: &Value) -> Option<i64> {
    v["organization_id"].as_str().and_then(|s| s.parse().ok()).or_else(|| v["organization_id"].as_i64())
}

/// What billing reads from a subscription object.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    /// Stripe's status mapped onto ours (`active`, `trialing`, `past_due`, `canceled`, `unpaid`, `incomplete`).
    pub status: &'static str,
    pub item: Option<String>,
    pub price: Option<String>,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub trial_end: Option<i64>,
    pub canceled_at: Option<i64>,
    pub org_hint: Option<i64>,
}

/// Stripe's subscription statuses on ours (the table's CHECK).
fn map_status(s: &str) -> Option<&'static str> {
    Some(match s {
        "active" => "active",
        "trialing" => "trialing",
        "past_due" => "past_due",
        "canceled" | "incomplete_expired" => "canceled",
        "unpaid" | "paused" => "unpaid",
        "incomplete" => "incomplete",
        _ => return None,
    })
}

/// Reads a subscription object; `Err` names the field at fault.
pub fn subscription(o: &Value) -> Result<Subscription, AppError> {
    if o["object"] != "subscription" {
        return Err(invalid("data.object.object", "not a subscription"));
    }
    let id = ref_id(&o["id"]).ok_or_else(|| invalid("data.object.id", "subscription without id"))?;
    let customer =
        ref_id(&o["customer"]).ok_or_else(|| invalid("data.object.customer", "subscription without customer"))?;
    let status = o["status"]
        .as_str()
        .and_then(map_status)
        .ok_or_else(|| invalid("data.object.status", "unknown subscription status"))?;
    let item = &o["items"]["data"][0];
    // Periods are on the subscription (API versions before 2025-03-31) or on its items.
    let period_start = unix(&o["current_period_start"]).or_else(|| unix(&item["current_period_start"]));
    let period_end = unix(&o["current_period_end"]).or_else(|| unix(&item["current_period_end"]));
    Ok(Subscription {
        id,
        customer,
        status,
        item: ref_id(&item["id"]),
        price: ref_id(&item["price"]).or_else(|| ref_id(&item["plan"])),
        period_start,
        period_end,
        cancel_at_period_end: o["cancel_at_period_end"].as_bool().unwrap_or(false),
        trial_end: unix(&o["trial_end"]),
        canceled_at: unix(&o["canceled_at"]).or_else(|| unix(&o["ended_at"])),
        org_hint: org_hint(&o["metadata"]),
    })
}

/// What billing reads from an invoice object.
#[derive(Debug, Clone)]
pub struct Invoice {
    pub id: String,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub number: Option<String>,
    pub amount_paid: i64,
    pub amount_due: i64,
    pub currency: String,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub hosted_url: Option<String>,
    pub description: Option<String>,
    pub org_hint: Option<i64>,
}

/// Reads an invoice object.
pub fn invoice(o: &Value) -> Result<Invoice, AppError> {
    let id = ref_id(&o["id"]).ok_or_else(|| invalid("data.object.id", "invoice without id"))?;
    let currency = o["currency"]
        .as_str()
        .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
        .ok_or_else(|| invalid("data.object.currency", "invoice without a currency"))?
        .to_ascii_uppercase();
    let amount = |k: &str| o[k].as_i64().filter(|a| *a >= 0);
    let amount_due = amount("amount_due")
        .or_else(|| amount("total"))
        .ok_or_else(|| invalid("data.object.amount_due", "invoice without amount"))?;
    let line = &o["lines"]["data"][0];
    Ok(Invoice {
        id,
        customer: ref_id(&o["customer"]),
        subscription: ref_id(&o["subscription"])
            .or_else(|| ref_id(&o["parent"]["subscription_details"]["subscription"])),
        number: o["number"].as_str().map(|s| s.chars().take(100).collect()),
        amount_paid: amount("amount_paid").unwrap_or(0),
        amount_due,
        currency,
        period_start: unix(&line["period"]["start"]).or_else(|| unix(&o["period_start"])),
        period_end: unix(&line["period"]["end"]).or_else(|| unix(&o["period_end"])),
        payment_intent: ref_id(&o["payment_intent"]),
        charge: ref_id(&o["charge"]),
        hosted_url: o["hosted_invoice_url"]
            .as_str()
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .map(str::to_owned),
        description: line["description"].as_str().map(|s| s.chars().take(500).collect()),
        org_hint: org_hint(&o["subscription_details"]["metadata"]).or_else(|| org_hint(&o["metadata"])),
    })
}

/// What billing reads from a charge object.
#[derive(Debug, Clone)]
pub struct Charge {
    pub id: String,
    pub customer: Option<String>,
    pub invoice: Option<String>,
    pub payment_intent: Option<String>,
    pub amount_refunded: i64,
}

/// Reads a charge object.
pub fn charge(o: &Value) -> Result<Charge, AppError> {
    Ok(Charge {
        id: ref_id(&o["id"]).ok_or_else(|| invalid("data.object.id", "charge without id"))?,
        customer: ref_id(&o["customer"]),
        invoice: ref_id(&o["invoice"]),
        payment_intent: ref_id(&o["payment_intent"]),
        amount_refunded: o["amount_refunded"]
            .as_i64()
            .filter(|a| *a >= 0)
            .ok_or_else(|| invalid("data.object.amount_refunded", "charge without amount_refunded"))?,
    })
}

/// What billing reads from a completed Checkout Session.
#[derive(Debug, Clone)]
pub struct CheckoutSession {
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub org_hint: Option<i64>,
}

/// Reads a Checkout Session object.
#[must_use]
pub fn checkout_session(o: &Value) -> CheckoutSession {
    CheckoutSession {
        customer: ref_id(&o["customer"]),
        subscription: ref_id(&o["subscription"]),
        org_hint: o["client_reference_id"].as_str().and_then(|s| s.parse().ok()).or_else(|| org_hint(&o["metadata"])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_another_shape_are_refused_with_the_field() {
        let field =
            |body: &str| parse(body.as_bytes()).err().and_then(|e| e.details().cloned()).map(|d| d["field"].clone());
        assert_eq!(field("nope"), Some(json!("body")));
        assert_eq!(field(r#"{"object":"charge"}"#), Some(json!("object")));
        assert_eq!(field(r#"{"object":"event","id":"evt 1"}"#), Some(json!("id")));
        assert_eq!(
            field(r#"{"object":"event","id":"evt_1","type":"invoice.paid","created":1,"data":{}}"#),
            Some(json!("data.object"))
        );
        assert_eq!(
            field(
                r#"{"object":"event","id":"evt_1","type":"invoice.paid","created":1,"data":{"object":{"object":"charge","id":"ch_1"}}}"#
            ),
            Some(json!("data.object.object"))
        );
        let ok = parse(br#"{"object":"event","id":"evt_1","type":"invoice.paid","created":5,"data":{"object":{"object":"invoice","id":"in_1"}}}"#)
            .expect("valid");
        assert_eq!((ok.id.as_str(), ok.kind.as_str(), ok.created), ("evt_1", "invoice.paid", 5));
    }

    #[test]
    fn subscription_periods_are_read_from_items_on_newer_api_versions() {
        let s = subscription(&json!({"object":"subscription","id":"sub_1","customer":"cus_1","status":"incomplete_expired",
            "items":{"data":[{"id":"si_1","price":{"id":"price_1"},"current_period_start":10,"current_period_end":20}]}}))
        .expect("valid");
        assert_eq!(
            (s.status, s.period_start, s.period_end, s.price.as_deref()),
            ("canceled", Some(10), Some(20), Some("price_1"))
        );
    }
}
