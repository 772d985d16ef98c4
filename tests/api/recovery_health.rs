//! Customer health and internal recovery events through the real server:
//! the operator's organization (`recovery.operator_organization_id`) scores
//! the platform's customer organizations from generated signals with known
//! churners (logistic model fitted on their churn labels, AUC reported),
//! at-risk customers raise churn-risk events a campaign takes, history is
//! kept; failed payments from billing, inactivity and usage drops become
//! deduplicated recovery events.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, spawn_app};

fn ts(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago)).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn day(days_ago: i64) -> String {
    (Utc::now() - Duration::days(days_ago)).format("%Y-%m-%d").to_string()
}

/// How a generated customer behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Canceled 3 days ago after a decline: usage fell, few sign-ins, failed payments.
    Churned,
    /// Steady usage and sign-ins.
    Retained,
    /// Still subscribed, declining like the churners did.
    AtRisk,
}

/// A customer organization with its owner, membership, subscription and signals.
fn customer(c: &rusqlite::Connection, n: usize, kind: Kind) -> rusqlite::Result<i64> {
    c.execute(
        "INSERT INTO users (email, password_hash, name) VALUES (?1, 'x', ?2)",
        rusqlite::params![format!("owner{n}@customer.test"), format!("Owner {n}")],
    )?;
    let user = c.last_insert_rowid();
    c.execute(
        "INSERT INTO organizations (name, slug, owner_id, created_at) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![format!("Customer {n}"), format!("customer-{n}"), user, ts(200)],
    )?;
    let org = c.last_insert_rowid();
    c.execute(
        "INSERT INTO organization_members (organization_id, user_id, role_id)
         VALUES (?1, ?2, (SELECT id FROM roles WHERE organization_id IS NULL AND name = 'owner'))",
        [org, user],
    )?;
    let (status, canceled) = if kind == Kind::Churned { ("canceled", Some(ts(3))) } else { ("active", None) };
    c.execute(
        "INSERT INTO user_subscriptions (organization_id, user_id, plan_id, status, canceled_at)
         VALUES (?1, ?2, (SELECT id FROM subscription_plans ORDER BY id LIMIT 1), ?3, ?4)",
        rusqlite::params![org, user, status, canceled],
    )?;
    // Noise: every fourth churner and every fifth retained customer look like the other side on one signal.
    let odd = (kind == Kind::Churned && n.is_multiple_of(4)) || (kind == Kind::Retained && n.is_multiple_of(5));
    let offset = if kind == Kind::Churned { 3 } else { 0 };
    for d in 0..30 {
        let recent = d < 14;
        let count = match kind {
            Kind::Retained => 30 + i64::try_from(n % 7).unwrap_or(0),
            Kind::Churned | Kind::AtRisk if recent && !odd => 2,
            Kind::Churned | Kind::AtRisk => 40,
        };
        c.execute(
            "INSERT INTO usage_tracking (organization_id, metric_type, day, count) VALUES (?1, 'message_received', ?2, ?3)",
            rusqlite::params![org, day(d + offset), count],
        )?;
    }
    let logins = match kind {
        Kind::Retained if odd => 1,
        Kind::Retained => 8,
        _ => 1,
    };
    for i in 0..logins {
        c.execute(
            "INSERT INTO user_sessions (user_id, token_hash, expires_at, created_at) VALUES (?1, randomblob(32), ?2, ?3)",
            rusqlite::params![user, ts(-30), ts(offset + 2 + i)],
        )?;
    }
    let failures = match kind {
        Kind::Retained if odd => 1,
        Kind::Retained => 0,
        Kind::Churned if odd => 0,
        _ => 2,
    };
    for i in 0..failures {
        c.execute(
            "INSERT INTO payment_history (organization_id, amount, status, created_at) VALUES (?1, 4900, 'failed', ?2)",
            rusqlite::params![org, ts(offset + 10 + i * 20)],
        )?;
    }
    Ok(org)
}

async fn operator_app() -> (TestApp, Session) {
    let app = spawn_app().await;
    let s = app.register("operator@platform.test").await;
    let org = s.org_id;
    let app = app.restart(move |c| c.recovery.operator_organization_id = Some(org)).await;
    let s = app.login("operator@platform.test", crate::helpers::PASSWORD).await;
    (app, s)
}

async fn campaign(app: &TestApp, s: &Session, body: Value) -> Value {
    let (status, c) =
        app.call(s, Method::POST, &format!("/api/v1/orgs/{}/recovery/campaigns", s.org_id), Some(body)).await;
    assert_eq!(status, 201, "{c}");
    c
}

#[tokio::test]
async fn health_scores_fit_the_operators_churn_labels_and_at_risk_customers_raise_churn_events() {
    let (app, s) = operator_app().await;
    let churn = campaign(
        &app,
        &s,
        json!({ "name": "Save them", "trigger": "churn_risk", "status": "active",
        "steps": [{ "delay_minutes": 60, "channel": "email", "subject": "Can we help, {{customer.name}}?",
                    "body": "We noticed: {{data.reasons}}. Reply and we will call you." }] }),
    )
    .await;
    let mut kinds = Vec::new();
    // `app.sql` runs in one write transaction.
    app.sql(|tx| {
        for n in 0..54 {
            let kind = match n {
                0..24 => Kind::Churned,
                24..51 => Kind::Retained,
                _ => Kind::AtRisk,
            };
            kinds.push((customer(tx, n, kind)?, kind));
        }
        Ok(())
    });
    let report = botbuilder::recovery::health::run(&app.state).await.expect("health job");
    let auc = report.auc.expect("the logistic model was fitted");
    println!(
        "customer health: model {}, {} labels ({} churned), AUC {auc:.3}, top signals {:?}",
        report.model,
        report.labels,
        report.churned,
        report.top_signals.iter().take(4).collect::<Vec<_>>()
    );
    assert!(report.model.starts_with("logistic-v1"), "{report:?}");
    assert_eq!((report.labels, report.churned, report.scored), (54, 24, 30), "{report:?}");
    assert!(auc >= 0.8, "{report:?}");
    // The churners' pattern (falling usage, few sign-ins, failed payments) carries the weight.
    let top: Vec<&str> = report.top_signals.iter().take(4).map(|(s, _)| s.as_str()).collect();
    assert!(top.iter().any(|s| ["usage_trend", "logins", "payment_failures"].contains(s)), "{top:?}");

    // The declining customers are at risk, with reasons; each raised one churn-risk event the campaign took.
    let at_risk: Vec<i64> = kinds.iter().filter(|(_, k)| *k == Kind::AtRisk).map(|(o, _)| *o).collect();
    for org in &at_risk {
        let (p, level, events): (f64, String, i64) = app.sql(|c| {
            c.query_row(
                "SELECT churn_probability, churn_risk_level,
                        (SELECT count(*) FROM recovery_events e WHERE e.customer_id = h.customer_id AND e.event_type = 'churn_risk_detected')
                 FROM customer_health_scores h WHERE customer_id = ?1",
                [format!("org-{org}")],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        });
        assert!(p >= 0.6 && ["high", "critical"].contains(&level.as_str()), "org {org}: {p} {level}");
        assert_eq!(events, 1, "org {org}");
    }
    let steady = kinds.iter().find(|(_, k)| *k == Kind::Retained).map(|(o, _)| *o).expect("retained");
    let p: f64 = app.sql(|c| {
        c.query_row(
            "SELECT churn_probability FROM customer_health_scores WHERE customer_id = ?1",
            [format!("org-{steady}")],
            |r| r.get(0),
        )
    });
    assert!(p < 0.3, "a steady customer: {p}");
    let events = app.count("SELECT count(*) FROM recovery_events WHERE event_type = 'churn_risk_detected'");
    assert_eq!(i64::try_from(report.churn_events).ok(), Some(events));
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM recovery_events WHERE event_type = 'churn_risk_detected' AND campaign_id = {} AND status = 'processing'",
            churn["id"]
        )),
        events
    );
    assert_eq!(app.count("SELECT count(*) FROM recovery_messages"), events);
    let body: String = app.sql(|c| c.query_row("SELECT message_body FROM recovery_messages LIMIT 1", [], |r| r.get(0)));
    assert!(body.contains("{{data.reasons}}"), "the template is stored; rendered at send: {body}");

    // The API: the at-risk list with reasons, the detail with every signal's weight and the history.
    let (status, page) = app
        .call(&s, Method::GET, &format!("/api/v1/orgs/{}/recovery/health?at_risk=true&limit=100", s.org_id), None)
        .await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), report.at_risk, "{page}");
    let listed: Vec<&str> = items.iter().filter_map(|i| i["customer_id"].as_str()).collect();
    for org in &at_risk {
        assert!(listed.contains(&format!("org-{org}").as_str()), "{listed:?}");
    }
    let first = items.iter().find(|i| i["customer_id"] == format!("org-{}", at_risk[0])).expect("listed");
    let reasons = first["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty() && reasons.iter().all(|r| r["reason"].is_string()), "{first}");
    let id = first["id"].as_i64().expect("id");
    let (status, detail) = app.call(&s, Method::GET, &format!("/api/v1/recovery-health/{id}"), None).await;
    assert_eq!(status, 200, "{detail}");
    let signals = detail["signals"].as_array().expect("signals");
    assert_eq!(signals.len(), 9, "{detail}");
    assert!(
        signals
            .iter()
            .all(|x| x["weight"].is_number() && x["contribution"].is_number() && x["description"].is_string())
    );
    assert_eq!(detail["model"]["kind"], "logistic", "{detail}");
    assert_eq!(detail["history"].as_array().map(Vec::len), Some(1), "{detail}");
    assert_eq!(detail["payment_failures_90d"], 2);

    // The next day: nobody crosses again (no new event); a recovered customer's score rises, history kept.
    let history = app.count("SELECT count(*) FROM customer_health_score_history");
    let org = at_risk[0];
    app.sql(|c| {
        c.execute(
            "UPDATE usage_tracking SET count = 60 WHERE organization_id = ?1 AND day >= ?2",
            rusqlite::params![org, day(13)],
        )?;
        c.execute("DELETE FROM payment_history WHERE organization_id = ?1", [org])
    });
    let again = botbuilder::recovery::health::run(&app.state).await.expect("health job");
    assert_eq!(again.churn_events, 0, "{again:?}");
    assert_eq!(app.count("SELECT count(*) FROM recovery_events WHERE event_type = 'churn_risk_detected'"), events);
    assert!(app.count("SELECT count(*) FROM customer_health_score_history") > history);
    let (_, detail) = app.call(&s, Method::GET, &format!("/api/v1/recovery-health/{id}"), None).await;
    let hist = detail["history"].as_array().expect("history");
    assert_eq!(hist.len(), 2, "{detail}");
    assert!(detail["health_score"].as_i64() > hist[1]["health_score"].as_i64(), "{detail}");
    assert_eq!(detail["score_trend"], "improving", "{detail}");

    // Another organization sees none of it.
    let other = app.register("someone@else.test").await;
    let (status, e) = app.call(&other, Method::GET, &format!("/api/v1/recovery-health/{id}"), None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("recovery_health_not_found")), "{e}");
    let (_, page) =
        app.call(&other, Method::GET, &format!("/api/v1/orgs/{}/recovery/health", other.org_id), None).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}

#[tokio::test]
async fn failed_payments_inactivity_and_usage_drops_become_recovery_events_once() {
    let (app, s) = operator_app().await;
    let dunning = campaign(&app, &s, json!({ "name": "Failed payments", "trigger": "failed_payment", "status": "active",
        "steps": [{ "delay_minutes": 0, "channel": "email", "body": "Your payment of {{amount}} failed: {{payment_url}}" }] })).await;
    let idle = campaign(&app, &s, json!({ "name": "Come back", "trigger": "inactivity", "status": "active",
        "steps": [{ "delay_minutes": 0, "channel": "email", "body": "We miss you, {{customer.name}} ({{data.signal}})" }] })).await;
    let (payer, inactive, dropping, healthy) = app.sql(|c| {
        let mut orgs = Vec::new();
        for n in 0..4 {
            c.execute(
                "INSERT INTO users (email, password_hash) VALUES (?1, 'x')",
                [format!("owner{n}@customer.test")],
            )?;
            let user = c.last_insert_rowid();
            c.execute(
                "INSERT INTO organizations (name, slug, owner_id, created_at) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![format!("Customer {n}"), format!("customer-{n}"), user, ts(40)],
            )?;
            orgs.push(c.last_insert_rowid());
        }
        let usage = |org: i64, from: i64, to: i64, count: i64| -> rusqlite::Result<()> {
            for d in from..to {
                c.execute(
                    "INSERT INTO usage_tracking (organization_id, metric_type, day, count) VALUES (?1, 'api_call', ?2, ?3)",
                    rusqlite::params![org, day(d), count],
                )?;
            }
            Ok(())
        };
        usage(orgs[0], 0, 14, 50)?;
        usage(orgs[1], 20, 30, 50)?;
        usage(orgs[2], 7, 14, 100)?;
        usage(orgs[2], 0, 7, 10)?;
        usage(orgs[3], 0, 14, 50)?;
        let payload = json!({ "id": "evt_fail_1", "type": "invoice.payment_failed", "data": { "object": {
            "id": "in_1", "amount_due": 4900, "currency": "eur", "attempt_count": 1,
            "hosted_invoice_url": "https://pay.example/in_1" } } });
        c.execute(
            "INSERT INTO billing_events (stripe_event_id, event_type, event_created, organization_id, payload, outcome)
             VALUES ('evt_fail_1', 'invoice.payment_failed', 1700000000, ?1, ?2, 'applied')",
            rusqlite::params![orgs[0], payload.to_string()],
        )?;
        Ok((orgs[0], orgs[1], orgs[2], orgs[3]))
    });
    let report = botbuilder::recovery::internal::run(&app.state).await.expect("internal events");
    assert_eq!((report.payment_failed, report.inactive, report.usage_drop), (1, 1, 1), "{report:?}");
    let row = |org: i64| -> (String, Option<i64>, String, Option<String>, Option<i64>, String) {
        app.sql(|c| {
            c.query_row(
                "SELECT event_type, potential_value, currency, source_platform, campaign_id, json_extract(event_data, '$.data.signal')
                 FROM recovery_events WHERE customer_id = ?1",
                [format!("org-{org}")],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get::<_, Option<String>>(5)?.unwrap_or_default())),
            )
        })
    };
    let (kind, value, currency, source, campaign_id, _) = row(payer);
    assert_eq!(
        (kind.as_str(), value, currency.as_str(), source.as_deref(), campaign_id),
        ("payment_failed", Some(4900), "EUR", Some("billing"), dunning["id"].as_i64())
    );
    let (kind, _, _, source, campaign_id, signal) = row(inactive);
    assert_eq!(
        (kind.as_str(), source.as_deref(), campaign_id, signal.as_str()),
        ("inactive_detected", Some("platform"), idle["id"].as_i64(), "no_activity")
    );
    let (kind, _, _, _, campaign_id, signal) = row(dropping);
    assert_eq!((kind.as_str(), campaign_id, signal.as_str()), ("inactive_detected", idle["id"].as_i64(), "usage_drop"));
    assert_eq!(app.count(&format!("SELECT count(*) FROM recovery_events WHERE customer_id = 'org-{healthy}'")), 0);
    // The customer is reachable: the owner's email, a message scheduled per event.
    let email: String = app.sql(|c| {
        c.query_row(
            "SELECT customer_email FROM recovery_events WHERE customer_id = ?1",
            [format!("org-{payer}")],
            |r| r.get(0),
        )
    });
    assert_eq!(email, "owner0@customer.test");
    assert_eq!(app.count("SELECT count(*) FROM recovery_messages"), 3);

    // The hourly job again: every event is deduplicated by its source id.
    let again = botbuilder::recovery::internal::run(&app.state).await.expect("internal events");
    assert_eq!((again.payment_failed, again.inactive, again.usage_drop), (0, 0, 0), "{again:?}");
    assert_eq!(app.count("SELECT count(*) FROM recovery_events"), 3);
    assert_eq!(app.count("SELECT count(*) FROM recovery_messages"), 3);
}
