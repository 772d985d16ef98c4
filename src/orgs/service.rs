//! Organization rules.

use serde_json::json;

use super::audit::{self, AuditEntry};
use super::model::{CreateOrgRequest, Organization, UpdateOrgRequest};
use super::store;
use crate::accounts::Principal;
use crate::app::AppState;
use crate::db::Db;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{ClientInfo, Tenant};
use crate::ids::{OrgId, UserId};
use crate::permissions::{BuiltinRole, Permission, PermissionSet};

/// Refuses to grant (through a role, an invitation, a team role or an API
/// token) permissions the acting tenant does not hold itself.
pub fn check_grant(tenant: &Tenant, granted: &PermissionSet) -> AppResult<()> {
    let missing: Vec<&str> = granted.iter().filter(|p| !tenant.can(*p)).map(Permission::as_str).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(AppError::new(
        ErrorCode::RoleEscalation,
        format!("you cannot grant permissions you do not have: {}", missing.join(", ")),
    )
    .with_details(json!({ "permissions": missing })))
}

/// Parses permission names from a request; `field` names the list in errors.
pub fn parse_permissions(names: &[String], field: &str) -> AppResult<PermissionSet> {
    if names.len() > Permission::ALL.len() * 2 {
        return Err(AppError::validation(field, "lists too many permissions"));
    }
    names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            Permission::parse(n.trim()).ok_or_else(|| {
                AppError::validation(
                    format!("{field}[{i}]"),
                    format!("`{n}` is not a permission (see GET /api/v1/permissions)"),
                )
            })
        })
        .collect()
}

/// Writes the built-in roles' permissions from the code catalogue (startup).
pub fn sync_builtin_roles(db: &Db) -> AppResult<()> {
    db.write_blocking(|tx| {
        for role in BuiltinRole::ALL {
            store::sync_builtin_role(tx, role)?;
        }
        Ok(())
    })
}

/// Checks an organization name.
pub fn check_org_name(raw: &str) -> AppResult<String> {
    crate::names::check_name("name", raw, 100)
}

/// A URL-safe slug from a name, made unique with a random suffix.
pub(crate) fn slug_candidate(name: &str) -> String {
    let mut slug: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    slug.truncate(40);
    if slug.is_empty() {
        slug.push_str("org");
    }
    format!("{slug}-{}", &hex::encode(rand::random::<[u8; 3]>()))
}

/// Creates an organization owned by `owner` inside the caller's transaction.
pub fn create_org_in(tx: &rusqlite::Connection, owner: UserId, name: &str) -> AppResult<OrgId> {
    let org_id = loop {
        if let Some(id) = store::insert_org(tx, name, &slug_candidate(name), owner)? {
            break id;
        }
    };
    let owner_role = store::builtin_role_id(tx, BuiltinRole::Owner)?;
    store::insert_member(tx, org_id, owner, owner_role, None)?;
    crate::billing::usage::refresh_seats(tx, org_id)?;
    super::teams::service::create_default_role_in(tx, org_id)?;
    Ok(org_id)
}

/// The personal organization made at sign-up.
pub fn create_personal_org(tx: &rusqlite::Connection, owner: UserId, user_name: &str) -> AppResult<OrgId> {
    let name: String = format!("{user_name}'s Organization").chars().take(100).collect();
    let org_id = create_org_in(tx, owner, &name)?;
    audit::record(
        tx,
        &AuditEntry::by_user(owner, "org.created", "organization", org_id.0)
            .activity()
            .in_org(org_id)
            .with_new(json!({ "name": name })),
    )?;
    Ok(org_id)
}

/// Creates an organization with the caller as owner.
pub async fn create_org(
    state: &AppState,
    principal: &Principal,
    req: CreateOrgRequest,
    client: ClientInfo,
) -> AppResult<Organization> {
    let name = check_org_name(&req.name)?;
    let owner = principal.user_id;
    state
        .db
        .write(move |tx| {
            let org_id = create_org_in(tx, owner, &name)?;
            audit::record(
                tx,
                &AuditEntry::by_user(owner, "org.created", "organization", org_id.0)
                    .activity()
                    .in_org(org_id)
                    .with_new(json!({ "name": name }))
                    .from(&client),
            )?;
            let org = tx.query_row(
                &format!("SELECT {} FROM organizations WHERE id = ?1", store::ORG_COLUMNS),
                [org_id],
                crate::db::FromRow::from_row,
            )?;
            Ok(org)
        })
        .await
}

/// The tenant's organization.
pub async fn get_org(state: &AppState, tenant: Tenant) -> AppResult<Organization> {
    state
        .db
        .read(move |c| {
            store::find_org(c, &tenant)?.ok_or_else(|| AppError::new(ErrorCode::OrgNotFound, "no such organization"))
        })
        .await
}

/// Updates the tenant's organization: name, settings, audit retention.
pub async fn update_org(state: &AppState, tenant: Tenant, req: UpdateOrgRequest) -> AppResult<Organization> {
    let name = req.name.as_deref().map(check_org_name).transpose()?;
    let settings = match req.settings {
        None => None,
        Some(v @ serde_json::Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > 16 * 1024 {
                return Err(AppError::validation("settings", "must be at most 16 KiB"));
            }
            Some(text)
        }
        Some(_) => return Err(AppError::validation("settings", "must be a JSON object")),
    };
    if let Some(days) = req.retention_days
        && !(30..=3650).contains(&days)
    {
        return Err(AppError::validation("retention_days", "must be between 30 and 3650"));
    }
    state
        .db
        .write(move |tx| {
            let before = store::find_org(tx, &tenant)?
                .ok_or_else(|| AppError::new(ErrorCode::OrgNotFound, "no such organization"))?;
            if let Some(name) = &name {
                store::rename_org(tx, &tenant, name)?;
            }
            if settings.is_some() || req.retention_days.is_some() {
                let text = settings.clone().unwrap_or_else(|| before.settings.to_string());
                store::set_settings(tx, &tenant, &text, req.retention_days.unwrap_or(before.retention_days))?;
            }
            let after = store::find_org(tx, &tenant)?
                .ok_or_else(|| AppError::new(ErrorCode::OrgNotFound, "no such organization"))?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "org.updated", "organization", tenant.org_id().0)
                    .with_old(json!({ "name": before.name, "settings": before.settings, "retention_days": before.retention_days }))
                    .with_new(json!({ "name": after.name, "settings": after.settings, "retention_days": after.retention_days }))
                    .activity(),
            )?;
            Ok(after)
        })
        .await
}

/// The caller's organizations with their role.
pub async fn list_mine(state: &AppState, user: UserId) -> AppResult<Vec<crate::accounts::model::Membership>> {
    Ok(crate::accounts::service::me(state, user, None).await?.organizations)
}

/// Deletes the organization with all its data; the name must be typed again.
/// The audit row outlives the organization (it has no organization).
pub async fn delete_org(state: &AppState, tenant: Tenant, confirm_name: String) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let org = store::find_org(tx, &tenant)?
                .ok_or_else(|| AppError::new(ErrorCode::OrgNotFound, "no such organization"))?;
            if confirm_name.trim() != org.name {
                return Err(AppError::validation("confirm_name", "must be the organization's exact name"));
            }
            store::delete_org(tx, &tenant)?;
            let entry = match tenant.user_id() {
                Some(user) => AuditEntry::by_user(user, "org.deleted", "organization", org.id.0),
                None => AuditEntry::system("org.deleted", "organization", Some(org.id.0)),
            }
            .with_old(json!({ "name": org.name, "slug": org.slug, "plan_tier": org.plan_tier }))
            .from(&tenant.actor().client);
            audit::record(tx, &entry)
        })
        .await
}

/// Whether `user` is an active member of an active `org` whose role grants
/// `permission` (for checks outside a request, e.g. an OAuth callback).
pub fn member_can(
    conn: &rusqlite::Connection,
    org: OrgId,
    user: UserId,
    permission: Permission,
) -> rusqlite::Result<bool> {
    Ok(store::membership(conn, org, user)?
        .is_some_and(|m| m.active && !m.org_suspended && m.permissions.contains(permission)))
}
