//! `fill_backward(x) OVER (PARTITION BY ... ORDER BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

use datafusion::arrow::array::{Array, ArrayRef, UInt32Array};

/// Indices of the first non-NULL value at or after each row.
pub fn backward_indices(values: &ArrayRef) -> UInt32Array {
    let mut next = None;
    let mut out: Vec<Option<u32>> = (0..values.len())
        .rev()
        .map(|i| {
            if values.is_valid(i) {
                next = Some(i as u32);
            }
            next
        })
        .collect();
    out.reverse();
    super::partition::indices(out.into_iter())
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Backward fill (next observation carried backward), for any type: each NULL takes the next non-NULL x after it in the window's ORDER BY within its partition, as pandas' groupby(...).bfill(). NULL after the last value. Give an ORDER BY.",
        "fill_backward(x) OVER (PARTITION BY ... ORDER BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT day, fill_backward(rate) OVER (ORDER BY day) AS rate FROM (VALUES (1, NULL), (2, 0.05), (3, NULL)) AS t(day, rate);
+-----+------+
| day | rate |
+-----+------+
| 1   | 0.05 |
| 2   | 0.05 |
| 3   | NULL |
+-----+------+
```"#,
    )
    .with_argument("x", "Column of any type with gaps.")
    .build()
});
