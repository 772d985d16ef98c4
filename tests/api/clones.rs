//! Work clones (issue 29) through the real server: an mbox and a Slack
//! export generated here are imported (quotes, signatures, auto-replies and
//! duplicates handled), the style profile read, a version trained with the
//! real local embedder, drafts made without a model (retrieval) and with a
//! fake `OpenAI`-compatible server; feedback on a draft changes what the next
//! version retrieves; a handed-off inbox conversation gets a suggestion.
//! Bad cases: wrong and truncated exports (line named, nothing stored),
//! empty training sets, shares outside the organization, visibility.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::fmt::Write as _;

use reqwest::Method;
use rusqlite::params;
use serde_json::{Value, json};

use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app, spawn_app_with};

/// (sender name, sender address, subject, message, Anna's reply body)
const THREADS: &[(&str, &str, &str, &str, &str)] = &[
    ("Bob", "bob@example.com", "Call", "Can we move our call to Thursday?", "Thursday at 10 works for me."),
    (
        "Carol",
        "carol@example.com",
        "Invoice 2031",
        "Has invoice 2031 been paid yet?",
        "Yes, finance paid it on Monday, you should see it by Wednesday.",
    ),
    (
        "Dave",
        "dave@example.com",
        "Holidays",
        "Are you around the week of the 20th?",
        "I'm off that week, Priya covers for me.",
    ),
    ("Bob", "bob@example.com", "Deploy", "Is the new release live?", "It went out this morning, no issues so far."),
    (
        "Carol",
        "carol@example.com",
        "Contract",
        "Could you review the contract draft?",
        "Happy to, I'll send comments by Friday.",
    ),
    ("Dave", "dave@example.com", "Lunch", "Lunch next Tuesday?", "Sounds great, the usual place at noon?"),
    (
        "Bob",
        "bob@example.com",
        "Access",
        "I can't log into the dashboard.",
        "I've reset your access, try again in five minutes.",
    ),
    (
        "Carol",
        "carol@example.com",
        "Budget",
        "Do we have budget for the conference?",
        "We do, book it and send me the receipt.",
    ),
];

const ANNA: &str = "anna@acme.test";

/// An mbox: every thread is a message and Anna's reply (with a greeting, a
/// sign-off, a signature and the quoted message), plus an auto-reply of
/// Anna's and a reply repeated word for word.
fn mbox() -> String {
    let mut out = String::new();
    for (i, (name, from, subject, message, reply)) in THREADS.iter().enumerate() {
        let _ = write!(
            out,
            "From {from} Mon Mar  2 09:00:00 2026\nFrom: {name} <{from}>\nTo: Anna Lee <{ANNA}>\nSubject: {subject}\n\
             Message-ID: <q{i}@example.com>\nDate: Mon, 2 Mar 2026 09:00:00 +0000\n\n{message}\n{name}\n\n"
        );
        let body = format!(
            "Hi {name},\n\n{reply}\n\nBest,\nAnna\n-- \nAnna Lee | ACME\nanna@acme.test\n\n\
             On Mon, 2 Mar 2026 at 09:00, {name} <{from}> wrote:\n> {message}\n> {name}\n"
        );
        let _ = write!(
            out,
            "From {ANNA} Mon Mar  2 10:00:00 2026\nFrom: Anna Lee <{ANNA}>\nTo: {name} <{from}>\nSubject: Re: {subject}\n\
             Message-ID: <a{i}@acme.test>\nIn-Reply-To: <q{i}@example.com>\n\n{body}\n"
        );
        if i == 0 {
            // The same reply twice (a copy in "Sent" and in the thread): stored once.
            let _ = write!(
                out,
                "From {ANNA} Mon Mar  2 10:00:01 2026\nFrom: Anna Lee <{ANNA}>\nTo: {name} <{from}>\nSubject: Re: {subject}\n\
                 Message-ID: <a{i}-copy@acme.test>\nIn-Reply-To: <q{i}@example.com>\n\n{body}\n"
            );
        }
    }
    let _ = write!(
        out,
        "From {ANNA} Tue Mar  3 10:00:00 2026\nFrom: Anna Lee <{ANNA}>\nTo: bob@example.com\nSubject: Out of office: Call\n\
         Auto-Submitted: auto-replied\n\nI am out of the office until Monday and will reply when I am back.\n\n"
    );
    out
}

/// A Slack channel file: Bob asks, Anna (U0ANNA) answers in two messages, a join, a thread.
fn slack_export() -> String {
    json!([
        { "type": "message", "user": "U0BOB", "text": "Did the backup job finish last night?", "ts": "1700000000.000100" },
        { "type": "message", "user": "U0ANNA", "text": "yep, all green :white_check_mark:", "ts": "1700000060.000100" },
        { "type": "message", "user": "U0ANNA", "text": "logs are in <https://logs.example.com/42|the dashboard>", "ts": "1700000061.000100" },
        { "type": "message", "subtype": "channel_join", "user": "U0CAROL", "text": "<@U0CAROL> has joined", "ts": "1700000100.000100" },
        { "type": "message", "user": "U0CAROL", "text": "Who owns the staging database?", "ts": "1700000200.000100", "thread_ts": "1700000200.000100" },
        { "type": "message", "user": "U0ANNA", "text": "that's me, ping me for access 🙂", "ts": "1700000260.000100", "thread_ts": "1700000200.000100" }
    ])
    .to_string()
}

async fn create_clone(app: &TestApp, s: &Session, name: &str) -> i64 {
    let clone =
        call_ok(app, s, Method::POST, &format!("/api/v1/orgs/{}/clones", s.org_id), Some(json!({ "name": name })))
            .await;
    clone["id"].as_i64().expect("clone id")
}

async fn import(app: &TestApp, s: &Session, clone: i64, body: Value) -> (u16, Value) {
    app.call(s, Method::POST, &format!("/api/v1/clones/{clone}/imports"), Some(body)).await
}

async fn generate(app: &TestApp, s: &Session, clone: i64, message: &str) -> Value {
    call_ok(app, s, Method::POST, &format!("/api/v1/clones/{clone}/generate"), Some(json!({ "message": message })))
        .await
}

#[tokio::test]
async fn exports_train_a_clone_that_drafts_with_and_without_a_model_and_learns_from_feedback() {
    let app = spawn_app_with(|c| {
        c.ml.enabled = true;
        c.llm.backoff_base_ms = 10;
    })
    .await;
    let s = app.register("anna@acme.test").await;
    let clone = create_clone(&app, &s, "Anna").await;

    // The mbox: 8 replies, the duplicate and the auto-reply left out; the signature's address scrubbed anyway.
    let (status, report) = import(
        &app,
        &s,
        clone,
        json!({ "format": "mbox", "identity": "Anna@acme.test", "content": mbox(), "scrub_pii": true }),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 8, "{report}");
    assert_eq!(report["duplicates"], 1, "{report}");
    assert_eq!(report["skipped"]["auto_reply"], 1, "{report}");
    assert_eq!(report["messages"], 18, "{report}");

    let pairs = call_ok(&app, &s, Method::GET, &format!("/api/v1/clones/{clone}/training-data?limit=200"), None).await;
    let items = pairs["items"].as_array().expect("items");
    let first = &items[0];
    assert_eq!(first["context"], "Can we move our call to Thursday?\nBob");
    assert_eq!(first["reply"], "Hi Bob,\n\nThursday at 10 works for me.");
    assert_eq!(first["features"]["sign_off"], "Best,");
    assert_eq!(first["features"]["greeting"], "Hi Bob,");
    assert_eq!(first["data_type"], "email");
    for p in items {
        let reply = p["reply"].as_str().expect("reply");
        assert!(!reply.contains("wrote:") && !reply.contains("> ") && !reply.contains("ACME"), "{reply}");
    }
    let originals: Vec<String> = app
        .sql(|c| c.prepare("SELECT original_content FROM clone_training_data")?.query_map([], |r| r.get(0))?.collect());
    assert!(originals.iter().all(|o| !o.contains(ANNA) && o.contains("[email]")), "PII scrubbed: {originals:?}");

    // The Slack export: two pairs (Anna's two messages are one turn; the join is not a message of anyone).
    let (status, report) =
        import(&app, &s, clone, json!({ "format": "slack", "identity": "U0ANNA", "content": slack_export() })).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["imported"], 2, "{report}");
    let pairs = call_ok(&app, &s, Method::GET, &format!("/api/v1/clones/{clone}/training-data"), None).await;
    let slack: Vec<&Value> =
        pairs["items"].as_array().expect("items").iter().filter(|p| p["source"] == "slack").collect();
    assert_eq!(slack[0]["reply"], "yep, all green :white_check_mark:\nlogs are in the dashboard");
    assert_eq!(slack[1]["context"], "Who owns the staging database?");

    // The style profile, computed locally.
    let style = call_ok(&app, &s, Method::GET, &format!("/api/v1/clones/{clone}/style"), None).await;
    assert_eq!(style["current"]["replies"], 10, "{style}");
    assert_eq!(style["current"]["greetings"][0]["text"], "Hi", "{style}");
    assert_eq!(style["current"]["sign_offs"][0]["text"], "Best,", "{style}");
    assert_eq!(style["current"]["sign_offs"][0]["count"], 8, "{style}");
    assert!(style["current"]["emoji_per_reply"].as_f64().expect("emoji") > 0.0, "{style}");
    assert!(style["trained"].is_null());

    // Disabling a pair keeps it out of training.
    let disabled = slack[0]["id"].as_i64().expect("id");
    let p = call_ok(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/clones/{clone}/training-data/{disabled}"),
        Some(json!({ "enabled": false })),
    )
    .await;
    assert_eq!(p["enabled"], false);

    // Version 1.
    let v1 = call_ok(&app, &s, Method::POST, &format!("/api/v1/clones/{clone}/train"), None).await;
    assert_eq!(v1["version"], 1, "{v1}");
    assert_eq!(v1["pairs_count"], 9, "{v1}");
    assert_eq!(v1["style_profile"]["sign_offs"][0]["text"], "Best,");
    let got = call_ok(&app, &s, Method::GET, &format!("/api/v1/clones/{clone}"), None).await;
    assert_eq!(got["active_version"], 1);
    assert_eq!(got["status"], "ready");

    // No model configured: the best past reply, re-addressed and signed off, and said so.
    let message = "Could we move the Thursday call to Friday instead?\nErin";
    let draft = generate(&app, &s, clone, message).await;
    assert_eq!(draft["mode"], "retrieval", "{draft}");
    assert_eq!(draft["version"], 1);
    assert!(draft["note"].as_str().expect("note").contains("No chat model"), "{draft}");
    assert_eq!(draft["citations"][0]["context"], "Can we move our call to Thursday?\nBob", "{draft}");
    assert_eq!(draft["text"], "Hi Erin,\n\nThursday at 10 works for me.\n\nBest,", "{draft}");
    let v1_best = draft["citations"][0]["pair_id"].as_i64().expect("pair");

    // The reviewer edits the draft: the edit becomes a training pair.
    let response = draft["response_id"].as_i64().expect("response id");
    let edited = "Hi Erin,\n\nFriday is fine, I'll move the invite to 3pm.\n\nBest,\nAnna";
    let fb = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/clones/{clone}/responses/{response}/feedback"),
        Some(json!({ "decision": "edit", "text": edited })),
    )
    .await;
    let learned = fb["training_pair_id"].as_i64().expect("training pair from the edit");
    let row: (String, i64, i64) = app.sql(|c| {
        c.query_row("SELECT feedback, was_edited, was_used FROM clone_responses WHERE id = ?1", [response], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    });
    assert_eq!(row, ("edit".to_owned(), 1, 1));

    // Version 2 retrieves the learned exchange first for the same message.
    let v2 = call_ok(&app, &s, Method::POST, &format!("/api/v1/clones/{clone}/train"), None).await;
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["pairs_count"], 10);
    let draft = generate(&app, &s, clone, message).await;
    assert_eq!(draft["version"], 2);
    assert_eq!(draft["citations"][0]["pair_id"], learned, "{draft}");
    assert_ne!(learned, v1_best);
    assert_eq!(draft["text"], "Hi Erin,\n\nFriday is fine, I'll move the invite to 3pm.\n\nBest,", "{draft}");
    let rejected = draft["response_id"].as_i64().expect("id");
    let fb = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/clones/{clone}/responses/{rejected}/feedback"),
        Some(json!({ "decision": "reject" })),
    )
    .await;
    assert!(fb["training_pair_id"].is_null());

    // With a chat model (the organization's default provider): conditioned on profile and examples, citing them.
    let llm = FakeOpenAi::start().await;
    llm.push(Step::text("Hi Erin,\n\nFriday works, moving it now.\n\nBest,"));
    call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/llm-providers", s.org_id),
        Some(json!({ "name": "Fake", "base_url": llm.base_url(), "default_model": "fake-model", "api_key": "sk-test",
                     "timeout_ms": 5000, "max_retries": 0, "is_default": true })),
    )
    .await;
    let draft = generate(&app, &s, clone, message).await;
    assert_eq!(draft["mode"], "model", "{draft}");
    assert_eq!(draft["text"], "Hi Erin,\n\nFriday works, moving it now.\n\nBest,");
    assert_eq!(draft["citations"].as_array().expect("citations").len(), 5, "{draft}");
    assert_eq!(draft["citations"][0]["pair_id"], learned);
    let sent = &llm.bodies()[0];
    let system = sent["messages"][0]["content"].as_str().expect("system prompt");
    assert!(system.contains("Usual sign-offs: \"Best,\""), "{system}");
    assert!(system.contains("Friday is fine, I'll move the invite to 3pm."), "{system}");
    assert_eq!(sent["messages"][1]["content"], message);
    let tokens: (i64, i64) = app.sql(|c| {
        c.query_row(
            "SELECT input_tokens, output_tokens FROM clone_responses WHERE id = ?1",
            [draft["response_id"].as_i64().expect("id")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert_eq!(tokens, (10, 5));

    // The inbox: a handed-off conversation gets a suggestion from the agent's clone.
    llm.push(Step::text("Hi, it went out this morning."));
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Desk" })))
            .await["id"]
            .as_i64()
            .expect("bot");
    let conversation: i64 = app.sql(|c| {
        let id: i64 = c.query_row(
            "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id, status, handoff_at)
             VALUES (?1, ?2, 'api', 'visitor-1', 'handoff', strftime('%Y-%m-%dT%H:%M:%fZ','now')) RETURNING id",
            params![s.org_id, bot],
            |r| r.get(0),
        )?;
        c.execute(
            "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content)
             VALUES (?1, ?2, ?3, 'visitor-1', 'user', 'Is the new release live yet?')",
            params![s.org_id, bot, id],
        )?;
        Ok(id)
    });
    let suggestion = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/clone-suggestion"),
        Some(json!({ "clone_id": clone })),
    )
    .await;
    assert_eq!(suggestion["mode"], "model", "{suggestion}");
    assert_eq!(suggestion["citations"][0]["context"], "Is the new release live?\nBob", "{suggestion}");
    assert_eq!(llm.bodies()[1]["messages"][1]["content"], "Is the new release live yet?");
    let context: String = app.sql(|c| {
        c.query_row(
            "SELECT context FROM clone_responses WHERE id = ?1",
            [suggestion["response_id"].as_i64().expect("id")],
            |r| r.get(0),
        )
    });
    assert_eq!(context, format!("conversation:{conversation}"));
    assert_eq!(app.count("SELECT count(*) FROM clone_responses"), 4);
    // A conversation with the bot (not handed off) gets none.
    app.sql(|c| c.execute("UPDATE conversations SET status = 'open' WHERE id = ?1", [conversation]));
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/conversations/{conversation}/clone-suggestion"),
        Some(json!({ "clone_id": clone })),
    )
    .await;
    assert_error(r, 409, "conversation_not_in_handoff").await;
}

#[tokio::test]
async fn bad_exports_empty_training_sets_and_foreign_shares_are_refused_and_clones_stay_private() {
    let app = spawn_app().await;
    let s = app.register("owner@example.com").await;
    let clone = create_clone(&app, &s, "Owner").await;
    let pairs = || app.count("SELECT count(*) FROM clone_training_data");

    // Not an mbox at all: line 1.
    let (status, body) = import(
        &app,
        &s,
        clone,
        json!({ "format": "mbox", "identity": "owner@example.com", "content": "Hello,\nthis is a note." }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "clone_import_invalid");
    assert_eq!(body["error"]["details"]["line"], 1);
    // A good message, then one cut off inside its headers: refused whole, naming the second message's line.
    let truncated = "From bob@example.com Mon\nFrom: bob@example.com\nSubject: a\n\nCan we meet on Monday?\n\n\
                     From owner@example.com Mon\nFrom: owner@example.com\nSubject: Re: a\nIn-Reply-To: <x@y>";
    let (status, body) =
        import(&app, &s, clone, json!({ "format": "mbox", "identity": "owner@example.com", "content": truncated }))
            .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["line"], 8, "{body}");
    assert_eq!(pairs(), 0);
    // A Slack file cut off mid-message: the JSON line and column.
    let slack = "[\n {\"user\": \"U1\", \"text\": \"Is it done?\", \"ts\": \"1.0\"},\n {\"user\": \"U2\", \"text\": \"Yes, done.\", \"ts";
    let (status, body) =
        import(&app, &s, clone, json!({ "format": "slack", "identity": "U2", "content": slack })).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["details"]["line"], 3, "{body}");
    assert!(body["error"]["details"]["column"].as_i64().is_some(), "{body}");
    // A WhatsApp export that is not one.
    let (status, body) = import(
        &app,
        &s,
        clone,
        json!({ "format": "whatsapp", "identity": "Anna", "content": "{\"not\": \"a chat\"}" }),
    )
    .await;
    assert_eq!((status, body["error"]["details"]["line"].clone()), (422, json!(1)), "{body}");
    // A CSV with a ragged row.
    let (status, body) = import(
        &app,
        &s,
        clone,
        json!({ "format": "csv", "content": "question,answer\nWhere is my order?,It ships today.\nbroken row\n" }),
    )
    .await;
    assert_eq!((status, body["error"]["details"]["line"].clone()), (422, json!(3)), "{body}");
    // The identity is needed for everything but CSV.
    let (status, body) =
        import(&app, &s, clone, json!({ "format": "eml", "content": "From: a@b.c\n\nhi there you" })).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("identity")), "{body}");
    assert_eq!(pairs(), 0);

    // Nothing to train on, then nothing enabled.
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/clones/{clone}/train"), None).await;
    let body = assert_error(r, 422, "clone_training_empty").await;
    assert_eq!(body["error"]["details"]["pairs"], 0);
    let (status, report) = import(
        &app,
        &s,
        clone,
        json!({ "format": "csv", "content": "question,answer\nWhere is my order?,It ships today from Berlin.\n" }),
    )
    .await;
    assert_eq!((status, report["imported"].clone()), (200, json!(1)), "{report}");
    let id = app.sql(|c| c.query_row("SELECT id FROM clone_training_data", [], |r| r.get::<_, i64>(0)));
    call_ok(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/clones/{clone}/training-data/{id}"),
        Some(json!({ "enabled": false })),
    )
    .await;
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/clones/{clone}/train"), None).await;
    let body = assert_error(r, 422, "clone_training_empty").await;
    assert_eq!(
        (body["error"]["details"]["pairs"].clone(), body["error"]["details"]["enabled"].clone()),
        (json!(1), json!(0))
    );
    // Drafting needs a trained version.
    let r =
        send_as(&app, &s, Method::POST, &format!("/api/v1/clones/{clone}/generate"), Some(json!({ "message": "Hi?" })))
            .await;
    assert_error(r, 409, "clone_not_trained").await;
    let r =
        send_as(&app, &s, Method::POST, &format!("/api/v1/clones/{clone}/generate"), Some(json!({ "message": " " })))
            .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "message");

    // Shares: never to someone outside the organization.
    let outsider = app.register("outsider@example.com").await;
    let outsider_id: i64 =
        app.sql(|c| c.query_row("SELECT id FROM users WHERE email = 'outsider@example.com'", [], |r| r.get(0)));
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/clones/{clone}/shares"),
        Some(json!({ "user_id": outsider_id })),
    )
    .await;
    assert_eq!(assert_error(r, 422, "clone_share_invalid").await["error"]["details"]["field"], "user_id");
    assert_eq!(app.count("SELECT count(*) FROM clone_shares"), 0);
    let r = send_as(&app, &outsider, Method::GET, &format!("/api/v1/clones/{clone}"), None).await;
    assert_error(r, 404, "clone_not_found").await;

    // An editor of the organization sees the clone only once it is shared, and may not manage it with `use`.
    let editor = app.join(&s, s.org_id, "editor@example.com", "editor").await;
    let editor_id: i64 =
        app.sql(|c| c.query_row("SELECT id FROM users WHERE email = 'editor@example.com'", [], |r| r.get(0)));
    let r = send_as(&app, &editor, Method::GET, &format!("/api/v1/clones/{clone}"), None).await;
    assert_error(r, 404, "clone_not_found").await;
    let list = call_ok(&app, &editor, Method::GET, &format!("/api/v1/orgs/{}/clones", s.org_id), None).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(0));
    let shared = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/clones/{clone}/shares"),
        Some(json!({ "user_id": editor_id })),
    )
    .await;
    assert_eq!(shared["shared_with"], json!([{ "user_id": editor_id, "access": "use" }]));
    let seen = call_ok(&app, &editor, Method::GET, &format!("/api/v1/clones/{clone}"), None).await;
    assert_eq!(seen["access"], "use");
    let list = call_ok(&app, &editor, Method::GET, &format!("/api/v1/orgs/{}/clones", s.org_id), None).await;
    assert_eq!(list["items"][0]["id"], clone);
    call_ok(&app, &editor, Method::GET, &format!("/api/v1/clones/{clone}/training-data"), None).await;
    let r = send_as(&app, &editor, Method::POST, &format!("/api/v1/clones/{clone}/train"), None).await;
    assert_error(r, 403, "forbidden").await;
    let r = send_as(&app, &editor, Method::DELETE, &format!("/api/v1/clones/{clone}"), None).await;
    assert_error(r, 403, "forbidden").await;
    // Unsharing takes it away again; the owner deletes it.
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/clones/{clone}/shares/{editor_id}"), None).await;
    assert_eq!(r.status(), 204);
    let r = send_as(&app, &editor, Method::GET, &format!("/api/v1/clones/{clone}"), None).await;
    assert_error(r, 404, "clone_not_found").await;
    let r = send_as(&app, &s, Method::DELETE, &format!("/api/v1/clones/{clone}"), None).await;
    assert_eq!(r.status(), 204);
    assert_eq!(pairs(), 0);

    // A viewer may not create clones.
    let viewer = app.join(&s, s.org_id, "viewer@example.com", "viewer").await;
    let r = send_as(
        &app,
        &viewer,
        Method::POST,
        &format!("/api/v1/orgs/{}/clones", s.org_id),
        Some(json!({ "name": "V" })),
    )
    .await;
    assert_error(r, 403, "forbidden").await;
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/clones", s.org_id), Some(json!({ "name": " " })))
        .await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "name");
}
