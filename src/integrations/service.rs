//! Integration rules: per-type validation of config and credentials, the
//! sealed secrets (one JSON object per row, context
//! `integrations.credentials_encrypted:{id}`), test-connection with its log
//! row, and [`access_token`] for channels and tools.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use super::model::{
    ConnectionTest, CreateIntegrationRequest, Integration, IntegrationId, IntegrationLog, OAuthSupport, TYPES,
    TypeSpec, UpdateIntegrationRequest, spec,
};
use super::providers::{self, Exchange, Grant, Outcome, Target};
use super::store::{self, Fields, LogEntry};
use crate::app::AppState;
use crate::crypto::Keys;
use crate::db::format_timestamp;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::orgs::audit::{self, AuditEntry};

/// The secret fields of an integration, as sealed.
pub(crate) type Secrets = BTreeMap<String, String>;

/// A token is refreshed when it expires within this many seconds.
const REFRESH_MARGIN_SECS: i64 = 60;

pub(crate) fn not_found() -> AppError {
    AppError::new(ErrorCode::IntegrationNotFound, "no such integration")
}

fn credentials_context(id: IntegrationId) -> String {
    format!("integrations.credentials_encrypted:{}", id.0)
}

/// The type catalogue with each type's fields.
#[must_use]
pub fn types() -> Vec<TypeSpec> {
    TYPES.to_vec()
}

fn check_type(raw: &str) -> AppResult<&'static TypeSpec> {
    spec(raw.trim()).ok_or_else(|| {
        AppError::new(ErrorCode::UnknownIntegrationType, format!("`{raw}` is not an integration type"))
            .with_details(json!({ "field": "type", "known": TYPES.iter().map(|t| t.name).collect::<Vec<_>>() }))
    })
}

fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::validation("name", "must be 1–200 characters"));
    }
    crate::names::reject_invisible("name", &name)?;
    Ok(name)
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
}

/// Validates the non-secret settings against the type's schema.
fn check_config(state: &AppState, t: &TypeSpec, raw: &BTreeMap<String, Value>) -> AppResult<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, value) in raw {
        let field = format!("config.{key}");
        if !t.config.iter().any(|f| f.name == key) {
            let known: Vec<&str> = t.config.iter().map(|f| f.name).collect();
            return Err(AppError::validation(&field, format!("{} has no setting `{key}`", t.label))
                .with_details(json!({ "field": field, "known": known })));
        }
        if value.is_null() {
            continue;
        }
        let Some(text) = value.as_str() else {
            return Err(AppError::validation(&field, "must be a string"));
        };
        let mut text = text.trim().to_owned();
        if text.is_empty() {
            continue;
        }
        if text.chars().count() > 2048 {
            return Err(AppError::validation(&field, "must be at most 2048 characters"));
        }
        match key.as_str() {
            "subdomain" => {
                text.to_ascii_lowercase().trim_end_matches(".zendesk.com").clone_into(&mut text);
                if !is_label(&text) {
                    return Err(AppError::validation(
                        &field,
                        "letters, digits and hyphens only, e.g. `acme` for acme.zendesk.com",
                    ));
                }
            }
            "shop" => {
                text.to_ascii_lowercase().trim_end_matches(".myshopify.com").clone_into(&mut text);
                if !is_label(&text) {
                    return Err(AppError::validation(
                        &field,
                        "letters, digits and hyphens only, e.g. `acme` for acme.myshopify.com",
                    ));
                }
            }
            "email" if !text.contains('@') => return Err(AppError::validation(&field, "must be an email address")),
            "url" | "instance_url" => {
                let url = state.outbound.check(&text).map_err(|e| match e {
                    crate::outbound::OutboundError::Forbidden(_) | crate::outbound::OutboundError::Scheme => {
                        AppError::new(ErrorCode::UrlNotAllowed, e.to_string()).with_details(json!({ "field": field }))
                    }
                    _ => AppError::validation(&field, e.to_string()),
                })?;
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(AppError::validation(&field, "must not contain credentials"));
                }
                text = url.to_string();
            }
            "header_name" if !text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
                return Err(AppError::validation(&field, "must be a header name (letters, digits, `-`, `_`)"));
            }
            "page_id" | "client_id" if text.chars().any(char::is_whitespace) => {
                return Err(AppError::validation(&field, "must not contain spaces"));
            }
            _ => {}
        }
        out.insert(key.clone(), text);
    }
    for f in t.config.iter().filter(|f| f.required) {
        if !out.contains_key(f.name) {
            return Err(AppError::validation(
                format!("config.{}", f.name),
                format!("{} is required for {}", f.label, t.label),
            ));
        }
    }
    Ok(out)
}

fn check_secret_value(field: &str, value: &str) -> AppResult<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(AppError::validation(field, "must not be empty"));
    }
    if v.chars().count() > 4096 {
        return Err(AppError::validation(field, "must be at most 4096 characters"));
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AppError::validation(field, "must not contain spaces or line breaks"));
    }
    Ok(v.to_owned())
}

/// Checks the combination of settings and secrets a type needs.
fn check_complete(t: &TypeSpec, config: &BTreeMap<String, String>, secrets: &Secrets) -> AppResult<()> {
    let has_app = config.contains_key("client_id") && secrets.contains_key("client_secret");
    if config.contains_key("client_id") && !secrets.contains_key("client_secret") {
        return Err(AppError::validation(
            "credentials.client_secret",
            "the OAuth app's client secret goes with its client id",
        ));
    }
    if secrets.contains_key("client_secret") && !config.contains_key("client_id") {
        return Err(AppError::validation("config.client_id", "the OAuth app's client id goes with its client secret"));
    }
    for f in t.credentials.iter().filter(|f| f.required) {
        let by_oauth = t.oauth == OAuthSupport::Optional && has_app;
        if !secrets.contains_key(f.name) && !by_oauth {
            let how = if t.oauth == OAuthSupport::Optional {
                format!(
                    "give the {}, or the OAuth app's client_id and client_secret to connect",
                    f.label.to_lowercase()
                )
            } else {
                format!("{} is required for {}", f.label, t.label)
            };
            return Err(AppError::validation(format!("credentials.{}", f.name), how));
        }
    }
    Ok(())
}

fn check_scopes(scopes: Option<&[String]>) -> AppResult<String> {
    let scopes = scopes.unwrap_or_default();
    if scopes.len() > 50 {
        return Err(AppError::validation("scopes", "at most 50 scopes"));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, s) in scopes.iter().enumerate() {
        let s = s.trim();
        if s.is_empty() || s.len() > 200 || s.chars().any(|c| c.is_whitespace() || c == ',' || c.is_control()) {
            return Err(AppError::validation(
                format!("scopes[{i}]"),
                "one scope: 1–200 characters, no spaces or commas",
            ));
        }
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    Ok(Value::from(out).to_string())
}

/// Seals the secrets and stores them with the list of field names.
fn store_secrets(
    conn: &rusqlite::Connection,
    keys: &Keys,
    tenant: &Tenant,
    id: IntegrationId,
    secrets: &Secrets,
) -> AppResult<()> {
    let plain = serde_json::to_vec(secrets).map_err(AppError::internal)?;
    let names: Vec<&str> = secrets.keys().map(String::as_str).collect();
    store::set_secrets(
        conn,
        tenant,
        id,
        &keys.encrypt(&plain, &credentials_context(id)),
        &Value::from(names).to_string(),
    )?;
    Ok(())
}

fn open_secrets(keys: &Keys, id: IntegrationId, sealed: &[u8]) -> AppResult<Secrets> {
    if sealed.is_empty() {
        return Ok(Secrets::new());
    }
    let plain = keys.decrypt(sealed, &credentials_context(id)).map_err(|_| {
        AppError::new(
            ErrorCode::IntegrationNotConnected,
            "the stored credentials cannot be read (the data file was re-keyed): enter them again",
        )
        .with_details(json!({ "field": "credentials" }))
    })?;
    serde_json::from_slice(&plain).map_err(AppError::internal)
}

/// The integration and its opened secrets.
pub(crate) async fn load(
    state: &AppState,
    tenant: &Tenant,
    id: IntegrationId,
) -> AppResult<(Integration, BTreeMap<String, String>, Secrets)> {
    let t = tenant.clone();
    let (integration, sealed) = state
        .db
        .read(move |c| {
            let i = store::find(c, &t, id)?.ok_or_else(not_found)?;
            let s = store::secrets(c, &t, id)?.ok_or_else(not_found)?;
            Ok((i, s))
        })
        .await?;
    let secrets = open_secrets(&state.keys, id, &sealed)?;
    let config: BTreeMap<String, String> = integration
        .config
        .as_object()
        .map(|o| o.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned()))).collect())
        .unwrap_or_default();
    Ok((integration, config, secrets))
}

/// Creates an integration; its secrets are sealed and never shown again.
pub async fn create(state: &AppState, tenant: Tenant, req: CreateIntegrationRequest) -> AppResult<Integration> {
    let t = check_type(&req.integration_type)?;
    let name = check_name(&req.name)?;
    let config = check_config(state, t, &req.config)?;
    let mut secrets = Secrets::new();
    for (key, value) in &req.credentials {
        let field = format!("credentials.{key}");
        if !t.credentials.iter().any(|f| f.name == key) {
            let known: Vec<&str> = t.credentials.iter().map(|f| f.name).collect();
            return Err(AppError::validation(&field, format!("{} has no secret `{key}`", t.label))
                .with_details(json!({ "field": field, "known": known })));
        }
        secrets.insert(key.clone(), check_secret_value(&field, value)?);
    }
    check_complete(t, &config, &secrets)?;
    let scopes_json = check_scopes(req.scopes.as_deref())?;
    let config_json = serde_json::to_string(&config).map_err(AppError::internal)?;
    let keys = state.keys.clone();
    let kind = t.name;
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, kind, &name, None)? {
                return Err(AppError::new(
                    ErrorCode::NameTaken,
                    format!("another {kind} integration is called {name}"),
                )
                .with_details(json!({ "field": "name" })));
            }
            let id = store::insert(
                tx,
                &tenant,
                kind,
                &Fields { name: &name, config_json: &config_json, scopes_json: &scopes_json },
            )?;
            store_secrets(tx, &keys, &tenant, id, &secrets)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "integration.created", "integration", id.0)
                    .activity()
                    .with_new(json!({ "type": kind, "name": name, "credentials": secrets.keys().collect::<Vec<_>>() })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: IntegrationId) -> AppResult<Integration> {
    state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(not_found)).await
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<Integration>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |i| i.id.0)
}

/// Changes name, settings, secrets (merged; `null` removes one) or scopes.
/// A change of settings or secrets marks the integration disconnected until
/// it is tested or connected again.
pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: IntegrationId,
    req: UpdateIntegrationRequest,
) -> AppResult<Integration> {
    let (before, old_config, mut secrets) = load(state, &tenant, id).await?;
    let t = check_type(&before.integration_type)?;
    let name = check_name(req.name.as_deref().unwrap_or(&before.name))?;
    let config = match &req.config {
        Some(raw) => check_config(state, t, raw)?,
        None => old_config.clone(),
    };
    let secrets_changed = req.credentials.as_ref().is_some_and(|c| !c.is_empty());
    for (key, value) in req.credentials.unwrap_or_default() {
        let field = format!("credentials.{key}");
        if !t.credentials.iter().any(|f| f.name == key) {
            return Err(AppError::validation(&field, format!("{} has no secret `{key}`", t.label)));
        }
        match value {
            Some(v) => secrets.insert(key, check_secret_value(&field, &v)?),
            None => secrets.remove(&key),
        };
    }
    check_complete(t, &config, &secrets)?;
    let scopes_json = match &req.scopes {
        Some(s) => check_scopes(Some(s))?,
        None => Value::from(before.scopes.clone()).to_string(),
    };
    let changed = secrets_changed || config != old_config;
    let config_json = serde_json::to_string(&config).map_err(AppError::internal)?;
    let keys = state.keys.clone();
    let kind = t.name;
    state
        .db
        .write(move |tx| {
            if store::name_taken(tx, &tenant, kind, &name, Some(id))? {
                return Err(AppError::new(
                    ErrorCode::NameTaken,
                    format!("another {kind} integration is called {name}"),
                )
                .with_details(json!({ "field": "name" })));
            }
            store::update(
                tx,
                &tenant,
                id,
                &Fields { name: &name, config_json: &config_json, scopes_json: &scopes_json },
            )?;
            if secrets_changed {
                store_secrets(tx, &keys, &tenant, id, &secrets)?;
            }
            if changed {
                store::set_status(tx, &tenant, id, Some("disconnected"), None)?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "integration.updated", "integration", id.0)
                    .with_old(json!({ "name": before.name, "config": before.config }))
                    .with_new(json!({ "name": name, "config": config, "credentials_changed": secrets_changed })),
            )?;
            store::find(tx, &tenant, id)?.ok_or_else(not_found)
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: IntegrationId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "integration.deleted", "integration", id.0)
                    .with_old(json!({ "type": before.integration_type, "name": before.name })),
            )
        })
        .await
}

pub async fn list_logs(
    state: &AppState,
    tenant: Tenant,
    id: IntegrationId,
    page: PageParams,
) -> AppResult<Page<IntegrationLog>> {
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find(c, &tenant, id)?.ok_or_else(not_found)?;
            Ok(store::list_logs(c, &tenant, id, before, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |l| l.id.0)
}

/// Writes one log row for a provider exchange; `status` and `error` update the integration too.
#[allow(clippy::too_many_arguments, reason = "one call site per action; a struct would only rename the parameters")]
pub(crate) async fn log_exchange(
    state: &AppState,
    tenant: &Tenant,
    id: IntegrationId,
    action: &'static str,
    action_type: &'static str,
    ex: &Exchange,
    error: Option<String>,
    status: Option<&'static str>,
) -> AppResult<()> {
    let t = tenant.clone();
    let request = ex.request.to_string();
    let response = ex.response.to_string();
    let duration = ex.duration_ms;
    state
        .db
        .write(move |tx| {
            store::insert_log(
                tx,
                &t,
                id,
                &LogEntry {
                    action,
                    action_type,
                    request_json: Some(&request),
                    response_json: Some(&response),
                    ok: error.is_none(),
                    error: error.as_deref(),
                    duration_ms: Some(duration),
                },
            )?;
            store::set_status(tx, &t, id, status, error.as_deref())?;
            Ok(())
        })
        .await
}

fn label_of(kind: &str) -> &'static str {
    spec(kind).map_or("The provider", |t| t.label)
}

/// Maps a refused or failed provider call to the API's error.
pub(crate) fn outcome_error(kind: &str, outcome: &Outcome) -> AppError {
    let label = label_of(kind);
    match outcome {
        Outcome::Rejected(why) => {
            AppError::new(ErrorCode::IntegrationCredentialsRejected, format!("{label} refused the credentials: {why}"))
                .with_details(json!({ "field": "credentials", "provider_description": why }))
        }
        Outcome::Unavailable(why) => AppError::new(
            ErrorCode::IntegrationProviderUnavailable,
            format!("{label} could not be reached or failed: {why}"),
        )
        .with_details(json!({ "provider_description": why })),
        Outcome::Ok(_) => AppError::internal(anyhow::anyhow!("an accepted call reported as an error")),
    }
}

/// Makes the type's cheap authenticated call (Slack `auth.test`, `HubSpot`
/// account details, Zendesk `users/me`, Shopify `shop.json`, …), logs it,
/// and records the result on the integration.
pub async fn test_connection(state: &AppState, tenant: Tenant, id: IntegrationId) -> AppResult<ConnectionTest> {
    let token = access_token(state, &tenant, id).await?;
    let (integration, config, _) = load(state, &tenant, id).await?;
    let kind = integration.integration_type.clone();
    let ex = providers::test_connection(state, &Target { kind: &kind, config: &config, token: &token }).await;
    match &ex.outcome {
        Outcome::Ok(account) => {
            let account = account.clone();
            log_exchange(state, &tenant, id, "test_connection", "test", &ex, None, Some("connected")).await?;
            let integration = get(state, tenant, id).await?;
            Ok(ConnectionTest { ok: true, account, duration_ms: ex.duration_ms, integration })
        }
        failed => {
            let e = outcome_error(&kind, failed);
            let status = matches!(failed, Outcome::Rejected(_)).then_some("error");
            log_exchange(state, &tenant, id, "test_connection", "test", &ex, Some(e.message().to_owned()), status)
                .await?;
            Err(e)
        }
    }
}

/// The secret a type's calls authenticate with when it has no OAuth token.
fn static_token(kind: &str, secrets: &Secrets) -> Option<String> {
    let field = match kind {
        "slack" => "bot_token",
        "zendesk" => "api_token",
        "custom" => "secret",
        _ => "access_token",
    };
    secrets.get(field).cloned()
}

fn not_connected(message: impl Into<String>) -> AppError {
    AppError::new(ErrorCode::IntegrationNotConnected, message)
}

fn expires_soon(at: Option<&str>, margin_secs: i64) -> bool {
    at.and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .is_some_and(|t| t.with_timezone(&Utc) <= Utc::now() + Duration::seconds(margin_secs))
}

/// Stores what a token grant returned: tokens sealed, scopes and expiry, status connected.
pub(crate) async fn store_tokens(
    state: &AppState,
    tenant: &Tenant,
    id: IntegrationId,
    mut secrets: Secrets,
    tokens: &providers::Tokens,
    extra: &[(&str, String)],
) -> AppResult<()> {
    secrets.insert("access_token".into(), tokens.access_token.clone());
    if let Some(r) = &tokens.refresh_token {
        secrets.insert("refresh_token".into(), r.clone());
    }
    for (k, v) in extra {
        secrets.insert((*k).to_owned(), v.clone());
    }
    let expires_at = tokens.expires_in.map(|s| format_timestamp(Utc::now() + Duration::seconds(s)));
    let scopes_json = tokens.scopes.as_ref().map(|s| Value::from(s.clone()).to_string());
    let (keys, t) = (state.keys.clone(), tenant.clone());
    state
        .db
        .write(move |tx| {
            store_secrets(tx, &keys, &t, id, &secrets)?;
            store::set_token_info(tx, &t, id, scopes_json.as_deref(), expires_at.as_deref())?;
            store::set_status(tx, &t, id, Some("connected"), None)?;
            Ok(())
        })
        .await
}

/// The access token to call the provider with, for channels and tools:
/// an OAuth token (refreshed first with the `refresh_token` grant when it
/// expires within a minute) or the type's static token (Slack `bot_token`,
/// `HubSpot`/Shopify/Salesforce `access_token`, Zendesk `api_token`, custom
/// `secret`). 409 `integration_not_connected` when there is none or it
/// expired without a way to refresh; a refused refresh is logged and marks
/// the integration `error`.
pub async fn access_token(state: &AppState, tenant: &Tenant, id: IntegrationId) -> AppResult<String> {
    let (integration, config, secrets) = load(state, tenant, id).await?;
    let kind = integration.integration_type.clone();
    let expiring = expires_soon(integration.token_expires_at.as_deref(), REFRESH_MARGIN_SECS);
    if secrets.contains_key("access_token") && integration.token_expires_at.is_some() && expiring {
        let (Some(refresh), Some(client_id), Some(client_secret)) =
            (secrets.get("refresh_token"), config.get("client_id"), secrets.get("client_secret"))
        else {
            if expires_soon(integration.token_expires_at.as_deref(), 0) {
                return Err(not_connected(format!(
                    "the {} access token expired and cannot be refreshed: connect again",
                    label_of(&kind)
                )));
            }
            return secrets.get("access_token").cloned().ok_or_else(|| not_connected("not connected"));
        };
        let (ex, result) =
            providers::grant(state, &kind, client_id, client_secret, &Grant::Refresh { refresh_token: refresh }).await;
        return match result {
            Ok(tokens) => {
                log_exchange(state, tenant, id, "oauth.refresh", "oauth", &ex, None, Some("connected")).await?;
                let token = tokens.access_token.clone();
                store_tokens(state, tenant, id, secrets, &tokens, &[]).await?;
                Ok(token)
            }
            Err(why) => {
                // A concurrent caller may have refreshed first (providers that
                // rotate refresh tokens then refuse the old one): use its token.
                let (now, _, fresh) = load(state, tenant, id).await?;
                if fresh.get("refresh_token") != Some(refresh)
                    && !expires_soon(now.token_expires_at.as_deref(), REFRESH_MARGIN_SECS)
                    && let Some(token) = fresh.get("access_token")
                {
                    return Ok(token.clone());
                }
                let message = format!("{} refused to refresh the access token: {why}", label_of(&kind));
                let (status, code) = match ex.outcome {
                    Outcome::Unavailable(_) => (None, ErrorCode::IntegrationProviderUnavailable),
                    _ => (Some("error"), ErrorCode::IntegrationNotConnected),
                };
                log_exchange(state, tenant, id, "oauth.refresh", "oauth", &ex, Some(message.clone()), status).await?;
                Err(AppError::new(code, message).with_details(json!({ "provider_description": why })))
            }
        };
    }
    if let Some(token) = secrets.get("access_token") {
        return Ok(token.clone());
    }
    static_token(&kind, &secrets).ok_or_else(|| {
        let how = if spec(&kind).is_some_and(|t| t.oauth != OAuthSupport::None) {
            "connect it first"
        } else {
            "set its credentials"
        };
        not_connected(format!("the {} integration has no access token: {how}", label_of(&kind)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_of_the_schema_check_has_a_spec_and_vice_versa() {
        let names: Vec<&str> = TYPES.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            ["slack", "hubspot", "gmail", "google_calendar", "meta", "zendesk", "shopify", "salesforce", "custom"]
        );
    }

    #[test]
    fn a_static_token_type_needs_its_token_or_the_oauth_app() {
        let slack = spec("slack").expect("slack");
        let none = BTreeMap::new();
        let e = check_complete(slack, &none, &Secrets::new()).expect_err("nothing given");
        assert_eq!(e.details().and_then(|d| d["field"].as_str()), Some("credentials.bot_token"));
        let app: BTreeMap<String, String> = [("client_id".to_owned(), "1.2".to_owned())].into();
        let e = check_complete(slack, &app, &Secrets::new()).expect_err("id without secret");
        assert_eq!(e.details().and_then(|d| d["field"].as_str()), Some("credentials.client_secret"));
        let secret: Secrets = [("client_secret".to_owned(), "s".to_owned())].into();
        assert!(check_complete(slack, &app, &secret).is_ok());
    }

    #[test]
    fn expiry_is_read_with_a_margin() {
        let soon = format_timestamp(Utc::now() + Duration::seconds(30));
        let later = format_timestamp(Utc::now() + Duration::hours(1));
        assert!(expires_soon(Some(&soon), 60));
        assert!(!expires_soon(Some(&soon), 0));
        assert!(!expires_soon(Some(&later), 60));
        assert!(!expires_soon(None, 60));
    }
}
