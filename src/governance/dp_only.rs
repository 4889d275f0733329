//! Tables a role may read only through differentially private queries.
//!
//! A role's `dp_only` tables are registered as [`DpOnlyTable`]s: their
//! columns are listed, but a scan is refused unless the session state
//! carries a [`DpScope`], which only the DP query path puts there (a
//! config extension cannot be set from SQL). [`super::Governance::check`]
//! refuses any other statement that reads them, before planning goes on.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

/// Marks a session state in which DP-only tables may be scanned: the state
/// that runs the bounded aggregation of a DP query, whose rows go to the
/// noise step and nowhere else.
#[derive(Debug, Default)]
pub struct DpScope;

/// A table the role may read only with `SELECT WITH DIFFERENTIAL_PRIVACY`.
#[derive(Debug)]
pub struct DpOnlyTable {
    pub name: String,
    role: String,
    /// The table as the role would otherwise see it (masked, filtered).
    pub inner: Arc<dyn TableProvider>,
}

impl DpOnlyTable {
    pub fn new(name: String, role: String, inner: Arc<dyn TableProvider>) -> Self {
        Self { name, role, inner }
    }

    /// The refusal of any other access.
    pub fn refusal(&self) -> String {
        format!(
            "permission denied: role '{}' may read table '{}' only through differentially private aggregates (SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (...) ... GROUP BY ...)",
            self.role, self.name
        )
    }
}

#[async_trait]
impl TableProvider for DpOnlyTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if state.config().get_extension::<DpScope>().is_none() {
            return plan_err!("{}", self.refusal());
        }
        self.inner.scan(state, projection, filters, limit).await
    }
}
