//! `mask(value, keep_first, keep_last [, mask_char])`: the general mask, and
//! the grapheme helpers the specific masks share. Masks count user-perceived
//! characters (extended grapheme clusters), so `张三丰` is three characters
//! and an accented letter or emoji is one, whatever its byte length.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use unicode_segmentation::UnicodeSegmentation;

/// The default mask character.
pub const MASK_CHAR: char = '*';

/// Number of graphemes in `s`.
pub fn grapheme_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.graphemes(true).count()
    }
}

/// Appends `n` mask characters.
pub fn push_mask(out: &mut String, n: usize, mask_char: char) {
    out.extend(std::iter::repeat_n(mask_char, n));
}

/// Appends `value` with all but its first `keep_first` and last `keep_last`
/// graphemes replaced by `mask_char`. A value too short to hide anything
/// that way is masked entirely: a mask never reveals a whole value.
pub fn mask_middle(
    value: &str,
    keep_first: usize,
    keep_last: usize,
    mask_char: char,
    out: &mut String,
) {
    if value.is_ascii() {
        let n = value.len();
        if keep_first.saturating_add(keep_last) >= n {
            push_mask(out, n, mask_char);
        } else {
            out.push_str(&value[..keep_first]);
            push_mask(out, n - keep_first - keep_last, mask_char);
            out.push_str(&value[n - keep_last..]);
        }
        return;
    }
    let n = value.graphemes(true).count();
    if keep_first.saturating_add(keep_last) >= n {
        push_mask(out, n, mask_char);
        return;
    }
    for (i, g) in value.graphemes(true).enumerate() {
        if i < keep_first || i >= n - keep_last {
            out.push_str(g);
        } else {
            out.push(mask_char);
        }
    }
}

/// Appends `value` with every letter and digit masked and punctuation and
/// spaces kept, for values that are not what the mask expects.
pub fn mask_alphanumeric(value: &str, mask_char: char, out: &mut String) {
    for c in value.chars() {
        if c.is_alphanumeric() {
            out.push(mask_char);
        } else {
            out.push(c);
        }
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Masks a string, keeping its first `keep_first` and last `keep_last` characters and \
         replacing the others with `mask_char` (default '*'). Characters are user-perceived \
         characters (Unicode grapheme clusters), so CJK names and accented letters mask \
         correctly. A value too short to hide at least one character is masked entirely. \
         NULL gives NULL.",
        "mask(value, keep_first, keep_last [, mask_char])",
    )
    .with_sql_example(
        r#"```sql
> SELECT mask('GB29NWBK60161331926819', 4, 4) AS iban, mask('张三丰', 1, 0) AS name, mask('ab', 1, 1, '#') AS short;
+------------------------+------+-------+
| iban                   | name | short |
+------------------------+------+-------+
| GB29**************6819 | 张** | ##    |
+------------------------+------+-------+
```"#,
    )
    .with_argument("value", "The string to mask.")
    .with_argument("keep_first", "How many leading characters stay visible (>= 0).")
    .with_argument("keep_last", "How many trailing characters stay visible (>= 0).")
    .with_argument("mask_char", "The replacement character (one character; default '*').")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(value: &str, first: usize, last: usize) -> String {
        let mut out = String::new();
        mask_middle(value, first, last, MASK_CHAR, &mut out);
        out
    }

    #[test]
    fn masks_count_graphemes_not_bytes() {
        assert_eq!(masked("张三丰", 1, 0), "张**");
        assert_eq!(masked("José", 1, 1), "J**é");
        // e + combining acute accent is one character.
        assert_eq!(masked("Jose\u{301}", 0, 1), "***e\u{301}");
        assert_eq!(masked("👍🏽ok", 1, 0), "👍🏽**");
        assert_eq!(masked("abcdef", 2, 2), "ab**ef");
    }

    #[test]
    fn short_and_empty_values_are_masked_entirely() {
        assert_eq!(masked("ab", 1, 1), "**");
        assert_eq!(masked("a", 1, 0), "*");
        assert_eq!(masked("", 1, 1), "");
        assert_eq!(masked("张三", 1, 1), "**");
    }
}
