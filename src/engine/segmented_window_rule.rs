//! Replaces DataFusion's window operators by [`SegmentedWindowExec`] where
//! every window expression is an aggregate it computes (count, sum, avg,
//! min, max, variance, standard deviation) over a frame it supports, and the
//! input is already sorted by the partition keys and the ORDER BY key.
//!
//! Why: DataFusion evaluates a window partition by partition through
//! ScalarValue-level frame searches, which costs microseconds per partition
//! and per row of a RANGE frame; with per-card or per-customer partitions of
//! tens of rows (fraud velocity, z-scores against a customer's history) the
//! operator dominates the query (PERFORMANCE.md: 7x DuckDB's time).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::common::{Result, ScalarValue};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{WindowFrame, WindowFrameBound, WindowFrameUnits};
use datafusion::physical_expr::PhysicalSortExpr;
use datafusion::physical_expr::window::{
    PlainAggregateWindowExpr, SlidingAggregateWindowExpr, WindowExpr,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::InputOrderMode;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use super::segmented_window::{Aggregate, Bound, FrameSpec, SegmentedWindowExec, WindowSpec};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SegmentedWindowRule;

impl PhysicalOptimizerRule for SegmentedWindowRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !super::options(config).segmented_windows {
            return Ok(plan);
        }
        super::replace_physical_nodes(plan, replacement)
    }

    fn name(&self) -> &str {
        "finsight_segmented_window"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn replacement(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let (exprs, input, sort_keys) =
        if let Some(bounded) = node.downcast_ref::<BoundedWindowAggExec>() {
            if bounded.input_order_mode != InputOrderMode::Sorted {
                return Ok(None);
            }
            (
                bounded.window_expr(),
                bounded.input(),
                bounded.partition_by_sort_keys()?,
            )
        } else if let Some(plain) = node.downcast_ref::<WindowAggExec>() {
            (
                plain.window_expr(),
                plain.input(),
                plain.partition_by_sort_keys()?,
            )
        } else {
            return Ok(None);
        };
    let Some(first) = exprs.first() else {
        return Ok(None);
    };
    // A window over the whole input is one partition that would be held in
    // memory at once; DataFusion's operators stream it.
    let partition_by = first.partition_by();
    if partition_by.is_empty() || sort_keys.len() != partition_by.len() {
        return Ok(None);
    }
    let order_by = first.order_by();
    let mut specs = Vec::with_capacity(exprs.len());
    for expr in exprs {
        if !same_exprs(expr.partition_by(), partition_by) || expr.order_by() != order_by {
            return Ok(None);
        }
        match spec(expr.as_ref(), order_by, &input.schema())? {
            Some(spec) => specs.push(spec),
            None => return Ok(None),
        }
    }
    let mut ordering: Vec<PhysicalSortExpr> = sort_keys;
    ordering.extend(order_by.iter().cloned());
    if !input.equivalence_properties().ordering_satisfy(ordering)? {
        return Ok(None);
    }
    Ok(Some(Arc::new(SegmentedWindowExec::new(
        node,
        partition_by.to_vec(),
        order_by.first().cloned(),
        specs,
    )?)))
}

fn same_exprs(
    a: &[Arc<dyn datafusion::physical_expr::PhysicalExpr>],
    b: &[Arc<dyn datafusion::physical_expr::PhysicalExpr>],
) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.eq(y))
}

/// The aggregate and frame of one window expression, if supported.
fn spec(
    expr: &dyn WindowExpr,
    order_by: &[PhysicalSortExpr],
    schema: &Schema,
) -> Result<Option<WindowSpec>> {
    let any = expr.as_any();
    let aggregate = if let Some(plain) = any.downcast_ref::<PlainAggregateWindowExpr>() {
        plain.get_aggregate_expr()
    } else if let Some(sliding) = any.downcast_ref::<SlidingAggregateWindowExpr>() {
        sliding.get_aggregate_expr()
    } else {
        return Ok(None);
    };
    // DataFusion keeps a FILTER clause private (its AggregateWindowExpr
    // trait is not exported); its Debug output shows it.
    let filter = !format!("{expr:?}").contains("filter: None");
    if filter || aggregate.is_distinct() || aggregate.ignore_nulls() || aggregate.is_reversed() {
        return Ok(None);
    }
    let args = aggregate.expressions();
    let [arg] = args.as_slice() else {
        return Ok(None);
    };
    let output = expr.field()?;
    let Some(kind) = Aggregate::from_name(aggregate.fun().name()) else {
        return Ok(None);
    };
    if !kind.supports(&arg.data_type(schema)?, output.data_type()) {
        return Ok(None);
    }
    let Some(frame) = frame_spec(expr.get_window_frame(), order_by, kind, schema)? else {
        return Ok(None);
    };
    Ok(Some(WindowSpec {
        aggregate: kind,
        argument: Arc::clone(arg),
        frame,
        output,
    }))
}

/// The frame as bounds on row positions (ROWS) or on the ORDER BY key
/// (RANGE), if supported: a start that never passes the end and moves
/// forward with the current row.
fn frame_spec(
    frame: &WindowFrame,
    order_by: &[PhysicalSortExpr],
    aggregate: Aggregate,
    schema: &Schema,
) -> Result<Option<FrameSpec>> {
    let units = frame.units;
    let key_type = match order_by.first() {
        Some(key) => Some(key.expr.data_type(schema)?),
        None => None,
    };
    // Without ORDER BY every row is a peer of every other: RANGE and GROUPS
    // frames bounded by CURRENT ROW are the whole partition.
    if order_by.is_empty() && units != WindowFrameUnits::Rows {
        return Ok(Some(FrameSpec::whole()));
    }
    if units == WindowFrameUnits::Groups {
        return Ok(None);
    }
    // A start may only precede (or be) the current row, an end only follow it.
    let bound = |value: &ScalarValue| match offset(units, value, key_type.as_ref()) {
        _ if value.is_null() => Some(Bound::Unbounded),
        Some(n) => Some(Bound::Offset(n)),
        None => None,
    };
    let start = match &frame.start_bound {
        WindowFrameBound::Preceding(v) => bound(v),
        WindowFrameBound::CurrentRow => Some(Bound::Offset(0)),
        WindowFrameBound::Following(_) => None,
    };
    let end = match &frame.end_bound {
        WindowFrameBound::Following(v) => bound(v),
        WindowFrameBound::CurrentRow => Some(Bound::Offset(0)),
        WindowFrameBound::Preceding(_) => None,
    };
    let (Some(start), Some(end)) = (start, end) else {
        return Ok(None);
    };
    // Variance is computed by adding rows only (no retraction).
    if aggregate.needs_growing_frame() && start != Bound::Unbounded {
        return Ok(None);
    }
    let range = units == WindowFrameUnits::Range;
    if range {
        let ([key], Some(key_type)) = (order_by, &key_type) else {
            // RANGE with offsets needs exactly one key; with only CURRENT ROW
            // and UNBOUNDED bounds several keys work, but keep it simple.
            return Ok(None);
        };
        // Offsets on a descending key run the other way; not handled here.
        if key.options.descending && (start != Bound::Unbounded || end != Bound::Unbounded) {
            return Ok(None);
        }
        if !matches!(
            key_type,
            DataType::Int64 | DataType::Int32 | DataType::Date32 | DataType::Timestamp(_, _)
        ) {
            return Ok(None);
        }
    }
    Ok(Some(FrameSpec {
        range,
        start,
        end,
        nulls_first: order_by.first().is_some_and(|k| k.options.nulls_first),
    }))
}

/// A frame offset in row counts (ROWS) or in the ORDER BY key's units
/// (RANGE: timestamp ticks, days of a date, or the integer itself).
fn offset(
    units: WindowFrameUnits,
    value: &ScalarValue,
    key_type: Option<&DataType>,
) -> Option<i64> {
    let integer = match value {
        ScalarValue::Int64(Some(n)) => Some(*n),
        ScalarValue::Int32(Some(n)) => Some(i64::from(*n)),
        ScalarValue::Int16(Some(n)) => Some(i64::from(*n)),
        ScalarValue::Int8(Some(n)) => Some(i64::from(*n)),
        ScalarValue::UInt64(Some(n)) => i64::try_from(*n).ok(),
        ScalarValue::UInt32(Some(n)) => Some(i64::from(*n)),
        ScalarValue::UInt16(Some(n)) => Some(i64::from(*n)),
        ScalarValue::UInt8(Some(n)) => Some(i64::from(*n)),
        _ => None,
    };
    // Fixed-length intervals in nanoseconds; months have no fixed length.
    let nanos: Option<i128> = match value {
        ScalarValue::IntervalMonthDayNano(Some(v)) if v.months == 0 => {
            Some(i128::from(v.days) * 86_400_000_000_000 + i128::from(v.nanoseconds))
        }
        ScalarValue::IntervalDayTime(Some(v)) => {
            Some(i128::from(v.days) * 86_400_000_000_000 + i128::from(v.milliseconds) * 1_000_000)
        }
        _ => None,
    };
    let offset = match (units, key_type) {
        (WindowFrameUnits::Rows, _) => integer,
        (_, Some(DataType::Int64 | DataType::Int32)) => integer,
        (_, Some(DataType::Date32)) => nanos
            .filter(|n| n % 86_400_000_000_000 == 0)
            .and_then(|n| i64::try_from(n / 86_400_000_000_000).ok()),
        // key >= current - offset with integer ticks: the offset rounds down.
        (_, Some(DataType::Timestamp(unit, _))) => {
            nanos.and_then(|n| i64::try_from(n.div_euclid(unit_nanos(*unit))).ok())
        }
        _ => None,
    };
    offset.filter(|n| *n >= 0)
}

fn unit_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

#[cfg(test)]
mod tests {
    //! SegmentedWindowExec against DataFusion's own window operators (the
    //! reference) on random data with NULL keys and arguments, tied keys,
    //! partitions that span batches, and every supported frame shape.

    use datafusion::arrow::array::{Array, AsArray, Float64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Float64Type};
    use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::SessionContext;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use crate::session::{SessionOptions, new_session};

    const QUERIES: &[&str] = &[
        // Fraud velocity: a time range per partition, every aggregate.
        "count(*) OVER w, count(v) OVER w, sum(v) OVER w, avg(v) OVER w, min(v) OVER w, max(v) OVER w, sum(i) OVER w \
         FROM t WINDOW w AS (PARTITION BY p ORDER BY ts RANGE BETWEEN INTERVAL '1 hour' PRECEDING AND CURRENT ROW)",
        "count(*) OVER w, sum(v) OVER w, min(i) OVER w \
         FROM t WINDOW w AS (PARTITION BY p ORDER BY ts NULLS FIRST RANGE BETWEEN INTERVAL '90 minutes' PRECEDING AND CURRENT ROW)",
        "count(*) OVER w, sum(v) OVER w, max(v) OVER w \
         FROM t WINDOW w AS (PARTITION BY p ORDER BY ts RANGE BETWEEN INTERVAL '30 minutes' PRECEDING AND INTERVAL '30 minutes' FOLLOWING)",
        "count(*) OVER w, sum(i) OVER w, min(i) OVER w, max(i) OVER w \
         FROM t WINDOW w AS (PARTITION BY p, q ORDER BY k RANGE BETWEEN 5 PRECEDING AND 2 FOLLOWING)",
        "count(*) OVER w, sum(v) OVER w \
         FROM t WINDOW w AS (PARTITION BY p ORDER BY d RANGE BETWEEN INTERVAL '2 days' PRECEDING AND CURRENT ROW)",
        "count(v) OVER w, sum(v) OVER w, avg(v) OVER w, min(v) OVER w \
         FROM t WINDOW w AS (PARTITION BY p ORDER BY ts, id ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING)",
        "sum(v) OVER w, count(*) OVER w, max(i) OVER w \
         FROM t WINDOW w AS (PARTITION BY p ORDER BY ts)",
        "sum(v) OVER w, min(v) OVER w \
         FROM t WINDOW w AS (PARTITION BY p ORDER BY ts, id ROWS UNBOUNDED PRECEDING)",
        // Z-scores: whole partitions.
        "avg(v) OVER w, stddev(v) OVER w, stddev_pop(v) OVER w, var_samp(v) OVER w, var_pop(v) OVER w, count(*) OVER w, min(v) OVER w \
         FROM t WINDOW w AS (PARTITION BY p)",
        "stddev(v) OVER w, sum(i) OVER w FROM t WINDOW w AS (PARTITION BY q ORDER BY k ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)",
    ];

    async fn session(segmented: bool) -> SessionContext {
        let ctx = new_session(&SessionOptions {
            target_partitions: Some(2),
            ..SessionOptions::default()
        })
        .await
        .expect("session");
        // Small batches: partitions and peer groups cross batch boundaries.
        for set in [
            "SET datafusion.execution.batch_size = 7".to_string(),
            format!("SET finsight.segmented_windows = {segmented}"),
            // Whole partitions stay windows here; whole_partition_windows
            // tests their rewrite to a join.
            "SET finsight.whole_partition_windows_as_join = false".to_string(),
        ] {
            ctx.sql(&set)
                .await
                .expect("set")
                .collect()
                .await
                .expect("set");
        }
        let mut rng = ChaCha8Rng::seed_from_u64(20261203);
        let mut rows = Vec::new();
        for id in 0..3000 {
            let p: i64 = rng.random_range(0..60);
            let q: i64 = rng.random_range(0..3);
            // Minutes on a coarse grid: many tied timestamps.
            let ts = match rng.random_range(0..40) {
                0 => "NULL".to_string(),
                _ => format!(
                    "TIMESTAMP '2025-01-01 00:00:00' + INTERVAL '{} minutes'",
                    rng.random_range(0..600) / 5 * 5
                ),
            };
            let d = format!(
                "DATE '2025-01-01' + INTERVAL '{} days'",
                rng.random_range(0..20)
            );
            let k = match rng.random_range(0..30) {
                0 => "NULL".to_string(),
                _ => rng.random_range(0..50).to_string(),
            };
            let v = match rng.random_range(0..10) {
                0 => "NULL".to_string(),
                _ => format!("{:.2}", rng.random_range(-500.0..5000.0)),
            };
            let i = match rng.random_range(0..12) {
                0 => "NULL".to_string(),
                _ => rng.random_range(-1000..1000).to_string(),
            };
            rows.push(format!(
                "({id}, {p}, {q}, {ts}, CAST({d} AS DATE), CAST({k} AS BIGINT), CAST({v} AS DOUBLE), CAST({i} AS BIGINT))"
            ));
        }
        let create = format!(
            "CREATE TABLE t AS SELECT * FROM (VALUES {}) AS v(id, p, q, ts, d, k, v, i)",
            rows.join(", ")
        );
        ctx.sql(&create)
            .await
            .expect("create")
            .collect()
            .await
            .expect("create");
        ctx
    }

    async fn run(ctx: &SessionContext, select: &str) -> (RecordBatch, String) {
        let sql = format!("SELECT id, {select} ORDER BY id");
        let frame = ctx.sql(&sql).await.expect(&sql);
        let plan = frame.clone().create_physical_plan().await.expect("plan");
        let text = displayable(plan.as_ref()).indent(false).to_string();
        let batches = frame.collect().await.expect(&sql);
        let batch = datafusion::arrow::compute::concat_batches(&batches[0].schema(), &batches)
            .expect("concat");
        (batch, text)
    }

    fn same(expected: &RecordBatch, actual: &RecordBatch, query: &str) {
        assert_eq!(expected.num_rows(), actual.num_rows(), "{query}");
        let options = FormatOptions::new().with_null("NULL");
        for (c, (e, a)) in expected.columns().iter().zip(actual.columns()).enumerate() {
            assert_eq!(e.data_type(), a.data_type(), "{query}: column {c}");
            if e.data_type() == &DataType::Float64 {
                let (e, a): (&Float64Array, &Float64Array) = (
                    e.as_primitive::<Float64Type>(),
                    a.as_primitive::<Float64Type>(),
                );
                for row in 0..e.len() {
                    assert_eq!(
                        e.is_null(row),
                        a.is_null(row),
                        "{query}: column {c} row {row}"
                    );
                    if e.is_valid(row) {
                        let (x, y) = (e.value(row), a.value(row));
                        assert!(
                            (x - y).abs() <= 1e-9 * x.abs().max(1.0),
                            "{query}: column {c} row {row}: {x} vs {y}"
                        );
                    }
                }
            } else {
                let (fe, fa) = (
                    ArrayFormatter::try_new(e.as_ref(), &options).expect("format"),
                    ArrayFormatter::try_new(a.as_ref(), &options).expect("format"),
                );
                for row in 0..e.len() {
                    assert_eq!(
                        fe.value(row).to_string(),
                        fa.value(row).to_string(),
                        "{query}: column {c} row {row}"
                    );
                }
            }
        }
    }

    #[tokio::test]
    async fn segmented_windows_match_datafusion() {
        let reference = session(false).await;
        let segmented = session(true).await;
        for query in QUERIES {
            let (expected, plan_off) = run(&reference, query).await;
            let (actual, plan_on) = run(&segmented, query).await;
            assert!(!plan_off.contains("SegmentedWindowExec"), "{plan_off}");
            assert!(
                plan_on.contains("SegmentedWindowExec"),
                "{query}:\n{plan_on}"
            );
            same(&expected, &actual, query);
        }
    }

    #[tokio::test]
    async fn unsupported_windows_stay_with_datafusion() {
        let ctx = session(true).await;
        for query in [
            // Ranking functions, DISTINCT, months, descending offsets, no PARTITION BY.
            "row_number() OVER (PARTITION BY p ORDER BY ts) FROM t",
            "count(DISTINCT i) OVER (PARTITION BY p) FROM t",
            "count(*) OVER (PARTITION BY p ORDER BY ts RANGE BETWEEN INTERVAL '1 month' PRECEDING AND CURRENT ROW) FROM t",
            "count(*) OVER (PARTITION BY p ORDER BY k DESC RANGE BETWEEN 3 PRECEDING AND CURRENT ROW) FROM t",
            "sum(v) OVER (ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
            "stddev(v) OVER (PARTITION BY p ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
        ] {
            let (_, plan) = run(&ctx, query).await;
            assert!(!plan.contains("SegmentedWindowExec"), "{query}:\n{plan}");
        }
    }
}
