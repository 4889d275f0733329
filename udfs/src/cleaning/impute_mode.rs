//! `impute_mode(x) OVER (PARTITION BY ...)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::window_doc_sections::DOC_SECTION_ANALYTICAL;

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, UInt32Array};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::Result;

/// Indices that take each row's own value, or the partition's most frequent
/// value where it is NULL (the smallest of the most frequent, as pandas'
/// mode()[0]); NULL stays NULL when the partition has no value. Any type:
/// values are compared in Arrow's row format.
pub fn mode_indices(values: &ArrayRef) -> Result<UInt32Array> {
    let converter = RowConverter::new(vec![SortField::new(values.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(values))?;
    let mut counts: HashMap<&[u8], (usize, u32)> = HashMap::new();
    for i in 0..values.len() {
        if values.is_valid(i) {
            counts.entry(rows.row(i).data()).or_insert((0, i as u32)).0 += 1;
        }
    }
    let mode = counts
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
        .map(|(_, (_, first))| *first);
    Ok(super::partition::indices((0..values.len()).map(|i| {
        if values.is_valid(i) {
            Some(i as u32)
        } else {
            mode
        }
    })))
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_ANALYTICAL,
        "Mode imputation, for any type (categories, codes, numbers): x where it is present, else the most frequent non-NULL x in the window partition; on a tie the smallest of the most frequent, as pandas' x.fillna(x.mode()[0]) per group. NULL when the partition has no value.",
        "impute_mode(x) OVER (PARTITION BY ...)",
    )
    .with_sql_example(
        r#"```sql
> SELECT impute_mode(city) OVER () AS city FROM (VALUES ('Leeds'), (NULL), ('York'), ('Leeds')) AS t(city);
+-------+
| city  |
+-------+
| Leeds |
| Leeds |
| York  |
| Leeds |
+-------+
```"#,
    )
    .with_argument("x", "Column of any type with gaps.")
    .build()
});
