//! The SQL analysts bring from DuckDB, PostgreSQL, Snowflake and BigQuery,
//! turned into SQL that DataFusion plans, before it plans it. Every entry
//! point that plans a statement (the shell, scripts, `-c`, Flight SQL
//! statements and prepared statements) goes through [`logical_plan`], so the
//! forms below work, and are governed, the same everywhere:
//!
//! - `PIVOT` and `UNPIVOT`, the SQL-standard table operators and DuckDB's
//!   statements ([`pivot`]): grouped aggregates with `FILTER` and zipped
//!   `unnest`s over the caller's session, so masks and row filters apply to
//!   the values pivoted;
//! - unqualified `USING` columns ([`using`]): the merged column of the SQL
//!   standard (the left one, the right one for RIGHT JOIN, COALESCE of both
//!   for FULL JOIN) wherever the query names it, and `SELECT *` listing it
//!   once, first. Stock DataFusion 55 resolves them in the select list but
//!   not in WHERE (its `plan_selection` checks ambiguity against the
//!   filter's own columns instead of the plan's USING columns), and takes the
//!   left column for FULL and RIGHT joins;
//! - spellings of other dialects ([`spellings`]): `FETCH FIRST`,
//!   `INTERVAL 30 DAY` in window frames, `arg_max`/`max_by`, `count_if`,
//!   `if`/`iff`, `year(ts)`..., `struct_pack`, `TABLESAMPLE`, `x > ALL
//!   (subquery)`, `EXISTS` in the select list, `(a, b) IN (subquery)`.
//!
//! What cannot be bridged keeps DataFusion's error with the alternative
//! named ([`hints`]).

pub mod hints;
pub mod pivot;
pub mod spellings;
pub mod using;

use datafusion::arrow::array::RecordBatch;
use datafusion::common::Result;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Query, With};

/// Plans `sql` as DataFusion would, after the rewrites of this module.
pub async fn logical_plan(ctx: &SessionContext, sql: &str) -> Result<LogicalPlan> {
    let state = ctx.state();
    let planned = match statement(ctx, sql).await {
        Ok(statement) => state.statement_to_plan(statement).await,
        Err(e) => Err(e),
    };
    planned.map_err(|e| hints::explain(sql, e))
}

/// The parsed and rewritten statement, for callers that plan it themselves.
pub async fn statement(ctx: &SessionContext, sql: &str) -> Result<DfStatement> {
    let state = ctx.state();
    let sql = pivot::duckdb_statements(ctx, sql).await?;
    let sql = spellings::copy_options(&sql);
    let sql = spellings::using_sample(&sql);
    let dialect = state.config().options().sql_parser.dialect;
    let mut statement = state.sql_to_statement(&sql, &dialect)?;
    let inner = match &mut statement {
        DfStatement::Statement(inner) => Some(inner.as_mut()),
        DfStatement::Explain(explain) => match explain.statement.as_mut() {
            DfStatement::Statement(inner) => Some(inner.as_mut()),
            _ => None,
        },
        DfStatement::CopyTo(copy) => match &mut copy.source {
            datafusion::sql::parser::CopyToSource::Query(query) => {
                rewrite_query(ctx, query).await?;
                None
            }
            _ => None,
        },
        _ => None,
    };
    if let Some(inner) = inner {
        pivot::rewrite(ctx, inner).await?;
        using::rewrite(ctx, inner).await?;
        spellings::rewrite(inner)?;
    }
    Ok(statement)
}

async fn rewrite_query(ctx: &SessionContext, query: &mut Query) -> Result<()> {
    let mut statement = datafusion::sql::sqlparser::ast::Statement::Query(Box::new(query.clone()));
    pivot::rewrite(ctx, &mut statement).await?;
    using::rewrite(ctx, &mut statement).await?;
    spellings::rewrite(&mut statement)?;
    if let datafusion::sql::sqlparser::ast::Statement::Query(rewritten) = statement {
        *query = *rewritten;
    }
    Ok(())
}

/// `WITH` clauses of the queries around a node, outermost first, as one
/// clause: a table factor that names a CTE plans only with them.
fn with_prefix(stack: &[Option<With>]) -> String {
    let mut tables = Vec::new();
    let mut recursive = false;
    for with in stack.iter().flatten() {
        recursive |= with.recursive;
        tables.extend(with.cte_tables.iter().map(|cte| cte.to_string()));
    }
    if tables.is_empty() {
        String::new()
    } else {
        format!(
            "WITH {}{} ",
            if recursive { "RECURSIVE " } else { "" },
            tables.join(", ")
        )
    }
}

/// The output column names of `SELECT * FROM factor` (planned, not run).
async fn columns_of(ctx: &SessionContext, with: &str, factor: &str) -> Result<Vec<String>> {
    let plan = ctx
        .state()
        .create_logical_plan(&format!("{with}SELECT * FROM {factor}"))
        .await?;
    Ok(plan
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// Runs a query of the rewrite's own (distinct pivot values) through the
/// caller's session, so its policies apply.
async fn collect(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let plan = ctx.state().create_logical_plan(sql).await?;
    if let Some(governance) = crate::governance::Governance::of(ctx) {
        governance.check(&plan)?;
    }
    ctx.execute_logical_plan(plan).await?.collect().await
}

/// SQL text of tokens. The tokenizer's Display does not double the quotes
/// inside a string (`'O''Brien'` would come back as `'O'Brien'`).
fn render(tokens: &[datafusion::sql::sqlparser::tokenizer::Token]) -> String {
    use datafusion::sql::sqlparser::tokenizer::Token;
    tokens
        .iter()
        .map(|token| match token {
            Token::SingleQuotedString(s) => format!("'{}'", s.replace('\'', "''")),
            Token::NationalStringLiteral(s) => format!("N'{}'", s.replace('\'', "''")),
            Token::DoubleQuotedString(s) => format!("\"{}\"", s.replace('"', "\"\"")),
            Token::Word(w) if w.quote_style == Some('"') => quote_ident(&w.value),
            other => other.to_string(),
        })
        .collect()
}

/// An expression or query the rewrites build as SQL text, parsed back. A
/// failure is a bug in a rewrite, reported with the text.
fn parse_expr(sql: &str) -> Result<datafusion::sql::sqlparser::ast::Expr> {
    use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| {
            datafusion::common::plan_datafusion_err!(
                "SQL rewrite produced an invalid expression ({e}): {sql}"
            )
        })
}

fn parse_query(sql: &str) -> Result<Query> {
    use datafusion::sql::sqlparser::{dialect::GenericDialect, parser::Parser};
    Parser::new(&GenericDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_query())
        .map(|q| *q)
        .map_err(|e| {
            datafusion::common::plan_datafusion_err!(
                "SQL rewrite produced an invalid query ({e}): {sql}"
            )
        })
}

/// `"name"` with embedded quotes doubled.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
