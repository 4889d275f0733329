//! `var_cornish_fisher(pnl, confidence)`: Gaussian VaR corrected for skew
//! and fat tails by the Cornish-Fisher expansion.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use super::series::mean_and_sample_std;
use super::var_parametric::normal_quantile;

/// -(mean + std z_cf) with
/// z_cf = z + (z²-1) S/6 + (z³-3z) K/24 - (2z³-5z) S²/36,
/// S and K the sample skewness and excess kurtosis (population moments,
/// scipy's default bias=True).
pub fn var_cornish_fisher(pnl: &[f64], confidence: f64) -> Option<f64> {
    let (mean, std) = mean_and_sample_std(pnl)?;
    let n = pnl.len() as f64;
    let moment = |k: i32| pnl.iter().map(|v| (v - mean).powi(k)).sum::<f64>() / n;
    let m2 = moment(2);
    if m2 == 0.0 {
        return Some(-mean);
    }
    let skew = moment(3) / m2.powf(1.5);
    let kurtosis = moment(4) / (m2 * m2) - 3.0;
    let z = normal_quantile(1.0 - confidence);
    let z_cf = z + (z * z - 1.0) * skew / 6.0 + (z.powi(3) - 3.0 * z) * kurtosis / 24.0
        - (2.0 * z.powi(3) - 5.0 * z) * skew * skew / 36.0;
    Some(-(mean + std * z_cf))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Modified (Cornish-Fisher) value at risk: var_parametric with the normal quantile z \
         replaced by z + (z^2 - 1) S / 6 + (z^3 - 3z) K / 24 - (2z^3 - 5z) S^2 / 36, where S is \
         the skewness and K the excess kurtosis of the P&L (population moments, as \
         scipy.stats.skew and kurtosis by default) and the scale is the sample standard \
         deviation (ddof = 1). Larger than var_parametric for fat left tails. NULL with fewer \
         than 2 rows; -mean for a constant series.",
        "var_cornish_fisher(pnl, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT var_cornish_fisher(ret, 0.99) FROM daily_returns;
```"#,
    )
    .with_argument(
        "pnl",
        "Profit and loss (or return) per period; losses negative.",
    )
    .with_argument(
        "confidence",
        "Constant confidence level in (0, 1), e.g. 0.99.",
    )
    .build()
});
