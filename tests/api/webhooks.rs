//! Organization webhooks through the real server: a local receiver that
//! checks every Standard Webhooks signature itself, deliveries in order per
//! subscription across failures (retries driven by moving their due times
//! into the past, never by sleeping), automatic disabling with the owners'
//! email, redelivery, secret rotation with overlap, the delivery log, the
//! events of a real conversation, usage alerts (email and webhook) and the
//! bad inputs.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app, spawn_app_with};
use crate::smtp::SmtpSink;

/// A receiver answering the queued statuses first (with `Retry-After: 1`
/// on 429), then 200.
struct Receiver {
    server: FakeServer,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let answers: Arc<Mutex<VecDeque<u16>>> = Arc::new(Mutex::new(VecDeque::new()));
        let queue = answers.clone();
        let server = FakeServer::start(Arc::new(move |_r: &Received| {
            let status = queue.lock().expect("answers").pop_front().unwrap_or(200);
            let headers = if status == 429 { vec![("Retry-After".to_owned(), "1".to_owned())] } else { Vec::new() };
            Reply::WithHeaders(status, headers, format!("answer {status}").into_bytes())
        }))
        .await;
        Receiver { server, answers }
    }

    fn answer(&self, statuses: &[u16]) {
        self.answers.lock().expect("answers").extend(statuses);
    }

    fn url(&self) -> String {
        format!("{}/hooks", self.server.base)
    }
}

/// The signatures of `r` that verify with `secret` (`whsec_…`), computed
/// here from the spec: base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
pub(crate) fn valid_signatures(r: &Received, secret: &str) -> usize {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).expect("base64 secret");
    let id = r.header("webhook-id").expect("webhook-id");
    let ts = r.header("webhook-timestamp").expect("webhook-timestamp");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&r.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.header("webhook-signature").expect("webhook-signature").split(' ').filter(|s| *s == expected).count()
}

fn body(r: &Received) -> Value {
    serde_json::from_slice(&r.body).expect("json body")
}

async fn create(app: &TestApp, s: &Session, url: &str, events: &[&str]) -> Value {
    let (status, created) = app
        .call(
            s,
            Method::POST,
            &format!("/api/v1/orgs/{}/webhooks", s.org_id),
            Some(json!({ "url": url, "events": events })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created
}

async fn send_test(app: &TestApp, s: &Session, webhook: i64) -> Value {
    let (status, d) = app.call(s, Method::POST, &format!("/api/v1/webhooks/{webhook}/test"), None).await;
    assert_eq!(status, 202, "{d}");
    d
}

/// Makes every waiting retry and delivery job due now.
fn due_now(app: &TestApp) {
    app.sql(|c| {
        c.execute("UPDATE webhook_logs SET next_retry_at = '2000-01-01T00:00:00.000Z' WHERE status = 'failed'", [])?;
        c.execute(
            "UPDATE jobs SET run_at = '2000-01-01T00:00:00.000Z' WHERE kind = 'webhook.deliver' AND status = 'queued'",
            [],
        )
    });
}

fn statuses(app: &TestApp, webhook: i64) -> Vec<String> {
    app.sql(|c| {
        let mut st = c.prepare("SELECT status FROM webhook_logs WHERE webhook_id = ?1 ORDER BY id")?;
        st.query_map([webhook], |r| r.get(0))?.collect()
    })
}

#[tokio::test]
async fn deliveries_are_signed_in_order_and_retried_until_the_receiver_recovers() {
    let app = spawn_app().await;
    let s = app.register("hooks-order@example.com").await;
    let rx = Receiver::start().await;
    let created = create(&app, &s, &rx.url(), &["message.received"]).await;
    let (id, secret) = (created["id"].as_i64().expect("id"), created["secret"].as_str().expect("secret").to_owned());
    assert!(secret.starts_with("whsec_"), "{created}");
    assert_eq!(STANDARD.decode(&secret[6..]).expect("b64").len(), 32);

    // The receiver is down: 500, then 429 with Retry-After, then it recovers.
    rx.answer(&[500, 429]);
    let first = send_test(&app, &s, id).await;
    let second = send_test(&app, &s, id).await;
    let third = send_test(&app, &s, id).await;
    app.run_jobs().await;
    assert_eq!(rx.server.requests().len(), 1, "the later events wait behind the failed one");
    assert_eq!(statuses(&app, id), ["failed", "pending", "pending"]);
    let (_, log) = app.call(&s, Method::GET, &format!("/api/v1/webhook-deliveries/{}", first["id"]), None).await;
    assert_eq!(log["response_status"], 500, "{log}");
    assert_eq!(log["response_body"], "answer 500", "{log}");
    assert_eq!(log["attempt"], 2, "{log}");
    assert!(log["next_retry_at"].as_str().is_some(), "{log}");
    // Not due yet: nothing happens.
    app.run_jobs().await;
    assert_eq!(rx.server.requests().len(), 1);

    due_now(&app);
    app.run_jobs().await;
    assert_eq!(rx.server.requests().len(), 2);
    assert_eq!(statuses(&app, id), ["failed", "pending", "pending"]);
    let retry_at: String = app.sql(|c| {
        c.query_row("SELECT next_retry_at FROM webhook_logs WHERE id = ?1", [first["id"].as_i64()], |r| r.get(0))
    });
    assert!(retry_at > botbuilder::db::now(), "the 429 waits at least the scheduled 5 minutes: {retry_at}");

    due_now(&app);
    app.run_jobs().await;
    assert_eq!(statuses(&app, id), ["delivered", "delivered", "delivered"]);
    let got = rx.server.requests();
    assert_eq!(got.len(), 5);
    for r in &got {
        assert_eq!(valid_signatures(r, &secret), 1, "signature of {:?}", r.header("webhook-id"));
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.method, "POST");
        let ts: i64 = r.header("webhook-timestamp").expect("ts").parse().expect("unix seconds");
        assert!((chrono::Utc::now().timestamp() - ts).abs() < 60);
    }
    // The same message id for all three attempts of the first event, then the others in order.
    let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id").expect("id").to_owned()).collect();
    let expected: Vec<String> = [&first, &first, &first, &second, &third]
        .iter()
        .map(|d| d["message_id"].as_str().expect("message_id").to_owned())
        .collect();
    assert_eq!(ids, expected);
    let b = body(&got[4]);
    assert_eq!(b["type"], "webhook.test");
    assert_eq!(b["data"]["webhook_id"], id);
    assert!(b["timestamp"].as_str().is_some());
    assert_eq!(app.count(&format!("SELECT failing_since IS NULL FROM webhooks WHERE id = {id}")), 1);
}

#[tokio::test]
async fn deliveries_survive_a_restart() {
    let app = spawn_app().await;
    let s = app.register("hooks-restart@example.com").await;
    let rx = Receiver::start().await;
    let created = create(&app, &s, &rx.url(), &["message.received"]).await;
    let id = created["id"].as_i64().expect("id");
    send_test(&app, &s, id).await;
    send_test(&app, &s, id).await;
    // Stopped before any worker ran: the queue and its job are in the data file.
    let app = app.restart(|_| {}).await;
    app.run_jobs().await;
    assert_eq!(statuses(&app, id), ["delivered", "delivered"]);
    assert_eq!(rx.server.requests().len(), 2);
    // A queue whose job was lost (e.g. dead) gets a new one at start-up.
    let s2 = app.login("hooks-restart@example.com", crate::helpers::PASSWORD).await;
    send_test(&app, &s2, id).await;
    app.sql(|c| c.execute("UPDATE jobs SET status = 'dead' WHERE kind = 'webhook.deliver' AND status = 'queued'", []));
    let app = app.restart(|_| {}).await;
    app.run_jobs().await;
    assert_eq!(statuses(&app, id), ["delivered", "delivered", "delivered"]);
}

#[tokio::test]
async fn a_day_of_failures_disables_the_webhook_and_emails_the_owners() {
    let sink = SmtpSink::start().await;
    let config = sink.config();
    let app = spawn_app_with(|c| c.smtp = config).await;
    let s = app.register("hooks-owner@example.com").await;
    let rx = Receiver::start().await;
    let created = create(&app, &s, &rx.url(), &["message.received"]).await;
    let id = created["id"].as_i64().expect("id");
    rx.answer(&[500; 20]);
    send_test(&app, &s, id).await;
    send_test(&app, &s, id).await;
    app.run_jobs().await;
    let (_, w) = app.call(&s, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await;
    assert!(w["failing_since"].as_str().is_some(), "{w}");
    assert_eq!(w["is_active"], true);

    // Failing for more than a day: the next failed attempt switches it off.
    app.sql(|c| c.execute("UPDATE webhooks SET failing_since = '2000-01-01T00:00:00.000Z' WHERE id = ?1", [id]));
    due_now(&app);
    app.run_jobs().await;
    let (_, w) = app.call(&s, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await;
    assert_eq!(w["is_active"], false, "{w}");
    assert!(w["disabled_reason"].as_str().is_some_and(|r| r.contains("24 hours")), "{w}");
    app.run_jobs().await;
    let mails = sink.to("hooks-owner@example.com");
    assert!(mails.iter().any(|m| m.data.contains("switched off")), "{mails:?}");
    let requests = rx.server.requests().len();
    assert_eq!(requests, 2);

    // Switched off: no new events, no test events, no redelivery.
    assert_error(
        app.as_user(&s, Method::POST, &format!("/api/v1/webhooks/{id}/test")).send().await.expect("send"),
        409,
        "webhook_inactive",
    )
    .await;
    assert_eq!(statuses(&app, id), ["failed", "pending"]);

    // Switched on again (receiver fixed): the queue resumes, in order.
    rx.answers.lock().expect("answers").clear();
    let (status, w) =
        app.call(&s, Method::PATCH, &format!("/api/v1/webhooks/{id}"), Some(json!({ "is_active": true }))).await;
    assert_eq!(status, 200, "{w}");
    assert_eq!(w["disabled_reason"], Value::Null);
    app.run_jobs().await;
    assert_eq!(statuses(&app, id), ["delivered", "delivered"]);
}

#[tokio::test]
async fn redelivery_keeps_the_message_id_and_the_log_paginates_and_filters() {
    let app = spawn_app().await;
    let s = app.register("hooks-redeliver@example.com").await;
    let rx = Receiver::start().await;
    let created = create(&app, &s, &rx.url(), &["message.received"]).await;
    let (id, secret) = (created["id"].as_i64().expect("id"), created["secret"].as_str().expect("secret").to_owned());
    let first = send_test(&app, &s, id).await;
    send_test(&app, &s, id).await;
    app.run_jobs().await;
    let (status, again) =
        app.call(&s, Method::POST, &format!("/api/v1/webhook-deliveries/{}/redeliver", first["id"]), None).await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["message_id"], first["message_id"]);
    assert_eq!(again["redelivery_of"], first["id"]);
    assert_ne!(again["id"], first["id"]);
    app.run_jobs().await;
    let got = rx.server.requests();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].header("webhook-id"), first["message_id"].as_str());
    assert_eq!(got[2].body, got[0].body, "the same body");
    assert_eq!(valid_signatures(&got[2], &secret), 1);

    // The log: newest first, one per page, filters.
    let path = format!("/api/v1/webhooks/{id}/deliveries");
    let (_, page) = app.call(&s, Method::GET, &format!("{path}?limit=1"), None).await;
    assert_eq!(page["items"][0]["id"], again["id"], "{page}");
    let cursor = page["next_cursor"].as_str().expect("cursor").to_owned();
    let (_, page2) = app.call(&s, Method::GET, &format!("{path}?limit=2&after={cursor}"), None).await;
    assert_eq!(page2["items"].as_array().expect("items").len(), 2, "{page2}");
    assert!(page2.get("next_cursor").is_none(), "{page2}");
    let (_, delivered) = app.call(&s, Method::GET, &format!("{path}?status=delivered&event=webhook.test"), None).await;
    assert_eq!(delivered["items"].as_array().expect("items").len(), 3);
    let (_, none) = app.call(&s, Method::GET, &format!("{path}?status=dead"), None).await;
    assert_eq!(none["items"].as_array().expect("items").len(), 0);
    let r = app.as_user(&s, Method::GET, &format!("{path}?status=lost")).send().await.expect("send");
    let e = assert_error(r, 422, "validation_failed").await;
    assert_eq!(e["error"]["details"]["field"], "status");
    let r = app.as_user(&s, Method::GET, &format!("{path}?event=nope")).send().await.expect("send");
    let e = assert_error(r, 422, "unknown_webhook_event").await;
    assert_eq!(e["error"]["details"]["field"], "event");
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_during_the_overlap() {
    let app = spawn_app().await;
    let s = app.register("hooks-rotate@example.com").await;
    let rx = Receiver::start().await;
    let created = create(&app, &s, &rx.url(), &["message.received"]).await;
    let (id, old) = (created["id"].as_i64().expect("id"), created["secret"].as_str().expect("secret").to_owned());
    // The secret is shown once: never in reads, never stored in clear.
    let (_, w) = app.call(&s, Method::GET, &format!("/api/v1/webhooks/{id}"), None).await;
    assert!(w.get("secret").is_none(), "{w}");
    let (_, list) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/webhooks", s.org_id), None).await;
    assert!(!list.to_string().contains(&old));
    let stored: Vec<u8> =
        app.sql(|c| c.query_row("SELECT secret_encrypted FROM webhooks WHERE id = ?1", [id], |r| r.get(0)));
    assert!(!stored.windows(10).any(|w| w == &old.as_bytes()[6..16]), "encrypted at rest");

    let (status, rotated) = app.call(&s, Method::POST, &format!("/api/v1/webhooks/{id}/rotate-secret"), None).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new, old);
    assert!(rotated["previous_secret_expires_at"].as_str().is_some(), "{rotated}");
    send_test(&app, &s, id).await;
    app.run_jobs().await;
    let r = rx.server.requests().pop().expect("delivered");
    assert_eq!(r.header("webhook-signature").expect("sig").split(' ').count(), 2);
    assert_eq!(valid_signatures(&r, &new), 1, "the new secret signs");
    assert_eq!(valid_signatures(&r, &old), 1, "the old secret still signs during the overlap");

    // After the overlap only the new secret signs.
    app.sql(|c| {
        c.execute("UPDATE webhooks SET previous_secret_expires_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1", [id])
    });
    send_test(&app, &s, id).await;
    app.run_jobs().await;
    let r = rx.server.requests().pop().expect("delivered");
    assert_eq!(r.header("webhook-signature").expect("sig").split(' ').count(), 1);
    assert_eq!(valid_signatures(&r, &new), 1);
    assert_eq!(valid_signatures(&r, &old), 0);
}

async fn bot_with_handoff(app: &TestApp, s: &Session) -> i64 {
    let (status, bot) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Hooked" }))).await;
    assert_eq!(status, 201, "{bot}");
    let bot = bot["id"].as_i64().expect("bot id");
    let doc = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "name", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will take over." } } }
        ],
        "edges": [ { "source": "start", "target": "name" }, { "source": "name", "target": "human" } ]
    });
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let (status, saved) = app.call(s, Method::PUT, &path, Some(json!({ "document": doc }))).await;
    assert_eq!(status, 201, "{saved}");
    let (status, published) =
        app.call(s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "live" }))).await;
    assert_eq!(status, 200, "{published}");
    bot
}

#[tokio::test]
async fn a_conversation_emits_its_events_in_order() {
    let app = spawn_app().await;
    let s = app.register("hooks-events@example.com").await;
    let rx = Receiver::start().await;
    let all = ["conversation.started", "conversation.closed", "message.received", "message.sent", "handoff.requested"];
    let created = create(&app, &s, &rx.url(), &all).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    // A second subscription to one event only.
    let rx2 = Receiver::start().await;
    create(&app, &s, &rx2.url(), &["conversation.closed"]).await;

    let bot = bot_with_handoff(&app, &s).await;
    let (status, turn) =
        app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({}))).await;
    assert_eq!(status, 200, "{turn}");
    let conv = turn["conversation_id"].as_i64().expect("conversation");
    let (status, turn) = app
        .call(&s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"), Some(json!({ "text": "Ann" })))
        .await;
    assert_eq!(status, 200, "{turn}");
    assert_eq!(turn["status"], "handoff", "{turn}");
    let (status, reply) = app
        .call(&s, Method::POST, &format!("/api/v1/conversations/{conv}/reply"), Some(json!({ "text": "Hello Ann" })))
        .await;
    assert_eq!(status, 200, "{reply}");
    let (status, closed) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/close"),
            Some(json!({ "resolution": "resolved" })),
        )
        .await;
    assert_eq!(status, 200, "{closed}");
    app.run_jobs().await;

    let got = rx.server.requests();
    let kinds: Vec<String> = got.iter().map(|r| body(r)["type"].as_str().expect("type").to_owned()).collect();
    assert_eq!(
        kinds,
        [
            "conversation.started",
            "message.sent",
            "message.received",
            "message.sent",
            "handoff.requested",
            "message.sent",
            "conversation.closed"
        ],
        "{kinds:?}"
    );
    for r in &got {
        assert_eq!(valid_signatures(r, &secret), 1);
        assert_eq!(body(r)["data"]["conversation_id"], conv);
    }
    let received = body(&got[2]);
    assert_eq!(received["data"]["text"], "Ann");
    assert_eq!(received["data"]["role"], "user");
    assert_eq!(body(&got[5])["data"]["role"], "agent");
    let only = rx2.server.requests();
    assert_eq!(only.len(), 1);
    assert_eq!(body(&only[0])["type"], "conversation.closed");
    assert_eq!(body(&only[0])["data"]["resolution"], "resolved");
}

#[tokio::test]
async fn usage_alerts_send_real_emails_and_webhook_deliveries() {
    let sink = SmtpSink::start().await;
    let config = sink.config();
    let app = spawn_app_with(|c| {
        c.smtp = config;
        c.billing.enabled = true;
    })
    .await;
    let s = app.register("hooks-usage@example.com").await;
    let rx = Receiver::start().await;
    let created = create(&app, &s, &rx.url(), &["usage.threshold"]).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let bot = bot_with_handoff(&app, &s).await;
    let org = s.org_id;
    app.sql(|c| {
        c.execute(
            "UPDATE subscription_plans SET max_messages_per_month = 5
             WHERE name = (SELECT plan_tier FROM organizations WHERE id = ?1)",
            [org],
        )
    });
    app.state.runtime.meter().forget(botbuilder::ids::OrgId(org));
    for i in 0..4 {
        let (status, turn) = app
            .call(
                &s,
                Method::POST,
                &format!("/api/v1/bots/{bot}/conversations"),
                Some(json!({ "text": format!("hi {i}") })),
            )
            .await;
        assert_eq!(status, 200, "{turn}");
    }
    app.run_jobs().await;
    // The alert job queued the email (and its send job): it left through SMTP.
    let mails = sink.to("hooks-usage@example.com");
    assert!(mails.iter().any(|m| m.data.contains("80%")), "{mails:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM email_notifications WHERE email_type = 'usage_alert' AND status = 'sent'"),
        1
    );
    let got = rx.server.requests();
    assert_eq!(got.len(), 1);
    let b = body(&got[0]);
    assert_eq!(b["type"], "usage.threshold");
    assert_eq!(b["data"]["percent"], 80);
    assert_eq!(b["data"]["limit"], 5);
    assert_eq!(valid_signatures(&got[0], &secret), 1);
}

#[tokio::test]
async fn bad_input_is_refused_with_the_field_at_fault() {
    let app = spawn_app().await;
    let s = app.register("hooks-bad@example.com").await;
    let path = format!("/api/v1/orgs/{}/webhooks", s.org_id);
    let post = |body: Value| app.as_user(&s, Method::POST, &path).json(&body).send();

    let e = assert_error(
        post(json!({ "url": "https://example.com/h", "events": ["message.sent", "message.deleted"] }))
            .await
            .expect("send"),
        422,
        "unknown_webhook_event",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "events[1]", "{e}");
    let e = assert_error(
        post(json!({ "url": "https://example.com/h", "events": [] })).await.expect("send"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "events");
    let e = assert_error(
        post(json!({ "url": "ftp://example.com/h", "events": ["message.sent"] })).await.expect("send"),
        422,
        "url_not_allowed",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "url");
    let e = assert_error(
        post(json!({ "url": "not a url", "events": ["message.sent"] })).await.expect("send"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "url");
    let e = assert_error(
        post(json!({ "url": "https://example.com/h", "events": ["message.sent"], "name": "x".repeat(101) }))
            .await
            .expect("send"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "name");
    // `webhook.test` is not subscribable.
    let e = assert_error(
        post(json!({ "url": "https://example.com/h", "events": ["webhook.test"] })).await.expect("send"),
        422,
        "unknown_webhook_event",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "events[0]");
    let r = post(json!({ "url": "https://example.com/h", "events": ["message.sent"], "secret": "mine" }))
        .await
        .expect("send");
    assert!(r.status() == 400 || r.status() == 422, "unknown fields are refused: {}", r.status());
    assert_eq!(app.count("SELECT count(*) FROM webhooks"), 0, "nothing stored");

    // The catalogue.
    let (status, events) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/webhook-events", s.org_id), None).await;
    assert_eq!(status, 200);
    assert_eq!(events.as_array().expect("events").len(), 9);

    // Another organization sees nothing.
    let created = create(&app, &s, "https://example.com/h", &["message.sent"]).await;
    let id = created["id"].as_i64().expect("id");
    let e = assert_error(
        app.as_user(&s, Method::PATCH, &format!("/api/v1/webhooks/{id}"))
            .json(&json!({ "events": ["nope"] }))
            .send()
            .await
            .expect("send"),
        422,
        "unknown_webhook_event",
    )
    .await;
    assert_eq!(e["error"]["details"]["field"], "events[0]");
    let other = app.register("hooks-other@example.com").await;
    let r = app.as_user(&other, Method::GET, &format!("/api/v1/webhooks/{id}")).send().await.expect("send");
    assert_error(r, 404, "webhook_not_found").await;
    let r =
        app.as_user(&other, Method::POST, "/api/v1/webhook-deliveries/999999/redeliver").send().await.expect("send");
    assert_error(r, 404, "webhook_delivery_not_found").await;
    // Deleting removes it.
    let r = app.as_user(&s, Method::DELETE, &format!("/api/v1/webhooks/{id}")).send().await.expect("send");
    assert_eq!(r.status(), 204);
    let r = app.as_user(&s, Method::GET, &format!("/api/v1/webhooks/{id}")).send().await.expect("send");
    assert_error(r, 404, "webhook_not_found").await;
}

#[tokio::test]
async fn ingested_and_failed_documents_are_reported() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("hooks-docs@example.com").await;
    let rx = Receiver::start().await;
    let created = create(&app, &s, &rx.url(), &["document.ingested"]).await;
    let secret = created["secret"].as_str().expect("secret").to_owned();
    let kb = crate::knowledge::create_kb(&app, &s, json!({ "name": "Hooked KB" })).await["id"].as_i64().expect("kb");
    let good = crate::knowledge::paste(&app, &s, kb, "notes.txt", "The cafeteria serves lasagna on Thursdays.").await;
    let r =
        crate::knowledge::upload(&app, &s, kb, "broken.pdf", b"%PDF-1.4 not really a pdf".to_vec(), "application/pdf")
            .await;
    assert!(r.status().is_success(), "{}", r.status());
    let bad: Value = r.json().await.expect("json");
    crate::knowledge::drain(&app).await;
    let got = rx.server.requests();
    let bodies: Vec<Value> = got.iter().map(body).collect();
    let ready = bodies.iter().find(|b| b["data"]["document_id"] == good["id"]).expect("ready event");
    assert_eq!(ready["type"], "document.ingested");
    assert_eq!(ready["data"]["status"], "ready", "{ready}");
    assert!(ready["data"]["chunks"].as_i64().is_some_and(|n| n >= 1), "{ready}");
    let failed = bodies.iter().find(|b| b["data"]["document_id"] == bad["id"]).expect("failed event");
    assert_eq!(failed["data"]["status"], "failed", "{failed}");
    assert_eq!(failed["data"]["error_code"], "corrupt_file", "{failed}");
    assert!(got.iter().all(|r| valid_signatures(r, &secret) == 1));
}

#[tokio::test]
async fn a_finished_training_is_reported() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("hooks-train@example.com").await;
    let rx = Receiver::start().await;
    create(&app, &s, &rx.url(), &["training.finished"]).await;
    let (status, bot) = app
        .call(&s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Trained" })))
        .await;
    assert_eq!(status, 201, "{bot}");
    let bot = bot["id"].as_i64().expect("bot");
    let intents = [
        ("greet", ["hello there", "hi", "good morning", "hey you"]),
        ("bye", ["goodbye", "see you later", "bye bye", "have a nice day"]),
    ];
    for (name, texts) in intents {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        let (status, body) = app
            .call(
                &s,
                Method::POST,
                &format!("/api/v1/bots/{bot}/nlu/intents"),
                Some(json!({ "name": name, "examples": examples })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, job) = app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await;
    assert_eq!(status, 202, "{job}");
    app.run_jobs().await;
    let got = rx.server.requests();
    // Delivery is at least once: a receiver slower than the timeout on a
    // loaded machine gets the same message (same `webhook-id`) again, which
    // receivers deduplicate. One training is still one event.
    let ids: std::collections::BTreeSet<&str> = got.iter().filter_map(|r| r.header("webhook-id")).collect();
    let logs = app.sql(|c| {
        c.query_row(
            "SELECT group_concat(status || ':' || ifnull(error_message, ''), ' | ') FROM webhook_logs",
            [],
            |r| r.get::<_, Option<String>>(0),
        )
    });
    assert_eq!(ids.len(), 1, "one event for the one training; deliveries: {logs:?}");
    assert_eq!(app.count("SELECT count(*) FROM model_versions WHERE kind = 'nlu_intent'"), 1, "one training ran");
    let b = body(&got[0]);
    assert_eq!(b["type"], "training.finished");
    assert_eq!(b["data"]["bot_id"], bot);
    assert_eq!(b["data"]["intents"], 2);
    assert!(b["data"]["model_version_id"].as_i64().is_some(), "{b}");
}

/// Moves the clock of the delivery queue `secs` forward: every stored due
/// time and the failing-since mark move that far into the past.
fn advance(app: &TestApp, secs: i64) {
    let by = format!("-{secs} seconds");
    app.sql(|c| {
        c.execute(
            "UPDATE webhook_logs SET next_retry_at = strftime('%Y-%m-%dT%H:%M:%fZ', next_retry_at, ?1)
             WHERE next_retry_at IS NOT NULL",
            [&by],
        )?;
        c.execute(
            "UPDATE jobs SET run_at = strftime('%Y-%m-%dT%H:%M:%fZ', run_at, ?1)
             WHERE kind = 'webhook.deliver' AND status = 'queued'",
            [&by],
        )?;
        c.execute(
            "UPDATE webhooks SET failing_since = strftime('%Y-%m-%dT%H:%M:%fZ', failing_since, ?1)
             WHERE failing_since IS NOT NULL",
            [&by],
        )
    });
}

/// The `data.text` of the `message.received` events `rx` got (replays dropped by `webhook-id`) and the replay count.
fn received_texts(rx: &FakeServer) -> (Vec<String>, usize) {
    let mut ids = std::collections::HashSet::new();
    let mut texts = Vec::new();
    let mut replays = 0;
    for r in rx.requests() {
        if !ids.insert(r.header("webhook-id").expect("webhook-id").to_owned()) {
            replays += 1;
            continue;
        }
        let b = body(&r);
        assert_eq!(b["type"], "message.received", "{b}");
        texts.push(b["data"]["text"].as_str().expect("text").to_owned());
    }
    (texts, replays)
}

#[tokio::test]
async fn a_receiver_down_for_an_hour_gets_every_event_in_order_when_it_returns() {
    const DOWN_MINUTES: i64 = 60;
    let app = spawn_app().await;
    let s = app.register("hooks-down@example.com").await;
    // The receiver's port is held without listening: connections are refused until it comes back.
    let closed = tokio::net::TcpSocket::new_v4().expect("socket");
    closed.bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let address = closed.local_addr().expect("addr");
    let down = create(&app, &s, &format!("http://{address}/hooks"), &["message.received"]).await;
    let (down_id, secret) = (down["id"].as_i64().expect("id"), down["secret"].as_str().expect("secret").to_owned());
    let healthy = Receiver::start().await;
    let up_id = create(&app, &s, &healthy.url(), &["message.received"]).await["id"].as_i64().expect("id");

    let (status, bot) =
        app.call(&s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Echo" }))).await;
    assert_eq!(status, 201, "{bot}");
    let doc = json!({
        "nodes": [ { "id": "start", "type": "start" },
                   { "id": "ask", "type": "question", "data": { "prompt": { "text": "Next?" }, "variable": "x" } } ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "ask" } ]
    });
    let path = format!("/api/v1/bots/{}/flows/main", bot["id"]);
    assert_eq!(app.call(&s, Method::PUT, &path, Some(json!({ "document": doc }))).await.0, 201);
    assert_eq!(app.call(&s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await.0, 200);
    let (status, turn) =
        app.call(&s, Method::POST, &format!("/api/v1/bots/{}/conversations", bot["id"]), Some(json!({}))).await;
    assert_eq!(status, 200, "{turn}");
    let conv = turn["conversation_id"].as_i64().expect("conversation");
    let mut sent = Vec::new();
    let say = |text: String| {
        let app = &app;
        let s = &s;
        async move {
            let (status, turn) = app
                .call(s, Method::POST, &format!("/api/v1/conversations/{conv}/messages"), Some(json!({ "text": text })))
                .await;
            assert_eq!(status, 200, "{turn}");
        }
    };

    // Down for an hour, simulated a minute at a time; a message every ten minutes.
    for minute in 0..DOWN_MINUTES {
        if minute % 10 == 0 {
            for n in 0..3 {
                let text = format!("minute {minute} message {n}");
                say(text.clone()).await;
                sent.push(text);
            }
        }
        app.run_jobs().await;
        advance(&app, 60);
    }
    app.run_jobs().await;
    // The healthy subscription is not held up by the other one.
    assert_eq!(received_texts(&healthy.server).0, sent);
    let head: (i64, String, String) = app.sql(|c| {
        c.query_row(
            "SELECT attempt, status, next_retry_at FROM webhook_logs WHERE webhook_id = ?1 ORDER BY id LIMIT 1",
            [down_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    });
    assert_eq!(head.1, "failed", "{head:?}");
    let failed_attempts = head.0 - 1;
    assert!(failed_attempts >= 3, "retried while down: {head:?}");
    let (_, w) = app.call(&s, Method::GET, &format!("/api/v1/webhooks/{down_id}"), None).await;
    assert_eq!(w["is_active"], true, "an hour down is not a day: {w}");
    assert!(w["failing_since"].is_string(), "{w}");
    assert!(statuses(&app, down_id).iter().skip(1).all(|st| st == "pending"), "the others wait behind the head");

    // The receiver comes back; one more event arrives before the next retry is due.
    drop(closed);
    let back = FakeServer::start_on(
        &address.to_string(),
        Arc::new(|_r: &Received| Reply::Full(200, "text/plain".into(), b"ok".to_vec())),
    )
    .await;
    say("after the return".into()).await;
    sent.push("after the return".into());
    app.run_jobs().await;
    assert!(back.requests().is_empty(), "nothing is sent before the scheduled retry");
    let wait = chrono::DateTime::parse_from_rfc3339(&head.2).expect("retry time").with_timezone(&chrono::Utc)
        - chrono::Utc::now();
    advance(&app, wait.num_seconds() + 1);
    app.run_jobs().await;

    let (texts, replays) = received_texts(&back);
    assert_eq!(texts, sent, "everything, in order");
    assert_eq!(replays, 0);
    assert!(back.requests().iter().all(|r| valid_signatures(r, &secret) == 1));
    assert!(statuses(&app, down_id).iter().all(|st| st == "delivered"), "{:?}", statuses(&app, down_id));
    assert!(statuses(&app, up_id).iter().all(|st| st == "delivered"));
    let (_, w) = app.call(&s, Method::GET, &format!("/api/v1/webhooks/{down_id}"), None).await;
    assert_eq!((w["is_active"].as_bool(), w["failing_since"].as_str()), (Some(true), None), "{w}");
    println!(
        "receiver down {DOWN_MINUTES} min: {} events queued, {failed_attempts} failed attempts, all delivered in order \
         at the retry {} min after the return, 0 replays",
        sent.len(),
        wait.num_minutes() + 1
    );
}
