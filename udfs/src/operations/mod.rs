//! Operations analytics: pricing, marketing ROI, branch and channel network.

mod haversine_km;

pub use haversine_km::HaversineKmFunc;

use datafusion::logical_expr::ScalarUDF;

/// Scalar functions of this domain.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(HaversineKmFunc::new())]
}
