//! SQL of flow versions (`bot_flows`, `entity_versions`, `entity_branches`)
//! and orchestrations (`flow_orchestrations`, `flow_transitions`,
//! `flow_variables`).

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{OrchestrationId, VersionRow};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::BotId;

const VERSION_COLUMNS: &str = "id, bot_id, name, version, is_active, commit_message, created_by, created_at, \
                               published_at, published_by, publish_message, flow_data, save_kind";

/// The newest version of each flow of a bot, and the published one.
pub fn heads(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
) -> rusqlite::Result<Vec<(VersionRow, Option<VersionRow>)>> {
    let drafts: Vec<VersionRow> = query_all(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM bot_flows f
             WHERE organization_id = ?1 AND bot_id = ?2
               AND version = (SELECT max(version) FROM bot_flows g WHERE g.bot_id = f.bot_id AND g.name = f.name)
             ORDER BY name"
        ),
        params![tenant.org_id(), bot],
    )?;
    let published: Vec<VersionRow> = query_all(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM bot_flows WHERE organization_id = ?1 AND bot_id = ?2 AND is_active = 1"
        ),
        params![tenant.org_id(), bot],
    )?;
    Ok(drafts
        .into_iter()
        .map(|d| {
            let p = published.iter().find(|p| p.view.name == d.view.name).cloned();
            (d, p)
        })
        .collect())
}

/// The newest version of a flow.
pub fn draft(conn: &Connection, tenant: &Tenant, bot: BotId, name: &str) -> rusqlite::Result<Option<VersionRow>> {
    query_opt(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM bot_flows WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3
             ORDER BY version DESC LIMIT 1"
        ),
        params![tenant.org_id(), bot, name],
    )
}

/// The published version of a flow.
pub fn published(conn: &Connection, tenant: &Tenant, bot: BotId, name: &str) -> rusqlite::Result<Option<VersionRow>> {
    query_opt(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM bot_flows
             WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3 AND is_active = 1"
        ),
        params![tenant.org_id(), bot, name],
    )
}

/// One version of a flow.
pub fn version(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    version: i64,
) -> rusqlite::Result<Option<VersionRow>> {
    query_opt(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM bot_flows
             WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3 AND version = ?4"
        ),
        params![tenant.org_id(), bot, name, version],
    )
}

/// Versions of a flow, newest first, before `before` (a version number).
pub fn versions(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    before: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<VersionRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM bot_flows
             WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3 AND (?4 IS NULL OR version < ?4)
             ORDER BY version DESC LIMIT ?5"
        ),
        params![tenant.org_id(), bot, name, before, limit],
    )
}

/// The published versions of every flow of a bot (what conversations run).
pub fn all_published(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<VersionRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM bot_flows WHERE organization_id = ?1 AND bot_id = ?2 AND is_active = 1"
        ),
        params![tenant.org_id(), bot],
    )
}

/// The newest version of every flow of a bot (what the emulator's draft mode runs).
pub fn all_drafts(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<VersionRow>> {
    heads(conn, tenant, bot).map(|h| h.into_iter().map(|(d, _)| d).collect())
}

/// A new version row (not published).
pub struct NewVersion<'a> {
    pub name: &'a str,
    pub version: i64,
    pub data: &'a str,
    pub message: Option<&'a str>,
    /// Saved by the editor's auto-save (collapsed in the history).
    pub autosave: bool,
}

pub fn insert_version(conn: &Connection, tenant: &Tenant, bot: BotId, v: &NewVersion<'_>) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO bot_flows (organization_id, bot_id, name, flow_data, version, is_active, commit_message, created_by,
                                save_kind)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8) RETURNING id",
        params![
            tenant.org_id(),
            bot,
            v.name,
            v.data,
            v.version,
            v.message,
            tenant.user_id(),
            if v.autosave { "autosave" } else { "named" }
        ],
        |r| r.get(0),
    )
}

/// Gives every version of a flow a new name (its history goes along).
pub fn rename_flow(conn: &Connection, tenant: &Tenant, bot: BotId, from: &str, to: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE bot_flows SET name = ?4 WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3",
        params![tenant.org_id(), bot, from, to],
    )
}

/// Points the bot's orchestrations (entry flow, transitions) at a renamed flow.
pub fn rename_in_orchestrations(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    from: &str,
    to: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE flow_orchestrations SET entry_flow = ?4 WHERE organization_id = ?1 AND bot_id = ?2 AND entry_flow = ?3",
        params![tenant.org_id(), bot, from, to],
    )?;
    for column in ["from_flow", "to_flow"] {
        // The column comes from the fixed list above, never from input.
        conn.execute(
            &format!(
                "UPDATE flow_transitions SET {column} = ?4 WHERE organization_id = ?1 AND {column} = ?3
                   AND orchestration_id IN (SELECT id FROM flow_orchestrations WHERE organization_id = ?1 AND bot_id = ?2)"
            ),
            params![tenant.org_id(), bot, from, to],
        )?;
    }
    Ok(())
}

/// Orchestrations of the bot whose transitions name a flow.
pub fn orchestrations_naming(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    flow: &str,
) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT o.name FROM flow_transitions t JOIN flow_orchestrations o ON o.id = t.orchestration_id
         WHERE t.organization_id = ?1 AND o.bot_id = ?2 AND (t.from_flow = ?3 OR t.to_flow = ?3) ORDER BY o.name",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, flow], |r| r.get(0))?.collect()
}

/// Makes a version the published one (the trigger unpublishes the others).
pub fn publish(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    flow_version_id: i64,
    message: Option<&str>,
    now: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE bot_flows SET is_active = 0 WHERE organization_id = ?1 AND bot_id = ?2 AND is_active = 1
           AND name = (SELECT name FROM bot_flows WHERE id = ?3) AND id <> ?3",
        params![tenant.org_id(), bot, flow_version_id],
    )?;
    conn.execute(
        "UPDATE bot_flows SET is_active = 1, published_at = ?4, published_by = ?5, publish_message = ?6
         WHERE id = ?3 AND organization_id = ?1 AND bot_id = ?2",
        params![tenant.org_id(), bot, flow_version_id, now, tenant.user_id(), message],
    )?;
    Ok(())
}

/// Deletes every version of a flow; returns how many.
pub fn delete_flow(conn: &Connection, tenant: &Tenant, bot: BotId, name: &str) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM bot_flows WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3",
        params![tenant.org_id(), bot, name],
    )
}

// ---- Generic versions: the flow's identity is its first version's id ----

/// The entity id of a flow in `entity_versions`/`entity_branches`.
pub fn flow_entity_id(conn: &Connection, tenant: &Tenant, bot: BotId, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT min(id) FROM bot_flows WHERE organization_id = ?1 AND bot_id = ?2 AND name = ?3",
        params![tenant.org_id(), bot, name],
        |r| r.get(0),
    )
}

/// Records a snapshot in `entity_versions` and returns its id.
pub fn insert_entity_version(
    conn: &Connection,
    tenant: &Tenant,
    entity_id: i64,
    version: i64,
    data: &str,
    message: Option<&str>,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO entity_versions (organization_id, entity_type, entity_id, version_number, data, created_by, commit_message)
         VALUES (?1, 'flow', ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), entity_id, version, data, tenant.user_id(), message],
        |r| r.get(0),
    )
}

/// The `entity_versions` id of a flow version.
pub fn entity_version_id(
    conn: &Connection,
    tenant: &Tenant,
    entity_id: i64,
    version: i64,
) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT id FROM entity_versions
         WHERE organization_id = ?1 AND entity_type = 'flow' AND entity_id = ?2 AND version_number = ?3",
        params![tenant.org_id(), entity_id, version],
        |r| r.get(0),
    )
    .optional()
}

/// Points branch `name` (`draft`, or `main` — the published line) at a version.
pub fn move_branch(
    conn: &Connection,
    tenant: &Tenant,
    entity_id: i64,
    branch: &str,
    head: i64,
) -> rusqlite::Result<()> {
    let is_main = branch == "main";
    let updated = conn.execute(
        "UPDATE entity_branches SET head_version_id = ?4
         WHERE organization_id = ?1 AND entity_type = 'flow' AND entity_id = ?2 AND branch_name = ?3",
        params![tenant.org_id(), entity_id, branch, head],
    )?;
    if updated == 0 {
        conn.execute(
            "INSERT INTO entity_branches (organization_id, entity_type, entity_id, branch_name, base_version_id,
                                          head_version_id, is_main, created_by)
             VALUES (?1, 'flow', ?2, ?3, ?4, ?4, ?5, ?6)",
            params![tenant.org_id(), entity_id, branch, head, is_main, tenant.user_id()],
        )?;
    }
    Ok(())
}

/// Removes a flow's generic versions and branches.
pub fn delete_entity(conn: &Connection, tenant: &Tenant, entity_id: i64) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM entity_branches WHERE organization_id = ?1 AND entity_type = 'flow' AND entity_id = ?2",
        params![tenant.org_id(), entity_id],
    )?;
    conn.execute(
        "DELETE FROM entity_versions WHERE organization_id = ?1 AND entity_type = 'flow' AND entity_id = ?2",
        params![tenant.org_id(), entity_id],
    )?;
    Ok(())
}

// ---- Orchestrations -----------------------------------------------------

/// An orchestration row without its children.
#[derive(Debug, Clone)]
pub struct OrchestrationRow {
    pub id: OrchestrationId,
    pub bot_id: BotId,
    pub name: String,
    pub description: Option<String>,
    pub is_active: bool,
    pub entry_flow: String,
    pub created_at: String,
    pub updated_at: String,
}

impl crate::db::FromRow for OrchestrationRow {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(OrchestrationRow {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            description: row.get("description")?,
            is_active: row.get("is_active")?,
            entry_flow: row.get("entry_flow")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

const ORCH_COLUMNS: &str = "id, bot_id, name, description, is_active, entry_flow, created_at, updated_at";

pub fn orchestrations(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<OrchestrationRow>> {
    query_all(
        conn,
        &format!(
            "SELECT {ORCH_COLUMNS} FROM flow_orchestrations WHERE organization_id = ?1 AND bot_id = ?2 ORDER BY id"
        ),
        params![tenant.org_id(), bot],
    )
}

pub fn orchestration(
    conn: &Connection,
    tenant: &Tenant,
    id: OrchestrationId,
) -> rusqlite::Result<Option<OrchestrationRow>> {
    query_opt(
        conn,
        &format!("SELECT {ORCH_COLUMNS} FROM flow_orchestrations WHERE organization_id = ?1 AND id = ?2"),
        params![tenant.org_id(), id],
    )
}

pub fn active_orchestration(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
) -> rusqlite::Result<Option<OrchestrationRow>> {
    query_opt(
        conn,
        &format!(
            "SELECT {ORCH_COLUMNS} FROM flow_orchestrations WHERE organization_id = ?1 AND bot_id = ?2 AND is_active = 1"
        ),
        params![tenant.org_id(), bot],
    )
}

/// A transition row: (id, from, to, trigger type, trigger value JSON, priority).
pub type TransitionRow = (i64, String, String, String, String, i64);

pub fn transitions(conn: &Connection, tenant: &Tenant, id: OrchestrationId) -> rusqlite::Result<Vec<TransitionRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, from_flow, to_flow, trigger_type, trigger_value, priority FROM flow_transitions
         WHERE organization_id = ?1 AND orchestration_id = ?2 ORDER BY priority DESC, id",
    )?;
    stmt.query_map(params![tenant.org_id(), id], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
    })?
    .collect()
}

/// A variable row: (name, type, default JSON, scope).
pub type VariableRow = (String, String, Option<String>, String);

pub fn variables(conn: &Connection, tenant: &Tenant, id: OrchestrationId) -> rusqlite::Result<Vec<VariableRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, type, default_value, scope FROM flow_variables
         WHERE organization_id = ?1 AND orchestration_id = ?2 ORDER BY name",
    )?;
    stmt.query_map(params![tenant.org_id(), id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect()
}

/// Fields of an orchestration row.
pub struct OrchestrationFields<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub is_active: bool,
    pub entry_flow: &'a str,
}

pub fn insert_orchestration(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    f: &OrchestrationFields<'_>,
) -> rusqlite::Result<OrchestrationId> {
    if f.is_active {
        deactivate_others(conn, tenant, bot, None)?;
    }
    conn.query_row(
        "INSERT INTO flow_orchestrations (organization_id, bot_id, name, description, is_active, entry_flow)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), bot, f.name, f.description, f.is_active, f.entry_flow],
        |r| r.get(0),
    )
}

pub fn update_orchestration(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    id: OrchestrationId,
    f: &OrchestrationFields<'_>,
) -> rusqlite::Result<()> {
    if f.is_active {
        deactivate_others(conn, tenant, bot, Some(id))?;
    }
    conn.execute(
        "UPDATE flow_orchestrations SET name = ?3, description = ?4, is_active = ?5, entry_flow = ?6
         WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id, f.name, f.description, f.is_active, f.entry_flow],
    )?;
    Ok(())
}

fn deactivate_others(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    except: Option<OrchestrationId>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE flow_orchestrations SET is_active = 0
         WHERE organization_id = ?1 AND bot_id = ?2 AND is_active = 1 AND (?3 IS NULL OR id <> ?3)",
        params![tenant.org_id(), bot, except],
    )?;
    Ok(())
}

/// Replaces the transitions and variables of an orchestration.
pub fn replace_children(
    conn: &Connection,
    tenant: &Tenant,
    id: OrchestrationId,
    transitions: &[(String, String, &str, String, i64)],
    variables: &[(String, &str, Option<String>, &str)],
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM flow_transitions WHERE organization_id = ?1 AND orchestration_id = ?2",
        params![tenant.org_id(), id],
    )?;
    conn.execute(
        "DELETE FROM flow_variables WHERE organization_id = ?1 AND orchestration_id = ?2",
        params![tenant.org_id(), id],
    )?;
    let mut insert_t = conn.prepare_cached(
        "INSERT INTO flow_transitions (organization_id, orchestration_id, from_flow, to_flow, trigger_type, trigger_value, priority)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (from, to, trigger, value, priority) in transitions {
        insert_t.execute(params![tenant.org_id(), id, from, to, trigger, value, priority])?;
    }
    let mut insert_v = conn.prepare_cached(
        "INSERT INTO flow_variables (organization_id, orchestration_id, name, type, default_value, scope)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (name, var_type, default, scope) in variables {
        insert_v.execute(params![tenant.org_id(), id, name, var_type, default, scope])?;
    }
    Ok(())
}

pub fn delete_orchestration(conn: &Connection, tenant: &Tenant, id: OrchestrationId) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM flow_orchestrations WHERE organization_id = ?1 AND id = ?2",
        params![tenant.org_id(), id],
    )? == 1)
}
