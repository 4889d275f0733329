//! Fairness: the group metrics a model-risk team audits before a credit or
//! pricing model goes live, with fairlearn's definitions.

mod calibration_by_group;
mod demographic_parity_diff;
mod demographic_parity_ratio;
mod equal_opportunity_diff;
mod equalized_odds_diff;
mod fairness_report;
mod false_negative_rate_diff;
mod group_rates;
mod group_thresholds;
mod predictive_parity_diff;

pub(crate) use group_rates::as_text;
pub use group_rates::{Confusion, FairnessMetric, GroupRates};

use std::sync::Arc;

use datafusion::logical_expr::AggregateUDF;

use crate::TableFunction;

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn datafusion::catalog::TableProvider) -> Option<&str> {
    fairness_report::backing_query(table)
        .or_else(|| calibration_by_group::backing_query(table))
        .or_else(|| group_thresholds::backing_query(table))
}

/// Aggregate functions of this domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    FairnessMetric::ALL
        .into_iter()
        .map(group_rates::udaf)
        .collect()
}

/// Table functions of this domain.
pub fn table_functions() -> Vec<TableFunction> {
    vec![
        TableFunction {
            name: "fairness_report",
            implementation: Arc::new(fairness_report::FairnessReportFunc),
            documentation: &fairness_report::DOCUMENTATION,
        },
        TableFunction {
            name: "calibration_by_group",
            implementation: Arc::new(calibration_by_group::CalibrationByGroupFunc),
            documentation: &calibration_by_group::DOCUMENTATION,
        },
        TableFunction {
            name: "group_thresholds",
            implementation: Arc::new(group_thresholds::GroupThresholdsFunc),
            documentation: &group_thresholds::DOCUMENTATION,
        },
    ]
}
