//! The background refresh of identity-provider metadata: SAML metadata from
//! its URL, the OIDC discovery document and JWKS. Never destructive: a
//! fetch or parse failure keeps every stored value and cached key and is
//! recorded on the configuration (`settings.refresh`, shown as a warning);
//! certificate expiry is shown from the stored certificates.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};

use super::model::{ConfigRow, SsoProtocol, SsoWarning};
use super::{oidc, saml, store};
use crate::app::AppState;
use crate::error::AppResult;
use crate::jobs::{JobContext, JobError, JobHandler};

/// The job kind.
pub const KIND: &str = "sso_metadata_refresh";
/// How often the scheduler queues it.
pub const PERIOD: Duration = Duration::from_secs(6 * 3600);

/// The job.
pub struct RefreshJob;

impl JobHandler for RefreshJob {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(async move {
            let r = run_once(&ctx.state).await?;
            Ok(json!({ "checked": r.checked, "updated": r.updated, "failed": r.failed }))
        })
    }
}

/// What one run did.
#[derive(Debug, Clone, Copy, Default)]
pub struct RefreshReport {
    pub checked: usize,
    pub updated: usize,
    pub failed: usize,
}

fn problem(code: &str, field: &str, message: String) -> SsoWarning {
    SsoWarning { code: code.to_owned(), message, field: Some(field.to_owned()) }
}

/// Refreshes every configuration that has a metadata URL or an issuer.
pub async fn run_once(state: &AppState) -> AppResult<RefreshReport> {
    let configs = state.db.read(|c| Ok(store::refreshable_configs(c)?)).await?;
    let mut report = RefreshReport::default();
    for config in configs {
        report.checked += 1;
        let (updated, errors) = match config.protocol() {
            SsoProtocol::Saml => refresh_saml(state, &config).await?,
            SsoProtocol::Oidc => refresh_oidc(state, &config).await?,
        };
        for e in &errors {
            tracing::warn!(sso_configuration_id = config.id.0, code = %e.code, message = %e.message, "SSO metadata refresh failed");
        }
        if updated {
            report.updated += 1;
        }
        if !errors.is_empty() {
            report.failed += 1;
        }
    }
    Ok(report)
}

fn record(settings: &mut Value, errors: &[SsoWarning]) {
    if !settings.is_object() {
        *settings = json!({});
    }
    settings["refresh"] = json!({
        "at": crate::db::now(),
        "status": if errors.is_empty() { "ok" } else { "failed" },
        "errors": errors,
    });
}

async fn refresh_saml(state: &AppState, config: &ConfigRow) -> AppResult<(bool, Vec<SsoWarning>)> {
    let Some(url) = config.metadata_url.clone() else { return Ok((false, Vec::new())) };
    let mut settings = config.settings.clone();
    let id = config.id;
    match saml::refreshed_settings(state, config, &url).await {
        Ok(s) => {
            if !settings.is_object() {
                settings = json!({});
            }
            settings["saml"]["idp_metadata_xml"] = json!(s.idp_metadata_xml);
            record(&mut settings, &[]);
            let certificates = json!(s.idp_certificates).to_string();
            let text = settings.to_string();
            state
                .db
                .write(move |tx| {
                    Ok(store::set_saml_idp(
                        tx,
                        id,
                        s.idp_entity_id.as_deref(),
                        s.idp_sso_url.as_deref(),
                        &certificates,
                        &text,
                    )?)
                })
                .await?;
            Ok((true, Vec::new()))
        }
        Err(message) => {
            let errors = vec![problem("metadata_refresh_failed", "saml.idp_metadata_url", message)];
            record(&mut settings, &errors);
            let text = settings.to_string();
            state.db.write(move |tx| Ok(store::set_settings(tx, id, &text)?)).await?;
            Ok((false, errors))
        }
    }
}

async fn refresh_oidc(state: &AppState, config: &ConfigRow) -> AppResult<(bool, Vec<SsoWarning>)> {
    let Some(issuer) = config.issuer_url.clone() else { return Ok((false, Vec::new())) };
    let mut errors = Vec::new();
    let mut jwks_url = config.jwks_url.clone();
    let mut endpoints = None;
    // The document must still name the configured issuer (checked by `discover`).
    match oidc::discover(&state.outbound, &issuer).await {
        Ok(found) => {
            jwks_url = Some(found.jwks_uri.clone());
            endpoints = Some(found);
        }
        Err(r) => {
            errors.push(problem("discovery_refresh_failed", "issuer_url", format!("{}: {}", r.reason, r.message)));
        }
    }
    if let Some(url) = jwks_url.as_deref()
        && let Err(r) = state.sso.refresh(&state.outbound, config.id.0, url).await
    {
        errors.push(problem("jwks_refresh_failed", "jwks_url", format!("{}: {}", r.reason, r.message)));
    }
    let mut settings = config.settings.clone();
    record(&mut settings, &errors);
    let text = settings.to_string();
    let id = config.id;
    let updated = endpoints.is_some();
    state
        .db
        .write(move |tx| {
            if let Some(d) = &endpoints {
                store::set_oidc_endpoints(
                    tx,
                    id,
                    [
                        Some(d.authorization_endpoint.as_str()),
                        Some(d.token_endpoint.as_str()),
                        d.userinfo_endpoint.as_deref(),
                        Some(d.jwks_uri.as_str()),
                    ],
                )?;
            }
            Ok(store::set_settings(tx, id, &text)?)
        })
        .await?;
    Ok((updated, errors))
}
