//! `age(end, start)`: PostgreSQL's interval in years, months and days.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, IntervalMonthDayNanoArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, TimeUnit};
use datafusion::common::cast::as_timestamp_microsecond_array;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_DATETIME;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::kernel::{all_scalar, finish};

const NAME: &str = "age";

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AgeFunc {
    signature: Signature,
}

impl AgeFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl Default for AgeFunc {
    fn default() -> Self {
        Self::new()
    }
}

fn days_in_month(year: i32, month: u32) -> i64 {
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    match (
        NaiveDate::from_ymd_opt(next_year, next_month, 1),
        NaiveDate::from_ymd_opt(year, month, 1),
    ) {
        (Some(next), Some(first)) => (next - first).num_days(),
        _ => 30,
    }
}

/// PostgreSQL's `timestamp_age`: field-wise differences, negative fields
/// borrowed from the next larger one, days borrowed from the month of the
/// earlier timestamp. The result has the sign of `end - start`.
pub fn age(end: NaiveDateTime, start: NaiveDateTime) -> IntervalMonthDayNano {
    let negative = end < start;
    let (late, early) = if negative { (start, end) } else { (end, start) };
    let mut micros = i64::from(late.nanosecond() / 1000) - i64::from(early.nanosecond() / 1000);
    let mut seconds = i64::from(late.second()) - i64::from(early.second());
    let mut minutes = i64::from(late.minute()) - i64::from(early.minute());
    let mut hours = i64::from(late.hour()) - i64::from(early.hour());
    let mut days = i64::from(late.day()) - i64::from(early.day());
    let mut months = i64::from(late.month()) - i64::from(early.month());
    let mut years = i64::from(late.year()) - i64::from(early.year());
    if micros < 0 {
        micros += 1_000_000;
        seconds -= 1;
    }
    if seconds < 0 {
        seconds += 60;
        minutes -= 1;
    }
    if minutes < 0 {
        minutes += 60;
        hours -= 1;
    }
    if hours < 0 {
        hours += 24;
        days -= 1;
    }
    if days < 0 {
        days += days_in_month(early.year(), early.month());
        months -= 1;
    }
    if months < 0 {
        months += 12;
        years -= 1;
    }
    let sign = if negative { -1 } else { 1 };
    let nanos = (((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micros) * 1000;
    IntervalMonthDayNano::new(
        (sign * (years * 12 + months)) as i32,
        (sign * days) as i32,
        sign * nanos,
    )
}

impl ScalarUDFImpl for AgeFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() != 2 {
            return plan_err!(
                "{NAME} expects 2 arguments (end, start), got {}",
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .zip(["end", "start"])
            .map(|(t, name)| match t {
                DataType::Date32
                | DataType::Date64
                | DataType::Timestamp(_, _)
                | DataType::Null
                | DataType::Utf8
                | DataType::Utf8View
                | DataType::LargeUtf8 => Ok(DataType::Timestamp(TimeUnit::Microsecond, None)),
                t => plan_err!("{NAME}: argument '{name}' must be a date or timestamp, got {t}"),
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(
            datafusion::arrow::datatypes::IntervalUnit::MonthDayNano,
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let micros = |a: &ArrayRef| cast(a, &DataType::Timestamp(TimeUnit::Microsecond, None));
        let (end, start) = (micros(&arrays[0])?, micros(&arrays[1])?);
        let (end, start) = (
            as_timestamp_microsecond_array(&end)?,
            as_timestamp_microsecond_array(&start)?,
        );
        let at = |v: i64| DateTime::from_timestamp_micros(v).map(|t| t.naive_utc());
        let mut out = Vec::with_capacity(end.len());
        for row in 0..end.len() {
            if end.is_null(row) || start.is_null(row) {
                out.push(None);
                continue;
            }
            let (Some(e), Some(s)) = (at(end.value(row)), at(start.value(row))) else {
                return exec_err!("{NAME}: timestamp out of range in row {row}");
            };
            out.push(Some(age(e, s)));
        }
        finish(
            Arc::new(IntervalMonthDayNanoArray::from(out)) as ArrayRef,
            scalar,
        )
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_DATETIME,
        "The time from start to end as an interval of years, months and days (then hours, \
         minutes, seconds), as PostgreSQL's and DuckDB's age: the calendar fields are \
         subtracted one by one and a negative field borrows from the next larger one, days \
         from the length of the start's month. age('2024-03-15', '2001-01-20') is 23 years \
         1 month 26 days; date_part('year', age(today, birth_date)) is a customer's age in \
         whole years. Negative when end is before start; NULL when either is NULL.",
        "age(end, start)",
    )
    .with_sql_example(
        r#"```sql
> SELECT age(TIMESTAMP '2024-03-15', TIMESTAMP '2001-01-20') AS a;
+------------------------------+
| a                            |
+------------------------------+
| 277 mons 26 days             |
+------------------------------+
```"#,
    )
    .with_argument("end", "The later date or timestamp.")
    .with_argument("start", "The earlier date or timestamp.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test timestamp")
    }

    #[test]
    fn borrows_days_from_the_start_month_as_postgresql() {
        // PostgreSQL 16: SELECT age('2024-03-15', '2001-01-20') = 23 years 1 mon 26 days
        let a = age(t("2024-03-15 00:00:00"), t("2001-01-20 00:00:00"));
        assert_eq!((a.months, a.days, a.nanoseconds), (23 * 12 + 1, 26, 0));
        // age('2024-03-01', '2024-01-31') = 1 mon 1 day (January has 31 days)
        let a = age(t("2024-03-01 00:00:00"), t("2024-01-31 00:00:00"));
        assert_eq!((a.months, a.days), (1, 1));
        // age('2024-03-01 10:00', '2024-02-29 12:30') = 21:30:00
        let a = age(t("2024-03-01 10:00:00"), t("2024-02-29 12:30:00"));
        assert_eq!(
            (a.months, a.days, a.nanoseconds),
            (0, 0, (21 * 3600 + 1800) * 1_000_000_000)
        );
    }

    #[test]
    fn is_negative_when_end_is_before_start() {
        let a = age(t("2001-01-20 00:00:00"), t("2024-03-15 00:00:00"));
        assert_eq!((a.months, a.days), (-(23 * 12 + 1), -26));
    }
}
