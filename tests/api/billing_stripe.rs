//! Stripe billing end to end against the local fake Stripe
//! (`fake_stripe.rs`): checkout → `checkout.session.completed` → active,
//! the portal, upgrade with the proration preview, payment failure → past
//! due → grace → restricted (the runtime answers the notice) → paid →
//! active, dunning cancellation, cancel at period end and resume, invoices
//! and refunds, the revenue overview, and the webhook's defences: replayed
//! events, old timestamps, wrong signatures, out-of-order and non-Stripe
//! bodies.

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_stripe::{
    FakeStripe, OLD_WEBHOOK_SECRET, SECRET_KEY, WEBHOOK_SECRET, deliver, post_raw, signature_header,
};
use crate::helpers::{Session, TestApp, assert_error, call_ok, ok_json, send_as, spawn_app, spawn_app_with};

const PRO_MONTH: &str = "price_pro_month";
const PRO_YEAR: &str = "price_pro_year";
pub(crate) const ENTERPRISE_MONTH: &str = "price_enterprise_month";

/// The app with billing on and Stripe pointed at a fresh fake; the plans'
/// prices carry the fake's price ids.
pub(crate) async fn stripe_app() -> (TestApp, FakeStripe) {
    let fake =
        FakeStripe::start(&[(PRO_MONTH, 2900, "month"), (PRO_YEAR, 29000, "year"), (ENTERPRISE_MONTH, 9900, "month")])
            .await;
    let base = fake.server.base.clone();
    let app = spawn_app_with(move |c| {
        c.billing.enabled = true;
        c.billing.stripe_api_base = base;
        c.billing.stripe_secret_key = Some(SECRET_KEY.to_owned());
        c.billing.stripe_webhook_secrets = vec![WEBHOOK_SECRET.to_owned(), OLD_WEBHOOK_SECRET.to_owned()];
        "Service paused: the subscription is overdue.".clone_into(&mut c.billing.restricted_notice);
    })
    .await;
    app.sql(|c| {
        for (plan, interval, price) in
            [("pro", "month", PRO_MONTH), ("pro", "year", PRO_YEAR), ("enterprise", "month", ENTERPRISE_MONTH)]
        {
            c.execute(
                "UPDATE subscription_plan_prices SET stripe_price_id = ?3
                 WHERE interval = ?2 AND plan_id = (SELECT id FROM subscription_plans WHERE name = ?1)",
                rusqlite::params![plan, interval, price],
            )?;
        }
        Ok(())
    });
    (app, fake)
}

fn billing(s: &Session, rest: &str) -> String {
    format!("/api/v1/orgs/{}/billing/{rest}", s.org_id)
}

async fn subscription(app: &TestApp, s: &Session) -> Value {
    call_ok(app, s, Method::GET, &billing(s, "subscription"), None).await
}

/// Signs up, checks out `pro` monthly and completes the checkout; answers
/// the session and the Stripe subscription id.
pub(crate) async fn subscribed(app: &TestApp, fake: &FakeStripe, email: &str) -> (Session, String) {
    let s = app.register(email).await;
    let checkout =
        ok_json(send_as(app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "pro" }))).await, 201)
            .await;
    let event = fake.complete_checkout(checkout["id"].as_str().expect("session id"));
    let receipt = ok_json(deliver(app, &event).await, 200).await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    let sub_id = event["data"]["object"]["subscription"].as_str().expect("subscription").to_owned();
    (s, sub_id)
}

/// The subscription becomes active (the trial ended) through `customer.subscription.updated`.
pub(crate) async fn activate(app: &TestApp, fake: &FakeStripe, sub_id: &str) {
    let sub = fake.update_subscription(sub_id, |s| {
        s["status"] = json!("active");
        s["trial_end"] = Value::Null;
    });
    ok_json(deliver(app, &fake.event("customer.subscription.updated", sub)).await, 200).await;
}

fn emails_with(app: &TestApp, subject: &str) -> i64 {
    app.sql(|c| {
        c.query_row("SELECT count(*) FROM email_notifications WHERE subject LIKE '%' || ?1 || '%'", [subject], |r| {
            r.get(0)
        })
    })
}

#[tokio::test]
async fn checkout_then_the_completed_session_starts_the_subscription() {
    let (app, fake) = stripe_app().await;
    let s = app.register("stripe-checkout@example.com").await;
    let before = subscription(&app, &s).await;
    assert_eq!((before["plan"].as_str(), before["status"].as_str()), (Some("free"), Some("none")), "{before}");

    // Bad choices name the field.
    let r = send_as(&app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "platinum" }))).await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "plan");
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &billing(&s, "checkout"),
        Some(json!({ "plan": "enterprise", "interval": "year" })),
    )
    .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "interval");
    let r =
        send_as(&app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "pro", "currency": "EUR" })))
            .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "currency");

    let checkout =
        ok_json(send_as(&app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "pro" }))).await, 201)
            .await;
    let session_id = checkout["id"].as_str().expect("id").to_owned();
    assert!(checkout["url"].as_str().is_some_and(|u| u.ends_with(&session_id)), "{checkout}");
    // A Stripe customer was created and stored; the session was form-encoded like Stripe's API wants.
    let requests = fake.requests();
    let (_, _, customer_form) =
        requests.iter().find(|(m, p, _)| m == "POST" && p == "/v1/customers").expect("customer");
    assert_eq!(customer_form["email"], "stripe-checkout@example.com");
    let (_, _, session_form) = requests.iter().find(|(_, p, _)| p == "/v1/checkout/sessions").expect("session");
    assert_eq!(session_form["mode"], "subscription");
    assert_eq!(session_form["line_items[0][price]"], PRO_MONTH);
    assert_eq!(session_form["subscription_data[trial_period_days]"], "14", "the plan's trial");
    assert_eq!(session_form["client_reference_id"], s.org_id.to_string());
    let customer: Option<String> = app
        .sql(|c| c.query_row("SELECT stripe_customer_id FROM organizations WHERE id = ?1", [s.org_id], |r| r.get(0)));
    assert_eq!(customer.as_deref(), session_form.get("customer").map(String::as_str));

    // The portal opens for that customer.
    let portal = ok_json(send_as(&app, &s, Method::POST, &billing(&s, "portal"), None).await, 201).await;
    assert!(portal["url"].as_str().is_some_and(|u| u.starts_with("https://billing.stripe.test/")), "{portal}");

    // The customer pays: the completed session makes the organization a Pro trial.
    let event = fake.complete_checkout(&session_id);
    let receipt = ok_json(deliver(&app, &event).await, 200).await;
    assert_eq!(receipt["outcome"], "applied", "{receipt}");
    let trial = subscription(&app, &s).await;
    assert_eq!((trial["plan"].as_str(), trial["status"].as_str()), (Some("pro"), Some("trialing")), "{trial}");
    assert!(trial["trial_end"].is_string() && trial["current_period_end"].is_string(), "{trial}");

    // The trial ends: active.
    let sub_id = event["data"]["object"]["subscription"].as_str().expect("sub").to_owned();
    activate(&app, &fake, &sub_id).await;
    let active = subscription(&app, &s).await;
    assert_eq!(
        (active["plan"].as_str(), active["status"].as_str(), active["billing_cycle"].as_str()),
        (Some("pro"), Some("active"), Some("monthly"))
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM organizations WHERE id = {} AND plan_tier = 'pro' AND subscription_status = 'active'",
            s.org_id
        )),
        1
    );

    // A second checkout is refused while subscribed.
    let r = send_as(&app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "enterprise" }))).await;
    assert_error(r, 409, "already_subscribed").await;
}

#[tokio::test]
async fn an_upgrade_is_previewed_with_its_proration_and_charged_as_previewed() {
    let (app, fake) = stripe_app().await;
    let (s, sub_id) = subscribed(&app, &fake, "stripe-upgrade@example.com").await;
    activate(&app, &fake, &sub_id).await;

    let preview =
        call_ok(&app, &s, Method::POST, &billing(&s, "subscription/preview"), Some(json!({ "plan": "enterprise" })))
            .await;
    let lines = preview["lines"].as_array().expect("lines");
    let prorations: Vec<&Value> = lines.iter().filter(|l| l["proration"] == true).collect();
    assert_eq!(prorations.len(), 2, "{preview}");
    assert!(
        prorations.iter().any(|l| l["amount"].as_i64().is_some_and(|a| a < 0)),
        "credit for unused time: {preview}"
    );
    let proration = preview["proration_amount"].as_i64().expect("proration");
    // Almost a full month remains: close to the 70.00 difference.
    assert!((6_900..=7_000).contains(&proration), "{preview}");
    assert_eq!(preview["amount_due"].as_i64(), Some(proration + 9900), "{preview}");
    assert_eq!(preview["currency"], "USD");
    let (_, _, preview_form) =
        fake.requests().into_iter().find(|(_, p, _)| p == "/v1/invoices/create_preview").expect("preview");
    assert_eq!(preview_form["subscription_details[items][0][price]"], ENTERPRISE_MONTH);
    assert_eq!(preview_form["subscription_details[proration_behavior]"], "create_prorations");

    // A proration date from the future is refused.
    let future = preview["proration_date"].as_i64().expect("date") + 3600;
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &billing(&s, "subscription/change"),
        Some(json!({ "plan": "enterprise", "proration_date": future })),
    )
    .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "proration_date");

    let changed = call_ok(
        &app,
        &s,
        Method::POST,
        &billing(&s, "subscription/change"),
        Some(json!({ "plan": "enterprise", "proration_date": preview["proration_date"] })),
    )
    .await;
    assert_eq!(
        (changed["plan"].as_str(), changed["status"].as_str()),
        (Some("enterprise"), Some("active")),
        "{changed}"
    );
    assert_eq!(fake.subscription(&sub_id)["items"]["data"][0]["price"]["id"], ENTERPRISE_MONTH);
    assert_eq!(
        fake.state.lock().expect("state").proration_dates,
        vec![preview["proration_date"].as_i64().expect("date")]
    );
    // Limits follow the new plan at once.
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM organizations WHERE id = {} AND plan_tier = 'enterprise'", s.org_id)),
        1
    );

    // Yearly billing of Pro (a downgrade): the cycle follows the price.
    let preview = call_ok(
        &app,
        &s,
        Method::POST,
        &billing(&s, "subscription/preview"),
        Some(json!({ "plan": "pro", "interval": "year" })),
    )
    .await;
    let yearly = call_ok(
        &app,
        &s,
        Method::POST,
        &billing(&s, "subscription/change"),
        Some(json!({ "plan": "pro", "interval": "year", "proration_date": preview["proration_date"] })),
    )
    .await;
    assert_eq!((yearly["plan"].as_str(), yearly["billing_cycle"].as_str()), (Some("pro"), Some("yearly")), "{yearly}");
}

async fn start_conversation(app: &TestApp, s: &Session, bot: i64) -> Vec<String> {
    let turn = call_ok(app, s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({}))).await;
    turn["replies"].as_array().expect("replies").iter().filter_map(|m| m["text"].as_str().map(str::to_owned)).collect()
}

fn greeting_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hello from the shop." } }
        ],
        "edges": [ { "source": "start", "target": "hello" } ]
    })
}

#[tokio::test]
async fn a_failed_payment_goes_past_due_then_restricted_and_a_payment_restores_the_service() {
    let (app, fake) = stripe_app().await;
    let (s, sub_id) = subscribed(&app, &fake, "stripe-dunning@example.com").await;
    activate(&app, &fake, &sub_id).await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", greeting_flow()).await;
    assert_eq!(start_conversation(&app, &s, bot).await, vec!["Hello from the shop."]);

    // The renewal fails: past due, a failed payment, the owner emailed, an event for revenue recovery.
    let failed_invoice = fake.invoice(&sub_id, 2900, "open");
    let r = deliver(&app, &fake.event("invoice.payment_failed", failed_invoice.clone())).await;
    assert_eq!(ok_json(r, 200).await["outcome"], "applied");
    let sub = subscription(&app, &s).await;
    assert_eq!((sub["status"].as_str(), sub["restricted"].as_bool()), (Some("past_due"), Some(false)), "{sub}");
    assert!(sub["grace_ends_at"].is_string(), "{sub}");
    assert_eq!(emails_with(&app, "a payment failed"), 1);
    assert_eq!(app.count("SELECT count(*) FROM payment_history WHERE status = 'failed' AND amount = 2900"), 1);
    let failures = botbuilder::billing::dunning::payment_failures(&app.state, "2000-01-01T00:00:00.000Z".into())
        .await
        .expect("failures");
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0.0, s.org_id);
    // Stripe's own subscription.updated (past_due) changes nothing more and emails nobody again.
    let past_due = fake.update_subscription(&sub_id, |v| v["status"] = json!("past_due"));
    ok_json(deliver(&app, &fake.event("customer.subscription.updated", past_due)).await, 200).await;
    assert_eq!(emails_with(&app, "a payment failed"), 1);

    // Within the grace period the bots answer as usual.
    let report = botbuilder::billing::dunning::run_once(&app.state).await.expect("dunning");
    assert!(report.restricted.is_empty(), "{report:?}");
    assert_eq!(start_conversation(&app, &s, bot).await, vec!["Hello from the shop."]);

    // The grace period (7 days) is over: restricted; new conversations get the notice, data untouched.
    app.sql(|c| c.execute("UPDATE user_subscriptions SET past_due_since = '2020-01-01T00:00:00.000Z'", []));
    let messages_before = app.count("SELECT count(*) FROM widget_messages");
    let report = botbuilder::billing::dunning::run_once(&app.state).await.expect("dunning");
    assert_eq!(report.restricted.len(), 1, "{report:?}");
    assert_eq!(emails_with(&app, "service restricted"), 1);
    assert_eq!(subscription(&app, &s).await["restricted"], true);
    assert_eq!(start_conversation(&app, &s, bot).await, vec!["Service paused: the subscription is overdue."]);
    assert!(app.count("SELECT count(*) FROM widget_messages") > messages_before, "the notice is stored");
    assert_eq!(app.count("SELECT count(*) FROM bots"), 1);
    // A second run does not restrict or email again.
    assert!(botbuilder::billing::dunning::run_once(&app.state).await.expect("dunning").restricted.is_empty());
    assert_eq!(emails_with(&app, "service restricted"), 1);

    // Stripe's retry succeeds: active again, the service restored, the payment succeeded.
    let mut paid = failed_invoice;
    paid["status"] = json!("paid");
    paid["amount_paid"] = json!(2900);
    ok_json(deliver(&app, &fake.event("invoice.paid", paid)).await, 200).await;
    let sub = subscription(&app, &s).await;
    assert_eq!(
        (sub["status"].as_str(), sub["restricted"].as_bool(), sub["plan"].as_str()),
        (Some("active"), Some(false), Some("pro")),
        "{sub}"
    );
    assert_eq!(emails_with(&app, "service restored"), 1);
    assert_eq!(app.count("SELECT count(*) FROM payment_history WHERE status = 'succeeded'"), 1);
    assert_eq!(start_conversation(&app, &s, bot).await, vec!["Hello from the shop."]);
    // A late payment_failed of the same invoice does not undo the payment.
    let mut late = fake.invoice(&sub_id, 2900, "open");
    late["id"] =
        json!(app.sql(|c| c.query_row("SELECT stripe_invoice_id FROM payment_history", [], |r| r.get::<_, String>(0))));
    ok_json(
        deliver(&app, &fake.event_at("invoice.payment_failed", late, chrono::Utc::now().timestamp() - 60)).await,
        200,
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM payment_history WHERE status = 'succeeded'"), 1);
    assert_eq!(subscription(&app, &s).await["status"], "active");
}

#[tokio::test]
async fn dunning_cancels_at_stripe_after_the_restricted_period() {
    let (app, fake) = stripe_app().await;
    let (s, sub_id) = subscribed(&app, &fake, "stripe-cancel-dunning@example.com").await;
    activate(&app, &fake, &sub_id).await;
    ok_json(deliver(&app, &fake.event("invoice.payment_failed", fake.invoice(&sub_id, 2900, "open"))).await, 200).await;
    app.sql(|c| c.execute("UPDATE user_subscriptions SET past_due_since = '2020-01-01T00:00:00.000Z'", []));
    botbuilder::billing::dunning::run_once(&app.state).await.expect("dunning");
    // 14 restricted days later: canceled at Stripe and here, back to free.
    app.sql(|c| c.execute("UPDATE user_subscriptions SET restricted_at = '2020-01-10T00:00:00.000Z'", []));
    let report = botbuilder::billing::dunning::run_once(&app.state).await.expect("dunning");
    assert_eq!(report.canceled.len(), 1, "{report:?}");
    assert!(fake.requests().iter().any(|(m, p, _)| m == "DELETE" && p == &format!("/v1/subscriptions/{sub_id}")));
    assert_eq!(fake.subscription(&sub_id)["status"], "canceled");
    let sub = subscription(&app, &s).await;
    assert_eq!(
        (sub["status"].as_str(), sub["plan"].as_str(), sub["restricted"].as_bool()),
        (Some("canceled"), Some("free"), Some(false)),
        "{sub}"
    );
    assert_eq!(emails_with(&app, "subscription canceled"), 1);
    // Stripe's deleted event that follows is stale: no second email.
    let deleted = fake.event("customer.subscription.deleted", fake.subscription(&sub_id));
    assert_eq!(ok_json(deliver(&app, &deleted).await, 200).await["outcome"], "stale");
    assert_eq!(emails_with(&app, "subscription ended"), 0);
}

#[tokio::test]
async fn cancel_at_period_end_resume_and_the_end_of_the_subscription() {
    let (app, fake) = stripe_app().await;
    let (s, sub_id) = subscribed(&app, &fake, "stripe-cancel@example.com").await;
    activate(&app, &fake, &sub_id).await;
    let canceled = call_ok(&app, &s, Method::POST, &billing(&s, "subscription/cancel"), None).await;
    assert_eq!(
        (canceled["cancel_at_period_end"].as_bool(), canceled["status"].as_str(), canceled["plan"].as_str()),
        (Some(true), Some("active"), Some("pro"))
    );
    assert_eq!(fake.subscription(&sub_id)["cancel_at_period_end"], true);
    let resumed = call_ok(&app, &s, Method::POST, &billing(&s, "subscription/resume"), None).await;
    assert_eq!(resumed["cancel_at_period_end"], false);
    assert_eq!(fake.subscription(&sub_id)["cancel_at_period_end"], false);
    call_ok(&app, &s, Method::POST, &billing(&s, "subscription/cancel"), None).await;

    // The period ends: Stripe deletes the subscription.
    let ended = fake.update_subscription(&sub_id, |v| {
        v["status"] = json!("canceled");
        v["canceled_at"] = json!(chrono::Utc::now().timestamp());
    });
    ok_json(deliver(&app, &fake.event("customer.subscription.deleted", ended)).await, 200).await;
    let sub = subscription(&app, &s).await;
    assert_eq!((sub["status"].as_str(), sub["plan"].as_str()), (Some("canceled"), Some("free")), "{sub}");
    assert_eq!(emails_with(&app, "subscription ended"), 1);
    // Nothing left to cancel or resume; a new checkout is allowed.
    assert_error(
        send_as(&app, &s, Method::POST, &billing(&s, "subscription/resume"), None).await,
        409,
        "no_subscription",
    )
    .await;
    ok_json(send_as(&app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "pro" }))).await, 201).await;
}

#[tokio::test]
async fn replayed_old_forged_out_of_order_and_foreign_events_leave_the_right_state() {
    let (app, fake) = stripe_app().await;
    let (s, sub_id) = subscribed(&app, &fake, "stripe-defence@example.com").await;
    let events = || app.count("SELECT count(*) FROM billing_events");
    let sub_state = || {
        app.sql(|c| c.query_row("SELECT s.status || ':' || o.plan_tier FROM user_subscriptions s JOIN organizations o ON o.id = s.organization_id", [], |r| r.get::<_, String>(0)))
    };
    activate(&app, &fake, &sub_id).await;
    assert_eq!(sub_state(), "active:pro");
    let n = events();

    // A replayed event: answered as a duplicate, applied and stored once.
    let upgrade = fake.update_subscription(&sub_id, |v| v["cancel_at_period_end"] = json!(true));
    let event = fake.event("customer.subscription.updated", upgrade);
    assert_eq!(ok_json(deliver(&app, &event).await, 200).await["duplicate"], false);
    let replay = ok_json(deliver(&app, &event).await, 200).await;
    assert_eq!((replay["duplicate"].as_bool(), replay["outcome"].as_str()), (Some(true), Some("duplicate")));
    assert_eq!(events(), n + 1);
    let raw: String =
        app.sql(|c| c.query_row("SELECT payload FROM billing_events ORDER BY id DESC LIMIT 1", [], |r| r.get(0)));
    assert_eq!(serde_json::from_str::<Value>(&raw).expect("raw json"), event, "the raw body is kept");

    // An old signature timestamp (beyond 5 minutes), a wrong secret, no signature: 400, nothing stored.
    let fresh = fake.event("customer.subscription.updated", fake.subscription(&sub_id));
    let body = serde_json::to_vec(&fresh).expect("json");
    let old = chrono::Utc::now().timestamp() - 301;
    let r = post_raw(&app, &body, Some(signature_header(&body, old, &[WEBHOOK_SECRET]))).await;
    assert_eq!(
        assert_error(r, 400, "stripe_signature_invalid").await["error"]["details"]["reason"],
        "timestamp_outside_tolerance"
    );
    let now = chrono::Utc::now().timestamp();
    let r = post_raw(&app, &body, Some(signature_header(&body, now, &["whsec_attacker"]))).await;
    assert_eq!(
        assert_error(r, 400, "stripe_signature_invalid").await["error"]["details"]["reason"],
        "no_matching_signature"
    );
    assert_error(post_raw(&app, &body, None).await, 400, "stripe_signature_invalid").await;
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let r = post_raw(&app, &tampered, Some(signature_header(&body, now, &[WEBHOOK_SECRET]))).await;
    assert_error(r, 400, "stripe_signature_invalid").await;
    assert_eq!(events(), n + 1);
    // During rotation Stripe sends one v1 per secret; the previous secret alone is accepted too.
    let r = post_raw(&app, &body, Some(signature_header(&body, now, &["whsec_unknown", OLD_WEBHOOK_SECRET]))).await;
    assert_eq!(ok_json(r, 200).await["outcome"], "applied");

    // An update older than what was applied changes nothing.
    let stale_state = fake.update_subscription(&sub_id, |v| v["status"] = json!("past_due"));
    let stale = fake.event_at("customer.subscription.updated", stale_state, now - 3600);
    assert_eq!(ok_json(deliver(&app, &stale).await, 200).await["outcome"], "stale");
    assert_eq!(sub_state(), "active:pro");

    // Deleted, then an update that arrives after it (even one created later): still canceled.
    let deleted_state = fake.update_subscription(&sub_id, |v| v["status"] = json!("canceled"));
    let deleted = fake.event("customer.subscription.deleted", deleted_state);
    let mut revived = fake.subscription(&sub_id);
    revived["status"] = json!("active");
    let late_update = fake.event_at("customer.subscription.updated", revived, now + 1);
    ok_json(deliver(&app, &deleted).await, 200).await;
    assert_eq!(sub_state(), "canceled:free");
    assert_eq!(ok_json(deliver(&app, &late_update).await, 200).await["outcome"], "stale");
    assert_eq!(sub_state(), "canceled:free");

    // Bodies that are not Stripe's shape, correctly signed: 400 naming the field, nothing stored.
    let n = events();
    for (body, field) in [
        (json!({ "hello": "world" }), "object"),
        (
            json!({ "object": "event", "id": "evt_x", "type": "invoice.paid", "created": now, "data": { "object": { "object": "charge", "id": "ch_1" } } }),
            "data.object.object",
        ),
        (
            json!({ "object": "event", "id": "evt_y", "type": "customer.subscription.updated", "created": now,
                 "data": { "object": { "object": "subscription", "id": "sub_1", "customer": "cus_1", "status": "exploded" } } }),
            "data.object.status",
        ),
        (json!([1, 2, 3]), "body"),
    ] {
        let bytes = serde_json::to_vec(&body).expect("json");
        let r = post_raw(&app, &bytes, Some(signature_header(&bytes, now, &[WEBHOOK_SECRET]))).await;
        assert_eq!(assert_error(r, 400, "stripe_event_invalid").await["error"]["details"]["field"], field, "{body}");
    }
    assert_eq!(events(), n);
    assert_eq!(sub_state(), "canceled:free");

    // An event about a customer of no organization is recorded as unmatched and changes nothing.
    let foreign = json!({ "id": "sub_foreign", "object": "subscription", "customer": "cus_nobody", "status": "active",
        "items": { "data": [ { "id": "si_f", "price": { "id": PRO_MONTH } } ] } });
    assert_eq!(
        ok_json(deliver(&app, &fake.event("customer.subscription.created", foreign)).await, 200).await["outcome"],
        "unmatched"
    );
    assert_eq!(sub_state(), "canceled:free");
    assert_eq!(subscription(&app, &s).await["status"], "canceled");
}

#[tokio::test]
async fn invoices_list_download_and_show_refunds_and_the_revenue_overview_counts_them() {
    let (app, fake) = stripe_app().await;
    // The first account is the superadmin.
    let (s, sub_id) = subscribed(&app, &fake, "stripe-invoices@example.com").await;
    activate(&app, &fake, &sub_id).await;
    let invoice = fake.invoice(&sub_id, 2900, "paid");
    ok_json(
        deliver(
            &app,
            &fake.event("invoice.finalized", {
                let mut i = invoice.clone();
                i["status"] = json!("open");
                i["amount_paid"] = json!(0);
                i
            }),
        )
        .await,
        200,
    )
    .await;
    ok_json(deliver(&app, &fake.event("invoice.paid", invoice.clone())).await, 200).await;
    let list = call_ok(&app, &s, Method::GET, &billing(&s, "invoices"), None).await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(
        (items[0]["status"].as_str(), items[0]["amount"].as_i64(), items[0]["currency"].as_str()),
        (Some("succeeded"), Some(2900), Some("USD"))
    );
    assert_eq!(items[0]["number"], invoice["number"]);
    assert!(items[0]["period_start"].is_string() && items[0]["period_end"].is_string());
    let id = items[0]["id"].as_i64().expect("id");

    // A partial refund, then the rest.
    let charge = |refunded: i64| {
        json!({ "id": invoice["charge"], "object": "charge", "customer": invoice["customer"],
        "invoice": invoice["id"], "payment_intent": invoice["payment_intent"], "amount": 2900, "amount_refunded": refunded, "refunded": refunded == 2900 })
    };
    ok_json(deliver(&app, &fake.event("charge.refunded", charge(900))).await, 200).await;
    let r = send_as(&app, &s, Method::GET, &format!("/api/v1/invoices/{id}/document"), None).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/html"));
    assert!(r.headers()["content-disposition"].to_str().expect("cd").contains("attachment"));
    let html = r.text().await.expect("html");
    assert!(html.contains("Refunded") && html.contains("-9.00 USD") && html.contains("20.00 USD"), "{html}");
    ok_json(deliver(&app, &fake.event("charge.refunded", charge(2900))).await, 200).await;
    let list = call_ok(&app, &s, Method::GET, &billing(&s, "invoices"), None).await;
    assert_eq!(
        (list["items"][0]["status"].as_str(), list["items"][0]["amount_refunded"].as_i64()),
        (Some("refunded"), Some(2900))
    );

    // Another organization sees none of it.
    let other = app.register("stripe-invoices-other@example.com").await;
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/invoices/{id}/document"), None).await,
        404,
        "invoice_not_found",
    )
    .await;
    assert_eq!(
        call_ok(&app, &other, Method::GET, &billing(&other, "invoices"), None).await["items"].as_array().map(Vec::len),
        Some(0)
    );

    // The revenue overview: one active Pro subscription, 29.00 USD MRR.
    let console = crate::admin::console(&app, "stripe-invoices@example.com").await;
    let (status, overview) =
        crate::admin::admin_call(&app, &console, Method::GET, "/api/v1/admin/billing/overview", None).await;
    assert_eq!(status, 200, "{overview}");
    assert_eq!(overview["active_subscriptions"], 1);
    assert_eq!(overview["mrr"], json!([{ "currency": "USD", "amount": 2900 }]));
    assert_eq!((overview["past_due"].as_i64(), overview["churned_30d"].as_i64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn with_billing_off_the_billing_routes_and_the_webhook_do_not_exist() {
    let app = spawn_app().await;
    let s = app.register("stripe-off@example.com").await;
    // The UI hides the billing screens on this switch.
    let instance = ok_json(app.get("/api/v1/instance").await, 200).await;
    assert_eq!(instance["billing_enabled"], false);
    assert_error(send_as(&app, &s, Method::GET, &billing(&s, "subscription"), None).await, 404, "billing_disabled")
        .await;
    let r = send_as(&app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "pro" }))).await;
    assert_error(r, 404, "billing_disabled").await;
    let body = br#"{"object":"event"}"#;
    let r = post_raw(&app, body, Some(signature_header(body, chrono::Utc::now().timestamp(), &[WEBHOOK_SECRET]))).await;
    assert_error(r, 404, "billing_disabled").await;
    // Billing on without a Stripe key: the page works, Stripe actions say what is missing.
    let app = spawn_app_with(|c| c.billing.enabled = true).await;
    let s = app.register("stripe-nokey@example.com").await;
    let view = call_ok(&app, &s, Method::GET, &billing(&s, "subscription"), None).await;
    assert_eq!((view["billing_enabled"].as_bool(), view["stripe_configured"].as_bool()), (Some(true), Some(false)));
    let r = send_as(&app, &s, Method::POST, &billing(&s, "checkout"), Some(json!({ "plan": "pro" }))).await;
    assert_error(r, 409, "billing_not_configured").await;
}
