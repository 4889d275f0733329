//! `ks_statistic(score, label)`: the Kolmogorov-Smirnov separation of a
//! score's distributions for events and non-events.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::roc::ClassScores;

/// max over thresholds of |F1(s) - F0(s)|, the empirical CDFs of the two
/// classes' scores: the two-sample KS statistic, and, for a score where
/// higher means riskier, max(TPR - FPR) over scikit-learn's ROC curve.
pub fn ks_statistic(scores: &ClassScores) -> Option<f64> {
    let (n1, n0) = (scores.positives.len() as f64, scores.negatives.len() as f64);
    if n1 == 0.0 || n0 == 0.0 {
        return None;
    }
    let (mut events, mut non_events, mut best) = (0usize, 0usize, 0.0f64);
    scores.for_each_score(|_, e, n| {
        events += e;
        non_events += n;
        best = best.max((events as f64 / n1 - non_events as f64 / n0).abs());
    });
    Some(best)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Kolmogorov-Smirnov statistic of a score for a 0/1 label: the largest gap, over all \
         thresholds, between the cumulative score distributions of events and non-events \
         (scipy's ks_2samp statistic). For a score where higher means riskier it equals the \
         maximum of TPR - FPR along scikit-learn's roc_curve. From 0 (no separation) to 1. Same \
         NULL and error behaviour as auc.",
        "ks_statistic(score, label)",
    )
    .with_sql_example(
        r#"```sql
> SELECT ks_statistic(score, label) FROM (VALUES (0.1, 0), (0.4, 0), (0.35, 1), (0.8, 1)) AS t(score, label);
+--------------+
| ks_statistic |
+--------------+
| 0.5          |
+--------------+
```"#,
    )
    .with_argument("score", "Model score or probability; higher = more likely an event.")
    .with_argument("label", "1 (or true) for an event, 0 (or false) otherwise.")
    .build()
});
