//! `customer_summary(purchase_time, amount, observation_end, time_unit)`:
//! a customer's (frequency, recency, T, monetary_value), the input of the
//! BG/NBD and Gamma-Gamma models.

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
    PurchaseDays, coerce_date, coerce_unit, constant_date, constant_unit, mean_known, state_fields,
};
use crate::kernel::{check_arity, coerce_numeric};
use crate::model::{model_type, model_value};

const NAME: &str = "customer_summary";
const ARGUMENTS: [&str; 4] = ["purchase_time", "amount", "observation_end", "time_unit"];

fn fields() -> Vec<(&'static str, DataType)> {
    vec![
        ("frequency", DataType::Int64),
        ("recency", DataType::Float64),
        ("T", DataType::Float64),
        ("monetary_value", DataType::Float64),
    ]
}

/// SQL `customer_summary`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CustomerSummaryFunc {
    signature: Signature,
}

impl Default for CustomerSummaryFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl CustomerSummaryFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for CustomerSummaryFunc {
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
            coerce_unit(NAME, &arg_types[3])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(model_type(&fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(state_fields(args.name))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(CustomerSummaryAccumulator {
            purchases: PurchaseDays::default(),
            observation_end: constant_date(NAME, ARGUMENTS[2], &args, 2)?,
            days_per_unit: constant_unit(NAME, &args, 3)?,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct CustomerSummaryAccumulator {
    purchases: PurchaseDays,
    observation_end: i32,
    days_per_unit: f64,
}

impl Accumulator for CustomerSummaryAccumulator {
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
        let totals = self.purchases.daily_totals();
        let (Some(first), Some(last)) = (totals.first(), totals.last()) else {
            return ScalarValue::try_from(&model_type(&fields()));
        };
        let unit = self.days_per_unit;
        let recency = f64::from(last.0 - first.0) / unit;
        let t = f64::from(self.observation_end - first.0) / unit;
        let column = |v: f64| -> ArrayRef { Arc::new(Float64Array::from(vec![v])) };
        model_value(
            &fields(),
            vec![
                Arc::new(Int64Array::from(vec![totals.len() as i64 - 1])),
                column(recency),
                column(t),
                column(mean_known(&totals[1..])),
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
        "Summarises one customer's transactions (use with GROUP BY customer) into the struct \
         {frequency, recency, T, monetary_value} that bgnbd_fit and gamma_gamma_fit take, as \
         lifetimes' summary_data_from_transaction_data with freq='D': transactions after \
         observation_end are ignored; purchases on the same (UTC) day count once, their amounts \
         summed; frequency = purchase days - 1 (repeat purchases); recency = last - first \
         purchase day; T = observation_end - first purchase day; monetary_value = mean daily \
         total of the repeat purchase days (the first day excluded, 0 when frequency = 0; NULL \
         amounts count as purchases but not in the mean). time_unit 'weeks' divides recency and \
         T by 7 (lifetimes' freq_multiplier=7). NULL for a customer with no transaction on or \
         before observation_end. Refunds (negative amounts) are summed in; filter them out \
         before gamma_gamma_fit.",
        "customer_summary(purchase_time, amount, observation_end, time_unit)",
    )
    .with_sql_example(
        r#"```sql
> SELECT customer_id, s.frequency, s.recency, s."T", round(s.monetary_value, 2) AS monetary_value
  FROM (SELECT customer_id, customer_summary(date, amount, DATE '1997-09-30', 'weeks') AS s
        FROM cdnow_transactions GROUP BY customer_id)
  ORDER BY customer_id LIMIT 1;
+-------------+-----------+-------------------+-------------------+----------------+
| customer_id | frequency | recency           | T                 | monetary_value |
+-------------+-----------+-------------------+-------------------+----------------+
| 4           | 2         | 30.428571428571427 | 38.857142857142854 | 22.35          |
+-------------+-----------+-------------------+-------------------+----------------+
```"#,
    )
    .with_argument("purchase_time", "DATE or TIMESTAMP of each transaction.")
    .with_argument("amount", "Transaction amount (for monetary_value).")
    .with_argument(
        "observation_end",
        "Constant DATE: end of the observation period.",
    )
    .with_argument(
        "time_unit",
        "Constant 'days' or 'weeks': unit of recency and T.",
    )
    .build()
});
