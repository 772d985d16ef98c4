//! The per-bot intent classifier: logistic regression over the sentence
//! embedding concatenated with sparse TF-IDF word and character n-grams,
//! confidences calibrated by temperature scaling on held-out predictions,
//! and out-of-scope detection by a confidence threshold (plus an explicit
//! out-of-scope class when the data has an `oos`/`none` intent).
//!
//! Training is deterministic (same data → bit-identical weights) and the
//! weights serialise to a compact, versioned binary format.

#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::float_cmp,
    reason = "numeric code: counts become ratios, short names follow the formulas, exact float compares are on stored values"
)]

pub mod features;
pub mod logreg;

use std::time::Instant;

use anyhow::{Context, bail};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

pub use features::{NgramConfig, SparseRow, Vectorizer};
use logreg::{Data, Settings, Weights};

/// Intent names that mean "out of scope" when a bot trains examples of them.
pub const OOS_NAMES: [&str; 4] = ["oos", "none", "out_of_scope", "nlu_fallback"];

/// Whether an intent name is the explicit out-of-scope class.
#[must_use]
pub fn is_oos_name(name: &str) -> bool {
    OOS_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Hyperparameters of training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub ngrams: NgramConfig,
    /// Use the sentence embedding as features.
    pub embedding: bool,
    /// Scale of the embedding features against the unit-norm TF-IDF
    /// families (equivalently, weaker regularisation of the dense weights).
    pub embedding_weight: f32,
    /// Weigh classes inversely to their example counts (scikit-learn's `balanced`).
    pub balanced: bool,
    /// Inverse regularisation strength.
    pub c: f64,
    pub max_iter: usize,
    /// Iterations of the final fit on all data when it starts from the
    /// holdout model's weights (large data): that start is close to the
    /// optimum, and on clinc150 30 iterations score as 100 do in half the time.
    pub refit_max_iter: usize,
    pub tol: f64,
    /// The out-of-scope threshold is the highest confidence cut expected to
    /// turn away at most this share of right in-scope answers on new
    /// messages (0.01 = 1 %; see `choose_threshold`).
    pub oos_rejected_right_share: f64,
    /// Up to this many examples, held-out predictions come from k-fold
    /// cross-validation; above it, from one stratified 20 % holdout.
    pub cv_max_examples: usize,
    pub cv_folds: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            ngrams: NgramConfig { word: (1, 2), char: (2, 5), min_df: 2, max_terms: 20_000 },
            embedding: true,
            embedding_weight: 3.0,
            balanced: true,
            c: 10.0,
            max_iter: 100,
            refit_max_iter: 30,
            tol: 1e-4,
            oos_rejected_right_share: 0.01,
            cv_max_examples: 2000,
            cv_folds: 5,
        }
    }
}

/// Examples to train on: texts, labels and their embeddings (N × dim).
pub struct TrainingSet<'a> {
    pub texts: Vec<&'a str>,
    pub labels: Vec<String>,
    pub embeddings: Array2<f32>,
}

/// Figures about a training run, stored with the model version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainReport {
    pub examples: usize,
    pub intents: usize,
    pub features_sparse: usize,
    pub iterations: usize,
    /// `cross_validation` (k folds) or `holdout` (20 %).
    pub validation: String,
    pub validation_examples: usize,
    /// In-scope accuracy of held-out predictions before thresholding.
    pub validation_accuracy: f64,
    /// The same after the out-of-scope threshold.
    pub validation_accuracy_thresholded: f64,
    pub temperature: f32,
    pub threshold: f32,
    pub train_seconds: f64,
}

/// A trained model.
#[derive(Debug, Clone)]
pub struct IntentModel {
    pub labels: Vec<String>,
    /// Index of the explicit out-of-scope class, if trained with one.
    pub oos_class: Option<usize>,
    pub vectorizer: Vectorizer,
    pub weights: Weights,
    pub embedding: bool,
    pub dim: usize,
    pub temperature: f32,
    pub threshold: f32,
    /// The embedding model the weights were trained against.
    pub embedder_id: String,
}

/// Class probabilities of one text.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub probs: Vec<f32>,
}

impl IntentModel {
    /// Calibrated probabilities for texts with their embeddings (N × dim).
    #[must_use]
    pub fn predict(&self, texts: &[&str], embeddings: &ArrayView2<'_, f32>) -> Vec<Prediction> {
        let sparse: Vec<SparseRow> = texts.iter().map(|t| self.vectorizer.transform(t)).collect();
        let dense = if self.embedding {
            *embeddings
        } else {
            ArrayView2::from_shape((texts.len(), 0), &[]).unwrap_or(*embeddings)
        };
        let mut z = self.weights.logits(&dense, &sparse);
        z.axis_iter_mut(Axis(0))
            .map(|mut row| {
                let slice = row.as_slice_mut().unwrap_or(&mut []);
                for x in slice.iter_mut() {
                    *x /= self.temperature;
                }
                logreg::softmax_in_place(slice);
                Prediction { probs: slice.to_vec() }
            })
            .collect()
    }
}

/// Trains a model. `progress(stage, fraction)` is called between stages.
pub fn train(
    set: &TrainingSet<'_>,
    config: &TrainConfig,
    embedder_id: &str,
    progress: &mut dyn FnMut(&str, f64),
) -> anyhow::Result<(IntentModel, TrainReport)> {
    let started = Instant::now();
    let n = set.texts.len();
    if n != set.labels.len() || n != set.embeddings.nrows() {
        bail!("texts, labels and embeddings differ in length");
    }
    let mut labels: Vec<String> = set.labels.clone();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        bail!("at least two intents are needed");
    }
    let y: Vec<usize> = set.labels.iter().map(|l| labels.binary_search(l).unwrap_or(0)).collect();
    let oos_class = labels.iter().position(|l| is_oos_name(l));

    // Held-out predictions: k folds for small data, one 20 % holdout above.
    let (folds, validation) =
        if n <= config.cv_max_examples { (config.cv_folds.max(2), "cross_validation") } else { (5, "holdout") };
    let fold_of = assign_folds(&y, labels.len(), folds);
    let rounds: Vec<usize> = if validation == "holdout" { vec![folds - 1] } else { (0..folds).collect() };
    let mut held_logits: Vec<(usize, Vec<f32>)> = Vec::new();
    let mut warm: Option<(Vectorizer, Weights)> = None;
    let mut iterations = 0;
    for (r, &fold) in rounds.iter().enumerate() {
        let train_idx: Vec<usize> = (0..n).filter(|&i| fold_of[i] != Some(fold)).collect();
        let test_idx: Vec<usize> = (0..n).filter(|&i| fold_of[i] == Some(fold)).collect();
        if test_idx.is_empty() {
            continue;
        }
        progress("validating", r as f64 / (rounds.len() + 1) as f64);
        let (vectorizer, weights, it) = fit(set, &y, labels.len(), &train_idx, config, None)?;
        iterations += it;
        let texts: Vec<&str> = test_idx.iter().map(|&i| set.texts[i]).collect();
        let emb = set.embeddings.select(Axis(0), &test_idx);
        let sparse: Vec<SparseRow> = texts.iter().map(|t| vectorizer.transform(t)).collect();
        let dense = if config.embedding {
            emb.view()
        } else {
            ArrayView2::from_shape((texts.len(), 0), &[]).unwrap_or(emb.view())
        };
        let z = weights.logits(&dense, &sparse);
        for (k, &i) in test_idx.iter().enumerate() {
            held_logits.push((i, z.row(k).to_vec()));
        }
        if validation == "holdout" {
            warm = Some((vectorizer, weights));
        }
    }
    held_logits.sort_by_key(|(i, _)| *i);
    let temperature = fit_temperature(&held_logits, &y);
    let held_probs: Vec<(usize, Vec<f32>)> = held_logits.iter().map(|(i, z)| (*i, probs(z, temperature))).collect();
    let (threshold, acc, acc_t) = choose_threshold(&held_probs, &y, oos_class, config.oos_rejected_right_share);

    progress("training", rounds.len() as f64 / (rounds.len() + 1) as f64);
    let all: Vec<usize> = (0..n).collect();
    let (vectorizer, weights, it) = fit(set, &y, labels.len(), &all, config, warm.as_ref())?;
    iterations += it;
    let report = TrainReport {
        examples: n,
        intents: labels.len(),
        features_sparse: vectorizer.width(),
        iterations,
        validation: validation.to_owned(),
        validation_examples: held_logits.len(),
        validation_accuracy: acc,
        validation_accuracy_thresholded: acc_t,
        temperature,
        threshold,
        train_seconds: started.elapsed().as_secs_f64(),
    };
    let model = IntentModel {
        labels,
        oos_class,
        vectorizer,
        weights,
        embedding: config.embedding,
        dim: set.embeddings.ncols(),
        temperature,
        threshold,
        embedder_id: embedder_id.to_owned(),
    };
    Ok((model, report))
}

/// Stratified folds: the i-th example of each class goes to fold i mod k;
/// classes with a single example are never held out.
fn assign_folds(y: &[usize], classes: usize, k: usize) -> Vec<Option<usize>> {
    let mut seen = vec![0usize; classes];
    let mut count = vec![0usize; classes];
    for &c in y {
        count[c] += 1;
    }
    y.iter()
        .map(|&c| {
            let i = seen[c];
            seen[c] += 1;
            (count[c] >= 2).then_some(i % k)
        })
        .collect()
}

/// Fits the vectorizer and the weights on the rows `idx`.
fn fit(
    set: &TrainingSet<'_>,
    y: &[usize],
    classes: usize,
    idx: &[usize],
    config: &TrainConfig,
    warm: Option<&(Vectorizer, Weights)>,
) -> anyhow::Result<(Vectorizer, Weights, usize)> {
    let texts: Vec<&str> = idx.iter().map(|&i| set.texts[i]).collect();
    let labels: Vec<usize> = idx.iter().map(|&i| y[i]).collect();
    let vectorizer = Vectorizer::fit(config.ngrams, &texts);
    let sparse: Vec<SparseRow> = texts.iter().map(|t| vectorizer.transform(t)).collect();
    let mut dense_all = set.embeddings.select(Axis(0), idx);
    let scale = config.embedding_weight;
    dense_all.mapv_inplace(|x| x * scale);
    let dense = if config.embedding {
        dense_all.view()
    } else {
        ArrayView2::from_shape((idx.len(), 0), &[]).context("shape")?
    };
    let mut counts = vec![0usize; classes];
    for &l in &labels {
        counts[l] += 1;
    }
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    #[allow(clippy::cast_possible_truncation, reason = "a class weight fits in f32")]
    let class_weight: Vec<f32> = counts
        .iter()
        .map(|&c| if config.balanced && c > 0 { (labels.len() as f64 / (present * c) as f64) as f32 } else { 1.0 })
        .collect();
    let data = Data {
        dense,
        sparse: &sparse,
        sparse_width: vectorizer.width(),
        labels: &labels,
        classes,
        class_weight: &class_weight,
    };
    let start = match warm {
        Some((old_vec, old_w)) => {
            let mut w = remap(old_vec, old_w, &vectorizer, classes, dense.ncols());
            w.dense.mapv_inplace(|x| x / scale);
            w
        }
        None => Weights::zeros(classes, dense.ncols(), vectorizer.width()),
    };
    let max_iter = if warm.is_some() { config.refit_max_iter } else { config.max_iter };
    let (mut weights, iterations) = logreg::train(&data, &start, Settings { c: config.c, max_iter, tol: config.tol });
    // Fold the scale into the weights: serving feeds raw embeddings.
    weights.dense.mapv_inplace(|x| x * scale);
    Ok((vectorizer, weights, iterations))
}

/// A warm start for a new vocabulary: dense weights and bias carry over,
/// sparse weights of terms both vocabularies share are copied.
fn remap(old_vec: &Vectorizer, old: &Weights, new_vec: &Vectorizer, classes: usize, dim: usize) -> Weights {
    let mut w = Weights::zeros(classes, dim, new_vec.width());
    if old.dense.dim() == w.dense.dim() {
        w.dense.assign(&old.dense);
    }
    w.bias.clone_from(&old.bias);
    let word_offset = old_vec.word.idf.len();
    let new_word_offset = new_vec.word.idf.len();
    for (term, &j) in &new_vec.word.terms {
        if let Some(&k) = old_vec.word.terms.get(term) {
            w.sparse_t.row_mut(j as usize).assign(&old.sparse_t.row(k as usize));
        }
    }
    for (term, &j) in &new_vec.char.terms {
        if let Some(&k) = old_vec.char.terms.get(term) {
            w.sparse_t.row_mut(new_word_offset + j as usize).assign(&old.sparse_t.row(word_offset + k as usize));
        }
    }
    w
}

fn probs(logits: &[f32], temperature: f32) -> Vec<f32> {
    let mut p: Vec<f32> = logits.iter().map(|z| z / temperature).collect();
    logreg::softmax_in_place(&mut p);
    p
}

/// The temperature minimising held-out negative log-likelihood plus a
/// Gaussian prior on log T centred on 1 (golden section on log T within
/// [0.05, 20]). Without the prior a small, perfectly separated held-out set
/// drives T to its lower bound and every confidence to 1.0, which makes
/// per-intent thresholds meaningless; with thousands of held-out examples
/// the prior is negligible.
fn fit_temperature(held: &[(usize, Vec<f32>)], y: &[usize]) -> f32 {
    const PRIOR_WEIGHT: f64 = 8.0;
    if held.is_empty() {
        return 1.0;
    }
    let nll = |log_t: f64| -> f64 {
        #[allow(clippy::cast_possible_truncation, reason = "a temperature fits in f32")]
        let t = log_t.exp() as f32;
        let data: f64 = held.iter().map(|(i, z)| -f64::from(probs(z, t)[y[*i]].max(1e-12)).ln()).sum();
        data + PRIOR_WEIGHT * log_t * log_t
    };
    let (mut a, mut b) = (0.05_f64.ln(), 20.0_f64.ln());
    let phi = 0.618_033_988_749_895;
    for _ in 0..40 {
        let c = b - phi * (b - a);
        let d = a + phi * (b - a);
        if nll(c) < nll(d) {
            b = d;
        } else {
            a = c;
        }
    }
    #[allow(clippy::cast_possible_truncation, reason = "a temperature fits in f32")]
    let t = f64::midpoint(a, b).exp() as f32;
    t
}

/// The highest confidence threshold that rejects at most a `drop` share of
/// correct in-scope predictions on new data, estimated conformally from the
/// held-out predictions: a cut that rejects `lost` of `n` held-out in-scope
/// examples it had right is allowed when `(lost + 1) / (n + 1) ≤ drop`.
/// With fewer than `1/drop − 1` held-out examples no cut has that guarantee,
/// so a small bot gets no threshold (0) instead of the confidence of its
/// weakest held-out example, which new in-scope messages fall below far more
/// often than `drop` (on braun2017 that cut turned right answers away).
/// Returns (threshold, accuracy, accuracy with the threshold).
fn choose_threshold(held: &[(usize, Vec<f32>)], y: &[usize], oos: Option<usize>, drop: f64) -> (f32, f64, f64) {
    let mut rows: Vec<(f32, bool)> = Vec::new(); // confidence of the in-scope prediction, correct?
    for (i, p) in held {
        if Some(y[*i]) == oos {
            continue;
        }
        let best = argmax(p);
        let correct = best == y[*i];
        let conf = if Some(best) == oos { -1.0 } else { p[best] };
        rows.push((conf, correct));
    }
    if rows.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    let total = rows.len() as f64;
    let right = rows.iter().filter(|r| r.1).count();
    let base = right as f64 / total;
    let allowed = |lost: usize| (lost + 1) as f64 <= drop * (total + 1.0) + 1e-9;
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    // A threshold t rejects every row with confidence < t; raising it past a
    // row's confidence loses that row if it was right.
    let (mut best, mut best_acc) = (0.0_f32, base);
    let mut lost = 0usize;
    let mut k = 0;
    while k < rows.len() && allowed(lost) {
        let t = rows[k].0;
        if t > 0.0 {
            best = t;
            best_acc = (right - lost) as f64 / total;
        }
        while k < rows.len() && rows[k].0 == t {
            lost += usize::from(rows[k].1);
            k += 1;
        }
    }
    (best, base, best_acc)
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().fold((0, f32::NEG_INFINITY), |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc }).0
}

// ---- serialisation ----

const MAGIC: &[u8; 6] = b"BBNLU\x01";

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    labels: Vec<String>,
    oos_class: Option<usize>,
    ngrams: NgramConfig,
    embedding: bool,
    dim: usize,
    temperature: f32,
    threshold: f32,
    embedder_id: String,
    word_terms: Vec<String>,
    char_terms: Vec<String>,
}

impl IntentModel {
    /// The model as bytes: magic, a JSON header (labels, vocabularies,
    /// calibration), then little-endian f32 arrays (IDFs, dense weights
    /// C × D, sparse weights V × C, bias C).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            format: 1,
            labels: self.labels.clone(),
            oos_class: self.oos_class,
            ngrams: self.vectorizer.config,
            embedding: self.embedding,
            dim: self.dim,
            temperature: self.temperature,
            threshold: self.threshold,
            embedder_id: self.embedder_id.clone(),
            word_terms: Vectorizer::terms(&self.vectorizer.word),
            char_terms: Vectorizer::terms(&self.vectorizer.char),
        };
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let mut out =
            Vec::with_capacity(json.len() + 4 * (self.weights.dense.len() + self.weights.sparse_t.len()) + 64);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&u32::try_from(json.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(&json);
        let floats = self
            .vectorizer
            .word
            .idf
            .iter()
            .chain(&self.vectorizer.char.idf)
            .chain(self.weights.dense.iter())
            .chain(self.weights.sparse_t.iter())
            .chain(&self.weights.bias);
        for f in floats {
            out.extend_from_slice(&f.to_le_bytes());
        }
        out
    }

    /// Reads [`IntentModel::to_bytes`] output.
    pub fn from_bytes(bytes: &[u8]) -> anyhow::Result<IntentModel> {
        let rest = bytes.strip_prefix(MAGIC.as_slice()).context("not a botbuilder NLU model (bad magic)")?;
        let (len, rest) = rest.split_at_checked(4).context("truncated model")?;
        let len = u32::from_le_bytes(len.try_into().context("length")?) as usize;
        let (json, rest) = rest.split_at_checked(len).context("truncated model header")?;
        let h: Header = serde_json::from_slice(json).context("model header")?;
        if h.format != 1 {
            bail!("unsupported model format {}", h.format);
        }
        let floats: Vec<f32> = rest.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let classes = h.labels.len();
        let dense_dim = if h.embedding { h.dim } else { 0 };
        let (nw, nc) = (h.word_terms.len(), h.char_terms.len());
        let need = nw + nc + classes * dense_dim + (nw + nc) * classes + classes;
        if floats.len() != need {
            bail!("model weights have {} values, expected {need}", floats.len());
        }
        let (word_idf, rest) = floats.split_at(nw);
        let (char_idf, rest) = rest.split_at(nc);
        let (dense, rest) = rest.split_at(classes * dense_dim);
        let (sparse, bias) = rest.split_at((nw + nc) * classes);
        let vectorizer =
            Vectorizer::from_parts(h.ngrams, (h.word_terms, word_idf.to_vec()), (h.char_terms, char_idf.to_vec()));
        Ok(IntentModel {
            labels: h.labels,
            oos_class: h.oos_class,
            vectorizer,
            weights: Weights {
                dense: Array2::from_shape_vec((classes, dense_dim), dense.to_vec())?,
                sparse_t: Array2::from_shape_vec((nw + nc, classes), sparse.to_vec())?,
                bias: bias.to_vec(),
            },
            embedding: h.embedding,
            dim: h.dim,
            temperature: h.temperature,
            threshold: h.threshold,
            embedder_id: h.embedder_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> (Vec<&'static str>, Vec<String>, Array2<f32>) {
        let texts = vec![
            "book a table",
            "reserve a table for two",
            "table for four please",
            "i want to book dinner",
            "cancel my booking",
            "cancel the reservation",
            "please cancel it",
            "drop my reservation",
            "what's the weather",
            "is it raining",
            "weather tomorrow",
            "will it be sunny",
        ];
        let labels: Vec<String> =
            ["book", "book", "book", "book", "cancel", "cancel", "cancel", "cancel", "oos", "oos", "oos", "oos"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
        // Tiny fake "embeddings": one-hot-ish by class plus noise-free offsets.
        let emb = Array2::from_shape_fn((12, 3), |(i, j)| if i / 4 == j { 1.0 } else { 0.1 * (i % 3) as f32 });
        (texts, labels, emb)
    }

    #[test]
    fn trains_predicts_and_round_trips() {
        let (texts, labels, emb) = toy();
        let set = TrainingSet { texts: texts.clone(), labels, embeddings: emb.clone() };
        let config = TrainConfig { cv_folds: 2, ..TrainConfig::default() };
        let config = TrainConfig { ngrams: NgramConfig { min_df: 1, ..config.ngrams }, ..config };
        let (model, report) = train(&set, &config, "toy", &mut |_, _| {}).expect("train");
        assert_eq!(model.labels, ["book", "cancel", "oos"]);
        assert_eq!(model.oos_class, Some(2));
        assert_eq!(report.examples, 12);
        let p = model.predict(&["book a table for two"], &emb.slice(ndarray::s![0..1, ..]));
        assert_eq!(argmax(&p[0].probs), 0);
        let bytes = model.to_bytes();
        let back = IntentModel::from_bytes(&bytes).expect("read");
        assert_eq!(back.to_bytes(), bytes);
        let (again, _) = train(&set, &config, "toy", &mut |_, _| {}).expect("train");
        assert_eq!(again.to_bytes(), bytes, "same data, same model");
        assert!(IntentModel::from_bytes(b"garbage").is_err());
    }

    #[test]
    fn threshold_rejects_at_most_the_drop_of_right_answers_conformally() {
        // 199 right answers with confidences spread over (0.5, 1), one wrong answer.
        let mut held: Vec<(usize, Vec<f32>)> =
            (0..199).map(|i| (i, probs(&[(i as f32 + 1.0) / 40.0, 0.0], 1.0))).collect();
        held.push((199, probs(&[0.0, 0.85], 1.0)));
        let y = vec![0; 200]; // the last row predicts class 1: wrong
        let (t, base, after) = choose_threshold(&held, &y, None, 0.01);
        assert!((base - 199.0 / 200.0).abs() < 1e-9);
        // (lost + 1) / 201 ≤ 0.01 allows one right answer to be lost: the
        // cut sits at the second-lowest right confidence.
        assert!((t - held[1].1[0]).abs() < 1e-6, "{t}");
        assert!((after - 198.0 / 200.0).abs() < 1e-9);
        // With 50 held-out examples no cut keeps the guarantee.
        let (t, _, after) = choose_threshold(&held[..50], &y, None, 0.01);
        assert_eq!(t, 0.0);
        assert!((after - 1.0).abs() < 1e-9);
    }
}
