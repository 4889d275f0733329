//! One scalar implementation for the string similarities
//! (`jaro_similarity`, `jaro_winkler_similarity`, `token_set_ratio`): each
//! compares two strings row by row, NULL when either is NULL. Edit distance
//! is DataFusion's own `levenshtein`.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::common::cast::as_string_array;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use crate::kernel::{all_scalar, check_arity, coerce_string, finish};

/// The similarity, and so the function's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Similarity {
    Jaro,
    JaroWinkler,
    TokenSetRatio,
}

const ARGUMENTS: [&str; 2] = ["string1", "string2"];

impl Similarity {
    pub fn name(self) -> &'static str {
        match self {
            Self::Jaro => "jaro_similarity",
            Self::JaroWinkler => "jaro_winkler_similarity",
            Self::TokenSetRatio => "token_set_ratio",
        }
    }

    pub fn compare(self, a: &str, b: &str) -> f64 {
        match self {
            Self::Jaro => super::jaro_similarity::jaro_similarity(a, b),
            Self::JaroWinkler => super::jaro_winkler_similarity::jaro_winkler_similarity(a, b),
            Self::TokenSetRatio => super::token_set_ratio::token_set_ratio(a, b),
        }
    }

    fn documentation(self) -> &'static LazyLock<Documentation> {
        match self {
            Self::Jaro => &super::jaro_similarity::DOCUMENTATION,
            Self::JaroWinkler => &super::jaro_winkler_similarity::DOCUMENTATION,
            Self::TokenSetRatio => &super::token_set_ratio::DOCUMENTATION,
        }
    }
}

/// SQL string-similarity functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SimilarityFunc {
    similarity: Similarity,
    signature: Signature,
}

impl SimilarityFunc {
    pub fn new(similarity: Similarity) -> Self {
        Self {
            similarity,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The function for `similarity`.
pub fn udf(similarity: Similarity) -> ScalarUDF {
    ScalarUDF::new_from_shared_impl(Arc::new(SimilarityFunc::new(similarity)))
}

impl ScalarUDFImpl for SimilarityFunc {
    fn name(&self) -> &str {
        self.similarity.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.similarity.name();
        check_arity(name, &ARGUMENTS, arg_types)?;
        arg_types
            .iter()
            .zip(ARGUMENTS)
            .map(|(t, argument)| coerce_string(name, argument, t))
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let text = |a: &ArrayRef| -> Result<ArrayRef> { Ok(cast(a, &DataType::Utf8)?) };
        let (a, b) = (text(&arrays[0])?, text(&arrays[1])?);
        let (a, b): (&StringArray, &StringArray) = (as_string_array(&a)?, as_string_array(&b)?);
        let scores: Float64Array = a
            .iter()
            .zip(b.iter())
            .map(|pair| match pair {
                (Some(a), Some(b)) => Some(self.similarity.compare(a, b)),
                _ => None,
            })
            .collect();
        finish(Arc::new(scores), scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.similarity.documentation())
    }
}
