//! Languages (issue 24 items 3–5) end to end: the detected language of a
//! message in the parse API, `nlu_logs` and flow conditions; system entities
//! read in the bot's language; unsupported languages refused; and
//! knowledge retrieval in Japanese, where Porter's word tokens find nothing
//! and the trigram index finds the right chunk.

#![allow(
    clippy::too_many_lines,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    reason = "end-to-end scenarios read best as one story"
)]

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::helpers::{
    Session, TestApp, assert_error, emulator_say, ok_json, published_bot, send_as, spawn_app, spawn_app_with,
};
use crate::knowledge::{create_kb, drain, paste, search};

async fn train(app: &TestApp, s: &Session, bot: i64, intents: &[(&str, &[&str])]) {
    for (name, texts) in intents {
        let examples: Vec<Value> = texts.iter().map(|t| json!({ "text": t })).collect();
        let body = json!({ "name": name, "examples": examples });
        ok_json(send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/intents"), Some(body)).await, 201).await;
    }
    let job = ok_json(send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/train"), None).await, 202).await;
    let stop = CancellationToken::new();
    while botbuilder::jobs::run_once(&app.state, "test", &stop).await.expect("run job") {}
    let job = ok_json(send_as(app, s, Method::GET, &format!("/api/v1/jobs/{}", job["id"]), None).await, 200).await;
    assert_eq!(job["status"], "succeeded", "{job}");
}

async fn parse(app: &TestApp, s: &Session, bot: i64, text: &str) -> Value {
    let body = json!({ "text": text, "reference_time": "2025-03-14T10:00:00Z", "timezone": "Europe/Berlin" });
    ok_json(send_as(app, s, Method::POST, &format!("/api/v1/bots/{bot}/nlu/parse"), Some(body)).await, 200).await
}

fn entity<'a>(parsed: &'a Value, name: &str) -> &'a Value {
    parsed["entities"]
        .as_array()
        .and_then(|all| all.iter().find(|e| e["entity"] == name))
        .unwrap_or_else(|| panic!("no {name} in {parsed}"))
}

const BOOK_DE: &[&str] = &[
    "ich möchte einen Tisch reservieren",
    "einen Tisch für zwei Personen bitte",
    "kann ich für heute Abend reservieren",
    "ich hätte gerne eine Reservierung",
    "habt ihr morgen einen Tisch frei",
    "Tisch für vier buchen",
];
const HOURS_DE: &[&str] = &[
    "wann habt ihr geöffnet",
    "wie sind eure Öffnungszeiten",
    "habt ihr am Sonntag offen",
    "bis wann ist das Restaurant offen",
    "wann schließt ihr heute",
    "um wie viel Uhr macht ihr auf",
];

#[tokio::test]
async fn parses_detect_the_language_and_read_entities_in_the_bots_language() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("languages@example.com").await;
    let org = s.org_id;
    app.sql(|c| c.execute("UPDATE organizations SET plan_tier = 'enterprise' WHERE id = ?1", [org]));

    // A language the product does not support: 422 listing the supported ones.
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{org}/bots"),
        Some(json!({ "name": "K", "language": "tlh" })),
    )
    .await;
    let err = ok_json(r, 422).await;
    assert_eq!(err["error"]["code"], "validation_failed", "{err}");
    assert_eq!(err["error"]["details"]["field"], "language");
    let supported = err["error"]["details"]["supported"].as_array().expect("supported");
    assert_eq!(supported.len(), 70);
    assert!(supported.contains(&json!("de")) && supported.contains(&json!("ja")));
    let bot = ok_json(
        send_as(
            &app,
            &s,
            Method::POST,
            &format!("/api/v1/orgs/{org}/bots"),
            Some(json!({ "name": "Gasthaus", "language": "de" })),
        )
        .await,
        201,
    )
    .await["id"]
        .as_i64()
        .expect("bot");
    assert_error(
        send_as(&app, &s, Method::PATCH, &format!("/api/v1/bots/{bot}"), Some(json!({ "language": "xx-YY" }))).await,
        422,
        "validation_failed",
    )
    .await;
    train(&app, &s, bot, &[("book_table", BOOK_DE), ("opening_hours", HOURS_DE)]).await;

    // German: the language, and dates, times, numbers and money in German words.
    let de =
        parse(&app, &s, bot, "Ich möchte übermorgen um 19 Uhr einen Tisch für vier Personen reservieren, maximal 50 €")
            .await;
    assert_eq!(de["detected_language"]["code"], "de", "{de}");
    assert!(de["detected_language"]["confidence"].as_f64().is_some_and(|c| c > 0.0 && c <= 1.0), "{de}");
    assert_eq!(entity(&de, "date")["resolved"], "2025-03-16");
    assert_eq!(entity(&de, "date")["value"], "übermorgen");
    assert_eq!(entity(&de, "time")["resolved"], "19:00:00");
    assert_eq!(entity(&de, "number")["resolved"], 4);
    assert_eq!(entity(&de, "money")["resolved"], json!({ "amount": 50, "currency": "EUR" }));
    assert!(
        de["entities"].as_array().expect("entities").iter().all(|e| e["value"] != "einen"),
        "an article is no number"
    );

    // The same bot switched to Spanish reads Spanish words.
    ok_json(
        send_as(&app, &s, Method::PATCH, &format!("/api/v1/bots/{bot}"), Some(json!({ "language": "es" }))).await,
        200,
    )
    .await;
    let es = parse(
        &app,
        &s,
        bot,
        "Quiero reservar una mesa para pasado mañana a las ocho de la noche, unos 30 euros por persona",
    )
    .await;
    assert_eq!(es["detected_language"]["code"], "es", "{es}");
    assert_eq!(entity(&es, "date")["resolved"], "2025-03-16");
    assert_eq!(entity(&es, "time")["value"], "a las ocho de la noche");
    assert_eq!(entity(&es, "time")["resolved"], "20:00:00");
    assert_eq!(entity(&es, "money")["resolved"], json!({ "amount": 30, "currency": "EUR" }));

    // Mixed text: the dominant language. Too short, or a script never seen: null, no error.
    let mixed =
        parse(&app, &s, bot, "Quisiera cambiar mi reserva de mañana para el viernes por la noche, thanks a lot").await;
    assert_eq!(mixed["detected_language"]["code"], "es", "{mixed}");
    assert_eq!(parse(&app, &s, bot, "ok").await["detected_language"], Value::Null);
    let cherokee = parse(&app, &s, bot, "ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ᎠᏓᏅᏙ").await;
    assert_eq!(cherokee["detected_language"], Value::Null, "{cherokee}");

    // Logged with the parse.
    let deadline = Instant::now() + Duration::from_secs(5);
    while app.sql(|c| c.query_row("SELECT count(*) FROM nlu_logs", [], |r| r.get::<_, i64>(0))) < 5 {
        assert!(Instant::now() < deadline, "the parses were not logged");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let logged: Vec<(String, Option<String>, Option<f64>)> = app.sql(|c| {
        let mut stmt = c.prepare("SELECT message, detected_language, language_confidence FROM nlu_logs ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<Vec<_>, _>>()
    });
    let langs: Vec<Option<&str>> = logged.iter().map(|(_, l, _)| l.as_deref()).collect();
    assert_eq!(langs, [Some("de"), Some("es"), Some("es"), None, None]);
    assert!(logged[0].2.is_some_and(|c| c > 0.0) && logged[3].2.is_none());

    // Knowledge bases refuse an unsupported language the same way.
    let r = send_as(
        &app,
        &s,
        Method::POST,
        &format!("/api/v1/orgs/{org}/knowledge-bases"),
        Some(json!({ "name": "Klingon", "language": "tlh" })),
    )
    .await;
    assert_eq!(ok_json(r, 422).await["error"]["details"]["field"], "language");
}

#[tokio::test]
async fn a_flow_routes_by_the_detected_language() {
    let app = spawn_app().await;
    let s = app.register("language-routing@example.com").await;
    let rule = |op: &str, value: Value| json!({ "subject": "detected_language", "operator": op, "value": value });
    let flow = json!({
        "nodes": [
            { "id": "start", "type": "start" },
            { "id": "lang", "type": "condition", "data": { "branches": [
                { "id": "de", "condition": rule("equals", json!("de")) },
                { "id": "romance", "condition": rule("in", json!(["es", "pt", "it", "fr"])) } ] } },
            { "id": "hallo", "type": "end", "data": { "message": { "text": "Hallo!" } } },
            { "id": "hola", "type": "end", "data": { "message": { "text": "¡Hola! Bonjour! Olá!" } } },
            { "id": "hello", "type": "end", "data": { "message": { "text": "Hello!" } } }
        ],
        "edges": [
            { "source": "start", "target": "lang" },
            { "source": "lang", "port": "de", "target": "hallo" },
            { "source": "lang", "port": "romance", "target": "hola" },
            { "source": "lang", "port": "else", "target": "hello" }
        ]
    });
    let bot = published_bot(&app, &s, "Polyglot", flow).await;
    // No trained model: the language is detected all the same.
    let (said, _) =
        emulator_say(&app, &s, bot, None, Some("Guten Tag, ich hätte gerne eine Auskunft über Ihre Preise")).await;
    assert_eq!(said, ["Hallo!"]);
    let (said, _) = emulator_say(&app, &s, bot, None, Some("Buenas tardes, quería saber los precios de la casa")).await;
    assert_eq!(said, ["¡Hola! Bonjour! Olá!"]);
    let (said, _) =
        emulator_say(&app, &s, bot, None, Some("Bonjour, je voudrais connaître vos tarifs s'il vous plaît")).await;
    assert_eq!(said, ["¡Hola! Bonjour! Olá!"]);
    // Too short to tell: `detected_language` is null and the flow goes on by `else`.
    let (said, _) = emulator_say(&app, &s, bot, None, Some("ok")).await;
    assert_eq!(said, ["Hello!"]);
}

/// Twenty answers of a shop's FAQ in Japanese, and a question for each
/// (written for this test; the questions share a word of three or more
/// characters with their answer, as FAQ questions do).
const FAQ_JA: [(&str, &str); 20] = [
    ("当店の営業時間は午前10時から午後8時までです。年末年始は休業いたします。", "営業時間を教えてください"),
    (
        "5000円以上のご注文で送料無料になります。それ未満の場合は全国一律500円の送料がかかります。",
        "送料無料の条件は何ですか",
    ),
    ("商品到着後30日以内であれば返品交換を承ります。未開封の商品に限ります。", "返品交換はできますか"),
    ("お支払い方法はクレジットカード、銀行振込、コンビニ払いからお選びいただけます。", "クレジットカードは使えますか"),
    ("会員登録は無料です。メールアドレスとパスワードだけで登録できます。", "会員登録にお金はかかりますか"),
    (
        "お買い物金額の1%がポイントとして貯まります。ポイントは次回のお買い物から使えます。",
        "ポイントはいつから使えますか",
    ),
    ("領収書はマイページからダウンロードできます。宛名の変更も可能です。", "領収書を発行してほしい"),
    ("配達日時の指定は注文画面で行えます。最短で翌日にお届けします。", "配達日時を指定したい"),
    ("店舗の裏に無料の駐車場があります。20台まで駐車できます。", "駐車場はありますか"),
    ("ギフト包装は一点につき200円で承ります。メッセージカードも無料で付けられます。", "ギフト包装をお願いできますか"),
    ("パスワードを忘れた場合はログイン画面の再設定リンクから変更してください。", "パスワードを忘れてしまいました"),
    ("発送前であればマイページから注文のキャンセルができます。", "注文をキャンセルしたいです"),
    ("在庫切れの商品は入荷お知らせメールに登録すると再入荷時にご連絡します。", "再入荷はいつですか"),
    ("現在、海外発送には対応しておりません。国内のみのお届けとなります。", "海外発送は可能ですか"),
    ("お電話でのお問い合わせは平日の午前9時から午後5時まで受け付けています。", "電話で問い合わせたいのですが"),
    ("衣類のサイズ交換は一回まで無料で対応いたします。", "サイズ交換は無料ですか"),
    ("家電製品にはメーカー保証が一年間付いています。延長保証にも加入できます。", "延長保証について知りたい"),
    ("定期便は毎月決まった日にお届けするサービスです。いつでも解約できます。", "定期便を解約する方法は"),
    (
        "クーポンコードは注文確認画面で入力してください。一回の注文につき一枚まで使えます。",
        "クーポンコードの入力場所はどこですか",
    ),
    ("オンラインで注文した商品を店舗受取にすると送料がかかりません。", "店舗受取はできますか"),
];

/// Recall@1 and recall@10 of the FAQ questions in `kb` (`mode` keyword or hybrid).
async fn recall(app: &TestApp, s: &Session, kb: i64, docs: &[i64], mode: &str) -> (f64, f64) {
    let (mut at1, mut at10) = (0, 0);
    for (i, (_, question)) in FAQ_JA.iter().enumerate() {
        let found = search(app, s, kb, json!({ "query": question, "mode": mode, "top_k": 10 })).await;
        let ids: Vec<i64> =
            found["results"].as_array().expect("results").iter().filter_map(|r| r["document_id"].as_i64()).collect();
        at1 += usize::from(ids.first() == Some(&docs[i]));
        at10 += usize::from(ids.contains(&docs[i]));
    }
    let n = FAQ_JA.len() as f64;
    (at1 as f64 / n, at10 as f64 / n)
}

#[tokio::test]
async fn japanese_retrieval_finds_with_trigrams_what_porter_misses() {
    let app = spawn_app_with(|c| c.ml.enabled = true).await;
    let s = app.register("retrieval-ja@example.com").await;
    let porter = create_kb(&app, &s, json!({ "name": "FAQ (Porter)", "language": "en" })).await;
    let trigram = create_kb(&app, &s, json!({ "name": "FAQ", "language": "ja" })).await;
    assert_eq!(porter["fts_tokenizer"], "porter");
    assert_eq!(trigram["fts_tokenizer"], "trigram");
    let accented = create_kb(&app, &s, json!({ "name": "FAQ (fr)", "language": "fr-CA" })).await;
    assert_eq!(accented["fts_tokenizer"], "unicode61");
    let (porter, trigram) = (porter["id"].as_i64().expect("kb"), trigram["id"].as_i64().expect("kb"));
    let (mut porter_docs, mut trigram_docs) = (Vec::new(), Vec::new());
    for (i, (answer, _)) in FAQ_JA.iter().enumerate() {
        porter_docs.push(paste(&app, &s, porter, &format!("faq-{i:02}"), answer).await["id"].as_i64().expect("doc"));
        trigram_docs.push(paste(&app, &s, trigram, &format!("faq-{i:02}"), answer).await["id"].as_i64().expect("doc"));
    }
    drain(&app).await;

    let before = recall(&app, &s, porter, &porter_docs, "keyword").await;
    let after = recall(&app, &s, trigram, &trigram_docs, "keyword").await;
    let hybrid = recall(&app, &s, trigram, &trigram_docs, "hybrid").await;
    eprintln!(
        "Japanese FAQ, keyword recall@1/@10: porter {:.2}/{:.2}, trigram {:.2}/{:.2}; hybrid trigram {:.2}/{:.2}",
        before.0, before.1, after.0, after.1, hybrid.0, hybrid.1
    );
    assert!(before.1 <= 0.1, "Porter's word tokens are whole clauses: {before:?}");
    assert!(after.1 >= 0.95 && after.0 >= 0.8, "trigrams find the answers: {after:?}");
    assert!(hybrid.1 >= 0.9, "the hybrid ranker keeps them: {hybrid:?}");

    // Snippets highlight the matched words without splitting a character
    // (`てください` is shared with other answers, which may rank first).
    let found = search(&app, &s, trigram, json!({ "query": "営業時間を教えてください", "mode": "keyword" })).await;
    let top = found["results"]
        .as_array()
        .and_then(|all| all.iter().find(|r| r["document_id"] == trigram_docs[0]))
        .unwrap_or_else(|| panic!("{found}"));
    let snippet: Vec<char> = top["snippet"].as_str().expect("snippet").chars().collect();
    let marked: Vec<String> = top["highlights"]
        .as_array()
        .expect("highlights")
        .iter()
        .map(|h| {
            let (a, b) = (h[0].as_u64().expect("start") as usize, h[1].as_u64().expect("end") as usize);
            snippet[a..b].iter().collect()
        })
        .collect();
    assert!(marked.contains(&"営業時間".to_owned()), "{marked:?}");
    // A script no document is written in, emoji, a lone kanji: answered, nothing found.
    for query in ["ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ", "👍🎉", "店"] {
        let found = search(&app, &s, trigram, json!({ "query": query, "mode": "keyword" })).await;
        assert_eq!(found["results"], json!([]), "{query}: {found}");
    }

    // Changing the language moves the chunks to the trigram index in place.
    let changed = ok_json(
        send_as(
            &app,
            &s,
            Method::PATCH,
            &format!("/api/v1/knowledge-bases/{porter}"),
            Some(json!({ "language": "ja" })),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(changed["fts_tokenizer"], "trigram");
    assert_eq!(recall(&app, &s, porter, &porter_docs, "keyword").await, after);
    app.sql(|c| {
        for table in ["chunks_fts", "chunks_fold_fts", "chunks_trigram_fts"] {
            c.execute_batch(&format!("INSERT INTO {table} ({table}) VALUES ('integrity-check')"))?;
        }
        Ok(())
    });
}
