//! Flow versions: save (a new draft version), publish, roll back, diff,
//! delete; and building the [`Program`] the engine runs for a bot.
//!
//! Every save inserts an immutable `bot_flows` row and an `entity_versions`
//! snapshot on the flow's `draft` branch; publishing marks the version active
//! and moves the `main` branch (the published line) to it; a rollback is a
//! publication of an earlier version. The flow's identity in the generic
//! version tables is the id of its first `bot_flows` row.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rusqlite::Connection;
use serde_json::{Value, json};

use super::compile::{Issue, Severity, as_draft, check_flow_name, compile};
use super::diff;
use super::document::FlowDocument;
use super::engine::{EngineSettings, FlowVersion, Program};
use super::model::{
    DiffParams, DuplicateFlowRequest, FlowDetail, FlowDiff, FlowSummary, FlowVersionView, PublishRequest,
    PublishResponse, RenameFlowRequest, RenameFlowResponse, RollbackRequest, SaveFlowRequest, SaveFlowResponse,
    ValidationReport, VersionRow,
};
use super::orchestration;
use super::store::{self, NewVersion};
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

/// Largest flow document, in bytes of JSON.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

fn flow_not_found(name: &str) -> AppError {
    AppError::new(ErrorCode::FlowNotFound, format!("the bot has no flow named `{name}`"))
}

fn version_not_found(name: &str, v: i64) -> AppError {
    AppError::new(ErrorCode::FlowVersionNotFound, format!("flow `{name}` has no version {v}"))
}

/// Checks a flow name from the path.
pub fn check_name(name: &str) -> AppResult<()> {
    check_flow_name(name).map_err(|m| AppError::validation("flow_name", m))
}

fn check_message(m: Option<&str>) -> AppResult<Option<String>> {
    match m.map(str::trim) {
        Some(t) if t.chars().count() > 500 => Err(AppError::validation("message", "at most 500 characters")),
        Some("") | None => Ok(None),
        Some(t) => Ok(Some(t.to_owned())),
    }
}

fn parse_doc(row: &VersionRow) -> AppResult<FlowDocument> {
    serde_json::from_str(&row.data)
        .map_err(|e| AppError::internal(anyhow::anyhow!("flow version {} does not parse: {e}", row.view.id)))
}

fn with_document(row: &VersionRow) -> AppResult<FlowVersionView> {
    let mut view = row.view.clone();
    view.document = Some(parse_doc(row)?);
    Ok(view)
}

/// The `jump` nodes of a document: (node id, target flow).
fn jumps_of(doc: &FlowDocument) -> Vec<(String, String)> {
    doc.nodes
        .iter()
        .filter(|n| n.kind == "jump")
        .filter_map(|n| n.data.get("flow").and_then(Value::as_str).map(|f| (n.id.clone(), f.to_owned())))
        .collect()
}

/// Everything that stops a document from being published: compile errors
/// (and warnings), plus jumps to flows the bot does not have.
fn publish_issues(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    doc: &FlowDocument,
) -> AppResult<Vec<Issue>> {
    let compiled = compile(doc);
    let mut issues = compiled.issues;
    if let Some(graph) = &compiled.graph {
        let names: Vec<&str> = graph.entities.keys().map(String::as_str).collect();
        for entity in crate::nlu::service::unlearned_entities(conn, tenant, bot, &names)? {
            let node = graph.entities.get(&entity).map_or("", String::as_str);
            issues.push(
                Issue::warning(
                    "entity_not_annotated",
                    format!(
                        "entity `{entity}` is not a list, regex or system entity and no example annotates it, \
                         so it will never be found"
                    ),
                )
                .node(node),
            );
        }
    }
    let jumps = jumps_of(doc);
    if !jumps.is_empty() {
        let existing: HashSet<String> =
            store::heads(conn, tenant, bot)?.into_iter().map(|(d, _)| d.view.name).collect();
        let mut seen = HashSet::new();
        for (node, target) in jumps {
            if target != name && !existing.contains(&target) && seen.insert(target.clone()) {
                issues.push(
                    Issue::error("unknown_flow", format!("flow `{target}` does not exist"))
                        .node(&node)
                        .field("data.flow"),
                );
            }
        }
    }
    Ok(issues)
}

/// Issues of a draft: only a malformed or oversized document is an error;
/// what is merely unfinished is a warning that blocks publishing.
fn issues_of(conn: &Connection, tenant: &Tenant, bot: BotId, name: &str, doc: &FlowDocument) -> AppResult<Vec<Issue>> {
    Ok(as_draft(publish_issues(conn, tenant, bot, name, doc)?))
}

fn refuse(issues: &[Issue]) -> AppResult<()> {
    let errors: Vec<&Issue> = issues.iter().filter(|i| i.severity == Severity::Error).collect();
    if errors.is_empty() {
        return Ok(());
    }
    let first = errors[0];
    let count = errors.len();
    Err(AppError::new(
        ErrorCode::FlowInvalid,
        format!(
            "the flow has {count} error{}; first: {}{}",
            if count == 1 { "" } else { "s" },
            first.node_id.as_deref().map(|n| format!("node `{n}`: ")).unwrap_or_default(),
            first.message
        ),
    )
    .with_details(json!({ "issues": issues })))
}

/// The bot's flows.
pub async fn list(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<Vec<FlowSummary>> {
    state
        .db
        .read(move |conn| {
            let entry = entry_flow(conn, &tenant, bot)?;
            Ok(store::heads(conn, &tenant, bot)?
                .into_iter()
                .map(|(d, p)| FlowSummary {
                    is_entry: d.view.name == entry,
                    name: d.view.name.clone(),
                    draft_version: d.view.version,
                    published_version: p.as_ref().map(|p| p.view.version),
                    has_unpublished_changes: p.as_ref().is_none_or(|p| p.data != d.data),
                    updated_at: d.view.created_at.clone(),
                    published_at: p.and_then(|p| p.view.published_at),
                })
                .collect())
        })
        .await
}

/// A flow's draft and published versions.
pub async fn get(state: &AppState, tenant: Tenant, bot: BotId, name: String) -> AppResult<FlowDetail> {
    check_name(&name)?;
    state
        .db
        .read(move |conn| {
            let draft = store::draft(conn, &tenant, bot, &name)?.ok_or_else(|| flow_not_found(&name))?;
            let published = store::published(conn, &tenant, bot, &name)?;
            let doc = parse_doc(&draft)?;
            let issues = issues_of(conn, &tenant, bot, &name, &doc)?;
            Ok(FlowDetail {
                name: name.clone(),
                draft: with_document(&draft)?,
                published: published.as_ref().map(with_document).transpose()?,
                issues,
            })
        })
        .await
}

/// Validates a document without saving it.
pub async fn validate(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    doc: FlowDocument,
) -> AppResult<ValidationReport> {
    check_name(&name)?;
    state
        .db
        .read(move |conn| {
            let issues = issues_of(conn, &tenant, bot, &name, &doc)?;
            Ok(ValidationReport {
                valid: !issues.iter().any(|i| i.severity == Severity::Error),
                publishable: !issues.iter().any(|i| i.severity == Severity::Error || i.blocks_publish),
                issues,
            })
        })
        .await
}

/// Saves a new draft version (nothing when it equals the current draft).
pub async fn save(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    req: SaveFlowRequest,
) -> AppResult<SaveFlowResponse> {
    check_name(&name)?;
    let message = check_message(req.message.as_deref())?;
    let data = serde_json::to_string(&req.document).map_err(AppError::internal)?;
    if data.len() > MAX_DOCUMENT_BYTES {
        return Err(AppError::validation("document", format!("the flow is larger than {MAX_DOCUMENT_BYTES} bytes")));
    }
    let doc = req.document;
    let autosave = req.autosave;
    let response = state
        .db
        .write(move |tx| {
            let issues = issues_of(tx, &tenant, bot, &name, &doc)?;
            refuse(&issues)?;
            let head = store::draft(tx, &tenant, bot, &name)?;
            if let Some(h) = head.as_ref().filter(|h| h.data == data) {
                return Ok(SaveFlowResponse { version: h.view.clone(), created: false, issues });
            }
            let version = head.as_ref().map_or(1, |h| h.view.version + 1);
            let id = store::insert_version(
                tx,
                &tenant,
                bot,
                &NewVersion { name: &name, version, data: &data, message: message.as_deref(), autosave },
            )?;
            let entity = store::flow_entity_id(tx, &tenant, bot, &name)?.unwrap_or(id);
            let ev = store::insert_entity_version(tx, &tenant, entity, version, &data, message.as_deref())?;
            store::move_branch(tx, &tenant, entity, "draft", ev)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "flow.saved", "flow", id)
                    .with_new(json!({ "bot_id": bot, "name": name, "version": version, "message": message })),
            )?;
            let saved = store::version(tx, &tenant, bot, &name, version)?.ok_or_else(|| flow_not_found(&name))?;
            Ok(SaveFlowResponse { version: saved.view, created: true, issues })
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(response)
}

/// Versions of a flow, newest first.
pub async fn versions(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    page: PageParams,
) -> AppResult<Page<FlowVersionView>> {
    check_name(&name)?;
    let before = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |conn| {
            let rows = store::versions(conn, &tenant, bot, &name, before, limit)?;
            if rows.is_empty() && before.is_none() {
                return Err(flow_not_found(&name));
            }
            Ok(rows.into_iter().map(|r| r.view).collect::<Vec<_>>())
        })
        .await?;
    Page::from_rows(rows, &page, |v| v.version)
}

/// One version with its document.
pub async fn version(state: &AppState, tenant: Tenant, bot: BotId, name: String, v: i64) -> AppResult<FlowVersionView> {
    check_name(&name)?;
    state
        .db
        .read(move |conn| {
            let row = store::version(conn, &tenant, bot, &name, v)?.ok_or_else(|| version_not_found(&name, v))?;
            with_document(&row)
        })
        .await
}

fn resolve(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    which: &str,
    field: &str,
) -> AppResult<VersionRow> {
    match which {
        "draft" => store::draft(conn, tenant, bot, name)?.ok_or_else(|| flow_not_found(name)),
        "published" => store::published(conn, tenant, bot, name)?.ok_or_else(|| {
            AppError::new(ErrorCode::FlowVersionNotFound, format!("flow `{name}` has no published version"))
        }),
        n => {
            let v: i64 =
                n.parse().map_err(|_| AppError::validation(field, "a version number, `draft` or `published`"))?;
            store::version(conn, tenant, bot, name, v)?.ok_or_else(|| version_not_found(name, v))
        }
    }
}

/// What changed between two versions (default: published → draft).
pub async fn diff(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    params: DiffParams,
) -> AppResult<FlowDiff> {
    check_name(&name)?;
    state
        .db
        .read(move |conn| {
            store::draft(conn, &tenant, bot, &name)?.ok_or_else(|| flow_not_found(&name))?;
            let from = resolve(conn, &tenant, bot, &name, params.from.as_deref().unwrap_or("published"), "from")?;
            let to = resolve(conn, &tenant, bot, &name, params.to.as_deref().unwrap_or("draft"), "to")?;
            Ok(diff::diff(from.view.version, &parse_doc(&from)?, to.view.version, &parse_doc(&to)?))
        })
        .await
}

fn publish_in(
    tx: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
    row: &VersionRow,
    message: Option<&str>,
    action: &str,
) -> AppResult<()> {
    // Drafts save unfinished; publishing needs every issue fixed (and a
    // version saved before a validation rule existed must pass today's).
    let doc = parse_doc(row)?;
    refuse(&publish_issues(tx, tenant, bot, name, &doc)?)?;
    let before = store::published(tx, tenant, bot, name)?.map(|p| p.view.version);
    store::publish(tx, tenant, bot, row.view.id, message, &now())?;
    let entity = store::flow_entity_id(tx, tenant, bot, name)?.unwrap_or(row.view.id);
    let ev = match store::entity_version_id(tx, tenant, entity, row.view.version)? {
        Some(id) => id,
        None => {
            store::insert_entity_version(tx, tenant, entity, row.view.version, &row.data, row.view.message.as_deref())?
        }
    };
    store::move_branch(tx, tenant, entity, "main", ev)?;
    audit::record(
        tx,
        &AuditEntry::by(tenant, action, "flow", row.view.id).with_old(json!({ "published_version": before })).with_new(
            json!({ "bot_id": bot, "name": name, "published_version": row.view.version, "message": message }),
        ),
    )
}

/// Publishes a version (default: the draft). The bot's conversation tests
/// run first against what would go live; failures warn, or refuse the
/// publish when the bot's `block_publish_on_test_failure` is on.
pub async fn publish(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    req: PublishRequest,
) -> AppResult<PublishResponse> {
    check_name(&name)?;
    let message = check_message(req.message.as_deref())?;
    let (t, n) = (tenant.clone(), name.clone());
    let row = state
        .db
        .read(move |conn| {
            let row = match req.version {
                Some(v) => store::version(conn, &t, bot, &n, v)?.ok_or_else(|| version_not_found(&n, v))?,
                None => store::draft(conn, &t, bot, &n)?.ok_or_else(|| flow_not_found(&n))?,
            };
            refuse(&publish_issues(conn, &t, bot, &n, &parse_doc(&row)?)?)?;
            Ok(row)
        })
        .await?;
    let mut warnings = Vec::new();
    let tests = crate::bottests::service::run_for_publish(state, &tenant, bot, &row).await?;
    if let Some((run, block)) = &tests
        && run.failed > 0
    {
        let text = format!("{} of {} conversation tests failed", run.failed, run.total);
        if *block {
            return Err(AppError::new(
                ErrorCode::PublishBlockedByTests,
                format!("{text}; the bot's settings block publishing until they pass"),
            )
            .with_details(json!({ "run": run })));
        }
        warnings.push(text);
    }
    let version = row.view.version;
    let view = state
        .db
        .write(move |tx| {
            let row = store::version(tx, &tenant, bot, &name, version)?.ok_or_else(|| flow_not_found(&name))?;
            publish_in(tx, &tenant, bot, &name, &row, message.as_deref(), "flow.published")?;
            let row = store::version(tx, &tenant, bot, &name, version)?.ok_or_else(|| flow_not_found(&name))?;
            Ok(row.view)
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(PublishResponse { version: view, tests: tests.map(|(run, _)| run), warnings })
}

/// Publishes an earlier version again; optionally makes it the draft too.
pub async fn rollback(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    req: RollbackRequest,
) -> AppResult<FlowVersionView> {
    check_name(&name)?;
    let message =
        check_message(req.message.as_deref())?.unwrap_or_else(|| format!("Rollback to version {}", req.version));
    let view = state
        .db
        .write(move |tx| {
            let row = store::version(tx, &tenant, bot, &name, req.version)?
                .ok_or_else(|| version_not_found(&name, req.version))?;
            publish_in(tx, &tenant, bot, &name, &row, Some(&message), "flow.rolled_back")?;
            if req.restore_draft {
                let head = store::draft(tx, &tenant, bot, &name)?.ok_or_else(|| flow_not_found(&name))?;
                if head.data != row.data {
                    let version = head.view.version + 1;
                    let note = format!("Restored version {}", row.view.version);
                    store::insert_version(
                        tx,
                        &tenant,
                        bot,
                        &NewVersion { name: &name, version, data: &row.data, message: Some(&note), autosave: false },
                    )?;
                    let entity = store::flow_entity_id(tx, &tenant, bot, &name)?.unwrap_or(row.view.id);
                    let ev = store::insert_entity_version(tx, &tenant, entity, version, &row.data, Some(&note))?;
                    store::move_branch(tx, &tenant, entity, "draft", ev)?;
                }
            }
            let row = store::version(tx, &tenant, bot, &name, req.version)?
                .ok_or_else(|| version_not_found(&name, req.version))?;
            Ok(row.view)
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(view)
}

/// A flow's document with its `jump` nodes to `from` pointed at `to`
/// (`None`: it has none).
fn rewrite_jumps(data: &str, from: &str, to: &str) -> AppResult<Option<String>> {
    let Ok(mut doc) = serde_json::from_str::<FlowDocument>(data) else { return Ok(None) };
    let mut changed = false;
    for n in doc.nodes.iter_mut().filter(|n| n.kind == "jump") {
        if n.data.get("flow").and_then(Value::as_str) == Some(from)
            && let Some(obj) = n.data.as_object_mut()
        {
            obj.insert("flow".into(), Value::String(to.to_owned()));
            changed = true;
        }
    }
    if !changed {
        return Ok(None);
    }
    serde_json::to_string(&doc).map(Some).map_err(AppError::internal)
}

fn jumps_to(data: &str, target: &str) -> bool {
    serde_json::from_str::<FlowDocument>(data).is_ok_and(|d| jumps_of(&d).iter().any(|(_, t)| t == target))
}

/// The name conversations start in: the active orchestration's entry flow, or `main`.
fn entry_flow(conn: &Connection, tenant: &Tenant, bot: BotId) -> AppResult<String> {
    Ok(store::active_orchestration(conn, tenant, bot)?.map_or_else(|| "main".to_owned(), |o| o.entry_flow))
}

/// Adds a version to a flow (and its generic snapshot on `branch`); returns its row id.
fn add_version(tx: &Connection, tenant: &Tenant, bot: BotId, v: &NewVersion<'_>, branch: &str) -> AppResult<i64> {
    let id = store::insert_version(tx, tenant, bot, v)?;
    let entity = store::flow_entity_id(tx, tenant, bot, v.name)?.unwrap_or(id);
    let ev = store::insert_entity_version(tx, tenant, entity, v.version, v.data, v.message)?;
    store::move_branch(tx, tenant, entity, branch, ev)?;
    Ok(id)
}

/// A named version (rename, duplicate).
fn named<'a>(name: &'a str, version: i64, data: &'a str, message: &'a str) -> NewVersion<'a> {
    NewVersion { name, version, data, message: Some(message), autosave: false }
}

fn check_new_name(name: &str, new: &str) -> AppResult<String> {
    let new = new.trim().to_owned();
    check_flow_name(&new).map_err(|m| AppError::validation("new_name", m))?;
    if new == name {
        return Err(AppError::validation("new_name", "the flow already has this name"));
    }
    Ok(new)
}

/// Renames a flow: every version goes along (history kept), the bot's
/// orchestrations follow, and `jump` nodes of the bot's flows that pointed at
/// the old name point at the new one. A draft that jumped there gets a new
/// version; a published version that jumped there is republished with only
/// that change, so what end users run keeps working without publishing
/// anyone's unfinished draft.
pub async fn rename(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    req: RenameFlowRequest,
) -> AppResult<RenameFlowResponse> {
    check_name(&name)?;
    let new = check_new_name(&name, &req.new_name)?;
    let response = state
        .db
        .write(move |tx| {
            let entity = store::flow_entity_id(tx, &tenant, bot, &name)?.ok_or_else(|| flow_not_found(&name))?;
            if store::draft(tx, &tenant, bot, &new)?.is_some() {
                return Err(AppError::new(ErrorCode::NameTaken, format!("the bot already has a flow named `{new}`"))
                    .with_details(json!({ "field": "new_name" })));
            }
            store::rename_flow(tx, &tenant, bot, &name, &new)?;
            store::rename_in_orchestrations(tx, &tenant, bot, &name, &new)?;
            let note = format!("Jump target renamed from `{name}` to `{new}`");
            let mut updated = Vec::new();
            for (draft, published) in store::heads(tx, &tenant, bot)? {
                let flow = draft.view.name.clone();
                let mut next = draft.view.version + 1;
                let mut republished = false;
                if let Some(p) = &published
                    && let Some(data) = rewrite_jumps(&p.data, &name, &new)?
                {
                    let id = add_version(tx, &tenant, bot, &named(&flow, next, &data, &note), "main")?;
                    store::publish(tx, &tenant, bot, id, Some(&note), &now())?;
                    next += 1;
                    republished = true;
                }
                let draft_data = rewrite_jumps(&draft.data, &name, &new)?;
                let draft_changed = draft_data.is_some();
                // After a republish the newest version must again be the draft.
                let draft_is_published = published.as_ref().is_some_and(|p| p.data == draft.data);
                if let Some(data) = draft_data.filter(|_| !(republished && draft_is_published)) {
                    add_version(tx, &tenant, bot, &named(&flow, next, &data, &note), "draft")?;
                } else if republished && !draft_is_published {
                    add_version(tx, &tenant, bot, &named(&flow, next, &draft.data, &note), "draft")?;
                }
                if republished || draft_changed {
                    updated.push(flow);
                }
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "flow.renamed", "flow", entity)
                    .with_old(json!({ "bot_id": bot, "name": name }))
                    .with_new(json!({ "bot_id": bot, "name": new, "updated_flows": updated })),
            )?;
            Ok(RenameFlowResponse { name: new, updated_flows: updated })
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(response)
}

/// Copies a flow's draft into a new flow (its version 1).
pub async fn duplicate(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    name: String,
    req: DuplicateFlowRequest,
) -> AppResult<SaveFlowResponse> {
    check_name(&name)?;
    let new = check_new_name(&name, &req.new_name)?;
    let response = state
        .db
        .write(move |tx| {
            let source = store::draft(tx, &tenant, bot, &name)?.ok_or_else(|| flow_not_found(&name))?;
            if store::draft(tx, &tenant, bot, &new)?.is_some() {
                return Err(AppError::new(ErrorCode::NameTaken, format!("the bot already has a flow named `{new}`"))
                    .with_details(json!({ "field": "new_name" })));
            }
            let note = format!("Duplicated from `{name}` v{}", source.view.version);
            let id = add_version(tx, &tenant, bot, &named(&new, 1, &source.data, &note), "draft")?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "flow.duplicated", "flow", id).with_new(json!({
                    "bot_id": bot, "name": new, "from": name, "from_version": source.view.version
                })),
            )?;
            let row = store::version(tx, &tenant, bot, &new, 1)?.ok_or_else(|| flow_not_found(&new))?;
            let issues = issues_of(tx, &tenant, bot, &new, &parse_doc(&row)?)?;
            Ok(SaveFlowResponse { version: row.view, created: true, issues })
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(response)
}

/// Deletes a flow with all its versions; refused (409 `flow_in_use`) for the
/// bot's entry flow and for flows that other flows or transitions lead to.
pub async fn delete(state: &AppState, tenant: Tenant, bot: BotId, name: String) -> AppResult<()> {
    check_name(&name)?;
    state
        .db
        .write(move |tx| {
            let entity = store::flow_entity_id(tx, &tenant, bot, &name)?.ok_or_else(|| flow_not_found(&name))?;
            let is_entry = entry_flow(tx, &tenant, bot)? == name;
            let flows: Vec<String> = store::heads(tx, &tenant, bot)?
                .into_iter()
                .filter(|(d, p)| {
                    d.view.name != name
                        && (jumps_to(&d.data, &name) || p.as_ref().is_some_and(|p| jumps_to(&p.data, &name)))
                })
                .map(|(d, _)| d.view.name)
                .collect();
            let orchestrations = store::orchestrations_naming(tx, &tenant, bot, &name)?;
            if is_entry || !flows.is_empty() || !orchestrations.is_empty() {
                let why = if is_entry {
                    "it is the bot's entry flow (conversations start there)".to_owned()
                } else if !flows.is_empty() {
                    format!("these flows jump to it: {}", flows.join(", "))
                } else {
                    format!("transitions of these orchestrations lead to it: {}", orchestrations.join(", "))
                };
                return Err(AppError::new(ErrorCode::FlowInUse, format!("flow `{name}` cannot be deleted: {why}"))
                    .with_details(json!({ "entry": is_entry, "flows": flows, "orchestrations": orchestrations })));
            }
            let count = store::delete_flow(tx, &tenant, bot, &name)?;
            store::delete_entity(tx, &tenant, entity)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "flow.deleted", "flow", entity)
                    .activity()
                    .with_old(json!({ "bot_id": bot, "name": name, "versions": count })),
            )
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(())
}

/// Which flows a program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Published,
    Draft,
}

/// Builds what the engine runs for a bot: its published (or newest)
/// flows, active orchestration and canned messages. A stored version that
/// no longer compiles is left out and reported in `skipped`.
pub fn load_program(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    source: Source,
    settings: EngineSettings,
    canned: Vec<super::engine::Canned>,
) -> AppResult<(Program, Vec<String>)> {
    let rows = match source {
        Source::Published => store::all_published(conn, tenant, bot)?,
        Source::Draft => store::all_drafts(conn, tenant, bot)?,
    };
    program_of(conn, tenant, bot, rows, settings, canned)
}

/// What the bot would run if `candidate` were published: its published
/// flows with `candidate` in place of its flow's published version.
pub fn load_candidate(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    candidate: &VersionRow,
    settings: EngineSettings,
    canned: Vec<super::engine::Canned>,
) -> AppResult<(Program, Vec<String>)> {
    let mut rows = store::all_published(conn, tenant, bot)?;
    rows.retain(|r| r.view.name != candidate.view.name);
    rows.push(candidate.clone());
    program_of(conn, tenant, bot, rows, settings, canned)
}

/// The `bot_flows` row id of a flow's version, if it exists.
pub fn version_id(conn: &Connection, tenant: &Tenant, bot: BotId, name: &str, version: i64) -> AppResult<Option<i64>> {
    Ok(store::version(conn, tenant, bot, name, version)?.map(|r| r.view.id))
}

/// What the bot runs with these flow versions in place of the published
/// ones (an A/B experiment's variant): `(flow, version number)`. A version
/// that no longer exists leaves the published one (reported in `skipped`).
pub fn load_with_versions(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    versions: &[(String, i64)],
    settings: EngineSettings,
    canned: Vec<super::engine::Canned>,
) -> AppResult<(Program, Vec<String>)> {
    let mut rows = store::all_published(conn, tenant, bot)?;
    let mut skipped = Vec::new();
    for (name, v) in versions {
        match store::version(conn, tenant, bot, name, *v)? {
            Some(row) => {
                rows.retain(|r| r.view.name != *name);
                rows.push(row);
            }
            None => skipped.push(format!("flow `{name}` version {v} of an experiment no longer exists")),
        }
    }
    let (program, mut more) = program_of(conn, tenant, bot, rows, settings, canned)?;
    skipped.append(&mut more);
    Ok((program, skipped))
}

fn program_of(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    rows: Vec<VersionRow>,
    settings: EngineSettings,
    canned: Vec<super::engine::Canned>,
) -> AppResult<(Program, Vec<String>)> {
    let mut flows = HashMap::new();
    let mut skipped = Vec::new();
    for row in rows {
        let compiled = serde_json::from_str::<FlowDocument>(&row.data).ok().map(|d| compile(&d));
        match compiled.and_then(|c| c.graph) {
            Some(graph) => {
                flows.insert(
                    row.view.name.clone(),
                    Arc::new(FlowVersion {
                        name: row.view.name.clone(),
                        version_id: row.view.id,
                        version: row.view.version,
                        graph,
                    }),
                );
            }
            None => skipped.push(format!("flow `{}` version {} does not compile", row.view.name, row.view.version)),
        }
    }
    let (entry_flow, transitions, variables) = orchestration::runtime_parts(conn, tenant, bot)?;
    let needs_entities =
        flows.values().any(|f: &Arc<FlowVersion>| f.graph.reads.contains("entities") || !f.graph.entities.is_empty());
    Ok((
        Program { flows, entry_flow, transitions, variables, canned, settings, known_intents: None, needs_entities },
        skipped,
    ))
}
