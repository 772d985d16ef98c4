//! Organization import: an organization export (docs/export.md) becomes a new
//! organization on this server — another server when moving hosts, or a copy
//! on the same one — with every id remapped by the schema-driven engine.
//!
//! What changes on the way in:
//! - the organization gets a new slug and the importing user as owner; its plan
//!   is kept only when the importer may set plans (a superadmin, the CLI);
//! - members are matched by email with the accounts of this server; rows of
//!   accounts that are not here (memberships, team seats…) are left out;
//! - secrets (`*_encrypted` columns) are sealed with the source server's key and
//!   bound to the source's row ids: they are cleared, and rows that cannot exist
//!   without one (webhooks, voice accounts, recovery sources) are left out;
//! - credentials and one-time tokens (API and SCIM tokens, invitations, sign-in
//!   and OAuth requests in progress) and billing records do not travel;
//! - a value that must be unique on the whole server and is taken (a widget key,
//!   a webhook path on a copy) is made anew or left empty, and reported;
//! - counters kept by triggers are put back to their exported values, and rows
//!   that triggers made during the import (history rows, usage upserts) removed.
//!
//! Everything happens in one savepoint of the caller's write transaction: a
//! failure, or a dry run, rolls all of it back.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde::Serialize;
use serde_json::{Value, json};

use super::bundle::{Bundle, Row, from_json};
use super::engine::{IdMap, Prepared, Target, columns, foreign_key_targets, insert_rows};
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::{OrgId, UserId};

/// Tables whose rows never travel, and why.
const NOT_CARRIED: &[(&str, &str)] = &[
    ("api_tokens", "API tokens are credentials: create new ones"),
    ("scim_tokens", "SCIM tokens are credentials: create new ones"),
    ("sso_auth_requests", "sign-ins in progress expire"),
    ("integration_oauth_states", "OAuth authorizations in progress expire"),
    ("team_invitations", "pending invitations link to the source server: invite again"),
    ("billing_events", "billing records belong to the source server's payment account"),
    ("payment_history", "billing records belong to the source server's payment account"),
    ("user_subscriptions", "billing records belong to the source server's payment account"),
    ("jobs", "background jobs are not carried"),
    ("embedding_queue", "pending embeddings are not carried"),
    ("chunk_codes", "rebuilt from the chunks' embeddings"),
];

/// Columns of `organizations` that tie it to billing on the source server.
const ORG_BILLING: &[&str] = &["plan_tier", "subscription_status", "subscription_current_period_end"];

/// Who imports, and how.
pub struct OrgImportOptions {
    /// The new organization's owner.
    pub owner: UserId,
    /// Keep the exported plan (superadmins and the CLI); else the default plan.
    pub keep_plan: bool,
    pub dry_run: bool,
}

/// The report of an organization import, or of its dry run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortabilityOrgImportReport {
    /// True when nothing was written.
    pub dry_run: bool,
    /// `organization`.
    pub kind: String,
    pub format_version: u32,
    /// The botbuilder version that wrote the file.
    pub botbuilder_version: String,
    /// The new organization (empty on a dry run).
    pub organization_id: Option<i64>,
    pub organization_name: String,
    /// Rows created (or that would be), per table.
    #[schema(value_type = Object)]
    pub created: BTreeMap<String, usize>,
    /// Rows left out, per table and reason.
    pub skipped: Vec<PortabilitySkipped>,
    /// Values that must be unique on this server and were taken, and what became of them.
    pub conflicts: Vec<PortabilityConflict>,
    /// Members of the source whose account (by email) exists here: they are members again.
    pub members_matched: Vec<String>,
    /// Members of the source with no account here: invite them again.
    pub members_missing: Vec<String>,
    /// Things that did not travel as they were (secrets, references left empty).
    pub warnings: Vec<String>,
}

/// Rows of one table left out for one reason.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortabilitySkipped {
    pub table: String,
    pub reason: String,
    pub rows: usize,
}

/// A server-wide unique value already taken here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortabilityConflict {
    pub table: String,
    pub columns: Vec<String>,
    /// `regenerated`, `cleared` or `skipped`.
    pub resolution: String,
    pub rows: usize,
}

/// A unique index of a table whose columns are plain values (no reference, no
/// organization): the value must be free on the whole server.
struct GlobalUnique {
    columns: Vec<(String, bool)>,
}

fn global_uniques(conn: &Connection, table: &str) -> AppResult<Vec<GlobalUnique>> {
    let cols = columns(conn, table)?;
    let fks = foreign_key_targets(conn, table)?;
    let mut stmt = conn.prepare(r#"SELECT name FROM pragma_index_list(?1) WHERE "unique" = 1 AND origin <> 'pk'"#)?;
    let indexes: Vec<String> = stmt.query_map([table], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for index in indexes {
        let mut stmt = conn.prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?;
        let names: Vec<Option<String>> = stmt.query_map([&index], |r| r.get(0))?.collect::<Result<_, _>>()?;
        let plain = names
            .iter()
            .all(|n| n.as_deref().is_some_and(|n| n != "id" && n != "organization_id" && !fks.contains_key(n)));
        if !plain || names.is_empty() {
            continue;
        }
        let columns = names
            .into_iter()
            .flatten()
            .map(|n| {
                let not_null = cols.iter().any(|c| c.name == n && c.not_null);
                (n, not_null)
            })
            .collect();
        out.push(GlobalUnique { columns });
    }
    Ok(out)
}

/// True when a column holds a generated key or token that can be made anew.
fn is_generated_key(column: &str) -> bool {
    ["key", "path", "token", "session"].iter().any(|k| column.contains(k))
}

/// A new value like `old` (same prefix up to the first `_`).
fn fresh_key(old: &str) -> String {
    let prefix = old.split_once('_').map(|(p, _)| p).filter(|p| p.len() <= 8);
    let token = crate::crypto::random_token(18);
    match prefix {
        Some(p) => format!("{p}_{token}"),
        None => token,
    }
}

/// A new value for a generated key: text keeps its prefix; a stored hash
/// becomes random bytes (the old token no longer works: rotate it).
fn fresh_value(old: Option<&Value>) -> Option<Value> {
    match old? {
        Value::String(s) => Some(Value::from(fresh_key(s))),
        Value::Object(o) if o.contains_key("$blob") => {
            Some(super::bundle::to_json(SqlValue::Blob(rand::random::<[u8; 32]>().to_vec())))
        }
        _ => None,
    }
}

/// Resolves server-wide unique values that are taken; `None` skips the row.
fn free_uniques(
    conn: &Connection,
    table: &str,
    uniques: &[GlobalUnique],
    mut row: Row,
    conflicts: &mut BTreeMap<(String, Vec<String>, &'static str), usize>,
) -> AppResult<Option<Row>> {
    for unique in uniques {
        let values: Vec<SqlValue> = unique
            .columns
            .iter()
            .map(|(c, _)| row.get(c).map_or(Ok(SqlValue::Null), from_json))
            .collect::<AppResult<_>>()?;
        if values.iter().any(|v| matches!(v, SqlValue::Null)) {
            continue;
        }
        let matches = unique
            .columns
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("\"{c}\" = ?{}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ");
        let taken: bool = conn
            .prepare_cached(&format!("SELECT EXISTS (SELECT 1 FROM \"{table}\" WHERE {matches})"))?
            .query_row(rusqlite::params_from_iter(values.iter()), |r| r.get(0))?;
        if !taken {
            continue;
        }
        let names: Vec<String> = unique.columns.iter().map(|(c, _)| c.clone()).collect();
        let resolution = if unique.columns.iter().all(|(_, not_null)| !not_null) {
            for (c, _) in &unique.columns {
                row.insert(c.clone(), Value::Null);
            }
            "cleared"
        } else if let [(c, _)] = unique.columns.as_slice()
            && is_generated_key(c)
            && let Some(fresh) = fresh_value(row.get(c))
        {
            row.insert(c.clone(), fresh);
            "regenerated"
        } else {
            *conflicts.entry((table.to_owned(), names, "skipped")).or_default() += 1;
            return Ok(None);
        };
        *conflicts.entry((table.to_owned(), names, resolution)).or_default() += 1;
    }
    Ok(Some(row))
}

/// Tenant tables that triggers write when a row is inserted somewhere.
fn trigger_targets(conn: &Connection) -> AppResult<BTreeSet<String>> {
    let mut stmt = conn.prepare("SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND sql IS NOT NULL")?;
    let sqls: Vec<String> = stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut out = BTreeSet::new();
    for sql in sqls {
        let upper = sql.to_ascii_uppercase();
        let Some(begin) = upper.find("BEGIN") else { continue };
        let header: Vec<&str> = upper[..begin].split_whitespace().collect();
        if !header.windows(2).any(|w| w == ["INSERT", "ON"]) {
            continue;
        }
        let words: Vec<&str> = sql[begin..].split_whitespace().collect();
        for pair in words.windows(2) {
            let verb = pair[0].to_uppercase();
            if verb == "UPDATE" || verb == "INTO" {
                let name = pair[1].trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
                if !name.eq_ignore_ascii_case("SET") && !name.is_empty() {
                    out.insert(name.to_owned());
                }
            }
        }
    }
    let tenant: BTreeSet<String> = super::engine::tenant_tables(conn)?.into_iter().collect();
    Ok(out.intersection(&tenant).cloned().collect())
}

/// Inserts the new `organizations` row from the archived one.
fn insert_organization(
    conn: &Connection,
    row: &Row,
    options: &OrgImportOptions,
    warnings: &mut BTreeSet<String>,
) -> AppResult<i64> {
    let name = row.get("name").and_then(Value::as_str).unwrap_or("Imported organization").to_owned();
    let mut names = vec!["slug".to_owned(), "owner_id".to_owned()];
    let mut values =
        vec![SqlValue::Text(crate::orgs::service::slug_candidate(&name)), SqlValue::Integer(options.owner.0)];
    for col in columns(conn, "organizations")?.into_iter().filter(|c| !c.generated) {
        let skip = ["id", "slug", "owner_id", "stripe_customer_id", "stripe_subscription_id"]
            .contains(&col.name.as_str())
            || (!options.keep_plan && ORG_BILLING.contains(&col.name.as_str()));
        let Some(raw) = row.get(&col.name).filter(|_| !skip) else { continue };
        let value = from_json(raw)?;
        if col.name == "plan_tier" {
            let known: bool =
                conn.query_row("SELECT EXISTS (SELECT 1 FROM subscription_plans WHERE name = ?1)", [&value], |r| {
                    r.get(0)
                })?;
            if !known {
                warnings
                    .insert("organizations.plan_tier: this server has no such plan; the default plan applies".into());
                continue;
            }
        }
        if matches!(value, SqlValue::Null) && col.not_null {
            continue;
        }
        names.push(col.name);
        values.push(value);
    }
    if !options.keep_plan && ORG_BILLING.iter().any(|c| row.get(*c).is_some()) {
        warnings.insert(
            "organizations.plan_tier: the plan is set by a superadmin on this server; the default plan applies".into(),
        );
    }
    let list = names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let placeholders = (1..=names.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    let id = conn.query_row(
        &format!("INSERT INTO organizations ({list}) VALUES ({placeholders}) RETURNING id"),
        rusqlite::params_from_iter(values.iter()),
        |r| r.get(0),
    )?;
    Ok(id)
}

/// Matches the archived member accounts with this server's accounts by email.
fn match_members(conn: &Connection, rows: &[Row], map: &mut IdMap) -> AppResult<(Vec<String>, Vec<String>)> {
    map.declare("users");
    let (mut matched, mut missing) = (Vec::new(), Vec::new());
    for row in rows {
        let (Some(old), Some(email)) =
            (row.get("id").and_then(Value::as_i64), row.get("email").and_then(Value::as_str))
        else {
            continue;
        };
        let found: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT id FROM users WHERE lower(email) = lower(?1)",
            [email],
            |r| r.get(0),
        ))?;
        match found {
            Some(id) => {
                map.insert("users", old, id);
                matched.push(email.to_owned());
            }
            None => missing.push(email.to_owned()),
        }
    }
    Ok((matched, missing))
}

/// Puts back the values triggers changed during the import (counters), then
/// removes the rows triggers added.
fn undo_trigger_writes(conn: &Connection, org: i64, map: &IdMap, targets: &BTreeSet<String>) -> AppResult<()> {
    for (table, id, values) in &map.inserted {
        let list = values.iter().map(|(c, _)| format!("\"{c}\"")).collect::<Vec<_>>().join(", ");
        let now: Vec<SqlValue> = conn
            .prepare_cached(&format!("SELECT {list} FROM \"{table}\" WHERE id = ?1"))?
            .query_row([id], |r| (0..values.len()).map(|i| r.get(i)).collect())?;
        let changed: Vec<&(String, SqlValue)> =
            values.iter().zip(&now).filter(|(v, n)| v.1 != **n).map(|(v, _)| v).collect();
        if changed.is_empty() {
            continue;
        }
        let set = changed
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("\"{c}\" = ?{}", i + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let id_value = SqlValue::Integer(*id);
        let mut params: Vec<&SqlValue> = vec![&id_value];
        params.extend(changed.iter().map(|(_, v)| v));
        conn.execute(&format!("UPDATE \"{table}\" SET {set} WHERE id = ?1"), rusqlite::params_from_iter(params))?;
    }
    for table in targets {
        let ids = serde_json::to_string(&map.new_ids(table)).map_err(AppError::internal)?;
        conn.execute(
            &format!(
                "DELETE FROM \"{table}\" WHERE organization_id = ?1 AND id NOT IN (SELECT value FROM json_each(?2))"
            ),
            rusqlite::params![org, ids],
        )?;
    }
    Ok(())
}

/// Flow documents name knowledge bases by id (a knowledge step's
/// `knowledge_base_id`): once every knowledge base has its new id, the
/// imported flows are rewritten, keeping their `updated_at` (the first update
/// lets the `updated_at` trigger stamp the time, the second puts it back).
fn remap_flow_knowledge_bases(conn: &Connection, org: i64, map: &IdMap) -> AppResult<()> {
    let flows: Vec<(i64, String, String)> = conn
        .prepare("SELECT id, flow_data, updated_at FROM bot_flows WHERE organization_id = ?1 AND flow_data LIKE '%knowledge_base_id%'")?
        .query_map([org], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (id, data, updated_at) in flows {
        let Ok(mut doc) = serde_json::from_str::<Value>(&data) else { continue };
        super::bot::remap_flow_kbs(&mut doc, map);
        let remapped = doc.to_string();
        if remapped != data {
            conn.execute("UPDATE bot_flows SET flow_data = ?2 WHERE id = ?1", rusqlite::params![id, remapped])?;
            conn.execute("UPDATE bot_flows SET updated_at = ?2 WHERE id = ?1", rusqlite::params![id, updated_at])?;
        }
    }
    Ok(())
}

/// Imports an organization export as a new organization (see the module
/// comment), inside the caller's write transaction.
pub fn import_org(
    conn: &Connection,
    bundle: &Bundle,
    options: &OrgImportOptions,
) -> AppResult<PortabilityOrgImportReport> {
    if bundle.manifest.kind != "organization" {
        return Err(AppError::new(
            ErrorCode::ExportKindMismatch,
            format!(
                "the file is a `{}` export, not an organization export (import a bot with POST /orgs/{{org_id}}/bots/import)",
                bundle.manifest.kind
            ),
        )
        .with_details(json!({ "field": "file", "kind": bundle.manifest.kind })));
    }
    conn.execute_batch("SAVEPOINT portability_org_import")?;
    let result = import_inner(conn, bundle, options);
    if options.dry_run || result.is_err() {
        conn.execute_batch("ROLLBACK TO portability_org_import; RELEASE portability_org_import")?;
    } else {
        conn.execute_batch("RELEASE portability_org_import")?;
    }
    result.map(|mut report| {
        if options.dry_run {
            report.organization_id = None;
        }
        report
    })
}

fn table_rows<'a>(bundle: &'a Bundle, table: &str) -> Option<&'a [Row]> {
    bundle.tables.iter().find(|(t, _)| t == table).map(|(_, rows)| rows.as_slice())
}

#[allow(
    clippy::too_many_lines,
    reason = "one pass over the archive's tables, then the owner, the counters and the report"
)]
fn import_inner(
    conn: &Connection,
    bundle: &Bundle,
    options: &OrgImportOptions,
) -> AppResult<PortabilityOrgImportReport> {
    let invalid =
        |m: String| AppError::new(ErrorCode::ExportArchiveInvalid, m).with_details(json!({ "field": "file" }));
    let Some([org_row]) = table_rows(bundle, "organizations") else {
        return Err(invalid("an organization export holds exactly one `organizations` row".into()));
    };
    let mut warnings = BTreeSet::new();
    let org = insert_organization(conn, org_row, options, &mut warnings)?;
    let organization_name: String =
        conn.query_row("SELECT name FROM organizations WHERE id = ?1", [org], |r| r.get(0))?;
    let target = Target { org_id: org, actor: Some(options.owner.0) };
    let tenant = Tenant::system(OrgId(org), "organization import writes the imported chunks' vectors");
    let mut map = IdMap::default();
    let (members_matched, members_missing) =
        match_members(conn, table_rows(bundle, "users").unwrap_or_default(), &mut map)?;
    let tenant_tables: BTreeSet<String> = super::engine::tenant_tables(conn)?.into_iter().collect();
    let targets = trigger_targets(conn)?;
    map.record.clone_from(&targets);
    let mut conflicts = BTreeMap::new();
    // Parents first by this server's schema (whatever order the file has).
    let present: Vec<String> =
        bundle.tables.iter().map(|(t, _)| t.clone()).filter(|t| tenant_tables.contains(t)).collect();
    let mut order = super::engine::parents_first(conn, &present)?;
    order.extend(bundle.tables.iter().map(|(t, _)| t.clone()).filter(|t| !tenant_tables.contains(t)));
    map.pending = present.into_iter().collect();
    for table in &order {
        let Some(rows) = table_rows(bundle, table) else { continue };
        if table == "organizations" || table == "users" {
            continue;
        }
        if let Some((_, reason)) = NOT_CARRIED.iter().find(|(t, _)| t == table) {
            for row in rows {
                map.skip(table, row.get("id").and_then(Value::as_i64), reason);
            }
            map.pending.remove(table);
            continue;
        }
        if !tenant_tables.contains(table) {
            return Err(AppError::new(
                ErrorCode::ExportArchiveInvalid,
                format!("the archive has rows of `{table}`, which is not a table of an organization on this server"),
            )
            .with_details(json!({ "field": "file", "table": table })));
        }
        let cols = columns(conn, table)?;
        let secrets: Vec<(String, bool)> =
            cols.iter().filter(|c| c.name.ends_with("_encrypted")).map(|c| (c.name.clone(), c.not_null)).collect();
        let uniques = global_uniques(conn, table)?;
        let done = insert_rows(conn, &target, table, rows, &mut map, &mut warnings, |conn, mut row, _| {
            for (secret, required) in &secrets {
                if row.get(secret).is_some_and(|v| !v.is_null()) {
                    if *required {
                        return Ok(Prepared::Skip(format!(
                            "{secret}: its secret is sealed with the source server's key; create it again"
                        )));
                    }
                    row.insert(secret.clone(), Value::Null);
                }
            }
            if table == "chunks" {
                row.remove(super::bot::VECTOR_KEY);
            }
            Ok(match free_uniques(conn, table, &uniques, row, &mut conflicts)? {
                Some(row) => Prepared::Insert(row),
                None => Prepared::Skip("a value that must be unique on this server is taken".into()),
            })
        })?;
        for (secret, _) in &secrets {
            if rows.iter().any(|r| r.get(secret).is_some_and(|v| !v.is_null())) {
                warnings.insert(format!(
                    "{table}.{secret}: sealed with the source server's key; enter it again (rows that need it were left out)"
                ));
            }
        }
        if table == "chunks" {
            super::bot::write_vectors(conn, &tenant, rows, &done, &mut warnings)?;
        }
    }
    undo_trigger_writes(conn, org, &map, &targets)?;
    super::engine::fill_deferred(conn, &map, &mut warnings)?;
    remap_flow_knowledge_bases(conn, org, &map)?;
    // The importing user owns the new organization.
    let owner_role = crate::orgs::store::builtin_role_id(conn, crate::permissions::BuiltinRole::Owner)?;
    let updated = conn.execute(
        "UPDATE organization_members SET role_id = ?3 WHERE organization_id = ?1 AND user_id = ?2",
        rusqlite::params![org, options.owner, owner_role],
    )?;
    if updated == 0 {
        crate::orgs::store::insert_member(conn, OrgId(org), options.owner, owner_role, None)?;
    }
    crate::billing::usage::refresh_seats(conn, OrgId(org))?;
    let mut created: BTreeMap<String, usize> = BTreeMap::new();
    created.insert("organizations".into(), 1);
    for (table, _) in &bundle.tables {
        if table != "organizations" && table != "users" {
            created.insert(table.clone(), map.new_ids(table).len());
        }
    }
    let skipped = map
        .skipped
        .iter()
        .flat_map(|(table, reasons)| {
            reasons.iter().map(|(reason, rows)| PortabilitySkipped {
                table: table.clone(),
                reason: reason.clone(),
                rows: *rows,
            })
        })
        .collect();
    let conflicts = conflicts
        .into_iter()
        .map(|((table, columns, resolution), rows)| PortabilityConflict {
            table,
            columns,
            resolution: resolution.to_owned(),
            rows,
        })
        .collect();
    Ok(PortabilityOrgImportReport {
        dry_run: options.dry_run,
        kind: bundle.manifest.kind.clone(),
        format_version: bundle.manifest.format_version,
        botbuilder_version: bundle.manifest.botbuilder_version.clone(),
        organization_id: Some(org),
        organization_name,
        created,
        skipped,
        conflicts,
        members_matched,
        members_missing,
        warnings: warnings.into_iter().collect(),
    })
}
