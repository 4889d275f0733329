//! `gamma_gamma_fit(frequency, monetary_value)`: maximum-likelihood
//! Gamma-Gamma spend model.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::gamma_gamma::{GammaGamma, MODEL_NAME, Spends, check_spend, model_fields};
use crate::collect::CollectedRows;
use crate::kernel::coerce_all_numeric;
use crate::model::{model_type, model_value};
use crate::optimize::minimize;

const ARGUMENTS: [&str; 2] = ["frequency", "monetary_value"];

/// SQL `gamma_gamma_fit`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GammaGammaFitFunc {
    signature: Signature,
}

impl Default for GammaGammaFitFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl GammaGammaFitFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for GammaGammaFitFunc {
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
        Ok(Box::new(GammaGammaFitAccumulator {
            rows: CollectedRows::new(2),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct GammaGammaFitAccumulator {
    rows: CollectedRows,
}

impl Accumulator for GammaGammaFitAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.rows.append(MODEL_NAME, values, |row| {
            check_spend(MODEL_NAME, row[0], row[1])
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
        let [x, m] = std::mem::take(&mut self.rows.columns)
            .try_into()
            .map_err(|_| DataFusionError::Internal(format!("{MODEL_NAME} state")))?;
        // Customers without repeat purchases say nothing about spend per
        // repeat transaction; the model is fitted on repeat buyers only.
        let (x, m): (Vec<f64>, Vec<f64>) = x.into_iter().zip(m).filter(|(x, _)| *x > 0.0).unzip();
        if x.is_empty() {
            return ScalarValue::try_from(&model_type(&fields));
        }
        let spends = Spends { x, m };
        let fit = fit(&spends)?;
        let column = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        model_value(
            &fields,
            vec![
                column(fit.params.p),
                column(fit.params.q),
                column(fit.params.v),
                column(fit.log_likelihood),
                Arc::new(Int64Array::from(vec![spends.x.len() as i64])),
                Arc::new(Int64Array::from(vec![fit.iterations as i64])),
                Arc::new(BooleanArray::from(vec![fit.converged])),
            ],
        )
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

/// A fitted Gamma-Gamma model.
#[derive(Debug, Clone, PartialEq)]
pub struct GammaGammaFit {
    pub params: GammaGamma,
    pub log_likelihood: f64,
    pub iterations: u64,
    pub converged: bool,
}

/// Maximises the likelihood over log-parameters from p = q = v = 1, with
/// spends scaled by their mean so v starts at the right order of magnitude
/// whatever the currency unit.
pub fn fit(spends: &Spends) -> Result<GammaGammaFit> {
    let n = spends.x.len() as f64;
    let scale = spends.m.iter().sum::<f64>() / n;
    let scaled = Spends {
        x: spends.x.clone(),
        m: spends.m.iter().map(|m| m / scale).collect(),
    };
    let cost = |theta: &[f64], gradient: &mut [f64]| {
        let params = GammaGamma {
            p: theta[0].exp(),
            q: theta[1].exp(),
            v: theta[2].exp(),
        };
        let mut g = [0.0; 3];
        let value = scaled.log_likelihood(&params, &mut g);
        for (k, p) in [params.p, params.q, params.v].into_iter().enumerate() {
            gradient[k] = -g[k] * p / n;
        }
        if value.is_finite() {
            -value / n
        } else {
            f64::INFINITY
        }
    };
    let minimum = match minimize(cost, vec![0.0; 3], 1e-10, 2000) {
        Ok(m) => m,
        Err(e) => return exec_err!("{MODEL_NAME}: the optimiser failed: {e}"),
    };
    let params = GammaGamma {
        p: minimum.x[0].exp(),
        q: minimum.x[1].exp(),
        v: minimum.x[2].exp() * scale,
    };
    let log_likelihood = spends.log_likelihood(&params, &mut [0.0; 3]);
    Ok(GammaGammaFit {
        params,
        log_likelihood,
        iterations: minimum.iterations,
        converged: minimum.converged && log_likelihood.is_finite(),
    })
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Fits the Gamma-Gamma model of spend per transaction (Fader and Hardie 2013) by maximum \
         likelihood on the repeat buyers: rows with frequency = 0 or a NULL are skipped, as \
         lifetimes' GammaGammaFitter is fitted on frequency > 0. Returns a struct {p, q, v, \
         log_likelihood, customers, iterations, converged} for gamma_gamma_expected_spend and \
         clv; NULL when no row has frequency > 0. The model assumes spend is independent of \
         purchase frequency: check corr(frequency, monetary_value) is near 0 first. Errors \
         when monetary_value <= 0 for a repeat buyer.",
        "gamma_gamma_fit(frequency, monetary_value)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(m.p, 2) AS p, round(m.q, 2) AS q, round(m.v, 2) AS v
  FROM (SELECT gamma_gamma_fit(frequency, monetary_value) AS m FROM cdnow_summary);
+------+------+-------+
| p    | q    | v     |
+------+------+-------+
| 6.25 | 3.74 | 15.45 |
+------+------+-------+
```"#,
    )
    .with_argument("frequency", "Repeat purchases x.")
    .with_argument(
        "monetary_value",
        "Mean value of the repeat purchases (customer_summary's monetary_value).",
    )
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproduces_lifetimes_on_the_cdnow_repeat_buyers() -> Result<()> {
        // lifetimes 0.11.3: p 6.248802, q 3.744588, v 15.447748 (reference.json);
        // Fader & Hardie (2013): 6.25, 3.74, 15.44.
        let csv =
            include_str!("../../../tests/data/cdnow/cdnow_customers_summary_with_transactions.csv");
        let mut spends = Spends::default();
        for line in csv.lines().skip(1) {
            let v: Vec<f64> = line
                .split(',')
                .map(|f| f.parse().expect("number"))
                .collect();
            if v[1] > 0.0 {
                spends.x.push(v[1]);
                spends.m.push(v[4]);
            }
        }
        assert_eq!(spends.x.len(), 946);
        let fit = fit(&spends)?;
        assert!(fit.converged, "{fit:?}");
        let p = fit.params;
        for (actual, expected) in [(p.p, 6.248802), (p.q, 3.744588), (p.v, 15.447748)] {
            assert!(
                (actual - expected).abs() < 1e-3,
                "{actual} vs {expected}: {fit:?}"
            );
        }
        Ok(())
    }
}
