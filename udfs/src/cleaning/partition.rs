//! One window implementation for the cleaning functions that look at a
//! whole partition (a segment, a customer's history) to fix or flag each
//! row: imputation (`impute_mean`, `impute_median`, `impute_mode`,
//! `fill_forward`, `fill_backward`), `winsorize`, and the outlier fences
//! `iqr_outlier` and `mad_outlier`. Each computes its partition's result as
//! one array (`evaluate_all`), not row by row.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{
    Documentation, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl,
};
use datafusion::physical_expr::expressions::Literal;

/// The cleaning step, and so the function's name and arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionCleaning {
    ImputeMean,
    ImputeMedian,
    ImputeMode,
    FillForward,
    FillBackward,
    Winsorize,
    IqrOutlier,
    MadOutlier,
}

impl PartitionCleaning {
    pub fn name(self) -> &'static str {
        match self {
            Self::ImputeMean => "impute_mean",
            Self::ImputeMedian => "impute_median",
            Self::ImputeMode => "impute_mode",
            Self::FillForward => "fill_forward",
            Self::FillBackward => "fill_backward",
            Self::Winsorize => "winsorize",
            Self::IqrOutlier => "iqr_outlier",
            Self::MadOutlier => "mad_outlier",
        }
    }

    /// (name, default) of the constant parameters after the value.
    fn parameters(self) -> &'static [(&'static str, Option<f64>)] {
        match self {
            Self::Winsorize => &[("lower_limit", None), ("upper_limit", None)],
            Self::IqrOutlier => &[("k", Some(1.5))],
            Self::MadOutlier => &[("threshold", Some(3.5))],
            _ => &[],
        }
    }

    /// Works on any type (the value is moved, never computed on).
    fn any_type(self) -> bool {
        matches!(
            self,
            Self::ImputeMode | Self::FillForward | Self::FillBackward
        )
    }

    fn flags(self) -> bool {
        matches!(self, Self::IqrOutlier | Self::MadOutlier)
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::ImputeMean => &super::impute_mean::DOCUMENTATION,
            Self::ImputeMedian => &super::impute_median::DOCUMENTATION,
            Self::ImputeMode => &super::impute_mode::DOCUMENTATION,
            Self::FillForward => &super::fill_forward::DOCUMENTATION,
            Self::FillBackward => &super::fill_backward::DOCUMENTATION,
            Self::Winsorize => &super::winsorize::DOCUMENTATION,
            Self::IqrOutlier => &super::iqr_outlier::DOCUMENTATION,
            Self::MadOutlier => &super::mad_outlier::DOCUMENTATION,
        }
    }

    /// Checks the constant parameters.
    fn check(self, p: &[f64]) -> Result<()> {
        let name = self.name();
        match self {
            Self::Winsorize => {
                let (lower, upper) = (p[0], p[1]);
                if !(0.0..1.0).contains(&lower)
                    || !(0.0..1.0).contains(&upper)
                    || lower + upper >= 1.0
                {
                    return plan_err!(
                        "{name}: 'lower_limit' and 'upper_limit' must be shares of the rows from 0 \
                         to below 1 that leave some rows untouched (lower + upper < 1), got {lower} and {upper}"
                    );
                }
            }
            Self::IqrOutlier | Self::MadOutlier if !(p[0] > 0.0 && p[0].is_finite()) => {
                let argument = self.parameters()[0].0;
                return plan_err!(
                    "{name}: argument '{argument}' must be a positive number, got {}",
                    p[0]
                );
            }
            _ => {}
        }
        Ok(())
    }

    fn evaluate(self, values: &ArrayRef, p: &[f64]) -> Result<ArrayRef> {
        if self.any_type() {
            let indices = match self {
                Self::ImputeMode => super::impute_mode::mode_indices(values)?,
                Self::FillForward => super::fill_forward::forward_indices(values),
                _ => super::fill_backward::backward_indices(values),
            };
            return Ok(take(values, &indices, None)?);
        }
        let x: &Float64Array = values.as_primitive::<Float64Type>();
        if let Some(v) = x.iter().flatten().find(|v| !v.is_finite()) {
            return exec_err!("{}: argument 'x' must be finite, got {v}", self.name());
        }
        let present: Vec<f64> = x.iter().flatten().collect();
        Ok(match self {
            Self::ImputeMean => fill(x, super::impute_mean::mean(&present)),
            Self::ImputeMedian => fill(x, super::impute_median::median(present)),
            Self::Winsorize => Arc::new(super::winsorize::winsorize(x, present, p[0], p[1])),
            Self::IqrOutlier => Arc::new(super::iqr_outlier::iqr_outliers(x, present, p[0])),
            Self::MadOutlier => Arc::new(super::mad_outlier::mad_outliers(x, present, p[0])),
            _ => return datafusion::common::internal_err!("{}: not a numeric step", self.name()),
        })
    }
}

/// `x` with its NULLs replaced by `value` (left NULL when there is none).
fn fill(x: &Float64Array, value: Option<f64>) -> ArrayRef {
    match value {
        Some(v) => Arc::new(Float64Array::from_iter_values(
            x.iter().map(|o| o.unwrap_or(v)),
        )),
        None => Arc::new(x.clone()),
    }
}

/// Row indices for `take` from an iterator of optional positions.
pub fn indices(positions: impl Iterator<Item = Option<u32>>) -> UInt32Array {
    UInt32Array::from_iter(positions)
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PartitionCleaningFunc {
    cleaning: PartitionCleaning,
    signature: Signature,
}

impl PartitionCleaningFunc {
    pub fn new(cleaning: PartitionCleaning) -> Self {
        Self {
            cleaning,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The window UDF for `cleaning`.
pub fn udwf(cleaning: PartitionCleaning) -> WindowUDF {
    WindowUDF::new_from_impl(PartitionCleaningFunc::new(cleaning))
}

impl WindowUDFImpl for PartitionCleaningFunc {
    fn name(&self) -> &str {
        self.cleaning.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.cleaning.name();
        let parameters = self.cleaning.parameters();
        let required = 1 + parameters.iter().filter(|p| p.1.is_none()).count();
        if arg_types.len() < required || arg_types.len() > 1 + parameters.len() {
            let names: Vec<&str> = std::iter::once("x")
                .chain(parameters.iter().map(|p| p.0))
                .collect();
            return plan_err!(
                "{name} expects {} argument(s) ({}), got {}",
                if required == names.len() {
                    required.to_string()
                } else {
                    format!("{required} to {}", names.len())
                },
                names.join(", "),
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                if i == 0 && self.cleaning.any_type() {
                    Ok(if t.is_null() {
                        DataType::Float64
                    } else {
                        t.clone()
                    })
                } else {
                    let argument = if i == 0 { "x" } else { parameters[i - 1].0 };
                    crate::kernel::coerce_numeric(name, argument, t)
                }
            })
            .collect()
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        let name = self.cleaning.name();
        let mut parameters = Vec::new();
        for (k, (argument, default)) in self.cleaning.parameters().iter().enumerate() {
            let value = match args.input_exprs().get(k + 1) {
                None => *default,
                Some(expr) => match expr.downcast_ref::<Literal>().map(Literal::value) {
                    Some(ScalarValue::Float64(Some(v))) => Some(*v),
                    Some(ScalarValue::Int64(Some(v))) => Some(*v as f64),
                    _ => {
                        return plan_err!(
                            "{name}: argument '{argument}' must be a constant number, such as 0.05"
                        );
                    }
                },
            };
            let Some(value) = value else {
                return plan_err!("{name}: argument '{argument}' is required");
            };
            parameters.push(value);
        }
        self.cleaning.check(&parameters)?;
        Ok(Box::new(CleaningEvaluator {
            cleaning: self.cleaning,
            parameters,
        }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let data_type = if self.cleaning.flags() {
            DataType::Boolean
        } else if self.cleaning.any_type() {
            field_args
                .input_fields()
                .first()
                .map_or(DataType::Float64, |f| f.data_type().clone())
        } else {
            DataType::Float64
        };
        Ok(Arc::new(Field::new(field_args.name(), data_type, true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.cleaning.documentation())
    }
}

#[derive(Debug)]
struct CleaningEvaluator {
    cleaning: PartitionCleaning,
    parameters: Vec<f64>,
}

impl PartitionEvaluator for CleaningEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let Some(x) = values.first() else {
            return datafusion::common::internal_err!("{}: no input", self.cleaning.name());
        };
        let result = self.cleaning.evaluate(x, &self.parameters)?;
        if result.len() != num_rows {
            return datafusion::common::internal_err!(
                "{}: {} results for {num_rows} rows",
                self.cleaning.name(),
                result.len()
            );
        }
        Ok(result)
    }
}

/// Flags from a per-value test, NULL where the value is.
pub fn flags(x: &Float64Array, test: impl Fn(f64) -> bool) -> BooleanArray {
    x.iter().map(|v| v.map(&test)).collect()
}
