//! `kmeans_assign(model, feature1 [, feature2 ...])`: the nearest centroid.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, Int64Array, StructArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_float64_array, as_list_array};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::kmeans::check_model;
use crate::kernel::{all_scalar, coerce_numeric, finish};

const NAME: &str = "kmeans_assign";

/// SQL `kmeans_assign`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct KmeansAssignFunc {
    signature: Signature,
}

impl Default for KmeansAssignFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl KmeansAssignFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for KmeansAssignFunc {
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
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(model) = arrays[0].as_any().downcast_ref::<StructArray>() else {
            return exec_err!("{NAME}: expected a model struct");
        };
        let Some(centroids) = model.column_by_name("centroids") else {
            return exec_err!("{NAME}: the model has no 'centroids'");
        };
        let centroids = as_list_array(centroids)?;
        let points = as_list_array(centroids.values())?;
        let coordinates = as_float64_array(points.values())?.values();
        let point_offsets = points.value_offsets();
        let features = arrays[1..]
            .iter()
            .map(|a| as_float64_array(a))
            .collect::<Result<Vec<_>>>()?;
        let dims = features.len();
        let nulls = features.iter().fold(
            NullBuffer::union(model.nulls(), centroids.nulls()),
            |acc, f| NullBuffer::union(acc.as_ref(), f.nulls()),
        );
        let offsets = centroids.value_offsets();
        let mut out = Vec::with_capacity(arrays[0].len());
        let mut point = vec![0.0; dims];
        for i in 0..arrays[0].len() {
            if nulls.as_ref().is_some_and(|n| n.is_null(i)) {
                out.push(0);
                continue;
            }
            for (slot, f) in point.iter_mut().zip(&features) {
                *slot = f.value(i);
            }
            let mut best = (0i64, f64::INFINITY);
            for (j, c) in (offsets[i] as usize..offsets[i + 1] as usize).enumerate() {
                let (start, end) = (point_offsets[c] as usize, point_offsets[c + 1] as usize);
                if end - start != dims {
                    return exec_err!(
                        "{NAME}: the model's centroids have {} coordinates but {dims} features were \
                         given; pass the features in the order of the model's 'features' field",
                        end - start
                    );
                }
                let d = super::kmeans::distance2(&point, &coordinates[start..end]);
                if d < best.1 {
                    best = (j as i64, d);
                }
            }
            out.push(best.0);
        }
        finish(Arc::new(Int64Array::new(out.into(), nulls)), scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

static DOCUMENTATION: LazyLock<Documentation> =
    LazyLock::new(|| {
        Documentation::builder(
        DOC_SECTION_MATH,
        "Index (0-based, as scikit-learn's labels) of the centroid nearest to the given point in \
         a model from kmeans_fit, by Euclidean distance; the first on ties. Features must be \
         passed in the model's order. NULL when the model or any feature is NULL.",
        "kmeans_assign(model, feature1 [, feature2 ...])",
    )
    .with_sql_example(
        r#"```sql
> SELECT kmeans_assign(named_struct('centroids', [[0.0, 0.0], [10.0, 10.0]]), 9.0, 8.5) AS cluster;
+---------+
| cluster |
+---------+
| 1       |
+---------+
```"#,
    )
    .with_argument("model", "The struct kmeans_fit returns.")
    .with_argument("feature1", "Features, as many and in the order the model was fitted with.")
    .build()
    });
