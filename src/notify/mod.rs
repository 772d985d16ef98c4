//! The email queue (DESIGN §9, origin `email_notifications`, which was dead
//! there): a message is an `email_notifications` row plus an `email.send`
//! job inserted in the transaction that needs the email; the job hands it to
//! the SMTP server, retrying with backoff, and records the outcome.

pub mod templates;

use futures_util::future::BoxFuture;
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

pub use templates::{Branding, Rendered};

use crate::app::AppState;
use crate::db::now;
use crate::error::AppResult;
use crate::http::Tenant;
use crate::ids::{OrgId, UserId};
use crate::jobs::{Enqueue, JobContext, JobError, JobHandler, Queue};
use crate::outbound::mail::MailError;

/// The job kind that sends one queued email.
pub const SEND_EMAIL: &str = "email.send";

/// What an email is about (`email_notifications.email_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    VerifyEmail,
    PasswordReset,
    Invitation,
    Security,
    UsageAlert,
    Notification,
}

impl EmailKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EmailKind::VerifyEmail => "verify_email",
            EmailKind::PasswordReset => "password_reset",
            EmailKind::Invitation => "invitation",
            EmailKind::Security => "security",
            EmailKind::UsageAlert => "usage_alert",
            EmailKind::Notification => "notification",
        }
    }
}

/// An email to queue.
#[derive(Debug, Clone)]
pub struct NewEmail<'a> {
    /// The organization whose branding and sender apply, if any.
    pub org_id: Option<OrgId>,
    pub user_id: Option<UserId>,
    pub kind: EmailKind,
    pub to: &'a str,
    pub content: Rendered,
}

/// Queues an email inside the caller's transaction; call
/// `state.jobs.notify()` after the commit.
pub fn queue_in(conn: &Connection, email: &NewEmail<'_>) -> AppResult<i64> {
    let id: i64 = conn.query_row(
        "INSERT INTO email_notifications (organization_id, user_id, email_type, recipient_email, subject, body_text, body_html)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        params![
            email.org_id,
            email.user_id,
            email.kind.as_str(),
            email.to,
            email.content.subject,
            email.content.text,
            email.content.html
        ],
        |r| r.get(0),
    )?;
    let mut job = Enqueue::new(email.org_id, SEND_EMAIL, json!({ "email_id": id }));
    job.max_attempts = 8;
    job.priority = 10;
    job.idempotency_key = Some(format!("email:{id}"));
    Queue::enqueue_in(conn, &job)?;
    Ok(id)
}

/// A queued email as the sender needs it.
struct Outgoing {
    org_id: Option<OrgId>,
    to: String,
    subject: String,
    text: String,
    html: Option<String>,
}

fn claim(conn: &Connection, id: i64) -> rusqlite::Result<Option<Outgoing>> {
    conn.query_row(
        "UPDATE email_notifications SET status = 'sending', attempts = attempts + 1
         WHERE id = ?1 AND status IN ('pending', 'sending')
         RETURNING organization_id, recipient_email, subject, body_text, body_html",
        [id],
        |r| Ok(Outgoing { org_id: r.get(0)?, to: r.get(1)?, subject: r.get(2)?, text: r.get(3)?, html: r.get(4)? }),
    )
    .optional()
}

fn settle(conn: &Connection, id: i64, status: &str, error: Option<&str>) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE email_notifications SET status = ?2, last_error = ?3,
                sent_at = CASE WHEN ?2 = 'sent' THEN ?4 ELSE sent_at END
         WHERE id = ?1",
        params![id, status, error, now()],
    )?;
    Ok(())
}

/// The sender of an organization's emails: its white-label address and name
/// when set, else the configured default.
fn sender(default: &Mailbox, branding: &Branding) -> Mailbox {
    let address =
        branding.from_address.as_deref().and_then(|a| a.parse().ok()).unwrap_or_else(|| default.email.clone());
    let name = branding.from_name.clone().or_else(|| default.name.clone());
    Mailbox::new(name, address)
}

fn build_message(from: Mailbox, reply_to: Option<&str>, email: &Outgoing) -> Result<Message, JobError> {
    let to: Mailbox = email.to.parse().map_err(|e| JobError::Permanent(format!("bad recipient: {e}")))?;
    let mut builder = Message::builder().from(from).to(to).subject(email.subject.clone());
    if let Some(reply) = reply_to.and_then(|r| r.parse::<Mailbox>().ok()) {
        builder = builder.reply_to(reply);
    }
    let built = match &email.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(email.text.clone(), html.clone())),
        None => builder.header(ContentType::TEXT_PLAIN).body(email.text.clone()),
    };
    built.map_err(|e| JobError::Permanent(format!("cannot build the message: {e}")))
}

/// The `email.send` job.
pub struct SendEmail;

impl JobHandler for SendEmail {
    fn run(&self, ctx: JobContext) -> BoxFuture<'static, Result<Value, JobError>> {
        Box::pin(send(ctx))
    }
}

async fn send(ctx: JobContext) -> Result<Value, JobError> {
    let id = ctx
        .job
        .payload
        .get("email_id")
        .and_then(Value::as_i64)
        .ok_or_else(|| JobError::Permanent("payload lacks email_id".into()))?;
    let state: AppState = ctx.state.clone();
    let claimed = state
        .db
        .write(move |tx| {
            let Some(email) = claim(tx, id)? else { return Ok(None) };
            let branding = match email.org_id {
                Some(org) => crate::orgs::whitelabel::branding(tx, &Tenant::system(org, "email branding"))?,
                None => Branding::default(),
            };
            Ok(Some((email, branding)))
        })
        .await?;
    let Some((email, branding)) = claimed else {
        return Ok(json!({ "email_id": id, "skipped": "already sent or gone" }));
    };
    // The SMTP server set in the console's instance settings, else the
    // configuration file's: read per email so a change applies at once.
    let mailer = crate::admin::instance::mailer(&state).await?;
    let message = build_message(sender(mailer.default_from(), &branding), branding.support_email.as_deref(), &email)?;
    let last_attempt = ctx.job.attempts >= ctx.job.max_attempts;
    let outcome = mailer.send(message).await;
    let (status, error, result) = match outcome {
        Ok(()) => ("sent", None, Ok(json!({ "email_id": id, "sent": true }))),
        Err(e @ (MailError::NotConfigured | MailError::Rejected(_))) => {
            ("failed", Some(e.to_string()), Err(JobError::Permanent(e.to_string())))
        }
        Err(e @ MailError::Transient(_)) => {
            let status = if last_attempt { "failed" } else { "pending" };
            (status, Some(e.to_string()), Err(JobError::Retry(anyhow::anyhow!(e.to_string()))))
        }
    };
    let error_text = error.clone();
    state.db.write(move |tx| Ok(settle(tx, id, status, error_text.as_deref())?)).await?;
    if let Some(e) = &error {
        tracing::warn!(email_id = id, error = %e, "email not sent");
    }
    result
}
