//! Computes aggregate windows over whole partitions (`avg(amount) OVER
//! (PARTITION BY customer_id)`) as a grouped aggregate joined back to the
//! rows, instead of sorting every row by the partition keys.
//!
//! Why: a window needs its input sorted by the partition keys; at 56M
//! transactions that sort is the query (it spills under a 4 GB limit and
//! took 38 s of CPU in `amount_zscore`). A hash aggregate per customer and a
//! hash join back need no sort and hold only one row per partition.
//!
//! Applies when every window expression of a window node is an aggregate
//! function over whole partitions (no ORDER BY, so every row is a peer) with
//! the same PARTITION BY columns, and the window's input is a plain scan
//! (table scans, filters, projections, aliases) without volatile functions:
//! the input is read twice, which costs less than a sort only for a scan.
//! NULL partition keys form one partition, as in the window
//! (the join matches NULL to NULL).

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, NullEquality, Result};
use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
use datafusion::logical_expr::{
    Expr, JoinType, LogicalPlan, LogicalPlanBuilder, Window, WindowFrameBound, WindowFrameUnits,
    WindowFunctionDefinition,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use super::shared_subplan::is_volatile;

const ALIAS: &str = "__finsight_partition";

/// See the module documentation.
#[derive(Debug, Default)]
pub struct WholePartitionWindowsAsJoin;

impl OptimizerRule for WholePartitionWindowsAsJoin {
    fn name(&self) -> &str {
        "finsight_whole_partition_windows_as_join"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !super::options(&config.options()).whole_partition_windows_as_join {
            return Ok(Transformed::no(plan));
        }
        super::replace_logical_nodes(plan, |node| match node {
            LogicalPlan::Window(window) => rewritten(window),
            _ => Ok(None),
        })
    }
}

fn rewritten(window: &Window) -> Result<Option<LogicalPlan>> {
    let input = window.input.as_ref();
    if !is_plain_scan(input)? {
        return Ok(None);
    }
    let mut partition_by: Option<&Vec<Expr>> = None;
    let mut aggregates = Vec::with_capacity(window.window_expr.len());
    for (i, expr) in window.window_expr.iter().enumerate() {
        let Expr::WindowFunction(function) = expr else {
            return Ok(None);
        };
        let WindowFunction { fun, params } = function.as_ref();
        let WindowFunctionDefinition::AggregateUDF(udf) = fun else {
            return Ok(None);
        };
        // A RANGE frame without ORDER BY is planned with ORDER BY a
        // constant: still every row a peer.
        let unordered = params
            .order_by
            .iter()
            .all(|sort| matches!(sort.expr, Expr::Literal(..)));
        if !unordered
            || params.partition_by.is_empty()
            || !whole_partition(&params.window_frame)
            || params.filter.is_some()
            || partition_by.is_some_and(|p| p != &params.partition_by)
            || !params
                .partition_by
                .iter()
                .all(|e| matches!(e, Expr::Column(_)))
        {
            return Ok(None);
        }
        partition_by = Some(&params.partition_by);
        aggregates.push(
            Expr::AggregateFunction(AggregateFunction::new_udf(
                Arc::clone(udf),
                params.args.clone(),
                params.distinct,
                None,
                Vec::new(),
                params.null_treatment,
            ))
            .alias(format!("__w{i}")),
        );
    }
    let Some(partition_by) = partition_by else {
        return Ok(None);
    };
    let keys: Vec<Column> = partition_by
        .iter()
        .filter_map(|e| match e {
            Expr::Column(c) => Some(c.clone()),
            _ => None,
        })
        .collect();
    let per_partition = LogicalPlanBuilder::from(input.clone())
        .aggregate(partition_by.clone(), aggregates)?
        .alias(ALIAS)?
        .build()?;
    let alias_keys: Vec<Column> = keys
        .iter()
        .map(|c| Column::new(Some(ALIAS), c.name.clone()))
        .collect();
    // Rows on the probe side, one row per partition on the build side.
    let joined = LogicalPlanBuilder::from(per_partition).join_detailed(
        input.clone(),
        JoinType::Inner,
        (alias_keys, keys),
        None,
        NullEquality::NullEqualsNull,
    )?;
    let input_columns = input.schema().columns().into_iter().map(Expr::Column);
    let window_columns = (0..window.window_expr.len()).map(|i| {
        let (qualifier, field) = window
            .schema
            .qualified_field(input.schema().fields().len() + i);
        Expr::Column(Column::new(Some(ALIAS), format!("__w{i}")))
            .alias_qualified(qualifier.cloned(), field.name())
    });
    Ok(Some(
        joined
            .project(input_columns.chain(window_columns))?
            .build()?,
    ))
}

/// A frame that covers the partition when every row is a peer of every
/// other (no ORDER BY, or ORDER BY a constant).
fn whole_partition(frame: &datafusion::logical_expr::WindowFrame) -> bool {
    let unbounded_start =
        matches!(&frame.start_bound, WindowFrameBound::Preceding(v) if v.is_null());
    match &frame.end_bound {
        WindowFrameBound::Following(v) => unbounded_start && v.is_null(),
        WindowFrameBound::CurrentRow => unbounded_start && frame.units != WindowFrameUnits::Rows,
        WindowFrameBound::Preceding(_) => false,
    }
}

/// Scans, filters, projections and aliases only, and nothing volatile.
fn is_plain_scan(plan: &LogicalPlan) -> Result<bool> {
    let mut plain = true;
    plan.apply(|node| {
        // A scan with a fetch (LIMIT without ORDER BY) may read other
        // rows the second time.
        plain = match node {
            LogicalPlan::TableScan(scan) => scan.fetch.is_none(),
            _ => matches!(
                node,
                LogicalPlan::Filter(_) | LogicalPlan::Projection(_) | LogicalPlan::SubqueryAlias(_)
            ),
        };
        Ok(if plain {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    })?;
    Ok(plain && !is_volatile(plan)?)
}

#[cfg(test)]
mod tests {
    //! The rewrite against DataFusion's window operators (the rule off) on
    //! random rows with NULL partition keys and NULL arguments.

    use datafusion::prelude::SessionContext;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::engine::test_support::{exec, plan_text as plan};

    async fn session(on: bool) -> SessionContext {
        let ctx = crate::engine::test_support::session(&[format!(
            "SET finsight.whole_partition_windows_as_join = {on}"
        )])
        .await;
        let mut rng = ChaCha8Rng::seed_from_u64(20261203);
        let rows: Vec<String> = (0..2000)
            .map(|id| {
                let p = match rng.random_range(0..25) {
                    0 => "NULL".to_string(),
                    _ => rng.random_range(0..40).to_string(),
                };
                let q = rng.random_range(0..3);
                let v = match rng.random_range(0..8) {
                    0 => "NULL".to_string(),
                    // Two decimals: sums are exact enough for the rows to
                    // print the same whichever order they are added in.
                    _ => format!("{}", rng.random_range(-5000..50000) / 4),
                };
                format!("({id}, CAST({p} AS BIGINT), {q}, CAST({v} AS BIGINT))")
            })
            .collect();
        exec(
            &ctx,
            &format!(
                "CREATE TABLE t AS SELECT * FROM (VALUES {}) AS v(id, p, q, v)",
                rows.join(", ")
            ),
        )
        .await;
        ctx
    }

    #[tokio::test]
    async fn whole_partition_windows_match_datafusion() {
        let (on, off) = (session(true).await, session(false).await);
        for select in [
            "id, p, v, round((v - avg(v) OVER w) / nullif(stddev_samp(v) OVER w, 0), 9) AS z, \
             count(*) OVER w, count(v) OVER w, sum(v) OVER w, min(v) OVER w, max(v) OVER w \
             FROM t WINDOW w AS (PARTITION BY p)",
            "id, count(DISTINCT v) OVER (PARTITION BY p, q), max(id) OVER (PARTITION BY p, q) FROM t",
            "id, sum(v) OVER (PARTITION BY q RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t WHERE v > 100",
            "id, v - avg(v) OVER (PARTITION BY p) AS d FROM (SELECT id, p, v * 2 AS v FROM t WHERE q <> 1) AS s",
        ] {
            let sql = format!("SELECT {select} ORDER BY 1");
            assert_eq!(exec(&on, &sql).await, exec(&off, &sql).await, "{select}");
            let text = plan(&on, &sql).await;
            assert!(
                text.contains("HashJoinExec") && !text.contains("Window"),
                "{select}:\n{text}"
            );
        }
    }

    #[tokio::test]
    async fn other_windows_stay_windows() {
        let on = session(true).await;
        for select in [
            // Running frame, ranking, no PARTITION BY, an expression key,
            // two partitionings, a joined input, a volatile input, a LIMIT.
            "sum(v) OVER (PARTITION BY p ORDER BY id) FROM t",
            "sum(v) OVER (PARTITION BY p ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t",
            "row_number() OVER (PARTITION BY p) FROM t",
            "avg(v) OVER () FROM t",
            "avg(v) OVER (PARTITION BY p % 3) FROM t",
            "avg(v) OVER (PARTITION BY p), avg(v) OVER (PARTITION BY q) FROM t",
            "avg(a.v) OVER (PARTITION BY a.p) FROM t a JOIN t b ON a.id = b.id",
            "avg(r) OVER (PARTITION BY p) FROM (SELECT p, random() AS r FROM t) s",
            "avg(v) OVER (PARTITION BY p) FROM (SELECT * FROM t LIMIT 10) s",
        ] {
            let text = plan(&on, &format!("SELECT {select}")).await;
            assert!(text.contains("Window"), "{select}:\n{text}");
        }
    }
}
