//! `detect_pii(text)`: the kinds of personal data found in free text. Every
//! candidate with a check digit must pass it (Luhn for cards, mod-97 for
//! IBANs, ISO 7064 for resident IDs), which is what keeps precision high on
//! the long numbers that fill banking text (amounts, references, dates).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, ListBuilder, StringArrayType, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

use crate::checks::{cn_resident_id_valid, iban_valid, luhn_valid};

const NAME: &str = "detect_pii";

/// The kinds found in content, in result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiKind {
    Email,
    Phone,
    CardPan,
    Iban,
    CnResidentId,
    IpAddress,
}

impl PiiKind {
    pub const ALL: [Self; 6] = [
        Self::Email,
        Self::Phone,
        Self::CardPan,
        Self::Iban,
        Self::CnResidentId,
        Self::IpAddress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
            Self::CardPan => "card_pan",
            Self::Iban => "iban",
            Self::CnResidentId => "cn_resident_id",
            Self::IpAddress => "ip_address",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A set of [`PiiKind`]s.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiKinds(u8);

impl PiiKinds {
    pub fn contains(self, kind: PiiKind) -> bool {
        self.0 & kind.bit() != 0
    }

    fn insert(&mut self, kind: PiiKind) {
        self.0 |= kind.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = PiiKind> {
        PiiKind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}").ok()
});
static IPV4: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}").ok());
static IPV6: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{1,37}").ok());

/// The PII kinds in `text`.
pub fn detect_pii(text: &str) -> PiiKinds {
    let mut found = PiiKinds::default();
    let bytes = text.as_bytes();
    if bytes.contains(&b'@') && EMAIL.as_ref().is_some_and(|re| re.is_match(text)) {
        found.insert(PiiKind::Email);
    }
    scan_digit_runs(bytes, &mut found);
    scan_ibans(bytes, &mut found);
    if bytes.contains(&b'.')
        && let Some(re) = IPV4.as_ref()
    {
        let hit = re.find_iter(text).any(|m| {
            let before = bytes[..m.start()].last();
            let after = bytes.get(m.end());
            let isolated = |b: Option<&u8>| b.is_none_or(|b| !(b.is_ascii_digit() || *b == b'.'));
            isolated(before) && isolated(after) && m.as_str().parse::<Ipv4Addr>().is_ok()
        });
        if hit {
            found.insert(PiiKind::IpAddress);
        }
    }
    if !found.contains(PiiKind::IpAddress)
        && bytes.iter().filter(|b| **b == b':').count() >= 2
        && let Some(re) = IPV6.as_ref()
    {
        let hit = re.find_iter(text).any(|m| {
            let candidate = m.as_str().trim_end_matches('.');
            candidate.matches(':').count() >= 3 && candidate.parse::<Ipv6Addr>().is_ok()
        });
        if hit {
            found.insert(PiiKind::IpAddress);
        }
    }
    found
}

/// Runs of digits, possibly split by single spaces or dashes and led by a
/// '+': card numbers, resident IDs and phone numbers.
fn scan_digit_runs(bytes: &[u8], found: &mut PiiKinds) {
    let mut i = 0;
    let mut digits: Vec<u8> = Vec::with_capacity(24);
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A run must not continue a word or a number with letters before it.
        let preceded_by_alnum = i > 0 && bytes[i - 1].is_ascii_alphanumeric();
        let plus = i > 0 && bytes[i - 1] == b'+';
        digits.clear();
        let mut j = i;
        let mut trailing_x = false;
        while j < bytes.len() {
            let b = bytes[j];
            if b.is_ascii_digit() {
                digits.push(b);
                j += 1;
            } else if (b == b' ' || b == b'-')
                && bytes.get(j + 1).is_some_and(u8::is_ascii_digit)
                && bytes.get(j.wrapping_sub(1)).is_some_and(u8::is_ascii_digit)
            {
                j += 1;
            } else if (b == b'X' || b == b'x') && digits.len() == 17 {
                trailing_x = true;
                j += 1;
                break;
            } else {
                break;
            }
        }
        let followed_by_alnum = bytes.get(j).is_some_and(u8::is_ascii_alphanumeric);
        if !preceded_by_alnum && !followed_by_alnum {
            classify_digits(&digits, trailing_x, plus, found);
        }
        i = j.max(i + 1);
    }
}

fn classify_digits(digits: &[u8], trailing_x: bool, plus: bool, found: &mut PiiKinds) {
    let n = digits.len();
    if trailing_x || n == 18 {
        let mut id = digits.to_vec();
        if trailing_x {
            id.push(b'X');
        }
        if cn_resident_id_valid(&id) {
            found.insert(PiiKind::CnResidentId);
            return;
        }
    }
    if trailing_x {
        return;
    }
    // Payment cards have major industry identifier 2-6 (ISO/IEC 7812);
    // 13-digit numbers were only ever Visa (4). Without this, one in ten
    // 13-19 digit references passes the Luhn check by chance.
    let card_prefix = (b'2'..=b'6').contains(&digits.first().copied().unwrap_or(0))
        && (n != 13 || digits[0] == b'4');
    if (13..=19).contains(&n) && !plus && card_prefix && luhn_valid(digits) {
        found.insert(PiiKind::CardPan);
        return;
    }
    let phone = if plus {
        // E.164: a country code and at most 15 digits in all.
        (8..=15).contains(&n)
    } else {
        // Mainland-China mobiles (1[3-9] + 9 digits) and UK mobiles (07 + 9).
        n == 11
            && ((digits[0] == b'1' && (b'3'..=b'9').contains(&digits[1]))
                || digits.starts_with(b"07"))
    };
    if phone {
        found.insert(PiiKind::Phone);
    }
}

/// Two capital letters, two digits, then 11 to 30 capitals or digits, in
/// groups separated by single spaces, passing mod-97.
fn scan_ibans(bytes: &[u8], found: &mut PiiKinds) {
    if bytes.len() < 15 {
        return;
    }
    let mut compact: Vec<u8> = Vec::with_capacity(34);
    for start in 0..bytes.len().saturating_sub(14) {
        let head = &bytes[start..start + 4];
        if !(head[0].is_ascii_uppercase()
            && head[1].is_ascii_uppercase()
            && head[2].is_ascii_digit()
            && head[3].is_ascii_digit())
            || (start > 0 && bytes[start - 1].is_ascii_alphanumeric())
        {
            continue;
        }
        compact.clear();
        let mut j = start;
        while j < bytes.len() && compact.len() < 34 {
            let b = bytes[j];
            if b.is_ascii_digit() || b.is_ascii_uppercase() {
                compact.push(b);
                j += 1;
            } else if b == b' ' && bytes.get(j + 1).is_some_and(|n| n.is_ascii_alphanumeric()) {
                j += 1;
            } else {
                break;
            }
        }
        // The IBAN may be followed by more text; try each length down to 15.
        for length in (15..=compact.len()).rev() {
            if iban_valid(&compact[..length]) {
                found.insert(PiiKind::Iban);
                return;
            }
        }
    }
}

/// SQL `detect_pii`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DetectPiiFunc {
    signature: Signature,
}

impl Default for DetectPiiFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl DetectPiiFunc {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

fn list_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

impl ScalarUDFImpl for DetectPiiFunc {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View] => Ok(arg_types.to_vec()),
            [DataType::Null] => Ok(vec![DataType::Utf8]),
            [other] => plan_err!("{NAME}: argument 'text' must be a string, got {other}"),
            _ => plan_err!("{NAME} expects 1 argument (text), got {}", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text] = args.args.as_slice() else {
            return exec_err!("{NAME} expects 1 argument");
        };
        let scalar = matches!(text, ColumnarValue::Scalar(_));
        let array = text.to_array(1)?;
        let result = match array.data_type() {
            DataType::Utf8 => detect_array(array.as_string::<i32>()),
            DataType::LargeUtf8 => detect_array(array.as_string::<i64>()),
            DataType::Utf8View => detect_array(array.as_string_view()),
            other => return exec_err!("{NAME}: unexpected argument type {other}"),
        };
        if scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &result, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

fn detect_array<'a, A: StringArrayType<'a>>(array: A) -> ArrayRef {
    let mut builder = ListBuilder::new(StringBuilder::new());
    for value in array.iter() {
        match value {
            None => builder.append_null(),
            Some(text) => {
                for kind in detect_pii(text).iter() {
                    builder.values().append_value(kind.name());
                }
                builder.append(true);
            }
        }
    }
    Arc::new(builder.finish())
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "The kinds of personal data found in a text, as a list in this order: 'email', 'phone' \
         (E.164 numbers with '+', mainland-China mobiles 1[3-9]xxxxxxxxx, UK mobiles 07xxxxxxxxx), \
         'card_pan' (13-19 digits starting with 2-6, the payment-card industry identifiers, \
         and passing the Luhn check), 'iban' (passing mod-97), \
         'cn_resident_id' (18 characters passing the GB 11643 check) and 'ip_address' (IPv4 or \
         IPv6). Digits may be grouped by single spaces or dashes. An empty list when none is \
         found, NULL for NULL. Use pii_scan to classify every column of a table.",
        "detect_pii(text)",
    )
    .with_sql_example(
        r#"```sql
> SELECT detect_pii('refund to 4111 1111 1111 1111, call +44 7700 900123 or mail j.doe@bank.com') AS found;
+----------------------------+
| found                      |
+----------------------------+
| [email, phone, card_pan]   |
+----------------------------+
```"#,
    )
    .with_argument("text", "Free text (any string type).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<&'static str> {
        detect_pii(text).iter().map(PiiKind::name).collect()
    }

    #[test]
    fn finds_each_kind_and_checks_its_digits() {
        assert_eq!(kinds("mail j.doe@bank.com today"), ["email"]);
        assert_eq!(kinds("call +44 7700 900123"), ["phone"]);
        assert_eq!(kinds("手机13812345678"), ["phone"]);
        assert_eq!(kinds("card 4111-1111-1111-1111 declined"), ["card_pan"]);
        assert_eq!(
            kinds("card 4111-1111-1111-1112 declined"),
            Vec::<&str>::new()
        );
        assert_eq!(kinds("pay GB82 WEST 1234 5698 7654 32 now"), ["iban"]);
        assert_eq!(
            kinds("pay GB82 WEST 1234 5698 7654 33 now"),
            Vec::<&str>::new()
        );
        assert_eq!(kinds("身份证11010519491231002X"), ["cn_resident_id"]);
        assert_eq!(kinds("login from 192.168.1.20"), ["ip_address"]);
        assert_eq!(kinds("login from 2001:db8::8a2e:370:7334"), ["ip_address"]);
    }

    #[test]
    fn ordinary_banking_text_is_not_pii() {
        for text in [
            "amount 1234567.89 on 2024-06-30 12:30:45",
            "reference INV2024000123456789",
            "version 1.2.3.4.5",
            "order 20240630123456 shipped",
            "",
        ] {
            assert!(detect_pii(text).is_empty(), "{text}: {:?}", kinds(text));
        }
    }
}
