//! Confusion counts per group, shared by the group-fairness metrics
//! (`demographic_parity_diff`, `equal_opportunity_diff`, ...): one aggregate
//! implementation over (group, label, prediction) whose final step is the
//! metric, so a query can ask for several gaps in one pass each.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_STATISTICAL;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::kernel::check_arity;

const ARGUMENTS: [&str; 3] = ["group", "label", "prediction"];

/// True/false positives and negatives of one group (label 1 = the favourable
/// outcome actually happened, prediction 1 = the model grants it).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Confusion {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub true_negatives: u64,
}

impl Confusion {
    pub fn count(&self) -> u64 {
        self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
    }

    /// numerator / denominator; None when the denominator is 0.
    pub fn ratio_of(numerator: u64, denominator: u64) -> Option<f64> {
        (denominator > 0).then(|| numerator as f64 / denominator as f64)
    }

    /// Share predicted 1 (fairlearn's `selection_rate`).
    pub fn selection_rate(&self) -> Option<f64> {
        Self::ratio_of(self.true_positives + self.false_positives, self.count())
    }

    /// TP / (TP + FN); None without positives.
    pub fn true_positive_rate(&self) -> Option<f64> {
        Self::ratio_of(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// FP / (FP + TN); None without negatives.
    pub fn false_positive_rate(&self) -> Option<f64> {
        Self::ratio_of(
            self.false_positives,
            self.false_positives + self.true_negatives,
        )
    }

    /// FN / (TP + FN); None without positives.
    pub fn false_negative_rate(&self) -> Option<f64> {
        Self::ratio_of(
            self.false_negatives,
            self.true_positives + self.false_negatives,
        )
    }

    /// TP / (TP + FP); None when nobody is predicted 1.
    pub fn precision(&self) -> Option<f64> {
        Self::ratio_of(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    fn add(&mut self, other: &Confusion) {
        self.true_positives += other.true_positives;
        self.false_positives += other.false_positives;
        self.false_negatives += other.false_negatives;
        self.true_negatives += other.true_negatives;
    }
}

/// Every group's confusion counts.
pub type GroupRates = HashMap<String, Confusion>;

/// Largest minus smallest of a rate over the groups where it is defined
/// (fairlearn's `between_groups` difference); None when no group has it.
pub fn spread(groups: &GroupRates, rate: impl Fn(&Confusion) -> Option<f64>) -> Option<f64> {
    let (min, max) = extremes(groups, rate)?;
    Some(max - min)
}

/// (smallest, largest) of a rate over the groups where it is defined.
pub fn extremes(
    groups: &GroupRates,
    rate: impl Fn(&Confusion) -> Option<f64>,
) -> Option<(f64, f64)> {
    groups
        .values()
        .filter_map(rate)
        .fold(None, |acc, r| match acc {
            None => Some((r, r)),
            Some((lo, hi)) => Some((lo.min(r), hi.max(r))),
        })
}

/// The documentation of a group metric: `description` then what every
/// metric shares (NULL handling, arguments, an example).
pub fn metric_documentation(name: &str, description: &str) -> Documentation {
    Documentation::builder(
        DOC_SECTION_STATISTICAL,
        format!(
            "{description} Rows with a NULL are skipped; NULL on no rows. Errors on a label or \
             prediction other than 0/1."
        ),
        format!("{name}(group, label, prediction)"),
    )
    .with_sql_example(format!(
        "```sql\n> SELECT {name}(sex, repaid, approved) AS gap\n  FROM (VALUES ('f', 1, 1), ('f', 0, 1), ('f', 1, 0), ('f', 0, 0),\n               ('m', 1, 1), ('m', 1, 1), ('m', 0, 0), ('m', 1, 0)) AS t(sex, repaid, approved);\n```"
    ))
    .with_argument(
        "group",
        "The sensitive attribute (any type; for intersectional groups pass a struct or a concatenation of several columns).",
    )
    .with_argument(
        "label",
        "1 (or true) when the favourable outcome happened (e.g. the loan was repaid), else 0.",
    )
    .with_argument(
        "prediction",
        "1 (or true) when the model grants the favourable outcome (e.g. approves), else 0.",
    )
    .build()
}

/// Which metric the aggregate returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FairnessMetric {
    DemographicParityDiff,
    DemographicParityRatio,
    EqualOpportunityDiff,
    EqualizedOddsDiff,
    PredictiveParityDiff,
    FalseNegativeRateDiff,
}

impl FairnessMetric {
    pub const ALL: [FairnessMetric; 6] = [
        Self::DemographicParityDiff,
        Self::DemographicParityRatio,
        Self::EqualOpportunityDiff,
        Self::EqualizedOddsDiff,
        Self::PredictiveParityDiff,
        Self::FalseNegativeRateDiff,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::DemographicParityDiff => "demographic_parity_diff",
            Self::DemographicParityRatio => "demographic_parity_ratio",
            Self::EqualOpportunityDiff => "equal_opportunity_diff",
            Self::EqualizedOddsDiff => "equalized_odds_diff",
            Self::PredictiveParityDiff => "predictive_parity_diff",
            Self::FalseNegativeRateDiff => "false_negative_rate_diff",
        }
    }

    fn evaluate(self, groups: &GroupRates) -> Option<f64> {
        match self {
            Self::DemographicParityDiff => {
                super::demographic_parity_diff::demographic_parity_diff(groups)
            }
            Self::DemographicParityRatio => {
                super::demographic_parity_ratio::demographic_parity_ratio(groups)
            }
            Self::EqualOpportunityDiff => {
                super::equal_opportunity_diff::equal_opportunity_diff(groups)
            }
            Self::EqualizedOddsDiff => super::equalized_odds_diff::equalized_odds_diff(groups),
            Self::PredictiveParityDiff => {
                super::predictive_parity_diff::predictive_parity_diff(groups)
            }
            Self::FalseNegativeRateDiff => {
                super::false_negative_rate_diff::false_negative_rate_diff(groups)
            }
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::DemographicParityDiff => &super::demographic_parity_diff::DOCUMENTATION,
            Self::DemographicParityRatio => &super::demographic_parity_ratio::DOCUMENTATION,
            Self::EqualOpportunityDiff => &super::equal_opportunity_diff::DOCUMENTATION,
            Self::EqualizedOddsDiff => &super::equalized_odds_diff::DOCUMENTATION,
            Self::PredictiveParityDiff => &super::predictive_parity_diff::DOCUMENTATION,
            Self::FalseNegativeRateDiff => &super::false_negative_rate_diff::DOCUMENTATION,
        }
    }
}

/// SQL `demographic_parity_diff`, `equal_opportunity_diff`, ...
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FairnessMetricFunc {
    metric: FairnessMetric,
    signature: Signature,
}

impl FairnessMetricFunc {
    pub fn new(metric: FairnessMetric) -> Self {
        Self {
            metric,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// A 0/1 argument: numbers or booleans.
fn coerce_outcome(function: &str, argument: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Boolean | DataType::Null => Ok(DataType::Float64),
        t if t.is_numeric() => Ok(DataType::Float64),
        other => plan_err!(
            "{function}: argument '{argument}' must be 0/1 or boolean (1 or true = the favourable outcome), got {other}"
        ),
    }
}

impl AggregateUDFImpl for FairnessMetricFunc {
    fn name(&self) -> &str {
        self.metric.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(self.name(), &ARGUMENTS, arg_types)?;
        // Text groups as Utf8; any other type (a number, a struct of several
        // sensitive columns for intersectional groups) as it is, compared by
        // its text form.
        let group = match &arg_types[0] {
            DataType::Utf8View | DataType::LargeUtf8 | DataType::Null => DataType::Utf8,
            other => other.clone(),
        };
        Ok(vec![
            group,
            coerce_outcome(self.name(), "label", &arg_types[1])?,
            coerce_outcome(self.name(), "prediction", &arg_types[2])?,
        ])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |name: &str, item: DataType| {
            Arc::new(Field::new(
                format!("{}[{name}]", args.name),
                DataType::new_list(item, true),
                true,
            ))
        };
        Ok(vec![
            list("groups", DataType::Utf8),
            list("counts", DataType::UInt64),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(GroupRatesAccumulator {
            metric: self.metric,
            groups: GroupRates::new(),
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.metric.documentation())
    }
}

#[derive(Debug)]
struct GroupRatesAccumulator {
    metric: FairnessMetric,
    groups: GroupRates,
}

/// The group column's values as text (NULL stays NULL).
pub(crate) fn as_text(array: &ArrayRef) -> Result<StringArray> {
    let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?;
    Ok((0..array.len())
        .map(|i| (!array.is_null(i)).then(|| formatter.value(i).to_string()))
        .collect())
}

fn outcome(function: &str, argument: &str, value: f64) -> Result<bool> {
    if value == 1.0 {
        Ok(true)
    } else if value == 0.0 {
        Ok(false)
    } else {
        exec_err!("{function}: argument '{argument}' must be 0 or 1, got {value}")
    }
}

impl Accumulator for GroupRatesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let name = self.metric.name();
        let text;
        let groups = match values[0].as_string_opt::<i32>() {
            Some(groups) => groups,
            None => {
                text = as_text(&values[0])?;
                &text
            }
        };
        let labels = values[1].as_primitive::<Float64Type>();
        let predictions = values[2].as_primitive::<Float64Type>();
        // Rows are counted per group name; a name looked up once per run of
        // equal names keeps the hash lookups off sorted or clustered input.
        let mut current: Option<(&str, Confusion)> = None;
        for i in 0..groups.len() {
            if groups.is_null(i) || labels.is_null(i) || predictions.is_null(i) {
                continue;
            }
            let group = groups.value(i);
            let label = outcome(name, "label", labels.value(i))?;
            let predicted = outcome(name, "prediction", predictions.value(i))?;
            match &current {
                Some((g, _)) if *g == group => {}
                _ => {
                    if let Some((g, counts)) = current.take() {
                        self.groups.entry(g.to_string()).or_default().add(&counts);
                    }
                    current = Some((group, Confusion::default()));
                }
            }
            let counts = &mut current.as_mut().expect("set above").1;
            match (label, predicted) {
                (true, true) => counts.true_positives += 1,
                (false, true) => counts.false_positives += 1,
                (true, false) => counts.false_negatives += 1,
                (false, false) => counts.true_negatives += 1,
            }
        }
        if let Some((g, counts)) = current {
            self.groups.entry(g.to_string()).or_default().add(&counts);
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut names = Vec::with_capacity(self.groups.len());
        let mut counts = Vec::with_capacity(self.groups.len() * 4);
        for (name, c) in &self.groups {
            names.push(name.as_str());
            counts.extend([
                c.true_positives,
                c.false_positives,
                c.false_negatives,
                c.true_negatives,
            ]);
        }
        let list = |values: ArrayRef| {
            SingleRowListArrayBuilder::new(values)
                .with_nullable(true)
                .build_list_scalar()
        };
        Ok(vec![
            list(Arc::new(StringArray::from(names))),
            list(Arc::new(UInt64Array::from(counts))),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let names: &ListArray = states[0].as_list();
        let counts: &ListArray = states[1].as_list();
        for row in 0..names.len() {
            if names.is_null(row) || counts.is_null(row) {
                continue;
            }
            let group_names = names.value(row);
            let group_names = group_names.as_string::<i32>();
            let group_counts = counts.value(row);
            let group_counts = group_counts.as_primitive::<UInt64Type>();
            if group_counts.len() != 4 * group_names.len() {
                return exec_err!(
                    "{}: malformed partial state ({} groups, {} counts)",
                    self.metric.name(),
                    group_names.len(),
                    group_counts.len()
                );
            }
            for g in 0..group_names.len() {
                let c = |k: usize| group_counts.value(4 * g + k);
                self.groups
                    .entry(group_names.value(g).to_string())
                    .or_default()
                    .add(&Confusion {
                        true_positives: c(0),
                        false_positives: c(1),
                        false_negatives: c(2),
                        true_negatives: c(3),
                    });
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.metric.evaluate(&self.groups)))
    }

    fn size(&self) -> usize {
        size_of_val(self)
            + self
                .groups
                .keys()
                .map(|k| k.capacity() + size_of::<Confusion>() + size_of::<String>())
                .sum::<usize>()
    }
}

/// The aggregate for `metric`.
pub fn udaf(metric: FairnessMetric) -> AggregateUDF {
    AggregateUDF::new_from_shared_impl(Arc::new(FairnessMetricFunc::new(metric)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(rows: &[(&str, u8, u8)]) -> GroupRates {
        let mut acc = GroupRatesAccumulator {
            metric: FairnessMetric::DemographicParityDiff,
            groups: GroupRates::new(),
        };
        let groups: ArrayRef = Arc::new(StringArray::from(
            rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        ));
        let f = |k: fn(&(&str, u8, u8)) -> u8| -> ArrayRef {
            Arc::new(datafusion::arrow::array::Float64Array::from(
                rows.iter().map(|r| f64::from(k(r))).collect::<Vec<_>>(),
            ))
        };
        acc.update_batch(&[groups, f(|r| r.1), f(|r| r.2)])
            .expect("update");
        // Through the partial state and back, as a repartitioned plan does.
        let state: Vec<ArrayRef> = acc
            .state()
            .expect("state")
            .iter()
            .map(|s| s.to_array().expect("array"))
            .collect();
        let mut merged = GroupRatesAccumulator {
            metric: FairnessMetric::DemographicParityDiff,
            groups: GroupRates::new(),
        };
        merged.merge_batch(&state).expect("merge");
        merged.groups
    }

    #[test]
    fn counts_by_group_survive_the_partial_state() {
        let g = rates(&[
            ("a", 1, 1),
            ("a", 0, 1),
            ("b", 1, 0),
            ("a", 1, 0),
            ("b", 0, 0),
        ]);
        assert_eq!(
            g["a"],
            Confusion {
                true_positives: 1,
                false_positives: 1,
                false_negatives: 1,
                true_negatives: 0
            }
        );
        assert_eq!(g["b"].count(), 2);
        assert_eq!(g["b"].selection_rate(), Some(0.0));
        assert_eq!(g["b"].precision(), None);
    }
}
