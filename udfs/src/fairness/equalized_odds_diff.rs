//! `equalized_odds_diff(group, label, prediction)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;

use super::group_rates::{Confusion, GroupRates, metric_documentation, spread};

/// See [`DOCUMENTATION`]; None when no group defines the rate.
pub fn equalized_odds_diff(groups: &GroupRates) -> Option<f64> {
    let tpr = spread(groups, Confusion::true_positive_rate);
    let fpr = spread(groups, Confusion::false_positive_rate);
    match (tpr, fpr) {
        (Some(t), Some(f)) => Some(t.max(f)),
        (t, f) => t.or(f),
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    metric_documentation(
        "equalized_odds_diff",
        "Equalized odds difference: the larger of the true-positive-rate gap and the false-positive-rate gap between groups, as fairlearn's equalized_odds_difference (agg='worst_case'). Groups without label-1 (label-0) rows are left out of the TPR (FPR) gap.",
    )
});
