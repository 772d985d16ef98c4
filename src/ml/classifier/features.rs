//! Sparse TF-IDF features of a text: word n-grams and character n-grams
//! inside word boundaries (like scikit-learn's `char_wb`), sub-linear term
//! frequency, smoothed IDF, each family L2-normalised on its own.

#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::float_cmp,
    reason = "numeric code: counts become ratios, short names follow the formulas, exact float compares are on stored values"
)]

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// Which n-grams to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NgramConfig {
    /// Word n-gram sizes, inclusive (`(0, 0)` = none).
    pub word: (usize, usize),
    /// Character n-gram sizes inside padded words, inclusive (`(0, 0)` = none).
    pub char: (usize, usize),
    /// Terms seen in fewer training texts are dropped.
    pub min_df: usize,
    /// At most this many terms per family, the most frequent kept (0 = all).
    pub max_terms: usize,
}

/// A fitted vocabulary for one family of n-grams.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    pub terms: HashMap<String, u32>,
    pub idf: Vec<f32>,
}

/// The fitted vectorizer: word family then char family, concatenated.
#[derive(Debug, Clone)]
pub struct Vectorizer {
    pub config: NgramConfig,
    pub word: Vocabulary,
    pub char: Vocabulary,
}

pub use botbuilder_kernels::logreg::SparseRow;

fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn word_ngrams(text: &str, (lo, hi): (usize, usize), out: &mut Vec<String>) {
    if lo == 0 {
        return;
    }
    let w = words(text);
    for n in lo..=hi {
        if n > w.len() {
            break;
        }
        for window in w.windows(n) {
            out.push(window.join(" "));
        }
    }
}

fn char_ngrams(text: &str, (lo, hi): (usize, usize), out: &mut Vec<String>) {
    if lo == 0 {
        return;
    }
    let lower = text.to_lowercase();
    for word in lower.split_whitespace() {
        let padded: Vec<char> = std::iter::once(' ').chain(word.chars()).chain(std::iter::once(' ')).collect();
        for n in lo..=hi {
            // Like scikit-learn: a word shorter than n counts once, whole.
            if padded.len() <= n {
                out.push(padded.iter().collect());
                break;
            }
            for window in padded.windows(n) {
                out.push(window.iter().collect());
            }
        }
    }
}

fn fit_family(docs: &[Vec<String>], min_df: usize, max_terms: usize) -> Vocabulary {
    let mut df: BTreeMap<&str, usize> = BTreeMap::new();
    let mut tf_total: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in docs {
        let mut seen: Vec<&str> = doc.iter().map(String::as_str).collect();
        for t in &seen {
            *tf_total.entry(t).or_default() += 1;
        }
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *df.entry(t).or_default() += 1;
        }
    }
    let mut kept: Vec<(&str, usize)> = df.into_iter().filter(|(_, d)| *d >= min_df.max(1)).collect();
    if max_terms > 0 && kept.len() > max_terms {
        // Most frequent first, ties by term: deterministic.
        kept.sort_by(|a, b| tf_total[b.0].cmp(&tf_total[a.0]).then(a.0.cmp(b.0)));
        kept.truncate(max_terms);
        kept.sort_by(|a, b| a.0.cmp(b.0));
    }
    let n = docs.len() as f64;
    let mut vocab = Vocabulary::default();
    for (i, (term, d)) in kept.into_iter().enumerate() {
        vocab.terms.insert(term.to_owned(), u32::try_from(i).unwrap_or(u32::MAX));
        #[allow(clippy::cast_possible_truncation, reason = "an IDF fits in f32")]
        vocab.idf.push((((1.0 + n) / (1.0 + d as f64)).ln() + 1.0) as f32);
    }
    vocab
}

fn transform_family(terms: &[String], vocab: &Vocabulary, offset: u32, out: &mut SparseRow) {
    let mut counts: BTreeMap<u32, f32> = BTreeMap::new();
    for t in terms {
        if let Some(&i) = vocab.terms.get(t) {
            *counts.entry(i).or_default() += 1.0;
        }
    }
    let mut row: Vec<(u32, f32)> =
        counts.into_iter().map(|(i, tf)| (i, (1.0 + tf.ln()) * vocab.idf[i as usize])).collect();
    let norm = row.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (i, v) in &mut row {
            *v /= norm;
            *i += offset;
        }
        out.extend(row);
    }
}

impl Vectorizer {
    /// Fits the vocabularies on training texts.
    #[must_use]
    pub fn fit(config: NgramConfig, texts: &[&str]) -> Vectorizer {
        let mut word_docs = Vec::with_capacity(texts.len());
        let mut char_docs = Vec::with_capacity(texts.len());
        for t in texts {
            let (mut w, mut c) = (Vec::new(), Vec::new());
            word_ngrams(t, config.word, &mut w);
            char_ngrams(t, config.char, &mut c);
            word_docs.push(w);
            char_docs.push(c);
        }
        Vectorizer {
            config,
            word: fit_family(&word_docs, config.min_df, config.max_terms),
            char: fit_family(&char_docs, config.min_df, config.max_terms),
        }
    }

    /// Rebuilds a vectorizer from stored term lists (index = position).
    #[must_use]
    pub fn from_parts(config: NgramConfig, word: (Vec<String>, Vec<f32>), char: (Vec<String>, Vec<f32>)) -> Vectorizer {
        let family = |(terms, idf): (Vec<String>, Vec<f32>)| Vocabulary {
            terms: terms.into_iter().enumerate().map(|(i, t)| (t, u32::try_from(i).unwrap_or(u32::MAX))).collect(),
            idf,
        };
        Vectorizer { config, word: family(word), char: family(char) }
    }

    /// Terms of a family ordered by column.
    #[must_use]
    pub fn terms(vocab: &Vocabulary) -> Vec<String> {
        let mut terms = vec![String::new(); vocab.idf.len()];
        for (t, &i) in &vocab.terms {
            if let Some(slot) = terms.get_mut(i as usize) {
                slot.clone_from(t);
            }
        }
        terms
    }

    /// Number of sparse columns.
    #[must_use]
    pub fn width(&self) -> usize {
        self.word.idf.len() + self.char.idf.len()
    }

    /// The sparse features of a text.
    #[must_use]
    pub fn transform(&self, text: &str) -> SparseRow {
        let mut row = Vec::new();
        let mut terms = Vec::new();
        word_ngrams(text, self.config.word, &mut terms);
        transform_family(&terms, &self.word, 0, &mut row);
        terms.clear();
        char_ngrams(text, self.config.char, &mut terms);
        transform_family(&terms, &self.char, u32::try_from(self.word.idf.len()).unwrap_or(u32::MAX), &mut row);
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_wb_ngrams_match_scikit_learn() {
        let mut out = Vec::new();
        char_ngrams("Hi yo", (2, 3), &mut out);
        assert_eq!(out, [" h", "hi", "i ", " hi", "hi ", " y", "yo", "o ", " yo", "yo "]);
    }

    #[test]
    fn rows_are_normalised_per_family() {
        let config = NgramConfig { word: (1, 2), char: (2, 4), min_df: 1, max_terms: 0 };
        let v = Vectorizer::fit(config, &["book a table", "cancel my table"]);
        let row = v.transform("book my table");
        let split = u32::try_from(v.word.idf.len()).expect("fits");
        let word_norm: f32 = row.iter().filter(|(i, _)| *i < split).map(|(_, x)| x * x).sum();
        let char_norm: f32 = row.iter().filter(|(i, _)| *i >= split).map(|(_, x)| x * x).sum();
        assert!((word_norm - 1.0).abs() < 1e-5 && (char_norm - 1.0).abs() < 1e-5);
        assert!(v.transform("zzz qqq").iter().all(|(i, _)| *i >= split), "unknown words add no word features");
    }
}
