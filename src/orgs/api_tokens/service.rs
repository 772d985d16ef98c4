//! API-token rules: the secret (`bb_` + 256 random bits) is shown once and
//! stored as an HMAC under the instance key; scopes are a subset of the
//! creator's permissions (and are intersected with them again on every
//! use); optional bot restriction and expiry.

use serde_json::json;

use super::model::{ApiToken, CreateApiTokenRequest, CreatedApiToken};
use super::store::{self, NewToken};
use crate::accounts::service::API_TOKEN_PREFIX;
use crate::app::AppState;
use crate::crypto::random_token;
use crate::db::{format_timestamp, now};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ratelimit::Bucket;
use crate::http::{Page, PageParams, Tenant};
use crate::ids::ApiTokenId;
use crate::orgs::audit::{self, AuditEntry};
use crate::orgs::service::{check_grant, parse_permissions};

fn not_found() -> AppError {
    AppError::new(ErrorCode::ApiTokenNotFound, "no such API token")
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<ApiToken>> {
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, &now(), before, limit)?)).await?;
    Page::from_rows(rows, &page, |t| t.id.0)
}

fn check_name(raw: &str) -> AppResult<String> {
    crate::names::check_name("name", raw, 100)
}

fn check_expiry(raw: Option<&str>) -> AppResult<Option<String>> {
    let Some(raw) = raw else { return Ok(None) };
    let at = chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map_err(|_| AppError::validation("expires_at", "must be an RFC 3339 time like 2027-01-31T00:00:00Z"))?
        .with_timezone(&chrono::Utc);
    let now = chrono::Utc::now();
    if at <= now {
        return Err(AppError::validation("expires_at", "must be in the future"));
    }
    if at > now + chrono::Duration::days(3650) {
        return Err(AppError::validation("expires_at", "must be within ten years"));
    }
    Ok(Some(format_timestamp(at)))
}

pub async fn create(state: &AppState, tenant: Tenant, req: CreateApiTokenRequest) -> AppResult<CreatedApiToken> {
    let user = tenant.user_id().ok_or_else(|| AppError::new(ErrorCode::Forbidden, "only users create tokens"))?;
    state.limits.check(Bucket::Token, tenant.actor().client.ip.as_deref(), Some(&format!("user:{}", user.0)))?;
    let name = check_name(&req.name)?;
    let scopes = parse_permissions(&req.scopes, "scopes")?;
    let expires_at = check_expiry(req.expires_at.as_deref())?;
    check_grant(&tenant, &scopes)?;
    if let Some(bot) = req.bot_id {
        crate::bots::service::get(state, tenant.clone(), bot)
            .await
            .map_err(|_| AppError::validation("bot_id", "is not a bot of this organization"))?;
    }
    let token = format!("{API_TOKEN_PREFIX}{}", random_token(32));
    let mac = state.keys.mac_token(&token);
    let prefix: String = token.chars().take(10).collect();
    let secret = token.clone();
    state
        .db
        .write(move |tx| {
            let id = store::insert(
                tx,
                &tenant,
                &NewToken {
                    name: &name,
                    mac: &mac,
                    prefix: &prefix,
                    scopes: &scopes,
                    bot_id: req.bot_id,
                    expires_at: expires_at.as_deref(),
                },
            )?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "api_token.created", "api_token", id.0)
                    .with_new(json!({
                        "name": name, "scopes": scopes.names(), "bot_id": req.bot_id.map(|b| b.0), "expires_at": expires_at,
                    }))
                    .activity(),
            )?;
            let api_token = store::find(tx, &tenant, id, &now())?.ok_or_else(not_found)?;
            Ok(CreatedApiToken { api_token, token: secret })
        })
        .await
}

pub async fn revoke(state: &AppState, tenant: Tenant, id: ApiTokenId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id, &now())?.ok_or_else(not_found)?;
            if !store::revoke(tx, &tenant, id, &now())? {
                return Err(AppError::new(ErrorCode::Conflict, "the token is already revoked"));
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "api_token.revoked", "api_token", id.0)
                    .with_old(json!({ "name": before.name, "user_id": before.user_id.0 }))
                    .activity(),
            )
        })
        .await
}
