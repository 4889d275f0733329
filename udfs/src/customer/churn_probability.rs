//! `churn_probability(model, frequency, recency, T)`: 1 - P(alive) under a
//! fitted BG/NBD model.

use std::sync::LazyLock;

use datafusion::arrow::array::Float64Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::bgnbd::coerce_model_args;
use super::bgnbd_p_alive::p_alive;

const ARGUMENTS: [&str; 4] = ["model", "frequency", "recency", "T"];

/// SQL `churn_probability`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ChurnProbabilityFunc {
    signature: Signature,
}

impl Default for ChurnProbabilityFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ChurnProbabilityFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ChurnProbabilityFunc {
    fn name(&self) -> &str {
        "churn_probability"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_model_args(self.name(), &ARGUMENTS, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(match p_alive(self.name(), args)? {
            ColumnarValue::Scalar(ScalarValue::Float64(p)) => {
                ColumnarValue::Scalar(ScalarValue::Float64(p.map(|p| 1.0 - p)))
            }
            ColumnarValue::Scalar(other) => ColumnarValue::Scalar(other),
            ColumnarValue::Array(p) => {
                let p = as_float64_array(&p)?;
                let churn: Float64Array = p.unary(|p| 1.0 - p);
                ColumnarValue::Array(std::sync::Arc::new(churn) as _)
            }
        })
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Probability that a customer has churned (is no longer active) given the history \
         (frequency, recency, T), under a BG/NBD model from bgnbd_fit: 1 - bgnbd_p_alive. It \
         is 0 for a customer without repeat purchases, whom the model cannot yet call lost; \
         for a supervised churn score use logistic_regression_fit on labelled history. NULL \
         when any argument is NULL.",
        "churn_probability(model, frequency, recency, T)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(churn_probability(named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426),
                                 1, 1.71, 38.86), 4) AS churn;
+--------+
| churn  |
+--------+
| 0.7878 |
+--------+
```"#,
    )
    .with_argument(
        "model",
        "A BG/NBD model: the struct bgnbd_fit returns (fields r, alpha, a, b).",
    )
    .with_argument("frequency", "Repeat purchases x.")
    .with_argument("recency", "t_x: time from the first to the last purchase.")
    .with_argument(
        "T",
        "Time from the first purchase to the end of observation.",
    )
    .build()
});
