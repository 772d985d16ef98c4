//! Export and import: a bot as one file, an organization as one file
//! (docs/export.md), through the API, the UI (bot settings, *Data and
//! retention*) and the CLI (`botbuilder export bot`, `botbuilder import`,
//! `botbuilder import-org`); retention and archival (docs/retention.md).

pub mod bot;
pub mod bundle;
pub mod engine;
pub mod org;
pub mod org_import;
pub mod retention;

use actix_web::{HttpResponse, get, post, put, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use self::bot::PortabilityImportReport;
use self::bundle::Bundle;
use self::engine::Target;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{BotScope, Json, OrgScope, SessionAuth, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};
use crate::permissions::perm;

/// Largest export file accepted by the import route.
pub const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;

/// Registers the export/import routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(portability_export_bot)
        .service(portability_import_bot)
        .service(portability_import_org)
        .service(portability_request_org_export)
        .service(portability_download_org_export)
        .service(portability_erase_org)
        .service(retention_get_settings)
        .service(retention_put_settings)
        .service(retention_run)
        .service(retention_list_archives)
        .service(retention_search_archives)
        .service(retention_restore_archive);
}

/// Reads one bot into an export archive (one read snapshot).
pub fn export_bot_file(conn: &rusqlite::Connection, tenant: &Tenant, bot: BotId) -> AppResult<(Bundle, Vec<u8>)> {
    let tx = conn.unchecked_transaction()?;
    let bundle = bot::export_bot(&tx, tenant, bot)?;
    drop(tx);
    let zip = bundle.to_zip()?;
    Ok((bundle, zip))
}

/// Imports a bot archive into the target organization (all or nothing; a dry
/// run writes nothing) and audits a real import.
pub fn import_bot_file(
    tx: &rusqlite::Connection,
    target: &Target,
    bundle: &Bundle,
    dry_run: bool,
    audit_as: Option<&Tenant>,
) -> AppResult<PortabilityImportReport> {
    let report = bot::import_bot(tx, target, bundle, dry_run)?;
    if !dry_run && let (Some(tenant), Some(id)) = (audit_as, report.bot_id) {
        audit::record(
            tx,
            &AuditEntry::by(tenant, "bot.imported", "bot", id).with_metadata(serde_json::json!({
                "source": bundle.manifest.source,
                "format_version": bundle.manifest.format_version,
                "botbuilder_version": bundle.manifest.botbuilder_version,
            })),
        )?;
    }
    Ok(report)
}

/// Downloads the bot as one file: a zip with a versioned manifest and
/// checksums, holding its flows (every version), canned messages, widget and
/// AI settings, NLU data with the active model, and the knowledge bases it
/// uses with their documents (original files, chunks, embeddings).
#[utoipa::path(
    tag = "portability",
    params(("bot_id" = i64, Path, description = "Bot id")),
    responses(
        (status = 200, description = "The export archive", content_type = "application/zip"),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`bot_not_found`, also for another organization's bot"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[get("/bots/{bot_id}/export")]
async fn portability_export_bot(
    scope: BotScope<perm::BotsWrite>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let tenant = scope.into_tenant();
    let (_, zip) = state.db.read(move |c| export_bot_file(c, &tenant, id)).await?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"bot-{id}.botbuilder.zip\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(zip))
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PortabilityImportQuery {
    /// Check and report without creating anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// Imports a bot export file (the raw archive as the body) into the
/// organization with new ids. `?dry_run=true` reports what would be created,
/// renamed and left out without writing anything. All or nothing.
#[utoipa::path(
    tag = "portability",
    params(("org_id" = i64, Path, description = "Organization id"), PortabilityImportQuery),
    request_body(content = Vec<u8>, content_type = "application/zip", description = "A file from `GET /bots/{bot_id}/export`"),
    responses(
        (status = 200, body = PortabilityImportReport, description = "Dry run: what the import would do"),
        (status = 201, body = PortabilityImportReport),
        (status = 402, body = ErrorBody, description = "`plan_limit_exceeded`: the plan allows no more bots"),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`export_archive_invalid` (truncated, damaged, not an export), `export_version_unsupported` (a newer format), `export_checksum_mismatch`, `export_kind_mismatch`"),
    ),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/bots/import")]
async fn portability_import_bot(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    query: web::Query<PortabilityImportQuery>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let tenant = scope.into_tenant();
    let dry_run = query.dry_run;
    let body = crate::bots::read_body(payload, MAX_IMPORT_BYTES).await?;
    let bundle = crate::db::run_blocking(move || Bundle::from_zip(&body)).await?;
    let target = Target { org_id: tenant.org_id().0, actor: tenant.user_id().map(|u| u.0) };
    let report = state.db.write(move |tx| import_bot_file(tx, &target, &bundle, dry_run, Some(&tenant))).await?;
    Ok(if dry_run { HttpResponse::Ok().json(report) } else { HttpResponse::Created().json(report) })
}

/// Imports an organization file and audits a real import (`org.imported`,
/// in the new organization, by its owner).
pub fn import_org_file(
    tx: &rusqlite::Connection,
    bundle: &Bundle,
    options: &org_import::OrgImportOptions,
) -> AppResult<org_import::PortabilityOrgImportReport> {
    let report = org_import::import_org(tx, bundle, options)?;
    if let Some(id) = report.organization_id {
        audit::record(
            tx,
            &AuditEntry::by_user(options.owner, "org.imported", "organization", id)
                .in_org(crate::ids::OrgId(id))
                .with_metadata(serde_json::json!({
                    "source": bundle.manifest.source,
                    "format_version": bundle.manifest.format_version,
                    "botbuilder_version": bundle.manifest.botbuilder_version,
                    "members_missing": report.members_missing.len(),
                })),
        )?;
    }
    Ok(report)
}

/// Imports an organization export file (the raw archive as the body,
/// from `GET /orgs/{org_id}/export`) as a **new** organization owned by the
/// caller: every id remapped, members matched by email, secrets and
/// credentials left out (docs/export.md). Any signed-in user may import; the
/// exported plan is kept only for a superadmin (others get the default plan,
/// whose limits apply). `?dry_run=true` reports rows per table, what is left
/// out and why, conflicts and members, and writes nothing. All or nothing.
#[utoipa::path(
    tag = "portability",
    params(PortabilityImportQuery),
    request_body(content = Vec<u8>, content_type = "application/zip", description = "A file from `GET /orgs/{org_id}/export`"),
    responses(
        (status = 200, body = org_import::PortabilityOrgImportReport, description = "Dry run: what the import would do"),
        (status = 201, body = org_import::PortabilityOrgImportReport),
        (status = 401, body = ErrorBody),
        (status = 402, body = ErrorBody, description = "`plan_limit_exceeded`: the default plan does not allow that many bots"),
        (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`export_archive_invalid` (truncated, damaged, not an export), `export_version_unsupported` (a newer format), `export_checksum_mismatch`, `export_kind_mismatch` (a bot export)"),
    ),
    security(("session" = []))
)]
#[post("/orgs/import")]
async fn portability_import_org(
    auth: SessionAuth,
    state: web::Data<AppState>,
    query: web::Query<PortabilityImportQuery>,
    payload: web::Payload,
) -> AppResult<HttpResponse> {
    let options =
        org_import::OrgImportOptions { owner: auth.user_id, keep_plan: auth.is_superadmin, dry_run: query.dry_run };
    let body = crate::bots::read_body(payload, MAX_IMPORT_BYTES).await?;
    let bundle = crate::db::run_blocking(move || Bundle::from_zip(&body)).await?;
    let report = state.db.write(move |tx| import_org_file(tx, &bundle, &options)).await?;
    Ok(if report.dry_run { HttpResponse::Ok().json(report) } else { HttpResponse::Created().json(report) })
}

/// Starts an export of everything the organization owns (every tenant
/// table, its files and its members' accounts without credentials) as a
/// background job; follow it at `GET /jobs/{job_id}`, then download it with
/// `GET /orgs/{org_id}/export`. Owners only.
#[utoipa::path(
    tag = "portability",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses(
        (status = 202, description = "Queued: `{\"job_id\": …}`"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("session" = ["org.delete"]), ("api_token" = ["org.delete"]))
)]
#[post("/orgs/{org_id}/export")]
async fn portability_request_org_export(
    scope: OrgScope<perm::OrgDelete>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let job = org::request_export(&state, scope.into_tenant()).await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "job_id": job })))
}

/// Downloads the organization's newest finished export (a zip in the export
/// format of docs/export.md, kind `organization`). Owners only.
#[utoipa::path(
    tag = "portability",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The export archive", content_type = "application/zip"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`org_export_not_ready`: none finished yet"),
    ),
    security(("session" = ["org.delete"]), ("api_token" = ["org.delete"]))
)]
#[get("/orgs/{org_id}/export")]
async fn portability_download_org_export(
    scope: OrgScope<perm::OrgDelete>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let tenant = scope.into_tenant();
    let org_id = tenant.org_id();
    let (job, data) = org::latest_export(&state, tenant.clone()).await?;
    state
        .db
        .write(move |tx| {
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "org.export_downloaded", "organization", org_id.0)
                    .with_metadata(serde_json::json!({ "job_id": job })),
            )
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"org-{org_id}-export-{job}.zip\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(data))
}

/// Erases the organization (GDPR erasure): every row of every tenant table
/// and its files, then the accounts of members who belong to no other
/// organization (removed; the caller's own account stays). Owners only; the
/// body repeats the organization's name. Audited (`org.deleted`, kept for good).
#[utoipa::path(
    tag = "portability",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = org::PortabilityEraseRequest,
    responses(
        (status = 200, body = org::PortabilityEraseReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed`: `confirm_name` does not match"),
    ),
    security(("session" = ["org.delete"]), ("api_token" = ["org.delete"]))
)]
#[post("/orgs/{org_id}/erase")]
async fn portability_erase_org(
    scope: OrgScope<perm::OrgDelete>,
    state: web::Data<AppState>,
    body: Json<org::PortabilityEraseRequest>,
) -> AppResult<web::Json<org::PortabilityEraseReport>> {
    let body = body.into_inner()?;
    Ok(web::Json(org::erase(&state, scope.into_tenant(), body.confirm_name).await?))
}

/// The organization's retention settings (defaults: messages 365 days, logs
/// 365 days, failed webhook deliveries 90 days).
#[utoipa::path(
    tag = "retention",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = retention::RetentionSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[get("/orgs/{org_id}/retention")]
async fn retention_get_settings(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<retention::RetentionSettings>> {
    let org = scope.into_tenant().org_id();
    Ok(web::Json(state.db.read(move |c| retention::load_settings(c, org)).await?))
}

/// Changes the organization's retention settings (each 30–3650 days; failed events 7–3650). Audited.
#[utoipa::path(
    tag = "retention",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = retention::RetentionSettings,
    responses(
        (status = 200, body = retention::RetentionSettings),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed`: `details.field` names the setting"),
    ),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[put("/orgs/{org_id}/retention")]
async fn retention_put_settings(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
    body: Json<retention::RetentionSettings>,
) -> AppResult<web::Json<retention::RetentionSettings>> {
    let settings = body.into_inner()?;
    settings.validate()?;
    let tenant = scope.into_tenant();
    let saved = state
        .db
        .write(move |tx| {
            let org = tenant.org_id();
            let before = retention::load_settings(tx, org)?;
            retention::store_settings(tx, org, &settings)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "org.retention_updated", "organization", org.0)
                    .with_old(serde_json::to_value(before).unwrap_or_default())
                    .with_new(serde_json::to_value(settings).unwrap_or_default()),
            )?;
            Ok(settings)
        })
        .await?;
    Ok(web::Json(saved))
}

/// Archives and deletes the organization's expired rows now (the daily job
/// does the same for every organization).
#[utoipa::path(
    tag = "retention",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = retention::RetentionRunReport), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[post("/orgs/{org_id}/retention/run")]
async fn retention_run(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<retention::RetentionRunReport>> {
    let org = scope.into_tenant().org_id();
    Ok(web::Json(retention::run_for_org(&state, org).await?))
}

/// Lists the organization's archive files (gzip JSON Lines), oldest first.
#[utoipa::path(
    tag = "retention",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = Vec<retention::RetentionArchiveFile>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[get("/orgs/{org_id}/archives")]
async fn retention_list_archives(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<retention::RetentionArchiveFile>>> {
    let dir = retention::tenant_dir(&state, &scope.into_tenant());
    Ok(web::Json(crate::db::run_blocking(move || retention::list_files(&dir)).await?))
}

/// Searches the archived rows by text (any text column, case-insensitive),
/// creation time and table.
#[utoipa::path(
    tag = "retention",
    params(("org_id" = i64, Path, description = "Organization id"), retention::RetentionSearchQuery),
    responses(
        (status = 200, body = Vec<retention::RetentionSearchHit>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed`: `limit` or `table`"),
    ),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[get("/orgs/{org_id}/archives/search")]
async fn retention_search_archives(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
    query: web::Query<retention::RetentionSearchQuery>,
) -> AppResult<web::Json<Vec<retention::RetentionSearchHit>>> {
    let dir = retention::tenant_dir(&state, &scope.into_tenant());
    let query = query.into_inner();
    Ok(web::Json(crate::db::run_blocking(move || retention::search(&dir, &query)).await?))
}

/// `POST /orgs/{org_id}/archives/restore`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRestoreRequest {
    /// An archive file name from `GET /orgs/{org_id}/archives`.
    pub file: String,
}

/// Re-imports an archive file: its rows come back with their ids (rows
/// already present, or whose conversation or bot is gone, are skipped); the
/// message totals are left as they were. Audited.
#[utoipa::path(
    tag = "retention",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = RetentionRestoreRequest,
    responses(
        (status = 200, body = retention::RetentionRestoreReport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed` (`file`), `export_archive_invalid` (a damaged file)"),
    ),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[post("/orgs/{org_id}/archives/restore")]
async fn retention_restore_archive(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
    body: Json<RetentionRestoreRequest>,
) -> AppResult<web::Json<retention::RetentionRestoreReport>> {
    let file = body.into_inner()?.file;
    let tenant = scope.into_tenant();
    let dir = retention::tenant_dir(&state, &tenant);
    let report = state
        .db
        .write(move |tx| {
            let report = retention::restore(tx, tenant.org_id(), &dir, &file)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "org.archive_restored", "organization", tenant.org_id().0)
                    .with_metadata(serde_json::json!({ "file": report.file, "restored": report.restored })),
            )?;
            Ok(report)
        })
        .await?;
    Ok(web::Json(report))
}
