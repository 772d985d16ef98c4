//! The Twilio voice webhooks (`/hooks/voice/{webhook_key}/…`): every call
//! is checked against `X-Twilio-Signature` (HMAC-SHA1 with the account's
//! auth token over the URL called and the sorted POST parameters) and its
//! `AccountSid` before anything is read or stored.
//!
//! - `incoming`: a call comes in (or an outbound call is answered): the
//!   number's voice bot starts a conversation on its published flow and the
//!   greeting comes back as `TwiML`.
//! - `gather`: what the caller said (`SpeechResult`, `Confidence`) or
//!   pressed (`Digits`; a digit picks that choice of the menu) runs one turn;
//!   silence re-prompts up to `max_reprompts` times, then says goodbye (or
//!   transfers); "repeat" (or `*`) says the last prompt again. Each gather
//!   URL carries the turn number (`seq`): a replayed or stale one is refused
//!   with 409 `voice_webhook_replayed` and runs nothing.
//! - `status`: `CallStatus` callbacks, applied only forward (a late
//!   `ringing` never undoes `in-progress`, nothing leaves a final state);
//!   `AnsweredBy` is kept.
//! - `recording`: a job fetches the recording into the call's files.
//! - `hangup`: where a transfer or voicemail ends.

use std::time::Instant;

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::model::{CallId, VoiceBot};
use super::store::{self, NewCall, NewSegment};
use super::twiml::{self, Voice};
use crate::app::AppState;
use crate::billing::limits::Limit;
use crate::conversations::model::{ConvStatus, ConversationId, Message, Role};
use crate::conversations::runtime::{ActArgs, Action, ConvRef, check_message};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::service::Source;
use crate::http::Tenant;
use crate::jobs::{Enqueue, Queue};

/// Which webhook was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Incoming,
    Gather,
    Status,
    Recording,
    Hangup,
}

/// The job that fetches a recording.
pub const RECORDING_JOB: &str = "voice.fetch_recording";

const FINAL: [&str; 5] = ["completed", "busy", "failed", "no-answer", "canceled"];

/// Whether a call status is final.
#[must_use]
pub fn is_terminal(status: &str) -> bool {
    FINAL.contains(&status)
}

/// The order of call states; a callback only moves a call forward.
#[must_use]
pub fn rank(status: &str) -> Option<u8> {
    match status {
        "initiated" => Some(0),
        "queued" => Some(1),
        "ringing" => Some(2),
        "in-progress" => Some(3),
        s if is_terminal(s) => Some(4),
        _ => None,
    }
}

/// The encryption context of an organization's auth token.
#[must_use]
pub fn token_context(org: crate::ids::OrgId) -> String {
    format!("voice_accounts.auth_token_encrypted:{}", org.0)
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn field<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

fn xml(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/xml; charset=utf-8").body(body)
}

fn empty() -> HttpResponse {
    xml(twiml::response(""))
}

fn replayed(why: &str) -> AppError {
    tracing::warn!(why, "refused a replayed voice webhook");
    AppError::new(ErrorCode::VoiceWebhookReplayed, format!("this webhook was already handled: {why}"))
}

/// The webhook URLs of an account.
#[derive(Debug, Clone)]
pub struct Hooks {
    pub base: String,
}

impl Hooks {
    #[must_use]
    pub fn new(public_url: &str, key: &str) -> Hooks {
        Hooks { base: format!("{}/hooks/voice/{key}", public_url.trim_end_matches('/')) }
    }
    #[must_use]
    pub fn incoming(&self) -> String {
        format!("{}/incoming", self.base)
    }
    #[must_use]
    pub fn gather(&self, seq: u64) -> String {
        format!("{}/gather?seq={seq}", self.base)
    }
    #[must_use]
    pub fn status(&self) -> String {
        format!("{}/status", self.base)
    }
    #[must_use]
    pub fn recording(&self) -> String {
        format!("{}/recording", self.base)
    }
    #[must_use]
    pub fn hangup(&self) -> String {
        format!("{}/hangup", self.base)
    }
}

/// A voice bot's voice behaviour (its `settings`).
struct Behaviour {
    transfer_to: Option<String>,
    timeout: u32,
    max_reprompts: u64,
    silence_transfers: bool,
    record_transfers: bool,
    goodbye: String,
    no_input: String,
    greeting_audio: Option<String>,
    voice: Voice,
}

impl Behaviour {
    fn of(vb: &VoiceBot) -> Behaviour {
        let s = &vb.settings;
        let text =
            |k: &str| s.get(k).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
        let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
        Behaviour {
            transfer_to: text("transfer_to"),
            timeout: s
                .get("gather_timeout_secs")
                .and_then(Value::as_u64)
                .and_then(|t| u32::try_from(t.clamp(1, 60)).ok())
                .unwrap_or(5),
            max_reprompts: s.get("max_reprompts").and_then(Value::as_u64).unwrap_or(2).min(10),
            silence_transfers: text("silence_action").as_deref() == Some("transfer"),
            record_transfers: flag("record_transfers"),
            goodbye: text("goodbye_message").unwrap_or_else(|| "Thank you for calling. Goodbye.".into()),
            no_input: text("no_input_message").unwrap_or_else(|| "Sorry, I did not hear anything.".into()),
            greeting_audio: text("greeting_audio_url"),
            voice: Voice::new(vb.voice_id.clone(), vb.language.clone(), flag("ssml")),
        }
    }
}

/// What the caller hears after a turn, and the dialogue state it leaves.
struct Spoken {
    verbs: String,
    said: String,
    outcome: Option<&'static str>,
}

/// The last prompt and its menu, kept to repeat and to map digits.
fn prompt_state(meta: &mut Map<String, Value>, prompt: &[String], values: &[String]) {
    meta.insert("prompt".into(), json!(prompt));
    meta.insert("choices".into(), json!(values));
}

fn strings(meta: &Map<String, Value>, key: &str) -> Vec<String> {
    meta.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn seq_of(meta: &Map<String, Value>) -> u64 {
    meta.get("seq").and_then(Value::as_u64).unwrap_or(0)
}

/// Turns the bot's replies into `TwiML`.
fn compose(
    b: &Behaviour,
    hooks: &Hooks,
    meta: &mut Map<String, Value>,
    replies: &[Message],
    status: ConvStatus,
    nothing_said: &str,
) -> Spoken {
    let mut texts = Vec::new();
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for m in replies.iter().filter(|m| matches!(m.role, Role::Bot | Role::Agent | Role::System)) {
        let mut text = m.text.trim().to_owned();
        if text.is_empty() {
            let cards: Vec<String> = m
                .parts
                .cards
                .iter()
                .map(|c| match &c.subtitle {
                    Some(s) => format!("{}. {s}", c.title),
                    None => c.title.clone(),
                })
                .collect();
            text = cards.join(" ");
        }
        if !text.is_empty() {
            texts.push(text);
        }
        for q in &m.parts.quick_replies {
            labels.push(q.label.clone());
            values.push(q.value.clone());
        }
        let card_buttons = m.parts.cards.iter().flat_map(|c| c.buttons.iter());
        for btn in m.parts.buttons.iter().chain(card_buttons).filter(|b| b.url.is_none()) {
            labels.push(btn.label.clone());
            values.push(btn.value.clone().unwrap_or_else(|| btn.label.clone()));
        }
    }
    labels.truncate(9);
    values.truncate(9);
    if texts.is_empty() && labels.is_empty() && status == ConvStatus::Open {
        texts.push(nothing_said.to_owned());
    }
    if !labels.is_empty() {
        texts.push(twiml::menu(&labels));
    }
    let said = texts.join(" ");
    let says: String = texts.iter().map(|t| twiml::say(&b.voice, t)).collect();
    let seq = seq_of(meta) + 1;
    meta.insert("seq".into(), json!(seq));
    let (verbs, outcome) = match status {
        ConvStatus::Handoff => (format!("{says}{}", transfer(b, hooks)), Some(transfer_outcome(b))),
        ConvStatus::Closed => (format!("{says}<Hangup/>"), Some("contained")),
        ConvStatus::Open => {
            prompt_state(meta, &texts, &values);
            (twiml::gather(&b.voice, &texts, &hooks.gather(seq), b.timeout, values.len()), None)
        }
    };
    Spoken { verbs, said, outcome }
}

fn transfer_outcome(b: &Behaviour) -> &'static str {
    if b.transfer_to.is_some() { "transferred" } else { "voicemail" }
}

/// The hand-off: dial the person, or take a message when there is none to dial.
fn transfer(b: &Behaviour, hooks: &Hooks) -> String {
    match &b.transfer_to {
        Some(to) => {
            let rec = hooks.recording();
            twiml::dial(to, b.record_transfers.then_some(rec.as_str()), &hooks.hangup())
        }
        None => format!(
            "{}{}",
            twiml::say(&b.voice, "Nobody can take your call right now. Please leave a message after the tone."),
            twiml::record(&hooks.recording(), &hooks.hangup())
        ),
    }
}

/// The polite end of a call that cannot be answered.
fn cannot_answer(voice: &Voice, text: &str) -> HttpResponse {
    xml(twiml::response(&format!("{}<Hangup/>", twiml::say(voice, text))))
}

fn default_voice() -> Voice {
    Voice::new(None, "en-US".into(), false)
}

/// Handles one webhook call.
#[allow(clippy::too_many_arguments, reason = "the pieces of one webhook call")]
pub async fn handle(
    state: &AppState,
    key: String,
    hook: Hook,
    path_and_query: String,
    query: &str,
    signature: Option<&str>,
    body: &[u8],
) -> AppResult<HttpResponse> {
    let started = Instant::now();
    let config = state.config.clone();
    let k = key.clone();
    let (account, base) = state
        .db
        .read(move |c| Ok((store::account_by_key(c, &k)?, crate::admin::instance::public_url(c, &config)?)))
        .await?;
    let invalid = |why: &str| {
        tracing::warn!(hook = ?hook, why, "refused a voice webhook: bad signature");
        AppError::new(ErrorCode::VoiceSignatureInvalid, "the webhook signature is missing or wrong")
    };
    let Some(account) = account else {
        tracing::warn!(hook = ?hook, "a voice webhook for no known account");
        return Err(AppError::new(ErrorCode::NotFound, "no voice account has this webhook URL"));
    };
    let token = state
        .keys
        .decrypt(&account.sealed_token, &token_context(account.org))
        .ok()
        .and_then(|t| String::from_utf8(t).ok())
        .ok_or_else(|| invalid("the stored auth token cannot be read"))?;
    let params = form(body);
    let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
    let Some(given) = signature else { return Err(invalid("no X-Twilio-Signature")) };
    if !crate::channels::sms::verify_signature(&token, &url, &params, given) {
        return Err(invalid("the signature does not match"));
    }
    if field(&params, "AccountSid") != Some(account.account_sid.as_str()) {
        return Err(invalid("AccountSid is not the account's"));
    }
    let tenant = Tenant::system(account.org, "voice webhook");
    let hooks = Hooks::new(&base, &key);
    let Some(sid) = field(&params, "CallSid").map(str::to_owned) else {
        return Err(AppError::validation("CallSid", "a voice webhook names its call"));
    };
    match hook {
        Hook::Incoming => incoming(state, &tenant, &hooks, &sid, &params, started).await,
        Hook::Gather => gather(state, &tenant, &hooks, &sid, &params, query, started).await,
        Hook::Status => status(state, &tenant, &sid, &params).await,
        Hook::Recording => recording(state, &tenant, &sid, &params).await,
        Hook::Hangup => Ok(xml(twiml::response("<Hangup/>"))),
    }
}

/// A call's voice bot and the organization's view of the call.
async fn call_and_bot(
    state: &AppState,
    tenant: &Tenant,
    sid: &str,
    params: &[(String, String)],
    create_status: &str,
) -> AppResult<Option<(store::CallRow, VoiceBot)>> {
    let t = tenant.clone();
    let sid = sid.to_owned();
    let to = field(params, "To").map(str::to_owned);
    let from = field(params, "From").map(str::to_owned);
    let create_status = rank(create_status).map_or("ringing", |_| create_status).to_owned();
    state
        .db
        .write(move |tx| {
            if let Some(call) = store::call_by_sid(tx, &t, &sid)? {
                let Some(vb) = store::voice_bot(tx, &t, call.voice_bot)? else { return Ok(None) };
                return Ok(Some((call, vb)));
            }
            let Some(number) = to.as_deref() else { return Ok(None) };
            let Some((phone, vb)) = store::answering(tx, &t, number)? else { return Ok(None) };
            let new = NewCall {
                voice_bot: vb.id,
                phone: Some(phone),
                sid: &sid,
                direction: "inbound",
                from: from.as_deref(),
                to: Some(number),
                status: &create_status,
            };
            store::insert_call(tx, &t, &new)?;
            Ok(store::call_by_sid(tx, &t, &sid)?.map(|c| (c, vb)))
        })
        .await
}

fn meta_of(call: &store::CallRow) -> Map<String, Value> {
    call.metadata.as_object().cloned().unwrap_or_default()
}

fn latency(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

async fn incoming(
    state: &AppState,
    tenant: &Tenant,
    hooks: &Hooks,
    sid: &str,
    params: &[(String, String)],
    started: Instant,
) -> AppResult<HttpResponse> {
    let status = field(params, "CallStatus").unwrap_or("ringing");
    let Some((call, vb)) = call_and_bot(state, tenant, sid, params, status).await? else {
        tracing::warn!(
            org_id = tenant.org_id().0,
            to = field(params, "To").unwrap_or(""),
            "a call for a number with no active voice bot"
        );
        return Ok(cannot_answer(
            &default_voice(),
            "Sorry, this number is not in service. Please check the number and call again. Goodbye.",
        ));
    };
    if call.conversation.is_some() {
        return Err(replayed("the call was already answered"));
    }
    let b = Behaviour::of(&vb);
    let Some(bot) = vb.bot_id.filter(|_| vb.status == "active") else {
        tracing::warn!(voice_bot_id = vb.id.0, "a call for a voice bot that is switched off or has no bot");
        return Ok(cannot_answer(
            &b.voice,
            "Sorry, nobody can take your call right now. Please call again later. Goodbye.",
        ));
    };
    if let Err(e) = minutes_left(state, tenant).await {
        return Ok(refused_call(state, tenant, call.id, &b, &e).await);
    }
    // An outbound call may run another published flow than the entry flow.
    let action = match call.metadata.get("flow").and_then(Value::as_str) {
        Some(flow) => Action::StartFlow(flow.to_owned()),
        None => Action::Start,
    };
    let result = state
        .runtime
        .act(
            state,
            ActArgs {
                tenant: tenant.clone(),
                bot,
                conversation: ConvRef::Key {
                    channel: "voice".into(),
                    external_user_id: format!("call:{sid}"),
                    create: true,
                },
                action,
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: None,
            },
        )
        .await;
    let result = match result {
        Ok(r) => r,
        Err(e) => return Ok(failed_turn(state, tenant, call.id, &b, &e).await),
    };
    let mut meta = meta_of(&call);
    meta.insert("silences".into(), json!(0));
    if let Some(answered_by) = field(params, "AnsweredBy") {
        meta.insert("answered_by".into(), json!(answered_by));
    }
    let spoken = compose(&b, hooks, &mut meta, &result.replies, result.entry.status, &vb.greeting_message);
    if let Some(outcome) = spoken.outcome {
        meta.insert("outcome".into(), json!(outcome));
    }
    let play = b.greeting_audio.as_deref().map(twiml::play).unwrap_or_default();
    let body = twiml::response(&format!("{play}{}", spoken.verbs));
    let ms = latency(started);
    let (t, id, conv, spoken_text) = (tenant.clone(), call.id, result.entry.id.0, spoken.said);
    let meta = Value::Object(meta);
    state
        .db
        .write(move |tx| {
            store::save_turn(tx, &t, id, conv, &meta)?;
            let seg = NewSegment {
                speaker: "bot",
                text: &spoken_text,
                confidence: None,
                intent: None,
                latency_ms: ms,
                reply: &spoken_text,
            };
            store::insert_segment(tx, &t, id, &seg)?;
            Ok(())
        })
        .await?;
    Ok(xml(body))
}

/// Refuses a new call when the plan's voice minutes of the month are used up.
async fn minutes_left(state: &AppState, tenant: &Tenant) -> AppResult<()> {
    let org = tenant.org_id();
    state.db.read(move |c| crate::billing::limits::check(c, org, Limit::VoiceMinutesPerMonth, 1)).await
}

/// A call the plan does not allow: a polite message and a hang-up, the reason recorded.
async fn refused_call(state: &AppState, tenant: &Tenant, call: CallId, b: &Behaviour, e: &AppError) -> HttpResponse {
    tracing::warn!(call_id = call.0, error = %e.message(), "a call was refused: no voice minutes left");
    record_error(state, tenant, call, e).await;
    cannot_answer(
        &b.voice,
        "Sorry, this line cannot take calls right now because its monthly calling allowance is used up. Please try again later. Goodbye.",
    )
}

/// Records why a call could not go on (logged when even that fails).
async fn record_error(state: &AppState, tenant: &Tenant, call: CallId, e: &AppError) {
    let (t, why) = (tenant.clone(), e.message().to_owned());
    let stored = state
        .db
        .write(move |tx| {
            tx.execute(
                "UPDATE calls SET error_message = ?3 WHERE organization_id = ?1 AND id = ?2",
                rusqlite::params![t.org_id(), call, why],
            )?;
            Ok(())
        })
        .await;
    if let Err(err) = stored {
        tracing::warn!(error = %err.message(), "the failed voice turn was not recorded");
    }
}

/// A turn the runtime refused (plan limit, bot switched off…): an apology and a hang-up.
async fn failed_turn(state: &AppState, tenant: &Tenant, call: CallId, b: &Behaviour, e: &AppError) -> HttpResponse {
    tracing::warn!(call_id = call.0, error = %e.message(), "a voice turn failed");
    record_error(state, tenant, call, e).await;
    cannot_answer(&b.voice, "Sorry, something went wrong on our side. Please call again later. Goodbye.")
}

/// Whether the caller asked to hear the prompt again.
fn asks_repeat(speech: Option<&str>, digits: Option<&str>) -> bool {
    if digits == Some("*") {
        return true;
    }
    let Some(s) = speech else { return false };
    let s: String = s.chars().filter(|c| c.is_alphanumeric() || c.is_whitespace()).collect::<String>().to_lowercase();
    matches!(
        s.trim(),
        "repeat" | "repeat that" | "repeat please" | "please repeat" | "say that again" | "again" | "pardon" | "what"
    )
}

#[allow(clippy::too_many_lines, reason = "one gather's cases in order: replay, silence, repeat, turn")]
async fn gather(
    state: &AppState,
    tenant: &Tenant,
    hooks: &Hooks,
    sid: &str,
    params: &[(String, String)],
    query: &str,
    started: Instant,
) -> AppResult<HttpResponse> {
    let (t, s) = (tenant.clone(), sid.to_owned());
    let found = state
        .db
        .read(move |c| {
            let Some(call) = store::call_by_sid(c, &t, &s)? else { return Ok(None) };
            Ok(store::voice_bot(c, &t, call.voice_bot)?.map(|vb| (call, vb)))
        })
        .await?;
    let Some((call, vb)) = found else {
        tracing::warn!(call_sid = sid, "a gather for an unknown call");
        return Ok(cannot_answer(&default_voice(), "Sorry, this call cannot continue. Goodbye."));
    };
    let mut meta = meta_of(&call);
    let seq = query_param(query, "seq").and_then(|s| s.parse::<u64>().ok());
    if seq != Some(seq_of(&meta)) {
        return Err(replayed("the turn number is not the call's current one"));
    }
    let b = Behaviour::of(&vb);
    let (Some(conversation), Some(bot)) = (call.conversation, vb.bot_id) else {
        return Ok(cannot_answer(&b.voice, "Sorry, this call cannot continue. Goodbye."));
    };
    if is_terminal(&call.status) {
        return Ok(xml(twiml::response("<Hangup/>")));
    }
    let speech = field(params, "SpeechResult");
    let digits = field(params, "Digits");
    let silent = query_param(query, "silence").is_some() && speech.is_none() && digits.is_none();
    let prompt = strings(&meta, "prompt");
    let choices = strings(&meta, "choices");
    let next = seq_of(&meta) + 1;
    if silent || (speech.is_none() && digits.is_none()) {
        let silences = meta.get("silences").and_then(Value::as_u64).unwrap_or(0) + 1;
        meta.insert("silences".into(), json!(silences));
        meta.insert("seq".into(), json!(next));
        let verbs = if silences > b.max_reprompts {
            let end = if b.silence_transfers && b.transfer_to.is_some() {
                meta.insert("outcome".into(), json!("transferred"));
                transfer(&b, hooks)
            } else {
                "<Hangup/>".to_owned()
            };
            format!("{}{end}", twiml::say(&b.voice, &b.goodbye))
        } else {
            let mut again = vec![b.no_input.clone()];
            again.extend(prompt);
            twiml::gather(&b.voice, &again, &hooks.gather(next), b.timeout, choices.len())
        };
        let (t, id, m) = (tenant.clone(), call.id, Value::Object(meta));
        state.db.write(move |tx| Ok(store::set_metadata(tx, &t, id, &m)?)).await?;
        return Ok(xml(twiml::response(&verbs)));
    }
    if asks_repeat(speech, digits) {
        meta.insert("seq".into(), json!(next));
        let verbs = twiml::gather(&b.voice, &prompt, &hooks.gather(next), b.timeout, choices.len());
        let (t, id, m) = (tenant.clone(), call.id, Value::Object(meta));
        state.db.write(move |tx| Ok(store::set_metadata(tx, &t, id, &m)?)).await?;
        return Ok(xml(twiml::response(&verbs)));
    }
    // A key picks that choice of the menu; otherwise what was said (or the digits) is the message.
    let (text, heard, confidence) = match (digits, speech) {
        (Some(d), _) => {
            let picked = d.parse::<usize>().ok().filter(|n| *n >= 1).and_then(|n| choices.get(n - 1)).cloned();
            let heard = picked.as_ref().map_or_else(|| d.to_owned(), |v| format!("{d} ({v})"));
            (picked.unwrap_or_else(|| d.to_owned()), heard, Some(1.0))
        }
        (None, Some(s)) => {
            let c = field(params, "Confidence").and_then(|c| c.parse::<f64>().ok()).map(|c| c.clamp(0.0, 1.0));
            (s.to_owned(), s.to_owned(), c)
        }
        (None, None) => unreachable!("silence was handled above"),
    };
    let max = state.runtime.config().max_message_chars;
    let text: String = text.chars().take(max).collect();
    let result = state
        .runtime
        .act(
            state,
            ActArgs {
                tenant: tenant.clone(),
                bot,
                conversation: ConvRef::Id(ConversationId(conversation)),
                action: Action::Message(check_message(&text, max)?),
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: None,
            },
        )
        .await;
    let result = match result {
        Ok(r) => r,
        Err(e) => return Ok(failed_turn(state, tenant, call.id, &b, &e).await),
    };
    meta.insert("silences".into(), json!(0));
    let spoken = compose(&b, hooks, &mut meta, &result.replies, result.entry.status, &vb.fallback_message);
    if let Some(outcome) = spoken.outcome {
        meta.insert("outcome".into(), json!(outcome));
    }
    let intent = result.entry.state.last.as_ref().and_then(|l| l.intent.clone());
    let body = twiml::response(&spoken.verbs);
    let ms = latency(started);
    let (t, id, spoken_text) = (tenant.clone(), call.id, spoken.said);
    let meta = Value::Object(meta);
    state
        .db
        .write(move |tx| {
            store::set_metadata(tx, &t, id, &meta)?;
            let seg = NewSegment {
                speaker: "caller",
                text: &heard,
                confidence,
                intent: intent.as_deref(),
                latency_ms: ms,
                reply: &spoken_text,
            };
            store::insert_segment(tx, &t, id, &seg)?;
            Ok(())
        })
        .await?;
    Ok(xml(body))
}

/// A status callback: applied when it moves the call forward.
async fn status(state: &AppState, tenant: &Tenant, sid: &str, params: &[(String, String)]) -> AppResult<HttpResponse> {
    let Some(new) = field(params, "CallStatus").filter(|s| rank(s).is_some()).map(str::to_owned) else {
        return Err(AppError::validation("CallStatus", "not a call status Twilio sends"));
    };
    if call_and_bot(state, tenant, sid, params, &new).await?.is_none() {
        tracing::info!(call_sid = sid, "a status callback for a call of no voice bot");
        return Ok(empty());
    }
    let duration = field(params, "CallDuration").and_then(|d| d.parse::<i64>().ok()).filter(|d| *d >= 0);
    let answered_by = field(params, "AnsweredBy").map(str::to_owned);
    let (t, s) = (tenant.clone(), sid.to_owned());
    state
        .db
        .write(move |tx| {
            // Read again inside the write: callbacks may race.
            let Some(call) = store::call_by_sid(tx, &t, &s)? else { return Ok(()) };
            let mut meta = meta_of(&call);
            if let Some(a) = &answered_by {
                meta.insert("answered_by".into(), json!(a));
            }
            let forward = rank(&new) > rank(&call.status);
            if is_terminal(&new) && forward {
                let outcome = match (new.as_str(), meta.get("outcome").and_then(Value::as_str)) {
                    ("completed", Some(o)) => o.to_owned(),
                    ("completed", None) => "contained".to_owned(),
                    _ => "failed".to_owned(),
                };
                meta.insert("outcome".into(), json!(outcome));
            }
            // A completed call counts its minutes once: only the callback
            // that moves it into its final state meters, and it says so.
            if new == "completed" && forward && !meta.contains_key("metered_minutes") {
                let seconds = duration.unwrap_or(call.duration);
                let minutes = billed_minutes(seconds);
                if minutes > 0 {
                    let bot = store::voice_bot(tx, &t, call.voice_bot)?.and_then(|vb| vb.bot_id);
                    crate::billing::usage::record_voice_minutes(tx, t.org_id(), bot, minutes)?;
                }
                meta.insert("metered_minutes".into(), json!(minutes));
            }
            let meta = Value::Object(meta);
            if forward {
                store::set_status(tx, &t, call.id, &new, duration.filter(|_| is_terminal(&new)), &meta)?;
            } else {
                tracing::info!(call_sid = %s, from = %call.status, to = %new, "a late call status was not applied");
                store::set_metadata(tx, &t, call.id, &meta)?;
            }
            Ok(())
        })
        .await?;
    Ok(empty())
}

/// Whole minutes billed for a call of `seconds` (a started minute counts).
#[must_use]
pub fn billed_minutes(seconds: i64) -> i64 {
    (seconds.max(0) + 59) / 60
}

/// A recording callback: the download is a job (the provider should not wait for it).
async fn recording(
    state: &AppState,
    tenant: &Tenant,
    sid: &str,
    params: &[(String, String)],
) -> AppResult<HttpResponse> {
    let Some(url) = field(params, "RecordingUrl").map(str::to_owned) else {
        return Err(AppError::validation("RecordingUrl", "a recording callback carries the recording's URL"));
    };
    let Some(rec) = field(params, "RecordingSid").map(str::to_owned) else {
        return Err(AppError::validation("RecordingSid", "a recording callback names the recording"));
    };
    if field(params, "RecordingStatus").is_some_and(|s| s != "completed") {
        return Ok(empty());
    }
    let duration = field(params, "RecordingDuration").and_then(|d| d.parse::<i64>().ok());
    let (t, s) = (tenant.clone(), sid.to_owned());
    let queued = state
        .db
        .write(move |tx| {
            let Some(call) = store::call_by_sid(tx, &t, &s)? else { return Ok(false) };
            let mut job = Enqueue::new(
                Some(t.org_id()),
                RECORDING_JOB,
                json!({ "call_id": call.id, "url": url, "recording_sid": rec, "duration": duration }),
            );
            job.idempotency_key = Some(format!("voice-recording:{}:{rec}", t.org_id().0));
            Queue::enqueue_in(tx, &job)?;
            Ok(true)
        })
        .await?;
    if queued {
        state.jobs.notify();
    } else {
        tracing::warn!(call_sid = sid, "a recording callback for an unknown call");
    }
    Ok(empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_states_only_move_forward() {
        assert!(rank("in-progress") > rank("ringing"));
        assert!(rank("completed") > rank("in-progress"));
        assert_eq!(rank("completed"), rank("busy"));
        assert_eq!(rank("answered"), None);
        assert!(is_terminal("no-answer") && !is_terminal("queued"));
    }

    #[test]
    fn a_started_minute_is_billed_whole() {
        assert_eq!([0, 1, 59, 60, 61, 125].map(billed_minutes), [0, 1, 1, 1, 2, 3]);
    }

    #[test]
    fn repeat_requests_are_recognized() {
        assert!(asks_repeat(Some("Repeat that, please?"), None) || asks_repeat(Some("Repeat please."), None));
        assert!(asks_repeat(None, Some("*")));
        assert!(!asks_repeat(Some("where is my parcel"), None));
    }
}
