//! `expected_shortfall(pnl, confidence)`: historical expected shortfall
//! (conditional VaR).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use crate::quantile::quantile_select;

/// -mean(pnl | pnl <= Q(pnl, 1 - confidence)). Reorders `pnl`.
pub fn expected_shortfall(pnl: &mut [f64], confidence: f64) -> Option<f64> {
    let q = quantile_select(pnl, 1.0 - confidence)?;
    // The quantile interpolates upwards from the smallest value, so the tail
    // always holds at least that value. Summed in ascending order, as a
    // sorted sum would be, so results do not depend on the row order.
    let mut tail: Vec<f64> = pnl.iter().copied().filter(|v| *v <= q).collect();
    tail.sort_unstable_by(f64::total_cmp);
    (!tail.is_empty()).then(|| -tail.iter().sum::<f64>() / tail.len() as f64)
}

pub static DOCUMENTATION: LazyLock<Documentation> =
    LazyLock::new(|| {
        Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Historical expected shortfall (conditional VaR): minus the mean of the P&L values at or \
         below the var_historical quantile, quantile(pnl, 1 - confidence) by numpy's linear \
         interpolation. At least var_historical for the same data and confidence. Same NULL and \
         error behaviour as var_historical.",
        "expected_shortfall(pnl, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT expected_shortfall(pnl, 0.75) FROM (VALUES (-4), (-1), (2), (3), (10)) AS t(pnl);
+-----------------------------------------------+
| expected_shortfall(t.pnl,Float64(0.75))       |
+-----------------------------------------------+
| 2.5                                           |
+-----------------------------------------------+
```"#,
    )
    .with_argument("pnl", "Profit and loss (or return) per period; losses negative.")
    .with_argument("confidence", "Constant confidence level in (0, 1), e.g. 0.975.")
    .build()
    });
