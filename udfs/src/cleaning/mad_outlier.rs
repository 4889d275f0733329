//! `mad_outlier(x [, threshold]) OVER (PARTITION BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

use datafusion::arrow::array::{BooleanArray, Float64Array};

use crate::quantile::{median_and_scaled_mad, sort_values};

/// |robust z-score| above `threshold`: the same median and scaled MAD as
/// robust_zscore.
pub fn mad_outliers(x: &Float64Array, mut present: Vec<f64>, threshold: f64) -> BooleanArray {
    sort_values(&mut present);
    match median_and_scaled_mad(&present) {
        Some((median, spread)) if spread > 0.0 => {
            super::partition::flags(x, |v| ((v - median) / spread).abs() > threshold)
        }
        // Half the values or more are equal: anything else is far away.
        Some((median, _)) => super::partition::flags(x, |v| v != median),
        None => super::partition::flags(x, |_| false),
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "MAD outlier fence: true where the robust z-score |x - median| / (MAD / 0.6745) of x within its window partition exceeds threshold (3.5 unless given, Iglewicz and Hoaglin's rule); the same kernel as robust_zscore. When half the values or more are equal (MAD 0), every other value is flagged. NULL where x is NULL. Errors on a threshold that is not positive and on an infinite x.",
        "mad_outlier(x [, threshold]) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT x, mad_outlier(x) OVER () AS outlier FROM (VALUES (10.0), (11.0), (12.0), (13.0), (60.0)) AS t(x) ORDER BY x DESC LIMIT 2;
+------+---------+
| x    | outlier |
+------+---------+
| 60.0 | true    |
| 13.0 | false   |
+------+---------+
```"#,
    )
    .with_argument("x", "Numeric column.")
    .with_argument("threshold", "Robust z-score above which a value is flagged, 3.5 unless given.")
    .build()
});
