//! Stripe-compatible subscriptions (issue 21): the API client, webhook
//! signatures, the event shapes billing reads, and their SQL.

pub mod client;
pub mod event;
pub mod signature;
pub mod store;

pub use client::Stripe;

use rusqlite::Connection;

use crate::error::AppResult;
use crate::ids::{OrgId, UserId};
use crate::notify::{EmailKind, NewEmail};

/// Queues a billing notice to each owner of the organization, in the
/// caller's transaction (call `state.jobs.notify()` after the commit).
/// Answers how many were queued.
pub fn email_owners(conn: &Connection, org: OrgId, subject: &str, paragraphs: &[String]) -> AppResult<usize> {
    let (name, owners) = store::owners(conn, org)?;
    let branding = crate::orgs::whitelabel::branding(conn, &crate::http::Tenant::system(org, "billing email"))?;
    let mut body = vec![format!("This is about the subscription of {name}.")];
    body.extend(paragraphs.iter().cloned());
    let content = crate::notify::templates::notice(&branding, format!("{name}: {subject}"), &body);
    for (user, email) in &owners {
        crate::notify::queue_in(
            conn,
            &NewEmail {
                org_id: Some(org),
                user_id: Some(UserId(*user)),
                kind: EmailKind::Notification,
                to: email,
                content: content.clone(),
            },
        )?;
    }
    Ok(owners.len())
}
