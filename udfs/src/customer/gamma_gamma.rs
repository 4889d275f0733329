//! The Gamma-Gamma model of spend per transaction (Fader and Hardie 2013,
//! "The Gamma-Gamma Model of Monetary Value"), shared by `gamma_gamma_fit`,
//! `gamma_gamma_expected_spend` and `clv`. Follows lifetimes 0.11.3's
//! `GammaGammaFitter`.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use statrs::function::gamma::{digamma, ln_gamma};

pub const MODEL_NAME: &str = "gamma_gamma_fit";
pub const PARAMETERS: [&str; 3] = ["p", "q", "v"];

pub fn model_fields() -> Vec<(&'static str, DataType)> {
    vec![
        ("p", DataType::Float64),
        ("q", DataType::Float64),
        ("v", DataType::Float64),
        ("log_likelihood", DataType::Float64),
        ("customers", DataType::Int64),
        ("iterations", DataType::Int64),
        ("converged", DataType::Boolean),
    ]
}

/// The three Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub v: f64,
}

impl GammaGamma {
    /// E[M | x, m̄]: the expected mean spend per transaction of a customer
    /// with x repeat purchases of mean value m̄, a credibility-weighted blend
    /// of m̄ and the population mean p v / (q - 1). The population mean for
    /// x = 0.
    #[inline]
    pub fn expected_spend(&self, x: f64, m: f64) -> f64 {
        let Self { p, q, v } = *self;
        let weight = p * x / (p * x + q - 1.0);
        (1.0 - weight) * (p * v / (q - 1.0)) + weight * m
    }
}

/// Repeat buyers for the likelihood: x > 0 and mean spend m > 0.
#[derive(Debug, Default)]
pub struct Spends {
    pub x: Vec<f64>,
    pub m: Vec<f64>,
}

impl Spends {
    /// Σ log-likelihood (lifetimes' `_negative_log_likelihood`, negated) and
    /// its gradient with respect to (p, q, v).
    pub fn log_likelihood(&self, params: &GammaGamma, gradient: &mut [f64; 3]) -> f64 {
        let GammaGamma { p, q, v } = *params;
        let mut counts: BTreeMap<u64, f64> = BTreeMap::new();
        for &x in &self.x {
            *counts.entry(x as u64).or_default() += 1.0;
        }
        let mut total = 0.0;
        *gradient = [0.0; 3];
        let (ln_gamma_q, psi_q, ln_v) = (ln_gamma(q), digamma(q), v.ln());
        // Terms of x alone: ln Γ(px+q) - ln Γ(px) - ln Γ(q) + q ln v + px ln x.
        for (&x, &count) in &counts {
            let x = x as f64;
            let psi_pxq = digamma(p * x + q);
            total += count
                * (ln_gamma(p * x + q) - ln_gamma(p * x) - ln_gamma_q + q * ln_v + p * x * x.ln());
            gradient[0] += count * x * (psi_pxq - digamma(p * x) + x.ln());
            gradient[1] += count * (psi_pxq - psi_q + ln_v);
            gradient[2] += count * q / v;
        }
        for (&x, &m) in self.x.iter().zip(&self.m) {
            let ln_xmv = (x * m + v).ln();
            let ln_m = m.ln();
            total += (p * x - 1.0) * ln_m - (p * x + q) * ln_xmv;
            gradient[0] += x * (ln_m - ln_xmv);
            gradient[1] -= ln_xmv;
            gradient[2] -= (p * x + q) / (x * m + v);
        }
        total
    }
}

/// Coercions for `f(model, numbers...)` with a Gamma-Gamma model.
pub fn coerce_model_args(
    function: &str,
    names: &[&str],
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    crate::model::coerce_model_and_numbers(function, names, MODEL_NAME, &PARAMETERS, arg_types)
}

/// The parameter columns (p, q, v) of a model column.
pub fn parameter_columns(
    function: &str,
    model: &datafusion::arrow::array::ArrayRef,
) -> Result<[datafusion::arrow::array::Float64Array; 3]> {
    let [p, q, v] = PARAMETERS;
    Ok([
        crate::model::model_field_f64(function, model, p)?,
        crate::model::model_field_f64(function, model, q)?,
        crate::model::model_field_f64(function, model, v)?,
    ])
}

/// Parameters usable for a spend prediction: positive, and q > 1 so the
/// population mean p v / (q - 1) exists.
#[inline]
pub fn checked_params(function: &str, argument: &str, v: [f64; 3]) -> Result<GammaGamma> {
    if v.iter().all(|p| *p > 0.0 && p.is_finite()) && v[1] > 1.0 {
        Ok(GammaGamma {
            p: v[0],
            q: v[1],
            v: v[2],
        })
    } else {
        exec_err!(
            "{function}: argument '{argument}' must have positive p, v and q > 1 (the population \
             mean spend p*v/(q-1) must exist), got p={}, q={}, v={}",
            v[0],
            v[1],
            v[2]
        )
    }
}

/// Checks a (frequency, monetary_value) pair for a prediction.
#[inline]
pub fn check_spend(function: &str, x: f64, m: f64) -> Result<()> {
    if !(x >= 0.0 && x.fract() == 0.0 && x.is_finite()) {
        return exec_err!(
            "{function}: argument 'frequency' must be a whole number >= 0 (repeat purchases), got {x}"
        );
    }
    if x > 0.0 && !(m > 0.0 && m.is_finite()) {
        return exec_err!(
            "{function}: argument 'monetary_value' must be > 0 for a customer with repeat \
             purchases (the Gamma-Gamma model has positive spends), got {m}"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_spend_matches_lifetimes_at_its_parameters() {
        // reference.json, gamma_gamma: customers 1 and 2357 (x = 0).
        let g = GammaGamma {
            p: 6.248802,
            q: 3.744588,
            v: 15.447748,
        };
        let e = g.expected_spend(2.0, 22.35);
        assert!((e - 24.658616).abs() < 1e-5, "{e}");
        let e = g.expected_spend(0.0, 0.0);
        assert!((e - 35.171002).abs() < 1e-5, "{e}");
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let s = Spends {
            x: vec![1.0, 2.0, 2.0, 5.0],
            m: vec![10.0, 22.5, 31.0, 8.0],
        };
        let g0 = GammaGamma {
            p: 6.2,
            q: 3.7,
            v: 15.4,
        };
        let mut g = [0.0; 3];
        s.log_likelihood(&g0, &mut g);
        let mut scratch = [0.0; 3];
        for k in 0..3 {
            let eps = 1e-6;
            let mut hi = [g0.p, g0.q, g0.v];
            let mut lo = hi;
            hi[k] += eps;
            lo[k] -= eps;
            let at = |v: [f64; 3]| GammaGamma {
                p: v[0],
                q: v[1],
                v: v[2],
            };
            let numeric = (s.log_likelihood(&at(hi), &mut scratch)
                - s.log_likelihood(&at(lo), &mut scratch))
                / (2.0 * eps);
            assert!(
                (numeric - g[k]).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{k}: {numeric} vs {}",
                g[k]
            );
        }
    }
}
