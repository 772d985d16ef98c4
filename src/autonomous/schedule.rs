//! Cron schedules of autonomous agents: parsing (croner, in an IANA time
//! zone from chrono-tz), the next fire times, and the scheduled job that
//! starts the runs that are due.
//!
//! Each agent stores its next due time (`next_run_at`, UTC). The job
//! [`KIND`] runs every minute (the job scheduler's slot), starts a run for
//! every active agent whose time has come and moves `next_run_at` to the
//! first fire time after now — a schedule missed while the server was down
//! fires once, not once per missed slot. The run's job carries the due time
//! in its idempotency key, so two ticks never start the same slot twice.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::model::{AutonomousAgentId, Schedule};
use super::store;
use crate::app::AppState;
use crate::db::format_timestamp;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind that starts due scheduled runs.
pub const KIND: &str = "autonomous.schedule";
/// How often it runs.
pub const PERIOD: Duration = Duration::from_secs(60);

fn invalid(field: &str, message: String) -> AppError {
    AppError::new(ErrorCode::ScheduleInvalid, message).with_details(json!({ "field": field }))
}

/// A parsed schedule.
pub struct Parsed {
    cron: Cron,
    tz: Tz,
}

/// Parses a schedule: 422 `schedule_invalid` naming `schedule.cron` or `schedule.timezone`.
pub fn parse(s: &Schedule) -> AppResult<Parsed> {
    let tz = Tz::from_str(s.timezone.trim())
        .map_err(|_| invalid("schedule.timezone", format!("`{}` is not an IANA time zone", s.timezone)))?;
    let pattern = s.cron.trim();
    if pattern.is_empty() || pattern.len() > 200 {
        return Err(invalid("schedule.cron", "must be a cron expression of at most 200 characters".into()));
    }
    let cron = Cron::from_str(pattern)
        .map_err(|e| invalid("schedule.cron", format!("`{pattern}` is not a cron expression: {e}")))?;
    let parsed = Parsed { cron, tz };
    if parsed.next_after(Utc::now()).is_none() {
        return Err(invalid("schedule.cron", format!("`{pattern}` never fires")));
    }
    Ok(parsed)
}

impl Parsed {
    /// The first fire time strictly after `t`.
    #[must_use]
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.with_timezone(&self.tz);
        self.cron.find_next_occurrence(&local, false).ok().map(|n| n.with_timezone(&Utc))
    }

    /// The next `n` fire times after `t`, in UTC and in the schedule's zone.
    #[must_use]
    pub fn preview(&self, t: DateTime<Utc>, n: usize) -> Vec<(String, String)> {
        let mut out = Vec::with_capacity(n);
        let mut at = t;
        while out.len() < n {
            let Some(next) = self.next_after(at) else { break };
            out.push((format_timestamp(next), next.with_timezone(&self.tz).to_rfc3339()));
            at = next;
        }
        out
    }
}

/// The next due time of a stored schedule (JSON), after `t`.
#[must_use]
pub fn next_of_json(schedule_json: &str, t: DateTime<Utc>) -> Option<String> {
    let s: Schedule = serde_json::from_str(schedule_json).ok()?;
    parse(&s).ok()?.next_after(t).map(format_timestamp)
}

/// Starts a run for every active agent whose schedule is due at `now` and
/// moves each one's `next_run_at` past `now`. Returns the runs started.
/// Tests call it with a `now` in the future instead of waiting.
pub async fn enqueue_due(state: &AppState, now: DateTime<Utc>) -> AppResult<Vec<(AutonomousAgentId, i64)>> {
    let now_s = format_timestamp(now);
    let started = state
        .db
        .write(move |tx| {
            let mut started = Vec::new();
            for (org, agent, schedule, due) in store::due_agents(tx, &now_s)? {
                let key = format!("autonomous:{}:schedule:{due}", agent.0);
                let run = super::service::start_run_in(tx, org, agent, &Value::Null, "schedule", Some(key))?;
                started.push((agent, run.0));
                store::set_next_run(tx, agent, next_of_json(&schedule, now).as_deref())?;
            }
            Ok(started)
        })
        .await?;
    if !started.is_empty() {
        state.jobs.notify();
    }
    Ok(started)
}

/// The scheduled job: starts the due runs.
pub struct ScheduleJob;
impl JobHandler for ScheduleJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let started = enqueue_due(&ctx.state, Utc::now()).await?;
            Ok(json!({ "started": started.len() }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|d| d.with_timezone(&Utc)).unwrap_or_default()
    }

    #[test]
    fn next_fire_time_is_read_in_the_time_zone() {
        let p = parse(&Schedule { cron: "0 9 * * *".into(), timezone: "Europe/Paris".into() }).expect("parses");
        // 09:00 in Paris in winter is 08:00 UTC.
        assert_eq!(p.next_after(at("2026-01-05T07:00:00Z")), Some(at("2026-01-05T08:00:00Z")));
        // In summer, 07:00 UTC.
        assert_eq!(p.next_after(at("2026-07-06T07:30:00Z")), Some(at("2026-07-07T07:00:00Z")));
        assert_eq!(p.preview(at("2026-01-05T07:00:00Z"), 3).len(), 3);
    }

    #[test]
    fn bad_expressions_and_zones_name_their_field() {
        let Err(e) = parse(&Schedule { cron: "61 * * * *".into(), timezone: "UTC".into() }) else {
            panic!("61 minutes accepted");
        };
        assert_eq!(e.code(), ErrorCode::ScheduleInvalid);
        assert_eq!(e.details().expect("details")["field"], "schedule.cron");
        let Err(e) = parse(&Schedule { cron: "* * * * *".into(), timezone: "Mars/Olympus".into() }) else {
            panic!("an unknown zone accepted");
        };
        assert_eq!(e.details().expect("details")["field"], "schedule.timezone");
    }
}
