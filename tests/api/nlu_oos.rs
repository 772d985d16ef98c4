//! Out-of-scope detection of a small bot (3 intents × 5 examples) trained
//! through the real API: messages about anything else are out of scope (the
//! parse says so with no intent, and the flow's intent router takes its
//! `out_of_scope` port), paraphrases of the intents are not, and the bot's
//! `nlu_similarity_floor` setting tunes it (validated).

use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app_with};

const INTENTS: [(&str, [&str; 5]); 3] = [
    (
        "track_order",
        [
            "where is my order",
            "track my package",
            "has my parcel shipped yet",
            "when will my delivery arrive",
            "what's the status of my order",
        ],
    ),
    (
        "cancel_order",
        [
            "cancel my order",
            "I want to cancel my purchase",
            "please stop my order",
            "I changed my mind, cancel it",
            "how do I cancel an order",
        ],
    ),
    (
        "talk_to_human",
        [
            "I want to talk to a person",
            "connect me to an agent",
            "can I speak with someone",
            "get me a human",
            "I need a real person to help me",
        ],
    ),
];

/// Out of scope for this bot: the three, and others worded unlike
/// anything in the shipped background corpus.
const OUT_OF_SCOPE: [&str; 7] = [
    "what's the weather in Paris",
    "tell me a joke",
    "asdfgh",
    "who is going to win the football league this season",
    "recommend a nice italian restaurant near the station",
    "my grandmother turns ninety next month",
    "how do volcanoes form",
];

const PARAPHRASES: [(&str, &str); 6] = [
    ("where is my package right now", "track_order"),
    ("has my order been sent out", "track_order"),
    ("I'd like to cancel the order I placed", "cancel_order"),
    ("please cancel my purchase", "cancel_order"),
    ("let me talk to a human agent", "talk_to_human"),
    ("I want to speak to a real person", "talk_to_human"),
];

async fn run_jobs(app: &TestApp) {
    let token = CancellationToken::new();
    while botbuilder::jobs::run_once(&app.state, "test", &token).await.expect("run job") {}
}

async fn small_bot(app: &TestApp, s: &Session) -> i64 {
    let r = send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Shop" })))
        .await;
    let bot = ok_json(r, 201).await["id"].as_i64().expect("id");
    for (name, texts) in INTENTS {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        let path = format!("/api/v1/bots/{bot}/nlu/intents");
        ok_json(send_as(app, s, Method::POST, &path, Some(json!({ "name": name, "examples": examples }))).await, 201)
            .await;
    }
    let job = ok_json(send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await, 202).await;
    run_jobs(app).await;
    let job = ok_json(send_as(app, s, Method::GET, &format!("/api/v1/jobs/{}", job["id"]), None).await, 200).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    bot
}

async fn parse(app: &TestApp, s: &Session, bot: i64, text: &str) -> Value {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/parse"), Some(json!({ "text": text }))).await;
    ok_json(r, 200).await
}

#[tokio::test]
async fn a_small_bot_says_out_of_scope_from_its_first_training() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("nlu-oos@example.com").await;
    let bot = small_bot(&app, &s).await;

    let job_metrics = app
        .sql(|c| c.query_row("SELECT metrics FROM model_versions WHERE bot_id = ?1", [bot], |r| r.get::<_, String>(0)));
    let metrics: Value = serde_json::from_str(&job_metrics).expect("metrics");
    assert!(metrics["training"]["background_examples"].as_u64().expect("background") > 500, "{metrics}");
    assert!(metrics["training"]["similarity_floor"].as_f64().expect("floor") > 0.0, "{metrics}");
    assert_eq!(metrics["training"]["intents"], 3, "the background class is not an intent");

    for text in OUT_OF_SCOPE {
        let parsed = parse(&app, &s, bot, text).await;
        assert_eq!((&parsed["out_of_scope"], &parsed["intent"]), (&json!(true), &Value::Null), "{text}: {parsed}");
        // The ranking still names the bot's intents only.
        let ranked: Vec<&str> =
            parsed["ranking"].as_array().expect("ranking").iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(ranked.len(), 3, "{parsed}");
        assert!(ranked.iter().all(|n| INTENTS.iter().any(|(i, _)| i == n)), "{parsed}");
    }
    for (text, intent) in PARAPHRASES {
        let parsed = parse(&app, &s, bot, text).await;
        assert_eq!(
            (&parsed["out_of_scope"], &parsed["intent"]["name"]),
            (&json!(false), &json!(intent)),
            "{text}: {parsed}"
        );
    }

    // The owner's sensitivity: a floor of 0.99 rejects even paraphrases;
    // null returns to the calibrated floor. Out of range is refused.
    let path = format!("/api/v1/bots/{bot}");
    let bad = assert_error(
        send_as(&app, &s, Method::PATCH, &path, Some(json!({ "settings": { "nlu_similarity_floor": 1.5 } }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(bad["error"]["details"]["field"], "settings.nlu_similarity_floor", "{bad}");
    let updated = ok_json(
        send_as(&app, &s, Method::PATCH, &path, Some(json!({ "settings": { "nlu_similarity_floor": 0.99 } }))).await,
        200,
    )
    .await;
    assert_eq!(updated["settings"]["nlu_similarity_floor"], 0.99);
    let parsed = parse(&app, &s, bot, PARAPHRASES[0].0).await;
    assert_eq!(parsed["out_of_scope"], true, "{parsed}");
    ok_json(
        send_as(&app, &s, Method::PATCH, &path, Some(json!({ "settings": { "nlu_similarity_floor": null } }))).await,
        200,
    )
    .await;
    let parsed = parse(&app, &s, bot, PARAPHRASES[0].0).await;
    assert_eq!(parsed["intent"]["name"], "track_order", "{parsed}");
}

fn router_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hi! Orders, cancellations or a person?" } },
            { "id": "route", "type": "intent_router", "data": { "routes": [
                { "id": "track", "intent": "track_order" },
                { "id": "cancel", "intent": "cancel_order" },
                { "id": "human", "intent": "talk_to_human" }
            ] } },
            { "id": "tracking", "type": "message", "data": { "text": "Let me look up your order." } },
            { "id": "cancelling", "type": "message", "data": { "text": "Let me cancel it." } },
            { "id": "person", "type": "message", "data": { "text": "A person will answer." } },
            { "id": "lost", "type": "message", "data": { "text": "Sorry, I don't understand." } },
            { "id": "bye", "type": "end", "data": {} }
        ],
        "edges": [
            { "source": "start", "target": "hello" },
            { "source": "hello", "target": "route" },
            { "source": "route", "port": "track", "target": "tracking" },
            { "source": "route", "port": "cancel", "target": "cancelling" },
            { "source": "route", "port": "human", "target": "person" },
            { "source": "route", "port": "out_of_scope", "target": "lost" },
            { "source": "tracking", "target": "bye" },
            { "source": "cancelling", "target": "bye" },
            { "source": "person", "target": "bye" },
            { "source": "lost", "target": "bye" }
        ]
    })
}

#[tokio::test]
async fn the_intent_router_takes_its_out_of_scope_port_for_small_talk() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("nlu-oos-router@example.com").await;
    let bot = small_bot(&app, &s).await;
    let path = format!("/api/v1/bots/{bot}/flows/main");
    let saved =
        ok_json(send_as(&app, &s, Method::PUT, &path, Some(json!({ "document": router_flow() }))).await, 201).await;
    assert!(saved["issues"].as_array().expect("issues").iter().all(|i| i["severity"] != "error"), "{saved}");
    ok_json(send_as(&app, &s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "go" }))).await, 200)
        .await;

    for (text, reply) in [
        ("what's the weather in Paris", "Sorry, I don't understand."),
        ("tell me a joke", "Sorry, I don't understand."),
        ("asdfgh", "Sorry, I don't understand."),
        ("where is my package right now", "Let me look up your order."),
        ("please cancel my purchase", "Let me cancel it."),
    ] {
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/conversations"),
            Some(json!({ "external_user_id": format!("visitor {text}") })),
        )
        .await;
        let conv = ok_json(r, 200).await["conversation_id"].as_i64().expect("conversation");
        let r = send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/conversations/{conv}/messages"),
            Some(json!({ "text": text })),
        )
        .await;
        let turn = ok_json(r, 200).await;
        let replies: Vec<&str> =
            turn["replies"].as_array().expect("replies").iter().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(replies, [reply], "{text}: {turn}");
    }
}

#[tokio::test]
async fn models_trained_before_out_of_scope_detection_are_retrained_once_when_their_data_is_unchanged() {
    use botbuilder::http::scope::Tenant;
    use botbuilder::ids::{BotId, OrgId};

    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("nlu-oos-legacy@example.com").await;
    let bot = small_bot(&app, &s).await;
    // Make the active model look as the previous version left it: no
    // out-of-scope figures, the data hashed with the previous recipe.
    let tenant = Tenant::system(OrgId(s.org_id), "test");
    let rows = app.sql(|c| botbuilder::nlu::store::training_rows(c, &tenant, BotId(bot)));
    let embedder = app.sql(|c| {
        c.query_row("SELECT json_extract(metrics, '$.embedder') FROM model_versions WHERE bot_id = ?1", [bot], |r| {
            r.get::<_, String>(0)
        })
    });
    let legacy = botbuilder::nlu::train::legacy_hash(&rows, &embedder);
    assert_ne!(legacy, botbuilder::nlu::train::current_hash(&rows, &embedder));
    app.sql(|c| {
        c.execute(
            "UPDATE model_versions SET metrics = json_remove(metrics, '$.training.background_examples'),
                    training_data_hash = ?2 WHERE bot_id = ?1",
            rusqlite::params![bot, legacy],
        )
    });

    let jobs = botbuilder::nlu::retrain::enqueue_for_embedder(&app.state, &embedder).await.expect("enqueue");
    assert_eq!(jobs.len(), 1, "the legacy model with unchanged data is retrained");
    let key_count = "SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'nlu.retrain-oos:%'";
    assert_eq!(app.count(key_count), 1);
    run_jobs(&app).await;
    let background: i64 = app.sql(|c| {
        c.query_row(
            "SELECT json_extract(metrics, '$.training.background_examples') FROM model_versions
             WHERE bot_id = ?1 AND is_active = 1",
            [bot],
            |r| r.get(0),
        )
    });
    assert!(background > 500, "{background}");
    let parsed = parse(&app, &s, bot, "tell me a joke").await;
    assert_eq!(parsed["out_of_scope"], true, "{parsed}");
    // Once: nothing more to enqueue.
    let again = botbuilder::nlu::retrain::enqueue_for_embedder(&app.state, &embedder).await.expect("enqueue");
    assert!(again.is_empty(), "{again:?}");
}
