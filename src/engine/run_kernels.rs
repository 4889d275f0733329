//! Partial states of common aggregates computed over whole runs of rows, for
//! [`super::RunPartialAggregateExec`].
//!
//! Why: feeding a `GroupsAccumulator` one group index per row costs a
//! scattered read-modify-write per row (amount z-scores at scale 10: 654 ms
//! of CPU for `avg` and `stddev` over 56M rows, most of it Welford's update
//! per row). Over a run every row has the same group, so count, sum, avg,
//! variance, min and max reduce to a loop over a contiguous slice; the
//! run's state (the same fields the accumulator's own `state` has) is then
//! merged into the accumulator with one index per run, and the accumulator
//! emits exactly what it would have. Anything else (other functions,
//! FILTER, other types) keeps the per-row path.
//!
//! Sums over a run are added in row order, as the accumulator adds them; a
//! run cut by a batch boundary is the sum of two partial sums, which may
//! differ from the row-by-row sum in the last bit, as any partial/final
//! split does. A run's variance is computed in two passes (mean, then
//! squared deviations) and merged with Chan's formula, as DataFusion merges
//! partitions.

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, PrimitiveArray, UInt64Array, make_array,
};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{
    ArrowNativeType, ArrowPrimitiveType, DataType, Int32Type, Int64Type, SchemaRef,
};
use datafusion::common::Result;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;

/// How one aggregate's partial state is computed from a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum RunKernel {
    /// `count(x)`: non-NULL rows.
    Count,
    /// `sum(x)` of Int64 (wrapping, as DataFusion's accumulator).
    SumInt64,
    /// `sum(x)` of Float64.
    SumFloat64,
    /// `avg(x)` of Float64: (count, sum).
    AvgFloat64,
    /// `var`, `var_pop`, `stddev`, `stddev_pop`: (count, mean, m2).
    Variance,
    /// `min`/`max` of a type stored as i64 (`wide`: integers, timestamps,
    /// dates) or as i32 (Int32, Date32, Time32).
    MinMax { max: bool, wide: bool },
}

impl RunKernel {
    /// The kernel for `aggregate`, if it has one: one argument, no FILTER,
    /// and the state fields this module writes.
    pub(super) fn for_aggregate(
        aggregate: &AggregateFunctionExpr,
        has_filter: bool,
        input_schema: &SchemaRef,
    ) -> Result<Option<Self>> {
        let expressions = aggregate.expressions();
        let [argument] = expressions.as_slice() else {
            return Ok(None);
        };
        if has_filter {
            return Ok(None);
        }
        let input = argument.data_type(input_schema)?;
        let state: Vec<DataType> = aggregate
            .state_fields()?
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        use DataType::*;
        let name = aggregate.fun().name();
        Ok(match (name, &input, state.as_slice()) {
            ("count", _, [Int64]) => Some(Self::Count),
            ("sum", Int64, [Int64]) => Some(Self::SumInt64),
            ("sum", Float64, [Float64]) => Some(Self::SumFloat64),
            ("avg", Float64, [UInt64, Float64]) => Some(Self::AvgFloat64),
            ("var" | "var_pop" | "stddev" | "stddev_pop", Float64, [UInt64, Float64, Float64]) => {
                Some(Self::Variance)
            }
            ("min" | "max", t, [s]) if t == s => {
                let max = name == "max";
                match t {
                    Int64 | Date64 | Timestamp(_, _) | Duration(_) | Time64(_) => {
                        Some(Self::MinMax { max, wide: true })
                    }
                    Int32 | Date32 | Time32(_) => Some(Self::MinMax { max, wide: false }),
                    _ => None,
                }
            }
            _ => None,
        })
    }

    /// The partial state of every run of `values`, in the accumulator's
    /// state layout, for `merge_batch` with one group per run. A run without
    /// a non-NULL value gets a NULL state where the accumulator's own state
    /// would have one (its NULL-tracking must see the group, since it may
    /// treat every group below `total_num_groups` as seen when no value is
    /// NULL), and zero counts where it would have zero.
    pub(super) fn states(self, values: &ArrayRef, runs: &[Range<usize>]) -> Result<Vec<ArrayRef>> {
        let nulls = values.logical_nulls();
        let counts: Vec<u64> = runs
            .iter()
            .map(|run| non_null(nulls.as_ref(), run) as u64)
            .collect();
        let present = || NullBuffer::from_iter(counts.iter().map(|c| *c > 0));
        let sums = || {
            let v = native::<f64>(values);
            runs.iter()
                .map(|run| fold_valid(&v, nulls.as_ref(), run, 0.0, |s, x| s + x))
                .collect::<Vec<f64>>()
        };
        Ok(match self {
            Self::Count => vec![Arc::new(Int64Array::from_iter_values(
                counts.iter().map(|c| *c as i64),
            ))],
            Self::SumInt64 => {
                let v = native::<i64>(values);
                let sums: Vec<i64> = runs
                    .iter()
                    .map(|run| fold_valid(&v, nulls.as_ref(), run, 0i64, |s, x| s.wrapping_add(x)))
                    .collect();
                vec![Arc::new(Int64Array::new(sums.into(), Some(present())))]
            }
            Self::SumFloat64 => {
                vec![Arc::new(Float64Array::new(sums().into(), Some(present())))]
            }
            Self::AvgFloat64 => vec![
                Arc::new(UInt64Array::from(counts.clone())),
                Arc::new(Float64Array::new(sums().into(), Some(present()))),
            ],
            Self::Variance => {
                let v = native::<f64>(values);
                let mut means = Vec::with_capacity(runs.len());
                let mut m2s = Vec::with_capacity(runs.len());
                for ((run, sum), count) in runs.iter().zip(sums()).zip(&counts) {
                    let mean = if *count > 0 { sum / *count as f64 } else { 0.0 };
                    let m2 = fold_valid(&v, nulls.as_ref(), run, 0.0, |s, x| {
                        s + (x - mean) * (x - mean)
                    });
                    means.push(mean);
                    m2s.push(m2);
                }
                vec![
                    Arc::new(UInt64Array::from(counts.clone())),
                    Arc::new(Float64Array::from(means)),
                    Arc::new(Float64Array::from(m2s)),
                ]
            }
            Self::MinMax { max, wide } => {
                let min_max = if wide {
                    min_max::<Int64Type>
                } else {
                    min_max::<Int32Type>
                };
                vec![min_max(values, nulls.as_ref(), runs, present(), max)?]
            }
        })
    }
}

fn non_null(nulls: Option<&NullBuffer>, run: &Range<usize>) -> usize {
    match nulls {
        None => run.len(),
        Some(nulls) => run.len() - nulls.slice(run.start, run.len()).null_count(),
    }
}

/// The values buffer of a primitive array as `T` (its offset applied).
pub(super) fn native<T: ArrowNativeType>(values: &ArrayRef) -> ScalarBuffer<T> {
    let data = values.to_data();
    ScalarBuffer::new(data.buffers()[0].clone(), data.offset(), data.len())
}

/// `array` with the same bits as `data_type` (a timestamp's unit and zone,
/// a date), for results computed on the native integers.
pub(super) fn retyped(array: impl Array, data_type: &DataType) -> Result<ArrayRef> {
    let data = array
        .into_data()
        .into_builder()
        .data_type(data_type.clone())
        .build()?;
    Ok(make_array(data))
}

/// `f` folded over the non-NULL values of `run`, in row order.
fn fold_valid<T: Copy, A>(
    values: &[T],
    nulls: Option<&NullBuffer>,
    run: &Range<usize>,
    init: A,
    f: impl Fn(A, T) -> A,
) -> A {
    match nulls {
        None => values[run.clone()].iter().fold(init, |a, x| f(a, *x)),
        Some(nulls) => run
            .clone()
            .filter(|i| nulls.is_valid(*i))
            .fold(init, |a, i| f(a, values[i])),
    }
}

/// Each run's min or max (NULL for a run without values), as an array of
/// `values`' own type.
fn min_max<T>(
    values: &ArrayRef,
    nulls: Option<&NullBuffer>,
    runs: &[Range<usize>],
    present: NullBuffer,
    max: bool,
) -> Result<ArrayRef>
where
    T: ArrowPrimitiveType,
    T::Native: Ord,
{
    let v = native::<T::Native>(values);
    let pick = |a: T::Native, b: T::Native| if max { a.max(b) } else { a.min(b) };
    let extremes: Vec<T::Native> = runs
        .iter()
        .map(|run| {
            let first = match nulls {
                None => v[run.start],
                Some(nulls) => run
                    .clone()
                    .find(|r| nulls.is_valid(*r))
                    .map_or(v[run.start], |r| v[r]),
            };
            fold_valid(&v, nulls, run, first, pick)
        })
        .collect();
    retyped(
        PrimitiveArray::<T>::new(extremes.into(), Some(present)),
        values.data_type(),
    )
}
