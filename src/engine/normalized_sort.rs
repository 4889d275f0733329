//! `NormalizedKeySortExec`: a full sort on fixed-width keys through
//! normalized keys, for DataFusion's `SortExec`.
//!
//! Why: DataFusion sorts a partition's rows on several columns with Arrow's
//! `lexsort_to_indices`, which compares two rows through one dynamic
//! comparator call per column. A global window such as
//! `ntile(5) OVER (ORDER BY frequency, customer_id)` over a million
//! customers spent three quarters of its time in those calls (scale 10 of
//! the demo: 50% of the RFM windows' CPU in `compare_impl` closures, 15% in
//! the quicksort around them). Here each row's sort key is encoded once in
//! Arrow's row format, which compares as bytes in the sort's order (NULLs,
//! descending columns and float total order included), then packed into a
//! few big-endian machine words, and `sort_unstable` orders
//! (words, position) pairs with inlined integer comparisons: equal keys keep
//! their input order. The rows are then gathered in batches with
//! `interleave`, without concatenating the input.
//!
//! Only sorts whose key columns are all fixed-width (integers, floats,
//! dates, times, timestamps, durations, decimals, booleans) and at most 32
//! bytes wide in row format are replaced, and not top-k sorts (`fetch`).
//! The input is held under a memory reservation; when the pool refuses it,
//! every row read so far and the rest of the input go to DataFusion's
//! `SortExec`, which spills.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, new_null_array};
use datafusion::arrow::compute::{concat_batches, interleave};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::config::ConfigOptions;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements, PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use super::run_aggregate::ReplayExec;

/// Keys from which a single-partition sort uses two threads.
const PARALLEL_MIN_ROWS: usize = 65_536;

/// Input batches concatenated into one at a time on large inputs.
const COMPACT: usize = 64;

/// Widest key, in bytes of row format, that is packed into words.
const MAX_KEY_BYTES: usize = 32;

/// Replaces full sorts on fixed-width keys with [`NormalizedKeySortExec`].
#[derive(Debug, Default)]
pub struct NormalizedKeySortRule;

impl PhysicalOptimizerRule for NormalizedKeySortRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !super::options(config).normalized_key_sort {
            return Ok(plan);
        }
        let batch_size = config.execution.batch_size.get();
        super::replace_physical_nodes(plan, |node| {
            let Some(sort) = node.downcast_ref::<SortExec>() else {
                return Ok(None);
            };
            if sort.fetch().is_some() {
                return Ok(None);
            }
            let schema = sort.input().schema();
            let mut width = 0;
            for key in sort.expr().iter() {
                match fixed_width(&key.expr.data_type(&schema)?) {
                    Some(bytes) => width += 1 + bytes,
                    None => return Ok(None),
                }
            }
            if width > MAX_KEY_BYTES {
                return Ok(None);
            }
            Ok(Some(Arc::new(NormalizedKeySortExec::new(
                Arc::clone(node),
                batch_size,
            )?)))
        })
    }

    fn name(&self) -> &str {
        "finsight_normalized_key_sort"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Bytes of a value in row format (after its one validity byte), for the
/// types encoded at a fixed width.
fn fixed_width(data_type: &DataType) -> Option<usize> {
    use DataType::*;
    match data_type {
        Boolean | Int8 | UInt8 => Some(1),
        Int16 | UInt16 | Float16 => Some(2),
        Int32 | UInt32 | Float32 | Date32 | Time32(_) => Some(4),
        Int64 | UInt64 | Float64 | Date64 | Time64(_) | Timestamp(_, _) | Duration(_) => Some(8),
        Decimal128(_, _) => Some(16),
        _ => None,
    }
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct NormalizedKeySortExec {
    /// The sort replaced: its ordering, properties, and the fallback.
    sort: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    ordering: LexOrdering,
    batch_size: usize,
    metrics: ExecutionPlanMetricsSet,
}

impl NormalizedKeySortExec {
    /// `sort` must be a [`SortExec`] without a fetch.
    pub fn new(sort: Arc<dyn ExecutionPlan>, batch_size: usize) -> Result<Self> {
        let Some(exec) = sort.downcast_ref::<SortExec>() else {
            return internal_err!("NormalizedKeySortExec replaces a SortExec");
        };
        Ok(Self {
            input: Arc::clone(exec.input()),
            ordering: exec.expr().clone(),
            batch_size: batch_size.max(1),
            sort,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for NormalizedKeySortExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "NormalizedKeySortExec: expr=[{}]", self.ordering)
    }
}

impl ExecutionPlan for NormalizedKeySortExec {
    fn name(&self) -> &str {
        "NormalizedKeySortExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.sort.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.sort.apply_expressions(f)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.sort.maintains_input_order()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.sort.input_distribution_requirements()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.sort.benefits_from_input_partitioning()
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("NormalizedKeySortExec has one input");
        }
        let sort = Arc::clone(&self.sort).replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )?;
        Ok(Arc::new(Self::new(sort, self.batch_size)?))
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
        let reservation = MemoryConsumer::new(format!("NormalizedKeySortExec[{partition}]"))
            .register(context.memory_pool());
        let sorter = Sorter {
            ordering: self.ordering.clone(),
            schema: self.input.schema(),
            batch_size: self.batch_size,
            reservation,
            metrics: BaselineMetrics::new(&self.metrics, partition),
            fallbacks: MetricBuilder::new(&self.metrics).counter("sort_fallback", partition),
            narrowed: MetricBuilder::new(&self.metrics).counter("narrow_keys", partition),
            parallel: self.properties().output_partitioning().partition_count() == 1
                && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        };
        let stream =
            futures::stream::once(sorter.run(input, Arc::clone(&self.sort), context)).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.sort.schema(),
            stream,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

type BatchStream = futures::stream::BoxStream<'static, Result<RecordBatch>>;

struct Sorter {
    ordering: LexOrdering,
    schema: SchemaRef,
    batch_size: usize,
    reservation: MemoryReservation,
    metrics: BaselineMetrics,
    fallbacks: Count,
    /// Rows whose keys were sorted narrowed to one word.
    narrowed: Count,
    /// Sort on two threads (one output partition, several cores).
    parallel: bool,
}

/// A row's sort key in `W` big-endian words (zero-padded, so word order is
/// byte order), then its batch and row: sorting these orders rows by key,
/// ties by input position.
type Key<const W: usize> = ([u64; W], u32, u32);

impl Sorter {
    /// Reads the whole input, then streams it sorted; hands over to `sort`
    /// if the memory pool will not hold the input and its keys.
    async fn run(
        self,
        input: SendableRecordBatchStream,
        sort: Arc<dyn ExecutionPlan>,
        context: Arc<TaskContext>,
    ) -> Result<BatchStream> {
        let fields = self
            .ordering
            .iter()
            .map(|key| {
                Ok(SortField::new_with_options(
                    key.expr.data_type(&self.schema)?,
                    key.options,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let converter = RowConverter::new(fields)?;
        // Every row of a fixed-width key has the same length: measure it on
        // an empty-but-typed row of NULLs.
        let width = key_width(&converter, &self.ordering, &self.schema)?;
        let layout = KeyLayout::new(&self.ordering, &self.schema, width)?;
        match layout.packed.div_ceil(8) {
            0 | 1 => {
                self.run_with::<1>(input, sort, context, converter, layout)
                    .await
            }
            2 => {
                self.run_with::<2>(input, sort, context, converter, layout)
                    .await
            }
            3 => {
                self.run_with::<3>(input, sort, context, converter, layout)
                    .await
            }
            4 => {
                self.run_with::<4>(input, sort, context, converter, layout)
                    .await
            }
            _ => internal_err!("NormalizedKeySortExec: a {width}-byte key"),
        }
    }

    /// Gives every row read so far and the rest of the input to
    /// DataFusion's sort, which spills.
    fn hand_over(
        self,
        batches: Vec<RecordBatch>,
        input: SendableRecordBatchStream,
        sort: Arc<dyn ExecutionPlan>,
        context: Arc<TaskContext>,
    ) -> Result<BatchStream> {
        self.fallbacks.add(1);
        self.reservation.free();
        let schema = Arc::clone(&self.schema);
        Ok(ReplayExec::hand_over(sort, schema, VecDeque::from(batches), input, context)?.boxed())
    }

    async fn run_with<const W: usize>(
        self,
        mut input: SendableRecordBatchStream,
        sort: Arc<dyn ExecutionPlan>,
        context: Arc<TaskContext>,
        converter: RowConverter,
        layout: KeyLayout,
    ) -> Result<BatchStream> {
        let width = layout.width;
        let mut batches: Vec<RecordBatch> = Vec::new();
        let mut keys: Vec<Key<W>> = Vec::new();
        // Index of the first batch not yet concatenated, and of its first key.
        let (mut compacted, mut compacted_keys) = (0usize, 0usize);
        while let Some(batch) = input.next().await {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            // Slices of one array (an aggregate's output) share its buffers:
            // count each slice's own bytes, not the whole buffer per slice.
            // Keys: the packed key of every row, plus the Rows encoding of
            // this batch while it is being packed.
            let encoding = batch.num_rows() * (width + size_of::<usize>());
            let more_keys = (keys.len() + batch.num_rows()).saturating_sub(keys.capacity());
            // The key vector grows by doubling: reserve what it will hold.
            let growth = if more_keys > 0 {
                keys.capacity().max(batch.num_rows()) * size_of::<Key<W>>()
            } else {
                0
            };
            let bytes = sliced_size(&batch)? + encoding + growth;
            if batches.len() >= u32::MAX as usize || self.reservation.try_grow(bytes).is_err() {
                drop(keys);
                batches.push(batch);
                return self.hand_over(batches, input, sort, context);
            }
            let timer = self.metrics.elapsed_compute().timer();
            if growth > 0 {
                keys.reserve_exact(growth / size_of::<Key<W>>());
            }
            let columns = self
                .ordering
                .iter()
                .map(|key| key.expr.evaluate(&batch)?.into_array(batch.num_rows()))
                .collect::<Result<Vec<ArrayRef>>>()?;
            if layout
                .not_null
                .iter()
                .zip(&columns)
                .any(|(not_null, column)| *not_null && column.null_count() > 0)
            {
                // A column declared NOT NULL holds a NULL: the packed keys
                // left its validity byte out, so DataFusion sorts instead.
                timer.done();
                drop(keys);
                batches.push(batch);
                return self.hand_over(batches, input, sort, context);
            }
            let rows = converter.convert_columns(&columns)?;
            pack::<W>(&rows, &layout, batches.len() as u32, &mut keys)?;
            drop(rows);
            self.reservation.shrink(encoding);
            batches.push(batch);
            // Gathering a batch of output touches every input batch, so keep
            // their number down on large inputs: each run of COMPACT batches
            // becomes one (its keys renumbered), with the copy reserved while
            // both exist.
            if batches.len() - compacted >= COMPACT {
                let copy = batches[compacted..]
                    .iter()
                    .map(sliced_size)
                    .sum::<Result<usize>>()?;
                if self.reservation.try_grow(copy).is_ok() {
                    let merged = concat_batches(&self.schema, &batches[compacted..])?;
                    let mut offsets = Vec::with_capacity(COMPACT);
                    let mut offset = 0u32;
                    for b in &batches[compacted..] {
                        offsets.push(offset);
                        offset += b.num_rows() as u32;
                    }
                    for key in &mut keys[compacted_keys..] {
                        key.2 += offsets[key.1 as usize - compacted];
                        key.1 = compacted as u32;
                    }
                    batches.truncate(compacted);
                    batches.push(merged);
                    compacted += 1;
                    compacted_keys = keys.len();
                    self.reservation.shrink(copy);
                }
            }
            timer.done();
        }
        let timer = self.metrics.elapsed_compute().timer();
        // The packed keys, one word each, take a quarter of the time to sort
        // when they fit: the reservation covers them while both exist.
        let batch_rows = batches.iter().map(RecordBatch::num_rows).max().unwrap_or(0);
        let narrow = match Narrowing::of(&keys, batches.len(), batch_rows) {
            Some(narrowing) if self.reservation.try_grow(keys.len() * 8).is_ok() => {
                let narrow = narrowing.apply(&keys);
                let wide = keys.capacity() * size_of::<Key<W>>();
                drop(keys);
                self.reservation.shrink(wide);
                Ok((narrow, narrowing))
            }
            _ => Err(keys),
        };
        let sorted = match narrow {
            Ok((mut narrow, narrowing)) => {
                self.narrowed.add(narrow.len());
                self.sort_keys(&mut narrow)?;
                Sorted::Narrow(narrow, narrowing)
            }
            Err(mut keys) => {
                self.sort_keys(&mut keys)?;
                Sorted::Wide(keys)
            }
        };
        timer.done();
        let state = (self, Arc::new(batches), Arc::new(sorted), 0usize, None);
        Ok(futures::stream::try_unfold(
            state,
            move |(sorter, batches, sorted, at, pending)| async move {
                if let Some(batch) = pending {
                    return Ok(Some((batch, (sorter, batches, sorted, at, None))));
                }
                if at >= sorted.len() {
                    return Ok(None);
                }
                let timer = sorter.metrics.elapsed_compute().timer();
                let size = sorter.batch_size;
                let first = at..(at + size).min(sorted.len());
                let second = first.end..(first.end + size).min(sorted.len());
                // Gathering is random access into the input, bound by memory
                // latency: a second thread gathers the next batch meanwhile
                // when this sort runs alone.
                let (batch, next) = if sorter.parallel && !second.is_empty() {
                    let (batch, next) = std::thread::scope(|scope| {
                        let other =
                            scope.spawn(|| sorted.gather(&sorter.schema, &batches, second.clone()));
                        let batch = sorted.gather(&sorter.schema, &batches, first.clone());
                        (batch, other.join())
                    });
                    let Ok(next) = next else {
                        return internal_err!("NormalizedKeySortExec: a gathering thread panicked");
                    };
                    (batch?, Some(next?))
                } else {
                    (
                        sorted.gather(&sorter.schema, &batches, first.clone())?,
                        None,
                    )
                };
                let at = if next.is_some() {
                    second.end
                } else {
                    first.end
                };
                timer.done();
                sorter.metrics.record_output(batch.num_rows());
                if let Some(next) = &next {
                    sorter.metrics.record_output(next.num_rows());
                }
                Ok(Some((batch, (sorter, batches, sorted, at, next))))
            },
        )
        .boxed())
    }

    /// Sorts `keys`; a sort with one output partition runs alone on its
    /// core while the others wait for its first batch, so it splits the
    /// keys at their median and sorts the halves on two threads (keys are
    /// unique: they end in the row's position).
    fn sort_keys<T: Ord + Send>(&self, keys: &mut [T]) -> Result<()> {
        if !self.parallel || keys.len() < PARALLEL_MIN_ROWS {
            keys.sort_unstable();
            return Ok(());
        }
        let middle = keys.len() / 2;
        let (left, _, right) = keys.select_nth_unstable(middle);
        let sorted = std::thread::scope(|scope| {
            let other = scope.spawn(|| right.sort_unstable());
            left.sort_unstable();
            other.join()
        });
        if sorted.is_err() {
            return internal_err!("NormalizedKeySortExec: a sorting thread panicked");
        }
        Ok(())
    }
}

/// Keys narrowed to one word: only the bits of each key word that differ
/// between rows, then the row's position (batch bits, row bits).
///
/// Bits every key shares, above or below the varying ones in a word,
/// cannot change the order, so dropping them keeps it; the position keeps
/// ties in input order, as the wide keys do. A frequency and a customer id
/// of a million customers vary in about 28 bits, which leaves room for the
/// position in 64.
struct Narrowing {
    /// Per varying key word: its index, the shift right to its lowest
    /// varying bit, and how many bits it keeps.
    words: Vec<(usize, u32, u32)>,
    /// Bits of the row number, and of the whole position.
    row_bits: u32,
    position_bits: u32,
}

impl Narrowing {
    /// The narrowing of `keys` from `batches` batches of at most
    /// `batch_rows` rows, if they fit in a word.
    fn of<const W: usize>(keys: &[Key<W>], batches: usize, batch_rows: usize) -> Option<Self> {
        let first = keys.first()?.0;
        let mut varying = [0u64; W];
        for (words, _, _) in keys {
            for (bits, (word, first)) in varying.iter_mut().zip(words.iter().zip(&first)) {
                *bits |= word ^ first;
            }
        }
        let row_bits = bits_for(batch_rows);
        let position_bits = row_bits + bits_for(batches);
        let mut total = position_bits;
        let mut words = Vec::with_capacity(W);
        for (index, bits) in varying.into_iter().enumerate() {
            if bits != 0 {
                let low = bits.trailing_zeros();
                let width = 64 - bits.leading_zeros() - low;
                total += width;
                words.push((index, low, width));
            }
        }
        (total <= 64).then_some(Self {
            words,
            row_bits,
            position_bits,
        })
    }

    fn apply<const W: usize>(&self, keys: &[Key<W>]) -> Vec<u64> {
        keys.iter()
            .map(|(words, batch, row)| {
                // In u128, so that a 64-bit shift of a lone word is defined.
                let mut key = 0u128;
                for &(index, low, width) in &self.words {
                    let bits = u128::from(words[index] >> low) & ((1u128 << width) - 1);
                    key = (key << width) | bits;
                }
                let position = (u128::from(*batch) << self.row_bits) | u128::from(*row);
                ((key << self.position_bits) | position) as u64
            })
            .collect()
    }

    /// Batch and row of a narrowed key.
    fn position(&self, key: u64) -> (usize, usize) {
        let position = key & low_bits(self.position_bits);
        (
            (position >> self.row_bits) as usize,
            (position & low_bits(self.row_bits)) as usize,
        )
    }
}

fn low_bits(bits: u32) -> u64 {
    u64::MAX.checked_shr(64 - bits).unwrap_or(0)
}

/// Bits that hold every number below `count`.
fn bits_for(count: usize) -> u32 {
    usize::BITS - count.saturating_sub(1).leading_zeros()
}

/// The sorted keys, and where each row is.
enum Sorted<const W: usize> {
    Narrow(Vec<u64>, Narrowing),
    Wide(Vec<Key<W>>),
}

impl<const W: usize> Sorted<W> {
    fn len(&self) -> usize {
        match self {
            Sorted::Narrow(keys, _) => keys.len(),
            Sorted::Wide(keys) => keys.len(),
        }
    }

    /// The rows of sorted keys `range`, as one batch.
    fn gather(
        &self,
        schema: &SchemaRef,
        batches: &[RecordBatch],
        range: Range<usize>,
    ) -> Result<RecordBatch> {
        let positions: Vec<(usize, usize)> = match self {
            Sorted::Narrow(keys, narrowing) => keys[range]
                .iter()
                .map(|key| narrowing.position(*key))
                .collect(),
            Sorted::Wide(keys) => keys[range]
                .iter()
                .map(|(_, batch, row)| (*batch as usize, *row as usize))
                .collect(),
        };
        gather(schema, batches, &positions)
    }
}

/// Bytes of one key in row format (all rows of a fixed-width key have it).
fn key_width(
    converter: &RowConverter,
    ordering: &LexOrdering,
    schema: &SchemaRef,
) -> Result<usize> {
    let columns = ordering
        .iter()
        .map(|key| Ok(new_null_array(&key.expr.data_type(schema)?, 1)))
        .collect::<Result<Vec<ArrayRef>>>()?;
    let rows = converter.convert_columns(&columns)?;
    Ok(rows.row(0).as_ref().len())
}

/// Which bytes of a row-format key are packed: all of them, except the
/// validity byte of columns that cannot be NULL (always the same, so
/// leaving it out keeps the order and can save a word).
struct KeyLayout {
    /// Bytes of a key in row format.
    width: usize,
    /// Byte ranges of the row-format key that are packed, in order.
    kept: Vec<Range<usize>>,
    /// Bytes packed.
    packed: usize,
    /// Per sort column, whether it is declared NOT NULL.
    not_null: Vec<bool>,
}

impl KeyLayout {
    fn new(ordering: &LexOrdering, schema: &SchemaRef, width: usize) -> Result<Self> {
        let mut kept = Vec::new();
        let mut not_null = Vec::new();
        let mut offset = 0;
        for key in ordering.iter() {
            let bytes = fixed_width(&key.expr.data_type(schema)?).map_or(0, |b| b + 1);
            let nullable = key.expr.nullable(schema)?;
            kept.push(if nullable { offset } else { offset + 1 }..offset + bytes);
            not_null.push(!nullable);
            offset += bytes;
        }
        if offset != width {
            // Not the layout this module knows: pack every byte.
            return Ok(Self {
                width,
                kept: std::iter::once(0..width).collect(),
                packed: width,
                not_null: vec![false; ordering.len()],
            });
        }
        let packed = kept.iter().map(Range::len).sum();
        Ok(Self {
            width,
            kept,
            packed,
            not_null,
        })
    }
}

/// Appends each row's key, packed into `W` words, with its batch and row.
fn pack<const W: usize>(
    rows: &Rows,
    layout: &KeyLayout,
    batch: u32,
    keys: &mut Vec<Key<W>>,
) -> Result<()> {
    let width = layout.width;
    for r in 0..rows.num_rows() {
        let row = rows.row(r);
        let bytes = row.as_ref();
        if bytes.len() != width {
            return internal_err!(
                "NormalizedKeySortExec: keys of {} and {width} bytes",
                bytes.len()
            );
        }
        let mut packed = [0u8; MAX_KEY_BYTES];
        let mut at = 0;
        for range in &layout.kept {
            packed[at..at + range.len()].copy_from_slice(&bytes[range.clone()]);
            at += range.len();
        }
        let mut words = [0u64; W];
        for (word, chunk) in words.iter_mut().zip(packed.chunks_exact(8)) {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(chunk);
            *word = u64::from_be_bytes(eight);
        }
        keys.push((words, batch, r as u32));
    }
    Ok(())
}

/// The rows at `positions`, as one batch.
fn gather(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    positions: &[(usize, usize)],
) -> Result<RecordBatch> {
    let columns = (0..schema.fields().len())
        .map(|c| {
            let arrays: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            interleave(&arrays, positions)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

fn sliced_size(batch: &RecordBatch) -> Result<usize> {
    let mut bytes = 0;
    for column in batch.columns() {
        bytes += column.to_data().get_slice_memory_size()?;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    //! The operator against DataFusion's sort (the rule off) on random rows
    //! with NULLs, ties, negative zeros and NaNs, in every direction and
    //! NULL placement, and the fallback when the pool is too small.

    use super::super::test_support::{exec, plan_text, session};

    const TABLE: &str = "CREATE TABLE t AS SELECT \
        CASE WHEN v % 7 = 0 THEN NULL ELSE (v * 7919) % 23 END AS a, \
        CASE WHEN v % 11 = 0 THEN NULL WHEN v % 13 = 0 THEN CAST('NaN' AS DOUBLE) \
             WHEN v % 17 = 0 THEN -0.0 ELSE CAST((v * 104729) % 101 AS DOUBLE) / 7.0 - 5.0 END AS x, \
        CAST((v * 31) % 5 AS DATE) AS d, \
        v AS id, 'row ' || CAST(v AS VARCHAR) AS label \
        FROM (SELECT value AS v FROM generate_series(1, 20000))";

    async fn both(sql: &str) -> (String, String) {
        both_with(sql, &[]).await
    }

    async fn both_with(sql: &str, settings: &[&str]) -> (String, String) {
        let on: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
        let mut off = on.clone();
        off.push("SET finsight.normalized_key_sort = false".to_string());
        let (on, off) = (session(&on).await, session(&off).await);
        exec(&on, TABLE).await;
        exec(&off, TABLE).await;
        (exec(&on, sql).await, exec(&off, sql).await)
    }

    #[tokio::test]
    async fn sorts_like_datafusion_in_every_direction() {
        for order in [
            "a, x, id",
            "a DESC NULLS LAST, x ASC NULLS FIRST, id",
            "x DESC, d, id DESC",
            "d DESC NULLS FIRST, a NULLS FIRST, x NULLS LAST, id",
        ] {
            let sql = format!("SELECT a, x, d, id, label FROM t ORDER BY {order}");
            let (on, off) = both(&sql).await;
            assert_eq!(on, off, "{order}");
            // 200 input batches: the inputs are concatenated 64 at a time.
            let small = ["SET datafusion.execution.batch_size = 100"];
            let (on, off) = both_with(&sql, &small).await;
            assert_eq!(on, off, "{order} in batches of 100");
        }
    }

    #[tokio::test]
    async fn global_windows_use_it_and_agree() {
        let sql = "SELECT id, ntile(5) OVER (ORDER BY a DESC, id) AS r, \
                   ntile(5) OVER (ORDER BY x, id) AS f, \
                   row_number() OVER (ORDER BY d, a, id) AS n FROM t ORDER BY id";
        let (on, off) = both(sql).await;
        assert_eq!(on, off);
        let ctx = session(&[]).await;
        exec(&ctx, TABLE).await;
        let plan = plan_text(&ctx, sql).await;
        assert!(plan.contains("NormalizedKeySortExec"), "{plan}");
    }

    #[tokio::test]
    async fn a_single_partition_sort_on_two_threads_agrees() {
        // A global window sorts one partition; 150,000 keys take the
        // two-thread path (split at the median, halves sorted apart).
        let big = "CREATE TABLE big AS SELECT (v * 7919) % 1009 AS a, \
                   CASE WHEN v % 13 = 0 THEN NULL ELSE CAST((v * 104729) % 997 AS DOUBLE) END AS x, \
                   v AS id FROM (SELECT value AS v FROM generate_series(1, 150000))";
        let sql = "SELECT id, row_number() OVER (ORDER BY a DESC, x, id) AS n, \
                   ntile(7) OVER (ORDER BY x NULLS FIRST, a, id DESC) AS t FROM big ORDER BY id";
        let on = session(&[]).await;
        let off = session(&["SET finsight.normalized_key_sort = false".to_string()]).await;
        exec(&on, big).await;
        exec(&off, big).await;
        assert_eq!(exec(&on, sql).await, exec(&off, sql).await);
    }

    #[test]
    fn narrowed_keys_sort_like_the_wide_ones() {
        use super::{Key, Narrowing};

        // Deterministic pseudo-random words (an LCG), shaped like real keys:
        // a few varying bits high in a word (a small count), bits in the
        // middle (a shifted id), a constant word, and ties between rows.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 11
        };
        let (batches, batch_rows) = (7usize, 1000usize);
        for shape in 0..4 {
            let keys: Vec<Key<3>> = (0..batches * batch_rows)
                .map(|i| {
                    let (a, b) = (next(), next());
                    let words = match shape {
                        0 => [0x8000_0000_0000_0000 | (a % 5) << 40, 7, b % 1000],
                        1 => [(a % 300) << 3 | 0b101, (b % 4096) << 50, 0],
                        2 => [u64::MAX, a % 2, 0x8000_0000_0000_0000 | (b % 100_000)],
                        _ => [a, b, 0],
                    };
                    (words, (i / batch_rows) as u32, (i % batch_rows) as u32)
                })
                .collect();
            let mut wide = keys.clone();
            wide.sort_unstable();
            let expected: Vec<(usize, usize)> = wide
                .iter()
                .map(|(_, b, r)| (*b as usize, *r as usize))
                .collect();
            match Narrowing::of(&keys, batches, batch_rows) {
                Some(narrowing) => {
                    assert!(shape < 3, "shape {shape} does not fit in a word");
                    let mut narrow = narrowing.apply(&keys);
                    narrow.sort_unstable();
                    let got: Vec<(usize, usize)> =
                        narrow.iter().map(|k| narrowing.position(*k)).collect();
                    assert_eq!(got, expected, "shape {shape}");
                }
                None => assert_eq!(shape, 3, "shape {shape} should fit in a word"),
            }
        }
        let one: Vec<Key<1>> = vec![([42], 0, 0)];
        let narrowing = Narrowing::of(&one, 1, 1).expect("one key fits");
        assert_eq!(narrowing.position(narrowing.apply(&one)[0]), (0, 0));
    }

    #[tokio::test]
    async fn narrow_keys_on_one_and_two_threads_agree() {
        // Small integers, a date and an id vary in few bits: the keys are
        // narrowed to one word, on the per-partition and two-thread paths,
        // NULLs and descending columns included.
        let big = "CREATE TABLE narrow AS SELECT \
                   CASE WHEN v % 11 = 0 THEN NULL ELSE (v * 7919) % 37 END AS a, \
                   CAST((v * 31) % 400 AS DATE) AS d, v AS id \
                   FROM (SELECT value AS v FROM generate_series(1, 150000))";
        let sql = "SELECT id, row_number() OVER (ORDER BY a DESC NULLS LAST, d, id) AS n, \
                   ntile(9) OVER (ORDER BY d DESC, a NULLS FIRST, id DESC) AS t FROM narrow ORDER BY id";
        let per_partition = "SELECT a, d, id FROM narrow ORDER BY a NULLS FIRST, d DESC, id";
        let on = session(&[]).await;
        let off = session(&["SET finsight.normalized_key_sort = false".to_string()]).await;
        exec(&on, big).await;
        exec(&off, big).await;
        assert_eq!(exec(&on, sql).await, exec(&off, sql).await);
        assert_eq!(
            exec(&on, per_partition).await,
            exec(&off, per_partition).await
        );
        // Without NULLs, which put zeros in the value bytes, every sort of
        // this window query narrows its keys.
        let not_null = sql.replace(
            "FROM narrow",
            "FROM (SELECT coalesce(a, 40) AS a, d, id FROM narrow)",
        );
        assert_eq!(exec(&on, &not_null).await, exec(&off, &not_null).await);
        let plan = on
            .sql(&format!("EXPLAIN ANALYZE {not_null}"))
            .await
            .expect("explain");
        let text = exec_plan(plan).await;
        assert!(text.contains("narrow_keys=150.0 K"), "{text}");
        assert!(!text.contains("narrow_keys=0"), "{text}");
    }

    #[tokio::test]
    async fn strings_and_top_k_keep_datafusion_sort() {
        let ctx = session(&[]).await;
        exec(&ctx, TABLE).await;
        let by_label = plan_text(&ctx, "SELECT * FROM t ORDER BY label").await;
        assert!(!by_label.contains("NormalizedKeySortExec"), "{by_label}");
        let top = plan_text(&ctx, "SELECT * FROM t ORDER BY a, id LIMIT 5").await;
        assert!(!top.contains("NormalizedKeySortExec"), "{top}");
    }

    #[tokio::test]
    async fn hands_over_to_the_spilling_sort_when_memory_runs_out() {
        use crate::session::{SessionOptions, new_session};

        let sql = "SELECT a, x, d, id, label FROM t ORDER BY x DESC, a, id";
        let (_, expected) = both(sql).await;
        // The pool users get with --memory-limit, too small for the input.
        let ctx = new_session(&SessionOptions {
            target_partitions: Some(1),
            memory_limit: Some(1_000_000),
            ..SessionOptions::default()
        })
        .await
        .expect("session");
        exec(
            &ctx,
            "SET datafusion.execution.sort_spill_reservation_bytes = 10000",
        )
        .await;
        exec(&ctx, TABLE).await;
        let plan = ctx
            .sql(&format!("EXPLAIN ANALYZE {sql}"))
            .await
            .expect("explain");
        let text = exec_plan(plan).await;
        assert!(
            text.contains("sort_fallback=") && !text.contains("sort_fallback=0"),
            "{text}"
        );
        assert_eq!(exec(&ctx, sql).await, expected);
    }

    async fn exec_plan(frame: datafusion::prelude::DataFrame) -> String {
        let batches = frame.collect().await.expect("explain analyze");
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .expect("format")
            .to_string()
    }
}
