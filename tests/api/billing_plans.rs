//! Issue 21 (plans, limits, metering): superadmin plan CRUD and its bad
//! inputs, the public plan list, every plan limit refusing with
//! `402 plan_limit_exceeded` and no partial row, exact counters under 32
//! concurrent writers, 80 %/100 % alerts, billing off, the usage API and CSV.

use std::sync::Arc;

use botbuilder::billing::limits::{self, Limit};
use botbuilder::billing::usage;
use botbuilder::ids::OrgId;
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin::{Console, admin_call, console};
use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, call_ok, ok_json, send_as, spawn_app, spawn_app_with};
use crate::smtp::SmtpSink;

fn billing_on() -> impl FnOnce(&mut botbuilder::config::Config) {
    |c| c.billing.enabled = true
}

async fn superadmin(app: &TestApp, email: &str) -> Console {
    let s = app.register(email).await;
    app.sql(|c| c.execute("UPDATE users SET is_superadmin = 1 WHERE id = ?1", [s.user_id]));
    console(app, email).await
}

fn plan_body(name: &str) -> Value {
    json!({
        "name": name,
        "display_name": "Team",
        "description": "For small teams",
        "prices": [
            { "interval": "month", "currency": "EUR", "amount": 1900 },
            { "interval": "year", "currency": "EUR", "amount": 19000 },
            { "interval": "month", "currency": "USD", "amount": 2100, "stripe_price_id": "price_123" }
        ],
        "trial_days": 14,
        "limits": { "bots": 3, "messages_per_month": 5000, "knowledge_storage_bytes": null, "seats": -1,
                    "llm_tokens_per_month": 100_000, "channels": 2, "voice_minutes_per_month": 0 },
        "features": { "api_access": true, "custom_branding": false },
        "sort_order": 4
    })
}

/// Sets limits of the plan an organization is on (SQL: the tests' shortcut).
fn set_limit(app: &TestApp, org: i64, column: &str, value: i64) {
    let sql = format!(
        "UPDATE subscription_plans SET {column} = ?2 WHERE name = (SELECT plan_tier FROM organizations WHERE id = ?1)"
    );
    app.sql(|c| c.execute(&sql, rusqlite::params![org, value]));
    app.state.runtime.meter().forget(OrgId(org));
}

#[tokio::test]
#[allow(clippy::too_many_lines, reason = "one create-read-update-delete story with every bad input")]
async fn superadmins_create_read_update_and_delete_plans_and_bad_input_names_the_field() {
    let app = spawn_app_with(billing_on()).await;
    let root = superadmin(&app, "root-plans@example.com").await;

    let (status, created) = admin_call(&app, &root, Method::POST, "/api/v1/admin/plans", Some(plan_body("team"))).await;
    assert_eq!(status, 201, "{created}");
    let plan = &created["plan"];
    let id = plan["id"].as_i64().expect("id");
    assert_eq!(plan["currency"], "EUR");
    assert_eq!(plan["trial_days"], 14);
    assert_eq!(plan["limits"]["bots"], 3);
    assert_eq!(plan["limits"]["seats"], Value::Null, "-1 is unlimited, shown as null");
    assert_eq!(plan["limits"]["voice_minutes_per_month"], 0);
    assert_eq!(plan["features"]["api_access"], true);
    assert_eq!(plan["prices"].as_array().expect("prices").len(), 3);
    assert_eq!(created["warnings"], json!([]));
    // The legacy columns mirror the main currency's prices.
    let legacy: (i64, Option<i64>, String) = app.sql(|c| {
        c.query_row("SELECT price_monthly, price_yearly, currency FROM subscription_plans WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    });
    assert_eq!(legacy, (1900, Some(19000), "EUR".to_owned()));

    let (status, one) = admin_call(&app, &root, Method::GET, &format!("/api/v1/admin/plans/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(one["name"], "team");
    let (status, all) = admin_call(&app, &root, Method::GET, "/api/v1/admin/plans", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = all.as_array().expect("list").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["free", "pro", "enterprise", "team"]);

    // Each bad input: status, code and the field at fault; nothing written.
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            json!({ "prices": [{ "interval": "month", "currency": "EUR", "amount": -1 }] }),
            422,
            "validation_failed",
            "prices[0].amount",
        ),
        (
            json!({ "prices": [{ "interval": "month", "currency": "EUX", "amount": 100 }] }),
            422,
            "unknown_currency",
            "prices[0].currency",
        ),
        (json!({ "currency": "ABC" }), 422, "unknown_currency", "currency"),
        (json!({ "prices": [] }), 422, "validation_failed", "prices"),
        (
            json!({ "prices": [{ "interval": "year", "currency": "EUR", "amount": 100 }] }),
            422,
            "validation_failed",
            "prices",
        ),
        (json!({ "limits": { "bots": -2 } }), 422, "validation_failed", "limits.bots"),
        (json!({ "trial_days": -1 }), 422, "validation_failed", "trial_days"),
        (json!({ "name": "Not A Slug!" }), 422, "validation_failed", "name"),
        (json!({ "display_name": " " }), 422, "validation_failed", "display_name"),
        (json!({ "name": "pro" }), 409, "name_taken", "name"),
    ];
    for (patch, status, code, field) in cases {
        let mut body = plan_body("other");
        for (k, v) in patch.as_object().expect("patch") {
            body[k] = v.clone();
        }
        let (got, err) = admin_call(&app, &root, Method::POST, "/api/v1/admin/plans", Some(body)).await;
        assert_eq!((got, err["error"]["code"].as_str()), (status, Some(code)), "{patch}: {err}");
        assert_eq!(err["error"]["details"]["field"], field, "{patch}");
    }
    assert_eq!(app.count("SELECT count(*) FROM subscription_plans WHERE name = 'other'"), 0);
    // An unknown field of the body is refused too.
    let mut body = plan_body("other");
    body["price"] = json!(5);
    let (status, _) = admin_call(&app, &root, Method::POST, "/api/v1/admin/plans", Some(body)).await;
    assert_eq!(status, 422);

    // Update: a full replacement.
    let mut body = plan_body("team");
    body["limits"]["bots"] = json!(5);
    body["prices"] = json!([{ "interval": "month", "currency": "USD", "amount": 2500 }]);
    let (status, updated) =
        admin_call(&app, &root, Method::PUT, &format!("/api/v1/admin/plans/{id}"), Some(body)).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["plan"]["limits"]["bots"], 5);
    assert_eq!(updated["plan"]["currency"], "USD");
    assert_eq!(app.count(&format!("SELECT count(*) FROM subscription_plan_prices WHERE plan_id = {id}")), 1);
    let (status, _) = admin_call(&app, &root, Method::PUT, "/api/v1/admin/plans/999999", Some(plan_body("x"))).await;
    assert_eq!(status, 404);

    // Delete: refused while an organization is on it, then allowed.
    let alice = app.register("alice-plans@example.com").await;
    let (status, _) = admin_call(
        &app,
        &root,
        Method::PUT,
        &format!("/api/v1/admin/orgs/{}/plan", alice.org_id),
        Some(json!({ "plan": "team" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, err) = admin_call(&app, &root, Method::DELETE, &format!("/api/v1/admin/plans/{id}"), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("plan_in_use")));
    admin_call(
        &app,
        &root,
        Method::PUT,
        &format!("/api/v1/admin/orgs/{}/plan", alice.org_id),
        Some(json!({ "plan": "free" })),
    )
    .await;
    let (status, _) = admin_call(&app, &root, Method::DELETE, &format!("/api/v1/admin/plans/{id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(app.count(&format!("SELECT count(*) FROM subscription_plan_prices WHERE plan_id = {id}")), 0);
    let (status, err) = admin_call(&app, &root, Method::GET, &format!("/api/v1/admin/plans/{id}"), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("plan_not_found")));
}

#[tokio::test]
async fn the_public_plan_list_shows_active_public_plans_only() {
    let app = spawn_app_with(billing_on()).await;
    let root = superadmin(&app, "root-public@example.com").await;
    let mut hidden = plan_body("hidden");
    hidden["is_public"] = json!(false);
    let mut retired = plan_body("retired");
    retired["is_active"] = json!(false);
    for body in [plan_body("team"), hidden, retired] {
        let (status, _) = admin_call(&app, &root, Method::POST, "/api/v1/admin/plans", Some(body)).await;
        assert_eq!(status, 201);
    }
    // No session needed.
    let plans: Value = ok_json(app.get("/api/v1/plans").await, 200).await;
    let names: Vec<&str> = plans.as_array().expect("list").iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["free", "pro", "enterprise", "team"]);
    let pro = &plans[1];
    assert_eq!(
        pro["prices"][0],
        json!({ "interval": "month", "currency": "USD", "amount": 2900, "stripe_price_id": null })
    );
    assert_eq!(pro["limits"]["bots"], 10);
    assert_eq!(pro["trial_days"], 14);
}

#[tokio::test]
async fn lowering_a_limit_below_usage_is_allowed_with_a_warning_and_applies_at_once() {
    let app = spawn_app_with(billing_on()).await;
    let root = superadmin(&app, "root-lower@example.com").await;
    let alice = app.register("alice-lower@example.com").await;
    let bots = format!("/api/v1/orgs/{}/bots", alice.org_id);
    set_limit(&app, alice.org_id, "max_bots", 3);
    for name in ["One", "Two", "Three"] {
        call_ok(&app, &alice, Method::POST, &bots, Some(json!({ "name": name }))).await;
    }
    let free: Value = admin_call(&app, &root, Method::GET, "/api/v1/admin/plans", None).await.1[0].clone();
    assert_eq!(free["name"], "free");
    let mut body = json!({
        "name": "free", "display_name": "Free", "prices": free["prices"], "trial_days": 0,
        "limits": free["limits"], "features": free["features"], "sort_order": 1
    });
    body["limits"]["bots"] = json!(2);
    let (status, change) =
        admin_call(&app, &root, Method::PUT, &format!("/api/v1/admin/plans/{}", free["id"]), Some(body)).await;
    assert_eq!(status, 200, "{change}");
    let warnings = change["warnings"].as_array().expect("warnings");
    let bots_warning: Vec<&Value> = warnings.iter().filter(|w| w["limit"] == "bots").collect();
    assert_eq!(bots_warning.len(), 1, "{warnings:?}");
    assert_eq!(bots_warning[0]["organization_id"], alice.org_id);
    assert_eq!(bots_warning[0]["used"], 3);
    assert_eq!(bots_warning[0]["allowed"], 2);
    // At once: the next bot is refused.
    let r = send_as(&app, &alice, Method::POST, &bots, Some(json!({ "name": "Four" }))).await;
    let err = assert_error(r, 402, "plan_limit_exceeded").await;
    assert_eq!(err["error"]["details"], json!({ "limit": "bots", "used": 3, "allowed": 2 }));
}

async fn invite(app: &TestApp, s: &Session, email: &str) -> reqwest::Response {
    send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/invitations", s.org_id),
        Some(json!({ "email": email, "role": "editor" })),
    )
    .await
}

async fn limit_error(r: reqwest::Response, limit: &str) -> Value {
    let body = assert_error(r, 402, "plan_limit_exceeded").await;
    assert_eq!(body["error"]["details"]["limit"], limit, "{body}");
    body
}

#[tokio::test]
async fn each_limit_refuses_with_its_name_and_leaves_no_partial_row() {
    let app = spawn_app_with(billing_on()).await;
    let s = app.register("limits@example.com").await;
    let org = s.org_id;

    // Bots (free: 1).
    let bot = call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "One" })))
        .await["id"]
        .clone();
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": "Two" }))).await;
    let body = limit_error(r, "bots").await;
    assert_eq!(body["error"]["details"]["allowed"], 1);
    assert_eq!(app.count("SELECT count(*) FROM bots"), 1);
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'bot.created'"), 1);

    // Channels.
    set_limit(&app, org, "max_channels", 1);
    let channels = format!("/api/v1/orgs/{org}/channels");
    let channel =
        json!({ "type": "http", "bot_id": bot, "credentials": { "outbound_url": "https://example.com/replies" } });
    let (status, created) = app.call(&s, Method::POST, &channels, Some(channel.clone())).await;
    assert_eq!(status, 201, "{created}");
    limit_error(send_as(&app, &s, Method::POST, &channels, Some(channel)).await, "channels").await;
    assert_eq!(app.count("SELECT count(*) FROM channels"), 1);
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'channel.created'"), 1);

    // Seats: invitations and acceptance.
    set_limit(&app, org, "max_seats", 2);
    let joined = app.join(&s, org, "second@example.com", "editor").await;
    assert_eq!(joined.org_id, org);
    limit_error(invite(&app, &s, "third@example.com").await, "seats").await;
    assert_eq!(app.count("SELECT count(*) FROM team_invitations WHERE email = 'third@example.com'"), 0);
    // An invitation sent while a seat was free cannot be accepted once the seats are taken.
    set_limit(&app, org, "max_seats", 3);
    let sent: Value = ok_json(invite(&app, &s, "fourth@example.com").await, 201).await;
    set_limit(&app, org, "max_seats", 2);
    let token = sent["accept_url"].as_str().expect("url").split("token=").nth(1).expect("token").to_owned();
    let fourth = app.register("fourth@example.com").await;
    let r = send_as(&app, &fourth, Method::POST, "/api/v1/invitations/accept", Some(json!({ "token": token }))).await;
    limit_error(r, "seats").await;
    assert_eq!(app.count(&format!("SELECT count(*) FROM organization_members WHERE organization_id = {org}")), 2);
    assert_eq!(
        app.count("SELECT count(*) FROM team_invitations WHERE email = 'fourth@example.com' AND status = 'pending'"),
        1
    );
    // The seats gauge follows the members.
    assert_eq!(
        app.count(&format!("SELECT count FROM usage_tracking WHERE organization_id = {org} AND metric_type = 'seats'")),
        2
    );

    // Knowledge storage.
    set_limit(&app, org, "max_knowledge_storage_bytes", 100);
    let kb = crate::knowledge::create_kb(&app, &s, json!({ "name": "Docs" })).await["id"].as_i64().expect("kb");
    let r = crate::knowledge::upload(&app, &s, kb, "a.txt", vec![b'a'; 60], "text/plain").await;
    assert_eq!(r.status(), 201);
    let r = crate::knowledge::upload(&app, &s, kb, "b.txt", vec![b'b'; 60], "text/plain").await;
    let body = limit_error(r, "knowledge_storage_bytes").await;
    assert_eq!(body["error"]["details"]["used"], 60);
    assert_eq!(app.count("SELECT count(*) FROM documents"), 1);
    assert_eq!(app.count("SELECT count(*) FROM files WHERE name = 'b.txt'"), 0);
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE kind = 'knowledge.ingest'"), 1);
    assert_eq!(
        app.count(&format!(
            "SELECT count FROM usage_tracking WHERE organization_id = {org} AND metric_type = 'knowledge_storage_bytes'"
        )),
        60
    );

    // LLM tokens: the model layer's check.
    set_limit(&app, org, "max_llm_tokens_per_month", 100);
    app.sql(|c| {
        usage::record_llm(c, OrgId(org), None, 90, 1200)
            .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))
    });
    let check = |n: i64| app.sql(|c| Ok(limits::check(c, OrgId(org), Limit::LlmTokensPerMonth, n)));
    assert!(check(10).is_ok());
    let err = check(11).expect_err("over the allowance");
    assert_eq!(err.details().cloned(), Some(json!({ "limit": "llm_tokens_per_month", "used": 90, "allowed": 100 })));

    // Voice minutes: none allowed.
    set_limit(&app, org, "max_voice_minutes_per_month", 0);
    let err = app.sql(|c| Ok(limits::check(c, OrgId(org), Limit::VoiceMinutesPerMonth, 1))).expect_err("no minutes");
    assert_eq!(err.details().and_then(|d| d.get("limit")).cloned(), Some(json!("voice_minutes_per_month")));
}

#[tokio::test]
async fn thirty_two_concurrent_writers_count_messages_exactly() {
    let app = spawn_app_with(billing_on()).await;
    let s = app.register("concurrent@example.com").await;
    set_limit(&app, s.org_id, "max_messages_per_month", 1_000_000);
    let bot = crate::helpers::published_bot(&app, &s, "Busy", crate::channels::colour_flow()).await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (address, s) = (app.address.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let post = |path: String, body: Value| {
                client
                    .post(format!("{address}{path}"))
                    .header("Cookie", s.cookie.clone())
                    .header("X-CSRF-Token", s.csrf.clone())
                    .json(&body)
                    .send()
            };
            let r = post(format!("/api/v1/bots/{bot}/conversations"), json!({ "text": format!("hi {i}") }))
                .await
                .expect("send");
            assert_eq!(r.status(), 200);
            let conv: Value = r.json().await.expect("json");
            let conv = conv["conversation_id"].as_i64().expect("conversation id");
            for j in 0..3 {
                let r = post(format!("/api/v1/conversations/{conv}/messages"), json!({ "text": format!("m{j}") }))
                    .await
                    .expect("send");
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let counted = app.count(&format!(
        "SELECT sum(count) FROM usage_tracking WHERE organization_id = {} AND metric_type = 'message_received'",
        s.org_id
    ));
    assert_eq!(counted, 32 * 4);
    // And the meter's own counter under 32 concurrent UPSERTs on one row.
    let org = OrgId(s.org_id);
    let mut writers = Vec::new();
    for _ in 0..32 {
        let db = app.state.db.clone();
        writers.push(tokio::spawn(async move {
            for _ in 0..10 {
                db.write(move |tx| Ok(usage::record_api_call(tx, org)?)).await.expect("write");
            }
        }));
    }
    for w in writers {
        w.await.expect("writer");
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count FROM usage_tracking WHERE organization_id = {} AND metric_type = 'api_call'",
            s.org_id
        )),
        320
    );
}

#[tokio::test]
async fn alerts_at_80_and_100_percent_are_emailed_once_and_queue_a_webhook() {
    let sink = SmtpSink::start().await;
    let config = sink.config();
    let app = spawn_app_with(|c| {
        c.smtp = config;
        c.billing.enabled = true;
    })
    .await;
    let s = app.register("alerts@example.com").await;
    let org = s.org_id;
    let receiver =
        FakeServer::start(Arc::new(|_r: &Received| Reply::Full(200, "text/plain".into(), b"ok".to_vec()))).await;
    let (status, hook) = app
        .call(
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{org}/webhooks"),
            Some(json!({ "url": format!("{}/hook", receiver.base), "events": ["usage.threshold"] })),
        )
        .await;
    assert_eq!(status, 201, "{hook}");
    set_limit(&app, org, "max_llm_tokens_per_month", 100);
    let record = |n: i64| {
        app.sql(|c| {
            usage::record_llm(c, OrgId(org), None, n, 0)
                .map_err(|e| rusqlite::Error::InvalidParameterName(e.to_string()))
        });
    };
    record(50);
    record(35); // 85 %
    record(5); // still 90 %: no second 80 % alert
    record(20); // 110 %
    record(1);
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE kind = 'usage_alert'"), 2);
    app.run_jobs().await;
    let mails = crate::smtp::wait_for(&sink, "alerts@example.com", 2).await;
    let subjects: Vec<String> = mails.iter().filter_map(|m| m.header("Subject")).collect();
    assert!(subjects.iter().any(|t| t.contains("80% of its LLM tokens")), "{subjects:?}");
    assert!(subjects.iter().any(|t| t.contains("all its LLM tokens")), "{subjects:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_logs WHERE event_type = 'usage.threshold'"),
        2,
        "one delivery per alert"
    );
    // Once per month: more usage queues nothing.
    record(30);
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE kind = 'usage_alert'"), 2);
}

#[tokio::test]
async fn billing_off_means_no_plan_limits_and_no_billing_routes() {
    let app = spawn_app().await;
    let s = app.register("selfhost@example.com").await;
    let bots = format!("/api/v1/orgs/{}/bots", s.org_id);
    for name in ["One", "Two", "Three"] {
        call_ok(&app, &s, Method::POST, &bots, Some(json!({ "name": name }))).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM bots"), 3, "the free plan's one bot is not enforced");
    set_limit(&app, s.org_id, "max_messages_per_month", 0);
    let bot = crate::helpers::published_bot(&app, &s, "Open", crate::channels::colour_flow()).await;
    let r =
        send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({ "text": "hi" })))
            .await;
    assert_eq!(r.status(), 200);
    assert_error(app.get("/api/v1/plans").await, 404, "billing_disabled").await;
    // The usage page works either way, without limits.
    let usage: Value = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/usage", s.org_id), None).await;
    assert_eq!(usage["limits_enforced"], false);

    // The operator may opt in to the plans' limits with billing off.
    let app = app.restart(|c| c.billing.enforce_limits = true).await;
    let r = send_as(&app, &s, Method::POST, &bots, Some(json!({ "name": "Five" }))).await;
    limit_error(r, "bots").await;
    assert_error(app.get("/api/v1/plans").await, 404, "billing_disabled").await;
}

#[tokio::test]
async fn usage_is_reported_per_month_with_limits_and_exported_as_csv() {
    let app = spawn_app_with(billing_on()).await;
    let s = app.register("usage@example.com").await;
    let org = s.org_id;
    let month = usage::current_month();
    app.sql(|c| {
        for (metric, day, n) in [
            ("message_received", "2026-01-03", 10),
            ("message_received", "2026-01-20", 5),
            ("knowledge_storage_bytes", "2026-01-04", 300),
            ("knowledge_storage_bytes", "2026-01-05", 200),
            ("llm_tokens", "2026-02-01", 7),
        ] {
            usage::add_on(c, OrgId(org), None, metric, day, n)?;
        }
        usage::add_on(c, OrgId(org), None, "message_received", &format!("{month}-01"), 800)
    });
    let path = format!("/api/v1/orgs/{org}/usage?from=2026-01&to=2026-03");
    let report = call_ok(&app, &s, Method::GET, &path, None).await;
    assert_eq!(report["plan"], "free");
    let months = report["months"].as_array().expect("months");
    assert_eq!(
        months.iter().map(|m| m["month"].as_str().unwrap_or("")).collect::<Vec<_>>(),
        ["2026-01", "2026-02", "2026-03"]
    );
    let figure = |m: usize, metric: &str| {
        months[m]["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .find(|f| f["metric"] == metric)
            .cloned()
            .expect("metric")
    };
    assert_eq!(figure(0, "message_received")["used"], 15);
    assert_eq!(figure(0, "message_received")["limit"], 1000);
    assert_eq!(figure(0, "message_received")["percent"], 1.5);
    assert_eq!(figure(0, "knowledge_storage_bytes")["used"], 300, "a gauge: the month's highest day, not a sum");
    assert_eq!(figure(1, "llm_tokens")["used"], 7);
    assert_eq!(figure(2, "message_received")["used"], 0);
    assert_eq!(figure(0, "api_call")["limit"], Value::Null);

    let r =
        send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{org}/usage/export?from=2026-01&to=2026-01"), None).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/csv"));
    let csv = r.text().await.expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "month,metric,used,limit,percent");
    assert!(lines.contains(&"2026-01,message_received,15,1000,1.5"), "{csv}");
    assert!(lines.contains(&"2026-01,knowledge_storage_bytes,300,52428800,0.0"), "{csv}");

    // Default range: the last 12 months to this one.
    let report = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{org}/usage"), None).await;
    let months = report["months"].as_array().expect("months");
    assert_eq!(months.len(), 12);
    assert_eq!(months[11]["month"], month);
    assert_eq!(months[11]["metrics"][0]["used"], 800);
    assert_eq!(months[11]["metrics"][0]["percent"], 80.0);

    // Bad input.
    for (q, field) in [
        ("from=2026-13", "from"),
        ("to=26-01", "to"),
        ("from=2026-05&to=2026-01", "from"),
        ("from=2000-01&to=2026-01", "from"),
    ] {
        let r = send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{org}/usage?{q}"), None).await;
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field, "{q}");
    }
}

#[tokio::test]
async fn the_llm_token_limit_refuses_a_chat_before_the_model_is_called_and_records_nothing() {
    use crate::fake_openai::{FakeOpenAi, Step};
    let app = spawn_app_with(billing_on()).await;
    let s = app.register("llm-limit@example.com").await;
    let fake = FakeOpenAi::start().await;
    let provider = crate::ai::provider(&app, &s, "Main", &fake, json!({})).await;
    let bot = crate::ai::bot(&app, &s).await;
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/ai/config"), Some(json!({ "provider_id": provider })))
        .await;
    set_limit(&app, s.org_id, "max_llm_tokens_per_month", 100);
    let chat = json!({ "messages": [{ "role": "user", "content": "Hello?" }] });
    let path = format!("/api/v1/bots/{bot}/ai/chat");

    fake.push(Step::text("Hello!").usage(60, 40));
    let (status, first) = app.call(&s, Method::POST, &path, Some(chat.clone())).await;
    assert_eq!(status, 200, "{first}");
    let used = format!(
        "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE organization_id = {} AND metric_type = 'llm_tokens'",
        s.org_id
    );
    assert_eq!(app.count(&used), 100, "the month's allowance is used up exactly");

    // The next call is refused before any request leaves: no model call, no row, no tokens.
    let r = send_as(&app, &s, Method::POST, &path, Some(chat)).await;
    let body = limit_error(r, "llm_tokens_per_month").await;
    assert_eq!(body["error"]["details"]["used"], 100, "{body}");
    assert_eq!(body["error"]["details"]["allowed"], 100, "{body}");
    assert_eq!(fake.calls().len(), 1, "the provider saw only the first call");
    assert_eq!(app.count("SELECT count(*) FROM llm_calls"), 1);
    assert_eq!(app.count(&used), 100);
}
