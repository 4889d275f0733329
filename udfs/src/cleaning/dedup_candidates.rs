//! `dedup_candidates(table, id_column, compare_columns, blocking_columns,
//! threshold [, max_block_size])`: the pairs of records that are likely
//! the same person, with their scores.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::linkage::LinkageCall;
use crate::query_table::{QueryReport, QueryReportTable};

const NAME: &str = "dedup_candidates";

/// SQL `dedup_candidates`.
#[derive(Debug, Default)]
pub struct DedupCandidatesFunc;

impl TableFunctionImpl for DedupCandidatesFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = LinkageCall::from_args(NAME, args.session(), args.exprs())?;
        let mut fields = vec![
            Field::new("id_a", call.id_type.clone(), false),
            Field::new("id_b", call.id_type.clone(), false),
            Field::new("score", DataType::Float64, false),
            Field::new("columns_compared", DataType::Int32, false),
            Field::new("blocked_on", DataType::Utf8, false),
        ];
        fields.extend(
            call.compare
                .iter()
                .map(|(c, _)| Field::new(format!("{c}_similarity"), DataType::Float64, true)),
        );
        let text = format!("{call:?}");
        Ok(Arc::new(QueryReportTable::new(
            Candidates {
                sql: call.sql(),
                call,
            },
            fields,
            &text,
        )))
    }
}

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn TableProvider) -> Option<&str> {
    QueryReportTable::<Candidates>::backing_query(table)
}

#[derive(Debug)]
struct Candidates {
    call: LinkageCall,
    sql: String,
}

#[async_trait]
impl QueryReport for Candidates {
    fn query(&self) -> &str {
        &self.sql
    }

    async fn rows(&self, state: &dyn Session, schema: &SchemaRef) -> Result<RecordBatch> {
        let linked = self.call.link(state, NAME).await?;
        let pairs = &linked.pairs;
        let rows = |f: fn(&super::linkage::ScoredPair) -> u32| -> UInt32Array {
            pairs.iter().map(f).collect()
        };
        let mut columns: Vec<ArrayRef> = vec![
            take(&linked.ids, &rows(|p| p.first), None)?,
            take(&linked.ids, &rows(|p| p.second), None)?,
            Arc::new(pairs.iter().map(|p| p.score).collect::<Float64Array>()),
            Arc::new(pairs.iter().map(|p| p.compared).collect::<Int32Array>()),
            Arc::new(
                pairs
                    .iter()
                    .map(|p| {
                        self.call
                            .blocking
                            .iter()
                            .enumerate()
                            .filter(|(b, _)| p.blocks & (1 << b) != 0)
                            .map(|(_, name)| name.as_str())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .map(Some)
                    .collect::<StringArray>(),
            ),
        ];
        for c in 0..self.call.compare.len() {
            columns.push(Arc::new(
                pairs
                    .iter()
                    .map(|p| p.similarities[c])
                    .collect::<Float64Array>(),
            ));
        }
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Candidate duplicate records of a table, for deduplication and record linkage: one row \
         per pair of records that share a value of at least one blocking column and whose \
         score reaches threshold, with id_a < id_b, the score, how many columns were compared, \
         the blocking columns the pair shares, and each compared column's similarity. Only \
         pairs within a block are compared (blocking), so a million customers take seconds \
         when blocks are small; a block larger than max_block_size (default 1000) is an error \
         that names it. The score is the mean, over the compared columns that both records \
         have (not NULL or empty), of a similarity from 0 to 1 chosen per column with a \
         suffix: jaro_winkler (the default), jaro, levenshtein (1 - distance / longer length), \
         token_set (token_set_ratio / 100, for reordered names) or exact; pairs with no \
         column to compare are left out. Columns are compared as text, so standardise them \
         first (phone_e164, email_normalize, to_halfwidth, lower). Blocking values are \
         trimmed; NULL and empty values block nothing. The table is read through the caller's \
         session, with the caller's masks and row filters. dedup_clusters groups the pairs \
         into one cluster per person.",
        "dedup_candidates(table, id_column, compare_columns, blocking_columns, threshold [, max_block_size])",
    )
    .with_sql_example(
        r#"```sql
> CREATE TABLE people (pid BIGINT, name VARCHAR, birth VARCHAR, phone VARCHAR) AS VALUES
  (1, 'john smith', '1980-01-02', '+447400123456'), (2, 'jon smith', '1980-01-02', '+447400123456'),
  (3, 'jane doe', '1990-05-05', NULL), (4, 'jane doe', '1990-05-05', '+447400999999'), (5, 'bob', NULL, NULL);
> SELECT id_a, id_b, round(score, 4) AS score, blocked_on
  FROM dedup_candidates('people', 'pid', 'name, birth:exact, phone:exact', 'birth, phone', 0.9);
+------+------+--------+-------------+
| id_a | id_b | score  | blocked_on  |
+------+------+--------+-------------+
| 1    | 2    | 0.9911 | birth,phone |
| 3    | 4    | 1.0    | birth       |
+------+------+--------+-------------+
```"#,
    )
    .with_argument("table", "The name of a table or view, one row per record.")
    .with_argument("id_column", "The column that identifies a record; its type is kept.")
    .with_argument(
        "compare_columns",
        "Comma-separated columns to compare, each optionally with :jaro_winkler, :jaro, \
         :levenshtein, :token_set or :exact.",
    )
    .with_argument(
        "blocking_columns",
        "Comma-separated columns; records are compared when they share a value of any of \
         them (up to 32).",
    )
    .with_argument("threshold", "The least score (0 to 1) a pair needs to be returned.")
    .with_argument(
        "max_block_size",
        "Optional, default 1000: the most records one blocking value may hold.",
    )
    .build()
});
