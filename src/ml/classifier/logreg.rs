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

use ndarray::{Array2, ArrayView2, Axis, s};
use rayon::prelude::*;

use super::features::SparseRow;

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

    fn to_flat(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(self.len());
        v.extend(self.dense.iter().map(|&x| f64::from(x)));
        v.extend(self.sparse_t.iter().map(|&x| f64::from(x)));
        v.extend(self.bias.iter().map(|&x| f64::from(x)));
        v
    }

    #[allow(clippy::cast_possible_truncation, reason = "weights are stored as f32")]
    fn from_flat(flat: &[f64], classes: usize, dense: usize, sparse: usize) -> Weights {
        let (a, rest) = flat.split_at(classes * dense);
        let (b, c) = rest.split_at(sparse * classes);
        Weights {
            dense: Array2::from_shape_vec((classes, dense), a.iter().map(|&x| x as f32).collect())
                .unwrap_or_else(|_| Array2::zeros((classes, dense))),
            sparse_t: Array2::from_shape_vec((sparse, classes), b.iter().map(|&x| x as f32).collect())
                .unwrap_or_else(|_| Array2::zeros((sparse, classes))),
            bias: c.iter().map(|&x| x as f32).collect(),
        }
    }

    /// Logits of rows (N × C).
    #[must_use]
    pub fn logits(&self, dense: &ArrayView2<'_, f32>, sparse: &[SparseRow]) -> Array2<f32> {
        let mut z = if self.dense.ncols() > 0 {
            dense.dot(&self.dense.t())
        } else {
            Array2::zeros((sparse.len(), self.bias.len()))
        };
        for (i, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
            for (c, b) in row.iter_mut().zip(&self.bias) {
                *c += b;
            }
            if let (Some(features), Some(out), Some(table)) =
                (sparse.get(i), row.as_slice_mut(), self.sparse_t.as_slice())
            {
                let classes = out.len();
                for &(j, v) in features {
                    if let Some(w) = table.get(j as usize * classes..(j as usize + 1) * classes) {
                        axpy(v, w, out);
                    }
                }
            }
        }
        z
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

/// Loss and gradient at `w`.
fn loss_and_grad(data: &Data<'_>, columns: &[Vec<(u32, f32)>], w: &Weights, c: f64) -> (f64, Weights) {
    let n = data.labels.len();
    let classes = data.classes;
    // Pass 1: residuals G = P − Y per chunk of rows, and the loss.
    let chunks: Vec<(usize, usize)> = (0..n).step_by(CHUNK).map(|a| (a, (a + CHUNK).min(n))).collect();
    let parts: Vec<(f64, Array2<f32>)> = chunks
        .par_iter()
        .map(|&(a, b)| {
            let mut z = w.logits(
                &data.dense.slice(s![a..b, ..]),
                &data.sparse[a.min(data.sparse.len())..b.min(data.sparse.len())],
            );
            let mut loss = 0.0_f64;
            for (k, mut row) in z.axis_iter_mut(Axis(0)).enumerate() {
                let y = data.labels[a + k];
                let slice = row.as_slice_mut().unwrap_or(&mut []);
                let lse = softmax_in_place(slice);
                let logit_y = lse + slice[y].max(1e-30).ln();
                let weight = data.class_weight.get(y).copied().unwrap_or(1.0);
                loss += f64::from(weight * (lse - logit_y));
                slice[y] -= 1.0;
                if weight != 1.0 {
                    for v in slice.iter_mut() {
                        *v *= weight;
                    }
                }
            }
            (loss, z)
        })
        .collect();
    let loss: f64 = parts.iter().map(|(l, _)| l).sum();
    let mut g = Array2::<f32>::zeros((n, classes));
    for (&(a, b), (_, part)) in chunks.iter().zip(&parts) {
        g.slice_mut(s![a..b, ..]).assign(part);
    }
    drop(parts);
    #[allow(clippy::cast_possible_truncation, reason = "c is a small regularisation constant")]
    let cf = c as f32;
    // Pass 2: gradients. Dense: c · Gᵀ X + W, split by class rows.
    let mut grad = Weights::zeros(classes, w.dense.ncols(), w.sparse_t.nrows());
    if w.dense.ncols() > 0 {
        let gt = g.t();
        let rows: Vec<Array2<f32>> = (0..classes)
            .step_by(16)
            .collect::<Vec<_>>()
            .par_iter()
            .map(|&k| {
                let end = (k + 16).min(classes);
                gt.slice(s![k..end, ..]).dot(&data.dense)
            })
            .collect();
        for (idx, block) in rows.into_iter().enumerate() {
            let k = idx * 16;
            grad.dense.slice_mut(s![k..k + block.nrows(), ..]).assign(&block);
        }
        grad.dense.mapv_inplace(|x| x * cf);
        grad.dense.scaled_add(1.0, &w.dense);
    }
    // Sparse: column by column through a transposed index (no per-thread copies).
    if w.sparse_t.nrows() > 0 {
        if let (Some(flat), Some(residuals)) = (grad.sparse_t.as_slice_mut(), g.as_slice()) {
            flat.par_chunks_mut(1024 * classes).enumerate().for_each(|(ci, block)| {
                for (r, out) in block.chunks_mut(classes).enumerate() {
                    for &(i, v) in &columns[ci * 1024 + r] {
                        let start = i as usize * classes;
                        axpy(v, &residuals[start..start + classes], out);
                    }
                }
            });
        }
        grad.sparse_t.mapv_inplace(|x| x * cf);
        grad.sparse_t.scaled_add(1.0, &w.sparse_t);
    }
    for (k, b) in grad.bias.iter_mut().enumerate() {
        *b = cf * g.column(k).sum();
    }
    let reg = 0.5
        * (w.dense.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>()
            + w.sparse_t.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>());
    (c * loss + reg, grad)
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

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn dot32(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum()
}

fn dot_mixed(a: &[f32], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum()
}

/// Trains from `start` (zeros or a warm start). Returns the weights and the
/// iterations run.
#[must_use]
pub fn train(data: &Data<'_>, start: &Weights, settings: Settings) -> (Weights, usize) {
    let (classes, dim, width) = (data.classes, data.dense.ncols(), data.sparse_width);
    let mut x = start.to_flat();
    let columns = column_index(data.sparse, data.sparse_width);
    let (mut f, g_w) = loss_and_grad(data, &columns, start, settings.c);
    let mut g = g_w.to_flat();
    // History kept in f32: with 150 classes × 30k features one pair is 36 MB.
    let m = 6;
    let mut s_hist: Vec<Vec<f32>> = Vec::new();
    let mut y_hist: Vec<Vec<f32>> = Vec::new();
    let mut iterations = 0;
    for iter in 0..settings.max_iter {
        iterations = iter + 1;
        let gmax = g.iter().fold(0.0_f64, |a, &b| a.max(b.abs()));
        if gmax < settings.tol {
            break;
        }
        // Two-loop recursion: d = −H g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let rho = 1.0 / dot32(y, s);
            let a = rho * dot_mixed(s, &q);
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi -= a * f64::from(*yi);
            }
            alphas.push((a, rho));
        }
        let gamma = match (s_hist.last(), y_hist.last()) {
            (Some(s), Some(y)) => dot32(s, y) / dot32(y, y),
            _ => 1.0 / g.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12),
        };
        for v in &mut q {
            *v *= gamma;
        }
        for ((s, y), (a, rho)) in s_hist.iter().zip(&y_hist).zip(alphas.into_iter().rev()) {
            let b = rho * dot_mixed(y, &q);
            for (qi, si) in q.iter_mut().zip(s) {
                *qi += (a - b) * f64::from(*si);
            }
        }
        let mut d: Vec<f64> = q.into_iter().map(|v| -v).collect();
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            s_hist.clear();
            y_hist.clear();
            let scale = 1.0 / g.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            d = g.iter().map(|v| -v * scale).collect();
            slope = dot(&g, &d);
        }
        // Backtracking line search (Armijo).
        let mut step = 1.0;
        let mut accepted = None;
        for _ in 0..30 {
            let candidate: Vec<f64> = x.iter().zip(&d).map(|(xi, di)| xi + step * di).collect();
            let w = Weights::from_flat(&candidate, classes, dim, width);
            let (fc, gc) = loss_and_grad(data, &columns, &w, settings.c);
            if fc <= f + 1e-4 * step * slope {
                accepted = Some((candidate, fc, gc.to_flat()));
                break;
            }
            step *= 0.5;
        }
        let Some((x_new, f_new, g_new)) = accepted else { break };
        #[allow(clippy::cast_possible_truncation, reason = "curvature pairs are stored in f32")]
        let s: Vec<f32> = x_new.iter().zip(&x).map(|(a, b)| (a - b) as f32).collect();
        #[allow(clippy::cast_possible_truncation, reason = "curvature pairs are stored in f32")]
        let y: Vec<f32> = g_new.iter().zip(&g).map(|(a, b)| (a - b) as f32).collect();
        if dot32(&s, &y) > 1e-10 {
            if s_hist.len() == m {
                s_hist.remove(0);
                y_hist.remove(0);
            }
            s_hist.push(s);
            y_hist.push(y);
        }
        let converged = (f - f_new).abs() <= 1e-9 * f.abs().max(1.0);
        x = x_new;
        f = f_new;
        g = g_new;
        if converged {
            break;
        }
    }
    (Weights::from_flat(&x, classes, dim, width), iterations)
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
}
