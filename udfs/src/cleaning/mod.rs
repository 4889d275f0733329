//! Data cleaning: comparing and standardising the values people typed
//! (names entered three times with different spellings, phone numbers
//! in five formats) before analysis, and linking the records of one person.

mod cn_resident_id_is_valid;
mod cn_resident_id_upgrade;
mod dedup_candidates;
mod dedup_clusters;
mod double_metaphone;
mod email_normalize;
mod fill_backward;
mod fill_forward;
mod iban_is_valid;
mod iban_normalize;
mod impute_mean;
mod impute_median;
mod impute_mode;
mod iqr_outlier;
mod jaro_similarity;
mod jaro_winkler_similarity;
mod linkage;
mod mad_outlier;
mod parse_date;
mod partition;
mod phone_e164;
mod similarity;
mod soundex;
mod squeeze_whitespace;
mod standardize;
mod to_halfwidth;
mod token_set_ratio;
mod winsorize;

pub use partition::{PartitionCleaning, PartitionCleaningFunc};
pub use similarity::{Similarity, SimilarityFunc};
pub use standardize::{Standardize, StandardizeFunc};

use std::sync::Arc;

use datafusion::logical_expr::{ScalarUDF, WindowUDF};

use crate::TableFunction;

/// See [`crate::query_table::backing_query`].
pub(crate) fn backing_query(table: &dyn datafusion::catalog::TableProvider) -> Option<&str> {
    dedup_candidates::backing_query(table).or_else(|| dedup_clusters::backing_query(table))
}

/// Scalar functions of this domain.
pub fn scalar_functions() -> Vec<ScalarUDF> {
    vec![
        similarity::udf(Similarity::Jaro),
        similarity::udf(Similarity::JaroWinkler),
        similarity::udf(Similarity::TokenSetRatio),
        standardize::udf(Standardize::IbanIsValid),
        standardize::udf(Standardize::IbanNormalize),
        standardize::udf(Standardize::CnResidentIdIsValid),
        standardize::udf(Standardize::CnResidentIdUpgrade),
        standardize::udf(Standardize::EmailNormalize),
        standardize::udf(Standardize::ToHalfwidth),
        standardize::udf(Standardize::SqueezeWhitespace),
        standardize::udf(Standardize::Soundex),
        standardize::udf(Standardize::DoubleMetaphone),
        phone_e164::udf(),
        parse_date::udf(),
    ]
}

/// Table functions of this domain.
pub fn table_functions() -> Vec<TableFunction> {
    vec![
        TableFunction {
            name: "dedup_candidates",
            implementation: Arc::new(dedup_candidates::DedupCandidatesFunc),
            documentation: &dedup_candidates::DOCUMENTATION,
        },
        TableFunction {
            name: "dedup_clusters",
            implementation: Arc::new(dedup_clusters::DedupClustersFunc),
            documentation: &dedup_clusters::DOCUMENTATION,
        },
    ]
}

/// Window functions of this domain.
pub fn window_functions() -> Vec<WindowUDF> {
    [
        PartitionCleaning::ImputeMean,
        PartitionCleaning::ImputeMedian,
        PartitionCleaning::ImputeMode,
        PartitionCleaning::FillForward,
        PartitionCleaning::FillBackward,
        PartitionCleaning::Winsorize,
        PartitionCleaning::IqrOutlier,
        PartitionCleaning::MadOutlier,
    ]
    .into_iter()
    .map(partition::udwf)
    .collect()
}
