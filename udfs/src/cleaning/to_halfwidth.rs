//! `to_halfwidth(text)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

/// Full-width ASCII forms (U+FF01 to U+FF5E, what a Chinese or Japanese
/// IME types in full-width mode) to ASCII, and the ideographic space
/// U+3000 to a space: the part of Unicode's NFKC that matters for matching
/// records, without NFKC's other foldings (circled digits, ligatures,
/// half-width katakana) that change what a name says.
pub fn to_halfwidth(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect()
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "The text with full-width ASCII characters (U+FF01 to U+FF5E: ！ to ～, digits ０-９, \
         letters Ａ-ｚ, ＠) replaced by their ASCII forms and the ideographic space U+3000 by a \
         space, as Unicode NFKC maps them; Chinese, Japanese and Korean characters and \
         everything else are left as they are. NULL for NULL. Combine with squeeze_whitespace \
         to compare names typed with either keyboard mode.",
        "to_halfwidth(text)",
    )
    .with_sql_example(
        r#"```sql
> SELECT to_halfwidth('王伟　１３８ＡＢ');
+--------------------------------------+
| to_halfwidth(Utf8("王伟　１３８ＡＢ")) |
+--------------------------------------+
| 王伟 138AB                           |
+--------------------------------------+
```"#,
    )
    .with_argument("text", "A string.")
    .build()
});
