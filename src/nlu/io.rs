//! Import and export of a bot's NLU data in three formats (docs/nlu.md):
//! botbuilder's JSON document (lossless), Rasa's YAML NLU training data
//! (`nlu: - intent: … examples: | - text [value](entity)`, with `synonym`,
//! `regex` and `lookup` items), and CSV `text,intent` (written by
//! `crate::http::csv`: formula-like cells get a leading `'`, which import
//! takes off again so a round trip keeps the text).
//!
//! An import is parsed and validated whole before anything is written, then
//! applied in one transaction: a malformed file changes nothing and the
//! error names its line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::json;
use yaml_rust2::{Yaml, YamlLoader};

use super::data::{CheckedEntity, check_entity, check_example, check_intent_name, check_values, insert_entity_in};
use super::model::{
    Annotation, CreateEntityRequest, DataFormat, EntityType, EntityValue, ExampleInput, ImportMode, ImportSummary,
};
use super::store::{self, NewIntent};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::http::csv::{self as csv_export, CsvWriter};
use crate::ids::BotId;
use crate::orgs::audit::{self, AuditEntry};

/// The JSON document of a bot's NLU data.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NluDocument {
    /// Always `botbuilder-nlu`.
    #[serde(default = "format_name")]
    pub format: String,
    /// Format version, 1.
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default)]
    pub intents: Vec<IntentDoc>,
    #[serde(default)]
    pub entities: Vec<EntityDoc>,
}

fn format_name() -> String {
    "botbuilder-nlu".into()
}

fn one() -> u32 {
    1
}

/// An intent with its examples.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntentDoc {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence_threshold: Option<f64>,
    #[serde(default)]
    pub examples: Vec<ExampleDoc>,
}

fn yes() -> bool {
    true
}

/// An example with its annotations.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExampleDoc {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Annotation>,
}

/// An entity definition.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityDoc {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: EntityType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuzzy_matching: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<EntityValue>,
    /// Roles annotations of the entity may give (e.g. `from`, `to`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

fn invalid(line: Option<usize>, message: impl Into<String>) -> AppError {
    let message = message.into();
    let text = match line {
        Some(l) => format!("line {l}: {message}"),
        None => message.clone(),
    };
    AppError::new(ErrorCode::ImportInvalid, text).with_details(json!({ "line": line, "reason": message }))
}

/// The 1-based line of the first occurrence of `needle` at or after line `from`.
fn line_of(source: &str, needle: &str, from: usize) -> Option<usize> {
    source.lines().enumerate().skip(from.saturating_sub(1)).find(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1)
}

// ---- parsing ----

/// Plain text, annotations and (entity, value, synonym) triples of an example in markup.
pub type Markup = (String, Vec<Annotation>, Vec<(String, String, String)>);

/// Parses a file of the given format into a document (nothing validated yet
/// beyond syntax).
pub fn parse(format: DataFormat, bytes: &[u8]) -> AppResult<(NluDocument, String)> {
    let source = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].split(|&b| b == b'\n').count();
        invalid(Some(line), "the file is not valid UTF-8")
    })?;
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    if source.trim().is_empty() {
        return Err(invalid(None, "the file is empty"));
    }
    let doc = match format {
        DataFormat::Json => parse_json(source)?,
        DataFormat::Rasa => parse_rasa(source)?,
        DataFormat::Csv => parse_csv(source)?,
    };
    Ok((doc, source.to_owned()))
}

fn parse_json(source: &str) -> AppResult<NluDocument> {
    let de = &mut serde_json::Deserializer::from_str(source);
    let doc: NluDocument = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = inner.to_string();
        let reason = message.split(" at line ").next().unwrap_or(&message).to_owned();
        invalid(Some(inner.line()), if path == "." { reason } else { format!("{path}: {reason}") })
    })?;
    if doc.format != "botbuilder-nlu" || doc.version != 1 {
        return Err(invalid(Some(1), "expected \"format\": \"botbuilder-nlu\" and \"version\": 1"));
    }
    Ok(doc)
}

fn parse_csv(source: &str) -> AppResult<NluDocument> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(source.as_bytes());
    let mut intents: BTreeMap<String, Vec<ExampleDoc>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(i + 1, |p| usize::try_from(p.line()).unwrap_or(i + 1));
            invalid(Some(line), format!("not valid CSV: {e}"))
        })?;
        let line = record.position().map_or(i + 1, |p| usize::try_from(p.line()).unwrap_or(i + 1));
        if i == 0
            && (2..=3).contains(&record.len())
            && record[0].trim().eq_ignore_ascii_case("text")
            && record[1].trim().eq_ignore_ascii_case("intent")
        {
            continue;
        }
        if record.len() == 1 && record[0].trim().is_empty() {
            continue;
        }
        if !(2..=3).contains(&record.len()) {
            return Err(invalid(
                Some(line),
                format!("expected 2 or 3 columns (text,intent[,entities]), found {}", record.len()),
            ));
        }
        // The optional third column holds the annotations as a JSON array.
        let entities: Vec<Annotation> = match record.get(2).map(str::trim).filter(|c| !c.is_empty()) {
            None => Vec::new(),
            Some(cell) => serde_json::from_str(cell).map_err(|e| {
                invalid(Some(line), format!("the entities column is not a JSON list of annotations: {e}"))
            })?,
        };
        // Our export prefixes formula-like cells with `'`; take it off again.
        let (text, intent) = (csv_export::restore(record[0].trim()), csv_export::restore(record[1].trim()));
        if text.is_empty() || intent.is_empty() {
            return Err(invalid(Some(line), "text and intent must not be empty"));
        }
        if !intents.contains_key(intent) {
            order.push(intent.to_owned());
        }
        intents.entry(intent.to_owned()).or_default().push(ExampleDoc { text: text.to_owned(), entities });
    }
    Ok(NluDocument {
        intents: order
            .into_iter()
            .map(|name| {
                let examples = intents.remove(&name).unwrap_or_default();
                IntentDoc {
                    name,
                    display_name: None,
                    description: None,
                    is_active: true,
                    confidence_threshold: None,
                    examples,
                }
            })
            .collect(),
        ..NluDocument::default()
    })
}

/// A `role` or `group` of a JSON annotation: a string (Rasa also writes
/// groups as numbers).
fn label(v: &serde_json::Value, key: &str) -> Result<Option<String>, String> {
    match &v[key] {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        serde_json::Value::Number(n) => Ok(Some(n.to_string())),
        _ => Err(format!("\"{key}\" of an entity annotation must be a non-empty string")),
    }
}

/// An annotated example of Rasa's markup: `[span](entity)`,
/// `[span](entity:value)` or `[span]{"entity": "e", "value": "v", "role": "r",
/// "group": "g"}`.
/// Returns the plain text, the annotations and (entity, value, synonym)
/// triples for spans whose value differs from their text.
pub fn parse_markup(raw: &str) -> Result<Markup, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut text = String::new();
    let mut count = 0usize;
    let mut annotations = Vec::new();
    let mut synonyms = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '[' {
            let Some(close) = chars[i + 1..].iter().position(|&c| c == ']').map(|p| i + 1 + p) else {
                return Err("an opening [ has no closing ]".into());
            };
            let span: String = chars[i + 1..close].iter().collect();
            let (mut role, mut group) = (None, None);
            let (entity, value, end) = match chars.get(close + 1) {
                Some('(') => {
                    let Some(p) = chars[close + 2..].iter().position(|&c| c == ')') else {
                        return Err("an entity ( has no closing )".into());
                    };
                    let inner: String = chars[close + 2..close + 2 + p].iter().collect();
                    let (e, v) = match inner.split_once(':') {
                        Some((e, v)) => (e.trim().to_owned(), Some(v.trim().to_owned())),
                        None => (inner.trim().to_owned(), None),
                    };
                    (e, v, close + 3 + p)
                }
                Some('{') => {
                    let Some(p) = chars[close + 1..].iter().position(|&c| c == '}') else {
                        return Err("an entity { has no closing }".into());
                    };
                    let inner: String = chars[close + 1..=close + 1 + p].iter().collect();
                    let v: serde_json::Value = serde_json::from_str(&inner)
                        .map_err(|e| format!("entity annotation {inner} is not JSON: {e}"))?;
                    let e = v["entity"].as_str().ok_or("entity annotation without \"entity\"")?.to_owned();
                    role = label(&v, "role")?;
                    group = label(&v, "group")?;
                    (e, v["value"].as_str().map(str::to_owned), close + 2 + p)
                }
                _ => {
                    // A bracket that is not an annotation is text.
                    text.push('[');
                    count += 1;
                    i += 1;
                    continue;
                }
            };
            if entity.is_empty() || span.is_empty() {
                return Err("an annotation needs both a text and an entity name".into());
            }
            let start = count;
            text.push_str(&span);
            count += span.chars().count();
            annotations.push(Annotation {
                entity: entity.clone(),
                value: span.clone(),
                start,
                end: count,
                role,
                group,
            });
            if let Some(v) = value
                && v != span
            {
                synonyms.push((entity, v, span));
            }
            i = end;
        } else {
            text.push(chars[i]);
            count += 1;
            i += 1;
        }
    }
    Ok((text, annotations, synonyms))
}

/// Renders an example in Rasa's markup.
#[must_use]
pub fn render_markup(text: &str, annotations: &[Annotation]) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut at = 0;
    for a in annotations {
        if a.start < at || a.end > chars.len() {
            continue;
        }
        out.extend(&chars[at..a.start]);
        out.push('[');
        out.extend(&chars[a.start..a.end]);
        if a.role.is_none() && a.group.is_none() {
            out.push_str("](");
            out.push_str(&a.entity);
            out.push(')');
        } else {
            // Keys in Rasa's order: entity, role, group.
            let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
            out.push_str("]{\"entity\":");
            out.push_str(&quote(&a.entity));
            if let Some(r) = &a.role {
                out.push_str(",\"role\":");
                out.push_str(&quote(r));
            }
            if let Some(g) = &a.group {
                out.push_str(",\"group\":");
                out.push_str(&quote(g));
            }
            out.push('}');
        }
        at = a.end;
    }
    out.extend(&chars[at.min(chars.len())..]);
    out
}

fn block_lines(item: &Yaml, key: &str, source: &str, item_line: usize) -> AppResult<Vec<(String, usize)>> {
    let raw = match &item["examples"] {
        Yaml::String(s) => s.clone(),
        Yaml::Array(list) => {
            // The extended form: a list of {text: …}.
            let mut out = Vec::new();
            for entry in list {
                let t = entry["text"].as_str().or_else(|| entry.as_str()).ok_or_else(|| {
                    invalid(Some(item_line), format!("{key}: each entry of `examples` needs a `text`"))
                })?;
                out.push((t.to_owned(), line_of(source, t, item_line).unwrap_or(item_line)));
            }
            return Ok(out);
        }
        Yaml::BadValue | Yaml::Null => return Err(invalid(Some(item_line), format!("{key}: missing `examples`"))),
        _ => return Err(invalid(Some(item_line), format!("{key}: `examples` must be a block of `- ` lines"))),
    };
    let mut out = Vec::new();
    for line in raw.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let at = line_of(source, trimmed, item_line).unwrap_or(item_line);
        let Some(example) = trimmed.strip_prefix("- ").or_else(|| trimmed.strip_prefix('-')) else {
            return Err(invalid(Some(at), format!("{key}: example lines must start with \"- \"")));
        };
        let example = example.trim();
        if example.is_empty() {
            return Err(invalid(Some(at), format!("{key}: empty example")));
        }
        out.push((example.to_owned(), at));
    }
    Ok(out)
}

#[allow(clippy::too_many_lines, reason = "one pass over the four item kinds of Rasa's format")]
fn parse_rasa(source: &str) -> AppResult<NluDocument> {
    let docs = YamlLoader::load_from_str(source).map_err(|e| {
        let line = e.marker().line();
        invalid(Some(line.max(1)), format!("not valid YAML: {}", e.info()))
    })?;
    let root = docs.first().ok_or_else(|| invalid(None, "the file is empty"))?;
    let items = match &root["nlu"] {
        Yaml::Array(items) => items,
        Yaml::BadValue => return Err(invalid(Some(1), "no top-level `nlu:` list")),
        _ => return Err(invalid(line_of(source, "nlu:", 1), "`nlu` must be a list")),
    };
    let mut doc = NluDocument::default();
    let mut intents: BTreeMap<String, usize> = BTreeMap::new();
    let mut lists: BTreeMap<String, Vec<EntityValue>> = BTreeMap::new();
    let mut list_order: Vec<String> = Vec::new();
    let mut cursor = 1;
    let mut add_value =
        |lists: &mut BTreeMap<String, Vec<EntityValue>>, entity: &str, value: &str, synonym: Option<&str>| {
            if !lists.contains_key(entity) {
                list_order.push(entity.to_owned());
            }
            let values = lists.entry(entity.to_owned()).or_default();
            let slot = if let Some(i) = values.iter().position(|v| v.value == value) {
                i
            } else {
                values.push(EntityValue { value: value.to_owned(), synonyms: Vec::new() });
                values.len() - 1
            };
            if let Some(s) = synonym
                && s != value
                && !values[slot].synonyms.iter().any(|x| x == s)
            {
                values[slot].synonyms.push(s.to_owned());
            }
        };
    let mut synonyms: Vec<(String, Vec<String>)> = Vec::new();
    for item in items {
        let (key, name) = ["intent", "synonym", "regex", "lookup"]
            .iter()
            .find_map(|k| {
                item[*k].as_str().map(|n| (*k, n.to_owned())).or_else(|| item[*k].as_i64().map(|n| (*k, n.to_string())))
            })
            .ok_or_else(|| invalid(Some(cursor), "each `nlu` item needs one of intent, synonym, regex or lookup"))?;
        let item_line = line_of(source, &format!("{key}:"), cursor).unwrap_or(cursor);
        cursor = item_line + 1;
        let lines = block_lines(item, &format!("{key} {name}"), source, item_line)?;
        match key {
            "intent" => {
                let idx = *intents.entry(name.clone()).or_insert_with(|| {
                    doc.intents.push(IntentDoc {
                        name: name.clone(),
                        display_name: None,
                        description: None,
                        is_active: true,
                        confidence_threshold: None,
                        examples: Vec::new(),
                    });
                    doc.intents.len() - 1
                });
                for (raw, line) in lines {
                    let (text, entities, syns) = parse_markup(&raw).map_err(|m| invalid(Some(line), m))?;
                    for a in
                        entities.iter().filter(|a| !syns.iter().any(|(e, _, syn)| *e == a.entity && *syn == a.value))
                    {
                        add_value(&mut lists, &a.entity, &a.value, None);
                    }
                    for (entity, value, synonym) in syns {
                        add_value(&mut lists, &entity, &value, Some(&synonym));
                    }
                    doc.intents[idx].examples.push(ExampleDoc { text, entities });
                }
            }
            "synonym" => synonyms.push((name, lines.into_iter().map(|(s, _)| s).collect())),
            "regex" => {
                let pattern = lines.into_iter().map(|(p, _)| p).collect::<Vec<_>>();
                let pattern =
                    if pattern.len() == 1 { pattern.join("") } else { format!("(?:{})", pattern.join(")|(?:")) };
                doc.entities.push(EntityDoc {
                    name,
                    kind: EntityType::Regex,
                    display_name: None,
                    pattern: Some(pattern),
                    system_type: None,
                    fuzzy_matching: None,
                    values: Vec::new(),
                    roles: Vec::new(),
                });
            }
            _ => {
                for (v, _) in lines {
                    add_value(&mut lists, &name, &v, None);
                }
            }
        }
    }
    // A synonym block names a value: attach its synonyms wherever the value is listed.
    for (value, syns) in synonyms {
        let holders: Vec<String> =
            lists.iter().filter(|(_, vs)| vs.iter().any(|v| v.value == value)).map(|(k, _)| k.clone()).collect();
        for entity in holders {
            for s in &syns {
                add_value(&mut lists, &entity, &value, Some(s));
            }
        }
    }
    let regex_names: Vec<String> = doc.entities.iter().map(|e| e.name.clone()).collect();
    for name in list_order {
        if regex_names.contains(&name) {
            continue;
        }
        if let Some(values) = lists.remove(&name) {
            doc.entities.push(EntityDoc {
                name,
                kind: EntityType::List,
                display_name: None,
                pattern: None,
                system_type: None,
                fuzzy_matching: Some(true),
                values,
                roles: Vec::new(),
            });
        }
    }
    // Rasa declares roles in the domain, not in NLU data: the roles the
    // annotations use are the entity's roles.
    for e in &mut doc.entities {
        let mut roles: Vec<String> = doc
            .intents
            .iter()
            .flat_map(|i| &i.examples)
            .flat_map(|x| &x.entities)
            .filter(|a| a.entity == e.name)
            .filter_map(|a| a.role.clone())
            .collect();
        roles.sort();
        roles.dedup();
        e.roles = roles;
    }
    Ok(doc)
}

// ---- applying ----

struct CheckedIntent {
    name: String,
    display_name: Option<String>,
    description: Option<String>,
    is_active: bool,
    threshold: Option<f64>,
    examples: Vec<(String, Vec<Annotation>)>,
}

/// Validates a whole document. Errors name the line in `source` where the
/// offending text is, when it can be found.
///
/// `existing_roles` are the roles the bot's entities declare already (a
/// merge keeps them): a role an annotation gives must be declared there or
/// by the document's entity of that name.
fn check_document(
    doc: &NluDocument,
    source: &str,
    existing_roles: &BTreeMap<String, Vec<String>>,
) -> AppResult<(Vec<CheckedIntent>, Vec<CheckedEntity>)> {
    // The line, plus what the check found (offsets of a bad span…).
    let locate = |e: AppError, needle: &str| -> AppError {
        let field = e.details().and_then(|d| d["field"].as_str()).unwrap_or_default().to_owned();
        let line = line_of(source, needle, 1);
        let found = e.details().cloned();
        let mut err = invalid(line, format!("{field}: {}", e.message()));
        if let (Some(serde_json::Value::Object(found)), Some(serde_json::Value::Object(mut details))) =
            (found, err.details().cloned())
        {
            for (k, v) in found {
                details.entry(k).or_insert(v);
            }
            err = err.with_details(serde_json::Value::Object(details));
        }
        err
    };
    let mut intents = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, it) in doc.intents.iter().enumerate() {
        let name = check_intent_name(&format!("intents[{i}].name"), &it.name).map_err(|e| locate(e, &it.name))?;
        if !names.insert(name.clone()) {
            return Err(invalid(line_of(source, &it.name, 1), format!("intent {name:?} appears twice")));
        }
        if let Some(t) = it.confidence_threshold
            && !(0.0..=1.0).contains(&t)
        {
            return Err(invalid(
                line_of(source, &it.name, 1),
                format!("intents[{i}].confidence_threshold must be between 0 and 1"),
            ));
        }
        let mut examples = Vec::with_capacity(it.examples.len());
        for (k, ex) in it.examples.iter().enumerate() {
            let input = ExampleInput { text: ex.text.clone(), entities: ex.entities.clone() };
            examples
                .push(check_example(&format!("intents[{i}].examples[{k}]"), &input).map_err(|e| locate(e, &ex.text))?);
        }
        intents.push(CheckedIntent {
            name,
            display_name: it.display_name.clone().filter(|d| !d.trim().is_empty()),
            description: it.description.clone().filter(|d| !d.trim().is_empty()),
            is_active: it.is_active,
            threshold: it.confidence_threshold,
            examples,
        });
    }
    let mut entities = Vec::new();
    let mut entity_names = std::collections::BTreeSet::new();
    for (i, e) in doc.entities.iter().enumerate() {
        let req = CreateEntityRequest {
            name: e.name.clone(),
            display_name: e.display_name.clone(),
            kind: e.kind,
            pattern: e.pattern.clone(),
            system_type: e.system_type.clone(),
            fuzzy_matching: e.fuzzy_matching,
            values: e.values.clone(),
            roles: e.roles.clone(),
        };
        let checked = check_entity(&format!("entities[{i}]."), &req).map_err(|err| locate(err, &e.name))?;
        if !entity_names.insert(checked.name.clone()) {
            return Err(invalid(line_of(source, &e.name, 1), format!("entity {:?} appears twice", checked.name)));
        }
        entities.push(checked);
    }
    for (i, (it, checked)) in doc.intents.iter().zip(&intents).enumerate() {
        for (k, ((_, annotations), ex)) in checked.examples.iter().zip(&it.examples).enumerate() {
            for (j, a) in annotations.iter().enumerate() {
                let Some(role) = &a.role else { continue };
                let mut declared: Vec<String> = existing_roles.get(&a.entity).cloned().unwrap_or_default();
                if let Some(e) = entities.iter().find(|e| e.name == a.entity) {
                    declared.extend(e.roles.iter().cloned());
                }
                if declared.contains(role) {
                    continue;
                }
                let line = line_of(source, &ex.text, 1).or_else(|| line_of(source, &a.value, 1));
                let field = format!("intents[{i}].examples[{k}].entities[{j}].role");
                let why = if declared.is_empty() {
                    format!("the entity {:?} declares no roles", a.entity)
                } else {
                    format!("the entity {:?} declares the roles {} but not {role:?}", a.entity, declared.join(", "))
                };
                let message = match line {
                    Some(l) => format!("line {l}: {field}: {why}"),
                    None => format!("{field}: {why}"),
                };
                return Err(AppError::new(ErrorCode::NluRoleUndeclared, message).with_details(json!({
                    "line": line, "field": field, "entity": a.entity, "role": role, "declared": declared,
                    "start": a.start, "end": a.end,
                })));
            }
        }
    }
    Ok((intents, entities))
}

/// Imports a file into the bot: all or nothing.
pub async fn import(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    format: DataFormat,
    mode: ImportMode,
    bytes: Vec<u8>,
) -> AppResult<ImportSummary> {
    let (doc, source) = parse(format, &bytes)?;
    let existing_roles = if mode == ImportMode::Merge {
        let t = tenant.clone();
        state
            .db
            .read(move |c| {
                Ok(store::all_entities(c, &t, bot)?.into_iter().map(|e| (e.name, e.roles)).collect::<BTreeMap<_, _>>())
            })
            .await?
    } else {
        BTreeMap::new()
    };
    let (intents, entities) = check_document(&doc, &source, &existing_roles)?;
    let summary = state.db.write(move |tx| apply(tx, &tenant, bot, mode, format, &intents, &entities)).await?;
    state.nlu.invalidate_data(bot);
    Ok(summary)
}

/// Imports a parsed document on the calling thread (benchmarks).
pub fn import_document_blocking(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    doc: &NluDocument,
) -> AppResult<ImportSummary> {
    let existing_roles = state.db.read_blocking(|c| {
        Ok(store::all_entities(c, tenant, bot)?.into_iter().map(|e| (e.name, e.roles)).collect::<BTreeMap<_, _>>())
    })?;
    let (intents, entities) = check_document(doc, "", &existing_roles)?;
    let summary = state
        .db
        .write_blocking(|tx| apply(tx, tenant, bot, ImportMode::Merge, DataFormat::Json, &intents, &entities))?;
    state.nlu.invalidate_data(bot);
    Ok(summary)
}

fn apply(
    tx: &rusqlite::Transaction<'_>,
    tenant: &Tenant,
    bot: BotId,
    mode: ImportMode,
    format: DataFormat,
    intents: &[CheckedIntent],
    entities: &[CheckedEntity],
) -> AppResult<ImportSummary> {
    if mode == ImportMode::Replace {
        store::delete_all_nlu_data(tx, tenant, bot)?;
    }
    let mut summary = ImportSummary { intents_created: 0, examples_added: 0, entities_created: 0, entities_updated: 0 };
    for it in intents {
        let id = if let Some(existing) = store::find_intent_by_name(tx, tenant, bot, &it.name)? {
            existing.id
        } else {
            summary.intents_created += 1;
            store::insert_intent(
                tx,
                tenant,
                bot,
                &NewIntent {
                    name: &it.name,
                    display_name: it.display_name.as_deref(),
                    description: it.description.as_deref(),
                    is_active: it.is_active,
                    confidence_threshold: it.threshold,
                },
            )?
        };
        for (text, ann) in &it.examples {
            if store::insert_example(tx, tenant, id, text, &serde_json::to_string(ann).unwrap_or_default())?.is_some() {
                summary.examples_added += 1;
            }
        }
    }
    for e in entities {
        match store::find_entity_by_name(tx, tenant, bot, &e.name)? {
            None => {
                insert_entity_in(tx, tenant, bot, e)?;
                summary.entities_created += 1;
            }
            Some(existing) if existing.kind == EntityType::List && e.kind == EntityType::List => {
                // Merge values and synonyms into the existing list.
                let mut values = existing.values.clone();
                for v in &e.values {
                    match values.iter_mut().find(|x| x.value == v.value) {
                        Some(x) => {
                            for s in &v.synonyms {
                                if !x.synonyms.contains(s) {
                                    x.synonyms.push(s.clone());
                                }
                            }
                        }
                        None => values.push(v.clone()),
                    }
                }
                let values = check_values("values", &values)?;
                store::replace_values(tx, tenant, existing.id, &values)?;
                merge_roles(tx, tenant, bot, &existing, &e.roles)?;
                summary.entities_updated += 1;
            }
            Some(existing) => {
                return Err(invalid(
                    None,
                    format!(
                        "entity {:?} exists as a {} entity; the file defines it as {}",
                        e.name,
                        existing.kind.as_str(),
                        e.kind.as_str()
                    ),
                ));
            }
        }
    }
    audit::record(
        tx,
        &AuditEntry::by(tenant, "nlu.imported", "bot", bot.0).activity().with_new(json!({
            "format": format!("{format:?}").to_lowercase(),
            "mode": format!("{mode:?}").to_lowercase(),
            "intents_created": summary.intents_created,
            "examples_added": summary.examples_added,
            "entities_created": summary.entities_created,
            "entities_updated": summary.entities_updated,
        })),
    )?;
    Ok(summary)
}

/// Adds the roles a file declares to an existing entity.
fn merge_roles(
    tx: &rusqlite::Transaction<'_>,
    tenant: &Tenant,
    bot: BotId,
    existing: &super::model::Entity,
    roles: &[String],
) -> AppResult<()> {
    let mut all = existing.roles.clone();
    all.extend(roles.iter().filter(|r| !existing.roles.contains(r)).cloned());
    if all.len() == existing.roles.len() {
        return Ok(());
    }
    let all = super::data::check_role_names("roles", &all)?;
    store::update_entity(
        tx,
        tenant,
        bot,
        existing.id,
        &store::NewEntity {
            name: &existing.name,
            display_name: existing.display_name.as_deref(),
            kind: existing.kind.as_str(),
            pattern: existing.pattern.as_deref(),
            system_type: existing.system_type.as_deref(),
            fuzzy_matching: existing.fuzzy_matching,
            roles: &serde_json::to_string(&all).unwrap_or_else(|_| "[]".into()),
        },
    )?;
    Ok(())
}

// ---- export ----

/// The bot's NLU data as a document.
pub async fn document(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<NluDocument> {
    state
        .db
        .read(move |c| {
            let intents = store::all_intents(c, &tenant, bot)?;
            let examples = store::all_examples(c, &tenant, bot)?;
            let entities = store::all_entities(c, &tenant, bot)?;
            let mut by_intent: BTreeMap<String, Vec<ExampleDoc>> = BTreeMap::new();
            for (name, e) in examples {
                by_intent.entry(name).or_default().push(ExampleDoc { text: e.text, entities: e.entities });
            }
            Ok(NluDocument {
                format: format_name(),
                version: 1,
                intents: intents
                    .into_iter()
                    .map(|i| IntentDoc {
                        examples: by_intent.remove(&i.name).unwrap_or_default(),
                        name: i.name,
                        display_name: i.display_name,
                        description: i.description,
                        is_active: i.is_active,
                        confidence_threshold: i.confidence_threshold,
                    })
                    .collect(),
                entities: entities
                    .into_iter()
                    .map(|e| EntityDoc {
                        name: e.name,
                        kind: e.kind,
                        display_name: e.display_name,
                        pattern: e.pattern,
                        system_type: e.system_type,
                        fuzzy_matching: (e.kind == EntityType::List).then_some(e.fuzzy_matching),
                        values: e.values,
                        roles: e.roles,
                    })
                    .collect(),
            })
        })
        .await
}

fn yaml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Renders a document in the requested format: (body, content type, file extension).
#[must_use]
pub fn render(doc: &NluDocument, format: DataFormat) -> (String, &'static str, &'static str) {
    match format {
        DataFormat::Json => (serde_json::to_string_pretty(doc).unwrap_or_default(), "application/json", "json"),
        DataFormat::Csv => {
            let annotated = doc.intents.iter().flat_map(|i| &i.examples).any(|e| !e.entities.is_empty());
            let mut w = CsvWriter::new(if annotated { &["text", "intent", "entities"] } else { &["text", "intent"] });
            for i in &doc.intents {
                for e in &i.examples {
                    if annotated {
                        let entities = if e.entities.is_empty() {
                            String::new()
                        } else {
                            serde_json::to_string(&e.entities).unwrap_or_default()
                        };
                        w.row([e.text.as_str(), i.name.as_str(), entities.as_str()]);
                    } else {
                        w.row([e.text.as_str(), i.name.as_str()]);
                    }
                }
            }
            (w.finish(), "text/csv; charset=utf-8", "csv")
        }
        DataFormat::Rasa => {
            let mut out = String::from("version: \"3.1\"\nnlu:\n");
            for i in &doc.intents {
                if i.examples.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "- intent: {}\n  examples: |", yaml_string(&i.name));
                for e in &i.examples {
                    let _ = writeln!(out, "    - {}", render_markup(&e.text, &e.entities));
                }
            }
            for e in &doc.entities {
                match e.kind {
                    EntityType::List => {
                        for v in e.values.iter().filter(|v| !v.synonyms.is_empty()) {
                            let _ = writeln!(out, "- synonym: {}\n  examples: |", yaml_string(&v.value));
                            for s in &v.synonyms {
                                let _ = writeln!(out, "    - {s}");
                            }
                        }
                        if !e.values.is_empty() {
                            let _ = writeln!(out, "- lookup: {}\n  examples: |", yaml_string(&e.name));
                            for v in &e.values {
                                let _ = writeln!(out, "    - {}", v.value);
                            }
                        }
                    }
                    EntityType::Regex => {
                        let _ = writeln!(
                            out,
                            "- regex: {}\n  examples: |\n    - {}",
                            yaml_string(&e.name),
                            e.pattern.as_deref().unwrap_or_default()
                        );
                    }
                    EntityType::System => {
                        let _ = writeln!(
                            out,
                            "# system entity {} ({}) has no Rasa NLU equivalent",
                            e.name,
                            e.system_type.as_deref().unwrap_or_default()
                        );
                    }
                }
            }
            (out, "application/yaml; charset=utf-8", "yml")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_round_trips() {
        let (text, ann, syns) =
            parse_markup("fly from [NYC](city:New York) to [Berlin]{\"entity\": \"city\"} at [5]( time )")
                .expect("valid");
        assert_eq!(text, "fly from NYC to Berlin at 5");
        assert_eq!(ann.len(), 3);
        assert_eq!((ann[1].start, ann[1].end, ann[2].entity.as_str()), (16, 22, "time"));
        assert_eq!(syns, vec![("city".to_owned(), "New York".to_owned(), "NYC".to_owned())]);
        assert_eq!(render_markup(&text, &ann), "fly from [NYC](city) to [Berlin](city) at [5](time)");
        assert!(parse_markup("broken [annotation(city)").is_err());
        assert_eq!(parse_markup("a [b] c").expect("plain brackets").0, "a [b] c");
    }

    #[test]
    fn markup_keeps_roles_and_groups() {
        let raw =
            r#"from [Berlin]{"entity": "city", "role": "from"} to [Paris]{"entity":"city","role":"to","group":3}"#;
        let (text, ann, _) = parse_markup(raw).expect("valid");
        assert_eq!(text, "from Berlin to Paris");
        assert_eq!((ann[0].role.as_deref(), ann[0].group.as_deref()), (Some("from"), None));
        assert_eq!((ann[1].role.as_deref(), ann[1].group.as_deref()), (Some("to"), Some("3")));
        let rendered = render_markup(&text, &ann);
        assert_eq!(
            rendered,
            r#"from [Berlin]{"entity":"city","role":"from"} to [Paris]{"entity":"city","role":"to","group":"3"}"#
        );
        assert_eq!(parse_markup(&rendered).expect("again").1, ann);
        assert!(parse_markup(r#"[x]{"entity": "e", "role": ""}"#).is_err());
    }

    #[test]
    fn rasa_files_parse_with_line_numbers() {
        let good = "version: \"3.1\"\nnlu:\n- intent: greet\n  examples: |\n    - hey\n    - hello [Berlin](city)\n- synonym: Berlin\n  examples: |\n    - BER\n- regex: zip\n  examples: |\n    - \\d{5}\n";
        let (doc, _) = parse(DataFormat::Rasa, good.as_bytes()).expect("parses");
        assert_eq!(doc.intents[0].examples.len(), 2);
        let city = doc.entities.iter().find(|e| e.name == "city").expect("city list");
        assert_eq!(city.values[0].synonyms, ["BER"]);
        assert!(doc.entities.iter().any(|e| e.name == "zip" && e.kind == EntityType::Regex));

        let bad = "nlu:\n- intent: greet\n  examples: |\n    - hey\n    - broken [x(city)\n";
        let err = parse(DataFormat::Rasa, bad.as_bytes()).expect_err("bad markup");
        assert_eq!(err.details().expect("details")["line"], 5);
        let bad_yaml = "nlu:\n- intent: greet\n  examples: [unclosed\n";
        let err = parse(DataFormat::Rasa, bad_yaml.as_bytes()).expect_err("bad yaml");
        assert_eq!(err.code(), ErrorCode::ImportInvalid);
    }

    #[test]
    fn csv_rows_and_errors() {
        let (doc, _) =
            parse(DataFormat::Csv, b"text,intent\nhello,greet\n\"bye, now\",bye\nhi,greet\n").expect("parses");
        assert_eq!(doc.intents.len(), 2);
        assert_eq!(doc.intents[0].examples.len(), 2);
        assert_eq!(doc.intents[1].examples[0].text, "bye, now");
        let err = parse(DataFormat::Csv, b"text,intent\nhello,greet\nonly one column\n").expect_err("bad row");
        assert_eq!(err.details().expect("details")["line"], 3);
    }
}

/// Property tests (issue 30): imported NLU files are untrusted. Any bytes in
/// any format parse or fail with `nlu_import_invalid`-style errors, never a
/// panic; annotated examples and whole documents survive export and re-import.
#[cfg(test)]
mod proptests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::{Annotation, DataFormat, parse, parse_markup, render, render_markup};

    fn formats() -> impl Strategy<Value = DataFormat> {
        prop_oneof![Just(DataFormat::Json), Just(DataFormat::Rasa), Just(DataFormat::Csv)]
    }

    /// Example text without markup characters, trimmed and non-empty.
    fn text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9À-ÿ][A-Za-z0-9À-ÿ ,.?!'=+@-]{0,30}[A-Za-z0-9À-ÿ?!.]".prop_map(|s| s.trim().to_owned())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn any_bytes_parse_or_fail_cleanly(format in formats(), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = parse(format, &bytes);
        }

        #[test]
        fn format_shaped_text_parses_or_fails_cleanly(
            format in formats(),
            src in "(nlu:|- intent: [a-z]{1,5}|  examples: \\||    - |\\[[a-z ]{0,5}\\]|\\([a-z:]{0,6}\\)|\\{\"entity\": \"[a-z]{0,3}\"\\}|text,intent|\"|,|\n|[a-z ]{1,6}|\\{|\\}|\\[|\\]|\\(|\\)|:){0,40}",
        ) {
            let _ = parse(format, src.as_bytes());
        }

        #[test]
        fn any_markup_parses_or_fails_cleanly(src in "\\PC{0,80}|([a-z ]{0,4}(\\[|\\]|\\(|\\)|\\{|\\}|:|\"|entity|value)){0,20}") {
            if let Ok((text, annotations, _)) = parse_markup(&src) {
                let n = text.chars().count();
                prop_assert!(annotations.iter().all(|a| a.start < a.end && a.end <= n));
            }
        }

        #[test]
        fn annotated_examples_round_trip_through_markup(
            words in proptest::collection::vec(("[a-zà-ü]{1,8}", proptest::option::of("[a-z]{1,6}")), 1..8),
        ) {
            let mut text = String::new();
            let mut annotations = Vec::new();
            for (word, entity) in &words {
                if !text.is_empty() {
                    text.push(' ');
                }
                let start = text.chars().count();
                text.push_str(word);
                if let Some(entity) = entity {
                    annotations.push(Annotation {
                        entity: entity.clone(),
                        value: word.clone(),
                        start,
                        end: start + word.chars().count(),
                        role: None,
                        group: None,
                    });
                }
            }
            let markup = render_markup(&text, &annotations);
            let (back, parsed, synonyms) = parse_markup(&markup).map_err(TestCaseError::fail)?;
            prop_assert_eq!(back, text);
            prop_assert_eq!(parsed, annotations);
            prop_assert!(synonyms.is_empty());
        }

        #[test]
        fn documents_round_trip_through_every_format(
            intents in proptest::collection::btree_map("[a-z][a-z_]{0,10}", proptest::collection::btree_set(text(), 1..4), 1..4),
            format in formats(),
        ) {
            let source = json!({
                "format": "botbuilder-nlu",
                "version": 1,
                "intents": intents.iter().map(|(name, examples)| json!({
                    "name": name,
                    "examples": examples.iter().map(|t| json!({ "text": t })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
            .to_string();
            let (doc, _) = parse(DataFormat::Json, source.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let (body, _, _) = render(&doc, format);
            let (back, _) = parse(format, body.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
            let pairs = |d: &super::NluDocument| {
                let mut v: Vec<(String, String)> = d
                    .intents
                    .iter()
                    .flat_map(|i| i.examples.iter().map(|e| (i.name.clone(), e.text.clone())))
                    .collect();
                v.sort();
                v
            };
            prop_assert_eq!(pairs(&back), pairs(&doc), "{}", body);
        }
    }
}
