//! `equal_frequency_edges(x, bins)`: interior edges of `bins` bins holding
//! about the same number of rows.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::binning::{bins_argument, coerce_bins, edges_type, edges_value, equal_frequency};
use crate::collect::{CollectedRows, RowsAccumulator};
use crate::kernel::{check_arity, coerce_numeric};

const NAME: &str = "equal_frequency_edges";
const ARGUMENTS: [&str; 2] = ["x", "bins"];

/// SQL `equal_frequency_edges`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EqualFrequencyEdgesFunc {
    signature: Signature,
}

impl Default for EqualFrequencyEdgesFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl EqualFrequencyEdgesFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for EqualFrequencyEdgesFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        Ok(vec![
            coerce_numeric(NAME, "x", &arg_types[0])?,
            coerce_bins(NAME, "bins", &arg_types[1])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(edges_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(CollectedRows::state_fields(args.name, &["x"]))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let bins = bins_argument(NAME, "bins", &args, 1)?;
        Ok(Box::new(RowsAccumulator::new(
            NAME,
            1,
            |function, row| {
                if row[0].is_finite() {
                    Ok(())
                } else {
                    exec_err!("{function}: argument 'x' must be finite, got {}", row[0])
                }
            },
            Box::new(move |rows| {
                if rows.is_empty() {
                    return ScalarValue::try_from(&edges_type());
                }
                Ok(edges_value(equal_frequency(&mut rows.columns[0], bins)))
            }),
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Interior edges of `bins` bins with about equal row counts, for woe_iv: the quantiles of \
         x at 1/bins, 2/bins, ... by numpy's default (linear) convention, keeping only edges \
         above the minimum and above the previous edge, so heavily tied data gives fewer, never \
         empty, bins (left-closed: [-inf, e1), [e1, e2), ..., [ek, inf)). NULL when there are no \
         rows. NULLs are skipped; errors on an infinite or NaN x.",
        "equal_frequency_edges(x, bins)",
    )
    .with_sql_example(
        r#"```sql
> SELECT equal_frequency_edges(x, 4) FROM (VALUES (1), (2), (3), (4), (5)) AS t(x);
+-------------------------------------+
| equal_frequency_edges(t.x,Int64(4)) |
+-------------------------------------+
| [2.0, 3.0, 4.0]                     |
+-------------------------------------+
```"#,
    )
    .with_argument("x", "Numeric characteristic.")
    .with_argument("bins", "Constant number of bins, 1 to 1000.")
    .build()
});
