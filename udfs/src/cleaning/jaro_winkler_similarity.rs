//! `jaro_winkler_similarity(string1, string2)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

/// Jaro-Winkler similarity (strsim): the Jaro similarity raised for a
/// common prefix of up to 4 characters, by 0.1 per character, once the
/// Jaro similarity is above 0.7.
pub fn jaro_winkler_similarity(a: &str, b: &str) -> f64 {
    strsim::jaro_winkler(a, b)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Jaro-Winkler similarity of two strings, from 0 to 1: the Jaro similarity raised for a \
         common prefix of up to 4 characters (scale 0.1 per character, applied when the Jaro \
         similarity exceeds 0.7), which suits names and their typing errors. Compares Unicode \
         characters; case and spaces count. 1 for two empty strings, 0 when only one is empty, \
         NULL when either is NULL. As rapidfuzz's JaroWinkler.similarity and DuckDB's \
         jaro_winkler_similarity. For record linkage, 0.9 and above is a common threshold for \
         names.",
        "jaro_winkler_similarity(string1, string2)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(jaro_winkler_similarity('MARTHA', 'MARHTA'), 4);
+----------------------------------------------------------------------+
| round(jaro_winkler_similarity(Utf8("MARTHA"),Utf8("MARHTA")),Int64(4)) |
+----------------------------------------------------------------------+
| 0.9611                                                               |
+----------------------------------------------------------------------+
```"#,
    )
    .with_argument("string1", "A string.")
    .with_argument("string2", "The string to compare it with.")
    .build()
});
