//! SQL of conversations, transcripts (`widget_messages`) and usage counts.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{CannedReply, CannedReplyId, ConvEntry, Conversation, ConversationId, Message};
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

/// The columns of [`Conversation`] (a macro so that queries can `concat!` it).
macro_rules! summary_columns {
    () => {
        "c.id, c.bot_id, b.name AS bot_name, c.channel, c.external_user_id, c.status,
        c.assignee_user_id, u.name AS assignee_name, c.team_id, c.csat, c.resolution, c.message_count, c.last_message_at,
        (SELECT CASE WHEN m.content = '' AND json_type(m.payload, '$.attachments[0]') IS NOT NULL
                     THEN '📎 ' || json_extract(m.payload, '$.attachments[0].name')
                     ELSE substr(m.content, 1, 160) END
           FROM widget_messages m
          WHERE m.organization_id = c.organization_id AND m.conversation_id = c.id AND m.role <> 'note'
          ORDER BY m.id DESC LIMIT 1) AS last_message,
        c.handoff_at, c.closed_at, c.created_at"
    };
}
macro_rules! summary_from {
    () => {
        "FROM conversations c JOIN bots b ON b.id = c.bot_id LEFT JOIN users u ON u.id = c.assignee_user_id"
    };
}
const SUMMARY: &str = concat!("SELECT ", summary_columns!(), " ", summary_from!());

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

/// Visitor messages after the reader's marker (`?1` org, `?U` = the parameter named in `reader`).
macro_rules! unread_for {
    ($reader:literal) => {
        concat!(
            "(SELECT count(*) FROM widget_messages m WHERE m.organization_id = c.organization_id
                AND m.conversation_id = c.id AND m.role = 'user'
                AND m.id > coalesce((SELECT r.last_read_message_id FROM conversation_reads r
                      WHERE r.organization_id = c.organization_id AND r.conversation_id = c.id AND r.user_id = ",
            $reader,
            "), 0))"
        )
    };
}

/// Which conversations the inbox lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    /// In handoff, waiting or assigned (the default).
    Handoff,
    Waiting,
    Assigned,
    Mine,
    Closed,
    Open,
}

impl InboxStatus {
    #[must_use]
    pub fn parse(s: &str) -> Option<InboxStatus> {
        Some(match s {
            "handoff" => InboxStatus::Handoff,
            "waiting" => InboxStatus::Waiting,
            "assigned" => InboxStatus::Assigned,
            "mine" => InboxStatus::Mine,
            "closed" => InboxStatus::Closed,
            "open" => InboxStatus::Open,
            _ => return None,
        })
    }

    fn code(self) -> &'static str {
        match self {
            InboxStatus::Handoff => "handoff",
            InboxStatus::Waiting => "waiting",
            InboxStatus::Assigned => "assigned",
            InboxStatus::Mine => "mine",
            InboxStatus::Closed => "closed",
            InboxStatus::Open => "open",
        }
    }

    /// Closed and open conversations list newest first; the queue oldest first.
    #[must_use]
    pub fn newest_first(self) -> bool {
        matches!(self, InboxStatus::Closed | InboxStatus::Open)
    }
}

/// Filters of the inbox.
pub struct InboxQuery<'a> {
    /// The teams the caller may see (`None`: all).
    pub teams: Option<&'a [i64]>,
    pub team: Option<i64>,
    pub bot: Option<i64>,
    pub status: InboxStatus,
    pub channel: Option<&'a str>,
    /// A `LIKE` pattern with `\` as escape.
    pub like: Option<String>,
    pub include_emulator: bool,
    /// The caller (unread counts, `mine`).
    pub user: i64,
}

const INBOX: &str = concat!(
    "SELECT ",
    summary_columns!(),
    ", ",
    unread_for!("?9"),
    " AS unread ",
    summary_from!(),
    " WHERE c.organization_id = ?1
       AND (?2 IS NULL OR c.team_id IS NULL OR c.team_id IN (SELECT value FROM json_each(?2)))
       AND (?3 IS NULL OR c.team_id = ?3) AND (?4 IS NULL OR c.bot_id = ?4)
       AND CASE ?5 WHEN 'handoff' THEN c.status = 'handoff'
                   WHEN 'waiting' THEN c.status = 'handoff' AND c.assignee_user_id IS NULL
                   WHEN 'assigned' THEN c.status = 'handoff' AND c.assignee_user_id IS NOT NULL
                   WHEN 'mine' THEN c.status = 'handoff' AND c.assignee_user_id = ?9
                   WHEN 'closed' THEN c.status = 'closed'
                   ELSE c.status = 'open' END
       AND (?6 IS NULL OR c.channel = ?6) AND (?7 OR c.channel <> 'emulator')
       AND (?8 IS NULL OR c.external_user_id LIKE ?8 ESCAPE '\\'
            OR EXISTS (SELECT 1 FROM widget_messages m WHERE m.organization_id = c.organization_id
                   AND m.conversation_id = c.id AND m.role <> 'note' AND m.content LIKE ?8 ESCAPE '\\'))
       AND (?10 IS NULL OR CASE WHEN ?12 THEN c.id < ?10 ELSE c.id > ?10 END)
     ORDER BY CASE WHEN ?12 THEN -c.id ELSE c.id END LIMIT ?11"
);

/// The inbox: conversations of every bot of the organization, filtered.
pub fn inbox(
    conn: &Connection,
    tenant: &Tenant,
    q: &InboxQuery<'_>,
    cursor: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Conversation>> {
    let teams_json = q.teams.map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()));
    query_all(
        conn,
        INBOX,
        params![
            tenant.org_id(),
            teams_json,
            q.team,
            q.bot,
            q.status.code(),
            q.channel,
            q.include_emulator,
            q.like,
            q.user,
            cursor,
            limit,
            q.status.newest_first()
        ],
    )
}

/// The caller's unread visitor messages: (messages, conversations), over the
/// conversations waiting for an agent or assigned to the caller that the caller
/// may see; never emulator conversations.
pub fn unread_summary(
    conn: &Connection,
    tenant: &Tenant,
    teams: Option<&[i64]>,
    user: i64,
) -> rusqlite::Result<(i64, i64)> {
    let teams_json = teams.map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()));
    conn.query_row(
        concat!(
            "SELECT coalesce(sum(n), 0), count(*) FILTER (WHERE n > 0) FROM (SELECT ",
            unread_for!("?3"),
            " AS n FROM conversations c
              WHERE c.organization_id = ?1 AND c.status = 'handoff' AND c.channel <> 'emulator'
                AND (c.assignee_user_id IS NULL OR c.assignee_user_id = ?3)
                AND (?2 IS NULL OR c.team_id IS NULL OR c.team_id IN (SELECT value FROM json_each(?2))))"
        ),
        params![tenant.org_id(), teams_json, user],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Moves the caller's read marker of a conversation forward to `upto`
/// (default, and at most: its newest message). Never moves it back.
pub fn mark_read(
    conn: &Connection,
    tenant: &Tenant,
    conversation: ConversationId,
    user: i64,
    upto: Option<i64>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO conversation_reads (organization_id, conversation_id, user_id, last_read_message_id)
         SELECT ?1, ?2, ?3, coalesce(min(?4, newest), newest, 0)
           FROM (SELECT max(id) AS newest FROM widget_messages WHERE organization_id = ?1 AND conversation_id = ?2)
          WHERE true
         ON CONFLICT (conversation_id, user_id) DO UPDATE
           SET last_read_message_id = max(last_read_message_id, excluded.last_read_message_id)",
        params![tenant.org_id(), conversation, user, upto],
    )?;
    Ok(())
}

/// The stored visitor JSON of a conversation.
pub fn visitor_json(conn: &Connection, tenant: &Tenant, id: ConversationId) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT visitor FROM conversations WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id],
        |r| r.get(0),
    )
    .optional()
}

/// Records what the widget knows about the visitor.
pub fn set_visitor(conn: &Connection, tenant: &Tenant, id: ConversationId, visitor: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE conversations SET visitor = ?3 WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, visitor],
    )
}

// ---- Canned replies -----------------------------------------------------

const CANNED: &str = "SELECT id, shortcut, text, created_by, created_at, updated_at FROM canned_replies";

/// The organization's canned replies by id, after the cursor.
pub fn canned_replies(
    conn: &Connection,
    tenant: &Tenant,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<CannedReply>> {
    query_all(
        conn,
        &format!("{CANNED} WHERE organization_id = ?1 AND (?2 IS NULL OR id > ?2) ORDER BY id LIMIT ?3"),
        params![tenant.org_id(), after, limit],
    )
}

pub fn canned_reply(conn: &Connection, tenant: &Tenant, id: CannedReplyId) -> rusqlite::Result<Option<CannedReply>> {
    query_opt(conn, &format!("{CANNED} WHERE organization_id = ?1 AND id = ?2"), params![tenant.org_id(), id])
}

/// Whether another canned reply of the organization has `shortcut`.
pub fn shortcut_taken(
    conn: &Connection,
    tenant: &Tenant,
    shortcut: &str,
    except: Option<CannedReplyId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM canned_replies WHERE organization_id = ?1 AND shortcut = ?2
                         AND (?3 IS NULL OR id <> ?3))",
        params![tenant.org_id(), shortcut, except],
        |r| r.get(0),
    )
}

pub fn insert_canned_reply(
    conn: &Connection,
    tenant: &Tenant,
    shortcut: &str,
    text: &str,
    created_by: Option<UserId>,
) -> rusqlite::Result<CannedReplyId> {
    conn.query_row(
        "INSERT INTO canned_replies (organization_id, shortcut, text, created_by) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        params![tenant.org_id(), shortcut, text, created_by],
        |r| r.get(0),
    )
}

pub fn update_canned_reply(
    conn: &Connection,
    tenant: &Tenant,
    id: CannedReplyId,
    shortcut: Option<&str>,
    text: Option<&str>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE canned_replies SET shortcut = coalesce(?3, shortcut), text = coalesce(?4, text)
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, shortcut, text],
    )
}

pub fn delete_canned_reply(conn: &Connection, tenant: &Tenant, id: CannedReplyId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM canned_replies WHERE organization_id = ?1 AND id = ?2", params![tenant.org_id(), id])
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

/// Records that a turn of the conversation visited a flow node (flow funnels).
pub fn insert_visit(
    conn: &Connection,
    org: OrgId,
    bot: BotId,
    conversation: ConversationId,
    flow: &str,
    node: &str,
    now: &str,
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO flow_node_visits (organization_id, bot_id, conversation_id, flow, node, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![org, bot, conversation, flow, node, now])?;
    Ok(())
}

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

/// This month's count of a metric for an organization (days from `first_day`).
pub fn month_usage(conn: &Connection, org: OrgId, metric: &str, first_day: &str) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT coalesce(sum(count), 0) FROM usage_tracking WHERE organization_id = ?1 AND metric_type = ?2 AND day >= ?3",
        params![org, metric, first_day],
        |r| r.get(0),
    )
}

/// The organization's monthly message allowance (-1 unlimited, or when
/// plan limits are not enforced: billing off).
pub fn message_limit(conn: &Connection, org: OrgId) -> rusqlite::Result<i64> {
    Ok(crate::billing::limits::allowance(conn, org, crate::billing::limits::Limit::MessagesPerMonth)?.unwrap_or(-1))
}

/// Whether billing's dunning restricts the organization: its subscription
/// is overdue past the grace period (`user_subscriptions.restricted_at`).
pub fn billing_restricted(conn: &Connection, org: OrgId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM user_subscriptions WHERE organization_id = ?1 AND restricted_at IS NOT NULL
                        AND status IN ('past_due', 'unpaid'))",
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
