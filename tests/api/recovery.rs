//! Revenue recovery through the real server: a signed Shopify-style
//! abandoned-checkout webhook starts a three-step sequence (email through
//! the SMTP sink, a WhatsApp template and an SMS through local fakes of the
//! Graph and Twilio APIs) scheduled at local times inside the send window;
//! the dispatcher runs when the test moves the stored due times into the
//! past (the controllable clock); a signed click redirects to the
//! checkout; an order stops the sequence and its amount shows as recovered
//! revenue. Also: duplicates, opt-outs, quiet hours, signatures, bad input.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app, spawn_app_with};
use crate::smtp::{SmtpSink, wait_for};

const SHOP_SECRET: &str = "shpss_0123456789abcdef";
const WA_TOKEN: &str = "EAAGm0PX4ZCpsBAtoken";
const PHONE_ID: &str = "106540352242922";
const WABA: &str = "102290129340398";
const APP_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TW_TOKEN: &str = "0123456789abcdef0123456789abcdef";
const ANN_PHONE: &str = "+4915112345678";
const CHECKOUT: &str = "https://shop.example/checkouts/ck_1/recover";

fn hmac_b64(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A fake Graph API (WhatsApp) and a fake Twilio on one server.
fn providers() -> Arc<dyn Fn(&Received) -> Reply + Send + Sync> {
    let next = Arc::new(Mutex::new(0_u32));
    Arc::new(move |r: &Received| {
        let reply = |status: u16, v: Value| Reply::Full(status, "application/json".into(), v.to_string().into_bytes());
        let mut n = next.lock().expect("n");
        *n += 1;
        if r.path.starts_with("/v21.0/") {
            if r.method == "GET" {
                return reply(
                    200,
                    json!({"display_phone_number": "+1 555-010-0000", "verified_name": "Shop", "id": PHONE_ID}),
                );
            }
            return reply(
                200,
                json!({"messaging_product": "whatsapp", "messages": [{"id": format!("wamid.R{}", *n)}]}),
            );
        }
        if r.method == "GET" {
            return reply(200, json!({"sid": SID, "friendly_name": "Shop", "status": "active"}));
        }
        reply(201, json!({"sid": format!("SM{:032}", *n), "status": "queued"}))
    })
}

struct Setup {
    app: TestApp,
    s: Session,
    sink: SmtpSink,
    fake: FakeServer,
    whatsapp: Value,
    template: i64,
}

async fn channel(app: &TestApp, s: &Session, body: Value) -> Value {
    let (status, channel) = app.call(s, Method::POST, &format!("/api/v1/orgs/{}/channels", s.org_id), Some(body)).await;
    assert_eq!(status, 201, "{channel}");
    let id = channel["id"].as_i64().expect("id");
    let (status, activated) = app.call(s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    activated["channel"].clone()
}

async fn setup() -> Setup {
    let sink = SmtpSink::start().await;
    let fake = FakeServer::start(providers()).await;
    let (smtp, graph, twilio) = (sink.config(), format!("{}/v21.0", fake.base), fake.base.clone());
    let app = spawn_app_with(move |c| {
        c.smtp = smtp;
        c.channels.graph_api_base = graph;
        c.channels.twilio_api_base = twilio;
    })
    .await;
    let s = app.register("owner@example.com").await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", crate::channels::colour_flow()).await;
    channel(&app, &s, json!({ "type": "email", "bot_id": bot, "credentials": { "from_address": "shop@shop.test", "from_name": "Shop" } })).await;
    let whatsapp = channel(&app, &s, json!({ "type": "whatsapp", "bot_id": bot, "credentials": {
        "access_token": WA_TOKEN, "phone_number_id": PHONE_ID, "app_secret": APP_SECRET, "business_account_id": WABA } }))
    .await;
    channel(&app, &s, json!({ "type": "sms", "bot_id": bot, "credentials": { "account_sid": SID, "auth_token": TW_TOKEN, "from": "+15005550006" } })).await;
    let (status, t) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/channels/{}/templates", whatsapp["id"]),
            Some(json!({ "name": "cart_reminder", "language": "en_US", "category": "marketing",
                "body": "Hi {{1}}, your cart ({{2}}) is waiting: {{3}}", "examples": ["Ann", "1 × Shirt", "https://shop.example/c"] })),
        )
        .await;
    assert_eq!(status, 201, "{t}");
    let template = t["id"].as_i64().expect("template");
    // Meta's review is out of scope here: the template is approved as the template tests do through the status webhook.
    app.sql(|c| c.execute("UPDATE channel_templates SET status = 'approved' WHERE id = ?1", [template]));
    Setup { app, s, sink, fake, whatsapp, template }
}

fn cart_campaign(template: i64) -> Value {
    json!({
        "name": "Abandoned carts", "trigger": "abandoned_cart", "status": "active",
        "timezone": "America/New_York", "send_window": { "start": "09:00", "end": "20:00" },
        "steps": [
            { "delay_minutes": 60, "channel": "email", "subject": "Your cart is waiting, {{customer.first_name}}",
              "body": "Hi {{customer.first_name}}, your cart ({{cart.items}}, {{amount}}) is waiting: {{checkout_url}}" },
            { "delay_minutes": 1440, "channel": "whatsapp", "template_id": template,
              "template_variables": ["{{customer.first_name}}", "{{cart.items}}", "{{checkout_url}}"] },
            { "delay_minutes": 2880, "channel": "sms", "body": "Last call for your cart ({{amount}}): {{checkout_url}}" }
        ]
    })
}

async fn create_campaign(app: &TestApp, s: &Session, body: Value) -> Value {
    let (status, c) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/recovery/campaigns", s.org_id), Some(body)).await;
    assert_eq!(status, 201, "{c}");
    c
}

async fn shopify_source(app: &TestApp, s: &Session) -> String {
    let (status, source) = app
        .call(
            s,
            Method::POST,
            &format!("/api/v1/orgs/{}/recovery/sources", s.org_id),
            Some(json!({ "name": "Shop", "platform": "shopify", "secret": SHOP_SECRET })),
        )
        .await;
    assert_eq!(status, 201, "{source}");
    let url = source["url"].as_str().expect("url shown once");
    url[url.find("/api/v1/recovery-hooks/").expect("path")..].to_owned()
}

fn checkout() -> Value {
    json!({ "id": 981_234, "token": "ck_1", "email": "Ann@Example.com", "phone": ANN_PHONE, "currency": "EUR",
        "total_price": "59.99", "abandoned_checkout_url": CHECKOUT, "completed_at": null,
        "customer": { "id": 42, "first_name": "Ann", "last_name": "Lee", "email": "ann@example.com" },
        "line_items": [{ "title": "Blue shirt", "quantity": 2, "price": "19.99" }, { "title": "Socks", "quantity": 1, "price": "20.01" }] })
}

/// Posts a Shopify webhook with `signature` (`None`: unsigned).
async fn shopify(app: &TestApp, path: &str, topic: &str, body: &Value, signature: Option<String>) -> (u16, Value) {
    let raw = body.to_string().into_bytes();
    let mut r =
        app.client.post(app.url(path)).header("content-type", "application/json").header("X-Shopify-Topic", topic);
    if let Some(s) = signature {
        r = r.header("X-Shopify-Hmac-Sha256", s);
    }
    let response = r.body(raw).send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn signed_shopify(app: &TestApp, path: &str, topic: &str, body: &Value) -> Value {
    let sig = hmac_b64(SHOP_SECRET, body.to_string().as_bytes());
    let (status, out) = shopify(app, path, topic, body, Some(sig)).await;
    assert_eq!(status, 200, "{out}");
    out
}

async fn messages(app: &TestApp, s: &Session, event: i64) -> Vec<Value> {
    let (status, page) =
        app.call(s, Method::GET, &format!("/api/v1/orgs/{}/recovery/messages?event_id={event}", s.org_id), None).await;
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().expect("items").clone()
}

/// The controllable clock: message `id` (and its dispatch job) became due a
/// minute ago; then the job queue runs.
async fn make_due(app: &TestApp, id: i64, ago_secs: i64) {
    let at = (Utc::now() - Duration::seconds(ago_secs)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    app.sql(|c| {
        c.execute("UPDATE recovery_messages SET scheduled_at = ?2 WHERE id = ?1", rusqlite::params![id, at])?;
        c.execute(
            "UPDATE jobs SET run_at = ?2 WHERE kind = 'recovery.dispatch' AND status = 'queued'
               AND json_extract(payload, '$.message_id') = ?1",
            rusqlite::params![id, at],
        )
    });
    app.run_jobs().await;
}

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("time")).expect("rfc3339").with_timezone(&Utc)
}

/// Where the send window puts a message due at `due` in New York (09:00–20:00).
fn expected_send_time(due: DateTime<Utc>) -> DateTime<Utc> {
    let ny: Tz = "America/New_York".parse().expect("tz");
    let local = due.with_timezone(&ny);
    let (open, close) = (NaiveTime::from_hms_opt(9, 0, 0).expect("t"), NaiveTime::from_hms_opt(20, 0, 0).expect("t"));
    if local.time() >= open && local.time() < close {
        return due;
    }
    let day = if local.time() >= close { local.date_naive() + Duration::days(1) } else { local.date_naive() };
    day.and_time(open).and_local_timezone(ny).earliest().expect("local").with_timezone(&Utc)
}

#[tokio::test]
async fn an_abandoned_checkout_runs_three_steps_at_local_times_until_the_order_and_shows_recovered_revenue() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let campaign = create_campaign(app, s, cart_campaign(st.template)).await;
    let hook = shopify_source(app, s).await;

    // Unsigned or wrongly signed: refused, nothing stored.
    let (status, body) = shopify(app, &hook, "checkouts/update", &checkout(), None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("recovery_signature_invalid")), "{body}");
    let bad = hmac_b64("another secret", checkout().to_string().as_bytes());
    let (status, _) = shopify(app, &hook, "checkouts/update", &checkout(), Some(bad)).await;
    assert_eq!(status, 401);
    assert_eq!(app.count("SELECT count(*) FROM recovery_events"), 0);

    let before = Utc::now();
    let taken = signed_shopify(app, &hook, "checkouts/update", &checkout()).await;
    assert_eq!(
        (taken["outcome"].as_str(), taken["messages_scheduled"].as_i64()),
        (Some("accepted"), Some(3)),
        "{taken}"
    );
    assert_eq!(taken["campaign_id"], campaign["id"]);
    // The same checkout again (Shopify sends several updates): one sequence.
    let again = signed_shopify(app, &hook, "checkouts/update", &checkout()).await;
    assert_eq!(again["outcome"], "duplicate", "{again}");
    assert_eq!(app.count("SELECT count(*) FROM recovery_events"), 1);
    assert_eq!(app.count("SELECT count(*) FROM recovery_messages"), 3);

    let event = taken["event_id"].as_i64().expect("event");
    let list = messages(app, s, event).await;
    for (m, delay) in list.iter().zip([60, 1440, 2880]) {
        assert_eq!((m["status"].as_str(), m["timezone"].as_str()), (Some("pending"), Some("America/New_York")), "{m}");
        let scheduled = at(&m["scheduled_at"]);
        let due = before + Duration::minutes(delay);
        let expected = expected_send_time(due);
        assert!((scheduled - expected).num_seconds().abs() < 90, "step {m}: {scheduled} vs {expected}");
        let local = m["scheduled_local"].as_str().expect("local");
        let hour: u32 = local[11..13].parse().expect("hour");
        assert!((9..20).contains(&hour), "inside the window: {local}");
        assert!(local.ends_with("-05:00") || local.ends_with("-04:00"), "{local}");
    }
    let ids: Vec<i64> = list.iter().map(|m| m["id"].as_i64().expect("id")).collect();

    // Nothing is sent before its time.
    app.run_jobs().await;
    assert!(st.sink.to("ann@example.com").is_empty());

    // Step 1: email through the SMTP sink, with a tracked link and an unsubscribe link.
    make_due(app, ids[0], 60).await;
    let mails = wait_for(&st.sink, "ann@example.com", 1).await;
    let mail = &mails[0];
    assert_eq!(mail.header("Subject").as_deref(), Some("Your cart is waiting, Ann"));
    let text = mail.text();
    assert!(text.contains("Hi Ann, your cart (2 × Blue shirt, 1 × Socks, 59.99 EUR) is waiting: "), "{text}");
    assert!(!text.contains(CHECKOUT), "the checkout URL is behind the tracking link: {text}");
    let link = text[text.find("/api/v1/recovery-links/").expect("tracked link")..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_owned();
    assert!(text.contains("/api/v1/recovery-unsubscribe/"), "{text}");
    let list = messages(app, s, event).await;
    assert_eq!(list[0]["status"], "sent", "{}", list[0]);
    assert_eq!(list[0]["channel"], "email");

    // The click: recorded, redirected to the event's own URL only; a tampered link is refused.
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = plain.get(app.url(&link)).send().await.expect("click");
    assert_eq!(r.status().as_u16(), 302);
    assert_eq!(r.headers().get("location").and_then(|v| v.to_str().ok()), Some(CHECKOUT));
    let mut tampered = link.clone();
    tampered.pop();
    tampered.push(if link.ends_with('A') { 'B' } else { 'A' });
    assert_error(plain.get(app.url(&tampered)).send().await.expect("send"), 404, "recovery_link_invalid").await;
    let other = link.replace(".checkout_url.", ".payment_url.");
    assert_error(plain.get(app.url(&other)).send().await.expect("send"), 404, "recovery_link_invalid").await;
    assert_eq!(messages(app, s, event).await[0]["status"], "clicked");

    // Step 2: the approved WhatsApp template, with the variables filled.
    make_due(app, ids[1], 60).await;
    let sent: Vec<Value> = st
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("/v21.0/{PHONE_ID}/messages"))
        .map(|r| serde_json::from_slice(&r.body).expect("json"))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0]["type"].as_str(), sent[0]["to"].as_str()),
        (Some("template"), Some("4915112345678")),
        "{}",
        sent[0]
    );
    assert_eq!(sent[0]["template"]["name"], "cart_reminder");
    let params = sent[0]["template"]["components"][0]["parameters"].as_array().expect("parameters");
    assert_eq!(params[0]["text"], "Ann");
    assert_eq!(params[1]["text"], "2 × Blue shirt, 1 × Socks");
    assert!(params[2]["text"].as_str().is_some_and(|u| u.contains("/api/v1/recovery-links/")), "{params:?}");
    // WhatsApp reports it delivered (a signed status webhook): the recovery message follows.
    let wamid = app.sql(|c| {
        c.query_row("SELECT external_id FROM channel_messages WHERE message_type = 'template'", [], |r| {
            r.get::<_, String>(0)
        })
    });
    let status = json!({ "object": "whatsapp_business_account", "entry": [{ "id": WABA, "time": 1_700_000_000,
        "changes": [{ "field": "messages", "value": { "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550100000", "phone_number_id": PHONE_ID },
            "statuses": [{ "id": wamid, "status": "delivered", "timestamp": "1700000001", "recipient_id": "4915112345678" }] } }] }] });
    let body = status.to_string().into_bytes();
    let url = st.whatsapp["webhook_url"].as_str().expect("webhook_url");
    let r = app
        .client
        .post(app.url(&url[url.find("/hooks/").expect("hooks")..]))
        .header("content-type", "application/json")
        .header("X-Hub-Signature-256", format!("sha256={}", hmac_hex(APP_SECRET, &body)))
        .body(body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    app.run_jobs().await;
    let list = messages(app, s, event).await;
    assert_eq!(
        (list[1]["status"].as_str(), list[1]["channel"].as_str()),
        (Some("delivered"), Some("whatsapp")),
        "{}",
        list[1]
    );

    // The order: attributed to the last message, the SMS step is cancelled.
    let order = json!({ "id": 5_550_001, "checkout_token": "ck_1", "email": "ann@example.com", "total_price": "59.99",
        "currency": "EUR", "customer": { "id": 42 } });
    let converted = signed_shopify(app, &hook, "orders/create", &order).await;
    assert_eq!(converted["outcome"], "converted", "{converted}");
    let twice = signed_shopify(app, &hook, "orders/create", &order).await;
    assert_eq!(twice["outcome"], "duplicate", "{twice}");
    make_due(app, ids[2], 60).await;
    assert!(st.fake.requests().iter().all(|r| !r.path.ends_with("/Messages.json")), "no SMS after the order");
    let list = messages(app, s, event).await;
    assert_eq!((list[1]["status"].as_str(), list[1]["conversion_value"].as_i64()), (Some("converted"), Some(5999)));
    assert_eq!(list[1]["conversion_order_id"], "shopify:5550001");
    assert_eq!(
        (list[2]["status"].as_str(), list[2]["reason"].as_str()),
        (Some("skipped"), Some("converted")),
        "{}",
        list[2]
    );

    // Analytics: the dashboard reads the rollups the scheduled
    // `recovery.rollup` job writes (nothing before its run), then shows the
    // recovered revenue, cost and ROI per campaign and day, and as CSV.
    let path = format!("/api/v1/orgs/{}/recovery/analytics", s.org_id);
    let (status, before) = app.call(s, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!((before["rolled_up_at"].as_str(), before["revenue_recovered"].as_i64()), (None, Some(0)), "{before}");
    let enqueued = botbuilder::jobs::enqueue_scheduled(&app.state).await.expect("scheduled jobs");
    assert!(!enqueued.is_empty());
    app.run_jobs().await;
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE kind = 'recovery.rollup' AND status = 'succeeded'"), 1);
    let (status, a) = app.call(s, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{a}");
    assert!(a["rolled_up_at"].is_string(), "{a}");
    // One email (free) and one WhatsApp template (3 cents by default) were sent.
    assert_eq!((a["cost"].as_i64(), a["rows"][0]["cost"].as_i64()), (Some(3), Some(3)), "{a}");
    assert!(a["roi_percent"].as_f64().is_some_and(|r| r > 100_000.0), "{a}");
    assert_eq!(
        (a["sent"].as_i64(), a["converted"].as_i64(), a["revenue_recovered"].as_i64()),
        (Some(2), Some(1), Some(5999)),
        "{a}"
    );
    assert_eq!((a["clicked"].as_i64(), a["delivered"].as_i64()), (Some(1), Some(1)), "{a}");
    let row = &a["rows"][0];
    assert_eq!(
        (row["campaign_name"].as_str(), row["currency"].as_str()),
        (Some("Abandoned carts"), Some("EUR")),
        "{row}"
    );
    assert_eq!(row["conversion_rate"], 50.0);
    let csv = app
        .as_user(s, Method::GET, &format!("/api/v1/orgs/{}/recovery/analytics.csv", s.org_id))
        .send()
        .await
        .expect("csv");
    assert_eq!(csv.status().as_u16(), 200);
    let csv = csv.text().await.expect("text");
    assert!(csv.lines().nth(1).is_some_and(|l| l.contains("Abandoned carts") && l.contains("5999")), "{csv}");
    let (_, c) = app.call(s, Method::GET, &format!("/api/v1/recovery-campaigns/{}", campaign["id"]), None).await;
    assert_eq!(
        (c["total_sent"].as_i64(), c["total_recovered"].as_i64(), c["total_revenue_recovered"].as_i64()),
        (Some(2), Some(1), Some(5999)),
        "{c}"
    );
}

#[tokio::test]
async fn opted_out_customers_get_nothing_and_the_unsubscribe_link_stops_every_campaign() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let mut body = cart_campaign(st.template);
    body["send_window"] = Value::Null;
    body["steps"][0]["delay_minutes"] = json!(0);
    create_campaign(app, s, body).await;
    let events = format!("/api/v1/orgs/{}/recovery/events", s.org_id);
    let event = |customer: &str, phone: &str, id: &str| {
        json!({ "type": "cart_abandoned", "source": "shop", "source_id": id, "amount": 2500, "currency": "EUR",
            "customer": { "id": customer, "email": format!("{customer}@example.com"), "phone": phone },
            "checkout_url": "https://shop.example/c/1", "cart_items": [{ "name": "Mug", "quantity": 1 }] })
    };
    // Bob revoked consent on his SMS contact (the contacts API does this): nothing is scheduled for him.
    let sms = app.sql(|c| c.query_row("SELECT id FROM channels WHERE type = 'sms'", [], |r| r.get::<_, i64>(0)));
    app.sql(|c| {
        c.execute(
            "INSERT INTO channel_contacts (organization_id, channel_id, external_id, phone_number, consent_status)
             VALUES (?1, ?2, '+4915100000002', '+4915100000002', 'revoked')",
            rusqlite::params![s.org_id, sms],
        )
    });
    let (status, out) = app.call(s, Method::POST, &events, Some(event("bob", "+4915100000002", "e-bob"))).await;
    assert_eq!((status, out["outcome"].as_str()), (202, Some("opted_out")), "{out}");
    assert_eq!(app.count("SELECT count(*) FROM recovery_messages"), 0);

    // Carol opts out (SMS STOP) after her sequence was scheduled: the due message is skipped, never sent.
    let (_, out) = app.call(s, Method::POST, &events, Some(event("carol", "+4915100000003", "e-carol"))).await;
    assert_eq!(out["outcome"], "accepted", "{out}");
    let carol = out["event_id"].as_i64().expect("event");
    app.sql(|c| {
        c.execute(
            "INSERT INTO channel_contacts (organization_id, channel_id, external_id, phone_number, opted_out_at, opt_out_source)
             VALUES (?1, ?2, '+4915100000003', '+4915100000003', '2026-01-01T00:00:00.000Z', 'keyword')",
            rusqlite::params![s.org_id, sms],
        )
    });
    let first = messages(app, s, carol).await[0]["id"].as_i64().expect("id");
    make_due(app, first, 30).await;
    assert!(st.sink.to("carol@example.com").is_empty());
    let list = messages(app, s, carol).await;
    assert_eq!(
        (list[0]["status"].as_str(), list[0]["reason"].as_str()),
        (Some("skipped"), Some("opted_out")),
        "{}",
        list[0]
    );

    // Dan unsubscribes with the link of his first email: his pending steps are skipped and later events take nothing.
    let (_, out) = app.call(s, Method::POST, &events, Some(event("dan", "+4915100000004", "e-dan-1"))).await;
    let dan = out["event_id"].as_i64().expect("event");
    let list = messages(app, s, dan).await;
    make_due(app, list[0]["id"].as_i64().expect("id"), 30).await;
    let mails = wait_for(&st.sink, "dan@example.com", 1).await;
    let text = mails[0].text();
    let link = text[text.find("/api/v1/recovery-unsubscribe/").expect("link")..]
        .split_whitespace()
        .next()
        .expect("link")
        .to_owned();
    let page = app.client.get(app.url(&link)).send().await.expect("page");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.expect("html").contains("<form method=\"post\">"));
    assert_eq!(app.client.post(app.url(&link)).send().await.expect("post").status().as_u16(), 200);
    let list = messages(app, s, dan).await;
    assert_eq!(list[0]["status"], "unsubscribed");
    assert!(list[1..].iter().all(|m| m["status"] == "skipped" && m["reason"] == "opted_out"), "{list:?}");
    let (_, out) = app.call(s, Method::POST, &events, Some(event("dan", "+4915100000004", "e-dan-2"))).await;
    assert_eq!(out["outcome"], "opted_out", "{out}");
    let mut forged = link.clone();
    forged.pop();
    forged.push(if link.ends_with('x') { 'y' } else { 'x' });
    assert_error(app.client.post(app.url(&forged)).send().await.expect("send"), 404, "recovery_link_invalid").await;
}

#[tokio::test]
async fn quiet_hours_postpone_a_message_to_their_end_and_never_drop_it() {
    let app = spawn_app().await;
    let s = app.register("owner@example.com").await;
    let now = Utc::now();
    let start = (now - Duration::hours(1)).format("%H:00").to_string();
    let end_time = now + Duration::hours(2);
    let end = end_time.format("%H:00").to_string();
    create_campaign(
        &app,
        &s,
        json!({ "name": "Payments", "trigger": "failed_payment", "status": "active", "timezone": "UTC",
            "quiet_hours": { "start": start, "end": end },
            "steps": [{ "delay_minutes": 0, "channel": "email", "body": "Your payment of {{amount}} failed: {{payment_url}}" }] }),
    )
    .await;
    let (status, out) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/recovery/events", s.org_id),
            Some(json!({ "type": "payment_failed", "amount": 1900, "customer": { "email": "erin@example.com" },
                "payment_url": "https://billing.example/pay/in_1" })),
        )
        .await;
    assert_eq!((status, out["outcome"].as_str()), (202, Some("accepted")), "{out}");
    let list = messages(&app, &s, out["event_id"].as_i64().expect("event")).await;
    let quiet_end =
        end_time.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).expect("end");
    assert_eq!(at(&list[0]["scheduled_at"]), quiet_end, "{}", list[0]);
    assert_eq!(list[0]["status"], "pending");

    // Found late inside the quiet hours (a stopped server): postponed to their end again, still pending.
    let id = list[0]["id"].as_i64().expect("id");
    make_due(&app, id, 3600).await;
    let list = messages(&app, &s, out["event_id"].as_i64().expect("event")).await;
    assert_eq!((list[0]["status"].as_str(), at(&list[0]["scheduled_at"])), (Some("pending"), quiet_end), "{}", list[0]);
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE kind = 'recovery.dispatch' AND status = 'queued'"), 1);
}

#[tokio::test]
async fn bad_campaigns_events_and_webhooks_are_refused_with_the_field() {
    let app = spawn_app().await;
    let s = app.register("owner@example.com").await;
    let path = format!("/api/v1/orgs/{}/recovery/campaigns", s.org_id);
    let good = json!({ "name": "Carts", "trigger": "abandoned_cart",
        "steps": [{ "delay_minutes": 30, "channel": "email", "body": "Your cart: {{cart.items}} {{checkout_url}}" }] });
    for (change, code, field) in [
        (json!({ "steps": [] }), "validation_failed", "steps"),
        (json!({ "trigger": "birthday" }), "validation_failed", "trigger"),
        (json!({ "trigger": "failed_payment" }), "recovery_template_field", "steps[0].body"),
        (
            json!({ "steps": [{ "delay_minutes": 0, "channel": "email", "body": "ok", "subject": "{{cart.colour}}" }] }),
            "recovery_template_field",
            "steps[0].subject",
        ),
        (
            json!({ "steps": [{ "delay_minutes": 0, "channel": "whatsapp" }] }),
            "validation_failed",
            "steps[0].template_id",
        ),
        (
            json!({ "steps": [{ "delay_minutes": 0, "channel": "fax", "body": "x" }] }),
            "validation_failed",
            "steps[0].channel",
        ),
        (json!({ "send_window": { "start": "09:00", "end": "09:00" } }), "validation_failed", "send_window"),
        (
            json!({ "send_window": { "start": "10:00", "end": "16:00" }, "quiet_hours": { "start": "08:00", "end": "18:00" } }),
            "validation_failed",
            "send_window",
        ),
        (json!({ "send_window": { "start": "25:00", "end": "16:00" } }), "validation_failed", "send_window.start"),
        (json!({ "timezone": "Mars/Olympus" }), "validation_failed", "timezone"),
        (json!({ "trigger": "custom" }), "validation_failed", "custom_event"),
    ] {
        let mut body = good.clone();
        for (k, v) in change.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (status, e) = app.call(&s, Method::POST, &path, Some(body)).await;
        assert_eq!(
            (status, e["error"]["code"].as_str(), e["error"]["details"]["field"].as_str()),
            (422, Some(code), Some(field)),
            "{change}: {e}"
        );
    }
    let e = app
        .call(
            &s,
            Method::POST,
            &path,
            Some(json!({ "trigger": "failed_payment", "name": "x",
        "steps": [{ "delay_minutes": 0, "channel": "sms", "body": "{{cart.items}}" }] })),
        )
        .await
        .1;
    assert_eq!(e["error"]["details"]["placeholder"], "cart.items", "{e}");
    assert_eq!(app.count("SELECT count(*) FROM recovery_campaigns"), 0);
    create_campaign(&app, &s, good.clone()).await;
    let (status, e) = app.call(&s, Method::POST, &path, Some(good)).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("recovery_campaign_exists")));

    let events = format!("/api/v1/orgs/{}/recovery/events", s.org_id);
    for (body, field) in [
        (json!({ "type": "cart_abandoned", "customer": {} }), "customer"),
        (
            json!({ "type": "cart_abandoned", "customer": { "email": "x@example.com" }, "checkout_url": "javascript:alert(1)" }),
            "checkout_url",
        ),
        (json!({ "type": "cart_abandoned", "customer": { "email": "x@example.com" }, "currency": "euro" }), "currency"),
        (
            json!({ "type": "cart_abandoned", "customer": { "email": "x@example.com", "timezone": "Nowhere" } }),
            "customer.timezone",
        ),
        (json!({ "type": "conversion", "customer": { "email": "x@example.com" }, "amount": 100 }), "order_id"),
    ] {
        let (status, e) = app.call(&s, Method::POST, &events, Some(body.clone())).await;
        assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some(field)), "{body}: {e}");
    }
    // An unknown type is stored as rejected with the reason.
    let (status, e) =
        app.call(&s, Method::POST, &events, Some(json!({ "type": "coupon_used", "customer": { "id": "c9" } }))).await;
    assert_eq!(
        (status, e["error"]["code"].as_str(), e["error"]["details"]["field"].as_str()),
        (422, Some("recovery_event_type_unknown"), Some("type")),
        "{e}"
    );
    let (_, log) = app.call(&s, Method::GET, &events, None).await;
    assert_eq!(
        (log["items"][0]["status"].as_str(), log["items"][0]["reason"].as_str()),
        (Some("ignored"), Some("unknown event type `coupon_used`")),
        "{log}"
    );

    // Stripe: signature checked with the source's secret; invoice.payment_failed stored; other types rejected with the reason.
    let (_, source) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/recovery/sources", s.org_id),
            Some(json!({ "name": "Billing", "platform": "stripe", "secret": "whsec_test_secret" })),
        )
        .await;
    let url = source["url"].as_str().expect("url");
    let hook = url[url.find("/api/v1/").expect("path")..].to_owned();
    let invoice = json!({ "id": "evt_1", "type": "invoice.payment_failed", "data": { "object": {
        "id": "in_1", "customer": "cus_1", "customer_email": "fay@example.com", "amount_due": 4900, "currency": "eur",
        "hosted_invoice_url": "https://invoice.stripe.com/i/in_1" } } });
    let post = |body: &Value, sig: Option<String>| {
        let mut r = app.client.post(app.url(&hook)).header("content-type", "application/json").body(body.to_string());
        if let Some(sig) = sig {
            r = r.header("Stripe-Signature", sig);
        }
        r.send()
    };
    let t = Utc::now().timestamp();
    let stripe_sig =
        |secret: &str, body: &Value| format!("t={t},v1={}", hmac_hex(secret, format!("{t}.{body}").as_bytes()));
    assert_error(post(&invoice, None).await.expect("send"), 401, "recovery_signature_invalid").await;
    assert_error(
        post(&invoice, Some(stripe_sig("whsec_other", &invoice))).await.expect("send"),
        401,
        "recovery_signature_invalid",
    )
    .await;
    let r = post(&invoice, Some(stripe_sig("whsec_test_secret", &invoice))).await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let out: Value = r.json().await.expect("json");
    assert_eq!(out["outcome"], "no_campaign", "{out}");
    let other = json!({ "id": "evt_2", "type": "customer.created", "data": { "object": { "id": "cus_2" } } });
    let out: Value =
        post(&other, Some(stripe_sig("whsec_test_secret", &other))).await.expect("send").json().await.expect("json");
    assert_eq!(
        (out["outcome"].as_str(), out["reason"].as_str()),
        (Some("rejected"), Some("Stripe event `customer.created` is not a recovery event")),
        "{out}"
    );
    let (_, log) = app.call(&s, Method::GET, &events, None).await;
    assert_eq!(log["items"][0]["reason"], "Stripe event `customer.created` is not a recovery event", "{log}");
    assert_eq!(log["items"][1]["event_type"], "payment_failed");
    let r = app.client.post(app.url("/api/v1/recovery-hooks/nope")).body("{}").send().await.expect("send");
    assert_error(r, 404, "recovery_source_not_found").await;
}

fn rewriting_llm(mode: Arc<Mutex<u8>>) -> Arc<dyn Fn(&Received) -> Reply + Send + Sync> {
    Arc::new(move |r: &Received| {
        let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let original = body["messages"][1]["content"].as_str().unwrap_or_default().to_owned();
        let text = match *mode.lock().expect("mode") {
            // A faithful rewrite: the placeholders kept.
            0 => format!("Rewritten: {original}"),
            // A rewrite that drops the link: refused, the template goes.
            _ => "Come back soon!".to_owned(),
        };
        let reply = json!({ "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake-model",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70 } });
        Reply::Full(200, "application/json".into(), reply.to_string().into_bytes())
    })
}

#[tokio::test]
async fn ab_variants_split_by_customer_and_a_model_rewrites_with_the_template_as_fallback() {
    let st = setup().await;
    let (app, s) = (&st.app, &st.s);
    let mode = Arc::new(Mutex::new(0_u8));
    let llm = FakeServer::start(rewriting_llm(mode.clone())).await;
    let (status, p) = app
        .call(
            s,
            Method::POST,
            &format!("/api/v1/orgs/{}/llm-providers", s.org_id),
            Some(json!({ "name": "Fake", "base_url": format!("{}/v1", llm.base), "default_model": "fake-model",
                         "api_key": "sk-test-0123456789", "max_retries": 0, "is_default": true })),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    // Variants are checked like the step's own text.
    let path = format!("/api/v1/orgs/{}/recovery/campaigns", s.org_id);
    let bad = json!({ "name": "AB", "trigger": "abandoned_cart", "steps": [{ "delay_minutes": 0, "channel": "sms",
        "body": "A {{checkout_url}}", "variants": [{ "body": "B {{invoice_id}}" }] }] });
    let (status, e) = app.call(s, Method::POST, &path, Some(bad)).await;
    assert_eq!((status, e["error"]["code"].as_str()), (422, Some("recovery_template_field")), "{e}");
    assert_eq!(e["error"]["details"]["field"], "steps[0].variants[0].body");
    let campaign = create_campaign(
        app,
        s,
        json!({ "name": "AB", "trigger": "abandoned_cart", "status": "active",
        "max_messages_per_day": 100,
        "steps": [{ "delay_minutes": 0, "channel": "sms", "rewrite": true,
                    "body": "A: your cart ({{amount}}) is waiting: {{checkout_url}}",
                    "variants": [{ "body": "B: {{customer.first_name}}, 10% off today: {{checkout_url}}" }] }] }),
    )
    .await;
    assert_eq!(
        campaign["steps"][0]["variants"][0]["body"],
        "B: {{customer.first_name}}, 10% off today: {{checkout_url}}"
    );
    let events = format!("/api/v1/orgs/{}/recovery/events", s.org_id);
    let report = |n: usize, source_id: String| {
        json!({ "type": "cart_abandoned", "source_id": source_id, "amount": 2500, "currency": "EUR",
                "checkout_url": "https://shop.example/c/1",
                "customer": { "id": format!("cus_{n}"), "name": format!("Cust {n}"), "phone": format!("+49151000{n:05}") } })
    };
    for n in 0..16 {
        let (status, out) = app.call(s, Method::POST, &events, Some(report(n, format!("ev{n}")))).await;
        assert_eq!((status, out["outcome"].as_str()), (202, Some("accepted")), "{out}");
    }
    let split: Vec<(String, i64)> = app.sql(|c| {
        let mut stmt = c.prepare(
            "SELECT json_extract(template_variables, '$._variant'), count(*) FROM recovery_messages GROUP BY 1 ORDER BY 1",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
    });
    assert_eq!(split.iter().map(|(v, _)| v.as_str()).collect::<Vec<_>>(), ["A", "B"], "{split:?}");
    // Deterministic: the same customer gets the same variant in a new sequence.
    let first: String = app.sql(|c| {
        c.query_row(
            "SELECT json_extract(template_variables, '$._variant') FROM recovery_messages WHERE customer_id = 'cus_3'",
            [],
            |r| r.get(0),
        )
    });
    let (_, again) = app.call(s, Method::POST, &events, Some(report(3, "ev3-again".into()))).await;
    let second: String = app.sql(|c| {
        c.query_row(
            "SELECT json_extract(template_variables, '$._variant') FROM recovery_messages WHERE event_id = ?1",
            [again["event_id"].as_i64().expect("event")],
            |r| r.get(0),
        )
    });
    assert_eq!(first, second);
    app.run_jobs().await;
    // Each text went through the model, placeholders filled after the rewrite.
    let sent: Vec<(String, i64, Option<String>, String)> = app.sql(|c| {
        let mut stmt = c.prepare(
            "SELECT message_body, ai_generated, original_template, json_extract(template_variables, '$._variant')
             FROM recovery_messages WHERE status <> 'pending' ORDER BY id",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
    });
    assert_eq!(sent.len(), 17, "{sent:?}");
    for (body, ai, original, variant) in &sent {
        assert!(body.starts_with(&format!("Rewritten: {variant}:")), "{body}");
        assert!(body.contains("/api/v1/recovery-links/") && !body.contains("{{"), "{body}");
        assert_eq!((*ai, original.as_deref().map(|o| o.starts_with(variant.as_str()))), (1, Some(true)));
    }
    assert!(llm.requests().len() >= 17);
    // A rewrite that drops a placeholder is refused: the template goes as written.
    *mode.lock().expect("mode") = 1;
    let (_, out) = app.call(s, Method::POST, &events, Some(report(40, "ev40".into()))).await;
    app.run_jobs().await;
    let (body, ai): (String, i64) = app.sql(|c| {
        c.query_row(
            "SELECT message_body, ai_generated FROM recovery_messages WHERE event_id = ?1",
            [out["event_id"].as_i64().expect("event")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(ai, 0, "{body}");
    assert!(body.starts_with("A: ") || body.starts_with("B: "), "{body}");
    // Results per variant in analytics.
    botbuilder::recovery::rollup::run(&app.state).await.expect("rollup");
    let (status, a) = app.call(s, Method::GET, &format!("/api/v1/orgs/{}/recovery/analytics", s.org_id), None).await;
    assert_eq!(status, 200, "{a}");
    let variants = a["variants"].as_array().expect("variants");
    assert_eq!(variants.iter().map(|v| v["variant"].as_str().unwrap_or("")).collect::<Vec<_>>(), ["A", "B"], "{a}");
    assert_eq!(variants.iter().map(|v| v["messages"].as_i64().unwrap_or(0)).sum::<i64>(), 18, "{a}");
    assert!(variants.iter().all(|v| v["step"] == 1 && v["campaign_id"] == campaign["id"]), "{a}");
}
