//! Risk: credit scoring (discrimination and stability of scores), fraud
//! detection and market risk.

mod anomaly;
mod auc;
mod basel_traffic_light;
mod benford_test;
mod beta;
mod binning;
mod binning_table;
mod component_var;
mod component_var_historical;
mod equal_frequency_edges;
mod equal_width_edges;
mod ewma_volatility;
mod expected_shortfall;
mod gini;
mod isolation_forest;
mod isolation_forest_fit;
mod isolation_forest_score;
mod ks_statistic;
mod max_drawdown;
mod monotonic_edges;
mod psi;
mod psi_scores;
mod reason_codes;
mod robust_zscore;
mod roc;
mod scorecard_points;
mod series;
mod sharpe_ratio;
mod sortino_ratio;
mod var_backtest;
mod var_cornish_fisher;
mod var_historical;
mod var_monte_carlo;
mod var_parametric;
mod woe_iv;
mod zscore;

pub use anomaly::{AnomalyScore, AnomalyScoreFunc};
pub use auc::auc;
pub use basel_traffic_light::{BaselTrafficLightFunc, traffic_light};
pub use benford_test::{BenfordTestFunc, first_digit};
pub use binning_table::BinningTableFunc;
pub use equal_frequency_edges::EqualFrequencyEdgesFunc;
pub use equal_width_edges::{EqualWidthEdgesFunc, equal_width};
pub use ewma_volatility::{EwmaVolatilityFunc, ewma_volatility};
pub use expected_shortfall::expected_shortfall;
pub use gini::gini;
pub use isolation_forest::{Forest, average_path_length};
pub use isolation_forest_fit::IsolationForestFitFunc;
pub use isolation_forest_score::IsolationForestScoreFunc;
pub use ks_statistic::ks_statistic;
pub use monotonic_edges::{MonotonicEdgesFunc, monotonic};
pub use psi::{PsiFunc, population_stability_index};
pub use psi_scores::{PsiScoresFunc, psi_of_scores};
pub use reason_codes::ReasonCodesFunc;
pub use roc::{ClassScores, RocMetric, RocMetricFunc};
pub use scorecard_points::{ScoreScale, ScorecardPointsFunc};
pub use series::{SeriesFunc, SeriesMetric};
pub use var_historical::var_historical;
pub use woe_iv::WoeIvFunc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};

use crate::TableFunction;

/// Scalar functions of this domain.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(ScorecardPointsFunc::new()),
        ScalarUDF::from(ReasonCodesFunc::new()),
        ScalarUDF::from(BaselTrafficLightFunc::new()),
        ScalarUDF::from(IsolationForestScoreFunc::new()),
    ]
}

/// Aggregate functions of this domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        roc::udaf(RocMetric::Auc),
        roc::udaf(RocMetric::Gini),
        roc::udaf(RocMetric::KsStatistic),
        AggregateUDF::from(WoeIvFunc::new()),
        AggregateUDF::from(EqualWidthEdgesFunc::new()),
        AggregateUDF::from(EqualFrequencyEdgesFunc::new()),
        AggregateUDF::from(MonotonicEdgesFunc::new()),
        AggregateUDF::from(PsiFunc::new()),
        AggregateUDF::from(PsiScoresFunc::new()),
        series::udaf(SeriesMetric::VarHistorical),
        series::udaf(SeriesMetric::ExpectedShortfall),
        series::udaf(SeriesMetric::VarParametric),
        series::udaf(SeriesMetric::VarCornishFisher),
        series::udaf(SeriesMetric::VarMonteCarlo),
        series::udaf(SeriesMetric::SharpeRatio),
        series::udaf(SeriesMetric::SortinoRatio),
        series::udaf(SeriesMetric::Beta),
        series::udaf(SeriesMetric::MaxDrawdown),
        series::udaf(SeriesMetric::VarBacktest),
        series::udaf(SeriesMetric::ComponentVar),
        series::udaf(SeriesMetric::ComponentVarHistorical),
        AggregateUDF::from(BenfordTestFunc::new()),
        AggregateUDF::from(IsolationForestFitFunc::new()),
    ]
}

/// Window functions of this domain.
pub fn window_functions() -> Vec<WindowUDF> {
    vec![
        anomaly::udwf(AnomalyScore::ZScore),
        anomaly::udwf(AnomalyScore::RobustZScore),
        WindowUDF::from(EwmaVolatilityFunc::new()),
    ]
}

/// Table functions of this domain.
pub fn table_functions() -> Vec<TableFunction> {
    vec![TableFunction {
        name: "binning_table",
        implementation: std::sync::Arc::new(BinningTableFunc),
        documentation: &binning_table::DOCUMENTATION,
    }]
}
