//! SCIM token rules: the secret (`scim_` + 256 random bits) is shown once
//! and stored as an HMAC under the instance key (like API tokens); the
//! token alone scopes every SCIM request to its organization; a token is
//! rotated (new secret, the old one stops at once) or revoked; its role is
//! what provisioned members get — never `owner`, never more than its
//! creator holds.

use serde_json::json;

use super::model::{CreateScimTokenRequest, ScimSettings, ScimToken, ScimTokenId, ScimTokenSecret, TokenGrant};
use super::store;
use crate::app::AppState;
use crate::crypto::random_token;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ratelimit::Bucket;
use crate::http::{Page, PageParams, Tenant};
use crate::orgs::audit::{self, AuditEntry};
use crate::orgs::roles;
use crate::orgs::service::check_grant;

/// Every SCIM token starts with this.
pub const SCIM_TOKEN_PREFIX: &str = "scim_";

fn not_found() -> AppError {
    AppError::new(ErrorCode::ScimTokenNotFound, "no such SCIM token")
}

/// The SCIM base URL of this server.
#[must_use]
pub fn base_url(state: &AppState) -> String {
    format!("{}/scim/v2", state.config.public_url())
}

fn new_secret(state: &AppState) -> (String, [u8; 32], String) {
    let token = format!("{SCIM_TOKEN_PREFIX}{}", random_token(32));
    let mac = state.keys.mac_token(&token);
    let prefix: String = token.chars().take(10).collect();
    (token, mac, prefix)
}

pub async fn settings(state: &AppState, tenant: Tenant) -> AppResult<ScimSettings> {
    let active_tokens = state.db.read(move |c| Ok(store::active_token_count(c, &tenant)?)).await?;
    Ok(ScimSettings { base_url: base_url(state), active_tokens })
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<ScimToken>> {
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list_tokens(c, &tenant, before, limit)?)).await?;
    Page::from_rows(rows, &page, |t| t.id.0)
}

pub async fn create(state: &AppState, tenant: Tenant, req: CreateScimTokenRequest) -> AppResult<ScimTokenSecret> {
    let user = tenant.user_id().ok_or_else(|| AppError::new(ErrorCode::Forbidden, "only users create tokens"))?;
    state.limits.check(Bucket::Token, tenant.actor().client.ip.as_deref(), Some(&format!("user:{}", user.0)))?;
    let name = crate::names::check_name("name", &req.name, 100)?;
    let role_name = req.role.unwrap_or_else(|| "viewer".to_owned());
    let (secret, mac, prefix) = new_secret(state);
    let base = base_url(state);
    state
        .db
        .write(move |tx| {
            let role = roles::service::resolve(tx, &tenant, "role", &role_name)?;
            if role.is_owner() {
                return Err(AppError::validation("role", "SCIM cannot provision owners; choose another role"));
            }
            check_grant(&tenant, &role.permissions)?;
            let id = store::insert_token(tx, &tenant, &name, &mac, &prefix, role.id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "scim_token.created", "scim_token", id.0)
                    .with_new(json!({ "name": name, "role": role.name }))
                    .activity(),
            )?;
            let scim_token = store::find_token(tx, &tenant, id)?.ok_or_else(not_found)?;
            Ok(ScimTokenSecret { scim_token, token: secret, base_url: base })
        })
        .await
}

pub async fn rotate(state: &AppState, tenant: Tenant, id: ScimTokenId) -> AppResult<ScimTokenSecret> {
    let (secret, mac, prefix) = new_secret(state);
    let base = base_url(state);
    state
        .db
        .write(move |tx| {
            store::find_token(tx, &tenant, id)?.ok_or_else(not_found)?;
            if !store::rotate_token(tx, &tenant, id, &mac, &prefix, &now())? {
                return Err(AppError::new(ErrorCode::Conflict, "the token is revoked; create a new one"));
            }
            audit::record(tx, &AuditEntry::by(&tenant, "scim_token.rotated", "scim_token", id.0).activity())?;
            let scim_token = store::find_token(tx, &tenant, id)?.ok_or_else(not_found)?;
            Ok(ScimTokenSecret { scim_token, token: secret, base_url: base })
        })
        .await
}

pub async fn revoke(state: &AppState, tenant: Tenant, id: ScimTokenId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find_token(tx, &tenant, id)?.ok_or_else(not_found)?;
            if !store::revoke_token(tx, &tenant, id, &now())? {
                return Err(AppError::new(ErrorCode::Conflict, "the token is already revoked"));
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "scim_token.revoked", "scim_token", id.0)
                    .with_old(json!({ "name": before.name }))
                    .activity(),
            )
        })
        .await
}

/// The live token a bearer secret names, recording its use (at most once a minute).
pub async fn authenticate(state: &AppState, secret: &str) -> AppResult<Option<TokenGrant>> {
    if !secret.starts_with(SCIM_TOKEN_PREFIX) {
        return Ok(None);
    }
    let mac = state.keys.mac_token(secret);
    let grant = state.db.read(move |c| Ok(store::find_live_token(c, &mac)?)).await?;
    let Some(grant) = grant else { return Ok(None) };
    let n = now();
    let due = grant.last_used_at.as_deref().is_none_or(|t| {
        match (chrono::DateTime::parse_from_rfc3339(t), chrono::DateTime::parse_from_rfc3339(&n)) {
            (Ok(a), Ok(b)) => (b - a).num_seconds() >= 60,
            _ => true,
        }
    });
    if due {
        let id = grant.id;
        state.db.write(move |tx| Ok(store::touch_token(tx, id, &n)?)).await?;
    }
    Ok(Some(grant))
}
