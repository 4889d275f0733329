//! `qini_coefficient(uplift, treated, converted)`: how well an uplift model
//! ranks customers by the campaign's incremental effect on them.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::collect::{CollectedRows, RowsAccumulator};
use crate::kernel::{check_arity, coerce_numeric};

const NAME: &str = "qini_coefficient";
const ARGUMENTS: [&str; 3] = ["uplift", "treated", "converted"];

/// Points (customers targeted, incremental conversions) of the Qini curve
/// (Radcliffe 2007): customers sorted by predicted uplift, highest first;
/// at each distinct score, treated conversions minus control conversions
/// scaled by treated / control counts so far. Starts at (0, 0). Ties are one
/// step, so the order within a tie does not matter.
pub fn qini_curve(uplift: &[f64], treated: &[f64], converted: &[f64]) -> Vec<(f64, f64)> {
    let mut order: Vec<usize> = (0..uplift.len()).collect();
    order.sort_by(|&a, &b| uplift[b].total_cmp(&uplift[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut n_treated, mut n_all, mut y_treated, mut y_control) = (0.0, 0.0, 0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        n_all += 1.0;
        if treated[i] == 1.0 {
            n_treated += 1.0;
            y_treated += converted[i];
        } else {
            y_control += converted[i];
        }
        let last_of_tie = order
            .get(k + 1)
            .is_none_or(|&next| uplift[next] != uplift[i]);
        if last_of_tie {
            let n_control = n_all - n_treated;
            let scale = if n_control > 0.0 {
                n_treated / n_control
            } else {
                0.0
            };
            points.push((n_all, y_treated - y_control * scale));
        }
    }
    points
}

fn trapezoid(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0)
        .sum()
}

/// The area between the model's Qini curve and the random-targeting
/// diagonal, over the same area for the perfect ranking (treated converters
/// first, control converters last): scikit-uplift's `qini_auc_score` with
/// `negative_effect=True`. 1 is a perfect ranking, 0 no better than random,
/// negative worse. None without rows, or when the perfect curve has no area
/// above the diagonal.
pub fn qini_coefficient(uplift: &[f64], treated: &[f64], converted: &[f64]) -> Option<f64> {
    if uplift.is_empty() {
        return None;
    }
    let actual = qini_curve(uplift, treated, converted);
    let perfect_score: Vec<f64> = treated
        .iter()
        .zip(converted)
        .map(|(t, y)| y * t - y * (1.0 - t))
        .collect();
    let perfect = qini_curve(&perfect_score, treated, converted);
    let &(x_end, y_end) = perfect.last()?;
    let baseline = x_end * y_end / 2.0;
    let perfect_area = trapezoid(&perfect) - baseline;
    (perfect_area != 0.0).then(|| (trapezoid(&actual) - baseline) / perfect_area)
}

/// SQL `qini_coefficient`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct QiniCoefficientFunc {
    signature: Signature,
}

impl Default for QiniCoefficientFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl QiniCoefficientFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn coerce_flag(argument: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Boolean | DataType::Null => Ok(DataType::Float64),
        t if t.is_numeric() => Ok(DataType::Float64),
        other => plan_err!("{NAME}: argument '{argument}' must be boolean or 0/1, got {other}"),
    }
}

impl AggregateUDFImpl for QiniCoefficientFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        Ok(vec![
            coerce_numeric(NAME, "uplift", &arg_types[0])?,
            coerce_flag("treated", &arg_types[1])?,
            coerce_flag("converted", &arg_types[2])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(CollectedRows::state_fields(args.name, &ARGUMENTS))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(RowsAccumulator::new(
            NAME,
            3,
            |function, row| {
                if row[0].is_nan() {
                    return exec_err!("{function}: argument 'uplift' must be a number, got NaN");
                }
                for (k, argument) in [(1, "treated"), (2, "converted")] {
                    if row[k] != 0.0 && row[k] != 1.0 {
                        return exec_err!(
                            "{function}: argument '{argument}' must be 0 or 1, got {}",
                            row[k]
                        );
                    }
                }
                Ok(())
            },
            Box::new(|rows| {
                Ok(ScalarValue::Float64(qini_coefficient(
                    &rows.columns[0],
                    &rows.columns[1],
                    &rows.columns[2],
                )))
            }),
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Qini coefficient of an uplift model on a randomised campaign: customers are ranked by \
         predicted uplift, highest first; the Qini curve counts incremental conversions among \
         the top k (treated conversions minus control conversions scaled to the treated count) \
         and the coefficient is its area above the random-targeting diagonal divided by that of \
         the perfect ranking - scikit-uplift's qini_auc_score (negative_effect=True, Radcliffe \
         2007). 1 = perfect, 0 = random, negative = worse than random. Tied scores form one step. \
         Rows with a NULL are skipped; NULL without rows or when no ranking can beat random.",
        "qini_coefficient(uplift, treated, converted)",
    )
    .with_sql_example(
        r#"```sql
> SELECT campaign_id, qini_coefficient(predicted_uplift, group_name = 'treatment', responded) AS qini
  FROM scored_responses GROUP BY campaign_id;
```"#,
    )
    .with_argument("uplift", "Predicted uplift (higher = more persuadable).")
    .with_argument("treated", "true (1) for the treatment arm, false (0) for control.")
    .with_argument("converted", "true (1) when the customer converted (responded).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand derivation on six customers. Scores 0.9, 0.8, 0.7, 0.3, 0.2, 0.1
    /// for (treated, converted) = (1,1), (0,0), (1,1), (0,1), (1,0), (0,1).
    /// Qini points after 0..6 customers: 0, 1, 1 - 0*1/1 = 1, 2 - 0*2/1 = 2,
    /// 2 - 1*2/2 = 1, 2 - 1*3/2 = 0.5, 2 - 2*3/3 = 0. Area by trapezoids:
    /// 0.5 + 1 + 1.5 + 1.5 + 0.75 + 0.25 = 5.5; the diagonal ends at (6, 0),
    /// area 0. Perfect order: the two treated converters (score 1), the two
    /// non-converters (0, a tie: one step), the control converters (-1, a
    /// tie): points 0, 1, 2, (4: 2 - 0) = 2, (6: 2 - 2*3/3) = 0; area
    /// 0.5 + 1.5 + 4 + 2 = 8. Qini = 5.5 / 8.
    #[test]
    fn qini_of_a_hand_derived_case() {
        let uplift = [0.9, 0.8, 0.7, 0.3, 0.2, 0.1];
        let treated = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let converted = [1.0, 0.0, 1.0, 1.0, 0.0, 1.0];
        let q = qini_coefficient(&uplift, &treated, &converted).unwrap();
        assert!((q - 5.5 / 8.0).abs() < 1e-15, "{q}");
        // Reversing the ranking mirrors the curve below the diagonal.
        let reversed: Vec<f64> = uplift.iter().map(|u| -u).collect();
        assert!(qini_coefficient(&reversed, &treated, &converted).unwrap() < 0.0);
    }
}
