//! The UI's languages: the catalogs are served, a user's choice is saved on
//! the account (validated against the locales with a catalog), and in the
//! browser the switcher turns the navigation and the page German, the choice
//! survives a reload, and switching back restores English.

use reqwest::Method;
use serde_json::{Value, json};

use crate::browser::with_browser;
use crate::helpers::{assert_error, ok_json, spawn_app};

#[tokio::test]
async fn the_catalogs_are_served_and_agree_with_the_locales_the_api_accepts() {
    let app = spawn_app().await;
    for locale in botbuilder::ui::UI_LOCALES {
        let r = app.get(&format!("/i18n/{locale}.json")).await;
        assert_eq!(r.status(), 200, "{locale}.json");
        let catalog: Value = r.json().await.expect("json");
        assert!(catalog["shell.language"].is_string(), "{locale}.json has the switcher's label");
    }
    assert_eq!(app.get("/i18n/xx.json").await.status(), 404);
}

#[tokio::test]
async fn a_user_saves_a_ui_locale_and_an_unknown_one_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let s = app.register("lang@example.com").await;
    let me = ok_json(app.as_user(&s, Method::GET, "/api/v1/me").send().await.expect("send"), 200).await;
    assert_eq!(me["user"]["locale"], Value::Null, "no choice until the user makes one");

    let r = app.as_user(&s, Method::PATCH, "/api/v1/me").json(&json!({ "locale": "de" })).send().await.expect("send");
    assert_eq!(ok_json(r, 200).await["locale"], "de");
    let me = ok_json(app.as_user(&s, Method::GET, "/api/v1/me").send().await.expect("send"), 200).await;
    assert_eq!(me["user"]["locale"], "de");
    let stored: String =
        app.sql(|c| c.query_row("SELECT locale FROM users WHERE email = 'lang@example.com'", [], |r| r.get(0)));
    assert_eq!(stored, "de");
    let audited = app.count(
        "SELECT count(*) FROM audit_logs WHERE action = 'user.updated' AND new_values LIKE '%\"locale\":\"de\"%'",
    );
    assert_eq!(audited, 1, "the change is audited");

    for bad in ["xx", "", "DE", "de-DE "] {
        let r =
            app.as_user(&s, Method::PATCH, "/api/v1/me").json(&json!({ "locale": bad })).send().await.expect("send");
        let body = assert_error(r, 422, "validation_failed").await;
        assert_eq!(body["error"]["details"]["field"], "locale", "{bad:?}");
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("en, de"), "the message lists the locales: {message}");
    }
    let r = app.as_user(&s, Method::PATCH, "/api/v1/me").json(&json!({ "locale": 7 })).send().await.expect("send");
    assert_eq!(r.status(), 422, "a locale is a string");
    let me = ok_json(app.as_user(&s, Method::GET, "/api/v1/me").send().await.expect("send"), 200).await;
    assert_eq!(me["user"]["locale"], "de", "refused changes leave the choice alone");
}

#[tokio::test]
async fn switching_to_german_translates_the_navigation_and_the_page_and_survives_a_reload() {
    let app = spawn_app().await;
    app.register("deutsch@example.com").await;
    with_browser("ui_locale", |b| async move {
        b.sign_in(&app, "deutsch@example.com").await;
        // English by default (the test browser asks for en-US).
        b.wait_for_text("a[href='/dashboard']", "Dashboard").await;
        assert_eq!(b.client.execute("return document.documentElement.lang", vec![]).await.expect("lang"), "en");

        b.client.goto(&app.url("/account")).await.expect("goto");
        b.wait_for_text("h1", "Your account").await;
        b.select("#locale-select", "de").await;
        b.wait_for_text("h1", "Ihr Konto").await;
        b.wait_for_text("a[href='/dashboard']", "Übersicht").await;
        b.wait_for_text("#sign-out", "Abmelden").await;
        assert_eq!(b.client.execute("return document.documentElement.lang", vec![]).await.expect("lang"), "de");
        let saved: String =
            app.sql(|c| c.query_row("SELECT locale FROM users WHERE email = 'deutsch@example.com'", [], |r| r.get(0)));
        assert_eq!(saved, "de");

        // A reload, and another page, stay German.
        b.client.refresh().await.expect("refresh");
        b.wait_for_text("h1", "Ihr Konto").await;
        b.click("a[href='/bots']").await;
        b.wait_for_text("form.card h2", "Neuer leerer Bot").await;
        b.wait_for_text("form.card button[type=submit]", "Erstellen").await;
        // A browser that never chose follows the account once signed in: clear
        // this browser's memory of the choice and reload.
        b.client.execute("localStorage.removeItem('bb-locale')", vec![]).await.expect("clear");
        b.client.refresh().await.expect("refresh");
        b.wait_for_text("a[href='/dashboard']", "Übersicht").await;

        // Back to English.
        b.select("#locale-select", "en").await;
        b.wait_for_text("a[href='/dashboard']", "Dashboard").await;
        b.wait_for_text("form.card h2", "New blank bot").await;
        let saved: String =
            app.sql(|c| c.query_row("SELECT locale FROM users WHERE email = 'deutsch@example.com'", [], |r| r.get(0)));
        assert_eq!(saved, "en");

        // Signed out, the sign-in screen has the switcher too (kept in this browser).
        b.click("#sign-out").await;
        b.wait_for_path("/login").await;
        b.select("#auth-locale-select", "de").await;
        b.wait_for_text("h2", "Anmelden").await;
        b.client.refresh().await.expect("refresh");
        b.wait_for_text("h2", "Anmelden").await;
        b.client.clone().close().await.expect("close");
    })
    .await;
}

#[tokio::test]
async fn the_knowledge_base_form_takes_a_language_and_suggests_the_multilingual_model() {
    let app = spawn_app().await;
    app.register("kb-lang@example.com").await;
    with_browser("kb_language", |b| async move {
        b.sign_in(&app, "kb-lang@example.com").await;
        b.click("a[href='/knowledge']").await;
        // English content: the built-in model is suggested.
        b.wait_for_text("#kb-embedding-model", "all-MiniLM").await;
        let model = b.element("#kb-embedding-model").await.prop("value").await.expect("value");
        assert_eq!(model.as_deref(), Some("all-MiniLM-L6-v2"));

        // A language the product does not support is refused under its field.
        b.fill("#create-kb #name", "Klingon").await;
        b.replace("#create-kb #language", "tlh").await;
        b.click("#create-kb button[type=submit]").await;
        b.wait_for_text("[data-field-error=language]", "not supported").await;

        // German: the multilingual model follows the language.
        b.replace("#create-kb #name", "Handbuch").await;
        b.replace("#create-kb #language", "de").await;
        let model = b.element("#kb-embedding-model").await.prop("value").await.expect("value");
        assert_eq!(model.as_deref(), Some("multilingual-e5-small"));
        b.click("#create-kb button[type=submit]").await;
        b.wait_for_text("h1", "Handbuch").await;
        b.wait_for_text("#kb-language", "de").await;
        let (language, model, tokenizer): (String, String, String) = app.sql(|c| {
            c.query_row(
                "SELECT language, embedding_model, fts_tokenizer FROM knowledge_bases WHERE name = 'Handbuch'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
        });
        assert_eq!(
            (language.as_str(), model.as_str(), tokenizer.as_str()),
            ("de", "multilingual-e5-small", "unicode61")
        );
        assert_eq!(app.count("SELECT count(*) FROM knowledge_bases WHERE name = 'Klingon'"), 0);
        b.client.clone().close().await.expect("close");
    })
    .await;
}
