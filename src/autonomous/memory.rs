//! Long-term memory of autonomous agents (`agent_memories`): items embedded
//! with the server's local embedding model (the one knowledge chunks use),
//! searched by cosine similarity, recalled into run prompts (top-k), and
//! consolidated: near-duplicates (cosine ≥ [`DUPLICATE_SIMILARITY`]) merge
//! into the older item, and past the agent's cap the least useful items
//! (fewest recalls, then longest unused, then oldest) are dropped.
//!
//! An agent holds at most `memory_cap` (≤ 10 000) items, so a search reads
//! them all and ranks in memory: at 384 dimensions that is well under a
//! millisecond per thousand items and needs no vector index.

use serde_json::json;

use super::model::{AgentMemoryId, AutonomousAgentId, Consolidation, Memory};
use super::store;
use crate::app::AppState;
use crate::db::now;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::Tenant;
use crate::ml::embedder::{bytes_vector, dot, vector_bytes};

/// Cosine similarity at and above which two memories are one.
pub const DUPLICATE_SIMILARITY: f32 = 0.92;

pub(crate) fn not_found() -> AppError {
    AppError::new(ErrorCode::AutonomousMemoryNotFound, "no such memory")
}

async fn embed(state: &AppState, text: &str) -> AppResult<Vec<f32>> {
    let embedder = state.models.embedder().await?;
    embedder.embed_one(text).await.map_err(AppError::internal)
}

/// Stores a memory, then consolidates (a near-duplicate of an existing item
/// merges into it at once). Returns the id the content lives under.
pub async fn add(state: &AppState, tenant: Tenant, agent: AutonomousAgentId, content: &str) -> AppResult<Memory> {
    let content = content.trim().to_owned();
    if content.is_empty() || content.chars().count() > 4000 {
        return Err(AppError::validation("content", "must be 1–4000 characters"));
    }
    let agent_row = super::service::get(state, tenant.clone(), agent).await?;
    let vector = embed(state, &content).await?;
    let bytes = vector_bytes(&vector);
    let t = tenant.clone();
    let id = state.db.write(move |tx| Ok(store::insert_memory(tx, &t, agent, &content, &bytes)?)).await?;
    consolidate(state, tenant.clone(), agent, agent_row.memory_cap).await?;
    // The new item may have been merged into an older one: answer that one.
    let t = tenant.clone();
    let all = state.db.read(move |c| Ok(store::memories_with_vectors(c, &t, agent)?)).await?;
    if let Some((m, _)) = all.iter().find(|(m, _)| m.id == id) {
        return Ok(m.clone());
    }
    let best = all
        .into_iter()
        .map(|(m, v)| (dot(&vector, &bytes_vector(&v)), m))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, m)| m);
    best.ok_or_else(not_found)
}

/// The `k` memories most similar to `query` (with their score); each counts a recall.
pub async fn search(
    state: &AppState,
    tenant: Tenant,
    agent: AutonomousAgentId,
    query: &str,
    k: usize,
) -> AppResult<Vec<Memory>> {
    let t = tenant.clone();
    let all = state.db.read(move |c| Ok(store::memories_with_vectors(c, &t, agent)?)).await?;
    if all.is_empty() || k == 0 {
        return Ok(Vec::new());
    }
    let q = embed(state, query).await?;
    let mut scored: Vec<Memory> = all
        .into_iter()
        .map(|(mut m, v)| {
            m.score = Some(dot(&q, &bytes_vector(&v)));
            m
        })
        .collect();
    scored.sort_by(|a, b| b.score.unwrap_or(0.0).total_cmp(&a.score.unwrap_or(0.0)));
    scored.truncate(k);
    let ids: Vec<AgentMemoryId> = scored.iter().map(|m| m.id).collect();
    state.db.write(move |tx| Ok(store::touch_memories(tx, &tenant, &ids, &now())?)).await?;
    for m in &mut scored {
        m.hits += 1;
    }
    Ok(scored)
}

/// Newest memories first.
pub async fn list(state: &AppState, tenant: Tenant, agent: AutonomousAgentId, limit: i64) -> AppResult<Vec<Memory>> {
    state.db.read(move |c| Ok(store::list_memories(c, &tenant, agent, limit)?)).await
}

/// Merges near-duplicates and enforces the cap.
pub async fn consolidate(
    state: &AppState,
    tenant: Tenant,
    agent: AutonomousAgentId,
    cap: i64,
) -> AppResult<Consolidation> {
    state
        .db
        .write(move |tx| {
            let items = store::memories_with_vectors(tx, &tenant, agent)?;
            let vectors: Vec<Vec<f32>> = items.iter().map(|(_, v)| bytes_vector(v)).collect();
            let mut gone = vec![false; items.len()];
            let mut merged = 0;
            // Oldest first: a later near-duplicate merges into the earlier item.
            for i in 0..items.len() {
                if gone[i] {
                    continue;
                }
                for j in (i + 1)..items.len() {
                    if !gone[j] && dot(&vectors[i], &vectors[j]) >= DUPLICATE_SIMILARITY {
                        store::merge_memory(tx, &tenant, items[i].0.id, items[j].0.id)?;
                        gone[j] = true;
                        merged += 1;
                    }
                }
            }
            let dropped = store::enforce_cap(tx, &tenant, agent, cap)?;
            let remaining = items.len() - merged - dropped;
            Ok(Consolidation { merged, dropped, remaining })
        })
        .await
}

/// Consolidates with the agent's own cap.
pub async fn consolidate_agent(state: &AppState, tenant: Tenant, agent: AutonomousAgentId) -> AppResult<Consolidation> {
    let a = super::service::get(state, tenant.clone(), agent).await?;
    consolidate(state, tenant, agent, a.memory_cap).await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: AgentMemoryId) -> AppResult<()> {
    let n = state.db.write(move |tx| Ok(store::delete_memory(tx, &tenant, id)?)).await?;
    if n == 0 { Err(not_found()) } else { Ok(()) }
}

/// The prompt block of recalled memories (empty without memories, or when
/// the embedding model is not available: a run does not fail for its memory).
pub async fn recall_block(state: &AppState, tenant: &Tenant, agent: AutonomousAgentId, query: &str) -> String {
    match search(state, tenant.clone(), agent, query, 5).await {
        Ok(found) if !found.is_empty() => {
            let lines: Vec<String> = found.iter().map(|m| format!("- {}", m.content)).collect();
            format!("\n\nRelevant memories from earlier runs:\n{}", lines.join("\n"))
        }
        Ok(_) => String::new(),
        Err(e) => {
            tracing::warn!(error = %e.message(), "memories not recalled");
            String::new()
        }
    }
}

/// Remembers a run's result (best effort; logged when the model is unavailable).
pub async fn remember_result(state: &AppState, tenant: &Tenant, agent: AutonomousAgentId, text: &str) {
    let content: String = text.chars().take(4000).collect();
    if content.trim().is_empty() {
        return;
    }
    if let Err(e) = add(state, tenant.clone(), agent, &content).await {
        tracing::warn!(error = %e.message(), details = %json!(e.details()), "run result not remembered");
    }
}
