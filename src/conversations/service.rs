//! Conversations through the API, the emulator and the handoff inbox.

use serde_json::Value;

use super::model::{
    AgentReplyRequest, AgentTextRequest, AssignRequest, CloseRequest, ConvStatus, Conversation, ConversationFilter,
    ConversationId, EmulatorRequest, EmulatorSource, HandoffRequest, InboxFilter, Message, ReplayReport, ReplayTurn,
    Role, StartConversationRequest, TurnResponse,
};
use super::model::{
    CannedReply, CannedReplyId, CannedReplyPatch, CannedReplyRequest, MarkReadRequest, UnreadSummary, VisitorInfo,
};
use super::runtime::{ActArgs, ActResult, Action, ConvRef, check_message};
use super::store::{self, InboxQuery, InboxStatus, ListFilter};
use super::visitor;
use crate::app::AppState;
use crate::crypto::random_token;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::flows::service::Source;
use crate::http::{Page, PageParams, Tenant};
use crate::ids::{BotId, UserId};
use crate::permissions::Permission;

fn not_found() -> AppError {
    AppError::new(ErrorCode::ConversationNotFound, "no such conversation")
}

fn response(r: ActResult) -> TurnResponse {
    TurnResponse {
        conversation_id: r.entry.id,
        status: r.entry.status,
        message: r.message,
        replies: r.replies,
        trace: r.trace,
    }
}

/// The bot of a conversation (from the runtime's cache when it has it).
async fn bot_of(state: &AppState, tenant: &Tenant, id: ConversationId) -> AppResult<(BotId, String)> {
    let t = tenant.clone();
    state
        .db
        .read(move |c| {
            let e = store::load(c, &t, id)?.ok_or_else(not_found)?;
            Ok((e.bot_id, e.channel))
        })
        .await
}

fn check_external_id(raw: &str) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
        return Err(AppError::validation("external_user_id", "1–200 characters, no control characters"));
    }
    Ok(t.to_owned())
}

/// Starts (or continues) an API conversation of a bot.
pub async fn start(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: StartConversationRequest,
) -> AppResult<TurnResponse> {
    let max = state.runtime.config().max_message_chars;
    let text = req.text.as_deref().map(|t| check_message(t, max)).transpose()?;
    let external = match req.external_user_id.as_deref() {
        Some(e) => check_external_id(e)?,
        None => format!("api-{}", random_token(16)),
    };
    let action = match text {
        Some(t) => Action::Message(t),
        None => Action::Start,
    };
    let r = state
        .runtime
        .act(
            state,
            ActArgs {
                tenant,
                bot,
                conversation: ConvRef::Key { channel: "api".into(), external_user_id: external, create: true },
                action,
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: None,
            },
        )
        .await?;
    Ok(response(r.without_notes()))
}

/// An end-user message in an existing conversation.
pub async fn send(state: &AppState, tenant: Tenant, id: ConversationId, text: String) -> AppResult<TurnResponse> {
    let text = check_message(&text, state.runtime.config().max_message_chars)?;
    let (bot, channel) = bot_of(state, &tenant, id).await?;
    let emulator = channel == "emulator";
    let source = if emulator { emulator_source(state, &tenant, id).await? } else { Source::Published };
    let r = state
        .runtime
        .act(
            state,
            ActArgs {
                tenant,
                bot,
                conversation: ConvRef::Id(id),
                action: Action::Message(text),
                source,
                debug: emulator,
                count_usage: !emulator,
                hook: None,
            },
        )
        .await?;
    Ok(response(if emulator { r } else { r.without_notes() }))
}

async fn emulator_source(state: &AppState, tenant: &Tenant, id: ConversationId) -> AppResult<Source> {
    let t = tenant.clone();
    let json = state.db.read(move |c| Ok(store::state_json(c, &t, id)?)).await?.unwrap_or_default();
    let v: Value = serde_json::from_str(&json).unwrap_or(Value::Null);
    Ok(if v.get("source").and_then(Value::as_str) == Some("draft") { Source::Draft } else { Source::Published })
}

/// A turn in the emulator (draft or published flows), with the debugger's trace.
pub async fn emulate(state: &AppState, tenant: Tenant, bot: BotId, req: EmulatorRequest) -> AppResult<TurnResponse> {
    let max = state.runtime.config().max_message_chars;
    let text = req.text.as_deref().map(|t| check_message(t, max)).transpose()?;
    let (conversation, source) = if let Some(id) = req.conversation_id {
        let (owner, channel) = bot_of(state, &tenant, id).await?;
        if owner != bot || channel != "emulator" {
            return Err(AppError::validation("conversation_id", "not an emulator conversation of this bot"));
        }
        (ConvRef::Id(id), emulator_source(state, &tenant, id).await?)
    } else {
        let user = tenant.user_id().map_or(0, |u| u.0);
        let source = match req.source.unwrap_or(EmulatorSource::Draft) {
            EmulatorSource::Draft => Source::Draft,
            EmulatorSource::Published => Source::Published,
        };
        let key = ConvRef::Key {
            channel: "emulator".into(),
            external_user_id: format!("emulator-{user}-{}", random_token(8)),
            create: true,
        };
        (key, source)
    };
    let action = match text {
        Some(t) => Action::Message(t),
        None => Action::Start,
    };
    let r = state
        .runtime
        .act(state, ActArgs { tenant, bot, conversation, action, source, debug: true, count_usage: false, hook: None })
        .await?;
    Ok(response(r))
}

/// A bot's conversations, newest first.
pub async fn list(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    filter: ConversationFilter,
    page: PageParams,
) -> AppResult<Page<Conversation>> {
    if let Some(s) = filter.status.as_deref()
        && ConvStatus::parse(s).is_none()
    {
        return Err(AppError::validation("status", "open, handoff or closed"));
    }
    let like = match filter.q.as_deref().map(str::trim) {
        Some(q) if q.chars().count() > 200 => return Err(AppError::validation("q", "at most 200 characters")),
        Some("") | None => None,
        Some(q) => Some(format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))),
    };
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            let f = ListFilter {
                status: filter.status.as_deref(),
                channel: filter.channel.as_deref(),
                like,
                include_emulator: filter.include_emulator.unwrap_or(false)
                    || filter.channel.as_deref() == Some("emulator"),
            };
            Ok(store::list(c, &tenant, bot, &f, before, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |c| c.id.0)
}

/// One conversation with its flow state and what is known of the visitor.
pub async fn get(state: &AppState, tenant: Tenant, id: ConversationId) -> AppResult<Conversation> {
    state
        .db
        .read(move |c| {
            let mut conv = store::summary(c, &tenant, id)?.ok_or_else(not_found)?;
            conv.state = store::state_json(c, &tenant, id)?.and_then(|s| serde_json::from_str(&s).ok());
            let info: VisitorInfo =
                store::visitor_json(c, &tenant, id)?.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_default();
            let empty = serde_json::Map::new();
            let vars = conv.state.as_ref().and_then(|s| s.get("vars")).and_then(Value::as_object).unwrap_or(&empty);
            conv.visitor = Some(visitor::visitor(&info, vars, &conv.channel, &conv.created_at));
            Ok(conv)
        })
        .await
}

/// The transcript (with agents' notes), oldest first.
pub async fn transcript(
    state: &AppState,
    tenant: Tenant,
    id: ConversationId,
    page: PageParams,
) -> AppResult<Page<Message>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::transcript(c, &tenant, id, true, after, limit)?)).await?;
    Page::from_rows(rows, &page, |m| m.id)
}

async fn user_name(state: &AppState, user: UserId) -> AppResult<Option<String>> {
    state
        .db
        .read(move |c| {
            Ok(c.query_row("SELECT name FROM users WHERE id = ?1", [user], |r| r.get::<_, Option<String>>(0))
                .unwrap_or(None))
        })
        .await
}

async fn agent(state: &AppState, tenant: Tenant, id: ConversationId, action: Action) -> AppResult<TurnResponse> {
    let (bot, _) = bot_of(state, &tenant, id).await?;
    let t = tenant.clone();
    let r = state
        .runtime
        .act(
            state,
            ActArgs {
                tenant,
                bot,
                conversation: ConvRef::Id(id),
                action,
                source: Source::Published,
                debug: false,
                count_usage: true,
                hook: None,
            },
        )
        .await?;
    // Conversations from a messaging channel get the agent's messages (and
    // the bot's, after a hand-back) through the channel's outbound queue.
    crate::channels::service::forward(state, &t, id, &r.replies).await?;
    Ok(response(r))
}

fn actor(tenant: &Tenant) -> AppResult<UserId> {
    tenant.user_id().ok_or_else(|| AppError::new(ErrorCode::Forbidden, "an agent action needs a user"))
}

fn agent_text(raw: &str) -> AppResult<String> {
    check_message(raw, 4000)
}

/// An agent takes a conversation (or gives it to another agent).
pub async fn assign(
    state: &AppState,
    tenant: Tenant,
    id: ConversationId,
    req: AssignRequest,
) -> AppResult<TurnResponse> {
    let me = actor(&tenant)?;
    let user = req.user_id.unwrap_or(me);
    if user != me {
        let t = tenant.clone();
        let can_handle = state
            .db
            .read(move |c| {
                Ok(crate::orgs::store::membership(c, t.org_id(), user)?
                    .is_some_and(|m| m.active && m.permissions.contains(Permission::ConversationsHandle)))
            })
            .await?;
        if !can_handle {
            return Err(AppError::validation("user_id", "not a member who may handle conversations"));
        }
    }
    let name = user_name(state, user).await?;
    agent(state, tenant, id, Action::Assign { user, name }).await
}

/// An agent writes to the end user (delivered through the conversation's channel).
pub async fn reply(
    state: &AppState,
    tenant: Tenant,
    id: ConversationId,
    req: AgentReplyRequest,
) -> AppResult<TurnResponse> {
    let author = actor(&tenant)?;
    let text =
        if req.text.trim().is_empty() && !req.attachments.is_empty() { String::new() } else { agent_text(&req.text)? };
    let attachments = crate::files::service::attachments(state, &tenant, req.attachments).await?;
    let name = user_name(state, author).await?;
    agent(state, tenant, id, Action::AgentReply { text, attachments, author, name }).await
}

/// An agent's upload, to attach to a reply: checked and stored; the
/// attachment to send with `reply`.
pub async fn upload(
    state: &AppState,
    tenant: Tenant,
    id: ConversationId,
    data: Vec<u8>,
    name: Option<String>,
) -> AppResult<crate::files::model::Attachment> {
    let author = actor(&tenant)?;
    bot_of(state, &tenant, id).await?;
    crate::files::service::store_checked(state, tenant.org_id(), data, name, Some(author)).await
}

/// An internal note for agents.
pub async fn note(
    state: &AppState,
    tenant: Tenant,
    id: ConversationId,
    req: AgentTextRequest,
) -> AppResult<TurnResponse> {
    let author = actor(&tenant)?;
    let text = agent_text(&req.text)?;
    let name = user_name(state, author).await?;
    agent(state, tenant, id, Action::Note { text, author, name }).await
}

/// Moves a conversation to the inbox.
pub async fn handoff(
    state: &AppState,
    tenant: Tenant,
    id: ConversationId,
    req: HandoffRequest,
) -> AppResult<TurnResponse> {
    let author = actor(&tenant)?;
    let note = req.note.as_deref().map(agent_text).transpose()?;
    agent(state, tenant, id, Action::Handoff { note, author }).await
}

/// Gives a conversation back to the bot.
pub async fn handback(state: &AppState, tenant: Tenant, id: ConversationId) -> AppResult<TurnResponse> {
    agent(state, tenant, id, Action::Handback).await
}

/// Closes a conversation (asks for CSAT when the bot is set to).
pub async fn close(state: &AppState, tenant: Tenant, id: ConversationId, req: CloseRequest) -> AppResult<TurnResponse> {
    let resolution = match req.resolution.as_deref().map(str::trim) {
        Some(r) if r.chars().count() > 500 => return Err(AppError::validation("resolution", "at most 500 characters")),
        Some("") | None => None,
        Some(r) => Some(r.to_owned()),
    };
    agent(state, tenant, id, Action::Close { resolution }).await
}

/// Shows the agent as typing (or not) to the end user.
pub async fn typing(state: &AppState, tenant: Tenant, id: ConversationId, typing: bool) -> AppResult<()> {
    bot_of(state, &tenant, id).await?;
    state.runtime.typing(id, Role::Agent, typing);
    Ok(())
}

/// The teams whose conversations the caller sees in the inbox (`None`: all).
pub async fn visible_teams(state: &AppState, tenant: &Tenant) -> AppResult<Option<Vec<i64>>> {
    if tenant.can(Permission::MembersManage) {
        return Ok(None);
    }
    let Some(user) = tenant.user_id() else { return Ok(None) };
    let t = tenant.clone();
    Ok(Some(state.db.read(move |c| Ok(store::user_teams(c, &t, user)?)).await?))
}

fn like_pattern(q: Option<&str>) -> AppResult<Option<String>> {
    match q.map(str::trim) {
        Some(q) if q.chars().count() > 200 => Err(AppError::validation("q", "at most 200 characters")),
        Some("") | None => Ok(None),
        Some(q) => Ok(Some(format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))),
    }
}

/// The inbox across every bot of the organization: by default the
/// conversations waiting for or with a human (oldest first); closed and open
/// ones newest first. Emulator conversations only when asked for.
pub async fn inbox(
    state: &AppState,
    tenant: Tenant,
    filter: InboxFilter,
    page: PageParams,
) -> AppResult<Page<Conversation>> {
    let status = match (filter.status.as_deref(), filter.mine.unwrap_or(false)) {
        (None, true) => InboxStatus::Mine,
        (None, false) => InboxStatus::Handoff,
        (Some(s), _) => InboxStatus::parse(s)
            .ok_or_else(|| AppError::validation("status", "waiting, assigned, mine, closed, open or handoff"))?,
    };
    if let Some(ch) = filter.channel.as_deref()
        && (ch.is_empty() || ch.len() > 20 || !ch.bytes().all(|b| b.is_ascii_lowercase()))
    {
        return Err(AppError::validation("channel", "a channel name such as widget, api or telegram"));
    }
    let like = like_pattern(filter.q.as_deref())?;
    let teams = visible_teams(state, &tenant).await?;
    let cursor = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let user = tenant.user_id().map_or(0, |u| u.0);
    let rows = state
        .db
        .read(move |c| {
            let q = InboxQuery {
                teams: teams.as_deref(),
                team: filter.team_id,
                bot: filter.bot_id,
                status,
                channel: filter.channel.as_deref(),
                like,
                include_emulator: filter.include_emulator.unwrap_or(false)
                    || filter.channel.as_deref() == Some("emulator"),
                user,
            };
            Ok(store::inbox(c, &tenant, &q, cursor, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |c| c.id.0)
}

/// The caller's unread visitor messages in the inbox (the sidebar badge).
pub async fn unread(state: &AppState, tenant: Tenant) -> AppResult<UnreadSummary> {
    let teams = visible_teams(state, &tenant).await?;
    let user = tenant.user_id().map_or(0, |u| u.0);
    let (unread, conversations) =
        state.db.read(move |c| Ok(store::unread_summary(c, &tenant, teams.as_deref(), user)?)).await?;
    Ok(UnreadSummary { unread, conversations })
}

/// Moves the caller's read marker of a conversation.
pub async fn mark_read(state: &AppState, tenant: Tenant, id: ConversationId, req: MarkReadRequest) -> AppResult<()> {
    let user = actor(&tenant)?;
    if req.message_id.is_some_and(|m| m < 0) {
        return Err(AppError::validation("message_id", "a message id of this conversation"));
    }
    state
        .db
        .write(move |tx| {
            store::load(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::mark_read(tx, &tenant, id, user.0, req.message_id)?;
            Ok(())
        })
        .await
}

// ---- Canned replies ---------------------------------------------------------

fn canned_not_found() -> AppError {
    AppError::new(ErrorCode::CannedReplyNotFound, "no such canned reply")
}

fn check_shortcut(raw: &str) -> AppResult<String> {
    let s = raw.trim().trim_start_matches('/').to_lowercase();
    let ok = (1..=40).contains(&s.chars().count())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(s)
    } else {
        Err(AppError::validation("shortcut", "1–40 characters: letters, digits, - and _ (typed after /)"))
    }
}

fn check_canned_text(raw: &str) -> AppResult<String> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > 4000 {
        return Err(AppError::validation("text", "1–4000 characters"));
    }
    Ok(t.to_owned())
}

fn taken(shortcut: &str) -> AppError {
    AppError::new(ErrorCode::ShortcutTaken, format!("another canned reply is /{shortcut}"))
        .with_details(serde_json::json!({ "field": "shortcut" }))
}

/// The organization's canned replies.
pub async fn canned_replies(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<CannedReply>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::canned_replies(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |r| r.id.0)
}

/// Saves a new canned reply.
pub async fn create_canned_reply(state: &AppState, tenant: Tenant, req: CannedReplyRequest) -> AppResult<CannedReply> {
    let shortcut = check_shortcut(&req.shortcut)?;
    let text = check_canned_text(&req.text)?;
    state
        .db
        .write(move |tx| {
            if store::shortcut_taken(tx, &tenant, &shortcut, None)? {
                return Err(taken(&shortcut));
            }
            let id = store::insert_canned_reply(tx, &tenant, &shortcut, &text, tenant.user_id())?;
            store::canned_reply(tx, &tenant, id)?.ok_or_else(canned_not_found)
        })
        .await
}

/// Changes a canned reply's shortcut or text.
pub async fn update_canned_reply(
    state: &AppState,
    tenant: Tenant,
    id: CannedReplyId,
    req: CannedReplyPatch,
) -> AppResult<CannedReply> {
    let shortcut = req.shortcut.as_deref().map(check_shortcut).transpose()?;
    let text = req.text.as_deref().map(check_canned_text).transpose()?;
    state
        .db
        .write(move |tx| {
            if let Some(s) = shortcut.as_deref()
                && store::shortcut_taken(tx, &tenant, s, Some(id))?
            {
                return Err(taken(s));
            }
            if store::update_canned_reply(tx, &tenant, id, shortcut.as_deref(), text.as_deref())? == 0 {
                return Err(canned_not_found());
            }
            store::canned_reply(tx, &tenant, id)?.ok_or_else(canned_not_found)
        })
        .await
}

/// Deletes a canned reply.
pub async fn delete_canned_reply(state: &AppState, tenant: Tenant, id: CannedReplyId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            if store::delete_canned_reply(tx, &tenant, id)? == 0 {
                return Err(canned_not_found());
            }
            Ok(())
        })
        .await
}

/// Replays the end user's messages of a transcript against the draft flows.
pub async fn replay(state: &AppState, tenant: Tenant, id: ConversationId) -> AppResult<ReplayReport> {
    let (bot, channel) = bot_of(state, &tenant, id).await?;
    let t = tenant.clone();
    let messages = state.db.read(move |c| Ok(store::transcript(c, &t, id, false, None, 10_000)?)).await?;
    let mut turns: Vec<(String, Vec<String>)> = Vec::new();
    for m in messages {
        match m.role {
            Role::User => turns.push((m.text, Vec::new())),
            Role::Bot => {
                if let Some(last) = turns.last_mut() {
                    last.1.push(m.text);
                }
            }
            _ => {}
        }
    }
    if turns.len() > 200 {
        turns.truncate(200);
    }
    let texts: Vec<String> = turns.iter().map(|(u, _)| u.clone()).collect();
    let replayed = state.runtime.replay(state, &tenant, bot, &channel, &texts).await?;
    let mut out = Vec::new();
    for ((user, original), (replies, trace)) in turns.into_iter().zip(replayed) {
        let replayed: Vec<String> = replies.into_iter().map(|r| r.text).collect();
        out.push(ReplayTurn { same: original == replayed, user, original, replayed, trace });
    }
    let differing_turns = out.iter().filter(|t| !t.same).count();
    Ok(ReplayReport { conversation_id: id, turns: out, differing_turns })
}
