//! `false_negative_rate_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::group_rates::{Confusion, GroupRates, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn false_negative_rate_diff(groups: &GroupRates) -> Option<f64> {
    spread(groups, Confusion::false_negative_rate)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "False-negative-rate difference: the largest minus the smallest share of label-1 rows predicted 0 over the groups, i.e. how unequally deserving applicants are turned down. Equal to the true-positive-rate gap. Groups without label-1 rows are left out. Rows with a NULL are skipped; NULL on no rows. Errors on a label or prediction other than 0/1.",
        "false_negative_rate_diff(group, label, prediction)",
    )
    .with_sql_example(
        r#"```sql
> SELECT false_negative_rate_diff(sex, repaid, approved) AS gap
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
