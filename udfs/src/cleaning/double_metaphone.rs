//! `double_metaphone(name)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

/// The primary Double Metaphone code (Lawrence Philips, 2000), at most 4
/// characters, None when the name yields none.
pub fn double_metaphone(text: &str) -> Option<String> {
    let letters = super::soundex::ascii_letters(text);
    let code = rphonetic::DoubleMetaphone::default()
        .double_metaphone(letters.trim())
        .primary();
    (!code.is_empty()).then_some(code)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "The primary Double Metaphone code of a name (Lawrence Philips, 2000; Apache \
         commons-codec's implementation), at most 4 characters: a phonetic key that, unlike \
         Soundex, knows English spelling rules and common Germanic, Slavic, Romance and Greek \
         name origins (Catherine and Kathryn are both K0RN; Schmidt is XMT). Case is ignored, \
         accents are taken off (Siobhán as Siobhan), characters other than Latin letters and \
         spaces are dropped. NULL when no code results (no Latin letters) or for NULL.",
        "double_metaphone(name)",
    )
    .with_sql_example(
        r#"```sql
> SELECT double_metaphone('Catherine'), double_metaphone('Kathryn');
+-------------------------------------+-----------------------------------+
| double_metaphone(Utf8("Catherine")) | double_metaphone(Utf8("Kathryn")) |
+-------------------------------------+-----------------------------------+
| K0RN                                | K0RN                              |
+-------------------------------------+-----------------------------------+
```"#,
    )
    .with_argument("name", "A name.")
    .build()
});
