//! The Twilio voice REST API (`{base}/2010-04-01/Accounts/{sid}/…`, base
//! `channels.twilio_api_base`, HTTP Basic `account_sid:auth_token`, form
//! bodies): `Calls.json` (outbound calls), `IncomingPhoneNumbers.json`
//! (inventory, buy, release), `AvailablePhoneNumbers/{country}/Local.json`
//! (search) and recording downloads. Every request goes through the
//! SSRF-guarded outbound client.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::error::{AppError, ErrorCode};

const TIMEOUT: Duration = Duration::from_secs(15);

/// An opened telephony account.
#[derive(Clone)]
pub struct Account {
    pub account_sid: String,
    pub auth_token: String,
}

impl Account {
    #[must_use]
    pub fn basic(&self) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{}", self.account_sid, self.auth_token)))
    }

    fn url(&self, state: &AppState, tail: &str) -> String {
        let base = state.config.channels.twilio_api_base.trim_end_matches('/');
        format!("{base}/2010-04-01/Accounts/{}{tail}", self.account_sid)
    }
}

/// A refused or failed provider call as the API's error.
fn refused(status: u16, body: &Value) -> AppError {
    let message = body.get("message").and_then(Value::as_str).unwrap_or("");
    let code = body.get("code").and_then(Value::as_i64);
    let description = match code {
        Some(c) if !message.is_empty() => format!("{message} (Twilio error {c})"),
        Some(c) => format!("Twilio error {c} (HTTP {status})"),
        None if !message.is_empty() => message.to_owned(),
        None => format!("the Twilio API answered HTTP {status}"),
    };
    let code = if status >= 500 || status == 429 {
        ErrorCode::VoiceProviderUnavailable
    } else {
        ErrorCode::VoiceProviderRejected
    };
    AppError::new(code, format!("Twilio refused the request: {description}"))
        .with_details(json!({ "provider_description": description, "provider_status": status }))
}

fn unreachable(why: &str) -> AppError {
    AppError::new(ErrorCode::VoiceProviderUnavailable, format!("the Twilio API could not be reached: {why}"))
        .with_details(json!({ "provider_description": why }))
}

/// One REST call; the JSON answer of a 2xx.
pub async fn call(
    state: &AppState,
    account: &Account,
    method: Method,
    tail: &str,
    form: Option<&[(&str, String)]>,
) -> Result<Value, AppError> {
    let url = account.url(state, tail);
    let request = state
        .outbound
        .request(method, &url)
        .map_err(|e| unreachable(&e.to_string()))?
        .timeout(TIMEOUT)
        .header("authorization", account.basic())
        .header("accept", "application/json");
    let request = match form {
        Some(f) => request.form(f),
        None => request,
    };
    let response = state.outbound.send(request).await.map_err(|e| unreachable(&e.to_string()))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if (200..300).contains(&status) { Ok(body) } else { Err(refused(status, &body)) }
}

/// Whether `s` is an E.164 number.
#[must_use]
pub fn is_e164(s: &str) -> bool {
    s.strip_prefix('+').is_some_and(|d| (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// Capabilities as stored (`{"voice", "sms"}`) from Twilio's (`voice`, `sms`/`SMS`).
#[must_use]
pub fn capabilities(raw: &Value) -> Value {
    let flag = |names: &[&str]| names.iter().any(|n| raw.get(*n).and_then(Value::as_bool).unwrap_or(false));
    json!({ "voice": flag(&["voice"]), "sms": flag(&["sms", "SMS"]) })
}
