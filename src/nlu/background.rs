//! The background corpus: generic out-of-scope utterances shipped with the
//! product (`background.txt`, written for this project), trained as an
//! implicit out-of-scope class so that a bot with a few intents and a
//! handful of examples says "I don't understand" from its first training.
//! Their vectors are computed once per process and embedding model.

use std::sync::Arc;

use ndarray::Array2;

use crate::error::{AppError, AppResult};
use crate::ml::Embedder;

use super::runtime::NluRuntime;

const CORPUS: &str = include_str!("background.txt");

/// The background utterances, in file order.
#[must_use]
pub fn corpus() -> Vec<&'static str> {
    CORPUS.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("# ")).collect()
}

/// The corpus's vectors under `embedder` (N × dim), embedded on first use and
/// kept by the runtime (blocking: run it off the async executor).
pub fn vectors(runtime: &NluRuntime, embedder: &Embedder) -> AppResult<Arc<Array2<f32>>> {
    let key = embedder.vectors_key();
    if let Some(v) = runtime.cached_background(&key) {
        return Ok(v);
    }
    let texts = corpus();
    let mut out = Array2::<f32>::zeros((texts.len(), embedder.dim()));
    let bulk = embedder.bulk(texts.len()).map_err(AppError::internal)?;
    for (b, chunk) in texts.chunks(256).enumerate() {
        let vectors = bulk.embed(chunk).map_err(AppError::internal)?;
        for (k, v) in vectors.into_iter().enumerate() {
            out.row_mut(b * 256 + k).assign(&ndarray::ArrayView1::from(&v[..]));
        }
    }
    let out = Arc::new(out);
    runtime.cache_background(key, out.clone());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn normal(t: &str) -> String {
        t.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn corpus_loads_without_duplicates_or_starter_template_examples() {
        let texts = corpus();
        assert!((600..=1500).contains(&texts.len()), "{} utterances", texts.len());
        let mut seen = HashSet::new();
        for t in &texts {
            assert!(seen.insert(normal(t)), "duplicate background utterance {t:?}");
            assert!(t.chars().count() <= 200, "{t:?}");
        }
        let starters = crate::bots::templates::example_texts();
        assert!(!starters.is_empty(), "the starter templates have NLU examples");
        for s in starters {
            assert!(!seen.contains(&normal(&s)), "{s:?} is a starter template example");
        }
        // Some non-English lines: operators may run a multilingual model.
        assert!(texts.iter().filter(|t| t.contains('é') || t.contains('ü') || t.contains('ñ')).count() >= 5);
    }
}
