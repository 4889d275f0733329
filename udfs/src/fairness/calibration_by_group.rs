//! `calibration_by_group(query [, bins])`: per group and score bin, the mean
//! predicted score against the observed rate, the calibration part of a
//! fairness audit (a score that means 10% default for men and 15% for women
//! is unfair even with equal approval rates).

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::Documentation;

use crate::query_table::{QueryReport, QueryReportTable, collect_query, literal, query_argument};

const NAME: &str = "calibration_by_group";
const DEFAULT_BINS: i64 = 10;
const MAX_BINS: i64 = 1000;

/// SQL `calibration_by_group`.
#[derive(Debug, Default)]
pub struct CalibrationByGroupFunc;

impl TableFunctionImpl for CalibrationByGroupFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(1..=2).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} expects 1 or 2 arguments ('SELECT group, label, score FROM ...' [, bins]), got {}",
                exprs.len()
            );
        }
        let query = query_argument(
            NAME,
            &exprs[0],
            "SELECT gender, defaulted, model_score FROM loans",
        )?;
        let bins = match exprs.get(1).map(|e| literal(NAME, e)).transpose()? {
            None => DEFAULT_BINS,
            Some(ScalarValue::Int64(Some(n))) if (1..=MAX_BINS).contains(&n) => n,
            Some(other) => {
                return plan_err!(
                    "{NAME}: argument 'bins' must be a whole number from 1 to {MAX_BINS}, got {other}"
                );
            }
        };
        let call = format!("{bins}:{query}");
        Ok(Arc::new(QueryReportTable::new(
            Calibration { query, bins },
            fields(),
            &call,
        )))
    }
}

fn fields() -> Vec<Field> {
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    vec![
        Field::new("group_name", DataType::Utf8, false),
        Field::new("bin", DataType::Int64, false),
        float("bin_low"),
        float("bin_high"),
        Field::new("rows", DataType::Int64, false),
        float("mean_score"),
        float("observed_rate"),
        float("gap"),
        float("expected_calibration_error"),
    ]
}

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn TableProvider) -> Option<&str> {
    QueryReportTable::<Calibration>::backing_query(table)
}

#[derive(Debug)]
struct Calibration {
    query: String,
    bins: i64,
}

/// The grouped SQL: scikit-learn's uniform bins, edges k * (1 / bins) as
/// numpy's linspace computes them, each bin (low, high] with 0 in the first
/// (np.searchsorted(edges[1:-1], score)). ceil(score * bins) - 1 is that bin
/// or its neighbour when the product rounds across an edge; one comparison
/// with the exact edges settles it.
fn binned_sql(query: &str, bins: i64) -> String {
    let step = 1.0 / bins as f64;
    let last = bins - 1;
    format!(
        "SELECT arrow_cast(CAST(grp AS VARCHAR), 'Utf8') AS grp, \
           CASE WHEN c > 0 AND s <= CAST(c AS DOUBLE) * {step:?} THEN c - 1 \
                WHEN c < {last} AND s > CAST(c + 1 AS DOUBLE) * {step:?} THEN c + 1 \
                ELSE c END AS bin, \
           count(*) AS n, sum(l) AS positives, sum(s) AS score_sum, \
           count(*) FILTER (WHERE l NOT IN (0, 1)) AS bad_labels, \
           count(*) FILTER (WHERE NOT (s >= 0 AND s <= 1)) AS bad_scores \
         FROM (SELECT grp, l, s, \
                 least(greatest(CAST(ceil(s * {bins}) AS BIGINT) - 1, 0), {last}) AS c \
               FROM (SELECT grp, CAST(label AS DOUBLE) AS l, CAST(score AS DOUBLE) AS s \
                     FROM ({query}) AS input(grp, label, score)) \
               WHERE grp IS NOT NULL AND l IS NOT NULL AND s IS NOT NULL) \
         GROUP BY 1, 2"
    )
}

/// (rows, positives, score sum) per group and bin.
type Cells = BTreeMap<String, BTreeMap<i64, (i64, f64, f64)>>;

fn calibration_rows(cells: &Cells, bins: i64, schema: &SchemaRef) -> Result<RecordBatch> {
    let step = 1.0 / bins as f64;
    let (mut names, mut bin_numbers, mut rows) = (Vec::new(), Vec::new(), Vec::new());
    // bin_low, bin_high, mean_score, observed_rate, gap, ECE.
    let mut values: [Vec<f64>; 6] = Default::default();
    for (group, group_bins) in cells {
        let total: i64 = group_bins.values().map(|c| c.0).sum();
        let ece: f64 = group_bins
            .values()
            .map(|(n, positives, score_sum)| {
                (*n as f64 / total as f64) * (positives / *n as f64 - score_sum / *n as f64).abs()
            })
            .sum();
        for (bin, (n, positives, score_sum)) in group_bins {
            let (mean, observed) = (score_sum / *n as f64, positives / *n as f64);
            names.push(group.as_str());
            bin_numbers.push(*bin);
            rows.push(*n);
            let high = if *bin == bins - 1 {
                1.0
            } else {
                (*bin + 1) as f64 * step
            };
            let row = [
                *bin as f64 * step,
                high,
                mean,
                observed,
                observed - mean,
                ece,
            ];
            for (column, value) in values.iter_mut().zip(row) {
                column.push(value);
            }
        }
    }
    let [low, high, mean, observed, gap, ece] = values;
    let float = |v: Vec<f64>| -> ArrayRef { Arc::new(Float64Array::from(v)) };
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(Int64Array::from(bin_numbers)),
        float(low),
        float(high),
        Arc::new(Int64Array::from(rows)),
        float(mean),
        float(observed),
        float(gap),
        float(ece),
    ];
    Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
}

#[async_trait]
impl QueryReport for Calibration {
    fn query(&self) -> &str {
        &self.query
    }

    async fn rows(&self, state: &dyn Session, schema: &SchemaRef) -> Result<RecordBatch> {
        let batches = collect_query(
            state,
            NAME,
            &binned_sql(&self.query, self.bins),
            "three columns (group, label 0/1, score in [0, 1])",
        )
        .await?;
        let mut cells = Cells::new();
        for batch in batches {
            let groups = batch.column(0).as_string::<i32>();
            let int = |i: usize| batch.column(i).as_primitive::<Int64Type>();
            let float = |i: usize| batch.column(i).as_primitive::<Float64Type>();
            let (bin, n, positives, score_sum) = (int(1), int(2), float(3), float(4));
            for row in 0..batch.num_rows() {
                if int(5).value(row) > 0 {
                    return exec_err!(
                        "{NAME}: the label (the query's second column) must be 0 or 1 (1 = the event the score predicts)"
                    );
                }
                if int(6).value(row) > 0 {
                    return exec_err!(
                        "{NAME}: the score (the query's third column) must be a probability between 0 and 1"
                    );
                }
                cells
                    .entry(groups.value(row).to_string())
                    .or_default()
                    .insert(
                        bin.value(row),
                        (n.value(row), positives.value(row), score_sum.value(row)),
                    );
            }
        }
        calibration_rows(&cells, self.bins, schema)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "Calibration by group: the query returns (group, label, score) with score a predicted \
         probability of the label's event (a PD for label = defaulted). Scores are cut into \
         `bins` equal-width bins over [0, 1] (default 10; bin k is (k/bins, (k+1)/bins], 0 \
         in the first) and each non-empty (group, bin) gives rows, mean_score, observed_rate \
         and gap = observed_rate - mean_score - per group, scikit-learn's \
         calibration_curve(label, score, n_bins=bins, strategy='uniform') (prob_pred, \
         prob_true). expected_calibration_error is the group's row-weighted mean |gap|, on \
         every row of the group, so a policy can bound it or its spread between groups. Rows \
         with a NULL are skipped; a label other than 0/1 or a score outside [0, 1] is an error.",
        "calibration_by_group(query [, bins])",
    )
    .with_sql_example(
        r#"```sql
> SELECT group_name, bin, rows, round(mean_score, 3) AS predicted, round(observed_rate, 3) AS observed
  FROM calibration_by_group('SELECT gender, defaulted, model_score FROM loans', 5);
```"#,
    )
    .with_argument(
        "query",
        "SQL returning (group, label 0/1, score in [0, 1]), one row per prediction.",
    )
    .with_argument(
        "bins",
        "Number of equal-width score bins (1 to 1000, default 10).",
    )
    .build()
});
