//! Analytics (issue 20) through the real server: known traffic from the
//! widget and the API (a hand-off with a human reply and a CSAT score,
//! fallbacks, answer feedback, a late vote after the rollup ran), every
//! dashboard number checked exactly, idempotent re-runs, catch-up after a
//! restart, each bad input's 422, and feedback from the widget and the
//! emulator with its CSV export.

#![allow(clippy::too_many_lines, reason = "end-to-end scenarios")]

use chrono::{Datelike, Timelike};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app};

/// Greets, then answers every message it does not know with its
/// out-of-scope route ("Sorry…", a fallback for analytics). A canned
/// response answers "hours".
fn flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hi! Ask me about our opening hours." } },
            { "id": "route", "type": "intent_router", "data": { "routes": [ { "id": "hours", "intent": "hours" } ] } },
            { "id": "sorry", "type": "message", "data": { "text": "Sorry, I did not get that." } },
            { "id": "known", "type": "message", "data": { "text": "We open 9 to 5." } }
        ],
        "edges": [
            { "source": "start", "target": "hello" }, { "source": "hello", "target": "route" },
            { "source": "route", "port": "out_of_scope", "target": "sorry" }, { "source": "sorry", "target": "route" },
            { "source": "route", "port": "hours", "target": "known" }, { "source": "known", "target": "route" }
        ]
    })
}

struct Shop {
    bot: i64,
    key: String,
}

async fn shop(app: &TestApp, s: &Session, name: &str) -> Shop {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    let bot = ok_json(r, 201).await["id"].as_i64().expect("bot id");
    let settings =
        json!({ "settings": { "csat_enabled": true, "csat_question": "Rate us 1-5?", "csat_thanks": "Thanks!" } });
    ok_json(send_as(app, s, Method::PATCH, &format!("/api/v1/bots/{bot}"), Some(settings)).await, 200).await;
    let canned = json!({ "message_type": "response", "content": "We open 9 to 5, Monday to Friday.", "trigger_keywords": ["hours"] });
    ok_json(send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/canned-messages"), Some(canned)).await, 201)
        .await;
    let path = format!("/api/v1/bots/{bot}/flows/main");
    ok_json(send_as(app, s, Method::PUT, &path, Some(json!({ "document": flow() }))).await, 201).await;
    ok_json(send_as(app, s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await, 200).await;
    let w = ok_json(send_as(app, s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await, 200).await;
    Shop { bot, key: w["widget_key"].as_str().expect("key").to_owned() }
}

/// Opens a widget session; answers its id.
async fn visit(app: &TestApp, shop: &Shop) -> String {
    let r = app.request(Method::POST, &format!("/api/v1/widget/{}/sessions", shop.key)).json(&json!({})).send().await;
    ok_json(r.expect("send"), 201).await["session_id"].as_str().expect("session").to_owned()
}

/// The visitor says `text`; answers the turn.
async fn say(app: &TestApp, shop: &Shop, session: &str, text: &str) -> Value {
    // The widget takes at most 5 messages a second from a visitor.
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    let path = format!("/api/v1/widget/{}/sessions/{session}/messages", shop.key);
    ok_json(app.request(Method::POST, &path).json(&json!({ "text": text })).send().await.expect("send"), 200).await
}

fn first_reply_id(turn: &Value) -> i64 {
    turn["replies"][0]["id"].as_i64().unwrap_or_else(|| panic!("a reply: {turn}"))
}

async fn vote(app: &TestApp, shop: &Shop, session: &str, message: i64, body: Value) -> reqwest::Response {
    let path = format!("/api/v1/widget/{}/sessions/{session}/messages/{message}/feedback", shop.key);
    app.request(Method::PUT, &path).json(&body).send().await.expect("send")
}

async fn roll_up(app: &TestApp) {
    botbuilder::analytics::rollup::run(&app.state).await.expect("rollup");
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// A range around today, wide enough for any timezone.
fn around_today() -> String {
    let d = today();
    format!("from={}&to={}", d - chrono::Duration::days(1), d + chrono::Duration::days(1))
}

async fn overview(app: &TestApp, s: &Session, path: &str) -> Value {
    ok_json(send_as(app, s, Method::GET, path, None).await, 200).await
}

/// Messages in and out of the non-emulator conversations, from the
/// transcript (what the rollups must agree with).
fn transcript_counts(app: &TestApp) -> (i64, i64) {
    let count = |roles: &str| {
        app.count(&format!(
            "SELECT count(*) FROM widget_messages m JOIN conversations c ON c.id = m.conversation_id
              WHERE c.channel <> 'emulator' AND m.role IN ({roles})"
        ))
    };
    (count("'user'"), count("'bot','agent'"))
}

/// The traffic of the tests: three conversations (two widget visitors and
/// one API user), one hand-off answered by a person after which the
/// visitor rates 5, four fallbacks (two with the same words), two votes.
struct Traffic {
    shop: Shop,
    alice: String,
    greeting: i64,
}

async fn traffic(app: &TestApp, s: &Session) -> Traffic {
    let shop = shop(app, s, "Shop").await;
    // Alice: asks the hours, says something unknown, wants a human.
    let alice = visit(app, &shop).await;
    let history = ok_json(
        app.request(Method::GET, &format!("/api/v1/widget/{}/sessions/{alice}/messages", shop.key))
            .send()
            .await
            .expect("send"),
        200,
    )
    .await;
    let greeting = history["messages"][0]["id"].as_i64().expect("greeting");
    let hours = say(app, &shop, &alice, "what are your hours").await;
    assert_eq!(hours["replies"][0]["text"], "We open 9 to 5, Monday to Friday.", "{hours}");
    let unknown = say(app, &shop, &alice, "Where is my parcel?").await;
    assert_eq!(unknown["replies"][0]["text"], "Sorry, I did not get that.", "{unknown}");
    let human = say(app, &shop, &alice, "can I talk to a human please").await;
    assert_eq!(human["status"], "handoff", "{human}");
    // Alice likes the hours answer (changing her mind once).
    ok_json(vote(app, &shop, &alice, first_reply_id(&hours), json!({ "rating": "down" })).await, 200).await;
    let v = ok_json(
        vote(app, &shop, &alice, first_reply_id(&hours), json!({ "rating": "up", "comment": "  clear  " })).await,
        200,
    )
    .await;
    assert_eq!(
        (v["rating"].as_str(), v["comment"].as_str(), v["source"].as_str()),
        (Some("up"), Some("clear"), Some("widget"))
    );

    let conv: i64 =
        app.sql(|c| c.query_row("SELECT id FROM conversations WHERE external_user_id = ?1", [&alice], |r| r.get(0)));
    for text in ["Hello, Sam here.", "Your parcel left yesterday."] {
        let path = format!("/api/v1/conversations/{conv}/reply");
        ok_json(send_as(app, s, Method::POST, &path, Some(json!({ "text": text }))).await, 200).await;
    }
    let path = format!("/api/v1/conversations/{conv}/close");
    ok_json(send_as(app, s, Method::POST, &path, Some(json!({ "resolution": "shipped" }))).await, 200).await;
    let rated = say(app, &shop, &alice, "5").await;
    assert_eq!(rated["status"], "closed", "{rated}");

    // Bob: twice the same unknown question, then the hours; dislikes a "Sorry".
    let bob = visit(app, &shop).await;
    let sorry = say(app, &shop, &bob, "zorp  quux").await;
    say(app, &shop, &bob, "Zorp quux").await;
    say(app, &shop, &bob, "hours?").await;
    ok_json(
        vote(app, &shop, &bob, first_reply_id(&sorry), json!({ "rating": "down", "comment": "useless" })).await,
        200,
    )
    .await;

    // Carol, through the API: one unknown message.
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{}/conversations", shop.bot),
        Some(json!({ "external_user_id": "carol", "text": "blorp" })),
    )
    .await;
    ok_json(r, 200).await;
    Traffic { shop, alice, greeting }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

#[tokio::test]
async fn the_dashboard_counts_known_traffic_exactly_and_late_votes_reopen_their_hour() {
    let app = spawn_app().await;
    let s = app.register("analytics-numbers@example.com").await;
    let t = traffic(&app, &s).await;
    let bot = t.shop.bot;

    // Before the job runs the dashboard has nothing yet, and says so.
    let path = format!("/api/v1/bots/{bot}/analytics/overview?{}", around_today());
    let before = overview(&app, &s, &path).await;
    assert_eq!(before["totals"]["conversations"], 0, "{before}");
    assert!(before["freshness"]["pending_hours"].as_i64().expect("pending") >= 1, "{before}");

    roll_up(&app).await;
    let o = overview(&app, &s, &path).await;
    let (messages_in, messages_out) = transcript_counts(&app);
    let k = &o["kpis"];
    let totals = &o["totals"];
    assert_eq!(o["freshness"]["pending_hours"], 0, "{o}");
    assert_eq!(totals["conversations"], 3, "{o}");
    assert_eq!(k["unique_users"], 3);
    assert_eq!(totals["messages_in"], messages_in);
    assert_eq!(totals["messages_out"], messages_out);
    // Alice: 3 messages + the rating; Bob 3; Carol 1.
    assert_eq!(messages_in, 8);
    assert_eq!(totals["handoffs"], 1);
    assert_eq!(totals["contained"], 2);
    assert_eq!(totals["fallbacks"], 4);
    assert_eq!(totals["first_replies"], 1);
    assert_eq!(totals["csat"], json!([0, 0, 0, 0, 1]));
    assert_eq!((totals["feedback_up"].as_i64(), totals["feedback_down"].as_i64()), (Some(1), Some(1)));
    assert!((num(&k["containment_rate"]) - 2.0 / 3.0).abs() < 1e-9);
    assert!((num(&k["handoff_rate"]) - 1.0 / 3.0).abs() < 1e-9);
    assert!((num(&k["fallback_rate"]) - 4.0 / 8.0).abs() < 1e-9);
    assert!((num(&k["avg_turns"]) - 8.0 / 3.0).abs() < 1e-9);
    assert!((num(&k["csat_avg"]) - 5.0).abs() < 1e-9);
    assert_eq!(k["csat_count"], 1);
    assert!((num(&k["feedback_positive_rate"]) - 0.5).abs() < 1e-9);
    let first_reply = num(&k["avg_first_reply_secs"]);
    assert!((0.0..60.0).contains(&first_reply), "{first_reply}");
    // The human reply delay is the one stored event's value.
    let stored: f64 =
        app.sql(|c| c.query_row("SELECT value FROM analytics_events WHERE kind = 'first_reply'", [], |r| r.get(0)));
    assert!((first_reply - stored).abs() < 1e-9);

    // Channels: widget (Alice, Bob) and api (Carol).
    let channels = o["by_channel"].as_array().expect("channels");
    let by: Vec<(&str, i64, i64)> = channels
        .iter()
        .map(|c| {
            (
                c["channel"].as_str().expect("ch"),
                c["conversations"].as_i64().expect("n"),
                c["fallbacks"].as_i64().expect("f"),
            )
        })
        .collect();
    assert_eq!(by, vec![("api", 1, 1), ("widget", 2, 3)]);
    // The series and the heatmap hold the same messages as the totals.
    let series = o["series"].as_array().expect("series");
    assert_eq!(series.len(), 3, "one bucket per day of the range");
    let series_in: i64 = series.iter().map(|b| b["messages_in"].as_i64().expect("n")).sum();
    assert_eq!(series_in, messages_in);
    let heat: i64 = o["heatmap"]
        .as_array()
        .expect("rows")
        .iter()
        .flat_map(|r| r.as_array().expect("row"))
        .map(|v| v.as_i64().expect("n"))
        .sum();
    assert_eq!(heat, messages_in);
    assert_eq!(o["heatmap"].as_array().expect("rows").len(), 7);
    // Unanswered questions: Bob's two wordings are one group.
    let unanswered = o["unanswered"].as_array().expect("unanswered");
    assert_eq!(unanswered[0]["text"], "zorp quux", "{o}");
    assert_eq!(unanswered[0]["count"], 2);
    assert_eq!(unanswered.len(), 3);
    assert_eq!(o["clustering"], "text", "the models are off in this test");

    // The channel filter.
    let widget = overview(&app, &s, &format!("{path}&channel=api")).await;
    assert_eq!(
        (widget["totals"]["conversations"].as_i64(), widget["kpis"]["unique_users"].as_i64()),
        (Some(1), Some(1))
    );

    // The organization dashboard sees the same bot; a second, empty bot changes nothing.
    let org_path = format!("/api/v1/orgs/{}/analytics/overview?{}", s.org_id, around_today());
    let org = overview(&app, &s, &org_path).await;
    assert_eq!(org["totals"], o["totals"]);
    let only = overview(&app, &s, &format!("{org_path}&bot_id={bot}")).await;
    assert_eq!(only["totals"], o["totals"]);

    // A late event: Alice rates the greeting after the rollup ran. Its hour
    // is dirty again (the dashboard says so), and the next run counts it.
    let late = vote(&app, &t.shop, &t.alice, t.greeting, json!({ "rating": "down" })).await;
    ok_json(late, 200).await;
    let stale = overview(&app, &s, &path).await;
    assert_eq!(stale["totals"]["feedback_down"], 1);
    assert!(stale["freshness"]["pending_hours"].as_i64().expect("pending") >= 1);
    roll_up(&app).await;
    let fresh = overview(&app, &s, &path).await;
    assert_eq!(fresh["totals"]["feedback_down"], 2, "{fresh}");
    assert_eq!(fresh["totals"]["conversations"], 3);

    // Idempotent: recomputing every hour again changes nothing.
    app.sql(|c| {
        c.execute(
            "INSERT OR IGNORE INTO analytics_dirty (organization_id, bot_id, hour) SELECT organization_id, bot_id, hour FROM analytics_hourly",
            [],
        )
    });
    roll_up(&app).await;
    let again = overview(&app, &s, &path).await;
    assert_eq!(again["totals"], fresh["totals"]);
    assert_eq!(again["kpis"]["unique_users"], 3);
    assert_eq!(again["unanswered"], fresh["unanswered"]);

    // Drill-down: the four fallbacks, two per page.
    let page = ok_json(
        send_as(
            &app,
            &s,
            Method::GET,
            &format!("/api/v1/bots/{bot}/analytics/events?kind=fallback&limit=2&{}", around_today()),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().expect("items").len(), 2);
    let next = page["next_cursor"].as_str().expect("cursor");
    let page2 = ok_json(
        send_as(
            &app,
            &s,
            Method::GET,
            &format!("/api/v1/bots/{bot}/analytics/events?kind=fallback&limit=2&after={next}&{}", around_today()),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page2["items"].as_array().expect("items").len(), 2);
    assert!(page2.get("next_cursor").is_none(), "{page2}");
    assert_eq!(page2["items"][1]["text"], "Where is my parcel?");
}

#[tokio::test]
async fn days_follow_the_timezone_and_the_job_catches_up_after_a_restart() {
    let app = spawn_app().await;
    let s = app.register("analytics-tz@example.com").await;
    let t = traffic(&app, &s).await;
    let bot = t.shop.bot;
    // Nothing rolled up yet; the server stops and starts again.
    let app = app.restart(|c| c.jobs.workers = 0).await;
    assert!(app.count("SELECT count(*) FROM analytics_dirty") >= 1);
    // The scheduled job does the catch-up.
    botbuilder::jobs::enqueue_scheduled(&app.state).await.expect("schedule");
    app.run_jobs().await;
    let status: String =
        app.sql(|c| c.query_row("SELECT status FROM jobs WHERE kind = 'analytics_rollup'", [], |r| r.get(0)));
    assert_eq!(status, "succeeded");
    assert_eq!(app.count("SELECT count(*) FROM analytics_dirty"), 0);

    // One day in UTC+14 and in UTC-11 both hold the traffic of "now" only
    // if that local day is asked for: compute the local days and check.
    for tz in ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"] {
        let zone: chrono_tz::Tz = tz.parse().expect("tz");
        let local_today = chrono::Utc::now().with_timezone(&zone).date_naive();
        let path = format!(
            "/api/v1/bots/{bot}/analytics/overview?from={local_today}&to={local_today}&tz={tz}&granularity=hour"
        );
        let o = overview(&app, &s, &path).await;
        assert_eq!(o["tz"], tz);
        assert_eq!(o["series"].as_array().expect("series").len(), 24);
        // The traffic of the last minutes is in today's local buckets (unless
        // the local day turned over during the test, which the bucket check shows).
        let n = o["totals"]["conversations"].as_i64().expect("n");
        let yesterday = local_today - chrono::Duration::days(1);
        let path = format!("/api/v1/bots/{bot}/analytics/overview?from={yesterday}&to={local_today}&tz={tz}");
        let wide = overview(&app, &s, &path).await;
        assert_eq!(wide["totals"]["conversations"], 3, "{tz}: {wide}");
        assert!(n == 3 || n == 0, "{tz}: {o}");
        // The local hour of now holds messages in the heatmap's row of today's weekday.
        let now = chrono::Utc::now().with_timezone(&zone);
        let row = now.weekday().num_days_from_monday() as usize;
        let cells = &wide["heatmap"][row];
        let today_total: i64 = cells.as_array().expect("row").iter().map(|v| v.as_i64().expect("n")).sum();
        assert!(today_total > 0 || now.hour() == 0, "{tz}: {wide}");
    }
}

#[tokio::test]
async fn bad_filters_are_422_naming_the_field() {
    let app = spawn_app_with_range(30).await;
    let s = app.register("analytics-bad@example.com").await;
    let shop = shop(&app, &s, "Shop").await;
    let bot = shop.bot;
    let base = format!("/api/v1/bots/{bot}/analytics/overview");
    let cases = [
        ("?from=2026-03-02&to=2026-03-01", "date_range_invalid", "to"),
        ("?from=2026-01-01&to=2026-03-01", "date_range_too_long", "from"),
        ("?tz=Mars/Olympus_Mons", "timezone_unknown", "tz"),
        ("?from=yesterday", "validation_failed", "from"),
        ("?to=2026-02-30", "validation_failed", "to"),
        ("?channel=fax", "validation_failed", "channel"),
        ("?granularity=minute", "validation_failed", "granularity"),
    ];
    for (query, code, field) in cases {
        let body = assert_error(send_as(&app, &s, Method::GET, &format!("{base}{query}"), None).await, 422, code).await;
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
    // An unknown bot: 404 on the bot's own route, 422 naming `bot_id` as an organization filter.
    assert_error(
        send_as(&app, &s, Method::GET, "/api/v1/bots/999999/analytics/overview", None).await,
        404,
        "bot_not_found",
    )
    .await;
    let other = app.register("analytics-bad-other@example.com").await;
    let foreign = shop_id_of(&app, &other).await;
    for id in [999_999, foreign] {
        let path = format!("/api/v1/orgs/{}/analytics/overview?bot_id={id}", s.org_id);
        let body = assert_error(send_as(&app, &s, Method::GET, &path, None).await, 422, "invalid_reference").await;
        assert_eq!(body["error"]["details"]["field"], "bot_id");
    }
    // The drill-down checks its kind.
    let body = assert_error(
        send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/analytics/events?kind=nope"), None).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "kind");
    // Votes: a wrong rating, a long comment, a user's message, a missing message.
    let session = visit(&app, &shop).await;
    let turn = say(&app, &shop, &session, "hello?").await;
    let answer = first_reply_id(&turn);
    let mine = turn["message"]["id"].as_i64().expect("user message");
    for (message, body, status, code, field) in [
        (answer, json!({ "rating": "meh" }), 422, "validation_failed", "rating"),
        (answer, json!({ "rating": "up", "comment": "x".repeat(1001) }), 422, "validation_failed", "comment"),
        (mine, json!({ "rating": "up" }), 422, "validation_failed", "message_id"),
        (answer + 1000, json!({ "rating": "up" }), 404, "message_not_found", "message_id"),
    ] {
        let b = assert_error(vote(&app, &shop, &session, message, body).await, status, code).await;
        assert_eq!(b["error"]["details"]["field"], field, "{b}");
    }
    // Another session cannot rate this session's answers.
    let stranger = visit(&app, &shop).await;
    assert_error(vote(&app, &shop, &stranger, answer, json!({ "rating": "up" })).await, 404, "message_not_found").await;
}

async fn spawn_app_with_range(days: u32) -> TestApp {
    crate::helpers::spawn_app_with(|c| c.analytics.max_range_days = days).await
}

async fn shop_id_of(app: &TestApp, s: &Session) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Theirs" })))
            .await;
    ok_json(r, 201).await["id"].as_i64().expect("bot id")
}

#[tokio::test]
async fn feedback_from_the_widget_and_the_emulator_shows_in_the_transcript_and_exports_as_csv() {
    let app = spawn_app().await;
    let s = app.register("analytics-feedback@example.com").await;
    let shop = shop(&app, &s, "Shop").await;
    let bot = shop.bot;
    let session = visit(&app, &shop).await;
    let turn = say(&app, &shop, &session, "=HYPERLINK(\"x\") hours").await;
    let answer = first_reply_id(&turn);
    ok_json(
        vote(&app, &shop, &session, answer, json!({ "rating": "down", "comment": "=cmd|' /C calc'!A0" })).await,
        200,
    )
    .await;

    // The emulator rates its own conversation's answers.
    let emu = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/emulator"),
            Some(json!({ "source": "published" })),
        )
        .await,
        200,
    )
    .await;
    let emu_conv = emu["conversation_id"].as_i64().expect("conversation");
    let greeting = emu["replies"][0]["id"].as_i64().expect("greeting");
    let path = format!("/api/v1/conversations/{emu_conv}/messages/{greeting}/feedback");
    let emulator_vote =
        ok_json(send_as(&app, &s, Method::PUT, &path, Some(json!({ "rating": "up" }))).await, 200).await;
    assert_eq!(emulator_vote["source"], "emulator");
    // ...but not a visitor's conversation.
    let widget_conv: i64 =
        app.sql(|c| c.query_row("SELECT id FROM conversations WHERE channel = 'widget'", [], |r| r.get(0)));
    let path = format!("/api/v1/conversations/{widget_conv}/messages/{answer}/feedback");
    let refused = assert_error(
        send_as(&app, &s, Method::PUT, &path, Some(json!({ "rating": "up" }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(refused["error"]["details"]["field"], "conversation_id");

    // The transcript's votes.
    let votes = ok_json(
        send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{widget_conv}/feedback"), None).await,
        200,
    )
    .await;
    assert_eq!(votes.as_array().expect("votes").len(), 1);
    assert_eq!((votes[0]["message_id"].as_i64(), votes[0]["rating"].as_str()), (Some(answer), Some("down")));

    // The list (newest first) and the CSV export with formulas defused.
    let list = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/feedback"), None).await, 200).await;
    let sources: Vec<&str> =
        list["items"].as_array().expect("items").iter().map(|f| f["source"].as_str().expect("s")).collect();
    assert_eq!(sources, ["emulator", "widget"]);
    let down =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/feedback?rating=down"), None).await, 200)
            .await;
    assert_eq!(down["items"].as_array().expect("items").len(), 1);
    let r = send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/feedback/export"), None).await;
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"].to_str().expect("ct").starts_with("text/csv"));
    let csv = r.text().await.expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,created_at,updated_at,conversation_id,channel,message_id"), "{csv}");
    assert!(csv.contains(",down,'=cmd|' /C calc'!A0,widget"), "{csv}");
    assert!(csv.contains(",up,,emulator"), "{csv}");

    // Taking a vote back.
    let path = format!("/api/v1/widget/{}/sessions/{session}/messages/{answer}/feedback", shop.key);
    let r = app.request(Method::DELETE, &path).send().await.expect("send");
    assert_eq!(r.status().as_u16(), 204);
    assert_eq!(app.count("SELECT count(*) FROM message_feedback WHERE source = 'widget'"), 0);
    // The emulator's traffic and votes stay out of the dashboard.
    roll_up(&app).await;
    let dashboard = overview(&app, &s, &format!("/api/v1/bots/{bot}/analytics/overview?{}", around_today())).await;
    assert_eq!(
        (dashboard["totals"]["conversations"].as_i64(), dashboard["totals"]["feedback_up"].as_i64()),
        (Some(1), Some(0)),
        "{dashboard}"
    );
}

#[tokio::test]
async fn unanswered_questions_group_by_meaning_with_the_local_embeddings() {
    let app = crate::helpers::spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("analytics-clusters@example.com").await;
    let shop = shop(&app, &s, "Shop").await;
    let session = visit(&app, &shop).await;
    for text in [
        "Where is my parcel?",
        "where is my parcel now",
        "Where's my parcel?",
        "Can I pay with bitcoin?",
        "can I pay using bitcoin",
        "What is the meaning of life?",
    ] {
        say(&app, &shop, &session, text).await;
    }
    roll_up(&app).await;
    assert_eq!(app.count("SELECT count(*) FROM analytics_events WHERE kind = 'fallback' AND embedding IS NULL"), 0);
    let o = overview(&app, &s, &format!("/api/v1/bots/{}/analytics/overview?{}", shop.bot, around_today())).await;
    assert_eq!(o["clustering"], "embeddings");
    let groups: Vec<i64> =
        o["unanswered"].as_array().expect("groups").iter().map(|g| g["count"].as_i64().expect("n")).collect();
    assert_eq!(groups, [3, 2, 1], "{o}");
    let first = &o["unanswered"][0];
    assert!(
        first["text"].as_str().expect("text").contains("parcel")
            || first["text"].as_str().expect("text").contains("package")
    );
}

async fn items(app: &TestApp, s: &Session, path: &str) -> Vec<Value> {
    let page = ok_json(send_as(app, s, Method::GET, path, None).await, 200).await;
    page["items"].as_array().unwrap_or_else(|| panic!("items: {page}")).clone()
}

#[tokio::test]
async fn the_drill_down_lists_what_is_behind_each_number_with_its_transcript() {
    let app = spawn_app().await;
    let s = app.register("analytics-drill@example.com").await;
    let known = traffic(&app, &s).await;
    roll_up(&app).await;
    let bot = known.shop.bot;
    let org_events = format!("/api/v1/orgs/{}/analytics/events?{}&tz=UTC", s.org_id, around_today());
    let bot_events = format!("/api/v1/bots/{bot}/analytics/events?{}&tz=UTC", around_today());
    let alice: i64 = app
        .sql(|c| c.query_row("SELECT id FROM conversations WHERE external_user_id = ?1", [&known.alice], |r| r.get(0)));

    // Fallbacks: the four unanswered messages, each with its conversation.
    let fallbacks = items(&app, &s, &format!("{org_events}&kind=fallback")).await;
    assert_eq!(fallbacks.len(), 4, "{fallbacks:?}");
    assert!(fallbacks.iter().all(|e| e["conversation_id"].as_i64().is_some() && e["bot_id"] == bot));
    // An unanswered group: its wording, case and spacing ignored.
    let zorp = items(&app, &s, &format!("{org_events}&kind=fallback&text=ZORP%20quux&bot_id={bot}")).await;
    assert_eq!(zorp.len(), 2, "{zorp:?}");
    assert_eq!(zorp[0]["conversation_id"], zorp[1]["conversation_id"]);
    // Hand-offs and CSAT: Alice's conversation; low CSAT: none (she gave 5).
    let handoffs = items(&app, &s, &format!("{bot_events}&kind=handoff")).await;
    assert_eq!(handoffs.iter().map(|e| e["conversation_id"].as_i64()).collect::<Vec<_>>(), vec![Some(alice)]);
    assert_eq!(items(&app, &s, &format!("{bot_events}&kind=csat&csat_max=2")).await.len(), 0);
    let csat = items(&app, &s, &format!("{bot_events}&kind=csat&csat_max=5")).await;
    assert_eq!((csat.len(), csat[0]["value"].as_f64()), (1, Some(5.0)));
    // Conversations: one session each.
    assert_eq!(items(&app, &s, &format!("{org_events}&kind=session")).await.len(), 3);

    // Messages in: the transcript's end-user messages; a heatmap cell: exactly its count.
    let (messages_in, _) = transcript_counts(&app);
    let all = items(&app, &s, &format!("{org_events}&kind=message&limit=200")).await;
    assert_eq!(i64::try_from(all.len()).expect("count"), messages_in);
    let dashboard =
        overview(&app, &s, &format!("/api/v1/bots/{bot}/analytics/overview?{}&tz=UTC", around_today())).await;
    let heat: Vec<Vec<i64>> = serde_json::from_value(dashboard["heatmap"].clone()).expect("heatmap");
    let (weekday, hour, n) = (0..7)
        .flat_map(|w| (0..24).map(move |h| (w, h)))
        .map(|(w, h)| (w, h, heat[w][h]))
        .max_by_key(|c| c.2)
        .expect("a cell");
    assert!(n > 0);
    let cell = items(&app, &s, &format!("{bot_events}&kind=message&weekday={weekday}&hour={hour}&limit=200")).await;
    assert_eq!(i64::try_from(cell.len()).expect("count"), n, "cell {weekday}/{hour}");

    // Paginated, newest first.
    let page =
        ok_json(send_as(&app, &s, Method::GET, &format!("{org_events}&kind=message&limit=2"), None).await, 200).await;
    let cursor = page["next_cursor"].as_str().expect("a next page").to_owned();
    let next = items(&app, &s, &format!("{org_events}&kind=message&limit=2&after={cursor}")).await;
    assert!(next[0]["id"].as_i64() < page["items"][1]["id"].as_i64(), "{page} then {next:?}");

    // Bad input: a 422 naming the field, like the dashboards.
    let other = app.register("analytics-drill-other@example.com").await;
    let foreign = shop_id_of(&app, &other).await;
    let base = format!("/api/v1/orgs/{}/analytics/events", s.org_id);
    let cases = [
        ("?from=2026-03-02&to=2026-03-01".to_owned(), "date_range_invalid", "to"),
        ("?from=2020-01-01&to=2026-03-01".to_owned(), "date_range_too_long", "from"),
        ("?tz=Mars/Olympus_Mons".to_owned(), "timezone_unknown", "tz"),
        ("?bot_id=999999".to_owned(), "invalid_reference", "bot_id"),
        (format!("?bot_id={foreign}"), "invalid_reference", "bot_id"),
        ("?kind=csat&csat_max=9".to_owned(), "validation_failed", "csat_max"),
        ("?kind=fallback&csat_max=2".to_owned(), "validation_failed", "csat_max"),
        ("?kind=message&weekday=7&hour=1".to_owned(), "validation_failed", "weekday"),
        ("?kind=message&weekday=1".to_owned(), "validation_failed", "hour"),
        ("?kind=handoff&text=hello".to_owned(), "validation_failed", "text"),
    ];
    for (query, code, field) in cases {
        let body = assert_error(send_as(&app, &s, Method::GET, &format!("{base}{query}"), None).await, 422, code).await;
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
}
