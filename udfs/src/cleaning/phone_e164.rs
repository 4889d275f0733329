//! `phone_e164(phone, default_region)`: a phone number as typed, in its
//! E.164 form (`+8613812345678`), by Google's libphonenumber rules and
//! metadata (the `rlibphonenumber` port).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use rlibphonenumber::{PhoneNumber, PhoneNumberFormat, Region};

use super::to_halfwidth::to_halfwidth;
use crate::kernel::{all_scalar, check_arity, coerce_string, finish};

const NAME: &str = "phone_e164";
const ARGUMENTS: [&str; 2] = ["phone", "default_region"];

/// The E.164 form of `text` when it is a valid number, read as a national
/// number of `region` unless it starts with + or an international prefix.
pub fn phone_e164(text: &str, region: Option<Region>) -> Option<String> {
    // Full-width digits from an IME are digits to a person, not to the parser.
    let text = to_halfwidth(text);
    let number = PhoneNumber::parse(text.trim(), region).ok()?;
    number
        .is_valid()
        .then(|| number.format_as(PhoneNumberFormat::E164).into_owned())
}

/// SQL `phone_e164`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PhoneE164Func {
    signature: Signature,
}

pub fn udf() -> ScalarUDF {
    ScalarUDF::new_from_shared_impl(Arc::new(PhoneE164Func {
        signature: Signature::user_defined(Volatility::Immutable),
    }))
}

fn region(code: &str) -> Result<Region> {
    match Region::from_code(&code.trim().to_ascii_uppercase()) {
        Ok(id) => Ok(id),
        Err(_) => exec_err!(
            "{NAME}: argument 'default_region' must be an ISO 3166 two-letter region such as 'CN' or 'GB', got '{code}'"
        ),
    }
}

impl ScalarUDFImpl for PhoneE164Func {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, &ARGUMENTS, arg_types)?;
        arg_types
            .iter()
            .zip(ARGUMENTS)
            .map(|(t, argument)| coerce_string(NAME, argument, t))
            .collect()
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = all_scalar(&args.args);
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let phones = cast(&arrays[0], &DataType::Utf8)?;
        let regions = cast(&arrays[1], &DataType::Utf8)?;
        let (phones, regions) = (as_string_array(&phones)?, as_string_array(&regions)?);
        // A region column holds a handful of codes: look each up once.
        let mut known: HashMap<&str, Region> = HashMap::new();
        let mut out = Vec::with_capacity(phones.len());
        for row in 0..phones.len() {
            if phones.is_null(row) {
                out.push(None);
                continue;
            }
            let region = if regions.is_null(row) {
                None
            } else {
                let code = regions.value(row);
                Some(match known.get(code) {
                    Some(id) => *id,
                    None => *known.entry(code).or_insert(region(code)?),
                })
            };
            out.push(phone_e164(phones.value(row), region));
        }
        finish(Arc::new(StringArray::from(out)) as ArrayRef, scalar)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "A phone number as typed (spaces, dashes, brackets, dots, a trunk prefix 0, an \
         international prefix 00 or +, full-width digits, an extension) in its E.164 form: + \
         country code and national number, digits only (+8613812345678). A number without a \
         country code is read as a national number of default_region. NULL when the text is \
         not a valid number for its region by Google's libphonenumber metadata (9.0.42; wrong \
         length, unassigned range), or for a NULL phone. A NULL default_region accepts only \
         numbers that carry their country code; an unknown region is an error. As the Python \
         phonenumbers package's format_number(parse(phone, region), E164) when \
         is_valid_number holds.",
        "phone_e164(phone, default_region)",
    )
    .with_sql_example(
        r#"```sql
> SELECT phone_e164('138-1234-5678', 'CN'), phone_e164('07700 900123', 'GB');
+---------------------------------------------------+-------------------------------------------------+
| phone_e164(Utf8("138-1234-5678"),Utf8("CN"))      | phone_e164(Utf8("07700 900123"),Utf8("GB"))      |
+---------------------------------------------------+-------------------------------------------------+
| +8613812345678                                    | +447700900123                                   |
+---------------------------------------------------+-------------------------------------------------+
```"#,
    )
    .with_argument("phone", "A phone number as typed.")
    .with_argument(
        "default_region",
        "ISO 3166 two-letter region ('CN', 'GB', 'HK', ...) for numbers typed without a \
         country code, often the customer's country column.",
    )
    .build()
});
