//! SQL of the insights domain: read models over the parse log, the
//! knowledge answer log, flow node visits, jobs and the audit log, all
//! filtered by the tenant's organization (the admin health reads are
//! instance-wide and take the superadmin proof).

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    Bucket, CitedChunk, CitedDocument, IntentCount, JobHealth, KnowledgeQuestion, OrgStats, Range, TimelineDay,
    TimelineEvent,
};
use crate::admin::Admin;
use crate::db::query_all;
use crate::http::Tenant;
use crate::ids::BotId;
use crate::nlu::model::NluLog;

const LOG_COLUMNS: &str = "id, message, detected_intent_name, confidence, out_of_scope, ranking, entities_extracted, \
     model_version_id, response_time_ms, resolved_intent_id, resolved_at, created_at";

/// Totals of the parse log: (total, matched, low, unmatched, mean confidence).
pub fn nlu_totals(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    range: &Range,
    threshold: f64,
) -> rusqlite::Result<(i64, i64, i64, i64, f64)> {
    c.query_row(
        "SELECT count(*),
                coalesce(sum(out_of_scope = 0 AND confidence >= ?5), 0),
                coalesce(sum(out_of_scope = 0 AND confidence < ?5), 0),
                coalesce(sum(out_of_scope = 1), 0),
                coalesce(avg(confidence), 0)
         FROM nlu_logs WHERE organization_id = ?1 AND bot_id = ?2 AND created_at >= ?3 AND created_at < ?4",
        params![tenant.org_id(), bot, range.from, range.to, threshold],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )
}

/// The confidence histogram: ten bars of width 0.1 (1.0 falls in the last).
pub fn nlu_histogram(c: &Connection, tenant: &Tenant, bot: BotId, range: &Range) -> rusqlite::Result<Vec<Bucket>> {
    let mut counts = [0i64; 10];
    let mut stmt = c.prepare_cached(
        "SELECT min(CAST(confidence * 10 AS INTEGER), 9) AS b, count(*) FROM nlu_logs
         WHERE organization_id = ?1 AND bot_id = ?2 AND created_at >= ?3 AND created_at < ?4 GROUP BY b",
    )?;
    let rows = stmt.query_map(params![tenant.org_id(), bot, range.from, range.to], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (b, n) = row?;
        if let Some(slot) = usize::try_from(b).ok().and_then(|i| counts.get_mut(i)) {
            *slot += n;
        }
    }
    Ok(counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let lower = f64::from(u8::try_from(i).unwrap_or(0)) / 10.0;
            Bucket { lower, upper: lower + 0.1, count }
        })
        .map(|mut b| {
            b.upper = (b.upper * 10.0).round() / 10.0;
            b
        })
        .collect())
}

/// Messages per detected intent (in scope), most frequent first.
pub fn nlu_intent_counts(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    range: &Range,
) -> rusqlite::Result<Vec<IntentCount>> {
    let mut stmt = c.prepare_cached(
        "SELECT detected_intent_name, count(*) AS n, avg(confidence) FROM nlu_logs
         WHERE organization_id = ?1 AND bot_id = ?2 AND created_at >= ?3 AND created_at < ?4
           AND out_of_scope = 0 AND detected_intent_name IS NOT NULL
         GROUP BY detected_intent_name ORDER BY n DESC, detected_intent_name LIMIT 100",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, range.from, range.to], |r| {
        Ok(IntentCount { intent: r.get(0)?, count: r.get(1)?, average_confidence: round4(r.get(2)?) })
    })?
    .collect()
}

/// Low-confidence (`unmatched == false`) or out-of-scope messages, newest first.
#[allow(clippy::too_many_arguments, reason = "one filter each")]
pub fn nlu_messages(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    range: &Range,
    unmatched: bool,
    threshold: f64,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<NluLog>> {
    let filter = if unmatched { "out_of_scope = 1" } else { "out_of_scope = 0 AND confidence < ?5" };
    query_all(
        c,
        &format!(
            "SELECT {LOG_COLUMNS} FROM nlu_logs WHERE organization_id = ?1 AND bot_id = ?2
             AND created_at >= ?3 AND created_at < ?4 AND {filter} AND (?6 IS NULL OR id < ?6)
             ORDER BY id DESC LIMIT ?7"
        ),
        params![tenant.org_id(), bot, range.from, range.to, threshold, after, limit],
    )
}

/// The result and finish time of the bot's last succeeded `nlu.evaluate` job.
pub fn last_evaluation(c: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Option<(i64, String, String)>> {
    c.query_row(
        "SELECT id, result, coalesce(finished_at, updated_at) FROM jobs
         WHERE organization_id = ?1 AND kind = ?3 AND status = 'succeeded' AND result IS NOT NULL
           AND json_extract(payload, '$.bot_id') = ?2
         ORDER BY coalesce(finished_at, updated_at) DESC, id DESC LIMIT 1",
        params![tenant.org_id(), bot, crate::nlu::evaluate::EVALUATE_JOB],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .optional()
}

/// An example with its intent, for conflicts and find-similar.
pub struct ExampleRow {
    pub id: i64,
    pub text: String,
    pub intent_id: i64,
    pub intent: String,
}

/// Every example of the bot's active intents, by intent name then id.
pub fn examples(c: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<ExampleRow>> {
    let mut stmt = c.prepare_cached(
        "SELECT x.id, x.text, i.id, i.name FROM intent_examples x JOIN intents i ON i.id = x.intent_id
         WHERE i.organization_id = ?1 AND i.bot_id = ?2 AND i.is_active = 1 ORDER BY i.name, x.id",
    )?;
    stmt.query_map(params![tenant.org_id(), bot], |r| {
        Ok(ExampleRow { id: r.get(0)?, text: r.get(1)?, intent_id: r.get(2)?, intent: r.get(3)? })
    })?
    .collect()
}

/// Active intents with their example counts: (id, name, examples).
pub fn intent_sizes(c: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<(i64, String, i64)>> {
    let mut stmt = c.prepare_cached(
        "SELECT i.id, i.name, count(x.id) FROM intents i LEFT JOIN intent_examples x ON x.intent_id = i.id
         WHERE i.organization_id = ?1 AND i.bot_id = ?2 AND i.is_active = 1 GROUP BY i.id ORDER BY i.name",
    )?;
    stmt.query_map(params![tenant.org_id(), bot], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
}

// ---- knowledge ----

/// One knowledge answer to log.
pub struct AnswerLog<'a> {
    pub bot: BotId,
    pub query: &'a str,
    pub answered: bool,
    pub mode: &'a str,
    pub top_score: Option<f64>,
    pub kb_ids: &'a str,
    pub citations: &'a str,
}

pub fn insert_answer_log(c: &Connection, tenant: &Tenant, a: &AnswerLog<'_>) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO knowledge_answer_logs (organization_id, bot_id, query, answered, mode, top_score, knowledge_base_ids, citations)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![tenant.org_id(), a.bot, a.query, a.answered, a.mode, a.top_score, a.kb_ids, a.citations])?;
    Ok(())
}

const KB_FILTER: &str = "(?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(l.knowledge_base_ids) k WHERE k.value = ?5))";

/// (questions, answered, unanswered, errors).
pub fn answer_totals(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    range: &Range,
    kb: Option<i64>,
) -> rusqlite::Result<(i64, i64, i64, i64)> {
    c.query_row(
        &format!(
            "SELECT count(*), coalesce(sum(answered), 0), coalesce(sum(mode = 'no_answer'), 0), coalesce(sum(mode = 'error'), 0)
             FROM knowledge_answer_logs l WHERE l.organization_id = ?1 AND l.bot_id = ?2
             AND l.created_at >= ?3 AND l.created_at < ?4 AND {KB_FILTER}"
        ),
        params![tenant.org_id(), bot, range.from, range.to, kb],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

/// The most cited documents (20).
pub fn top_documents(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    range: &Range,
    kb: Option<i64>,
) -> rusqlite::Result<Vec<CitedDocument>> {
    let mut stmt = c.prepare_cached(
        "SELECT json_extract(j.value, '$.document_id') AS doc, json_extract(j.value, '$.knowledge_base_id'),
                (SELECT d.name FROM documents d WHERE d.id = json_extract(j.value, '$.document_id') AND d.organization_id = ?1),
                count(*) AS n
         FROM knowledge_answer_logs l, json_each(l.citations) j
         WHERE l.organization_id = ?1 AND l.bot_id = ?2 AND l.created_at >= ?3 AND l.created_at < ?4
           AND (?5 IS NULL OR json_extract(j.value, '$.knowledge_base_id') = ?5)
         GROUP BY doc ORDER BY n DESC, doc LIMIT 20",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, range.from, range.to, kb], |r| {
        Ok(CitedDocument {
            document_id: r.get(0)?,
            knowledge_base_id: r.get(1)?,
            title: r.get(2)?,
            citations: r.get(3)?,
        })
    })?
    .collect()
}

/// The most cited chunks (20).
pub fn top_chunks(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    range: &Range,
    kb: Option<i64>,
) -> rusqlite::Result<Vec<CitedChunk>> {
    let mut stmt = c.prepare_cached(
        "SELECT json_extract(j.value, '$.chunk_id') AS chunk, json_extract(j.value, '$.document_id'),
                (SELECT substr(x.content, 1, 200) FROM chunks x WHERE x.id = json_extract(j.value, '$.chunk_id') AND x.organization_id = ?1),
                count(*) AS n
         FROM knowledge_answer_logs l, json_each(l.citations) j
         WHERE l.organization_id = ?1 AND l.bot_id = ?2 AND l.created_at >= ?3 AND l.created_at < ?4
           AND (?5 IS NULL OR json_extract(j.value, '$.knowledge_base_id') = ?5)
         GROUP BY chunk ORDER BY n DESC, chunk LIMIT 20",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, range.from, range.to, kb], |r| {
        Ok(CitedChunk { chunk_id: r.get(0)?, document_id: r.get(1)?, snippet: r.get(2)?, citations: r.get(3)? })
    })?
    .collect()
}

/// Questions whose best retrieval score is under `below` (or that found
/// nothing to score), newest first.
#[allow(clippy::too_many_arguments, reason = "one filter each")]
pub fn low_score_questions(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    range: &Range,
    kb: Option<i64>,
    below: f64,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<KnowledgeQuestion>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT l.id, l.query, l.answered, l.mode, l.top_score, l.created_at FROM knowledge_answer_logs l
         WHERE l.organization_id = ?1 AND l.bot_id = ?2 AND l.created_at >= ?3 AND l.created_at < ?4 AND {KB_FILTER}
           AND l.mode <> 'error' AND (l.top_score IS NULL OR l.top_score < ?6) AND (?7 IS NULL OR l.id < ?7)
         ORDER BY l.id DESC LIMIT ?8"
    ))?;
    stmt.query_map(params![tenant.org_id(), bot, range.from, range.to, kb, below, after, limit], |r| {
        Ok(KnowledgeQuestion {
            id: r.get(0)?,
            query: r.get(1)?,
            answered: r.get(2)?,
            mode: r.get(3)?,
            top_score: r.get::<_, Option<f64>>(4)?.map(round4),
            created_at: r.get(5)?,
        })
    })?
    .collect()
}

// ---- flows ----

/// A node's funnel numbers: (node, conversations that reached it,
/// conversations that dropped off there, mean seconds spent over the
/// conversations that left it).
pub type NodeCounts = (String, i64, i64, Option<f64>);

/// Per node of the flow that was visited in the range: [`NodeCounts`].
pub fn funnel_nodes(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    flow: &str,
    range: &Range,
) -> rusqlite::Result<Vec<NodeCounts>> {
    let mut stmt = c.prepare_cached(
        "WITH v AS (
             SELECT conversation_id, node, created_at, id,
                    lead(created_at) OVER w AS next_at,
                    lead(node) OVER w AS next_node,
                    row_number() OVER (PARTITION BY conversation_id ORDER BY id DESC) AS from_end
             FROM flow_node_visits
             WHERE organization_id = ?1 AND bot_id = ?2 AND flow = ?3 AND created_at >= ?4 AND created_at < ?5
             WINDOW w AS (PARTITION BY conversation_id ORDER BY id)
         ),
         per_conv AS (
             SELECT node, conversation_id,
                    max(from_end = 1) AS last_here,
                    sum(CASE WHEN next_at IS NOT NULL THEN (julianday(next_at) - julianday(created_at)) * 86400.0 END) AS spent,
                    max(next_node IS NOT NULL AND next_node <> node) AS left_it
             FROM v GROUP BY node, conversation_id
         )
         SELECT node, count(*), sum(last_here), avg(CASE WHEN left_it THEN spent END)
         FROM per_conv GROUP BY node",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, flow, range.from, range.to], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, Option<f64>>(3)?.map(|s| (s * 1000.0).round() / 1000.0)))
    })?
    .collect()
}

/// Per move between two different nodes: (source, target, times, conversations).
pub fn funnel_edges(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    flow: &str,
    range: &Range,
) -> rusqlite::Result<Vec<(String, String, i64, i64)>> {
    let mut stmt = c.prepare_cached(
        "WITH v AS (
             SELECT conversation_id, node, lag(node) OVER (PARTITION BY conversation_id ORDER BY id) AS prev
             FROM flow_node_visits
             WHERE organization_id = ?1 AND bot_id = ?2 AND flow = ?3 AND created_at >= ?4 AND created_at < ?5
         )
         SELECT prev, node, count(*), count(DISTINCT conversation_id) FROM v
         WHERE prev IS NOT NULL AND prev <> node GROUP BY prev, node ORDER BY prev, node",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, flow, range.from, range.to], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    })?
    .collect()
}

/// Conversations that entered the flow in the range.
pub fn funnel_conversations(
    c: &Connection,
    tenant: &Tenant,
    bot: BotId,
    flow: &str,
    range: &Range,
) -> rusqlite::Result<i64> {
    c.query_row(
        "SELECT count(DISTINCT conversation_id) FROM flow_node_visits
         WHERE organization_id = ?1 AND bot_id = ?2 AND flow = ?3 AND created_at >= ?4 AND created_at < ?5",
        params![tenant.org_id(), bot, flow, range.from, range.to],
        |r| r.get(0),
    )
}

// ---- organization administration ----

pub fn org_stats(c: &Connection, tenant: &Tenant, month_ago: &str, day_ago: &str) -> rusqlite::Result<OrgStats> {
    c.query_row(
        "SELECT (SELECT count(*) FROM organization_members WHERE organization_id = ?1),
                (SELECT count(*) FROM bots WHERE organization_id = ?1),
                (SELECT count(*) FROM conversations WHERE organization_id = ?1 AND status = 'open'),
                (SELECT count(*) FROM conversations WHERE organization_id = ?1 AND status = 'handoff'),
                (SELECT count(*) FROM conversations WHERE organization_id = ?1 AND status = 'closed'),
                (SELECT coalesce(sum(count), 0) FROM usage_tracking
                  WHERE organization_id = ?1 AND metric_type IN ('message_received','message_sent') AND day >= substr(?2, 1, 10)),
                (SELECT count(*) FROM knowledge_bases WHERE organization_id = ?1),
                (SELECT count(*) FROM documents WHERE organization_id = ?1),
                (SELECT count(*) FROM chunks WHERE organization_id = ?1),
                (SELECT coalesce(sum(size_bytes), 0) FROM files WHERE organization_id = ?1),
                (SELECT count(*) FROM jobs WHERE organization_id = ?1 AND status = 'queued'),
                (SELECT count(*) FROM jobs WHERE organization_id = ?1 AND status IN ('failed','dead') AND updated_at >= ?3)",
        params![tenant.org_id(), month_ago, day_ago],
        |r| {
            Ok(OrgStats {
                members: r.get(0)?,
                bots: r.get(1)?,
                conversations_open: r.get(2)?,
                conversations_handoff: r.get(3)?,
                conversations_closed: r.get(4)?,
                messages_last_30_days: r.get(5)?,
                knowledge_bases: r.get(6)?,
                documents: r.get(7)?,
                chunks: r.get(8)?,
                files_bytes: r.get(9)?,
                jobs_queued: r.get(10)?,
                jobs_failed_last_24h: r.get(11)?,
            })
        },
    )
}

/// Audit and activity events per UTC day of the range (days without any omitted).
pub fn timeline_days(c: &Connection, tenant: &Tenant, range: &Range) -> rusqlite::Result<Vec<TimelineDay>> {
    let mut stmt = c.prepare_cached(
        "WITH e AS (
             SELECT substr(created_at, 1, 10) AS day, 1 AS audit, 0 AS activity FROM audit_logs
              WHERE organization_id = ?1 AND created_at >= ?2 AND created_at < ?3
             UNION ALL
             SELECT substr(created_at, 1, 10), 0, 1 FROM activity_logs
              WHERE organization_id = ?1 AND created_at >= ?2 AND created_at < ?3
         )
         SELECT day, sum(audit), sum(activity) FROM e GROUP BY day ORDER BY day",
    )?;
    stmt.query_map(params![tenant.org_id(), range.from, range.to], |r| {
        Ok(TimelineDay { day: r.get(0)?, audit_events: r.get(1)?, activity_events: r.get(2)? })
    })?
    .collect()
}

/// The latest events of `recent_audit_activity` for the organization.
pub fn recent_audit(c: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<TimelineEvent>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, action, resource_type, resource_id, username, user_email, created_at FROM recent_audit_activity
         WHERE organization_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 50",
    )?;
    stmt.query_map(params![tenant.org_id()], |r| {
        Ok(TimelineEvent {
            id: r.get(0)?,
            action: r.get(1)?,
            resource_type: r.get(2)?,
            resource_id: r.get(3)?,
            user_name: r.get(4)?,
            user_email: r.get(5)?,
            created_at: r.get(6)?,
        })
    })?
    .collect()
}

/// (database bytes, free-list bytes) of the data file.
pub fn file_sizes(c: &Connection, _admin: &Admin) -> rusqlite::Result<(i64, i64)> {
    c.query_row(
        "SELECT p.page_count * s.page_size, f.freelist_count * s.page_size
         FROM pragma_page_count() p, pragma_page_size() s, pragma_freelist_count() f",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The job queue of the instance.
pub fn job_health(c: &Connection, _admin: &Admin, now: &str, since_24h: &str) -> rusqlite::Result<JobHealth> {
    c.query_row(
        "SELECT (SELECT count(*) FROM jobs WHERE status = 'queued' AND run_at <= ?1),
                (SELECT count(*) FROM jobs WHERE status = 'queued' AND run_at > ?1),
                (SELECT count(*) FROM jobs WHERE status = 'running'),
                (SELECT count(*) FROM jobs WHERE status = 'failed' AND updated_at >= ?2),
                (SELECT count(*) FROM jobs WHERE status = 'dead'),
                (SELECT (julianday(?1) - julianday(min(run_at))) * 86400.0 FROM jobs WHERE status = 'queued' AND run_at <= ?1)",
        params![now, since_24h],
        |r| {
            Ok(JobHealth {
                queued_due: r.get(0)?,
                queued_later: r.get(1)?,
                running: r.get(2)?,
                failed_last_24h: r.get(3)?,
                dead: r.get(4)?,
                oldest_due_seconds: r.get::<_, Option<f64>>(5)?.map(|s| s.max(0.0).round()),
            })
        },
    )
}

/// Rounds to 4 decimals.
#[must_use]
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
