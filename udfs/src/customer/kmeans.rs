//! The k-means model shared by `kmeans_fit` and `kmeans_assign`: centroids
//! as a list of points (one list of coordinates per cluster).

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, plan_err};

pub const MODEL_NAME: &str = "kmeans_fit";

pub fn centroids_type() -> DataType {
    let point = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
    DataType::List(Arc::new(Field::new_list_field(point, true)))
}

pub fn model_fields() -> Vec<(&'static str, DataType)> {
    vec![
        ("k", DataType::Int64),
        ("centroids", centroids_type()),
        (
            "features",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        ),
        (
            "cluster_sizes",
            DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true))),
        ),
        ("inertia", DataType::Float64),
        ("rows", DataType::Int64),
        ("iterations", DataType::Int64),
        ("converged", DataType::Boolean),
        ("seed", DataType::Int64),
    ]
}

/// Plan-time check of a model argument.
pub fn check_model(function: &str, data_type: &DataType) -> Result<DataType> {
    if data_type.is_null() {
        return Ok(crate::model::model_type(&model_fields()));
    }
    let ok = matches!(data_type, DataType::Struct(fields)
        if fields.find("centroids").is_some_and(|(_, f)| f.data_type() == &centroids_type()));
    if ok {
        Ok(data_type.clone())
    } else {
        plan_err!(
            "{function}: argument 'model' must be the struct kmeans_fit returns (with a \
             'centroids' list of lists of doubles), got {data_type}"
        )
    }
}

/// Squared Euclidean distance.
#[inline]
pub fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Index of the nearest centroid (the first on ties, as scikit-learn) and
/// the squared distance to it.
#[inline]
pub fn nearest(point: &[f64], centroids: &[Vec<f64>]) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for (j, c) in centroids.iter().enumerate() {
        let d = distance2(point, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}
