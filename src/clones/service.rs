//! Work clone rules: who sees and manages a clone, import, training,
//! drafting and feedback.
//!
//! A clone is seen by its owner, the organization's admins (`org.manage`)
//! and the members it is shared with; anyone else gets `clone_not_found`.
//! Managing it (edit, import, train, share, delete) needs the owner, an
//! admin, or a `manage` share; a `use` share may draft, read and give feedback.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::import::{self, clean};
use super::model::{
    CloneDataId, CloneId, CloneResponseId, CloneVersion, CreateCloneRequest, Decision, Draft, FeedbackRequest,
    FeedbackResult, ImportReport, ImportRequest, ShareAccess, ShareRequest, StyleResponse, TrainingPair,
    UpdateCloneRequest, UpdatePairRequest, WorkClone, check_name, check_text,
};
use super::retrieval::VersionIndex;
use super::style::{self, Sample, StyleProfile};
use super::{draft, store};
use crate::app::AppState;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::UserId;
use crate::llm::model::LlmProviderId;
use crate::ml::{bytes_vector, normalize, vector_bytes};
use crate::orgs::audit::{self, AuditEntry};
use crate::permissions::Permission;

/// Longest message a draft answers, in characters.
pub const MAX_MESSAGE_CHARS: usize = 8000;
/// Past exchanges a draft is based on.
pub const CITED_PAIRS: usize = 5;

fn not_found() -> AppError {
    AppError::new(ErrorCode::CloneNotFound, "no such clone")
}

/// What the caller may do with `clone` (`None`: they may not see it).
fn access_of(tenant: &Tenant, clone: &WorkClone) -> Option<ShareAccess> {
    let owner = clone.owner_user_id.is_some() && clone.owner_user_id == tenant.user_id();
    if owner || tenant.can(Permission::OrgManage) {
        return Some(ShareAccess::Manage);
    }
    let me = tenant.user_id()?;
    clone.shared_with.iter().find(|s| s.user_id == me).map(|s| s.access)
}

/// The clone if the caller may see it.
pub fn visible(conn: &rusqlite::Connection, tenant: &Tenant, id: CloneId) -> AppResult<WorkClone> {
    let mut clone = store::find(conn, tenant, id)?.ok_or_else(not_found)?;
    clone.access = access_of(tenant, &clone).ok_or_else(not_found)?;
    Ok(clone)
}

/// The clone if the caller may manage it (403 when they may only use it).
fn manageable(conn: &rusqlite::Connection, tenant: &Tenant, id: CloneId) -> AppResult<WorkClone> {
    let clone = visible(conn, tenant, id)?;
    if clone.access != ShareAccess::Manage {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "only the clone's owner, an organization admin or a member it is shared with for `manage` may do this",
        ));
    }
    Ok(clone)
}

async fn check_provider(state: &AppState, tenant: &Tenant, provider: Option<LlmProviderId>) -> AppResult<()> {
    let Some(id) = provider else { return Ok(()) };
    crate::llm::service::get(state, tenant.clone(), id).await.map(|_| ()).map_err(|_| {
        AppError::new(ErrorCode::InvalidReference, "no such LLM provider in this organization")
            .with_details(json!({ "field": "provider_id" }))
    })
}

/// Creates a clone of the acting user.
pub async fn create(state: &AppState, tenant: Tenant, req: CreateCloneRequest) -> AppResult<WorkClone> {
    let name = check_name(&req.name)?;
    let description = check_text("description", req.description, 2000)?;
    let model = check_text("ai_model", req.ai_model, 200)?;
    if tenant.user_id().is_none() {
        return Err(AppError::new(ErrorCode::Forbidden, "a clone belongs to a user"));
    }
    check_provider(state, &tenant, req.provider_id).await?;
    state
        .db
        .write(move |tx| {
            let id = store::insert(tx, &tenant, &name, description.as_deref(), req.provider_id, model.as_deref())?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "clone.created", "work_clone", id.0).with_new(json!({ "name": name })),
            )?;
            visible(tx, &tenant, id)
        })
        .await
}

/// The clones the caller may see.
pub async fn list(state: &AppState, tenant: Tenant, page: PageParams) -> AppResult<Page<WorkClone>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            let all = tenant.can(Permission::OrgManage);
            let mut rows = store::list(c, &tenant, tenant.user_id(), all, after, limit)?;
            for clone in &mut rows {
                clone.access = access_of(&tenant, clone).unwrap_or_default();
            }
            Ok(rows)
        })
        .await?;
    Page::from_rows(rows, &page, |c| c.id.0)
}

pub async fn get(state: &AppState, tenant: Tenant, id: CloneId) -> AppResult<WorkClone> {
    state.db.read(move |c| visible(c, &tenant, id)).await
}

pub async fn update(state: &AppState, tenant: Tenant, id: CloneId, req: UpdateCloneRequest) -> AppResult<WorkClone> {
    let name = req.name.as_deref().map(check_name).transpose()?;
    let description = req.description.map(|d| check_text("description", d, 2000)).transpose()?;
    let model = req.ai_model.map(|m| check_text("ai_model", m, 200)).transpose()?;
    if let Some(Some(p)) = req.provider_id {
        check_provider(state, &tenant, Some(p)).await?;
    }
    state
        .db
        .write(move |tx| {
            let mut clone = manageable(tx, &tenant, id)?;
            if let Some(n) = name {
                clone.name = n;
            }
            if let Some(d) = description {
                clone.description = d;
            }
            if let Some(p) = req.provider_id {
                clone.provider_id = p;
            }
            if let Some(m) = model {
                clone.ai_model = m;
            }
            store::update(tx, &tenant, &clone)?;
            audit::record(tx, &AuditEntry::by(&tenant, "clone.updated", "work_clone", id.0))?;
            visible(tx, &tenant, id)
        })
        .await
}

pub async fn delete(state: &AppState, tenant: Tenant, id: CloneId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            manageable(tx, &tenant, id)?;
            store::delete(tx, &tenant, id)?;
            audit::record(tx, &AuditEntry::by(&tenant, "clone.deleted", "work_clone", id.0))?;
            Ok(())
        })
        .await
}

/// Shares the clone with another active member of its organization.
pub async fn share(state: &AppState, tenant: Tenant, id: CloneId, req: ShareRequest) -> AppResult<WorkClone> {
    state
        .db
        .write(move |tx| {
            let clone = manageable(tx, &tenant, id)?;
            let refuse = |why: &str| {
                AppError::new(ErrorCode::CloneShareInvalid, why.to_owned()).with_details(json!({ "field": "user_id" }))
            };
            if clone.owner_user_id == Some(req.user_id) {
                return Err(refuse("the clone already belongs to this user"));
            }
            if !store::is_active_member(tx, &tenant, req.user_id)? {
                return Err(refuse("this user is not an active member of the clone's organization"));
            }
            store::upsert_share(tx, &tenant, id, req.user_id, req.access)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "clone.shared", "work_clone", id.0)
                    .with_new(json!({ "user_id": req.user_id, "access": req.access.as_str() })),
            )?;
            visible(tx, &tenant, id)
        })
        .await
}

/// Stops sharing (nothing to do when it was not shared).
pub async fn unshare(state: &AppState, tenant: Tenant, id: CloneId, user: UserId) -> AppResult<()> {
    state
        .db
        .write(move |tx| {
            manageable(tx, &tenant, id)?;
            if store::delete_share(tx, &tenant, id, user)? > 0 {
                audit::record(
                    tx,
                    &AuditEntry::by(&tenant, "clone.unshared", "work_clone", id.0).with_old(json!({ "user_id": user })),
                )?;
            }
            Ok(())
        })
        .await
}

/// A pair ready to store.
struct CleanPair {
    original: String,
    reply: String,
    context: String,
    features: String,
    hash: String,
}

/// Cleans parsed pairs; counts what is left out.
fn clean_pairs(
    format: super::model::ImportFormat,
    parsed: import::Parsed,
    scrub: bool,
    report: &mut ImportReport,
) -> Vec<CleanPair> {
    let mut skip = |reason: &str| *report.skipped.entry(reason.to_owned()).or_insert(0) += 1;
    let mut out = Vec::new();
    for raw in parsed.pairs {
        if raw.automatic || clean::looks_automatic(&raw.subject, &raw.reply) {
            skip("auto_reply");
            continue;
        }
        let cleaned = clean::clean_reply(&clean::strip_quotes(&raw.reply));
        let scrubbed = |t: String| if scrub { clean::scrub_pii(&t) } else { t };
        let reply = scrubbed(cleaned.body);
        let original = scrubbed(raw.reply);
        let context: String = scrubbed(raw.context).chars().take(10_000).collect();
        if reply.trim().is_empty() {
            skip("empty");
            continue;
        }
        match original.chars().count() {
            n if n < 10 => skip("too_short"),
            n if n > 50_000 => skip("too_long"),
            _ => {
                let features = json!({
                    "greeting": cleaned.greeting.map(|g| if scrub { clean::scrub_pii(&g) } else { g }),
                    "sign_off": cleaned.sign_off,
                    "line": raw.line,
                    "format": format.as_str(),
                })
                .to_string();
                let hash = clean::pair_hash(&context, &reply);
                out.push(CleanPair { original, reply, context, features, hash });
            }
        }
    }
    out
}

/// Imports an export into the clone's training data, all or nothing.
pub async fn import(state: &AppState, tenant: Tenant, id: CloneId, req: ImportRequest) -> AppResult<ImportReport> {
    let format = req.format;
    let identity = match format {
        super::model::ImportFormat::Csv => String::new(),
        _ => req.identity.map(|i| i.trim().to_owned()).filter(|i| !i.is_empty()).ok_or_else(|| {
            AppError::validation(
                "identity",
                "name who the clone is in this export (email address, Slack user id or WhatsApp name)",
            )
        })?,
    };
    if req.content.len() > import::MAX_IMPORT_BYTES {
        return Err(AppError::validation("content", format!("must be at most {} bytes", import::MAX_IMPORT_BYTES)));
    }
    let t = tenant.clone();
    state.db.read(move |c| manageable(c, &t, id).map(|_| ())).await?;
    let scrub = req.scrub_pii;
    let (pairs, mut report) = tokio::task::spawn_blocking(move || {
        let parsed = import::parse(format, &identity, &req.content).map_err(|e| e.into_app(format))?;
        let mut report = ImportReport { messages: parsed.messages, ..ImportReport::default() };
        let pairs = clean_pairs(format, parsed, scrub, &mut report);
        Ok::<_, AppError>((pairs, report))
    })
    .await
    .map_err(AppError::internal)??;
    state
        .db
        .write(move |tx| {
            manageable(tx, &tenant, id)?;
            for p in &pairs {
                let new = store::NewPair {
                    data_type: format.data_type(),
                    source: format.as_str(),
                    original: &p.original,
                    reply: &p.reply,
                    context: &p.context,
                    features: &p.features,
                    hash: &p.hash,
                };
                match store::insert_pair(tx, &tenant, id, &new)? {
                    Some(_) => report.imported += 1,
                    None => report.duplicates += 1,
                }
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "clone.imported", "work_clone", id.0).with_metadata(json!({
                    "format": format.as_str(), "imported": report.imported, "duplicates": report.duplicates,
                    "scrub_pii": scrub,
                })),
            )?;
            Ok(report)
        })
        .await
}

pub async fn pairs(state: &AppState, tenant: Tenant, id: CloneId, page: PageParams) -> AppResult<Page<TrainingPair>> {
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| {
            visible(c, &tenant, id)?;
            Ok(store::pairs(c, &tenant, id, after, limit)?)
        })
        .await?;
    Page::from_rows(rows, &page, |p| p.id.0)
}

/// Enables or disables a pair for the next training.
pub async fn update_pair(
    state: &AppState,
    tenant: Tenant,
    id: CloneId,
    pair: CloneDataId,
    req: UpdatePairRequest,
) -> AppResult<TrainingPair> {
    state
        .db
        .write(move |tx| {
            manageable(tx, &tenant, id)?;
            let missing = || AppError::new(ErrorCode::CloneDataNotFound, "no such training pair of this clone");
            store::pair(tx, &tenant, id, pair)?.ok_or_else(missing)?;
            store::set_pair_enabled(tx, &tenant, id, pair, req.enabled)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "clone.pair_updated", "work_clone", id.0)
                    .with_new(json!({ "pair_id": pair, "enabled": req.enabled })),
            )?;
            store::pair(tx, &tenant, id, pair)?.ok_or_else(missing)
        })
        .await
}

/// The style profile of pairs.
fn profile_of(pairs: &[TrainingPair]) -> StyleProfile {
    let samples: Vec<Sample<'_>> = pairs
        .iter()
        .map(|p| Sample {
            body: &p.reply,
            greeting: p.features.get("greeting").and_then(serde_json::Value::as_str),
            sign_off: p.features.get("sign_off").and_then(serde_json::Value::as_str),
        })
        .collect();
    style::profile(&samples)
}

/// The profile of the enabled pairs now, and the one the active version froze.
pub async fn style(state: &AppState, tenant: Tenant, id: CloneId) -> AppResult<StyleResponse> {
    state
        .db
        .read(move |c| {
            let clone = visible(c, &tenant, id)?;
            let pairs = store::enabled_pairs(c, &tenant, id)?;
            let trained = match clone.active_version {
                Some(v) => store::version_row(c, &tenant, id, v)?.and_then(|(_, p)| serde_json::from_str(&p).ok()),
                None => None,
            };
            Ok(StyleResponse { current: profile_of(&pairs), trained, active_version: clone.active_version })
        })
        .await
}

pub async fn versions(state: &AppState, tenant: Tenant, id: CloneId) -> AppResult<Vec<CloneVersion>> {
    state
        .db
        .read(move |c| {
            visible(c, &tenant, id)?;
            Ok(store::versions(c, &tenant, id)?)
        })
        .await
}

/// Trains a new version: embeds the enabled pairs' contexts, freezes the
/// style profile and makes the version active.
pub async fn train(state: &AppState, tenant: Tenant, id: CloneId) -> AppResult<CloneVersion> {
    let t = tenant.clone();
    let (pairs, counts) = state
        .db
        .read(move |c| {
            manageable(c, &t, id)?;
            Ok((store::enabled_pairs(c, &t, id)?, store::pair_counts(c, &t, id)?))
        })
        .await?;
    if pairs.is_empty() {
        let why = if counts.0 == 0 {
            "the clone has no training data: import an export first"
        } else {
            "every training pair of the clone is disabled: enable some first"
        };
        return Err(AppError::new(ErrorCode::CloneTrainingEmpty, why)
            .with_details(json!({ "pairs": counts.0, "enabled": counts.1 })));
    }
    let embedder = state.models.embedder().await?;
    let started = Instant::now();
    // Training is background-sized work: its own bulk sessions, off the serving queue.
    let texts: Vec<String> =
        pairs.iter().map(|p| if p.context.is_empty() { p.reply.clone() } else { p.context.clone() }).collect();
    let bulk_embedder = embedder.clone();
    let vectors: Vec<Vec<f32>> = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        bulk_embedder.bulk(refs.len())?.embed(&refs)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?
    .into_iter()
    .map(normalize)
    .collect();
    let profile = profile_of(&pairs);
    let profile_json = serde_json::to_string(&profile).map_err(AppError::internal)?;
    let model = embedder.model_id().to_owned();
    let training_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let rows: Vec<(i64, String, Vec<f32>)> = pairs
        .iter()
        .zip(&vectors)
        .map(|(p, v)| (p.id.0, if p.context.is_empty() { p.reply.clone() } else { p.context.clone() }, v.clone()))
        .collect();
    let (version_row, version) = state
        .db
        .write(move |tx| {
            manageable(tx, &tenant, id)?;
            let (row, version) =
                store::insert_version(tx, &tenant, id, &profile_json, pairs.len(), &model, training_ms)?;
            for (p, v) in pairs.iter().zip(&vectors) {
                store::insert_vector(tx, &tenant, row, p.id, &vector_bytes(v))?;
            }
            store::activate(tx, &tenant, id, version, &profile_json)?;
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "clone.trained", "work_clone", id.0)
                    .with_new(json!({ "version": version, "pairs": pairs.len() })),
            )?;
            let created = store::versions(tx, &tenant, id)?.into_iter().find(|v| v.version == version);
            Ok((row, created.ok_or_else(|| AppError::internal(anyhow::anyhow!("version vanished")))?))
        })
        .await?;
    state.clones.put(version_row, Arc::new(VersionIndex::build(rows)));
    Ok(version)
}

/// The in-memory index of a version (loaded from the data file on first use).
pub async fn index_of(state: &AppState, tenant: &Tenant, version_row: i64) -> AppResult<Arc<VersionIndex>> {
    if let Some(index) = state.clones.get(version_row) {
        return Ok(index);
    }
    let t = tenant.clone();
    let rows = state.db.read(move |c| Ok(store::index_rows(c, &t, version_row)?)).await?;
    let index = Arc::new(
        tokio::task::spawn_blocking(move || {
            VersionIndex::build(rows.into_iter().map(|(id, text, bytes)| (id, text, bytes_vector(&bytes))).collect())
        })
        .await
        .map_err(AppError::internal)?,
    );
    state.clones.put(version_row, Arc::clone(&index));
    Ok(index)
}

/// Drafts a reply to `message` with the clone's active version and records it.
pub async fn generate(
    state: &AppState,
    tenant: Tenant,
    id: CloneId,
    message: &str,
    conversation: Option<i64>,
) -> AppResult<Draft> {
    let message = message.trim().to_owned();
    if message.is_empty() || message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(AppError::validation("message", format!("must be 1–{MAX_MESSAGE_CHARS} characters")));
    }
    let started = Instant::now();
    let t = tenant.clone();
    let (clone, version, version_row, profile) = state
        .db
        .read(move |c| {
            let clone = visible(c, &t, id)?;
            let version = clone.active_version.ok_or_else(|| {
                AppError::new(ErrorCode::CloneNotTrained, "the clone has not been trained yet: train it first")
            })?;
            let (row, profile) = store::version_row(c, &t, id, version)?
                .ok_or_else(|| AppError::internal(anyhow::anyhow!("active version {version} missing")))?;
            let profile: StyleProfile = serde_json::from_str(&profile).unwrap_or_default();
            Ok((clone, version, row, profile))
        })
        .await?;
    let embedder = state.models.embedder().await?;
    let query = normalize(embedder.embed_one(&message).await.map_err(AppError::internal)?);
    let index = index_of(state, &tenant, version_row).await?;
    let hits = index.search(&query, &message, CITED_PAIRS);
    let ids: Vec<i64> = hits.iter().map(|h| h.pair_id).collect();
    let t = tenant.clone();
    let found: HashMap<CloneDataId, TrainingPair> =
        state.db.read(move |c| Ok(store::pairs_by_ids(c, &t, &ids)?)).await?.into_iter().map(|p| (p.id, p)).collect();
    let cited: Vec<(draft::Scored, TrainingPair)> = hits
        .iter()
        .filter_map(|h| {
            found
                .get(&CloneDataId(h.pair_id))
                .map(|p| (draft::Scored { score: h.score, similarity: h.similarity }, p.clone()))
        })
        .collect();
    let written = draft::write(state, &tenant, &clone, &profile, &message, &cited).await?;
    let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let metadata = json!({
        "mode": written.mode, "version": version, "citations": written.citations.iter().map(|c| c.pair_id).collect::<Vec<_>>(),
        "conversation_id": conversation,
    })
    .to_string();
    let similarity = written.citations.first().map(|c| c.similarity);
    let (input_tokens, output_tokens) = written.tokens;
    let text = written.text.clone();
    let input = message.clone();
    let response_id = state
        .db
        .write(move |tx| {
            let context = conversation.map(|c| format!("conversation:{c}"));
            let record = store::NewResponse {
                clone: id,
                input: &input,
                output: &text,
                context: context.as_deref(),
                input_tokens,
                output_tokens,
                latency_ms,
                similarity,
                metadata: &metadata,
            };
            Ok(store::insert_response(tx, &tenant, &record)?)
        })
        .await?;
    Ok(Draft {
        response_id,
        mode: written.mode,
        text: written.text,
        citations: written.citations,
        version,
        latency_ms,
        note: written.note,
    })
}

/// Records a reviewer's decision; accepted and edited replies become training pairs.
pub async fn feedback(
    state: &AppState,
    tenant: Tenant,
    id: CloneId,
    response: CloneResponseId,
    req: FeedbackRequest,
) -> AppResult<FeedbackResult> {
    let text = req.text.map(|t| t.trim().to_owned());
    match (req.decision, &text) {
        (Decision::Edit, None) => return Err(AppError::validation("text", "an edit needs the reply as sent")),
        (Decision::Edit, Some(t)) if t.is_empty() || t.chars().count() > 50_000 => {
            return Err(AppError::validation("text", "must be 1–50000 characters"));
        }
        (Decision::Accept | Decision::Reject, Some(_)) => {
            return Err(AppError::validation("text", "only an edit carries a text"));
        }
        _ => {}
    }
    state
        .db
        .write(move |tx| {
            visible(tx, &tenant, id)?;
            let (input, generated) = store::response(tx, &tenant, id, response)?
                .ok_or_else(|| AppError::new(ErrorCode::CloneResponseNotFound, "no such draft of this clone"))?;
            store::record_feedback(tx, &tenant, response, req.decision.as_str(), text.as_deref())?;
            let final_text = text.unwrap_or(generated);
            let mut training_pair_id = None;
            if req.decision != Decision::Reject && (10..=50_000).contains(&final_text.chars().count()) {
                let cleaned = clean::clean_reply(&final_text);
                let features =
                    json!({ "greeting": cleaned.greeting, "sign_off": cleaned.sign_off, "format": "feedback",
                                       "response_id": response })
                    .to_string();
                let hash = clean::pair_hash(&input, &cleaned.body);
                let new = store::NewPair {
                    data_type: "chat",
                    source: "feedback",
                    original: &final_text,
                    reply: &cleaned.body,
                    context: &input,
                    features: &features,
                    hash: &hash,
                };
                training_pair_id = store::insert_pair(tx, &tenant, id, &new)?;
            }
            audit::record(
                tx,
                &AuditEntry::by(&tenant, "clone.feedback", "work_clone", id.0)
                    .with_new(json!({ "response_id": response, "decision": req.decision.as_str() })),
            )?;
            Ok(FeedbackResult { response_id: response, decision: req.decision, training_pair_id })
        })
        .await
}

/// A suggested reply to a handed-off conversation's latest visitor message,
/// drafted by `clone` (which the agent must see) and recorded with the conversation.
pub async fn suggest(
    state: &AppState,
    tenant: Tenant,
    conversation: crate::conversations::model::ConversationId,
    clone: CloneId,
) -> AppResult<Draft> {
    use crate::conversations::model::{ConvStatus, Role};
    let conv = crate::conversations::service::get(state, tenant.clone(), conversation).await?;
    if conv.status != ConvStatus::Handoff {
        return Err(AppError::new(
            ErrorCode::ConversationNotInHandoff,
            "suggested replies are for conversations handed off to a human agent",
        ));
    }
    // The transcript pages oldest first; the latest visitor message is on the last page.
    let mut last = None;
    let mut after = None;
    loop {
        let page = PageParams { limit: Some(200), after };
        let page = crate::conversations::service::transcript(state, tenant.clone(), conversation, page).await?;
        if let Some(m) = page.items.iter().rev().find(|m| matches!(m.role, Role::User) && !m.text.trim().is_empty()) {
            last = Some(m.text.clone());
        }
        match page.next_cursor {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    let message = last.ok_or_else(|| {
        AppError::new(ErrorCode::CloneNoMessage, "the conversation has no message from the visitor to answer")
    })?;
    let message: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    generate(state, tenant, clone, &message, Some(conversation.0)).await
}
