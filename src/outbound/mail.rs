//! Outbound email over SMTP (lettre, rustls). The server comes from the
//! `[smtp]` configuration; nothing is sent when it is not configured.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpConfig, SmtpTls};

/// Why a message was not delivered to the SMTP server.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("SMTP is not configured (set smtp.host)")]
    NotConfigured,
    /// The server refused the message for good (5xx): retrying will not help.
    #[error("the SMTP server refused the message: {0}")]
    Rejected(String),
    /// A network problem or a temporary refusal (4xx): worth retrying.
    #[error("SMTP delivery failed: {0}")]
    Transient(String),
}

/// The SMTP client; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl Mailer {
    /// Builds the transport from the configuration (no connection is made yet).
    pub fn new(config: &SmtpConfig) -> anyhow::Result<Mailer> {
        let from: Mailbox = config.from.parse().map_err(|e| anyhow::anyhow!("smtp.from: {e}"))?;
        let Some(host) = config.host.as_deref() else {
            return Ok(Mailer { transport: None, from });
        };
        let mut builder = match config.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        }
        .port(config.port)
        .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Mailer { transport: Some(builder.build()), from })
    }

    /// The configured default sender.
    #[must_use]
    pub fn default_from(&self) -> &Mailbox {
        &self.from
    }

    /// Whether an SMTP server is configured.
    #[must_use]
    pub fn is_configured(&self) -> bool {
        self.transport.is_some()
    }

    /// Opens a connection to the SMTP server and says NOOP (EHLO, STARTTLS
    /// and login as configured on the way).
    pub async fn test_connection(&self) -> Result<(), MailError> {
        let transport = self.transport.as_ref().ok_or(MailError::NotConfigured)?;
        match transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Transient("the SMTP server did not answer NOOP".into())),
            Err(e) if e.is_permanent() => Err(MailError::Rejected(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }

    /// Hands one message to the SMTP server.
    pub async fn send(&self, message: Message) -> Result<(), MailError> {
        let transport = self.transport.as_ref().ok_or(MailError::NotConfigured)?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(MailError::Rejected(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }
}
