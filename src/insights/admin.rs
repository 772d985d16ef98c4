//! Organization administration (stats, activity timeline: org-scoped) and
//! instance health and rate limits (superadmin console: they are about the
//! whole process and its data file, not one organization).

use std::time::SystemTime;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::model::{
    BlockedClient, InstanceHealth, LimitView, OrgStats, RangeQuery, RateLimitsView, Timeline, UnblockRequest,
    UnblockResponse,
};
use super::store;
use crate::admin::Admin;
use crate::app::AppState;
use crate::db::{format_timestamp, now};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::http::ratelimit::Bucket;
use crate::ops::ComponentState;

fn ago(d: Duration) -> String {
    format_timestamp(Utc::now() - d)
}

/// Counts of the organization.
pub async fn org_stats(state: &AppState, tenant: Tenant) -> AppResult<OrgStats> {
    let (d30, h24) = (ago(Duration::days(30)), ago(Duration::hours(24)));
    state.db.read(move |c| Ok(store::org_stats(c, &tenant, &d30, &h24)?)).await
}

/// Audit and activity events per day, and the latest audit events.
pub async fn timeline(state: &AppState, tenant: Tenant, q: RangeQuery) -> AppResult<Timeline> {
    let range = q.check()?;
    state
        .db
        .read(move |c| {
            Ok(Timeline {
                days: store::timeline_days(c, &tenant, &range)?,
                recent: store::recent_audit(c, &tenant)?,
                range,
            })
        })
        .await
}

/// Data file, WAL, job queue and model status.
pub async fn health(state: &AppState, admin: Admin) -> AppResult<InstanceHealth> {
    let (n, h24) = (now(), ago(Duration::hours(24)));
    let a = admin.clone();
    let ((database_bytes, free_bytes), jobs) =
        state.db.read(move |c| Ok((store::file_sizes(c, &a)?, store::job_health(c, &a, &n, &h24)?))).await?;
    let mut wal = state.db.path().as_os_str().to_owned();
    wal.push("-wal");
    let wal_bytes = std::fs::metadata(&wal).map_or(0, |m| i64::try_from(m.len()).unwrap_or(i64::MAX));
    let (models, models_detail) = if state.config.ml.enabled {
        match state.readiness.snapshot().get("models") {
            Some(ComponentState::Ready) => ("ready".to_owned(), None),
            Some(ComponentState::Failed(why)) => ("failed".to_owned(), Some(why.clone())),
            Some(ComponentState::Starting) | None => ("starting".to_owned(), None),
        }
    } else {
        ("off".to_owned(), None)
    };
    Ok(InstanceHealth {
        database_bytes,
        wal_bytes,
        free_bytes,
        jobs,
        models,
        embedding_model: state.models.loaded_model_id(),
        models_detail,
        turn_write_queue: state.runtime.write_queue_depth(),
    })
}

fn rfc3339(t: SystemTime) -> String {
    format_timestamp(DateTime::<Utc>::from(t))
}

/// The configured limits and the clients refused now.
#[must_use]
pub fn rate_limits(state: &AppState, _admin: &Admin) -> RateLimitsView {
    let config = state.limits.config();
    let limits = Bucket::ALL
        .iter()
        .map(|b| {
            let l = match b {
                Bucket::Login => config.login,
                Bucket::Register => config.register,
                Bucket::Reset => config.reset,
                Bucket::Token => config.token,
            };
            LimitView {
                bucket: b.name().to_owned(),
                per_ip: l.per_ip,
                per_account: l.per_account,
                window_secs: l.window_secs,
            }
        })
        .collect();
    let blocked = state
        .limits
        .blocked()
        .into_iter()
        .map(|b| BlockedClient {
            id: b.id,
            bucket: b.bucket.to_owned(),
            scope: b.scope.to_owned(),
            key: b.key,
            blocked_until: rfc3339(b.until),
            refusals: b.refusals,
        })
        .collect();
    RateLimitsView { enabled: config.enabled, limits, blocked }
}

/// Unblocks one refused client (`id`) or all of them; audited.
pub async fn unblock(state: &AppState, admin: Admin, req: UnblockRequest) -> AppResult<UnblockResponse> {
    let unblocked = match (req.id.as_deref().map(str::trim).filter(|s| !s.is_empty()), req.all) {
        (Some(_), true) => return Err(AppError::validation("all", "give either `id` or `all`, not both")),
        (None, false) => return Err(AppError::validation("id", "name the client to unblock, or say `all: true`")),
        (Some(id), false) => {
            if !state.limits.unblock(id) {
                return Err(AppError::new(ErrorCode::BlockedClientNotFound, "no client of this id is blocked now")
                    .with_details(json!({ "field": "id" })));
            }
            1
        }
        (None, true) => state.limits.unblock_all(),
    };
    let details = json!({ "id": req.id, "all": req.all, "unblocked": unblocked });
    state
        .db
        .write(move |tx| {
            Ok(crate::admin::store::audit(
                tx,
                Some(admin.user_id),
                Some(&admin.email),
                "admin.rate_limit.unblocked",
                None,
                &details,
                &admin.client,
            )?)
        })
        .await?;
    Ok(UnblockResponse { unblocked })
}
