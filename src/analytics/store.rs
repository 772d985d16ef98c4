//! SQL of analytics: the runtime's events, the hourly rollups (recomputed
//! per dirty hour), the dashboard reads and answer feedback.

use std::collections::{BTreeMap, HashMap};

use rusqlite::{Connection, OptionalExtension, params};

use super::model::MessageFeedback;
use crate::conversations::model::{ConvStatus, Message, Role};
use crate::conversations::runtime::writer::TurnWrite;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

/// Longest label kept for an event (a fallback's text).
const LABEL_MAX: usize = 500;

/// The channel that analytics leaves out (the builders' own test chats).
pub const EMULATOR: &str = "emulator";

fn seconds_between(from: &str, to: &str) -> Option<f64> {
    let a = chrono::DateTime::parse_from_rfc3339(from).ok()?;
    let b = chrono::DateTime::parse_from_rfc3339(to).ok()?;
    #[allow(clippy::cast_precision_loss, reason = "milliseconds of a reply delay")]
    Some(((b - a).num_milliseconds().max(0) as f64) / 1000.0)
}

/// Stores a turn's analytics events, and the first human reply after a
/// hand-off (seconds since the hand-off), in the turn's transaction.
pub fn record_turn(tx: &Connection, w: &TurnWrite, stored: &[Message], now: &str) -> AppResult<()> {
    let Some((entry, _)) = &w.entry else { return Ok(()) };
    if entry.channel == EMULATOR {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO analytics_events (organization_id, bot_id, conversation_id, channel, kind, value, label, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for e in &w.analytics {
        let label = e.label.as_deref().map(|l| l.chars().take(LABEL_MAX).collect::<String>());
        insert.execute(params![w.org, w.bot, w.conversation, entry.channel, e.kind, e.value, label, now])?;
    }
    if entry.status == ConvStatus::Handoff
        && let Some(handoff_at) = &entry.handoff_at
        && let Some(first) = stored.iter().find(|m| m.role == Role::Agent)
    {
        let earlier: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM widget_messages WHERE organization_id = ?1 AND conversation_id = ?2
                             AND role = 'agent' AND created_at >= ?3 AND id < ?4)",
            params![w.org, w.conversation, handoff_at, first.id],
            |r| r.get(0),
        )?;
        if !earlier && let Some(secs) = seconds_between(handoff_at, now) {
            insert.execute(params![
                w.org,
                w.bot,
                w.conversation,
                entry.channel,
                "first_reply",
                secs,
                None::<String>,
                now
            ])?;
        }
    }
    Ok(())
}

/// Up to `limit` dirty hours, oldest first.
pub fn dirty_hours(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<(OrgId, BotId, String)>> {
    let mut stmt =
        conn.prepare_cached("SELECT organization_id, bot_id, hour FROM analytics_dirty ORDER BY hour LIMIT ?1")?;
    stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
}

/// Hours waiting for the rollup job.
pub fn dirty_count(conn: &Connection, org: OrgId) -> rusqlite::Result<i64> {
    conn.query_row("SELECT count(*) FROM analytics_dirty WHERE organization_id = ?1", [org], |r| r.get(0))
}

/// The next hour (`YYYY-MM-DDTHH`) after `hour`.
fn next_hour(hour: &str) -> String {
    chrono::NaiveDateTime::parse_from_str(&format!("{hour}:00"), "%Y-%m-%dT%H:%M")
        .map_or_else(|_| format!("{hour}~"), |t| (t + chrono::Duration::hours(1)).format("%Y-%m-%dT%H").to_string())
}

#[derive(Default)]
struct Acc {
    conversations: i64,
    messages_in: i64,
    messages_out: i64,
    handoffs: i64,
    first_reply_count: i64,
    first_reply_secs: f64,
    fallbacks: i64,
    csat: [i64; 5],
    up: i64,
    down: i64,
}

/// Recomputes one bot's rollups of one UTC hour from the source rows and
/// replaces the stored ones (idempotent) with their scope sums and the end
/// users' active hours (V074), then clears the hour's dirty mark. The
/// caller rewrites the hour's day ([`super::levels::rollup_day`]) once per
/// batch. Runs inside the caller's write transaction.
#[allow(clippy::too_many_lines, reason = "one query per source table")]
pub fn rollup_hour(tx: &Connection, org: OrgId, bot: BotId, hour: &str) -> rusqlite::Result<()> {
    let (start, end) = (format!("{hour}:00:00.000Z"), format!("{}:00:00.000Z", next_hour(hour)));
    let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
    let mut users: Vec<(String, String)> = Vec::new();
    let mut intents: HashMap<(String, String), i64> = HashMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT c.channel, m.role, count(*) FROM widget_messages m JOIN conversations c ON c.id = m.conversation_id
              WHERE m.organization_id = ?1 AND m.bot_id = ?2 AND m.created_at >= ?3 AND m.created_at < ?4
                AND m.role IN ('user','bot','agent') AND c.channel <> 'emulator'
              GROUP BY 1, 2",
        )?;
        let rows = stmt.query_map(params![org, bot, start, end], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?;
        for row in rows {
            let (channel, role, n) = row?;
            let a = acc.entry(channel).or_default();
            if role == "user" {
                a.messages_in += n;
            } else {
                a.messages_out += n;
            }
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "SELECT DISTINCT c.channel,
                    CASE WHEN c.contact_id IS NOT NULL THEN 'contact:' || c.contact_id
                         ELSE c.channel || ':' || c.external_user_id END
               FROM widget_messages m JOIN conversations c ON c.id = m.conversation_id
              WHERE m.organization_id = ?1 AND m.bot_id = ?2 AND m.created_at >= ?3 AND m.created_at < ?4
                AND m.role = 'user' AND c.channel <> 'emulator'",
        )?;
        for row in stmt.query_map(params![org, bot, start, end], |r| Ok((r.get(0)?, r.get(1)?)))? {
            users.push(row?);
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "SELECT channel, kind, value, label FROM analytics_events
              WHERE organization_id = ?1 AND bot_id = ?2 AND created_at >= ?3 AND created_at < ?4",
        )?;
        let rows = stmt.query_map(params![org, bot, start, end], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<f64>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        for row in rows {
            let (channel, kind, value, label) = row?;
            if kind == "intent" {
                if let Some(l) = label {
                    *intents.entry((channel, l)).or_default() += 1;
                }
                continue;
            }
            let a = acc.entry(channel).or_default();
            match kind.as_str() {
                "session" => a.conversations += 1,
                "handoff" => a.handoffs += 1,
                "fallback" => a.fallbacks += 1,
                "first_reply" => {
                    a.first_reply_count += 1;
                    a.first_reply_secs += value.unwrap_or(0.0);
                }
                "csat" => {
                    #[allow(clippy::cast_possible_truncation, reason = "a score of 1–5")]
                    let score = value.unwrap_or(0.0).round() as i64;
                    if let Some(slot) = usize::try_from(score - 1).ok().and_then(|i| a.csat.get_mut(i)) {
                        *slot += 1;
                    }
                }
                _ => {}
            }
        }
    }
    {
        let mut stmt = tx.prepare_cached(
            "SELECT c.channel, f.rating, count(*) FROM message_feedback f JOIN conversations c ON c.id = f.conversation_id
              WHERE f.organization_id = ?1 AND f.bot_id = ?2 AND f.message_at >= ?3 AND f.message_at < ?4
                AND c.channel <> 'emulator'
              GROUP BY 1, 2",
        )?;
        let rows = stmt.query_map(params![org, bot, start, end], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
        })?;
        for row in rows {
            let (channel, rating, n) = row?;
            let a = acc.entry(channel).or_default();
            if rating == "up" {
                a.up += n;
            } else {
                a.down += n;
            }
        }
    }
    let users_before = super::levels::users_of_hour(tx, org, bot, hour)?;
    for table in ["analytics_hourly", "analytics_users", "analytics_intents"] {
        tx.prepare_cached(&format!("DELETE FROM {table} WHERE organization_id = ?1 AND bot_id = ?2 AND hour = ?3"))?
            .execute(params![org, bot, hour])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT INTO analytics_hourly (organization_id, bot_id, channel, hour, conversations, messages_in, messages_out,
            handoffs, first_reply_count, first_reply_secs, fallbacks, csat_1, csat_2, csat_3, csat_4, csat_5,
            feedback_up, feedback_down)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
    )?;
    for (channel, a) in &acc {
        ins.execute(params![
            org,
            bot,
            channel,
            hour,
            a.conversations,
            a.messages_in,
            a.messages_out,
            a.handoffs,
            a.first_reply_count,
            a.first_reply_secs,
            a.fallbacks,
            a.csat[0],
            a.csat[1],
            a.csat[2],
            a.csat[3],
            a.csat[4],
            a.up,
            a.down
        ])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT OR IGNORE INTO analytics_users (organization_id, bot_id, channel, hour, user_key) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (channel, key) in &users {
        ins.execute(params![org, bot, channel, hour, key])?;
    }
    let mut ins = tx.prepare_cached(
        "INSERT INTO analytics_intents (organization_id, bot_id, channel, hour, intent, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for ((channel, intent), n) in &intents {
        ins.execute(params![org, bot, channel, hour, intent, n])?;
    }
    super::levels::rollup_hour_totals(tx, org, bot, hour)?;
    super::levels::rollup_user_hours(tx, org, bot, hour, &users_before, &users)?;
    tx.prepare_cached("DELETE FROM analytics_dirty WHERE organization_id = ?1 AND bot_id = ?2 AND hour = ?3")?
        .execute(params![org, bot, hour])?;
    Ok(())
}

/// Fallback texts the rollup job has not embedded yet.
pub fn unembedded(conn: &Connection, limit: i64) -> rusqlite::Result<Vec<(i64, String)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, label FROM analytics_events WHERE kind = 'fallback' AND embedding IS NULL AND label IS NOT NULL
          ORDER BY id LIMIT ?1",
    )?;
    stmt.query_map([limit], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// Stores a fallback text's vector.
pub fn set_embedding(tx: &Connection, id: i64, vector: &[u8]) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE analytics_events SET embedding = ?2 WHERE id = ?1")?.execute(params![id, vector])?;
    Ok(())
}

/// What a dashboard reads: one organization, optionally one bot and one
/// channel, UTC hours `[from, to)`.
#[derive(Debug, Clone)]
pub struct Scope {
    pub org: OrgId,
    pub bot: Option<BotId>,
    pub channel: Option<String>,
    pub from_hour: String,
    pub to_hour: String,
}

/// The WHERE clause of a scope over a rollup table (`hour` column) or the
/// events table (`created_at`): only the filters that apply, so `SQLite`
/// picks the index that starts with them.
fn scope_where(s: &Scope, events: bool) -> (String, Vec<rusqlite::types::Value>) {
    use rusqlite::types::Value;
    let mut sql = String::from("organization_id = ?");
    let mut args: Vec<Value> = vec![Value::Integer(s.org.0)];
    if let Some(bot) = s.bot {
        sql.push_str(" AND bot_id = ?");
        args.push(Value::Integer(bot.0));
    }
    if events {
        sql.push_str(" AND kind = ? AND created_at >= ? AND created_at < ?");
        args.push(Value::Text(String::new()));
        args.push(Value::Text(format!("{}:00:00.000Z", s.from_hour)));
        args.push(Value::Text(format!("{}:00:00.000Z", s.to_hour)));
    } else {
        sql.push_str(" AND hour >= ? AND hour < ?");
        args.push(Value::Text(s.from_hour.clone()));
        args.push(Value::Text(s.to_hour.clone()));
    }
    if let Some(channel) = &s.channel {
        sql.push_str(" AND channel = ?");
        args.push(Value::Text(channel.clone()));
    }
    (sql, args)
}

/// The scope's WHERE clause over the events table for one `kind`.
fn events_where(s: &Scope, kind: &str) -> (String, Vec<rusqlite::types::Value>) {
    let (sql, mut args) = scope_where(s, true);
    let at = if s.bot.is_some() { 2 } else { 1 };
    args[at] = rusqlite::types::Value::Text(kind.to_owned());
    (sql, args)
}

/// The newest fallback texts of the scope with their vectors (if embedded).
pub fn unanswered(conn: &Connection, s: &Scope, limit: i64) -> rusqlite::Result<Vec<(String, Option<Vec<u8>>)>> {
    let (filter, mut args) = events_where(s, "fallback");
    args.push(rusqlite::types::Value::Integer(limit));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT label, embedding FROM analytics_events WHERE {filter} AND label IS NOT NULL
          ORDER BY created_at DESC LIMIT ?"
    ))?;
    stmt.query_map(rusqlite::params_from_iter(args), |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// What narrows a drill-down to one number of the dashboard.
#[derive(Debug, Clone, Default)]
pub struct DrillFilter {
    /// `csat`: scores up to this one.
    pub csat_max: Option<i64>,
    /// UTC hours (`YYYY-MM-DDTHH`) of a heatmap cell, as a JSON array.
    pub hours: Option<String>,
    /// A normalised wording (lower case, single spaces).
    pub text: Option<String>,
}

fn drill_where(filter: &mut String, args: &mut Vec<rusqlite::types::Value>, d: &DrillFilter, at: &str, text: &str) {
    use rusqlite::types::Value;
    if let Some(max) = d.csat_max {
        filter.push_str(" AND value <= ?");
        args.push(Value::Integer(max));
    }
    if let Some(hours) = &d.hours {
        for part in [" AND substr(", at, ", 1, 13) IN (SELECT value FROM json_each(?))"] {
            filter.push_str(part);
        }
        args.push(Value::Text(hours.clone()));
    }
    if let Some(t) = &d.text {
        // Lower case, tabs and newlines as spaces, runs of up to 8 spaces as one:
        // the clustering's normalisation, in SQL.
        for part in [
            " AND replace(replace(replace(replace(replace(lower(trim(",
            text,
            ")), char(9), ' '), char(10), ' '), '  ', ' '), '  ', ' '), '  ', ' ') = ?",
        ] {
            filter.push_str(part);
        }
        args.push(Value::Text(t.clone()));
    }
}

/// One page of the end users' messages of the scope (the drill-down of
/// "messages in" and of a heatmap cell), newest first; emulator left out.
pub fn messages_page(
    conn: &Connection,
    s: &Scope,
    d: &DrillFilter,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<super::model::AnalyticsRawEvent>> {
    use rusqlite::types::Value;
    let mut filter =
        String::from("m.organization_id = ? AND m.role = 'user' AND m.created_at >= ? AND m.created_at < ?");
    let mut args: Vec<Value> = vec![
        Value::Integer(s.org.0),
        Value::Text(format!("{}:00:00.000Z", s.from_hour)),
        Value::Text(format!("{}:00:00.000Z", s.to_hour)),
    ];
    if let Some(bot) = s.bot {
        filter.push_str(" AND m.bot_id = ?");
        args.push(Value::Integer(bot.0));
    }
    if let Some(channel) = &s.channel {
        filter.push_str(" AND c.channel = ?");
        args.push(Value::Text(channel.clone()));
    }
    drill_where(&mut filter, &mut args, d, "m.created_at", "m.content");
    if let Some(b) = before {
        filter.push_str(" AND m.id < ?");
        args.push(Value::Integer(b));
    }
    args.push(Value::Integer(limit));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT m.id, m.bot_id, m.conversation_id, c.channel, m.content, m.created_at
           FROM widget_messages m JOIN conversations c ON c.id = m.conversation_id
          WHERE {filter} AND c.channel <> 'emulator' ORDER BY m.id DESC LIMIT ?"
    ))?;
    stmt.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(super::model::AnalyticsRawEvent {
            id: r.get(0)?,
            bot_id: r.get(1)?,
            conversation_id: r.get(2)?,
            channel: r.get(3)?,
            kind: "message".to_owned(),
            value: None,
            text: r.get(4)?,
            created_at: r.get(5)?,
        })
    })?
    .collect()
}

/// One page of raw events of a kind (the drill-down), newest first.
pub fn events_page(
    conn: &Connection,
    s: &Scope,
    kind: &str,
    d: &DrillFilter,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<super::model::AnalyticsRawEvent>> {
    let (mut filter, mut args) = events_where(s, kind);
    drill_where(&mut filter, &mut args, d, "created_at", "label");
    if let Some(b) = before {
        filter.push_str(" AND id < ?");
        args.push(rusqlite::types::Value::Integer(b));
    }
    args.push(rusqlite::types::Value::Integer(limit));
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, bot_id, conversation_id, channel, kind, value, label, created_at FROM analytics_events
          WHERE {filter} ORDER BY id DESC LIMIT ?"
    ))?;
    stmt.query_map(rusqlite::params_from_iter(args), |r| {
        Ok(super::model::AnalyticsRawEvent {
            id: r.get(0)?,
            bot_id: r.get(1)?,
            conversation_id: r.get(2)?,
            channel: r.get(3)?,
            kind: r.get(4)?,
            value: r.get(5)?,
            text: r.get(6)?,
            created_at: r.get(7)?,
        })
    })?
    .collect()
}

/// Whether `bot` is a bot of the tenant's organization.
pub fn bot_exists(conn: &Connection, tenant: &Tenant, bot: i64) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM bots WHERE organization_id = ?1 AND id = ?2)",
        params![tenant.org_id(), bot],
        |r| r.get(0),
    )
}

// ---- MessageFeedback ---------------------------------------------------------------

const FEEDBACK: &str = "SELECT f.id, f.bot_id, f.conversation_id, f.message_id, f.rating, f.comment, f.source,
        m.content AS message_text, f.message_at, f.created_at, f.updated_at, c.channel
   FROM message_feedback f JOIN widget_messages m ON m.id = f.message_id JOIN conversations c ON c.id = f.conversation_id";

fn feedback_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MessageFeedback> {
    Ok(MessageFeedback {
        id: r.get(0)?,
        bot_id: r.get(1)?,
        conversation_id: r.get(2)?,
        message_id: r.get(3)?,
        rating: r.get(4)?,
        comment: r.get(5)?,
        source: r.get(6)?,
        message_text: r.get(7)?,
        message_at: r.get(8)?,
        created_at: r.get(9)?,
        updated_at: r.get(10)?,
        channel: r.get(11)?,
    })
}

/// A conversation's bot and channel.
pub fn conversation_of(conn: &Connection, org: OrgId, conversation: i64) -> rusqlite::Result<Option<(BotId, String)>> {
    conn.query_row(
        "SELECT bot_id, channel FROM conversations WHERE organization_id = ?1 AND id = ?2",
        params![org, conversation],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// The rated message: its role and time, if it is in the conversation.
pub fn message_of(
    conn: &Connection,
    org: OrgId,
    conversation: i64,
    message: i64,
) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT role, created_at FROM widget_messages WHERE organization_id = ?1 AND conversation_id = ?2 AND id = ?3",
        params![org, conversation, message],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Sets (or changes) the vote on a message; returns it.
#[allow(clippy::too_many_arguments, reason = "one column each")]
pub fn upsert_feedback(
    tx: &Connection,
    org: OrgId,
    bot: BotId,
    conversation: i64,
    message: i64,
    rating: &str,
    comment: Option<&str>,
    source: &str,
    message_at: &str,
) -> rusqlite::Result<MessageFeedback> {
    // Not an UPSERT: its conflict clause would override the `OR IGNORE` of
    // the dirty-hour triggers it fires.
    let changed = tx.execute(
        "UPDATE message_feedback SET rating = ?3, comment = ?4, source = ?5 WHERE organization_id = ?1 AND message_id = ?2",
        params![org, message, rating, comment, source],
    )?;
    if changed == 0 {
        tx.execute(
            "INSERT INTO message_feedback (organization_id, bot_id, conversation_id, message_id, rating, comment, source, message_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![org, bot, conversation, message, rating, comment, source, message_at],
        )?;
    }
    tx.query_row(
        &format!("{FEEDBACK} WHERE f.organization_id = ?1 AND f.message_id = ?2"),
        params![org, message],
        feedback_row,
    )
}

/// Removes the vote on a message; whether there was one.
pub fn delete_feedback(tx: &Connection, org: OrgId, message: i64) -> rusqlite::Result<bool> {
    Ok(tx.execute(
        "DELETE FROM message_feedback WHERE organization_id = ?1 AND message_id = ?2",
        params![org, message],
    )? > 0)
}

/// The votes of one conversation, by message.
pub fn conversation_feedback(
    conn: &Connection,
    tenant: &Tenant,
    conversation: i64,
) -> rusqlite::Result<Vec<MessageFeedback>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{FEEDBACK} WHERE f.organization_id = ?1 AND f.conversation_id = ?2 ORDER BY f.message_id"
    ))?;
    stmt.query_map(params![tenant.org_id(), conversation], feedback_row)?.collect()
}

/// A filter of the feedback list and export.
#[derive(Debug, Clone)]
pub struct FeedbackFilter {
    pub bot: BotId,
    pub rating: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A page of a bot's votes, newest first (`before`: an id cursor).
pub fn feedback_page(
    conn: &Connection,
    tenant: &Tenant,
    f: &FeedbackFilter,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<MessageFeedback>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{FEEDBACK} WHERE f.organization_id = ?1 AND f.bot_id = ?2 AND (?3 IS NULL OR f.rating = ?3)
            AND (?4 IS NULL OR f.message_at >= ?4) AND (?5 IS NULL OR f.message_at < ?5) AND (?6 IS NULL OR f.id < ?6)
          ORDER BY f.id DESC LIMIT ?7"
    ))?;
    stmt.query_map(params![tenant.org_id(), f.bot, f.rating, f.from, f.to, before, limit], feedback_row)?.collect()
}

/// A pending-work summary for the dashboard: dirty hours and the newest rolled-up hour.
pub fn freshness(conn: &Connection, org: OrgId) -> AppResult<(i64, Option<String>)> {
    let pending = dirty_count(conn, org)?;
    let newest: Option<String> =
        conn.query_row("SELECT max(hour) FROM analytics_hourly WHERE organization_id = ?1", [org], |r| r.get(0))?;
    Ok((pending, newest))
}
