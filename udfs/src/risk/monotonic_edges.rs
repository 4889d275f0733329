//! `monotonic_edges(x, label, max_bins)`: edges whose bins have a monotonic
//! event rate, hence a monotonic WoE, as scorecards require.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::binning::{
    add_bin_counts, bins_argument, coerce_bins, edges_type, edges_value, equal_frequency,
    pooled_bins,
};
use super::roc::{check_label, coerce_label};
use crate::collect::{CollectedRows, RowsAccumulator};
use crate::kernel::{check_arity, coerce_numeric};

const NAME: &str = "monotonic_edges";
const ARGUMENTS: [&str; 3] = ["x", "label", "max_bins"];

/// SQL `monotonic_edges`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MonotonicEdgesFunc {
    signature: Signature,
}

impl Default for MonotonicEdgesFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl MonotonicEdgesFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for MonotonicEdgesFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        Ok(vec![
            coerce_numeric(NAME, "x", &arg_types[0])?,
            coerce_label(NAME, &arg_types[1])?,
            coerce_bins(NAME, "max_bins", &arg_types[2])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(edges_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(CollectedRows::state_fields(args.name, &["x", "label"]))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let max_bins = bins_argument(NAME, "max_bins", &args, 2)?;
        Ok(Box::new(RowsAccumulator::new(
            NAME,
            2,
            |function, row| {
                if !row[0].is_finite() {
                    return exec_err!("{function}: argument 'x' must be finite, got {}", row[0]);
                }
                check_label(function, row[1])
            },
            Box::new(move |rows| {
                if rows.is_empty() {
                    return ScalarValue::try_from(&edges_type());
                }
                let (x, labels) = (&rows.columns[0], &rows.columns[1]);
                Ok(edges_value(monotonic(x, labels, max_bins)))
            }),
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// Equal-frequency fine bins, then adjacent bins pooled until the event
/// rate is monotonic in the direction of corr(x, label).
pub fn monotonic(x: &[f64], labels: &[f64], max_bins: usize) -> Vec<f64> {
    monotonic_bins(&[x], &[labels], max_bins).0
}

/// [`monotonic`] over rows held in chunks (the same chunking for x and the
/// labels), with each merged bin's (events, rows): the sums of its fine
/// bins, so counting the rows again in the merged bins is not needed.
pub fn monotonic_bins(
    x: &[&[f64]],
    labels: &[&[f64]],
    max_bins: usize,
) -> (Vec<f64>, Vec<(f64, f64)>) {
    let mut sorted = x.concat();
    let fine = equal_frequency(&mut sorted, max_bins);
    drop(sorted);
    let mut counts = vec![(0.0, 0.0); fine.len() + 1];
    for (x, labels) in x.iter().zip(labels) {
        add_bin_counts(x, labels, &fine, &mut counts);
    }
    let pooled = pooled_bins(&counts, covariance(x, labels) >= 0.0);
    // A merged bin ending at fine bin `end` closes at fine edge `end - 1`.
    let edges = pooled
        .iter()
        .filter(|(_, _, end)| *end < counts.len())
        .map(|(_, _, end)| fine[end - 1])
        .collect();
    (edges, pooled.into_iter().map(|(e, n, _)| (e, n)).collect())
}

fn covariance(x: &[&[f64]], y: &[&[f64]]) -> f64 {
    let n = x.iter().map(|c| c.len()).sum::<usize>() as f64;
    let sum = |chunks: &[&[f64]]| chunks.iter().map(|c| c.iter().sum::<f64>()).sum::<f64>();
    let (mx, my) = (sum(x) / n, sum(y) / n);
    x.iter()
        .zip(y)
        .map(|(a, b)| {
            a.iter()
                .zip(*b)
                .map(|(a, b)| (a - mx) * (b - my))
                .sum::<f64>()
        })
        .sum()
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Interior bin edges for woe_iv whose bins have a strictly monotonic event rate (so a \
         monotonic WoE): x is cut into max_bins equal-frequency bins (as equal_frequency_edges), \
         then adjacent bins are merged by pool-adjacent-violators (isotonic regression of the bin \
         event rates weighted by bin size) until the rate rises with x when corr(x, label) >= 0, \
         or falls otherwise; bins with equal rates are merged too. Rows with a NULL are skipped; \
         NULL when there are none. Errors on a label other than 0/1 or an infinite x.",
        "monotonic_edges(x, label, max_bins)",
    )
    .with_sql_example(
        r#"```sql
> SELECT monotonic_edges(duration_in_month, creditability = 'bad', 10) AS edges
  FROM 'tests/data/german_credit/germancredit.parquet';
```"#,
    )
    .with_argument("x", "Numeric characteristic.")
    .with_argument(
        "label",
        "1 (or true) for an event (bad), 0 (or false) otherwise.",
    )
    .with_argument(
        "max_bins",
        "Constant number of fine bins to start from, 1 to 1000.",
    )
    .build()
});
