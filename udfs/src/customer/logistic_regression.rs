//! The logistic-regression model shared by `logistic_regression_fit` and
//! `logistic_regression_predict`: a struct with the intercept and one
//! coefficient per feature, in the order the features were given.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, ListArray, StructArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::cast::{as_float64_array, as_list_array};
use datafusion::common::{Result, exec_err, plan_err};

pub const MODEL_NAME: &str = "logistic_regression_fit";

pub fn model_fields() -> Vec<(&'static str, DataType)> {
    let list = |t: DataType| DataType::List(Arc::new(Field::new_list_field(t, true)));
    vec![
        ("intercept", DataType::Float64),
        ("coefficients", list(DataType::Float64)),
        ("features", list(DataType::Utf8)),
        ("c", DataType::Float64),
        ("log_loss", DataType::Float64),
        ("rows", DataType::Int64),
        ("iterations", DataType::Int64),
        ("converged", DataType::Boolean),
    ]
}

/// Plan-time check of a model argument.
pub fn check_model(function: &str, data_type: &DataType) -> Result<DataType> {
    if data_type.is_null() {
        return Ok(crate::model::model_type(&model_fields()));
    }
    let DataType::Struct(fields) = data_type else {
        return plan_err!(
            "{function}: argument 'model' must be the struct logistic_regression_fit returns, got {data_type}"
        );
    };
    let has = |name: &str, ok: &dyn Fn(&DataType) -> bool| {
        fields.find(name).is_some_and(|(_, f)| ok(f.data_type()))
    };
    let is_list = |t: &DataType| matches!(t, DataType::List(f) if f.data_type().is_numeric());
    if !has("intercept", &|t| t.is_numeric()) || !has("coefficients", &is_list) {
        return plan_err!(
            "{function}: argument 'model' must be the struct logistic_regression_fit returns \
             (numeric 'intercept' and a list 'coefficients'), got {data_type}"
        );
    }
    Ok(data_type.clone())
}

/// The intercepts and coefficient lists of a model column, with the model's
/// nulls.
pub struct ModelColumns {
    pub intercept: Float64Array,
    pub coefficients: ListArray,
    pub values: Float64Array,
}

pub fn model_columns(function: &str, model: &ArrayRef) -> Result<ModelColumns> {
    let intercept = crate::model::model_field_f64(function, model, "intercept")?;
    let Some(model) = model.as_any().downcast_ref::<StructArray>() else {
        return exec_err!("{function}: expected a model struct");
    };
    let Some(coefficients) = model.column_by_name("coefficients") else {
        return exec_err!("{function}: the model has no 'coefficients'");
    };
    let coefficients = as_list_array(coefficients)?.clone();
    let values = datafusion::arrow::compute::cast(coefficients.values(), &DataType::Float64)?;
    let values = as_float64_array(&values)?.clone();
    Ok(ModelColumns {
        intercept,
        coefficients,
        values,
    })
}

/// The logistic function, without overflow for large |z|.
#[inline]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}
