//! Planning that finsight adds to DataFusion's: logical and physical rules
//! that rewrite plans, or replace operators with faster ones, for the shapes
//! bank workloads are made of.
//! Each rule keeps the query's results; `SET finsight.<option> = false`
//! turns it off (the tests compare both ways).

use std::sync::Arc;

use datafusion::common::config::ConfigExtension;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, extensions_options};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

mod before_join;
mod case_group_codes;
pub mod date_trunc;
mod distinct_with_counts;
mod group_codes;
mod normalized_sort;
mod parquet_scan;
mod proven_filters;
mod run_aggregate;
mod run_kernels;
pub mod segmented_window;
mod segmented_window_rule;
pub mod shared_subplan;
mod slice_batches;
mod whole_partition_windows;

pub use before_join::EvaluateBeforeJoin;
pub use case_group_codes::GroupCaseByCode;
pub use distinct_with_counts::DistinctWithCounts;
pub use normalized_sort::{NormalizedKeySortExec, NormalizedKeySortRule};
pub use parquet_scan::ParquetScanRule;
pub use proven_filters::DropProvenFilters;
pub use run_aggregate::{Modes, RunPartialAggregateExec, RunPartialAggregateRule};
pub use segmented_window::SegmentedWindowExec;
pub use segmented_window_rule::SegmentedWindowRule;
pub use shared_subplan::{FinsightQueryPlanner, ShareRepeatedSubplans};
pub use slice_batches::{SliceBatchesExec, SliceBeforeRoundRobin};
pub use whole_partition_windows::WholePartitionWindowsAsJoin;

extensions_options! {
    /// finsight's engine options (`SET finsight.segmented_windows = false`).
    pub struct EngineOptions {
        /// Run aggregate window functions over sorted partitions with
        /// SegmentedWindowExec instead of DataFusion's window operators.
        pub segmented_windows: bool, default = true
        /// Compute a subplan used more than once in a query (a CTE
        /// referenced twice) once, instead of once per reference.
        pub share_repeated_subplans: bool, default = true
        /// Drop filter conjuncts that the input's exact statistics (Parquet
        /// min/max and null counts) prove true for every row.
        pub drop_proven_filters: bool, default = true
        /// Compute aggregate windows over whole partitions as a grouped
        /// aggregate joined back to the rows (no sort).
        pub whole_partition_windows_as_join: bool, default = true
        /// Group by a CASE of string constants through an integer code per
        /// constant, and make the strings once per group.
        pub group_case_by_code: bool, default = true
        /// Compute the partial stage of a grouped aggregation over runs of
        /// equal keys when the input arrives clustered by them.
        pub run_partial_aggregation: bool, default = true
        /// Compute the partial stage of a grouped aggregation whose keys
        /// take few values (segment, region, category) through per-column
        /// value codes instead of hashing every row's keys.
        pub low_cardinality_grouping: bool, default = true
        /// Compute the partial stage of a grouped aggregation whose input is
        /// neither clustered nor few-valued in a hash table of bounded size,
        /// emptied when full, while that reduces the rows.
        pub bounded_partial_aggregation: bool, default = true
        /// Rewrite count and avg next to one DISTINCT argument as sums, so
        /// that DataFusion groups by the distinct argument first instead of
        /// keeping a hash set per group.
        pub distinct_with_counts: bool, default = true
        /// Compute expressions over one input of an inner join before the
        /// join instead of once per joined row.
        pub evaluate_before_join: bool, default = true
        /// Sort on fixed-width keys by normalized keys packed into machine
        /// words instead of DataFusion's column-by-column comparisons.
        pub normalized_key_sort: bool, default = true
        /// Read a Parquet row group's column chunks in the background while
        /// the previous row group is decoded.
        pub prefetch_row_groups: bool, default = true
        /// Cut Parquet file ranges into pieces of about an eighth of a
        /// partition's share, so partitions that share a scan finish
        /// together.
        pub scan_morsels: bool, default = true
        /// Cut batches larger than `batch_size` into slices before a
        /// round-robin repartition, so one big batch feeds every partition.
        pub slice_before_round_robin: bool, default = true
    }
}

impl ConfigExtension for EngineOptions {
    const PREFIX: &'static str = "finsight";
}

/// Every session's physical optimizer rules: DataFusion's, with
/// [`DropProvenFilters`] first (before filters are pushed into scans) and
/// [`SegmentedWindowRule`], [`RunPartialAggregateRule`] and
/// [`NormalizedKeySortRule`] (so the others see DataFusion's sorts) and
/// [`SliceBeforeRoundRobin`] once sorts, partitioning and aggregation modes
/// are final, before the sanity check; [`ParquetScanRule`] last (it changes
/// only how scans read, and needs the object stores of `runtime`).
pub fn physical_optimizer_rules(
    runtime: &Arc<RuntimeEnv>,
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> =
        vec![Arc::new(DropProvenFilters)];
    rules.extend(datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules);
    // Before DataFusion's sanity check, so it verifies the plans this rule
    // makes too.
    let last = rules
        .iter()
        .position(|rule| rule.name() == "SanityCheckPlan")
        .unwrap_or(rules.len());
    rules.insert(last, Arc::new(SegmentedWindowRule));
    rules.insert(last + 1, Arc::new(RunPartialAggregateRule));
    rules.insert(last + 2, Arc::new(NormalizedKeySortRule));
    rules.insert(last + 3, Arc::new(SliceBeforeRoundRobin));
    rules.push(Arc::new(ParquetScanRule::new(Arc::clone(runtime))));
    rules
}

/// The logical rules every session gets, run after DataFusion's own.
pub fn optimizer_rules() -> Vec<Arc<dyn datafusion::optimizer::OptimizerRule + Send + Sync>> {
    vec![
        Arc::new(WholePartitionWindowsAsJoin),
        Arc::new(EvaluateBeforeJoin),
        Arc::new(DistinctWithCounts),
        Arc::new(GroupCaseByCode),
        Arc::new(ShareRepeatedSubplans),
    ]
}

/// The options in `config`, or their defaults when the extension is absent.
fn options(config: &datafusion::config::ConfigOptions) -> EngineOptions {
    config
        .extensions
        .get::<EngineOptions>()
        .cloned()
        .unwrap_or_default()
}

/// `plan` with `replacement` applied bottom-up to each node (None keeps it).
fn replace_physical_nodes(
    plan: Arc<dyn ExecutionPlan>,
    replacement: impl Fn(&Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>>,
) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        Ok(match replacement(&node)? {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(node),
        })
    })
    .map(|t| t.data)
}

/// `plan` with `replacement` applied bottom-up to each node (None keeps it).
fn replace_logical_nodes(
    plan: LogicalPlan,
    replacement: impl Fn(&LogicalPlan) -> Result<Option<LogicalPlan>>,
) -> Result<Transformed<LogicalPlan>> {
    plan.transform_up(|node| {
        Ok(match replacement(&node)? {
            Some(new) => Transformed::yes(new),
            None => Transformed::no(node),
        })
    })
}

#[cfg(test)]
mod test_support {
    //! What the engine tests share: a session from the session factory
    //! with settings, results as text, physical plans as text.

    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;

    use crate::session::{SessionOptions, new_session};

    /// The results of `sql`, pretty-printed.
    pub async fn exec(ctx: &SessionContext, sql: &str) -> String {
        let batches = ctx.sql(sql).await.expect(sql).collect().await.expect(sql);
        pretty_format_batches(&batches).expect("format").to_string()
    }

    /// The physical plan of `sql`, indented.
    pub async fn plan_text(ctx: &SessionContext, sql: &str) -> String {
        let plan = ctx
            .sql(sql)
            .await
            .expect(sql)
            .create_physical_plan()
            .await
            .expect(sql);
        displayable(plan.as_ref()).indent(false).to_string()
    }

    /// A two-partition session with each `SET` statement applied.
    pub async fn session(settings: &[String]) -> SessionContext {
        let ctx = new_session(&SessionOptions {
            target_partitions: Some(2),
            ..SessionOptions::default()
        })
        .await
        .expect("session");
        for set in settings {
            exec(&ctx, set).await;
        }
        ctx
    }
}
