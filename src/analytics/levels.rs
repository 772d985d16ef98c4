//! SQL of the rollup levels of V074: the hourly counters summed per scope
//! (`bot_id` NULL = every bot, `channel` '' = every channel), the daily
//! counters and intents per scope, and the end users' active hours with
//! their previous active hour. Written by the rollup job next to the hourly
//! rollups, read by the dashboards so that a query touches one row per
//! period and scope (see the migration for the reasoning).

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::{Connection, params};

use super::model::HourRow;
use super::store::Scope;
use crate::ids::{BotId, OrgId};

/// The counter columns, in [`HourRow`] order.
const COUNTERS: &str = "conversations, messages_in, messages_out, handoffs, first_reply_count, first_reply_secs,
    fallbacks, csat_1, csat_2, csat_3, csat_4, csat_5, feedback_up, feedback_down";
/// Their sums.
const SUMS: &str = "sum(conversations), sum(messages_in), sum(messages_out), sum(handoffs), sum(first_reply_count),
    sum(first_reply_secs), sum(fallbacks), sum(csat_1), sum(csat_2), sum(csat_3), sum(csat_4), sum(csat_5),
    sum(feedback_up), sum(feedback_down)";

/// Reads [`HourRow`] counters from column `at` on.
fn counters(r: &rusqlite::Row<'_>, hour: String, channel: String, at: usize) -> rusqlite::Result<HourRow> {
    Ok(HourRow {
        hour,
        channel,
        conversations: r.get(at)?,
        messages_in: r.get(at + 1)?,
        messages_out: r.get(at + 2)?,
        handoffs: r.get(at + 3)?,
        first_reply_count: r.get(at + 4)?,
        first_reply_secs: r.get(at + 5)?,
        fallbacks: r.get(at + 6)?,
        csat: [r.get(at + 7)?, r.get(at + 8)?, r.get(at + 9)?, r.get(at + 10)?, r.get(at + 11)?],
        feedback_up: r.get(at + 12)?,
        feedback_down: r.get(at + 13)?,
    })
}

// ---- Writing (the rollup job) -----------------------------------------------------

/// Rewrites the scope sums of one UTC hour after `bot`'s hourly rows of it
/// changed: (bot, all channels), (all bots, each channel), (all bots, all channels).
pub fn rollup_hour_totals(tx: &Connection, org: OrgId, bot: BotId, hour: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "DELETE FROM analytics_totals_hourly INDEXED BY analytics_totals_hourly_one
          WHERE organization_id = ?1 AND ifnull(bot_id, 0) IN (0, ?2) AND hour = ?3",
    )?
    .execute(params![org, bot, hour])?;
    tx.prepare_cached(&format!(
        "INSERT INTO analytics_totals_hourly (organization_id, bot_id, channel, hour, {COUNTERS})
         SELECT ?1, ?2, '', ?3, {SUMS} FROM analytics_hourly WHERE organization_id = ?1 AND bot_id = ?2 AND hour = ?3
          GROUP BY bot_id
         UNION ALL
         SELECT ?1, NULL, channel, ?3, {SUMS} FROM analytics_hourly WHERE organization_id = ?1 AND hour = ?3
          GROUP BY channel
         UNION ALL
         SELECT ?1, NULL, '', ?3, {SUMS} FROM analytics_hourly WHERE organization_id = ?1 AND hour = ?3
          GROUP BY organization_id"
    ))?
    .execute(params![org, bot, hour])?;
    Ok(())
}

/// Rewrites the daily counters and intents of one UTC day (`YYYY-MM-DD`) for
/// the scopes `bot` is part of, from the hourly rollups of that day.
pub fn rollup_day(tx: &Connection, org: OrgId, bot: BotId, day: &str) -> rusqlite::Result<()> {
    let (first, last) = (format!("{day}T00"), format!("{day}T23"));
    for table in ["analytics_daily", "analytics_intents_daily"] {
        tx.prepare_cached(&format!(
            "DELETE FROM {table} INDEXED BY {table}_one WHERE organization_id = ?1 AND ifnull(bot_id, 0) IN (0, ?2) AND day = ?3"
        ))?
        .execute(params![org, bot, day])?;
    }
    tx.prepare_cached(&format!(
        "INSERT INTO analytics_daily (organization_id, bot_id, channel, day, {COUNTERS})
         SELECT ?1, ?2, channel, ?3, {SUMS} FROM analytics_hourly
          WHERE organization_id = ?1 AND bot_id = ?2 AND hour BETWEEN ?4 AND ?5 GROUP BY channel
         UNION ALL
         SELECT ?1, ?2, '', ?3, {SUMS} FROM analytics_hourly
          WHERE organization_id = ?1 AND bot_id = ?2 AND hour BETWEEN ?4 AND ?5 GROUP BY bot_id
         UNION ALL
         SELECT ?1, NULL, channel, ?3, {SUMS} FROM analytics_hourly
          WHERE organization_id = ?1 AND hour BETWEEN ?4 AND ?5 GROUP BY channel
         UNION ALL
         SELECT ?1, NULL, '', ?3, {SUMS} FROM analytics_hourly
          WHERE organization_id = ?1 AND hour BETWEEN ?4 AND ?5 GROUP BY organization_id"
    ))?
    .execute(params![org, bot, day, first, last])?;
    tx.prepare_cached(
        "INSERT INTO analytics_intents_daily (organization_id, bot_id, channel, day, intent, count)
         SELECT ?1, ?2, channel, ?3, intent, sum(count) FROM analytics_intents
          WHERE organization_id = ?1 AND bot_id = ?2 AND hour BETWEEN ?4 AND ?5 GROUP BY channel, intent
         UNION ALL
         SELECT ?1, ?2, '', ?3, intent, sum(count) FROM analytics_intents
          WHERE organization_id = ?1 AND bot_id = ?2 AND hour BETWEEN ?4 AND ?5 GROUP BY intent
         UNION ALL
         SELECT ?1, NULL, channel, ?3, intent, sum(count) FROM analytics_intents
          WHERE organization_id = ?1 AND hour BETWEEN ?4 AND ?5 GROUP BY channel, intent
         UNION ALL
         SELECT ?1, NULL, '', ?3, intent, sum(count) FROM analytics_intents
          WHERE organization_id = ?1 AND hour BETWEEN ?4 AND ?5 GROUP BY intent",
    )?
    .execute(params![org, bot, day, first, last])?;
    Ok(())
}

/// The end users (channel, key) of `bot` in `hour` as `analytics_users` has them now.
pub fn users_of_hour(tx: &Connection, org: OrgId, bot: BotId, hour: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT channel, user_key FROM analytics_users WHERE organization_id = ?1 AND bot_id = ?2 AND hour = ?3",
    )?;
    stmt.query_map(params![org, bot, hour], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
}

/// A user's rows of `analytics_users` in a scope: `?3` the bot (0 for all
/// bots), `?4` the channel ('' for all channels).
const IN_SCOPE: &str =
    "organization_id = ?1 AND user_key = ?2 AND (?3 = 0 OR bot_id = ?3) AND (?4 = '' OR channel = ?4)";

/// Brings `analytics_user_hours` in line with `analytics_users` after the
/// end users of (`bot`, `hour`) changed from `before` to `after`: for every
/// user in either list and every scope the (bot, channel) pair belongs to,
/// the user's row of the hour exists iff the user is active in the scope
/// then, with the previous active hour; and the user's next active hour
/// points back to the hour (or, if the user is no longer active in it, to
/// the hour before).
pub fn rollup_user_hours(
    tx: &Connection,
    org: OrgId,
    bot: BotId,
    hour: &str,
    before: &[(String, String)],
    after: &[(String, String)],
) -> rusqlite::Result<()> {
    let mut scopes: BTreeSet<(i64, &str, &str)> = BTreeSet::new();
    for (channel, user) in before.iter().chain(after) {
        for b in [0, bot.0] {
            scopes.insert((b, "", user));
            scopes.insert((b, channel, user));
        }
    }
    // INDEXED BY: with the OR-ed filters of IN_SCOPE (and no ANALYZE)
    // SQLite would otherwise pick an index on the organization alone.
    let mut active = tx.prepare_cached(&format!(
        "SELECT EXISTS (SELECT 1 FROM analytics_users INDEXED BY analytics_users_user WHERE {IN_SCOPE} AND hour = ?5)"
    ))?;
    let mut prev = tx.prepare_cached(&format!(
        "SELECT max(hour) FROM analytics_users INDEXED BY analytics_users_user WHERE {IN_SCOPE} AND hour < ?5"
    ))?;
    let mut next = tx.prepare_cached(&format!(
        "SELECT min(hour) FROM analytics_users INDEXED BY analytics_users_user WHERE {IN_SCOPE} AND hour > ?5"
    ))?;
    let mut delete = tx.prepare_cached(
        "DELETE FROM analytics_user_hours INDEXED BY analytics_user_hours_one
          WHERE organization_id = ?1 AND ifnull(bot_id, 0) = ?3 AND channel = ?4 AND user_key = ?2 AND hour = ?5",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO analytics_user_hours (organization_id, bot_id, channel, user_key, hour, prev_hour)
         VALUES (?1, nullif(?3, 0), ?4, ?2, ?5, ?6)",
    )?;
    let mut relink = tx.prepare_cached(
        "UPDATE analytics_user_hours INDEXED BY analytics_user_hours_one SET prev_hour = ?6
          WHERE organization_id = ?1 AND ifnull(bot_id, 0) = ?3 AND channel = ?4 AND user_key = ?2 AND hour = ?5",
    )?;
    for (b, channel, user) in scopes {
        let is_active: bool = active.query_row(params![org, user, b, channel, hour], |r| r.get(0))?;
        let before: Option<String> = prev.query_row(params![org, user, b, channel, hour], |r| r.get(0))?;
        let after: Option<String> = next.query_row(params![org, user, b, channel, hour], |r| r.get(0))?;
        delete.execute(params![org, user, b, channel, hour])?;
        if is_active {
            insert.execute(params![org, user, b, channel, hour, before])?;
        }
        if let Some(n) = after {
            let link = if is_active { Some(hour.to_owned()) } else { before };
            relink.execute(params![org, user, b, channel, n, link])?;
        }
    }
    Ok(())
}

// ---- Reading (the dashboards) -------------------------------------------------------

/// The scope's `bot_id` / `channel` filter over a levels table (`IS NULL`
/// and `''` for "all", so the (scope, period) index is used).
fn scope_filter(s: &Scope) -> (&'static str, rusqlite::types::Value, String) {
    use rusqlite::types::Value;
    match s.bot {
        Some(b) => ("bot_id = ?2", Value::Integer(b.0), s.channel.clone().unwrap_or_default()),
        None => ("(bot_id IS NULL AND ?2 IS NULL)", Value::Null, s.channel.clone().unwrap_or_default()),
    }
}

/// One row per UTC hour of the scope (all its bots and channels summed):
/// what the series, the totals and the heatmap are folded from.
pub fn scope_hours(conn: &Connection, s: &Scope) -> rusqlite::Result<Vec<HourRow>> {
    let (bot_sql, bot, channel) = scope_filter(s);
    let mut stmt = conn.prepare_cached(&scope_hours_sql(s, bot_sql))?;
    stmt.query_map(params![s.org, bot, channel, s.from_hour, s.to_hour], |r| {
        counters(r, r.get(0)?, channel.clone(), 1)
    })?
    .collect()
}

/// The SQL of [`scope_hours`]: the scope's sums are read from the covering
/// index `analytics_totals_hourly_read` (V083), never from the table.
fn scope_hours_sql(s: &Scope, bot_sql: &str) -> String {
    // (one bot, one channel) is the base table itself.
    if s.bot.is_some() && s.channel.is_some() {
        format!(
            "SELECT hour, {COUNTERS} FROM analytics_hourly
              WHERE organization_id = ?1 AND {bot_sql} AND hour >= ?4 AND hour < ?5 AND channel = ?3"
        )
    } else {
        format!(
            "SELECT hour, {COUNTERS} FROM analytics_totals_hourly
              WHERE organization_id = ?1 AND {bot_sql} AND channel = ?3 AND hour >= ?4 AND hour < ?5"
        )
    }
}

/// A half-open range of days or hours, `[start, end)`.
type Span = (String, String);

/// The UTC hours `[from, to)` split into the whole UTC days
/// `[first_day, end_day)` and the hours before and after them (the range's
/// edges in its timezone). `None` for the days when the range holds no whole day.
fn split(from_hour: &str, to_hour: &str) -> (Option<Span>, Vec<Span>) {
    let day = |h: &str| h.get(..10).unwrap_or(h).to_owned();
    let first_day = if from_hour.ends_with("T00") { day(from_hour) } else { next_day(&day(from_hour)) };
    let end_day = day(to_hour);
    if first_day >= end_day {
        return (None, vec![(from_hour.to_owned(), to_hour.to_owned())]);
    }
    let mut edges = Vec::new();
    let (start, end) = (format!("{first_day}T00"), format!("{end_day}T00"));
    if from_hour < start.as_str() {
        edges.push((from_hour.to_owned(), start));
    }
    if end.as_str() < to_hour {
        edges.push((end, to_hour.to_owned()));
    }
    (Some((first_day, end_day)), edges)
}

fn next_day(day: &str) -> String {
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .map_or_else(|_| format!("{day}~"), |d| (d + chrono::Duration::days(1)).to_string())
}

fn add_row(into: &mut HourRow, r: &HourRow) {
    into.conversations += r.conversations;
    into.messages_in += r.messages_in;
    into.messages_out += r.messages_out;
    into.handoffs += r.handoffs;
    into.first_reply_count += r.first_reply_count;
    into.first_reply_secs += r.first_reply_secs;
    into.fallbacks += r.fallbacks;
    for i in 0..5 {
        into.csat[i] += r.csat[i];
    }
    into.feedback_up += r.feedback_up;
    into.feedback_down += r.feedback_down;
}

fn empty(channel: &str) -> HourRow {
    HourRow {
        hour: String::new(),
        channel: channel.to_owned(),
        conversations: 0,
        messages_in: 0,
        messages_out: 0,
        handoffs: 0,
        first_reply_count: 0,
        first_reply_secs: 0.0,
        fallbacks: 0,
        csat: [0; 5],
        feedback_up: 0,
        feedback_down: 0,
    }
}

/// The scope's counters per channel over its range: whole UTC days from
/// `analytics_daily`, the edges from the hourly rollups.
pub fn by_channel(conn: &Connection, s: &Scope) -> rusqlite::Result<Vec<HourRow>> {
    let (days, edges) = split(&s.from_hour, &s.to_hour);
    let mut out: BTreeMap<String, HourRow> = BTreeMap::new();
    let mut add_rows = |rows: Vec<HourRow>| {
        for row in rows {
            add_row(out.entry(row.channel.clone()).or_insert_with(|| empty(&row.channel)), &row);
        }
    };
    let (bot_sql, bot, channel) = scope_filter(s);
    if let Some((first, end)) = &days {
        // The one channel filtered on, else every channel (`> ''`, leaving out
        // the all-channels rows): the (scope, channel, day) index either way.
        let channels = if s.channel.is_some() { "channel = ?3" } else { "channel > ?3" };
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT channel, {SUMS} FROM analytics_daily
              WHERE organization_id = ?1 AND {bot_sql} AND {channels} AND day >= ?4 AND day < ?5
              GROUP BY channel"
        ))?;
        let rows = stmt.query_map(params![s.org, bot, channel, first, end], |r| {
            let channel: String = r.get(0)?;
            counters(r, String::new(), channel, 1)
        })?;
        add_rows(rows.collect::<rusqlite::Result<_>>()?);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT channel, {SUMS} FROM analytics_hourly
          WHERE organization_id = ?1 AND (?2 IS NULL OR bot_id = ?2) AND hour >= ?3 AND hour < ?4
            AND (?5 IS NULL OR channel = ?5)
          GROUP BY channel"
    ))?;
    for (from, to) in &edges {
        let rows = stmt.query_map(params![s.org, s.bot, from, to, s.channel], |r| {
            let channel: String = r.get(0)?;
            counters(r, String::new(), channel, 1)
        })?;
        add_rows(rows.collect::<rusqlite::Result<_>>()?);
    }
    Ok(out.into_values().collect())
}

/// The most frequent intents of the scope: whole UTC days from
/// `analytics_intents_daily`, the edges from `analytics_intents`.
pub fn top_intents(conn: &Connection, s: &Scope, limit: usize) -> rusqlite::Result<Vec<(String, i64)>> {
    let (days, edges) = split(&s.from_hour, &s.to_hour);
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    if let Some((first, end)) = &days {
        let (bot_sql, bot, channel) = scope_filter(s);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT intent, sum(count) FROM analytics_intents_daily
              WHERE organization_id = ?1 AND {bot_sql} AND channel = ?3 AND day >= ?4 AND day < ?5 GROUP BY intent"
        ))?;
        for row in stmt.query_map(params![s.org, bot, channel, first, end], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (intent, n): (String, i64) = row?;
            *counts.entry(intent).or_default() += n;
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT intent, sum(count) FROM analytics_intents
          WHERE organization_id = ?1 AND (?2 IS NULL OR bot_id = ?2) AND hour >= ?3 AND hour < ?4
            AND (?5 IS NULL OR channel = ?5)
          GROUP BY intent",
    )?;
    for (from, to) in &edges {
        for row in stmt.query_map(params![s.org, s.bot, from, to, s.channel], |r| Ok((r.get(0)?, r.get(1)?)))? {
            let (intent, n): (String, i64) = row?;
            *counts.entry(intent).or_default() += n;
        }
    }
    let mut top: Vec<(String, i64)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top.truncate(limit);
    Ok(top)
}

/// Distinct end users active in the scope's range: each user's first
/// active hour in it is the one whose previous hour lies before it. Summed
/// from `analytics_user_hour_counts` (V083: those rows counted per hour and
/// previous hour, `''` for none) over its covering index.
pub fn unique_users(conn: &Connection, s: &Scope) -> rusqlite::Result<i64> {
    let (bot_sql, bot, channel) = scope_filter(s);
    conn.prepare_cached(&unique_users_sql(bot_sql))?
        .query_row(params![s.org, bot, channel, s.from_hour, s.to_hour], |r| r.get(0))
}

fn unique_users_sql(bot_sql: &str) -> String {
    format!(
        "SELECT coalesce(sum(users), 0) FROM analytics_user_hour_counts
          WHERE organization_id = ?1 AND {bot_sql} AND channel = ?3 AND hour >= ?4 AND hour < ?5 AND prev_hour < ?4"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_into_whole_days_and_edges() {
        // Paris in March: local days start at 23:00 UTC.
        let (days, edges) = split("2026-02-28T23", "2026-03-02T23");
        assert_eq!(days, Some(("2026-03-01".to_owned(), "2026-03-02".to_owned())));
        assert_eq!(
            edges,
            vec![
                ("2026-02-28T23".to_owned(), "2026-03-01T00".to_owned()),
                ("2026-03-02T00".to_owned(), "2026-03-02T23".to_owned())
            ]
        );
        // UTC: whole days only.
        assert_eq!(split("2026-03-01T00", "2026-03-03T00"), (Some(("2026-03-01".into(), "2026-03-03".into())), vec![]));
        // Less than a whole UTC day: hours only.
        assert_eq!(
            split("2026-03-01T05", "2026-03-02T04"),
            (None, vec![("2026-03-01T05".into(), "2026-03-02T04".into())])
        );
    }
}

#[cfg(test)]
mod db_tests {
    use super::*;
    use crate::config::DbConfig;
    use crate::db::Db;

    fn scope(bot: Option<i64>, channel: Option<&str>, from: &str, to: &str) -> Scope {
        Scope {
            org: OrgId(1),
            bot: bot.map(BotId),
            channel: channel.map(str::to_owned),
            from_hour: from.to_owned(),
            to_hour: to.to_owned(),
        }
    }

    /// The distinct users straight from the hourly users table (what the
    /// counts must equal).
    fn raw_users(c: &Connection, s: &Scope) -> i64 {
        c.query_row(
            "SELECT count(DISTINCT user_key) FROM analytics_users
              WHERE organization_id = ?1 AND (?2 IS NULL OR bot_id = ?2) AND (?3 IS NULL OR channel = ?3)
                AND hour >= ?4 AND hour < ?5",
            params![s.org, s.bot, s.channel, s.from_hour, s.to_hour],
            |r| r.get(0),
        )
        .expect("raw count")
    }

    /// A message of end user `user` on `channel` to `bot` at `at` (in the
    /// user's one conversation with the bot on that channel).
    fn message(db: &Db, bot: i64, channel: &str, user: &str, at: &str) {
        db.write_blocking(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO conversations (organization_id, bot_id, channel, external_user_id, status, created_at, updated_at)
                 VALUES (1, ?1, ?2, ?3, 'closed', ?4, ?4)",
                params![bot, channel, user, at],
            )?;
            let conv: i64 = tx.query_row(
                "SELECT id FROM conversations WHERE bot_id = ?1 AND channel = ?2 AND external_user_id = ?3",
                params![bot, channel, user],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT INTO widget_messages (organization_id, bot_id, conversation_id, session_id, role, content, created_at)
                 VALUES (1, ?1, ?2, ?3, 'user', 'hello', ?4)",
                params![bot, conv, user, at],
            )?;
            Ok(())
        })
        .expect("message");
    }

    #[test]
    fn distinct_users_are_read_from_the_counts_and_equal_a_raw_count() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(&dir.path().join("a.db"), &DbConfig::default()).expect("db");
        db.write_blocking(|tx| {
            tx.execute_batch(
                "INSERT INTO users (id, email, password_hash, name) VALUES (1, 'a@b.c', 'x', 'A');
                 INSERT INTO organizations (id, name, slug, owner_id, plan_tier) VALUES (1, 'O', 'o', 1, 'pro');
                 INSERT INTO bots (id, organization_id, name, widget_key) VALUES (1, 1, 'One', 'wk_1'), (2, 1, 'Two', 'wk_2');",
            )?;
            Ok(())
        })
        .expect("setup");
        // Returning users across days, bots and channels; one-off visitors.
        let traffic = [
            (1, "widget", "ann", "2026-03-01T10:05:00.000Z"),
            (1, "widget", "ann", "2026-03-01T10:40:00.000Z"),
            (1, "widget", "ann", "2026-03-03T08:00:00.000Z"),
            (2, "widget", "ann", "2026-03-02T23:30:00.000Z"),
            (1, "telegram", "bob", "2026-03-01T23:10:00.000Z"),
            (1, "telegram", "bob", "2026-03-02T00:10:00.000Z"),
            (2, "telegram", "bob", "2026-03-05T12:00:00.000Z"),
            (1, "widget", "cy", "2026-03-02T09:00:00.000Z"),
            (2, "api", "dee", "2026-03-04T15:00:00.000Z"),
            (2, "api", "dee", "2026-03-01T06:00:00.000Z"),
        ];
        for (bot, channel, user, at) in traffic {
            message(&db, bot, channel, user, at);
        }
        super::super::rollup::roll_up_pending(&db).expect("rollup");
        let ranges = [
            ("2026-03-01T00", "2026-03-06T00"),
            ("2026-03-01T23", "2026-03-03T23"),
            ("2026-03-02T00", "2026-03-02T01"),
            ("2026-03-02T09", "2026-03-05T13"),
            ("2026-03-04T00", "2026-03-05T00"),
            ("2026-02-01T00", "2026-03-01T00"),
        ];
        let scopes = [
            (None, None),
            (None, Some("widget")),
            (None, Some("telegram")),
            (Some(1), None),
            (Some(2), None),
            (Some(1), Some("widget")),
            (Some(2), Some("api")),
        ];
        let check = |label: &str, scopes: &[(Option<i64>, Option<&str>)]| {
            db.read_blocking(|c| {
                for (from, to) in ranges {
                    for &(bot, channel) in scopes {
                        let s = scope(bot, channel, from, to);
                        assert_eq!(unique_users(c, &s)?, raw_users(c, &s), "{label}: {s:?}");
                    }
                }
                // The counts are exactly analytics_user_hours grouped.
                let differ: i64 = c.query_row(
                    "SELECT count(*) FROM (
                       SELECT organization_id, ifnull(bot_id, 0), channel, hour, ifnull(prev_hour, ''), count(*)
                         FROM analytics_user_hours GROUP BY 1, 2, 3, 4, 5
                       EXCEPT SELECT organization_id, ifnull(bot_id, 0), channel, hour, prev_hour, users
                         FROM analytics_user_hour_counts)",
                    [],
                    |r| r.get(0),
                )?;
                assert_eq!(differ, 0, "{label}: counts differ from analytics_user_hours");
                let zero: i64 =
                    c.query_row("SELECT count(*) FROM analytics_user_hour_counts WHERE users <= 0", [], |r| r.get(0))?;
                assert_eq!(zero, 0, "{label}: no empty count rows");
                Ok(())
            })
            .expect("check");
        };
        check("backfill", &scopes);
        // Late events: a visit between two of ann's (re-links her next
        // hour), and a bot deleted (its rows cascade away).
        message(&db, 1, "widget", "ann", "2026-03-02T05:00:00.000Z");
        message(&db, 1, "widget", "eve", "2026-03-01T10:59:00.000Z");
        super::super::rollup::roll_up_pending(&db).expect("rollup");
        check("late events", &scopes);
        let spot = scope(None, None, "2026-03-01T00", "2026-03-06T00");
        assert_eq!(db.read_blocking(|c| Ok(unique_users(c, &spot)?)).expect("count"), 5);
        db.write_blocking(|tx| Ok(tx.execute("DELETE FROM bots WHERE id = 2", [])?)).expect("delete bot");
        // The deleted bot's own rows go; the organization's history keeps its
        // visitors, as it keeps its message totals (the raw per-bot rows are
        // gone, so only the remaining bot's scopes compare with them).
        check("bot deleted", &scopes[3..4]);
        check("bot deleted", &scopes[5..6]);
        assert_eq!(db.read_blocking(|c| Ok(unique_users(c, &spot)?)).expect("count"), 5);
    }

    #[test]
    fn distinct_users_read_the_covering_index_of_the_counts() {
        let dir = tempfile::tempdir().expect("dir");
        let db = Db::open(&dir.path().join("p.db"), &DbConfig::default()).expect("db");
        for bot_sql in ["bot_id = ?2", "(bot_id IS NULL AND ?2 IS NULL)"] {
            let plan: Vec<String> = db
                .read_blocking(|c| {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {}", unique_users_sql(bot_sql)))?;
                    let rows = stmt.query_map(params![1, 1, "", "2026-01-01T00", "2027-01-01T00"], |r| r.get(3))?;
                    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
                })
                .expect("plan");
            assert!(
                plan.iter().any(|p| p.contains("USING COVERING INDEX analytics_user_hour_counts_range")),
                "{bot_sql}: {plan:?}"
            );
        }
        // The series' hours of the organization, one channel, one bot.
        for (bot, channel) in [(None, None), (None, Some("widget")), (Some(1), None)] {
            let s = scope(bot, channel, "2026-01-01T00", "2027-01-01T00");
            let (bot_sql, _, _) = scope_filter(&s);
            let plan: Vec<String> = db
                .read_blocking(|c| {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {}", scope_hours_sql(&s, bot_sql)))?;
                    let rows = stmt.query_map(params![1, bot, "", "2026-01-01T00", "2027-01-01T00"], |r| r.get(3))?;
                    Ok(rows.collect::<rusqlite::Result<Vec<String>>>()?)
                })
                .expect("plan");
            assert!(
                plan.iter().any(|p| p.contains("USING COVERING INDEX analytics_totals_hourly_read")),
                "{s:?}: {plan:?}"
            );
        }
    }
}
