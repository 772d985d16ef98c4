//! Types of the insights domain: query parameters (parsed by hand so that a
//! bad value is a 422 naming the field) and the answers.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::db::format_timestamp;
use crate::error::{AppError, AppResult};
use crate::nlu::evaluate::{Confusion, IntentMetrics};
use crate::nlu::model::{ExampleId, IntentId, NluLogId};

/// The longest date range of a query.
pub const MAX_RANGE_DAYS: i64 = 366;
/// The range when none is given.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

/// `?from=&to=`: dates (`2026-12-01`, whole days, UTC) or RFC 3339 instants.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// Start (inclusive); default 30 days before `to`.
    pub from: Option<String>,
    /// End (inclusive for a date, exclusive for an instant); default now.
    pub to: Option<String>,
}

/// A checked range, as database timestamps `[from, to)`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Range {
    pub from: String,
    pub to: String,
}

fn parse_instant(field: &str, raw: &str, end: bool) -> AppResult<DateTime<Utc>> {
    let raw = raw.trim();
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = if end { d.succ_opt().unwrap_or(d) } else { d };
        return day
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| AppError::validation(field, "not a valid date"));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| AppError::validation(field, "must be a date (YYYY-MM-DD) or an RFC 3339 instant"))
}

impl RangeQuery {
    /// Checks the range: both ends valid, `from` before `to`, at most
    /// [`MAX_RANGE_DAYS`] long.
    pub fn check(&self) -> AppResult<Range> {
        let to = match self.to.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(raw) => parse_instant("to", raw, true)?,
            None => Utc::now(),
        };
        let from = match self.from.as_deref().filter(|s| !s.trim().is_empty()) {
            Some(raw) => parse_instant("from", raw, false)?,
            None => to - Duration::days(DEFAULT_RANGE_DAYS),
        };
        if from >= to {
            return Err(AppError::validation("from", "must be before `to`"));
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(AppError::validation("from", format!("the range may span at most {MAX_RANGE_DAYS} days")));
        }
        Ok(Range { from: format_timestamp(from), to: format_timestamp(to) })
    }
}

/// Parses an optional number in `[min, max]`, naming the field when bad.
pub fn number_param(field: &str, raw: Option<&str>, default: f64, min: f64, max: f64) -> AppResult<f64> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(default),
        Some(s) => match s.parse::<f64>() {
            Ok(v) if v.is_finite() && (min..=max).contains(&v) => Ok(v),
            _ => Err(AppError::validation(field, format!("must be a number between {min} and {max}"))),
        },
    }
}

// ---- NLU ----

/// `GET /bots/{bot_id}/nlu/insights/summary`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Confidence under which a matched message is "low confidence" (0–1, default 0.5).
    pub threshold: Option<String>,
}

/// One bar of the confidence histogram: `[lower, upper)` (the last one includes 1).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub count: i64,
}

/// Messages per detected intent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntentCount {
    pub intent: String,
    pub count: i64,
    pub average_confidence: f64,
}

/// Parse traffic of a bot in a range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NluSummary {
    pub range: Range,
    pub threshold: f64,
    pub total: i64,
    /// In scope with confidence at or above the threshold.
    pub matched: i64,
    /// In scope but under the threshold.
    pub low_confidence: i64,
    /// Out of scope (no intent).
    pub unmatched: i64,
    pub average_confidence: f64,
    /// Ten bars of width 0.1.
    pub histogram: Vec<Bucket>,
    pub intents: Vec<IntentCount>,
}

/// `GET /bots/{bot_id}/nlu/insights/messages`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// `low_confidence` (in scope, under the threshold) or `unmatched` (out of scope).
    pub kind: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub threshold: Option<String>,
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// Precision/recall per intent from the bot's last finished evaluation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IntentQuality {
    /// The evaluation job, absent when the bot was never evaluated.
    pub job_id: Option<i64>,
    pub evaluated_at: Option<String>,
    pub accuracy: Option<f64>,
    pub macro_f1: Option<f64>,
    pub per_intent: Vec<IntentMetrics>,
    pub confusions: Vec<Confusion>,
}

/// `GET /bots/{bot_id}/nlu/insights/conflicts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConflictsQuery {
    /// Cosine similarity from which two examples of different intents
    /// conflict (0.5–1, default 0.9).
    pub threshold: Option<String>,
}

/// An example with its intent.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ExampleRef {
    pub example_id: ExampleId,
    pub text: String,
    pub intent_id: IntentId,
    pub intent: String,
}

/// Two examples of different intents that are near-duplicates.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConflictPair {
    pub a: ExampleRef,
    pub b: ExampleRef,
    pub similarity: f64,
}

/// Conflicts of the bot's training data.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Conflicts {
    pub threshold: f64,
    /// Most similar first (at most 200).
    pub pairs: Vec<ConflictPair>,
    /// Intents the last evaluation confused (empty without one).
    pub confusions: Vec<Confusion>,
}

/// `GET /bots/{bot_id}/nlu/insights/gaps`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GapsQuery {
    /// Fewer examples than this is a gap (1–1000, default 5).
    pub min_examples: Option<String>,
    /// Mean pairwise similarity of an intent's examples from which they are
    /// too alike (0.5–1, default 0.9).
    pub similarity: Option<String>,
}

/// An intent that needs more (or more varied) examples.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainingGap {
    pub intent_id: IntentId,
    pub intent: String,
    pub examples: i64,
    /// Mean cosine similarity between the intent's examples (2 or more).
    pub mean_similarity: Option<f64>,
    /// `too_few_examples` and/or `examples_too_similar`.
    pub reasons: Vec<String>,
}

/// Training gaps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Gaps {
    pub min_examples: i64,
    pub similarity: f64,
    /// False when the local models are off: only the counts were checked.
    pub similarity_checked: bool,
    pub gaps: Vec<TrainingGap>,
}

/// `POST /bots/{bot_id}/nlu/insights/similar`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimilarRequest {
    pub text: String,
    /// 1–50, default 10.
    pub limit: Option<usize>,
}

/// A training example near a sentence.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimilarExample {
    pub example_id: ExampleId,
    pub text: String,
    pub intent_id: IntentId,
    pub intent: String,
    pub score: f64,
}

/// Nearest examples, best first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SimilarResponse {
    pub items: Vec<SimilarExample>,
}

/// `POST /bots/{bot_id}/nlu/insights/move-example`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveExampleRequest {
    pub example_id: ExampleId,
    pub intent_id: IntentId,
}

/// `POST /bots/{bot_id}/nlu/insights/add-example`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLoggedExampleRequest {
    pub log_id: NluLogId,
    pub intent_id: IntentId,
}

// ---- knowledge ----

/// `GET /bots/{bot_id}/knowledge/insights`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KnowledgeQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Only answers that searched this knowledge base.
    pub knowledge_base_id: Option<String>,
}

/// A document and how often answers cited it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CitedDocument {
    pub document_id: i64,
    pub knowledge_base_id: i64,
    pub title: Option<String>,
    pub citations: i64,
}

/// A chunk and how often answers cited it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CitedChunk {
    pub chunk_id: i64,
    pub document_id: i64,
    pub snippet: Option<String>,
    pub citations: i64,
}

/// Knowledge answers of a bot in a range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KnowledgeInsights {
    pub range: Range,
    pub questions: i64,
    /// Answered from the knowledge (with citations).
    pub answered: i64,
    /// "I don't know": nothing relevant found.
    pub unanswered: i64,
    /// The answer failed (e.g. no knowledge base linked).
    pub errors: i64,
    pub answer_rate: f64,
    /// Most cited first (at most 20).
    pub top_documents: Vec<CitedDocument>,
    pub top_chunks: Vec<CitedChunk>,
}

/// `GET /bots/{bot_id}/knowledge/insights/low-scores`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LowScoreQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Best retrieval score under which a query is listed (0–1, default 0.5).
    pub below: Option<String>,
    pub knowledge_base_id: Option<String>,
    pub limit: Option<u32>,
    pub after: Option<String>,
}

/// A logged knowledge question.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KnowledgeQuestion {
    pub id: i64,
    pub query: String,
    pub answered: bool,
    pub mode: String,
    /// Best vector score over every passage searched (absent when nothing was searched).
    pub top_score: Option<f64>,
    pub created_at: String,
}

// ---- flows ----

/// A node of a funnel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FunnelNode {
    pub id: String,
    /// Node type (absent for a node no longer in the flow).
    pub node_type: Option<String>,
    pub label: Option<String>,
    /// Conversations that reached the node.
    pub reached: i64,
    /// Conversations whose last node in the flow (in the range) is this one.
    pub dropped_off: i64,
    /// Mean time from reaching the node to leaving it, over the
    /// conversations that left it.
    pub average_seconds: Option<f64>,
}

/// An edge of a funnel: moves from `source` to `target`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FunnelEdge {
    pub source: String,
    pub target: String,
    /// Times a conversation went along it.
    pub count: i64,
    /// Conversations that went along it.
    pub conversations: i64,
}

/// A flow's funnel.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Funnel {
    pub flow: String,
    pub range: Range,
    /// Conversations that entered the flow.
    pub conversations: i64,
    /// The nodes of the flow's document (published, else the draft) in its
    /// order, then visited nodes no longer in it.
    pub nodes: Vec<FunnelNode>,
    pub edges: Vec<FunnelEdge>,
}

// ---- organization administration ----

/// Counts of an organization.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrgStats {
    pub members: i64,
    pub bots: i64,
    pub conversations_open: i64,
    pub conversations_handoff: i64,
    pub conversations_closed: i64,
    pub messages_last_30_days: i64,
    pub knowledge_bases: i64,
    pub documents: i64,
    pub chunks: i64,
    pub files_bytes: i64,
    pub jobs_queued: i64,
    pub jobs_failed_last_24h: i64,
}

/// One day of the activity timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineDay {
    pub day: String,
    pub audit_events: i64,
    pub activity_events: i64,
}

/// An audit event (from the `recent_audit_activity` view).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEvent {
    pub id: i64,
    pub action: String,
    pub resource_type: Option<String>,
    pub resource_id: Option<i64>,
    pub user_name: Option<String>,
    pub user_email: Option<String>,
    pub created_at: String,
}

/// The organization's activity timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    pub range: Range,
    pub days: Vec<TimelineDay>,
    /// The latest audit events of the last 30 days (at most 50), newest first.
    pub recent: Vec<TimelineEvent>,
}

/// Jobs of the instance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobHealth {
    /// Queued and due now.
    pub queued_due: i64,
    /// Queued for later (backoff, schedules).
    pub queued_later: i64,
    pub running: i64,
    pub failed_last_24h: i64,
    pub dead: i64,
    /// Age of the oldest due job, seconds.
    pub oldest_due_seconds: Option<f64>,
}

/// Instance health for the superadmin console.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceHealth {
    pub database_bytes: i64,
    pub wal_bytes: i64,
    /// Pages on the free list (reclaimable by vacuum), in bytes.
    pub free_bytes: i64,
    pub jobs: JobHealth,
    /// `ready`, `starting`, `failed` or `off`.
    pub models: String,
    pub embedding_model: Option<String>,
    pub models_detail: Option<String>,
    /// Turns waiting for the turn writer.
    pub turn_write_queue: usize,
}

/// One rate limit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LimitView {
    pub bucket: String,
    pub per_ip: u32,
    pub per_account: u32,
    pub window_secs: u64,
}

/// A client refused now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BlockedClient {
    /// `bucket:scope:key`; pass it to unblock.
    pub id: String,
    pub bucket: String,
    pub scope: String,
    pub key: String,
    pub blocked_until: String,
    pub refusals: u64,
}

/// Rate-limit settings (from the configuration) and blocked clients.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RateLimitsView {
    pub enabled: bool,
    pub limits: Vec<LimitView>,
    pub blocked: Vec<BlockedClient>,
}

/// `POST /admin/rate-limits/unblock`: one client, or all.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnblockRequest {
    pub id: Option<String>,
    #[serde(default)]
    pub all: bool,
}

/// How many clients were unblocked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnblockResponse {
    pub unblocked: usize,
}
