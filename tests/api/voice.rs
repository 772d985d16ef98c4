//! Voice bots through the real server with a local fake of Twilio: the
//! fake's REST API (`channels.twilio_api_base` points at it) checks HTTP
//! Basic `account_sid:auth_token` and the form bodies of `Calls.json` and
//! `IncomingPhoneNumbers.json`, serves a recording; the test posts the
//! voice webhooks as Twilio would, signed with `X-Twilio-Signature`
//! (computed here independently of the server), and reads the `TwiML` that
//! comes back.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};

use crate::fake_http::{FakeServer, Received, Reply};
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};

pub(crate) const SID: &str = "AC0123456789abcdef0123456789abcdef";
pub(crate) const TOKEN: &str = "f0e1d2c3b4a5968778695a4b3c2d1e0f";
const WRONG_TOKEN: &str = "ffffffffffffffffffffffffffffffff";
pub(crate) const NUMBER: &str = "+15005550006";
pub(crate) const CALLER: &str = "+14155550100";
pub(crate) const DESK: &str = "+14155550199";

/// A WAV file: the RIFF header and a few silent samples.
pub(crate) fn wav() -> Vec<u8> {
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&44_u32.to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&[16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
    w.extend_from_slice(b"data");
    w.extend_from_slice(&8_u32.to_le_bytes());
    w.extend_from_slice(&[0; 8]);
    w
}

fn basic(sid: &str, token: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{sid}:{token}")))
}

fn form_of(r: &Received) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&r.body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field(form: &[(String, String)], name: &str) -> Option<String> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// A fake Twilio: only `SID`/`TOKEN` authenticate.
pub(crate) async fn fake_twilio() -> FakeServer {
    FakeServer::start(Arc::new(move |r: &Received| {
        let reply = |status: u16, v: Value| Reply::Full(status, "application/json".into(), v.to_string().into_bytes());
        if r.header("authorization") != Some(basic(SID, TOKEN).as_str()) {
            return reply(401, json!({"code": 20003, "message": "Authenticate", "status": 401}));
        }
        let account = format!("/2010-04-01/Accounts/{SID}");
        let path = r.path.split('?').next().unwrap_or("");
        match (r.method.as_str(), path.strip_prefix(&account).unwrap_or("")) {
            ("GET", "/IncomingPhoneNumbers.json") => reply(
                200,
                json!({"incoming_phone_numbers": [
                    {"sid": "PN11111111111111111111111111111111", "phone_number": NUMBER, "friendly_name": "(500) 555-0006",
                     "iso_country": "US", "capabilities": {"voice": true, "sms": true, "mms": false}}
                ], "next_page_uri": null}),
            ),
            ("GET", "/AvailablePhoneNumbers/US/Local.json") => {
                assert!(r.path.contains("AreaCode=415") && r.path.contains("VoiceEnabled=true"), "{}", r.path);
                reply(
                    200,
                    json!({"available_phone_numbers": [
                        {"phone_number": "+14155550111", "friendly_name": "(415) 555-0111", "locality": "San Francisco",
                         "region": "CA", "iso_country": "US", "capabilities": {"voice": true, "SMS": false, "MMS": false}}
                    ]}),
                )
            }
            ("POST", "/IncomingPhoneNumbers.json") => {
                let f = form_of(r);
                let number = field(&f, "PhoneNumber").unwrap_or_default();
                assert!(field(&f, "VoiceUrl").is_some_and(|u| u.ends_with("/incoming")), "{f:?}");
                reply(
                    201,
                    json!({"sid": "PN22222222222222222222222222222222", "phone_number": number, "friendly_name": number,
                           "iso_country": "US", "capabilities": {"voice": true, "sms": false}}),
                )
            }
            ("DELETE", "/IncomingPhoneNumbers/PN22222222222222222222222222222222.json") => {
                Reply::Full(204, "application/json".into(), Vec::new())
            }
            ("POST", "/Calls.json") => {
                assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"), "{r:?}");
                reply(201, json!({"sid": "CA00000000000000000000000000000out", "status": "queued"}))
            }
            ("GET", "/Recordings/RE1") => Reply::Full(200, "audio/x-wav".into(), wav()),
            _ => reply(404, json!({"code": 20404, "message": "The requested resource was not found", "status": 404})),
        }
    }))
    .await
}

/// Twilio's signature: base64 HMAC-SHA1 over the URL and the sorted name+value pairs.
fn twilio_signature(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort_unstable();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("key");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

struct Line {
    app: TestApp,
    s: Session,
    tw: FakeServer,
    /// `{public}/hooks/voice/{key}`.
    hooks: String,
    voice_bot: i64,
    number: i64,
}

/// Posts a webhook to the full `url` as Twilio would (signed with `token`,
/// or with `signature` verbatim); answers status, content type and body.
pub(crate) async fn post_hook(
    app: &TestApp,
    url: &str,
    params: &[(&str, &str)],
    token: &str,
    signature: Option<&str>,
) -> (u16, String, String) {
    let at = url.find("/hooks/").expect("hooks");
    let mut r = app.client.post(app.url(&url[at..])).header("content-type", "application/x-www-form-urlencoded");
    let sig = twilio_signature(token, url, params);
    match signature {
        Some("") => {}
        Some(s) => r = r.header("X-Twilio-Signature", s),
        None => r = r.header("X-Twilio-Signature", sig),
    }
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params.iter()).finish();
    let r = r.body(body).send().await.expect("send");
    let status = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    (status, ct, r.text().await.unwrap_or_default())
}

/// The call parameters Twilio sends with every voice webhook.
pub(crate) fn call_params<'a>(sid: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p = vec![
        ("AccountSid", SID),
        ("ApiVersion", "2010-04-01"),
        ("CallSid", sid),
        ("Direction", "inbound"),
        ("From", CALLER),
        ("To", NUMBER),
    ];
    p.extend_from_slice(extra);
    p
}

/// The parameters of a webhook about an outbound call.
pub(crate) fn outbound_params<'a>(sid: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut p =
        vec![("AccountSid", SID), ("CallSid", sid), ("Direction", "outbound-api"), ("From", NUMBER), ("To", CALLER)];
    p.extend_from_slice(extra);
    p
}

/// The `action` of the `<Gather>` in a `TwiML` document.
pub(crate) fn gather_action(twiml: &str) -> String {
    let g = &twiml[twiml.find("<Gather").unwrap_or_else(|| panic!("no gather: {twiml}"))..];
    let a = &g[g.find("action=\"").expect("action") + 8..];
    a[..a.find('"').expect("end")].replace("&amp;", "&")
}

fn redirect(twiml: &str) -> String {
    let r = &twiml[twiml.find("<Redirect method=\"POST\">").expect("redirect") + 24..];
    r[..r.find("</Redirect>").expect("end")].replace("&amp;", "&")
}

/// The texts of the `<Say>` verbs, in order.
pub(crate) fn says(twiml: &str) -> Vec<String> {
    twiml
        .split("<Say")
        .skip(1)
        .map(|s| {
            let t = &s[s.find('>').expect(">") + 1..];
            t[..t.find("</Say>").expect("</Say>")].to_owned()
        })
        .collect()
}

/// Greets, asks a menu question (DTMF or speech), answers opening hours
/// directly or routes an order question by intent to a person.
fn ivr_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Welcome to Acme." } },
            { "id": "menu", "type": "question", "data": {
                "prompt": { "text": "What can I help you with?" }, "variable": "topic",
                "validation": { "kind": "choices", "choices": [
                    { "label": "Orders", "value": "orders" }, { "label": "Opening hours", "value": "hours" } ] } } },
            { "id": "branch", "type": "condition", "data": { "branches": [
                { "id": "hours", "condition": { "subject": "variable", "name": "topic", "operator": "equals", "value": "hours" } } ] } },
            { "id": "open", "type": "message", "data": { "text": "We open 9 to 5." } },
            { "id": "bye", "type": "end", "data": { "message": { "text": "Goodbye!" }, "close_conversation": true } },
            { "id": "orders", "type": "message", "data": { "text": "Sure. What about your order?" } },
            { "id": "route", "type": "intent_router", "data": { "routes": [ { "id": "track", "intent": "track_order" } ] } },
            { "id": "tracked", "type": "message", "data": { "text": "Your parcel is on its way." } },
            { "id": "oos", "type": "message", "data": { "text": "Sorry, I only know about orders." } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "Let me put you through to a colleague." } } }
        ],
        "edges": [
            { "source": "start", "target": "hello" }, { "source": "hello", "target": "menu" },
            { "source": "menu", "target": "branch" }, { "source": "menu", "port": "invalid", "target": "bye" },
            { "source": "branch", "port": "hours", "target": "open" }, { "source": "open", "target": "bye" },
            { "source": "branch", "port": "else", "target": "orders" }, { "source": "orders", "target": "route" },
            { "source": "route", "port": "track", "target": "tracked" }, { "source": "tracked", "target": "human" },
            { "source": "route", "port": "out_of_scope", "target": "oos" }, { "source": "oos", "target": "route" }
        ]
    })
}

pub(crate) async fn call_ok(
    app: &TestApp,
    s: &Session,
    method: Method,
    path: &str,
    body: Option<Value>,
    want: u16,
) -> Value {
    let (status, v) = app.call(s, method, path, body).await;
    assert_eq!(status, want, "{path}: {v}");
    v
}

/// An organization with the Twilio account, the IVR bot (trained when
/// `ml`), its number synced from the fake and a voice bot on it.
async fn setup(ml: bool) -> Line {
    let tw = fake_twilio().await;
    let base = tw.base.clone();
    let app = spawn_app_with(move |c| {
        c.channels.twilio_api_base = base;
        c.ml.enabled = ml;
    })
    .await;
    let s = app.register("voice-owner@example.com").await;
    let org = s.org_id;
    let account = call_ok(
        &app,
        &s,
        Method::PUT,
        &format!("/api/v1/orgs/{org}/voice/account"),
        Some(json!({ "account_sid": SID, "auth_token": TOKEN })),
        200,
    )
    .await;
    assert!(!account.to_string().contains(TOKEN), "{account}");
    let hooks = account["voice_url"].as_str().expect("voice_url").trim_end_matches("/incoming").to_owned();
    let bot = crate::helpers::published_bot(&app, &s, "Acme IVR", ivr_flow()).await;
    if ml {
        for (name, texts) in [("track_order", crate::runtime::TRACK), ("opening_hours", crate::runtime::HOURS)] {
            let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
            let path = format!("/api/v1/bots/{bot}/nlu/intents");
            call_ok(&app, &s, Method::POST, &path, Some(json!({ "name": name, "examples": examples })), 201).await;
        }
        call_ok(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None, 202).await;
        app.run_jobs().await;
    }
    let synced = call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{org}/phone-numbers/sync"), None, 200).await;
    assert_eq!(synced[0]["phone_number"], NUMBER, "{synced}");
    assert_eq!(synced[0]["capabilities"], json!({ "voice": true, "sms": true }));
    let number = synced[0]["id"].as_i64().expect("number id");
    let vb = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{org}/voice-bots"),
        Some(json!({ "name": "Front desk", "bot_id": bot, "voice_id": "Polly.Joanna", "language": "en-US",
                     "settings": { "transfer_to": DESK, "ssml": true, "max_reprompts": 2 } })),
        201,
    )
    .await;
    let voice_bot = vb["id"].as_i64().expect("voice bot id");
    let assigned = call_ok(
        &app,
        &s,
        Method::PATCH,
        &format!("/api/v1/phone-numbers/{number}"),
        Some(json!({ "voice_bot_id": voice_bot })),
        200,
    )
    .await;
    assert_eq!(assigned["voice_bot_id"], voice_bot);
    Line { app, s, tw, hooks, voice_bot, number }
}

#[tokio::test]
async fn a_scripted_call_goes_through_a_dtmf_menu_an_intent_and_a_transfer() {
    let v = setup(true).await;
    let incoming = format!("{}/incoming", v.hooks);
    let sid = "CA11111111111111111111111111111111";

    // The call comes in: greeting, then the menu inside a speech-and-keys gather.
    let (status, ct, twiml) =
        post_hook(&v.app, &incoming, &call_params(sid, &[("CallStatus", "ringing")]), TOKEN, None).await;
    assert_eq!(status, 200, "{twiml}");
    assert!(ct.starts_with("text/xml"), "{ct}");
    assert!(twiml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>"), "{twiml}");
    assert_eq!(
        says(&twiml),
        ["Welcome to Acme.", "What can I help you with?", "Press 1 for Orders. Press 2 for Opening hours."]
    );
    assert!(twiml.contains("<Say voice=\"Polly.Joanna\" language=\"en-US\">"), "{twiml}");
    assert!(
        twiml.contains("<Gather input=\"speech dtmf\" timeout=\"5\" speechTimeout=\"auto\" numDigits=\"1\""),
        "{twiml}"
    );
    let first = gather_action(&twiml);
    assert!(first.ends_with("/gather?seq=1"), "{first}");

    // The same incoming call again is a replay: refused, nothing runs.
    let (status, _, body) =
        post_hook(&v.app, &incoming, &call_params(sid, &[("CallStatus", "ringing")]), TOKEN, None).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("voice_webhook_replayed"), "{body}");

    // Silence: the redirect after the gather re-prompts.
    let (status, _, twiml) = post_hook(&v.app, &redirect(&twiml), &call_params(sid, &[]), TOKEN, None).await;
    assert_eq!(status, 200, "{twiml}");
    assert_eq!(
        says(&twiml),
        [
            "Sorry, I did not hear anything.",
            "Welcome to Acme.",
            "What can I help you with?",
            "Press 1 for Orders. Press 2 for Opening hours."
        ]
    );
    let second = gather_action(&twiml);
    assert!(second.ends_with("/gather?seq=2"), "{second}");

    // A stale gather (the first one, replayed) runs nothing.
    let (status, _, body) = post_hook(&v.app, &first, &call_params(sid, &[("Digits", "2")]), TOKEN, None).await;
    assert_eq!(status, 409, "{body}");

    // "Repeat that" says the prompt again without a turn.
    let (_, _, twiml) = post_hook(
        &v.app,
        &second,
        &call_params(sid, &[("SpeechResult", "Repeat that."), ("Confidence", "0.9")]),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(
        says(&twiml),
        ["Welcome to Acme.", "What can I help you with?", "Press 1 for Orders. Press 2 for Opening hours."]
    );
    let third = gather_action(&twiml);

    // Key 1 picks "Orders".
    let (_, _, twiml) = post_hook(&v.app, &third, &call_params(sid, &[("Digits", "1")]), TOKEN, None).await;
    assert_eq!(says(&twiml), ["Sure. What about your order?"], "{twiml}");
    assert!(!twiml.contains("numDigits"), "{twiml}");
    let fourth = gather_action(&twiml);

    // A spoken question routed by intent, then the hand-off dials the desk.
    let (_, _, twiml) = post_hook(
        &v.app,
        &fourth,
        &call_params(sid, &[("SpeechResult", "Where is my parcel?"), ("Confidence", "0.92")]),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(says(&twiml), ["Your parcel is on its way.", "Let me put you through to a colleague."], "{twiml}");
    assert!(
        twiml.contains(&format!(
            "<Dial timeout=\"30\" action=\"{}/hangup\" method=\"POST\"><Number>{DESK}</Number></Dial>",
            v.hooks
        )),
        "{twiml}"
    );
    assert!(!twiml.contains("<Gather"), "{twiml}");

    // The call ends; a late "in-progress" does not reopen it.
    for (status, duration) in [("in-progress", ""), ("completed", "42"), ("in-progress", ""), ("ringing", "")] {
        let mut extra = vec![("CallStatus", status)];
        if !duration.is_empty() {
            extra.push(("CallDuration", duration));
        }
        let (code, _, body) =
            post_hook(&v.app, &format!("{}/status", v.hooks), &call_params(sid, &extra), TOKEN, None).await;
        assert_eq!(code, 200, "{body}");
    }

    // The call log: the transcript per turn, the outcome and the stats.
    let org = v.s.org_id;
    let list = call_ok(
        &v.app,
        &v.s,
        Method::GET,
        &format!("/api/v1/orgs/{org}/calls?direction=inbound&outcome=transferred"),
        None,
        200,
    )
    .await;
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["status"], "completed");
    assert_eq!(items[0]["duration"], 42);
    assert!(items[0]["end_time"].is_string() && items[0]["start_time"].is_string(), "{list}");
    let none =
        call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/orgs/{org}/calls?min_duration=43"), None, 200).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0), "{none}");
    let call = items[0]["id"].as_i64().expect("call id");
    let detail = call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/calls/{call}"), None, 200).await;
    let segments = detail["segments"].as_array().expect("segments");
    let heard: Vec<&str> = segments.iter().map(|s| s["text"].as_str().unwrap_or("")).collect();
    assert_eq!(
        heard,
        [
            "Welcome to Acme. What can I help you with? Press 1 for Orders. Press 2 for Opening hours.",
            "1 (orders)",
            "Where is my parcel?"
        ],
        "{detail}"
    );
    assert_eq!(segments[2]["speaker"], "caller");
    assert_eq!(segments[2]["intent"], "track_order", "{detail}");
    assert_eq!(segments[2]["confidence"], 0.92);
    assert_eq!(segments[2]["reply"], "Your parcel is on its way. Let me put you through to a colleague.");
    assert!(segments.iter().all(|s| s["latency_ms"].as_i64().is_some_and(|ms| ms >= 0)), "{detail}");
    let conv = detail["conversation_id"].as_i64().expect("conversation");
    assert_eq!(
        v.app.count(&format!(
            "SELECT count(*) FROM conversations WHERE id = {conv} AND channel = 'voice' AND status = 'handoff'"
        )),
        1
    );
    let call_stats = call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/orgs/{org}/voice/stats"), None, 200).await;
    assert_eq!(call_stats["calls"], 1, "{call_stats}");
    assert_eq!(call_stats["transferred"], 1, "{call_stats}");
    assert_eq!(call_stats["average_handle_time_secs"], 42.0, "{call_stats}");
    assert_eq!(call_stats["containment_rate"], 0.0, "{call_stats}");
}

#[tokio::test]
async fn bad_signatures_unknown_numbers_and_deleted_bots_are_handled() {
    let v = setup(false).await;
    let incoming = format!("{}/incoming", v.hooks);
    let sid = "CA22222222222222222222222222222222";
    let params = call_params(sid, &[("CallStatus", "ringing")]);
    // Wrong token, missing signature, a signature over another URL, another account: 403, nothing stored.
    for (token, signature) in [(WRONG_TOKEN, None), (TOKEN, Some("")), (TOKEN, Some("AAAA"))] {
        let (status, _, body) = post_hook(&v.app, &incoming, &params, token, signature).await;
        assert_eq!(status, 403, "{body}");
        assert!(body.contains("voice_signature_invalid"), "{body}");
    }
    let other = call_params(sid, &[("CallStatus", "ringing")])
        .into_iter()
        .map(|(k, val)| if k == "AccountSid" { (k, "AC99999999999999999999999999999999") } else { (k, val) })
        .collect::<Vec<_>>();
    let (status, _, _) = post_hook(&v.app, &incoming, &other, TOKEN, None).await;
    assert_eq!(status, 403);
    let signed_elsewhere = twilio_signature(TOKEN, &format!("{}/status", v.hooks), &params);
    let (status, _, _) = post_hook(&v.app, &incoming, &params, TOKEN, Some(&signed_elsewhere)).await;
    assert_eq!(status, 403);
    assert_eq!(v.app.count("SELECT count(*) FROM calls"), 0);

    // A call for a number nobody answers: a polite goodbye and a hang-up.
    let unknown: Vec<(&str, &str)> =
        params.iter().map(|&(k, val)| if k == "To" { (k, "+15005550009") } else { (k, val) }).collect();
    let (status, _, twiml) = post_hook(&v.app, &incoming, &unknown, TOKEN, None).await;
    assert_eq!(status, 200, "{twiml}");
    assert!(says(&twiml)[0].contains("not in service"), "{twiml}");
    assert!(twiml.ends_with("<Hangup/></Response>"), "{twiml}");

    // The voice bot is deleted: its number answers the same way.
    let path = format!("/api/v1/voice-bots/{}", v.voice_bot);
    let (status, _) = v.app.call(&v.s, Method::DELETE, &path, None).await;
    assert_eq!(status, 204);
    let (_, _, twiml) = post_hook(&v.app, &incoming, &params, TOKEN, None).await;
    assert!(says(&twiml)[0].contains("not in service") && twiml.ends_with("<Hangup/></Response>"), "{twiml}");
    let number =
        call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/orgs/{}/phone-numbers", v.s.org_id), None, 200).await;
    assert_eq!(number["items"][0]["voice_bot_id"], Value::Null, "{number}");
    assert_eq!(v.app.count("SELECT count(*) FROM calls"), 0);
    let _ = v.number;
}

#[tokio::test]
async fn an_outbound_call_reaches_the_provider_and_its_callbacks_fold_in_out_of_order() {
    let v = setup(false).await;
    let org = v.s.org_id;
    // Bad input first: not a number.
    let path = format!("/api/v1/voice-bots/{}/calls", v.voice_bot);
    let r = v.app.as_user(&v.s, Method::POST, &path).json(&json!({ "to": "0800 CALL ME" })).send().await.expect("send");
    let err = assert_error(r, 422, "validation_failed").await;
    assert_eq!(err["error"]["details"]["field"], "to");

    let call = call_ok(
        &v.app,
        &v.s,
        Method::POST,
        &path,
        Some(json!({ "to": CALLER, "record": true, "machine_detection": true })),
        201,
    )
    .await;
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["status"], "queued");
    let sid = call["provider_call_sid"].as_str().expect("sid").to_owned();
    let sent: Vec<Vec<(String, String)>> =
        v.tw.requests().iter().filter(|r| r.path.ends_with("/Calls.json")).map(form_of).collect();
    assert_eq!(sent.len(), 1);
    let f = &sent[0];
    assert_eq!(field(f, "To").as_deref(), Some(CALLER));
    assert_eq!(field(f, "From").as_deref(), Some(NUMBER));
    assert_eq!(field(f, "Url"), Some(format!("{}/incoming", v.hooks)));
    assert_eq!(field(f, "Method").as_deref(), Some("POST"));
    assert_eq!(field(f, "StatusCallback"), Some(format!("{}/status", v.hooks)));
    let events: Vec<&str> = f.iter().filter(|(k, _)| k == "StatusCallbackEvent").map(|(_, e)| e.as_str()).collect();
    assert_eq!(events, ["initiated", "ringing", "answered", "completed"]);
    assert_eq!(field(f, "MachineDetection").as_deref(), Some("Enable"));
    assert_eq!(field(f, "Record").as_deref(), Some("true"));
    assert_eq!(field(f, "RecordingStatusCallback"), Some(format!("{}/recording", v.hooks)));

    let out = |extra: &[(&'static str, &'static str)]| outbound_params(&sid, extra);
    let status_url = format!("{}/status", v.hooks);
    // Callbacks out of order: completed arrives before ringing and in-progress.
    let (code, _, body) = post_hook(
        &v.app,
        &status_url,
        &out(&[("CallStatus", "completed"), ("CallDuration", "31"), ("AnsweredBy", "human")]),
        TOKEN,
        None,
    )
    .await;
    assert_eq!(code, 200, "{body}");
    for s in ["ringing", "in-progress", "busy"] {
        let (code, _, body) = post_hook(&v.app, &status_url, &out(&[("CallStatus", s)]), TOKEN, None).await;
        assert_eq!(code, 200, "{body}");
    }
    let bogus = post_hook(&v.app, &status_url, &out(&[("CallStatus", "exploded")]), TOKEN, None).await;
    assert_eq!(bogus.0, 422, "{}", bogus.2);
    let id = call["id"].as_i64().expect("id");
    let detail = call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/calls/{id}"), None, 200).await;
    assert_eq!(detail["status"], "completed", "{detail}");
    assert_eq!(detail["duration"], 31);
    assert_eq!(detail["answered_by"], "human");
    assert_eq!(detail["outcome"], "contained");

    // The recording callback: a job fetches the audio into the files.
    let rec_url = format!("{}/2010-04-01/Accounts/{SID}/Recordings/RE1", v.tw.base);
    let params = outbound_params(
        &sid,
        &[
            ("RecordingSid", "RE1"),
            ("RecordingUrl", &rec_url),
            ("RecordingStatus", "completed"),
            ("RecordingDuration", "30"),
        ],
    );
    let (code, _, body) = post_hook(&v.app, &format!("{}/recording", v.hooks), &params, TOKEN, None).await;
    assert_eq!(code, 200, "{body}");
    v.app.run_jobs().await;
    let detail = call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/calls/{id}"), None, 200).await;
    let file = detail["recording_file_id"].as_i64().unwrap_or_else(|| panic!("no recording: {detail}"));
    assert_eq!(detail["recording_duration"], 30);
    assert_eq!(detail["recording_url"], format!("/api/v1/files/{file}"));
    assert_eq!(
        v.app.count(&format!(
            "SELECT count(*) FROM files WHERE id = {file} AND organization_id = {org} AND content_type = 'audio/wav'"
        )),
        1
    );
    let fetched = v.tw.requests().into_iter().filter(|r| r.path.ends_with("/Recordings/RE1")).count();
    assert_eq!(fetched, 1);
    let stats = call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/orgs/{org}/voice/stats"), None, 200).await;
    assert_eq!((stats["outbound"].as_i64(), stats["contained"].as_i64()), (Some(1), Some(1)), "{stats}");
}

#[tokio::test]
async fn numbers_are_searched_bought_and_released_and_unspeakable_nodes_are_flagged() {
    let v = setup(false).await;
    let org = v.s.org_id;
    let found = call_ok(
        &v.app,
        &v.s,
        Method::GET,
        &format!("/api/v1/orgs/{org}/phone-numbers/available?area_code=415"),
        None,
        200,
    )
    .await;
    assert_eq!(found[0]["phone_number"], "+14155550111", "{found}");
    assert_eq!(found[0]["capabilities"], json!({ "voice": true, "sms": false }));
    let r = v
        .app
        .as_user(&v.s, Method::GET, &format!("/api/v1/orgs/{org}/phone-numbers/available?area_code=4a5"))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "area_code");
    let bought = call_ok(
        &v.app,
        &v.s,
        Method::POST,
        &format!("/api/v1/orgs/{org}/phone-numbers"),
        Some(json!({ "phone_number": "+14155550111" })),
        201,
    )
    .await;
    assert_eq!(bought["status"], "active");
    let id = bought["id"].as_i64().expect("id");
    let released = call_ok(&v.app, &v.s, Method::DELETE, &format!("/api/v1/phone-numbers/{id}"), None, 200).await;
    assert_eq!(released["status"], "released");
    let r = v
        .app
        .as_user(&v.s, Method::PATCH, &format!("/api/v1/phone-numbers/{id}"))
        .json(&json!({ "voice_bot_id": v.voice_bot }))
        .send()
        .await
        .expect("send");
    assert_error(r, 422, "validation_failed").await;

    // A bad transfer target is refused with its field.
    let r = v
        .app
        .as_user(&v.s, Method::PATCH, &format!("/api/v1/voice-bots/{}", v.voice_bot))
        .json(&json!({ "settings": { "transfer_to": "the front desk" } }))
        .send()
        .await
        .expect("send");
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "settings.transfer_to");

    // A published image-only message cannot be spoken: the voice bot says so.
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "map", "type": "message", "data": { "image": { "url": "https://example.com/map.png" } } },
            { "id": "bye", "type": "end", "data": { "message": { "text": "Bye." } } }
        ],
        "edges": [ { "source": "start", "target": "map" }, { "source": "map", "target": "bye" } ]
    });
    let bot = crate::helpers::published_bot(&v.app, &v.s, "Pictures", flow).await;
    let vb = call_ok(
        &v.app,
        &v.s,
        Method::PATCH,
        &format!("/api/v1/voice-bots/{}", v.voice_bot),
        Some(json!({ "bot_id": bot })),
        200,
    )
    .await;
    let warnings = vb["voice_warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{vb}");
    assert_eq!(warnings[0]["node_id"], "map");
    assert_eq!(warnings[0]["code"], "unspeakable_node");
    let vb = call_ok(&v.app, &v.s, Method::GET, &format!("/api/v1/voice-bots/{}", v.voice_bot), None, 200).await;
    assert_eq!(vb["voice_warnings"][0]["node_id"], "map", "{vb}");
    assert_eq!(vb["phone_number"], NUMBER);
}
