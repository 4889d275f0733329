//! `mask_national_id(id [, scheme])`: masks a national identity number.
//! Mainland-China resident IDs keep the 6-digit region code and the last
//! four characters, hiding the date of birth; other IDs keep the last four.

use std::sync::LazyLock;

use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::mask::{MASK_CHAR, mask_alphanumeric};
use crate::checks::cn_resident_id_valid;

/// How an ID is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdScheme {
    /// A valid CN resident ID is masked as one; anything else generically.
    Auto,
    /// Only valid CN resident IDs keep anything; others are masked entirely.
    CnResident,
    /// Last four alphanumerics, whatever the ID.
    Generic,
}

impl IdScheme {
    pub fn parse(function: &str, text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "cn" | "cn_resident" => Ok(Self::CnResident),
            "generic" => Ok(Self::Generic),
            _ => plan_err!(
                "{function}: argument 'scheme' must be 'auto', 'cn_resident' or 'generic', got '{text}'"
            ),
        }
    }
}

/// Fewer alphanumerics than this and the generic mask keeps nothing.
const GENERIC_MIN: usize = 8;

/// A CN resident ID as this mask leaves it: region, eight '*', last four.
fn is_masked_cn_resident_id(id: &[u8]) -> bool {
    id.len() == 18
        && id[..6].iter().all(u8::is_ascii_digit)
        && id[6..14].iter().all(|b| *b == b'*')
        && id[14..17].iter().all(u8::is_ascii_digit)
        && (id[17].is_ascii_digit() || id[17] == b'X' || id[17] == b'x')
}

/// Appends the masked `id`. A '*' counts as a character already hidden, so
/// masking a masked ID changes nothing.
pub fn mask_national_id(id: &str, scheme: IdScheme, out: &mut String) {
    let trimmed = id.trim();
    if scheme != IdScheme::Generic && is_masked_cn_resident_id(trimmed.as_bytes()) {
        out.push_str(id);
        return;
    }
    let cn = scheme != IdScheme::Generic && cn_resident_id_valid(trimmed.as_bytes());
    if cn {
        out.push_str(&trimmed[..6]);
        out.extend(std::iter::repeat_n(MASK_CHAR, 8));
        out.push_str(&trimmed[14..]);
        return;
    }
    if scheme == IdScheme::CnResident {
        return mask_alphanumeric(id, MASK_CHAR, out);
    }
    let alphanumerics = id
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == MASK_CHAR)
        .count();
    let keep_from = if alphanumerics >= GENERIC_MIN {
        alphanumerics - 4
    } else {
        usize::MAX
    };
    let mut seen = 0;
    for c in id.chars() {
        if c.is_alphanumeric() || c == MASK_CHAR {
            out.push(if seen >= keep_from { c } else { MASK_CHAR });
            seen += 1;
        } else {
            out.push(c);
        }
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Masks a national identity number. A mainland-China resident ID (18 characters whose \
         last is the GB 11643 / ISO 7064 MOD 11-2 check of the other 17) keeps its 6-digit \
         region code and last 4 characters and hides the date of birth: '11010519491231002X' \
         becomes '110105********002X'. Other IDs (UK National Insurance numbers, passports...) \
         keep their last 4 letters and digits when they have at least 8, else nothing. \
         `scheme` is 'auto' (default), 'cn_resident' (IDs failing the check digit are masked \
         entirely) or 'generic'. NULL gives NULL.",
        "mask_national_id(id [, scheme])",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask_national_id('11010519491231002X') AS cn, mask_national_id('QQ123456C') AS uk_nino;
+--------------------+-----------+
| cn                 | uk_nino   |
+--------------------+-----------+
| 110105********002X | *****456C |
+--------------------+-----------+
```"#,
    )
    .with_argument("id", "The identity number (any string type).")
    .with_argument("scheme", "'auto' (default), 'cn_resident' or 'generic'.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_ids_hide_birth_date_and_others_keep_last_four() {
        let cases = [
            ("11010519491231002X", IdScheme::Auto, "110105********002X"),
            ("110105194912310021", IdScheme::Auto, "**************0021"),
            (
                "110105194912310021",
                IdScheme::CnResident,
                "******************",
            ),
            (
                "11010519491231002X",
                IdScheme::Generic,
                "**************002X",
            ),
            ("QQ 12 34 56 C", IdScheme::Auto, "** ** *4 56 C"),
            ("AB12", IdScheme::Auto, "****"),
            ("110105********002X", IdScheme::Auto, "110105********002X"),
            ("*****456C", IdScheme::Auto, "*****456C"),
            ("", IdScheme::Auto, ""),
        ];
        for (input, scheme, expected) in cases {
            let mut out = String::new();
            mask_national_id(input, scheme, &mut out);
            assert_eq!(out, expected, "{input} {scheme:?}");
        }
    }
}
