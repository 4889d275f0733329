//! One scalar UDF implementation for the privacy functions that map one
//! value to one string (masks, pseudonyms, tokens, generalizations): type
//! checking, constant options read once per batch and validated at plan
//! time, NULL handling and the loop over Arrow string arrays live here; each
//! function's kernel and documentation live in its own file.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, StringArrayType, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};

use super::age_band::age_band;
use super::format_preserving::{Alphabet, FormatPreserving};
use super::generalize_postcode::generalize_postcode;
use super::keyring::Keyring;
use super::mask::{MASK_CHAR, mask_middle};
use super::mask_address::mask_address;
use super::mask_card_pan::{MAX_KEEP_FIRST, mask_card_pan};
use super::mask_email::mask_email;
use super::mask_iban::mask_iban;
use super::mask_name::mask_name;
use super::mask_national_id::{IdScheme, mask_national_id};
use super::mask_phone::mask_phone;
use super::numeric_bucket::numeric_bucket;
use super::pseudonymize::{PseudonymFormat, Pseudonymizer};

/// The functions this implementation serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrivacyFunction {
    Mask,
    MaskEmail,
    MaskPhone,
    MaskCardPan,
    MaskIban,
    MaskName,
    MaskNationalId,
    MaskAddress,
    Pseudonymize,
    TokenizeFpe,
    DetokenizeFpe,
    AgeBand,
    NumericBucket,
    GeneralizePostcode,
}

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string (integers are cast to their decimal text).
    Text,
    /// A number, as Float64.
    Number,
    /// A whole number, as Int64.
    Whole,
}

/// An argument: name, kind, required.
type Arg = (&'static str, Kind, bool);

/// A per-call kernel: appends the result for one value, or returns false
/// for NULL.
enum Kernel {
    Text(Box<TextKernel>),
    Number(Box<NumberKernel>),
}

type TextKernel = dyn Fn(&str, &mut String) -> Result<bool> + Send + Sync;
type NumberKernel = dyn Fn(f64, &mut String) -> Result<bool> + Send + Sync;

impl PrivacyFunction {
    pub const ALL: [Self; 14] = [
        Self::Mask,
        Self::MaskEmail,
        Self::MaskPhone,
        Self::MaskCardPan,
        Self::MaskIban,
        Self::MaskName,
        Self::MaskNationalId,
        Self::MaskAddress,
        Self::Pseudonymize,
        Self::TokenizeFpe,
        Self::DetokenizeFpe,
        Self::AgeBand,
        Self::NumericBucket,
        Self::GeneralizePostcode,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Mask => "mask",
            Self::MaskEmail => "mask_email",
            Self::MaskPhone => "mask_phone",
            Self::MaskCardPan => "mask_card_pan",
            Self::MaskIban => "mask_iban",
            Self::MaskName => "mask_name",
            Self::MaskNationalId => "mask_national_id",
            Self::MaskAddress => "mask_address",
            Self::Pseudonymize => "pseudonymize",
            Self::TokenizeFpe => "tokenize_fpe",
            Self::DetokenizeFpe => "detokenize_fpe",
            Self::AgeBand => "age_band",
            Self::NumericBucket => "numeric_bucket",
            Self::GeneralizePostcode => "generalize_postcode",
        }
    }

    fn documentation(self) -> &'static Documentation {
        match self {
            Self::Mask => &super::mask::DOCUMENTATION,
            Self::MaskEmail => &super::mask_email::DOCUMENTATION,
            Self::MaskPhone => &super::mask_phone::DOCUMENTATION,
            Self::MaskCardPan => &super::mask_card_pan::DOCUMENTATION,
            Self::MaskIban => &super::mask_iban::DOCUMENTATION,
            Self::MaskName => &super::mask_name::DOCUMENTATION,
            Self::MaskNationalId => &super::mask_national_id::DOCUMENTATION,
            Self::MaskAddress => &super::mask_address::DOCUMENTATION,
            Self::Pseudonymize => &super::pseudonymize::DOCUMENTATION,
            Self::TokenizeFpe => &super::tokenize_fpe::DOCUMENTATION,
            Self::DetokenizeFpe => &super::detokenize_fpe::DOCUMENTATION,
            Self::AgeBand => &super::age_band::DOCUMENTATION,
            Self::NumericBucket => &super::numeric_bucket::DOCUMENTATION,
            Self::GeneralizePostcode => &super::generalize_postcode::DOCUMENTATION,
        }
    }

    /// The arguments: the value first, then its constant options.
    fn arguments(self) -> &'static [Arg] {
        use Kind::*;
        match self {
            Self::Mask => &[
                ("value", Text, true),
                ("keep_first", Whole, true),
                ("keep_last", Whole, true),
                ("mask_char", Text, false),
            ],
            Self::MaskEmail => &[("email", Text, true)],
            Self::MaskPhone => &[("phone", Text, true)],
            Self::MaskCardPan => &[("pan", Text, true), ("keep_first", Whole, false)],
            Self::MaskIban => &[("iban", Text, true)],
            Self::MaskName => &[("name", Text, true)],
            Self::MaskNationalId => &[("id", Text, true), ("scheme", Text, false)],
            Self::MaskAddress => &[("address", Text, true)],
            Self::Pseudonymize => &[
                ("value", Text, true),
                ("key_name", Text, true),
                ("format", Text, false),
            ],
            Self::TokenizeFpe => &[
                ("value", Text, true),
                ("key_name", Text, true),
                ("alphabet", Text, true),
            ],
            Self::DetokenizeFpe => &[
                ("token", Text, true),
                ("key_name", Text, true),
                ("alphabet", Text, true),
            ],
            Self::AgeBand => &[
                ("age", Number, true),
                ("width", Whole, true),
                ("top", Whole, false),
            ],
            Self::NumericBucket => &[
                ("x", Number, true),
                ("width", Number, true),
                ("bottom", Number, false),
                ("top", Number, false),
            ],
            Self::GeneralizePostcode => &[("postcode", Text, true), ("keep", Whole, false)],
        }
    }

    /// The kernel for these option values (arguments after the first).
    fn prepare(self, options: &[ScalarValue], keyring: &Keyring) -> Result<Kernel> {
        let name = self.name();
        let args = self.arguments();
        let text = |i: usize| -> Result<Option<String>> {
            match options.get(i) {
                None => Ok(None),
                Some(value) => match value.try_as_str() {
                    Some(Some(s)) => Ok(Some(s.to_string())),
                    _ => plan_err!(
                        "{name}: argument '{}' must be a non-NULL string constant, got {value}",
                        args[i + 1].0
                    ),
                },
            }
        };
        let whole = |i: usize, min: i64| -> Result<Option<i64>> {
            let Some(value) = options.get(i) else {
                return Ok(None);
            };
            match value.cast_to(&DataType::Int64) {
                Ok(ScalarValue::Int64(Some(v))) if v >= min => Ok(Some(v)),
                _ => plan_err!(
                    "{name}: argument '{}' must be a whole number >= {min}, got {value}",
                    args[i + 1].0
                ),
            }
        };
        let number = |i: usize| -> Result<Option<f64>> {
            let Some(value) = options.get(i) else {
                return Ok(None);
            };
            match value.cast_to(&DataType::Float64) {
                Ok(ScalarValue::Float64(Some(v))) if v.is_finite() => Ok(Some(v)),
                _ => plan_err!(
                    "{name}: argument '{}' must be a finite number, got {value}",
                    args[i + 1].0
                ),
            }
        };
        let count = |v: Option<i64>| v.map(|v| v as usize);
        Ok(match self {
            Self::Mask => {
                let first = count(whole(0, 0)?).unwrap_or(0);
                let last = count(whole(1, 0)?).unwrap_or(0);
                let mask_char = match text(2)? {
                    None => MASK_CHAR,
                    Some(s) => {
                        let mut chars = s.chars();
                        match (chars.next(), chars.next()) {
                            (Some(c), None) => c,
                            _ => {
                                return plan_err!(
                                    "{name}: argument 'mask_char' must be one character, got '{s}'"
                                );
                            }
                        }
                    }
                };
                Kernel::Text(Box::new(move |v, out| {
                    mask_middle(v, first, last, mask_char, out);
                    Ok(true)
                }))
            }
            Self::MaskEmail => Kernel::Text(Box::new(|v, out| {
                mask_email(v, out);
                Ok(true)
            })),
            Self::MaskPhone => Kernel::Text(Box::new(|v, out| {
                mask_phone(v, out);
                Ok(true)
            })),
            Self::MaskCardPan => {
                let keep = match whole(0, 0)? {
                    None => MAX_KEEP_FIRST,
                    Some(k) if k as usize <= MAX_KEEP_FIRST => k as usize,
                    Some(k) => {
                        return plan_err!(
                            "{name}: argument 'keep_first' must be 0 to {MAX_KEEP_FIRST} (PCI DSS shows at most the first six digits), got {k}"
                        );
                    }
                };
                Kernel::Text(Box::new(move |v, out| {
                    mask_card_pan(v, keep, out);
                    Ok(true)
                }))
            }
            Self::MaskIban => Kernel::Text(Box::new(|v, out| {
                mask_iban(v, out);
                Ok(true)
            })),
            Self::MaskName => Kernel::Text(Box::new(|v, out| {
                mask_name(v, out);
                Ok(true)
            })),
            Self::MaskNationalId => {
                let scheme = match text(0)? {
                    None => IdScheme::Auto,
                    Some(s) => IdScheme::parse(name, &s)?,
                };
                Kernel::Text(Box::new(move |v, out| {
                    mask_national_id(v, scheme, out);
                    Ok(true)
                }))
            }
            Self::MaskAddress => Kernel::Text(Box::new(|v, out| {
                mask_address(v, out);
                Ok(true)
            })),
            Self::Pseudonymize => {
                let key_name = text(0)?.unwrap_or_default();
                let key = keyring.get(name, &key_name)?;
                let format = match text(1)? {
                    None => PseudonymFormat::Hex,
                    Some(f) => PseudonymFormat::parse(name, &f)?,
                };
                let pseudonymizer = Pseudonymizer::new(key.secret.bytes(), format);
                Kernel::Text(Box::new(move |v, out| {
                    pseudonymizer.pseudonymize(v.as_bytes(), out);
                    Ok(true)
                }))
            }
            Self::TokenizeFpe | Self::DetokenizeFpe => {
                let key_name = text(0)?.unwrap_or_default();
                let key = keyring.get(name, &key_name)?;
                let alphabet = Alphabet::parse(name, &text(1)?.unwrap_or_default())?;
                let fpe = FormatPreserving::new(self.name(), key.secret.bytes(), alphabet, &[])?;
                let encrypt = self == Self::TokenizeFpe;
                Kernel::Text(Box::new(move |v, out| {
                    fpe.apply(v, encrypt, out)?;
                    Ok(true)
                }))
            }
            Self::AgeBand => {
                let width = whole(0, 1)?.unwrap_or(1);
                let top = whole(1, 1)?;
                Kernel::Number(Box::new(move |v, out| Ok(age_band(v, width, top, out))))
            }
            Self::NumericBucket => {
                let width = number(0)?.unwrap_or(1.0);
                if width <= 0.0 {
                    return plan_err!("{name}: argument 'width' must be > 0, got {width}");
                }
                let (bottom, top) = (number(1)?, number(2)?);
                if let (Some(b), Some(t)) = (bottom, top)
                    && b >= t
                {
                    return plan_err!("{name}: 'bottom' ({b}) must be below 'top' ({t})");
                }
                Kernel::Number(Box::new(move |v, out| {
                    Ok(numeric_bucket(v, width, bottom, top, out))
                }))
            }
            Self::GeneralizePostcode => {
                let keep = count(whole(0, 1)?);
                Kernel::Text(Box::new(move |v, out| {
                    Ok(generalize_postcode(v, keep, out))
                }))
            }
        })
    }
}

/// SQL UDF for one [`PrivacyFunction`].
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PrivacyStringFunc {
    function: PrivacyFunction,
    signature: Signature,
    keyring: Arc<Keyring>,
}

impl PrivacyStringFunc {
    pub fn new(function: PrivacyFunction, keyring: Arc<Keyring>) -> Self {
        Self {
            function,
            signature: Signature::user_defined(Volatility::Immutable),
            keyring,
        }
    }
}

/// The UDF for `function`.
pub fn udf(function: PrivacyFunction, keyring: &Arc<Keyring>) -> ScalarUDF {
    ScalarUDF::new_from_impl(PrivacyStringFunc::new(function, Arc::clone(keyring)))
}

impl ScalarUDFImpl for PrivacyStringFunc {
    fn name(&self) -> &str {
        self.function.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.function.name();
        let args = self.function.arguments();
        let required = args.iter().filter(|a| a.2).count();
        if arg_types.len() < required || arg_types.len() > args.len() {
            let names: Vec<String> = args
                .iter()
                .map(|(n, _, req)| {
                    if *req {
                        n.to_string()
                    } else {
                        format!("[{n}]")
                    }
                })
                .collect();
            return plan_err!(
                "{name} expects {} arguments ({}), got {}",
                if required == args.len() {
                    required.to_string()
                } else {
                    format!("{required} to {}", args.len())
                },
                names.join(", "),
                arg_types.len()
            );
        }
        arg_types
            .iter()
            .zip(args)
            .map(|(data_type, (arg, kind, _))| match kind {
                Kind::Text => match data_type {
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                        Ok(data_type.clone())
                    }
                    DataType::Null => Ok(DataType::Utf8),
                    t if t.is_integer() => Ok(DataType::Utf8),
                    t => plan_err!("{name}: argument '{arg}' must be a string, got {t}"),
                },
                Kind::Number => match data_type {
                    t if t.is_numeric() || t.is_null() => Ok(DataType::Float64),
                    t => plan_err!("{name}: argument '{arg}' must be numeric, got {t}"),
                },
                Kind::Whole => match data_type {
                    t if t.is_integer() || t.is_null() => Ok(DataType::Int64),
                    t => plan_err!("{name}: argument '{arg}' must be a whole number, got {t}"),
                },
            })
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // Options are constants: check them (and that named keys exist) now,
        // so a typo fails at plan time rather than mid-query.
        let name = self.function.name();
        // An option that is not a literal yet (a cast the simplifier has not
        // folded) is checked when the function runs.
        let literal: Option<Vec<ScalarValue>> = args
            .scalar_arguments
            .iter()
            .skip(1)
            .map(|v| v.cloned())
            .collect();
        if let Some(options) = literal {
            self.function.prepare(&options, &self.keyring)?;
        }
        Ok(Arc::new(Field::new(name, DataType::Utf8, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.function.name();
        let mut values = args.args.into_iter();
        let Some(first) = values.next() else {
            return exec_err!("{name}: missing argument");
        };
        let mut options = Vec::new();
        for (i, value) in values.enumerate() {
            match value {
                ColumnarValue::Scalar(v) => options.push(v),
                ColumnarValue::Array(_) => {
                    return exec_err!(
                        "{name}: argument '{}' must be a constant, not a column",
                        self.function.arguments()[i + 1].0
                    );
                }
            }
        }
        let kernel = self.function.prepare(&options, &self.keyring)?;
        let scalar = matches!(first, ColumnarValue::Scalar(_));
        let array = first.into_array(1)?;
        let result = run(&kernel, &array, name)?;
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.function.documentation())
    }
}

fn run(kernel: &Kernel, array: &ArrayRef, name: &str) -> Result<ArrayRef> {
    match (kernel, array.data_type()) {
        (Kernel::Text(f), DataType::Utf8) => run_text(f, array.as_string::<i32>()),
        (Kernel::Text(f), DataType::LargeUtf8) => run_text(f, array.as_string::<i64>()),
        (Kernel::Text(f), DataType::Utf8View) => run_text(f, array.as_string_view()),
        (Kernel::Number(f), DataType::Float64) => run_number(
            f,
            array.as_primitive::<datafusion::arrow::datatypes::Float64Type>(),
        ),
        (_, other) => exec_err!("{name}: unexpected argument type {other}"),
    }
}

fn run_text<'a, A: StringArrayType<'a>>(f: &TextKernel, array: A) -> Result<ArrayRef> {
    // Masks keep the length; pseudonyms are 64 bytes.
    build_strings(array.len(), 24, array.iter(), |v, out| f(v, out))
}

fn run_number(f: &NumberKernel, array: &Float64Array) -> Result<ArrayRef> {
    build_strings(array.len(), 8, array.iter(), |v, out| f(v, out))
}

/// One string per input value: NULL in, NULL out; otherwise `f` appends
/// the result to a reused buffer, or returns false for NULL.
fn build_strings<T>(
    len: usize,
    bytes_per_value: usize,
    values: impl Iterator<Item = Option<T>>,
    f: impl Fn(T, &mut String) -> Result<bool>,
) -> Result<ArrayRef> {
    let mut builder = StringBuilder::with_capacity(len, len * bytes_per_value);
    let mut buffer = String::with_capacity(64);
    for value in values {
        match value {
            None => builder.append_null(),
            Some(value) => {
                buffer.clear();
                if f(value, &mut buffer)? {
                    builder.append_value(&buffer);
                } else {
                    builder.append_null();
                }
            }
        }
    }
    Ok(Arc::new(builder.finish()))
}
