//! Orchestrations: which flow conversations enter, the transitions between
//! flows (`on_complete`, `on_condition`, `on_intent`, `on_keyword`) and the
//! typed variables (global, session, flow). The active orchestration of a
//! bot applies to its conversations at once (no draft), so changing one
//! needs `flows.publish`.

use std::collections::{HashMap, HashSet};

use rusqlite::Connection;
use serde_json::{Value, json};

use super::compile::{check_flow_name, check_variable_name, compile_condition};
use super::document::ConditionDoc;
use super::engine::{Transition, Trigger, VarDecl, VarScope, VarType, coerce};
use super::model::{Orchestration, OrchestrationId, OrchestrationRequest, TransitionDoc, TriggerType, VariableDoc};
use super::store::{self, OrchestrationFields, OrchestrationRow};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

fn not_found() -> AppError {
    AppError::new(ErrorCode::OrchestrationNotFound, "no such orchestration")
}

fn var_type_name(t: VarType) -> &'static str {
    match t {
        VarType::String => "string",
        VarType::Number => "number",
        VarType::Boolean => "boolean",
        VarType::Date => "date",
        VarType::List => "list",
        VarType::Object => "object",
    }
}

fn parse_var_type(s: &str) -> VarType {
    match s {
        "number" => VarType::Number,
        "boolean" => VarType::Boolean,
        "date" => VarType::Date,
        "list" => VarType::List,
        "object" => VarType::Object,
        _ => VarType::String,
    }
}

fn scope_name(s: VarScope) -> &'static str {
    match s {
        VarScope::Global => "global",
        VarScope::Session => "session",
        VarScope::Flow => "flow",
    }
}

fn parse_scope(s: &str) -> VarScope {
    match s {
        "global" => VarScope::Global,
        "flow" => VarScope::Flow,
        _ => VarScope::Session,
    }
}

/// A validated request, ready to store.
struct Checked {
    name: String,
    description: Option<String>,
    is_active: bool,
    entry_flow: String,
    transitions: Vec<(String, String, &'static str, String, i64)>,
    variables: Vec<(String, &'static str, Option<String>, &'static str)>,
}

/// Compiles a transition's trigger.
fn trigger_of(t: TriggerType, value: &Value) -> Result<Trigger, (String, String)> {
    match t {
        TriggerType::OnComplete => {
            if value.is_null() || value.as_object().is_some_and(serde_json::Map::is_empty) {
                Ok(Trigger::OnComplete)
            } else {
                Err((String::new(), "on_complete takes no value ({})".into()))
            }
        }
        TriggerType::OnIntent => match value.get("intent").and_then(Value::as_str) {
            Some(i) if !i.trim().is_empty() && value.as_object().is_some_and(|o| o.len() == 1) => {
                Ok(Trigger::OnIntent(i.trim().to_owned()))
            }
            _ => Err(("intent".into(), "on_intent needs {\"intent\": \"name\"}".into())),
        },
        TriggerType::OnKeyword => {
            let words: Option<Vec<String>> = value.get("keywords").and_then(Value::as_array).map(|a| {
                a.iter().filter_map(Value::as_str).map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect()
            });
            match words {
                Some(w) if !w.is_empty() && w.len() <= 100 && value.as_object().is_some_and(|o| o.len() == 1) => {
                    Ok(Trigger::OnKeyword(w))
                }
                _ => Err((
                    "keywords".into(),
                    "on_keyword needs {\"keywords\": [\"…\"]} with at least one keyword".into(),
                )),
            }
        }
        TriggerType::OnCondition => {
            let doc: ConditionDoc =
                serde_json::from_value(value.clone()).map_err(|e| (String::new(), format!("not a condition: {e}")))?;
            compile_condition(&doc).map(Trigger::OnCondition)
        }
    }
}

fn check(req: OrchestrationRequest, current_active: bool) -> AppResult<Checked> {
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::validation("name", "must be 1–100 characters"));
    }
    let description = req.description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
        return Err(AppError::validation("description", "at most 2000 characters"));
    }
    let entry_flow = req.entry_flow.unwrap_or_else(|| "main".to_owned());
    check_flow_name(&entry_flow).map_err(|m| AppError::validation("entry_flow", m))?;
    if req.transitions.len() > 200 {
        return Err(AppError::validation("transitions", "at most 200 transitions"));
    }
    if req.variables.len() > 500 {
        return Err(AppError::validation("variables", "at most 500 variables"));
    }
    let mut transitions = Vec::new();
    for (i, t) in req.transitions.iter().enumerate() {
        if t.from_flow != "*" {
            check_flow_name(&t.from_flow)
                .map_err(|m| AppError::validation(format!("transitions[{i}].from_flow"), m))?;
        }
        check_flow_name(&t.to_flow).map_err(|m| AppError::validation(format!("transitions[{i}].to_flow"), m))?;
        let value = if t.trigger_value.is_null() { json!({}) } else { t.trigger_value.clone() };
        trigger_of(t.trigger_type, &value).map_err(|(field, message)| {
            let f = if field.is_empty() {
                format!("transitions[{i}].trigger_value")
            } else {
                format!("transitions[{i}].trigger_value.{field}")
            };
            AppError::validation(f, message)
        })?;
        transitions.push((
            t.from_flow.clone(),
            t.to_flow.clone(),
            t.trigger_type.as_str(),
            value.to_string(),
            t.priority,
        ));
    }
    let mut seen = HashSet::new();
    let mut variables = Vec::new();
    for (i, v) in req.variables.iter().enumerate() {
        check_variable_name(&v.name).map_err(|m| AppError::validation(format!("variables[{i}].name"), m))?;
        if !seen.insert(v.name.clone()) {
            return Err(AppError::validation(
                format!("variables[{i}].name"),
                format!("`{}` is declared twice", v.name),
            ));
        }
        let default = match &v.default_value {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                coerce(v.var_type, d.clone())
                    .map_err(|m| AppError::validation(format!("variables[{i}].default_value"), m))?
                    .to_string(),
            ),
        };
        variables.push((v.name.clone(), var_type_name(v.var_type), default, scope_name(v.scope)));
    }
    Ok(Checked {
        name,
        description,
        is_active: req.is_active.unwrap_or(current_active),
        entry_flow,
        transitions,
        variables,
    })
}

fn assemble(conn: &Connection, tenant: &Tenant, row: OrchestrationRow) -> AppResult<Orchestration> {
    let transitions = store::transitions(conn, tenant, row.id)?
        .into_iter()
        .map(|(id, from, to, trigger, value, priority)| TransitionDoc {
            id: Some(id),
            from_flow: from,
            to_flow: to,
            trigger_type: TriggerType::parse(&trigger).unwrap_or(TriggerType::OnComplete),
            trigger_value: serde_json::from_str(&value).unwrap_or(Value::Null),
            priority,
        })
        .collect();
    let variables = store::variables(conn, tenant, row.id)?
        .into_iter()
        .map(|(name, t, default, scope)| VariableDoc {
            name,
            var_type: parse_var_type(&t),
            default_value: default.and_then(|d| serde_json::from_str(&d).ok()),
            scope: parse_scope(&scope),
        })
        .collect();
    Ok(Orchestration {
        id: row.id,
        bot_id: row.bot_id,
        name: row.name,
        description: row.description,
        is_active: row.is_active,
        entry_flow: row.entry_flow,
        transitions,
        variables,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn map_unique(e: AppError, name: &str) -> AppError {
    if e.code() == ErrorCode::Internal
        && format!("{e:?}").contains("UNIQUE constraint failed: flow_orchestrations.bot_id, flow_orchestrations.name")
    {
        AppError::new(ErrorCode::NameTaken, format!("the bot already has an orchestration named `{name}`"))
            .with_details(json!({ "field": "name" }))
    } else {
        e
    }
}

pub async fn list(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<Vec<Orchestration>> {
    state
        .db
        .read(move |conn| {
            store::orchestrations(conn, &tenant, bot)?.into_iter().map(|r| assemble(conn, &tenant, r)).collect()
        })
        .await
}

pub async fn get(state: &AppState, tenant: Tenant, id: OrchestrationId) -> AppResult<Orchestration> {
    state
        .db
        .read(move |conn| {
            let row = store::orchestration(conn, &tenant, id)?.ok_or_else(not_found)?;
            assemble(conn, &tenant, row)
        })
        .await
}

pub async fn create(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: OrchestrationRequest,
) -> AppResult<Orchestration> {
    let c = check(req, true)?;
    let name = c.name.clone();
    let o = state
        .db
        .write(move |tx| {
            let fields = OrchestrationFields {
                name: &c.name,
                description: c.description.as_deref(),
                is_active: c.is_active,
                entry_flow: &c.entry_flow,
            };
            let id = store::insert_orchestration(tx, &tenant, bot, &fields)?;
            store::replace_children(tx, &tenant, id, &c.transitions, &c.variables)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "orchestration.created", "orchestration", id.0).activity().with_new(
                    json!({ "bot_id": bot, "name": c.name, "entry_flow": c.entry_flow, "is_active": c.is_active }),
                ),
            )?;
            let row = store::orchestration(tx, &tenant, id)?.ok_or_else(not_found)?;
            assemble(tx, &tenant, row)
        })
        .await
        .map_err(|e| map_unique(e, &name))?;
    state.runtime.invalidate_bot(bot);
    Ok(o)
}

pub async fn update(
    state: &AppState,
    tenant: Tenant,
    id: OrchestrationId,
    req: OrchestrationRequest,
) -> AppResult<Orchestration> {
    let name = req.name.trim().to_owned();
    let o = state
        .db
        .write(move |tx| {
            let before = store::orchestration(tx, &tenant, id)?.ok_or_else(not_found)?;
            let c = check(req, before.is_active)?;
            let fields = OrchestrationFields {
                name: &c.name,
                description: c.description.as_deref(),
                is_active: c.is_active,
                entry_flow: &c.entry_flow,
            };
            store::update_orchestration(tx, &tenant, before.bot_id, id, &fields)?;
            store::replace_children(tx, &tenant, id, &c.transitions, &c.variables)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "orchestration.updated", "orchestration", id.0)
                    .with_old(
                        json!({ "name": before.name, "entry_flow": before.entry_flow, "is_active": before.is_active }),
                    )
                    .with_new(json!({ "name": c.name, "entry_flow": c.entry_flow, "is_active": c.is_active,
                                      "transitions": c.transitions.len(), "variables": c.variables.len() })),
            )?;
            let row = store::orchestration(tx, &tenant, id)?.ok_or_else(not_found)?;
            assemble(tx, &tenant, row)
        })
        .await
        .map_err(|e| map_unique(e, &name))?;
    state.runtime.invalidate_bot(o.bot_id);
    Ok(o)
}

pub async fn delete(state: &AppState, tenant: Tenant, id: OrchestrationId) -> AppResult<()> {
    let bot = state
        .db
        .write(move |tx| {
            let before = store::orchestration(tx, &tenant, id)?.ok_or_else(not_found)?;
            store::delete_orchestration(tx, &tenant, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "orchestration.deleted", "orchestration", id.0)
                    .with_old(json!({ "bot_id": before.bot_id, "name": before.name })),
            )?;
            Ok(before.bot_id)
        })
        .await?;
    state.runtime.invalidate_bot(bot);
    Ok(())
}

/// The entry flow, transitions and declared variables the runtime uses
/// (from the active orchestration; `main` and nothing else without one).
pub fn runtime_parts(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
) -> AppResult<(String, Vec<Transition>, HashMap<String, VarDecl>)> {
    let Some(o) = store::active_orchestration(conn, tenant, bot)? else {
        return Ok(("main".to_owned(), Vec::new(), HashMap::new()));
    };
    let mut transitions = Vec::new();
    for (id, from, to, trigger, value, _) in store::transitions(conn, tenant, o.id)? {
        let Some(t) = TriggerType::parse(&trigger) else { continue };
        let value: Value = serde_json::from_str(&value).unwrap_or(Value::Null);
        match trigger_of(t, &value) {
            Ok(trigger) => transitions.push(Transition { id, from, to, trigger }),
            Err((_, m)) => tracing::warn!(transition = id, error = %m, "skipping a transition that no longer compiles"),
        }
    }
    let variables = store::variables(conn, tenant, o.id)?
        .into_iter()
        .map(|(name, t, default, scope)| {
            let decl = VarDecl {
                var_type: parse_var_type(&t),
                default: default.and_then(|d| serde_json::from_str(&d).ok()),
                scope: parse_scope(&scope),
            };
            (name, decl)
        })
        .collect();
    Ok((o.entry_flow, transitions, variables))
}

/// The scope resource of `/orchestrations/{orchestration_id}`.
pub struct OrchestrationResource;

impl crate::http::ScopeResource for OrchestrationResource {
    const PARAM: &'static str = "orchestration_id";
    const NOT_FOUND: ErrorCode = ErrorCode::OrchestrationNotFound;
    type Id = OrchestrationId;
    fn owner(conn: &Connection, id: OrchestrationId) -> rusqlite::Result<Option<crate::http::scope::Owner>> {
        use rusqlite::OptionalExtension;
        conn.query_row("SELECT organization_id, bot_id FROM flow_orchestrations WHERE id = ?1", [id], |r| {
            Ok(crate::http::scope::Owner { org_id: r.get(0)?, bot_id: Some(r.get(1)?) })
        })
        .optional()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_are_checked() {
        assert!(matches!(trigger_of(TriggerType::OnComplete, &json!({})), Ok(Trigger::OnComplete)));
        assert!(trigger_of(TriggerType::OnComplete, &json!({ "x": 1 })).is_err());
        assert!(
            matches!(trigger_of(TriggerType::OnIntent, &json!({ "intent": "buy" })), Ok(Trigger::OnIntent(i)) if i == "buy")
        );
        assert!(trigger_of(TriggerType::OnIntent, &json!({})).is_err());
        assert!(matches!(
            trigger_of(TriggerType::OnKeyword, &json!({ "keywords": ["Invoice", " "] })),
            Ok(Trigger::OnKeyword(k)) if k == ["invoice"]
        ));
        assert!(trigger_of(TriggerType::OnKeyword, &json!({ "keywords": [] })).is_err());
        assert!(trigger_of(TriggerType::OnCondition, &json!({ "expression": "age > 18" })).is_ok());
        assert!(trigger_of(TriggerType::OnCondition, &json!({ "expression": "age >" })).is_err());
        assert!(
            trigger_of(
                TriggerType::OnCondition,
                &json!({ "subject": "variable", "name": "x", "operator": "equals", "value": 1 })
            )
            .is_ok()
        );
    }
}
