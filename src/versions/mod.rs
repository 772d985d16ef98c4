//! Versions (DESIGN §4): generic immutable snapshots of bots, flows, agents,
//! workflows, intents… with diff, rollback and branches merged into `main`.
//! The basis of publish/rollback for the domains that own those entities.
//!
//! Reading needs `bots.read`, committing and branching `bots.write`,
//! rollback and merging into main `flows.publish`; versions of agents,
//! workflows, tools and knowledge bases also need that domain's permission.

pub mod diff;
pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    Branch, CommitMessage, CreateBranchRequest, CreateVersionRequest, DiffQuery, EntityPath, Version, VersionDiff,
    VersionQuery,
};
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::ids::{BotId, BranchId, VersionId};
use crate::permissions::perm;

/// An optional JSON body: absent (no Content-Type) means the defaults; a
/// body that is there must be valid.
fn optional_body(body: Json<CommitMessage>) -> AppResult<CommitMessage> {
    match body.into_inner() {
        Err(e) if e.code() == ErrorCode::UnsupportedMediaType => Ok(CommitMessage::default()),
        other => other,
    }
}

fn owner_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<Owner> {
    let kind: String = r.get(1)?;
    let entity: i64 = r.get(2)?;
    Ok(Owner { org_id: r.get(0)?, bot_id: (kind == "bot").then_some(BotId(entity)) })
}

/// `/versions/{version_id}/…`
pub struct VersionResource;
impl ScopeResource for VersionResource {
    const PARAM: &'static str = "version_id";
    const NOT_FOUND: ErrorCode = ErrorCode::VersionNotFound;
    type Id = VersionId;
    fn owner(conn: &Connection, id: VersionId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row(
            "SELECT organization_id, entity_type, entity_id FROM entity_versions WHERE id = ?1",
            [id],
            owner_of,
        )
        .optional()
    }
}

/// `/branches/{branch_id}/…`
pub struct BranchResource;
impl ScopeResource for BranchResource {
    const PARAM: &'static str = "branch_id";
    const NOT_FOUND: ErrorCode = ErrorCode::BranchNotFound;
    type Id = BranchId;
    fn owner(conn: &Connection, id: BranchId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row(
            "SELECT organization_id, entity_type, entity_id FROM entity_branches WHERE id = ?1",
            [id],
            owner_of,
        )
        .optional()
    }
}

pub type VersionScope<P> = Scoped<VersionResource, P>;
pub type BranchScope<P> = Scoped<BranchResource, P>;

/// Registers the version routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_versions)
        .service(create_version)
        .service(get_version)
        .service(diff_version)
        .service(rollback_version)
        .service(list_branches)
        .service(create_branch)
        .service(delete_branch)
        .service(merge_branch);
}

/// The versions of an entity, newest first.
#[utoipa::path(
    tag = "versions",
    params(
        ("org_id" = i64, Path, description = "Organization id"),
        ("entity_type" = String, Path, description = "bot, flow, agent, workflow, intent, entity, knowledge_base, orchestration, tool or nlu_model"),
        ("entity_id" = i64, Path, description = "Id of the entity"),
        PageParams, VersionQuery,
    ),
    responses((status = 200, body = Page<Version>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`org_not_found` or `entity_not_found`"), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/orgs/{org_id}/versions/{entity_type}/{entity_id}")]
async fn list_versions(
    scope: OrgScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<EntityPath>,
    page: web::Query<PageParams>,
    query: web::Query<VersionQuery>,
) -> AppResult<web::Json<Page<Version>>> {
    let kind = service::entity_type(&path.entity_type)?;
    let page =
        service::list(&state, scope.into_tenant(), kind, path.entity_id, query.into_inner().branch, page.into_inner())
            .await?;
    Ok(web::Json(page))
}

/// Commits a snapshot of an entity (to `main` unless a branch is named).
#[utoipa::path(
    tag = "versions",
    params(
        ("org_id" = i64, Path, description = "Organization id"),
        ("entity_type" = String, Path, description = "The kind of entity"),
        ("entity_id" = i64, Path, description = "Id of the entity"),
    ),
    request_body = CreateVersionRequest,
    responses((status = 201, body = Version), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/versions/{entity_type}/{entity_id}")]
async fn create_version(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<EntityPath>,
    body: Json<CreateVersionRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner()?;
    let kind = service::entity_type(&path.entity_type)?;
    let version = service::create(&state, scope.into_tenant(), kind, path.entity_id, body).await?;
    Ok(HttpResponse::Created().json(version))
}

/// One version with its snapshot.
#[utoipa::path(
    tag = "versions",
    params(("version_id" = i64, Path, description = "Version id")),
    responses((status = 200, body = Version), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/versions/{version_id}")]
async fn get_version(scope: VersionScope<perm::BotsRead>, state: web::Data<AppState>) -> AppResult<web::Json<Version>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// The changes (JSON Patch operations) from another version, by default the
/// previous one, to this one.
#[utoipa::path(
    tag = "versions",
    params(("version_id" = i64, Path, description = "Version id"), DiffQuery),
    responses((status = 200, body = VersionDiff), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/versions/{version_id}/diff")]
async fn diff_version(
    scope: VersionScope<perm::BotsRead>,
    state: web::Data<AppState>,
    query: web::Query<DiffQuery>,
) -> AppResult<web::Json<VersionDiff>> {
    let id = scope.id();
    let against = query.against.map(VersionId);
    Ok(web::Json(service::diff(&state, scope.into_tenant(), id, against).await?))
}

/// Restores a version: its snapshot becomes a new version on main.
#[utoipa::path(
    tag = "versions",
    params(("version_id" = i64, Path, description = "Version id")),
    request_body = CommitMessage,
    responses((status = 201, body = Version), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/versions/{version_id}/rollback")]
async fn rollback_version(
    scope: VersionScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    body: Json<CommitMessage>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let body = optional_body(body)?;
    let version = service::rollback(&state, scope.into_tenant(), id, body).await?;
    Ok(HttpResponse::Created().json(version))
}

/// The branches of an entity (main first).
#[utoipa::path(
    tag = "versions",
    params(
        ("org_id" = i64, Path, description = "Organization id"),
        ("entity_type" = String, Path, description = "The kind of entity"),
        ("entity_id" = i64, Path, description = "Id of the entity"),
    ),
    responses((status = 200, body = Vec<Branch>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.read"]), ("api_token" = ["bots.read"]))
)]
#[get("/orgs/{org_id}/versions/{entity_type}/{entity_id}/branches")]
async fn list_branches(
    scope: OrgScope<perm::BotsRead>,
    state: web::Data<AppState>,
    path: web::Path<EntityPath>,
) -> AppResult<web::Json<Vec<Branch>>> {
    let kind = service::entity_type(&path.entity_type)?;
    Ok(web::Json(service::branches(&state, scope.into_tenant(), kind, path.entity_id).await?))
}

/// Starts a branch (a draft line of versions) from main's head or a version.
#[utoipa::path(
    tag = "versions",
    params(
        ("org_id" = i64, Path, description = "Organization id"),
        ("entity_type" = String, Path, description = "The kind of entity"),
        ("entity_id" = i64, Path, description = "Id of the entity"),
    ),
    request_body = CreateBranchRequest,
    responses((status = 201, body = Branch), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[post("/orgs/{org_id}/versions/{entity_type}/{entity_id}/branches")]
async fn create_branch(
    scope: OrgScope<perm::BotsWrite>,
    state: web::Data<AppState>,
    path: web::Path<EntityPath>,
    body: Json<CreateBranchRequest>,
) -> AppResult<HttpResponse> {
    let body = body.into_inner()?;
    let kind = service::entity_type(&path.entity_type)?;
    let branch = service::create_branch(&state, scope.into_tenant(), kind, path.entity_id, body).await?;
    Ok(HttpResponse::Created().json(branch))
}

/// Deletes a branch (its versions stay; main cannot be deleted).
#[utoipa::path(
    tag = "versions",
    params(("branch_id" = i64, Path, description = "Branch id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("session" = ["bots.write"]), ("api_token" = ["bots.write"]))
)]
#[delete("/branches/{branch_id}")]
async fn delete_branch(scope: BranchScope<perm::BotsWrite>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete_branch(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Merges a branch into main (a new main version).
#[utoipa::path(
    tag = "versions",
    params(("branch_id" = i64, Path, description = "Branch id")),
    request_body = CommitMessage,
    responses(
        (status = 201, body = Version),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`merge_conflict` naming the paths, or `conflict` (nothing to merge)"),
    ),
    security(("session" = ["flows.publish"]), ("api_token" = ["flows.publish"]))
)]
#[post("/branches/{branch_id}/merge")]
async fn merge_branch(
    scope: BranchScope<perm::FlowsPublish>,
    state: web::Data<AppState>,
    body: Json<CommitMessage>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let body = optional_body(body)?;
    let version = service::merge(&state, scope.into_tenant(), id, body).await?;
    Ok(HttpResponse::Created().json(version))
}
