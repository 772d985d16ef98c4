//! `botbuilder bench voice`: server time per voice turn, webhook in →
//! `TwiML` out (target p95 < 50 ms, speech services excluded: the provider
//! recognizes speech, the server gets text or keys).
//!
//! The server runs in-process on a temporary data file with a telephony
//! account, a number and a voice bot whose published flow is a key menu
//! that answers and asks again. `--calls` calls come in one after another;
//! each is answered (`incoming`) and then runs `--turns` turns, each a signed
//! `gather` webhook with a key press, exactly as Twilio posts them. Every
//! webhook's time from request to the complete `TwiML` answer is measured;
//! the answer must be 200 `TwiML` with the next gather (else it counts as an
//! error).

use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::runtime::{new_bot, publish, setup_org};
use super::{Report, percentile};
use crate::app::Application;
use crate::config::{Config, LogConfig};
use crate::http::Tenant;
use crate::voice::model::VoiceAccountRequest;

#[derive(Debug, Args)]
pub struct VoiceArgs {
    /// Calls, one after another.
    #[arg(long, default_value_t = 40)]
    pub calls: usize,
    /// Gather turns per call (after the greeting).
    #[arg(long, default_value_t = 10)]
    pub turns: usize,
}

/// DESIGN §12's target for a voice turn, p95 in ms.
const TARGET_P95_MS: f64 = 50.0;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const NUMBER: &str = "+15005550006";

/// A key menu: the answer is said back and the menu asked again.
const MENU_FLOW: &str = r#"{
  "nodes": [
    { "id": "start", "type": "start" },
    { "id": "hello", "type": "message", "data": { "text": "Welcome to the bench line." } },
    { "id": "ask", "type": "question", "data": { "prompt": { "text": "Which department?" }, "variable": "dept",
      "validation": { "kind": "choices", "choices": [ { "label": "Sales", "value": "sales" }, { "label": "Support", "value": "support" } ] } } },
    { "id": "said", "type": "message", "data": { "text": "You chose {{dept}}." } }
  ],
  "edges": [ { "source": "start", "target": "hello" }, { "source": "hello", "target": "ask" },
             { "source": "ask", "target": "said" }, { "source": "ask", "port": "invalid", "target": "ask" },
             { "source": "said", "target": "ask" } ]
}"#;

pub fn run(args: &VoiceArgs) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(bench(args))
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The gather `action` of a `TwiML` answer.
fn next_action(twiml: &str) -> Option<String> {
    let g = &twiml[twiml.find("<Gather")?..];
    let a = &g[g.find("action=\"")? + 8..];
    Some(a[..a.find('"')?].replace("&amp;", "&"))
}

/// One signed webhook; its time in ms and the `TwiML`, or `None` on an error.
async fn post(
    client: &reqwest::Client,
    public: &str,
    local: &str,
    url: &str,
    params: &[(String, String)],
) -> Option<(f64, String)> {
    let signature = crate::channels::sms::signature(TOKEN, url, params);
    let target = url.replacen(public, local, 1);
    let started = Instant::now();
    let response = client.post(target).header("X-Twilio-Signature", signature).form(params).send().await.ok()?;
    let ok = response.status().as_u16() == 200;
    let body = response.text().await.ok()?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    (ok && body.contains("<Response>")).then_some((ms, body))
}

#[allow(clippy::too_many_lines, reason = "setup, the calls and the report, in order")]
async fn bench(args: &VoiceArgs) -> anyhow::Result<Report> {
    let dir = tempfile::tempdir()?;
    let mut config = Config {
        data: dir.path().join("bench.db"),
        bind: "127.0.0.1:0".into(),
        log: LogConfig { level: "error".into(), ..LogConfig::default() },
        ..Config::default()
    };
    config.ml.enabled = false;
    config.rate_limits.enabled = false;
    let app = Application::build(config)?;
    let local = format!("http://127.0.0.1:{}", app.port());
    let state = app.state().clone();
    let stop = app.stop_handle();
    let server = tokio::spawn(app.run_until_stopped());

    let org = setup_org(&state)?;
    let tenant = Tenant::system(org, "benchmark");
    let bot = new_bot(&state, org, "Voice bench")?;
    publish(&state, &tenant, bot, MENU_FLOW).await?;
    let account = crate::voice::service::set_account(
        &state,
        tenant.clone(),
        VoiceAccountRequest { account_sid: SID.into(), auth_token: TOKEN.into() },
    )
    .await?;
    state.db.write_blocking(|tx| {
        let vb: i64 = tx.query_row(
            "INSERT INTO voice_bots (organization_id, bot_id, name) VALUES (?1, ?2, 'Bench line') RETURNING id",
            rusqlite::params![org, bot],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO phone_numbers (organization_id, phone_number, assigned_bot_id, provider_sid) VALUES (?1, ?2, ?3, 'PNbench')",
            rusqlite::params![org, NUMBER, vb],
        )?;
        tx.execute("UPDATE voice_bots SET phone_number_id = last_insert_rowid() WHERE id = ?1", [vb])?;
        Ok(())
    })?;
    let public = crate::admin::instance::public_url_in_force(&state).await?;
    let public = public.trim_end_matches('/').to_owned();
    let client = reqwest::Client::builder().no_proxy().build()?;

    let (mut incoming, mut turns, mut errors) = (Vec::new(), Vec::new(), 0_usize);
    let started = Instant::now();
    for call in 0..args.calls.max(1) {
        let sid = format!("CA{call:032}");
        let base = |extra: &[(&str, &str)]| {
            let mut p: Vec<(String, String)> = [
                ("AccountSid", SID),
                ("CallSid", sid.as_str()),
                ("Direction", "inbound"),
                ("From", "+14155550100"),
                ("To", NUMBER),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
            p.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            p
        };
        let Some((ms, twiml)) =
            post(&client, &public, &local, &account.voice_url, &base(&[("CallStatus", "ringing")])).await
        else {
            errors += 1;
            continue;
        };
        incoming.push(ms);
        let mut next = next_action(&twiml);
        for turn in 0..args.turns {
            let Some(url) = next.take() else {
                errors += 1;
                break;
            };
            let key = if turn % 2 == 0 { "1" } else { "2" };
            let Some((ms, twiml)) = post(&client, &public, &local, &url, &base(&[("Digits", key)])).await else {
                errors += 1;
                break;
            };
            turns.push(ms);
            next = next_action(&twiml);
        }
    }
    let wall = started.elapsed().as_secs_f64();
    stop.stop(true).await;
    let _ = server.await;

    let n_turns = turns.len();
    let (t50, t95, tmax) = (percentile(&mut turns, 50.0), percentile(&mut turns, 95.0), percentile(&mut turns, 100.0));
    let (i50, i95) = (percentile(&mut incoming, 50.0), percentile(&mut incoming, 95.0));
    let pass = n_turns > 0 && errors == 0 && t95 < TARGET_P95_MS;
    let rows = vec![
        ("calls × turns".to_owned(), format!("{} × {} ({n_turns} turns, {errors} errors)", args.calls, args.turns)),
        ("incoming (greeting) p50 / p95".to_owned(), format!("{i50:.2} / {i95:.2} ms")),
        ("voice turn p50 / p95 / max".to_owned(), format!("{t50:.2} / {t95:.2} / {tmax:.2} ms")),
        ("target p95".to_owned(), format!("< {TARGET_P95_MS} ms: {}", if pass { "met" } else { "NOT met" })),
        ("wall time".to_owned(), format!("{wall:.1} s")),
    ];
    let json = json!({
        "suite": "voice",
        "calls": args.calls, "turns_per_call": args.turns, "turns": n_turns, "errors": errors,
        "incoming_ms": { "p50": r2(i50), "p95": r2(i95) },
        "turn_ms": { "p50": r2(t50), "p95": r2(t95), "max": r2(tmax) },
        "target_p95_ms": TARGET_P95_MS, "target_met": pass,
    });
    Ok(Report { rows, json })
}
