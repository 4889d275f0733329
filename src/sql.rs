//! SQL text handling shared by the REPL and the script runner: splitting a
//! source into statements with the SQL tokenizer (so `;` inside strings,
//! comments and dollar quotes is not a separator), variable substitution, and
//! finsight's one statement of its own, `ASSERT`.
//!
//! ```sql
//! ASSERT (SELECT count(*) FROM customers) = 100000, 'one row per customer';
//! ASSERT NOT EXISTS (SELECT * FROM loans WHERE score NOT BETWEEN 0 AND 1);
//! ```
//!
//! `ASSERT condition [, 'message']` passes when the condition is TRUE. FALSE or
//! NULL fails it; a failure reports both sides of a comparison, or the first
//! rows of an `EXISTS`/`NOT EXISTS` subquery, so the log says what was found.

use std::collections::HashMap;
use std::sync::Arc;

use crate::governance::{Access, Governance};
use datafusion::arrow::array::{Array, BooleanArray, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{DataFrame, SessionContext};
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr as SqlExpr, UnaryOperator};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

/// One statement of a source text and where it starts (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    pub line: u64,
    pub column: u64,
    /// `-- expect error: TEXT` in the comments just before the statement:
    /// the statement must fail with an error containing TEXT.
    pub expect_error: Option<String>,
}

/// The text after `expect error:` in a `--` comment, if it is one.
fn expected_error(comment: &str) -> Option<String> {
    let trimmed = comment.trim();
    let lower = trimmed.to_ascii_lowercase();
    let rest = lower.strip_prefix("expect error")?;
    let rest = rest.trim_start().strip_prefix(':')?;
    let offset = trimmed.len() - rest.len();
    let text = trimmed[offset..].trim();
    Some(text.to_string())
}

/// A source text that cannot be split, e.g. an unterminated string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitError {
    pub message: String,
    pub line: u64,
    pub column: u64,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

fn tokenize(text: &str) -> Result<Vec<TokenWithSpan>, SplitError> {
    Tokenizer::new(&GenericDialect {}, text)
        .tokenize_with_location()
        .map_err(|e| SplitError {
            message: format!("SQL syntax error: {}", e.message),
            line: e.location.line,
            column: e.location.column,
        })
}

/// `current_user()` and `session_user()` (Snowflake, MySQL) as the SQL
/// standard's `current_user` and `session_user`, which DataFusion's parser
/// takes only without parentheses. The text is unchanged otherwise.
pub fn identity_calls_without_parentheses(sql: &str) -> std::borrow::Cow<'_, str> {
    use datafusion::sql::sqlparser::keywords::Keyword;
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.into();
    };
    let significant =
        |from: usize| (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)));
    let mut drop = vec![false; tokens.len()];
    for (i, token) in tokens.iter().enumerate() {
        if let Token::Word(word) = token
            && matches!(word.keyword, Keyword::CURRENT_USER | Keyword::SESSION_USER)
            && word.quote_style.is_none()
            && let Some(open) = significant(i + 1)
            && tokens[open] == Token::LParen
            && let Some(close) = significant(open + 1)
            && tokens[close] == Token::RParen
        {
            drop[i + 1..=close].iter_mut().for_each(|d| *d = true);
        }
    }
    if !drop.contains(&true) {
        return sql.into();
    }
    tokens
        .iter()
        .zip(drop)
        .filter(|(_, dropped)| !dropped)
        .map(|(token, _)| token.to_string())
        .collect::<String>()
        .into()
}

/// JDBC/ODBC-style `?` parameters as DataFusion's positional `$1, $2, ...`,
/// numbered left to right. `?` inside strings and comments is untouched.
pub fn numbered_placeholders(sql: &str) -> std::borrow::Cow<'_, str> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.into();
    };
    if !tokens
        .iter()
        .any(|t| matches!(t, Token::Placeholder(p) if p == "?"))
    {
        return sql.into();
    }
    let mut next = 0;
    tokens
        .iter()
        .map(|token| match token {
            Token::Placeholder(p) if p == "?" => {
                next += 1;
                format!("${next}")
            }
            other => other.to_string(),
        })
        .collect::<String>()
        .into()
}

fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

/// Byte offset of each line's start, to turn the tokenizer's line/column
/// (1-based, columns in characters) into slices of the source.
struct LineIndex<'a> {
    source: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(source: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            source,
            line_starts,
        }
    }

    fn offset(&self, line: u64, column: u64) -> usize {
        let Some(&start) = self.line_starts.get((line as usize).saturating_sub(1)) else {
            return self.source.len();
        };
        self.source[start..]
            .char_indices()
            .nth((column as usize).saturating_sub(1))
            .map_or(self.source.len(), |(i, _)| start + i)
    }
}

/// Splits `source` into statements at top-level semicolons. Statements made
/// only of comments and whitespace are dropped.
pub fn split_statements(source: &str) -> Result<Vec<Statement>, SplitError> {
    let tokens = tokenize(source)?;
    let index = LineIndex::new(source);
    let mut statements = Vec::new();
    let mut start: Option<&TokenWithSpan> = None;
    let mut last: Option<&TokenWithSpan> = None;
    // `-- expect error:` seen since the last statement ended.
    let mut expect: Option<String> = None;
    let mut flush =
        |start: Option<&TokenWithSpan>, last: Option<&TokenWithSpan>, expect: Option<String>| {
            if let (Some(first), Some(last)) = (start, last) {
                let from = index.offset(first.span.start.line, first.span.start.column);
                let to = index.offset(last.span.end.line, last.span.end.column);
                statements.push(Statement {
                    text: source[from..to.max(from)].to_string(),
                    line: first.span.start.line,
                    column: first.span.start.column,
                    expect_error: expect,
                });
            }
        };
    for token in &tokens {
        match &token.token {
            Token::SemiColon => {
                flush(start.take(), last.take(), expect.take());
            }
            Token::Whitespace(Whitespace::SingleLineComment { comment, .. }) if start.is_none() => {
                if let Some(text) = expected_error(comment) {
                    expect = Some(text);
                }
            }
            t if is_trivia(t) => {}
            _ => {
                start.get_or_insert(token);
                last = Some(token);
            }
        }
    }
    flush(start, last, expect);
    Ok(statements)
}

/// True when `text` holds an unfinished statement: no terminating `;` yet, or
/// an open string or comment. Used by the REPL to keep reading lines.
pub fn is_incomplete(text: &str) -> bool {
    let Ok(tokens) = tokenize(text) else {
        // An unterminated string or block comment: more input may close it.
        return true;
    };
    let significant: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| {
            !is_trivia(t) && !matches!(t, Token::Whitespace(Whitespace::SingleLineComment { .. }))
        })
        .collect();
    !significant.is_empty() && !matches!(significant.last(), Some(Token::SemiColon))
}

/// Replaces `${name}` with `--var name=value` values. An unknown name is an
/// error rather than an empty string, which would silently change the query.
pub fn substitute_variables(
    source: &str,
    vars: &HashMap<String, String>,
) -> Result<String, SplitError> {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    let mut consumed = 0;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let Some(end) = after.find('}') else {
            let (line, column) = line_column(source, consumed + pos);
            return Err(SplitError {
                message: "unterminated variable reference '${' (expected ${name})".into(),
                line,
                column,
            });
        };
        let name = after[..end].trim();
        match vars.get(name) {
            Some(value) => out.push_str(value),
            None => {
                let (line, column) = line_column(source, consumed + pos);
                return Err(SplitError {
                    message: format!("variable '{name}' is not defined (pass --var {name}=VALUE)"),
                    line,
                    column,
                });
            }
        }
        consumed += pos + 2 + end + 1;
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn line_column(source: &str, offset: usize) -> (u64, u64) {
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u64, column as u64)
}

/// An `ASSERT` statement, split into its condition and optional message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub condition: String,
    pub message: Option<String>,
}

/// Recognises `ASSERT condition [, 'message']`; `None` for any other statement.
pub fn parse_assertion(statement: &str) -> Option<Assertion> {
    let tokens = tokenize(statement).ok()?;
    let mut significant: Vec<&TokenWithSpan> =
        tokens.iter().filter(|t| !is_trivia(&t.token)).collect();
    while significant
        .last()
        .is_some_and(|t| t.token == Token::SemiColon)
    {
        significant.pop();
    }
    let first = significant.first()?;
    match &first.token {
        Token::Word(w) if w.value.eq_ignore_ascii_case("assert") => {}
        _ => return None,
    }
    let index = LineIndex::new(statement);
    let body_start = index.offset(first.span.end.line, first.span.end.column);
    let last = significant.last()?;
    let mut body_end = index.offset(last.span.end.line, last.span.end.column);
    let mut message = None;
    // `, 'message'` at the end and outside parentheses is the message.
    let n = significant.len();
    if n >= 3
        && let (Token::Comma, Token::SingleQuotedString(text)) =
            (&significant[n - 2].token, &significant[n - 1].token)
    {
        let depth: i64 = significant[..n - 2]
            .iter()
            .map(|t| match t.token {
                Token::LParen => 1,
                Token::RParen => -1,
                _ => 0,
            })
            .sum();
        if depth == 0 {
            let comma = &significant[n - 2];
            body_end = index.offset(comma.span.start.line, comma.span.start.column);
            message = Some(text.clone());
        }
    }
    Some(Assertion {
        condition: statement[body_start..body_end].trim().to_string(),
        message,
    })
}

/// What running one statement produced.
#[derive(Debug)]
pub enum Outcome {
    /// A query or a statement; DDL yields an empty schema.
    Rows {
        schema: SchemaRef,
        /// The first rows (all of them without a limit).
        batches: Vec<RecordBatch>,
        /// How many rows the statement returned in all.
        total_rows: usize,
    },
    AssertPassed,
    AssertFailed {
        /// What was asserted: the message if given, else the condition.
        what: String,
        /// The values found, e.g. `left: 41, right: 42`.
        actual: String,
    },
}

/// Runs an assertion against `ctx`, adding what it reads to `access`.
pub async fn check_assertion(
    ctx: &SessionContext,
    assertion: &Assertion,
    access: &mut Access,
) -> Result<Outcome> {
    let condition = &assertion.condition;
    if condition.is_empty() {
        return plan_err!(
            "ASSERT: expected a boolean condition, e.g. ASSERT (SELECT count(*) FROM t) > 0"
        );
    }
    let parsed = parse_expr(&identity_calls_without_parentheses(condition))?;
    // DataFusion plans EXISTS only in filters; as a value it becomes a count.
    let evaluated = rewrite_exists(parsed.clone())?;
    // Evaluate the sides of a comparison alongside it, so a failure shows them.
    let (extra, labels): (Vec<String>, Vec<&str>) = match &evaluated {
        SqlExpr::BinaryOp { left, op, right } if is_comparison(op) => (
            vec![left.to_string(), right.to_string()],
            vec!["left", "right"],
        ),
        _ => (vec![], vec![]),
    };
    // Aliases keep `ASSERT 2 = 2` from projecting two columns named "Int64(2)".
    let mut select = format!("SELECT ({evaluated}) AS assert_condition");
    for (e, label) in extra.iter().zip(&labels) {
        select.push_str(&format!(", ({e}) AS assert_{label}"));
    }
    let batches = dataframe(ctx, &select, access).await?.collect().await?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return plan_err!("ASSERT: the condition produced no row (expected one boolean)");
    };
    if rows != 1 {
        return plan_err!("ASSERT: the condition produced {rows} rows (expected one boolean)");
    }
    let column = batch.column(0);
    if !matches!(column.data_type(), DataType::Boolean | DataType::Null) {
        return plan_err!(
            "ASSERT: expected a boolean condition, got a value of type {}",
            column.data_type()
        );
    }
    let passed = column
        .as_any()
        .downcast_ref::<BooleanArray>()
        .is_some_and(|b| b.is_valid(0) && b.value(0));
    if passed {
        return Ok(Outcome::AssertPassed);
    }
    let mut actual = Vec::new();
    // A NullArray has no null buffer, so `is_null` alone would miss `ASSERT NULL`.
    if column.data_type() == &DataType::Null || column.is_null(0) {
        actual.push("condition is NULL".to_string());
    }
    for (i, label) in labels.iter().enumerate() {
        actual.push(format!(
            "{label}: {}",
            cell(batch.column(i + 1).as_ref(), 0)
        ));
    }
    if let Some(subquery) = exists_subquery(&parsed) {
        let sample = dataframe(ctx, &format!("SELECT * FROM ({subquery}) LIMIT 5"), access)
            .await?
            .collect()
            .await?;
        let rendered = crate::output::render_plain(&sample);
        actual.push(format!("offending rows (up to 5):\n{rendered}"));
    }
    Ok(Outcome::AssertFailed {
        what: assertion
            .message
            .clone()
            .unwrap_or_else(|| condition.clone()),
        actual: actual.join(", "),
    })
}

/// Parses an `ASSERT` condition; the shell's syntax check uses it too.
pub fn parse_condition(text: &str) -> Result<SqlExpr, ParserError> {
    Parser::new(&GenericDialect {})
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
}

fn parse_expr(text: &str) -> Result<SqlExpr> {
    parse_condition(text)
        .map_err(|e| DataFusionError::Plan(format!("ASSERT: cannot parse condition: {e}")))
}

/// Replaces `[NOT] EXISTS (q)` (under NOT, AND, OR and parentheses) with
/// `(SELECT count(*) FROM (SELECT 1 FROM (q) LIMIT 1)) > 0` (or `= 0`).
fn rewrite_exists(expr: SqlExpr) -> Result<SqlExpr> {
    Ok(match expr {
        SqlExpr::Exists { subquery, negated } => {
            let op = if negated { "=" } else { ">" };
            parse_expr(&format!(
                "(SELECT count(*) FROM (SELECT 1 FROM ({subquery}) AS exists_rows LIMIT 1) AS exists_one) {op} 0"
            ))?
        }
        SqlExpr::UnaryOp { op, expr } => SqlExpr::UnaryOp {
            op,
            expr: Box::new(rewrite_exists(*expr)?),
        },
        SqlExpr::Nested(inner) => SqlExpr::Nested(Box::new(rewrite_exists(*inner)?)),
        SqlExpr::BinaryOp { left, op, right }
            if matches!(op, BinaryOperator::And | BinaryOperator::Or) =>
        {
            SqlExpr::BinaryOp {
                left: Box::new(rewrite_exists(*left)?),
                op,
                right: Box::new(rewrite_exists(*right)?),
            }
        }
        other => other,
    })
}

fn is_comparison(op: &BinaryOperator) -> bool {
    matches!(
        op,
        BinaryOperator::Eq
            | BinaryOperator::NotEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Gt
            | BinaryOperator::GtEq
    )
}

fn exists_subquery(expr: &SqlExpr) -> Option<String> {
    match expr {
        SqlExpr::Exists { subquery, .. } => Some(subquery.to_string()),
        SqlExpr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => exists_subquery(expr),
        SqlExpr::Nested(inner) => exists_subquery(inner),
        _ => None,
    }
}

fn cell(array: &dyn Array, row: usize) -> String {
    let options = FormatOptions::new().with_null("NULL");
    ArrayFormatter::try_new(array, &options)
        .map(|f| f.value(row).to_string())
        .unwrap_or_else(|e| format!("<{e}>"))
}

/// Plans `sql` in `ctx`: with a policy, refuses what the identity may not
/// run (before anything executes: DDL runs at this step) and adds the
/// tables, columns, masks and filters it reads to `access`.
pub async fn dataframe(ctx: &SessionContext, sql: &str, access: &mut Access) -> Result<DataFrame> {
    let state = ctx.state();
    let sql = identity_calls_without_parentheses(sql);
    if let Some(dp) = crate::dp::parse(ctx, &sql)? {
        return crate::dp::dataframe(ctx, &dp, &sql, access).await;
    }
    if let Some(grant) = parse_budget_grant(&sql)? {
        return grant_budget(ctx, &grant, &sql);
    }
    let plan = crate::dialect::logical_plan(ctx, &sql).await?;
    let governance = Governance::of(ctx);
    if let Some(governance) = &governance {
        governance.check(&plan)?;
    }
    add_access(&state, &plan, access);
    // Table functions (pii_scan, binning_table...) plan a query of their own
    // when scanned, through this session and so through its policies; the
    // statement reads what those queries read. Bounded: a query string can
    // nest another table function call.
    let mut planned = 0;
    while let Some(inner) = access.inner_queries.pop()
        && planned < 16
    {
        planned += 1;
        // An inner query that does not plan fails the statement later with
        // the table function's own error.
        if let Ok(plan) = state.create_logical_plan(&inner).await {
            if let Some(governance) = &governance {
                governance.check(&plan)?;
            }
            add_access(&state, &plan, access);
        }
    }
    ctx.execute_logical_plan(plan).await
}

/// Records what `plan` reads. The optimized plan names only the columns a
/// query reads (pushed-down projections) and the base tables behind views;
/// the unoptimized plan is the fallback when a statement does not optimize
/// (DDL).
fn add_access(
    state: &datafusion::execution::SessionState,
    plan: &LogicalPlan,
    access: &mut Access,
) {
    match state.optimize(plan) {
        Ok(optimized) => access.add_plan(&optimized),
        Err(_) => access.add_plan(plan),
    }
}

/// Runs one statement: an `ASSERT`, `ERASE SUBJECT 'id'`, or SQL streamed
/// and kept up to `limit` rows (all rows with `None`) while every row is
/// counted. With a policy, the statement is checked and recorded in the
/// audit trail, whether it succeeds, fails or is refused.
pub async fn execute(
    ctx: &SessionContext,
    statement: &str,
    limit: Option<usize>,
) -> Result<Outcome> {
    let mut access = Access::default();
    let result = execute_unaudited(ctx, statement, limit, &mut access).await;
    if let Some(governance) = Governance::of(ctx) {
        let (rows, error) = match &result {
            Ok(Outcome::Rows { total_rows, .. }) => (Some(*total_rows), None),
            Ok(Outcome::AssertPassed) => (None, None),
            Ok(Outcome::AssertFailed { what, .. }) => {
                (None, Some(format!("assertion failed: {what}")))
            }
            Err(e) => (None, Some(e.strip_backtrace())),
        };
        // A statement that cannot be recorded does not count as done.
        governance
            .record(statement, &access, rows, error.as_deref())
            .map_err(|e| DataFusionError::Execution(format!("audit trail: {e}")))?;
    }
    result
}

async fn execute_unaudited(
    ctx: &SessionContext,
    statement: &str,
    limit: Option<usize>,
    access: &mut Access,
) -> Result<Outcome> {
    if let Some(assertion) = parse_assertion(statement) {
        return check_assertion(ctx, &assertion, access).await;
    }
    if let Some(subject) = parse_erase(statement)? {
        return erase(ctx, &subject);
    }
    let df = dataframe(ctx, statement, access).await?;
    let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
    // Physical planning refuses some forms the logical planner took
    // (correlated subqueries it could not decorrelate): name the alternative.
    let stream = df
        .execute_stream()
        .await
        .map_err(|e| crate::dialect::hints::explain(statement, e))?;
    let (batches, total_rows) = crate::output::collect_limited(stream, limit).await?;
    Ok(Outcome::Rows {
        schema,
        batches,
        total_rows,
    })
}

/// Recognises `ERASE SUBJECT 'id'`; `Ok(None)` for any other statement.
fn parse_erase(statement: &str) -> Result<Option<String>> {
    let Ok(tokens) = tokenize(statement) else {
        return Ok(None);
    };
    let significant: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !is_trivia(t))
        .collect();
    let is_word =
        |t: &Token, w: &str| matches!(t, Token::Word(word) if word.value.eq_ignore_ascii_case(w));
    match significant.as_slice() {
        [erase, subject, rest @ ..] if is_word(erase, "ERASE") && is_word(subject, "SUBJECT") => {
            match rest {
                [Token::SingleQuotedString(id)] => Ok(Some(id.clone())),
                [Token::Number(id, _)] => Ok(Some(id.clone())),
                _ => {
                    plan_err!("ERASE SUBJECT: expected one identifier, e.g. ERASE SUBJECT '12345'")
                }
            }
        }
        _ => Ok(None),
    }
}

/// Checks the syntax of a statement finsight runs itself (not DataFusion's
/// parser): `Some(Ok)` or `Some(Err(message))` for `SELECT WITH
/// DIFFERENTIAL_PRIVACY`, `GRANT PRIVACY BUDGET` and `ERASE SUBJECT`,
/// `None` for any other statement.
pub fn check_finsight_statement(statement: &str) -> Option<Result<(), String>> {
    let checked = match crate::dp::syntax::parse(statement, &std::collections::HashSet::new()) {
        Ok(Some(_)) => Some(Ok(())),
        Err(e) => Some(Err(e.strip_backtrace())),
        Ok(None) => None,
    };
    checked
        .or_else(|| match parse_budget_grant(statement) {
            Ok(Some(_)) => Some(Ok(())),
            Err(e) => Some(Err(e.strip_backtrace())),
            Ok(None) => None,
        })
        .or_else(|| match parse_erase(statement) {
            Ok(Some(_)) => Some(Ok(())),
            Err(e) => Some(Err(e.strip_backtrace())),
            Ok(None) => None,
        })
}

/// `GRANT PRIVACY BUDGET epsilon = E [, delta = D] ON [TABLE] t TO [USER] u`.
#[derive(Debug, Clone, PartialEq)]
struct BudgetGrant {
    epsilon: f64,
    delta: f64,
    table: String,
    user: String,
}

const GRANT_FORM: &str =
    "GRANT PRIVACY BUDGET epsilon = 1.0 [, delta = 1e-6] ON [TABLE] table TO [USER] user";

/// Recognizes `GRANT PRIVACY BUDGET`; `Ok(None)` for any other statement.
fn parse_budget_grant(statement: &str) -> Result<Option<BudgetGrant>> {
    let Ok(tokens) = tokenize(statement) else {
        return Ok(None);
    };
    let t: Vec<&Token> = tokens
        .iter()
        .map(|t| &t.token)
        .filter(|t| !is_trivia(t) && **t != Token::SemiColon)
        .collect();
    let is_word =
        |t: &Token, w: &str| matches!(t, Token::Word(word) if word.value.eq_ignore_ascii_case(w));
    if !(t.len() >= 3
        && is_word(t[0], "GRANT")
        && is_word(t[1], "PRIVACY")
        && is_word(t[2], "BUDGET"))
    {
        return Ok(None);
    }
    let mut epsilon = None;
    let mut delta = 0.0;
    let mut i = 3;
    let number = |t: Option<&&Token>| -> Option<f64> {
        match t {
            Some(Token::Number(n, _)) => n.parse().ok(),
            _ => None,
        }
    };
    while i + 2 < t.len() && matches!(t[i + 1], Token::Eq) {
        let value = number(t.get(i + 2));
        match (t[i], value) {
            (name, Some(v)) if is_word(name, "epsilon") && v.is_finite() && v > 0.0 => {
                epsilon = Some(v)
            }
            (name, Some(v)) if is_word(name, "delta") && (0.0..1.0).contains(&v) => delta = v,
            _ => {
                return plan_err!(
                    "GRANT PRIVACY BUDGET: expected a positive epsilon and a delta in [0, 1): {GRANT_FORM}"
                );
            }
        }
        i += 3;
        if t.get(i).is_some_and(|t| **t == Token::Comma) {
            i += 1;
        }
    }
    let word = |t: Option<&&Token>| match t {
        Some(Token::Word(w)) => Some(w.value.clone()),
        Some(Token::SingleQuotedString(s)) => Some(s.clone()),
        _ => None,
    };
    let Some(epsilon) = epsilon else {
        return plan_err!("GRANT PRIVACY BUDGET: epsilon is required: {GRANT_FORM}");
    };
    if !t.get(i).is_some_and(|t| is_word(t, "ON")) {
        return plan_err!("GRANT PRIVACY BUDGET: expected ON table: {GRANT_FORM}");
    }
    i += 1;
    if t.get(i).is_some_and(|t| is_word(t, "TABLE")) {
        i += 1;
    }
    let table = word(t.get(i));
    i += 1;
    if !t.get(i).is_some_and(|t| is_word(t, "TO")) {
        return plan_err!("GRANT PRIVACY BUDGET: expected TO user: {GRANT_FORM}");
    }
    i += 1;
    if t.get(i).is_some_and(|t| is_word(t, "USER")) {
        i += 1;
    }
    let user = word(t.get(i));
    match (table, user) {
        (Some(table), Some(user)) if i + 1 == t.len() => Ok(Some(BudgetGrant {
            epsilon,
            delta,
            table,
            user,
        })),
        _ => plan_err!("GRANT PRIVACY BUDGET: {GRANT_FORM}"),
    }
}

fn grant_budget(ctx: &SessionContext, grant: &BudgetGrant, statement: &str) -> Result<DataFrame> {
    let Some(governance) = Governance::of(ctx) else {
        return plan_err!(
            "GRANT PRIVACY BUDGET needs a policy (--policy), whose audit trail keeps the budgets"
        );
    };
    governance.grant_budget(
        statement,
        &grant.user,
        &grant.table,
        grant.epsilon,
        grant.delta,
    )?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_name", DataType::Utf8, false),
        Field::new("dataset", DataType::Utf8, false),
        Field::new("epsilon_granted", DataType::Float64, false),
        Field::new("delta_granted", DataType::Float64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(vec![grant.user.clone()])),
            Arc::new(StringArray::from(vec![grant.table.clone()])),
            Arc::new(datafusion::arrow::array::Float64Array::from(vec![
                grant.epsilon,
            ])),
            Arc::new(datafusion::arrow::array::Float64Array::from(vec![
                grant.delta,
            ])),
        ],
    )?;
    ctx.read_batch(batch)
}

/// `ERASE SUBJECT`: the erasure of `finsight erase`, one row per table.
fn erase(ctx: &SessionContext, subject: &str) -> Result<Outcome> {
    let Some(governance) = Governance::of(ctx) else {
        return plan_err!(
            "ERASE SUBJECT needs a policy declaring the personal-data tables (--policy)"
        );
    };
    let Some(dir) = governance.data_dir() else {
        return plan_err!("ERASE SUBJECT needs a data directory (--dir)");
    };
    let receipt = crate::governance::erasure::erase_subject(&governance, dir, subject)
        .map_err(|e| DataFusionError::Execution(e.to_string()))?;
    let schema = Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("files_rewritten", DataType::UInt64, false),
        Field::new("rows_removed", DataType::UInt64, false),
        Field::new("rows_remaining", DataType::UInt64, false),
    ]));
    let t = &receipt.tables;
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                t.iter().map(|r| r.table.as_str()),
            )),
            Arc::new(UInt64Array::from_iter_values(
                t.iter().map(|r| r.files_rewritten as u64),
            )),
            Arc::new(UInt64Array::from_iter_values(
                t.iter().map(|r| r.rows_removed),
            )),
            Arc::new(UInt64Array::from_iter_values(
                t.iter().map(|r| r.rows_remaining),
            )),
        ],
    )?;
    Ok(Outcome::Rows {
        schema,
        total_rows: batch.num_rows(),
        batches: vec![batch],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_become_numbered_placeholders() {
        assert_eq!(
            numbered_placeholders("SELECT '?' AS q, a FROM t WHERE a = ? AND b < ? -- ?"),
            "SELECT '?' AS q, a FROM t WHERE a = $1 AND b < $2 -- ?"
        );
        assert_eq!(numbered_placeholders("SELECT $1"), "SELECT $1");
    }

    #[test]
    fn current_user_takes_optional_parentheses() {
        assert_eq!(
            identity_calls_without_parentheses(
                "SELECT current_user(), CURRENT_USER ( ), session_user() AS s FROM t"
            ),
            "SELECT current_user, CURRENT_USER, session_user AS s FROM t"
        );
        // Strings, quoted names and other calls stay as they are.
        for sql in [
            "SELECT 'current_user()' AS x",
            "SELECT \"current_user\"() FROM t",
            "SELECT current_role(), current_user FROM t",
        ] {
            assert_eq!(identity_calls_without_parentheses(sql), sql);
        }
    }

    #[test]
    fn semicolons_in_strings_and_comments_do_not_split() {
        let source = "SELECT ';' AS a; -- one; two\nSELECT 2\n  /* ; */ ;\n\n-- only a comment\n";
        let statements = split_statements(source).expect("valid test input");
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].text, "SELECT ';' AS a");
        assert_eq!((statements[0].line, statements[0].column), (1, 1));
        assert_eq!(statements[1].text, "SELECT 2");
        assert_eq!((statements[1].line, statements[1].column), (2, 1));
    }

    #[test]
    fn expected_errors_are_read_from_the_comments_before_a_statement() {
        let source = "-- expect error: permission denied\nSELECT 1;\nSELECT 2 -- expect error: not this one\n;\n-- a note\n--   Expect Error:  budget exceeded  \n\nSELECT 3;";
        let statements = split_statements(source).expect("valid test input");
        let expected: Vec<Option<&str>> = statements
            .iter()
            .map(|s| s.expect_error.as_deref())
            .collect();
        assert_eq!(
            expected,
            vec![Some("permission denied"), None, Some("budget exceeded")]
        );
    }

    #[test]
    fn unterminated_string_reports_its_position() {
        let err = split_statements("SELECT 1;\nSELECT 'abc;\n").expect_err("expected an error");
        assert_eq!(err.line, 2);
        assert!(err.message.contains("Unterminated"), "{}", err.message);
    }

    #[test]
    fn incomplete_until_semicolon() {
        assert!(is_incomplete("SELECT 1"));
        assert!(is_incomplete("SELECT 'a;"));
        assert!(!is_incomplete("SELECT 1;"));
        assert!(!is_incomplete("SELECT 1; -- done"));
        assert!(!is_incomplete("   "));
    }

    #[test]
    fn assertions_split_condition_and_message() {
        let a = parse_assertion("ASSERT (SELECT count(*) FROM t) = 3, 'three rows'")
            .expect("valid test input");
        assert_eq!(a.condition, "(SELECT count(*) FROM t) = 3");
        assert_eq!(a.message.as_deref(), Some("three rows"));
        let b = parse_assertion("assert f(1, 'x') = 'y' ;").expect("valid test input");
        assert_eq!(b.condition, "f(1, 'x') = 'y'");
        assert_eq!(b.message, None);
        assert!(parse_assertion("SELECT 1").is_none());
    }

    #[test]
    fn variables_are_substituted_and_unknown_ones_rejected() {
        let vars = HashMap::from([("day".to_string(), "2024-01-31".to_string())]);
        assert_eq!(
            substitute_variables("WHERE d = '${day}'", &vars).expect("valid test input"),
            "WHERE d = '2024-01-31'"
        );
        let err = substitute_variables("SELECT 1;\nSELECT ${nope}", &vars)
            .expect_err("expected an error");
        assert_eq!((err.line, err.column), (2, 8));
    }
}
