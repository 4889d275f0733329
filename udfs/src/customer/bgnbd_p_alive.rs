//! `bgnbd_p_alive(model, frequency, recency, T)`: probability a customer is
//! still active under a fitted BG/NBD model.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::cast::as_float64_array;
use datafusion::common::utils::take_function_args;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::bgnbd::{PAliveKernel, checked_params, coerce_model_args, parameter_columns};
use super::bgnbd_fit::check_history;
use crate::kernel::{all_scalar, constant_model, finish, try_map_rows};

const ARGUMENTS: [&str; 4] = ["model", "frequency", "recency", "T"];

/// SQL `bgnbd_p_alive`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BgNbdPAliveFunc {
    signature: Signature,
}

impl Default for BgNbdPAliveFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl BgNbdPAliveFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// P(alive) for every row, shared with `churn_probability`.
pub(crate) fn p_alive(function: &str, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
    let scalar = all_scalar(&args.args);
    let [model, frequency, recency, t] = take_function_args(function, args.args)?;
    let arrays = ColumnarValue::values_to_arrays(&[model, frequency, recency, t])?;
    let [r, alpha, a, b] = parameter_columns(function, &arrays[0])?;
    let (x, t_x, t) = (
        as_float64_array(&arrays[1])?,
        as_float64_array(&arrays[2])?,
        as_float64_array(&arrays[3])?,
    );
    // The usual call scores every customer under one model (a literal, or
    // a cross join with a one-row model table): check it and precompute once.
    let values = match constant_model([&r, &alpha, &a, &b]) {
        Some(params) => {
            let kernel = PAliveKernel::new(checked_params(function, params)?);
            try_map_rows([x, t_x, t], |[x, t_x, t]| {
                check_history(function, x, t_x, t)?;
                Ok(kernel.p_alive(x, t_x, t))
            })?
        }
        None => try_map_rows(
            [&r, &alpha, &a, &b, x, t_x, t],
            |[r, alpha, a, b, x, t_x, t]| {
                let p = checked_params(function, [r, alpha, a, b])?;
                check_history(function, x, t_x, t)?;
                Ok(p.p_alive(x, t_x, t))
            },
        )?,
    };
    finish(values, scalar)
}

impl ScalarUDFImpl for BgNbdPAliveFunc {
    fn name(&self) -> &str {
        "bgnbd_p_alive"
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
        p_alive(self.name(), args)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Probability that a customer with history (frequency, recency, T) is still active, \
         under a BG/NBD model from bgnbd_fit: 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)), \
         and 1 when frequency = 0 (in BG/NBD a customer can only drop out right after a repeat \
         purchase). NULL when any argument is NULL. Errors on a frequency that is not a whole \
         number >= 0 or a recency outside [0, T].",
        "bgnbd_p_alive(model, frequency, recency, T)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(bgnbd_p_alive(named_struct('r', 0.243, 'alpha', 4.414, 'a', 0.793, 'b', 2.426),
                             2, 30.43, 38.86), 4) AS p_alive;
+---------+
| p_alive |
+---------+
| 0.7266  |
+---------+
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
