//! Types of analytics: dashboard queries and answers, raw events, feedback.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One rollup row read back: an hour and channel, summed over bots.
#[derive(Debug, Clone)]
pub struct HourRow {
    pub hour: String,
    pub channel: String,
    pub conversations: i64,
    pub messages_in: i64,
    pub messages_out: i64,
    pub handoffs: i64,
    pub first_reply_count: i64,
    pub first_reply_secs: f64,
    pub fallbacks: i64,
    pub csat: [i64; 5],
    pub feedback_up: i64,
    pub feedback_down: i64,
}

/// Filters of a dashboard. Dates are calendar days in `tz`, both included.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// First day, `YYYY-MM-DD` (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day, `YYYY-MM-DD`, included (default: today in `tz`).
    pub to: Option<String>,
    /// IANA timezone of the days and the heatmap (default `UTC`).
    pub tz: Option<String>,
    /// Only this channel (`widget`, `telegram`, `api`, …).
    pub channel: Option<String>,
    /// Buckets of the time series: `hour` (ranges up to 7 days), `day` (default), `week`, `month`.
    pub granularity: Option<String>,
    /// Organization dashboard only: one bot of the organization.
    pub bot_id: Option<i64>,
}

/// The counters of a period (a bucket of the series, a channel, or the whole range).
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq)]
pub struct AnalyticsCounts {
    /// Conversations started (a new end user, or a closed conversation reopened).
    pub conversations: i64,
    /// End-user messages.
    pub messages_in: i64,
    /// Bot and agent messages.
    pub messages_out: i64,
    /// Conversations handed to a human.
    pub handoffs: i64,
    /// `conversations - handoffs` (not below 0): resolved without a human.
    pub contained: i64,
    /// Messages the bot did not understand (fallback reply or out-of-scope route).
    pub fallbacks: i64,
    /// First human replies after a hand-off, and their total delay in seconds.
    pub first_replies: i64,
    pub first_reply_secs_total: f64,
    /// CSAT answers per score 1–5.
    pub csat: [i64; 5],
    /// Thumbs up / down on the bot's answers.
    pub feedback_up: i64,
    pub feedback_down: i64,
}

/// One bucket of the time series.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsBucket {
    /// Start of the bucket in `tz`: `YYYY-MM-DD` (day, week starting Monday, month: its first day) or `YYYY-MM-DDTHH` (hour).
    pub period: String,
    #[serde(flatten)]
    pub counts: AnalyticsCounts,
}

/// The channel breakdown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsChannelCounts {
    pub channel: String,
    #[serde(flatten)]
    pub counts: AnalyticsCounts,
}

/// Rates and averages derived from the totals (absent when the divisor is 0).
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AnalyticsKpis {
    pub conversations: i64,
    pub messages_in: i64,
    pub messages_out: i64,
    pub unique_users: i64,
    /// `contained / conversations`.
    pub containment_rate: Option<f64>,
    /// `handoffs / conversations`.
    pub handoff_rate: Option<f64>,
    /// Mean seconds from hand-off to the first human reply.
    pub avg_first_reply_secs: Option<f64>,
    /// `fallbacks / messages_in`.
    pub fallback_rate: Option<f64>,
    /// `messages_in / conversations`.
    pub avg_turns: Option<f64>,
    /// Mean CSAT score (1–5) and the number of answers.
    pub csat_avg: Option<f64>,
    pub csat_count: i64,
    /// `feedback_up / (feedback_up + feedback_down)`.
    pub feedback_positive_rate: Option<f64>,
}

/// A top intent.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsIntentCount {
    pub intent: String,
    pub count: i64,
}

/// A group of similar unanswered questions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsUnanswered {
    /// The most frequent wording of the group.
    pub text: String,
    pub count: i64,
    /// Up to five other wordings.
    pub examples: Vec<String>,
}

/// How current the rollups are.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsFreshness {
    /// Hours of the organization waiting for the rollup job.
    pub pending_hours: i64,
    /// The newest UTC hour with rolled-up traffic.
    pub latest_hour: Option<String>,
}

/// A dashboard: KPIs, series, channel breakdown, heatmap, top intents and unanswered questions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsOverview {
    pub from: String,
    pub to: String,
    pub tz: String,
    pub granularity: String,
    pub channel: Option<String>,
    pub bot_id: Option<i64>,
    pub kpis: AnalyticsKpis,
    pub totals: AnalyticsCounts,
    pub series: Vec<AnalyticsBucket>,
    pub by_channel: Vec<AnalyticsChannelCounts>,
    /// End-user messages by weekday (0 = Monday) × hour of day, in `tz`.
    pub heatmap: Vec<Vec<i64>>,
    pub top_intents: Vec<AnalyticsIntentCount>,
    pub unanswered: Vec<AnalyticsUnanswered>,
    /// Whether `unanswered` groups by meaning (local embeddings) or, with the models off, by identical text.
    pub clustering: String,
    pub freshness: AnalyticsFreshness,
}

/// Drill-down filter: the dashboard's filters plus the kind of event and
/// what narrows it to one number of the dashboard.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// `fallback` (default), `handoff`, `first_reply`, `csat`, `intent`, `session`,
    /// or `message` (the end users' messages: the heatmap and "messages in").
    pub kind: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub tz: Option<String>,
    pub channel: Option<String>,
    /// Organization drill-down only: one bot of the organization.
    pub bot_id: Option<i64>,
    /// `csat` only: scores up to this one (1–5; 2 = low CSAT).
    pub csat_max: Option<i64>,
    /// A heatmap cell: weekday (0 = Monday) and hour (0–23) in `tz`; both or neither.
    pub weekday: Option<u32>,
    pub hour: Option<u32>,
    /// `fallback` / `intent`: only this wording (case and spacing ignored), e.g. an unanswered group's text.
    pub text: Option<String>,
}

/// A raw analytics event (drill-down).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalyticsRawEvent {
    pub id: i64,
    pub bot_id: i64,
    pub conversation_id: Option<i64>,
    pub channel: String,
    pub kind: String,
    /// Seconds (`first_reply`) or the score (`csat`).
    pub value: Option<f64>,
    /// The end user's text (`fallback`, `message`) or the intent (`intent`).
    pub text: Option<String>,
    pub created_at: String,
}

/// A vote on a bot answer.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MessageFeedbackRequest {
    /// `up` or `down`.
    pub rating: String,
    /// Optional, up to 1000 characters.
    pub comment: Option<String>,
}

/// A stored vote.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageFeedback {
    pub id: i64,
    pub bot_id: i64,
    pub conversation_id: i64,
    pub message_id: i64,
    pub rating: String,
    pub comment: Option<String>,
    /// `widget` or `emulator`.
    pub source: String,
    /// The rated answer.
    pub message_text: String,
    pub message_at: String,
    pub channel: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Filter of a bot's feedback list and CSV export.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageFeedbackQuery {
    /// `up` or `down`.
    pub rating: Option<String>,
    /// First day (UTC), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (UTC), included.
    pub to: Option<String>,
}
