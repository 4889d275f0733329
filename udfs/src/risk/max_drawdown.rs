//! `max_drawdown(returns, time)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

/// The worst fall of wealth from its running peak, (W - peak) / peak <= 0,
/// with W compounding the returns in time order from a starting value that
/// counts as the first peak (empyrical's max_drawdown).
pub fn max_drawdown(returns: &[f64], times: &[i64]) -> Option<f64> {
    if returns.is_empty() {
        return None;
    }
    let mut order: Vec<usize> = (0..returns.len()).collect();
    order.sort_by_key(|&i| times[i]);
    let (mut wealth, mut peak, mut worst) = (1.0f64, 1.0f64, 0.0f64);
    for i in order {
        wealth *= 1.0 + returns[i];
        peak = peak.max(wealth);
        worst = worst.min((wealth - peak) / peak);
    }
    Some(worst)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Maximum drawdown of a return series: compounding the simple returns in the order of \
         `time`, the largest fall of wealth from its running peak, (wealth - peak) / peak, a \
         number <= 0 (-0.25 is a 25% fall); the starting wealth counts as a peak, as in \
         empyrical's max_drawdown. `time` (a date, timestamp or sequence number) orders the \
         rows, so no ORDER BY is needed and the result does not depend on how the data are \
         partitioned. NULL when there are no rows.",
        "max_drawdown(returns, time)",
    )
    .with_sql_example(
        r#"```sql
> SELECT max_drawdown(r, d) FROM (VALUES (0.1, 1), (-0.5, 2), (0.2, 3)) AS t(r, d);
+--------------------+
| max_drawdown(t.r,t.d) |
+--------------------+
| -0.5               |
+--------------------+
```"#,
    )
    .with_argument("returns", "Simple return per period.")
    .with_argument(
        "time",
        "Date, timestamp or whole number giving the order of the periods.",
    )
    .build()
});
