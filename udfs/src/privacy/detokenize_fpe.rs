//! `detokenize_fpe(token, key_name, alphabet)`: the inverse of
//! `tokenize_fpe`. Governance restricts it to the roles that may see raw
//! values.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_HASHING;

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_HASHING,
        "Recovers the value of a tokenize_fpe token: FF1 decryption with the same key (name and \
         version) and alphabet. With 'luhn' the check digit is recomputed, so the original card \
         number comes back whole. NULL gives NULL.",
        "detokenize_fpe(token, key_name, alphabet)",
    )
    .with_sql_example(
        r#"```sql
> SELECT detokenize_fpe(tokenize_fpe('123456789', 'demo_fpe', 'digits'), 'demo_fpe', 'digits') AS value;
+-----------+
| value     |
+-----------+
| 123456789 |
+-----------+
```"#,
    )
    .with_argument("token", "A token made by tokenize_fpe.")
    .with_argument("key_name", "The key it was made with, 'name' or 'name@version'.")
    .with_argument("alphabet", "The alphabet it was made with.")
    .build()
});
