//! `logistic_regression_fit(label, feature1 [, feature2 ...] [, options])`:
//! L2-penalised logistic regression with an intercept.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::logistic_regression::{MODEL_NAME, model_fields, sigmoid};
use crate::collect::CollectedRows;
use crate::kernel::{coerce_numeric, constant_argument, feature_name};
use crate::model::{model_type, model_value};
use crate::optimize::minimize;

/// Most features accepted: the fit stores every row, and more columns than
/// this is a modelling job for a dedicated tool.
const MAX_FEATURES: usize = 256;

/// SQL `logistic_regression_fit`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LogisticRegressionFitFunc {
    signature: Signature,
}

impl Default for LogisticRegressionFitFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl LogisticRegressionFitFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

impl AggregateUDFImpl for LogisticRegressionFitFunc {
    fn name(&self) -> &str {
        MODEL_NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let with_options = arg_types.last().is_some_and(is_string);
        let features = arg_types
            .len()
            .saturating_sub(1 + usize::from(with_options));
        if features == 0 || features > MAX_FEATURES {
            return plan_err!(
                "{MODEL_NAME} expects (label, feature1 [, feature2 ...] [, options]) with 1 to \
                 {MAX_FEATURES} numeric features, got {} arguments",
                arg_types.len()
            );
        }
        let mut coerced = Vec::with_capacity(arg_types.len());
        coerced.push(match &arg_types[0] {
            DataType::Boolean => DataType::Float64,
            other => coerce_numeric(MODEL_NAME, "label", other)?,
        });
        for (i, data_type) in arg_types[1..=features].iter().enumerate() {
            coerced.push(coerce_numeric(
                MODEL_NAME,
                &format!("feature{}", i + 1),
                data_type,
            )?);
        }
        if with_options {
            coerced.push(DataType::Utf8);
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(model_type(&model_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let columns: Vec<String> = (0..args.input_fields.len())
            .map(|i| format!("c{i}"))
            .collect();
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        let width = args
            .input_fields
            .iter()
            .filter(|f| !is_string(f.data_type()))
            .count();
        Ok(CollectedRows::state_fields(args.name, &names[..width]))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let with_options = args
            .expr_fields
            .last()
            .is_some_and(|f| is_string(f.data_type()));
        let width = args.exprs.len() - usize::from(with_options);
        let c = if with_options {
            match constant_argument(MODEL_NAME, "options", &args, width)? {
                ScalarValue::Utf8(Some(options)) => parse_options(&options)?,
                other => {
                    return plan_err!(
                        "{MODEL_NAME}: argument 'options' must be a string such as 'C=1.0', got {other}"
                    );
                }
            }
        } else {
            1.0
        };
        let features = args.exprs[1..width]
            .iter()
            .map(|e| feature_name(e))
            .collect();
        Ok(Box::new(LogisticRegressionAccumulator {
            rows: CollectedRows::new(width),
            c,
            features,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// Options: `C=<inverse penalty strength>` as scikit-learn's C (default 1;
/// `C=inf` fits without penalty).
fn parse_options(options: &str) -> Result<f64> {
    let mut c = 1.0;
    for option in options.split([',', ' ']).filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some((key, value)) if key.trim().eq_ignore_ascii_case("c") => {
                c = match value.trim().parse::<f64>() {
                    Ok(v) if v > 0.0 => v,
                    _ => {
                        return plan_err!(
                            "{MODEL_NAME}: option C must be a number > 0 (or inf), got '{value}'"
                        );
                    }
                }
            }
            _ => {
                return plan_err!(
                    "{MODEL_NAME}: unknown option '{option}'; the options are 'C=<inverse L2 strength>'"
                );
            }
        }
    }
    Ok(c)
}

#[derive(Debug)]
struct LogisticRegressionAccumulator {
    rows: CollectedRows,
    c: f64,
    features: Vec<String>,
}

impl Accumulator for LogisticRegressionAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let width = self.rows.columns.len();
        self.rows.append(MODEL_NAME, &values[..width], |row| {
            if row[0] == 0.0 || row[0] == 1.0 {
                Ok(())
            } else {
                exec_err!(
                    "{MODEL_NAME}: argument 'label' must be 0 or 1 (or a boolean), got {}",
                    row[0]
                )
            }
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
        let columns = std::mem::take(&mut self.rows.columns);
        let (label, features) = columns
            .split_first()
            .ok_or_else(|| DataFusionError::Internal(format!("{MODEL_NAME} state")))?;
        let fit = fit(label, features, self.c)?;
        let list = |values: ArrayRef| -> ArrayRef {
            Arc::new(SingleRowListArrayBuilder::new(values).build_list_array())
        };
        let column = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        model_value(
            &fields,
            vec![
                column(fit.intercept),
                list(Arc::new(Float64Array::from(fit.coefficients.clone()))),
                list(Arc::new(StringArray::from(self.features.clone()))),
                column(self.c),
                column(fit.log_loss),
                Arc::new(Int64Array::from(vec![label.len() as i64])),
                Arc::new(Int64Array::from(vec![fit.iterations as i64])),
                Arc::new(BooleanArray::from(vec![fit.converged])),
            ],
        )
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticRegressionFit {
    pub intercept: f64,
    pub coefficients: Vec<f64>,
    pub log_loss: f64,
    pub iterations: u64,
    pub converged: bool,
}

/// Minimises scikit-learn's objective C Σ log-loss + ½‖w‖² (intercept not
/// penalised) by L-BFGS on standardised features, which is the same
/// problem reparametrised (the penalty is on the original-scale w), and
/// converges in few iterations whatever the features' scales.
pub fn fit(label: &[f64], features: &[Vec<f64>], c: f64) -> Result<LogisticRegressionFit> {
    let n = label.len();
    // One class identifies no model: the fit would report convergence to an
    // intercept that only grows with C (scikit-learn refuses the same data).
    let events = label.iter().filter(|y| **y > 0.5).count();
    if events == 0 || events == n {
        return exec_err!(
            "{MODEL_NAME}: the {n} labelled row(s) hold only one class (all {}); a model needs both 0 and 1",
            if events == 0 { 0 } else { 1 }
        );
    }
    let k = features.len();
    let stats: Vec<(f64, f64)> = features
        .iter()
        .map(|x| {
            let mean = x.iter().sum::<f64>() / n as f64;
            let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
            // A constant feature keeps scale 1 (its coefficient goes to 0 under L2).
            (mean, if var > 0.0 { var.sqrt() } else { 1.0 })
        })
        .collect();
    let standardized: Vec<Vec<f64>> = features
        .iter()
        .zip(&stats)
        .map(|(x, (mean, sd))| x.iter().map(|v| (v - mean) / sd).collect())
        .collect();
    let penalty = if c.is_finite() { 1.0 / c } else { 0.0 };
    // theta = (intercept', w'_1..k) on the standardised scale; w_j = w'_j / sd_j.
    let objective = |theta: &[f64], gradient: &mut [f64]| {
        gradient.iter_mut().for_each(|g| *g = 0.0);
        let mut loss = 0.0;
        for i in 0..n {
            let mut z = theta[0];
            for j in 0..k {
                z += theta[j + 1] * standardized[j][i];
            }
            // log(1 + e^z) - y z, stably.
            loss += z.max(0.0) + (-z.abs()).exp().ln_1p() - label[i] * z;
            let residual = sigmoid(z) - label[i];
            gradient[0] += residual;
            for j in 0..k {
                gradient[j + 1] += residual * standardized[j][i];
            }
        }
        let mut cost = loss;
        for j in 0..k {
            let sd2 = stats[j].1 * stats[j].1;
            cost += 0.5 * penalty * theta[j + 1] * theta[j + 1] / sd2;
            gradient[j + 1] += penalty * theta[j + 1] / sd2;
        }
        gradient.iter_mut().for_each(|g| *g /= n as f64);
        cost / n as f64
    };
    let minimum = match minimize(objective, vec![0.0; k + 1], 1e-10, 5000) {
        Ok(m) => m,
        Err(e) => return exec_err!("{MODEL_NAME}: the optimiser failed: {e}"),
    };
    let theta = &minimum.x;
    let coefficients: Vec<f64> = (0..k).map(|j| theta[j + 1] / stats[j].1).collect();
    let intercept = theta[0] - (0..k).map(|j| coefficients[j] * stats[j].0).sum::<f64>();
    let log_loss = (0..n)
        .map(|i| {
            let z = intercept
                + (0..k)
                    .map(|j| coefficients[j] * features[j][i])
                    .sum::<f64>();
            z.max(0.0) + (-z.abs()).exp().ln_1p() - label[i] * z
        })
        .sum::<f64>()
        / n as f64;
    Ok(LogisticRegressionFit {
        intercept,
        coefficients,
        log_loss,
        iterations: minimum.iterations,
        converged: minimum.converged,
    })
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Fits a logistic regression of a 0/1 (or boolean) label on numeric features, with an \
         intercept and an L2 penalty: it minimises C * sum(log-loss) + 0.5 * ||w||^2 (the \
         intercept is not penalised), scikit-learn's LogisticRegression(penalty='l2', C=C). C \
         defaults to 1; pass a last argument 'C=0.1' to change it, 'C=inf' for no penalty. \
         Returns a struct {intercept, coefficients, features, c, log_loss, rows, iterations, \
         converged}: store it in a table and score rows with logistic_regression_predict. Rows \
         with a NULL are skipped; no rows give a NULL model. A label other than 0/1 is an error. \
         Features on very different scales are fine (the fit standardises internally).",
        "logistic_regression_fit(label, feature1 [, feature2 ...] [, options])",
    )
    .with_sql_example(
        r#"```sql
> SELECT m.coefficients, m.converged
  FROM (SELECT logistic_regression_fit(defaulted, income, age, 'C=1.0') AS m FROM loans);
```"#,
    )
    .with_argument(
        "label",
        "0/1 or boolean outcome (1 = event, e.g. churned or defaulted).",
    )
    .with_argument(
        "feature1",
        "A numeric feature; add as many as needed (up to 256).",
    )
    .with_argument(
        "options",
        "Optional constant string: 'C=<inverse L2 strength>' (default 1).",
    )
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_data_without_penalty_does_not_blow_up_with_penalty() -> Result<()> {
        let label = vec![0.0, 0.0, 1.0, 1.0];
        let x = vec![vec![-2.0, -1.0, 1.0, 2.0]];
        let fit = fit(&label, &x, 1.0)?;
        assert!(fit.converged && fit.coefficients[0] > 0.0 && fit.coefficients[0].is_finite());
        assert!(fit.intercept.abs() < 1e-8, "{fit:?}");
        Ok(())
    }

    #[test]
    fn options_parse_c() -> Result<()> {
        assert_eq!(parse_options("C=0.5")?, 0.5);
        assert!(parse_options("C=inf")?.is_infinite());
        assert!(parse_options("C=-1").is_err() && parse_options("alpha=1").is_err());
        Ok(())
    }
}
