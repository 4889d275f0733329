//! `binning_table(query, method, bins)`: the binning table of one
//! characteristic, as a credit analyst pastes it into a model report.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Fields};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::Documentation;

use super::binning::MAX_BINS;
use super::woe_iv::result_fields;
use crate::query_table::{UnnestedAggregateTable, literal, query_argument};

const NAME: &str = "binning_table";
const METHODS: [&str; 4] = ["monotonic", "equal_frequency", "equal_width", "values"];

/// SQL `binning_table`.
#[derive(Debug, Default)]
pub struct BinningTableFunc;

/// The bins' struct fields of woe_iv's result.
fn bin_fields() -> Result<Fields> {
    let fields = result_fields();
    match fields.find("bins").map(|(_, f)| f.data_type().clone()) {
        Some(DataType::List(item)) => match item.data_type() {
            DataType::Struct(bins) => Ok(bins.clone()),
            _ => plan_err!("{NAME}: woe_iv's bins are not structs"),
        },
        _ => plan_err!("{NAME}: woe_iv has no bins"),
    }
}

impl TableFunctionImpl for BinningTableFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (query, method, bins) = match args.exprs() {
            [query, method] => (query, method, None),
            [query, method, bins] => (query, method, Some(bins)),
            other => {
                return plan_err!(
                    "{NAME} expects 2 or 3 arguments ('SELECT x, label FROM ...', method [, bins]), got {}",
                    other.len()
                );
            }
        };
        let query = query_argument(NAME, query, "SELECT duration, is_bad FROM applications")?;
        let method = match literal(NAME, method)? {
            ScalarValue::Utf8(Some(m))
            | ScalarValue::Utf8View(Some(m))
            | ScalarValue::LargeUtf8(Some(m))
                if METHODS.contains(&m.as_str()) =>
            {
                m
            }
            other => {
                return plan_err!(
                    "{NAME}: argument 'method' must be one of {}, got {other}",
                    METHODS.map(|m| format!("'{m}'")).join(", ")
                );
            }
        };
        let bins = match (bins.map(|b| literal(NAME, b)).transpose()?, method.as_str()) {
            (None, "values") => None,
            (Some(ScalarValue::Int64(Some(n))), m)
                if m != "values" && (1..=MAX_BINS).contains(&n) =>
            {
                Some(n)
            }
            (None, _) => return plan_err!("{NAME}: method '{method}' needs a number of bins"),
            (Some(other), _) => {
                return plan_err!(
                    "{NAME}: argument 'bins' must be a whole number from 1 to {MAX_BINS} (none for 'values'), got {other}"
                );
            }
        };
        let element_sql = match (method.as_str(), bins) {
            ("values", _) => format!(
                "SELECT unnest(w['bins']) AS element FROM (SELECT woe_iv(x, label) AS w FROM ({query}) AS input(x, label))"
            ),
            // One pass: woe_iv finds the edges from the rows it counts.
            (method, Some(bins)) => format!(
                "SELECT unnest(w['bins']) AS element FROM (SELECT woe_iv(x, label, '{method}', {bins}) AS w \
                 FROM ({query}) AS input(x, label))"
            ),
            (_, None) => return plan_err!("{NAME}: method '{method}' needs a number of bins"),
        };
        Ok(Arc::new(UnnestedAggregateTable::new(
            NAME,
            element_sql,
            "two columns (x, label)",
            &bin_fields()?,
        )))
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> =
    LazyLock::new(|| {
        Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "The binning table of one characteristic: the query returns (x, label) rows (label 1 or \
         true = event, e.g. bad); method 'monotonic' (monotonic_edges with `bins` fine bins), \
         'equal_frequency' or 'equal_width' (with `bins` bins) cuts a numeric x, 'values' makes \
         one bin per distinct value (no bins argument). One row per bin with columns bin, lower, \
         upper, count, events, non_events, event_rate, woe and iv, as woe_iv computes them \
         (WoE = ln(%non-events / %events)); the characteristic's information value is sum(iv). \
         A 'missing' bin holds rows whose x is NULL.",
        "binning_table(query, method [, bins])",
    )
    .with_sql_example(
        r#"```sql
> SELECT bin, count, events, round(woe, 4) AS woe, round(iv, 4) AS iv
  FROM binning_table('SELECT duration_in_month, creditability = ''bad''
                      FROM ''tests/data/german_credit/germancredit.parquet''', 'monotonic', 10);
```"#,
    )
    .with_argument("query", "SQL text returning (x, label) rows.")
    .with_argument(
        "method",
        "'monotonic', 'equal_frequency', 'equal_width' or 'values'.",
    )
    .with_argument("bins", "Number of (fine) bins, 1 to 1000; omitted for 'values'.")
    .build()
    });
