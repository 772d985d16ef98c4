//! SQL of work clones. Every function binds the tenant's organization.

use rusqlite::{Connection, OptionalExtension, params};

use super::model::{
    CLONE_COLUMNS, CloneDataId, CloneId, CloneResponseId, CloneShare, CloneVersion, PAIR_COLUMNS, ShareAccess,
    TrainingPair, WorkClone,
};
use crate::db::{FromRow, query_all};
use crate::http::Tenant;
use crate::ids::UserId;
use crate::llm::model::LlmProviderId;

/// A clone of the organization with its shares, whoever may see it.
pub fn find(conn: &Connection, tenant: &Tenant, id: CloneId) -> rusqlite::Result<Option<WorkClone>> {
    let sql = format!("SELECT {CLONE_COLUMNS} FROM work_clones WHERE id = ?1 AND organization_id = ?2");
    let Some(mut clone) =
        conn.prepare_cached(&sql)?.query_row(params![id, tenant.org_id()], WorkClone::from_row).optional()?
    else {
        return Ok(None);
    };
    clone.shared_with = shares(conn, tenant, id)?;
    Ok(Some(clone))
}

/// The members `clone` is shared with.
pub fn shares(conn: &Connection, tenant: &Tenant, clone: CloneId) -> rusqlite::Result<Vec<CloneShare>> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, access FROM clone_shares WHERE clone_id = ?1 AND organization_id = ?2 ORDER BY user_id",
    )?;
    stmt.query_map(params![clone, tenant.org_id()], |r| {
        Ok(CloneShare { user_id: r.get(0)?, access: ShareAccess::parse(&r.get::<_, String>(1)?) })
    })?
    .collect()
}

/// Clones `user` may see (owned or shared; every clone when `all`), by id, after `after`.
pub fn list(
    conn: &Connection,
    tenant: &Tenant,
    user: Option<UserId>,
    all: bool,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<WorkClone>> {
    let sql = format!(
        "SELECT {CLONE_COLUMNS} FROM work_clones c
         WHERE c.organization_id = ?1 AND c.id > ?2
           AND (?3 OR c.user_id = ?4
                OR EXISTS (SELECT 1 FROM clone_shares s WHERE s.clone_id = c.id AND s.user_id = ?4))
         ORDER BY c.id LIMIT ?5"
    );
    let mut rows = query_all::<WorkClone>(conn, &sql, params![tenant.org_id(), after.unwrap_or(0), all, user, limit])?;
    for clone in &mut rows {
        clone.shared_with = shares(conn, tenant, clone.id)?;
    }
    Ok(rows)
}

/// Inserts a clone owned by the acting user.
pub fn insert(
    conn: &Connection,
    tenant: &Tenant,
    name: &str,
    description: Option<&str>,
    provider: Option<LlmProviderId>,
    model: Option<&str>,
) -> rusqlite::Result<CloneId> {
    conn.query_row(
        "INSERT INTO work_clones (organization_id, user_id, name, description, provider_id, ai_model)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![tenant.org_id(), tenant.user_id(), name, description, provider, model],
        |r| r.get(0),
    )
}

/// Writes a clone's editable fields.
pub fn update(conn: &Connection, tenant: &Tenant, c: &WorkClone) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE work_clones SET name = ?3, description = ?4, provider_id = ?5, ai_model = ?6
         WHERE id = ?1 AND organization_id = ?2",
        params![c.id, tenant.org_id(), c.name, c.description, c.provider_id, c.ai_model],
    )
}

pub fn delete(conn: &Connection, tenant: &Tenant, id: CloneId) -> rusqlite::Result<usize> {
    conn.execute("DELETE FROM work_clones WHERE id = ?1 AND organization_id = ?2", params![id, tenant.org_id()])
}

/// Whether `user` is an active member of the organization.
pub fn is_active_member(conn: &Connection, tenant: &Tenant, user: UserId) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM organization_members WHERE organization_id = ?1 AND user_id = ?2 AND status = 'active')",
        params![tenant.org_id(), user],
        |r| r.get(0),
    )
}

/// Shares (or changes the access of a share).
pub fn upsert_share(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    user: UserId,
    access: ShareAccess,
) -> rusqlite::Result<usize> {
    conn.execute(
        "INSERT INTO clone_shares (organization_id, clone_id, user_id, access) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (clone_id, user_id) DO UPDATE SET access = excluded.access",
        params![tenant.org_id(), clone, user, access.as_str()],
    )
}

pub fn delete_share(conn: &Connection, tenant: &Tenant, clone: CloneId, user: UserId) -> rusqlite::Result<usize> {
    conn.execute(
        "DELETE FROM clone_shares WHERE clone_id = ?1 AND user_id = ?2 AND organization_id = ?3",
        params![clone, user, tenant.org_id()],
    )
}

/// A cleaned pair to store.
pub struct NewPair<'a> {
    pub data_type: &'a str,
    pub source: &'a str,
    pub original: &'a str,
    pub reply: &'a str,
    pub context: &'a str,
    pub features: &'a str,
    pub hash: &'a str,
}

/// Stores a pair unless the clone already has one with its hash (`None` then).
pub fn insert_pair(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    p: &NewPair<'_>,
) -> rusqlite::Result<Option<CloneDataId>> {
    let exists: bool = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM clone_training_data WHERE organization_id = ?1 AND clone_id = ?2 AND content_hash = ?3)",
    )?
    .query_row(params![tenant.org_id(), clone, p.hash], |r| r.get(0))?;
    if exists {
        return Ok(None);
    }
    conn.prepare_cached(
        "INSERT INTO clone_training_data (organization_id, clone_id, data_type, source, original_content,
                                          processed_content, context, extracted_features, content_hash,
                                          is_processed, processed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, strftime('%Y-%m-%dT%H:%M:%fZ','now')) RETURNING id",
    )?
    .query_row(
        params![tenant.org_id(), clone, p.data_type, p.source, p.original, p.reply, p.context, p.features, p.hash],
        |r| r.get(0),
    )
    .map(Some)
}

/// A page of the clone's pairs.
pub fn pairs(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    after: Option<i64>,
    limit: i64,
) -> rusqlite::Result<Vec<TrainingPair>> {
    let sql = format!(
        "SELECT {PAIR_COLUMNS} FROM clone_training_data
         WHERE organization_id = ?1 AND clone_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
    );
    query_all(conn, &sql, params![tenant.org_id(), clone, after.unwrap_or(0), limit])
}

pub fn pair(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    id: CloneDataId,
) -> rusqlite::Result<Option<TrainingPair>> {
    let sql = format!(
        "SELECT {PAIR_COLUMNS} FROM clone_training_data WHERE id = ?1 AND organization_id = ?2 AND clone_id = ?3"
    );
    conn.prepare_cached(&sql)?.query_row(params![id, tenant.org_id(), clone], TrainingPair::from_row).optional()
}

pub fn set_pair_enabled(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    id: CloneDataId,
    enabled: bool,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE clone_training_data SET is_approved = ?4 WHERE id = ?1 AND organization_id = ?2 AND clone_id = ?3",
        params![id, tenant.org_id(), clone, enabled],
    )
}

/// Every pair of the clone that is enabled, by id.
pub fn enabled_pairs(conn: &Connection, tenant: &Tenant, clone: CloneId) -> rusqlite::Result<Vec<TrainingPair>> {
    let sql = format!(
        "SELECT {PAIR_COLUMNS} FROM clone_training_data
         WHERE organization_id = ?1 AND clone_id = ?2 AND is_approved = 1 ORDER BY id"
    );
    query_all(conn, &sql, params![tenant.org_id(), clone])
}

/// Pairs by id (for citations), in no particular order.
pub fn pairs_by_ids(conn: &Connection, tenant: &Tenant, ids: &[i64]) -> rusqlite::Result<Vec<TrainingPair>> {
    let sql = format!(
        "SELECT {PAIR_COLUMNS} FROM clone_training_data
         WHERE organization_id = ?1 AND id IN (SELECT value FROM json_each(?2))"
    );
    query_all(conn, &sql, params![tenant.org_id(), serde_json::Value::from(ids.to_vec()).to_string()])
}

/// (all pairs, enabled pairs) of the clone.
pub fn pair_counts(conn: &Connection, tenant: &Tenant, clone: CloneId) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT count(*), coalesce(sum(is_approved), 0) FROM clone_training_data WHERE organization_id = ?1 AND clone_id = ?2",
        params![tenant.org_id(), clone],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Stores a version (the next number) and returns (row id, number).
pub fn insert_version(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    profile: &str,
    pairs: usize,
    model: &str,
    training_ms: i64,
) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "INSERT INTO clone_versions (organization_id, clone_id, version, style_profile, pairs_count, embedding_model,
                                     training_ms, created_by)
         VALUES (?1, ?2, (SELECT coalesce(max(version), 0) + 1 FROM clone_versions WHERE clone_id = ?2),
                 ?3, ?4, ?5, ?6, ?7)
         RETURNING id, version",
        params![
            tenant.org_id(),
            clone,
            profile,
            i64::try_from(pairs).unwrap_or(i64::MAX),
            model,
            training_ms,
            tenant.user_id()
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

pub fn insert_vector(
    conn: &Connection,
    tenant: &Tenant,
    version_row: i64,
    pair: CloneDataId,
    embedding: &[u8],
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "INSERT INTO clone_pair_vectors (organization_id, clone_version_id, training_data_id, embedding) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![tenant.org_id(), version_row, pair, embedding])
}

/// Makes `version` the clone's active one with its profile.
pub fn activate(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    version: i64,
    profile: &str,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE work_clones SET active_version = ?3, style_profile = ?4, status = 'ready',
                last_trained_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         WHERE id = ?1 AND organization_id = ?2",
        params![clone, tenant.org_id(), version, profile],
    )
}

pub fn versions(conn: &Connection, tenant: &Tenant, clone: CloneId) -> rusqlite::Result<Vec<CloneVersion>> {
    query_all(
        conn,
        "SELECT version, pairs_count, embedding_model, training_ms, style_profile, created_at FROM clone_versions
         WHERE organization_id = ?1 AND clone_id = ?2 ORDER BY version DESC",
        params![tenant.org_id(), clone],
    )
}

/// The row id and profile of a clone's version `version`.
pub fn version_row(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    version: i64,
) -> rusqlite::Result<Option<(i64, String)>> {
    conn.query_row(
        "SELECT id, style_profile FROM clone_versions WHERE organization_id = ?1 AND clone_id = ?2 AND version = ?3",
        params![tenant.org_id(), clone, version],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// (pair id, context, embedding bytes) of a version's index (the reply when the context is empty).
pub fn index_rows(
    conn: &Connection,
    tenant: &Tenant,
    version_row: i64,
) -> rusqlite::Result<Vec<(i64, String, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT v.training_data_id, CASE WHEN d.context = '' THEN coalesce(d.processed_content, d.original_content) ELSE d.context END,
                v.embedding
         FROM clone_pair_vectors v JOIN clone_training_data d ON d.id = v.training_data_id
         WHERE v.organization_id = ?1 AND v.clone_version_id = ?2",
    )?;
    stmt.query_map(params![tenant.org_id(), version_row], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect()
}

/// A recorded draft.
pub struct NewResponse<'a> {
    pub clone: CloneId,
    pub input: &'a str,
    pub output: &'a str,
    pub context: Option<&'a str>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub latency_ms: i64,
    pub similarity: Option<f64>,
    pub metadata: &'a str,
}

pub fn insert_response(conn: &Connection, tenant: &Tenant, r: &NewResponse<'_>) -> rusqlite::Result<CloneResponseId> {
    conn.query_row(
        "INSERT INTO clone_responses (organization_id, clone_id, user_id, input_prompt, generated_response, response_type,
                                      context, input_tokens, output_tokens, latency_ms, similarity_score, metadata)
         VALUES (?1, ?2, ?3, ?4, ?5, 'message', ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id",
        params![
            tenant.org_id(), r.clone, tenant.user_id(), r.input, r.output, r.context, r.input_tokens, r.output_tokens,
            r.latency_ms, r.similarity, r.metadata
        ],
        |row| row.get(0),
    )
}

/// (input prompt, generated text) of a draft of `clone`.
pub fn response(
    conn: &Connection,
    tenant: &Tenant,
    clone: CloneId,
    id: CloneResponseId,
) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row(
        "SELECT input_prompt, generated_response FROM clone_responses WHERE id = ?1 AND organization_id = ?2 AND clone_id = ?3",
        params![id, tenant.org_id(), clone],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

pub fn record_feedback(
    conn: &Connection,
    tenant: &Tenant,
    id: CloneResponseId,
    decision: &str,
    edited: Option<&str>,
) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE clone_responses SET feedback = ?3, edited_response = ?4, was_edited = (?4 IS NOT NULL),
                was_used = (?3 <> 'reject')
         WHERE id = ?1 AND organization_id = ?2",
        params![id, tenant.org_id(), decision, edited],
    )
}
