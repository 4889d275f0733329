//! One window implementation for the anomaly scores `zscore` and
//! `robust_zscore`: each row's distance from the centre of its window
//! frame (by default its whole partition: the customer, the card, the
//! merchant), in units of the frame's spread.

use std::ops::Range;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};

use crate::quantile::sort_values;

/// Which score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnomalyScore {
    /// (x - mean) / population standard deviation.
    ZScore,
    /// (x - median) / (MAD / Φ⁻¹(3/4)).
    RobustZScore,
}

impl AnomalyScore {
    fn name(self) -> &'static str {
        match self {
            Self::ZScore => "zscore",
            Self::RobustZScore => "robust_zscore",
        }
    }

    /// (centre, spread) of the frame's non-NULL values; None when empty.
    fn centre_and_spread(self, values: &[f64]) -> Option<(f64, f64)> {
        match self {
            Self::ZScore => super::zscore::mean_and_std(values),
            Self::RobustZScore => crate::quantile::median_and_scaled_mad(values),
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::ZScore => &super::zscore::DOCUMENTATION,
            Self::RobustZScore => &super::robust_zscore::DOCUMENTATION,
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AnomalyScoreFunc {
    score: AnomalyScore,
    signature: Signature,
}

impl AnomalyScoreFunc {
    pub fn new(score: AnomalyScore) -> Self {
        Self {
            score,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl WindowUDFImpl for AnomalyScoreFunc {
    fn name(&self) -> &str {
        self.score.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [t] => Ok(vec![crate::kernel::coerce_numeric(
                self.score.name(),
                "x",
                t,
            )?]),
            _ => plan_err!(
                "{} expects 1 argument (x), got {}",
                self.score.name(),
                arg_types.len()
            ),
        }
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(AnomalyEvaluator {
            score: self.score,
            last: None,
            next_row: 0,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            field_args.name(),
            DataType::Float64,
            true,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.score.documentation())
    }
}

/// The window UDF for `score`.
pub fn udwf(score: AnomalyScore) -> WindowUDF {
    WindowUDF::new_from_impl(AnomalyScoreFunc::new(score))
}

/// (centre, spread) of a frame.
type CentreAndSpread = (f64, f64);

#[derive(Debug)]
struct AnomalyEvaluator {
    score: AnomalyScore,
    /// The last frame and its statistics: with the default frame every row
    /// of a partition has the same one, computed once.
    last: Option<(Range<usize>, Option<CentreAndSpread>)>,
    next_row: usize,
}

impl PartitionEvaluator for AnomalyEvaluator {
    fn uses_window_frame(&self) -> bool {
        true
    }

    fn evaluate(&mut self, values: &[ArrayRef], range: &Range<usize>) -> Result<ScalarValue> {
        let Some(x) = values.first() else {
            return datafusion::common::internal_err!("{}: no input", self.score.name());
        };
        let x: &Float64Array = x.as_primitive::<Float64Type>();
        let stats = match &self.last {
            Some((r, stats)) if r == range => *stats,
            _ => {
                let mut frame: Vec<f64> = x
                    .slice(range.start, range.end - range.start)
                    .iter()
                    .flatten()
                    .filter(|v| v.is_finite())
                    .collect();
                if self.score == AnomalyScore::RobustZScore {
                    sort_values(&mut frame);
                }
                let stats = self.score.centre_and_spread(&frame);
                self.last = Some((range.clone(), stats));
                stats
            }
        };
        // DataFusion asks for every row of the partition in order, so the
        // current row is a counter.
        let row = self.next_row;
        self.next_row += 1;
        if row >= x.len() || x.is_null(row) {
            return Ok(ScalarValue::Float64(None));
        }
        Ok(ScalarValue::Float64(match stats {
            Some((centre, spread)) if spread > 0.0 => Some((x.value(row) - centre) / spread),
            _ => None,
        }))
    }
}
