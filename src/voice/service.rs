//! Voice rules: the telephony account, voice bots, phone numbers (synced,
//! searched, bought, released, assigned through the provider), outbound
//! calls, the call log with its transcript, stats, the flow check for
//! voice, and the job that fetches recordings.

use futures_util::future::BoxFuture;
use reqwest::Method;
use serde_json::{Map, Value, json};

use super::call::{Hooks, token_context};
use super::model::{
    AvailablePhoneNumber, AvailableQuery, BuyPhoneNumberRequest, Call, CallDetail, CallFilter, CallId,
    CreateVoiceBotRequest, PhoneNumber, PhoneNumberId, StartCallRequest, UpdateVoiceBotRequest, VoiceAccount,
    VoiceAccountRequest, VoiceBot, VoiceBotId, VoiceStats, VoiceWarning,
};
use super::provider::{self, Account};
use super::store::{self, VoiceBotFields};
use crate::app::AppState;
use crate::billing::limits::Limit;
use crate::crypto::random_token;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::jobs::{JobContext, JobError, JobHandler};

fn voice_bot_not_found() -> AppError {
    AppError::new(ErrorCode::VoiceBotNotFound, "no such voice bot")
}

fn number_not_found() -> AppError {
    AppError::new(ErrorCode::PhoneNumberNotFound, "no such phone number")
}

fn no_account() -> AppError {
    AppError::new(
        ErrorCode::VoiceAccountNotConfigured,
        "the organization has no telephony account: set one with PUT /orgs/{org_id}/voice/account",
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

// ---- account

fn present_account(base: &str, row: &store::AccountRow) -> VoiceAccount {
    let hooks = Hooks::new(base, &row.webhook_key);
    VoiceAccount {
        provider: "twilio".into(),
        account_sid: row.account_sid.clone(),
        voice_url: hooks.incoming(),
        status_callback_url: hooks.status(),
        updated_at: row.updated_at.clone(),
    }
}

/// Sets the organization's Twilio account (the token sealed).
pub async fn set_account(state: &AppState, tenant: Tenant, req: VoiceAccountRequest) -> AppResult<VoiceAccount> {
    let sid = req.account_sid.trim().to_owned();
    if !sid.strip_prefix("AC").is_some_and(|h| is_hex(h, 32)) {
        return Err(AppError::validation("account_sid", "an Account SID is AC followed by 32 hex digits"));
    }
    let token = req.auth_token.trim().to_owned();
    if !(16..=128).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AppError::validation("auth_token", "an Auth Token is 32 letters and digits"));
    }
    let sealed = state.keys.encrypt(token.as_bytes(), &token_context(tenant.org_id()));
    let key = random_token(24);
    let t = tenant.clone();
    let row = state
        .db
        .write(move |tx| {
            store::upsert_account(tx, &t, &sid, &sealed, &key)?;
            store::account(tx, &t)?.ok_or_else(no_account)
        })
        .await?;
    let base = crate::admin::instance::public_url_in_force(state).await?;
    Ok(present_account(&base, &row))
}

pub async fn get_account(state: &AppState, tenant: Tenant) -> AppResult<VoiceAccount> {
    let row = state.db.read(move |c| store::account(c, &tenant)?.ok_or_else(no_account)).await?;
    let base = crate::admin::instance::public_url_in_force(state).await?;
    Ok(present_account(&base, &row))
}

/// The opened account and its webhook URLs.
async fn open_account(state: &AppState, tenant: &Tenant) -> AppResult<(Account, Hooks)> {
    let t = tenant.clone();
    let row = state.db.read(move |c| store::account(c, &t)?.ok_or_else(no_account)).await?;
    let token = state
        .keys
        .decrypt(&row.sealed_token, &token_context(row.org))
        .ok()
        .and_then(|t| String::from_utf8(t).ok())
        .ok_or_else(|| {
            AppError::new(ErrorCode::SecretUnreadable, "the stored auth token cannot be read: set the account again")
                .with_details(json!({ "field": "auth_token" }))
        })?;
    let base = crate::admin::instance::public_url_in_force(state).await?;
    Ok((Account { account_sid: row.account_sid.clone(), auth_token: token }, Hooks::new(&base, &row.webhook_key)))
}

// ---- voice bots

fn check_settings(settings: &Map<String, Value>) -> AppResult<()> {
    if let Some(to) = settings.get("transfer_to") {
        let ok = to.is_null()
            || to
                .as_str()
                .is_some_and(|t| provider::is_e164(t) || (t.starts_with("sip:") && t.len() > 4 && t.contains('@')));
        if !ok {
            return Err(AppError::validation(
                "settings.transfer_to",
                "a phone number in E.164 form (+14155550100) or a SIP URI (sip:desk@pbx.example.com)",
            ));
        }
    }
    for key in ["gather_timeout_secs", "max_reprompts"] {
        if settings.get(key).is_some_and(|v| !v.is_u64()) {
            return Err(AppError::validation(format!("settings.{key}"), "a whole number"));
        }
    }
    if let Some(a) = settings.get("silence_action")
        && !matches!(a.as_str(), Some("hangup" | "transfer"))
    {
        return Err(AppError::validation("settings.silence_action", "`hangup` or `transfer`"));
    }
    for key in ["ssml", "record_transfers"] {
        if settings.get(key).is_some_and(|v| !v.is_boolean()) {
            return Err(AppError::validation(format!("settings.{key}"), "true or false"));
        }
    }
    if let Some(url) = settings.get("greeting_audio_url")
        && !url.as_str().is_some_and(|u| u.starts_with("https://") || u.starts_with("http://"))
    {
        return Err(AppError::validation("settings.greeting_audio_url", "an http(s) URL of an audio file"));
    }
    Ok(())
}

fn check_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name", "1 to 200 characters"));
    }
    Ok(name.to_owned())
}

fn check_language(lang: &str) -> AppResult<String> {
    let lang = lang.trim();
    let ok = (2..=10).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(AppError::validation("language", "a BCP 47 language tag such as en-US"));
    }
    Ok(lang.to_owned())
}

fn check_duration(d: i64) -> AppResult<i64> {
    if (10..=14_400).contains(&d) {
        Ok(d)
    } else {
        Err(AppError::validation("max_call_duration", "between 10 and 14400 seconds"))
    }
}

async fn with_warnings(state: &AppState, tenant: &Tenant, mut vb: VoiceBot) -> AppResult<VoiceBot> {
    if let Some(bot) = vb.bot_id {
        vb.voice_warnings = voice_warnings(state, tenant, bot).await?;
    }
    Ok(vb)
}

pub async fn create_voice_bot(state: &AppState, tenant: Tenant, req: CreateVoiceBotRequest) -> AppResult<VoiceBot> {
    let name = check_name(&req.name)?;
    let language = check_language(req.language.as_deref().unwrap_or("en-US"))?;
    let duration = check_duration(req.max_call_duration.unwrap_or(600))?;
    let settings = req.settings.unwrap_or_default();
    check_settings(&settings)?;
    let fallback = req
        .fallback_message
        .filter(|f| !f.trim().is_empty())
        .unwrap_or_else(|| "I'm sorry, I didn't understand that. Could you please repeat?".into());
    let t = tenant.clone();
    let user = tenant.user_id().map(|u| u.0);
    let vb = state
        .db
        .write(move |tx| {
            if !store::bot_exists(tx, &t, req.bot_id)? {
                return Err(AppError::validation("bot_id", "no such bot in this organization"));
            }
            let id = store::insert_voice_bot(
                tx,
                &t,
                user,
                &VoiceBotFields {
                    name: &name,
                    bot_id: req.bot_id,
                    description: req.description.as_deref(),
                    voice_id: req.voice_id.as_deref().filter(|v| !v.trim().is_empty()),
                    language: &language,
                    fallback_message: &fallback,
                    max_call_duration: duration,
                    status: "active",
                    settings: &Value::Object(settings).to_string(),
                },
            )?;
            store::voice_bot(tx, &t, id)?.ok_or_else(voice_bot_not_found)
        })
        .await?;
    with_warnings(state, &tenant, vb).await
}

pub async fn get_voice_bot(state: &AppState, tenant: Tenant, id: VoiceBotId) -> AppResult<VoiceBot> {
    let t = tenant.clone();
    let vb = state.db.read(move |c| store::voice_bot(c, &t, id)?.ok_or_else(voice_bot_not_found)).await?;
    with_warnings(state, &tenant, vb).await
}

pub async fn list_voice_bots(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<VoiceBot>> {
    let (after, limit) = (page.cursor()?.map_or(0, |c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::voice_bots(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |v| v.id.0)
}

pub async fn update_voice_bot(
    state: &AppState,
    tenant: Tenant,
    id: VoiceBotId,
    req: UpdateVoiceBotRequest,
) -> AppResult<VoiceBot> {
    let name = req.name.as_deref().map(check_name).transpose()?;
    let language = req.language.as_deref().map(check_language).transpose()?;
    let duration = req.max_call_duration.map(check_duration).transpose()?;
    if let Some(s) = &req.settings {
        check_settings(s)?;
    }
    if let Some(s) = &req.status
        && !matches!(s.as_str(), "active" | "inactive")
    {
        return Err(AppError::validation("status", "`active` or `inactive`"));
    }
    let t = tenant.clone();
    let vb = state
        .db
        .write(move |tx| {
            let cur = store::voice_bot(tx, &t, id)?.ok_or_else(voice_bot_not_found)?;
            let bot_id = match req.bot_id {
                Some(b) if !store::bot_exists(tx, &t, b)? => {
                    return Err(AppError::validation("bot_id", "no such bot in this organization"));
                }
                Some(b) => b,
                None => cur.bot_id.ok_or_else(|| AppError::validation("bot_id", "the voice bot needs a bot"))?,
            };
            let mut settings = cur.settings.clone();
            if let Some(new) = req.settings {
                for (k, v) in new {
                    if v.is_null() {
                        settings.remove(&k);
                    } else {
                        settings.insert(k, v);
                    }
                }
            }
            store::update_voice_bot(
                tx,
                &t,
                id,
                &VoiceBotFields {
                    name: name.as_deref().unwrap_or(&cur.name),
                    bot_id,
                    description: req.description.as_deref().or(cur.description.as_deref()),
                    voice_id: req.voice_id.as_deref().or(cur.voice_id.as_deref()).filter(|v| !v.trim().is_empty()),
                    language: language.as_deref().unwrap_or(&cur.language),
                    fallback_message: req.fallback_message.as_deref().unwrap_or(&cur.fallback_message),
                    max_call_duration: duration.unwrap_or(cur.max_call_duration),
                    status: req.status.as_deref().unwrap_or(&cur.status),
                    settings: &Value::Object(settings).to_string(),
                },
            )?;
            store::voice_bot(tx, &t, id)?.ok_or_else(voice_bot_not_found)
        })
        .await?;
    with_warnings(state, &tenant, vb).await
}

/// Deletes a voice bot and its call log (its number stays, unassigned).
pub async fn delete_voice_bot(state: &AppState, tenant: Tenant, id: VoiceBotId) -> AppResult<()> {
    let n = state.db.write(move |tx| Ok(store::delete_voice_bot(tx, &tenant, id)?)).await?;
    if n == 0 { Err(voice_bot_not_found()) } else { Ok(()) }
}

/// Nodes of the bot's published flows that a phone cannot say.
pub async fn voice_warnings(state: &AppState, tenant: &Tenant, bot: crate::ids::BotId) -> AppResult<Vec<VoiceWarning>> {
    let flows = crate::flows::service::list(state, tenant.clone(), bot).await?;
    let mut out = Vec::new();
    for f in flows.into_iter().filter(|f| f.published_version.is_some()) {
        let detail = crate::flows::service::get(state, tenant.clone(), bot, f.name.clone()).await?;
        let Some(doc) = detail.published.and_then(|p| p.document) else { continue };
        out.extend(warnings_of(&f.name, &doc));
    }
    Ok(out)
}

/// The voice warnings of one flow document.
#[must_use]
pub fn warnings_of(flow: &str, doc: &crate::flows::document::FlowDocument) -> Vec<VoiceWarning> {
    let mut out = Vec::new();
    let warn = |node: &str, code: &str, message: String| VoiceWarning {
        flow: flow.to_owned(),
        node_id: node.to_owned(),
        code: code.to_owned(),
        message,
    };
    for node in &doc.nodes {
        let messages: Vec<&Value> = match node.kind.as_str() {
            "message" => vec![&node.data],
            "question" => vec![&node.data["prompt"]],
            "handoff" | "end" => vec![&node.data["message"]],
            _ => Vec::new(),
        };
        for m in messages.into_iter().filter(|m| m.is_object()) {
            let text = m.get("text").and_then(Value::as_str).map_or("", str::trim);
            let has = |k: &str| m.get(k).is_some_and(|v| !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()));
            let choices = has("quick_replies") || has("buttons");
            let visual = has("image") || has("cards");
            let links = m
                .get("buttons")
                .and_then(Value::as_array)
                .is_some_and(|b| b.iter().any(|b| b.get("url").is_some_and(|u| !u.is_null())));
            if text.is_empty() && !choices && visual {
                out.push(warn(
                    &node.id,
                    "unspeakable_node",
                    "this message is only an image or cards: callers hear nothing (add a text)".into(),
                ));
            } else if visual || links {
                out.push(warn(
                    &node.id,
                    "visual_part_dropped",
                    "images, card pictures and link buttons are not read out on the phone".into(),
                ));
            }
        }
        if node.kind == "form"
            || node.data.get("validation").and_then(|v| v.get("kind")).and_then(Value::as_str) == Some("file")
        {
            out.push(warn(&node.id, "unspeakable_node", "a caller cannot upload a file; spoken answers only".into()));
        }
    }
    out
}

// ---- phone numbers

pub async fn list_numbers(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<PhoneNumber>> {
    let (after, limit) = (page.cursor()?.map_or(0, |c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::phone_numbers(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |n| n.id.0)
}

/// Reads the account's numbers from the provider: new ones are added,
/// changed ones updated, missing ones marked released.
pub async fn sync_numbers(state: &AppState, tenant: Tenant) -> AppResult<Vec<PhoneNumber>> {
    let (account, _) = open_account(state, &tenant).await?;
    let mut listed = Vec::new();
    let mut tail = "/IncomingPhoneNumbers.json?PageSize=100".to_owned();
    for _ in 0..50 {
        let page = provider::call(state, &account, Method::GET, &tail, None).await?;
        listed.extend(page.get("incoming_phone_numbers").and_then(Value::as_array).cloned().unwrap_or_default());
        // `next_page_uri` is absolute from the API root: `/2010-04-01/Accounts/{sid}/…`.
        let next = page
            .get("next_page_uri")
            .and_then(Value::as_str)
            .and_then(|u| u.split_once(&format!("/Accounts/{}", account.account_sid)).map(|(_, rest)| rest.to_owned()));
        match next {
            Some(n) if !n.is_empty() => tail = n,
            _ => break,
        }
    }
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            let mut keep = Vec::new();
            for n in &listed {
                let (Some(number), Some(sid)) =
                    (n.get("phone_number").and_then(Value::as_str), n.get("sid").and_then(Value::as_str))
                else {
                    continue;
                };
                let caps = provider::capabilities(n.get("capabilities").unwrap_or(&Value::Null));
                let friendly = n.get("friendly_name").and_then(Value::as_str);
                let country = n.get("iso_country").and_then(Value::as_str);
                if let Some(id) = store::upsert_number(tx, &t, number, friendly, country, &caps, sid)? {
                    keep.push(id);
                }
            }
            store::release_missing(tx, &t, &keep)?;
            Ok(store::phone_numbers(tx, &t, 0, 10_000)?)
        })
        .await
}

pub async fn available_numbers(
    state: &AppState,
    tenant: Tenant,
    q: AvailableQuery,
) -> AppResult<Vec<AvailablePhoneNumber>> {
    let country = q.country.as_deref().unwrap_or("US").trim().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(AppError::validation("country", "an ISO 3166 two-letter country code"));
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("VoiceEnabled", "true");
    if let Some(a) = q.area_code.as_deref().filter(|a| !a.is_empty()) {
        if !(a.len() <= 5 && a.bytes().all(|b| b.is_ascii_digit())) {
            return Err(AppError::validation("area_code", "digits only"));
        }
        query.append_pair("AreaCode", a);
    }
    if let Some(c) = q.contains.as_deref().filter(|c| !c.is_empty()) {
        if !(c.len() <= 16 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'*')) {
            return Err(AppError::validation("contains", "digits, letters and * only"));
        }
        query.append_pair("Contains", c);
    }
    let (account, _) = open_account(state, &tenant).await?;
    let tail = format!("/AvailablePhoneNumbers/{country}/Local.json?{}", query.finish());
    let page = provider::call(state, &account, Method::GET, &tail, None).await?;
    Ok(page
        .get("available_phone_numbers")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|n| {
                    Some(AvailablePhoneNumber {
                        phone_number: n.get("phone_number")?.as_str()?.to_owned(),
                        friendly_name: n.get("friendly_name").and_then(Value::as_str).map(str::to_owned),
                        locality: n.get("locality").and_then(Value::as_str).map(str::to_owned),
                        region: n.get("region").and_then(Value::as_str).map(str::to_owned),
                        country_code: n.get("iso_country").and_then(Value::as_str).unwrap_or(&country).to_owned(),
                        capabilities: provider::capabilities(n.get("capabilities").unwrap_or(&Value::Null)),
                    })
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Buys a number with its voice webhook and status callback pointing here.
pub async fn buy_number(state: &AppState, tenant: Tenant, req: BuyPhoneNumberRequest) -> AppResult<PhoneNumber> {
    let number = req.phone_number.trim().to_owned();
    if !provider::is_e164(&number) {
        return Err(AppError::validation("phone_number", "a phone number in E.164 form (+14155550100)"));
    }
    if let Some(vb) = req.voice_bot_id {
        let t = tenant.clone();
        state
            .db
            .read(move |c| {
                store::voice_bot(c, &t, vb)?.ok_or_else(|| AppError::validation("voice_bot_id", "no such voice bot"))
            })
            .await?;
    }
    let (account, hooks) = open_account(state, &tenant).await?;
    let form = [
        ("PhoneNumber", number.clone()),
        ("VoiceUrl", hooks.incoming()),
        ("VoiceMethod", "POST".to_owned()),
        ("StatusCallback", hooks.status()),
        ("StatusCallbackMethod", "POST".to_owned()),
    ];
    let bought = provider::call(state, &account, Method::POST, "/IncomingPhoneNumbers.json", Some(&form)).await?;
    let sid = bought.get("sid").and_then(Value::as_str).unwrap_or_default().to_owned();
    let caps = provider::capabilities(bought.get("capabilities").unwrap_or(&Value::Null));
    let friendly = bought.get("friendly_name").and_then(Value::as_str).map(str::to_owned);
    let country = bought.get("iso_country").and_then(Value::as_str).map(str::to_owned);
    let t = tenant.clone();
    state
        .db
        .write(move |tx| {
            let id = store::upsert_number(tx, &t, &number, friendly.as_deref(), country.as_deref(), &caps, &sid)?
                .ok_or_else(|| AppError::new(ErrorCode::Conflict, "another organization holds this number"))?;
            if req.voice_bot_id.is_some() {
                store::assign(tx, &t, id, req.voice_bot_id)?;
            }
            store::phone_number(tx, &t, id)?.ok_or_else(number_not_found)
        })
        .await
}

/// Releases a number at the provider and takes it off its voice bot.
pub async fn release_number(state: &AppState, tenant: Tenant, id: PhoneNumberId) -> AppResult<PhoneNumber> {
    let t = tenant.clone();
    let number = state.db.read(move |c| store::phone_number(c, &t, id)?.ok_or_else(number_not_found)).await?;
    if number.status != "released"
        && let Some(sid) = number.provider_sid.as_deref().filter(|s| !s.is_empty())
    {
        let (account, _) = open_account(state, &tenant).await?;
        match provider::call(state, &account, Method::DELETE, &format!("/IncomingPhoneNumbers/{sid}.json"), None).await
        {
            Ok(_) => {}
            // Already gone at the provider: released all the same.
            Err(e) if e.details().and_then(|d| d.get("provider_status")).and_then(Value::as_u64) == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    state
        .db
        .write(move |tx| {
            store::release(tx, &tenant, id)?;
            store::phone_number(tx, &tenant, id)?.ok_or_else(number_not_found)
        })
        .await
}

pub async fn assign_number(
    state: &AppState,
    tenant: Tenant,
    id: PhoneNumberId,
    bot: Option<VoiceBotId>,
) -> AppResult<PhoneNumber> {
    state
        .db
        .write(move |tx| {
            let number = store::phone_number(tx, &tenant, id)?.ok_or_else(number_not_found)?;
            if let Some(b) = bot {
                if store::voice_bot(tx, &tenant, b)?.is_none() {
                    return Err(AppError::validation("voice_bot_id", "no such voice bot"));
                }
                if number.status != "active" {
                    return Err(AppError::validation("voice_bot_id", "the number is released or inactive"));
                }
                if number.capabilities.get("voice").and_then(Value::as_bool) == Some(false) {
                    return Err(AppError::validation("voice_bot_id", "the number cannot take voice calls"));
                }
            }
            store::assign(tx, &tenant, id, bot)?;
            store::phone_number(tx, &tenant, id)?.ok_or_else(number_not_found)
        })
        .await
}

// ---- calls

/// Places an outbound call: the provider calls `to` from the voice bot's
/// number and asks the incoming webhook what to say when answered.
pub async fn start_call(state: &AppState, tenant: Tenant, id: VoiceBotId, req: StartCallRequest) -> AppResult<Call> {
    let to = req.to.trim().to_owned();
    if !provider::is_e164(&to) {
        return Err(AppError::validation("to", "a phone number in E.164 form (+14155550100)"));
    }
    let t = tenant.clone();
    let vb = state.db.read(move |c| store::voice_bot(c, &t, id)?.ok_or_else(voice_bot_not_found)).await?;
    if vb.status != "active" || vb.bot_id.is_none() {
        return Err(AppError::new(ErrorCode::Conflict, "the voice bot is switched off or has no bot")
            .with_details(json!({ "field": "status" })));
    }
    let Some(from) = vb.phone_number.clone() else {
        return Err(AppError::new(ErrorCode::Conflict, "assign a phone number to the voice bot first")
            .with_details(json!({ "field": "phone_number_id" })));
    };
    let flow = match req.flow.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => Some(published_flow(state, &tenant, vb.bot_id, f).await?),
        None => None,
    };
    let org = tenant.org_id();
    state.db.read(move |c| crate::billing::limits::check(c, org, Limit::VoiceMinutesPerMonth, 1)).await?;
    let (account, hooks) = open_account(state, &tenant).await?;
    let mut form = vec![
        ("To", to.clone()),
        ("From", from.clone()),
        ("Url", hooks.incoming()),
        ("Method", "POST".to_owned()),
        ("StatusCallback", hooks.status()),
        ("StatusCallbackMethod", "POST".to_owned()),
        ("TimeLimit", vb.max_call_duration.to_string()),
    ];
    for event in ["initiated", "ringing", "answered", "completed"] {
        form.push(("StatusCallbackEvent", event.to_owned()));
    }
    if req.machine_detection {
        form.push(("MachineDetection", "Enable".to_owned()));
    }
    if req.record {
        form.push(("Record", "true".to_owned()));
        form.push(("RecordingStatusCallback", hooks.recording()));
        form.push(("RecordingStatusCallbackMethod", "POST".to_owned()));
    }
    let placed = provider::call(state, &account, Method::POST, "/Calls.json", Some(&form)).await?;
    let Some(sid) = placed.get("sid").and_then(Value::as_str).map(str::to_owned) else {
        return Err(AppError::new(ErrorCode::VoiceProviderUnavailable, "Twilio accepted the call without a sid"));
    };
    let status = placed
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| super::call::rank(s).is_some())
        .unwrap_or("queued")
        .to_owned();
    state
        .db
        .write(move |tx| {
            let new = store::NewCall {
                voice_bot: vb.id,
                phone: vb.phone_number_id,
                sid: &sid,
                direction: "outbound",
                from: Some(&from),
                to: Some(&to),
                status: &status,
            };
            let id = store::insert_call(tx, &tenant, &new)?;
            if let Some(f) = &flow {
                store::set_metadata(tx, &tenant, id, &json!({ "flow": f }))?;
            }
            store::call(tx, &tenant, id)?.ok_or_else(|| AppError::new(ErrorCode::CallNotFound, "no such call"))
        })
        .await
}

/// `name` when it is a published flow of `bot`, else 422 naming `flow`.
async fn published_flow(state: &AppState, tenant: &Tenant, bot: Option<BotId>, name: &str) -> AppResult<String> {
    let flows = match bot {
        Some(b) => crate::flows::service::list(state, tenant.clone(), b).await?,
        None => Vec::new(),
    };
    if flows.iter().any(|f| f.name == name && f.published_version.is_some()) {
        return Ok(name.to_owned());
    }
    let published: Vec<&str> =
        flows.iter().filter(|f| f.published_version.is_some()).map(|f| f.name.as_str()).collect();
    Err(AppError::validation("flow", format!("`{name}` is not a published flow of the voice bot's bot"))
        .with_details(json!({ "field": "flow", "published_flows": published })))
}

pub async fn list_calls(state: &AppState, tenant: Tenant, f: CallFilter) -> AppResult<Page<Call>> {
    if let Some(d) = &f.direction
        && !matches!(d.as_str(), "inbound" | "outbound")
    {
        return Err(AppError::validation("direction", "`inbound` or `outbound`"));
    }
    if let Some(s) = &f.status
        && super::call::rank(s).is_none()
    {
        return Err(AppError::validation(
            "status",
            "a call status (queued, ringing, in-progress, completed, busy, failed, no-answer, canceled)",
        ));
    }
    if let Some(o) = &f.outcome
        && !matches!(o.as_str(), "contained" | "transferred" | "voicemail" | "failed")
    {
        return Err(AppError::validation("outcome", "`contained`, `transferred`, `voicemail` or `failed`"));
    }
    if let (Some(a), Some(b)) = (f.min_duration, f.max_duration)
        && a > b
    {
        return Err(AppError::validation("max_duration", "must not be below min_duration"));
    }
    let page = PageParams { limit: f.limit, after: f.after.clone() };
    let (before, limit) = (page.cursor()?.map_or(i64::MAX, |c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::calls(c, &tenant, &f, before, limit)?)).await?;
    Page::from_rows(rows, &page, |c| c.id.0)
}

pub async fn get_call(state: &AppState, tenant: Tenant, id: CallId) -> AppResult<CallDetail> {
    state
        .db
        .read(move |c| {
            let call =
                store::call(c, &tenant, id)?.ok_or_else(|| AppError::new(ErrorCode::CallNotFound, "no such call"))?;
            Ok(CallDetail { call, segments: store::segments(c, &tenant, id)? })
        })
        .await
}

pub async fn stats(state: &AppState, tenant: Tenant, voice_bot: Option<i64>) -> AppResult<VoiceStats> {
    state.db.read(move |c| Ok(store::stats(c, &tenant, voice_bot)?)).await
}

// ---- recordings

/// Fetches a recording (HTTP Basic with the account, through the outbound
/// policy, `files.max_upload_bytes` enforced) into the organization's files
/// and links it to the call.
pub struct FetchRecording;

impl JobHandler for FetchRecording {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let state = ctx.state.clone();
            let Some(org) = ctx.job.org_id else { return Err(JobError::Permanent("no organization".into())) };
            let p = &ctx.job.payload;
            let (Some(call), Some(url)) =
                (p.get("call_id").and_then(Value::as_i64), p.get("url").and_then(Value::as_str).map(str::to_owned))
            else {
                return Err(JobError::Permanent("the payload names no call or URL".into()));
            };
            let duration = p.get("duration").and_then(Value::as_i64);
            let rec = p.get("recording_sid").and_then(Value::as_str).unwrap_or("recording").to_owned();
            let tenant = Tenant::system(org, "voice recording download");
            let (account, _) = open_account(&state, &tenant).await?;
            let limit = state.config.files.max_bytes();
            let media = crate::channels::adapter::download(&state, &url, &[("authorization", account.basic())], limit)
                .await
                .map_err(|a| match a {
                    crate::channels::adapter::Answer::Refused { status, description, .. }
                        if status != 429 && status < 500 =>
                    {
                        JobError::Permanent(description)
                    }
                    other => JobError::Retry(anyhow::anyhow!("{other:?}")),
                })?;
            let bytes = media.data.len();
            let file =
                crate::files::service::store_inbound(&state, org, media.data, Some(format!("{rec}.wav"))).await?;
            let file_id = file.file_id.0;
            let linked = state
                .db
                .write(move |tx| Ok(store::set_recording(tx, &tenant, CallId(call), file_id, duration)?))
                .await?;
            if linked == 0 {
                return Err(JobError::Permanent("the call no longer exists".into()));
            }
            Ok(json!({ "file_id": file_id, "bytes": bytes, "content_type": file.content_type }))
        })
    }
}
