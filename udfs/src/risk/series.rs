//! One aggregate implementation for the market-risk statistics of a series
//! (`var_historical`, `expected_shortfall`, `var_parametric`,
//! `var_cornish_fisher`, `var_monte_carlo`, `sharpe_ratio`, `sortino_ratio`,
//! `beta`, `max_drawdown`, `var_backtest`, `component_var`,
//! `component_var_historical`): each keeps its group's rows and computes its
//! statistic at the end. It is a `GroupsAccumulator` because these run
//! grouped by portfolio or desk, thousands of groups at a time, where
//! DataFusion's per-group adapter would call an accumulator per row.
//! Constant parameters (confidence, periods per year...) are read once.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, ListArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, GroupsAccumulator,
    Signature, Volatility,
};

use crate::kernel::{coerce_numeric, constant_argument};

/// Most random draws var_monte_carlo makes per group (about a second).
const MAX_DRAWS: i64 = 100_000_000;

/// What a constant parameter may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parameter {
    /// Strictly between 0 and 1 (a confidence level).
    Probability,
    /// Any finite number (a rate).
    Real,
    /// A whole number >= 1 (periods per year, simulations, horizon).
    Count,
    /// Any whole number (a random seed).
    Seed,
}

/// The statistic, and so the function's name and arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeriesMetric {
    VarHistorical,
    ExpectedShortfall,
    VarParametric,
    VarCornishFisher,
    VarMonteCarlo,
    SharpeRatio,
    SortinoRatio,
    Beta,
    MaxDrawdown,
    VarBacktest,
    ComponentVar,
    ComponentVarHistorical,
}

/// A group's rows: `width` numbers per row, and the row's time when the
/// statistic depends on order.
#[derive(Debug, Default, Clone)]
pub struct Series {
    pub values: Vec<f64>,
    pub times: Vec<i64>,
}

/// Parameter values, in argument order.
#[derive(Debug, Clone, Default)]
pub struct Parameters {
    pub real: Vec<f64>,
    pub whole: Vec<i64>,
}

impl SeriesMetric {
    pub fn name(self) -> &'static str {
        match self {
            Self::VarHistorical => "var_historical",
            Self::ExpectedShortfall => "expected_shortfall",
            Self::VarParametric => "var_parametric",
            Self::VarCornishFisher => "var_cornish_fisher",
            Self::VarMonteCarlo => "var_monte_carlo",
            Self::SharpeRatio => "sharpe_ratio",
            Self::SortinoRatio => "sortino_ratio",
            Self::Beta => "beta",
            Self::MaxDrawdown => "max_drawdown",
            Self::VarBacktest => "var_backtest",
            Self::ComponentVar => "component_var",
            Self::ComponentVarHistorical => "component_var_historical",
        }
    }

    /// The numeric data columns.
    fn data(self) -> &'static [&'static str] {
        match self {
            Self::VarHistorical
            | Self::ExpectedShortfall
            | Self::VarParametric
            | Self::VarCornishFisher
            | Self::VarMonteCarlo => &["pnl"],
            Self::SharpeRatio | Self::SortinoRatio | Self::MaxDrawdown => &["returns"],
            Self::Beta => &["returns", "benchmark_returns"],
            Self::VarBacktest => &["pnl", "var_forecast"],
            Self::ComponentVar | Self::ComponentVarHistorical => &["position_pnl", "portfolio_pnl"],
        }
    }

    /// The column that orders the rows, if the statistic needs an order.
    fn time(self) -> Option<&'static str> {
        matches!(self, Self::MaxDrawdown | Self::VarBacktest).then_some("time")
    }

    fn parameters(self) -> &'static [(&'static str, Parameter)] {
        match self {
            Self::VarHistorical
            | Self::ExpectedShortfall
            | Self::VarParametric
            | Self::VarCornishFisher
            | Self::VarBacktest
            | Self::ComponentVar
            | Self::ComponentVarHistorical => &[("confidence", Parameter::Probability)],
            Self::VarMonteCarlo => &[
                ("confidence", Parameter::Probability),
                ("horizon", Parameter::Count),
                ("simulations", Parameter::Count),
                ("seed", Parameter::Seed),
            ],
            Self::SharpeRatio => &[
                ("risk_free", Parameter::Real),
                ("periods_per_year", Parameter::Count),
            ],
            Self::SortinoRatio => &[
                ("required_return", Parameter::Real),
                ("periods_per_year", Parameter::Count),
            ],
            Self::Beta | Self::MaxDrawdown => &[],
        }
    }

    fn arguments(self) -> Vec<&'static str> {
        let mut names: Vec<&str> = self.data().to_vec();
        names.extend(self.time());
        names.extend(self.parameters().iter().map(|p| p.0));
        names
    }

    fn evaluate(self, series: &mut Series, p: &Parameters) -> Option<f64> {
        let values = &mut series.values;
        match self {
            Self::VarHistorical => super::var_historical::var_historical(values, p.real[0]),
            Self::ExpectedShortfall => {
                super::expected_shortfall::expected_shortfall(values, p.real[0])
            }
            Self::VarParametric => super::var_parametric::var_parametric(values, p.real[0]),
            Self::VarCornishFisher => {
                super::var_cornish_fisher::var_cornish_fisher(values, p.real[0])
            }
            Self::VarMonteCarlo => super::var_monte_carlo::var_monte_carlo(
                values,
                p.real[0],
                p.whole[1] as usize,
                p.whole[2] as usize,
                p.whole[3] as u64,
            ),
            Self::SharpeRatio => {
                super::sharpe_ratio::sharpe_ratio(values, p.real[0], p.whole[1] as f64)
            }
            Self::SortinoRatio => {
                super::sortino_ratio::sortino_ratio(values, p.real[0], p.whole[1] as f64)
            }
            Self::Beta => super::beta::beta(values),
            Self::MaxDrawdown => super::max_drawdown::max_drawdown(values, &series.times),
            Self::ComponentVar => super::component_var::component_var(values, p.real[0]),
            Self::ComponentVarHistorical => {
                super::component_var_historical::component_var_historical(values, p.real[0])
            }
            // A struct of figures, built by `SeriesGroups::finish`.
            Self::VarBacktest => None,
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::VarHistorical => &super::var_historical::DOCUMENTATION,
            Self::ExpectedShortfall => &super::expected_shortfall::DOCUMENTATION,
            Self::VarParametric => &super::var_parametric::DOCUMENTATION,
            Self::VarCornishFisher => &super::var_cornish_fisher::DOCUMENTATION,
            Self::VarMonteCarlo => &super::var_monte_carlo::DOCUMENTATION,
            Self::SharpeRatio => &super::sharpe_ratio::DOCUMENTATION,
            Self::SortinoRatio => &super::sortino_ratio::DOCUMENTATION,
            Self::Beta => &super::beta::DOCUMENTATION,
            Self::MaxDrawdown => &super::max_drawdown::DOCUMENTATION,
            Self::VarBacktest => &super::var_backtest::DOCUMENTATION,
            Self::ComponentVar => &super::component_var::DOCUMENTATION,
            Self::ComponentVarHistorical => &super::component_var_historical::DOCUMENTATION,
        }
    }

    fn return_type(self) -> DataType {
        match self {
            Self::VarBacktest => DataType::Struct(super::var_backtest::result_fields()),
            _ => DataType::Float64,
        }
    }
}

/// SQL functions over a series of numbers.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SeriesFunc {
    metric: SeriesMetric,
    signature: Signature,
}

impl SeriesFunc {
    pub fn new(metric: SeriesMetric) -> Self {
        Self {
            metric,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }

    /// Reads and checks the constant parameters.
    fn parameters(&self, args: &AccumulatorArgs) -> Result<Parameters> {
        let name = self.metric.name();
        let first = self.metric.data().len() + usize::from(self.metric.time().is_some());
        let mut p = Parameters::default();
        for (k, (argument, kind)) in self.metric.parameters().iter().enumerate() {
            let value = constant_argument(name, argument, args, first + k)?;
            let (real, whole) = match value {
                ScalarValue::Float64(Some(v)) => (v, v as i64),
                ScalarValue::Int64(Some(v)) => (v as f64, v),
                other => {
                    return plan_err!(
                        "{name}: argument '{argument}' must be a number, got {other}"
                    );
                }
            };
            let ok = match kind {
                Parameter::Probability => real > 0.0 && real < 1.0,
                Parameter::Real => real.is_finite(),
                Parameter::Count => whole >= 1 && real == whole as f64 && whole <= 100_000_000,
                Parameter::Seed => real == whole as f64,
            };
            if !ok {
                let expected = match kind {
                    Parameter::Probability => {
                        "a probability strictly between 0 and 1, such as 0.99"
                    }
                    Parameter::Real => "a finite number",
                    Parameter::Count => "a whole number from 1 to 100000000",
                    Parameter::Seed => "a whole number",
                };
                return plan_err!("{name}: argument '{argument}' must be {expected}, got {real}");
            }
            p.real.push(real);
            p.whole.push(whole);
        }
        if self.metric == SeriesMetric::VarMonteCarlo {
            let draws = p.whole[1].saturating_mul(p.whole[2]);
            if draws > MAX_DRAWS {
                return plan_err!(
                    "{name}: arguments 'horizon' * 'simulations' must be at most {MAX_DRAWS} draws per group, got {draws}"
                );
            }
        }
        Ok(p)
    }

    fn groups(&self, args: &AccumulatorArgs) -> Result<SeriesGroups> {
        Ok(SeriesGroups {
            metric: self.metric,
            parameters: self.parameters(args)?,
            groups: Vec::new(),
        })
    }
}

fn is_time(t: &DataType) -> bool {
    t.is_integer()
        || matches!(
            t,
            DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _)
        )
}

impl AggregateUDFImpl for SeriesFunc {
    fn name(&self) -> &str {
        self.metric.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.metric.name();
        let arguments = self.metric.arguments();
        if arg_types.len() != arguments.len() {
            return plan_err!(
                "{name} expects {} arguments ({}), got {}",
                arguments.len(),
                arguments.join(", "),
                arg_types.len()
            );
        }
        let data = self.metric.data().len();
        arg_types
            .iter()
            .zip(&arguments)
            .enumerate()
            .map(|(i, (t, argument))| {
                if i < data {
                    coerce_numeric(name, argument, t)
                } else if i == data && self.metric.time().is_some() {
                    if is_time(t) || t.is_null() {
                        Ok(t.clone())
                    } else {
                        plan_err!(
                            "{name}: argument '{argument}' must be a date, timestamp or whole number that orders the series, got {t}"
                        )
                    }
                } else if t.is_integer() {
                    Ok(DataType::Int64)
                } else {
                    coerce_numeric(name, argument, t)
                }
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.metric.return_type())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "values"),
                list(DataType::Float64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "times"),
                list(DataType::Int64),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SeriesAccumulator(self.groups(&args)?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(self.groups(&args)?))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.metric.documentation())
    }
}

/// The aggregate for `metric`.
pub fn udaf(metric: SeriesMetric) -> AggregateUDF {
    AggregateUDF::new_from_shared_impl(Arc::new(SeriesFunc::new(metric)))
}

#[derive(Debug)]
struct SeriesGroups {
    metric: SeriesMetric,
    parameters: Parameters,
    groups: Vec<Series>,
}

impl SeriesGroups {
    fn width(&self) -> usize {
        self.metric.data().len()
    }

    fn append(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let name = self.metric.name();
        let width = self.width();
        if self.groups.len() < total_num_groups {
            self.groups.resize_with(total_num_groups, Series::default);
        }
        let data: Vec<&Float64Array> = values[..width]
            .iter()
            .map(|v| v.as_primitive::<Float64Type>())
            .collect();
        let times = match self.metric.time() {
            Some(_) => Some(datafusion::arrow::compute::cast(
                &values[width],
                &DataType::Int64,
            )?),
            None => None,
        };
        let times = times.as_ref().map(|t| t.as_primitive::<Int64Type>());
        for (row, &group) in group_indices.iter().enumerate() {
            if filter.is_some_and(|f| !f.is_valid(row) || !f.value(row))
                || data.iter().any(|c| c.is_null(row))
                || times.is_some_and(|t| t.is_null(row))
            {
                continue;
            }
            let series = &mut self.groups[group];
            for (column, argument) in data.iter().zip(self.metric.data()) {
                let v = column.value(row);
                if !v.is_finite() {
                    return exec_err!("{name}: argument '{argument}' must be finite, got {v}");
                }
                series.values.push(v);
            }
            if let Some(t) = times {
                series.times.push(t.value(row));
            }
        }
        Ok(())
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Series> {
        emit_to.take_needed(&mut self.groups)
    }

    fn state_of(groups: &[Series]) -> Result<Vec<ArrayRef>> {
        let lengths = |f: fn(&Series) -> usize| OffsetBuffer::from_lengths(groups.iter().map(f));
        let values =
            Float64Array::from_iter_values(groups.iter().flat_map(|g| g.values.iter().copied()));
        let times =
            Int64Array::from_iter_values(groups.iter().flat_map(|g| g.times.iter().copied()));
        Ok(vec![
            Arc::new(ListArray::try_new(
                Arc::new(Field::new_list_field(DataType::Float64, true)),
                lengths(|g| g.values.len()),
                Arc::new(values),
                None,
            )?),
            Arc::new(ListArray::try_new(
                Arc::new(Field::new_list_field(DataType::Int64, true)),
                lengths(|g| g.times.len()),
                Arc::new(times),
                None,
            )?),
        ])
    }

    fn merge(
        &mut self,
        states: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let [values, times] = states else {
            return internal_err!("{}: expected 2 state arrays", self.metric.name());
        };
        if self.groups.len() < total_num_groups {
            self.groups.resize_with(total_num_groups, Series::default);
        }
        let (values, times) = (values.as_list::<i32>(), times.as_list::<i32>());
        for (row, &group) in group_indices.iter().enumerate() {
            if values.is_valid(row) {
                let v = values.value(row);
                self.groups[group]
                    .values
                    .extend(v.as_primitive::<Float64Type>().values().iter());
            }
            if times.is_valid(row) {
                let t = times.value(row);
                self.groups[group]
                    .times
                    .extend(t.as_primitive::<Int64Type>().values().iter());
            }
        }
        Ok(())
    }

    fn finish(&self, groups: Vec<Series>) -> Result<ArrayRef> {
        if self.metric == SeriesMetric::VarBacktest {
            return super::var_backtest::results(groups, self.parameters.real[0]);
        }
        Ok(Arc::new(Float64Array::from_iter(groups.into_iter().map(
            |mut s| {
                if s.values.is_empty() {
                    None
                } else {
                    self.metric.evaluate(&mut s, &self.parameters)
                }
            },
        ))))
    }

    fn bytes(&self) -> usize {
        size_of_val(self)
            + self
                .groups
                .iter()
                .map(|g| size_of::<Series>() + g.values.capacity() * 8 + g.times.capacity() * 8)
                .sum::<usize>()
    }
}

impl GroupsAccumulator for SeriesGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.append(values, group_indices, opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let groups = self.take(emit_to);
        self.finish(groups)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let groups = self.take(emit_to);
        Self::state_of(&groups)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.merge(values, group_indices, total_num_groups)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Each row becomes a one-row group of its own.
        let rows = values.first().map_or(0, |v| v.len());
        let mut single = SeriesGroups {
            metric: self.metric,
            parameters: self.parameters.clone(),
            groups: Vec::new(),
        };
        let indices: Vec<usize> = (0..rows).collect();
        single.append(values, &indices, opt_filter, rows)?;
        Self::state_of(&single.groups)
    }

    fn size(&self) -> usize {
        self.bytes()
    }
}

/// The ungrouped form: one group.
#[derive(Debug)]
struct SeriesAccumulator(SeriesGroups);

impl Accumulator for SeriesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let rows = values.first().map_or(0, |v| v.len());
        self.0.append(values, &vec![0; rows], None, 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let groups = std::mem::take(&mut self.0.groups);
        let groups = if groups.is_empty() {
            vec![Series::default()]
        } else {
            groups
        };
        let state = SeriesGroups::state_of(&groups)?;
        self.0.groups = groups;
        state
            .iter()
            .map(|a| ScalarValue::try_from_array(a, 0))
            .collect()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let rows = states.first().map_or(0, |v| v.len());
        self.0.merge(states, &vec![0; rows], 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let groups = self.0.groups.clone();
        let result = self.0.finish(if groups.is_empty() {
            vec![Series::default()]
        } else {
            groups
        })?;
        ScalarValue::try_from_array(&result, 0)
    }

    fn size(&self) -> usize {
        self.0.bytes()
    }
}

/// Mean and sample standard deviation (ddof = 1); None below 2 values.
pub fn mean_and_sample_std(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1) as f64;
    Some((mean, variance.sqrt()))
}
