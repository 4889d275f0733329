//! `var_parametric(pnl, confidence)`: Gaussian (variance-covariance) VaR.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use statrs::distribution::{ContinuousCDF, Normal};

use super::series::mean_and_sample_std;

/// Φ⁻¹(p) of the standard normal.
pub fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// -(mean + std z), z = Φ⁻¹(1 - confidence), std with ddof = 1.
pub fn var_parametric(pnl: &[f64], confidence: f64) -> Option<f64> {
    let (mean, std) = mean_and_sample_std(pnl)?;
    Some(-(mean + std * normal_quantile(1.0 - confidence)))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Parametric (Gaussian) value at risk: -(mean + sd * z) with z the standard normal \
         quantile at 1 - confidence (scipy.stats.norm.ppf) and sd the sample standard deviation \
         (ddof = 1). NULL with fewer than 2 rows. Same error behaviour as var_historical.",
        "var_parametric(pnl, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(var_parametric(pnl, 0.99), 4) FROM (VALUES (-1), (1)) AS t(pnl);
+------------------------------------------------------+
| round(var_parametric(t.pnl,Float64(0.99)),Int64(4))  |
+------------------------------------------------------+
| 3.29                                                 |
+------------------------------------------------------+
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
