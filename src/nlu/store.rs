//! SQL of the NLU domain. Every function on tenant data takes the `Tenant`
//! and binds its organization.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    Entity, EntityId, EntityValue, Example, ExampleId, Intent, IntentId, ModelVersion, ModelVersionId, NluLog, NluLogId,
};
use crate::db::{query_all, query_opt};
use crate::http::Tenant;
use crate::ids::{BotId, OrgId};

const INTENT_COLUMNS: &str = "i.id, i.bot_id, i.name, i.display_name, i.description, i.is_active, i.confidence_threshold, \
     (SELECT count(*) FROM intent_examples x WHERE x.intent_id = i.id) AS example_count, i.created_at, i.updated_at";

const ENTITY_COLUMNS: &str = "e.id, e.bot_id, e.name, e.display_name, e.type, e.pattern, e.system_type, e.fuzzy_matching, \
     (SELECT json_group_array(json_object('value', v.value, 'synonyms', json(v.synonyms))) \
        FROM (SELECT value, synonyms FROM entity_values WHERE entity_id = e.id ORDER BY id) v) AS entity_values, \
     e.roles, e.created_at, e.updated_at";

const VERSION_COLUMNS: &str =
    "id, bot_id, version_number, is_active, metrics, training_data_hash, description, created_at";

const LOG_COLUMNS: &str = "id, message, detected_intent_name, confidence, out_of_scope, ranking, entities_extracted, \
     model_version_id, response_time_ms, resolved_intent_id, resolved_at, created_at";

// ---- intents ----

/// A new intent's fields (validated).
pub struct NewIntent<'a> {
    pub name: &'a str,
    pub display_name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub is_active: bool,
    pub confidence_threshold: Option<f64>,
}

pub fn insert_intent(conn: &Connection, tenant: &Tenant, bot: BotId, i: &NewIntent<'_>) -> rusqlite::Result<IntentId> {
    conn.query_row(
        "INSERT INTO intents (organization_id, bot_id, name, display_name, description, is_active, confidence_threshold)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        params![tenant.org_id(), bot, i.name, i.display_name, i.description, i.is_active, i.confidence_threshold],
        |r| r.get(0),
    )
}

pub fn find_intent(conn: &Connection, tenant: &Tenant, bot: BotId, id: IntentId) -> rusqlite::Result<Option<Intent>> {
    query_opt(
        conn,
        &format!("SELECT {INTENT_COLUMNS} FROM intents i WHERE i.id = ?1 AND i.bot_id = ?2 AND i.organization_id = ?3"),
        params![id, bot, tenant.org_id()],
    )
}

pub fn find_intent_by_name(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
) -> rusqlite::Result<Option<Intent>> {
    query_opt(
        conn,
        &format!(
            "SELECT {INTENT_COLUMNS} FROM intents i WHERE i.name = ?1 AND i.bot_id = ?2 AND i.organization_id = ?3"
        ),
        params![name, bot, tenant.org_id()],
    )
}

/// A page of the bot's intents by id, after the cursor.
pub fn list_intents(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Intent>> {
    query_all(
        conn,
        &format!(
            "SELECT {INTENT_COLUMNS} FROM intents i WHERE i.organization_id = ?1 AND i.bot_id = ?2
             AND (?3 IS NULL OR i.id > ?3) ORDER BY i.id LIMIT ?4"
        ),
        params![tenant.org_id(), bot, after, limit],
    )
}

/// Every intent of the bot, by name.
pub fn all_intents(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<Intent>> {
    query_all(
        conn,
        &format!(
            "SELECT {INTENT_COLUMNS} FROM intents i WHERE i.organization_id = ?1 AND i.bot_id = ?2 ORDER BY i.name"
        ),
        params![tenant.org_id(), bot],
    )
}

pub fn update_intent(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    id: IntentId,
    i: &NewIntent<'_>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE intents SET name = ?4, display_name = ?5, description = ?6, is_active = ?7, confidence_threshold = ?8
         WHERE id = ?1 AND bot_id = ?2 AND organization_id = ?3",
        params![id, bot, tenant.org_id(), i.name, i.display_name, i.description, i.is_active, i.confidence_threshold],
    )?;
    Ok(())
}

pub fn delete_intent(conn: &Connection, tenant: &Tenant, bot: BotId, id: IntentId) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM intents WHERE id = ?1 AND bot_id = ?2 AND organization_id = ?3",
        params![id, bot, tenant.org_id()],
    )? == 1)
}

/// Deletes every intent and entity of the bot (import with `replace`).
pub fn delete_all_nlu_data(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM intents WHERE bot_id = ?1 AND organization_id = ?2", params![bot, tenant.org_id()])?;
    conn.execute("DELETE FROM entities WHERE bot_id = ?1 AND organization_id = ?2", params![bot, tenant.org_id()])?;
    Ok(())
}

// ---- examples ----

/// Adds an example; `None` when the intent already has this text.
pub fn insert_example(
    conn: &Connection,
    tenant: &Tenant,
    intent: IntentId,
    text: &str,
    entities_json: &str,
) -> rusqlite::Result<Option<ExampleId>> {
    conn.prepare_cached(
        "INSERT INTO intent_examples (organization_id, intent_id, text, entities) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (intent_id, text) DO NOTHING RETURNING id",
    )?
    .query_row(params![tenant.org_id(), intent, text, entities_json], |r| r.get(0))
    .optional()
}

const EXAMPLE_COLUMNS: &str = "x.id, x.intent_id, x.text, x.entities, x.created_at";

pub fn find_example(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    id: ExampleId,
) -> rusqlite::Result<Option<Example>> {
    query_opt(
        conn,
        &format!(
            "SELECT {EXAMPLE_COLUMNS} FROM intent_examples x JOIN intents i ON i.id = x.intent_id
             WHERE x.id = ?1 AND i.bot_id = ?2 AND x.organization_id = ?3"
        ),
        params![id, bot, tenant.org_id()],
    )
}

pub fn list_examples(
    conn: &Connection,
    tenant: &Tenant,
    intent: IntentId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Example>> {
    query_all(
        conn,
        &format!(
            "SELECT {EXAMPLE_COLUMNS} FROM intent_examples x WHERE x.organization_id = ?1 AND x.intent_id = ?2
             AND (?3 IS NULL OR x.id > ?3) ORDER BY x.id LIMIT ?4"
        ),
        params![tenant.org_id(), intent, after, limit],
    )
}

pub fn update_example(
    conn: &Connection,
    tenant: &Tenant,
    id: ExampleId,
    text: &str,
    entities_json: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE intent_examples SET text = ?3, entities = ?4 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), text, entities_json],
    )?;
    Ok(())
}

/// Moves an example to another intent (its cached vector stays valid: it
/// depends on the text only).
pub fn set_example_intent(conn: &Connection, tenant: &Tenant, id: ExampleId, intent: IntentId) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE intent_examples SET intent_id = ?3 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), intent],
    )?;
    Ok(())
}

/// Whether another example of the intent has this text.
pub fn example_text_taken(
    conn: &Connection,
    tenant: &Tenant,
    intent: IntentId,
    text: &str,
    except: ExampleId,
) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM intent_examples WHERE organization_id = ?1 AND intent_id = ?2 AND text = ?3 AND id <> ?4)",
        params![tenant.org_id(), intent, text, except],
        |r| r.get(0),
    )
}

/// Deletes the given examples of the bot; returns how many existed.
pub fn delete_examples(conn: &Connection, tenant: &Tenant, bot: BotId, ids: &[ExampleId]) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare_cached(
        "DELETE FROM intent_examples WHERE id = ?1 AND organization_id = ?2
         AND intent_id IN (SELECT id FROM intents WHERE bot_id = ?3)",
    )?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute(params![id, tenant.org_id(), bot])?;
    }
    Ok(n)
}

/// One training example with its intent.
#[derive(Debug, Clone)]
pub struct TrainingRow {
    pub intent: String,
    pub text: String,
    pub entities: String,
}

/// The examples of the bot's active intents, ordered by intent name then
/// text so that the same data always trains the same model.
pub fn training_rows(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<TrainingRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.name, x.text, x.entities FROM intent_examples x JOIN intents i ON i.id = x.intent_id
         WHERE i.organization_id = ?1 AND i.bot_id = ?2 AND i.is_active = 1
         ORDER BY i.name, x.text",
    )?;
    stmt.query_map(params![tenant.org_id(), bot], |r| {
        Ok(TrainingRow { intent: r.get(0)?, text: r.get(1)?, entities: r.get(2)? })
    })?
    .collect()
}

/// An example's text and the vector cached for it, if any.
pub struct ExampleVector {
    pub id: i64,
    pub text: String,
    pub vector: Option<Vec<f32>>,
}

/// The bot's examples with the vectors cached under `key`
/// (`Embedder::vectors_key`).
pub fn example_vectors(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    key: &str,
) -> rusqlite::Result<Vec<ExampleVector>> {
    let mut stmt = conn.prepare_cached(
        "SELECT x.id, x.text, CASE WHEN x.embedding_key = ?3 THEN x.embedding END
         FROM intent_examples x JOIN intents i ON i.id = x.intent_id
         WHERE i.organization_id = ?1 AND i.bot_id = ?2",
    )?;
    stmt.query_map(params![tenant.org_id(), bot, key], |r| {
        Ok(ExampleVector {
            id: r.get(0)?,
            text: r.get(1)?,
            vector: r.get::<_, Option<Vec<u8>>>(2)?.map(|b| crate::ml::bytes_vector(&b)),
        })
    })?
    .collect()
}

/// Caches vectors made under `key` on examples by id, each only while the
/// example still has the text the vector was made from.
pub fn cache_vectors(
    conn: &Connection,
    tenant: &Tenant,
    key: &str,
    vectors: &[(i64, &str, &[f32])],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE intent_examples SET embedding = ?4, embedding_key = ?3
         WHERE id = ?1 AND organization_id = ?2 AND text = ?5",
    )?;
    for (id, text, vector) in vectors {
        stmt.execute(params![id, tenant.org_id(), key, crate::ml::vector_bytes(vector), text])?;
    }
    Ok(())
}

/// Every example of the bot (export), by intent name then id.
pub fn all_examples(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<(String, Example)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT i.name AS intent_name, {EXAMPLE_COLUMNS} FROM intent_examples x JOIN intents i ON i.id = x.intent_id
         WHERE i.organization_id = ?1 AND i.bot_id = ?2 ORDER BY i.name, x.id"
    ))?;
    stmt.query_map(params![tenant.org_id(), bot], |r| {
        Ok((r.get("intent_name")?, <Example as crate::db::FromRow>::from_row(r)?))
    })?
    .collect()
}

// ---- entities ----

/// A new or changed entity's fields (validated).
pub struct NewEntity<'a> {
    pub name: &'a str,
    pub display_name: Option<&'a str>,
    pub kind: &'a str,
    pub pattern: Option<&'a str>,
    pub system_type: Option<&'a str>,
    pub fuzzy_matching: bool,
    /// Declared roles as a JSON array.
    pub roles: &'a str,
}

pub fn insert_entity(conn: &Connection, tenant: &Tenant, bot: BotId, e: &NewEntity<'_>) -> rusqlite::Result<EntityId> {
    conn.query_row(
        "INSERT INTO entities (organization_id, bot_id, name, display_name, type, pattern, system_type, fuzzy_matching, roles)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        params![
            tenant.org_id(),
            bot,
            e.name,
            e.display_name,
            e.kind,
            e.pattern,
            e.system_type,
            e.fuzzy_matching,
            e.roles
        ],
        |r| r.get(0),
    )
}

pub fn update_entity(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    id: EntityId,
    e: &NewEntity<'_>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE entities SET name = ?4, display_name = ?5, pattern = ?6, system_type = ?7, fuzzy_matching = ?8, roles = ?9
         WHERE id = ?1 AND bot_id = ?2 AND organization_id = ?3",
        params![id, bot, tenant.org_id(), e.name, e.display_name, e.pattern, e.system_type, e.fuzzy_matching, e.roles],
    )?;
    Ok(())
}

/// Replaces all values of a list entity.
pub fn replace_values(
    conn: &Connection,
    tenant: &Tenant,
    id: EntityId,
    values: &[EntityValue],
) -> rusqlite::Result<()> {
    conn.execute(
        "DELETE FROM entity_values WHERE entity_id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id()],
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO entity_values (organization_id, entity_id, value, synonyms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for v in values {
        stmt.execute(params![tenant.org_id(), id, v.value, serde_json::to_string(&v.synonyms).unwrap_or_default()])?;
    }
    Ok(())
}

pub fn find_entity(conn: &Connection, tenant: &Tenant, bot: BotId, id: EntityId) -> rusqlite::Result<Option<Entity>> {
    query_opt(
        conn,
        &format!(
            "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.id = ?1 AND e.bot_id = ?2 AND e.organization_id = ?3"
        ),
        params![id, bot, tenant.org_id()],
    )
}

pub fn find_entity_by_name(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    name: &str,
) -> rusqlite::Result<Option<Entity>> {
    query_opt(
        conn,
        &format!(
            "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.name = ?1 AND e.bot_id = ?2 AND e.organization_id = ?3"
        ),
        params![name, bot, tenant.org_id()],
    )
}

pub fn list_entities(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<Entity>> {
    query_all(
        conn,
        &format!(
            "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.organization_id = ?1 AND e.bot_id = ?2
             AND (?3 IS NULL OR e.id > ?3) ORDER BY e.id LIMIT ?4"
        ),
        params![tenant.org_id(), bot, after, limit],
    )
}

/// Every entity of the bot, by name.
pub fn all_entities(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Vec<Entity>> {
    query_all(
        conn,
        &format!(
            "SELECT {ENTITY_COLUMNS} FROM entities e WHERE e.organization_id = ?1 AND e.bot_id = ?2 ORDER BY e.name"
        ),
        params![tenant.org_id(), bot],
    )
}

pub fn delete_entity(conn: &Connection, tenant: &Tenant, bot: BotId, id: EntityId) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "DELETE FROM entities WHERE id = ?1 AND bot_id = ?2 AND organization_id = ?3",
        params![id, bot, tenant.org_id()],
    )? == 1)
}

// ---- files and model versions ----

/// Stores a blob once per organization and content (files are
/// content-addressed); returns its id.
pub fn put_file(
    conn: &Connection,
    tenant: &Tenant,
    sha256: &str,
    data: &[u8],
    content_type: &str,
    name: &str,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO files (organization_id, sha256, size_bytes, content_type, name, data, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
        params![
            tenant.org_id(),
            sha256,
            i64::try_from(data.len()).unwrap_or(i64::MAX),
            content_type,
            name,
            data,
            tenant.user_id()
        ],
    )?;
    conn.query_row(
        "SELECT id FROM files WHERE ifnull(organization_id, 0) = ?1 AND sha256 = ?2",
        params![tenant.org_id(), sha256],
        |r| r.get(0),
    )
}

/// A new model version's fields.
pub struct NewVersion<'a> {
    pub weights_file_id: i64,
    pub metrics: &'a str,
    pub training_data_hash: &'a str,
    pub description: &'a str,
    pub performance_score: Option<f64>,
}

/// Inserts the next version of the bot's NLU model (inactive).
pub fn insert_version(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    v: &NewVersion<'_>,
) -> rusqlite::Result<ModelVersionId> {
    conn.query_row(
        "INSERT INTO model_versions (organization_id, bot_id, kind, version_number, weights_file_id, description,
                                     performance_score, metrics, training_data_hash, created_by)
         VALUES (?1, ?2, 'nlu_intent',
                 (SELECT ifnull(max(version_number), 0) + 1 FROM model_versions WHERE bot_id = ?2 AND kind = 'nlu_intent'),
                 ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
        params![
            tenant.org_id(),
            bot,
            v.weights_file_id,
            v.description,
            v.performance_score,
            v.metrics,
            v.training_data_hash,
            tenant.user_id()
        ],
        |r| r.get(0),
    )
}

/// Makes `id` the bot's one active NLU model (inside the caller's transaction).
pub fn activate_version(conn: &Connection, tenant: &Tenant, bot: BotId, id: ModelVersionId) -> rusqlite::Result<bool> {
    conn.execute(
        "UPDATE model_versions SET is_active = 0
         WHERE bot_id = ?1 AND organization_id = ?2 AND kind = 'nlu_intent' AND is_active = 1 AND id <> ?3",
        params![bot, tenant.org_id(), id],
    )?;
    Ok(conn.execute(
        "UPDATE model_versions SET is_active = 1, activated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now'),
                                   updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND bot_id = ?2 AND organization_id = ?3 AND kind = 'nlu_intent'",
        params![id, bot, tenant.org_id()],
    )? == 1)
}

pub fn find_version(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    id: ModelVersionId,
) -> rusqlite::Result<Option<ModelVersion>> {
    query_opt(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE id = ?1 AND bot_id = ?2 AND organization_id = ?3 AND kind = 'nlu_intent'"
        ),
        params![id, bot, tenant.org_id()],
    )
}

pub fn active_version(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<Option<ModelVersion>> {
    query_opt(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions
             WHERE bot_id = ?1 AND organization_id = ?2 AND kind = 'nlu_intent' AND is_active = 1"
        ),
        params![bot, tenant.org_id()],
    )
}

/// The weights of a model version.
pub fn version_weights(conn: &Connection, tenant: &Tenant, id: ModelVersionId) -> rusqlite::Result<Option<Vec<u8>>> {
    conn.query_row(
        "SELECT f.data FROM model_versions v JOIN files f ON f.id = v.weights_file_id
         WHERE v.id = ?1 AND v.organization_id = ?2",
        params![id, tenant.org_id()],
        |r| r.get(0),
    )
    .optional()
}

/// The bot's model versions, newest first.
pub fn list_versions(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<ModelVersion>> {
    query_all(
        conn,
        &format!(
            "SELECT {VERSION_COLUMNS} FROM model_versions WHERE organization_id = ?1 AND bot_id = ?2 AND kind = 'nlu_intent'
             AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4"
        ),
        params![tenant.org_id(), bot, after, limit],
    )
}

// ---- parse logs ----

/// One parse to log.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub org_id: OrgId,
    pub bot_id: BotId,
    pub text: String,
    pub intent_name: Option<String>,
    pub confidence: f64,
    pub out_of_scope: bool,
    pub ranking: String,
    pub entities: String,
    pub model_version_id: ModelVersionId,
    pub latency_ms: f64,
    pub session: Option<String>,
    /// The detected language of the message, if it could be told.
    pub language: Option<super::language::DetectedLanguage>,
}

/// Writes a batch of parse logs (by the log writer, which acts for the
/// organizations the rows carry). The detected intent id is looked up by name.
pub fn insert_logs(conn: &Connection, rows: &[LogRow]) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO nlu_logs (organization_id, bot_id, message, detected_intent_id, detected_intent_name, confidence,
                               out_of_scope, ranking, entities_extracted, model_version_id, response_time_ms, user_session_id,
                               detected_language, language_confidence)
         VALUES (?1, ?2, ?3, (SELECT id FROM intents WHERE bot_id = ?2 AND name = ?4 AND organization_id = ?1), ?4, ?5,
                 ?6, ?7, ?8, (SELECT id FROM model_versions WHERE id = ?9 AND organization_id = ?1), ?10, ?11, ?12, ?13)",
    )?;
    for r in rows {
        stmt.execute(params![
            r.org_id,
            r.bot_id,
            r.text,
            r.intent_name,
            r.confidence.clamp(0.0, 1.0),
            r.out_of_scope,
            r.ranking,
            r.entities,
            r.model_version_id,
            r.latency_ms.max(0.0),
            r.session,
            r.language.as_ref().map(|l| l.code.as_str()),
            r.language.as_ref().map(|l| l.confidence.clamp(0.0, 1.0))
        ])?;
    }
    Ok(())
}

/// Unresolved parses that were out of scope or below `threshold`, newest first.
pub fn list_misunderstood(
    conn: &Connection,
    tenant: &Tenant,
    bot: BotId,
    threshold: f64,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<NluLog>> {
    query_all(
        conn,
        &format!(
            "SELECT {LOG_COLUMNS} FROM nlu_logs WHERE organization_id = ?1 AND bot_id = ?2 AND resolved_at IS NULL
             AND (out_of_scope = 1 OR confidence < ?3) AND (?4 IS NULL OR id < ?4) ORDER BY id DESC LIMIT ?5"
        ),
        params![tenant.org_id(), bot, threshold, after, limit],
    )
}

pub fn count_misunderstood(conn: &Connection, tenant: &Tenant, bot: BotId, threshold: f64) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT count(*) FROM nlu_logs WHERE organization_id = ?1 AND bot_id = ?2 AND resolved_at IS NULL
         AND (out_of_scope = 1 OR confidence < ?3)",
        params![tenant.org_id(), bot, threshold],
        |r| r.get(0),
    )
}

pub fn find_log(conn: &Connection, tenant: &Tenant, bot: BotId, id: NluLogId) -> rusqlite::Result<Option<NluLog>> {
    query_opt(
        conn,
        &format!("SELECT {LOG_COLUMNS} FROM nlu_logs WHERE id = ?1 AND bot_id = ?2 AND organization_id = ?3"),
        params![id, bot, tenant.org_id()],
    )
}

/// Marks a logged parse resolved (assigned to `intent`, or dismissed).
pub fn resolve_log(
    conn: &Connection,
    tenant: &Tenant,
    id: NluLogId,
    intent: Option<IntentId>,
    now: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE nlu_logs SET resolved_intent_id = ?3, resolved_at = ?4 WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), intent, now],
    )?;
    Ok(())
}

/// Counts for the editor's status line.
pub fn counts(conn: &Connection, tenant: &Tenant, bot: BotId) -> rusqlite::Result<(i64, i64, i64, i64)> {
    conn.query_row(
        "SELECT (SELECT count(*) FROM intents WHERE organization_id = ?1 AND bot_id = ?2),
                (SELECT count(*) FROM intents WHERE organization_id = ?1 AND bot_id = ?2 AND is_active = 1),
                (SELECT count(*) FROM intent_examples x JOIN intents i ON i.id = x.intent_id
                  WHERE i.organization_id = ?1 AND i.bot_id = ?2),
                (SELECT count(*) FROM entities WHERE organization_id = ?1 AND bot_id = ?2)",
        params![tenant.org_id(), bot],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}
