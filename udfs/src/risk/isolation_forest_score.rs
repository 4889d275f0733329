//! `isolation_forest_score(model, feature1 [, feature2 ...])`: the anomaly
//! score of a point under a model from `isolation_forest_fit`.

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

use super::isolation_forest::{check_model, forests_of};
use crate::kernel::{all_scalar, coerce_numeric, finish};

const NAME: &str = "isolation_forest_score";

/// SQL `isolation_forest_score`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsolationForestScoreFunc {
    signature: Signature,
}

impl Default for IsolationForestScoreFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl IsolationForestScoreFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for IsolationForestScoreFunc {
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
        let (forests, forest_of_row) = forests_of(NAME, &arrays[0])?;
        let features = arrays[1..]
            .iter()
            .map(|a| as_float64_array(a))
            .collect::<Result<Vec<_>>>()?;
        if let Some(forest) = forests.iter().find(|f| f.features != features.len()) {
            return exec_err!(
                "{NAME}: the model was fitted on {} features but {} were given; pass the features \
                 in the order of the model's 'features' field",
                forest.features,
                features.len()
            );
        }
        let rows = arrays[0].len();
        let mut valid = NullBuffer::from_iter(forest_of_row.iter().map(Option::is_some));
        for f in &features {
            valid = NullBuffer::union(Some(&valid), f.nulls()).unwrap_or(valid);
        }
        let mut out = Vec::with_capacity(rows);
        let mut point = vec![0.0; features.len()];
        for (i, forest) in forest_of_row.iter().enumerate() {
            let Some(forest) = forest.filter(|_| valid.is_valid(i)) else {
                out.push(0.0);
                continue;
            };
            for (k, (slot, f)) in point.iter_mut().zip(&features).enumerate() {
                *slot = f.value(i);
                if slot.is_nan() {
                    return exec_err!("{NAME}: argument 'feature{}' is NaN", k + 1);
                }
            }
            out.push(forests[forest].score(&point));
        }
        finish(Arc::new(Float64Array::new(out.into(), Some(valid))), scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Anomaly score of a point under a model from isolation_forest_fit: 2^(-mean path \
         length / c(sample size)), where the path length is the depth at which the point \
         lands in each tree plus c(points in that leaf), and c(n) is the average path length \
         of an unsuccessful binary-search-tree lookup. Near 1 for points isolated in few \
         splits, about 0.5 or below for ordinary ones; the negative of scikit-learn's \
         score_samples. Features must be passed in the model's order. NULL when the model or \
         a feature is NULL; an error on NaN. Scoring reads the forest once per query, not \
         per row, when the model comes from a table or subquery.",
        "isolation_forest_score(model, feature1 [, feature2 ...])",
    )
    .with_sql_example(
        r#"```sql
> WITH f AS (SELECT isolation_forest_fit(x, 100, 256, 42) AS m FROM generate_series(1, 1000) AS t(x))
  SELECT round(isolation_forest_score(m, 500), 2) AS ordinary, round(isolation_forest_score(m, 5000), 2) AS outlier FROM f;
+----------+---------+
| ordinary | outlier |
+----------+---------+
| 0.5      | 0.65    |
+----------+---------+
```"#,
    )
    .with_argument("model", "The struct isolation_forest_fit returns.")
    .with_argument(
        "feature1",
        "Features, as many and in the order the model was fitted with.",
    )
    .build()
});
