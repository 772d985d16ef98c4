//! SQL of SCIM tokens, provisioned users and groups.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{GroupRow, MemberRow, ScimToken, ScimTokenId, TokenGrant, UserFields, UserRow};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{RoleId, TeamId, UserId};

// ------------------------------------------------------------------ tokens

const TOKEN_SELECT: &str = "SELECT t.id, t.name, t.token_prefix, r.name AS role,
                                   coalesce(nullif(u.name, ''), u.email) AS created_by,
                                   t.last_used_at, t.rotated_at, t.revoked_at, t.created_at,
                                   CASE WHEN t.revoked_at IS NULL THEN 'active' ELSE 'revoked' END AS status
                            FROM scim_tokens t
                            JOIN roles r ON r.id = t.role_id
                            LEFT JOIN users u ON u.id = t.created_by";

pub fn list_tokens(
    conn: &Connection,
    tenant: &Tenant,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<ScimToken>> {
    query_all(
        conn,
        &format!(
            "{TOKEN_SELECT} WHERE t.organization_id = ?1 AND (?2 IS NULL OR t.id < ?2) ORDER BY t.id DESC LIMIT ?3"
        ),
        params![tenant.org_id(), before, limit],
    )
}

pub fn find_token(conn: &Connection, tenant: &Tenant, id: ScimTokenId) -> rusqlite::Result<Option<ScimToken>> {
    query_opt(conn, &format!("{TOKEN_SELECT} WHERE t.organization_id = ?1 AND t.id = ?2"), params![tenant.org_id(), id])
}

pub fn active_token_count(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM scim_tokens WHERE organization_id = ?1 AND revoked_at IS NULL",
        [tenant.org_id()],
        |r| r.get(0),
    )
}

pub fn insert_token(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    mac: &[u8],
    prefix: &str,
    role: RoleId,
) -> rusqlite::Result<ScimTokenId> {
    conn.query_row(
        "INSERT INTO scim_tokens (organization_id, name, token_hash, token_prefix, role_id, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), name, mac, prefix, role, tenant.user_id()],
        |r| r.get(0),
    )
}

/// Revokes a live token; false when it was already revoked.
pub fn revoke_token(conn: &Connection, tenant: &Tenant, id: ScimTokenId, now: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE scim_tokens SET revoked_at = ?3 WHERE organization_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        params![tenant.org_id(), id, now],
    )? == 1)
}

/// Gives a live token a new secret (the old one stops working); false when revoked.
pub fn rotate_token(
    conn: &Connection,
    tenant: &Tenant,
    id: ScimTokenId,
    mac: &[u8],
    prefix: &str,
    now: &str,
) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE scim_tokens SET token_hash = ?3, token_prefix = ?4, rotated_at = ?5, last_used_at = NULL
         WHERE organization_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        params![tenant.org_id(), id, mac, prefix, now],
    )? == 1)
}

/// The live token with this MAC (the bearer lookup: no tenant yet).
pub fn find_live_token(conn: &Connection, mac: &[u8]) -> rusqlite::Result<Option<TokenGrant>> {
    conn.prepare_cached(
        "SELECT t.id, t.organization_id, t.role_id, t.last_used_at, o.status = 'suspended'
         FROM scim_tokens t JOIN organizations o ON o.id = t.organization_id
         WHERE t.token_hash = ?1 AND t.revoked_at IS NULL",
    )?
    .query_row([mac], |r| {
        Ok(TokenGrant {
            id: r.get(0)?,
            org_id: r.get(1)?,
            role_id: r.get(2)?,
            last_used_at: r.get(3)?,
            org_suspended: r.get(4)?,
        })
    })
    .optional()
}

pub fn touch_token(conn: &Connection, id: ScimTokenId, now: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE scim_tokens SET last_used_at = ?2 WHERE id = ?1", params![id, now])?;
    Ok(())
}

// ------------------------------------------------------------------- users

const USER_SELECT: &str = "SELECT s.user_id, s.user_name, s.external_id, s.given_name, s.family_name, s.display_name,
                                  s.emails, s.extra, s.active, s.created_at, s.updated_at
                           FROM scim_users s";

pub fn list_users(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<UserRow>> {
    query_all(conn, &format!("{USER_SELECT} WHERE s.organization_id = ?1 ORDER BY s.user_id"), [tenant.org_id()])
}

pub fn find_user(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<Option<UserRow>> {
    query_opt(
        conn,
        &format!("{USER_SELECT} WHERE s.organization_id = ?1 AND s.user_id = ?2"),
        params![tenant.org_id(), user],
    )
}

/// Whether another provisioned user of the tenant has this userName (case-insensitively).
pub fn user_name_taken(
    conn: &Connection,
    tenant: &Tenant,
    user_name: &str,
    except: Option<UserId>,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM scim_users WHERE organization_id = ?1 AND user_name = ?2 COLLATE NOCASE
                        AND user_id IS NOT ?3)",
        params![tenant.org_id(), user_name, except],
        |r| r.get(0),
    )
}

pub fn insert_user(conn: &Connection, tenant: &Tenant, user: UserId, f: &UserFields) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO scim_users (organization_id, user_id, user_name, external_id, given_name, family_name, display_name,
                                 emails, extra, active)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            tenant.org_id(),
            user,
            f.user_name,
            f.external_id,
            f.given_name,
            f.family_name,
            f.display_name,
            f.emails,
            f.extra,
            f.active
        ],
    )?;
    Ok(())
}

pub fn update_user(conn: &Connection, tenant: &Tenant, user: UserId, f: &UserFields) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE scim_users SET user_name = ?3, external_id = ?4, given_name = ?5, family_name = ?6, display_name = ?7,
                               emails = ?8, extra = ?9, active = ?10
         WHERE organization_id = ?1 AND user_id = ?2",
        params![
            tenant.org_id(),
            user,
            f.user_name,
            f.external_id,
            f.given_name,
            f.family_name,
            f.display_name,
            f.emails,
            f.extra,
            f.active
        ],
    )?;
    Ok(())
}

pub fn delete_user(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM scim_users WHERE organization_id = ?1 AND user_id = ?2", params![tenant.org_id(), user])?;
    Ok(())
}

/// Suspends or reactivates a membership.
pub fn set_member_status(conn: &Connection, tenant: &Tenant, user: UserId, active: bool) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE organization_members SET status = CASE WHEN ?3 THEN 'active' ELSE 'suspended' END
         WHERE organization_id = ?1 AND user_id = ?2",
        params![tenant.org_id(), user, active],
    )?;
    Ok(())
}

/// Revokes the API tokens the user made for the tenant's organization.
pub fn revoke_api_tokens(conn: &Connection, tenant: &Tenant, user: UserId, now: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE api_tokens SET revoked_at = ?3 WHERE organization_id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
        params![tenant.org_id(), user, now],
    )
}

/// The user's memberships in other organizations than the tenant's.
pub fn other_memberships(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM organization_members WHERE user_id = ?2 AND organization_id <> ?1",
        params![tenant.org_id(), user],
        |r| r.get(0),
    )
}

/// Changes the email and name of an account SCIM created (`marker` is its
/// password hash) unless another account has the email.
pub fn set_account_identity(
    conn: &Connection,
    user: UserId,
    email: &str,
    name: &str,
    marker: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE users SET email = ?2, name = ?3
         WHERE id = ?1 AND password_hash = ?4 AND NOT EXISTS (SELECT 1 FROM users WHERE email = ?2 AND id <> ?1)",
        params![user, email, name, marker],
    )?;
    Ok(())
}

/// Deletes an account SCIM created that never got a password and belongs nowhere any more.
pub fn delete_orphan_account(conn: &Connection, user: UserId, marker: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM users WHERE id = ?1 AND password_hash = ?2
           AND NOT EXISTS (SELECT 1 FROM organization_members WHERE user_id = ?1)",
        params![user, marker],
    )? == 1)
}

// ------------------------------------------------------------------ groups

const GROUP_SELECT: &str = "SELECT t.id AS team_id, t.name, g.external_id, t.created_at, t.updated_at
                            FROM teams t LEFT JOIN scim_groups g ON g.team_id = t.id";

pub fn list_groups(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<GroupRow>> {
    query_all(conn, &format!("{GROUP_SELECT} WHERE t.organization_id = ?1 ORDER BY t.id"), [tenant.org_id()])
}

pub fn find_group(conn: &Connection, tenant: &Tenant, team: TeamId) -> rusqlite::Result<Option<GroupRow>> {
    query_opt(
        conn,
        &format!("{GROUP_SELECT} WHERE t.organization_id = ?1 AND t.id = ?2"),
        params![tenant.org_id(), team],
    )
}

/// Records the identity provider's externalId of a team (creating the SCIM link).
pub fn set_group_external_id(
    conn: &Connection,
    tenant: &Tenant,
    team: TeamId,
    external_id: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO scim_groups (organization_id, team_id, external_id) VALUES (?1, ?2, ?3)
         ON CONFLICT (team_id) DO UPDATE SET external_id = excluded.external_id
         WHERE scim_groups.external_id IS NOT excluded.external_id",
        params![tenant.org_id(), team, external_id],
    )?;
    Ok(())
}

/// Marks the team changed (SCIM `meta.lastModified`).
pub fn touch_team(conn: &Connection, tenant: &Tenant, team: TeamId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE teams SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), team],
    )?;
    Ok(())
}

const MEMBER_SELECT: &str = "SELECT tm.team_id, t.name AS team_name, tm.user_id,
                                    coalesce(s.user_name, nullif(u.name, ''), u.email) AS display
                             FROM team_members tm
                             JOIN teams t ON t.id = tm.team_id
                             JOIN users u ON u.id = tm.user_id
                             LEFT JOIN scim_users s ON s.organization_id = tm.organization_id AND s.user_id = tm.user_id";

/// Every team membership of the tenant.
pub fn all_members(conn: &Connection, tenant: &Tenant) -> rusqlite::Result<Vec<MemberRow>> {
    query_all(
        conn,
        &format!("{MEMBER_SELECT} WHERE tm.organization_id = ?1 ORDER BY tm.team_id, tm.user_id"),
        [tenant.org_id()],
    )
}

/// The members of one team.
pub fn team_members(conn: &Connection, tenant: &Tenant, team: TeamId) -> rusqlite::Result<Vec<MemberRow>> {
    query_all(
        conn,
        &format!("{MEMBER_SELECT} WHERE tm.organization_id = ?1 AND tm.team_id = ?2 ORDER BY tm.user_id"),
        params![tenant.org_id(), team],
    )
}

/// The teams of one user.
pub fn user_teams(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<Vec<MemberRow>> {
    query_all(
        conn,
        &format!("{MEMBER_SELECT} WHERE tm.organization_id = ?1 AND tm.user_id = ?2 ORDER BY tm.team_id"),
        params![tenant.org_id(), user],
    )
}

/// The user's active memberships in other organizations than the tenant's.
pub fn other_active_memberships(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM organization_members WHERE user_id = ?2 AND organization_id <> ?1 AND status = 'active'",
        params![tenant.org_id(), user],
        |r| r.get(0),
    )
}
