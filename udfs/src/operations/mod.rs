//! Operations analytics: pricing, marketing ROI and uplift, branch and
//! channel network.

mod ab_test_means;
mod ab_test_proportions;
mod chi_square_test;
mod haversine_km;
mod price_elasticity;
mod qini_coefficient;
mod two_sample;

pub use chi_square_test::{ChiSquare, chi_square};
pub use haversine_km::HaversineKmFunc;
pub use price_elasticity::{CoMoments, fit as log_log_fit};
pub use qini_coefficient::{qini_coefficient, qini_curve};
pub use two_sample::{Arms, Moments, TwoSampleTest};

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

/// Scalar functions of this domain.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![ScalarUDF::from(HaversineKmFunc::new())]
}

/// Aggregate functions of this domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        two_sample::udaf(TwoSampleTest::Proportions),
        two_sample::udaf(TwoSampleTest::Means),
        AggregateUDF::from(chi_square_test::ChiSquareTestFunc::new()),
        AggregateUDF::from(price_elasticity::PriceElasticityFunc::new()),
        AggregateUDF::from(qini_coefficient::QiniCoefficientFunc::new()),
    ]
}
