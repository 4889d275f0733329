//! Which rows belong to whom: the check that a DP query's input keeps every
//! row attributable to one privacy unit.
//!
//! Differential privacy bounds what the output changes when one unit (one
//! customer, with all their rows in every table) is removed. That holds
//! only if removing a unit removes rows of that unit and nothing else. The
//! check walks the input's logical plan (views and CTEs are already inlined
//! there) and tracks, for each output column, whether it is the privacy
//! unit of the rows:
//!
//! - a scan of a personal-data table is private, its subject column is the
//!   unit (without a policy: any table with a column of the unit's name);
//!   other tables are public;
//! - a join of two private inputs must match their units (`t.customer_id =
//!   c.customer_id`); a public input may join freely, but not filter
//!   private rows' existence into public rows (a semi-join of public rows
//!   on private ones);
//! - an aggregate, window or DISTINCT ON over private rows must group by
//!   the unit; a LIMIT or a subquery over private rows is refused, since
//!   whether a row stays would depend on other units' rows.
//!
//! The column chosen as `privacy_unit_column` must come out as the unit.

use std::collections::BTreeSet;
use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{JoinType, Result, plan_err};
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Distinct, Expr, LogicalPlan, Operator, TableScan};

use crate::governance::policy::Policy;

/// For each output column of a plan: is it the privacy unit?
#[derive(Debug, Clone, PartialEq)]
enum Lineage {
    Public,
    Private(Vec<bool>),
}

/// What the input of a DP query reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analysis {
    /// The personal-data tables read: their budgets are charged.
    pub datasets: BTreeSet<String>,
    /// Their unit columns, for messages (`transactions.customer_id`).
    pub units: BTreeSet<String>,
    /// False when the input reads no personal data at all.
    pub private: bool,
}

/// Checks `plan`, whose first output column is the privacy unit.
pub fn analyze(plan: &LogicalPlan, policy: Option<&Policy>, unit: &str) -> Result<Analysis> {
    let mut walker = Walker {
        policy,
        unit_name: unit.to_ascii_lowercase(),
        analysis: Analysis::default(),
    };
    let lineage = walker.lineage(plan)?;
    let mut analysis = walker.analysis;
    match lineage {
        Lineage::Public => Ok(analysis),
        Lineage::Private(flags) => {
            if flags.first() != Some(&true) {
                return plan_err!(
                    "DP query: privacy_unit_column '{unit}' is not the privacy unit of every row: the query reads {} whose units are {}; choose one of those columns and join the tables on it",
                    list(&analysis.datasets),
                    list(&analysis.units)
                );
            }
            analysis.private = true;
            Ok(analysis)
        }
    }
}

/// The personal-data tables `plan` reads, anywhere in it.
pub fn personal_tables(
    plan: &LogicalPlan,
    policy: Option<&Policy>,
    unit: &str,
) -> Result<BTreeSet<String>> {
    let walker = Walker {
        policy,
        unit_name: unit.to_ascii_lowercase(),
        analysis: Analysis::default(),
    };
    let mut tables = BTreeSet::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && walker.subject_of(scan).is_some()
        {
            tables.insert(scan.table_name.table().to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(tables)
}

fn list(items: &BTreeSet<String>) -> String {
    items.iter().cloned().collect::<Vec<_>>().join(", ")
}

struct Walker<'a> {
    policy: Option<&'a Policy>,
    unit_name: String,
    analysis: Analysis,
}

fn column_unit(expr: &Expr, input: &LogicalPlan, flags: &[bool]) -> bool {
    match expr.clone().unalias_nested().data {
        Expr::Column(c) => input
            .schema()
            .index_of_column(&c)
            .is_ok_and(|i| flags.get(i).copied().unwrap_or(false)),
        _ => false,
    }
}

impl Walker<'_> {
    /// The privacy unit column of the table `scan` reads, if it holds
    /// personal data.
    fn subject_of(&self, scan: &TableScan) -> Option<String> {
        let table = scan.table_name.table();
        match self.policy {
            Some(policy) => policy
                .table(table)
                .filter(|(_, t)| t.personal_data)
                .and_then(|(_, t)| t.subject.as_ref())
                .map(|s| s.get_ref().clone()),
            None => scan
                .source
                .schema()
                .fields()
                .iter()
                .map(|f| f.name())
                .find(|c| c.to_ascii_lowercase() == self.unit_name)
                .cloned(),
        }
    }

    /// Refuses subqueries over private data inside `exprs`.
    fn expressions(&mut self, exprs: &[&Expr]) -> Result<()> {
        for expr in exprs {
            let mut plans = Vec::new();
            expr.apply(|e| {
                match e {
                    Expr::ScalarSubquery(s) => plans.push(Arc::clone(&s.subquery)),
                    Expr::InSubquery(s) => plans.push(Arc::clone(&s.subquery.subquery)),
                    Expr::Exists(s) => plans.push(Arc::clone(&s.subquery.subquery)),
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
            for plan in plans {
                // Refused whether it is private or ill-formed over private data.
                if !matches!(self.lineage(&plan), Ok(Lineage::Public)) {
                    return plan_err!(
                        "DP query: a subquery over personal data is not allowed (whether a row is kept would depend on other units' rows); join on the privacy unit instead"
                    );
                }
            }
        }
        Ok(())
    }

    fn lineage(&mut self, plan: &LogicalPlan) -> Result<Lineage> {
        match plan {
            LogicalPlan::TableScan(scan) => {
                let name = scan.table_name.table().to_string();
                if let Ok(provider) = source_as_provider(&scan.source)
                    && udfs::backing_query(provider.as_ref()).is_some()
                {
                    return plan_err!(
                        "DP query: the table function '{name}' cannot be used in a DP query (it runs a query of its own)"
                    );
                }
                match self.subject_of(scan) {
                    Some(subject) => {
                        self.analysis.datasets.insert(name.clone());
                        self.analysis.units.insert(format!("{name}.{subject}"));
                        Ok(Lineage::Private(
                            scan.projected_schema
                                .fields()
                                .iter()
                                .map(|f| *f.name() == subject)
                                .collect(),
                        ))
                    }
                    None => Ok(Lineage::Public),
                }
            }
            LogicalPlan::Projection(p) => {
                self.expressions(&p.expr.iter().collect::<Vec<_>>())?;
                match self.lineage(&p.input)? {
                    Lineage::Public => Ok(Lineage::Public),
                    Lineage::Private(flags) => Ok(Lineage::Private(
                        p.expr
                            .iter()
                            .map(|e| column_unit(e, &p.input, &flags))
                            .collect(),
                    )),
                }
            }
            LogicalPlan::Filter(f) => {
                self.expressions(&[&f.predicate])?;
                self.lineage(&f.input)
            }
            LogicalPlan::Window(w) => {
                self.expressions(&w.window_expr.iter().collect::<Vec<_>>())?;
                match self.lineage(&w.input)? {
                    Lineage::Public => Ok(Lineage::Public),
                    Lineage::Private(mut flags) => {
                        for expr in &w.window_expr {
                            let partitioned = match expr.clone().unalias_nested().data {
                                Expr::WindowFunction(f) => f
                                    .params
                                    .partition_by
                                    .iter()
                                    .any(|p| column_unit(p, &w.input, &flags)),
                                _ => false,
                            };
                            if !partitioned {
                                return plan_err!(
                                    "DP query: the window function {expr} over personal data must be partitioned by the privacy unit (PARTITION BY {})",
                                    self.unit_name
                                );
                            }
                        }
                        flags.extend(std::iter::repeat_n(false, w.window_expr.len()));
                        Ok(Lineage::Private(flags))
                    }
                }
            }
            LogicalPlan::Aggregate(a) => {
                let exprs: Vec<&Expr> = a.group_expr.iter().chain(&a.aggr_expr).collect();
                self.expressions(&exprs)?;
                match self.lineage(&a.input)? {
                    Lineage::Public => Ok(Lineage::Public),
                    Lineage::Private(flags) => {
                        if a.group_expr
                            .iter()
                            .any(|g| matches!(g, Expr::GroupingSet(_)))
                        {
                            return plan_err!(
                                "DP query: GROUPING SETS, ROLLUP and CUBE over personal data are not supported before the DP aggregation"
                            );
                        }
                        let mut out: Vec<bool> = a
                            .group_expr
                            .iter()
                            .map(|g| column_unit(g, &a.input, &flags))
                            .collect();
                        if !out.contains(&true) {
                            return plan_err!(
                                "DP query: a GROUP BY over personal data before the DP aggregation must group by the privacy unit (it would mix the rows of different units)"
                            );
                        }
                        out.extend(std::iter::repeat_n(false, a.aggr_expr.len()));
                        Ok(Lineage::Private(out))
                    }
                }
            }
            LogicalPlan::Join(j) => {
                let filter: Vec<&Expr> = j.filter.iter().collect();
                self.expressions(&filter)?;
                let left = self.lineage(&j.left)?;
                let right = self.lineage(&j.right)?;
                let width = |p: &LogicalPlan| p.schema().fields().len();
                let flags = |l: &Lineage, p: &LogicalPlan| match l {
                    Lineage::Public => vec![false; width(p)],
                    Lineage::Private(f) => f.clone(),
                };
                let (left_private, right_private) = (
                    matches!(left, Lineage::Private(_)),
                    matches!(right, Lineage::Private(_)),
                );
                if !left_private && !right_private {
                    return Ok(Lineage::Public);
                }
                let (lf, rf) = (flags(&left, &j.left), flags(&right, &j.right));
                if left_private && right_private {
                    // The SQL planner leaves `ON a = b` in the filter; the
                    // optimizer moves equalities to `on` later.
                    let mut pairs: Vec<(Expr, Expr)> = j.on.clone();
                    if let Some(filter) = &j.filter {
                        for conjunct in split_conjunction(filter) {
                            if let Expr::BinaryExpr(b) = conjunct
                                && b.op == Operator::Eq
                            {
                                pairs.push((*b.left.clone(), *b.right.clone()));
                                pairs.push((*b.right.clone(), *b.left.clone()));
                            }
                        }
                    }
                    let matched = pairs.iter().any(|(l, r)| {
                        column_unit(l, &j.left, &lf) && column_unit(r, &j.right, &rf)
                    });
                    if !matched {
                        return plan_err!(
                            "DP query: a join of two inputs with personal data must match their privacy units (for example ON t.customer_id = c.customer_id); this one joins on {}",
                            match (&j.filter, j.on.is_empty()) {
                                (None, true) => "nothing (a cross join)".to_string(),
                                (Some(f), true) => f.to_string(),
                                _ =>
                                    j.on.iter()
                                        .map(|(l, r)| format!("{l} = {r}"))
                                        .collect::<Vec<_>>()
                                        .join(" AND "),
                            }
                        );
                    }
                }
                let filters_public = |private_side_filters: bool| -> Result<()> {
                    if private_side_filters {
                        return plan_err!(
                            "DP query: a semi- or anti-join that keeps public rows depending on rows with personal data is not allowed"
                        );
                    }
                    Ok(())
                };
                let both = |lf: &[bool], rf: &[bool]| [lf, rf].concat();
                let out = match j.join_type {
                    JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                        both(&lf, &rf)
                    }
                    JoinType::LeftSemi | JoinType::LeftAnti => {
                        filters_public(!left_private)?;
                        lf
                    }
                    JoinType::LeftMark => {
                        filters_public(!left_private)?;
                        [lf, vec![false]].concat()
                    }
                    JoinType::RightSemi | JoinType::RightAnti => {
                        filters_public(!right_private)?;
                        rf
                    }
                    JoinType::RightMark => {
                        filters_public(!right_private)?;
                        [rf, vec![false]].concat()
                    }
                };
                Ok(Lineage::Private(out))
            }
            LogicalPlan::Union(u) => {
                let mut out: Option<Vec<bool>> = None;
                for input in &u.inputs {
                    if let Lineage::Private(flags) = self.lineage(input)? {
                        out = Some(match out {
                            None => flags,
                            Some(prev) => prev.iter().zip(&flags).map(|(a, b)| *a && *b).collect(),
                        });
                    }
                }
                Ok(out.map_or(Lineage::Public, Lineage::Private))
            }
            LogicalPlan::SubqueryAlias(a) => self.lineage(&a.input),
            LogicalPlan::Subquery(s) => self.lineage(&s.subquery),
            LogicalPlan::Sort(s) => self.lineage(&s.input),
            LogicalPlan::Repartition(r) => self.lineage(&r.input),
            LogicalPlan::Distinct(Distinct::All(input)) => self.lineage(input),
            LogicalPlan::EmptyRelation(_) | LogicalPlan::Values(_) => Ok(Lineage::Public),
            other => {
                // LIMIT, DISTINCT ON, UNNEST, recursive CTEs, extensions: fine
                // over public data, refused over personal data.
                for input in other.inputs() {
                    if matches!(self.lineage(input)?, Lineage::Private(_)) {
                        return plan_err!(
                            "DP query: {} over personal data is not supported before the DP aggregation",
                            describe(other)
                        );
                    }
                }
                match other {
                    LogicalPlan::Limit(_)
                    | LogicalPlan::Distinct(_)
                    | LogicalPlan::Unnest(_)
                    | LogicalPlan::RecursiveQuery(_) => Ok(Lineage::Public),
                    _ => plan_err!("DP query: {} is not a query", describe(other)),
                }
            }
        }
    }
}

fn describe(plan: &LogicalPlan) -> &'static str {
    match plan {
        LogicalPlan::Limit(_) => "LIMIT",
        LogicalPlan::Distinct(_) => "DISTINCT ON",
        LogicalPlan::Unnest(_) => "UNNEST",
        LogicalPlan::RecursiveQuery(_) => "a recursive CTE",
        LogicalPlan::Extension(_) => "an extension node",
        _ => "this statement",
    }
}
