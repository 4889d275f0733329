//! `iban_is_valid(iban)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(DOC_SECTION_STRING, "True when the IBAN (spaces, hyphens and lower case allowed) has two letters, two check digits and 11 to 30 alphanumerics with the ISO 13616 mod-97 remainder 1; false otherwise; NULL for NULL. The country-specific length is not checked.", "iban_is_valid(iban)")
        .with_sql_example(
            r#"```sql
> SELECT iban_is_valid('GB82 WEST 1234 5698 7654 32'), iban_is_valid('GB82 WEST 1234 5698 7654 33');
+------+-------+
| ...  | ...   |
+------+-------+
| true | false |
+------+-------+
```"#,
        )
        .with_argument("iban", "An IBAN as typed.")
        .build()
});
