//! `equal_width_edges(x, bins)`: interior edges of `bins` bins of equal
//! width between the minimum and the maximum.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::binning::{bins_argument, coerce_bins, edges_type, edges_value};
use crate::kernel::{check_arity, coerce_numeric};

const NAME: &str = "equal_width_edges";
const ARGUMENTS: [&str; 2] = ["x", "bins"];

/// SQL `equal_width_edges`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EqualWidthEdgesFunc {
    signature: Signature,
}

impl Default for EqualWidthEdgesFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl EqualWidthEdgesFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for EqualWidthEdgesFunc {
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
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "min"),
                DataType::Float64,
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "max"),
                DataType::Float64,
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(EqualWidthAccumulator {
            bins: bins_argument(NAME, "bins", &args, 1)?,
            range: None,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct EqualWidthAccumulator {
    bins: usize,
    range: Option<(f64, f64)>,
}

impl EqualWidthAccumulator {
    fn include(&mut self, min: f64, max: f64) {
        self.range = Some(match self.range {
            Some((lo, hi)) => (lo.min(min), hi.max(max)),
            None => (min, max),
        });
    }
}

impl Accumulator for EqualWidthAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(x) = values.first() else {
            return internal_err!("{NAME} expects an x array");
        };
        let x = as_float64_array(x)?;
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in x.iter().flatten() {
            if !v.is_finite() {
                return exec_err!("{NAME}: argument 'x' must be finite, got {v}");
            }
            min = min.min(v);
            max = max.max(v);
        }
        if min <= max {
            self.include(min, max);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (min, max) = self.range.unzip();
        Ok(vec![ScalarValue::Float64(min), ScalarValue::Float64(max)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [min, max] = states else {
            return internal_err!("{NAME} expects 2 state arrays");
        };
        let (min, max) = (as_float64_array(min)?, as_float64_array(max)?);
        for i in 0..min.len() {
            if min.is_valid(i) && max.is_valid(i) {
                self.include(min.value(i), max.value(i));
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some((min, max)) = self.range else {
            return ScalarValue::try_from(&edges_type());
        };
        Ok(edges_value(equal_width(min, max, self.bins)))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

/// numpy.linspace(min, max, bins + 1)[1:-1]: min + k (max - min) / bins.
pub fn equal_width(min: f64, max: f64, bins: usize) -> Vec<f64> {
    if max <= min {
        return Vec::new();
    }
    let step = (max - min) / bins as f64;
    (1..bins).map(|k| k as f64 * step + min).collect()
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Interior edges of `bins` bins of equal width between the minimum and the maximum of x \
         (numpy.linspace(min, max, bins + 1) without its ends), for woe_iv: bins [-inf, e1), \
         [e1, e2), ..., [ek, inf). An empty list when x is constant; NULL when there are no \
         rows. NULLs are skipped; errors on an infinite or NaN x.",
        "equal_width_edges(x, bins)",
    )
    .with_sql_example(
        r#"```sql
> SELECT equal_width_edges(x, 4) FROM (VALUES (0), (10), (3)) AS t(x);
+-------------------------------------+
| equal_width_edges(t.x,Int64(4))     |
+-------------------------------------+
| [2.5, 5.0, 7.5]                     |
+-------------------------------------+
```"#,
    )
    .with_argument("x", "Numeric characteristic.")
    .with_argument("bins", "Constant number of bins, 1 to 1000.")
    .build()
});
