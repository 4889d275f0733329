//! `bgnbd_expected_purchases(model, t [, frequency, recency, T])`: expected
//! purchases in the next `t` time units under a fitted BG/NBD model.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::bgnbd::{checked_params, coerce_model_args, parameter_columns};
use super::bgnbd_fit::check_history;
use crate::kernel::{all_scalar, finish, try_map_rows};

const NEW_CUSTOMER: [&str; 2] = ["model", "t"];
const CONDITIONAL: [&str; 5] = ["model", "t", "frequency", "recency", "T"];

/// SQL `bgnbd_expected_purchases`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BgNbdExpectedPurchasesFunc {
    signature: Signature,
}

impl Default for BgNbdExpectedPurchasesFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl BgNbdExpectedPurchasesFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn check_horizon(function: &str, t: f64) -> Result<()> {
    if t >= 0.0 && t.is_finite() {
        Ok(())
    } else {
        exec_err!("{function}: argument 't' must be a horizon >= 0, got {t}")
    }
}

impl ScalarUDFImpl for BgNbdExpectedPurchasesFunc {
    fn name(&self) -> &str {
        "bgnbd_expected_purchases"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            2 => coerce_model_args(self.name(), &NEW_CUSTOMER, arg_types),
            5 => coerce_model_args(self.name(), &CONDITIONAL, arg_types),
            n => plan_err!(
                "{} expects (model, t) for a new customer or (model, t, frequency, recency, T), \
                 got {n} arguments",
                self.name()
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [r, alpha, a, b] = parameter_columns(name, &arrays[0])?;
        let t = as_float64_array(&arrays[1])?;
        let values = if arrays.len() == 2 {
            try_map_rows([&r, &alpha, &a, &b, t], |[r, alpha, a, b, t]| {
                let p = checked_params(name, [r, alpha, a, b])?;
                check_horizon(name, t)?;
                Ok(p.expected_purchases_new_customer(t))
            })?
        } else {
            let (x, t_x, big_t) = (
                as_float64_array(&arrays[2])?,
                as_float64_array(&arrays[3])?,
                as_float64_array(&arrays[4])?,
            );
            try_map_rows(
                [&r, &alpha, &a, &b, t, x, t_x, big_t],
                |[r, alpha, a, b, t, x, t_x, big_t]| {
                    let p = checked_params(name, [r, alpha, a, b])?;
                    check_horizon(name, t)?;
                    check_history(name, x, t_x, big_t)?;
                    Ok(p.conditional_expected_purchases(t, x, t_x, big_t))
                },
            )?
        };
        finish(values, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Expected number of purchases in the next t time units under a BG/NBD model from \
         bgnbd_fit. With (model, t) it is E[X(t)] for a newly acquired customer (eq. 9 of Fader, \
         Hardie and Lee 2005); with (model, t, frequency, recency, T) it is the conditional \
         expectation E[Y(t) | x, t_x, T] for an existing customer (eq. 10), as lifetimes' \
         conditional_expected_number_of_purchases_up_to_time. t is in the unit of the data the \
         model was fitted on. NULL when any argument is NULL; NaN when the hypergeometric \
         series does not converge (t more than about 10^5 times alpha + T).",
        "bgnbd_expected_purchases(model, t [, frequency, recency, T])",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(bgnbd_expected_purchases(
           named_struct('r', 0.2426, 'alpha', 4.4135, 'a', 0.7929, 'b', 2.4258),
           39, 2, 30.43, 38.86), 3) AS next_39_weeks;
+---------------+
| next_39_weeks |
+---------------+
| 1.226         |
+---------------+
```"#,
    )
    .with_argument(
        "model",
        "A BG/NBD model: the struct bgnbd_fit returns (fields r, alpha, a, b).",
    )
    .with_argument("t", "Horizon, >= 0, in the model's time unit.")
    .with_argument(
        "frequency",
        "Optional: repeat purchases x of an existing customer.",
    )
    .with_argument(
        "recency",
        "Optional: t_x, time from the first to the last purchase.",
    )
    .with_argument(
        "T",
        "Optional: time from the first purchase to the end of observation.",
    )
    .build()
});
