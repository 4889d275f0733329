//! `numeric_bucket(x, width [, bottom, top])`: generalizes a number into a
//! bucket label with bottom- and top-coding (`[20000, 30000)`, `>= 200000`).

use std::fmt::Write;
use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_OTHER;

/// Appends the bucket of `x`; false (NULL) when `x` is not finite.
pub fn numeric_bucket(
    x: f64,
    width: f64,
    bottom: Option<f64>,
    top: Option<f64>,
    out: &mut String,
) -> bool {
    if !x.is_finite() {
        return false;
    }
    if let Some(bottom) = bottom.filter(|b| x < *b) {
        let _ = write!(out, "< {bottom}");
        return true;
    }
    if let Some(top) = top.filter(|t| x >= *t) {
        let _ = write!(out, ">= {top}");
        return true;
    }
    // Buckets are aligned on `bottom` when given, else on 0.
    let origin = bottom.unwrap_or(0.0);
    let k = ((x - origin) / width).floor();
    let lower = origin + k * width;
    let mut upper = lower + width;
    if let Some(top) = top {
        upper = upper.min(top);
    }
    let _ = write!(out, "[{lower}, {upper})");
    true
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_OTHER,
        "Generalizes a number into a bucket label '[lower, upper)' of width `width`, aligned on \
         `bottom` (or 0). Values below `bottom` become '< bottom' (bottom-coding) and values \
         from `top` up become '>= top' (top-coding), so extreme incomes or balances do not \
         identify anyone. NULL, NaN and infinities give NULL.",
        "numeric_bucket(x, width [, bottom, top])",
    )
    .with_sql_example(
        r#"```sql
> SELECT numeric_bucket(23500, 10000) AS income, numeric_bucket(250000, 10000, 0, 200000) AS top_coded,
         numeric_bucket(-50, 10000, 0, 200000) AS bottom_coded;
+----------------+-------------+--------------+
| income         | top_coded   | bottom_coded |
+----------------+-------------+--------------+
| [20000, 30000) | >= 200000   | < 0          |
+----------------+-------------+--------------+
```"#,
    )
    .with_argument("x", "The number (numeric).")
    .with_argument("width", "Bucket width, a number > 0.")
    .with_argument("bottom", "Optional: values below it become '< bottom'; buckets start there.")
    .with_argument("top", "Optional: values at or above it become '>= top'.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_with_bottom_and_top_coding() {
        let bucket = |x: f64, bottom: Option<f64>, top: Option<f64>| {
            let mut out = String::new();
            numeric_bucket(x, 10000.0, bottom, top, &mut out).then_some(out)
        };
        assert_eq!(
            bucket(23500.0, None, None).as_deref(),
            Some("[20000, 30000)")
        );
        assert_eq!(bucket(-1.0, None, None).as_deref(), Some("[-10000, 0)"));
        assert_eq!(bucket(-1.0, Some(0.0), None).as_deref(), Some("< 0"));
        assert_eq!(
            bucket(250000.0, Some(0.0), Some(200000.0)).as_deref(),
            Some(">= 200000")
        );
        assert_eq!(
            bucket(195000.0, Some(0.0), Some(195500.0)).as_deref(),
            Some("[190000, 195500)")
        );
        assert_eq!(bucket(f64::INFINITY, None, None), None);
    }
}
