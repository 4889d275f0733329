//! `var_historical(pnl, confidence)`: historical value at risk.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

use crate::quantile::quantile_select;

/// -Q(pnl, 1 - confidence), numpy's linear quantile. Reorders `pnl`.
pub fn var_historical(pnl: &mut [f64], confidence: f64) -> Option<f64> {
    quantile_select(pnl, 1.0 - confidence).map(|q| -q)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Historical value at risk: the loss not exceeded with probability `confidence`, \
         -quantile(pnl, 1 - confidence), with numpy's default (linear) quantile interpolation; \
         positive when the quantile is a loss. P&L in currency or returns; losses negative. \
         Rows with a NULL are skipped; NULL when there are none. Runs grouped (by portfolio, \
         desk) with a native grouped accumulator. Errors on a confidence outside (0, 1) or an \
         infinite P&L.",
        "var_historical(pnl, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT var_historical(pnl, 0.75) FROM (VALUES (-4), (-1), (2), (3), (10)) AS t(pnl);
+-------------------------------------------+
| var_historical(t.pnl,Float64(0.75))       |
+-------------------------------------------+
| 1.0                                       |
+-------------------------------------------+
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
