//! PIVOT and UNPIVOT as grouped aggregates, in both spellings analysts use:
//!
//! ```sql
//! -- SQL-standard table operators (Snowflake, BigQuery, Oracle, Databricks)
//! SELECT * FROM monthly_sales PIVOT (sum(revenue) FOR month IN ('2024-01', '2024-02'));
//! SELECT * FROM quarterly UNPIVOT (revenue FOR quarter IN (q1, q2, q3, q4));
//! -- DuckDB's statements
//! PIVOT monthly_sales ON month USING sum(revenue) GROUP BY region;
//! UNPIVOT quarterly ON COLUMNS(* EXCLUDE (id, region)) INTO NAME quarter VALUE revenue;
//! ```
//!
//! A pivot is `SELECT groups, agg(x) FILTER (WHERE col = v) AS "v", ... FROM
//! source GROUP BY groups`: the groups are the GROUP BY of DuckDB's
//! statement, or else every source column the aggregates and the ON columns
//! do not name (both dialects' rule). Without an IN list the values are the
//! column's distinct values (several ON columns: every combination, as in
//! DuckDB), read through the caller's session, so a masked column pivots on
//! masked values and a row filter hides the values of rows it hides. Column
//! names follow DuckDB: the value, `value_alias` with an aggregate alias or
//! several aggregates, values of several ON columns joined by `_`.
//!
//! An unpivot zips two `unnest`s (the column names and the values) over one
//! scan of the source; NULL values are dropped unless `INCLUDE NULLS`.

use datafusion::common::{Result, ScalarValue, plan_datafusion_err, plan_err};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::{
    Expr, ExprWithAlias, NullInclusion, PivotValueSource, Query, SelectItem, Statement,
    TableFactor, Value, VisitMut, VisitorMut, With,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use std::ops::ControlFlow;

use super::{collect, columns_of, parse_expr, parse_query, quote_ident, render, with_prefix};

/// Most pivot columns a query may make from a column's distinct values.
const MAX_PIVOT_VALUES: usize = 1000;

/// The values a pivot spreads into columns.
enum Values {
    /// Tuples (one expression per ON column) and their names.
    Listed(Vec<(Vec<Expr>, Option<String>)>),
    /// The distinct values of each ON column, every combination.
    Distinct,
    /// The rows of a query, one column per ON column.
    Query(String),
}

struct PivotSpec {
    /// The FROM item (a table, a subquery), with its alias.
    source: String,
    aggregates: Vec<(Expr, Option<String>)>,
    on: Vec<Expr>,
    values: Values,
    /// DuckDB's explicit GROUP BY; otherwise the columns left over.
    groups: Option<Vec<String>>,
    default_on_null: Option<Expr>,
}

enum UnpivotColumns {
    /// Expressions and the names they get in the name column.
    Listed(Vec<(String, String)>),
    /// Every column but these (DuckDB's `COLUMNS(* EXCLUDE (...))`).
    AllExcept(Vec<String>),
}

struct UnpivotSpec {
    source: String,
    value: String,
    name: String,
    columns: UnpivotColumns,
    include_nulls: bool,
}

/// Lower-case names of the columns an expression reads (unqualified, or the
/// last part of a qualified name).
fn referenced_columns(expr: &Expr, into: &mut Vec<String>) {
    use datafusion::sql::sqlparser::ast::Visit;
    struct Columns<'a>(&'a mut Vec<String>);
    impl datafusion::sql::sqlparser::ast::Visitor for Columns<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Identifier(ident) => self.0.push(ident_name(ident)),
                Expr::CompoundIdentifier(parts) => {
                    if let Some(last) = parts.last() {
                        self.0.push(ident_name(last));
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let _ = expr.visit(&mut Columns(into));
}

/// An identifier as DataFusion resolves it: unquoted ones are lower-cased.
fn ident_name(ident: &datafusion::sql::sqlparser::ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// A listed pivot value's column name: the text of a string, the digits of a number.
fn value_name(expr: &Expr) -> String {
    match expr {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => s.clone(),
            Value::Null => "NULL".to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(ident) => ident.value.clone(),
        other => other.to_string(),
    }
}

/// A distinct value read back: its SQL literal and its column name.
fn literal(value: &ScalarValue) -> Result<(Expr, String)> {
    if value.is_null() {
        return Ok((parse_expr("NULL")?, "NULL".to_string()));
    }
    let unparser = datafusion::sql::unparser::Unparser::default();
    let expr = unparser.expr_to_sql(&datafusion::logical_expr::lit(value.clone()))?;
    let name = match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        other => other.to_string(),
    };
    Ok((expr, name))
}

async fn distinct_values(
    ctx: &SessionContext,
    with: &str,
    source: &str,
    on: &Expr,
) -> Result<Vec<(Expr, String)>> {
    let sql = format!(
        "{with}SELECT DISTINCT {on} FROM {source} ORDER BY 1 NULLS LAST LIMIT {}",
        MAX_PIVOT_VALUES + 1
    );
    let mut values = Vec::new();
    for batch in collect(ctx, &sql).await? {
        for row in 0..batch.num_rows() {
            values.push(literal(&ScalarValue::try_from_array(
                batch.column(0),
                row,
            )?)?);
        }
    }
    if values.len() > MAX_PIVOT_VALUES {
        return plan_err!(
            "PIVOT ON {on}: more than {MAX_PIVOT_VALUES} distinct values; name the ones wanted with ON {on} IN (...)"
        );
    }
    Ok(values)
}

async fn pivot_sql(ctx: &SessionContext, with: &str, spec: &PivotSpec) -> Result<String> {
    if spec.on.is_empty() {
        return plan_err!("PIVOT: expected at least one ON column");
    }
    let groups = match &spec.groups {
        Some(groups) => groups.clone(),
        None => {
            let mut used = Vec::new();
            for (aggregate, _) in &spec.aggregates {
                referenced_columns(aggregate, &mut used);
            }
            for on in &spec.on {
                referenced_columns(on, &mut used);
            }
            columns_of(ctx, with, &spec.source)
                .await?
                .into_iter()
                .filter(|c| !used.iter().any(|u| u == c || *u == c.to_lowercase()))
                .map(|c| quote_ident(&c))
                .collect()
        }
    };
    // (one literal per ON column, the column name of the tuple)
    let tuples: Vec<(Vec<Expr>, String)> = match &spec.values {
        Values::Listed(listed) => listed
            .iter()
            .map(|(exprs, alias)| {
                let name = alias
                    .clone()
                    .unwrap_or_else(|| exprs.iter().map(value_name).collect::<Vec<_>>().join("_"));
                (exprs.clone(), name)
            })
            .collect(),
        Values::Distinct => {
            let mut tuples: Vec<(Vec<Expr>, String)> = vec![(Vec::new(), String::new())];
            for on in &spec.on {
                let values = distinct_values(ctx, with, &spec.source, on).await?;
                let mut next = Vec::new();
                for (exprs, name) in &tuples {
                    for (value, value_name) in &values {
                        let mut exprs = exprs.clone();
                        exprs.push(value.clone());
                        let name = if name.is_empty() {
                            value_name.clone()
                        } else {
                            format!("{name}_{value_name}")
                        };
                        next.push((exprs, name));
                    }
                }
                tuples = next;
            }
            if tuples.len() > MAX_PIVOT_VALUES {
                return plan_err!(
                    "PIVOT: {} combinations of values; name the ones wanted with ON col IN (...)",
                    tuples.len()
                );
            }
            tuples
        }
        Values::Query(query) => {
            let mut tuples = Vec::new();
            for batch in collect(ctx, &format!("{with}{query}")).await? {
                if batch.num_columns() != spec.on.len() {
                    return plan_err!(
                        "PIVOT ... IN (subquery): the subquery returns {} columns for {} pivot columns",
                        batch.num_columns(),
                        spec.on.len()
                    );
                }
                for row in 0..batch.num_rows() {
                    let mut exprs = Vec::new();
                    let mut names = Vec::new();
                    for column in batch.columns() {
                        let (expr, name) = literal(&ScalarValue::try_from_array(column, row)?)?;
                        exprs.push(expr);
                        names.push(name);
                    }
                    tuples.push((exprs, names.join("_")));
                }
            }
            tuples
        }
    };
    let mut select = groups.clone();
    for (values, name) in &tuples {
        if values.len() != spec.on.len() {
            return plan_err!(
                "PIVOT: {} values in ({}) for {} pivot columns",
                values.len(),
                values
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                spec.on.len()
            );
        }
        let condition = spec
            .on
            .iter()
            .zip(values)
            .map(|(on, value)| match value {
                Expr::Value(v) if matches!(v.value, Value::Null) => format!("({on}) IS NULL"),
                value => format!("({on}) = {value}"),
            })
            .collect::<Vec<_>>()
            .join(" AND ");
        for (aggregate, alias) in &spec.aggregates {
            let Expr::Function(function) = aggregate else {
                return plan_err!("PIVOT: expected an aggregate function call, found {aggregate}");
            };
            let mut function = function.clone();
            let filter = match function.filter.take() {
                Some(existing) => format!("({existing}) AND {condition}"),
                None => condition.clone(),
            };
            function.filter = Some(Box::new(parse_expr(&filter)?));
            let mut cell = Expr::Function(function).to_string();
            if let Some(default) = &spec.default_on_null {
                cell = format!("coalesce({cell}, {default})");
            }
            let column = match alias {
                Some(alias) => format!("{name}_{alias}"),
                None if spec.aggregates.len() == 1 => name.clone(),
                None => format!("{name}_{aggregate}"),
            };
            select.push(format!("{cell} AS {}", quote_ident(&column)));
        }
    }
    let group_by = if groups.is_empty() {
        String::new()
    } else {
        format!(" GROUP BY {}", groups.join(", "))
    };
    Ok(format!(
        "SELECT {} FROM {}{group_by}",
        select.join(", "),
        spec.source
    ))
}

async fn unpivot_sql(ctx: &SessionContext, with: &str, spec: &UnpivotSpec) -> Result<String> {
    let columns = columns_of(ctx, with, &spec.source).await?;
    let unpivoted: Vec<(String, String)> = match &spec.columns {
        UnpivotColumns::Listed(listed) => listed.clone(),
        UnpivotColumns::AllExcept(kept) => columns
            .iter()
            .filter(|c| !kept.iter().any(|k| k == *c || *k == c.to_lowercase()))
            .map(|c| (quote_ident(c), c.clone()))
            .collect(),
    };
    if unpivoted.is_empty() {
        return plan_err!("UNPIVOT: no columns to unpivot");
    }
    let mut names_read = Vec::new();
    for (expr, _) in &unpivoted {
        referenced_columns(&parse_expr(expr)?, &mut names_read);
    }
    let others: Vec<String> = columns
        .iter()
        .filter(|c| !names_read.iter().any(|u| u == *c || *u == c.to_lowercase()))
        .map(|c| quote_ident(c))
        .collect();
    let name = quote_ident(&spec.name);
    let value = quote_ident(&spec.value);
    let labels = unpivoted
        .iter()
        .map(|(_, label)| format!("'{}'", label.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(", ");
    let values = unpivoted
        .iter()
        .map(|(expr, _)| expr.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut kept = others.clone();
    kept.push(name.clone());
    kept.push(value.clone());
    let mut inner = others;
    inner.push(format!("unnest(make_array({labels})) AS {name}"));
    inner.push(format!("unnest(make_array({values})) AS {value}"));
    let filter = if spec.include_nulls {
        String::new()
    } else {
        format!(" WHERE {value} IS NOT NULL")
    };
    Ok(format!(
        "SELECT {} FROM (SELECT {} FROM {}) AS __unpivot{filter}",
        kept.join(", "),
        inner.join(", "),
        spec.source
    ))
}

// --- SQL-standard PIVOT / UNPIVOT table factors --------------------------------

/// Finds the first PIVOT/UNPIVOT table factor (innermost first) with the
/// WITH clauses around it, or replaces it.
struct TableOperators {
    stack: Vec<Option<With>>,
    found: Option<(TableFactor, String)>,
    replacement: Option<TableFactor>,
}

impl VisitorMut for TableOperators {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.stack.push(query.with.clone());
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.stack.pop();
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if matches!(
            factor,
            TableFactor::Pivot { .. } | TableFactor::Unpivot { .. }
        ) {
            match self.replacement.take() {
                Some(replacement) => *factor = replacement,
                None => self.found = Some((factor.clone(), with_prefix(&self.stack))),
            }
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites every SQL-standard PIVOT and UNPIVOT of `statement`.
pub async fn rewrite(ctx: &SessionContext, statement: &mut Statement) -> Result<()> {
    // Each round replaces one operator; nesting is bounded by the text.
    for _ in 0..64 {
        let mut finder = TableOperators {
            stack: Vec::new(),
            found: None,
            replacement: None,
        };
        let _ = statement.visit(&mut finder);
        let Some((factor, with)) = finder.found else {
            return Ok(());
        };
        let (sql, alias) = match factor {
            TableFactor::Pivot {
                table,
                aggregate_functions,
                value_column,
                value_source,
                default_on_null,
                alias,
            } => {
                let values = match value_source {
                    PivotValueSource::List(list) => Values::Listed(
                        list.into_iter()
                            .map(|ExprWithAlias { expr, alias }| {
                                let exprs = match expr {
                                    Expr::Tuple(items) if value_column.len() > 1 => items,
                                    expr => vec![expr],
                                };
                                (exprs, alias.map(|a| a.value))
                            })
                            .collect(),
                    ),
                    PivotValueSource::Any(_) => Values::Distinct,
                    PivotValueSource::Subquery(query) => Values::Query(query.to_string()),
                };
                let spec = PivotSpec {
                    source: table.to_string(),
                    aggregates: aggregate_functions
                        .into_iter()
                        .map(|a| (a.expr, a.alias.map(|a| a.value)))
                        .collect(),
                    on: value_column,
                    values,
                    groups: None,
                    default_on_null,
                };
                (pivot_sql(ctx, &with, &spec).await?, alias)
            }
            TableFactor::Unpivot {
                table,
                value,
                name,
                columns,
                null_inclusion,
                alias,
            } => {
                let spec = UnpivotSpec {
                    source: table.to_string(),
                    value: match &value {
                        Expr::Identifier(ident) => ident_name(ident),
                        other => other.to_string(),
                    },
                    name: ident_name(&name),
                    columns: UnpivotColumns::Listed(
                        columns
                            .into_iter()
                            .map(|c| {
                                let label = match &c.alias {
                                    Some(alias) => alias.value.clone(),
                                    None => value_name(&c.expr),
                                };
                                (c.expr.to_string(), label)
                            })
                            .collect(),
                    ),
                    include_nulls: matches!(null_inclusion, Some(NullInclusion::IncludeNulls)),
                };
                (unpivot_sql(ctx, &with, &spec).await?, alias)
            }
            _ => return Ok(()),
        };
        let replacement = TableFactor::Derived {
            lateral: false,
            subquery: Box::new(parse_query(&sql)?),
            alias,
            sample: None,
        };
        let mut replacer = TableOperators {
            stack: Vec::new(),
            found: None,
            replacement: Some(replacement),
        };
        let _ = statement.visit(&mut replacer);
    }
    plan_err!("PIVOT/UNPIVOT: nested too deeply")
}

// --- DuckDB's PIVOT / UNPIVOT statements ---------------------------------------

fn is_word(token: &Token, keyword: Keyword) -> bool {
    matches!(token, Token::Word(w) if w.keyword == keyword && w.quote_style.is_none())
}

/// DuckDB's `PIVOT t ON ... USING ...` and `UNPIVOT t ON ... INTO ...`, at
/// the start of the text or of a parenthesised subquery, replaced by
/// `SELECT * FROM (grouped aggregate) ...`. Other text is returned as is.
pub async fn duckdb_statements(ctx: &SessionContext, sql: &str) -> Result<String> {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(sql.to_string());
    };
    let significant = |i: usize| !matches!(tokens[i], Token::Whitespace(_));
    let mut starts = Vec::new();
    let mut previous: Option<usize> = None;
    for i in 0..tokens.len() {
        if !significant(i) {
            continue;
        }
        let at_start = match previous {
            None => true,
            Some(p) => tokens[p] == Token::LParen || tokens[p] == Token::SemiColon,
        };
        if at_start
            && (is_word(&tokens[i], Keyword::PIVOT) || is_word(&tokens[i], Keyword::UNPIVOT))
        {
            starts.push(i);
        }
        previous = Some(i);
    }
    if starts.is_empty() {
        return Ok(sql.to_string());
    }
    // Innermost last: rewrite from the end so earlier indexes stay valid.
    let mut tokens = tokens;
    for &start in starts.iter().rev() {
        let mut depth = 0i32;
        let mut end = tokens.len();
        for (i, token) in tokens.iter().enumerate().skip(start) {
            match token {
                Token::LParen => depth += 1,
                Token::RParen if depth == 0 => {
                    end = i;
                    break;
                }
                Token::RParen => depth -= 1,
                Token::SemiColon if depth == 0 => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let span: Vec<Token> = tokens[start..end].to_vec();
        let replacement = duckdb_statement(ctx, span).await?;
        tokens.splice(
            start..end,
            [Token::Whitespace(
                datafusion::sql::sqlparser::tokenizer::Whitespace::Space,
            )]
            .into_iter()
            .chain(
                Tokenizer::new(&GenericDialect {}, &replacement)
                    .tokenize()
                    .map_err(|e| plan_datafusion_err!("PIVOT rewrite: {e}"))?,
            ),
        );
    }
    Ok(render(&tokens))
}

fn syntax(statement: &str, e: ParserError) -> datafusion::common::DataFusionError {
    plan_datafusion_err!(
        "{statement}: {e}; expected {}",
        if statement == "PIVOT" {
            "PIVOT table ON column [IN (values)] [USING aggregate [AS name], ...] [GROUP BY columns]"
        } else {
            "UNPIVOT table ON column, ... | COLUMNS(* EXCLUDE (columns)) [INTO NAME name VALUE value]"
        }
    )
}

enum DuckDbStatement {
    Pivot(Box<PivotSpec>, String),
    Unpivot(UnpivotSpec, String),
}

async fn duckdb_statement(ctx: &SessionContext, tokens: Vec<Token>) -> Result<String> {
    // Parsed first: the parser is not Send, so it must not live across an await.
    match parse_duckdb_statement(&tokens)? {
        Some(DuckDbStatement::Pivot(spec, rest)) => {
            let sql = pivot_sql(ctx, "", &spec).await?;
            Ok(format!("SELECT * FROM ({sql}) AS __pivot {rest}"))
        }
        Some(DuckDbStatement::Unpivot(spec, rest)) => {
            let sql = unpivot_sql(ctx, "", &spec).await?;
            Ok(format!("SELECT * FROM ({sql}) AS __unpivot_result {rest}"))
        }
        None => Ok(render(&tokens)),
    }
}

fn parse_duckdb_statement(tokens: &[Token]) -> Result<Option<DuckDbStatement>> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect).with_tokens(tokens.to_vec());
    if parser.parse_keyword(Keyword::PIVOT) {
        let source = parser
            .parse_table_factor()
            .map_err(|e| syntax("PIVOT", e))?;
        parser
            .expect_keyword(Keyword::ON)
            .map_err(|e| syntax("PIVOT", e))?;
        let on_items = parser
            .parse_comma_separated(Parser::parse_expr)
            .map_err(|e| syntax("PIVOT", e))?;
        let aggregates = if parser.parse_keyword(Keyword::USING) {
            parser
                .parse_comma_separated(Parser::parse_select_item)
                .map_err(|e| syntax("PIVOT", e))?
                .into_iter()
                .map(|item| match item {
                    SelectItem::UnnamedExpr(expr) => Ok((expr, None)),
                    SelectItem::ExprWithAlias { expr, alias } => Ok((expr, Some(alias.value))),
                    other => plan_err!("PIVOT ... USING: expected an aggregate, found {other}"),
                })
                .collect::<Result<Vec<_>>>()?
        } else {
            vec![(parse_expr("count(*)")?, None)]
        };
        let groups = if parser.parse_keywords(&[Keyword::GROUP, Keyword::BY]) {
            Some(
                parser
                    .parse_comma_separated(Parser::parse_expr)
                    .map_err(|e| syntax("PIVOT", e))?
                    .iter()
                    .map(|g| g.to_string())
                    .collect(),
            )
        } else {
            None
        };
        let rest = rest_of(&parser, tokens);
        let mut on = Vec::new();
        let mut lists = Vec::new();
        for item in on_items {
            match item {
                Expr::InList {
                    expr,
                    list,
                    negated: false,
                } => {
                    on.push(*expr);
                    lists.push(Some(list));
                }
                other => {
                    on.push(other);
                    lists.push(None);
                }
            }
        }
        let values = if lists.iter().all(Option::is_some) {
            let mut tuples: Vec<Vec<Expr>> = vec![Vec::new()];
            for list in lists.into_iter().flatten() {
                tuples = tuples
                    .into_iter()
                    .flat_map(|t| {
                        list.iter().map(move |v| {
                            let mut t = t.clone();
                            t.push(v.clone());
                            t
                        })
                    })
                    .collect();
            }
            Values::Listed(tuples.into_iter().map(|t| (t, None)).collect())
        } else if lists.iter().all(Option::is_none) {
            Values::Distinct
        } else {
            return plan_err!("PIVOT ... ON: give an IN list for every ON column or for none");
        };
        let spec = PivotSpec {
            source: source.to_string(),
            aggregates,
            on,
            values,
            groups,
            default_on_null: None,
        };
        return Ok(Some(DuckDbStatement::Pivot(Box::new(spec), rest)));
    }
    if parser.parse_keyword(Keyword::UNPIVOT) {
        let source = parser
            .parse_table_factor()
            .map_err(|e| syntax("UNPIVOT", e))?;
        parser
            .expect_keyword(Keyword::ON)
            .map_err(|e| syntax("UNPIVOT", e))?;
        let columns = if parser.parse_keyword(Keyword::COLUMNS) {
            let parsed = (|| -> Result<Vec<String>, ParserError> {
                parser.expect_token(&Token::LParen)?;
                parser.expect_token(&Token::Mul)?;
                parser.expect_keyword(Keyword::EXCLUDE)?;
                parser.expect_token(&Token::LParen)?;
                let kept = parser.parse_comma_separated(|p| p.parse_identifier())?;
                parser.expect_token(&Token::RParen)?;
                parser.expect_token(&Token::RParen)?;
                Ok(kept.iter().map(ident_name).collect())
            })()
            .map_err(|e| syntax("UNPIVOT", e))?;
            UnpivotColumns::AllExcept(parsed)
        } else {
            UnpivotColumns::Listed(
                parser
                    .parse_comma_separated(Parser::parse_expr)
                    .map_err(|e| syntax("UNPIVOT", e))?
                    .into_iter()
                    .map(|e| (e.to_string(), value_name(&e)))
                    .collect(),
            )
        };
        let (mut name, mut value) = ("name".to_string(), "value".to_string());
        if parser.parse_keyword(Keyword::INTO) {
            let parsed = (|| -> Result<(String, String), ParserError> {
                parser.expect_keyword(Keyword::NAME)?;
                let name = parser.parse_identifier()?;
                parser.expect_keyword(Keyword::VALUE)?;
                let value = parser.parse_identifier()?;
                Ok((ident_name(&name), ident_name(&value)))
            })()
            .map_err(|e| syntax("UNPIVOT", e))?;
            (name, value) = parsed;
        }
        let rest = rest_of(&parser, tokens);
        let spec = UnpivotSpec {
            source: source.to_string(),
            value,
            name,
            columns,
            include_nulls: false,
        };
        return Ok(Some(DuckDbStatement::Unpivot(spec, rest)));
    }
    Ok(None)
}

/// The text after what the parser consumed (ORDER BY, LIMIT...).
fn rest_of(parser: &Parser, tokens: &[Token]) -> String {
    render(&tokens[parser.index().min(tokens.len())..])
}
