//! `equalized_odds_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::group_rates::{Confusion, GroupRates, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn equalized_odds_diff(groups: &GroupRates) -> Option<f64> {
    let tpr = spread(groups, Confusion::true_positive_rate);
    let fpr = spread(groups, Confusion::false_positive_rate);
    match (tpr, fpr) {
        (Some(t), Some(f)) => Some(t.max(f)),
        (t, f) => t.or(f),
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Equalized odds difference: the larger of the true-positive-rate gap and the false-positive-rate gap between groups, as fairlearn's equalized_odds_difference (agg='worst_case'). Groups without label-1 (label-0) rows are left out of the TPR (FPR) gap. Rows with a NULL are skipped; NULL on no rows. Errors on a label or prediction other than 0/1.",
        "equalized_odds_diff(group, label, prediction)",
    )
    .with_sql_example(
        r#"```sql
> SELECT equalized_odds_diff(sex, repaid, approved) AS gap
  FROM (VALUES ('f', 1, 1), ('f', 0, 1), ('f', 1, 0), ('f', 0, 0),
               ('m', 1, 1), ('m', 1, 1), ('m', 0, 0), ('m', 1, 0)) AS t(sex, repaid, approved);
```"#,
    )
    .with_argument(
        "group",
        "The sensitive attribute (any type; for intersectional groups pass a struct or a concatenation of several columns).",
    )
    .with_argument("label", "1 (or true) when the favourable outcome happened (e.g. the loan was repaid), else 0.")
    .with_argument("prediction", "1 (or true) when the model grants the favourable outcome (e.g. approves), else 0.")
    .build()
});
