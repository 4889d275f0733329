//! `zscore(x) OVER (...)`: standard score within a window.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

/// Mean and population standard deviation (ddof = 0, scipy.stats.zscore's
/// default); None when empty.
pub fn mean_and_std(values: &[f64]) -> Option<(f64, f64)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    Some((mean, variance.sqrt()))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Standard score of each row within its window frame: (x - mean) / sd over the frame's \
         non-NULL values, sd the population standard deviation (ddof = 0, as \
         scipy.stats.zscore). With OVER (PARTITION BY card) the frame is the card's whole \
         history; with ORDER BY and a ROWS frame it is a rolling score. NULL for a NULL x or a \
         frame with no spread. For data with outliers prefer robust_zscore.",
        "zscore(x) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT x, zscore(x) OVER () AS z FROM (VALUES (1), (2), (3)) AS t(x);
+---+---------------------+
| x | z                   |
+---+---------------------+
| 1 | -1.2247448713915890 |
| 2 | 0.0                 |
| 3 | 1.2247448713915890  |
+---+---------------------+
```"#,
    )
    .with_argument("x", "Numeric value, e.g. a transaction amount.")
    .build()
});
