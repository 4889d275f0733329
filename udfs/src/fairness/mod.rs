//! Fairness: the group metrics a model-risk team audits before a credit or
//! pricing model goes live, with fairlearn's definitions.

mod demographic_parity_diff;
mod demographic_parity_ratio;
mod equal_opportunity_diff;
mod equalized_odds_diff;
mod false_negative_rate_diff;
mod group_rates;
mod predictive_parity_diff;

pub use group_rates::{Confusion, FairnessMetric, GroupRates};

use datafusion::logical_expr::AggregateUDF;

/// Aggregate functions of this domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    FairnessMetric::ALL
        .into_iter()
        .map(group_rates::udaf)
        .collect()
}
