//! Reading the audit log (filters, cursor pagination, CSV export) and the
//! activity feed.

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use super::store::{self, Activity, AuditFilter, AuditLog};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody};
use crate::http::csv::CsvWriter;
use crate::http::{OrgScope, Page, PageParams};
use crate::ids::UserId;
use crate::permissions::perm;

/// Most rows one CSV export holds; narrow the filters for more.
pub const EXPORT_MAX_ROWS: i64 = 100_000;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_logs).service(export_audit_logs).service(list_activity);
}

/// Filters of `GET /orgs/{org_id}/audit-logs`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An action (`member.role_changed`) or a prefix ending in `.*` (`member.*`).
    pub action: Option<String>,
    /// The kind of resource, e.g. `member`, `bot`, `api_token`.
    pub resource_type: Option<String>,
    pub resource_id: Option<i64>,
    /// The acting user.
    pub user_id: Option<i64>,
    /// From this instant (RFC 3339, inclusive).
    pub from: Option<String>,
    /// Until this instant (RFC 3339, exclusive).
    pub to: Option<String>,
}

fn timestamp(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    raw.map(|t| {
        chrono::DateTime::parse_from_rfc3339(t.trim())
            .map(|d| crate::db::format_timestamp(d.with_timezone(&chrono::Utc)))
            .map_err(|_| AppError::validation(field, "must be an RFC 3339 time like 2026-01-31T00:00:00Z"))
    })
    .transpose()
}

fn short(field: &str, raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        Some("") => Ok(None),
        Some(v) if v.len() > 100 || v.chars().any(char::is_control) => {
            Err(AppError::validation(field, "must be at most 100 printable characters"))
        }
        other => Ok(other.map(str::to_owned)),
    }
}

impl AuditQuery {
    fn filter(&self) -> AppResult<AuditFilter> {
        let action = short("action", self.action.as_deref())?;
        let (action, action_prefix) = match action {
            Some(a) if a.ends_with('*') => (None, Some(a.trim_end_matches('*').to_owned())),
            other => (other, None),
        };
        let from = timestamp("from", self.from.as_deref())?;
        let to = timestamp("to", self.to.as_deref())?;
        if let (Some(f), Some(t)) = (&from, &to)
            && f >= t
        {
            return Err(AppError::validation("to", "must be after `from`"));
        }
        Ok(AuditFilter {
            action,
            action_prefix,
            resource_type: short("resource_type", self.resource_type.as_deref())?,
            resource_id: self.resource_id,
            user_id: self.user_id.map(UserId),
            from,
            to,
        })
    }
}

/// The organization's audit log, newest first, with filters.
#[utoipa::path(
    tag = "audit",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams, AuditQuery),
    responses((status = 200, body = Page<AuditLog>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["audit.read"]), ("api_token" = ["audit.read"]))
)]
#[get("/orgs/{org_id}/audit-logs")]
async fn list_audit_logs(
    scope: OrgScope<perm::AuditRead>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    query: web::Query<AuditQuery>,
) -> AppResult<web::Json<Page<AuditLog>>> {
    let filter = query.filter()?;
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let tenant = scope.into_tenant();
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, &filter, before, limit)?)).await?;
    Ok(web::Json(Page::from_rows(rows, &page, |r| r.id)?))
}

/// The organization's audit log as CSV (same filters, up to 100,000 rows).
#[utoipa::path(
    tag = "audit",
    params(("org_id" = i64, Path, description = "Organization id"), AuditQuery),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "One row per event, newest first"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["audit.read"]), ("api_token" = ["audit.read"]))
)]
#[get("/orgs/{org_id}/audit-logs/export")]
async fn export_audit_logs(
    scope: OrgScope<perm::AuditRead>,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let filter = query.filter()?;
    let org = scope.org_id();
    let tenant = scope.into_tenant();
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, &filter, None, EXPORT_MAX_ROWS)?)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"audit-log-org-{org}.csv\"")))
        .body(to_csv(&rows)))
}

/// The rows as RFC 4180 CSV with a header line, formulas defused
/// (`crate::http::csv`).
#[must_use]
pub fn to_csv(rows: &[AuditLog]) -> String {
    let mut w = CsvWriter::new(&[
        "id",
        "created_at",
        "user_id",
        "user_email",
        "action",
        "resource_type",
        "resource_id",
        "ip_address",
        "user_agent",
        "old_values",
        "new_values",
        "metadata",
    ]);
    let json = |v: &Option<serde_json::Value>| v.as_ref().map(ToString::to_string).unwrap_or_default();
    for r in rows {
        w.row([
            r.id.to_string(),
            r.created_at.clone(),
            r.user_id.map(|u| u.0.to_string()).unwrap_or_default(),
            r.user_email.clone().unwrap_or_default(),
            r.action.clone(),
            r.resource_type.clone(),
            r.resource_id.map(|i| i.to_string()).unwrap_or_default(),
            r.ip_address.clone().unwrap_or_default(),
            r.user_agent.clone().unwrap_or_default(),
            json(&r.old_values),
            json(&r.new_values),
            r.metadata.to_string(),
        ]);
    }
    w.finish()
}

/// Filter of the activity feed.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Only this kind of entity (`member`, `team`, `bot`, …).
    pub entity_type: Option<String>,
}

/// The organization's activity feed: who changed what, newest first.
#[utoipa::path(
    tag = "audit",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams, ActivityQuery),
    responses((status = 200, body = Page<Activity>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/orgs/{org_id}/activity")]
async fn list_activity(
    scope: OrgScope<perm::Member>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    query: web::Query<ActivityQuery>,
) -> AppResult<web::Json<Page<Activity>>> {
    let entity_type = short("entity_type", query.entity_type.as_deref())?;
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let tenant = scope.into_tenant();
    let rows = state.db.read(move |c| Ok(store::activity(c, &tenant, entity_type.as_deref(), before, limit)?)).await?;
    Ok(web::Json(Page::from_rows(rows, &page, |r| r.id)?))
}
