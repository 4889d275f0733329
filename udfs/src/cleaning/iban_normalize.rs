//! `iban_normalize(iban)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

use crate::checks::iban_valid;

/// The IBAN without spaces or hyphens, in upper case, when it passes the
/// ISO 13616 mod-97 check; None otherwise.
pub fn iban_normalize(text: &str) -> Option<String> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    iban_valid(compact.as_bytes()).then_some(compact)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION_STRING, "The electronic form of an IBAN (ISO 13616): spaces and hyphens removed, letters in upper case, when its mod-97 check digits are right; NULL when they are not (a typing error) or the input is NULL. iban_is_valid gives the flag.", "iban_normalize(iban)")
        .with_sql_example(
            r#"```sql
> SELECT iban_normalize('gb82 west 1234 5698 7654 32');
+--------------------------------------------------+
| iban_normalize(Utf8("gb82 west 1234 5698 7654 32")) |
+--------------------------------------------------+
| GB82WEST12345698765432                           |
+--------------------------------------------------+
```"#,
        )
        .with_argument("iban", "An IBAN as typed: spaces, hyphens and lower case are allowed.")
        .build()
});
