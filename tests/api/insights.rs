//! Insights (issue 20): NLU insights, knowledge insights, flow funnels,
//! organization stats and timeline, instance health and rate-limit unblock —
//! known data in, exact numbers out, against the real server and data file.

#![allow(
    clippy::too_many_lines,
    clippy::many_single_char_names,
    clippy::similar_names,
    reason = "each test is one end-to-end scenario; short names for the bodies it reads"
)]

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin::{admin_call, console};
use crate::helpers::{
    Session, TestApp, assert_error, call_ok, ok_json, published_bot, send_as, spawn_app, spawn_app_with,
};

fn survey_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "name", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "age", "type": "question", "data": {
                "prompt": { "text": "How old are you, {{name}}?" }, "variable": "age",
                "validation": { "kind": "regex", "pattern": "[0-9]{1,3}" } } },
            { "id": "done", "type": "message", "data": { "text": "Thanks {{name}}, {{age}} noted." } }
        ],
        "edges": [
            { "source": "start", "target": "name" }, { "source": "name", "target": "age" },
            { "source": "age", "target": "done" }, { "source": "age", "port": "invalid", "target": "done" }
        ]
    })
}

async fn start(app: &TestApp, s: &Session, bot: i64, user: &str) -> i64 {
    let path = format!("/api/v1/bots/{bot}/conversations");
    let turn = call_ok(app, s, Method::POST, &path, Some(json!({ "external_user_id": user }))).await;
    turn["conversation_id"].as_i64().expect("conversation id")
}

async fn say(app: &TestApp, s: &Session, conversation: i64, text: &str) {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    call_ok(app, s, Method::POST, &path, Some(json!({ "text": text }))).await;
}

fn node<'a>(funnel: &'a Value, id: &str) -> &'a Value {
    funnel["nodes"].as_array().expect("nodes").iter().find(|n| n["id"] == id).expect("node")
}

#[tokio::test]
async fn the_funnel_counts_conversations_per_node_drop_off_and_moves_per_edge() {
    let app = spawn_app().await;
    let s = app.register("funnel@example.com").await;
    let bot = published_bot(&app, &s, "Survey", survey_flow()).await;
    // One finishes, one stops at the age question, one at the name question.
    let done = start(&app, &s, bot, "u1").await;
    say(&app, &s, done, "Ada").await;
    say(&app, &s, done, "36").await;
    let halfway = start(&app, &s, bot, "u2").await;
    say(&app, &s, halfway, "Bob").await;
    start(&app, &s, bot, "u3").await;

    let f = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/main/funnel"), None).await;
    assert_eq!(f["flow"], "main");
    assert_eq!(f["conversations"], 3, "{f}");
    let ids: Vec<&str> = f["nodes"].as_array().expect("nodes").iter().map(|n| n["id"].as_str().expect("id")).collect();
    assert_eq!(ids, ["start", "name", "age", "done"]);
    for (id, reached, dropped) in [("start", 3, 0), ("name", 3, 1), ("age", 2, 1), ("done", 1, 1)] {
        let n = node(&f, id);
        assert_eq!((n["reached"].as_i64(), n["dropped_off"].as_i64()), (Some(reached), Some(dropped)), "{id}: {n}");
    }
    assert_eq!(node(&f, "name")["node_type"], "question");
    // Time is measured on nodes conversations left; nobody left `done`.
    assert!(node(&f, "name")["average_seconds"].as_f64().is_some_and(|s| (0.0..60.0).contains(&s)), "{f}");
    assert!(node(&f, "done")["average_seconds"].is_null());
    let edges: Vec<(String, String, i64, i64)> = f["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["source"].as_str().expect("s").to_owned(),
                e["target"].as_str().expect("t").to_owned(),
                e["count"].as_i64().expect("count"),
                e["conversations"].as_i64().expect("conversations"),
            )
        })
        .collect();
    let edge = |a: &str, b: &str, n: i64| (a.to_owned(), b.to_owned(), n, n);
    assert_eq!(edges, [edge("age", "done", 1), edge("name", "age", 2), edge("start", "name", 3)]);
    assert_eq!(app.count("SELECT count(DISTINCT conversation_id) FROM flow_node_visits"), 3);

    // A range before the traffic is empty; bad ranges are 422 naming the field.
    let empty = call_ok(
        &app,
        &s,
        Method::GET,
        &format!("/api/v1/bots/{bot}/flows/main/funnel?from=2020-01-01&to=2020-01-31"),
        None,
    )
    .await;
    assert_eq!(empty["conversations"], 0);
    assert_eq!(node(&empty, "start")["reached"], 0);
    for (query, field) in [
        ("from=2026-12-10&to=2026-12-01", "from"),
        ("from=yesterday", "from"),
        ("to=2026-13-40", "to"),
        ("from=2020-01-01&to=2026-01-01", "from"),
    ] {
        let r = send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/main/funnel?{query}"), None).await;
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
    let r = send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows/nope/funnel"), None).await;
    assert_error(r, 404, "flow_not_found").await;
}

async fn make_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    let org = s.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [org]));
    let r = send_as(app, s, Method::POST, &format!("/api/v1/orgs/{org}/bots"), Some(json!({ "name": name }))).await;
    ok_json(r, 201).await["id"].as_i64().expect("bot id")
}

fn log(app: &TestApp, org: i64, bot: i64, text: &str, intent: Option<&str>, confidence: f64, oos: bool) -> i64 {
    app.sql(|c| {
        c.execute(
            "INSERT INTO nlu_logs (organization_id, bot_id, message, detected_intent_name, confidence, out_of_scope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![org, bot, text, intent, confidence, oos],
        )?;
        Ok(c.last_insert_rowid())
    })
}

#[tokio::test]
async fn nlu_summary_histogram_messages_and_last_evaluation_are_exact() {
    let app = spawn_app().await;
    let s = app.register("nlu-insights@example.com").await;
    let bot = make_bot(&app, &s, "Shop").await;
    let org = s.org_id;
    for (text, intent, conf, oos) in [
        ("asdf", None, 0.05, true),
        ("qwerty", None, 0.15, true),
        ("maybe hours", Some("hours"), 0.45, false),
        ("hours?", Some("hours"), 0.55, false),
        ("when do you open", Some("hours"), 0.95, false),
        ("book a table", Some("book"), 1.0, false),
    ] {
        log(&app, org, bot, text, intent, conf, oos);
    }
    let base = format!("/api/v1/bots/{bot}/nlu/insights");
    let sum = call_ok(&app, &s, Method::GET, &format!("{base}/summary"), None).await;
    assert_eq!((sum["total"].as_i64(), sum["matched"].as_i64()), (Some(6), Some(3)), "{sum}");
    assert_eq!((sum["low_confidence"].as_i64(), sum["unmatched"].as_i64()), (Some(1), Some(2)));
    let bars: Vec<i64> =
        sum["histogram"].as_array().expect("bars").iter().map(|b| b["count"].as_i64().expect("n")).collect();
    assert_eq!(bars, [1, 1, 0, 0, 1, 1, 0, 0, 0, 2]);
    assert_eq!(sum["histogram"][9]["lower"], 0.9);
    assert_eq!(sum["histogram"][9]["upper"], 1.0);
    assert_eq!(sum["average_confidence"], 0.525);
    assert_eq!(sum["intents"][0]["intent"], "hours");
    assert_eq!(sum["intents"][0]["count"], 3);
    // A higher bar makes more of them low-confidence.
    let sum = call_ok(&app, &s, Method::GET, &format!("{base}/summary?threshold=0.96"), None).await;
    assert_eq!((sum["matched"].as_i64(), sum["low_confidence"].as_i64()), (Some(1), Some(3)));

    let page = call_ok(&app, &s, Method::GET, &format!("{base}/messages?kind=unmatched&limit=1"), None).await;
    assert_eq!(page["items"][0]["text"], "qwerty");
    let next = page["next_cursor"].as_str().expect("cursor");
    let page =
        call_ok(&app, &s, Method::GET, &format!("{base}/messages?kind=unmatched&limit=1&after={next}"), None).await;
    assert_eq!(page["items"][0]["text"], "asdf");
    assert!(page["next_cursor"].is_null());
    let low = call_ok(&app, &s, Method::GET, &format!("{base}/messages?kind=low_confidence"), None).await;
    let texts: Vec<&str> =
        low["items"].as_array().expect("items").iter().map(|m| m["text"].as_str().expect("t")).collect();
    assert_eq!(texts, ["maybe hours"]);
    for (query, field) in [
        ("messages?kind=weird", "kind"),
        ("summary?threshold=2", "threshold"),
        ("summary?threshold=x", "threshold"),
        ("messages?from=2026-12-31&to=2026-12-01", "from"),
    ] {
        let r = send_as(&app, &s, Method::GET, &format!("{base}/{query}"), None).await;
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], field, "{query}");
    }

    // Per-intent quality comes from the last succeeded evaluation of this bot.
    let q = call_ok(&app, &s, Method::GET, &format!("{base}/intents"), None).await;
    assert!(q["job_id"].is_null() && q["per_intent"].as_array().is_some_and(Vec::is_empty), "{q}");
    let report = |acc: f64| {
        json!({ "folds": 2, "examples": 4, "accuracy": acc, "macro_precision": 0.75, "macro_recall": 0.75, "macro_f1": 0.6667,
                "micro_f1": 0.75, "per_intent": [
                    { "intent": "book", "precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2 },
                    { "intent": "hours", "precision": 0.6667, "recall": 1.0, "f1": 0.8, "support": 2 } ],
                "confusions": [ { "expected": "book", "predicted": "hours", "count": 1 } ],
                "labels": ["book", "hours"], "matrix": [[1, 1], [0, 2]] })
        .to_string()
    };
    let payload = json!({ "bot_id": bot, "folds": 2 }).to_string();
    let (old, new) = (report(0.5), report(0.75));
    let job = app.sql(|c| {
        c.execute(
            "INSERT INTO jobs (organization_id, kind, payload, status, result, finished_at)
             VALUES (?1, 'nlu.evaluate', ?2, 'succeeded', ?3, '2026-01-01T00:00:00.000Z'),
                    (?1, 'nlu.evaluate', ?2, 'succeeded', ?4, '2026-02-01T00:00:00.000Z'),
                    (?1, 'nlu.evaluate', ?2, 'failed', NULL, '2026-03-01T00:00:00.000Z')",
            rusqlite::params![org, payload, old, new],
        )?;
        c.query_row("SELECT id FROM jobs WHERE result = ?1", [&new], |r| r.get::<_, i64>(0))
    });
    let q = call_ok(&app, &s, Method::GET, &format!("{base}/intents"), None).await;
    assert_eq!(q["job_id"], job);
    assert_eq!(q["accuracy"], 0.75);
    assert_eq!(q["per_intent"][0]["intent"], "book");
    assert_eq!(
        (q["per_intent"][0]["precision"].as_f64(), q["per_intent"][0]["recall"].as_f64()),
        (Some(1.0), Some(0.5))
    );
    assert_eq!(q["confusions"][0]["predicted"], "hours");
}

async fn intent(app: &TestApp, s: &Session, bot: i64, name: &str, examples: &[&str]) -> (i64, Vec<i64>) {
    let examples: Vec<Value> = examples.iter().map(|t| json!({ "text": t })).collect();
    let body = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/nlu/intents"),
        Some(json!({ "name": name, "examples": examples })),
    )
    .await;
    let id = body["id"].as_i64().expect("intent id");
    let listed =
        call_ok(app, s, Method::GET, &format!("/api/v1/bots/{bot}/nlu/intents/{id}/examples?limit=100"), None).await;
    (id, listed["items"].as_array().expect("items").iter().map(|e| e["id"].as_i64().expect("id")).collect())
}

#[tokio::test]
async fn conflicts_gaps_find_similar_and_the_one_click_fixes() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("nlu-conflicts@example.com").await;
    let bot = make_bot(&app, &s, "Helpdesk").await;
    let (greet, _) =
        intent(&app, &s, bot, "greet", &["hello there", "good morning to you", "hey, how are you doing"]).await;
    let (bye, bye_examples) = intent(&app, &s, bot, "bye", &["goodbye", "see you later", "hello there"]).await;
    let (thanks, _) = intent(&app, &s, bot, "thanks", &["thank you so much"]).await;
    let (refund, _) = intent(&app, &s, bot, "refund", &["I want a refund", "I want a refund!"]).await;
    let base = format!("/api/v1/bots/{bot}/nlu/insights");

    // The same text in two intents is a conflict of similarity 1.
    let c = call_ok(&app, &s, Method::GET, &format!("{base}/conflicts?threshold=0.99"), None).await;
    let pairs = c["pairs"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 1, "{c}");
    assert_eq!(pairs[0]["similarity"], 1.0);
    assert_eq!(
        (pairs[0]["a"]["text"].as_str(), pairs[0]["b"]["text"].as_str()),
        (Some("hello there"), Some("hello there"))
    );
    let mut intents = [pairs[0]["a"]["intent"].as_str().expect("a"), pairs[0]["b"]["intent"].as_str().expect("b")];
    intents.sort_unstable();
    assert_eq!(intents, ["bye", "greet"]);
    // A lower bar finds at least as many.
    let c = call_ok(&app, &s, Method::GET, &format!("{base}/conflicts?threshold=0.5"), None).await;
    assert!(!c["pairs"].as_array().expect("pairs").is_empty());

    // Gaps: one example only; the intent whose two examples differ by a `!`
    // is the most alike, and a bar at its mean similarity singles it out.
    let g = call_ok(&app, &s, Method::GET, &format!("{base}/gaps?min_examples=2&similarity=0.5"), None).await;
    let gaps = g["gaps"].as_array().expect("gaps");
    let mean_of = |name: &str| gaps.iter().find(|x| x["intent"] == name).and_then(|x| x["mean_similarity"].as_f64());
    let refund_mean = mean_of("refund").expect("refund is a gap at 0.5");
    assert!(refund_mean > 0.8, "{g}");
    for other in ["greet", "bye"] {
        assert!(mean_of(other).is_none_or(|m| m < refund_mean), "{other}: {g}");
    }
    let g = call_ok(&app, &s, Method::GET, &format!("{base}/gaps?min_examples=2&similarity={refund_mean}"), None).await;
    let gaps = g["gaps"].as_array().expect("gaps");
    let names: Vec<&str> = gaps.iter().map(|x| x["intent"].as_str().expect("intent")).collect();
    assert_eq!(names, ["refund", "thanks"], "{g}");
    assert_eq!(gaps[0]["reasons"], json!(["examples_too_similar"]));
    assert_eq!(gaps[0]["examples"], 2);
    assert_eq!(gaps[1]["reasons"], json!(["too_few_examples"]));
    assert_eq!(gaps[1]["examples"], 1);
    assert!(gaps[1]["mean_similarity"].is_null());
    let g = call_ok(&app, &s, Method::GET, &format!("{base}/gaps"), None).await;
    assert_eq!(g["gaps"].as_array().expect("gaps").len(), 4, "default 5 examples: {g}");

    // Find-similar ranks the identical texts first, then the rest by score.
    let sim =
        call_ok(&app, &s, Method::POST, &format!("{base}/similar"), Some(json!({ "text": "hello there", "limit": 5 })))
            .await;
    let items = sim["items"].as_array().expect("items");
    assert_eq!(items.len(), 5);
    assert_eq!((items[0]["text"].as_str(), items[1]["text"].as_str()), (Some("hello there"), Some("hello there")));
    assert!(items[0]["score"].as_f64().is_some_and(|x| x > 0.99));
    let scores: Vec<f64> = items.iter().map(|i| i["score"].as_f64().expect("score")).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    let sim = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("{base}/similar"),
        Some(json!({ "text": "I would like my money back", "limit": 1 })),
    )
    .await;
    assert_eq!(sim["items"][0]["intent"], "refund", "{sim}");
    for (body, field) in [
        (json!({ "text": "  " }), "text"),
        (json!({ "text": "hi", "limit": 0 }), "limit"),
        (json!({ "text": "hi", "limit": 51 }), "limit"),
    ] {
        let r = send_as(&app, &s, Method::POST, &format!("{base}/similar"), Some(body)).await;
        let e = assert_error(r, 422, "validation_failed").await;
        assert_eq!(e["error"]["details"]["field"], field);
    }

    // Move: the conflicting copy cannot go where the text exists; another can.
    let dup = bye_examples[2];
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("{base}/move-example"),
        Some(json!({ "example_id": dup, "intent_id": greet })),
    )
    .await;
    assert_error(r, 409, "conflict").await;
    let moved = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("{base}/move-example"),
        Some(json!({ "example_id": bye_examples[1], "intent_id": thanks })),
    )
    .await;
    assert_eq!(moved["intent_id"], thanks);
    assert_eq!(app.count(&format!("SELECT intent_id FROM intent_examples WHERE id = {}", bye_examples[1])), thanks);
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("{base}/move-example"),
        Some(json!({ "example_id": 999_999, "intent_id": bye })),
    )
    .await;
    assert_eq!(assert_error(r, 404, "example_not_found").await["error"]["details"]["field"], "example_id");
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("{base}/move-example"),
        Some(json!({ "example_id": dup, "intent_id": 999_999 })),
    )
    .await;
    assert_eq!(assert_error(r, 404, "intent_not_found").await["error"]["details"]["field"], "intent_id");
    let r = send_as(&app, &s, Method::POST, &format!("{base}/move-example"), Some(json!({ "example_id": dup }))).await;
    assert_eq!(r.status(), 422);

    // Add a logged message as an example: resolves it; twice is a conflict.
    let logged = log(&app, s.org_id, bot, "  money back please ", None, 0.2, true);
    let added = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("{base}/add-example"),
        Some(json!({ "log_id": logged, "intent_id": refund })),
    )
    .await;
    assert_eq!((added["text"].as_str(), added["intent_id"].as_i64()), (Some("money back please"), Some(refund)));
    assert_eq!(app.count(&format!("SELECT resolved_intent_id FROM nlu_logs WHERE id = {logged}")), refund);
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("{base}/add-example"),
        Some(json!({ "log_id": logged, "intent_id": refund })),
    )
    .await;
    assert_error(r, 409, "conflict").await;
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("{base}/add-example"),
        Some(json!({ "log_id": 999_999, "intent_id": refund })),
    )
    .await;
    assert_eq!(assert_error(r, 404, "nlu_log_not_found").await["error"]["details"]["field"], "log_id");
}

#[tokio::test]
async fn knowledge_answers_of_a_bot_are_logged_and_summarized() {
    let app = spawn_app().await;
    let s = app.register("kb-insights@example.com").await;
    // A knowledge node with no knowledge base linked: the answer fails and is logged as an error.
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Ask me" }, "variable": "q" } },
            { "id": "kb", "type": "knowledge", "data": { "question": "{{q}}" } },
            { "id": "none", "type": "message", "data": { "text": "I don't know." } }
        ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "kb" },
                   { "source": "kb", "port": "no_answer", "target": "none" } ]
    });
    let bot = published_bot(&app, &s, "Docs", flow).await;
    let conv = start(&app, &s, bot, "k1").await;
    say(&app, &s, conv, "what is the refund policy").await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM knowledge_answer_logs WHERE mode = 'error' AND query = 'what is the refund policy'"
        ),
        1
    );

    // Known rows: two answered (citing document 1 twice, chunk 11 twice), one "I don't know".
    let (org, kb) = (s.org_id, 77);
    app.sql(|c| {
        for (q, answered, mode, top, cites) in [
            ("how do refunds work", 1, "extractive", 0.82, json!([{ "knowledge_base_id": kb, "document_id": 1, "chunk_id": 11, "score": 0.82 }])),
            ("refund time", 1, "generative", 0.74, json!([{ "knowledge_base_id": kb, "document_id": 1, "chunk_id": 11, "score": 0.74 },
                                                          { "knowledge_base_id": kb, "document_id": 2, "chunk_id": 21, "score": 0.6 }])),
            ("do you sell bikes", 0, "no_answer", 0.21, json!([])),
        ] {
            c.execute(
                "INSERT INTO knowledge_answer_logs (organization_id, bot_id, query, answered, mode, top_score, knowledge_base_ids, citations)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![org, bot, q, answered, mode, top, json!([kb]).to_string(), cites.to_string()],
            )?;
        }
        Ok(())
    });
    let k = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/knowledge/insights"), None).await;
    assert_eq!(
        (k["questions"].as_i64(), k["answered"].as_i64(), k["unanswered"].as_i64(), k["errors"].as_i64()),
        (Some(4), Some(2), Some(1), Some(1)),
        "{k}"
    );
    assert_eq!(k["answer_rate"], 0.5);
    assert_eq!(
        (k["top_documents"][0]["document_id"].as_i64(), k["top_documents"][0]["citations"].as_i64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        (k["top_chunks"][0]["chunk_id"].as_i64(), k["top_chunks"][0]["citations"].as_i64()),
        (Some(11), Some(2))
    );
    assert_eq!(k["top_chunks"].as_array().expect("chunks").len(), 2);
    let k =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/knowledge/insights?knowledge_base_id={kb}"), None)
            .await;
    assert_eq!(k["questions"], 3, "only answers that searched it");
    let low =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/knowledge/insights/low-scores?below=0.8"), None)
            .await;
    let texts: Vec<&str> =
        low["items"].as_array().expect("items").iter().map(|m| m["query"].as_str().expect("q")).collect();
    assert_eq!(texts, ["do you sell bikes", "refund time"]);
    for (query, field) in [
        ("low-scores?below=-1", "below"),
        ("?knowledge_base_id=abc", "knowledge_base_id"),
        ("?from=2026-12-05&to=2026-12-01", "from"),
    ] {
        let r = send_as(
            &app,
            &s,
            Method::GET,
            &format!(
                "/api/v1/bots/{bot}/knowledge/insights{}",
                if query.starts_with('?') { query.to_owned() } else { format!("/{query}") }
            ),
            None,
        )
        .await;
        let e = assert_error(r, 422, "validation_failed").await;
        assert_eq!(e["error"]["details"]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn org_stats_timeline_instance_health_and_rate_limit_unblock() {
    let app = spawn_app_with(|c| {
        c.rate_limits.login.per_ip = 2;
        c.rate_limits.login.per_account = 0;
    })
    .await;
    let s = app.register("org-admin@example.com").await;
    published_bot(&app, &s, "Stats", survey_flow()).await;
    let stats = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/admin/stats", s.org_id), None).await;
    assert_eq!((stats["members"].as_i64(), stats["bots"].as_i64()), (Some(1), Some(1)), "{stats}");
    let t = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/admin/activity-timeline", s.org_id), None).await;
    let audit: i64 = t["days"].as_array().expect("days").iter().map(|d| d["audit_events"].as_i64().expect("n")).sum();
    assert_eq!(audit, app.count(&format!("SELECT count(*) FROM audit_logs WHERE organization_id = {}", s.org_id)));
    assert!(audit > 0);
    assert!(
        t["recent"].as_array().is_some_and(|r| !r.is_empty() && i64::try_from(r.len()).ok() == Some(audit.min(50)))
    );
    let r = send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/admin/activity-timeline?to=soon", s.org_id), None)
        .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "to");

    app.sql(|c| c.execute("UPDATE users SET is_superadmin = 1 WHERE email = 'org-admin@example.com'", []));
    let root = console(&app, "org-admin@example.com").await;
    let (status, h) = admin_call(&app, &root, Method::GET, "/api/v1/admin/health", None).await;
    assert_eq!(status, 200, "{h}");
    assert!(h["database_bytes"].as_i64().is_some_and(|b| b > 100_000), "{h}");
    assert!(h["wal_bytes"].as_i64().is_some_and(|b| b >= 0));
    assert_eq!(h["models"], "off");
    for field in ["queued_due", "queued_later", "running", "failed_last_24h", "dead"] {
        assert!(h["jobs"][field].as_i64().is_some_and(|n| n >= 0), "{field}: {h}");
    }

    // Two sign-ins from this address are allowed; the third is refused and listed.
    for _ in 0..3 {
        app.post_json("/api/v1/auth/login", &json!({ "email": "nobody@example.com", "password": "wrong password" }))
            .await;
    }
    let r = app.post_json("/api/v1/auth/login", &json!({ "email": "nobody@example.com", "password": "x" })).await;
    assert_eq!(r.status(), 429);
    let (_, view) = admin_call(&app, &root, Method::GET, "/api/v1/admin/rate-limits", None).await;
    assert_eq!(view["limits"][0]["bucket"], "login");
    assert_eq!(view["limits"][0]["per_ip"], 2);
    let blocked = view["blocked"].as_array().expect("blocked");
    assert_eq!(blocked.len(), 1, "{view}");
    assert_eq!((blocked[0]["bucket"].as_str(), blocked[0]["scope"].as_str()), (Some("login"), Some("ip")));
    let id = blocked[0]["id"].as_str().expect("id").to_owned();
    let (status, e) = admin_call(&app, &root, Method::POST, "/api/v1/admin/rate-limits/unblock", Some(json!({}))).await;
    assert_eq!((status, e["error"]["details"]["field"].as_str()), (422, Some("id")));
    let (status, e) = admin_call(
        &app,
        &root,
        Method::POST,
        "/api/v1/admin/rate-limits/unblock",
        Some(json!({ "id": "login:ip:192.0.2.1" })),
    )
    .await;
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("blocked_client_not_found")));
    let (status, done) =
        admin_call(&app, &root, Method::POST, "/api/v1/admin/rate-limits/unblock", Some(json!({ "id": id }))).await;
    assert_eq!((status, done["unblocked"].as_u64()), (200, Some(1)), "{done}");
    let (_, view) = admin_call(&app, &root, Method::GET, "/api/v1/admin/rate-limits", None).await;
    assert!(view["blocked"].as_array().is_some_and(Vec::is_empty));
    let r = app
        .post_json("/api/v1/auth/login", &json!({ "email": "nobody@example.com", "password": "wrong password" }))
        .await;
    assert_eq!(r.status(), 401, "unblocked: a fresh bucket");
    assert_eq!(app.count("SELECT count(*) FROM admin_audit_log WHERE action = 'admin.rate_limit.unblocked'"), 1);
    // A tenant session cannot reach the console routes.
    let r = send_as(&app, &s, Method::GET, "/api/v1/admin/health", None).await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_builder_overlay_shows_the_funnel_counts_on_nodes_and_edges() {
    let app = spawn_app().await;
    let s = app.register("funnel-ui@example.com").await;
    let bot = published_bot(&app, &s, "Survey UI", survey_flow()).await;
    let done = start(&app, &s, bot, "b1").await;
    say(&app, &s, done, "Ada").await;
    say(&app, &s, done, "36").await;
    start(&app, &s, bot, "b2").await;
    crate::browser::with_browser("insights_funnel_overlay", |b| async move {
        b.client.set_window_size(1440, 1000).await.expect("resize");
        b.sign_in(&app, "funnel-ui@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/flows/main"))).await.expect("goto");
        b.element("[data-node-id='start']").await;
        assert!(
            b.client.find(fantoccini::Locator::Css(".flow-node-stats")).await.is_err(),
            "no counts before the toggle"
        );
        b.click("#show-analytics").await;
        b.wait_for_text("[data-node-id='name'] .flow-node-stats", "2 reached").await;
        b.wait_for_text("[data-node-id='name'] .flow-node-stats", "1 dropped").await;
        b.wait_for_text("[data-node-id='done'] .flow-node-stats", "1 reached").await;
        b.wait_for_text("[data-node-id='age'] .flow-node-stats", "1 reached").await;
        b.wait_for_text("#funnel-total", "2 conversations entered the flow").await;
        assert_eq!(b.text_of("[data-edge-count='start>name']").await, "2");
        assert_eq!(b.text_of("[data-edge-count='age>done']").await, "1");
        b.element("#funnel-card svg[role='img']").await;
        // The view is shareable: the URL carries the toggle, and opening it shows the counts.
        let url = b.client.current_url().await.expect("url");
        assert_eq!(url.query(), Some("analytics=1"));
        b.client.goto(url.as_str()).await.expect("reload");
        b.wait_for_text("[data-node-id='start'] .flow-node-stats", "2 reached").await;
        // A range with no traffic shows zeros and the chart's empty state.
        b.client
            .goto(&app.url(&format!("/bots/{bot}/flows/main?analytics=1&from=2020-01-01&to=2020-01-31")))
            .await
            .expect("goto");
        b.wait_for_text("[data-node-id='start'] .flow-node-stats", "0 reached").await;
        b.wait_for_text("#funnel-total", "0 conversations").await;
    })
    .await;
}

#[tokio::test]
async fn the_insights_page_shows_the_numbers_and_adds_a_message_as_an_example() {
    let app = spawn_app().await;
    let s = app.register("insights-ui@example.com").await;
    let bot = make_bot(&app, &s, "Insights UI").await;
    let (hours, _) = intent(&app, &s, bot, "hours", &["when are you open"]).await;
    for (text, intent, conf, oos) in [
        ("asdf", None, 0.05, true),
        ("open now?", Some("hours"), 0.4, false),
        ("when do you open", Some("hours"), 0.95, false),
    ] {
        log(&app, s.org_id, bot, text, intent, conf, oos);
    }
    let org = s.org_id;
    crate::browser::with_browser("insights_page", |b| async move {
        b.client.set_window_size(1440, 1000).await.expect("resize");
        b.sign_in(&app, "insights-ui@example.com").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/insights"))).await.expect("goto");
        b.wait_for_text("[data-total='Messages']", "3").await;
        b.wait_for_text("[data-total='Unmatched']", "1").await;
        b.wait_for_text("[data-messages='unmatched']", "asdf").await;
        b.element("#nlu-histogram svg[role='img']").await;
        b.wait_for_text("#nlu-gaps", "hours").await;
        b.wait_for_text("#kb-answer-rate", "0 questions").await;
        // Add the unmatched message to `hours` in one click.
        b.select("[data-messages='unmatched'] select", &hours.to_string()).await;
        b.click("[data-messages='unmatched'] button").await;
        app.wait_for_sql(
            "example added",
            |c| c.query_row("SELECT count(*) FROM intent_examples WHERE text = 'asdf'", [], |r| r.get::<_, i64>(0)),
            |n| *n == 1,
        )
        .await;
        // A range with nothing: the empty states; the filters are in the URL.
        b.client.goto(&app.url(&format!("/bots/{bot}/insights?from=2020-01-01&to=2020-01-31"))).await.expect("goto");
        b.wait_for_text("[data-total='Messages']", "0").await;
        b.wait_for_text("[data-empty='unmatched']", "No unmatched messages").await;
        b.client.goto(&app.url("/org-admin")).await.expect("goto");
        b.wait_for_text("#org-stats", "Members").await;
        b.element("#org-timeline svg[role='img']").await;
        let _ = org;
    })
    .await;
}
