//! Data cleaning: comparing and standardising the values people typed
//! (names entered three times with different spellings) before analysis.

mod cn_resident_id_is_valid;
mod cn_resident_id_upgrade;
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
mod mad_outlier;
mod partition;
mod similarity;
mod standardize;
mod token_set_ratio;
mod winsorize;

pub use partition::{PartitionCleaning, PartitionCleaningFunc};
pub use similarity::{Similarity, SimilarityFunc};
pub use standardize::{Standardize, StandardizeFunc};

use datafusion::logical_expr::{ScalarUDF, WindowUDF};

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
