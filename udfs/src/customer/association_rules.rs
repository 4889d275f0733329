//! `association_rules(query, min_support, min_confidence)`: one row per
//! association rule mined from the (basket, item) rows of a query.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::datasource::TableType;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::simplify::SimplifyContext;
use datafusion::logical_expr::{Documentation, Expr, LogicalPlanBuilder, col};
use datafusion::optimizer::simplify_expressions::ExprSimplifier;
use datafusion::physical_plan::ExecutionPlan;

use super::apriori::rule_fields;
use super::association_rules_agg::{NAME as AGGREGATE, check_share};

const NAME: &str = "association_rules";

/// SQL `association_rules`.
#[derive(Debug, Default)]
pub struct AssociationRulesFunc;

fn literal(expr: &Expr) -> Result<ScalarValue> {
    match ExprSimplifier::new(SimplifyContext::default()).simplify(expr.clone())? {
        Expr::Literal(value, _) => Ok(value),
        other => plan_err!("{NAME}: arguments must be constants, got {other}"),
    }
}

fn share(expr: &Expr, argument: &str) -> Result<f64> {
    let value = match literal(expr)? {
        ScalarValue::Float64(Some(v)) => v,
        ScalarValue::Float32(Some(v)) => f64::from(v),
        ScalarValue::Int64(Some(v)) => v as f64,
        other => return plan_err!("{NAME}: argument '{argument}' must be a number, got {other}"),
    };
    check_share(NAME, argument, value)
}

impl TableFunctionImpl for AssociationRulesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let [query, min_support, min_confidence] = args.exprs() else {
            return plan_err!(
                "{NAME} expects 3 arguments ('SELECT basket, item FROM ...', min_support, \
                 min_confidence), got {}",
                args.exprs().len()
            );
        };
        let query = match literal(query)? {
            ScalarValue::Utf8(Some(q))
            | ScalarValue::Utf8View(Some(q))
            | ScalarValue::LargeUtf8(Some(q)) => q,
            other => {
                return plan_err!(
                    "{NAME}: argument 'query' must be a SQL string such as 'SELECT customer_id, \
                     product FROM holdings', got {other}"
                );
            }
        };
        Ok(Arc::new(RulesTable {
            query,
            min_support: share(min_support, "min_support")?,
            min_confidence: share(min_confidence, "min_confidence")?,
            // Nullable like the unnested plan that produces the rows.
            schema: Arc::new(Schema::new(
                rule_fields()
                    .iter()
                    .map(|f| f.as_ref().clone().with_nullable(true))
                    .collect::<Vec<_>>(),
            )),
        }))
    }
}

/// The rules of one query: planned when scanned, through the caller's
/// session, so the query sees exactly the tables (and, with governance, the
/// policies) the caller does.
#[derive(Debug)]
struct RulesTable {
    query: String,
    min_support: f64,
    min_confidence: f64,
    schema: SchemaRef,
}

#[async_trait]
impl TableProvider for RulesTable {
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
        let Some(state) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{NAME}: needs a DataFusion SessionState");
        };
        let fields: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| format!("rule['{0}'] AS \"{0}\"", f.name()))
            .collect();
        let sql = format!(
            "SELECT {} FROM (SELECT unnest({AGGREGATE}(basket, item, {}, {})) AS rule \
             FROM ({}) AS input(basket, item))",
            fields.join(", "),
            self.min_support,
            self.min_confidence,
            self.query
        );
        let plan = match state.create_logical_plan(&sql).await {
            Ok(plan) => plan,
            Err(e) => {
                return plan_err!(
                    "{NAME}: argument 'query' must return two columns (basket, item): {}",
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
        state.create_physical_plan(&plan).await
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "Table of association rules mined from a query's (basket, item) rows, one row per rule \
         with columns antecedent, consequent (lists of items), antecedent_support, \
         consequent_support, support, confidence, lift, leverage, conviction and baskets; the \
         rules of association_rules_agg (Apriori, mlxtend's definitions), sorted by lift. The \
         query's first column is the basket (a customer, a transaction), the second the item. \
         Use it for cross-sell: 'customers holding X also hold Y'.",
        "association_rules(query, min_support, min_confidence)",
    )
    .with_sql_example(
        r#"```sql
> SELECT antecedent, consequent, round(support, 3) AS support, round(lift, 2) AS lift
  FROM association_rules('SELECT customer_id, account_type FROM accounts', 0.05, 0.3)
  ORDER BY lift DESC LIMIT 3;
```"#,
    )
    .with_argument("query", "SQL text returning (basket, item) rows.")
    .with_argument(
        "min_support",
        "Share of baskets in (0, 1] an itemset must reach.",
    )
    .with_argument("min_confidence", "Minimum confidence in [0, 1] of a rule.")
    .build()
});
