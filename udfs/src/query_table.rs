//! The table functions that run an aggregate over a query's rows and return
//! one row per element of its list result (`association_rules`,
//! `item_similarity`). The query is planned when the table is scanned,
//! through the caller's session, so it sees exactly the tables (and, with
//! governance, the policies) the caller does.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Fields, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder, col};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::{ProjectionExec, ProjectionExpr};

/// Schema metadata key holding a table function call's text.
const CALL_METADATA: &str = "finsight.table_function_call";

/// The SQL a table function's table runs when scanned, so that a caller
/// (the audit trail) can say which tables a query reads through it.
pub fn backing_query(provider: &dyn TableProvider) -> Option<&str> {
    if let Some(table) = provider.downcast_ref::<UnnestedAggregateTable>() {
        return Some(&table.element_sql);
    }
    crate::privacy::pii_scan::backing_query(provider)
        .or_else(|| crate::privacy::k_anonymity_classes::backing_query(provider))
        .or_else(|| crate::fairness::backing_query(provider))
        .or_else(|| crate::cleaning::backing_query(provider))
}

/// The SQL text argument that returns (basket, item) rows.
pub fn basket_query(function: &str, expr: &Expr) -> Result<String> {
    query_argument(function, expr, "SELECT customer_id, product FROM holdings")
}

/// A constant argument of a table function, folded.
pub fn literal(function: &str, expr: &Expr) -> Result<ScalarValue> {
    match ExprSimplifier::new(SimplifyContext::default()).simplify(expr.clone())? {
        Expr::Literal(value, _) => Ok(value),
        other => plan_err!("{function}: arguments must be constants, got {other}"),
    }
}

/// A constant numeric argument.
pub fn number(function: &str, argument: &str, expr: &Expr) -> Result<f64> {
    match literal(function, expr)? {
        ScalarValue::Float64(Some(v)) => Ok(v),
        ScalarValue::Float32(Some(v)) => Ok(f64::from(v)),
        ScalarValue::Int64(Some(v)) => Ok(v as f64),
        other => plan_err!("{function}: argument '{argument}' must be a number, got {other}"),
    }
}

/// The SQL text argument, a query whose rows the table function reads.
pub fn query_argument(function: &str, expr: &Expr, example: &str) -> Result<String> {
    match literal(function, expr)? {
        ScalarValue::Utf8(Some(q))
        | ScalarValue::Utf8View(Some(q))
        | ScalarValue::LargeUtf8(Some(q)) => Ok(q),
        other => plan_err!(
            "{function}: argument 'query' must be a SQL string such as '{example}', got {other}"
        ),
    }
}

/// A table function's schema: `fields` (as given) with the
/// call's text in the metadata (see [`UnnestedAggregateTable::new`] for
/// why two calls must not share a schema).
pub fn call_schema(fields: Vec<datafusion::arrow::datatypes::Field>, call: &str) -> SchemaRef {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(call, &mut hasher);
    let key = format!(
        "{CALL_METADATA}.{:016x}",
        std::hash::Hasher::finish(&hasher)
    );
    Arc::new(Schema::new_with_metadata(
        fields,
        HashMap::from([(key, call.to_string())]),
    ))
}

/// `SELECT <fields of element> FROM (<element_sql>)`, where `element_sql`
/// unnests an aggregate's list of structs over the user's query.
#[derive(Debug)]
pub struct UnnestedAggregateTable {
    function: &'static str,
    element_sql: String,
    /// What the query must return, for the error when it does not.
    columns: &'static str,
    schema: SchemaRef,
}

impl UnnestedAggregateTable {
    /// The table of `aggregate_call` over the (basket, item) rows of `query`.
    pub fn over_baskets(
        function: &'static str,
        aggregate_call: String,
        query: &str,
        fields: &Fields,
    ) -> Self {
        let element_sql = format!(
            "SELECT unnest({aggregate_call}) AS element FROM ({query}) AS input(basket, item)"
        );
        Self::new(function, element_sql, "two columns (basket, item)", fields)
    }

    /// `element_sql` returns one struct column `element` with `fields`;
    /// `columns` says what the user's query must return.
    pub fn new(
        function: &'static str,
        element_sql: String,
        columns: &'static str,
        fields: &Fields,
    ) -> Self {
        // Nullable like the unnested plan that produces the rows. The call
        // goes into the schema's metadata because DataFusion compares table
        // scans by name and schema, not by provider: without it, two calls
        // with different arguments in one query (say, as two scalar
        // subqueries) are "common subexpressions" and the second returns the
        // first's rows. The key is per call too, so that a UNION of two calls
        // keeps both entries and each input's batches still fit its schema.
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&element_sql, &mut hasher);
        let key = format!(
            "{CALL_METADATA}.{:016x}",
            std::hash::Hasher::finish(&hasher)
        );
        let metadata = HashMap::from([(key, element_sql.clone())]);
        let schema = Arc::new(Schema::new_with_metadata(
            fields
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
            metadata,
        ));
        Self {
            function,
            element_sql,
            columns,
            schema,
        }
    }
}

#[async_trait]
impl TableProvider for UnnestedAggregateTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let function = self.function;
        let Some(state) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{function}: needs a DataFusion SessionState");
        };
        let fields: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| format!("element['{0}'] AS \"{0}\"", f.name()))
            .collect();
        let sql = format!("SELECT {} FROM ({})", fields.join(", "), self.element_sql);
        let plan = match state.create_logical_plan(&sql).await {
            Ok(plan) => plan,
            Err(e) => {
                return plan_err!(
                    "{function}: argument 'query' must return {}: {}",
                    self.columns,
                    e.strip_backtrace()
                );
            }
        };
        let plan = match projection {
            Some(columns) => {
                let names = columns
                    .iter()
                    .map(|i| col(format!("\"{}\"", self.schema.field(*i).name())));
                LogicalPlanBuilder::from(plan).project(names)?.build()?
            }
            None => plan,
        };
        let physical = state.create_physical_plan(&plan).await?;
        // Carry the call's metadata (see `new`) into the physical schema, which
        // DataFusion checks against the logical one.
        let output = physical.schema();
        let columns = output
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| ProjectionExpr {
                expr: Arc::new(Column::new(f.name(), i)) as Arc<dyn PhysicalExpr>,
                alias: f.name().clone(),
            });
        let schema =
            Schema::new_with_metadata(output.fields().clone(), self.schema.metadata().clone());
        Ok(Arc::new(ProjectionExec::try_new_with_schema_metadata(
            columns, physical, &schema,
        )?))
    }
}

/// Plans `sql` (built around the user's query argument) through the
/// caller's session and collects its rows: the body of the table functions
/// that summarise a query (see [`QueryReport`]). A planning error says what
/// the query must return.
pub async fn collect_query(
    state: &dyn Session,
    function: &str,
    sql: &str,
    must_return: &str,
) -> Result<Vec<datafusion::arrow::array::RecordBatch>> {
    let Some(session) = state.as_any().downcast_ref::<SessionState>() else {
        return plan_err!("{function}: needs a DataFusion SessionState");
    };
    let plan = match session.create_logical_plan(sql).await {
        Ok(plan) => plan,
        Err(e) => {
            return plan_err!(
                "{function}: argument 'query' must return {must_return}: {}",
                e.strip_backtrace()
            );
        }
    };
    let physical = session.create_physical_plan(&plan).await?;
    datafusion::physical_plan::collect(physical, session.task_ctx()).await
}

/// What a table function that summarises the user's query computes when
/// its table is scanned (`fairness_report`, `calibration_by_group`,
/// `group_thresholds`): the arguments it was called with, and the rows.
#[async_trait]
pub trait QueryReport: std::fmt::Debug + Send + Sync + 'static {
    /// The user's query, for the audit trail (see [`backing_query`]).
    fn query(&self) -> &str;

    /// The table's rows, as one batch of `schema`.
    async fn rows(
        &self,
        state: &dyn Session,
        schema: &SchemaRef,
    ) -> Result<datafusion::arrow::array::RecordBatch>;
}

/// The table of a [`QueryReport`]: computed at scan time through the
/// caller's session, so governance applies to the query it reads.
#[derive(Debug)]
pub struct QueryReportTable<R> {
    report: R,
    schema: SchemaRef,
}

impl<R: QueryReport> QueryReportTable<R> {
    /// `call` is the call's text for the schema metadata (see [`call_schema`]).
    pub fn new(report: R, fields: Vec<datafusion::arrow::datatypes::Field>, call: &str) -> Self {
        Self {
            report,
            schema: call_schema(fields, call),
        }
    }

    /// The report's query when `provider` is this kind of table.
    pub fn backing_query(provider: &dyn TableProvider) -> Option<&str> {
        provider
            .downcast_ref::<Self>()
            .map(|table| table.report.query())
    }
}

#[async_trait]
impl<R: QueryReport> TableProvider for QueryReportTable<R> {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let batch = self.report.rows(state, &self.schema).await?;
        let table =
            datafusion::datasource::MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}
