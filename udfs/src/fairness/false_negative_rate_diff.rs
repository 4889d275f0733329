//! `false_negative_rate_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::group_rates::{Confusion, GroupRates, metric_documentation, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn false_negative_rate_diff(groups: &GroupRates) -> Option<f64> {
    spread(groups, Confusion::false_negative_rate)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    metric_documentation(
        "false_negative_rate_diff",
        "False-negative-rate difference: the largest minus the smallest share of label-1 rows predicted 0 over the groups, i.e. how unequally deserving applicants are turned down. Equal to the true-positive-rate gap. Groups without label-1 rows are left out.",
    )
});
