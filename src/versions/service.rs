//! Version rules: snapshots are immutable and numbered per entity; `main`
//! is created on the first snapshot; rollback commits an old snapshot as a
//! new version; branches start from a version and merge back into main
//! (fast-forward, or a three-way merge that refuses conflicting changes).
//!
//! Other domains (bots, flows, agents) call [`snapshot_in`] inside their own
//! transaction to version what they publish.

use serde_json::{Value, json};

use super::diff::{self, merge3};
use super::model::{
    Branch, CommitMessage, CreateBranchRequest, CreateVersionRequest, EntityType, Version, VersionDiff,
};
use super::store;
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::{BranchId, VersionId};
use crate::orgs::audit::{self, AuditEntry};

pub const MAIN: &str = "main";

fn version_not_found() -> AppError {
    AppError::new(ErrorCode::VersionNotFound, "no such version")
}

fn branch_not_found() -> AppError {
    AppError::new(ErrorCode::BranchNotFound, "no such branch")
}

/// Parses an entity type from a path.
pub fn entity_type(raw: &str) -> AppResult<EntityType> {
    EntityType::parse(raw).ok_or_else(|| {
        let all: Vec<&str> = EntityType::ALL.iter().map(|t| t.as_str()).collect();
        AppError::validation("entity_type", format!("must be one of {}", all.join(", ")))
    })
}

/// Beyond the route's `bots.*` permission, agents and knowledge bases need
/// their own domain's permission.
fn require(tenant: &Tenant, kind: EntityType, write: bool) -> AppResult<()> {
    if let Some((read, write_perm)) = kind.extra_permissions() {
        let p = if write { write_perm } else { read };
        if !tenant.can(p) {
            return Err(AppError::new(ErrorCode::Forbidden, format!("this requires the `{}` permission", p.as_str()))
                .with_details(json!({ "permission": p.as_str() })));
        }
    }
    Ok(())
}

fn check_entity(conn: &rusqlite::Connection, tenant: &Tenant, kind: EntityType, id: i64) -> AppResult<()> {
    if store::entity_exists(conn, tenant, kind, id)? {
        Ok(())
    } else {
        Err(AppError::new(ErrorCode::EntityNotFound, format!("no {} {id} in this organization", kind.as_str())))
    }
}

fn check_message(raw: Option<&str>) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        Some(m) if m.chars().count() > 500 => Err(AppError::validation("message", "must be at most 500 characters")),
        Some("") | None => Ok(None),
        Some(m) => Ok(Some(m.to_owned())),
    }
}

fn check_branch_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let ok = !name.is_empty()
        && name.len() <= 100
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if !ok {
        return Err(AppError::validation("name", "must be 1–100 letters, digits, - _ . or /"));
    }
    Ok(name.to_owned())
}

fn ensure_main(tx: &rusqlite::Connection, tenant: &Tenant, kind: &str, entity: i64) -> AppResult<Branch> {
    if let Some(b) = store::find_branch_by_name(tx, tenant, kind, entity, MAIN)? {
        return Ok(b);
    }
    let id = store::insert_branch(tx, tenant, kind, entity, MAIN, true, None)?
        .ok_or_else(|| AppError::new(ErrorCode::Conflict, "the main branch could not be created"))?;
    store::find_branch(tx, tenant, id)?.ok_or_else(branch_not_found)
}

/// Commits a snapshot of an entity inside the caller's transaction (other
/// domains use this when they publish). `branch` defaults to main.
pub fn snapshot_in(
    tx: &rusqlite::Connection,
    tenant: &Tenant,
    kind: EntityType,
    entity: i64,
    data: &Value,
    message: Option<&str>,
    branch: Option<&str>,
) -> AppResult<VersionId> {
    let branch = match branch.filter(|b| *b != MAIN) {
        None => ensure_main(tx, tenant, kind.as_str(), entity)?,
        Some(name) => store::find_branch_by_name(tx, tenant, kind.as_str(), entity, name)?
            .ok_or_else(|| AppError::validation("branch", format!("no branch `{name}`; create it first")))?,
    };
    let id = store::commit(tx, tenant, kind.as_str(), entity, branch.id, &data.to_string(), message)?;
    audit::record(
        tx,
        &AuditEntry::by(tenant, "version.created", kind.as_str(), entity)
            .with_new(json!({ "version_id": id.0, "branch": branch.name, "message": message }))
            .activity(),
    )?;
    Ok(id)
}

pub async fn list(
    state: &AppState,
    tenant: Tenant,
    kind: EntityType,
    entity: i64,
    branch: Option<String>,
    page: PageParams,
) -> AppResult<Page<Version>> {
    require(&tenant, kind, false)?;
    let (before, limit) = (page.cursor()?.map(|c| c.id), page.fetch_limit()?);
    let rows = state
        .db
        .read(move |c| {
            check_entity(c, &tenant, kind, entity)?;
            Ok(store::list(c, &tenant, kind, entity, branch.as_deref(), before, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |v| v.id.0)
}

pub async fn create(
    state: &AppState,
    tenant: Tenant,
    kind: EntityType,
    entity: i64,
    req: CreateVersionRequest,
) -> AppResult<Version> {
    require(&tenant, kind, true)?;
    let message = check_message(req.message.as_deref())?;
    state
        .db
        .write(move |tx| {
            check_entity(tx, &tenant, kind, entity)?;
            let id = snapshot_in(tx, &tenant, kind, entity, &req.data, message.as_deref(), req.branch.as_deref())?;
            store::find(tx, &tenant, id)?.ok_or_else(version_not_found)
        })
        .await
}

fn kind_of(v: &Version) -> AppResult<EntityType> {
    EntityType::parse(&v.entity_type).ok_or_else(version_not_found)
}

pub async fn get(state: &AppState, tenant: Tenant, id: VersionId) -> AppResult<Version> {
    let v =
        state.db.read(move |c| store::find(c, &tenant, id)?.ok_or_else(version_not_found).map(|v| (v, tenant))).await?;
    let (v, tenant) = v;
    require(&tenant, kind_of(&v)?, false)?;
    Ok(v)
}

pub async fn diff(
    state: &AppState,
    tenant: Tenant,
    id: VersionId,
    against: Option<VersionId>,
) -> AppResult<VersionDiff> {
    state
        .db
        .read(move |c| {
            let to = store::find(c, &tenant, id)?.ok_or_else(version_not_found)?;
            require(&tenant, kind_of(&to)?, false)?;
            let from = match against {
                Some(other) => {
                    let from = store::find(c, &tenant, other)?
                        .ok_or_else(|| AppError::validation("against", "is not a version of this organization"))?;
                    if from.entity_type != to.entity_type || from.entity_id != to.entity_id {
                        return Err(AppError::validation("against", "is a version of another entity"));
                    }
                    Some(from)
                }
                None => store::previous(c, &tenant, &to)?,
            };
            let empty = Value::Null;
            let old = from.as_ref().and_then(|f| f.data.as_ref()).unwrap_or(&empty);
            let new = to.data.as_ref().unwrap_or(&empty);
            Ok(VersionDiff {
                from_version_id: from.as_ref().map(|f| f.id),
                from_version_number: from.as_ref().map(|f| f.version_number),
                to_version_id: to.id,
                to_version_number: to.version_number,
                changes: diff::diff(old, new),
            })
        })
        .await
}

/// Commits an old snapshot as the new head of main.
pub async fn rollback(state: &AppState, tenant: Tenant, id: VersionId, req: CommitMessage) -> AppResult<Version> {
    let message = check_message(req.message.as_deref())?;
    state
        .db
        .write(move |tx| {
            let old = store::find(tx, &tenant, id)?.ok_or_else(version_not_found)?;
            let kind = kind_of(&old)?;
            require(&tenant, kind, true)?;
            let data = old.data.clone().unwrap_or(Value::Null);
            let message = message.unwrap_or_else(|| format!("Rollback to version {}", old.version_number));
            let main = ensure_main(tx, &tenant, kind.as_str(), old.entity_id)?;
            let new = store::commit(tx, &tenant, kind.as_str(), old.entity_id, main.id, &data.to_string(), Some(&message))?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "version.rolled_back", kind.as_str(), old.entity_id)
                    .with_old(json!({ "version_id": main.head_version_id.map(|v| v.0) }))
                    .with_new(json!({ "version_id": new.0, "restored_version_id": old.id.0, "restored_version_number": old.version_number }))
                    .activity(),
            )?;
            store::find(tx, &tenant, new)?.ok_or_else(version_not_found)
        })
        .await
}

pub async fn branches(state: &AppState, tenant: Tenant, kind: EntityType, entity: i64) -> AppResult<Vec<Branch>> {
    require(&tenant, kind, false)?;
    state
        .db
        .read(move |c| {
            check_entity(c, &tenant, kind, entity)?;
            Ok(store::branches(c, &tenant, kind, entity)?)
        })
        .await
}

pub async fn create_branch(
    state: &AppState,
    tenant: Tenant,
    kind: EntityType,
    entity: i64,
    req: CreateBranchRequest,
) -> AppResult<Branch> {
    require(&tenant, kind, true)?;
    let name = check_branch_name(&req.name)?;
    if name == MAIN {
        return Err(AppError::validation("name", "`main` exists for every versioned entity"));
    }
    state
        .db
        .write(move |tx| {
            check_entity(tx, &tenant, kind, entity)?;
            let base = match req.from_version_id {
                Some(v) => {
                    let from = store::find(tx, &tenant, v)?
                        .filter(|f| f.entity_type == kind.as_str() && f.entity_id == entity)
                        .ok_or_else(|| AppError::validation("from_version_id", "is not a version of this entity"))?;
                    Some(from.id)
                }
                None => ensure_main(tx, &tenant, kind.as_str(), entity)?.head_version_id,
            };
            let id = store::insert_branch(tx, &tenant, kind.as_str(), entity, &name, false, base)?
                .ok_or_else(|| AppError::new(ErrorCode::NameTaken, "a branch with this name exists"))?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "branch.created", kind.as_str(), entity)
                    .with_new(json!({ "branch_id": id.0, "name": name, "base_version_id": base.map(|b| b.0) }))
                    .activity(),
            )?;
            store::find_branch(tx, &tenant, id)?.ok_or_else(branch_not_found)
        })
        .await
}

fn branch_kind(tx: &rusqlite::Connection, tenant: &Tenant, id: BranchId) -> AppResult<(EntityType, i64, Branch)> {
    let (kind, entity) = store::branch_entity(tx, tenant, id)?.ok_or_else(branch_not_found)?;
    let kind = EntityType::parse(&kind).ok_or_else(branch_not_found)?;
    let branch = store::find_branch(tx, tenant, id)?.ok_or_else(branch_not_found)?;
    Ok((kind, entity, branch))
}

pub async fn delete_branch(state: &AppState, tenant: Tenant, id: BranchId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let (kind, entity, branch) = branch_kind(tx, &tenant, id)?;
            require(&tenant, kind, true)?;
            if branch.is_main {
                return Err(AppError::new(ErrorCode::Conflict, "the main branch cannot be deleted"));
            }
            store::delete_branch(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "branch.deleted", kind.as_str(), entity)
                    .with_old(json!({ "branch_id": id.0, "name": branch.name }))
                    .activity(),
            )
        })
        .await
}

/// Merges a branch into main: fast-forward when main has not moved since
/// the branch started, else a three-way merge of the JSON snapshots.
pub async fn merge(state: &AppState, tenant: Tenant, id: BranchId, req: CommitMessage) -> AppResult<Version> {
    let message = check_message(req.message.as_deref())?;
    state
        .db
        .write(move |tx| {
            let (kind, entity, branch) = branch_kind(tx, &tenant, id)?;
            require(&tenant, kind, true)?;
            if branch.is_main {
                return Err(AppError::new(ErrorCode::Conflict, "main cannot be merged into itself"));
            }
            let head = branch
                .head_version_id
                .filter(|h| Some(*h) != branch.base_version_id)
                .ok_or_else(|| AppError::new(ErrorCode::Conflict, "the branch has no new versions to merge"))?;
            let main = ensure_main(tx, &tenant, kind.as_str(), entity)?;
            let data_of = |v: Option<VersionId>| -> AppResult<Value> {
                Ok(match v {
                    Some(v) => store::find(tx, &tenant, v)?.and_then(|x| x.data).unwrap_or(Value::Null),
                    None => Value::Null,
                })
            };
            let theirs = data_of(Some(head))?;
            let merged = if main.head_version_id == branch.base_version_id {
                theirs
            } else {
                let (base, ours) = (data_of(branch.base_version_id)?, data_of(main.head_version_id)?);
                merge3(&base, &ours, &theirs).map_err(|paths| {
                    AppError::new(ErrorCode::MergeConflict, "main and the branch changed the same fields")
                        .with_details(json!({ "paths": paths }))
                })?
            };
            let message = message.unwrap_or_else(|| format!("Merge branch {}", branch.name));
            let new = store::commit(tx, &tenant, kind.as_str(), entity, main.id, &merged.to_string(), Some(&message))?;
            store::reset_to(tx, &tenant, id, new)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "branch.merged", kind.as_str(), entity)
                    .with_new(json!({ "branch_id": id.0, "branch": branch.name, "version_id": new.0 }))
                    .activity(),
            )?;
            store::find(tx, &tenant, new)?.ok_or_else(version_not_found)
        })
        .await
}
