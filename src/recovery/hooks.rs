//! Signed webhooks of recovery sources: Shopify-style checkout/cart and
//! order webhooks (`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw
//! body keyed with the app secret; topic in `X-Shopify-Topic`) and Stripe
//! invoices (`Stripe-Signature`). Each becomes an event of the generic
//! schema; topics recovery does not know are stored as rejected with the
//! reason. Nothing is stored for a missing or wrong signature.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::model::{RecoveryCartItem, RecoveryCustomer, RecoveryEventRequest, RecoveryIngest};
use super::{service, store};
use crate::app::AppState;
use crate::crypto::{constant_time_eq, hmac_sha256};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;

/// How far a Stripe signature's timestamp may be from now.
const STRIPE_TOLERANCE_SECS: u64 = 300;

fn refused(why: &str) -> AppError {
    AppError::new(ErrorCode::RecoverySignatureInvalid, why.to_owned())
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `"59.99"` → 5999 (two-decimal currencies).
fn minor(v: &Value, key: &str) -> Option<i64> {
    let s = text(v, key)?;
    let (whole, frac) = s.split_once('.').unwrap_or((&s, "0"));
    let frac: String = frac.chars().chain("00".chars()).take(2).collect();
    Some(whole.parse::<i64>().ok()? * 100 + frac.parse::<i64>().ok()?)
}

fn shopify_customer(body: &Value) -> RecoveryCustomer {
    let c = body.get("customer").cloned().unwrap_or(Value::Null);
    let name = [text(&c, "first_name"), text(&c, "last_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    RecoveryCustomer {
        id: text(&c, "id").map(|id| format!("shopify:{id}")),
        email: text(body, "email").or_else(|| text(&c, "email")),
        phone: text(body, "phone").or_else(|| text(&c, "phone")),
        name: Some(name).filter(|n| !n.is_empty()),
        timezone: None,
    }
}

/// A Shopify topic as a generic event; `Err(reason)` for topics recovery does not take.
fn shopify_event(topic: &str, body: &Value) -> Result<(RecoveryEventRequest, Option<String>), String> {
    let customer = shopify_customer(body);
    let currency = text(body, "currency").or_else(|| text(body, "presentment_currency"));
    match topic {
        "checkouts/create" | "checkouts/update" | "carts/update" => {
            if body.get("completed_at").is_some_and(|c| !c.is_null()) {
                return Err("the checkout is completed".into());
            }
            let items = body
                .get("line_items")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|l| RecoveryCartItem {
                            name: text(l, "title").unwrap_or_default(),
                            quantity: l.get("quantity").and_then(Value::as_i64).unwrap_or(1),
                            price: minor(l, "price"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            Ok((
                RecoveryEventRequest {
                    event_type: "cart_abandoned".into(),
                    source: Some("shopify".into()),
                    source_id: text(body, "token").or_else(|| text(body, "id")),
                    customer,
                    amount: minor(body, "total_price"),
                    currency,
                    cart_items: items,
                    checkout_url: text(body, "abandoned_checkout_url"),
                    ..RecoveryEventRequest::default()
                },
                None,
            ))
        }
        "orders/create" | "orders/paid" => Ok((
            RecoveryEventRequest {
                event_type: "conversion".into(),
                source: Some("shopify".into()),
                customer,
                amount: minor(body, "total_price"),
                currency,
                order_id: text(body, "id").map(|id| format!("shopify:{id}")),
                ..RecoveryEventRequest::default()
            },
            text(body, "checkout_token"),
        )),
        other => Err(format!("Shopify topic `{}` is not a recovery event", other.chars().take(60).collect::<String>())),
    }
}

/// A Stripe event as a generic event.
fn stripe_event(body: &Value) -> Result<(RecoveryEventRequest, Option<String>), String> {
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
    let o = body.pointer("/data/object").cloned().unwrap_or(Value::Null);
    let customer = RecoveryCustomer {
        id: text(&o, "customer").map(|c| format!("stripe:{c}")),
        email: text(&o, "customer_email"),
        phone: text(&o, "customer_phone"),
        name: text(&o, "customer_name"),
        timezone: None,
    };
    let currency = text(&o, "currency").map(|c| c.to_uppercase());
    match kind {
        "invoice.payment_failed" => {
            let mut data = Map::new();
            data.insert("invoice_id".into(), json!(text(&o, "id")));
            Ok((
                RecoveryEventRequest {
                    event_type: "payment_failed".into(),
                    source: Some("stripe".into()),
                    source_id: text(&o, "id"),
                    customer,
                    amount: o.get("amount_due").and_then(Value::as_i64),
                    currency,
                    payment_url: text(&o, "hosted_invoice_url"),
                    data,
                    ..RecoveryEventRequest::default()
                },
                None,
            ))
        }
        "invoice.paid" => Ok((
            RecoveryEventRequest {
                event_type: "conversion".into(),
                source: Some("stripe".into()),
                customer,
                amount: o.get("amount_paid").and_then(Value::as_i64),
                currency,
                order_id: text(&o, "id").map(|id| format!("stripe:{id}")),
                ..RecoveryEventRequest::default()
            },
            text(&o, "id"),
        )),
        other => Err(format!("Stripe event `{}` is not a recovery event", other.chars().take(60).collect::<String>())),
    }
}

/// An inbound source webhook, after the signature check.
pub async fn receive(
    state: &AppState,
    token: &str,
    headers: &actix_web::http::header::HeaderMap,
    body: &[u8],
) -> AppResult<RecoveryIngest> {
    let (source, org, platform, secret) = service::source_for_hook(state, token).await?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let parsed = if platform == "shopify" {
        let given =
            header("x-shopify-hmac-sha256").ok_or_else(|| refused("the X-Shopify-Hmac-Sha256 header is missing"))?;
        let expected = STANDARD.encode(hmac_sha256(secret.as_bytes(), body));
        if !constant_time_eq(expected.as_bytes(), given.trim().as_bytes()) {
            return Err(refused("the X-Shopify-Hmac-Sha256 signature does not match"));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?;
        shopify_event(&header("x-shopify-topic").unwrap_or_default(), &value)
    } else {
        let now = chrono::Utc::now().timestamp();
        crate::billing::stripe::signature::verify(
            header("stripe-signature").as_deref(),
            body,
            &[secret],
            STRIPE_TOLERANCE_SECS,
            now,
        )
        .map_err(|e| refused(&e.to_string()))?;
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("the body is not JSON: {e}")))?;
        stripe_event(&value)
    };
    let tenant = Tenant::system(org, "recovery source webhook");
    let out = state
        .db
        .write(move |tx| {
            store::source_received(tx, source)?;
            match parsed {
                Ok((req, checkout)) if req.event_type == "conversion" => {
                    let platform = req.source.clone().unwrap_or_default();
                    service::convert_by_source(tx, &tenant, &req, &platform, checkout.as_deref())
                }
                Ok((req, _)) => service::ingest_in(tx, &tenant, &req),
                Err(reason) => {
                    let req = RecoveryEventRequest {
                        event_type: "unknown".into(),
                        source: Some(platform.clone()),
                        customer: RecoveryCustomer {
                            id: Some(format!("{platform}:unknown")),
                            ..RecoveryCustomer::default()
                        },
                        ..RecoveryEventRequest::default()
                    };
                    let mut out = service::ingest_in(tx, &tenant, &req)?;
                    if let Some(id) = out.event_id {
                        store::set_reject_reason(tx, id, &reason)?;
                    }
                    out.reason = Some(reason);
                    Ok(out)
                }
            }
        })
        .await?;
    state.jobs.notify();
    Ok(out)
}
