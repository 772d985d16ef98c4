//! Billing routes: superadmin plan CRUD (`/admin/plans`), the public plan
//! list (`/plans`, 404 `billing_disabled` when billing is off) and the usage
//! of an organization (`/orgs/{org_id}/usage`, JSON and CSV).

use actix_web::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use actix_web::{HttpResponse, delete, get, post, put, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::plans::{self, OverLimit, Plan, PlanFilter, PlanId, PlanInput};
use super::usage::{self, UsageReport};
use crate::admin::AdminScope;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::csv::CsvWriter;
use crate::http::{Json, OrgScope};
use crate::permissions::perm;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_public_plans)
        .service(admin_list_plans)
        .service(admin_create_plan)
        .service(admin_get_plan)
        .service(admin_update_plan)
        .service(admin_delete_plan)
        .service(get_usage)
        .service(export_usage);
}

/// A plan written by a superadmin, with the organizations now over one of its limits.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanChange {
    pub plan: Plan,
    /// Organizations on the plan whose current usage is above a limit (allowed,
    /// but they cannot add more until they are under it).
    pub warnings: Vec<OverLimit>,
}

fn plan_not_found() -> AppError {
    AppError::new(ErrorCode::PlanNotFound, "no such plan")
}

fn name_taken(e: rusqlite::Error) -> AppError {
    if let rusqlite::Error::SqliteFailure(f, Some(msg)) = &e
        && f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
        && msg.contains("subscription_plans.name")
    {
        return AppError::new(ErrorCode::NameTaken, "another plan has this name")
            .with_details(json!({ "field": "name" }));
    }
    e.into()
}

/// Active public plans with prices, limits and features (the pricing page).
#[utoipa::path(
    tag = "billing",
    responses((status = 200, body = Vec<Plan>), (status = 404, body = ErrorBody, description = "`billing_disabled`")),
)]
#[get("/plans")]
async fn list_public_plans(state: web::Data<AppState>) -> AppResult<web::Json<Vec<Plan>>> {
    super::require_enabled(&state.config.billing)?;
    Ok(web::Json(state.db.read(|c| Ok(plans::list(c, PlanFilter::Public)?)).await?))
}

/// Every plan, active or not.
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = Vec<Plan>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/plans")]
async fn admin_list_plans(_admin: AdminScope, state: web::Data<AppState>) -> AppResult<web::Json<Vec<Plan>>> {
    Ok(web::Json(state.db.read(|c| Ok(plans::list(c, PlanFilter::All)?)).await?))
}

/// One plan.
#[utoipa::path(
    tag = "admin",
    params(("plan_id" = i64, Path, description = "Plan id")),
    responses((status = 200, body = Plan), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/plans/{plan_id}")]
async fn admin_get_plan(
    _admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<PlanId>,
) -> AppResult<web::Json<Plan>> {
    let id = path.into_inner();
    Ok(web::Json(state.db.read(move |c| plans::find(c, id)?.ok_or_else(plan_not_found)).await?))
}

/// Creates a plan (prices in integer minor units per interval and ISO 4217
/// currency; limits `null`/-1 = unlimited).
#[utoipa::path(
    tag = "admin",
    request_body = PlanInput,
    responses(
        (status = 201, body = PlanChange),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`name_taken`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` or `unknown_currency`, `details.field` names the field"),
    ),
    security(("admin_session" = []))
)]
#[post("/admin/plans")]
async fn admin_create_plan(
    admin: AdminScope,
    state: web::Data<AppState>,
    body: Json<PlanInput>,
) -> AppResult<HttpResponse> {
    let plan = body.into_inner()?.validate()?;
    let admin = admin.0;
    let change = state
        .db
        .write(move |tx| {
            let id = plans::create(tx, &plan).map_err(name_taken)?;
            let plan = plans::find(tx, id)?.ok_or_else(plan_not_found)?;
            crate::admin::store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.plan.created",
                Some(("subscription_plan", id.0)),
                &json!({ "name": plan.name }),
                &admin.client,
            )?;
            Ok(PlanChange { plan, warnings: Vec::new() })
        })
        .await?;
    Ok(HttpResponse::Created().json(change))
}

/// Replaces a plan. Limits apply at once; lowering one below an
/// organization's usage is allowed and listed in `warnings`.
#[utoipa::path(
    tag = "admin",
    params(("plan_id" = i64, Path, description = "Plan id")),
    request_body = PlanInput,
    responses(
        (status = 200, body = PlanChange),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`name_taken`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` or `unknown_currency`"),
    ),
    security(("admin_session" = []))
)]
#[put("/admin/plans/{plan_id}")]
async fn admin_update_plan(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<PlanId>,
    body: Json<PlanInput>,
) -> AppResult<web::Json<PlanChange>> {
    let plan = body.into_inner()?.validate()?;
    let id = path.into_inner();
    let admin = admin.0;
    let change = state
        .db
        .write(move |tx| {
            let before = plans::find(tx, id)?.ok_or_else(plan_not_found)?;
            plans::update(tx, id, &plan).map_err(name_taken)?;
            let plan = plans::find(tx, id)?.ok_or_else(plan_not_found)?;
            let warnings = plans::over_limit(tx, &plan)?;
            crate::admin::store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.plan.updated",
                Some(("subscription_plan", id.0)),
                &json!({ "name": plan.name, "limits_before": before.limits, "limits": plan.limits }),
                &admin.client,
            )?;
            Ok(PlanChange { plan, warnings })
        })
        .await?;
    // The runtime's message meter caches allowances: drop them all.
    state.runtime.meter().forget_all();
    Ok(web::Json(change))
}

/// Deletes a plan no organization is on (deactivate it otherwise).
#[utoipa::path(
    tag = "admin",
    params(("plan_id" = i64, Path, description = "Plan id")),
    responses(
        (status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`plan_in_use`"),
    ),
    security(("admin_session" = []))
)]
#[delete("/admin/plans/{plan_id}")]
async fn admin_delete_plan(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<PlanId>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let admin = admin.0;
    state
        .db
        .write(move |tx| {
            let plan = plans::find(tx, id)?.ok_or_else(plan_not_found)?;
            let n = plans::organizations_on(tx, &plan.name)?
                + tx.query_row("SELECT count(*) FROM user_subscriptions WHERE plan_id = ?1", [id], |r| {
                    r.get::<_, i64>(0)
                })?;
            if n > 0 {
                return Err(AppError::new(
                    ErrorCode::PlanInUse,
                    format!("{n} organizations are on this plan; deactivate it instead"),
                )
                .with_details(json!({ "organizations": n })));
            }
            plans::delete(tx, id)?;
            crate::admin::store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.plan.deleted",
                Some(("subscription_plan", id.0)),
                &json!({ "name": plan.name }),
                &admin.client,
            )?;
            Ok(())
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?from=YYYY-MM&to=YYYY-MM` (default: the last 12 months to this one).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// First month, `YYYY-MM` (inclusive).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (inclusive).
    pub to: Option<String>,
}

fn month(field: &str, raw: Option<&str>) -> AppResult<Option<chrono::NaiveDate>> {
    raw.map(|m| {
        chrono::NaiveDate::parse_from_str(&format!("{}-01", m.trim()), "%Y-%m-%d")
            .ok()
            .filter(|_| m.trim().len() == 7)
            .ok_or_else(|| AppError::validation(field, "must be a month like 2026-01"))
    })
    .transpose()
}

impl UsageQuery {
    fn range(&self) -> AppResult<(String, String)> {
        let to = month("to", self.to.as_deref())?;
        let from = month("from", self.from.as_deref())?;
        let to = to.unwrap_or_else(|| {
            let today = chrono::Utc::now().date_naive();
            today.with_day0(0).unwrap_or(today)
        });
        let from = from.unwrap_or_else(|| to.checked_sub_months(chrono::Months::new(11)).unwrap_or(to));
        if from > to {
            return Err(AppError::validation("from", "must not be after `to`"));
        }
        if to.checked_sub_months(chrono::Months::new(120)).is_some_and(|limit| from < limit) {
            return Err(AppError::validation("from", "at most 120 months at once"));
        }
        Ok((from.format("%Y-%m").to_string(), to.format("%Y-%m").to_string()))
    }
}

use chrono::Datelike as _;

/// Usage per month and metric, with the plan's limit and the percentage used.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id"), UsageQuery),
    responses((status = 200, body = UsageReport), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/usage")]
async fn get_usage(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    query: web::Query<UsageQuery>,
) -> AppResult<web::Json<UsageReport>> {
    let (from, to) = query.range()?;
    let tenant = scope.into_tenant();
    Ok(web::Json(state.db.read(move |c| usage::report(c, &tenant, &from, &to)).await?))
}

/// The same usage as CSV: one row per month and metric.
#[utoipa::path(
    tag = "billing",
    params(("org_id" = i64, Path, description = "Organization id"), UsageQuery),
    responses(
        (status = 200, content_type = "text/csv", body = String, description = "month, metric, used, limit, percent"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("session" = ["analytics.read"]), ("api_token" = ["analytics.read"]))
)]
#[get("/orgs/{org_id}/usage/export")]
async fn export_usage(
    scope: OrgScope<perm::AnalyticsRead>,
    state: web::Data<AppState>,
    query: web::Query<UsageQuery>,
) -> AppResult<HttpResponse> {
    let (from, to) = query.range()?;
    let org = scope.org_id();
    let tenant = scope.into_tenant();
    let report = state.db.read(move |c| usage::report(c, &tenant, &from, &to)).await?;
    let mut w = CsvWriter::new(&["month", "metric", "used", "limit", "percent"]);
    for m in &report.months {
        for r in &m.metrics {
            w.row([
                m.month.clone(),
                r.metric.to_owned(),
                r.used.to_string(),
                r.limit.map(|l| l.to_string()).unwrap_or_default(),
                r.percent.map(|p| format!("{p:.1}")).unwrap_or_default(),
            ]);
        }
    }
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((CONTENT_DISPOSITION, format!("attachment; filename=\"usage-org-{org}.csv\"")))
        .body(w.finish()))
}
