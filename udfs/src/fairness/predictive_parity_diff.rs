//! `predictive_parity_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::group_rates::{Confusion, GroupRates, metric_documentation, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn predictive_parity_diff(groups: &GroupRates) -> Option<f64> {
    spread(groups, Confusion::precision)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    metric_documentation(
        "predictive_parity_diff",
        "Predictive parity difference: the largest minus the smallest precision (share of the rows predicted 1 whose label is 1) over the groups: a favourable prediction should mean the same in every group. Groups with no row predicted 1 are left out.",
    )
});
