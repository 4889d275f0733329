//! `bgnbd_fit(frequency, recency, T)`: maximum-likelihood BG/NBD parameters.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::bgnbd::{BgNbd, Histories, MODEL_NAME, model_fields};
use crate::collect::CollectedRows;
use crate::kernel::coerce_all_numeric;
use crate::model::{model_type, model_value};
use crate::optimize::minimize;

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
            rows: CollectedRows::new(3),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct BgNbdFitAccumulator {
    rows: CollectedRows,
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

impl Accumulator for BgNbdFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.rows.append(MODEL_NAME, values, |row| {
            check_history(MODEL_NAME, row[0], row[1], row[2])
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
        let [x, t_x, t] = std::mem::take(&mut self.rows.columns)
            .try_into()
            .map_err(|_| datafusion::common::DataFusionError::Internal("bgnbd_fit state".into()))?;
        let histories = Histories { x, t_x, t };
        let fit = fit(&histories)?;
        let column = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        model_value(
            &fields,
            vec![
                column(fit.params.r),
                column(fit.params.alpha),
                column(fit.params.a),
                column(fit.params.b),
                column(fit.log_likelihood),
                Arc::new(Int64Array::from(vec![histories.len() as i64])),
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

/// Maximises the likelihood over log-parameters from r = alpha = a = b = 1,
/// with times scaled so the longest T is 1 (as lifetimes does), which keeps
/// alpha of order one whatever the time unit.
pub fn fit(histories: &Histories) -> Result<BgNbdFit> {
    let scale = histories.t.iter().copied().fold(0.0, f64::max);
    let scale = if scale > 0.0 { scale } else { 1.0 };
    let scaled = Histories {
        x: histories.x.clone(),
        t_x: histories.t_x.iter().map(|v| v / scale).collect(),
        t: histories.t.iter().map(|v| v / scale).collect(),
    };
    let n = scaled.len() as f64;
    let counts = scaled.frequency_counts();
    let cost = |theta: &[f64], gradient: &mut [f64]| {
        let p = BgNbd {
            r: theta[0].exp(),
            alpha: theta[1].exp(),
            a: theta[2].exp(),
            b: theta[3].exp(),
        };
        let mut g = [0.0; 4];
        let value = scaled.log_likelihood_with_counts(&counts, &p, &mut g);
        let params = [p.r, p.alpha, p.a, p.b];
        for k in 0..4 {
            gradient[k] = -g[k] * params[k] / n;
        }
        if value.is_finite() {
            -value / n
        } else {
            f64::INFINITY
        }
    };
    let minimum = match minimize(cost, vec![0.0; 4], 1e-10, 2000) {
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
    let log_likelihood = histories.log_likelihood(&params, &mut [0.0; 4]);
    Ok(BgNbdFit {
        params,
        log_likelihood,
        iterations: minimum.iterations,
        converged: minimum.converged && log_likelihood.is_finite(),
    })
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Fits the BG/NBD model of Fader, Hardie and Lee (2005) to per-customer purchase \
         histories by maximum likelihood (L-BFGS on log-parameters). Returns a struct \
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
