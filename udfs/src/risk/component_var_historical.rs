//! `component_var_historical(position_pnl, portfolio_pnl, confidence)`: a
//! position's share of its portfolio's historical VaR.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use crate::quantile::{lerp, virtual_index};

/// The position's loss in the scenario that sets the portfolio's
/// var_historical: days ordered by portfolio P&L (ties by the position's),
/// the same two order statistics and weight as numpy's linear quantile of
/// the portfolio P&L, applied to the position's P&L. Components add up to
/// the portfolio's var_historical.
pub fn component_var_historical(pairs: &[f64], confidence: f64) -> Option<f64> {
    let n = pairs.len() / 2;
    if n == 0 {
        return None;
    }
    let mut days: Vec<(f64, f64)> = pairs
        .chunks_exact(2)
        .map(|r| (r[1] + 0.0, r[0] + 0.0))
        .collect();
    days.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let (lower, upper, fraction) = virtual_index(n, 1.0 - confidence);
    // 0 - x rather than -x: no -0.0 for a position flat on the day.
    Some(0.0 - lerp(days[lower].1, days[upper].1, fraction))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Component VaR of a position under historical simulation: its loss in the scenario \
         (day) that sets the portfolio's var_historical. Each row is one day: the position's \
         P&L and the whole portfolio's P&L that day. Days are ordered by the portfolio's P&L \
         and the position's P&L is interpolated between the same two days with the same weight \
         as numpy's linear quantile at 1 - confidence, so the components of a portfolio's \
         positions add up to var_historical of its P&L. One or two days decide it, so it moves \
         more from one window to the next than component_var. NULL when there are no rows.",
        "component_var_historical(position_pnl, portfolio_pnl, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT symbol, component_var_historical(pnl, total, 0.5) AS component
  FROM (SELECT symbol, pnl, sum(pnl) OVER (PARTITION BY day) AS total
        FROM (VALUES ('A', 1, 10.0), ('B', 1, -4.0), ('A', 2, -10.0), ('B', 2, 2.0),
                     ('A', 3, 5.0), ('B', 3, 0.0)) AS t(symbol, day, pnl))
  GROUP BY symbol ORDER BY symbol;
+--------+-----------+
| symbol | component |
+--------+-----------+
| A      | -5.0      |
| B      | 0.0       |
+--------+-----------+
```"#,
    )
    .with_argument(
        "position_pnl",
        "The position's P&L on the day (losses negative).",
    )
    .with_argument(
        "portfolio_pnl",
        "The P&L of the whole portfolio on the same day.",
    )
    .with_argument("confidence", "The VaR's confidence level, such as 0.99.")
    .build()
});
