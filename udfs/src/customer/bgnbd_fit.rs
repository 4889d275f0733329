//! `bgnbd_fit(frequency, recency, T)`: maximum-likelihood BG/NBD parameters.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::bgnbd::{BgNbd, Histories, MODEL_NAME, model_fields};
use crate::collect::{ArrowRows, CollectedRows};
use crate::kernel::coerce_all_numeric;
use crate::model::{model_type, model_value};
use crate::optimize::{Minimum, minimize_newton};

const ARGUMENTS: [&str; 3] = ["frequency", "recency", "T"];

/// SQL `bgnbd_fit`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BgNbdFitFunc {
    signature: Signature,
}

impl Default for BgNbdFitFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl BgNbdFitFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for BgNbdFitFunc {
    fn name(&self) -> &str {
        MODEL_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_all_numeric(self.name(), &ARGUMENTS, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(model_type(&model_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(CollectedRows::state_fields(args.name, &ARGUMENTS))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(BgNbdFitAccumulator {
            rows: ArrowRows::new(3),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// The histories as they arrived (see `ArrowRows`); the fit copies them
/// once, into the order it reads them in.
#[derive(Debug)]
struct BgNbdFitAccumulator {
    rows: ArrowRows,
}

/// Rejects histories the model cannot describe, naming the argument.
pub(crate) fn check_history(function: &str, x: f64, t_x: f64, t: f64) -> Result<()> {
    if !(x >= 0.0 && x.fract() == 0.0 && x.is_finite()) {
        return exec_err!(
            "{function}: argument 'frequency' must be a whole number >= 0 (repeat purchases), got {x}"
        );
    }
    if !(t >= 0.0 && t.is_finite()) {
        return exec_err!("{function}: argument 'T' must be >= 0, got {t}");
    }
    if !(0.0..=t).contains(&t_x) {
        return exec_err!(
            "{function}: argument 'recency' must be between 0 and T, got recency {t_x} with T {t}"
        );
    }
    Ok(())
}

/// Whether every row passes `check_history`, in one branch-free pass; the
/// slow path finds the first bad row for the message.
fn check_histories(x: &[f64], t_x: &[f64], t: &[f64]) -> Result<()> {
    let valid = x.iter().zip(t_x).zip(t).fold(true, |ok, ((&x, &t_x), &t)| {
        // A whole x below 2^63 survives the round trip through u64.
        let whole = x >= 0.0 && (x as u64) as f64 == x;
        ok & whole & (0.0..f64::INFINITY).contains(&t) & (0.0..=t).contains(&t_x)
    });
    if valid {
        return Ok(());
    }
    for ((&x, &t_x), &t) in x.iter().zip(t_x).zip(t) {
        check_history(MODEL_NAME, x, t_x, t)?;
    }
    Ok(())
}

impl Accumulator for BgNbdFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.rows
            .append(MODEL_NAME, values, |columns| match columns {
                [x, t_x, t] => check_histories(x, t_x, t),
                _ => internal_err!("{MODEL_NAME} expects 3 columns"),
            })
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.rows.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(MODEL_NAME, states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = model_fields();
        if self.rows.is_empty() {
            return ScalarValue::try_from(&model_type(&fields));
        }
        let rows = &self.rows;
        let fit = fit_chunks(&rows.slices(0), &rows.slices(1), &rows.slices(2))?;
        let column = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        model_value(
            &fields,
            vec![
                column(fit.params.r),
                column(fit.params.alpha),
                column(fit.params.a),
                column(fit.params.b),
                column(fit.log_likelihood),
                Arc::new(Int64Array::from(vec![rows.len() as i64])),
                Arc::new(Int64Array::from(vec![fit.iterations as i64])),
                Arc::new(BooleanArray::from(vec![fit.converged])),
            ],
        )
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

/// A fitted BG/NBD model.
#[derive(Debug, Clone, PartialEq)]
pub struct BgNbdFit {
    pub params: BgNbd,
    pub log_likelihood: f64,
    pub iterations: u64,
    pub converged: bool,
}

/// Customers in the sample whose fit gives the starting point of the full
/// fit: from there Newton needs 3 or 4 passes over all the data.
const WARM_START_SAMPLE: usize = 20_000;

/// Maximises the likelihood over log-parameters by Newton's method, with
/// times scaled so the longest T is 1 (as lifetimes does), which keeps alpha
/// of order one whatever the time unit. Large inputs start from the fit of an
/// evenly spaced sample, which only saves passes: the result is the optimum
/// of the full likelihood.
pub fn fit(histories: &Histories) -> Result<BgNbdFit> {
    fit_chunks(&[&histories.x], &[&histories.t_x], &[&histories.t])
}

/// `fit` over histories held in chunks (the same customers in each column's
/// chunks).
fn fit_chunks(x: &[&[f64]], t_x: &[&[f64]], t: &[&[f64]]) -> Result<BgNbdFit> {
    let customers: usize = x.iter().map(|c| c.len()).sum();
    // Without repeat purchases, or with a single customer, the likelihood
    // has no interior maximum (r or alpha run off to infinity): no model.
    let repeat_buyers = x
        .iter()
        .flat_map(|c| c.iter())
        .filter(|v| **v > 0.0)
        .count();
    if customers < 2 {
        return exec_err!(
            "{MODEL_NAME}: {customers} customer(s); a BG/NBD model needs the histories of many customers"
        );
    }
    if repeat_buyers == 0 {
        return exec_err!(
            "{MODEL_NAME}: none of the {customers} customers made a repeat purchase (frequency 0 for all); the purchase rate cannot be estimated"
        );
    }
    let scale = t.iter().flat_map(|c| c.iter()).copied().fold(0.0, f64::max);
    let scale = if scale > 0.0 { scale } else { 1.0 };
    // Non-buyers first: the likelihood shares them and the repeat buyers
    // evenly between threads (the sums do not depend on the order). Each
    // row's slot is chosen without a branch: buyers and non-buyers are
    // interleaved at random, and a mispredicted branch per row cost more
    // than the copy.
    let non_buyers: usize = x
        .iter()
        .map(|c| c.iter().filter(|v| **v <= 0.0).count())
        .sum();
    let mut scaled = Histories {
        x: vec![0.0; customers],
        t_x: vec![0.0; customers],
        t: vec![0.0; customers],
    };
    let (mut next_non_buyer, mut next_buyer) = (0, non_buyers);
    for ((x, t_x), t) in x.iter().zip(t_x).zip(t) {
        for ((&x, &t_x), &t) in x.iter().zip(t_x.iter()).zip(t.iter()) {
            let buyer = x > 0.0;
            let slot = if buyer { next_buyer } else { next_non_buyer };
            next_buyer += usize::from(buyer);
            next_non_buyer += usize::from(!buyer);
            if let (Some(sx), Some(stx), Some(st)) = (
                scaled.x.get_mut(slot),
                scaled.t_x.get_mut(slot),
                scaled.t.get_mut(slot),
            ) {
                (*sx, *stx, *st) = (x, t_x / scale, t / scale);
            }
        }
    }
    let mut start = vec![0.0; 4];
    let mut iterations = 0;
    if scaled.len() > 2 * WARM_START_SAMPLE {
        let stride = scaled.len() / WARM_START_SAMPLE;
        let sample = Histories {
            x: scaled.x.iter().step_by(stride).copied().collect(),
            t_x: scaled.t_x.iter().step_by(stride).copied().collect(),
            t: scaled.t.iter().step_by(stride).copied().collect(),
        };
        if let Ok(m) = newton(&sample, start.clone())
            && m.converged
        {
            start = m.x;
            iterations = m.iterations;
        }
    }
    let minimum = match newton(&scaled, start) {
        Ok(m) => m,
        Err(e) => return exec_err!("{MODEL_NAME}: the optimiser failed: {e}"),
    };
    let theta = &minimum.x;
    let params = BgNbd {
        r: theta[0].exp(),
        alpha: theta[1].exp() * scale,
        a: theta[2].exp(),
        b: theta[3].exp(),
    };
    // Scaling times by 1/s multiplies each customer's density by s^x, so the
    // likelihood of the data as given is the scaled one minus Σx ln s.
    let repeat_purchases: f64 = scaled.x.iter().sum();
    let log_likelihood = -minimum.cost * scaled.len() as f64 - repeat_purchases * scale.ln();
    Ok(BgNbdFit {
        params,
        log_likelihood,
        iterations: iterations + minimum.iterations,
        // A parameter past 1e6 is the optimiser walking to the boundary of a
        // likelihood with no maximum (too few or too regular customers), not
        // an estimate: flagged as not converged.
        converged: minimum.converged
            && log_likelihood.is_finite()
            && [params.r, params.a, params.b, params.alpha / scale]
                .iter()
                .all(|p| p.is_finite() && *p < 1e6),
    })
}

/// Newton on the mean negative log-likelihood over θ = ln(r, alpha, a, b).
fn newton(histories: &Histories, start: Vec<f64>) -> std::result::Result<Minimum, String> {
    let n = histories.len() as f64;
    let counts = histories.frequency_counts();
    let cost = |theta: &[f64], gradient: &mut [f64], hessian: &mut [f64]| {
        let v = [
            theta[0].exp(),
            theta[1].exp(),
            theta[2].exp(),
            theta[3].exp(),
        ];
        let p = BgNbd {
            r: v[0],
            alpha: v[1],
            a: v[2],
            b: v[3],
        };
        let ll = histories.log_likelihood_with_counts(&counts, &p);
        // Chain rule for θ = ln p: dθ = p dp, d²θ = p_k p_l H_kl + [k=l] p_k g_k.
        for k in 0..4 {
            gradient[k] = -ll.gradient[k] * v[k] / n;
            for l in 0..4 {
                let diagonal = if k == l { ll.gradient[k] * v[k] } else { 0.0 };
                hessian[k * 4 + l] = -(ll.hessian[k][l] * v[k] * v[l] + diagonal) / n;
            }
        }
        if ll.value.is_finite() {
            -ll.value / n
        } else {
            f64::INFINITY
        }
    };
    minimize_newton(cost, start, 1e-10, 200)
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Fits the BG/NBD model of Fader, Hardie and Lee (2005) to per-customer purchase \
         histories by maximum likelihood (Newton's method with the exact Hessian, on log-parameters). Returns a struct \
         {r, alpha, a, b, log_likelihood, customers, iterations, converged} that the other \
         bgnbd_* functions, churn_probability and clv take as their model argument; store it in \
         a table to reuse it. Rows with a NULL are skipped; no rows give a NULL model. Times are \
         in whatever unit the summary uses (customer_summary gives days or weeks), and alpha is \
         in that unit. Errors when frequency is not a whole number >= 0 or recency is outside \
         [0, T].",
        "bgnbd_fit(frequency, recency, T)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(m.r, 3) AS r, round(m.alpha, 3) AS alpha, round(m.a, 3) AS a, round(m.b, 3) AS b
  FROM (SELECT bgnbd_fit(frequency, recency, "T") AS m FROM cdnow_summary);
+-------+-------+-------+-------+
| r     | alpha | a     | b     |
+-------+-------+-------+-------+
| 0.243 | 4.414 | 0.793 | 2.426 |
+-------+-------+-------+-------+
```"#,
    )
    .with_argument(
        "frequency",
        "Repeat purchases x: purchases (or purchase days) after the first.",
    )
    .with_argument(
        "recency",
        "t_x: time from the first to the last purchase (0 when x = 0).",
    )
    .with_argument(
        "T",
        "Time from the first purchase to the end of observation.",
    )
    .build()
});

#[cfg(test)]
mod tests {
    use datafusion::common::cast::as_float64_array;

    use super::*;

    /// The CDNOW calibration summary (2,357 customers, weeks), the data of
    /// Fader, Hardie and Lee (2005); see tests/data/cdnow/SOURCE.md.
    fn cdnow() -> Histories {
        let csv = include_str!("../../../tests/data/cdnow/cdnow_customers_summary.csv");
        let mut h = Histories::default();
        for line in csv.lines().skip(1) {
            let v: Vec<f64> = line
                .split(',')
                .map(|f| f.parse().expect("number"))
                .collect();
            h.x.push(v[1]);
            h.t_x.push(v[2]);
            h.t.push(v[3]);
        }
        h
    }

    #[test]
    fn reproduces_the_published_cdnow_estimates() -> Result<()> {
        // Paper: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4;
        // lifetimes 0.11.3 (reference.json) agrees to all published digits.
        let fit = fit(&cdnow())?;
        assert!(fit.converged, "{fit:?}");
        let p = fit.params;
        let published = [(p.r, 0.243), (p.alpha, 4.414), (p.a, 0.793), (p.b, 2.426)];
        for (actual, expected) in published {
            assert!(
                (actual - expected).abs() < 0.0005,
                "{actual} vs {expected}: {fit:?}"
            );
        }
        assert!((fit.log_likelihood - -9582.4).abs() < 0.05, "{fit:?}");
        Ok(())
    }

    /// Data simulated from the CDNOW estimates: the sums over many customers
    /// leave a rounding floor in the gradient, which once made Newton repeat
    /// a vanishing step for 200 iterations and report no convergence.
    #[test]
    fn converges_quickly_on_simulated_histories() {
        let truth = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let h = Histories::simulate(&truth, 20_000, 7);
        let fit = fit(&h).expect("fit");
        assert!(fit.converged && fit.iterations < 30, "{fit:?}");
        // 20,000 customers pin down r, alpha and the mean dropout
        // probability a / (a + b) to a few percent (a and b separately are
        // only loosely identified).
        let p = fit.params;
        let mean_dropout = |a: f64, b: f64| a / (a + b);
        let pairs = [
            (p.r, 0.243),
            (p.alpha, 4.414),
            (mean_dropout(p.a, p.b), mean_dropout(0.793, 2.426)),
        ];
        for (actual, truth) in pairs {
            assert!((actual / truth - 1.0).abs() < 0.1, "{fit:?}");
        }
    }

    /// CDNOW fed as the engine feeds it: in batches, with NULL rows, through
    /// a partial state and a merge; evaluated twice (a window calls evaluate
    /// again), each time the fit of the histories alone.
    #[test]
    fn batches_nulls_and_merged_states_fit_like_the_histories() -> Result<()> {
        let h = cdnow();
        let expected = fit(&h)?;
        // An extra row at index 1: NULL in x, a value elsewhere.
        let column = |v: &[f64], extra: Option<f64>| -> ArrayRef {
            let mut values: Vec<Option<f64>> = v.iter().map(|x| Some(*x)).collect();
            values.insert(1, extra);
            Arc::new(Float64Array::from(values))
        };
        let new = || BgNbdFitAccumulator {
            rows: ArrowRows::new(3),
        };
        let (mut first, mut second) = (new(), new());
        let cut = h.len() / 3;
        for (accumulator, range) in [(&mut first, 0..cut), (&mut second, cut..h.len())] {
            let (x, t_x, t) = (&h.x[range.clone()], &h.t_x[range.clone()], &h.t[range]);
            // One column NULL in a row: the whole row is skipped.
            accumulator.update_batch(&[
                column(x, None),
                column(t_x, Some(1.0)),
                column(t, Some(2.0)),
            ])?;
        }
        let states: Vec<ArrayRef> = first
            .state()?
            .iter()
            .map(ScalarValue::to_array)
            .collect::<Result<_>>()?;
        second.merge_batch(&states)?;
        assert_eq!(second.rows.len(), h.len());
        for _ in 0..2 {
            let ScalarValue::Struct(model) = second.evaluate()? else {
                panic!("bgnbd_fit returns a struct");
            };
            let r = as_float64_array(model.column(0))?.value(0);
            assert!(
                (r / expected.params.r - 1.0).abs() < 1e-9,
                "{r} vs {expected:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn invalid_histories_name_the_argument() {
        let err = check_history("bgnbd_fit", 1.5, 0.0, 1.0)
            .unwrap_err()
            .strip_backtrace();
        assert!(err.contains("'frequency'"), "{err}");
        let err = check_history("bgnbd_fit", 1.0, 5.0, 1.0)
            .unwrap_err()
            .strip_backtrace();
        assert!(err.contains("'recency'"), "{err}");
        let err = check_history("bgnbd_fit", 1.0, 0.0, -1.0)
            .unwrap_err()
            .strip_backtrace();
        assert!(err.contains("'T'"), "{err}");
    }
}
