//! A linear-chain sequence labeller: an averaged structured perceptron
//! (Collins 2002) over dense (encoder token vectors) and sparse binary
//! features, decoded with Viterbi under BIO constraints so that every
//! decoded span is well-formed (an `I-x` only after `B-x` or `I-x`).
//! Confidences are the span's tag marginals from forward–backward over the
//! same scores. Training is deterministic: a seeded shuffle, sequential
//! updates, no threads.
//!
//! Tags: 0 = `O`, `2k + 1` = `B` of label k, `2k + 2` = `I` of label k.

#![allow(
    clippy::many_single_char_names,
    clippy::cast_precision_loss,
    reason = "numeric code: short names follow the formulas"
)]

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// One position of a sequence: its dense vector and its active sparse
/// features (indices into the model's feature space).
#[derive(Debug, Clone, Default)]
pub struct Position {
    pub dense: Vec<f32>,
    pub sparse: Vec<u32>,
}

/// Hyperparameters.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct LabellerConfig {
    pub epochs: usize,
    pub seed: u64,
}

impl Default for LabellerConfig {
    fn default() -> Self {
        LabellerConfig { epochs: 12, seed: 23 }
    }
}

/// The trained weights.
#[derive(Debug, Clone, PartialEq)]
pub struct SequenceModel {
    /// Number of labels (tags = 1 + 2 × labels).
    pub labels: usize,
    pub dense_dim: usize,
    pub features: usize,
    /// tags × `dense_dim`.
    pub dense: Vec<f32>,
    /// features × tags.
    pub sparse: Vec<f32>,
    pub bias: Vec<f32>,
    /// (tags + 1) × tags: row `tags` is the start of the sequence.
    pub transitions: Vec<f32>,
}

/// Whether `cur` may follow `prev` (`None` = start of the sequence).
#[must_use]
pub fn allowed(prev: Option<usize>, cur: usize) -> bool {
    if cur == 0 || cur % 2 == 1 {
        return true;
    }
    // I of label k = cur: only after B (cur - 1) or I (cur) of k.
    prev.is_some_and(|p| p == cur || p + 1 == cur)
}

impl SequenceModel {
    fn new(labels: usize, dense_dim: usize, features: usize) -> SequenceModel {
        let tags = 1 + 2 * labels;
        SequenceModel {
            labels,
            dense_dim,
            features,
            dense: vec![0.0; tags * dense_dim],
            sparse: vec![0.0; features * tags],
            bias: vec![0.0; tags],
            transitions: vec![0.0; (tags + 1) * tags],
        }
    }

    #[must_use]
    pub fn tags(&self) -> usize {
        1 + 2 * self.labels
    }

    /// Emission scores, positions × tags.
    #[must_use]
    pub fn emissions(&self, seq: &[Position]) -> Vec<f32> {
        let tags = self.tags();
        let mut out = vec![0.0_f32; seq.len() * tags];
        for (i, p) in seq.iter().enumerate() {
            let row = &mut out[i * tags..(i + 1) * tags];
            row.copy_from_slice(&self.bias);
            if p.dense.len() == self.dense_dim {
                for (t, score) in row.iter_mut().enumerate() {
                    let w = &self.dense[t * self.dense_dim..(t + 1) * self.dense_dim];
                    *score += w.iter().zip(&p.dense).map(|(a, b)| a * b).sum::<f32>();
                }
            }
            for &f in &p.sparse {
                let f = f as usize;
                if f < self.features {
                    for (score, w) in row.iter_mut().zip(&self.sparse[f * tags..(f + 1) * tags]) {
                        *score += w;
                    }
                }
            }
        }
        out
    }

    fn transition(&self, prev: Option<usize>, cur: usize) -> f32 {
        let tags = self.tags();
        self.transitions[prev.unwrap_or(tags) * tags + cur]
    }

    /// The best allowed tag sequence (Viterbi); ties go to the lower tag.
    #[must_use]
    pub fn decode(&self, emissions: &[f32]) -> Vec<usize> {
        let tags = self.tags();
        let n = emissions.len() / tags;
        if n == 0 {
            return Vec::new();
        }
        let mut score = vec![f32::NEG_INFINITY; n * tags];
        let mut back = vec![0_usize; n * tags];
        for t in 0..tags {
            if allowed(None, t) {
                score[t] = emissions[t] + self.transition(None, t);
            }
        }
        for i in 1..n {
            for t in 0..tags {
                let mut best = (f32::NEG_INFINITY, 0);
                for p in 0..tags {
                    let prev = score[(i - 1) * tags + p];
                    if prev == f32::NEG_INFINITY || !allowed(Some(p), t) {
                        continue;
                    }
                    let s = prev + self.transition(Some(p), t);
                    if s > best.0 {
                        best = (s, p);
                    }
                }
                score[i * tags + t] = best.0 + emissions[i * tags + t];
                back[i * tags + t] = best.1;
            }
        }
        let mut last = 0;
        for t in 1..tags {
            if score[(n - 1) * tags + t] > score[(n - 1) * tags + last] {
                last = t;
            }
        }
        let mut path = vec![last; n];
        for i in (1..n).rev() {
            path[i - 1] = back[i * tags + path[i]];
        }
        path
    }

    /// Marginal probability of each tag at each position (forward–backward
    /// over the allowed paths, the scores read as log-potentials).
    #[must_use]
    pub fn marginals(&self, emissions: &[f32]) -> Vec<f32> {
        let tags = self.tags();
        let n = emissions.len() / tags;
        if n == 0 {
            return Vec::new();
        }
        let mut alpha = vec![f32::NEG_INFINITY; n * tags];
        let mut beta = vec![f32::NEG_INFINITY; n * tags];
        for t in 0..tags {
            if allowed(None, t) {
                alpha[t] = emissions[t] + self.transition(None, t);
            }
        }
        for i in 1..n {
            for t in 0..tags {
                let terms = (0..tags)
                    .filter(|&p| allowed(Some(p), t))
                    .map(|p| alpha[(i - 1) * tags + p] + self.transition(Some(p), t));
                alpha[i * tags + t] = log_sum_exp(terms) + emissions[i * tags + t];
            }
        }
        for t in 0..tags {
            beta[(n - 1) * tags + t] = 0.0;
        }
        for i in (0..n - 1).rev() {
            for p in 0..tags {
                let terms = (0..tags)
                    .filter(|&t| allowed(Some(p), t))
                    .map(|t| self.transition(Some(p), t) + emissions[(i + 1) * tags + t] + beta[(i + 1) * tags + t]);
                beta[i * tags + p] = log_sum_exp(terms);
            }
        }
        let z = log_sum_exp((0..tags).map(|t| alpha[(n - 1) * tags + t]));
        alpha.iter().zip(&beta).map(|(a, b)| (a + b - z).exp()).collect()
    }

    /// Weights as little-endian f32s (dense, sparse, bias, transitions).
    #[must_use]
    pub fn weight_bytes(&self) -> Vec<u8> {
        let all = self.dense.iter().chain(&self.sparse).chain(&self.bias).chain(&self.transitions);
        all.flat_map(|f| f.to_le_bytes()).collect()
    }

    /// Reads [`SequenceModel::weight_bytes`] output for the given shape.
    pub fn from_weight_bytes(
        labels: usize,
        dense_dim: usize,
        features: usize,
        bytes: &[u8],
    ) -> anyhow::Result<SequenceModel> {
        let mut model = SequenceModel::new(labels, dense_dim, features);
        let need = model.dense.len() + model.sparse.len() + model.bias.len() + model.transitions.len();
        if bytes.len() != need * 4 {
            bail!("labeller weights have {} bytes, expected {}", bytes.len(), need * 4);
        }
        let mut floats = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        for slot in model
            .dense
            .iter_mut()
            .chain(model.sparse.iter_mut())
            .chain(model.bias.iter_mut())
            .chain(model.transitions.iter_mut())
        {
            *slot = floats.next().context("truncated labeller weights")?;
        }
        Ok(model)
    }
}

fn log_sum_exp(terms: impl Iterator<Item = f32>) -> f32 {
    let v: Vec<f32> = terms.filter(|x| *x > f32::NEG_INFINITY).collect();
    let Some(max) = v.iter().copied().reduce(f32::max) else { return f32::NEG_INFINITY };
    max + v.iter().map(|x| (x - max).exp()).sum::<f32>().ln()
}

/// A small deterministic generator (xorshift64*), for the shuffle.
pub struct Rng(u64);

impl Rng {
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % (n.max(1) as u64)).unwrap_or(0)
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// A training sequence: positions and gold tags.
pub struct Sequence {
    pub positions: Vec<Position>,
    pub tags: Vec<usize>,
}

/// Trains the labeller. `view(seq, epoch, rng)` may return the positions a
/// sequence is seen with in an epoch (feature dropout); the default is the
/// sequence's own.
pub fn train(
    data: &[Sequence],
    labels: usize,
    dense_dim: usize,
    features: usize,
    config: &LabellerConfig,
    view: &dyn Fn(&Sequence, &mut Rng) -> Option<Vec<Position>>,
) -> SequenceModel {
    let mut model = SequenceModel::new(labels, dense_dim, features);
    // Sums of c × update for the average (w_avg = w − u / c).
    let mut acc = SequenceModel::new(labels, dense_dim, features);
    let tags = model.tags();
    let mut rng = Rng::new(config.seed);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut c: f32 = 1.0;
    for _ in 0..config.epochs {
        rng.shuffle(&mut order);
        for &k in &order {
            let seq = &data[k];
            if seq.positions.is_empty() {
                continue;
            }
            let altered = view(seq, &mut rng);
            let positions = altered.as_deref().unwrap_or(&seq.positions);
            let predicted = model.decode(&model.emissions(positions));
            if predicted != seq.tags {
                for (i, p) in positions.iter().enumerate() {
                    let (g, q) = (seq.tags[i], predicted[i]);
                    if g != q {
                        for (t, sign) in [(g, 1.0_f32), (q, -1.0_f32)] {
                            model.bias[t] += sign;
                            acc.bias[t] += sign * c;
                            if p.dense.len() == dense_dim {
                                let w = &mut model.dense[t * dense_dim..(t + 1) * dense_dim];
                                let a = &mut acc.dense[t * dense_dim..(t + 1) * dense_dim];
                                for ((w, a), x) in w.iter_mut().zip(a.iter_mut()).zip(&p.dense) {
                                    *w += sign * x;
                                    *a += sign * x * c;
                                }
                            }
                            for &f in &p.sparse {
                                let idx = f as usize * tags + t;
                                if idx < model.sparse.len() {
                                    model.sparse[idx] += sign;
                                    acc.sparse[idx] += sign * c;
                                }
                            }
                        }
                    }
                    let (gp, qp) = if i == 0 { (tags, tags) } else { (seq.tags[i - 1], predicted[i - 1]) };
                    if (gp, g) != (qp, q) {
                        model.transitions[gp * tags + g] += 1.0;
                        acc.transitions[gp * tags + g] += c;
                        model.transitions[qp * tags + q] -= 1.0;
                        acc.transitions[qp * tags + q] -= c;
                    }
                }
            }
            c += 1.0;
        }
    }
    let average = |w: &mut Vec<f32>, a: &[f32]| {
        for (w, a) in w.iter_mut().zip(a) {
            *w -= a / c;
        }
    };
    average(&mut model.dense, &acc.dense);
    average(&mut model.sparse, &acc.sparse);
    average(&mut model.bias, &acc.bias);
    average(&mut model.transitions, &acc.transitions);
    model
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(features: &[u32]) -> Position {
        Position { dense: vec![], sparse: features.to_vec() }
    }

    /// Feature 0 = "after `to`", 1 = capitalised, 2 = the word `to`, 3 = other.
    fn toy() -> Vec<Sequence> {
        vec![
            Sequence { positions: vec![pos(&[3]), pos(&[2]), pos(&[0, 1])], tags: vec![0, 0, 1] },
            Sequence { positions: vec![pos(&[2]), pos(&[0, 1]), pos(&[1])], tags: vec![0, 1, 2] },
            Sequence { positions: vec![pos(&[1]), pos(&[3]), pos(&[3])], tags: vec![0, 0, 0] },
        ]
    }

    #[test]
    fn learns_and_is_deterministic() {
        let config = LabellerConfig::default();
        let a = train(&toy(), 1, 0, 4, &config, &|_, _| None);
        let b = train(&toy(), 1, 0, 4, &config, &|_, _| None);
        assert_eq!(a, b, "same data and seed, same weights");
        for s in toy() {
            assert_eq!(a.decode(&a.emissions(&s.positions)), s.tags);
        }
        let back = SequenceModel::from_weight_bytes(1, 0, 4, &a.weight_bytes()).expect("read");
        assert_eq!(back, a);
        assert!(SequenceModel::from_weight_bytes(1, 0, 4, &a.weight_bytes()[1..]).is_err());
    }

    #[test]
    fn decoding_never_starts_a_span_with_inside() {
        // Emissions that favour I everywhere: the decoder must still start with B.
        let mut model = SequenceModel::new(2, 0, 0);
        model.bias = vec![0.0, 0.0, 5.0, 0.0, 4.0];
        let path = model.decode(&model.emissions(&[pos(&[]), pos(&[]), pos(&[])]));
        assert_eq!(path[0], 1, "{path:?}");
        for w in path.windows(2) {
            assert!(allowed(Some(w[0]), w[1]), "{path:?}");
        }
        let m = model.marginals(&model.emissions(&[pos(&[]), pos(&[])]));
        assert!(m[2].abs() < 1e-6, "I at the start has no probability");
        for row in m.chunks(5) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }
}
