//! The superadmin console under `/api/v1/admin`: its own sign-in and
//! session cookie, IP allowlist, lockout after failed sign-ins, the admin
//! audit log, user and organization administration, instance statistics.
//! Every route but sign-in takes [`AdminScope`], so a tenant session or an
//! API token can never reach it.

pub mod instance;
pub mod ipnet;
pub mod model;
pub mod scope;
pub mod service;
pub mod store;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    AdminAuditEntry, AdminAuditQuery, AdminLoginRequest, AdminOrg, AdminSession, AdminUser, AdminUserDetail,
    AllowlistEntry, AttemptQuery, CreateAllowlistEntry, CreateUserRequest, InstanceInfo, InstanceSettings,
    InstanceStats, LoginAttempt, PlanRequest, SearchQuery, SuperadminRequest, SuspendRequest, TestEmailRequest,
    TestEmailResult, UpdateInstanceSettings,
};
use self::scope::admin_cookie_name;
pub use self::scope::{Admin, AdminScope};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{ClientInfo, Json, Page, PageParams};
use crate::ids::{AllowlistEntryId, OrgId, UserId};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(admin_login)
        .service(admin_logout)
        .service(admin_session)
        .service(instance_info)
        .service(get_settings)
        .service(update_settings)
        .service(test_email)
        .service(list_users)
        .service(create_user)
        .service(get_user)
        .service(suspend_user)
        .service(unsuspend_user)
        .service(set_superadmin)
        .service(admin_list_orgs)
        .service(admin_get_org)
        .service(suspend_org)
        .service(unsuspend_org)
        .service(set_plan)
        .service(list_allowlist)
        .service(add_allowlist)
        .service(remove_allowlist)
        .service(list_attempts)
        .service(list_audit)
        .service(stats);
}

/// Signs a superadmin in to the console (a separate session cookie, 8 h).
/// Five failures per email or ten per IP within 15 minutes lock sign-in.
#[utoipa::path(
    tag = "admin",
    request_body = AdminLoginRequest,
    responses(
        (status = 200, body = AdminSession, description = "Signed in; the `__Host-bb_admin` cookie is set"),
        (status = 401, body = ErrorBody, description = "`invalid_credentials`, `two_factor_required` or `invalid_two_factor_code`"),
        (status = 403, body = ErrorBody, description = "`ip_not_allowed`"),
        (status = 429, body = ErrorBody, description = "`rate_limited`: locked out, see Retry-After"),
    )
)]
#[post("/admin/auth/login")]
async fn admin_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: Json<AdminLoginRequest>,
) -> AppResult<HttpResponse> {
    let issued = service::login(&state, body.into_inner()?, ClientInfo::of(&req)).await?;
    let insecure = state.config.http.insecure_cookies;
    let cookie = Cookie::build(admin_cookie_name(insecure), issued.token.clone())
        .path("/")
        .secure(!insecure)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(CookieDuration::hours(i64::from(state.config.admin.session_hours)))
        .finish();
    Ok(HttpResponse::Ok().cookie(cookie).json(AdminSession {
        user_id: issued.user_id,
        email: issued.email,
        name: issued.name,
        expires_at: issued.expires_at,
        csrf_token: service::csrf_for(&state, &issued.token),
    }))
}

/// Ends the console session.
#[utoipa::path(
    tag = "admin",
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[post("/admin/auth/logout")]
async fn admin_logout(admin: AdminScope, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    service::logout(&state, admin.0).await?;
    let insecure = state.config.http.insecure_cookies;
    let mut cookie =
        Cookie::build(admin_cookie_name(insecure), "").path("/").secure(!insecure).http_only(true).finish();
    cookie.make_removal();
    Ok(HttpResponse::NoContent().cookie(cookie).finish())
}

/// The current console session and its CSRF token.
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = AdminSession), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/session")]
async fn admin_session(req: HttpRequest, admin: AdminScope, state: web::Data<AppState>) -> web::Json<AdminSession> {
    let token = req.cookie(admin_cookie_name(state.config.http.insecure_cookies)).map(|c| c.value().to_owned());
    web::Json(AdminSession {
        user_id: admin.user_id,
        email: admin.email.clone(),
        name: admin.name.clone(),
        expires_at: admin.session_expires_at.clone(),
        csrf_token: token.map(|t| service::csrf_for(&state, &t)).unwrap_or_default(),
    })
}

/// What the sign-up page needs: whether this is the first run (the next
/// sign-up becomes superadmin), the sign-up policy, whether email can be
/// sent, and the public URL. No secrets.
#[utoipa::path(tag = "admin", responses((status = 200, body = InstanceInfo)))]
#[get("/instance")]
async fn instance_info(state: web::Data<AppState>) -> AppResult<web::Json<InstanceInfo>> {
    Ok(web::Json(instance::info(&state).await?))
}

/// The instance settings: sign-up policy, public URL and SMTP server, with
/// the configuration file's values they override. Passwords are never
/// returned (`password_set`).
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = InstanceSettings), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/settings")]
async fn get_settings(admin: AdminScope, state: web::Data<AppState>) -> AppResult<web::Json<InstanceSettings>> {
    Ok(web::Json(instance::settings(&state, admin.0).await?))
}

/// Changes instance settings: absent fields stay, `null` returns to the
/// configuration file's value. Audited (never with the password).
#[utoipa::path(
    tag = "admin",
    request_body = UpdateInstanceSettings,
    responses(
        (status = 200, body = InstanceSettings),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "`validation_failed`; `details.field` is e.g. `public_url` or `smtp.port`"),
    ),
    security(("admin_session" = []))
)]
#[put("/admin/settings")]
async fn update_settings(
    admin: AdminScope,
    state: web::Data<AppState>,
    body: Json<UpdateInstanceSettings>,
) -> AppResult<web::Json<InstanceSettings>> {
    Ok(web::Json(instance::update(&state, admin.0, body.into_inner()?).await?))
}

/// Sends a test email now through the SMTP server in force and reports the
/// server's answer.
#[utoipa::path(
    tag = "admin",
    request_body = TestEmailRequest,
    responses(
        (status = 200, body = TestEmailResult, description = "The SMTP server accepted the message"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`smtp_not_configured`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` (`to`)"),
        (status = 502, body = ErrorBody, description = "`email_delivery_failed`: `details.smtp_error` has the server's answer"),
    ),
    security(("admin_session" = []))
)]
#[post("/admin/settings/test-email")]
async fn test_email(
    admin: AdminScope,
    state: web::Data<AppState>,
    body: Json<TestEmailRequest>,
) -> AppResult<web::Json<TestEmailResult>> {
    let body = body.into_inner()?;
    Ok(web::Json(instance::send_test_email(&state, admin.0, &body.to).await?))
}

/// Creates an account (with a personal organization, its address taken as
/// confirmed): how people get in when sign-up is closed.
#[utoipa::path(
    tag = "admin",
    request_body = CreateUserRequest,
    responses(
        (status = 201, body = AdminUser),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`email_taken`"),
        (status = 422, body = ErrorBody, description = "`validation_failed` or `weak_password` naming the field"),
    ),
    security(("admin_session" = []))
)]
#[post("/admin/users")]
async fn create_user(
    admin: AdminScope,
    state: web::Data<AppState>,
    body: Json<CreateUserRequest>,
) -> AppResult<HttpResponse> {
    let user = service::create_user(&state, admin.0, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(user))
}

/// Users, searchable by email or name and filterable by status.
#[utoipa::path(
    tag = "admin",
    params(PageParams, SearchQuery),
    responses((status = 200, body = Page<AdminUser>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/users")]
async fn list_users(
    admin: AdminScope,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    query: web::Query<SearchQuery>,
) -> AppResult<web::Json<Page<AdminUser>>> {
    let q = query.into_inner();
    Ok(web::Json(service::users(&state, admin.0, q.q, q.status, page.into_inner()).await?))
}

/// A user with their organizations and active sessions.
#[utoipa::path(
    tag = "admin",
    params(("user_id" = i64, Path, description = "User id")),
    responses((status = 200, body = AdminUserDetail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/users/{user_id}")]
async fn get_user(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> AppResult<web::Json<AdminUserDetail>> {
    Ok(web::Json(service::user(&state, admin.0, path.into_inner()).await?))
}

/// Suspends a user: sign-in, sessions and API tokens stop working.
#[utoipa::path(
    tag = "admin",
    params(("user_id" = i64, Path, description = "User id")),
    request_body = SuspendRequest,
    responses((status = 200, body = AdminUser), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[post("/admin/users/{user_id}/suspend")]
async fn suspend_user(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
    body: Json<SuspendRequest>,
) -> AppResult<web::Json<AdminUser>> {
    let body = body.into_inner()?;
    Ok(web::Json(service::set_user_suspended(&state, admin.0, path.into_inner(), Some(body.reason)).await?))
}

/// Reinstates a suspended user.
#[utoipa::path(
    tag = "admin",
    params(("user_id" = i64, Path, description = "User id")),
    responses((status = 200, body = AdminUser), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[post("/admin/users/{user_id}/unsuspend")]
async fn unsuspend_user(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
) -> AppResult<web::Json<AdminUser>> {
    Ok(web::Json(service::set_user_suspended(&state, admin.0, path.into_inner(), None).await?))
}

/// Grants or withdraws the superadmin flag of another user.
#[utoipa::path(
    tag = "admin",
    params(("user_id" = i64, Path, description = "User id")),
    request_body = SuperadminRequest,
    responses((status = 200, body = AdminUser), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[put("/admin/users/{user_id}/superadmin")]
async fn set_superadmin(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<UserId>,
    body: Json<SuperadminRequest>,
) -> AppResult<web::Json<AdminUser>> {
    let body = body.into_inner()?;
    Ok(web::Json(service::set_superadmin(&state, admin.0, path.into_inner(), body.is_superadmin).await?))
}

/// Organizations, searchable by name or slug and filterable by status.
#[utoipa::path(
    tag = "admin",
    params(PageParams, SearchQuery),
    responses((status = 200, body = Page<AdminOrg>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/orgs")]
async fn admin_list_orgs(
    admin: AdminScope,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    query: web::Query<SearchQuery>,
) -> AppResult<web::Json<Page<AdminOrg>>> {
    let q = query.into_inner();
    Ok(web::Json(service::orgs(&state, admin.0, q.q, q.status, page.into_inner()).await?))
}

/// One organization with its owner, members and bots counted.
#[utoipa::path(
    tag = "admin",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = AdminOrg), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/orgs/{org_id}")]
async fn admin_get_org(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<OrgId>,
) -> AppResult<web::Json<AdminOrg>> {
    Ok(web::Json(service::org(&state, admin.0, path.into_inner()).await?))
}

/// Suspends an organization: its routes answer 403 `account_suspended`.
#[utoipa::path(
    tag = "admin",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = SuspendRequest,
    responses((status = 200, body = AdminOrg), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[post("/admin/orgs/{org_id}/suspend")]
async fn suspend_org(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<OrgId>,
    body: Json<SuspendRequest>,
) -> AppResult<web::Json<AdminOrg>> {
    let body = body.into_inner()?;
    Ok(web::Json(service::set_org_suspended(&state, admin.0, path.into_inner(), Some(body.reason)).await?))
}

/// Reinstates a suspended organization.
#[utoipa::path(
    tag = "admin",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = AdminOrg), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[post("/admin/orgs/{org_id}/unsuspend")]
async fn unsuspend_org(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<OrgId>,
) -> AppResult<web::Json<AdminOrg>> {
    Ok(web::Json(service::set_org_suspended(&state, admin.0, path.into_inner(), None).await?))
}

/// Moves an organization to another plan.
#[utoipa::path(
    tag = "admin",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = PlanRequest,
    responses((status = 200, body = AdminOrg), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[put("/admin/orgs/{org_id}/plan")]
async fn set_plan(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<OrgId>,
    body: Json<PlanRequest>,
) -> AppResult<web::Json<AdminOrg>> {
    let body = body.into_inner()?;
    Ok(web::Json(service::set_plan(&state, admin.0, path.into_inner(), body.plan).await?))
}

/// The admin IP allowlist (enforced once it has an entry).
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = Vec<AllowlistEntry>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/ip-allowlist")]
async fn list_allowlist(admin: AdminScope, state: web::Data<AppState>) -> AppResult<web::Json<Vec<AllowlistEntry>>> {
    Ok(web::Json(service::allowlist(&state, admin.0).await?))
}

/// Adds an address or CIDR range to the allowlist.
#[utoipa::path(
    tag = "admin",
    request_body = CreateAllowlistEntry,
    responses(
        (status = 201, body = AllowlistEntry),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`would_lock_out` or `conflict` (already listed)"),
        (status = 422, body = ErrorBody),
    ),
    security(("admin_session" = []))
)]
#[post("/admin/ip-allowlist")]
async fn add_allowlist(
    admin: AdminScope,
    state: web::Data<AppState>,
    body: Json<CreateAllowlistEntry>,
) -> AppResult<HttpResponse> {
    let entry = service::add_allowlist(&state, admin.0, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(entry))
}

/// Removes an allowlist entry.
#[utoipa::path(
    tag = "admin",
    params(("entry_id" = i64, Path, description = "Allowlist entry id")),
    responses((status = 204, description = "Removed"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[delete("/admin/ip-allowlist/{entry_id}")]
async fn remove_allowlist(
    admin: AdminScope,
    state: web::Data<AppState>,
    path: web::Path<AllowlistEntryId>,
) -> AppResult<HttpResponse> {
    service::remove_allowlist(&state, admin.0, path.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign-in attempts on the console, newest first.
#[utoipa::path(
    tag = "admin",
    params(PageParams, AttemptQuery),
    responses((status = 422, body = ErrorBody, description = "`validation_failed`: `limit` outside 1–200 or a malformed `after` cursor"), (status = 200, body = Page<LoginAttempt>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/login-attempts")]
async fn list_attempts(
    admin: AdminScope,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    query: web::Query<AttemptQuery>,
) -> AppResult<web::Json<Page<LoginAttempt>>> {
    let q = query.into_inner();
    Ok(web::Json(service::attempts(&state, admin.0, q.email, q.ip, page.into_inner()).await?))
}

/// The admin audit log, newest first.
#[utoipa::path(
    tag = "admin",
    params(PageParams, AdminAuditQuery),
    responses((status = 200, body = Page<AdminAuditEntry>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/audit-log")]
async fn list_audit(
    admin: AdminScope,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
    query: web::Query<AdminAuditQuery>,
) -> AppResult<web::Json<Page<AdminAuditEntry>>> {
    let q = query.into_inner();
    Ok(web::Json(service::audit_log(&state, admin.0, q.action, q.user_id, page.into_inner()).await?))
}

/// Instance statistics: users, organizations, bots, sessions, jobs, email.
#[utoipa::path(
    tag = "admin",
    responses((status = 200, body = InstanceStats), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("admin_session" = []))
)]
#[get("/admin/stats")]
async fn stats(admin: AdminScope, state: web::Data<AppState>) -> AppResult<web::Json<InstanceStats>> {
    Ok(web::Json(service::stats(&state, admin.0).await?))
}
