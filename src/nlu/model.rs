//! NLU types: ids, API forms and row mappers.

use rusqlite::Row;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entities::EntityMatch;
use crate::db::{FromRow, json_column};
use crate::ids::BotId;

crate::id_type!(
    /// A row of `intents`.
    IntentId
);
crate::id_type!(
    /// A row of `intent_examples`.
    ExampleId
);
crate::id_type!(
    /// A row of `entities`.
    EntityId
);
crate::id_type!(
    /// A row of `model_versions`.
    ModelVersionId
);
crate::id_type!(
    /// A row of `nlu_logs`.
    NluLogId
);

/// An intent as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Intent {
    pub id: IntentId,
    pub bot_id: BotId,
    /// Unique in the bot; what parses report.
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    /// Inactive intents are left out of training and parsing.
    pub is_active: bool,
    /// Confidence below which a prediction of this intent counts as out of
    /// scope; `null` = the threshold calibrated at training.
    pub confidence_threshold: Option<f64>,
    pub example_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for Intent {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Intent {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            display_name: row.get("display_name")?,
            description: row.get("description")?,
            is_active: row.get("is_active")?,
            confidence_threshold: row.get("confidence_threshold")?,
            example_count: row.get("example_count")?,
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// An entity annotation of an example (character offsets, `end` exclusive).
/// The learned extractor learns entity, role and group together as one label.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Annotation {
    pub entity: String,
    /// The annotated text; filled in from the offsets when absent.
    #[serde(default)]
    pub value: String,
    pub start: usize,
    pub end: usize,
    /// The part the value plays, e.g. `from`/`to` of a `city`; one of the
    /// roles the entity declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Which values of the message belong together (e.g. `1`, `2`: two
    /// pizzas, each with its size and topping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
}

/// A training example.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Example {
    pub id: ExampleId,
    pub intent_id: IntentId,
    pub text: String,
    pub entities: Vec<Annotation>,
    pub created_at: String,
}

impl FromRow for Example {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let entities: String = row.get("entities")?;
        Ok(Example {
            id: row.get("id")?,
            intent_id: row.get("intent_id")?,
            text: row.get("text")?,
            entities: serde_json::from_str(&entities).unwrap_or_default(),
            created_at: row.get("created_at")?,
        })
    }
}

/// A new example.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExampleInput {
    #[schema(example = "I'd like to book a table for two")]
    pub text: String,
    #[serde(default)]
    pub entities: Vec<Annotation>,
}

/// `POST /bots/{bot_id}/nlu/intents`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateIntentRequest {
    #[schema(example = "book_table")]
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub is_active: Option<bool>,
    pub confidence_threshold: Option<f64>,
    /// Examples to add with the intent.
    #[serde(default)]
    pub examples: Vec<ExampleInput>,
}

/// `PATCH /bots/{bot_id}/nlu/intents/{intent_id}`: absent fields stay.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateIntentRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    pub is_active: Option<bool>,
    /// `null` returns to the calibrated threshold.
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<f64>)]
    pub confidence_threshold: Option<Option<f64>>,
}

/// `POST …/examples`: bulk add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddExamplesRequest {
    pub examples: Vec<ExampleInput>,
}

/// What a bulk add did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AddExamplesResponse {
    pub added: Vec<Example>,
    /// Texts the intent already had (left as they were).
    pub duplicates: Vec<String>,
}

/// `POST …/examples/remove`: bulk removal.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveExamplesRequest {
    pub ids: Vec<ExampleId>,
}

/// How many rows a bulk operation changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CountResponse {
    pub count: usize,
}

/// `PATCH /bots/{bot_id}/nlu/examples/{example_id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExampleRequest {
    pub text: Option<String>,
    pub entities: Option<Vec<Annotation>>,
}

/// A value of a list entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityValue {
    pub value: String,
    #[serde(default)]
    pub synonyms: Vec<String>,
}

/// How an entity is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityType {
    /// Values with synonyms (exact and fuzzy matching).
    List,
    /// A regular expression.
    Regex,
    /// A built-in kind (number, date, …).
    System,
}

impl EntityType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::List => "list",
            EntityType::Regex => "regex",
            EntityType::System => "system",
        }
    }
}

/// An entity as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Entity {
    pub id: EntityId,
    pub bot_id: BotId,
    pub name: String,
    pub display_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: EntityType,
    /// Regex entities: the pattern.
    pub pattern: Option<String>,
    /// System entities: `number`, `ordinal`, `date`, `time`, `duration`,
    /// `email`, `phone`, `url`, `money` or `percentage`.
    pub system_type: Option<String>,
    /// List entities: also match with typos.
    pub fuzzy_matching: bool,
    /// List entities: values with synonyms.
    pub values: Vec<EntityValue>,
    /// Roles an annotation of this entity may give (e.g. `from`, `to`).
    pub roles: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl FromRow for Entity {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let kind: String = row.get("type")?;
        let values: Option<Value> = json_column(row, "entity_values")?;
        Ok(Entity {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            name: row.get("name")?,
            display_name: row.get("display_name")?,
            kind: match kind.as_str() {
                "regex" => EntityType::Regex,
                "system" => EntityType::System,
                _ => EntityType::List,
            },
            pattern: row.get("pattern")?,
            system_type: row.get("system_type")?,
            fuzzy_matching: row.get("fuzzy_matching")?,
            values: values.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
            roles: json_column(row, "roles")?.and_then(|v| serde_json::from_value(v).ok()).unwrap_or_default(),
            created_at: row.get("created_at")?,
            updated_at: row.get("updated_at")?,
        })
    }
}

/// `POST /bots/{bot_id}/nlu/entities`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntityRequest {
    #[schema(example = "city")]
    pub name: String,
    pub display_name: Option<String>,
    #[serde(rename = "type")]
    pub kind: EntityType,
    pub pattern: Option<String>,
    pub system_type: Option<String>,
    pub fuzzy_matching: Option<bool>,
    #[serde(default)]
    pub values: Vec<EntityValue>,
    /// Roles annotations of the entity may give (e.g. `["from", "to"]`).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// `PATCH /bots/{bot_id}/nlu/entities/{nlu_entity_id}` (the type stays).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntityRequest {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::http::json::double_option")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    pub pattern: Option<String>,
    pub system_type: Option<String>,
    pub fuzzy_matching: Option<bool>,
    /// Replaces all values.
    pub values: Option<Vec<EntityValue>>,
    /// Replaces the declared roles.
    pub roles: Option<Vec<String>>,
}

/// A trained NLU model of a bot.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelVersion {
    pub id: ModelVersionId,
    pub bot_id: BotId,
    pub version_number: i64,
    pub is_active: bool,
    /// Training size, time, cross-validation figures, thresholds.
    #[schema(value_type = Object)]
    pub metrics: Value,
    pub training_data_hash: Option<String>,
    pub description: Option<String>,
    pub created_at: String,
}

impl FromRow for ModelVersion {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(ModelVersion {
            id: row.get("id")?,
            bot_id: row.get("bot_id")?,
            version_number: row.get("version_number")?,
            is_active: row.get("is_active")?,
            metrics: json_column(row, "metrics")?.unwrap_or(Value::Null),
            training_data_hash: row.get("training_data_hash")?,
            description: row.get("description")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `POST /bots/{bot_id}/nlu/parse`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParseRequest {
    #[schema(example = "book a table for two tomorrow at 7pm")]
    pub text: String,
    /// RFC 3339 instant relative dates resolve against (default: now).
    pub reference_time: Option<String>,
    /// IANA time zone of the user, e.g. `Europe/Berlin` (default UTC).
    pub timezone: Option<String>,
}

/// An intent with its calibrated confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IntentScore {
    pub name: String,
    /// Calibrated probability, 0–1.
    pub confidence: f64,
}

/// What a parse found.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ParseResult {
    /// The recognised intent; `null` when out of scope.
    pub intent: Option<IntentScore>,
    /// No intent of the bot matches well enough.
    pub out_of_scope: bool,
    /// The best five intents, most likely first.
    pub ranking: Vec<IntentScore>,
    pub entities: Vec<EntityMatch>,
    /// The version number of the model that answered.
    pub model_version: i64,
    /// The `model_versions` row of that model.
    pub model_version_id: ModelVersionId,
    /// The sentence encoder that model embeds with.
    pub encoder: crate::ml::Encoder,
    pub latency_ms: f64,
    /// The message's language (ISO 639-1) and the detector's confidence;
    /// `null` for text too short to tell or in a script it does not know.
    pub detected_language: Option<crate::nlu::language::DetectedLanguage>,
}

/// A logged parse, as the misunderstood inbox shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NluLog {
    pub id: NluLogId,
    pub text: String,
    pub intent: Option<String>,
    pub confidence: f64,
    pub out_of_scope: bool,
    #[schema(value_type = Object)]
    pub ranking: Value,
    #[schema(value_type = Object)]
    pub entities: Value,
    pub model_version_id: Option<ModelVersionId>,
    pub latency_ms: f64,
    pub resolved_intent_id: Option<IntentId>,
    pub resolved_at: Option<String>,
    pub created_at: String,
}

impl FromRow for NluLog {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(NluLog {
            id: row.get("id")?,
            text: row.get("message")?,
            intent: row.get("detected_intent_name")?,
            confidence: row.get("confidence")?,
            out_of_scope: row.get("out_of_scope")?,
            ranking: json_column(row, "ranking")?.unwrap_or(Value::Null),
            entities: json_column(row, "entities_extracted")?.unwrap_or(Value::Null),
            model_version_id: row.get("model_version_id")?,
            latency_ms: row.get("response_time_ms")?,
            resolved_intent_id: row.get("resolved_intent_id")?,
            resolved_at: row.get("resolved_at")?,
            created_at: row.get("created_at")?,
        })
    }
}

/// `POST …/misunderstood/{log_id}/assign`. Named `AssignMisunderstoodRequest`
/// in the `OpenAPI` document: `AssignRequest` assigns a conversation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssignMisunderstoodRequest)]
pub struct AssignRequest {
    /// The intent the utterance should have matched; it becomes an example.
    pub intent_id: IntentId,
}

/// `?format=` of export and import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataFormat {
    /// botbuilder's JSON document (docs/nlu.md).
    Json,
    /// Rasa's YAML NLU training data.
    Rasa,
    /// `text,intent` rows with a header.
    Csv,
}

/// Query of export.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (default), `rasa` or `csv`.
    #[param(inline)]
    pub format: Option<DataFormat>,
}

/// Query of import.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `json`, `rasa` or `csv`; default from the Content-Type
    /// (`application/json`, `application/yaml`/`text/yaml`, `text/csv`).
    #[param(inline)]
    pub format: Option<DataFormat>,
    /// `merge` (default): add to what exists; `replace`: delete the bot's
    /// intents and entities first.
    #[param(inline)]
    pub mode: Option<ImportMode>,
}

/// How an import treats existing data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImportMode {
    Merge,
    Replace,
}

/// What an import did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub intents_created: usize,
    pub examples_added: usize,
    pub entities_created: usize,
    pub entities_updated: usize,
}

/// Summary of a bot's NLU data and model, for the editor.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NluStatus {
    pub intents: i64,
    pub active_intents: i64,
    pub examples: i64,
    pub entities: i64,
    pub active_model: Option<ModelVersion>,
    /// The data changed since the active model was trained, or the model
    /// cannot serve (`embedding_model_changed`).
    pub needs_training: bool,
    /// The active model was trained with another embedding model than the
    /// loaded one, so parsing answers `nlu_model_incompatible` until the bot
    /// is trained again (done automatically when its data is unchanged).
    pub embedding_model_changed: bool,
    /// The sentence encoder the bot trains with: `all-MiniLM-L6-v2`
    /// (English) or `multilingual-e5-small`, by its language or
    /// `settings.nlu_encoder`.
    pub encoder: crate::ml::Encoder,
    pub unresolved_misunderstood: i64,
}
