//! `benford_test(amount)`: first-digit test of amounts against Benford's law.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, Int64Type};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use crate::kernel::{check_arity, coerce_numeric};

const NAME: &str = "benford_test";

pub fn result_fields() -> Fields {
    Fields::from(vec![
        Field::new("n", DataType::Int64, true),
        Field::new("chi_square", DataType::Float64, true),
        Field::new("p_value", DataType::Float64, true),
        Field::new("mad", DataType::Float64, true),
        Field::new("conformity", DataType::Utf8, true),
        Field::new(
            "digit_counts",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            true,
        ),
    ])
}

/// The first significant digit of |v|, for v != 0 and finite.
pub fn first_digit(v: f64) -> Option<usize> {
    let v = v.abs();
    if !(v > 0.0 && v.is_finite()) {
        return None;
    }
    // Scale into [1, 10) by an exact power of ten (10^k is exact up to
    // k = 22; 10f64.powi(-3) is not, and 0.007 / 0.0010000000000000002 has
    // first digit 6). The loops absorb rounding of log10.
    let e = v.log10().floor() as i32;
    let mut scaled = match e {
        0..=22 => v / 10f64.powi(e),
        -22..=-1 => v * 10f64.powi(-e),
        _ => v / 10f64.powi(e),
    };
    while scaled >= 10.0 {
        scaled /= 10.0;
    }
    while scaled < 1.0 {
        scaled *= 10.0;
    }
    Some(scaled as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_digits_of_decimal_amounts() {
        let cases = [
            (0.07, 7),
            (0.06, 6),
            (0.007, 7),
            (7.0, 7),
            (70.0, 7),
            (1000.0, 1),
            (999.99, 9),
            (-0.3, 3),
            (1e-300, 1),
            (9.9e300, 9),
        ];
        for (v, d) in cases {
            assert_eq!(first_digit(v), Some(d), "{v}");
        }
        assert_eq!(first_digit(0.0), None);
        assert_eq!(first_digit(f64::NAN), None);
    }
}

/// Benford's first-digit probabilities log10(1 + 1/d), d = 1..9.
fn benford(d: usize) -> f64 {
    (1.0 + 1.0 / d as f64).log10()
}

/// Nigrini's (2012) first-digit MAD thresholds.
fn conformity(mad: f64) -> &'static str {
    if mad < 0.006 {
        "close conformity"
    } else if mad < 0.012 {
        "acceptable conformity"
    } else if mad < 0.015 {
        "marginally acceptable conformity"
    } else {
        "nonconformity"
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BenfordTestFunc {
    signature: Signature,
}

impl Default for BenfordTestFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl BenfordTestFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for BenfordTestFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &["amount"], arg_types)?;
        Ok(vec![coerce_numeric(NAME, "amount", &arg_types[0])?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(result_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "digit_counts"),
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
            true,
        ))])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(BenfordAccumulator { counts: [0; 9] }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

#[derive(Debug)]
struct BenfordAccumulator {
    counts: [i64; 9],
}

impl Accumulator for BenfordAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(amounts) = values.first() else {
            return internal_err!("{NAME} expects an amount array");
        };
        for v in amounts.as_primitive::<Float64Type>().iter().flatten() {
            if let Some(d) = first_digit(v) {
                self.counts[d - 1] += 1;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let counts: ArrayRef = Arc::new(Int64Array::from(self.counts.to_vec()));
        Ok(vec![
            SingleRowListArrayBuilder::new(counts).build_list_scalar(),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(lists) = states.first() else {
            return internal_err!("{NAME} expects a state array");
        };
        let lists = lists.as_list::<i32>();
        for row in 0..lists.len() {
            if lists.is_valid(row) {
                let counts = lists.value(row);
                for (total, c) in self
                    .counts
                    .iter_mut()
                    .zip(counts.as_primitive::<Int64Type>().values())
                {
                    *total += c;
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let n: i64 = self.counts.iter().sum();
        let (chi_square, p_value, mad, verdict) = if n == 0 {
            (None, None, None, None)
        } else {
            let nf = n as f64;
            let mut chi = 0.0;
            let mut mad = 0.0;
            for (i, &c) in self.counts.iter().enumerate() {
                let expected = nf * benford(i + 1);
                chi += (c as f64 - expected).powi(2) / expected;
                mad += (c as f64 / nf - benford(i + 1)).abs();
            }
            mad /= 9.0;
            let p = ChiSquared::new(8.0).map(|d| d.sf(chi)).ok();
            (Some(chi), p, Some(mad), Some(conformity(mad)))
        };
        let digit_counts: ArrayRef = Arc::new(Int64Array::from(self.counts.to_vec()));
        let list = SingleRowListArrayBuilder::new(digit_counts).build_list_array();
        let result = StructArray::try_new(
            result_fields(),
            vec![
                Arc::new(Int64Array::from(vec![n])),
                Arc::new(Float64Array::from(vec![chi_square])),
                Arc::new(Float64Array::from(vec![p_value])),
                Arc::new(Float64Array::from(vec![mad])),
                Arc::new(StringArray::from(vec![verdict])),
                Arc::new(list),
            ],
            None,
        )?;
        Ok(ScalarValue::Struct(Arc::new(result)))
    }

    fn size(&self) -> usize {
        size_of_val(self)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        "First-digit test of amounts against Benford's law, P(d) = log10(1 + 1/d): returns \
         {n, chi_square, p_value, mad, conformity, digit_counts} with the chi-square statistic \
         over digits 1-9 and its p-value on 8 degrees of freedom (scipy.stats.chisquare), the mean \
         absolute deviation of the digit shares from Benford's and Nigrini's verdict for it \
         (close < 0.006 <= acceptable < 0.012 <= marginally acceptable < 0.015 <= nonconformity). \
         The first significant digit of |amount| is used, so refunds count; zero, NULL and \
         non-finite amounts are skipped. Large samples reject small deviations: read the MAD.",
        "benford_test(amount)",
    )
    .with_sql_example(
        r#"```sql
> SELECT merchant_id, t['mad'] AS mad, t['conformity'] AS verdict
  FROM (SELECT merchant_id, benford_test(amount) AS t FROM transactions GROUP BY merchant_id);
```"#,
    )
    .with_argument("amount", "Amount whose first digit is tested.")
    .build()
});
