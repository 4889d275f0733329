//! One scalar implementation for the checks and standard forms of one
//! string (`iban_is_valid`, `iban_normalize`, `cn_resident_id_is_valid`,
//! `cn_resident_id_upgrade`, `email_normalize`, `to_halfwidth`,
//! `squeeze_whitespace`, `soundex`, `double_metaphone`): each reads a string
//! per row and returns a flag or the standard form, NULL for NULL.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::cast::as_string_array;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::kernel::{all_scalar, check_arity, coerce_string, finish};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Standardize {
    IbanIsValid,
    IbanNormalize,
    CnResidentIdIsValid,
    CnResidentIdUpgrade,
    EmailNormalize,
    ToHalfwidth,
    SqueezeWhitespace,
    Soundex,
    DoubleMetaphone,
}

impl Standardize {
    pub fn name(self) -> &'static str {
        match self {
            Self::IbanIsValid => "iban_is_valid",
            Self::IbanNormalize => "iban_normalize",
            Self::CnResidentIdIsValid => "cn_resident_id_is_valid",
            Self::CnResidentIdUpgrade => "cn_resident_id_upgrade",
            Self::EmailNormalize => "email_normalize",
            Self::ToHalfwidth => "to_halfwidth",
            Self::SqueezeWhitespace => "squeeze_whitespace",
            Self::Soundex => "soundex",
            Self::DoubleMetaphone => "double_metaphone",
        }
    }

    fn argument(self) -> &'static str {
        match self {
            Self::IbanIsValid | Self::IbanNormalize => "iban",
            Self::CnResidentIdIsValid | Self::CnResidentIdUpgrade => "id",
            Self::EmailNormalize => "email",
            Self::ToHalfwidth | Self::SqueezeWhitespace => "text",
            Self::Soundex | Self::DoubleMetaphone => "name",
        }
    }

    fn flags(self) -> bool {
        matches!(self, Self::IbanIsValid | Self::CnResidentIdIsValid)
    }

    /// The standard form, None when the input is not valid.
    fn standard(self, text: &str) -> Option<String> {
        match self {
            Self::IbanIsValid | Self::IbanNormalize => super::iban_normalize::iban_normalize(text),
            Self::CnResidentIdIsValid | Self::CnResidentIdUpgrade => {
                super::cn_resident_id_upgrade::cn_resident_id_upgrade(text)
            }
            Self::EmailNormalize => super::email_normalize::email_normalize(text),
            Self::ToHalfwidth => Some(super::to_halfwidth::to_halfwidth(text)),
            Self::SqueezeWhitespace => Some(super::squeeze_whitespace::squeeze_whitespace(text)),
            Self::Soundex => super::soundex::soundex(text),
            Self::DoubleMetaphone => super::double_metaphone::double_metaphone(text),
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::IbanIsValid => &super::iban_is_valid::DOCUMENTATION,
            Self::IbanNormalize => &super::iban_normalize::DOCUMENTATION,
            Self::CnResidentIdIsValid => &super::cn_resident_id_is_valid::DOCUMENTATION,
            Self::CnResidentIdUpgrade => &super::cn_resident_id_upgrade::DOCUMENTATION,
            Self::EmailNormalize => &super::email_normalize::DOCUMENTATION,
            Self::ToHalfwidth => &super::to_halfwidth::DOCUMENTATION,
            Self::SqueezeWhitespace => &super::squeeze_whitespace::DOCUMENTATION,
            Self::Soundex => &super::soundex::DOCUMENTATION,
            Self::DoubleMetaphone => &super::double_metaphone::DOCUMENTATION,
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct StandardizeFunc {
    standardize: Standardize,
    signature: Signature,
}

/// The function for `standardize`.
pub fn udf(standardize: Standardize) -> ScalarUDF {
    ScalarUDF::new_from_shared_impl(Arc::new(StandardizeFunc {
        standardize,
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

impl ScalarUDFImpl for StandardizeFunc {
    fn name(&self) -> &str {
        self.standardize.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let (name, argument) = (self.standardize.name(), self.standardize.argument());
        check_arity(name, &[argument], arg_types)?;
        Ok(vec![coerce_string(name, argument, &arg_types[0])?])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.standardize.flags() {
            DataType::Boolean
        } else {
            DataType::Utf8
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = cast(&arrays[0], &DataType::Utf8)?;
        let text = as_string_array(&text)?;
        let standard = text.iter().map(|v| v.map(|v| self.standardize.standard(v)));
        let result: ArrayRef = if self.standardize.flags() {
            Arc::new(
                standard
                    .map(|v| v.map(|s| s.is_some()))
                    .collect::<BooleanArray>(),
            )
        } else {
            Arc::new(standard.map(Option::flatten).collect::<StringArray>())
        };
        finish(result, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.standardize.documentation())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Standardize;

    const ALL: [Standardize; 9] = [
        Standardize::IbanIsValid,
        Standardize::IbanNormalize,
        Standardize::CnResidentIdIsValid,
        Standardize::CnResidentIdUpgrade,
        Standardize::EmailNormalize,
        Standardize::ToHalfwidth,
        Standardize::SqueezeWhitespace,
        Standardize::Soundex,
        Standardize::DoubleMetaphone,
    ];

    proptest! {
        // The crates behind these (rphonetic, rlibphonenumber, chrono) index
        // bytes; no string a user types may panic them.
        #[test]
        fn no_string_panics(text in "\\PC{0,40}", region in "[A-Z]{2}") {
            for standardize in ALL {
                let _ = standardize.standard(&text);
            }
            let region = rlibphonenumber::Region::from_code(&region).ok();
            let _ = super::super::phone_e164::phone_e164(&text, region);
            let _ = super::super::parse_date::parse_date(&text, super::super::parse_date::DEFAULT_FORMATS);
        }
    }

    #[test]
    fn accented_and_mixed_script_names_are_encoded() {
        assert_eq!(
            Standardize::Soundex.standard("Müller").as_deref(),
            Some("M460")
        );
        assert_eq!(
            Standardize::DoubleMetaphone
                .standard("Hall Siobhán")
                .as_deref(),
            Standardize::DoubleMetaphone
                .standard("Hall Siobhan")
                .as_deref()
        );
        assert_eq!(
            Standardize::DoubleMetaphone.standard("王伟 Wang"),
            Some("ANK".into())
        );
    }
}
