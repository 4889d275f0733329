//! `logistic_regression_predict(model, feature1 [, feature2 ...])`: the
//! probability of the event under a fitted logistic regression.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_float64_array;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::logistic_regression::{check_model, model_columns, sigmoid};
use crate::kernel::{all_scalar, coerce_numeric, finish};

const NAME: &str = "logistic_regression_predict";

/// SQL `logistic_regression_predict`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LogisticRegressionPredictFunc {
    signature: Signature,
}

impl Default for LogisticRegressionPredictFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl LogisticRegressionPredictFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for LogisticRegressionPredictFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        if arg_types.len() < 2 {
            return plan_err!(
                "{NAME} expects (model, feature1 [, feature2 ...]), got {} arguments",
                arg_types.len()
            );
        }
        let mut coerced = vec![check_model(NAME, &arg_types[0])?];
        for (i, data_type) in arg_types[1..].iter().enumerate() {
            coerced.push(coerce_numeric(
                NAME,
                &format!("feature{}", i + 1),
                data_type,
            )?);
        }
        Ok(coerced)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let model = model_columns(NAME, &arrays[0])?;
        let features = arrays[1..]
            .iter()
            .map(|a| as_float64_array(a))
            .collect::<Result<Vec<_>>>()?;
        let k = features.len();
        let len = arrays[0].len();
        let nulls = features.iter().fold(
            NullBuffer::union(model.intercept.nulls(), model.coefficients.nulls()),
            |acc, f| NullBuffer::union(acc.as_ref(), f.nulls()),
        );
        let offsets = model.coefficients.value_offsets();
        let coefficients = model.values.values();
        let mut out = Vec::with_capacity(len);
        for i in 0..len {
            if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                out.push(0.0);
                continue;
            }
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            if end - start != k {
                return exec_err!(
                    "{NAME}: the model has {} coefficients but {k} features were given; pass the \
                     features in the order of the model's 'features' field",
                    end - start
                );
            }
            let w = &coefficients[start..end];
            let mut z = model.intercept.value(i);
            for (j, feature) in features.iter().enumerate() {
                z += w[j] * feature.value(i);
            }
            out.push(sigmoid(z));
        }
        finish(Arc::new(Float64Array::new(out.into(), nulls)), scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Probability of the event (label = 1) for the given features under a model from \
         logistic_regression_fit: 1 / (1 + exp(-(intercept + sum coefficients_j * feature_j))). \
         Features must be passed in the model's order (its 'features' field lists them). NULL \
         when the model or any feature is NULL; a feature count that differs from the model's is \
         an error.",
        "logistic_regression_predict(model, feature1 [, feature2 ...])",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(logistic_regression_predict(
           named_struct('intercept', -1.0, 'coefficients', [0.5, 2.0]), 2.0, 0.25), 4) AS p;
+--------+
| p      |
+--------+
| 0.6225 |
+--------+
```"#,
    )
    .with_argument(
        "model",
        "The struct logistic_regression_fit returns (intercept, coefficients).",
    )
    .with_argument(
        "feature1",
        "Features, as many and in the order the model was fitted with.",
    )
    .build()
});
