//! `dedup_clusters(table, id_column, compare_columns, blocking_columns,
//! threshold [, max_block_size])`: every record with the cluster of
//! records that are the same person, connected components over the pairs
//! `dedup_candidates` returns.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, SchemaRef};
use datafusion::catalog::{Session, TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::linkage::LinkageCall;
use crate::query_table::{QueryReport, QueryReportTable};

const NAME: &str = "dedup_clusters";

/// SQL `dedup_clusters`.
#[derive(Debug, Default)]
pub struct DedupClustersFunc;

impl TableFunctionImpl for DedupClustersFunc {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let call = LinkageCall::from_args(NAME, args.session(), args.exprs())?;
        let fields = vec![
            Field::new("id", call.id_type.clone(), false),
            Field::new("cluster_id", call.id_type.clone(), false),
            Field::new("cluster_size", DataType::Int64, false),
        ];
        let text = format!("{call:?}");
        Ok(Arc::new(QueryReportTable::new(
            Clusters {
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
    QueryReportTable::<Clusters>::backing_query(table)
}

#[derive(Debug)]
struct Clusters {
    call: LinkageCall,
    sql: String,
}

#[async_trait]
impl QueryReport for Clusters {
    fn query(&self) -> &str {
        &self.sql
    }

    async fn rows(&self, state: &dyn Session, schema: &SchemaRef) -> Result<RecordBatch> {
        let linked = self.call.link(state, NAME).await?;
        let cluster = linked.clusters();
        let mut sizes = vec![0i64; cluster.len()];
        for &root in &cluster {
            sizes[root as usize] += 1;
        }
        let rows = UInt32Array::from_iter_values(0..cluster.len() as u32);
        let roots = UInt32Array::from(cluster.clone());
        let columns: Vec<ArrayRef> = vec![
            take(&linked.ids, &rows, None)?,
            take(&linked.ids, &roots, None)?,
            Arc::new(
                cluster
                    .iter()
                    .map(|&root| sizes[root as usize])
                    .collect::<Int64Array>(),
            ),
        ];
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Every record of a table (with a non-NULL id) and its cluster: the records that \
         dedup_candidates, called with the same arguments, links to it directly or through \
         others (connected components), named by the lowest id among them, with the \
         cluster's size. A record without a match is a cluster of its own (cluster_id = id, \
         size 1). Join it back and GROUP BY cluster_id for one row per person. Chains can \
         join two people through a third record that resembles both: look at the large \
         clusters, and raise the threshold or compare more columns if they are wrong.",
        "dedup_clusters(table, id_column, compare_columns, blocking_columns, threshold [, max_block_size])",
    )
    .with_sql_example(
        r#"```sql
> -- people as in dedup_candidates' example
> SELECT id, cluster_id, cluster_size
  FROM dedup_clusters('people', 'pid', 'name, birth:exact, phone:exact', 'birth, phone', 0.9) ORDER BY id;
+----+------------+--------------+
| id | cluster_id | cluster_size |
+----+------------+--------------+
| 1  | 1          | 2            |
| 2  | 1          | 2            |
| 3  | 3          | 2            |
| 4  | 3          | 2            |
| 5  | 5          | 1            |
+----+------------+--------------+
```"#,
    )
    .with_argument("table", "The name of a table or view, one row per record.")
    .with_argument("id_column", "The column that identifies a record; its type is kept.")
    .with_argument(
        "compare_columns",
        "As for dedup_candidates: comma-separated columns, each optionally with a comparison.",
    )
    .with_argument("blocking_columns", "As for dedup_candidates.")
    .with_argument("threshold", "The least score (0 to 1) that links two records.")
    .with_argument(
        "max_block_size",
        "Optional, default 1000: the most records one blocking value may hold.",
    )
    .build()
});
