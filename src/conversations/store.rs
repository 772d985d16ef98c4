//! SQL of conversations, transcripts (`widget_messages`) and usage counts.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{ConvEntry, Conversation, ConversationId, Message};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, OrgId, UserId};

const ENTRY_COLUMNS: &str = "id, organization_id, bot_id, channel, external_user_id, status, state, team_id, \
                             assignee_user_id, csat, resolution, handoff_at, closed_at, created_at";

/// A conversation by its channel identity.
pub fn find_by_key(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    channel: &str,
    external_user_id: &str,
) -> rusqlite::Result<Option<ConvEntry>> {
    query_opt(
        conn,
        &format!(
            "SELECT {ENTRY_COLUMNS} FROM conversations
             WHERE bot_id = ?2 AND channel = ?3 AND external_user_id = ?4 AND organization_id = ?1"
        ),
        params![tenant.org_id(), bot, channel, external_user_id],
    )
}

pub fn load(conn: &Connection, tenant: &Tenant, id: ConversationId) -> rusqlite::Result<Option<ConvEntry>> {
    query_opt(
        conn,
        &format!("SELECT {ENTRY_COLUMNS} FROM conversations WHERE id = ?2 AND organization_id = ?1"),
        params![tenant.org_id(), id],
    )
}

/// Creates the conversation unless it exists; returns it and whether it is new.
pub fn create(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    channel: &str,
    external_user_id: &str,
    state: &str,
) -> rusqlite::Result<(ConvEntry, bool)> {
    let inserted: Option<ConversationId> = conn
        .query_row(
            "INSERT INTO conversations (organization_id, bot_id, channel, external_user_id, state)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (bot_id, channel, external_user_id) DO NOTHING RETURNING id",
            params![tenant.org_id(), bot, channel, external_user_id, state],
            |r| r.get(0),
        )
        .optional()?;
    let entry =
        find_by_key(conn, tenant, bot, channel, external_user_id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    Ok((entry, inserted.is_some()))
}

const SUMMARY: &str = "SELECT c.id, c.bot_id, b.name AS bot_name, c.channel, c.external_user_id, c.status,
        c.assignee_user_id, u.name AS assignee_name, c.team_id, c.csat, c.resolution, c.message_count, c.last_message_at,
        (SELECT substr(m.content, 1, 160) FROM widget_messages m
          WHERE m.organization_id = c.organization_id AND m.conversation_id = c.id AND m.role <> 'note'
          ORDER BY m.id DESC LIMIT 1) AS last_message,
        c.handoff_at, c.closed_at, c.created_at
   FROM conversations c JOIN bots b ON b.id = c.bot_id LEFT JOIN users u ON u.id = c.assignee_user_id";

pub fn summary(conn: &Connection, tenant: &Tenant, id: ConversationId) -> rusqlite::Result<Option<Conversation>> {
    query_opt(conn, &format!("{SUMMARY} WHERE c.organization_id = ?1 AND c.id = ?2"), params![tenant.org_id(), id])
}

/// The state JSON of a conversation.
pub fn state_json(conn: &Connection, tenant: &Tenant, id: ConversationId) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT state FROM conversations WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id],
        |r| r.get(0),
    )
    .optional()
}

/// Filters of a bot's conversation list.
pub struct ListFilter<'a> {
    pub status: Option<&'a str>,
    pub channel: Option<&'a str>,
    /// A `LIKE` pattern with `\` as escape.
    pub like: Option<String>,
    pub include_emulator: bool,
}

pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    f: &ListFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Conversation>> {
    query_all(
        conn,
        &format!(
            "{SUMMARY} WHERE c.organization_id = ?1 AND c.bot_id = ?2 AND (?3 IS NULL OR c.status = ?3)
               AND (?4 IS NULL OR c.channel = ?4) AND (?5 OR c.channel <> 'emulator') AND (?6 IS NULL OR c.id < ?6)
               AND (?7 IS NULL OR EXISTS (SELECT 1 FROM widget_messages m WHERE m.organization_id = c.organization_id
                      AND m.conversation_id = c.id AND m.content LIKE ?7 ESCAPE '\\'))
             ORDER BY c.id DESC LIMIT ?8"
        ),
        params![tenant.org_id(), bot, f.status, f.channel, f.include_emulator, before, f.like, limit],
    )
}

/// Conversations waiting for or with a human agent. `teams`: the teams the
/// caller may see (`None`: all); `team`: one team only; `mine`: assigned to.
pub fn inbox(
    conn: &Connection,
    tenant: &Tenant,
    teams: Option<&[i64]>,
    team: Option<i64>,
    mine: Option<UserId>,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Conversation>> {
    let teams_json = teams.map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()));
    query_all(
        conn,
        &format!(
            "{SUMMARY} WHERE c.organization_id = ?1 AND c.status = 'handoff'
               AND (?2 IS NULL OR c.team_id IS NULL OR c.team_id IN (SELECT value FROM json_each(?2)))
               AND (?3 IS NULL OR c.team_id = ?3) AND (?4 IS NULL OR c.assignee_user_id = ?4)
               AND (?5 IS NULL OR c.id > ?5)
             ORDER BY c.id LIMIT ?6"
        ),
        params![tenant.org_id(), teams_json, team, mine, after, limit],
    )
}

/// The teams a user belongs to.
pub fn user_teams(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT team_id FROM team_members WHERE organization_id = ?1 AND user_id = ?2 AND status = 'active'",
    )?;
    stmt.query_map(params![tenant.org_id(), user], |r| r.get(0))?.collect()
}

/// Whether `team` is a team of the tenant.
pub fn team_exists(conn: &Connection, tenant: &Tenant, team: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM teams WHERE organization_id = ?1 AND id = ?2)",
        params![tenant.org_id(), team],
        |r| r.get(0),
    )
}

const MESSAGE: &str = "SELECT m.id, m.role, m.content, m.payload, m.author_user_id, u.name AS author_name, m.created_at
   FROM widget_messages m LEFT JOIN users u ON u.id = m.author_user_id";

/// Transcript messages in order, after the cursor id.
pub fn transcript(
    conn: &Connection,
    tenant: &Tenant,
    conversation: ConversationId,
    include_notes: bool,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Message>> {
    query_all(
        conn,
        &format!(
            "{MESSAGE} WHERE m.organization_id = ?1 AND m.conversation_id = ?2 AND (?3 OR m.role <> 'note')
               AND (?4 IS NULL OR m.id > ?4)
             ORDER BY m.id LIMIT ?5"
        ),
        params![tenant.org_id(), conversation, include_notes, after, limit],
    )
}

/// One stored message.
pub fn message(conn: &Connection, tenant: &Tenant, id: i64) -> rusqlite::Result<Option<Message>> {
    query_opt(conn, &format!("{MESSAGE} WHERE m.organization_id = ?1 AND m.id = ?2"), params![tenant.org_id(), id])
}

// ---- Writes of the group-commit writer (tenant already checked) ---------

/// Inserts a transcript message and returns its id.
#[allow(clippy::too_many_arguments, reason = "one column each")]
pub fn insert_message(
    conn: &Connection,
    org: OrgId,
    bot: BotId,
    conversation: ConversationId,
    session: &str,
    role: &str,
    content: &str,
    payload: &str,
    author: Option<UserId>,
    created_at: &str,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content, payload,
                                      author_user_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
    )?
    .query_row(params![org, bot, conversation, session, role, content, payload, author, created_at], |r| r.get(0))
}

/// Writes the runtime's copy of a conversation back to its row.
pub fn update_conversation(conn: &Connection, e: &ConvEntry, state: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE conversations SET status = ?3, state = ?4, team_id = ?5, assignee_user_id = ?6, csat = ?7,
                resolution = ?8, handoff_at = ?9, closed_at = ?10
         WHERE id = ?1 AND organization_id = ?2",
    )?
    .execute(params![
        e.id,
        e.org_id,
        e.status.as_str(),
        state,
        e.team_id,
        e.assignee,
        e.csat,
        e.resolution,
        e.handoff_at,
        e.closed_at
    ])
}

/// Adds to a daily usage counter (the origin's `track_usage`).
pub fn add_usage(
    conn: &Connection,
    org: OrgId,
    bot: Option<BotId>,
    metric: &str,
    day: &str,
    n: i64,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO usage_tracking (organization_id, bot_id, metric_type, day, count) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (organization_id, ifnull(bot_id, 0), metric_type, day) DO UPDATE SET count = count + excluded.count",
    )?
    .execute(params![org, bot, metric, day, n])?;
    Ok(())
}

/// This month's count of a metric for an organization (days from `first_day`).
pub fn month_usage(conn: &Connection, org: OrgId, metric: &str, first_day: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE organization_id = ?1 AND metric_type = ?2 AND day >= ?3",
        params![org, metric, first_day],
        |r| r.get(0),
    )
}

/// The organization's monthly message allowance (-1 unlimited).
pub fn message_limit(conn: &Connection, org: OrgId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce((SELECT p.max_messages_per_month FROM organizations o JOIN subscription_plans p ON p.name = o.plan_tier
                          WHERE o.id = ?1), -1)",
        [org],
        |r| r.get(0),
    )
}

/// Whether a job with this idempotency key exists (alerts sent this month).
pub fn job_key_exists(conn: &Connection, key: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM jobs WHERE idempotency_key = ?1)", [key], |r| r.get(0))
}

/// An activity feed row.
pub fn activity(
    conn: &Connection,
    org: OrgId,
    action: &str,
    entity_type: &str,
    entity_id: Option<i64>,
    changes: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO activity_logs (organization_id, action, entity_type, entity_id, changes) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![org, action, entity_type, entity_id, changes])?;
    Ok(())
}
