//! `group_thresholds(query, constraint [, target])`: one decision threshold
//! per group so that every group has the same selection rate
//! (demographic parity) or true positive rate (equal opportunity), with the
//! before/after effect on each group's rates and accuracy.

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

use crate::query_table::{
    QueryReport, QueryReportTable, collect_query, literal, number, query_argument,
};

const NAME: &str = "group_thresholds";

/// The rate equalised across groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    SelectionRate,
    TruePositiveRate,
}

impl Constraint {
    fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "selection_rate" | "demographic_parity" => Some(Self::SelectionRate),
            "true_positive_rate" | "equal_opportunity" => Some(Self::TruePositiveRate),
            _ => None,
        }
    }
}

/// SQL `group_thresholds`.
#[derive(Debug, Default)]
pub struct GroupThresholdsFunc;

impl TableFunctionImpl for GroupThresholdsFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=3).contains(&exprs.len()) {
            return plan_err!(
                "{NAME} expects 2 or 3 arguments ('SELECT group, label, score, decision FROM ...', \
                 constraint [, target]), got {}",
                exprs.len()
            );
        }
        let query = query_argument(
            NAME,
            &exprs[0],
            "SELECT gender, NOT defaulted, 1 - model_score, approved FROM loans",
        )?;
        let constraint = match literal(NAME, &exprs[1])? {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => Constraint::parse(&s),
            _ => None,
        };
        let Some(constraint) = constraint else {
            return plan_err!(
                "{NAME}: argument 'constraint' must be 'selection_rate' (demographic parity) or \
                 'true_positive_rate' (equal opportunity)"
            );
        };
        let target = match exprs.get(2) {
            None => None,
            Some(e) => {
                let v = number(NAME, "target", e)?;
                if !(0.0..=1.0).contains(&v) {
                    return plan_err!("{NAME}: argument 'target' must be between 0 and 1, got {v}");
                }
                Some(v)
            }
        };
        let call = format!("{constraint:?}:{target:?}:{query}");
        Ok(Arc::new(QueryReportTable::new(
            GroupThresholds {
                query,
                constraint,
                target,
            },
            fields(),
            &call,
        )))
    }
}

fn fields() -> Vec<Field> {
    let float = |name: &str| Field::new(name, DataType::Float64, true);
    vec![
        Field::new("group_name", DataType::Utf8, false),
        Field::new("rows", DataType::Int64, false),
        Field::new("positives", DataType::Int64, false),
        float("threshold"),
        float("target"),
        float("selection_rate_before"),
        float("selection_rate_after"),
        float("true_positive_rate_before"),
        float("true_positive_rate_after"),
        float("false_positive_rate_before"),
        float("false_positive_rate_after"),
        float("accuracy_before"),
        float("accuracy_after"),
    ]
}

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn TableProvider) -> Option<&str> {
    QueryReportTable::<GroupThresholds>::backing_query(table)
}

#[derive(Debug)]
struct GroupThresholds {
    query: String,
    constraint: Constraint,
    target: Option<f64>,
}

/// Rows sharing one score in one group: (rows, positives, decided 1, true
/// positives among the decided).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ScoreCounts {
    pub rows: i64,
    pub positives: i64,
    pub decided: i64,
    pub decided_positives: i64,
}

/// A group's counts at each distinct score, highest score first.
pub type ScoreTable = Vec<(f64, ScoreCounts)>;

/// A group's decisions summarised: rows, positives, selected and true
/// positives among them.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Outcome {
    rows: i64,
    positives: i64,
    selected: i64,
    true_positives: i64,
}

impl Outcome {
    fn ratio(a: i64, b: i64) -> Option<f64> {
        (b > 0).then(|| a as f64 / b as f64)
    }

    fn selection_rate(&self) -> Option<f64> {
        Self::ratio(self.selected, self.rows)
    }

    fn true_positive_rate(&self) -> Option<f64> {
        Self::ratio(self.true_positives, self.positives)
    }

    fn false_positive_rate(&self) -> Option<f64> {
        Self::ratio(
            self.selected - self.true_positives,
            self.rows - self.positives,
        )
    }

    fn accuracy(&self) -> Option<f64> {
        let true_negatives = (self.rows - self.positives) - (self.selected - self.true_positives);
        Self::ratio(self.true_positives + true_negatives, self.rows)
    }

    fn rate(&self, constraint: Constraint) -> Option<f64> {
        match constraint {
            Constraint::SelectionRate => self.selection_rate(),
            Constraint::TruePositiveRate => self.true_positive_rate(),
        }
    }
}

/// The highest threshold t (select score >= t) whose rate is closest to
/// `target`, among the group's distinct scores and +infinity (select
/// nobody), with the outcome it gives. The highest of equally close
/// thresholds selects the fewest, which for a TPR target means the lowest
/// false positive rate. None when the rate is undefined (a TPR target in a
/// group without positives).
pub fn threshold_for(
    scores: &ScoreTable,
    constraint: Constraint,
    target: f64,
) -> Option<(f64, i64, i64)> {
    let rows: i64 = scores.iter().map(|(_, c)| c.rows).sum();
    let positives: i64 = scores.iter().map(|(_, c)| c.positives).sum();
    let outcome = |selected, true_positives| Outcome {
        rows,
        positives,
        selected,
        true_positives,
    };
    let mut best = (f64::INFINITY, 0, 0);
    let mut best_distance = (outcome(0, 0).rate(constraint)? - target).abs();
    let (mut selected, mut true_positives) = (0, 0);
    for (score, counts) in scores {
        selected += counts.rows;
        true_positives += counts.positives;
        let distance = (outcome(selected, true_positives).rate(constraint)? - target).abs();
        if distance < best_distance {
            best_distance = distance;
            best = (*score, selected, true_positives);
        }
    }
    Some(best)
}

fn grouped_sql(query: &str) -> String {
    format!(
        "SELECT arrow_cast(CAST(grp AS VARCHAR), 'Utf8') AS grp, s, count(*) AS n, \
           CAST(sum(l) AS BIGINT) AS positives, CAST(sum(d) AS BIGINT) AS decided, \
           CAST(sum(l * d) AS BIGINT) AS decided_positives, \
           count(*) FILTER (WHERE l NOT IN (0, 1)) AS bad_labels, \
           count(*) FILTER (WHERE d NOT IN (0, 1)) AS bad_decisions, \
           count(*) FILTER (WHERE isnan(s)) AS bad_scores \
         FROM (SELECT grp, CAST(label AS DOUBLE) AS l, CAST(score AS DOUBLE) AS s, \
                      CAST(decision AS DOUBLE) AS d \
               FROM ({query}) AS input(grp, label, score, decision)) \
         WHERE grp IS NOT NULL AND l IS NOT NULL AND s IS NOT NULL AND d IS NOT NULL \
         GROUP BY 1, 2"
    )
}

fn thresholds(
    groups: &BTreeMap<String, ScoreTable>,
    constraint: Constraint,
    target: Option<f64>,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let before = |scores: &ScoreTable| Outcome {
        rows: scores.iter().map(|(_, c)| c.rows).sum(),
        positives: scores.iter().map(|(_, c)| c.positives).sum(),
        selected: scores.iter().map(|(_, c)| c.decided).sum(),
        true_positives: scores.iter().map(|(_, c)| c.decided_positives).sum(),
    };
    // The default target keeps the current overall rate.
    let target = match target {
        Some(t) => Some(t),
        None => {
            let all = groups.values().map(before).fold(
                Outcome {
                    rows: 0,
                    positives: 0,
                    selected: 0,
                    true_positives: 0,
                },
                |a, b| Outcome {
                    rows: a.rows + b.rows,
                    positives: a.positives + b.positives,
                    selected: a.selected + b.selected,
                    true_positives: a.true_positives + b.true_positives,
                },
            );
            all.rate(constraint)
        }
    };
    let (mut names, mut rows, mut positives) = (Vec::new(), Vec::new(), Vec::new());
    let mut values: Vec<Vec<Option<f64>>> = vec![Vec::new(); 10];
    for (name, scores) in groups {
        let was = before(scores);
        let chosen = target.and_then(|t| threshold_for(scores, constraint, t));
        let after = chosen.map(|(_, selected, true_positives)| Outcome {
            selected,
            true_positives,
            ..was
        });
        names.push(name.as_str());
        rows.push(was.rows);
        positives.push(was.positives);
        let row = [
            chosen.map(|c| c.0),
            target,
            was.selection_rate(),
            after.and_then(|a| a.selection_rate()),
            was.true_positive_rate(),
            after.and_then(|a| a.true_positive_rate()),
            was.false_positive_rate(),
            after.and_then(|a| a.false_positive_rate()),
            was.accuracy(),
            after.and_then(|a| a.accuracy()),
        ];
        for (column, value) in values.iter_mut().zip(row) {
            column.push(value);
        }
    }
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(names)),
        Arc::new(Int64Array::from(rows)),
        Arc::new(Int64Array::from(positives)),
    ];
    arrays.extend(
        values
            .into_iter()
            .map(|v| Arc::new(Float64Array::from(v)) as ArrayRef),
    );
    Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
}

#[async_trait]
impl QueryReport for GroupThresholds {
    fn query(&self) -> &str {
        &self.query
    }

    async fn rows(&self, state: &dyn Session, schema: &SchemaRef) -> Result<RecordBatch> {
        let batches = collect_query(
            state,
            NAME,
            &grouped_sql(&self.query),
            "four columns (group, label 0/1, score, decision 0/1)",
        )
        .await?;
        let mut groups: BTreeMap<String, ScoreTable> = BTreeMap::new();
        for batch in batches {
            let names = batch.column(0).as_string::<i32>();
            let scores = batch.column(1).as_primitive::<Float64Type>();
            let int = |i: usize| batch.column(i).as_primitive::<Int64Type>();
            for row in 0..batch.num_rows() {
                let problems = [
                    (
                        6,
                        "the label (the query's second column) must be 0 or 1 (1 = the favourable outcome happened)",
                    ),
                    (
                        7,
                        "the decision (the query's fourth column) must be 0 or 1 (1 = granted)",
                    ),
                    (
                        8,
                        "the score (the query's third column) must be a number, got NaN",
                    ),
                ];
                for (column, message) in problems {
                    if int(column).value(row) > 0 {
                        return exec_err!("{NAME}: {message}");
                    }
                }
                groups
                    .entry(names.value(row).to_string())
                    .or_default()
                    .push((
                        scores.value(row),
                        ScoreCounts {
                            rows: int(2).value(row),
                            positives: int(3).value(row),
                            decided: int(4).value(row),
                            decided_positives: int(5).value(row),
                        },
                    ));
            }
        }
        for scores in groups.values_mut() {
            scores.sort_by(|a, b| b.0.total_cmp(&a.0));
        }
        thresholds(&groups, self.constraint, self.target, schema)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "Post-processing mitigation, like fairlearn's ThresholdOptimizer in its simplest \
         (deterministic) form: the query returns (group, label, score, decision) with label 1 \
         when the favourable outcome happened, score higher for more deserving (for a PD, pass \
         1 - pd) and decision the current 0/1 decision. For each group it picks the threshold \
         t (grant when score >= t) whose rate is closest to target - the highest such t, which \
         for a TPR target also gives the lowest false positive rate: constraint \
         'selection_rate' (demographic parity) or 'true_positive_rate' (equal opportunity); \
         target defaults to the current decisions' overall rate, so the overall approval \
         volume stays about the same. One row per group: rows, positives, threshold (Infinity \
         = grant nobody; NULL for a TPR target in a group without positives), target, and the \
         selection rate, TPR, FPR and accuracy before (the current decisions) and after (the \
         new thresholds). Join the thresholds back to apply them, and run fairness_report on \
         the new decisions. Rows with a NULL are skipped.",
        "group_thresholds(query, constraint [, target])",
    )
    .with_sql_example(
        r#"```sql
> CREATE TABLE thresholds AS SELECT * FROM group_thresholds(
    'SELECT gender, NOT defaulted, 1 - model_score, approved FROM loans', 'selection_rate');
> SELECT l.loan_id, 1 - l.model_score >= t.threshold AS approved_fair
  FROM loans l JOIN thresholds t ON l.gender = t.group_name;
```"#,
    )
    .with_argument(
        "query",
        "SQL returning (group, label 0/1, score, current decision 0/1), one row per applicant.",
    )
    .with_argument(
        "constraint",
        "'selection_rate' (demographic parity) or 'true_positive_rate' (equal opportunity).",
    )
    .with_argument(
        "target",
        "The rate every group should have (0..1); default: the current overall rate.",
    )
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(f64, i64, i64)]) -> ScoreTable {
        rows.iter()
            .map(|&(s, n, p)| {
                (
                    s,
                    ScoreCounts {
                        rows: n,
                        positives: p,
                        ..Default::default()
                    },
                )
            })
            .collect()
    }

    #[test]
    fn thresholds_hit_the_closest_rate_from_the_top() {
        // Scores 0.9 (2 rows, 2 positives), 0.6 (1, 0), 0.4 (2, 1), 0.1 (5, 0):
        // selection rates 0.2, 0.3, 0.5, 1.0 at thresholds 0.9, 0.6, 0.4, 0.1.
        let scores = table(&[(0.9, 2, 2), (0.6, 1, 0), (0.4, 2, 1), (0.1, 5, 0)]);
        let rate = Constraint::SelectionRate;
        assert_eq!(threshold_for(&scores, rate, 0.3), Some((0.6, 3, 2)));
        assert_eq!(threshold_for(&scores, rate, 0.45), Some((0.4, 5, 3)));
        assert_eq!(
            threshold_for(&scores, rate, 0.05),
            Some((f64::INFINITY, 0, 0))
        );
        // TPR 2/3 is reached at 0.9 already; 0.6 adds a false positive only.
        let tpr = Constraint::TruePositiveRate;
        assert_eq!(threshold_for(&scores, tpr, 0.7), Some((0.9, 2, 2)));
        assert_eq!(threshold_for(&scores, tpr, 1.0), Some((0.4, 5, 3)));
        // No positives: the TPR is undefined.
        assert_eq!(threshold_for(&table(&[(0.5, 3, 0)]), tpr, 0.5), None);
    }
}
