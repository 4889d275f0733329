//! `mode(x)` and `mode() WITHIN GROUP (ORDER BY x)`: the most frequent value.

use std::collections::HashMap;
use std::sync::LazyLock;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::values::{Values, ValuesAccumulator};

const NAME: &str = "mode";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ModeFunc {
    signature: Signature,
}

impl ModeFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for ModeFunc {
    fn default() -> Self {
        Self::new()
    }
}

/// The most frequent non-NULL value of `values`, the smallest of them on a
/// tie (PostgreSQL's choice: the first in sort order); NULL when none.
pub fn mode(values: &ArrayRef) -> Result<ScalarValue> {
    if values.is_empty() {
        return ScalarValue::try_from(values.data_type());
    }
    // Arrow's row format compares and hashes values of any type as bytes,
    // in the type's sort order.
    let converter = RowConverter::new(vec![SortField::new(values.data_type().clone())])?;
    let rows = converter.convert_columns(std::slice::from_ref(values))?;
    let mut counts: HashMap<&[u8], (usize, usize)> = HashMap::new();
    for i in 0..values.len() {
        counts.entry(rows.row(i).data()).or_insert((0, i)).0 += 1;
    }
    let best = counts
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
        .map(|(_, (_, first))| *first);
    match best {
        Some(i) => ScalarValue::try_from_array(values, i),
        None => ScalarValue::try_from(values.data_type()),
    }
}

impl AggregateUDFImpl for ModeFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] => Ok(t.clone()),
            _ => plan_err!("{NAME} expects one argument (x), got {}", arg_types.len()),
        }
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(Values::state_fields(
            args.name,
            NAME,
            args.input_fields[0].data_type(),
        ))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(ValuesAccumulator::new(
            args.expr_fields[0].data_type().clone(),
            mode,
        )))
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_GENERAL,
        "The most frequent non-NULL value of x, of any type (a product code, a segment, a \
         number); on a tie the smallest of the most frequent, as PostgreSQL's mode() WITHIN \
         GROUP (ORDER BY x), which is also accepted. NULL when the group has no value. Keeps \
         the group's values in memory, as percentile_cont does.",
        "mode(x) | mode() WITHIN GROUP (ORDER BY x)",
    )
    .with_sql_example(
        r#"```sql
> SELECT mode(channel) FROM (VALUES ('card'), ('atm'), ('card'), (NULL)) AS t(channel);
+-------------------+
| mode(t.channel)   |
+-------------------+
| card              |
+-------------------+
```"#,
    )
    .with_argument("x", "Values of any type.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use std::sync::Arc;

    #[test]
    fn most_frequent_and_smallest_on_a_tie() -> Result<()> {
        let values: ArrayRef = Arc::new(StringArray::from(vec!["b", "a", "b", "c"]));
        assert_eq!(mode(&values)?, ScalarValue::Utf8(Some("b".into())));
        let tie: ArrayRef = Arc::new(Int64Array::from(vec![3, 1, 1, 3, 2]));
        assert_eq!(mode(&tie)?, ScalarValue::Int64(Some(1)));
        let empty: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
        assert_eq!(mode(&empty)?, ScalarValue::Int64(None));
        Ok(())
    }
}
