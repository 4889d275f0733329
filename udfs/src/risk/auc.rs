//! `auc(score, label)`: area under the ROC curve.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::roc::ClassScores;

/// P(score of a random event > score of a random non-event), ties counted
/// half: the Mann-Whitney statistic over n1 n0, which is what
/// scikit-learn's `roc_auc_score` computes by the trapezoidal rule. None
/// when either class is empty.
pub fn auc(scores: &ClassScores) -> Option<f64> {
    let (n1, n0) = (scores.positives.len(), scores.negatives.len());
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let mut negatives_below = 0usize;
    let mut wins = 0.0;
    scores.for_each_score(|_, events, non_events| {
        wins += events as f64 * (negatives_below as f64 + 0.5 * non_events as f64);
        negatives_below += non_events;
    });
    Some(wins / (n1 as f64 * n0 as f64))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Area under the ROC curve of a score for a 0/1 label: the probability that a random \
         event (label 1, e.g. a default) scores higher than a random non-event, ties counted \
         half; equal to scikit-learn's roc_auc_score. Higher scores must mean more risk; a \
         score oriented the other way gives 1 - AUC. Rows with a NULL are skipped. NULL when \
         the rows hold only one class (AUC is undefined), so a monthly monitoring query does not \
         fail on a month without defaults. Errors on a label other than 0/1 or a NaN score.",
        "auc(score, label)",
    )
    .with_sql_example(
        r#"```sql
> SELECT auc(score, label) FROM (VALUES (0.1, 0), (0.4, 0), (0.35, 1), (0.8, 1)) AS t(score, label);
+------+
| auc  |
+------+
| 0.75 |
+------+
```"#,
    )
    .with_argument(
        "score",
        "Model score or probability; higher = more likely an event.",
    )
    .with_argument("label", "1 (or true) for an event, 0 (or false) otherwise.")
    .build()
});
