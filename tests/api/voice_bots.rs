//! Voice bot templates, voice-to-bot, outbound calls with a flow choice and
//! voice-minute metering, through the real server with the fake Twilio of
//! `voice.rs` (signed webhooks, `TwiML` read back) and the fake
//! `OpenAI`-compatible provider (`/audio/transcriptions` and chat).

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::fake_http::FakeServer;
use crate::fake_openai::{FakeOpenAi, Step};
use crate::helpers::{Session, TestApp, spawn_app_with};
use crate::voice::{
    DESK, SID, TOKEN, call_ok, call_params, fake_twilio, gather_action, outbound_params, post_hook, says, wav,
};

/// An organization on a plan with room for several bots, its Twilio
/// account set and its number synced; answers the session, the hooks base
/// (`…/hooks/voice/{key}`) and the number's id.
async fn line(app: &TestApp, email: &str) -> (Session, String, i64) {
    let s = app.register(email).await;
    let org = s.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [org]));
    let account = call_ok(
        app,
        &s,
        Method::PUT,
        &format!("/api/v1/orgs/{org}/voice/account"),
        Some(json!({ "account_sid": SID, "auth_token": TOKEN })),
        200,
    )
    .await;
    let hooks = account["voice_url"].as_str().expect("voice_url").trim_end_matches("/incoming").to_owned();
    let synced = call_ok(app, &s, Method::POST, &format!("/api/v1/orgs/{org}/phone-numbers/sync"), None, 200).await;
    (s, hooks, synced[0]["id"].as_i64().expect("number id"))
}

async fn assign(app: &TestApp, s: &Session, number: i64, voice_bot: i64) {
    let path = format!("/api/v1/phone-numbers/{number}");
    call_ok(app, s, Method::PATCH, &path, Some(json!({ "voice_bot_id": voice_bot })), 200).await;
}

/// A call comes in; answers the `TwiML`.
async fn ring(app: &TestApp, hooks: &str, sid: &str) -> String {
    let (status, _, twiml) =
        post_hook(app, &format!("{hooks}/incoming"), &call_params(sid, &[("CallStatus", "ringing")]), TOKEN, None)
            .await;
    assert_eq!(status, 200, "{twiml}");
    twiml
}

/// Presses `digits` at the call's current gather.
async fn press(app: &TestApp, twiml: &str, sid: &str, digits: &str) -> String {
    let (status, _, next) =
        post_hook(app, &gather_action(twiml), &call_params(sid, &[("Digits", digits)]), TOKEN, None).await;
    assert_eq!(status, 200, "{next}");
    next
}

async fn app_with(twilio: &FakeServer, ml: bool, enforce: bool) -> TestApp {
    let base = twilio.base.clone();
    spawn_app_with(move |c| {
        c.channels.twilio_api_base = base;
        c.ml.enabled = ml;
        c.billing.enforce_limits = enforce;
        c.files.max_upload_bytes = 64 * 1024;
    })
    .await
}

#[tokio::test]
async fn each_voice_template_makes_a_phone_bot_that_answers_with_its_greeting_and_menu() {
    let tw = fake_twilio().await;
    let app = app_with(&tw, true, false).await;
    let (s, hooks, number) = line(&app, "voice-templates@example.com").await;
    let org = s.org_id;

    let list = call_ok(&app, &s, Method::GET, &format!("/api/v1/orgs/{org}/voice-bot-templates"), None, 200).await;
    let slugs: Vec<&str> = list.as_array().expect("list").iter().filter_map(|t| t["slug"].as_str()).collect();
    assert_eq!(slugs, ["faq_knowledge", "appointment_booking", "ivr_menu", "order_status"], "{list}");
    assert!(list[0]["bot"]["creates_knowledge_base"] == true && list[0]["greeting"].is_string(), "{list}");

    // Unknown template: refused, nothing made.
    let path = format!("/api/v1/orgs/{org}/voice-bots/from-template");
    let (status, body) = app.call(&s, Method::POST, &path, Some(json!({ "template": "karaoke" }))).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("template")), "{body}");
    assert_eq!(app.count(&format!("SELECT count(*) FROM bots WHERE organization_id = {org}")), 0);

    // (template, what the first call hears, a key to press, what it hears then)
    let cases = [
        (
            "ivr_menu",
            vec![
                "Thank you for calling. You are speaking with our automated assistant.",
                "How can I help you today?",
                "Press 1 for Sales. Press 2 for Support. Press 3 for Billing. Press 4 for Opening hours.",
            ],
            "4",
            "We are open Monday to Friday",
        ),
        (
            "appointment_booking",
            vec![
                "Thank you for calling. I can take your appointment request.",
                "Which appointment would you like?",
                "Press 1 for A consultation. Press 2 for A check-up. Press 3 for A follow-up visit.",
            ],
            "2",
            "Which day would suit you?",
        ),
        (
            "order_status",
            vec![
                "Thank you for calling. I can tell you where your order is.",
                "Please say your order number, or key it in followed by the pound key.",
            ],
            "",
            "",
        ),
        (
            "faq_knowledge",
            vec![
                "Thank you for calling. I can answer questions about our store.",
                "What would you like to know? You can also ask in your own words.",
                "Press 1 for Opening hours. Press 2 for Returns. Press 3 for Shipping.",
            ],
            "2",
            "30 days",
        ),
    ];
    for (n, (slug, greeting, key, then)) in cases.iter().enumerate() {
        let made = call_ok(
            &app,
            &s,
            Method::POST,
            &path,
            Some(json!({ "template": slug, "voice_id": "Polly.Joanna", "settings": { "transfer_to": DESK } })),
            201,
        )
        .await;
        let vb = &made["voice_bot"];
        assert_eq!(vb["voice_warnings"], json!([]), "{slug}: {made}");
        assert_eq!(vb["greeting_message"], greeting[0], "{slug}");
        assert_eq!(vb["settings"]["transfer_to"], DESK, "{slug}");
        assert_eq!(vb["bot_id"], made["bot"]["id"], "{slug}");
        let bot = made["bot"]["id"].as_i64().expect("bot");
        let flows = call_ok(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/flows"), None, 200).await;
        assert!(flows[0]["published_version"].is_i64(), "{slug}: {flows}");
        if *slug == "faq_knowledge" {
            assert!(made["knowledge_base_id"].is_i64(), "{made}");
            app.run_jobs().await;
        }
        assign(&app, &s, number, vb["id"].as_i64().expect("voice bot")).await;

        let sid = format!("CA{n:032}");
        let twiml = ring(&app, &hooks, &sid).await;
        assert_eq!(says(&twiml), *greeting, "{slug}: {twiml}");
        assert!(twiml.contains("<Gather input=\"speech dtmf\""), "{slug}: {twiml}");
        if !key.is_empty() {
            let next = press(&app, &twiml, &sid, key).await;
            assert!(says(&next).iter().any(|t| t.contains(then)), "{slug}: {next}");
        }
    }
    let used: i64 = app.sql(|c| c.query_row("SELECT sum(usage_count) FROM voice_bot_templates", [], |r| r.get(0)));
    assert_eq!(used, 4);
}

/// A bot with its entry flow and a published `reminder` flow (and a draft-only one).
async fn reminder_bot(app: &TestApp, s: &Session) -> i64 {
    let main = json!({ "nodes": [
        { "id": "start", "type": "start" },
        { "id": "hello", "type": "message", "data": { "text": "Welcome to Acme." } },
        { "id": "bye", "type": "end", "data": { "message": { "text": "Goodbye!" }, "close_conversation": true } }
    ], "edges": [ { "source": "start", "target": "hello" }, { "source": "hello", "target": "bye" } ] });
    let bot = crate::helpers::published_bot(app, s, "Acme", main).await;
    let reminder = json!({ "nodes": [
        { "id": "start", "type": "start" },
        { "id": "remind", "type": "question", "data": { "prompt": { "text": "This is a reminder of your appointment tomorrow at 10. Will you come?" },
          "variable": "coming", "validation": { "kind": "choices", "choices": [
            { "label": "Yes", "value": "yes" }, { "label": "No", "value": "no" } ] } } },
        { "id": "bye", "type": "end", "data": { "message": { "text": "Thank you. Goodbye." }, "close_conversation": true } }
    ], "edges": [ { "source": "start", "target": "remind" }, { "source": "remind", "target": "bye" },
                  { "source": "remind", "port": "invalid", "target": "bye" } ] });
    for (name, publish) in [("reminder", true), ("survey", false)] {
        call_ok(
            app,
            s,
            Method::PUT,
            &format!("/api/v1/bots/{bot}/flows/{name}"),
            Some(json!({ "document": reminder })),
            201,
        )
        .await;
        if publish {
            call_ok(app, s, Method::POST, &format!("/api/v1/bots/{bot}/flows/{name}/publish"), Some(json!({})), 200)
                .await;
        }
    }
    bot
}

#[tokio::test]
async fn an_outbound_call_runs_the_flow_it_names_and_an_unknown_flow_is_refused() {
    let tw = fake_twilio().await;
    let app = app_with(&tw, false, false).await;
    let (s, hooks, number) = line(&app, "voice-outbound-flow@example.com").await;
    let bot = reminder_bot(&app, &s).await;
    let vb = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/voice-bots", s.org_id),
        Some(json!({ "name": "Reminders", "bot_id": bot })),
        201,
    )
    .await;
    let vb = vb["id"].as_i64().expect("voice bot");
    assign(&app, &s, number, vb).await;
    let calls = format!("/api/v1/voice-bots/{vb}/calls");

    // Unknown and unpublished flows: 422 naming the field; the provider is not called.
    for flow in ["nope", "survey"] {
        let (status, body) =
            app.call(&s, Method::POST, &calls, Some(json!({ "to": "+14155550123", "flow": flow }))).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["details"]["field"], "flow", "{body}");
        assert_eq!(body["error"]["details"]["published_flows"], json!(["main", "reminder"]), "{body}");
    }
    assert!(tw.requests().iter().all(|r| !r.path.ends_with("/Calls.json")), "no call placed");

    let call =
        call_ok(&app, &s, Method::POST, &calls, Some(json!({ "to": "+14155550123", "flow": "reminder" })), 201).await;
    let sid = call["provider_call_sid"].as_str().expect("sid").to_owned();
    // Answered: the reminder flow speaks, not the entry flow.
    let (status, _, twiml) = post_hook(
        &app,
        &format!("{hooks}/incoming"),
        &outbound_params(&sid, &[("CallStatus", "in-progress")]),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(status, 200, "{twiml}");
    assert_eq!(
        says(&twiml),
        ["This is a reminder of your appointment tomorrow at 10. Will you come?", "Press 1 for Yes. Press 2 for No."],
        "{twiml}"
    );
    let (_, _, next) =
        post_hook(&app, &gather_action(&twiml), &outbound_params(&sid, &[("Digits", "1")]), TOKEN, None).await;
    assert_eq!(says(&next), ["Thank you. Goodbye."], "{next}");
    assert!(next.contains("<Hangup/>"), "{next}");
}

fn voice_minutes(app: &TestApp, org: i64) -> i64 {
    app.count(&format!(
        "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE organization_id = {org} AND metric_type = 'voice_minutes'"
    ))
}

#[tokio::test]
async fn completed_calls_are_metered_once_and_a_used_up_allowance_stops_new_calls() {
    let tw = fake_twilio().await;
    let app = app_with(&tw, false, true).await;
    let (s, hooks, number) = line(&app, "voice-minutes@example.com").await;
    let org = s.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'free' WHERE id = ?1", [org]));
    app.sql(|c| c.execute("UPDATE subscription_plans SET max_voice_minutes_per_month = 2 WHERE name = 'free'", []));
    let bot = reminder_bot(&app, &s).await;
    let vb = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{org}/voice-bots"),
        Some(json!({ "name": "Desk", "bot_id": bot })),
        201,
    )
    .await;
    let vb = vb["id"].as_i64().expect("voice bot");
    assign(&app, &s, number, vb).await;
    let status_hook = format!("{hooks}/status");

    // A busy call: final, no minutes.
    let busy = "CA000000000000000000000000000busy";
    post_hook(&app, &status_hook, &call_params(busy, &[("CallStatus", "busy"), ("CallDuration", "0")]), TOKEN, None)
        .await;
    assert_eq!(voice_minutes(&app, org), 0);

    // 61 seconds: two minutes, once — whatever order and however often the callbacks come.
    let sid = "CA0000000000000000000000000000m1";
    let twiml = ring(&app, &hooks, sid).await;
    assert_eq!(says(&twiml), ["Welcome to Acme.", "Goodbye!"], "{twiml}");
    for (state, duration) in
        [("completed", "61"), ("in-progress", ""), ("completed", "61"), ("ringing", ""), ("completed", "90")]
    {
        let mut extra = vec![("CallStatus", state)];
        if !duration.is_empty() {
            extra.push(("CallDuration", duration));
        }
        let (code, _, body) = post_hook(&app, &status_hook, &call_params(sid, &extra), TOKEN, None).await;
        assert_eq!(code, 200, "{body}");
    }
    assert_eq!(voice_minutes(&app, org), 2);
    let call: (String, i64, String) = app.sql(|c| {
        c.query_row("SELECT status, duration, metadata FROM calls WHERE provider_call_sid = ?1", [sid], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
    });
    assert_eq!((call.0.as_str(), call.1), ("completed", 61));
    assert_eq!(serde_json::from_str::<Value>(&call.2).expect("metadata")["metered_minutes"], 2);

    // The two minutes are the plan's allowance: a new call hears why and is hung up.
    let twiml = ring(&app, &hooks, "CA0000000000000000000000000000m2").await;
    assert_eq!(
        says(&twiml),
        [
            "Sorry, this line cannot take calls right now because its monthly calling allowance is used up. Please try again later. Goodbye."
        ],
        "{twiml}"
    );
    assert!(twiml.contains("<Hangup/>") && !twiml.contains("<Gather"), "{twiml}");
    let error: Option<String> = app.sql(|c| {
        c.query_row(
            "SELECT error_message FROM calls WHERE provider_call_sid = 'CA0000000000000000000000000000m2'",
            [],
            |r| r.get(0),
        )
    });
    assert!(error.is_some_and(|e| e.contains("voice minutes")), "the refusal is recorded");

    // An outbound call is refused with 402 before the provider is asked.
    let (status, body) = app
        .call(&s, Method::POST, &format!("/api/v1/voice-bots/{vb}/calls"), Some(json!({ "to": "+14155550123" })))
        .await;
    assert_eq!(status, 402, "{body}");
    assert_eq!(body["error"]["code"], "plan_limit_exceeded");
    assert_eq!(body["error"]["details"], json!({ "limit": "voice_minutes_per_month", "used": 2, "allowed": 2 }));
    assert!(tw.requests().iter().all(|r| !r.path.ends_with("/Calls.json")), "no call placed");
}

/// Uploads a description; answers status and body.
async fn describe(app: &TestApp, s: &Session, audio: Vec<u8>, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form = Form::new().part("audio", Part::bytes(audio).file_name("description.bin"));
    for (k, v) in fields {
        form = form.text((*k).to_owned(), (*v).to_owned());
    }
    let r = app
        .as_user(s, Method::POST, &format!("/api/v1/orgs/{}/voice-bot-creations", s.org_id))
        .multipart(form)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

const SPOKEN: &str = "I need a phone bot for Smile Dental. Callers ask about our opening hours, we are open eight to five \
    on weekdays, and about prices, a check-up costs sixty euros. Ask for their name first.";

fn extraction() -> Value {
    json!({ "name": "Smile Dental line", "description": "Answers the dental practice's phone.",
            "greeting": "Thank you for calling Smile Dental.",
            "intents": [
                { "name": "opening_hours", "label": "Opening hours", "examples": ["when are you open", "opening times"],
                  "answer": "We are open from eight to five on weekdays." },
                { "name": "prices", "label": "Prices", "examples": ["how much is a check-up"],
                  "answer": "A check-up costs sixty euros." } ],
            "questions": [ { "variable": "caller_name", "prompt": "May I have your name, please?" } ] })
}

#[tokio::test]
async fn a_spoken_description_becomes_a_phone_bot_and_bad_input_is_refused_clearly() {
    let tw = fake_twilio().await;
    let app = app_with(&tw, false, false).await;
    let (s, hooks, number) = line(&app, "voice-to-bot@example.com").await;
    let org = s.org_id;
    let llm = FakeOpenAi::start().await;

    // No provider yet: nothing can transcribe.
    let (status, body) = describe(&app, &s, wav(), &[]).await;
    assert_eq!((status, body["error"]["code"].clone()), (409, json!("llm_not_configured")), "{body}");
    crate::ai::provider(&app, &s, "fake", &llm, json!({ "is_default": true, "max_retries": 0 })).await;

    // Not audio, or too much of it: 422 with stable codes, nothing sent to the provider.
    let (status, body) = describe(&app, &s, b"\x89PNG\r\n\x1a\nnot a recording".to_vec(), &[]).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("voice_audio_unsupported")), "{body}");
    assert_eq!(body["error"]["details"]["field"], "audio");
    let (status, body) = describe(&app, &s, b"fLaC\0\0\0\x22flac is not taken".to_vec(), &[]).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("voice_audio_unsupported")), "{body}");
    let mut big = wav();
    big.resize(65 * 1024, 0);
    let (status, body) = describe(&app, &s, big, &[]).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("voice_audio_too_large")), "{body}");
    assert_eq!(body["error"]["details"]["limit_bytes"], 64 * 1024);
    let (status, body) = describe(&app, &s, wav(), &[("extraction", "maybe")]).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("extraction")), "{body}");
    assert!(llm.calls().is_empty(), "{:?}", llm.calls());
    let plain = app
        .as_user(&s, Method::POST, &format!("/api/v1/orgs/{org}/voice-bot-creations"))
        .json(&json!({ "audio": "..." }))
        .send()
        .await
        .expect("send");
    assert_eq!(plain.status().as_u16(), 415);

    // Silence: transcribed to nothing — a clear error; the creation records it.
    llm.push_transcript("  ");
    let (status, body) = describe(&app, &s, wav(), &[]).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("voice_transcript_empty")), "{body}");
    let failed = body["error"]["details"]["creation_id"].as_i64().expect("creation id");
    let c = call_ok(&app, &s, Method::GET, &format!("/api/v1/voice-bot-creations/{failed}"), None, 200).await;
    assert_eq!((c["status"].clone(), c["next_step"].clone()), (json!("error"), json!("record_again")), "{c}");
    assert_eq!(c["steps"].as_array().map(Vec::len), Some(2), "{c}");

    // The model answers something that is not the schema: a clear error, the guided form offered.
    llm.push_transcript(SPOKEN);
    llm.push(Step::text(r#"{"name": "Smile", "intents": "opening hours, prices"}"#));
    let (status, body) = describe(&app, &s, wav(), &[("language", "en")]).await;
    assert_eq!((status, body["error"]["code"].clone()), (422, json!("voice_extraction_invalid")), "{body}");
    let id = body["error"]["details"]["creation_id"].as_i64().expect("creation id");
    assert_eq!(body["error"]["details"]["guided_form"], format!("/api/v1/voice-bot-creations/{id}/extraction"));
    assert!(!body["error"]["details"]["issues"].as_array().expect("issues").is_empty(), "{body}");
    let c = call_ok(&app, &s, Method::GET, &format!("/api/v1/voice-bot-creations/{id}"), None, 200).await;
    assert_eq!((c["status"].clone(), c["next_step"].clone()), (json!("extracting"), json!("form")), "{c}");
    assert_eq!(c["transcript"], SPOKEN);
    // The guided form: a bad one names the field, a good one drafts the flow.
    let form = format!("/api/v1/voice-bot-creations/{id}/extraction");
    let mut bad = extraction();
    bad["intents"][1]["answer"] = json!("");
    let (status, body) = app.call(&s, Method::PUT, &form, Some(bad)).await;
    assert_eq!((status, body["error"]["details"]["field"].clone()), (422, json!("intents[1].answer")), "{body}");
    let c = call_ok(&app, &s, Method::PUT, &form, Some(extraction()), 200).await;
    assert_eq!((c["status"].clone(), c["extraction_source"].clone()), (json!("extracted"), json!("form")), "{c}");

    // The whole path with the model: transcribe, extract, draft, preview, create, call.
    llm.push_transcript(SPOKEN);
    llm.push(Step::text(&format!("Here is the bot:\n```json\n{}\n```", extraction())));
    let (status, c) =
        describe(&app, &s, wav(), &[("language", "en"), ("transcription_model", "gpt-4o-transcribe")]).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!((c["status"].clone(), c["next_step"].clone()), (json!("extracted"), json!("review")), "{c}");
    assert_eq!((c["audio_format"].clone(), c["transcript"].clone()), (json!("wav"), json!(SPOKEN)));
    assert_eq!(c["extraction"]["intents"][1]["name"], "prices");
    assert_eq!(c["extraction_source"], "model");
    assert_eq!(c["voice_warnings"], json!([]), "{c}");
    assert_eq!(
        c["script"].as_array().expect("script")[..4],
        [
            json!("Thank you for calling Smile Dental."),
            json!("May I have your name, please?"),
            json!("How can I help you today?"),
            json!("Press 1 for Opening hours. Press 2 for Prices. Press 3 for Speak to a person.")
        ]
    );
    let steps: Vec<&str> = c["steps"].as_array().expect("steps").iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(steps, ["upload", "transcribe", "extract"]);
    let calls = llm.calls();
    let heard = calls.iter().rev().find(|c| c.path == "/v1/audio/transcriptions").expect("a transcription");
    assert_eq!(heard.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(heard.body["model"], "gpt-4o-transcribe");
    assert_eq!(heard.body["response_format"], "json");
    assert_eq!(heard.body["language"], "en");
    assert_eq!(heard.body["file_name"], "description.wav");
    assert_eq!(heard.body["file_content_type"], "audio/wav");
    assert_eq!(heard.body["file_bytes"], wav().len());
    let asked = calls.last().expect("the extraction");
    assert_eq!(asked.path, "/v1/chat/completions");
    assert_eq!(asked.body["response_format"], json!({ "type": "json_object" }));
    assert!(asked.body["messages"][1]["content"].as_str().is_some_and(|m| m.contains("Smile Dental")));
    let id = c["id"].as_i64().expect("id");

    let made = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/voice-bot-creations/{id}/bot"),
        Some(json!({ "voice_id": "Polly.Joanna", "settings": { "transfer_to": DESK } })),
        201,
    )
    .await;
    assert_eq!(made["creation"]["status"], "completed");
    assert_eq!(made["creation"]["generated_bot_id"], made["bot"]["id"]);
    assert_eq!(made["creation"]["voice_bot_id"], made["voice_bot"]["id"]);
    assert_eq!(made["voice_bot"]["name"], "Smile Dental line");
    assert_eq!(made["voice_bot"]["voice_warnings"], json!([]));
    let (status, again) =
        app.call(&s, Method::POST, &format!("/api/v1/voice-bot-creations/{id}/bot"), Some(json!({}))).await;
    assert_eq!(status, 409, "{again}");
    let bot = made["bot"]["id"].as_i64().expect("bot");
    let (_, nlu) = app.call(&s, Method::GET, &format!("/api/v1/bots/{bot}/nlu"), None).await;
    assert_eq!(nlu["intents"], 2, "{nlu}");

    assign(&app, &s, number, made["voice_bot"]["id"].as_i64().expect("voice bot")).await;
    let sid = "CA00000000000000000000000000dent";
    let twiml = ring(&app, &hooks, sid).await;
    assert_eq!(says(&twiml), ["Thank you for calling Smile Dental.", "May I have your name, please?"], "{twiml}");
    let (_, _, twiml) = post_hook(
        &app,
        &gather_action(&twiml),
        &call_params(sid, &[("SpeechResult", "Ada Lovelace"), ("Confidence", "0.9")]),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(
        says(&twiml),
        ["How can I help you today?", "Press 1 for Opening hours. Press 2 for Prices. Press 3 for Speak to a person."],
        "{twiml}"
    );
    let twiml = press(&app, &twiml, sid, "2").await;
    assert_eq!(
        says(&twiml),
        [
            "A check-up costs sixty euros.",
            "Is there anything else I can help you with?",
            "Press 1 for Yes. Press 2 for No."
        ],
        "{twiml}"
    );
    let twiml = press(&app, &twiml, sid, "2").await;
    assert_eq!(says(&twiml), ["Thank you for calling. Goodbye."], "{twiml}");

    // The guided form without any model call: `extraction=form`.
    let before = llm.calls().len();
    llm.push_transcript(SPOKEN);
    let (status, c) = describe(&app, &s, wav(), &[("extraction", "form")]).await;
    assert_eq!((status, c["next_step"].clone()), (201, json!("form")), "{c}");
    assert_eq!(llm.calls().len(), before + 1, "only the transcription");
    let rows = app.count(&format!("SELECT count(*) FROM voice_bot_creations WHERE organization_id = {org}"));
    let chunks =
        app.count(&format!("SELECT count(*) FROM voice_bot_sessions WHERE organization_id = {org} AND is_final = 1"));
    assert_eq!((rows, chunks), (4, 4));
}
