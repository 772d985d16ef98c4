//! Retrieval of a clone version's most similar past exchanges: exact cosine
//! over the version's context vectors plus BM25 over their words, fused by
//! reciprocal rank as knowledge search does ([`crate::knowledge::search::fuse`]).
//!
//! A version never changes once trained, so its index is built once from
//! `clone_pair_vectors` and kept in memory (a few versions at a time): at
//! 50,000 pairs that is 77 MB of vectors, scanned in a few milliseconds.

#![allow(clippy::cast_precision_loss, reason = "term counts and lengths are small")]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::knowledge::search::{FUSION, fuse, query_terms};
use crate::ml::dot;

/// Versions kept in memory at once; the oldest loaded goes first.
const CACHED_VERSIONS: usize = 8;
/// Candidates of each list before fusion.
const DEPTH: usize = 50;

/// One trained version's index.
pub struct VersionIndex {
    ids: Vec<i64>,
    dim: usize,
    vectors: Vec<f32>,
    postings: HashMap<String, Vec<(u32, u16)>>,
    lengths: Vec<u32>,
    avg_length: f64,
}

/// A retrieved pair.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub pair_id: i64,
    pub score: f64,
    pub similarity: f64,
}

impl VersionIndex {
    /// Builds the index of `(pair id, context text, normalized vector)` rows.
    #[must_use]
    pub fn build(rows: Vec<(i64, String, Vec<f32>)>) -> VersionIndex {
        let dim = rows.first().map_or(0, |r| r.2.len());
        let mut index = VersionIndex {
            ids: Vec::with_capacity(rows.len()),
            dim,
            vectors: Vec::with_capacity(rows.len() * dim),
            postings: HashMap::new(),
            lengths: Vec::with_capacity(rows.len()),
            avg_length: 0.0,
        };
        for (id, text, vector) in rows {
            if vector.len() != dim {
                continue;
            }
            let at = u32::try_from(index.ids.len()).unwrap_or(u32::MAX);
            index.ids.push(id);
            index.vectors.extend_from_slice(&vector);
            let mut tf: HashMap<String, u16> = HashMap::new();
            let words: Vec<String> =
                text.split(|c: char| !c.is_alphanumeric()).filter(|t| !t.is_empty()).map(str::to_lowercase).collect();
            for w in &words {
                let e = tf.entry(w.clone()).or_insert(0);
                *e = e.saturating_add(1);
            }
            index.lengths.push(u32::try_from(words.len()).unwrap_or(u32::MAX));
            for (w, n) in tf {
                index.postings.entry(w).or_default().push((at, n));
            }
        }
        let total: u64 = index.lengths.iter().map(|l| u64::from(*l)).sum();
        index.avg_length = if index.ids.is_empty() { 0.0 } else { total as f64 / index.ids.len() as f64 };
        index
    }

    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `k` best pairs for a message (its normalized vector and text).
    #[must_use]
    pub fn search(&self, query: &[f32], text: &str, k: usize) -> Vec<Hit> {
        let vector = self.vector_hits(query);
        let keyword = self.keyword_hits(text);
        let cosine: HashMap<i64, f64> = vector.iter().copied().collect();
        fuse(&keyword, &vector, FUSION)
            .into_iter()
            .take(k)
            .map(|(pair_id, score)| Hit {
                pair_id,
                score,
                similarity: cosine.get(&pair_id).copied().unwrap_or_else(|| self.cosine_of(pair_id, query)),
            })
            .collect()
    }

    fn cosine_of(&self, pair_id: i64, query: &[f32]) -> f64 {
        self.ids
            .iter()
            .position(|id| *id == pair_id)
            .map_or(0.0, |i| f64::from(dot(&self.vectors[i * self.dim..(i + 1) * self.dim], query)))
    }

    fn vector_hits(&self, query: &[f32]) -> Vec<(i64, f64)> {
        if query.len() != self.dim || self.dim == 0 {
            return Vec::new();
        }
        let mut scored: Vec<(i64, f64)> =
            self.vectors.chunks_exact(self.dim).zip(&self.ids).map(|(v, id)| (*id, f64::from(dot(v, query)))).collect();
        top_n(&mut scored, DEPTH);
        scored
    }

    /// BM25 (k1 1.2, b 0.75) over the contexts.
    fn keyword_hits(&self, text: &str) -> Vec<(i64, f64)> {
        let n = self.ids.len() as f64;
        let mut scores: HashMap<u32, f64> = HashMap::new();
        for term in query_terms(text) {
            let Some(list) = self.postings.get(&term) else { continue };
            let idf = ((n - list.len() as f64 + 0.5) / (list.len() as f64 + 0.5) + 1.0).ln();
            for (at, tf) in list {
                let tf = f64::from(*tf);
                let len = f64::from(self.lengths[*at as usize]);
                let norm = 1.2 * (1.0 - 0.75 + 0.75 * len / self.avg_length.max(1.0));
                *scores.entry(*at).or_default() += idf * tf * 2.2 / (tf + norm);
            }
        }
        let mut hits: Vec<(i64, f64)> = scores.into_iter().map(|(at, s)| (self.ids[at as usize], s)).collect();
        top_n(&mut hits, DEPTH);
        hits
    }
}

/// Keeps the `n` best of `scored`, best first (ties by id).
fn top_n(scored: &mut Vec<(i64, f64)>, n: usize) {
    let order = |a: &(i64, f64), b: &(i64, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if scored.len() > n {
        scored.select_nth_unstable_by(n - 1, order);
        scored.truncate(n);
    }
    scored.sort_by(order);
}

/// A cached index with its version row id.
type Cached = (i64, Arc<VersionIndex>);

/// The in-memory indexes of recently used versions. Cheap to clone.
#[derive(Clone, Default)]
pub struct Indexes {
    inner: Arc<Mutex<Vec<Cached>>>,
}

impl Indexes {
    /// The cached index of version row `version_id`, if loaded.
    #[must_use]
    pub fn get(&self, version_id: i64) -> Option<Arc<VersionIndex>> {
        let cache = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.iter().find(|(id, _)| *id == version_id).map(|(_, index)| Arc::clone(index))
    }

    /// Caches a freshly built index.
    pub fn put(&self, version_id: i64, index: Arc<VersionIndex>) {
        let mut cache = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|(id, _)| *id != version_id);
        if cache.len() >= CACHED_VERSIONS {
            cache.remove(0);
        }
        cache.push((version_id, index));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        crate::ml::normalize(v.to_vec())
    }

    #[test]
    fn nearest_contexts_come_first() {
        let index = VersionIndex::build(vec![
            (1, "can we move the meeting".into(), unit(&[1.0, 0.0, 0.0])),
            (2, "invoice for march".into(), unit(&[0.0, 1.0, 0.0])),
            (3, "lunch on friday".into(), unit(&[0.0, 0.0, 1.0])),
        ]);
        let hits = index.search(&unit(&[0.1, 0.9, 0.0]), "where is the march invoice", 2);
        assert_eq!(hits[0].pair_id, 2);
        assert!(hits[0].similarity > 0.9);
        assert_eq!(hits.len(), 2);
        assert_eq!(index.len(), 3);
    }
}
