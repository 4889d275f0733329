//! `item_similarity(query, min_common)`: one row per pair of similar items
//! from the (basket, item) rows of a query.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;

use super::item_similarity_agg::{NAME as AGGREGATE, check_min_common, similarity_fields};
use crate::query_table::{UnnestedAggregateTable, basket_query, literal};

const NAME: &str = "item_similarity";

/// SQL `item_similarity`.
#[derive(Debug, Default)]
pub struct ItemSimilarityFunc;

impl TableFunctionImpl for ItemSimilarityFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let [query, min_common] = args.exprs() else {
            return plan_err!(
                "{NAME} expects 2 arguments ('SELECT basket, item FROM ...', min_common), got {}",
                args.exprs().len()
            );
        };
        let query = basket_query(NAME, query)?;
        let min_common = match literal(NAME, min_common)? {
            datafusion::common::ScalarValue::Int64(Some(v)) => check_min_common(NAME, v)?,
            other => {
                return plan_err!(
                    "{NAME}: argument 'min_common' must be a number of baskets >= 1, got {other}"
                );
            }
        };
        Ok(Arc::new(UnnestedAggregateTable::over_baskets(
            NAME,
            format!("{AGGREGATE}(basket, item, {min_common})"),
            &query,
            &similarity_fields(),
        )))
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "Table of item-item similarities from a query's (basket, item) rows: one row per ordered \
         pair of items held together in at least min_common baskets, with columns item, \
         similar_item, common_baskets, item_baskets, similar_item_baskets, cosine, jaccard, \
         confidence (share of the item's holders who hold the similar item) and lift; see \
         item_similarity_agg for the definitions. For 'clients who hold X also hold Y': filter \
         on item = 'X' and order by cosine or confidence.",
        "item_similarity(query, min_common)",
    )
    .with_sql_example(
        r#"```sql
> SELECT similar_item, round(cosine, 3) AS cosine, round(confidence, 3) AS confidence
  FROM item_similarity('SELECT customer_id, symbol FROM positions', 10)
  WHERE item = 'MSFT' ORDER BY cosine DESC LIMIT 5;
```"#,
    )
    .with_argument("query", "SQL text returning (basket, item) rows.")
    .with_argument(
        "min_common",
        "Constant integer >= 1: the fewest baskets a pair must share.",
    )
    .build()
});
