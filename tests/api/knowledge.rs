//! Knowledge bases end to end: CRUD, ingestion of every format through the
//! real job with the embedded model, bad input, resumption after a crash,
//! deletion and replacement, hybrid search, tenant isolation, answers.

#![allow(
    clippy::too_many_lines,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::cast_possible_truncation,
    reason = "end-to-end scenarios read best as one story"
)]

use botbuilder::jobs;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fake_http::{self, FakeServer, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app, spawn_app_with};

pub async fn create_kb(app: &TestApp, s: &Session, body: Value) -> Value {
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/orgs/{}/knowledge-bases", s.org_id))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "create kb");
    r.json().await.expect("json")
}

pub async fn upload(app: &TestApp, s: &Session, kb: i64, name: &str, bytes: Vec<u8>, mime: &str) -> reqwest::Response {
    let part = Part::bytes(bytes).file_name(name.to_owned()).mime_str(mime).expect("mime");
    app.as_user(s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents"))
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .expect("send")
}

pub async fn paste(app: &TestApp, s: &Session, kb: i64, name: &str, text: &str) -> Value {
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents/text"))
        .json(&json!({ "name": name, "text": text }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201, "paste");
    r.json().await.expect("json")
}

/// Runs queued jobs until none is due.
pub async fn drain(app: &TestApp) {
    let stop = CancellationToken::new();
    for _ in 0..500 {
        if !jobs::run_once(&app.state, "test", &stop).await.expect("run_once") {
            return;
        }
    }
    panic!("jobs did not drain");
}

pub async fn search(app: &TestApp, s: &Session, kb: i64, body: Value) -> Value {
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/search"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "search {body}");
    r.json().await.expect("json")
}

async fn doc(app: &TestApp, s: &Session, id: i64) -> Value {
    app.as_user(s, Method::GET, &format!("/api/v1/documents/{id}"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

fn count(app: &TestApp, sql: &str) -> i64 {
    app.sql(|c| c.query_row(sql, [], |r| r.get(0)))
}

async fn ml_app() -> TestApp {
    spawn_app_with(|c| c.ml.enabled = true).await
}

#[tokio::test]
async fn knowledge_base_crud_validation_and_isolation() {
    let app = spawn_app().await;
    let s = app.register("kb-owner@example.com").await;
    let other = app.register("kb-other@example.com").await;
    let kb = create_kb(
        &app,
        &s,
        json!({ "name": "Handbook", "description": "All about us", "chunk_size": 128, "chunk_overlap": 16 }),
    )
    .await;
    assert_eq!(kb["embedding_model"], "all-MiniLM-L6-v2");
    assert_eq!(kb["document_count"], 0);
    let id = kb["id"].as_i64().expect("id");

    let dup = app
        .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/knowledge-bases", s.org_id))
        .json(&json!({ "name": "Handbook" }))
        .send()
        .await
        .expect("send");
    assert_error(dup, 409, "name_taken").await;
    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "x", "chunk_size": 8 }), "chunk_size"),
        (json!({ "name": "x", "chunk_size": 64, "chunk_overlap": 40 }), "chunk_overlap"),
        (json!({ "name": "x", "language": "klingon!" }), "language"),
    ] {
        let r = app
            .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/knowledge-bases", s.org_id))
            .json(&body)
            .send()
            .await
            .expect("send");
        let e = assert_error(r, 422, "validation_failed").await;
        assert_eq!(e["error"]["details"]["field"], field);
    }
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/orgs/{}/knowledge-bases", s.org_id))
        .json(&json!({ "name": "x", "embedding_model": "gpt-embed" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 422, "embedding_model_unavailable").await;

    let r = app
        .as_user(&s, Method::PATCH, &format!("/api/v1/knowledge-bases/{id}"))
        .json(&json!({ "name": "Handbook 2", "description": null, "chunk_size": 200 }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let updated: Value = r.json().await.expect("json");
    assert_eq!(updated["name"], "Handbook 2");
    assert!(updated["description"].is_null());
    assert_eq!(updated["chunk_size"], 200);

    let list: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/orgs/{}/knowledge-bases", s.org_id))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(list["items"].as_array().expect("items").len(), 1);
    // Another organization's owner sees nothing of it.
    let r = app.as_user(&other, Method::GET, &format!("/api/v1/knowledge-bases/{id}")).send().await.expect("send");
    assert_error(r, 404, "knowledge_base_not_found").await;
    let r = app.as_user(&other, Method::DELETE, &format!("/api/v1/knowledge-bases/{id}")).send().await.expect("send");
    assert_error(r, 404, "knowledge_base_not_found").await;
    let audit = count(&app, "SELECT count(*) FROM audit_logs WHERE action LIKE 'knowledge_base.%'");
    assert_eq!(audit, 2);

    let r = app.as_user(&s, Method::DELETE, &format!("/api/v1/knowledge-bases/{id}")).send().await.expect("send");
    assert_eq!(r.status(), 204);
    let r = app.as_user(&s, Method::GET, &format!("/api/v1/knowledge-bases/{id}")).send().await.expect("send");
    assert_error(r, 404, "knowledge_base_not_found").await;
}

#[tokio::test]
async fn every_format_is_ingested_chunked_and_searchable() {
    let app = ml_app().await;
    let s = app.register("formats@example.com").await;
    let kb = create_kb(&app, &s, json!({ "name": "Formats", "chunk_size": 96, "chunk_overlap": 16 })).await["id"]
        .as_i64()
        .expect("id");

    let md = "# Travel policy\n\n## Refunds\n\nRefunds for cancelled trips are paid to the original card within five business days.\n\n## Luggage\n\nEach traveller may bring one suitcase of at most 23 kilograms.";
    let html = "<html><head><title>Office</title><script>var secret='x';</script></head><body><nav>Home | About</nav><h1>Office</h1><h2>Parking</h2><p>Visitors park in the underground garage on level minus two.</p></body></html>";
    let pdf =
        fake_http::pdf(&["The aquarium opens at nine in the morning.", "Penguins are fed every afternoon at three."]);
    let docx = fake_http::docx(&[
        (Some("Heading1"), "Safety"),
        (None, "Fire extinguishers hang beside every staircase door."),
        (None, "Evacuation drills happen twice a year."),
    ]);
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "notes.txt",
            b"The cafeteria serves vegetarian lasagna on Thursdays.\n\nCoffee is free before ten.".to_vec(),
            "text/plain",
        ),
        ("policy.md", md.as_bytes().to_vec(), "text/markdown"),
        ("office.html", html.as_bytes().to_vec(), "text/html"),
        ("aquarium.pdf", pdf, "application/pdf"),
        ("safety.docx", docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("prices.csv", b"item,price\nespresso,2.10\ncappuccino,3.40\n".to_vec(), "text/csv"),
        (
            "faq.json",
            br#"[{"question":"Where is the gym?","answer":"The gym is in building C, next to the sauna."}]"#.to_vec(),
            "application/json",
        ),
    ];
    let mut ids = Vec::new();
    for (name, bytes, mime) in files {
        let r = upload(&app, &s, kb, name, bytes, mime).await;
        assert_eq!(r.status(), 201, "{name}");
        let d: Value = r.json().await.expect("json");
        assert_eq!(d["status"], "queued");
        assert_eq!(d["progress"]["status"], "pending");
        ids.push((name, d["id"].as_i64().expect("id")));
    }
    let pasted = paste(&app, &s, kb, "Pasted", "Our mascot is a purple giraffe named Gerald.").await;
    ids.push(("pasted", pasted["id"].as_i64().expect("id")));
    drain(&app).await;

    for (name, id) in &ids {
        let d = doc(&app, &s, *id).await;
        assert_eq!(d["status"], "ready", "{name}: {d}");
        assert!(d["chunk_count"].as_i64().expect("n") >= 1, "{name}");
        assert_eq!(d["progress"]["status"], "completed");
        assert_eq!(d["progress"]["embedded_chunks"], d["progress"]["total_chunks"]);
        assert_eq!(d["content_hash"].as_str().map(str::len), Some(64));
    }
    // Statistics kept by triggers; every chunk has its vector, code and FTS row.
    let kb_row: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/knowledge-bases/{kb}"))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    let chunks = count(&app, "SELECT count(*) FROM chunks");
    assert_eq!(kb_row["total_chunks"], chunks);
    assert_eq!(kb_row["document_count"], 8);
    assert!(kb_row["total_tokens"].as_i64().expect("t") > 0);
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_vectors"), chunks);
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_codes"), chunks);
    assert_eq!(count(&app, "SELECT count(*) FROM files WHERE organization_id IS NOT NULL"), 8);

    // Heading paths, pages and CSV rows in the chunk viewer.
    let by_name = |n: &str| ids.iter().find(|(name, _)| *name == n).expect("doc").1;
    let md_chunks: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/documents/{}/chunks", by_name("policy.md")))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    let paths: Vec<&str> =
        md_chunks["items"].as_array().expect("items").iter().map(|c| c["heading_path"].as_str().expect("p")).collect();
    assert!(paths.contains(&"Travel policy > Refunds") && paths.contains(&"Travel policy > Luggage"), "{paths:?}");
    let pdf_chunks: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/documents/{}/chunks", by_name("aquarium.pdf")))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    let first = &pdf_chunks["items"][0];
    assert_eq!(first["metadata"]["page"], 1, "{first}");
    let html_chunks: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/documents/{}/chunks", by_name("office.html")))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    let html_text = html_chunks["items"].to_string();
    assert!(
        html_text.contains("underground garage")
            && !html_text.contains("secret")
            && !html_text.contains("Home | About"),
        "{html_text}"
    );

    // Each format is findable in every mode.
    for (query, expected) in [
        ("When are penguins fed?", "aquarium.pdf"),
        ("how heavy can a suitcase be", "policy.md"),
        ("where do visitors park", "office.html"),
        ("fire extinguisher location", "safety.docx"),
        ("cappuccino price", "prices.csv"),
        ("where is the gym", "faq.json"),
        ("vegetarian lasagna", "notes.txt"),
        ("giraffe mascot", "Pasted"),
    ] {
        for mode in ["hybrid", "vector", "keyword"] {
            let found = search(&app, &s, kb, json!({ "query": query, "mode": mode, "top_k": 3 })).await;
            let top = &found["results"][0];
            assert_eq!(top["document_name"], expected, "{mode} `{query}`: {found}");
            if mode == "hybrid" {
                assert!(top["vector_score"].as_f64().is_some());
            }
        }
    }
    // Scores and highlights.
    let found = search(&app, &s, kb, json!({ "query": "refunds card", "mode": "keyword" })).await;
    let top = &found["results"][0];
    let snippet: Vec<char> = top["snippet"].as_str().expect("snippet").chars().collect();
    let marked: Vec<String> = top["highlights"]
        .as_array()
        .expect("h")
        .iter()
        .map(|h| {
            let (a, b) = (h[0].as_u64().expect("a") as usize, h[1].as_u64().expect("b") as usize);
            snippet[a..b].iter().collect()
        })
        .collect();
    assert!(
        marked.iter().any(|m| m.eq_ignore_ascii_case("refunds")) && marked.iter().any(|m| m == "card"),
        "{marked:?}"
    );
    assert!(top["keyword_score"].as_f64().expect("bm25") > 0.0);

    // Filters: by document and by metadata (page).
    let pdf_id = by_name("aquarium.pdf");
    let found = search(&app, &s, kb, json!({ "query": "opening time", "filters": { "document_ids": [pdf_id] } })).await;
    assert!(found["results"].as_array().expect("r").iter().all(|r| r["document_id"] == pdf_id));
    // (The two short PDF pages make one chunk: page 1, page_end 2.)
    assert_eq!(first["metadata"]["page_end"], 2, "{first}");
    for mode in ["vector", "keyword", "hybrid"] {
        let found = search(
            &app,
            &s,
            kb,
            json!({ "query": "penguins feeding", "filters": { "metadata": { "page": 1 } }, "mode": mode }),
        )
        .await;
        let results = found["results"].as_array().expect("r");
        assert!(!results.is_empty() && results.iter().all(|r| r["metadata"]["page"] == 1), "{mode}: {found}");
        let found = search(
            &app,
            &s,
            kb,
            json!({ "query": "penguins feeding", "filters": { "metadata": { "page": 7 } }, "mode": mode }),
        )
        .await;
        assert!(found["results"].as_array().expect("r").is_empty(), "{mode}: {found}");
    }

    // FTS5 syntax in user text is never an error; empty and huge queries are 422.
    for q in ["\"unbalanced", "NEAR(a b) AND OR NOT", "col:x ^y * (", "'; DROP TABLE chunks; --", "\u{0}\u{1}", "***"] {
        for mode in ["keyword", "hybrid"] {
            let r = app
                .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/search"))
                .json(&json!({ "query": q, "mode": mode }))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 200, "{q}");
        }
    }
    for (body, field) in [
        (json!({ "query": "   " }), "query"),
        (json!({ "query": "x".repeat(2001) }), "query"),
        (json!({ "query": "x", "top_k": 0 }), "top_k"),
        (json!({ "query": "x", "filters": { "metadata": { "a b": 1 } } }), "filters.metadata"),
    ] {
        let r = app
            .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/search"))
            .json(&body)
            .send()
            .await
            .expect("send");
        let e = assert_error(r, 422, "validation_failed").await;
        assert_eq!(e["error"]["details"]["field"], field);
    }
    assert_eq!(count(&app, "SELECT count(*) FROM chunks"), chunks, "nothing changed");
}

#[tokio::test]
async fn bad_files_are_refused_or_fail_with_stable_codes_and_leave_no_chunks() {
    let app = spawn_app_with(|c| {
        c.ml.enabled = true;
        c.http.max_upload_bytes = 3 * 1024 * 1024;
    })
    .await;
    let s = app.register("bad-files@example.com").await;
    let kb = create_kb(&app, &s, json!({ "name": "Bad" })).await["id"].as_i64().expect("id");
    let pdf = fake_http::pdf(&["hello"]);

    // Refused at upload.
    let cases: Vec<(&str, Vec<u8>, &str, u16, &str)> = vec![
        ("report.docx", pdf.clone(), "application/octet-stream", 422, "file_type_mismatch"),
        ("notes.pdf", b"just some text".to_vec(), "application/pdf", 422, "file_type_mismatch"),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec(), "text/plain", 422, "file_type_mismatch"),
        ("tool.exe", b"MZ\x90\0".to_vec(), "application/octet-stream", 415, "unsupported_file_type"),
        ("sheet.xlsx", b"PK\x03\x04".to_vec(), "application/octet-stream", 415, "unsupported_file_type"),
        ("empty.txt", Vec::new(), "text/plain", 422, "empty_document"),
        ("huge.txt", vec![b'a'; 3 * 1024 * 1024 + 1], "text/plain", 413, "payload_too_large"),
    ];
    for (name, bytes, mime, status, code) in cases {
        let r = upload(&app, &s, kb, name, bytes, mime).await;
        assert_error(r, status, code).await;
    }
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents"))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_error(r, 415, "unsupported_media_type").await;
    assert_eq!(count(&app, "SELECT count(*) FROM documents"), 0);

    // Accepted, then failed by the job with a clear code and no chunks.
    let mut corrupt_pdf = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage garbage".to_vec();
    corrupt_pdf.extend(std::iter::repeat_n(b'#', 500));
    let bomb = fake_http::docx_bomb(300 * 1024 * 1024);
    assert!(bomb.len() < 3 * 1024 * 1024, "the bomb is small: {}", bomb.len());
    let failing: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("broken.pdf", corrupt_pdf, "application/pdf", "corrupt_file"),
        (
            "bomb.docx",
            bomb,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "decompression_limit",
        ),
        (
            "broken.docx",
            {
                let mut z = fake_http::docx(&[(None, "x")]);
                z.truncate(z.len() / 2);
                z
            },
            "application/octet-stream",
            "corrupt_file",
        ),
        ("nothing.html", b"<html><script>only()</script></html>".to_vec(), "text/html", "empty_document"),
        ("bad.json", b"{\"a\": [1, 2".to_vec(), "application/json", "corrupt_file"),
    ];
    let mut ids = Vec::new();
    for (name, bytes, mime, code) in failing {
        let r = upload(&app, &s, kb, name, bytes, mime).await;
        let status = r.status();
        let body: Value = r.json().await.expect("json");
        if status == 422 {
            // A truncated zip may already be refused at upload (not a Word archive).
            assert_eq!(body["error"]["code"], "file_type_mismatch", "{name}: {body}");
            continue;
        }
        assert_eq!(status, 201, "{name}: {body}");
        ids.push((name, body["id"].as_i64().expect("id"), code));
    }
    drain(&app).await;
    for (name, id, code) in ids {
        let d = doc(&app, &s, id).await;
        assert_eq!(d["status"], "failed", "{name}: {d}");
        assert_eq!(d["error_code"], code, "{name}: {d}");
        assert!(d["error_message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(d["chunk_count"], 0);
    }
    assert_eq!(count(&app, "SELECT count(*) FROM chunks"), 0);

    // Duplicates: the same file (409 at once) and the same text in another format (failed in the job).
    let first = upload(&app, &s, kb, "a.txt", b"Duplicated content about otters.".to_vec(), "text/plain").await;
    assert_eq!(first.status(), 201);
    let again = upload(&app, &s, kb, "a.txt", b"Duplicated content about otters.".to_vec(), "text/plain").await;
    assert_error(again, 409, "duplicate_document").await;
    let md = upload(&app, &s, kb, "a.md", b"Duplicated   content about otters.\n".to_vec(), "text/markdown").await;
    let md_id = md.json::<Value>().await.expect("json")["id"].as_i64().expect("id");
    drain(&app).await;
    let d = doc(&app, &s, md_id).await;
    assert_eq!(d["error_code"], "duplicate_document", "{d}");
}

/// Builds a long document whose chunking gives many chunks.
fn long_text(paragraphs: usize) -> String {
    (0..paragraphs)
        .map(|i| format!("Section {i} explains how widget model {i} is calibrated, cleaned and stored in warehouse {}. It also lists the spare parts of model {i}.", i % 7))
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[tokio::test]
async fn ingestion_resumes_after_a_crash_without_duplicating_chunks() {
    let app = ml_app().await;
    let s = app.register("crash@example.com").await;
    // Sign-up queued a verification email; the worker below must pick the ingestion.
    drain(&app).await;
    let kb = create_kb(&app, &s, json!({ "name": "Crash", "chunk_size": 40, "chunk_overlap": 0 })).await["id"]
        .as_i64()
        .expect("id");
    let d = paste(&app, &s, kb, "Long", &long_text(120)).await;
    let id = d["id"].as_i64().expect("id");

    // Run the job and kill it once some (not all) batches are stored.
    let state = app.state.clone();
    let worker = tokio::spawn(async move {
        let stop = CancellationToken::new();
        jobs::run_once(&state, "doomed", &stop).await
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let stored = count(&app, &format!("SELECT count(*) FROM chunks WHERE document_id = {id}"));
        if stored > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no chunk was stored");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    worker.abort();
    let _ = worker.await;
    let partial = count(&app, &format!("SELECT count(*) FROM chunks WHERE document_id = {id}"));
    let d = doc(&app, &s, id).await;
    let total = d["progress"]["total_chunks"].as_i64().expect("total");
    assert!(partial > 0 && partial < total, "killed mid-way: {partial} of {total}");
    assert_eq!(d["status"], "embedding");
    // Partial documents are not searchable.
    let found = search(&app, &s, kb, json!({ "query": "widget calibration", "mode": "keyword" })).await;
    assert!(found["results"].as_array().expect("r").is_empty());

    // The lease expires (the worker "died"); another worker resumes.
    app.sql(|c| c.execute("UPDATE jobs SET locked_until = '2000-01-01T00:00:00.000Z' WHERE status = 'running'", []));
    drain(&app).await;
    let d = doc(&app, &s, id).await;
    assert_eq!(d["status"], "ready", "{d}");
    assert_eq!(d["chunk_count"], total);
    assert_eq!(count(&app, &format!("SELECT count(*) FROM chunks WHERE document_id = {id}")), total);
    assert_eq!(count(&app, &format!("SELECT count(DISTINCT chunk_index) FROM chunks WHERE document_id = {id}")), total);
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_vectors"), total);
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_codes"), total);
    assert_eq!(count(&app, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'widget'"), total);
    let result: String =
        app.sql(|c| c.query_row("SELECT result FROM jobs WHERE kind = 'knowledge.ingest'", [], |r| r.get(0)));
    let result: Value = serde_json::from_str(&result).expect("json");
    assert_eq!(result["resumed_from"].as_i64(), Some(partial), "{result}");
    assert_eq!(result["embedded"].as_i64(), Some(total - partial));
}

#[tokio::test]
async fn deleting_and_replacing_documents_removes_chunks_vectors_and_fts_rows() {
    let app = ml_app().await;
    let s = app.register("replace@example.com").await;
    let kb = create_kb(&app, &s, json!({ "name": "Replace" })).await["id"].as_i64().expect("id");
    let r = upload(&app, &s, kb, "menu.txt", b"The soup of the day is tomato basil.".to_vec(), "text/plain").await;
    let old = r.json::<Value>().await.expect("json")["id"].as_i64().expect("id");
    let keep =
        paste(&app, &s, kb, "Keep", "The library closes at eight in the evening.").await["id"].as_i64().expect("id");
    drain(&app).await;

    // Replace: the new version takes over when ready; until then the old one is searched.
    let part = Part::bytes(b"The soup of the day is pumpkin ginger.".to_vec())
        .file_name("menu.txt")
        .mime_str("text/plain")
        .expect("mime");
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/documents/{old}/replace"))
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let new: Value = r.json().await.expect("json");
    assert_eq!(new["replaces_document_id"], old);
    let found = search(&app, &s, kb, json!({ "query": "soup of the day", "mode": "keyword" })).await;
    assert!(found["results"][0]["content"].as_str().expect("c").contains("tomato"));
    drain(&app).await;
    let r = app.as_user(&s, Method::GET, &format!("/api/v1/documents/{old}")).send().await.expect("send");
    assert_error(r, 404, "document_not_found").await;
    let found = search(&app, &s, kb, json!({ "query": "soup of the day" })).await;
    assert!(found["results"][0]["content"].as_str().expect("c").contains("pumpkin"), "{found}");
    assert_eq!(count(&app, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'tomato'"), 0);

    // Delete: chunks, FTS rows, vectors and codes go in one transaction.
    let before = count(&app, "SELECT count(*) FROM chunks");
    let new_id = new["id"].as_i64().expect("id");
    let r = app.as_user(&s, Method::DELETE, &format!("/api/v1/documents/{new_id}")).send().await.expect("send");
    assert_eq!(r.status(), 204);
    let remaining = count(&app, "SELECT count(*) FROM chunks");
    assert!(remaining < before && remaining > 0);
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_vectors"), remaining);
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_codes"), remaining);
    assert_eq!(count(&app, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'soup'"), 0);
    assert_eq!(count(&app, &format!("SELECT count(*) FROM chunks WHERE document_id = {keep}")), remaining);
    let kb_row: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/knowledge-bases/{kb}"))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert_eq!(kb_row["total_chunks"], remaining);
    assert_eq!(kb_row["document_count"], 1);
    let found = search(&app, &s, kb, json!({ "query": "soup of the day", "mode": "vector" })).await;
    assert!(found["results"].as_array().expect("r").iter().all(|r| r["document_id"] == keep));
}

#[tokio::test]
async fn search_never_sees_another_organizations_chunks() {
    let app = ml_app().await;
    let a = app.register("tenant-a@example.com").await;
    let b = app.register("tenant-b@example.com").await;
    let kb_a = create_kb(&app, &a, json!({ "name": "A" })).await["id"].as_i64().expect("id");
    let kb_b = create_kb(&app, &b, json!({ "name": "B" })).await["id"].as_i64().expect("id");
    paste(&app, &a, kb_a, "A zebra", "Zebras in our zoo eat hay twice a day.").await;
    paste(&app, &b, kb_b, "B zebra", "Secret: zebras of organization B sleep standing up.").await;
    drain(&app).await;

    for mode in ["hybrid", "keyword", "vector"] {
        let found =
            search(&app, &a, kb_a, json!({ "query": "zebra sleep standing", "mode": mode, "top_k": 100 })).await;
        let text = found.to_string();
        assert!(!text.contains("Secret"), "{mode}: {text}");
        assert!(found["results"].as_array().expect("r").iter().all(|r| r["knowledge_base_id"] == kb_a));
    }
    // B's knowledge base through A's session: 404 on every route form.
    let r = app
        .as_user(&a, Method::POST, &format!("/api/v1/knowledge-bases/{kb_b}/search"))
        .json(&json!({ "query": "zebra" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 404, "knowledge_base_not_found").await;
    let r = app
        .as_user(&a, Method::POST, &format!("/api/v1/orgs/{}/knowledge/search", a.org_id))
        .json(&json!({ "knowledge_base_ids": [kb_a, kb_b], "query": "zebra" }))
        .send()
        .await
        .expect("send");
    let e = assert_error(r, 404, "knowledge_base_not_found").await;
    assert_eq!(e["error"]["details"]["knowledge_base_id"], kb_b);
    let r = app
        .as_user(&a, Method::POST, &format!("/api/v1/orgs/{}/knowledge/answer", a.org_id))
        .json(&json!({ "knowledge_base_ids": [kb_b], "question": "Do zebras sleep standing?" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 404, "knowledge_base_not_found").await;
    // A's own multi-KB form works.
    let r = app
        .as_user(&a, Method::POST, &format!("/api/v1/orgs/{}/knowledge/search", a.org_id))
        .json(&json!({ "knowledge_base_ids": [kb_a], "query": "zebra" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let found: Value = r.json().await.expect("json");
    assert_eq!(found["results"][0]["knowledge_base_id"], kb_a);

    // Bots: link A's knowledge base; B's cannot be linked to A's bot.
    let bot: Value = app
        .as_user(&a, Method::POST, &format!("/api/v1/orgs/{}/bots", a.org_id))
        .json(&json!({ "name": "Zoo bot" }))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    let bot = bot["id"].as_i64().expect("bot");
    let r =
        app.as_user(&a, Method::PUT, &format!("/api/v1/bots/{bot}/knowledge-bases/{kb_b}")).send().await.expect("send");
    assert_error(r, 404, "knowledge_base_not_found").await;
    let r = app
        .as_user(&a, Method::PUT, &format!("/api/v1/bots/{bot}/knowledge-bases/{kb_a}"))
        .json(&json!({ "priority": 2 }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let links: Value = r.json().await.expect("json");
    assert_eq!(links[0]["knowledge_base_id"], kb_a);
    assert_eq!(links[0]["priority"], 2);
    let found: Value = app
        .as_user(&a, Method::POST, &format!("/api/v1/bots/{bot}/knowledge/search"))
        .json(&json!({ "query": "zebra" }))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert_eq!(found["results"][0]["knowledge_base_id"], kb_a, "{found}");
    assert!(!found.to_string().contains("Secret"));
    let r = app.as_user(&b, Method::GET, &format!("/api/v1/bots/{bot}/knowledge-bases")).send().await.expect("send");
    assert_error(r, 404, "bot_not_found").await;
    let r = app
        .as_user(&a, Method::DELETE, &format!("/api/v1/bots/{bot}/knowledge-bases/{kb_a}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 204);
    let links: Value = app
        .as_user(&a, Method::GET, &format!("/api/v1/bots/{bot}/knowledge-bases"))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert!(links.as_array().expect("links").is_empty());
}

#[tokio::test]
async fn extractive_answers_cite_chunks_and_say_i_dont_know() {
    let app = ml_app().await;
    let s = app.register("answers@example.com").await;
    let kb = create_kb(&app, &s, json!({ "name": "Answers" })).await["id"].as_i64().expect("id");
    paste(&app, &s, kb, "Returns", "# Returns\n\nYou can return any item within 30 days of delivery. Refunds are issued to the original payment method within five business days. Gift cards cannot be refunded.").await;
    paste(
        &app,
        &s,
        kb,
        "Shipping",
        "# Shipping\n\nStandard shipping takes three to five days. Express shipping arrives the next business day.",
    )
    .await;
    drain(&app).await;

    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/answer"))
        .json(&json!({ "question": "How long do refunds take?" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let a: Value = r.json().await.expect("json");
    assert_eq!(a["mode"], "extractive", "{a}");
    assert!(a["answer"].as_str().expect("answer").contains("five business days"), "{a}");
    let citation = &a["citations"][0];
    assert_eq!(citation["document"], "Returns");
    assert!(citation["chunk_id"].as_i64().is_some() && citation["snippet"].as_str().is_some_and(|s| !s.is_empty()));

    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/answer"))
        .json(&json!({ "question": "What is the boiling point of tungsten?" }))
        .send()
        .await
        .expect("send");
    let a: Value = r.json().await.expect("json");
    assert_eq!(a["mode"], "no_answer", "{a}");
    assert!(a["answer"].as_str().expect("a").starts_with("I don't know"));
    assert!(a["citations"].as_array().expect("c").is_empty());
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/answer"))
        .json(&json!({ "question": "" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 422, "validation_failed").await;
    let searches =
        count(&app, "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE metric_type = 'knowledge_search'");
    assert!(searches >= 2);
}

#[tokio::test]
async fn urls_are_fetched_crawled_without_loops_and_private_targets_refused() {
    let app = ml_app().await;
    let s = app.register("crawl@example.com").await;
    let kb = create_kb(&app, &s, json!({ "name": "Site" })).await["id"].as_i64().expect("id");
    let site = FakeServer::start(std::sync::Arc::new(|r: &crate::fake_http::Received| {
        let page = |title: &str, body: &str| Reply::Full(200, "text/html; charset=utf-8".into(), format!("<html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>").into_bytes());
        match r.path.as_str() {
            "/" | "/index.html" => page("Home", "<p>Welcome to the harbour museum.</p><a href='/ships'>Ships</a> <a href='/index.html#top'>Home again</a> <a href='http://other.invalid/x'>Elsewhere</a> <a href='mailto:a@b.c'>Mail</a>"),
            "/ships" => page("Ships", "<p>The museum shows a restored steam tug from 1911.</p><a href='/'>Back</a> <a href='/ships/'>Self</a> <a href='/ships/engines'>Engines</a>"),
            "/ships/engines" => page("Engines", "<p>Triple expansion engines powered the tug.</p><a href='/ships'>Up</a> <a href='/deep'>Deeper</a>"),
            "/deep" => page("Deep", "<p>Too deep to be crawled.</p>"),
            "/manual.txt" => Reply::Full(200, "text/plain".into(), b"Opening hours: ten to five, closed on Mondays.".to_vec()),
            _ => Reply::Full(404, "text/plain".into(), b"missing".to_vec()),
        }
    }))
    .await;

    // One page.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents/url"))
        .json(&json!({ "url": format!("{}/manual.txt", site.base) }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let single: Value = r.json().await.expect("json");
    let single_id = single["document"]["id"].as_i64().expect("id");
    // A crawl with loops, fragments, index.html aliases and an off-site link.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents/url"))
        .json(&json!({ "url": format!("{}/", site.base), "crawl": true, "max_depth": 2, "max_pages": 20 }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    let job = r.json::<Value>().await.expect("json")["job_id"].as_i64().expect("job");
    drain(&app).await;
    let d = doc(&app, &s, single_id).await;
    assert_eq!(d["status"], "ready", "{d}");
    assert!(d["file_id"].as_i64().is_some(), "the page is kept in files");
    let job: Value =
        app.as_user(&s, Method::GET, &format!("/api/v1/jobs/{job}")).send().await.expect("s").json().await.expect("j");
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["documents"], 3, "{job}");
    let paths: Vec<String> = site.requests().iter().map(|r| r.path.clone()).collect();
    for p in ["/", "/ships", "/ships/engines"] {
        assert_eq!(paths.iter().filter(|x| *x == p).count(), 1, "{p} fetched once: {paths:?}");
    }
    assert!(!paths.iter().any(|p| p == "/deep"), "depth limit: {paths:?}");
    let docs: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/knowledge-bases/{kb}/documents?status=ready"))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert_eq!(docs["items"].as_array().expect("items").len(), 4, "{docs}");
    let found = search(&app, &s, kb, json!({ "query": "what engines powered the tug" })).await;
    assert_eq!(found["results"][0]["document_name"], "Engines");
    assert_eq!(found["results"][0]["source_url"], format!("{}/ships/engines", site.base));
    assert_eq!(found["results"][0]["metadata"]["source_url"], format!("{}/ships/engines", site.base));
    // A page that is gone: the document fails with fetch_failed.
    let r = app
        .as_user(&s, Method::POST, &format!("/api/v1/knowledge-bases/{kb}/documents/url"))
        .json(&json!({ "url": format!("{}/nope", site.base) }))
        .send()
        .await
        .expect("send");
    let gone = r.json::<Value>().await.expect("json")["document"]["id"].as_i64().expect("id");
    drain(&app).await;
    assert_eq!(doc(&app, &s, gone).await["error_code"], "fetch_failed");

    // With the SSRF guard on (production default), private and non-HTTP targets are refused.
    let guarded = spawn_app_with(|c| c.outbound.allow_private = false).await;
    let g = guarded.register("guard@example.com").await;
    let gkb = create_kb(&guarded, &g, json!({ "name": "Guarded" })).await["id"].as_i64().expect("id");
    for url in [
        site.base.clone(),
        "http://127.0.0.1/".into(),
        "http://169.254.169.254/latest/meta-data".into(),
        "http://[::1]:8080/".into(),
        "file:///etc/passwd".into(),
        "ftp://example.com/x".into(),
        "http://localhost/".into(),
    ] {
        for crawl in [false, true] {
            let r = guarded
                .as_user(&g, Method::POST, &format!("/api/v1/knowledge-bases/{gkb}/documents/url"))
                .json(&json!({ "url": url, "crawl": crawl }))
                .send()
                .await
                .expect("send");
            assert_error(r, 422, "url_not_allowed").await;
        }
    }
    assert_eq!(guarded.sql(|c| c.query_row("SELECT count(*) FROM documents", [], |r| r.get::<_, i64>(0))), 0);
}

#[tokio::test]
async fn changing_the_embedding_model_reembeds_in_the_background() {
    let app = spawn_app_with(|c| {
        c.ml.enabled = true;
        c.knowledge.extra_models = vec![botbuilder::config::ExtraEmbeddingModel {
            name: "minilm-short".into(),
            model_path: None,
            tokenizer_path: None,
            max_tokens: 16,
        }];
    })
    .await;
    let s = app.register("reembed@example.com").await;
    let kb = create_kb(&app, &s, json!({ "name": "Models" })).await["id"].as_i64().expect("id");
    paste(&app, &s, kb, "Long", &long_text(6)).await;
    drain(&app).await;
    let models: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/orgs/{}/knowledge/models", s.org_id))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    let names: Vec<&str> = models.as_array().expect("models").iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names.len(), 3, "{models}");
    assert!(names.contains(&"minilm-short") && names.contains(&"multilingual-e5-small"), "{models}");
    let before: Vec<u8> =
        app.sql(|c| c.query_row("SELECT embedding FROM chunk_vectors ORDER BY rowid LIMIT 1", [], |r| r.get(0)));

    let r = app
        .as_user(&s, Method::PATCH, &format!("/api/v1/knowledge-bases/{kb}"))
        .json(&json!({ "embedding_model": "minilm-short" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let k: Value = r.json().await.expect("json");
    assert_eq!(k["status"], "reindexing");
    assert_eq!(k["embedding_model"], "all-MiniLM-L6-v2");
    assert_eq!(k["pending_embedding_model"], "minilm-short");
    // Search keeps working on the old vectors meanwhile.
    let found = search(&app, &s, kb, json!({ "query": "spare parts of model 3", "mode": "vector" })).await;
    assert!(!found["results"].as_array().expect("r").is_empty());
    drain(&app).await;
    let k: Value = app
        .as_user(&s, Method::GET, &format!("/api/v1/knowledge-bases/{kb}"))
        .send()
        .await
        .expect("s")
        .json()
        .await
        .expect("j");
    assert_eq!(k["embedding_model"], "minilm-short", "{k}");
    assert_eq!(k["status"], "active");
    assert!(k["pending_embedding_model"].is_null());
    let after: Vec<u8> =
        app.sql(|c| c.query_row("SELECT embedding FROM chunk_vectors ORDER BY rowid LIMIT 1", [], |r| r.get(0)));
    assert_ne!(before, after, "the vectors were replaced");
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_vectors_next"), 0);
    assert_eq!(count(&app, "SELECT count(*) FROM chunk_vectors"), count(&app, "SELECT count(*) FROM chunks"));
    let found = search(&app, &s, kb, json!({ "query": "spare parts of model 3", "mode": "vector" })).await;
    assert!(!found["results"].as_array().expect("r").is_empty());
    let r = app
        .as_user(&s, Method::PATCH, &format!("/api/v1/knowledge-bases/{kb}"))
        .json(&json!({ "embedding_model": "nope" }))
        .send()
        .await
        .expect("send");
    assert_error(r, 422, "embedding_model_unavailable").await;
}
