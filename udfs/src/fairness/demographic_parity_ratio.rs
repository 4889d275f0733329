//! `demographic_parity_ratio(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::group_rates::{Confusion, GroupRates, extremes, metric_documentation};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn demographic_parity_ratio(groups: &GroupRates) -> Option<f64> {
    let (min, max) = extremes(groups, Confusion::selection_rate)?;
    (max > 0.0).then(|| min / max)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    metric_documentation(
        "demographic_parity_ratio",
        "Demographic parity ratio, or disparate impact: the smallest selection rate divided by the largest, as fairlearn's demographic_parity_ratio. Below 0.8 fails the US four-fifths rule of adverse impact. NULL when no group is ever selected. The label is not used.",
    )
});
