//! Groups by a CASE expression whose branches are all string constants
//! (`CASE WHEN z >= 4 THEN '4+' WHEN ... ELSE '<2' END`, the bands and
//! segments of every bank report) through a small integer code per distinct
//! constant, and turns the codes back into the strings after aggregating.
//!
//! Why: the hash aggregate hashes and compares the string of every row
//! (56M transactions into five z-score bands spent 1.95 s of 3.4 s in
//! group-id calculation at scale 10); an integer key is hashed in a few
//! nanoseconds, and only one string per group is made at the end.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::logical_expr::expr::Case;
use datafusion::logical_expr::{
    Aggregate, Expr, LogicalPlan, LogicalPlanBuilder, Projection, SubqueryAlias, lit,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct GroupCaseByCode;

impl OptimizerRule for GroupCaseByCode {
    fn name(&self) -> &str {
        "finsight_group_case_by_code"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !super::options(&config.options()).group_case_by_code {
            return Ok(Transformed::no(plan));
        }
        super::replace_logical_nodes(plan, |node| match node {
            LogicalPlan::Aggregate(aggregate) => rewritten(aggregate),
            _ => Ok(None),
        })
    }
}

fn rewritten(aggregate: &Aggregate) -> Result<Option<LogicalPlan>> {
    if aggregate
        .group_expr
        .iter()
        .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Ok(None);
    }
    let mut groups = Vec::with_capacity(aggregate.group_expr.len());
    let mut decoders: Vec<Option<Vec<ScalarValue>>> = Vec::with_capacity(groups.capacity());
    // A key that is a CASE column of the projection below (`SELECT CASE
    // ... END AS band ... GROUP BY band`) is coded in that projection, when
    // nothing but the grouping reads it.
    let mut input = aggregate.input.as_ref().clone();
    for (i, group) in aggregate.group_expr.iter().enumerate() {
        if let Some((coded, values)) = direct_case(group).and_then(encoded) {
            groups.push(Expr::Case(coded).alias(format!("__finsight_code{i}")));
            decoders.push(Some(values));
            continue;
        }
        if let Expr::Column(column) = group
            && let Some((projection, values)) = coded_projection(&input, column, aggregate)?
        {
            input = projection;
            decoders.push(Some(values));
        } else {
            decoders.push(None);
        }
        groups.push(group.clone());
    }
    if decoders.iter().all(Option::is_none) {
        return Ok(None);
    }
    let coded = Aggregate::try_new(Arc::new(input), groups, aggregate.aggr_expr.clone())?;
    let exprs: Vec<Expr> = aggregate
        .schema
        .iter()
        .enumerate()
        .map(|(j, (qualifier, field))| {
            let column = Expr::Column(Column::from(coded.schema.qualified_field(j)));
            match decoders.get(j) {
                Some(Some(values)) => Expr::Case(Case::new(
                    Some(Box::new(column)),
                    values
                        .iter()
                        .enumerate()
                        .map(|(code, value)| {
                            (Box::new(lit(code as i32)), Box::new(lit(value.clone())))
                        })
                        .collect(),
                    None,
                ))
                .alias_qualified(qualifier.cloned(), field.name()),
                _ => column,
            }
        })
        .collect();
    Ok(Some(
        LogicalPlanBuilder::from(LogicalPlan::Aggregate(coded))
            .project(exprs)?
            .build()?,
    ))
}

fn direct_case(expr: &Expr) -> Option<&Case> {
    match expr {
        Expr::Case(case) => Some(case),
        Expr::Alias(alias) => match alias.expr.as_ref() {
            Expr::Case(case) => Some(case),
            _ => None,
        },
        _ => None,
    }
}

/// `input` with the CASE that defines `column` coded, if `input` is a
/// projection (or an aliased one), `column` is one of its CASE columns, and
/// no aggregate argument or other key reads the column.
fn coded_projection(
    input: &LogicalPlan,
    column: &Column,
    aggregate: &Aggregate,
) -> Result<Option<(LogicalPlan, Vec<ScalarValue>)>> {
    let Ok(index) = input.schema().index_of_column(column) else {
        return Ok(None);
    };
    // The projection, directly or under a subquery alias.
    let (projection, subquery_alias) = match input {
        LogicalPlan::Projection(projection) => (projection, None),
        LogicalPlan::SubqueryAlias(subquery) => match subquery.input.as_ref() {
            LogicalPlan::Projection(projection) => (projection, Some(&subquery.alias)),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    let read_elsewhere = aggregate
        .aggr_expr
        .iter()
        .chain(
            aggregate
                .group_expr
                .iter()
                .filter(|g| !matches!(g, Expr::Column(c) if c == column)),
        )
        .any(|e| e.column_refs().contains(column));
    if read_elsewhere {
        return Ok(None);
    }
    let Some(Expr::Alias(alias)) = projection.expr.get(index) else {
        return Ok(None);
    };
    let Expr::Case(case) = alias.expr.as_ref() else {
        return Ok(None);
    };
    let Some((coded, values)) = encoded(case) else {
        return Ok(None);
    };
    let mut exprs = projection.expr.clone();
    exprs[index] = Expr::Case(coded).alias_qualified(alias.relation.clone(), alias.name.clone());
    let mut plan =
        LogicalPlan::Projection(Projection::try_new(exprs, Arc::clone(&projection.input))?);
    if let Some(subquery_alias) = subquery_alias {
        plan = LogicalPlan::SubqueryAlias(SubqueryAlias::try_new(
            Arc::new(plan),
            subquery_alias.clone(),
        )?);
    }
    Ok(Some((plan, values)))
}

/// The CASE with each string constant replaced by its code (NULL stays
/// NULL), and the constants in code order; None unless every branch is a
/// string constant of one type.
fn encoded(case: &Case) -> Option<(Case, Vec<ScalarValue>)> {
    let mut values: Vec<ScalarValue> = Vec::new();
    let mut code = |expr: &Expr| -> Option<Expr> {
        let Expr::Literal(value, _) = expr else {
            return None;
        };
        if !matches!(
            value,
            ScalarValue::Utf8(_) | ScalarValue::LargeUtf8(_) | ScalarValue::Utf8View(_)
        ) || values
            .first()
            .is_some_and(|v| v.data_type() != value.data_type())
        {
            return None;
        }
        if value.is_null() {
            return Some(lit(ScalarValue::Int32(None)));
        }
        let index = match values.iter().position(|v| v == value) {
            Some(index) => index,
            None => {
                values.push(value.clone());
                values.len() - 1
            }
        };
        Some(lit(index as i32))
    };
    let mut when_then = Vec::with_capacity(case.when_then_expr.len());
    for (when, then) in &case.when_then_expr {
        when_then.push((when.clone(), Box::new(code(then)?)));
    }
    let else_expr = match &case.else_expr {
        Some(e) => Some(Box::new(code(e)?)),
        None => None,
    };
    (!values.is_empty()).then(|| (Case::new(case.expr.clone(), when_then, else_expr), values))
}

#[cfg(test)]
mod tests {
    //! Each query with the rule on and off (DataFusion's own grouping on
    //! the strings is the reference).

    use datafusion::prelude::SessionContext;

    use crate::engine::test_support::{exec, plan_text};

    async fn session(on: bool) -> SessionContext {
        let ctx = crate::engine::test_support::session(&[format!(
            "SET finsight.group_case_by_code = {on}"
        )])
        .await;
        exec(
            &ctx,
            "CREATE TABLE t AS SELECT value AS id, \
               CASE WHEN value % 11 = 0 THEN NULL ELSE (value * 37) % 101 - 50 END AS z, \
               value % 3 AS k, value % 7 = 0 AS flag \
             FROM generate_series(1, 5000) AS g(value)",
        )
        .await;
        ctx
    }

    #[tokio::test]
    async fn case_groups_by_code_match_string_groups() {
        let (on, off) = (session(true).await, session(false).await);
        for (sql, coded) in [
            (
                "SELECT CASE WHEN z IS NULL THEN 'none' WHEN abs(z) >= 40 THEN '40+' \
                   WHEN abs(z) >= 20 THEN '20-40' ELSE '<20' END AS band, \
                   count(*) AS n, sum(CASE WHEN flag THEN 1 ELSE 0 END) AS flagged \
                 FROM t GROUP BY 1 ORDER BY 1",
                true,
            ),
            // The same constant twice, no ELSE (NULL group), a second key.
            (
                "SELECT k, CASE WHEN z > 30 THEN 'high' WHEN z < -30 THEN 'high' WHEN z > 0 THEN 'mid' END AS b, \
                   count(*), min(id), max(z) FROM t GROUP BY k, b ORDER BY k, b NULLS FIRST",
                true,
            ),
            // CASE x WHEN, HAVING and ORDER BY on the key, NULL branch.
            (
                "SELECT CASE k WHEN 0 THEN 'zero' WHEN 1 THEN NULL ELSE 'two' END AS c, count(*) AS n \
                 FROM t GROUP BY 1 HAVING count(*) > 10 ORDER BY c DESC NULLS LAST",
                true,
            ),
            (
                "SELECT b, count(DISTINCT k) FROM (SELECT CASE WHEN flag THEN 'yes' ELSE 'no' END AS b, k FROM t) s \
                 GROUP BY b ORDER BY b",
                true,
            ),
            // Not constants, or not strings: left alone.
            (
                "SELECT CASE WHEN flag THEN 'yes' ELSE CAST(k AS VARCHAR) END AS b, count(*) FROM t GROUP BY 1 ORDER BY 1",
                false,
            ),
            (
                "SELECT CASE WHEN flag THEN 1 ELSE 2 END AS b, count(*) FROM t GROUP BY 1 ORDER BY 1",
                false,
            ),
            (
                "SELECT CASE WHEN flag THEN 'yes' ELSE 'no' END AS b, k, count(*) FROM t \
                 GROUP BY ROLLUP (CASE WHEN flag THEN 'yes' ELSE 'no' END, k) ORDER BY 1, 2",
                false,
            ),
        ] {
            assert_eq!(exec(&on, sql).await, exec(&off, sql).await, "{sql}");
            let text = plan_text(&on, sql).await;
            // A coded CASE yields 0 for its first constant.
            assert_eq!(text.contains("THEN 0"), coded, "{sql}:\n{text}");
        }
    }
}
