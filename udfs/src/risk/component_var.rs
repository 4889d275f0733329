//! `component_var(position_pnl, portfolio_pnl, confidence)`: a position's
//! share of its portfolio's Gaussian (variance-covariance) VaR.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::var_parametric::normal_quantile;

/// Euler's allocation of var_parametric over interleaved (position,
/// portfolio) P&L rows: -(mean_i + z cov(i, p) / sd_p), ddof = 1, so the
/// positions' components add up to the portfolio's var_parametric.
pub fn component_var(pairs: &[f64], confidence: f64) -> Option<f64> {
    let n = pairs.len() / 2;
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let (sum_x, sum_p) = pairs
        .chunks_exact(2)
        .fold((0.0, 0.0), |(x, p), r| (x + r[0], p + r[1]));
    let (mean_x, mean_p) = (sum_x / nf, sum_p / nf);
    let (covariance, variance) = pairs.chunks_exact(2).fold((0.0, 0.0), |(c, v), r| {
        let dp = r[1] - mean_p;
        (c + (r[0] - mean_x) * dp, v + dp * dp)
    });
    if variance <= 0.0 {
        return None;
    }
    let sd_p = (variance / (nf - 1.0)).sqrt();
    let z = normal_quantile(1.0 - confidence);
    Some(-(mean_x + z * (covariance / (nf - 1.0)) / sd_p))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Component VaR of a position under the Gaussian (variance-covariance) model: its share \
         of the portfolio's var_parametric by Euler's allocation, -(mean_i + z cov(position, \
         portfolio) / sd(portfolio)) with z the standard normal quantile at 1 - confidence and \
         sample moments (ddof = 1). Each row is one day: the position's P&L and the whole \
         portfolio's P&L that day (the sum over its positions, from positions x price \
         changes). The components of a portfolio's positions add up to var_parametric of its \
         P&L, which equals sqrt(w' Σ w) VaR from the covariance matrix of the instruments' \
         price changes; component_var / quantity is the marginal VaR per unit of the \
         position. One row per position and day: add up a symbol's lots first. NULL with \
         fewer than 2 days or a constant portfolio P&L.",
        "component_var(position_pnl, portfolio_pnl, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT symbol, round(component_var(pnl, total, 0.99), 2) AS component
  FROM (SELECT symbol, pnl, sum(pnl) OVER (PARTITION BY day) AS total
        FROM (VALUES ('A', 1, 10.0), ('B', 1, -4.0), ('A', 2, -10.0), ('B', 2, 2.0),
                     ('A', 3, 5.0), ('B', 3, 0.0)) AS t(symbol, day, pnl))
  GROUP BY symbol ORDER BY symbol;
+--------+-----------+
| symbol | component |
+--------+-----------+
| A      | 22.16     |
| B      | -4.99     |
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
