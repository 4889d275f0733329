//! The `SELECT WITH DIFFERENTIAL_PRIVACY` statement, in BigQuery's form:
//!
//! ```sql
//! SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 1.0, delta = 1e-6,
//!        privacy_unit_column = t.customer_id, max_groups_contributed = 3)
//!        c.region, COUNT(*), SUM(t.amount, 0, 500)
//! FROM transactions t JOIN customers c USING (customer_id)
//! GROUP BY c.region
//! ```
//!
//! finsight removes the clause before DataFusion's parser sees the text,
//! then splits the query into three parts: the *input* (the FROM and WHERE,
//! projecting the privacy unit, the group keys and the aggregates'
//! arguments), the *aggregates* (which mechanism each needs), and the
//! *post-processing* (the SELECT list, HAVING, ORDER BY and LIMIT over the
//! released groups only, which cannot reach any other table).

use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::common::{DataFusionError, Result, plan_datafusion_err, plan_err};
use datafusion::sql::sqlparser::ast::{
    DuplicateTreatment, Expr as SqlExpr, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, Ident, ObjectName, OrderByKind, Query, Select, SelectItem, SetExpr, Statement,
    TableFactor, TableWithJoins, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// The option names, for messages.
const OPTIONS: &str = "epsilon, delta, privacy_unit_column, max_groups_contributed, max_rows_per_group, public_groups, seed";

/// Names of the released table's columns.
pub const UNIT: &str = "__dp_unit";
pub fn group_column(i: usize) -> String {
    format!("__dp_g{i}")
}
pub fn value_column(i: usize) -> String {
    format!("__dp_v{i}")
}
pub fn aggregate_column(i: usize) -> String {
    format!("__dp_a{i}")
}
/// The table the post-processing query reads: the released groups.
pub const RELEASE_TABLE: &str = "__dp_release";

/// `OPTIONS (...)` of a DP query.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub epsilon: f64,
    pub delta: Option<f64>,
    /// The privacy unit column as written (`customer_id`, `t.customer_id`).
    pub unit: SqlExpr,
    /// At most this many groups per privacy unit (default 1).
    pub max_groups: u64,
    /// At most this many rows per privacy unit in each group (default 1).
    pub max_rows: u64,
    /// Seeds the choice of rows and groups kept per unit; random when absent.
    pub seed: Option<u64>,
    /// A table listing the groups to release, without a threshold.
    pub public_groups: Option<ObjectName>,
}

/// What a DP aggregate computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AggregateKind {
    /// `COUNT(*)`
    CountRows,
    /// `COUNT(x)`: rows where x is not NULL.
    CountValues,
    /// `COUNT(DISTINCT unit)`: distinct privacy units.
    CountUnits,
    Sum,
    Avg,
    /// `VAR_POP` / `VARIANCE`: population variance.
    Variance,
    /// `STDDEV_POP` / `STDDEV`.
    Stddev,
    /// `PERCENTILE_CONT(x, p, lower, upper)`.
    Percentile(f64),
}

/// One DP aggregate of the query; identical calls share one.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub kind: AggregateKind,
    /// Index of its argument among [`Shape::values`].
    pub value: Option<usize>,
    /// Clamping bounds (for sums, means, variances and percentiles).
    pub lower: f64,
    pub upper: f64,
    /// The call as written, for EXPLAIN and column names.
    pub text: String,
}

/// A parsed DP statement.
#[derive(Debug, Clone)]
pub struct DpStatement {
    pub explain: bool,
    pub options: Options,
    pub shape: Shape,
}

/// The parts of a DP query (see the module documentation).
#[derive(Debug, Clone)]
pub struct Shape {
    /// The input query: `__dp_unit, __dp_g0.., __dp_v0..` from the user's FROM and WHERE.
    pub input: Query,
    pub groups: Vec<SqlExpr>,
    pub values: Vec<SqlExpr>,
    pub aggregates: Vec<Aggregate>,
    /// The SELECT list, HAVING, ORDER BY and LIMIT over `__dp_release`.
    pub post: Query,
    /// The public-groups query, when `public_groups` is set: the group
    /// keys' columns of that table.
    pub public_groups: Option<Query>,
}

fn is_word(token: &Token, word: &str) -> bool {
    matches!(token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word))
}

fn is_trivia(token: &Token) -> bool {
    matches!(token, Token::Whitespace(_) | Token::EOF)
}

/// Recognizes a DP statement; `Ok(None)` for any other statement.
pub fn parse(sql: &str, aggregate_functions: &HashSet<String>) -> Result<Option<DpStatement>> {
    if !sql.to_ascii_uppercase().contains("DIFFERENTIAL_PRIVACY") {
        return Ok(None);
    }
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return Ok(None);
    };
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !is_trivia(&tokens[i]))
        .collect();
    let at = |k: usize| significant.get(k).map(|&i| &tokens[i]);
    // SELECT WITH DIFFERENTIAL_PRIVACY, anywhere: only the outermost is allowed.
    let mut depth = 0i64;
    let mut found = None;
    for (k, &i) in significant.iter().enumerate() {
        match &tokens[i] {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            t if is_word(t, "SELECT")
                && at(k + 1).is_some_and(|t| is_word(t, "WITH"))
                && at(k + 2).is_some_and(|t| is_word(t, "DIFFERENTIAL_PRIVACY")) =>
            {
                if depth != 0 || found.is_some() {
                    return plan_err!(
                        "SELECT WITH DIFFERENTIAL_PRIVACY must be the outermost SELECT of the statement (not in a subquery, CTE or set operation)"
                    );
                }
                found = Some(k);
            }
            _ => {}
        }
    }
    let Some(select) = found else {
        return Ok(None);
    };
    let mut explain = false;
    let mut first = 0;
    if at(0).is_some_and(|t| is_word(t, "EXPLAIN")) {
        explain = true;
        first = 1;
        while let Some(t) = at(first) {
            if is_word(t, "ANALYZE") {
                return plan_err!(
                    "EXPLAIN ANALYZE is not available for DP queries: it would show exact row counts; use EXPLAIN"
                );
            } else if is_word(t, "VERBOSE") {
                first += 1;
            } else {
                break;
            }
        }
    }
    if !at(select + 3).is_some_and(|t| is_word(t, "OPTIONS"))
        || at(select + 4) != Some(&Token::LParen)
    {
        return plan_err!(
            "expected OPTIONS (epsilon = ..., delta = ..., privacy_unit_column = ...) after SELECT WITH DIFFERENTIAL_PRIVACY"
        );
    }
    let mut depth = 0i64;
    let mut close = None;
    for k in select + 4..significant.len() {
        match at(k) {
            Some(Token::LParen) => depth += 1,
            Some(Token::RParen) => {
                depth -= 1;
                if depth == 0 {
                    close = Some(k);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return plan_err!("OPTIONS of SELECT WITH DIFFERENTIAL_PRIVACY: missing ')'");
    };
    let options = parse_options(&significant[select + 5..close], &tokens)?;
    // The statement without EXPLAIN and the DP clause.
    let skip_from = significant[select + 1];
    let skip_to = significant[close];
    let start = significant.get(first).copied().unwrap_or(0);
    let text: String = tokens
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= start && !(skip_from..=skip_to).contains(i))
        .map(|(_, t)| t.to_string())
        .collect();
    let mut statements = Parser::parse_sql(&GenericDialect {}, &text)
        .map_err(|e| plan_datafusion_err!("DP query: {e}"))?;
    if statements.len() != 1 {
        return plan_err!("DP query: expected one statement");
    }
    let Some(Statement::Query(query)) = statements.pop() else {
        return plan_err!("SELECT WITH DIFFERENTIAL_PRIVACY must be a query");
    };
    let shape = shape(*query, &options, aggregate_functions)?;
    Ok(Some(DpStatement {
        explain,
        options,
        shape,
    }))
}

fn parse_options(tokens: &[usize], all: &[Token]) -> Result<Options> {
    let mut items: Vec<Vec<&Token>> = vec![Vec::new()];
    let mut depth = 0i64;
    for &i in tokens {
        let token = &all[i];
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                items.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = items.last_mut() {
            last.push(token);
        }
    }
    let mut epsilon = None;
    let mut delta = None;
    let mut unit = None;
    let mut max_groups = None;
    let mut max_rows = None;
    let mut seed = None;
    let mut public_groups = None;
    let mut seen = HashSet::new();
    for item in items.iter().filter(|i| !i.is_empty()) {
        let (Some(Token::Word(name)), Some(Token::Eq)) = (item.first(), item.get(1)) else {
            let text: String = item
                .iter()
                .map(|t| t.to_string())
                .collect::<Vec<_>>()
                .join(" ");
            return plan_err!("OPTIONS: expected name = value, got '{text}' (options: {OPTIONS})");
        };
        let name = name.value.to_ascii_lowercase();
        let value: String = item[2..].iter().map(|t| t.to_string()).collect();
        if value.is_empty() {
            return plan_err!("OPTIONS: {name} has no value");
        }
        if !seen.insert(name.clone()) {
            return plan_err!("OPTIONS: {name} is given twice");
        }
        match name.as_str() {
            "epsilon" => {
                let e = number(&name, &value)?;
                if !(e.is_finite() && e > 0.0) {
                    return plan_err!(
                        "OPTIONS: epsilon must be a positive finite number, got {value}"
                    );
                }
                epsilon = Some(e);
            }
            "delta" => {
                let d = number(&name, &value)?;
                if !(d > 0.0 && d < 1.0) {
                    return plan_err!("OPTIONS: delta must be in (0, 1), got {value}");
                }
                delta = Some(d);
            }
            "privacy_unit_column" => {
                let expr = Parser::new(&GenericDialect {})
                    .try_with_sql(&value)
                    .and_then(|mut p| p.parse_expr())
                    .map_err(|e| plan_datafusion_err!("OPTIONS: privacy_unit_column: {e}"))?;
                if !matches!(
                    expr,
                    SqlExpr::Identifier(_) | SqlExpr::CompoundIdentifier(_)
                ) {
                    return plan_err!(
                        "OPTIONS: privacy_unit_column must name a column, got '{value}'"
                    );
                }
                unit = Some(expr);
            }
            "max_groups_contributed" => max_groups = Some(count(&name, &value)?),
            "max_rows_per_group" => max_rows = Some(count(&name, &value)?),
            "seed" => {
                seed = Some(value.parse::<u64>().map_err(|_| {
                    plan_datafusion_err!(
                        "OPTIONS: seed must be a non-negative integer, got {value}"
                    )
                })?)
            }
            "public_groups" => {
                let name = Parser::new(&GenericDialect {})
                    .try_with_sql(value.trim_matches('\''))
                    .and_then(|mut p| p.parse_object_name(false))
                    .map_err(|e| plan_datafusion_err!("OPTIONS: public_groups: {e}"))?;
                public_groups = Some(name);
            }
            other => {
                return plan_err!("OPTIONS: unknown option '{other}' (options: {OPTIONS})");
            }
        }
    }
    let Some(epsilon) = epsilon else {
        return plan_err!("OPTIONS: epsilon is required (for example epsilon = 1.0)");
    };
    let Some(unit) = unit else {
        return plan_err!(
            "OPTIONS: privacy_unit_column is required: the column identifying whose data a row is (for example privacy_unit_column = customer_id)"
        );
    };
    if delta.is_none() && public_groups.is_none() {
        return plan_err!(
            "OPTIONS: delta is required to choose which groups to release (for example delta = 1e-6), unless public_groups names a table listing them"
        );
    }
    Ok(Options {
        epsilon,
        delta,
        unit,
        max_groups: max_groups.unwrap_or(1),
        max_rows: max_rows.unwrap_or(1),
        seed,
        public_groups,
    })
}

fn number(name: &str, value: &str) -> Result<f64> {
    value
        .parse::<f64>()
        .map_err(|_| plan_datafusion_err!("OPTIONS: {name} must be a number, got {value}"))
}

/// Bounds above this are refused: a unit in a million groups is no bound.
const MAX_CONTRIBUTIONS: u64 = 1_000_000;

fn count(name: &str, value: &str) -> Result<u64> {
    match value.parse::<u64>() {
        Ok(n) if (1..=MAX_CONTRIBUTIONS).contains(&n) => Ok(n),
        _ => plan_err!(
            "OPTIONS: {name} must be a whole number from 1 to {MAX_CONTRIBUTIONS}, got {value}"
        ),
    }
}

fn ident(name: String) -> SqlExpr {
    SqlExpr::Identifier(Ident::new(name))
}

/// The select item's name in the output: its alias, a column's own name,
/// else the text as written.
fn output_name(expr: &SqlExpr) -> String {
    match expr {
        SqlExpr::Identifier(i) => i.value.clone(),
        SqlExpr::CompoundIdentifier(parts) => parts
            .last()
            .map_or_else(|| expr.to_string(), |i| i.value.clone()),
        other => other.to_string(),
    }
}

/// Names DataFusion would take for a function call: the last part of its
/// name, lowercase.
fn function_name(name: &ObjectName) -> String {
    name.0
        .last()
        .map_or_else(String::new, |p| p.to_string())
        .trim_matches('"')
        .to_ascii_lowercase()
}

const DP_AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "avg",
    "var_pop",
    "variance",
    "stddev_pop",
    "stddev",
    "percentile_cont",
];

fn shape(
    mut query: Query,
    options: &Options,
    aggregate_functions: &HashSet<String>,
) -> Result<Shape> {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return plan_err!(
            "SELECT WITH DIFFERENTIAL_PRIVACY: set operations (UNION, INTERSECT, EXCEPT) are not supported; run one DP query per part"
        );
    };
    let mut select: Select = (**select).clone();
    refuse_clauses(&select, &query_extras(&query))?;
    let unit_text = options.unit.to_string();
    let unit_name = output_name(&options.unit);

    // Group keys, with ordinals and select-list aliases resolved.
    let items: Vec<(SqlExpr, Option<Ident>)> = select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => Ok((e.clone(), None)),
            SelectItem::ExprWithAlias { expr, alias } => Ok((expr.clone(), Some(alias.clone()))),
            _ => plan_err!(
                "SELECT WITH DIFFERENTIAL_PRIVACY: '*' is not allowed; list the group keys and DP aggregates"
            ),
        })
        .collect::<Result<_>>()?;
    let groups: Vec<SqlExpr> = match &select.group_by {
        GroupByExpr::Expressions(exprs, modifiers) => {
            if !modifiers.is_empty() {
                return plan_err!(
                    "DP query: GROUP BY modifiers (ROLLUP, CUBE, GROUPING SETS, TOTALS) are not supported"
                );
            }
            exprs
                .iter()
                .map(|e| resolve_group_key(e, &items))
                .collect::<Result<_>>()?
        }
        GroupByExpr::All(modifiers) => {
            if !modifiers.is_empty() {
                return plan_err!("DP query: GROUP BY ALL modifiers are not supported");
            }
            items
                .iter()
                .filter(|(e, _)| !contains_dp_aggregate(e))
                .map(|(e, _)| e.clone())
                .collect()
        }
    };
    for (i, key) in groups.iter().enumerate() {
        input_expression(key, aggregate_functions, &format!("GROUP BY key {}", i + 1))?;
    }

    let mut rewriter = Rewriter {
        groups: groups.iter().map(ToString::to_string).collect(),
        unit_text: unit_text.clone(),
        unit_name,
        aggregate_functions,
        aggregates: Vec::new(),
        values: Vec::new(),
        error: None,
    };
    let mut post_items = Vec::new();
    let mut aliases = HashSet::new();
    for (expr, alias) in items {
        let name = alias
            .clone()
            .unwrap_or_else(|| Ident::with_quote('"', output_name(&expr)));
        aliases.insert(name.value.to_ascii_lowercase());
        let rewritten = rewriter.rewrite(expr)?;
        post_items.push(SelectItem::ExprWithAlias {
            expr: rewritten,
            alias: name,
        });
    }
    let having = select
        .having
        .take()
        .map(|h| rewriter.rewrite(h))
        .transpose()?;
    let mut order_by = query.order_by.take();
    if let Some(order) = &mut order_by
        && let OrderByKind::Expressions(exprs) = &mut order.kind
    {
        for e in exprs.iter_mut() {
            // An output name or position needs no rewriting.
            let by_name = matches!(&e.expr, SqlExpr::Identifier(i) if aliases.contains(&i.value.to_ascii_lowercase()));
            let by_position = matches!(&e.expr, SqlExpr::Value(_));
            if !(by_name || by_position) {
                e.expr = rewriter.rewrite(e.expr.clone())?;
            }
        }
    }
    for (i, value) in rewriter.values.iter().enumerate() {
        input_expression(
            value,
            aggregate_functions,
            &format!("argument {} of the DP aggregates", i + 1),
        )?;
    }
    let Rewriter {
        aggregates, values, ..
    } = rewriter;

    // The input query: the user's WITH, FROM and WHERE.
    let mut input = query.clone();
    let mut input_select = select.clone();
    let mut projection = vec![SelectItem::ExprWithAlias {
        expr: options.unit.clone(),
        alias: Ident::new(UNIT),
    }];
    for (i, g) in groups.iter().enumerate() {
        projection.push(SelectItem::ExprWithAlias {
            expr: g.clone(),
            alias: Ident::new(group_column(i)),
        });
    }
    for (i, v) in values.iter().enumerate() {
        projection.push(SelectItem::ExprWithAlias {
            expr: v.clone(),
            alias: Ident::new(value_column(i)),
        });
    }
    input_select.projection = projection;
    input_select.group_by = GroupByExpr::Expressions(vec![], vec![]);
    input_select.having = None;
    input.body = Box::new(SetExpr::Select(Box::new(input_select)));
    input.order_by = None;
    input.limit_clause = None;

    // The post-processing query over the released groups.
    let mut post = query;
    post.with = None;
    post.order_by = order_by;
    let mut post_select = select.clone();
    post_select.projection = post_items;
    post_select.from = vec![TableWithJoins {
        relation: TableFactor::Table {
            name: ObjectName::from(vec![Ident::new(RELEASE_TABLE)]),
            alias: None,
            args: None,
            with_hints: vec![],
            version: None,
            with_ordinality: false,
            partitions: vec![],
            json_path: None,
            sample: None,
            index_hints: vec![],
        },
        joins: vec![],
    }];
    post_select.selection = having;
    post_select.group_by = GroupByExpr::Expressions(vec![], vec![]);
    post.body = Box::new(SetExpr::Select(Box::new(post_select)));

    let public_groups = match &options.public_groups {
        Some(table) => {
            let mut columns = Vec::new();
            for (i, g) in groups.iter().enumerate() {
                let column = match g {
                    SqlExpr::Identifier(c) => c.clone(),
                    SqlExpr::CompoundIdentifier(parts) => match parts.last() {
                        Some(c) => c.clone(),
                        None => return plan_err!("DP query: empty group key"),
                    },
                    other => {
                        return plan_err!(
                            "OPTIONS: public_groups needs plain columns as group keys (the public table's columns of the same names), got '{other}'"
                        );
                    }
                };
                columns.push(format!("{} AS {}", column, group_column(i)));
            }
            if columns.is_empty() {
                return plan_err!("OPTIONS: public_groups needs GROUP BY keys");
            }
            let sql = format!("SELECT DISTINCT {} FROM {table}", columns.join(", "));
            match Parser::parse_sql(&GenericDialect {}, &sql)
                .map_err(|e| plan_datafusion_err!("OPTIONS: public_groups: {e}"))?
                .pop()
            {
                Some(Statement::Query(q)) => Some(*q),
                _ => return plan_err!("OPTIONS: public_groups: expected a table name"),
            }
        }
        None => None,
    };
    Ok(Shape {
        input,
        groups,
        values,
        aggregates,
        post,
        public_groups,
    })
}

/// Clauses of the query that DP cannot give meaning to.
fn query_extras(query: &Query) -> Vec<&'static str> {
    let mut extras = Vec::new();
    if query.fetch.is_some() {
        extras.push("FETCH");
    }
    if !query.locks.is_empty() {
        extras.push("FOR UPDATE");
    }
    if query.for_clause.is_some() {
        extras.push("FOR");
    }
    if query.settings.is_some() || query.format_clause.is_some() || !query.pipe_operators.is_empty()
    {
        extras.push("SETTINGS, FORMAT or pipe operators");
    }
    extras
}

fn refuse_clauses(select: &Select, extras: &[&str]) -> Result<()> {
    let mut refused: Vec<&str> = extras.to_vec();
    if select.distinct.is_some() {
        refused.push("DISTINCT");
    }
    if select.top.is_some() {
        refused.push("TOP");
    }
    if select.into.is_some() {
        refused.push("INTO");
    }
    if select.qualify.is_some() {
        refused.push("QUALIFY");
    }
    if !select.named_window.is_empty() {
        refused.push("WINDOW");
    }
    if !select.lateral_views.is_empty()
        || select.prewhere.is_some()
        || !select.connect_by.is_empty()
        || !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
        || select.exclude.is_some()
    {
        refused.push("dialect-specific clauses");
    }
    if select.from.is_empty() {
        return plan_err!("SELECT WITH DIFFERENTIAL_PRIVACY needs a FROM clause");
    }
    if refused.is_empty() {
        Ok(())
    } else {
        plan_err!(
            "SELECT WITH DIFFERENTIAL_PRIVACY does not support {}",
            refused.join(", ")
        )
    }
}

fn resolve_group_key(expr: &SqlExpr, items: &[(SqlExpr, Option<Ident>)]) -> Result<SqlExpr> {
    if let SqlExpr::Value(v) = expr
        && let Ok(position) = v.value.to_string().parse::<usize>()
    {
        return match position.checked_sub(1).and_then(|i| items.get(i)) {
            Some((e, _)) => Ok(e.clone()),
            None => plan_err!(
                "GROUP BY {position}: the SELECT list has {} items",
                items.len()
            ),
        };
    }
    if let SqlExpr::Identifier(name) = expr
        && let Some((e, _)) = items.iter().find(|(_, alias)| {
            alias
                .as_ref()
                .is_some_and(|a| a.value.eq_ignore_ascii_case(&name.value))
        })
    {
        return Ok(e.clone());
    }
    Ok(expr.clone())
}

fn contains_dp_aggregate(expr: &SqlExpr) -> bool {
    let mut found = false;
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(expr, |e| {
        if let SqlExpr::Function(f) = e
            && DP_AGGREGATES.contains(&function_name(&f.name).as_str())
        {
            found = true;
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// An expression evaluated on each input row (a group key or an
/// aggregate's argument): no aggregate, window or subquery.
fn input_expression(expr: &SqlExpr, aggregates: &HashSet<String>, what: &str) -> Result<()> {
    struct Check<'a> {
        aggregates: &'a HashSet<String>,
        what: &'a str,
    }
    impl Visitor for Check<'_> {
        type Break = DataFusionError;
        fn pre_visit_expr(&mut self, expr: &SqlExpr) -> ControlFlow<DataFusionError> {
            match expr {
                SqlExpr::Function(f) => {
                    let name = function_name(&f.name);
                    if f.over.is_some() || self.aggregates.contains(&name) {
                        return ControlFlow::Break(plan_datafusion_err!(
                            "DP query: {} may not use the aggregate or window function '{name}'",
                            self.what
                        ));
                    }
                }
                SqlExpr::Subquery(_) | SqlExpr::Exists { .. } | SqlExpr::InSubquery { .. } => {
                    return ControlFlow::Break(plan_datafusion_err!(
                        "DP query: {} may not contain a subquery",
                        self.what
                    ));
                }
                SqlExpr::Rollup(_) | SqlExpr::Cube(_) | SqlExpr::GroupingSets(_) => {
                    return ControlFlow::Break(plan_datafusion_err!(
                        "DP query: ROLLUP, CUBE and GROUPING SETS are not supported; run one DP query per grouping"
                    ));
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    match expr.visit(&mut Check { aggregates, what }) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Rewrites the SELECT list, HAVING and ORDER BY for the released table:
/// group keys become `__dp_g<i>`, DP aggregates `__dp_a<j>`.
struct Rewriter<'a> {
    groups: Vec<String>,
    unit_text: String,
    unit_name: String,
    aggregate_functions: &'a HashSet<String>,
    aggregates: Vec<Aggregate>,
    values: Vec<SqlExpr>,
    error: Option<DataFusionError>,
}

impl Rewriter<'_> {
    fn rewrite(&mut self, mut expr: SqlExpr) -> Result<SqlExpr> {
        let _ = VisitMut::visit(&mut expr, self);
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        // Whatever column is left is neither a key nor inside an aggregate.
        let mut stray = None;
        let _ = datafusion::sql::sqlparser::ast::visit_expressions(&expr, |e| {
            let name = match e {
                SqlExpr::Identifier(i) if !i.value.starts_with("__dp_") => Some(i.to_string()),
                SqlExpr::CompoundIdentifier(_) => Some(e.to_string()),
                _ => None,
            };
            if let Some(name) = name {
                stray = Some(name);
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        if let Some(name) = stray {
            return plan_err!(
                "DP query: column '{name}' must appear in GROUP BY or inside a DP aggregate (COUNT, SUM, AVG, VAR_POP, STDDEV_POP, PERCENTILE_CONT)"
            );
        }
        Ok(expr)
    }

    fn value_index(&mut self, expr: &SqlExpr) -> usize {
        let text = expr.to_string();
        match self.values.iter().position(|v| v.to_string() == text) {
            Some(i) => i,
            None => {
                self.values.push(expr.clone());
                self.values.len() - 1
            }
        }
    }

    fn aggregate(&mut self, f: &datafusion::sql::sqlparser::ast::Function) -> Result<usize> {
        let name = function_name(&f.name);
        let text = SqlExpr::Function(f.clone()).to_string();
        if f.over.is_some() {
            return plan_err!("DP query: window functions are not allowed ({text})");
        }
        if f.filter.is_some() || !f.within_group.is_empty() || f.null_treatment.is_some() {
            return plan_err!(
                "DP query: {name} takes no FILTER, WITHIN GROUP or NULLS clause in a DP query ({text}); for a percentile write PERCENTILE_CONT(x, p, lower, upper)"
            );
        }
        let FunctionArguments::List(list) = &f.args else {
            return plan_err!("DP query: {name} needs arguments ({text})");
        };
        if !list.clauses.is_empty() {
            return plan_err!("DP query: {name} takes no ORDER BY or LIMIT inside ({text})");
        }
        let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
        let mut args = Vec::new();
        let mut wildcard = false;
        for arg in &list.args {
            match arg {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => args.push(e.clone()),
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => wildcard = true,
                _ => {
                    return plan_err!("DP query: {name} takes positional arguments only ({text})");
                }
            }
        }
        let bounded = |expected: usize, form: &str| -> Result<(f64, f64)> {
            if args.len() != expected {
                return plan_err!(
                    "DP query: {} needs clamping bounds: {form} (got {text})",
                    name.to_ascii_uppercase()
                );
            }
            let lower = bound(&args[expected - 2], &name, "lower")?;
            let upper = bound(&args[expected - 1], &name, "upper")?;
            if lower >= upper {
                return plan_err!(
                    "DP query: {}: the lower bound {lower} must be below the upper bound {upper}",
                    name.to_ascii_uppercase()
                );
            }
            Ok((lower, upper))
        };
        let (kind, value, lower, upper) = match name.as_str() {
            "count" if wildcard && args.is_empty() && !distinct => {
                (AggregateKind::CountRows, None, 0.0, 0.0)
            }
            "count" if args.len() == 1 && distinct => {
                let arg = args[0].to_string();
                if arg != self.unit_text && arg != self.unit_name {
                    return plan_err!(
                        "DP query: COUNT(DISTINCT ...) counts privacy units only: write COUNT(DISTINCT {}) (got {text})",
                        self.unit_text
                    );
                }
                (AggregateKind::CountUnits, None, 0.0, 0.0)
            }
            "count" if args.len() == 1 => {
                let v = self.value_index(&args[0]);
                (AggregateKind::CountValues, Some(v), 0.0, 0.0)
            }
            "count" => {
                return plan_err!(
                    "DP query: COUNT takes *, one column or DISTINCT of the privacy unit (got {text})"
                );
            }
            _ if distinct => {
                return plan_err!("DP query: {name} does not take DISTINCT (got {text})");
            }
            "sum" | "avg" | "var_pop" | "variance" | "stddev_pop" | "stddev" => {
                let form = format!("{}(x, lower, upper)", name.to_ascii_uppercase());
                let (lower, upper) = bounded(3, &form)?;
                let kind = match name.as_str() {
                    "sum" => AggregateKind::Sum,
                    "avg" => AggregateKind::Avg,
                    "var_pop" | "variance" => AggregateKind::Variance,
                    _ => AggregateKind::Stddev,
                };
                let v = self.value_index(&args[0]);
                (kind, Some(v), lower, upper)
            }
            "percentile_cont" => {
                let (lower, upper) = bounded(4, "PERCENTILE_CONT(x, p, lower, upper)")?;
                let p = bound(&args[1], &name, "p")?;
                if !(0.0..=1.0).contains(&p) {
                    return plan_err!(
                        "DP query: PERCENTILE_CONT: p must be between 0 and 1, got {p}"
                    );
                }
                let v = self.value_index(&args[0]);
                (AggregateKind::Percentile(p), Some(v), lower, upper)
            }
            _ => return plan_err!("DP query: '{name}' is not a DP aggregate"),
        };
        let aggregate = Aggregate {
            kind,
            value,
            lower,
            upper,
            text,
        };
        let key = format!(
            "{:?}|{:?}|{}|{}",
            aggregate.kind, aggregate.value, lower, upper
        );
        match self
            .aggregates
            .iter()
            .position(|a| format!("{:?}|{:?}|{}|{}", a.kind, a.value, a.lower, a.upper) == key)
        {
            Some(i) => Ok(i),
            None => {
                self.aggregates.push(aggregate);
                Ok(self.aggregates.len() - 1)
            }
        }
    }
}

fn bound(expr: &SqlExpr, function: &str, what: &str) -> Result<f64> {
    let text = expr.to_string();
    match text.replace(' ', "").parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => plan_err!(
            "DP query: {}: the {what} bound must be a number literal, got '{text}'",
            function.to_ascii_uppercase()
        ),
    }
}

impl VisitorMut for Rewriter<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &mut SqlExpr) -> ControlFlow<()> {
        if self.error.is_some() {
            return ControlFlow::Break(());
        }
        let text = expr.to_string();
        if let Some(i) = self.groups.iter().position(|g| *g == text) {
            *expr = ident(group_column(i));
            return ControlFlow::Continue(());
        }
        match expr {
            SqlExpr::Function(f) => {
                let name = function_name(&f.name);
                if DP_AGGREGATES.contains(&name.as_str()) {
                    match self.aggregate(f) {
                        Ok(i) => *expr = ident(aggregate_column(i)),
                        Err(e) => {
                            self.error = Some(e);
                            return ControlFlow::Break(());
                        }
                    }
                } else if f.over.is_some() {
                    self.error = Some(plan_datafusion_err!(
                        "DP query: window functions are not allowed ({text})"
                    ));
                    return ControlFlow::Break(());
                } else if self.aggregate_functions.contains(&name) {
                    self.error = Some(plan_datafusion_err!(
                        "DP query: '{name}' is not a DP aggregate; DP aggregates are COUNT, SUM, AVG, VAR_POP, STDDEV_POP and PERCENTILE_CONT, with clamping bounds"
                    ));
                    return ControlFlow::Break(());
                }
            }
            SqlExpr::Subquery(_) | SqlExpr::Exists { .. } | SqlExpr::InSubquery { .. } => {
                self.error = Some(plan_datafusion_err!(
                    "DP query: subqueries are not allowed in the SELECT list, HAVING or ORDER BY of a DP query"
                ));
                return ControlFlow::Break(());
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aggregates() -> HashSet<String> {
        ["count", "sum", "avg", "min", "max", "array_agg", "median"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    fn dp(sql: &str) -> Result<DpStatement> {
        parse(sql, &aggregates()).and_then(|s| s.ok_or_else(|| plan_datafusion_err!("not DP")))
    }

    fn error(sql: &str) -> String {
        dp(sql).expect_err("expected an error").strip_backtrace()
    }

    const Q: &str = "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 1.0, delta = 1e-6, privacy_unit_column = t.customer_id, max_groups_contributed = 3) region, segment AS seg, COUNT(*), SUM(amount, 0, 500), AVG(amount, 0, 500) AS mean, PERCENTILE_CONT(amount, 0.5, 0, 500), count(*) + 1 FROM transactions t WHERE amount > 0 GROUP BY region, 2 HAVING COUNT(*) > 10 ORDER BY mean DESC LIMIT 5";

    #[test]
    fn other_statements_are_not_dp() {
        for sql in [
            "SELECT 1",
            "SELECT 'WITH DIFFERENTIAL_PRIVACY' AS x",
            "WITH t AS (SELECT 1) SELECT * FROM t",
        ] {
            assert!(
                parse(sql, &aggregates()).expect("parses").is_none(),
                "{sql}"
            );
        }
    }

    #[test]
    fn options_and_shape() {
        let s = dp(Q).expect("valid DP query");
        assert!(!s.explain);
        assert_eq!(s.options.epsilon, 1.0);
        assert_eq!(s.options.delta, Some(1e-6));
        assert_eq!(s.options.unit.to_string(), "t.customer_id");
        assert_eq!((s.options.max_groups, s.options.max_rows), (3, 1));
        assert_eq!(s.shape.groups.len(), 2);
        assert_eq!(s.shape.groups[1].to_string(), "segment");
        // count(*) twice and the same amount argument: shared.
        let kinds: Vec<AggregateKind> = s.shape.aggregates.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            vec![
                AggregateKind::CountRows,
                AggregateKind::Sum,
                AggregateKind::Avg,
                AggregateKind::Percentile(0.5)
            ]
        );
        assert_eq!(s.shape.values.len(), 1);
        assert_eq!(
            s.shape.input.to_string(),
            "SELECT t.customer_id AS __dp_unit, region AS __dp_g0, segment AS __dp_g1, amount AS __dp_v0 FROM transactions t WHERE amount > 0"
        );
        assert_eq!(
            s.shape.post.to_string(),
            "SELECT __dp_g0 AS \"region\", __dp_g1 AS seg, __dp_a0 AS \"COUNT(*)\", __dp_a1 AS \"SUM(amount, 0, 500)\", __dp_a2 AS mean, __dp_a3 AS \"PERCENTILE_CONT(amount, 0.5, 0, 500)\", __dp_a0 + 1 AS \"count(*) + 1\" FROM __dp_release WHERE __dp_a0 > 10 ORDER BY mean DESC LIMIT 5"
        );
        let explained = dp(&format!("EXPLAIN {Q}")).expect("valid");
        assert!(explained.explain);
    }

    #[test]
    fn ctes_stay_with_the_input_and_public_groups_read_their_table() {
        let s = dp("WITH t AS (SELECT * FROM transactions) SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 0.5, privacy_unit_column = customer_id, public_groups = regions) region, COUNT(DISTINCT customer_id) FROM t GROUP BY ALL").expect("valid");
        assert!(s.shape.input.to_string().starts_with("WITH t AS"));
        assert!(!s.shape.post.to_string().contains("WITH"));
        assert_eq!(s.shape.aggregates[0].kind, AggregateKind::CountUnits);
        assert_eq!(
            s.shape.public_groups.expect("public groups").to_string(),
            "SELECT DISTINCT region AS __dp_g0 FROM regions"
        );
    }

    #[test]
    fn bad_options_name_the_option() {
        let base =
            "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS ({}) region, COUNT(*) FROM t GROUP BY region";
        let with = |o: &str| base.replace("{}", o);
        for (options, expected) in [
            (
                "epsilon = 0, delta = 1e-6, privacy_unit_column = id",
                "epsilon must be a positive",
            ),
            (
                "epsilon = -1, delta = 1e-6, privacy_unit_column = id",
                "epsilon must be a positive",
            ),
            (
                "epsilon = inf, delta = 1e-6, privacy_unit_column = id",
                "epsilon must be a positive finite",
            ),
            (
                "epsilon = 'one', delta = 1e-6, privacy_unit_column = id",
                "epsilon must be a number",
            ),
            (
                "epsilon = 1, delta = 1, privacy_unit_column = id",
                "delta must be in (0, 1)",
            ),
            (
                "epsilon = 1, delta = 0, privacy_unit_column = id",
                "delta must be in (0, 1)",
            ),
            ("epsilon = 1, privacy_unit_column = id", "delta is required"),
            (
                "epsilon = 1, delta = 1e-6",
                "privacy_unit_column is required",
            ),
            (
                "delta = 1e-6, privacy_unit_column = id",
                "epsilon is required",
            ),
            (
                "epsilon = 1, delta = 1e-6, privacy_unit_column = id + 1",
                "must name a column",
            ),
            (
                "epsilon = 1, delta = 1e-6, privacy_unit_column = id, max_groups_contributed = 0",
                "max_groups_contributed must be a whole number",
            ),
            (
                "epsilon = 1, delta = 1e-6, privacy_unit_column = id, epsilon = 2",
                "epsilon is given twice",
            ),
            (
                "epsilon = 1, delta = 1e-6, privacy_unit_column = id, noise = 'fast'",
                "unknown option 'noise'",
            ),
        ] {
            let message = error(&with(options));
            assert!(message.contains(expected), "{options}: {message}");
        }
    }

    #[test]
    fn what_dp_cannot_answer_is_refused_with_the_function_named() {
        let head = "SELECT WITH DIFFERENTIAL_PRIVACY OPTIONS (epsilon = 1, delta = 1e-6, privacy_unit_column = customer_id)";
        for (rest, expected) in [
            (
                "region, SUM(amount) FROM t GROUP BY region",
                "SUM needs clamping bounds",
            ),
            (
                "region, AVG(amount, 0) FROM t GROUP BY region",
                "AVG needs clamping bounds",
            ),
            (
                "region, SUM(amount, 10, 1) FROM t GROUP BY region",
                "lower bound 10 must be below",
            ),
            (
                "region, SUM(amount, 0, x) FROM t GROUP BY region",
                "upper bound must be a number literal",
            ),
            (
                "region, MAX(amount) FROM t GROUP BY region",
                "'max' is not a DP aggregate",
            ),
            (
                "region, COUNT(*) OVER () FROM t GROUP BY region",
                "window functions are not allowed",
            ),
            (
                "region, row_number() OVER () FROM t GROUP BY region",
                "window functions are not allowed",
            ),
            (
                "region, amount FROM t GROUP BY region",
                "column 'amount' must appear in GROUP BY",
            ),
            ("* FROM t", "'*' is not allowed"),
            (
                "region, COUNT(DISTINCT merchant) FROM t GROUP BY region",
                "counts privacy units only",
            ),
            (
                "region, PERCENTILE_CONT(amount, 1.5, 0, 9) FROM t GROUP BY region",
                "p must be between 0 and 1",
            ),
            (
                "region, (SELECT max(amount) FROM t) FROM t GROUP BY region",
                "subqueries are not allowed",
            ),
            (
                "max(amount), COUNT(*) FROM t GROUP BY max(amount)",
                "GROUP BY key 1 may not use the aggregate",
            ),
            (
                "region, SUM((SELECT 1), 0, 1) FROM t GROUP BY region",
                "may not contain a subquery",
            ),
            (
                "DISTINCT region, COUNT(*) FROM t GROUP BY region",
                "does not support DISTINCT",
            ),
            (
                "region, COUNT(*) FROM t GROUP BY ROLLUP (region)",
                "ROLLUP, CUBE and GROUPING SETS are not supported",
            ),
        ] {
            let message = error(&format!("{head} {rest}"));
            assert!(message.contains(expected), "{rest}: {message}");
        }
        let nested = error(&format!(
            "SELECT * FROM ({head} region, COUNT(*) FROM t GROUP BY region)"
        ));
        assert!(nested.contains("outermost SELECT"), "{nested}");
        let analyze = error(&format!(
            "EXPLAIN ANALYZE {head} region, COUNT(*) FROM t GROUP BY region"
        ));
        assert!(
            analyze.contains("EXPLAIN ANALYZE is not available"),
            "{analyze}"
        );
        let union = error(&format!(
            "{head} region, COUNT(*) FROM t GROUP BY region UNION ALL SELECT 'x', 1"
        ));
        assert!(union.contains("set operations"), "{union}");
    }
}
