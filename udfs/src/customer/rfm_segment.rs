//! `rfm_segment(r, f, m)`: the named segment of an RFM score.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, Int64Array, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_int64_array;
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::kernel::{all_scalar, check_arity, finish};

const NAME: &str = "rfm_segment";
const ARGUMENTS: [&str; 3] = ["r", "f", "m"];

/// The 11 segments, indexed by [R - 1][FM - 1] with FM = round half up of
/// (F + M) / 2. The grid is the usual 11-segment RFM chart (Putler's,
/// popularised by many CRM tools) made exact: every cell has one name.
const GRID: [[&str; 5]; 5] = [
    // FM:  1              2                     3                     4                  5
    [
        "Lost",
        "Lost",
        "At risk",
        "Can't lose them",
        "Can't lose them",
    ], // R = 1
    [
        "Hibernating",
        "Hibernating",
        "At risk",
        "At risk",
        "At risk",
    ], // R = 2
    [
        "About to sleep",
        "About to sleep",
        "Need attention",
        "Loyal",
        "Loyal",
    ], // R = 3
    [
        "Promising",
        "Potential loyalist",
        "Potential loyalist",
        "Loyal",
        "Champions",
    ], // R = 4
    [
        "New",
        "Potential loyalist",
        "Potential loyalist",
        "Champions",
        "Champions",
    ], // R = 5
];

/// The segment of scores r, f, m in 1..=5.
#[inline]
pub fn segment(r: i64, f: i64, m: i64) -> Option<&'static str> {
    let valid = |s: i64| (1..=5).contains(&s);
    if !(valid(r) && valid(f) && valid(m)) {
        return None;
    }
    let fm = (f + m + 1) / 2;
    Some(GRID[(r - 1) as usize][(fm - 1) as usize])
}

/// SQL `rfm_segment`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RfmSegmentFunc {
    signature: Signature,
}

impl Default for RfmSegmentFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl RfmSegmentFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for RfmSegmentFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        ARGUMENTS
            .iter()
            .zip(arg_types)
            .map(|(argument, data_type)| {
                if data_type.is_integer() || data_type.is_null() {
                    Ok(DataType::Int64)
                } else {
                    plan_err!(
                        "{NAME}: argument '{argument}' must be an integer score 1-5 (for example \
                         from ntile(5)), got {data_type}"
                    )
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let [r, f, m] = take_function_args(NAME, args.args)?;
        let arrays = ColumnarValue::values_to_arrays(&[r, f, m])?;
        let (r, f, m) = (
            as_int64_array(&arrays[0])?,
            as_int64_array(&arrays[1])?,
            as_int64_array(&arrays[2])?,
        );
        finish(segments(r, f, m)?, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

fn segments(r: &Int64Array, f: &Int64Array, m: &Int64Array) -> Result<ArrayRef> {
    let mut out = StringBuilder::with_capacity(r.len(), r.len() * 12);
    for i in 0..r.len() {
        if r.is_null(i) || f.is_null(i) || m.is_null(i) {
            out.append_null();
            continue;
        }
        match segment(r.value(i), f.value(i), m.value(i)) {
            Some(name) => out.append_value(name),
            None => {
                for (argument, value) in ARGUMENTS.iter().zip([r.value(i), f.value(i), m.value(i)])
                {
                    if !(1..=5).contains(&value) {
                        return exec_err!(
                            "{NAME}: argument '{argument}' must be a score between 1 and 5, got {value}"
                        );
                    }
                }
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Names the RFM segment of recency, frequency and monetary scores 1-5 (5 = most recent, \
         most frequent, highest spend). With FM = round((F + M) / 2) (halves up), the grid is:\n\
         R 5: FM 1 New, FM 2-3 Potential loyalist, FM 4-5 Champions;\n\
         R 4: FM 1 Promising, FM 2-3 Potential loyalist, FM 4 Loyal, FM 5 Champions;\n\
         R 3: FM 1-2 About to sleep, FM 3 Need attention, FM 4-5 Loyal;\n\
         R 2: FM 1-2 Hibernating, FM 3-5 At risk;\n\
         R 1: FM 1-2 Lost, FM 3 At risk, FM 4-5 Can't lose them.\n\
         Scores are quintiles: ntile(5) OVER (ORDER BY days_since_last_purchase DESC) for R, \
         and OVER (ORDER BY purchases) and (ORDER BY spend) for F and M; ceil(5 * cume_dist()) \
         gives tied customers the same score. NULL when any score is NULL; a score outside \
         1-5 is an error.",
        "rfm_segment(r, f, m)",
    )
    .with_sql_example(
        r#"```sql
> SELECT rfm_segment(5, 5, 4) AS best, rfm_segment(1, 5, 5) AS slipping, rfm_segment(1, 1, 2) AS gone;
+-----------+-----------------+------+
| best      | slipping        | gone |
+-----------+-----------------+------+
| Champions | Can't lose them | Lost |
+-----------+-----------------+------+
```"#,
    )
    .with_argument("r", "Recency score 1-5, 5 = purchased most recently.")
    .with_argument("f", "Frequency score 1-5, 5 = most purchases.")
    .with_argument("m", "Monetary score 1-5, 5 = highest spend.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cell_has_one_of_the_eleven_segments() {
        let mut names: Vec<&str> = GRID.iter().flatten().copied().collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 11, "{names:?}");
        assert_eq!(segment(5, 5, 5), Some("Champions"));
        assert_eq!(segment(5, 1, 1), Some("New"));
        assert_eq!(segment(3, 3, 2), Some("Need attention")); // FM = round(2.5) = 3
        assert_eq!(segment(0, 1, 1), None);
    }
}
