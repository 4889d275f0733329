//! Fitted models travel through SQL as plain structs of numbers, so they can
//! be stored in a table (Parquet keeps structs), joined back, shipped to
//! Ballista executors and inspected with `model.r` or `model['r']`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};

/// A model's struct type from its (name, type) fields.
pub fn model_type(fields: &[(&str, DataType)]) -> DataType {
    DataType::Struct(model_fields(fields))
}

fn model_fields(fields: &[(&str, DataType)]) -> Fields {
    fields
        .iter()
        .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
        .collect()
}

/// One model as a one-row struct value.
pub fn model_value(fields: &[(&str, DataType)], columns: Vec<ArrayRef>) -> Result<ScalarValue> {
    let array = StructArray::try_new(model_fields(fields), columns, None)?;
    Ok(ScalarValue::Struct(Arc::new(array)))
}

/// Plan-time check that `data_type`, the type of `function`'s `argument`, is a
/// model struct with numeric `required` fields.
pub fn check_model_type(
    function: &str,
    argument: &str,
    model: &str,
    data_type: &DataType,
    required: &[&str],
) -> Result<()> {
    let DataType::Struct(fields) = data_type else {
        return plan_err!(
            "{function}: argument '{argument}' must be a {model} model (the struct returned by \
             {model}), got {data_type}"
        );
    };
    for name in required {
        match fields.find(name) {
            Some((_, field)) if field.data_type().is_numeric() => {}
            Some((_, field)) => {
                return plan_err!(
                    "{function}: field '{name}' of argument '{argument}' must be numeric, got {}",
                    field.data_type()
                );
            }
            None => {
                return plan_err!(
                    "{function}: argument '{argument}' must be a {model} model with fields {}; \
                     field '{name}' is missing",
                    required.join(", ")
                );
            }
        }
    }
    Ok(())
}

/// The type a model argument is coerced to: itself once checked, or for an
/// untyped NULL a struct of the required fields (so the result is NULL).
pub fn coerce_model_type(
    function: &str,
    argument: &str,
    model: &str,
    data_type: &DataType,
    required: &[&str],
) -> Result<DataType> {
    if data_type.is_null() {
        let fields: Vec<(&str, DataType)> = required
            .iter()
            .map(|name| (*name, DataType::Float64))
            .collect();
        return Ok(model_type(&fields));
    }
    check_model_type(function, argument, model, data_type, required)?;
    Ok(data_type.clone())
}

/// The `name` field of a model column as Float64, NULL where the model is NULL.
pub fn model_field_f64(function: &str, model: &ArrayRef, name: &str) -> Result<Float64Array> {
    let Some(model) = model.as_any().downcast_ref::<StructArray>() else {
        return exec_err!(
            "{function}: expected a model struct, got {}",
            model.data_type()
        );
    };
    let Some(column) = model.column_by_name(name) else {
        return exec_err!("{function}: the model has no field '{name}'");
    };
    let column = cast(column, &DataType::Float64)?;
    let column = as_float64_array(&column)?;
    // A NULL model (say, a fit over no rows) makes every field NULL.
    let nulls = datafusion::arrow::buffer::NullBuffer::union(column.nulls(), model.nulls());
    Ok(Float64Array::new(column.values().clone(), nulls))
}

/// Coercions for `f(model, numbers...)`: the model checked (or an untyped
/// NULL typed), the rest to Float64; plan errors name the function and the
/// argument. `names[0]` is the model argument.
pub fn coerce_model_and_numbers(
    function: &str,
    names: &[&str],
    model: &str,
    parameters: &[&str],
    arg_types: &[DataType],
) -> Result<Vec<DataType>> {
    crate::kernel::check_arity(function, names, arg_types)?;
    let mut coerced = vec![coerce_model_type(
        function,
        names[0],
        model,
        &arg_types[0],
        parameters,
    )?];
    for (name, data_type) in names.iter().zip(arg_types).skip(1) {
        coerced.push(crate::kernel::coerce_numeric(function, name, data_type)?);
    }
    Ok(coerced)
}
