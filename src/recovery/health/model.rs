//! The customer health model: signals, the transparent weighted score, and a
//! logistic regression fitted on the organization's own churn labels
//! (standardized features, L2-regularised full-batch gradient descent:
//! deterministic, no dependency), with the AUC to judge it.

use serde::{Deserialize, Serialize};

/// The signals of one customer over the last 30 days (90 for billing), in
/// the order of [`SIGNALS`].
pub const SIGNALS: [&str; 9] = [
    "usage_trend",
    "usage_level",
    "logins",
    "conversations",
    "handoff_rate",
    "csat",
    "payment_failures",
    "plan_changes",
    "days_inactive",
];

/// What one signal means (shown with its weight).
#[must_use]
pub fn describe(signal: &str) -> &'static str {
    match signal {
        "usage_trend" => "usage of the last 14 days against the 14 before (log ratio)",
        "usage_level" => "usage in the last 30 days (log)",
        "logins" => "sign-ins of the customer's members in the last 30 days (log)",
        "conversations" => "conversations in the last 30 days (log)",
        "handoff_rate" => "share of conversations handed to a human",
        "csat" => "average satisfaction rating minus 3 (0 when none)",
        "payment_failures" => "failed payments in the last 90 days",
        "plan_changes" => "subscription changes in the last 90 days",
        "days_inactive" => "days since the last usage, in months (at most 3)",
        _ => "",
    }
}

/// The raw values of [`SIGNALS`].
pub type Features = [f64; SIGNALS.len()];

/// The measured facts of a customer, turned into [`Features`] by [`features`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Facts {
    pub usage_recent: f64,
    pub usage_before: f64,
    pub usage_30d: f64,
    pub logins_30d: f64,
    pub conversations_30d: f64,
    pub handoffs_30d: f64,
    pub csat_avg: Option<f64>,
    pub payment_failures_90d: f64,
    pub plan_changes_90d: f64,
    pub days_inactive: f64,
}

#[must_use]
pub fn features(f: &Facts) -> Features {
    let trend = ((f.usage_recent + 1.0) / (f.usage_before + 1.0)).ln();
    let handoff = if f.conversations_30d > 0.0 { f.handoffs_30d / f.conversations_30d } else { 0.0 };
    [
        trend,
        f.usage_30d.ln_1p(),
        f.logins_30d.ln_1p(),
        f.conversations_30d.ln_1p(),
        handoff,
        f.csat_avg.map_or(0.0, |c| c - 3.0),
        f.payment_failures_90d,
        f.plan_changes_90d,
        (f.days_inactive / 30.0).min(3.0),
    ]
}

/// The transparent default weights: each signal is turned into a risk in
/// [0, 1] and the churn probability is their weighted sum (weights add to 1).
pub const DEFAULT_WEIGHTS: Features = [0.25, 0.05, 0.15, 0.05, 0.05, 0.05, 0.2, 0.05, 0.15];

fn default_risks(x: &Features) -> Features {
    let c = |v: f64| v.clamp(0.0, 1.0);
    [
        c(-x[0] / 4f64.ln()),
        c(1.0 - x[1] / 1000f64.ln_1p()),
        c(1.0 - x[2] / 10f64.ln_1p()),
        c(1.0 - x[3] / 50f64.ln_1p()),
        c(x[4]),
        if x[5] == 0.0 { 0.5 } else { c((2.0 - x[5]) / 4.0) },
        c(x[6] / 3.0),
        c(x[7] / 2.0),
        c(x[8]),
    ]
}

/// One signal's part in a score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct RecoverySignalPart {
    pub signal: String,
    pub description: String,
    /// The signal's raw value.
    pub value: f64,
    /// Its weight in the model in force (default model: share of the risk;
    /// logistic model: coefficient per standard deviation).
    pub weight: f64,
    /// Its push towards churn in this score (positive = riskier).
    pub contribution: f64,
}

/// A fitted logistic model.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub mean: Features,
    pub std: Features,
    pub weights: Features,
    pub intercept: f64,
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

impl Logistic {
    /// Fits on `xs` with labels `ys` (true = churned): L2 `lambda`, `epochs`
    /// of full-batch gradient descent from zero weights (deterministic).
    #[must_use]
    pub fn fit(xs: &[Features], ys: &[bool], lambda: f64, epochs: usize) -> Self {
        let n = xs.len().max(1);
        #[allow(clippy::cast_precision_loss, reason = "sample counts are small")]
        let nf = n as f64;
        let mut mean = [0.0; SIGNALS.len()];
        let mut std = [0.0; SIGNALS.len()];
        for x in xs {
            for (m, v) in mean.iter_mut().zip(x) {
                *m += v / nf;
            }
        }
        for x in xs {
            for ((s, v), m) in std.iter_mut().zip(x).zip(&mean) {
                *s += (v - m).powi(2) / nf;
            }
        }
        for s in &mut std {
            *s = if *s > 1e-12 { s.sqrt() } else { 1.0 };
        }
        let zs: Vec<Features> = xs
            .iter()
            .map(|x| {
                let mut z = [0.0; SIGNALS.len()];
                for (((zi, v), m), s) in z.iter_mut().zip(x).zip(&mean).zip(&std) {
                    *zi = (v - m) / s;
                }
                z
            })
            .collect();
        #[allow(clippy::cast_precision_loss, reason = "sample counts are small")]
        let pos = ys.iter().filter(|y| **y).count() as f64;
        let prior = ((pos + 0.5) / (nf - pos + 0.5)).ln();
        let mut w = [0.0; SIGNALS.len()];
        let mut b = prior;
        let rate = 0.5;
        for _ in 0..epochs {
            let mut gw = [0.0; SIGNALS.len()];
            let mut gb = 0.0;
            for (z, y) in zs.iter().zip(ys) {
                let p = sigmoid(b + w.iter().zip(z).map(|(a, b)| a * b).sum::<f64>());
                let err = p - if *y { 1.0 } else { 0.0 };
                for (g, v) in gw.iter_mut().zip(z) {
                    *g += err * v / nf;
                }
                gb += err / nf;
            }
            for (wi, g) in w.iter_mut().zip(&gw) {
                *wi -= rate * (g + lambda * *wi);
            }
            b -= rate * gb;
        }
        Self { mean, std, weights: w, intercept: b }
    }

    fn parts(&self, x: &Features) -> Features {
        let mut c = [0.0; SIGNALS.len()];
        for ((((ci, v), w), m), s) in c.iter_mut().zip(x).zip(&self.weights).zip(&self.mean).zip(&self.std) {
            *ci = w * (v - m) / s;
        }
        c
    }

    /// The churn probability of `x`.
    #[must_use]
    pub fn predict(&self, x: &Features) -> f64 {
        sigmoid(self.intercept + self.parts(x).iter().sum::<f64>())
    }

    /// The signals by the size of their weight, largest first.
    #[must_use]
    pub fn top_signals(&self) -> Vec<(&'static str, f64)> {
        let mut v: Vec<(&'static str, f64)> = SIGNALS.iter().copied().zip(self.weights).collect();
        v.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        v
    }
}

/// The model in force for an organization.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Too few churn labels: the transparent default weights.
    Weighted,
    /// Fitted on `labels` labelled customers (`churned` of them churned), with its training AUC.
    Logistic { fit: Box<Logistic>, labels: usize, churned: usize, auc: f64 },
}

impl Model {
    #[must_use]
    pub fn version(&self) -> String {
        match self {
            Self::Weighted => "weighted-v1".to_owned(),
            Self::Logistic { labels, .. } => format!("logistic-v1 ({labels} labels)"),
        }
    }

    /// The churn probability of `x` and each signal's part.
    #[must_use]
    pub fn score(&self, x: &Features) -> (f64, Vec<RecoverySignalPart>) {
        let (p, weights, parts) = match self {
            Self::Weighted => {
                let r = default_risks(x);
                let mut parts = [0.0; SIGNALS.len()];
                for ((p, w), r) in parts.iter_mut().zip(&DEFAULT_WEIGHTS).zip(&r) {
                    *p = w * r;
                }
                (parts.iter().sum::<f64>(), DEFAULT_WEIGHTS, parts)
            }
            Self::Logistic { fit, .. } => (fit.predict(x), fit.weights, fit.parts(x)),
        };
        let round = |v: f64| (v * 10_000.0).round() / 10_000.0;
        let list = SIGNALS
            .iter()
            .enumerate()
            .map(|(i, s)| RecoverySignalPart {
                signal: (*s).to_owned(),
                description: describe(s).to_owned(),
                value: round(x[i]),
                weight: round(weights[i]),
                contribution: round(parts[i]),
            })
            .collect();
        (p.clamp(0.0, 1.0), list)
    }
}

/// The area under the ROC curve of `scores` against `labels` (Mann–Whitney,
/// ties counted half); `None` without both classes.
#[must_use]
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|a, b| scores[*a].total_cmp(&scores[*b]));
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]].total_cmp(&scores[idx[i]]).is_eq() {
            j += 1;
        }
        #[allow(clippy::cast_precision_loss, reason = "ranks")]
        let r = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            ranks[*k] = r;
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|l| **l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let sum: f64 = ranks.iter().zip(labels).filter(|(_, l)| **l).map(|(r, _)| r).sum();
    #[allow(clippy::cast_precision_loss, reason = "counts")]
    let (p, n) = (pos as f64, neg as f64);
    Some((sum - p * (p + 1.0) / 2.0) / (p * n))
}

/// Grade of a health score.
#[must_use]
pub fn grade(score: i64) -> &'static str {
    match score {
        80.. => "A",
        65..=79 => "B",
        50..=64 => "C",
        35..=49 => "D",
        _ => "F",
    }
}

/// Risk level of a churn probability.
#[must_use]
pub fn risk_level(p: f64) -> &'static str {
    if p < 0.2 {
        "very_low"
    } else if p < 0.4 {
        "low"
    } else if p < 0.6 {
        "medium"
    } else if p < 0.8 {
        "high"
    } else {
        "critical"
    }
}

/// A reason a human reads, for a signal pushing towards churn.
#[must_use]
pub fn reason(signal: &str, f: &Facts) -> String {
    match signal {
        "usage_trend" => {
            let drop = if f.usage_before > 0.0 { 100.0 * (1.0 - f.usage_recent / f.usage_before) } else { 0.0 };
            format!("usage fell {drop:.0}% over the last 14 days ({} → {})", f.usage_before, f.usage_recent)
        }
        "usage_level" => format!("low usage: {} in 30 days", f.usage_30d),
        "logins" => format!("{} sign-ins in 30 days", f.logins_30d),
        "conversations" => format!("{} conversations in 30 days", f.conversations_30d),
        "handoff_rate" => format!("{} of {} conversations handed to a human", f.handoffs_30d, f.conversations_30d),
        "csat" => f.csat_avg.map_or_else(|| "no satisfaction ratings".to_owned(), |c| format!("satisfaction {c:.1}/5")),
        "payment_failures" => format!("{} failed payments in 90 days", f.payment_failures_90d),
        "plan_changes" => format!("{} subscription changes in 90 days", f.plan_changes_90d),
        "days_inactive" => format!("no activity for {} days", f.days_inactive),
        _ => signal.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            #[allow(clippy::cast_precision_loss, reason = "test data")]
            let v = (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64;
            v
        }
        fn poisson(&mut self, mean: f64) -> f64 {
            let l = (-mean).exp();
            let (mut k, mut p) = (0.0, 1.0);
            loop {
                p *= self.uniform();
                if p <= l {
                    return k;
                }
                k += 1.0;
            }
        }
    }

    /// Generated customers: a hidden propensity drives usage decline,
    /// fewer logins, payment failures and worse CSAT; churn is drawn from it.
    pub(crate) fn generate(n: usize, seed: u64) -> (Vec<Facts>, Vec<bool>) {
        let mut rng = Rng(seed);
        let (mut facts, mut labels) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let risk = rng.uniform();
            let before = 20.0 + rng.poisson(200.0 * (1.0 - 0.5 * risk));
            let recent = rng.poisson(before / 2.0 * (1.0 - 0.8 * risk) + 1.0);
            let conversations = rng.poisson(30.0 * (1.0 - 0.5 * risk));
            let f = Facts {
                usage_recent: recent,
                usage_before: before / 2.0,
                usage_30d: recent + before / 2.0,
                logins_30d: rng.poisson(12.0 * (1.0 - 0.8 * risk)),
                conversations_30d: conversations,
                handoffs_30d: (conversations * (0.1 + 0.3 * risk * rng.uniform())).round(),
                csat_avg: (rng.uniform() < 0.7).then(|| (4.5 - 2.0 * risk + rng.uniform() - 0.5).clamp(1.0, 5.0)),
                payment_failures_90d: rng.poisson(1.5 * risk * risk),
                plan_changes_90d: rng.poisson(0.3),
                days_inactive: if rng.uniform() < risk * 0.6 { 7.0 + (rng.uniform() * 40.0).round() } else { 1.0 },
            };
            let churned = rng.uniform() < 0.05 + 0.7 * risk.powi(2);
            facts.push(f);
            labels.push(churned);
        }
        (facts, labels)
    }

    #[test]
    fn the_fitted_model_ranks_held_out_churners_first() {
        let (train_f, train_y) = generate(800, 0x5eed_1234);
        let (test_f, test_y) = generate(800, 0x00dd_ba11);
        let xs: Vec<Features> = train_f.iter().map(features).collect();
        let fit = Logistic::fit(&xs, &train_y, 0.01, 400);
        let scores: Vec<f64> = test_f.iter().map(|f| fit.predict(&features(f))).collect();
        let held_out = auc(&scores, &test_y).unwrap_or(0.0);
        let weighted: Vec<f64> = test_f.iter().map(|f| Model::Weighted.score(&features(f)).0).collect();
        let default_auc = auc(&weighted, &test_y).unwrap_or(0.0);
        let churners = test_y.iter().filter(|y| **y).count();
        println!(
            "health model: held-out AUC {held_out:.3} (default weights {default_auc:.3}); {churners}/800 churners"
        );
        println!("top signals: {:?}", fit.top_signals().iter().take(4).collect::<Vec<_>>());
        assert!(held_out >= 0.75, "AUC {held_out}");
        assert!(held_out >= default_auc - 0.02, "fitted {held_out} vs default {default_auc}");
        // The fit is deterministic.
        assert_eq!(fit, Logistic::fit(&xs, &train_y, 0.01, 400));
        // A usage decline and fewer sign-ins push towards churn (failed payments
        // correlate with the decline here, so their own sign is not asserted).
        assert!(fit.weights[0] < 0.0 && fit.weights[2] < 0.0, "{:?}", fit.weights);
    }

    #[test]
    fn auc_counts_ties_half_and_needs_both_classes() {
        assert_eq!(auc(&[0.1, 0.9], &[false, true]), Some(1.0));
        assert_eq!(auc(&[0.9, 0.1], &[false, true]), Some(0.0));
        assert_eq!(auc(&[0.5, 0.5], &[false, true]), Some(0.5));
        assert_eq!(auc(&[0.5, 0.5], &[true, true]), None);
    }

    #[test]
    fn default_weights_add_to_one_and_grades_follow_scores() {
        assert!((DEFAULT_WEIGHTS.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!((grade(85), grade(70), grade(55), grade(40), grade(10)), ("A", "B", "C", "D", "F"));
        assert_eq!((risk_level(0.1), risk_level(0.65), risk_level(0.95)), ("very_low", "high", "critical"));
    }
}
