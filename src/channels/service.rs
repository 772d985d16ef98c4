//! Channel rules: creation with per-type credential checks, the provider
//! check (test-connection) and activation, the inbound webhook (signature
//! first, deduplication by the provider's id, one runtime turn) and the
//! hand-over of replies to the outbound queue.

use actix_web::HttpResponse;
use serde_json::{Map, Value, json};

use super::adapter::{Adapter, Answer, Event, EventKind, HookRequest, Parsed, Recipient, Secrets};
use super::model::{
    Channel, ChannelId, ChannelMessage, ConnectionCheck, CreateChannelRequest, Deliveries, SendTestRequest,
    UpdateChannelRequest,
};
use super::send::ensure_job;
use super::store::{self, Inbound, Outbound};
use super::{adapter_for, known_types};
use crate::app::AppState;
use crate::conversations::model::{ConversationId, Message, Role};
use crate::conversations::runtime::{ActArgs, Action, ConvRef, TurnHook, check_message};
use crate::crypto::{Keys, random_token};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::files::model::Attachment;
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

/// The channel as shown: its full webhook URL (the store has only the
/// path: the public URL in force + `/hooks/{path}`, where the provider
/// posts) and, for the types that need it, the secret to paste there.
async fn with_url(state: &AppState, c: Channel) -> AppResult<Channel> {
    let base = crate::admin::instance::public_url_in_force(state).await?;
    present(state, &base, c).await
}

async fn present(state: &AppState, base: &str, mut c: Channel) -> AppResult<Channel> {
    c.webhook_url = format!("{base}/hooks/{}", c.webhook_url);
    if adapter_for(&c.channel_type).is_some_and(Adapter::shows_webhook_secret) {
        let (id, org) = (c.id, c.organization_id);
        let sealed = state.db.read(move |conn| Ok(store::sealed_secret(conn, org, id)?)).await?;
        c.webhook_secret = sealed.and_then(|s| open_secret(&state.keys, id, &s));
    }
    Ok(c)
}

fn check_type(raw: &str) -> AppResult<&'static dyn Adapter> {
    adapter_for(raw.trim()).ok_or_else(|| {
        AppError::new(ErrorCode::UnknownChannelType, format!("`{raw}` is not a channel type this server supports"))
            .with_details(json!({ "field": "type", "known": known_types() }))
    })
}

/// Checks the credentials of a type; answers them as stored (JSON).
fn check_credentials(adapter: &dyn Adapter, given: &Map<String, Value>) -> AppResult<String> {
    Ok(Value::Object(adapter.check_credentials(given)?).to_string())
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
    let adapter = check_type(&req.channel_type)?;
    let channel_type = adapter.kind();
    let name = check_name(req.name.as_deref(), channel_type)?;
    let credentials = check_credentials(adapter, &req.credentials)?;
    check_bot(state, &tenant, req.bot_id).await?;
    let keys = state.keys.clone();
    let channel = state
        .db
        .write(move |tx| {
            crate::billing::limits::check(tx, tenant.org_id(), crate::billing::limits::Limit::Channels, 1)?;
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
    let mut shown = Vec::with_capacity(rows.len());
    for c in rows {
        shown.push(present(state, &base, c).await?);
    }
    Page::from_rows(shown, &page, |c| c.id.0)
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
    let adapter = check_type(&before.channel_type)?;
    let credentials = req.credentials.as_ref().map(|c| check_credentials(adapter, c)).transpose()?;
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

fn open_secret(keys: &Keys, id: ChannelId, sealed: &[u8]) -> Option<String> {
    keys.decrypt(sealed, &secret_context(id)).ok().and_then(|s| String::from_utf8(s).ok())
}

/// Opens a channel's sealed credentials and secret (`None`: the data file
/// was re-keyed, or the row predates them).
pub(crate) fn open_secrets(keys: &Keys, id: ChannelId, credentials: &[u8], secret: &[u8]) -> Option<Secrets> {
    let plain = keys.decrypt(credentials, &credentials_context(id)).ok()?;
    let Ok(Value::Object(credentials)) = serde_json::from_slice(&plain) else { return None };
    Some(Secrets { credentials, webhook_secret: open_secret(keys, id, secret)? })
}

pub(crate) async fn secrets(state: &AppState, tenant: &Tenant, id: ChannelId) -> AppResult<Secrets> {
    let t = tenant.clone();
    let (creds, secret) = state.db.read(move |c| store::secrets(c, &t, id)?.ok_or_else(not_found)).await?;
    open_secrets(&state.keys, id, &creds, &secret).ok_or_else(|| {
        AppError::new(
            ErrorCode::ChannelCredentialsRejected,
            "the stored credentials cannot be read (the data file was re-keyed): enter them again",
        )
        .with_details(json!({ "field": "credentials" }))
    })
}

/// Maps a refused provider call to the API's error (and its text for the channel row).
pub(crate) fn provider_error(adapter: &dyn Adapter, answer: Answer) -> AppError {
    let provider = adapter.provider();
    match answer {
        Answer::Ok(_) => AppError::internal(anyhow::anyhow!("an accepted call reported as an error")),
        Answer::Refused { status, description, .. } if matches!(status, 401 | 403 | 404) => AppError::new(
            ErrorCode::ChannelCredentialsRejected,
            format!("{provider} refused the credentials: {description}"),
        )
        .with_details(json!({
            "field": adapter.credential_field(), "provider_status": status, "provider_description": description
        })),
        Answer::Refused { status, description, .. } => {
            AppError::new(ErrorCode::ChannelProviderUnavailable, format!("{provider} answered an error: {description}"))
                .with_details(json!({ "provider_status": status, "provider_description": description }))
        }
        Answer::Unreachable(why) => {
            AppError::new(ErrorCode::ChannelProviderUnavailable, format!("{provider} could not be reached: {why}"))
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
    let channel = get(state, tenant.clone(), id).await?;
    let adapter = check_type(&channel.channel_type)?;
    adapter.precondition(state).await?;
    let secrets = secrets(state, &tenant, id).await?;
    match adapter.check(state, &secrets).await {
        Ok(me) => {
            let channel = record_check(state, &tenant, id, None, me.username.clone(), None).await?;
            Ok(ConnectionCheck { ok: true, username: me.username, channel })
        }
        Err(answer) => {
            let e = provider_error(adapter, answer);
            record_check(state, &tenant, id, None, None, Some(e.message().to_owned())).await?;
            Err(e)
        }
    }
}

/// Points the provider at this channel's webhook URL where its API allows
/// (Telegram: `getMe`, then `setWebhook` with the secret token; others: the
/// provider check) and marks the channel active.
pub async fn activate(state: &AppState, tenant: Tenant, id: ChannelId) -> AppResult<ConnectionCheck> {
    let channel = get(state, tenant.clone(), id).await?;
    if channel.bot_id.is_none() {
        return Err(AppError::validation("bot_id", "pick the bot that answers on this channel first"));
    }
    let adapter = check_type(&channel.channel_type)?;
    adapter.precondition(state).await?;
    let secrets = secrets(state, &tenant, id).await?;
    match adapter.activate(state, &secrets, &channel.webhook_url).await {
        Ok(me) => {
            let channel = record_check(state, &tenant, id, Some("active"), me.username.clone(), None).await?;
            Ok(ConnectionCheck { ok: true, username: me.username, channel })
        }
        Err(answer) => {
            let e = provider_error(adapter, answer);
            record_check(state, &tenant, id, Some("error"), None, Some(e.message().to_owned())).await?;
            Err(e)
        }
    }
}

/// Queues a test text to an address of the provider; answers the queued
/// message (its status moves in the channel's message log).
pub async fn send_test(
    state: &AppState,
    tenant: Tenant,
    id: ChannelId,
    req: SendTestRequest,
) -> AppResult<ChannelMessage> {
    let to = req.to.trim().to_owned();
    if to.is_empty() || to.chars().count() > 200 {
        return Err(AppError::validation("to", "the recipient's address at the provider: 1–200 characters"));
    }
    let text = req.text.trim().to_owned();
    if text.is_empty() || text.chars().count() > 1000 {
        return Err(AppError::validation("text", "must be 1–1000 characters"));
    }
    let channel = get(state, tenant.clone(), id).await?;
    let adapter = check_type(&channel.channel_type)?;
    let recipient = Recipient { address: to.clone(), ..Recipient::default() };
    let rendered = adapter.render(&recipient, &text, &crate::flows::engine::RichParts::default());
    let message = state
        .db
        .write(move |tx| {
            let mut first = None;
            for r in rendered {
                let request = json!({ "request": r.request });
                let queued = queue_one(tx, &tenant, id, None, None, None, &to, r.message_type, &text, &request, None)?;
                first.get_or_insert(queued);
            }
            let first = first.ok_or_else(|| AppError::validation("text", "nothing to send"))?;
            store::find_message(tx, &tenant, first)?.ok_or_else(not_found)
        })
        .await?;
    state.jobs.notify();
    Ok(message)
}

/// The delivery state of each transcript message of a channel conversation
/// (empty for conversations of the widget, the API or the emulator).
pub async fn deliveries(state: &AppState, tenant: Tenant, conversation: ConversationId) -> AppResult<Deliveries> {
    let items = state.db.read(move |c| Ok(store::deliveries(c, &tenant, conversation)?)).await?;
    Ok(Deliveries { items })
}

/// What became of an authentic webhook call (the provider is told 200 in every case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookOutcome {
    Processed,
    Duplicate,
    Ignored,
    Rejected,
}

impl HookOutcome {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            HookOutcome::Processed => "processed",
            HookOutcome::Duplicate => "duplicate",
            HookOutcome::Ignored => "ignored",
            HookOutcome::Rejected => "rejected",
        }
    }
}

/// Handles one webhook call: a provider handshake is answered; otherwise
/// the signature is checked before anything is stored, each event is
/// stored once per provider id, and messages and button presses run a turn
/// whose replies go to the outbound queue.
pub async fn inbound(state: &AppState, webhook_path: String, mut req: HookRequest<'_>) -> AppResult<HttpResponse> {
    let (path, config) = (webhook_path.clone(), state.config.clone());
    // One read on this hot path: the channel and the public URL in force.
    let (target, base) = state
        .db
        .read(move |c| Ok((store::by_webhook_path(c, &path)?, crate::admin::instance::public_url(c, &config)?)))
        .await?;
    let target = target.ok_or_else(not_found)?;
    req.url = format!("{base}{}", req.url);
    let adapter = adapter_for(&target.channel_type).ok_or_else(not_found)?;
    let invalid = || AppError::new(ErrorCode::ChannelSignatureInvalid, "the webhook signature is missing or wrong");
    let secrets = open_secrets(&state.keys, target.id, &target.credentials, &target.secret).ok_or_else(invalid)?;
    if let Some(answer) = adapter.handshake(&secrets, &req) {
        return Ok(answer);
    }
    if !adapter.verify(&secrets, &req) {
        return Err(invalid());
    }
    let updates = adapter.template_updates(&req);
    if !updates.is_empty() {
        let (t, channel) = (Tenant::system(target.org, "channel inbound webhook"), target.id);
        state
            .db
            .write(move |tx| {
                for u in &updates {
                    if !super::templates::store::apply_provider_status(tx, &t, channel, u)? {
                        tracing::info!(channel_id = channel.0, "a template status update for no known template");
                    }
                }
                Ok(())
            })
            .await?;
    }
    let outcome = match adapter.parse(&req) {
        Parsed::Malformed(why) => {
            tracing::warn!(
                channel_id = target.id.0,
                channel_type = adapter.kind(),
                why,
                "rejected a malformed webhook call"
            );
            HookOutcome::Rejected
        }
        Parsed::Ignored { dedupe_id, event_type } => {
            let payload = serde_json::from_slice::<Value>(req.body).unwrap_or_else(|_| json!({ "body": "not JSON" }));
            let t = Tenant::system(target.org, "channel inbound webhook");
            let (channel, kind) = (target.id, adapter.kind());
            let stored = state
                .db
                .write(move |tx| {
                    let id = store::insert_event(
                        tx,
                        &t,
                        channel,
                        kind,
                        &event_type,
                        dedupe_id.as_deref(),
                        &payload.to_string(),
                    )?;
                    if let Some(id) = id {
                        store::finish_event(tx, &t, id, "ignored", None)?;
                    }
                    Ok(id)
                })
                .await?;
            if stored.is_some() { HookOutcome::Ignored } else { HookOutcome::Duplicate }
        }
        Parsed::Events(events) => {
            let mut outcome = HookOutcome::Ignored;
            for event in events {
                let this = handle_event(state, &target, adapter, &secrets, event).await?;
                outcome = match (outcome, this) {
                    (HookOutcome::Processed, _) | (_, HookOutcome::Processed) => HookOutcome::Processed,
                    (HookOutcome::Rejected, _) | (_, HookOutcome::Rejected) => HookOutcome::Rejected,
                    (HookOutcome::Duplicate, _) | (_, HookOutcome::Duplicate) => HookOutcome::Duplicate,
                    _ => HookOutcome::Ignored,
                };
            }
            state.jobs.notify();
            outcome
        }
    };
    Ok(adapter.acknowledge(outcome.as_str()))
}

/// An event to store once per provider id, in the first write that needs it.
struct NewEvent {
    channel: ChannelId,
    kind: &'static str,
    event_type: String,
    dedupe: String,
    payload: String,
}

impl NewEvent {
    /// Its row id, or `None` when the provider sent it before.
    fn insert(&self, tx: &rusqlite::Connection, tenant: &Tenant) -> rusqlite::Result<Option<i64>> {
        store::insert_event(tx, tenant, self.channel, self.kind, &self.event_type, Some(&self.dedupe), &self.payload)
    }
}

/// Where an event's row stands while its turn runs.
enum EventRow {
    /// Not stored yet: the turn's first write stores it.
    New(NewEvent),
    Stored(i64),
}

/// The status an event's row ends with: failed when the message was kept
/// without being understood (`note`).
fn finish_status(note: Option<&String>) -> &'static str {
    if note.is_some() { "failed" } else { "processed" }
}

/// Stores one event (once) and processes it. The event row is written with
/// the first write the event needs and finished with the last, so a
/// message costs two write transactions: the inbound message, and the turn
/// with its queued replies.
async fn handle_event(
    state: &AppState,
    target: &store::HookTarget,
    adapter: &'static dyn Adapter,
    secrets: &Secrets,
    event: Event,
) -> AppResult<HookOutcome> {
    let tenant = Tenant::system(target.org, "channel inbound webhook");
    let channel = target.id;
    let new = NewEvent {
        channel,
        kind: adapter.kind(),
        event_type: event.event_type.clone(),
        dedupe: event.dedupe_id.clone(),
        payload: event.raw.to_string(),
    };
    if matches!(event.kind, EventKind::Status { .. } | EventKind::StatusUpTo { .. }) {
        return apply_status_event(state, tenant, new, &event).await;
    }
    let Some(bot) = target.bot.filter(|_| target.status == "active") else {
        let stored = state
            .db
            .write(move |tx| {
                let id = new.insert(tx, &tenant)?;
                if let Some(id) = id {
                    store::finish_event(tx, &tenant, id, "ignored", Some("the channel is not active or has no bot"))?;
                }
                Ok(id)
            })
            .await?;
        return Ok(if stored.is_some() { HookOutcome::Ignored } else { HookOutcome::Duplicate });
    };
    // Media is fetched before its message is stored: its event row comes
    // first, so a provider's retry during the download is a duplicate.
    let row = if matches!(event.kind, EventKind::Media { .. }) {
        let t = tenant.clone();
        match state.runtime.write_grouped(move |tx| Ok(new.insert(tx, &t)?)).await? {
            Some(id) => EventRow::Stored(id),
            None => return Ok(HookOutcome::Duplicate),
        }
    } else {
        EventRow::New(new)
    };
    let mut stored = None;
    match run_turn(state, &tenant, adapter, secrets, (channel, bot), &event, row, &mut stored).await {
        Ok(outcome) => Ok(outcome),
        Err(e) => {
            let Some(stored) = stored else { return Err(e) };
            tracing::warn!(channel_id = channel.0, error.cause_chain = ?e, "a channel message could not be processed");
            let (t, why) = (tenant, e.message().to_owned());
            state.db.write(move |tx| Ok(store::finish_event(tx, &t, stored, "failed", Some(&why))?)).await?;
            // The provider would retry a non-2xx answer; the failure is recorded instead.
            Ok(HookOutcome::Rejected)
        }
    }
}

/// A delivery status (or "read up to"): stored, applied and finished in one write.
async fn apply_status_event(state: &AppState, tenant: Tenant, new: NewEvent, event: &Event) -> AppResult<HookOutcome> {
    let (kind, to) = (event.kind.clone(), event.sender.address.clone());
    let channel = new.channel;
    state
        .runtime
        .write_grouped(move |tx| {
            let Some(stored) = new.insert(tx, &tenant)? else { return Ok(HookOutcome::Duplicate) };
            let note = match &kind {
                EventKind::Status { message_id, status, error } => {
                    let known = store::apply_status(tx, channel, message_id, *status, error.as_deref())?;
                    (!known).then(|| format!("no outbound message has the provider id {message_id}"))
                }
                EventKind::StatusUpTo { status, until_ms } => {
                    let until = chrono::DateTime::from_timestamp_millis(*until_ms).map(crate::db::format_timestamp);
                    let n = match until {
                        Some(until) => store::apply_status_up_to(tx, channel, &to, &until, *status)?,
                        None => 0,
                    };
                    (n == 0).then(|| format!("no message to {to} was sent before {until_ms}"))
                }
                _ => None,
            };
            let status = if note.is_some() { "ignored" } else { "processed" };
            store::finish_event(tx, &tenant, stored, status, note.as_deref())?;
            Ok(if note.is_some() { HookOutcome::Ignored } else { HookOutcome::Processed })
        })
        .await
}

/// Inbound media, stored as a file of the organization (sniffed and
/// size-limited like every upload), or why it was not.
async fn store_media(
    state: &AppState,
    tenant: &Tenant,
    adapter: &dyn Adapter,
    secrets: &Secrets,
    media: &super::adapter::MediaRef,
) -> Result<Attachment, String> {
    let bytes = adapter.fetch_media(state, secrets, media).await.map_err(|a| match a {
        Answer::Refused { description, .. } | Answer::Unreachable(description) => description,
        Answer::Ok(_) => "unexpected answer".to_owned(),
    })?;
    crate::files::service::store_inbound(state, tenant.org_id(), bytes.data, media.filename.clone())
        .await
        .map_err(|e| e.message().to_owned())
}

/// Runs the turn of one message, button press, media or consent keyword.
/// The first write stores the event (unless stored already), the contact
/// and the inbound message; the turn's own write links the conversation,
/// queues the replies and finishes the event. A message kept but not
/// understood (media too large) finishes as failed with a note. `stored`
/// tells the caller the event's row once it exists.
#[allow(clippy::too_many_lines, reason = "one event's steps in order")]
#[allow(clippy::too_many_arguments, reason = "the pieces of one event")]
async fn run_turn(
    state: &AppState,
    tenant: &Tenant,
    adapter: &'static dyn Adapter,
    secrets: &Secrets,
    (channel, bot): (ChannelId, BotId),
    event: &Event,
    row: EventRow,
    stored: &mut Option<i64>,
) -> AppResult<HookOutcome> {
    if let EventRow::Stored(id) = row {
        *stored = Some(id);
    }
    let max = state.runtime.config().max_message_chars;
    let mut media: Option<Attachment> = None;
    let mut note = None;
    let (text, external_id, message_type, ack, consent) = match &event.kind {
        EventKind::Text { message_id, text } => {
            (text.chars().take(max).collect::<String>(), message_id.clone(), "text", None, None)
        }
        EventKind::Button { id, value, message_id, ack } => {
            let value = match (value.strip_prefix('#').and_then(|n| n.parse::<usize>().ok()), message_id) {
                (Some(n), Some(mid)) => {
                    let mid = mid.clone();
                    state.db.read(move |c| Ok(store::callback_value(c, channel, &mid, n)?)).await?.unwrap_or_default()
                }
                (Some(n), None) if n >= 1 => {
                    let to = event.sender.address.clone();
                    let chosen = state.db.read(move |c| Ok(store::latest_choice(c, channel, &to, n - 1)?)).await?;
                    chosen.unwrap_or_else(|| n.to_string())
                }
                _ => value.clone(),
            };
            (value, format!("cb:{id}"), "interactive", ack.clone(), None)
        }
        EventKind::Media { message_id, media: m, caption } => {
            match store_media(state, tenant, adapter, secrets, m).await {
                Ok(stored) => media = Some(stored),
                Err(why) => note = Some(format!("the media was not kept: {why}")),
            }
            (caption.clone().unwrap_or_default(), message_id.clone(), m.kind, None, None)
        }
        EventKind::Consent { message_id, opted_in, text } => {
            (text.clone(), message_id.clone(), "text", None, Some(*opted_in))
        }
        EventKind::Status { .. } | EventKind::StatusUpTo { .. } => return Ok(HookOutcome::Ignored),
    };
    // A keyword changes consent only; an opted-out contact gets no answer;
    // the runtime decides about media: a caption runs as text, a file alone
    // waits for an agent.
    let action = match &media {
        _ if consent.is_some() => None,
        Some(file) => {
            let caption = Some(text.trim()).filter(|t| !t.is_empty()).map(|t| check_message(t, max)).transpose()?;
            Some(Action::Attachment { files: vec![file.clone()], caption })
        }
        None if text.trim().is_empty() => None,
        None => Some(Action::Message(check_message(&text, max)?)),
    };
    // The press's own acknowledgement, else the adapter's read receipt.
    let ack = ack.or_else(|| adapter.receipt(event));
    let (t, sender, thread) = (tenant.clone(), event.sender.clone(), event.thread.clone());
    let context = event.context.to_string();
    let media_row = media.map(|a| (format!("/api/v1/files/{}", a.file_id), a));
    let (ext, body, error) = (external_id, text, note.clone());
    let finish_now = action.is_none();
    // Shares the turn writer's group commit: under load many inbound
    // messages are stored in one transaction.
    let first = state
        .runtime
        .write_grouped(move |tx| {
            let stored = match row {
                EventRow::Stored(id) => id,
                EventRow::New(new) => match new.insert(tx, &t)? {
                    Some(id) => id,
                    None => return Ok(None),
                },
            };
            let contact = store::upsert_contact(tx, &t, channel, &sender.address, &sender)?;
            if let Some(opted_in) = consent {
                crate::contacts::store::set_consent(
                    tx,
                    &t,
                    crate::contacts::model::ContactId(contact),
                    opted_in,
                    "keyword",
                )?;
            }
            let message = store::insert_inbound(
                tx,
                &t,
                &Inbound {
                    channel,
                    bot,
                    contact,
                    from: &sender.address,
                    from_name: sender.display_name.as_deref(),
                    message_type,
                    content: &body,
                    external_id: &ext,
                    thread: thread.as_deref(),
                    context: &context,
                    media: media_row
                        .as_ref()
                        .map(|(u, a)| (u.as_str(), a.content_type.as_str(), Some(a.name.as_str()))),
                    error: error.as_deref(),
                },
            )?;
            if let Some(request) = &ack {
                let request = json!({ "request": request });
                queue_one(
                    tx,
                    &t,
                    channel,
                    Some(bot),
                    None,
                    Some(contact),
                    &sender.address,
                    "interactive",
                    "",
                    &request,
                    None,
                )?;
            }
            if finish_now {
                store::finish_event(tx, &t, stored, finish_status(error.as_ref()), error.as_deref())?;
            }
            Ok(Some((stored, contact, message)))
        })
        .await?;
    let Some((event_id, contact, message)) = first else { return Ok(HookOutcome::Duplicate) };
    *stored = Some(event_id);
    let Some(action) = action else { return Ok(HookOutcome::Processed) };
    let t = tenant.clone();
    let to = Recipient {
        address: event.sender.address.clone(),
        thread: event.thread.clone(),
        context: event.context.clone(),
    };
    let hook = TurnHook::new(move |tx, conversation, stored_messages| {
        store::link_conversation(tx, &t, channel, contact, message, conversation)?;
        queue_replies(tx, &t, adapter, channel, Some(bot), conversation, contact, &to, stored_messages)?;
        store::finish_event(tx, &t, event_id, finish_status(note.as_ref()), note.as_deref())?;
        Ok(())
    });
    state
        .runtime
        .act(
            state,
            ActArgs {
                tenant: tenant.clone(),
                bot,
                conversation: ConvRef::Key {
                    channel: adapter.kind().into(),
                    // Two channels of one bot see different people.
                    external_user_id: format!("{}:{}", channel.0, event.sender.address),
                    create: true,
                },
                action,
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: Some(hook),
            },
        )
        .await?;
    Ok(HookOutcome::Processed)
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
    conversation_message: Option<i64>,
) -> AppResult<i64> {
    let id = store::enqueue(
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
            conversation_message,
        },
    )?;
    ensure_job(tx, channel, tenant.org_id())?;
    Ok(id)
}

/// Queues what the end user should see of `replies` (bot, agent and system messages).
#[allow(clippy::too_many_arguments, reason = "the addressing of one conversation")]
fn queue_replies(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    adapter: &dyn Adapter,
    channel: ChannelId,
    bot: Option<BotId>,
    conversation: ConversationId,
    contact: i64,
    to: &Recipient,
    replies: &[Message],
) -> AppResult<()> {
    for m in replies.iter().filter(|m| matches!(m.role, Role::Bot | Role::Agent | Role::System)) {
        for r in adapter.render_message(to, m.role, &m.text, &m.parts) {
            let mut request = json!({ "request": r.request });
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
                &to.address,
                r.message_type,
                &m.text,
                &request,
                Some(m.id),
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
            let Some((channel, contact, address, kind)) = store::conversation_channel(tx, &t, conversation)? else {
                return Ok(false);
            };
            let Some(adapter) = adapter_for(&kind) else { return Ok(false) };
            let (thread, context) = store::reply_context(tx, conversation)?;
            let context = context.and_then(|c| serde_json::from_str(&c).ok()).unwrap_or(Value::Null);
            let to = Recipient { address, thread, context };
            queue_replies(tx, &t, adapter, channel, None, conversation, contact, &to, &replies)?;
            Ok(true)
        })
        .await?;
    if queued {
        state.jobs.notify();
    }
    Ok(())
}

/// A message another domain (recovery campaigns) sends to an address on
/// one of the organization's channels: text through the adapter's
/// rendering, or an approved WhatsApp template with its variables.
pub struct CampaignMessage<'a> {
    pub channel: ChannelId,
    /// The address at the provider (email address, phone number, chat id).
    pub to: &'a str,
    pub text: &'a str,
    /// The subject line of email messages.
    pub subject: Option<&'a str>,
    pub template: Option<(super::templates::model::TemplateId, &'a [String])>,
}

/// Queues `m` on the outbound queue inside the caller's transaction (the
/// contact of the address is created if new; the channel's send job is
/// ensured, so call `state.jobs.notify()` after the commit). Answers the
/// channel message id (of the first request when the text is split).
pub fn queue_campaign_message(tx: &rusqlite::Connection, tenant: &Tenant, m: &CampaignMessage<'_>) -> AppResult<i64> {
    let channel = store::find(tx, tenant, m.channel)?.ok_or_else(not_found)?;
    let adapter = adapter_for(&channel.channel_type)
        .ok_or_else(|| AppError::validation("channel_id", format!("no adapter for `{}`", channel.channel_type)))?;
    let phone =
        m.to.bytes().all(|b| b.is_ascii_digit() || b == b'+').then(|| format!("+{}", m.to.trim_start_matches('+')));
    let sender = super::adapter::Sender { address: m.to.to_owned(), phone, ..super::adapter::Sender::default() };
    let contact = store::upsert_contact(tx, tenant, m.channel, m.to, &sender)?;
    if let Some((template_id, values)) = m.template {
        let t = super::templates::store::find(tx, tenant, m.channel, template_id)?
            .ok_or_else(|| AppError::validation("template_id", "no such template on this channel"))?;
        if t.status != "approved" {
            return Err(AppError::new(
                ErrorCode::TemplateNotApproved,
                format!("the template is {} at WhatsApp: only approved templates can be sent", t.status),
            ));
        }
        let request = json!({ "request": super::templates::service::template_request(&t, m.to, values, None) });
        let content = super::templates::service::fill(&t.body, values);
        return queue_one(
            tx,
            tenant,
            m.channel,
            channel.bot_id,
            None,
            Some(contact),
            m.to,
            "template",
            &content,
            &request,
            None,
        );
    }
    let recipient = Recipient { address: m.to.to_owned(), thread: None, context: json!({}) };
    let mut first = None;
    for r in adapter.render(&recipient, m.text, &crate::flows::engine::RichParts::default()) {
        let mut request = r.request;
        if let Some(subject) = m.subject
            && request.get("subject").is_some()
        {
            request["subject"] = json!(subject);
        }
        let request = json!({ "request": request });
        let id = queue_one(
            tx,
            tenant,
            m.channel,
            channel.bot_id,
            None,
            Some(contact),
            m.to,
            r.message_type,
            m.text,
            &request,
            None,
        )?;
        first.get_or_insert(id);
    }
    first.ok_or_else(|| AppError::validation("text", "nothing to send"))
}
