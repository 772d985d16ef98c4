//! A/B experiments through the real server: conversations over the API land
//! in their assigned variants and run that variant's flow version, goals
//! are counted exactly, the auto-stop promotes the winner, a winner is
//! declared by hand, and the refusals (shares, references, ranges, two
//! tests on one flow, a deleted variant, status changes).

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app};

async fn make_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    ok_json(r, 201).await["id"].as_i64().expect("bot id")
}

/// Saves `doc` as a new version of flow `name`; answers its version number.
async fn save(app: &TestApp, s: &Session, bot: i64, name: &str, doc: &Value) -> i64 {
    let path = format!("/api/v1/bots/{bot}/flows/{name}");
    let saved = ok_json(send_as(app, s, Method::PUT, &path, Some(json!({ "document": doc }))).await, 201).await;
    saved["version"]["version"].as_i64().expect("version number")
}

async fn publish(app: &TestApp, s: &Session, bot: i64, name: &str, version: i64) {
    let path = format!("/api/v1/bots/{bot}/flows/{name}/publish");
    ok_json(send_as(app, s, Method::POST, &path, Some(json!({ "version": version }))).await, 200).await;
}

/// A flow that greets with `text`, then hands off (`close` false) or closes.
fn flow(text: &str, close: bool) -> Value {
    let last = if close {
        json!({ "id": "done", "type": "end", "data": { "close_conversation": true } })
    } else {
        json!({ "id": "done", "type": "handoff", "data": { "message": { "text": "A colleague will help." } } })
    };
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": text } },
            last
        ],
        "edges": [ { "source": "start", "target": "hello" }, { "source": "hello", "target": "done" } ]
    })
}

/// Opens a conversation for `user`; answers its id and the texts it got.
async fn converse(app: &TestApp, s: &Session, bot: i64, user: &str) -> (i64, Vec<String>, Value) {
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/conversations"),
        Some(json!({ "external_user_id": user })),
    )
    .await;
    let turn = ok_json(r, 200).await;
    let texts = turn["replies"]
        .as_array()
        .expect("replies")
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").to_owned())
        .collect();
    (turn["conversation_id"].as_i64().expect("conversation id"), texts, turn)
}

fn experiment(name: &str, flow_name: &str, versions: [i64; 2], auto_stop: bool, goal: &Value) -> Value {
    let mut body = json!({
        "name": name,
        "kind": "flow",
        "flow_name": flow_name,
        "goal_metric": "resolution",
        "baseline_rate": 0.5,
        "minimum_effect": 0.2,
        "alpha": 0.05,
        "power": 0.8,
        "auto_stop": auto_stop,
        "variants": [
            { "name": "Hand-off", "share": 50, "flow_version": versions[0] },
            { "name": "Self-service", "share": 50, "flow_version": versions[1] }
        ]
    });
    if let (Some(b), Some(g)) = (body.as_object_mut(), goal.as_object()) {
        for (k, v) in g {
            b.insert(k.clone(), v.clone());
        }
    }
    body
}

async fn create(app: &TestApp, s: &Session, bot: i64, body: &Value) -> Value {
    let r = send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/experiments"), Some(body.clone())).await;
    ok_json(r, 201).await
}

async fn action(app: &TestApp, s: &Session, id: i64, verb: &str, body: Option<Value>) -> reqwest::Response {
    send_as(app, s, Method::POST, &format!("/api/v1/experiments/{id}/{verb}"), body).await
}

fn unit_variant(app: &TestApp, conversation: i64) -> Option<i64> {
    app.sql(|c| {
        use rusqlite::OptionalExtension;
        c.query_row("SELECT variant_id FROM ab_test_units WHERE unit_key = ?1", [format!("c:{conversation}")], |r| {
            r.get(0)
        })
        .optional()
    })
}

#[tokio::test]
async fn conversations_run_their_variant_goals_are_counted_exactly_and_auto_stop_promotes_the_winner() {
    let app = spawn_app().await;
    let s = app.register("ab-flow@example.com").await;
    let bot = make_bot(&app, &s, "Experimental").await;
    let v1 = save(&app, &s, bot, "main", &flow("Variant A here.", false)).await;
    publish(&app, &s, bot, "main", v1).await;
    let v2 = save(&app, &s, bot, "main", &flow("Variant B here.", true)).await;
    assert_eq!((v1, v2), (1, 2));

    let created = create(&app, &s, bot, &experiment("Close vs hand off", "main", [v1, v2], true, &json!({}))).await;
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["status"], "draft");
    // The minimum sample size is known before the start: 0.5 → 0.7 at 5 %/80 %.
    let per = created["sample_size"]["per_variant"].as_u64().expect("per variant");
    assert!((80..=100).contains(&per), "{created}");
    assert_eq!(created["sample_size"]["total"].as_u64(), Some(per * 2));
    let variants = created["variants"].as_array().expect("variants").clone();
    let (a, b) = (variants[0]["id"].as_i64().expect("a"), variants[1]["id"].as_i64().expect("b"));
    assert_eq!(variants[0]["is_control"], true);
    assert_eq!(variants[1]["flow_version"], 2);

    // Before the start everyone gets the published version.
    let (_, texts, _) = converse(&app, &s, bot, "before").await;
    assert_eq!(texts[0], "Variant A here.");

    let started = ok_json(action(&app, &s, id, "start", None).await, 200).await;
    assert_eq!(started["status"], "running");

    let mut per_variant: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut conversations = 0;
    for n in 0..400 {
        let (conv, texts, turn) = converse(&app, &s, bot, &format!("user-{n}")).await;
        let variant = unit_variant(&app, conv).expect("the conversation was assigned");
        conversations += 1;
        // The conversation ran the flow version of its variant.
        let expected = if variant == a { "Variant A here." } else { "Variant B here." };
        assert_eq!(texts[0], expected, "{turn}");
        let resolved = turn["status"] == "closed";
        assert_eq!(resolved, variant == b, "{turn}");
        let e = per_variant.entry(variant).or_default();
        e.0 += 1;
        e.1 += i64::from(resolved);
        let now = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/experiments/{id}"), None).await, 200).await;
        if now["status"] != "running" {
            break;
        }
    }
    let after = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/experiments/{id}"), None).await, 200).await;
    assert_eq!(after["status"], "completed", "{after}");
    assert_eq!(after["decided_by"], "auto");
    assert_eq!(after["winner_variant_id"], b);
    assert_eq!(after["promoted"], true);
    assert_eq!(after["total_units"], conversations);

    // Goals counted exactly, per variant.
    let results =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/experiments/{id}/results"), None).await, 200).await;
    assert_eq!(results["method"], "msprt");
    for v in results["variants"].as_array().expect("variants") {
        let vid = v["variant_id"].as_i64().expect("variant id");
        let (units, successes) = per_variant[&vid];
        assert_eq!(v["units"], units, "{results}");
        assert_eq!(v["trials"], units, "{results}");
        assert_eq!(v["successes"], successes, "{results}");
        assert!(
            v["interval"]["low"].as_f64() <= v["rate"].as_f64() && v["rate"].as_f64() <= v["interval"]["high"].as_f64()
        );
    }
    let cmp = &results["comparisons"][0];
    assert_eq!(cmp["variant_id"], b);
    assert_eq!(cmp["significant"], true, "{results}");
    assert!(cmp["p_value"].as_f64().expect("p") <= 0.05);
    assert!(cmp["interval"]["low"].as_f64().expect("low") > 0.0, "{results}");
    // Both variants got at least the minimum before the test could decide.
    assert!(per_variant.values().all(|(u, _)| *u >= 30), "{per_variant:?}");

    // Promoted: the winning version is published; new conversations run it
    // and are assigned to nothing.
    let main =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/main"), None).await, 200).await;
    assert_eq!(main["published"]["version"], 2, "{main}");
    let (conv, texts, _) = converse(&app, &s, bot, "after").await;
    assert_eq!(texts[0], "Variant B here.");
    assert_eq!(unit_variant(&app, conv), None);
    // A restart keeps everything (the database is the truth).
    let audit = app.count("SELECT count(*) FROM audit_logs WHERE action = 'experiment.decided'");
    assert_eq!(audit, 1);
}

#[tokio::test]
async fn a_winner_is_declared_by_hand_and_conversions_and_feedback_count_for_their_goals() {
    let app = spawn_app().await;
    let s = app.register("ab-manual@example.com").await;
    let bot = make_bot(&app, &s, "Manual").await;
    let v1 = save(&app, &s, bot, "main", &flow("One.", true)).await;
    publish(&app, &s, bot, "main", v1).await;
    let v2 = save(&app, &s, bot, "main", &flow("Two.", true)).await;
    let body = experiment(
        "Conversions",
        "main",
        [v1, v2],
        false,
        &json!({ "goal_metric": "conversion", "goal_event": "purchase" }),
    );
    let created = create(&app, &s, bot, &body).await;
    let id = created["id"].as_i64().expect("id");
    assert_eq!(created["goal_event"], "purchase");
    ok_json(action(&app, &s, id, "start", None).await, 200).await;

    let mut converted: HashMap<i64, i64> = HashMap::new();
    let mut units: HashMap<i64, i64> = HashMap::new();
    for n in 0..20 {
        let (conv, _, _) = converse(&app, &s, bot, &format!("buyer-{n}")).await;
        let variant = unit_variant(&app, conv).expect("assigned");
        *units.entry(variant).or_default() += 1;
        if n % 3 == 0 {
            let path = format!("/api/v1/conversations/{conv}/conversions");
            let r =
                ok_json(send_as(&app, &s, Method::POST, &path, Some(json!({ "event": "purchase" }))).await, 200).await;
            assert_eq!(r["experiment_ids"], json!([id]));
            // Reported twice, counted once.
            ok_json(send_as(&app, &s, Method::POST, &path, Some(json!({ "event": "purchase" }))).await, 200).await;
            // Another event counts for nothing.
            let other =
                ok_json(send_as(&app, &s, Method::POST, &path, Some(json!({ "event": "signup" }))).await, 200).await;
            assert_eq!(other["experiment_ids"], json!([]));
            *converted.entry(variant).or_default() += 1;
        }
    }
    let results =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/experiments/{id}/results"), None).await, 200).await;
    for v in results["variants"].as_array().expect("variants") {
        let vid = v["variant_id"].as_i64().expect("id");
        assert_eq!(v["units"], units.get(&vid).copied().unwrap_or(0), "{results}");
        assert_eq!(v["successes"], converted.get(&vid).copied().unwrap_or(0), "{results}");
    }
    assert_eq!(results["comparisons"][0]["significant"], false);
    assert_eq!(results["leader_variant_id"], Value::Null);
    assert_error(
        send_as(&app, &s, Method::POST, "/api/v1/conversations/999999/conversions", Some(json!({ "event": "x" })))
            .await,
        404,
        "conversation_not_found",
    )
    .await;

    // Stop, look, start again, declare by hand without promoting.
    let stopped = ok_json(action(&app, &s, id, "stop", None).await, 200).await;
    assert_eq!(stopped["status"], "stopped");
    let (conv, _, _) = converse(&app, &s, bot, "while-stopped").await;
    assert_eq!(unit_variant(&app, conv), None, "a stopped test assigns nobody");
    ok_json(action(&app, &s, id, "start", None).await, 200).await;
    let b = created["variants"][1]["id"].as_i64().expect("b");
    assert_error(action(&app, &s, id, "declare", Some(json!({}))).await, 422, "validation_failed").await;
    let declared =
        ok_json(action(&app, &s, id, "declare", Some(json!({ "variant_id": b, "promote": false }))).await, 200).await;
    assert_eq!(declared["status"], "completed");
    assert_eq!(declared["decided_by"], "manual");
    assert_eq!(declared["winner_variant_id"], b);
    assert_eq!(declared["promoted"], false);
    let main =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/main"), None).await, 200).await;
    assert_eq!(main["published"]["version"], 1, "not promoted: {main}");
    assert_error(action(&app, &s, id, "start", None).await, 409, "experiment_status_conflict").await;
    assert_error(action(&app, &s, id, "cancel", None).await, 409, "experiment_status_conflict").await;
    let list =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/experiments"), None).await, 200).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));

    // Feedback: a vote on a bot answer of a widget conversation counts for a feedback goal.
    let body = experiment("Thumbs", "main", [v1, v2], false, &json!({ "goal_metric": "feedback" }));
    let fb = create(&app, &s, bot, &body).await;
    let fid = fb["id"].as_i64().expect("id");
    ok_json(action(&app, &s, fid, "start", None).await, 200).await;
    let key = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await, 200).await
        ["widget_key"]
        .as_str()
        .expect("widget key")
        .to_owned();
    let session =
        ok_json(app.request(Method::POST, &format!("/api/v1/widget/{key}/sessions")).send().await.expect("send"), 201)
            .await;
    let sid = session["session_id"].as_str().expect("session id").to_owned();
    let message = session["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .find(|m| m["role"] == "bot")
        .and_then(|m| m["id"].as_i64())
        .expect("a bot message");
    let vote = app
        .request(Method::PUT, &format!("/api/v1/widget/{key}/sessions/{sid}/messages/{message}/feedback"))
        .json(&json!({ "rating": "up" }))
        .send()
        .await
        .expect("vote");
    assert!(vote.status().is_success(), "{}", vote.text().await.unwrap_or_default());
    let results =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/experiments/{fid}/results"), None).await, 200).await;
    let total: i64 =
        results["variants"].as_array().expect("variants").iter().map(|v| v["successes"].as_i64().unwrap_or(0)).sum();
    let trials: i64 =
        results["variants"].as_array().expect("variants").iter().map(|v| v["trials"].as_i64().unwrap_or(0)).sum();
    assert_eq!((trials, total), (1, 1), "{results}");
}

#[tokio::test]
async fn bad_designs_two_tests_on_one_flow_and_deleted_variants_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let s = app.register("ab-refusals@example.com").await;
    let bot = make_bot(&app, &s, "Strict").await;
    let v1 = save(&app, &s, bot, "main", &flow("One.", true)).await;
    publish(&app, &s, bot, "main", v1).await;
    let v2 = save(&app, &s, bot, "main", &flow("Two.", true)).await;
    let path = format!("/api/v1/bots/{bot}/experiments");
    let good = experiment("Good", "main", [v1, v2], false, &json!({}));

    let field = |body: Value| body["error"]["details"]["field"].as_str().unwrap_or("").to_owned();
    let mut bad = good.clone();
    bad["variants"][1]["share"] = json!(40);
    let e = assert_error(send_as(&app, &s, Method::POST, &path, Some(bad)).await, 422, "validation_failed").await;
    assert_eq!(field(e.clone()), "variants", "{e}");
    assert_eq!(e["error"]["details"]["sum"], 90);
    let mut bad = good.clone();
    bad["variants"][1]["flow_version"] = json!(77);
    let e = assert_error(send_as(&app, &s, Method::POST, &path, Some(bad)).await, 422, "validation_failed").await;
    assert_eq!(field(e), "variants[1].flow_version");
    let mut bad = good.clone();
    bad["variants"] = json!([{ "name": "Only", "share": 100, "flow_version": v1 }]);
    let e = assert_error(send_as(&app, &s, Method::POST, &path, Some(bad)).await, 422, "validation_failed").await;
    assert_eq!(field(e), "variants");
    for (key, value, expected) in [
        ("alpha", json!(0.5), "alpha"),
        ("alpha", json!(0), "alpha"),
        ("power", json!(0.3), "power"),
        ("power", json!(1.0), "power"),
        ("baseline_rate", json!(1.2), "baseline_rate"),
        ("minimum_effect", json!(0.6), "minimum_effect"),
    ] {
        let mut bad = good.clone();
        bad[key] = value;
        let e = assert_error(send_as(&app, &s, Method::POST, &path, Some(bad)).await, 422, "validation_failed").await;
        assert_eq!(field(e), expected);
    }
    let nlu = json!({
        "name": "Models", "kind": "nlu_model", "goal_metric": "resolution", "baseline_rate": 0.3, "minimum_effect": 0.1,
        "variants": [ { "name": "A", "share": 50, "model_version_id": 424_242 }, { "name": "B", "share": 50, "model_version_id": 424_243 } ]
    });
    let e = assert_error(send_as(&app, &s, Method::POST, &path, Some(nlu)).await, 422, "validation_failed").await;
    assert_eq!(field(e), "variants[0].model_version_id");
    let mut bad = good.clone();
    bad["goal_metric"] = json!("goal_node");
    let e = assert_error(send_as(&app, &s, Method::POST, &path, Some(bad)).await, 422, "validation_failed").await;
    assert_eq!(field(e), "goal_flow");

    // The minimum sample size, live (the setup form asks as it is filled in).
    let size = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{path}/sample-size"),
            Some(json!({ "baseline_rate": 0.1, "minimum_effect": 0.02, "shares": [50, 50] })),
        )
        .await,
        200,
    )
    .await;
    assert!((3_800..=3_900).contains(&size["per_variant"].as_u64().expect("n")), "{size}");
    let e = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("{path}/sample-size"),
            Some(json!({ "baseline_rate": 0.1, "minimum_effect": 0.02, "power": 2 })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field(e), "power");

    // Two tests on one flow: the second start is refused.
    let first = create(&app, &s, bot, &good).await["id"].as_i64().expect("id");
    let second = create(&app, &s, bot, &good).await["id"].as_i64().expect("id");
    ok_json(action(&app, &s, first, "start", None).await, 200).await;
    let e = assert_error(action(&app, &s, second, "start", None).await, 409, "experiment_running_on_subject").await;
    assert_eq!(e["error"]["details"]["experiment_id"], first);
    assert_error(
        send_as(&app, &s, Method::DELETE, &format!("/api/v1/experiments/{first}"), None).await,
        409,
        "experiment_status_conflict",
    )
    .await;
    ok_json(action(&app, &s, first, "cancel", None).await, 200).await;
    ok_json(action(&app, &s, second, "start", None).await, 200).await;
    ok_json(action(&app, &s, second, "cancel", None).await, 200).await;

    // A deleted variant: the flow `promo` is deleted after the test was set up.
    let p1 = save(&app, &s, bot, "promo", &flow("P1.", true)).await;
    let p2 = save(&app, &s, bot, "promo", &flow("P2.", true)).await;
    let promo = create(&app, &s, bot, &experiment("Promo", "promo", [p1, p2], false, &json!({}))).await;
    let pid = promo["id"].as_i64().expect("id");
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/bots/{bot}/flows/promo"), None).await;
    assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    let shown = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/experiments/{pid}"), None).await, 200).await;
    assert_eq!(shown["variants"][0]["missing"], true, "{shown}");
    let e = assert_error(action(&app, &s, pid, "start", None).await, 409, "experiment_variant_missing").await;
    assert_eq!(field(e), "variants[0].flow_version");
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/experiments/{pid}"), None).await;
    assert_eq!(r.status().as_u16(), 204);
    assert_error(
        send_as(&app, &s, Method::GET, &format!("/api/v1/experiments/{pid}"), None).await,
        404,
        "experiment_not_found",
    )
    .await;

    // Another organization sees none of it.
    let other = app.register("ab-other@example.com").await;
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/experiments/{first}"), None).await,
        404,
        "experiment_not_found",
    )
    .await;
}

const ORDERS: &[&str] = &[
    "where is my order",
    "track my package",
    "has my parcel shipped yet",
    "order status please",
    "when will my delivery arrive",
    "I want to know where my shipment is",
];
const HOURS: &[&str] = &[
    "when are you open",
    "what are your opening hours",
    "are you open on sunday",
    "until when are you open tonight",
    "opening times please",
    "what time do you open tomorrow",
];

async fn train(app: &TestApp, s: &Session, bot: i64) -> i64 {
    ok_json(send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await, 202).await;
    let token = tokio_util::sync::CancellationToken::new();
    while botbuilder::jobs::run_once(&app.state, "test", &token).await.expect("run job") {}
    app.sql(|c| {
        c.query_row(
            "SELECT id FROM model_versions WHERE bot_id = ?1 AND kind = 'nlu_intent' ORDER BY version_number DESC LIMIT 1",
            [bot],
            |r| r.get(0),
        )
    })
}

#[tokio::test]
async fn nlu_variants_parse_with_their_model_version() {
    let app = crate::helpers::spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("ab-nlu@example.com").await;
    let bot = make_bot(&app, &s, "Two models").await;
    let doc = json!({
        "nodes": [ { "id": "start", "type": "start" }, { "id": "hello", "type": "message", "data": { "text": "Hello." } } ],
        "edges": [ { "source": "start", "target": "hello" } ]
    });
    let v = save(&app, &s, bot, "main", &doc).await;
    publish(&app, &s, bot, "main", v).await;
    for (name, texts) in [("track_order", ORDERS), ("opening_hours", HOURS)] {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/nlu/intents"),
            Some(json!({ "name": name, "examples": examples })),
        )
        .await;
        ok_json(r, 201).await;
    }
    let first = train(&app, &s, bot).await;
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/nlu/intents"),
        Some(json!({ "name": "greet", "examples": [{ "text": "hello there" }, { "text": "hi" }, { "text": "good morning" }] })),
    )
    .await;
    ok_json(r, 201).await;
    let second = train(&app, &s, bot).await;
    assert_ne!(first, second);

    let body = json!({
        "name": "Models", "kind": "nlu_model", "goal_metric": "resolution", "baseline_rate": 0.3, "minimum_effect": 0.1,
        "variants": [ { "name": "Old", "share": 50, "model_version_id": first }, { "name": "New", "share": 50, "model_version_id": second } ]
    });
    let created = create(&app, &s, bot, &body).await;
    let id = created["id"].as_i64().expect("id");
    let variants: HashMap<i64, i64> = created["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| (v["id"].as_i64().expect("id"), v["model_version_id"].as_i64().expect("model")))
        .collect();
    ok_json(action(&app, &s, id, "start", None).await, 200).await;
    // Two NLU tests at once are refused too.
    let again = create(&app, &s, bot, &body).await["id"].as_i64().expect("id");
    assert_error(action(&app, &s, again, "start", None).await, 409, "experiment_running_on_subject").await;

    let mut seen = std::collections::HashSet::new();
    for n in 0..12 {
        let (conv, _, _) = converse(&app, &s, bot, &format!("asker-{n}")).await;
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({ "text": "where is my order" })),
        )
        .await;
        ok_json(r, 200).await;
        let variant = unit_variant(&app, conv).expect("assigned");
        let used: i64 = app
            .wait_for_sql(
                "the parse was not logged",
                |c| {
                    c.query_row(
                        "SELECT coalesce((SELECT model_version_id FROM nlu_logs WHERE user_session_id = ?1), 0)",
                        [conv.to_string()],
                        |r| r.get::<_, i64>(0),
                    )
                },
                |m| *m != 0,
            )
            .await;
        assert_eq!(used, variants[&variant], "conversation {conv} parsed with its variant's model");
        seen.insert(used);
    }
    assert_eq!(seen.len(), 2, "both models served");
}

#[tokio::test]
async fn agent_variants_call_the_model_with_their_configuration_and_the_winner_is_written_into_the_agent() {
    use crate::fake_openai::{FakeOpenAi, Step};
    let app = crate::helpers::spawn_app_with(|c| c.llm.backoff_base_ms = 10).await;
    let s = app.register("ab-agent@example.com").await;
    let fake = FakeOpenAi::start().await;
    let (bot, agent) = crate::agents::agent(&app, &s, &fake, json!({})).await;
    crate::agents::publish(
        &app,
        &s,
        bot,
        json!({
            "nodes": [
                { "id": "start", "type": "start" },
                { "id": "ask", "type": "question", "data": { "prompt": { "text": "How can I help?" }, "variable": "q" } },
                { "id": "ai", "type": "agent", "data": { "agent_id": agent, "input": "{{q}}", "variable": "answer" } },
                { "id": "sorry", "type": "message", "data": { "text": "Unavailable." } }
            ],
            "edges": [
                { "source": "start", "target": "ask" }, { "source": "ask", "target": "ai" },
                { "source": "ai", "port": "done", "target": "ask" }, { "source": "ai", "port": "handoff", "target": "ask" },
                { "source": "ai", "port": "error", "target": "sorry" }, { "source": "sorry", "target": "ask" }
            ]
        }),
    )
    .await;
    let path = format!("/api/v1/bots/{bot}/experiments");
    let mut body = json!({
        "name": "Prompts", "kind": "agent", "agent_id": agent, "goal_metric": "csat", "baseline_rate": 0.6, "minimum_effect": 0.1,
        "variants": [
            { "name": "As is", "share": 50, "agent": {} },
            { "name": "Brief", "share": 50, "agent": { "model": "model-b", "instructions": "Be very brief.", "temperature": 0.1 } }
        ]
    });
    body["variants"][1]["agent"]["tool_ids"] = json!([999]);
    let e =
        assert_error(send_as(&app, &s, Method::POST, &path, Some(body.clone())).await, 422, "validation_failed").await;
    assert_eq!(e["error"]["details"]["field"], "variants[1].agent.tool_ids");
    body["variants"][1]["agent"].as_object_mut().expect("object").remove("tool_ids");
    body["agent_id"] = json!(424_242);
    let e =
        assert_error(send_as(&app, &s, Method::POST, &path, Some(body.clone())).await, 422, "validation_failed").await;
    assert_eq!(e["error"]["details"]["field"], "agent_id");
    body["agent_id"] = json!(agent);
    let created = create(&app, &s, bot, &body).await;
    let id = created["id"].as_i64().expect("id");
    let brief = created["variants"][1]["id"].as_i64().expect("brief");
    ok_json(action(&app, &s, id, "start", None).await, 200).await;

    let mut served = std::collections::HashSet::new();
    for n in 0..10 {
        let (conv, texts, _) = converse(&app, &s, bot, &format!("asker-{n}")).await;
        assert_eq!(texts, ["How can I help?"]);
        fake.push(Step::text("Done."));
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({ "text": "Where is my order?" })),
        )
        .await;
        let turn = ok_json(r, 200).await;
        assert_eq!(turn["replies"][0]["text"], "Done.", "{turn}");
        let sent = fake.bodies().last().cloned().expect("a model call");
        let system = sent["messages"][0]["content"].as_str().unwrap_or_default().to_owned();
        if unit_variant(&app, conv) == Some(brief) {
            assert_eq!(sent["model"], "model-b", "{sent}");
            assert!(system.contains("Be very brief."), "{system}");
            served.insert("brief");
        } else {
            assert_ne!(sent["model"], "model-b", "{sent}");
            assert!(system.contains("You help with orders."), "{system}");
            served.insert("as is");
        }
    }
    assert_eq!(served.len(), 2, "both configurations served");

    // The winner is written into the agent.
    ok_json(action(&app, &s, id, "declare", Some(json!({ "variant_id": brief }))).await, 200).await;
    let a = ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/agents/{agent}"), None).await, 200).await;
    assert_eq!(a["model"], "model-b", "{a}");
    assert_eq!(a["instructions"], "Be very brief.");
}
