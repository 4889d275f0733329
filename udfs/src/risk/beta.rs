//! `beta(returns, benchmark_returns)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;

/// cov(r, b) / var(b) over interleaved (r, b) pairs, as empyrical's beta.
pub fn beta(pairs: &[f64]) -> Option<f64> {
    let n = (pairs.len() / 2) as f64;
    if n < 2.0 {
        return None;
    }
    let (r, b): (Vec<f64>, Vec<f64>) = pairs.chunks_exact(2).map(|p| (p[0], p[1])).unzip();
    let (mean_r, mean_b) = (r.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let covariance: f64 = r
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - mean_r) * (y - mean_b))
        .sum();
    let variance: f64 = b.iter().map(|y| (y - mean_b).powi(2)).sum();
    (variance > 0.0).then(|| covariance / variance)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Beta of returns against a benchmark's returns over the same periods (one row per \
         period): cov(returns, benchmark) / var(benchmark), as empyrical's beta. Rows where \
         either is NULL are skipped; NULL with fewer than 2 rows or a constant benchmark.",
        "beta(returns, benchmark_returns)",
    )
    .with_sql_example(
        r#"```sql
> SELECT beta(r, b) FROM (VALUES (0.02, 0.01), (-0.02, -0.01), (0.04, 0.02)) AS t(r, b);
+-------------+
| beta(t.r,t.b) |
+-------------+
| 2.0         |
+-------------+
```"#,
    )
    .with_argument(
        "returns",
        "Simple return per period of the asset or portfolio.",
    )
    .with_argument(
        "benchmark_returns",
        "Simple return of the benchmark in the same period.",
    )
    .build()
});
