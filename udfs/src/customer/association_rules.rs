//! `association_rules(query, min_support, min_confidence)`: one row per
//! association rule mined from the (basket, item) rows of a query.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;

use super::apriori::rule_fields;
use super::association_rules_agg::{NAME as AGGREGATE, check_share};
use crate::query_table::{UnnestedAggregateTable, basket_query, number};

const NAME: &str = "association_rules";

/// SQL `association_rules`.
#[derive(Debug, Default)]
pub struct AssociationRulesFunc;

impl TableFunctionImpl for AssociationRulesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let [query, min_support, min_confidence] = args.exprs() else {
            return plan_err!(
                "{NAME} expects 3 arguments ('SELECT basket, item FROM ...', min_support, \
                 min_confidence), got {}",
                args.exprs().len()
            );
        };
        let query = basket_query(NAME, query)?;
        let min_support = check_share(
            NAME,
            "min_support",
            number(NAME, "min_support", min_support)?,
        )?;
        let min_confidence = check_share(
            NAME,
            "min_confidence",
            number(NAME, "min_confidence", min_confidence)?,
        )?;
        Ok(Arc::new(UnnestedAggregateTable::over_baskets(
            NAME,
            format!("{AGGREGATE}(basket, item, {min_support}, {min_confidence})"),
            &query,
            &rule_fields(),
        )))
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
