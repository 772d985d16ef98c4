//! WhatsApp message templates (issue 18 item 4) under a channel
//! (`integrations.manage`): create, list, show, delete, submit to Meta,
//! sync the review status, and send with variables.

pub mod model;
pub mod service;
pub mod store;

use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

pub use self::model::ProviderStatus;
use self::model::{ChannelTemplate, CreateTemplateRequest, SendTemplateRequest, TemplateId, TemplateSend};
use super::ChannelScope;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::{Json, Page, PageParams};
use crate::permissions::perm;

#[derive(Deserialize)]
struct TemplatePath {
    template_id: TemplateId,
}

/// Registers the routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_channel_template)
        .service(list_channel_templates)
        .service(get_channel_template)
        .service(delete_channel_template)
        .service(submit_channel_template)
        .service(sync_channel_template)
        .service(send_channel_template);
}

/// Creates a message template of a WhatsApp channel (not yet submitted to Meta).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id")),
    request_body = CreateTemplateRequest,
    responses((status = 201, body = ChannelTemplate), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`template_exists`"),
              (status = 422, body = ErrorBody, description = "`validation_failed` naming the field (`name`, `body`, `examples`, `buttons[0].url`…)")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/channels/{channel_id}/templates")]
async fn create_channel_template(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    body: Json<CreateTemplateRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let created = service::create(&state, scope.into_tenant(), id, body.into_inner()?).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Lists the channel's message templates with their review status.
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id"), PageParams),
    responses((status = 200, body = Page<ChannelTemplate>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/channels/{channel_id}/templates")]
async fn list_channel_templates(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    page: web::Query<PageParams>,
) -> AppResult<web::Json<Page<ChannelTemplate>>> {
    let id = scope.id();
    Ok(web::Json(service::list(&state, scope.into_tenant(), id, page.into_inner()).await?))
}

/// Shows a message template.
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id"), ("template_id" = i64, Path, description = "Template id")),
    responses((status = 200, body = ChannelTemplate), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[get("/channels/{channel_id}/templates/{template_id}")]
async fn get_channel_template(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    path: web::Path<TemplatePath>,
) -> AppResult<web::Json<ChannelTemplate>> {
    let id = scope.id();
    Ok(web::Json(service::get(&state, scope.into_tenant(), id, path.template_id).await?))
}

/// Deletes a message template here (Meta keeps its copy).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id"), ("template_id" = i64, Path, description = "Template id")),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[delete("/channels/{channel_id}/templates/{template_id}")]
async fn delete_channel_template(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    path: web::Path<TemplatePath>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    service::delete(&state, scope.into_tenant(), id, path.template_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Submits the template to Meta for review (`POST {graph}/{waba_id}/message_templates`).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id"), ("template_id" = i64, Path, description = "Template id")),
    responses((status = 200, body = ChannelTemplate), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`template_already_submitted`"),
              (status = 422, body = ErrorBody, description = "`channel_credentials_rejected`, or `validation_failed` (`credentials.business_account_id`)"),
              (status = 502, body = ErrorBody, description = "`channel_provider_unavailable` with Meta's words")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/channels/{channel_id}/templates/{template_id}/submit")]
async fn submit_channel_template(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    path: web::Path<TemplatePath>,
) -> AppResult<web::Json<ChannelTemplate>> {
    let id = scope.id();
    Ok(web::Json(service::submit(&state, scope.into_tenant(), id, path.template_id).await?))
}

/// Fetches the template's review status from Meta (approved, rejected with the reason…).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id"), ("template_id" = i64, Path, description = "Template id")),
    responses((status = 200, body = ChannelTemplate), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/channels/{channel_id}/templates/{template_id}/sync")]
async fn sync_channel_template(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    path: web::Path<TemplatePath>,
) -> AppResult<web::Json<ChannelTemplate>> {
    let id = scope.id();
    Ok(web::Json(service::sync(&state, scope.into_tenant(), id, path.template_id).await?))
}

/// Queues an approved template for a recipient with its variables (allowed outside the 24-hour window).
#[utoipa::path(
    tag = "channels",
    params(("channel_id" = i64, Path, description = "Channel id"), ("template_id" = i64, Path, description = "Template id")),
    request_body = SendTemplateRequest,
    responses((status = 202, body = TemplateSend), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "`template_not_approved`"),
              (status = 422, body = ErrorBody, description = "`template_variables_missing` (field `variables`, `details.missing`), or `validation_failed` (`to`, `header_media_url`)")),
    security(("session" = ["integrations.manage"]), ("api_token" = ["integrations.manage"]))
)]
#[post("/channels/{channel_id}/templates/{template_id}/send")]
async fn send_channel_template(
    scope: ChannelScope<perm::IntegrationsManage>,
    state: web::Data<AppState>,
    path: web::Path<TemplatePath>,
    body: Json<SendTemplateRequest>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let sent = service::send(&state, scope.into_tenant(), id, path.template_id, body.into_inner()?).await?;
    Ok(HttpResponse::Accepted().json(sent))
}
