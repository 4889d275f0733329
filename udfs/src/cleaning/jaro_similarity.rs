//! `jaro_similarity(string1, string2)`.

use std::sync::LazyLock;

use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_STRING;

/// Jaro similarity over Unicode scalar values (strsim): 1 for equal
/// strings (two empty ones included), 0 when either is empty otherwise.
pub fn jaro_similarity(a: &str, b: &str) -> f64 {
    strsim::jaro(a, b)
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_STRING,
        "Jaro similarity of two strings, from 0 (nothing in common) to 1 (equal): the share of \
         characters that match within a window of half the longer length, discounted for \
         transpositions. Compares Unicode characters, so '张伟' and '张玮' share one of two. \
         Case and spaces count: normalise first (lower, trim) for names. 1 for two empty \
         strings, 0 when only one is empty, NULL when either is NULL. As rapidfuzz's \
         Jaro.similarity and DuckDB's jaro_similarity.",
        "jaro_similarity(string1, string2)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(jaro_similarity('MARTHA', 'MARHTA'), 4);
+-------------------------------------------------------------+
| round(jaro_similarity(Utf8("MARTHA"),Utf8("MARHTA")),Int64(4)) |
+-------------------------------------------------------------+
| 0.9444                                                      |
+-------------------------------------------------------------+
```"#,
    )
    .with_argument("string1", "A string.")
    .with_argument("string2", "The string to compare it with.")
    .build()
});
