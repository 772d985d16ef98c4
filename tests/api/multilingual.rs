//! The multilingual encoder (multilingual-e5-small, produced by
//! models/fetch-e5.sh; scripts/test.sh runs it before the tests): it matches
//! Python onnxruntime on the same file, loads only when a bot or knowledge
//! base uses it, trains and parses a German bot, follows a bot's language
//! and override, and searches a knowledge base across languages.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use botbuilder::config::MlConfig;
use botbuilder::ml::encoders::load_multilingual;
use botbuilder::ml::{Encoder, dot};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app_with};
use crate::knowledge::{create_kb, drain, paste, search};

/// First 8 dimensions from Python onnxruntime 1.32 on the same file and
/// tokenizer (`models/export/check_e5.py`: prefix included, mean pooling over
/// every token, L2 normalisation).
const REFERENCE: [(&str, [f32; 8]); 3] = [
    ("query: hello world", [0.047_959, 0.016_298, -0.043_901, -0.054_591, 0.060_189, -0.055_66, 0.012_766, 0.074_876]),
    (
        "query: Wie setze ich meine PIN zurück?",
        [0.086_26, -0.099, 0.020_855, -0.078_116, 0.012_161, -0.078_415, -0.012_343, 0.069_755],
    ),
    (
        "passage: 我的卡被吞了怎么办",
        [0.094_245, -0.021_054, -0.038_783, -0.072_805, 0.089_435, -0.029_375, -0.010_177, 0.046_64],
    ),
];

fn assert_close(text: &str, got: &[f32], expected: &[f32; 8]) {
    let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{text}: norm {norm}");
    for (i, (a, b)) in got.iter().zip(expected).enumerate() {
        assert!((a - b).abs() < 2e-4, "{text}[{i}]: {a} vs {b}");
    }
}

#[tokio::test]
async fn the_multilingual_encoder_matches_the_python_reference_with_its_prefixes() {
    let e = load_multilingual(&MlConfig { max_batch_texts: 1, ..MlConfig::default() }).expect("run models/fetch-e5.sh");
    assert_eq!(e.dim(), 384);
    assert!(e.model_id().starts_with("multilingual-e5-small@2bc797aa3304"), "{}", e.model_id());
    // Queries get `query: `, passages `passage: ` put before them.
    let queries = e.embed(vec!["hello world".into(), "Wie setze ich meine PIN zurück?".into()]).await.expect("embed");
    assert_close(REFERENCE[0].0, &queries[0], &REFERENCE[0].1);
    assert_close(REFERENCE[1].0, &queries[1], &REFERENCE[1].1);
    let passage = e.embed_passages(vec!["我的卡被吞了怎么办".into()]).await.expect("embed");
    assert_close(REFERENCE[2].0, &passage[0], &REFERENCE[2].1);
    // Blocking and bulk paths prefix the same way.
    let blocking = e.embed_blocking(&["hello world"]).expect("embed");
    assert_close(REFERENCE[0].0, &blocking[0], &REFERENCE[0].1);

    // The same question in two languages is closer than another question.
    let v = e
        .embed(vec![
            "how do I reset my card pin".into(),
            "Wie setze ich meine PIN zurück?".into(),
            "what will the weather be tomorrow".into(),
        ])
        .await
        .expect("embed");
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.05, "{} vs {}", dot(&v[0], &v[1]), dot(&v[0], &v[2]));

    // Scripts the cut vocabulary left out, emoji and control characters: a
    // vector, no error.
    for text in ["Забронируй рейс в Москву", "नमस्ते दुनिया", "🙂🙃 \u{0007}", "mixed Deutsch und 日本語 text"]
    {
        let v = e.embed_one(text).await.expect("embed");
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{text}: norm {norm}");
    }
    // Token vectors keep offsets into the text itself (the prefix left out).
    let tokens = e.token_vectors_blocking(&["Hallo Welt"]).expect("tokens").remove(0);
    assert_eq!(tokens.offsets.first().map(|o| o.0), Some(0), "{:?}", tokens.offsets);
    assert_eq!(tokens.offsets.last().map(|o| o.1), Some("Hallo Welt".len()), "{:?}", tokens.offsets);
}

#[test]
fn a_model_file_with_another_hash_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    std::fs::copy(
        models.join("multilingual-e5-small-tokenizer.json"),
        dir.path().join("multilingual-e5-small-tokenizer.json"),
    )
    .expect("copy tokenizer");
    std::fs::write(dir.path().join("multilingual-e5-small-qint8.onnx"), b"not the model").expect("write");
    let config = MlConfig { multilingual_dir: Some(dir.path().to_owned()), ..MlConfig::default() };
    let error = format!("{:#}", load_multilingual(&config).err().expect("refused"));
    assert!(error.contains("SHA-256"), "{error}");
}

async fn make_bot(app: &TestApp, s: &Session, name: &str, language: &str) -> i64 {
    let org = s.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [org]));
    let bot = ok_json(
        send_as(
            app,
            s,
            Method::POST,
            &format!("/api/v1/orgs/{}/bots", s.org_id),
            Some(json!({ "name": name, "language": language })),
        )
        .await,
        201,
    )
    .await;
    bot["id"].as_i64().expect("id")
}

const GERMAN: [(&str, [&str; 6]); 3] = [
    (
        "tisch_reservieren",
        [
            "Ich möchte einen Tisch für zwei reservieren",
            "Kann ich für heute Abend einen Tisch buchen?",
            "Reservierung für vier Personen bitte",
            "Haben Sie am Freitag einen freien Tisch?",
            "Einen Tisch für morgen Abend, bitte",
            "Wir möchten bei Ihnen zu Abend essen, ist ein Tisch frei?",
        ],
    ),
    (
        "oeffnungszeiten",
        [
            "Wann haben Sie geöffnet?",
            "Wie sind Ihre Öffnungszeiten?",
            "Haben Sie am Sonntag offen?",
            "Bis wann ist heute geöffnet?",
            "Um wie viel Uhr schließen Sie?",
            "Ab wann kann man morgens kommen?",
        ],
    ),
    (
        "speisekarte",
        [
            "Was steht auf der Speisekarte?",
            "Haben Sie vegetarische Gerichte?",
            "Kann ich die Karte sehen?",
            "Welche Desserts gibt es?",
            "Gibt es glutenfreie Speisen?",
            "Was ist das Tagesgericht?",
        ],
    ),
];

async fn parse(app: &TestApp, s: &Session, bot: i64, text: &str) -> Value {
    ok_json(
        send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/parse"), Some(json!({ "text": text }))).await,
        200,
    )
    .await
}

#[tokio::test]
async fn a_german_bot_trains_and_parses_with_the_multilingual_model_and_follows_its_override() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("e5-de@example.com").await;
    let bot = make_bot(&app, &s, "Gasthaus", "de").await;
    let base = format!("/api/v1/bots/{bot}/nlu");
    for (intent, examples) in GERMAN {
        let examples: Vec<Value> = examples.iter().map(|t| json!({ "text": t })).collect();
        ok_json(
            send_as(
                &app,
                &s,
                Method::POST,
                &format!("{base}/intents"),
                Some(json!({ "name": intent, "examples": examples })),
            )
            .await,
            201,
        )
        .await;
    }
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    assert_eq!(status["encoder"], "multilingual-e5-small", "{status}");
    // Asking which model a bot uses does not load it.
    assert!(app.state.models.loaded_encoder(Encoder::Multilingual).is_none());

    ok_json(send_as(&app, &s, Method::POST, &format!("{base}/train"), None).await, 202).await;
    app.run_jobs().await;
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    let embedder = status["active_model"]["metrics"]["embedder"].as_str().expect("trained").to_owned();
    assert!(embedder.starts_with("multilingual-e5-small@"), "{status}");
    assert_eq!((&status["needs_training"], &status["embedding_model_changed"]), (&json!(false), &json!(false)));

    for (text, intent) in [
        ("Ist noch ein Tisch für drei Personen frei?", "tisch_reservieren"),
        ("Wann machen Sie auf?", "oeffnungszeiten"),
        ("Habt ihr vegane Gerichte?", "speisekarte"),
    ] {
        let parsed = parse(&app, &s, bot, text).await;
        assert_eq!(parsed["intent"]["name"], intent, "{text}: {parsed}");
    }
    // Another language than the examples ranks the right intent first (the
    // out-of-scope floor, calibrated on German examples, may still reject it).
    let parsed = parse(&app, &s, bot, "What are your opening hours?").await;
    assert_eq!(parsed["ranking"][0]["name"], "oeffnungszeiten", "{parsed}");
    // Mixed scripts and unknown scripts parse without error.
    for text in ["Tisch 予約 please", "Забронируй столик", "👋🏽"] {
        let parsed = parse(&app, &s, bot, text).await;
        assert!(parsed["ranking"].as_array().is_some_and(|r| !r.is_empty()), "{text}: {parsed}");
    }

    // An unknown encoder is refused with the field and the choices.
    let r = send_as(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/bots/{bot}"),
        Some(json!({ "settings": { "nlu_encoder": "gpt-embed" } })),
    )
    .await;
    let e = assert_error(r, 422, "validation_failed").await;
    assert_eq!(e["error"]["details"]["field"], "settings.nlu_encoder");
    assert!(e["error"]["message"].as_str().is_some_and(|m| m.contains("multilingual-e5-small")), "{e}");

    // The override retrains the bot with the English model (the model-change path).
    let patched = ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("/api/v1/bots/{bot}"),
            Some(json!({ "settings": { "nlu_encoder": "all-MiniLM-L6-v2" } })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(patched["settings"]["nlu_encoder"], "all-MiniLM-L6-v2");
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    assert_eq!((&status["encoder"], &status["embedding_model_changed"]), (&json!("all-MiniLM-L6-v2"), &json!(true)));
    assert_eq!(app.count("SELECT count(*) FROM jobs WHERE idempotency_key LIKE 'nlu.retrain-encoder:%'"), 1);
    // Until it is retrained, the bot parses with the model it was trained with.
    assert_eq!(parse(&app, &s, bot, "Wann machen Sie auf?").await["intent"]["name"], "oeffnungszeiten");
    app.run_jobs().await;
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    assert!(
        status["active_model"]["metrics"]["embedder"].as_str().is_some_and(|e| e.starts_with("all-MiniLM-L6-v2")),
        "{status}"
    );
    assert_eq!(status["active_model"]["version_number"], 2);
    assert_eq!(status["embedding_model_changed"], false);

    // Back to the language's choice (null): German → multilingual again.
    ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("/api/v1/bots/{bot}"),
            Some(json!({ "settings": { "nlu_encoder": null } })),
        )
        .await,
        200,
    )
    .await;
    app.run_jobs().await;
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    assert_eq!(status["encoder"], "multilingual-e5-small");
    assert_eq!(status["active_model"]["version_number"], 3, "{status}");
}

#[tokio::test]
async fn an_english_server_never_loads_the_multilingual_model() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("e5-en@example.com").await;
    let bot = make_bot(&app, &s, "Diner", "en").await;
    let base = format!("/api/v1/bots/{bot}/nlu");
    let examples = ["book a table", "reserve a table for two", "a table tonight please", "can I book for four"];
    let other = ["when are you open", "opening hours please", "are you open on sunday", "what time do you close"];
    for (name, texts) in [("book", examples), ("hours", other)] {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        ok_json(
            send_as(
                &app,
                &s,
                Method::POST,
                &format!("{base}/intents"),
                Some(json!({ "name": name, "examples": examples })),
            )
            .await,
            201,
        )
        .await;
    }
    ok_json(send_as(&app, &s, Method::POST, &format!("{base}/train"), None).await, 202).await;
    app.run_jobs().await;
    assert_eq!(parse(&app, &s, bot, "is there a free table tonight").await["intent"]["name"], "book");
    let status = ok_json(send_as(&app, &s, Method::GET, &base, None).await, 200).await;
    assert_eq!(status["encoder"], "all-MiniLM-L6-v2");
    // Listing the knowledge models names it without loading it.
    let models = ok_json(
        send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/knowledge/models", s.org_id), None).await,
        200,
    )
    .await;
    let e5 = models.as_array().and_then(|m| m.iter().find(|m| m["name"] == "multilingual-e5-small")).cloned();
    assert_eq!(e5.as_ref().map(|m| m["model_id"].is_null()), Some(true), "{models}");
    assert!(app.state.models.loaded_encoder(Encoder::Multilingual).is_none(), "loaded without a user");
}

#[tokio::test]
async fn a_knowledge_base_with_the_multilingual_model_answers_questions_in_other_languages() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("e5-kb@example.com").await;
    let kb =
        create_kb(&app, &s, json!({ "name": "Laden", "language": "de", "embedding_model": "multilingual-e5-small" }))
            .await;
    assert_eq!(kb["embedding_model"], "multilingual-e5-small");
    let kb = kb["id"].as_i64().expect("id");
    paste(&app, &s, kb, "Öffnungszeiten", "Unser Geschäft ist montags bis freitags von 9 bis 18 Uhr geöffnet, samstags von 10 bis 14 Uhr. Sonntags bleibt es geschlossen.").await;
    paste(
        &app,
        &s,
        kb,
        "返品",
        "返品は購入後30日以内に受け付けます。レシートと商品をお持ちください。返金は元の支払い方法に戻されます。",
    )
    .await;
    paste(
        &app,
        &s,
        kb,
        "Envíos",
        "Enviamos a toda España en 48 horas. El envío es gratuito para pedidos de más de 50 euros.",
    )
    .await;
    drain(&app).await;
    let model: String = app.sql(|c| {
        c.query_row("SELECT DISTINCT embedding_model FROM chunks WHERE knowledge_base_id = ?1", [kb], |r| r.get(0))
    });
    assert!(model.starts_with("multilingual-e5-small@"), "{model}");
    for (query, expected) in [
        ("When is the shop open on Saturday?", "Öffnungszeiten"),
        ("Can I return an item and get my money back?", "返品"),
        ("How long does delivery take?", "Envíos"),
    ] {
        let found = search(&app, &s, kb, json!({ "query": query, "mode": "vector", "top_k": 3 })).await;
        assert_eq!(found["results"][0]["document_name"], expected, "`{query}`: {found}");
    }
}
