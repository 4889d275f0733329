//! Record linkage for `dedup_candidates` and `dedup_clusters`: the call's
//! arguments, blocking (only records that share a blocking value are
//! compared, so the work grows with the blocks' sizes, not with the
//! square of the table), field-by-field scoring, and connected components.

use std::collections::HashMap;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::compute::{cast, concat, sort_to_indices};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::cast::as_string_array;
use datafusion::common::{Result, ScalarValue, TableReference, exec_err, plan_err};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::Expr;

use super::token_set_ratio::token_set_ratio;
use crate::query_table::{literal, number};

pub const DEFAULT_MAX_BLOCK_SIZE: usize = 1000;
const MAX_BLOCKING_COLUMNS: usize = 32;

/// How two values of one column are compared, each giving 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Comparison {
    JaroWinkler,
    Jaro,
    Levenshtein,
    TokenSet,
    Exact,
}

impl Comparison {
    fn parse(function: &str, spec: &str) -> Result<Self> {
        Ok(match spec.trim().to_ascii_lowercase().as_str() {
            "" | "jaro_winkler" => Self::JaroWinkler,
            "jaro" => Self::Jaro,
            "levenshtein" => Self::Levenshtein,
            "token_set" => Self::TokenSet,
            "exact" => Self::Exact,
            other => {
                return plan_err!(
                    "{function}: argument 'compare_columns': unknown comparison '{other}', expected \
                     jaro_winkler (the default), jaro, levenshtein, token_set or exact, as in \
                     'name, birth_date:exact'"
                );
            }
        })
    }

    fn similarity(self, a: &str, b: &str) -> f64 {
        match self {
            Self::JaroWinkler => strsim::jaro_winkler(a, b),
            Self::Jaro => strsim::jaro(a, b),
            Self::Levenshtein => strsim::normalized_levenshtein(a, b),
            Self::TokenSet => token_set_ratio(a, b) / 100.0,
            Self::Exact => f64::from(u8::from(a == b)),
        }
    }
}

/// The arguments shared by both functions.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkageCall {
    pub table: String,
    pub id: String,
    pub id_type: DataType,
    pub compare: Vec<(String, Comparison)>,
    pub blocking: Vec<String>,
    pub threshold: f64,
    pub max_block_size: usize,
}

fn text_argument(function: &str, argument: &str, expr: &Expr) -> Result<String> {
    match literal(function, expr)? {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Ok(s),
        other => plan_err!("{function}: argument '{argument}' must be a string, got {other}"),
    }
}

fn column_list(function: &str, argument: &str, text: &str) -> Result<Vec<String>> {
    let columns: Vec<String> = text
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if columns.is_empty() {
        return plan_err!(
            "{function}: argument '{argument}' must name at least one column (comma-separated), got '{text}'"
        );
    }
    Ok(columns)
}

/// `"name"` with inner quotes doubled.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl LinkageCall {
    /// Reads `(table, id_column, compare_columns, blocking_columns,
    /// threshold [, max_block_size])`, checking the columns against the
    /// table's schema so a misspelt column fails at planning.
    pub fn from_args(function: &str, session: &dyn Session, exprs: &[Expr]) -> Result<Self> {
        if !(5..=6).contains(&exprs.len()) {
            return plan_err!(
                "{function} expects 5 or 6 arguments (table, id_column, compare_columns, \
                 blocking_columns, threshold [, max_block_size]), as in {function}('customers_raw', \
                 'raw_id', 'name, birth_date:exact, phone:exact', 'phone, email', 0.85), got {}",
                exprs.len()
            );
        }
        let table = text_argument(function, "table", &exprs[0])?;
        let id = text_argument(function, "id_column", &exprs[1])?
            .trim()
            .to_string();
        let compare = column_list(
            function,
            "compare_columns",
            &text_argument(function, "compare_columns", &exprs[2])?,
        )?
        .into_iter()
        .map(|spec| match spec.split_once(':') {
            Some((column, how)) => {
                Ok((column.trim().to_string(), Comparison::parse(function, how)?))
            }
            None => Ok((spec, Comparison::JaroWinkler)),
        })
        .collect::<Result<Vec<_>>>()?;
        let blocking = column_list(
            function,
            "blocking_columns",
            &text_argument(function, "blocking_columns", &exprs[3])?,
        )?;
        if blocking.len() > MAX_BLOCKING_COLUMNS {
            return plan_err!(
                "{function}: argument 'blocking_columns' names {} columns, at most {MAX_BLOCKING_COLUMNS}",
                blocking.len()
            );
        }
        let threshold = number(function, "threshold", &exprs[4])?;
        if !(0.0..=1.0).contains(&threshold) {
            return plan_err!(
                "{function}: argument 'threshold' must be a score from 0 to 1, got {threshold}"
            );
        }
        let max_block_size = match exprs.get(5).map(|e| literal(function, e)).transpose()? {
            None => DEFAULT_MAX_BLOCK_SIZE,
            Some(ScalarValue::Int64(Some(n))) if (2..=1_000_000).contains(&n) => n as usize,
            Some(other) => {
                return plan_err!(
                    "{function}: argument 'max_block_size' must be a whole number from 2 to 1000000, got {other}"
                );
            }
        };
        let schema = table_schema(function, session, &table)?;
        let field = |argument: &str, name: &str| match schema.field_with_name(name) {
            Ok(f) => Ok(f.data_type().clone()),
            Err(_) => plan_err!(
                "{function}: argument '{argument}' names '{name}', which table '{table}' does not have (it has {})",
                schema
                    .fields()
                    .iter()
                    .map(|f| f.name().as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let id_type = field("id_column", &id)?;
        for (column, _) in &compare {
            field("compare_columns", column)?;
        }
        for column in &blocking {
            field("blocking_columns", column)?;
        }
        Ok(Self {
            table,
            id,
            id_type,
            compare,
            blocking,
            threshold,
            max_block_size,
        })
    }

    /// What is read: the id, then the compared and the blocking columns as
    /// text, through the caller's session (so with the caller's policies).
    pub fn sql(&self) -> String {
        // Aliased by position: a column may be both compared and blocked on.
        let columns: Vec<String> = std::iter::once(&self.id)
            .chain(self.compare.iter().map(|(c, _)| c))
            .chain(&self.blocking)
            .enumerate()
            .map(|(i, c)| match i {
                0 => format!("{} AS c0", quoted(c)),
                i => format!("CAST({} AS VARCHAR) AS c{i}", quoted(c)),
            })
            .collect();
        format!(
            "SELECT {} FROM {} WHERE {} IS NOT NULL",
            columns.join(", "),
            TableReference::parse_str(&self.table).to_quoted_string(),
            quoted(&self.id)
        )
    }

    /// Every pair of records that share a blocking value and score at
    /// least the threshold.
    pub async fn link(&self, state: &dyn Session, function: &str) -> Result<Linked> {
        let Some(session) = state.as_any().downcast_ref::<SessionState>() else {
            return plan_err!("{function}: needs a DataFusion SessionState");
        };
        let plan = session.create_logical_plan(&self.sql()).await?;
        let physical = session.create_physical_plan(&plan).await?;
        let batches = datafusion::physical_plan::collect(physical, session.task_ctx()).await?;
        let column = |i: usize| -> Result<ArrayRef> {
            let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
            if parts.is_empty() {
                return Ok(datafusion::arrow::array::new_empty_array(&if i == 0 {
                    self.id_type.clone()
                } else {
                    DataType::Utf8
                }));
            }
            Ok(concat(&parts)?)
        };
        let ids = column(0)?;
        let texts = (1..1 + self.compare.len() + self.blocking.len())
            .map(column)
            .collect::<Result<Vec<_>>>()?;
        let texts = texts
            .iter()
            .map(|a| as_string_array(&cast(a, &DataType::Utf8)?).cloned())
            .collect::<Result<Vec<StringArray>>>()?;
        let (compared, blocking) = texts.split_at(self.compare.len());
        // Order of the ids, so each pair and each cluster is named the same
        // way whatever order the rows arrive in.
        let order = sort_to_indices(&ids, None, None)?;
        let mut rank = vec![0u32; ids.len()];
        for (position, row) in order.values().iter().enumerate() {
            rank[*row as usize] = position as u32;
        }
        let candidates = self.block(function, blocking)?;
        let pairs = self.score(&candidates, compared, &rank);
        Ok(Linked { ids, rank, pairs })
    }

    /// Distinct (row, row, blocking columns shared) with the first row the
    /// lower; an error when a block is larger than allowed.
    fn block(&self, function: &str, blocking: &[StringArray]) -> Result<Vec<(u32, u32, u32)>> {
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        for (b, values) in blocking.iter().enumerate() {
            let mut blocks: HashMap<&str, Vec<u32>> = HashMap::new();
            for row in 0..values.len() {
                if values.is_valid(row) {
                    let value = values.value(row).trim();
                    if !value.is_empty() {
                        blocks.entry(value).or_default().push(row as u32);
                    }
                }
            }
            for (value, rows) in &blocks {
                if rows.len() > self.max_block_size {
                    let shown: String = value.chars().take(40).collect();
                    return exec_err!(
                        "{function}: blocking column '{}' puts {} records in one block ('{shown}'), more \
                         than max_block_size {} ({} comparisons); block on a finer key (a surname's \
                         soundex with the birth year, say), or pass a larger max_block_size as the \
                         sixth argument",
                        self.blocking[b],
                        rows.len(),
                        self.max_block_size,
                        rows.len() * (rows.len() - 1) / 2
                    );
                }
                for (i, &a) in rows.iter().enumerate() {
                    for &c in &rows[i + 1..] {
                        pairs.push(((u64::from(a) << 32) | u64::from(c), 1 << b));
                    }
                }
            }
        }
        pairs.sort_unstable_by_key(|p| p.0);
        let mut merged: Vec<(u32, u32, u32)> = Vec::with_capacity(pairs.len());
        for (key, mask) in pairs {
            let (a, c) = ((key >> 32) as u32, key as u32);
            match merged.last_mut() {
                Some(last) if last.0 == a && last.1 == c => last.2 |= mask,
                _ => merged.push((a, c, mask)),
            }
        }
        Ok(merged)
    }

    /// Scores the candidate pairs, on every core: the mean of the columns'
    /// similarities over the columns both records have.
    fn score(
        &self,
        candidates: &[(u32, u32, u32)],
        compared: &[StringArray],
        rank: &[u32],
    ) -> Vec<ScoredPair> {
        let threads = std::thread::available_parallelism().map_or(1, usize::from);
        let chunk = candidates.len().div_ceil(threads).max(1);
        let score_chunk = |part: &[(u32, u32, u32)]| -> Vec<ScoredPair> {
            part.iter()
                .filter_map(|&(a, b, blocks)| {
                    let similarities: Vec<Option<f64>> = compared
                        .iter()
                        .zip(&self.compare)
                        .map(|(values, (_, how))| {
                            let (a, b) = (a as usize, b as usize);
                            if values.is_null(a) || values.is_null(b) {
                                return None;
                            }
                            let (x, y) = (values.value(a).trim(), values.value(b).trim());
                            (!x.is_empty() && !y.is_empty()).then(|| how.similarity(x, y))
                        })
                        .collect();
                    let known: Vec<f64> = similarities.iter().flatten().copied().collect();
                    if known.is_empty() {
                        return None;
                    }
                    let score = known.iter().sum::<f64>() / known.len() as f64;
                    (score >= self.threshold).then(|| {
                        let (first, second) = if rank[a as usize] < rank[b as usize] {
                            (a, b)
                        } else {
                            (b, a)
                        };
                        ScoredPair {
                            first,
                            second,
                            score,
                            compared: known.len() as i32,
                            similarities,
                            blocks,
                        }
                    })
                })
                .collect()
        };
        let mut pairs: Vec<ScoredPair> = std::thread::scope(|scope| {
            let handles: Vec<_> = candidates
                .chunks(chunk)
                .map(|part| scope.spawn(move || score_chunk(part)))
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        pairs.sort_unstable_by_key(|p| (rank[p.first as usize], rank[p.second as usize]));
        pairs
    }
}

/// One matched pair; `first` has the lower id.
#[derive(Debug, Clone)]
pub struct ScoredPair {
    pub first: u32,
    pub second: u32,
    pub score: f64,
    pub compared: i32,
    pub similarities: Vec<Option<f64>>,
    /// Bit b set when the records share blocking column b.
    pub blocks: u32,
}

/// The records read and the pairs that matched.
#[derive(Debug)]
pub struct Linked {
    pub ids: ArrayRef,
    /// Each row's position in id order.
    pub rank: Vec<u32>,
    pub pairs: Vec<ScoredPair>,
}

impl Linked {
    /// Each row's cluster: the row of lowest id among those its matches
    /// connect it to, directly or through others (union-find).
    pub fn clusters(&self) -> Vec<u32> {
        let mut parent: Vec<u32> = (0..self.ids.len() as u32).collect();
        fn root(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                let up = parent[parent[x as usize] as usize];
                parent[x as usize] = up;
                x = up;
            }
            x
        }
        for pair in &self.pairs {
            let (a, b) = (
                root(&mut parent, pair.first),
                root(&mut parent, pair.second),
            );
            if a != b {
                // The root is the lower id, so it names the cluster.
                let (low, high) = if self.rank[a as usize] < self.rank[b as usize] {
                    (a, b)
                } else {
                    (b, a)
                };
                parent[high as usize] = low;
            }
        }
        (0..self.ids.len() as u32)
            .map(|row| root(&mut parent, row))
            .collect()
    }
}

/// The schema of the table a `table` argument names.
fn table_schema(function: &str, session: &dyn Session, table: &str) -> Result<SchemaRef> {
    let Some(state) = session.as_any().downcast_ref::<SessionState>() else {
        return plan_err!("{function}: needs a DataFusion SessionState");
    };
    let reference = TableReference::parse_str(table);
    let provider = state.schema_for_ref(reference.clone()).and_then(|schema| {
        // The catalog's schemas hold their tables in memory; the future is
        // ready when first polled.
        futures::executor::block_on(schema.table(reference.table()))
    });
    match provider {
        Ok(Some(provider)) => Ok(provider.schema()),
        _ => plan_err!(
            "{function}: argument 'table' must name a table or view, got '{table}' (for a query, \
             CREATE VIEW v AS SELECT ... and pass 'v')"
        ),
    }
}
