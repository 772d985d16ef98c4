//! SQL of bots.

use rusqlite::{Connection, params};

use super::model::Bot;
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::BotId;

const BOT_COLUMNS: &str = "id, organization_id, name, description, language, is_active, widget_key, \
                           total_messages_received, total_messages_sent, created_at, updated_at";

/// A new bot's fields.
pub struct NewBot<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub language: &'a str,
    pub widget_key: &'a str,
}

pub fn insert(conn: &Connection, tenant: &Tenant, bot: &NewBot<'_>) -> rusqlite::Result<BotId> {
    conn.query_row(
        "INSERT INTO bots (organization_id, created_by, name, description, language, widget_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), tenant.user_id(), bot.name, bot.description, bot.language, bot.widget_key],
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

/// The fields a PATCH may change (already validated).
pub struct BotChanges<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub language: &'a str,
    pub is_active: bool,
}

pub fn update(conn: &Connection, tenant: &Tenant, id: BotId, c: &BotChanges<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE bots SET name = ?3, description = ?4, language = ?5, is_active = ?6 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), c.name, c.description, c.language, c.is_active],
    )?;
    Ok(())
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: BotId) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM bots WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])? == 1)
}
