//! Per-customer purchase days, shared by `customer_summary` and
//! `calibration_holdout_summary`: the aggregation behind lifetimes'
//! `summary_data_from_transaction_data` and `calibration_and_holdout_data`
//! with freq = 'D' (purchases on the same day are one purchase, their amounts
//! summed) and freq_multiplier 1 (days) or 7 (weeks).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Int32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_date32_array, as_float64_array, as_int32_array, as_list_array};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::function::AccumulatorArgs;

use crate::kernel::constant_argument;
use datafusion::logical_expr::utils::format_state_name;

/// Coerces a purchase-time or end-date argument to Date32 (timestamps are
/// truncated to their UTC day, as pandas' to_period('D') does).
pub fn coerce_date(function: &str, argument: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Date32
        | DataType::Date64
        | DataType::Timestamp(_, _)
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Null => Ok(DataType::Date32),
        other => {
            plan_err!("{function}: argument '{argument}' must be a DATE or TIMESTAMP, got {other}")
        }
    }
}

pub fn coerce_unit(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(DataType::Utf8),
        other => {
            plan_err!("{function}: argument 'time_unit' must be 'days' or 'weeks', got {other}")
        }
    }
}

pub fn constant_date(
    function: &str,
    argument: &str,
    args: &AccumulatorArgs,
    index: usize,
) -> Result<i32> {
    match constant_argument(function, argument, args, index)? {
        ScalarValue::Date32(Some(day)) => Ok(day),
        ScalarValue::Date32(None) | ScalarValue::Null => {
            plan_err!("{function}: argument '{argument}' must not be NULL")
        }
        other => plan_err!("{function}: argument '{argument}' must be a DATE, got {other}"),
    }
}

/// Days per time unit: lifetimes' freq_multiplier with freq = 'D'.
pub fn constant_unit(function: &str, args: &AccumulatorArgs, index: usize) -> Result<f64> {
    let unit = match constant_argument(function, "time_unit", args, index)? {
        ScalarValue::Utf8(Some(unit)) => unit,
        other => {
            return plan_err!(
                "{function}: argument 'time_unit' must be 'days' or 'weeks', got {other}"
            );
        }
    };
    match unit.to_ascii_lowercase().as_str() {
        "days" | "day" | "d" => Ok(1.0),
        "weeks" | "week" | "w" => Ok(7.0),
        _ => plan_err!("{function}: argument 'time_unit' must be 'days' or 'weeks', got '{unit}'"),
    }
}

pub fn state_fields(name: &str) -> Vec<FieldRef> {
    let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
    vec![
        Arc::new(Field::new(
            format_state_name(name, "days"),
            list(DataType::Int32),
            true,
        )),
        Arc::new(Field::new(
            format_state_name(name, "amounts"),
            list(DataType::Float64),
            true,
        )),
    ]
}

/// A customer's purchases up to the observation end: day numbers (days
/// since 1970-01-01) and amounts (NaN for a NULL amount).
#[derive(Debug, Default)]
pub struct PurchaseDays {
    pub days: Vec<i32>,
    pub amounts: Vec<f64>,
}

/// One day's purchases: the day and the total of its known amounts (NaN
/// when all were NULL).
pub type DailyTotal = (i32, f64);

impl PurchaseDays {
    /// Appends the rows of (purchase_time, amount) on or before `last_day`.
    pub fn append(&mut self, values: &[ArrayRef], last_day: i32) -> Result<()> {
        let (Some(days), Some(amounts)) = (values.first(), values.get(1)) else {
            return internal_err!("purchase history expects (purchase_time, amount) arrays");
        };
        let days = as_date32_array(days)?;
        let amounts = as_float64_array(amounts)?;
        for i in 0..days.len() {
            if days.is_null(i) || days.value(i) > last_day {
                continue;
            }
            self.days.push(days.value(i));
            self.amounts.push(if amounts.is_null(i) {
                f64::NAN
            } else {
                amounts.value(i)
            });
        }
        Ok(())
    }

    pub fn state(&self) -> Vec<ScalarValue> {
        let days: ArrayRef = Arc::new(Int32Array::from(self.days.clone()));
        let amounts: ArrayRef = Arc::new(Float64Array::from(self.amounts.clone()));
        vec![
            SingleRowListArrayBuilder::new(days).build_list_scalar(),
            SingleRowListArrayBuilder::new(amounts).build_list_scalar(),
        ]
    }

    pub fn merge(&mut self, states: &[ArrayRef]) -> Result<()> {
        let [days, amounts] = states else {
            return internal_err!(
                "purchase history expects 2 state arrays, got {}",
                states.len()
            );
        };
        let (days, amounts) = (as_list_array(days)?, as_list_array(amounts)?);
        for i in 0..days.len() {
            if days.is_null(i) || amounts.is_null(i) {
                continue;
            }
            let (d, a) = (days.value(i), amounts.value(i));
            let (d, a) = (as_int32_array(&d)?, as_float64_array(&a)?);
            if d.len() != a.len() {
                return internal_err!("purchase history state columns differ in length");
            }
            self.days.extend(d.values().iter());
            self.amounts.extend(a.values().iter());
        }
        Ok(())
    }

    /// Purchase days in order with their totals.
    pub fn daily_totals(&mut self) -> Vec<DailyTotal> {
        let mut rows: Vec<(i32, f64)> = self
            .days
            .iter()
            .copied()
            .zip(self.amounts.iter().copied())
            .collect();
        rows.sort_unstable_by_key(|(day, _)| *day);
        let mut totals: Vec<DailyTotal> = Vec::new();
        for (day, amount) in rows {
            match totals.last_mut() {
                Some((last, total)) if *last == day => {
                    if !amount.is_nan() {
                        *total = if total.is_nan() {
                            amount
                        } else {
                            *total + amount
                        };
                    }
                }
                _ => totals.push((day, amount)),
            }
        }
        totals
    }

    pub fn size(&self) -> usize {
        size_of_val(self) + self.days.capacity() * 4 + self.amounts.capacity() * 8
    }
}

/// Mean of the known daily totals (0 when there are none), lifetimes'
/// monetary_value.
pub fn mean_known(totals: &[DailyTotal]) -> f64 {
    let known: Vec<f64> = totals
        .iter()
        .map(|(_, t)| *t)
        .filter(|t| !t.is_nan())
        .collect();
    if known.is_empty() {
        0.0
    } else {
        known.iter().sum::<f64>() / known.len() as f64
    }
}

/// Checks that the calibration end is not after the observation end.
pub fn check_period(function: &str, calibration_end: i32, observation_end: i32) -> Result<()> {
    if calibration_end > observation_end {
        return exec_err!(
            "{function}: argument 'calibration_end' must be on or before 'observation_end'"
        );
    }
    Ok(())
}
