//! Work clones (issue 29): a member's "digital twin" learned from their own
//! replies. Training material is imported from email and chat exports into
//! (context, reply) pairs; training embeds the contexts with the local
//! embedder into a version and freezes a style profile; drafts retrieve the
//! most similar past exchanges and are written by a chat model or, without
//! one, adapted from the best past reply. Feedback on drafts flows back into
//! the training data. Handed-off inbox conversations get suggested replies.
//!
//! Every route needs `clones.use`; which clones a caller sees and may manage
//! is decided per clone (see [`service`]). The inbox suggestion needs
//! `conversations.handle` on the conversation, and a clone the agent sees.

pub mod draft;
pub mod import;
pub mod model;
pub mod retrieval;
pub mod service;
pub mod store;
pub mod style;

use actix_web::{HttpResponse, delete, get, patch, post, web};
use rusqlite::{Connection, OptionalExtension};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{
    CloneDataId, CloneId, CloneResponseId, CloneVersion, CreateCloneRequest, Draft, FeedbackRequest, FeedbackResult,
    GenerateRequest, ImportReport, ImportRequest, ShareRequest, StyleResponse, SuggestionRequest, TrainingPair,
    UpdateCloneRequest, UpdatePairRequest, WorkClone,
};
use crate::app::AppState;
use crate::conversations::model::ConversationResource;
use crate::error::{AppResult, ErrorBody, ErrorCode};
use crate::http::scope::{Owner, ScopeResource, Scoped};
use crate::http::{Json, OrgScope, Page, PageParams};
use crate::ids::UserId;
use crate::permissions::perm;

/// `/clones/{clone_id}/…`
pub struct CloneResource;
impl ScopeResource for CloneResource {
    const PARAM: &'static str = "clone_id";
    const NOT_FOUND: ErrorCode = ErrorCode::CloneNotFound;
    type Id = CloneId;
    fn owner(conn: &Connection, id: CloneId) -> rusqlite::Result<Option<Owner>> {
        conn.query_row("SELECT organization_id FROM work_clones WHERE id = ?1", [id], |r| {
            Ok(Owner { org_id: r.get(0)?, bot_id: None })
        })
        .optional()
    }
}

/// A scope on a clone from its path.
pub type CloneScope<P> = Scoped<CloneResource, P>;

/// Registers the routes.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_clone)
        .service(list_clones)
        .service(get_clone)
        .service(update_clone)
        .service(delete_clone)
        .service(share_clone)
        .service(unshare_clone)
        .service(import_training_data)
        .service(list_training_data)
        .service(update_training_pair)
        .service(get_style)
        .service(train_clone)
        .service(list_clone_versions)
        .service(generate_draft)
        .service(draft_feedback)
        .service(suggest_reply);
}

/// Creates a work clone of the calling member (they own it).
#[utoipa::path(
    tag = "clones",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = CreateCloneRequest,
    responses((status = 201, body = WorkClone), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`name`, `description`, `ai_model`); `invalid_reference` (`provider_id`)")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[post("/orgs/{org_id}/clones")]
async fn create_clone(
    scope: OrgScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    body: Json<CreateCloneRequest>,
) -> AppResult<HttpResponse> {
    let clone = service::create(&state, scope.into_tenant(), body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(clone))
}

/// Lists the clones the caller sees: their own, those shared with them, and all of them for admins.
#[utoipa::path(
    tag = "clones",
    params(("org_id" = i64, Path, description = "Organization id"), PageParams),
    responses((status = 200, body = Page<WorkClone>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`limit`, `after`)")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[get("/orgs/{org_id}/clones")]
async fn list_clones(
    scope: OrgScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<WorkClone>>> {
    Ok(web::Json(service::list(&state, scope.into_tenant(), page.into_inner()).await?))
}

/// Shows a clone.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    responses((status = 200, body = WorkClone), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`clone_not_found`, also for clones not shared with the caller")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[get("/clones/{clone_id}")]
async fn get_clone(scope: CloneScope<perm::ClonesUse>, state: web::Data<AppState>) -> AppResult<web::Json<WorkClone>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id).await?))
}

/// Changes a clone's name, description or chat model.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    request_body = UpdateCloneRequest,
    responses((status = 200, body = WorkClone), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "`forbidden`: shared for `use` only"), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` naming the field; `invalid_reference` (`provider_id`)")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[patch("/clones/{clone_id}")]
async fn update_clone(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    body: Json<UpdateCloneRequest>,
) -> AppResult<web::Json<WorkClone>> {
    let id = scope.id();
    Ok(web::Json(service::update(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Deletes a clone with its training data, versions and drafts.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "`forbidden`: shared for `use` only"), (status = 404, body = ErrorBody)),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[delete("/clones/{clone_id}")]
async fn delete_clone(scope: CloneScope<perm::ClonesUse>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Shares a clone with another member of its organization (`use` or `manage`).
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    request_body = ShareRequest,
    responses((status = 200, body = WorkClone), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "`forbidden`: shared for `use` only"), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`clone_share_invalid` (`user_id`: not an active member of the organization, or the owner); `validation_failed`")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[post("/clones/{clone_id}/shares")]
async fn share_clone(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    body: Json<ShareRequest>,
) -> AppResult<web::Json<WorkClone>> {
    let id = scope.id();
    Ok(web::Json(service::share(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Stops sharing a clone with a member (nothing happens when it was not shared with them).
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id"), ("user_id" = i64, Path, description = "User id")),
    responses((status = 204, description = "Not shared (any more)"), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "`forbidden`: shared for `use` only"), (status = 404, body = ErrorBody)),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[delete("/clones/{clone_id}/shares/{user_id}")]
async fn unshare_clone(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    path: web::Path<(CloneId, UserId)>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::unshare(&state, scope.into_tenant(), id, path.into_inner().1).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Imports an export (mbox, .eml, Slack channel JSON, WhatsApp .txt, CSV) as training pairs, all or nothing.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    request_body = ImportRequest,
    responses((status = 200, body = ImportReport), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "`forbidden`: shared for `use` only"), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`clone_import_invalid` with `details.line` (and `column` or `offset`): wrong format or truncated, nothing stored; `validation_failed` (`identity`, `content`, `format`)")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[post("/clones/{clone_id}/imports")]
async fn import_training_data(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    body: Json<ImportRequest>,
) -> AppResult<web::Json<ImportReport>> {
    let id = scope.id();
    Ok(web::Json(service::import(&state, scope.into_tenant(), id, body.into_inner()?).await?))
}

/// Lists a clone's training pairs (context, cleaned reply, enabled), oldest first.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id"), PageParams),
    responses((status = 200, body = Page<TrainingPair>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`limit`, `after`)")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[get("/clones/{clone_id}/training-data")]
async fn list_training_data(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<TrainingPair>>> {
    let id = scope.id();
    Ok(web::Json(service::pairs(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Enables or disables a training pair for the next training.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id"), ("clone_data_id" = i64, Path, description = "Training pair id")),
    request_body = UpdatePairRequest,
    responses((status = 200, body = TrainingPair), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "`forbidden`: shared for `use` only"),
              (status = 404, body = ErrorBody, description = "`clone_not_found`, `clone_data_not_found`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`enabled`)")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[patch("/clones/{clone_id}/training-data/{clone_data_id}")]
async fn update_training_pair(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    path: web::Path<(CloneId, CloneDataId)>,
    body: Json<UpdatePairRequest>,
) -> AppResult<web::Json<TrainingPair>> {
    let id = scope.id();
    let pair = path.into_inner().1;
    Ok(web::Json(service::update_pair(&state, scope.into_tenant(), id, pair, body.into_inner()?).await?))
}

/// The clone's style profile: of the enabled pairs now, and as frozen by the active version.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    responses((status = 200, body = StyleResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[get("/clones/{clone_id}/style")]
async fn get_style(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<StyleResponse>> {
    let id = scope.id();
    Ok(web::Json(service::style(&state, scope.into_tenant(), id).await?))
}

/// Trains a new version from the enabled pairs (local embeddings, frozen style profile) and makes it active.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    responses((status = 201, body = CloneVersion), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody, description = "`forbidden`: shared for `use` only"), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "`clone_training_empty`: no enabled pairs (`details.pairs`, `details.enabled`)"),
              (status = 503, body = ErrorBody, description = "`models_unavailable`")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[post("/clones/{clone_id}/train")]
async fn train_clone(scope: CloneScope<perm::ClonesUse>, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    let id = scope.id();
    let version = service::train(&state, scope.into_tenant(), id).await?;
    Ok(HttpResponse::Created().json(version))
}

/// Lists a clone's trained versions, newest first.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    responses((status = 200, body = Vec<CloneVersion>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[get("/clones/{clone_id}/versions")]
async fn list_clone_versions(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<Vec<CloneVersion>>> {
    let id = scope.id();
    Ok(web::Json(service::versions(&state, scope.into_tenant(), id).await?))
}

/// Drafts a reply to a message in the person's style, citing the past exchanges it is based on.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id")),
    request_body = GenerateRequest,
    responses((status = 200, body = Draft), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`clone_not_trained`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`message`)"),
              (status = 502, body = ErrorBody, description = "`llm_failed`: the chat model did not answer"),
              (status = 503, body = ErrorBody, description = "`models_unavailable`")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[post("/clones/{clone_id}/generate")]
async fn generate_draft(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    body: Json<GenerateRequest>,
) -> AppResult<web::Json<Draft>> {
    let id = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(service::generate(&state, scope.into_tenant(), id, &req.message, None).await?))
}

/// Accepts, edits or rejects a draft; accepted and edited replies become training pairs of the next version.
#[utoipa::path(
    tag = "clones",
    params(("clone_id" = i64, Path, description = "Clone id"), ("response_id" = i64, Path, description = "Draft id")),
    request_body = FeedbackRequest,
    responses((status = 200, body = FeedbackResult), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`clone_not_found`, `clone_response_not_found`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`decision`, `text`)")),
    security(("session" = ["clones.use"]), ("api_token" = ["clones.use"]))
)]
#[post("/clones/{clone_id}/responses/{response_id}/feedback")]
async fn draft_feedback(
    scope: CloneScope<perm::ClonesUse>,
    state: web::Data<AppState>,
    path: web::Path<(CloneId, CloneResponseId)>,
    body: Json<FeedbackRequest>,
) -> AppResult<web::Json<FeedbackResult>> {
    let id = scope.id();
    let response = path.into_inner().1;
    Ok(web::Json(service::feedback(&state, scope.into_tenant(), id, response, body.into_inner()?).await?))
}

/// Suggests a reply to a handed-off conversation's latest visitor message with one of the agent's clones.
#[utoipa::path(
    tag = "clones",
    params(("conversation_id" = i64, Path, description = "Conversation id")),
    request_body = SuggestionRequest,
    responses((status = 200, body = Draft), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody, description = "`conversation_not_found`; `clone_not_found` for a clone the agent does not see"),
              (status = 409, body = ErrorBody, description = "`conversation_not_in_handoff`, `clone_no_message`, `clone_not_trained`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` (`clone_id`)"),
              (status = 502, body = ErrorBody, description = "`llm_failed`"), (status = 503, body = ErrorBody, description = "`models_unavailable`")),
    security(("session" = ["conversations.handle"]), ("api_token" = ["conversations.handle"]))
)]
#[post("/conversations/{conversation_id}/clone-suggestion")]
async fn suggest_reply(
    scope: Scoped<ConversationResource, perm::ConversationsHandle>,
    state: web::Data<AppState>,
    body: Json<SuggestionRequest>,
) -> AppResult<web::Json<Draft>> {
    let id = scope.id();
    let req = body.into_inner()?;
    Ok(web::Json(service::suggest(&state, scope.into_tenant(), id, req.clone_id).await?))
}
