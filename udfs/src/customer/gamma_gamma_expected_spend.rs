//! `gamma_gamma_expected_spend(model, frequency, monetary_value)`: expected
//! mean spend per transaction under a fitted Gamma-Gamma model.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::cast::as_float64_array;
use datafusion::common::utils::take_function_args;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::gamma_gamma::{check_spend, checked_params, coerce_model_args, parameter_columns};
use crate::kernel::{all_scalar, finish, try_map_rows};

const ARGUMENTS: [&str; 3] = ["model", "frequency", "monetary_value"];

/// SQL `gamma_gamma_expected_spend`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GammaGammaExpectedSpendFunc {
    signature: Signature,
}

impl Default for GammaGammaExpectedSpendFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl GammaGammaExpectedSpendFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for GammaGammaExpectedSpendFunc {
    fn name(&self) -> &str {
        "gamma_gamma_expected_spend"
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
        let name = self.name();
        let scalar = all_scalar(&args.args);
        let [model, frequency, monetary_value] = take_function_args(name, args.args)?;
        let arrays = ColumnarValue::values_to_arrays(&[model, frequency, monetary_value])?;
        let [p, q, v] = parameter_columns(name, &arrays[0])?;
        let (x, m) = (as_float64_array(&arrays[1])?, as_float64_array(&arrays[2])?);
        let values = try_map_rows([&p, &q, &v, x, m], |[p, q, v, x, m]| {
            let model = checked_params(name, "model", [p, q, v])?;
            check_spend(name, x, m)?;
            Ok(model.expected_spend(x, m))
        })?;
        finish(values, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Expected mean spend per transaction of a customer with frequency repeat purchases of \
         mean value monetary_value, under a Gamma-Gamma model from gamma_gamma_fit: \
         (1 - w) p v / (q - 1) + w monetary_value with w = p x / (p x + q - 1) (lifetimes' \
         conditional_expected_average_profit). A customer without repeat purchases gets the \
         population mean p v / (q - 1). NULL when any argument is NULL.",
        "gamma_gamma_expected_spend(model, frequency, monetary_value)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(gamma_gamma_expected_spend(
           named_struct('p', 6.2488, 'q', 3.7446, 'v', 15.4477), 2, 22.35), 2) AS spend;
+-------+
| spend |
+-------+
| 24.66 |
+-------+
```"#,
    )
    .with_argument(
        "model",
        "A Gamma-Gamma model: the struct gamma_gamma_fit returns (p, q, v).",
    )
    .with_argument("frequency", "Repeat purchases x.")
    .with_argument(
        "monetary_value",
        "Mean value of the repeat purchases (ignored when x = 0).",
    )
    .build()
});
