//! `impute_mean(x) OVER (PARTITION BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

/// Mean of the present values; None when there are none.
pub fn mean(present: &[f64]) -> Option<f64> {
    (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Mean imputation: x where it is present, else the mean of the non-NULL x in the window partition (the whole partition; the frame is ignored), as pandas' x.fillna(x.mean()) per group. NULL when the partition has no value. Mark what was filled with `x IS NULL AS x_imputed` beside it. Errors on an infinite x.",
        "impute_mean(x) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT segment, income, impute_mean(income) OVER (PARTITION BY segment) AS filled
  FROM (VALUES ('a', 10.0), ('a', NULL), ('a', 20.0)) AS t(segment, income);
+---------+--------+--------+
| segment | income | filled |
+---------+--------+--------+
| a       | 10.0   | 10.0   |
| a       | NULL   | 15.0   |
| a       | 20.0   | 20.0   |
+---------+--------+--------+
```"#,
    )
    .with_argument("x", "Numeric column with gaps.")
    .build()
});
