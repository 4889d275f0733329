//! `impute_median(x) OVER (PARTITION BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

use crate::quantile::quantile_select;

/// Median of the present values (numpy's), None when there are none.
pub fn median(mut present: Vec<f64>) -> Option<f64> {
    quantile_select(&mut present, 0.5)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Median imputation: x where it is present, else the median of the non-NULL x in the window partition (the whole partition), as pandas' x.fillna(x.median()) per group; robust to the outliers that pull a mean. NULL when the partition has no value. Errors on an infinite x.",
        "impute_median(x) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT income, impute_median(income) OVER () AS filled FROM (VALUES (10.0), (NULL), (20.0), (1000.0)) AS t(income);
+--------+--------+
| income | filled |
+--------+--------+
| 10.0   | 10.0   |
| NULL   | 20.0   |
| 20.0   | 20.0   |
| 1000.0 | 1000.0 |
+--------+--------+
```"#,
    )
    .with_argument("x", "Numeric column with gaps.")
    .build()
});
