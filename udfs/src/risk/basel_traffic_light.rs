//! `basel_traffic_light(exceedances, observations, confidence)`: the Basel
//! backtesting zone of a VaR model from its count of exceedances.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use statrs::distribution::{Binomial, DiscreteCDF};

use crate::kernel::{all_scalar, check_arity, finish};

const NAME: &str = "basel_traffic_light";
const ARGUMENTS: [&str; 3] = ["exceedances", "observations", "confidence"];

/// The zone of `exceedances` out of `observations` days for a VaR at
/// `confidence`, by the cumulative binomial probability of that many or
/// fewer exceedances under a correct model (Basel Committee, 1996): green
/// below 95%, red from 99.99%, yellow between. With 250 days at 99% this is
/// the published table: green 0-4, yellow 5-9, red 10 or more.
pub fn traffic_light(exceedances: u64, observations: u64, confidence: f64) -> Option<&'static str> {
    if observations == 0 || exceedances > observations || !(confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let cumulative = Binomial::new(1.0 - confidence, observations)
        .ok()?
        .cdf(exceedances);
    // The published table rounds to four digits: 99.99% at 10 of 250 is 0.99992.
    Some(if cumulative < 0.95 {
        "green"
    } else if cumulative < 0.9999 {
        "yellow"
    } else {
        "red"
    })
}

/// SQL `basel_traffic_light`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BaselTrafficLightFunc {
    signature: Signature,
}

impl Default for BaselTrafficLightFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl BaselTrafficLightFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for BaselTrafficLightFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        arg_types
            .iter()
            .zip(ARGUMENTS)
            .enumerate()
            .map(|(i, (t, argument))| match (i, t) {
                (_, DataType::Null) => Ok(if i < 2 {
                    DataType::Int64
                } else {
                    DataType::Float64
                }),
                (0 | 1, t) if t.is_integer() => Ok(DataType::Int64),
                (2, t) if t.is_numeric() => Ok(DataType::Float64),
                (0 | 1, t) => {
                    plan_err!("{NAME}: argument '{argument}' must be a whole number, got {t}")
                }
                (_, t) => plan_err!(
                    "{NAME}: argument '{argument}' must be a number such as 0.99, got {t}"
                ),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let exceedances = arrays[0].as_primitive::<Int64Type>();
        let observations = arrays[1].as_primitive::<Int64Type>();
        let confidence = arrays[2].as_primitive::<Float64Type>();
        let rows = exceedances.len();
        let mut zones = Vec::with_capacity(rows);
        for row in 0..rows {
            if exceedances.is_null(row) || observations.is_null(row) || confidence.is_null(row) {
                zones.push(None);
                continue;
            }
            let (x, n, c) = (
                exceedances.value(row),
                observations.value(row),
                confidence.value(row),
            );
            if n < 1 || x < 0 || x > n {
                return exec_err!(
                    "{NAME}: needs 0 <= exceedances <= observations and observations >= 1, got {x} of {n}"
                );
            }
            if !(c > 0.0 && c < 1.0) {
                return exec_err!(
                    "{NAME}: argument 'confidence' must be strictly between 0 and 1, got {c}"
                );
            }
            zones.push(traffic_light(x as u64, n as u64, c));
        }
        let zones: ArrayRef = Arc::new(StringArray::from(zones));
        finish(zones, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "The Basel traffic-light zone ('green', 'yellow' or 'red') of a VaR model that was \
         exceeded `exceedances` times in `observations` days at `confidence`: the cumulative \
         binomial probability of that many or fewer exceedances under a correct model is below \
         95% (green), from 95% to below 99.99% (yellow) or at least 99.99% (red), as in the \
         Basel Committee's backtesting framework (1996). With 250 days at 99% that is green for \
         0-4, yellow for 5-9 and red for 10 or more. NULL when an argument is NULL; an error \
         when exceedances are negative or above the observations. `var_backtest` gives the \
         zone with the Kupiec and Christoffersen tests from the P&L and VaR series.",
        "basel_traffic_light(exceedances, observations, confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT basel_traffic_light(6, 250, 0.99);
+-----------------------------------------------------------+
| basel_traffic_light(Int64(6),Int64(250),Float64(0.99))    |
+-----------------------------------------------------------+
| yellow                                                    |
+-----------------------------------------------------------+
```"#,
    )
    .with_argument(
        "exceedances",
        "Days on which the loss exceeded the VaR forecast.",
    )
    .with_argument(
        "observations",
        "Days in the backtest (250 in Basel's rule).",
    )
    .with_argument("confidence", "The VaR's confidence level, such as 0.99.")
    .build()
});
