//! `mask_iban(iban)`: keeps the country code, check digits and last four
//! characters of an IBAN (`GB82 **** **** **** 5432`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::mask::{MASK_CHAR, mask_alphanumeric};

/// Appends the masked `iban`. Spaces stay where they were. A value without
/// an IBAN's shape (two letters, two digits, 15 to 34 alphanumerics in all)
/// is masked entirely.
pub fn mask_iban(iban: &str, out: &mut String) {
    let compact: Vec<u8> = iban.bytes().filter(|b| *b != b' ').collect();
    let shaped = (15..=34).contains(&compact.len())
        && compact[..2].iter().all(u8::is_ascii_alphabetic)
        && compact[2..4].iter().all(u8::is_ascii_digit)
        // '*': a character already masked, so masking is idempotent.
        && compact[4..].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'*');
    if !shaped {
        return mask_alphanumeric(iban, MASK_CHAR, out);
    }
    let last_from = compact.len() - 4;
    let mut seen = 0;
    for b in iban.bytes() {
        if b == b' ' {
            out.push(' ');
            continue;
        }
        out.push(if seen < 4 || seen >= last_from {
            char::from(b)
        } else {
            MASK_CHAR
        });
        seen += 1;
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Masks an IBAN, keeping the country code and check digits (first 4 characters) and the \
         last 4; spaces stay. A value without an IBAN's shape (two letters, two digits, 15 to 34 \
         alphanumerics) is masked entirely. The mod-97 check is not required, so mistyped IBANs \
         are masked too. NULL gives NULL.",
        "mask_iban(iban)",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask_iban('GB82 WEST 1234 5698 7654 32') AS iban;
+-----------------------------+
| iban                        |
+-----------------------------+
| GB82 **** **** **** **54 32 |
+-----------------------------+
```"#,
    )
    .with_argument("iban", "The IBAN, compact or in groups of four.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_keep_country_check_digits_and_last_four() {
        let cases = [
            ("GB82WEST12345698765432", "GB82**************5432"),
            ("GB82 WEST 1234 5698 7654 32", "GB82 **** **** **** **54 32"),
            ("DE89370400440532013000", "DE89**************3000"),
            ("12345", "*****"),
            ("GB82**************5432", "GB82**************5432"),
            ("", ""),
        ];
        for (input, expected) in cases {
            let mut out = String::new();
            mask_iban(input, &mut out);
            assert_eq!(out, expected, "{input}");
        }
    }
}
