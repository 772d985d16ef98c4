//! The embedded ONNX model: loads from inside the binary, matches a Python
//! (onnxruntime) reference, batches concurrent requests without mixing them
//! up, and reports readiness.

use std::sync::OnceLock;

use botbuilder::ml::{Embedder, EmbedderOptions, dot};

use crate::helpers::spawn_app_with;

/// One model per test process: loading takes a few hundred milliseconds.
fn embedder() -> &'static Embedder {
    static EMBEDDER: OnceLock<Embedder> = OnceLock::new();
    EMBEDDER.get_or_init(|| Embedder::load(&EmbedderOptions::default(), None, None).expect("embedded model loads"))
}

/// First 8 dimensions computed with Python onnxruntime 1.32 on the same
/// ONNX file and tokenizer (mean pooling, L2 normalisation).
const REFERENCE: [(&str, [f32; 8]); 3] = [
    ("hello world", [-0.033_338, 0.016_848, -0.000_402, 0.028_887, -0.043_372, -0.167_144, 0.065_844, -0.009_645]),
    (
        "How do I reset my password?",
        [0.005_707, -0.054_424, -0.067_233, -0.036_323, -0.041_331, 0.068_742, 0.011_199, 0.025_279],
    ),
    (
        "The quick brown fox jumps over the lazy dog.",
        [0.046_006, 0.059_121, 0.054_569, 0.077_34, 0.034_437, -0.044_656, 0.005_031, -0.053_558],
    ),
];

#[tokio::test]
async fn embeddings_match_the_python_reference() {
    // Its own model, one text per inference: the shared one batches texts of
    // the same length from the concurrent test below, and the int8 model
    // quantizes activations per inference, so a batched vector moves ~1e-3.
    let e = &Embedder::load(&EmbedderOptions { max_batch_texts: 1, ..EmbedderOptions::default() }, None, None)
        .expect("embedded model loads");
    assert_eq!(e.dim(), 384);
    assert!(e.model_id().starts_with("all-MiniLM-L6-v2"));
    for (text, expected) in REFERENCE {
        let v = e.embed_one(text).await.expect("embed");
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{text}: norm {norm}");
        for (i, (a, b)) in v.iter().zip(expected).enumerate() {
            assert!((a - b).abs() < 2e-4, "{text}[{i}]: {a} vs {b}");
        }
    }
}

#[tokio::test]
async fn similar_sentences_are_closer() {
    let e = embedder();
    let v = e
        .embed(vec![
            "I forgot my password".into(),
            "How can I reset my login credentials?".into(),
            "What will the weather be tomorrow?".into(),
        ])
        .await
        .expect("embed");
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.2, "{} vs {}", dot(&v[0], &v[1]), dot(&v[0], &v[2]));
}

/// Embeds every text concurrently through the queue.
async fn embed_concurrently(e: &Embedder, texts: &[String]) -> Vec<Vec<f32>> {
    let handles: Vec<_> = texts
        .iter()
        .map(|t| {
            tokio::spawn({
                let (e, t) = (e.clone(), t.clone());
                async move { e.embed_one(&t).await }
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("join").expect("embed"));
    }
    out
}

#[tokio::test]
async fn concurrent_requests_are_not_mixed_up_and_each_text_gets_its_own_vector() {
    const ASKS: [&str; 8] = [
        "how do I cancel my",
        "tell me about the",
        "I want a new",
        "where is my",
        "can you check the",
        "I lost my",
        "please book a",
        "what is the price of the",
    ];
    const THINGS: [&str; 8] = ["refund", "weather", "password", "flight", "pizza", "invoice", "guitar", "doctor"];
    let e = embedder();
    let texts: Vec<String> = (0..64).map(|i| format!("{} {}", ASKS[i / 8], THINGS[i % 8])).collect();
    let alone: Vec<Vec<f32>> =
        e.embed_blocking(&texts.iter().map(String::as_str).collect::<Vec<_>>()).expect("blocking");
    // Micro-batched (the default), same-length texts share an inference and
    // the int8 model's per-inference activation scale moves a vector with
    // its batch-mates (cosine down to 0.979 measured, while the nearest other
    // text stays below 0.85); it must still be its own text's vector and
    // nobody else's.
    for (i, v) in embed_concurrently(e, &texts).await.iter().enumerate() {
        let sim = dot(v, &alone[i]);
        assert!(sim > 0.95, "text {i}: cosine {sim} to its own vector");
        for (j, other) in alone.iter().enumerate().filter(|(j, _)| *j != i) {
            assert!(dot(v, other) < sim, "text {i} is closer to text {j}: {} vs {sim}", dot(v, other));
        }
    }

    // With ml.max_batch_texts = 1 every text runs alone: under any load it
    // gets exactly the vector it gets on its own (and in training).
    let single = Embedder::load(&EmbedderOptions { max_batch_texts: 1, ..EmbedderOptions::default() }, None, None)
        .expect("embedded model loads");
    for (i, v) in embed_concurrently(&single, &texts).await.iter().enumerate() {
        assert_eq!(v, &alone[i], "text {i} moved under concurrent load");
    }
    // Long inputs are truncated, not refused.
    let long = "word ".repeat(5000);
    assert_eq!(e.embed_one(&long).await.expect("long").len(), 384);
    assert_eq!(e.count_tokens(&long).expect("count"), 256);
}

#[tokio::test]
async fn readyz_waits_for_the_models() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let embedder = app.state.models.embedder().await.expect("models load");
    assert_eq!(embedder.dim(), 384);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.expect("json");
    assert_eq!(ready["checks"]["models"]["state"], "ready", "{ready}");
    let metrics = app.get("/metrics").await.text().await.expect("text");
    assert!(metrics.contains("botbuilder_ml_embedded_texts_total"), "{metrics}");
}

#[test]
fn bulk_embedding_on_single_threaded_sessions_gives_the_serving_vectors() {
    let e = embedder();
    // 2,000 texts: large enough for the bulk job to load its own sessions.
    let texts: Vec<String> = (0..2000).map(|i| format!("message number {i} about order {}", i * 7 % 13)).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bulk = e.bulk(texts.len()).expect("bulk sessions load");
    let vectors = bulk.embed(&texts).expect("bulk embed");
    assert_eq!(vectors.len(), texts.len());
    // Bit for bit what each text gets alone on the serving session, in order.
    for i in [0, 1, 999, 1000, 1001, 1999] {
        assert_eq!(vectors[i], e.embed_blocking(&texts[i..=i]).expect("alone")[0], "text {i}");
    }
    // A small job runs on the serving session and agrees too.
    let small = e.bulk(10).expect("small").embed(&texts[..10]).expect("small embed");
    assert_eq!(small, vectors[..10]);
}
