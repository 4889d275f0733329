//! The BG/NBD model of Fader, Hardie and Lee (2005), "Counting Your Customers
//! the Easy Way", shared by the `bgnbd_*` functions, `churn_probability` and
//! `clv`. Formulas follow the paper and `lifetimes` 0.11.3
//! (`BetaGeoFitter`), whose results the tests reproduce.
//!
//! A customer's history is (x, t_x, T): x repeat purchases, the last at t_x,
//! observed for T time units since the first purchase.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::DataType;
use statrs::function::gamma::{digamma, ln_gamma};
use wide::f64x4;

use crate::special::{hyp2f1, ln_beta, trigamma};

/// Fields of the struct `bgnbd_fit` returns and the other functions read.
pub const MODEL_NAME: &str = "bgnbd_fit";
pub const PARAMETERS: [&str; 4] = ["r", "alpha", "a", "b"];

pub fn model_fields() -> Vec<(&'static str, DataType)> {
    vec![
        ("r", DataType::Float64),
        ("alpha", DataType::Float64),
        ("a", DataType::Float64),
        ("b", DataType::Float64),
        ("log_likelihood", DataType::Float64),
        ("customers", DataType::Int64),
        ("iterations", DataType::Int64),
        ("converged", DataType::Boolean),
    ]
}

/// The four BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

impl BgNbd {
    /// P(alive | x, t_x, T), eq. (10) of the 2005 note on P(alive): 1 for a
    /// customer with no repeat purchase (the model's dropout happens only
    /// right after a purchase).
    #[inline]
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let log_odds = (self.a / (self.b + x - 1.0)).ln()
            + (self.r + x) * ((self.alpha + t) / (self.alpha + t_x)).ln();
        1.0 / (1.0 + log_odds.exp())
    }

    /// E[Y(t) | x, t_x, T]: expected purchases in the next `t` time units,
    /// eq. (10) of the paper.
    pub fn conditional_expected_purchases(&self, t: f64, x: f64, t_x: f64, big_t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        if t == 0.0 {
            return 0.0;
        }
        let z = t / (alpha + big_t + t);
        // Euler's transformation of 2F1(r+x, b+x; a+b+x-1; z) times
        // ((alpha+T)/(alpha+T+t))^(r+x) leaves (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z),
        // a series with small parameters that converges for every x.
        let hyp = hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z);
        let second = 1.0 - (1.0 - z).powf(a - 1.0) * hyp;
        let first = (a + b + x - 1.0) / (a - 1.0);
        let denominator = if x > 0.0 {
            1.0 + a / (b + x - 1.0) * ((alpha + big_t) / (alpha + t_x)).powf(r + x)
        } else {
            1.0
        };
        first * second / denominator
    }

    /// E[X(t)] for a customer just acquired, eq. (9) of the paper.
    pub fn expected_purchases_new_customer(&self, t: f64) -> f64 {
        self.conditional_expected_purchases(t, 0.0, 0.0, 0.0)
    }

    /// P(X(t) = n) for a customer just acquired, eq. (8) of the paper.
    pub fn probability_of_n_purchases(&self, t: f64, n: u64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        if t == 0.0 {
            return if n == 0 { 1.0 } else { 0.0 };
        }
        let nf = n as f64;
        let ln_share_alive = (alpha / (alpha + t)).ln();
        let z = t / (alpha + t);
        let first = (ln_beta(a, b + nf) - ln_beta(a, b) + ln_gamma(r + nf)
            - ln_gamma(r)
            - ln_gamma(nf + 1.0)
            + r * ln_share_alive
            + nf * z.ln())
        .exp();
        if n == 0 {
            return first;
        }
        // sum_{j<n} Gamma(r+j) / (Gamma(r) j!) z^j, term by term.
        let (mut term, mut sum) = (1.0, 1.0);
        for j in 1..n {
            let j = j as f64;
            term *= (r + j - 1.0) / j * z;
            sum += term;
        }
        let second = (ln_beta(a + 1.0, b + nf - 1.0) - ln_beta(a, b)).exp()
            * (1.0 - (r * ln_share_alive).exp() * sum);
        first + second
    }
}

/// Distinct frequencies whose ln(b + x - 1) [`PAliveKernel`] precomputes.
const LN_TABLE_SIZE: usize = 64;

/// [`BgNbd::p_alive`] for many customers under one model: ln a and
/// ln(b + x - 1) for small x are computed once, leaving one logarithm and
/// one exponential per customer.
#[derive(Debug, Clone)]
pub struct PAliveKernel {
    model: BgNbd,
    ln_a: f64,
    ln_b_x: [f64; LN_TABLE_SIZE],
}

impl PAliveKernel {
    pub fn new(model: BgNbd) -> Self {
        Self {
            model,
            ln_a: model.a.ln(),
            ln_b_x: std::array::from_fn(|x| (model.b + x as f64 - 1.0).ln()),
        }
    }

    #[inline]
    pub fn p_alive(&self, x: f64, t_x: f64, t: f64) -> f64 {
        if x == 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, b, .. } = self.model;
        let ln_b_x = if x < LN_TABLE_SIZE as f64 {
            self.ln_b_x[x as usize]
        } else {
            (b + x - 1.0).ln()
        };
        let log_odds = self.ln_a - ln_b_x + (r + x) * ((alpha + t) / (alpha + t_x)).ln();
        1.0 / (1.0 + log_odds.exp())
    }
}

/// Purchase histories, one entry per customer, as the likelihood reads them.
#[derive(Debug, Default)]
pub struct Histories {
    pub x: Vec<f64>,
    pub t_x: Vec<f64>,
    pub t: Vec<f64>,
}

/// The log-likelihood with its gradient and Hessian in (r, alpha, a, b).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LogLikelihood {
    pub value: f64,
    pub gradient: [f64; 4],
    pub hessian: [[f64; 4]; 4],
}

impl LogLikelihood {
    fn add(&mut self, other: &Self) {
        self.value += other.value;
        for k in 0..4 {
            self.gradient[k] += other.gradient[k];
            for l in 0..4 {
                self.hessian[k][l] += other.hessian[k][l];
            }
        }
    }
}

impl Histories {
    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// `customers` histories drawn from `model`, each observed for a time
    /// uniform in [1, 39): the generative story of the paper's section 2
    /// (purchase rate Gamma(r, alpha), dropout probability Beta(a, b) after
    /// each purchase). For benchmarks and tests; ChaCha8 seeded with `seed`.
    pub fn simulate(model: &BgNbd, customers: usize, seed: u64) -> Self {
        use rand::{Rng, SeedableRng};
        use rand_distr::{Beta, Distribution, Exp1, Gamma};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut h = Self::default();
        let (Ok(rate), Ok(dropout)) = (
            Gamma::new(model.r, 1.0 / model.alpha),
            Beta::new(model.a, model.b),
        ) else {
            return h;
        };
        for _ in 0..customers {
            let (lambda, p): (f64, f64) = (rate.sample(&mut rng), dropout.sample(&mut rng));
            let t_end = rng.random_range(1.0..39.0);
            let (mut x, mut t_x, mut now) = (0.0, 0.0, 0.0);
            loop {
                let gap: f64 = Exp1.sample(&mut rng);
                now += gap / lambda.max(1e-12);
                if now > t_end {
                    break;
                }
                x += 1.0;
                t_x = now;
                if rng.random_bool(p) {
                    break;
                }
            }
            h.x.push(x);
            h.t_x.push(t_x);
            h.t.push(t_end);
        }
        h
    }

    /// Σ log-likelihood at `p`, eq. (6) of the paper, and its gradient.
    pub fn log_likelihood(&self, p: &BgNbd, gradient: &mut [f64; 4]) -> f64 {
        let ll = self.log_likelihood_with_counts(&self.frequency_counts(), p);
        *gradient = ll.gradient;
        ll.value
    }

    /// (x, number of customers with x) for every distinct x: the terms that
    /// depend only on x are computed once per distinct x, and the counts once
    /// per fit.
    pub fn frequency_counts(&self) -> Vec<(f64, f64)> {
        let largest = self.x.iter().copied().fold(0.0, f64::max);
        if largest <= X_TABLE_LIMIT as f64 {
            let mut counts = vec![0.0; largest as usize + 1];
            for &x in &self.x {
                counts[x as usize] += 1.0;
            }
            return counts
                .into_iter()
                .enumerate()
                .filter(|(_, n)| *n > 0.0)
                .map(|(x, n)| (x as f64, n))
                .collect();
        }
        let mut counts: BTreeMap<u64, f64> = BTreeMap::new();
        for &x in &self.x {
            *counts.entry(x as u64).or_default() += 1.0;
        }
        counts.into_iter().map(|(x, n)| (x as f64, n)).collect()
    }

    /// Every customer's log-likelihood, written as
    /// K_x - (r+x) ln(alpha+T) + [x>0] ln(1 + e^w),
    /// w = ln a - ln(b+x-1) + (r+x) (ln(alpha+T) - ln(alpha+t_x)),
    /// summed, with first and second derivatives.
    pub fn log_likelihood_with_counts(&self, counts: &[(f64, f64)], p: &BgNbd) -> LogLikelihood {
        let BgNbd { r, alpha, a, b } = *p;
        let mut total = LogLikelihood::default();
        // K_x = ln B(a, b+x) - ln B(a, b) + ln Γ(r+x) - ln Γ(r) + r ln alpha.
        let (psi_r, psi_b, psi_ab) = (digamma(r), digamma(b), digamma(a + b));
        let (tri_r, tri_b, tri_ab) = (trigamma(r), trigamma(b), trigamma(a + b));
        let ln_alpha = alpha.ln();
        for &(x, count) in counts {
            let k =
                ln_beta(a, b + x) - ln_beta(a, b) + ln_gamma(r + x) - ln_gamma(r) + r * ln_alpha;
            let (psi_abx, tri_abx) = (digamma(a + b + x), trigamma(a + b + x));
            total.value += count * k;
            let g = &mut total.gradient;
            g[0] += count * (digamma(r + x) - psi_r + ln_alpha);
            g[1] += count * r / alpha;
            g[2] += count * (psi_ab - psi_abx);
            g[3] += count * (digamma(b + x) - psi_abx - psi_b + psi_ab);
            let h = &mut total.hessian;
            h[0][0] += count * (trigamma(r + x) - tri_r);
            h[0][1] += count / alpha;
            h[1][1] -= count * r / (alpha * alpha);
            h[2][2] += count * (tri_ab - tri_abx);
            h[2][3] += count * (tri_ab - tri_abx);
            h[3][3] += count * (trigamma(b + x) - tri_abx - tri_b + tri_ab);
        }
        let tables = XTables::new(counts, b);
        total.add(&per_customer_terms(self, p, tables.as_ref()));
        for k in 0..4 {
            for l in 0..k {
                total.hessian[k][l] = total.hessian[l][k];
            }
        }
        total
    }
}

/// Fewest customers worth a thread of their own.
const CUSTOMERS_PER_THREAD: usize = 50_000;

/// The per-customer part of the log-likelihood, split over the available
/// cores (this loop is the whole cost of a fit). A repeat buyer costs
/// several times a non-buyer, so when the histories come with non-buyers
/// first (as `fit` orders them) each thread takes an equal share of each;
/// any order gives the same sums. Fills the upper triangle of the Hessian.
fn per_customer_terms(h: &Histories, p: &BgNbd, tables: Option<&XTables>) -> LogLikelihood {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = cores.min(h.len() / CUSTOMERS_PER_THREAD).max(1);
    if threads == 1 {
        return per_customer_range(&h.x, &h.t_x, &h.t, p, tables);
    }
    let split = h.x.partition_point(|v| *v <= 0.0);
    let share = |from: usize, to: usize, thread: usize| {
        let len = to - from;
        from + len * thread / threads..from + len * (thread + 1) / threads
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let ranges = [share(0, split, thread), share(split, h.len(), thread)];
                scope.spawn(move || {
                    let mut total = LogLikelihood::default();
                    for range in ranges {
                        let (x, t_x, t) = (&h.x[range.clone()], &h.t_x[range.clone()], &h.t[range]);
                        total.add(&per_customer_range(x, t_x, t, p, tables));
                    }
                    total
                })
            })
            .collect();
        let mut total = LogLikelihood::default();
        for handle in handles {
            // A panic in a worker is a bug in this file; surface it as NaN
            // (the fit then fails with a clear error) rather than unwinding.
            let part = handle.join().unwrap_or(LogLikelihood {
                value: f64::NAN,
                ..LogLikelihood::default()
            });
            total.add(&part);
        }
        total
    })
}

/// Frequencies at or below this index tables of per-x terms; larger ones
/// (never seen in practice) are computed per customer.
const X_TABLE_LIMIT: usize = 1 << 16;

/// 1/(b+x-1) and ln(b+x-1) for every x up to the largest frequency: one
/// logarithm per distinct x instead of one per repeat buyer.
struct XTables {
    inv_b: Vec<f64>,
    ln_b: Vec<f64>,
}

impl XTables {
    fn new(counts: &[(f64, f64)], b: f64) -> Option<Self> {
        let largest = counts.last().map_or(0.0, |(x, _)| *x);
        if largest > X_TABLE_LIMIT as f64 {
            return None;
        }
        let (inv_b, ln_b) = (0..=largest as usize)
            .map(|x| {
                let v = b + x as f64 - 1.0;
                (1.0 / v, v.ln())
            })
            .unzip();
        Some(Self { inv_b, ln_b })
    }

    /// (1/(b+x-1), ln(b+x-1)) for a repeat buyer's x.
    #[inline]
    fn get(tables: Option<&Self>, b: f64, x: f64) -> (f64, f64) {
        match tables.and_then(|t| Some((*t.inv_b.get(x as usize)?, *t.ln_b.get(x as usize)?))) {
            Some(v) => v,
            None => {
                let v = b + x - 1.0;
                (1.0 / v, v.ln())
            }
        }
    }
}

/// Customers per SIMD step of the likelihood.
const LANES: usize = 4;

/// Per-lane running sums of the per-customer terms. Non-buyers (x = 0) need
/// only the three sums over alpha + T; repeat buyers need the rest.
#[derive(Default)]
struct LaneSums {
    ln_t: f64x4,
    inv_t: f64x4,
    inv_t2: f64x4,
    // Repeat buyers: Σ -(r+x) ln(alpha+T) + ln(1 + e^w) and its derivatives.
    value: f64x4,
    g: [f64x4; 4],
    q: [f64x4; 10],
    h_ra: f64x4,
    h_aa: f64x4,
    s_b2: f64x4,
}

/// The per-customer part of the log-likelihood over one range of customers,
/// vectorized four customers at a time (the transcendental functions are
/// most of a fit's time). Runs of non-buyers and of repeat buyers take
/// separate loops; `fit` orders customers so that each range has one run of
/// each.
#[inline]
fn per_customer_range(
    x: &[f64],
    t_x: &[f64],
    t: &[f64],
    p: &BgNbd,
    tables: Option<&XTables>,
) -> LogLikelihood {
    let mut sums = LaneSums::default();
    let mut start = 0;
    while start < x.len() {
        let buyer = x[start] > 0.0;
        let end = x[start..]
            .iter()
            .position(|&v| (v > 0.0) != buyer)
            .map_or(x.len(), |n| start + n);
        if buyer {
            repeat_buyers(
                &x[start..end],
                &t_x[start..end],
                &t[start..end],
                p,
                tables,
                &mut sums,
            );
        } else {
            non_buyers(&t[start..end], p.alpha, &mut sums);
        }
        start = end;
    }
    finish_range(&sums, p)
}

/// Four lanes from `values` at `i..`, padded with `pad` past the end.
#[inline]
fn lanes(values: &[f64], i: usize, pad: f64) -> f64x4 {
    let mut out = [pad; LANES];
    for (slot, v) in out.iter_mut().zip(&values[i..]) {
        *slot = *v;
    }
    f64x4::from(out)
}

/// 1 for the lanes that hold a customer, 0 for the padding of the last step.
#[inline]
fn live_lanes(len: usize, i: usize) -> f64x4 {
    let mut out = [0.0; LANES];
    for slot in out.iter_mut().take(len - i) {
        *slot = 1.0;
    }
    f64x4::from(out)
}

fn non_buyers(t: &[f64], alpha: f64, sums: &mut LaneSums) {
    let alpha4 = f64x4::splat(alpha);
    for i in (0..t.len()).step_by(LANES) {
        // Padding lanes get T = 0 (finite terms) and weight 0.
        let weight = live_lanes(t.len(), i);
        let big_t = alpha4 + lanes(t, i, 0.0);
        let e_t = weight / big_t;
        sums.ln_t += weight * big_t.ln();
        sums.inv_t += e_t;
        sums.inv_t2 += e_t * e_t;
    }
}

fn repeat_buyers(
    x: &[f64],
    t_x: &[f64],
    t: &[f64],
    p: &BgNbd,
    tables: Option<&XTables>,
    sums: &mut LaneSums,
) {
    let BgNbd { r, alpha, a, b } = *p;
    let (r4, alpha4, ln_a4, one) = (
        f64x4::splat(r),
        f64x4::splat(alpha),
        f64x4::splat(a.ln()),
        f64x4::ONE,
    );
    for i in (0..x.len()).step_by(LANES) {
        let weight = live_lanes(x.len(), i);
        // Padding lanes: x = 1, t_x = 0, T = 1 keep every term finite.
        let x4 = lanes(x, i, 1.0);
        let (mut inv_b, mut ln_b) = ([0.0; LANES], [0.0; LANES]);
        for (lane, v) in x4.to_array().into_iter().enumerate() {
            (inv_b[lane], ln_b[lane]) = XTables::get(tables, b, v);
        }
        let (inv_b, ln_b) = (f64x4::from(inv_b), f64x4::from(ln_b));
        let u = r4 + x4;
        let (big_t, big_tx) = (alpha4 + lanes(t, i, 1.0), alpha4 + lanes(t_x, i, 0.0));
        let (e_t, e_x) = (one / big_t, one / big_tx);
        let ln_t = big_t.ln();
        let d = ln_t - big_tx.ln();
        let log_w = ln_a4 - ln_b + u * d;
        // ln(1 + e^w), s = e^w / (1 + e^w) and s(1-s), without overflow:
        // e = e^-|w| is in (0, 1].
        let e = (-log_w.abs()).exp();
        let positive = log_w.simd_ge(f64x4::ZERO);
        let softplus = log_w.max(f64x4::ZERO) + (one + e).ln();
        let s = positive.select(one, e) / (one + e);
        let (s, s1) = (weight * s, weight * s * (one - s));
        sums.value += weight * (softplus - u * ln_t);
        // dw/d(r, alpha, a, b); dw/da = 1/a is applied by finish_range.
        let dw = [d, u * (e_t - e_x), one, f64x4::ZERO - inv_b];
        sums.g[0] += s * dw[0] - weight * ln_t;
        sums.g[1] += s * dw[1] - weight * u * e_t;
        sums.g[2] += s;
        sums.g[3] += s * dw[3];
        let mut cell = 0;
        for k in 0..4 {
            for l in k..4 {
                sums.q[cell] += s1 * dw[k] * dw[l];
                cell += 1;
            }
        }
        sums.h_ra += s * (e_t - e_x) - weight * e_t;
        sums.h_aa += s * u * (e_x * e_x - e_t * e_t) + weight * u * e_t * e_t;
        sums.s_b2 += s * inv_b * inv_b;
    }
}

/// The lane sums as a log-likelihood (upper triangle of the Hessian).
fn finish_range(sums: &LaneSums, p: &BgNbd) -> LogLikelihood {
    let BgNbd { r, a, .. } = *p;
    let (ln_t, inv_t, inv_t2) = (
        sums.ln_t.reduce_add(),
        sums.inv_t.reduce_add(),
        sums.inv_t2.reduce_add(),
    );
    let mut g = sums.g.map(f64x4::reduce_add);
    // Non-buyers: -r ln(alpha+T), with u = r.
    let value = sums.value.reduce_add() - r * ln_t;
    g[0] -= ln_t;
    g[1] -= r * inv_t;
    let s_a2 = g[2];
    g[2] /= a;
    let mut h = [[0.0; 4]; 4];
    // The upper triangle row by row, as repeat_buyers fills q; the a row
    // and column undo the unit dw/da used there.
    let unit = |k: usize| if k == 2 { 1.0 / a } else { 1.0 };
    let mut cells = sums.q.iter();
    for (k, row) in h.iter_mut().enumerate() {
        for (l, entry) in row.iter_mut().enumerate().skip(k) {
            *entry = cells.next().map_or(0.0, |q| q.reduce_add()) * unit(k) * unit(l);
        }
    }
    h[0][1] += sums.h_ra.reduce_add() - inv_t;
    h[1][1] += sums.h_aa.reduce_add() + r * inv_t2;
    h[2][2] -= s_a2 / (a * a);
    h[3][3] += sums.s_b2.reduce_add();
    LogLikelihood {
        value,
        gradient: g,
        hessian: h,
    }
}

/// Coercions for `f(model, numbers...)`: the model struct as is, the rest to
/// Float64; plan errors name the function and the argument.
pub fn coerce_model_args(
    function: &str,
    names: &[&str],
    arg_types: &[DataType],
) -> datafusion::common::Result<Vec<DataType>> {
    crate::model::coerce_model_and_numbers(function, names, MODEL_NAME, &PARAMETERS, arg_types)
}

/// The parameter columns (r, alpha, a, b) of a model column.
pub fn parameter_columns(
    function: &str,
    model: &datafusion::arrow::array::ArrayRef,
) -> datafusion::common::Result<[datafusion::arrow::array::Float64Array; 4]> {
    let [r, alpha, a, b] = PARAMETERS;
    Ok([
        crate::model::model_field_f64(function, model, r)?,
        crate::model::model_field_f64(function, model, alpha)?,
        crate::model::model_field_f64(function, model, a)?,
        crate::model::model_field_f64(function, model, b)?,
    ])
}

/// A model whose parameters are not all positive cannot have come from
/// `bgnbd_fit`; say so instead of returning NaN.
#[inline]
pub fn checked_params(function: &str, v: [f64; 4]) -> datafusion::common::Result<BgNbd> {
    if v.iter().all(|p| *p > 0.0 && p.is_finite()) {
        Ok(BgNbd {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        })
    } else {
        datafusion::common::exec_err!(
            "{function}: argument 'model' must have positive parameters, got r={}, alpha={}, a={}, b={}",
            v[0],
            v[1],
            v[2],
            v[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lifetimes 0.11.3's estimates on the CDNOW calibration summary
    /// (`../shared/data/cdnow/reference.json`), and its predictions for
    /// customer 1 (x = 2, t_x = 30.43, T = 38.86).
    const LIFETIMES: BgNbd = BgNbd {
        r: 0.2425929282798216,
        alpha: 4.413532265271803,
        a: 0.7928859664405851,
        b: 2.42575238262545,
    };

    fn close(actual: f64, expected: f64, relative: f64) -> bool {
        (actual - expected).abs() <= relative * expected.abs()
    }

    #[test]
    fn closed_forms_match_lifetimes_at_its_parameters() {
        let p = LIFETIMES;
        assert!(close(
            p.p_alive(2.0, 30.43, 38.86),
            0.7266091367990611,
            1e-12
        ));
        assert!(close(p.p_alive(1.0, 1.71, 38.86), 0.212227388072203, 1e-12));
        assert_eq!(p.p_alive(0.0, 0.0, 27.0), 1.0);
        let e = p.conditional_expected_purchases(39.0, 2.0, 30.43, 38.86);
        assert!(close(e, 1.2259104241744259, 1e-10), "{e}");
        let e = p.conditional_expected_purchases(1.0, 4.0, 24.43, 33.57);
        assert!(close(e, 0.0754230, 1e-6), "{e}");
        let e = p.conditional_expected_purchases(39.0, 0.0, 0.0, 27.0);
        assert!(close(e, 0.258978, 1e-5), "{e}");
        let e = p.expected_purchases_new_customer(39.0);
        assert!(close(e, 1.195016228446211, 1e-10), "{e}");
    }

    #[test]
    fn the_p_alive_kernel_matches_the_closed_form() {
        let kernel = PAliveKernel::new(LIFETIMES);
        for (x, t_x, t) in [
            (0.0, 0.0, 27.0),
            (1.0, 1.71, 38.86),
            (2.0, 30.43, 38.86),
            (63.0, 30.0, 38.0),
            (64.0, 30.0, 38.0),
            (500.0, 38.0, 38.5),
        ] {
            let (fast, exact) = (kernel.p_alive(x, t_x, t), LIFETIMES.p_alive(x, t_x, t));
            assert!(
                close(fast, exact, 1e-13) || (fast - exact).abs() < 1e-300,
                "{x}: {fast} vs {exact}"
            );
        }
    }

    #[test]
    fn purchase_count_probabilities_sum_to_one_and_match_the_mean() {
        let p = LIFETIMES;
        let t = 39.0;
        let probabilities: Vec<f64> = (0..2000)
            .map(|n| p.probability_of_n_purchases(t, n))
            .collect();
        let total: f64 = probabilities.iter().sum();
        let mean: f64 = probabilities
            .iter()
            .enumerate()
            .map(|(n, q)| n as f64 * q)
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(
            close(mean, p.expected_purchases_new_customer(t), 1e-6),
            "{mean}"
        );
        assert_eq!(p.probability_of_n_purchases(0.0, 0), 1.0);
    }

    #[test]
    fn hessian_matches_finite_differences_of_the_gradient() {
        let h = Histories {
            x: vec![0.0, 1.0, 2.0, 7.0, 40.0],
            t_x: vec![0.0, 3.0, 20.0, 30.0, 36.5],
            t: vec![10.0, 30.0, 38.0, 31.0, 38.0],
        };
        let counts = h.frequency_counts();
        let p = LIFETIMES;
        let exact = h.log_likelihood_with_counts(&counts, &p).hessian;
        let at = |v: [f64; 4]| BgNbd {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        };
        for k in 0..4 {
            let eps = 1e-6;
            let mut hi = [p.r, p.alpha, p.a, p.b];
            let mut lo = hi;
            hi[k] += eps;
            lo[k] -= eps;
            let g_hi = h.log_likelihood_with_counts(&counts, &at(hi)).gradient;
            let g_lo = h.log_likelihood_with_counts(&counts, &at(lo)).gradient;
            for l in 0..4 {
                let numeric = (g_hi[l] - g_lo[l]) / (2.0 * eps);
                assert!(
                    (numeric - exact[k][l]).abs() < 1e-5 * (1.0 + numeric.abs()),
                    "{k},{l}: {numeric} vs {}",
                    exact[k][l]
                );
            }
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let h = Histories {
            x: vec![0.0, 1.0, 2.0, 7.0],
            t_x: vec![0.0, 3.0, 20.0, 30.0],
            t: vec![10.0, 30.0, 38.0, 31.0],
        };
        let p = LIFETIMES;
        let mut g = [0.0; 4];
        h.log_likelihood(&p, &mut g);
        let mut scratch = [0.0; 4];
        for k in 0..4 {
            let eps = 1e-6;
            let mut hi = [p.r, p.alpha, p.a, p.b];
            let mut lo = hi;
            hi[k] += eps;
            lo[k] -= eps;
            let at = |v: [f64; 4]| BgNbd {
                r: v[0],
                alpha: v[1],
                a: v[2],
                b: v[3],
            };
            let numeric = (h.log_likelihood(&at(hi), &mut scratch)
                - h.log_likelihood(&at(lo), &mut scratch))
                / (2.0 * eps);
            assert!(
                (numeric - g[k]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{k}: {numeric} vs {}",
                g[k]
            );
        }
    }
}
