//! `bgnbd_probability_of_n_purchases(model, t, n)`: P(X(t) = n) for a newly
//! acquired customer under a fitted BG/NBD model.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_float64_array;
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::bgnbd::{checked_params, coerce_model_args, parameter_columns};
use crate::kernel::{all_scalar, finish, try_map_rows};

const ARGUMENTS: [&str; 3] = ["model", "t", "n"];

/// Largest n accepted: the finite sum in eq. (8) has n terms per row.
const MAX_N: f64 = 1e6;

/// SQL `bgnbd_probability_of_n_purchases`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BgNbdProbabilityOfNPurchasesFunc {
    signature: Signature,
}

impl Default for BgNbdProbabilityOfNPurchasesFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl BgNbdProbabilityOfNPurchasesFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for BgNbdProbabilityOfNPurchasesFunc {
    fn name(&self) -> &str {
        "bgnbd_probability_of_n_purchases"
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
        let [model, t, n] = take_function_args(name, args.args)?;
        let arrays = ColumnarValue::values_to_arrays(&[model, t, n])?;
        let [r, alpha, a, b] = parameter_columns(name, &arrays[0])?;
        let (t, n) = (as_float64_array(&arrays[1])?, as_float64_array(&arrays[2])?);
        let values = try_map_rows([&r, &alpha, &a, &b, t, n], |[r, alpha, a, b, t, n]| {
            let p = checked_params(name, [r, alpha, a, b])?;
            if !(t >= 0.0 && t.is_finite()) {
                return exec_err!("{name}: argument 't' must be a horizon >= 0, got {t}");
            }
            if !(0.0..=MAX_N).contains(&n) || n.fract() != 0.0 {
                return exec_err!(
                    "{name}: argument 'n' must be a whole number between 0 and {MAX_N}, got {n}"
                );
            }
            Ok(p.probability_of_n_purchases(t, n as u64))
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
        "Probability that a newly acquired customer makes exactly n repeat purchases in the \
         first t time units, under a BG/NBD model from bgnbd_fit (eq. 8 of Fader, Hardie and \
         Lee 2005; lifetimes' probability_of_n_purchases_up_to_time). Summed over n it is 1; \
         compare it with the observed distribution of frequency to check the fit. NULL when \
         any argument is NULL.",
        "bgnbd_probability_of_n_purchases(model, t, n)",
    )
    .with_sql_example(
        r#"```sql
> SELECT n, round(bgnbd_probability_of_n_purchases(
              named_struct('r', 0.2426, 'alpha', 4.4135, 'a', 0.7929, 'b', 2.4258), 39, n), 3) AS p
  FROM (VALUES (0), (1), (2)) AS v(n);
+---+-------+
| n | p     |
+---+-------+
| 0 | 0.575 |
| 1 | 0.197 |
| 2 | 0.091 |
+---+-------+
```"#,
    )
    .with_argument(
        "model",
        "A BG/NBD model: the struct bgnbd_fit returns (fields r, alpha, a, b).",
    )
    .with_argument("t", "Horizon, >= 0, in the model's time unit.")
    .with_argument("n", "Number of purchases, a whole number >= 0.")
    .build()
});
