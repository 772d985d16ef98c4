//! Knowledge insights: every knowledge answer of a bot is logged (query,
//! answered or not, best retrieval score, cited chunks) and summarized.

use serde_json::json;

use super::model::{KnowledgeInsights, KnowledgeQuery, KnowledgeQuestion, LowScoreQuery, RangeQuery, number_param};
use super::store::{self, AnswerLog, round4};
use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::knowledge::answer::{Answer, AnswerMode};

/// Logs a knowledge answer of a bot (best effort: a failure is logged, the
/// answer is still given). `answer` is `Err` when answering failed.
pub async fn record_answer(
    state: &AppState,
    tenant: &Tenant,
    bot: BotId,
    query: &str,
    kb_ids: &[i64],
    answer: Result<&(Answer, Option<f64>), ()>,
) {
    let query: String = query.trim().chars().take(2000).collect();
    if query.is_empty() {
        return;
    }
    let (answered, mode, top, citations) = match answer {
        Err(()) => (false, "error", None, json!([])),
        Ok((a, top)) => {
            let mode = match a.mode {
                AnswerMode::Generative => "generative",
                AnswerMode::Extractive => "extractive",
                AnswerMode::ExtractiveFallback => "extractive_fallback",
                AnswerMode::NoAnswer => "no_answer",
            };
            let cited: Vec<_> = a
                .citations
                .iter()
                .map(|c| {
                    json!({ "knowledge_base_id": c.knowledge_base_id.0, "document_id": c.document_id.0,
                            "chunk_id": c.chunk_id.0, "score": round4(c.score) })
                })
                .collect();
            (a.mode != AnswerMode::NoAnswer && !a.answer.trim().is_empty(), mode, top.map(round4), json!(cited))
        }
    };
    let (tenant, kbs) = (tenant.clone(), json!(kb_ids).to_string());
    let result = state
        .db
        .write(move |tx| {
            let log = AnswerLog {
                bot,
                query: &query,
                answered,
                mode,
                top_score: top,
                kb_ids: &kbs,
                citations: &citations.to_string(),
            };
            Ok(store::insert_answer_log(tx, &tenant, &log)?)
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(error = ?e, "cannot log the knowledge answer");
    }
}

fn kb_param(raw: Option<&str>) -> AppResult<Option<i64>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Some)
            .ok_or_else(|| AppError::validation("knowledge_base_id", "must be a knowledge base id")),
    }
}

/// Answered vs "I don't know", most cited documents and chunks.
pub async fn summary(state: &AppState, tenant: Tenant, bot: BotId, q: KnowledgeQuery) -> AppResult<KnowledgeInsights> {
    let range = RangeQuery { from: q.from, to: q.to }.check()?;
    let kb = kb_param(q.knowledge_base_id.as_deref())?;
    state
        .db
        .read(move |c| {
            let (questions, answered, unanswered, errors) = store::answer_totals(c, &tenant, bot, &range, kb)?;
            #[allow(clippy::cast_precision_loss, reason = "counts become a ratio")]
            let answer_rate = if questions > 0 { round4(answered as f64 / questions as f64) } else { 0.0 };
            Ok(KnowledgeInsights {
                top_documents: store::top_documents(c, &tenant, bot, &range, kb)?,
                top_chunks: store::top_chunks(c, &tenant, bot, &range, kb)?,
                range,
                questions,
                answered,
                unanswered,
                errors,
                answer_rate,
            })
        })
        .await
}

/// Questions with a low best retrieval score, newest first.
pub async fn low_scores(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    q: LowScoreQuery,
) -> AppResult<Page<KnowledgeQuestion>> {
    let range = RangeQuery { from: q.from, to: q.to }.check()?;
    let kb = kb_param(q.knowledge_base_id.as_deref())?;
    let below = number_param("below", q.below.as_deref(), 0.5, 0.0, 1.0)?;
    let page = PageParams { limit: q.limit, after: q.after };
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| Ok(store::low_score_questions(c, &tenant, bot, &range, kb, below, after, limit)?))
        .await?;
    Page::from_rows(rows, &page, |r| r.id)
}
