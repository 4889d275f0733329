//! `winsorize(x, lower_limit, upper_limit) OVER (PARTITION BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

use datafusion::arrow::array::Float64Array;

use crate::quantile::sort_values;

/// scipy.stats.mstats.winsorize(limits=(lower, upper)) of a partition: with
/// n present values, the int(lower n) smallest become the next smallest and
/// the int(upper n) largest the next largest; NULL stays NULL.
pub fn winsorize(x: &Float64Array, mut present: Vec<f64>, lower: f64, upper: f64) -> Float64Array {
    let n = present.len();
    if n == 0 {
        return x.clone();
    }
    sort_values(&mut present);
    let low = present[((lower * n as f64) as usize).min(n - 1)];
    let high_index = n - (upper * n as f64) as usize;
    let high = present[high_index.max(1) - 1];
    x.iter().map(|v| v.map(|v| v.clamp(low, high))).collect()
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Winsorizing: clips each x to its window partition's order statistics so that the share lower_limit of the smallest values and upper_limit of the largest are replaced by the nearest remaining value, as scipy.stats.mstats.winsorize(x, limits=(lower_limit, upper_limit)) (int(limit * n) values on each side, n the non-NULL count). Tames outlier amounts before a mean or a regression. NULL stays NULL. Errors on limits outside [0, 1) or adding to 1 or more, and on an infinite x. For fixed bounds use least(greatest(x, lo), hi).",
        "winsorize(x, lower_limit, upper_limit) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT x, winsorize(x, 0.1, 0.1) OVER () AS w FROM generate_series(1, 10) AS t(x) ORDER BY x LIMIT 2;
+---+-----+
| x | w   |
+---+-----+
| 1 | 2.0 |
| 2 | 2.0 |
+---+-----+
```"#,
    )
    .with_argument("x", "Numeric column.")
    .with_argument("lower_limit", "Share of the smallest values to replace, such as 0.05.")
    .with_argument("upper_limit", "Share of the largest values to replace.")
    .build()
});
