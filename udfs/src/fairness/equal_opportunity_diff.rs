//! `equal_opportunity_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::group_rates::{Confusion, GroupRates, metric_documentation, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn equal_opportunity_diff(groups: &GroupRates) -> Option<f64> {
    spread(groups, Confusion::true_positive_rate)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    metric_documentation(
        "equal_opportunity_diff",
        "Equal opportunity difference: the largest minus the smallest true-positive rate (recall: share of the label-1 rows predicted 1) over the groups, as fairlearn's equal_opportunity_difference. Groups without label-1 rows have no rate and are left out.",
    )
});
