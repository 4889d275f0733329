//! `reason_codes(features, points, max_points, k)`: the characteristics
//! that cost an applicant the most points, for adverse-action notices.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_ARRAY;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::kernel::{all_scalar, check_arity, finish};

const NAME: &str = "reason_codes";
const ARGUMENTS: [&str; 4] = ["features", "points", "max_points", "k"];

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ReasonCodesFunc {
    signature: Signature,
}

impl Default for ReasonCodesFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ReasonCodesFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn list_element(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::Null => Some(&DataType::Null),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Some(f.data_type())
        }
        _ => None,
    }
}

impl ScalarUDFImpl for ReasonCodesFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        if !list_element(&arg_types[0]).is_some_and(|t| t.is_string() || t.is_null()) {
            return plan_err!(
                "{NAME}: argument 'features' must be a list of names, got {}",
                arg_types[0]
            );
        }
        for (i, argument) in [(1, "points"), (2, "max_points")] {
            if !list_element(&arg_types[i]).is_some_and(|t| t.is_numeric() || t.is_null()) {
                return plan_err!(
                    "{NAME}: argument '{argument}' must be a list of numbers, got {}",
                    arg_types[i]
                );
            }
        }
        if !(arg_types[3].is_integer() || arg_types[3].is_null()) {
            return plan_err!(
                "{NAME}: argument 'k' must be a whole number, got {}",
                arg_types[3]
            );
        }
        Ok(vec![
            list_of(DataType::Utf8),
            list_of(DataType::Float64),
            list_of(DataType::Float64),
            DataType::Int64,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of(DataType::Utf8))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let [features, points, max_points, k] = take_function_args(NAME, args.args)?;
        let arrays = ColumnarValue::values_to_arrays(&[features, points, max_points, k])?;
        let (features, points, max_points) = (
            arrays[0].as_list::<i32>(),
            arrays[1].as_list::<i32>(),
            arrays[2].as_list::<i32>(),
        );
        let k = arrays[3].as_primitive::<Int64Type>();
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut order: Vec<(f64, usize)> = Vec::new();
        for row in 0..features.len() {
            if [
                features.is_null(row),
                points.is_null(row),
                max_points.is_null(row),
                k.is_null(row),
            ]
            .contains(&true)
            {
                out.append(false);
                continue;
            }
            let (names, p, m) = (
                features.value(row),
                points.value(row),
                max_points.value(row),
            );
            let (names, p, m) = (
                names.as_string::<i32>(),
                p.as_primitive::<Float64Type>(),
                m.as_primitive::<Float64Type>(),
            );
            if names.len() != p.len() || names.len() != m.len() {
                return exec_err!(
                    "{NAME}: arguments 'features', 'points' and 'max_points' must have the same length, got {}, {} and {}",
                    names.len(),
                    p.len(),
                    m.len()
                );
            }
            let k = k.value(row);
            if k < 0 {
                return exec_err!("{NAME}: argument 'k' must be >= 0, got {k}");
            }
            order.clear();
            for i in 0..names.len() {
                if names.is_null(i) || p.is_null(i) || m.is_null(i) {
                    continue;
                }
                let shortfall = m.value(i) - p.value(i);
                if shortfall > 0.0 {
                    order.push((shortfall, i));
                }
            }
            // Largest shortfall first; the features' order breaks ties.
            order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, i) in order.iter().take(k as usize) {
                out.values().append_value(names.value(i));
            }
            out.append(true);
        }
        let values: ArrayRef = Arc::new(out.finish());
        finish(values, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> =
    LazyLock::new(|| {
        Documentation::builder(
        DOC_SECTION_ARRAY,
        "Reason codes for an adverse-action notice: the names of the (at most k) characteristics \
         on which the applicant scored furthest below the most points attainable, largest \
         shortfall (max_points - points) first, ties in the order given; characteristics with \
         no shortfall are not reasons. The three lists are aligned (one entry per \
         characteristic). NULL when an argument is NULL; entries with a NULL are skipped. Errors \
         when the lists differ in length or k < 0.",
        "reason_codes(features, points, max_points, k)",
    )
    .with_sql_example(
        r#"```sql
> SELECT reason_codes(['duration', 'amount', 'age'], [10, 40, 25], [60, 45, 50], 2) AS reasons;
+--------------------+
| reasons            |
+--------------------+
| [duration, age]    |
+--------------------+
```"#,
    )
    .with_argument("features", "List of characteristic names.")
    .with_argument("points", "List of the applicant's points per characteristic.")
    .with_argument("max_points", "List of the most points attainable per characteristic.")
    .with_argument("k", "How many reasons at most.")
    .build()
    });
