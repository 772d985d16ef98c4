//! Dashboard logic: the filters checked, rollup hours folded into the days of
//! any timezone, rates derived, unanswered questions grouped by meaning; and
//! answer feedback.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::json;

use super::levels;
use super::model::{
    AnalyticsBucket, AnalyticsChannelCounts, AnalyticsCounts, AnalyticsFreshness, AnalyticsIntentCount, AnalyticsKpis,
    AnalyticsOverview, AnalyticsRawEvent, AnalyticsUnanswered, EventsQuery, HourRow, MessageFeedback,
    MessageFeedbackQuery, MessageFeedbackRequest, OverviewQuery,
};
use super::store::{self, FeedbackFilter, Scope};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;

/// Channels a dashboard may filter on (every conversation channel but the emulator).
pub const CHANNELS: &[&str] = &[
    "web",
    "widget",
    "api",
    "telegram",
    "whatsapp",
    "slack",
    "messenger",
    "sms",
    "voice",
    "instagram",
    "email",
    "http",
];
/// Unanswered texts read per dashboard (the newest) and groups returned.
const UNANSWERED_SCAN: i64 = 1000;
const UNANSWERED_GROUPS: usize = 10;
/// Two questions are "the same" above this cosine similarity.
pub const CLUSTER_SIMILARITY: f32 = 0.8;

/// Series bucket size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Week,
    Month,
}

impl Granularity {
    fn as_str(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }
}

/// Checked dashboard filters.
#[derive(Debug, Clone)]
pub struct Range {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tz: Tz,
    pub granularity: Granularity,
    pub channel: Option<String>,
    /// UTC hours `[from_hour, to_hour)` covering the days in `tz`.
    pub from_hour: String,
    pub to_hour: String,
}

fn parse_day(field: &str, raw: &str) -> AppResult<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| AppError::validation(field, format!("`{raw}` is not a date; use YYYY-MM-DD")))
}

/// The UTC hour (`YYYY-MM-DDTHH`) holding local midnight of `day` in `tz`.
fn utc_hour_of_midnight(tz: Tz, day: NaiveDate) -> String {
    let local = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    let instant = tz
        .from_local_datetime(&local)
        .earliest()
        .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc));
    instant.format("%Y-%m-%dT%H").to_string()
}

/// Checks the filters: dates, their order and length (`max_days`), the
/// timezone, the channel, the granularity.
pub fn parse_range(
    from: Option<&str>,
    to: Option<&str>,
    tz: Option<&str>,
    channel: Option<&str>,
    granularity: Option<&str>,
    max_days: u32,
) -> AppResult<Range> {
    let tz_name = tz.map(str::trim).filter(|t| !t.is_empty()).unwrap_or("UTC");
    let tz: Tz = tz_name.parse().map_err(|_| {
        AppError::new(ErrorCode::TimezoneUnknown, format!("`{tz_name}` is not an IANA timezone (e.g. Europe/Paris)"))
            .with_details(json!({ "field": "tz", "value": tz_name }))
    })?;
    let local_today = Utc::now().with_timezone(&tz).date_naive();
    let to_day = to.map(|t| parse_day("to", t)).transpose()?.unwrap_or(local_today);
    let from_day = from.map(|f| parse_day("from", f)).transpose()?.unwrap_or(to_day - Duration::days(29));
    if to_day < from_day {
        return Err(AppError::new(
            ErrorCode::DateRangeInvalid,
            format!("`to` ({to_day}) is before `from` ({from_day})"),
        )
        .with_details(json!({ "field": "to", "from": from_day.to_string(), "to": to_day.to_string() })));
    }
    let days = (to_day - from_day).num_days() + 1;
    if days > i64::from(max_days) {
        return Err(AppError::new(
            ErrorCode::DateRangeTooLong,
            format!("the range covers {days} days; at most {max_days} (analytics.max_range_days)"),
        )
        .with_details(json!({ "field": "from", "days": days, "max_days": max_days })));
    }
    let channel = match channel.map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) if CHANNELS.contains(&c) => Some(c.to_owned()),
        Some(c) => {
            return Err(AppError::validation(
                "channel",
                format!("unknown channel `{c}`; one of {}", CHANNELS.join(", ")),
            ));
        }
    };
    let granularity = match granularity.map_or("day", str::trim) {
        "hour" if days <= 7 => Granularity::Hour,
        "hour" => return Err(AppError::validation("granularity", "`hour` is for ranges of at most 7 days")),
        "day" | "" => Granularity::Day,
        "week" => Granularity::Week,
        "month" => Granularity::Month,
        other => {
            return Err(AppError::validation(
                "granularity",
                format!("unknown granularity `{other}`; one of hour, day, week, month"),
            ));
        }
    };
    Ok(Range {
        from: from_day,
        to: to_day,
        tz,
        granularity,
        channel,
        from_hour: utc_hour_of_midnight(tz, from_day),
        to_hour: utc_hour_of_midnight(tz, to_day + Duration::days(1)),
    })
}

fn local_of(hour: &str, tz: Tz) -> Option<NaiveDateTime> {
    let t = NaiveDateTime::parse_from_str(&format!("{hour}:00"), "%Y-%m-%dT%H:%M").ok()?;
    Some(Utc.from_utc_datetime(&t).with_timezone(&tz).naive_local())
}

fn period_of(t: NaiveDateTime, g: Granularity) -> String {
    let d = t.date();
    match g {
        Granularity::Hour => t.format("%Y-%m-%dT%H").to_string(),
        Granularity::Day => d.to_string(),
        Granularity::Week => (d - Duration::days(i64::from(d.weekday().num_days_from_monday()))).to_string(),
        Granularity::Month => d.with_day(1).unwrap_or(d).to_string(),
    }
}

/// Every period of the range, in order (the series has no holes).
fn periods(r: &Range) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut d = r.from;
    while d <= r.to {
        if r.granularity == Granularity::Hour {
            for h in 0..24 {
                if let Some(t) = d.and_hms_opt(h, 0, 0) {
                    out.push(period_of(t, Granularity::Hour));
                }
            }
        } else {
            let p = period_of(d.and_hms_opt(0, 0, 0).unwrap_or_default(), r.granularity);
            if out.last() != Some(&p) {
                out.push(p);
            }
        }
        d += Duration::days(1);
    }
    out
}

fn add(c: &mut AnalyticsCounts, h: &HourRow) {
    c.conversations += h.conversations;
    c.messages_in += h.messages_in;
    c.messages_out += h.messages_out;
    c.handoffs += h.handoffs;
    c.fallbacks += h.fallbacks;
    c.first_replies += h.first_reply_count;
    c.first_reply_secs_total += h.first_reply_secs;
    for i in 0..5 {
        c.csat[i] += h.csat[i];
    }
    c.feedback_up += h.feedback_up;
    c.feedback_down += h.feedback_down;
}

fn finish(c: &mut AnalyticsCounts) {
    c.contained = (c.conversations - c.handoffs).max(0);
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn ratio(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
fn kpis(t: &AnalyticsCounts, unique_users: i64) -> AnalyticsKpis {
    let csat_count: i64 = t.csat.iter().sum();
    let csat_sum: i64 = t.csat.iter().zip(1..).map(|(n, s)| n * s).sum();
    AnalyticsKpis {
        conversations: t.conversations,
        messages_in: t.messages_in,
        messages_out: t.messages_out,
        unique_users,
        containment_rate: ratio(t.contained, t.conversations),
        handoff_rate: ratio(t.handoffs, t.conversations),
        avg_first_reply_secs: (t.first_replies > 0).then(|| t.first_reply_secs_total / t.first_replies as f64),
        fallback_rate: ratio(t.fallbacks, t.messages_in),
        avg_turns: ratio(t.messages_in, t.conversations),
        csat_avg: ratio(csat_sum, csat_count),
        csat_count,
        feedback_positive_rate: ratio(t.feedback_up, t.feedback_up + t.feedback_down),
    }
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Groups unanswered texts: by meaning when they have vectors (a text joins
/// the first group whose first text is at least [`CLUSTER_SIMILARITY`]
/// similar), else by identical normalised text. Largest groups first.
#[must_use]
pub fn cluster(items: &[(String, Option<Vec<f32>>)]) -> Vec<AnalyticsUnanswered> {
    struct Group {
        leader: Option<Vec<f32>>,
        key: String,
        wordings: BTreeMap<String, i64>,
        count: i64,
        first: usize,
    }
    let mut groups: Vec<Group> = Vec::new();
    for (i, (text, vector)) in items.iter().enumerate() {
        let key = normalise(text);
        let found = match vector {
            Some(v) => groups.iter().position(|g| {
                g.leader.as_ref().is_some_and(|l| crate::ml::embedder::dot(l, v) >= CLUSTER_SIMILARITY) || g.key == key
            }),
            None => groups.iter().position(|g| g.key == key),
        };
        let at = found.unwrap_or_else(|| {
            groups.push(Group {
                leader: vector.clone(),
                key: key.clone(),
                wordings: BTreeMap::new(),
                count: 0,
                first: i,
            });
            groups.len() - 1
        });
        let g = &mut groups[at];
        g.count += 1;
        *g.wordings.entry(key).or_default() += 1;
    }
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.first.cmp(&b.first)));
    groups
        .into_iter()
        .take(UNANSWERED_GROUPS)
        .map(|g| {
            let mut wordings: Vec<(String, i64)> = g.wordings.into_iter().collect();
            wordings.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let text = wordings.first().map(|w| w.0.clone()).unwrap_or_default();
            AnalyticsUnanswered {
                text,
                count: g.count,
                examples: wordings.into_iter().skip(1).take(5).map(|w| w.0).collect(),
            }
        })
        .collect()
}

/// A `bot_id` filter: a bot of the organization, else 422 `invalid_reference`.
async fn known_bot(state: &AppState, tenant: &Tenant, id: i64) -> AppResult<BotId> {
    let t = tenant.clone();
    if !state.db.read(move |c| Ok(store::bot_exists(c, &t, id)?)).await? {
        return Err(AppError::new(ErrorCode::InvalidReference, format!("no bot {id} in this organization"))
            .with_details(json!({ "field": "bot_id", "value": id })));
    }
    Ok(BotId(id))
}

/// The dashboard of an organization (`bot`: all bots when `None`).
#[allow(clippy::too_many_lines, reason = "one pass over the rollup rows")]
pub async fn overview(
    state: &AppState,
    tenant: Tenant,
    bot: Option<BotId>,
    q: OverviewQuery,
) -> AppResult<AnalyticsOverview> {
    let range = parse_range(
        q.from.as_deref(),
        q.to.as_deref(),
        q.tz.as_deref(),
        q.channel.as_deref(),
        q.granularity.as_deref(),
        state.config.analytics.max_range_days,
    )?;
    let bot = match (bot, q.bot_id) {
        (Some(b), _) => Some(b),
        (None, None) => None,
        (None, Some(id)) => Some(known_bot(state, &tenant, id).await?),
    };
    let scope = Scope {
        org: tenant.org_id(),
        bot,
        channel: range.channel.clone(),
        from_hour: range.from_hour.clone(),
        to_hour: range.to_hour.clone(),
    };
    let s = scope.clone();
    let (rows, channel_rows, unique_users, intents, unanswered, (pending, latest)) = state
        .db
        .read(move |c| {
            // Every read below touches one row per period of the scope (or
            // per user-hour for the distinct users), never the transcript.
            Ok((
                levels::scope_hours(c, &s)?,
                levels::by_channel(c, &s)?,
                levels::unique_users(c, &s)?,
                levels::top_intents(c, &s, 10)?,
                store::unanswered(c, &s, UNANSWERED_SCAN)?,
                store::freshness(c, s.org)?,
            ))
        })
        .await?;

    let all = periods(&range);
    let mut series: BTreeMap<String, AnalyticsCounts> =
        all.iter().map(|p| (p.clone(), AnalyticsCounts::default())).collect();
    let mut totals = AnalyticsCounts::default();
    let mut heatmap = vec![vec![0i64; 24]; 7];
    for h in &rows {
        let Some(local) = local_of(&h.hour, range.tz) else { continue };
        add(&mut totals, h);
        if let Some(c) = series.get_mut(&period_of(local, range.granularity)) {
            add(c, h);
        }
        let (wd, hr) = (local.weekday().num_days_from_monday() as usize, local.hour() as usize);
        if let Some(cell) = heatmap.get_mut(wd).and_then(|r| r.get_mut(hr)) {
            *cell += h.messages_in;
        }
    }
    finish(&mut totals);
    let series = all
        .into_iter()
        .map(|p| {
            let mut counts = series.remove(&p).unwrap_or_default();
            finish(&mut counts);
            AnalyticsBucket { period: p, counts }
        })
        .collect();
    let by_channel = channel_rows
        .iter()
        .map(|h| {
            let mut counts = AnalyticsCounts::default();
            add(&mut counts, h);
            finish(&mut counts);
            AnalyticsChannelCounts { channel: h.channel.clone(), counts }
        })
        .collect();
    let with_vectors = unanswered.iter().filter(|u| u.1.is_some()).count();
    let clustering = if with_vectors == unanswered.len() {
        "embeddings"
    } else if with_vectors == 0 {
        "text"
    } else {
        "mixed"
    };
    let items: Vec<(String, Option<Vec<f32>>)> =
        unanswered.into_iter().map(|(t, v)| (t, v.map(|b| crate::ml::embedder::bytes_vector(&b)))).collect();
    Ok(AnalyticsOverview {
        from: range.from.to_string(),
        to: range.to.to_string(),
        tz: range.tz.name().to_owned(),
        granularity: range.granularity.as_str().to_owned(),
        channel: range.channel.clone(),
        bot_id: bot.map(|b| b.0),
        kpis: kpis(&totals, unique_users),
        totals,
        series,
        by_channel,
        heatmap,
        top_intents: intents.into_iter().map(|(intent, count)| AnalyticsIntentCount { intent, count }).collect(),
        unanswered: cluster(&items),
        clustering: clustering.to_owned(),
        freshness: AnalyticsFreshness { pending_hours: pending, latest_hour: latest },
    })
}

const EVENT_KINDS: &[&str] = &["session", "handoff", "first_reply", "fallback", "csat", "intent", "message"];

/// The UTC hours of the range whose local weekday (0 = Monday) and hour in
/// `tz` are the cell's, as a JSON array (a heatmap cell's drill-down).
fn cell_hours(r: &Range, weekday: u32, hour: u32) -> String {
    let mut out = Vec::new();
    let (Ok(mut t), Ok(end)) = (
        NaiveDateTime::parse_from_str(&format!("{}:00", r.from_hour), "%Y-%m-%dT%H:%M"),
        NaiveDateTime::parse_from_str(&format!("{}:00", r.to_hour), "%Y-%m-%dT%H:%M"),
    ) else {
        return "[]".into();
    };
    while t < end {
        let local = Utc.from_utc_datetime(&t).with_timezone(&r.tz);
        if local.weekday().num_days_from_monday() == weekday && local.hour() == hour {
            out.push(t.format("%Y-%m-%dT%H").to_string());
        }
        t += Duration::hours(1);
    }
    serde_json::Value::from(out).to_string()
}

/// Checks the drill-down's narrowing filters against the kind.
fn drill_filter(kind: &str, q: &EventsQuery, range: &Range) -> AppResult<store::DrillFilter> {
    let csat_max = match q.csat_max {
        None => None,
        Some(_) if kind != "csat" => return Err(AppError::validation("csat_max", "only with kind=csat")),
        Some(m) if (1..=5).contains(&m) => Some(m),
        Some(_) => return Err(AppError::validation("csat_max", "a CSAT score is 1–5")),
    };
    let hours = match (q.weekday, q.hour) {
        (None, None) => None,
        (Some(w), Some(h)) if w <= 6 && h <= 23 => Some(cell_hours(range, w, h)),
        (Some(w), _) if w > 6 => return Err(AppError::validation("weekday", "a weekday is 0 (Monday) to 6 (Sunday)")),
        (Some(_), Some(_)) => return Err(AppError::validation("hour", "an hour is 0 to 23")),
        (Some(_), None) => return Err(AppError::validation("hour", "a heatmap cell needs `weekday` and `hour`")),
        (None, Some(_)) => return Err(AppError::validation("weekday", "a heatmap cell needs `weekday` and `hour`")),
    };
    let text = match q.text.as_deref().map(normalise).filter(|t| !t.is_empty()) {
        None => None,
        Some(_) if !matches!(kind, "fallback" | "intent" | "message") => {
            return Err(AppError::validation("text", "only with kind=fallback, intent or message"));
        }
        Some(t) if t.chars().count() > 500 => return Err(AppError::validation("text", "at most 500 characters")),
        Some(t) => Some(t),
    };
    Ok(store::DrillFilter { csat_max, hours, text })
}

/// The raw events behind a dashboard number, newest first (paginated).
pub async fn events(
    state: &AppState,
    tenant: Tenant,
    bot: Option<BotId>,
    q: EventsQuery,
    page: PageParams,
) -> AppResult<Page<AnalyticsRawEvent>> {
    let kind = q.kind.clone().unwrap_or_else(|| "fallback".into());
    if !EVENT_KINDS.contains(&kind.as_str()) {
        return Err(AppError::validation("kind", format!("unknown kind `{kind}`; one of {}", EVENT_KINDS.join(", "))));
    }
    let range = parse_range(
        q.from.as_deref(),
        q.to.as_deref(),
        q.tz.as_deref(),
        q.channel.as_deref(),
        None,
        state.config.analytics.max_range_days,
    )?;
    let drill = drill_filter(&kind, &q, &range)?;
    let bot = match (bot, q.bot_id) {
        (Some(b), _) => Some(b),
        (None, None) => None,
        (None, Some(id)) => Some(known_bot(state, &tenant, id).await?),
    };
    let scope =
        Scope { org: tenant.org_id(), bot, channel: range.channel, from_hour: range.from_hour, to_hour: range.to_hour };
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state
        .db
        .read(move |c| {
            Ok(if kind == "message" {
                store::messages_page(c, &scope, &drill, before, limit)?
            } else {
                store::events_page(c, &scope, &kind, &drill, before, limit)?
            })
        })
        .await?;
    Page::from_rows(rows, &page, |e| e.id)
}

// ---- MessageFeedback ----------------------------------------------------------------

fn check_feedback(req: &MessageFeedbackRequest) -> AppResult<(String, Option<String>)> {
    let rating = req.rating.trim();
    if rating != "up" && rating != "down" {
        return Err(AppError::validation("rating", "must be `up` or `down`"));
    }
    let comment = req.comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = comment {
        if c.chars().count() > 1000 {
            return Err(AppError::validation("comment", "at most 1000 characters"));
        }
        if c.chars().any(|ch| ch.is_control() && !matches!(ch, '\n' | '\r' | '\t')) {
            return Err(AppError::validation("comment", "contains control characters"));
        }
    }
    Ok((rating.to_owned(), comment.map(str::to_owned)))
}

/// Sets the vote on a bot answer of a conversation (`source`: `widget` or
/// `emulator`; the emulator rates its own conversations only).
pub async fn rate(
    state: &AppState,
    tenant: Tenant,
    conversation: i64,
    message: i64,
    source: &'static str,
    req: MessageFeedbackRequest,
) -> AppResult<MessageFeedback> {
    let (rating, comment) = check_feedback(&req)?;
    let org = tenant.org_id();
    let t = tenant.clone();
    let (feedback, experiments) = state
        .db
        .write(move |tx| {
            let Some((bot, channel)) = store::conversation_of(tx, org, conversation)? else {
                return Err(AppError::new(ErrorCode::ConversationNotFound, "no such conversation"));
            };
            if source == "emulator" && channel != store::EMULATOR {
                return Err(AppError::validation(
                    "conversation_id",
                    "only emulator conversations are rated here; end users rate from the widget",
                ));
            }
            let Some((role, at)) = store::message_of(tx, org, conversation, message)? else {
                return Err(AppError::new(ErrorCode::MessageNotFound, "no such message in this conversation")
                    .with_details(json!({ "field": "message_id" })));
            };
            if role != "bot" {
                return Err(AppError::validation("message_id", "only the bot's answers can be rated"));
            }
            let feedback =
                store::upsert_feedback(tx, org, bot, conversation, message, &rating, comment.as_deref(), source, &at)?;
            // A vote counts towards the feedback goal of the bot's running A/B experiments.
            let experiments = crate::experiments::service::record_feedback(tx, &t, conversation, rating == "up")?;
            Ok((feedback, experiments))
        })
        .await?;
    crate::experiments::service::check_auto_stop(state, &tenant, &experiments).await;
    Ok(feedback)
}

/// Removes the vote on a message (no error when there was none).
pub async fn unrate(state: &AppState, tenant: Tenant, conversation: i64, message: i64) -> AppResult<()> {
    let org = tenant.org_id();
    state
        .db
        .write(move |tx| {
            if store::message_of(tx, org, conversation, message)?.is_none() {
                return Err(AppError::new(ErrorCode::MessageNotFound, "no such message in this conversation")
                    .with_details(json!({ "field": "message_id" })));
            }
            store::delete_feedback(tx, org, message)?;
            Ok(())
        })
        .await
}

/// The votes of a conversation (transcript view).
pub async fn of_conversation(state: &AppState, tenant: Tenant, conversation: i64) -> AppResult<Vec<MessageFeedback>> {
    state.db.read(move |c| Ok(store::conversation_feedback(c, &tenant, conversation)?)).await
}

fn feedback_filter(bot: BotId, q: &MessageFeedbackQuery) -> AppResult<FeedbackFilter> {
    let rating = q.rating.as_deref().map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = rating
        && r != "up"
        && r != "down"
    {
        return Err(AppError::validation("rating", "must be `up` or `down`"));
    }
    let from = q.from.as_deref().map(|f| parse_day("from", f)).transpose()?;
    let to = q.to.as_deref().map(|t| parse_day("to", t)).transpose()?;
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        return Err(AppError::new(ErrorCode::DateRangeInvalid, format!("`to` ({t}) is before `from` ({f})"))
            .with_details(json!({ "field": "to" })));
    }
    Ok(FeedbackFilter {
        bot,
        rating: rating.map(str::to_owned),
        from: from.map(|d| format!("{d}T00:00:00.000Z")),
        to: to.map(|d| format!("{}T00:00:00.000Z", d + Duration::days(1))),
    })
}

/// A page of a bot's votes, newest first.
pub async fn feedback_page(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    q: MessageFeedbackQuery,
    page: PageParams,
) -> AppResult<Page<MessageFeedback>> {
    let filter = feedback_filter(bot, &q)?;
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::feedback_page(c, &tenant, &filter, before, limit)?)).await?;
    Page::from_rows(rows, &page, |f| f.id)
}

/// Most rows of a CSV export.
pub const EXPORT_MAX_ROWS: i64 = 100_000;

/// A bot's votes as CSV (formulas defused), newest first.
pub async fn feedback_csv(state: &AppState, tenant: Tenant, bot: BotId, q: MessageFeedbackQuery) -> AppResult<String> {
    let filter = feedback_filter(bot, &q)?;
    let rows = state.db.read(move |c| Ok(store::feedback_page(c, &tenant, &filter, None, EXPORT_MAX_ROWS)?)).await?;
    let mut w = crate::http::csv::CsvWriter::new(&[
        "id",
        "created_at",
        "updated_at",
        "conversation_id",
        "channel",
        "message_id",
        "message_at",
        "message_text",
        "rating",
        "comment",
        "source",
    ]);
    for f in rows {
        w.row([
            f.id.to_string(),
            f.created_at,
            f.updated_at,
            f.conversation_id.to_string(),
            f.channel,
            f.message_id.to_string(),
            f.message_at,
            f.message_text,
            f.rating,
            f.comment.unwrap_or_default(),
            f.source,
        ]);
    }
    Ok(w.finish())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn ranges_are_checked() {
        let r = parse_range(Some("2026-03-01"), Some("2026-03-02"), Some("Europe/Paris"), None, None, 400).expect("ok");
        // Paris is UTC+1 in March: local midnight is 23:00 UTC the day before.
        assert_eq!((r.from_hour.as_str(), r.to_hour.as_str()), ("2026-02-28T23", "2026-03-02T23"));
        let e = parse_range(Some("2026-03-02"), Some("2026-03-01"), None, None, None, 400).expect_err("reversed");
        assert_eq!(e.code(), ErrorCode::DateRangeInvalid);
        let e = parse_range(Some("2025-01-01"), Some("2026-03-01"), None, None, None, 400).expect_err("long");
        assert_eq!(e.code(), ErrorCode::DateRangeTooLong);
        let e = parse_range(None, None, Some("Mars/Olympus"), None, None, 400).expect_err("tz");
        assert_eq!(e.code(), ErrorCode::TimezoneUnknown);
        let e = parse_range(None, None, None, Some("fax"), None, 400).expect_err("channel");
        assert_eq!(e.details().and_then(|d| d.get("field")).and_then(|f| f.as_str()), Some("channel"));
        let e = parse_range(Some("2026-01-01"), Some("2026-01-31"), None, None, Some("hour"), 400).expect_err("hourly");
        assert_eq!(e.details().and_then(|d| d.get("field")).and_then(|f| f.as_str()), Some("granularity"));
    }

    #[test]
    fn periods_fill_the_range() {
        let r = parse_range(Some("2026-03-30"), Some("2026-04-02"), None, None, Some("week"), 400).expect("ok");
        assert_eq!(periods(&r), vec!["2026-03-30".to_owned()]);
        let r = parse_range(Some("2026-03-30"), Some("2026-04-02"), None, None, Some("month"), 400).expect("ok");
        assert_eq!(periods(&r), vec!["2026-03-01".to_owned(), "2026-04-01".to_owned()]);
        let r = parse_range(Some("2026-03-30"), Some("2026-03-30"), None, None, Some("hour"), 400).expect("ok");
        assert_eq!(periods(&r).len(), 24);
    }

    fn count_by<K: std::hash::Hash + Eq, T>(items: &[T], key: impl Fn(&T) -> K) -> HashMap<K, usize> {
        let mut m = HashMap::new();
        for i in items {
            *m.entry(key(i)).or_default() += 1;
        }
        m
    }

    #[test]
    fn clusters_group_by_vector_then_text() {
        let a = Some(vec![1.0, 0.0]);
        let b = Some(vec![0.9, 0.436]);
        let c = Some(vec![0.0, 1.0]);
        let items = vec![
            ("Where is my parcel".to_owned(), a),
            ("where's my package".to_owned(), b),
            ("cancel please".to_owned(), c),
            ("Where is my  parcel".to_owned(), None),
            ("refund?".to_owned(), None),
        ];
        let groups = cluster(&items);
        assert_eq!(groups.len(), 3);
        assert_eq!((groups[0].text.as_str(), groups[0].count), ("where is my parcel", 3));
        assert_eq!(groups[0].examples, vec!["where's my package".to_owned()]);
        let counts = count_by(&groups, |g| g.count);
        assert_eq!(counts.get(&1), Some(&2));
    }
}
