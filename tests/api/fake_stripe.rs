//! A local fake of the Stripe API for the billing tests: form-encoded
//! requests with the secret key, answered with Stripe-shaped objects
//! (customers, Checkout Sessions, portal sessions, subscriptions with items,
//! the invoice preview with prorations, cancel), plus the test side of
//! Stripe: completing a checkout, building events and signing them with
//! `Stripe-Signature` (HMAC-SHA256 of `t.payload`, computed here from the
//! documented scheme).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::TestApp;

/// The secret key the app is configured with.
pub const SECRET_KEY: &str = "sk_test_fake_51";
/// The webhook signing secrets: the current one and the one being rotated out.
pub const WEBHOOK_SECRET: &str = "whsec_current_secret";
pub const OLD_WEBHOOK_SECRET: &str = "whsec_previous_secret";

/// What the fake holds.
#[derive(Default)]
pub struct State {
    n: u64,
    /// price id → (amount, interval `month`/`year`, currency).
    pub prices: HashMap<String, (i64, &'static str, &'static str)>,
    pub customers: HashMap<String, Value>,
    pub sessions: HashMap<String, Value>,
    pub subscriptions: HashMap<String, Value>,
    /// The `proration_date` of each subscription update that sent one.
    pub proration_dates: Vec<i64>,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}_{:014}", self.n)
    }
}

/// A running fake.
pub struct FakeStripe {
    pub server: FakeServer,
    pub state: Arc<Mutex<State>>,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn error(status: u16, message: &str) -> Reply {
    Reply::Full(
        status,
        "application/json".into(),
        json!({ "error": { "type": "invalid_request_error", "message": message } }).to_string().into_bytes(),
    )
}

fn ok(v: &Value) -> Reply {
    Reply::Full(200, "application/json".into(), v.to_string().into_bytes())
}

/// Decodes `a=1&b[c]=2` (the body, or the query of GET/DELETE).
pub fn form(r: &Received) -> HashMap<String, String> {
    let raw = if r.body.is_empty() {
        r.path.split_once('?').map(|(_, q)| q.as_bytes().to_vec()).unwrap_or_default()
    } else {
        r.body.clone()
    };
    url::form_urlencoded::parse(&raw).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn price_object(state: &State, price: &str) -> Value {
    let (amount, interval, currency) = state.prices.get(price).copied().unwrap_or((0, "month", "usd"));
    json!({ "id": price, "object": "price", "unit_amount": amount, "currency": currency,
            "recurring": { "interval": interval, "interval_count": 1 } })
}

fn period(interval: &str) -> i64 {
    if interval == "year" { 365 * 86_400 } else { 30 * 86_400 }
}

#[allow(clippy::too_many_lines, reason = "one arm per Stripe endpoint the fake answers")]
fn handle(state: &Mutex<State>, r: &Received) -> Reply {
    if r.header("authorization") != Some(&format!("Bearer {SECRET_KEY}")) {
        return error(401, "Invalid API Key provided");
    }
    let f = form(r);
    let path = r.path.split('?').next().unwrap_or_default().to_owned();
    let mut s = state.lock().expect("state");
    let segments: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (r.method.as_str(), segments.as_slice()) {
        ("POST", ["customers"]) => {
            let id = s.id("cus");
            let c = json!({ "id": id, "object": "customer", "email": f.get("email"), "name": f.get("name"),
                            "metadata": { "organization_id": f.get("metadata[organization_id]") } });
            s.customers.insert(id, c.clone());
            ok(&c)
        }
        ("POST", ["checkout", "sessions"]) => {
            let price = f.get("line_items[0][price]").cloned().unwrap_or_default();
            if f.get("mode").map(String::as_str) != Some("subscription") || !s.prices.contains_key(&price) {
                return error(400, "No such price or mode");
            }
            let Some(customer) = f.get("customer").filter(|c| s.customers.contains_key(*c)).cloned() else {
                return error(400, "No such customer");
            };
            let id = s.id("cs_test");
            let session = json!({
                "id": id, "object": "checkout.session", "mode": "subscription", "status": "open",
                "url": format!("https://checkout.stripe.test/c/pay/{id}"),
                "customer": customer, "client_reference_id": f.get("client_reference_id"),
                "metadata": { "organization_id": f.get("metadata[organization_id]") },
                "success_url": f.get("success_url"), "cancel_url": f.get("cancel_url"),
                "subscription": null,
                // What the test's "customer" will subscribe to.
                "x_fake": { "price": price, "trial_days": f.get("subscription_data[trial_period_days]"),
                            "org": f.get("subscription_data[metadata][organization_id]") }
            });
            s.sessions.insert(id, session.clone());
            let mut answer = session;
            answer.as_object_mut().expect("object").remove("x_fake");
            ok(&answer)
        }
        ("POST", ["billing_portal", "sessions"]) => {
            let id = s.id("bps");
            ok(&json!({ "id": id, "object": "billing_portal.session", "customer": f.get("customer"),
                        "return_url": f.get("return_url"), "url": format!("https://billing.stripe.test/p/session/{id}") }))
        }
        ("GET", ["subscriptions", id]) => match s.subscriptions.get(*id) {
            Some(sub) => ok(sub),
            None => error(404, "No such subscription"),
        },
        ("DELETE", ["subscriptions", id]) => {
            let Some(sub) = s.subscriptions.get_mut(*id) else { return error(404, "No such subscription") };
            sub["status"] = json!("canceled");
            sub["canceled_at"] = json!(now());
            sub["ended_at"] = json!(now());
            let sub = sub.clone();
            ok(&sub)
        }
        ("POST", ["subscriptions", id]) => {
            let id = (*id).to_owned();
            if !s.subscriptions.contains_key(&id) {
                return error(404, "No such subscription");
            }
            if let Some(pd) = f.get("proration_date").and_then(|p| p.parse().ok()) {
                s.proration_dates.push(pd);
            }
            let new_price = f.get("items[0][price]").cloned().map(|p| price_object(&s, &p));
            let sub = s.subscriptions.get_mut(&id).expect("subscription");
            if let Some(price) = new_price {
                if f.get("items[0][id]").map(String::as_str) != sub["items"]["data"][0]["id"].as_str() {
                    return error(400, "No such subscription item");
                }
                sub["items"]["data"][0]["price"] = price;
            }
            if let Some(c) = f.get("cancel_at_period_end") {
                sub["cancel_at_period_end"] = json!(c == "true");
            }
            let sub = sub.clone();
            ok(&sub)
        }
        ("POST", ["invoices", "create_preview"]) => {
            let sub_id = f.get("subscription").cloned().unwrap_or_default();
            let Some(sub) = s.subscriptions.get(&sub_id).cloned() else { return error(404, "No such subscription") };
            let new_price = f.get("subscription_details[items][0][price]").cloned().unwrap_or_default();
            let Some(&(new_amount, new_interval, currency)) = s.prices.get(&new_price) else {
                return error(400, "No such price");
            };
            let old_amount = sub["items"]["data"][0]["price"]["unit_amount"].as_i64().unwrap_or(0);
            let (start, end) =
                (sub["current_period_start"].as_i64().unwrap_or(0), sub["current_period_end"].as_i64().unwrap_or(0));
            let at: i64 =
                f.get("subscription_details[proration_date]").and_then(|p| p.parse().ok()).unwrap_or_else(now);
            // Unused time on the old price is credited, the remaining time on the new one charged.
            let remaining = |amount: i64| amount * (end - at).max(0) / (end - start).max(1);
            let lines = json!([
                { "amount": -remaining(old_amount), "description": "Unused time on the current plan", "proration": true,
                  "period": { "start": at, "end": end } },
                { "amount": remaining(new_amount), "description": "Remaining time on the new plan", "proration": true,
                  "period": { "start": at, "end": end } },
                { "amount": new_amount, "description": "Next period", "proration": false,
                  "period": { "start": end, "end": end + period(new_interval) } }
            ]);
            let total: i64 = lines.as_array().expect("lines").iter().map(|l| l["amount"].as_i64().unwrap_or(0)).sum();
            ok(&json!({ "object": "invoice", "id": null, "customer": f.get("customer"), "subscription": sub_id,
                        "currency": currency, "amount_due": total.max(0), "total": total,
                        "lines": { "object": "list", "data": lines } }))
        }
        _ => error(404, "Unrecognized request URL"),
    }
}

impl FakeStripe {
    /// Starts the fake with the given prices (id, amount, interval).
    pub async fn start(prices: &[(&str, i64, &'static str)]) -> FakeStripe {
        let state = Arc::new(Mutex::new(State::default()));
        {
            let mut s = state.lock().expect("state");
            for (id, amount, interval) in prices {
                s.prices.insert((*id).to_owned(), (*amount, interval, "usd"));
            }
        }
        let shared = state.clone();
        let server = FakeServer::start(Arc::new(move |r: &Received| handle(&shared, r))).await;
        FakeStripe { server, state }
    }

    /// The customer completes the Checkout Session: the subscription
    /// starts (trialing when the session asked for trial days) and the
    /// `checkout.session.completed` event is answered.
    pub fn complete_checkout(&self, session_id: &str) -> Value {
        let mut s = self.state.lock().expect("state");
        let session = s.sessions.get(session_id).cloned().expect("session");
        let price = session["x_fake"]["price"].as_str().expect("price").to_owned();
        let trial: i64 = session["x_fake"]["trial_days"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
        let (sub_id, item_id) = (s.id("sub"), s.id("si"));
        let start = now();
        let interval = s.prices[&price].1;
        let sub = json!({
            "id": sub_id, "object": "subscription", "customer": session["customer"],
            "status": if trial > 0 { "trialing" } else { "active" },
            "current_period_start": start, "current_period_end": start + period(interval),
            "cancel_at_period_end": false, "canceled_at": null,
            "trial_end": if trial > 0 { json!(start + trial * 86_400) } else { Value::Null },
            "metadata": { "organization_id": session["x_fake"]["org"] },
            "items": { "object": "list", "data": [ { "id": item_id, "object": "subscription_item", "price": price_object(&s, &price) } ] }
        });
        s.subscriptions.insert(sub_id.clone(), sub);
        let completed = s.sessions.get_mut(session_id).expect("session");
        completed["status"] = json!("complete");
        completed["subscription"] = json!(sub_id);
        let mut object = completed.clone();
        object.as_object_mut().expect("object").remove("x_fake");
        drop(s);
        self.event("checkout.session.completed", object)
    }

    /// A subscription as Stripe holds it now.
    pub fn subscription(&self, id: &str) -> Value {
        self.state.lock().expect("state").subscriptions[id].clone()
    }

    /// Changes a subscription (as Stripe's own processes would) and answers it.
    pub fn update_subscription(&self, id: &str, change: impl FnOnce(&mut Value)) -> Value {
        let mut s = self.state.lock().expect("state");
        let sub = s.subscriptions.get_mut(id).expect("subscription");
        change(sub);
        sub.clone()
    }

    /// An event of `kind` about `object`, created now.
    pub fn event(&self, kind: &str, object: Value) -> Value {
        self.event_at(kind, object, now())
    }

    /// An event created at `created` (Unix seconds).
    #[allow(clippy::needless_pass_by_value, reason = "callers hand over the object they built")]
    pub fn event_at(&self, kind: &str, object: Value, created: i64) -> Value {
        let id = self.state.lock().expect("state").id("evt");
        json!({ "id": id, "object": "event", "api_version": "2024-06-20", "created": created, "livemode": false,
                "pending_webhooks": 1, "type": kind, "data": { "object": object } })
    }

    /// An invoice of the subscription (`status`: paid, open…).
    pub fn invoice(&self, sub_id: &str, amount: i64, status: &str) -> Value {
        let mut s = self.state.lock().expect("state");
        let sub = s.subscriptions[sub_id].clone();
        let (id, number, charge, intent) = (s.id("in"), s.n, s.id("ch"), s.id("pi"));
        let paid = status == "paid";
        json!({
            "id": id, "object": "invoice", "number": format!("FAKE-{number:04}"), "customer": sub["customer"],
            "subscription": sub_id, "status": status, "currency": "usd",
            "amount_due": amount, "amount_paid": if paid { amount } else { 0 }, "total": amount,
            "charge": charge, "payment_intent": intent,
            "hosted_invoice_url": format!("https://invoice.stripe.test/i/{id}"),
            "period_start": sub["current_period_start"], "period_end": sub["current_period_end"],
            "lines": { "object": "list", "data": [ { "amount": amount, "description": "1 × Pro (at $29.00 / month)",
                "period": { "start": sub["current_period_start"], "end": sub["current_period_end"] } } ] }
        })
    }

    /// Requests the fake received, as (method, path, form).
    pub fn requests(&self) -> Vec<(String, String, HashMap<String, String>)> {
        self.server.requests().iter().map(|r| (r.method.clone(), r.path.clone(), form(r))).collect()
    }
}

/// `t=…,v1=…` for `payload` signed at `t` with each of `secrets`.
pub fn signature_header(payload: &[u8], t: i64, secrets: &[&str]) -> String {
    let mut header = format!("t={t}");
    for secret in secrets {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        let _ = write!(header, ",v1={}", hex::encode(mac.finalize().into_bytes()));
    }
    header
}

/// Posts a raw body to the webhook with the given signature header.
pub async fn post_raw(app: &TestApp, body: &[u8], header: Option<String>) -> reqwest::Response {
    let mut r = app
        .request(reqwest::Method::POST, "/api/v1/billing/stripe/webhook")
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(h) = header {
        r = r.header("Stripe-Signature", h);
    }
    r.send().await.expect("send")
}

/// Posts an event signed now with the current secret, as Stripe does.
pub async fn deliver(app: &TestApp, event: &Value) -> reqwest::Response {
    let body = serde_json::to_vec(event).expect("json");
    post_raw(app, &body, Some(signature_header(&body, now(), &[WEBHOOK_SECRET]))).await
}
