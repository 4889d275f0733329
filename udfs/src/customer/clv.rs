//! `clv(bgnbd_model, gamma_gamma_model, frequency, recency, T,
//! monetary_value, months, monthly_discount_rate, time_unit)`: discounted
//! customer lifetime value, as lifetimes' `customer_lifetime_value`.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::{bgnbd, gamma_gamma};
use crate::kernel::{all_scalar, check_arity, coerce_numeric, finish, try_map_rows};
use crate::model::coerce_model_type;

const ARGUMENTS: [&str; 9] = [
    "bgnbd_model",
    "gamma_gamma_model",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "months",
    "monthly_discount_rate",
    "time_unit",
];

/// Longest horizon accepted, 100 years.
const MAX_MONTHS: f64 = 1200.0;

/// Model time units per month, lifetimes' factors for freq 'W', 'D', 'H', 'M'.
fn units_per_month(function: &str, unit: &str) -> Result<f64> {
    Ok(match unit.to_ascii_lowercase().as_str() {
        "weeks" | "week" | "w" => 4.345,
        "days" | "day" | "d" => 30.0,
        "hours" | "hour" | "h" => 720.0,
        "months" | "month" | "m" => 1.0,
        other => {
            return exec_err!(
                "{function}: argument 'time_unit' must be 'days', 'weeks', 'hours' or 'months' \
                 (the unit of recency and T), got '{other}'"
            );
        }
    })
}

/// SQL `clv`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ClvFunc {
    signature: Signature,
}

impl Default for ClvFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ClvFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ClvFunc {
    fn name(&self) -> &str {
        "clv"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        check_arity(name, &ARGUMENTS, arg_types)?;
        let purchases = coerce_model_type(
            name,
            ARGUMENTS[0],
            bgnbd::MODEL_NAME,
            &arg_types[0],
            &bgnbd::PARAMETERS,
        )?;
        let spend = coerce_model_type(
            name,
            ARGUMENTS[1],
            gamma_gamma::MODEL_NAME,
            &arg_types[1],
            &gamma_gamma::PARAMETERS,
        )?;
        let mut coerced = vec![purchases, spend];
        for (argument, data_type) in ARGUMENTS.iter().zip(arg_types).take(8).skip(2) {
            coerced.push(coerce_numeric(name, argument, data_type)?);
        }
        match &arg_types[8] {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                coerced.push(DataType::Utf8)
            }
            other => {
                return plan_err!("{name}: argument 'time_unit' must be a string, got {other}");
            }
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.name();
        let scalar = all_scalar(&args.args);
        let unit = match &args.args[8] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(unit))) => units_per_month(name, unit)?,
            ColumnarValue::Scalar(ScalarValue::Utf8(None)) => {
                return exec_err!("{name}: argument 'time_unit' must not be NULL");
            }
            _ => {
                return exec_err!(
                    "{name}: argument 'time_unit' must be a constant such as 'weeks', not a column"
                );
            }
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args[..8])?;
        let [r, alpha, a, b] = bgnbd::parameter_columns(name, &arrays[0])?;
        let [p, q, v] = gamma_gamma::parameter_columns(name, &arrays[1])?;
        let numbers = arrays[2..8]
            .iter()
            .map(|a| as_float64_array(a))
            .collect::<Result<Vec<_>>>()?;
        let [x, t_x, t, m, months, rate] = numbers[..] else {
            return exec_err!("{name}: expected 9 arguments");
        };
        let values = try_map_rows(
            [&r, &alpha, &a, &b, &p, &q, &v, x, t_x, t, m, months, rate],
            |[r, alpha, a, b, p, q, v, x, t_x, t, m, months, rate]| {
                let purchases = bgnbd::checked_params(name, [r, alpha, a, b])?;
                let spend = gamma_gamma::checked_params(name, "gamma_gamma_model", [p, q, v])?;
                super::bgnbd_fit::check_history(name, x, t_x, t)?;
                gamma_gamma::check_spend(name, x, m)?;
                if !(0.0..=MAX_MONTHS).contains(&months) || months.fract() != 0.0 {
                    return exec_err!(
                        "{name}: argument 'months' must be a whole number between 0 and {MAX_MONTHS}, got {months}"
                    );
                }
                if !(rate > -1.0 && rate.is_finite()) {
                    return exec_err!(
                        "{name}: argument 'monthly_discount_rate' must be > -1, got {rate}"
                    );
                }
                let expected_spend = spend.expected_spend(x, m);
                let mut value = 0.0;
                let mut previous = 0.0;
                for k in 1..=months as u32 {
                    let cumulative =
                        purchases.conditional_expected_purchases(f64::from(k) * unit, x, t_x, t);
                    value += expected_spend * (cumulative - previous) / (1.0 + rate).powi(k as i32);
                    previous = cumulative;
                }
                Ok(value)
            },
        )?;
        finish(values, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Customer lifetime value over the next `months` months, discounted monthly: \
         sum over k = 1..months of E[spend] (E[X(k f)] - E[X((k-1) f)]) / (1 + rate)^k, where \
         E[X(t)] is bgnbd_expected_purchases for the customer's history, E[spend] is \
         gamma_gamma_expected_spend and f is the number of model time units in a month \
         (weeks 4.345, days 30, hours 720, months 1). This is lifetimes' \
         customer_lifetime_value with freq = time_unit; lifetimes' default freq is 'D', so pass \
         'days' to reproduce a call that omitted freq. NULL when any numeric argument is NULL.",
        "clv(bgnbd_model, gamma_gamma_model, frequency, recency, T, monetary_value, months, monthly_discount_rate, time_unit)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(clv(named_struct('r', 0.2426, 'alpha', 4.4135, 'a', 0.7929, 'b', 2.4258),
                   named_struct('p', 6.2488, 'q', 3.7446, 'v', 15.4477),
                   2, 30.43, 38.86, 22.35, 12, 0.01, 'weeks'), 2) AS clv_12m;
+---------+
| clv_12m |
+---------+
| 36.28   |
+---------+
```"#,
    )
    .with_argument("bgnbd_model", "The struct bgnbd_fit returns.")
    .with_argument("gamma_gamma_model", "The struct gamma_gamma_fit returns.")
    .with_argument("frequency", "Repeat purchases x.")
    .with_argument("recency", "t_x, in time_unit.")
    .with_argument("T", "Observation length since the first purchase, in time_unit.")
    .with_argument("monetary_value", "Mean value of the repeat purchases.")
    .with_argument("months", "Horizon in months, a whole number (lifetimes' time).")
    .with_argument("monthly_discount_rate", "Discount rate per month, e.g. 0.01.")
    .with_argument("time_unit", "Unit of recency and T: 'days', 'weeks', 'hours' or 'months'.")
    .build()
});
