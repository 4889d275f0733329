//! `mask_phone(phone)`: keeps the last four digits of a phone number and
//! its layout (`+86 138 **** 5678` style numbers become `+** *** **** 5678`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::mask::MASK_CHAR;

/// Digits kept at the end.
const KEEP_LAST: usize = 4;
/// Fewer digits than this is not a phone number: nothing is kept.
const MIN_DIGITS: usize = 7;

/// Appends the masked `phone`: every digit but the last four and every
/// letter become '*'; '+', spaces and punctuation stay. A '*' counts as a
/// digit already hidden, so masking a masked number changes nothing.
pub fn mask_phone(phone: &str, out: &mut String) {
    // Letters count as positions too: they are masked, and a second pass
    // must see the same positions as the first.
    let digits = phone
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == MASK_CHAR)
        .count();
    let keep_from = if digits >= MIN_DIGITS {
        digits - KEEP_LAST
    } else {
        usize::MAX
    };
    let mut seen = 0;
    for c in phone.chars() {
        if c.is_ascii_digit() || c == MASK_CHAR {
            out.push(if seen >= keep_from { c } else { MASK_CHAR });
            seen += 1;
        } else if c.is_alphanumeric() {
            out.push(MASK_CHAR);
            seen += 1;
        } else {
            out.push(c);
        }
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Masks a phone number, keeping its last 4 digits and its layout ('+', spaces, dashes, \
         parentheses). Works for E.164 numbers ('+8613812345678' becomes '+*********5678') and \
         national formats such as mainland-China mobiles ('138-1234-5678' becomes \
         '***-****-5678'). Values with fewer than 7 digits are not phone numbers and are masked \
         entirely; letters are masked. NULL gives NULL.",
        "mask_phone(phone)",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask_phone('+44 7700 900123') AS uk, mask_phone('13812345678') AS cn;
+-----------------+-------------+
| uk              | cn          |
+-----------------+-------------+
| +** **** **0123 | *******5678 |
+-----------------+-------------+
```"#,
    )
    .with_argument("phone", "The phone number (any string type).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_last_four_digits_and_layout() {
        let cases = [
            ("+8613812345678", "+*********5678"),
            ("+86 138-1234-5678", "+** ***-****-5678"),
            ("13812345678", "*******5678"),
            ("(020) 7946 0958 ext 12", "(***) **** **** *** 12"),
            ("12345", "*****"),
            ("+*********5678", "+*********5678"),
            ("", ""),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            mask_phone(input, &mut out);
            assert_eq!(out, expected, "{input}");
        }
    }
}
