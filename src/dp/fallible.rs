//! DP inputs may only compute what cannot fail on some row.
//!
//! A row that raises an error ends the query, and whether a query failed is
//! not noised: `SUM(1 / (t.customer_id - 42), 0, 1)` would fail exactly when
//! customer 42 is in the data, one bit outside the guarantee for the price
//! of an epsilon. So the input plan (after type coercion, which adds the
//! casts that will run) is checked against what is known not to fail on
//! any value: comparisons, boolean logic, wrapping integer and float
//! arithmetic, float division (or integer division by a constant other
//! than 0 and -1),
//! `TRY_CAST`, widening casts, `CASE`, and a list of functions. Anything
//! else is refused with the alternative. Constant parts (no column) are
//! evaluated here once: an error there does not depend on the data and is
//! reported at once.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatchOptions;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator};

/// Refuses `plan` (a DP query's input, optimized: what will run, with the
/// casts type coercion added and the ones the optimizer proved lossless
/// removed) if some expression in it could raise an error on some row.
pub fn refuse_fallible(state: &SessionState, optimized: &LogicalPlan) -> Result<()> {
    let checker = Checker { state };
    optimized.apply(|node| {
        let schema = match node {
            LogicalPlan::Join(_) => Arc::clone(node.schema()),
            // Pushed-down filters may name columns the scan does not project.
            LogicalPlan::TableScan(scan) => Arc::new(DFSchema::try_from_qualified_schema(
                scan.table_name.clone(),
                &scan.source.schema(),
            )?),
            _ => match node.inputs().as_slice() {
                [input] => Arc::clone(input.schema()),
                _ => Arc::clone(node.schema()),
            },
        };
        for expr in node.expressions() {
            checker.check(&expr, &schema)?;
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(())
}

struct Checker<'a> {
    state: &'a SessionState,
}

fn refuse<T>(what: &str, instead: &str) -> Result<T> {
    plan_err!(
        "DP query: {what} can fail on some row, and whether the query failed would tell about that row; {instead}"
    )
}

impl Checker<'_> {
    fn check(&self, expr: &Expr, schema: &DFSchema) -> Result<()> {
        if matches!(expr, Expr::Literal(..)) {
            return Ok(());
        }
        if expr.column_refs().is_empty() && !has_nested_plan_or_aggregate(expr) {
            return self.constant(expr);
        }
        match expr {
            Expr::BinaryExpr(b) => self.binary(b.op, &b.left, &b.right, schema)?,
            Expr::Cast(c) => {
                let from = c.expr.get_type(schema)?;
                if !widening_cast(&from, c.field.data_type()) {
                    return refuse(
                        &format!("CAST({} AS {}) from {from}", c.expr, c.field.data_type()),
                        "use TRY_CAST, which gives NULL where a value does not convert (comparing columns of different types casts one of them: compare like with like)",
                    );
                }
            }
            Expr::SimilarTo(l) if !l.pattern.column_refs().is_empty() => {
                return refuse(
                    "SIMILAR TO with a pattern taken from the data",
                    "match against a literal pattern",
                );
            }
            Expr::ScalarFunction(f) => self.function(f.name(), &f.args, schema)?,
            Expr::AggregateFunction(a) => {
                let name = a.func.name().to_ascii_lowercase();
                if !PER_UNIT_AGGREGATES.contains(&name.as_str()) {
                    return refuse(
                        &format!("the aggregate {name}() before the DP aggregate"),
                        &format!("use one of {}", PER_UNIT_AGGREGATES.join(", ")),
                    );
                }
            }
            Expr::WindowFunction(w) => {
                let name = w.fun.name().to_ascii_lowercase();
                if !PER_UNIT_WINDOWS.contains(&name.as_str())
                    && !PER_UNIT_AGGREGATES.contains(&name.as_str())
                {
                    return refuse(
                        &format!("the window function {name}()"),
                        &format!(
                            "use one of {} or an aggregate of {}",
                            PER_UNIT_WINDOWS.join(", "),
                            PER_UNIT_AGGREGATES.join(", ")
                        ),
                    );
                }
            }
            Expr::Alias(_)
            | Expr::Column(_)
            | Expr::Literal(..)
            | Expr::ScalarVariable(..)
            | Expr::OuterReferenceColumn(..)
            | Expr::Not(_)
            | Expr::IsNotNull(_)
            | Expr::IsNull(_)
            | Expr::IsTrue(_)
            | Expr::IsFalse(_)
            | Expr::IsUnknown(_)
            | Expr::IsNotTrue(_)
            | Expr::IsNotFalse(_)
            | Expr::IsNotUnknown(_)
            | Expr::Negative(_)
            | Expr::Between(_)
            | Expr::Case(_)
            | Expr::TryCast(_)
            | Expr::Like(_)
            | Expr::SimilarTo(_)
            | Expr::InList(_)
            | Expr::GroupingSet(_) => {}
            // Subqueries over personal data are refused by the lineage
            // check; over public data they do not depend on a unit's rows.
            Expr::Exists(_) | Expr::InSubquery(_) | Expr::ScalarSubquery(_) => {
                return Ok(());
            }
            other => {
                return refuse(
                    &format!("the expression {other}"),
                    "compute it after the release (in the SELECT list over the released aggregates) or before, on public data",
                );
            }
        }
        let mut result = Ok(());
        expr.apply_children(|child| {
            result = self.check(child, schema);
            Ok(if result.is_ok() {
                TreeNodeRecursion::Continue
            } else {
                TreeNodeRecursion::Stop
            })
        })?;
        result
    }

    /// A constant fails (or not) whatever the data: evaluate it now.
    fn constant(&self, expr: &Expr) -> Result<()> {
        let empty = DFSchema::empty();
        let physical = self.state.create_physical_expr(expr.clone(), &empty)?;
        physical.evaluate(&one_row()?).map(|_| ()).map_err(|e| {
            datafusion::common::DataFusionError::Plan(format!(
                "DP query: evaluating {expr} failed: {e}"
            ))
        })
    }

    fn binary(&self, op: Operator, left: &Expr, right: &Expr, schema: &DFSchema) -> Result<()> {
        use Operator::*;
        match op {
            Eq | NotEq | Lt | LtEq | Gt | GtEq | IsDistinctFrom | IsNotDistinctFrom | And | Or
            | StringConcat | LikeMatch | ILikeMatch | NotLikeMatch | NotILikeMatch => Ok(()),
            RegexMatch | RegexIMatch | RegexNotMatch | RegexNotIMatch => {
                if right.column_refs().is_empty() {
                    Ok(())
                } else {
                    refuse(
                        "a regular expression taken from the data",
                        "match against a literal pattern",
                    )
                }
            }
            Plus | Minus | Multiply => {
                let (l, r) = (left.get_type(schema)?, right.get_type(schema)?);
                // Integer and float arithmetic wraps or gives inf; dates,
                // timestamps, intervals and decimals can overflow.
                if plain_number(&l) && plain_number(&r) {
                    Ok(())
                } else {
                    refuse(
                        &format!("the arithmetic {left} {op} {right} on {l} and {r}"),
                        "compare the column with a constant instead (ts >= TIMESTAMP '2025-01-01' - INTERVAL '30 days'), or compute in doubles",
                    )
                }
            }
            Divide | Modulo => {
                let result = Expr::BinaryExpr(datafusion::logical_expr::BinaryExpr::new(
                    Box::new(left.clone()),
                    op,
                    Box::new(right.clone()),
                ))
                .get_type(schema)?;
                // Integer division fails on a zero divisor and on MIN / -1
                // (which wrapping arithmetic can make from one unit's id),
                // so only a constant divisor other than 0 and -1 is safe.
                if is_float(&result) || (result.is_integer() && self.safe_divisor(right)?) {
                    Ok(())
                } else {
                    refuse(
                        &format!("the division {left} {op} {right} on {result}"),
                        "divide as doubles (CAST(x AS DOUBLE) / y), or by a constant other than 0 and -1",
                    )
                }
            }
            other => refuse(
                &format!("the operator {other}"),
                "compute it after the release or on public data",
            ),
        }
    }

    fn safe_divisor(&self, divisor: &Expr) -> Result<bool> {
        if !divisor.column_refs().is_empty() || has_nested_plan_or_aggregate(divisor) {
            return Ok(false);
        }
        self.constant(divisor)?;
        let empty = DFSchema::empty();
        let value = match self
            .state
            .create_physical_expr(divisor.clone(), &empty)?
            .evaluate(&one_row()?)?
        {
            ColumnarValue::Scalar(v) => v,
            ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0)?,
        };
        let Ok(ScalarValue::Float64(Some(v))) = value.cast_to(&DataType::Float64) else {
            return Ok(false);
        };
        Ok(v != 0.0 && v != -1.0)
    }

    fn function(&self, name: &str, args: &[Expr], schema: &DFSchema) -> Result<()> {
        let name = name.to_ascii_lowercase();
        if ANY_ARGUMENT.contains(&name.as_str()) {
            return Ok(());
        }
        if name == "date_part" || name == "date_trunc" {
            let unit = match args.first() {
                Some(Expr::Literal(ScalarValue::Utf8(Some(u)), _))
                | Some(Expr::Literal(ScalarValue::Utf8View(Some(u)), _))
                | Some(Expr::Literal(ScalarValue::LargeUtf8(Some(u)), _)) => u.to_ascii_lowercase(),
                _ => String::new(),
            };
            let units: &[&str] = if name == "date_part" {
                DATE_PART_UNITS
            } else {
                DATE_TRUNC_UNITS
            };
            let value = args.get(1).map(|a| a.get_type(schema)).transpose()?;
            return if !units.contains(&unit.as_str()) {
                refuse(
                    &format!(
                        "{name} with the unit {}",
                        args.first().map_or("(none)".into(), ToString::to_string)
                    ),
                    &format!("use a literal unit, one of {}", units.join(", ")),
                )
            } else if !value.as_ref().is_some_and(is_datetime) {
                let of = value.map_or("no argument".into(), |v| v.to_string());
                refuse(
                    &format!("{name} of {of}"),
                    "apply it to a date or timestamp column",
                )
            } else {
                Ok(())
            };
        }
        if FLOAT_ONLY.contains(&name.as_str()) {
            let types = args
                .iter()
                .map(|a| a.get_type(schema))
                .collect::<Result<Vec<_>>>()?;
            // Rounding digits may be an integer; the value must be a float.
            return if types.first().is_some_and(is_float) {
                Ok(())
            } else {
                let of = types
                    .first()
                    .map_or("no argument".into(), ToString::to_string);
                refuse(
                    &format!("{name}() of {of}"),
                    &format!("cast its argument to DOUBLE first: {name}(CAST(x AS DOUBLE))"),
                )
            };
        }
        let allowed = [&["date_part", "date_trunc"][..], ANY_ARGUMENT, FLOAT_ONLY].concat();
        refuse(
            &format!("the function {name}()"),
            &format!(
                "compute it after the release (in the SELECT list over the released aggregates); a DP query's input may use comparisons, arithmetic, CASE, TRY_CAST and the functions {}",
                allowed.join(", ")
            ),
        )
    }
}

/// Parts that are not evaluated row by row on their own (checked as any
/// other expression instead of being evaluated here).
fn has_nested_plan_or_aggregate(expr: &Expr) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        found |= matches!(
            e,
            Expr::Exists(_)
                | Expr::InSubquery(_)
                | Expr::ScalarSubquery(_)
                | Expr::AggregateFunction(_)
                | Expr::WindowFunction(_)
                | Expr::GroupingSet(_)
                | Expr::Placeholder(_)
                | Expr::ScalarVariable(..)
                | Expr::OuterReferenceColumn(..)
        );
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

fn one_row() -> Result<RecordBatch> {
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?)
}

fn is_float(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Null
    )
}

fn plain_number(t: &DataType) -> bool {
    t.is_integer() || is_float(t)
}

fn is_datetime(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) | DataType::Null
    )
}

fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Casts that succeed on every value of `from`.
fn widening_cast(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to || *from == Null || is_string(to) {
        return true;
    }
    if let Dictionary(_, value) = from {
        return widening_cast(value, to);
    }
    if is_string(from) {
        return is_string(to);
    }
    let signed_rank = |t: &DataType| match t {
        Int8 => Some(1),
        Int16 => Some(2),
        Int32 => Some(3),
        Int64 => Some(4),
        _ => None,
    };
    let unsigned_rank = |t: &DataType| match t {
        UInt8 => Some(1),
        UInt16 => Some(2),
        UInt32 => Some(3),
        UInt64 => Some(4),
        _ => None,
    };
    match to {
        Float64 | Float32 => from.is_numeric(),
        _ if signed_rank(to).is_some() => {
            let target = signed_rank(to);
            signed_rank(from).is_some_and(|r| Some(r) <= target)
                || unsigned_rank(from).is_some_and(|r| Some(r) < target)
        }
        _ if unsigned_rank(to).is_some() => {
            unsigned_rank(from).is_some_and(|r| Some(r) <= unsigned_rank(to))
        }
        Date64 => *from == Date32,
        _ => false,
    }
}

/// Functions that return a value (or NULL) for every argument.
const ANY_ARGUMENT: &[&str] = &[
    "coalesce",
    "nullif",
    "nvl",
    "ifnull",
    "lower",
    "upper",
    "btrim",
    "ltrim",
    "rtrim",
    "trim",
    "length",
    "char_length",
    "character_length",
    "octet_length",
    "bit_length",
    "concat",
    "concat_ws",
    "starts_with",
    "ends_with",
    "strpos",
    "replace",
    "reverse",
    "initcap",
    "left",
    "right",
    "isnan",
    "iszero",
    "least",
    "greatest",
    "md5",
    "sha256",
    "to_hex",
    "random",
];

/// Functions that never fail on a float argument (NaN or inf instead).
const FLOAT_ONLY: &[&str] = &[
    "abs", "round", "floor", "ceil", "trunc", "sqrt", "cbrt", "ln", "log10", "log2", "exp",
    "signum", "power", "pow",
];

const DATE_PART_UNITS: &[&str] = &[
    "year", "quarter", "month", "week", "day", "hour", "minute", "second", "dow", "doy", "isodow",
    "epoch",
];

const DATE_TRUNC_UNITS: &[&str] = &[
    "year", "quarter", "month", "week", "day", "hour", "minute", "second",
];

/// Aggregates and windows allowed per unit before the DP aggregate.
const PER_UNIT_AGGREGATES: &[&str] = &[
    "count", "sum", "avg", "mean", "min", "max", "bool_and", "bool_or",
];
const PER_UNIT_WINDOWS: &[&str] = &[
    "row_number",
    "rank",
    "dense_rank",
    "percent_rank",
    "cume_dist",
    "lag",
    "lead",
    "first_value",
    "last_value",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widening_casts_are_the_ones_that_cannot_fail() {
        use DataType::*;
        assert!(widening_cast(&Int32, &Int64));
        assert!(widening_cast(&UInt32, &Int64));
        assert!(widening_cast(&Int64, &Float64));
        assert!(widening_cast(&Int64, &Utf8));
        assert!(widening_cast(&Date32, &Date64));
        assert!(!widening_cast(&Int64, &Int32));
        assert!(!widening_cast(&UInt64, &Int64));
        assert!(!widening_cast(&Int8, &UInt8));
        assert!(!widening_cast(&Utf8, &Int64));
        assert!(!widening_cast(&Float64, &Int64));
        assert!(!widening_cast(
            &Date32,
            &Timestamp(datafusion::arrow::datatypes::TimeUnit::Nanosecond, None)
        ));
    }
}
