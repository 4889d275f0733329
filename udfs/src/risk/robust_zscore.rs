//! `robust_zscore(x) OVER (...)`: median/MAD score within a window.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Robust standard score of each row within its window frame: (x - median) / (MAD / \
         0.67449), the median absolute deviation scaled to estimate the standard deviation of \
         normal data (scipy.stats.median_abs_deviation(scale='normal')). Unlike zscore, a few \
         huge transactions do not inflate the spread they are measured against; |score| > 3.5 \
         is the usual outlier rule (Iglewicz and Hoaglin). NULL for a NULL x or a frame whose \
         MAD is 0 (more than half the values equal).",
        "robust_zscore(x) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT card_id, ts, amount FROM (
    SELECT *, robust_zscore(amount) OVER (PARTITION BY card_id) AS score FROM transactions)
  WHERE abs(score) > 3.5;
```"#,
    )
    .with_argument("x", "Numeric value, e.g. a transaction amount.")
    .build()
});
