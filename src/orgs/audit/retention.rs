//! The retention job (the origin's `cleanup_old_audit_logs`, fixed): once a
//! day it deletes audit rows older than each organization's
//! `retention_days` — and activity-feed rows of the same age — in batches,
//! keeping security events for good. `audit_logs` is append-only by
//! trigger; each batch unlocks deletion inside its own transaction and
//! records what it removed in that same transaction.

use futures_util::future::BoxFuture;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use super::{AuditEntry, record};
use crate::app::AppState;
use crate::db::{format_timestamp, now};
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind.
pub const KIND: &str = "audit.retention";
/// Rows deleted per transaction.
const BATCH: i64 = 1000;
/// Retention of audit rows outside any organization (failed sign-ins…).
pub const PLATFORM_RETENTION_DAYS: i64 = 365;

/// Actions that are never deleted by retention.
const KEEP: &str = "(action LIKE 'security.%' OR action LIKE 'user.password.%' OR action LIKE 'user.2fa.%'
                     OR action IN ('user.login.failed', 'data.deleted', 'org.deleted', 'system.audit.cleanup'))";

/// Whether retention keeps `action` forever.
#[must_use]
pub fn is_security_event(action: &str) -> bool {
    ["security.", "user.password.", "user.2fa."].iter().any(|p| action.starts_with(p))
        || ["user.login.failed", "data.deleted", "org.deleted", "system.audit.cleanup"].contains(&action)
}

fn unlock(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("INSERT INTO settings (key, value) VALUES ('retention.unlock', 'true')", [])?;
    Ok(())
}

fn relock(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM settings WHERE key = 'retention.unlock'", [])?;
    Ok(())
}

/// Deletes one batch of the tenant's expired audit rows; returns how many.
fn purge_org_batch(conn: &Connection, tenant: &Tenant, cutoff: &str) -> rusqlite::Result<usize> {
    unlock(conn)?;
    let n = conn.execute(
        &format!(
            "DELETE FROM audit_logs WHERE id IN (
                 SELECT id FROM audit_logs WHERE organization_id = ?1 AND created_at < ?2 AND NOT {KEEP}
                 ORDER BY id LIMIT ?3)"
        ),
        params![tenant.org_id(), cutoff, BATCH],
    )?;
    relock(conn)?;
    Ok(n)
}

/// Deletes one batch of expired audit rows that belong to no organization.
fn purge_platform_batch(conn: &Connection, cutoff: &str) -> rusqlite::Result<usize> {
    unlock(conn)?;
    let n = conn.execute(
        &format!(
            "DELETE FROM audit_logs WHERE id IN (
                 SELECT id FROM audit_logs WHERE organization_id IS NULL AND created_at < ?1 AND NOT {KEEP}
                 ORDER BY id LIMIT ?2)"
        ),
        params![cutoff, BATCH],
    )?;
    relock(conn)?;
    Ok(n)
}

fn purge_activity_batch(conn: &Connection, tenant: &Tenant, cutoff: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM activity_logs WHERE id IN (
             SELECT id FROM activity_logs WHERE organization_id = ?1 AND created_at < ?2 ORDER BY id LIMIT ?3)",
        params![tenant.org_id(), cutoff, BATCH],
    )
}

fn cutoff(days: i64) -> String {
    format_timestamp(chrono::Utc::now() - chrono::Duration::days(days))
}

/// What one run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub organizations: usize,
    pub audit_rows: usize,
    pub activity_rows: usize,
    pub invitations_expired: usize,
}

/// One retention pass over every organization and the platform rows.
pub async fn run_once(state: &AppState) -> AppResult<Outcome> {
    let orgs: Vec<(OrgId, i64)> = state
        .db
        .read(|c| {
            let mut stmt = c.prepare("SELECT id, retention_days FROM organizations ORDER BY id")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    let mut outcome = Outcome { organizations: orgs.len(), ..Outcome::default() };
    for (org, days) in orgs {
        let cut = cutoff(days);
        loop {
            let (tenant, cut) = (Tenant::system(org, "audit retention"), cut.clone());
            let n = state
                .db
                .write(move |tx| {
                    let n = purge_org_batch(tx, &tenant, &cut)?;
                    if n > 0 {
                        record(
                            tx,
                            &AuditEntry::system("system.audit.cleanup", "audit_log", None)
                                .in_org(tenant.org_id())
                                .with_metadata(json!({ "deleted": n, "before": cut, "retention_days": days })),
                        )?;
                    }
                    Ok(n)
                })
                .await?;
            outcome.audit_rows += n;
            if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
        loop {
            let (tenant, cut) = (Tenant::system(org, "activity retention"), cut.clone());
            let n = state.db.write(move |tx| Ok(purge_activity_batch(tx, &tenant, &cut)?)).await?;
            outcome.activity_rows += n;
            if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
                break;
            }
        }
    }
    let cut = cutoff(PLATFORM_RETENTION_DAYS);
    loop {
        let cut = cut.clone();
        let n = state
            .db
            .write(move |tx| {
                let n = purge_platform_batch(tx, &cut)?;
                if n > 0 {
                    record(
                        tx,
                        &AuditEntry::system("system.audit.cleanup", "audit_log", None).with_metadata(json!({
                            "deleted": n, "before": cut, "retention_days": PLATFORM_RETENTION_DAYS
                        })),
                    )?;
                }
                Ok(n)
            })
            .await?;
        outcome.audit_rows += n;
        if n < usize::try_from(BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    outcome.invitations_expired = state
        .db
        .write(|tx| {
            let expired: Vec<(i64, OrgId, String)> = tx
                .prepare(
                    "UPDATE team_invitations SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?1
                     RETURNING id, organization_id, email",
                )?
                .query_map([now()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            for (id, org, email) in &expired {
                record(
                    tx,
                    &AuditEntry::system("invitation.expired", "invitation", Some(*id))
                        .in_org(*org)
                        .with_metadata(json!({ "email": email })),
                )?;
            }
            Ok(expired.len())
        })
        .await?;
    Ok(outcome)
}

/// The `audit.retention` job.
pub struct RetentionJob;

impl JobHandler for RetentionJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let o = run_once(&ctx.state).await?;
            Ok(json!({
                "organizations": o.organizations,
                "audit_rows_deleted": o.audit_rows,
                "activity_rows_deleted": o.activity_rows,
                "invitations_expired": o.invitations_expired,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_events_are_recognised() {
        for kept in ["user.login.failed", "security.breach", "user.password.reset", "user.2fa.disabled", "org.deleted"]
        {
            assert!(is_security_event(kept), "{kept}");
        }
        for gone in ["bot.created", "user.login", "member.invited"] {
            assert!(!is_security_event(gone), "{gone}");
        }
    }
}
