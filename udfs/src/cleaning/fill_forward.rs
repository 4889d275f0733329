//! `fill_forward(x) OVER (PARTITION BY ... ORDER BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

use datafusion::arrow::array::{Array, ArrayRef, UInt32Array};

/// Indices of the last non-NULL value at or before each row.
pub fn forward_indices(values: &ArrayRef) -> UInt32Array {
    let mut last = None;
    super::partition::indices((0..values.len()).map(|i| {
        if values.is_valid(i) {
            last = Some(i as u32);
        }
        last
    }))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Forward fill (last observation carried forward), for any type: each NULL takes the last non-NULL x before it in the window's ORDER BY within its partition, as pandas' groupby(...).ffill(). NULL before the first value. Give an ORDER BY (a date, a sequence): without one the order is arbitrary. The same as last_value(x IGNORE NULLS) OVER (PARTITION BY ... ORDER BY ... ROWS UNBOUNDED PRECEDING), in one pass.",
        "fill_forward(x) OVER (PARTITION BY ... ORDER BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT day, fill_forward(balance) OVER (ORDER BY day) AS balance
  FROM (VALUES (1, 100.0), (2, NULL), (3, 80.0), (4, NULL)) AS t(day, balance);
+-----+---------+
| day | balance |
+-----+---------+
| 1   | 100.0   |
| 2   | 100.0   |
| 3   | 80.0    |
| 4   | 80.0    |
+-----+---------+
```"#,
    )
    .with_argument("x", "Column of any type with gaps.")
    .build()
});
