//! One scalar implementation for the identifier checks and
//! standardisations (`iban_is_valid`, `iban_normalize`,
//! `cn_resident_id_is_valid`, `cn_resident_id_upgrade`): each reads a
//! string per row and returns a flag or the standard form, NULL for NULL.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, BooleanArray, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::kernel::{all_scalar, check_arity, finish};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Standardize {
    IbanIsValid,
    IbanNormalize,
    CnResidentIdIsValid,
    CnResidentIdUpgrade,
}

impl Standardize {
    pub fn name(self) -> &'static str {
        match self {
            Self::IbanIsValid => "iban_is_valid",
            Self::IbanNormalize => "iban_normalize",
            Self::CnResidentIdIsValid => "cn_resident_id_is_valid",
            Self::CnResidentIdUpgrade => "cn_resident_id_upgrade",
        }
    }

    fn argument(self) -> &'static str {
        match self {
            Self::IbanIsValid | Self::IbanNormalize => "iban",
            _ => "id",
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
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::IbanIsValid => &super::iban_is_valid::DOCUMENTATION,
            Self::IbanNormalize => &super::iban_normalize::DOCUMENTATION,
            Self::CnResidentIdIsValid => &super::cn_resident_id_is_valid::DOCUMENTATION,
            Self::CnResidentIdUpgrade => &super::cn_resident_id_upgrade::DOCUMENTATION,
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
        match &arg_types[0] {
            DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Null
            | DataType::Dictionary(_, _) => Ok(vec![DataType::Utf8]),
            t => plan_err!("{name}: argument '{argument}' must be a string, got {t}"),
        }
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
