//! `iqr_outlier(x [, k]) OVER (PARTITION BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

use datafusion::arrow::array::{BooleanArray, Float64Array};

use crate::quantile::{quantile_sorted, sort_values};

/// Tukey's fences: x below Q1 - k IQR or above Q3 + k IQR, with numpy's
/// quartiles of the partition.
pub fn iqr_outliers(x: &Float64Array, mut present: Vec<f64>, k: f64) -> BooleanArray {
    sort_values(&mut present);
    match (
        quantile_sorted(&present, 0.25),
        quantile_sorted(&present, 0.75),
    ) {
        (Some(q1), Some(q3)) => {
            let (low, high) = (q1 - k * (q3 - q1), q3 + k * (q3 - q1));
            super::partition::flags(x, |v| v < low || v > high)
        }
        _ => super::partition::flags(x, |_| false),
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Tukey's outlier fences: true where x is below Q1 - k * IQR or above Q3 + k * IQR, with Q1 and Q3 numpy's (linear) quartiles of the window partition; k defaults to 1.5 (3 for 'far out'). NULL where x is NULL. Errors on a k that is not positive and on an infinite x.",
        "iqr_outlier(x [, k]) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT x, iqr_outlier(x) OVER () AS outlier FROM (VALUES (1.0), (2.0), (3.0), (4.0), (100.0)) AS t(x) ORDER BY x DESC LIMIT 2;
+-------+---------+
| x     | outlier |
+-------+---------+
| 100.0 | true    |
| 4.0   | false   |
+-------+---------+
```"#,
    )
    .with_argument("x", "Numeric column.")
    .with_argument("k", "Multiple of the interquartile range, 1.5 unless given.")
    .build()
});
