//! `sortino_ratio(returns, required_return, periods_per_year)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

/// mean(r - req) * periods / (sqrt(mean(min(r - req, 0)²)) * sqrt(periods)),
/// as empyrical's sortino_ratio. None with no downside.
pub fn sortino_ratio(returns: &[f64], required_return: f64, periods_per_year: f64) -> Option<f64> {
    if returns.is_empty() {
        return None;
    }
    let n = returns.len() as f64;
    let mean = returns.iter().map(|r| r - required_return).sum::<f64>() / n;
    let downside = (returns
        .iter()
        .map(|r| (r - required_return).min(0.0).powi(2))
        .sum::<f64>()
        / n)
        .sqrt()
        * periods_per_year.sqrt();
    (downside > 0.0).then(|| mean * periods_per_year / downside)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Annualised Sortino ratio: mean(r - required_return) * periods_per_year divided by the \
         annualised downside deviation sqrt(mean(min(r - required_return, 0)^2)) * \
         sqrt(periods_per_year), the mean taken over all periods, as empyrical's sortino_ratio. \
         NULL with no rows or no return below required_return.",
        "sortino_ratio(returns, required_return, periods_per_year)",
    )
    .with_sql_example(
        r#"```sql
> SELECT symbol, sortino_ratio(ret, 0, 252) FROM daily_returns GROUP BY symbol;
```"#,
    )
    .with_argument("returns", "Simple return per period.")
    .with_argument(
        "required_return",
        "Constant minimum acceptable return per period.",
    )
    .with_argument("periods_per_year", "Constant periods per year, e.g. 252.")
    .build()
});
