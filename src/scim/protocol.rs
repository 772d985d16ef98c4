//! The SCIM 2.0 endpoints at `/scim/v2`. Every request carries a SCIM token
//! (`Authorization: Bearer scim_…`), which alone decides the organization;
//! answers and errors are `application/scim+json`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::future::LocalBoxFuture;
use serde_json::Value;

use super::SCIM_CONTENT_TYPE;
use super::error::{ScimError, ScimResult};
use super::schema;
use super::service::{self, ListQuery, Provisioner};
use super::tokens;
use crate::app::AppState;
use crate::error::AppError;
use crate::http::{ClientInfo, Tenant};
use crate::ids::{TeamId, UserId};

/// The routes under `/scim/v2` (plain actix: see the module docs of `scim`).
pub fn protocol_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/scim/v2")
            .route("/ServiceProviderConfig", web::get().to(service_provider_config))
            .route("/ResourceTypes", web::get().to(resource_types))
            .route("/ResourceTypes/{name}", web::get().to(resource_type))
            .route("/Schemas", web::get().to(schemas))
            .route("/Schemas/{urn}", web::get().to(schema_by_id))
            .route("/Users", web::get().to(list_users))
            .route("/Users", web::post().to(create_user))
            .route("/Users/{id}", web::get().to(get_user))
            .route("/Users/{id}", web::put().to(replace_user))
            .route("/Users/{id}", web::patch().to(patch_user))
            .route("/Users/{id}", web::delete().to(delete_user))
            .route("/Groups", web::get().to(list_groups))
            .route("/Groups", web::post().to(create_group))
            .route("/Groups/{id}", web::get().to(get_group))
            .route("/Groups/{id}", web::put().to(replace_group))
            .route("/Groups/{id}", web::patch().to(patch_group))
            .route("/Groups/{id}", web::delete().to(delete_group))
            .default_service(web::to(unknown)),
    );
}

/// A request authenticated by a live SCIM token.
pub struct ScimAuth {
    provisioner: Provisioner,
    state: web::Data<AppState>,
}

impl FromRequest for ScimAuth {
    type Error = ScimError;
    type Future = LocalBoxFuture<'static, Result<Self, ScimError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ScimError::from(AppError::internal(anyhow::anyhow!("AppState missing"))))?;
            let header = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let secret = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| ScimError::unauthorized("send a SCIM token as `Authorization: Bearer scim_…`"))?;
            let grant = tokens::authenticate(&state, secret)
                .await?
                .ok_or_else(|| ScimError::unauthorized("invalid or revoked SCIM token"))?;
            if grant.org_suspended {
                return Err(ScimError::new(StatusCode::FORBIDDEN, None, "this organization is suspended"));
            }
            // The token is the whole authorization: it acts for its organization only.
            let tenant = Tenant::system(grant.org_id, "SCIM provisioning with the organization's SCIM token");
            let provisioner = Provisioner {
                tenant,
                token_id: grant.id,
                role_id: grant.role_id,
                base: tokens::base_url(&state),
                client: ClientInfo::of(&req),
            };
            Ok(ScimAuth { provisioner, state })
        })
    }
}

fn scim_json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).content_type(SCIM_CONTENT_TYPE).body(body.to_string())
}

fn created(body: &Value) -> HttpResponse {
    let location = body["meta"]["location"].as_str().unwrap_or_default().to_owned();
    HttpResponse::Created().content_type(SCIM_CONTENT_TYPE).insert_header(("Location", location)).body(body.to_string())
}

/// Parses a request body (`application/scim+json` or `application/json`).
fn json_body(state: &AppState, bytes: &web::Bytes) -> ScimResult<Value> {
    if bytes.len() > state.config.http.max_json_bytes {
        return Err(ScimError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the body exceeds {} bytes", state.config.http.max_json_bytes),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| ScimError::invalid_syntax(format!("the body is not JSON: {e}")))
}

fn list_query(req: &HttpRequest) -> ScimResult<ListQuery> {
    let mut raw = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map_err(|e| ScimError::invalid_value(format!("bad query string: {e}")))?
        .into_inner();
    // Parameter names are matched case-insensitively, as identity providers vary.
    let mut take = |name: &str| {
        let key = raw.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()?;
        raw.remove(&key)
    };
    Ok(ListQuery {
        filter: take("filter"),
        start_index: take("startIndex"),
        count: take("count"),
        sort_by: take("sortBy"),
        sort_order: take("sortOrder"),
        attributes: take("attributes"),
        excluded_attributes: take("excludedAttributes"),
    })
}

fn projection(req: &HttpRequest, value: Value) -> ScimResult<Value> {
    let q = list_query(req)?;
    service::project(value, q.attributes.as_deref(), q.excluded_attributes.as_deref())
}

/// Runs a provisioning change in one write transaction; a SCIM error rolls it back.
async fn write<T: Send + 'static>(
    auth: &ScimAuth,
    f: impl FnOnce(&rusqlite::Connection, &Provisioner) -> ScimResult<T> + Send + 'static,
) -> ScimResult<T> {
    let slot: Arc<Mutex<Option<ScimError>>> = Arc::new(Mutex::new(None));
    let failed = slot.clone();
    let p = auth.provisioner.clone();
    let outcome = auth
        .state
        .db
        .write(move |tx| {
            f(tx, &p).map_err(|e| {
                let status = e.status;
                if let Ok(mut s) = failed.lock() {
                    *s = Some(e);
                }
                AppError::new(crate::error::ErrorCode::Conflict, format!("SCIM change refused ({status})"))
            })
        })
        .await;
    match outcome {
        Ok(v) => Ok(v),
        Err(e) => match slot.lock().ok().and_then(|mut s| s.take()) {
            Some(scim) => Err(scim),
            None => Err(ScimError::from(e)),
        },
    }
}

async fn read<T: Send + 'static>(
    auth: &ScimAuth,
    f: impl FnOnce(&rusqlite::Connection, &Provisioner) -> ScimResult<T> + Send + 'static,
) -> ScimResult<T> {
    let p = auth.provisioner.clone();
    let slot: Arc<Mutex<Option<ScimError>>> = Arc::new(Mutex::new(None));
    let failed = slot.clone();
    let outcome = auth
        .state
        .db
        .read(move |c| {
            f(c, &p).map_err(|e| {
                if let Ok(mut s) = failed.lock() {
                    *s = Some(e);
                }
                AppError::new(crate::error::ErrorCode::NotFound, "SCIM read failed")
            })
        })
        .await;
    match outcome {
        Ok(v) => Ok(v),
        Err(e) => match slot.lock().ok().and_then(|mut s| s.take()) {
            Some(scim) => Err(scim),
            None => Err(ScimError::from(e)),
        },
    }
}

fn user_id(path: &web::Path<String>) -> ScimResult<UserId> {
    service::parse_id(path.as_str(), "User").map(UserId)
}

fn team_id(path: &web::Path<String>) -> ScimResult<TeamId> {
    service::parse_id(path.as_str(), "Group").map(TeamId)
}

async fn service_provider_config(auth: ScimAuth) -> HttpResponse {
    scim_json(StatusCode::OK, &schema::service_provider_config(&auth.provisioner.base))
}

async fn resource_types(auth: ScimAuth) -> HttpResponse {
    let all = schema::resource_types(&auth.provisioner.base);
    scim_json(StatusCode::OK, &schema::list_response(all.len(), 1, &all))
}

async fn resource_type(auth: ScimAuth, name: web::Path<String>) -> ScimResult<HttpResponse> {
    schema::resource_types(&auth.provisioner.base)
        .into_iter()
        .find(|r| r["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(&name)))
        .map(|r| scim_json(StatusCode::OK, &r))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name}")))
}

async fn schemas(auth: ScimAuth) -> HttpResponse {
    let all = schema::schemas(&auth.provisioner.base);
    scim_json(StatusCode::OK, &schema::list_response(all.len(), 1, &all))
}

async fn schema_by_id(auth: ScimAuth, urn: web::Path<String>) -> ScimResult<HttpResponse> {
    schema::schemas(&auth.provisioner.base)
        .into_iter()
        .find(|s| s["id"].as_str().is_some_and(|id| id.eq_ignore_ascii_case(&urn)))
        .map(|s| scim_json(StatusCode::OK, &s))
        .ok_or_else(|| ScimError::not_found(format!("no schema {urn}")))
}

async fn list_users(req: HttpRequest, auth: ScimAuth) -> ScimResult<HttpResponse> {
    let q = list_query(&req)?;
    let all = read(&auth, service::all_users).await?;
    Ok(scim_json(StatusCode::OK, &service::list_response(all, &q)?))
}

async fn get_user(req: HttpRequest, auth: ScimAuth, id: web::Path<String>) -> ScimResult<HttpResponse> {
    let user = user_id(&id)?;
    let value = read(&auth, move |c, p| service::get_user(c, p, user)).await?;
    Ok(scim_json(StatusCode::OK, &projection(&req, value)?))
}

async fn create_user(auth: ScimAuth, body: web::Bytes) -> ScimResult<HttpResponse> {
    let body = json_body(&auth.state, &body)?;
    let value = write(&auth, move |c, p| service::create_user(c, p, &body)).await?;
    Ok(created(&value))
}

async fn replace_user(auth: ScimAuth, id: web::Path<String>, body: web::Bytes) -> ScimResult<HttpResponse> {
    let user = user_id(&id)?;
    let body = json_body(&auth.state, &body)?;
    let value = write(&auth, move |c, p| service::replace_user(c, p, user, &body)).await?;
    Ok(scim_json(StatusCode::OK, &value))
}

async fn patch_user(auth: ScimAuth, id: web::Path<String>, body: web::Bytes) -> ScimResult<HttpResponse> {
    let user = user_id(&id)?;
    let body = json_body(&auth.state, &body)?;
    let value = write(&auth, move |c, p| service::patch_user(c, p, user, &body)).await?;
    Ok(scim_json(StatusCode::OK, &value))
}

async fn delete_user(auth: ScimAuth, id: web::Path<String>) -> ScimResult<HttpResponse> {
    let user = user_id(&id)?;
    write(&auth, move |c, p| service::delete_user(c, p, user)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn list_groups(req: HttpRequest, auth: ScimAuth) -> ScimResult<HttpResponse> {
    let q = list_query(&req)?;
    let all = read(&auth, service::all_groups).await?;
    Ok(scim_json(StatusCode::OK, &service::list_response(all, &q)?))
}

async fn get_group(req: HttpRequest, auth: ScimAuth, id: web::Path<String>) -> ScimResult<HttpResponse> {
    let team = team_id(&id)?;
    let value = read(&auth, move |c, p| service::get_group(c, p, team)).await?;
    Ok(scim_json(StatusCode::OK, &projection(&req, value)?))
}

async fn create_group(auth: ScimAuth, body: web::Bytes) -> ScimResult<HttpResponse> {
    let body = json_body(&auth.state, &body)?;
    let value = write(&auth, move |c, p| service::create_group(c, p, &body)).await?;
    Ok(created(&value))
}

async fn replace_group(auth: ScimAuth, id: web::Path<String>, body: web::Bytes) -> ScimResult<HttpResponse> {
    let team = team_id(&id)?;
    let body = json_body(&auth.state, &body)?;
    let value = write(&auth, move |c, p| service::replace_group(c, p, team, &body)).await?;
    Ok(scim_json(StatusCode::OK, &value))
}

async fn patch_group(auth: ScimAuth, id: web::Path<String>, body: web::Bytes) -> ScimResult<HttpResponse> {
    let team = team_id(&id)?;
    let body = json_body(&auth.state, &body)?;
    let value = write(&auth, move |c, p| service::patch_group(c, p, team, &body)).await?;
    Ok(scim_json(StatusCode::OK, &value))
}

async fn delete_group(auth: ScimAuth, id: web::Path<String>) -> ScimResult<HttpResponse> {
    let team = team_id(&id)?;
    write(&auth, move |c, p| service::delete_group(c, p, team)).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn unknown(req: HttpRequest) -> HttpResponse {
    actix_web::ResponseError::error_response(&ScimError::not_found(format!(
        "no SCIM endpoint {} {}",
        req.method(),
        req.path()
    )))
}
