//! The OAuth 2.0 authorization-code connect flow. The organization's admin
//! stores the OAuth app (client id in the integration's config, client
//! secret sealed with its credentials); `start` answers the provider's
//! authorize URL with a random `state` (stored hashed, single-use, 10-minute
//! expiry, bound to the organization, the integration, the user and — for a
//! browser session — a cookie of that browser) and PKCE S256 where the
//! provider supports it; `callback` exchanges the code, stores the tokens
//! sealed and sends the browser back to the integrations page with the result.

use chrono::{Duration, Utc};
use serde_json::json;

use super::model::{CallbackParams, IntegrationId, OAuthStart, OAuthSupport, spec};
use super::providers::{self, Exchange, Grant, Outcome};
use super::service::{self, load, log_exchange, store_tokens};
use super::store::{self, NewState};
use crate::app::AppState;
use crate::crypto::{random_token, sha256};
use crate::db::format_timestamp;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::orgs::audit::{self, AuditEntry};
use crate::permissions::Permission;

/// The callback's path, outside `/api/v1`.
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// Minutes a `state` stays valid.
pub const STATE_MINUTES: i64 = 10;
/// The cookie binding a started flow to the browser that started it.
pub const BROWSER_COOKIE: &str = "bb_oauth";
/// Where the browser goes back to.
const PAGE: &str = "/settings/integrations";

fn verifier_context(org: crate::ids::OrgId, integration: IntegrationId) -> String {
    format!("integration_oauth_states.code_verifier_encrypted:{}:{}", org.0, integration.0)
}

/// What `start` hands to the route: the answer and the browser-binding nonce to set as a cookie.
pub struct Started {
    pub answer: OAuthStart,
    pub browser_nonce: Option<String>,
}

/// Begins the connect flow; `bind_browser` for callers with a browser session.
pub async fn start(state: &AppState, tenant: Tenant, id: IntegrationId, bind_browser: bool) -> AppResult<Started> {
    let (integration, config, secrets) = load(state, &tenant, id).await?;
    let kind = integration.integration_type.clone();
    let t = spec(&kind).ok_or_else(service::not_found)?;
    if t.oauth == OAuthSupport::None {
        return Err(AppError::new(ErrorCode::OauthNotSupported, format!("{} has no OAuth connect flow", t.label))
            .with_details(json!({ "field": "type" })));
    }
    let client_id = config.get("client_id").ok_or_else(|| {
        AppError::validation("config.client_id", "store the OAuth app's client id (and secret) before connecting")
    })?;
    if !secrets.contains_key("client_secret") {
        return Err(AppError::validation(
            "credentials.client_secret",
            "store the OAuth app's client secret before connecting",
        ));
    }
    let redirect_uri =
        format!("{}{CALLBACK_PATH}", crate::admin::instance::public_url_in_force(state).await?.trim_end_matches('/'));
    let scopes: Vec<String> = if integration.scopes.is_empty() {
        t.default_scopes.iter().map(|s| (*s).to_owned()).collect()
    } else {
        integration.scopes.clone()
    };
    let state_token = random_token(32);
    let verifier = providers::uses_pkce(&kind).then(|| random_token(48));
    let challenge = verifier.as_ref().map(|v| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(v.as_bytes()))
    });
    let authorize_url = providers::authorize_url(
        &state.config.integrations,
        &kind,
        client_id,
        &redirect_uri,
        &scopes,
        &state_token,
        challenge.as_deref(),
    )
    .map_err(AppError::internal)?;
    let browser_nonce = bind_browser.then(|| random_token(32));
    let expires_at = format_timestamp(Utc::now() + Duration::minutes(STATE_MINUTES));
    let sealed = verifier.map(|v| state.keys.encrypt(v.as_bytes(), &verifier_context(tenant.org_id(), id)));
    let state_hash = sha256(state_token.as_bytes());
    let browser_hash = browser_nonce.as_ref().map(|n| sha256(n.as_bytes()));
    let (uri, exp) = (redirect_uri.clone(), expires_at.clone());
    state
        .db
        .write(move |tx| {
            store::insert_state(
                tx,
                &tenant,
                id,
                &NewState {
                    state_hash: &state_hash,
                    browser_hash: browser_hash.as_ref().map(<[u8; 32]>::as_slice),
                    code_verifier_sealed: sealed.as_deref(),
                    redirect_uri: &uri,
                    expires_at: &exp,
                },
            )?;
            audit::record(tx, &AuditEntry::by(&tenant, "integration.oauth_started", "integration", id.0))
        })
        .await?;
    Ok(Started { answer: OAuthStart { authorize_url, redirect_uri, expires_at }, browser_nonce })
}

/// Where the callback sends the browser: the integrations page with the result.
#[must_use]
pub fn result_location(integration: Option<IntegrationId>, error: Option<(&str, &str)>) -> String {
    let Ok(mut url) = reqwest::Url::parse("http://x") else { return PAGE.to_owned() };
    url.set_path(PAGE);
    {
        let mut q = url.query_pairs_mut();
        match error {
            None => q.append_pair("oauth", "connected"),
            Some((reason, message)) => {
                q.append_pair("oauth", "error").append_pair("reason", reason).append_pair("message", message)
            }
        };
        if let Some(id) = integration {
            q.append_pair("integration", &id.to_string());
        }
    }
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// Why a callback was refused: a reason code and a sentence.
pub struct Refused {
    pub integration: Option<IntegrationId>,
    pub reason: &'static str,
    pub message: String,
}

fn refused(integration: Option<IntegrationId>, reason: &'static str, message: impl Into<String>) -> Refused {
    Refused { integration, reason, message: message.into() }
}

/// Finds the pending authorization of a callback's `state` and checks it:
/// known, unused, unexpired, from the browser that started it.
async fn pending_state(
    state: &AppState,
    params: &CallbackParams,
    browser_nonce: Option<String>,
) -> Result<store::PendingState, Refused> {
    let Some(state_token) = params.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 200) else {
        return Err(refused(None, "missing_state", "The provider sent no state: start the connection again."));
    };
    let hash = sha256(state_token.as_bytes());
    let pending = state
        .db
        .read(move |c| Ok(store::find_state(c, &hash)?))
        .await
        .map_err(|e| refused(None, "server_error", e.message().to_owned()))?;
    let Some(pending) = pending else {
        return Err(refused(
            None,
            "state_invalid",
            "This sign-in link is not one this server started: start the connection again.",
        ));
    };
    let id = pending.integration_id;
    if pending.used {
        return Err(refused(Some(id), "state_used", "This sign-in link was already used: start the connection again."));
    }
    if pending.expired {
        return Err(refused(
            Some(id),
            "state_expired",
            format!("The sign-in took longer than {STATE_MINUTES} minutes: start the connection again."),
        ));
    }
    if let Some(expected) = &pending.browser_hash {
        let presented = browser_nonce.map(|n| sha256(n.as_bytes()));
        if presented.is_none_or(|p| !crate::crypto::constant_time_eq(&p, expected)) {
            return Err(refused(
                Some(id),
                "state_wrong_browser",
                "This sign-in was started in another browser or by another user: start it again from this browser.",
            ));
        }
    }
    Ok(pending)
}

/// Logs a refusal the provider reported on the redirect (`error=access_denied`…).
async fn provider_refused(
    state: &AppState,
    tenant: &Tenant,
    id: IntegrationId,
    error: &str,
    description: &str,
) -> Refused {
    let message = if error == "access_denied" {
        "Access was refused at the provider: nothing was connected.".to_owned()
    } else {
        format!("The provider answered {error}: {description}")
    };
    let ex = Exchange {
        outcome: Outcome::Rejected(error.to_owned()),
        request: json!({ "method": "GET", "url": CALLBACK_PATH }),
        response: json!({ "error": error, "error_description": description }),
        duration_ms: 0,
        body: serde_json::Value::Null,
    };
    let _ = log_exchange(state, tenant, id, "oauth.denied", "oauth", &ex, Some(message.clone()), None).await;
    let reason = if error == "access_denied" { "access_denied" } else { "provider_error" };
    refused(Some(id), reason, message)
}

/// Handles the provider's redirect; `Ok` is the connected integration.
pub async fn callback(
    state: &AppState,
    params: CallbackParams,
    browser_nonce: Option<String>,
) -> Result<IntegrationId, Refused> {
    let pending = pending_state(state, &params, browser_nonce).await?;
    let id = pending.integration_id;
    // The user who started must still be allowed to manage integrations there.
    let (org, user) = (pending.org_id, pending.user_id);
    let allowed = state
        .db
        .read(move |c| match user {
            Some(u) => Ok(crate::orgs::service::member_can(c, org, u, Permission::IntegrationsManage)?),
            None => Ok(true),
        })
        .await
        .map_err(|e| refused(Some(id), "server_error", e.message().to_owned()))?;
    let pending_id = pending.id;
    let consumed = state
        .db
        .write(move |tx| Ok(store::consume_state(tx, pending_id)?))
        .await
        .map_err(|e| refused(Some(id), "server_error", e.message().to_owned()))?;
    if !consumed {
        return Err(refused(Some(id), "state_used", "This sign-in link was already used: start the connection again."));
    }
    if !allowed {
        return Err(refused(
            Some(id),
            "forbidden",
            "The user who started this connection may no longer manage integrations.",
        ));
    }
    let tenant = Tenant::system(org, "OAuth callback of a state this organization's user started");
    if let Some(error) = params.error.as_deref() {
        let description = params.error_description.as_deref().unwrap_or_default();
        return Err(provider_refused(state, &tenant, id, error, description).await);
    }
    let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(refused(Some(id), "missing_code", "The provider sent no authorization code."));
    };
    let (_, config, secrets) =
        load(state, &tenant, id).await.map_err(|e| refused(Some(id), "integration_gone", e.message().to_owned()))?;
    let kind = spec_kind(state, &tenant, id)
        .await
        .map_err(|e| refused(Some(id), "integration_gone", e.message().to_owned()))?;
    let (Some(client_id), Some(client_secret)) = (config.get("client_id"), secrets.get("client_secret")) else {
        return Err(refused(Some(id), "app_missing", "The OAuth app's client id or secret was removed meanwhile."));
    };
    let verifier = match &pending.code_verifier_sealed {
        Some(sealed) => Some(
            state
                .keys
                .decrypt(sealed, &verifier_context(org, id))
                .ok()
                .and_then(|v| String::from_utf8(v).ok())
                .ok_or_else(|| refused(Some(id), "state_invalid", "The stored PKCE verifier cannot be read."))?,
        ),
        None => None,
    };
    let grant = Grant::Code { code, redirect_uri: &pending.redirect_uri, verifier: verifier.as_deref() };
    let (ex, result) = providers::grant(state, &kind, client_id, client_secret, &grant).await;
    let tokens = match result {
        Ok(t) => t,
        Err(why) => {
            let message = format!("The provider refused the authorization code: {why}");
            let _ = log_exchange(state, &tenant, id, "oauth.token", "oauth", &ex, Some(message.clone()), None).await;
            return Err(refused(Some(id), "token_exchange_failed", message));
        }
    };
    let _ = log_exchange(state, &tenant, id, "oauth.token", "oauth", &ex, None, None).await;
    let (tokens, extra) = if kind == "meta" {
        meta_tokens(state, &tenant, id, client_id, client_secret, config.get("page_id"), tokens).await?
    } else {
        (tokens, Vec::new())
    };
    let extra: Vec<(&str, String)> = extra.iter().map(|(k, v)| (*k, v.clone())).collect();
    store_tokens(state, &tenant, id, secrets.clone(), &tokens, &extra)
        .await
        .map_err(|e| refused(Some(id), "server_error", e.message().to_owned()))?;
    let actor = user;
    let _ = state
        .db
        .write(move |tx| {
            let entry = match actor {
                Some(u) => AuditEntry::by_user(u, "integration.connected", "integration", id.0),
                None => AuditEntry::system("integration.connected", "integration", Some(id.0)),
            };
            audit::record(tx, &entry.in_org(org).activity())
        })
        .await;
    Ok(id)
}

async fn spec_kind(state: &AppState, tenant: &Tenant, id: IntegrationId) -> AppResult<String> {
    Ok(service::get(state, tenant.clone(), id).await?.integration_type)
}

/// Meta: short-lived user token → long-lived user token → the page's token
/// (when a page is configured), which is what Messenger sends with.
async fn meta_tokens(
    state: &AppState,
    tenant: &Tenant,
    id: IntegrationId,
    client_id: &str,
    client_secret: &str,
    page_id: Option<&String>,
    short: providers::Tokens,
) -> Result<(providers::Tokens, Vec<(&'static str, String)>), Refused> {
    let (ex, long) = providers::meta_long_lived(state, client_id, client_secret, &short.access_token).await;
    let long = match long {
        Ok(t) => t,
        Err(why) => {
            let message = format!("Meta refused the long-lived token exchange: {why}");
            let _ =
                log_exchange(state, tenant, id, "oauth.long_lived", "oauth", &ex, Some(message.clone()), None).await;
            return Err(refused(Some(id), "token_exchange_failed", message));
        }
    };
    let _ = log_exchange(state, tenant, id, "oauth.long_lived", "oauth", &ex, None, None).await;
    let Some(page_id) = page_id else {
        return Ok((providers::Tokens { scopes: short.scopes, ..long }, Vec::new()));
    };
    let (ex, page) = providers::meta_page_token(state, &long.access_token, page_id).await;
    match page {
        Ok(page_token) => {
            let _ = log_exchange(state, tenant, id, "oauth.page_token", "oauth", &ex, None, None).await;
            // A page token from a long-lived user token does not expire.
            let tokens = providers::Tokens {
                access_token: page_token,
                refresh_token: None,
                expires_in: None,
                scopes: short.scopes,
            };
            Ok((tokens, vec![("user_access_token", long.access_token)]))
        }
        Err(why) => {
            let message = format!("Meta gave no token for page {page_id}: {why}");
            let _ =
                log_exchange(state, tenant, id, "oauth.page_token", "oauth", &ex, Some(message.clone()), None).await;
            Err(refused(Some(id), "token_exchange_failed", message))
        }
    }
}
