//! The statistics of experiments, pure and deterministic.
//!
//! Decisions use a mixture sequential probability ratio test (mSPRT,
//! Johari, Pekelis & Walsh, "Always valid inference", 2017) on the
//! difference of two success rates, with a normal mixing distribution
//! N(0, τ²) and the normal approximation of the estimate. Its p-value and
//! confidence interval are valid at every moment, so people may look at the
//! results as often as they like and stop whenever the p-value falls below
//! alpha: the chance of a false positive over the whole experiment stays at
//! alpha. docs/experiments.md explains the choice; the lib tests and
//! `botbuilder bench abtest` check it by simulation.

/// Successes out of trials of one variant.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Arm {
    pub trials: u64,
    pub successes: u64,
}

impl Arm {
    /// The observed rate (0 without trials).
    #[must_use]
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    pub fn rate(self) -> f64 {
        if self.trials == 0 { 0.0 } else { self.successes as f64 / self.trials as f64 }
    }

    /// The variance of the rate's estimate, with one pseudo-success and one
    /// pseudo-failure so that 0 % and 100 % do not claim certainty.
    #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
    fn estimate_variance(self) -> f64 {
        let n = self.trials as f64;
        let p = (self.successes as f64 + 1.0) / (n + 2.0);
        p * (1.0 - p) / n.max(1.0)
    }
}

/// Fewest trials per arm before the test may decide: below this the normal
/// approximation of a rate is too rough (the A/A simulation shows it).
pub const MIN_TRIALS: u64 = 30;

/// An interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Half the width of the mixture confidence sequence around an estimate
/// with variance `s2`, mixing variance `tau2`, level `alpha`.
fn mixture_half_width(s2: f64, tau2: f64, alpha: f64) -> f64 {
    let s2 = s2.max(1e-12);
    (s2 * (s2 + tau2) / tau2 * (((s2 + tau2) / s2).ln() - 2.0 * alpha.ln())).sqrt()
}

/// The always-valid interval of one variant's rate (clipped to 0–1).
#[must_use]
pub fn rate_interval(arm: Arm, tau: f64, alpha: f64) -> Interval {
    if arm.trials == 0 {
        return Interval { low: 0.0, high: 1.0 };
    }
    let h = mixture_half_width(arm.estimate_variance(), tau * tau, alpha);
    Interval { low: (arm.rate() - h).max(0.0), high: (arm.rate() + h).min(1.0) }
}

/// A treatment against the control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Treatment rate minus control rate.
    pub difference: f64,
    /// Always-valid interval of the difference.
    pub interval: Interval,
    /// Always-valid p-value (1 / the mixture likelihood ratio, at most 1).
    pub p_value: f64,
    /// Both arms have [`MIN_TRIALS`] and the p-value is below alpha.
    pub significant: bool,
}

/// The mSPRT of `treatment` against `control` at level `alpha`, with mixing
/// standard deviation `tau` (the minimum detectable effect, absolute).
///
/// Under the null both rates are equal, so the likelihood ratio uses the
/// pooled variance; the interval uses each arm's own.
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
pub fn compare(control: Arm, treatment: Arm, tau: f64, alpha: f64) -> Comparison {
    let tau2 = tau * tau;
    let difference = treatment.rate() - control.rate();
    if control.trials == 0 || treatment.trials == 0 {
        return Comparison {
            difference,
            interval: Interval { low: -1.0, high: 1.0 },
            p_value: 1.0,
            significant: false,
        };
    }
    let (n0, n1) = (control.trials as f64, treatment.trials as f64);
    let pooled = (control.successes + treatment.successes) as f64 / (n0 + n1);
    let pooled = pooled.clamp(0.5 / (n0 + n1), 1.0 - 0.5 / (n0 + n1));
    let s2_null = pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1);
    let log_lambda =
        0.5 * (s2_null / (s2_null + tau2)).ln() + tau2 * difference * difference / (2.0 * s2_null * (s2_null + tau2));
    let p_value = (-log_lambda).exp().min(1.0);
    let s2 = control.estimate_variance() + treatment.estimate_variance();
    let h = mixture_half_width(s2, tau2, alpha);
    let interval = Interval { low: (difference - h).max(-1.0), high: (difference + h).min(1.0) };
    let enough = control.trials >= MIN_TRIALS && treatment.trials >= MIN_TRIALS;
    Comparison { difference, interval, p_value, significant: enough && p_value <= alpha }
}

/// What the test says about a set of variants (the first is the control).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Per treatment (variants 1..), its comparison with the control.
    pub comparisons: Vec<Comparison>,
    /// The index of the winning variant, once decided.
    pub winner: Option<usize>,
    /// The level each comparison is tested at (alpha split over the treatments).
    pub alpha_per_comparison: f64,
}

/// Compares every treatment with the control, alpha split evenly among
/// them (Bonferroni). The winner: the significantly better treatment with
/// the highest rate, or the control when every treatment is significantly
/// worse.
#[must_use]
pub fn verdict(arms: &[Arm], tau: f64, alpha: f64) -> Verdict {
    let treatments = arms.len().saturating_sub(1).max(1);
    #[allow(clippy::cast_precision_loss, reason = "a handful of variants")]
    let a = alpha / treatments as f64;
    let Some((&control, rest)) = arms.split_first() else {
        return Verdict { comparisons: Vec::new(), winner: None, alpha_per_comparison: a };
    };
    let comparisons: Vec<Comparison> = rest.iter().map(|&t| compare(control, t, tau, a)).collect();
    let better = comparisons
        .iter()
        .enumerate()
        .filter(|(_, c)| c.significant && c.difference > 0.0)
        .max_by(|x, y| x.1.difference.total_cmp(&y.1.difference))
        .map(|(i, _)| i + 1);
    let control_wins = !comparisons.is_empty() && comparisons.iter().all(|c| c.significant && c.difference < 0.0);
    let winner = better.or(control_wins.then_some(0));
    Verdict { comparisons, winner, alpha_per_comparison: a }
}

/// Units per arm a fixed-horizon two-sided test of two rates needs to find
/// a change from `baseline` by `effect` (absolute) at level `alpha` with
/// `power` (the usual normal-approximation formula). The sequential test
/// needs more on average when there is no effect and often fewer when the
/// effect is larger; docs/experiments.md shows the simulated figures.
#[must_use]
pub fn sample_size_per_arm(baseline: f64, effect: f64, alpha: f64, power: f64) -> u64 {
    let p1 = baseline;
    let p2 = (baseline + effect).min(0.999_999);
    let bar = f64::midpoint(p1, p2);
    let za = normal_quantile(1.0 - alpha / 2.0);
    let zb = normal_quantile(power);
    let num = za * (2.0 * bar * (1.0 - bar)).sqrt() + zb * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    let n = (num * num / (effect * effect)).ceil();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, reason = "a positive count")]
    let n = n as u64;
    n.max(1)
}

/// Units the whole test needs so that the smallest variant reaches the
/// per-arm sample size (shares in percent), with alpha split as in [`verdict`].
#[must_use]
pub fn sample_size_total(baseline: f64, effect: f64, alpha: f64, power: f64, shares: &[u32]) -> u64 {
    let treatments = shares.len().saturating_sub(1).max(1);
    #[allow(clippy::cast_precision_loss, reason = "a handful of variants")]
    let per_arm = sample_size_per_arm(baseline, effect, alpha / treatments as f64, power);
    let smallest = u64::from(shares.iter().copied().min().unwrap_or(50).max(1));
    (per_arm * 100).div_ceil(smallest)
}

/// The standard normal distribution function.
#[must_use]
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit,
/// relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The standard normal quantile (Acklam's rational approximation, relative
/// error below 1.2e-9).
#[must_use]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [7.784_695_709_041_462e-3, 3.224_671_290_700_398e-1, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let low = 0.024_25;
    if p < low {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - low {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        #[allow(clippy::cast_precision_loss, reason = "i < 9")]
        let i = i as f64;
        a += g / (x + i);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularized upper incomplete gamma function Q(s, x) (series below
/// s + 1, continued fraction above; Numerical Recipes §6.2).
#[allow(clippy::many_single_char_names, reason = "the names of the series and the continued fraction")]
fn gamma_q(s: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let front = s * x.ln() - x - ln_gamma(s);
    if x < s + 1.0 {
        let (mut sum, mut term, mut a) = (1.0 / s, 1.0 / s, s);
        for _ in 0..1000 {
            a += 1.0;
            term *= x / a;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        1.0 - sum * front.exp()
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - s;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            #[allow(clippy::cast_precision_loss, reason = "i < 1000")]
            let i = f64::from(i);
            let an = -i * (i - s);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        front.exp() * h
    }
}

/// The p-value of Pearson's chi-square goodness-of-fit test of `observed`
/// counts against `expected` proportions (summing to 1).
#[must_use]
#[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
pub fn chi_square_p(observed: &[u64], expected: &[f64]) -> (f64, f64) {
    let total: u64 = observed.iter().sum();
    let stat: f64 = observed
        .iter()
        .zip(expected)
        .map(|(&o, &e)| {
            let e = e * total as f64;
            (o as f64 - e).powi(2) / e
        })
        .sum();
    let dof = observed.len().saturating_sub(1).max(1) as f64;
    (stat, gamma_q(dof / 2.0, stat / 2.0))
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn normal_functions_match_tables() {
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_quantile(0.975) - 1.959_964).abs() < 1e-5);
        assert!((normal_quantile(0.8) - 0.841_621).abs() < 1e-5);
        assert!((normal_quantile(0.01) + 2.326_348).abs() < 1e-5);
    }

    #[test]
    fn chi_square_matches_tables() {
        // χ² = 3.841 with 1 degree of freedom is p = 0.05; 9.210 with 2 is 0.01.
        assert!((gamma_q(0.5, 3.841_459 / 2.0) - 0.05).abs() < 1e-6);
        assert!((gamma_q(1.0, 9.210_340 / 2.0) - 0.01).abs() < 1e-6);
        assert!((gamma_q(5.0, 18.307 / 2.0) - 0.05).abs() < 1e-4);
        let (stat, p) = chi_square_p(&[50, 50], &[0.5, 0.5]);
        assert!(stat.abs() < 1e-12 && (p - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sample_size_matches_the_textbook_figure() {
        // 10 % → 12 %, alpha 5 %, power 80 %: about 3,841 per arm.
        let n = sample_size_per_arm(0.10, 0.02, 0.05, 0.8);
        assert!((3_800..=3_900).contains(&n), "{n}");
        assert_eq!(sample_size_total(0.10, 0.02, 0.05, 0.8, &[50, 50]), n * 2);
        assert!(sample_size_total(0.10, 0.02, 0.05, 0.8, &[80, 20]) > n * 4);
    }

    fn arm(rng: &mut StdRng, rate: f64, n: u64) -> Arm {
        let successes = (0..n).filter(|_| rng.random_bool(rate)).count() as u64;
        Arm { trials: n, successes }
    }

    #[test]
    fn an_obvious_difference_is_significant_and_no_difference_is_not() {
        let mut rng = StdRng::seed_from_u64(7);
        let (a, b) = (arm(&mut rng, 0.2, 4_000), arm(&mut rng, 0.3, 4_000));
        let c = compare(a, b, 0.05, 0.05);
        assert!(c.significant && c.p_value < 1e-6 && c.interval.low > 0.0, "{c:?}");
        let v = verdict(&[a, b], 0.05, 0.05);
        assert_eq!(v.winner, Some(1));
        let same = compare(Arm { trials: 1_000, successes: 200 }, Arm { trials: 1_000, successes: 200 }, 0.05, 0.05);
        assert!(!same.significant && same.interval.low < 0.0 && same.interval.high > 0.0);
        assert!(!compare(Arm { trials: 5, successes: 0 }, Arm { trials: 5, successes: 5 }, 0.05, 0.05).significant);
    }

    #[test]
    fn a_known_effect_is_found() {
        let found = super::simulate::power(0.20, 0.26, 0.05, 0.05, 20, 200, 100, 11);
        assert!(found.rate >= 0.9, "{found:?}");
    }

    #[test]
    fn aa_false_positives_stay_at_alpha_under_continuous_peeking() {
        // 1,000 A/A experiments, each looked at after every 50 units per
        // arm up to 10,000: stopping at the first p ≤ alpha.
        let run = super::simulate::aa(0.2, 0.05, 0.05, 1_000, 50, 200, 3);
        assert!(run.rate <= 0.05, "{run:?}");
    }
}

/// Simulations of the test (the lib tests and `botbuilder bench abtest`).
pub mod simulate {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::{Arm, compare};

    /// How often simulated experiments stopped on a difference.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Run {
        pub experiments: u32,
        pub stopped: u32,
        pub rate: f64,
        /// Units per arm at the stop (median over those that stopped).
        pub median_units_at_stop: u64,
    }

    #[allow(clippy::too_many_arguments, reason = "the parameters of a simulation")]
    fn run(
        control: f64,
        treatment: f64,
        tau: f64,
        alpha: f64,
        experiments: u32,
        batch: u64,
        peeks: u32,
        seed: u64,
    ) -> Run {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut stops = Vec::new();
        for _ in 0..experiments {
            let (mut a, mut b) = (Arm::default(), Arm::default());
            for _ in 0..peeks {
                for _ in 0..batch {
                    a.trials += 1;
                    a.successes += u64::from(rng.random_bool(control));
                    b.trials += 1;
                    b.successes += u64::from(rng.random_bool(treatment));
                }
                if compare(a, b, tau, alpha).significant {
                    stops.push(a.trials);
                    break;
                }
            }
        }
        stops.sort_unstable();
        let stopped = u32::try_from(stops.len()).unwrap_or(u32::MAX);
        Run {
            experiments,
            stopped,
            rate: f64::from(stopped) / f64::from(experiments.max(1)),
            median_units_at_stop: stops.get(stops.len() / 2).copied().unwrap_or(0),
        }
    }

    /// A/A: both arms at `rate`; the share of experiments that (wrongly) stop.
    #[must_use]
    pub fn aa(rate: f64, tau: f64, alpha: f64, experiments: u32, batch: u64, peeks: u32, seed: u64) -> Run {
        run(rate, rate, tau, alpha, experiments, batch, peeks, seed)
    }

    /// A known effect: the share of experiments that find it.
    #[allow(clippy::too_many_arguments, reason = "the parameters of a simulation")]
    #[must_use]
    pub fn power(
        control: f64,
        treatment: f64,
        tau: f64,
        alpha: f64,
        experiments: u32,
        batch: u64,
        peeks: u32,
        seed: u64,
    ) -> Run {
        run(control, treatment, tau, alpha, experiments, batch, peeks, seed)
    }
}
