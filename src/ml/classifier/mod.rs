//! The per-bot intent classifier: logistic regression over the sentence
//! embedding concatenated with sparse TF-IDF word and character n-grams,
//! confidences calibrated by temperature scaling on held-out predictions,
//! and out-of-scope detection that works from a bot's first training:
//! - an implicit out-of-scope class trained from generic **background**
//!   utterances (weighted like one intent, minus those close to the bot's own
//!   examples), plus an explicit one when the data has an `oos`/`none` intent;
//! - a **nearest-example similarity floor**: a message whose best cosine
//!   similarity to the predicted intent's examples is below it is out of
//!   scope (calibrated from leave-one-out similarities of the bot's examples
//!   against the background's similarities to them);
//! - a confidence threshold, when the held-out data is large enough to
//!   calibrate one (`choose_threshold`).
//!
//! With a multilingual encoder the model also carries a **cross-lingual
//! head**: the same classes learnt from the embedding alone, with its own
//! temperature and threshold. The n-gram features only know the languages of
//! the examples; a message in another language matches none of them, and the
//! joint model, which leans on them, is unsure of it. The caller picks the
//! head by the message's detected language ([`IntentModel::languages`]).
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
pub use botbuilder_kernels::logreg;

use std::time::Instant;

use anyhow::{Context, bail};
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

pub use features::{NgramConfig, SparseRow, Vectorizer};
use logreg::{Data, Settings, Weights};

/// Intent names that mean "out of scope" when a bot trains examples of them.
pub const OOS_NAMES: [&str; 4] = ["oos", "none", "out_of_scope", "nlu_fallback"];

/// The label of the implicit out-of-scope class learnt from background
/// utterances. Not a valid intent name (intent names cannot contain spaces
/// or parentheses), and never shown in rankings.
pub const BACKGROUND_LABEL: &str = "(background)";

/// Whether an intent name is the explicit out-of-scope class.
#[must_use]
pub fn is_oos_name(name: &str) -> bool {
    OOS_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// Hyperparameters of training.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[allow(clippy::struct_excessive_bools, reason = "independent switches of the recipe, stored as they are")]
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
    /// Total loss weight of the background class against one intent's
    /// (1 = like one more intent, so it cannot swallow a small bot's intents).
    pub background_weight: f64,
    /// Background utterances at least this similar (cosine) to one of the
    /// bot's examples are left out: they may be what the bot is for.
    pub background_max_similarity: f32,
    /// Calibrate a nearest-example similarity floor.
    pub similarity_floor: bool,
    /// Also train the embedding-only cross-lingual head (for multilingual
    /// encoders; left out of the JSON when off, so that the data hashes of
    /// models trained without it do not change).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cross_lingual_head: bool,
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
            background_weight: 1.0,
            background_max_similarity: 0.8,
            similarity_floor: true,
            cross_lingual_head: false,
        }
    }
}

/// Examples to train on: texts, labels and their embeddings (N × dim),
/// and the generic out-of-scope utterances to learn the background class from.
pub struct TrainingSet<'a> {
    pub texts: Vec<&'a str>,
    pub labels: Vec<String>,
    pub embeddings: Array2<f32>,
    pub background: Option<Background<'a>>,
    /// What the cross-lingual head learns the background class from
    /// (`None`: `background`): only utterances in the examples' languages,
    /// or the head learns "another language" as a sign of out of scope.
    pub cross_lingual_background: Option<Background<'a>>,
}

/// Generic out-of-scope utterances with their embeddings (M × dim).
#[derive(Clone)]
pub struct Background<'a> {
    pub texts: Vec<&'a str>,
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
    /// Background utterances trained as the implicit out-of-scope class
    /// (after leaving out those close to the bot's examples).
    #[serde(default)]
    pub background_examples: usize,
    /// The nearest-example similarity floor (0 = none).
    #[serde(default)]
    pub similarity_floor: f32,
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
    /// Index of the implicit background (out-of-scope) class, if any.
    pub background_class: Option<usize>,
    /// Nearest-example similarity floor (0 = none).
    pub floor: f32,
    /// The in-scope training examples' vectors for the floor.
    pub examples: ExampleIndex,
    /// The languages of the training examples (ISO 639-1, each at least a
    /// tenth of them), set by the caller; empty = unknown.
    pub languages: Vec<String>,
    /// The embedding-only head for messages in other languages.
    pub cross_lingual: Option<CrossLingualHead>,
}

/// The classes of the model learnt from the sentence embedding alone, for
/// messages in a language the examples are not in (same labels and order).
#[derive(Debug, Clone, PartialEq)]
pub struct CrossLingualHead {
    /// Dense weights C × D and bias C (no sparse features).
    pub weights: Weights,
    pub temperature: f32,
    pub threshold: f32,
}

/// Which head reads a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// The joint model: embedding and n-grams.
    Joint,
    /// The embedding-only head (a message in another language).
    CrossLingual,
}

/// Unit-length example vectors quantised to i8 (one byte per dimension,
/// cosine error below 0.01), with the class of each.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExampleIndex {
    pub dim: usize,
    pub classes: Vec<u32>,
    pub codes: Vec<i8>,
}

impl ExampleIndex {
    fn build(dim: usize, rows: impl Iterator<Item = (usize, Vec<f32>)>) -> ExampleIndex {
        let mut index = ExampleIndex { dim, ..ExampleIndex::default() };
        for (class, v) in rows {
            index.classes.push(u32::try_from(class).unwrap_or(u32::MAX));
            index.codes.extend(quantise(&unit(v)));
        }
        index
    }

    /// Best cosine similarity of a unit vector to the examples of `class`
    /// (`None` when the class has no stored examples).
    #[must_use]
    pub fn nearest(&self, class: usize, unit_vector: &[f32]) -> Option<f32> {
        if self.dim == 0 || unit_vector.len() != self.dim {
            return None;
        }
        let mut best: Option<f32> = None;
        for (c, code) in self.classes.iter().zip(self.codes.chunks_exact(self.dim)) {
            if *c as usize == class {
                let s = code.iter().zip(unit_vector).map(|(&q, &x)| f32::from(q) * x).sum::<f32>() / 127.0;
                best = Some(best.map_or(s, |b: f32| b.max(s)));
            }
        }
        best
    }
}

/// The vector scaled to unit length (zero stays zero).
#[must_use]
pub fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

#[allow(clippy::cast_possible_truncation, reason = "values are clamped to the i8 range first")]
fn quantise(v: &[f32]) -> Vec<i8> {
    v.iter().map(|x| (x * 127.0).round().clamp(-127.0, 127.0) as i8).collect()
}

/// Class probabilities of one text.
#[derive(Debug, Clone)]
pub struct Prediction {
    pub probs: Vec<f32>,
}

impl IntentModel {
    /// The head for a message in `language` (ISO 639-1, if detected): the
    /// cross-lingual head when the model has one and knows its examples'
    /// languages and `language` is not among them, else the joint model.
    #[must_use]
    pub fn head_for(&self, language: Option<&str>) -> Head {
        match language {
            Some(code) if self.cross_lingual.is_some() && !self.languages.is_empty() => {
                if self.languages.iter().any(|l| l == code) { Head::Joint } else { Head::CrossLingual }
            }
            _ => Head::Joint,
        }
    }

    /// Calibrated probabilities of one text under `head` (the joint model
    /// when the model has no cross-lingual head).
    #[must_use]
    pub fn predict_one(&self, head: Head, text: &str, vector: &[f32]) -> Option<Prediction> {
        let view = ArrayView2::from_shape((1, vector.len()), vector).ok()?;
        match (head, &self.cross_lingual) {
            (Head::CrossLingual, Some(h)) => {
                let mut z = h.weights.logits(&view, &[SparseRow::default()]);
                let row = z.as_slice_mut()?;
                Some(Prediction { probs: probs(row, h.temperature) })
            }
            _ => self.predict(&[text], &view).pop(),
        }
    }

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

/// What the model decides for one message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The best in-scope class (never the background class), if any.
    pub class: Option<usize>,
    pub out_of_scope: bool,
    /// Best similarity to the class's examples, when the model keeps them.
    pub similarity: Option<f32>,
}

impl IntentModel {
    /// Whether class `k` means out of scope (explicit or background).
    #[must_use]
    pub fn is_oos_class(&self, k: usize) -> bool {
        Some(k) == self.oos_class || Some(k) == self.background_class
    }

    /// The decision for one prediction: the best class among `allowed`
    /// (active intents) is out of scope when it is the explicit
    /// out-of-scope class, when the background class is more probable, when
    /// its confidence is under `threshold` (default: the calibrated one), or
    /// when the message's best similarity to its examples is under `floor`
    /// (default: the calibrated floor).
    #[must_use]
    pub fn decide(
        &self,
        probs: &[f32],
        vector: &[f32],
        allowed: &dyn Fn(usize) -> bool,
        threshold: Option<f64>,
        floor: Option<f64>,
    ) -> Decision {
        self.decide_with(Head::Joint, probs, vector, allowed, threshold, floor)
    }

    /// [`IntentModel::decide`] for probabilities from `head`: the
    /// cross-lingual head has its own calibrated threshold, and its floor
    /// sits [`CROSS_LINGUAL_FLOOR_DROP`] lower (a translation is less similar
    /// to the examples than a paraphrase in their language).
    #[must_use]
    pub fn decide_with(
        &self,
        head: Head,
        probs: &[f32],
        vector: &[f32],
        allowed: &dyn Fn(usize) -> bool,
        threshold: Option<f64>,
        floor: Option<f64>,
    ) -> Decision {
        let (calibrated_threshold, calibrated_floor) = match (head, &self.cross_lingual) {
            (Head::CrossLingual, Some(h)) => (h.threshold, (self.floor - CROSS_LINGUAL_FLOOR_DROP).max(0.0)),
            _ => (self.threshold, self.floor),
        };
        let best = (0..probs.len()).filter(|&k| Some(k) != self.background_class && allowed(k)).fold(
            None,
            |b: Option<usize>, k| match b {
                Some(b) if probs[b] >= probs[k] => Some(b),
                _ => Some(k),
            },
        );
        let Some(k) = best else { return Decision { class: None, out_of_scope: true, similarity: None } };
        let similarity = if self.is_oos_class(k) { None } else { self.examples.nearest(k, &unit(vector.to_vec())) };
        let background_wins = self.background_class.is_some_and(|b| probs[b] > probs[k]);
        let threshold = threshold.unwrap_or(f64::from(calibrated_threshold));
        let floor = floor.unwrap_or(f64::from(calibrated_floor));
        let out_of_scope = self.is_oos_class(k)
            || background_wins
            || f64::from(probs[k]) < threshold
            || similarity.is_some_and(|s| f64::from(s) < floor);
        Decision { class: Some(k), out_of_scope, similarity }
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
    let own = set.texts.len();
    if own != set.labels.len() || own != set.embeddings.nrows() {
        bail!("texts, labels and embeddings differ in length");
    }
    let mut labels: Vec<String> = set.labels.clone();
    labels.sort();
    labels.dedup();
    if labels.len() < 2 {
        bail!("at least two intents are needed");
    }
    let mut y: Vec<usize> = set.labels.iter().map(|l| labels.binary_search(l).unwrap_or(0)).collect();
    let oos_class = labels.iter().position(|l| is_oos_name(l));
    let dim = set.embeddings.ncols();
    let units = unit_rows(&set.embeddings);
    let in_scope: Vec<usize> = (0..own).filter(|&i| Some(y[i]) != oos_class).collect();
    let in_scope_units = units.select(Axis(0), &in_scope);

    // The background class: generic utterances not close to any example.
    // A bot with its own out-of-scope intent has in-domain negatives, which
    // the generic ones would only blur (CLINC150 with `oos_train`: in-scope
    // accuracy 0.940 without them, 0.936 with); the background then only
    // calibrates the similarity floor.
    let (mut texts, mut embeddings) = (set.texts.clone(), set.embeddings.clone());
    let mut background_similarity: Vec<f32> = Vec::new();
    let mut background_class = None;
    if let Some(bg) =
        set.background.as_ref().filter(|bg| config.background_weight > 0.0 && bg.embeddings.ncols() == dim)
    {
        let kept = select_background(bg, &in_scope_units, config.background_max_similarity);
        if oos_class.is_some() {
            background_similarity = kept.iter().map(|&(_, s)| s).collect();
        } else if !kept.is_empty() {
            background_class = Some(labels.len());
            labels.push(BACKGROUND_LABEL.to_owned());
            texts.extend(kept.iter().map(|&(b, _)| bg.texts[b]));
            let rows: Vec<usize> = kept.iter().map(|&(b, _)| b).collect();
            embeddings =
                ndarray::concatenate(Axis(0), &[embeddings.view(), bg.embeddings.select(Axis(0), &rows).view()])?;
            y.extend(std::iter::repeat_n(labels.len() - 1, kept.len()));
            background_similarity = kept.iter().map(|&(_, s)| s).collect();
        }
    }
    let n = texts.len();
    let data = FitData { texts: &texts, embeddings: &embeddings, y: &y, classes: labels.len(), background_class };
    let oos_classes: Vec<usize> = oos_class.into_iter().chain(background_class).collect();

    let HeldOut { held_logits, warm, mut iterations, validation, rounds } = held_out(&data, config, &y, progress)?;
    let temperature = fit_temperature(&held_logits, &y);
    let held_probs: Vec<(usize, Vec<f32>)> = held_logits.iter().map(|(i, z)| (*i, probs(z, temperature))).collect();
    let (threshold, acc, acc_t) = choose_threshold(&held_probs, &y, &oos_classes, config.oos_rejected_right_share);

    progress("training", rounds as f64 / (rounds + 1) as f64);
    let all: Vec<usize> = (0..n).collect();
    let (vectorizer, weights, it) = fit(&data, &all, config, warm.as_ref())?;
    iterations += it;
    let examples = if config.similarity_floor {
        ExampleIndex::build(dim, in_scope.iter().map(|&i| (y[i], units.row(i).to_vec())))
    } else {
        ExampleIndex::default()
    };
    let floor = if config.similarity_floor {
        let loo = leave_one_out_similarity(&in_scope, &y, &units);
        choose_floor(&loo, &background_similarity)
    } else {
        0.0
    };
    let report = TrainReport {
        examples: own,
        intents: labels.len() - usize::from(background_class.is_some()),
        features_sparse: vectorizer.width(),
        iterations,
        validation: validation.to_owned(),
        validation_examples: held_logits.len(),
        validation_accuracy: acc,
        validation_accuracy_thresholded: acc_t,
        temperature,
        threshold,
        background_examples: n - own,
        similarity_floor: floor,
        train_seconds: started.elapsed().as_secs_f64(),
    };
    let cross_lingual = if config.cross_lingual_head && config.embedding {
        progress("cross-lingual head", 0.95);
        Some(train_cross_lingual_head(set, config, embedder_id, &labels)?)
    } else {
        None
    };
    let model = IntentModel {
        labels,
        oos_class,
        vectorizer,
        weights,
        embedding: config.embedding,
        dim,
        temperature,
        threshold,
        embedder_id: embedder_id.to_owned(),
        background_class,
        floor,
        examples,
        languages: Vec::new(),
        cross_lingual,
    };
    Ok((model, report))
}

/// The embedding-only head: the same training without n-grams (same
/// background selection, hence the same classes in the same order).
fn train_cross_lingual_head(
    set: &TrainingSet<'_>,
    config: &TrainConfig,
    embedder_id: &str,
    labels: &[String],
) -> anyhow::Result<CrossLingualHead> {
    let none = NgramConfig { word: (0, 0), char: (0, 0), ..config.ngrams };
    let sub = TrainConfig { ngrams: none, similarity_floor: false, cross_lingual_head: false, ..*config };
    let set = TrainingSet {
        texts: set.texts.clone(),
        labels: set.labels.clone(),
        embeddings: set.embeddings.clone(),
        background: set.cross_lingual_background.clone().or_else(|| set.background.clone()),
        cross_lingual_background: None,
    };
    let (head, _) = train(&set, &sub, embedder_id, &mut |_, _| {})?;
    if head.labels != labels || head.vectorizer.width() != 0 {
        bail!("the cross-lingual head's classes differ from the model's");
    }
    Ok(CrossLingualHead { weights: head.weights, temperature: head.temperature, threshold: head.threshold })
}

/// How much lower the similarity floor is for a message in another language
/// than the examples'.
pub const CROSS_LINGUAL_FLOOR_DROP: f32 = 0.05;

/// The background utterances less similar than `max_similarity` to every
/// in-scope example (unit rows), with that best similarity.
fn select_background(bg: &Background<'_>, in_scope_units: &Array2<f32>, max_similarity: f32) -> Vec<(usize, f32)> {
    if in_scope_units.nrows() == 0 || in_scope_units.ncols() == 0 {
        return Vec::new();
    }
    let similarity = unit_rows(&bg.embeddings).dot(&in_scope_units.t());
    similarity
        .rows()
        .into_iter()
        .enumerate()
        .map(|(b, row)| (b, row.iter().copied().fold(f32::NEG_INFINITY, f32::max)))
        .filter(|&(_, nearest)| nearest < max_similarity)
        .collect()
}

/// Held-out logits of the training rows, with the holdout model to warm
/// start from (large data), the iterations run and the validation kind.
struct HeldOut {
    held_logits: Vec<(usize, Vec<f32>)>,
    warm: Option<(Vectorizer, Weights)>,
    iterations: usize,
    validation: &'static str,
    rounds: usize,
}

/// Held-out predictions: k folds for small data, one 20 % holdout above.
fn held_out(
    data: &FitData<'_>,
    config: &TrainConfig,
    y: &[usize],
    progress: &mut dyn FnMut(&str, f64),
) -> anyhow::Result<HeldOut> {
    let n = data.texts.len();
    let (texts, embeddings) = (data.texts, data.embeddings);
    let (folds, validation) =
        if n <= config.cv_max_examples { (config.cv_folds.max(2), "cross_validation") } else { (5, "holdout") };
    let fold_of = assign_folds(y, data.classes, folds);
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
        let (vectorizer, weights, it) = fit(data, &train_idx, config, None)?;
        iterations += it;
        let fold_texts: Vec<&str> = test_idx.iter().map(|&i| texts[i]).collect();
        let emb = embeddings.select(Axis(0), &test_idx);
        let sparse: Vec<SparseRow> = fold_texts.iter().map(|t| vectorizer.transform(t)).collect();
        let dense = if config.embedding {
            emb.view()
        } else {
            ArrayView2::from_shape((fold_texts.len(), 0), &[]).unwrap_or(emb.view())
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
    Ok(HeldOut { held_logits, warm, iterations, validation, rounds: rounds.len() })
}

/// Each in-scope example's best similarity to the other examples of its
/// intent (intents with one example have none).
fn leave_one_out_similarity(in_scope: &[usize], y: &[usize], units: &Array2<f32>) -> Vec<f32> {
    let mut by_class: std::collections::BTreeMap<usize, Vec<usize>> = std::collections::BTreeMap::new();
    for &i in in_scope {
        by_class.entry(y[i]).or_default().push(i);
    }
    let mut out = Vec::new();
    for members in by_class.values().filter(|m| m.len() >= 2) {
        let rows = units.select(Axis(0), members);
        let gram = rows.dot(&rows.t());
        for (a, row) in gram.rows().into_iter().enumerate() {
            let best =
                row.iter().enumerate().filter(|&(b, _)| b != a).map(|(_, &s)| s).fold(f32::NEG_INFINITY, f32::max);
            out.push(best);
        }
    }
    out
}

/// The rows scaled to unit length.
fn unit_rows(m: &Array2<f32>) -> Array2<f32> {
    let mut out = m.clone();
    for mut row in out.rows_mut() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.mapv_inplace(|x| x / norm);
        }
    }
    out
}

/// Share of leave-one-out similarities a floor may fall above.
const FLOOR_IN_SCOPE_LOSS: f64 = 0.02;
/// The floor sits this far below the weakest kept leave-one-out similarity:
/// a new message is compared with every example, not all but one, and
/// paraphrases unlike any example should still pass.
const FLOOR_MARGIN: f32 = 0.05;

/// The nearest-example similarity floor from the bot's leave-one-out
/// similarities (`inside`, what in-scope messages look like) and the
/// background's best similarities to the bot's examples (`outside`): the
/// cut that best separates them (most background below, fewest examples
/// below), never above the `FLOOR_IN_SCOPE_LOSS` quantile of `inside`, then
/// lowered by `FLOOR_MARGIN`. Without leave-one-out data (one example per
/// intent) there is no floor.
fn choose_floor(inside: &[f32], outside: &[f32]) -> f32 {
    if inside.is_empty() {
        return 0.0;
    }
    let mut inside = inside.to_vec();
    inside.sort_by(f32::total_cmp);
    let mut outside = outside.to_vec();
    outside.sort_by(f32::total_cmp);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "an index into the sorted list")]
    let cap = inside[((inside.len() as f64 * FLOOR_IN_SCOPE_LOSS).floor() as usize).min(inside.len() - 1)];
    let below = |sorted: &[f32], t: f32| sorted.partition_point(|&v| v < t) as f64 / sorted.len().max(1) as f64;
    let mut best = (f64::NEG_INFINITY, 0.0_f32);
    for &t in inside.iter().chain(&outside).filter(|&&t| t <= cap) {
        let j = if outside.is_empty() { 0.0 } else { below(&outside, t) } - below(&inside, t);
        if j > best.0 || (j == best.0 && t > best.1) {
            best = (j, t);
        }
    }
    (best.1 - FLOOR_MARGIN).max(0.0)
}

/// What `fit` trains from: the bot's examples followed by the kept
/// background utterances.
struct FitData<'a> {
    texts: &'a [&'a str],
    embeddings: &'a Array2<f32>,
    y: &'a [usize],
    classes: usize,
    background_class: Option<usize>,
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
    set: &FitData<'_>,
    idx: &[usize],
    config: &TrainConfig,
    warm: Option<&(Vectorizer, Weights)>,
) -> anyhow::Result<(Vectorizer, Weights, usize)> {
    let classes = set.classes;
    let texts: Vec<&str> = idx.iter().map(|&i| set.texts[i]).collect();
    let labels: Vec<usize> = idx.iter().map(|&i| set.y[i]).collect();
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
    let mut class_weight: Vec<f32> = counts
        .iter()
        .map(|&c| if config.balanced && c > 0 { (labels.len() as f64 / (present * c) as f64) as f32 } else { 1.0 })
        .collect();
    // The background class weighs `background_weight` times an average
    // intent in total, however many utterances it has.
    if let Some(b) = set.background_class.filter(|&b| counts[b] > 0) {
        let intents: Vec<usize> = (0..classes).filter(|&k| k != b && counts[k] > 0).collect();
        let mean_total = intents.iter().map(|&k| f64::from(class_weight[k]) * counts[k] as f64).sum::<f64>()
            / intents.len().max(1) as f64;
        #[allow(clippy::cast_possible_truncation, reason = "a class weight fits in f32")]
        let w = (config.background_weight * mean_total / counts[b] as f64) as f32;
        class_weight[b] = w;
    }
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
fn choose_threshold(held: &[(usize, Vec<f32>)], y: &[usize], oos: &[usize], drop: f64) -> (f32, f64, f64) {
    let mut rows: Vec<(f32, bool)> = Vec::new(); // confidence of the in-scope prediction, correct?
    for (i, p) in held {
        if oos.contains(&y[*i]) {
            continue;
        }
        let best = argmax(p);
        let correct = best == y[*i];
        let conf = if oos.contains(&best) { -1.0 } else { p[best] };
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
    // Format 2 (out-of-scope detection); absent in format 1 models, which
    // keep working as before (no background class, no floor).
    #[serde(default)]
    background_class: Option<usize>,
    #[serde(default)]
    floor: f32,
    /// Stored example vectors (their classes as u32, then i8 codes).
    #[serde(default)]
    examples: usize,
    // Format 3 (cross-lingual head); absent before.
    #[serde(default)]
    languages: Vec<String>,
    /// The cross-lingual head's calibration; its dense weights (C × D) and
    /// bias (C) follow the example index.
    #[serde(default)]
    cross_lingual: Option<HeadCalibration>,
}

#[derive(Serialize, Deserialize)]
struct HeadCalibration {
    temperature: f32,
    threshold: f32,
}

/// The format `to_bytes` writes; `from_bytes` reads it and formats 1–2.
const FORMAT: u32 = 3;

impl IntentModel {
    /// The model as bytes: magic, a JSON header (labels, vocabularies,
    /// calibration), then little-endian f32 arrays (IDFs, dense weights
    /// C × D, sparse weights V × C, bias C), then the example index (class
    /// of each example as little-endian u32, then its i8 codes, D each).
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = Header {
            format: FORMAT,
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
            background_class: self.background_class,
            floor: self.floor,
            examples: self.examples.classes.len(),
            languages: self.languages.clone(),
            cross_lingual: self
                .cross_lingual
                .as_ref()
                .map(|h| HeadCalibration { temperature: h.temperature, threshold: h.threshold }),
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
        for c in &self.examples.classes {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out.extend(self.examples.codes.iter().map(|&q| q.to_le_bytes()[0]));
        if let Some(h) = &self.cross_lingual {
            for f in h.weights.dense.iter().chain(&h.weights.bias) {
                out.extend_from_slice(&f.to_le_bytes());
            }
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
        if !(1..=FORMAT).contains(&h.format) {
            bail!("unsupported model format {}", h.format);
        }
        let classes = h.labels.len();
        let dense_dim = if h.embedding { h.dim } else { 0 };
        let (nw, nc) = (h.word_terms.len(), h.char_terms.len());
        let need = nw + nc + classes * dense_dim + (nw + nc) * classes + classes;
        let index_bytes = h.examples * (4 + h.dim);
        let head_bytes = if h.cross_lingual.is_some() { 4 * classes * (h.dim + 1) } else { 0 };
        if rest.len() != need * 4 + index_bytes + head_bytes {
            bail!("model weights have {} bytes, expected {}", rest.len(), need * 4 + index_bytes + head_bytes);
        }
        let (rest, index) = rest.split_at(need * 4);
        let (index, head) = index.split_at(index_bytes);
        let cross_lingual = match h.cross_lingual {
            Some(c) => {
                let floats: Vec<f32> =
                    head.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
                let (dense, bias) = floats.split_at(classes * h.dim);
                Some(CrossLingualHead {
                    weights: Weights {
                        dense: Array2::from_shape_vec((classes, h.dim), dense.to_vec())?,
                        sparse_t: Array2::zeros((0, classes)),
                        bias: bias.to_vec(),
                    },
                    temperature: c.temperature,
                    threshold: c.threshold,
                })
            }
            None => None,
        };
        let floats: Vec<f32> = rest.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let (example_classes, codes) = index.split_at(h.examples * 4);
        let examples = ExampleIndex {
            dim: if h.examples > 0 { h.dim } else { 0 },
            classes: example_classes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            codes: codes.iter().map(|&b| i8::from_le_bytes([b])).collect(),
        };
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
            background_class: h.background_class,
            floor: h.floor,
            examples,
            languages: h.languages,
            cross_lingual,
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
        let set = TrainingSet {
            texts: texts.clone(),
            labels,
            embeddings: emb.clone(),
            background: None,
            cross_lingual_background: None,
        };
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

    /// A small bot in a toy 4-d embedding space: two intents along axes 0
    /// and 1, background utterances along axes 2 and 3, one background
    /// utterance that duplicates an intent's example.
    fn small_bot_with_background() -> (TrainingSet<'static>, TrainConfig) {
        let v = |a: f32, b: f32, c: f32, d: f32| unit(vec![a, b, c, d]);
        let rows: Vec<Vec<f32>> = vec![
            v(1.0, 0.1, 0.0, 0.0),
            v(1.0, 0.0, 0.1, 0.0),
            v(1.0, 0.0, 0.0, 0.1),
            v(0.1, 1.0, 0.0, 0.0),
            v(0.0, 1.0, 0.1, 0.0),
            v(0.0, 1.0, 0.0, 0.1),
        ];
        let emb = Array2::from_shape_fn((6, 4), |(i, j)| rows[i][j]);
        let bg_rows: Vec<Vec<f32>> = (0..12)
            .map(|i| if i == 11 { v(1.0, 0.1, 0.0, 0.0) } else { v(0.05 * i as f32, 0.0, 1.0, (i % 3) as f32) })
            .collect();
        let bg = Array2::from_shape_fn((12, 4), |(i, j)| bg_rows[i][j]);
        let mut bg_texts: Vec<&'static str> = vec![
            "what's the weather",
            "tell me a joke",
            "who won the match",
            "asdf",
            "how tall is everest",
            "sing a song",
            "good morning everyone",
            "ok",
            "what's two plus two",
            "recipe for pancakes",
            "hmm",
        ];
        bg_texts.push("track my order"); // the same as an example: left out
        let set = TrainingSet {
            texts: vec![
                "track my order",
                "where is my parcel",
                "order status",
                "cancel my order",
                "stop the order",
                "i want to cancel",
            ],
            labels: ["track", "track", "track", "cancel", "cancel", "cancel"].iter().map(|s| (*s).to_owned()).collect(),
            embeddings: emb,
            background: Some(Background { texts: bg_texts, embeddings: bg }),
            cross_lingual_background: None,
        };
        let config = TrainConfig {
            ngrams: NgramConfig { min_df: 1, ..TrainConfig::default().ngrams },
            ..TrainConfig::default()
        };
        (set, config)
    }

    #[test]
    fn background_class_and_floor_reject_what_the_bot_is_not_for() {
        let (set, config) = small_bot_with_background();
        let (model, report) = train(&set, &config, "toy", &mut |_, _| {}).expect("train");
        assert_eq!(model.labels, ["cancel", "track", BACKGROUND_LABEL]);
        assert_eq!(model.background_class, Some(2));
        assert_eq!(report.intents, 2);
        assert_eq!(report.background_examples, 11, "the background copy of an example is left out");
        assert!(model.floor > 0.0 && model.floor < 0.99, "{}", model.floor);
        assert_eq!(model.examples.classes.len(), 6);

        let decide = |text: &str, v: Vec<f32>| {
            let v = unit(v);
            let view = ArrayView2::from_shape((1, 4), &v).expect("shape").to_owned();
            let p = model.predict(&[text], &view.view()).pop().expect("prediction");
            model.decide(&p.probs, &v, &|_| true, None, None)
        };
        let inside = decide("where is my order", vec![1.0, 0.05, 0.0, 0.0]);
        assert_eq!((inside.class, inside.out_of_scope), (Some(1), false), "{inside:?}");
        assert!(inside.similarity.is_some_and(|s| s > 0.95));
        let weather = decide("what's the weather tomorrow", vec![0.1, 0.0, 1.0, 1.0]);
        assert!(weather.out_of_scope, "{weather:?}");
        // Far from every example and from the background alike: the floor.
        let far = decide("zzz", vec![0.3, 0.3, -1.0, -1.0]);
        assert!(far.out_of_scope, "{far:?}");
        // An owner's floor of 1.0 rejects even a near-copy; 0 accepts it.
        let v = unit(vec![1.0, 0.05, 0.0, 0.0]);
        let view = ArrayView2::from_shape((1, 4), &v).expect("shape").to_owned();
        let p = model.predict(&["where is my order"], &view.view()).pop().expect("prediction");
        assert!(model.decide(&p.probs, &v, &|_| true, None, Some(1.0)).out_of_scope);
        assert!(!model.decide(&p.probs, &v, &|_| true, None, Some(0.0)).out_of_scope);
        // An inactive best intent: the next one decides.
        assert_eq!(model.decide(&p.probs, &v, &|k| k != 1, None, Some(0.0)).class, Some(0));

        // Round trip of the format-2 model, index included.
        let back = IntentModel::from_bytes(&model.to_bytes()).expect("read");
        assert_eq!(
            (back.background_class, back.floor, &back.examples),
            (model.background_class, model.floor, &model.examples)
        );
        assert_eq!(back.to_bytes(), model.to_bytes());
    }

    #[test]
    fn the_cross_lingual_head_reads_messages_in_other_languages_from_the_embedding_alone() {
        let (set, config) = small_bot_with_background();
        let config = TrainConfig { cross_lingual_head: true, ..config };
        let (mut model, _) = train(&set, &config, "toy", &mut |_, _| {}).expect("train");
        let head = model.cross_lingual.clone().expect("a cross-lingual head");
        assert_eq!(head.weights.dense.dim(), (model.labels.len(), 4));
        assert_eq!(head.weights.sparse_t.nrows(), 0, "no n-gram features");

        // Without known example languages every message takes the joint model.
        assert_eq!(model.head_for(Some("de")), Head::Joint);
        model.languages = vec!["en".to_owned()];
        assert_eq!(model.head_for(Some("de")), Head::CrossLingual);
        assert_eq!(model.head_for(Some("en")), Head::Joint);
        assert_eq!(model.head_for(None), Head::Joint, "undetected: the joint model");

        // "Wo ist meine Bestellung": no n-gram of the examples, the vector of "track".
        let v = unit(vec![1.0, 0.05, 0.0, 0.02]);
        let joint = model.predict_one(Head::Joint, "wo ist meine bestellung", &v).expect("joint");
        let cross = model.predict_one(Head::CrossLingual, "wo ist meine bestellung", &v).expect("cross");
        assert_ne!(joint.probs, cross.probs);
        let d = model.decide_with(Head::CrossLingual, &cross.probs, &v, &|_| true, None, None);
        assert_eq!((d.class, d.out_of_scope), (Some(1), false), "{d:?}");
        // The cross-lingual floor is lower than the joint one.
        let strict = model.floor - CROSS_LINGUAL_FLOOR_DROP / 2.0;
        let near = d.similarity.expect("similarity");
        assert!(near > strict, "{near} vs {strict}");

        // Format 3 round trip, head and languages included; a model without
        // a head reads as one.
        let back = IntentModel::from_bytes(&model.to_bytes()).expect("read");
        assert_eq!((back.cross_lingual.as_ref(), &back.languages), (Some(&head), &model.languages));
        assert_eq!(back.to_bytes(), model.to_bytes());
        let (plain, _) =
            train(&set, &TrainConfig { cross_lingual_head: false, ..config }, "toy", &mut |_, _| {}).expect("train");
        let back = IntentModel::from_bytes(&plain.to_bytes()).expect("read");
        assert!(back.cross_lingual.is_none());
        assert_eq!(back.head_for(Some("de")), Head::Joint);
    }

    #[test]
    fn models_saved_in_format_1_still_load_and_decide_as_before() {
        let (texts, labels, emb) = toy();
        let set =
            TrainingSet { texts, labels, embeddings: emb.clone(), background: None, cross_lingual_background: None };
        let config = TrainConfig {
            cv_folds: 2,
            similarity_floor: false,
            ngrams: NgramConfig { min_df: 1, ..TrainConfig::default().ngrams },
            ..TrainConfig::default()
        };
        let (model, _) = train(&set, &config, "toy", &mut |_, _| {}).expect("train");
        // Rewrite it as the previous version wrote it: format 1, no new keys.
        let bytes = model.to_bytes();
        let len = u32::from_le_bytes(bytes[6..10].try_into().expect("len")) as usize;
        let mut header: serde_json::Value = serde_json::from_slice(&bytes[10..10 + len]).expect("header");
        let obj = header.as_object_mut().expect("object");
        obj.insert("format".into(), 1.into());
        for key in ["background_class", "floor", "examples"] {
            obj.remove(key);
        }
        let json = serde_json::to_vec(&header).expect("json");
        let mut old = MAGIC.to_vec();
        old.extend_from_slice(&u32::try_from(json.len()).expect("fits").to_le_bytes());
        old.extend_from_slice(&json);
        old.extend_from_slice(&bytes[10 + len..]);
        let loaded = IntentModel::from_bytes(&old).expect("a format 1 model loads");
        assert_eq!((loaded.background_class, loaded.floor), (None, 0.0));
        assert!(loaded.examples.classes.is_empty());
        let p = loaded.predict(&["book a table for two"], &emb.slice(ndarray::s![0..1, ..]));
        let d = loaded.decide(&p[0].probs, &emb.row(0).to_vec(), &|_| true, None, None);
        assert_eq!((d.class, d.out_of_scope), (Some(0), false));
        assert!(IntentModel::from_bytes(&old[..old.len() - 1]).is_err(), "truncated");
    }

    #[test]
    fn floor_separates_background_from_leave_one_out_similarities() {
        let inside = [0.9, 0.85, 0.8, 0.75, 0.7, 0.65];
        let outside = [0.2, 0.3, 0.4, 0.5, 0.6, 0.68];
        // The best cut is at the weakest example (0.65, all background but
        // one below it), lowered by the margin.
        assert!((choose_floor(&inside, &outside) - (0.65 - FLOOR_MARGIN)).abs() < 1e-6);
        // No background: at the weakest example too; no data: no floor.
        assert!((choose_floor(&inside, &[]) - (0.65 - FLOOR_MARGIN)).abs() < 1e-6);
        assert_eq!(choose_floor(&[], &outside), 0.0);
        // Background above the examples: the cut stays under the examples.
        assert!(choose_floor(&inside, &[0.95, 0.97]) <= 0.65);
    }

    #[test]
    fn threshold_rejects_at_most_the_drop_of_right_answers_conformally() {
        // 199 right answers with confidences spread over (0.5, 1), one wrong answer.
        let mut held: Vec<(usize, Vec<f32>)> =
            (0..199).map(|i| (i, probs(&[(i as f32 + 1.0) / 40.0, 0.0], 1.0))).collect();
        held.push((199, probs(&[0.0, 0.85], 1.0)));
        let y = vec![0; 200]; // the last row predicts class 1: wrong
        let (t, base, after) = choose_threshold(&held, &y, &[], 0.01);
        assert!((base - 199.0 / 200.0).abs() < 1e-9);
        // (lost + 1) / 201 ≤ 0.01 allows one right answer to be lost: the
        // cut sits at the second-lowest right confidence.
        assert!((t - held[1].1[0]).abs() < 1e-6, "{t}");
        assert!((after - 198.0 / 200.0).abs() < 1e-9);
        // With 50 held-out examples no cut keeps the guarantee.
        let (t, _, after) = choose_threshold(&held[..50], &y, &[], 0.01);
        assert_eq!(t, 0.0);
        assert!((after - 1.0).abs() < 1e-9);
    }
}
