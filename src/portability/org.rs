//! Organization export (everything it owns, for moving hosts or a GDPR
//! access request) as a background job, and erase (GDPR erasure).
//!
//! The export walks the live schema: every table with an `organization_id`
//! column, parents first, the organization's rows; plus the `organizations`
//! row and the members' accounts (id, email, name, dates — never password
//! hashes, TOTP secrets or sessions). The archive is written to
//! `<data dir>/exports/org-<org>-<job>.zip` and downloaded with
//! `GET /orgs/{org_id}/export`.
//!
//! Erase deletes the organization and, by cascade, every row of every tenant
//! table (including its files, which live in the `files` table); then it
//! **removes** the accounts of members that belong to no other organization
//! (and own none), except the caller's own; the organization's export and
//! archive files and its retention settings go too. One `org.deleted` audit row,
//! kept for good, records it without personal data beyond the ids.

use std::collections::BTreeSet;
use std::path::PathBuf;

use futures_util::future::BoxFuture;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::bundle::{Bundle, FORMAT, FORMAT_VERSION, Manifest, Row, to_json};
use super::engine::{parents_first, select_rows, tenant_tables};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::OrgId;
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler};
use crate::orgs::audit::{self, AuditEntry};

/// The job kind.
pub const EXPORT_JOB: &str = "portability.org_export";

/// Tables never exported: derived indexes and queues rebuilt from other rows.
const SKIP: &[&str] = &["chunk_codes", "embedding_queue", "jobs"];

/// Reads everything the organization owns (one read snapshot).
pub fn export_org(conn: &Connection, org: OrgId) -> AppResult<Bundle> {
    let tx = conn.unchecked_transaction()?;
    let one: BTreeSet<i64> = [org.0].into();
    let org_row = select_org(&tx, org.0)?;
    let mut tables: Vec<(String, Vec<Row>)> = vec![("organizations".to_owned(), vec![org_row])];
    tables.push(("users".to_owned(), member_accounts(&tx, org.0)?));
    let names: Vec<String> = tenant_tables(&tx)?.into_iter().filter(|t| !SKIP.contains(&t.as_str())).collect();
    for table in parents_first(&tx, &names)? {
        // Every tenant row carries the organization: select by it.
        let mut rows = select_rows(&tx, org.0, &table, "organization_id", &one)?;
        if table == "chunks" {
            // The live vectors (vec0) are not a tenant table: they travel with their chunk.
            rows = super::bot::with_vectors(&tx, rows)?;
        }
        tables.push((table, rows));
    }
    drop(tx);
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        botbuilder_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version: i64::from(crate::db::latest_version()),
        kind: "organization".to_owned(),
        created_at: crate::db::now(),
        source: json!({ "organization_id": org.0 }),
        tables: Vec::new(),
    };
    Ok(Bundle { manifest, tables })
}

fn select_org(conn: &Connection, org: i64) -> AppResult<Row> {
    let cols: Vec<String> = super::engine::columns(conn, "organizations")?.into_iter().map(|c| c.name).collect();
    let list = cols.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
    let row = conn.query_row(&format!("SELECT {list} FROM organizations WHERE id = ?1"), [org], |r| {
        let mut row = Row::new();
        for (i, c) in cols.iter().enumerate() {
            row.insert(c.clone(), to_json(r.get(i)?));
        }
        Ok(row)
    })?;
    Ok(row)
}

fn member_accounts(conn: &Connection, org: i64) -> AppResult<Vec<Row>> {
    let mut stmt = conn.prepare(
        "SELECT u.id, u.email, u.name, u.email_verified, u.last_login_at, u.created_at, u.updated_at
         FROM users u WHERE u.id IN (SELECT user_id FROM organization_members WHERE organization_id = ?1)
         ORDER BY u.id",
    )?;
    let rows = stmt.query_map([org], |r| {
        let mut row = Row::new();
        for (i, c) in
            ["id", "email", "name", "email_verified", "last_login_at", "created_at", "updated_at"].iter().enumerate()
        {
            row.insert((*c).to_owned(), to_json(r.get(i)?));
        }
        Ok(row)
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Where export files of a job go.
fn export_path(state: &AppState, org: OrgId, job: i64) -> PathBuf {
    state.config.data_dir().join("exports").join(format!("org-{}-{job}.zip", org.0))
}

/// Queues an export of the tenant's organization; answers the job id.
pub async fn request_export(state: &AppState, tenant: Tenant) -> AppResult<i64> {
    let mut job = Enqueue::new(Some(tenant.org_id()), EXPORT_JOB, json!({ "requested_by": tenant.user_id() }));
    job.max_attempts = 2;
    let id = state
        .db
        .write(move |tx| {
            let id = crate::jobs::Queue::enqueue_in(tx, &job)?;
            audit::record(tx, &AuditEntry::by(&tenant, "org.export_requested", "organization", tenant.org_id().0))?;
            Ok(id)
        })
        .await?;
    state.jobs.notify();
    Ok(id.0)
}

/// The newest finished export of the organization: its file.
pub async fn latest_export(state: &AppState, tenant: Tenant) -> AppResult<(i64, Vec<u8>)> {
    let org = tenant.org_id();
    let found: Option<(i64, String)> = state
        .db
        .read(move |c| {
            Ok(rusqlite::OptionalExtension::optional(c.query_row(
                "SELECT id, status FROM jobs WHERE organization_id = ?1 AND kind = ?2 ORDER BY id DESC LIMIT 1",
                rusqlite::params![org, EXPORT_JOB],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ))?)
        })
        .await?;
    let job = match found {
        Some((id, status)) if status == "succeeded" => id,
        Some((id, status)) => {
            return Err(AppError::new(
                ErrorCode::OrgExportNotReady,
                format!("the latest export (job {id}) is {status}; follow it at /api/v1/jobs/{id}"),
            )
            .with_details(json!({ "job_id": id, "status": status })));
        }
        None => {
            return Err(AppError::new(
                ErrorCode::OrgExportNotReady,
                "no export yet: start one with POST /api/v1/orgs/{org_id}/export",
            ));
        }
    };
    let path = export_path(state, org, job);
    let data = crate::db::run_blocking(move || {
        std::fs::read(&path).map_err(|e| {
            AppError::new(ErrorCode::OrgExportNotReady, format!("the export file is gone ({e}); start a new export"))
        })
    })
    .await?;
    Ok((job, data))
}

/// The `portability.org_export` job.
pub struct OrgExportJob;

impl JobHandler for OrgExportJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let Some(org) = ctx.job.org_id else {
                return Err(JobError::Permanent("an organization export needs an organization".into()));
            };
            let path = export_path(&ctx.state, org, ctx.job.id.0);
            let (rows, tables, bytes) = ctx
                .state
                .db
                .read(move |c| {
                    let bundle = export_org(c, org)?;
                    let zip = bundle.to_zip()?;
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir).map_err(AppError::internal)?;
                    }
                    let tmp = path.with_extension("zip.part");
                    std::fs::write(&tmp, &zip).map_err(AppError::internal)?;
                    std::fs::rename(&tmp, &path).map_err(AppError::internal)?;
                    let rows: usize = bundle.tables.iter().map(|(_, r)| r.len()).sum();
                    Ok((rows, bundle.tables.len(), zip.len()))
                })
                .await?;
            Ok(json!({ "rows": rows, "tables": tables, "bytes": bytes }))
        })
    }
}

/// `POST /orgs/{org_id}/erase`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortabilityEraseRequest {
    /// The organization's exact name, typed again.
    pub confirm_name: String,
}

/// What an erase removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortabilityEraseReport {
    pub organization_id: i64,
    /// Rows removed, over all tenant tables.
    pub rows_deleted: i64,
    /// Accounts removed (members of no other organization; not the caller's).
    pub users_removed: usize,
}

/// Erases the organization and the accounts that belonged only to it; all
/// in one write transaction.
pub async fn erase(state: &AppState, tenant: Tenant, confirm_name: String) -> AppResult<PortabilityEraseReport> {
    let files_dir = state.config.data_dir().join("exports");
    let archive_dir = super::retention::org_dir(state, tenant.org_id());
    let org = tenant.org_id();
    let report = state
        .db
        .write(move |tx| {
            let name: String = tx.query_row("SELECT name FROM organizations WHERE id = ?1", [org], |r| r.get(0))?;
            if confirm_name.trim() != name {
                return Err(AppError::validation("confirm_name", "must be the organization's exact name"));
            }
            let mut rows_deleted = 0;
            for table in tenant_tables(tx)? {
                let n: i64 = tx.query_row(
                    &format!("SELECT count(*) FROM \"{table}\" WHERE organization_id = ?1"),
                    [org],
                    |r| r.get(0),
                )?;
                rows_deleted += n;
            }
            let members: Vec<i64> = tx
                .prepare("SELECT user_id FROM organization_members WHERE organization_id = ?1")?
                .query_map([org], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            tx.execute("DELETE FROM organizations WHERE id = ?1", [org])?;
            super::retention::delete_settings(tx, org)?;
            let actor = tenant.user_id().map(|u| u.0);
            let mut users_removed = 0;
            for user in members.iter().filter(|u| Some(**u) != actor) {
                users_removed += tx.execute(
                    "DELETE FROM users WHERE id = ?1
                       AND NOT EXISTS (SELECT 1 FROM organization_members WHERE user_id = ?1)
                       AND NOT EXISTS (SELECT 1 FROM organizations WHERE owner_id = ?1)",
                    [user],
                )?;
            }
            let entry = match tenant.user_id() {
                Some(user) => AuditEntry::by_user(user, "org.deleted", "organization", org.0),
                None => AuditEntry::system("org.deleted", "organization", Some(org.0)),
            }
            .with_metadata(json!({ "erase": true, "rows_deleted": rows_deleted, "users_removed": users_removed }))
            .from(&tenant.actor().client);
            audit::record(tx, &entry)?;
            Ok(PortabilityEraseReport { organization_id: org.0, rows_deleted, users_removed })
        })
        .await?;
    // Export files of the organization go too (outside the database).
    let prefix = format!("org-{}-", org.0);
    crate::db::run_blocking(move || {
        if let Ok(dir) = std::fs::read_dir(&files_dir) {
            for entry in dir.flatten() {
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    std::fs::remove_file(entry.path()).map_err(AppError::internal)?;
                }
            }
        }
        if archive_dir.is_dir() {
            std::fs::remove_dir_all(&archive_dir).map_err(AppError::internal)?;
        }
        Ok(())
    })
    .await?;
    Ok(report)
}
