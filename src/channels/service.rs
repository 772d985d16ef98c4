//! Channel rules: creation with per-type credential checks, the provider
//! check (test-connection) and activation, the inbound webhook (signature
//! first, deduplication by the provider's id, one runtime turn) and the
//! hand-over of replies to the outbound queue.

use serde_json::{Value, json};

use super::model::{
    Channel, ChannelId, ChannelMessage, ConnectionCheck, CreateChannelRequest, Credentials, KNOWN_TYPES,
    UpdateChannelRequest,
};
use super::send::ensure_job;
use super::store::{self, Inbound, Outbound};
use super::telegram::{self, Answer, Incoming, IncomingKind, Parsed};
use crate::app::AppState;
use crate::conversations::model::{ConversationId, Message, Role};
use crate::conversations::runtime::{ActArgs, Action, ConvRef, check_message};
use crate::crypto::{Keys, constant_time_eq, random_token};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::service::Source;
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

fn not_found() -> AppError {
    AppError::new(ErrorCode::ChannelNotFound, "no such channel")
}

fn credentials_context(id: ChannelId) -> String {
    format!("channels.credentials_encrypted:{}", id.0)
}

fn secret_context(id: ChannelId) -> String {
    format!("channels.webhook_secret_encrypted:{}", id.0)
}

/// The channel with its full webhook URL (the store has only the path):
/// the public URL in force + `/hooks/{path}`, where the provider posts.
async fn with_url(state: &AppState, c: Channel) -> AppResult<Channel> {
    Ok(under(&crate::admin::instance::public_url_in_force(state).await?, c))
}

fn under(base: &str, mut c: Channel) -> Channel {
    c.webhook_url = format!("{base}/hooks/{}", c.webhook_url);
    c
}

fn check_type(raw: &str) -> AppResult<&'static str> {
    KNOWN_TYPES.into_iter().find(|t| *t == raw.trim()).ok_or_else(|| {
        AppError::new(ErrorCode::UnknownChannelType, format!("`{raw}` is not a channel type this server supports"))
            .with_details(json!({ "field": "type", "known": KNOWN_TYPES }))
    })
}

/// Checks the credentials of a type; answers them as stored (JSON).
fn check_credentials(channel_type: &str, c: &Credentials) -> AppResult<String> {
    match channel_type {
        "telegram" => {
            let token = c.bot_token.as_deref().map(str::trim).unwrap_or_default();
            if !telegram::token_is_well_formed(token) {
                return Err(AppError::validation(
                    "credentials.bot_token",
                    "a Telegram bot token from BotFather, like 123456789:AAH…",
                ));
            }
            Ok(json!({ "bot_token": token }).to_string())
        }
        other => Err(check_type(other).err().unwrap_or_else(|| AppError::validation("type", "unsupported"))),
    }
}

fn check_name(raw: Option<&str>, default: &str) -> AppResult<String> {
    let name = raw.map_or(default, str::trim).to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name", "must be 1–200 characters"));
    }
    crate::names::reject_invisible("name", &name)?;
    Ok(name)
}

async fn check_bot(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<()> {
    crate::bots::service::get(state, tenant.clone(), bot).await.map_err(|e| {
        if e.code() == ErrorCode::BotNotFound {
            AppError::validation("bot_id", "no such bot in this organization")
        } else {
            e
        }
    })?;
    Ok(())
}

/// Creates a channel (inactive until activated) with a new webhook path and secret.
pub async fn create(state: &AppState, tenant: Tenant, req: CreateChannelRequest) -> AppResult<Channel> {
    let channel_type = check_type(&req.channel_type)?;
    let name = check_name(req.name.as_deref(), channel_type)?;
    let credentials = check_credentials(channel_type, &req.credentials)?;
    check_bot(state, &tenant, req.bot_id).await?;
    let keys = state.keys.clone();
    let channel = state
        .db
        .write(move |tx| {
            let id = store::insert(tx, &tenant, req.bot_id, channel_type, &name, &random_token(24))?;
            let secret = random_token(32);
            store::set_secrets(
                tx,
                &tenant,
                id,
                &keys.encrypt(credentials.as_bytes(), &credentials_context(id)),
                Some(&keys.encrypt(secret.as_bytes(), &secret_context(id))),
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "channel.created", "channel", id.0)
                    .with_new(json!({ "type": channel_type, "name": name, "bot_id": req.bot_id })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    with_url(state, channel).await
}

pub async fn get(state: &AppState, tenant: Tenant, id: ChannelId) -> AppResult<Channel> {
    let c = state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(not_found)).await?;
    with_url(state, c).await
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<Channel>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    let base = crate::admin::instance::public_url_in_force(state).await?;
    let rows = rows.into_iter().map(|c| under(&base, c)).collect();
    Page::from_rows(rows, &page, |c| c.id.0)
}

/// The channel's message log (both directions), newest first.
pub async fn list_messages(
    state: &AppState,
    tenant: Tenant,
    id: ChannelId,
    page: PageParams,
) -> AppResult<Page<ChannelMessage>> {
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find(c, &tenant, id)?.ok_or_else(not_found)?;
            Ok(store::list_messages(c, &tenant, id, before, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |m| m.id)
}

pub async fn update(state: &AppState, tenant: Tenant, id: ChannelId, req: UpdateChannelRequest) -> AppResult<Channel> {
    let before = get(state, tenant.clone(), id).await?;
    let name = check_name(Some(req.name.as_deref().unwrap_or(&before.name)), &before.channel_type)?;
    let credentials = req.credentials.as_ref().map(|c| check_credentials(&before.channel_type, c)).transpose()?;
    let Some(bot) = req.bot_id.or(before.bot_id) else {
        return Err(AppError::validation("bot_id", "pick the bot that answers on this channel"));
    };
    check_bot(state, &tenant, bot).await?;
    let keys = state.keys.clone();
    let channel = state
        .db
        .write(move |tx| {
            store::update(tx, &tenant, id, &name, bot)?;
            if let Some(c) = &credentials {
                store::set_secrets(tx, &tenant, id, &keys.encrypt(c.as_bytes(), &credentials_context(id)), None)?;
                store::set_status(tx, &tenant, id, Some("inactive"), None, None)?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "channel.updated", "channel", id.0)
                    .with_old(json!({ "name": before.name, "bot_id": before.bot_id }))
                    .with_new(json!({ "name": name, "bot_id": bot, "credentials_changed": credentials.is_some() })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await?;
    with_url(state, channel).await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: ChannelId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "channel.deleted", "channel", id.0)
                    .with_old(json!({ "type": before.channel_type, "name": before.name })),
            )
        })
        .await
}

/// The decrypted bot token of a Telegram channel.
pub(crate) fn open_token(keys: &Keys, id: ChannelId, sealed: &[u8]) -> Option<String> {
    let plain = keys.decrypt(sealed, &credentials_context(id)).ok()?;
    let v: Value = serde_json::from_slice(&plain).ok()?;
    v.get("bot_token").and_then(Value::as_str).map(str::to_owned)
}

fn open_secret(keys: &Keys, id: ChannelId, sealed: &[u8]) -> Option<String> {
    keys.decrypt(sealed, &secret_context(id)).ok().and_then(|s| String::from_utf8(s).ok())
}

async fn secrets(state: &AppState, tenant: &Tenant, id: ChannelId) -> AppResult<(String, String)> {
    let t = tenant.clone();
    let (creds, secret) = state.db.read(move |c| store::secrets(c, &t, id)?.ok_or_else(not_found)).await?;
    let unreadable = || {
        AppError::new(
            ErrorCode::ChannelCredentialsRejected,
            "the stored credentials cannot be read (the data file was re-keyed): enter them again",
        )
        .with_details(json!({ "field": "credentials" }))
    };
    let token = open_token(&state.keys, id, &creds).ok_or_else(unreadable)?;
    let secret = open_secret(&state.keys, id, &secret).ok_or_else(unreadable)?;
    Ok((token, secret))
}

/// Maps a refused provider call to the API's error (and its text for the channel row).
fn provider_error(answer: Answer) -> AppError {
    match answer {
        Answer::Ok(_) => AppError::internal(anyhow::anyhow!("an accepted call reported as an error")),
        Answer::Refused { status, description, .. } if status == 401 || status == 404 => AppError::new(
            ErrorCode::ChannelCredentialsRejected,
            format!("Telegram refused the bot token: {description}"),
        )
        .with_details(
            json!({ "field": "credentials.bot_token", "provider_status": status, "provider_description": description }),
        ),
        Answer::Refused { status, description, .. } => {
            AppError::new(ErrorCode::ChannelProviderUnavailable, format!("Telegram answered an error: {description}"))
                .with_details(json!({ "provider_status": status, "provider_description": description }))
        }
        Answer::Unreachable(why) => {
            AppError::new(ErrorCode::ChannelProviderUnavailable, format!("Telegram could not be reached: {why}"))
                .with_details(json!({ "provider_description": why }))
        }
    }
}

async fn record_check(
    state: &AppState,
    tenant: &Tenant,
    id: ChannelId,
    status: Option<&'static str>,
    username: Option<String>,
    error: Option<String>,
) -> AppResult<Channel> {
    let t = tenant.clone();
    let c = state
        .db
        .write(move |tx| {
            store::set_status(tx, &t, id, status, username.as_deref(), error.as_deref())?;
            store::find(tx, &t, id)?.ok_or_else(not_found)
        })
        .await?;
    with_url(state, c).await
}

/// Asks the provider whether the credentials work (Telegram: `getMe`).
pub async fn test_connection(state: &AppState, tenant: Tenant, id: ChannelId) -> AppResult<ConnectionCheck> {
    let (token, _) = secrets(state, &tenant, id).await?;
    match telegram::call(state, &token, "getMe", &json!({})).await {
        Answer::Ok(me) => {
            let username = me.get("username").and_then(Value::as_str).map(str::to_owned);
            let channel = record_check(state, &tenant, id, None, username.clone(), None).await?;
            Ok(ConnectionCheck { ok: true, username, channel })
        }
        other => {
            let e = provider_error(other);
            record_check(state, &tenant, id, None, None, Some(e.message().to_owned())).await?;
            Err(e)
        }
    }
}

/// Points the provider at this channel's webhook URL (Telegram: `getMe`,
/// then `setWebhook` with the secret token) and marks the channel active.
pub async fn activate(state: &AppState, tenant: Tenant, id: ChannelId) -> AppResult<ConnectionCheck> {
    let (token, secret) = secrets(state, &tenant, id).await?;
    let channel = get(state, tenant.clone(), id).await?;
    if channel.bot_id.is_none() {
        return Err(AppError::validation("bot_id", "pick the bot that answers on this channel first"));
    }
    let me = match telegram::call(state, &token, "getMe", &json!({})).await {
        Answer::Ok(me) => me,
        other => {
            let e = provider_error(other);
            record_check(state, &tenant, id, Some("error"), None, Some(e.message().to_owned())).await?;
            return Err(e);
        }
    };
    let username = me.get("username").and_then(Value::as_str).map(str::to_owned);
    let body = json!({
        "url": channel.webhook_url,
        "secret_token": secret,
        "allowed_updates": ["message", "callback_query"],
    });
    match telegram::call(state, &token, "setWebhook", &body).await {
        Answer::Ok(_) => {
            let channel = record_check(state, &tenant, id, Some("active"), username.clone(), None).await?;
            Ok(ConnectionCheck { ok: true, username, channel })
        }
        other => {
            let e = provider_error(other);
            record_check(state, &tenant, id, Some("error"), username, Some(e.message().to_owned())).await?;
            Err(e)
        }
    }
}

/// What the public webhook route answers.
#[derive(Debug, PartialEq, Eq)]
pub enum HookOutcome {
    Processed,
    Duplicate,
    Ignored,
    Rejected,
}

/// Handles one inbound webhook call: the secret is checked before anything
/// is stored; the event is stored once per provider id; a message or a
/// button press runs one turn, whose replies go to the outbound queue.
pub async fn inbound(
    state: &AppState,
    webhook_path: String,
    secret_header: Option<String>,
    body: &[u8],
) -> AppResult<HookOutcome> {
    let path = webhook_path.clone();
    let target = state.db.read(move |c| Ok(store::by_webhook_path(c, &path)?)).await?.ok_or_else(not_found)?;
    let secret = open_secret(&state.keys, target.id, &target.secret);
    let valid = match (secret, secret_header) {
        (Some(s), Some(h)) => constant_time_eq(s.as_bytes(), h.as_bytes()),
        _ => false,
    };
    if !valid {
        return Err(AppError::new(ErrorCode::ChannelSignatureInvalid, "the webhook secret is missing or wrong"));
    }
    let tenant = Tenant::system(target.org, "channel inbound webhook");
    let Ok(update) = serde_json::from_slice::<Value>(body) else {
        tracing::warn!(channel_id = target.id.0, "rejected a channel webhook: the body is not JSON");
        return Ok(HookOutcome::Rejected);
    };
    let parsed = telegram::parse_update(&update);
    let (event_type, external) = match &parsed {
        Parsed::Malformed(why) => {
            tracing::warn!(channel_id = target.id.0, why, "rejected a malformed Telegram update");
            return Ok(HookOutcome::Rejected);
        }
        Parsed::Ignored { update_id, event_type } => (event_type.clone(), update_id.to_string()),
        Parsed::Event(e) => (
            match e.kind {
                IncomingKind::Text { .. } => "message".to_owned(),
                IncomingKind::Callback { .. } => "callback_query".to_owned(),
            },
            e.update_id.to_string(),
        ),
    };
    let (t, ct, payload) = (tenant.clone(), target.channel_type.clone(), update.to_string());
    let channel = target.id;
    let stored = state
        .db
        .write(move |tx| Ok(store::insert_event(tx, &t, channel, &ct, &event_type, Some(&external), &payload)?))
        .await?;
    let Some(event) = stored else { return Ok(HookOutcome::Duplicate) };
    let finish = |status: &'static str, error: Option<String>| {
        let t = tenant.clone();
        state.db.write(move |tx| Ok(store::finish_event(tx, &t, event, status, error.as_deref())?))
    };
    let Parsed::Event(incoming) = parsed else {
        finish("ignored", None).await?;
        return Ok(HookOutcome::Ignored);
    };
    let Some(bot) = target.bot.filter(|_| target.status == "active") else {
        finish("ignored", Some("the channel is not active or has no bot".into())).await?;
        return Ok(HookOutcome::Ignored);
    };
    match run_turn(state, &tenant, channel, bot, &incoming).await {
        Ok(()) => {
            finish("processed", None).await?;
            state.jobs.notify();
            Ok(HookOutcome::Processed)
        }
        Err(e) => {
            tracing::warn!(channel_id = channel.0, error.cause_chain = ?e, "a channel message could not be processed");
            finish("failed", Some(e.message().to_owned())).await?;
            // The provider would retry a non-2xx answer; the failure is recorded instead.
            Ok(HookOutcome::Rejected)
        }
    }
}

async fn run_turn(state: &AppState, tenant: &Tenant, channel: ChannelId, bot: BotId, m: &Incoming) -> AppResult<()> {
    let max = state.runtime.config().max_message_chars;
    let (text, external_id, message_type, callback) = match &m.kind {
        IncomingKind::Text { message_id, text } => {
            (text.chars().take(max).collect::<String>(), format!("{}:{message_id}", m.chat_id), "text", None)
        }
        IncomingKind::Callback { id, data, message_id } => {
            let value = match (data.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()), message_id) {
                (Some(n), Some(mid)) => {
                    let key = format!("{}:{mid}", m.chat_id);
                    state.db.read(move |c| Ok(store::callback_value(c, channel, &key, n)?)).await?.unwrap_or_default()
                }
                _ => data.clone(),
            };
            (value, format!("cb:{id}"), "interactive", Some(id.clone()))
        }
    };
    let (t, chat) = (tenant.clone(), m.chat_id.clone());
    let (username, display) = (m.username.clone(), m.display_name.clone());
    let (ext, content) = (external_id.clone(), text.clone());
    let (contact, message) = state
        .db
        .write(move |tx| {
            let contact = store::upsert_contact(tx, &t, channel, &chat, username.as_deref(), display.as_deref())?;
            let message = store::insert_inbound(
                tx,
                &t,
                &Inbound {
                    channel,
                    bot,
                    contact,
                    from: &chat,
                    from_name: display.as_deref(),
                    message_type,
                    content: &content,
                    external_id: &ext,
                },
            )?;
            if let Some(id) = &callback {
                // Telegram shows a spinner on the button until this is answered.
                let request = json!({ "method": "answerCallbackQuery", "body": { "callback_query_id": id } });
                queue_one(tx, &t, channel, Some(bot), None, Some(contact), &chat, "interactive", "", &request)?;
            }
            Ok((contact, message))
        })
        .await?;
    if text.trim().is_empty() {
        return Ok(());
    }
    let text = check_message(&text, max)?;
    let r = state
        .runtime
        .act(
            state,
            ActArgs {
                tenant: tenant.clone(),
                bot,
                conversation: ConvRef::Key {
                    channel: "telegram".into(),
                    // Two Telegram channels of one bot see different chats.
                    external_user_id: format!("{}:{}", channel.0, m.chat_id),
                    create: true,
                },
                action: Action::Message(text),
                source: Source::Published,
                debug: false,
                count_usage: true,
            },
        )
        .await?
        .without_notes();
    let conversation = r.entry.id;
    let (t, chat) = (tenant.clone(), m.chat_id.clone());
    state
        .db
        .write(move |tx| {
            store::link_conversation(tx, &t, channel, contact, message, conversation)?;
            queue_replies(tx, &t, channel, Some(bot), conversation, contact, &chat, &r.replies)
        })
        .await
}

#[allow(clippy::too_many_arguments, reason = "the columns of one queued message")]
fn queue_one(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    channel: ChannelId,
    bot: Option<BotId>,
    conversation: Option<ConversationId>,
    contact: Option<i64>,
    to: &str,
    message_type: &str,
    content: &str,
    request: &Value,
) -> AppResult<()> {
    store::enqueue(
        tx,
        tenant,
        &Outbound {
            channel,
            bot,
            conversation,
            contact,
            to,
            message_type,
            content,
            request: &request.to_string(),
            idempotency_key: &random_token(16),
        },
    )?;
    ensure_job(tx, channel, tenant.org_id())
}

/// Queues what the end user should see of `replies` (bot, agent and system messages).
#[allow(clippy::too_many_arguments, reason = "the addressing of one conversation")]
fn queue_replies(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    channel: ChannelId,
    bot: Option<BotId>,
    conversation: ConversationId,
    contact: i64,
    chat: &str,
    replies: &[Message],
) -> AppResult<()> {
    for m in replies.iter().filter(|m| matches!(m.role, Role::Bot | Role::Agent | Role::System)) {
        for r in telegram::render(chat, &m.text, &m.parts) {
            let mut request = json!({ "method": r.method, "body": r.body });
            if !r.values.is_empty() {
                request["values"] = json!(r.values);
            }
            queue_one(
                tx,
                tenant,
                channel,
                bot,
                Some(conversation),
                Some(contact),
                chat,
                r.message_type,
                &m.text,
                &request,
            )?;
        }
    }
    Ok(())
}

/// Hands messages an agent action produced (replies, "joined", hand-back
/// turns, closing) to the channel the conversation came from; conversations
/// of the API, the widget or the emulator have none and are left alone.
pub async fn forward(
    state: &AppState,
    tenant: &Tenant,
    conversation: ConversationId,
    replies: &[Message],
) -> AppResult<()> {
    if replies.iter().all(|m| !matches!(m.role, Role::Bot | Role::Agent | Role::System)) {
        return Ok(());
    }
    let t = tenant.clone();
    let replies = replies.to_vec();
    let queued = state
        .db
        .write(move |tx| {
            let Some((channel, contact, chat)) = store::conversation_channel(tx, &t, conversation)? else {
                return Ok(false);
            };
            queue_replies(tx, &t, channel, None, conversation, contact, &chat, &replies)?;
            Ok(true)
        })
        .await?;
    if queued {
        state.jobs.notify();
    }
    Ok(())
}
