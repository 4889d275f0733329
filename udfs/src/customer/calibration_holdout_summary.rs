//! `calibration_holdout_summary(purchase_time, amount, calibration_end,
//! observation_end, time_unit)`: a customer's calibration summary and
//! holdout purchases, for out-of-sample checks of a CLV model.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use super::purchase_days::{
    PurchaseDays, check_period, coerce_date, coerce_unit, constant_date, constant_unit, mean_known,
    state_fields,
};
use crate::kernel::{check_arity, coerce_numeric};
use crate::model::{model_type, model_value};

const NAME: &str = "calibration_holdout_summary";
const ARGUMENTS: [&str; 5] = [
    "purchase_time",
    "amount",
    "calibration_end",
    "observation_end",
    "time_unit",
];

fn fields() -> Vec<(&'static str, DataType)> {
    vec![
        ("frequency_cal", DataType::Int64),
        ("recency_cal", DataType::Float64),
        ("T_cal", DataType::Float64),
        ("monetary_value_cal", DataType::Float64),
        ("frequency_holdout", DataType::Int64),
        ("monetary_value_holdout", DataType::Float64),
        ("duration_holdout", DataType::Float64),
    ]
}

/// SQL `calibration_holdout_summary`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CalibrationHoldoutSummaryFunc {
    signature: Signature,
}

impl Default for CalibrationHoldoutSummaryFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl CalibrationHoldoutSummaryFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for CalibrationHoldoutSummaryFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        Ok(vec![
            coerce_date(NAME, ARGUMENTS[0], &arg_types[0])?,
            coerce_numeric(NAME, ARGUMENTS[1], &arg_types[1])?,
            coerce_date(NAME, ARGUMENTS[2], &arg_types[2])?,
            coerce_date(NAME, ARGUMENTS[3], &arg_types[3])?,
            coerce_unit(NAME, &arg_types[4])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(model_type(&fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(state_fields(args.name))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let calibration_end = constant_date(NAME, ARGUMENTS[2], &args, 2)?;
        let observation_end = constant_date(NAME, ARGUMENTS[3], &args, 3)?;
        check_period(NAME, calibration_end, observation_end)?;
        Ok(Box::new(CalibrationHoldoutAccumulator {
            purchases: PurchaseDays::default(),
            calibration_end,
            observation_end,
            days_per_unit: constant_unit(NAME, &args, 4)?,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct CalibrationHoldoutAccumulator {
    purchases: PurchaseDays,
    calibration_end: i32,
    observation_end: i32,
    days_per_unit: f64,
}

impl Accumulator for CalibrationHoldoutAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.purchases.append(values, self.observation_end)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self.purchases.state())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.purchases.merge(states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // lifetimes averages holdout transactions, not holdout days.
        let holdout_amounts: Vec<f64> = self
            .purchases
            .days
            .iter()
            .zip(&self.purchases.amounts)
            .filter(|(day, amount)| **day > self.calibration_end && !amount.is_nan())
            .map(|(_, amount)| *amount)
            .collect();
        let monetary_value_holdout = if holdout_amounts.is_empty() {
            0.0
        } else {
            holdout_amounts.iter().sum::<f64>() / holdout_amounts.len() as f64
        };
        let totals = self.purchases.daily_totals();
        let split = totals.partition_point(|(day, _)| *day <= self.calibration_end);
        let (calibration, holdout) = totals.split_at(split);
        // lifetimes keeps only customers seen in the calibration period.
        let (Some(first), Some(last)) = (calibration.first(), calibration.last()) else {
            return ScalarValue::try_from(&model_type(&fields()));
        };
        let unit = self.days_per_unit;
        let column = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        model_value(
            &fields(),
            vec![
                Arc::new(Int64Array::from(vec![calibration.len() as i64 - 1])),
                column(f64::from(last.0 - first.0) / unit),
                column(f64::from(self.calibration_end - first.0) / unit),
                column(mean_known(&calibration[1..])),
                Arc::new(Int64Array::from(vec![holdout.len() as i64])),
                column(monetary_value_holdout),
                column(f64::from(self.observation_end - self.calibration_end) / unit),
            ],
        )
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.purchases.size()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_GENERAL,
        "Splits one customer's transactions (use with GROUP BY customer) at calibration_end, as \
         lifetimes' calibration_and_holdout_data with freq='D': frequency_cal, recency_cal, \
         T_cal and monetary_value_cal are customer_summary of the transactions up to \
         calibration_end; frequency_holdout is the number of purchase days in \
         (calibration_end, observation_end], monetary_value_holdout the mean amount of the \
         holdout transactions (per transaction, not per day, as lifetimes does; 0 if none) \
         and duration_holdout the holdout length. NULL for a customer with no \
         purchase up to calibration_end (lifetimes drops them). Fit bgnbd_fit on the \
         calibration columns, then compare bgnbd_expected_purchases(model, duration_holdout, \
         ...) with frequency_holdout.",
        "calibration_holdout_summary(purchase_time, amount, calibration_end, observation_end, time_unit)",
    )
    .with_sql_example(
        r#"```sql
> SELECT s.frequency_cal, s.frequency_holdout, s.duration_holdout
  FROM (SELECT customer_id,
               calibration_holdout_summary(date, amount, DATE '1997-09-30', DATE '1998-06-30', 'weeks') AS s
        FROM cdnow_transactions GROUP BY customer_id)
  ORDER BY customer_id LIMIT 1;
+---------------+-------------------+-------------------+
| frequency_cal | frequency_holdout | duration_holdout  |
+---------------+-------------------+-------------------+
| 2             | 1                 | 38.857142857142854 |
+---------------+-------------------+-------------------+
```"#,
    )
    .with_argument("purchase_time", "DATE or TIMESTAMP of each transaction.")
    .with_argument("amount", "Transaction amount.")
    .with_argument("calibration_end", "Constant DATE: last day of the calibration period.")
    .with_argument("observation_end", "Constant DATE: last day of the holdout period.")
    .with_argument("time_unit", "Constant 'days' or 'weeks'.")
    .build()
});
