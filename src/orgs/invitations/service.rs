//! Invitation rules. An invitation names an email, an organization role no
//! stronger than the inviter's, and optionally a team; its token is random,
//! stored hashed, emailed with an accept link, valid 7 days and used once.
//! Accepting needs a signed-in account with that very email.

use serde_json::json;

use super::model::{
    AcceptedInvitation, CreateInvitationRequest, Invitation, InvitationPreview, InvitationTokenRequest, SentInvitation,
};
use super::store::{self, ByToken, NewInvitation};
use crate::accounts::Principal;
use crate::accounts::service::normalize_email;
use crate::admin::instance::Snapshot;
use crate::app::AppState;
use crate::crypto::{random_token, sha256};
use crate::db::{format_timestamp, now};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::ratelimit::Bucket;
use crate::http::{ClientInfo, Page, PageParams, Tenant};
use crate::ids::{InvitationId, UserId};
use crate::notify::{self, EmailKind, NewEmail};
use crate::orgs::audit::{self, AuditEntry};
use crate::orgs::service::check_grant;
use crate::orgs::{members, roles, teams, whitelabel};

/// How long an invitation can be accepted.
pub const VALID_DAYS: i64 = 7;
const STATUSES: [&str; 5] = ["pending", "accepted", "declined", "expired", "revoked"];

fn not_found() -> AppError {
    AppError::new(ErrorCode::InvitationNotFound, "no such invitation")
}

fn token_invalid() -> AppError {
    AppError::new(ErrorCode::TokenInvalid, "this invitation link is invalid, was already answered or was revoked")
        .with_details(json!({ "field": "token" }))
}

fn token_expired() -> AppError {
    AppError::new(ErrorCode::TokenExpired, "this invitation has expired; ask for a new one")
        .with_details(json!({ "field": "token" }))
}

pub async fn list(
    state: &AppState,
    tenant: Tenant,
    status: Option<String>,
    page: PageParams,
) -> AppResult<Page<Invitation>> {
    if let Some(s) = &status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(AppError::validation("status", "must be pending, accepted, declined, expired or revoked"));
    }
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, status.as_deref(), before, limit)?)).await?;
    Page::from_rows(rows, &page, |i| i.id.0)
}

/// Emails the invitation with the organization's branding when this
/// server can send email (else the inviter passes the returned link on).
fn send_email(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    email: &str,
    role: &str,
    token: &str,
    instance: &Snapshot,
) -> AppResult<String> {
    let link = format!("{}/invitations/accept?token={token}", instance.public_url);
    if !instance.smtp_configured {
        return Ok(link);
    }
    let org_name = store::org_name(tx, tenant)?;
    let inviter = match tenant.user_id() {
        Some(u) => tx
            .query_row("SELECT coalesce(nullif(name, ''), email) FROM users WHERE id = ?1", [u], |r| r.get(0))
            .unwrap_or_else(|_| "A colleague".to_owned()),
        None => "An administrator".to_owned(),
    };
    let branding = whitelabel::branding(tx, tenant)?;
    let content = notify::templates::invitation(&branding, &org_name, &inviter, role, &link);
    notify::queue_in(
        tx,
        &NewEmail { org_id: Some(tenant.org_id()), user_id: None, kind: EmailKind::Invitation, to: email, content },
    )?;
    Ok(link)
}

fn expiry() -> String {
    format_timestamp(chrono::Utc::now() + chrono::Duration::days(VALID_DAYS))
}

/// Invites someone by email.
pub async fn create(state: &AppState, tenant: Tenant, req: CreateInvitationRequest) -> AppResult<SentInvitation> {
    let email = normalize_email(&req.email)?;
    if req.team_id.is_none() && req.team_role_id.is_some() {
        return Err(AppError::validation("team_id", "is required with team_role_id"));
    }
    let instance = crate::admin::instance::snapshot(state).await?;
    let emailed = instance.smtp_configured;
    let sent = state
        .db
        .write(move |tx| {
            let role = roles::service::resolve(tx, &tenant, "role", &req.role)?;
            check_grant(&tenant, &role.permissions)?;
            let team_role = match req.team_id {
                Some(team) => {
                    if !teams::service::team_exists(tx, &tenant, team)? {
                        return Err(AppError::validation("team_id", "is not a team of this organization"));
                    }
                    let team_role = teams::service::team_role_for(tx, &tenant, "team_role_id", req.team_role_id)?;
                    check_grant(&tenant, &team_role.permissions)?;
                    Some(team_role)
                }
                None => None,
            };
            if members::store::find_by_email(tx, &tenant, &email)?.is_some() {
                return Err(AppError::new(ErrorCode::AlreadyMember, "this person is already a member"));
            }
            // No seat left: say so now rather than when the invitation is accepted.
            crate::billing::limits::check(tx, tenant.org_id(), crate::billing::limits::Limit::Seats, 1)?;
            if let Some(existing) = store::pending_for(tx, &tenant, &email)? {
                if existing.expires_at > now() {
                    return Err(AppError::new(
                        ErrorCode::InvitationPending,
                        "an invitation to this email is pending; resend or revoke it",
                    )
                    .with_details(json!({ "invitation_id": existing.id.0 })));
                }
                store::set_status(tx, &tenant, existing.id, "expired", None, &now())?;
            }
            let token = random_token(32);
            let id = store::insert(
                tx,
                &tenant,
                &NewInvitation {
                    email: &email,
                    role_id: role.id,
                    team_id: req.team_id,
                    team_role_id: team_role.as_ref().map(|r| r.id),
                    token_hash: &sha256(token.as_bytes()),
                    expires_at: &expiry(),
                },
            )?;
            let accept_url = send_email(tx, &tenant, &email, &role.name, &token, &instance)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "invitation.created", "invitation", id.0)
                    .with_new(json!({
                        "email": email, "role": role.name, "team_id": req.team_id.map(|t| t.0),
                        "team_role": team_role.map(|r| r.name),
                    }))
                    .activity(),
            )?;
            let invitation = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            Ok(SentInvitation { invitation, accept_url, emailed })
        })
        .await?;
    state.jobs.notify();
    Ok(sent)
}

/// Revokes a pending invitation.
pub async fn revoke(state: &AppState, tenant: Tenant, id: InvitationId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let inv = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            if inv.status != "pending" {
                return Err(AppError::new(ErrorCode::Conflict, format!("the invitation is already {}", inv.status)));
            }
            store::set_status(tx, &tenant, id, "revoked", None, &now())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "invitation.revoked", "invitation", id.0)
                    .with_old(json!({ "email": inv.email, "role": inv.role }))
                    .activity(),
            )
        })
        .await
}

/// Sends an invitation again with a new link and a fresh 7 days (also
/// re-invites after it expired, was declined or revoked).
pub async fn resend(state: &AppState, tenant: Tenant, id: InvitationId) -> AppResult<SentInvitation> {
    let instance = crate::admin::instance::snapshot(state).await?;
    let emailed = instance.smtp_configured;
    let sent = state
        .db
        .write(move |tx| {
            let inv = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            if inv.status == "accepted" {
                return Err(AppError::new(ErrorCode::Conflict, "the invitation was already accepted"));
            }
            // The role may have become stronger than the inviter since.
            let role = roles::service::find(tx, &tenant, inv.role_id)?;
            check_grant(&tenant, &role.permissions)?;
            if members::store::find_by_email(tx, &tenant, &inv.email)?.is_some() {
                return Err(AppError::new(ErrorCode::AlreadyMember, "this person is already a member"));
            }
            if let Some(other) = store::pending_for(tx, &tenant, &inv.email)?.filter(|o| o.id != id) {
                return Err(AppError::new(ErrorCode::InvitationPending, "another invitation to this email is pending")
                    .with_details(json!({ "invitation_id": other.id.0 })));
            }
            let token = random_token(32);
            store::renew(tx, &tenant, id, &sha256(token.as_bytes()), &expiry())?;
            let accept_url = send_email(tx, &tenant, &inv.email, &role.name, &token, &instance)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "invitation.resent", "invitation", id.0)
                    .with_old(json!({ "status": inv.status, "expires_at": inv.expires_at }))
                    .with_new(json!({ "email": inv.email, "role": role.name }))
                    .activity(),
            )?;
            let invitation = store::find(tx, &tenant, id)?.ok_or_else(not_found)?;
            Ok(SentInvitation { invitation, accept_url, emailed })
        })
        .await?;
    state.jobs.notify();
    Ok(sent)
}

/// The invitation of a token, checked to be pending and in time. An expired
/// one is marked so (the caller commits that and answers `token_expired`).
enum Lookup {
    Usable(Box<ByToken>),
    Expired,
}

fn lookup(tx: &rusqlite::Connection, raw: &str) -> AppResult<Lookup> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 200 {
        return Err(token_invalid());
    }
    let inv = store::find_by_token(tx, &sha256(raw.as_bytes()))?.ok_or_else(token_invalid)?;
    match inv.status.as_str() {
        "pending" if inv.expires_at > now() => Ok(Lookup::Usable(Box::new(inv))),
        "pending" => {
            let tenant = Tenant::system(inv.org_id, "expiring an invitation on use");
            store::set_status(tx, &tenant, inv.id, "expired", None, &now())?;
            audit::record(
                tx,
                &AuditEntry::system("invitation.expired", "invitation", Some(inv.id.0))
                    .in_org(inv.org_id)
                    .with_metadata(json!({ "email": inv.email })),
            )?;
            Ok(Lookup::Expired)
        }
        "expired" => Ok(Lookup::Expired),
        _ => Err(token_invalid()),
    }
}

/// What the invitation of a token offers (the token is the credential).
pub async fn preview(
    state: &AppState,
    req: InvitationTokenRequest,
    client: ClientInfo,
) -> AppResult<InvitationPreview> {
    state.limits.check(Bucket::Token, client.ip.as_deref(), None)?;
    let found = state.db.write(move |tx| lookup(tx, &req.token)).await?;
    match found {
        Lookup::Expired => Err(token_expired()),
        Lookup::Usable(inv) => Ok(InvitationPreview {
            organization_id: inv.org_id,
            organization_name: inv.org_name,
            email: inv.email,
            role: inv.role,
            team: inv.team,
            invited_by_name: inv.invited_by_name,
            expires_at: inv.expires_at,
        }),
    }
}

/// Accepts an invitation as the signed-in user, who must own its email.
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    req: InvitationTokenRequest,
    client: ClientInfo,
) -> AppResult<AcceptedInvitation> {
    state.limits.check(Bucket::Token, client.ip.as_deref(), Some(&format!("user:{}", principal.user_id.0)))?;
    let (user, email) = (principal.user_id, principal.email.clone());
    let outcome = state
        .db
        .write(move |tx| {
            let inv = match lookup(tx, &req.token)? {
                Lookup::Expired => return Ok(None),
                Lookup::Usable(inv) => inv,
            };
            accept_in(tx, *inv, user, &email, &client).map(Some)
        })
        .await?;
    outcome.ok_or_else(token_expired)
}

fn accept_in(
    tx: &rusqlite::Connection,
    inv: ByToken,
    user: UserId,
    email: &str,
    client: &ClientInfo,
) -> AppResult<AcceptedInvitation> {
    if inv.email != email {
        return Err(AppError::new(
            ErrorCode::InvitationEmailMismatch,
            format!("this invitation is for {}; sign in with that address to accept it", inv.email),
        ));
    }
    if inv.org_suspended {
        return Err(AppError::new(ErrorCode::AccountSuspended, "this organization is suspended"));
    }
    let tenant = Tenant::system(inv.org_id, "accepting an invitation");
    if members::store::find(tx, &tenant, user)?.is_some() {
        return Err(AppError::new(ErrorCode::AlreadyMember, "you are already a member of this organization"));
    }
    crate::billing::limits::check(tx, inv.org_id, crate::billing::limits::Limit::Seats, 1)?;
    crate::orgs::store::insert_member(tx, inv.org_id, user, inv.role_id, inv.invited_by)?;
    crate::billing::usage::refresh_seats(tx, inv.org_id)?;
    if let (Some(team), Some(team_role)) = (inv.team_id, inv.team_role_id) {
        teams::store::insert_member(tx, &tenant, team, user, team_role)?;
    }
    let n = now();
    store::set_status(tx, &tenant, inv.id, "accepted", Some(user), &n)?;
    // Following the emailed link proves the address.
    crate::accounts::store::mark_email_verified(tx, user, &n)?;
    audit::record(
        tx,
        &AuditEntry::by_user(user, "member.joined", "member", user.0)
            .in_org(inv.org_id)
            .with_new(json!({ "email": email, "role": inv.role, "team_id": inv.team_id.map(|t| t.0), "invitation_id": inv.id.0 }))
            .from(client)
            .activity(),
    )?;
    Ok(AcceptedInvitation {
        organization_id: inv.org_id,
        organization_name: inv.org_name,
        role: inv.role,
        team_id: inv.team_id,
    })
}

/// For a sign-up following an invitation link (inside its transaction):
/// the invitation of `token`, which must be pending, in time and for
/// `email`.
pub(crate) fn for_signup(tx: &rusqlite::Connection, token: &str, email: &str) -> AppResult<ByToken> {
    let field = json!({ "field": "invitation_token" });
    let found = lookup(tx, token).map_err(|e| {
        if e.code() == ErrorCode::TokenInvalid { token_invalid().with_details(field.clone()) } else { e }
    })?;
    let inv = match found {
        Lookup::Expired => return Err(token_expired().with_details(field)),
        Lookup::Usable(inv) => *inv,
    };
    if inv.email != email {
        return Err(AppError::new(
            ErrorCode::InvitationEmailMismatch,
            format!("this invitation is for {}; sign up with that address", inv.email),
        )
        .with_details(json!({ "field": "email" })));
    }
    if inv.org_suspended {
        return Err(AppError::new(ErrorCode::AccountSuspended, "this organization is suspended"));
    }
    Ok(inv)
}

/// Makes a just-created account a member of the inviting organization (and
/// team) — its only organization — and marks the invitation accepted.
pub(crate) fn join_on_signup(
    tx: &rusqlite::Connection,
    inv: ByToken,
    user: UserId,
    email: &str,
    client: &ClientInfo,
) -> AppResult<AcceptedInvitation> {
    accept_in(tx, inv, user, email, client)
}

/// Declines an invitation (the token is enough: no account needed).
pub async fn decline(state: &AppState, req: InvitationTokenRequest, client: ClientInfo) -> AppResult<()> {
    state.limits.check(Bucket::Token, client.ip.as_deref(), None)?;
    let declined = state
        .db
        .write(move |tx| {
            let inv = match lookup(tx, &req.token)? {
                Lookup::Expired => return Ok(false),
                Lookup::Usable(inv) => inv,
            };
            let tenant = Tenant::system(inv.org_id, "declining an invitation");
            store::set_status(tx, &tenant, inv.id, "declined", None, &now())?;
            audit::record(
                tx,
                &AuditEntry::system("invitation.declined", "invitation", Some(inv.id.0))
                    .in_org(inv.org_id)
                    .with_metadata(json!({ "email": inv.email }))
                    .from(&client)
                    .activity(),
            )?;
            Ok(true)
        })
        .await?;
    if declined { Ok(()) } else { Err(token_expired()) }
}
