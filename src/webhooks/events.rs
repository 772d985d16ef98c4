//! The conversation events of a turn, emitted by the runtime's turn writer
//! in the turn's transaction: `conversation.started` (the first stored
//! message of a conversation), `message.received` / `message.sent`,
//! `handoff.requested` and `conversation.closed` (status changes).

use rusqlite::{Connection, OptionalExtension};
use serde_json::json;

use super::model::Event;
use super::service::emit;
use crate::conversations::model::{ConvStatus, Message, Role};
use crate::conversations::runtime::writer::TurnWrite;
use crate::error::AppResult;

/// The conversation before the turn; `None` when the organization has no
/// active webhook (then the turn costs one indexed lookup and nothing more).
pub struct Before {
    status: Option<String>,
    had_messages: bool,
}

/// Reads what the turn will change; call before the turn's writes.
pub fn before(tx: &Connection, w: &TurnWrite) -> AppResult<Option<Before>> {
    let listening: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM webhooks WHERE organization_id = ?1 AND is_active = 1)")?
        .query_row([w.org], |r| r.get(0))?;
    if !listening && !crate::autonomous::service::listens(tx, w.org)? {
        return Ok(None);
    }
    let status: Option<String> = tx
        .prepare_cached("SELECT status FROM conversations WHERE id = ?1 AND organization_id = ?2")?
        .query_row(rusqlite::params![w.conversation, w.org], |r| r.get(0))
        .optional()?;
    let had_messages: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM widget_messages WHERE organization_id = ?1 AND conversation_id = ?2)",
        )?
        .query_row(rusqlite::params![w.org, w.conversation], |r| r.get(0))?;
    Ok(Some(Before { status, had_messages }))
}

/// Emits the turn's events; call after its writes, in the same transaction.
pub fn after(tx: &Connection, w: &TurnWrite, before: Option<Before>, stored: &[Message]) -> AppResult<()> {
    let Some(before) = before else { return Ok(()) };
    let base = json!({ "conversation_id": w.conversation, "bot_id": w.bot, "organization_id": w.org });
    let with = |extra: serde_json::Value| {
        let mut data = base.clone();
        if let (Some(d), Some(e)) = (data.as_object_mut(), extra.as_object()) {
            d.extend(e.clone());
        }
        data
    };
    let channel = w.entry.as_ref().map(|(e, _)| e.channel.clone());
    if !before.had_messages && !stored.is_empty() {
        emit(tx, w.org, Event::ConversationStarted, with(json!({ "channel": channel })))?;
    }
    for m in stored {
        let event = match m.role {
            Role::User => Event::MessageReceived,
            Role::Bot | Role::Agent => Event::MessageSent,
            Role::System | Role::Note => continue,
        };
        let mut data = json!({ "message_id": m.id, "role": m.role.as_str(), "text": m.text, "channel": channel,
                               "author_user_id": m.author_user_id, "created_at": m.created_at });
        // Files (download with an API token: `GET /api/v1/files/{file_id}`).
        if !m.parts.attachments.is_empty() {
            data["attachments"] = json!(m.parts.attachments);
        }
        emit(tx, w.org, event, with(data))?;
    }
    if let Some((entry, _)) = &w.entry
        && before.status.as_deref() != Some(entry.status.as_str())
    {
        match entry.status {
            ConvStatus::Handoff => {
                emit(tx, w.org, Event::HandoffRequested, with(json!({ "team_id": entry.team_id })))?;
            }
            ConvStatus::Closed => {
                emit(
                    tx,
                    w.org,
                    Event::ConversationClosed,
                    with(json!({ "resolution": entry.resolution, "csat": entry.csat })),
                )?;
            }
            ConvStatus::Open => {}
        }
    }
    Ok(())
}
