//! `squeeze_whitespace(text)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

/// Runs of Unicode White_Space (tabs, newlines, no-break and ideographic
/// spaces included) as one ASCII space, none at either end.
pub fn squeeze_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "The text with every run of Unicode whitespace (spaces, tabs, line breaks, the no-break \
         space U+00A0 and the ideographic space U+3000 among them) replaced by one space and \
         none left at either end: 'Zhang  Wei\\t' and ' Zhang Wei' become 'Zhang Wei'. NULL for \
         NULL. To remove spaces altogether, as between the characters of a Chinese name, use \
         replace(squeeze_whitespace(t), ' ', '').",
        "squeeze_whitespace(text)",
    )
    .with_sql_example(
        r#"```sql
> SELECT squeeze_whitespace('  Mary   Ann　Smith ');
+-------------------------------------------------+
| squeeze_whitespace(Utf8("  Mary   Ann　Smith ")) |
+-------------------------------------------------+
| Mary Ann Smith                                  |
+-------------------------------------------------+
```"#,
    )
    .with_argument("text", "A string.")
    .build()
});
