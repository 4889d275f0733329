//! Scores split by class and sorted once, shared by the discrimination
//! metrics `auc`, `gini` and `ks_statistic`: a single aggregate
//! implementation whose final step is the metric.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::collect::CollectedRows;
use crate::kernel::{check_arity, coerce_numeric};

const ARGUMENTS: [&str; 2] = ["score", "label"];

/// The scores of the events (label 1) and non-events (label 0), each sorted
/// ascending, -0.0 folded into 0.0 so that equal scores tie.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ClassScores {
    pub positives: Vec<f64>,
    pub negatives: Vec<f64>,
}

impl ClassScores {
    /// Splits (score, label) rows by label and sorts each class (in parallel:
    /// sorting is the whole cost).
    pub fn new(scores: &[f64], labels: &[f64]) -> Self {
        let mut positives = Vec::new();
        let mut negatives = Vec::new();
        for (&s, &l) in scores.iter().zip(labels) {
            if l == 1.0 {
                positives.push(s + 0.0);
            } else {
                negatives.push(s + 0.0);
            }
        }
        std::thread::scope(|scope| {
            let handle = scope.spawn(|| positives.sort_unstable_by(f64::total_cmp));
            negatives.sort_unstable_by(f64::total_cmp);
            // Sorting finite floats cannot panic; a join error would be a bug here.
            let _ = handle.join();
        });
        Self {
            positives,
            negatives,
        }
    }

    /// Walks the distinct scores in ascending order, calling `visit` with the
    /// number of events and of non-events at each score.
    pub fn for_each_score(&self, mut visit: impl FnMut(f64, usize, usize)) {
        let (p, n) = (&self.positives, &self.negatives);
        let (mut i, mut j) = (0, 0);
        while i < p.len() || j < n.len() {
            let v = match (p.get(i), n.get(j)) {
                (Some(a), Some(b)) => a.min(*b),
                (Some(a), None) => *a,
                (None, Some(b)) => *b,
                (None, None) => break,
            };
            let start = (i, j);
            while i < p.len() && p[i] == v {
                i += 1;
            }
            while j < n.len() && n[j] == v {
                j += 1;
            }
            visit(v, i - start.0, j - start.1);
        }
    }
}

/// Which metric the aggregate returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RocMetric {
    Auc,
    Gini,
    KsStatistic,
}

impl RocMetric {
    fn name(self) -> &'static str {
        match self {
            Self::Auc => "auc",
            Self::Gini => "gini",
            Self::KsStatistic => "ks_statistic",
        }
    }

    fn evaluate(self, scores: &ClassScores) -> Option<f64> {
        match self {
            Self::Auc => super::auc::auc(scores),
            Self::Gini => super::gini::gini(scores),
            Self::KsStatistic => super::ks_statistic::ks_statistic(scores),
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::Auc => &super::auc::DOCUMENTATION,
            Self::Gini => &super::gini::DOCUMENTATION,
            Self::KsStatistic => &super::ks_statistic::DOCUMENTATION,
        }
    }
}

/// SQL `auc`, `gini` and `ks_statistic`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RocMetricFunc {
    metric: RocMetric,
    signature: Signature,
}

impl RocMetricFunc {
    pub fn new(metric: RocMetric) -> Self {
        Self {
            metric,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The label argument: 0/1 numbers or booleans (true = event).
pub fn coerce_label(function: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Boolean | DataType::Null => Ok(DataType::Float64),
        t if t.is_numeric() => Ok(DataType::Float64),
        other => plan_err!(
            "{function}: argument 'label' must be 0/1 or boolean (1 or true = event, e.g. default), got {other}"
        ),
    }
}

pub fn check_label(function: &str, label: f64) -> Result<()> {
    if label == 0.0 || label == 1.0 {
        Ok(())
    } else {
        exec_err!("{function}: argument 'label' must be 0 or 1 (1 = event), got {label}")
    }
}

pub fn check_score(function: &str, score: f64) -> Result<()> {
    if score.is_nan() {
        exec_err!("{function}: argument 'score' must be a number, got NaN")
    } else {
        Ok(())
    }
}

impl AggregateUDFImpl for RocMetricFunc {
    fn name(&self) -> &str {
        self.metric.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name(), &ARGUMENTS, arg_types)?;
        Ok(vec![
            coerce_numeric(self.name(), "score", &arg_types[0])?,
            coerce_label(self.name(), &arg_types[1])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(CollectedRows::state_fields(args.name, &ARGUMENTS))
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(RocAccumulator {
            metric: self.metric,
            rows: CollectedRows::new(2),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.metric.documentation())
    }
}

#[derive(Debug)]
struct RocAccumulator {
    metric: RocMetric,
    rows: CollectedRows,
}

impl Accumulator for RocAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = self.metric.name();
        self.rows.append(name, values, |row| {
            check_score(name, row[0])?;
            check_label(name, row[1])
        })
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.rows.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(self.metric.name(), states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let scores = ClassScores::new(&self.rows.columns[0], &self.rows.columns[1]);
        Ok(ScalarValue::Float64(self.metric.evaluate(&scores)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}

/// The aggregate for `metric`.
pub fn udaf(metric: RocMetric) -> datafusion::logical_expr::AggregateUDF {
    datafusion::logical_expr::AggregateUDF::new_from_shared_impl(Arc::new(RocMetricFunc::new(
        metric,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_equal_scores_across_classes() {
        let s = ClassScores::new(&[0.5, -0.0, 0.5, 0.0, 2.0], &[1.0, 1.0, 0.0, 0.0, 0.0]);
        let mut seen = Vec::new();
        s.for_each_score(|v, p, n| seen.push((v, p, n)));
        assert_eq!(seen, [(0.0, 1, 1), (0.5, 1, 1), (2.0, 0, 1)]);
    }
}
