//! Multinomial logistic regression over dense + sparse features, trained
//! full-batch with L-BFGS. Deterministic: work is split into fixed chunks
//! and partial results are summed in chunk order, so the result does not
//! depend on thread scheduling.
//!
//! Objective (scikit-learn's): `c · Σᵢ CE(xᵢ, yᵢ) + ½‖W‖²`, bias unpenalised.

#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::float_cmp,
    reason = "numeric code: counts become ratios, short names follow the formulas, exact float compares are on stored values"
)]

use std::collections::VecDeque;

use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, s};
use rayon::prelude::*;

/// A sparse feature row: (column, value) pairs in column order.
pub type SparseRow = Vec<(u32, f32)>;

/// Training data: dense rows (N × D), sparse rows (N, over `sparse_width`
/// columns) and labels.
pub struct Data<'a> {
    pub dense: ArrayView2<'a, f32>,
    pub sparse: &'a [SparseRow],
    pub sparse_width: usize,
    pub labels: &'a [usize],
    pub classes: usize,
    /// Weight of each class's examples in the loss (`balanced`: `n / (k · n_class)`).
    pub class_weight: &'a [f32],
}

/// Weights: dense (C × D), sparse transposed (V × C, row per column), bias (C).
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub dense: Array2<f32>,
    pub sparse_t: Array2<f32>,
    pub bias: Vec<f32>,
}

/// Optimiser settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub c: f64,
    pub max_iter: usize,
    /// Stops when the gradient's max-norm falls below this.
    pub tol: f64,
}

/// Rows per parallel chunk: fixed, so sums happen in the same order on any machine.
const CHUNK: usize = 256;
/// Elements per parallel chunk of the optimiser's vector arithmetic (fixed
/// for the same reason: partial sums are added in chunk order).
const VEC_CHUNK: usize = 1 << 15;

impl Weights {
    #[must_use]
    pub fn zeros(classes: usize, dense: usize, sparse: usize) -> Weights {
        Weights {
            dense: Array2::zeros((classes, dense)),
            sparse_t: Array2::zeros((sparse, classes)),
            bias: vec![0.0; classes],
        }
    }

    fn len(&self) -> usize {
        self.dense.len() + self.sparse_t.len() + self.bias.len()
    }

    /// The three weight arrays, in flat order.
    fn parts_mut(&mut self) -> [&mut [f32]; 3] {
        [
            self.dense.as_slice_mut().unwrap_or(&mut []),
            self.sparse_t.as_slice_mut().unwrap_or(&mut []),
            self.bias.as_mut_slice(),
        ]
    }

    fn parts(&self) -> [&[f32]; 3] {
        [self.dense.as_slice().unwrap_or(&[]), self.sparse_t.as_slice().unwrap_or(&[]), self.bias.as_slice()]
    }

    /// Copies the weights into `out` (length `len()`).
    fn write_flat(&self, out: &mut [f32]) {
        let mut rest = out;
        for part in self.parts() {
            let (head, tail) = rest.split_at_mut(part.len());
            head.copy_from_slice(part);
            rest = tail;
        }
    }

    /// Overwrites the weights from a flat sequence (length `len()`).
    fn read_flat(&mut self, flat: &[f32]) {
        let mut rest = flat;
        for part in self.parts_mut() {
            let (head, tail) = rest.split_at(part.len());
            part.copy_from_slice(head);
            rest = tail;
        }
    }

    /// Logits of rows (N × C).
    #[must_use]
    pub fn logits(&self, dense: &ArrayView2<'_, f32>, sparse: &[SparseRow]) -> Array2<f32> {
        let mut z = Array2::zeros((sparse.len().max(dense.nrows()), self.bias.len()));
        if let Some(out) = z.as_slice_mut() {
            self.logits_into(dense, sparse, out);
        }
        z
    }

    /// Logits of rows written into `out` (N × C, row-major).
    fn logits_into(&self, dense: &ArrayView2<'_, f32>, sparse: &[SparseRow], out: &mut [f32]) {
        let classes = self.bias.len();
        let rows = out.len() / classes.max(1);
        for row in out.chunks_mut(classes) {
            row.copy_from_slice(&self.bias);
        }
        if self.dense.ncols() > 0
            && let Ok(mut z) = ArrayViewMut2::from_shape((rows, classes), &mut *out)
        {
            general_mat_mul(1.0, dense, &self.dense.t(), 1.0, &mut z);
        }
        if let Some(table) = self.sparse_t.as_slice() {
            for (row, features) in out.chunks_mut(classes).zip(sparse) {
                for &(j, v) in features {
                    if let Some(w) = table.get(j as usize * classes..(j as usize + 1) * classes) {
                        axpy(v, w, row);
                    }
                }
            }
        }
    }
}

/// Softmax of one row in place; returns log-sum-exp.
pub fn softmax_in_place(row: &mut [f32]) -> f32 {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for x in row.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    for x in row.iter_mut() {
        *x /= sum;
    }
    max + sum.ln()
}

/// Loss at `w`; its gradient is written into `grad` (same shape as `w`).
/// `residuals` (N × C) is scratch space, kept by the caller across calls.
#[allow(clippy::cast_possible_truncation, reason = "c is a small regularisation constant; sums go back to f32")]
fn loss_and_grad(
    data: &Data<'_>,
    columns: &[Vec<(u32, f32)>],
    w: &Weights,
    c: f64,
    grad: &mut Weights,
    residuals: &mut Array2<f32>,
) -> f64 {
    let classes = data.classes;
    let cf = c as f32;
    // Pass 1: residuals G = P − Y per chunk of rows, with the chunk's loss
    // and column sums (the bias gradient).
    let flat = residuals.as_slice_mut().unwrap_or(&mut []);
    let parts: Vec<(f64, Vec<f64>)> = flat
        .par_chunks_mut(CHUNK * classes)
        .enumerate()
        .map(|(ci, out)| {
            let (a, b) = (ci * CHUNK, ci * CHUNK + out.len() / classes);
            let sparse = &data.sparse[a.min(data.sparse.len())..b.min(data.sparse.len())];
            w.logits_into(&data.dense.slice(s![a..b, ..]), sparse, out);
            let mut loss = 0.0_f64;
            let mut column_sums = vec![0.0_f64; classes];
            for (k, row) in out.chunks_mut(classes).enumerate() {
                let y = data.labels[a + k];
                let lse = softmax_in_place(row);
                let logit_y = lse + row[y].max(1e-30).ln();
                let weight = data.class_weight.get(y).copied().unwrap_or(1.0);
                loss += f64::from(weight * (lse - logit_y));
                row[y] -= 1.0;
                for (v, sum) in row.iter_mut().zip(&mut column_sums) {
                    *v *= weight;
                    *sum += f64::from(*v);
                }
            }
            (loss, column_sums)
        })
        .collect();
    let loss: f64 = parts.iter().map(|(l, _)| l).sum();
    for (k, b) in grad.bias.iter_mut().enumerate() {
        *b = cf * parts.iter().map(|(_, sums)| sums[k]).sum::<f64>() as f32;
    }
    let g = residuals.view();
    // Pass 2: gradients. Dense: c · Gᵀ X + W, in blocks of 16 classes.
    let dim = w.dense.ncols();
    if dim > 0
        && let (Some(out), Some(own)) = (grad.dense.as_slice_mut(), w.dense.as_slice())
    {
        out.par_chunks_mut(16 * dim).zip(own.par_chunks(16 * dim)).enumerate().for_each(|(bi, (out, own))| {
            let k = bi * 16;
            let rows = out.len() / dim;
            out.copy_from_slice(own);
            if let Ok(mut block) = ArrayViewMut2::from_shape((rows, dim), out) {
                general_mat_mul(cf, &g.slice(s![.., k..k + rows]).t(), &data.dense, 1.0, &mut block);
            }
        });
    }
    // Sparse: c · Gᵀ X + W column by column through a transposed index (no
    // per-thread copies).
    if let (Some(out), Some(own), Some(residuals)) = (grad.sparse_t.as_slice_mut(), w.sparse_t.as_slice(), g.as_slice())
    {
        out.par_chunks_mut(1024 * classes).zip(own.par_chunks(1024 * classes)).enumerate().for_each(
            |(ci, (block, own))| {
                for (r, (out, own)) in block.chunks_mut(classes).zip(own.chunks(classes)).enumerate() {
                    out.fill(0.0);
                    for &(i, v) in &columns[ci * 1024 + r] {
                        let start = i as usize * classes;
                        axpy(v, &residuals[start..start + classes], out);
                    }
                    for (o, &x) in out.iter_mut().zip(own) {
                        *o = cf * *o + x;
                    }
                }
            },
        );
    }
    let dense = w.dense.as_slice().unwrap_or(&[]);
    let sparse = w.sparse_t.as_slice().unwrap_or(&[]);
    c * loss + 0.5 * (dot(dense, dense) + dot(sparse, sparse))
}

/// `out += a · x` over equal-length slices (vectorised by the compiler).
fn axpy(a: f32, x: &[f32], out: &mut [f32]) {
    for (o, v) in out.iter_mut().zip(x) {
        *o += a * v;
    }
}

fn column_index(rows: &[SparseRow], width: usize) -> Vec<Vec<(u32, f32)>> {
    let mut cols = vec![Vec::new(); width];
    for (i, row) in rows.iter().enumerate() {
        for &(j, v) in row {
            if let Some(col) = cols.get_mut(j as usize) {
                col.push((u32::try_from(i).unwrap_or(u32::MAX), v));
            }
        }
    }
    cols
}

/// `Σ aᵢ·bᵢ` accumulated in f64, summed per fixed chunk and then in chunk
/// order.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    let parts: Vec<f64> = a
        .par_chunks(VEC_CHUNK)
        .zip(b.par_chunks(VEC_CHUNK))
        .map(|(a, b)| a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum())
        .collect();
    parts.iter().sum()
}

/// `out ← k · (out + a · x)`, returning `probe · out` from the same pass
/// (each step of the two-loop recursion needs the next step's dot product,
/// so fusing them halves the passes over 3M-value vectors).
#[allow(clippy::cast_possible_truncation, reason = "optimiser vectors are f32; arithmetic is f64")]
fn update_then_dot(out: &mut [f32], a: f64, x: &[f32], k: f64, probe: &[f32]) -> f64 {
    let parts: Vec<f64> = out
        .par_chunks_mut(VEC_CHUNK)
        .zip(x.par_chunks(VEC_CHUNK).zip(probe.par_chunks(VEC_CHUNK)))
        .map(|(o, (x, p))| {
            let mut sum = 0.0;
            for ((o, &x), &p) in o.iter_mut().zip(x).zip(p) {
                let v = k * (f64::from(*o) + a * f64::from(x));
                *o = v as f32;
                sum += v * f64::from(p);
            }
            sum
        })
        .collect();
    parts.iter().sum()
}

/// `out ← a + k · b`.
#[allow(clippy::cast_possible_truncation, reason = "optimiser vectors are f32; arithmetic is f64")]
fn combine(out: &mut [f32], a: &[f32], k: f64, b: &[f32]) {
    out.par_chunks_mut(VEC_CHUNK).zip(a.par_chunks(VEC_CHUNK).zip(b.par_chunks(VEC_CHUNK))).for_each(|(o, (a, b))| {
        for ((o, &a), &b) in o.iter_mut().zip(a).zip(b) {
            *o = (f64::from(a) + k * f64::from(b)) as f32;
        }
    });
}

/// One L-BFGS curvature pair with its `1 / yᵀs`.
struct Pair {
    s: Vec<f32>,
    y: Vec<f32>,
    rho: f64,
}

/// The L-BFGS direction `d = −H g` by the two-loop recursion over `history`
/// (oldest first), with every update fused with the next dot product.
/// Returns the slope `gᵀd`.
fn direction(history: &VecDeque<Pair>, g: &[f32], d: &mut [f32]) -> f64 {
    d.copy_from_slice(g);
    let Some(newest) = history.back() else {
        // Steepest descent, scaled to unit length.
        let norm = dot(g, g).sqrt().max(1e-12);
        return update_then_dot(d, 0.0, g, -1.0 / norm, g);
    };
    let k = history.len();
    let gamma = 1.0 / (newest.rho * dot(&newest.y, &newest.y));
    let mut alphas = vec![0.0; k];
    let mut probe = dot(&newest.s, d);
    for i in (0..k).rev() {
        let a = history[i].rho * probe;
        alphas[i] = a;
        // The last step of the first loop also applies H₀ = γI.
        let (scale, next) = if i > 0 { (1.0, &history[i - 1].s) } else { (gamma, &history[0].y) };
        probe = update_then_dot(d, -a, &history[i].y, scale, next);
    }
    for i in 0..k {
        let b = history[i].rho * probe;
        // The last step of the second loop negates q into d and yields gᵀd.
        let (scale, next) = if i + 1 < k { (1.0, history[i + 1].y.as_slice()) } else { (-1.0, g) };
        probe = update_then_dot(d, alphas[i] - b, &history[i].s, scale, next);
    }
    probe
}

/// Trains from `start` (zeros or a warm start). Returns the weights and the
/// iterations run.
///
/// The optimiser's vectors are f32 (the weights and gradients are f32
/// anyway) with f64 arithmetic; its passes run in parallel over fixed chunks
/// and reuse their buffers. With 150 classes × 20k features there are 3M
/// weights, and serial f64 passes with fresh allocations used to cost as
/// much as the loss evaluations themselves.
#[must_use]
pub fn train(data: &Data<'_>, start: &Weights, settings: Settings) -> (Weights, usize) {
    let columns = column_index(data.sparse, data.sparse_width);
    let n = start.len();
    let mut w = start.clone();
    let mut grad = start.clone();
    let (mut x, mut g) = (vec![0.0_f32; n], vec![0.0_f32; n]);
    start.write_flat(&mut x);
    let mut residuals = Array2::zeros((data.labels.len(), data.classes));
    let mut f = loss_and_grad(data, &columns, &w, settings.c, &mut grad, &mut residuals);
    grad.write_flat(&mut g);
    // Six pairs of two 3M-value f32 vectors: 144 MB at clinc150's size.
    let m = 6;
    let mut history: VecDeque<Pair> = VecDeque::with_capacity(m);
    // Buffers for the next pair, kept when a pair is rejected or evicted.
    let mut spare: Option<Pair> = None;
    let (mut d, mut x_new, mut g_new) = (vec![0.0_f32; n], vec![0.0_f32; n], vec![0.0_f32; n]);
    let mut iterations = 0;
    for iter in 0..settings.max_iter {
        iterations = iter + 1;
        let gmax = g.par_iter().fold(|| 0.0_f32, |a, &b| a.max(b.abs())).reduce(|| 0.0, f32::max);
        if f64::from(gmax) < settings.tol {
            break;
        }
        let mut slope = direction(&history, &g, &mut d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            history.clear();
            slope = direction(&history, &g, &mut d);
        }
        // Backtracking line search (Armijo).
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            combine(&mut x_new, &x, step, &d);
            w.read_flat(&x_new);
            let fc = loss_and_grad(data, &columns, &w, settings.c, &mut grad, &mut residuals);
            if fc <= f + 1e-4 * step * slope {
                accepted = Some(fc);
                break;
            }
            step *= 0.5;
        }
        let Some(f_new) = accepted else { break };
        grad.write_flat(&mut g_new);
        let mut pair = spare.take().unwrap_or_else(|| Pair { s: vec![0.0; n], y: vec![0.0; n], rho: 0.0 });
        combine(&mut pair.s, &x_new, -1.0, &x);
        combine(&mut pair.y, &g_new, -1.0, &g);
        let ys = dot(&pair.y, &pair.s);
        if ys > 1e-10 {
            pair.rho = 1.0 / ys;
            // The oldest pair's buffers become the next spare.
            if history.len() == m {
                spare = history.pop_front();
            }
            history.push_back(pair);
        } else {
            spare = Some(pair);
        }
        let converged = (f - f_new).abs() <= 1e-9 * f.abs().max(1.0);
        std::mem::swap(&mut x, &mut x_new);
        std::mem::swap(&mut g, &mut g_new);
        f = f_new;
        if converged {
            break;
        }
    }
    w.read_flat(&x);
    (w, iterations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_data_is_learned_deterministically() {
        // Two dense features, two classes, plus one sparse feature for a third class.
        let dense = ndarray::arr2(&[[1.0_f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.5, 0.5], [0.5, 0.5]]);
        let sparse: Vec<SparseRow> = vec![vec![], vec![], vec![], vec![], vec![(0, 1.0)], vec![(0, 1.0)]];
        let labels = [0, 0, 1, 1, 2, 2];
        let data = Data {
            dense: dense.view(),
            sparse: &sparse,
            sparse_width: 1,
            labels: &labels,
            classes: 3,
            class_weight: &[1.0, 1.0, 1.0],
        };
        let settings = Settings { c: 10.0, max_iter: 200, tol: 1e-6 };
        let (w, _) = train(&data, &Weights::zeros(3, 2, 1), settings);
        let z = w.logits(&dense.view(), &sparse);
        for (i, &y) in labels.iter().enumerate() {
            let best = z.row(i).iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(k, _)| k);
            assert_eq!(best, Some(y), "row {i}");
        }
        let (again, _) = train(&data, &Weights::zeros(3, 2, 1), settings);
        assert_eq!(w, again, "bit-identical");
    }

    #[test]
    fn fused_two_loop_recursion_matches_the_textbook_one() {
        // Deterministic pseudo-random vectors spanning several parallel chunks.
        let n = VEC_CHUNK * 2 + 17;
        let mut seed = 7_u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            f32::from(u16::try_from(seed >> 16).unwrap_or(0)) / 65_536.0 - 0.5
        };
        let g: Vec<f32> = (0..n).map(|_| next()).collect();
        let mut history = VecDeque::new();
        for _ in 0..3 {
            let s: Vec<f32> = (0..n).map(|_| next()).collect();
            // y close to s keeps yᵀs positive, as for a convex loss.
            let y: Vec<f32> = s.iter().map(|v| v + 0.1 * next()).collect();
            let rho = 1.0 / dot(&y, &s);
            history.push_back(Pair { s, y, rho });
        }
        let mut d = vec![0.0; n];
        let slope = direction(&history, &g, &mut d);

        let mut q: Vec<f64> = g.iter().map(|&v| f64::from(v)).collect();
        let dot64 = |a: &[f32], b: &[f64]| a.iter().zip(b).map(|(&x, &y)| f64::from(x) * y).sum::<f64>();
        let mut alphas = Vec::new();
        for p in history.iter().rev() {
            let a = p.rho * dot64(&p.s, &q);
            q.iter_mut().zip(&p.y).for_each(|(q, &y)| *q -= a * f64::from(y));
            alphas.push(a);
        }
        let gamma = history.back().map_or(1.0, |p| 1.0 / (p.rho * dot(&p.y, &p.y)));
        for q in &mut q {
            *q *= gamma;
        }
        for (p, a) in history.iter().zip(alphas.into_iter().rev()) {
            let b = p.rho * dot64(&p.y, &q);
            q.iter_mut().zip(&p.s).for_each(|(q, &s)| *q += (a - b) * f64::from(s));
        }
        let expected: Vec<f64> = q.iter().map(|v| -v).collect();
        let scale = expected.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        for (got, want) in d.iter().zip(&expected) {
            assert!((f64::from(*got) - want).abs() <= 1e-5 * scale, "{got} vs {want}");
        }
        let expected_slope = dot64(&g, &expected);
        assert!((slope - expected_slope).abs() <= 1e-4 * expected_slope.abs(), "{slope} vs {expected_slope}");
        assert!(slope < 0.0, "a descent direction");

        // Without history: unit-length steepest descent.
        let slope = direction(&VecDeque::new(), &g, &mut d);
        let norm = dot(&g, &g).sqrt();
        assert!((slope + norm).abs() <= 1e-4 * norm, "{slope} vs {}", -norm);
    }
}
