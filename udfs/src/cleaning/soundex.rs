//! `soundex(name)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;
use rphonetic::Encoder;

/// American Soundex (Knuth's and the US census's, H and W transparent
/// between consonants of one code), None when the name has no Latin letter.
pub fn soundex(text: &str) -> Option<String> {
    let letters: String = ascii_letters(text)
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect();
    let code = rphonetic::Soundex::default().encode(&letters);
    (!code.is_empty()).then_some(code)
}

/// The name in upper-case ASCII letters and spaces: accents taken off
/// (canonical decomposition, combining marks dropped: Müller is MULLER,
/// Siobhán SIOBHAN), everything else dropped. The encoders index their
/// tables and their input by byte, so they must see nothing else.
pub fn ascii_letters(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfd()
        .filter(|c| c.is_ascii_alphabetic() || c.is_whitespace())
        .map(|c| {
            if c.is_whitespace() {
                ' '
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "The American Soundex code of a name: its first letter and three digits for the \
         consonant sounds that follow (Robert and Rupert are both R163), H and W not \
         separating consonants of one code, as the US census and Knuth define it. Only the \
         Latin letters A-Z count (case ignored, accents taken off so Müller is M460; digits, \
         punctuation and other scripts are skipped), so NULL for a name without any, and for \
         NULL. A blocking key for record \
         linkage: compare only records whose surnames share a code. For Chinese names block \
         on the characters or the phone instead.",
        "soundex(name)",
    )
    .with_sql_example(
        r#"```sql
> SELECT soundex('Robert'), soundex('Rupert'), soundex('Ashcraft');
+-------------------------+-------------------------+---------------------------+
| soundex(Utf8("Robert")) | soundex(Utf8("Rupert")) | soundex(Utf8("Ashcraft")) |
+-------------------------+-------------------------+---------------------------+
| R163                    | R163                    | A261                      |
+-------------------------+-------------------------+---------------------------+
```"#,
    )
    .with_argument("name", "A name, usually a surname.")
    .build()
});
