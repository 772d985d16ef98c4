//! SQL of bots, their canned messages and avatars.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{Bot, CannedMessage, CannedMessageId};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, FileId, OrgId};

const BOT_COLUMNS: &str = "id, organization_id, name, description, language, is_active, team_id, avatar_file_id, \
                           widget_key, settings, total_messages_received, total_messages_sent, created_at, updated_at";

/// A new bot's fields.
pub struct NewBot<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub language: &'a str,
    pub widget_key: &'a str,
    pub team_id: Option<i64>,
}

pub fn insert(conn: &Connection, tenant: &Tenant, bot: &NewBot<'_>) -> rusqlite::Result<BotId> {
    conn.query_row(
        "INSERT INTO bots (organization_id, created_by, name, description, language, widget_key, team_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        params![
            tenant.org_id(),
            tenant.user_id(),
            bot.name,
            bot.description,
            bot.language,
            bot.widget_key,
            bot.team_id
        ],
        |r| r.get(0),
    )
}

pub fn find(conn: &Connection, tenant: &Tenant, id: BotId) -> rusqlite::Result<Option<Bot>> {
    query_opt(
        conn,
        &format!("SELECT {BOT_COLUMNS} FROM bots WHERE id = ?1 AND organization_id = ?2"),
        params![id, tenant.org_id()],
    )
}

/// A page of the tenant's bots, newest first, after the cursor id.
pub fn list(conn: &Connection, tenant: &Tenant, after: Option<i64>, limit: i64) -> rusqlite::Result<Vec<Bot>> {
    query_all(
        conn,
        &format!(
            "SELECT {BOT_COLUMNS} FROM bots WHERE organization_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3"
        ),
        params![tenant.org_id(), after, limit],
    )
}

/// The sentence encoder of the bot's NLU (see `Bot::nlu_encoder`); the
/// English model for a bot that does not exist (its callers 404 elsewhere).
pub fn nlu_encoder(conn: &Connection, tenant: &Tenant, id: BotId) -> rusqlite::Result<crate::ml::Encoder> {
    Ok(find(conn, tenant, id)?.map_or(crate::ml::Encoder::MiniLm, |b| b.nlu_encoder()))
}

/// The fields a PATCH may change (already validated).
pub struct BotChanges<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub language: &'a str,
    pub is_active: bool,
    pub team_id: Option<i64>,
    pub settings: &'a str,
}

pub fn update(conn: &Connection, tenant: &Tenant, id: BotId, c: &BotChanges<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE bots SET name = ?3, description = ?4, language = ?5, is_active = ?6, team_id = ?7, settings = ?8
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), c.name, c.description, c.language, c.is_active, c.team_id, c.settings],
    )?;
    Ok(())
}

/// The raw settings JSON (to keep keys other versions wrote).
pub fn settings_json(conn: &Connection, tenant: &Tenant, id: BotId) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT settings FROM bots WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
}

pub fn set_widget_key(conn: &Connection, tenant: &Tenant, id: BotId, key: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE bots SET widget_key = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), key],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: BotId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM bots WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])? == 1)
}

/// The bot and organization of a widget key (the public widget's lookup).
pub fn by_widget_key(conn: &Connection, key: &str) -> rusqlite::Result<Option<(BotId, OrgId)>> {
    conn.query_row("SELECT id, organization_id FROM bots WHERE widget_key = ?1", [key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// The teams of the organization.
pub fn team_ids(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached("SELECT id FROM teams WHERE organization_id = ?1")?;
    stmt.query_map([tenant.org_id()], |r| r.get(0))?.collect()
}

// ---- Avatars (content-addressed rows of `files`) -------------------------

/// Points the bot's avatar at a stored file (see `files::store::insert`).
pub fn set_avatar(conn: &Connection, tenant: &Tenant, bot: BotId, file: FileId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE bots SET avatar_file_id = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![bot, tenant.org_id(), file],
    )?;
    Ok(())
}

pub fn clear_avatar(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE bots SET avatar_file_id = NULL WHERE id = ?1 AND organization_id = ?2",
        params![bot, tenant.org_id()],
    )?;
    Ok(())
}

/// The bot's avatar: content type and bytes.
pub fn avatar(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Option<(String, Vec<u8>)>> {
    conn.query_row(
        "SELECT f.content_type, f.data FROM bots b JOIN files f ON f.id = b.avatar_file_id
         WHERE b.id = ?1 AND b.organization_id = ?2 AND f.organization_id = ?2",
        params![bot, tenant.org_id()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

// ---- Canned messages -------------------------------------------------------

const CANNED_COLUMNS: &str =
    "id, bot_id, message_type, content, trigger_keywords, priority, is_active, created_at, updated_at";

pub fn canned_list(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<CannedMessage>> {
    query_all(
        conn,
        &format!(
            "SELECT {CANNED_COLUMNS} FROM bot_messages WHERE organization_id = ?1 AND bot_id = ?2
             ORDER BY priority DESC, id"
        ),
        params![tenant.org_id(), bot],
    )
}

pub fn canned(conn: &Connection, tenant: &Tenant, id: CannedMessageId) -> rusqlite::Result<Option<CannedMessage>> {
    query_opt(
        conn,
        &format!("SELECT {CANNED_COLUMNS} FROM bot_messages WHERE organization_id = ?1 AND id = ?2"),
        params![tenant.org_id(), id],
    )
}

/// Fields of a canned message (validated).
pub struct CannedFields<'a> {
    pub kind: &'a str,
    pub content: &'a str,
    pub keywords: &'a str,
    pub priority: i64,
    pub is_active: bool,
}

pub fn canned_insert(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    f: &CannedFields<'_>,
) -> rusqlite::Result<CannedMessageId> {
    conn.query_row(
        "INSERT INTO bot_messages (organization_id, bot_id, message_type, content, trigger_keywords, priority, is_active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        params![tenant.org_id(), bot, f.kind, f.content, f.keywords, f.priority, f.is_active],
        |r| r.get(0),
    )
}

pub fn canned_update(
    conn: &Connection,
    tenant: &Tenant,
    id: CannedMessageId,
    f: &CannedFields<'_>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE bot_messages SET message_type = ?3, content = ?4, trigger_keywords = ?5, priority = ?6, is_active = ?7
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, f.kind, f.content, f.keywords, f.priority, f.is_active],
    )?;
    Ok(())
}

pub fn canned_delete(conn: &Connection, tenant: &Tenant, id: CannedMessageId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM bot_messages WHERE organization_id = ?1 AND id = ?2", params![tenant.org_id(), id])?
        == 1)
}
