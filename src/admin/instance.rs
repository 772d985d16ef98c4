//! Instance settings, kept in the `settings` key/value table and changed by
//! superadmins in the console: the sign-up policy, the public URL used in
//! email links, and an SMTP server.
//!
//! Precedence: a value set in the console wins; otherwise the configuration
//! file (`http.public_url`, `[smtp]`) applies, which stays the default. The
//! SMTP server is taken as a whole — the console's (host, port, TLS, user,
//! password, sender) when it has one, else the file's — so credentials of
//! one server are never sent to another.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use lettre::Message;
use lettre::message::{Mailbox, header::ContentType};
use rusqlite::{Connection, OptionalExtension, params};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::model::{InstanceInfo, InstanceSettings, SmtpInput, SmtpView, TestEmailResult, UpdateInstanceSettings};
use super::scope::Admin;
use super::store;
use crate::app::AppState;
use crate::config::{Config, SmtpConfig, SmtpTls};
use crate::crypto::Keys;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::outbound::mail::Mailer;

const POLICY_KEY: &str = "instance.signup_policy";
const PUBLIC_URL_KEY: &str = "instance.public_url";
const SMTP_KEY: &str = "instance.smtp";
/// Associated data of the sealed SMTP password: a sealed value copied to
/// another setting does not decrypt there.
const SMTP_PASSWORD_CONTEXT: &str = "settings:instance.smtp.password";

/// Who may sign up. `open` is the default: a fresh instance on a laptop
/// must let its first users in without any setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SignupPolicy {
    /// Anyone may create an account (with a personal organization).
    #[default]
    Open,
    /// Only someone following a valid invitation link; the account joins the
    /// inviting organization and gets no personal one.
    InviteOnly,
    /// Nobody signs up; superadmins create accounts in the console.
    Closed,
}

impl SignupPolicy {
    fn parse(raw: &str) -> Option<SignupPolicy> {
        match raw {
            "open" => Some(SignupPolicy::Open),
            "invite_only" => Some(SignupPolicy::InviteOnly),
            "closed" => Some(SignupPolicy::Closed),
            _ => None,
        }
    }
}

/// The SMTP server as stored (the password sealed with the master key).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSmtp {
    host: String,
    port: u16,
    tls: SmtpTls,
    username: Option<String>,
    /// Base64 of `Keys::encrypt(password, SMTP_PASSWORD_CONTEXT)`.
    password_sealed: Option<String>,
    from: String,
}

fn read_key<T: DeserializeOwned>(conn: &Connection, key: &str) -> AppResult<Option<T>> {
    let raw: Option<String> =
        conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0)).optional()?;
    match raw {
        None => Ok(None),
        Some(text) => serde_json::from_str::<Option<T>>(&text)
            .map_err(|e| AppError::internal(anyhow::anyhow!("setting {key} is unreadable: {e}"))),
    }
}

fn write_key(conn: &Connection, key: &str, value: Option<&Value>) -> AppResult<()> {
    match value {
        Some(v) => conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value,
                 updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')",
            params![key, v.to_string()],
        )?,
        None => conn.execute("DELETE FROM settings WHERE key = ?1", [key])?,
    };
    Ok(())
}

/// The sign-up policy in force.
pub fn signup_policy(conn: &Connection) -> AppResult<SignupPolicy> {
    Ok(read_key::<SignupPolicy>(conn, POLICY_KEY)?.unwrap_or_default())
}

/// The public URL in force (no trailing slash): the console's, else the
/// configuration's.
pub fn public_url(conn: &Connection, config: &Config) -> AppResult<String> {
    Ok(read_key::<String>(conn, PUBLIC_URL_KEY)?.unwrap_or_else(|| config.public_url()))
}

fn stored_smtp(conn: &Connection) -> AppResult<Option<StoredSmtp>> {
    read_key(conn, SMTP_KEY)
}

/// Where the SMTP server in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSource {
    Console,
    ConfigFile,
    None,
}

fn unseal(keys: &Keys, sealed: &str) -> AppResult<String> {
    let unreadable = || {
        AppError::new(
            ErrorCode::SecretUnreadable,
            "the SMTP password stored in the instance settings cannot be decrypted with this server's key; set it again",
        )
        .with_details(json!({ "field": "smtp.password" }))
    };
    let bytes = B64.decode(sealed).map_err(|_| unreadable())?;
    let plain = keys.decrypt(&bytes, SMTP_PASSWORD_CONTEXT).map_err(|_| unreadable())?;
    String::from_utf8(plain).map_err(|_| unreadable())
}

/// For a re-key: removes the console's SMTP password when `keys` cannot
/// decrypt it (its user name stays, so the console asks only for the
/// password). Returns whether it did.
pub fn clear_unreadable_smtp_password(conn: &Connection, keys: &Keys) -> AppResult<bool> {
    let Some(mut smtp) = stored_smtp(conn)? else { return Ok(false) };
    match smtp.password_sealed.as_deref().map(|sealed| unseal(keys, sealed)) {
        Some(Err(_)) => {
            smtp.password_sealed = None;
            let value = serde_json::to_value(&smtp).map_err(AppError::internal)?;
            write_key(conn, SMTP_KEY, Some(&value))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The SMTP configuration in force and where it comes from.
pub fn effective_smtp(conn: &Connection, config: &Config, keys: &Keys) -> AppResult<(SmtpConfig, SmtpSource)> {
    if let Some(s) = stored_smtp(conn)? {
        let password = s.password_sealed.as_deref().map(|p| unseal(keys, p)).transpose()?;
        let smtp = SmtpConfig {
            host: Some(s.host),
            port: s.port,
            tls: s.tls,
            username: s.username,
            password,
            from: s.from,
            timeout_secs: config.smtp.timeout_secs,
        };
        return Ok((smtp, SmtpSource::Console));
    }
    let source = if config.smtp.host.is_some() { SmtpSource::ConfigFile } else { SmtpSource::None };
    Ok((config.smtp.clone(), source))
}

/// Whether email can be sent at all (an SMTP host from either source).
pub fn smtp_configured(conn: &Connection, config: &Config) -> AppResult<bool> {
    Ok(config.smtp.host.is_some() || stored_smtp(conn)?.is_some())
}

/// What the sign-up and invitation paths need to know, read at once.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub public_url: String,
    pub smtp_configured: bool,
}

/// Reads the [`Snapshot`] of the instance settings.
pub async fn snapshot(state: &AppState) -> AppResult<Snapshot> {
    let config = state.config.clone();
    state
        .db
        .read(move |c| {
            Ok(Snapshot { public_url: public_url(c, &config)?, smtp_configured: smtp_configured(c, &config)? })
        })
        .await
}

/// The public URL in force, for links and addresses handed out (email links,
/// channel webhook URLs, the widget's embed code).
pub async fn public_url_in_force(state: &AppState) -> AppResult<String> {
    let config = state.config.clone();
    state.db.read(move |c| public_url(c, &config)).await
}

/// The mail client in force: the one built at start-up from the
/// configuration file, or one for the console's SMTP server (building it
/// connects to nothing).
pub async fn mailer(state: &AppState) -> AppResult<Mailer> {
    let (config, keys) = (state.config.clone(), state.keys.clone());
    let (smtp, source) = state.db.read(move |c| effective_smtp(c, &config, &keys)).await?;
    match source {
        SmtpSource::Console => Mailer::new(&smtp).map_err(AppError::internal),
        SmtpSource::ConfigFile | SmtpSource::None => Ok(state.mailer.clone()),
    }
}

/// `GET /instance`: what the sign-up page needs, without secrets.
pub async fn info(state: &AppState) -> AppResult<InstanceInfo> {
    let config = state.config.clone();
    state
        .db
        .read(move |c| {
            let any_user: bool = c.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?;
            Ok(InstanceInfo {
                first_run: !any_user,
                signup_policy: signup_policy(c)?,
                smtp_configured: smtp_configured(c, &config)?,
                public_url: public_url(c, &config)?,
                billing_enabled: config.billing.enabled,
            })
        })
        .await
}

fn view_of_config(smtp: &SmtpConfig) -> Option<SmtpView> {
    smtp.host.as_ref().map(|host| SmtpView {
        host: host.clone(),
        port: smtp.port,
        tls: smtp.tls,
        username: smtp.username.clone(),
        password_set: smtp.password.is_some(),
        from: smtp.from.clone(),
    })
}

fn settings_of(conn: &Connection, config: &Config) -> AppResult<InstanceSettings> {
    let stored = stored_smtp(conn)?;
    let smtp_source = match (&stored, &config.smtp.host) {
        (Some(_), _) => SmtpSource::Console,
        (None, Some(_)) => SmtpSource::ConfigFile,
        (None, None) => SmtpSource::None,
    };
    Ok(InstanceSettings {
        signup_policy: signup_policy(conn)?,
        public_url: read_key::<String>(conn, PUBLIC_URL_KEY)?,
        public_url_config_file: config.http.public_url.clone(),
        public_url_effective: public_url(conn, config)?,
        smtp: stored.map(|s| SmtpView {
            host: s.host,
            port: s.port,
            tls: s.tls,
            username: s.username,
            password_set: s.password_sealed.is_some(),
            from: s.from,
        }),
        smtp_config_file: view_of_config(&config.smtp),
        smtp_source,
    })
}

/// The instance settings as the console shows them (never a password).
pub async fn settings(state: &AppState, _admin: Admin) -> AppResult<InstanceSettings> {
    let config = state.config.clone();
    state.db.read(move |c| settings_of(c, &config)).await
}

/// Checks a public URL: absolute http(s), a host, no credentials, query or
/// fragment; stored without a trailing slash.
fn check_public_url(raw: &str) -> AppResult<String> {
    let field = "public_url";
    let trimmed = raw.trim().trim_end_matches('/');
    if trimmed.chars().count() > 2000 {
        return Err(AppError::validation(field, "must be at most 2000 characters"));
    }
    let url = url::Url::parse(trimmed)
        .map_err(|_| AppError::validation(field, "must be an absolute URL like https://bots.example.com"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(AppError::validation(field, "must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(AppError::validation(field, "must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(AppError::validation(field, "must not carry a user name, password, query or fragment"));
    }
    Ok(trimmed.to_owned())
}

fn check_host(raw: &str) -> AppResult<String> {
    let host = raw.trim();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if ok { Ok(host.to_owned()) } else { Err(AppError::validation("smtp.host", "must be a host name or IP address")) }
}

/// Validates the SMTP input against what is stored; `keys` seals a new
/// password. Field paths are `smtp.<field>`.
fn check_smtp(input: SmtpInput, previous: Option<&StoredSmtp>, keys: &Keys) -> AppResult<(StoredSmtp, bool)> {
    let host = check_host(&input.host)?;
    let port = match input.port {
        None => 587,
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| AppError::validation("smtp.port", "must be between 1 and 65535"))?,
    };
    let tls = match input.tls.as_deref().map(str::trim) {
        None | Some("starttls") => SmtpTls::Starttls,
        Some("tls") => SmtpTls::Tls,
        Some("none") => SmtpTls::None,
        Some(_) => return Err(AppError::validation("smtp.tls", "must be starttls, tls or none")),
    };
    let from = input.from.as_deref().map_or("botbuilder <no-reply@localhost>", str::trim).to_owned();
    if from.parse::<Mailbox>().is_err() {
        return Err(AppError::validation("smtp.from", "must be an address like `Name <no-reply@example.com>`"));
    }
    let username = input.username.map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    if username.as_ref().is_some_and(|u| u.chars().count() > 320) {
        return Err(AppError::validation("smtp.username", "must be at most 320 characters"));
    }
    let (password_sealed, changed) = match input.password {
        // Absent: the stored password stays.
        None => (previous.and_then(|p| p.password_sealed.clone()), false),
        Some(None) => (None, true),
        Some(Some(p)) if p.is_empty() => (None, true),
        Some(Some(p)) => {
            if p.chars().count() > 1000 {
                return Err(AppError::validation("smtp.password", "must be at most 1000 characters"));
            }
            (Some(B64.encode(keys.encrypt(p.as_bytes(), SMTP_PASSWORD_CONTEXT))), true)
        }
    };
    if username.is_some() != password_sealed.is_some() {
        let field = if username.is_some() { "smtp.password" } else { "smtp.username" };
        return Err(AppError::validation(field, "set both the SMTP user name and password, or neither"));
    }
    Ok((StoredSmtp { host, port, tls, username, password_sealed, from }, changed))
}

/// Changes the instance settings; absent fields stay, `null` clears (back to
/// the configuration file). Audited in the admin audit log, without secrets.
pub async fn update(state: &AppState, admin: Admin, req: UpdateInstanceSettings) -> AppResult<InstanceSettings> {
    let policy = req
        .signup_policy
        .as_deref()
        .map(|p| {
            SignupPolicy::parse(p.trim())
                .ok_or_else(|| AppError::validation("signup_policy", "must be open, invite_only or closed"))
        })
        .transpose()?;
    let public_url = match req.public_url {
        None => None,
        Some(None) => Some(None),
        Some(Some(u)) if u.trim().is_empty() => Some(None),
        Some(Some(u)) => Some(Some(check_public_url(&u)?)),
    };
    let (config, keys) = (state.config.clone(), state.keys.clone());
    state
        .db
        .write(move |tx| {
            let before = settings_of(tx, &config)?;
            let mut changed = serde_json::Map::new();
            if let Some(p) = policy {
                write_key(tx, POLICY_KEY, Some(&json!(p)))?;
                changed.insert("signup_policy".into(), json!({ "from": before.signup_policy, "to": p }));
            }
            if let Some(url) = &public_url {
                write_key(tx, PUBLIC_URL_KEY, url.as_ref().map(|u| json!(u)).as_ref())?;
                changed.insert("public_url".into(), json!({ "from": before.public_url, "to": url }));
            }
            match req.smtp {
                None => {}
                Some(None) => {
                    write_key(tx, SMTP_KEY, None)?;
                    changed.insert("smtp".into(), json!({ "cleared": true }));
                }
                Some(Some(input)) => {
                    let previous = stored_smtp(tx)?;
                    let (smtp, password_changed) = check_smtp(input, previous.as_ref(), &keys)?;
                    changed.insert(
                        "smtp".into(),
                        json!({
                            "host": smtp.host, "port": smtp.port, "tls": smtp.tls, "username": smtp.username,
                            "from": smtp.from, "password_changed": password_changed,
                        }),
                    );
                    let value = serde_json::to_value(&smtp).map_err(AppError::internal)?;
                    write_key(tx, SMTP_KEY, Some(&value))?;
                }
            }
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.settings.updated",
                Some(("settings", 0)),
                &Value::Object(changed),
                &admin.client,
            )?;
            settings_of(tx, &config)
        })
        .await
}

/// Sends a test email through the SMTP server in force, right now (not
/// through the queue), and reports the server's answer.
pub async fn send_test_email(state: &AppState, admin: Admin, to: &str) -> AppResult<TestEmailResult> {
    let to = crate::accounts::service::normalize_email(to)
        .map_err(|_| AppError::validation("to", "must be an email address like name@example.com"))?;
    let (config, keys) = (state.config.clone(), state.keys.clone());
    let (smtp, source) = state.db.read(move |c| effective_smtp(c, &config, &keys)).await?;
    let Some(host) = smtp.host.clone() else {
        return Err(AppError::new(
            ErrorCode::SmtpNotConfigured,
            "no SMTP server is configured: fill in the SMTP settings (or smtp.host in the configuration file) first",
        ));
    };
    let mailer = Mailer::new(&smtp).map_err(|e| AppError::validation("smtp.host", e.to_string()))?;
    let recipient: Mailbox = to.parse().map_err(|_| AppError::validation("to", "is not a deliverable address"))?;
    let message = Message::builder()
        .from(mailer.default_from().clone())
        .to(recipient)
        .subject("Test email from botbuilder")
        .header(ContentType::TEXT_PLAIN)
        .body(format!(
            "This is a test email sent from the botbuilder admin console by {} through {host}:{}.\n\nIf you can read it, email works.\n",
            admin.email, smtp.port
        ))
        .map_err(AppError::internal)?;
    let outcome = mailer.send(message).await;
    let error = outcome.as_ref().err().map(ToString::to_string);
    let (t, h, err) = (to.clone(), host.clone(), error.clone());
    state
        .db
        .write(move |tx| {
            store::audit(
                tx,
                admin.user(),
                Some(&admin.email),
                "admin.settings.test_email",
                Some(("settings", 0)),
                &json!({ "to": t, "smtp_host": h, "source": source, "sent": err.is_none(), "error": err }),
                &admin.client,
            )?;
            Ok(())
        })
        .await?;
    match error {
        None => Ok(TestEmailResult { sent: true, to, smtp_host: host, source }),
        Some(e) => Err(AppError::new(ErrorCode::EmailDeliveryFailed, format!("the test email was not sent: {e}"))
            .with_details(json!({ "smtp_error": e, "smtp_host": host, "source": source }))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_absolute_http_urls() {
        assert_eq!(check_public_url(" https://bots.example.com/ ").expect("ok"), "https://bots.example.com");
        assert_eq!(check_public_url("http://10.0.0.5:8080/bb").expect("ok"), "http://10.0.0.5:8080/bb");
        for bad in ["bots.example.com", "ftp://x.io", "https://", "https://u:p@x.io", "https://x.io/?a=1", "/relative"]
        {
            let err = check_public_url(bad).expect_err(bad);
            assert_eq!(err.details().expect("details")["field"], "public_url", "{bad}");
        }
    }

    #[test]
    fn policies_parse() {
        assert_eq!(SignupPolicy::parse("invite_only"), Some(SignupPolicy::InviteOnly));
        assert_eq!(SignupPolicy::parse("Open"), None);
        assert_eq!(serde_json::to_value(SignupPolicy::Closed).expect("json"), json!("closed"));
    }
}
