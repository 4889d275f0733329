//! Privacy: masking, keyed pseudonymization, format-preserving tokenization,
//! generalization, re-identification risk (k-anonymity, l-diversity) and PII
//! discovery. These are the building blocks the governance layer applies by
//! role; they also work when called by hand.

mod age_band;
mod detect_pii;
mod detokenize_fpe;
mod equivalence_classes;
mod format_preserving;
mod generalize_postcode;
mod k_anonymity;
pub(crate) mod k_anonymity_classes;
pub mod keyring;
mod l_diversity;
mod mask;
mod mask_address;
mod mask_card_pan;
mod mask_email;
mod mask_iban;
mod mask_name;
mod mask_national_id;
mod mask_phone;
mod numeric_bucket;
pub(crate) mod pii_scan;
#[cfg(test)]
mod properties;
mod pseudonymize;
mod string_function;
mod tokenize_fpe;

use std::sync::Arc;

pub use crate::checks::{cn_resident_id_valid, iban_valid, luhn_check_digit, luhn_valid};
pub use detect_pii::{DetectPiiFunc, PiiKind, detect_pii};
pub use equivalence_classes::ClassMeasure;
pub use format_preserving::{Alphabet, FormatPreserving};
pub use keyring::Keyring;
pub use mask::mask_middle;
pub use mask_card_pan::mask_card_pan;
pub use mask_email::mask_email;
pub use pseudonymize::{PseudonymFormat, Pseudonymizer};
pub use string_function::PrivacyFunction;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};

use crate::TableFunction;

/// Scalar functions of this domain; the keyed ones use `keyring`.
pub fn scalar_functions(keyring: &Arc<Keyring>) -> Vec<ScalarUDF> {
    let mut functions: Vec<ScalarUDF> = PrivacyFunction::ALL
        .iter()
        .map(|f| string_function::udf(*f, keyring))
        .collect();
    functions.push(ScalarUDF::from(DetectPiiFunc::new()));
    functions
}

/// Aggregate functions of this domain.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        equivalence_classes::udaf(ClassMeasure::KAnonymity),
        equivalence_classes::udaf(ClassMeasure::LDiversity),
    ]
}

/// Table functions of this domain.
pub fn table_functions() -> Vec<TableFunction> {
    vec![
        TableFunction {
            name: "pii_scan",
            implementation: Arc::new(pii_scan::PiiScanFunc),
            documentation: &pii_scan::DOCUMENTATION,
        },
        TableFunction {
            name: "k_anonymity_classes",
            implementation: Arc::new(k_anonymity_classes::KAnonymityClassesFunc),
            documentation: &k_anonymity_classes::DOCUMENTATION,
        },
    ]
}
