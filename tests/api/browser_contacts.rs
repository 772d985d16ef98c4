//! The Contacts page in headless Chromium: find a contact by search, edit its
//! tags with the chips editor (a too-long tag is refused under the editor),
//! set an attribute, toggle consent, merge it with the same person's SMS
//! contact picked by search, follow a conversation link to its transcript,
//! and erase the person after typing the confirmation.

#![allow(clippy::too_many_lines, reason = "one end-to-end scenario")]

use rusqlite::params;

use crate::browser::with_browser;
use crate::helpers::{TestApp, spawn_app};

/// A Telegram and an SMS contact of the same person, and a stranger; the
/// Telegram contact has a conversation with the organization's bot.
fn seed(app: &TestApp, org: i64) -> (i64, i64, i64, i64) {
    app.sql(|c| {
        c.execute("INSERT INTO bots (organization_id, name, widget_key) VALUES (?1, 'Shop', 'wk_contacts_ui')", [org])?;
        let bot = c.last_insert_rowid();
        let channel = |kind: &str| {
            c.query_row(
                "INSERT INTO channels (organization_id, bot_id, type, name, webhook_path)
                 VALUES (?1, ?2, ?3, ?3 || ' channel', lower(hex(randomblob(16)))) RETURNING id",
                params![org, bot, kind],
                |r| r.get::<_, i64>(0),
            )
        };
        let (telegram, sms) = (channel("telegram")?, channel("sms")?);
        let contact = |channel: i64, ext: &str, name: &str, seen: &str| {
            c.query_row(
                "INSERT INTO channel_contacts (organization_id, channel_id, external_id, display_name, last_message_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                params![org, channel, ext, name, seen],
                |r| r.get::<_, i64>(0),
            )
        };
        let ann = contact(telegram, "4242", "Ann Telegram", "2026-03-02T10:00:00.000Z")?;
        let ann_sms = contact(sms, "+15550002", "Ann by SMS", "2026-03-01T10:00:00.000Z")?;
        contact(telegram, "5151", "Bob Stranger", "2026-03-03T10:00:00.000Z")?;
        let conversation = c.query_row(
            "INSERT INTO conversations (organization_id, bot_id, channel, channel_id, external_user_id, contact_id, last_message_at)
             VALUES (?1, ?2, 'telegram', ?3, 'tg:4242', ?4, '2026-03-02T10:00:00.000Z') RETURNING id",
            params![org, bot, telegram, ann],
            |r| r.get::<_, i64>(0),
        )?;
        c.execute(
            "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content)
             VALUES (?1, ?2, ?3, 'tg:4242', 'user', 'Where is my parcel?')",
            params![org, bot, conversation],
        )?;
        Ok((bot, ann, ann_sms, conversation))
    })
}

fn tags_of(app: &TestApp, id: i64) -> String {
    app.sql(|c| c.query_row("SELECT tags FROM channel_contacts WHERE id = ?1", [id], |r| r.get(0)))
}

#[tokio::test]
async fn the_contacts_page_edits_tags_and_merges_two_contacts() {
    let app = spawn_app().await;
    let s = app.register("contacts-ui@example.com").await;
    let (bot, ann, ann_sms, conversation) = seed(&app, s.org_id);
    with_browser("contacts_page", |b| async move {
        b.sign_in(&app, "contacts-ui@example.com").await;
        b.click("a[href='/contacts']").await;
        b.wait_for_path("/contacts").await;
        // Newest seen first.
        let list = b.wait_for_text("#contact-list", "Ann by SMS").await;
        let (bob_at, ann_at, sms_at) = (
            list.find("Bob Stranger").expect("bob"),
            list.find("Ann Telegram").expect("ann"),
            list.find("Ann by SMS").expect("sms"),
        );
        assert!(bob_at < ann_at && ann_at < sms_at, "{list}");

        // Search narrows the list; the detail opens with its channel badge.
        b.fill("#contact-search", "telegram").await;
        b.click("#contact-search-button").await;
        b.wait_for_text("#contact-list", "Ann Telegram").await;
        let list = b.text_of("#contact-list").await;
        assert!(!list.contains("Bob") && !list.contains("SMS"), "{list}");
        b.click(&format!("#contact-list li[data-contact='{ann}'] a")).await;
        b.wait_for_text("#contact-channels", "telegram").await;
        b.wait_for_path(&format!("/contacts/{ann}")).await;

        // Tags: two added (normalised to lower case), one removed; a too-long one is refused under the editor.
        b.fill("#tag-input", "VIP").await;
        b.click("#add-tag").await;
        b.element("#tags-editor li[data-tag='vip']").await;
        b.fill("#tag-input", "Churn-Risk").await;
        b.click("#add-tag").await;
        b.element("#tags-editor li[data-tag='churn-risk']").await;
        app.wait_for_sql(
            "tags saved",
            |c| c.query_row("SELECT tags FROM channel_contacts WHERE id = ?1", [ann], |r| r.get::<_, String>(0)),
            |t| t == "[\"vip\",\"churn-risk\"]",
        )
        .await;
        b.click("#tags-editor button[aria-label='Remove tag vip']").await;
        app.wait_for_sql(
            "tag removed",
            |c| c.query_row("SELECT tags FROM channel_contacts WHERE id = ?1", [ann], |r| r.get::<_, String>(0)),
            |t| t == "[\"churn-risk\"]",
        )
        .await;
        b.client
            .execute("const i = document.getElementById('tag-input'); i.removeAttribute('maxlength');", vec![])
            .await
            .expect("js");
        b.fill("#tag-input", &"x".repeat(51)).await;
        b.click("#add-tag").await;
        b.wait_for_text("#tags-editor [data-field-error='tags']", "1–50").await;
        assert_eq!(tags_of(&app, ann), "[\"churn-risk\"]");

        // An attribute and consent.
        b.click("#add-attribute").await;
        b.fill("#attributes-editor tr[data-attribute-row='0'] .attr-key", "plan").await;
        b.fill("#attributes-editor tr[data-attribute-row='0'] .attr-value", "gold").await;
        b.click("#save-attributes").await;
        app.wait_for_sql(
            "attribute saved",
            |c| {
                c.query_row("SELECT custom_attributes FROM channel_contacts WHERE id = ?1", [ann], |r| {
                    r.get::<_, String>(0)
                })
            },
            |a| a == "{\"plan\":\"gold\"}",
        )
        .await;
        b.click("#consent-toggle").await;
        b.wait_for_text("#consent-status", "granted").await;

        // Merge with the SMS contact, picked by search (confirm() answered yes).
        b.client.execute("window.confirm = () => true;", vec![]).await.expect("js");
        b.fill("#merge-search", "Ann").await;
        b.click("#merge-search-button").await;
        let results = b.wait_for_text("#merge-results", "Ann by SMS").await;
        assert!(!results.contains("Ann Telegram"), "the contact itself is not offered: {results}");
        b.click(&format!("#merge-results li[data-contact='{ann_sms}'] .merge-button")).await;
        app.wait_for_sql(
            "merged",
            |c| {
                c.query_row("SELECT count(*) FROM channel_contacts WHERE person_id IS NOT NULL", [], |r| {
                    r.get::<_, i64>(0)
                })
            },
            |n| *n == 2,
        )
        .await;
        b.wait_for_text("#contact-channels", "sms").await;
        assert_eq!(tags_of(&app, ann_sms), "[\"churn-risk\"]", "the person's tags are on both contacts");
        b.wait_for_text(&format!("#contact-list li[data-contact='{ann}']"), "merged").await;

        // The conversation link opens its transcript.
        b.click(&format!("#contact-conversations li[data-conversation='{conversation}'] a")).await;
        b.wait_for_path(&format!("/bots/{bot}/conversations")).await;
        b.wait_for_text("body", "Where is my parcel?").await;

        // Erase: only after typing ERASE.
        b.client.goto(&app.url(&format!("/contacts/{ann_sms}"))).await.expect("goto");
        b.wait_for_text("#contact-channels", "telegram").await;
        let disabled = b.element("#erase-button").await.attr("disabled").await.expect("attr");
        assert!(disabled.is_some(), "erase is disabled until confirmed");
        b.fill("#erase-confirm", "ERASE").await;
        b.click("#erase-button").await;
        app.wait_for_sql(
            "erased",
            |c| c.query_row("SELECT count(*) FROM channel_contacts", [], |r| r.get::<_, i64>(0)),
            |n| *n == 1,
        )
        .await;
        b.wait_for_text("body", "Select a contact.").await;
    })
    .await;
}
