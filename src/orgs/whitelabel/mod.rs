//! White-label settings: brand name, colours, logo and favicon (stored in
//! `files`), custom domain and email sender. Applied to the UI (CSS
//! variables, also before sign-in on a custom domain) and to emails.

pub mod model;
pub mod service;
pub mod store;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HOST};
use actix_web::web::BytesMut;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, put, web};
use futures_util::StreamExt;
use serde_json::json;
use utoipa_actix_web::service_config::ServiceConfig;

use self::model::{BrandingQuery, PublicBranding, UpdateWhiteLabelRequest, WhiteLabel};
pub use self::service::branding;
use self::store::Asset;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorBody, ErrorCode};
use crate::http::{Json, OrgScope};
use crate::permissions::perm;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_whitelabel)
        .service(update_whitelabel)
        .service(put_logo)
        .service(delete_logo)
        .service(put_favicon)
        .service(delete_favicon)
        .service(public_branding)
        .service(branding_file);
}

/// Reads a raw request body up to `limit` bytes.
async fn read_body(mut payload: web::Payload, limit: usize) -> AppResult<Vec<u8>> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| AppError::new(ErrorCode::InvalidJson, format!("cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::new(ErrorCode::PayloadTooLarge, format!("the body exceeds {limit} bytes"))
                .with_details(json!({ "limit_bytes": limit })));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.to_vec())
}

/// The organization's branding (defaults until saved).
#[utoipa::path(
    tag = "whitelabel",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = WhiteLabel), (status = 404, body = ErrorBody)),
    security(("session" = []), ("api_token" = []))
)]
#[get("/orgs/{org_id}/whitelabel")]
async fn get_whitelabel(scope: OrgScope<perm::Member>, state: web::Data<AppState>) -> AppResult<web::Json<WhiteLabel>> {
    Ok(web::Json(service::get(&state, scope.into_tenant()).await?))
}

/// Changes the branding: name, colours, custom domain, email sender, links.
#[utoipa::path(
    tag = "whitelabel",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body = UpdateWhiteLabelRequest,
    responses(
        (status = 200, body = WhiteLabel),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`domain_taken`"),
        (status = 422, body = ErrorBody),
    ),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[patch("/orgs/{org_id}/whitelabel")]
async fn update_whitelabel(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
    body: Json<UpdateWhiteLabelRequest>,
) -> AppResult<web::Json<WhiteLabel>> {
    Ok(web::Json(service::update(&state, scope.into_tenant(), body.into_inner()?).await?))
}

async fn upload(
    scope: OrgScope<perm::OrgManage>,
    state: &AppState,
    payload: web::Payload,
    asset: Asset,
) -> AppResult<WhiteLabel> {
    let data = read_body(payload, service::MAX_IMAGE_BYTES).await?;
    service::put_image(state, scope.into_tenant(), asset, data).await
}

/// Uploads the logo: the raw image bytes as the body (PNG, JPEG, GIF,
/// WebP, ICO or SVG; at most 1 MiB).
#[utoipa::path(
    tag = "whitelabel",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body(content = Vec<u8>, content_type = "image/png", description = "The image bytes"),
    responses(
        (status = 200, body = WhiteLabel),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody, description = "not an accepted image"),
    ),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[put("/orgs/{org_id}/whitelabel/logo")]
async fn put_logo(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> AppResult<web::Json<WhiteLabel>> {
    Ok(web::Json(upload(scope, &state, payload, Asset::Logo).await?))
}

/// Removes the logo.
#[utoipa::path(
    tag = "whitelabel",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = WhiteLabel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[delete("/orgs/{org_id}/whitelabel/logo")]
async fn delete_logo(scope: OrgScope<perm::OrgManage>, state: web::Data<AppState>) -> AppResult<web::Json<WhiteLabel>> {
    Ok(web::Json(service::remove_image(&state, scope.into_tenant(), Asset::Logo).await?))
}

/// Uploads the favicon (raw image bytes, at most 1 MiB).
#[utoipa::path(
    tag = "whitelabel",
    params(("org_id" = i64, Path, description = "Organization id")),
    request_body(content = Vec<u8>, content_type = "image/png", description = "The image bytes"),
    responses(
        (status = 200, body = WhiteLabel),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
    ),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[put("/orgs/{org_id}/whitelabel/favicon")]
async fn put_favicon(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> AppResult<web::Json<WhiteLabel>> {
    Ok(web::Json(upload(scope, &state, payload, Asset::Favicon).await?))
}

/// Removes the favicon.
#[utoipa::path(
    tag = "whitelabel",
    params(("org_id" = i64, Path, description = "Organization id")),
    responses((status = 200, body = WhiteLabel), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("session" = ["org.manage"]), ("api_token" = ["org.manage"]))
)]
#[delete("/orgs/{org_id}/whitelabel/favicon")]
async fn delete_favicon(
    scope: OrgScope<perm::OrgManage>,
    state: web::Data<AppState>,
) -> AppResult<web::Json<WhiteLabel>> {
    Ok(web::Json(service::remove_image(&state, scope.into_tenant(), Asset::Favicon).await?))
}

/// Public branding of a custom domain (the `domain` parameter, else the
/// request's Host); the instance defaults for any other host.
#[utoipa::path(tag = "whitelabel", params(BrandingQuery), responses((status = 200, body = PublicBranding)))]
#[get("/branding")]
async fn public_branding(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<BrandingQuery>,
) -> AppResult<HttpResponse> {
    let host = query
        .into_inner()
        .domain
        .or_else(|| req.headers().get(HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
        .unwrap_or_default();
    let branding = service::public(&state, host).await?;
    Ok(HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-cache")).json(branding))
}

/// A logo or favicon in use by some organization's branding.
#[utoipa::path(
    tag = "whitelabel",
    params(("sha256" = String, Path, description = "SHA-256 of the image")),
    responses((status = 200, description = "The image"), (status = 404, body = ErrorBody, description = "`file_not_found`"))
)]
#[get("/branding/files/{sha256}")]
async fn branding_file(state: web::Data<AppState>, path: web::Path<String>) -> AppResult<HttpResponse> {
    let sha = path.into_inner();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::new(ErrorCode::FileNotFound, "no such file"));
    }
    let file = state.db.read(move |c| Ok(store::public_file(c, &sha)?)).await?;
    let (content_type, data) = file.ok_or_else(|| AppError::new(ErrorCode::FileNotFound, "no such file"))?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        // Content-addressed: the URL changes when the image does.
        .insert_header((CACHE_CONTROL, "public, max-age=31536000, immutable"))
        // An SVG opened directly must not run script in our origin.
        .insert_header(("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox"))
        .body(data))
}
