//! `SegmentedWindowExec`: aggregate window functions over input sorted by
//! the partition keys and the ORDER BY key, computed a chunk of whole
//! partitions at a time with one tight loop per function instead of one
//! evaluation per partition and one ScalarValue search per row.
//!
//! Each frame is found with two pointers that only move forward (frames
//! start and end no earlier than the previous row's), and the aggregate is
//! kept as a running state that rows enter and leave: O(rows) per function
//! whatever the frame size. Rows of the last partition in a batch wait for
//! the next batch, since that partition may continue there.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBufferBuilder, Float64Array, Int64Array, PrimitiveArray,
};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{cast, concat, concat_batches, partition};
use datafusion::arrow::datatypes::{
    ArrowPrimitiveType, DataType, FieldRef, Float64Type, Int32Type, Int64Type, SchemaRef,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{OrderingRequirements, PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements, PlanProperties,
};
use futures::{Stream, StreamExt};

/// The aggregate functions computed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    Count,
    Sum,
    Avg,
    Min,
    Max,
    VarSamp,
    VarPop,
    StddevSamp,
    StddevPop,
}

impl Aggregate {
    /// The DataFusion aggregate of this name (and its aliases).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "count" => Self::Count,
            "sum" => Self::Sum,
            "avg" | "mean" => Self::Avg,
            "min" => Self::Min,
            "max" => Self::Max,
            "var" | "var_samp" | "var_sample" => Self::VarSamp,
            "var_pop" | "var_population" => Self::VarPop,
            "stddev" | "stddev_samp" => Self::StddevSamp,
            "stddev_pop" => Self::StddevPop,
            _ => return None,
        })
    }

    /// Whether the argument and result types are ones computed here
    /// (everything else stays with DataFusion).
    pub fn supports(self, argument: &DataType, output: &DataType) -> bool {
        match self {
            Self::Count => output == &DataType::Int64,
            Self::Sum | Self::Min | Self::Max => {
                matches!(argument, DataType::Int64 | DataType::Float64) && argument == output
                    || matches!(self, Self::Min | Self::Max)
                        && argument == &DataType::Int32
                        && output == &DataType::Int32
            }
            Self::Avg | Self::VarSamp | Self::VarPop | Self::StddevSamp | Self::StddevPop => {
                argument == &DataType::Float64 && output == &DataType::Float64
            }
        }
    }

    /// Variance is kept by adding rows only: its frames may not shed rows.
    pub fn needs_growing_frame(self) -> bool {
        matches!(
            self,
            Self::VarSamp | Self::VarPop | Self::StddevSamp | Self::StddevPop
        )
    }
}

/// One end of a frame: unbounded, or an offset (0 = CURRENT ROW) in rows
/// (ROWS) or key units (RANGE), preceding for the start, following for the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Unbounded,
    Offset(i64),
}

/// A window frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpec {
    pub range: bool,
    pub start: Bound,
    pub end: Bound,
    /// Where NULL keys sort in each partition (RANGE frames).
    pub nulls_first: bool,
}

impl FrameSpec {
    /// Every row of the partition.
    pub fn whole() -> Self {
        Self {
            range: false,
            start: Bound::Unbounded,
            end: Bound::Unbounded,
            nulls_first: false,
        }
    }
}

/// One window function: its aggregate, argument, frame and output field.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    pub aggregate: Aggregate,
    pub argument: Arc<dyn PhysicalExpr>,
    pub frame: FrameSpec,
    pub output: FieldRef,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct SegmentedWindowExec {
    input: Arc<dyn ExecutionPlan>,
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_key: Option<PhysicalSortExpr>,
    windows: Vec<WindowSpec>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    required_ordering: Vec<Option<OrderingRequirements>>,
    required_distribution: InputDistributionRequirements,
    metrics: ExecutionPlanMetricsSet,
}

impl SegmentedWindowExec {
    /// Replaces a window operator: same input, schema and properties.
    pub fn new(
        replaced: &Arc<dyn ExecutionPlan>,
        partition_by: Vec<Arc<dyn PhysicalExpr>>,
        order_key: Option<PhysicalSortExpr>,
        windows: Vec<WindowSpec>,
    ) -> Result<Self> {
        let children = replaced.children();
        let [input] = children.as_slice() else {
            return internal_err!("SegmentedWindowExec replaces an operator with one input");
        };
        Ok(Self {
            input: Arc::clone(input),
            partition_by,
            order_key,
            windows,
            schema: replaced.schema(),
            properties: Arc::clone(replaced.properties()),
            required_ordering: replaced.required_input_ordering(),
            required_distribution: replaced.input_distribution_requirements(),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for SegmentedWindowExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let windows: Vec<String> = self
            .windows
            .iter()
            .map(|w| w.output.name().to_string())
            .collect();
        write!(f, "SegmentedWindowExec: wdw=[{}]", windows.join(", "))
    }
}

impl ExecutionPlan for SegmentedWindowExec {
    fn name(&self) -> &str {
        "SegmentedWindowExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let roots = self
            .windows
            .iter()
            .map(|w| &w.argument)
            .chain(&self.partition_by)
            .chain(self.order_key.iter().map(|k| &k.expr));
        for root in roots {
            if f(root)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.required_ordering.clone()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.required_distribution.clone()
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("SegmentedWindowExec has one input");
        }
        Ok(Arc::new(Self {
            input: children.swap_remove(0),
            metrics: ExecutionPlanMetricsSet::new(),
            ..Self::clone(&self)
        }))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let reservation = MemoryConsumer::new(format!("SegmentedWindowExec[{partition}]"))
            .register(context.memory_pool());
        Ok(Box::pin(SegmentedWindowStream {
            input,
            evaluator: Evaluator {
                partition_by: self.partition_by.clone(),
                order_key: self.order_key.clone(),
                windows: self.windows.clone(),
                schema: Arc::clone(&self.schema),
            },
            pending: Vec::new(),
            pending_last_keys: None,
            reservation,
            metrics: BaselineMetrics::new(&self.metrics, partition),
            done: false,
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

struct Evaluator {
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_key: Option<PhysicalSortExpr>,
    windows: Vec<WindowSpec>,
    schema: SchemaRef,
}

impl Evaluator {
    fn keys(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        self.partition_by
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
            .collect()
    }

    /// The window columns of a batch holding whole partitions.
    fn evaluate(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let partitions = if rows == 0 {
            Vec::new()
        } else {
            partition(&self.keys(batch)?)?.ranges()
        };
        let keys = match &self.order_key {
            Some(key) => Some(key_values(&key.expr.evaluate(batch)?.into_array(rows)?)?),
            None => None,
        };
        let mut columns = batch.columns().to_vec();
        for window in &self.windows {
            let argument = window.argument.evaluate(batch)?.into_array(rows)?;
            let frames = frames(&window.frame, &partitions, keys.as_ref(), rows);
            columns.push(aggregate(window, &argument, &frames)?);
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

/// The ORDER BY key as i64 (timestamp ticks, days, integers) and its nulls.
fn key_values(array: &ArrayRef) -> Result<Int64Array> {
    let array = match array.data_type() {
        DataType::Date32 => cast(&cast(array, &DataType::Int32)?, &DataType::Int64)?,
        _ => cast(array, &DataType::Int64)?,
    };
    Ok(array.as_primitive::<Int64Type>().clone())
}

/// Per row, the frame as a half-open range of row positions. Within a
/// partition both ends are non-decreasing.
fn frames(
    spec: &FrameSpec,
    partitions: &[Range<usize>],
    keys: Option<&Int64Array>,
    rows: usize,
) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(rows);
    for part in partitions {
        match (spec.range, keys) {
            (true, Some(keys)) => range_frames(spec, part.clone(), keys, &mut out),
            _ => {
                for i in part.clone() {
                    let start = match spec.start {
                        Bound::Unbounded => part.start,
                        Bound::Offset(n) => i.saturating_sub(n as usize).max(part.start),
                    };
                    let end = match spec.end {
                        Bound::Unbounded => part.end,
                        Bound::Offset(n) => (i + 1).saturating_add(n as usize).min(part.end),
                    };
                    out.push((start, end.max(start)));
                }
            }
        }
    }
    out
}

/// RANGE frames over an ascending key: rows whose key lies within the
/// offsets of the current row's key (peers included). NULL keys are peers
/// of each other and outside every offset range.
fn range_frames(
    spec: &FrameSpec,
    part: Range<usize>,
    keys: &Int64Array,
    out: &mut Vec<(usize, usize)>,
) {
    let nulls = keys.null_count() > 0;
    let null_count = if nulls {
        part.clone().filter(|&i| keys.is_null(i)).count()
    } else {
        0
    };
    let (null_rows, valid) = if spec.nulls_first {
        (
            part.start..part.start + null_count,
            part.start + null_count..part.end,
        )
    } else {
        (
            part.end - null_count..part.end,
            part.start..part.end - null_count,
        )
    };
    let values = keys.values();
    let mut lo = valid.start;
    let mut hi = valid.start;
    for i in part.clone() {
        if null_rows.contains(&i) {
            let start = match spec.start {
                Bound::Unbounded => part.start,
                Bound::Offset(_) => null_rows.start,
            };
            let end = match spec.end {
                Bound::Unbounded => part.end,
                Bound::Offset(_) => null_rows.end,
            };
            out.push((start, end));
            continue;
        }
        let key = values[i];
        let start = match spec.start {
            Bound::Unbounded => part.start,
            Bound::Offset(n) => {
                let from = key.saturating_sub(n);
                while lo < valid.end && values[lo] < from {
                    lo += 1;
                }
                lo
            }
        };
        let end = match spec.end {
            Bound::Unbounded => part.end,
            Bound::Offset(n) => {
                let to = key.saturating_add(n);
                if hi < i {
                    hi = i;
                }
                while hi < valid.end && values[hi] <= to {
                    hi += 1;
                }
                hi
            }
        };
        out.push((start, end.max(start)));
    }
}

/// Rows enter at the end of the frame and leave at its start.
trait Running {
    fn enter(&mut self, row: usize);
    fn leave(&mut self, row: usize);
    fn reset(&mut self);
    fn emit(&mut self);
}

fn slide<R: Running>(frames: &[(usize, usize)], running: &mut R) {
    let (mut lo, mut hi) = (usize::MAX, usize::MAX);
    for &(start, end) in frames {
        // A new partition (or a frame that jumped backwards): start over.
        if lo == usize::MAX || start < lo || end < hi || start >= hi {
            running.reset();
            lo = start;
            hi = start;
        }
        while hi < end {
            running.enter(hi);
            hi += 1;
        }
        while lo < start {
            running.leave(lo);
            lo += 1;
        }
        running.emit();
    }
}

fn aggregate(
    window: &WindowSpec,
    argument: &ArrayRef,
    frames: &[(usize, usize)],
) -> Result<ArrayRef> {
    let valid = |i: usize| argument.is_valid(i);
    Ok(match window.aggregate {
        Aggregate::Count => {
            let mut count = Counter {
                valid,
                count: 0,
                out: Vec::with_capacity(frames.len()),
            };
            slide(frames, &mut count);
            Arc::new(Int64Array::from(count.out))
        }
        Aggregate::Sum | Aggregate::Avg => match argument.data_type() {
            DataType::Int64 => {
                let values = argument.as_primitive::<Int64Type>();
                let mut sum = IntSum::new(values, frames.len());
                slide(frames, &mut sum);
                Arc::new(Int64Array::new(
                    sum.out.into(),
                    Some(sum.valid.finish().into()),
                ))
            }
            DataType::Float64 => {
                let values = argument.as_primitive::<Float64Type>();
                let mut sum =
                    FloatSum::new(values, frames.len(), window.aggregate == Aggregate::Avg);
                slide(frames, &mut sum);
                Arc::new(Float64Array::new(
                    sum.out.into(),
                    Some(sum.valid.finish().into()),
                ))
            }
            other => return internal_err!("SegmentedWindowExec: sum of {other}"),
        },
        Aggregate::Min | Aggregate::Max => {
            let max = window.aggregate == Aggregate::Max;
            match argument.data_type() {
                DataType::Int64 => extreme::<Int64Type>(argument, frames, max),
                DataType::Int32 => extreme::<Int32Type>(argument, frames, max),
                DataType::Float64 => extreme::<Float64Type>(argument, frames, max),
                other => return internal_err!("SegmentedWindowExec: min/max of {other}"),
            }
        }
        Aggregate::VarSamp | Aggregate::VarPop | Aggregate::StddevSamp | Aggregate::StddevPop => {
            let values = argument.as_primitive::<Float64Type>();
            let mut var = Variance::new(values, frames.len(), window.aggregate);
            slide(frames, &mut var);
            Arc::new(Float64Array::new(
                var.out.into(),
                Some(var.valid.finish().into()),
            ))
        }
    })
}

struct Counter<F> {
    valid: F,
    count: i64,
    out: Vec<i64>,
}

impl<F: Fn(usize) -> bool> Running for Counter<F> {
    fn enter(&mut self, row: usize) {
        self.count += i64::from((self.valid)(row));
    }
    fn leave(&mut self, row: usize) {
        self.count -= i64::from((self.valid)(row));
    }
    fn reset(&mut self) {
        self.count = 0;
    }
    fn emit(&mut self) {
        self.out.push(self.count);
    }
}

struct IntSum<'a> {
    values: &'a Int64Array,
    sum: i64,
    count: i64,
    out: Vec<i64>,
    valid: BooleanBufferBuilder,
}

impl<'a> IntSum<'a> {
    fn new(values: &'a Int64Array, rows: usize) -> Self {
        Self {
            values,
            sum: 0,
            count: 0,
            out: Vec::with_capacity(rows),
            valid: BooleanBufferBuilder::new(rows),
        }
    }
}

impl Running for IntSum<'_> {
    fn enter(&mut self, row: usize) {
        if self.values.is_valid(row) {
            // DataFusion's sum wraps on overflow too.
            self.sum = self.sum.wrapping_add(self.values.value(row));
            self.count += 1;
        }
    }
    fn leave(&mut self, row: usize) {
        if self.values.is_valid(row) {
            self.sum = self.sum.wrapping_sub(self.values.value(row));
            self.count -= 1;
        }
    }
    fn reset(&mut self) {
        self.sum = 0;
        self.count = 0;
    }
    fn emit(&mut self) {
        self.out.push(self.sum);
        self.valid.append(self.count > 0);
    }
}

/// A compensated (Neumaier) running sum, so rows leaving the frame do not
/// leave rounding error behind.
struct FloatSum<'a> {
    values: &'a Float64Array,
    sum: f64,
    compensation: f64,
    count: i64,
    average: bool,
    out: Vec<f64>,
    valid: BooleanBufferBuilder,
}

impl<'a> FloatSum<'a> {
    fn new(values: &'a Float64Array, rows: usize, average: bool) -> Self {
        Self {
            values,
            sum: 0.0,
            compensation: 0.0,
            count: 0,
            average,
            out: Vec::with_capacity(rows),
            valid: BooleanBufferBuilder::new(rows),
        }
    }

    fn add(&mut self, value: f64) {
        let total = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - total) + value;
        } else {
            self.compensation += (value - total) + self.sum;
        }
        self.sum = total;
    }
}

impl Running for FloatSum<'_> {
    fn enter(&mut self, row: usize) {
        if self.values.is_valid(row) {
            self.add(self.values.value(row));
            self.count += 1;
        }
    }
    fn leave(&mut self, row: usize) {
        if self.values.is_valid(row) {
            self.add(-self.values.value(row));
            self.count -= 1;
        }
    }
    fn reset(&mut self) {
        self.sum = 0.0;
        self.compensation = 0.0;
        self.count = 0;
    }
    fn emit(&mut self) {
        let sum = self.sum + self.compensation;
        self.out.push(if self.average && self.count > 0 {
            sum / self.count as f64
        } else {
            sum
        });
        self.valid.append(self.count > 0);
    }
}

/// Welford's running mean and sum of squared deviations (rows only enter).
struct Variance<'a> {
    values: &'a Float64Array,
    count: f64,
    mean: f64,
    m2: f64,
    kind: Aggregate,
    out: Vec<f64>,
    valid: BooleanBufferBuilder,
}

impl<'a> Variance<'a> {
    fn new(values: &'a Float64Array, rows: usize, kind: Aggregate) -> Self {
        Self {
            values,
            count: 0.0,
            mean: 0.0,
            m2: 0.0,
            kind,
            out: Vec::with_capacity(rows),
            valid: BooleanBufferBuilder::new(rows),
        }
    }
}

impl Running for Variance<'_> {
    fn enter(&mut self, row: usize) {
        if self.values.is_valid(row) {
            let value = self.values.value(row);
            self.count += 1.0;
            let delta = value - self.mean;
            self.mean += delta / self.count;
            self.m2 += delta * (value - self.mean);
        }
    }
    fn leave(&mut self, _row: usize) {
        // Frames of variance only grow (see Aggregate::needs_growing_frame).
    }
    fn reset(&mut self) {
        self.count = 0.0;
        self.mean = 0.0;
        self.m2 = 0.0;
    }
    fn emit(&mut self) {
        let sample = matches!(self.kind, Aggregate::VarSamp | Aggregate::StddevSamp);
        let divisor = if sample { self.count - 1.0 } else { self.count };
        let defined = divisor > 0.0 || (!sample && self.count > 0.0);
        let variance = if divisor > 0.0 {
            self.m2 / divisor
        } else {
            0.0
        };
        let value = match self.kind {
            Aggregate::StddevSamp | Aggregate::StddevPop => variance.sqrt(),
            _ => variance,
        };
        self.out.push(if defined { value } else { 0.0 });
        self.valid.append(defined);
    }
}

/// Sliding minimum or maximum with a monotonic queue of row positions.
fn extreme<T: ArrowPrimitiveType>(
    argument: &ArrayRef,
    frames: &[(usize, usize)],
    max: bool,
) -> ArrayRef
where
    T::Native: PartialOrd + Copy + Default,
{
    struct Extreme<'a, T: ArrowPrimitiveType> {
        values: &'a PrimitiveArray<T>,
        queue: VecDeque<usize>,
        max: bool,
        out: Vec<T::Native>,
        valid: BooleanBufferBuilder,
    }
    impl<T: ArrowPrimitiveType> Extreme<'_, T>
    where
        T::Native: PartialOrd + Copy,
    {
        /// Whether `a` wins over `b` (NaN is the largest float, as in DataFusion).
        fn beats(&self, a: T::Native, b: T::Native) -> bool {
            let order = a.partial_cmp(&b).unwrap_or_else(|| {
                // Only NaN compares unordered; a NaN a is larger.
                if a.partial_cmp(&a).is_none() {
                    std::cmp::Ordering::Greater
                } else {
                    std::cmp::Ordering::Less
                }
            });
            if self.max {
                order == std::cmp::Ordering::Greater
            } else {
                order == std::cmp::Ordering::Less
            }
        }
    }
    impl<T: ArrowPrimitiveType> Running for Extreme<'_, T>
    where
        T::Native: PartialOrd + Copy + Default,
    {
        fn enter(&mut self, row: usize) {
            if self.values.is_null(row) {
                return;
            }
            let value = self.values.value(row);
            while let Some(&back) = self.queue.back() {
                if self.beats(self.values.value(back), value) {
                    break;
                }
                self.queue.pop_back();
            }
            self.queue.push_back(row);
        }
        fn leave(&mut self, row: usize) {
            if self.queue.front() == Some(&row) {
                self.queue.pop_front();
            }
        }
        fn reset(&mut self) {
            self.queue.clear();
        }
        fn emit(&mut self) {
            match self.queue.front() {
                Some(&row) => {
                    self.out.push(self.values.value(row));
                    self.valid.append(true);
                }
                None => {
                    self.out.push(T::Native::default());
                    self.valid.append(false);
                }
            }
        }
    }
    let values = argument.as_primitive::<T>();
    let mut state = Extreme {
        values,
        queue: VecDeque::new(),
        max,
        out: Vec::with_capacity(frames.len()),
        valid: BooleanBufferBuilder::new(frames.len()),
    };
    slide(frames, &mut state);
    let nulls = NullBuffer::new(state.valid.finish());
    Arc::new(
        PrimitiveArray::<T>::new(state.out.into(), Some(nulls))
            .with_data_type(argument.data_type().clone()),
    )
}

struct SegmentedWindowStream {
    input: SendableRecordBatchStream,
    evaluator: Evaluator,
    /// Rows of the partition that may continue in the next batch.
    pending: Vec<RecordBatch>,
    /// The partition keys of the last row received.
    pending_last_keys: Option<Vec<ArrayRef>>,
    reservation: MemoryReservation,
    metrics: BaselineMetrics,
    done: bool,
}

impl SegmentedWindowStream {
    /// Takes a batch; returns the window output of the partitions it completes.
    fn push(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        if batch.num_rows() == 0 {
            return Ok(None);
        }
        let keys = self.evaluator.keys(&batch)?;
        let ranges = partition(&keys)?.ranges();
        let last_start = ranges.last().map_or(0, |r| r.start);
        // The batch continues the pending partition when its first row has
        // the pending last row's keys (kept from when that row arrived).
        let continues = match &self.pending_last_keys {
            Some(previous) => {
                let pairs: Vec<ArrayRef> = previous
                    .iter()
                    .zip(&keys)
                    .map(|(p, k)| concat(&[p.as_ref(), &k.slice(0, 1)]))
                    .collect::<std::result::Result<_, _>>()?;
                partition(&pairs)?.len() == 1
            }
            None => false,
        };
        let last_row = batch.num_rows() - 1;
        self.pending_last_keys = Some(keys.iter().map(|k| k.slice(last_row, 1)).collect());
        if last_start == 0 && continues {
            // The batch only continues the pending partition.
            self.pending.push(batch);
            self.track()?;
            return Ok(None);
        }
        // Everything before the batch's last partition is complete.
        let mut complete = std::mem::take(&mut self.pending);
        if last_start > 0 {
            complete.push(batch.slice(0, last_start));
        }
        self.pending
            .push(batch.slice(last_start, batch.num_rows() - last_start));
        self.track()?;
        if complete.is_empty() {
            return Ok(None);
        }
        self.evaluate(&complete).map(Some)
    }

    fn evaluate(&self, batches: &[RecordBatch]) -> Result<RecordBatch> {
        match batches {
            [batch] => self.evaluator.evaluate(batch),
            [first, ..] => self
                .evaluator
                .evaluate(&concat_batches(&first.schema(), batches)?),
            [] => internal_err!("SegmentedWindowExec: no rows to evaluate"),
        }
    }

    /// Accounts the pending rows against the memory pool: one huge
    /// partition fails the query with a clear error instead of the process.
    fn track(&mut self) -> Result<()> {
        let bytes = self
            .pending
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum();
        self.reservation.try_resize(bytes)
    }
}

impl Stream for SegmentedWindowStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            match self.input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Ok(batch))) => {
                    let elapsed = self.metrics.elapsed_compute().clone();
                    let timer = elapsed.timer();
                    let result = self.push(batch);
                    timer.done();
                    match result {
                        Ok(Some(out)) => {
                            self.metrics.record_output(out.num_rows());
                            return Poll::Ready(Some(Ok(out)));
                        }
                        Ok(None) => continue,
                        Err(e) => {
                            self.done = true;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                }
                Poll::Ready(None) => {
                    self.done = true;
                    let pending = std::mem::take(&mut self.pending);
                    self.reservation.free();
                    if pending.is_empty() {
                        return Poll::Ready(None);
                    }
                    let elapsed = self.metrics.elapsed_compute().clone();
                    let timer = elapsed.timer();
                    let result = self.evaluate(&pending);
                    timer.done();
                    if let Ok(out) = &result {
                        self.metrics.record_output(out.num_rows());
                    }
                    return Poll::Ready(Some(result));
                }
            }
        }
    }
}

impl RecordBatchStream for SegmentedWindowStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.evaluator.schema)
    }
}
