//! `pii_scan(table [, sample_rows])`: classifies the string columns of a
//! table (or query) as likely PII from a sample of their values and their
//! names, so a privacy officer can classify a new dataset before anyone
//! queries it.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
    StringArrayType,
};
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::datasource::{MemTable, TableType};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{Documentation, Expr};
use datafusion::physical_plan::{ExecutionPlan, collect};

use super::detect_pii::{PiiKind, detect_pii};
use crate::query_table::{call_schema, literal};

const NAME: &str = "pii_scan";
const DEFAULT_SAMPLE: i64 = 10_000;
const MAX_SAMPLE: i64 = 10_000_000;

/// PII kinds recognised by column name only: their values have no format
/// to check.
const NAME_ONLY: [(&str, &[&str]); 4] = [
    ("person_name", &["name", "surname", "given", "full_name"]),
    ("address", &["address", "addr", "street"]),
    ("birth_date", &["birth", "dob"]),
    ("postcode", &["postcode", "postal", "zip"]),
];

/// Column-name fragments that suggest each content kind.
fn name_fragments(kind: PiiKind) -> &'static [&'static str] {
    match kind {
        PiiKind::Email => &["email", "e_mail", "mail"],
        PiiKind::Phone => &["phone", "mobile", "tel", "msisdn"],
        PiiKind::CardPan => &["card", "pan"],
        PiiKind::Iban => &["iban", "account_number"],
        PiiKind::CnResidentId => &["national_id", "id_card", "resident_id", "id_number", "sfz"],
        PiiKind::IpAddress => &["ip", "ip_address"],
    }
}

fn name_suggests(column: &str, fragments: &[&str]) -> bool {
    let lower = column.to_ascii_lowercase();
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|part| fragments.contains(&part))
        || fragments.iter().any(|f| f.len() > 3 && lower.contains(f))
}

fn result_schema(call: &str) -> SchemaRef {
    call_schema(
        vec![
            Field::new("column_name", DataType::Utf8, false),
            Field::new("data_type", DataType::Utf8, false),
            Field::new("pii_type", DataType::Utf8, false),
            Field::new("sampled", DataType::Int64, false),
            Field::new("non_null", DataType::Int64, false),
            Field::new("matches", DataType::Int64, false),
            Field::new("match_rate", DataType::Float64, true),
            Field::new("name_hint", DataType::Boolean, false),
            Field::new("confidence", DataType::Utf8, false),
        ],
        call,
    )
}

/// SQL `pii_scan`.
#[derive(Debug, Default)]
pub struct PiiScanFunc;

impl TableFunctionImpl for PiiScanFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (source, sample) = match args.exprs() {
            [source] => (source, None),
            [source, sample] => (source, Some(sample)),
            other => {
                return plan_err!(
                    "{NAME} expects 1 or 2 arguments (table_or_query [, sample_rows]), got {}",
                    other.len()
                );
            }
        };
        let source = match literal(NAME, source)? {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => s,
            other => {
                return plan_err!(
                    "{NAME}: argument 'table_or_query' must be a table name or a query string, got {other}"
                );
            }
        };
        let sample = match sample.map(|s| literal(NAME, s)).transpose()? {
            None => DEFAULT_SAMPLE,
            Some(ScalarValue::Int64(Some(n))) if (1..=MAX_SAMPLE).contains(&n) => n,
            Some(other) => {
                return plan_err!(
                    "{NAME}: argument 'sample_rows' must be a whole number from 1 to {MAX_SAMPLE}, got {other}"
                );
            }
        };
        let trimmed = source.trim_start().to_ascii_lowercase();
        let query = if trimmed.starts_with("select") || trimmed.starts_with("with") {
            format!("SELECT * FROM ({source}) LIMIT {sample}")
        } else {
            // A table name, possibly qualified; quoted so any name works.
            let quoted: Vec<String> = source
                .split('.')
                .map(|part| format!("\"{}\"", part.trim().trim_matches('"').replace('"', "\"\"")))
                .collect();
            format!("SELECT * FROM {} LIMIT {sample}", quoted.join("."))
        };
        Ok(Arc::new(PiiScanTable {
            schema: result_schema(&query),
            query,
        }))
    }
}

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn TableProvider) -> Option<&str> {
    table
        .downcast_ref::<PiiScanTable>()
        .map(|t| t.query.as_str())
}

#[derive(Debug)]
struct PiiScanTable {
    query: String,
    schema: SchemaRef,
}

/// Counts per kind in one column.
fn scan_column<'a, A: StringArrayType<'a>>(array: A, counts: &mut [i64; 6], non_null: &mut i64) {
    for text in array.iter().flatten() {
        *non_null += 1;
        for kind in detect_pii(text).iter() {
            counts[kind as usize] += 1;
        }
    }
}

fn confidence(rate: f64, name_hint: bool) -> &'static str {
    if rate >= 0.8 || (rate >= 0.5 && name_hint) {
        "high"
    } else if rate >= 0.3 || (rate > 0.0 && name_hint) {
        "medium"
    } else {
        "low"
    }
}

#[async_trait]
impl TableProvider for PiiScanTable {
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
        let plan = session
            .create_logical_plan(&self.query)
            .await
            .map_err(|e| {
                datafusion::error::DataFusionError::Plan(format!("{NAME}: {}", e.strip_backtrace()))
            })?;
        let physical = session.create_physical_plan(&plan).await?;
        let batches = collect(physical, session.task_ctx()).await?;
        let input_schema = plan.schema().as_arrow().clone();
        let sampled: i64 = batches.iter().map(|b| b.num_rows() as i64).sum();

        let mut rows: Vec<(String, String, String, i64, i64, f64, bool)> = Vec::new();
        for (index, field) in input_schema.fields().iter().enumerate() {
            let column = field.name();
            let is_string = matches!(
                field.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
            );
            let mut counts = [0i64; 6];
            let mut non_null = 0i64;
            if is_string {
                for batch in &batches {
                    let array: &ArrayRef = batch.column(index);
                    match array.data_type() {
                        DataType::Utf8 => {
                            scan_column(array.as_string::<i32>(), &mut counts, &mut non_null)
                        }
                        DataType::LargeUtf8 => {
                            scan_column(array.as_string::<i64>(), &mut counts, &mut non_null)
                        }
                        _ => scan_column(array.as_string_view(), &mut counts, &mut non_null),
                    }
                }
            } else {
                non_null = batches
                    .iter()
                    .map(|b| (b.num_rows() - b.column(index).null_count()) as i64)
                    .sum();
            }
            let data_type = field.data_type().to_string();
            for kind in PiiKind::ALL {
                let matches = counts[kind as usize];
                let hint = name_suggests(column, name_fragments(kind));
                if matches > 0 || (hint && is_string) {
                    let rate = if non_null > 0 {
                        matches as f64 / non_null as f64
                    } else {
                        0.0
                    };
                    rows.push((
                        column.clone(),
                        data_type.clone(),
                        kind.name().into(),
                        non_null,
                        matches,
                        rate,
                        hint,
                    ));
                }
            }
            for (kind, fragments) in NAME_ONLY {
                if name_suggests(column, fragments) {
                    rows.push((
                        column.clone(),
                        data_type.clone(),
                        kind.into(),
                        non_null,
                        0,
                        f64::NAN,
                        true,
                    ));
                }
            }
        }
        let column =
            |f: &dyn Fn(&(String, String, String, i64, i64, f64, bool)) -> String| -> ArrayRef {
                Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
            };
        let batch = RecordBatch::try_new(
            Arc::clone(&self.schema),
            vec![
                column(&|r| r.0.clone()),
                column(&|r| r.1.clone()),
                column(&|r| r.2.clone()),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|_| sampled))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.4))),
                Arc::new(Float64Array::from_iter(
                    rows.iter().map(|r| (!r.5.is_nan()).then_some(r.5)),
                )),
                Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.6)))),
                column(&|r| {
                    if r.5.is_nan() {
                        // Known only from its name: worth a look, not proven.
                        "medium".to_string()
                    } else {
                        confidence(r.5, r.6).to_string()
                    }
                }),
            ],
        )?;
        let table = MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::aggregate_doc_sections::DOC_SECTION_GENERAL,
        "Scans the first `sample_rows` rows (default 10000) of a table, or of a query, and \
         reports likely PII columns: one row per (column, pii_type) with column_name, data_type, \
         pii_type, sampled rows, non_null values, matches (values where detect_pii finds that \
         type), match_rate = matches / non_null, name_hint (the column's name suggests the \
         type) and confidence: 'high' (match_rate >= 0.8, or >= 0.5 with a name hint), \
         'medium' (>= 0.3, or any match with a name hint, or a name-only type), else 'low'. \
         Content types are those of detect_pii; person_name, address, birth_date and postcode \
         have no checkable format and are reported from column names (match_rate NULL).",
        "pii_scan(table_or_query [, sample_rows])",
    )
    .with_sql_example(
        r#"```sql
> SELECT column_name, pii_type, match_rate, confidence FROM pii_scan('customers', 2000)
  WHERE confidence = 'high' ORDER BY column_name;
+-------------+----------------+------------+------------+
| column_name | pii_type       | match_rate | confidence |
+-------------+----------------+------------+------------+
| card_number | card_pan       | 1.0        | high       |
| email       | email          | 1.0        | high       |
| national_id | cn_resident_id | 0.634      | high       |
| phone       | phone          | 1.0        | high       |
+-------------+----------------+------------+------------+
```"#,
    )
    .with_argument(
        "table_or_query",
        "A table name ('customers', 'schema.table') or a query ('SELECT ...').",
    )
    .with_argument(
        "sample_rows",
        "Rows to sample (the first ones), 1 to 10,000,000; default 10,000.",
    )
    .build()
});
