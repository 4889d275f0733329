//! Unqualified `USING` columns as the SQL standard defines them (and
//! PostgreSQL and DuckDB implement them): `a JOIN b USING (k)` has one
//! column `k`, which is `a.k` for an inner or left join, `b.k` for a right
//! join and `COALESCE(a.k, b.k)` for a full join, wherever the query names it
//! unqualified: select list, WHERE, GROUP BY, HAVING, QUALIFY, windows and
//! ORDER BY. `SELECT *` lists the merged columns once, first, then the
//! other columns of each side.
//!
//! Stock DataFusion 55 resolves an unqualified USING column in the select
//! list (to the left side, whatever the join type) but calls it ambiguous in
//! WHERE: `plan_selection` (datafusion-sql `select.rs`) passes the filter's
//! own columns as the USING sets to `normalize_col_with_schemas_and_ambiguity_check`
//! instead of `plan.using_columns()`. Qualifying the names here fixes every
//! clause at once, and the FULL/RIGHT cases that DataFusion gets wrong
//! silently. Only the query's own clauses are rewritten, not its
//! subqueries, where an unqualified name may belong to an inner table.

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;

use datafusion::common::Result;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, GroupByExpr, Ident, JoinConstraint, JoinOperator, ObjectNamePart, OrderByKind, Query,
    Select, SelectItem, SetExpr, Statement, TableFactor, TableWithJoins, VisitMut, VisitorMut,
    With,
};

use super::{columns_of, with_prefix};

/// A recursive async rewrite (queries nest).
type Rewrite<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Rewrites the USING columns of every query reachable from `statement`
/// through set operations, CTEs and subqueries in FROM.
pub async fn rewrite(ctx: &SessionContext, statement: &mut Statement) -> Result<()> {
    match statement {
        Statement::Query(query) => rewrite_query(ctx, query, &mut Vec::new()).await,
        Statement::CreateTable(create) => match create.query.as_mut() {
            Some(query) => rewrite_query(ctx, query, &mut Vec::new()).await,
            None => Ok(()),
        },
        Statement::CreateView(view) => rewrite_query(ctx, &mut view.query, &mut Vec::new()).await,
        Statement::Insert(insert) => match insert.source.as_mut() {
            Some(query) => rewrite_query(ctx, query, &mut Vec::new()).await,
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

fn rewrite_query<'a>(
    ctx: &'a SessionContext,
    query: &'a mut Query,
    stack: &'a mut Vec<Option<With>>,
) -> Rewrite<'a> {
    Box::pin(async move {
        if let Some(with) = query.with.as_mut() {
            for cte in with.cte_tables.iter_mut() {
                rewrite_query(ctx, &mut cte.query, stack).await?;
            }
        }
        stack.push(query.with.clone());
        let result = async {
            if let SetExpr::Select(select) = query.body.as_mut() {
                let merged = rewrite_select(ctx, select, stack).await?;
                if let (Some(merged), Some(order_by)) = (merged, query.order_by.as_mut())
                    && let OrderByKind::Expressions(exprs) = &mut order_by.kind
                {
                    for e in exprs {
                        substitute(&mut e.expr, &merged);
                    }
                }
                Ok(())
            } else {
                rewrite_set_expr(ctx, &mut query.body, stack).await
            }
        }
        .await;
        stack.pop();
        result
    })
}

fn rewrite_set_expr<'a>(
    ctx: &'a SessionContext,
    body: &'a mut SetExpr,
    stack: &'a mut Vec<Option<With>>,
) -> Rewrite<'a> {
    Box::pin(async move {
        match body {
            SetExpr::Select(select) => rewrite_select(ctx, select, stack).await.map(|_| ()),
            SetExpr::Query(query) => rewrite_query(ctx, query, stack).await,
            SetExpr::SetOperation { left, right, .. } => {
                rewrite_set_expr(ctx, left, stack).await?;
                rewrite_set_expr(ctx, right, stack).await
            }
            _ => Ok(()),
        }
    })
}

/// One relation of a FROM clause: how to name its columns, and which.
struct Relation {
    qualifier: Option<Vec<Ident>>,
    columns: Vec<String>,
}

fn qualifier(factor: &TableFactor) -> Option<Vec<Ident>> {
    match factor {
        TableFactor::Table { name, alias, .. } => match alias {
            Some(alias) => Some(vec![alias.name.clone()]),
            None => name
                .0
                .iter()
                .map(|part| match part {
                    ObjectNamePart::Identifier(ident) => Some(ident.clone()),
                    _ => None,
                })
                .collect(),
        },
        TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. } => alias.as_ref().map(|a| vec![a.name.clone()]),
        _ => None,
    }
}

fn column(relation: &Relation, name: &str) -> Option<Expr> {
    let mut parts = relation.qualifier.clone()?;
    parts.push(Ident::with_quote('"', name));
    Some(Expr::CompoundIdentifier(parts))
}

fn same_name(a: &str, b: &str) -> bool {
    a == b || a.eq_ignore_ascii_case(b)
}

/// The merged USING columns of a select, by name, or `None` when it has none
/// (or when they cannot be resolved: the query is then left to DataFusion).
async fn rewrite_select(
    ctx: &SessionContext,
    select: &mut Select,
    stack: &mut Vec<Option<With>>,
) -> Result<Option<Vec<(String, Expr)>>> {
    for from in select.from.iter_mut() {
        rewrite_factor_subqueries(ctx, &mut from.relation, stack).await?;
        for join in from.joins.iter_mut() {
            rewrite_factor_subqueries(ctx, &mut join.relation, stack).await?;
        }
    }
    if !select.from.iter().any(has_using) {
        return Ok(None);
    }
    let with = with_prefix(stack);
    let mut merged_all: Vec<(String, Expr)> = Vec::new();
    let mut star: Vec<SelectItem> = Vec::new();
    let mut other_names: Vec<String> = Vec::new();
    for from in &select.from {
        let Some((merged, visible)) = resolve(ctx, &with, from).await? else {
            return Ok(None);
        };
        for (name, expr) in visible {
            other_names.push(name.clone());
            if merged.iter().any(|(m, _)| same_name(m, &name)) {
                star.push(SelectItem::ExprWithAlias {
                    expr,
                    alias: Ident::with_quote('"', name),
                });
            } else {
                star.push(SelectItem::UnnamedExpr(expr));
            }
        }
        merged_all.extend(merged);
    }
    // A merged name that another FROM item also has stays ambiguous.
    merged_all.retain(|(name, _)| other_names.iter().filter(|n| same_name(n, name)).count() == 1);
    if merged_all.is_empty() {
        return Ok(None);
    }
    let mut projection = Vec::new();
    for item in select.projection.drain(..) {
        match item {
            SelectItem::Wildcard(options) if plain_wildcard(&options) && select.from.len() == 1 => {
                projection.extend(star.iter().cloned());
            }
            SelectItem::UnnamedExpr(Expr::Identifier(ident)) => {
                // A bare merged column keeps its name as the output's.
                match merged_all.iter().find(|(n, _)| matches_ident(n, &ident)) {
                    Some((_, expr)) => projection.push(SelectItem::ExprWithAlias {
                        expr: expr.clone(),
                        alias: ident,
                    }),
                    None => projection.push(SelectItem::UnnamedExpr(Expr::Identifier(ident))),
                }
            }
            SelectItem::UnnamedExpr(mut expr) => {
                substitute(&mut expr, &merged_all);
                projection.push(SelectItem::UnnamedExpr(expr));
            }
            SelectItem::ExprWithAlias { mut expr, alias } => {
                substitute(&mut expr, &merged_all);
                projection.push(SelectItem::ExprWithAlias { expr, alias });
            }
            other => projection.push(other),
        }
    }
    select.projection = projection;
    if let Some(selection) = select.selection.as_mut() {
        substitute(selection, &merged_all);
    }
    if let GroupByExpr::Expressions(exprs, _) = &mut select.group_by {
        for e in exprs {
            substitute(e, &merged_all);
        }
    }
    if let Some(having) = select.having.as_mut() {
        substitute(having, &merged_all);
    }
    if let Some(qualify) = select.qualify.as_mut() {
        substitute(qualify, &merged_all);
    }
    Ok(Some(merged_all))
}

fn plain_wildcard(options: &datafusion::sql::sqlparser::ast::WildcardAdditionalOptions) -> bool {
    options.opt_ilike.is_none()
        && options.opt_exclude.is_none()
        && options.opt_except.is_none()
        && options.opt_replace.is_none()
        && options.opt_rename.is_none()
        && options.opt_alias.is_none()
}

fn rewrite_factor_subqueries<'a>(
    ctx: &'a SessionContext,
    factor: &'a mut TableFactor,
    stack: &'a mut Vec<Option<With>>,
) -> Rewrite<'a> {
    Box::pin(async move {
        match factor {
            TableFactor::Derived { subquery, .. } => rewrite_query(ctx, subquery, stack).await,
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => {
                rewrite_factor_subqueries(ctx, &mut table_with_joins.relation, stack).await?;
                for join in table_with_joins.joins.iter_mut() {
                    rewrite_factor_subqueries(ctx, &mut join.relation, stack).await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    })
}

fn using_constraint(operator: &JoinOperator) -> Option<&JoinConstraint> {
    match operator {
        JoinOperator::Join(c)
        | JoinOperator::Inner(c)
        | JoinOperator::Left(c)
        | JoinOperator::LeftOuter(c)
        | JoinOperator::Right(c)
        | JoinOperator::RightOuter(c)
        | JoinOperator::FullOuter(c) => Some(c),
        _ => None,
    }
}

fn has_using(from: &TableWithJoins) -> bool {
    from.joins.iter().any(|j| {
        matches!(
            using_constraint(&j.join_operator),
            Some(JoinConstraint::Using(_))
        )
    })
}

type Columns = Vec<(String, Expr)>;

/// The merged USING columns of one FROM item and every column it shows to
/// `SELECT *`, in the standard's order. `None` when a relation cannot be
/// named (a subquery without an alias) or a join is NATURAL or of another
/// kind: DataFusion then plans the query as written.
async fn resolve(
    ctx: &SessionContext,
    with: &str,
    from: &TableWithJoins,
) -> Result<Option<(Columns, Columns)>> {
    async fn relation(
        ctx: &SessionContext,
        with: &str,
        factor: &TableFactor,
    ) -> Result<Option<Relation>> {
        let Some(qualifier) = qualifier(factor) else {
            return Ok(None);
        };
        let columns = columns_of(ctx, with, &factor.to_string()).await?;
        Ok(Some(Relation {
            qualifier: Some(qualifier),
            columns,
        }))
    }
    let Some(base) = relation(ctx, with, &from.relation).await? else {
        return Ok(None);
    };
    let mut visible: Columns = Vec::new();
    for name in &base.columns {
        let Some(expr) = column(&base, name) else {
            return Ok(None);
        };
        visible.push((name.clone(), expr));
    }
    let mut merged: Columns = Vec::new();
    for join in &from.joins {
        let Some(constraint) = using_constraint(&join.join_operator) else {
            return Ok(None);
        };
        let Some(right) = relation(ctx, with, &join.relation).await? else {
            return Ok(None);
        };
        let right_columns: Columns = right
            .columns
            .iter()
            .filter_map(|n| column(&right, n).map(|e| (n.clone(), e)))
            .collect();
        match constraint {
            JoinConstraint::Using(names) => {
                let mut here: Columns = Vec::new();
                for name in names {
                    let Some(ObjectNamePart::Identifier(ident)) = name.0.last() else {
                        return Ok(None);
                    };
                    let lefts: Vec<&(String, Expr)> = visible
                        .iter()
                        .filter(|(n, _)| matches_ident(n, ident))
                        .collect();
                    let rights: Vec<&(String, Expr)> = right_columns
                        .iter()
                        .filter(|(n, _)| matches_ident(n, ident))
                        .collect();
                    let ([(left_name, left)], [(_, right_expr)]) =
                        (lefts.as_slice(), rights.as_slice())
                    else {
                        return Ok(None);
                    };
                    let expr = match &join.join_operator {
                        JoinOperator::Right(_) | JoinOperator::RightOuter(_) => right_expr.clone(),
                        JoinOperator::FullOuter(_) => {
                            super::parse_expr(&format!("coalesce({left}, {right_expr})"))?
                        }
                        _ => left.clone(),
                    };
                    here.push((left_name.clone(), expr));
                }
                let is_merged = |n: &str| here.iter().any(|(m, _)| same_name(m, n));
                let mut next: Columns = here.clone();
                next.extend(visible.iter().filter(|(n, _)| !is_merged(n)).cloned());
                next.extend(right_columns.iter().filter(|(n, _)| !is_merged(n)).cloned());
                visible = next;
                merged.retain(|(n, _)| !is_merged(n));
                merged.extend(here);
            }
            JoinConstraint::On(_) | JoinConstraint::None => visible.extend(right_columns),
            JoinConstraint::Natural => return Ok(None),
        }
    }
    Ok(Some((merged, visible)))
}

fn matches_ident(name: &str, ident: &Ident) -> bool {
    if ident.quote_style.is_some() {
        name == ident.value
    } else {
        name.eq_ignore_ascii_case(&ident.value)
    }
}

/// Replaces unqualified names of merged columns in `expr`, but not inside
/// its subqueries.
fn substitute(expr: &mut Expr, merged: &[(String, Expr)]) {
    struct Substitute<'a> {
        merged: &'a [(String, Expr)],
        depth: usize,
    }
    impl VisitorMut for Substitute<'_> {
        type Break = ();
        fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if self.depth == 0
                && let Expr::Identifier(ident) = expr
                && let Some((_, replacement)) =
                    self.merged.iter().find(|(n, _)| matches_ident(n, ident))
            {
                *expr = replacement.clone();
            }
            ControlFlow::Continue(())
        }
    }
    let _ = expr.visit(&mut Substitute { merged, depth: 0 });
}
