//! Rules of the NLU training data: intents, examples and entities. Every
//! change is validated, audited and drops the bot's serving cache.

use rusqlite::Connection;
use serde_json::json;

use super::entities::{SystemKind, compile_pattern};
use super::model::{
    AddExamplesResponse, Annotation, CreateEntityRequest, CreateIntentRequest, Entity, EntityId, EntityType,
    EntityValue, Example, ExampleId, ExampleInput, Intent, IntentId, NluLogId, UpdateEntityRequest,
    UpdateExampleRequest, UpdateIntentRequest,
};
use super::store::{self, NewEntity, NewIntent};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

/// Longest example text, in characters.
pub const MAX_EXAMPLE_CHARS: usize = 1000;
/// Most examples in one bulk request.
pub const MAX_BULK: usize = 10_000;
/// Most values of a list entity.
pub const MAX_VALUES: usize = 10_000;
/// Most synonyms of one value.
pub const MAX_SYNONYMS: usize = 1_000;

pub(crate) fn intent_not_found() -> AppError {
    AppError::new(ErrorCode::IntentNotFound, "no such intent in this bot")
}

pub(crate) fn entity_not_found() -> AppError {
    AppError::new(ErrorCode::NluEntityNotFound, "no such entity in this bot")
}

fn example_not_found() -> AppError {
    AppError::new(ErrorCode::ExampleNotFound, "no such example in this bot")
}

fn plain(field: &str, raw: &str, max: usize) -> AppResult<String> {
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(AppError::validation(field, format!("must be 1–{max} characters without control characters")));
    }
    Ok(v.to_owned())
}

/// An intent name: 1–100 characters, no control characters.
pub fn check_intent_name(field: &str, raw: &str) -> AppResult<String> {
    crate::names::check_name(field, raw, 100)
}

/// An entity name: 1–100 characters, none of `[](){}` (they delimit
/// annotations in Rasa's format).
pub fn check_entity_name(field: &str, raw: &str) -> AppResult<String> {
    let name = crate::names::check_name(field, raw, 100)?;
    if name.contains(['[', ']', '(', ')', '{', '}', '"']) {
        return Err(AppError::validation(field, "must not contain brackets, braces or quotes"));
    }
    Ok(name)
}

fn optional_text(field: &str, raw: Option<&str>, max: usize) -> AppResult<Option<String>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => {
            Err(AppError::validation(field, format!("must be at most {max} characters")))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

fn check_threshold(field: &str, t: Option<f64>) -> AppResult<Option<f64>> {
    match t {
        Some(v) if !(0.0..=1.0).contains(&v) || v.is_nan() => {
            Err(AppError::validation(field, "must be between 0 and 1"))
        }
        other => Ok(other),
    }
}

/// An example checked: trimmed text, annotations within it and naming
/// their text. Returns the text and the annotations as JSON.
pub fn check_example(field: &str, input: &ExampleInput) -> AppResult<(String, Vec<Annotation>)> {
    let text = input.text.trim();
    let chars: Vec<char> = input.text.chars().collect();
    let lead = input.text.chars().take_while(|c| c.is_whitespace()).count();
    // Line breaks and tabs are whitespace to the tokenizer (pasted multi-line utterances are common).
    if text.is_empty()
        || text.chars().count() > MAX_EXAMPLE_CHARS
        || text.chars().any(|c| c.is_control() && !c.is_whitespace())
    {
        return Err(AppError::validation(
            format!("{field}.text"),
            format!("must be 1–{MAX_EXAMPLE_CHARS} characters without control characters"),
        ));
    }
    let mut annotations = Vec::with_capacity(input.entities.len());
    let length = text.chars().count();
    for (k, a) in input.entities.iter().enumerate() {
        let f = format!("{field}.entities[{k}]");
        check_entity_name(&format!("{f}.entity"), &a.entity)?;
        if a.start >= a.end || a.end > chars.len() || a.start < lead || a.end > lead + length {
            return Err(AppError::validation(
                format!("{f}.end"),
                format!(
                    "start and end must mark a non-empty span of the text ({}..{} is not within 0..{})",
                    a.start,
                    a.end,
                    chars.len()
                ),
            )
            .with_details(
                json!({ "field": format!("{f}.end"), "start": a.start, "end": a.end, "text_length": chars.len() }),
            ));
        }
        let span: String = chars[a.start..a.end].iter().collect();
        if !a.value.is_empty() && a.value != span {
            return Err(AppError::validation(
                format!("{f}.value"),
                format!("the text at {}..{} is {span:?}", a.start, a.end),
            ));
        }
        let role = a.role.as_deref().map(|r| check_entity_name(&format!("{f}.role"), r)).transpose()?;
        let group = a.group.as_deref().map(|g| check_entity_name(&format!("{f}.group"), g)).transpose()?;
        annotations.push((
            k,
            Annotation {
                entity: a.entity.trim().to_owned(),
                value: span,
                start: a.start - lead,
                end: a.end - lead,
                role,
                group,
            },
        ));
    }
    annotations.sort_by_key(|(_, a)| (a.start, a.end));
    if let Some(w) = annotations.windows(2).find(|w| w[1].1.start < w[0].1.end) {
        let ((i, a), (j, b)) = (&w[0], &w[1]);
        let (i, j) = (*i.min(j), *i.max(j));
        return Err(AppError::validation(
            format!("{field}.entities[{j}]"),
            format!(
                "annotations must not overlap: {}..{} and {}..{} share text",
                a.start + lead,
                a.end + lead,
                b.start + lead,
                b.end + lead
            ),
        )
        .with_details(json!({
            "field": format!("{field}.entities[{j}]"),
            "overlaps": format!("{field}.entities[{i}]"),
            "spans": [{ "start": a.start + lead, "end": a.end + lead }, { "start": b.start + lead, "end": b.end + lead }],
        })));
    }
    let annotations = annotations.into_iter().map(|(_, a)| a).collect();
    Ok((text.to_owned(), annotations))
}

/// Most roles an entity declares.
pub const MAX_ROLES: usize = 50;

/// Checks that every role given in `examples` (field prefix, annotations) is
/// one its entity declares: 422 `nlu_role_undeclared` naming the field.
pub fn check_roles(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    examples: &[(String, &[Annotation])],
) -> AppResult<()> {
    let mut declared: std::collections::HashMap<String, Option<Vec<String>>> = std::collections::HashMap::new();
    for (prefix, annotations) in examples {
        for (k, a) in annotations.iter().enumerate() {
            let Some(role) = &a.role else { continue };
            if !declared.contains_key(&a.entity) {
                let roles = store::find_entity_by_name(conn, tenant, bot, &a.entity)?.map(|e| e.roles);
                declared.insert(a.entity.clone(), roles);
            }
            let roles = declared.get(&a.entity).cloned().flatten();
            if roles.as_ref().is_none_or(|r| !r.contains(role)) {
                let field = format!("{prefix}entities[{k}].role");
                let message = match &roles {
                    None => format!(
                        "the role {role:?} needs the entity {:?} declared with it; this bot has no such entity",
                        a.entity
                    ),
                    Some(r) if r.is_empty() => format!("the entity {:?} declares no roles", a.entity),
                    Some(r) => {
                        format!("the entity {:?} declares the roles {} but not {role:?}", a.entity, r.join(", "))
                    }
                };
                return Err(AppError::new(ErrorCode::NluRoleUndeclared, message).with_details(json!({
                    "field": field, "entity": a.entity, "role": role, "declared": roles.unwrap_or_default(),
                })));
            }
        }
    }
    Ok(())
}

/// Annotations of an example, in the order [`check_example`] returns them,
/// paired with their original index for error fields.
fn role_fields(prefix: &str, checked: &[(String, Vec<Annotation>)]) -> Vec<(String, Vec<Annotation>)> {
    checked.iter().enumerate().map(|(i, (_, a))| (format!("{prefix}[{i}]."), a.clone())).collect()
}

// ---- intents ----

pub async fn create_intent(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: CreateIntentRequest,
) -> AppResult<Intent> {
    let name = check_intent_name("name", &req.name)?;
    let display = optional_text("display_name", req.display_name.as_deref(), 200)?;
    let description = optional_text("description", req.description.as_deref(), 2000)?;
    let threshold = check_threshold("confidence_threshold", req.confidence_threshold)?;
    if req.examples.len() > MAX_BULK {
        return Err(AppError::validation("examples", format!("at most {MAX_BULK} per request")));
    }
    let examples: Vec<(String, Vec<Annotation>)> = req
        .examples
        .iter()
        .enumerate()
        .map(|(i, e)| check_example(&format!("examples[{i}]"), e))
        .collect::<AppResult<_>>()?;
    let intent = state
        .db
        .write(move |tx| {
            if store::find_intent_by_name(tx, &tenant, bot, &name)?.is_some() {
                return Err(name_taken("name", &name, "intent"));
            }
            let fields = role_fields("examples", &examples);
            let refs: Vec<(String, &[Annotation])> = fields.iter().map(|(f, a)| (f.clone(), a.as_slice())).collect();
            check_roles(tx, &tenant, bot, &refs)?;
            let new = NewIntent {
                name: &name,
                display_name: display.as_deref(),
                description: description.as_deref(),
                is_active: req.is_active.unwrap_or(true),
                confidence_threshold: threshold,
            };
            let id = store::insert_intent(tx, &tenant, bot, &new)?;
            for (text, ann) in &examples {
                store::insert_example(tx, &tenant, id, text, &serde_json::to_string(ann).unwrap_or_default())?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.intent.created", "intent", id.0)
                    .with_new(json!({ "bot_id": bot, "name": name, "examples": examples.len() })),
            )?;
            store::find_intent(tx, &tenant, bot, id)?.ok_or_else(intent_not_found)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(intent)
}

fn name_taken(field: &str, name: &str, what: &str) -> AppError {
    AppError::new(ErrorCode::NameTaken, format!("this bot already has an {what} named {name:?}"))
        .with_details(json!({ "field": field }))
}

pub async fn get_intent(state: &AppState, tenant: Tenant, bot: BotId, id: IntentId) -> AppResult<Intent> {
    state.db.read(move |c| store::find_intent(c, &tenant, bot, id)?.ok_or_else(intent_not_found)).await
}

pub async fn list_intents(state: &AppState, tenant: Tenant, bot: BotId, page: PageParams) -> AppResult<Page<Intent>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_intents(c, &tenant, bot, after, limit)?)).await?;
    Page::from_rows(rows, &page, |i| i.id.0)
}

pub async fn update_intent(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    id: IntentId,
    req: UpdateIntentRequest,
) -> AppResult<Intent> {
    let name = req.name.as_deref().map(|n| check_intent_name("name", n)).transpose()?;
    let display = req.display_name.map(|d| optional_text("display_name", d.as_deref(), 200)).transpose()?;
    let description = req.description.map(|d| optional_text("description", d.as_deref(), 2000)).transpose()?;
    let threshold = req.confidence_threshold.map(|t| check_threshold("confidence_threshold", t)).transpose()?;
    let intent = state
        .db
        .write(move |tx| {
            let before = store::find_intent(tx, &tenant, bot, id)?.ok_or_else(intent_not_found)?;
            if let Some(n) = &name
                && *n != before.name
                && store::find_intent_by_name(tx, &tenant, bot, n)?.is_some()
            {
                return Err(name_taken("name", n, "intent"));
            }
            let changes = NewIntent {
                name: name.as_deref().unwrap_or(&before.name),
                display_name: display.as_ref().map_or(before.display_name.as_deref(), Option::as_deref),
                description: description.as_ref().map_or(before.description.as_deref(), Option::as_deref),
                is_active: req.is_active.unwrap_or(before.is_active),
                confidence_threshold: threshold.unwrap_or(before.confidence_threshold),
            };
            store::update_intent(tx, &tenant, bot, id, &changes)?;
            let after = store::find_intent(tx, &tenant, bot, id)?.ok_or_else(intent_not_found)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.intent.updated", "intent", id.0)
                    .with_old(json!({ "name": before.name, "is_active": before.is_active, "confidence_threshold": before.confidence_threshold }))
                    .with_new(json!({ "name": after.name, "is_active": after.is_active, "confidence_threshold": after.confidence_threshold })),
            )?;
            Ok(after)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(intent)
}

pub async fn delete_intent(state: &AppState, tenant: Tenant, bot: BotId, id: IntentId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find_intent(tx, &tenant, bot, id)?.ok_or_else(intent_not_found)?;
            store::delete_intent(tx, &tenant, bot, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.intent.deleted", "intent", id.0)
                    .with_old(json!({ "bot_id": bot, "name": before.name, "examples": before.example_count })),
            )
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(())
}

// ---- examples ----

pub async fn list_examples(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    intent: IntentId,
    page: PageParams,
) -> AppResult<Page<Example>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            store::find_intent(c, &tenant, bot, intent)?.ok_or_else(intent_not_found)?;
            Ok(store::list_examples(c, &tenant, intent, after, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |e| e.id.0)
}

pub async fn add_examples(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    intent: IntentId,
    inputs: Vec<ExampleInput>,
) -> AppResult<AddExamplesResponse> {
    if inputs.is_empty() || inputs.len() > MAX_BULK {
        return Err(AppError::validation("examples", format!("give 1–{MAX_BULK} examples")));
    }
    let examples: Vec<(String, Vec<Annotation>)> = inputs
        .iter()
        .enumerate()
        .map(|(i, e)| check_example(&format!("examples[{i}]"), e))
        .collect::<AppResult<_>>()?;
    let response = state
        .db
        .write(move |tx| {
            store::find_intent(tx, &tenant, bot, intent)?.ok_or_else(intent_not_found)?;
            let fields = role_fields("examples", &examples);
            let refs: Vec<(String, &[Annotation])> = fields.iter().map(|(f, a)| (f.clone(), a.as_slice())).collect();
            check_roles(tx, &tenant, bot, &refs)?;
            let (mut added, mut duplicates) = (Vec::new(), Vec::new());
            for (text, ann) in examples {
                match store::insert_example(
                    tx,
                    &tenant,
                    intent,
                    &text,
                    &serde_json::to_string(&ann).unwrap_or_default(),
                )? {
                    Some(id) => added.push(id),
                    None => duplicates.push(text),
                }
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.examples.added", "intent", intent.0)
                    .with_new(json!({ "added": added.len(), "duplicates": duplicates.len() })),
            )?;
            let added = added
                .into_iter()
                .map(|id| store::find_example(tx, &tenant, bot, id)?.ok_or_else(example_not_found))
                .collect::<AppResult<Vec<_>>>()?;
            Ok(AddExamplesResponse { added, duplicates })
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(response)
}

pub async fn remove_examples(state: &AppState, tenant: Tenant, bot: BotId, ids: Vec<ExampleId>) -> AppResult<usize> {
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(AppError::validation("ids", format!("give 1–{MAX_BULK} example ids")));
    }
    let n = state
        .db
        .write(move |tx| {
            let n = store::delete_examples(tx, &tenant, bot, &ids)?;
            if n > 0 {
                audit::record(
                    tx,
                    &AuditEntry::by(&tenant, "nlu.examples.removed", "bot", bot.0)
                        .with_old(json!({ "ids": ids.iter().map(|i| i.0).collect::<Vec<_>>(), "removed": n })),
                )?;
            }
            Ok(n)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(n)
}

pub async fn update_example(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    id: ExampleId,
    req: UpdateExampleRequest,
) -> AppResult<Example> {
    let example = state
        .db
        .write(move |tx| {
            let before = store::find_example(tx, &tenant, bot, id)?.ok_or_else(example_not_found)?;
            let input = ExampleInput {
                text: req.text.unwrap_or_else(|| before.text.clone()),
                entities: req.entities.unwrap_or_else(|| before.entities.clone()),
            };
            let (text, ann) = check_example("example", &input).map_err(|e| {
                // Field paths of a single example drop the prefix.
                let field =
                    e.details().and_then(|d| d["field"].as_str()).map(|f| f.trim_start_matches("example.").to_owned());
                match field {
                    Some(f) => AppError::validation(f, e.message()),
                    None => e,
                }
            })?;
            if store::example_text_taken(tx, &tenant, before.intent_id, &text, id)? {
                return Err(AppError::new(ErrorCode::Conflict, "the intent already has this example")
                    .with_details(json!({ "field": "text" })));
            }
            check_roles(tx, &tenant, bot, &[(String::new(), ann.as_slice())])?;
            store::update_example(tx, &tenant, id, &text, &serde_json::to_string(&ann).unwrap_or_default())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.example.updated", "intent_example", id.0)
                    .with_old(json!({ "text": before.text, "entities": before.entities }))
                    .with_new(json!({ "text": text, "entities": ann })),
            )?;
            store::find_example(tx, &tenant, bot, id)?.ok_or_else(example_not_found)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(example)
}

/// Moves an example to another intent of the bot (one click from the
/// conflicts of NLU insights). 409 `conflict` when the target intent already
/// has the text; moving to its own intent changes nothing.
pub async fn move_example(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    id: ExampleId,
    to: IntentId,
) -> AppResult<Example> {
    let example = state
        .db
        .write(move |tx| {
            let before = store::find_example(tx, &tenant, bot, id)?
                .ok_or_else(|| example_not_found().with_details(json!({ "field": "example_id" })))?;
            let target = store::find_intent(tx, &tenant, bot, to)?
                .ok_or_else(|| intent_not_found().with_details(json!({ "field": "intent_id" })))?;
            if before.intent_id == target.id {
                return Ok(before);
            }
            if store::example_text_taken(tx, &tenant, target.id, &before.text, id)? {
                return Err(AppError::new(ErrorCode::Conflict, "the target intent already has this example")
                    .with_details(json!({ "field": "intent_id" })));
            }
            store::set_example_intent(tx, &tenant, id, target.id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.example.moved", "intent_example", id.0)
                    .with_old(json!({ "intent_id": before.intent_id }))
                    .with_new(json!({ "intent_id": target.id, "intent": target.name })),
            )?;
            store::find_example(tx, &tenant, bot, id)?.ok_or_else(example_not_found)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(example)
}

/// Adds any logged message of the bot as an example of an intent (resolved
/// or not; an unresolved one is marked resolved). 409 `conflict` when the
/// intent already has the text.
pub async fn add_logged_example(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    log: NluLogId,
    to: IntentId,
) -> AppResult<Example> {
    let example = state
        .db
        .write(move |tx| {
            let entry = store::find_log(tx, &tenant, bot, log)?.ok_or_else(|| {
                AppError::new(ErrorCode::NluLogNotFound, "no such logged parse in this bot")
                    .with_details(json!({ "field": "log_id" }))
            })?;
            let target = store::find_intent(tx, &tenant, bot, to)?
                .ok_or_else(|| intent_not_found().with_details(json!({ "field": "intent_id" })))?;
            let text: String = entry.text.trim().chars().take(MAX_EXAMPLE_CHARS).collect();
            if text.is_empty() {
                return Err(AppError::validation("log_id", "the logged message has no text"));
            }
            let Some(example) = store::insert_example(tx, &tenant, target.id, &text, "[]")? else {
                return Err(AppError::new(ErrorCode::Conflict, "the intent already has this example")
                    .with_details(json!({ "field": "intent_id" })));
            };
            if entry.resolved_at.is_none() {
                store::resolve_log(tx, &tenant, log, Some(target.id), &crate::db::now())?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.log.added_as_example", "nlu_log", log.0)
                    .with_new(json!({ "intent": target.name, "example_id": example.0 })),
            )?;
            store::find_example(tx, &tenant, bot, example)?.ok_or_else(example_not_found)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(example)
}

// ---- entities ----

/// A checked entity definition.
pub struct CheckedEntity {
    pub name: String,
    pub display_name: Option<String>,
    pub kind: EntityType,
    pub pattern: Option<String>,
    pub system_type: Option<String>,
    pub fuzzy_matching: bool,
    pub values: Vec<EntityValue>,
    pub roles: Vec<String>,
}

/// Declared roles checked: names like entity names, unique, at most [`MAX_ROLES`].
pub fn check_role_names(field: &str, roles: &[String]) -> AppResult<Vec<String>> {
    if roles.len() > MAX_ROLES {
        return Err(AppError::validation(field, format!("at most {MAX_ROLES} roles")));
    }
    let mut out: Vec<String> = Vec::with_capacity(roles.len());
    for (i, r) in roles.iter().enumerate() {
        let role = check_entity_name(&format!("{field}[{i}]"), r)?;
        if out.contains(&role) {
            return Err(AppError::validation(format!("{field}[{i}]"), format!("{role:?} is listed twice")));
        }
        out.push(role);
    }
    Ok(out)
}

/// Values checked: trimmed, 1–200 characters, unique, synonyms deduplicated.
pub fn check_values(field: &str, values: &[EntityValue]) -> AppResult<Vec<EntityValue>> {
    if values.len() > MAX_VALUES {
        return Err(AppError::validation(field, format!("at most {MAX_VALUES} values")));
    }
    let mut out: Vec<EntityValue> = Vec::with_capacity(values.len());
    for (i, v) in values.iter().enumerate() {
        let value = plain(&format!("{field}[{i}].value"), &v.value, 200)?;
        if out.iter().any(|o| o.value == value) {
            return Err(AppError::validation(format!("{field}[{i}].value"), format!("{value:?} is listed twice")));
        }
        if v.synonyms.len() > MAX_SYNONYMS {
            return Err(AppError::validation(
                format!("{field}[{i}].synonyms"),
                format!("at most {MAX_SYNONYMS} synonyms"),
            ));
        }
        let mut synonyms: Vec<String> = Vec::new();
        for (k, s) in v.synonyms.iter().enumerate() {
            let s = plain(&format!("{field}[{i}].synonyms[{k}]"), s, 200)?;
            if s != value && !synonyms.contains(&s) {
                synonyms.push(s);
            }
        }
        out.push(EntityValue { value, synonyms });
    }
    Ok(out)
}

/// Checks a whole entity definition.
pub fn check_entity(field_prefix: &str, req: &CreateEntityRequest) -> AppResult<CheckedEntity> {
    let f = |name: &str| format!("{field_prefix}{name}");
    let name = check_entity_name(&f("name"), &req.name)?;
    let display_name = optional_text(&f("display_name"), req.display_name.as_deref(), 200)?;
    let (pattern, system_type, values) = match req.kind {
        EntityType::List => {
            if req.pattern.is_some() || req.system_type.is_some() {
                return Err(AppError::validation(f("type"), "list entities take values, not a pattern or system_type"));
            }
            (None, None, check_values(&f("values"), &req.values)?)
        }
        EntityType::Regex => {
            let p = req
                .pattern
                .as_deref()
                .ok_or_else(|| AppError::validation(f("pattern"), "regex entities need a pattern"))?;
            compile_pattern(p).map_err(|m| AppError::validation(f("pattern"), format!("the pattern {m}")))?;
            if !req.values.is_empty() || req.system_type.is_some() {
                return Err(AppError::validation(f("type"), "regex entities take a pattern only"));
            }
            (Some(p.to_owned()), None, Vec::new())
        }
        EntityType::System => {
            let kind = req.system_type.as_deref().and_then(SystemKind::parse).ok_or_else(|| {
                AppError::validation(
                    f("system_type"),
                    "must be one of number, ordinal, date, time, duration, email, phone, url, money, percentage",
                )
            })?;
            if !req.values.is_empty() || req.pattern.is_some() {
                return Err(AppError::validation(f("type"), "system entities take a system_type only"));
            }
            (None, Some(kind.as_str().to_owned()), Vec::new())
        }
    };
    Ok(CheckedEntity {
        name,
        display_name,
        kind: req.kind,
        pattern,
        system_type,
        fuzzy_matching: req.fuzzy_matching.unwrap_or(true),
        values,
        roles: check_role_names(&f("roles"), &req.roles)?,
    })
}

/// Inserts a checked entity (inside the caller's transaction).
pub fn insert_entity_in(conn: &Connection, tenant: &Tenant, bot: BotId, e: &CheckedEntity) -> AppResult<EntityId> {
    if store::find_entity_by_name(conn, tenant, bot, &e.name)?.is_some() {
        return Err(name_taken("name", &e.name, "entity"));
    }
    let id = store::insert_entity(
        conn,
        tenant,
        bot,
        &NewEntity {
            name: &e.name,
            display_name: e.display_name.as_deref(),
            kind: e.kind.as_str(),
            pattern: e.pattern.as_deref(),
            system_type: e.system_type.as_deref(),
            fuzzy_matching: e.fuzzy_matching,
            roles: &serde_json::to_string(&e.roles).unwrap_or_else(|_| "[]".into()),
        },
    )?;
    store::replace_values(conn, tenant, id, &e.values)?;
    Ok(id)
}

pub async fn create_entity(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    req: CreateEntityRequest,
) -> AppResult<Entity> {
    let checked = check_entity("", &req)?;
    let entity = state
        .db
        .write(move |tx| {
            let id = insert_entity_in(tx, &tenant, bot, &checked)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.entity.created", "entity", id.0).with_new(json!({
                    "bot_id": bot, "name": checked.name, "type": checked.kind.as_str(), "values": checked.values.len()
                })),
            )?;
            store::find_entity(tx, &tenant, bot, id)?.ok_or_else(entity_not_found)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(entity)
}

pub async fn get_entity(state: &AppState, tenant: Tenant, bot: BotId, id: EntityId) -> AppResult<Entity> {
    state.db.read(move |c| store::find_entity(c, &tenant, bot, id)?.ok_or_else(entity_not_found)).await
}

pub async fn list_entities(state: &AppState, tenant: Tenant, bot: BotId, page: PageParams) -> AppResult<Page<Entity>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state.db.read(move |c| Ok(store::list_entities(c, &tenant, bot, after, limit)?)).await?;
    Page::from_rows(rows, &page, |e| e.id.0)
}

pub async fn update_entity(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    id: EntityId,
    req: UpdateEntityRequest,
) -> AppResult<Entity> {
    let entity = state
        .db
        .write(move |tx| {
            let before = store::find_entity(tx, &tenant, bot, id)?.ok_or_else(entity_not_found)?;
            let merged = CreateEntityRequest {
                name: req.name.clone().unwrap_or_else(|| before.name.clone()),
                display_name: req.display_name.clone().unwrap_or_else(|| before.display_name.clone()),
                kind: before.kind,
                pattern: req.pattern.clone().or_else(|| before.pattern.clone()),
                system_type: req.system_type.clone().or_else(|| before.system_type.clone()),
                fuzzy_matching: Some(req.fuzzy_matching.unwrap_or(before.fuzzy_matching)),
                values: req.values.clone().unwrap_or_else(|| before.values.clone()),
                roles: req.roles.clone().unwrap_or_else(|| before.roles.clone()),
            };
            let checked = check_entity("", &merged)?;
            if checked.name != before.name && store::find_entity_by_name(tx, &tenant, bot, &checked.name)?.is_some() {
                return Err(name_taken("name", &checked.name, "entity"));
            }
            store::update_entity(
                tx,
                &tenant,
                bot,
                id,
                &NewEntity {
                    name: &checked.name,
                    display_name: checked.display_name.as_deref(),
                    kind: checked.kind.as_str(),
                    pattern: checked.pattern.as_deref(),
                    system_type: checked.system_type.as_deref(),
                    fuzzy_matching: checked.fuzzy_matching,
                    roles: &serde_json::to_string(&checked.roles).unwrap_or_else(|_| "[]".into()),
                },
            )?;
            if req.values.is_some() {
                store::replace_values(tx, &tenant, id, &checked.values)?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.entity.updated", "entity", id.0)
                    .with_old(json!({ "name": before.name, "pattern": before.pattern, "values": before.values.len() }))
                    .with_new(
                        json!({ "name": checked.name, "pattern": checked.pattern, "values": checked.values.len() }),
                    ),
            )?;
            store::find_entity(tx, &tenant, bot, id)?.ok_or_else(entity_not_found)
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(entity)
}

pub async fn delete_entity(state: &AppState, tenant: Tenant, bot: BotId, id: EntityId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            let before = store::find_entity(tx, &tenant, bot, id)?.ok_or_else(entity_not_found)?;
            store::delete_entity(tx, &tenant, bot, id)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "nlu.entity.deleted", "entity", id.0)
                    .with_old(json!({ "bot_id": bot, "name": before.name, "type": before.kind.as_str() })),
            )
        })
        .await?;
    state.nlu.invalidate_data(bot);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_checked_against_the_text() {
        let ok = ExampleInput {
            text: "  fly to Berlin ".into(),
            entities: vec![Annotation { entity: "city".into(), start: 9, end: 15, ..Annotation::default() }],
        };
        let (text, ann) = check_example("e", &ok).expect("valid");
        assert_eq!(text, "fly to Berlin");
        assert_eq!(
            ann[0],
            Annotation { entity: "city".into(), value: "Berlin".into(), start: 7, end: 13, ..Annotation::default() }
        );
        let wrong = ExampleInput {
            text: "fly to Berlin".into(),
            entities: vec![Annotation {
                entity: "city".into(),
                value: "Paris".into(),
                start: 7,
                end: 13,
                ..Annotation::default()
            }],
        };
        assert!(check_example("e", &wrong).is_err());
        let outside = ExampleInput {
            text: "hi".into(),
            entities: vec![Annotation { entity: "x".into(), start: 1, end: 5, ..Annotation::default() }],
        };
        assert!(check_example("e", &outside).is_err());
    }

    #[test]
    fn overlaps_and_out_of_range_spans_name_their_offsets() {
        let overlapping = ExampleInput {
            text: "fly from New York".into(),
            entities: vec![
                Annotation { entity: "city".into(), start: 9, end: 17, ..Annotation::default() },
                Annotation { entity: "state".into(), start: 13, end: 17, ..Annotation::default() },
            ],
        };
        let e = check_example("examples[3]", &overlapping).expect_err("overlap");
        let d = e.details().expect("details");
        assert_eq!(d["field"], "examples[3].entities[1]");
        assert_eq!(d["spans"], json!([{ "start": 9, "end": 17 }, { "start": 13, "end": 17 }]));
        assert!(e.message().contains("9..17 and 13..17"), "{}", e.message());
        let outside = ExampleInput {
            text: "to Köln".into(),
            entities: vec![Annotation { entity: "city".into(), start: 3, end: 9, ..Annotation::default() }],
        };
        let e = check_example("e", &outside).expect_err("out of range");
        let d = e.details().expect("details");
        assert_eq!((d["start"].as_u64(), d["end"].as_u64(), d["text_length"].as_u64()), (Some(3), Some(9), Some(7)));
    }

    #[test]
    fn roles_and_groups_are_kept_and_checked_as_names() {
        let input = ExampleInput {
            text: "from Berlin to Paris".into(),
            entities: vec![
                Annotation {
                    entity: "city".into(),
                    start: 15,
                    end: 20,
                    role: Some("to".into()),
                    ..Annotation::default()
                },
                Annotation {
                    entity: "city".into(),
                    start: 5,
                    end: 11,
                    role: Some("from".into()),
                    group: Some("1".into()),
                    ..Annotation::default()
                },
            ],
        };
        let (_, ann) = check_example("e", &input).expect("valid");
        assert_eq!(ann[0].role.as_deref(), Some("from"));
        assert_eq!(ann[0].group.as_deref(), Some("1"));
        assert_eq!(ann[1].role.as_deref(), Some("to"));
        let bad = ExampleInput {
            text: "from Berlin".into(),
            entities: vec![Annotation {
                entity: "city".into(),
                start: 5,
                end: 11,
                role: Some("{x}".into()),
                ..Annotation::default()
            }],
        };
        let e = check_example("e", &bad).expect_err("bad role");
        assert_eq!(e.details().expect("details")["field"], "e.entities[0].role");
    }
}
