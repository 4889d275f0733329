//! `demographic_parity_ratio(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::group_rates::{Confusion, GroupRates, extremes};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn demographic_parity_ratio(groups: &GroupRates) -> Option<f64> {
    let (min, max) = extremes(groups, Confusion::selection_rate)?;
    (max > 0.0).then(|| min / max)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Demographic parity ratio, or disparate impact: the smallest selection rate divided by the largest, as fairlearn's demographic_parity_ratio. Below 0.8 fails the US four-fifths rule of adverse impact. NULL when no group is ever selected. The label is not used. Rows with a NULL are skipped; NULL on no rows. Errors on a label or prediction other than 0/1.",
        "demographic_parity_ratio(group, label, prediction)",
    )
    .with_sql_example(
        r#"```sql
> SELECT demographic_parity_ratio(sex, repaid, approved) AS gap
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
