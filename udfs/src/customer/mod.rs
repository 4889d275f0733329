//! Customer analytics: purchase summaries, RFM, BG/NBD and Gamma-Gamma
//! lifetime value, churn, segmentation and recommendation.

mod apriori;
mod association_rules;
mod association_rules_agg;
mod baskets;
mod bgnbd;
mod bgnbd_expected_purchases;
mod bgnbd_fit;
mod bgnbd_p_alive;
mod bgnbd_probability_of_n_purchases;
mod calibration_holdout_summary;
mod churn_probability;
mod clv;
mod customer_summary;
mod gamma_gamma;
mod gamma_gamma_expected_spend;
mod gamma_gamma_fit;
mod item_similarity;
mod item_similarity_agg;
mod kmeans;
mod kmeans_assign;
mod kmeans_fit;
mod logistic_regression;
mod logistic_regression_fit;
mod logistic_regression_predict;
mod purchase_days;
mod rfm_segment;

pub use apriori::{Rule, mine as mine_association_rules};
pub use association_rules::AssociationRulesFunc;
pub use association_rules_agg::AssociationRulesAggFunc;
pub use baskets::IndexedBaskets;
pub use bgnbd::BgNbd;
pub use bgnbd::Histories as BgNbdHistories;
pub use bgnbd_expected_purchases::BgNbdExpectedPurchasesFunc;
pub use bgnbd_fit::{BgNbdFit, BgNbdFitFunc, fit as fit_bgnbd};
pub use bgnbd_p_alive::BgNbdPAliveFunc;
pub use bgnbd_probability_of_n_purchases::BgNbdProbabilityOfNPurchasesFunc;
pub use calibration_holdout_summary::CalibrationHoldoutSummaryFunc;
pub use churn_probability::ChurnProbabilityFunc;
pub use clv::ClvFunc;
pub use customer_summary::CustomerSummaryFunc;
pub use gamma_gamma::{GammaGamma, Spends};
pub use gamma_gamma_expected_spend::GammaGammaExpectedSpendFunc;
pub use gamma_gamma_fit::{GammaGammaFit, GammaGammaFitFunc, fit as fit_gamma_gamma};
pub use item_similarity::ItemSimilarityFunc;
pub use item_similarity_agg::{ItemSimilarityAggFunc, SimilarItem, similar_items};
pub use kmeans_assign::KmeansAssignFunc;
pub use kmeans_fit::{KmeansFit, KmeansFitFunc, fit as fit_kmeans};
pub use logistic_regression_fit::{
    LogisticRegressionFit, LogisticRegressionFitFunc, fit as fit_logistic_regression,
};
pub use logistic_regression_predict::LogisticRegressionPredictFunc;
pub use rfm_segment::RfmSegmentFunc;

use std::sync::Arc;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

use crate::TableFunction;

/// Scalar functions of this domain.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(BgNbdPAliveFunc::new()),
        ScalarUDF::from(BgNbdExpectedPurchasesFunc::new()),
        ScalarUDF::from(BgNbdProbabilityOfNPurchasesFunc::new()),
        ScalarUDF::from(ChurnProbabilityFunc::new()),
        ScalarUDF::from(ClvFunc::new()),
        ScalarUDF::from(GammaGammaExpectedSpendFunc::new()),
        ScalarUDF::from(RfmSegmentFunc::new()),
        ScalarUDF::from(LogisticRegressionPredictFunc::new()),
        ScalarUDF::from(KmeansAssignFunc::new()),
    ]
}

/// Aggregate functions of this domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        AggregateUDF::from(BgNbdFitFunc::new()),
        AggregateUDF::from(GammaGammaFitFunc::new()),
        AggregateUDF::from(CustomerSummaryFunc::new()),
        AggregateUDF::from(CalibrationHoldoutSummaryFunc::new()),
        AggregateUDF::from(LogisticRegressionFitFunc::new()),
        AggregateUDF::from(KmeansFitFunc::new()),
        AggregateUDF::from(AssociationRulesAggFunc::new()),
        AggregateUDF::from(ItemSimilarityAggFunc::new()),
    ]
}

/// Table functions of this domain.
pub fn table_functions() -> Vec<TableFunction> {
    vec![
        TableFunction {
            name: "association_rules",
            implementation: Arc::new(AssociationRulesFunc),
            documentation: &association_rules::DOCUMENTATION,
        },
        TableFunction {
            name: "item_similarity",
            implementation: Arc::new(ItemSimilarityFunc),
            documentation: &item_similarity::DOCUMENTATION,
        },
    ]
}
