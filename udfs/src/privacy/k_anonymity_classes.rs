//! `k_anonymity_classes(query, k)`: the equivalence classes smaller than k,
//! the records a re-identification attack would single out.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::datasource::{MemTable, TableType};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion::physical_plan::{ExecutionPlan, collect};

use crate::query_table::{call_schema, literal, query_argument};

const NAME: &str = "k_anonymity_classes";

/// SQL `k_anonymity_classes`.
#[derive(Debug, Default)]
pub struct KAnonymityClassesFunc;

impl TableFunctionImpl for KAnonymityClassesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let [query, k] = args.exprs() else {
            return plan_err!(
                "{NAME} expects 2 arguments ('SELECT quasi_identifiers... FROM ...', k), got {}",
                args.exprs().len()
            );
        };
        let query = query_argument(
            NAME,
            query,
            "SELECT age_band(age, 10), region FROM customers",
        )?;
        let k = match literal(NAME, k)? {
            ScalarValue::Int64(Some(k)) if k >= 1 => k,
            other => {
                return plan_err!("{NAME}: argument 'k' must be a whole number >= 1, got {other}");
            }
        };
        let fields = vec![
            Field::new("class", DataType::Utf8, true),
            Field::new("class_size", DataType::Int64, false),
        ];
        Ok(Arc::new(KAnonymityClassesTable {
            schema: call_schema(fields, &format!("{k}:{query}")),
            query,
            k,
        }))
    }
}

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn TableProvider) -> Option<&str> {
    table
        .downcast_ref::<KAnonymityClassesTable>()
        .map(|t| t.query.as_str())
}

#[derive(Debug)]
struct KAnonymityClassesTable {
    query: String,
    k: i64,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for KAnonymityClassesTable {
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
        let Some(session) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{NAME}: needs a DataFusion SessionState");
        };
        let input = session
            .create_logical_plan(&self.query)
            .await
            .map_err(|e| {
                datafusion::error::DataFusionError::Plan(format!(
                    "{NAME}: argument 'query' must be a query returning the quasi-identifiers: {}",
                    e.strip_backtrace()
                ))
            })?;
        let names: Vec<String> = input
            .schema()
            .fields()
            .iter()
            .map(|f| format!("\"{}\"", f.name().replace('"', "\"\"")))
            .collect();
        if names.is_empty() {
            return plan_err!("{NAME}: the query returns no columns");
        }
        let labels: Vec<String> = input
            .schema()
            .fields()
            .iter()
            .zip(&names)
            .map(|(f, quoted)| {
                format!(
                    "'{}=' || coalesce(CAST(q.{quoted} AS VARCHAR), 'NULL')",
                    f.name().replace('\'', "''")
                )
            })
            .collect();
        let grouped: Vec<String> = names.iter().map(|n| format!("q.{n}")).collect();
        let sql = format!(
            "SELECT arrow_cast(concat_ws(', ', {}), 'Utf8') AS class, count(*) AS class_size FROM ({}) AS q \
             GROUP BY {} HAVING count(*) < {} ORDER BY class_size, class",
            labels.join(", "),
            self.query,
            grouped.join(", "),
            self.k
        );
        let plan = session.create_logical_plan(&sql).await?;
        let physical = session.create_physical_plan(&plan).await?;
        let batches = collect(physical, session.task_ctx()).await?;
        let batches = batches
            .into_iter()
            .map(|b| b.with_schema(Arc::clone(&self.schema)))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let table = MemTable::try_new(Arc::clone(&self.schema), vec![batches])?;
        table.scan(state, projection, filters, limit).await
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "The equivalence classes of a release that are smaller than k: the query returns the \
         quasi-identifier columns (already generalized), and each row of the result is one \
         class with fewer than k records, as class (the values, 'column=value, ...') and \
         class_size, smallest first. Empty when the release is k-anonymous. Use it to see \
         which combinations to generalize further or suppress.",
        "k_anonymity_classes(query, k)",
    )
    .with_sql_example(
        r#"```sql
> SELECT class, class_size FROM k_anonymity_classes(
    'SELECT age_band(age, 10) AS band, region FROM (VALUES (34, ''N''), (52, ''S''), (35, ''N'')) AS t(age, region)', 2);
+----------------------+------------+
| class                | class_size |
+----------------------+------------+
| band=50-59, region=S | 1          |
+----------------------+------------+
```"#,
    )
    .with_argument("query", "SQL returning the quasi-identifier columns, one row per record.")
    .with_argument("k", "The required class size, a whole number >= 1.")
    .build()
});
