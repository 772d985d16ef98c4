//! Export and import: a bot as one file (docs/export.md), through the API,
//! the UI (bot settings) and the CLI (`botbuilder export bot`, `botbuilder import`).

pub mod bot;
pub mod bundle;
pub mod engine;

use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use self::bot::PortabilityImportReport;
use self::bundle::Bundle;
use self::engine::Target;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{BotScope, OrgScope, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};
use crate::permissions::perm;

/// Largest export file accepted by the import route.
pub const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;

/// Registers the export/import routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(portability_export_bot).service(portability_import_bot);
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
