//! Lets one `DISTINCT` argument be grouped on when the same aggregation
//! also counts or averages: `count(*)`, `count(x)` and `avg(x)` become
//! sums (of 1, of `x IS NOT NULL`, and of `x` over that count) next to
//! the `sum`, `min` and `max` DataFusion already accepts, so DataFusion's
//! `single_distinct_aggregation_to_group_by` then groups by the keys and
//! the distinct argument first and aggregates again by the keys.
//!
//! Why: without it, `count(DISTINCT customer_id)` beside `count(*)` and
//! `avg(amount)` (transactions, customers and average spend per region and
//! age band) keeps a hash set of customers per group, filled row by row:
//! 1.2 s of CPU over 56M transactions at scale 10. Grouped by customer
//! first, the rows arrive in runs of one customer (the run aggregate) and
//! the second stage sees one row per customer.
//!
//! Only with GROUP BY keys: every group then has a row, so the sum of 1 or
//! of `x IS NOT NULL` is never NULL and equals the count. Averages of
//! integers and floats only (DataFusion averages both as Float64); an
//! average is the sum of the values as Float64 over the count, NULL when
//! there are no values, as `avg` gives. Sums are added in a different
//! order, as with any change of partitioning.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, Result};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::expr_fn::{cast, when};
use datafusion::logical_expr::{
    Aggregate, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, lit,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct DistinctWithCounts;

impl OptimizerRule for DistinctWithCounts {
    fn name(&self) -> &str {
        "finsight_distinct_with_counts"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !super::options(&config.options()).distinct_with_counts {
            return Ok(Transformed::no(plan));
        }
        super::replace_logical_nodes(plan, |node| match node {
            LogicalPlan::Aggregate(aggregate) => rewritten(aggregate),
            _ => Ok(None),
        })
    }
}

/// An aggregate of the rewritten aggregation and its output index.
struct Slot {
    expr: Expr,
    index: usize,
}

/// What an aggregate becomes.
enum Replacement {
    /// Kept (DISTINCT aggregates, sum, min, max).
    Kept([Slot; 1]),
    /// `count`: the sum of non-NULL flags.
    Count([Slot; 1]),
    /// `avg`: the sums of values and of non-NULL flags.
    Average([Slot; 2]),
}

impl Replacement {
    fn sums_mut(&mut self) -> &mut [Slot] {
        match self {
            Self::Kept(slots) | Self::Count(slots) => slots,
            Self::Average(slots) => slots,
        }
    }
}

/// The index of `expr` in `aggregates`, added unless already there.
/// Without aliases (DataFusion's rule takes bare aggregate functions), two
/// different expressions with one name (names leave casts out) cannot
/// both be there: None.
fn add(aggregates: &mut Vec<Expr>, expr: Expr) -> Option<usize> {
    let name = expr.schema_name().to_string();
    match aggregates
        .iter()
        .position(|e| e.schema_name().to_string() == name)
    {
        Some(index) => (aggregates[index] == expr).then_some(index),
        None => {
            aggregates.push(expr);
            Some(aggregates.len() - 1)
        }
    }
}

fn rewritten(aggregate: &Aggregate) -> Result<Option<LogicalPlan>> {
    if aggregate.group_expr.is_empty()
        || aggregate
            .group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Ok(None);
    }
    let input_schema = aggregate.input.schema();
    let mut distinct_arguments = Vec::new();
    let mut counts_or_averages = 0;
    for expr in &aggregate.aggr_expr {
        let Some(function) = aggregate_function(expr) else {
            return Ok(None);
        };
        let params = &function.params;
        if params.filter.is_some() || !params.order_by.is_empty() {
            return Ok(None);
        }
        if params.distinct {
            if !distinct_arguments.contains(&params.args) {
                distinct_arguments.push(params.args.clone());
            }
            continue;
        }
        match (function.func.name(), params.args.as_slice()) {
            ("sum" | "min" | "max", _) => {}
            ("count", [_]) => counts_or_averages += 1,
            ("avg", [argument]) => {
                let data_type = argument.get_type(input_schema)?;
                if !(data_type.is_integer() || data_type.is_floating()) {
                    return Ok(None);
                }
                counts_or_averages += 1;
            }
            _ => return Ok(None),
        }
    }
    // DataFusion's rule takes one DISTINCT argument; without counts or
    // averages it needs no help.
    if distinct_arguments.len() != 1 || distinct_arguments[0].len() != 1 || counts_or_averages == 0
    {
        return Ok(None);
    }

    // Without aliases (DataFusion's rule takes bare aggregate functions),
    // and without expressions the simplifier would rewrite (it would alias
    // them to keep their names): an equal sum is used once.
    let mut aggregates: Vec<Expr> = Vec::new();
    let mut replacements = Vec::new();
    for expr in &aggregate.aggr_expr {
        let Some(function) = aggregate_function(expr) else {
            return Ok(None);
        };
        let params = &function.params;
        let mut replacement = match (function.func.name(), params.args.as_slice()) {
            ("count", [argument]) if !params.distinct => {
                Replacement::Count([slot(sum(present(argument, input_schema)?))])
            }
            ("avg", [argument]) if !params.distinct => {
                let value = match argument.get_type(input_schema)? {
                    DataType::Float64 => argument.clone(),
                    _ => cast(argument.clone(), DataType::Float64),
                };
                Replacement::Average([
                    slot(sum(value)),
                    slot(sum(present(argument, input_schema)?)),
                ])
            }
            _ => Replacement::Kept([slot(expr.clone())]),
        };
        for slot in replacement.sums_mut() {
            let Some(index) = add(&mut aggregates, slot.expr.clone()) else {
                return Ok(None);
            };
            slot.index = index;
        }
        replacements.push(replacement);
    }
    let groups = aggregate.group_expr.len();
    let summed = Aggregate::try_new(
        Arc::clone(&aggregate.input),
        aggregate.group_expr.clone(),
        aggregates,
    )?;
    let output = |index: usize| Expr::Column(Column::from(summed.schema.qualified_field(index)));
    let mut exprs: Vec<Expr> = (0..groups).map(output).collect();
    for (i, replacement) in replacements.iter().enumerate() {
        let (qualifier, field) = aggregate.schema.qualified_field(groups + i);
        let expr = match replacement {
            Replacement::Kept([kept]) => output(groups + kept.index),
            // Never NULL (a group has rows); coalesce says so to the schema.
            Replacement::Count([count]) => datafusion::functions::expr_fn::coalesce(vec![
                output(groups + count.index),
                lit(0i64),
            ]),
            Replacement::Average([sum, count]) => {
                output(groups + sum.index) / cast(output(groups + count.index), DataType::Float64)
            }
        };
        exprs.push(expr.alias_qualified(qualifier.cloned(), field.name()));
    }
    Ok(Some(
        LogicalPlanBuilder::from(LogicalPlan::Aggregate(summed))
            .project(exprs)?
            .build()?,
    ))
}

fn aggregate_function(expr: &Expr) -> Option<&AggregateFunction> {
    match expr {
        Expr::AggregateFunction(function) => Some(function),
        Expr::Alias(alias) => aggregate_function(&alias.expr),
        _ => None,
    }
}

fn sum(argument: Expr) -> Expr {
    Expr::AggregateFunction(AggregateFunction::new_udf(
        sum_udaf(),
        vec![argument],
        false,
        None,
        vec![],
        None,
    ))
}

/// 1 where `argument` is not NULL, else 0 (1 for `count(*)`'s literal
/// and for columns that cannot be NULL). A cast keeps NULLs and values
/// apart (or fails), so `avg(CAST(x AS DOUBLE))` counts `x IS NOT NULL`,
/// the same flag as `count(x)`.
fn present(argument: &Expr, schema: &DFSchema) -> Result<Expr> {
    let mut argument = argument;
    while let Expr::Cast(inner) = argument {
        argument = &inner.expr;
    }
    if !argument.nullable(schema)? {
        return Ok(lit(1i64));
    }
    when(argument.clone().is_null(), lit(0i64)).otherwise(lit(1i64))
}

fn slot(expr: Expr) -> Slot {
    Slot { expr, index: 0 }
}

#[cfg(test)]
mod tests {
    //! The rule against DataFusion's plan (the rule off) on rows with NULL
    //! keys, arguments and DISTINCT values, and the shapes it leaves alone.

    use datafusion::prelude::SessionContext;

    use crate::engine::test_support::{exec, plan_text as plan, session as engine_session};

    async fn session(on: bool) -> SessionContext {
        let ctx = engine_session(&[format!("SET finsight.distinct_with_counts = {on}")]).await;
        exec(
            &ctx,
            "CREATE TABLE spend AS SELECT \
               CASE WHEN i % 13 = 0 THEN NULL ELSE i % 4 END AS region, \
               CASE WHEN i % 7 = 0 THEN NULL ELSE i % 301 END AS customer, \
               CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 37) % 1000 END AS cents, \
               CAST((i * 37) % 1000 AS DOUBLE) / 8 AS amount, \
               CAST(i % 9 AS DECIMAL(10, 2)) AS fee \
             FROM generate_series(1, 20000) AS t(i)",
        )
        .await;
        exec(
            &ctx,
            "CREATE TABLE empty AS SELECT * FROM spend WHERE false",
        )
        .await;
        ctx
    }

    #[tokio::test]
    async fn counts_and_averages_beside_distinct_match_datafusion() {
        let (on, off) = (session(true).await, session(false).await);
        for sql in [
            "SELECT region, count(*), count(DISTINCT customer), sum(amount), \
             round(avg(amount), 9) FROM spend GROUP BY region",
            "SELECT region, count(cents), round(avg(cents), 9), count(DISTINCT customer), \
             min(cents), max(amount) FROM spend GROUP BY region",
            "SELECT region, sum(DISTINCT cents), count(DISTINCT cents), count(*) \
             FROM spend GROUP BY region",
            "SELECT region, count(*), count(DISTINCT customer) FROM empty GROUP BY region",
        ] {
            let sql = format!("{sql} ORDER BY 1");
            assert_eq!(exec(&on, &sql).await, exec(&off, &sql).await, "{sql}");
            // DataFusion's rule names the distinct argument `alias1`.
            let text = plan(&on, &sql).await;
            assert!(text.contains("as alias1"), "{sql}\n{text}");
            let before = plan(&off, &sql).await;
            assert!(!before.contains("as alias1"), "{sql}\n{before}");
        }
    }

    #[tokio::test]
    async fn other_shapes_are_left_alone() {
        let (on, off) = (session(true).await, session(false).await);
        for sql in [
            // No GROUP BY: count over no rows is 0, a sum would be NULL.
            "SELECT count(*), count(DISTINCT customer) FROM empty",
            // Two DISTINCT arguments.
            "SELECT region, count(*), count(DISTINCT customer), count(DISTINCT cents) \
             FROM spend GROUP BY region",
            // A decimal average keeps its decimal type.
            "SELECT region, avg(fee), count(DISTINCT customer) FROM spend GROUP BY region",
            "SELECT region, count(*) FILTER (WHERE cents > 10), count(DISTINCT customer) \
             FROM spend GROUP BY region",
        ] {
            assert_eq!(plan(&on, sql).await, plan(&off, sql).await, "{sql}");
            let sql = format!("{sql} ORDER BY 1");
            assert_eq!(exec(&on, &sql).await, exec(&off, &sql).await, "{sql}");
        }
    }
}
