//! The provider calls: one cheap authenticated request per type for
//! test-connection, and the OAuth 2.0 endpoints (authorize URL, token
//! grant, refresh). Every request goes through `state.outbound` (the SSRF
//! guard applies) to a base URL from `integrations.*` in the configuration.
//! What is logged of a call never holds a secret: the URL without its query
//! and the response with secret-looking fields removed.

use std::collections::BTreeMap;
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::config::IntegrationsConfig;
use crate::outbound::Fetched;

/// Largest provider answer read.
const MAX_BODY: usize = 256 * 1024;
/// Longest response excerpt kept in a log row.
const EXCERPT_CHARS: usize = 2000;

/// What a provider call came to.
#[derive(Debug)]
pub enum Outcome {
    /// Accepted; what it said about the account (secrets removed).
    Ok(Value),
    /// The provider refused the credentials (or the request): its words.
    Rejected(String),
    /// Not reachable, timed out, rate-limited or a server error.
    Unavailable(String),
}

/// A finished call: the outcome and its log excerpts.
#[derive(Debug)]
pub struct Exchange {
    pub outcome: Outcome,
    pub request: Value,
    pub response: Value,
    pub duration_ms: i64,
    /// The parsed JSON answer (for the token grants), unredacted; never logged.
    pub body: Value,
}

/// A request to make.
pub struct Call {
    pub method: Method,
    pub url: String,
    pub bearer: Option<String>,
    pub headers: Vec<(String, String)>,
    pub form: Option<Vec<(String, String)>>,
}

impl Call {
    fn get(url: String) -> Call {
        Call { method: Method::GET, url, bearer: None, headers: Vec::new(), form: None }
    }
}

/// Whether a JSON key names something secret.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["token", "secret", "password", "api_key", "apikey", "authorization", "verifier"].iter().any(|s| k.contains(s))
        || k == "code"
}

/// `v` with every secret-looking field replaced by `"[redacted]"`.
#[must_use]
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if secret_key(k) && !v.is_null() { json!("[redacted]") } else { redact(v) };
                    (k.clone(), v)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// The URL without query string or fragment (queries may carry secrets: Meta's token grant does).
fn url_for_log(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => raw.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

fn excerpt(status: u16, body: &Value, raw: &[u8]) -> Value {
    let shown = if body.is_null() {
        let text = String::from_utf8_lossy(raw);
        Value::String(text.chars().take(EXCERPT_CHARS).collect())
    } else {
        let red = redact(body);
        let text = red.to_string();
        if text.chars().count() > EXCERPT_CHARS {
            json!({ "truncated": true, "excerpt": text.chars().take(EXCERPT_CHARS).collect::<String>() })
        } else {
            red
        }
    };
    json!({ "status": status, "body": shown })
}

/// The provider's own words from an error answer.
#[must_use]
pub fn provider_message(status: u16, body: &Value, raw: &[u8]) -> String {
    let pick = |v: &Value| -> Option<String> {
        match v {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_owned),
            Value::Array(a) => a.first().and_then(|f| {
                f.get("message").and_then(Value::as_str).map(str::to_owned).or_else(|| f.as_str().map(str::to_owned))
            }),
            _ => None,
        }
    };
    let from_json = ["error_description", "error", "message", "errors", "description"]
        .iter()
        .find_map(|k| body.get(k).and_then(pick))
        .or_else(|| pick(body));
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(raw).trim().chars().take(300).collect());
    if text.is_empty() { format!("HTTP {status}") } else { text }
}

/// Sends a call and classifies the HTTP answer generically: 2xx → `Ok`
/// (the body, redacted), 408/429/5xx → `Unavailable`, other statuses → `Rejected`.
pub async fn send(state: &AppState, call: Call) -> Exchange {
    let request = json!({ "method": call.method.as_str(), "url": url_for_log(&call.url) });
    let started = Instant::now();
    let fetched = match state.outbound.request(call.method.clone(), &call.url) {
        Ok(mut builder) => {
            if let Some(token) = &call.bearer {
                builder = builder.bearer_auth(token);
            }
            for (k, v) in &call.headers {
                builder = builder.header(k.as_str(), v.as_str());
            }
            if let Some(form) = &call.form {
                builder = builder.form(form);
            }
            builder = builder.header("accept", "application/json");
            state.outbound.send_limited(builder, Some(MAX_BODY)).await
        }
        Err(e) => Err(e),
    };
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    match fetched {
        Ok(Fetched { status, body: raw, .. }) => {
            let code = status.as_u16();
            let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
            let response = excerpt(code, &body, &raw);
            let outcome = if status.is_success() {
                Outcome::Ok(redact(&body))
            } else if code == 408 || code == 429 || status.is_server_error() {
                Outcome::Unavailable(format!("HTTP {code}: {}", provider_message(code, &body, &raw)))
            } else {
                Outcome::Rejected(provider_message(code, &body, &raw))
            };
            Exchange { outcome, request, response, duration_ms, body }
        }
        Err(e) => {
            let why = e.to_string();
            Exchange {
                outcome: Outcome::Unavailable(why.clone()),
                request,
                response: json!({ "error": why }),
                duration_ms,
                body: Value::Null,
            }
        }
    }
}

fn template(base: &str, key: &str, value: &str) -> String {
    base.replace(key, value).trim_end_matches('/').to_owned()
}

/// What test-connection needs of an integration.
pub struct Target<'a> {
    pub kind: &'a str,
    pub config: &'a BTreeMap<String, String>,
    /// The token (or API key/secret) to authenticate with.
    pub token: &'a str,
}

/// The test-connection request of a type.
fn test_call(cfg: &IntegrationsConfig, t: &Target<'_>) -> Call {
    let conf = |k: &str| t.config.get(k).cloned().unwrap_or_default();
    let bearer = |url: String| Call { bearer: Some(t.token.to_owned()), ..Call::get(url) };
    match t.kind {
        "slack" => Call {
            method: Method::POST,
            form: Some(Vec::new()),
            ..bearer(format!("{}/api/auth.test", cfg.slack_api_base.trim_end_matches('/')))
        },
        "hubspot" => bearer(format!("{}/account-info/v3/details", cfg.hubspot_api_base.trim_end_matches('/'))),
        "gmail" => bearer(format!("{}/gmail/v1/users/me/profile", cfg.google_api_base.trim_end_matches('/'))),
        "google_calendar" => bearer(format!(
            "{}/calendar/v3/users/me/calendarList?maxResults=1",
            cfg.google_api_base.trim_end_matches('/')
        )),
        "meta" => bearer(format!("{}/me?fields=id,name", cfg.meta_api_base.trim_end_matches('/'))),
        "zendesk" => {
            let basic = STANDARD.encode(format!("{}/token:{}", conf("email"), t.token));
            Call {
                headers: vec![("authorization".into(), format!("Basic {basic}"))],
                ..Call::get(format!(
                    "{}/api/v2/users/me.json",
                    template(&cfg.zendesk_api_base, "{subdomain}", &conf("subdomain"))
                ))
            }
        }
        "shopify" => Call {
            headers: vec![("x-shopify-access-token".into(), t.token.to_owned())],
            ..Call::get(format!(
                "{}/admin/api/2024-07/shop.json",
                template(&cfg.shopify_api_base, "{shop}", &conf("shop"))
            ))
        },
        "salesforce" => bearer(format!("{}/services/oauth2/userinfo", conf("instance_url").trim_end_matches('/'))),
        _ => {
            let header = conf("header_name");
            if header.is_empty() {
                bearer(conf("url"))
            } else {
                Call { headers: vec![(header, t.token.to_owned())], ..Call::get(conf("url")) }
            }
        }
    }
}

/// Pulls the interesting account facts out of a successful answer.
fn account_of(kind: &str, body: &Value) -> Value {
    let pick = |v: &Value, keys: &[&str]| -> Value {
        Value::Object(keys.iter().filter_map(|k| v.get(*k).map(|x| ((*k).to_owned(), x.clone()))).collect())
    };
    match kind {
        "slack" => pick(body, &["team", "team_id", "user", "user_id", "url", "bot_id"]),
        "hubspot" => pick(body, &["portalId", "accountType", "timeZone", "companyCurrency", "uiDomain"]),
        "gmail" => pick(body, &["emailAddress", "messagesTotal"]),
        "google_calendar" => json!({ "calendars": body.get("items").and_then(Value::as_array).map_or(0, Vec::len) }),
        "meta" => pick(body, &["id", "name"]),
        "zendesk" => body.get("user").map_or(Value::Null, |u| pick(u, &["id", "name", "email", "role"])),
        "shopify" => body.get("shop").map_or(Value::Null, |s| pick(s, &["id", "name", "domain", "myshopify_domain"])),
        "salesforce" => pick(body, &["user_id", "organization_id", "preferred_username", "name"]),
        _ => Value::Null,
    }
}

/// Makes the type's test call and reads the answer the provider's way.
pub async fn test_connection(state: &AppState, t: &Target<'_>) -> Exchange {
    let call = test_call(&state.config.integrations, t);
    let mut ex = send(state, call).await;
    if let Outcome::Ok(body) = &ex.outcome {
        let body = body.clone();
        ex.outcome = match t.kind {
            // Slack answers 200 to everything; `ok` says whether it worked.
            "slack" if body.get("ok") != Some(&Value::Bool(true)) => Outcome::Rejected(
                body.get("error").and_then(Value::as_str).unwrap_or("Slack answered ok: false").to_owned(),
            ),
            // Zendesk answers an anonymous user (id null) to unknown credentials on some accounts.
            "zendesk" if body.pointer("/user/id").is_none_or(Value::is_null) => {
                Outcome::Rejected("Zendesk answered as an anonymous user: the email or API token is wrong".to_owned())
            }
            kind => Outcome::Ok(account_of(kind, &body)),
        };
    }
    ex
}

/// Whether the connect flow uses PKCE (S256) with this provider: Google
/// and Slack (`oauth.v2.access` takes `code_verifier`) document it; `HubSpot`
/// does not, and Meta's PKCE is its OIDC flow, still "in testing".
#[must_use]
pub fn uses_pkce(kind: &str) -> bool {
    matches!(kind, "gmail" | "google_calendar" | "slack")
}

/// The browser's authorization URL.
pub fn authorize_url(
    cfg: &IntegrationsConfig,
    kind: &str,
    client_id: &str,
    redirect_uri: &str,
    scopes: &[String],
    state: &str,
    challenge: Option<&str>,
) -> Result<String, url::ParseError> {
    let (base, scope, extra): (String, String, &[(&str, &str)]) = match kind {
        "slack" => (format!("{}/oauth/v2/authorize", cfg.slack_api_base.trim_end_matches('/')), scopes.join(","), &[]),
        "hubspot" => (cfg.hubspot_authorize_url.clone(), scopes.join(" "), &[]),
        "meta" => (cfg.meta_authorize_url.clone(), scopes.join(","), &[("response_type", "code")]),
        _ => (
            cfg.google_authorize_url.clone(),
            scopes.join(" "),
            &[
                ("response_type", "code"),
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
            ],
        ),
    };
    let mut url = reqwest::Url::parse(&base)?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", client_id).append_pair("redirect_uri", redirect_uri).append_pair("state", state);
        if !scope.is_empty() {
            q.append_pair("scope", &scope);
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
        if let Some(c) = challenge {
            q.append_pair("code_challenge", c).append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url.to_string())
}

/// A grant at the token endpoint.
pub enum Grant<'a> {
    Code { code: &'a str, redirect_uri: &'a str, verifier: Option<&'a str> },
    Refresh { refresh_token: &'a str },
}

/// What a token endpoint granted.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
    pub scopes: Option<Vec<String>>,
}

fn token_call(cfg: &IntegrationsConfig, kind: &str, client_id: &str, client_secret: &str, grant: &Grant<'_>) -> Call {
    let mut form: Vec<(String, String)> =
        vec![("client_id".into(), client_id.to_owned()), ("client_secret".into(), client_secret.to_owned())];
    match grant {
        Grant::Code { code, redirect_uri, verifier } => {
            form.push(("grant_type".into(), "authorization_code".into()));
            form.push(("code".into(), (*code).to_owned()));
            form.push(("redirect_uri".into(), (*redirect_uri).to_owned()));
            if let Some(v) = verifier {
                form.push(("code_verifier".into(), (*v).to_owned()));
            }
        }
        Grant::Refresh { refresh_token } => {
            form.push(("grant_type".into(), "refresh_token".into()));
            form.push(("refresh_token".into(), (*refresh_token).to_owned()));
        }
    }
    let url = match kind {
        "slack" => format!("{}/api/oauth.v2.access", cfg.slack_api_base.trim_end_matches('/')),
        "hubspot" => format!("{}/oauth/v1/token", cfg.hubspot_api_base.trim_end_matches('/')),
        "meta" => {
            // The Graph API takes the code exchange as a GET with query parameters.
            let mut url = format!("{}/oauth/access_token", cfg.meta_api_base.trim_end_matches('/'));
            let query: Vec<(String, String)> = form.into_iter().filter(|(k, _)| k != "grant_type").collect();
            if let Ok(mut u) = reqwest::Url::parse(&url) {
                u.query_pairs_mut().extend_pairs(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                url = u.to_string();
            }
            return Call::get(url);
        }
        _ => cfg.google_token_url.clone(),
    };
    Call { method: Method::POST, url, bearer: None, headers: Vec::new(), form: Some(form) }
}

fn scopes_of(kind: &str, body: &Value) -> Option<Vec<String>> {
    let raw = body.get("scope").and_then(Value::as_str)?;
    let sep: &[char] = if kind == "slack" || kind == "meta" { &[','] } else { &[' ', ','] };
    Some(raw.split(sep).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
}

fn tokens_of(kind: &str, body: &Value) -> Result<Tokens, String> {
    if kind == "slack" && body.get("ok") != Some(&Value::Bool(true)) {
        return Err(body.get("error").and_then(Value::as_str).unwrap_or("Slack answered ok: false").to_owned());
    }
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "the token endpoint answered no access_token".to_owned())?;
    Ok(Tokens {
        access_token: access_token.to_owned(),
        refresh_token: body.get("refresh_token").and_then(Value::as_str).map(str::to_owned),
        expires_in: body.get("expires_in").and_then(Value::as_i64),
        scopes: scopes_of(kind, body),
    })
}

/// Calls the token endpoint; `Err` carries the exchange with the provider's words.
pub async fn grant(
    state: &AppState,
    kind: &str,
    client_id: &str,
    client_secret: &str,
    grant: &Grant<'_>,
) -> (Exchange, Result<Tokens, String>) {
    let call = token_call(&state.config.integrations, kind, client_id, client_secret, grant);
    let ex = send(state, call).await;
    let result = match &ex.outcome {
        Outcome::Ok(_) => tokens_of(kind, &ex.body),
        Outcome::Rejected(why) | Outcome::Unavailable(why) => Err(why.clone()),
    };
    (ex, result)
}

/// Meta: the short-lived user token → a long-lived one (about 60 days).
pub async fn meta_long_lived(
    state: &AppState,
    client_id: &str,
    client_secret: &str,
    short: &str,
) -> (Exchange, Result<Tokens, String>) {
    let base = state.config.integrations.meta_api_base.trim_end_matches('/').to_owned();
    let mut url = format!("{base}/oauth/access_token");
    if let Ok(mut u) = reqwest::Url::parse(&url) {
        u.query_pairs_mut()
            .append_pair("grant_type", "fb_exchange_token")
            .append_pair("client_id", client_id)
            .append_pair("client_secret", client_secret)
            .append_pair("fb_exchange_token", short);
        url = u.to_string();
    }
    let ex = send(state, Call::get(url)).await;
    let result = match &ex.outcome {
        Outcome::Ok(_) => tokens_of("meta", &ex.body),
        Outcome::Rejected(why) | Outcome::Unavailable(why) => Err(why.clone()),
    };
    (ex, result)
}

/// Meta: the page access token of `page_id` among the user's pages
/// (from a long-lived user token it does not expire).
pub async fn meta_page_token(state: &AppState, user_token: &str, page_id: &str) -> (Exchange, Result<String, String>) {
    let base = state.config.integrations.meta_api_base.trim_end_matches('/').to_owned();
    let call = Call {
        bearer: Some(user_token.to_owned()),
        ..Call::get(format!("{base}/me/accounts?fields=id,name,access_token"))
    };
    let ex = send(state, call).await;
    let result = match &ex.outcome {
        Outcome::Ok(_) => ex
            .body
            .get("data")
            .and_then(Value::as_array)
            .and_then(|pages| pages.iter().find(|p| p.get("id").and_then(Value::as_str) == Some(page_id)))
            .and_then(|p| p.get("access_token").and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| format!("the user manages no page with id {page_id} (or granted no access to it)")),
        Outcome::Rejected(why) | Outcome::Unavailable(why) => Err(why.clone()),
    };
    (ex, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_secret_fields_at_any_depth() {
        let v = json!({"ok": true, "access_token": "xoxb-1", "team": {"name": "T", "bot_token": "b"},
                       "items": [{"client_secret": "s", "id": 1}], "code": "c", "expires_in": 3600});
        let r = redact(&v);
        let text = r.to_string();
        for secret in ["xoxb-1", "\"b\"", "\"s\"", "\"c\""] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(r["team"]["name"], "T");
        assert_eq!(r["expires_in"], 3600);
    }

    #[test]
    fn logged_urls_lose_query_and_userinfo() {
        assert_eq!(
            url_for_log("https://u:p@graph.example/oauth/access_token?client_secret=s&code=c"),
            "https://graph.example/oauth/access_token"
        );
    }

    #[test]
    fn provider_messages_are_found_in_the_usual_places() {
        assert_eq!(
            provider_message(401, &json!({"status": "error", "message": "Authentication credentials not found"}), b""),
            "Authentication credentials not found"
        );
        assert_eq!(
            provider_message(400, &json!({"error": {"message": "Invalid OAuth access token", "code": 190}}), b""),
            "Invalid OAuth access token"
        );
        assert_eq!(
            provider_message(401, &json!({"errors": "[API] Invalid API key or access token"}), b""),
            "[API] Invalid API key or access token"
        );
        assert_eq!(
            provider_message(400, &json!({"error": "invalid_grant", "error_description": "Bad Request"}), b""),
            "Bad Request"
        );
        assert_eq!(provider_message(503, &Value::Null, b""), "HTTP 503");
    }

    #[test]
    fn google_authorize_url_carries_pkce_and_offline_access() {
        let cfg = IntegrationsConfig::default();
        let url = authorize_url(
            &cfg,
            "gmail",
            "cid",
            "https://bb.example/oauth/callback",
            &["a".into(), "b".into()],
            "st",
            Some("ch"),
        )
        .expect("url");
        let u = reqwest::Url::parse(&url).expect("parse");
        let q: BTreeMap<String, String> = u.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], "ch");
        assert_eq!(q["access_type"], "offline");
        assert_eq!(q["scope"], "a b");
        assert_eq!(q["redirect_uri"], "https://bb.example/oauth/callback");
    }
}
