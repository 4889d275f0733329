//! `tokenize_fpe(value, key_name, alphabet)`: format-preserving tokens by
//! NIST SP 800-38G FF1 (see `format_preserving`).

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_HASHING;

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_HASHING,
        "Tokenizes a value with format-preserving encryption (NIST SP 800-38G FF1 over AES, key \
         of 16, 24 or 32 bytes from the keyring): the token has the value's length and layout \
         and uses the same alphabet, so a 16-digit card number becomes another 16-digit number \
         that fits the same columns and checks. Reversible with detokenize_fpe and the same \
         key. `alphabet` is 'digits', 'luhn' (digits whose last one is recomputed as a valid \
         Luhn check, for card numbers), 'hex', 'lower', 'upper', 'alpha', 'alnum', or a \
         literal string of distinct characters; characters outside it (spaces, dashes) stay in \
         place. FF1 needs radix^length >= 1,000,000 (6 digits, 5 letters); shorter values are \
         an error. The tweak is empty. NULL gives NULL.",
        "tokenize_fpe(value, key_name, alphabet)",
    )
    .with_sql_example(
        r#"```sql
> SELECT length(tokenize_fpe('4111-1111-1111-1111', 'demo_fpe', 'luhn')) AS chars,
         detokenize_fpe(tokenize_fpe('4111-1111-1111-1111', 'demo_fpe', 'luhn'), 'demo_fpe', 'luhn') AS round_trip;
+-------+---------------------+
| chars | round_trip          |
+-------+---------------------+
| 19    | 4111-1111-1111-1111 |
+-------+---------------------+
```"#,
    )
    .with_argument("value", "The value to tokenize (string or integer).")
    .with_argument("key_name", "A keyring key name, 'name' or 'name@version' (a constant).")
    .with_argument("alphabet", "'digits', 'luhn', 'hex', 'lower', 'upper', 'alpha', 'alnum' or a literal alphabet.")
    .build()
});
