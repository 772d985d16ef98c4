//! Membership rules. Nobody grants more than they hold, nobody changes or
//! removes a member stronger than themselves (so an admin cannot demote or
//! remove an owner), and the last owner stays an owner.

use serde_json::json;

use super::model::Member;
use super::store;
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::UserId;
use crate::orgs::audit::{self, AuditEntry};
use crate::orgs::roles;
use crate::orgs::service::check_grant;

fn not_found() -> AppError {
    AppError::new(ErrorCode::MemberNotFound, "this user is not a member of the organization")
}

fn last_owner() -> AppError {
    AppError::new(ErrorCode::LastOwner, "the organization needs at least one owner; make another member owner first")
}

pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<Member>> {
    let (after, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state.db.read(move |c| Ok(store::list(c, &tenant, after, limit)?)).await?;
    Page::from_rows(rows, &page, |m| m.user_id.0)
}

/// Gives a member another role.
pub async fn change_role(state: &AppState, tenant: Tenant, user: UserId, role: String) -> AppResult<Member> {
    state
        .db
        .write(move |tx| {
            let target = store::find(tx, &tenant, user)?.ok_or_else(not_found)?;
            let current = roles::service::find(tx, &tenant, target.role_id)?;
            let new_role = roles::service::resolve(tx, &tenant, "role", &role)?;
            check_grant(&tenant, &current.permissions)?;
            check_grant(&tenant, &new_role.permissions)?;
            if current.id == new_role.id {
                return Ok(target);
            }
            if current.is_owner() && !new_role.is_owner() && store::owner_count(tx, &tenant)? <= 1 {
                return Err(last_owner());
            }
            store::set_role(tx, &tenant, user, new_role.id)?;
            store::fix_owner_id(tx, &tenant)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "member.role_changed", "member", user.0)
                    .with_old(json!({ "email": target.email, "role": current.name }))
                    .with_new(json!({ "email": target.email, "role": new_role.name }))
                    .activity(),
            )?;
            store::find(tx, &tenant, user)?.ok_or_else(not_found)
        })
        .await
}

/// Removes a member (their team places and API tokens for the organization go too).
pub async fn remove(state: &AppState, tenant: Tenant, user: UserId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let target = store::find(tx, &tenant, user)?.ok_or_else(not_found)?;
            let role = roles::service::find(tx, &tenant, target.role_id)?;
            check_grant(&tenant, &role.permissions)?;
            if role.is_owner() && store::owner_count(tx, &tenant)? <= 1 {
                return Err(last_owner());
            }
            store::remove(tx, &tenant, user, &now())?;
            store::fix_owner_id(tx, &tenant)?;
            crate::billing::usage::refresh_seats(tx, tenant.org_id())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "member.removed", "member", user.0)
                    .with_old(json!({ "email": target.email, "role": role.name }))
                    .activity(),
            )
        })
        .await
}

/// The caller leaves the organization.
pub async fn leave(state: &AppState, tenant: Tenant) -> AppResult<()> {
    let user = tenant.user_id().ok_or_else(|| AppError::new(ErrorCode::Forbidden, "only users can leave"))?;
    state
        .db
        .write(move |tx| {
            let me = store::find(tx, &tenant, user)?.ok_or_else(not_found)?;
            let role = roles::service::find(tx, &tenant, me.role_id)?;
            if role.is_owner() && store::owner_count(tx, &tenant)? <= 1 {
                return Err(last_owner());
            }
            store::remove(tx, &tenant, user, &now())?;
            store::fix_owner_id(tx, &tenant)?;
            crate::billing::usage::refresh_seats(tx, tenant.org_id())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "member.left", "member", user.0)
                    .with_old(json!({ "email": me.email, "role": role.name }))
                    .activity(),
            )
        })
        .await
}
