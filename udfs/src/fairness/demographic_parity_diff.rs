//! `demographic_parity_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::group_rates::{Confusion, GroupRates, metric_documentation, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn demographic_parity_diff(groups: &GroupRates) -> Option<f64> {
    spread(groups, Confusion::selection_rate)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    metric_documentation(
        "demographic_parity_diff",
        "Demographic parity difference: the largest minus the smallest selection rate (share predicted 1) over the groups, as fairlearn's demographic_parity_difference. 0 means every group is granted at the same rate. The label is not used (it is accepted so that every group metric takes the same arguments).",
    )
});
