//! The email channel through the real server: raw MIME posted to the
//! webhook (as `message/rfc822` with `?token=`, or in a form's `email` field
//! with the Standard Webhooks signature headers), the bot's replies sent
//! through the test SMTP sink with the threading headers a mail client
//! needs, attachments kept as files, and the errors.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use reqwest::Method;
use serde_json::{Value, json};

use crate::channels::colour_flow;
use crate::helpers::{Session, TestApp, assert_error, spawn_app_with};
use crate::smtp::SmtpSink;

const ANN: &str = "ann@example.com";

struct Setup {
    app: TestApp,
    s: Session,
    bot: i64,
}

async fn setup(sink: Option<&SmtpSink>) -> Setup {
    let smtp = sink.map(SmtpSink::config);
    let app = spawn_app_with(move |c| {
        if let Some(smtp) = smtp {
            c.smtp = smtp;
        }
    })
    .await;
    let s = app.register("owner@example.com").await;
    let bot = crate::helpers::published_bot(&app, &s, "Shop", colour_flow()).await;
    Setup { app, s, bot }
}

async fn create_channel(st: &Setup) -> Value {
    let (status, channel) = st
        .app
        .call(
            &st.s,
            Method::POST,
            &format!("/api/v1/orgs/{}/channels", st.s.org_id),
            Some(json!({ "type": "email", "bot_id": st.bot,
                         "credentials": { "from_address": "help@shop.test", "from_name": "Shop Help" } })),
        )
        .await;
    assert_eq!(status, 201, "{channel}");
    assert!(channel["webhook_secret"].as_str().is_some_and(|s| s.len() >= 32), "{channel}");
    channel
}

async fn active_channel(st: &Setup) -> Value {
    let channel = create_channel(st).await;
    let id = channel["id"].as_i64().expect("id");
    let (status, activated) = st.app.call(&st.s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    assert_eq!(activated["username"], "help@shop.test");
    activated["channel"].clone()
}

fn hook_path(channel: &Value) -> String {
    let url = channel["webhook_url"].as_str().expect("webhook_url");
    url[url.find("/hooks/").expect("hooks")..].to_owned()
}

fn secret(channel: &Value) -> String {
    channel["webhook_secret"].as_str().expect("secret").to_owned()
}

/// Posts a raw message with `?token=`.
async fn post_mime(app: &TestApp, channel: &Value, token: Option<&str>, mime: &str) -> (u16, Value) {
    let mut url = app.url(&hook_path(channel));
    if let Some(t) = token {
        url = format!("{url}?token={t}");
    }
    let r = app
        .client
        .post(url)
        .header("content-type", "message/rfc822")
        .body(mime.replace('\n', "\r\n"))
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn first_mail() -> String {
    "From: Ann Lee <Ann@Example.com>\nTo: Shop <help@shop.test>\nSubject: Colours\nDate: Mon, 7 Dec 2026 01:00:00 +0000\n\
     Message-ID: <m1@example.com>\nContent-Type: text/plain; charset=utf-8\n\nhi\n\n-- \nAnn Lee\nExample Inc.\n"
        .to_owned()
}

#[tokio::test]
async fn a_mail_is_answered_in_its_thread_and_the_reply_to_the_reply_stays_in_the_conversation() {
    let sink = SmtpSink::start().await;
    let st = setup(Some(&sink)).await;
    let channel = active_channel(&st).await;
    let (status, body) = post_mime(&st.app, &channel, Some(&secret(&channel)), &first_mail()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let mails = sink.to(ANN);
    assert_eq!(mails.len(), 2, "{mails:?}");
    for m in &mails {
        assert_eq!(m.from, "help@shop.test");
        assert!(m.header("From").is_some_and(|f| f.contains("Shop Help") && f.contains("<help@shop.test>")), "{m:?}");
        assert_eq!(m.header("Subject").as_deref(), Some("Re: Colours"));
        assert_eq!(m.header("In-Reply-To").as_deref(), Some("<m1@example.com>"));
        assert_eq!(m.header("References").as_deref(), Some("<m1@example.com>"));
    }
    assert_eq!(mails[0].text().trim(), "Hello from the shop.");
    assert_eq!(mails[1].text().trim().replace("\r\n", "\n"), "Pick a colour\n\nReply 1 for Red\nReply 2 for Long");
    let ours = mails[1].header("Message-ID").expect("our Message-ID");
    assert!(ours.starts_with('<') && ours.ends_with("@shop.test>"), "{ours}");
    assert_ne!(mails[0].header("Message-ID"), Some(ours.clone()));
    // Our Message-ID is the outbound row's provider id.
    let bare = ours.trim_matches(|c| c == '<' || c == '>').to_owned();
    assert_eq!(
        st.app.count(&format!(
            "SELECT count(*) FROM channel_messages WHERE direction = 'outbound' AND external_id = '{bare}'"
        )),
        1
    );
    assert_eq!(
        st.app.count(
            "SELECT count(*) FROM channel_contacts WHERE external_id = 'ann@example.com' AND display_name = 'Ann Lee'"
        ),
        1
    );
    // The signature was cut: the bot saw "hi".
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'inbound' AND content = 'hi'"), 1);

    // Ann answers the second mail with "2" above the quoted text.
    let reply = format!(
        "From: Ann Lee <ann@example.com>\nTo: help@shop.test\nSubject: Re: Colours\nMessage-ID: <m2@example.com>\n\
         In-Reply-To: {ours}\nReferences: <m1@example.com> {ours}\nContent-Type: text/plain; charset=utf-8\n\n\
         2\n\nOn Mon, 7 Dec 2026 at 01:00, Shop Help <help@shop.test> wrote:\n> Pick a colour\n> Reply 1 for Red\n"
    );
    let (status, body) = post_mime(&st.app, &channel, Some(&secret(&channel)), &reply).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
    st.app.run_jobs().await;
    let mails = sink.to(ANN);
    assert_eq!(mails.len(), 3, "{mails:?}");
    let last = &mails[2];
    assert!(
        last.text().starts_with("You chose a value far too long for Telegram's sixty-four byte callback_data field."),
        "{}",
        last.text()
    );
    assert_eq!(last.header("In-Reply-To").as_deref(), Some("<m2@example.com>"));
    assert_eq!(last.header("References"), Some(format!("<m1@example.com> {ours} <m2@example.com>")));
    assert_eq!(last.header("Subject").as_deref(), Some("Re: Colours"));
    assert_eq!(st.app.count("SELECT count(*) FROM conversations WHERE channel = 'email'"), 1);
    assert_eq!(
        st.app.count("SELECT count(DISTINCT conversation_id) FROM channel_messages WHERE conversation_id IS NOT NULL"),
        1
    );
    assert_eq!(
        st.app.count(
            "SELECT count(*) FROM channel_messages WHERE direction = 'inbound' AND reply_to_id = 'm1@example.com'"
        ),
        2
    );
}

#[tokio::test]
async fn an_attachment_in_a_signed_form_becomes_a_file() {
    let sink = SmtpSink::start().await;
    let st = setup(Some(&sink)).await;
    let channel = active_channel(&st).await;
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    let mime = format!(
        "From: ann@example.com\r\nTo: help@shop.test\r\nSubject: My cat\r\nMessage-ID: <cat@example.com>\r\n\
         Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\nContent-Type: text/plain\r\n\r\nphoto attached\r\n\
         --mix\r\nContent-Type: image/png; name=\"cat.png\"\r\nContent-Disposition: attachment; filename=\"cat.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{png}\r\n--mix--\r\n"
    );
    let form = format!(
        "--form\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nhelp@shop.test\r\n\
         --form\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n{mime}\r\n--form--\r\n"
    );
    let ts = chrono::Utc::now().timestamp();
    let sig = botbuilder::channels::generic::sign(&secret(&channel), "evt_1", ts, form.as_bytes());
    let post = |signature: String| {
        st.app
            .client
            .post(st.app.url(&hook_path(&channel)))
            .header("content-type", "multipart/form-data; boundary=form")
            .header("webhook-id", "evt_1")
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(form.clone())
            .send()
    };
    let r = post("v1,AAAA".into()).await.expect("send");
    assert_error(r, 401, "channel_signature_invalid").await;
    let r = post(sig).await.expect("send");
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["status"], "processed", "{body}");
    assert_eq!(st.app.count("SELECT count(*) FROM files WHERE name = 'cat.png' AND content_type = 'image/png'"), 1);
    let (url, kind): (String, String) = st.app.sql(|c| {
        c.query_row(
            "SELECT media_url, message_type FROM channel_messages WHERE direction = 'inbound' AND media_url IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    });
    assert!(url.starts_with("/api/v1/files/"), "{url}");
    assert_eq!(kind, "image");
    st.app.run_jobs().await;
    assert_eq!(sink.to(ANN).len(), 2, "the text is answered once");
}

#[tokio::test]
async fn a_wrong_token_stores_nothing_duplicates_run_once_and_malformed_mime_is_rejected() {
    let sink = SmtpSink::start().await;
    let st = setup(Some(&sink)).await;
    let channel = active_channel(&st).await;
    let good = secret(&channel);
    for bad in [None, Some("wrong"), Some(&good[..good.len() - 1])] {
        let (status, body) = post_mime(&st.app, &channel, bad, &first_mail()).await;
        assert_eq!(status, 401, "{bad:?} {body}");
        assert_eq!(body["error"]["code"], "channel_signature_invalid");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages"), 0);
    assert_eq!(st.app.count("SELECT count(*) FROM channel_contacts"), 0);

    for junk in ["this is not an email at all", "", "Subject: no sender\n\nbody"] {
        let (status, body) = post_mime(&st.app, &channel, Some(&good), junk).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("rejected")), "{junk:?} {body}");
    }
    assert_eq!(st.app.count("SELECT count(*) FROM channel_webhooks"), 0);

    let (_, first) = post_mime(&st.app, &channel, Some(&good), &first_mail()).await;
    let (_, second) = post_mime(&st.app, &channel, Some(&good), &first_mail()).await;
    assert_eq!((first["status"].as_str(), second["status"].as_str()), (Some("processed"), Some("duplicate")));
    st.app.run_jobs().await;
    assert_eq!(st.app.count("SELECT count(*) FROM channel_messages WHERE direction = 'inbound'"), 1);
    assert_eq!(sink.to(ANN).len(), 2);
}

#[tokio::test]
async fn without_smtp_the_channel_check_says_so() {
    let st = setup(None).await;
    let channel = create_channel(&st).await;
    let id = channel["id"].as_i64().expect("id");
    for action in ["test", "activate"] {
        let r =
            st.app.as_user(&st.s, Method::POST, &format!("/api/v1/channels/{id}/{action}")).send().await.expect("send");
        assert_error(r, 409, "smtp_not_configured").await;
    }
    let r = st
        .app
        .as_user(&st.s, Method::POST, &format!("/api/v1/orgs/{}/channels", st.s.org_id))
        .json(&json!({ "type": "email", "bot_id": st.bot, "credentials": { "from_address": "not an address" } }))
        .send()
        .await
        .expect("send");
    let body = assert_error(r, 422, "validation_failed").await;
    assert_eq!(body["error"]["details"]["field"], "credentials.from_address");
}
