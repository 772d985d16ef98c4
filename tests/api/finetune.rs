//! Fine-tuning: datasets (upload, validation report, preview, conversion,
//! split, from NLU data, bad files), remote fine-tuning against a local
//! fake of `OpenAI`'s fine-tuning API (upload, job, paged events, metrics,
//! cancel, failure, bearer key), and model versions (compare, production,
//! rollback that the parser follows, kept across a restart).

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::fmt::Write as _;

use botbuilder::config::TrainingPrice;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fake_finetune::{FAILURE, FakeFineTuning};
use crate::helpers::{Session, TestApp, assert_error, call_ok, ok_json, send_as, spawn_app, spawn_app_with};

const KEY: &str = "sk-test-finetune-key";
const BASE: &str = "gpt-4o-mini-2024-07-18";

async fn upload(app: &TestApp, s: &Session, model: i64, query: &str, body: &str) -> reqwest::Response {
    app.as_user(s, Method::POST, &format!("/api/v1/fine-tuning/models/{model}/datasets?{query}"))
        .header("Content-Type", "application/octet-stream")
        .body(body.to_owned())
        .send()
        .await
        .expect("send")
}

fn chat_rows(n: usize) -> String {
    (0..n)
        .map(|i| {
            json!({ "messages": [
                { "role": "system", "content": "You answer as Acme's support, briefly." },
                { "role": "user", "content": format!("Where is my order number {i}?") },
                { "role": "assistant", "content": format!("Order {i} ships tomorrow; you will get a tracking link by email.") },
            ]})
            .to_string()
                + "\n"
        })
        .collect()
}

async fn provider(app: &TestApp, s: &Session, base_url: &str, key: &str, name: &str) -> i64 {
    let p = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/llm-providers", s.org_id),
        Some(json!({ "name": name, "base_url": base_url, "default_model": "gpt-4o-mini", "api_key": key })),
    )
    .await;
    p["id"].as_i64().expect("provider id")
}

async fn remote_model(app: &TestApp, s: &Session, provider: i64, base_model: &str) -> i64 {
    let m = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/orgs/{}/fine-tuning/models", s.org_id),
        Some(json!({ "name": format!("Tone on {base_model}"), "base_model": base_model, "provider_id": provider })),
    )
    .await;
    assert_eq!(m["kind"], "llm_finetune");
    m["id"].as_i64().expect("model id")
}

async fn parse(app: &TestApp, s: &Session, nlu: &str) -> Value {
    let body = json!({ "text": "show me the menu" });
    ok_json(send_as(app, s, Method::POST, &format!("{nlu}/parse"), Some(body)).await, 200).await
}

async fn run_one(app: &TestApp) -> bool {
    botbuilder::jobs::run_once(&app.state, "test", &CancellationToken::new()).await.expect("job run")
}

#[tokio::test]
async fn remote_fine_tuning_against_a_fake_of_the_openai_api() {
    let fake = FakeFineTuning::start(KEY).await;
    let app = spawn_app_with(|c| {
        c.fine_tuning.poll_interval_secs = 0;
        c.fine_tuning.training_prices = vec![TrainingPrice { model: BASE.into(), micros_per_million: 3_000_000 }];
    })
    .await;
    let s = app.register("ft-remote@example.com").await;
    let p = provider(&app, &s, &fake.base_url(), KEY, "OpenAI").await;
    let model = remote_model(&app, &s, p, BASE).await;

    // A broken line: 422 with its number, nothing stored.
    let broken = format!("{}{{\"messages\": [oops\n", chat_rows(2));
    let body = assert_error(upload(&app, &s, model, "format=jsonl", &broken).await, 422, "dataset_invalid").await;
    assert_eq!(body["error"]["details"]["line"], 3, "{body}");
    assert_eq!(app.count("SELECT count(*) FROM fine_tune_datasets"), 0);

    let dataset =
        ok_json(upload(&app, &s, model, "format=jsonl&file_name=support.jsonl", &chat_rows(12)).await, 201).await;
    assert_eq!((dataset["status"].as_str(), dataset["row_count"].as_i64()), (Some("ready"), Some(12)), "{dataset}");
    assert_eq!(dataset["report"]["tokenizer"], "o200k_base");
    let tokens = dataset["token_count"].as_u64().expect("tokens");
    assert!(tokens > 12 * 30, "{dataset}");
    let dataset_id = dataset["id"].as_i64().expect("id");

    // The estimate before starting: tokens × epochs × price.
    let estimate = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/models/{model}/estimate"),
        Some(json!({ "training_dataset_id": dataset_id, "n_epochs": 3 })),
    )
    .await;
    assert_eq!(estimate["trained_tokens"].as_u64(), Some(tokens * 3));
    assert_eq!(estimate["estimated_cost_micros"].as_u64(), Some(tokens * 3 * 3));

    let job = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/fine-tuning/models/{model}/jobs"),
            Some(json!({ "training_dataset_id": dataset_id, "n_epochs": 3, "suffix": "support" })),
        )
        .await,
        202,
    )
    .await;
    assert_eq!(job["status"], "pending");
    let job_id = job["id"].as_i64().expect("job id");
    // Upload, create, then one poll per status until it succeeds.
    let runs = app.run_jobs().await;
    assert!(runs >= 4, "{runs} runs");
    let job = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/jobs/{job_id}"), None).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let tuned = job["result_model_id"].as_str().expect("tuned model").to_owned();
    assert!(tuned.starts_with(&format!("ft:{BASE}:test-org:support:")), "{tuned}");
    assert_eq!(job["trained_tokens"], 1234);
    assert!(job["started_at"].is_string() && job["completed_at"].is_string());
    // Every event once, oldest first, although the fake pages by four.
    let messages: Vec<&str> =
        job["events"].as_array().expect("events").iter().filter_map(|e| e["message"].as_str()).collect();
    assert_eq!(messages.len(), 10, "{messages:?}");
    assert!(messages[0].starts_with("Validating training file"), "{messages:?}");
    assert_eq!(messages.last().copied(), Some("The job has successfully completed"));
    let curve = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/jobs/{job_id}/metrics"), None).await;
    let curve = curve.as_array().expect("points");
    assert_eq!(curve.iter().map(|p| p["step"].as_i64().unwrap_or(0)).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6]);
    assert!((curve[0]["train_loss"].as_f64().unwrap_or(0.0) - 2.0).abs() < 1e-9);
    assert_eq!((curve[5]["epoch"].as_i64(), curve[5]["valid_loss"].as_f64()), (Some(3), Some(0.4)), "{curve:?}");
    // The file went up as JSONL with purpose fine-tune, with the bearer key.
    assert_eq!(fake.files(), vec![("support.jsonl".to_owned(), chat_rows(12).len())]);
    assert!(fake.server.requests().iter().all(|r| r.header("authorization") == Some(&format!("Bearer {KEY}"))));

    // The tuned model is the model's active version, usable by agents.
    let versions = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/models/{model}/versions"), None).await;
    let v1 = &versions["items"][0];
    assert_eq!((v1["remote_model_id"].as_str(), v1["is_active"].as_bool()), (Some(tuned.as_str()), Some(true)));
    let listed = call_ok(&app, &s, Method::GET, &format!("/api/v1/llm-providers/{p}/tuned-models"), None).await;
    assert_eq!(listed[0]["model"], tuned.as_str());
    let m = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/models/{model}"), None).await;
    assert_eq!((m["status"].as_str(), m["model_id"].as_str()), (Some("completed"), Some(tuned.as_str())));
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Support" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    // A chat set from the bot's resolved conversations (closed with a resolution).
    let org = s.org_id;
    app.sql(|c| {
        for (user, status, resolution) in [("alice", "closed", Some("answered")), ("bob", "open", None)] {
            let conversation: i64 = c.query_row(
                "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id, status, resolution)
                 VALUES (?1, ?2, 'api', ?3, ?4, ?5) RETURNING id",
                rusqlite::params![org, bot, user, status, resolution],
                |r| r.get(0),
            )?;
            for (role, text) in [
                ("user", "Where is my order?"),
                ("bot", "Let me check."),
                ("bot", "It ships tomorrow."),
                ("note", "internal remark"),
                ("user", "Thanks"),
                ("agent", "You're welcome!"),
            ] {
                c.execute(
                    "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content)
                     VALUES (?1, ?2, ?3, 's', ?4, ?5)",
                    rusqlite::params![org, bot, conversation, role, text],
                )?;
            }
        }
        Ok(())
    });
    let transcripts = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/models/{model}/datasets/from-bot"),
        Some(json!({ "source": "transcripts", "bot_id": bot })),
    )
    .await;
    assert_eq!((transcripts["source"].as_str(), transcripts["row_count"].as_i64()), (Some("transcripts"), Some(1)));
    let preview =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/datasets/{}/preview", transcripts["id"]), None)
            .await;
    assert_eq!(
        preview["rows"][0]["messages"],
        json!([
            { "role": "user", "content": "Where is my order?" },
            { "role": "assistant", "content": "Let me check.\nIt ships tomorrow." },
            { "role": "user", "content": "Thanks" },
            { "role": "assistant", "content": "You're welcome!" },
        ])
    );
    // Agents reach providers through the bot's AI configuration.
    call_ok(&app, &s, Method::PUT, &format!("/api/v1/bots/{bot}/ai/config"), Some(json!({ "provider_id": p }))).await;
    let agent = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/agents"),
        Some(json!({ "name": "Tuned", "instructions": "Help with orders.", "provider_id": p, "model": tuned })),
    )
    .await;
    let run = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/agents/{}/chat", agent["id"]),
        Some(json!({ "message": "Where is my order?" })),
    )
    .await;
    assert!(run.to_string().contains(&format!("Tuned answer from {tuned}")), "{run}");
    // A finished job cannot be cancelled.
    assert_error(
        send_as(&app, &s, Method::POST, &format!("/api/v1/fine-tuning/jobs/{job_id}/cancel"), None).await,
        409,
        "conflict",
    )
    .await;

    // A job the provider fails: its message is recorded.
    let doomed = remote_model(&app, &s, p, "gpt-doomed").await;
    let d2 = ok_json(upload(&app, &s, doomed, "format=jsonl", &chat_rows(10)).await, 201).await;
    let failed = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/models/{doomed}/jobs"),
        Some(json!({ "training_dataset_id": d2["id"] })),
    )
    .await;
    app.run_jobs().await;
    let failed = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/jobs/{}", failed["id"]), None).await;
    assert_eq!((failed["status"].as_str(), failed["error_message"].as_str()), (Some("failed"), Some(FAILURE)));
    let m = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/models/{doomed}"), None).await;
    assert_eq!(m["status"], "failed");

    // A long job cancelled while it runs: the provider is told, polling stops.
    let slow = remote_model(&app, &s, p, "gpt-slow").await;
    let d3 = ok_json(upload(&app, &s, slow, "format=jsonl", &chat_rows(10)).await, 201).await;
    let running = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/models/{slow}/jobs"),
        Some(json!({ "training_dataset_id": d3["id"] })),
    )
    .await;
    let path = format!("/api/v1/fine-tuning/jobs/{}", running["id"]);
    for _ in 0..10 {
        if call_ok(&app, &s, Method::GET, &path, None).await["status"] == "running" {
            break;
        }
        assert!(run_one(&app).await, "the job is followed until it runs");
    }
    assert_eq!(call_ok(&app, &s, Method::GET, &path, None).await["status"], "running");
    let cancelled = call_ok(&app, &s, Method::POST, &format!("{path}/cancel"), None).await;
    assert_eq!(cancelled["status"], "cancelled");
    app.run_jobs().await;
    assert!(!run_one(&app).await, "polling stopped");
    assert!(fake.statuses().contains(&("gpt-slow".to_owned(), "cancelled".to_owned())));
    assert_eq!(call_ok(&app, &s, Method::GET, &path, None).await["status"], "cancelled");

    // A deleted dataset: no job starts on it (stable code, the field named).
    ok_json(send_as(&app, &s, Method::DELETE, &format!("/api/v1/fine-tuning/datasets/{dataset_id}"), None).await, 204)
        .await;
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/fine-tuning/models/{model}/jobs"),
            Some(json!({ "training_dataset_id": dataset_id })),
        )
        .await,
        409,
        "dataset_deleted",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "training_dataset_id");
    // The job that trained on it still names it.
    let job = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/jobs/{job_id}"), None).await;
    assert_eq!(job["training_dataset_id"], dataset_id);

    // A wrong key: the provider's 401 fails the job with its message.
    let bad = provider(&app, &s, &fake.base_url(), "sk-wrong", "Wrong key").await;
    let locked = remote_model(&app, &s, bad, BASE).await;
    let d4 = ok_json(upload(&app, &s, locked, "format=jsonl", &chat_rows(10)).await, 201).await;
    let refused = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/models/{locked}/jobs"),
        Some(json!({ "training_dataset_id": d4["id"] })),
    )
    .await;
    app.run_jobs().await;
    let refused = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/jobs/{}", refused["id"]), None).await;
    assert_eq!(refused["status"], "failed");
    assert!(
        refused["error_message"].as_str().is_some_and(|m| m.contains("401") && m.contains("Incorrect API key")),
        "{refused}"
    );
}

#[tokio::test]
async fn datasets_are_validated_previewed_converted_and_split() {
    let app = spawn_app().await;
    let s = app.register("ft-datasets@example.com").await;
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Shop" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    let model = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/fine-tuning/models", s.org_id),
        Some(json!({ "name": "Shop intents", "kind": "nlu_intent", "bot_id": bot })),
    )
    .await;
    assert_eq!((model["kind"].as_str(), model["base_model"].as_str()), (Some("nlu_intent"), Some("minilm")));
    let model = model["id"].as_i64().expect("model");

    // Bad inputs: unknown format, chat rows for a classifier, a broken CSV record.
    let body = assert_error(upload(&app, &s, model, "format=xml", "a").await, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "format");
    let body = assert_error(upload(&app, &s, model, "format=jsonl", &chat_rows(1)).await, 422, "dataset_invalid").await;
    assert_eq!(body["error"]["details"]["line"], 1);
    let body = assert_error(
        upload(&app, &s, model, "format=csv", "text,label\nhello,greet\n\"unterminated,greet\nbye,farewell\n").await,
        422,
        "dataset_invalid",
    )
    .await;
    assert!(body["error"]["details"]["line"].as_i64().is_some_and(|l| l >= 3), "{body}");
    let body = assert_error(
        upload(&app, &s, model, "format=json", "[\n {\"text\": \"hi\", \"label\": \"greet\"},\n {\"text\": 5}\n]")
            .await,
        422,
        "dataset_invalid",
    )
    .await;
    assert_eq!(body["error"]["details"]["line"], 3);

    // A CSV with a duplicate and an empty row: stored, with the problems reported.
    let mut csv = String::from("text,label\n");
    for i in 0..10 {
        let _ = writeln!(csv, "where is my parcel {i},track");
    }
    for i in 0..5 {
        let _ = writeln!(csv, "I want my money back for order {i},refund");
    }
    csv.push_str("where is my parcel 3,track\n,refund\nhi,greet\n");
    let d = ok_json(upload(&app, &s, model, "format=csv&name=Support%20intents", &csv).await, 201).await;
    assert_eq!(
        (d["status"].as_str(), d["kind"].as_str(), d["row_count"].as_i64()),
        (Some("error"), Some("classification"), Some(18))
    );
    let report = &d["report"];
    assert_eq!(report["tokenizer"], "minilm");
    assert_eq!(report["duplicates"][0]["line"], 17, "{report}");
    assert_eq!(report["duplicates"][0]["message"], "same as line 5");
    assert_eq!(report["empty_rows"], json!([18]));
    assert_eq!(report["label_balance"][0], json!({ "label": "track", "count": 11, "share": 11.0 / 17.0 }));
    assert!(report["warnings"].to_string().contains("`greet` has a single example"), "{report}");
    let id = d["id"].as_i64().expect("id");

    let preview =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/datasets/{id}/preview?limit=2"), None).await;
    assert_eq!(preview["total_rows"], 18);
    assert_eq!(
        preview["rows"],
        json!([
            { "text": "where is my parcel 0", "label": "track", "line": 2 },
            { "text": "where is my parcel 1", "label": "track", "line": 3 },
        ])
    );
    assert_error(
        send_as(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/datasets/{id}/preview?limit=0"), None).await,
        422,
        "validation_failed",
    )
    .await;

    // Conversion: a download in another format, or a new dataset.
    let jsonl = app
        .as_user(&s, Method::GET, &format!("/api/v1/fine-tuning/datasets/{id}/download?format=jsonl"))
        .send()
        .await
        .expect("download");
    assert_eq!(jsonl.headers()["content-type"], "application/jsonl");
    let text = jsonl.text().await.expect("text");
    assert_eq!(text.lines().next(), Some(r#"{"label":"track","text":"where is my parcel 0"}"#));
    let converted = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/datasets/{id}/convert"),
        Some(json!({ "format": "json" })),
    )
    .await;
    assert_eq!(
        (converted["format"].as_str(), converted["source"].as_str(), converted["row_count"].as_i64()),
        (Some("json"), Some("conversion"), Some(18))
    );

    // The split: stratified, seeded (the same seed, the same rows).
    let split = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/datasets/{id}/split"),
        Some(json!({ "validation_share": 0.2, "seed": 7 })),
    )
    .await;
    let labels = |v: &Value| -> Vec<String> {
        v["rows"].as_array().expect("rows").iter().map(|r| r["label"].as_str().unwrap_or("").to_owned()).collect()
    };
    let valid_id = split["validation"]["id"].as_i64().expect("validation");
    let valid =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/datasets/{valid_id}/preview?limit=100"), None)
            .await;
    let mut got = labels(&valid);
    got.sort();
    // track 11 → 2, refund 6 (one empty) → 1, greet 1 → 0.
    assert_eq!(got, vec!["refund", "track", "track"], "{valid}");
    assert_eq!(split["train"]["row_count"].as_i64(), Some(15));
    let again = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/datasets/{id}/split"),
        Some(json!({ "validation_share": 0.2, "seed": 7 })),
    )
    .await;
    let again_id = again["validation"]["id"].as_i64().expect("again");
    let valid_again =
        call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/datasets/{again_id}/preview?limit=100"), None)
            .await;
    assert_eq!(valid_again["rows"], valid["rows"]);
    assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/fine-tuning/datasets/{id}/split"),
            Some(json!({ "validation_share": 0.9 })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;

    // From the bot's NLU data.
    for (name, texts) in
        [("track", ["where is my parcel", "track my order"]), ("refund", ["I want a refund", "money back please"])]
    {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        ok_json(
            send_as(
                &app,
                &s,
                Method::POST,
                &format!("/api/v1/bots/{bot}/nlu/intents"),
                Some(json!({ "name": name, "examples": examples })),
            )
            .await,
            201,
        )
        .await;
    }
    let from_bot = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/fine-tuning/models/{model}/datasets/from-bot"),
        Some(json!({ "source": "nlu" })),
    )
    .await;
    assert_eq!(
        (from_bot["source"].as_str(), from_bot["row_count"].as_i64(), from_bot["status"].as_str()),
        (Some("nlu"), Some(4), Some("ready"))
    );
    let listed = call_ok(&app, &s, Method::GET, &format!("/api/v1/fine-tuning/models/{model}/datasets"), None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(7));

    // A remote model needs a provider; a classification set is not a chat set.
    let body = assert_error(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{}/fine-tuning/models", s.org_id),
            Some(json!({ "name": "x", "base_model": BASE })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "provider_id");
    // Another organization sees none of it.
    let other = app.register("ft-other@example.com").await;
    assert_error(
        send_as(&app, &other, Method::GET, &format!("/api/v1/fine-tuning/datasets/{id}"), None).await,
        404,
        "dataset_not_found",
    )
    .await;
}

#[tokio::test]
async fn nlu_versions_are_compared_rolled_back_and_kept_across_a_restart() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("ft-versions@example.com").await;
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Diner" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    let nlu = format!("/api/v1/bots/{bot}/nlu");
    let add = |name: &'static str, texts: &'static [&'static str]| {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        (name, examples)
    };
    for (name, examples) in [
        add(
            "book",
            &["book a table for two", "reserve a table tonight", "table for four please", "I want to book dinner"],
        ),
        add(
            "hours",
            &["when are you open", "what are your opening hours", "are you open on sunday", "what time do you close"],
        ),
    ] {
        ok_json(
            send_as(
                &app,
                &s,
                Method::POST,
                &format!("{nlu}/intents"),
                Some(json!({ "name": name, "examples": examples })),
            )
            .await,
            201,
        )
        .await;
    }
    ok_json(send_as(&app, &s, Method::POST, &format!("{nlu}/train"), None).await, 202).await;
    app.run_jobs().await;
    // Version 2 learns a third intent.
    let (name, examples) = add(
        "menu",
        &["what is on the menu", "do you have vegan dishes", "show me the menu", "what desserts do you have"],
    );
    ok_json(
        send_as(&app, &s, Method::POST, &format!("{nlu}/intents"), Some(json!({ "name": name, "examples": examples })))
            .await,
        201,
    )
    .await;
    ok_json(send_as(&app, &s, Method::POST, &format!("{nlu}/train"), None).await, 202).await;
    app.run_jobs().await;
    let versions = call_ok(&app, &s, Method::GET, &format!("{nlu}/models"), None).await;
    let id_of = |n: i64| {
        versions["items"].as_array().expect("items").iter().find(|v| v["version_number"] == n).expect("version")["id"]
            .as_i64()
            .expect("id")
    };
    let (v1, v2) = (id_of(1), id_of(2));

    assert_eq!(parse(&app, &s, &nlu).await["model_version"], 2);

    // Compare: per-intent figures of both versions on the bot's examples.
    let cmp = call_ok(&app, &s, Method::GET, &format!("/api/v1/model-versions/{v1}/compare?with={v2}"), None).await;
    assert_eq!(cmp["evaluated_on"], "bot_examples");
    let menu = cmp["per_intent"].as_array().expect("per_intent").iter().find(|r| r["intent"] == "menu").cloned();
    let menu = menu.expect("menu row");
    assert_eq!((menu["support"].as_u64(), menu["recall_a"].as_f64()), (Some(4), Some(0.0)), "{cmp}");
    assert!(menu["f1_b"].as_f64().unwrap_or(0.0) > 0.5 && menu["f1_delta"].as_f64().unwrap_or(0.0) > 0.5, "{menu}");
    assert!(cmp["micro_f1_b"].as_f64() > cmp["micro_f1_a"].as_f64(), "{cmp}");
    assert!(cmp["metrics"].as_array().is_some_and(|m| m.iter().any(|r| r["name"] == "training.examples")), "{cmp}");

    // Production is a label; rollback restores version 1 and the parser follows.
    let prod = call_ok(&app, &s, Method::POST, &format!("/api/v1/model-versions/{v2}/production"), None).await;
    assert_eq!(prod["is_production"], true);
    let rolled = call_ok(&app, &s, Method::POST, &format!("{nlu}/models/rollback"), None).await;
    assert_eq!((rolled["id"].as_i64(), rolled["is_active"].as_bool()), (Some(v1), Some(true)));
    assert_eq!(parse(&app, &s, &nlu).await["model_version"], 1);
    assert_eq!(app.count(&format!("SELECT count(*) FROM model_versions WHERE bot_id = {bot} AND is_active = 1")), 1);

    // A restart keeps the active version.
    let app = app.restart(|c| c.ml.enabled = true).await;
    assert_eq!(parse(&app, &s, &nlu).await["model_version"], 1);
    // Rolling back again returns to version 2.
    let rolled = call_ok(&app, &s, Method::POST, &format!("{nlu}/models/rollback"), None).await;
    assert_eq!(rolled["id"].as_i64(), Some(v2));
    assert_eq!(parse(&app, &s, &nlu).await["model_version"], 2);
    let activated = call_ok(&app, &s, Method::POST, &format!("/api/v1/model-versions/{v1}/activate"), None).await;
    assert_eq!(activated["is_active"], true);
    assert_eq!(parse(&app, &s, &nlu).await["model_version"], 1);
}
