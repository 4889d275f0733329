//! `RunPartialAggregateExec`: the partial stage of a grouped aggregation
//! computed over runs of equal group keys instead of through a hash table,
//! when the input arrives clustered by those keys.
//!
//! Why: bank tables are written customer by customer (the demo bank, most
//! core-banking extracts), so `GROUP BY customer_id` or `SELECT DISTINCT
//! customer_id, month` meets each key in one run of consecutive rows. A hash
//! partial aggregate then pays a hash-table probe per row, in a table of
//! hundreds of thousands of groups that does not fit in cache, only to find
//! what the runs already show; at scale 10 of the demo it was 6 of the 9
//! CPU-seconds of the cohort query's DISTINCT. Here each batch is cut into
//! runs with Arrow's `partition` kernel and the aggregates are updated with
//! one group per run, through the same `GroupsAccumulator`s and with the
//! same output (keys, then each aggregate's state) that the final stage
//! merges. A key split across batches gives two partial rows, which the
//! final stage merges like any other.
//!
//! The operator decides per partition from the first rows: when the runs
//! are no more numerous than the distinct keys among them (the input is
//! clustered), it aggregates runs; when the keys take few values, each seen
//! many times, it groups rows through value codes (`group_codes`);
//! otherwise it aggregates in a hash table of bounded size, emptied when
//! full (`BoundedAggregator`), and when that finds no locality, or the
//! other modes are off, it hands every row not yet aggregated to
//! DataFusion's hash aggregate, which it replaces.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, UInt32Array, make_comparator,
};
use datafusion::arrow::compute::{SortOptions, concat, partition, take};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, exec_err, internal_err};
use datafusion::config::ConfigOptions;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::group_values::{GroupValues, new_group_values};
use datafusion::physical_plan::aggregates::order::GroupOrdering;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements, InputOrderMode,
    PlanProperties,
};
use futures::{StreamExt, TryStreamExt};

use super::group_codes::{self, GroupCoder};
use super::run_kernels::RunKernel;

/// Rows read before deciding between runs and the hash table.
const PROBE_ROWS: usize = 65_536;

/// Replaces hash partial aggregates that [`RunPartialAggregateExec`] can
/// compute. See the module documentation.
#[derive(Debug, Default)]
pub struct RunPartialAggregateRule;

impl PhysicalOptimizerRule for RunPartialAggregateRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let options = super::options(config);
        let modes = Modes {
            runs: options.run_partial_aggregation,
            codes: options.low_cardinality_grouping,
            bounded: options.bounded_partial_aggregation,
        };
        if !modes.runs && !modes.codes && !modes.bounded {
            return Ok(plan);
        }
        let batch_size = config.execution.batch_size;
        super::replace_physical_nodes(plan, |node| {
            let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
                return Ok(None);
            };
            if !supported(aggregate)? {
                return Ok(None);
            }
            Ok(Some(Arc::new(RunPartialAggregateExec::new(
                Arc::clone(node),
                batch_size.get(),
                modes,
            )?)))
        })
    }

    fn name(&self) -> &str {
        "finsight_run_partial_aggregate"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A plain partial aggregate: one grouping set of keys whose equality the
/// runs decide exactly as the hash table does (no floats: -0.0 and NaN),
/// and aggregates with groups accumulators, without DISTINCT or ORDER BY.
fn supported(aggregate: &AggregateExec) -> Result<bool> {
    if *aggregate.mode() != AggregateMode::Partial
        || !aggregate.group_expr().is_single()
        || aggregate.group_expr().expr().is_empty()
        || aggregate.limit_options().is_some()
        || *aggregate.input_order_mode() != InputOrderMode::Linear
    {
        return Ok(false);
    }
    let schema = aggregate.input_schema();
    for (expr, _) in aggregate.group_expr().expr() {
        if !run_key_type(&expr.data_type(&schema)?) {
            return Ok(false);
        }
    }
    Ok(aggregate
        .aggr_expr()
        .iter()
        .all(|a| a.groups_accumulator_supported() && !a.is_distinct() && a.order_bys().is_empty()))
}

fn run_key_type(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Boolean
            | Int8
            | Int16
            | Int32
            | Int64
            | UInt8
            | UInt16
            | UInt32
            | UInt64
            | Date32
            | Date64
            | Timestamp(_, _)
            | Time32(_)
            | Time64(_)
            | Duration(_)
            | Decimal128(_, _)
            | Decimal256(_, _)
            | Utf8
            | LargeUtf8
            | Utf8View
            | Binary
            | LargeBinary
            | BinaryView
    )
}

/// The ways the operator may aggregate besides the hash table.
#[derive(Debug, Clone, Copy)]
pub struct Modes {
    /// Over runs of equal keys (`finsight.run_partial_aggregation`).
    pub runs: bool,
    /// Through value codes of few-valued keys
    /// (`finsight.low_cardinality_grouping`).
    pub codes: bool,
    /// In a hash table of bounded size, emptied when full
    /// (`finsight.bounded_partial_aggregation`).
    pub bounded: bool,
}

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct RunPartialAggregateExec {
    /// The hash aggregate replaced: its expressions, schema and properties,
    /// and the fallback.
    hash: Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
    group_by: Vec<Arc<dyn PhysicalExpr>>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    batch_size: usize,
    modes: Modes,
    metrics: ExecutionPlanMetricsSet,
}

impl RunPartialAggregateExec {
    /// `hash` must be a partial [`AggregateExec`] with one grouping set.
    pub fn new(hash: Arc<dyn ExecutionPlan>, batch_size: usize, modes: Modes) -> Result<Self> {
        let Some(aggregate) = hash.downcast_ref::<AggregateExec>() else {
            return internal_err!("RunPartialAggregateExec replaces an AggregateExec");
        };
        Ok(Self {
            input: Arc::clone(aggregate.input()),
            group_by: aggregate
                .group_expr()
                .expr()
                .iter()
                .map(|(e, _)| Arc::clone(e))
                .collect(),
            aggregates: aggregate.aggr_expr().to_vec(),
            filters: aggregate.filter_expr().to_vec(),
            batch_size: batch_size.max(1),
            modes,
            hash,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for RunPartialAggregateExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let keys: Vec<String> = self.group_by.iter().map(|e| e.to_string()).collect();
        let aggregates: Vec<&str> = self.aggregates.iter().map(|a| a.name()).collect();
        write!(
            f,
            "RunPartialAggregateExec: gby=[{}], aggr=[{}]",
            keys.join(", "),
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for RunPartialAggregateExec {
    fn name(&self) -> &str {
        "RunPartialAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.hash.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.hash.apply_expressions(f)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.hash.maintains_input_order()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.hash.input_distribution_requirements()
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("RunPartialAggregateExec has one input");
        }
        let hash = Arc::clone(&self.hash).replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )?;
        Ok(Arc::new(Self::new(hash, self.batch_size, self.modes)?))
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
        let schema = self.hash.schema();
        let aggregator = RunAggregator {
            group_by: self.group_by.clone(),
            aggregates: self.aggregates.clone(),
            filters: self.filters.clone(),
            accumulators: self
                .aggregates
                .iter()
                .map(|a| a.create_groups_accumulator())
                .collect::<Result<_>>()?,
            kernels: self
                .aggregates
                .iter()
                .zip(&self.filters)
                .map(|(a, f)| RunKernel::for_aggregate(a, f.is_some(), &self.input.schema()))
                .collect::<Result<_>>()?,
            schema: Arc::clone(&schema),
            batch_size: self.batch_size,
            groups: 0,
            keys: vec![Vec::new(); self.group_by.len()],
            last_key: None,
            metrics: BaselineMetrics::new(&self.metrics, partition),
        };
        let counters = Counters {
            fallbacks: MetricBuilder::new(&self.metrics).counter("hash_fallback", partition),
            coded: MetricBuilder::new(&self.metrics).counter("low_cardinality", partition),
            bounded: MetricBuilder::new(&self.metrics).counter("bounded_table", partition),
            emptied: MetricBuilder::new(&self.metrics).counter("tables_emptied", partition),
        };
        let handover = Handover {
            hash: Arc::clone(&self.hash),
            input_schema: self.input.schema(),
            context,
        };
        let stream =
            futures::stream::once(choose(aggregator, input, handover, self.modes, counters))
                .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

type BatchStream = futures::stream::BoxStream<'static, Result<RecordBatch>>;

/// What handing the input over to DataFusion's hash aggregate takes.
struct Handover {
    hash: Arc<dyn ExecutionPlan>,
    input_schema: SchemaRef,
    context: Arc<TaskContext>,
}

impl Handover {
    fn run(
        self,
        read: VecDeque<RecordBatch>,
        rest: SendableRecordBatchStream,
    ) -> Result<SendableRecordBatchStream> {
        ReplayExec::hand_over(self.hash, self.input_schema, read, rest, self.context)
    }
}

/// EXPLAIN ANALYZE's counts of partitions aggregated by the hash table,
/// through value codes and in a bounded table.
struct Counters {
    fallbacks: Count,
    coded: Count,
    bounded: Count,
    emptied: Count,
}

/// Reads the probe, then returns the stream of the mode it calls for.
async fn choose(
    aggregator: RunAggregator,
    mut input: SendableRecordBatchStream,
    handover: Handover,
    modes: Modes,
    counters: Counters,
) -> Result<BatchStream> {
    let mut probe = VecDeque::new();
    let mut rows = 0;
    while rows < PROBE_ROWS {
        let Some(batch) = input.next().await else {
            break;
        };
        let batch = batch?;
        rows += batch.num_rows();
        probe.push_back(batch);
    }
    let shape = aggregator.probe(&probe)?;
    if !(modes.runs && shape.clustered()) {
        if modes.codes && shape.few_keys() && aggregator.codable(&probe)? {
            counters.coded.add(1);
            let coded = CodedAggregator::new(aggregator);
            return coded.run(probe, input, handover, counters.fallbacks).await;
        }
        if modes.bounded {
            counters.bounded.add(1);
            let bounded = BoundedAggregator::new(aggregator, counters.emptied)?;
            return Ok(bounded.run(probe, input, handover, counters.fallbacks));
        }
        counters.fallbacks.add(1);
        return Ok(handover.run(probe, input)?.boxed());
    }
    let state = (aggregator, probe, input);
    Ok(
        futures::stream::try_unfold(state, |(mut aggregator, mut probe, mut input)| async move {
            loop {
                let batch = match probe.pop_front() {
                    Some(batch) => batch,
                    None => match input.next().await {
                        Some(batch) => batch?,
                        None => break,
                    },
                };
                if let Some(out) = aggregator.absorb(&batch)? {
                    return Ok(Some((out, (aggregator, probe, input))));
                }
            }
            match aggregator.emit()? {
                Some(out) => Ok(Some((out, (aggregator, probe, input)))),
                None => Ok(None),
            }
        })
        .boxed(),
    )
}

struct RunAggregator {
    group_by: Vec<Arc<dyn PhysicalExpr>>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    /// Per aggregate, the kernel that computes its state per run, if any.
    kernels: Vec<Option<RunKernel>>,
    schema: SchemaRef,
    batch_size: usize,
    /// Groups (runs) held by the accumulators since the last output.
    groups: usize,
    /// Per key column, the key of each held group, in pieces.
    keys: Vec<Vec<ArrayRef>>,
    /// The last row's key, while its group is held: the next batch may
    /// continue its run.
    last_key: Option<Vec<ArrayRef>>,
    metrics: BaselineMetrics,
}

impl RunAggregator {
    fn key_columns(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        key_columns(&self.group_by, batch)
    }

    /// The probe's rows, runs and distinct keys.
    fn probe(&self, probe: &VecDeque<RecordBatch>) -> Result<ProbeShape> {
        let _timer = self.metrics.elapsed_compute().timer();
        let fields = self
            .group_by
            .iter()
            .map(|e| {
                Ok(SortField::new(
                    e.data_type(&probe_schema(probe, &self.schema))?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let converter = RowConverter::new(fields)?;
        let mut rows = converter.empty_rows(0, 0);
        let (mut runs, mut pieces, mut budget) = (0, 0, PROBE_ROWS);
        let mut probed = 0;
        // Only the probe's first PROBE_ROWS rows: an input of one huge batch
        // (a window's output) would otherwise be converted and hashed whole.
        for batch in probe.iter().filter(|b| b.num_rows() > 0) {
            if budget == 0 {
                break;
            }
            let batch = batch.slice(0, batch.num_rows().min(budget));
            budget -= batch.num_rows();
            probed += batch.num_rows();
            pieces += 1;
            let keys = self.key_columns(&batch)?;
            runs += partition(&keys)?.len();
            converter.append(&mut rows, &keys)?;
        }
        let distinct = rows.iter().collect::<HashSet<_>>().len();
        Ok(ProbeShape {
            rows: probed,
            runs,
            pieces,
            distinct,
        })
    }

    /// Whether every key column can be coded (see `group_codes`).
    fn codable(&self, probe: &VecDeque<RecordBatch>) -> Result<bool> {
        let schema = probe_schema(probe, &self.schema);
        if self.group_by.len() > group_codes::MAX_COLUMNS {
            return Ok(false);
        }
        for key in &self.group_by {
            if !group_codes::codable(&key.data_type(&schema)?) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Adds a batch's runs; returns the groups held once there are a batch
    /// of them.
    fn absorb(&mut self, batch: &RecordBatch) -> Result<Option<RecordBatch>> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(None);
        }
        let timer = self.metrics.elapsed_compute().timer();
        let keys = self.key_columns(batch)?;
        let runs = partition(&keys)?.ranges();
        let continues = match &self.last_key {
            Some(last) => same_key(last, &keys)?,
            None => false,
        };
        let mut run_groups = Vec::with_capacity(runs.len());
        let mut starts = Vec::with_capacity(runs.len());
        for (i, run) in runs.iter().enumerate() {
            let group = if i == 0 && continues {
                self.groups - 1
            } else {
                starts.push(run.start as u32);
                self.groups += 1;
                self.groups - 1
            };
            run_groups.push(group);
        }
        // One group index per row only for aggregates without a run kernel.
        let group_indices: Vec<usize> = if self.kernels.iter().any(Option::is_none) {
            let mut indices = Vec::with_capacity(rows);
            for (run, group) in runs.iter().zip(&run_groups) {
                indices.extend(std::iter::repeat_n(*group, run.len()));
            }
            indices
        } else {
            Vec::new()
        };
        if !starts.is_empty() {
            let starts = UInt32Array::from(starts);
            for (held, key) in self.keys.iter_mut().zip(&keys) {
                held.push(take(key.as_ref(), &starts, None)?);
            }
        }
        for (((aggregate, filter), accumulator), kernel) in self
            .aggregates
            .iter()
            .zip(&self.filters)
            .zip(&mut self.accumulators)
            .zip(&self.kernels)
        {
            let values = aggregate
                .expressions()
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(rows))
                .collect::<Result<Vec<_>>>()?;
            if let (Some(kernel), [values]) = (kernel, values.as_slice()) {
                let states = kernel.states(values, &runs)?;
                accumulator.merge_batch(&states, &run_groups, self.groups)?;
                continue;
            }
            let filter = match filter {
                Some(filter) => Some(filter_mask(filter, batch, aggregate.name())?),
                None => None,
            };
            accumulator.update_batch(&values, &group_indices, filter.as_ref(), self.groups)?;
        }
        self.last_key = Some(keys.iter().map(|k| k.slice(rows - 1, 1)).collect());
        timer.done();
        if self.groups >= self.batch_size {
            return self.emit();
        }
        Ok(None)
    }

    /// The held groups as one partial-aggregate batch (keys, then states).
    fn emit(&mut self) -> Result<Option<RecordBatch>> {
        if self.groups == 0 {
            return Ok(None);
        }
        let timer = self.metrics.elapsed_compute().timer();
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for pieces in &mut self.keys {
            let pieces = std::mem::take(pieces);
            columns.push(match pieces.as_slice() {
                [one] => Arc::clone(one),
                _ => {
                    let refs: Vec<&dyn Array> = pieces.iter().map(|p| p.as_ref()).collect();
                    concat(&refs)?
                }
            });
        }
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        self.groups = 0;
        self.last_key = None;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        timer.done();
        self.metrics.record_output(batch.num_rows());
        Ok(Some(batch))
    }
}

/// What the probe saw of the grouping keys.
struct ProbeShape {
    rows: usize,
    runs: usize,
    /// Batches (each boundary may split a run once).
    pieces: usize,
    distinct: usize,
}

/// Distinct keys in the probe that call for value codes.
const FEW_KEYS: usize = 4096;

impl ProbeShape {
    /// The runs are about as few as the distinct keys, so hashing would
    /// find nothing the runs do not show.
    fn clustered(&self) -> bool {
        self.runs <= self.distinct + self.distinct / 10 + self.pieces
    }

    /// The keys take few values, each seen many times.
    fn few_keys(&self) -> bool {
        self.distinct <= FEW_KEYS && self.distinct * 8 <= self.rows
    }
}

/// What the per-row modes (value codes, bounded table) share: the group
/// and aggregate expressions and DataFusion's accumulators, updated with
/// one group index per row.
struct PerRowAggregates {
    group_by: Vec<Arc<dyn PhysicalExpr>>,
    aggregates: Vec<Arc<AggregateFunctionExpr>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    schema: SchemaRef,
    metrics: BaselineMetrics,
}

impl PerRowAggregates {
    fn new(runs: RunAggregator) -> Self {
        Self {
            group_by: runs.group_by,
            aggregates: runs.aggregates,
            filters: runs.filters,
            accumulators: runs.accumulators,
            schema: runs.schema,
            metrics: runs.metrics,
        }
    }

    fn keys(&self, batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
        key_columns(&self.group_by, batch)
    }

    /// Updates every accumulator with `batch`'s arguments, row `i` into
    /// group `indices[i]`.
    fn update(&mut self, batch: &RecordBatch, indices: &[usize], groups: usize) -> Result<()> {
        let rows = batch.num_rows();
        for ((aggregate, filter), accumulator) in self
            .aggregates
            .iter()
            .zip(&self.filters)
            .zip(&mut self.accumulators)
        {
            let values = aggregate
                .expressions()
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(rows))
                .collect::<Result<Vec<_>>>()?;
            let filter = match filter {
                Some(filter) => Some(filter_mask(filter, batch, aggregate.name())?),
                None => None,
            };
            accumulator.update_batch(&values, indices, filter.as_ref(), groups)?;
        }
        Ok(())
    }

    /// `keys`, then every accumulator's state of all its groups, as one
    /// partial-aggregate batch; the accumulators are left empty.
    fn output(&mut self, mut columns: Vec<ArrayRef>) -> Result<RecordBatch> {
        for accumulator in &mut self.accumulators {
            columns.extend(accumulator.state(EmitTo::All)?);
        }
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.metrics.record_output(batch.num_rows());
        Ok(batch)
    }
}

/// Groups a bounded table holds before it is emitted and emptied.
const BOUNDED_GROUPS: usize = 32_768;

/// The partial aggregate in a hash table of at most [`BOUNDED_GROUPS`]
/// groups, emitted and emptied whenever it fills.
///
/// Why: a partial aggregate over many groups that arrive near each other
/// (the daily P&L of each portfolio: 46.6M (portfolio, date) groups over
/// 205M joined rows, each portfolio's rows together) grows DataFusion's
/// hash table to every group of the partition, far beyond the caches,
/// though each group is complete a few thousand rows after it starts. A
/// table kept small stays in cache; a group split by an emptying is merged
/// by the final stage like any other. When emptying finds the table did
/// not reduce the rows it took (no locality), the rest of the input goes
/// to DataFusion's hash aggregate.
struct BoundedAggregator {
    table: Box<dyn GroupValues>,
    per_row: PerRowAggregates,
    indices: Vec<usize>,
    /// Rows taken since the table was last emptied.
    rows: usize,
    emptied: Count,
}

/// The bounded aggregate's stream state; None once done or handed over.
type BoundedState = Option<(
    BoundedAggregator,
    VecDeque<RecordBatch>,
    SendableRecordBatchStream,
    Handover,
    Count,
)>;

/// Reads until the table empties (or the input ends): the emptied batch,
/// followed by DataFusion's hash aggregate of the rest when the table
/// found no locality.
async fn bounded_step(state: BoundedState) -> Result<Option<(BatchStream, BoundedState)>> {
    let Some((mut aggregator, mut probe, mut input, handover, fallbacks)) = state else {
        return Ok(None);
    };
    loop {
        let batch = match probe.pop_front() {
            Some(batch) => batch,
            None => match input.next().await {
                Some(batch) => batch?,
                None => {
                    return Ok(aggregator
                        .empty()?
                        .map(|last| (futures::stream::iter([Ok(last.batch)]).boxed(), None)));
                }
            },
        };
        let Some(emptied) = aggregator.absorb(&batch)? else {
            continue;
        };
        let first = futures::stream::iter([Ok(emptied.batch)]);
        if emptied.no_locality {
            fallbacks.add(1);
            let rest = handover.run(probe, input)?;
            return Ok(Some((first.chain(rest).boxed(), None)));
        }
        let state = Some((aggregator, probe, input, handover, fallbacks));
        return Ok(Some((first.boxed(), state)));
    }
}

/// What one emptying of the bounded table decided.
struct Emptied {
    batch: RecordBatch,
    /// The groups were nearly as many as the rows: hand over the rest.
    no_locality: bool,
}

impl BoundedAggregator {
    fn new(runs: RunAggregator, emptied: Count) -> Result<Self> {
        let keys = runs.group_by.len();
        let key_schema = Arc::new(Schema::new(runs.schema.fields()[..keys].to_vec()));
        Ok(Self {
            table: new_group_values(key_schema, &GroupOrdering::None)?,
            per_row: PerRowAggregates::new(runs),
            indices: Vec::new(),
            rows: 0,
            emptied,
        })
    }

    /// Streams the emptied tables; may hand the rest of the input over.
    fn run(
        self,
        probe: VecDeque<RecordBatch>,
        input: SendableRecordBatchStream,
        handover: Handover,
        fallbacks: Count,
    ) -> BatchStream {
        let state: BoundedState = Some((self, probe, input, handover, fallbacks));
        futures::stream::try_unfold(state, bounded_step)
            .try_flatten()
            .boxed()
    }

    /// Adds a batch's rows; empties the table once it is full.
    fn absorb(&mut self, batch: &RecordBatch) -> Result<Option<Emptied>> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(None);
        }
        let elapsed = self.per_row.metrics.elapsed_compute().clone();
        let timer = elapsed.timer();
        let keys = self.per_row.keys(batch)?;
        self.table.intern(&keys, &mut self.indices)?;
        let groups = self.table.len();
        self.per_row.update(batch, &self.indices, groups)?;
        self.rows += rows;
        timer.done();
        if groups >= BOUNDED_GROUPS {
            return self.empty();
        }
        Ok(None)
    }

    /// The table's groups as one partial-aggregate batch; the table empty.
    fn empty(&mut self) -> Result<Option<Emptied>> {
        if self.table.is_empty() {
            return Ok(None);
        }
        let elapsed = self.per_row.metrics.elapsed_compute().clone();
        let timer = elapsed.timer();
        let groups = self.table.len();
        let keys = self.table.emit(EmitTo::All)?;
        self.table.clear_shrink(BOUNDED_GROUPS);
        let batch = self.per_row.output(keys)?;
        // Three rows in four were new groups: the table saves little over
        // handing the rows on, and DataFusion's hash aggregate (which can
        // stop aggregating altogether) takes the rest.
        let no_locality = groups * 4 > self.rows * 3;
        self.rows = 0;
        self.emptied.add(1);
        timer.done();
        Ok(Some(Emptied { batch, no_locality }))
    }
}

/// The partial aggregate through value codes (see `group_codes`): every
/// input row's group comes from [`GroupCoder`], and the accumulators are
/// updated with those indices; all groups are emitted at the end.
struct CodedAggregator {
    coder: GroupCoder,
    per_row: PerRowAggregates,
    /// Groups the accumulators hold.
    groups: usize,
    indices: Vec<usize>,
}

impl CodedAggregator {
    fn new(runs: RunAggregator) -> Self {
        Self {
            coder: GroupCoder::new(runs.group_by.len()),
            per_row: PerRowAggregates::new(runs),
            groups: 0,
            indices: Vec::new(),
        }
    }

    /// Aggregates the whole input; when the keys turn out to take too many
    /// values, emits the groups held and hands the rest to the hash table.
    async fn run(
        mut self,
        mut probe: VecDeque<RecordBatch>,
        mut input: SendableRecordBatchStream,
        handover: Handover,
        fallbacks: Count,
    ) -> Result<BatchStream> {
        loop {
            let batch = match probe.pop_front() {
                Some(batch) => batch,
                None => match input.next().await {
                    Some(batch) => batch?,
                    None => break,
                },
            };
            if !self.absorb(&batch)? {
                fallbacks.add(1);
                probe.push_front(batch);
                let held = self.emit()?;
                let rest = handover.run(probe, input)?;
                return Ok(futures::stream::iter(held.map(Ok)).chain(rest).boxed());
            }
        }
        Ok(futures::stream::iter(self.emit()?.map(Ok)).boxed())
    }

    /// Adds a batch's rows; false (nothing added) when the keys have too
    /// many values.
    fn absorb(&mut self, batch: &RecordBatch) -> Result<bool> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(true);
        }
        let elapsed = self.per_row.metrics.elapsed_compute().clone();
        let _timer = elapsed.timer();
        let keys = self.per_row.keys(batch)?;
        if self.coder.group_indices(&keys, &mut self.indices)?.is_err() {
            return Ok(false);
        }
        self.groups = self.coder.group_count();
        self.per_row.update(batch, &self.indices, self.groups)?;
        Ok(true)
    }

    /// The groups held, as one partial-aggregate batch.
    fn emit(&mut self) -> Result<Option<RecordBatch>> {
        if self.groups == 0 {
            return Ok(None);
        }
        let elapsed = self.per_row.metrics.elapsed_compute().clone();
        let timer = elapsed.timer();
        let keys = self.coder.keys(self.groups)?;
        let batch = self.per_row.output(keys)?;
        self.groups = 0;
        timer.done();
        Ok(Some(batch))
    }
}

/// The schema the group expressions are evaluated against.
fn probe_schema(probe: &VecDeque<RecordBatch>, fallback: &SchemaRef) -> SchemaRef {
    probe
        .front()
        .map(RecordBatch::schema)
        .unwrap_or_else(|| Arc::clone(fallback))
}

/// The grouping keys of `batch`'s rows.
fn key_columns(group_by: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    group_by
        .iter()
        .map(|e| e.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}

fn same_key(last: &[ArrayRef], keys: &[ArrayRef]) -> Result<bool> {
    for (last, key) in last.iter().zip(keys) {
        let compare = make_comparator(last.as_ref(), key.as_ref(), SortOptions::default())?;
        if compare(0, 0).is_ne() {
            return Ok(false);
        }
    }
    Ok(true)
}

fn filter_mask(
    filter: &Arc<dyn PhysicalExpr>,
    batch: &RecordBatch,
    name: &str,
) -> Result<BooleanArray> {
    let mask = filter.evaluate(batch)?.into_array(batch.num_rows())?;
    match mask.as_boolean_opt() {
        Some(mask) => Ok(mask.clone()),
        None => exec_err!(
            "{name}: FILTER must be a boolean expression, got {}",
            mask.data_type()
        ),
    }
}

/// One partition replaying the probed batches, then the rest of the input,
/// for the hash aggregate the operator falls back to (and the sort
/// `NormalizedKeySortExec` hands over to).
pub(super) struct ReplayExec {
    stream: Mutex<Option<(VecDeque<RecordBatch>, SendableRecordBatchStream)>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl ReplayExec {
    /// Runs `replaced` (the DataFusion operator a finsight one replaced,
    /// single-input) over the batches already read and the rest of the
    /// input, as partition 0.
    pub(super) fn hand_over(
        replaced: Arc<dyn ExecutionPlan>,
        schema: SchemaRef,
        read: VecDeque<RecordBatch>,
        rest: SendableRecordBatchStream,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let replay = Arc::new(Self::new(schema, read, rest));
        replaced
            .replace_children(
                vec![replay],
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?
            .execute(0, context)
    }

    fn new(
        schema: SchemaRef,
        probe: VecDeque<RecordBatch>,
        rest: SendableRecordBatchStream,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Self {
            stream: Mutex::new(Some((probe, rest))),
            schema,
            properties: Arc::new(properties),
        }
    }
}

impl fmt::Debug for ReplayExec {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("ReplayExec").finish_non_exhaustive()
    }
}

impl DisplayAs for ReplayExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ReplayExec")
    }
}

impl ExecutionPlan for ReplayExec {
    fn name(&self) -> &str {
        "ReplayExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return internal_err!("ReplayExec has no inputs");
        }
        Ok(self)
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
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let taken = match self.stream.lock() {
            Ok(mut slot) => slot.take(),
            Err(_) => None,
        };
        let Some((probe, rest)) = taken.filter(|_| partition == 0) else {
            return internal_err!("ReplayExec runs once, as partition 0");
        };
        let stream = futures::stream::iter(probe.into_iter().map(Ok)).chain(rest);
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}

#[cfg(test)]
mod tests {
    //! The operator against DataFusion's hash aggregate (the rule off) on
    //! random rows with NULL keys and values, in batches of 100 rows so that
    //! runs cross batch boundaries, both clustered by the keys (runs) and in
    //! random order (the fallback).

    use datafusion::prelude::SessionContext;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::engine::test_support::{exec, plan_text as plan};

    async fn session(on: bool) -> SessionContext {
        let ctx = crate::engine::test_support::session(&[
            format!("SET finsight.run_partial_aggregation = {on}"),
            format!("SET finsight.low_cardinality_grouping = {on}"),
            format!("SET finsight.bounded_partial_aggregation = {on}"),
            "SET datafusion.execution.batch_size = 100".to_string(),
        ])
        .await;
        let mut rng = ChaCha8Rng::seed_from_u64(20261204);
        let rows: Vec<String> = (0..5000)
            .map(|id| {
                let p = match rng.random_range(0..50) {
                    0 => "NULL".to_string(),
                    _ => rng.random_range(0..300).to_string(),
                };
                let q = rng.random_range(0..4);
                let v = match rng.random_range(0..8) {
                    0 => "NULL".to_string(),
                    _ => (rng.random_range(-5000..50000) / 4).to_string(),
                };
                format!("({id}, CAST({p} AS BIGINT), {q}, CAST({v} AS BIGINT))")
            })
            .collect();
        exec(
            &ctx,
            &format!(
                "CREATE TABLE shuffled AS SELECT * FROM (VALUES {}) AS v(id, p, q, v)",
                rows.join(", ")
            ),
        )
        .await;
        exec(
            &ctx,
            "CREATE TABLE clustered AS SELECT *, 'c' || CAST(p AS VARCHAR) AS name \
             FROM shuffled ORDER BY p, q, id",
        )
        .await;
        ctx
    }

    const QUERIES: [&str; 7] = [
        "SELECT p, count(*), count(v), sum(v), min(v), max(v), avg(v), \
         round(stddev_samp(v), 6), count(v) FILTER (WHERE q = 1) FROM {t} GROUP BY p",
        // Float sums and variances (rounded: a run cut by a batch boundary
        // adds two partial sums), and min/max of i32- and i64-backed types.
        "SELECT p, round(sum(v / 3.0), 6) AS s, round(avg(v / 7.0), 9) AS a, \
         round(var_pop(v / 3.0), 3) AS vp, round(stddev_pop(v), 6) AS sp, \
         round(var_samp(v), 1) AS vs, min(CAST(v AS INT)) AS lo, max(CAST(v AS INT)) AS hi, \
         max(to_timestamp_seconds(v)) AS ts, min(CAST(to_timestamp_seconds(v) AS DATE)) AS d, \
         count(q) AS n FROM {t} GROUP BY p",
        "SELECT p, q, sum(v), max(id) FROM {t} GROUP BY p, q",
        "SELECT DISTINCT p, q FROM {t}",
        "SELECT p % 7 AS k, min(id), sum(v) FROM {t} WHERE v > 100 GROUP BY p % 7",
        "SELECT p, count(*) FROM {t} WHERE v > 1000000 GROUP BY p",
        "SELECT q, count(*), sum(v) FROM {t} GROUP BY q",
    ];

    #[tokio::test]
    async fn run_partial_aggregation_matches_datafusion() {
        let (on, off) = (session(true).await, session(false).await);
        for table in ["clustered", "shuffled"] {
            for query in QUERIES {
                let sql = format!("{} ORDER BY 1, 2", query.replace("{t}", table));
                assert_eq!(exec(&on, &sql).await, exec(&off, &sql).await, "{sql}");
                assert!(
                    plan(&on, &sql).await.contains("RunPartialAggregateExec"),
                    "{sql}"
                );
                assert!(
                    !plan(&off, &sql).await.contains("RunPartialAggregateExec"),
                    "{sql}"
                );
            }
        }
        let sql = "SELECT name, count(*), sum(v) FROM clustered GROUP BY name ORDER BY 1";
        assert_eq!(exec(&on, sql).await, exec(&off, sql).await);
    }

    /// The counter `name` of EXPLAIN ANALYZE's text, summed over partitions.
    fn counter(text: &str, name: &str) -> usize {
        text.split(&format!("{name}="))
            .skip(1)
            .filter_map(|rest| {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<usize>().ok()
            })
            .sum()
    }

    /// Clustered input is aggregated over runs; shuffled input with few
    /// keys through value codes, or by the hash table when they are off.
    #[tokio::test]
    async fn falls_back_to_the_hash_table_when_keys_are_not_clustered() {
        let ctx = session(true).await;
        let clustered = exec(
            &ctx,
            "EXPLAIN ANALYZE SELECT p, count(*) FROM clustered GROUP BY p",
        )
        .await;
        let few = "EXPLAIN ANALYZE SELECT q, count(*) FROM shuffled GROUP BY q";
        let coded = exec(&ctx, few).await;
        let many = "EXPLAIN ANALYZE SELECT v, count(*) FROM shuffled GROUP BY v";
        let bounded = exec(&ctx, many).await;
        exec(&ctx, "SET finsight.low_cardinality_grouping = false").await;
        exec(&ctx, "SET finsight.bounded_partial_aggregation = false").await;
        let hashed = exec(&ctx, few).await;
        let many = exec(&ctx, many).await;
        assert!(clustered.contains("RunPartialAggregateExec"), "{clustered}");
        assert_eq!(counter(&clustered, "hash_fallback"), 0, "{clustered}");
        assert_eq!(counter(&clustered, "low_cardinality"), 0, "{clustered}");
        assert!(counter(&coded, "low_cardinality") >= 1, "{coded}");
        assert_eq!(counter(&coded, "hash_fallback"), 0, "{coded}");
        assert!(counter(&hashed, "hash_fallback") >= 1, "{hashed}");
        assert_eq!(counter(&hashed, "low_cardinality"), 0, "{hashed}");
        assert!(counter(&bounded, "bounded_table") >= 1, "{bounded}");
        assert!(counter(&many, "hash_fallback") >= 1, "{many}");
    }

    /// Few-valued keys of every codable type, NULL keys, FILTER and
    /// several columns, through value codes against DataFusion's hash
    /// aggregate; and keys that turn out to have too many values (the
    /// probe saw few) handed over to it midway.
    #[tokio::test]
    async fn low_cardinality_grouping_matches_datafusion() {
        let ctx = |on: bool| async move {
            let ctx = crate::engine::test_support::session(&[
                "SET finsight.run_partial_aggregation = false".to_string(),
                format!("SET finsight.low_cardinality_grouping = {on}"),
                "SET datafusion.execution.batch_size = 1000".to_string(),
            ])
            .await;
            exec(
                &ctx,
                "CREATE TABLE facts AS SELECT i, \
                   CASE WHEN i % 17 = 0 THEN NULL ELSE \
                     arrow_cast(CASE i % 4 WHEN 0 THEN 'mass' WHEN 1 THEN 'affluent' \
                       WHEN 2 THEN 'private_banking_client' ELSE 'private_banking_clienT' END, \
                       'Utf8View') END AS segment, \
                   CASE i % 3 WHEN 0 THEN 'online_retail' WHEN 1 THEN 'grocery' ELSE NULL END \
                     AS category, \
                   arrow_cast(CAST(i % 5 AS VARCHAR) || '_region_with_a_long_name', 'LargeUtf8') \
                     AS region, \
                   i % 2 = 0 AS flag, \
                   CAST(i % 6 AS DATE) AS day, \
                   CAST(i % 7 AS DECIMAL(12, 2)) AS grade, \
                   CASE WHEN i % 11 = 0 THEN NULL ELSE i * 37 % 1000 END AS amount, \
                   CASE WHEN i < 150000 THEN i % 10 ELSE i END AS widening \
                 FROM generate_series(0, 300000) AS t(i) \
                 ORDER BY i >= 150000, i * 7919 % 300001",
            )
            .await;
            ctx
        };
        let (on, off) = (ctx(true).await, ctx(false).await);
        for sql in [
            "SELECT segment, count(*), count(amount), sum(amount), min(amount), max(amount), \
             avg(amount), round(stddev(amount), 6) FROM facts GROUP BY segment",
            "SELECT segment, category, sum(amount), count(*) FILTER (WHERE flag) \
             FROM facts GROUP BY segment, category",
            "SELECT region, flag, day, grade, count(*), max(i) FROM facts \
             GROUP BY region, flag, day, grade",
            "SELECT DISTINCT category, flag FROM facts",
            "SELECT widening, count(*), sum(amount) FROM facts GROUP BY widening",
            "SELECT widening % 300 AS a, (widening / 300) % 300 AS b, count(*) FROM facts \
             GROUP BY 1, 2",
        ] {
            let sql = format!("{sql} ORDER BY 1, 2");
            assert_eq!(exec(&on, &sql).await, exec(&off, &sql).await, "{sql}");
            let analyzed = exec(&on, &format!("EXPLAIN ANALYZE {sql}")).await;
            assert!(
                counter(&analyzed, "low_cardinality") >= 1,
                "{sql}\n{analyzed}"
            );
            let widening = sql.contains("widening");
            assert_eq!(
                counter(&analyzed, "hash_fallback") >= 1,
                widening,
                "{sql}\n{analyzed}"
            );
        }
    }

    /// Many groups near each other (not in runs, not few) in a bounded
    /// table emptied when full; without locality, the rest handed to the
    /// hash aggregate after the first emptying. Both against DataFusion.
    #[tokio::test]
    async fn bounded_tables_match_datafusion() {
        let ctx = |on: bool| async move {
            let ctx = crate::engine::test_support::session(&[
                format!("SET finsight.run_partial_aggregation = {on}"),
                format!("SET finsight.low_cardinality_grouping = {on}"),
                format!("SET finsight.bounded_partial_aggregation = {on}"),
            ])
            .await;
            // `near`: in each block of 64 rows, 16 keys 4 times each,
            // interleaved; `scattered`: 50,021 keys in no order, each
            // repeating only after all others.
            exec(
                &ctx,
                "CREATE TABLE blocks AS SELECT i, (i / 64) * 16 + i % 16 AS near, \
                   (i * 7919) % 50021 AS scattered, \
                   CASE WHEN i % 9 = 0 THEN NULL ELSE i % 1000 END AS v \
                 FROM generate_series(0, 399999) AS t(i) ORDER BY i",
            )
            .await;
            ctx
        };
        let (on, off) = (ctx(true).await, ctx(false).await);
        for (key, handed_over) in [("near", false), ("scattered", true)] {
            let sql = format!(
                "SELECT {key}, count(*), count(v), sum(v), min(v), max(i), round(avg(v), 6), \
                 sum(v) FILTER (WHERE i % 2 = 0) FROM blocks GROUP BY {key} ORDER BY 1"
            );
            assert_eq!(exec(&on, &sql).await, exec(&off, &sql).await, "{sql}");
            let analyzed = exec(&on, &format!("EXPLAIN ANALYZE {sql}")).await;
            assert!(
                counter(&analyzed, "bounded_table") >= 1,
                "{sql}\n{analyzed}"
            );
            assert_eq!(
                counter(&analyzed, "hash_fallback") >= 1,
                handed_over,
                "{sql}\n{analyzed}"
            );
        }
        // More groups than the table holds, emptied and merged downstream.
        let emptied = exec(
            &on,
            "EXPLAIN ANALYZE SELECT near, count(*) FROM blocks GROUP BY near",
        )
        .await;
        // 50,000 groups per partition: each table emptied when full and
        // at the end.
        assert!(counter(&emptied, "tables_emptied") >= 4, "{emptied}");
    }

    /// Aggregates the runs cannot compute keep DataFusion's operator.
    #[tokio::test]
    async fn distinct_and_ordered_aggregates_keep_the_hash_aggregate() {
        let ctx = session(true).await;
        for sql in [
            // Two DISTINCT arguments: not rewritten into a grouping first.
            "SELECT p, count(DISTINCT v), count(DISTINCT q) FROM clustered GROUP BY p",
            "SELECT p, array_agg(v ORDER BY id) FROM clustered GROUP BY p",
            "SELECT CAST(v AS DOUBLE) AS f, count(*) FROM clustered GROUP BY 1",
        ] {
            let text = plan(&ctx, sql).await;
            assert!(!text.contains("RunPartialAggregateExec"), "{sql}\n{text}");
        }
    }
}
