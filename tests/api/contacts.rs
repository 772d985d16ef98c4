//! Contacts (issue 18 item 3) through the real server: contacts created by
//! Telegram updates through the real webhook (a local fake Bot API) or, where
//! the channel path is not the point, by rows written with `app.sql`. Search,
//! filters and last-seen order; PATCH validation naming the field; consent;
//! merge across channels (union, audit, cross-organization 404, self 422) and
//! unmerge; the GDPR export; the erase, after which no table holds the
//! person's text.

#![allow(clippy::too_many_lines, reason = "each test is one end-to-end scenario")]

use reqwest::Method;
use rusqlite::params;
use serde_json::{Value, json};

use crate::channels::{FakeTelegram, TOKEN};
use crate::helpers::{Session, TestApp, assert_error, call_ok, send_as, spawn_app, spawn_app_with};

struct Setup {
    app: TestApp,
    s: Session,
    _tg: FakeTelegram,
    channel: Value,
    secret: String,
}

/// An organization with a published one-message bot behind an active Telegram channel.
async fn telegram_setup() -> Setup {
    let tg = FakeTelegram::start().await;
    let base = tg.server.base.clone();
    let app = spawn_app_with(move |c| c.channels.telegram_api_base = base).await;
    let s = app.register("owner@example.com").await;
    let bot =
        call_ok(&app, &s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": "Shop" })))
            .await["id"]
            .as_i64()
            .expect("bot id");
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your order number?" }, "variable": "order" } },
            { "id": "done", "type": "message", "data": { "text": "Thanks." } }
        ],
        "edges": [ { "source": "start", "target": "ask" }, { "source": "ask", "target": "done" } ]
    });
    let path = format!("/api/v1/bots/{bot}/flows/main");
    call_ok(&app, &s, Method::PUT, &path, Some(json!({ "document": flow }))).await;
    call_ok(&app, &s, Method::POST, &format!("{path}/publish"), Some(json!({ "message": "live" }))).await;
    let channel = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{}/channels", s.org_id),
        Some(json!({ "type": "telegram", "name": "Shop on Telegram", "bot_id": bot, "credentials": { "bot_token": TOKEN } })),
    )
    .await;
    let id = channel["id"].as_i64().expect("channel id");
    let activated = call_ok(&app, &s, Method::POST, &format!("/api/v1/channels/{id}/activate"), None).await;
    let secret = tg.calls("setWebhook")[0]["secret_token"].as_str().expect("secret").to_owned();
    Setup { app, s, _tg: tg, channel: activated["channel"].clone(), secret }
}

/// Posts a Telegram text message from chat `chat` through the channel's webhook.
async fn say(st: &Setup, update_id: i64, chat: i64, first_name: &str, username: &str, text: &str) {
    let url = st.channel["webhook_url"].as_str().expect("webhook_url");
    let path = &url[url.find("/hooks/").expect("/hooks/")..];
    let update = json!({ "update_id": update_id, "message": {
        "message_id": update_id * 10, "date": 0, "text": text,
        "chat": { "id": chat, "type": "private", "first_name": first_name },
        "from": { "id": chat, "is_bot": false, "first_name": first_name, "username": username } } });
    let response = st
        .app
        .client
        .post(st.app.url(path))
        .header("X-Telegram-Bot-Api-Secret-Token", &st.secret)
        .json(&update)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!((status, body["status"].as_str()), (200, Some("processed")), "{body}");
}

fn contact_id(app: &TestApp, external_id: &str) -> i64 {
    app.sql(|c| c.query_row("SELECT id FROM channel_contacts WHERE external_id = ?1", [external_id], |r| r.get(0)))
}

/// A channel of `org_id` (with a bot) written directly, for contacts whose channel path is not the point.
fn sql_channel(app: &TestApp, org_id: i64, channel_type: &str) -> i64 {
    app.sql(|c| {
        // The organization's bot (the free plan allows one), else a new one.
        let bot: i64 = c.query_row(
            "SELECT coalesce((SELECT min(id) FROM bots WHERE organization_id = ?1), 0)",
            [org_id],
            |r| r.get(0),
        )?;
        let bot = if bot > 0 {
            bot
        } else {
            c.execute(
                "INSERT INTO bots (organization_id, name, widget_key) VALUES (?1, 'Other bot', lower(hex(randomblob(8))))",
                [org_id],
            )?;
            c.last_insert_rowid()
        };
        c.query_row(
            "INSERT INTO channels (organization_id, bot_id, type, name, webhook_path)
             VALUES (?1, ?2, ?3, 'Side channel', lower(hex(randomblob(16)))) RETURNING id",
            params![org_id, bot, channel_type],
            |r| r.get(0),
        )
    })
}

fn sql_contact(
    app: &TestApp,
    org_id: i64,
    channel: i64,
    external_id: &str,
    name: &str,
    last_seen: Option<&str>,
) -> i64 {
    app.sql(|c| {
        c.query_row(
            "INSERT INTO channel_contacts (organization_id, channel_id, external_id, display_name, last_message_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
            params![org_id, channel, external_id, name, last_seen],
            |r| r.get(0),
        )
    })
}

fn ids(page: &Value) -> Vec<i64> {
    page["items"].as_array().expect("items").iter().map(|c| c["id"].as_i64().expect("id")).collect()
}

#[tokio::test]
async fn telegram_users_become_contacts_found_by_search_and_filters_newest_seen_first() {
    let st = telegram_setup().await;
    let (app, s) = (&st.app, &st.s);
    say(&st, 1, 4242, "Ann", "ann_k", "hello").await;
    say(&st, 2, 5151, "Bob", "bobby", "hi").await;
    let ann = contact_id(app, "4242");
    let bob = contact_id(app, "5151");
    let sms = sql_channel(app, s.org_id, "sms");
    let carol = sql_contact(app, s.org_id, sms, "+15550001", "Carol", None);
    let list = format!("/api/v1/orgs/{}/contacts", s.org_id);

    // Most recently seen first; never seen last.
    app.sql(|c| {
        c.execute("UPDATE channel_contacts SET last_message_at = '2026-01-01T00:00:00.000Z' WHERE id = ?1", [ann])
    });
    let page = call_ok(app, s, Method::GET, &list, None).await;
    assert_eq!(ids(&page), vec![bob, ann, carol], "{page}");
    let first = &page["items"][0];
    assert_eq!(first["channel"]["type"], "telegram");
    assert_eq!(first["username"], "bobby");
    assert_eq!(first["display_name"], "Bob");
    assert_eq!(first["consent_status"], "unknown");
    assert!(first["message_count"].as_i64().expect("count") >= 1, "{first}");
    let asc = call_ok(app, s, Method::GET, &format!("{list}?sort=last_seen_asc"), None).await;
    assert_eq!(ids(&asc), vec![carol, ann, bob]);

    // The cursor walks the same order one by one.
    let mut walked = Vec::new();
    let mut url = format!("{list}?limit=1");
    loop {
        let page = call_ok(app, s, Method::GET, &url, None).await;
        walked.extend(ids(&page));
        let Some(next) = page["next_cursor"].as_str() else { break };
        url = format!("{list}?limit=1&after={next}");
    }
    assert_eq!(walked, vec![bob, ann, carol]);

    // Search over name, username, phone, email and external id, case-insensitively.
    for (q, expected) in
        [("ANN_", vec![ann]), ("bob", vec![bob]), ("+1555", vec![carol]), ("4242", vec![ann]), ("nobody", vec![])]
    {
        let page = call_ok(app, s, Method::GET, &format!("{list}?q={}", urlencoding(q)), None).await;
        assert_eq!(ids(&page), expected, "q={q}");
    }
    call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/contacts/{carol}"),
        Some(json!({ "email": "Carol@Example.org", "tags": ["VIP"] })),
    )
    .await;
    let page = call_ok(app, s, Method::GET, &format!("{list}?q=example.org"), None).await;
    assert_eq!(ids(&page), vec![carol]);

    // Filters: channel type, channel id, tag, consent.
    let page = call_ok(app, s, Method::GET, &format!("{list}?channel_type=telegram"), None).await;
    assert_eq!(ids(&page), vec![bob, ann]);
    let page = call_ok(app, s, Method::GET, &format!("{list}?channel_id={sms}"), None).await;
    assert_eq!(ids(&page), vec![carol]);
    let page = call_ok(app, s, Method::GET, &format!("{list}?tag=vip"), None).await;
    assert_eq!(ids(&page), vec![carol]);
    call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/contacts/{bob}/consent"),
        Some(json!({ "status": "revoked", "source": "agent" })),
    )
    .await;
    let page = call_ok(app, s, Method::GET, &format!("{list}?consent=revoked"), None).await;
    assert_eq!(ids(&page), vec![bob]);
    let page = call_ok(app, s, Method::GET, &format!("{list}?consent=unknown&channel_type=telegram"), None).await;
    assert_eq!(ids(&page), vec![ann]);

    // Bad filters are named.
    let body = assert_error(
        send_as(app, s, Method::GET, &format!("{list}?channel_type=Tele%20gram"), None).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "channel_type");
    let body = assert_error(
        send_as(app, s, Method::GET, &format!("{list}?after=garbage"), None).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "after");

    // The detail: channel, counts, first/last seen and the conversation of the Telegram chat.
    let detail = call_ok(app, s, Method::GET, &format!("/api/v1/contacts/{ann}"), None).await;
    assert_eq!(detail["id"], ann);
    assert_eq!(detail["channels"].as_array().expect("channels").len(), 1);
    assert_eq!(detail["channels"][0]["channel"]["id"], st.channel["id"]);
    assert_eq!(detail["person"]["inbound_messages"], 1);
    assert!(detail["person"]["outbound_messages"].as_i64().expect("outbound") >= 1, "{detail}");
    assert!(detail["first_seen_at"].is_string());
    let conversations = detail["conversations"].as_array().expect("conversations");
    assert_eq!(conversations.len(), 1, "{detail}");
    assert_eq!(conversations[0]["channel"], "telegram");
    assert_eq!(conversations[0]["bot_name"], "Shop");
    assert!(conversations[0]["last_message_at"].is_string());
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") }
        })
        .collect()
}

#[tokio::test]
async fn a_patch_names_each_bad_field_and_normalises_tags_and_attributes() {
    let app = spawn_app().await;
    let s = app.register("owner@example.com").await;
    let channel = sql_channel(&app, s.org_id, "telegram");
    let id = sql_contact(&app, s.org_id, channel, "77", "Dana", None);
    let path = format!("/api/v1/contacts/{id}");
    let many_tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let many_keys: serde_json::Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
    let big: serde_json::Map<String, Value> = (0..20).map(|i| (format!("k{i}"), json!("x".repeat(1000)))).collect();
    for (body, field) in [
        (json!({ "tags": ["ok", ""] }), "tags[1]"),
        (json!({ "tags": ["ok", "   "] }), "tags[1]"),
        (json!({ "tags": ["x".repeat(51)] }), "tags[0]"),
        (json!({ "tags": many_tags }), "tags"),
        (json!({ "custom_attributes": { "Plan": "gold" } }), "custom_attributes.Plan"),
        (json!({ "custom_attributes": { "bad-key": 1 } }), "custom_attributes.bad-key"),
        (json!({ "custom_attributes": { "k".repeat(65): 1 } }), &format!("custom_attributes.{}", "k".repeat(65))),
        (json!({ "custom_attributes": { "plan": ["gold"] } }), "custom_attributes.plan"),
        (json!({ "custom_attributes": { "plan": { "tier": 1 } } }), "custom_attributes.plan"),
        (json!({ "custom_attributes": many_keys }), "custom_attributes"),
        (json!({ "custom_attributes": big }), "custom_attributes"),
        (json!({ "email": "not-an-email" }), "email"),
        (json!({ "email": "a@b" }), "email"),
        (json!({ "phone_number": "call me" }), "phone_number"),
        (json!({ "phone_number": "+12" }), "phone_number"),
        (json!({ "display_name": "" }), "display_name"),
        (json!({ "display_name": "x".repeat(201) }), "display_name"),
        (json!({ "tags": "vip" }), "tags"),
        (json!({ "nickname": "D" }), "nickname"),
    ] {
        let body =
            assert_error(send_as(&app, &s, Method::PATCH, &path, Some(body.clone())).await, 422, "validation_failed")
                .await;
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
    // Nothing was changed by the refused requests.
    let unchanged = call_ok(&app, &s, Method::GET, &path, None).await;
    assert_eq!(unchanged["tags"], json!([]));
    assert_eq!(unchanged["display_name"], "Dana");

    let updated = call_ok(
        &app,
        &s,
        Method::PATCH,
        &path,
        Some(json!({
            "display_name": "  Dana K.  ", "email": " Dana@Example.COM ", "phone_number": "+1 (555) 010-9999",
            "tags": ["VIP", "vip ", "Churn-Risk", "vip"],
            "custom_attributes": { "plan": "gold", "seats": 12, "trial": false, "note": null }
        })),
    )
    .await;
    assert_eq!(updated["display_name"], "Dana K.");
    assert_eq!(updated["email"], "dana@example.com");
    assert_eq!(updated["phone_number"], "+15550109999");
    assert_eq!(updated["tags"], json!(["vip", "churn-risk"]));
    assert_eq!(updated["custom_attributes"], json!({ "plan": "gold", "seats": 12, "trial": false, "note": null }));
    // Absent fields stay, null clears.
    let cleared = call_ok(&app, &s, Method::PATCH, &path, Some(json!({ "email": null, "is_blocked": true }))).await;
    assert_eq!(cleared["email"], Value::Null);
    assert_eq!(cleared["display_name"], "Dana K.");
    assert_eq!(cleared["tags"], json!(["vip", "churn-risk"]));
    assert_eq!(cleared["is_blocked"], true);
    // The audit row names the fields, not the values.
    let audit: String = app.sql(|c| {
        c.query_row(
            "SELECT metadata || coalesce(new_values, '') || coalesce(old_values, '') FROM audit_logs
             WHERE action = 'contact.updated' AND resource_id = ?1 ORDER BY id LIMIT 1",
            [id],
            |r| r.get(0),
        )
    });
    assert!(
        audit.contains("custom_attributes") && !audit.contains("dana@example.com") && !audit.contains("gold"),
        "{audit}"
    );

    // Consent: recorded with its source and time; a bad status is named.
    let consent = call_ok(
        &app,
        &s,
        Method::POST,
        &format!("{path}/consent"),
        Some(json!({ "status": "granted", "source": "web_form" })),
    )
    .await;
    assert_eq!(consent["consent_status"], "granted");
    assert_eq!(consent["consent_source"], "web_form");
    assert!(consent["consent_updated_at"].is_string());
    let body = assert_error(
        send_as(&app, &s, Method::POST, &format!("{path}/consent"), Some(json!({ "status": "maybe" }))).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "status");
    let revoked =
        call_ok(&app, &s, Method::POST, &format!("{path}/consent"), Some(json!({ "status": "revoked" }))).await;
    assert_eq!(
        (revoked["consent_status"].as_str(), revoked["consent_source"].as_str()),
        (Some("revoked"), Some("api"))
    );
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'contact.consent_changed'"), 2);
    // Unknown contact.
    assert_error(send_as(&app, &s, Method::GET, "/api/v1/contacts/999999", None).await, 404, "contact_not_found").await;
}

#[tokio::test]
async fn merging_links_one_persons_contacts_shows_their_union_and_unmerge_splits_them() {
    let st = telegram_setup().await;
    let (app, s) = (&st.app, &st.s);
    say(&st, 1, 4242, "Ann", "ann_k", "hello").await;
    let ann_tg = contact_id(app, "4242");
    let sms = sql_channel(app, s.org_id, "sms");
    let ann_sms = sql_contact(app, s.org_id, sms, "+15550002", "Ann (SMS)", Some("2026-02-01T00:00:00.000Z"));
    let third = sql_contact(app, s.org_id, sms, "+15550003", "Ann (work)", None);
    call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/contacts/{ann_tg}"),
        Some(json!({ "tags": ["telegram-fan", "vip"], "custom_attributes": { "plan": "gold", "city": "Oslo" } })),
    )
    .await;
    call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/contacts/{ann_sms}"),
        Some(json!({ "tags": ["sms", "vip"], "custom_attributes": { "plan": "silver", "lang": "no" } })),
    )
    .await;

    // Self: 422; another organization's contact: 404 (as if it did not exist).
    let body = assert_error(
        send_as(
            app,
            s,
            Method::POST,
            &format!("/api/v1/contacts/{ann_tg}/merge"),
            Some(json!({ "other_contact_id": ann_tg })),
        )
        .await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "other_contact_id");
    let other = app.register("other@example.com").await;
    let foreign_channel = sql_channel(app, other.org_id, "telegram");
    let foreign = sql_contact(app, other.org_id, foreign_channel, "4242", "Ann elsewhere", None);
    let body = assert_error(
        send_as(
            app,
            s,
            Method::POST,
            &format!("/api/v1/contacts/{ann_tg}/merge"),
            Some(json!({ "other_contact_id": foreign })),
        )
        .await,
        404,
        "contact_not_found",
    )
    .await;
    assert_eq!(body["error"]["details"]["field"], "other_contact_id");
    assert_error(
        send_as(
            app,
            &other,
            Method::POST,
            &format!("/api/v1/contacts/{foreign}/merge"),
            Some(json!({ "other_contact_id": ann_tg })),
        )
        .await,
        404,
        "contact_not_found",
    )
    .await;
    assert_error(
        send_as(app, s, Method::POST, &format!("/api/v1/contacts/{ann_tg}/unmerge"), None).await,
        409,
        "contact_not_merged",
    )
    .await;

    let merged = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/contacts/{ann_sms}/merge"),
        Some(json!({ "other_contact_id": ann_tg })),
    )
    .await;
    // Both rows are kept (channel routing needs them) and linked.
    assert_eq!(app.count(&format!("SELECT count(*) FROM channel_contacts WHERE organization_id = {}", s.org_id)), 3);
    let root = ann_tg.min(ann_sms);
    assert_eq!(merged["person_id"], root);
    // The union of tags; attributes combined with the merging contact's values winning.
    assert_eq!(merged["tags"], json!(["sms", "vip", "telegram-fan"]));
    assert_eq!(merged["custom_attributes"], json!({ "plan": "silver", "lang": "no", "city": "Oslo" }));
    // Either contact's detail shows both channels and the Telegram conversation.
    for id in [ann_tg, ann_sms] {
        let d = call_ok(app, s, Method::GET, &format!("/api/v1/contacts/{id}"), None).await;
        assert_eq!(d["id"], id);
        let mut linked: Vec<i64> =
            d["person"]["contact_ids"].as_array().expect("ids").iter().filter_map(Value::as_i64).collect();
        linked.sort_unstable();
        assert_eq!(linked, vec![ann_tg.min(ann_sms), ann_tg.max(ann_sms)], "{d}");
        let types: Vec<&str> =
            d["channels"].as_array().expect("channels").iter().filter_map(|c| c["channel"]["type"].as_str()).collect();
        assert_eq!(types.len(), 2);
        assert!(types.contains(&"telegram") && types.contains(&"sms"), "{types:?}");
        assert_eq!(d["conversations"].as_array().expect("conversations").len(), 1, "{d}");
        assert_eq!(d["tags"], json!(["sms", "vip", "telegram-fan"]));
        assert_eq!(d["custom_attributes"]["city"], "Oslo");
        // Seen last today on Telegram (the SMS contact was last seen in February).
        let last = d["person"]["last_seen_at"].as_str().expect("last seen");
        assert!(last > "2026-02-01T00:00:00.000Z", "{last}");
        assert!(d["person"]["first_seen_at"].is_string());
    }
    // A tag edit on one contact is the person's.
    call_ok(app, s, Method::PATCH, &format!("/api/v1/contacts/{ann_tg}"), Some(json!({ "tags": ["vip"] }))).await;
    let d = call_ok(app, s, Method::GET, &format!("/api/v1/contacts/{ann_sms}"), None).await;
    assert_eq!(d["tags"], json!(["vip"]));
    // Merging again is a no-op; a third contact joins the same person.
    call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/contacts/{ann_tg}/merge"),
        Some(json!({ "other_contact_id": ann_sms })),
    )
    .await;
    let d = call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/contacts/{third}/merge"),
        Some(json!({ "other_contact_id": ann_tg })),
    )
    .await;
    assert_eq!(d["person"]["contact_ids"].as_array().expect("ids").len(), 3);
    // The merges are audited without personal data.
    let audits: Vec<String> = app.sql(|c| {
        let mut stmt =
            c.prepare("SELECT coalesce(new_values, '') FROM audit_logs WHERE action = 'contact.merged' ORDER BY id")?;
        stmt.query_map([], |r| r.get(0))?.collect()
    });
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert!(audits.iter().all(|a| a.contains("contact_ids") && !a.contains("Ann")), "{audits:?}");

    // Unmerging the root leaves the other two together, re-rooted.
    let alone = call_ok(app, s, Method::POST, &format!("/api/v1/contacts/{root}/unmerge"), None).await;
    assert_eq!(alone["person_id"], Value::Null);
    assert_eq!(alone["person"]["contact_ids"], json!([root]));
    assert_eq!(alone["conversations"].as_array().map(Vec::len), Some(usize::from(root == ann_tg)));
    let rest: Vec<i64> = [ann_tg, ann_sms, third].into_iter().filter(|i| *i != root).collect();
    let d = call_ok(app, s, Method::GET, &format!("/api/v1/contacts/{}", rest[0]), None).await;
    assert_eq!(d["person"]["contact_ids"], json!(rest));
    // Unmerging one of the last two leaves two single contacts.
    call_ok(app, s, Method::POST, &format!("/api/v1/contacts/{}/unmerge", rest[1]), None).await;
    assert_eq!(app.count("SELECT count(*) FROM channel_contacts WHERE person_id IS NOT NULL"), 0);
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'contact.unmerged'"), 2);
}

/// Tables (and columns) whose text contains `marker`, over every table of the file.
fn where_is(app: &TestApp, marker: &str) -> Vec<String> {
    app.sql(|c| {
        let tables: Vec<String> = {
            let mut stmt = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
            stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
        };
        let mut found = Vec::new();
        for table in tables {
            let columns: Vec<String> = {
                let Ok(mut stmt) = c.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")) else {
                    continue;
                };
                stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
            };
            for column in columns {
                let sql = format!(
                    "SELECT count(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS BLOB), CAST(?1 AS BLOB)) > 0"
                );
                if let Ok(n) = c.query_row(&sql, [marker], |r| r.get::<_, i64>(0))
                    && n > 0
                {
                    found.push(format!("{table}.{column}"));
                }
            }
        }
        Ok(found)
    })
}

#[tokio::test]
async fn export_holds_everything_about_the_person_and_erase_leaves_nothing_of_it() {
    let st = telegram_setup().await;
    let (app, s) = (&st.app, &st.s);
    // An outbound webhook subscription: its deliveries carry the message texts.
    app.sql(|c| {
        c.execute(
            "INSERT INTO webhooks (organization_id, name, url, secret_encrypted, events)
             VALUES (?1, 'CRM', 'http://127.0.0.1:9/h', X'', '[\"message.received\"]')",
            [s.org_id],
        )
    });
    let marker = "Zq7xMarker";
    say(&st, 1, 4242, &format!("Ann{marker}"), &format!("ann{marker}"), &format!("my order is {marker}-1001")).await;
    say(&st, 2, 4242, &format!("Ann{marker}"), &format!("ann{marker}"), &format!("{marker}-1001 again")).await;
    say(&st, 3, 5151, "Bob", "bobby", "hello from bob").await;
    let ann = contact_id(app, "4242");
    let bob = contact_id(app, "5151");
    let sms = sql_channel(app, s.org_id, "sms");
    let ann_sms = sql_contact(app, s.org_id, sms, "+15550002", &format!("Ann SMS {marker}"), None);
    app.sql(|c| {
        c.execute(
            "INSERT INTO channel_messages (organization_id, channel_id, contact_id, direction, content, status)
             VALUES (?1, ?2, ?3, 'inbound', ?4, 'received')",
            params![s.org_id, sms, ann_sms, format!("sms text {marker}")],
        )
    });
    call_ok(
        app,
        s,
        Method::POST,
        &format!("/api/v1/contacts/{ann}/merge"),
        Some(json!({ "other_contact_id": ann_sms })),
    )
    .await;
    call_ok(
        app,
        s,
        Method::PATCH,
        &format!("/api/v1/contacts/{ann}"),
        Some(json!({ "email": "ann@example.com", "custom_attributes": { "note": format!("likes {marker}") } })),
    )
    .await;
    assert!(!where_is(app, marker).is_empty());

    // Export: a download with every contact row, channel message, conversation transcript and provider event.
    let response = send_as(app, s, Method::GET, &format!("/api/v1/contacts/{ann_sms}/export"), None).await;
    assert_eq!(response.status().as_u16(), 200);
    let disposition =
        response.headers().get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(disposition.starts_with("attachment;") && disposition.contains(".json"), "{disposition}");
    let export: Value = response.json().await.expect("json");
    let mut contact_ids: Vec<i64> =
        export["contacts"].as_array().expect("contacts").iter().filter_map(|c| c["id"].as_i64()).collect();
    contact_ids.sort_unstable();
    assert_eq!(contact_ids, vec![ann, ann_sms]);
    assert!(export["contacts"].as_array().expect("contacts").iter().any(|c| c["email"] == "ann@example.com"));
    let texts: Vec<&str> =
        export["channel_messages"].as_array().expect("messages").iter().filter_map(|m| m["content"].as_str()).collect();
    assert!(texts.contains(&"my order is Zq7xMarker-1001") && texts.contains(&"sms text Zq7xMarker"), "{texts:?}");
    assert!(texts.contains(&"Your order number?"), "the bot's replies to the person: {texts:?}");
    assert!(!texts.iter().any(|t| t.contains("bob")), "{texts:?}");
    let conversations = export["conversations"].as_array().expect("conversations");
    assert_eq!(conversations.len(), 1);
    let transcript: Vec<&str> = conversations[0]["messages"]
        .as_array()
        .expect("transcript")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert!(transcript.contains(&"Zq7xMarker-1001 again"), "{transcript:?}");
    assert_eq!(conversations[0]["state"]["vars"]["order"], "Zq7xMarker-1001 again", "{}", conversations[0]["state"]);
    let events = export["webhook_events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "Ann's two updates, not Bob's: {events:?}");
    assert_eq!(events[0]["payload"]["message"]["from"]["first_name"], "AnnZq7xMarker");
    assert_eq!(app.count("SELECT count(*) FROM audit_logs WHERE action = 'contact.exported'"), 1);

    // Erase: nothing of the person's text is left in any table; Bob is untouched.
    let report = call_ok(app, s, Method::DELETE, &format!("/api/v1/contacts/{ann}"), None).await;
    assert_eq!(report["contacts"], 2, "{report}");
    assert_eq!(report["conversations"], 1, "{report}");
    assert_eq!(report["webhook_events_redacted"], 2, "{report}");
    assert!(report["webhook_deliveries_redacted"].as_i64().expect("deliveries") >= 2, "{report}");
    assert_eq!(where_is(app, marker), Vec::<String>::new());
    assert_eq!(app.count("SELECT count(*) FROM channel_webhooks WHERE payload = '{\"erased\":true}'"), 2);
    assert_eq!(app.count("SELECT count(*) FROM channel_contacts"), 1);
    let bob_detail = call_ok(app, s, Method::GET, &format!("/api/v1/contacts/{bob}"), None).await;
    assert_eq!(bob_detail["conversations"].as_array().map(Vec::len), Some(1));
    assert_eq!(bob_detail["person"]["inbound_messages"], 1);
    assert_eq!(app.count("SELECT count(*) FROM widget_messages WHERE content = 'hello from bob'"), 1);
    // The erase is audited, without the personal data (checked above: the marker is nowhere).
    assert_eq!(
        app.count("SELECT count(*) FROM audit_logs WHERE action = 'contact.erased' AND resource_id IS NOT NULL"),
        1
    );
    assert_error(
        send_as(app, s, Method::GET, &format!("/api/v1/contacts/{ann_sms}"), None).await,
        404,
        "contact_not_found",
    )
    .await;
}

#[tokio::test]
async fn reading_changing_and_erasing_contacts_need_their_permissions() {
    let app = spawn_app().await;
    let owner = app.register("owner@example.com").await;
    let channel = sql_channel(&app, owner.org_id, "telegram");
    let id = sql_contact(&app, owner.org_id, channel, "88", "Eve", None);
    let viewer = app.join(&owner, owner.org_id, "viewer@example.com", "viewer").await;
    let agent = app.join(&owner, owner.org_id, "agent@example.com", "agent").await;
    let path = format!("/api/v1/contacts/{id}");
    // A viewer reads, an agent also edits, only owners and admins export and erase.
    call_ok(&app, &viewer, Method::GET, &path, None).await;
    call_ok(&app, &viewer, Method::GET, &format!("/api/v1/orgs/{}/contacts", owner.org_id), None).await;
    assert_error(send_as(&app, &viewer, Method::PATCH, &path, Some(json!({ "tags": ["x"] }))).await, 403, "forbidden")
        .await;
    call_ok(&app, &agent, Method::PATCH, &path, Some(json!({ "tags": ["x"] }))).await;
    assert_error(send_as(&app, &agent, Method::GET, &format!("{path}/export"), None).await, 403, "forbidden").await;
    assert_error(send_as(&app, &agent, Method::DELETE, &path, None).await, 403, "forbidden").await;
    let stranger = app.register("stranger@example.com").await;
    assert_error(send_as(&app, &stranger, Method::GET, &path, None).await, 404, "contact_not_found").await;
    call_ok(&app, &owner, Method::DELETE, &path, None).await;
}
