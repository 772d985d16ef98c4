//! Starter bots: every template of the gallery makes a bot that works end
//! to end (chatted with through the emulator on its published flows), all
//! or nothing, within the caller's permissions.
#![allow(clippy::too_many_lines, reason = "every template walked in one scenario")]

use std::sync::Arc;

use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Reply};
use crate::helpers::{Session, TestApp, emulator_say, spawn_app, spawn_app_with};

async fn from_template(app: &TestApp, s: &Session, template: &str) -> Value {
    let (status, made) = app
        .call(
            s,
            Method::POST,
            &format!("/api/v1/orgs/{}/bots/from-template", s.org_id),
            Some(json!({ "template": template })),
        )
        .await;
    assert_eq!(status, 201, "{template}: {made}");
    assert_eq!((made["published"].clone(), made["entry_flow"].clone()), (json!(true), json!("main")), "{made}");
    made
}

#[tokio::test]
async fn the_gallery_lists_eight_templates_and_bad_requests_are_refused() {
    let app = spawn_app().await;
    let owner = app.register("gallery@example.com").await;
    let (status, list) = app.call(&owner, Method::GET, "/api/v1/bot-templates", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list.as_array().expect("list").iter().map(|t| t["id"].as_str().expect("id")).collect();
    assert_eq!(
        ids,
        [
            "faq",
            "support",
            "lead_capture",
            "order_status",
            "appointment",
            "feedback_survey",
            "event_registration",
            "it_helpdesk"
        ]
    );
    let faq = &list[0];
    assert_eq!((faq["creates_knowledge_base"].clone(), faq["flows"].clone()), (json!(true), json!(["main"])));
    assert_eq!(list[1]["intents"], json!(["billing", "technical", "human"]));
    assert!(list[3]["setup"].as_str().is_some_and(|s| s.contains("order API")));
    let r = app.client.get(app.url("/api/v1/bot-templates")).send().await.expect("send");
    assert_eq!(r.status(), 401);

    let path = format!("/api/v1/orgs/{}/bots/from-template", owner.org_id);
    let (status, body) = app.call(&owner, Method::POST, &path, Some(json!({ "template": "nope" }))).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("template")));
    let (status, body) = app.call(&owner, Method::POST, &path, Some(json!({ "template": "faq", "name": "  " }))).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("name")), "{body}");
    assert_eq!(app.count("SELECT count(*) FROM bots"), 0, "nothing is left behind");
    // A viewer may not make bots.
    let viewer = app.join(&owner, owner.org_id, "viewer@example.com", "viewer").await;
    let (status, _) = app.call(&viewer, Method::POST, &path, Some(json!({ "template": "support" }))).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn every_template_makes_a_bot_that_works_in_the_emulator() {
    let orders = FakeServer::start(Arc::new(|r| {
        if r.path == "/api/orders/A-12345" {
            Reply::Full(
                200,
                "application/json".into(),
                br#"{"status":"shipped","estimated_delivery":"Friday"}"#.to_vec(),
            )
        } else {
            Reply::Full(404, "application/json".into(), br#"{"error":"no such order"}"#.to_vec())
        }
    }))
    .await;
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("templates@example.com").await;
    // Eight bots: more than the free plan's one.
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [s.org_id]));

    // FAQ: a knowledge base with sample articles, linked, answering with a citation.
    let made = from_template(&app, &s, "faq").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let kb = made["knowledge_base_id"].as_i64().expect("a knowledge base");
    app.run_jobs().await;
    let (_, kb_row) = app.call(&s, Method::GET, &format!("/api/v1/knowledge-bases/{kb}"), None).await;
    assert_eq!(kb_row["document_count"], 1, "{kb_row}");
    let (texts, turn) = emulator_say(&app, &s, bot, None, None).await;
    assert_eq!(texts.last().map(String::as_str), Some("What would you like to know?"), "{texts:?}");
    let conv = turn["conversation_id"].as_i64();
    let (texts, turn) = emulator_say(&app, &s, bot, conv, Some("How many days do I have to return an item?")).await;
    assert!(texts[0].contains("30 days"), "{texts:?} {turn}");
    assert_eq!(texts.last().map(String::as_str), Some("Anything else I can help with?"));

    // Support: NLU data trained by the job it queued, triage, then a person.
    let made = from_template(&app, &s, "support").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    assert!(made["training_job_id"].is_i64(), "{made}");
    app.run_jobs().await;
    let (_, nlu) = app.call(&s, Method::GET, &format!("/api/v1/bots/{bot}/nlu"), None).await;
    assert_eq!((nlu["intents"].clone(), nlu["active_model"].is_object()), (json!(3), true), "{nlu}");
    let (texts, turn) = emulator_say(&app, &s, bot, None, None).await;
    assert!(texts[0].starts_with("Hi! What can we help you with?"), "{texts:?}");
    assert_eq!(turn["replies"][0]["quick_replies"].as_array().map(Vec::len), Some(3));
    let conv = turn["conversation_id"].as_i64();
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("I was charged twice this month")).await;
    assert!(texts[0].contains("Account → Billing"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("No, I need a person")).await;
    assert!(texts[0].contains("passing you to a colleague"), "{texts:?}");
    let status: String =
        app.sql(|c| c.query_row("SELECT status FROM conversations WHERE id = ?1", [conv.expect("conv")], |r| r.get(0)));
    assert_eq!(status, "handoff");

    // Lead capture: the email is checked; a demo request goes to sales.
    let made = from_template(&app, &s, "lead_capture").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let (_, turn) = emulator_say(&app, &s, bot, None, None).await;
    let conv = turn["conversation_id"].as_i64();
    emulator_say(&app, &s, bot, conv, Some("Ada")).await;
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("not an address")).await;
    assert!(texts[0].contains("does not look like an email"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("ada@acme.example")).await;
    assert_eq!(texts, ["Which company are you with?"]);
    emulator_say(&app, &s, bot, conv, Some("Acme")).await;
    let (texts, turn) = emulator_say(&app, &s, bot, conv, Some("A demo")).await;
    assert!(texts[0].starts_with("Great, Ada!") && texts[0].contains("ada@acme.example"), "{texts:?}");
    assert_eq!(turn["trace"]["variables_after"]["session"]["company"], "Acme", "{turn}");

    // Order status: the HTTP step, pointed at the shop's API, then the failure path.
    let made = from_template(&app, &s, "order_status").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let (_, flow) = app.call(&s, Method::GET, &format!("/api/v1/bots/{bot}/flows/main"), None).await;
    let mut doc = flow["draft"]["document"].clone();
    let lookup = doc["nodes"].as_array_mut().expect("nodes").iter_mut().find(|n| n["id"] == "lookup").expect("lookup");
    lookup["data"]["url"] = json!(format!("{}/api/orders/{{{{order_number}}}}", orders.base));
    let (status, body) =
        app.call(&s, Method::PUT, &format!("/api/v1/bots/{bot}/flows/main"), Some(json!({ "document": doc }))).await;
    assert!((200..300).contains(&status), "{body}");
    let (status, body) =
        app.call(&s, Method::POST, &format!("/api/v1/bots/{bot}/flows/main/publish"), Some(json!({}))).await;
    assert!((200..300).contains(&status), "{body}");
    let (_, turn) = emulator_say(&app, &s, bot, None, None).await;
    let conv = turn["conversation_id"].as_i64();
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("A-12345")).await;
    assert_eq!(texts[0], "Order A-12345 is shipped. Estimated delivery: Friday.");
    let (_, turn) = emulator_say(&app, &s, bot, None, None).await;
    let (texts, _) = emulator_say(&app, &s, bot, turn["conversation_id"].as_i64(), Some("B-999")).await;
    assert_eq!(
        texts,
        ["I could not look up order B-999 right now.", "A colleague will take over and check it for you."]
    );

    // Appointment booking: choices, a date, a time, confirmation.
    let made = from_template(&app, &s, "appointment").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let (texts, turn) = emulator_say(&app, &s, bot, None, None).await;
    assert!(texts[0].contains("Which appointment"), "{texts:?}");
    let conv = turn["conversation_id"].as_i64();
    emulator_say(&app, &s, bot, conv, Some("Consultation")).await;
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("next Tuesday")).await;
    assert!(texts[0].starts_with("At what time?"), "{texts:?}");
    emulator_say(&app, &s, bot, conv, Some("10:30")).await;
    emulator_say(&app, &s, bot, conv, Some("Grace")).await;
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("grace@example.com")).await;
    assert!(texts[0].starts_with("consultation on ") && texts[0].contains("Shall I book it?"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("Yes, book it")).await;
    assert!(texts[0].starts_with("Booked: consultation on "), "{texts:?}");

    // Feedback survey: a low score asks what went wrong and offers a person.
    let made = from_template(&app, &s, "feedback_survey").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let (texts, turn) = emulator_say(&app, &s, bot, None, None).await;
    assert!(texts[0].contains("How would you rate"), "{texts:?}");
    let conv = turn["conversation_id"].as_i64();
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("2")).await;
    assert_eq!(texts, ["We are sorry to hear that. What went wrong?"]);
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("The parcel came late")).await;
    assert!(texts[0].contains("follow up"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("No, thanks")).await;
    assert_eq!(texts, ["Thank you for telling us. We will work on it."]);
    // A high score asks what went well.
    let (_, turn) = emulator_say(&app, &s, bot, None, None).await;
    let (texts, _) = emulator_say(&app, &s, bot, turn["conversation_id"].as_i64(), Some("5")).await;
    assert_eq!(texts, ["Great to hear! What did you like most?"]);

    // Event registration: session, name, email, seats, confirmation.
    let made = from_template(&app, &s, "event_registration").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let (texts, turn) = emulator_say(&app, &s, bot, None, None).await;
    assert!(texts.iter().any(|t| t.contains("Which session")), "{texts:?}");
    let conv = turn["conversation_id"].as_i64();
    emulator_say(&app, &s, bot, conv, Some("Morning workshop")).await;
    emulator_say(&app, &s, bot, conv, Some("Ada Lovelace")).await;
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("ada@example.com")).await;
    assert!(texts[0].starts_with("How many seats"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("9")).await;
    assert!(texts[0].contains("number from 1 to 5"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("2")).await;
    assert!(texts[0].starts_with("2 seat(s) at the morning workshop for Ada Lovelace"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("Yes, register me")).await;
    assert_eq!(texts, ["You're registered for the morning workshop! Your ticket goes to ada@example.com."]);

    // IT helpdesk: self-help first, a ticket to the IT team when it does not help.
    let made = from_template(&app, &s, "it_helpdesk").await;
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let (texts, turn) = emulator_say(&app, &s, bot, None, None).await;
    assert!(texts[0].contains("IT helpdesk"), "{texts:?}");
    let conv = turn["conversation_id"].as_i64();
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("VPN does not connect")).await;
    assert!(texts[0].contains("VPN client") && texts[1] == "Did that solve it?", "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("No")).await;
    assert!(texts[0].starts_with("Please describe the problem"), "{texts:?}");
    let (texts, _) = emulator_say(&app, &s, bot, conv, Some("The client says certificate expired")).await;
    assert!(texts[0].contains("IT team"), "{texts:?}");

    // Eight bots, named after their templates.
    let (_, bots) = app.call(&s, Method::GET, &format!("/api/v1/orgs/{}/bots", s.org_id), None).await;
    assert_eq!(bots["items"].as_array().expect("items").len(), 8);
}

/// The gallery in the UI: one click makes the bot and opens its flow with
/// the checklist, whose steps tick from the bot's real state.
#[tokio::test]
async fn a_template_is_one_click_in_the_ui_and_the_checklist_follows_the_bot() {
    use crate::browser::with_browser;
    let app = spawn_app().await;
    app.register("gallery-ui@example.com").await;
    with_browser("template_gallery", |b| async move {
        b.sign_in(&app, "gallery-ui@example.com").await;
        b.client.goto(&app.url("/bots")).await.expect("goto bots");
        b.wait_for_text("[data-template='faq']", "FAQ with a knowledge base").await;
        b.click("#use-template-faq").await;
        let bot: i64 = loop {
            let url = b.client.current_url().await.expect("url");
            if let Some(id) = url.path().strip_prefix("/bots/").and_then(|p| p.strip_suffix("/flows/main")) {
                break id.parse().expect("bot id");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        b.wait_for_text("#bot-checklist", "3 of 4 steps left").await;
        assert_eq!(
            b.element("[data-step='knowledge']").await.attr("data-done").await.expect("attr").as_deref(),
            Some("yes")
        );
        b.element("[data-step='emulator'] a").await.click().await.expect("open the emulator");
        b.wait_for_path(&format!("/bots/{bot}/emulator")).await;
        b.click("#emulator-start").await;
        b.wait_for_text("#emulator-log", "What would you like to know?").await;
        b.client.goto(&app.url(&format!("/bots/{bot}/flows/main"))).await.expect("back to the flow");
        b.wait_for_text("#bot-checklist", "2 of 4 steps left").await;
        b.click("#dismiss-checklist").await;
        b.client.refresh().await.expect("refresh");
        b.wait_for_text("h1", "Flow main").await;
        assert!(b.client.find(fantoccini::Locator::Css("#bot-checklist")).await.is_err(), "dismissed for good");
        b.client.clone().close().await.expect("close");
    })
    .await;
}
