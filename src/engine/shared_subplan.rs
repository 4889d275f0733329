//! Computes a subplan that a query uses more than once (a CTE referenced
//! twice, the same aggregate joined back to itself) once, and serves its
//! rows to every use.
//!
//! Why: DataFusion inlines a CTE at each reference, so `WITH pnl AS (...)
//! SELECT ... FROM var JOIN pnl` aggregates the P&L twice; DuckDB
//! materializes such CTEs. The logical rule replaces every occurrence of a
//! repeated expensive subtree (aggregate, join, window, distinct) by a
//! [`SharedSubplan`] node holding one shared [`SharedResult`]; each physical
//! [`SharedSubplanExec`] runs its own copy of the subtree only if no other
//! occurrence has produced the rows yet. Subtrees with volatile functions
//! (random()) are left alone: each reference must draw its own values.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchemaRef, DataFusionError, Result, internal_err};
use datafusion::execution::context::QueryPlanner;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{
    Boundedness, ChildrenPropertiesMode, EmissionType, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, collect_partitioned,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use futures::StreamExt;
use tokio::sync::OnceCell;

/// The rows of a shared subplan in one execution, computed by the first
/// occurrence that runs; made fresh for each physical plan, so a prepared
/// statement run again with other parameters computes them again.
#[derive(Debug, Default)]
struct SharedResult {
    id: u64,
    rows: OnceCell<std::result::Result<Arc<Materialized>, Arc<DataFusionError>>>,
}

#[derive(Debug)]
struct Materialized {
    rows: Vec<RecordBatch>,
    /// Holds the rows' memory in the pool until the plan is dropped.
    _reservation: MemoryReservation,
}

/// One occurrence of a repeated subtree; occurrences share an id.
#[derive(Debug, Clone)]
pub struct SharedSubplan {
    input: LogicalPlan,
    id: u64,
}

impl PartialEq for SharedSubplan {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && self.input == other.input
    }
}

impl Eq for SharedSubplan {}

impl Hash for SharedSubplan {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.input.hash(state);
    }
}

impl PartialOrd for SharedSubplan {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.id.partial_cmp(&other.id)
    }
}

impl UserDefinedLogicalNodeCore for SharedSubplan {
    fn name(&self) -> &str {
        "SharedSubplan"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        self.input.schema()
    }

    fn expressions(&self) -> Vec<Expr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedSubplan: id={}", self.id)
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        if inputs.len() != 1 {
            return internal_err!("SharedSubplan has one input");
        }
        Ok(Self {
            input: inputs.swap_remove(0),
            id: self.id,
        })
    }
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct ShareRepeatedSubplans;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl OptimizerRule for ShareRepeatedSubplans {
    fn name(&self) -> &str {
        "finsight_share_repeated_subplans"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !super::options(&config.options()).share_repeated_subplans {
            return Ok(Transformed::no(plan));
        }
        let mut counts: HashMap<LogicalPlan, usize> = HashMap::new();
        let mut unsafe_plan = false;
        plan.apply(|node| {
            if is_shared(node) {
                return Ok(TreeNodeRecursion::Jump);
            }
            if matches!(
                node,
                LogicalPlan::RecursiveQuery(_) | LogicalPlan::Dml(_) | LogicalPlan::Ddl(_)
            ) {
                unsafe_plan = true;
                return Ok(TreeNodeRecursion::Stop);
            }
            if is_expensive(node) {
                *counts.entry(node.clone()).or_default() += 1;
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        counts.retain(|_, n| *n >= 2);
        if unsafe_plan || counts.is_empty() {
            return Ok(Transformed::no(plan));
        }
        let mut ids: HashMap<LogicalPlan, u64> = HashMap::new();
        plan.transform_down(|node| {
            if is_shared(&node) {
                return Ok(Transformed::new(node, false, TreeNodeRecursion::Jump));
            }
            if !counts.contains_key(&node) || is_volatile(&node)? {
                return Ok(Transformed::no(node));
            }
            let id = *ids
                .entry(node.clone())
                .or_insert_with(|| NEXT_ID.fetch_add(1, AtomicOrdering::Relaxed));
            let replaced = LogicalPlan::Extension(Extension {
                node: Arc::new(SharedSubplan { input: node, id }),
            });
            Ok(Transformed::new(replaced, true, TreeNodeRecursion::Jump))
        })
    }
}

fn is_shared(node: &LogicalPlan) -> bool {
    matches!(node, LogicalPlan::Extension(e) if e.node.as_any().is::<SharedSubplan>())
}

fn is_expensive(node: &LogicalPlan) -> bool {
    matches!(
        node,
        LogicalPlan::Aggregate(_)
            | LogicalPlan::Join(_)
            | LogicalPlan::Window(_)
            | LogicalPlan::Distinct(_)
    )
}

/// Whether any expression in the subtree is volatile (random(), uuid()).
pub(super) fn is_volatile(plan: &LogicalPlan) -> Result<bool> {
    let mut volatile = false;
    plan.apply(|node| {
        for expr in node.expressions() {
            if expr.is_volatile() {
                volatile = true;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(volatile)
}

/// The query planner of every session: DataFusion's, plus the physical
/// operators of finsight's logical nodes.
#[derive(Debug, Default)]
pub struct FinsightQueryPlanner;

#[async_trait]
impl QueryPlanner for FinsightQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session_state: &dyn Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let shared = SharedSubplanPlanner::default();
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(shared)])
            .create_physical_plan(logical_plan, session_state)
            .await
    }
}

/// Plans the SharedSubplan nodes of one query: occurrences with the same
/// id get the same [`SharedResult`].
#[derive(Debug, Default)]
struct SharedSubplanPlanner {
    results: Mutex<HashMap<u64, Arc<SharedResult>>>,
}

#[async_trait]
impl ExtensionPlanner for SharedSubplanPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session_state: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(shared) = node.as_any().downcast_ref::<SharedSubplan>() else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return internal_err!("SharedSubplan has one input");
        };
        let partitions = session_state
            .config_options()
            .execution
            .target_partitions
            .max(1);
        let result = {
            let mut results = self
                .results
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(results.entry(shared.id).or_insert_with(|| {
                Arc::new(SharedResult {
                    id: shared.id,
                    rows: OnceCell::new(),
                })
            }))
        };
        Ok(Some(Arc::new(SharedSubplanExec::new(
            Arc::clone(input),
            result,
            partitions,
        ))))
    }
}

/// Runs its input once for all occurrences and hands out the rows
/// round-robin over `partitions` output partitions.
#[derive(Debug, Clone)]
pub struct SharedSubplanExec {
    input: Arc<dyn ExecutionPlan>,
    shared: Arc<SharedResult>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl SharedSubplanExec {
    fn new(input: Arc<dyn ExecutionPlan>, shared: Arc<SharedResult>, partitions: usize) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(input.schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Self {
            input,
            shared,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for SharedSubplanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedSubplanExec: id={}", self.shared.id)
    }
}

impl ExecutionPlan for SharedSubplanExec {
    fn name(&self) -> &str {
        "SharedSubplanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("SharedSubplanExec has one input");
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
        let input = Arc::clone(&self.input);
        let shared = Arc::clone(&self.shared);
        let schema: SchemaRef = self.input.schema();
        let partitions = self.properties.partitioning.partition_count();
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let rows = async move {
            let rows = shared
                .rows
                .get_or_init(|| async {
                    compute(input, Arc::clone(&context))
                        .await
                        .map(Arc::new)
                        .map_err(Arc::new)
                })
                .await;
            match rows {
                Ok(materialized) => {
                    let mine: Vec<Result<RecordBatch>> = materialized
                        .rows
                        .iter()
                        .skip(partition)
                        .step_by(partitions)
                        .cloned()
                        .map(Ok)
                        .collect();
                    let count: usize = mine.iter().flatten().map(RecordBatch::num_rows).sum();
                    metrics.record_output(count);
                    metrics.done();
                    futures::stream::iter(mine)
                }
                Err(e) => futures::stream::iter(vec![Err(DataFusionError::Shared(Arc::clone(e)))]),
            }
        };
        let stream = futures::stream::once(rows).flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// Runs every partition of `input` and keeps the rows, accounted against
/// the memory pool (a result that does not fit fails the query cleanly).
async fn compute(input: Arc<dyn ExecutionPlan>, context: Arc<TaskContext>) -> Result<Materialized> {
    let reservation = MemoryConsumer::new("SharedSubplanExec").register(context.memory_pool());
    let partitions = collect_partitioned(input, Arc::clone(&context)).await?;
    let rows: Vec<RecordBatch> = partitions.into_iter().flatten().collect();
    // Aggregates emit slices of one large buffer, which get_array_memory_size
    // would count once per slice; count each row once.
    let bytes = rows
        .iter()
        .flat_map(RecordBatch::columns)
        .map(|c| c.to_data().get_slice_memory_size())
        .sum::<Result<usize, _>>()?;
    reservation.try_grow(bytes)?;
    Ok(Materialized {
        rows,
        _reservation: reservation,
    })
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    use crate::session::{SessionOptions, new_session};

    async fn session(share: bool, memory_limit: Option<usize>) -> SessionContext {
        let ctx = new_session(&SessionOptions {
            target_partitions: Some(2),
            memory_limit,
            ..SessionOptions::default()
        })
        .await
        .expect("session");
        for sql in [
            format!("SET finsight.share_repeated_subplans = {share}"),
            "CREATE TABLE t AS SELECT value % 97 AS k, value % 13 AS g, CAST(value AS DOUBLE) AS v \
             FROM generate_series(1, 20000)"
                .to_string(),
        ] {
            ctx.sql(&sql).await.expect(&sql).collect().await.expect(&sql);
        }
        ctx
    }

    /// The result as text, and the physical plan.
    async fn run(ctx: &SessionContext, sql: &str) -> (String, String) {
        let frame = ctx.sql(sql).await.expect(sql);
        let plan = frame.clone().create_physical_plan().await.expect(sql);
        let plan = displayable(plan.as_ref()).indent(false).to_string();
        let batches = frame.collect().await.expect(sql);
        (
            pretty_format_batches(&batches).expect("format").to_string(),
            plan,
        )
    }

    const TWICE: &str = "WITH s AS (SELECT k, sum(v) AS total, count(*) AS n FROM t GROUP BY k), \
         summary AS (SELECT max(total) AS best, sum(n) AS row_count, min(k) AS lowest FROM s) \
         SELECT s.k, s.total, s.n, summary.row_count, summary.lowest FROM s JOIN summary ON s.total >= summary.best * 0.97 ORDER BY s.k";

    #[tokio::test]
    async fn a_cte_used_twice_is_computed_once_with_the_same_result() {
        let (expected, plan_off) = run(&session(false, None).await, TWICE).await;
        let (actual, plan_on) = run(&session(true, None).await, TWICE).await;
        assert!(!plan_off.contains("SharedSubplanExec"), "{plan_off}");
        assert_eq!(plan_on.matches("SharedSubplanExec").count(), 2, "{plan_on}");
        assert_eq!(expected, actual);
        // Independent check of the rows: the largest per-key totals of 1..20000 by value % 97.
        assert!(actual.contains("| 96 |"), "{actual}");
    }

    #[tokio::test]
    async fn volatile_subplans_are_not_shared() {
        let ctx = session(true, None).await;
        let (_, plan) = run(
            &ctx,
            "WITH s AS (SELECT k, sum(v * random()) AS total FROM t GROUP BY k) \
             SELECT a.k FROM s a JOIN s b ON a.k = b.k AND a.total <> b.total",
        )
        .await;
        assert!(!plan.contains("SharedSubplanExec"), "{plan}");
    }

    #[tokio::test]
    async fn a_prepared_statement_recomputes_its_shared_subplan_per_execution() {
        let ctx = session(true, None).await;
        ctx.sql(
            "PREPARE q(BIGINT) AS WITH s AS (SELECT k, count(*) AS n FROM t WHERE g = $1 GROUP BY k) \
             SELECT count(*) AS keys, sum(a.n) AS rows FROM s a JOIN s b ON a.k = b.k",
        )
        .await
        .expect("prepare")
        .collect()
        .await
        .expect("prepare");
        for g in [0, 5] {
            let (result, _) = run(&ctx, &format!("EXECUTE q({g})")).await;
            // 20000 values: g = value % 13, so 1538 rows have g = 0 and 1539 have g = 5.
            let rows = if g == 0 { 1538 } else { 1539 };
            assert!(
                result.contains(&format!("| 97   | {rows} |")),
                "g={g}: {result}"
            );
        }
    }

    #[tokio::test]
    async fn a_shared_result_over_the_memory_limit_fails_cleanly() {
        let ctx = session(true, Some(64 * 1024)).await;
        let sql = "WITH s AS (SELECT DISTINCT v, k FROM t) SELECT count(*) FROM s a JOIN s b ON a.v = b.v";
        let error = ctx
            .sql(sql)
            .await
            .expect(sql)
            .collect()
            .await
            .expect_err("64 KiB cannot hold 20000 distinct rows");
        let message = error.to_string();
        assert!(
            message.contains("Resources exhausted") || message.contains("memory"),
            "{message}"
        );
    }
}
