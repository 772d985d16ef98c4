//! Files: the one way a blob is stored (`files`, content-addressed per
//! organization), what an upload may be (types recognised by their bytes,
//! a size limit from `files.max_upload_bytes`) and the authenticated
//! download of a file attached to a conversation.
//!
//! Every entry point that takes a file (bot avatars, widget uploads, agents'
//! attachments, and the channel adapters' inbound media) goes through
//! [`service::check`] and [`store::insert`]; a channel adapter calls
//! [`service::store_inbound`] and then `Runtime::act` with
//! `Action::Attachment`.

pub mod model;
pub mod service;
pub mod sniff;
pub mod store;

use actix_web::{HttpResponse, get, web};
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::FileResource;
use crate::app::AppState;
use crate::error::{AppResult, ErrorBody};
use crate::http::Scoped;
use crate::permissions::perm;

/// Registers the file routes under `/api/v1`.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(download_file);
}

/// Downloads a file attached to a conversation of the organization (or
/// uploaded by the caller). Images are served inline, everything else as an
/// attachment; the response is sandboxed (`Content-Security-Policy`) and
/// never content-sniffed.
#[utoipa::path(
    tag = "files",
    params(("file_id" = i64, Path, description = "File id")),
    responses(
        (status = 200, description = "The file's bytes, with its sniffed content type (any media type)", content_type = "*/*"),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody, description = "`file_not_found`"),
    ),
    security(("session" = ["conversations.read"]), ("api_token" = ["conversations.read"]))
)]
#[get("/files/{file_id}")]
async fn download_file(
    scope: Scoped<FileResource, perm::ConversationsRead>,
    state: web::Data<AppState>,
) -> AppResult<HttpResponse> {
    let id = scope.id();
    let file = service::for_member(&state, scope.into_tenant(), id).await?;
    Ok(service::respond(file, false))
}
