//! `psi_scores(score, is_actual, bins)`: population stability index of
//! raw scores, with bins from the baseline sample.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::binning::{bin_counts, bins_argument, coerce_bins, equal_frequency};
use super::psi::population_stability_index;
use super::roc::coerce_label;
use crate::collect::{CollectedRows, RowsAccumulator};
use crate::kernel::{check_arity, coerce_numeric};

const NAME: &str = "psi_scores";
const ARGUMENTS: [&str; 3] = ["score", "is_actual", "bins"];

/// SQL `psi_scores`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PsiScoresFunc {
    signature: Signature,
}

impl Default for PsiScoresFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl PsiScoresFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for PsiScoresFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        let is_actual = coerce_label(NAME, &arg_types[1]).or_else(|_| {
            datafusion::common::plan_err!(
                "{NAME}: argument 'is_actual' must be boolean or 0/1 (true = current sample), got {}",
                arg_types[1]
            )
        })?;
        Ok(vec![
            coerce_numeric(NAME, "score", &arg_types[0])?,
            is_actual,
            coerce_bins(NAME, "bins", &arg_types[2])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(CollectedRows::state_fields(
            args.name,
            &["score", "is_actual"],
        ))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let bins = bins_argument(NAME, "bins", &args, 2)?;
        Ok(Box::new(RowsAccumulator::new(
            NAME,
            2,
            |function, row| {
                if !row[0].is_finite() {
                    return exec_err!(
                        "{function}: argument 'score' must be finite, got {}",
                        row[0]
                    );
                }
                if row[1] != 0.0 && row[1] != 1.0 {
                    return exec_err!(
                        "{function}: argument 'is_actual' must be 0 or 1, got {}",
                        row[1]
                    );
                }
                Ok(())
            },
            Box::new(move |rows| {
                Ok(ScalarValue::Float64(psi_of_scores(
                    &rows.columns[0],
                    &rows.columns[1],
                    bins,
                )))
            }),
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// PSI of the actual scores against the expected ones over the expected
/// sample's equal-frequency bins. None when either sample is empty.
pub fn psi_of_scores(scores: &[f64], is_actual: &[f64], bins: usize) -> Option<f64> {
    let mut expected: Vec<f64> = scores
        .iter()
        .zip(is_actual)
        .filter(|(_, a)| **a == 0.0)
        .map(|(s, _)| *s)
        .collect();
    let edges = equal_frequency(&mut expected, bins);
    let counts = bin_counts(scores, is_actual, &edges);
    // bin_counts gives (actual rows, all rows) per bin.
    let actual: Vec<f64> = counts.iter().map(|c| c.0).collect();
    let baseline: Vec<f64> = counts.iter().map(|c| c.1 - c.0).collect();
    population_stability_index(&baseline, &actual)
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Population stability index of raw scores: rows with is_actual false (0) are the \
         expected (development) sample, rows with is_actual true (1) the actual one; the bins \
         are the expected sample's equal-frequency bins (as equal_frequency_edges(score, bins) \
         over it), shared by both samples, and the index is psi over their shares. NULL when \
         either sample is empty; rows with a NULL are skipped.",
        "psi_scores(score, is_actual, bins)",
    )
    .with_sql_example(
        r#"```sql
> SELECT psi_scores(score, application_month = '2025-06', 10) AS psi
  FROM applications WHERE application_month IN ('2024-12', '2025-06');
```"#,
    )
    .with_argument("score", "The model score.")
    .with_argument(
        "is_actual",
        "true (1) for the current sample, false (0) for the baseline.",
    )
    .with_argument("bins", "Constant number of bins, 1 to 1000.")
    .build()
});
