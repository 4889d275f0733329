//! `predictive_parity_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::group_rates::{Confusion, GroupRates, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn predictive_parity_diff(groups: &GroupRates) -> Option<f64> {
    spread(groups, Confusion::precision)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Predictive parity difference: the largest minus the smallest precision (share of the rows predicted 1 whose label is 1) over the groups: a favourable prediction should mean the same in every group. Groups with no row predicted 1 are left out. Rows with a NULL are skipped; NULL on no rows. Errors on a label or prediction other than 0/1.",
        "predictive_parity_diff(group, label, prediction)",
    )
    .with_sql_example(
        r#"```sql
> SELECT predictive_parity_diff(sex, repaid, approved) AS gap
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
