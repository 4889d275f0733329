//! Row kernels shared by the numeric scalar functions: coercion of the
//! arguments to Float64, a NULL-propagating map over Float64 columns, and
//! scalar-in, scalar-out.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, internal_err, plan_err};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{ColumnarValue, Expr};

/// The Float64 coercion of one numeric argument, or a plan error naming the
/// function and the argument.
pub fn coerce_numeric(function: &str, argument: &str, data_type: &DataType) -> Result<DataType> {
    if data_type.is_numeric() || data_type.is_null() {
        Ok(DataType::Float64)
    } else {
        plan_err!("{function}: argument '{argument}' must be numeric, got {data_type}")
    }
}

/// The Utf8 coercion of one string argument (any string type, a
/// dictionary of strings, or NULL), or a plan error naming the function and
/// the argument.
pub fn coerce_string(function: &str, argument: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Null
        | DataType::Dictionary(_, _) => Ok(DataType::Utf8),
        t => plan_err!("{function}: argument '{argument}' must be a string, got {t}"),
    }
}

/// Checks the argument count against `names`.
pub fn check_arity(function: &str, names: &[&str], arg_types: &[DataType]) -> Result<()> {
    if arg_types.len() != names.len() {
        return plan_err!(
            "{function} expects {} arguments ({}), got {}",
            names.len(),
            names.join(", "),
            arg_types.len()
        );
    }
    Ok(())
}

/// True when every argument is a scalar, so the result should be one too.
pub fn all_scalar(args: &[ColumnarValue]) -> bool {
    args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)))
}

/// Wraps a kernel's output: a scalar when every input was one.
pub fn finish(values: ArrayRef, scalar: bool) -> Result<ColumnarValue> {
    if scalar {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &values, 0,
        )?))
    } else {
        Ok(ColumnarValue::Array(values))
    }
}

/// Applies `f` to every row where all `columns` are non-NULL; the result is
/// NULL wherever an input is. `f` may reject a row with an error.
#[inline]
pub fn try_map_rows<const N: usize>(
    columns: [&Float64Array; N],
    mut f: impl FnMut([f64; N]) -> Result<f64>,
) -> Result<ArrayRef> {
    let len = columns.first().map_or(0, |c| c.len());
    let nulls = columns.iter().fold(None, |acc: Option<NullBuffer>, c| {
        NullBuffer::union(acc.as_ref(), c.nulls())
    });
    let values: Vec<&[f64]> = columns.iter().map(|c| c.values().as_ref()).collect();
    let mut out = Vec::with_capacity(len);
    let row = |i: usize| std::array::from_fn(|k| values[k][i]);
    match &nulls {
        None => {
            for i in 0..len {
                out.push(f(row(i))?);
            }
        }
        Some(nulls) => {
            for i in 0..len {
                out.push(if nulls.is_valid(i) { f(row(i))? } else { 0.0 });
            }
        }
    }
    Ok(Arc::new(Float64Array::new(out.into(), nulls)))
}

/// Float64 coercions for functions whose arguments are all numeric.
pub fn coerce_all_numeric(
    function: &str,
    names: &[&str],
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    check_arity(function, names, arg_types)?;
    names
        .iter()
        .zip(arg_types)
        .map(|(name, data_type)| coerce_numeric(function, name, data_type))
        .collect()
}

/// An aggregate's list literal argument, dictionary-encoded: DataFusion
/// repeats every argument for every row of every batch before the
/// accumulator sees it, which for a list literal (woe_iv's 8 edges) copies
/// the whole list per row and took 45% of the aggregate's time; a
/// dictionary repeats a 4-byte key instead. For an `AggregateUDFImpl::simplify`
/// of functions that read the argument with [`constant_argument`] only.
pub fn cheap_to_repeat(mut aggregate: AggregateFunction, index: usize) -> Expr {
    if let Some(Expr::Literal(value @ ScalarValue::List(_), _)) =
        aggregate.params.args.get_mut(index)
    {
        let list = std::mem::replace(value, ScalarValue::Null);
        *value = ScalarValue::Dictionary(Box::new(DataType::Int32), Box::new(list));
    }
    Expr::AggregateFunction(aggregate)
}

/// The value of a constant argument (a literal, or an expression of
/// literals), read when the accumulator is created.
pub fn constant_argument(
    function: &str,
    argument: &str,
    args: &AccumulatorArgs,
    index: usize,
) -> Result<ScalarValue> {
    let Some(expr) = args.exprs.get(index) else {
        return internal_err!("{function}: missing argument {index}");
    };
    let empty = RecordBatch::new_empty(Arc::new(args.schema.clone()));
    match expr.evaluate(&empty) {
        // A literal dictionary-encoded so that it is cheap to repeat per row
        // (see `cheap_to_repeat`).
        Ok(ColumnarValue::Scalar(ScalarValue::Dictionary(_, value))) => Ok(*value),
        Ok(ColumnarValue::Scalar(value)) => Ok(value),
        _ => plan_err!(
            "{function}: argument '{argument}' must be a constant (for example DATE '2024-06-30'), \
             not a column"
        ),
    }
}

/// A feature's name for a model's `features` field: the argument's physical
/// expression without column indices (`x@1 * 2` becomes `x * 2`).
pub fn feature_name(expr: &dyn std::fmt::Display) -> String {
    let text = expr.to_string();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '@' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A one-row list array holding `values`: an aggregate's list result.
pub fn single_row_list(
    values: datafusion::arrow::array::StructArray,
) -> Result<datafusion::arrow::array::ListArray> {
    let offsets = datafusion::arrow::buffer::OffsetBuffer::from_lengths([values.len()]);
    let field = Arc::new(datafusion::arrow::datatypes::Field::new_list_field(
        values.data_type().clone(),
        true,
    ));
    Ok(datafusion::arrow::array::ListArray::try_new(
        field,
        offsets,
        Arc::new(values),
        None,
    )?)
}

/// The parameters of a model column when every row holds the same,
/// non-NULL values (a literal model, or a cross join with one fitted model).
pub fn constant_model<const N: usize>(columns: [&Float64Array; N]) -> Option<[f64; N]> {
    let first: [f64; N] =
        std::array::from_fn(|k| columns[k].values().first().copied().unwrap_or(f64::NAN));
    let constant = columns.iter().zip(first).all(|(c, v)| {
        !c.is_empty()
            && c.null_count() == 0
            && c.values().iter().all(|x| x.to_bits() == v.to_bits())
    });
    constant.then_some(first)
}
