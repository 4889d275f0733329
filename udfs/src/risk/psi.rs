//! `psi(expected, actual)`: population stability index over bins.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, ScalarValue, exec_err, internal_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::kernel::coerce_all_numeric;

const NAME: &str = "psi";
const ARGUMENTS: [&str; 2] = ["expected", "actual"];

/// Share a bin is given when it is empty in one sample, so its term stays
/// finite (the common convention of PSI monitoring tools).
pub const MIN_SHARE: f64 = 1e-4;

/// Σ (a_i - e_i) ln(a_i / e_i) over bins, from counts or shares: each side
/// is divided by its total, and shares below [`MIN_SHARE`] are raised to it.
/// None when either side is all zero.
pub fn population_stability_index(expected: &[f64], actual: &[f64]) -> Option<f64> {
    let (total_e, total_a) = (expected.iter().sum::<f64>(), actual.iter().sum::<f64>());
    if total_e <= 0.0 || total_a <= 0.0 {
        return None;
    }
    Some(
        expected
            .iter()
            .zip(actual)
            .map(|(e, a)| {
                let (e, a) = ((e / total_e).max(MIN_SHARE), (a / total_a).max(MIN_SHARE));
                (a - e) * (a / e).ln()
            })
            .sum(),
    )
}

/// SQL `psi`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PsiFunc {
    signature: Signature,
}

impl Default for PsiFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl PsiFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for PsiFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_all_numeric(NAME, &ARGUMENTS, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        Ok(ARGUMENTS
            .iter()
            .map(|a| {
                Arc::new(Field::new(
                    format_state_name(args.name, a),
                    list.clone(),
                    true,
                ))
            })
            .collect())
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(PsiAccumulator {
            rows: crate::collect::CollectedRows::new(2),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct PsiAccumulator {
    rows: crate::collect::CollectedRows,
}

impl Accumulator for PsiAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (Some(e), Some(a)) = (values.first(), values.get(1)) else {
            return internal_err!("{NAME} expects (expected, actual) arrays");
        };
        let (e, a) = (as_float64_array(e)?, as_float64_array(a)?);
        for i in 0..e.len() {
            // A bin missing from one side has nothing there.
            let ev = if e.is_null(i) { 0.0 } else { e.value(i) };
            let av = if a.is_null(i) { 0.0 } else { a.value(i) };
            for (argument, v) in [("expected", ev), ("actual", av)] {
                if !(v >= 0.0 && v.is_finite()) {
                    return exec_err!(
                        "{NAME}: argument '{argument}' must be a share or count >= 0, got {v}"
                    );
                }
            }
            self.rows.columns[0].push(ev);
            self.rows.columns[1].push(av);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.rows.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(NAME, states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(population_stability_index(
            &self.rows.columns[0],
            &self.rows.columns[1],
        )))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "Population stability index over bins, one row per bin: sum of (a_i - e_i) ln(a_i / e_i) \
         with e_i, a_i the expected (development) and actual (current) shares of bin i. Either \
         column may hold shares or counts: each is divided by its total. A share below 0.0001 \
         (an empty bin) counts as 0.0001 so the index stays finite. NULL in a row counts as 0; \
         NULL result when either side is all zero. Usual reading: < 0.1 stable, 0.1-0.25 some \
         shift, > 0.25 a shift that needs action. Errors on a negative value. For raw scores use \
         psi_scores.",
        "psi(expected, actual)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(psi(e, a), 6) FROM (VALUES (0.5, 0.4), (0.5, 0.6)) AS t(e, a);
+----------------------+
| round(psi(t.e,t.a),6)|
+----------------------+
| 0.040547             |
+----------------------+
```"#,
    )
    .with_argument("expected", "Expected (baseline) share or count of the bin.")
    .with_argument("actual", "Actual (current) share or count of the bin.")
    .build()
});
