//! `sharpe_ratio(returns, risk_free, periods_per_year)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::series::mean_and_sample_std;

/// mean(r - rf) / std(r - rf, ddof 1) * sqrt(periods_per_year), as
/// empyrical's sharpe_ratio. None below 2 returns or with no variation.
pub fn sharpe_ratio(returns: &[f64], risk_free: f64, periods_per_year: f64) -> Option<f64> {
    let excess: Vec<f64> = returns.iter().map(|r| r - risk_free).collect();
    let (mean, std) = mean_and_sample_std(&excess)?;
    (std > 0.0).then(|| mean / std * periods_per_year.sqrt())
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Annualised Sharpe ratio of periodic returns: mean(r - risk_free) / sd(r - risk_free) * \
         sqrt(periods_per_year), sd with ddof = 1, as empyrical's sharpe_ratio (risk_free is per \
         period; periods_per_year 252 for daily, 52 weekly, 12 monthly). NULL with fewer than 2 \
         rows or returns with no variation. Rows with a NULL are skipped.",
        "sharpe_ratio(returns, risk_free, periods_per_year)",
    )
    .with_sql_example(
        r#"```sql
> SELECT symbol, sharpe_ratio(ret, 0, 252) FROM daily_returns GROUP BY symbol;
```"#,
    )
    .with_argument("returns", "Simple return per period.")
    .with_argument("risk_free", "Constant risk-free return per period.")
    .with_argument("periods_per_year", "Constant periods per year, e.g. 252.")
    .build()
});
