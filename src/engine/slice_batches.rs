//! Large batches cut into `batch_size` slices before a round-robin
//! repartition.
//!
//! Why: a round-robin repartition spreads whole batches over the
//! partitions. An operator that emits its whole output as one batch (a
//! window over an unpartitioned ORDER BY emits every row at once) then
//! feeds a single partition, and everything after it runs on one thread:
//! RFM's final GROUP BY over 978k window rows at scale 10 ran on one core
//! while the other idled. Slices share the batch's buffers (no copy).

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::config::ConfigOptions;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use futures::StreamExt;

/// Puts a [`SliceBatchesExec`] under every round-robin repartition of a
/// single input partition.
#[derive(Debug, Default)]
pub struct SliceBeforeRoundRobin;

impl PhysicalOptimizerRule for SliceBeforeRoundRobin {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !super::options(config).slice_before_round_robin {
            return Ok(plan);
        }
        let rows = config.execution.batch_size.get();
        super::replace_physical_nodes(plan, |node| {
            let Some(repartition) = node.downcast_ref::<RepartitionExec>() else {
                return Ok(None);
            };
            let input = repartition.input();
            if !matches!(repartition.partitioning(), Partitioning::RoundRobinBatch(n) if *n > 1)
                || input.properties().output_partitioning().partition_count() != 1
                || input.downcast_ref::<SliceBatchesExec>().is_some()
            {
                return Ok(None);
            }
            let sliced: Arc<dyn ExecutionPlan> =
                Arc::new(SliceBatchesExec::new(Arc::clone(input), rows));
            Arc::clone(node)
                .replace_children(
                    vec![sliced],
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )
                .map(Some)
        })
    }

    fn name(&self) -> &str {
        "finsight_slice_before_round_robin"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Passes its input through with batches of more than `rows` rows cut into
/// slices of `rows`; order, partitioning and schema are the input's.
#[derive(Debug)]
pub struct SliceBatchesExec {
    input: Arc<dyn ExecutionPlan>,
    rows: usize,
}

impl SliceBatchesExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, rows: usize) -> Self {
        Self {
            input,
            rows: rows.max(1),
        }
    }
}

impl DisplayAs for SliceBatchesExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SliceBatchesExec: rows={}", self.rows)
    }
}

impl ExecutionPlan for SliceBatchesExec {
    fn name(&self) -> &str {
        "SliceBatchesExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
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

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Self::new(input, self.rows))),
            _ => internal_err!("SliceBatchesExec has one input"),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let schema = input.schema();
        let rows = self.rows;
        let sliced = input.flat_map(move |batch| {
            let slices: Vec<Result<_>> = match batch {
                Ok(batch) if batch.num_rows() > rows => (0..batch.num_rows())
                    .step_by(rows)
                    .map(|start| Ok(batch.slice(start, rows.min(batch.num_rows() - start))))
                    .collect(),
                other => vec![other],
            };
            futures::stream::iter(slices)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, sliced)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_plan::{ExecutionPlan, collect, collect_partitioned};
    use datafusion::prelude::SessionContext;

    use super::SliceBatchesExec;
    use crate::engine::test_support::{exec, plan_text, session};

    /// One 20,000-row batch from a global window, then a GROUP BY: the
    /// slices reach both partitions, and the results are the rule-off ones.
    #[tokio::test]
    async fn a_windows_single_batch_is_spread_over_both_partitions() {
        let query = "SELECT n % 7 AS k, count(*), sum(t) FROM (SELECT value AS v, \
                     ntile(4) OVER (ORDER BY value % 1000, value) AS n, \
                     sum(value) OVER (ORDER BY value ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS t \
                     FROM generate_series(1, 20000)) GROUP BY 1 ORDER BY 1";
        let on = session(&[]).await;
        let off = session(&["SET finsight.slice_before_round_robin = false".to_string()]).await;
        assert_eq!(exec(&on, query).await, exec(&off, query).await);
        let plan = plan_text(&on, query).await;
        assert!(plan.contains("SliceBatchesExec"), "{plan}");
        assert!(!plan_text(&off, query).await.contains("SliceBatchesExec"));
        // Each output partition of the round-robin repartition gets rows.
        let physical = on
            .sql(query)
            .await
            .expect("plan")
            .create_physical_plan()
            .await
            .expect("physical plan");
        let mut repartitions = Vec::new();
        physical
            .apply(|node| {
                if node
                    .children()
                    .first()
                    .is_some_and(|c| c.downcast_ref::<SliceBatchesExec>().is_some())
                {
                    repartitions.push(Arc::clone(node));
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .expect("walk");
        let [repartition] = repartitions.as_slice() else {
            panic!("one sliced repartition expected: {plan}");
        };
        let partitions = collect_partitioned(Arc::clone(repartition), on.task_ctx())
            .await
            .expect("run");
        let rows: Vec<usize> = partitions
            .iter()
            .map(|p| p.iter().map(RecordBatch::num_rows).sum())
            .collect();
        assert_eq!(rows.iter().sum::<usize>(), 20_000);
        assert!(
            rows.len() == 2 && rows.iter().all(|&r| r >= 8_192),
            "{rows:?}"
        );
    }

    #[tokio::test]
    async fn slices_keep_every_row_in_order() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
        let batch = |range: std::ops::Range<i64>| {
            let values: Int64Array = range.map(|v| (v % 5 != 0).then_some(v)).collect();
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(values)]).expect("batch")
        };
        let input = MemorySourceConfig::try_new_exec(
            &[vec![batch(0..2500), batch(2500..2600), batch(2600..2600)]],
            Arc::clone(&schema),
            None,
        )
        .expect("memory exec");
        let plan: Arc<dyn ExecutionPlan> = Arc::new(SliceBatchesExec::new(input, 1000));
        let out = collect(plan, SessionContext::new().task_ctx())
            .await
            .expect("run");
        let sizes: Vec<usize> = out.iter().map(RecordBatch::num_rows).collect();
        assert_eq!(sizes, vec![1000, 1000, 500, 100, 0]);
        let values: Vec<Option<i64>> = out
            .iter()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<Int64Array>().cloned();
                column
                    .into_iter()
                    .flat_map(|c| c.iter().collect::<Vec<_>>())
            })
            .collect();
        let expected: Vec<Option<i64>> = (0..2600).map(|v| (v % 5 != 0).then_some(v)).collect();
        assert_eq!(values, expected);
    }
}
