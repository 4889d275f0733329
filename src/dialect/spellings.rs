//! Other dialects' spellings of what DataFusion has under another form.
//! Each is a rewrite to an equivalent DataFusion expression, chosen so
//! NULLs behave as in the dialect it comes from:
//!
//! | written | planned as |
//! |---|---|
//! | `arg_max(a, b)`, `max_by(a, b)` (DuckDB, Snowflake, Spark) | `first_value(a ORDER BY b DESC) FILTER (WHERE b IS NOT NULL)` |
//! | `arg_min(a, b)`, `min_by(a, b)` | the same, ascending |
//! | `count_if(p)` | `count(CASE WHEN p THEN 1 END)` |
//! | `every(p)`, `list(x)`, `approx_count_distinct(x)`, `first(x)`, `last(x)` | `bool_and`, `array_agg`, `approx_distinct`, `first_value`, `last_value` |
//! | `if(c, a, b)`, `iff(c, a, b)` | `CASE WHEN c THEN a ELSE b END` (the other branch is not evaluated) |
//! | `year(t)`, `month`, `day`, `hour`, `minute`, `quarter`, `week`, `dayofweek`, `dayofyear`, `isodow` | `date_part('year', t)`... |
//! | `dayname(t)`, `monthname(t)` | `to_char(t, '%A')`, `to_char(t, '%B')` |
//! | `epoch(t)`, `epoch_ms(t)` | `date_part('epoch', t)` (x 1000) |
//! | `strftime(t, fmt)`, `strptime(s, fmt)` | `to_char(t, fmt)`, `to_timestamp(s, fmt)` (chrono's strftime patterns) |
//! | `date_diff(part, a, b)`, `datediff(part, a, b)` | boundaries of `part` crossed from a to b, as DuckDB and Snowflake count them |
//! | `date_sub(part, a, b)` | whole parts from a to b (DuckDB), from `age(b, a)` |
//! | `date_add(t, interval)` | `t + interval` |
//! | `last_day(d)` | the month's last day |
//! | `make_timestamp(y, m, d, h, mi, s)` | `to_timestamp_micros(...)` |
//! | `time_bucket(width, t [, origin])` | `date_bin(width, t, origin)` (DuckDB's origin: Monday 2000-01-03) |
//! | `string_split(s, sep)` | `string_to_array(s, sep)` |
//! | `regexp_matches(s, re)` (DuckDB's boolean form) | `regexp_like(s, re)` |
//! | `regexp_full_match(s, re)` | `regexp_like(s, '^(?:re)$')` |
//! | `regexp_extract(s, re [, group])` | `regexp_match(...)[group]`, `''` without a match |
//! | `sign(x)`, `isinf(x)`, `isfinite(x)` | `signum(x)`, comparisons with infinity |
//! | `struct_pack(a := 1, b := 'x')` | `named_struct('a', 1, 'b', 'x')` |
//! | `FETCH FIRST n ROWS ONLY` | `LIMIT n` |
//! | `INTERVAL 30 DAY` (in window frames too) | `INTERVAL '30 DAY'` |
//! | `t TABLESAMPLE BERNOULLI (p)`, `TABLESAMPLE (n ROWS)` | `random() < p / 100`, `ORDER BY random() LIMIT n` (DataFusion 55 ignores TABLESAMPLE) |
//! | `x > ALL (subquery)` | `NOT EXISTS (... WHERE (x > v) IS NOT TRUE)` (DataFusion 55 answers ALL wrongly) |
//! | `EXISTS (...)` in the select list | `(SELECT count(*) ...) > 0` |
//! | `(a, b) IN (subquery)` | `EXISTS (... WHERE v1 = a AND v2 = b)` |
//! | DuckDB's `COPY ... TO 'f' (FORMAT parquet, COMPRESSION zstd, HEADER, PARTITION_BY (c))` | DataFusion's `STORED AS ... PARTITIONED BY ... OPTIONS (...)` |

use std::ops::ControlFlow;

use datafusion::common::{Result, plan_datafusion_err};
use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, DateTimeField, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, JoinOperator, LimitClause, ObjectName, ObjectNamePart, Query,
    SelectItem, SetExpr, Statement, Subscript, TableFactor, TableSampleKind, TableSampleUnit,
    Value, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

use super::{parse_expr, parse_query};

/// Rewrites the spellings of the table above throughout `statement`.
pub fn rewrite(statement: &mut Statement) -> Result<()> {
    let mut visitor = Spellings { error: None };
    let _ = statement.visit(&mut visitor);
    match visitor.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

struct Spellings {
    error: Option<datafusion::common::DataFusionError>,
}

impl VisitorMut for Spellings {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        if let Some(fetch) = query.fetch.take() {
            if fetch.with_ties || fetch.percent {
                query.fetch = Some(fetch);
            } else {
                let offset = match query.limit_clause.take() {
                    Some(LimitClause::LimitOffset { offset, .. }) => offset,
                    _ => None,
                };
                query.limit_clause = Some(LimitClause::LimitOffset {
                    limit: fetch.quantity,
                    offset,
                    limit_by: vec![],
                });
            }
        }
        if let SetExpr::Select(select) = query.body.as_mut() {
            // DuckDB's SEMI / ANTI JOIN are DataFusion's LEFT SEMI / LEFT ANTI.
            for from in select.from.iter_mut() {
                for join in from.joins.iter_mut() {
                    join.join_operator = match std::mem::replace(
                        &mut join.join_operator,
                        JoinOperator::CrossApply,
                    ) {
                        JoinOperator::Semi(c) => JoinOperator::LeftSemi(c),
                        JoinOperator::Anti(c) => JoinOperator::LeftAnti(c),
                        other => other,
                    };
                }
            }
            for item in select.projection.iter_mut() {
                let expr = match item {
                    SelectItem::UnnamedExpr(e) => e,
                    SelectItem::ExprWithAlias { expr, .. } => expr,
                    _ => continue,
                };
                if let Err(e) = exists_as_count(expr) {
                    self.error = Some(e);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        file_function_as_path(factor);
        match table_sample(factor) {
            Ok(Some(replacement)) => *factor = replacement,
            Ok(None) => {}
            Err(e) => {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::BinaryOp { op, .. }
                if matches!(
                    op,
                    BinaryOperator::DuckIntegerDivide | BinaryOperator::MyIntegerDivide
                ) =>
            {
                // DuckDB's `//`: integer division that truncates, `/` on
                // floats: DataFusion's `/`.
                *op = BinaryOperator::Divide;
            }
            // `{'a': 1}.a`, `f(x).a`: DataFusion takes dot access only
            // after a column name (`t.s.a` is a compound identifier).
            Expr::CompoundFieldAccess { root, access_chain }
                if !matches!(
                    root.as_ref(),
                    Expr::Identifier(_) | Expr::CompoundIdentifier(_)
                ) =>
            {
                for access in access_chain.iter_mut() {
                    if let AccessExpr::Dot(Expr::Identifier(ident)) = access {
                        *access = AccessExpr::Subscript(Subscript::Index {
                            index: Expr::value(Value::SingleQuotedString(ident.value.clone())),
                        });
                    }
                }
            }
            _ => {}
        }
        let rewritten = match expr {
            Expr::Function(function) => function_spelling(function),
            Expr::Interval(interval)
                if interval.last_field.is_none()
                    && interval.leading_precision.is_none()
                    && interval.fractional_seconds_precision.is_none() =>
            {
                match (interval.value.as_ref(), &interval.leading_field) {
                    (Expr::Value(v), Some(field)) if matches!(v.value, Value::Number(..)) => Ok(
                        Some(format!("INTERVAL '{} {}'", v.value, field_name(field))),
                    ),
                    _ => Ok(None),
                }
            }
            Expr::AllOp {
                left,
                compare_op,
                right,
            } => match right.as_ref() {
                Expr::Subquery(subquery) => Ok(Some(format!(
                    "NOT EXISTS (SELECT 1 FROM ({subquery}) AS __all(v) WHERE ({left} {compare_op} __all.v) IS NOT TRUE)"
                ))),
                _ => Ok(None),
            },
            Expr::InSubquery {
                expr: tuple,
                subquery,
                negated: false,
            } => match tuple.as_ref() {
                Expr::Tuple(items) if items.len() > 1 => {
                    let names: Vec<String> = (1..=items.len()).map(|i| format!("v{i}")).collect();
                    let condition = items
                        .iter()
                        .zip(&names)
                        .map(|(item, name)| format!("__in.{name} = {item}"))
                        .collect::<Vec<_>>()
                        .join(" AND ");
                    Ok(Some(format!(
                        "EXISTS (SELECT 1 FROM ({subquery}) AS __in({}) WHERE {condition})",
                        names.join(", ")
                    )))
                }
                _ => Ok(None),
            },
            _ => Ok(None),
        };
        match rewritten.and_then(|sql| sql.map(|s| parse_expr(&s)).transpose()) {
            Ok(Some(replacement)) => *expr = replacement,
            Ok(None) => {}
            Err(e) => {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

fn field_name(field: &DateTimeField) -> String {
    field.to_string()
}

/// The positional arguments of a plain call (no DISTINCT, ORDER BY, FILTER,
/// OVER), as SQL text; `None` for any other call.
fn plain_args(function: &Function) -> Option<Vec<String>> {
    if function.filter.is_some() || function.over.is_some() || !function.within_group.is_empty() {
        return None;
    }
    match &function.args {
        FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args
                .iter()
                .map(|arg| match arg {
                    FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
                    _ => None,
                })
                .collect()
        }
        FunctionArguments::None => Some(vec![]),
        _ => None,
    }
}

fn simple_name(function: &Function) -> Option<String> {
    match function.name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] if ident.quote_style.is_none() => {
            Some(ident.value.to_lowercase())
        }
        _ => None,
    }
}

fn string_literal(sql: &str) -> Option<String> {
    let trimmed = sql.trim();
    trimmed
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .map(|s| s.replace("''", "'").to_lowercase())
}

/// `date_diff(part, a, b)`: how many boundaries of `part` lie between a and b.
fn date_diff(part: &str, a: &str, b: &str) -> Option<String> {
    let months = |t: &str| format!("(date_part('year', {t}) * 12 + date_part('month', {t}))");
    let quarters = |t: &str| format!("(date_part('year', {t}) * 4 + date_part('quarter', {t}))");
    let epoch_of = |unit: &str, t: &str| format!("date_part('epoch', date_trunc('{unit}', {t}))");
    let expr = match part {
        "year" | "years" | "yr" | "y" | "yyyy" => {
            format!("date_part('year', {b}) - date_part('year', {a})")
        }
        "quarter" | "quarters" | "q" => format!("{} - {}", quarters(b), quarters(a)),
        "month" | "months" | "mon" | "mm" => format!("{} - {}", months(b), months(a)),
        "week" | "weeks" | "w" => format!(
            "({} - {}) / 604800",
            epoch_of("week", b),
            epoch_of("week", a)
        ),
        "day" | "days" | "d" | "dd" => {
            format!("({} - {}) / 86400", epoch_of("day", b), epoch_of("day", a))
        }
        "hour" | "hours" | "h" => {
            format!("({} - {}) / 3600", epoch_of("hour", b), epoch_of("hour", a))
        }
        "minute" | "minutes" | "m" | "mi" => {
            format!(
                "({} - {}) / 60",
                epoch_of("minute", b),
                epoch_of("minute", a)
            )
        }
        "second" | "seconds" | "s" => {
            format!("{} - {}", epoch_of("second", b), epoch_of("second", a))
        }
        _ => return None,
    };
    Some(format!("CAST({expr} AS BIGINT)"))
}

/// `date_sub(part, a, b)`: how many whole `part`s fit from a to b (DuckDB):
/// calendar parts from `age(b, a)`, fixed-length ones from the seconds.
fn date_sub(part: &str, a: &str, b: &str) -> Option<String> {
    let age = format!("age({b}, {a})");
    let months = format!("(date_part('year', {age}) * 12 + date_part('month', {age}))");
    let seconds =
        |unit: u32| format!("trunc((date_part('epoch', {b}) - date_part('epoch', {a})) / {unit})");
    let expr = match part {
        "year" | "years" | "yr" | "y" | "yyyy" => format!("date_part('year', {age})"),
        "quarter" | "quarters" | "q" => format!("trunc({months} / 3)"),
        "month" | "months" | "mon" | "mm" => months,
        "week" | "weeks" | "w" => seconds(604_800),
        "day" | "days" | "d" | "dd" => seconds(86_400),
        "hour" | "hours" | "h" => seconds(3_600),
        "minute" | "minutes" | "m" | "mi" => seconds(60),
        "second" | "seconds" | "s" => seconds(1),
        _ => return None,
    };
    Some(format!("CAST({expr} AS BIGINT)"))
}

fn date_part_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "year" => "year",
        "month" => "month",
        "day" | "dayofmonth" => "day",
        "hour" => "hour",
        "minute" => "minute",
        "quarter" => "quarter",
        "week" | "weekofyear" => "week",
        "dayofweek" => "dow",
        "dayofyear" => "doy",
        "isodow" => "isodow",
        _ => return None,
    })
}

/// Renames that keep the call as it is (arguments, DISTINCT, ORDER BY,
/// FILTER, OVER).
fn renamed(name: &str) -> Option<&'static str> {
    Some(match name {
        "every" => "bool_and",
        "list" => "array_agg",
        "approx_count_distinct" => "approx_distinct",
        "first" => "first_value",
        "last" => "last_value",
        "string_split" | "str_split" => "string_to_array",
        "regexp_matches" => "regexp_like",
        "sign" => "signum",
        "strftime" => "to_char",
        "strptime" => "to_timestamp",
        _ => return None,
    })
}

fn function_spelling(function: &mut Function) -> Result<Option<String>> {
    let Some(name) = simple_name(function) else {
        return Ok(None);
    };
    if let Some(new_name) = renamed(&name) {
        function.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(new_name))]);
        return Ok(None);
    }
    if name == "struct_pack" {
        let FunctionArguments::List(list) = &function.args else {
            return Ok(None);
        };
        let mut pairs = Vec::new();
        for arg in &list.args {
            match arg {
                FunctionArg::Named {
                    name,
                    arg: FunctionArgExpr::Expr(e),
                    ..
                } => pairs.push(format!("'{}', {e}", name.value.replace('\'', "''"))),
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => {
                    pairs.push(format!("'{}', {e}", e.to_string().replace('\'', "''")))
                }
                _ => return Ok(None),
            }
        }
        return Ok(Some(format!("named_struct({})", pairs.join(", "))));
    }
    // Aggregates that take ORDER BY / FILTER of their own.
    if matches!(name.as_str(), "arg_max" | "max_by" | "arg_min" | "min_by")
        && function.over.is_none()
    {
        let Some(args) = plain_args(function) else {
            return Ok(None);
        };
        let [value, by] = args.as_slice() else {
            return Ok(None);
        };
        let direction = if name.contains("max") { "DESC" } else { "ASC" };
        return Ok(Some(format!(
            "first_value({value} ORDER BY {by} {direction}) FILTER (WHERE {by} IS NOT NULL)"
        )));
    }
    if name == "count_if" {
        let FunctionArguments::List(list) = &mut function.args else {
            return Ok(None);
        };
        if list.args.len() != 1 {
            return Ok(None);
        }
        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = &list.args[0] {
            let wrapped = parse_expr(&format!("CASE WHEN {e} THEN 1 END"))?;
            list.args[0] = FunctionArg::Unnamed(FunctionArgExpr::Expr(wrapped));
            function.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("count"))]);
        }
        return Ok(None);
    }
    let Some(args) = plain_args(function) else {
        return Ok(None);
    };
    let sql = match (name.as_str(), args.as_slice()) {
        ("if" | "iff", [c, a, b]) => format!("CASE WHEN {c} THEN {a} ELSE {b} END"),
        (n, [t]) if date_part_name(n).is_some() => {
            format!("date_part('{}', {t})", date_part_name(n).expect("checked"))
        }
        ("dayname", [t]) => format!("to_char({t}, '%A')"),
        ("monthname", [t]) => format!("to_char({t}, '%B')"),
        ("epoch", [t]) => format!("date_part('epoch', {t})"),
        ("epoch_ms", [t]) => format!("CAST(date_part('epoch', {t}) * 1000 AS BIGINT)"),
        ("datediff" | "date_diff", [part, a, b]) => match string_literal(part)
            .or_else(|| Some(part.to_lowercase()))
            .and_then(|p| date_diff(&p, a, b))
        {
            Some(sql) => sql,
            None => return Ok(None),
        },
        ("date_sub", [part, a, b]) => match string_literal(part)
            .or_else(|| Some(part.to_lowercase()))
            .and_then(|p| date_sub(&p, a, b))
        {
            Some(sql) => sql,
            None => return Ok(None),
        },
        ("date_add", [t, interval]) => format!("({t} + {interval})"),
        ("last_day", [d]) => {
            format!(
                "CAST(date_trunc('month', {d}) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE)"
            )
        }
        ("make_timestamp", [y, mo, d, h, mi, s]) => format!(
            "to_timestamp_micros(CAST(date_part('epoch', make_date({y}, {mo}, {d})) * 1000000 + ({h}) * 3600000000 + ({mi}) * 60000000 + ({s}) * 1000000 AS BIGINT))"
        ),
        ("time_bucket", [width, t]) => {
            format!("date_bin({width}, {t}, TIMESTAMP '2000-01-03 00:00:00')")
        }
        ("time_bucket", [width, t, origin]) => format!("date_bin({width}, {t}, {origin})"),
        ("regexp_full_match", [s, re]) => format!("regexp_like({s}, '^(?:' || {re} || ')$')"),
        ("regexp_extract", [s, re]) => format!(
            "CASE WHEN {s} IS NULL THEN NULL ELSE coalesce(regexp_match({s}, '(' || {re} || ')')[1], '') END"
        ),
        ("regexp_extract", [s, re, group]) if group.trim() == "0" => format!(
            "CASE WHEN {s} IS NULL THEN NULL ELSE coalesce(regexp_match({s}, '(' || {re} || ')')[1], '') END"
        ),
        ("regexp_extract", [s, re, group]) => format!(
            "CASE WHEN {s} IS NULL THEN NULL ELSE coalesce(regexp_match({s}, {re})[{group}], '') END"
        ),
        ("width_bucket", [x, low, high, count]) => format!(
            "CASE WHEN {x} IS NULL THEN NULL WHEN {x} < {low} THEN 0 WHEN {x} >= {high} THEN ({count}) + 1 \
             ELSE CAST(floor(({x} - {low}) * ({count}) / (({high}) - ({low}))) AS BIGINT) + 1 END"
        ),
        // U+001F (unit separator) as the split point: text does not hold it.
        ("regexp_split_to_array", [s, re]) => {
            format!("string_to_array(regexp_replace({s}, {re}, chr(31), 'g'), chr(31))")
        }
        ("json_extract_string" | "json_value", [j, path]) => match json_path(path) {
            Some(keys) => format!("json_get_str({j}{keys})"),
            None => return Ok(None),
        },
        ("json_extract" | "json_query", [j, path]) => match json_path(path) {
            Some(keys) => format!("json_get_json({j}{keys})"),
            None => return Ok(None),
        },
        ("json_array_length", [j]) => format!("json_length({j})"),
        ("json_array_length", [j, path]) => match json_path(path) {
            Some(keys) => format!("json_length({j}{keys})"),
            None => return Ok(None),
        },
        ("json_exists", [j, path]) => match json_path(path) {
            Some(keys) => format!("json_contains({j}{keys})"),
            None => return Ok(None),
        },
        ("json_keys", [j]) => format!("json_object_keys({j})"),
        ("json_keys", [j, path]) => match json_path(path) {
            Some(keys) => format!("json_object_keys({j}{keys})"),
            None => return Ok(None),
        },
        ("isinf", [x]) => format!("(abs({x}) = CAST('Infinity' AS DOUBLE))"),
        ("isfinite", [x]) => {
            format!("(NOT isnan({x}) AND abs({x}) <> CAST('Infinity' AS DOUBLE))")
        }
        _ => return Ok(None),
    };
    Ok(Some(sql))
}

/// A JSONPath literal (`'$.device.os'`, `'$.tags[0]'`, `'$["a b"]'`) as the
/// key arguments of datafusion-functions-json (`, 'device', 'os'`).
fn json_path(sql: &str) -> Option<String> {
    let trimmed = sql.trim();
    let path = trimmed
        .strip_prefix('\'')?
        .strip_suffix('\'')?
        .replace("''", "'");
    let mut rest = path.strip_prefix('$')?;
    let mut keys = String::new();
    let quote = |k: &str| format!(", '{}'", k.replace('\'', "''"));
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            keys.push_str(&quote(&after[..end]));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let inside = after[..end].trim();
            if let Some(name) = inside
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .or_else(|| inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            {
                keys.push_str(&quote(name));
            } else {
                let index: u64 = inside.parse().ok()?;
                keys.push_str(&format!(", {index}"));
            }
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(keys)
}

/// DuckDB's `read_parquet('f')`, `read_csv('f')`, `read_json('f')` as the
/// path table `'f'` (what `SELECT * FROM 'f'` reads): the same governance
/// (only roles granted files) and the same format from the extension.
fn file_function_as_path(factor: &mut TableFactor) {
    let TableFactor::Table { name, args, .. } = factor else {
        return;
    };
    let Some(table_args) = args else {
        return;
    };
    let [ObjectNamePart::Identifier(function)] = name.0.as_slice() else {
        return;
    };
    if !matches!(
        function.value.to_lowercase().as_str(),
        "read_parquet"
            | "parquet_scan"
            | "read_csv"
            | "read_csv_auto"
            | "read_json"
            | "read_json_auto"
            | "read_ndjson"
    ) {
        return;
    }
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Value(value)))] =
        table_args.args.as_slice()
    else {
        return;
    };
    let Value::SingleQuotedString(path) = &value.value else {
        return;
    };
    let path = Ident::with_quote('\'', path.clone());
    *name = ObjectName(vec![ObjectNamePart::Identifier(path)]);
    *args = None;
}

/// `EXISTS (SELECT ... FROM ... WHERE ...)` in a select list, which
/// DataFusion 55 cannot run there, as a correlated count.
fn exists_as_count(expr: &mut Expr) -> Result<()> {
    struct Exists {
        depth: usize,
        error: Option<datafusion::common::DataFusionError>,
    }
    impl VisitorMut for Exists {
        type Break = ();
        fn pre_visit_query(&mut self, _q: &mut Query) -> ControlFlow<()> {
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _q: &mut Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if self.depth != 0 {
                return ControlFlow::Continue(());
            }
            if let Expr::Exists { subquery, negated } = expr
                && subquery.with.is_none()
                && subquery.limit_clause.is_none()
                && subquery.fetch.is_none()
                && let SetExpr::Select(select) = subquery.body.as_ref()
                && select.distinct.is_none()
                && select.having.is_none()
                && matches!(&select.group_by, datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(e, _) if e.is_empty())
            {
                let mut select = select.clone();
                select.projection = vec![SelectItem::UnnamedExpr(match parse_expr("count(*)") {
                    Ok(e) => e,
                    Err(e) => {
                        self.error = Some(e);
                        return ControlFlow::Break(());
                    }
                })];
                let comparison = if *negated { "=" } else { ">" };
                match parse_expr(&format!("(({select}) {comparison} 0)")) {
                    Ok(replacement) => *expr = replacement,
                    Err(e) => {
                        self.error = Some(e);
                        return ControlFlow::Break(());
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut visitor = Exists {
        depth: 0,
        error: None,
    };
    let _ = expr.visit(&mut visitor);
    match visitor.error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `t TABLESAMPLE ...` as a derived table that samples: DataFusion 55 parses
/// TABLESAMPLE and then ignores it, returning every row.
fn table_sample(factor: &mut TableFactor) -> Result<Option<TableFactor>> {
    let (kind, alias, source) = match factor {
        TableFactor::Table {
            name,
            alias,
            sample,
            ..
        } => {
            let Some(kind) = sample.take() else {
                return Ok(None);
            };
            let alias = alias.clone().or_else(|| {
                name.0.last().and_then(|part| match part {
                    ObjectNamePart::Identifier(ident) => {
                        Some(datafusion::sql::sqlparser::ast::TableAlias {
                            explicit: true,
                            name: ident.clone(),
                            columns: vec![],
                            at: None,
                        })
                    }
                    _ => None,
                })
            });
            (kind, alias, name.to_string())
        }
        TableFactor::Derived {
            subquery,
            alias,
            sample,
            ..
        } => {
            let Some(kind) = sample.take() else {
                return Ok(None);
            };
            (kind, alias.clone(), format!("({subquery}) AS __sampled"))
        }
        _ => return Ok(None),
    };
    let sample = match &kind {
        TableSampleKind::BeforeTableAlias(s) | TableSampleKind::AfterTableAlias(s) => s.clone(),
    };
    let Some(quantity) = &sample.quantity else {
        return Err(plan_datafusion_err!(
            "TABLESAMPLE: expected a quantity, e.g. TABLESAMPLE BERNOULLI (10) or TABLESAMPLE (100 ROWS)"
        ));
    };
    if sample.seed.is_some() || sample.bucket.is_some() || sample.offset.is_some() {
        return Err(plan_datafusion_err!(
            "TABLESAMPLE: REPEATABLE/SEED, BUCKET and OFFSET are not supported; for a reproducible sample filter on a hash, e.g. WHERE hash_bucket(id) < 10"
        ));
    }
    let method = sample.name.as_ref().map(|m| m.to_string().to_uppercase());
    if let Some(m) = &method
        && !matches!(
            m.as_str(),
            "BERNOULLI" | "SYSTEM" | "ROW" | "RESERVOIR" | "BLOCK"
        )
    {
        return Err(plan_datafusion_err!(
            "TABLESAMPLE {m}: expected BERNOULLI or SYSTEM (a share of rows) or n ROWS"
        ));
    }
    let value = &quantity.value;
    let body = match quantity.unit {
        Some(TableSampleUnit::Rows) => {
            format!("SELECT * FROM {source} ORDER BY random() LIMIT {value}")
        }
        _ => format!("SELECT * FROM {source} WHERE random() < ({value}) / 100.0"),
    };
    Ok(Some(TableFactor::Derived {
        lateral: false,
        subquery: Box::new(parse_query(&body)?),
        alias,
        sample: None,
    }))
}

/// DuckDB's `FROM t USING SAMPLE 10%`, `USING SAMPLE 10 ROWS` and `USING
/// SAMPLE 5 PERCENT (bernoulli)` as `TABLESAMPLE`. Other text unchanged.
pub fn using_sample(sql: &str) -> String {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.to_string();
    };
    let word = |t: &Token, w: &str| matches!(t, Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    let next =
        |from: usize| (from..tokens.len()).find(|&i| !matches!(tokens[i], Token::Whitespace(_)));
    let mut out = String::new();
    let mut rewritten = false;
    let mut i = 0;
    while i < tokens.len() {
        if word(&tokens[i], "USING")
            && let Some(j) = next(i + 1)
            && word(&tokens[j], "SAMPLE")
            && let Some(k) = next(j + 1)
            && let Token::Number(n, _) = &tokens[k]
        {
            let mut end = k + 1;
            let mut unit = "PERCENT";
            let mut method = String::new();
            if let Some(u) = next(end) {
                if tokens[u] == Token::Mod || word(&tokens[u], "PERCENT") {
                    end = u + 1;
                } else if word(&tokens[u], "ROWS") {
                    unit = "ROWS";
                    end = u + 1;
                } else {
                    unit = "ROWS";
                }
            }
            if let Some(open) = next(end)
                && tokens[open] == Token::LParen
                && let Some(m) = next(open + 1)
                && let Token::Word(w) = &tokens[m]
                && let Some(close) = next(m + 1)
                && tokens[close] == Token::RParen
            {
                method = w.value.to_uppercase();
                end = close + 1;
            }
            let method = match method.as_str() {
                "" | "RESERVOIR" if unit == "ROWS" => String::new(),
                "" | "SYSTEM" => "SYSTEM ".to_string(),
                other => format!("{other} "),
            };
            out.push_str(&format!("TABLESAMPLE {method}({n} {unit})"));
            rewritten = true;
            i = end;
            continue;
        }
        out.push_str(&super::render(&tokens[i..=i]));
        i += 1;
    }
    if rewritten { out } else { sql.to_string() }
}

/// DuckDB's `COPY ... TO 'path' (FORMAT parquet, COMPRESSION zstd, ...)` in
/// DataFusion's syntax. Other text is returned unchanged.
pub fn copy_options(sql: &str) -> String {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return sql.to_string();
    };
    let significant: Vec<usize> = (0..tokens.len())
        .filter(|&i| !matches!(tokens[i], Token::Whitespace(_)))
        .collect();
    let is = |i: usize, k: Keyword| matches!(&tokens[i], Token::Word(w) if w.keyword == k);
    let Some(&first) = significant.first() else {
        return sql.to_string();
    };
    if !is(first, Keyword::COPY) {
        return sql.to_string();
    }
    // TO 'path' ( at depth 0, the list running to the last token.
    let mut depth = 0;
    let mut open = None;
    for (n, &i) in significant.iter().enumerate() {
        match &tokens[i] {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            _ => {}
        }
        if depth == 0
            && is(i, Keyword::TO)
            && let (Some(&path), Some(&paren)) = (significant.get(n + 1), significant.get(n + 2))
            && matches!(tokens[path], Token::SingleQuotedString(_))
            && tokens[paren] == Token::LParen
        {
            open = Some((n + 2, paren));
            break;
        }
    }
    let Some((open_n, open_i)) = open else {
        return sql.to_string();
    };
    let Some(&last) = significant
        .iter()
        .rev()
        .find(|&&i| tokens[i] != Token::SemiColon)
    else {
        return sql.to_string();
    };
    if tokens[last] != Token::RParen {
        return sql.to_string();
    }
    let inner: Vec<&Token> = significant[open_n + 1..]
        .iter()
        .take_while(|&&i| i != last)
        .map(|&i| &tokens[i])
        .collect();
    // Options separated by commas at depth 0: KEY [VALUE | (list)].
    let mut options: Vec<Vec<&Token>> = vec![Vec::new()];
    let mut depth = 0;
    for token in inner {
        match token {
            Token::Comma if depth == 0 => options.push(Vec::new()),
            Token::LParen => {
                depth += 1;
                options.last_mut().expect("one").push(token);
            }
            Token::RParen => {
                depth -= 1;
                options.last_mut().expect("one").push(token);
            }
            other => options.last_mut().expect("one").push(other),
        }
    }
    let text = |t: &Token| match t {
        Token::SingleQuotedString(s) => s.clone(),
        other => other.to_string(),
    };
    let mut stored_as = None;
    let mut partitioned = None;
    let mut settings = Vec::new();
    for option in options.into_iter().filter(|o| !o.is_empty()) {
        let key = text(option[0]).to_lowercase();
        let value: String = option[1..]
            .iter()
            .map(|t| text(t))
            .collect::<Vec<_>>()
            .join("");
        let value = if value.is_empty() {
            "true".to_string()
        } else {
            value
        };
        match key.as_str() {
            "format" => stored_as = Some(value.to_uppercase()),
            "partition_by" => {
                partitioned = Some(
                    value
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .to_string(),
                )
            }
            "compression" | "codec" => {
                let codec = value.to_lowercase();
                let codec = match codec.as_str() {
                    "zstd" => "zstd(3)".to_string(),
                    "gzip" if stored_as.as_deref() != Some("CSV") => "gzip(6)".to_string(),
                    "brotli" => "brotli(1)".to_string(),
                    _ => codec,
                };
                settings.push(format!("'format.compression' '{codec}'"));
            }
            "header" => settings.push(format!("'format.has_header' '{}'", value.to_lowercase())),
            "delimiter" | "sep" | "delim" => settings.push(format!(
                "'format.delimiter' '{}'",
                value.replace('\'', "''")
            )),
            "row_group_size" => settings.push(format!("'format.max_row_group_size' '{value}'")),
            other => settings.push(format!("'{other}' '{}'", value.replace('\'', "''"))),
        }
    }
    let head = super::render(&tokens[..open_i]);
    let mut out = head.trim_end().to_string();
    if let Some(format) = stored_as {
        out.push_str(&format!(" STORED AS {format}"));
    }
    if let Some(columns) = partitioned {
        out.push_str(&format!(" PARTITIONED BY ({columns})"));
    }
    if !settings.is_empty() {
        out.push_str(&format!(" OPTIONS ({})", settings.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_become_key_arguments() {
        assert_eq!(
            json_path("'$.device.os'").as_deref(),
            Some(", 'device', 'os'")
        );
        assert_eq!(json_path("'$.tags[0]'").as_deref(), Some(", 'tags', 0"));
        assert_eq!(
            json_path(r#"'$["a b"].c'"#).as_deref(),
            Some(", 'a b', 'c'")
        );
        assert_eq!(json_path("'$'").as_deref(), Some(""));
        assert_eq!(json_path("'device.os'"), None);
        assert_eq!(json_path("path_column"), None);
    }

    #[test]
    fn duckdb_copy_options_in_datafusion_syntax() {
        assert_eq!(
            copy_options(
                "COPY (SELECT 'O''Brien' AS n) TO 'out.parquet' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (channel))"
            ),
            "COPY (SELECT 'O''Brien' AS n) TO 'out.parquet' STORED AS PARQUET PARTITIONED BY (channel) OPTIONS ('format.compression' 'zstd(3)')"
        );
        assert_eq!(
            copy_options("COPY t TO 'out.csv' (FORMAT csv, HEADER true, DELIMITER ';')"),
            "COPY t TO 'out.csv' STORED AS CSV OPTIONS ('format.has_header' 'true', 'format.delimiter' ';')"
        );
        // DataFusion's own syntax and other statements are left alone.
        let native = "COPY t TO 'out.parquet' STORED AS PARQUET";
        assert_eq!(copy_options(native), native);
        assert_eq!(copy_options("SELECT 'O''Brien'"), "SELECT 'O''Brien'");
    }

    #[test]
    fn using_sample_as_tablesample() {
        assert_eq!(
            using_sample("SELECT * FROM t USING SAMPLE 10%"),
            "SELECT * FROM t TABLESAMPLE SYSTEM (10 PERCENT)"
        );
        assert_eq!(
            using_sample("SELECT * FROM t USING SAMPLE 5 PERCENT (bernoulli) WHERE x = 'it''s'"),
            "SELECT * FROM t TABLESAMPLE BERNOULLI (5 PERCENT) WHERE x = 'it''s'"
        );
        assert_eq!(
            using_sample("SELECT * FROM t USING SAMPLE 10 ROWS"),
            "SELECT * FROM t TABLESAMPLE (10 ROWS)"
        );
        let join = "SELECT * FROM a JOIN b USING (id)";
        assert_eq!(using_sample(join), join);
    }

    #[test]
    fn date_diff_counts_boundaries_by_part_name() {
        assert!(date_diff("month", "a", "b").is_some_and(|s| s.contains("'month'")));
        assert!(date_diff("fortnight", "a", "b").is_none());
        assert!(date_sub("year", "a", "b").is_some_and(|s| s.contains("age(b, a)")));
    }
}
