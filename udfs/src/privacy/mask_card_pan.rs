//! `mask_card_pan(pan [, keep_first])`: PCI DSS display masking of a
//! primary account number: at most the first six and the last four digits.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use super::mask::MASK_CHAR;

/// PCI DSS 3.4.1: the BIN (first six) and last four at most.
pub const MAX_KEEP_FIRST: usize = 6;
const KEEP_LAST: usize = 4;
/// ISO/IEC 7812 PAN lengths this mask recognises.
const PAN_DIGITS: std::ops::RangeInclusive<usize> = 13..=19;

/// Appends the masked `pan`: separators stay, digits outside the first
/// `keep_first` (<= 6) and last four become '*'. A value that is not a
/// 13-19 digit number keeps nothing. A '*' counts as a digit already
/// hidden, so masking a masked PAN changes nothing.
pub fn mask_card_pan(pan: &str, keep_first: usize, out: &mut String) {
    let keep_first = keep_first.min(MAX_KEEP_FIRST);
    // Letters count as positions too: they are masked, and a second pass
    // must see the same positions as the first.
    let digits = pan
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == MASK_CHAR)
        .count();
    let (first, last_from) = if PAN_DIGITS.contains(&digits) {
        (keep_first, digits - KEEP_LAST)
    } else {
        (0, usize::MAX)
    };
    let mut seen = 0;
    if pan.is_ascii() {
        // The common case, byte by byte.
        for b in pan.bytes() {
            if b.is_ascii_digit() || b == b'*' {
                out.push(if seen < first || seen >= last_from {
                    char::from(b)
                } else {
                    MASK_CHAR
                });
                seen += 1;
            } else if b.is_ascii_alphabetic() {
                out.push(MASK_CHAR);
                seen += 1;
            } else {
                out.push(char::from(b));
            }
        }
        return;
    }
    for c in pan.chars() {
        if c.is_ascii_digit() || c == MASK_CHAR {
            out.push(if seen < first || seen >= last_from {
                c
            } else {
                MASK_CHAR
            });
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
        "Masks a payment card number (PAN) as PCI DSS allows for display: at most the first \
         six digits (the BIN) and the last four stay, other digits become '*', spaces and \
         dashes stay. `keep_first` (0 to 6, default 6) shows fewer leading digits. A value \
         that is not a 13 to 19 digit number shows no digit at all. NULL gives NULL.",
        "mask_card_pan(pan [, keep_first])",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask_card_pan('4111 1111 1111 1111') AS pan, mask_card_pan('4111111111111111', 0) AS last4;
+---------------------+------------------+
| pan                 | last4            |
+---------------------+------------------+
| 4111 11** **** 1111 | ************1111 |
+---------------------+------------------+
```"#,
    )
    .with_argument(
        "pan",
        "The card number (any string type; integers are cast).",
    )
    .with_argument("keep_first", "Leading digits to show, 0 to 6 (default 6).")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pans_show_at_most_bin_and_last_four() {
        let cases = [
            ("4111111111111111", 6, "411111******1111"),
            ("4111-1111-1111-1111", 6, "4111-11**-****-1111"),
            ("4111111111111111", 0, "************1111"),
            ("4111111111111111", 9, "411111******1111"),
            ("378282246310005", 6, "378282*****0005"),
            ("12345678", 6, "********"),
            ("411111******1111", 6, "411111******1111"),
            ("4111-11**-****-1111", 6, "4111-11**-****-1111"),
            ("card 4111", 6, "**** ****"),
            ("", 6, ""),
        ];
        for (input, keep, expected) in cases {
            let mut out = String::new();
            mask_card_pan(input, keep, &mut out);
            assert_eq!(out, expected, "{input}");
        }
    }
}
