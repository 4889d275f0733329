//! `gini(score, label)`: the Gini coefficient (accuracy ratio) of a score.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::auc::auc;
use super::roc::ClassScores;

/// 2 AUC - 1.
pub fn gini(scores: &ClassScores) -> Option<f64> {
    auc(scores).map(|a| 2.0 * a - 1.0)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Gini coefficient (accuracy ratio, Somers' D) of a score for a 0/1 label: 2 * auc - 1, \
         from -1 to 1, 0 for a random score. Same NULL and error behaviour as auc.",
        "gini(score, label)",
    )
    .with_sql_example(
        r#"```sql
> SELECT gini(score, label) FROM (VALUES (0.1, 0), (0.4, 0), (0.35, 1), (0.8, 1)) AS t(score, label);
+------+
| gini |
+------+
| 0.5  |
+------+
```"#,
    )
    .with_argument("score", "Model score or probability; higher = more likely an event.")
    .with_argument("label", "1 (or true) for an event, 0 (or false) otherwise.")
    .build()
});
