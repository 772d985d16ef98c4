//! The agents' inbox through the API: visitor details from the widget,
//! canned replies, per-agent unread counts, the list across all bots with
//! its filters (emulator conversations left out), and unset template
//! variables marked in the emulator but not shown to end users.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, assert_error, ok_json, send_as, spawn_app};

async fn make_bot(app: &TestApp, s: &Session, name: &str) -> i64 {
    let r =
        send_as(app, s, Method::POST, &format!("/api/v1/orgs/{}/bots", s.org_id), Some(json!({ "name": name }))).await;
    ok_json(r, 201).await["id"].as_i64().expect("bot id")
}

/// Saves `doc` as the draft of flow `main` and publishes it.
async fn publish(app: &TestApp, s: &Session, bot: i64, doc: &Value) {
    let path = format!("/api/v1/bots/{bot}/flows/main");
    ok_json(send_as(app, s, Method::PUT, &path, Some(json!({ "document": doc }))).await, 201).await;
    ok_json(send_as(app, s, Method::POST, &format!("{path}/publish"), Some(json!({}))).await, 200).await;
}

/// Asks a name and an email, then hands off to a person.
fn handoff_flow() -> Value {
    json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "mail", "type": "question", "data": { "prompt": { "text": "Your email?" }, "variable": "email" } },
            { "id": "human", "type": "handoff", "data": { "message": { "text": "A colleague will join." } } },
            { "id": "bye", "type": "end", "data": { "message": { "text": "Bye!" } } }
        ],
        "edges": [
            { "source": "start", "target": "ask" }, { "source": "ask", "target": "mail" },
            { "source": "ask", "port": "invalid", "target": "mail" }, { "source": "mail", "target": "human" },
            { "source": "mail", "port": "invalid", "target": "human" }, { "source": "human", "target": "bye" }
        ]
    })
}

/// An API conversation of `user` in `bot`, brought to the handoff node.
async fn handed_off(app: &TestApp, s: &Session, bot: i64, user: &str) -> i64 {
    let r = send_as(
        app,
        s,
        Method::POST,
        &format!("/api/v1/bots/{bot}/conversations"),
        Some(json!({ "external_user_id": user, "text": "hello" })),
    )
    .await;
    let id = ok_json(r, 200).await["conversation_id"].as_i64().expect("id");
    say(app, s, id, &format!("{user} here")).await;
    let turn = say(app, s, id, &format!("{user}@example.com")).await;
    assert_eq!(turn["status"], "handoff", "{turn}");
    id
}

async fn say(app: &TestApp, s: &Session, conversation: i64, text: &str) -> Value {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    ok_json(send_as(app, s, Method::POST, &path, Some(json!({ "text": text }))).await, 200).await
}

async fn inbox(app: &TestApp, s: &Session, query: &str) -> Vec<Value> {
    let r = send_as(app, s, Method::GET, &format!("/api/v1/orgs/{}/inbox?{query}", s.org_id), None).await;
    ok_json(r, 200).await["items"].as_array().expect("items").clone()
}

fn ids(items: &[Value]) -> Vec<i64> {
    items.iter().map(|c| c["id"].as_i64().expect("id")).collect()
}

async fn unread(app: &TestApp, s: &Session) -> (i64, i64) {
    let r = send_as(app, s, Method::GET, &format!("/api/v1/orgs/{}/inbox/unread", s.org_id), None).await;
    let body = ok_json(r, 200).await;
    (body["unread"].as_i64().expect("unread"), body["conversations"].as_i64().expect("conversations"))
}

#[tokio::test]
async fn the_widget_start_stores_visitor_details_for_the_inbox() {
    let app = spawn_app().await;
    let s = app.register("visitor-details@example.com").await;
    let bot = make_bot(&app, &s, "Shop bot").await;
    publish(&app, &s, bot, &handoff_flow()).await;
    let settings =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/bots/{bot}/widget"), None).await, 200).await;
    let key = settings["widget_key"].as_str().expect("key").to_owned();

    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    let response = app
        .request(Method::POST, &format!("/api/v1/widget/{key}/sessions"))
        .header("User-Agent", ua)
        .header("Accept-Language", "fr-FR,fr;q=0.9")
        .json(&json!({ "page_url": "https://shop.example.com/pricing?plan=pro", "page_title": "Pricing · Shop" }))
        .send()
        .await
        .expect("send");
    let started = ok_json(response, 201).await;
    assert_eq!(started["assigned"], false, "{started}");
    let session = started["session_id"].as_str().expect("session").to_owned();
    for text in ["Ada Lovelace", "ada@example.com"] {
        let path = format!("/api/v1/widget/{key}/sessions/{session}/messages");
        ok_json(app.request(Method::POST, &path).json(&json!({ "text": text })).send().await.expect("send"), 200).await;
    }
    let conv: i64 = app.sql(|c| c.query_row("SELECT id FROM conversations WHERE channel = 'widget'", [], |r| r.get(0)));
    let detail =
        ok_json(send_as(&app, &s, Method::GET, &format!("/api/v1/conversations/{conv}"), None).await, 200).await;
    let v = &detail["visitor"];
    assert_eq!(v["page_url"], "https://shop.example.com/pricing?plan=pro", "{detail}");
    assert_eq!(v["page_title"], "Pricing · Shop");
    assert_eq!(v["language"], "fr-FR", "the Accept-Language header stands in for navigator.language");
    assert_eq!(v["browser"], "Chrome 120");
    assert_eq!(v["os"], "Windows");
    assert_eq!(v["name"], "Ada Lovelace");
    assert_eq!(v["email"], "ada@example.com");
    assert_eq!(v["channel"], "widget");
    assert_eq!(v["first_seen"], detail["created_at"]);

    // The widget knows whether a person has taken the conversation: waiting first, then taken.
    let history = format!("/api/v1/widget/{key}/sessions/{session}/messages");
    let hist = ok_json(app.request(Method::GET, &history).send().await.expect("send"), 200).await;
    assert_eq!((&hist["status"], &hist["assigned"]), (&json!("handoff"), &json!(false)), "{hist}");
    ok_json(
        send_as(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/assign"), Some(json!({}))).await,
        200,
    )
    .await;
    let hist = ok_json(app.request(Method::GET, &history).send().await.expect("send"), 200).await;
    assert_eq!(hist["assigned"], true, "{hist}");

    // Older embeds post no body; a bad body is refused with its field.
    let response = app.request(Method::POST, &format!("/api/v1/widget/{key}/sessions")).send().await.expect("send");
    let plain = ok_json(response, 201).await;
    let response = app
        .request(Method::POST, &format!("/api/v1/widget/{key}/sessions"))
        .json(&json!({ "page_url": "https://a.example", "colour": "red" }))
        .send()
        .await
        .expect("send");
    assert_error(response, 422, "validation_failed").await;
    let other = plain["session_id"].as_str().expect("session").to_owned();
    let visitor: String = app
        .sql(|c| c.query_row("SELECT visitor FROM conversations WHERE external_user_id = ?1", [&other], |r| r.get(0)));
    assert_eq!(visitor, "{}");
}

#[tokio::test]
async fn canned_replies_crud_with_field_errors_and_a_duplicate_shortcut() {
    let app = spawn_app().await;
    let owner = app.register("canned-owner@example.com").await;
    let org = owner.org_id;
    let agent = app.join(&owner, org, "canned-agent@example.com", "agent").await;
    let list_path = format!("/api/v1/orgs/{org}/canned-replies");

    let created = ok_json(
        send_as(
            &app,
            &owner,
            Method::POST,
            &list_path,
            Some(json!({ "shortcut": "/Thanks", "text": "Thank you, {{visitor.name}}!" })),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["shortcut"], "thanks", "a leading / is dropped and the shortcut lower-cased");
    assert_eq!(created["created_by"], owner.user_id);
    let id = created["id"].as_i64().expect("id");

    // Agents read them; writing needs bots.write.
    let listed = ok_json(send_as(&app, &agent, Method::GET, &list_path, None).await, 200).await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
    assert_eq!(listed["items"][0]["text"], "Thank you, {{visitor.name}}!");
    let r = send_as(&app, &agent, Method::POST, &list_path, Some(json!({ "shortcut": "hi", "text": "Hi" }))).await;
    assert_error(r, 403, "forbidden").await;

    // Bad input: the field at fault; a taken shortcut: 409.
    for (body, field) in [
        (json!({ "shortcut": "two words", "text": "x" }), "shortcut"),
        (json!({ "shortcut": "", "text": "x" }), "shortcut"),
        (json!({ "shortcut": "a".repeat(41), "text": "x" }), "shortcut"),
        (json!({ "shortcut": "ok", "text": "   " }), "text"),
        (json!({ "shortcut": "ok", "text": "x".repeat(4001) }), "text"),
    ] {
        let body =
            assert_error(send_as(&app, &owner, Method::POST, &list_path, Some(body)).await, 422, "validation_failed")
                .await;
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
    }
    let dup = assert_error(
        send_as(&app, &owner, Method::POST, &list_path, Some(json!({ "shortcut": "THANKS", "text": "Again" }))).await,
        409,
        "shortcut_taken",
    )
    .await;
    assert_eq!(dup["error"]["details"]["field"], "shortcut");

    // Update and the duplicate check on update.
    let other = ok_json(
        send_as(&app, &owner, Method::POST, &list_path, Some(json!({ "shortcut": "bye", "text": "Bye!" }))).await,
        201,
    )
    .await["id"]
        .as_i64()
        .expect("id");
    let item = format!("/api/v1/canned-replies/{id}");
    let updated =
        ok_json(send_as(&app, &owner, Method::PATCH, &item, Some(json!({ "text": "Many thanks!" }))).await, 200).await;
    assert_eq!((&updated["shortcut"], &updated["text"]), (&json!("thanks"), &json!("Many thanks!")));
    let r = send_as(
        &app,
        &owner,
        Method::PATCH,
        &format!("/api/v1/canned-replies/{other}"),
        Some(json!({ "shortcut": "thanks" })),
    )
    .await;
    assert_error(r, 409, "shortcut_taken").await;
    let r = send_as(&app, &owner, Method::PATCH, &item, Some(json!({ "text": "" }))).await;
    assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], "text");

    // Another organization sees none of it.
    let stranger = app.register("canned-stranger@example.com").await;
    let r = send_as(&app, &stranger, Method::PATCH, &item, Some(json!({ "text": "mine now" }))).await;
    assert_error(r, 404, "canned_reply_not_found").await;

    // Delete.
    let r = send_as(&app, &agent, Method::DELETE, &item, None).await;
    assert_error(r, 403, "forbidden").await;
    assert_eq!(send_as(&app, &owner, Method::DELETE, &item, None).await.status(), 204);
    assert_error(send_as(&app, &owner, Method::DELETE, &item, None).await, 404, "canned_reply_not_found").await;
    let listed = ok_json(send_as(&app, &owner, Method::GET, &list_path, None).await, 200).await;
    assert_eq!(listed["items"].as_array().expect("items").len(), 1);
}

#[tokio::test]
async fn unread_counts_rise_with_visitor_messages_and_fall_to_zero_on_read() {
    let app = spawn_app().await;
    let s = app.register("unread-owner@example.com").await;
    let colleague = app.join(&s, s.org_id, "unread-agent@example.com", "agent").await;
    let bot = make_bot(&app, &s, "Help bot").await;
    publish(&app, &s, bot, &handoff_flow()).await;
    assert_eq!(unread(&app, &s).await, (0, 0));

    // Three visitor messages so far: hello, the name, the email.
    let conv = handed_off(&app, &s, bot, "zoe").await;
    assert_eq!(unread(&app, &s).await, (3, 1));
    assert_eq!(unread(&app, &colleague).await, (3, 1), "each agent has their own marker");
    say(&app, &s, conv, "anyone there?").await;
    assert_eq!(unread(&app, &s).await, (4, 1));
    let items = inbox(&app, &s, "").await;
    assert_eq!(items[0]["unread"], 4, "{items:?}");

    // Reading clears it for the reader only.
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/conversations/{conv}/read"), Some(json!({}))).await;
    assert_eq!(r.status(), 204);
    assert_eq!(unread(&app, &s).await, (0, 0));
    assert_eq!(inbox(&app, &s, "").await[0]["unread"], 0);
    assert_eq!(unread(&app, &colleague).await, (4, 1));
    say(&app, &s, conv, "hello?").await;
    assert_eq!(unread(&app, &s).await, (1, 1));

    // Read up to a message: the marker never moves back.
    let last: i64 = app
        .sql(|c| c.query_row("SELECT max(id) FROM widget_messages WHERE conversation_id = ?1", [conv], |r| r.get(0)));
    let path = format!("/api/v1/conversations/{conv}/read");
    assert_eq!(send_as(&app, &s, Method::POST, &path, Some(json!({ "message_id": last }))).await.status(), 204);
    assert_eq!(send_as(&app, &s, Method::POST, &path, Some(json!({ "message_id": 1 }))).await.status(), 204);
    assert_eq!(unread(&app, &s).await, (0, 0));
    // A marker past the newest message stops at it: later messages are unread.
    assert_eq!(send_as(&app, &s, Method::POST, &path, Some(json!({ "message_id": 1_000_000 }))).await.status(), 204);
    say(&app, &s, conv, "one more thing").await;
    assert_eq!(unread(&app, &s).await, (1, 1));
    assert_eq!(send_as(&app, &s, Method::POST, &path, Some(json!({}))).await.status(), 204);

    // Once a colleague takes it, it no longer counts for the others.
    ok_json(
        send_as(&app, &colleague, Method::POST, &format!("/api/v1/conversations/{conv}/assign"), Some(json!({}))).await,
        200,
    )
    .await;
    say(&app, &s, conv, "still there?").await;
    assert_eq!(unread(&app, &s).await, (0, 0));
    assert_eq!(unread(&app, &colleague).await.0, 7);
    let stranger = app.register("unread-stranger@example.com").await;
    assert_error(send_as(&app, &stranger, Method::POST, &path, Some(json!({}))).await, 404, "conversation_not_found")
        .await;
}

#[tokio::test]
async fn the_inbox_lists_every_bot_with_filters_and_leaves_emulator_conversations_out() {
    let app = spawn_app().await;
    let s = app.register("inbox-filters@example.com").await;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [s.org_id]));
    let shop = make_bot(&app, &s, "Shop bot").await;
    let help = make_bot(&app, &s, "Help bot").await;
    for bot in [shop, help] {
        publish(&app, &s, bot, &handoff_flow()).await;
    }
    let waiting = handed_off(&app, &s, shop, "walt").await;
    let mine = handed_off(&app, &s, help, "mina").await;
    ok_json(
        send_as(&app, &s, Method::POST, &format!("/api/v1/conversations/{mine}/assign"), Some(json!({}))).await,
        200,
    )
    .await;
    let closed = handed_off(&app, &s, shop, "cleo").await;
    ok_json(
        send_as(&app, &s, Method::POST, &format!("/api/v1/conversations/{closed}/close"), Some(json!({}))).await,
        200,
    )
    .await;
    say(&app, &s, waiting, "my parcel is late").await;

    // An emulator conversation that reaches the handoff node.
    let mut turn = ok_json(
        send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{shop}/emulator"), Some(json!({ "text": "hi" }))).await,
        200,
    )
    .await;
    let emulated = turn["conversation_id"].as_i64().expect("id");
    for text in ["Tess", "tess@example.com"] {
        turn = ok_json(
            send_as(
                &app,
                &s,
                Method::POST,
                &format!("/api/v1/bots/{shop}/emulator"),
                Some(json!({ "conversation_id": emulated, "text": text })),
            )
            .await,
            200,
        )
        .await;
    }
    assert_eq!(turn["status"], "handoff", "{turn}");

    // Default: waiting and assigned of every bot, oldest first; no emulator.
    assert_eq!(ids(&inbox(&app, &s, "").await), [waiting, mine]);
    let both = inbox(&app, &s, "").await;
    assert_eq!((both[0]["bot_name"].as_str(), both[1]["bot_name"].as_str()), (Some("Shop bot"), Some("Help bot")));
    assert_eq!(ids(&inbox(&app, &s, &format!("bot_id={help}")).await), [mine]);
    assert_eq!(ids(&inbox(&app, &s, "status=waiting").await), [waiting]);
    assert_eq!(ids(&inbox(&app, &s, "status=assigned").await), [mine]);
    assert_eq!(ids(&inbox(&app, &s, "status=mine").await), [mine]);
    assert_eq!(ids(&inbox(&app, &s, "mine=true").await), [mine]);
    assert_eq!(ids(&inbox(&app, &s, "status=closed").await), [closed]);
    assert_eq!(ids(&inbox(&app, &s, "channel=api").await), [waiting, mine]);
    assert!(inbox(&app, &s, "channel=widget").await.is_empty());
    assert_eq!(ids(&inbox(&app, &s, "q=PARCEL").await), [waiting]);
    assert_eq!(ids(&inbox(&app, &s, "q=mina").await), [mine], "the visitor's id is searched too");

    // Emulator conversations only on request, then marked by their channel; never in the counts.
    let with_tests = inbox(&app, &s, "include_emulator=true").await;
    assert_eq!(ids(&with_tests), [waiting, mine, emulated]);
    assert_eq!(with_tests[2]["channel"], "emulator");
    assert_eq!(ids(&inbox(&app, &s, "channel=emulator").await), [emulated]);
    // Walt's four messages (waiting) and Mina's three (assigned to me); Cleo's are closed.
    assert_eq!(unread(&app, &s).await, (7, 2));

    // Paging follows the order of each view.
    let r = send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/inbox?limit=1", s.org_id), None).await;
    let page = ok_json(r, 200).await;
    assert_eq!(ids(page["items"].as_array().expect("items")), [waiting]);
    let next = page["next_cursor"].as_str().expect("cursor").to_owned();
    let r =
        send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/inbox?limit=1&after={next}", s.org_id), None).await;
    assert_eq!(ids(ok_json(r, 200).await["items"].as_array().expect("items")), [mine]);

    // Bad filters name their field.
    for (query, field) in
        [("status=pending", "status"), ("channel=No%20Such", "channel"), (&*format!("q={}", "x".repeat(201)), "q")]
    {
        let r = send_as(&app, &s, Method::GET, &format!("/api/v1/orgs/{}/inbox?{query}", s.org_id), None).await;
        assert_eq!(assert_error(r, 422, "validation_failed").await["error"]["details"]["field"], field, "{query}");
    }
}

#[tokio::test]
async fn unset_variables_are_marked_in_the_emulator_and_left_out_for_end_users() {
    let app = spawn_app().await;
    let s = app.register("unset-vars@example.com").await;
    let bot = make_bot(&app, &s, "Greeter").await;
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "hello", "type": "message", "data": { "text": "Hello {{name}}, welcome!" } },
            { "id": "ask", "type": "question", "data": { "prompt": { "text": "Your name?" }, "variable": "name" } },
            { "id": "done", "type": "message", "data": { "text": "Thanks {{name}}." } }
        ],
        "edges": [
            { "source": "start", "target": "hello" }, { "source": "hello", "target": "ask" },
            { "source": "ask", "target": "done" }, { "source": "ask", "port": "invalid", "target": "done" }
        ]
    });
    publish(&app, &s, bot, &flow).await;

    // The emulator: the gap is reported where it is, and the trace names the variable.
    let turn =
        ok_json(send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/emulator"), Some(json!({}))).await, 200)
            .await;
    let hello = &turn["replies"][0];
    assert_eq!(hello["text"], "Hello , welcome!", "{turn}");
    assert_eq!(hello["gaps"], json!([{ "at": 6, "placeholder": "{{name}}", "variables": ["name"] }]), "{turn}");
    let problems: Vec<&str> =
        turn["trace"]["problems"].as_array().expect("problems").iter().filter_map(|p| p["message"].as_str()).collect();
    assert!(problems.contains(&"unset variable: name"), "{problems:?}");
    // Once set, no gap.
    let id = turn["conversation_id"].as_i64().expect("id");
    let turn = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/bots/{bot}/emulator"),
            Some(json!({ "conversation_id": id, "text": "Ada" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(turn["replies"][0]["text"], "Thanks Ada.");
    assert!(turn["replies"][0].get("gaps").is_none(), "{turn}");

    // End users (the API, the widget, channels) get the text as before: no marker, no gaps.
    let r = send_as(&app, &s, Method::POST, &format!("/api/v1/bots/{bot}/conversations"), Some(json!({}))).await;
    let turn = ok_json(r, 200).await;
    assert_eq!(turn["replies"][0]["text"], "Hello , welcome!");
    assert!(turn["replies"][0].get("gaps").is_none(), "{turn}");
    assert!(turn.get("trace").is_none());
    let stored: String = app.sql(|c| {
        c.query_row(
            "SELECT payload FROM widget_messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.channel = 'api' AND m.role = 'bot' ORDER BY m.id LIMIT 1",
            [],
            |r| r.get(0),
        )
    });
    assert!(!stored.contains("gaps"), "{stored}");
}
