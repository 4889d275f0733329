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

use crate::special::{hyp2f1, ln_beta};

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

/// Customers grouped for the likelihood: the terms that depend only on x are
/// computed once per distinct x.
#[derive(Debug, Default)]
pub struct Histories {
    pub x: Vec<f64>,
    pub t_x: Vec<f64>,
    pub t: Vec<f64>,
}

impl Histories {
    pub fn len(&self) -> usize {
        self.x.len()
    }

    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Σ log-likelihood at `p`, eq. (6) of the paper, written as
    /// K_x - (r+x) ln(alpha+T) + ln(1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),
    /// and its gradient with respect to (r, alpha, a, b).
    pub fn log_likelihood(&self, p: &BgNbd, gradient: &mut [f64; 4]) -> f64 {
        self.log_likelihood_with_counts(&self.frequency_counts(), p, gradient)
    }

    /// (x, number of customers with x) for every distinct x: computed once
    /// per fit, not once per likelihood evaluation.
    pub fn frequency_counts(&self) -> Vec<(f64, f64)> {
        let mut counts: BTreeMap<u64, f64> = BTreeMap::new();
        for &x in &self.x {
            *counts.entry(x as u64).or_default() += 1.0;
        }
        counts.into_iter().map(|(x, n)| (x as f64, n)).collect()
    }

    /// [`Self::log_likelihood`] with the frequency counts precomputed.
    pub fn log_likelihood_with_counts(
        &self,
        counts: &[(f64, f64)],
        p: &BgNbd,
        gradient: &mut [f64; 4],
    ) -> f64 {
        let BgNbd { r, alpha, a, b } = *p;
        let mut total = 0.0;
        *gradient = [0.0; 4];
        // K_x = ln B(a, b+x) - ln B(a, b) + ln Γ(r+x) - ln Γ(r) + r ln alpha.
        let (psi_r, psi_b, psi_ab) = (digamma(r), digamma(b), digamma(a + b));
        for &(x, count) in counts {
            let k =
                ln_beta(a, b + x) - ln_beta(a, b) + ln_gamma(r + x) - ln_gamma(r) + r * alpha.ln();
            let psi_abx = digamma(a + b + x);
            total += count * k;
            gradient[0] += count * (digamma(r + x) - psi_r + alpha.ln());
            gradient[1] += count * r / alpha;
            gradient[2] += count * (psi_ab - psi_abx);
            gradient[3] += count * (digamma(b + x) - psi_abx - psi_b + psi_ab);
        }
        let parts = per_customer_terms(self, p);
        total += parts.0;
        for (g, part) in gradient.iter_mut().zip(parts.1) {
            *g += part;
        }
        total
    }
}

/// The per-customer part of the log-likelihood and its gradient, split over
/// the available cores (this loop is the whole cost of a fit).
fn per_customer_terms(h: &Histories, p: &BgNbd) -> (f64, [f64; 4]) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = h.len().div_ceil(threads).max(50_000);
    if h.len() <= chunk {
        return per_customer_range(&h.x, &h.t_x, &h.t, p);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> =
            h.x.chunks(chunk)
                .zip(h.t_x.chunks(chunk))
                .zip(h.t.chunks(chunk))
                .map(|((x, t_x), t)| scope.spawn(move || per_customer_range(x, t_x, t, p)))
                .collect();
        let mut total = (0.0, [0.0; 4]);
        for handle in handles {
            // A panic in a worker is a bug in this file; surface it as NaN
            // (the fit then reports no convergence) rather than unwinding.
            let (v, g) = handle.join().unwrap_or((f64::NAN, [f64::NAN; 4]));
            total.0 += v;
            for (sum, part) in total.1.iter_mut().zip(g) {
                *sum += part;
            }
        }
        total
    })
}

#[inline]
fn per_customer_range(x: &[f64], t_x: &[f64], t: &[f64], p: &BgNbd) -> (f64, [f64; 4]) {
    let BgNbd { r, alpha, a, b } = *p;
    let ln_a = a.ln();
    let (mut value, mut g) = (0.0, [0.0; 4]);
    for i in 0..x.len() {
        let (x, t_x, t) = (x[i], t_x[i], t[i]);
        let u = r + x;
        let ln_t = (alpha + t).ln();
        value -= u * ln_t;
        g[0] -= ln_t;
        g[1] -= u / (alpha + t);
        if x > 0.0 {
            let ln_tx = (alpha + t_x).ln();
            let log_w = ln_a - (b + x - 1.0).ln() + u * (ln_t - ln_tx);
            // ln(1 + e^w) and its derivative e^w / (1 + e^w), without overflow.
            let softplus = log_w.max(0.0) + (-log_w.abs()).exp().ln_1p();
            let s = 1.0 / (1.0 + (-log_w).exp());
            value += softplus;
            g[0] += s * (ln_t - ln_tx);
            g[1] += s * u * (1.0 / (alpha + t) - 1.0 / (alpha + t_x));
            g[2] += s / a;
            g[3] -= s / (b + x - 1.0);
        }
    }
    (value, g)
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
