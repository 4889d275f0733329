//! A protected table as one identity sees it.
//!
//! [`GovernedTable`] replaces the raw table in a restricted session. Its scan
//! plans `raw scan -> row filters and retention -> subject semi-joins (the
//! subject table's row filter, consent) -> masks`
//! and wraps the result in [`GovernedExec`], so every user expression sits
//! above masked columns and filtered rows:
//!
//! - a predicate on a masked column is never pushed below the masks
//!   (`Unsupported`), so it compares masked values;
//! - a predicate on an unmasked column is pushed down (for Parquet pruning)
//!   only if it cannot fail (comparisons of columns with constants), because
//!   below the row filters an error message could echo a value from a row the
//!   user may not see; it is applied after the policy filters;
//! - [`GovernedExec`] is a leaf to the outer plan: it accepts no physical
//!   filter pushdown, reports no column statistics (only an inexact row
//!   count, for join planning) and shows no inner nodes, so neither dynamic
//!   filters, nor `min`/`max` from Parquet statistics, nor EXPLAIN ANALYZE
//!   metrics of the raw scan cross the boundary.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, JoinType, Result, Statistics};
use datafusion::datasource::{TableType, provider_as_source};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, Operator, TableProviderFilterPushDown,
    utils::conjunction,
};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions,
};

/// One output column of a governed table.
#[derive(Debug, Clone)]
pub struct GovernedColumn {
    pub name: String,
    /// Expression over the raw table's (unqualified) columns.
    pub expr: Expr,
    /// The class and the mask text, when the column is masked.
    pub mask: Option<(String, String)>,
}

/// A semi-join on the data subject: only rows whose subject is selected by
/// `predicate` in another (raw) table remain. Used for consent (subjects
/// with an active consent for the purpose) and for the subject table's row
/// filter (subjects the role may see).
#[derive(Debug, Clone)]
pub struct SubjectJoin {
    pub table: Arc<dyn TableProvider>,
    /// The other table's name in the plan.
    pub table_name: String,
    /// Subject column of the governed table.
    pub subject: String,
    /// Subject column of the other table.
    pub other_subject: String,
    /// Predicate over the other table selecting the subjects that remain.
    pub predicate: Expr,
}

/// What a governed table applies, for EXPLAIN, the audit trail and
/// `governance` system tables.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    pub masks: Vec<(String, String)>,
    pub filters: Vec<String>,
    pub denied: Vec<String>,
    pub consent: Option<String>,
}

#[derive(Debug)]
pub struct GovernedTable {
    pub name: String,
    raw: Arc<dyn TableProvider>,
    schema: SchemaRef,
    columns: Vec<GovernedColumn>,
    /// Row filter and retention predicates over raw columns.
    predicates: Vec<Expr>,
    joins: Vec<SubjectJoin>,
    applied: Applied,
}

impl GovernedTable {
    /// `predicates` and `subject_filter` with their display text; `consent`
    /// with its purpose.
    pub fn try_new(
        name: String,
        raw: Arc<dyn TableProvider>,
        columns: Vec<GovernedColumn>,
        predicates: Vec<(Expr, String)>,
        subject_filter: Option<(SubjectJoin, String)>,
        consent: Option<(SubjectJoin, String)>,
        denied: Vec<String>,
    ) -> Result<Self> {
        let mut filters: Vec<String> = predicates.iter().map(|(_, text)| text.clone()).collect();
        filters.extend(subject_filter.as_ref().map(|(_, text)| text.clone()));
        let applied = Applied {
            masks: columns
                .iter()
                .filter_map(|c| c.mask.as_ref().map(|(_, m)| (c.name.clone(), m.clone())))
                .collect(),
            filters,
            denied,
            consent: consent.as_ref().map(|(_, purpose)| purpose.clone()),
        };
        let joins = subject_filter
            .into_iter()
            .chain(consent)
            .map(|(join, _)| join)
            .collect();
        let mut table = Self {
            name,
            raw,
            schema: Arc::new(Schema::empty()),
            columns,
            predicates: predicates.into_iter().map(|(e, _)| e).collect(),
            joins,
            applied,
        };
        // The schema is what the plan produces, so the physical plan always
        // matches what the SQL planner was told.
        let plan = table.plan(None, &[], None)?;
        table.schema = Arc::new(plan.schema().as_arrow().clone());
        Ok(table)
    }

    pub fn applied(&self) -> &Applied {
        &self.applied
    }

    /// Names of the output columns that are masked.
    pub fn is_masked(&self, column: &str) -> bool {
        self.columns
            .iter()
            .any(|c| c.name == column && c.mask.is_some())
    }

    fn plan(
        &self,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<LogicalPlan> {
        let mut builder = LogicalPlanBuilder::scan(
            self.name.as_str(),
            provider_as_source(Arc::clone(&self.raw)),
            None,
        )?;
        if let Some(predicate) = conjunction(self.predicates.iter().cloned()) {
            builder = builder.filter(predicate)?;
        }
        for join in &self.joins {
            let subjects = LogicalPlanBuilder::scan(
                join.table_name.as_str(),
                provider_as_source(Arc::clone(&join.table)),
                None,
            )?
            .filter(join.predicate.clone())?
            .project([Expr::Column(Column::from_name(&join.other_subject))])?
            .distinct()?
            .build()?;
            builder = builder.join(
                subjects,
                JoinType::LeftSemi,
                (
                    vec![Column::from_name(&join.subject)],
                    vec![Column::from_name(&join.other_subject)],
                ),
                None,
            )?;
        }
        if let Some(predicate) = conjunction(filters.iter().map(unqualify)) {
            builder = builder.filter(predicate)?;
        }
        let columns: Vec<&GovernedColumn> = match projection {
            Some(indices) => indices
                .iter()
                .filter_map(|&i| self.columns.get(i))
                .collect(),
            None => self.columns.iter().collect(),
        };
        builder = builder.project(
            columns
                .iter()
                .map(|c| c.expr.clone().alias(c.name.as_str())),
        )?;
        if let Some(limit) = limit {
            builder = builder.limit(0, Some(limit))?;
        }
        builder.build()
    }

    /// True when `filter` reads only unmasked columns and cannot fail.
    fn pushable(&self, filter: &Expr) -> bool {
        let mut ok = true;
        let _ = filter.apply(|e| {
            if let Expr::Column(c) = e
                && self.is_masked(&c.name)
            {
                ok = false;
            }
            Ok(if ok {
                TreeNodeRecursion::Continue
            } else {
                TreeNodeRecursion::Stop
            })
        });
        ok && cannot_fail(filter, &self.raw.schema())
    }
}

/// Columns as unqualified names, as in the inner plan.
fn unqualify(expr: &Expr) -> Expr {
    expr.clone()
        .transform(|e| match e {
            Expr::Column(c) if c.relation.is_some() => {
                Ok(Transformed::yes(Expr::Column(Column::from_name(c.name))))
            }
            other => Ok(Transformed::no(other)),
        })
        .map_or_else(|_| expr.clone(), |t| t.data)
}

/// Expressions that evaluate without error on any row: column/constant
/// comparisons, boolean logic, IN lists, BETWEEN, LIKE, NULL tests, and casts
/// of constants or lossless widenings of columns.
fn cannot_fail(expr: &Expr, schema: &Schema) -> bool {
    let cannot_fail = |e: &Expr| cannot_fail(e, schema);
    match expr {
        Expr::Column(_) | Expr::Literal(..) => true,
        Expr::BinaryExpr(b) => {
            matches!(
                b.op,
                Operator::Eq
                    | Operator::NotEq
                    | Operator::Lt
                    | Operator::LtEq
                    | Operator::Gt
                    | Operator::GtEq
                    | Operator::And
                    | Operator::Or
                    | Operator::IsDistinctFrom
                    | Operator::IsNotDistinctFrom
            ) && cannot_fail(&b.left)
                && cannot_fail(&b.right)
        }
        Expr::Not(e)
        | Expr::IsNull(e)
        | Expr::IsNotNull(e)
        | Expr::IsTrue(e)
        | Expr::IsFalse(e)
        | Expr::IsNotTrue(e)
        | Expr::IsNotFalse(e)
        | Expr::IsUnknown(e)
        | Expr::IsNotUnknown(e) => cannot_fail(e),
        Expr::Between(b) => cannot_fail(&b.expr) && cannot_fail(&b.low) && cannot_fail(&b.high),
        Expr::InList(l) => cannot_fail(&l.expr) && l.list.iter().all(&cannot_fail),
        Expr::Like(l) => {
            l.escape_char.is_none()
                && cannot_fail(&l.expr)
                && matches!(*l.pattern, Expr::Literal(..))
        }
        Expr::Cast(c) => match c.expr.as_ref() {
            Expr::Literal(..) => true,
            Expr::Column(column) => schema
                .field_with_name(&column.name)
                .is_ok_and(|f| is_widening(f.data_type(), c.field.data_type())),
            _ => false,
        },
        Expr::TryCast(c) => cannot_fail(&c.expr),
        _ => false,
    }
}

/// Casts DataFusion inserts when comparing columns with constants of a
/// wider type; these never fail.
fn is_widening(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    matches!(
        (from, to),
        (Int8 | Int16 | Int32, Int64 | Float64)
            | (UInt8 | UInt16 | UInt32, Int64 | UInt64 | Float64)
            | (Float32, Float64)
            | (Date32, Date64 | Timestamp(_, _))
            | (Utf8, Utf8View | LargeUtf8)
    )
}

#[async_trait]
impl TableProvider for GovernedTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| {
                if self.pushable(f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.plan(projection, filters, limit)?;
        let input = state.create_physical_plan(&plan).await?;
        Ok(Arc::new(GovernedExec::new(
            self.name.clone(),
            self.applied.clone(),
            input,
        )))
    }
}

/// The boundary between policy and user plan: passes batches through,
/// takes no filters from above and exposes no column statistics.
#[derive(Debug, Clone)]
pub struct GovernedExec {
    table: String,
    applied: Applied,
    input: Arc<dyn ExecutionPlan>,
}

impl GovernedExec {
    fn new(table: String, applied: Applied, input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            table,
            applied,
            input,
        }
    }

    pub fn applied(&self) -> &Applied {
        &self.applied
    }
}

impl DisplayAs for GovernedExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "GovernedExec: table={}", self.table)?;
        if !self.applied.masks.is_empty() {
            let masks: Vec<String> = self
                .applied
                .masks
                .iter()
                .map(|(c, m)| format!("{c}: {m}"))
                .collect();
            write!(f, ", masks=[{}]", masks.join(", "))?;
        }
        if !self.applied.filters.is_empty() {
            write!(f, ", filters=[{}]", self.applied.filters.join(" AND "))?;
        }
        if let Some(purpose) = &self.applied.consent {
            write!(f, ", consent={purpose}")?;
        }
        if !self.applied.denied.is_empty() {
            write!(f, ", denied=[{}]", self.applied.denied.join(", "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for GovernedExec {
    fn name(&self) -> &str {
        "GovernedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    /// None: the policy plan below is planned and optimized when the table
    /// is scanned, and hidden from the outer plan, so EXPLAIN (VERBOSE,
    /// ANALYZE, with statistics) never shows the raw scan's statistics or
    /// metrics, and no optimizer rule moves user expressions below the masks.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
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
            return datafusion::common::internal_err!("GovernedExec has no children");
        }
        Ok(self)
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

    fn reset_state(self: Arc<Self>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self {
            input: reset_plan_states(Arc::clone(&self.input))?,
            ..Self::clone(&self)
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }

    /// An inexact row count and size only: the join planner needs them to
    /// pick the build side (without them a join of a small governed table
    /// with a large one can build on the large side, 10x slower), while
    /// column statistics (min/max/distinct of raw values) stay inside, and
    /// an inexact count answers no `count(*)`.
    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let mut statistics = Statistics::new_unknown(&self.schema());
        if let Ok(inner) = StatisticsContext::new().compute(self.input.as_ref(), args) {
            statistics.num_rows = inner.num_rows.to_inexact();
            statistics.total_byte_size = inner.total_byte_size.to_inexact();
        }
        Ok(Arc::new(statistics))
    }
}
