//! Per-arm moments shared by the A/B test aggregates (`ab_test_proportions`,
//! `ab_test_means`): one accumulator over (treated, value) that keeps count,
//! mean and sum of squared deviations for control and treatment, merged with
//! Chan et al.'s pairwise update so partial states from many partitions (or
//! Ballista executors) combine without the cancellation of sum-of-squares.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::kernel::constant_argument;

/// Count, mean and sum of squared deviations of one arm.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub mean: f64,
    pub m2: f64,
}

impl Moments {
    /// Combines two disjoint samples' moments.
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        self.mean += delta * other.n / n;
        self.m2 += other.m2 + delta * delta * self.n * other.n / n;
        self.n = n;
    }

    /// Moments of a slice, two passes for accuracy.
    pub fn of(values: &[f64]) -> Moments {
        if values.is_empty() {
            return Moments::default();
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let m2 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        Moments { n, mean, m2 }
    }

    /// Sample variance (n - 1 denominator); None below two rows.
    pub fn sample_variance(&self) -> Option<f64> {
        (self.n > 1.0).then(|| self.m2 / (self.n - 1.0))
    }
}

/// The control (treated = 0) and treatment (treated = 1) arms.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Arms {
    pub control: Moments,
    pub treatment: Moments,
}

/// Which test the aggregate finishes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwoSampleTest {
    Proportions,
    Means,
}

impl TwoSampleTest {
    fn name(self) -> &'static str {
        match self {
            Self::Proportions => "ab_test_proportions",
            Self::Means => "ab_test_means",
        }
    }

    fn value_argument(self) -> &'static str {
        match self {
            Self::Proportions => "converted",
            Self::Means => "value",
        }
    }

    fn result_fields(self) -> Fields {
        match self {
            Self::Proportions => super::ab_test_proportions::result_fields(),
            Self::Means => super::ab_test_means::result_fields(),
        }
    }

    /// The result's values, in `result_fields` order.
    fn evaluate(self, arms: &Arms, confidence: f64) -> Vec<Option<f64>> {
        match self {
            Self::Proportions => super::ab_test_proportions::evaluate(arms, confidence),
            Self::Means => super::ab_test_means::evaluate(arms, confidence),
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::Proportions => &super::ab_test_proportions::DOCUMENTATION,
            Self::Means => &super::ab_test_means::DOCUMENTATION,
        }
    }
}

/// SQL `ab_test_proportions` and `ab_test_means`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TwoSampleTestFunc {
    test: TwoSampleTest,
    signature: Signature,
}

impl TwoSampleTestFunc {
    pub fn new(test: TwoSampleTest) -> Self {
        Self {
            test,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

pub fn udaf(test: TwoSampleTest) -> AggregateUDF {
    AggregateUDF::from(TwoSampleTestFunc::new(test))
}

const STATE: [&str; 6] = [
    "control_n",
    "control_mean",
    "control_m2",
    "treatment_n",
    "treatment_mean",
    "treatment_m2",
];

fn coerce_flag(function: &str, argument: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Boolean | DataType::Null => Ok(DataType::Float64),
        t if t.is_numeric() => Ok(DataType::Float64),
        other => plan_err!(
            "{function}: argument '{argument}' must be boolean or 0/1 (true = treatment), got {other}"
        ),
    }
}

impl AggregateUDFImpl for TwoSampleTestFunc {
    fn name(&self) -> &str {
        self.test.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.name();
        let value = self.test.value_argument();
        if !(2..=3).contains(&arg_types.len()) {
            return plan_err!(
                "{name} expects 2 or 3 arguments (treated, {value} [, confidence]), got {}",
                arg_types.len()
            );
        }
        let mut types = vec![
            coerce_flag(name, "treated", &arg_types[0])?,
            match &arg_types[1] {
                DataType::Boolean | DataType::Null => DataType::Float64,
                t if t.is_numeric() => DataType::Float64,
                other => {
                    return plan_err!(
                        "{name}: argument '{value}' must be numeric{}, got {other}",
                        if self.test == TwoSampleTest::Proportions {
                            " 0/1 or boolean"
                        } else {
                            ""
                        }
                    );
                }
            },
        ];
        if let Some(t) = arg_types.get(2) {
            if !(t.is_numeric() || t.is_null()) {
                return plan_err!(
                    "{name}: argument 'confidence' must be a number between 0 and 1, got {t}"
                );
            }
            types.push(DataType::Float64);
        }
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(self.test.result_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(STATE
            .iter()
            .map(|s| {
                Arc::new(Field::new(
                    format_state_name(args.name, s),
                    DataType::Float64,
                    true,
                ))
            })
            .collect())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let name = self.name();
        let confidence = if args.exprs.len() > 2 {
            match constant_argument(name, "confidence", &args, 2)? {
                ScalarValue::Float64(Some(c)) if c > 0.0 && c < 1.0 => c,
                other => {
                    return plan_err!(
                        "{name}: argument 'confidence' must be a constant between 0 and 1 (for example 0.95), got {other}"
                    );
                }
            }
        } else {
            0.95
        };
        Ok(Box::new(TwoSampleAccumulator {
            test: self.test,
            confidence,
            arms: Arms::default(),
            scratch: [Vec::new(), Vec::new()],
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.test.documentation())
    }
}

#[derive(Debug)]
struct TwoSampleAccumulator {
    test: TwoSampleTest,
    confidence: f64,
    arms: Arms,
    /// Each batch's values per arm, reused between batches.
    scratch: [Vec<f64>; 2],
}

impl Accumulator for TwoSampleAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = self.test.name();
        let (Some(treated), Some(value)) = (values.first(), values.get(1)) else {
            return internal_err!("{name} expects treated and value arrays");
        };
        let treated = treated.as_primitive::<Float64Type>();
        let value = value.as_primitive::<Float64Type>();
        let [control, treatment] = &mut self.scratch;
        control.clear();
        treatment.clear();
        for i in 0..treated.len() {
            if treated.is_null(i) || value.is_null(i) {
                continue;
            }
            let (t, v) = (treated.value(i), value.value(i));
            if self.test == TwoSampleTest::Proportions && v != 0.0 && v != 1.0 {
                return exec_err!("{name}: argument 'converted' must be 0 or 1, got {v}");
            }
            if !v.is_finite() {
                return exec_err!("{name}: argument 'value' must be finite, got {v}");
            }
            if t == 1.0 {
                treatment.push(v);
            } else if t == 0.0 {
                control.push(v);
            } else {
                return exec_err!(
                    "{name}: argument 'treated' must be 0 or 1 (1 = treatment), got {t}"
                );
            }
        }
        self.arms.control.merge(&Moments::of(control));
        self.arms.treatment.merge(&Moments::of(treatment));
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (c, t) = (self.arms.control, self.arms.treatment);
        Ok([c.n, c.mean, c.m2, t.n, t.mean, t.m2]
            .into_iter()
            .map(|v| ScalarValue::Float64(Some(v)))
            .collect())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != STATE.len() {
            return internal_err!(
                "{}: expected {} state columns",
                self.test.name(),
                STATE.len()
            );
        }
        let columns: Vec<&Float64Array> = states
            .iter()
            .map(|s| s.as_primitive::<Float64Type>())
            .collect();
        for row in 0..columns[0].len() {
            if columns.iter().any(|c| c.is_null(row)) {
                continue;
            }
            let v = |k: usize| columns[k].value(row);
            self.arms.control.merge(&Moments {
                n: v(0),
                mean: v(1),
                m2: v(2),
            });
            self.arms.treatment.merge(&Moments {
                n: v(3),
                mean: v(4),
                m2: v(5),
            });
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let fields = self.test.result_fields();
        let values = self.test.evaluate(&self.arms, self.confidence);
        let columns: Vec<ArrayRef> = fields
            .iter()
            .zip(values)
            .map(|(field, v)| -> ArrayRef {
                match field.data_type() {
                    DataType::Int64 => Arc::new(datafusion::arrow::array::Int64Array::from(vec![
                        v.map(|x| x as i64),
                    ])),
                    _ => Arc::new(Float64Array::from(vec![v])),
                }
            })
            .collect();
        Ok(ScalarValue::Struct(Arc::new(StructArray::try_new(
            fields, columns, None,
        )?)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.scratch.iter().map(|s| s.capacity() * 8).sum::<usize>()
    }
}

/// Two-sided critical value of the standard normal for `confidence`.
pub fn normal_critical(confidence: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    Normal::standard().inverse_cdf(0.5 + confidence / 2.0)
}

/// Two-sided p-value of a standard normal statistic.
pub fn normal_two_sided_p(z: f64) -> f64 {
    use statrs::distribution::{ContinuousCDF, Normal};
    2.0 * Normal::standard().sf(z.abs())
}

/// Two-sided critical value of Student's t on `df` degrees of freedom for
/// `confidence`. statrs' inverse CDF is off by ~1e-7 at tens of thousands of
/// degrees of freedom (a large campaign); Newton steps on its accurate CDF
/// bring it to scipy's `t.ppf` within 1e-12.
pub fn t_critical(dist: &statrs::distribution::StudentsT, confidence: f64) -> f64 {
    use statrs::distribution::{Continuous, ContinuousCDF};
    let target = 0.5 + confidence / 2.0;
    let mut x = dist.inverse_cdf(target);
    for _ in 0..3 {
        let density = dist.pdf(x);
        if density.is_nan() || density <= 0.0 {
            break;
        }
        let step = (dist.cdf(x) - target) / density;
        x -= step;
        if step.abs() <= 1e-15 * x.abs() {
            break;
        }
    }
    x
}
