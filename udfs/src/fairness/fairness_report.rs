//! `fairness_report(query, reference_group [, max_gap [, min_ratio [, min_group_size]]])`:
//! one row per group with its rates and its gaps to a reference group, and
//! a pass/fail a CI script can ASSERT on.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::Documentation;

use super::group_rates::{Confusion, GroupRates};
use crate::query_table::{
    QueryReport, QueryReportTable, collect_query, literal, number, query_argument,
};

const NAME: &str = "fairness_report";
const DEFAULT_MAX_GAP: f64 = 0.1;
const DEFAULT_MIN_RATIO: f64 = 0.8;
const DEFAULT_MIN_GROUP_SIZE: i64 = 30;

/// SQL `fairness_report`.
#[derive(Debug, Default)]
pub struct FairnessReportFunc;

#[derive(Debug, Clone, PartialEq)]
struct Thresholds {
    max_gap: f64,
    min_ratio: f64,
    min_group_size: i64,
}

impl TableFunctionImpl for FairnessReportFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=5).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} expects 2 to 5 arguments ('SELECT group, label, prediction FROM ...', \
                 reference_group [, max_gap [, min_ratio [, min_group_size]]]), got {}",
                exprs.len()
            );
        }
        let query = query_argument(
            NAME,
            &exprs[0],
            "SELECT gender, repaid, approved FROM loans",
        )?;
        let reference = match literal(NAME, &exprs[1])? {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => s,
            ScalarValue::Int64(Some(n)) => n.to_string(),
            other => {
                return plan_err!(
                    "{NAME}: argument 'reference_group' must be the group's value as text, got {other}"
                );
            }
        };
        let share = |i: usize, argument: &str, default: f64| -> Result<f64> {
            match exprs.get(i) {
                None => Ok(default),
                Some(e) => {
                    let v = number(NAME, argument, e)?;
                    if (0.0..=1.0).contains(&v) {
                        Ok(v)
                    } else {
                        plan_err!("{NAME}: argument '{argument}' must be between 0 and 1, got {v}")
                    }
                }
            }
        };
        let thresholds = Thresholds {
            max_gap: share(2, "max_gap", DEFAULT_MAX_GAP)?,
            min_ratio: share(3, "min_ratio", DEFAULT_MIN_RATIO)?,
            min_group_size: match exprs.get(4).map(|e| literal(NAME, e)).transpose()? {
                None => DEFAULT_MIN_GROUP_SIZE,
                Some(ScalarValue::Int64(Some(n))) if n >= 1 => n,
                Some(other) => {
                    return plan_err!(
                        "{NAME}: argument 'min_group_size' must be a whole number >= 1, got {other}"
                    );
                }
            },
        };
        let call = format!("{reference}:{thresholds:?}:{query}");
        Ok(Arc::new(QueryReportTable::new(
            FairnessReport {
                query,
                reference,
                thresholds,
            },
            report_fields(),
            &call,
        )))
    }
}

fn report_fields() -> Vec<Field> {
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    vec![
        Field::new("group_name", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("positives", DataType::Int64, false),
        float("base_rate"),
        Field::new("selected", DataType::Int64, false),
        float("selection_rate"),
        float("true_positive_rate"),
        float("false_positive_rate"),
        float("precision"),
        float("selection_rate_gap"),
        float("disparate_impact"),
        float("true_positive_rate_gap"),
        float("false_positive_rate_gap"),
        float("precision_gap"),
        Field::new("too_small", DataType::Boolean, false),
        Field::new("passed", DataType::Boolean, true),
        Field::new("all_passed", DataType::Boolean, false),
    ]
}

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn TableProvider) -> Option<&str> {
    QueryReportTable::<FairnessReport>::backing_query(table)
}

#[derive(Debug)]
struct FairnessReport {
    query: String,
    reference: String,
    thresholds: Thresholds,
}

/// Confusion counts per group, by one grouped SQL aggregate over the
/// caller's query (so the counting is DataFusion's vectorized, parallel
/// GROUP BY); errors on a label or prediction other than 0/1.
async fn count_groups(state: &dyn Session, query: &str) -> Result<GroupRates> {
    let sql = format!(
        "SELECT arrow_cast(CAST(grp AS VARCHAR), 'Utf8') AS grp, \
           count(*) FILTER (WHERE l = 1 AND p = 1) AS tp, \
           count(*) FILTER (WHERE l = 0 AND p = 1) AS fp, \
           count(*) FILTER (WHERE l = 1 AND p = 0) AS fn, \
           count(*) FILTER (WHERE l = 0 AND p = 0) AS tn, \
           count(*) FILTER (WHERE l NOT IN (0, 1)) AS bad_labels, \
           count(*) FILTER (WHERE p NOT IN (0, 1)) AS bad_predictions \
         FROM (SELECT grp, CAST(label AS DOUBLE) AS l, CAST(prediction AS DOUBLE) AS p \
               FROM ({query}) AS input(grp, label, prediction)) \
         WHERE grp IS NOT NULL AND l IS NOT NULL AND p IS NOT NULL \
         GROUP BY 1"
    );
    let batches = collect_query(
        state,
        NAME,
        &sql,
        "three columns (group, label 0/1, prediction 0/1)",
    )
    .await?;
    let mut groups = GroupRates::new();
    for batch in batches {
        let names = batch.column(0).as_string::<i32>();
        let count = |i: usize| batch.column(i).as_primitive::<Int64Type>();
        let (tp, fp, fn_, tn) = (count(1), count(2), count(3), count(4));
        for row in 0..batch.num_rows() {
            if count(5).value(row) > 0 {
                return exec_err!(
                    "{NAME}: the label (the query's second column) must be 0 or 1 (1 = the favourable outcome happened)"
                );
            }
            if count(6).value(row) > 0 {
                return exec_err!(
                    "{NAME}: the prediction (the query's third column) must be 0 or 1 (1 = granted)"
                );
            }
            let c = |a: &Int64Array| a.value(row) as u64;
            groups.insert(
                names.value(row).to_string(),
                Confusion {
                    true_positives: c(tp),
                    false_positives: c(fp),
                    false_negatives: c(fn_),
                    true_negatives: c(tn),
                },
            );
        }
    }
    Ok(groups)
}

fn gap(value: Option<f64>, reference: Option<f64>) -> Option<f64> {
    Some(value? - reference?)
}

fn report(
    groups: &GroupRates,
    reference: &str,
    thresholds: &Thresholds,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let Some(base) = groups.get(reference) else {
        let mut names: Vec<&str> = groups.keys().map(String::as_str).collect();
        names.sort_unstable();
        return exec_err!(
            "{NAME}: reference group '{reference}' is not in the data (groups: {})",
            names.join(", ")
        );
    };
    if (base.count() as i64) < thresholds.min_group_size {
        return exec_err!(
            "{NAME}: reference group '{reference}' has {} rows, fewer than min_group_size {}",
            base.count(),
            thresholds.min_group_size
        );
    }
    let mut names: Vec<&String> = groups.keys().collect();
    names.sort_unstable();
    let mut columns: Vec<Vec<Option<f64>>> = vec![Vec::new(); 10];
    let (mut rows, mut positives, mut selected) = (Vec::new(), Vec::new(), Vec::new());
    let (mut too_small, mut passed) = (Vec::new(), Vec::new());
    for name in &names {
        let g = &groups[*name];
        let small = (g.count() as i64) < thresholds.min_group_size;
        let rates = [
            g.selection_rate(),
            g.true_positive_rate(),
            g.false_positive_rate(),
            g.precision(),
        ];
        let (selection_gap, tpr_gap, fpr_gap, precision_gap) = (
            gap(rates[0], base.selection_rate()),
            gap(rates[1], base.true_positive_rate()),
            gap(rates[2], base.false_positive_rate()),
            gap(rates[3], base.precision()),
        );
        let impact = match (rates[0], base.selection_rate()) {
            (Some(s), Some(r)) if r > 0.0 => Some(s / r),
            _ => None,
        };
        let comparable = !small;
        let within = |gap: Option<f64>| gap.is_none_or(|g| g.abs() <= thresholds.max_gap);
        passed.push(comparable.then(|| {
            impact.is_none_or(|i| i >= thresholds.min_ratio) && within(tpr_gap) && within(fpr_gap)
        }));
        rows.push(g.count() as i64);
        positives.push((g.true_positives + g.false_negatives) as i64);
        selected.push((g.true_positives + g.false_positives) as i64);
        too_small.push(small);
        let shown = |v: Option<f64>| if comparable { v } else { None };
        let values = [
            Confusion::ratio_of(g.true_positives + g.false_negatives, g.count()),
            rates[0],
            rates[1],
            rates[2],
            rates[3],
            shown(selection_gap),
            shown(impact),
            shown(tpr_gap),
            shown(fpr_gap),
            shown(precision_gap),
        ];
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    let all_passed = passed.iter().all(|p| p.is_none_or(|p| p));
    let float = |i: usize| -> ArrayRef { Arc::new(Float64Array::from(columns[i].clone())) };
    let int = |v: &Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v.clone())) };
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            names.iter().map(|n| n.as_str()),
        )),
        int(&rows),
        int(&positives),
        float(0),
        int(&selected),
        float(1),
        float(2),
        float(3),
        float(4),
        float(5),
        float(6),
        float(7),
        float(8),
        float(9),
        Arc::new(BooleanArray::from(too_small)),
        Arc::new(BooleanArray::from(passed)),
        Arc::new(BooleanArray::from(vec![all_passed; names.len()])),
    ];
    Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
}

#[async_trait]
impl QueryReport for FairnessReport {
    fn query(&self) -> &str {
        &self.query
    }

    async fn rows(&self, state: &dyn Session, schema: &SchemaRef) -> Result<RecordBatch> {
        let groups = count_groups(state, &self.query).await?;
        report(&groups, &self.reference, &self.thresholds, schema)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "A fairness audit of a model's decisions: the query returns (group, label, prediction) \
         with label 1 when the favourable outcome happened (the loan was repaid) and prediction 1 \
         when the model grants it (approved); rows with a NULL are skipped. One row per group, \
         by group_name: rows, positives, base_rate, selected, selection_rate, \
         true_positive_rate, false_positive_rate, precision (fairlearn's definitions), then the \
         gaps to the reference group (group minus reference: selection_rate_gap, \
         true_positive_rate_gap, false_positive_rate_gap, precision_gap) and disparate_impact \
         (selection rate over the reference's). A group passes when disparate_impact >= \
         min_ratio (default 0.8, the four-fifths rule) and both the TPR and FPR gaps are within \
         max_gap (default 0.1: equalized odds); a group with fewer than min_group_size rows \
         (default 30) is too_small, not compared (gaps and passed NULL). all_passed is the \
         verdict over every compared group, on every row, for an ASSERT. For intersectional \
         groups, concatenate the attributes: sex || '/' || age_band.",
        "fairness_report(query, reference_group [, max_gap [, min_ratio [, min_group_size]]])",
    )
    .with_sql_example(
        r#"```sql
> ASSERT (SELECT bool_and(all_passed) FROM fairness_report(
    'SELECT gender, CAST(NOT defaulted AS INT), CAST(approved AS INT) FROM loans', 'male')),
  'the credit model passes the four-fifths rule and equalized odds by gender';
```"#,
    )
    .with_argument(
        "query",
        "SQL returning (group, label 0/1, prediction 0/1), one row per decision.",
    )
    .with_argument(
        "reference_group",
        "The group the others are compared with, as text.",
    )
    .with_argument(
        "max_gap",
        "Largest allowed TPR and FPR gap (0..1, default 0.1).",
    )
    .with_argument(
        "min_ratio",
        "Smallest allowed disparate impact (0..1, default 0.8).",
    )
    .with_argument(
        "min_group_size",
        "Groups with fewer rows are reported as too small (default 30).",
    )
    .build()
});
