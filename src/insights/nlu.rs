//! NLU insights: parse-log statistics, per-intent quality from the last
//! evaluation, conflicts and training gaps of the examples (cosine
//! similarity of their cached sentence vectors), find-similar.

use std::collections::HashMap;

use ndarray::Array2;

use super::model::{
    ConflictPair, Conflicts, ExampleRef, Gaps, IntentQuality, MessagesQuery, NluSummary, SimilarExample,
    SimilarResponse, SummaryQuery, TrainingGap, number_param,
};
use super::store::{self, ExampleRow, round4};
use crate::app::AppState;
use crate::db::run_blocking;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::http::{Page, PageParams, Tenant};
use crate::ids::BotId;
use crate::nlu::evaluate::{EvaluationReport, MISUNDERSTOOD_BELOW};
use crate::nlu::model::{ExampleId, IntentId, NluLog};

/// At most this many conflicting pairs are listed.
const MAX_PAIRS: usize = 200;

/// Parse traffic, confidence histogram and intents of a range.
pub async fn summary(state: &AppState, tenant: Tenant, bot: BotId, q: SummaryQuery) -> AppResult<NluSummary> {
    let range = super::model::RangeQuery { from: q.from, to: q.to }.check()?;
    let threshold = number_param("threshold", q.threshold.as_deref(), MISUNDERSTOOD_BELOW, 0.0, 1.0)?;
    state
        .db
        .read(move |c| {
            let (total, matched, low_confidence, unmatched, avg) =
                store::nlu_totals(c, &tenant, bot, &range, threshold)?;
            Ok(NluSummary {
                histogram: store::nlu_histogram(c, &tenant, bot, &range)?,
                intents: store::nlu_intent_counts(c, &tenant, bot, &range)?,
                range,
                threshold,
                total,
                matched,
                low_confidence,
                unmatched,
                average_confidence: round4(avg),
            })
        })
        .await
}

/// Low-confidence or unmatched messages of a range, newest first.
pub async fn messages(state: &AppState, tenant: Tenant, bot: BotId, q: MessagesQuery) -> AppResult<Page<NluLog>> {
    let unmatched = match q.kind.as_deref().map(str::trim) {
        None | Some("" | "low_confidence") => false,
        Some("unmatched") => true,
        Some(_) => return Err(AppError::validation("kind", "must be `low_confidence` or `unmatched`")),
    };
    let range = super::model::RangeQuery { from: q.from, to: q.to }.check()?;
    let threshold = number_param("threshold", q.threshold.as_deref(), MISUNDERSTOOD_BELOW, 0.0, 1.0)?;
    let page = PageParams { limit: q.limit, after: q.after };
    let after = page.cursor()?.map(|c| c.id);
    let limit = page.fetch_limit()?;
    let rows = state
        .db
        .read(move |c| Ok(store::nlu_messages(c, &tenant, bot, &range, unmatched, threshold, after, limit)?))
        .await?;
    Page::from_rows(rows, &page, |l| l.id.0)
}

fn last_report(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<Option<(i64, String, EvaluationReport)>> {
    let row = state.db.read_blocking(|c| Ok(store::last_evaluation(c, tenant, bot)?))?;
    Ok(row.and_then(|(id, result, at)| serde_json::from_str(&result).ok().map(|r| (id, at, r))))
}

/// Precision and recall per intent from the bot's last evaluation.
pub async fn quality(state: &AppState, tenant: Tenant, bot: BotId) -> AppResult<IntentQuality> {
    let state = state.clone();
    run_blocking(move || {
        Ok(match last_report(&state, &tenant, bot)? {
            None => IntentQuality {
                job_id: None,
                evaluated_at: None,
                accuracy: None,
                macro_f1: None,
                per_intent: Vec::new(),
                confusions: Vec::new(),
            },
            Some((id, at, r)) => IntentQuality {
                job_id: Some(id),
                evaluated_at: Some(at),
                accuracy: Some(r.accuracy),
                macro_f1: Some(r.macro_f1),
                per_intent: r.per_intent,
                confusions: r.confusions,
            },
        })
    })
    .await
}

/// The bot's examples with their vectors (cached ones reused, the others
/// embedded and cached), blocking.
fn example_vectors(state: &AppState, tenant: &Tenant, bot: BotId) -> AppResult<(Vec<ExampleRow>, Array2<f32>)> {
    let (rows, encoder) = state
        .db
        .read_blocking(|c| Ok((store::examples(c, tenant, bot)?, crate::bots::store::nlu_encoder(c, tenant, bot)?)))?;
    let embedder = state.models.encoder_blocking(encoder)?;
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let (vectors, _) = crate::nlu::train::embed_examples(state, tenant, bot, &embedder, &texts, &mut |_| {})?;
    Ok((rows, vectors))
}

fn cosine(vectors: &Array2<f32>, i: usize, j: usize) -> f64 {
    f64::from(vectors.row(i).dot(&vectors.row(j)))
}

fn reference(r: &ExampleRow) -> ExampleRef {
    ExampleRef {
        example_id: ExampleId(r.id),
        text: r.text.clone(),
        intent_id: IntentId(r.intent_id),
        intent: r.intent.clone(),
    }
}

/// Near-duplicate examples of different intents, and the intents the last
/// evaluation confused.
pub async fn conflicts(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    threshold: Option<String>,
) -> AppResult<Conflicts> {
    let threshold = number_param("threshold", threshold.as_deref(), 0.9, 0.5, 1.0)?;
    let state = state.clone();
    run_blocking(move || {
        let (rows, vectors) = example_vectors(&state, &tenant, bot)?;
        let mut pairs = Vec::new();
        for i in 0..rows.len() {
            for j in (i + 1)..rows.len() {
                if rows[i].intent_id == rows[j].intent_id {
                    continue;
                }
                // Vectors are normalized; a hair of rounding must not hide identical texts.
                let s = round4(cosine(&vectors, i, j)).min(1.0);
                if s >= threshold {
                    pairs.push(ConflictPair { a: reference(&rows[i]), b: reference(&rows[j]), similarity: s });
                }
            }
        }
        pairs.sort_by(|x, y| {
            y.similarity
                .total_cmp(&x.similarity)
                .then(x.a.example_id.0.cmp(&y.a.example_id.0))
                .then(x.b.example_id.0.cmp(&y.b.example_id.0))
        });
        pairs.truncate(MAX_PAIRS);
        let confusions = last_report(&state, &tenant, bot)?
            .map(|(_, _, r)| r.confusions.into_iter().filter(|c| c.expected != c.predicted).collect())
            .unwrap_or_default();
        Ok(Conflicts { threshold, pairs, confusions })
    })
    .await
}

/// Intents with too few examples, or examples too alike.
pub async fn gaps(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    min_examples: Option<String>,
    similarity: Option<String>,
) -> AppResult<Gaps> {
    let min_examples = number_param("min_examples", min_examples.as_deref(), 5.0, 1.0, 1000.0)?;
    if min_examples.fract() != 0.0 {
        return Err(AppError::validation("min_examples", "must be a whole number"));
    }
    #[allow(clippy::cast_possible_truncation, reason = "checked: a whole number in 1–1000")]
    let min_examples = min_examples as i64;
    let similarity = number_param("similarity", similarity.as_deref(), 0.9, 0.5, 1.0)?;
    let state = state.clone();
    run_blocking(move || {
        let sizes = state.db.read_blocking(|c| Ok(store::intent_sizes(c, &tenant, bot)?))?;
        // Without the models, the counts still tell the intents with too few examples.
        let (rows, vectors, similarity_checked) = match example_vectors(&state, &tenant, bot) {
            Ok((rows, vectors)) => (rows, vectors, true),
            Err(e) if e.code() == ErrorCode::ModelsUnavailable => (Vec::new(), Array2::zeros((0, 0)), false),
            Err(e) => return Err(e),
        };
        let mut by_intent: HashMap<i64, Vec<usize>> = HashMap::new();
        for (k, r) in rows.iter().enumerate() {
            by_intent.entry(r.intent_id).or_default().push(k);
        }
        let mut gaps = Vec::new();
        for (id, name, count) in sizes {
            let members = by_intent.get(&id).map(Vec::as_slice).unwrap_or_default();
            let mean = (members.len() >= 2).then(|| {
                let (mut sum, mut n) = (0.0, 0u32);
                for (a, &i) in members.iter().enumerate() {
                    for &j in &members[a + 1..] {
                        sum += cosine(&vectors, i, j);
                        n += 1;
                    }
                }
                round4(sum / f64::from(n.max(1))).min(1.0)
            });
            let mut reasons = Vec::new();
            if count < min_examples {
                reasons.push("too_few_examples".to_owned());
            }
            if mean.is_some_and(|m| m >= similarity) {
                reasons.push("examples_too_similar".to_owned());
            }
            if !reasons.is_empty() {
                gaps.push(TrainingGap {
                    intent_id: IntentId(id),
                    intent: name,
                    examples: count,
                    mean_similarity: mean,
                    reasons,
                });
            }
        }
        Ok(Gaps { min_examples, similarity, similarity_checked, gaps })
    })
    .await
}

/// The examples nearest to a sentence, best first.
pub async fn similar(
    state: &AppState,
    tenant: Tenant,
    bot: BotId,
    text: String,
    limit: Option<usize>,
) -> AppResult<SimilarResponse> {
    let text = text.trim().to_owned();
    if text.is_empty() || text.chars().count() > crate::nlu::data::MAX_EXAMPLE_CHARS {
        return Err(AppError::validation("text", "must be 1–1000 characters"));
    }
    let limit = limit.unwrap_or(10);
    if !(1..=50).contains(&limit) {
        return Err(AppError::validation("limit", "must be between 1 and 50"));
    }
    let t = tenant.clone();
    let encoder = state.db.read(move |c| Ok(crate::bots::store::nlu_encoder(c, &t, bot)?)).await?;
    let embedder = state.models.encoder(encoder).await?;
    let query = embedder.embed_one(&text).await.map_err(AppError::internal)?;
    let state = state.clone();
    run_blocking(move || {
        let (rows, vectors) = example_vectors(&state, &tenant, bot)?;
        let q = ndarray::ArrayView1::from(&query[..]);
        let mut scored: Vec<SimilarExample> = rows
            .iter()
            .enumerate()
            .map(|(k, r)| SimilarExample {
                example_id: ExampleId(r.id),
                text: r.text.clone(),
                intent_id: IntentId(r.intent_id),
                intent: r.intent.clone(),
                score: round4(f64::from(vectors.row(k).dot(&q))).min(1.0),
            })
            .collect();
        scored.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.example_id.0.cmp(&b.example_id.0)));
        scored.truncate(limit);
        Ok(SimilarResponse { items: scored })
    })
    .await
}
