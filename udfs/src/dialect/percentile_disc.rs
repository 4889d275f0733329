//! `percentile_disc(p) WITHIN GROUP (ORDER BY x)`: the value at a rank.

use std::sync::LazyLock;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::compute::{SortOptions, sort_to_indices};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use datafusion::physical_plan::expressions::Literal;

use super::values::{Values, ValuesAccumulator};

const NAME: &str = "percentile_disc";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PercentileDiscFunc {
    signature: Signature,
}

impl PercentileDiscFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl Default for PercentileDiscFunc {
    fn default() -> Self {
        Self::new()
    }
}

/// The first value, in ascending order, whose cumulative share of the
/// values reaches p (the SQL standard's PERCENTILE_DISC, as PostgreSQL and
/// DuckDB): index ceil(p * n) - 1, the first value for p = 0.
pub fn percentile_disc(values: &ArrayRef, p: f64, descending: bool) -> Result<ScalarValue> {
    if values.is_empty() {
        return ScalarValue::try_from(values.data_type());
    }
    let order = sort_to_indices(
        values,
        Some(SortOptions {
            descending,
            nulls_first: false,
        }),
        None,
    )?;
    let n = values.len();
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
    ScalarValue::try_from_array(values, order.value(rank) as usize)
}

impl AggregateUDFImpl for PercentileDiscFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t, _] => Ok(t.clone()),
            _ => plan_err!(
                "{NAME} expects a fraction and an ordering: percentile_disc(p) WITHIN GROUP (ORDER BY x)"
            ),
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
        let p = args
            .exprs
            .get(1)
            .and_then(|e| e.downcast_ref::<Literal>())
            .map(|l| l.value().clone());
        let p = match p.as_ref().map(|v| v.cast_to(&DataType::Float64)) {
            Some(Ok(ScalarValue::Float64(Some(p)))) if (0.0..=1.0).contains(&p) => p,
            _ => {
                return plan_err!(
                    "{NAME}: argument 'p' must be a constant fraction between 0 and 1, got {}",
                    p.map_or_else(|| "an expression".to_string(), |v| v.to_string())
                );
            }
        };
        let descending = args
            .order_bys
            .first()
            .is_some_and(|sort| sort.options.descending);
        Ok(Box::new(ValuesAccumulator::new(
            args.expr_fields[0].data_type().clone(),
            move |values: &ArrayRef| percentile_disc(values, p, descending),
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
        "The discrete percentile: the first value of x, in the WITHIN GROUP order, whose \
         cumulative share of the group's non-NULL values reaches p, so the result is always \
         one of the values (a balance, a date, a grade), unlike percentile_cont, which \
         interpolates. The SQL standard's definition, as PostgreSQL and DuckDB. NULL for a \
         group without values.",
        "percentile_disc(p) WITHIN GROUP (ORDER BY x)",
    )
    .with_sql_example(
        r#"```sql
> SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY x) AS median FROM (VALUES (1), (2), (3), (4)) AS t(x);
+--------+
| median |
+--------+
| 2      |
+--------+
```"#,
    )
    .with_argument("p", "A constant fraction between 0 and 1.")
    .with_argument("x", "Values of any ordered type, in WITHIN GROUP (ORDER BY x).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use std::sync::Arc;

    #[test]
    fn sql_standard_ranks() -> Result<()> {
        // PostgreSQL and DuckDB over 1..10: 0.75 -> 8, 0.5 -> 5, 0.1 -> 1, 0 -> 1, 1 -> 10.
        let values: ArrayRef = Arc::new(Int64Array::from((1..=10).rev().collect::<Vec<i64>>()));
        for (p, want) in [(0.75, 8), (0.5, 5), (0.1, 1), (0.0, 1), (1.0, 10)] {
            assert_eq!(
                percentile_disc(&values, p, false)?,
                ScalarValue::Int64(Some(want)),
                "{p}"
            );
        }
        assert_eq!(
            percentile_disc(&values, 0.1, true)?,
            ScalarValue::Int64(Some(10))
        );
        Ok(())
    }
}
