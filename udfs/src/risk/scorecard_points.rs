//! `scorecard_points(p_event, base_score, base_odds, pdo)`: a probability
//! of default on the points-to-double-the-odds scale.

use std::sync::LazyLock;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::cast::as_float64_array;
use datafusion::common::utils::take_function_args;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::kernel::{all_scalar, coerce_all_numeric, finish, try_map_rows};

const NAME: &str = "scorecard_points";
const ARGUMENTS: [&str; 4] = ["p_event", "base_score", "base_odds", "pdo"];

/// Score scaling: score = offset + factor ln(good:bad odds), with
/// factor = pdo / ln 2 and offset = base_score - factor ln(base_odds), so
/// base_odds score base_score and every pdo points double the odds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreScale {
    pub factor: f64,
    pub offset: f64,
}

impl ScoreScale {
    pub fn new(function: &str, base_score: f64, base_odds: f64, pdo: f64) -> Result<Self> {
        if !(base_odds > 0.0 && base_odds.is_finite()) {
            return datafusion::common::exec_err!(
                "{function}: argument 'base_odds' must be positive good:bad odds such as 50, got {base_odds}"
            );
        }
        if !(pdo > 0.0 && pdo.is_finite() && base_score.is_finite()) {
            return datafusion::common::exec_err!(
                "{function}: arguments 'base_score' and 'pdo' must be finite, pdo > 0, got {base_score} and {pdo}"
            );
        }
        let factor = pdo / std::f64::consts::LN_2;
        Ok(Self {
            factor,
            offset: base_score - factor * base_odds.ln(),
        })
    }

    /// The score of a probability of the event (bad).
    pub fn points(&self, p_event: f64) -> f64 {
        self.offset + self.factor * ((1.0 - p_event) / p_event).ln()
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ScorecardPointsFunc {
    signature: Signature,
}

impl Default for ScorecardPointsFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl ScorecardPointsFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ScorecardPointsFunc {
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

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let [p, base_score, base_odds, pdo] = take_function_args(NAME, args.args)?;
        let arrays = ColumnarValue::values_to_arrays(&[p, base_score, base_odds, pdo])?;
        let columns = [
            as_float64_array(&arrays[0])?,
            as_float64_array(&arrays[1])?,
            as_float64_array(&arrays[2])?,
            as_float64_array(&arrays[3])?,
        ];
        let mut cached: Option<([f64; 3], ScoreScale)> = None;
        let values = try_map_rows(columns, |[p, base_score, base_odds, pdo]| {
            if !(p > 0.0 && p < 1.0) {
                return datafusion::common::exec_err!(
                    "{NAME}: argument 'p_event' must be a probability strictly between 0 and 1, got {p}"
                );
            }
            let key = [base_score, base_odds, pdo];
            let scale = match cached {
                Some((k, scale)) if k == key => scale,
                _ => {
                    let scale = ScoreScale::new(NAME, base_score, base_odds, pdo)?;
                    cached = Some((key, scale));
                    scale
                }
            };
            Ok(scale.points(p))
        })?;
        finish(values, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Credit score of a probability of the event (default) on the points-to-double-the-odds \
         scale: offset + factor * ln((1 - p) / p) with factor = pdo / ln 2 and offset = \
         base_score - factor * ln(base_odds), so good:bad odds of base_odds score base_score and \
         every pdo more points double the odds (Siddiqi, Credit Risk Scorecards, ch. 6). With \
         600 at 50:1 and pdo 20, factor = 28.8539 and offset = 487.1229. NULL when an argument \
         is NULL; errors on p outside (0, 1), base_odds <= 0 or pdo <= 0.",
        "scorecard_points(p_event, base_score, base_odds, pdo)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(scorecard_points(1.0 / 51, 600, 50, 20), 6) AS score;
+-------+
| score |
+-------+
| 600.0 |
+-------+
```"#,
    )
    .with_argument(
        "p_event",
        "Probability of the event (bad), strictly between 0 and 1.",
    )
    .with_argument("base_score", "Score given at the base odds, e.g. 600.")
    .with_argument("base_odds", "Good:bad odds that score base_score, e.g. 50.")
    .with_argument("pdo", "Points that double the odds, e.g. 20.")
    .build()
});
